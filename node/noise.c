/*
 * noise.c - the noisy mode of run-local: the privacy engine (privacy/dp.h)
 * plans the discrete Gaussian for the requested rho from the largest
 * per-data-month sensitivity (dp_requirement, one holder), draws one exact
 * sample per cell of
 * the domain from libsodium's CSPRNG, and every cell is printed with its
 * noisy count and 95% interval.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/err.h"
#include "node/noise.h"
#include "privacy/dp.h"

/* Most cells one noisy result may have (8 bytes of noise each). */
#define NOISE_MAX_CELLS	(UINT64_C(1) << 27)

int
node_noise_plan(const struct qspec *q, uint64_t rho_nano, double delta,
    struct node_noise_plan *out)
{
	struct dp_query dq;
	struct dp_requirement req;
	struct node_noise_plan p;
	uint64_t most = 0;
	int r;

	memset(&p, 0, sizeof(p));
	/* One holder, its own noise only (n = 1, c = 0): sigma2 as
	   dp_requirement plans it from the largest data-month's Delta_m. */
	if ((r = qspec_dp_query(q, 1, &dq)) != CAIRN_OK ||
	    (r = dp_requirement(&dq, rho_nano, 1, 0, 1, &req)) != CAIRN_OK)
		return r;
	for (size_t i = 0; i < req.nmonths; i++) {
		if (req.delta2_sq[i] > p.delta2_sq)
			p.delta2_sq = req.delta2_sq[i];
		if (req.rho_nano[i] > most)
			most = req.rho_nano[i];
	}
	p.sigma2 = req.sigma2;
	p.rho = (double)most / (double)DP_NANO;
	if ((r = dp_eps_from_rho_tight(p.rho, delta, &p.epsilon)) !=
	    CAIRN_OK ||
	    (r = dp_ci95_halfwidth(p.sigma2, &p.ci95)) != CAIRN_OK)
		return r;
	p.delta = delta;
	*out = p;
	return CAIRN_OK;
}

int
node_noise_write(const struct engine_result *res, uint64_t rho_nano,
    double delta,
    enum engine_out_format fmt, FILE *f, struct node_noise_plan *plan)
{
	struct node_noise_plan p;
	struct engine_noise nz;
	struct dp_rng *rng = NULL;
	int64_t *noise = NULL;
	int r;

	if ((r = node_noise_plan(&res->query, rho_nano, delta, &p)) !=
	    CAIRN_OK)
		return r;
	if (res->ncells > NOISE_MAX_CELLS)
		return cairn_err(CAIRN_ERR_TOOBIG, "%llu cells: a noisy result "
		    "has at most %llu", (unsigned long long)res->ncells,
		    (unsigned long long)NOISE_MAX_CELLS);
	if ((noise = calloc(res->ncells ? res->ncells : 1, sizeof(*noise))) ==
	    NULL)
		return CAIRN_ERR_NOMEM;
	if ((r = dp_rng_new_csprng(&rng)) != CAIRN_OK ||
	    (r = dp_dgauss_fill(rng, (struct dp_rat){ p.sigma2, 1 }, noise,
	    res->ncells)) != CAIRN_OK)
		goto out;
	nz.noise = noise;
	nz.rho = p.rho;
	nz.epsilon = p.epsilon;
	nz.delta = p.delta;
	nz.sigma2 = (double)p.sigma2;
	nz.ci95 = p.ci95;
	r = engine_result_write(res, fmt, true, &nz, f);
	if (r == CAIRN_OK && plan != NULL)
		*plan = p;
out:
	dp_rng_free(rng);
	sodium_memzero(noise, (res->ncells ? res->ncells : 1) *
	    sizeof(*noise));
	free(noise);
	return r;
}
