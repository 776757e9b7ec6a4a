/*
 * dlaplace.c - the exact discrete Laplace (two-sided geometric) sampler
 * of scale t/s, P(x) proportional to exp(-|x| s/t) (Canonne, Kamath,
 * Steinke 2020, Algorithm 2).  Integer arithmetic only.
 */
#include "common/err.h"
#include "privacy/dp.h"
#include "privacy/dp_int.h"

#define DLAPLACE_LIMIT	((uint64_t)1 << 62)

int
dp_dlaplace_check(struct dp_rat scale)
{
	if (scale.den == 0)
		return cairn_err(CAIRN_ERR_ARG, "scale: zero denominator");
	dp_rat_reduce(&scale);
	if (scale.num == 0)
		return cairn_err(CAIRN_ERR_ARG, "scale must be > 0");
	if (scale.num > DP_DLAPLACE_MAX || scale.den > DP_DLAPLACE_MAX)
		return cairn_err(CAIRN_ERR_RANGE, "scale = %llu/%llu: "
		    "numerator and denominator must be at most 2^40",
		    (unsigned long long)scale.num,
		    (unsigned long long)scale.den);
	return CAIRN_OK;
}

int
dp_dlaplace_fill(struct dp_rng *rng, struct dp_rat scale, int64_t *out,
    size_t n)
{
	uint64_t t, s, vmax, y;
	int e;

	if ((e = dp_dlaplace_check(scale)) != CAIRN_OK)
		return e;
	if (out == NULL && n > 0)
		return cairn_err(CAIRN_ERR_ARG, "dlaplace: no output vector");
	dp_rng_enter(rng);
	dp_rat_reduce(&scale);
	t = scale.num;
	s = scale.den;
	vmax = (DLAPLACE_LIMIT - t) / t;
	for (size_t i = 0; i < n; i++) {
		for (;;) {
			y = dp_laplace_magnitude(rng, t, vmax);
			if (s != 1)
				y /= s;
			/* Reject -0 so that 0 is not counted twice. */
			if (dp_rng_bit(rng) == 0) {
				out[i] = (int64_t)y;
				break;
			}
			if (y != 0) {
				out[i] = -(int64_t)y;
				break;
			}
		}
	}
	return CAIRN_OK;
}
