/*
 * dp.h - the privacy engine: exact noise samplers, the zCDP accountant,
 * sensitivities of the query kinds, and confidence intervals.
 *
 * Randomness comes from libsodium's CSPRNG through a 'struct dp_rng'
 * handle.  A deterministic test source (a ChaCha20 keystream from a
 * 32-byte seed) exists for reproducible tests and for `cairn privacy
 * sample --seed`; it has its own constructor, dp_rng_new_seeded(), which
 * no configuration key reaches: a node only ever calls dp_rng_new_csprng().
 *
 * The samplers (discrete Gaussian, discrete Laplace, Bernoulli(p/q),
 * Bernoulli(exp(-p/q))) follow Canonne, Kamath and Steinke 2020, "The
 * Discrete Gaussian for Differential Privacy", Algorithms 1-3, in integer
 * arithmetic only: no floating point touches the sampling path.  The
 * accountant, the sensitivities and the intervals use floating point; they
 * compute what is displayed and planned, never a noise value.
 *
 * Numeric limits are documented on each function and in docs/privacy.md;
 * parameters beyond them are refused with CAIRN_ERR_RANGE.
 */
#ifndef CAIRN_PRIVACY_DP_H
#define CAIRN_PRIVACY_DP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A non-negative rational num/den; den == 0 is invalid. */
struct dp_rat {
	uint64_t	num;
	uint64_t	den;
};

/* Largest numerator or denominator accepted anywhere: 2^63 - 1. */
#define DP_RAT_MAX	((uint64_t)INT64_MAX)

/*
 * Parse 'text' as a non-negative rational: an integer "P", a fraction
 * "P/Q" or a decimal "I.F" (converted exactly, "5.484964" becomes
 * 5484964/1000000).  Digits only: no sign, blanks or exponent; P, Q and
 * the scaled decimal must be at most DP_RAT_MAX and Q at least 1.  Sets
 * '*out' (reduced to lowest terms) and returns CAIRN_OK, or
 * CAIRN_ERR_FORMAT (malformed, with the text quoted in the detail),
 * CAIRN_ERR_ARG (negative) or CAIRN_ERR_RANGE (too large).  'text' may be
 * hostile.
 */
int	dp_rat_parse(const char *text, struct dp_rat *out)
	    __attribute__((warn_unused_result));

/* Reduce 'r' to lowest terms in place (den must be non-zero). */
void	dp_rat_reduce(struct dp_rat *r);

/* ---- randomness -------------------------------------------------------- */

/*
 * A handle is not thread-safe: use one per thread.  A CSPRNG handle used
 * in a process forked after its creation drops the parent's buffered
 * bytes on its next draw, so parent and child never share noise.
 */
struct dp_rng;

/*
 * Create a handle on libsodium's CSPRNG (randombytes_buf), buffered in
 * 4096-byte blocks.  The buffer holds future noise bits and is kept in
 * sodium_malloc memory and wiped on dp_rng_free().  Sets '*out' and
 * returns CAIRN_OK, or CAIRN_ERR_CRYPTO / CAIRN_ERR_NOMEM.
 */
int	dp_rng_new_csprng(struct dp_rng **out)
	    __attribute__((warn_unused_result));

/*
 * TEST SOURCE ONLY.  Create a deterministic handle whose bytes are the
 * ChaCha20 keystream under key 'seed': block i (4096 bytes, i = 0, 1, ...)
 * is crypto_stream_chacha20() with nonce = i as 8 little-endian bytes.
 * Only unit tests, benchmarks and `cairn privacy sample --seed` call it;
 * nothing in a node's or coordinator's configuration can select it (see
 * docs/privacy.md).  Sets '*out' and returns CAIRN_OK, or an error as
 * dp_rng_new_csprng().
 */
int	dp_rng_new_seeded(struct dp_rng **out, const uint8_t seed[static 32])
	    __attribute__((warn_unused_result));

/* True when 'rng' is the deterministic test source. */
bool	dp_rng_is_deterministic(const struct dp_rng *rng);

/* Wipe and free 'rng'; NULL is accepted. */
void	dp_rng_free(struct dp_rng *rng);

/*
 * Draw '*out' uniformly from [0, n) by rejection of ceil(log2 n)-bit
 * draws (unbiased; fewer than 2 draws expected).  n must be at least 1:
 * CAIRN_ERR_ARG otherwise.
 */
int	dp_rng_uniform(struct dp_rng *rng, uint64_t n, uint64_t *out)
	    __attribute__((warn_unused_result));

/*
 * As dp_rng_uniform() for 128-bit bounds: '*out' uniform in [0, n),
 * n >= 1, n up to 2^128 - 1.
 */
int	dp_rng_uniform128(struct dp_rng *rng, unsigned __int128 n,
	    unsigned __int128 *out) __attribute__((warn_unused_result));

/* ---- exact samplers ----------------------------------------------------- */

/*
 * Bernoulli(p) for a rational p = num/den in [0, 1] (num <= den,
 * 1 <= den <= DP_RAT_MAX).  Sets '*out' and returns CAIRN_OK, or
 * CAIRN_ERR_ARG for den == 0 or p > 1.
 */
int	dp_bernoulli(struct dp_rng *rng, struct dp_rat p, bool *out)
	    __attribute__((warn_unused_result));

/*
 * Bernoulli(exp(-x)) for a rational x = num/den >= 0 (CKS20 Algorithm 1
 * with the integer part split off), 1 <= den <= DP_RAT_MAX.  Sets '*out'
 * and returns CAIRN_OK, or CAIRN_ERR_ARG for den == 0.
 */
int	dp_bernoulli_exp(struct dp_rng *rng, struct dp_rat x, bool *out)
	    __attribute__((warn_unused_result));

/*
 * Check a discrete Gaussian parameter sigma2 = p/q (after reduction):
 * CAIRN_ERR_ARG when q == 0 or p == 0; CAIRN_ERR_RANGE unless, with
 * t = floor(sqrt(p/q)) + 1, both q*t < 2^63 and 2*p*q*t^2 < 2^126.
 * Every integer sigma2 up to 4.6e18 and every p/q with q <= 10^6 and
 * p/q <= 10^12 pass.  The detail names the limit that failed.
 */
int	dp_dgauss_check(struct dp_rat sigma2)
	    __attribute__((warn_unused_result));

/*
 * Fill 'out[0..n)' with i.i.d. samples of the discrete Gaussian N_Z(0,
 * sigma2), P(x) proportional to exp(-x^2 / (2 sigma2)) (CKS20 Algorithm 3
 * with a discrete-Laplace proposal of scale floor(sigma)+1).  Outputs are
 * int64: the distribution is conditioned on |x| <= L for some L >= 2^61,
 * an event of probability above 1 - exp(-2^58) within the limits above
 * (see docs/privacy.md).
 * Returns CAIRN_OK, or the errors of dp_dgauss_check() (out is left
 * untouched then), or CAIRN_ERR_ARG for out == NULL with n > 0.
 */
int	dp_dgauss_fill(struct dp_rng *rng, struct dp_rat sigma2,
	    int64_t *out, size_t n) __attribute__((warn_unused_result));

/* ---- zCDP accountant ---------------------------------------------------- */

/*
 * rho = delta2_sq / (2 sigma2) for a query of squared L2 sensitivity
 * 'delta2_sq' answered with discrete Gaussian noise of parameter sigma2.
 * Returns CAIRN_OK, or CAIRN_ERR_ARG (sigma2 not > 0, delta2_sq == 0).
 */
int	dp_rho_from_sigma2(uint64_t delta2_sq, struct dp_rat sigma2,
	    double *rho) __attribute__((warn_unused_result));

/*
 * sigma2 = ceil(delta2_sq / (2 rho)), at least 1, the smallest integer
 * with delta2_sq / (2 sigma2) <= rho; except that a quotient within a
 * relative 1e-12 of an integer is taken as that integer, so that a decimal rho
 * (0.35 is not exact in binary) plans 7 / 0.7 = 10, not 11.  Returns
 * CAIRN_OK, CAIRN_ERR_ARG
 * (rho not finite and > 0, delta2_sq == 0) or CAIRN_ERR_RANGE (sigma2
 * above DP_SIGMA2_PLAN_MAX).
 */
#define DP_SIGMA2_PLAN_MAX	((uint64_t)1 << 50)
int	dp_sigma2_from_rho(uint64_t delta2_sq, double rho, uint64_t *sigma2)
	    __attribute__((warn_unused_result));

/*
 * The same plan for rho given exactly as 'rho_nano' nano-rho (the form
 * every query, ledger, charge and log entry carries, common/rho.h):
 * sigma2 = ceil(delta2_sq * 10^9 / (2 rho_nano)) in exact integer
 * arithmetic, at least 1.  Returns CAIRN_OK, CAIRN_ERR_ARG (rho_nano or
 * delta2_sq zero) or CAIRN_ERR_RANGE (sigma2 above DP_SIGMA2_PLAN_MAX).
 */
int	dp_sigma2_from_rho_nano(uint64_t delta2_sq, uint64_t rho_nano,
	    uint64_t *sigma2) __attribute__((warn_unused_result));

/*
 * Compose: the sum of 'n' rho values (zCDP composes by addition).
 * Returns CAIRN_OK or CAIRN_ERR_ARG when a value is negative or not finite.
 */
int	dp_rho_compose(const double *rho, size_t n, double *sum)
	    __attribute__((warn_unused_result));

/*
 * The tight (eps, delta) of rho-zCDP (CKS20 section 2.3): the minimum
 * over Renyi orders alpha > 1 of
 *   alpha rho + (ln(1/delta) + (alpha-1) ln(1 - 1/alpha) - ln alpha)/(alpha-1),
 * floored at 0, found by golden-section search on ln(alpha - 1).
 * rho >= 0 and 0 < delta < 1, else CAIRN_ERR_ARG.
 */
int	dp_eps_from_rho_tight(double rho, double delta, double *eps)
	    __attribute__((warn_unused_result));

/* The simple bound eps = rho + 2 sqrt(rho ln(1/delta)); arguments as above. */
int	dp_eps_from_rho_simple(double rho, double delta, double *eps)
	    __attribute__((warn_unused_result));

/* ---- distributed noise -------------------------------------------------- */

/*
 * The per-node parameter sigma_h^2 = max(4, ceil(sigma2 / (n - c))) that
 * makes the n - c honest nodes' noise alone reach sigma2 when up to c of
 * n nodes collude with the coordinator.  CAIRN_ERR_ARG when n <= c or
 * sigma2 is not > 0; CAIRN_ERR_RANGE when the result exceeds 2^62.
 */
int	dp_sigma2_per_node(struct dp_rat sigma2, uint32_t n, uint32_t c,
	    uint64_t *sigma_h2) __attribute__((warn_unused_result));

/*
 * Variance parameter of the released sum of n nodes' noise: n * sigma_h2.
 * CAIRN_ERR_ARG for n == 0 or sigma_h2 == 0, CAIRN_ERR_OVERFLOW past 2^62.
 */
int	dp_released_variance(uint64_t sigma_h2, uint32_t n,
	    uint64_t *variance) __attribute__((warn_unused_result));

/*
 * The 95% half-width of a cell whose noise has variance parameter
 * 'variance': the smallest integer w with P(|Z| > w) <= 0.05 for
 * Z ~ N_Z(0, variance), found by summing the exact pmf in long double (the
 * normaliser by direct summation below variance 16, by the Jacobi theta
 * identity above; see docs/privacy.md).  CAIRN_ERR_ARG for variance == 0,
 * CAIRN_ERR_RANGE above DP_CI_VARIANCE_MAX.
 */
#define DP_CI_VARIANCE_MAX	((uint64_t)1 << 50)
int	dp_ci95_halfwidth(uint64_t variance, uint64_t *w)
	    __attribute__((warn_unused_result));

/* ---- sensitivity -------------------------------------------------------- */

enum dp_kind {
	DP_KIND_PRESENCE,
	DP_KIND_RESIDENTS,
	DP_KIND_OD,
	DP_KIND_MIGRATION,
	DP_KIND_VISITORS,
	DP_KIND_POPULATION_BY_CATEGORY,
	DP_KIND_DISPLACEMENT
};
#define DP_KIND_COUNT	7

/*
 * Parse a query kind by its DESIGN §4 name ("presence", "od", ...).
 * CAIRN_ERR_UNSUPPORTED for an unknown name (quoted in the detail).
 */
int	dp_kind_parse(const char *name, enum dp_kind *out)
	    __attribute__((warn_unused_result));

/* The name of 'kind', or "?" for a value outside the enum. */
const char	*dp_kind_name(enum dp_kind kind);

/* Query parameters that bound one subscriber's contribution. */
struct dp_query_shape {
	uint32_t	k;		/* regions per bucket */
	uint32_t	buckets;	/* time buckets B (days or hours) */
	uint32_t	holders;	/* h: holders a person may be at */
};

/* Sensitivities of one query: delta2 = sqrt(delta2_sq). */
struct dp_sensitivity {
	uint64_t	delta1;
	uint64_t	delta2_sq;
};

/*
 * The L1 and squared L2 sensitivities of 'kind' with 'shape', per
 * DESIGN §4, multiplied by h (h^2 for delta2_sq):
 *   presence, visitors      delta1 = h k B,     delta2_sq = h^2 k B
 *   od                      delta1 = h (B - 1), delta2_sq = h^2 (B - 1)
 *   displacement            delta1 = h B,       delta2_sq = h^2 B
 *                           (B observation days, one cell each)
 *   residents, migration,
 *   population_by_category  delta1 = h,         delta2_sq = h^2
 * k must be 1 for the single-cell kinds.  Returns CAIRN_OK,
 * CAIRN_ERR_ARG (k, B or h is 0, od with B < 2, k != 1 where it has no
 * meaning) or CAIRN_ERR_RANGE (delta2_sq above 2^40).
 */
int	dp_sensitivity(enum dp_kind kind, const struct dp_query_shape *shape,
	    struct dp_sensitivity *out) __attribute__((warn_unused_result));


/* ---- the noise requirement of a query, per data-month ------------------- */

/*
 * The privacy unit is one subscriber of one holder per UTC calendar month
 * of data (docs/privacy.md).  dp_requirement() is the one place that turns
 * a query into what each month it reads is charged and how much noise the
 * nodes add; the node, the audit, the planner and the coordinator all call
 * it, so they cannot disagree.
 */

/* Most data-months one query can read; protocol/qspec.c asserts that
   QSPEC_MAX_MONTHS fits. */
#define DP_MAX_MONTHS	96
/* Widest window in local days (a qspec's QSPEC_MAX_DAYS). */
#define DP_MAX_DAYS	2730
/* Widest UTC offset in minutes either way. */
#define DP_MAX_OFFSET	1439
/* Nano-rho per rho: budgets and charges are integer counts of 10^-9 rho. */
#define DP_NANO		UINT64_C(1000000000)
/* Most cells of an output domain. */
#define DP_MAX_CELLS	(UINT64_C(1) << 40)

/* A query as the accountant sees it: the parameters that bound one
   subscriber-month's influence.  Days are local days since 1970-01-01
   (local time = UTC + utc_offset_min). */
struct dp_query {
	enum dp_kind	kind;
	uint32_t	k;	/* regions per bucket (presence, visitors);
				   1 for the other kinds */
	bool		hour;	/* presence by hour, else by day */
	int32_t		utc_offset_min;	/* |.| <= DP_MAX_OFFSET */
	int64_t		day0;	/* the days read, [day0, day1) */
	int64_t		day1;
	int64_t		base0;	/* migration, displacement: baseline */
	int64_t		base1;	/* [base0, base1) */
	int64_t		comp0;	/* migration: comparison; displacement: */
	int64_t		comp1;	/* the observation days [comp0, comp1) */
	uint32_t	holders;	/* h >= 1: holders a person is at */
};

/* What a query needs: the months it reads, each month's squared
   sensitivity and charge, and the noise parameters. */
struct dp_requirement {
	size_t		nmonths;	/* months with Delta_m > 0 */
	/* year*12 + month - 1, ascending */
	int32_t		month[DP_MAX_MONTHS];
	/* Delta_m^2, h^2 included */
	uint64_t	delta2_sq[DP_MAX_MONTHS];
	/* rho_m charged, nano-rho */
	uint64_t	rho_nano[DP_MAX_MONTHS];
	uint64_t	extra_nano;	/* the distributed-noise term inside
					   each rho_nano (KLS21) */
	uint64_t	sigma2;		/* what the honest nodes reach */
	uint64_t	sigma_h2;	/* each node's parameter */
	uint64_t	variance;	/* released: n * sigma_h2 */
};

/*
 * The requirement of query 'q' answered with target 'rho_nano' (the
 * analyst's rho in nano-rho) by 'n' nodes of which up to 'c' may collude
 * with the coordinator, over an output domain of 'cells' cells:
 *
 *   Delta_m^2  for every UTC month m, the most the L2^2 of the exact output
 *              can change when one subscriber's records of month m are
 *              removed (at each of h holders), per kind and window as in
 *              docs/privacy.md; months with Delta_m = 0 are not listed;
 *   x          = ceil(18 (n - c - 1) cells / 10^9), the nano-rho that
 *              covers the sum of n - c discrete Gaussians not being one
 *              (Kairouz, Liu, Steinke 2021, Thm. 2, with sigma_h^2 >= 4);
 *   sigma2     = ceil(max_m Delta_m^2 10^9 / (2 (rho_nano - x)));
 *   rho_m      = ceil(Delta_m^2 10^9 / (2 sigma2)) + x  (<= rho_nano);
 *   sigma_h2   = max(4, ceil(sigma2 / (n - c))); variance = n sigma_h2.
 *
 * Exact integer arithmetic throughout.  Fills '*out' and returns CAIRN_OK;
 * CAIRN_ERR_ARG for an impossible query (unknown kind, k or holders 0, k
 * != 1 for a kind without k, an empty or inverted window, migration
 * or displacement windows outside [day0, day1), n <= c, cells 0,
 * rho_nano 0 or not above x); CAIRN_ERR_RANGE beyond the limits (window over DP_MAX_DAYS, offset
 * over DP_MAX_OFFSET, days beyond year 9999, Delta_m^2 over 2^40, cells
 * over DP_MAX_CELLS, sigma2 over DP_SIGMA2_PLAN_MAX, sigma_h2 or the
 * variance over 2^62).  '*out' is untouched on failure.  'q' may come
 * from a hostile peer.
 */
int	dp_requirement(const struct dp_query *q, uint64_t rho_nano,
	    uint32_t n, uint32_t c, uint64_t cells, struct dp_requirement *out)
	    __attribute__((warn_unused_result));

/*
 * `cairn privacy sample|plan` (privacy/cmd_privacy.c): argv[0] is
 * "privacy"; returns the exit code.
 */
int	dp_cmd_privacy(int argc, char **argv);

#endif
