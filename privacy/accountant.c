/*
 * accountant.c - zero-concentrated DP accounting: rho from (delta2,
 * sigma2) and back, composition, and the conversions of rho-zCDP to
 * (eps, delta)-DP shown to users.  Floating point is fine here: nothing in
 * this file produces noise.
 */
#include <math.h>

#include "common/err.h"
#include "privacy/dp.h"

int
dp_rho_from_sigma2(uint64_t delta2_sq, struct dp_rat sigma2, double *rho)
{
	if (delta2_sq == 0)
		return cairn_err(CAIRN_ERR_ARG, "rho: sensitivity must be > 0");
	if (sigma2.den == 0 || sigma2.num == 0)
		return cairn_err(CAIRN_ERR_ARG, "rho: sigma2 must be > 0");
	*rho = (double)((long double)delta2_sq * sigma2.den /
	    (2.0L * sigma2.num));
	return CAIRN_OK;
}

int
dp_sigma2_from_rho(uint64_t delta2_sq, double rho, uint64_t *sigma2)
{
	long double v, s;

	if (delta2_sq == 0)
		return cairn_err(CAIRN_ERR_ARG, "sigma2: sensitivity must be "
		    "> 0");
	if (!isfinite(rho) || rho <= 0)
		return cairn_err(CAIRN_ERR_ARG, "rho must be a finite number "
		    "> 0");
	v = (long double)delta2_sq / (2.0L * rho);
	if (v > (long double)DP_SIGMA2_PLAN_MAX)
		return cairn_err(CAIRN_ERR_RANGE, "rho = %g needs sigma2 "
		    "above 2^50", rho);
	/*
	 * rho usually arrives as a decimal ("0.35") that binary cannot hold
	 * exactly, so 7 / (2 x 0.35) comes out as 10.0000000000000006: a
	 * quotient within a relative 1e-12 of an integer is that integer
	 * (rho is then exceeded by at most that much); any other rounds up.
	 */
	s = roundl(v);
	if (fabsl(v - s) > v * 1e-12L)
		s = ceill(v);
	if (s < 1)
		s = 1;
	if (s > (long double)DP_SIGMA2_PLAN_MAX)
		return cairn_err(CAIRN_ERR_RANGE, "rho = %g needs sigma2 "
		    "above 2^50", rho);
	*sigma2 = (uint64_t)s;
	return CAIRN_OK;
}

int
dp_rho_compose(const double *rho, size_t n, double *sum)
{
	double t = 0;

	for (size_t i = 0; i < n; i++) {
		if (!isfinite(rho[i]) || rho[i] < 0)
			return cairn_err(CAIRN_ERR_ARG, "rho[%zu] = %g is "
			    "not a finite number >= 0", i, rho[i]);
		t += rho[i];
	}
	*sum = t;
	return CAIRN_OK;
}

static int
check_rho_delta(double rho, double delta)
{
	if (!isfinite(rho) || rho < 0)
		return cairn_err(CAIRN_ERR_ARG, "rho = %g must be a finite "
		    "number >= 0", rho);
	if (!(delta > 0 && delta < 1))
		return cairn_err(CAIRN_ERR_ARG, "delta = %g must be in (0, 1)",
		    delta);
	return CAIRN_OK;
}

/* The conversion bound at Renyi order alpha = 1 + exp(u). */
static double
eps_at(double u, double rho, double delta)
{
	double am1 = exp(u), a = 1 + am1;

	return a * rho + (log(1 / delta) + am1 * log1p(-1 / a) - log(a)) /
	    am1;
}

int
dp_eps_from_rho_tight(double rho, double delta, double *eps)
{
	const double lo = -20, hi = 40, g = 0.5 * (sqrt(5.0) - 1);
	const int grid = 600;
	double best, bu, a, b, c, d, fc, fd;
	int e;

	if ((e = check_rho_delta(rho, delta)) != CAIRN_OK)
		return e;
	/* Coarse scan for the basin, then golden-section refinement. */
	bu = lo;
	best = eps_at(lo, rho, delta);
	for (int i = 1; i <= grid; i++) {
		double u = lo + (hi - lo) * i / grid, f = eps_at(u, rho, delta);

		if (f < best) {
			best = f;
			bu = u;
		}
	}
	a = bu - (hi - lo) / grid;
	b = bu + (hi - lo) / grid;
	c = b - g * (b - a);
	d = a + g * (b - a);
	fc = eps_at(c, rho, delta);
	fd = eps_at(d, rho, delta);
	for (int i = 0; i < 200; i++) {
		if (fc < fd) {
			b = d;
			d = c;
			fd = fc;
			c = b - g * (b - a);
			fc = eps_at(c, rho, delta);
		} else {
			a = c;
			c = d;
			fc = fd;
			d = a + g * (b - a);
			fd = eps_at(d, rho, delta);
		}
	}
	if (fc < best)
		best = fc;
	if (fd < best)
		best = fd;
	*eps = best > 0 ? best : 0;
	return CAIRN_OK;
}

int
dp_eps_from_rho_simple(double rho, double delta, double *eps)
{
	int e;

	if ((e = check_rho_delta(rho, delta)) != CAIRN_OK)
		return e;
	*eps = rho + 2 * sqrt(rho * log(1 / delta));
	return CAIRN_OK;
}

int
dp_rho_to_nano(double rho, uint64_t *nano)
{
	long double v, f;

	if (!(rho > 0) || rho > 1e9)
		return cairn_err(CAIRN_ERR_RANGE, "rho %g is outside (0, 1e9]",
		    rho);
	v = (long double)rho * DP_NANO;
	f = roundl(v);
	if (fabsl(v - f) > v * 1e-12L)
		f = floorl(v);
	if (f < 1)
		return cairn_err(CAIRN_ERR_RANGE, "rho %g is below one "
		    "nano-rho (1e-9)", rho);
	*nano = (uint64_t)f;
	return CAIRN_OK;
}
