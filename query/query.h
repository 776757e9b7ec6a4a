/*
 * query.h - the statistics office's client (`cairn query`, docs/analyst.md):
 * building and signing a Query, labelling the cells of a released vector
 * and writing them with their 95% intervals, and the transport plumbing
 * shared with `cairn audit verify`.
 */
#ifndef CAIRN_QUERY_H
#define CAIRN_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "keys/keys.h"
#include "privacy/dp.h"
#include "protocol/qspec.h"

struct transport_client;
struct keys_federation;
struct tlog_entry;

#define QUERY_MAX_PARTICIPANTS	256
#define QUERY_MAX_REGIONS	(1u << 20)
#define QUERY_MAX_CATEGORIES	4096
#define QUERY_ID_MAX		128
#define QUERY_PURPOSE_MAX	1024
#define QUERY_NONCE_LEN		16
/* δ of the (ε, δ) shown next to ρ unless --delta says otherwise. */
#define QUERY_DEFAULT_DELTA	1e-6

/* What the analyst asks. */
struct query_params {
	struct qspec	 spec;
	const char	*geography;
	uint64_t	 rho_nano;		/* per data-month, > 0 */
	const char	*purpose;
	const char	*const *participants;	/* node names */
	size_t		 nparticipants;
	uint32_t	 colluding;		/* c < n */
	uint32_t	 holders;		/* h; 0 means 1 */
	const char	*query_id;
	const char	*analyst;		/* member name */
	const char	*federation;
	int64_t		 submitted;		/* unix seconds */
	uint8_t		 nonce[QUERY_NONCE_LEN];
	bool		 allow_missing_months;	/* run over months a
						   participant does not
						   hold (its POLICY) */
	bool		 publish;		/* the release is public
						   (Query.publish) */
};

/*
 * Check 'p' (names valid and distinct, 2 <= n <= QUERY_MAX_PARTICIPANTS,
 * c < n, ρ finite and > 0, id and purpose present and bounded), build
 * the Query and serialize it into a new buffer '*query' of '*len' bytes,
 * and sign those bytes with 'id' (purpose "query") into 'sig'.  Errors
 * are CAIRN_ERR_ARG naming the field.  Out-params set on success only.
 */
int	query_build(const struct query_params *p,
	    const struct keys_identity *id, uint8_t **query, size_t *len,
	    uint8_t sig[static KEYS_SIG_LEN])
	    __attribute__((warn_unused_result));

/*
 * Parse a regions file: a CSV whose header's first column is
 * "region_id"; the first column of each later row is a region id
 * (uint32).  Ids come back sorted ascending (the engine's order),
 * duplicates refused.  'name' starts error details.
 */
int	query_regions_parse(const char *text, size_t len, const char *name,
	    uint32_t **ids, size_t *n) __attribute__((warn_unused_result));

/*
 * The names of the regions 'ids' (n, sorted, as query_regions_parse()
 * returned them from the same 'text'): the second column of each row
 * (a quoted CSV field unquoted), "" for a row without one.  '*out' is a
 * new array of n new strings, aligned with 'ids' (query_free_list()).
 */
int	query_regions_names(const char *text, size_t len, const char *name,
	    const uint32_t *ids, size_t n, char ***out)
	    __attribute__((warn_unused_result));

/* The public output domain of a query: what each cell index means. */
struct query_domain {
	struct qspec	 spec;
	const uint32_t	*regions;	/* sorted ids, borrowed */
	const char *const *names;	/* aligned with regions, or NULL
					   (no name columns); borrowed */
	size_t		 nregions;
	const char	*const *cats;	/* bytewise sorted, borrowed */
	size_t		 ncats;
	uint64_t	 ncells;
};

/*
 * Set up 'd' over 'regions' (and 'cats' for population_by_category).
 * CAIRN_ERR_ARG when there are no regions, or categories are missing,
 * unsorted or given to another kind.
 */
int	query_domain_init(struct query_domain *d, const struct qspec *q,
	    const uint32_t *regions, size_t nregions, const char *const *cats,
	    size_t ncats) __attribute__((warn_unused_result));

/* The label columns of the kind ("region,bucket" for presence). */
const char	*query_label_columns(enum qspec_kind kind);

/*
 * The columns of 'd''s output into 'buf' ('cap' bytes, truncated): the
 * label columns with "<field>_name" after each region field when 'd' has
 * names, as CSV ("region,region_name,bucket") or, with 'json', as the
 * members of a JSON array with value, ci95_low and ci95_high after them.
 */
void	query_columns(const struct query_domain *d, char *buf, size_t cap,
	    bool json);

/*
 * Write the labels of cell 'id' of 'd' into 'buf' (room for 'cap' bytes):
 * CSV fields ("3,2026-01-05") or JSON members ("\"region\": 3, ...").
 * Cells are in the engine's order (node/engine/output.c): presence region-major
 * then bucket, residents by region, od day then origin then destination,
 * migration from then to, visitors region then day, population by
 * category region then category.  CAIRN_ERR_RANGE past the domain,
 * CAIRN_ERR_TOOBIG when 'cap' is short.
 */
int	query_cell_label(const struct query_domain *d, uint64_t id, bool json,
	    char *buf, size_t cap) __attribute__((warn_unused_result));

/*
 * The region ids of cell 'id' of 'd', in the order of its label columns
 * (presence one, od origin then destination, migration from then to),
 * into ids[0..*n).  CAIRN_ERR_RANGE past the domain.
 */
int	query_cell_regions(const struct query_domain *d, uint64_t id,
	    uint32_t ids[static 3], size_t *n)
	    __attribute__((warn_unused_result));

/* What goes with a released vector into the output. */
struct query_release {
	const char	*query_id;
	uint64_t	 rho_nano;	/* per data-month */
	double		 delta;		/* of the (ε, δ) shown */
	uint64_t	 variance;	/* released noise variance per cell */
	uint64_t	 log_index;	/* of the RELEASE entry */
};

/*
 * Write the release as CSV (a '#' header comment with ρ, ε and δ tight
 * and simple, variance and half-width; then the kind's label columns,
 * value, ci95_low, ci95_high, one row per cell) or as one JSON object.
 * 'n' must be the domain's size.  Returns CAIRN_OK, CAIRN_ERR_RANGE (n
 * differs from the domain), the privacy engine's error, or CAIRN_ERR_IO.
 */
int	query_result_write(FILE *f, bool json, const struct query_domain *d,
	    const struct query_release *rel, const int64_t *values, uint64_t n)
	    __attribute__((warn_unused_result));

/* Room for query_format_number()'s longest text, NUL included. */
#define QUERY_NUM_MAX	32

/* cli_format_number() (common/cli.h): the shortest text that reads back
   as exactly 'x' ("1e-06"). */
void	query_format_number(double x, char out[static QUERY_NUM_MAX]);

/* ---- the planner (query/query_plan.c) ---- */

/*
 * What a query will cost and give, before it is sent: exactly what the
 * coordinator and every node compute for it (qspec_dp_query() and
 * dp_requirement(), the one code path), and the interval and (eps,
 * delta) the release will carry.
 */
struct query_plan {
	struct dp_requirement	req;	/* months, charges, sigma, variance */
	uint64_t	rho_nano;	/* asked */
	uint64_t	rho_max_nano;	/* the most one data-month pays */
	uint32_t	n, c, h;	/* participants, colluding, holders */
	uint64_t	cells;		/* output domain */
	uint64_t	ci95_halfwidth;	/* exact, of the released variance */
	double		delta;
	double		eps_tight;	/* of rho_max at delta */
	double		eps_simple;
};

/*
 * Plan query 'q' at 'rho_nano' for 'n' participants of which 'c' may
 * collude, 'holders' holders a person may be at (0 means 1), over a
 * geography of 'nregions' regions, with (eps, delta) shown at 'delta'.
 * Fills '*out' and returns CAIRN_OK, or the error of dp_requirement()
 * (CAIRN_ERR_ARG, CAIRN_ERR_RANGE) or of the interval.
 */
int	query_plan_compute(const struct qspec *q, uint64_t rho_nano,
	    uint32_t n, uint32_t c, uint32_t holders, uint64_t nregions,
	    double delta, struct query_plan *out)
	    __attribute__((warn_unused_result));

/* ---- budgets, from the log's POLICY and CHARGE entries ---- */

/* One holder: its latest signed POLICY's monthly budget. */
struct query_budget_holder {
	char		name[KEYS_NAME_MAX + 1];
	uint64_t	budget_nano;	/* per data-month */
	uint64_t	policy_index;	/* log index of that POLICY */
	/* the data-months the POLICY declares it holds, YYYYMM, sorted;
	   none declared means unknown (older nodes) */
	uint32_t	*months;
	size_t		nmonths;
};

/* What one holder has spent on one data-month: its highest cumulative. */
struct query_spend {
	char		holder[KEYS_NAME_MAX + 1];
	uint32_t	month;		/* YYYYMM */
	uint64_t	spent_nano;
};

struct query_budgets {
	struct query_budget_holder	*h;
	size_t				 nh;
	struct query_spend		*s;	/* sorted by holder, month */
	size_t				 ns, cap_s;
	uint64_t			 size;	/* log entries read */
};

/*
 * Take log entry 'e' at 'index' into 'b': a POLICY entry whose
 * signature verifies with the node's key in 'fed' replaces that holder's
 * budget and months; a CHARGE entry raises each (holder, month)'s spend to
 * its cumulative.  Other entries are ignored.  CAIRN_ERR_SIGNATURE or
 * CAIRN_ERR_FORMAT (naming the index) for a POLICY that does not verify
 * or a node that is not enrolled; CAIRN_ERR_TOOBIG past the caps.
 */
int	query_budgets_note(struct query_budgets *b,
	    const struct keys_federation *fed, uint64_t index,
	    const struct tlog_entry *e) __attribute__((warn_unused_result));

/* The holder 'name' of 'b', or NULL when no POLICY of it is logged. */
const struct query_budget_holder *query_budgets_holder(
	    const struct query_budgets *b, const char *name);

/* What 'holder' has spent on 'month' (YYYYMM), 0 when nothing. */
uint64_t	query_budgets_spent(const struct query_budgets *b,
	    const char *holder, uint32_t month);

/* True when holder 'h' declares it holds 'month' (YYYYMM), or declares
   no months at all (unknown: treated as held). */
bool	query_budget_holds(const struct query_budget_holder *h,
	    uint32_t month);

/* Free what 'b' holds; zeroes it. */
void	query_budgets_release(struct query_budgets *b);

/* ---- GeoJSON output (query/query_geojson.c) ---- */

/* Largest outlines file read. */
#define QUERY_OUTLINES_MAX	((size_t)256 << 20)

/* A geography's outlines: each region's geometry and centroid. */
struct query_outlines;

/*
 * Read the GeoJSON FeatureCollection 'path' (at most QUERY_OUTLINES_MAX
 * bytes; as `cairn synth` writes regions.geojson): one Feature per
 * region with properties.region_id (an integer) and a Polygon or
 * MultiPolygon geometry.  A region listed twice, a feature without an
 * integer region_id or a geometry that is not a (Multi)Polygon of
 * [lon, lat] positions is CAIRN_ERR_FORMAT naming the feature.  '*out'
 * is set on success (query_outlines_free()).  The file may be hostile.
 */
int	query_outlines_load(const char *path, struct query_outlines **out)
	    __attribute__((warn_unused_result));
void	query_outlines_free(struct query_outlines *o);

/*
 * The centroid of region 'id' (the area-weighted centroid of its
 * polygons' outer rings, in degrees) into lon/lat; false when 'o' has no
 * such region.
 */
bool	query_outlines_centroid(const struct query_outlines *o, uint32_t id,
	    double *lon, double *lat);

/*
 * Write the release as a GeoJSON FeatureCollection: its members query_id,
 * kind and privacy as in JSON, then one Feature per cell whose properties
 * are the cell's labels, value, ci95_low and ci95_high.  A cell of one
 * region (presence, residents, visitors, population_by_category) takes the
 * region's outline; a cell of two (od, migration: origin and destination)
 * a LineString from the first region's centroid to the second's (a Point
 * when they are the same region).  Every region of the domain must be in
 * 'o': CAIRN_ERR_ARG naming the first missing one.  Reals are printed the
 * shortest way that reads back exactly.
 */
int	query_geojson_write(FILE *f, const struct query_domain *d,
	    const struct query_release *rel, const int64_t *values, uint64_t n,
	    const struct query_outlines *o) __attribute__((warn_unused_result));

/* `cairn query` (query/cmd_query.c). */
int	cmd_query(int argc, char **argv);

#endif
