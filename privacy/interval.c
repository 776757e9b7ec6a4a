/*
 * interval.c - distributed noise parameters and the 95% confidence
 * half-width of a released cell, from the exact discrete Gaussian pmf.
 * Floating point is fine here: nothing in this file produces noise.
 */
#include <math.h>

#include "common/err.h"
#include "privacy/dp.h"

#define SIGMA_H2_MIN	4
#define SIGMA_H2_MAX	((uint64_t)1 << 62)

int
dp_sigma2_per_node(struct dp_rat sigma2, uint32_t n, uint32_t c,
    uint64_t *sigma_h2)
{
	unsigned __int128 d, v;

	if (n <= c)
		return cairn_err(CAIRN_ERR_ARG, "%u participants cannot "
		    "outnumber %u colluding: need n > c", n, c);
	if (sigma2.den == 0 || sigma2.num == 0)
		return cairn_err(CAIRN_ERR_ARG, "sigma2 must be > 0");
	d = (unsigned __int128)sigma2.den * (n - c);
	v = (sigma2.num + d - 1) / d;
	if (v > SIGMA_H2_MAX)
		return cairn_err(CAIRN_ERR_RANGE, "sigma_h2 above 2^62");
	*sigma_h2 = v < SIGMA_H2_MIN ? SIGMA_H2_MIN : (uint64_t)v;
	return CAIRN_OK;
}

int
dp_released_variance(uint64_t sigma_h2, uint32_t n, uint64_t *variance)
{
	if (n == 0 || sigma_h2 == 0)
		return cairn_err(CAIRN_ERR_ARG, "released variance: n and "
		    "sigma_h2 must be > 0");
	if (sigma_h2 > SIGMA_H2_MAX / n)
		return cairn_err(CAIRN_ERR_OVERFLOW, "released variance: %u x "
		    "%llu exceeds 2^62", n, (unsigned long long)sigma_h2);
	*variance = sigma_h2 * n;
	return CAIRN_OK;
}

/*
 * The normaliser sum_x exp(-x^2 / (2 v)).  For v >= 16 the Jacobi theta
 * identity sum_x exp(-x^2/(2v)) = sqrt(2 pi v) (1 + 2 sum_k
 * exp(-2 pi^2 k^2 v)) gives it exactly up to terms below e^-315, i.e. zero
 * in long double; below, sum directly out to e^-200.
 */
static long double
normaliser(uint64_t v)
{
	long double z = 1, x2;

	if (v >= 16)
		return sqrtl(2 * 3.14159265358979323846264338327950288L * v);
	for (uint64_t x = 1;; x++) {
		x2 = (long double)x * x / (2.0L * v);
		if (x2 > 200)
			break;
		z += 2 * expl(-x2);
	}
	return z;
}

int
dp_ci95_halfwidth(uint64_t variance, uint64_t *w)
{
	long double z, target, c, f, g, q;
	uint64_t x;

	if (variance == 0)
		return cairn_err(CAIRN_ERR_ARG, "interval: variance must be "
		    "> 0");
	if (variance > DP_CI_VARIANCE_MAX)
		return cairn_err(CAIRN_ERR_RANGE, "interval: variance %llu "
		    "above 2^50", (unsigned long long)variance);
	z = normaliser(variance);
	target = 0.95L * z;
	/*
	 * c = sum_{|y| <= x} exp(-y^2/(2v)), grown one x at a time with
	 * f(x) = f(x-1) g(x), g(x) = g(x-1) q, q = exp(-1/v); re-anchored
	 * with expl() every 4096 steps so rounding cannot accumulate.
	 */
	q = expl(-1.0L / variance);
	c = 1;
	f = 1;
	g = expl(-1.0L / (2.0L * variance));	/* f(1)/f(0) */
	for (x = 0; c < target; ) {
		x++;
		if ((x & 4095) == 0) {
			f = expl(-(long double)x * x / (2.0L * variance));
			g = expl(-(2.0L * x + 1) / (2.0L * variance));
		} else {
			f *= g;
			g *= q;
		}
		c += 2 * f;
	}
	*w = x;
	return CAIRN_OK;
}
