/*
 * source_pg.c - the PostgreSQL source through libpq (engine_source.h,
 * docs/sources.md).  One connection per run: the session is made
 * read-only, in UTC (a timestamp without time zone is read as UTC), with
 * the configured statement_timeout, the statement of
 * sql_gen.c is sent with its parameters (text; no value is ever spliced
 * into the SQL) and its cell rows are read one at a time (single-row
 * mode, which unlike a cursor leaves PostgreSQL free to plan parallel
 * workers).  While waiting, a stop request of the node cancels the
 * statement on the server.  Rows become the cells of a struct
 * engine_result in the embedded engine's row-major order.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/err.h"
#include "node/engine/engine_int.h"
#include "node/engine/engine_source.h"

/* The first line of libpq's or the server's message. */
static int
pg_fail(int code, const char *what, const char *msg)
{
	size_t n = strcspn(msg, "\n");

	return cairn_err(code, "postgresql: %s: %.*s", what, (int)(n > 400 ?
	    400 : n), msg);
}

static int
pg_connect(const struct engine_source *s, PGconn **out)
{
	PGconn *c;
	PGresult *pr;
	char tmo[32];
	const char *vals[1];
	int r = CAIRN_OK;

	*out = NULL;
	if ((c = PQconnectdb(s->uri)) == NULL)
		return CAIRN_ERR_NOMEM;
	if (PQstatus(c) != CONNECTION_OK) {
		r = pg_fail(CAIRN_ERR_NET, "cannot connect", PQerrorMessage(c));
		PQfinish(c);
		return r;
	}
	snprintf(tmo, sizeof(tmo), "%" PRId64 "s", s->statement_timeout_s);
	vals[0] = tmo;
	pr = PQexecParams(c, "SELECT set_config('statement_timeout', $1, "
	    "false), set_config('default_transaction_read_only', 'on', false), "
	    "set_config('TimeZone', 'UTC', false), "
	    "set_config('application_name', 'cairn-node', false)", 1, NULL,
	    vals, NULL, NULL, 0);
	if (PQresultStatus(pr) != PGRES_TUPLES_OK)
		r = pg_fail(CAIRN_ERR_DB, "session setup",
		    PQresultErrorMessage(pr));
	PQclear(pr);
	if (r != CAIRN_OK) {
		PQfinish(c);
		return r;
	}
	*out = c;
	return CAIRN_OK;
}

/* Parse a non-negative integer column. */
static bool
col_u64(const PGresult *pr, int col, uint64_t *v)
{
	const char *s = PQgetvalue(pr, 0, col);
	char *end;

	if (PQgetisnull(pr, 0, col) || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0';
}

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
		if (!engine_region_index(m, (uint32_t)v[2], &b) ||
		    v[0] + 1 >= p->ndays)
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

struct pg_rows {
	const struct engine_plan	*p;
	const struct engine_cellmap	*m;
	struct engine_cell		*cells;
	size_t				 n, cap;
	uint64_t			 other_cat;	/* popcat */
};

static int
rows_add(struct pg_rows *rw, const PGresult *pr)
{
	uint64_t v[4], id;

	if (PQnfields(pr) != 4)
		return cairn_err(CAIRN_ERR_DB, "postgresql: the statement gave "
		    "%d columns, not 4", PQnfields(pr));
	for (int c = 0; c < 4; c++)
		if (!col_u64(pr, c, &v[c]))
			return cairn_err(CAIRN_ERR_DB, "postgresql: column %d "
			    "of a cell row is not a count: '%s'", c + 1,
			    PQgetvalue(pr, 0, c));
	if (rw->p->q.kind == QSPEC_KIND_POPCAT && v[2] == 1) {
		/* the events under categories outside the spec's */
		rw->other_cat += v[3];
		return CAIRN_OK;
	}
	if (!row_cell(rw->p, rw->m, v, &id))
		return cairn_err(CAIRN_ERR_DB, "postgresql: cell row (%" PRIu64
		    ", %" PRIu64 ", %" PRIu64 ") is outside the query's domain",
		    v[0], v[1], v[2]);
	if (rw->n == rw->cap) {
		size_t nc = rw->cap ? rw->cap * 2 : 1024;
		struct engine_cell *n;

		if (rw->n >= rw->p->ncells)
			return cairn_err(CAIRN_ERR_DB, "postgresql: more cell "
			    "rows than cells");
		if ((n = realloc(rw->cells, nc * sizeof(*n))) == NULL)
			return CAIRN_ERR_NOMEM;
		rw->cells = n;
		rw->cap = nc;
	}
	rw->cells[rw->n].id = id;
	rw->cells[rw->n++].count = v[3];
	return CAIRN_OK;
}

/*
 * Wait for input on 'c'; when '*stop' is set, ask the server to cancel
 * (once).  Returns CAIRN_OK or an error.
 */
static int
pg_wait(PGconn *c, const volatile sig_atomic_t *stop, bool *cancelled)
{
	struct pollfd pfd;

	while (PQisBusy(c)) {
		if (stop != NULL && *stop != 0 && !*cancelled) {
			PGcancel *cn = PQgetCancel(c);
			char eb[256];

			*cancelled = true;
			if (cn != NULL) {
				(void)PQcancel(cn, eb, sizeof(eb));
				PQfreeCancel(cn);
			}
		}
		pfd.fd = PQsocket(c);
		pfd.events = POLLIN;
		if (pfd.fd < 0)
			return pg_fail(CAIRN_ERR_NET, "connection lost",
			    PQerrorMessage(c));
		if (poll(&pfd, 1, 100) < 0 && errno != EINTR)
			return cairn_err(CAIRN_ERR_IO, "postgresql: poll: %s",
			    strerror(errno));
		if (!PQconsumeInput(c))
			return pg_fail(CAIRN_ERR_NET, "connection lost",
			    PQerrorMessage(c));
	}
	return CAIRN_OK;
}

/* The error of a failed result: cancelled, timed out, or the server's. */
static int
pg_result_err(const PGresult *pr, bool cancelled)
{
	const char *st = PQresultErrorField(pr, PG_DIAG_SQLSTATE);

	if (st != NULL && strcmp(st, "57014") == 0)
		return cancelled ? cairn_err(CAIRN_ERR_CANCELLED, "postgresql: "
		    "the statement was cancelled (the node is stopping)") :
		    cairn_err(CAIRN_ERR_TIMEOUT, "postgresql: the statement "
		    "ran over statement_timeout_seconds");
	return pg_fail(CAIRN_ERR_DB, "the statement failed",
	    PQresultErrorMessage(pr));
}

/* Run 'sql' on 'c', handing each row to 'rw' (single-row mode). */
static int
pg_stream(PGconn *c, const struct engine_sql *sql,
    const volatile sig_atomic_t *stop, struct pg_rows *rw)
{
	PGresult *pr;
	bool cancelled = false;
	int r = CAIRN_OK, r2;

	if (!PQsendQueryParams(c, sql->text, (int)sql->nparams, NULL,
	    (const char *const *)sql->params, NULL, NULL, 0))
		return pg_fail(CAIRN_ERR_NET, "cannot send the statement",
		    PQerrorMessage(c));
	(void)PQsetSingleRowMode(c);
	for (;;) {
		if ((r2 = pg_wait(c, stop, &cancelled)) != CAIRN_OK)
			return r2;
		if ((pr = PQgetResult(c)) == NULL)
			break;
		switch (PQresultStatus(pr)) {
		case PGRES_SINGLE_TUPLE:
			if (r == CAIRN_OK)
				r = rows_add(rw, pr);
			break;
		case PGRES_TUPLES_OK:
			break;
		default:
			if (r == CAIRN_OK)
				r = pg_result_err(pr, cancelled);
		}
		PQclear(pr);
	}
	if (r == CAIRN_OK && cancelled)
		r = cairn_err(CAIRN_ERR_CANCELLED, "postgresql: cancelled (the "
		    "node is stopping)");
	return r;
}

int
engine_run_source(const struct qspec *q, const struct engine_source *s,
    const struct engine_cellmap *cells, const volatile sig_atomic_t *stop,
    struct engine_result *res)
{
	struct engine_plan p;
	struct engine_sql sql;
	struct pg_rows rw;
	PGconn *c = NULL;
	int r;

	memset(&rw, 0, sizeof(rw));
	memset(res, 0, sizeof(*res));
	if (s->type != ENGINE_SOURCE_POSTGRESQL)
		return cairn_err(CAIRN_ERR_UNSUPPORTED, "only postgresql:// "
		    "sources are supported");
	if ((r = engine_plan_init(&p, q,
	    (uint32_t)engine_cellmap_nregions(cells))) != CAIRN_OK)
		return r;
	if ((r = engine_sql_build(q, s, cells, &sql)) != CAIRN_OK)
		return r;
	rw.p = &p;
	rw.m = cells;
	if ((r = pg_connect(s, &c)) != CAIRN_OK ||
	    (r = pg_stream(c, &sql, stop, &rw)) != CAIRN_OK)
		goto out;
	if (rw.n > 0)
		qsort(rw.cells, rw.n, sizeof(*rw.cells), cmp_cell);
	for (size_t i = 1; i < rw.n; i++)
		if (rw.cells[i].id == rw.cells[i - 1].id) {
			r = cairn_err(CAIRN_ERR_DB, "postgresql: cell %" PRIu64
			    " came twice", rw.cells[i].id);
			goto out;
		}
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
	free(rw.cells);
	engine_sql_release(&sql);
	PQfinish(c);
	return r;
}

int
engine_check_source(const struct engine_source *s,
    const struct engine_cellmap *cells, struct engine_source_table_report *out)
{
	struct engine_sql sql;
	PGconn *c = NULL;
	PGresult *pr = NULL;
	int r;

	memset(out, 0, s->ntables * sizeof(*out));
	for (size_t i = 0; i < s->ntables; i++)
		snprintf(out[i].table, sizeof(out[i].table), "%s",
		    s->tables[i]);
	if (s->type != ENGINE_SOURCE_POSTGRESQL)
		return cairn_err(CAIRN_ERR_UNSUPPORTED, "only postgresql:// "
		    "sources are supported");
	if ((r = engine_sql_build_check(s, cells, &sql)) != CAIRN_OK)
		return r;
	if ((r = pg_connect(s, &c)) != CAIRN_OK)
		goto out;
	pr = PQexecParams(c, sql.text, (int)sql.nparams, NULL,
	    (const char *const *)sql.params, NULL, NULL, 0);
	if (PQresultStatus(pr) != PGRES_TUPLES_OK) {
		r = pg_result_err(pr, false);
		goto out;
	}
	for (int i = 0; i < PQntuples(pr); i++) {
		uint64_t tab = strtoull(PQgetvalue(pr, i, 0), NULL, 10);
		uint64_t why = strtoull(PQgetvalue(pr, i, 1), NULL, 10);
		uint64_t n = strtoull(PQgetvalue(pr, i, 2), NULL, 10);
		struct engine_source_table_report *t;

		if (tab >= s->ntables || why > 4) {
			r = cairn_err(CAIRN_ERR_DB, "postgresql: bad check "
			    "row");
			goto out;
		}
		t = &out[tab];
		t->rows += n;
		if (why == 1)
			t->empty_id += n;
		else if (why == 2)
			t->bad_time += n;
		else if (why == 3)
			t->no_cell += n;
		else if (why == 4)
			t->unmapped += n;
	}
out:
	PQclear(pr);
	PQfinish(c);
	engine_sql_release(&sql);
	return r;
}
