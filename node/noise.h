/*
 * noise.h - the noisy mode of run-local: discrete Gaussian noise on every
 * cell of a result, with its 95% interval and the (rho, epsilon, delta)
 * it costs, drawn by the privacy engine (privacy/).
 */
#ifndef CAIRN_NODE_NOISE_H
#define CAIRN_NODE_NOISE_H

#include <stdio.h>

#include "node/node.h"

/*
 * CAIRN_OK when this build has the privacy engine, else CAIRN_ERR_UNSUPPORTED
 * with a detail telling the user to use --no-noise.
 */
int	node_noise_available(void);
/*
 * The L2 sensitivity of 'q' over a domain of 'nbuckets' time buckets
 * (presence: days or hours; visitors: days; od: days - 1).
 */
double	node_query_sensitivity(const struct node_query *q, size_t nbuckets);
/* Add noise for 'rho' to every cell of 'res' and write it to 'f'. */
int	node_noise_write(const struct node_result *res, double rho,
	    enum node_out_format fmt, FILE *f)
	    __attribute__((warn_unused_result));

#endif
