/*
 * sensitivity.c - how much one subscriber can change each query kind of
 * DESIGN §4: the L1 sensitivity (for discrete Laplace) and the squared L2
 * sensitivity (for the discrete Gaussian, kept as an exact integer since
 * rho = delta2^2 / (2 sigma2)); and dp_requirement(), the sensitivity of
 * every UTC data-month a query reads, its charge and the noise it needs.
 */
#include <string.h>

#include "common/err.h"
#include "common/timeutil.h"
#include "privacy/dp.h"

#define DELTA2_SQ_MAX	((uint64_t)1 << 40)

static const char *const kind_names[DP_KIND_COUNT] = {
	[DP_KIND_PRESENCE] = "presence",
	[DP_KIND_RESIDENTS] = "residents",
	[DP_KIND_OD] = "od",
	[DP_KIND_MIGRATION] = "migration",
	[DP_KIND_VISITORS] = "visitors",
	[DP_KIND_POPULATION_BY_CATEGORY] = "population_by_category",
	[DP_KIND_DISPLACEMENT] = "displacement",
};

int
dp_kind_parse(const char *name, enum dp_kind *out)
{
	for (int i = 0; i < DP_KIND_COUNT; i++)
		if (strcmp(name, kind_names[i]) == 0) {
			*out = (enum dp_kind)i;
			return CAIRN_OK;
		}
	return cairn_err(CAIRN_ERR_UNSUPPORTED, "unknown query kind '%s' "
	    "(presence, residents, od, migration, visitors, "
	    "population_by_category, displacement)", name);
}

const char *
dp_kind_name(enum dp_kind kind)
{
	if ((int)kind < 0 || (int)kind >= DP_KIND_COUNT)
		return "?";
	return kind_names[kind];
}

int
dp_sensitivity(enum dp_kind kind, const struct dp_query_shape *shape,
    struct dp_sensitivity *out)
{
	uint64_t cells, h = shape->holders;

	if (shape->k == 0 || shape->buckets == 0 || shape->holders == 0)
		return cairn_err(CAIRN_ERR_ARG, "%s: k, buckets and holders "
		    "must be >= 1", dp_kind_name(kind));
	switch (kind) {
	case DP_KIND_PRESENCE:
	case DP_KIND_VISITORS:
		/* Up to k cells per bucket, 1 per cell. */
		cells = (uint64_t)shape->k * shape->buckets;
		break;
	case DP_KIND_OD:
		if (shape->k != 1)
			return cairn_err(CAIRN_ERR_ARG, "od: k = %u has no "
			    "meaning (one transition per day pair)", shape->k);
		if (shape->buckets < 2)
			return cairn_err(CAIRN_ERR_ARG, "od: needs at least 2 "
			    "days, got %u", shape->buckets);
		cells = (uint64_t)shape->buckets - 1;
		break;
	case DP_KIND_DISPLACEMENT:
		/* One cell per observation day (not seen is a cell). */
		if (shape->k != 1)
			return cairn_err(CAIRN_ERR_ARG, "displacement: k = %u "
			    "has no meaning (one cell per day)", shape->k);
		cells = shape->buckets;
		break;
	case DP_KIND_RESIDENTS:
	case DP_KIND_MIGRATION:
	case DP_KIND_POPULATION_BY_CATEGORY:
		if (shape->k != 1)
			return cairn_err(CAIRN_ERR_ARG, "%s: k = %u has no "
			    "meaning (one cell per subscriber)",
			    dp_kind_name(kind), shape->k);
		cells = 1;
		break;
	default:
		return cairn_err(CAIRN_ERR_UNSUPPORTED, "unknown query kind "
		    "%d", (int)kind);
	}
	/* cells < 2^33 and h < 2^32: check before multiplying. */
	if (cells > DELTA2_SQ_MAX || h * h > DELTA2_SQ_MAX / cells)
		return cairn_err(CAIRN_ERR_RANGE, "%s: delta2^2 = h^2 x %llu "
		    "cells exceeds 2^40", dp_kind_name(kind),
		    (unsigned long long)cells);
	out->delta1 = h * cells;
	out->delta2_sq = h * h * cells;
	return CAIRN_OK;
}

/* ---- the requirement per data-month ---- */

/*
 * Every bucket (a local day or hour) is an interval of UTC seconds; the
 * privacy unit partitions a subscriber's records by UTC month.  A bucket
 * lies wholly in one month or straddles two (no bucket is longer than a
 * day).  'month_of' maps a UTC second to year*12 + month - 1.
 */
static int32_t
month_of(int64_t t)
{
	int64_t y;
	unsigned m, d;

	time_civil_from_days(time_day_of(t), &y, &m, &d);
	return (int32_t)(y * 12 + (m - 1));
}

/* The months [lo, hi] touched by UTC seconds [s, e), e > s. */
static void
span_months(int64_t s, int64_t e, int32_t *lo, int32_t *hi)
{
	*lo = month_of(s);
	*hi = month_of(e - 1);
}

/* The UTC second where local day 'day' begins. */
static int64_t
day_start(const struct dp_query *q, int64_t day)
{
	return day * 86400 - (int64_t)q->utc_offset_min * 60;
}

/*
 * Per month (index m - m0): the buckets wholly inside it ('full') and the
 * buckets partly inside it ('part'), for buckets of 'len' seconds over the
 * days [d0, d1).
 */
static void
count_buckets(const struct dp_query *q, int64_t d0, int64_t d1, int64_t len,
    int32_t m0, uint64_t *full, uint64_t *part)
{
	int64_t s = day_start(q, d0), e = day_start(q, d1);

	for (int64_t t = s; t < e; t += len) {
		int32_t a, b;

		span_months(t, t + len, &a, &b);
		if (a == b)
			full[a - m0]++;
		else {
			part[a - m0]++;
			part[b - m0]++;
		}
	}
}

/*
 * The single-cell kinds: a window [w0, w1) of local days gives its one
 * cell to every month it touches: 1 if it lies wholly in the month
 * (removing the month removes the cell), 2 otherwise (the cell can move).
 * A month already at 1 from migration's other window stays at 1: the
 * removal takes that window's home away, and with it the cell.
 */
static void
window_cell(const struct dp_query *q, int64_t w0, int64_t w1, int32_t m0,
    uint64_t *delta)
{
	int32_t a, b;

	span_months(day_start(q, w0), day_start(q, w1), &a, &b);
	for (int32_t m = a; m <= b; m++)
		if (a == b)
			delta[m - m0] = 1;
		else if (delta[m - m0] == 0)
			delta[m - m0] = 2;
}

static int
check_query(const struct dp_query *q, int64_t daymin, int64_t daymax)
{
	const char *kn = dp_kind_name(q->kind);

	if ((int)q->kind < 0 || (int)q->kind >= DP_KIND_COUNT)
		return cairn_err(CAIRN_ERR_ARG, "query kind %d is unknown",
		    (int)q->kind);
	if (q->k == 0 || q->holders == 0)
		return cairn_err(CAIRN_ERR_ARG, "%s: k and holders must be "
		    ">= 1", kn);
	if (q->k != 1 && q->kind != DP_KIND_PRESENCE &&
	    q->kind != DP_KIND_VISITORS)
		return cairn_err(CAIRN_ERR_ARG, "%s: k = %u has no meaning",
		    kn, q->k);
	if (q->hour && q->kind != DP_KIND_PRESENCE)
		return cairn_err(CAIRN_ERR_ARG, "%s: hour buckets are for "
		    "presence only", kn);
	if (q->utc_offset_min < -DP_MAX_OFFSET ||
	    q->utc_offset_min > DP_MAX_OFFSET)
		return cairn_err(CAIRN_ERR_RANGE, "%s: utc offset %d minutes "
		    "is outside [-%d, %d]", kn, (int)q->utc_offset_min,
		    DP_MAX_OFFSET, DP_MAX_OFFSET);
	if (q->day0 >= q->day1)
		return cairn_err(CAIRN_ERR_ARG, "%s: empty window [%lld, %lld)",
		    kn, (long long)q->day0, (long long)q->day1);
	if (q->day0 < daymin || q->day1 > daymax)
		return cairn_err(CAIRN_ERR_RANGE, "%s: window [%lld, %lld) "
		    "outside the years 0000-9999", kn, (long long)q->day0,
		    (long long)q->day1);
	if (q->day1 - q->day0 > DP_MAX_DAYS)
		return cairn_err(CAIRN_ERR_RANGE, "%s: window of %lld days "
		    "exceeds %d", kn, (long long)(q->day1 - q->day0),
		    DP_MAX_DAYS);
	if (q->kind == DP_KIND_OD && q->day1 - q->day0 < 2)
		return cairn_err(CAIRN_ERR_ARG, "od: needs at least 2 days");
	if (q->kind == DP_KIND_DISPLACEMENT && (q->base0 >= q->base1 ||
	    q->comp0 >= q->comp1 || q->base0 < q->day0 ||
	    q->comp0 < q->day0 || q->base1 > q->day1 || q->comp1 > q->day1))
		return cairn_err(CAIRN_ERR_ARG, "displacement: baseline "
		    "[%lld, %lld) and observation [%lld, %lld) must be "
		    "non-empty and inside [%lld, %lld)", (long long)q->base0,
		    (long long)q->base1, (long long)q->comp0,
		    (long long)q->comp1, (long long)q->day0,
		    (long long)q->day1);
	if (q->kind == DP_KIND_MIGRATION && (q->base0 >= q->base1 ||
	    q->comp0 >= q->comp1 || q->base0 < q->day0 ||
	    q->comp0 < q->day0 || q->base1 > q->day1 || q->comp1 > q->day1))
		return cairn_err(CAIRN_ERR_ARG, "migration: baseline [%lld, "
		    "%lld) and comparison [%lld, %lld) must be non-empty and "
		    "inside [%lld, %lld)", (long long)q->base0,
		    (long long)q->base1, (long long)q->comp0,
		    (long long)q->comp1, (long long)q->day0,
		    (long long)q->day1);
	return CAIRN_OK;
}

/*
 * displacement: a member has exactly one cell per observation day (its
 * day region, or not seen), keyed by its home over the baseline.  For a
 * month m the baseline touches, removing m's records can move the home
 * to another region when the baseline also touches another month (all B
 * cells move: 2B), or else only take it away (the B cells go: B).  For a
 * month the baseline does not touch the home stays, and each observation
 * day touching m can move its one cell (2 each).
 */
static void
displacement_deltas(const struct dp_query *q, int32_t m0, uint64_t *delta)
{
	uint64_t B = (uint64_t)(q->comp1 - q->comp0);
	int32_t a, b, c, d;

	for (int64_t day = q->comp0; day < q->comp1; day++) {
		span_months(day_start(q, day), day_start(q, day + 1), &c, &d);
		for (int32_t m = c; m <= d; m++)
			delta[m - m0] += 2;
	}
	span_months(day_start(q, q->base0), day_start(q, q->base1), &a, &b);
	for (int32_t m = a; m <= b; m++)
		delta[m - m0] = a == b ? B : 2 * B;
}

/*
 * Delta_m^2 / h^2 per month (index m - m0) of the days [day0, day1):
 * docs/privacy.md derives each line.
 */
static void
month_deltas(const struct dp_query *q, int32_t m0, uint64_t *delta)
{
	uint64_t full[DP_MAX_MONTHS], part[DP_MAX_MONTHS];
	uint64_t k = q->k, k2 = k < 2 ? k : 2, days;
	int32_t a, b, c, d;

	memset(full, 0, sizeof(full));
	memset(part, 0, sizeof(part));
	days = (uint64_t)(q->day1 - q->day0);
	switch (q->kind) {
	case DP_KIND_PRESENCE:
		/* A bucket wholly in m loses its <= k cells; one that
		   straddles m can trade its k cells for k others. */
		count_buckets(q, q->day0, q->day1, q->hour ? 3600 : 86400, m0,
		    full, part);
		span_months(day_start(q, q->day0), day_start(q, q->day1), &a,
		    &b);
		for (int32_t m = a; m <= b; m++)
			delta[m - m0] = k * full[m - m0] + 2 * k * part[m - m0];
		break;
	case DP_KIND_VISITORS:
		/* As presence, and the home (over the whole window) can
		   move, so on every other day the skipped region can
		   change: min(2, k) cells. */
		count_buckets(q, q->day0, q->day1, 86400, m0, full, part);
		span_months(day_start(q, q->day0), day_start(q, q->day1), &a,
		    &b);
		for (int32_t m = a; m <= b; m++)
			delta[m - m0] = k * full[m - m0] + 2 * k * part[m - m0]
			    + k2 * (days - full[m - m0] - part[m - m0]);
		break;
	case DP_KIND_OD:
		/* Pair (d, d+1): 1 when a day lies wholly in m (the pair
		   loses its one cell), else 2 when a day straddles m (the
		   cell can move), else 0. */
		for (int64_t day = q->day0; day + 1 < q->day1; day++) {
			uint64_t v[DP_MAX_MONTHS];
			int32_t lo, hi;

			span_months(day_start(q, day), day_start(q, day + 1),
			    &a, &b);
			span_months(day_start(q, day + 1),
			    day_start(q, day + 2), &c, &d);
			lo = a;
			hi = d;
			for (int32_t m = lo; m <= hi; m++)
				v[m - lo] = 2;
			if (a == b)
				v[a - lo] = 1;
			if (c == d)
				v[c - lo] = 1;
			for (int32_t m = lo; m <= hi; m++)
				delta[m - m0] += v[m - lo];
		}
		break;
	case DP_KIND_RESIDENTS:
	case DP_KIND_POPULATION_BY_CATEGORY:
		window_cell(q, q->day0, q->day1, m0, delta);
		break;
	case DP_KIND_MIGRATION:
		/* 0 for a month neither window touches (the gap between
		   them is not read), 1 when either window lies wholly in
		   the month, else 2. */
		window_cell(q, q->base0, q->base1, m0, delta);
		window_cell(q, q->comp0, q->comp1, m0, delta);
		break;
	case DP_KIND_DISPLACEMENT:
		displacement_deltas(q, m0, delta);
		break;
	default:
		break;
	}
}

/* ceil(a / b) in 128 bits, b > 0. */
static unsigned __int128
ceil128(unsigned __int128 a, unsigned __int128 b)
{
	return a / b + (a % b != 0);
}

int
dp_requirement(const struct dp_query *q, uint64_t rho_nano, uint32_t n,
    uint32_t c, uint64_t cells, struct dp_requirement *out)
{
	struct dp_requirement req;
	uint64_t delta[DP_MAX_MONTHS], maxd = 0, h2, x;
	unsigned __int128 s2;
	int64_t daymin = time_days_from_civil(0, 1, 2);
	int64_t daymax = time_days_from_civil(9999, 12, 31);
	int32_t m0, m1;
	struct dp_rat r2;
	int r;

	if ((r = check_query(q, daymin, daymax)) != CAIRN_OK)
		return r;
	if (n <= c)
		return cairn_err(CAIRN_ERR_ARG, "%u participants with up to %u "
		    "colluding leave no honest node", n, c);
	if (cells == 0 || rho_nano == 0)
		return cairn_err(CAIRN_ERR_ARG, "%s: cells and rho must be > 0",
		    dp_kind_name(q->kind));
	if (cells > DP_MAX_CELLS)
		return cairn_err(CAIRN_ERR_RANGE, "%s: %llu cells exceed 2^40",
		    dp_kind_name(q->kind), (unsigned long long)cells);
	memset(&req, 0, sizeof(req));
	memset(delta, 0, sizeof(delta));
	span_months(day_start(q, q->day0), day_start(q, q->day1), &m0, &m1);
	/* DP_MAX_DAYS days and two offset days span at most 92 months. */
	if (m1 - m0 >= DP_MAX_MONTHS)
		return cairn_err(CAIRN_ERR_INTERNAL, "%d months", m1 - m0 + 1);
	month_deltas(q, m0, delta);
	h2 = (uint64_t)q->holders * q->holders;
	for (int32_t m = m0; m <= m1; m++) {
		uint64_t v = delta[m - m0];

		if (v == 0)
			continue;
		if (v > DELTA2_SQ_MAX || h2 > DELTA2_SQ_MAX / v)
			return cairn_err(CAIRN_ERR_RANGE, "%s: delta2^2 = "
			    "h^2 x %llu exceeds 2^40", dp_kind_name(q->kind),
			    (unsigned long long)v);
		req.month[req.nmonths] = m;
		req.delta2_sq[req.nmonths++] = v * h2;
		if (v * h2 > maxd)
			maxd = v * h2;
	}
	if (req.nmonths == 0)
		return cairn_err(CAIRN_ERR_INTERNAL, "%s: no month read",
		    dp_kind_name(q->kind));
	/*
	 * KLS21 Thm. 2: with tau = 10 sum_{k=1}^{n'-1} exp(-2 pi^2 sigma_h^2
	 * k/(k+1)) <= 10 (n'-1) exp(-4 pi^2) < 7.2e-17 (n'-1) (sigma_h^2 >= 4,
	 * k/(k+1) >= 1/2), the honest sum is rho-zCDP with rho <= Delta^2 /
	 * (2 n' sigma_h^2) + tau d / 4, and tau d / 4 < 18 (n'-1) d 10^-18.
	 */
	x = (uint64_t)ceil128((unsigned __int128)18 * (n - c - 1) * cells,
	    DP_NANO);
	if (rho_nano <= x)
		return cairn_err(CAIRN_ERR_RANGE, "rho = %llu nano-rho does "
		    "not exceed the %llu nano-rho that %u honest nodes' noise "
		    "over %llu cells costs", (unsigned long long)rho_nano,
		    (unsigned long long)x, n - c, (unsigned long long)cells);
	s2 = ceil128((unsigned __int128)maxd * DP_NANO,
	    (unsigned __int128)2 * (rho_nano - x));
	if (s2 > DP_SIGMA2_PLAN_MAX)
		return cairn_err(CAIRN_ERR_RANGE, "%s: rho = %llu nano-rho "
		    "needs sigma2 above 2^50", dp_kind_name(q->kind),
		    (unsigned long long)rho_nano);
	req.sigma2 = (uint64_t)s2;
	req.extra_nano = x;
	for (size_t i = 0; i < req.nmonths; i++)
		req.rho_nano[i] = (uint64_t)ceil128((unsigned __int128)
		    req.delta2_sq[i] * DP_NANO, 2 * s2) + x;
	r2.num = req.sigma2;
	r2.den = 1;
	if ((r = dp_sigma2_per_node(r2, n, c, &req.sigma_h2)) != CAIRN_OK ||
	    (r = dp_released_variance(req.sigma_h2, n, &req.variance)) !=
	    CAIRN_OK)
		return r;
	*out = req;
	return CAIRN_OK;
}
