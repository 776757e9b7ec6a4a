/*
 * query_derive.h - outputs derived from a released displacement result
 * (docs/queries.md, "Derived outputs"), computed by the analyst from the
 * released noisy cells alone, so they cost no privacy budget: per home
 * region and day, the share of the seen cohort away from home with a
 * Fieller interval; and flows above normal against a comparison
 * (pre-event) release with the interval of a difference of independent
 * noisy counts.  `cairn query derive` is the command line.
 *
 * Intervals account for the release's noise only (the cells are the
 * holders' exact counts plus independent discrete Gaussian noise of the
 * released variance per cell), with the normal quantile for 95 %.
 */
#ifndef CAIRN_QUERY_DERIVE_H
#define CAIRN_QUERY_DERIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Largest result file read (bytes). */
#define QUERY_DERIVE_MAX_FILE	((size_t)1 << 30)

/*
 * A released displacement result, dense: every (home, day, region or
 * not seen) cell.  Cell (h, d, g) is values[(h * ndays + d) * (nregions
 * + 1) + g], g = nregions meaning not seen.
 */
struct query_disp {
	uint32_t	*regions;	/* nregions ids, ascending */
	size_t		 nregions;
	int64_t		 day0;		/* first day, days since 1970-01-01 */
	size_t		 ndays;		/* consecutive days */
	int64_t		*values;
	uint64_t	 variance;	/* released noise variance per cell */
};

/*
 * Parse 'text' ('len' bytes, untrusted), the CSV `cairn query result`
 * writes for a displacement query: '#' comment lines, one of which is
 * "# noise variance V per cell"; a header naming at least the columns
 * home, day, region and value (others are ignored); one row per cell in
 * the release's order (home, then day, then region with none last).
 * 'name' starts error details.  Fills 'out' (release it with
 * query_disp_release) and returns CAIRN_OK, or CAIRN_ERR_FORMAT naming
 * the line and what is wrong, CAIRN_ERR_TOOBIG, CAIRN_ERR_NOMEM.
 */
int	query_disp_parse(const char *text, size_t len, const char *name,
	    struct query_disp *out) __attribute__((warn_unused_result));

/* Free what query_disp_parse() allocated; 'd' may be zeroed. */
void	query_disp_release(struct query_disp *d);

/* The share away from home of one home region on one day. */
struct query_share {
	int64_t		 seen;		/* noisy: at home + away */
	int64_t		 away;		/* noisy: the other regions */
	double		 share;		/* away / seen; NAN when seen <= 0 */
	double		 lo, hi;	/* 95 % interval, within [0, 1] */
	bool		 bounded;	/* false: the interval is all of
					   [0, 1] (seen is not clearly > 0) */
};

/*
 * The share away of home index 'h' on day index 'd' of 'r': away = the
 * sum of the cells (h, d, g) over regions g other than h (not seen
 * excluded), seen = away + cell (h, d, h).  The interval is Fieller's
 * for the ratio away / seen of two correlated normal estimates (docs/
 * queries.md derives it), cut to [0, 1].  'h' and 'd' must be in range.
 */
void	query_disp_share(const struct query_disp *r, size_t h, size_t d,
	    struct query_share *out);

/* A flow above normal. */
struct query_above {
	int64_t		 value;		/* noisy, on the day */
	double		 normal;	/* mean of the comparison days */
	double		 above;		/* value - normal */
	double		 lo, hi;	/* 95 % interval */
};

/*
 * The flow from home index 'h' to region index 'g' (g = nregions: all
 * regions other than h, not seen excluded; otherwise g != h) on day
 * index 'd' of 'obs', above its normal: the mean over the days [nd0,
 * nd1) (indexes into 'normal') of the same cells of 'normal', which has
 * the same regions.  Var = k (V_obs + V_normal / n) for k cells summed
 * over n comparison days; 'normal' may be 'obs' itself when d is
 * outside [nd0, nd1) (the noises are then still independent).
 */
void	query_disp_above(const struct query_disp *obs,
	    const struct query_disp *normal, size_t nd0, size_t nd1, size_t h,
	    size_t d, size_t g, struct query_above *out);

#endif
