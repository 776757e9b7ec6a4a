/*
 * store.c - the node's binary store (docs/data.md): ingested events grouped
 * by subject so that queries skip the text parsing.
 *
 * DIR/key            16 random bytes (0600): the SipHash key that turns a
 *                    subscriber id into its 128-bit pseudonym
 * DIR/regions.bin    the region domain (sorted ids)
 * DIR/subjects.bin   pseudonyms; a subject's index is its position
 * DIR/categories.bin categories in order of first ingest
 * DIR/seg-NNNNNN.bin one per ingest: per-subject offsets, then events
 *                    (minute << 32 | region index), then categories
 *
 * Subscriber ids themselves are never written.  Every file is rewritten
 * through a temporary file, fsync and rename, and the segment last, so a
 * crash leaves the previous store intact.  Files read back are checked
 * before use (sizes, offsets, indexes in range).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/err.h"
#include "node/engine/engine_int.h"

#define KEYLEN		crypto_shorthash_siphashx24_KEYBYTES
#define HASHLEN		crypto_shorthash_siphashx24_BYTES
#define MAX_SEGS	10000
#define SEG_MAGIC	"CAIRNSEG"
#define SUB_MAGIC	"CAIRNSUB"
#define REG_MAGIC	"CAIRNREG"
#define CAT_MAGIC	"CAIRNCAT"
#define STORE_VERSION	1

struct seg_hdr {
	char		magic[8];
	uint32_t	version;
	uint32_t	has_cat;
	uint64_t	nsubs;
	uint64_t	nevents;
};

struct seg {
	void		*map;
	size_t		 maplen;
	uint64_t	 nsubs, nevents;
	const uint64_t	*off;		/* nsubs + 1 */
	const uint64_t	*ev;		/* minute << 32 | region */
	const uint32_t	*cat;		/* category + 1, or NULL */
	uint64_t	 maxrun;
	char		 name[16];	/* seg-NNNNNN.bin */
};

struct engine_store {
	uint32_t	*regions;
	size_t		 nregions;
	char		**cats;		/* store order */
	uint32_t	 ncats;
	uint64_t	 nsubs;
	struct seg	*segs;
	size_t		 nsegs;
	uint64_t	 maxrun;	/* most events of one subject */
};

/* ---- small file helpers ---- */

int
engine_store_write_file(const char *dir, const char *name, const void *a,
    size_t alen, const void *b, size_t blen, mode_t mode)
{
	char tmp[4096], dst[4096];
	int fd, r = CAIRN_OK;
	const void *parts[2] = { a, b };
	size_t lens[2] = { alen, blen };

	if (snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) >=
	    (int)sizeof(tmp) || snprintf(dst, sizeof(dst), "%s/%s", dir,
	    name) >= (int)sizeof(dst))
		return cairn_err(CAIRN_ERR_ARG, "%s: path too long", dir);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode)) ==
	    -1)
		return cairn_err(CAIRN_ERR_IO, "%s: %s", tmp, strerror(errno));
	for (int p = 0; p < 2 && r == CAIRN_OK; p++) {
		const char *s = parts[p];
		size_t left = lens[p];

		while (left > 0) {
			ssize_t w = write(fd, s, left > (1u << 30) ? 1u << 30 :
			    left);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				r = cairn_err(CAIRN_ERR_IO, "%s: %s", tmp,
				    strerror(errno));
				break;
			}
			s += w;
			left -= (size_t)w;
		}
	}
	if (r == CAIRN_OK && fsync(fd) != 0)
		r = cairn_err(CAIRN_ERR_IO, "%s: fsync: %s", tmp,
		    strerror(errno));
	close(fd);
	if (r == CAIRN_OK && rename(tmp, dst) != 0)
		r = cairn_err(CAIRN_ERR_IO, "%s: %s", dst, strerror(errno));
	if (r != CAIRN_OK)
		unlink(tmp);
	return r;
}

int
engine_store_read_file(const char *dir, const char *name, size_t max,
    char **out, size_t *len)
{
	char path[4096];
	struct stat sb;
	char *buf;
	size_t got = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW)) == -1)
		return errno == ENOENT ? CAIRN_ERR_NOTFOUND :
		    cairn_err(CAIRN_ERR_IO, "%s: %s", path, strerror(errno));
	if (fstat(fd, &sb) == -1 || (uint64_t)sb.st_size > max) {
		close(fd);
		return cairn_err(CAIRN_ERR_FORMAT, "%s: too large", path);
	}
	if ((buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		close(fd);
		return CAIRN_ERR_NOMEM;
	}
	while (got < (size_t)sb.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);

		if (n <= 0) {
			free(buf);
			close(fd);
			return cairn_err(CAIRN_ERR_IO, "%s: short read", path);
		}
		got += (size_t)n;
	}
	close(fd);
	*out = buf;
	*len = got;
	return CAIRN_OK;
}

static int
load_key(const char *dir, unsigned char key[KEYLEN], bool create)
{
	char path[4096];
	struct stat sb;
	int fd, r = CAIRN_OK;

	snprintf(path, sizeof(path), "%s/key", dir);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW)) == -1) {
		if (errno != ENOENT || !create)
			return cairn_err(CAIRN_ERR_IO, "%s: %s", path,
			    strerror(errno));
		randombytes_buf(key, KEYLEN);
		r = engine_store_write_file(dir, "key", key, KEYLEN, NULL, 0, 0600);
		return r;
	}
	if (fstat(fd, &sb) == -1 || (sb.st_mode & 077) != 0) {
		close(fd);
		return cairn_err(CAIRN_ERR_PERM, "%s: readable by group or "
		    "others (chmod 600)", path);
	}
	if (read(fd, key, KEYLEN) != KEYLEN)
		r = cairn_err(CAIRN_ERR_FORMAT, "%s: not a %d-byte key", path,
		    KEYLEN);
	close(fd);
	return r;
}

static int
load_regions(const char *dir, uint32_t **ids, size_t *n)
{
	char *buf;
	size_t len;
	uint64_t cnt;
	int r;

	if ((r = engine_store_read_file(dir, "regions.bin", 16 +
	    4 * (size_t)ENGINE_MAX_REGIONS, &buf, &len)) != CAIRN_OK)
		return r;
	memcpy(&cnt, buf + 8, len >= 16 ? 8 : 0);
	if (len < 16 || memcmp(buf, REG_MAGIC, 8) != 0 || cnt == 0 ||
	    cnt > ENGINE_MAX_REGIONS || len != 16 + cnt * 4) {
		free(buf);
		return cairn_err(CAIRN_ERR_FORMAT, "%s/regions.bin: corrupt",
		    dir);
	}
	if ((*ids = malloc(cnt * 4)) == NULL) {
		free(buf);
		return CAIRN_ERR_NOMEM;
	}
	memcpy(*ids, buf + 16, cnt * 4);
	*n = cnt;
	free(buf);
	for (size_t i = 1; i < *n; i++)
		if ((*ids)[i] <= (*ids)[i - 1]) {
			free(*ids);
			return cairn_err(CAIRN_ERR_FORMAT, "%s/regions.bin: "
			    "not sorted", dir);
		}
	return CAIRN_OK;
}

/* Load subjects.bin into 't' (keys are the 16-byte pseudonyms). */
static int
load_subjects(const char *dir, struct engine_intern *t)
{
	char *buf;
	size_t len;
	uint64_t cnt;
	uint32_t id;
	int r;

	if ((r = engine_store_read_file(dir, "subjects.bin", (size_t)1 << 36, &buf, &len))
	    == CAIRN_ERR_NOTFOUND)
		return CAIRN_OK;
	if (r != CAIRN_OK)
		return r;
	memcpy(&cnt, buf + 8, len >= 16 ? 8 : 0);
	if (len < 16 || memcmp(buf, SUB_MAGIC, 8) != 0 ||
	    cnt > UINT32_MAX - 1 || len != 16 + cnt * HASHLEN) {
		free(buf);
		return cairn_err(CAIRN_ERR_FORMAT, "%s/subjects.bin: corrupt",
		    dir);
	}
	for (uint64_t i = 0; i < cnt && r == CAIRN_OK; i++) {
		const char *k = buf + 16 + i * HASHLEN;

		r = engine_intern_add(t, k, HASHLEN, engine_intern_hash(k,
		    HASHLEN), &id);
		if (r == CAIRN_OK && id != i)
			r = cairn_err(CAIRN_ERR_FORMAT, "%s/subjects.bin: "
			    "duplicate entry", dir);
	}
	free(buf);
	return r;
}

/*
 * The number of subjects in subjects.bin, from its header and size (a
 * query needs no more: segments address subjects by position).
 */
static int
count_subjects(const char *dir, uint64_t *out)
{
	char path[4096], hdr[16];
	struct stat sb;
	uint64_t cnt;
	int fd;

	snprintf(path, sizeof(path), "%s/subjects.bin", dir);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW)) == -1) {
		if (errno != ENOENT)
			return cairn_err(CAIRN_ERR_IO, "%s: %s", path,
			    strerror(errno));
		*out = 0;
		return CAIRN_OK;
	}
	if (fstat(fd, &sb) == -1 || pread(fd, hdr, 16, 0) != 16) {
		close(fd);
		return cairn_err(CAIRN_ERR_FORMAT, "%s: corrupt", path);
	}
	close(fd);
	memcpy(&cnt, hdr + 8, 8);
	if (memcmp(hdr, SUB_MAGIC, 8) != 0 || cnt > UINT32_MAX - 1 ||
	    (uint64_t)sb.st_size != 16 + cnt * HASHLEN)
		return cairn_err(CAIRN_ERR_FORMAT, "%s: corrupt", path);
	*out = cnt;
	return CAIRN_OK;
}

static int
load_cats(const char *dir, struct engine_intern *t)
{
	char *buf;
	size_t len, pos = 16;
	uint64_t cnt;
	uint32_t id;
	int r;

	if ((r = engine_store_read_file(dir, "categories.bin", (size_t)1 << 30, &buf, &len))
	    == CAIRN_ERR_NOTFOUND)
		return CAIRN_OK;
	if (r != CAIRN_OK)
		return r;
	memcpy(&cnt, buf + 8, len >= 16 ? 8 : 0);
	if (len < 16 || memcmp(buf, CAT_MAGIC, 8) != 0)
		r = CAIRN_ERR_FORMAT;
	for (uint64_t i = 0; i < cnt && r == CAIRN_OK; i++) {
		size_t n;

		if (pos >= len || (n = (unsigned char)buf[pos]) == 0 ||
		    pos + 1 + n > len) {
			r = CAIRN_ERR_FORMAT;
			break;
		}
		r = engine_intern_add(t, buf + pos + 1, n,
		    engine_intern_hash(buf + pos + 1,
		    n), &id);
		pos += 1 + n;
	}
	if (r == CAIRN_OK && pos != len)
		r = CAIRN_ERR_FORMAT;
	free(buf);
	if (r == CAIRN_ERR_FORMAT)
		return cairn_err(r, "%s/categories.bin: corrupt", dir);
	return r;
}

static int
count_segments(const char *dir, size_t *n)
{
	DIR *d;
	struct dirent *de;
	size_t c = 0;

	if ((d = opendir(dir)) == NULL)
		return cairn_err(CAIRN_ERR_IO, "%s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "seg-", 4) == 0 &&
		    strlen(de->d_name) == 14)
			c++;
	closedir(d);
	*n = c;
	return CAIRN_OK;
}

/* ---- ingest ---- */

/*
 * The store keeps the region domain of its first ingest: load it into
 * '*regions' (NULL when the store has none yet) and refuse a cell map over
 * other regions.
 */
static int
ingest_regions(const char *dir, const struct engine_input *in,
    uint32_t **regions)
{
	size_t nreg;
	int r;

	r = load_regions(dir, regions, &nreg);
	if (r == CAIRN_ERR_NOTFOUND)
		return CAIRN_OK;
	if (r != CAIRN_OK)
		return r;
	if (nreg != engine_cellmap_nregions(in->cells) ||
	    memcmp(*regions, engine_cellmap_regions(in->cells),
	    nreg * 4) != 0)
		return cairn_err(CAIRN_ERR_CONFIG, "%s: the store holds "
		    "another region domain (%zu regions) than the "
		    "cell map (%zu)", dir, nreg,
		    engine_cellmap_nregions(in->cells));
	return CAIRN_OK;
}

/*
 * Pseudonyms: each parsed subscriber id -> keyed hash -> store index in
 * 'subs' ('g2s'), each parsed category -> its index in 'cats' ('c2s'),
 * added when new.
 */
static int
ingest_pseudonyms(const struct engine_parse_out *po,
    const unsigned char key[KEYLEN], struct engine_intern *subs,
    struct engine_intern *cats, uint32_t **g2sp, uint32_t **c2sp)
{
	uint32_t *g2s, *c2s;
	int r;

	if ((*g2sp = g2s = malloc(((size_t)po->subs.n + 1) * 4)) == NULL ||
	    (*c2sp = c2s = malloc(((size_t)po->ncats + 1) * 4)) == NULL)
		return CAIRN_ERR_NOMEM;
	for (uint32_t i = 0; i < po->subs.n; i++) {
		unsigned char hv[HASHLEN];
		size_t n;
		const char *k = engine_intern_key(&po->subs, i, &n);

		crypto_shorthash_siphashx24(hv, (const unsigned char *)k, n,
		    key);
		if ((r = engine_intern_add(subs, (const char *)hv, HASHLEN,
		    engine_intern_hash((const char *)hv, HASHLEN), &g2s[i])) !=
		    CAIRN_OK)
			return r;
	}
	for (uint32_t i = 0; i < po->ncats; i++) {
		size_t n = strlen(po->cats[i]);

		if ((r = engine_intern_add(cats, po->cats[i], n,
		    engine_intern_hash(po->cats[i], n), &c2s[i])) != CAIRN_OK)
			return r;
	}
	return CAIRN_OK;
}

/*
 * Events per store subject: cnt[s + 1] is subject s's count, then prefix
 * sums; '*total' the events of all.  'cnt' holds nsubs + 1 zeros.
 */
static void
ingest_count(const struct engine_parse_out *po, const uint32_t *g2s,
    uint32_t nsubs, uint64_t *cnt, uint64_t *total)
{
	for (uint32_t g = 0; g < po->subs.n; g++)
		for (unsigned t = 0; t < po->nthreads; t++) {
			uint32_t l = engine_chain_local(po, t, g);
			size_t n;

			if (l == UINT32_MAX)
				continue;
			n = engine_chain_count(&po->th[t], l) / po->stride;
			cnt[g2s[g] + 1] += n;
			*total += n;
		}
	for (uint32_t s = 0; s < nsubs; s++)
		cnt[s + 1] += cnt[s];
}

/*
 * Copy every chain's events into the segment body: 'ev' at each store
 * subject's place ('cnt', advanced as it goes), categories into 'catv'
 * unless NULL.
 */
static int
ingest_copy(const struct engine_parse_out *po, const uint32_t *g2s,
    const uint32_t *c2s, uint64_t *cnt, uint64_t *ev, uint32_t *catv)
{
	uint32_t *words = NULL;
	size_t wcap = 0;

	for (uint32_t g = 0; g < po->subs.n; g++)
		for (unsigned t = 0; t < po->nthreads; t++) {
			const struct engine_parse_thread *pt = &po->th[t];
			uint32_t l = engine_chain_local(po, t, g);
			size_t n;

			if (l == UINT32_MAX)
				continue;
			n = engine_chain_count(pt, l);
			if (n > wcap) {
				uint32_t *nw;

				if ((nw = realloc(words, n * 4)) == NULL) {
					free(words);
					return CAIRN_ERR_NOMEM;
				}
				words = nw;
				wcap = n;
			}
			engine_chain_copy(pt, l, words);
			for (size_t i = 0; i + po->stride <= n;
			    i += po->stride) {
				uint64_t at = cnt[g2s[g]]++;
				uint32_t lc;

				ev[at] = (uint64_t)words[i] << 32 |
				    words[i + 1];
				if (catv == NULL)
					continue;
				lc = po->stride == 3 ? words[i + 2] : 0;
				catv[at] = lc == 0 ? 0 :
				    c2s[pt->catmap[lc - 1]] + 1;
			}
		}
	free(words);
	return CAIRN_OK;
}

/*
 * The new segment: header 'h' and body '*blob' of '*bloblen' bytes (the
 * per-subject offsets, the events grouped by store subject, then the
 * categories), freed by the caller.
 */
static int
ingest_segment(const struct engine_parse_out *po, uint32_t nsubs,
    const uint32_t *g2s, const uint32_t *c2s, struct seg_hdr *h,
    char **blob, size_t *bloblen)
{
	uint64_t *cnt, *ev, total = 0;
	uint32_t *catv;
	int r;

	if ((cnt = calloc((size_t)nsubs + 1, 8)) == NULL)
		return CAIRN_ERR_NOMEM;
	ingest_count(po, g2s, nsubs, cnt, &total);
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, SEG_MAGIC, 8);
	h->version = STORE_VERSION;
	h->has_cat = po->ncats > 0;
	h->nsubs = nsubs;
	h->nevents = total;
	*bloblen = ((size_t)nsubs + 1) * 8 + total * 8 + (h->has_cat ?
	    total * 4 : 0);
	if ((*blob = big_alloc(*bloblen ? *bloblen : 1)) == NULL) {
		free(cnt);
		return CAIRN_ERR_NOMEM;
	}
	memcpy(*blob, cnt, ((size_t)nsubs + 1) * 8);
	ev = (uint64_t *)(*blob + ((size_t)nsubs + 1) * 8);
	catv = h->has_cat ? (uint32_t *)(ev + total) : NULL;
	r = ingest_copy(po, g2s, c2s, cnt, ev, catv);
	free(cnt);
	return r;
}

/*
 * Write the tables before the segment: the region domain when the store
 * has none ('regions' NULL), the subjects' pseudonyms and the categories.
 */
static int
ingest_write_tables(const char *dir, const struct engine_input *in,
    const uint32_t *regions, const struct engine_intern *subs,
    const struct engine_intern *cats)
{
	char hdr[16], *body;
	uint64_t n;
	size_t blen = 0;
	int r;

	if (regions == NULL) {
		n = engine_cellmap_nregions(in->cells);
		memcpy(hdr, REG_MAGIC, 8);
		memcpy(hdr + 8, &n, 8);
		if ((r = engine_store_write_file(dir, "regions.bin", hdr, 16,
		    engine_cellmap_regions(in->cells), n * 4, 0600)) !=
		    CAIRN_OK)
			return r;
	}
	n = subs->n;
	if ((body = malloc((size_t)n * HASHLEN + 1)) == NULL)
		return CAIRN_ERR_NOMEM;
	for (uint32_t i = 0; i < subs->n; i++) {
		size_t kl;

		memcpy(body + (size_t)i * HASHLEN, engine_intern_key(subs, i,
		    &kl), HASHLEN);
	}
	memcpy(hdr, SUB_MAGIC, 8);
	memcpy(hdr + 8, &n, 8);
	r = engine_store_write_file(dir, "subjects.bin", hdr, 16, body,
	    (size_t)n * HASHLEN, 0600);
	free(body);
	if (r != CAIRN_OK)
		return r;
	n = cats->n;
	if ((body = malloc(cats->alen + cats->n + 1)) == NULL)
		return CAIRN_ERR_NOMEM;
	for (uint32_t i = 0; i < cats->n; i++) {
		size_t kl;
		const char *k = engine_intern_key(cats, i, &kl);

		body[blen++] = (char)kl;
		memcpy(body + blen, k, kl);
		blen += kl;
	}
	memcpy(hdr, CAT_MAGIC, 8);
	memcpy(hdr + 8, &n, 8);
	r = engine_store_write_file(dir, "categories.bin", hdr, 16, body, blen, 0600);
	free(body);
	return r;
}

/*
 * The content digests of the inputs of 'in' into 'dg': the plain files'
 * now, before their parse, each refused (CAIRN_ERR_EXISTS) when the store
 * holds it or an earlier input repeats it; the others' ('have' false)
 * come from the parse.
 */
static int
ingest_digests_before(const struct engine_input *in,
    const struct engine_store_inputs *held, uint8_t (*dg)[32], bool *have)
{
	int r;

	for (size_t i = 0; i < in->npaths; i++) {
		struct stat sb;
		int sr;

		have[i] = false;
		/* Never open a stream here: its first bytes are its parse's. */
		sr = strcmp(in->paths[i], "-") == 0 ? fstat(STDIN_FILENO, &sb) :
		    stat(in->paths[i], &sb);
		if (sr == -1 || !S_ISREG(sb.st_mode))
			continue;
		r = engine_file_digest(in->paths[i], engine_threads(in->threads),
		    true, dg[i]);
		if (r == CAIRN_ERR_UNSUPPORTED || r == CAIRN_ERR_INTERNAL)
			continue;	/* compressed or a stream */
		if (r != CAIRN_OK)
			return r;
		have[i] = true;
	}
	for (size_t i = 0; i < in->npaths; i++) {
		if (!have[i])
			continue;
		for (size_t j = 0; j < i; j++)
			if (have[j] && memcmp(dg[i], dg[j], 32) == 0)
				return engine_store_inputs_check(held,
				    in->paths[i], dg[i], &dg[j], &in->paths[j],
				    1);
		if ((r = engine_store_inputs_check(held, in->paths[i], dg[i],
		    NULL, NULL, 0)) != CAIRN_OK)
			return r;
	}
	return CAIRN_OK;
}

/* The digests the parse made ('rep'), checked like the others. */
static int
ingest_digests_after(const struct engine_input *in,
    const struct engine_store_inputs *held, const struct engine_report *rep,
    uint8_t (*dg)[32], bool *have)
{
	int r;

	for (size_t i = 0; i < in->npaths; i++) {
		if (have[i])
			continue;
		if (!rep->files[i].digested)
			return cairn_err(CAIRN_ERR_INTERNAL, "%s: no content "
			    "digest", in->paths[i]);
		memcpy(dg[i], rep->files[i].digest, 32);
		for (size_t j = 0; j < in->npaths; j++)
			if (j != i && (have[j] || j < i) &&
			    memcmp(dg[i], dg[j], 32) == 0)
				return engine_store_inputs_check(held,
				    in->paths[i], dg[i], &dg[j], &in->paths[j],
				    1);
		if ((r = engine_store_inputs_check(held, in->paths[i], dg[i],
		    NULL, NULL, 0)) != CAIRN_OK)
			return r;
		have[i] = true;
	}
	return CAIRN_OK;
}

int
engine_store_ingest(const char *dir, const struct engine_input *in,
    struct engine_report *rep)
{
	unsigned char key[KEYLEN];
	struct engine_parse_out po;
	struct engine_intern subs, cats;
	struct engine_store_inputs held;
	uint32_t *regions = NULL, *g2s = NULL, *c2s = NULL;
	uint8_t (*dg)[32] = NULL;
	bool *have = NULL;
	char *blob = NULL;
	size_t nsegs = 0, bloblen = 0;
	struct seg_hdr h;
	char name[32];
	int r;

	memset(&po, 0, sizeof(po));
	memset(&subs, 0, sizeof(subs));
	memset(&cats, 0, sizeof(cats));
	memset(&held, 0, sizeof(held));
	memset(rep, 0, sizeof(*rep));
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return cairn_err(CAIRN_ERR_IO, "%s: %s", dir, strerror(errno));
	if (sodium_init() < 0)
		return cairn_err(CAIRN_ERR_CRYPTO, "libsodium init failed");
	if ((dg = calloc(in->npaths + 1, sizeof(*dg))) == NULL ||
	    (have = calloc(in->npaths + 1, sizeof(*have))) == NULL) {
		r = CAIRN_ERR_NOMEM;
		goto out;
	}
	/* The same records twice would count twice: refused, by content. */
	if ((r = ingest_regions(dir, in, &regions)) != CAIRN_OK ||
	    (r = load_key(dir, key, true)) != CAIRN_OK ||
	    (r = engine_store_inputs_load(dir, &held)) != CAIRN_OK ||
	    (r = ingest_digests_before(in, &held, dg, have)) != CAIRN_OK)
		goto out;
	if ((r = engine_parse_input(in, PARSE_STORE, NULL, rep, &po)) !=
	    CAIRN_OK ||
	    (r = ingest_digests_after(in, &held, rep, dg, have)) != CAIRN_OK)
		goto out;
	if ((r = engine_intern_init(&subs, po.subs.n + 1024, UINT32_MAX - 1))
	    != CAIRN_OK ||
	    (r = engine_intern_init(&cats, 64, 1u << 24)) != CAIRN_OK ||
	    (r = load_subjects(dir, &subs)) != CAIRN_OK ||
	    (r = load_cats(dir, &cats)) != CAIRN_OK)
		goto out;
	if ((r = ingest_pseudonyms(&po, key, &subs, &cats, &g2s, &c2s)) !=
	    CAIRN_OK)
		goto out;
	if ((r = ingest_segment(&po, subs.n, g2s, c2s, &h, &blob,
	    &bloblen)) != CAIRN_OK)
		goto out;
	/* Write: regions, subjects and categories first, then the inputs
	   naming the segment, the segment last. */
	if ((r = ingest_write_tables(dir, in, regions, &subs, &cats)) !=
	    CAIRN_OK)
		goto out;
	if ((r = count_segments(dir, &nsegs)) != CAIRN_OK)
		goto out;
	if (nsegs >= MAX_SEGS) {
		r = cairn_err(CAIRN_ERR_TOOBIG, "%s: %d segments already",
		    dir, MAX_SEGS);
		goto out;
	}
	snprintf(name, sizeof(name), "seg-%06zu.bin", nsegs + 1);
	if ((r = engine_store_inputs_write(dir, &held, name, in->paths,
	    (const uint8_t (*)[32])dg, in->npaths)) != CAIRN_OK)
		goto out;
	r = engine_store_write_file(dir, name, &h, sizeof(h), blob, bloblen,
	    0600);
out:
	sodium_memzero(key, sizeof(key));
	free(regions);
	free(g2s);
	free(c2s);
	free(blob);
	free(dg);
	free(have);
	engine_store_inputs_release(&held);
	engine_intern_release(&subs);
	engine_intern_release(&cats);
	engine_parse_out_release(&po);
	return r;
}

/* ---- open and query ---- */

static int
open_segment(const char *dir, const char *name, const struct engine_store *st,
    struct seg *sg)
{
	char path[4096];
	struct stat sb;
	struct seg_hdr h;
	uint64_t need;
	int fd, r = CAIRN_OK;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW)) == -1)
		return cairn_err(CAIRN_ERR_IO, "%s: %s", path, strerror(errno));
	if (fstat(fd, &sb) == -1 || (size_t)sb.st_size < sizeof(h) ||
	    pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
		close(fd);
		return cairn_err(CAIRN_ERR_FORMAT, "%s: truncated", path);
	}
	need = sizeof(h) + (h.nsubs + 1) * 8 + h.nevents * (h.has_cat ? 12 :
	    8);
	if (memcmp(h.magic, SEG_MAGIC, 8) != 0 || h.version != STORE_VERSION ||
	    h.nsubs > st->nsubs || h.nevents > ((uint64_t)1 << 40) ||
	    need != (uint64_t)sb.st_size) {
		close(fd);
		return cairn_err(CAIRN_ERR_FORMAT, "%s: corrupt segment header",
		    path);
	}
	sg->maplen = (size_t)sb.st_size;
	sg->map = mmap(NULL, sg->maplen, PROT_READ, MAP_PRIVATE |
	    MAP_POPULATE, fd, 0);
	close(fd);
	if (sg->map == MAP_FAILED) {
		sg->map = NULL;
		return cairn_err(CAIRN_ERR_IO, "%s: mmap: %s", path,
		    strerror(errno));
	}
	snprintf(sg->name, sizeof(sg->name), "%s", name);
	sg->nsubs = h.nsubs;
	sg->nevents = h.nevents;
	sg->off = (const uint64_t *)((const char *)sg->map + sizeof(h));
	sg->ev = sg->off + h.nsubs + 1;
	sg->cat = h.has_cat ? (const uint32_t *)(sg->ev + h.nevents) : NULL;
	if (sg->off[0] != 0 || sg->off[h.nsubs] != h.nevents)
		r = CAIRN_ERR_FORMAT;
	for (uint64_t s = 0; s < h.nsubs && r == CAIRN_OK; s++) {
		if (sg->off[s + 1] < sg->off[s])
			r = CAIRN_ERR_FORMAT;
		else if (sg->off[s + 1] - sg->off[s] > sg->maxrun)
			sg->maxrun = sg->off[s + 1] - sg->off[s];
	}
	/* Each event's region and category are checked as queries read
	 * them (store_job_run), by every thread, not here by one. */
	if (r != CAIRN_OK)
		return cairn_err(r, "%s: corrupt offsets or events", path);
	return CAIRN_OK;
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
engine_store_open(const char *dir, struct engine_store **out)
{
	struct engine_store *st;
	struct engine_intern cats;
	DIR *d = NULL;
	struct dirent *de;
	char **names = NULL;
	size_t nnames = 0;
	int r;

	memset(&cats, 0, sizeof(cats));
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return CAIRN_ERR_NOMEM;
	if ((r = load_regions(dir, &st->regions, &st->nregions)) != CAIRN_OK) {
		if (r == CAIRN_ERR_NOTFOUND)
			r = cairn_err(r, "%s: no store here (run 'cairn-node "
			    "ingest' first)", dir);
		goto out;
	}
	if ((r = engine_intern_init(&cats, 64, 1u << 24)) != CAIRN_OK ||
	    (r = count_subjects(dir, &st->nsubs)) != CAIRN_OK ||
	    (r = load_cats(dir, &cats)) != CAIRN_OK)
		goto out;
	if (cats.n > 0 && (st->cats = calloc(cats.n, sizeof(char *))) == NULL) {
		r = CAIRN_ERR_NOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < cats.n; i++) {
		size_t n;
		const char *k = engine_intern_key(&cats, i, &n);

		if ((st->cats[i] = strndup(k, n)) == NULL) {
			r = CAIRN_ERR_NOMEM;
			goto out;
		}
		st->ncats++;
	}
	if ((d = opendir(dir)) == NULL) {
		r = cairn_err(CAIRN_ERR_IO, "%s: %s", dir, strerror(errno));
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		char **nn;

		if (strncmp(de->d_name, "seg-", 4) != 0 ||
		    strlen(de->d_name) != 14)
			continue;
		if (nnames >= MAX_SEGS || (nn = realloc(names, (nnames + 1) *
		    sizeof(*nn))) == NULL) {
			r = CAIRN_ERR_NOMEM;
			goto out;
		}
		names = nn;
		if ((names[nnames] = strdup(de->d_name)) == NULL) {
			r = CAIRN_ERR_NOMEM;
			goto out;
		}
		nnames++;
	}
	if (nnames > 0)
		qsort(names, nnames, sizeof(*names), cmp_name);
	if (nnames > 0 && (st->segs = calloc(nnames, sizeof(*st->segs))) ==
	    NULL) {
		r = CAIRN_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < nnames; i++) {
		if ((r = open_segment(dir, names[i], st, &st->segs[i])) !=
		    CAIRN_OK) {
			st->nsegs = i + 1;
			goto out;
		}
		st->nsegs = i + 1;
		st->maxrun += st->segs[i].maxrun;
	}
	*out = st;
	st = NULL;
	r = CAIRN_OK;
out:
	if (d != NULL)
		closedir(d);
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	engine_intern_release(&cats);
	engine_store_close(st);
	return r;
}

void
engine_store_close(struct engine_store *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < st->nsegs; i++)
		if (st->segs[i].map != NULL)
			munmap(st->segs[i].map, st->segs[i].maplen);
	free(st->segs);
	for (uint32_t i = 0; i < st->ncats; i++)
		free(st->cats[i]);
	free(st->cats);
	free(st->regions);
	free(st);
}

void
engine_store_stats(const struct engine_store *st, uint64_t *subjects,
    uint64_t *events, size_t *segments)
{
	*subjects = st->nsubs;
	*events = 0;
	for (size_t i = 0; i < st->nsegs; i++)
		*events += st->segs[i].nevents;
	*segments = st->nsegs;
}

struct store_job {
	const struct engine_plan  *p;
	const struct engine_store *st;
	const uint32_t		  *catrank;	/* store category -> the
						   spec's index, or
						   UINT32_MAX */
	uint64_t		   s0, s1;
	uint64_t		   other_cat;
	uint32_t		  *w;
	struct engine_acc	   acc;
	size_t			   badseg;	/* a corrupt segment, or
						   nsegs */
};

static void *
store_job_run(void *arg)
{
	struct store_job *j = arg;
	const struct engine_store *st = j->st;
	uint32_t nreg = (uint32_t)st->nregions;
	bool popcat = j->p->q.kind == QSPEC_KIND_POPCAT;

	for (uint64_t s = j->s0; s < j->s1; s++) {
		size_t n = 0;

		for (size_t g = 0; g < st->nsegs; g++) {
			const struct seg *sg = &st->segs[g];

			if (s >= sg->nsubs)
				continue;
			for (uint64_t e = sg->off[s]; e < sg->off[s + 1]; e++) {
				uint32_t c = 0, reg = (uint32_t)sg->ev[e];

				if (reg >= nreg || (sg->cat != NULL &&
				    sg->cat[e] > st->ncats)) {
					j->badseg = g;
					return NULL;
				}
				if (sg->cat != NULL && sg->cat[e] > 0)
					c = j->catrank[sg->cat[e] - 1];
				else if (popcat)
					continue;
				if (c == UINT32_MAX) {
					/* a category outside the spec's */
					if (engine_plan_word(j->p,
					    (int64_t)(sg->ev[e]
					    >> 32) * 60, (uint32_t)sg->ev[e], 0,
					    &j->w[n]) == PLAN_USE)
						j->other_cat++;
					continue;
				}
				if (engine_plan_word(j->p,
				    (int64_t)(sg->ev[e] >> 32) *
				    60, reg, c, &j->w[n]) == PLAN_USE)
					n++;
			}
		}
		engine_kernel_subject(j->p, j->w, n, &j->acc);
	}
	return NULL;
}

int
engine_run_store(const struct qspec *q, const struct engine_store *st,
    unsigned threads, struct engine_result *res)
{
	struct engine_plan p;
	struct store_job jobs[64];
	pthread_t tid[64];
	uint32_t *rank = NULL;
	unsigned T = engine_threads(threads), started = 0;
	int r;

	memset(jobs, 0, sizeof(jobs));
	if ((r = engine_plan_init(&p, q, (uint32_t)st->nregions)) != CAIRN_OK)
		return r;
	if (q->kind == QSPEC_KIND_POPCAT && st->ncats == 0)
		return cairn_err(CAIRN_ERR_ARG, "population_by_category: the "
		    "store holds no categories");
	/* Each stored category's index in the spec's list (or none). */
	if ((rank = malloc(((size_t)st->ncats + 1) * 4)) == NULL) {
		r = CAIRN_ERR_NOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < st->ncats; i++) {
		int ci = qspec_cat_index(q, st->cats[i], strlen(st->cats[i]));

		/* Other kinds read every event, whatever its category. */
		rank[i] = q->kind != QSPEC_KIND_POPCAT ? 0 : ci < 0 ?
		    UINT32_MAX : (uint32_t)ci;
	}
	for (unsigned t = 0; t < T; t++) {
		jobs[t].p = &p;
		jobs[t].st = st;
		jobs[t].catrank = rank;
		jobs[t].s0 = st->nsubs * t / T;
		jobs[t].s1 = st->nsubs * (t + 1) / T;
		jobs[t].badseg = st->nsegs;
		if ((r = engine_acc_init(&jobs[t].acc, p.ncells)) != CAIRN_OK ||
		    (r = engine_acc_scratch(&jobs[t].acc, st->maxrun + 1)) !=
		    CAIRN_OK)
			goto out;
		if ((jobs[t].w = malloc((st->maxrun + 1) * 4)) == NULL) {
			r = CAIRN_ERR_NOMEM;
			goto out;
		}
	}
	for (unsigned t = 1; t < T; t++) {
		if (pthread_create(&tid[t], NULL, store_job_run, &jobs[t]) != 0)
			break;
		started++;
	}
	store_job_run(&jobs[0]);
	for (unsigned t = started + 1; t < T; t++)
		store_job_run(&jobs[t]);
	for (unsigned t = 1; t <= started; t++)
		pthread_join(tid[t], NULL);
	for (unsigned t = 0; t < T; t++)
		if (jobs[t].badseg < st->nsegs) {
			r = cairn_err(CAIRN_ERR_FORMAT, "%s: corrupt events "
			    "(region or category out of range)",
			    st->segs[jobs[t].badseg].name);
			goto out;
		}
	{
		struct engine_acc accs[64];

		for (unsigned t = 0; t < T; t++)
			accs[t] = jobs[t].acc;
		if ((r = engine_result_init(res, &p, st->regions)) != CAIRN_OK)
			goto out;
		if ((r = engine_acc_finish(accs, T, res)) != CAIRN_OK) {
			engine_result_release(res);
			goto out;
		}
	}
	for (unsigned t = 0; t < T; t++)
		res->other_cat += jobs[t].other_cat;
	if ((r = engine_result_cats(res, q)) != CAIRN_OK) {
		engine_result_release(res);
		goto out;
	}
	r = CAIRN_OK;
out:
	for (unsigned t = 0; t < T; t++) {
		engine_acc_release(&jobs[t].acc);
		free(jobs[t].w);
	}
	free(rank);
	return r;
}

/* ---- prune ---- */

int
engine_store_prune(const char *dir, uint32_t before_minute,
    uint64_t *removed, uint64_t *kept, size_t *rewritten)
{
	struct engine_store *st = NULL;
	int r;

	*removed = *kept = 0;
	*rewritten = 0;
	if ((r = engine_store_open(dir, &st)) != CAIRN_OK)
		return r;
	for (size_t i = 0; i < st->nsegs && r == CAIRN_OK; i++) {
		const struct seg *sg = &st->segs[i];
		struct seg_hdr h;
		uint64_t keep = 0, *off, *ev, k = 0;
		uint32_t *cat = NULL;
		char *blob;
		size_t len;

		for (uint64_t e = 0; e < sg->nevents; e++)
			keep += (uint32_t)(sg->ev[e] >> 32) >= before_minute;
		*kept += keep;
		*removed += sg->nevents - keep;
		if (keep == sg->nevents)
			continue;
		memset(&h, 0, sizeof(h));
		memcpy(h.magic, SEG_MAGIC, 8);
		h.version = STORE_VERSION;
		h.has_cat = sg->cat != NULL;
		h.nsubs = sg->nsubs;
		h.nevents = keep;
		len = ((size_t)sg->nsubs + 1) * 8 + keep * (h.has_cat ? 12 : 8);
		if ((blob = big_alloc(len ? len : 1)) == NULL) {
			r = CAIRN_ERR_NOMEM;
			break;
		}
		off = (uint64_t *)blob;
		ev = off + sg->nsubs + 1;
		if (h.has_cat)
			cat = (uint32_t *)(ev + keep);
		for (uint64_t s = 0; s < sg->nsubs; s++) {
			off[s] = k;
			for (uint64_t e = sg->off[s]; e < sg->off[s + 1]; e++) {
				if ((uint32_t)(sg->ev[e] >> 32) < before_minute)
					continue;
				if (cat != NULL)
					cat[k] = sg->cat[e];
				ev[k++] = sg->ev[e];
			}
		}
		off[sg->nsubs] = k;
		/* The segment keeps its name: the inputs naming it stay
		   ingested, so a pruned month does not come back. */
		r = engine_store_write_file(dir, sg->name, &h, sizeof(h), blob,
		    len, 0600);
		free(blob);
		if (r == CAIRN_OK)
			(*rewritten)++;
	}
	engine_store_close(st);
	return r;
}
