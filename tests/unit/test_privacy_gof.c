/*
 * test_privacy_gof.c - goodness of fit of the exact samplers against their
 * exact pmfs, from fixed seeds of the deterministic test source.
 *
 * Each case draws 10^6 samples and runs a chi-squared test over the
 * support binned so that every bin expects at least 20 samples (the tails
 * beyond are merged into one bin each side); the threshold is the
 * chi-squared critical value at p = 0.001 for the bins' degrees of freedom
 * (Wilson-Hilferty).  The sample mean and second moment must lie within 5
 * of their exact standard errors.  Negative controls run the same test on
 * a sampler whose sigma2 is 5% off and assert that it fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "common/err.h"
#include "privacy/dp.h"
#include "privacy/dp_int.h"

#define NSAMPLES	1000000
/* The upper 0.001 quantile of the standard normal. */
#define Z_001		3.090232306167813
#define ZMAX		5.0
#define MIN_EXPECTED	20	/* see gof_run() */

/* An exact pmf over [lo, lo + n), with the mass outside below 1e-300. */
struct pmf {
	int64_t	 lo;
	size_t	 n;
	double	*p;
};

static void
pmf_make(struct pmf *f, int64_t half, double (*logw)(int64_t, double),
    double param)
{
	double z = 0;

	f->lo = -half;
	f->n = (size_t)(2 * half + 1);
	f->p = calloc(f->n, sizeof(double));
	assert_non_null(f->p);
	for (size_t i = 0; i < f->n; i++) {
		f->p[i] = exp(logw(f->lo + (int64_t)i, param));
		z += f->p[i];
	}
	for (size_t i = 0; i < f->n; i++)
		f->p[i] /= z;
}

static double
logw_gauss(int64_t x, double sigma2)
{
	return -(double)x * (double)x / (2 * sigma2);
}

static double
logw_laplace(int64_t x, double scale)
{
	return -fabs((double)x) / scale;
}

static void
pmf_gauss(struct pmf *f, double sigma2)
{
	pmf_make(f, (int64_t)ceil(sqrt(1500 * sigma2)) + 1, logw_gauss, sigma2);
}

static void
pmf_laplace(struct pmf *f, double scale)
{
	pmf_make(f, (int64_t)ceil(750 * scale) + 1, logw_laplace, scale);
}

struct gof {
	double	chi2, crit;
	int	df;
	double	z_mean, z_m2;
};

/* The chi-squared critical value at p = 0.001 (Wilson-Hilferty). */
static double
chi2_crit(int df)
{
	double a = 2.0 / (9.0 * df), b = 1 - a + Z_001 * sqrt(a);

	return df * b * b * b;
}

static void
gof_run(const int64_t *x, size_t n, const struct pmf *f, struct gof *g)
{
	size_t a, b, nb, i;
	double *e, *o, ltail = 0, rtail = 0, m1 = 0, m2 = 0, v = 0, mu4 = 0;

	/*
	 * Central bins: the contiguous run of values expecting at least
	 * MIN_EXPECTED.  Cochran's rule of 5 makes the statistic's tail
	 * heavier than chi-squared when many bins sit near 5 (p-values below
	 * 0.01 came 5 times too often in trials of a sampler that passes
	 * with 10^8 draws); 20 keeps the approximation honest.
	 */
	for (a = 0; a < f->n && f->p[a] * n < MIN_EXPECTED; a++)
		ltail += f->p[a];
	for (b = f->n; b > a && f->p[b - 1] * n < MIN_EXPECTED; b--)
		rtail += f->p[b - 1];
	assert_true(b > a + 2);
	nb = b - a + 2;
	e = calloc(nb, sizeof(double));
	o = calloc(nb, sizeof(double));
	assert_non_null(e);
	assert_non_null(o);
	e[0] = ltail * n;
	e[nb - 1] = rtail * n;
	for (i = a; i < b; i++)
		e[i - a + 1] = f->p[i] * n;
	for (i = 0; i < n; i++) {
		int64_t k = x[i] - f->lo;
		double xd = (double)x[i];

		if (k < (int64_t)a)
			o[0]++;
		else if (k >= (int64_t)b)
			o[nb - 1]++;
		else
			o[k - (int64_t)a + 1]++;
		m1 += xd;
		m2 += xd * xd;
	}
	/* Fold a tail bin expecting too little into its neighbour. */
	if (e[0] < MIN_EXPECTED) {
		e[1] += e[0];
		o[1] += o[0];
		e[0] = o[0] = 0;
	}
	if (e[nb - 1] < MIN_EXPECTED) {
		e[nb - 2] += e[nb - 1];
		o[nb - 2] += o[nb - 1];
		e[nb - 1] = o[nb - 1] = 0;
	}
	g->chi2 = 0;
	g->df = -1;
	for (i = 0; i < nb; i++) {
		if (e[i] == 0)
			continue;
		g->chi2 += (o[i] - e[i]) * (o[i] - e[i]) / e[i];
		g->df++;
	}
	g->crit = chi2_crit(g->df);
	for (i = 0; i < f->n; i++) {
		double xd = (double)(f->lo + (int64_t)i);

		v += xd * xd * f->p[i];
		mu4 += xd * xd * xd * xd * f->p[i];
	}
	/* Mean 0 exactly; E[X^2] = v with variance (mu4 - v^2) / n. */
	g->z_mean = (m1 / n) / sqrt(v / n);
	g->z_m2 = (m2 / n - v) / sqrt((mu4 - v * v) / n);
	free(e);
	free(o);
}

static bool
gof_passes(const struct gof *g)
{
	return g->chi2 <= g->crit && fabs(g->z_mean) <= ZMAX &&
	    fabs(g->z_m2) <= ZMAX;
}

/* Each case's fixed seed: BLAKE2b-256 of its label. */
static void
seed_of(uint8_t seed[32], const char *label)
{
	assert_int_equal(crypto_generichash(seed, 32, (const uint8_t *)label,
	    strlen(label), NULL, 0), 0);
}

/*
 * Draw 'n' samples of the mechanism at 'x' from the seed of 'label' and
 * test them against 'f'.
 */
static void
draw_and_test(bool gauss, struct dp_rat x, size_t n,
    const struct pmf *f, struct gof *g, const char *label)
{
	struct dp_rng *rng = NULL;
	uint8_t seed[32];
	int64_t *s;

	s = malloc(n * sizeof(*s));
	assert_non_null(s);
	seed_of(seed, label);
	assert_int_equal(dp_rng_new_seeded(&rng, seed), CAIRN_OK);
	if (gauss)
		assert_int_equal(dp_dgauss_fill(rng, x, s, n), CAIRN_OK);
	else
		assert_int_equal(dp_dlaplace_fill(rng, x, s, n), CAIRN_OK);
	gof_run(s, n, f, g);
	print_message("%-34s chi2 = %9.2f  df = %4d  crit(p=0.001) = %8.2f  "
	    "z_mean = %+.2f  z_var = %+.2f\n", label, g->chi2, g->df, g->crit,
	    g->z_mean, g->z_m2);
	dp_rng_free(rng);
	free(s);
}

static void
check_dgauss(uint64_t num, uint64_t den, size_t n)
{
	struct pmf f;
	struct gof g;
	char label[64];

	snprintf(label, sizeof(label), "dgauss sigma2=%llu/%llu",
	    (unsigned long long)num, (unsigned long long)den);
	pmf_gauss(&f, (double)num / (double)den);
	draw_and_test(true, (struct dp_rat){ num, den }, n, &f, &g, label);
	assert_true(g.chi2 <= g.crit);
	assert_true(fabs(g.z_mean) <= ZMAX);
	assert_true(fabs(g.z_m2) <= ZMAX);
	free(f.p);
}

static void
test_gof_dgauss_4(void **state)
{
	check_dgauss(4, 1, NSAMPLES);
}

static void
test_gof_dgauss_30(void **state)
{
	check_dgauss(30, 1, NSAMPLES);
}

static void
test_gof_dgauss_1000(void **state)
{
	check_dgauss(1000, 1, NSAMPLES);
}

static void
test_gof_dgauss_fraction(void **state)
{
	/* 5.484964 = 1371241/250000 in lowest terms. */
	check_dgauss(5484964, 1000000, NSAMPLES);
}

static void
test_gof_dgauss_wide(void **state)
{
	/*
	 * q = 2^50 makes |Y| q t - p exceed 2^64 beyond about 4 sigma, so
	 * the 256-bit acceptance path runs on a few percent of proposals.
	 */
	check_dgauss(((uint64_t)1 << 62) - 1, (uint64_t)1 << 50, 200000);
}

static void
check_dlaplace(uint64_t num, uint64_t den)
{
	struct pmf f;
	struct gof g;
	char label[64];

	snprintf(label, sizeof(label), "dlaplace scale=%llu/%llu",
	    (unsigned long long)num, (unsigned long long)den);
	pmf_laplace(&f, (double)num / (double)den);
	draw_and_test(false, (struct dp_rat){ num, den }, NSAMPLES, &f, &g,
	    label);
	assert_true(g.chi2 <= g.crit);
	assert_true(fabs(g.z_mean) <= ZMAX);
	assert_true(fabs(g.z_m2) <= ZMAX);
	free(f.p);
}

static void
test_gof_dlaplace_3(void **state)
{
	check_dlaplace(3, 1);
}

static void
test_gof_dlaplace_fraction(void **state)
{
	check_dlaplace(100, 7);
}

/* The negative controls: the test must reject a sigma2 5% off. */
static void
check_negative(uint64_t num, uint64_t den, double claimed)
{
	struct pmf f;
	struct gof g;
	char label[64];

	snprintf(label, sizeof(label), "NEG dgauss %llu/%llu vs %g",
	    (unsigned long long)num, (unsigned long long)den, claimed);
	pmf_gauss(&f, claimed);
	draw_and_test(true, (struct dp_rat){ num, den }, NSAMPLES, &f, &g,
	    label);
	assert_false(gof_passes(&g));
	assert_true(g.chi2 > g.crit);
	free(f.p);
}

static void
test_gof_negative_control(void **state)
{
	check_negative(1050, 1, 1000);	/* sigma2 5% high */
	check_negative(19, 5, 4);		/* sigma2 5% low */
}

/* The critical values against tabulated chi-squared quantiles. */
static void
test_gof_crit(void **state)
{
	/* Wilson-Hilferty is within 1% at p = 0.001 from 10 df up. */
	assert_true(fabs(chi2_crit(10) / 29.588 - 1) < 0.01);
	assert_true(fabs(chi2_crit(50) / 86.661 - 1) < 0.005);
	assert_true(fabs(chi2_crit(100) / 149.449 - 1) < 0.005);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gof_crit),
		cmocka_unit_test(test_gof_dgauss_4),
		cmocka_unit_test(test_gof_dgauss_30),
		cmocka_unit_test(test_gof_dgauss_1000),
		cmocka_unit_test(test_gof_dgauss_fraction),
		cmocka_unit_test(test_gof_dgauss_wide),
		cmocka_unit_test(test_gof_dlaplace_3),
		cmocka_unit_test(test_gof_dlaplace_fraction),
		cmocka_unit_test(test_gof_negative_control),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
