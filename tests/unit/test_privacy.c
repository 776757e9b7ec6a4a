/*
 * test_privacy.c - the privacy engine's units: uniform draws at their
 * bounds, the test source's stream, Bernoulli edge cases, parameter
 * limits, rational parsing, the accountant's reference values, distributed
 * noise, intervals and sensitivities.  The samplers' distributions are
 * tested in test_privacy_gof.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/timeutil.h"
#include "privacy/dp.h"
#include "privacy/dp_int.h"

typedef unsigned __int128 u128;

static struct dp_rng *
seeded(uint8_t tag)
{
	struct dp_rng *r = NULL;
	uint8_t seed[32] = { 0 };

	seed[0] = tag;
	assert_int_equal(dp_rng_new_seeded(&r, seed), CAIRN_OK);
	assert_non_null(r);
	return r;
}

/* |count - n p| within 5 standard errors. */
static void
assert_freq(unsigned long count, unsigned long n, double p)
{
	double se = sqrt(n * p * (1 - p));

	if (fabs(count - n * p) > 5 * se + 1e-9)
		fail_msg("count %lu of %lu, expected %.1f (se %.1f)", count, n,
		    n * p, se);
}

static void
test_uniform_small(void **state)
{
	struct dp_rng *r = seeded(1);
	unsigned long hist[10] = { 0 }, ones = 0;
	uint64_t v;

	assert_int_equal(dp_rng_uniform(r, 0, &v), CAIRN_ERR_ARG);
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(dp_rng_uniform(r, 1, &v), CAIRN_OK);
		assert_int_equal(v, 0);
	}
	for (int i = 0; i < 100000; i++) {
		assert_int_equal(dp_rng_uniform(r, 2, &v), CAIRN_OK);
		assert_true(v < 2);
		ones += v;
	}
	assert_freq(ones, 100000, 0.5);
	for (int i = 0; i < 100000; i++) {
		assert_int_equal(dp_rng_uniform(r, 10, &v), CAIRN_OK);
		assert_true(v < 10);
		hist[v]++;
	}
	for (int i = 0; i < 10; i++)
		assert_freq(hist[i], 100000, 0.1);
	dp_rng_free(r);
}

static void
test_uniform_large(void **state)
{
	struct dp_rng *r = seeded(2);
	const uint64_t n1 = ((uint64_t)1 << 63) + 1, n2 = UINT64_MAX;
	unsigned long top1 = 0, top2 = 0, last = 0;
	uint64_t v;

	for (int i = 0; i < 20000; i++) {
		assert_int_equal(dp_rng_uniform(r, n1, &v), CAIRN_OK);
		assert_true(v < n1);
		top1 += v >= ((uint64_t)1 << 62);
		assert_int_equal(dp_rng_uniform(r, n2, &v), CAIRN_OK);
		assert_true(v < n2);
		top2 += v >> 63;
		last += (v & 7) == 7;
	}
	/* [0, 2^63 + 1): P(v >= 2^62) is 1/2 up to 2^-63. */
	assert_freq(top1, 20000, 0.5);
	assert_freq(top2, 20000, 0.5);
	assert_freq(last, 20000, 0.125);
	dp_rng_free(r);
}

static void
test_uniform128(void **state)
{
	struct dp_rng *r = seeded(3);
	const u128 two64 = (u128)1 << 64;
	const u128 bounds[] = {
		1, 2, two64 - 1, two64, two64 + 1, ((u128)1 << 127) + 1,
		(u128)3 << 126, ~(u128)0,
	};
	unsigned long third = 0, over64 = 0;
	u128 v;

	assert_int_equal(dp_rng_uniform128(r, 0, &v), CAIRN_ERR_ARG);
	for (size_t b = 0; b < sizeof(bounds) / sizeof(bounds[0]); b++)
		for (int i = 0; i < 2000; i++) {
			assert_int_equal(dp_rng_uniform128(r, bounds[b], &v),
			    CAIRN_OK);
			assert_true(v < bounds[b]);
		}
	for (int i = 0; i < 20000; i++) {
		/* [0, 3 * 2^126): the top third is [2^127, 3 * 2^126). */
		assert_int_equal(dp_rng_uniform128(r, (u128)3 << 126, &v),
		    CAIRN_OK);
		third += v >= (u128)1 << 127;
		/* [0, 2^64 + 1): 2^64 itself comes with probability ~2^-64. */
		assert_int_equal(dp_rng_uniform128(r, two64 + 1, &v), CAIRN_OK);
		over64 += v >= two64;
	}
	assert_freq(third, 20000, 1.0 / 3);
	assert_int_equal(over64, 0);
	dp_rng_free(r);
}

/*
 * The test source is the ChaCha20 keystream (8-byte nonce 0 for the first
 * block) read as little-endian words: under the all-zero key it starts
 * 76 b8 e0 ad a0 f1 3d 90 (RFC 7539 test vector, block 0).
 */
static void
test_seeded_stream(void **state)
{
	struct dp_rng *a = NULL, *b = NULL, *c = NULL;
	uint8_t zero[32] = { 0 };
	u128 v;
	int64_t x[64], y[64];
	bool same = true;

	assert_int_equal(dp_rng_new_seeded(&a, zero), CAIRN_OK);
	assert_true(dp_rng_is_deterministic(a));
	assert_int_equal(dp_rng_uniform128(a, (u128)1 << 64, &v), CAIRN_OK);
	assert_true(v == (u128)0x903df1a0ade0b876ULL);
	dp_rng_free(a);

	a = seeded(7);
	b = seeded(7);
	c = seeded(8);
	assert_int_equal(dp_dgauss_fill(a, (struct dp_rat){ 1000, 1 }, x, 64),
	    CAIRN_OK);
	assert_int_equal(dp_dgauss_fill(b, (struct dp_rat){ 1000, 1 }, y, 64),
	    CAIRN_OK);
	assert_memory_equal(x, y, sizeof(x));
	assert_int_equal(dp_dgauss_fill(c, (struct dp_rat){ 1000, 1 }, y, 64),
	    CAIRN_OK);
	for (int i = 0; i < 64; i++)
		same = same && x[i] == y[i];
	assert_false(same);
	dp_rng_free(a);
	dp_rng_free(b);
	dp_rng_free(c);
	dp_rng_free(NULL);
}

static void
test_csprng(void **state)
{
	struct dp_rng *r = NULL;
	int64_t x[4096];
	double m2 = 0;

	assert_int_equal(dp_rng_new_csprng(&r), CAIRN_OK);
	assert_false(dp_rng_is_deterministic(r));
	/* Several buffer refills' worth. */
	assert_int_equal(dp_dgauss_fill(r, (struct dp_rat){ 100, 1 }, x, 4096),
	    CAIRN_OK);
	for (int i = 0; i < 4096; i++)
		m2 += (double)x[i] * x[i];
	/* E[X^2] ~ 100, se = 100 sqrt(2/4096) ~ 2.2. */
	assert_true(fabs(m2 / 4096 - 100) < 12);
	dp_rng_free(r);
}

/* A forked child must not replay the parent's buffered CSPRNG bytes. */
static void
test_csprng_fork(void **state)
{
	struct dp_rng *r = NULL;
	int64_t mine[32], theirs[32];
	int fds[2], status;
	pid_t pid;

	assert_int_equal(dp_rng_new_csprng(&r), CAIRN_OK);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		if (dp_dgauss_fill(r, (struct dp_rat){ 1000000, 1 }, mine,
		    32) != CAIRN_OK || write(fds[1], mine, sizeof(mine)) !=
		    (ssize_t)sizeof(mine))
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	assert_int_equal(dp_dgauss_fill(r, (struct dp_rat){ 1000000, 1 }, mine,
	    32), CAIRN_OK);
	assert_int_equal(read(fds[0], theirs, sizeof(theirs)),
	    (ssize_t)sizeof(theirs));
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(memcmp(mine, theirs, sizeof(mine)) != 0);
	dp_rng_free(r);
}

static void
test_bernoulli_edges(void **state)
{
	struct dp_rng *r = seeded(4);
	unsigned long k = 0;
	bool b;

	for (int i = 0; i < 1000; i++) {
		assert_int_equal(dp_bernoulli(r, (struct dp_rat){ 0, 7 }, &b),
		    CAIRN_OK);
		assert_false(b);
		assert_int_equal(dp_bernoulli(r, (struct dp_rat){ 7, 7 }, &b),
		    CAIRN_OK);
		assert_true(b);
		assert_int_equal(dp_bernoulli(r, (struct dp_rat){ DP_RAT_MAX,
		    DP_RAT_MAX }, &b), CAIRN_OK);
		assert_true(b);
		assert_int_equal(dp_bernoulli_exp(r, (struct dp_rat){ 0, 3 },
		    &b), CAIRN_OK);
		assert_true(b);
		/* exp(-2^62): the loop stops at the first failure. */
		assert_int_equal(dp_bernoulli_exp(r, (struct dp_rat){
		    (uint64_t)1 << 62, 1 }, &b), CAIRN_OK);
		assert_false(b);
	}
	for (int i = 0; i < 60000; i++) {
		assert_int_equal(dp_bernoulli(r, (struct dp_rat){ 1, 3 }, &b),
		    CAIRN_OK);
		k += b;
	}
	assert_freq(k, 60000, 1.0 / 3);
	assert_int_equal(dp_bernoulli(r, (struct dp_rat){ 1, 0 }, &b),
	    CAIRN_ERR_ARG);
	assert_int_equal(dp_bernoulli(r, (struct dp_rat){ 4, 3 }, &b),
	    CAIRN_ERR_ARG);
	assert_int_equal(dp_bernoulli(r, (struct dp_rat){ 1, UINT64_MAX }, &b),
	    CAIRN_ERR_ARG);
	assert_int_equal(dp_bernoulli_exp(r, (struct dp_rat){ 1, 0 }, &b),
	    CAIRN_ERR_ARG);
	dp_rng_free(r);
}

static void
test_bernoulli_exp_freq(void **state)
{
	const struct dp_rat xs[] = { { 1, 1 }, { 5, 2 }, { 1, 10 },
	    { 999999, 1000000 } };
	struct dp_rng *r = seeded(5);
	bool b;

	for (size_t j = 0; j < sizeof(xs) / sizeof(xs[0]); j++) {
		unsigned long k = 0;

		for (int i = 0; i < 50000; i++) {
			assert_int_equal(dp_bernoulli_exp(r, xs[j], &b),
			    CAIRN_OK);
			k += b;
		}
		assert_freq(k, 50000, exp(-(double)xs[j].num / xs[j].den));
	}
	dp_rng_free(r);
}

static void
test_dgauss_limits(void **state)
{
	struct dp_rat ok[] = {
		{ 1, 1 }, { 1000000000000ULL, 1 },
		{ 1000000000000000000ULL, 1000000 },
		{ 4600000000000000000ULL, 1 }, { 1, (uint64_t)1 << 62 },
		{ 5484964, 1000000 }, { 10, 4 },
	};
	struct dp_rat range[] = {
		{ DP_RAT_MAX, 1 },
		{ (uint64_t)1 << 62, ((uint64_t)1 << 62) - 1 },
		{ UINT64_MAX, 1 },
		{ 1, UINT64_MAX },
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_int_equal(dp_dgauss_check(ok[i]), CAIRN_OK);
	for (size_t i = 0; i < sizeof(range) / sizeof(range[0]); i++) {
		cairn_err_clear();
		assert_int_equal(dp_dgauss_check(range[i]), CAIRN_ERR_RANGE);
		assert_non_null(strstr(cairn_errmsg(), "sigma2 = "));
	}
	assert_int_equal(dp_dgauss_check((struct dp_rat){ 0, 1 }),
	    CAIRN_ERR_ARG);
	assert_string_equal(cairn_errmsg(), "sigma2 must be > 0");
	assert_int_equal(dp_dgauss_check((struct dp_rat){ 1, 0 }),
	    CAIRN_ERR_ARG);
}

static void
test_dgauss_extremes(void **state)
{
	struct dp_rng *r = seeded(6);
	int64_t x[4000];
	double m2;

	assert_int_equal(dp_dgauss_fill(r, (struct dp_rat){ 4, 1 }, NULL, 1),
	    CAIRN_ERR_ARG);
	assert_int_equal(dp_dgauss_fill(r, (struct dp_rat){ 4, 1 }, NULL, 0),
	    CAIRN_OK);
	x[0] = 77;
	assert_int_equal(dp_dgauss_fill(r, (struct dp_rat){ 0, 1 }, x, 1),
	    CAIRN_ERR_ARG);
	assert_int_equal(x[0], 77);
	/* sigma2 = 1/1000: P(x != 0) ~ 2 exp(-500), so all zero. */
	assert_int_equal(dp_dgauss_fill(r, (struct dp_rat){ 1, 1000 }, x,
	    4000), CAIRN_OK);
	for (int i = 0; i < 4000; i++)
		assert_int_equal(x[i], 0);
	/* The largest parameters: E[X^2] / sigma2 ~ 1, se ~ 0.022. */
	const struct dp_rat big[] = { { 1000000000000ULL, 1 },
	    { 4600000000000000000ULL, 1 },
	    { 1000000000000000000ULL, 1000000 } };
	for (size_t j = 0; j < sizeof(big) / sizeof(big[0]); j++) {
		double s2 = (double)big[j].num / big[j].den;

		assert_int_equal(dp_dgauss_fill(r, big[j], x, 4000), CAIRN_OK);
		m2 = 0;
		for (int i = 0; i < 4000; i++)
			m2 += ((double)x[i] / sqrt(s2)) * ((double)x[i] /
			    sqrt(s2));
		assert_true(fabs(m2 / 4000 - 1) < 0.12);
	}
	dp_rng_free(r);
}

static void
test_dlaplace_limits(void **state)
{
	struct dp_rng *r = seeded(9);
	int64_t x[4000];
	double m1 = 0;

	assert_int_equal(dp_dlaplace_check((struct dp_rat){ 0, 1 }),
	    CAIRN_ERR_ARG);
	assert_int_equal(dp_dlaplace_check((struct dp_rat){ 1, 0 }),
	    CAIRN_ERR_ARG);
	assert_int_equal(dp_dlaplace_check((struct dp_rat){
	    DP_DLAPLACE_MAX + 1, 1 }), CAIRN_ERR_RANGE);
	assert_int_equal(dp_dlaplace_check((struct dp_rat){ 1,
	    DP_DLAPLACE_MAX + 1 }), CAIRN_ERR_RANGE);
	/* Reduced first: 2^41 / 2 is 2^40, in range. */
	assert_int_equal(dp_dlaplace_check((struct dp_rat){
	    DP_DLAPLACE_MAX * 2, 2 }), CAIRN_OK);
	assert_int_equal(dp_dlaplace_fill(r, (struct dp_rat){ 1, 1 }, NULL,
	    3), CAIRN_ERR_ARG);
	/* scale 1/1000: P(x != 0) ~ 2 exp(-1000). */
	assert_int_equal(dp_dlaplace_fill(r, (struct dp_rat){ 1, 1000 }, x,
	    4000), CAIRN_OK);
	for (int i = 0; i < 4000; i++)
		assert_int_equal(x[i], 0);
	/* scale 2^40: E|X| ~ 2^40, se ~ 2^40 / sqrt(4000). */
	assert_int_equal(dp_dlaplace_fill(r, (struct dp_rat){ DP_DLAPLACE_MAX,
	    1 }, x, 4000), CAIRN_OK);
	for (int i = 0; i < 4000; i++)
		m1 += fabs((double)x[i]) / (double)DP_DLAPLACE_MAX;
	assert_true(fabs(m1 / 4000 - 1) < 0.1);
	dp_rng_free(r);
}

static void
test_rat_parse(void **state)
{
	const struct {
		const char	*text;
		uint64_t	 num, den;
	} good[] = {
		{ "4", 4, 1 }, { "10/4", 5, 2 },
		{ "5.484964", 1371241, 250000 },
		{ "0.5", 1, 2 }, { "0", 0, 1 }, { "0/5", 0, 1 },
		{ "9223372036854775807", DP_RAT_MAX, 1 },
		{ "1/9223372036854775807", 1, DP_RAT_MAX },
	};
	const struct {
		const char	*text;
		int		 err;
	} bad[] = {
		{ "", CAIRN_ERR_FORMAT }, { "abc", CAIRN_ERR_FORMAT },
		{ "1/0", CAIRN_ERR_FORMAT }, { "1/", CAIRN_ERR_FORMAT },
		{ "/2", CAIRN_ERR_FORMAT }, { "1.", CAIRN_ERR_FORMAT },
		{ ".5", CAIRN_ERR_FORMAT }, { "1.2.3", CAIRN_ERR_FORMAT },
		{ "1/2/3", CAIRN_ERR_FORMAT }, { "1.5/2", CAIRN_ERR_FORMAT },
		{ " 4", CAIRN_ERR_FORMAT }, { "4 ", CAIRN_ERR_FORMAT },
		{ "1e5", CAIRN_ERR_FORMAT }, { "0x10", CAIRN_ERR_FORMAT },
		{ "+4", CAIRN_ERR_FORMAT }, { "-3", CAIRN_ERR_ARG },
		{ "-1/2", CAIRN_ERR_ARG },
		{ "9223372036854775808", CAIRN_ERR_RANGE },
		{ "1/99999999999999999999", CAIRN_ERR_RANGE },
		{ "1.0000000000000000001", CAIRN_ERR_RANGE },
		{ "92233720368.547758079", CAIRN_ERR_RANGE },
	};
	struct dp_rat r;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(dp_rat_parse(good[i].text, &r), CAIRN_OK);
		assert_true(r.num == good[i].num);
		assert_true(r.den == good[i].den);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r.num = 42;
		if (dp_rat_parse(bad[i].text, &r) != bad[i].err)
			fail_msg("'%s': expected %d", bad[i].text, bad[i].err);
		assert_true(r.num == 42);
		assert_non_null(strstr(cairn_errmsg(), bad[i].text[0] ?
		    bad[i].text : "empty"));
	}
	assert_int_equal(dp_rat_parse(NULL, &r), CAIRN_ERR_FORMAT);
}

static void
test_accountant_reference(void **state)
{
	const struct {
		double	rho, delta, eps;
	} ref[] = {
		{ 0.1, 1e-6, 2.142 }, { 0.5, 1e-6, 5.222 },
		{ 1, 1e-10, 10.034 },
	};
	double eps, simple;

	for (size_t i = 0; i < sizeof(ref) / sizeof(ref[0]); i++) {
		assert_int_equal(dp_eps_from_rho_tight(ref[i].rho,
		    ref[i].delta, &eps), CAIRN_OK);
		if (fabs(eps - ref[i].eps) >= 0.0005)
			fail_msg("rho %g delta %g: eps %.5f, want %.3f",
			    ref[i].rho, ref[i].delta, eps, ref[i].eps);
		assert_int_equal(dp_eps_from_rho_simple(ref[i].rho,
		    ref[i].delta, &simple), CAIRN_OK);
		assert_true(fabs(simple - (ref[i].rho + 2 * sqrt(ref[i].rho *
		    log(1 / ref[i].delta)))) < 1e-12);
		assert_true(eps < simple);
	}
	assert_int_equal(dp_eps_from_rho_tight(0, 1e-6, &eps), CAIRN_OK);
	assert_true(eps >= 0 && eps < 1e-6);
	/* Tiny and large rho stay finite and monotone. */
	assert_int_equal(dp_eps_from_rho_tight(1e-8, 1e-9, &eps), CAIRN_OK);
	assert_true(eps > 0 && eps < 0.01);
	assert_int_equal(dp_eps_from_rho_tight(50, 1e-9, &simple), CAIRN_OK);
	assert_true(simple > 50 && isfinite(simple));
	assert_int_equal(dp_eps_from_rho_tight(-1, 1e-6, &eps), CAIRN_ERR_ARG);
	assert_int_equal(dp_eps_from_rho_tight(NAN, 1e-6, &eps),
	    CAIRN_ERR_ARG);
	assert_int_equal(dp_eps_from_rho_tight(1, 0, &eps), CAIRN_ERR_ARG);
	assert_int_equal(dp_eps_from_rho_tight(1, 1, &eps), CAIRN_ERR_ARG);
	assert_int_equal(dp_eps_from_rho_simple(1, NAN, &eps), CAIRN_ERR_ARG);
}

static void
test_accountant_rho_sigma(void **state)
{
	double rho, sum;
	uint64_t s2;
	const double parts[] = { 0.1, 0.25, 0.05 }, badp[] = { 0.1, -0.1 };

	assert_int_equal(dp_rho_from_sigma2(1, (struct dp_rat){ 5, 1 }, &rho),
	    CAIRN_OK);
	assert_true(fabs(rho - 0.1) < 1e-15);
	assert_int_equal(dp_rho_from_sigma2(30, (struct dp_rat){ 5484964,
	    1000000 }, &rho), CAIRN_OK);
	assert_true(fabs(rho - 30 / (2 * 5.484964)) < 1e-12);
	assert_int_equal(dp_rho_from_sigma2(0, (struct dp_rat){ 5, 1 }, &rho),
	    CAIRN_ERR_ARG);
	assert_int_equal(dp_rho_from_sigma2(1, (struct dp_rat){ 0, 1 }, &rho),
	    CAIRN_ERR_ARG);

	assert_int_equal(dp_sigma2_from_rho(1, 0.1, &s2), CAIRN_OK);
	assert_int_equal(s2, 5);
	assert_int_equal(dp_sigma2_from_rho(30, 0.5, &s2), CAIRN_OK);
	assert_int_equal(s2, 30);
	assert_int_equal(dp_sigma2_from_rho(7, 0.35, &s2), CAIRN_OK);
	assert_int_equal(s2, 10);	/* 0.35 is not exact in binary */
	assert_int_equal(dp_sigma2_from_rho(7, 0.35 * (1 + 1e-9), &s2),
	    CAIRN_OK);
	assert_int_equal(s2, 10);
	assert_int_equal(dp_sigma2_from_rho(7, 0.35 * (1 - 1e-9), &s2),
	    CAIRN_OK);
	assert_int_equal(s2, 11);
	assert_int_equal(dp_sigma2_from_rho(1, 1e-15, &s2), CAIRN_OK);
	assert_true(s2 == 500000000000000ULL);
	assert_int_equal(dp_sigma2_from_rho(3, 0.7, &s2), CAIRN_OK);
	assert_int_equal(s2, 3);	/* ceil(2.14...) */
	assert_int_equal(dp_sigma2_from_rho(1, 1000, &s2), CAIRN_OK);
	assert_int_equal(s2, 1);
	assert_int_equal(dp_sigma2_from_rho(1, 0, &s2), CAIRN_ERR_ARG);
	assert_int_equal(dp_sigma2_from_rho(1, -1, &s2), CAIRN_ERR_ARG);
	assert_int_equal(dp_sigma2_from_rho(1, INFINITY, &s2), CAIRN_ERR_ARG);
	assert_int_equal(dp_sigma2_from_rho(0, 1, &s2), CAIRN_ERR_ARG);
	assert_int_equal(dp_sigma2_from_rho(1, 1e-20, &s2), CAIRN_ERR_RANGE);

	assert_int_equal(dp_rho_compose(parts, 3, &sum), CAIRN_OK);
	assert_true(fabs(sum - 0.4) < 1e-15);
	assert_int_equal(dp_rho_compose(parts, 0, &sum), CAIRN_OK);
	assert_true(sum == 0);
	assert_int_equal(dp_rho_compose(badp, 2, &sum), CAIRN_ERR_ARG);
}

static void
test_distributed(void **state)
{
	uint64_t h, v;

	assert_int_equal(dp_sigma2_per_node((struct dp_rat){ 20, 1 }, 5, 1,
	    &h), CAIRN_OK);
	assert_int_equal(h, 5);
	assert_int_equal(dp_sigma2_per_node((struct dp_rat){ 21, 1 }, 5, 0,
	    &h), CAIRN_OK);
	assert_int_equal(h, 5);		/* ceil(4.2) */
	assert_int_equal(dp_sigma2_per_node((struct dp_rat){ 5, 1 }, 5, 1,
	    &h), CAIRN_OK);
	assert_int_equal(h, 4);		/* never below 4 */
	assert_int_equal(dp_sigma2_per_node((struct dp_rat){ 1000001, 1000 },
	    2, 1, &h), CAIRN_OK);
	assert_int_equal(h, 1001);
	assert_int_equal(dp_sigma2_per_node((struct dp_rat){ 5, 1 }, 3, 3,
	    &h), CAIRN_ERR_ARG);
	assert_int_equal(dp_sigma2_per_node((struct dp_rat){ 5, 1 }, 2, 3,
	    &h), CAIRN_ERR_ARG);
	assert_int_equal(dp_sigma2_per_node((struct dp_rat){ 5, 1 }, 0, 0,
	    &h), CAIRN_ERR_ARG);
	assert_int_equal(dp_sigma2_per_node((struct dp_rat){ 0, 1 }, 3, 1,
	    &h), CAIRN_ERR_ARG);

	assert_int_equal(dp_released_variance(5, 4, &v), CAIRN_OK);
	assert_int_equal(v, 20);
	assert_int_equal(dp_released_variance((uint64_t)1 << 61, 2, &v),
	    CAIRN_OK);
	assert_int_equal(dp_released_variance((uint64_t)1 << 61, 3, &v),
	    CAIRN_ERR_OVERFLOW);
	assert_int_equal(dp_released_variance(5, 0, &v), CAIRN_ERR_ARG);
}

/* The smallest w with P(|Z| > w) <= 0.05 for a pmf over [-half, half]. */
static uint64_t
w95(const double *p, long half)
{
	double c = p[half];
	long w = 0;

	while (c < 0.95) {
		w++;
		c += p[half + w] + p[half - w];
	}
	return (uint64_t)w;
}

static uint64_t
w95_dgauss(double v)
{
	long half = (long)ceil(sqrt(1500 * v)) + 1;
	double *p = calloc((size_t)(2 * half + 1), sizeof(double)), z = 0;
	uint64_t w;

	assert_non_null(p);
	for (long x = -half; x <= half; x++)
		z += p[x + half] = exp(-(double)x * x / (2 * v));
	for (long x = -half; x <= half; x++)
		p[x + half] /= z;
	w = w95(p, half);
	free(p);
	return w;
}

static void
test_interval(void **state)
{
	const uint64_t small[] = { 1, 2, 4, 5, 12, 16, 20, 100, 1000, 123457 };
	const uint64_t large[] = { 100000000ULL, 1000000000000ULL };
	uint64_t w;

	for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++) {
		assert_int_equal(dp_ci95_halfwidth(small[i], &w), CAIRN_OK);
		if (w != w95_dgauss((double)small[i]))
			fail_msg("variance %llu: w %llu, brute force %llu",
			    (unsigned long long)small[i],
			    (unsigned long long)w, (unsigned long long)
			    w95_dgauss((double)small[i]));
	}
	for (size_t i = 0; i < sizeof(large) / sizeof(large[0]); i++) {
		double s = sqrt((double)large[i]);
		double approx = ceil(1.959963985 * s - 0.5);

		assert_int_equal(dp_ci95_halfwidth(large[i], &w), CAIRN_OK);
		assert_true(fabs((double)w - approx) <= 1);
	}
	assert_int_equal(dp_ci95_halfwidth(0, &w), CAIRN_ERR_ARG);
	assert_int_equal(dp_ci95_halfwidth(DP_CI_VARIANCE_MAX + 1, &w),
	    CAIRN_ERR_RANGE);
}

/*
 * The released noise is a sum of n discrete Gaussians, not exactly a
 * discrete Gaussian: check by exact convolution that the half-width of
 * N_Z(0, n sigma_h2) is the sum's for the smallest sigma_h2 allowed.
 */
static void
test_interval_sum(void **state)
{
	const int ns[] = { 2, 3, 5, 10 };
	const long h = 60;	/* N_Z(0, 4) beyond 60: below e^-450 */
	double one[2 * 60 + 1], z = 0;

	for (long x = -h; x <= h; x++)
		z += one[x + h] = exp(-(double)x * x / 8.0);
	for (long x = -h; x <= h; x++)
		one[x + h] /= z;
	for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
		int n = ns[k];
		long half = n * h;
		double *acc = calloc((size_t)(2 * half + 1), sizeof(double));
		double *nx = calloc((size_t)(2 * half + 1), sizeof(double));
		uint64_t w;

		assert_non_null(acc);
		assert_non_null(nx);
		memcpy(acc + half - h, one, sizeof(one));
		for (int j = 1; j < n; j++) {
			memset(nx, 0, (size_t)(2 * half + 1) * sizeof(double));
			for (long a = -half; a <= half; a++) {
				if (acc[a + half] == 0)
					continue;
				for (long b = -h; b <= h; b++)
					if (a + b >= -half && a + b <= half)
						nx[a + b + half] +=
						    acc[a + half] * one[b + h];
			}
			memcpy(acc, nx, (size_t)(2 * half + 1) *
			    sizeof(double));
		}
		assert_int_equal(dp_ci95_halfwidth((uint64_t)(4 * n), &w),
		    CAIRN_OK);
		assert_int_equal(w, w95(acc, half));
		free(acc);
		free(nx);
	}
}

static void
test_sensitivity(void **state)
{
	struct dp_sensitivity s;
	struct dp_query_shape q;
	enum dp_kind k;

	q = (struct dp_query_shape){ 2, 30, 1 };
	assert_int_equal(dp_sensitivity(DP_KIND_PRESENCE, &q, &s), CAIRN_OK);
	assert_int_equal(s.delta1, 60);
	assert_int_equal(s.delta2_sq, 60);
	q.holders = 2;
	assert_int_equal(dp_sensitivity(DP_KIND_VISITORS, &q, &s), CAIRN_OK);
	assert_int_equal(s.delta1, 120);
	assert_int_equal(s.delta2_sq, 240);
	q = (struct dp_query_shape){ 1, 7, 1 };
	assert_int_equal(dp_sensitivity(DP_KIND_OD, &q, &s), CAIRN_OK);
	assert_int_equal(s.delta1, 6);
	assert_int_equal(s.delta2_sq, 6);
	q = (struct dp_query_shape){ 1, 1, 1 };
	assert_int_equal(dp_sensitivity(DP_KIND_OD, &q, &s), CAIRN_ERR_ARG);
	q = (struct dp_query_shape){ 2, 7, 1 };
	assert_int_equal(dp_sensitivity(DP_KIND_OD, &q, &s), CAIRN_ERR_ARG);
	q = (struct dp_query_shape){ 1, 90, 1 };
	assert_int_equal(dp_sensitivity(DP_KIND_RESIDENTS, &q, &s), CAIRN_OK);
	assert_int_equal(s.delta2_sq, 1);
	assert_int_equal(dp_sensitivity(DP_KIND_MIGRATION, &q, &s), CAIRN_OK);
	assert_int_equal(s.delta1, 1);
	q.holders = 3;
	assert_int_equal(dp_sensitivity(DP_KIND_POPULATION_BY_CATEGORY, &q,
	    &s), CAIRN_OK);
	assert_int_equal(s.delta1, 3);
	assert_int_equal(s.delta2_sq, 9);
	q = (struct dp_query_shape){ 3, 1, 1 };
	assert_int_equal(dp_sensitivity(DP_KIND_RESIDENTS, &q, &s),
	    CAIRN_ERR_ARG);
	q = (struct dp_query_shape){ 0, 1, 1 };
	assert_int_equal(dp_sensitivity(DP_KIND_PRESENCE, &q, &s),
	    CAIRN_ERR_ARG);
	q = (struct dp_query_shape){ 1, 1, 0 };
	assert_int_equal(dp_sensitivity(DP_KIND_PRESENCE, &q, &s),
	    CAIRN_ERR_ARG);
	q = (struct dp_query_shape){ 1 << 20, 1 << 20, 1 };
	assert_int_equal(dp_sensitivity(DP_KIND_PRESENCE, &q, &s), CAIRN_OK);
	assert_true(s.delta2_sq == (uint64_t)1 << 40);
	q.holders = 2;
	assert_int_equal(dp_sensitivity(DP_KIND_PRESENCE, &q, &s),
	    CAIRN_ERR_RANGE);
	q = (struct dp_query_shape){ UINT32_MAX, UINT32_MAX, UINT32_MAX };
	assert_int_equal(dp_sensitivity(DP_KIND_VISITORS, &q, &s),
	    CAIRN_ERR_RANGE);
	assert_int_equal(dp_sensitivity((enum dp_kind)99, &q, &s),
	    CAIRN_ERR_UNSUPPORTED);

	for (int i = 0; i < DP_KIND_COUNT; i++) {
		assert_int_equal(dp_kind_parse(dp_kind_name((enum dp_kind)i),
		    &k), CAIRN_OK);
		assert_int_equal(k, i);
	}
	assert_int_equal(dp_kind_parse("Presence", &k), CAIRN_ERR_UNSUPPORTED);
	assert_non_null(strstr(cairn_errmsg(), "'Presence'"));
	assert_string_equal(dp_kind_name((enum dp_kind)99), "?");
}

/* A dp_query of 'kind' over local days [d0, d1) at 'off' minutes. */
static struct dp_query
dq(enum dp_kind kind, int32_t off, int64_t d0, int64_t d1)
{
	struct dp_query q;

	memset(&q, 0, sizeof(q));
	q.kind = kind;
	q.k = 1;
	q.utc_offset_min = off;
	q.day0 = d0;
	q.day1 = d1;
	q.holders = 1;
	return q;
}

#define FEB26	(2026 * 12 + 1)
#define MAR26	(2026 * 12 + 2)

/* Delta_m^2 per month, worked out by hand (docs/privacy.md). */
static void
test_requirement_deltas(void **state)
{
	int64_t mar1 = time_days_from_civil(2026, 3, 1);
	struct dp_requirement r;
	struct dp_query q;

	(void)state;
	/* residents over local March at UTC+60 reads Feb 28 23:00 UTC on:
	   both months can move the home, 2 each; at UTC+0 only March, 1 */
	q = dq(DP_KIND_RESIDENTS, 60, mar1, mar1 + 31);
	assert_int_equal(dp_requirement(&q, 500000000, 3, 1, 10, &r),
	    CAIRN_OK);
	assert_int_equal(r.nmonths, 2);
	assert_int_equal(r.month[0], FEB26);
	assert_int_equal(r.month[1], MAR26);
	assert_int_equal(r.delta2_sq[0], 2);
	assert_int_equal(r.delta2_sq[1], 2);
	/* x = ceil(18 * 1 * 10 / 10^9) = 1; sigma2 = ceil(2 10^9 /
	   (2 (5 10^8 - 1))) = 3; rho_m = ceil(2 10^9 / 6) + 1 */
	assert_int_equal(r.extra_nano, 1);
	assert_int_equal(r.sigma2, 3);
	assert_int_equal(r.rho_nano[0], 333333335);
	assert_int_equal(r.rho_nano[1], 333333335);
	assert_int_equal(r.sigma_h2, 4);
	assert_int_equal(r.variance, 12);
	q.utc_offset_min = 0;
	assert_int_equal(dp_requirement(&q, 500000000, 1, 0, 10, &r),
	    CAIRN_OK);
	assert_int_equal(r.nmonths, 1);
	assert_int_equal(r.month[0], MAR26);
	assert_int_equal(r.delta2_sq[0], 1);
	/* one honest node: no extra term, rho_m is exactly rho */
	assert_int_equal(r.extra_nano, 0);
	assert_int_equal(r.sigma2, 1);
	assert_int_equal(r.rho_nano[0], 500000000);
	/* h = 3 multiplies by 9 */
	q.holders = 3;
	assert_int_equal(dp_requirement(&q, 500000000, 1, 0, 10, &r),
	    CAIRN_OK);
	assert_int_equal(r.delta2_sq[0], 9);
	assert_int_equal(r.sigma2, 9);

	/* presence by hour at UTC+330 over local Feb 28 - Mar 1: 29 local
	   hours in February, the one from 05:00 on Mar 1 straddles, 18 in
	   March; k = 2 */
	q = dq(DP_KIND_PRESENCE, 330, mar1 - 1, mar1 + 1);
	q.k = 2;
	q.hour = true;
	assert_int_equal(dp_requirement(&q, DP_NANO, 1, 0, 96, &r), CAIRN_OK);
	assert_int_equal(r.nmonths, 2);
	assert_int_equal(r.delta2_sq[0], 2 * 29 + 4 * 1);
	assert_int_equal(r.delta2_sq[1], 2 * 18 + 4 * 1);
	/* the same by day: Feb 28 lies in February, Mar 1 straddles */
	q.hour = false;
	assert_int_equal(dp_requirement(&q, DP_NANO, 1, 0, 4, &r), CAIRN_OK);
	assert_int_equal(r.delta2_sq[0], 2 * 1 + 4 * 1);
	assert_int_equal(r.delta2_sq[1], 4 * 1);

	/* visitors at UTC+60 over Feb 28 - Mar 1: the day in February
	   counts min(2, k) for March (the home can move) */
	q = dq(DP_KIND_VISITORS, 60, mar1 - 1, mar1 + 1);
	assert_int_equal(dp_requirement(&q, DP_NANO, 1, 0, 4, &r), CAIRN_OK);
	assert_int_equal(r.delta2_sq[0], 1 + 2);
	assert_int_equal(r.delta2_sq[1], 2 + 1);
	q.k = 3;
	assert_int_equal(dp_requirement(&q, DP_NANO, 1, 0, 4, &r), CAIRN_OK);
	assert_int_equal(r.delta2_sq[0], 3 + 6);
	assert_int_equal(r.delta2_sq[1], 6 + 2);
	/* ... and a window wholly in one month: k B */
	q = dq(DP_KIND_VISITORS, 0, mar1 + 2, mar1 + 9);
	q.k = 2;
	assert_int_equal(dp_requirement(&q, DP_NANO, 1, 0, 4, &r), CAIRN_OK);
	assert_int_equal(r.nmonths, 1);
	assert_int_equal(r.delta2_sq[0], 14);

	/* od over Feb 26 - Mar 4 at UTC: pairs touching February 3,
	   touching March 4, each losing its cell */
	q = dq(DP_KIND_OD, 0, mar1 - 3, mar1 + 4);
	assert_int_equal(dp_requirement(&q, DP_NANO, 1, 0, 4, &r), CAIRN_OK);
	assert_int_equal(r.delta2_sq[0], 3);
	assert_int_equal(r.delta2_sq[1], 4);
	/* at UTC+60, Mar 1 straddles: (Feb 28, Mar 1) is 1 for February
	   (Feb 28 lies in it) and 2 for March; (Mar 1, Mar 2) is 2 for
	   February and 1 for March */
	q.utc_offset_min = 60;
	assert_int_equal(dp_requirement(&q, DP_NANO, 1, 0, 4, &r), CAIRN_OK);
	assert_int_equal(r.delta2_sq[0], 1 + 1 + 1 + 2);
	assert_int_equal(r.delta2_sq[1], 2 + 1 + 1 + 1);

	/* migration: January baseline, March comparison - February is in
	   the gap, not read; each window lies in its month: 1 */
	q = dq(DP_KIND_MIGRATION, 0, mar1 - 33, mar1 + 3);
	q.base0 = mar1 - 33;
	q.base1 = mar1 - 29;
	q.comp0 = mar1;
	q.comp1 = mar1 + 3;
	assert_int_equal(dp_requirement(&q, DP_NANO, 1, 0, 4, &r), CAIRN_OK);
	assert_int_equal(r.nmonths, 2);
	assert_int_equal(r.month[0], 2026 * 12 + 0);
	assert_int_equal(r.month[1], MAR26);
	assert_int_equal(r.delta2_sq[0], 1);
	assert_int_equal(r.delta2_sq[1], 1);
	/* a comparison across the boundary at UTC+60: March 2 */
	q.utc_offset_min = 60;
	assert_int_equal(dp_requirement(&q, DP_NANO, 1, 0, 4, &r), CAIRN_OK);
	assert_int_equal(r.nmonths, 3);
	assert_int_equal(r.delta2_sq[0], 1);
	assert_int_equal(r.delta2_sq[1], 2);
	assert_int_equal(r.delta2_sq[2], 2);

	/* population_by_category as residents */
	q = dq(DP_KIND_POPULATION_BY_CATEGORY, -300, mar1 + 30, mar1 + 31);
	assert_int_equal(dp_requirement(&q, DP_NANO, 1, 0, 4, &r), CAIRN_OK);
	assert_int_equal(r.nmonths, 2);
	assert_int_equal(r.delta2_sq[0], 2);
	assert_int_equal(r.delta2_sq[1], 2);
}

/* Bad and out-of-range inputs; '*out' untouched on failure. */
static void
test_requirement_errors(void **state)
{
	int64_t mar1 = time_days_from_civil(2026, 3, 1);
	struct dp_requirement r, z;
	struct dp_query q, g = dq(DP_KIND_RESIDENTS, 0, mar1, mar1 + 7);

	(void)state;
	memset(&r, 0xab, sizeof(r));
	z = r;
#define BAD(expr, err) do {						\
	assert_int_equal((expr), (err));				\
	assert_memory_equal(&r, &z, sizeof(r));				\
} while (0)
	BAD(dp_requirement(&g, DP_NANO, 2, 2, 4, &r), CAIRN_ERR_ARG);
	BAD(dp_requirement(&g, DP_NANO, 2, 0, 0, &r), CAIRN_ERR_ARG);
	BAD(dp_requirement(&g, 0, 2, 0, 4, &r), CAIRN_ERR_ARG);
	BAD(dp_requirement(&g, DP_NANO, 2, 0, DP_MAX_CELLS + 1, &r),
	    CAIRN_ERR_RANGE);
	q = g;
	q.kind = (enum dp_kind)DP_KIND_COUNT;
	BAD(dp_requirement(&q, DP_NANO, 1, 0, 4, &r), CAIRN_ERR_ARG);
	q = g;
	q.k = 2;
	BAD(dp_requirement(&q, DP_NANO, 1, 0, 4, &r), CAIRN_ERR_ARG);
	q.kind = DP_KIND_PRESENCE;
	q.k = 0;
	BAD(dp_requirement(&q, DP_NANO, 1, 0, 4, &r), CAIRN_ERR_ARG);
	q = g;
	q.holders = 0;
	BAD(dp_requirement(&q, DP_NANO, 1, 0, 4, &r), CAIRN_ERR_ARG);
	q = g;
	q.hour = true;
	BAD(dp_requirement(&q, DP_NANO, 1, 0, 4, &r), CAIRN_ERR_ARG);
	q = g;
	q.day1 = q.day0;
	BAD(dp_requirement(&q, DP_NANO, 1, 0, 4, &r), CAIRN_ERR_ARG);
	q = g;
	q.day1 = q.day0 + DP_MAX_DAYS + 1;
	BAD(dp_requirement(&q, DP_NANO, 1, 0, 4, &r), CAIRN_ERR_RANGE);
	q.day1 = q.day0 + DP_MAX_DAYS;
	assert_int_equal(dp_requirement(&q, DP_NANO, 1, 0, 4, &r), CAIRN_OK);
	assert_true(r.nmonths >= 89 && r.nmonths <= DP_MAX_MONTHS);
	memset(&r, 0xab, sizeof(r));
	q = g;
	q.utc_offset_min = DP_MAX_OFFSET + 1;
	BAD(dp_requirement(&q, DP_NANO, 1, 0, 4, &r), CAIRN_ERR_RANGE);
	q = g;
	q.day0 = time_days_from_civil(9999, 12, 31);
	q.day1 = q.day0 + 2;
	BAD(dp_requirement(&q, DP_NANO, 1, 0, 4, &r), CAIRN_ERR_RANGE);
	q = g;
	q.kind = DP_KIND_OD;
	q.day1 = q.day0 + 1;
	BAD(dp_requirement(&q, DP_NANO, 1, 0, 4, &r), CAIRN_ERR_ARG);
	q = g;
	q.kind = DP_KIND_MIGRATION;
	q.base0 = q.day0;
	q.base1 = q.day0 + 2;
	q.comp0 = q.day0 + 3;
	q.comp1 = q.day1 + 1;		/* outside [day0, day1) */
	BAD(dp_requirement(&q, DP_NANO, 1, 0, 4, &r), CAIRN_ERR_ARG);
	q.comp1 = q.comp0;		/* empty */
	BAD(dp_requirement(&q, DP_NANO, 1, 0, 4, &r), CAIRN_ERR_ARG);
	/* Delta^2 over 2^40: h^2 = (2^20 + 1)^2 */
	q = g;
	q.holders = (1u << 20) + 1;
	BAD(dp_requirement(&q, DP_NANO, 1, 0, 4, &r), CAIRN_ERR_RANGE);
	/* sigma2 over 2^50: Delta^2 = 4 10^6 at rho = 1 nano-rho */
	q = g;
	q.holders = 2000;
	BAD(dp_requirement(&q, 1, 1, 0, 4, &r), CAIRN_ERR_RANGE);
	/* rho not above the distributed-noise term: 1001 nodes over 2^40
	   cells cost ceil(18 * 1000 * 2^40 / 10^9) = 19791210 nano-rho */
	BAD(dp_requirement(&g, 19791210, 1001, 0, DP_MAX_CELLS, &r),
	    CAIRN_ERR_RANGE);
	assert_int_equal(dp_requirement(&g, 19791211, 1001, 0, DP_MAX_CELLS,
	    &r), CAIRN_OK);
	assert_int_equal(r.extra_nano, 19791210);
	assert_int_equal(r.rho_nano[0], 19791211);
#undef BAD
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uniform_small),
		cmocka_unit_test(test_uniform_large),
		cmocka_unit_test(test_uniform128),
		cmocka_unit_test(test_seeded_stream),
		cmocka_unit_test(test_csprng),
		cmocka_unit_test(test_csprng_fork),
		cmocka_unit_test(test_bernoulli_edges),
		cmocka_unit_test(test_bernoulli_exp_freq),
		cmocka_unit_test(test_dgauss_limits),
		cmocka_unit_test(test_dgauss_extremes),
		cmocka_unit_test(test_dlaplace_limits),
		cmocka_unit_test(test_rat_parse),
		cmocka_unit_test(test_accountant_reference),
		cmocka_unit_test(test_accountant_rho_sigma),
		cmocka_unit_test(test_distributed),
		cmocka_unit_test(test_interval),
		cmocka_unit_test(test_interval_sum),
		cmocka_unit_test(test_sensitivity),
		cmocka_unit_test(test_requirement_deltas),
		cmocka_unit_test(test_requirement_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
