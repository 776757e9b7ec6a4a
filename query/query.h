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
#include "protocol/qspec.h"

struct transport_client;

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

/* The public output domain of a query: what each cell index means. */
struct query_domain {
	struct qspec	 spec;
	const uint32_t	*regions;	/* sorted ids, borrowed */
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

/* `cairn query` (query/cmd_query.c). */
int	cmd_query(int argc, char **argv);

#endif
