/*
 * task_vector.c - the exact vector of a task from the holder's data: the
 * aggregation engine (node/engine/engine.h) over the [source] SQL
 * push-down source when node.conf has one (node/engine/engine_source.h),
 * else the binary store in DATA_DIR/store when one was ingested, else
 * over the [data] cdr files,
 * made dense over the public domain (the geography's regions in the
 * engine's row-major cell order).  population_by_category reads the
 * [data] records files (region-level, with categories) when node.conf
 * lists them.  The domain comes from node.conf's cell map or region list
 * and the spec's categories, never from the data, so every holder of a
 * geography produces vectors of the same length.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>

#include "common/err.h"
#include "common/log.h"
#include "node/daemon.h"
#include "node/engine/engine.h"
#include "node/node_metrics.h"

static bool
store_present(const struct node_config *cfg, char *dir, size_t cap)
{
	char probe[4096 + 16];
	struct stat st;

	snprintf(dir, cap, "%s/store", cfg->data_dir);
	snprintf(probe, sizeof(probe), "%s/regions.bin", dir);
	return stat(probe, &st) == 0 && S_ISREG(st.st_mode);
}

static int
same_domain(const struct engine_cellmap *map, const struct engine_result *res)
{
	size_t n = engine_cellmap_nregions(map);

	if (res->nregions != n || (n > 0 &&
	    memcmp(res->regions, engine_cellmap_regions(map),
	    n * sizeof(uint32_t)) != 0))
		return cairn_err(CAIRN_ERR_CONFIG, "the store's %zu regions "
		    "are not the %zu regions of node.conf's domain; ingest "
		    "again with the geography's cell map", res->nregions, n);
	return CAIRN_OK;
}

int
node_task_domain(void *ctx, const struct qspec *q, const char *geography,
    uint64_t *n)
{
	const struct node_config *cfg = ctx;
	struct engine_cellmap *map = NULL;
	uint64_t want;
	int r;

	if (strcmp(geography, cfg->geography) != 0)
		return cairn_err(CAIRN_ERR_POLICY, "geography '%s' is not this "
		    "node's ('%s')", geography, cfg->geography);
	if ((r = cfg->regions != NULL ? engine_regions_load(cfg->regions, &map)
	    :
	    engine_cellmap_load(cfg->cells, &map)) != CAIRN_OK)
		return r;
	want = qspec_domain_cells(q, engine_cellmap_nregions(map), q->ncats);
	engine_cellmap_free(map);
	if (want == 0)
		return cairn_err(CAIRN_ERR_INTERNAL, "query domain of 0 cells");
	*n = want;
	return CAIRN_OK;
}

int
node_task_vector(void *ctx, const struct qspec *q, const char *geography,
    int64_t **cells, uint64_t *n)
{
	const struct node_config *cfg = ctx;
	struct engine_cellmap *map = NULL, *rmap = NULL;
	struct engine_store *st = NULL;
	struct engine_report rep;
	struct engine_result res;
	struct engine_input in;
	struct engine_source src;
	char **paths = NULL, dir[4096];
	size_t npaths = 0;
	uint64_t want, i;
	int64_t *v = NULL;
	struct timespec t0, t1;
	int r;

	memset(&rep, 0, sizeof(rep));
	memset(&res, 0, sizeof(res));
	if (strcmp(geography, cfg->geography) != 0)
		return cairn_err(CAIRN_ERR_POLICY, "geography '%s' is not this "
		    "node's ('%s')", geography, cfg->geography);
	if ((r = cfg->regions != NULL ? engine_regions_load(cfg->regions, &map)
	    :
	    engine_cellmap_load(cfg->cells, &map)) != CAIRN_OK)
		return r;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (q->kind == QSPEC_KIND_POPCAT && cfg->records.n > 0) {
		/* Region-level records beside the CDRs, over the same
		 * regions: the geography's. */
		if ((r = engine_regions_from_ids(engine_cellmap_regions(map),
		    engine_cellmap_nregions(map), &rmap)) != CAIRN_OK ||
		    (r = engine_expand_paths(cfg->records.v, cfg->records.n,
		    &paths, &npaths)) != CAIRN_OK)
			goto out;
		memset(&in, 0, sizeof(in));
		in.paths = paths;
		in.npaths = npaths;
		in.cells = rmap;
		in.max_bad_fraction = cfg->max_bad_fraction;
		if ((r = engine_run_csv(q, &in, &rep, &res)) != CAIRN_OK)
			goto out;
	} else if (node_config_source(cfg, &src)) {
		if ((r = engine_run_source(q, &src, map, cfg->stop, &res)) !=
		    CAIRN_OK)
			goto out;
		log_info("exact vector from the [source] database: %zu "
		    "non-zero cells read back", res.nnz);
	} else if (store_present(cfg, dir, sizeof(dir))) {
		if ((r = engine_store_open(dir, &st)) != CAIRN_OK ||
		    (r = engine_run_store(q, st, 0, &res)) != CAIRN_OK ||
		    (r = same_domain(map, &res)) != CAIRN_OK)
			goto out;
	} else {
		if ((r = engine_expand_paths(cfg->cdr.v, cfg->cdr.n, &paths,
		    &npaths)) != CAIRN_OK)
			goto out;
		memset(&in, 0, sizeof(in));
		in.paths = paths;
		in.npaths = npaths;
		in.cells = map;
		in.max_bad_fraction = cfg->max_bad_fraction;
		if ((r = engine_run_csv(q, &in, &rep, &res)) != CAIRN_OK)
			goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	node_metrics_engine((double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, &rep);
	want = qspec_domain_cells(q, engine_cellmap_nregions(map), res.ncats);
	if (res.ncells != want || want == 0) {
		r = cairn_err(CAIRN_ERR_INTERNAL, "engine domain of %llu "
		    "cells, expected %llu", (unsigned long long)res.ncells,
		    (unsigned long long)want);
		goto out;
	}
	if (want > (uint64_t)SIZE_MAX / sizeof(*v) ||
	    (v = calloc((size_t)want, sizeof(*v))) == NULL) {
		r = cairn_err(CAIRN_ERR_NOMEM, "vector of %llu cells",
		    (unsigned long long)want);
		goto out;
	}
	for (i = 0; i < res.nnz; i++) {
		if (res.cells[i].id >= want ||
		    res.cells[i].count > (uint64_t)INT64_MAX) {
			r = cairn_err(CAIRN_ERR_INTERNAL, "engine cell %llu "
			    "out of the domain",
			    (unsigned long long)res.cells[i].id);
			goto out;
		}
		v[res.cells[i].id] = (int64_t)res.cells[i].count;
	}
	/* No exact count (subjects, cells' values) in a log line. */
	log_debug("exact vector: %llu cells, engine %.6f s",
	    (unsigned long long)want,
	    (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	if (res.other_cat > 0)
		log_info("%llu events in the window are under categories "
		    "outside the query's list and were not counted",
		    (unsigned long long)res.other_cat);
	*cells = v;
	*n = want;
	v = NULL;
	r = CAIRN_OK;
out:
	if (v != NULL) {
		sodium_memzero(v, (size_t)want * sizeof(*v));
		free(v);
	}
	engine_result_release(&res);
	engine_report_release(&rep);
	engine_paths_free(paths, npaths);
	engine_store_close(st);
	engine_cellmap_free(map);
	engine_cellmap_free(rmap);
	return r;
}
