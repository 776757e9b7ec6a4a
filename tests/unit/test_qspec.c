/*
 * test_qspec.c - query specs as QuerySpec messages: every kind round-trips
 * through the message, refusals name the field, and the derived figures
 * (data-months, sensitivity buckets, domain cells) are right at their
 * boundaries.  The JSON spelling is tested with the engine (test_engine*).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/timeutil.h"
#include "protocol/qspec.h"

static const char *const specs[] = {
	"{\"kind\": \"presence\", \"start\": \"2024-03-01\", \"end\": \"2024-03-08\", \"bucket\": \"hour\", \"k\": 3, \"utc_offset_minutes\": 180}",
	"{\"kind\": \"residents\", \"start\": \"2024-03-01\", \"end\": \"2024-04-01\", \"night_start_hour\": 21, \"night_end_hour\": 7}",
	"{\"kind\": \"residents\", \"start\": \"2024-03-01\", \"end\": \"2024-04-01\", \"min_nights\": 5}",
	"{\"kind\": \"od\", \"start\": \"2024-03-01\", \"end\": \"2024-03-03\"}",
	"{\"kind\": \"migration\", \"baseline\": [\"2024-01-01\", \"2024-02-01\"], \"comparison\": [\"2024-03-01\", \"2024-04-01\"]}",
	"{\"kind\": \"visitors\", \"start\": \"2024-03-01\", \"end\": \"2024-03-02\", \"k\": 1, \"utc_offset_minutes\": -60}",
	"{\"kind\": \"population_by_category\", \"start\": \"2024-03-01\", \"end\": \"2024-03-02\", \"categories\": [\"tariff b\", \"a,\\\"q\\\"\", \"Z\"]}",
	"{\"kind\": \"displacement\", \"baseline\": [\"2024-02-01\", \"2024-02-22\"], \"start\": \"2024-03-01\", \"end\": \"2024-03-15\", \"utc_offset_minutes\": 345, \"night_start_hour\": 21, \"night_end_hour\": 7}",
};

static void
test_round_trip(void **state)
{
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		struct qspec q, back;
		Cairn__V1__QuerySpec pb, *un;
		struct qspec_proto_bufs bufs;
		uint8_t wire[512];
		size_t n;

		assert_int_equal(qspec_parse_json(specs[i], strlen(specs[i]),
		    "t.json", &q), CAIRN_OK);
		cairn__v1__query_spec__init(&pb);
		qspec_to_proto(&q, "admin2", &pb, &bufs);
		n = cairn__v1__query_spec__pack(&pb, wire);
		un = cairn__v1__query_spec__unpack(NULL, n, wire);
		assert_non_null(un);
		assert_string_equal(un->geography, "admin2");
		assert_int_equal(qspec_from_proto(un, "msg", &back), CAIRN_OK);
		assert_memory_equal(&q, &back, sizeof(q));
		cairn__v1__query_spec__free_unpacked(un, NULL);
	}
}

static Cairn__V1__QuerySpec
base_presence(void)
{
	Cairn__V1__QuerySpec pb;

	cairn__v1__query_spec__init(&pb);
	pb.kind = "presence";
	pb.start = "2024-03-01";
	pb.end = "2024-03-08";
	pb.bucket = "day";
	pb.k = 2;
	return pb;
}

static void
expect(const Cairn__V1__QuerySpec *pb, const char *needle)
{
	struct qspec q;

	assert_int_equal(qspec_from_proto(pb, "msg", &q), CAIRN_ERR_FORMAT);
	if (strstr(cairn_errmsg(), needle) == NULL)
		fail_msg("'%s' lacks '%s'", cairn_errmsg(), needle);
}

static void
test_refusals(void **state)
{
	Cairn__V1__QuerySpec pb;
	Cairn__V1__NightHours night = CAIRN__V1__NIGHT_HOURS__INIT;
	Cairn__V1__DateRange w = CAIRN__V1__DATE_RANGE__INIT;

	pb = base_presence();
	pb.kind = "teleport";
	expect(&pb, "msg: field 'kind': must be one of");
	pb = base_presence();
	pb.k = 0;
	expect(&pb, "missing field 'k' (required by kind 'presence')");
	pb = base_presence();
	pb.k = 1001;
	expect(&pb, "field 'k': must be an integer in [1, 1000]");
	pb = base_presence();
	pb.bucket = "week";
	expect(&pb, "field 'bucket': must be \"day\" or \"hour\"");
	pb = base_presence();
	pb.start = "2024-02-30";
	expect(&pb, "field 'start': must be a date");
	pb = base_presence();
	pb.end = "2024-03-01";
	expect(&pb, "field 'end': must be after 'start'");
	pb = base_presence();
	pb.night = &night;
	expect(&pb, "field 'night_start_hour' is not used by kind 'presence'");
	pb = base_presence();
	pb.utc_offset_minutes = 1440;
	expect(&pb, "field 'utc_offset_minutes'");
	pb = base_presence();
	w.start = "2024-01-01";
	w.end = "2024-02-01";
	pb.baseline = &w;
	expect(&pb, "field 'baseline' is not used by kind 'presence'");
	cairn__v1__query_spec__init(&pb);
	pb.kind = "residents";
	pb.start = "2024-03-01";
	pb.end = "2024-03-08";
	night.start_hour = 5;
	night.end_hour = 6;
	pb.night = &night;
	expect(&pb, "must be greater than night_end_hour");
	night.start_hour = 24;
	expect(&pb, "hours must be in [0, 23]");
	cairn__v1__query_spec__init(&pb);
	pb.kind = "migration";
	pb.baseline = &w;
	expect(&pb, "missing field 'comparison'");
	/* displacement: the baseline and the observation days, no
	   comparison */
	cairn__v1__query_spec__init(&pb);
	pb.kind = "displacement";
	pb.baseline = &w;
	expect(&pb, "missing field 'start' (required by kind "
	    "'displacement')");
	pb.start = "2024-03-01";
	pb.end = "2024-03-08";
	pb.comparison = &w;
	expect(&pb, "field 'comparison' is not used by kind 'displacement'");
	pb.comparison = NULL;
	pb.baseline = NULL;
	expect(&pb, "missing field 'baseline' (required by kind "
	    "'displacement')");
	pb.baseline = &w;
	pb.end = "2031-12-01";
	expect(&pb, "field 'end': must be after 'start', at most");
	pb.end = "2031-07-01";
	expect(&pb, "field 'baseline': the two windows span more than");
	pb.end = "2024-03-08";
	{
		struct qspec q;

		assert_int_equal(qspec_from_proto(&pb, "msg", &q), CAIRN_OK);
	}
	cairn__v1__query_spec__init(&pb);
	pb.kind = "od";
	pb.start = "2024-03-01";
	expect(&pb, "field 'end': must be a date");
	/* One day has no day pair: an empty domain nothing can charge
	   (found by fuzz_qspec: qspec_months() listed no month). */
	pb.end = "2024-03-02";
	expect(&pb, "field 'end': od needs at least 2 days");
	pb.end = "2024-03-03";
	{
		struct qspec q;

		assert_int_equal(qspec_from_proto(&pb, "msg", &q), CAIRN_OK);
	}
}

static void
expect_json(const char *text, const char *needle)
{
	struct qspec q;

	assert_int_equal(qspec_parse_json(text, strlen(text), "q.json", &q),
	    CAIRN_ERR_FORMAT);
	if (strstr(cairn_errmsg(), needle) == NULL)
		fail_msg("'%s' lacks '%s'", cairn_errmsg(), needle);
}

#define POPCAT_HEAD "{\"kind\": \"population_by_category\", " \
	"\"start\": \"2024-03-01\", \"end\": \"2024-03-02\""

/* The category domain is public: declared, checked, sorted. */
static void
test_categories(void **state)
{
	struct qspec q, back;
	Cairn__V1__QuerySpec pb;
	struct qspec_proto_bufs bufs;
	char big[2048], *text = NULL;
	size_t n, len = 0;
	FILE *f;

	expect_json("{\"kind\": \"od\", \"start\": \"2026-01-07\", "
	    "\"end\": \"2026-01-08\"}", "field 'end': od needs at least 2 days");
	expect_json(POPCAT_HEAD "}", "q.json: missing field 'categories' "
	    "(required by kind 'population_by_category')");
	expect_json(POPCAT_HEAD ", \"categories\": []}", "field "
	    "'categories': must list at least one category");
	expect_json(POPCAT_HEAD ", \"categories\": \"a\"}", "field "
	    "'categories': must be an array of strings");
	expect_json(POPCAT_HEAD ", \"categories\": [\"a\", 3]}", "element 2 "
	    "is not a string");
	expect_json(POPCAT_HEAD ", \"categories\": [\"a\", \"b\", \"a\"]}",
	    "'a' is listed twice");
	expect_json(POPCAT_HEAD ", \"categories\": [\"\"]}", "category 1 is "
	    "empty");
	expect_json(POPCAT_HEAD ", \"categories\": [\"0123456789012345678901"
	    "234567890123456789012345678901234567890123\"]}", "over 63 bytes");
	expect_json("{\"kind\": \"residents\", \"start\": \"2024-03-01\", "
	    "\"end\": \"2024-03-02\", \"categories\": [\"a\"]}",
	    "field 'categories' is not used by kind 'residents'");
	n = (size_t)snprintf(big, sizeof(big), "%s", POPCAT_HEAD
	    ", \"categories\": [");
	for (int i = 0; i <= QSPEC_MAX_CATS; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "%s\"c%d\"",
		    i ? ", " : "", i);
	snprintf(big + n, sizeof(big) - n, "]}");
	expect_json(big, "more than 64 categories");

	/* Sorted bytewise whatever the order given; looked up exactly. */
	n = strlen(POPCAT_HEAD ", \"categories\": [\"young\", \"old\", "
	    "\"Mid\"]}");
	assert_int_equal(qspec_parse_json(POPCAT_HEAD ", \"categories\": "
	    "[\"young\", \"old\", \"Mid\"]}", n, "q.json", &q), CAIRN_OK);
	assert_int_equal(q.ncats, 3);
	assert_string_equal(q.cats[0], "Mid");
	assert_string_equal(q.cats[1], "old");
	assert_string_equal(q.cats[2], "young");
	assert_int_equal(qspec_cat_index(&q, "old", 3), 1);
	assert_int_equal(qspec_cat_index(&q, "young", 5), 2);
	assert_int_equal(qspec_cat_index(&q, "you", 3), -1);
	assert_int_equal(qspec_cat_index(&q, "youngest", 8), -1);
	assert_int_equal(qspec_cat_index(&q, "mid", 3), -1);
	assert_int_equal(qspec_domain_cells(&q, 5, 0), 15);

	/* The JSON written reads back to the same spec. */
	f = open_memstream(&text, &len);
	assert_non_null(f);
	qspec_write_json(&q, f);
	fclose(f);
	assert_non_null(strstr(text, "\"categories\": [\"Mid\", \"old\", "
	    "\"young\"]"));
	assert_int_equal(qspec_parse_json(text, strlen(text), "w", &back),
	    CAIRN_OK);
	assert_memory_equal(&q, &back, sizeof(q));
	free(text);

	/* The message: the same checks. */
	cairn__v1__query_spec__init(&pb);
	qspec_to_proto(&q, "g", &pb, &bufs);
	assert_int_equal(pb.n_categories, 3);
	pb.categories[2] = "old";
	expect(&pb, "'old' is listed twice");
	pb.n_categories = 0;
	expect(&pb, "missing field 'categories'");
	pb = base_presence();
	pb.n_categories = 1;
	pb.categories = bufs.cats;
	expect(&pb, "field 'categories' is not used by kind 'presence'");
}

static void
test_months_buckets_cells(void **state)
{
	struct qspec q;
	int32_t m[QSPEC_MAX_MONTHS];
	const char *s = "{\"kind\": \"od\", \"start\": \"2024-02-28\", "
	    "\"end\": \"2024-03-01\"}";

	assert_int_equal(qspec_parse_json(s, strlen(s), "t", &q), CAIRN_OK);
	/* Feb 28-29 local = UTC with offset 0: one month. */
	assert_int_equal(qspec_months(&q, m), 1);
	assert_int_equal(m[0], 2024 * 12 + 1);
	/* West of UTC, the last local day ends in March UTC. */
	q.utc_offset_min = -60;
	assert_int_equal(qspec_months(&q, m), 2);
	assert_int_equal(m[1], 2024 * 12 + 2);
	/* East of UTC, the first local day starts on Feb 27 UTC: same month. */
	q.utc_offset_min = 60;
	assert_int_equal(qspec_months(&q, m), 1);
	assert_int_equal(qspec_buckets(&q), 2);
	assert_int_equal(qspec_domain_cells(&q, 10, 0), 100);

	s = "{\"kind\": \"presence\", \"start\": \"2023-12-31\", \"end\": "
	    "\"2024-01-02\", \"bucket\": \"hour\", \"k\": 2}";
	assert_int_equal(qspec_parse_json(s, strlen(s), "t", &q), CAIRN_OK);
	assert_int_equal(qspec_months(&q, m), 2);
	assert_int_equal(m[0], 2023 * 12 + 11);
	assert_int_equal(qspec_buckets(&q), 48);
	assert_int_equal(qspec_domain_cells(&q, 7, 0), 7 * 48);
	q.bucket_hour = false;
	assert_int_equal(qspec_buckets(&q), 2);

	s = "{\"kind\": \"migration\", \"baseline\": [\"2024-01-01\", "
	    "\"2024-01-08\"], \"comparison\": [\"2024-03-01\", \"2024-03-08\"]}";
	assert_int_equal(qspec_parse_json(s, strlen(s), "t", &q), CAIRN_OK);
	/* February lies in the gap between the windows: not read, not
	   charged (dp_requirement's Delta_m = 0). */
	assert_int_equal(qspec_months(&q, m), 2);
	assert_int_equal(m[0], 2024 * 12 + 0);
	assert_int_equal(m[1], 2024 * 12 + 2);
	assert_int_equal(qspec_buckets(&q), 1);
	assert_int_equal(qspec_domain_cells(&q, 5, 0), 25);
	q.kind = QSPEC_KIND_RESIDENTS;
	assert_int_equal(qspec_domain_cells(&q, 5, 0), 5);

	/* displacement: a baseline in January, 7 observation days in March
	   (February, the gap, is not charged); cells regions x days x
	   (regions + not seen) */
	s = "{\"kind\": \"displacement\", \"baseline\": [\"2024-01-10\", "
	    "\"2024-01-31\"], \"start\": \"2024-03-01\", \"end\": "
	    "\"2024-03-08\"}";
	assert_int_equal(qspec_parse_json(s, strlen(s), "t", &q), CAIRN_OK);
	assert_int_equal(qspec_months(&q, m), 2);
	assert_int_equal(m[0], 2024 * 12 + 0);
	assert_int_equal(m[1], 2024 * 12 + 2);
	assert_int_equal(qspec_buckets(&q), 7);
	assert_int_equal(qspec_domain_cells(&q, 5, 0), 5 * 7 * 6);
	s = "{\"kind\": \"displacement\", \"baseline\": [\"2024-01-10\", "
	    "\"2024-01-31\"], \"start\": \"2024-03-01\", \"end\": "
	    "\"2024-03-08\", \"comparison\": [\"2024-01-10\", "
	    "\"2024-01-31\"]}";
	assert_int_equal(qspec_parse_json(s, strlen(s), "t", &q),
	    CAIRN_ERR_FORMAT);
	s = "{\"kind\": \"displacement\", \"baseline\": [\"2024-01-10\"], "
	    "\"start\": \"2024-03-01\", \"end\": \"2024-03-08\"}";
	assert_int_equal(qspec_parse_json(s, strlen(s), "t", &q),
	    CAIRN_ERR_FORMAT);
	q.kind = QSPEC_KIND_RESIDENTS;
	q.kind = QSPEC_KIND_POPCAT;
	assert_int_equal(qspec_domain_cells(&q, 5, 3), 15);
	q.ncats = 4;
	assert_int_equal(qspec_domain_cells(&q, 5, 3), 20);
}

static int
parse(const char *json, struct qspec *q)
{
	return qspec_parse_json(json, strlen(json), "t", q);
}

/* residents' min_nights: default, range, the window's nights, other kinds. */
static void
test_min_nights(void **state)
{
	struct qspec q;
	Cairn__V1__QuerySpec pb;
	struct qspec_proto_bufs bufs;
	const char *one = "{\"kind\": \"residents\", \"start\": "
	    "\"2024-03-01\", \"end\": \"2024-03-03\"}";
	char *text = NULL;
	size_t len;
	FILE *f;

	(void)state;
	assert_int_equal(qspec_parse_json(one, strlen(one), "t", &q),
	    CAIRN_OK);
	assert_int_equal(q.min_nights, QSPEC_MIN_NIGHTS_DEFAULT);
	assert_int_equal(QSPEC_MIN_NIGHTS_DEFAULT, 1);
	/* The default is absent on the wire: the same signed bytes. */
	cairn__v1__query_spec__init(&pb);
	qspec_to_proto(&q, "g", &pb, &bufs);
	assert_int_equal(pb.min_nights, 0);
	f = open_memstream(&text, &len);
	qspec_write_json(&q, f);
	fclose(f);
	assert_non_null(strstr(text, "\"min_nights\": 1}"));
	free(text);
	/* Two days have three nights: the one before, and one per day. */
	assert_int_equal(parse("{\"kind\": \"residents\", \"start\": "
	    "\"2024-03-01\", \"end\": \"2024-03-03\", \"min_nights\": 3}", &q),
	    CAIRN_OK);
	assert_int_equal(q.min_nights, 3);
	assert_int_equal(parse("{\"kind\": \"residents\", \"start\": "
	    "\"2024-03-01\", \"end\": \"2024-03-03\", \"min_nights\": 4}", &q),
	    CAIRN_ERR_FORMAT);
	assert_non_null(strstr(cairn_errmsg(), "t: field 'min_nights': 4 is "
	    "more than the 3 nights of the window"));
	assert_int_equal(parse("{\"kind\": \"residents\", \"start\": "
	    "\"2024-03-01\", \"end\": \"2024-03-03\", \"min_nights\": 0}", &q),
	    CAIRN_ERR_FORMAT);
	assert_non_null(strstr(cairn_errmsg(), "'min_nights'"));
	assert_int_equal(parse("{\"kind\": \"od\", \"start\": "
	    "\"2024-03-01\", \"end\": \"2024-03-03\", \"min_nights\": 2}", &q),
	    CAIRN_ERR_FORMAT);
	assert_non_null(strstr(cairn_errmsg(), "field 'min_nights' is not "
	    "used by kind 'od'"));
	pb = base_presence();
	pb.min_nights = 2;
	expect(&pb, "field 'min_nights' is not used by kind 'presence'");
}

static void
test_kind_names(void **state)
{
	enum qspec_kind k;

	for (int i = 0; i < QSPEC_KIND__N; i++) {
		assert_true(qspec_kind_parse(qspec_kind_name((enum qspec_kind)i),
		    &k));
		assert_int_equal(k, i);
	}
	assert_false(qspec_kind_parse("Presence", &k));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_categories),
		cmocka_unit_test(test_months_buckets_cells),
		cmocka_unit_test(test_kind_names),
		cmocka_unit_test(test_min_nights),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
