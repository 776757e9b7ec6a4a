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

#include <pthread.h>

#include <sodium.h>
#include <zlib.h>
#include <zstd.h>

#include "common/err.h"
#include "node/engine/engine_int.h"

#define RAW_SIZE	(1u << 18)	/* compressed bytes read at once */
#define SNIFF		8		/* magic bytes looked at */

/* A content digest being made (engine_int.h, "Content digests"). */
struct digest {
	crypto_generichash_state piece;
	uint64_t	 fill;		/* bytes in the current piece */
	uint64_t	 total;
	uint8_t		*d;		/* the finished pieces' digests */
	size_t		 n, cap;
};

static int
digest_add(struct digest *g, const void *b, size_t n)
{
	const uint8_t *p = b;

	while (n > 0) {
		size_t k = ENGINE_DIGEST_PIECE - g->fill;

		if (k > n)
			k = n;
		if (g->fill == 0)
			crypto_generichash_init(&g->piece, NULL, 0, 32);
		crypto_generichash_update(&g->piece, p, k);
		g->fill += k;
		g->total += k;
		p += k;
		n -= k;
		if (g->fill == ENGINE_DIGEST_PIECE) {
			if (g->n == g->cap) {
				size_t nc = g->cap ? g->cap * 2 : 16;
				uint8_t *nd = realloc(g->d, nc * 32);

				if (nd == NULL)
					return CAIRN_ERR_NOMEM;
				g->d = nd;
				g->cap = nc;
			}
			crypto_generichash_final(&g->piece, g->d + 32 * g->n,
			    32);
			g->n++;
			g->fill = 0;
		}
	}
	return CAIRN_OK;
}

/* The digest of 'npieces' piece digests 'd' and 'total' bytes. */
static void
digest_combine(const uint8_t *d, size_t npieces, uint64_t total,
    uint8_t out[32])
{
	crypto_generichash_state st;
	uint8_t le[8];

	for (int b = 0; b < 8; b++)
		le[b] = (uint8_t)(total >> (8 * b));
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)"cairn-content-v1",
	    16);
	if (npieces > 0)
		crypto_generichash_update(&st, d, 32 * npieces);
	crypto_generichash_update(&st, le, 8);
	crypto_generichash_final(&st, out, 32);
}

static int
digest_final(struct digest *g, uint8_t out[32])
{
	if (g->fill > 0) {
		if (g->n == g->cap) {
			uint8_t *nd = realloc(g->d, (g->cap + 1) * 32);

			if (nd == NULL)
				return CAIRN_ERR_NOMEM;
			g->d = nd;
			g->cap++;
		}
		crypto_generichash_final(&g->piece, g->d + 32 * g->n, 32);
		g->n++;
		g->fill = 0;
	}
	digest_combine(g->d, g->n, g->total, out);
	return CAIRN_OK;
}

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
	struct digest	*dg;		/* of the bytes read, when asked */
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
	if (r->dg != NULL)
		free(r->dg->d);
	free(r->dg);
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

static int	reader_read(struct engine_reader *, char *, size_t, size_t *);

int
engine_reader_read(struct engine_reader *r, char *dst, size_t n, size_t *got)
{
	int e;

	/* Bytes given back were digested when first read. */
	if (r->blen > r->bpos || r->dg == NULL)
		return reader_read(r, dst, n, got);
	if ((e = reader_read(r, dst, n, got)) != CAIRN_OK)
		return e;
	return digest_add(r->dg, dst, *got);
}

static int
reader_read(struct engine_reader *r, char *dst, size_t n, size_t *got)
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

/* ---- content digests ---- */

int
engine_reader_digest_start(struct engine_reader *r)
{
	if (r->dg != NULL)
		return CAIRN_OK;
	if ((r->dg = calloc(1, sizeof(*r->dg))) == NULL)
		return CAIRN_ERR_NOMEM;
	return CAIRN_OK;
}

int
engine_reader_digest(struct engine_reader *r, uint8_t out[32])
{
	if (r->dg == NULL)
		return cairn_err(CAIRN_ERR_INTERNAL, "%s: no digest asked",
		    r->path);
	return digest_final(r->dg, out);
}

/* One thread of a plain file's digest: pieces first, first + step, ... */
struct piece_job {
	struct engine_reader	*r;
	uint8_t			*d;
	size_t			 first, step, n;
	int			 err;
	char			 msg[256];
};

static void *
piece_run(void *arg)
{
	struct piece_job *j = arg;
	char *buf;

	if ((buf = malloc(1u << 20)) == NULL) {
		j->err = CAIRN_ERR_NOMEM;
		return NULL;
	}
	for (size_t i = j->first; i < j->n && j->err == CAIRN_OK;
	    i += j->step) {
		crypto_generichash_state st;
		uint64_t off = (uint64_t)i * ENGINE_DIGEST_PIECE;
		uint64_t end = off + ENGINE_DIGEST_PIECE;

		if (end > j->r->size)
			end = j->r->size;
		crypto_generichash_init(&st, NULL, 0, 32);
		while (off < end) {
			size_t want = end - off < (1u << 20) ?
			    (size_t)(end - off) : (1u << 20), got;

			if ((j->err = engine_reader_pread(j->r, buf, want, off,
			    &got)) != CAIRN_OK) {
				snprintf(j->msg, sizeof(j->msg), "%s",
				    cairn_errmsg());
				break;
			}
			if (got == 0) {
				j->err = cairn_err(CAIRN_ERR_IO, "%s: shorter "
				    "than its size while read", j->r->path);
				snprintf(j->msg, sizeof(j->msg), "%s",
				    cairn_errmsg());
				break;
			}
			crypto_generichash_update(&st, (uint8_t *)buf, got);
			off += got;
		}
		crypto_generichash_final(&st, j->d + 32 * i, 32);
	}
	free(buf);
	return NULL;
}

int
engine_file_digest(const char *path, unsigned nth, bool plain_only,
    uint8_t out[32])
{
	struct engine_reader *r;
	struct piece_job job[8];
	pthread_t th[8];
	bool started[8] = { false };
	size_t n;
	uint8_t *d = NULL;
	int e;

	if ((e = engine_reader_open(path, &r)) != CAIRN_OK)
		return e;
	if (!engine_reader_splittable(r)) {
		/* One pass through the decompressor (not for a stream,
		   which only its parse may read). */
		char *buf = NULL;
		size_t got;

		if (plain_only) {
			e = CAIRN_ERR_UNSUPPORTED;
			goto out;
		}
		if (r->stream) {
			e = cairn_err(CAIRN_ERR_INTERNAL, "%s: a stream",
			    path);
			goto out;
		}
		if ((e = engine_reader_digest_start(r)) != CAIRN_OK ||
		    (buf = malloc(1u << 20)) == NULL) {
			e = e != CAIRN_OK ? e : CAIRN_ERR_NOMEM;
			goto out;
		}
		do
			e = engine_reader_read(r, buf, 1u << 20, &got);
		while (e == CAIRN_OK && got > 0);
		free(buf);
		if (e == CAIRN_OK)
			e = engine_reader_digest(r, out);
		goto out;
	}
	n = (size_t)((r->size + ENGINE_DIGEST_PIECE - 1) / ENGINE_DIGEST_PIECE);
	if (nth < 1)
		nth = 1;
	if (nth > 8)
		nth = 8;
	if (nth > n)
		nth = n > 0 ? (unsigned)n : 1;
	if ((d = malloc(n > 0 ? n * 32 : 1)) == NULL) {
		e = CAIRN_ERR_NOMEM;
		goto out;
	}
	for (unsigned t = 0; t < nth; t++) {
		job[t] = (struct piece_job){ r, d, t, nth, n, CAIRN_OK, "" };
		if (t > 0)
			started[t] = pthread_create(&th[t], NULL, piece_run,
			    &job[t]) == 0;
	}
	(void)piece_run(&job[0]);
	for (unsigned t = 1; t < nth; t++) {
		if (started[t])
			pthread_join(th[t], NULL);
		else
			(void)piece_run(&job[t]);
	}
	e = CAIRN_OK;
	for (unsigned t = 0; t < nth && e == CAIRN_OK; t++)
		if (job[t].err != CAIRN_OK)
			e = cairn_err(job[t].err, "%s", job[t].msg);
	if (e == CAIRN_OK)
		digest_combine(d, n, r->size, out);
out:
	free(d);
	engine_reader_close(r);
	return e;
}
