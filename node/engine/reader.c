/*
 * reader.c - the bytes under the CSV reader (engine_int.h, "Readers"): a
 * plain file read at any offset, so ingest_csv.c can cut it between
 * threads; a gzip (zlib) or zstd (libzstd) file decompressed in one pass;
 * and a stream (standard input as "-", a named pipe, a character device)
 * read once, front to back, never seeked.  The first bytes of every
 * input are sniffed: a compressed file is recognised by its magic number
 * whatever its name, and a file cairn cannot read (Parquet, ORC, Avro,
 * Arrow, zip, bzip2, xz) is refused by name instead of being parsed as
 * CSV rows that are all bad.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>
#include <zstd.h>

#include "common/err.h"
#include "node/engine/engine_int.h"

#define RAW_SIZE	(1u << 18)	/* compressed bytes read at once */
#define SNIFF		8		/* magic bytes looked at */

struct engine_reader {
	char		*path;
	int		 fd;
	bool		 stream;	/* read(), never seeked */
	uint64_t	 size;		/* regular files */
	uint64_t	 off;		/* next raw byte (regular files) */
	enum engine_comp comp;
	/* Raw bytes read but not consumed: the sniffed magic of a stream,
	   then the decompressor's input. */
	unsigned char	*raw;
	size_t		 rpos, rlen;
	bool		 raw_eof;
	/* Decompressed bytes given back by engine_reader_unread(). */
	char		*back;
	size_t		 bpos, blen;
	z_stream	 z;
	bool		 z_init;
	ZSTD_DStream	*zs;
	size_t		 zs_last;	/* 0 when a zstd frame ended */
	bool		 in_member;	/* inside a gzip member */
};

/* Formats cairn does not read, by their first bytes. */
static const struct {
	const char	*magic;
	size_t		 len;
	const char	*name;
} refused[] = {
	{ "PAR1", 4, "a Parquet file" },
	{ "ORC", 3, "an ORC file" },
	{ "Obj\x01", 4, "an Avro file" },
	{ "ARROW1", 6, "an Arrow (Feather) file" },
	{ "PK\x03\x04", 4, "a zip archive" },
	{ "BZh", 3, "a bzip2 file" },
	{ "\xfd" "7zXZ\x00", 6, "an xz file" },
	{ "\x89HDF", 4, "an HDF5 file" },
	{ "SQLite format 3", 15, "an SQLite database" },
};

const char engine_reader_formats[] =
    "CSV, gzip-compressed CSV or zstd-compressed CSV, from a file, a named "
    "pipe or standard input ('-')";

/* Raw bytes into r->raw after what is left there; false on a read error. */
static bool
raw_fill(struct engine_reader *r)
{
	ssize_t got;

	if (r->rpos > 0) {
		memmove(r->raw, r->raw + r->rpos, r->rlen - r->rpos);
		r->rlen -= r->rpos;
		r->rpos = 0;
	}
	if (r->raw_eof || r->rlen == RAW_SIZE)
		return true;
	do
		got = r->stream ? read(r->fd, r->raw + r->rlen,
		    RAW_SIZE - r->rlen) : pread(r->fd, r->raw + r->rlen,
		    RAW_SIZE - r->rlen, (off_t)r->off);
	while (got == -1 && errno == EINTR);
	if (got < 0)
		return false;
	if (got == 0)
		r->raw_eof = true;
	r->rlen += (size_t)got;
	r->off += (uint64_t)got;
	return true;
}

static void
reader_free(struct engine_reader *r)
{
	if (r == NULL)
		return;
	if (r->z_init)
		inflateEnd(&r->z);
	ZSTD_freeDStream(r->zs);
	if (r->fd != -1)
		close(r->fd);
	free(r->raw);
	free(r->back);
	free(r->path);
	free(r);
}

/* Look at the first bytes: a compression to undo, or a refused format. */
static int
sniff(struct engine_reader *r)
{
	const unsigned char *m = r->raw;
	size_t n;

	while (r->rlen < SNIFF && !r->raw_eof)
		if (!raw_fill(r))
			return cairn_err(CAIRN_ERR_IO, "%s: %s", r->path,
			    strerror(errno));
	n = r->rlen;
	if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b) {
		r->comp = ENGINE_COMP_GZIP;
		if (inflateInit2(&r->z, 15 + 16) != Z_OK)
			return CAIRN_ERR_NOMEM;
		r->z_init = true;
		return CAIRN_OK;
	}
	if (n >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f &&
	    m[3] == 0xfd) {
		r->comp = ENGINE_COMP_ZSTD;
		if ((r->zs = ZSTD_createDStream()) == NULL ||
		    ZSTD_isError(ZSTD_initDStream(r->zs)))
			return CAIRN_ERR_NOMEM;
		r->zs_last = 1;
		return CAIRN_OK;
	}
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (n >= refused[i].len &&
		    memcmp(m, refused[i].magic, refused[i].len) == 0)
			return cairn_err(CAIRN_ERR_FORMAT, "%s: %s, not CSV "
			    "(cairn-node reads %s)", r->path, refused[i].name,
			    engine_reader_formats);
	r->comp = ENGINE_COMP_NONE;
	return CAIRN_OK;
}

int
engine_reader_open(const char *path, struct engine_reader **out)
{
	struct engine_reader *r;
	struct stat sb;
	int e;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->path = strdup(path)) == NULL ||
	    (r->raw = malloc(RAW_SIZE)) == NULL) {
		reader_free(r);
		return CAIRN_ERR_NOMEM;
	}
	r->fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) :
	    open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd == -1 || fstat(r->fd, &sb) == -1) {
		e = cairn_err(CAIRN_ERR_IO, "%s: %s", path, strerror(errno));
		reader_free(r);
		return e;
	}
	if (S_ISDIR(sb.st_mode)) {
		reader_free(r);
		return cairn_err(CAIRN_ERR_IO, "%s: a directory", path);
	}
	r->stream = !S_ISREG(sb.st_mode);
	r->size = r->stream ? 0 : (uint64_t)sb.st_size;
	if ((e = sniff(r)) != CAIRN_OK) {
		reader_free(r);
		return e;
	}
	*out = r;
	return CAIRN_OK;
}

void
engine_reader_close(struct engine_reader *r)
{
	reader_free(r);
}

bool
engine_reader_splittable(const struct engine_reader *r)
{
	return !r->stream && r->comp == ENGINE_COMP_NONE;
}

bool
engine_reader_is_stream(const struct engine_reader *r)
{
	return r->stream;
}

uint64_t
engine_reader_size(const struct engine_reader *r)
{
	return r->size;
}

enum engine_comp
engine_reader_comp(const struct engine_reader *r)
{
	return r->comp;
}

/* Inflate into dst; '*got' 0 at the end of the last gzip member. */
static int
read_gzip(struct engine_reader *r, char *dst, size_t n, size_t *got)
{
	int zr;

	if (n > UINT32_MAX)
		n = UINT32_MAX;
	r->z.next_out = (Bytef *)dst;
	r->z.avail_out = (uInt)n;
	while (r->z.avail_out == (uInt)n) {
		if (r->rpos == r->rlen) {
			if (!r->raw_eof && !raw_fill(r))
				return cairn_err(CAIRN_ERR_IO, "%s: %s",
				    r->path, strerror(errno));
			if (r->rpos == r->rlen) {
				if (r->in_member)
					return cairn_err(CAIRN_ERR_IO, "%s: "
					    "corrupt gzip data (cut short)",
					    r->path);
				break;
			}
		}
		r->z.next_in = r->raw + r->rpos;
		r->z.avail_in = (uInt)(r->rlen - r->rpos);
		r->in_member = true;
		zr = inflate(&r->z, Z_NO_FLUSH);
		r->rpos = r->rlen - r->z.avail_in;
		if (zr == Z_STREAM_END) {
			/* Another member may follow (cat a.gz b.gz). */
			r->in_member = false;
			if (inflateReset(&r->z) != Z_OK)
				return CAIRN_ERR_NOMEM;
			continue;
		}
		if (zr != Z_OK && zr != Z_BUF_ERROR)
			return cairn_err(CAIRN_ERR_IO, "%s: corrupt gzip data "
			    "(%s)", r->path, r->z.msg != NULL ? r->z.msg :
			    "inflate failed");
	}
	*got = n - r->z.avail_out;
	return CAIRN_OK;
}

/* Decompress zstd frames into dst; '*got' 0 at the end of the input. */
static int
read_zstd(struct engine_reader *r, char *dst, size_t n, size_t *got)
{
	ZSTD_outBuffer ob = { dst, n, 0 };

	while (ob.pos == 0) {
		ZSTD_inBuffer ib;

		if (r->rpos == r->rlen && !r->raw_eof && !raw_fill(r))
			return cairn_err(CAIRN_ERR_IO, "%s: %s", r->path,
			    strerror(errno));
		if (r->rpos == r->rlen && r->raw_eof) {
			if (r->zs_last != 0)
				return cairn_err(CAIRN_ERR_IO, "%s: corrupt "
				    "zstd data (cut short)", r->path);
			break;
		}
		ib.src = r->raw + r->rpos;
		ib.size = r->rlen - r->rpos;
		ib.pos = 0;
		r->zs_last = ZSTD_decompressStream(r->zs, &ob, &ib);
		r->rpos += ib.pos;
		if (ZSTD_isError(r->zs_last))
			return cairn_err(CAIRN_ERR_IO, "%s: corrupt zstd data "
			    "(%s)", r->path, ZSTD_getErrorName(r->zs_last));
	}
	*got = ob.pos;
	return CAIRN_OK;
}

int
engine_reader_read(struct engine_reader *r, char *dst, size_t n, size_t *got)
{
	if (r->blen > r->bpos) {
		size_t k = r->blen - r->bpos < n ? r->blen - r->bpos : n;

		memcpy(dst, r->back + r->bpos, k);
		r->bpos += k;
		*got = k;
		return CAIRN_OK;
	}
	if (n == 0) {
		*got = 0;
		return CAIRN_OK;
	}
	switch (r->comp) {
	case ENGINE_COMP_GZIP:
		return read_gzip(r, dst, n, got);
	case ENGINE_COMP_ZSTD:
		return read_zstd(r, dst, n, got);
	default:
		break;
	}
	if (r->rpos == r->rlen && !r->raw_eof && !raw_fill(r))
		return cairn_err(CAIRN_ERR_IO, "%s: %s", r->path,
		    strerror(errno));
	{
		size_t k = r->rlen - r->rpos < n ? r->rlen - r->rpos : n;

		memcpy(dst, r->raw + r->rpos, k);
		r->rpos += k;
		*got = k;
	}
	return CAIRN_OK;
}

int
engine_reader_pread(struct engine_reader *r, char *dst, size_t n,
    uint64_t off, size_t *got)
{
	ssize_t k;

	if (!engine_reader_splittable(r))
		return cairn_err(CAIRN_ERR_INTERNAL, "%s: not a plain file",
		    r->path);
	do
		k = pread(r->fd, dst, n, (off_t)off);
	while (k == -1 && errno == EINTR);
	if (k < 0)
		return cairn_err(CAIRN_ERR_IO, "%s: read error: %s", r->path,
		    strerror(errno));
	*got = (size_t)k;
	return CAIRN_OK;
}

int
engine_reader_unread(struct engine_reader *r, const char *b, size_t n)
{
	char *nb;
	size_t left = r->blen - r->bpos;

	if ((nb = malloc(n + left + 1)) == NULL)
		return CAIRN_ERR_NOMEM;
	memcpy(nb, b, n);
	if (left > 0)
		memcpy(nb + n, r->back + r->bpos, left);
	free(r->back);
	r->back = nb;
	r->bpos = 0;
	r->blen = n + left;
	return CAIRN_OK;
}
