/*
 * dp_int.h - private to privacy/: the RNG handle layout and the inline
 * primitives of the sampling path (bit reservoir, uniform integers, lazy
 * Bernoulli trials).  Integer arithmetic only: this header and every
 * sampler file must not include <math.h> or use floating point.
 *
 * A Bernoulli(num/den) trial compares a uniform real U in [0, 1) with
 * num/den one binary digit at a time: the digits of num/den come from long
 * division, the digits of U from the bit reservoir, and the first position
 * where they differ decides (U < num/den iff U has a 0 where num/den has a
 * 1).  It is exact and uses 2 random bits on average.
 */
#ifndef CAIRN_PRIVACY_DP_INT_H
#define CAIRN_PRIVACY_DP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DP_RNG_BLOCK	4096

typedef unsigned __int128 dp_u128;

struct dp_rng {
	uint8_t		buf[DP_RNG_BLOCK];	/* random bytes */
	size_t		pos;		/* next unread byte of buf */
	uint64_t	bits;		/* bit reservoir, low bits next */
	unsigned	nbits;		/* valid bits in 'bits' */
	bool		seeded;		/* deterministic test source */
	long		pid;		/* process that filled buf */
	uint64_t	block;		/* next ChaCha20 nonce (seeded) */
	uint8_t		key[32];	/* ChaCha20 key (seeded) */
};

/* Refill r->buf from the source and reset r->pos (rng.c). */
void	dp_rng_refill(struct dp_rng *r);

/*
 * Called on entry to every public drawing function: in a process forked
 * after the CSPRNG handle was filled, drop the buffered bytes and bits so
 * that parent and child never draw the same noise (rng.c).
 */
void	dp_rng_enter(struct dp_rng *r);

static inline uint64_t
dp_rng_u64(struct dp_rng *r)
{
	const uint8_t *p;

	if (r->pos > DP_RNG_BLOCK - 8)
		dp_rng_refill(r);
	p = r->buf + r->pos;
	r->pos += 8;
	/* Little-endian on every host, so seeded streams are portable. */
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	    (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 |
	    (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
	    (uint64_t)p[7] << 56;
}

static inline unsigned
dp_rng_bit(struct dp_rng *r)
{
	unsigned b;

	if (r->nbits == 0) {
		r->bits = dp_rng_u64(r);
		r->nbits = 64;
	}
	b = (unsigned)(r->bits & 1);
	r->bits >>= 1;
	r->nbits--;
	return b;
}

/* 'k' uniform bits, 1 <= k <= 64. */
static inline uint64_t
dp_rng_bits(struct dp_rng *r, unsigned k)
{
	uint64_t v, w;
	unsigned need;

	if (k <= r->nbits) {
		v = k == 64 ? r->bits : r->bits & (((uint64_t)1 << k) - 1);
		r->bits = k == 64 ? 0 : r->bits >> k;
		r->nbits -= k;
		return v;
	}
	v = r->bits;		/* the r->nbits < k bits left */
	need = k - r->nbits;
	w = dp_rng_u64(r);
	v |= (need == 64 ? w : w & (((uint64_t)1 << need) - 1)) << r->nbits;
	r->bits = need == 64 ? 0 : w >> need;
	r->nbits = 64 - need;
	return v;
}

/* Uniform in [0, n), n >= 1: rejection on bitlength(n - 1) bits. */
static inline uint64_t
dp_rng_below(struct dp_rng *r, uint64_t n)
{
	unsigned k;
	uint64_t v;

	if (n <= 1)
		return 0;
	k = 64 - (unsigned)__builtin_clzll(n - 1);
	do
		v = dp_rng_bits(r, k);
	while (v >= n);
	return v;
}

/* Bernoulli(num/den) with den < 2^63 (so 2 * rem cannot overflow). */
static inline bool
dp_bern64(struct dp_rng *r, uint64_t num, uint64_t den)
{
	uint64_t rem = num;
	unsigned d;

	if (num == 0)
		return false;
	if (num >= den)
		return true;
	for (;;) {
		rem <<= 1;
		d = rem >= den;
		if (d)
			rem -= den;
		if (dp_rng_bit(r) != d)
			return d;
		if (rem == 0)
			return false;	/* num/den ended; U >= it a.s. */
	}
}

/* Bernoulli(num/den) with den < 2^127. */
static inline bool
dp_bern128(struct dp_rng *r, dp_u128 num, dp_u128 den)
{
	dp_u128 rem = num;
	unsigned d;

	if (num == 0)
		return false;
	if (num >= den)
		return true;
	for (;;) {
		rem <<= 1;
		d = rem >= den;
		if (d)
			rem -= den;
		if (dp_rng_bit(r) != d)
			return d;
		if (rem == 0)
			return false;
	}
}

/*
 * Bernoulli(exp(-1)): CKS20 Algorithm 1 with gamma = 1, where the trial
 * Bernoulli(gamma/K) is Bernoulli(1/K).
 */
static inline bool
dp_bern_exp1(struct dp_rng *r)
{
	uint64_t k = 2;		/* K = 1 always succeeds */

	while (dp_bern64(r, 1, k))
		k++;
	return (k & 1) != 0;
}

/*
 * Bernoulli(exp(-num/den)) for num <= den < 2^63 (CKS20 Algorithm 1):
 * count K while Bernoulli(gamma/K) succeeds, where Bernoulli(gamma/K) is
 * Bernoulli(gamma) AND Bernoulli(1/K) (independent), which keeps every
 * denominator below 2^63.  Returns K odd.
 */
static inline bool
dp_bern_exp_frac64(struct dp_rng *r, uint64_t num, uint64_t den)
{
	uint64_t k = 1;

	if (num == 0)
		return true;
	for (;;) {
		if (!dp_bern64(r, num, den))
			break;
		if (k > 1 && !dp_bern64(r, 1, k))
			break;
		k++;
	}
	return (k & 1) != 0;
}

/* As dp_bern_exp_frac64() for num <= den < 2^127. */
static inline bool
dp_bern_exp_frac128(struct dp_rng *r, dp_u128 num, dp_u128 den)
{
	uint64_t k = 1;

	if (num == 0)
		return true;
	for (;;) {
		if (!dp_bern128(r, num, den))
			break;
		if (k > 1 && !dp_bern64(r, 1, k))
			break;
		k++;
	}
	return (k & 1) != 0;
}

/*
 * Bernoulli(exp(-num/den)) for any num and 1 <= den < 2^127:
 * exp(-x) = exp(-1)^floor(x) * exp(-frac(x)), one Bernoulli(exp(-1)) per
 * unit of x, stopping at the first failure (so the loop runs 1.6 times on
 * average however large x is).
 */
static inline bool
dp_bern_exp128(struct dp_rng *r, dp_u128 num, dp_u128 den)
{
	while (num > den) {
		if (!dp_bern_exp1(r))
			return false;
		num -= den;
	}
	return dp_bern_exp_frac128(r, num, den);
}

/*
 * Discrete Laplace proposal magnitude (CKS20 Algorithm 2, s = 1): a value
 * U + t V with U uniform in [0, t) accepted with probability exp(-U/t) and
 * V geometric, P(V = v) proportional to exp(-v); so P(x) is proportional
 * to exp(-x/t).  V is capped at 'vmax': a larger V restarts, which
 * conditions the result on x <= t (vmax + 1) - 1.
 */
static inline uint64_t
dp_laplace_magnitude(struct dp_rng *r, uint64_t t, uint64_t vmax)
{
	uint64_t u, v;

	for (;;) {
		u = dp_rng_below(r, t);
		if (!dp_bern_exp_frac64(r, u, t))
			continue;
		v = 0;
		while (dp_bern_exp1(r))
			if (++v > vmax)
				break;
		if (v > vmax)
			continue;
		return u + t * v;
	}
}

/* Integer square root: the largest s with s * s <= x. */
uint64_t	dp_isqrt(uint64_t x);

/*
 * The discrete Laplace sampler: the proposal distribution of the discrete
 * Gaussian sampler (CKS20 Algorithm 3), tested on its own.  It is not a
 * product mechanism: no policy offers pure epsilon-DP (docs/privacy.md).
 */
/*
 * Check a discrete Laplace scale = t/s (after reduction): CAIRN_ERR_ARG
 * when t == 0 or s == 0 (s == 0 is a malformed fraction), CAIRN_ERR_RANGE
 * when t or s exceeds DP_DLAPLACE_MAX (so scales run from 2^-40 to 2^40).
 */
#define DP_DLAPLACE_MAX	((uint64_t)1 << 40)
int	dp_dlaplace_check(struct dp_rat scale)
	    __attribute__((warn_unused_result));

/*
 * Fill 'out[0..n)' with i.i.d. samples of the discrete Laplace (two-sided
 * geometric) distribution of scale t/s, P(x) proportional to
 * exp(-|x| s / t) (CKS20 Algorithm 2), conditioned on |x| <= L for an L
 * that keeps t|x| below 2^62, an event of probability above
 * 1 - exp(-2^21).  Returns CAIRN_OK or the errors of dp_dlaplace_check().
 */
int	dp_dlaplace_fill(struct dp_rng *rng, struct dp_rat scale,
	    int64_t *out, size_t n) __attribute__((warn_unused_result));

#endif
