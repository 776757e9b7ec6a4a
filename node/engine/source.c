/*
 * source.c - running a SQL push-down source (engine_source.h,
 * docs/sources.md): build the statement of the query's kind in the
 * source's dialect (sql_gen.c), hand it to the client of the source's
 * type (source_pg.c, source_ch.c), and turn the rows it reads back into
 * the cells of a struct engine_result in the embedded engine's order.
 * Every row from a server is checked against the query's domain before
 * it becomes a cell; a ClickHouse cluster's shards each give cells of
 * their own subscribers, added here.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "node/engine/source_int.h"

/* The cell id of row (t, r1, r2) under plan 'p', or false. */
static bool
row_cell(const struct engine_plan *p, const struct engine_cellmap *m,
    const uint64_t v[3], uint64_t *id)
{
	uint64_t R = p->nregions;
	uint32_t a, b = 0;

	if (v[1] > UINT32_MAX || v[2] > UINT32_MAX ||
	    !engine_region_index(m, (uint32_t)v[1], &a))
		return false;
	switch (p->q.kind) {
	case QSPEC_KIND_PRESENCE:
		*id = (uint64_t)a * p->nbuckets + v[0];
		return v[0] < p->nbuckets;
	case QSPEC_KIND_RESIDENTS:
		*id = a;
		return true;
	case QSPEC_KIND_OD:
		/* a day from v[0] to v[0] + 1, both inside the window (v[0]
		 * is the server's number: v[0] + 1 must not wrap) */
		if (!engine_region_index(m, (uint32_t)v[2], &b) ||
		    p->ndays < 2 || v[0] > p->ndays - 2)
			return false;
		*id = (v[0] * R + a) * R + b;
		return true;
	case QSPEC_KIND_MIGRATION:
		if (!engine_region_index(m, (uint32_t)v[2], &b))
			return false;
		*id = (uint64_t)a * R + b;
		return true;
	case QSPEC_KIND_VISITORS:
		*id = (uint64_t)a * p->ndays + v[0];
		return v[0] < p->ndays;
	case QSPEC_KIND_POPCAT:
		*id = (uint64_t)a * p->ncats + v[0];
		return v[0] < p->ncats && v[2] == 0;
	default:
		return false;
	}
}

static int
cmp_cell(const void *x, const void *y)
{
	uint64_t a = ((const struct engine_cell *)x)->id;
	uint64_t b = ((const struct engine_cell *)y)->id;

	return a < b ? -1 : a > b;
}

/* Room for one more cell in 'rw'. */
static int
rows_grow(struct engine_src_rows *rw)
{
	size_t nc;
	struct engine_cell *n;

	if (rw->n < rw->cap)
		return CAIRN_OK;
	if (rw->n >= rw->p->ncells)
		return cairn_err(CAIRN_ERR_DB, "%s: more cell rows than cells",
		    rw->who);
	nc = rw->cap ? rw->cap * 2 : 1024;
	if ((n = realloc(rw->cells, nc * sizeof(*n))) == NULL)
		return CAIRN_ERR_NOMEM;
	rw->cells = n;
	rw->cap = nc;
	return CAIRN_OK;
}

int
engine_src_rows_add(struct engine_src_rows *rw, const uint64_t v[4])
{
	uint64_t id;
	int r;

	if (rw->p->q.kind == QSPEC_KIND_POPCAT && v[2] == 1) {
		/* the events under categories outside the spec's */
		rw->other_cat += v[3];
		return CAIRN_OK;
	}
	if (!row_cell(rw->p, rw->m, v, &id))
		return cairn_err(CAIRN_ERR_DB, "%s: cell row (%" PRIu64
		    ", %" PRIu64 ", %" PRIu64 ") is outside the query's domain",
		    rw->who, v[0], v[1], v[2]);
	if ((r = rows_grow(rw)) != CAIRN_OK)
		return r;
	rw->cells[rw->n].id = id;
	rw->cells[rw->n++].count = v[3];
	return CAIRN_OK;
}

int
engine_src_rows_sort(struct engine_src_rows *rw)
{
	if (rw->n > 0)
		qsort(rw->cells, rw->n, sizeof(*rw->cells), cmp_cell);
	for (size_t i = 1; i < rw->n; i++)
		if (rw->cells[i].id == rw->cells[i - 1].id)
			return cairn_err(CAIRN_ERR_DB, "%s: cell %" PRIu64
			    " came twice", rw->who, rw->cells[i].id);
	return CAIRN_OK;
}

int
engine_src_rows_merge(struct engine_src_rows *dst,
    const struct engine_src_rows *src)
{
	struct engine_cell *m;
	size_t i = 0, j = 0, k = 0, cap = dst->n + src->n;

	if (src->n == 0) {
		dst->other_cat += src->other_cat;
		return CAIRN_OK;
	}
	if ((m = malloc(cap * sizeof(*m))) == NULL)
		return CAIRN_ERR_NOMEM;
	while (i < dst->n || j < src->n) {
		if (j == src->n || (i < dst->n &&
		    dst->cells[i].id < src->cells[j].id))
			m[k++] = dst->cells[i++];
		else if (i == dst->n || src->cells[j].id < dst->cells[i].id)
			m[k++] = src->cells[j++];
		else {
			m[k] = dst->cells[i++];
			m[k++].count += src->cells[j++].count;
		}
	}
	free(dst->cells);
	dst->cells = m;
	dst->n = k;
	dst->cap = cap;
	dst->other_cat += src->other_cat;
	return CAIRN_OK;
}

void
engine_src_rows_release(struct engine_src_rows *rw)
{
	free(rw->cells);
	rw->cells = NULL;
	rw->n = rw->cap = 0;
}

int
engine_src_check_add(const struct engine_source *s,
    struct engine_source_table_report *out, const uint64_t v[3])
{
	struct engine_source_table_report *t;

	if (v[0] >= s->ntables || v[1] > 4)
		return cairn_err(CAIRN_ERR_DB, "%s: bad check row (%" PRIu64
		    ", %" PRIu64 ")", s->type == ENGINE_SOURCE_CLICKHOUSE ?
		    "clickhouse" : "postgresql", v[0], v[1]);
	t = &out[v[0]];
	t->rows += v[2];
	if (v[1] == 1)
		t->empty_id += v[2];
	else if (v[1] == 2)
		t->bad_time += v[2];
	else if (v[1] == 3)
		t->no_cell += v[2];
	else if (v[1] == 4)
		t->unmapped += v[2];
	return CAIRN_OK;
}

int
engine_run_source(const struct qspec *q, const struct engine_source *s,
    const struct engine_cellmap *cells, const volatile sig_atomic_t *stop,
    struct engine_result *res)
{
	struct engine_plan p;
	struct engine_sql sql;
	struct engine_src_rows rw;
	int r;

	memset(&rw, 0, sizeof(rw));
	memset(res, 0, sizeof(*res));
	if ((r = engine_plan_init(&p, q,
	    (uint32_t)engine_cellmap_nregions(cells))) != CAIRN_OK)
		return r;
	if ((r = engine_sql_build(q, s, cells, &sql)) != CAIRN_OK)
		return r;
	rw.p = &p;
	rw.m = cells;
	if (s->type == ENGINE_SOURCE_CLICKHOUSE) {
		rw.who = "clickhouse";
		r = engine_ch_run(s, &sql, stop, &rw);
	} else {
		rw.who = "postgresql";
		r = engine_pg_run(s, &sql, stop, &rw);
	}
	if (r != CAIRN_OK)
		goto out;
	if ((r = engine_result_init(res, &p, engine_cellmap_regions(cells))) !=
	    CAIRN_OK)
		goto out;
	res->cells = rw.cells;
	res->nnz = rw.n;
	res->other_cat = rw.other_cat;
	rw.cells = NULL;
	if ((r = engine_result_cats(res, q)) != CAIRN_OK)
		engine_result_release(res);
out:
	engine_src_rows_release(&rw);
	engine_sql_release(&sql);
	return r;
}

int
engine_check_source(const struct engine_source *s,
    const struct engine_cellmap *cells, struct engine_source_table_report *out)
{
	struct engine_sql sql;
	int r;

	memset(out, 0, s->ntables * sizeof(*out));
	for (size_t i = 0; i < s->ntables; i++)
		snprintf(out[i].table, sizeof(out[i].table), "%s",
		    s->tables[i]);
	if ((r = engine_sql_build_check(s, cells, &sql)) != CAIRN_OK)
		return r;
	if (s->type == ENGINE_SOURCE_CLICKHOUSE)
		r = engine_ch_check(s, &sql, out);
	else
		r = engine_pg_check(s, &sql, out);
	engine_sql_release(&sql);
	return r;
}

int
engine_check_split(const struct engine_source *s, uint64_t *split)
{
	struct engine_sql sql;
	int r;

	if (s->type != ENGINE_SOURCE_CLICKHOUSE || s->nshards == 0 ||
	    s->cluster == NULL)
		return cairn_err(CAIRN_ERR_ARG, "counting split subscribers "
		    "needs a clickhouse:// source with shards and a cluster");
	if ((r = engine_sql_build_split(s, &sql)) != CAIRN_OK)
		return r;
	r = engine_ch_split(s, &sql, split);
	engine_sql_release(&sql);
	return r;
}
