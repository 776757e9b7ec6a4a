/*
 * intern.c - an open-addressing hash table that turns strings (subscriber
 * ids, cell ids, categories) into dense ids 0, 1, 2, ... in order of first
 * sight.  Slots are 32 bytes and hold keys of up to 16 bytes inline, so a
 * lookup of a short key touches one cache line; every key is also kept in
 * an arena so ids can be turned back into keys.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "node/engine/engine_int.h"

#define EMPTY	UINT32_MAX

uint64_t
engine_intern_hash(const char *s, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ (n * 0xff51afd7ed558ccdULL), v;

	if (n <= INTERN_INLINE) {
		uint64_t k[2] = { 0, 0 };

		memcpy(k, s, n);
		return engine_intern_hash16(k, n);
	}

	while (n >= 8) {
		memcpy(&v, s, 8);
		h = (h ^ v) * 0xbf58476d1ce4e5b9ULL;
		h ^= h >> 31;
		s += 8;
		n -= 8;
	}
	if (n > 0) {
		v = 0;
		memcpy(&v, s, n);
		h = (h ^ v) * 0x94d049bb133111ebULL;
		h ^= h >> 29;
	}
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 32;
	return h;
}

static struct engine_intern_ent *
table_new(size_t cap)
{
	struct engine_intern_ent *t;

	if ((t = big_alloc(cap * sizeof(*t))) == NULL)
		return NULL;
	memset(t, 0, cap * sizeof(*t));
	for (size_t i = 0; i < cap; i++)
		t[i].id = EMPTY;
	return t;
}

int
engine_intern_init(struct engine_intern *t, size_t hint, uint32_t max)
{
	size_t cap = 64;

	memset(t, 0, sizeof(*t));
	while (cap * 3 < hint * 4)
		cap <<= 1;
	if ((t->tab = table_new(cap)) == NULL)
		return CAIRN_ERR_NOMEM;
	t->cap = cap;
	t->max = max;
	return CAIRN_OK;
}

void
engine_intern_release(struct engine_intern *t)
{
	free(t->tab);
	free(t->arena);
	free(t->koff);
	memset(t, 0, sizeof(*t));
}

void
engine_intern_reset(struct engine_intern *t)
{
	for (size_t i = 0; i < t->cap; i++)
		t->tab[i].id = EMPTY;
	t->n = 0;
	t->alen = 0;
}

static inline bool
ent_is(const struct engine_intern *t, const struct engine_intern_ent *e,
    const char *s, size_t n, uint64_t h, const uint64_t k[2])
{
	if (e->h32 != (uint32_t)(h >> 32) || e->len != n)
		return false;
	if (n <= INTERN_INLINE)
		return e->inl[0] == k[0] && e->inl[1] == k[1];
	return memcmp(t->arena + (t->koff[e->id] >> 8), s, n) == 0;
}

/* The zero-padded inline form of a short key. */
static inline void
pad_key(const char *s, size_t n, uint64_t k[2])
{
	k[0] = k[1] = 0;
	if (n <= INTERN_INLINE)
		memcpy(k, s, n);
}

bool
engine_intern_find(const struct engine_intern *t, const char *s, size_t n,
    uint64_t h, uint32_t *id)
{
	uint64_t k[2];

	pad_key(s, n, k);
	return engine_intern_find_k(t, s, n, h, k, id);
}

bool
engine_intern_find_k(const struct engine_intern *t, const char *s, size_t n,
    uint64_t h, const uint64_t k[2], uint32_t *id)
{
	size_t mask = t->cap - 1, i = h & mask;

	for (;; i = (i + 1) & mask) {
		const struct engine_intern_ent *e = &t->tab[i];

		if (e->id == EMPTY)
			return false;
		if (ent_is(t, e, s, n, h, k)) {
			*id = e->id;
			return true;
		}
	}
}

/* Double the table; slots move to where their key's hash puts them. */
static int
grow(struct engine_intern *t)
{
	size_t ncap = t->cap * 2, mask = ncap - 1;
	struct engine_intern_ent *nt;

	if ((nt = table_new(ncap)) == NULL)
		return CAIRN_ERR_NOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		size_t j, n;
		const char *key;

		if (t->tab[i].id == EMPTY)
			continue;
		key = engine_intern_key(t, t->tab[i].id, &n);
		for (j = engine_intern_hash(key, n) & mask; nt[j].id != EMPTY;
		    j = (j + 1) & mask)
			;
		nt[j] = t->tab[i];
	}
	free(t->tab);
	t->tab = nt;
	t->cap = ncap;
	return CAIRN_OK;
}

int
engine_intern_add(struct engine_intern *t, const char *s, size_t n, uint64_t h,
    uint32_t *id)
{
	uint64_t k[2];

	pad_key(s, n, k);
	return engine_intern_add_k(t, s, n, h, k, id);
}

int
engine_intern_add_k(struct engine_intern *t, const char *s, size_t n,
    uint64_t h, const uint64_t k[2], uint32_t *id)
{
	struct engine_intern_ent *e;
	int r;

	if ((r = engine_intern_add_e(t, s, n, h, k, &e)) != CAIRN_OK)
		return r;
	*id = e->id;
	return CAIRN_OK;
}

int
engine_intern_add_e(struct engine_intern *t, const char *s, size_t n,
    uint64_t h, const uint64_t k[2], struct engine_intern_ent **out)
{
	size_t mask = t->cap - 1, i = h & mask;
	struct engine_intern_ent *e;
	uint32_t id;
	int r;

	for (;; i = (i + 1) & mask) {
		e = &t->tab[i];
		if (e->id == EMPTY)
			break;
		if (ent_is(t, e, s, n, h, k)) {
			*out = e;
			return CAIRN_OK;
		}
	}
	if (t->n >= t->max)
		return cairn_err(CAIRN_ERR_TOOBIG, "more than %u distinct keys",
		    t->max);
	if (n > 255)
		return CAIRN_ERR_INTERNAL;
	if (t->alen + n > t->acap) {
		size_t nc = t->acap ? t->acap * 2 : 4096;
		char *na;

		while (nc < t->alen + n)
			nc *= 2;
		if ((na = realloc(t->arena, nc)) == NULL)
			return CAIRN_ERR_NOMEM;
		t->arena = na;
		t->acap = nc;
	}
	if (t->n >= t->kcap) {
		size_t nc = t->kcap ? t->kcap * 2 : 1024;
		uint64_t *nk;

		if ((nk = realloc(t->koff, nc * sizeof(*nk))) == NULL)
			return CAIRN_ERR_NOMEM;
		t->koff = nk;
		t->kcap = nc;
	}
	memcpy(t->arena + t->alen, s, n);
	t->koff[t->n] = (uint64_t)t->alen << 8 | n;
	t->alen += n;
	memset(e, 0, sizeof(*e));
	e->h32 = (uint32_t)(h >> 32);
	e->id = id = t->n++;
	e->len = (uint8_t)n;
	e->inl[0] = k[0];
	e->inl[1] = k[1];
	if ((size_t)t->n * 4 > t->cap * 3) {
		if ((r = grow(t)) != CAIRN_OK)
			return r;
		/* find the slot again in the new table */
		mask = t->cap - 1;
		for (i = h & mask; t->tab[i].id != id; i = (i + 1) & mask)
			;
		e = &t->tab[i];
	}
	*out = e;
	return CAIRN_OK;
}

const char *
engine_intern_key(const struct engine_intern *t, uint32_t id, size_t *n)
{
	*n = t->koff[id] & 0xff;
	return t->arena + (t->koff[id] >> 8);
}
