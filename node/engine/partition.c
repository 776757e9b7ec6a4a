/*
 * partition.c - grouping a query's rows by subject without a random
 * memory access per row (docs/data.md "Reading speed").  While a thread
 * parses, each accepted row becomes one record (the subject id's form of
 * at most 17 bytes: packed when it is short hex or digits, hashed with a
 * key of the run when longer than 16 bytes packed; and the event word in
 * as few bytes as the query's words need) in one of 2^bits partitions
 * picked by the top
 * bits of the id's hash.  Records gather in a small staging line per
 * partition (all the lines of a thread stay in cache) and leave it 64
 * bytes at a time for the end of the partition's chunk list, so memory is
 * written in sequence and never read for ownership; chunks are cut from
 * 2 MiB slabs.  Afterwards each partition is taken in turn (any thread may
 * take any): its records from every thread are interned into a table
 * small enough to stay in cache, counted per subject and placed into one
 * array in subject order.  The slabs go when the parse output does.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <sodium.h>

#include "common/err.h"
#include "node/engine/engine_int.h"

#define CHUNK_MIN	1024u		/* first chunk of a partition */
#define CHUNK_MAX	(64u << 10)	/* chunks double up to this */
#define CHUNK_HEAD	64		/* the header's line; data follows */
#define CHUNK_SLACK	64		/* readable bytes after the data */
#define SLAB		(UINT64_C(2) << 20)	/* chunks are cut from these */
#define WRITER_MAX	(UINT64_C(1) << 40)	/* slab bytes per thread */
#define REC_MAX		(1 + INTERN_INLINE + 4)

_Static_assert(sizeof(struct engine_part_chunk) <= CHUNK_HEAD,
    "a chunk's header fits the line before its data");
_Static_assert(PART_STAGE >= PART_LINE + 32 + 1 + INTERN_INLINE + 4,
    "a staging line holds a line, a short record and the tail copy");
_Static_assert(PART_FORM == INTERN_INLINE && PART_HASHED > PART_RAW_MAX +
    PART_PACK_MAX, "a hashed form is interned inline, apart from the rest");

int
engine_part_hkey_init(struct engine_part_hkey *hk)
{
	if (sodium_init() < 0)
		return cairn_err(CAIRN_ERR_CRYPTO, "libsodium failed to start");
	randombytes_buf(hk, sizeof(*hk));
	return CAIRN_OK;
}

/*
 * Multilinear hashing (Lemire and Kaser, "Strongly universal string
 * hashing is fast", 2014, after Dietzfelbinger 1996): with 64-bit random
 * k, the top 32 bits of k0 + m1 k1 + ... mod 2^64 over 32-bit words m are
 * strongly universal.  The length is the first word, so inputs of
 * different lengths are different vectors; 4 independent keys give 128
 * bits, of which the form keeps 120.
 */
static inline void
put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

void
engine_part_hash_form(const struct engine_part_hkey *hk,
    const unsigned char *s, size_t n, unsigned char out[static PART_FORM])
{
	uint64_t a0 = hk->k[0][0] + n * hk->k[1][0],
	    a1 = hk->k[0][1] + n * hk->k[1][1],
	    a2 = hk->k[0][2] + n * hk->k[1][2],
	    a3 = hk->k[0][3] + n * hk->k[1][3];
	size_t i;

	/* two words at a time; the last 8 bytes masked past the end */
	for (i = 0; i * 8 < n; i++) {
		const uint64_t *k = hk->k[2 + 2 * i], *l = hk->k[3 + 2 * i];
		uint64_t x, lo, hi;

		memcpy(&x, s + 8 * i, sizeof(x));
		x = engine_part_le64(x);
		if (n - 8 * i < 8)
			x &= (UINT64_C(1) << 8 * (n - 8 * i)) - 1;
		lo = x & UINT32_MAX;
		hi = x >> 32;
		a0 += lo * k[0] + hi * l[0];
		a1 += lo * k[1] + hi * l[1];
		a2 += lo * k[2] + hi * l[2];
		a3 += lo * k[3] + hi * l[3];
	}
	/* the top halves, most significant byte first, 120 bits */
	out[0] = PART_HASHED;
	put_be32(out + 1, (uint32_t)(a0 >> 32));
	put_be32(out + 5, (uint32_t)(a1 >> 32));
	put_be32(out + 9, (uint32_t)(a2 >> 32));
	out[13] = (unsigned char)(a3 >> 56);
	out[14] = (unsigned char)(a3 >> 48);
	out[15] = (unsigned char)(a3 >> 40);
}

size_t
engine_part_form_long(const struct engine_part_hkey *hk, const char *key,
    size_t n, unsigned char out[static PART_FORM])
{
	/* the packed digits after a word holding the tag (the bytes the
	 * packed form's hash reads) */
	uint64_t b[1 + PART_PACK_MAX / 16];

	if (!engine_part_pack_long(key, n, b + 1)) {
		/* ids are UTF-8 without NUL: never a packed form's bytes */
		engine_part_hash_form(hk, (const unsigned char *)key, n, out);
		return PART_FORM;
	}
	out[0] = (unsigned char)(PART_RAW_MAX + n);
	if (1 + (n + 1) / 2 <= PART_FORM) {
		memcpy(out + 1, b + 1, PART_FORM - 1);
		return 1 + (n + 1) / 2;
	}
	/* one store: a load of a word of two stores would wait */
	b[0] = engine_part_le64(PART_RAW_MAX + n);
	engine_part_hash_form(hk, (const unsigned char *)b,
	    sizeof(b[0]) + (n + 1) / 2, out);
	return PART_FORM;
}

int
engine_part_writer_init(struct engine_part_writer *pw, unsigned bits,
    uint64_t wlimit, const struct engine_part_hkey *hk)
{
	size_t n;

	memset(pw, 0, sizeof(*pw));
	pw->hkey = hk;
	if (bits < 1 || bits > PART_BITS_MAX)
		return cairn_err(CAIRN_ERR_ARG, "partition bits %u not in "
		    "[1, %u]", bits, PART_BITS_MAX);
	n = (size_t)1 << bits;
	pw->shift = 64 - bits;
	/* only the bytes the query's words can use */
	for (pw->wb = 1; pw->wb < 4 && (UINT64_C(1) << 8 * pw->wb) < wlimit;
	    pw->wb++)
		;
	pw->nparts = (uint32_t)n;
	if ((pw->stage = aligned_alloc(64, n * PART_STAGE)) != NULL)
		memset(pw->stage, 0, n * PART_STAGE);
	if (pw->stage == NULL ||
	    (pw->fill = calloc(n, sizeof(*pw->fill))) == NULL ||
	    (pw->head = calloc(n, sizeof(*pw->head))) == NULL ||
	    (pw->tail = calloc(n, sizeof(*pw->tail))) == NULL ||
	    (pw->nrec = calloc(n, sizeof(*pw->nrec))) == NULL) {
		engine_part_writer_release(pw);
		return CAIRN_ERR_NOMEM;
	}
	return CAIRN_OK;
}

void
engine_part_writer_release(struct engine_part_writer *pw)
{
	for (size_t i = 0; i < pw->nslabs; i++)
		free(pw->slabs[i]);
	free(pw->slabs);
	free(pw->stage);
	free(pw->fill);
	free(pw->head);
	free(pw->tail);
	free(pw->nrec);
	memset(pw, 0, sizeof(*pw));
}

/*
 * Where partition 'p' writes next, and where its chunk ends: kept in the
 * unused end of its staging line, so a line going out touches nothing
 * but the staging line and its destination.
 */
#define STAGE_AT	96

static inline void
stage_ptrs(const unsigned char *s, unsigned char **at, unsigned char **end)
{
	memcpy(at, s + STAGE_AT, sizeof(*at));
	memcpy(end, s + STAGE_AT + sizeof(*at), sizeof(*end));
}

static inline void
stage_set(unsigned char *s, unsigned char *at, unsigned char *end)
{
	memcpy(s + STAGE_AT, &at, sizeof(at));
	memcpy(s + STAGE_AT + sizeof(at), &end, sizeof(end));
}

_Static_assert(STAGE_AT >= PART_LINE + 32 &&
    STAGE_AT + 2 * sizeof(void *) <= PART_STAGE,
    "the staging line holds its write pointers after the data");

/* Close the full chunk of partition 'p' (if any) and start a new one. */
static int
chunk_next(struct engine_part_writer *pw, uint32_t p, unsigned char *at,
    unsigned char **nat, unsigned char **nend)
{
	struct engine_part_chunk *c = pw->tail[p];
	uint32_t cap;

	if (c != NULL)
		c->len = (uint32_t)(at - c->data);
	cap = c == NULL ? CHUNK_MIN : c->cap >= CHUNK_MAX / 2 ? CHUNK_MAX :
	    c->cap * 2;
	/*
	 * Chunks are cut from large slabs (huge pages where the kernel has
	 * them): one page fault per slab instead of one per 4 KiB.
	 */
	if (pw->slabfree < CHUNK_HEAD + cap + CHUNK_SLACK) {
		unsigned char *sl;

		if (pw->bytes + SLAB > WRITER_MAX)
			return cairn_err(CAIRN_ERR_TOOBIG, "more than %llu "
			    "bytes of events in one thread",
			    (unsigned long long)WRITER_MAX);
		if (pw->nslabs == pw->capslabs) {
			size_t nc = pw->capslabs ? pw->capslabs * 2 : 16;
			unsigned char **ns;

			if ((ns = realloc(pw->slabs, nc * sizeof(*ns))) ==
			    NULL)
				return CAIRN_ERR_NOMEM;
			pw->slabs = ns;
			pw->capslabs = nc;
		}
		if ((sl = big_alloc(SLAB)) == NULL)
			return CAIRN_ERR_NOMEM;
		pw->slabs[pw->nslabs++] = sl;
		pw->slab = sl;
		pw->slabfree = SLAB;
		pw->bytes += SLAB;
	}
	c = (struct engine_part_chunk *)(void *)pw->slab;
	c->next = NULL;
	c->data = pw->slab + CHUNK_HEAD;
	c->len = 0;
	c->cap = cap;
	pw->slab += CHUNK_HEAD + cap;
	pw->slabfree -= CHUNK_HEAD + cap;
	if (pw->tail[p] != NULL)
		pw->tail[p]->next = c;
	else
		pw->head[p] = c;
	pw->tail[p] = c;
	*nat = c->data;
	*nend = c->data + cap;
	return CAIRN_OK;
}

int
engine_part_line_out(struct engine_part_writer *pw, uint32_t p)
{
	unsigned char *s = pw->stage + (size_t)p * PART_STAGE, *at, *end;
	int r;

	stage_ptrs(s, &at, &end);
	if (at == end && (r = chunk_next(pw, p, at, &at, &end)) != CAIRN_OK)
		return r;
#ifdef __SSE2__
	/* Straight to memory: the line is not read again while parsing. */
	for (int i = 0; i < PART_LINE; i += 16)
		_mm_stream_si128((__m128i *)(void *)(at + i),
		    _mm_load_si128((const __m128i *)(const void *)(s + i)));
#else
	memcpy(at, s, PART_LINE);
#endif
	stage_set(s, at + PART_LINE, end);
	/* What passed the line's end starts the next one. */
	memcpy(s, s + PART_LINE, 32);
	pw->fill[p] -= PART_LINE;
	return CAIRN_OK;
}

int
engine_part_push_long(struct engine_part_writer *pw, const char *key,
    size_t n, uint32_t word)
{
	unsigned char form[PART_FORM];
	uint64_t k[2];
	uint32_t p, le = engine_part_le32(word);
	unsigned char *s;
	size_t m;
	unsigned f;

	if (n <= INTERN_INLINE || n > PART_RAW_MAX)
		return CAIRN_ERR_INTERNAL;
	m = engine_part_form_long(pw->hkey, key, n, form);
	memcpy(k, form, sizeof(k));
	p = (uint32_t)(engine_intern_hash16(k, m) >> pw->shift);
	s = pw->stage + (size_t)p * PART_STAGE;
	f = pw->fill[p];
	pw->nrec[p]++;
	/* as engine_part_push: what passes the record is overwritten */
	memcpy(s + f, form, PART_FORM);
	memcpy(s + f + m, &le, sizeof(le));
	f += (unsigned)m + pw->wb;
	pw->fill[p] = (uint8_t)f;
	return f < PART_LINE ? CAIRN_OK : engine_part_line_out(pw, p);
}

int
engine_part_writer_finish(struct engine_part_writer *pw)
{
	int r;

	for (uint32_t p = 0; p < pw->nparts; p++) {
		unsigned char *s = pw->stage + (size_t)p * PART_STAGE, *at,
		    *end;

		stage_ptrs(s, &at, &end);
		if (pw->fill[p] > 0) {
			/* a chunk's room is whole lines: a part line fits */
			if (at == end && (r = chunk_next(pw, p, at, &at,
			    &end)) != CAIRN_OK)
				return r;
			memcpy(at, s, pw->fill[p]);
			at += pw->fill[p];
			pw->fill[p] = 0;
			stage_set(s, at, end);
		}
		if (pw->tail[p] != NULL)
			pw->tail[p]->len = (uint32_t)(at - pw->tail[p]->data);
	}
#ifdef __SSE2__
	/* The streamed lines are visible to the threads that read them. */
	_mm_sfence();
#endif
	free(pw->stage);
	pw->stage = NULL;
	return CAIRN_OK;
}

/* ---- taking a partition ---- */

int
engine_part_group_init(struct engine_part_group *g, uint32_t max)
{
	memset(g, 0, sizeof(*g));
	return engine_intern_init(&g->subs, 1024, max);
}

void
engine_part_group_release(struct engine_part_group *g)
{
	engine_intern_release(&g->subs);
	free(g->ids);
	free(g->words);
	free(g->grouped);
	free(g->off);
	memset(g, 0, sizeof(*g));
}

static int
group_room(struct engine_part_group *g, uint64_t nrec)
{
	uint32_t *a, *b, *c;

	if (nrec <= g->cap)
		return CAIRN_OK;
	if (nrec > SIZE_MAX / sizeof(uint32_t) / 2)
		return cairn_err(CAIRN_ERR_TOOBIG, "%llu events in one "
		    "partition", (unsigned long long)nrec);
	if ((a = realloc(g->ids, nrec * sizeof(*a))) == NULL)
		return CAIRN_ERR_NOMEM;
	g->ids = a;
	if ((b = realloc(g->words, nrec * sizeof(*b))) == NULL)
		return CAIRN_ERR_NOMEM;
	g->words = b;
	if ((c = realloc(g->grouped, nrec * sizeof(*c))) == NULL)
		return CAIRN_ERR_NOMEM;
	g->grouped = c;
	g->cap = nrec;
	return CAIRN_OK;
}

/*
 * Intern the record at 'r' (words of 'wb' bytes; 4 bytes past the id are
 * readable) as record 'i' of the partition.
 */
static inline int
group_add(struct engine_part_group *g, const unsigned char *r, unsigned wb,
    uint64_t i)
{
	/* a packed or hashed id is interned with its first byte, a raw one
	 * without */
	const char *key = r[0] > PART_RAW_MAX ? (const char *)r :
	    (const char *)r + 1;
	size_t n = engine_part_rec_len(r[0], 0) - (r[0] > PART_RAW_MAX ? 0 : 1);
	uint64_t k[2] = { 0, 0 }, h;
	uint32_t word;
	struct engine_intern_ent *e;
	int rc;

	if (n <= INTERN_INLINE) {
		engine_intern_key16(key, n, k);
		h = engine_intern_hash16(k, n);
	} else
		h = engine_intern_hash(key, n);
	if ((rc = engine_intern_add_e(&g->subs, key, n, h, k, &e)) != CAIRN_OK)
		return rc;
	if (e->cnt == UINT32_MAX)
		return cairn_err(CAIRN_ERR_TOOBIG, "more than %u events of one "
		    "subject", UINT32_MAX);
	e->cnt++;
	g->ids[i] = e->id;
	memcpy(&word, key + n, sizeof(word));
	word = engine_part_le32(word);
	g->words[i] = wb == 4 ? word : word & ((UINT32_C(1) << 8 * wb) - 1);
	return CAIRN_OK;
}

/*
 * Intern the records of one thread's chunk list, unlinking the chunks as
 * they are read.  A record may run from one chunk into the next (chunks
 * are written a line at a time): its start waits in 'carry'.
 */
static int
group_list(struct engine_part_group *g, unsigned wb,
    struct engine_part_chunk **head, struct engine_part_chunk **tail,
    uint64_t *i, uint64_t nrec)
{
	unsigned char carry[REC_MAX + INTERN_INLINE];
	size_t cl = 0;
	int r;

	while (*head != NULL) {
		struct engine_part_chunk *c = *head;
		size_t pos = 0;

		if (cl > 0) {
			size_t need = engine_part_rec_len(carry[0], wb) - cl;

			if (need > c->len || *i >= nrec)
				return CAIRN_ERR_INTERNAL;
			memcpy(carry + cl, c->data, need);
			if ((r = group_add(g, carry, wb, (*i)++)) != CAIRN_OK)
				return r;
			pos = need;
			cl = 0;
		}
		while (pos < c->len) {
			const unsigned char *rec = c->data + pos;
			size_t len = engine_part_rec_len(rec[0], wb);

			if (pos + len > c->len) {
				cl = c->len - pos;
				memcpy(carry, rec, cl);
				break;
			}
			/* the counts and the records were written together */
			if (*i >= nrec)
				return CAIRN_ERR_INTERNAL;
			if ((r = group_add(g, rec, wb, (*i)++)) != CAIRN_OK)
				return r;
			pos += len;
		}
		*head = c->next;
		if (*head == NULL)
			*tail = NULL;
	}
	return cl == 0 ? CAIRN_OK : CAIRN_ERR_INTERNAL;
}

int
engine_part_group(struct engine_part_group *g, struct engine_parse_out *po,
    uint32_t p)
{
	uint64_t nrec = 0, i = 0;
	uint32_t ns;
	int r;

	g->nsubs = 0;
	for (unsigned t = 0; t < po->nthreads; t++)
		nrec += po->th[t].pw.nrec[p];
	if (nrec == 0)
		return CAIRN_OK;
	if ((r = group_room(g, nrec)) != CAIRN_OK)
		return r;
	engine_intern_reset(&g->subs);
	for (unsigned t = 0; t < po->nthreads; t++) {
		struct engine_part_writer *pw = &po->th[t].pw;

		if ((r = group_list(g, pw->wb, &pw->head[p], &pw->tail[p],
		    &i, nrec)) != CAIRN_OK)
			return r;
		pw->nrec[p] = 0;
	}
	if (i != nrec)
		return CAIRN_ERR_INTERNAL;
	ns = g->subs.n;
	if ((size_t)ns + 1 > g->offcap) {
		uint64_t *o;

		if ((o = realloc(g->off, ((size_t)ns + 1) * sizeof(*o))) ==
		    NULL)
			return CAIRN_ERR_NOMEM;
		g->off = o;
		g->offcap = (size_t)ns + 1;
	}
	/* Counting sort: off[s] is where subject s starts ... */
	for (size_t k = 0; k < g->subs.cap; k++) {
		const struct engine_intern_ent *e = &g->subs.tab[k];

		if (e->id != UINT32_MAX)
			g->off[e->id + 1] = e->cnt;
	}
	g->off[0] = 0;
	for (uint32_t s = 0; s < ns; s++)
		g->off[s + 1] += g->off[s];
	/* ... and after placing the words, where s + 1 starts. */
	for (uint64_t k = 0; k < nrec; k++)
		g->grouped[g->off[g->ids[k]]++] = g->words[k];
	memmove(g->off + 1, g->off, (size_t)ns * sizeof(*g->off));
	g->off[0] = 0;
	g->nsubs = ns;
	return CAIRN_OK;
}
