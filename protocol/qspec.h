/*
 * qspec.h - the query specification (docs/queries.md): what a query asks,
 * parsed and checked the same way whether it arrives as the analyst's
 * JSON file or as the QuerySpec message of cairn.proto.
 *
 * Days are local calendar days (days since 1970-01-01 of local time =
 * UTC + utc_offset_min).  Fields a kind does not use are refused, missing
 * required ones are errors naming the field; every input may be hostile.
 */
#ifndef CAIRN_QSPEC_H
#define CAIRN_QSPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "privacy/dp.h"
#include "protocol/cairn.pb-c.h"

enum qspec_kind {
	QSPEC_KIND_PRESENCE,
	QSPEC_KIND_RESIDENTS,
	QSPEC_KIND_OD,
	QSPEC_KIND_MIGRATION,
	QSPEC_KIND_VISITORS,
	QSPEC_KIND_POPCAT,	/* population_by_category */
	QSPEC_KIND_DISPLACEMENT,
	QSPEC_KIND__N
};

/* Most categories of population_by_category, and the longest (bytes). */
#define QSPEC_MAX_CATS		64
#define QSPEC_MAX_CAT_LEN	63

struct qspec {
	enum qspec_kind	kind;
	int64_t		start, end;	/* local days since epoch, [start, end);
					   displacement: the observation days */
	int32_t		utc_offset_min;	/* local time = UTC + offset */
	bool		bucket_hour;	/* presence: hour buckets, else days */
	uint32_t	k;		/* presence, visitors: top-k regions */
	unsigned	night_start;	/* night: hour >= start or < end */
	unsigned	night_end;
	/* residents: a subscriber counts only when seen at night on at
	   least this many nights of the window (QSPEC_MIN_NIGHTS_DEFAULT) */
	uint32_t	min_nights;
	int64_t		base[2];	/* migration, displacement: baseline
					   [from, to) */
	int64_t		comp[2];	/* migration: comparison [from, to) */
	/* population_by_category: the public category domain, distinct,
	   sorted bytewise (the order of the output's category axis) */
	uint32_t	ncats;
	char		cats[QSPEC_MAX_CATS][QSPEC_MAX_CAT_LEN + 1];
};

/*
 * residents' min_nights when the spec leaves it out: 1, a home from any
 * night (DESIGN §4 asks for a minimum number of nights and names no
 * number; docs/queries.md says why 1).
 */
#define QSPEC_MIN_NIGHTS_DEFAULT	1

/* Longest spec file accepted. */
#define QSPEC_MAX_JSON	65536
/* Widest window a query may read, in days. */
#define QSPEC_MAX_DAYS	2730
/* Most data-months one query can read (QSPEC_MAX_DAYS + 2 days). */
#define QSPEC_MAX_MONTHS	92

/* The kind's name as written in specs ("population_by_category"). */
const char	*qspec_kind_name(enum qspec_kind kind);
/* The kind named 's'; false when there is none. */
bool	qspec_kind_parse(const char *s, enum qspec_kind *out);

/*
 * Parse the JSON spec 'text' of 'len' bytes; 'name' (a file name) starts
 * error details ("q.json: field 'k': ...").  A field the kind does not
 * use, an unknown field, a missing required field or a bad value is
 * CAIRN_ERR_FORMAT with the field named.  Fills 'q' on success only.
 */
int	qspec_parse_json(const char *text, size_t len, const char *name,
	    struct qspec *q) __attribute__((warn_unused_result));
/* Read the file 'path' (at most QSPEC_MAX_JSON bytes) and parse it. */
int	qspec_load_json(const char *path, struct qspec *q)
	    __attribute__((warn_unused_result));
/* Write 'q' as a JSON object (canonical field order) to 'f'. */
void	qspec_write_json(const struct qspec *q, FILE *f);

/*
 * Check and convert the QuerySpec message 'pb' (from a peer) with the same
 * rules as the JSON; 'name' starts error details.  Absent means the empty
 * string, zero or an unset sub-message, as proto3 decodes it; the
 * message's geography is not part of 'q' and is not checked here.
 * Returns CAIRN_OK (and fills 'q') or CAIRN_ERR_FORMAT naming the field.
 */
int	qspec_from_proto(const Cairn__V1__QuerySpec *pb, const char *name,
	    struct qspec *q) __attribute__((warn_unused_result));

/*
 * Fill 'pb' (initialised by the caller with cairn__v1__query_spec__init)
 * from 'q'.  Strings point into 'bufs' (the caller's, alive as long as
 * 'pb'); 'night', 'base' and 'comp' are the caller's sub-messages, linked
 * in only when the kind uses them.  'geography' is borrowed.
 */
struct qspec_proto_bufs {
	char			 start[11], end[11];
	char			 base[2][11], comp[2][11];
	Cairn__V1__NightHours	 night;
	Cairn__V1__DateRange	 baseline, comparison;
	char			*cats[QSPEC_MAX_CATS];
};
void	qspec_to_proto(const struct qspec *q, const char *geography,
	    Cairn__V1__QuerySpec *pb, struct qspec_proto_bufs *bufs);

/*
 * The index of category 'cat' ('len' bytes, untrusted) in q->cats, or -1
 * when it is not in the query's category domain.
 */
int	qspec_cat_index(const struct qspec *q, const char *cat, size_t len);

/* The first and one-past-last local day the query reads. */
void	qspec_span(const struct qspec *q, int64_t *d0, int64_t *d1);

/*
 * The query as the privacy accountant sees it (privacy/dp.h), for a
 * federation where a person may be at up to 'holders' holders.  Fills
 * '*out'; CAIRN_ERR_ARG for holders 0 or a kind outside the enum.
 */
int	qspec_dp_query(const struct qspec *q, uint32_t holders,
	    struct dp_query *out) __attribute__((warn_unused_result));

/*
 * The UTC calendar months of data the query reads and is charged for (the
 * privacy unit is a subscriber per UTC data-month): exactly the months of
 * dp_requirement(), those whose records can change the output (so not a
 * month in the gap between migration's two windows), as year·12 + month
 * − 1, ascending, into 'months' (room for QSPEC_MAX_MONTHS).  Returns how
 * many; 0 for a spec that dp_requirement() refuses, which among parsed
 * specs is only a window starting on 0000-01-01.
 */
size_t	qspec_months(const struct qspec *q, int32_t months[QSPEC_MAX_MONTHS]);

/*
 * The number of time buckets B of the kind's sensitivity (docs/privacy.md,
 * dp_sensitivity()): presence its days or hours; od and visitors its days
 * (od's sensitivity counts the B − 1 day pairs); displacement its
 * observation days; 1 for the kinds with one cell per subscriber.
 */
uint64_t qspec_buckets(const struct qspec *q);

/*
 * Cells of the output domain over 'nregions' regions: presence regions ×
 * buckets, residents regions, od (days − 1) × regions², migration
 * regions², visitors regions × days, population_by_category regions ×
 * the spec's categories (q->ncats; 'ncats' only counts for a spec built
 * in memory without them), displacement regions (home) × observation
 * days × (regions + 1) (the day region, or not seen last).  This is the
 * length of the vector a node contributes, before the check cell; it
 * depends on public inputs only.
 */
uint64_t qspec_domain_cells(const struct qspec *q, uint64_t nregions,
	    uint64_t ncats);

#endif
