/*
 * fuzz_ch_answer.c - what a ClickHouse server sends the node: the answer
 * of a cell statement (TabSeparated rows of numbers, engine_ch_answer_
 * parse()) turned into cells by source.c against a real plan (od over
 * a cell map of three regions and two days: the kind whose rows name two
 * regions and a day), and the same bytes as a clickhouse:// URI
 * (engine_ch_uri_parse()).  The first byte picks the answer's width (1
 * to 4 numbers a row).  Accepted cells must be inside the plan's domain,
 * sorted and unique; an accepted URI must have a host, a port and a
 * database.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "node/engine/source_int.h"
#include "tests/fuzz/util.h"

static struct engine_cellmap	*map;
static struct engine_plan	 plan;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char cells[] = "cell_id,region_id\nc1,0\nc2,7\nc3,"
	    "4294967295\n";
	static const char js[] = "{\"kind\": \"od\", \"start\": "
	    "\"2024-03-30\", \"end\": \"2024-04-01\"}";
	struct qspec q;

	(void)argc;
	(void)argv;
	fz_quiet();
	if (engine_cellmap_load(fz_file("cells.csv", cells, sizeof(cells) -
	    1), &map) != CAIRN_OK ||
	    qspec_parse_json(js, sizeof(js) - 1, "q", &q) != CAIRN_OK ||
	    engine_plan_init(&plan, &q,
	    (uint32_t)engine_cellmap_nregions(map)) != CAIRN_OK)
		abort();
	return 0;
}

static int
count_row(void *arg, size_t shard, const uint64_t *v)
{
	(void)shard;
	(void)v;
	(*(size_t *)arg)++;
	return CAIRN_OK;
}

static int
cell_row(void *arg, size_t shard, const uint64_t *v)
{
	(void)shard;
	return engine_src_rows_add(arg, v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t ncols = 1 + fz_byte(&data, &size) % 4, rows = 0;
	struct engine_src_rows rw;
	struct engine_ch_uri u;
	char *s;

	fz_ignore(engine_ch_answer_parse("fuzz:1", (const char *)data, size,
	    ncols, 0, count_row, &rows));
	memset(&rw, 0, sizeof(rw));
	rw.p = &plan;
	rw.m = map;
	rw.who = "fuzz";
	if (engine_ch_answer_parse("fuzz:1", (const char *)data, size, 4, 0,
	    cell_row, &rw) == CAIRN_OK &&
	    engine_src_rows_sort(&rw) == CAIRN_OK) {
		if (rw.n > plan.ncells)
			abort();
		for (size_t i = 0; i < rw.n; i++)
			if (rw.cells[i].id >= plan.ncells ||
			    (i > 0 && rw.cells[i].id <= rw.cells[i - 1].id))
				abort();
	}
	engine_src_rows_release(&rw);

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (engine_ch_uri_parse(s, &u) == CAIRN_OK &&
	    (u.host[0] == '\0' || u.port == 0 || u.port > 65535 ||
	    u.database[0] == '\0' || u.user[0] == '\0'))
		abort();
	free(s);
	return 0;
}
