/*
 * sensitivity.c - how much one subscriber can change each query kind of
 * DESIGN §4: the L1 sensitivity (for discrete Laplace) and the squared L2
 * sensitivity (for the discrete Gaussian, kept as an exact integer since
 * rho = delta2^2 / (2 sigma2)).
 */
#include <string.h>

#include "common/err.h"
#include "privacy/dp.h"

#define DELTA2_SQ_MAX	((uint64_t)1 << 40)

static const char *const kind_names[DP_KIND_COUNT] = {
	[DP_KIND_PRESENCE] = "presence",
	[DP_KIND_RESIDENTS] = "residents",
	[DP_KIND_OD] = "od",
	[DP_KIND_MIGRATION] = "migration",
	[DP_KIND_VISITORS] = "visitors",
	[DP_KIND_POPULATION_BY_CATEGORY] = "population_by_category",
};

int
dp_kind_parse(const char *name, enum dp_kind *out)
{
	for (int i = 0; i < DP_KIND_COUNT; i++)
		if (strcmp(name, kind_names[i]) == 0) {
			*out = (enum dp_kind)i;
			return CAIRN_OK;
		}
	return cairn_err(CAIRN_ERR_UNSUPPORTED, "unknown query kind '%s' "
	    "(presence, residents, od, migration, visitors, "
	    "population_by_category)", name);
}

const char *
dp_kind_name(enum dp_kind kind)
{
	if ((int)kind < 0 || (int)kind >= DP_KIND_COUNT)
		return "?";
	return kind_names[kind];
}

int
dp_sensitivity(enum dp_kind kind, const struct dp_query_shape *shape,
    struct dp_sensitivity *out)
{
	uint64_t cells, h = shape->holders;

	if (shape->k == 0 || shape->buckets == 0 || shape->holders == 0)
		return cairn_err(CAIRN_ERR_ARG, "%s: k, buckets and holders "
		    "must be >= 1", dp_kind_name(kind));
	switch (kind) {
	case DP_KIND_PRESENCE:
	case DP_KIND_VISITORS:
		/* Up to k cells per bucket, 1 per cell. */
		cells = (uint64_t)shape->k * shape->buckets;
		break;
	case DP_KIND_OD:
		if (shape->k != 1)
			return cairn_err(CAIRN_ERR_ARG, "od: k = %u has no "
			    "meaning (one transition per day pair)", shape->k);
		if (shape->buckets < 2)
			return cairn_err(CAIRN_ERR_ARG, "od: needs at least 2 "
			    "days, got %u", shape->buckets);
		cells = (uint64_t)shape->buckets - 1;
		break;
	case DP_KIND_RESIDENTS:
	case DP_KIND_MIGRATION:
	case DP_KIND_POPULATION_BY_CATEGORY:
		if (shape->k != 1)
			return cairn_err(CAIRN_ERR_ARG, "%s: k = %u has no "
			    "meaning (one cell per subscriber)",
			    dp_kind_name(kind), shape->k);
		cells = 1;
		break;
	default:
		return cairn_err(CAIRN_ERR_UNSUPPORTED, "unknown query kind "
		    "%d", (int)kind);
	}
	/* cells < 2^33 and h < 2^32: check before multiplying. */
	if (cells > DELTA2_SQ_MAX || h * h > DELTA2_SQ_MAX / cells)
		return cairn_err(CAIRN_ERR_RANGE, "%s: delta2^2 = h^2 x %llu "
		    "cells exceeds 2^40", dp_kind_name(kind),
		    (unsigned long long)cells);
	out->delta1 = h * cells;
	out->delta2_sq = h * h * cells;
	return CAIRN_OK;
}
