/*
 * test_query_plan.c - issue #17 on the analyst's side without a server:
 * the planner's numbers are dp_requirement()'s (the coordinator's and the
 * nodes' call), budgets from POLICY and CHARGE entries, the whole-log root
 * check that rejects a changed entry, region names beside ids in CSV and
 * JSON, and numbers printed the shortest way that reads back exactly.
 */
/* Before cmocka.h, whose fail() macro would shadow the client's. */
#include "query/query_int.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <math.h>
#include <cmocka.h>

#include <jansson.h>

#include "common/err.h"
#include "privacy/dp.h"
#include "protocol/qspec.h"
#include "protocol/tlog.h"
#include "protocol/tlog_entry.h"
#include "protocol/tlog_note.h"
#include "query/query.h"

static void
spec(const char *json, struct qspec *q)
{
	assert_int_equal(qspec_parse_json(json, strlen(json), "t", q),
	    CAIRN_OK);
}

/* The plan is the coordinator's requirement: same months, same charge. */
static void
test_plan_is_requirement(void **state)
{
	struct query_plan p;
	struct dp_requirement req;
	struct dp_query dq;
	struct qspec q;
	uint64_t w;

	(void)state;
	/* The case: seven days by day, 3 nodes, c = 1. */
	spec("{\"kind\": \"presence\", \"start\": \"2026-01-05\", \"end\": "
	    "\"2026-01-12\", \"bucket\": \"day\", \"k\": 1}", &q);
	assert_int_equal(query_plan_compute(&q, 100000000, 3, 1, 0, 4, 1e-6,
	    &p), CAIRN_OK);
	assert_int_equal(qspec_dp_query(&q, 1, &dq), CAIRN_OK);
	assert_int_equal(dp_requirement(&dq, 100000000, 3, 1,
	    qspec_domain_cells(&q, 4, 0), &req), CAIRN_OK);
	assert_int_equal(p.cells, 28);
	assert_int_equal(p.req.nmonths, 1);
	assert_int_equal(p.req.month[0], 2026 * 12);
	assert_int_equal(p.req.rho_nano[0], req.rho_nano[0]);
	assert_int_equal(p.req.variance, req.variance);
	assert_int_equal(p.rho_max_nano, req.rho_nano[0]);
	/* By hand: Delta^2 = 7, x = ceil(18 * 1 * 28 / 10^9) = 1,
	 * sigma^2 = ceil(7e9 / (2 (10^8 - 1))) = 36, sigma_h^2 = 18,
	 * variance 3 * 18 = 54. */
	assert_int_equal(p.req.sigma2, 36);
	assert_int_equal(p.req.sigma_h2, 18);
	assert_int_equal(p.req.variance, 54);
	assert_int_equal(dp_ci95_halfwidth(54, &w), CAIRN_OK);
	assert_int_equal(p.ci95_halfwidth, w);
	assert_true(p.eps_tight > 0 && p.eps_tight < p.eps_simple);

	/* A window over two months pays each month its own share. */
	spec("{\"kind\": \"presence\", \"start\": \"2026-01-31\", \"end\": "
	    "\"2026-02-03\", \"bucket\": \"day\", \"k\": 1}", &q);
	assert_int_equal(query_plan_compute(&q, 100000000, 2, 0, 0, 4, 1e-6,
	    &p), CAIRN_OK);
	assert_int_equal(p.req.nmonths, 2);
	assert_true(p.req.rho_nano[0] < p.req.rho_nano[1]);
	assert_int_equal(p.rho_max_nano, p.req.rho_nano[1]);

	/* What dp_requirement() refuses, the planner refuses. */
	assert_int_equal(query_plan_compute(&q, 100000000, 2, 2, 0, 4, 1e-6,
	    &p), CAIRN_ERR_ARG);
	assert_int_equal(query_plan_compute(&q, 100000000, 2, 0, 0, 0, 1e-6,
	    &p), CAIRN_ERR_ARG);
}

/* A CHARGE entry of 'node' for 'month' with cumulative 'cum'. */
static void
charge(struct tlog_entry *e, const char *node, uint32_t month, uint64_t rho,
    uint64_t cum)
{
	memset(e, 0, sizeof(*e));
	e->type = TLOG_ENTRY_CHARGE;
	e->node_id.p = (const uint8_t *)node;
	e->node_id.len = strlen(node);
	e->ncharges = 1;
	e->charges[0].month = month;
	e->charges[0].rho_nano = rho;
	e->charges[0].cumulative_nano = cum;
}

static void
test_budgets_charges(void **state)
{
	static struct tlog_entry e;
	struct query_budgets b;
	struct query_budget_holder h;
	uint32_t months[] = { 202601, 202602 };

	(void)state;
	memset(&b, 0, sizeof(b));
	charge(&e, "n1", 202601, 100, 100);
	assert_int_equal(query_budgets_note(&b, NULL, 3, &e), CAIRN_OK);
	charge(&e, "n1", 202601, 50, 150);
	assert_int_equal(query_budgets_note(&b, NULL, 5, &e), CAIRN_OK);
	charge(&e, "n2", 202601, 100, 100);
	assert_int_equal(query_budgets_note(&b, NULL, 6, &e), CAIRN_OK);
	/* An older entry seen later does not lower the spend. */
	charge(&e, "n1", 202601, 100, 100);
	assert_int_equal(query_budgets_note(&b, NULL, 7, &e), CAIRN_OK);
	charge(&e, "n1", 202512, 7, 7);
	assert_int_equal(query_budgets_note(&b, NULL, 8, &e), CAIRN_OK);
	assert_int_equal(query_budgets_spent(&b, "n1", 202601), 150);
	assert_int_equal(query_budgets_spent(&b, "n2", 202601), 100);
	assert_int_equal(query_budgets_spent(&b, "n1", 202512), 7);
	assert_int_equal(query_budgets_spent(&b, "n1", 202602), 0);
	assert_int_equal(query_budgets_spent(&b, "n3", 202601), 0);
	assert_int_equal(b.size, 9);
	assert_null(query_budgets_holder(&b, "n1"));
	/* A node id that is too long is refused, naming the entry. */
	charge(&e, "n1", 202601, 1, 1);
	e.node_id.len = 300;
	assert_int_equal(query_budgets_note(&b, NULL, 9, &e),
	    CAIRN_ERR_FORMAT);
	assert_non_null(strstr(cairn_errmsg(), "log entry 9"));
	query_budgets_release(&b);

	/* Declared months: held or not; none declared means unknown. */
	memset(&h, 0, sizeof(h));
	assert_true(query_budget_holds(&h, 202604));
	h.months = months;
	h.nmonths = 2;
	assert_true(query_budget_holds(&h, 202602));
	assert_false(query_budget_holds(&h, 202604));
}

/* The root check takes the exact leaves and nothing else. */
static void
test_log_root(void **state)
{
	const char *raw[] = { "entry zero", "entry one", "entry two" };
	const uint8_t *data[3];
	size_t len[3];
	uint8_t leaf[TLOG_HASH_LEN], bad[16];
	struct tlog_frontier f;
	struct tlog_checkpoint cp;

	(void)state;
	memset(&cp, 0, sizeof(cp));
	tlog_frontier_init(&f);
	for (size_t i = 0; i < 3; i++) {
		data[i] = (const uint8_t *)raw[i];
		len[i] = strlen(raw[i]);
		tlog_leaf_hash(data[i], len[i], leaf);
		assert_int_equal(tlog_frontier_append(&f, leaf, NULL, NULL),
		    CAIRN_OK);
	}
	tlog_frontier_root(&f, cp.root);
	cp.size = 3;
	assert_int_equal(query_log_root_check(data, len, 3, &cp), CAIRN_OK);
	/* One byte of one entry changed. */
	memcpy(bad, "entry onE", 9);
	data[1] = bad;
	len[1] = 9;
	assert_int_equal(query_log_root_check(data, len, 3, &cp),
	    CAIRN_ERR_PROOF);
	assert_non_null(strstr(cairn_errmsg(), "do not hash to the root"));
	/* An entry dropped. */
	data[1] = (const uint8_t *)raw[1];
	len[1] = strlen(raw[1]);
	assert_int_equal(query_log_root_check(data, len, 2, &cp),
	    CAIRN_ERR_PROOF);
	/* Entries swapped. */
	data[0] = (const uint8_t *)raw[1];
	len[0] = strlen(raw[1]);
	data[1] = (const uint8_t *)raw[0];
	len[1] = strlen(raw[0]);
	assert_int_equal(query_log_root_check(data, len, 3, &cp),
	    CAIRN_ERR_PROOF);
}

static void
test_format_number(void **state)
{
	char b[QUERY_NUM_MAX];

	(void)state;
	query_format_number(1e-6, b);
	assert_string_equal(b, "1e-06");
	query_format_number(0.1, b);
	assert_string_equal(b, "0.1");
	query_format_number(2.5, b);
	assert_string_equal(b, "2.5");
	query_format_number(1.0 / 3.0, b);
	assert_string_equal(b, "0.3333333333333333");
	query_format_number(-7, b);
	assert_string_equal(b, "-7");
	query_format_number(0.0, b);
	assert_string_equal(b, "0");
	query_format_number(1e300 * 1e300, b);
	assert_string_equal(b, "inf");
	/* Every printed value reads back exactly. */
	for (double x = 1e-9; x < 1e9; x *= 3.7) {
		query_format_number(x, b);
		assert_true(strtod(b, NULL) == x);
	}
}

static void
test_region_names(void **state)
{
	const char *csv = "region_id,name\n20,\"South, coast\"\n3,North\n"
	    "7\n";
	static const int64_t vals[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	struct query_domain d;
	struct query_release rel;
	struct qspec q;
	uint32_t *ids = NULL;
	char **names = NULL, buf[512], *text = NULL;
	size_t n = 0, len;
	json_error_t jerr;
	json_t *o, *c;
	FILE *f;

	(void)state;
	assert_int_equal(query_regions_parse(csv, strlen(csv), "r.csv", &ids,
	    &n), CAIRN_OK);
	assert_int_equal(n, 3);
	assert_int_equal(query_regions_names(csv, strlen(csv), "r.csv", ids,
	    n, &names), CAIRN_OK);
	assert_string_equal(names[0], "North");
	assert_string_equal(names[1], "");
	assert_string_equal(names[2], "South, coast");

	spec("{\"kind\": \"migration\", \"baseline\": [\"2026-01-01\", "
	    "\"2026-01-08\"], \"comparison\": [\"2026-02-01\", "
	    "\"2026-02-08\"]}", &q);
	assert_int_equal(query_domain_init(&d, &q, ids, n, NULL, 0),
	    CAIRN_OK);
	d.names = (const char *const *)names;
	query_columns(&d, buf, sizeof(buf), false);
	assert_string_equal(buf, "from,from_name,to,to_name");
	query_columns(&d, buf, sizeof(buf), true);
	assert_string_equal(buf, "\"from\", \"from_name\", \"to\", "
	    "\"to_name\", \"value\", \"ci95_low\", \"ci95_high\"");
	assert_int_equal(query_cell_label(&d, 2, false, buf, sizeof(buf)),
	    CAIRN_OK);
	assert_string_equal(buf, "3,North,20,\"South, coast\"");

	memset(&rel, 0, sizeof(rel));
	rel.query_id = "q-names";
	rel.rho_nano = 100000000;
	rel.delta = 1e-6;
	rel.variance = 8;
	f = open_memstream(&text, &len);
	assert_int_equal(query_result_write(f, false, &d, &rel, vals, 9),
	    CAIRN_OK);
	fclose(f);
	assert_non_null(strstr(text, "\nfrom,from_name,to,to_name,value,"
	    "ci95_low,ci95_high\n3,North,3,North,1,"));
	free(text);
	f = open_memstream(&text, &len);
	assert_int_equal(query_result_write(f, true, &d, &rel, vals, 9),
	    CAIRN_OK);
	fclose(f);
	o = json_loads(text, 0, &jerr);
	assert_non_null(o);
	c = json_array_get(json_object_get(o, "cells"), 7);
	assert_int_equal(json_integer_value(json_object_get(c, "from")), 20);
	assert_string_equal(json_string_value(json_object_get(c,
	    "from_name")), "South, coast");
	assert_string_equal(json_string_value(json_object_get(c, "to_name")),
	    "");
	json_decref(o);
	free(text);
	query_free_list(names, n);
	free(ids);
}

/* Write 'text' to a new temporary file; its name into 'path'. */
static void
tmpfile_with(char path[static 64], const char *text)
{
	FILE *f;
	int fd;

	snprintf(path, 64, "/tmp/cairn-tqp-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
test_geojson(void **state)
{
	/* Two unit squares side by side, and a MultiPolygon of two. */
	const char *gj = "{\"type\": \"FeatureCollection\", \"features\": [\n"
	    "{\"type\": \"Feature\", \"properties\": {\"region_id\": 3}, "
	    "\"geometry\": {\"type\": \"Polygon\", \"coordinates\": "
	    "[[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}},\n"
	    "{\"type\": \"Feature\", \"properties\": {\"region_id\": 20, "
	    "\"name\": \"x\"}, \"geometry\": {\"type\": \"MultiPolygon\", "
	    "\"coordinates\": [[[[2, 0], [3, 0], [3, 1], [2, 1], [2, 0]]], "
	    "[[[4, 0], [5, 0], [5, 1], [4, 1], [4, 0]]]]}}]}\n";
	static const uint32_t regions[] = { 3, 20 };
	static const int64_t vals[] = { 5, -2, 7, 1, 0, 9 };
	struct query_outlines *o = NULL;
	struct query_domain d;
	struct query_release rel;
	struct qspec q;
	char path[64], *text = NULL;
	size_t len;
	json_error_t jerr;
	json_t *root, *ft, *g;
	double lon, lat;
	FILE *f;

	(void)state;
	tmpfile_with(path, gj);
	assert_int_equal(query_outlines_load(path, &o), CAIRN_OK);
	unlink(path);
	assert_true(query_outlines_centroid(o, 3, &lon, &lat));
	assert_true(fabs(lon - 0.5) < 1e-12 && fabs(lat - 0.5) < 1e-12);
	assert_true(query_outlines_centroid(o, 20, &lon, &lat));
	assert_true(fabs(lon - 3.5) < 1e-12 && fabs(lat - 0.5) < 1e-12);
	assert_false(query_outlines_centroid(o, 4, &lon, &lat));

	memset(&rel, 0, sizeof(rel));
	rel.query_id = "q-map";
	rel.rho_nano = 100000000;
	rel.delta = 1e-6;
	rel.variance = 8;
	/* A regional kind: each cell takes its region's outline. */
	spec("{\"kind\": \"presence\", \"start\": \"2026-01-05\", \"end\": "
	    "\"2026-01-08\", \"bucket\": \"day\", \"k\": 1}", &q);
	assert_int_equal(query_domain_init(&d, &q, regions, 2, NULL, 0),
	    CAIRN_OK);
	f = open_memstream(&text, &len);
	assert_int_equal(query_geojson_write(f, &d, &rel, vals, 6, o),
	    CAIRN_OK);
	fclose(f);
	root = json_loads(text, 0, &jerr);
	assert_non_null(root);
	assert_string_equal(json_string_value(json_object_get(root, "type")),
	    "FeatureCollection");
	assert_non_null(strstr(text, "\"delta\": 1e-06,"));
	assert_int_equal(json_array_size(json_object_get(root, "features")),
	    6);
	ft = json_array_get(json_object_get(root, "features"), 4);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    ft, "properties"), "region")), 20);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    ft, "properties"), "value")), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    ft, "properties"), "bucket")), "2026-01-06");
	g = json_object_get(ft, "geometry");
	assert_string_equal(json_string_value(json_object_get(g, "type")),
	    "MultiPolygon");
	json_decref(root);
	free(text);

	/* A flow: LineString between centroids, a Point for stayers. */
	spec("{\"kind\": \"migration\", \"baseline\": [\"2026-01-01\", "
	    "\"2026-01-08\"], \"comparison\": [\"2026-02-01\", "
	    "\"2026-02-08\"]}", &q);
	assert_int_equal(query_domain_init(&d, &q, regions, 2, NULL, 0),
	    CAIRN_OK);
	f = open_memstream(&text, &len);
	assert_int_equal(query_geojson_write(f, &d, &rel, vals, 4, o),
	    CAIRN_OK);
	fclose(f);
	root = json_loads(text, 0, &jerr);
	assert_non_null(root);
	ft = json_array_get(json_object_get(root, "features"), 1);
	g = json_object_get(ft, "geometry");
	assert_string_equal(json_string_value(json_object_get(g, "type")),
	    "LineString");
	assert_true(json_number_value(json_array_get(json_array_get(
	    json_object_get(g, "coordinates"), 1), 0)) == 3.5);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    ft, "properties"), "to")), 20);
	ft = json_array_get(json_object_get(root, "features"), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    ft, "geometry"), "type")), "Point");
	json_decref(root);
	free(text);

	/* A region of the domain without an outline: nothing written. */
	{
		static const uint32_t more[] = { 3, 20, 21 };

		assert_int_equal(query_domain_init(&d, &q, more, 3, NULL, 0),
		    CAIRN_OK);
		f = open_memstream(&text, &len);
		assert_int_equal(query_geojson_write(f, &d, &rel, vals, 9, o),
		    CAIRN_ERR_ARG);
		fclose(f);
		assert_non_null(strstr(cairn_errmsg(), "region 21 has no "
		    "outline"));
		assert_int_equal(len, 0);
		free(text);
	}
	query_outlines_free(o);

	/* Bad outlines files, each refused with the feature named. */
	tmpfile_with(path, "{\"features\": [{\"properties\": {}, "
	    "\"geometry\": {}}]}");
	assert_int_equal(query_outlines_load(path, &o), CAIRN_ERR_FORMAT);
	assert_non_null(strstr(cairn_errmsg(), "feature 0 has no integer "
	    "properties.region_id"));
	unlink(path);
	tmpfile_with(path, "{\"features\": [{\"properties\": {\"region_id\": "
	    "1}, \"geometry\": {\"type\": \"Polygon\", \"coordinates\": "
	    "[[[0, \"a\"]]]}}]}");
	assert_int_equal(query_outlines_load(path, &o), CAIRN_ERR_FORMAT);
	assert_non_null(strstr(cairn_errmsg(), "feature 0 (region 1): the "
	    "geometry is not a Polygon"));
	unlink(path);
	tmpfile_with(path, "{\"features\": [{\"properties\": {\"region_id\": "
	    "1}, \"geometry\": {\"type\": \"Point\", \"coordinates\": [0, 0]}}"
	    ", {\"properties\": {\"region_id\": 1}}]}");
	assert_int_equal(query_outlines_load(path, &o), CAIRN_ERR_FORMAT);
	unlink(path);
	tmpfile_with(path, "{\"features\": [{\"properties\": {\"region_id\": "
	    "1}, \"geometry\": {\"type\": \"Polygon\", \"coordinates\": "
	    "[[[0, 0], [1, 0], [0, 1]]]}}, {\"properties\": {\"region_id\": "
	    "1}, \"geometry\": {\"type\": \"Polygon\", \"coordinates\": "
	    "[[[0, 0], [1, 0], [0, 1]]]}}]}");
	assert_int_equal(query_outlines_load(path, &o), CAIRN_ERR_FORMAT);
	assert_non_null(strstr(cairn_errmsg(), "region 1 has two features"));
	unlink(path);
	tmpfile_with(path, "not json");
	assert_int_equal(query_outlines_load(path, &o), CAIRN_ERR_FORMAT);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_is_requirement),
		cmocka_unit_test(test_budgets_charges),
		cmocka_unit_test(test_log_root),
		cmocka_unit_test(test_format_number),
		cmocka_unit_test(test_region_names),
		cmocka_unit_test(test_geojson),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
