/*
 * fuzz_cdr_csv.c - CDR files ("subscriber_id,timestamp,cell_id") read by
 * the node's engine (node/engine/ingest_csv.c) over a small fixed cell map.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "node/engine/engine.h"
#include "tests/fuzz/csv_common.h"
#include "tests/fuzz/util.h"

static struct engine_cellmap *map;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char cells[] = "cell_id,region_id\nc1,1\nc2,1\nc3,2\n"
	    "c4,10\nA-0001,2\n";

	(void)argc;
	(void)argv;
	fz_quiet();
	if (engine_cellmap_load(fz_file("cells.csv", cells, strlen(cells)),
	    &map) != CAIRN_OK)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_csv_run(map, data, size);
	return 0;
}
