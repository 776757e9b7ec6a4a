/*
 * ingest_csv.c - the CSV reader: a single pass over each file in large
 * blocks (pread, or zlib for .csv.gz), split at line boundaries between
 * threads, with a hand-written row scanner (SSE2 where available) that
 * finds the separators and the bytes needing care (quotes, NUL, non-ASCII)
 * sixteen at a time.  Every row is either accepted or counted as bad with
 * a reason; the first examples keep their file line numbers.  For a query
 * each accepted row goes to the partitions of node/partition.c; for the
 * store it joins its subscriber's chain of event words, subscriber ids
 * interned into dense per-thread ids that are merged into one global table
 * at the end.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "common/err.h"
#include "common/timeutil.h"
#include "node/engine/engine_int.h"

#define BUF_SIZE	(1u << 22)
#define BUF_PAD		64
#define SPLIT_MIN	(1u << 20)	/* split files larger than this */
#define MAX_FILES	100000
#define MAX_SECONDS	((int64_t)UINT32_MAX * 60)

static const char *const bad_names[NODE_BAD__N] = {
	[NODE_BAD_FIELDS] = "wrong number of fields",
	[NODE_BAD_TIMESTAMP] = "bad timestamp",
	[NODE_BAD_CELL] = "unknown cell",
	[NODE_BAD_REGION] = "unknown region",
	[NODE_BAD_EMPTY_ID] = "empty id",
	[NODE_BAD_EMPTY_FIELD] = "empty field",
	[NODE_BAD_LONG_FIELD] = "over-long field",
	[NODE_BAD_ENCODING] = "invalid UTF-8 or NUL byte",
	[NODE_BAD_QUOTING] = "bad quoting",
	[NODE_BAD_BLANK] = "empty line",
	[NODE_BAD_LONG_LINE] = "over-long line",
};

static const char *const headers[] = {
	[NODE_FMT_CDR] = "subscriber_id,timestamp,cell_id",
	[NODE_FMT_REGION] = "entity_id,timestamp,region_id",
	[NODE_FMT_REGION_CAT] = "entity_id,timestamp,region_id,category",
};

const char *
node_bad_name(enum node_bad reason)
{
	return (unsigned)reason < NODE_BAD__N ? bad_names[reason] : "?";
}

unsigned
node_threads(unsigned want)
{
	long n;

	if (want > 0)
		return want > 64 ? 64 : want;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 8 ? 8 : (unsigned)n;
}

/* ---- paths and reports ---- */

static bool
has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n > m && strcmp(s + n - m, suf) == 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
push_path(char ***v, size_t *n, size_t *cap, const char *p)
{
	if (*n >= MAX_FILES)
		return cairn_err(CAIRN_ERR_TOOBIG, "more than %d input files",
		    MAX_FILES);
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		char **nv;

		if ((nv = realloc(*v, nc * sizeof(*nv))) == NULL)
			return CAIRN_ERR_NOMEM;
		*v = nv;
		*cap = nc;
	}
	if (((*v)[*n] = strdup(p)) == NULL)
		return CAIRN_ERR_NOMEM;
	(*n)++;
	return CAIRN_OK;
}

int
node_expand_paths(char *const *paths, size_t n, char ***out, size_t *nout)
{
	char **v = NULL;
	size_t nv = 0, cap = 0;
	int r = CAIRN_OK;

	for (size_t i = 0; i < n && r == CAIRN_OK; i++) {
		struct stat sb;
		DIR *d;
		struct dirent *de;
		size_t first = nv;

		if (stat(paths[i], &sb) == -1) {
			r = cairn_err(CAIRN_ERR_IO, "%s: %s", paths[i],
			    strerror(errno));
			break;
		}
		if (!S_ISDIR(sb.st_mode)) {
			r = push_path(&v, &nv, &cap, paths[i]);
			continue;
		}
		if ((d = opendir(paths[i])) == NULL) {
			r = cairn_err(CAIRN_ERR_IO, "%s: %s", paths[i],
			    strerror(errno));
			break;
		}
		while (r == CAIRN_OK && (de = readdir(d)) != NULL) {
			char *p;

			if (de->d_name[0] == '.' ||
			    (!has_suffix(de->d_name, ".csv") &&
			    !has_suffix(de->d_name, ".csv.gz")))
				continue;
			if (asprintf(&p, "%s/%s", paths[i], de->d_name) < 0) {
				r = CAIRN_ERR_NOMEM;
				break;
			}
			r = push_path(&v, &nv, &cap, p);
			free(p);
		}
		closedir(d);
		if (r == CAIRN_OK && nv == first)
			r = cairn_err(CAIRN_ERR_NOTFOUND, "%s: no *.csv or "
			    "*.csv.gz files in the directory", paths[i]);
		if (r == CAIRN_OK)
			qsort(v + first, nv - first, sizeof(*v), cmp_str);
	}
	if (r == CAIRN_OK && nv == 0)
		r = cairn_err(CAIRN_ERR_ARG, "no input files");
	if (r != CAIRN_OK) {
		node_paths_free(v, nv);
		return r;
	}
	*out = v;
	*nout = nv;
	return CAIRN_OK;
}

void
node_paths_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
node_report_release(struct node_report *r)
{
	for (size_t i = 0; i < r->nfiles; i++)
		free(r->files[i].path);
	free(r->files);
	r->files = NULL;
	r->nfiles = 0;
}

void
node_report_print(const struct node_report *r, FILE *f)
{
	for (size_t i = 0; i < r->nfiles; i++) {
		const struct node_file_report *fr = &r->files[i];

		fprintf(f, "%s: %s: %" PRIu64 " rows, %" PRIu64 " good, %"
		    PRIu64 " bad (%.4f%%)%s\n", fr->path, headers[fr->format],
		    fr->rows, fr->good, fr->nbad, fr->rows ? 100.0 *
		    (double)fr->nbad / (double)fr->rows : 0.0, fr->refused ?
		    ", refused" : "");
		if (fr->outside > 0)
			fprintf(f, "%s: %" PRIu64 " good rows outside the "
			    "query window\n", fr->path, fr->outside);
		if (fr->other_cat > 0)
			fprintf(f, "%s: %" PRIu64 " good rows under a "
			    "category outside the query's list (not counted)\n",
			    fr->path, fr->other_cat);
		for (int b = 0; b < NODE_BAD__N; b++)
			if (fr->bad[b] > 0)
				fprintf(f, "%s:   %s: %" PRIu64 "\n", fr->path,
				    bad_names[b], fr->bad[b]);
		for (size_t e = 0; e < fr->nexamples; e++)
			fprintf(f, "%s:%" PRIu64 ": %s\n", fr->path,
			    fr->examples[e].line,
			    bad_names[fr->examples[e].reason]);
	}
}

/* ---- tasks and workers ---- */

struct task {
	size_t		file;
	unsigned	owner;		/* the thread that reads it */
	bool		gz;
	uint64_t	begin, end;	/* byte range; UINT64_MAX: EOF */
	uint64_t	lines;		/* lines seen, header included */
	struct node_file_report rep;	/* counts; examples by local line */
};

struct file_info {
	enum node_format fmt;
	bool		gz;
	uint64_t	size;
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
	const struct node_input	*in;
	enum parse_mode		 mode;
	const struct node_plan	*plan;
	struct parse_thread	*pt;
	unsigned		 me;
	unsigned		 stride;	/* store: words per event */
	struct task		*tasks;
	size_t			 ntasks;
	atomic_size_t		*next;	/* == ntasks: stop */
	const struct file_info	*files;
	char			*buf;
	size_t			 bufsize;	/* bytes read at once */
	char			 quoted[NODE_MAX_LINE + BUF_PAD];
	int			 err;
	char			 errmsg[256];
	/* ISO date cache: the last date seen and its day number */
	char			 dcache[10];
	int64_t			 dcache_day;
};

static int
blk_new(struct parse_thread *pt, uint32_t *out)
{
	if (pt->nblk == 0 || pt->nblk % BLK_PER_CHUNK == 0) {
		if (pt->nblk >= UINT32_MAX - BLK_PER_CHUNK)
			return cairn_err(CAIRN_ERR_TOOBIG, "too many events");
		if (pt->nblkchunks == pt->capblkchunks) {
			size_t nc = pt->capblkchunks ? pt->capblkchunks * 2 :
			    64;
			uint32_t **n;

			if ((n = realloc(pt->blk, nc * sizeof(*n))) == NULL)
				return CAIRN_ERR_NOMEM;
			pt->blk = n;
			pt->capblkchunks = nc;
		}
		if ((pt->blk[pt->nblkchunks] = node_big_alloc(BLK_PER_CHUNK *
		    BLK_WORDS * sizeof(uint32_t))) == NULL)
			return CAIRN_ERR_NOMEM;
		pt->nblkchunks++;
		if (pt->nblk == 0)
			pt->nblk = 1;	/* block 0 means "none" */
	}
	*out = pt->nblk++;
	return CAIRN_OK;
}

/* Append 'word' to the chain of the subject in slot 'e'. */
static inline int
chain_add(struct parse_thread *pt, struct intern_ent *e, uint32_t word)
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
	if ((r = blk_new(pt, &b)) != CAIRN_OK)
		return r;
	blk = blk_at(pt, b);
	blk[0] = e->id;
	memcpy(blk + 1, e->stage, sizeof(e->stage));
	e->fill = 0;
	return CAIRN_OK;
}

/*
 * Flush the words still staged in the table's slots, then copy every
 * block's words to its subject's place in one array (blocks in the order
 * they were written, so each subject's words keep their order), freeing
 * the blocks as it goes.
 */
static int
chain_finish(struct parse_thread *pt)
{
	size_t n = pt->subs.n;
	uint64_t *off, *cur;
	int r;

	if (pt->finished)
		return CAIRN_OK;
	if ((off = calloc(n + 1, sizeof(*off))) == NULL)
		return CAIRN_ERR_NOMEM;
	pt->off = off;
	for (size_t i = 0; i < pt->subs.cap; i++) {
		struct intern_ent *e = &pt->subs.tab[i];
		uint32_t b, *blk;

		if (e->id == UINT32_MAX)
			continue;
		if (e->fill > 0) {
			if ((r = blk_new(pt, &b)) != CAIRN_OK)
				return r;
			blk = blk_at(pt, b);
			blk[0] = e->id;
			memcpy(blk + 1, e->stage, e->fill * sizeof(uint32_t));
			e->fill = 0;
		}
		off[e->id + 1] = e->cnt;
	}
	for (size_t l = 0; l < n; l++)
		off[l + 1] += off[l];
	if ((pt->words = node_big_alloc((off[n] ? off[n] : 1) *
	    sizeof(uint32_t))) == NULL)
		return CAIRN_ERR_NOMEM;
	if ((cur = malloc((n ? n : 1) * sizeof(*cur))) == NULL)
		return CAIRN_ERR_NOMEM;
	memcpy(cur, off, n * sizeof(*cur));
	for (uint32_t b = 1; b < pt->nblk; b++) {
		const uint32_t *blk = blk_at(pt, b);
		uint32_t o = blk[0];
		uint64_t k = off[o + 1] - cur[o];

		if (k > INTERN_STAGE)
			k = INTERN_STAGE;
		memcpy(pt->words + cur[o], blk + 1, k * sizeof(uint32_t));
		cur[o] += k;
		if ((b + 1) % BLK_PER_CHUNK == 0) {
			free(pt->blk[b / BLK_PER_CHUNK]);
			pt->blk[b / BLK_PER_CHUNK] = NULL;
		}
	}
	free(cur);
	for (size_t c = 0; c < pt->nblkchunks; c++) {
		free(pt->blk[c]);
		pt->blk[c] = NULL;
	}
	pt->nlocal = (uint32_t)n;
	pt->finished = true;
	return CAIRN_OK;
}

static int
pending_do(struct worker *w, const struct pending *pd)
{
	struct intern_ent *e;
	int r;

	if ((r = intern_add_e(&w->pt->subs, pd->key, pd->n, pd->h, pd->k,
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

uint32_t
chain_local(const struct parse_out *po, unsigned t, uint32_t g)
{
	const struct parse_thread *pt = &po->th[t];

	if (t == 0)
		return g < pt->nlocal ? g : UINT32_MAX;
	return pt->loc[g];
}

size_t
chain_count(const struct parse_thread *pt, uint32_t l)
{
	return (size_t)(pt->off[l + 1] - pt->off[l]);
}

size_t
chain_copy(const struct parse_thread *pt, uint32_t l, uint32_t *dst)
{
	size_t n = chain_count(pt, l);

	memcpy(dst, pt->words + pt->off[l], n * sizeof(uint32_t));
	return n;
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
		intern_key16(key, n, k);
		return intern_hash16(k, n);
	}
	k[0] = k[1] = 0;
	return intern_hash(key, n);
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
	intern_prefetch(&w->pt->subs, pd.h);
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
bad(struct task *t, enum node_bad why)
{
	t->rep.bad[why]++;
	t->rep.nbad++;
	if (t->rep.nexamples < NODE_EXAMPLES) {
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

/* One data line 'p' of 'n' bytes (no '\n').  Returns an error code only
 * for failures of the run (memory, limits), not for bad rows. */
static inline int
row(struct worker *w, struct task *t, enum node_format fmt, const char *p,
    size_t n)
{
	const char *f[4];
	size_t fl[4], cpos[4];
	unsigned nc = 0, want = fmt == NODE_FMT_REGION_CAT ? 4 : 3;
	bool special = false, quoted = false;
	int64_t ts;
	uint32_t reg, cat = 0, word;
	int r;

	t->lines++;
	t->rep.rows++;
	if (n > 0 && p[n - 1] == '\r')
		n--;
	if (n == 0) {
		bad(t, NODE_BAD_BLANK);
		return CAIRN_OK;
	}
	if (n >= NODE_MAX_LINE) {
		bad(t, NODE_BAD_LONG_LINE);
		return CAIRN_OK;
	}
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
	if (special) {
		if (!utf8_valid((const unsigned char *)p, n)) {
			bad(t, NODE_BAD_ENCODING);
			return CAIRN_OK;
		}
		if (memchr(p, '"', n) != NULL) {
			int nf = split_quoted(p, n, w->quoted, f, fl, 4);

			if (nf < 0) {
				bad(t, NODE_BAD_QUOTING);
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
		bad(t, NODE_BAD_FIELDS);
		return CAIRN_OK;
	}
	for (unsigned i = 0; i < want; i++)
		if (fl[i] > NODE_MAX_FIELD) {
			bad(t, NODE_BAD_LONG_FIELD);
			return CAIRN_OK;
		}
	if (fl[0] == 0) {
		bad(t, NODE_BAD_EMPTY_ID);
		return CAIRN_OK;
	}
	if (fl[2] == 0 || (want == 4 && fl[3] == 0)) {
		bad(t, NODE_BAD_EMPTY_FIELD);
		return CAIRN_OK;
	}
	if (!parse_ts(w, f[1], fl[1], &ts)) {
		bad(t, NODE_BAD_TIMESTAMP);
		return CAIRN_OK;
	}
	if (fmt == NODE_FMT_CDR) {
		uint64_t k[2] = { 0, 0 }, h;

		if (fl[2] <= INTERN_INLINE) {
			intern_key16(f[2], fl[2], k);
			h = intern_hash16(k, fl[2]);
		} else
			h = intern_hash(f[2], fl[2]);
		if (!cellmap_lookup_k(w->in->cells, f[2], fl[2], h, k, &reg)) {
			bad(t, NODE_BAD_CELL);
			return CAIRN_OK;
		}
	} else if (!parse_u32(f[2], fl[2], &reg) ||
	    !node_region_index(w->in->cells, reg, &reg)) {
		bad(t, NODE_BAD_REGION);
		return CAIRN_OK;
	}
	t->rep.good++;
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
				if (plan_word(w->plan, ts, reg, 0, &word) ==
				    PLAN_OUTSIDE)
					t->rep.outside++;
				else
					t->rep.other_cat++;
				return CAIRN_OK;
			}
			cat = (uint32_t)ci;
		}
		switch (plan_word(w->plan, ts, reg, cat, &word)) {
		case PLAN_OUTSIDE:
			t->rep.outside++;
			return CAIRN_OK;
		case PLAN_UNUSED:
			return CAIRN_OK;
		case PLAN_USE:
			break;
		}
		{
			uint64_t k[2], h = key_hash(f[0], fl[0], k);

			return part_push(&w->pt->pw, f[0], fl[0], h, k, word);
		}
	case PARSE_STORE:
		if (want == 4 && (r = intern_add(&w->pt->cats, f[3], fl[3],
		    intern_hash(f[3], fl[3]), &cat)) != CAIRN_OK)
			return r;
		return pending_push(w, f[0], fl[0], (uint32_t)(ts / 60),
		    (uint64_t)(want == 4 ? cat + 1 : 0) << 32 | reg, quoted);
	}
	return CAIRN_ERR_INTERNAL;
}

struct src {
	int	fd;
	gzFile	gz;
	uint64_t off;
};

static ssize_t
src_read(struct src *s, char *dst, size_t n)
{
	ssize_t r;

	if (s->gz != NULL) {
		int g = gzread(s->gz, dst, (unsigned)n);

		if (g < 0)
			return -1;
		return g;
	}
	do
		r = pread(s->fd, dst, n, (off_t)s->off);
	while (r == -1 && errno == EINTR);
	if (r > 0)
		s->off += (uint64_t)r;
	return r;
}

static int
run_task(struct worker *w, struct task *t)
{
	const char *path = w->in->paths[t->file];
	enum node_format fmt = w->files[t->file].fmt;
	struct src s = { -1, NULL, 0 };
	char *buf = w->buf;
	size_t len = 0, i = 0;
	uint64_t pos;		/* file offset of buf[0] (plain files) */
	bool eof = false, skipping = false, header = t->begin == 0;
	int r = CAIRN_OK;

	if ((s.fd = open(path, O_RDONLY)) == -1)
		return cairn_err(CAIRN_ERR_IO, "%s: %s", path, strerror(errno));
	if (t->gz) {
		if ((s.gz = gzdopen(s.fd, "rb")) == NULL) {
			close(s.fd);
			return CAIRN_ERR_NOMEM;
		}
		s.fd = -1;
		gzbuffer(s.gz, 1u << 18);
	}
	s.off = pos = t->begin > 0 ? t->begin - 1 : 0;
	if (t->begin > 0)
		skipping = true;	/* up to the end of the line before */
	for (;;) {
		ssize_t got;
		char *nl;

		if ((r = pending_flush(w)) != CAIRN_OK)
			goto out;
		if (i > 0) {
			memmove(buf, buf + i, len - i);
			pos += i;
			len -= i;
			i = 0;
		}
		if ((got = src_read(&s, buf + len, w->bufsize - len)) < 0) {
			r = cairn_err(CAIRN_ERR_IO, "%s: read error%s", path,
			    t->gz ? " (corrupt gzip data?)" : "");
			goto out;
		}
		if (got == 0)
			eof = true;
		len += (size_t)got;
		while (i < len) {
			if (!t->gz && !skipping && pos + i >= t->end)
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
			    (t->gz || pos + i < t->end))
				r = row(w, t, fmt, buf + i, len - i);
			goto out;
		}
		if (len - i >= NODE_MAX_LINE) {
			if (!skipping && !header) {
				t->lines++;
				t->rep.rows++;
				bad(t, NODE_BAD_LONG_LINE);
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
	if (s.gz != NULL) {
		int e;

		gzerror(s.gz, &e);
		if (r == CAIRN_OK && e != Z_OK)
			r = cairn_err(CAIRN_ERR_IO, "%s: corrupt gzip data",
			    path);
		gzclose(s.gz);
	}
	if (s.fd != -1)
		close(s.fd);
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
	    (r = w->mode == PARSE_QUERY ? part_writer_finish(&w->pt->pw) :
	    chain_finish(w->pt)) != CAIRN_OK) {
		w->err = r;
		snprintf(w->errmsg, sizeof(w->errmsg), "%s", cairn_errdesc(r));
	}
	return NULL;
}

/* Read and check the header of 'path', and whether it is gzip. */
static int
read_header(const char *path, struct file_info *fi)
{
	char buf[256];
	int fd, n = 0, gn;
	unsigned char magic[2];
	struct stat sb;
	gzFile gz;
	char *nl;

	if ((fd = open(path, O_RDONLY)) == -1)
		return cairn_err(CAIRN_ERR_IO, "%s: %s", path, strerror(errno));
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return cairn_err(CAIRN_ERR_IO, "%s: not a regular file", path);
	}
	fi->size = (uint64_t)sb.st_size;
	fi->gz = pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f &&
	    magic[1] == 0x8b;
	if ((gz = gzdopen(fd, "rb")) == NULL) {
		close(fd);
		return CAIRN_ERR_NOMEM;
	}
	while (n < (int)sizeof(buf) - 1 &&
	    (gn = gzread(gz, buf + n, (unsigned)(sizeof(buf) - 1 - n))) > 0)
		n += gn;
	gzclose(gz);
	buf[n] = '\0';
	if (n == 0)
		return cairn_err(CAIRN_ERR_FORMAT, "%s:1: empty file (no "
		    "header)", path);
	if ((nl = memchr(buf, '\n', (size_t)n)) != NULL)
		*nl = '\0';
	n = (int)strlen(buf);
	if (n > 0 && buf[n - 1] == '\r')
		buf[--n] = '\0';
	nl = buf;
	if (n >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		nl += 3;
	for (int f = 0; f <= NODE_FMT_REGION_CAT; f++)
		if (strcmp(nl, headers[f]) == 0) {
			fi->fmt = f;
			return CAIRN_OK;
		}
	return cairn_err(CAIRN_ERR_FORMAT, "%s:1: header must be '%s', '%s' "
	    "or '%s'", path, headers[0], headers[1], headers[2]);
}

/* Finish the chains or partitions of threads whose worker did not. */
static int
chain_ends(struct parse_out *o, enum parse_mode mode)
{
	int r;

	for (unsigned t = 0; t < o->nthreads; t++)
		if ((r = mode == PARSE_QUERY ?
		    (o->th[t].pw.stage == NULL ? CAIRN_OK :
		    part_writer_finish(&o->th[t].pw)) :
		    chain_finish(&o->th[t])) != CAIRN_OK)
			return r;
	return CAIRN_OK;
}

/* Store mode: one subject table and one category list for all threads. */
static int
merge_tables(struct parse_out *o)
{
	struct node_intern cats;
	uint32_t id;
	int r;

	/* Thread 0's subjects become the global table. */
	o->subs = o->th[0].subs;
	memset(&o->th[0].subs, 0, sizeof(o->th[0].subs));
	o->subs.max = o->max_subjects;
	for (unsigned t = 1; t < o->nthreads; t++) {
		struct parse_thread *pt = &o->th[t];

		if (pt->subs.n > 0 && (pt->submap = malloc(pt->subs.n *
		    sizeof(uint32_t))) == NULL)
			return CAIRN_ERR_NOMEM;
		for (uint32_t i = 0; i < pt->subs.n; i++) {
			size_t n;
			const char *k;

			/* the slot of a key 16 ahead, so misses overlap */
			if (i + 16 < pt->subs.n) {
				k = intern_key(&pt->subs, i + 16, &n);
				intern_prefetch(&o->subs, intern_hash(k, n));
			}
			k = intern_key(&pt->subs, i, &n);
			if ((r = intern_add(&o->subs, k, n, intern_hash(k, n),
			    &pt->submap[i])) != CAIRN_OK)
				return r;
		}
		intern_release(&pt->subs);
	}
	/* Where each global subject is in each thread. */
	for (unsigned t = 1; t < o->nthreads; t++) {
		struct parse_thread *pt = &o->th[t];

		if ((pt->loc = malloc(((size_t)o->subs.n + 1) *
		    sizeof(uint32_t))) == NULL)
			return CAIRN_ERR_NOMEM;
		memset(pt->loc, 0xff, ((size_t)o->subs.n + 1) *
		    sizeof(uint32_t));
		for (uint32_t i = 0; i < pt->nlocal; i++)
			pt->loc[pt->submap[i]] = i;
	}
	/* Categories: one sorted list, and each thread's map into it. */
	if ((r = intern_init(&cats, 64, UINT32_MAX - 1)) != CAIRN_OK)
		return r;
	for (unsigned t = 0; t < o->nthreads; t++)
		for (uint32_t i = 0; i < o->th[t].cats.n; i++) {
			size_t n;
			const char *k = intern_key(&o->th[t].cats, i, &n);

			if ((r = intern_add(&cats, k, n, intern_hash(k, n),
			    &id)) != CAIRN_OK)
				goto out;
		}
	if (cats.n > 0 && (o->cats = calloc(cats.n, sizeof(char *))) == NULL) {
		r = CAIRN_ERR_NOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < cats.n; i++) {
		size_t n;
		const char *k = intern_key(&cats, i, &n);

		if ((o->cats[i] = strndup(k, n)) == NULL) {
			r = CAIRN_ERR_NOMEM;
			goto out;
		}
		o->ncats++;
	}
	if (o->ncats > 0)
		qsort(o->cats, o->ncats, sizeof(char *), cmp_str);
	for (unsigned t = 0; t < o->nthreads; t++) {
		struct parse_thread *pt = &o->th[t];

		if (pt->cats.n == 0)
			continue;
		if ((pt->catmap = malloc(pt->cats.n * sizeof(uint32_t))) ==
		    NULL) {
			r = CAIRN_ERR_NOMEM;
			goto out;
		}
		for (uint32_t i = 0; i < pt->cats.n; i++) {
			size_t n;
			const char *k = intern_key(&pt->cats, i, &n);
			char *key = strndup(k, n), **hit;

			if (key == NULL) {
				r = CAIRN_ERR_NOMEM;
				goto out;
			}
			hit = bsearch(&key, o->cats, o->ncats, sizeof(char *),
			    cmp_str);
			free(key);
			if (hit == NULL) {
				r = CAIRN_ERR_INTERNAL;
				goto out;
			}
			pt->catmap[i] = (uint32_t)(hit - o->cats);
		}
	}
	r = CAIRN_OK;
out:
	intern_release(&cats);
	return r;
}

void
parse_out_release(struct parse_out *o)
{
	if (o->th != NULL)
		for (unsigned t = 0; t < o->nthreads; t++) {
			struct parse_thread *pt = &o->th[t];

			intern_release(&pt->subs);
			intern_release(&pt->cats);
			for (size_t c = 0; c < pt->nblkchunks; c++)
				free(pt->blk[c]);
			free(pt->blk);
			free(pt->off);
			free(pt->words);
			free(pt->loc);
			free(pt->submap);
			free(pt->catmap);
			part_writer_release(&pt->pw);
		}
	free(o->th);
	intern_release(&o->subs);
	for (uint32_t i = 0; i < o->ncats; i++)
		free(o->cats[i]);
	free(o->cats);
	memset(o, 0, sizeof(*o));
}

int
parse_input(const struct node_input *in, enum parse_mode mode,
    const struct node_plan *plan, struct node_report *rep,
    struct parse_out *out)
{
	struct file_info *files = NULL;
	struct task *tasks = NULL;
	struct worker *ws = NULL;
	pthread_t *tids = NULL;
	struct parse_out o;
	size_t ntasks = 0, captasks = 0;
	unsigned nth = node_threads(in->threads), started = 0;
	atomic_size_t next = 0;
	size_t bufsize = 0;
	uint32_t catmax = UINT32_MAX - 1, smax = in->max_subjects ?
	    in->max_subjects : UINT32_MAX - 1;
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
	for (size_t i = 0; i < in->npaths; i++) {
		unsigned parts;

		if ((r = read_header(in->paths[i], &files[i])) != CAIRN_OK)
			goto out;
		rep->files[i].format = files[i].fmt;
		if (files[i].fmt == NODE_FMT_CDR &&
		    node_cellmap_ncells(in->cells) == 0) {
			r = cairn_err(CAIRN_ERR_ARG, "%s: cell-level input "
			    "needs a cell map (--cells), not a region list",
			    in->paths[i]);
			goto out;
		}
		if (plan != NULL && plan->q.kind == QSPEC_KIND_POPCAT &&
		    files[i].fmt != NODE_FMT_REGION_CAT) {
			r = cairn_err(CAIRN_ERR_ARG, "%s: population_by_"
			    "category needs input with header '%s'",
			    in->paths[i], headers[NODE_FMT_REGION_CAT]);
			goto out;
		}
		{
			uint64_t split = in->split_bytes ? in->split_bytes :
			    SPLIT_MIN, np = files[i].size / split;

			parts = files[i].gz || np < 1 ? 1 : np > 4 * nth ?
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
			t->gz = files[i].gz;
			t->begin = files[i].size * p / parts;
			t->end = p + 1 == parts ? UINT64_MAX :
			    files[i].size * (p + 1) / parts;
		}
	}
	/*
	 * Read buffers: BUF_SIZE, or less when every file is plain and
	 * smaller (a small file need not pay for 4 MiB per thread); never
	 * under twice the longest line, which the reader needs to tell an
	 * over-long line.
	 */
	for (size_t i = 0; i < in->npaths; i++) {
		if (files[i].gz || files[i].size >= BUF_SIZE)
			bufsize = BUF_SIZE;
		else if (files[i].size + 1 > bufsize)
			bufsize = (size_t)files[i].size + 1;
	}
	if (bufsize < 2 * NODE_MAX_LINE)
		bufsize = 2 * NODE_MAX_LINE;
	if (plan != NULL && plan->q.kind == QSPEC_KIND_POPCAT)
		catmax = plan->rb >= 32 ? 1 : (uint32_t)(UINT64_C(1) <<
		    (32 - plan->rb));
	o.nthreads = nth;
	o.max_subjects = smax;
	o.stride = 2;
	for (size_t i = 0; i < in->npaths; i++)
		if (files[i].fmt == NODE_FMT_REGION_CAT)
			o.stride = 3;
	if ((o.th = calloc(nth, sizeof(*o.th))) == NULL ||
	    (ws = calloc(nth, sizeof(*ws))) == NULL ||
	    (tids = calloc(nth, sizeof(*tids))) == NULL) {
		r = CAIRN_ERR_NOMEM;
		goto out;
	}
	for (unsigned t = 0; t < nth; t++) {
		if (mode == PARSE_QUERY) {
			/* words are below slots (or categories) << rb */
			uint64_t wl = (uint64_t)(plan->q.kind ==
			    QSPEC_KIND_POPCAT ? plan->ncats : plan->nslots) <<
			    plan->rb;

			if ((r = part_writer_init(&o.th[t].pw, in->part_bits ?
			    in->part_bits : PART_BITS, wl)) != CAIRN_OK)
				goto out;
			o.nparts = o.th[t].pw.nparts;
		} else if (mode == PARSE_STORE &&
		    (r = intern_init(&o.th[t].subs, 1u << 16, smax)) !=
		    CAIRN_OK)
			goto out;
		if ((r = intern_init(&o.th[t].cats, 64, catmax)) != CAIRN_OK)
			goto out;
		ws[t].in = in;
		ws[t].mode = mode;
		ws[t].plan = plan;
		ws[t].pt = &o.th[t];
		ws[t].me = t;
		ws[t].stride = o.stride;
		ws[t].tasks = tasks;
		ws[t].ntasks = ntasks;
		ws[t].next = &next;
		ws[t].files = files;
		ws[t].bufsize = bufsize;
		if ((ws[t].buf = malloc(bufsize + BUF_PAD)) == NULL) {
			r = CAIRN_ERR_NOMEM;
			goto out;
		}
		memset(ws[t].buf + bufsize, 0, BUF_PAD);
	}
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
	for (unsigned t = 0; t < nth; t++)
		if (ws[t].err != CAIRN_OK) {
			r = cairn_err(ws[t].err, "%s", ws[t].errmsg);
			goto out;
		}
	/* Per-file reports, with examples at their file line numbers. */
	for (size_t k = 0, lines = 0; k < ntasks; k++) {
		struct task *t = &tasks[k];
		struct node_file_report *fr = &rep->files[t->file];

		if (k == 0 || tasks[k - 1].file != t->file)
			lines = 0;
		fr->rows += t->rep.rows;
		fr->good += t->rep.good;
		fr->outside += t->rep.outside;
		fr->other_cat += t->rep.other_cat;
		fr->nbad += t->rep.nbad;
		for (int b = 0; b < NODE_BAD__N; b++)
			fr->bad[b] += t->rep.bad[b];
		for (size_t e = 0; e < t->rep.nexamples &&
		    fr->nexamples < NODE_EXAMPLES; e++) {
			fr->examples[fr->nexamples] = t->rep.examples[e];
			fr->examples[fr->nexamples].line += lines;
			fr->nexamples++;
		}
		lines += t->lines;
	}
	r = CAIRN_OK;
	for (size_t i = 0; i < rep->nfiles; i++) {
		struct node_file_report *fr = &rep->files[i];

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
	if (r != CAIRN_OK || mode == PARSE_CHECK)
		goto out;
	if ((r = chain_ends(&o, mode)) != CAIRN_OK)
		goto out;
	if (mode == PARSE_STORE && (r = merge_tables(&o)) != CAIRN_OK)
		goto out;
	*out = o;
	memset(&o, 0, sizeof(o));
out:
	parse_out_release(&o);
	if (ws != NULL)
		for (unsigned t = 0; t < nth; t++)
			free(ws[t].buf);
	free(ws);
	free(tids);
	free(tasks);
	free(files);
	return r;
}

int
node_check_data(const struct node_input *in, struct node_report *rep)
{
	return parse_input(in, PARSE_CHECK, NULL, rep, NULL);
}
