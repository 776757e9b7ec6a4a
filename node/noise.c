/*
 * noise.c - the noisy mode of run-local.  The sensitivities follow
 * DESIGN §4: presence and visitors sqrt(k * B) for B buckets, od
 * sqrt(B - 1), residents, migration and population_by_category 1.
 */
#include <math.h>

#include "common/err.h"
#include "node/noise.h"

double
node_query_sensitivity(const struct node_query *q, size_t nbuckets)
{
	switch (q->kind) {
	case NODE_KIND_PRESENCE:
	case NODE_KIND_VISITORS:
		return sqrt((double)q->k * (double)nbuckets);
	case NODE_KIND_OD:
		return nbuckets > 1 ? sqrt((double)(nbuckets - 1)) : 1.0;
	default:
		return 1.0;
	}
}

int
node_noise_available(void)
{
	return cairn_err(CAIRN_ERR_UNSUPPORTED, "noise needs the privacy "
	    "engine, which this build does not have yet: use --no-noise");
}

int
node_noise_write(const struct node_result *res, double rho,
    enum node_out_format fmt, FILE *f)
{
	(void)res;
	(void)rho;
	(void)fmt;
	(void)f;
	return node_noise_available();
}
