/*
 * test_task_vector.c - the daemon's vector source over real input: CDR
 * files with a cell map, region-level files with a region list, and the
 * ingested store give the same dense vector over node.conf's domain; a
 * query for another geography is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/err.h"
#include "node/daemon.h"
#include "node/engine/engine.h"

static char dir[64];

static void
put(const char *name, const char *text, char *path, size_t cap)
{
	FILE *f;

	snprintf(path, cap, "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

static int
setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/cairn-taskvec-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
presence(struct qspec *q)
{
	static const char js[] = "{\"kind\": \"presence\", \"start\": "
	    "\"2026-01-10\", \"end\": \"2026-01-11\", \"bucket\": \"day\", "
	    "\"k\": 1, \"utc_offset_minutes\": 0}";

	assert_int_equal(qspec_parse_json(js, strlen(js), "q", q), CAIRN_OK);
}

static void
test_cdr_and_store(void **state)
{
	struct node_config cfg;
	struct engine_cellmap *map = NULL;
	struct engine_input in;
	struct engine_report rep;
	struct qspec q;
	char cells[128], cdr[128], store[128], *paths[1];
	int64_t *v = NULL, *w = NULL;
	uint64_t n = 0, m = 0;

	(void)state;
	put("cells.csv", "cell_id,region_id\nc1,10\nc2,20\nc3,30\n", cells,
	    sizeof(cells));
	put("cdr.csv", "subscriber_id,timestamp,cell_id\n"
	    "s1,2026-01-10T08:00:00Z,c1\ns2,2026-01-10T09:00:00Z,c1\n"
	    "s3,2026-01-10T10:00:00Z,c2\ns4,2026-01-12T10:00:00Z,c3\n", cdr,
	    sizeof(cdr));
	memset(&cfg, 0, sizeof(cfg));
	cfg.data_dir = dir;
	cfg.cells = cells;
	paths[0] = cdr;
	cfg.cdr.v = paths;
	cfg.cdr.n = 1;
	cfg.geography = (char *)"g1";
	cfg.max_bad_fraction = 0.5;
	presence(&q);
	assert_int_equal(node_task_vector(&cfg, &q, "g1", &v, &n), CAIRN_OK);
	/* Three regions x one day, dense: region 30 is 0 in the window. */
	assert_int_equal(n, 3);
	assert_int_equal(v[0], 2);
	assert_int_equal(v[1], 1);
	assert_int_equal(v[2], 0);
	assert_int_equal(node_task_vector(&cfg, &q, "g2", &w, &m),
	    CAIRN_ERR_POLICY);
	assert_non_null(strstr(cairn_errmsg(), "geography 'g2'"));

	/* The same from the ingested store under data_dir/store. */
	snprintf(store, sizeof(store), "%s/store", dir);
	assert_int_equal(engine_cellmap_load(cells, &map), CAIRN_OK);
	memset(&in, 0, sizeof(in));
	memset(&rep, 0, sizeof(rep));
	in.paths = paths;
	in.npaths = 1;
	in.cells = map;
	in.max_bad_fraction = 0.5;
	assert_int_equal(engine_store_ingest(store, &in, &rep), CAIRN_OK);
	engine_report_release(&rep);
	engine_cellmap_free(map);
	cfg.cdr.n = 0;
	assert_int_equal(node_task_vector(&cfg, &q, "g1", &w, &m), CAIRN_OK);
	assert_int_equal(m, n);
	assert_memory_equal(v, w, n * sizeof(*v));
	free(v);
	free(w);
}

static void
test_regions(void **state)
{
	struct node_config cfg;
	struct qspec q;
	char regions[128], recs[128], *paths[1];
	int64_t *v = NULL;
	uint64_t n = 0;

	(void)state;
	put("regions.csv", "region_id,name\n1,north\n2,south\n", regions,
	    sizeof(regions));
	put("recs.csv", "entity_id,timestamp,region_id\n"
	    "e1,2026-01-10T08:00:00Z,2\ne2,2026-01-10T08:00:00Z,2\n", recs,
	    sizeof(recs));
	memset(&cfg, 0, sizeof(cfg));
	cfg.data_dir = dir;
	cfg.regions = regions;
	paths[0] = recs;
	cfg.cdr.v = paths;
	cfg.cdr.n = 1;
	cfg.geography = (char *)"g1";
	cfg.max_bad_fraction = 0.5;
	presence(&q);
	assert_int_equal(node_task_vector(&cfg, &q, "g1", &v, &n), CAIRN_OK);
	assert_int_equal(n, 2);
	assert_int_equal(v[0], 0);
	assert_int_equal(v[1], 2);
	free(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cdr_and_store, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_regions, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
