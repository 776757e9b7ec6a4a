/*
 * test_sql_gen.c - the SQL source's options and statements
 * (node/engine/sql_gen.c) without a database: options and their errors,
 * URI schemes (clickhouse:// refused as not yet supported), names quoted
 * as identifiers, values (cell ids, k, the window) only ever passed as
 * parameters, and the kinds a SQL source refuses.  The statements' results
 * are checked against the embedded engine by tests/e2e/source_pg.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/err.h"
#include "node/engine/engine.h"
#include "node/engine/engine_source.h"

static struct engine_cellmap *
cellmap(void)
{
	char path[] = "/tmp/cairn-sqlgen-XXXXXX";
	int fd = mkstemp(path);
	FILE *f;
	struct engine_cellmap *m = NULL;

	assert_true(fd >= 0);
	assert_non_null(f = fdopen(fd, "w"));
	/* A cell id that would break a statement it was spliced into. */
	fputs("cell_id,region_id\nc1,10\nx');DROP TABLE t;--,20\n"
	    "q\"\\,30\n", f);
	fclose(f);
	assert_int_equal(engine_cellmap_load(path, &m), CAIRN_OK);
	unlink(path);
	return m;
}

static void
spec(const char *js, struct qspec *q)
{
	assert_int_equal(qspec_parse_json(js, strlen(js), "q", q), CAIRN_OK);
}

static void
test_options(void **state)
{
	struct engine_source s;
	char list[] = "events.calls, events.sms ,events.mds";

	(void)state;
	engine_source_defaults(&s);
	assert_int_equal(s.ntables, 1);
	assert_string_equal(s.tables[0], "events.calls");
	assert_string_equal(s.subscriber_column, "msisdn");
	assert_int_equal(engine_source_set(&s, "tables", list), CAIRN_OK);
	assert_int_equal(s.ntables, 3);
	assert_string_equal(s.tables[1], "events.sms");
	assert_string_equal(s.tables[2], "events.mds");
	assert_int_equal(engine_source_set(&s, "tables", " , "),
	    CAIRN_ERR_ARG);
	assert_int_equal(engine_source_set(&s, "colour", "red"),
	    CAIRN_ERR_ARG);
	assert_non_null(strstr(cairn_errdesc(CAIRN_ERR_ARG), "colour"));
	assert_int_equal(engine_source_set(&s, "time_column", ""),
	    CAIRN_ERR_ARG);
	assert_int_equal(engine_source_set(&s, "statement_timeout_seconds",
	    "-1"), CAIRN_ERR_ARG);
	assert_int_equal(engine_source_set(&s, "statement_timeout_seconds",
	    "30"), CAIRN_OK);
	assert_int_equal(s.statement_timeout_s, 30);

	assert_int_equal(engine_source_check(&s), CAIRN_ERR_ARG);
	s.uri = "clickhouse://127.0.0.1:8123/db";
	assert_int_equal(engine_source_check(&s), CAIRN_ERR_UNSUPPORTED);
	assert_non_null(strstr(cairn_errdesc(CAIRN_ERR_UNSUPPORTED),
	    "not yet supported"));
	s.uri = "mysql://h/db";
	assert_int_equal(engine_source_check(&s), CAIRN_ERR_ARG);
	s.uri = "postgresql://ro@127.0.0.1/flowdb";
	assert_int_equal(engine_source_check(&s), CAIRN_OK);
	assert_int_equal(s.type, ENGINE_SOURCE_POSTGRESQL);
	s.tables[1] = "events..sms";
	assert_int_equal(engine_source_check(&s), CAIRN_ERR_ARG);
	s.tables[1] = "a.b.c";
	assert_int_equal(engine_source_check(&s), CAIRN_ERR_ARG);
}

static void
test_statement(void **state)
{
	struct engine_source s;
	struct engine_cellmap *m = cellmap();
	struct engine_sql sql;
	struct qspec q;
	char *text;
	size_t len;
	FILE *f;

	(void)state;
	engine_source_defaults(&s);
	s.uri = "postgresql:///x";
	s.tables[0] = "my schema.ca\"lls";
	s.subscriber_column = "Sub\"Id";
	assert_int_equal(engine_source_check(&s), CAIRN_OK);
	spec("{\"kind\": \"visitors\", \"start\": \"2026-01-10\", \"end\": "
	    "\"2026-01-13\", \"k\": 7, \"utc_offset_minutes\": 330}", &q);
	assert_int_equal(engine_sql_build(&q, &s, m, &sql), CAIRN_OK);
	/* names quoted, embedded quotes doubled */
	assert_non_null(strstr(sql.text, "\"my schema\".\"ca\"\"lls\""));
	assert_non_null(strstr(sql.text, "\"Sub\"\"Id\" AS s"));
	/* values are parameters, never text of the statement */
	assert_null(strstr(sql.text, "DROP"));
	assert_null(strstr(sql.text, "2026"));
	assert_null(strstr(sql.text, " 7"));
	assert_non_null(strstr(sql.text, "ORDER BY n DESC, region"));
	assert_true(sql.nparams >= 5);
	/* the cell map arrays, escaped as PostgreSQL array literals */
	assert_string_equal(sql.params[0],
	    "{\"c1\",\"x');DROP TABLE t;--\",\"q\\\"\\\\\"}");
	assert_string_equal(sql.params[1], "{10,20,30}");
	/* the window: local midnight of 2026-01-10 at +5:30, in UTC */
	assert_string_equal(sql.params[3], "2026-01-09 18:30:00+00");
	assert_string_equal(sql.params[4], "2026-01-12 18:30:00+00");
	assert_non_null(f = open_memstream(&text, &len));
	engine_sql_print(&sql, f);
	fclose(f);
	assert_non_null(strstr(text, "-- $1: cell ids of the cell map (an "
	    "array of 3 values)"));
	assert_non_null(strstr(text, "= 7\n"));
	free(text);
	engine_sql_release(&sql);

	/* a configured cell table: the domain's region ids as a parameter */
	s.cell_table = "geo.cells";
	assert_int_equal(engine_sql_build(&q, &s, m, &sql), CAIRN_OK);
	assert_non_null(strstr(sql.text, "FROM \"geo\".\"cells\""));
	assert_string_equal(sql.params[0], "{10,20,30}");
	engine_sql_release(&sql);

	spec("{\"kind\": \"population_by_category\", \"start\": "
	    "\"2026-01-10\", \"end\": \"2026-01-13\", \"categories\": "
	    "[\"b\\\"\", \"a\"]}", &q);
	assert_int_equal(engine_sql_build(&q, &s, m, &sql), CAIRN_ERR_ARG);
	assert_non_null(strstr(cairn_errdesc(CAIRN_ERR_ARG),
	    "category_column"));
	/* region-level tables: the domain as a parameter, categories sorted */
	s.cell_table = NULL;
	s.region_column = "region_id";
	s.category_column = "tariff";
	assert_int_equal(engine_sql_build(&q, &s, m, &sql), CAIRN_OK);
	assert_string_equal(sql.params[0], "{10,20,30}");
	assert_string_equal(sql.params[sql.nparams - 1], "{\"a\",\"b\\\"\"}");
	assert_non_null(strstr(sql.text, "\"tariff\"::text AS cat"));
	assert_non_null(strstr(sql.text, "ORDER BY n DESC, region, ci"));
	assert_null(strstr(sql.text, "cm."));
	engine_sql_release(&sql);
	engine_cellmap_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_statement),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
