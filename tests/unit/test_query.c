/*
 * test_query.c - the analyst client's pieces without a server: spec to
 * Query, the analyst's signature, argument checks, the regions file,
 * cell labels in the engine's order and CSV/JSON output with intervals.
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

#include <jansson.h>
#include <sodium.h>

#include "common/err.h"
#include "keys/keys.h"
#include "privacy/dp.h"
#include "protocol/cairn.pb-c.h"
#include "protocol/proto_service.h"
#include "protocol/qspec.h"
#include "query/query.h"

#include <math.h>
/* ρ as a test writes it (a double) to nano-ρ. */
#define NANO(x)	((uint64_t)llround((double)(x) * 1e9))

static struct keys_identity *ana;
static const char *const parts[] = { "alpha", "beta", "gamma" };

static void
spec(const char *json, struct qspec *q)
{
	assert_int_equal(qspec_parse_json(json, strlen(json), "t", q),
	    CAIRN_OK);
}

static void
params(struct query_params *p)
{
	memset(p, 0, sizeof(*p));
	spec("{\"kind\": \"presence\", \"start\": \"2026-01-05\", \"end\": "
	    "\"2026-01-08\", \"bucket\": \"day\", \"k\": 2, "
	    "\"utc_offset_minutes\": 60}", &p->spec);
	p->geography = "nuts3";
	p->rho_nano = NANO(0.125);
	p->purpose = "tourism 2026";
	p->participants = parts;
	p->nparticipants = 3;
	p->colluding = 1;
	p->holders = 2;
	p->query_id = "q-1";
	p->analyst = "stats";
	p->federation = "demo";
	p->submitted = 1767225600;
	memset(p->nonce, 0xab, sizeof(p->nonce));
}

static void
test_build(void **state)
{
	struct query_params p;
	Cairn__V1__Query *q;
	struct qspec back;
	uint8_t *buf, sig[64], pk[32];
	size_t len;

	(void)state;
	params(&p);
	assert_int_equal(query_build(&p, ana, &buf, &len, sig), CAIRN_OK);
	keys_identity_public(ana, pk);
	assert_int_equal(keys_verify(pk, "query", buf, len, sig), CAIRN_OK);
	assert_int_equal(keys_verify(pk, "charge", buf, len, sig),
	    CAIRN_ERR_SIGNATURE);
	assert_int_equal(proto_unpack(&cairn__v1__query__descriptor, buf, len,
	    PROTO_MAX_SMALL, (ProtobufCMessage **)&q), CAIRN_OK);
	assert_string_equal(q->query_id, "q-1");
	assert_string_equal(q->analyst->name, "stats");
	assert_int_equal(q->analyst->role, CAIRN__V1__ROLE__ROLE_ANALYST);
	assert_string_equal(q->purpose, "tourism 2026");
	assert_true(q->rho_nano == 125000000);
	assert_int_equal(q->n_participants, 3);
	assert_string_equal(q->participants[2], "gamma");
	assert_int_equal(q->max_colluding, 1);
	assert_int_equal(q->holders_per_person, 2);
	assert_string_equal(q->federation, "demo");
	assert_int_equal(q->nonce.len, 16);
	assert_int_equal(q->nonce.data[15], 0xab);
	assert_int_equal(q->submitted_unix, 1767225600);
	assert_string_equal(q->spec->geography, "nuts3");
	assert_string_equal(q->spec->kind, "presence");
	assert_int_equal(qspec_from_proto(q->spec, "q", &back), CAIRN_OK);
	assert_memory_equal(&back, &p.spec, sizeof(back));
	protobuf_c_message_free_unpacked(&q->base, NULL);
	free(buf);
}

static void
test_build_errors(void **state)
{
	static const char *const dup[] = { "alpha", "alpha" };
	static const char *const bad[] = { "alpha", "Beta!" };
	struct query_params p;
	uint8_t *buf, sig[64];
	size_t len;

	(void)state;
	params(&p);
	p.colluding = 3;
	assert_int_equal(query_build(&p, ana, &buf, &len, sig), CAIRN_ERR_ARG);
	assert_non_null(strstr(cairn_errmsg(), "--colluding: 3 must be below "
	    "the 3 participants"));
	params(&p);
	p.nparticipants = 1;
	assert_int_equal(query_build(&p, ana, &buf, &len, sig), CAIRN_ERR_ARG);
	assert_non_null(strstr(cairn_errmsg(), "2 to 256 needed"));
	params(&p);
	p.participants = dup;
	p.nparticipants = 2;
	p.colluding = 0;
	assert_int_equal(query_build(&p, ana, &buf, &len, sig), CAIRN_ERR_ARG);
	assert_non_null(strstr(cairn_errmsg(), "'alpha' is named twice"));
	p.participants = bad;
	assert_int_equal(query_build(&p, ana, &buf, &len, sig), CAIRN_ERR_ARG);
	assert_non_null(strstr(cairn_errmsg(), "'Beta!' is not a member"));
	params(&p);
	p.rho_nano = NANO(0);
	assert_int_equal(query_build(&p, ana, &buf, &len, sig), CAIRN_ERR_ARG);
	assert_non_null(strstr(cairn_errmsg(), "--rho"));
	params(&p);
	p.query_id = "has space";
	assert_int_equal(query_build(&p, ana, &buf, &len, sig), CAIRN_ERR_ARG);
	assert_non_null(strstr(cairn_errmsg(), "--id"));
	params(&p);
	p.purpose = "two\nlines";
	assert_int_equal(query_build(&p, ana, &buf, &len, sig), CAIRN_ERR_ARG);
	assert_non_null(strstr(cairn_errmsg(), "--purpose"));
	params(&p);
	p.geography = "";
	assert_int_equal(query_build(&p, ana, &buf, &len, sig), CAIRN_ERR_ARG);
	assert_non_null(strstr(cairn_errmsg(), "--geography"));
}

static void
test_regions(void **state)
{
	static const char ok[] = "region_id,name\r\n20,b\n3,a\n\n7,c";
	uint32_t *ids;
	size_t n;

	(void)state;
	assert_int_equal(query_regions_parse(ok, strlen(ok), "r.csv", &ids,
	    &n), CAIRN_OK);
	assert_int_equal(n, 3);
	assert_int_equal(ids[0], 3);
	assert_int_equal(ids[1], 7);
	assert_int_equal(ids[2], 20);
	free(ids);
	assert_int_equal(query_regions_parse("id\n1\n", 5, "r.csv", &ids,
	    &n), CAIRN_ERR_FORMAT);
	assert_non_null(strstr(cairn_errmsg(), "r.csv:1: the header must "
	    "start with 'region_id'"));
	assert_int_equal(query_regions_parse("region_id\n1\nx2\n", 15,
	    "r.csv", &ids, &n), CAIRN_ERR_FORMAT);
	assert_non_null(strstr(cairn_errmsg(), "r.csv:3: region_id 'x2'"));
	assert_int_equal(query_regions_parse("region_id\n1\n1\n", 14,
	    "r.csv", &ids, &n), CAIRN_ERR_FORMAT);
	assert_non_null(strstr(cairn_errmsg(), "region 1 is listed twice"));
	assert_int_equal(query_regions_parse("region_id\n", 10, "r.csv",
	    &ids, &n), CAIRN_ERR_FORMAT);
	assert_non_null(strstr(cairn_errmsg(), "no regions"));
	assert_int_equal(query_regions_parse("region_id\n99999999999\n", 22,
	    "r.csv", &ids, &n), CAIRN_ERR_FORMAT);
}

static void
label(const struct query_domain *d, uint64_t id, bool json, const char *want)
{
	char buf[256];

	assert_int_equal(query_cell_label(d, id, json, buf, sizeof(buf)),
	    CAIRN_OK);
	assert_string_equal(buf, want);
}

static void
test_labels(void **state)
{
	static const uint32_t regions[] = { 3, 20 };
	static const char *const cats[] = { "a,b", "plain", "q\"t" };
	struct query_domain d;
	struct qspec q;
	char buf[8];

	(void)state;
	spec("{\"kind\": \"presence\", \"start\": \"2026-01-05\", \"end\": "
	    "\"2026-01-08\", \"bucket\": \"day\", \"k\": 1}", &q);
	assert_int_equal(query_domain_init(&d, &q, regions, 2, NULL, 0),
	    CAIRN_OK);
	assert_int_equal(d.ncells, 6);
	label(&d, 0, false, "3,2026-01-05");
	label(&d, 2, false, "3,2026-01-07");
	label(&d, 3, false, "20,2026-01-05");
	label(&d, 5, true, "\"region\": 20, \"bucket\": \"2026-01-07\"");
	assert_int_equal(query_cell_label(&d, 6, false, buf, sizeof(buf)),
	    CAIRN_ERR_RANGE);
	assert_int_equal(query_cell_label(&d, 5, false, buf, 4),
	    CAIRN_ERR_TOOBIG);

	spec("{\"kind\": \"presence\", \"start\": \"2026-01-05\", \"end\": "
	    "\"2026-01-06\", \"bucket\": \"hour\", \"k\": 1}", &q);
	assert_int_equal(query_domain_init(&d, &q, regions, 2, NULL, 0),
	    CAIRN_OK);
	assert_int_equal(d.ncells, 48);
	label(&d, 23, false, "3,2026-01-05T23");
	label(&d, 25, false, "20,2026-01-05T01");

	spec("{\"kind\": \"residents\", \"start\": \"2026-01-05\", \"end\": "
	    "\"2026-01-06\"}", &q);
	assert_int_equal(query_domain_init(&d, &q, regions, 2, NULL, 0),
	    CAIRN_OK);
	label(&d, 1, false, "20");

	spec("{\"kind\": \"od\", \"start\": \"2026-01-05\", \"end\": "
	    "\"2026-01-08\"}", &q);
	assert_int_equal(query_domain_init(&d, &q, regions, 2, NULL, 0),
	    CAIRN_OK);
	assert_int_equal(d.ncells, 8);
	label(&d, 1, false, "2026-01-05,3,20");
	label(&d, 6, false, "2026-01-06,20,3");
	label(&d, 7, true, "\"day\": \"2026-01-06\", \"origin\": 20, "
	    "\"destination\": 20");

	spec("{\"kind\": \"migration\", \"baseline\": [\"2026-01-01\", "
	    "\"2026-01-10\"], \"comparison\": [\"2026-02-01\", "
	    "\"2026-02-10\"]}", &q);
	assert_int_equal(query_domain_init(&d, &q, regions, 2, NULL, 0),
	    CAIRN_OK);
	assert_int_equal(d.ncells, 4);
	label(&d, 2, false, "20,3");

	spec("{\"kind\": \"visitors\", \"start\": \"2026-01-05\", \"end\": "
	    "\"2026-01-07\", \"k\": 2}", &q);
	assert_int_equal(query_domain_init(&d, &q, regions, 2, NULL, 0),
	    CAIRN_OK);
	assert_int_equal(d.ncells, 4);
	label(&d, 1, false, "3,2026-01-06");
	label(&d, 2, true, "\"region\": 20, \"day\": \"2026-01-05\"");

	spec("{\"kind\": \"population_by_category\", \"start\": "
	    "\"2026-01-05\", \"end\": \"2026-01-07\", \"categories\": "
	    "[\"a,b\", \"plain\", \"q\\\"t\"]}", &q);
	/* Without --categories, the spec's (signed with the query). */
	assert_int_equal(query_domain_init(&d, &q, regions, 2, NULL, 0),
	    CAIRN_OK);
	assert_int_equal(d.ncells, 6);
	label(&d, 0, false, "3,\"a,b\"");
	label(&d, 5, false, "20,\"q\"\"t\"");
	q.ncats = 0;
	assert_int_equal(query_domain_init(&d, &q, regions, 2, NULL, 0),
	    CAIRN_ERR_ARG);
	q.ncats = 3;
	assert_int_equal(query_domain_init(&d, &q, regions, 2, cats, 3),
	    CAIRN_OK);
	assert_int_equal(d.ncells, 6);
	label(&d, 0, false, "3,\"a,b\"");
	label(&d, 4, false, "20,plain");
	label(&d, 5, false, "20,\"q\"\"t\"");
	label(&d, 5, true, "\"region\": 20, \"category\": \"q\\\"t\"");
	{
		static const char *const unsorted[] = { "b", "a" };

		assert_int_equal(query_domain_init(&d, &q, regions, 2,
		    unsorted, 2), CAIRN_ERR_ARG);
	}
	assert_int_equal(query_domain_init(&d, &q, NULL, 0, cats, 3),
	    CAIRN_ERR_ARG);
}

static void
test_output(void **state)
{
	static const uint32_t regions[] = { 3, 20 };
	static const int64_t vals[] = { 5, -2, 0, 17, 1, 9 };
	struct query_domain d;
	struct query_release rel;
	struct qspec q;
	json_error_t jerr;
	json_t *o, *cells, *c;
	double eps;
	uint64_t w;
	char *text = NULL, line[256];
	size_t len;
	FILE *f;

	(void)state;
	spec("{\"kind\": \"presence\", \"start\": \"2026-01-05\", \"end\": "
	    "\"2026-01-08\", \"bucket\": \"day\", \"k\": 1}", &q);
	assert_int_equal(query_domain_init(&d, &q, regions, 2, NULL, 0),
	    CAIRN_OK);
	memset(&rel, 0, sizeof(rel));
	rel.query_id = "q-1";
	rel.rho_nano = NANO(0.1);
	rel.delta = 1e-6;
	rel.variance = 300;
	rel.log_index = 12;
	assert_int_equal(dp_ci95_halfwidth(300, &w), CAIRN_OK);
	assert_int_equal(dp_eps_from_rho_tight(0.1, 1e-6, &eps), CAIRN_OK);

	f = open_memstream(&text, &len);
	assert_int_equal(query_result_write(f, false, &d, &rel, vals, 6),
	    CAIRN_OK);
	fclose(f);
	assert_non_null(strstr(text, "# query q-1 kind presence released at "
	    "log index 12\n# rho 0.1 per data-month = "
	    "(epsilon 2.14"));
	assert_non_null(strstr(text, "delta 1e-06) tight"));
	snprintf(line, sizeof(line), "# noise variance 300 per cell, 95%% "
	    "interval value +- %llu\nregion,bucket,value,ci95_low,ci95_high\n"
	    "3,2026-01-05,5,%lld,%lld\n", (unsigned long long)w,
	    5 - (long long)w, 5 + (long long)w);
	assert_non_null(strstr(text, line));
	snprintf(line, sizeof(line), "\n20,2026-01-07,9,%lld,%lld\n",
	    9 - (long long)w, 9 + (long long)w);
	assert_non_null(strstr(text, line));
	free(text);

	f = open_memstream(&text, &len);
	assert_int_equal(query_result_write(f, true, &d, &rel, vals, 6),
	    CAIRN_OK);
	fclose(f);
	o = json_loads(text, 0, &jerr);
	assert_non_null(o);
	/* columns is an array of names (issue #17 item 5). */
	c = json_object_get(o, "columns");
	assert_true(json_is_array(c));
	assert_int_equal(json_array_size(c), 5);
	assert_string_equal(json_string_value(json_array_get(c, 0)),
	    "region");
	assert_string_equal(json_string_value(json_array_get(c, 4)),
	    "ci95_high");
	/* delta as people write it, not 9.9999999999999995e-07 */
	assert_non_null(strstr(text, "\"delta\": 1e-06,"));
	c = json_object_get(o, "privacy");
	assert_true(json_real_value(json_object_get(c, "rho")) == 0.1);
	assert_true(json_real_value(json_object_get(c, "epsilon")) == eps);
	assert_int_equal(json_integer_value(json_object_get(c,
	    "ci95_halfwidth")), w);
	cells = json_object_get(o, "cells");
	assert_int_equal(json_array_size(cells), 6);
	c = json_array_get(cells, 1);
	assert_int_equal(json_integer_value(json_object_get(c, "region")), 3);
	assert_string_equal(json_string_value(json_object_get(c, "bucket")),
	    "2026-01-06");
	assert_int_equal(json_integer_value(json_object_get(c, "value")), -2);
	assert_int_equal(json_integer_value(json_object_get(c, "ci95_low")),
	    -2 - (json_int_t)w);
	json_decref(o);
	free(text);

	/* A vector that is not the domain's size, and a bad variance. */
	f = open_memstream(&text, &len);
	assert_int_equal(query_result_write(f, false, &d, &rel, vals, 5),
	    CAIRN_ERR_RANGE);
	assert_non_null(strstr(cairn_errmsg(), "the result has 5 cells, the "
	    "domain of this query 6"));
	rel.variance = 0;
	assert_int_equal(query_result_write(f, false, &d, &rel, vals, 6),
	    CAIRN_ERR_ARG);
	fclose(f);
	free(text);
}

static void
test_cli_errors(void **state)
{
	char *a1[] = { "submit", "--kind", "presence", NULL };
	char *a2[] = { "submit", "--kind", "presence", "--start", "2026-01-01",
	    "--end", "2026-01-03", "--bucket", "day", "--k", "1",
	    "--geography", "g", "--rho", "0.1", "--purpose", "p",
	    "--participants", "a,b", "--colluding", "1", NULL };
	char *a3[] = { "result", "q1", "--format", "xml", NULL };
	char *a4[] = { "status", NULL };
	char *a5[] = { "nope", NULL };
	char *a6[] = { "submit", "--bogus", NULL };
	char *a7[] = { "status", "--help", NULL };
	char *a8[] = { "submit", "--config", "/nonexistent/analyst.conf",
	    NULL };

	(void)state;
	assert_int_equal(cmd_query(4, (char *[]){ "query", a1[0], a1[1],
	    a1[2], NULL }), 1);
	assert_int_equal(cmd_query(22, (char *[]){ "query", a2[0], a2[1],
	    a2[2], a2[3], a2[4], a2[5], a2[6], a2[7], a2[8], a2[9], a2[10],
	    a2[11], a2[12], a2[13], a2[14], a2[15], a2[16], a2[17], a2[18],
	    a2[19], a2[20], NULL }), 1);
	assert_non_null(strstr(cairn_errmsg(), "--key is required"));
	assert_int_equal(cmd_query(5, (char *[]){ "query", a3[0], a3[1],
	    a3[2], a3[3], NULL }), 1);
	assert_non_null(strstr(cairn_errmsg(), "--format: 'xml'"));
	assert_int_equal(cmd_query(2, (char *[]){ "query", a4[0], NULL }), 1);
	assert_non_null(strstr(cairn_errmsg(), "the query id is required"));
	assert_int_equal(cmd_query(2, (char *[]){ "query", a5[0], NULL }), 1);
	assert_int_equal(cmd_query(3, (char *[]){ "query", a6[0], a6[1],
	    NULL }), 1);
	assert_int_equal(cmd_query(3, (char *[]){ "query", a7[0], a7[1],
	    NULL }), 0);
	assert_int_equal(cmd_query(4, (char *[]){ "query", a8[0], a8[1],
	    a8[2], NULL }), 1);
}

static void
test_config(void **state)
{
	char path[128], *argv[6];
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/cairn-tq-%d.conf", (int)getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("[analyst]\nidentity_key = /nonexistent/stats.key\n"
	    "federation = /nonexistent/federation.conf\n", f);
	fclose(f);
	argv[0] = "query";
	argv[1] = "submit";
	argv[2] = "--config";
	argv[3] = path;
	argv[4] = "--spec";
	argv[5] = NULL;
	/* --spec needs a value: an option error before the config. */
	assert_int_equal(cmd_query(5, argv), 1);
	f = fopen(path, "w");
	fputs("[analyst]\nidentity_key = x\ncolour = red\n", f);
	fclose(f);
	argv[4] = NULL;
	assert_int_equal(cmd_query(4, argv), 1);
	assert_non_null(strstr(cairn_errmsg(), ":3: "));
	unlink(path);
}

static int
setup_all(void **state)
{
	(void)state;
	return keys_identity_generate(KEYS_ROLE_ANALYST, "stats", &ana) ==
	    CAIRN_OK ? 0 : -1;
}

static int
teardown_all(void **state)
{
	(void)state;
	keys_identity_free(ana);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_build_errors),
		cmocka_unit_test(test_regions),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_output),
		cmocka_unit_test(test_cli_errors),
		cmocka_unit_test(test_config),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
