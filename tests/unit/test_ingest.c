/*
 * test_ingest.c - the CSV reader's bad-row accounting (one file per
 * reason, line numbers across threads), headers, limits, gzip, cell maps,
 * region lists, query specs and the store's files.
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

#include <zlib.h>

#include "common/err.h"
#include "node/engine/engine.h"

static char dir[64];

static int
setup(void **state)
{
	strcpy(dir, "/tmp/cairn-test-ingest-XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static const char *
put(const char *name, const char *text, size_t len)
{
	static char path[8][128];
	static int k;
	FILE *f;
	char *p = path[k++ % 8];

	snprintf(p, 128, "%s/%s", dir, name);
	f = fopen(p, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
	return p;
}

#define PUT(name, lit)	put(name, lit, sizeof(lit) - 1)

static struct engine_cellmap *
cells(void)
{
	struct engine_cellmap *cm;

	assert_int_equal(engine_cellmap_load(PUT("cells.csv",
	    "cell_id,region_id\nc1,1\nc2,2\n"), &cm), CAIRN_OK);
	return cm;
}

static void
input(struct engine_input *in, const char **paths, size_t n,
    struct engine_cellmap *cm)
{
	memset(in, 0, sizeof(*in));
	in->paths = (char *const *)paths;
	in->npaths = n;
	in->cells = cm;
	in->max_bad_fraction = 1;
	in->threads = 1;
}

static void
test_bad_reasons(void **state)
{
	char *text, longline[70010], longid[140];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct engine_cellmap *cm = cells();
	struct engine_input in;
	struct engine_report rep;
	const char *paths[1];

	memset(longline, 'x', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	memset(longid, 'y', 129);
	longid[129] = '\0';
	fprintf(f, "subscriber_id,timestamp,cell_id\n"	/* 1 */
	    "a,2026-01-05T10:00:00Z,c1\n"		/* 2 good */
	    "a,2026-01-05T10:00:00Z\n"			/* 3 fields */
	    "a,2026-13-05T10:00:00Z,c1\n"		/* 4 timestamp */
	    "a,2026-01-05T10:00:00Z,zz\n"		/* 5 cell */
	    ",2026-01-05T10:00:00Z,c1\n"		/* 6 empty id */
	    "a,2026-01-05T10:00:00Z,\n"		/* 7 empty field */
	    "%s,2026-01-05T10:00:00Z,c1\n"		/* 8 long field */
	    "a\xff,2026-01-05T10:00:00Z,c1\n",		/* 9 encoding */
	    longid);
	fwrite("a\0b,2026-01-05T10:00:00Z,c1\n", 1, 28, f);	/* 10 NUL */
	fprintf(f, "\"a,2026-01-05T10:00:00Z,c1\n"	/* 11 quoting */
	    "\n"					/* 12 blank */
	    "%s\n"					/* 13 long line */
	    "\"q\"\"x\",2026-01-05T10:00:00Z,\"c1\"\n"	/* 14 good */
	    "\xc3\xa9,1767607200,c2\n"			/* 15 good */
	    "a,-5,c1\n"				/* 16 timestamp */
	    "a,2026-01-05T24:00:00Z,c1\n"		/* 17 timestamp */
	    "a,2026-02-30T10:00:00Z,c1\n"		/* 18 timestamp */
	    "a,2026-01-05T10:00:00Z,c1,extra\n"		/* 19 fields */
	    "a\xed\xa0\x80,2026-01-05T10:00:00Z,c1\n"	/* 20 surrogate */
	    "a,2026-01-05T10:00:00Z,c2", longline);	/* 21 good, no \n */
	fclose(f);
	paths[0] = put("bad.csv", text, len);
	for (int mode = 0; mode < 2; mode++) {
		input(&in, paths, 1, cm);
		if (mode == 1) {
			in.threads = 2;
			in.split_bytes = 50;
		}
		assert_int_equal(engine_check_data(&in, &rep), CAIRN_OK);
		struct engine_file_report *fr = &rep.files[0];

		assert_int_equal(fr->rows, 20);
		assert_int_equal(fr->good, 4);
		assert_int_equal(fr->nbad, 16);
		assert_int_equal(fr->bad[ENGINE_BAD_FIELDS], 2);
		assert_int_equal(fr->bad[ENGINE_BAD_TIMESTAMP], 4);
		assert_int_equal(fr->bad[ENGINE_BAD_CELL], 1);
		assert_int_equal(fr->bad[ENGINE_BAD_EMPTY_ID], 1);
		assert_int_equal(fr->bad[ENGINE_BAD_EMPTY_FIELD], 1);
		assert_int_equal(fr->bad[ENGINE_BAD_LONG_FIELD], 1);
		assert_int_equal(fr->bad[ENGINE_BAD_ENCODING], 3);
		assert_int_equal(fr->bad[ENGINE_BAD_QUOTING], 1);
		assert_int_equal(fr->bad[ENGINE_BAD_BLANK], 1);
		assert_int_equal(fr->bad[ENGINE_BAD_LONG_LINE], 1);
		assert_int_equal(fr->nexamples, ENGINE_EXAMPLES);
		for (size_t e = 0; e < ENGINE_EXAMPLES; e++)
			assert_int_equal(fr->examples[e].line, 3 + e);
		assert_int_equal(fr->examples[0].reason, ENGINE_BAD_FIELDS);
		assert_int_equal(fr->examples[1].reason, ENGINE_BAD_TIMESTAMP);
		assert_int_equal(fr->examples[2].reason, ENGINE_BAD_CELL);
		assert_false(fr->refused);
		engine_report_release(&rep);
	}
	free(text);
	engine_cellmap_free(cm);
}

/*
 * Long lines in files of every size around the read buffer (which is
 * sized to the file when it is small): each over-long line is one bad row
 * wherever the buffer's edges fall, every other row is read, with one
 * thread and with the file split between two.
 */
static void
test_long_lines(void **state)
{
	static const size_t longs[] = { 70000, 100000, 140000 };
	static const size_t goods[] = { 0, 1, 3, 700, 20000, 200000 };
	struct engine_cellmap *cm = cells();
	struct engine_input in;
	struct engine_report rep;
	const char *paths[1];

	(void)state;
	for (size_t g = 0; g < sizeof(goods) / sizeof(goods[0]); g++)
		for (size_t l = 0; l < sizeof(longs) / sizeof(longs[0]); l++) {
			size_t cap = 64 + goods[g] * 4 * 40 + 3 * (longs[l] +
			    1);
			char *text = malloc(cap), *p = text;
			size_t good = 0;

			assert_non_null(text);
			p += sprintf(p, "subscriber_id,timestamp,cell_id\n");
			for (int k = 0; k < 3; k++) {
				for (size_t i = 0; i < goods[g]; i++, good++)
					p += sprintf(p, "s%zu,2026-01-05T10:00:"
					    "00Z,c1\n", i % 97);
				memset(p, 'x', longs[l]);
				p += longs[l];
				*p++ = '\n';
			}
			for (size_t i = 0; i < goods[g]; i++, good++)
				p += sprintf(p,
				    "t%zu,2026-01-05T11:00:00Z,c2\n",
				    i % 89);
			assert_true((size_t)(p - text) <= cap);
			paths[0] = put("long.csv", text, (size_t)(p - text));
			for (int mode = 0; mode < 2; mode++) {
				input(&in, paths, 1, cm);
				if (mode == 1) {
					in.threads = 2;
					in.split_bytes = 1000;
				}
				assert_int_equal(engine_check_data(&in, &rep),
				    CAIRN_OK);
				assert_int_equal(rep.files[0].rows, good + 3);
				assert_int_equal(rep.files[0].good, good);
				assert_int_equal(rep.files[0].bad
				    [ENGINE_BAD_LONG_LINE], 3);
				engine_report_release(&rep);
			}
			free(text);
		}
	engine_cellmap_free(cm);
}

static void
test_limit(void **state)
{
	struct engine_cellmap *cm = cells();
	struct engine_input in;
	struct engine_report rep;
	struct engine_result res;
	struct qspec q;
	const char *paths[1];
	char *out = NULL;
	size_t len;
	FILE *f;

	paths[0] = PUT("lim.csv", "subscriber_id,timestamp,cell_id\n"
	    "a,2026-01-05T10:00:00Z,c1\nb,2026-01-05T10:00:00Z,c9\n");
	assert_int_equal(qspec_parse_json("{\"kind\":\"residents\",\"start\":"
	    "\"2026-01-05\",\"end\":\"2026-01-06\"}", 60, "q", &q), CAIRN_OK);
	input(&in, paths, 1, cm);
	in.max_bad_fraction = 0.001;
	assert_int_equal(engine_run_csv(&q, &in, &rep, &res), CAIRN_ERR_FORMAT);
	assert_non_null(strstr(cairn_errmsg(), "lim.csv: 1 of 2 rows bad"));
	assert_non_null(strstr(cairn_errmsg(), "--max-bad-fraction"));
	engine_report_release(&rep);
	assert_int_equal(engine_check_data(&in, &rep), CAIRN_OK);
	assert_true(rep.files[0].refused);
	f = open_memstream(&out, &len);
	engine_report_print(&rep, f);
	fclose(f);
	assert_non_null(strstr(out, "lim.csv:3: unknown cell"));
	assert_non_null(strstr(out, "refused"));
	free(out);
	engine_report_release(&rep);
	in.max_bad_fraction = 0.5;
	assert_int_equal(engine_run_csv(&q, &in, &rep, &res), CAIRN_OK);
	engine_result_release(&res);
	engine_report_release(&rep);
	engine_cellmap_free(cm);
}

static void
test_headers(void **state)
{
	struct engine_cellmap *cm = cells();
	struct engine_input in;
	struct engine_report rep;
	const char *paths[1];

	input(&in, paths, 1, cm);
	paths[0] = PUT("h1.csv", "sub,timestamp,cell_id\na,1,c1\n");
	assert_int_equal(engine_check_data(&in, &rep), CAIRN_ERR_FORMAT);
	assert_non_null(strstr(cairn_errmsg(), "h1.csv:1: header must be"));
	engine_report_release(&rep);
	paths[0] = PUT("h2.csv", "");
	assert_int_equal(engine_check_data(&in, &rep), CAIRN_ERR_FORMAT);
	assert_non_null(strstr(cairn_errmsg(), "h2.csv:1: empty file"));
	engine_report_release(&rep);
	/* BOM, CRLF, a header alone without newline */
	paths[0] = PUT("h3.csv", "\xef\xbb\xbfsubscriber_id,timestamp,cell_id");
	assert_int_equal(engine_check_data(&in, &rep), CAIRN_OK);
	assert_int_equal(rep.files[0].rows, 0);
	engine_report_release(&rep);
	paths[0] = PUT("h4.csv", "\xef\xbb\xbfsubscriber_id,timestamp,cell_id"
	    "\r\na,1767607200,c1\r\nb,1767607200,c2\r\n");
	assert_int_equal(engine_check_data(&in, &rep), CAIRN_OK);
	assert_int_equal(rep.files[0].good, 2);
	assert_int_equal(rep.files[0].nbad, 0);
	engine_report_release(&rep);
	paths[0] = "/nonexistent/x.csv";
	assert_int_equal(engine_check_data(&in, &rep), CAIRN_ERR_IO);
	engine_report_release(&rep);
	engine_cellmap_free(cm);
}

static void
test_region_level(void **state)
{
	struct engine_cellmap *cm;
	struct engine_input in;
	struct engine_report rep;
	const char *paths[1];

	assert_int_equal(engine_regions_load(PUT("regions.csv",
	    "region_id,name\n5,North\n9,South\n"), &cm), CAIRN_OK);
	assert_int_equal(engine_cellmap_nregions(cm), 2);
	input(&in, paths, 1, cm);
	paths[0] = PUT("r.csv", "entity_id,timestamp,region_id,category\n"
	    "a,1767607200,5,x\na,1767607200,6,x\na,1767607200,five,x\n"
	    "a,1767607200,9,\na,1767607200,9\nb,1767607200,9,\"y,z\"\n");
	assert_int_equal(engine_check_data(&in, &rep), CAIRN_OK);
	assert_int_equal(rep.files[0].good, 2);
	assert_int_equal(rep.files[0].bad[ENGINE_BAD_REGION], 2);
	assert_int_equal(rep.files[0].bad[ENGINE_BAD_EMPTY_FIELD], 1);
	assert_int_equal(rep.files[0].bad[ENGINE_BAD_FIELDS], 1);
	engine_report_release(&rep);
	/* cell-level input needs a cell map */
	paths[0] = PUT("c.csv", "subscriber_id,timestamp,cell_id\na,1,c1\n");
	assert_int_equal(engine_check_data(&in, &rep), CAIRN_ERR_ARG);
	engine_report_release(&rep);
	engine_cellmap_free(cm);
}

static void
test_gzip(void **state)
{
	struct engine_cellmap *cm = cells();
	struct engine_input in;
	struct engine_report rep;
	const char *paths[1];
	char path[128];
	gzFile g;
	FILE *f;
	char buf[4096];
	size_t n;

	snprintf(path, sizeof(path), "%s/z.csv.gz", dir);
	g = gzopen(path, "wb");
	gzprintf(g, "subscriber_id,timestamp,cell_id\n");
	for (int i = 0; i < 1000; i++)
		gzprintf(g, "s%d,2026-01-05T10:00:%02dZ,c%d\n", i, i % 60,
		    1 + i % 3);
	gzclose(g);
	input(&in, paths, 1, cm);
	paths[0] = path;
	assert_int_equal(engine_check_data(&in, &rep), CAIRN_OK);
	assert_int_equal(rep.files[0].rows, 1000);
	assert_int_equal(rep.files[0].bad[ENGINE_BAD_CELL], 333);
	assert_int_equal(rep.files[0].examples[0].line, 4);
	engine_report_release(&rep);
	/* truncated gzip: an error, not a silent short read */
	f = fopen(path, "rb");
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	paths[0] = put("t.csv.gz", buf, n / 2);
	assert_int_not_equal(engine_check_data(&in, &rep), CAIRN_OK);
	engine_report_release(&rep);
	engine_cellmap_free(cm);
}

static void
test_paths(void **state)
{
	char sub[128], *arg[1], **v;
	size_t n;

	snprintf(sub, sizeof(sub), "%s/drop", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	PUT("drop/b.csv.gz", "x");
	PUT("drop/a.csv", "x");
	PUT("drop/notes.txt", "x");
	arg[0] = sub;
	assert_int_equal(engine_expand_paths(arg, 1, &v, &n), CAIRN_OK);
	assert_int_equal(n, 2);
	assert_non_null(strstr(v[0], "drop/a.csv"));
	assert_non_null(strstr(v[1], "drop/b.csv.gz"));
	engine_paths_free(v, n);
	snprintf(sub, sizeof(sub), "%s/empty", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(engine_expand_paths(arg, 1, &v, &n),
	    CAIRN_ERR_NOTFOUND);
	arg[0] = "/nonexistent";
	assert_int_equal(engine_expand_paths(arg, 1, &v, &n), CAIRN_ERR_IO);
}

static void
test_cellmap_errors(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "cell,region\nc1,1\n", "m.csv:1: header" },
		{ "cell_id,region_id\nc1,1\nc1,2\n",
		    "m.csv:3: field 'cell_id': duplicate" },
		{ "cell_id,region_id\nc1,x\n", "m.csv:2: field 'region_id'" },
		{ "cell_id,region_id\nc1,4294967296\n",
		    "m.csv:2: field 'region_id'" },
		{ "cell_id,region_id\nc1,1,2\n", "m.csv:2: expected 2 fields" },
		{ "cell_id,region_id\n,1\n",
		    "m.csv:2: field 'cell_id': empty" },
		{ "cell_id,region_id\nc1,1\n\nc2,2\n", "m.csv:3: empty line" },
		{ "cell_id,region_id\n", "m.csv: no regions" },
		{ "", "m.csv:1: empty file" },
	};
	struct engine_cellmap *cm;
	uint32_t r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *p = put("m.csv", cases[i].text,
		    strlen(cases[i].text));

		assert_int_not_equal(engine_cellmap_load(p, &cm), CAIRN_OK);
		if (strstr(cairn_errmsg(), cases[i].want) == NULL)
			fail_msg("case %zu: '%s' lacks '%s'", i, cairn_errmsg(),
			    cases[i].want);
	}
	assert_int_equal(engine_cellmap_load(PUT("m.csv", "\xef\xbb\xbf"
	    "cell_id,region_id\r\nc1,4294967295\r\nc2,0\r\nc3,0"), &cm),
	    CAIRN_OK);
	assert_int_equal(engine_cellmap_nregions(cm), 2);
	assert_true(engine_cellmap_lookup(cm, "c1", 2, &r));
	assert_int_equal(engine_cellmap_regions(cm)[r], 4294967295u);
	assert_false(engine_cellmap_lookup(cm, "c4", 2, &r));
	engine_cellmap_free(cm);
}

static void
test_spec_errors(void **state)
{
	static const struct {
		const char *json, *want;
	} cases[] = {
		{ "{\"kind\":\"presence\",\"start\":\"2026-01-01\",\"end\":"
		    "\"2026-01-02\",\"k\":3}", "missing field 'bucket'" },
		{ "{\"kind\":\"residents\",\"start\":\"2026-01-01\",\"end\":"
		    "\"2026-01-02\",\"k\":3}", "field 'k' is not used by kind "
		    "'residents'" },
		{ "{\"kind\":\"od\",\"start\":\"2026-01-01\",\"end\":"
		    "\"2026-01-02\",\"colour\":1}", "unknown field 'colour'" },
		{ "{\"start\":\"2026-01-01\"}", "missing field 'kind'" },
		{ "{\"kind\":\"flows\"}", "field 'kind': must be one of" },
		{ "{\"kind\":\"od\",\"start\":\"2026-01-32\",\"end\":"
		    "\"2026-02-02\"}", "field 'start'" },
		{ "{\"kind\":\"od\",\"start\":\"2026-01-05\",\"end\":"
		    "\"2026-01-05\"}", "field 'end'" },
		{ "{\"kind\":\"presence\",\"start\":\"2026-01-01\",\"end\":"
		    "\"2026-01-02\",\"bucket\":\"week\",\"k\":1}",
		    "field 'bucket'" },
		{ "{\"kind\":\"presence\",\"start\":\"2026-01-01\",\"end\":"
		    "\"2026-01-02\",\"bucket\":\"day\",\"k\":0}", "field 'k'" },
		{ "{\"kind\":\"od\",\"start\":\"2026-01-01\",\"end\":"
		    "\"2026-01-03\",\"utc_offset_minutes\":1440}",
		    "field 'utc_offset_minutes'" },
		{ "{\"kind\":\"residents\",\"start\":\"2026-01-01\",\"end\":"
		    "\"2026-01-02\",\"night_start_hour\":24}",
		    "field 'night_start_hour'" },
		{ "{\"kind\":\"residents\",\"start\":\"2026-01-01\",\"end\":"
		    "\"2026-01-02\",\"night_start_hour\":2}",
		    "must be greater than night_end_hour" },
		{ "{\"kind\":\"migration\",\"baseline\":[\"2026-01-01\","
		    "\"2026-01-08\"]}", "missing field 'comparison'" },
		{ "{\"kind\":\"migration\",\"baseline\":[\"2026-01-01\"],"
		    "\"comparison\":[\"2026-01-01\",\"2026-01-02\"]}",
		    "field 'baseline'" },
		{ "{\"kind\":\"migration\",\"start\":\"2026-01-01\","
		    "\"baseline\":[\"2026-01-01\",\"2026-01-02\"],"
		    "\"comparison\":[\"2026-01-01\",\"2026-01-02\"]}",
		    "field 'start' is not used by kind 'migration'" },
		{ "{\"kind\":\"od\",\"kind\":\"od\"}", "q.json:1:" },
		{ "[1]", "must be a JSON object" },
		{ "{\"kind\":", "q.json:1:" },
	};
	struct qspec q;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(qspec_parse_json(cases[i].json,
		    strlen(cases[i].json), "q.json", &q), CAIRN_ERR_FORMAT);
		if (strstr(cairn_errmsg(), cases[i].want) == NULL)
			fail_msg("case %zu: '%s' lacks '%s'", i, cairn_errmsg(),
			    cases[i].want);
	}
	const char *ok = "{\"kind\":\"presence\",\"start\":\"2026-01-01\","
	    "\"end\":\"2026-01-08\",\"bucket\":\"hour\",\"k\":2,"
	    "\"utc_offset_minutes\":-300}";

	assert_int_equal(qspec_parse_json(ok, strlen(ok), "q", &q), CAIRN_OK);
	assert_int_equal(q.kind, QSPEC_KIND_PRESENCE);
	assert_true(q.bucket_hour);
	assert_int_equal(q.k, 2);
	assert_int_equal(q.utc_offset_min, -300);
	assert_int_equal(q.end - q.start, 7);
	assert_int_equal(qspec_load_json("/nonexistent.json", &q),
	    CAIRN_ERR_IO);
}

static void
test_store_files(void **state)
{
	struct engine_cellmap *cm = cells(), *other;
	struct engine_input in;
	struct engine_report rep;
	struct engine_store *st;
	const char *paths[1];
	char store[128], key[160], seg[160];
	struct stat sb;
	uint64_t subs, events;
	size_t segs;
	uint32_t ids[1] = { 77 };
	FILE *f;

	snprintf(store, sizeof(store), "%s/store", dir);
	snprintf(key, sizeof(key), "%s/key", store);
	paths[0] = PUT("s.csv", "subscriber_id,timestamp,cell_id\n"
	    "alice,1767607200,c1\nbob,1767607200,c2\nalice,1767610800,c2\n");
	input(&in, paths, 1, cm);
	assert_int_equal(engine_store_ingest(store, &in, &rep), CAIRN_OK);
	engine_report_release(&rep);
	assert_int_equal(stat(key, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(stat(store, &sb), 0);
	assert_int_equal(sb.st_mode & 0077, 0);
	/* the same drop again: refused, nothing written (store_inputs.c) */
	assert_int_equal(engine_store_ingest(store, &in, &rep),
	    CAIRN_ERR_EXISTS);
	engine_report_release(&rep);
	/* a second drop: same subjects keep their index */
	paths[0] = PUT("s2.csv", "subscriber_id,timestamp,cell_id\n"
	    "alice,1767614400,c1\nbob,1767614400,c2\nalice,1767618000,c2\n");
	assert_int_equal(engine_store_ingest(store, &in, &rep), CAIRN_OK);
	engine_report_release(&rep);
	assert_int_equal(engine_store_open(store, &st), CAIRN_OK);
	engine_store_stats(st, &subs, &events, &segs);
	assert_int_equal(subs, 2);
	assert_int_equal(events, 6);
	assert_int_equal(segs, 2);
	engine_store_close(st);
	/* no subscriber id is written in clear */
	{
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "grep -rq alice %s", store);
		assert_int_not_equal(system(cmd), 0);
	}
	/* another region domain is refused */
	assert_int_equal(engine_regions_from_ids(ids, 1, &other), CAIRN_OK);
	in.cells = other;
	assert_int_equal(engine_store_ingest(store, &in, &rep),
	    CAIRN_ERR_CONFIG);
	engine_report_release(&rep);
	engine_cellmap_free(other);
	in.cells = cm;
	/* a key readable by others is refused: every group and other bit
	   alone (g+r g+w g+x o+r o+w o+x), and a symlink to a good key */
	assert_int_equal(chmod(key, 0644), 0);
	assert_int_equal(engine_store_ingest(store, &in, &rep), CAIRN_ERR_PERM);
	engine_report_release(&rep);
	for (unsigned bit = 01; bit <= 040; bit <<= 1) {
		assert_int_equal(chmod(key, 0600 | bit), 0);
		assert_int_equal(engine_store_ingest(store, &in, &rep),
		    CAIRN_ERR_PERM);
		engine_report_release(&rep);
	}
	assert_int_equal(chmod(key, 0600), 0);
	{
		char moved[200];

		snprintf(moved, sizeof(moved), "%s.real", key);
		assert_int_equal(rename(key, moved), 0);
		assert_int_equal(symlink(moved, key), 0);
		assert_int_not_equal(engine_store_ingest(store, &in, &rep),
		    CAIRN_OK);
		engine_report_release(&rep);
		assert_int_equal(unlink(key), 0);
		assert_int_equal(rename(moved, key), 0);
	}
	/* an event whose region is out of range fails the query, naming
	   its segment (events are checked as queries read them) */
	snprintf(seg, sizeof(seg), "%s/seg-000002.bin", store);
	{
		const char *qj = "{\"kind\":\"residents\",\"start\":"
		    "\"2026-01-05\",\"end\":\"2026-01-06\"}";
		uint32_t badreg = UINT32_MAX;
		struct engine_result res;
		struct qspec q;

		assert_int_equal(qspec_parse_json(qj, strlen(qj), "q", &q),
		    CAIRN_OK);
		f = fopen(seg, "r+b");
		assert_non_null(f);
		fseek(f, -8, SEEK_END);
		assert_int_equal(fwrite(&badreg, 4, 1, f), 1);
		fclose(f);
		assert_int_equal(engine_store_open(store, &st), CAIRN_OK);
		assert_int_equal(engine_run_store(&q, st, 2, &res),
		    CAIRN_ERR_FORMAT);
		assert_non_null(strstr(cairn_errmsg(), "seg-000002.bin"));
		engine_store_close(st);
	}
	/* a damaged segment is refused */
	f = fopen(seg, "r+b");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	assert_int_equal(ftruncate(fileno(f), ftell(f) - 4), 0);
	fclose(f);
	assert_int_equal(engine_store_open(store, &st), CAIRN_ERR_FORMAT);
	assert_non_null(strstr(cairn_errmsg(), "seg-000002.bin"));
	/* so is a subjects.bin whose size does not match its count */
	snprintf(seg, sizeof(seg), "%s/subjects.bin", store);
	assert_int_equal(truncate(seg, 17), 0);
	assert_int_equal(engine_store_open(store, &st), CAIRN_ERR_FORMAT);
	assert_non_null(strstr(cairn_errmsg(), "subjects.bin"));
	assert_int_equal(engine_store_open("/nonexistent", &st),
	    CAIRN_ERR_NOTFOUND);
	engine_cellmap_free(cm);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_reasons),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_region_level),
		cmocka_unit_test(test_gzip),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_cellmap_errors),
		cmocka_unit_test(test_spec_errors),
		cmocka_unit_test(test_store_files),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
