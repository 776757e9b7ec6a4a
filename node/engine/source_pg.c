/*
 * source_pg.c - the PostgreSQL source through libpq (engine_source.h,
 * docs/sources.md).  One connection per run: the session is made
 * read-only, in UTC (a timestamp without time zone is read as UTC), with
 * the configured statement_timeout, the statement of
 * sql_gen.c is sent with its parameters (text; no value is ever spliced
 * into the SQL) and its cell rows are read one at a time (single-row
 * mode, which unlike a cursor leaves PostgreSQL free to plan parallel
 * workers).  While waiting, a stop request of the node cancels the
 * statement on the server.  Each row goes to source.c, which makes it a
 * cell.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/err.h"
#include "node/engine/source_int.h"

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

/* Parse a non-negative integer column of row 'row'. */
static bool
col_u64(const PGresult *pr, int row, int col, uint64_t *v)
{
	const char *s = PQgetvalue(pr, row, col);
	char *end;

	if (PQgetisnull(pr, row, col) || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0';
}

/* Hand the single row of 'pr' to 'rw'. */
static int
rows_add(struct engine_src_rows *rw, const PGresult *pr)
{
	uint64_t v[4];

	if (PQnfields(pr) != 4)
		return cairn_err(CAIRN_ERR_DB, "postgresql: the statement gave "
		    "%d columns, not 4", PQnfields(pr));
	for (int c = 0; c < 4; c++)
		if (!col_u64(pr, 0, c, &v[c]))
			return cairn_err(CAIRN_ERR_DB, "postgresql: column %d "
			    "of a cell row is not a count: '%s'", c + 1,
			    PQgetvalue(pr, 0, c));
	return engine_src_rows_add(rw, v);
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
    const volatile sig_atomic_t *stop, struct engine_src_rows *rw)
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
engine_pg_run(const struct engine_source *s, const struct engine_sql *sql,
    const volatile sig_atomic_t *stop, struct engine_src_rows *rw)
{
	PGconn *c = NULL;
	int r;

	if ((r = pg_connect(s, &c)) == CAIRN_OK &&
	    (r = pg_stream(c, sql, stop, rw)) == CAIRN_OK)
		r = engine_src_rows_sort(rw);
	PQfinish(c);
	return r;
}

int
engine_pg_check(const struct engine_source *s, const struct engine_sql *sql,
    struct engine_source_table_report *out)
{
	PGconn *c = NULL;
	PGresult *pr = NULL;
	uint64_t v[3];
	int r;

	if ((r = pg_connect(s, &c)) != CAIRN_OK)
		goto out;
	pr = PQexecParams(c, sql->text, (int)sql->nparams, NULL,
	    (const char *const *)sql->params, NULL, NULL, 0);
	if (PQresultStatus(pr) != PGRES_TUPLES_OK) {
		r = pg_result_err(pr, false);
		goto out;
	}
	for (int i = 0; i < PQntuples(pr); i++) {
		if (PQnfields(pr) != 3 || !col_u64(pr, i, 0, &v[0]) ||
		    !col_u64(pr, i, 1, &v[1]) || !col_u64(pr, i, 2, &v[2])) {
			r = cairn_err(CAIRN_ERR_DB, "postgresql: bad check "
			    "row");
			goto out;
		}
		if ((r = engine_src_check_add(s, out, v)) != CAIRN_OK)
			goto out;
	}
out:
	PQclear(pr);
	PQfinish(c);
	return r;
}
