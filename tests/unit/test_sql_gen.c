/*
 * test_sql_gen.c - the SQL source's options and statements
 * (node/engine/sql_gen.c) without a database: options and their errors,
 * URI schemes and clickhouse:// URIs taken apart, shards, ClickHouse
 * settings and the cluster, check-data's split-subscriber statement, names quoted as
 * identifiers in each dialect, values (cell ids, k, the window) only ever
 * passed as parameters (PostgreSQL) or as external tables and numbers the
 * node wrote (ClickHouse), and the kinds a SQL source refuses.  The
 * statements' results are checked against the embedded engine by
 * tests/e2e/source_pg.sh and tests/e2e/source_ch.sh.
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
#include "node/engine/source_int.h"

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

/* The default source options with 'uri', checked. */
static void
source(struct engine_source *s, const char *uri)
{
	engine_source_defaults(s);
	s->uri = uri;
	assert_int_equal(engine_source_check(s), CAIRN_OK);
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
	assert_int_equal(engine_source_check(&s), CAIRN_OK);
	assert_int_equal(s.type, ENGINE_SOURCE_CLICKHOUSE);
	s.uri = "clickhouse://127.0.0.1/db";
	assert_int_equal(engine_source_check(&s), CAIRN_ERR_ARG);
	assert_non_null(strstr(cairn_errdesc(CAIRN_ERR_ARG), "port"));
	s.uri = "clickhouse://127.0.0.1:8123";
	assert_int_equal(engine_source_check(&s), CAIRN_ERR_ARG);
	assert_non_null(strstr(cairn_errdesc(CAIRN_ERR_ARG), "DATABASE"));
	s.uri = "clickhouse://127.0.0.1:99999/db";
	assert_int_equal(engine_source_check(&s), CAIRN_ERR_ARG);
	s.uri = "clickhouse://ro:p%40ss%3Aw@ch.example:8123/c%64r";
	assert_int_equal(engine_source_check(&s), CAIRN_OK);
	{
		struct engine_ch_uri u;

		assert_int_equal(engine_ch_uri_parse(s.uri, &u), CAIRN_OK);
		assert_string_equal(u.user, "ro");
		assert_string_equal(u.password, "p@ss:w");
		assert_string_equal(u.host, "ch.example");
		assert_int_equal(u.port, 8123);
		assert_string_equal(u.database, "cdr");
		assert_int_equal(engine_ch_uri_parse("clickhouse://"
		    "h:1/db", &u), CAIRN_OK);
		assert_string_equal(u.user, "default");
		assert_string_equal(u.password, "");
		assert_int_equal(engine_ch_uri_parse("clickhouse://"
		    "u:%zz@h:1/db", &u), CAIRN_ERR_ARG);
		assert_null(strstr(cairn_errdesc(CAIRN_ERR_ARG), "zz"));
	}
	assert_int_equal(engine_source_set(&s, "shards",
	    "127.0.0.1:8123, 127.0.0.1:8124"), CAIRN_OK);
	assert_int_equal(s.nshards, 2);
	assert_string_equal(s.shards[1], "127.0.0.1:8124");
	assert_int_equal(engine_source_check(&s), CAIRN_OK);
	assert_int_equal(engine_source_set(&s, "shards", "h:1,h/x:2"),
	    CAIRN_OK);
	assert_int_equal(engine_source_check(&s), CAIRN_ERR_ARG);
	assert_non_null(strstr(cairn_errdesc(CAIRN_ERR_ARG), "h/x:2"));
	assert_int_equal(engine_source_set(&s, "shards", "h:1"), CAIRN_OK);
	s.uri = "postgresql://ro@127.0.0.1/flowdb";
	assert_int_equal(engine_source_check(&s), CAIRN_ERR_ARG);
	assert_non_null(strstr(cairn_errdesc(CAIRN_ERR_ARG),
	    "clickhouse:// sources only"));
	s.nshards = 0;
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

/* The ClickHouse settings and the cluster: what is taken, what refused. */
static void
test_settings(void **state)
{
	struct engine_source s;
	struct engine_sql sql;
	static const struct {
		const char	*val, *err;
	} bad[] = {
		{ "max_memory_usage", "not name=value" },
		{ "=1", "not name=value" },
		{ "x=", "not name=value" },
		{ "Max=1", "the name is not" },
		{ "a-b=1", "the name is not" },
		{ "a=b'c", "the value is not" },
		{ "a=b&c=d", "the value is not" },
		{ "join_use_nulls=0", "the node's own" },
		{ "max_execution_time=5", "statement_timeout_seconds" },
		{ "query_id=x", "the node's own" },
		{ "database=other", "the node's own" },
		{ "readonly=0", "the node's own" },
		{ "cm_structure=x", "external table" },
		{ "cm_format=CSV", "external table" },
		{ "cats_types=String", "external table" },
		{ "a=12345678901234567890123456789012345678901234567890123456789012345",
		    "the value is not" },
	};

	(void)state;
	engine_source_defaults(&s);
	s.uri = "clickhouse://127.0.0.1:8123/db";
	assert_int_equal(engine_source_set(&s, "settings",
	    "max_bytes_before_external_group_by=4000000000, "
	    "max_memory_usage=8000000000,distributed_aggregation_memory_"
	    "efficient=1"), CAIRN_OK);
	assert_int_equal(s.nsettings, 3);
	assert_string_equal(s.settings[1], "max_memory_usage=8000000000");
	assert_int_equal(engine_source_check(&s), CAIRN_OK);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(engine_source_set(&s, "settings", bad[i].val),
		    CAIRN_OK);
		assert_int_equal(engine_source_check(&s), CAIRN_ERR_ARG);
		if (strstr(cairn_errdesc(CAIRN_ERR_ARG), bad[i].err) == NULL)
			fail_msg("'%s': '%s' has no '%s'", bad[i].val,
			    cairn_errdesc(CAIRN_ERR_ARG), bad[i].err);
	}
	/* real settings that end like an external table's parameter */
	assert_int_equal(engine_source_set(&s, "settings",
	    "date_time_input_format=best_effort,"
	    "allow_suspicious_low_cardinality_types=1"), CAIRN_OK);
	assert_int_equal(engine_source_check(&s), CAIRN_OK);
	assert_int_equal(engine_source_set(&s, "settings", "a=1"), CAIRN_OK);
	s.uri = "postgresql://ro@127.0.0.1/flowdb";
	assert_int_equal(engine_source_check(&s), CAIRN_ERR_ARG);
	assert_non_null(strstr(cairn_errdesc(CAIRN_ERR_ARG), "ALTER ROLE"));
	s.nsettings = 0;

	/* cluster: ClickHouse with shards only; the split statement */
	s.uri = "clickhouse://127.0.0.1:8123/db";
	assert_int_equal(engine_source_set(&s, "cluster", "cdr_cluster"),
	    CAIRN_OK);
	assert_int_equal(engine_source_check(&s), CAIRN_ERR_ARG);
	assert_non_null(strstr(cairn_errdesc(CAIRN_ERR_ARG), "needs 'shards'"));
	assert_int_equal(engine_sql_build_split(&s, &sql), CAIRN_ERR_ARG);
	assert_int_equal(engine_source_set(&s, "shards", "h:1, h:2"),
	    CAIRN_OK);
	assert_int_equal(engine_source_set(&s, "tables", "calls, cdr.sms"),
	    CAIRN_OK);
	assert_int_equal(engine_source_check(&s), CAIRN_OK);
	assert_int_equal(engine_sql_build_split(&s, &sql), CAIRN_OK);
	assert_non_null(strstr(sql.text, "cluster(\"cdr_cluster\", "
	    "currentDatabase(), \"calls\")"));
	assert_non_null(strstr(sql.text, "cluster(\"cdr_cluster\", \"cdr\", "
	    "\"sms\")"));
	assert_non_null(strstr(sql.text, "FROM \"cdr\".\"sms\""));
	assert_non_null(strstr(sql.text, "GLOBAL IN"));
	assert_non_null(strstr(sql.text, "WHERE gn > n"));
	engine_sql_release(&sql);
	assert_int_equal(engine_source_set(&s, "cluster", ""), CAIRN_ERR_ARG);
	s.uri = "postgresql://ro@127.0.0.1/flowdb";
	s.nshards = 0;
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
	/*
	 * the region read from the domain's list (its true number of
	 * distinct values for the planner), LEFT JOINed: no cell lost
	 */
	assert_string_equal(sql.params[2], "{10,20,30}");
	assert_non_null(strstr(sql.text, "SELECT u.cell AS cell, d.region AS "
	    "region FROM unnest($1::text[], $2::bigint[]) AS u (cell, region)\n"
	    "\tLEFT JOIN unnest($3::bigint[]) AS d (region) ON d.region = "
	    "u.region"));
	/* the window: local midnight of 2026-01-10 at +5:30, in UTC */
	assert_string_equal(sql.params[4], "2026-01-09 18:30:00+00");
	assert_string_equal(sql.params[5], "2026-01-12 18:30:00+00");
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

/* Count the occurrences of 'needle' in 'hay'. */
static size_t
count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL;
	    p += strlen(needle))
		n++;
	return n;
}

/* The ClickHouse dialect: no value in the text but numbers, no WITH. */
static void
test_statement_ch(void **state)
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
	s.uri = "clickhouse://127.0.0.1:8123/cdr";
	s.tables[0] = "my db.ca\"ll\\s";
	s.subscriber_column = "Sub\"Id";
	assert_int_equal(engine_source_check(&s), CAIRN_OK);
	spec("{\"kind\": \"visitors\", \"start\": \"2026-01-10\", \"end\": "
	    "\"2026-01-13\", \"k\": 7, \"utc_offset_minutes\": 330}", &q);
	assert_int_equal(engine_sql_build(&q, &s, m, &sql), CAIRN_OK);
	/* names quoted with backslash escapes */
	assert_non_null(strstr(sql.text, "\"my db\".\"ca\\\"ll\\\\s\""));
	assert_non_null(strstr(sql.text, "\"Sub\\\"Id\" AS s"));
	/* no cell id in the text: the map is an external table */
	assert_null(strstr(sql.text, "DROP"));
	assert_null(strstr(sql.text, "c1"));
	assert_null(strstr(sql.text, "WITH"));
	assert_null(strstr(sql.text, "OVER"));
	/* cells mapped by transform() of cm's columns, not a join (twice:
	   visitors reads the events for the ranking and for the home) */
	assert_null(strstr(sql.text, "JOIN cm"));
	assert_int_equal(count(sql.text, "transform(e.cell, tupleElement("
	    "(SELECT groupArray(cell), groupArray(region) FROM cm), 1),"), 2);
	assert_non_null(strstr(sql.text, "WHERE region != "
	    "toUInt64(18446744073709551615) AND e.s IS NOT NULL"));
	assert_non_null(strstr(sql.text, "ALL LEFT JOIN"));
	/* the top k sorts an array per (subscriber, day); the home is one
	   max() of the packed (n, region), with the wrap refused */
	assert_non_null(strstr(sql.text, "arraySort(y -> (-tupleElement(y, 2), "
	    "tupleElement(y, 1))"));
	assert_int_equal(count(sql.text, "arraySort"), 1);
	assert_non_null(strstr(sql.text, "4294967295 - max(n * 4294967296 + "
	    "(4294967295 - region) + throwIf(n > 4294967295)) % 4294967296 "
	    "AS region"));
	assert_true(sql.inline_values);
	assert_int_equal(sql.next, 1);
	assert_string_equal(sql.ext[0].name, "cm");
	assert_string_equal(sql.ext[0].structure, "cell String, region UInt64");
	/* TabSeparated escapes: the backslash doubled */
	assert_string_equal(sql.ext[0].data,
	    "c1\t10\nx');DROP TABLE t;--\t20\nq\"\\\\\t30\n");
	/* the window: local midnight of 2026-01-10 at +5:30, epoch seconds */
	assert_non_null(strstr(sql.text, "toDateTime(1767983400)"));
	assert_non_null(strstr(sql.text, "rk <= toInt64(7)"));
	assert_non_null(f = open_memstream(&text, &len));
	engine_sql_print(&sql, f);
	fclose(f);
	assert_non_null(strstr(text, "-- external table cm (cell String, "
	    "region UInt64): the cell map (cell, region), 3 rows"));
	assert_non_null(strstr(text, "-- k = 7 (written in the statement)"));
	assert_null(strstr(text, "$1"));
	free(text);
	engine_sql_release(&sql);

	/* categories: an external table, escaped, never in the text */
	spec("{\"kind\": \"population_by_category\", \"start\": "
	    "\"2026-01-10\", \"end\": \"2026-01-13\", \"categories\": "
	    "[\"b\\t'\", \"a\"]}", &q);
	s.region_column = "region_id";
	s.category_column = "tariff";
	assert_int_equal(engine_sql_build(&q, &s, m, &sql), CAIRN_OK);
	assert_int_equal(sql.next, 2);
	assert_string_equal(sql.ext[0].name, "dom");
	assert_string_equal(sql.ext[0].data, "10\n20\n30\n");
	assert_string_equal(sql.ext[1].name, "cats");
	assert_string_equal(sql.ext[1].data, "0\ta\n1\tb\\t'\n");
	assert_null(strstr(sql.text, "'a'"));
	assert_null(strstr(sql.text, "'b"));
	assert_non_null(strstr(sql.text, "toString(\"tariff\") AS cat"));
	engine_sql_release(&sql);

	/* check-data: groups by name (18.16 has no GROUP BY 1, 2) */
	s.category_column = NULL;
	s.region_column = NULL;
	assert_int_equal(engine_sql_build_check(&s, m, &sql), CAIRN_OK);
	assert_non_null(strstr(sql.text, "GROUP BY tab, why"));
	assert_non_null(strstr(sql.text, "e.cell NOT IN (SELECT cell FROM cm)"));
	engine_sql_release(&sql);

	/* a region column: a set lookup in dom, no join; a cell_table
	   (a relation of the database) keeps the join */
	spec("{\"kind\": \"residents\", \"start\": \"2026-01-10\", "
	    "\"end\": \"2026-01-13\"}", &q);
	s.region_column = "region_id";
	assert_int_equal(engine_sql_build(&q, &s, m, &sql), CAIRN_OK);
	assert_non_null(strstr(sql.text, "WHERE e.cell IN (SELECT region FROM "
	    "dom) AND e.s IS NOT NULL"));
	assert_null(strstr(sql.text, "JOIN"));
	assert_null(strstr(sql.text, "transform"));
	engine_sql_release(&sql);
	s.region_column = NULL;
	s.cell_table = "geo.cells";
	assert_int_equal(engine_sql_build(&q, &s, m, &sql), CAIRN_OK);
	assert_non_null(strstr(sql.text, "ALL INNER JOIN (\n"));
	assert_null(strstr(sql.text, "transform"));
	engine_sql_release(&sql);
	engine_cellmap_free(m);
}

/*
 * A cell map of more than 16,384 cells is joined in ClickHouse, not
 * looked up by transform() (whose cost grows faster than the map); at
 * 16,384 it is still transform().
 */
static void
test_big_map_ch(void **state)
{
	struct engine_source s;
	struct engine_sql sql;
	struct qspec q;
	size_t ncells[2] = { 16384, 16385 };

	(void)state;
	source(&s, "clickhouse://127.0.0.1:8123/cdr");
	spec("{\"kind\": \"od\", \"start\": \"2026-01-10\", \"end\": "
	    "\"2026-01-13\"}", &q);
	for (size_t i = 0; i < 2; i++) {
		char path[] = "/tmp/cairn-sqlgen-XXXXXX";
		int fd = mkstemp(path);
		struct engine_cellmap *m = NULL;
		FILE *f;

		assert_true(fd >= 0);
		assert_non_null(f = fdopen(fd, "w"));
		fputs("cell_id,region_id\n", f);
		for (size_t c = 0; c < ncells[i]; c++)
			fprintf(f, "c%zu,%zu\n", c, c % 20);
		fclose(f);
		assert_int_equal(engine_cellmap_load(path, &m), CAIRN_OK);
		unlink(path);
		assert_int_equal(engine_sql_build(&q, &s, m, &sql), CAIRN_OK);
		assert_int_equal(sql.ext[0].rows, ncells[i]);
		if (i == 0) {
			assert_int_equal(count(sql.text, "transform("), 1);
			assert_null(strstr(sql.text, "JOIN cm"));
		} else {
			assert_null(strstr(sql.text, "transform("));
			assert_int_equal(count(sql.text, "ALL INNER JOIN cm ON "
			    "cm.cell = e.cell"), 1);
		}
		/* the events are read once either way */
		assert_int_equal(count(sql.text, "FROM \"events\".\"calls\""),
		    1);
		engine_sql_release(&sql);
		engine_cellmap_free(m);
	}
}

/*
 * od in ClickHouse: the days' modal regions once (no self-join, which
 * without WITH would read the window's events twice), paired by indexOf
 * in each subscriber's arrays; PostgreSQL keeps its self-join of dr.
 */
static void
test_od_one_pass_ch(void **state)
{
	struct engine_source s;
	struct engine_cellmap *m = cellmap();
	struct engine_sql sql;
	struct qspec q;

	(void)state;
	source(&s, "clickhouse://127.0.0.1:8123/cdr");
	spec("{\"kind\": \"od\", \"start\": \"2026-01-10\", \"end\": "
	    "\"2026-01-13\"}", &q);
	assert_int_equal(engine_sql_build(&q, &s, m, &sql), CAIRN_OK);
	/* the events table is read once, the cell map looked up once */
	assert_int_equal(count(sql.text, "FROM \"events\".\"calls\""), 1);
	assert_int_equal(count(sql.text, "transform("), 1);
	assert_null(strstr(sql.text, "INNER JOIN"));
	assert_null(strstr(sql.text, "arraySort"));
	assert_non_null(strstr(sql.text, "4294967295 - max(n * 4294967296 + "
	    "(4294967295 - region) + throwIf(n > 4294967295)) % 4294967296 "
	    "AS region"));
	assert_non_null(strstr(sql.text, "SELECT d AS t, r AS r1, "
	    "rs[indexOf(ds, d + 1)] AS r2, count(*) AS n"));
	assert_non_null(strstr(sql.text, "ARRAY JOIN ds AS d, rs AS r\n"
	    "WHERE has(ds, d + 1)\n"));
	engine_sql_release(&sql);

	source(&s, "postgresql:///x");
	assert_int_equal(engine_sql_build(&q, &s, m, &sql), CAIRN_OK);
	assert_non_null(strstr(sql.text, "ON b.s = a.s AND b.d = a.d + 1"));
	engine_sql_release(&sql);
	engine_cellmap_free(m);
}

/*
 * Presence with k at least the domain's regions (3 here) counts groups
 * without ranking; below that, and with a cell_table (regions the node
 * does not know), it ranks.
 */
static void
test_presence_all_regions(void **state)
{
	struct engine_source s;
	struct engine_cellmap *m = cellmap();
	struct engine_sql sql;
	struct qspec q;

	(void)state;
	source(&s, "postgresql:///x");
	spec("{\"kind\": \"presence\", \"start\": \"2026-01-10\", \"end\": "
	    "\"2026-01-13\", \"bucket\": \"day\", \"k\": 3}", &q);
	assert_int_equal(engine_sql_build(&q, &s, m, &sql), CAIRN_OK);
	assert_null(strstr(sql.text, "row_number"));
	assert_non_null(strstr(sql.text, "FROM c GROUP BY b, region"));
	engine_sql_release(&sql);
	spec("{\"kind\": \"presence\", \"start\": \"2026-01-10\", \"end\": "
	    "\"2026-01-13\", \"bucket\": \"day\", \"k\": 2}", &q);
	assert_int_equal(engine_sql_build(&q, &s, m, &sql), CAIRN_OK);
	assert_non_null(strstr(sql.text, "row_number"));
	assert_non_null(strstr(sql.text, "WHERE rk <= $"));
	engine_sql_release(&sql);
	spec("{\"kind\": \"presence\", \"start\": \"2026-01-10\", \"end\": "
	    "\"2026-01-13\", \"bucket\": \"day\", \"k\": 3}", &q);
	s.cell_table = "geo.cells";
	assert_int_equal(engine_sql_build(&q, &s, m, &sql), CAIRN_OK);
	assert_non_null(strstr(sql.text, "row_number"));
	engine_sql_release(&sql);

	/* ClickHouse: each cell's distinct subscribers, one aggregation */
	source(&s, "clickhouse://127.0.0.1:8123/cdr");
	assert_int_equal(engine_sql_build(&q, &s, m, &sql), CAIRN_OK);
	assert_non_null(strstr(sql.text, "uniqExact(s) AS n"));
	assert_non_null(strstr(sql.text, "SELECT s, intDiv(slot, 24) AS b, "
	    "region FROM ("));
	assert_int_equal(count(sql.text, "GROUP BY"), 1);
	assert_null(strstr(sql.text, "arraySort"));
	engine_sql_release(&sql);
	spec("{\"kind\": \"presence\", \"start\": \"2026-01-10\", \"end\": "
	    "\"2026-01-13\", \"bucket\": \"hour\", \"k\": 3}", &q);
	assert_int_equal(engine_sql_build(&q, &s, m, &sql), CAIRN_OK);
	assert_non_null(strstr(sql.text, "SELECT s, slot AS b, region FROM ("));
	engine_sql_release(&sql);
	spec("{\"kind\": \"presence\", \"start\": \"2026-01-10\", \"end\": "
	    "\"2026-01-13\", \"bucket\": \"hour\", \"k\": 2}", &q);
	assert_int_equal(engine_sql_build(&q, &s, m, &sql), CAIRN_OK);
	assert_null(strstr(sql.text, "uniqExact"));
	assert_non_null(strstr(sql.text, "WHERE rk <= toInt64(2)"));
	engine_sql_release(&sql);
	engine_cellmap_free(m);
}

/*
 * Migration: in PostgreSQL one pass over the events counting both
 * windows' nights per (subscriber, region), the homes as max(ARRAY[n,
 * -region]) per subscriber, no ranking; ClickHouse likewise (no WITH:
 * a relation used twice would be read twice), with countIf and maxIf.
 */
static void
test_migration_one_pass(void **state)
{
	struct engine_source s;
	struct engine_cellmap *m = cellmap();
	struct engine_sql sql;
	struct qspec q;

	(void)state;
	source(&s, "postgresql:///x");
	spec("{\"kind\": \"migration\", \"baseline\": [\"2026-01-10\", "
	    "\"2026-01-13\"], \"comparison\": [\"2026-01-13\", "
	    "\"2026-01-17\"]}", &q);
	assert_int_equal(engine_sql_build(&q, &s, m, &sql), CAIRN_OK);
	/* the events are read by one relation only: ev once, in mn */
	assert_int_equal(count(sql.text, "FROM ev"), 1);
	assert_int_equal(count(sql.text, "count(*) FILTER (WHERE (slot / 24) "
	    ">= $"), 2);
	assert_non_null(strstr(sql.text, "-(max(CASE WHEN nb > 0 THEN "
	    "ARRAY[nb, -region] END))[2] AS r1"));
	assert_non_null(strstr(sql.text, "-(max(CASE WHEN nc > 0 THEN "
	    "ARRAY[nc, -region] END))[2] AS r2"));
	assert_non_null(strstr(sql.text, "WHERE r1 IS NOT NULL AND r2 IS NOT "
	    "NULL"));
	assert_null(strstr(sql.text, "row_number"));
	assert_null(strstr(sql.text, "hb"));
	engine_sql_release(&sql);

	/* ClickHouse: the same one pass (countIf), each home one maxIf() of
	   the packed (n, region) over the regions with n > 0 */
	source(&s, "clickhouse://127.0.0.1:8123/cdr");
	assert_int_equal(engine_sql_build(&q, &s, m, &sql), CAIRN_OK);
	assert_null(strstr(sql.text, "FILTER"));
	assert_int_equal(count(sql.text, "FROM \"events\".\"calls\""), 1);
	assert_int_equal(count(sql.text, "transform("), 1);
	assert_int_equal(count(sql.text, "countIf(intDiv(slot, 24) >= "), 2);
	assert_non_null(strstr(sql.text, "4294967295 - maxIf(nb * 4294967296 + "
	    "(4294967295 - region) + throwIf(nb > 4294967295), nb > 0) % "
	    "4294967296 AS r1"));
	assert_non_null(strstr(sql.text, "4294967295 - maxIf(nc * 4294967296 + "
	    "(4294967295 - region) + throwIf(nc > 4294967295), nc > 0) % "
	    "4294967296 AS r2"));
	assert_non_null(strstr(sql.text, "GROUP BY s HAVING max(nb) > 0 AND "
	    "max(nc) > 0"));
	assert_null(strstr(sql.text, "arraySort"));
	assert_null(strstr(sql.text, "JOIN"));
	engine_sql_release(&sql);
	engine_cellmap_free(m);
}

/*
 * A server's rows are checked against the query's domain before they
 * become cells (source.c): an od row whose day is the last of the window,
 * or 2^64 - 1 (day + 1 wraps to 0: the fuzz_ch_answer finding
 * od-day-wraps.tsv), an unknown region, a region over 32 bits, and a
 * presence bucket past the window are refused; the cells that fit have
 * ids inside the plan.
 */
static void
test_rows_domain(void **state)
{
	static const uint64_t bad[][4] = {
		{ UINT64_MAX, 10, 20, 5 },
		{ UINT64_MAX - 1, 10, 20, 5 },
		{ 11, 10, 20, 5 },	/* day ndays - 1: no next day */
		{ 0, 11, 20, 5 },
		{ 0, 10, 21, 5 },
		{ 0, 10, (uint64_t)UINT32_MAX + 11, 5 },
	};
	struct engine_cellmap *m = cellmap();
	struct engine_plan p;
	struct engine_src_rows rw;
	struct qspec q;
	uint64_t ok[4] = { 10, 30, 10, 7 }, id;

	(void)state;
	spec("{\"kind\": \"od\", \"start\": \"2026-01-10\", \"end\": "
	    "\"2026-01-22\"}", &q);
	assert_int_equal(engine_plan_init(&p, &q, 3), CAIRN_OK);
	assert_int_equal(p.ndays, 12);
	memset(&rw, 0, sizeof(rw));
	rw.p = &p;
	rw.m = m;
	rw.who = "test";
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(engine_src_rows_add(&rw, bad[i]),
		    CAIRN_ERR_DB);
	assert_int_equal(rw.n, 0);
	assert_int_equal(engine_src_rows_add(&rw, ok), CAIRN_OK);
	assert_int_equal(rw.n, 1);
	/* day 10, from region index 2 to region index 0 */
	id = (10 * 3 + 2) * 3 + 0;
	assert_true(rw.cells[0].id == id && id < p.ncells);
	assert_true(rw.cells[0].count == 7);
	engine_src_rows_release(&rw);

	spec("{\"kind\": \"presence\", \"start\": \"2026-01-10\", "
	    "\"end\": \"2026-01-12\", \"bucket\": \"day\", \"k\": 2}", &q);
	assert_int_equal(engine_plan_init(&p, &q, 3), CAIRN_OK);
	memset(&rw, 0, sizeof(rw));
	rw.p = &p;
	rw.m = m;
	rw.who = "test";
	ok[0] = p.nbuckets;
	assert_int_equal(engine_src_rows_add(&rw, ok), CAIRN_ERR_DB);
	ok[0] = UINT64_MAX;
	assert_int_equal(engine_src_rows_add(&rw, ok), CAIRN_ERR_DB);
	ok[0] = p.nbuckets - 1;
	assert_int_equal(engine_src_rows_add(&rw, ok), CAIRN_OK);
	assert_true(rw.n == 1 && rw.cells[0].id < p.ncells);
	engine_src_rows_release(&rw);
	engine_cellmap_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_statement),
		cmocka_unit_test(test_statement_ch),
		cmocka_unit_test(test_presence_all_regions),
		cmocka_unit_test(test_migration_one_pass),
		cmocka_unit_test(test_od_one_pass_ch),
		cmocka_unit_test(test_big_map_ch),
		cmocka_unit_test(test_rows_domain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
