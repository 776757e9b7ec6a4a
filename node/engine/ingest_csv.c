/*
 * ingest_csv.c - the CSV reader: a single pass over each file in large
 * blocks (reader.c: pread on a plain file, split at line boundaries
 * between threads; one pass through gzip or zstd, or over a stream),
 * with a hand-written row scanner (SSE2 where available) that
 * finds the separators and the bytes needing care (quotes, NUL, non-ASCII)
 * sixteen at a time.  Every row is either accepted or counted as bad with
 * a reason; the first examples keep their file line numbers.  For a query
 * each accepted row goes to the partitions of node/engine/partition.c; for the
 * store it joins its subscriber's chain of event words, subscriber ids
 * interned into dense per-thread ids that are merged into one global table
 * at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "common/err.h"
#include "common/timeutil.h"
#include "node/engine/engine_int.h"

#define BUF_SIZE	(1u << 22)
#define BUF_PAD		64
#define SPLIT_MIN	(1u << 20)	/* split files larger than this */
#define MAX_SECONDS	((int64_t)UINT32_MAX * 60)

/* ---- tasks and workers ---- */

struct task {
	size_t		file;
	unsigned	owner;		/* the thread that reads it */
	bool		seq;		/* read front to back, whole */
	struct engine_reader *rd;	/* a stream's, opened by the plan */
	bool		digest;		/* digest the content (store mode) */
	bool		digested;
	uint8_t		dg[32];
	uint64_t	begin, end;	/* byte range; UINT64_MAX: EOF */
	uint64_t	lines;		/* lines seen, header included */
	struct engine_file_report rep;	/* counts; examples by local line */
};

struct file_info {
	enum engine_format fmt;
	bool		seq;		/* compressed or a stream */
	uint64_t	size;
	struct engine_reader *rd;	/* a stream's, header read back */
};

/*
 * Rows waiting for their subject lookup: the table slot is prefetched
 * when a row enters the ring and used RING rows later, so the cache
 * misses of a large table overlap instead of stalling one by one.
 */
#define RING	16

struct pending {
	const char	*key;
	uint64_t	 k[2];
	uint64_t	 h;
	uint64_t	 w2;		/* store mode: the second word */
	uint32_t	 n;
	uint32_t	 word;
};

struct worker {
	struct pending		 ring[RING];
	unsigned		 rhead, rcount;
	const struct engine_input	*in;
	enum engine_parse_mode		 mode;
	const struct engine_plan	*plan;
	struct engine_parse_thread	*pt;
	unsigned		 me;
	unsigned		 stride;	/* store: words per event */
	struct task		*tasks;
	size_t			 ntasks;
	atomic_size_t		*next;	/* == ntasks: stop */
	const struct file_info	*files;
	char			*buf;
	size_t			 bufsize;	/* bytes read at once */
	char			 quoted[ENGINE_MAX_LINE + BUF_PAD];
	int			 err;
	char			 errmsg[256];
	/* ISO date cache: the last date seen and its day number */
	char			 dcache[10];
	int64_t			 dcache_day;
};

/* Append 'word' to the chain of the subject in slot 'e'. */
static inline int
chain_add(struct engine_parse_thread *pt, struct engine_intern_ent *e,
    uint32_t word)
{
	uint32_t b, *blk;
	int r;

	if (e->cnt == UINT32_MAX)
		return cairn_err(CAIRN_ERR_TOOBIG, "more than %u events of one "
		    "subject", UINT32_MAX);
	e->stage[e->fill++] = word;
	e->cnt++;
	if (e->fill < INTERN_STAGE)
		return CAIRN_OK;
	if ((r = engine_blk_new(pt, &b)) != CAIRN_OK)
		return r;
	blk = engine_blk_at(pt, b);
	blk[0] = e->id;
	memcpy(blk + 1, e->stage, sizeof(e->stage));
	e->fill = 0;
	return CAIRN_OK;
}

static int
pending_do(struct worker *w, const struct pending *pd)
{
	struct engine_intern_ent *e;
	int r;

	if ((r = engine_intern_add_e(&w->pt->subs, pd->key, pd->n, pd->h, pd->k,
	    &e)) != CAIRN_OK || (r = chain_add(w->pt, e, pd->word)) !=
	    CAIRN_OK)
		return r;
	if (w->mode != PARSE_STORE)
		return CAIRN_OK;
	/* store mode: minute, region[, category + 1] */
	if ((r = chain_add(w->pt, e, (uint32_t)pd->w2)) != CAIRN_OK)
		return r;
	if (w->stride == 3)
		return chain_add(w->pt, e, (uint32_t)(pd->w2 >> 32));
	return CAIRN_OK;
}

/* Finish every pending row (before the buffer they point into moves). */
static int
pending_flush(struct worker *w)
{
	int r;

	while (w->rcount > 0) {
		r = pending_do(w, &w->ring[w->rhead]);
		w->rhead = (w->rhead + 1) % RING;
		w->rcount--;
		if (r != CAIRN_OK)
			return r;
	}
	return CAIRN_OK;
}

/*
 * The hash of subject id 'key' of 'n' bytes, and its zero-padded form in
 * 'k' when n <= 16 (zeros otherwise); 16 bytes at 'key' are readable.
 */
static inline uint64_t
key_hash(const char *key, size_t n, uint64_t k[2])
{
	if (n <= INTERN_INLINE) {
		engine_intern_key16(key, n, k);
		return engine_intern_hash16(k, n);
	}
	k[0] = k[1] = 0;
	return engine_intern_hash(key, n);
}

/* Queue a row for subject 'key' (in the read buffer, or 'direct'). */
static inline int
pending_push(struct worker *w, const char *key, size_t n, uint32_t word,
    uint64_t w2, bool direct)
{
	struct pending pd;
	int r;

	pd.key = key;
	pd.n = (uint32_t)n;
	pd.word = word;
	pd.w2 = w2;
	pd.h = key_hash(key, n, pd.k);

	if (direct)
		return pending_do(w, &pd);
	engine_intern_prefetch(&w->pt->subs, pd.h);
	if (w->rcount == RING) {
		r = pending_do(w, &w->ring[w->rhead]);
		w->ring[w->rhead] = pd;
		w->rhead = (w->rhead + 1) % RING;
		return r;
	}
	w->ring[(w->rhead + w->rcount++) % RING] = pd;
	return CAIRN_OK;
}

static void
bad(struct task *t, enum engine_bad why)
{
	t->rep.bad[why]++;
	t->rep.nbad++;
	if (t->rep.nexamples < ENGINE_EXAMPLES) {
		t->rep.examples[t->rep.nexamples].line = t->lines;
		t->rep.examples[t->rep.nexamples].reason = why;
		t->rep.nexamples++;
	}
}

static bool
utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i];
		size_t len;
		unsigned min;
		uint32_t cp;

		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			len = 2;
			min = 0x80;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3;
			min = 0x800;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4;
			min = 0x10000;
			cp = c & 0x07;
		} else
			return false;
		if (i + len > n)
			return false;
		for (size_t j = 1; j < len; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

/*
 * Split a line holding quotes per RFC 4180 (no line breaks inside
 * fields) into 'dst'.  Returns the field count, or -1 for bad quoting.
 */
static int
split_quoted(const char *p, size_t n, char *dst, const char **f, size_t *fl,
    int maxf)
{
	size_t i = 0, o = 0;
	int nf = 0;

	for (;;) {
		size_t start = o;

		if (i < n && p[i] == '"') {
			i++;
			for (;;) {
				if (i >= n)
					return -1;
				if (p[i] == '"') {
					if (i + 1 < n && p[i + 1] == '"') {
						dst[o++] = '"';
						i += 2;
						continue;
					}
					i++;
					break;
				}
				dst[o++] = p[i++];
			}
			if (i < n && p[i] != ',')
				return -1;
		} else {
			while (i < n && p[i] != ',') {
				if (p[i] == '"')
					return -1;
				dst[o++] = p[i++];
			}
		}
		if (nf < maxf) {
			f[nf] = dst + start;
			fl[nf] = o - start;
		}
		nf++;
		if (i >= n)
			return nf;
		i++;	/* the comma */
	}
}

static inline bool
dig2(const char *s, unsigned *v)
{
	unsigned a = (unsigned char)s[0] - '0', b = (unsigned char)s[1] - '0';

	*v = a * 10 + b;
	return a < 10 && b < 10;
}

/* A timestamp in seconds; ISO dates are cached (rows are time-ordered). */
static inline bool
parse_ts(struct worker *w, const char *s, size_t n, int64_t *out)
{
	unsigned hh, mm, ss;
	int64_t t;

	if (n == 20) {
		if (memcmp(s, w->dcache, 10) != 0) {
			if (time_parse_iso(s, n, &t) != CAIRN_OK)
				return false;
			memcpy(w->dcache, s, 10);
			w->dcache_day = time_day_of(t);
		}
		if (s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
		    s[19] != 'Z' || !dig2(s + 11, &hh) || !dig2(s + 14, &mm) ||
		    !dig2(s + 17, &ss) || hh > 23 || mm > 59 || ss > 59)
			return false;
		t = w->dcache_day * 86400 + hh * 3600 + mm * 60 + ss;
	} else {
		if (n == 0 || n > 12)
			return false;
		t = 0;
		for (size_t i = 0; i < n; i++) {
			unsigned d = (unsigned char)s[i] - '0';

			if (d > 9)
				return false;
			t = t * 10 + d;
		}
	}
	if (t >= MAX_SECONDS)
		return false;
	*out = t;
	return true;
}

static inline bool
parse_u32(const char *s, size_t n, uint32_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 10)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned char)s[i] - '0';

		if (d > 9)
			return false;
		v = v * 10 + d;
	}
	if (v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

/*
 * Find the first four commas of the line 'p' of 'n' bytes ('cpos'), count
 * all of them ('*ncp') and tell whether the line holds a byte needing
 * care: a quote, a NUL or a non-ASCII byte ('*specialp').
 */
static inline __attribute__((always_inline)) void
row_scan(const char *p, size_t n, size_t cpos[4], unsigned *ncp,
    bool *specialp)
{
	unsigned nc = 0;
	bool special = false;

#ifdef __SSE2__
	{
		const __m128i vc = _mm_set1_epi8(','), vq = _mm_set1_epi8('"'),
		    vz = _mm_setzero_si128();

		for (size_t i = 0; i < n; i += 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)(p + i));
			unsigned mc = (unsigned)_mm_movemask_epi8(
			    _mm_cmpeq_epi8(v, vc));
			unsigned ms = (unsigned)_mm_movemask_epi8(
			    _mm_or_si128(_mm_cmpeq_epi8(v, vq),
			    _mm_or_si128(_mm_cmpeq_epi8(v, vz), v)));

			if (n - i < 16) {
				unsigned keep = (1u << (n - i)) - 1;

				mc &= keep;
				ms &= keep;
			}
			special |= ms != 0;
			while (mc != 0) {
				if (nc < 4)
					cpos[nc] = i +
					    (size_t)__builtin_ctz(mc);
				nc++;
				mc &= mc - 1;
			}
		}
	}
#else
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == ',') {
			if (nc < 4)
				cpos[nc] = i;
			nc++;
		} else if (c == '"' || c == 0 || c >= 0x80)
			special = true;
	}
#endif
	*ncp = nc;
	*specialp = special;
}

/*
 * A good row's fields 'f' ('want' of them, lengths 'fl') at UTC second
 * 'ts' in region index 'reg': into the partitions (query mode) or the
 * subject's chain (store mode).  Returns an error code only for failures
 * of the run.
 */
static inline __attribute__((always_inline)) int
row_emit(struct worker *w, struct task *t, const char *const f[4],
    const size_t fl[4], unsigned want, int64_t ts, uint32_t reg,
    bool quoted)
{
	uint32_t cat = 0, word;
	int r;

	switch (w->mode) {
	case PARSE_CHECK:
		return CAIRN_OK;
	case PARSE_QUERY:
		if (w->plan->q.kind == QSPEC_KIND_POPCAT) {
			/* The category domain is the spec's: a category
			 * outside it is a good row the query does not
			 * read, counted apart like rows outside the
			 * window. */
			int ci = qspec_cat_index(&w->plan->q, f[3], fl[3]);

			if (ci < 0) {
				if (engine_plan_word(w->plan, ts, reg, 0,
				    &word) == PLAN_OUTSIDE)
					t->rep.outside++;
				else
					t->rep.other_cat++;
				return CAIRN_OK;
			}
			cat = (uint32_t)ci;
		}
		switch (engine_plan_word(w->plan, ts, reg, cat, &word)) {
		case PLAN_OUTSIDE:
			t->rep.outside++;
			return CAIRN_OK;
		case PLAN_UNUSED:
			return CAIRN_OK;
		case PLAN_USE:
			break;
		}
		if (fl[0] > INTERN_INLINE)
			return engine_part_push_long(&w->pt->pw, f[0], fl[0],
			    word);
		{
			uint64_t k[2], h = key_hash(f[0], fl[0], k);

			return engine_part_push(&w->pt->pw, f[0], fl[0], h, k,
			    word);
		}
	case PARSE_STORE:
		if (want == 4 && (r = engine_intern_add(&w->pt->cats, f[3],
		    fl[3], engine_intern_hash(f[3], fl[3]), &cat)) != CAIRN_OK)
			return r;
		return pending_push(w, f[0], fl[0], (uint32_t)(ts / 60),
		    (uint64_t)(want == 4 ? cat + 1 : 0) << 32 | reg, quoted);
	}
	return CAIRN_ERR_INTERNAL;
}

/* One data line 'p' of 'n' bytes (no '\n').  Returns an error code only
 * for failures of the run (memory, limits), not for bad rows. */
static inline int
row(struct worker *w, struct task *t, enum engine_format fmt, const char *p,
    size_t n)
{
	const char *f[4];
	size_t fl[4], cpos[4];
	unsigned nc = 0, want = fmt == ENGINE_FMT_REGION_CAT ? 4 : 3;
	bool special = false, quoted = false;
	int64_t ts;
	uint32_t reg;

	t->lines++;
	t->rep.rows++;
	if (n > 0 && p[n - 1] == '\r')
		n--;
	if (n == 0) {
		bad(t, ENGINE_BAD_BLANK);
		return CAIRN_OK;
	}
	if (n >= ENGINE_MAX_LINE) {
		bad(t, ENGINE_BAD_LONG_LINE);
		return CAIRN_OK;
	}
	row_scan(p, n, cpos, &nc, &special);
	if (special) {
		if (!utf8_valid((const unsigned char *)p, n)) {
			bad(t, ENGINE_BAD_ENCODING);
			return CAIRN_OK;
		}
		if (memchr(p, '"', n) != NULL) {
			int nf = split_quoted(p, n, w->quoted, f, fl, 4);

			if (nf < 0) {
				bad(t, ENGINE_BAD_QUOTING);
				return CAIRN_OK;
			}
			nc = (unsigned)nf - 1;
			quoted = true;
			goto fields;
		}
	}
	if (nc + 1 == want) {
		f[0] = p;
		fl[0] = cpos[0];
		for (unsigned i = 1; i < want; i++) {
			f[i] = p + cpos[i - 1] + 1;
			fl[i] = (i + 1 < want ? cpos[i] : n) - cpos[i - 1] - 1;
		}
	}
fields:
	if (nc + 1 != want) {
		bad(t, ENGINE_BAD_FIELDS);
		return CAIRN_OK;
	}
	for (unsigned i = 0; i < want; i++)
		if (fl[i] > ENGINE_MAX_FIELD) {
			bad(t, ENGINE_BAD_LONG_FIELD);
			return CAIRN_OK;
		}
	if (fl[0] == 0) {
		bad(t, ENGINE_BAD_EMPTY_ID);
		return CAIRN_OK;
	}
	if (fl[2] == 0 || (want == 4 && fl[3] == 0)) {
		bad(t, ENGINE_BAD_EMPTY_FIELD);
		return CAIRN_OK;
	}
	if (!parse_ts(w, f[1], fl[1], &ts)) {
		bad(t, ENGINE_BAD_TIMESTAMP);
		return CAIRN_OK;
	}
	if (fmt == ENGINE_FMT_CDR) {
		uint64_t k[2] = { 0, 0 }, h;

		if (fl[2] <= INTERN_INLINE) {
			engine_intern_key16(f[2], fl[2], k);
			h = engine_intern_hash16(k, fl[2]);
		} else
			h = engine_intern_hash(f[2], fl[2]);
		if (!engine_cellmap_lookup_k(w->in->cells, f[2], fl[2], h, k,
		    &reg)) {
			bad(t, ENGINE_BAD_CELL);
			return CAIRN_OK;
		}
	} else if (!parse_u32(f[2], fl[2], &reg) ||
	    !engine_region_index(w->in->cells, reg, &reg)) {
		bad(t, ENGINE_BAD_REGION);
		return CAIRN_OK;
	}
	t->rep.good++;
	return row_emit(w, t, f, fl, want, ts, reg, quoted);
}

/* The next block of task 't' at raw offset 'off' (plain files). */
static int
task_read(struct engine_reader *rd, const struct task *t, char *dst,
    size_t n, uint64_t off, size_t *got)
{
	if (t->seq)
		return engine_reader_read(rd, dst, n, got);
	return engine_reader_pread(rd, dst, n, off, got);
}

static int
run_task(struct worker *w, struct task *t)
{
	const char *path = w->in->paths[t->file];
	enum engine_format fmt = w->files[t->file].fmt;
	struct engine_reader *rd = t->rd;
	char *buf = w->buf;
	size_t len = 0, i = 0;
	uint64_t pos;		/* file offset of buf[0] (plain files) */
	uint64_t off;		/* next raw offset to read (plain files) */
	bool eof = false, skipping = false, header = t->begin == 0;
	int r = CAIRN_OK;

	t->rd = NULL;
	if (rd == NULL && (r = engine_reader_open(path, &rd)) != CAIRN_OK)
		return r;
	/* A stream's digest started with its header (read_header()). */
	if (t->digest && (r = engine_reader_digest_start(rd)) != CAIRN_OK)
		goto out;
	off = pos = t->begin > 0 ? t->begin - 1 : 0;
	if (t->begin > 0)
		skipping = true;	/* up to the end of the line before */
	for (;;) {
		size_t got;
		char *nl;

		if ((r = pending_flush(w)) != CAIRN_OK)
			goto out;
		if (i > 0) {
			memmove(buf, buf + i, len - i);
			pos += i;
			len -= i;
			i = 0;
		}
		if ((r = task_read(rd, t, buf + len, w->bufsize - len, off,
		    &got)) != CAIRN_OK)
			goto out;
		if (got == 0)
			eof = true;
		off += got;
		len += got;
		while (i < len) {
			if (!t->seq && !skipping && pos + i >= t->end)
				goto out;
			nl = memchr(buf + i, '\n', len - i);
			if (nl == NULL)
				break;
			if (skipping || header) {
				if (header)
					t->lines++;
				skipping = header = false;
			} else if ((r = row(w, t, fmt, buf + i,
			    (size_t)(nl - (buf + i)))) != CAIRN_OK)
				goto out;
			i = (size_t)(nl - buf) + 1;
		}
		if (eof) {
			if (i < len && !skipping && !header &&
			    (t->seq || pos + i < t->end))
				r = row(w, t, fmt, buf + i, len - i);
			goto out;
		}
		if (len - i >= ENGINE_MAX_LINE) {
			if (!skipping && !header) {
				t->lines++;
				t->rep.rows++;
				bad(t, ENGINE_BAD_LONG_LINE);
			}
			skipping = true;
			header = false;
			i = len;
		}
	}
out:
	if (r == CAIRN_OK)
		r = pending_flush(w);
	w->rcount = 0;
	if (r == CAIRN_OK && t->digest) {
		if ((r = engine_reader_digest(rd, t->dg)) == CAIRN_OK)
			t->digested = true;
	}
	engine_reader_close(rd);
	return r;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	size_t k;
	int r;

	/*
	 * Each thread reads its own tasks in file order, so a subject's
	 * events of one thread come in file order too (nearly sorted for
	 * the per-subject sort when files are time-ordered).
	 */
	for (k = 0; k < w->ntasks && atomic_load(w->next) < w->ntasks; k++) {
		if (w->tasks[k].owner != w->me)
			continue;
		if ((r = run_task(w, &w->tasks[k])) != CAIRN_OK) {
			w->err = r;
			snprintf(w->errmsg, sizeof(w->errmsg), "%s",
			    cairn_errdesc(r));
			atomic_store(w->next, w->ntasks);
			break;
		}
	}
	/*
	 * Store mode: group this thread's words by subject while the others
	 * still read.  Query mode: empty the staging lines.
	 */
	if (w->err == CAIRN_OK && w->mode != PARSE_CHECK &&
	    (r = w->mode == PARSE_QUERY ?
	    engine_part_writer_finish(&w->pt->pw) :
	    engine_chain_finish(w->pt)) != CAIRN_OK) {
		w->err = r;
		snprintf(w->errmsg, sizeof(w->errmsg), "%s", cairn_errdesc(r));
	}
	return NULL;
}

/*
 * Open 'path' (reader.c sniffs its compression, or refuses what is not
 * CSV) and check its header.  A stream's reader is kept in 'fi' with the
 * bytes read given back, for the one pass that reads its rows.
 */
static int
read_header(const char *path, bool digest, struct file_info *fi)
{
	struct engine_reader *rd;
	char buf[256];
	size_t n = 0, got;
	char *nl;
	int r;

	if ((r = engine_reader_open(path, &rd)) != CAIRN_OK)
		return r;
	fi->size = engine_reader_size(rd);
	fi->seq = !engine_reader_splittable(rd);
	if (digest && engine_reader_is_stream(rd) &&
	    (r = engine_reader_digest_start(rd)) != CAIRN_OK)
		goto fail;
	while (n < sizeof(buf) - 1 && memchr(buf, '\n', n) == NULL) {
		if ((r = engine_reader_read(rd, buf + n, sizeof(buf) - 1 - n,
		    &got)) != CAIRN_OK)
			goto fail;
		if (got == 0)
			break;
		n += got;
	}
	if (engine_reader_is_stream(rd)) {
		if ((r = engine_reader_unread(rd, buf, n)) != CAIRN_OK)
			goto fail;
		fi->rd = rd;
	} else
		engine_reader_close(rd);
	rd = NULL;
	buf[n] = '\0';
	if (n == 0)
		return cairn_err(CAIRN_ERR_FORMAT, "%s:1: empty file (no "
		    "header)", path);
	if ((nl = memchr(buf, '\n', n)) != NULL)
		*nl = '\0';
	n = strlen(buf);
	if (n > 0 && buf[n - 1] == '\r')
		buf[--n] = '\0';
	nl = buf;
	if (n >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		nl += 3;
	for (int f = 0; f <= ENGINE_FMT_REGION_CAT; f++)
		if (strcmp(nl, engine_format_header_at[f]) == 0) {
			fi->fmt = f;
			return CAIRN_OK;
		}
	return cairn_err(CAIRN_ERR_FORMAT, "%s:1: header must be '%s', '%s' "
	    "or '%s' (cairn-node reads %s)", path, engine_format_header_at[0],
	    engine_format_header_at[1], engine_format_header_at[2],
	    engine_reader_formats);
fail:
	engine_reader_close(rd);
	return r;
}

/*
 * The plan of a parse: check each file's header against the input and the
 * query, and cut the files into tasks (a large plain file into parts read
 * by different threads, each other file whole by one thread).  Fills
 * 'files' and the formats of 'rep'; the tasks are the caller's to free.
 */
static int
parse_plan(const struct engine_input *in, const struct engine_plan *plan,
    enum engine_parse_mode mode, unsigned nth, struct file_info *files,
    struct engine_report *rep, struct task **tasksp, size_t *ntasksp)
{
	struct task *tasks = NULL;
	size_t ntasks = 0, captasks = 0;
	int r;

	for (size_t i = 0; i < in->npaths; i++) {
		unsigned parts;

		if ((r = read_header(in->paths[i], mode == PARSE_STORE,
		    &files[i])) != CAIRN_OK)
			goto out;
		rep->files[i].format = files[i].fmt;
		if (files[i].fmt == ENGINE_FMT_CDR &&
		    engine_cellmap_ncells(in->cells) == 0) {
			r = cairn_err(CAIRN_ERR_ARG, "%s: cell-level input "
			    "needs a cell map (--cells), not a region list",
			    in->paths[i]);
			goto out;
		}
		if (plan != NULL && plan->q.kind == QSPEC_KIND_POPCAT &&
		    files[i].fmt != ENGINE_FMT_REGION_CAT) {
			r = cairn_err(CAIRN_ERR_ARG, "%s: population_by_"
			    "category needs input with header '%s'",
			    in->paths[i],
			    engine_format_header_at[ENGINE_FMT_REGION_CAT]);
			goto out;
		}
		{
			uint64_t split = in->split_bytes ? in->split_bytes :
			    SPLIT_MIN, np = files[i].size / split;

			parts = files[i].seq || np < 1 ? 1 : np > 4 * nth ?
			    4 * nth : (unsigned)np;
			if (parts > 1 && parts < nth)
				parts = nth;
		}
		if (ntasks + parts > captasks) {
			size_t nc = captasks ? captasks * 2 : 16;
			struct task *nt;

			while (nc < ntasks + parts)
				nc *= 2;
			if ((nt = realloc(tasks, nc * sizeof(*nt))) == NULL) {
				r = CAIRN_ERR_NOMEM;
				goto out;
			}
			tasks = nt;
			captasks = nc;
		}
		for (unsigned p = 0; p < parts; p++) {
			struct task *t = &tasks[ntasks++];

			memset(t, 0, sizeof(*t));
			t->file = i;
			t->owner = parts > 1 ? p * nth / parts :
			    (unsigned)(i % nth);
			t->seq = files[i].seq;
			t->digest = t->seq && mode == PARSE_STORE;
			t->rd = files[i].rd;	/* one part when set */
			files[i].rd = NULL;
			t->begin = files[i].size * p / parts;
			t->end = p + 1 == parts ? UINT64_MAX :
			    files[i].size * (p + 1) / parts;
		}
	}
	r = CAIRN_OK;
out:
	*tasksp = tasks;
	*ntasksp = ntasks;
	return r;
}

/*
 * Read buffers: BUF_SIZE, or less when every file is plain and smaller (a
 * small file need not pay for 4 MiB per thread); never under twice the
 * longest line, which the reader needs to tell an over-long line.
 */
static size_t
parse_bufsize(const struct engine_input *in, const struct file_info *files)
{
	size_t bufsize = 0;

	for (size_t i = 0; i < in->npaths; i++) {
		if (files[i].seq || files[i].size >= BUF_SIZE)
			bufsize = BUF_SIZE;
		else if (files[i].size + 1 > bufsize)
			bufsize = (size_t)files[i].size + 1;
	}
	if (bufsize < 2 * ENGINE_MAX_LINE)
		bufsize = 2 * ENGINE_MAX_LINE;
	return bufsize;
}

/*
 * Set up thread 't' of 'o' and its worker 'w' (the rest of 'w' is filled
 * by the caller): its partitions (query mode) or subject table (store
 * mode), its category table and its read buffer.
 */
static int
parse_thread_init(struct engine_parse_out *o, unsigned t, struct worker *w,
    const struct engine_input *in, enum engine_parse_mode mode,
    const struct engine_plan *plan, size_t bufsize)
{
	uint32_t catmax = UINT32_MAX - 1;
	int r;

	if (plan != NULL && plan->q.kind == QSPEC_KIND_POPCAT)
		catmax = plan->rb >= 32 ? 1 : (uint32_t)(UINT64_C(1) <<
		    (32 - plan->rb));
	if (mode == PARSE_QUERY) {
		/* words are below slots (or categories) << rb */
		uint64_t wl = (uint64_t)(plan->q.kind == QSPEC_KIND_POPCAT ?
		    plan->ncats : plan->nslots) << plan->rb;

		if ((r = engine_part_writer_init(&o->th[t].pw, in->part_bits ?
		    in->part_bits : PART_BITS, wl, o->hkey)) != CAIRN_OK)
			return r;
		o->nparts = o->th[t].pw.nparts;
	} else if (mode == PARSE_STORE &&
	    (r = engine_intern_init(&o->th[t].subs, 1u << 16,
	    o->max_subjects)) != CAIRN_OK)
		return r;
	if ((r = engine_intern_init(&o->th[t].cats, 64, catmax)) != CAIRN_OK)
		return r;
	w->in = in;
	w->mode = mode;
	w->plan = plan;
	w->pt = &o->th[t];
	w->me = t;
	w->stride = o->stride;
	w->bufsize = bufsize;
	if ((w->buf = malloc(bufsize + BUF_PAD)) == NULL)
		return CAIRN_ERR_NOMEM;
	memset(w->buf + bufsize, 0, BUF_PAD);
	return CAIRN_OK;
}

/*
 * Run the 'nth' workers 'ws', worker 0 on the calling thread; a worker
 * whose thread could not be started is run here too.  Returns the first
 * worker's error.
 */
static int
parse_run_workers(struct worker *ws, unsigned nth)
{
	pthread_t *tids;
	unsigned started = 0;

	if ((tids = calloc(nth, sizeof(*tids))) == NULL)
		return CAIRN_ERR_NOMEM;
	for (unsigned t = 1; t < nth; t++) {
		if (pthread_create(&tids[t], NULL, worker_main, &ws[t]) != 0)
			break;
		started++;
	}
	worker_main(&ws[0]);
	/* threads that could not be started: their parts, read here */
	for (unsigned t = started + 1; t < nth; t++)
		worker_main(&ws[t]);
	for (unsigned t = 1; t <= started; t++)
		pthread_join(tids[t], NULL);
	free(tids);
	for (unsigned t = 0; t < nth; t++)
		if (ws[t].err != CAIRN_OK)
			return cairn_err(ws[t].err, "%s", ws[t].errmsg);
	return CAIRN_OK;
}

/*
 * Sum the tasks' counts into the per-file reports of 'rep', with examples
 * at their file line numbers, and mark the files whose bad share is over
 * the limit as refused: CAIRN_ERR_FORMAT for the first unless
 * PARSE_CHECK.
 */
static int
parse_reports(const struct engine_input *in, enum engine_parse_mode mode,
    const struct task *tasks, size_t ntasks, struct engine_report *rep)
{
	int r;

	for (size_t k = 0, lines = 0; k < ntasks; k++) {
		const struct task *t = &tasks[k];
		struct engine_file_report *fr = &rep->files[t->file];

		if (k == 0 || tasks[k - 1].file != t->file)
			lines = 0;
		fr->rows += t->rep.rows;
		fr->good += t->rep.good;
		fr->outside += t->rep.outside;
		fr->other_cat += t->rep.other_cat;
		fr->nbad += t->rep.nbad;
		if (t->digested) {
			memcpy(fr->digest, t->dg, 32);
			fr->digested = true;
		}
		for (int b = 0; b < ENGINE_BAD__N; b++)
			fr->bad[b] += t->rep.bad[b];
		for (size_t e = 0; e < t->rep.nexamples &&
		    fr->nexamples < ENGINE_EXAMPLES; e++) {
			fr->examples[fr->nexamples] = t->rep.examples[e];
			fr->examples[fr->nexamples].line += lines;
			fr->nexamples++;
		}
		lines += t->lines;
	}
	r = CAIRN_OK;
	for (size_t i = 0; i < rep->nfiles; i++) {
		struct engine_file_report *fr = &rep->files[i];

		if ((double)fr->nbad > in->max_bad_fraction *
		    (double)fr->rows) {
			fr->refused = true;
			if (r == CAIRN_OK && mode != PARSE_CHECK)
				r = cairn_err(CAIRN_ERR_FORMAT, "%s: %" PRIu64
				    " of %" PRIu64 " rows bad (%.4f%%), over "
				    "the limit of %g%% (--max-bad-fraction)",
				    fr->path, fr->nbad, fr->rows, 100.0 *
				    (double)fr->nbad / (double)fr->rows,
				    100.0 * in->max_bad_fraction);
		}
	}
	return r;
}

int
engine_parse_input(const struct engine_input *in,
    enum engine_parse_mode mode, const struct engine_plan *plan,
    struct engine_report *rep, struct engine_parse_out *out)
{
	struct file_info *files = NULL;
	struct task *tasks = NULL;
	struct worker *ws = NULL;
	struct engine_parse_out o;
	size_t ntasks = 0, bufsize;
	unsigned nth = engine_threads(in->threads);
	atomic_size_t next = 0;
	int r;

	memset(&o, 0, sizeof(o));
	memset(rep, 0, sizeof(*rep));
	if (in->npaths == 0)
		return cairn_err(CAIRN_ERR_ARG, "no input files");
	if ((files = calloc(in->npaths, sizeof(*files))) == NULL ||
	    (rep->files = calloc(in->npaths, sizeof(*rep->files))) == NULL) {
		r = CAIRN_ERR_NOMEM;
		goto out;
	}
	rep->nfiles = in->npaths;
	for (size_t i = 0; i < in->npaths; i++)
		if ((rep->files[i].path = strdup(in->paths[i])) == NULL) {
			r = CAIRN_ERR_NOMEM;
			goto out;
		}
	if ((r = parse_plan(in, plan, mode, nth, files, rep, &tasks, &ntasks)) !=
	    CAIRN_OK)
		goto out;
	bufsize = parse_bufsize(in, files);
	o.nthreads = nth;
	o.max_subjects = in->max_subjects ? in->max_subjects :
	    UINT32_MAX - 1;
	o.stride = 2;
	for (size_t i = 0; i < in->npaths; i++)
		if (files[i].fmt == ENGINE_FMT_REGION_CAT)
			o.stride = 3;
	if ((o.th = calloc(nth, sizeof(*o.th))) == NULL ||
	    (ws = calloc(nth, sizeof(*ws))) == NULL) {
		r = CAIRN_ERR_NOMEM;
		goto out;
	}
	/* long ids are grouped by a hash keyed anew for each run */
	if (mode == PARSE_QUERY) {
		if ((o.hkey = malloc(sizeof(*o.hkey))) == NULL) {
			r = CAIRN_ERR_NOMEM;
			goto out;
		}
		if ((r = engine_part_hkey_init(o.hkey)) != CAIRN_OK)
			goto out;
	}
	for (unsigned t = 0; t < nth; t++) {
		if ((r = parse_thread_init(&o, t, &ws[t], in, mode, plan,
		    bufsize)) != CAIRN_OK)
			goto out;
		ws[t].tasks = tasks;
		ws[t].ntasks = ntasks;
		ws[t].next = &next;
		ws[t].files = files;
	}
	if ((r = parse_run_workers(ws, nth)) != CAIRN_OK)
		goto out;
	if ((r = parse_reports(in, mode, tasks, ntasks, rep)) != CAIRN_OK ||
	    mode == PARSE_CHECK)
		goto out;
	if ((r = engine_chain_ends(&o, mode)) != CAIRN_OK)
		goto out;
	if (mode == PARSE_STORE && (r = engine_merge_tables(&o)) != CAIRN_OK)
		goto out;
	*out = o;
	memset(&o, 0, sizeof(o));
out:
	engine_parse_out_release(&o);
	if (ws != NULL)
		for (unsigned t = 0; t < nth; t++)
			free(ws[t].buf);
	free(ws);
	/* A stream's reader not taken by a worker (a failed plan or run). */
	for (size_t i = 0; tasks != NULL && i < ntasks; i++)
		engine_reader_close(tasks[i].rd);
	for (size_t i = 0; files != NULL && i < in->npaths; i++)
		engine_reader_close(files[i].rd);
	free(tasks);
	free(files);
	return r;
}

int
engine_check_data(const struct engine_input *in, struct engine_report *rep)
{
	return engine_parse_input(in, PARSE_CHECK, NULL, rep, NULL);
}
