/*
 * store_inputs.c - the inputs a store holds (DIR/inputs), so that the same
 * records are never ingested twice: one line per ingested input,
 *
 *	<content digest, 64 hex> <segment, seg-NNNNNN.bin> <path>
 *
 * written (through a temporary file and rename) before the segment that
 * holds the input's records.  A line whose segment does not exist is
 * left out when the file is read: the ingest that wrote it did not end,
 * and its input may be ingested again.  The digest (engine_int.h,
 * "Content digests") is of the decompressed content, so a file, its gzip
 * or zstd form and the same bytes through a pipe are one input.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "common/err.h"
#include "node/engine/engine_int.h"

#define INPUTS		"inputs"
#define INPUTS_MAX	((size_t)64 << 20)
#define HEX		64

/* The segment of line 'l' (after its digest), copied into 'seg'. */
static bool
line_segment(const char *l, size_t n, char seg[16])
{
	if (n < HEX + 1 + 14 || l[HEX] != ' ' ||
	    strncmp(l + HEX + 1, "seg-", 4) != 0 ||
	    (n > HEX + 15 && l[HEX + 15] != ' '))
		return false;
	memcpy(seg, l + HEX + 1, 14);
	seg[14] = '\0';
	return true;
}

int
engine_store_inputs_load(const char *dir, struct engine_store_inputs *out)
{
	char *buf = NULL, *keep;
	size_t len = 0, pos = 0, k = 0, line = 0;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = engine_store_read_file(dir, INPUTS, INPUTS_MAX, &buf, &len))
	    == CAIRN_ERR_NOTFOUND)
		return CAIRN_OK;
	if (r != CAIRN_OK)
		return r;
	if ((keep = malloc(len + 1)) == NULL) {
		free(buf);
		return CAIRN_ERR_NOMEM;
	}
	while (pos < len) {
		char *nl = memchr(buf + pos, '\n', len - pos), seg[16];
		char path[4096];
		size_t n = (nl != NULL ? (size_t)(nl - buf) : len) - pos;
		uint8_t d[32];
		struct stat sb;

		line++;
		if (nl == NULL || !line_segment(buf + pos, n, seg) ||
		    sodium_hex2bin(d, 32, buf + pos, HEX, NULL, NULL, NULL) !=
		    0) {
			free(buf);
			free(keep);
			return cairn_err(CAIRN_ERR_FORMAT, "%s/%s:%zu: not "
			    "'<64 hex digits> seg-NNNNNN.bin <path>'", dir,
			    INPUTS, line);
		}
		snprintf(path, sizeof(path), "%s/%s", dir, seg);
		if (stat(path, &sb) == 0) {
			memcpy(keep + k, buf + pos, n + 1);
			k += n + 1;
		} else if (errno != ENOENT) {
			r = cairn_err(CAIRN_ERR_IO, "%s: %s", path,
			    strerror(errno));
			free(buf);
			free(keep);
			return r;
		}
		pos += n + 1;
	}
	free(buf);
	keep[k] = '\0';
	out->text = keep;
	out->len = k;
	return CAIRN_OK;
}

void
engine_store_inputs_release(struct engine_store_inputs *in)
{
	free(in->text);
	memset(in, 0, sizeof(*in));
}

int
engine_store_inputs_check(const struct engine_store_inputs *in,
    const char *path, const uint8_t d[32], const uint8_t (*prev)[32],
    char *const *prevpaths, size_t nprev)
{
	char hex[HEX + 1];

	sodium_bin2hex(hex, sizeof(hex), d, 32);
	for (size_t i = 0; i < nprev; i++)
		if (memcmp(prev[i], d, 32) == 0)
			return cairn_err(CAIRN_ERR_EXISTS, "%s: the same "
			    "records as %s in this ingest; nothing written",
			    path, prevpaths[i]);
	for (size_t pos = 0; pos < in->len;) {
		const char *l = in->text + pos;
		const char *nl = memchr(l, '\n', in->len - pos);
		size_t n = (size_t)(nl - l);

		if (memcmp(l, hex, HEX) == 0) {
			int pl = n > HEX + 16 ? (int)(n - HEX - 16) : 0;

			return cairn_err(CAIRN_ERR_EXISTS, "%s: already "
			    "ingested into this store (in %.14s, from %.*s); "
			    "nothing written", path, l + HEX + 1, pl,
			    l + HEX + 16);
		}
		pos += n + 1;
	}
	return CAIRN_OK;
}

int
engine_store_inputs_write(const char *dir,
    const struct engine_store_inputs *in, const char *seg,
    char *const *paths, const uint8_t (*d)[32], size_t n)
{
	char *add = NULL, *p, hex[HEX + 1];
	size_t cap = 1, len = 0;
	int r;

	for (size_t i = 0; i < n; i++)
		cap += HEX + 16 + strlen(paths[i]) + 16;
	if ((add = malloc(cap)) == NULL)
		return CAIRN_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		sodium_bin2hex(hex, sizeof(hex), d[i], 32);
		const char *name = strcmp(paths[i], "-") == 0 ?
		    "(standard input)" : paths[i];

		len += (size_t)snprintf(add + len, cap - len, "%s %s %s\n",
		    hex, seg, name);
		/* One line per input, whatever its name holds. */
		for (p = add + len - strlen(name) - 1; p < add + len - 1; p++)
			if (*p == '\n' || *p == '\r')
				*p = '?';
	}
	r = engine_store_write_file(dir, INPUTS, in->text, in->len, add, len,
	    0600);
	free(add);
	return r;
}
