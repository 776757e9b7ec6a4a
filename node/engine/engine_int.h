/*
 * node_int.h - internals shared by the engine's files: the string
 * interning table, the parsed-event layout, the per-subscriber kernels and
 * their accumulators.  Not for use outside node/engine/.
 */
#ifndef CAIRN_NODE_ENGINE_INT_H
#define CAIRN_NODE_ENGINE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "common/bigmem.h"
#include "common/err.h"
#include "node/engine/engine.h"

/* ---- interning: strings -> dense ids (node/engine/intern.c) ---- */

#define INTERN_INLINE	16
#define INTERN_STAGE	7	/* subjects: event words held in the slot */

/*
 * One cache line.  For subjects (node/engine/ingest_csv.c) the slot also holds
 * the newest event words of the subject's chain, so appending a row's
 * word touches only this line.
 */
struct engine_intern_ent {
	uint64_t	inl[2];	/* the key when len <= 16, zero padded */
	uint32_t	h32;	/* high half of the key's hash */
	uint32_t	id;	/* UINT32_MAX: empty slot */
	uint32_t	cnt;	/* subjects: event words so far */
	uint8_t		len;
	uint8_t		fill;	/* subjects: words in stage[] */
	uint8_t		pad[6];
	uint32_t	stage[INTERN_STAGE];
} __attribute__((aligned(64)));
_Static_assert(sizeof(struct engine_intern_ent) == 64,
    "one slot, one cache line");

struct engine_intern {
	struct engine_intern_ent *tab;
	size_t		   cap;		/* power of two */
	uint32_t	   n;
	uint32_t	   max;		/* most keys accepted */
	char		  *arena;	/* every key, back to back */
	size_t		   alen, acap;
	uint64_t	  *koff;	/* id -> offset << 8 | len */
	size_t		   kcap;
};

int	engine_intern_init(struct engine_intern *t, size_t hint, uint32_t max);
void	engine_intern_release(struct engine_intern *t);
/* Empty 't' for reuse, keeping its memory. */
void	engine_intern_reset(struct engine_intern *t);
uint64_t engine_intern_hash(const char *s, size_t n);
/*
 * Id of key 's' ('n' <= 255 bytes, hash 'h'), added when absent.
 * Returns CAIRN_OK, CAIRN_ERR_NOMEM or CAIRN_ERR_TOOBIG (over t->max).
 */
int	engine_intern_add(struct engine_intern *t, const char *s, size_t n,
	    uint64_t h, uint32_t *id);
/* Id of key 's' when present. */
bool	engine_intern_find(const struct engine_intern *t, const char *s,
	    size_t n, uint64_t h, uint32_t *id);
const char *engine_intern_key(const struct engine_intern *t, uint32_t id,
    size_t *n);
/* The same with the key's padded form 'k' (engine_intern_key16) at hand. */
int	engine_intern_add_k(struct engine_intern *t, const char *s, size_t n,
	    uint64_t h, const uint64_t k[2], uint32_t *id);
/* The same, giving the key's slot (valid until the next addition). */
int	engine_intern_add_e(struct engine_intern *t, const char *s, size_t n,
	    uint64_t h, const uint64_t k[2], struct engine_intern_ent **e);
bool	engine_intern_find_k(const struct engine_intern *t, const char *s,
	    size_t n, uint64_t h, const uint64_t k[2], uint32_t *id);

/* The hash of a key of 'n' <= 16 bytes in zero-padded form 'k'. */
static inline uint64_t
engine_intern_hash16(const uint64_t k[2], size_t n)
{
	uint64_t h = (k[0] ^ 0x9e3779b97f4a7c15ULL) * 0xbf58476d1ce4e5b9ULL;

	h ^= (k[1] + n) * 0x94d049bb133111ebULL;
	h ^= h >> 31;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 32;
	return h;
}

/*
 * The zero-padded form of the key 's' of 'n' <= 16 bytes, reading 16
 * bytes from 's': the caller guarantees they are readable.
 */
static inline void
engine_intern_key16(const char *s, size_t n, uint64_t k[2])
{
	uint64_t a, b;

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
	k[0] = k[1] = 0;
	memcpy(k, s, n);
	return;
#endif
	memcpy(&a, s, 8);
	memcpy(&b, s + 8, 8);
	if (n < 8) {
		a &= n ? ~UINT64_C(0) >> (64 - 8 * n) : 0;
		b = 0;
	} else if (n < 16)
		b &= n > 8 ? ~UINT64_C(0) >> (64 - 8 * (n - 8)) : 0;
	k[0] = a;
	k[1] = b;
}

static inline void
engine_intern_prefetch(const struct engine_intern *t, uint64_t h)
{
	__builtin_prefetch(&t->tab[h & (t->cap - 1)]);
}

/* Cell lookup with the key's padded form at hand (node/engine/cellmap.c). */
bool	engine_cellmap_lookup_k(const struct engine_cellmap *m,
	    const char *cell,
	    size_t len, uint64_t h, const uint64_t k[2], uint32_t *ridx);

/* ---- plans: how an event becomes a 32-bit word for one query ---- */

struct engine_plan {
	struct qspec q;
	int64_t		d0, d1;		/* local days read */
	int64_t		off;		/* UTC offset in seconds */
	uint32_t	nregions;
	unsigned	rb;		/* bits of the region index */
	uint32_t	rmask;
	uint32_t	nslots;		/* hours in [d0, d1) */
	uint32_t	ncats;		/* population_by_category */
	bool		night[24];
	bool		night_only;	/* only night events matter */
	/* output domain */
	uint64_t	ncells;
	size_t		nbuckets, ndays;
	int64_t		day0;
};

/*
 * Fill 'p' for query 'q' over 'nregions' regions; CAIRN_ERR_TOOBIG when
 * the window times the regions do not fit the 32-bit event word.
 */
int	engine_plan_init(struct engine_plan *p, const struct qspec *q,
	    uint32_t nregions);

enum engine_plan_use {
	PLAN_USE,		/* the query reads the event */
	PLAN_OUTSIDE,		/* outside the query's window */
	PLAN_UNUSED		/* in the window, but never read (daytime
				   events of residents and migration) */
};

/*
 * The event word of a row at UTC second 't' in region index 'r' (and
 * category 'c' for population_by_category), set when PLAN_USE.
 */
static inline enum engine_plan_use
engine_plan_word(const struct engine_plan *p, int64_t t, uint32_t r, uint32_t c,
    uint32_t *w)
{
	int64_t l = t + p->off - p->d0 * 86400;
	uint32_t slot;

	if (l < 0 || l >= (int64_t)p->nslots * 3600)
		return PLAN_OUTSIDE;
	slot = (uint32_t)(l / 3600);
	if (p->night_only && !p->night[slot % 24])
		return PLAN_UNUSED;
	if (p->q.kind == QSPEC_KIND_POPCAT)
		*w = c << p->rb | r;
	else
		*w = slot << p->rb | r;
	return PLAN_USE;
}

/* ---- accumulators: per-thread cell counts ---- */

#define ACC_DENSE_MAX	(1u << 22)

struct engine_acc {
	uint64_t	 ncells;
	uint32_t	*dense;		/* ncells <= ACC_DENSE_MAX */
	uint64_t	*ids;		/* otherwise every increment */
	size_t		 nids, capids;
	int		 err;
	/* scratch for the kernels */
	uint32_t	*tmp, *tmp2;
	size_t		 tmpcap;
	uint64_t	 subjects;
};

int	engine_acc_init(struct engine_acc *a, uint64_t ncells);
void	engine_acc_release(struct engine_acc *a);
/* Make the scratch hold 'n' words. */
int	engine_acc_scratch(struct engine_acc *a, size_t n);
/* Sum the accumulators into res->cells. */
int	engine_acc_finish(struct engine_acc *a, size_t n,
	    struct engine_result *res);

/*
 * Run the query's kernel on one subject's 'n' event words 'w' (any order;
 * sorted in place).
 */
void	engine_kernel_subject(const struct engine_plan *p, uint32_t *w,
	    size_t n, struct engine_acc *a);

/*
 * Copy the spec's categories into res->cats (population_by_category; a
 * no-op for other kinds).  On failure 'res' holds what was copied and is
 * released by the caller.
 */
int	engine_result_cats(struct engine_result *res, const struct qspec *q);

/* Fill the domain description of 'res' from 'p' (regions borrowed). */
int	engine_result_init(struct engine_result *res,
	    const struct engine_plan *p, const uint32_t *regions);

/* Sort 'n' words ascending. */
void	engine_sort_u32(uint32_t *v, size_t n, uint32_t *scratch);

/* ---- parsing (node/engine/ingest_csv.c) ---- */

enum engine_parse_mode {
	PARSE_CHECK,	/* report only */
	PARSE_QUERY,	/* plan words in partitions (partition.c) */
	PARSE_STORE	/* chains of minute, region[, category + 1] */
};

/*
 * Store mode: while a thread parses, each subject's newest event words
 * gather in its
 * table slot (engine_intern_ent.stage) and go out as one 32-byte block (the
 * subject's local id and 7 words) where the thread's blocks end, so blocks
 * are written in sequence and none is read back.  When the thread is done,
 * one pass over its blocks in the order they were written copies every
 * subject's words into one array in subject order (chain_finish): no
 * sorting pass and no pointer chasing to group by subject.
 */
#define BLK_WORDS	(INTERN_STAGE + 1)
#define BLK_PER_CHUNK	(1u << 17)

/* ---- partitions: a query's rows by subject hash (partition.c) ---- */

#define PART_LINE	64	/* bytes leaving a staging line at once */
#define PART_STAGE	128	/* a staging line and room for one record */
#define PART_BITS	9	/* default: 512 partitions */
#define PART_BITS_MAX	16

/*
 * A record is the subject id's form (packed or hashed, below, or its
 * length n, 1..16, and its n bytes: a length byte up to PART_RAW_MAX
 * would be read as raw), then the event word's low 'wb' bytes
 * (little-endian).  A record may continue in the next chunk.
 */
#define PART_RAW_MAX	128
_Static_assert(ENGINE_MAX_FIELD <= PART_RAW_MAX,
    "a raw id's length byte is below every packed one's");

/*
 * An id of more than 16 bytes whose packed form (below) would still be
 * longer than 16 bytes (a SHA-256 in hex), and any other id of more than
 * 16 bytes, is held by its hashed form: the byte PART_HASHED, which no
 * valid UTF-8 id and no packed form starts with, then the first 15 bytes
 * of a keyed 128-bit hash of its packed form (or of its bytes when it
 * does not pack), the key drawn for each run from libsodium's CSPRNG.
 * The hash is strongly universal (engine_part_hash_form), so two distinct
 * ids share a form with probability 2^-120 whatever they are, and n
 * distinct ids of a run all keep their own with probability at least
 * 1 - n^2 / 2^121 (docs/benchmarks.md "Long pseudonyms").  Nothing reads an
 * id back from a record: they are only grouped.
 */
#define PART_HASHED	0xff
#define PART_FORM	16	/* bytes of a hashed form */
#define PART_HKEY_WORDS	(2 + (PART_RAW_MAX + 3) / 4)

/* The key of a run's hashed forms: 4 x 64 random bits per input word. */
struct engine_part_hkey {
	uint64_t	k[PART_HKEY_WORDS][4];
};

/* A new random key (libsodium's CSPRNG); CAIRN_ERR_CRYPTO when it fails. */
int	engine_part_hkey_init(struct engine_part_hkey *hk);
/*
 * The hashed form of the 'n' (1..PART_RAW_MAX) bytes 's' (7 readable
 * after them) into 'out' (PART_FORM bytes): PART_HASHED, then 120 bits of
 * 4 multilinear hashes (each the top 32 bits of k0 + n k1 + the sum of
 * the 32-bit little-endian words of 's', zero padded, times k2.. mod
 * 2^64).
 */
void	engine_part_hash_form(const struct engine_part_hkey *hk,
	    const unsigned char *s, size_t n, unsigned char out[static PART_FORM]);

/* Bytes of the record starting with byte 'b' (words of 'wb' bytes). */
static inline size_t
engine_part_rec_len(unsigned b, unsigned wb)
{
	return (b == PART_HASHED ? PART_FORM : b > PART_RAW_MAX ?
	    1 + (b - PART_RAW_MAX + 1) / 2 : 1 + b) + wb;
}

struct engine_part_chunk {
	struct engine_part_chunk *next;
	unsigned char	  *data;	/* cap bytes and 64 readable more;
					   64-byte aligned */
	uint32_t	   len, cap;	/* bytes used, bytes of data */
};

/* One parse thread's partitions. */
struct engine_part_writer {
	const struct engine_part_hkey *hkey;	/* of every thread's writer */
	unsigned	    shift;	/* partition = hash >> shift */
	unsigned	    wb;		/* bytes of an event word, 1..4 */
	uint32_t	    nparts;
	unsigned char	   *stage;	/* nparts lines of PART_STAGE */
	uint8_t		   *fill;	/* bytes in each line, < PART_LINE
					   between records */
	struct engine_part_chunk **head, **tail;
	uint64_t	   *nrec;	/* records of each partition */
	unsigned char	  **slabs;	/* what the chunks are cut from */
	size_t		    nslabs, capslabs;
	unsigned char	   *slab;	/* where the next chunk starts */
	size_t		    slabfree;	/* bytes left after it */
	uint64_t	    bytes;	/* slab bytes allocated */
};

/*
 * Set up 2^'bits' empty partitions for event words below 'wlimit' (at
 * most 2^32), hashing long ids with 'hk' (the same for every thread of a
 * run; kept, not copied); CAIRN_ERR_NOMEM or _ARG.
 */
int	engine_part_writer_init(struct engine_part_writer *pw, unsigned bits,
	    uint64_t wlimit, const struct engine_part_hkey *hk);
/* Free 'pw' and its slabs (safe on a zeroed one). */
void	engine_part_writer_release(struct engine_part_writer *pw);
/* Write out the full staging line of partition 'p'. */
int	engine_part_line_out(struct engine_part_writer *pw, uint32_t p);
/*
 * Add a row: subject id 'key' of 17..PART_RAW_MAX bytes (15 readable after
 * it), packed or hashed, event word 'word'.  Returns CAIRN_OK,
 * CAIRN_ERR_NOMEM or CAIRN_ERR_TOOBIG.
 */
int	engine_part_push_long(struct engine_part_writer *pw, const char *key,
	    size_t n, uint32_t word);
/*
 * The form 'out' (PART_FORM bytes, zero padded) of the id 'key' of 17..
 * PART_RAW_MAX bytes (15 readable after it): packed when that takes 16
 * bytes or fewer, hashed otherwise.  Returns its length.
 */
size_t	engine_part_form_long(const struct engine_part_hkey *hk,
	    const char *key, size_t n, unsigned char out[static PART_FORM]);
/*
 * Move what the staging lines still hold into the chunks and free them:
 * after this the writer only holds records for engine_part_group().
 */
int	engine_part_writer_finish(struct engine_part_writer *pw);

static inline uint32_t
engine_part_le32(uint32_t v)
{
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
	return __builtin_bswap32(v);
#else
	return v;
#endif
}

static inline uint64_t
engine_part_le64(uint64_t v)
{
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
	return __builtin_bswap64(v);
#else
	return v;
#endif
}

/*
 * Records, back to back: the subject id's form, then the event word's low
 * 'wb' bytes (little-endian).  An id of up to PART_PACK_MAX digits and
 * lowercase hex letters (a hashed MSISDN: 16 digits, or 64 for a SHA-256)
 * is held packed: a byte PART_RAW_MAX + its length, then two characters a
 * byte.  That first byte, 0x81..0xc0, is a UTF-8 continuation byte or
 * 0xc0, neither of which starts a valid UTF-8 id, so the packed form of
 * one id never equals another id's bytes.
 */
#define PART_PACK_MAX	64
#define PART_PACKED_MAX	(1 + PART_PACK_MAX / 2)	/* bytes of a packed id */

/*
 * engine_part_pack() one byte at a time, for 'n' <= PART_PACK_MAX (the
 * portable form, and its test): 'out' gets 1 + (n + 1) / 2 bytes, the
 * rest of its PART_PACKED_MAX zero.  Returns that length, or 0.
 */
static inline size_t
engine_part_pack_bytes(const char *key, size_t n,
    unsigned char out[static PART_PACKED_MAX])
{
	const unsigned char *c = (const unsigned char *)key;

	if (n > PART_PACK_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((c[i] >= '0' && c[i] <= '9') ||
		    (c[i] >= 'a' && c[i] <= 'f')))
			return 0;
	memset(out, 0, PART_PACKED_MAX);
	out[0] = (unsigned char)(PART_RAW_MAX + n);
	for (size_t i = 0; i < n; i++) {
		unsigned d = c[i] <= '9' ? (unsigned)(c[i] - '0') :
		    (unsigned)(c[i] - 'a') + 10;

		out[1 + i / 2] |= (unsigned char)(i % 2 ? d : d << 4);
	}
	return 1 + (n + 1) / 2;
}

#if defined(__SSE2__) && defined(__x86_64__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define PART_PACK_SSE2	1
/*
 * The 'n' (1..16) characters at 'key' (16 readable) two a byte, the first
 * in the high half, zero padded, as the 8 bytes of '*x' in memory order;
 * false when one is not a digit or lowercase hex letter.
 */
static inline bool
engine_part_hex16(const char *key, size_t n, uint64_t *x)
{
	/* from the id itself: a 16-byte load of a copy would wait for its
	 * two 8-byte stores */
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)key);
	__m128i dig = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
	    _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
	__m128i hex = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('a' - 1)),
	    _mm_cmplt_epi8(v, _mm_set1_epi8('f' + 1)));
	unsigned ok = (unsigned)_mm_movemask_epi8(_mm_or_si128(dig, hex)),
	    want = (1u << n) - 1;
	__m128i idx = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
	    13, 14, 15), in, lo, hi, t;

	if ((ok & want) != want)
		return false;
	in = _mm_and_si128(v, _mm_cmpgt_epi8(_mm_set1_epi8((char)n), idx));
	/* '0'-'9' -> 0-9, 'a'-'f' -> 10-15 (bit 6 set), padding -> 0 */
	lo = _mm_and_si128(in, _mm_set1_epi8(0x0f));
	hi = _mm_and_si128(_mm_srli_epi16(in, 6), _mm_set1_epi8(1));
	t = _mm_add_epi8(lo, _mm_add_epi8(hi, _mm_slli_epi16(hi, 3)));
	/* two characters a byte, the first in the high half */
	t = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(t,
	    _mm_set1_epi16(0x00ff)), 4), _mm_srli_epi16(t, 8));
	*x = (uint64_t)_mm_cvtsi128_si64(_mm_packus_epi16(t, t));
	return true;
}
#endif

/*
 * The packed form in 'out' (16 bytes, zero padded) of the id 'key' of 'n'
 * <= 16 bytes (16 readable) when it holds only digits and lowercase hex
 * letters: the byte PART_RAW_MAX + n, then two characters a byte, the
 * first in the high half.  Returns its length, or 0 for any other id.
 */
static inline size_t
engine_part_pack(const char *key, size_t n, uint64_t out[2])
{
#ifdef PART_PACK_SSE2
	uint64_t x;

	/* all in registers: 'out' in memory would be read back as one
	 * 16-byte load of two 8-byte stores, which stalls */
	if (!engine_part_hex16(key, n, &x))
		return 0;
	out[0] = (PART_RAW_MAX + n) | x << 8;
	out[1] = x >> 56;
	return 1 + (n + 1) / 2;
#else
	unsigned char o[PART_PACKED_MAX];
	size_t m = engine_part_pack_bytes(key, n, o);

	memcpy(out, o, 2 * sizeof(uint64_t));
	return m;
#endif
}

/*
 * The packed digits (no tag byte) of an id of 1..PART_PACK_MAX bytes (15
 * readable after it), two a byte, zero padded, in the bytes of 'out' in
 * memory order; false for an id that does not pack.
 */
static inline bool
engine_part_pack_long(const char *key, size_t n,
    uint64_t out[static PART_PACK_MAX / 16])
{
#ifdef PART_PACK_SSE2
	if (n > PART_PACK_MAX)
		return false;
	out[1] = out[2] = out[3] = 0;
	for (size_t i = 0; i < n; i += 16)
		if (!engine_part_hex16(key + i, n - i < 16 ? n - i : 16,
		    &out[i / 16]))
			return false;
	return true;
#else
	unsigned char o[PART_PACKED_MAX];

	if (engine_part_pack_bytes(key, n, o) == 0)
		return false;
	memcpy(out, o + 1, PART_PACK_MAX / 2);
	return true;
#endif
}

/*
 * Add a row: subject id 'key' of 'n' (1..16) bytes with hash 'h' and
 * zero-padded form 'k', event word 'word' (longer ids:
 * engine_part_push_long).  Returns CAIRN_OK, CAIRN_ERR_NOMEM or
 * CAIRN_ERR_TOOBIG.
 */
static inline int
engine_part_push(struct engine_part_writer *pw, const char *key, size_t n,
    uint64_t h, const uint64_t k[2], uint32_t word)
{
	uint32_t p = (uint32_t)(h >> pw->shift), le = engine_part_le32(word);
	unsigned char *s = pw->stage + (size_t)p * PART_STAGE;
	unsigned f = pw->fill[p];
	uint64_t pk[2];
	size_t m;

	pw->nrec[p]++;
	/* fixed-size copies; the next record overwrites what is past it */
	if ((m = engine_part_pack(key, n, pk)) > 0)
		memcpy(s + f, pk, sizeof(pk));
	else {
		s[f] = (unsigned char)n;
		memcpy(s + f + 1, k, 2 * sizeof(uint64_t));
		m = 1 + n;
	}
	memcpy(s + f + m, &le, sizeof(le));
	f += (unsigned)m + pw->wb;
	pw->fill[p] = (uint8_t)f;
	return f < PART_LINE ? CAIRN_OK : engine_part_line_out(pw, p);
}

struct engine_parse_thread {
	struct engine_intern subs;
	struct engine_intern cats;
	/* blocks of event words, freed by chain_finish */
	uint32_t	**blk;
	size_t		  nblkchunks, capblkchunks;
	uint32_t	  nblk;		/* blocks used; 0 means none */
	bool		  finished;	/* chain_finish done */
	/* each subject's words: words[off[l] .. off[l + 1]) */
	uint64_t	 *off;
	uint32_t	 *words;
	uint32_t	  nlocal;
	uint32_t	 *loc;		/* global -> local id */
	uint32_t	 *submap;	/* local -> global subject */
	uint32_t	 *catmap;	/* local -> global category */
	struct engine_part_writer pw;		/* query mode: the rows */
};

static inline uint32_t *
engine_blk_at(const struct engine_parse_thread *pt, uint32_t b)
{
	return pt->blk[b / BLK_PER_CHUNK] + (size_t)(b % BLK_PER_CHUNK) *
	    BLK_WORDS;
}

struct engine_parse_out {
	unsigned		 nthreads;
	struct engine_parse_thread	*th;
	struct engine_intern	 subs;		/* global subjects */
	char			**cats;		/* global, sorted */
	uint32_t		 ncats;
	/* store mode: words per event (minute, region[, cat + 1]) */
	unsigned		 stride;
	/* query mode: partitions of each thread (th[t].pw), subject cap */
	struct engine_part_hkey	*hkey;		/* the writers' key */
	uint32_t		 nparts;
	uint32_t		 max_subjects;
};

/*
 * Read all of 'in' in 'mode' (PARSE_QUERY needs 'plan'), filling 'rep'
 * and, unless PARSE_CHECK, 'out' with the events and the merged subject
 * and category tables.  A refused file fails with CAIRN_ERR_FORMAT.
 */
int	engine_parse_input(const struct engine_input *in,
	    enum engine_parse_mode mode, const struct engine_plan *plan,
	    struct engine_report *rep, struct engine_parse_out *out);
void	engine_parse_out_release(struct engine_parse_out *o);

/*
 * One partition's subjects after engine_part_group(): subject s (a local
 * id) has the event words grouped[off[s] .. off[s + 1]), in no particular
 * order.
 */
struct engine_part_group {
	struct engine_intern subs;	/* local ids; max: the subject cap */
	uint32_t	  *ids, *words, *grouped;
	size_t		   cap;		/* records each array holds */
	uint64_t	  *off;
	size_t		   offcap;
	uint32_t	   nsubs;
};

/* An empty group whose partitions may hold at most 'max' subjects. */
int	engine_part_group_init(struct engine_part_group *g, uint32_t max);
void	engine_part_group_release(struct engine_part_group *g);
/*
 * Group partition 'p' of every thread of 'po' (query mode, after the
 * parse) into 'g', freeing the partition's chunks.  Each partition is
 * taken once, by one thread.  Returns CAIRN_OK, CAIRN_ERR_NOMEM or
 * CAIRN_ERR_TOOBIG (over the subject cap or UINT32_MAX events of one
 * subject).
 */
int	engine_part_group(struct engine_part_group *g,
	    struct engine_parse_out *po, uint32_t p);

/* The local id in thread 't' of global subject 'g', or UINT32_MAX. */
uint32_t engine_chain_local(const struct engine_parse_out *po, unsigned t,
    uint32_t g);
/* Words in the chain of local subject 'l'. */
size_t	engine_chain_count(const struct engine_parse_thread *pt, uint32_t l);
/* Copy them to 'dst' (room for engine_chain_count()); returns the count. */
size_t	engine_chain_copy(const struct engine_parse_thread *pt, uint32_t l,
	    uint32_t *dst);

/*
 * Take a new 32-byte block of event words in 'pt' (store mode), its index
 * in '*out'; CAIRN_ERR_NOMEM or CAIRN_ERR_TOOBIG (node/engine/chain.c).
 */
int	engine_blk_new(struct engine_parse_thread *pt, uint32_t *out);
/*
 * Copy the blocks of 'pt' into each subject's chain (pt->off, pt->words),
 * freeing them; a no-op once done.
 */
int	engine_chain_finish(struct engine_parse_thread *pt);
/* Finish the chains or partitions of threads whose worker did not. */
int	engine_chain_ends(struct engine_parse_out *o,
	    enum engine_parse_mode mode);
/*
 * Store mode: merge the threads' subject and category tables of 'o' into
 * one global table and one sorted category list, with each thread's maps.
 */
int	engine_merge_tables(struct engine_parse_out *o);

/* ---- paths and reports (node/engine/report.c) ---- */

/* The header line of each input format. */
extern const char *const engine_format_header_at[];
/* strcmp() of two 'char *' for qsort() and bsearch(). */
int	engine_cmp_str(const void *a, const void *b);

/* ---- Readers (reader.c): the bytes under the CSV reader ---- */

enum engine_comp { ENGINE_COMP_NONE, ENGINE_COMP_GZIP, ENGINE_COMP_ZSTD };

struct engine_reader;

/* What the readers accept, in words, for error messages. */
extern const char engine_reader_formats[];

/*
 * Open 'path' ("-" is standard input) and sniff its first bytes: gzip and
 * zstd are decompressed whatever the file's name; Parquet, ORC, Avro,
 * Arrow, zip, bzip2, xz, HDF5 and SQLite files are CAIRN_ERR_FORMAT
 * naming what the file is and what is read instead.  CAIRN_ERR_IO when
 * it cannot be opened or read (a directory included).
 */
int	engine_reader_open(const char *path, struct engine_reader **out)
	    __attribute__((warn_unused_result));
/* Close 'r' (NULL is fine). */
void	engine_reader_close(struct engine_reader *r);
/* A plain (uncompressed) regular file: read at any offset, cut freely. */
bool	engine_reader_splittable(const struct engine_reader *r);
/* Not a regular file (a pipe, a FIFO, a terminal): one pass only. */
bool	engine_reader_is_stream(const struct engine_reader *r);
/* Size of a regular file, compressed; 0 for a stream. */
uint64_t engine_reader_size(const struct engine_reader *r);
enum engine_comp engine_reader_comp(const struct engine_reader *r);
/*
 * The next decompressed bytes, at most 'n', into 'dst': '*got' is 0 only
 * at the end.  Corrupt or cut-short compressed data is CAIRN_ERR_IO
 * naming the file, never a silent short read.
 */
int	engine_reader_read(struct engine_reader *r, char *dst, size_t n,
	    size_t *got) __attribute__((warn_unused_result));
/* Up to 'n' bytes at offset 'off' of a splittable file. */
int	engine_reader_pread(struct engine_reader *r, char *dst, size_t n,
	    uint64_t off, size_t *got) __attribute__((warn_unused_result));
/* Give 'n' bytes back: the next reads return them first. */
int	engine_reader_unread(struct engine_reader *r, const char *b, size_t n)
	    __attribute__((warn_unused_result));

/* ---- The store's files (store.c, store_inputs.c) ---- */

/*
 * Write DIR/name from the bytes 'a' then 'b' through a temporary file,
 * fsync and rename (mode 'mode'): the old file or the new, never half.
 */
int	engine_store_write_file(const char *dir, const char *name,
	    const void *a, size_t alen, const void *b, size_t blen,
	    mode_t mode) __attribute__((warn_unused_result));
/* Read all of DIR/name (at most 'max' bytes); ENOENT gives NOTFOUND. */
int	engine_store_read_file(const char *dir, const char *name, size_t max,
	    char **out, size_t *len) __attribute__((warn_unused_result));

/*
 * The inputs a store holds (DIR/inputs, store_inputs.c): one line per
 * ingested input, its content digest, the segment holding its records
 * and its path when ingested.  A line whose segment is missing (a crash
 * between the two writes) does not count.
 */
struct engine_store_inputs {
	char	*text;		/* the file's lines that count */
	size_t	 len;
};
int	engine_store_inputs_load(const char *dir,
	    struct engine_store_inputs *out) __attribute__((warn_unused_result));
void	engine_store_inputs_release(struct engine_store_inputs *in);
/*
 * Refuse (CAIRN_ERR_EXISTS, naming both and "nothing written") an input
 * 'path' whose digest 'd' the store holds already, or which one of the
 * 'nprev' digests 'prev' (the paths 'prevpaths') of this ingest repeats.
 */
int	engine_store_inputs_check(const struct engine_store_inputs *in,
	    const char *path, const uint8_t d[32], const uint8_t (*prev)[32],
	    char *const *prevpaths, size_t nprev)
	    __attribute__((warn_unused_result));
/*
 * Write DIR/inputs: the lines of 'in' then one for each of the 'n'
 * inputs 'paths' (digests 'd') held by segment 'seg'.
 */
int	engine_store_inputs_write(const char *dir,
	    const struct engine_store_inputs *in, const char *seg,
	    char *const *paths, const uint8_t (*d)[32], size_t n)
	    __attribute__((warn_unused_result));

/*
 * Content digests: BLAKE2b-256 over "cairn-content-v1", the BLAKE2b-256 of
 * each ENGINE_DIGEST_PIECE bytes of the decompressed content in order,
 * and the content's length (8 bytes little-endian).  The same records
 * give the same digest plain or compressed, from a file or a pipe, and
 * whatever the number of threads; the store keeps them so that an input
 * is never ingested twice.
 */
#define ENGINE_DIGEST_PIECE	(64u << 20)

/* Digest what 'r' reads from now on (bytes given back excepted). */
int	engine_reader_digest_start(struct engine_reader *r)
	    __attribute__((warn_unused_result));
/* The digest of everything 'r' read, once it read to the end. */
int	engine_reader_digest(struct engine_reader *r, uint8_t out[32])
	    __attribute__((warn_unused_result));
/*
 * The digest of the regular file 'path': a plain one's pieces hashed on
 * up to 'nth' threads, a compressed one decompressed in one pass (or,
 * with 'plain_only', CAIRN_ERR_UNSUPPORTED without reading it: its parse
 * digests it).  Errors of engine_reader_open(); CAIRN_ERR_INTERNAL for a
 * stream.
 */
int	engine_file_digest(const char *path, unsigned nth, bool plain_only,
	    uint8_t out[32]) __attribute__((warn_unused_result));

/* Online CPUs, at most 8, or 'want' when non-zero. */
unsigned engine_threads(unsigned want);

#endif
