/*
 * node.h - the node's aggregation engine: cell maps, the CSV
 * reader with its bad-row accounting, the binary store, and the exact
 * per-kind aggregation of DESIGN §4 (see docs/queries.md, docs/data.md).
 *
 * Flow: qspec_load_json() reads a spec; node_cellmap_load() (or
 * node_regions_load()) gives the region domain; node_run_csv() or
 * node_run_store() computes a struct node_result, whose cells are printed
 * by node_result_write().  Every input file may be hostile.
 */
#ifndef CAIRN_NODE_H
#define CAIRN_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "protocol/qspec.h"

/* Query specs are protocol/qspec.h's struct qspec (docs/queries.md). */

/* ---- cell maps and region domains ---- */

struct node_cellmap;

/* Longest cell, subscriber, entity or category field, in bytes. */
#define NODE_MAX_FIELD		128
/* Most cells in a map, most regions in a domain. */
#define NODE_MAX_CELLS		(1u << 24)
#define NODE_MAX_REGIONS	(1u << 20)

/*
 * Load a cell map, CSV with header "cell_id,region_id" (region ids are
 * integers in [0, 2^32)).  A malformed line, a duplicate cell or a bad
 * region id is CAIRN_ERR_FORMAT naming "file:line: field".  On success
 * '*out' owns the map (node_cellmap_free()).
 */
int	node_cellmap_load(const char *path, struct node_cellmap **out)
	    __attribute__((warn_unused_result));
/*
 * Load a region list, CSV with header starting "region_id" (further
 * columns such as a name are ignored), as a map without cells: the domain
 * for region-level inputs.
 */
int	node_regions_load(const char *path, struct node_cellmap **out)
	    __attribute__((warn_unused_result));
/* Build a map without cells over the 'n' region ids 'ids' (any order). */
int	node_regions_from_ids(const uint32_t *ids, size_t n,
	    struct node_cellmap **out) __attribute__((warn_unused_result));
void	node_cellmap_free(struct node_cellmap *m);
/* Number of regions, and their ids in ascending order (borrowed). */
size_t	node_cellmap_nregions(const struct node_cellmap *m);
const uint32_t	*node_cellmap_regions(const struct node_cellmap *m);
size_t	node_cellmap_ncells(const struct node_cellmap *m);
/* Index (into the sorted ids) of the region of cell 'cell'. */
bool	node_cellmap_lookup(const struct node_cellmap *m, const char *cell,
	    size_t len, uint32_t *ridx);
/* Index of the region id 'id'. */
bool	node_region_index(const struct node_cellmap *m, uint32_t id,
	    uint32_t *ridx);

/* ---- input files and the bad-row report ---- */

enum node_bad {
	NODE_BAD_FIELDS,	/* wrong number of fields */
	NODE_BAD_TIMESTAMP,	/* neither ISO-8601 nor epoch, or range */
	NODE_BAD_CELL,		/* cell id not in the cell map */
	NODE_BAD_REGION,	/* region id not an integer of the domain */
	NODE_BAD_EMPTY_ID,	/* empty subscriber/entity id */
	NODE_BAD_EMPTY_FIELD,	/* empty cell id or category */
	NODE_BAD_LONG_FIELD,	/* a field over NODE_MAX_FIELD bytes */
	NODE_BAD_ENCODING,	/* invalid UTF-8 or a NUL byte */
	NODE_BAD_QUOTING,	/* unbalanced or misplaced quotes */
	NODE_BAD_BLANK,		/* empty line */
	NODE_BAD_LONG_LINE,	/* a line over NODE_MAX_LINE bytes */
	NODE_BAD__N
};
#define NODE_MAX_LINE		65536
#define NODE_EXAMPLES		5

/* Short text of a reason ("bad timestamp"). */
const char	*node_bad_name(enum node_bad reason);

enum node_format {
	NODE_FMT_CDR,		/* subscriber_id,timestamp,cell_id */
	NODE_FMT_REGION,	/* entity_id,timestamp,region_id */
	NODE_FMT_REGION_CAT	/* entity_id,timestamp,region_id,category */
};

struct node_example {
	uint64_t	line;
	enum node_bad	reason;
};

struct node_file_report {
	char		*path;
	enum node_format format;
	uint64_t	 rows;		/* data lines (header excluded) */
	uint64_t	 good;		/* rows accepted */
	uint64_t	 outside;	/* good rows outside the window */
	uint64_t	 other_cat;	/* good rows in the window whose category
					   is not in the query's list */
	uint64_t	 bad[NODE_BAD__N];
	uint64_t	 nbad;
	struct node_example examples[NODE_EXAMPLES];
	size_t		 nexamples;
	bool		 refused;	/* bad share over the limit */
};

struct node_report {
	struct node_file_report	*files;
	size_t			 nfiles;
};

void	node_report_release(struct node_report *r);
/*
 * Print 'r' to 'f': per file the row counts, counts by reason and the
 * first examples as "file:line: reason".
 */
void	node_report_print(const struct node_report *r, FILE *f);

/* Expand paths: a directory means all its *.csv and *.csv.gz, sorted. */
int	node_expand_paths(char *const *paths, size_t n, char ***out,
	    size_t *nout) __attribute__((warn_unused_result));
void	node_paths_free(char **v, size_t n);

struct node_input {
	char *const	*paths;		/* expanded files */
	size_t		 npaths;
	const struct node_cellmap *cells;	/* the region domain */
	double		 max_bad_fraction; /* refuse a file above */
	unsigned	 threads;		/* 0: all online CPUs, max 8 */
	uint64_t	 split_bytes;	/* split files over this between
					   threads; 0: 1 MiB */
	uint32_t	 max_subjects;	/* most distinct subscribers/entities
					   read; 0: 2^32 - 2 */
	unsigned	 part_bits;	/* queries from CSV: rows grouped in
					   2^part_bits partitions; 0: 512 */
};

/*
 * Read every file of 'in' and fill 'rep' without running a query.
 * Returns CAIRN_OK (even when files would be refused: see rep->files[i]
 * .refused), or an error for an unreadable file or bad header.
 */
int	node_check_data(const struct node_input *in, struct node_report *rep)
	    __attribute__((warn_unused_result));

/* ---- results ---- */

struct node_cell {
	uint64_t	id;		/* row-major index in the domain */
	uint64_t	count;
};

struct node_result {
	struct qspec query;
	size_t		 nregions;
	uint32_t	*regions;	/* region ids, ascending */
	size_t		 ndays;		/* days of the time axis */
	int64_t		 day0;		/* its first day */
	size_t		 nbuckets;	/* presence: days or hours */
	size_t		 ncats;
	char		**cats;		/* the spec's categories, bytewise */
	uint64_t	 ncells;	/* size of the domain */
	struct node_cell *cells;	/* non-zero cells, ascending id */
	size_t		 nnz;
	uint64_t	 subjects;	/* subscribers/entities seen */
	uint64_t	 other_cat;	/* events in the window under a category
					   outside the query's list, not counted */
};

void	node_result_release(struct node_result *res);
/* Count of cell 'id' (0 when absent). */
uint64_t node_result_get(const struct node_result *res, uint64_t id);

/*
 * Run 'q' over the CSV input 'in'.  'rep' receives the bad-row report
 * (also on failure, as far as reading got).  A file whose bad share is
 * over in->max_bad_fraction fails the run with CAIRN_ERR_FORMAT.
 */
int	node_run_csv(const struct qspec *q, const struct node_input *in,
	    struct node_report *rep, struct node_result *res)
	    __attribute__((warn_unused_result));

/* ---- the binary store (node/store.c; docs/data.md) ---- */

struct node_store;

/*
 * Ingest the CSV input 'in' into the store in 'dir' (created 0700 if
 * absent): a new segment, subscriber ids replaced by dense indexes under a
 * keyed hash whose key (libsodium random) lives in 'dir' as a 0600 file.
 * The store keeps one region domain; a cell map over other regions is
 * refused.  A refused file fails the ingest and writes nothing.
 */
int	node_store_ingest(const char *dir, const struct node_input *in,
	    struct node_report *rep) __attribute__((warn_unused_result));
int	node_store_open(const char *dir, struct node_store **out)
	    __attribute__((warn_unused_result));
void	node_store_close(struct node_store *st);
/* Subscribers and events held, for reports. */
void	node_store_stats(const struct node_store *st, uint64_t *subjects,
	    uint64_t *events, size_t *segments);
/* Run 'q' over the store; 'threads' as in struct node_input. */
int	node_run_store(const struct qspec *q, const struct node_store *st,
	    unsigned threads, struct node_result *res)
	    __attribute__((warn_unused_result));

/* ---- output (node/output.c) ---- */

enum node_out_format { NODE_OUT_CSV, NODE_OUT_JSON };

/* Optional noise added to every cell (noisy mode). */
struct node_noise {
	const int64_t	*noise;		/* one per domain cell */
	double		 rho, epsilon, delta;
	double		 sigma2;	/* released variance */
	uint64_t	 ci95;		/* 95% interval half-width */
};

/* The CSV header of a kind ("region,bucket,count"). */
const char	*node_kind_header(enum qspec_kind kind);
/*
 * Write 'res' to 'f': the exact counts (zero cells omitted unless
 * 'dense'), or when 'noise' is set every cell with its noisy value and
 * interval.  Returns CAIRN_OK or CAIRN_ERR_IO.
 */
int	node_result_write(const struct node_result *res,
	    enum node_out_format fmt, bool dense,
	    const struct node_noise *noise, FILE *f)
	    __attribute__((warn_unused_result));

/* ---- subcommands (node/cmd_*.c) ---- */

int	node_cmd_run_local(int argc, char **argv);
int	node_cmd_check_data(int argc, char **argv);
int	node_cmd_ingest(int argc, char **argv);

#endif
