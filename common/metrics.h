/*
 * metrics.h - the process's Prometheus metrics: counters, gauges and
 * classic histograms with at most two labels, kept in one registry and
 * rendered in the text exposition format 0.0.4
 * (docs/operations.md, "Metrics").
 *
 * A family is registered once (at startup, from one thread) and then
 * updated from any thread.  Each family holds at most METRICS_SERIES_MAX
 * label combinations; an update that would add one more goes to the
 * series whose label values are all "other", so no caller can grow the
 * registry without bound.  Label values are never secret or
 * per-subscriber: method names, outcomes, reasons, data-months.
 */
#ifndef CAIRN_METRICS_H
#define CAIRN_METRICS_H

#include <stddef.h>

#define METRICS_SERIES_MAX	256
#define METRICS_BUCKETS_MAX	16

enum metrics_type {
	METRICS_COUNTER,
	METRICS_GAUGE,
	METRICS_HISTOGRAM
};

struct metrics_family;

/*
 * Register the family 'name' (borrowed, a static string) of 'type' with
 * the help text 'help' and up to two label names 'l1', 'l2' (NULL when
 * absent).  A histogram takes 'nb' ascending upper bounds 'bounds'
 * (copied; +Inf is added).  Registering the same name again returns the
 * family already there.  Returns NULL only when out of memory or when
 * the registry is full (programming errors, checked by the tests).
 */
struct metrics_family *metrics_register(const char *name,
	    enum metrics_type type, const char *help, const char *l1,
	    const char *l2, const double *bounds, size_t nb);

/*
 * Add 'v' (>= 0) to a counter, set or add to a gauge, or observe 'v' in a
 * histogram, for the series with label values 'v1', 'v2' (NULL for a
 * label the family lacks; copied).  'f' NULL is ignored, so a daemon may
 * run with metrics never registered.
 */
void	metrics_add(struct metrics_family *f, const char *v1, const char *v2,
	    double v);
void	metrics_set(struct metrics_family *f, const char *v1, const char *v2,
	    double v);
void	metrics_observe(struct metrics_family *f, const char *v1,
	    const char *v2, double v);

/*
 * Create the series 'v1', 'v2' with value 0 if it is missing, so a series
 * known in advance is exported before its first event.
 */
void	metrics_touch(struct metrics_family *f, const char *v1, const char *v2);

/*
 * Register 'fn' to be called with 'arg' before each rendering (to refresh
 * gauges read from a database).  At most 8 callbacks.
 */
void	metrics_on_collect(void (*fn)(void *), void *arg);

/*
 * Render every family as text exposition into a new malloc buffer
 * (*out, *len; NUL-terminated, freed by the caller).  Returns CAIRN_OK or
 * CAIRN_ERR_NOMEM.
 */
int	metrics_render(char **out, size_t *len)
	    __attribute__((warn_unused_result));

/* Forget every family and callback (the unit tests, between cases). */
void	metrics_reset(void);

#endif
