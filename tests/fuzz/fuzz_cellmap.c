/*
 * fuzz_cellmap.c - region domains: the node's cell map ("cell_id,
 * region_id"), its region list ("region_id[,...]") and the coordinator's
 * geography region file, all from the same bytes.  A loaded map must
 * answer lookups of its own regions.
 */
#include <stdio.h>
#include <stdlib.h>

#include "common/err.h"
#include "coordinator/coord_int.h"
#include "node/engine/engine.h"
#include "tests/fuzz/util.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	return 0;
}

static void
check(const struct engine_cellmap *m)
{
	const uint32_t *ids = engine_cellmap_regions(m);
	size_t n = engine_cellmap_nregions(m);
	uint32_t ridx;

	for (size_t i = 0; i < n; i++) {
		if (i > 0 && ids[i] <= ids[i - 1])
			abort();
		if (!engine_region_index(m, ids[i], &ridx) || ridx != i)
			abort();
	}
	(void)engine_cellmap_lookup(m, "c1", 2, &ridx);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct engine_cellmap *m;
	const char *p = fz_file("map.csv", data, size);
	uint64_t n;

	if (engine_cellmap_load(p, &m) == CAIRN_OK) {
		check(m);
		engine_cellmap_free(m);
	}
	if (engine_regions_load(p, &m) == CAIRN_OK) {
		check(m);
		engine_cellmap_free(m);
	}
	fz_ignore(coord_regions_count(p, &n));
	return 0;
}
