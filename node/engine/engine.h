/*
 * engine.h - the node's aggregation engine: cell maps, the CSV
 * reader with its bad-row accounting, the binary store, and the exact
 * per-kind aggregation of DESIGN §4 (see docs/queries.md, docs/data.md).
 *
 * Flow: qspec_load_json() reads a spec; engine_cellmap_load() (or
 * engine_regions_load()) gives the region domain; engine_run_csv() or
 * engine_run_store() computes a struct engine_result, whose cells are printed
 * by engine_result_write().  Every input file may be hostile.
 */
#ifndef CAIRN_NODE_ENGINE_H
#define CAIRN_NODE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "protocol/qspec.h"

/* Query specs are protocol/qspec.h's struct qspec (docs/queries.md). */

/* ---- cell maps and region domains ---- */

struct engine_cellmap;

/* Longest cell, subscriber, entity or category field, in bytes. */
#define ENGINE_MAX_FIELD		128
/* Most cells in a map, most regions in a domain. */
#define ENGINE_MAX_CELLS		(1u << 24)
#define ENGINE_MAX_REGIONS	(1u << 20)

/*
 * Load a cell map, CSV with header "cell_id,region_id" (region ids are
 * integers in [0, 2^32)).  A malformed line, a duplicate cell or a bad
 * region id is CAIRN_ERR_FORMAT naming "file:line: field".  On success
 * '*out' owns the map (engine_cellmap_free()).
 */
int	engine_cellmap_load(const char *path, struct engine_cellmap **out)
	    __attribute__((warn_unused_result));
/*
 * Load a region list, CSV with header starting "region_id" (further
 * columns such as a name are ignored), as a map without cells: the domain
 * for region-level inputs.
 */
int	engine_regions_load(const char *path, struct engine_cellmap **out)
	    __attribute__((warn_unused_result));
/* Build a map without cells over the 'n' region ids 'ids' (any order). */
int	engine_regions_from_ids(const uint32_t *ids, size_t n,
	    struct engine_cellmap **out) __attribute__((warn_unused_result));
void	engine_cellmap_free(struct engine_cellmap *m);
/* Number of regions, and their ids in ascending order (borrowed). */
size_t	engine_cellmap_nregions(const struct engine_cellmap *m);
const uint32_t	*engine_cellmap_regions(const struct engine_cellmap *m);
size_t	engine_cellmap_ncells(const struct engine_cellmap *m);
/*
 * Cell 'i' (0 <= i < engine_cellmap_ncells()): its id, not NUL-terminated
 * ('*len' bytes), and its region id in '*region'.
 */
const char	*engine_cellmap_cell(const struct engine_cellmap *m, size_t i,
	    size_t *len, uint32_t *region);
/* Index (into the sorted ids) of the region of cell 'cell'. */
bool	engine_cellmap_lookup(const struct engine_cellmap *m, const char *cell,
	    size_t len, uint32_t *ridx);
/* Index of the region id 'id'. */
bool	engine_region_index(const struct engine_cellmap *m, uint32_t id,
	    uint32_t *ridx);

/* ---- input files and the bad-row report ---- */

enum engine_bad {
	ENGINE_BAD_FIELDS,	/* wrong number of fields */
	ENGINE_BAD_TIMESTAMP,	/* neither ISO-8601 nor epoch, or range */
	ENGINE_BAD_CELL,		/* cell id not in the cell map */
	ENGINE_BAD_REGION,	/* region id not an integer of the domain */
	ENGINE_BAD_EMPTY_ID,	/* empty subscriber/entity id */
	ENGINE_BAD_EMPTY_FIELD,	/* empty cell id or category */
	ENGINE_BAD_LONG_FIELD,	/* a field over ENGINE_MAX_FIELD bytes */
	ENGINE_BAD_ENCODING,	/* invalid UTF-8 or a NUL byte */
	ENGINE_BAD_QUOTING,	/* unbalanced or misplaced quotes */
	ENGINE_BAD_BLANK,		/* empty line */
	ENGINE_BAD_LONG_LINE,	/* a line over ENGINE_MAX_LINE bytes */
	ENGINE_BAD__N
};
#define ENGINE_MAX_LINE		65536
#define ENGINE_EXAMPLES		5

/* Short text of a reason ("bad timestamp"). */
const char	*engine_bad_name(enum engine_bad reason);

enum engine_format {
	ENGINE_FMT_CDR,		/* subscriber_id,timestamp,cell_id */
	ENGINE_FMT_REGION,	/* entity_id,timestamp,region_id */
	ENGINE_FMT_REGION_CAT	/* entity_id,timestamp,region_id,category */
};

struct engine_example {
	uint64_t	line;
	enum engine_bad	reason;
};

struct engine_file_report {
	char		*path;
	enum engine_format format;
	uint64_t	 rows;		/* data lines (header excluded) */
	uint64_t	 good;		/* rows accepted */
	uint64_t	 outside;	/* good rows outside the window */
	uint64_t	 other_cat;	/* good rows in the window whose
					   category is not in the query's
					   list */
	uint64_t	 bad[ENGINE_BAD__N];
	uint64_t	 nbad;
	struct engine_example examples[ENGINE_EXAMPLES];
	size_t		 nexamples;
	bool		 refused;	/* bad share over the limit */
	bool		 digested;	/* 'digest' is set (store ingest of a
					   compressed file or a stream) */
	uint8_t		 digest[32];	/* of the content (engine_int.h) */
};

struct engine_report {
	struct engine_file_report	*files;
	size_t			 nfiles;
};

void	engine_report_release(struct engine_report *r);
/*
 * Print 'r' to 'f': per file the row counts, counts by reason and the
 * first examples as "file:line: reason".
 */
void	engine_report_print(const struct engine_report *r, FILE *f);

/*
 * Expand paths: a directory means all its *.csv, *.csv.gz and *.csv.zst,
 * sorted; "-" (standard input) is kept as it is.
 */
int	engine_expand_paths(char *const *paths, size_t n, char ***out,
	    size_t *nout) __attribute__((warn_unused_result));
void	engine_paths_free(char **v, size_t n);

struct engine_input {
	char *const	*paths;		/* expanded files */
	size_t		 npaths;
	const struct engine_cellmap *cells;	/* the region domain */
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
int	engine_check_data(const struct engine_input *in,
	    struct engine_report *rep)
	    __attribute__((warn_unused_result));

/* ---- results ---- */

struct engine_cell {
	uint64_t	id;		/* row-major index in the domain */
	uint64_t	count;
};

struct engine_result {
	struct qspec query;
	size_t		 nregions;
	uint32_t	*regions;	/* region ids, ascending */
	size_t		 ndays;		/* days of the time axis */
	int64_t		 day0;		/* its first day */
	size_t		 nbuckets;	/* presence: days or hours;
					   displacement: observation days */
	size_t		 ncats;
	char		**cats;		/* the spec's categories, bytewise */
	uint64_t	 ncells;	/* size of the domain */
	struct engine_cell *cells;	/* non-zero cells, ascending id */
	size_t		 nnz;
	uint64_t	 subjects;	/* subscribers/entities seen */
	uint64_t	 other_cat;	/* events in the window under a
					   category outside the query's list,
					   not counted */
};

void	engine_result_release(struct engine_result *res);
/* Count of cell 'id' (0 when absent). */
uint64_t engine_result_get(const struct engine_result *res, uint64_t id);

/*
 * Run 'q' over the CSV input 'in'.  'rep' receives the bad-row report
 * (also on failure, as far as reading got).  A file whose bad share is
 * over in->max_bad_fraction fails the run with CAIRN_ERR_FORMAT.
 */
int	engine_run_csv(const struct qspec *q, const struct engine_input *in,
	    struct engine_report *rep, struct engine_result *res)
	    __attribute__((warn_unused_result));

/* ---- the binary store (node/engine/store.c; docs/data.md) ---- */

struct engine_store;

/*
 * Ingest the CSV input 'in' into the store in 'dir' (created 0700 if
 * absent): a new segment, subscriber ids replaced by dense indexes under a
 * keyed hash whose key (libsodium random) lives in 'dir' as a 0600 file.
 * The store keeps one region domain; a cell map over other regions is
 * refused.  A refused file fails the ingest and writes nothing.  So does
 * an input whose records the store holds already, or that this ingest
 * repeats (by content: compressed or not, from a file or a pipe;
 * CAIRN_ERR_EXISTS naming both, store_inputs.c).
 */
int	engine_store_ingest(const char *dir, const struct engine_input *in,
	    struct engine_report *rep) __attribute__((warn_unused_result));
/*
 * Remove from the store in 'dir' every event before 'before_minute' (UTC
 * minutes since the epoch): each segment holding one is rewritten without
 * it (write, fsync, rename; its name kept, so the inputs it holds stay
 * ingested and a pruned month is not ingested again).  '*removed' and
 * '*kept' count events, '*rewritten' segments.  Errors of
 * engine_store_open() and of writing.
 */
int	engine_store_prune(const char *dir, uint32_t before_minute,
	    uint64_t *removed, uint64_t *kept, size_t *rewritten)
	    __attribute__((warn_unused_result));
int	engine_store_open(const char *dir, struct engine_store **out)
	    __attribute__((warn_unused_result));
void	engine_store_close(struct engine_store *st);
/* Subscribers and events held, for reports. */
void	engine_store_stats(const struct engine_store *st, uint64_t *subjects,
	    uint64_t *events, size_t *segments);
/* Run 'q' over the store; 'threads' as in struct engine_input. */
int	engine_run_store(const struct qspec *q, const struct engine_store *st,
	    unsigned threads, struct engine_result *res)
	    __attribute__((warn_unused_result));

/* ---- output (node/engine/output.c) ---- */

enum engine_out_format { ENGINE_OUT_CSV, ENGINE_OUT_JSON };

/* Optional noise added to every cell (noisy mode). */
struct engine_noise {
	const int64_t	*noise;		/* one per domain cell */
	double		 rho, epsilon, delta;
	double		 sigma2;	/* released variance */
	uint64_t	 ci95;		/* 95% interval half-width */
};

/* The CSV header of a kind ("region,bucket,count"). */
const char	*engine_kind_header(enum qspec_kind kind);
/*
 * Write 'res' to 'f': the exact counts (zero cells omitted unless
 * 'dense'), or when 'noise' is set every cell with its noisy value and
 * interval.  Returns CAIRN_OK or CAIRN_ERR_IO.
 */
int	engine_result_write(const struct engine_result *res,
	    enum engine_out_format fmt, bool dense,
	    const struct engine_noise *noise, FILE *f)
	    __attribute__((warn_unused_result));

#endif
