/*
 * fuzz_region_csv.c - region-level files ("entity_id,timestamp,region_id"
 * with an optional category column) read by the node's engine over a
 * region domain without cells.
 */
#include <stdio.h>
#include <stdlib.h>

#include "common/err.h"
#include "node/engine/engine.h"
#include "tests/fuzz/csv_common.h"
#include "tests/fuzz/util.h"

static struct engine_cellmap *map;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const uint32_t ids[] = { 10, 1, 2, 4294967295u };

	(void)argc;
	(void)argv;
	fz_quiet();
	if (engine_regions_from_ids(ids, sizeof(ids) / sizeof(ids[0]), &map)
	    != CAIRN_OK)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_csv_run(map, data, size);
	return 0;
}
