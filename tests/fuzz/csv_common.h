/*
 * csv_common.h - the event-file harnesses' shared body: the input is one
 * CSV file (plain or gzip) run through engine_check_data() and engine_run_csv()
 * over a fixed domain, with a query kind picked by the input's length, and
 * split between two threads at a small boundary so the split code runs.
 */
#ifndef CAIRN_FUZZ_CSV_COMMON_H
#define CAIRN_FUZZ_CSV_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "node/engine/engine.h"

/* Run one input over the domain 'map'. */
void	fz_csv_run(const struct engine_cellmap *map, const uint8_t *data,
	    size_t size);

#endif
