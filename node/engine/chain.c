/*
 * chain.c - the end of a store-mode parse: each thread's subjects' event
 * words, staged in 32-byte blocks while reading (ingest_csv.c), are copied
 * into one array in subject order; the threads' subject and category
 * tables are merged into one global table with each thread's map into
 * it; and the parse output is released.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "node/engine/engine_int.h"

int
engine_blk_new(struct engine_parse_thread *pt, uint32_t *out)
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
		if ((pt->blk[pt->nblkchunks] = big_alloc(BLK_PER_CHUNK *
		    BLK_WORDS * sizeof(uint32_t))) == NULL)
			return CAIRN_ERR_NOMEM;
		pt->nblkchunks++;
		if (pt->nblk == 0)
			pt->nblk = 1;	/* block 0 means "none" */
	}
	*out = pt->nblk++;
	return CAIRN_OK;
}

/*
 * Flush the words still staged in the table's slots, then copy every
 * block's words to its subject's place in one array (blocks in the order
 * they were written, so each subject's words keep their order), freeing
 * the blocks as it goes.
 */
int
engine_chain_finish(struct engine_parse_thread *pt)
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
		struct engine_intern_ent *e = &pt->subs.tab[i];
		uint32_t b, *blk;

		if (e->id == UINT32_MAX)
			continue;
		if (e->fill > 0) {
			if ((r = engine_blk_new(pt, &b)) != CAIRN_OK)
				return r;
			blk = engine_blk_at(pt, b);
			blk[0] = e->id;
			memcpy(blk + 1, e->stage, e->fill * sizeof(uint32_t));
			e->fill = 0;
		}
		off[e->id + 1] = e->cnt;
	}
	for (size_t l = 0; l < n; l++)
		off[l + 1] += off[l];
	if ((pt->words = big_alloc((off[n] ? off[n] : 1) *
	    sizeof(uint32_t))) == NULL)
		return CAIRN_ERR_NOMEM;
	if ((cur = malloc((n ? n : 1) * sizeof(*cur))) == NULL)
		return CAIRN_ERR_NOMEM;
	memcpy(cur, off, n * sizeof(*cur));
	for (uint32_t b = 1; b < pt->nblk; b++) {
		const uint32_t *blk = engine_blk_at(pt, b);
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

uint32_t
engine_chain_local(const struct engine_parse_out *po, unsigned t, uint32_t g)
{
	const struct engine_parse_thread *pt = &po->th[t];

	if (t == 0)
		return g < pt->nlocal ? g : UINT32_MAX;
	return pt->loc[g];
}

size_t
engine_chain_count(const struct engine_parse_thread *pt, uint32_t l)
{
	return (size_t)(pt->off[l + 1] - pt->off[l]);
}

size_t
engine_chain_copy(const struct engine_parse_thread *pt, uint32_t l,
    uint32_t *dst)
{
	size_t n = engine_chain_count(pt, l);

	memcpy(dst, pt->words + pt->off[l], n * sizeof(uint32_t));
	return n;
}

/* Finish the chains or partitions of threads whose worker did not. */
int
engine_chain_ends(struct engine_parse_out *o, enum engine_parse_mode mode)
{
	int r;

	for (unsigned t = 0; t < o->nthreads; t++)
		if ((r = mode == PARSE_QUERY ?
		    (o->th[t].pw.stage == NULL ? CAIRN_OK :
		    engine_part_writer_finish(&o->th[t].pw)) :
		    engine_chain_finish(&o->th[t])) != CAIRN_OK)
			return r;
	return CAIRN_OK;
}

/* Store mode: one subject table and one category list for all threads. */
int
engine_merge_tables(struct engine_parse_out *o)
{
	struct engine_intern cats;
	uint32_t id;
	int r;

	/* Thread 0's subjects become the global table. */
	o->subs = o->th[0].subs;
	memset(&o->th[0].subs, 0, sizeof(o->th[0].subs));
	o->subs.max = o->max_subjects;
	for (unsigned t = 1; t < o->nthreads; t++) {
		struct engine_parse_thread *pt = &o->th[t];

		if (pt->subs.n > 0 && (pt->submap = malloc(pt->subs.n *
		    sizeof(uint32_t))) == NULL)
			return CAIRN_ERR_NOMEM;
		for (uint32_t i = 0; i < pt->subs.n; i++) {
			size_t n;
			const char *k;

			/* the slot of a key 16 ahead, so misses overlap */
			if (i + 16 < pt->subs.n) {
				k = engine_intern_key(&pt->subs, i + 16, &n);
				engine_intern_prefetch(&o->subs,
				    engine_intern_hash(k, n));
			}
			k = engine_intern_key(&pt->subs, i, &n);
			if ((r = engine_intern_add(&o->subs, k, n,
			    engine_intern_hash(k, n),
			    &pt->submap[i])) != CAIRN_OK)
				return r;
		}
		engine_intern_release(&pt->subs);
	}
	/* Where each global subject is in each thread. */
	for (unsigned t = 1; t < o->nthreads; t++) {
		struct engine_parse_thread *pt = &o->th[t];

		if ((pt->loc = malloc(((size_t)o->subs.n + 1) *
		    sizeof(uint32_t))) == NULL)
			return CAIRN_ERR_NOMEM;
		memset(pt->loc, 0xff, ((size_t)o->subs.n + 1) *
		    sizeof(uint32_t));
		for (uint32_t i = 0; i < pt->nlocal; i++)
			pt->loc[pt->submap[i]] = i;
	}
	/* Categories: one sorted list, and each thread's map into it. */
	if ((r = engine_intern_init(&cats, 64, UINT32_MAX - 1)) != CAIRN_OK)
		return r;
	for (unsigned t = 0; t < o->nthreads; t++)
		for (uint32_t i = 0; i < o->th[t].cats.n; i++) {
			size_t n;
			const char *k = engine_intern_key(&o->th[t].cats, i,
			    &n);

			if ((r = engine_intern_add(&cats, k, n,
			    engine_intern_hash(k, n),
			    &id)) != CAIRN_OK)
				goto out;
		}
	if (cats.n > 0 && (o->cats = calloc(cats.n, sizeof(char *))) == NULL) {
		r = CAIRN_ERR_NOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < cats.n; i++) {
		size_t n;
		const char *k = engine_intern_key(&cats, i, &n);

		if ((o->cats[i] = strndup(k, n)) == NULL) {
			r = CAIRN_ERR_NOMEM;
			goto out;
		}
		o->ncats++;
	}
	if (o->ncats > 0)
		qsort(o->cats, o->ncats, sizeof(char *), engine_cmp_str);
	for (unsigned t = 0; t < o->nthreads; t++) {
		struct engine_parse_thread *pt = &o->th[t];

		if (pt->cats.n == 0)
			continue;
		if ((pt->catmap = malloc(pt->cats.n * sizeof(uint32_t))) ==
		    NULL) {
			r = CAIRN_ERR_NOMEM;
			goto out;
		}
		for (uint32_t i = 0; i < pt->cats.n; i++) {
			size_t n;
			const char *k = engine_intern_key(&pt->cats, i, &n);
			char *key = strndup(k, n), **hit;

			if (key == NULL) {
				r = CAIRN_ERR_NOMEM;
				goto out;
			}
			hit = bsearch(&key, o->cats, o->ncats, sizeof(char *),
			    engine_cmp_str);
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
	engine_intern_release(&cats);
	return r;
}

void
engine_parse_out_release(struct engine_parse_out *o)
{
	if (o->th != NULL)
		for (unsigned t = 0; t < o->nthreads; t++) {
			struct engine_parse_thread *pt = &o->th[t];

			engine_intern_release(&pt->subs);
			engine_intern_release(&pt->cats);
			for (size_t c = 0; c < pt->nblkchunks; c++)
				free(pt->blk[c]);
			free(pt->blk);
			free(pt->off);
			free(pt->words);
			free(pt->loc);
			free(pt->submap);
			free(pt->catmap);
			engine_part_writer_release(&pt->pw);
		}
	free(o->th);
	if (o->hkey != NULL)
		explicit_bzero(o->hkey, sizeof(*o->hkey));
	free(o->hkey);
	engine_intern_release(&o->subs);
	for (uint32_t i = 0; i < o->ncats; i++)
		free(o->cats[i]);
	free(o->cats);
	memset(o, 0, sizeof(*o));
}
