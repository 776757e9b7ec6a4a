/*
 * dgauss.c - the exact discrete Gaussian sampler, N_Z(0, sigma2) with
 * sigma2 = p/q rational (Canonne, Kamath, Steinke 2020, Algorithm 3).
 *
 * A proposal Y is drawn from the discrete Laplace distribution of scale
 * t = floor(sigma) + 1 and accepted with probability
 *   exp(-(|Y| - sigma2/t)^2 / (2 sigma2))
 *     = exp(-(|Y| q t - p)^2 / (2 p q t^2)),
 * which is a ratio of integers: the numerator fits 128 bits while
 * |Y| q t - p < 2^64 (every proposal in practice) and is computed in 256
 * bits otherwise.  No floating point is used; the parameter limits of
 * dp_dgauss_check() keep every intermediate in range.
 */
#include "common/err.h"
#include "privacy/dp.h"
#include "privacy/dp_int.h"

/* Proposals stay below this magnitude (see dp_laplace_magnitude()). */
#define DGAUSS_LIMIT	((uint64_t)1 << 62)

struct dgauss {
	uint64_t	p, q;		/* sigma2 = p/q, lowest terms */
	uint64_t	t;		/* Laplace scale floor(sigma) + 1 */
	uint64_t	qt;		/* q * t < 2^63 */
	uint64_t	vmax;		/* cap on the geometric part */
	dp_u128		den;		/* 2 p q t^2 < 2^126 */
};

static int
dgauss_setup(struct dp_rat s2, struct dgauss *g)
{
	dp_u128 pq, t2, qt;

	if (s2.den == 0)
		return cairn_err(CAIRN_ERR_ARG, "sigma2: zero denominator");
	dp_rat_reduce(&s2);
	if (s2.num == 0)
		return cairn_err(CAIRN_ERR_ARG, "sigma2 must be > 0");
	if (s2.num > DP_RAT_MAX || s2.den > DP_RAT_MAX)
		return cairn_err(CAIRN_ERR_RANGE, "sigma2 = %llu/%llu: "
		    "numerator and denominator must be below 2^63",
		    (unsigned long long)s2.num, (unsigned long long)s2.den);
	g->p = s2.num;
	g->q = s2.den;
	g->t = dp_isqrt(s2.num / s2.den) + 1;
	qt = (dp_u128)g->q * g->t;
	if (qt >= (dp_u128)1 << 63)
		return cairn_err(CAIRN_ERR_RANGE, "sigma2 = %llu/%llu: "
		    "q (floor(sigma) + 1) must be below 2^63",
		    (unsigned long long)g->p, (unsigned long long)g->q);
	pq = (dp_u128)g->p * g->q;
	t2 = (dp_u128)g->t * g->t;
	if (pq > ((((dp_u128)1 << 125) - 1) / t2))
		return cairn_err(CAIRN_ERR_RANGE, "sigma2 = %llu/%llu: "
		    "2 p q (floor(sigma) + 1)^2 must be below 2^126",
		    (unsigned long long)g->p, (unsigned long long)g->q);
	g->qt = (uint64_t)qt;
	g->den = 2 * pq * t2;
	g->vmax = (DGAUSS_LIMIT - g->t) / g->t;
	return CAIRN_OK;
}

int
dp_dgauss_check(struct dp_rat sigma2)
{
	struct dgauss g;

	return dgauss_setup(sigma2, &g);
}

/* a * b as a 256-bit number hi:lo. */
static void
mul128(dp_u128 a, dp_u128 b, dp_u128 *hi, dp_u128 *lo)
{
	uint64_t a0 = (uint64_t)a, a1 = (uint64_t)(a >> 64);
	uint64_t b0 = (uint64_t)b, b1 = (uint64_t)(b >> 64);
	dp_u128 p00 = (dp_u128)a0 * b0, p01 = (dp_u128)a0 * b1;
	dp_u128 p10 = (dp_u128)a1 * b0, p11 = (dp_u128)a1 * b1;
	dp_u128 mid = (p00 >> 64) + (uint64_t)p01 + (uint64_t)p10;

	*lo = (dp_u128)(uint64_t)p00 | (mid << 64);
	*hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
}

/* Bernoulli(exp(-m^2/den)) for m >= 2^64: m^2 needs 256 bits. */
static bool
bern_exp_wide(struct dp_rng *r, dp_u128 m, dp_u128 den)
{
	dp_u128 hi, lo;

	mul128(m, m, &hi, &lo);
	while (hi != 0 || lo > den) {
		if (!dp_bern_exp1(r))
			return false;
		if (lo < den)
			hi--;
		lo -= den;
	}
	return dp_bern_exp128(r, lo, den);
}

static int64_t
dgauss_one(struct dp_rng *r, const struct dgauss *g)
{
	uint64_t a;
	dp_u128 aqt, m;
	bool neg, ok;

	for (;;) {
		a = dp_laplace_magnitude(r, g->t, g->vmax);
		neg = dp_rng_bit(r);
		if (neg && a == 0)
			continue;	/* -0: 0 must not count twice */
		aqt = (dp_u128)a * g->qt;
		m = aqt >= g->p ? aqt - g->p : g->p - aqt;
		if ((uint64_t)(m >> 64) == 0)
			ok = dp_bern_exp128(r, m * m, g->den);
		else
			ok = bern_exp_wide(r, m, g->den);
		if (ok)
			return neg ? -(int64_t)a : (int64_t)a;
	}
}

int
dp_dgauss_fill(struct dp_rng *rng, struct dp_rat sigma2, int64_t *out,
    size_t n)
{
	struct dgauss g;
	int e;

	if ((e = dgauss_setup(sigma2, &g)) != CAIRN_OK)
		return e;
	if (out == NULL && n > 0)
		return cairn_err(CAIRN_ERR_ARG, "dgauss: no output vector");
	dp_rng_enter(rng);
	for (size_t i = 0; i < n; i++)
		out[i] = dgauss_one(rng, &g);
	return CAIRN_OK;
}
