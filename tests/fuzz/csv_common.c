/*
 * csv_common.c - see csv_common.h.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "protocol/qspec.h"
#include "tests/fuzz/csv_common.h"
#include "tests/fuzz/util.h"

static const char *const specs[] = {
	"{\"kind\":\"presence\",\"start\":\"2026-01-05\","
	    "\"end\":\"2026-01-07\",\"bucket\":\"hour\",\"k\":1}",
	"{\"kind\":\"residents\",\"start\":\"2026-01-05\","
	    "\"end\":\"2026-01-08\"}",
	"{\"kind\":\"od\",\"start\":\"2026-01-05\",\"end\":\"2026-01-08\"}",
	"{\"kind\":\"migration\",\"baseline\":[\"2026-01-01\",\"2026-01-05\"],"
	    "\"comparison\":[\"2026-01-05\",\"2026-01-09\"]}",
	"{\"kind\":\"visitors\",\"start\":\"2026-01-05\","
	    "\"end\":\"2026-01-08\",\"k\":1}",
	"{\"kind\":\"population_by_category\",\"start\":\"2026-01-05\","
	    "\"end\":\"2026-01-08\",\"categories\":[\"a\",\"b\",\"c\"]}",
};
#define NSPECS	(sizeof(specs) / sizeof(specs[0]))

void
fz_csv_run(const struct engine_cellmap *map, const uint8_t *data, size_t size)
{
	static struct qspec q[NSPECS];
	static int parsed;
	struct engine_report rep;
	struct engine_result res;
	struct engine_input in;
	char *paths[1];
	const char *p;
	size_t k;

	if (!parsed) {
		for (k = 0; k < NSPECS; k++)
			if (qspec_parse_json(specs[k], strlen(specs[k]),
			    "spec", &q[k]) != CAIRN_OK)
				abort();
		parsed = 1;
	}
	p = fz_file("events.csv", data, size);
	paths[0] = (char *)p;
	memset(&in, 0, sizeof(in));
	in.paths = paths;
	in.npaths = 1;
	in.cells = map;
	in.max_bad_fraction = 0.5;
	in.threads = 1 + (unsigned)(size & 1);
	in.split_bytes = 97;
	memset(&rep, 0, sizeof(rep));
	if (engine_check_data(&in, &rep) == CAIRN_OK) {
		if (rep.nfiles != 1 || rep.files[0].good + rep.files[0].nbad !=
		    rep.files[0].rows)
			abort();
	}
	engine_report_release(&rep);
	memset(&rep, 0, sizeof(rep));
	memset(&res, 0, sizeof(res));
	k = size % NSPECS;
	if (engine_run_csv(&q[k], &in, &rep, &res) == CAIRN_OK) {
		for (size_t i = 1; i < res.nnz; i++)
			if (res.cells[i].id <= res.cells[i - 1].id ||
			    res.cells[i].id >= res.ncells)
				abort();
		engine_result_release(&res);
	}
	engine_report_release(&rep);
}
