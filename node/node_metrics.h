/*
 * node_metrics.h - the node's Prometheus metrics and readiness
 * (docs/operations.md, "Metrics"): tasks by outcome, charges, budget
 * spent and left per data-month, engine time, rows read and bad rows by
 * reason, the last successful poll, the clock's skew.  The daemon's thread updates them;
 * the monitoring listener (common/monitor.h) reads them.  No label or
 * value is a per-subscriber datum: the engine's counts are of rows read,
 * never of what a row holds.
 */
#ifndef CAIRN_NODE_METRICS_H
#define CAIRN_NODE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/daemon.h"

struct node_ledger;
struct engine_report;

/* Register the families, with 0 for every series known in advance. */
void	node_metrics_init(void);

/* One task ended: 'r' an error before any outcome, else 'oc'. */
void	node_metrics_task(int r, enum node_task_outcome oc);

/* One charge committed. */
void	node_metrics_charge(void);

/*
 * A PollTask call answered ('ok') or failed on the transport.  Also the
 * readiness below.
 */
void	node_metrics_poll(bool ok);

/*
 * The node's clock skew measured at the last answered poll: the
 * coordinator's clock minus this node's, in milliseconds (positive: the
 * node is behind; docs/operations.md "Clocks").
 */
void	node_metrics_clock_skew(int64_t ms);

/* The ledger caught up with the log's CHARGE entries (before serving). */
void	node_metrics_rebuilt(void);

/* One engine run of 'seconds' and its bad-row report 'rep' (NULL for a
 * run from the binary store). */
void	node_metrics_engine(double seconds, const struct engine_report *rep);

/*
 * Set the budget gauges of every data-month the ledger 'l' charged,
 * against 'budget_nano' per month.  Returns CAIRN_OK or CAIRN_ERR_DB.
 */
int	node_metrics_budget(struct node_ledger *l, int64_t budget_nano)
	    __attribute__((warn_unused_result));

/*
 * Readiness for /readyz: the ledger reconciled with the log and the last
 * poll answered.  False with the reason in 'why' ('n' bytes).
 */
bool	node_metrics_ready(void *arg, char *why, size_t n);

#endif
