/*
 * bernoulli.c - the public Bernoulli samplers: Bernoulli(p) and
 * Bernoulli(exp(-x)) for rational p and x (CKS20 Algorithm 1), on top of
 * the inline primitives of dp_int.h.  Integer arithmetic only.
 */
#include "common/err.h"
#include "privacy/dp.h"
#include "privacy/dp_int.h"

int
dp_bernoulli(struct dp_rng *rng, struct dp_rat p, bool *out)
{
	if (p.den == 0 || p.den > DP_RAT_MAX)
		return cairn_err(CAIRN_ERR_ARG, "bernoulli: denominator must "
		    "be in [1, 2^63 - 1]");
	if (p.num > p.den)
		return cairn_err(CAIRN_ERR_ARG, "bernoulli: p = %llu/%llu is "
		    "above 1", (unsigned long long)p.num,
		    (unsigned long long)p.den);
	dp_rng_enter(rng);
	*out = dp_bern64(rng, p.num, p.den);
	return CAIRN_OK;
}

int
dp_bernoulli_exp(struct dp_rng *rng, struct dp_rat x, bool *out)
{
	if (x.den == 0 || x.den > DP_RAT_MAX)
		return cairn_err(CAIRN_ERR_ARG, "bernoulli_exp: denominator "
		    "must be in [1, 2^63 - 1]");
	dp_rng_enter(rng);
	*out = dp_bern_exp128(rng, x.num, x.den);
	return CAIRN_OK;
}
