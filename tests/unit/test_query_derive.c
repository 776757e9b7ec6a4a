/*
 * test_query_derive.c - outputs derived from a released displacement
 * result (query/query_derive.c): the parser refuses what is not a dense
 * release in its order; the share away from home and its Fieller interval
 * on hand-checked numbers; flows above normal; and the intervals' honesty:
 * over many releases noised by the real discrete Gaussian sampler (seeded)
 * they cover the true value about 95 % of the time (thresholds four
 * standard errors wide, so a fixed seed passes a right interval and fails
 * one a third too narrow or too wide).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include <sodium.h>

#include "common/err.h"
#include "privacy/dp.h"
#include "query/query_derive.h"

#define Z95	1.959963984540054

/* A release of two regions (5, 9) over one day, as `query result` writes
   it, with the variance line and a column the parser must skip. */
static const char good[] =
    "# query q kind displacement released at log index 7\n"
    "# rho 0.5 per data-month = (epsilon 4, delta 1e-06) tight\n"
    "# noise variance 4 per cell, 95% interval value +- 4\n"
    "home,day,region,value,ci95_low,ci95_high\n"
    "5,2026-03-01,5,60,56,64\n5,2026-03-01,9,40,36,44\n"
    "5,2026-03-01,none,3,-1,7\n"
    "9,2026-03-01,5,0,-4,4\n9,2026-03-01,9,10,6,14\n"
    "9,2026-03-01,none,0,-4,4\n";

static void
parse_ok(const char *text, struct query_disp *d)
{
	int r = query_disp_parse(text, strlen(text), "r.csv", d);

	if (r != CAIRN_OK)
		fail_msg("parse: %s", cairn_errdesc(r));
}

static void
parse_bad(const char *text, const char *want)
{
	struct query_disp d;

	memset(&d, 0, sizeof(d));
	assert_int_equal(query_disp_parse(text, strlen(text), "r.csv", &d),
	    CAIRN_ERR_FORMAT);
	if (strstr(cairn_errdesc(CAIRN_ERR_FORMAT), want) == NULL)
		fail_msg("'%s' not in '%s'", want,
		    cairn_errdesc(CAIRN_ERR_FORMAT));
}

static void
test_parse(void **state)
{
	struct query_disp d;
	char buf[1024];

	(void)state;
	parse_ok(good, &d);
	assert_int_equal(d.nregions, 2);
	assert_int_equal(d.regions[0], 5);
	assert_int_equal(d.regions[1], 9);
	assert_int_equal(d.ndays, 1);
	assert_int_equal(d.variance, 4);
	assert_int_equal(d.values[2], 3);
	query_disp_release(&d);
	/* extra label columns (names) are skipped, quotes allowed */
	parse_ok("# noise variance 4 per cell\n"
	    "home,home_name,day,region,region_name,value\n"
	    "5,\"Five, north\",2026-03-01,5,x,1\n5,a,2026-03-01,9,\"\"\"y\","
	    "2\n5,a,2026-03-01,none,,3\n9,b,2026-03-01,5,x,4\n"
	    "9,b,2026-03-01,9,y,5\n9,b,2026-03-01,none,,6\n", &d);
	assert_int_equal(d.values[5], 6);
	query_disp_release(&d);

	parse_bad("# noise variance -5 per cell\nhome,day,region,value\n",
	    "r.csv:1: not a noise variance");
	parse_bad("# noise variance 4 per cell\nregion,count\n1,2\n",
	    "r.csv:2: not a displacement result");
	snprintf(buf, sizeof(buf), "%s", good + strlen("# query q kind "
	    "displacement released at log index 7\n# rho 0.5 per data-month "
	    "= (epsilon 4, delta 1e-06) tight\n# noise variance 4 per cell, "
	    "95% interval value +- 4\n"));
	parse_bad(buf, "r.csv: no '# noise variance V per cell' line");
	/* a cell missing, two swapped, a bad value, a bad date */
	snprintf(buf, sizeof(buf), "%.*s", (int)(strlen(good) -
	    strlen("9,2026-03-01,none,0,-4,4\n")), good);
	parse_bad(buf, "are not regions x days x (regions + 1)");
	parse_bad("# noise variance 4 per cell\nhome,day,region,value\n"
	    "5,2026-03-01,9,1\n5,2026-03-01,5,1\n5,2026-03-01,none,1\n"
	    "9,2026-03-01,5,1\n9,2026-03-01,9,1\n9,2026-03-01,none,1\n",
	    "cell 1 is not (home 5, day 0, region 0)");
	parse_bad("# noise variance 4 per cell\nhome,day,region,value\n"
	    "5,2026-03-01,5,x\n", "r.csv:3: field 'value': not an integer");
	parse_bad("# noise variance 4 per cell\nhome,day,region,value\n"
	    "5,2026-02-30,5,1\n", "r.csv:3: field 'day': not a date");
	parse_bad("# noise variance 4 per cell\nhome,day,region,value\n"
	    "5,2026-03-01,elsewhere,1\n", "field 'region': not a region id");
	parse_bad("# noise variance 4 per cell\nhome,day,region,value\n"
	    "5,\"2026-03-01,5,1\n", "r.csv:3: malformed CSV line");
}

/* (A - t S)^2 - z^2 ((1 - t)^2 VA + t^2 VH): zero at Fieller's limits. */
static double
fieller(double A, double S, double VA, double VH, double t)
{
	return (A - t * S) * (A - t * S) - Z95 * Z95 * ((1 - t) * (1 - t) *
	    VA + t * t * VH);
}

static void
test_share_known(void **state)
{
	struct query_disp d;
	struct query_share s;
	double f, half;

	(void)state;
	parse_ok(good, &d);
	/* home 5: 40 away of 100 seen; the not-seen 3 are not in it */
	query_disp_share(&d, 0, 0, &s);
	assert_int_equal(s.seen, 100);
	assert_int_equal(s.away, 40);
	assert_true(fabs(s.share - 0.4) < 1e-12);
	assert_true(s.bounded);
	assert_true(s.lo < 0.4 && 0.4 < s.hi);
	assert_true(fabs(fieller(40, 100, 4, 4, s.lo)) < 1e-6);
	assert_true(fabs(fieller(40, 100, 4, 4, s.hi)) < 1e-6);
	/* close to the delta method's half-width for these counts */
	f = 0.4;
	half = Z95 * sqrt(((1 - f) * (1 - f) * 4 + f * f * 4) / 1e4);
	assert_true(fabs((s.hi - s.lo) / 2 - half) < 1e-3);
	/* home 9: none away, the interval starts at 0 */
	query_disp_share(&d, 1, 0, &s);
	assert_int_equal(s.seen, 10);
	assert_true(s.share == 0 && s.lo == 0 && s.hi > 0 && s.hi < 1);
	/* a seen cohort within the noise: no bounded interval */
	d.values[3 + 1] = 2;
	query_disp_share(&d, 1, 0, &s);
	assert_false(s.bounded);
	assert_true(s.lo == 0 && s.hi == 1);
	/* and a negative noisy total has no share */
	d.values[3 + 1] = -3;
	query_disp_share(&d, 1, 0, &s);
	assert_true(isnan(s.share));
	query_disp_release(&d);
}

static struct dp_rng *
seeded(unsigned char tag)
{
	uint8_t seed[32];
	struct dp_rng *g = NULL;

	memset(seed, tag, sizeof(seed));
	assert_int_equal(dp_rng_new_seeded(&g, seed), CAIRN_OK);
	return g;
}

/*
 * Three regions, true cells of home 0 on every day: 300 at home, 150 and
 * 50 away, 20 not seen (share 0.4); released with variance V.
 */
static void
noisy(struct query_disp *d, size_t ndays, uint64_t V, struct dp_rng *g,
    int64_t extra_day0)
{
	static const int64_t truth[4] = { 300, 150, 50, 20 };
	size_t n = 3 * ndays * 4;

	d->nregions = 3;
	d->ndays = ndays;
	d->variance = V;
	assert_int_equal(dp_dgauss_fill(g, (struct dp_rat){ V, 1 }, d->values,
	    n), CAIRN_OK);
	for (size_t day = 0; day < ndays; day++)
		for (size_t c = 0; c < 4; c++)
			d->values[day * 4 + c] += truth[c] +
			    (day == 0 && c == 1 ? extra_day0 : 0);
}

static void
test_share_coverage(void **state)
{
	static uint32_t regions[3] = { 1, 2, 3 };
	static int64_t values[3 * 4];
	struct query_disp d = { regions, 3, 0, 1, values, 400 };
	struct dp_rng *g = seeded(7);
	unsigned hit = 0, trials = 2000;

	(void)state;
	for (unsigned t = 0; t < trials; t++) {
		struct query_share s;

		noisy(&d, 1, 400, g, 0);
		query_disp_share(&d, 0, 0, &s);
		hit += s.lo <= 0.4 && 0.4 <= s.hi;
	}
	dp_rng_free(g);
	print_message("share away: %u of %u intervals cover 0.4\n", hit,
	    trials);
	assert_true(hit >= trials * 93 / 100 && hit <= trials * 97 / 100);
}

static void
test_above(void **state)
{
	static uint32_t regions[3] = { 1, 2, 3 };
	static int64_t ov[3 * 4], nv[3 * 7 * 4];
	struct query_disp obs = { regions, 3, 0, 1, ov, 100 };
	struct query_disp nor = { regions, 3, 0, 7, nv, 64 };
	struct query_above a;
	struct dp_rng *g = seeded(9);
	unsigned hit1 = 0, hitall = 0, trials = 2000;
	double half;

	(void)state;
	/* known numbers: no noise, the day has 30 more to region 2 */
	memset(nv, 0, sizeof(nv));
	for (size_t day = 0; day < 7; day++) {
		nv[day * 4 + 1] = 150 + (int64_t)day - 3;
		nv[day * 4 + 2] = 50;
	}
	memset(ov, 0, sizeof(ov));
	ov[1] = 180;
	ov[2] = 50;
	query_disp_above(&obs, &nor, 0, 7, 0, 0, 1, &a);
	assert_int_equal(a.value, 180);
	assert_true(fabs(a.normal - 150) < 1e-9 && fabs(a.above - 30) < 1e-9);
	half = Z95 * sqrt(100 + 64.0 / 7);
	assert_true(fabs(a.hi - a.above - half) < 1e-9);
	/* 'all': both destinations, twice the variance */
	query_disp_above(&obs, &nor, 0, 7, 0, 0, 3, &a);
	assert_int_equal(a.value, 230);
	assert_true(fabs(a.above - 30) < 1e-9);
	assert_true(fabs(a.hi - a.above - Z95 * sqrt(2 * (100 +
	    64.0 / 7))) < 1e-9);
	/* a window of the normal's days: days 3..4 only */
	query_disp_above(&obs, &nor, 3, 5, 0, 0, 1, &a);
	assert_true(fabs(a.normal - 150.5) < 1e-9);
	/* coverage of the true 30 above normal, per flow and for all */
	for (unsigned t = 0; t < trials; t++) {
		noisy(&nor, 7, 64, g, 0);
		noisy(&obs, 1, 100, g, 30);
		query_disp_above(&obs, &nor, 0, 7, 0, 0, 1, &a);
		hit1 += a.lo <= 30 && 30 <= a.hi;
		query_disp_above(&obs, &nor, 0, 7, 0, 0, 3, &a);
		hitall += a.lo <= 30 && 30 <= a.hi;
	}
	dp_rng_free(g);
	print_message("above normal: %u (one flow), %u (all) of %u cover\n",
	    hit1, hitall, trials);
	assert_true(hit1 >= trials * 93 / 100 && hit1 <= trials * 97 / 100);
	assert_true(hitall >= trials * 93 / 100 &&
	    hitall <= trials * 97 / 100);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_share_known),
		cmocka_unit_test(test_share_coverage),
		cmocka_unit_test(test_above),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
