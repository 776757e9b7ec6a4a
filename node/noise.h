/*
 * noise.h - the noisy mode of run-local: discrete Gaussian noise on every
 * cell of a result, with its 95% interval and the (rho, epsilon, delta)
 * it costs, drawn by the privacy engine (privacy/dp.h).
 */
#ifndef CAIRN_NODE_NOISE_H
#define CAIRN_NODE_NOISE_H

#include <stdint.h>
#include <stdio.h>

#include "node/engine/engine.h"

struct node_noise_plan {
	uint64_t	delta2_sq;	/* the largest month's Delta_m^2 */
	uint64_t	sigma2;		/* discrete Gaussian parameter */
	/* delta2_sq / (2 sigma2) rounded up to nano-rho: what the month
	   with the largest Delta_m pays */
	double		rho;
	double		epsilon, delta;	/* tight (eps, delta) */
	uint64_t	ci95;		/* 95% interval half-width */
};

/*
 * Plan the noise of 'q' answered by one holder for at most 'rho_nano'
 * (nano-rho, exact) per UTC data-month (dp_requirement(): sigma2 from the month with the largest
 * Delta_m; spent rho may be lower: sigma2 is rounded up to an integer),
 * with (epsilon, delta) shown for 'delta'.  Errors of privacy/dp.h
 * (CAIRN_ERR_ARG, CAIRN_ERR_RANGE) pass through.
 */
int	node_noise_plan(const struct qspec *q, uint64_t rho_nano, double delta,
	    struct node_noise_plan *out) __attribute__((warn_unused_result));
/*
 * Draw noise for every cell of 'res' (CSPRNG) and write every cell with
 * its noisy count and 95% interval to 'f'.  The plan used is copied to
 * 'plan' when not NULL.  The noise is wiped after writing.
 */
int	node_noise_write(const struct engine_result *res, uint64_t rho_nano,
	    double delta, enum engine_out_format fmt, FILE *f,
	    struct node_noise_plan *plan) __attribute__((warn_unused_result));

#endif
