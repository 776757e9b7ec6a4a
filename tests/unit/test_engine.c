/*
 * test_engine.c - every query kind against the reference implementation
 * (engine_ref.c) on small random data with ties, midnight and UTC-offset
 * boundaries, one-event subscribers and k = 1; read with one thread, with
 * two threads over many small file parts, from gzip, and from the store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <unistd.h>
#include <cmocka.h>

#include <sodium.h>
#include <zlib.h>

#include "common/err.h"
#include "common/timeutil.h"
#include "node/engine/engine.h"
#include "node/noise.h"
#include "tests/unit/engine_ref.h"

#define DAY0	20458		/* 2026-01-05 */

struct rng {
	unsigned char	buf[1 << 16];
	size_t		pos;
	unsigned char	seed[randombytes_SEEDBYTES];
};

static void
rng_init(struct rng *r, unsigned s)
{
	memset(r->seed, 0, sizeof(r->seed));
	memcpy(r->seed, &s, sizeof(s));
	randombytes_buf_deterministic(r->buf, sizeof(r->buf), r->seed);
	r->pos = 0;
}

static uint32_t
rnd(struct rng *r, uint32_t n)
{
	uint32_t v;

	if (r->pos + 4 > sizeof(r->buf)) {
		r->seed[31]++;
		randombytes_buf_deterministic(r->buf, sizeof(r->buf), r->seed);
		r->pos = 0;
	}
	memcpy(&v, r->buf + r->pos, 4);
	r->pos += 4;
	return v % n;
}

struct data {
	struct ref_event *ev;
	size_t		  n;
	uint32_t	  regions[8];
	size_t		  nregions;
	char		  dir[64];
	char		  csv[128], gz[128], cells[128];
};

static const uint32_t region_pool[] = { 7, 3, 100, 4000000000u, 12, 55, 9,
	1000 };

/*
 * Random events of 'nsub' subjects over days [DAY0 - 1, DAY0 + 7) with
 * many events on hour and midnight boundaries (for offset 'off' minutes).
 */
static void
gen(struct data *d, unsigned seed, int nsub, int off, bool cats)
{
	struct rng r;
	size_t cap = 4096;

	rng_init(&r, seed);
	memset(d, 0, sizeof(*d));
	d->nregions = 2 + rnd(&r, 5);
	for (size_t i = 0; i < d->nregions; i++)
		d->regions[i] = region_pool[(seed + i) % 8];
	d->ev = calloc(cap, sizeof(*d->ev));
	for (int s = 0; s < nsub; s++) {
		int n = s % 7 == 0 ? 1 : 1 + (int)rnd(&r, 30);

		for (int e = 0; e < n && d->n < cap; e++) {
			struct ref_event *x = &d->ev[d->n++];
			int64_t day = DAY0 - 1 + rnd(&r, 8), t;

			switch (rnd(&r, 4)) {
			case 0:		/* local midnight, +-1 second */
				t = day * 86400 - off * 60 +
				    (int)rnd(&r, 3) - 1;
				break;
			case 1:		/* a local hour boundary */
				t = day * 86400 - off * 60 +
				    rnd(&r, 24) * 3600 - (int)rnd(&r, 2);
				break;
			default:
				t = day * 86400 + rnd(&r, 86400);
			}
			x->sub = s;
			x->t = t;
			/* few regions per subject: many ties */
			x->region = d->regions[(s + rnd(&r, 3)) % d->nregions];
			x->cat = cats ? (int)rnd(&r, 12) : -1;
		}
	}
}

static void
write_files(struct data *d, bool region_level)
{
	FILE *f;
	gzFile g;

	strcpy(d->dir, "/tmp/cairn-test-engine-XXXXXX");
	assert_non_null(mkdtemp(d->dir));
	snprintf(d->csv, sizeof(d->csv), "%s/in.csv", d->dir);
	snprintf(d->gz, sizeof(d->gz), "%s/in.csv.gz", d->dir);
	snprintf(d->cells, sizeof(d->cells), "%s/cells.csv", d->dir);
	f = fopen(d->cells, "w");
	assert_non_null(f);
	fprintf(f, "cell_id,region_id\n");
	for (size_t i = 0; i < d->nregions; i++)
		fprintf(f, "cell-%u-a,%u\ncell-%u-b,%u\n", d->regions[i],
		    d->regions[i], d->regions[i], d->regions[i]);
	fclose(f);
	f = fopen(d->csv, "w");
	g = gzopen(d->gz, "wb");
	assert_non_null(f);
	assert_non_null(g);
	fprintf(f, region_level ? "entity_id,timestamp,region_id,category\r\n" :
	    "subscriber_id,timestamp,cell_id\r\n");
	gzprintf(g, region_level ? "entity_id,timestamp,region_id,category\n" :
	    "subscriber_id,timestamp,cell_id\n");
	for (size_t i = 0; i < d->n; i++) {
		struct ref_event *x = &d->ev[i];
		char ts[32], line[256];

		if (i % 3 == 0)
			snprintf(ts, sizeof(ts), "%lld", (long long)x->t);
		else
			assert_true(time_format_iso(x->t, ts));
		if (region_level)
			snprintf(line, sizeof(line), "%s%d,%s,%u,cat%d",
			    x->sub % 2 ? "a-rather-long-entity-id-" : "e",
			    x->sub, ts, x->region, x->cat);
		else
			snprintf(line, sizeof(line), "%s%d,%s,cell-%u-%c",
			    x->sub % 2 ? "a-rather-long-subscriber-pseudonym-" :
			    "s", x->sub, ts, x->region, i % 2 ? 'a' : 'b');
		/* CRLF lines, and no final newline in the plain file */
		fprintf(f, i + 1 == d->n ? "%s" : "%s\r\n", line);
		gzprintf(g, "%s\n", line);
	}
	fclose(f);
	gzclose(g);
}

static void
remove_files(struct data *d)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", d->dir);
	assert_int_equal(system(cmd), 0);
	free(d->ev);
}

static char *
result_text(const struct engine_result *res)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(engine_result_write(res, ENGINE_OUT_CSV, false, NULL,
	    f), CAIRN_OK);
	fclose(f);
	return text;
}

/* Run 'q' on the CSV, gzip and store forms of 'd'; compare with ref. */
static void
check(struct data *d, const struct qspec *q, bool region_level)
{
	struct engine_cellmap *cm;
	struct engine_input in;
	struct engine_report rep;
	struct engine_result res;
	struct engine_store *st;
	char *want = ref_run(q, d->ev, d->n), *got, store[160];
	char *paths[1];
	uint64_t other_cat = 0;
	int r;

	if (region_level)
		assert_int_equal(engine_regions_from_ids(d->regions,
		    d->nregions, &cm), CAIRN_OK);
	else
		assert_int_equal(engine_cellmap_load(d->cells, &cm), CAIRN_OK);
	for (int mode = 0; mode < 3; mode++) {
		memset(&in, 0, sizeof(in));
		paths[0] = mode == 2 ? d->gz : d->csv;
		in.paths = paths;
		in.npaths = 1;
		in.cells = cm;
		in.max_bad_fraction = 0;
		in.threads = mode == 1 ? 2 : 1;
		in.split_bytes = mode == 1 ? 97 : 0;
		r = engine_run_csv(q, &in, &rep, &res);
		if (r != CAIRN_OK)
			fail_msg("run: %s", cairn_errdesc(r));
		assert_int_equal(rep.files[0].rows, d->n);
		assert_int_equal(rep.files[0].nbad, 0);
		got = result_text(&res);
		if (strcmp(got, want) != 0)
			fail_msg("mode %d, kind %s:\n--- engine\n%s--- "
			    "reference\n%s", mode, qspec_kind_name(q->kind),
			    got, want);
		if (q->kind == QSPEC_KIND_POPCAT) {
			/* the domain is the spec's categories, and rows
			 * under others are counted, not dropped */
			assert_int_equal(res.ncells, d->nregions * q->ncats);
			assert_int_equal(res.ncats, q->ncats);
			assert_true(res.other_cat > 0);
			assert_int_equal(res.other_cat, rep.files[0].other_cat);
			other_cat = res.other_cat;
		}
		free(got);
		engine_result_release(&res);
		engine_report_release(&rep);
	}
	/* The store gives the same answer. */
	snprintf(store, sizeof(store), "%s/store", d->dir);
	paths[0] = d->csv;
	in.threads = 2;
	if (access(store, F_OK) != 0) {
		assert_int_equal(engine_store_ingest(store, &in, &rep),
		    CAIRN_OK);
		engine_report_release(&rep);
	}
	assert_int_equal(engine_store_open(store, &st), CAIRN_OK);
	assert_int_equal(engine_run_store(q, st, 2, &res), CAIRN_OK);
	assert_int_equal(res.other_cat, other_cat);
	got = result_text(&res);
	if (strcmp(got, want) != 0)
		fail_msg("store, kind %s:\n--- engine\n%s--- reference\n%s",
		    qspec_kind_name(q->kind), got, want);
	free(got);
	engine_result_release(&res);
	engine_store_close(st);
	engine_cellmap_free(cm);
	free(want);
}

static const int offsets[] = { 0, 330, -300, 60, -1439, 1439 };

static void
base_query(struct qspec *q, enum qspec_kind kind, int off, int ndays)
{
	memset(q, 0, sizeof(*q));
	q->kind = kind;
	q->start = DAY0;
	q->end = DAY0 + ndays;
	q->utc_offset_min = off;
	q->night_start = 22;
	q->night_end = 6;
	q->k = 3;
}

static void
test_presence(void **state)
{
	for (unsigned seed = 1; seed <= 6; seed++) {
		struct data d;
		struct qspec q;
		int off = offsets[seed % 6];

		gen(&d, seed, 40, off, false);
		write_files(&d, false);
		for (unsigned k = 1; k <= 3; k++) {
			base_query(&q, QSPEC_KIND_PRESENCE, off, 1 + seed % 5);
			q.k = k;
			q.bucket_hour = k == 2;
			check(&d, &q, false);
		}
		remove_files(&d);
	}
}

static void
test_residents(void **state)
{
	for (unsigned seed = 11; seed <= 16; seed++) {
		struct data d;
		struct qspec q;
		int off = offsets[seed % 6];

		gen(&d, seed, 50, off, false);
		write_files(&d, false);
		base_query(&q, QSPEC_KIND_RESIDENTS, off, 1 + seed % 6);
		check(&d, &q, false);
		q.night_start = 20;
		q.night_end = 8;
		check(&d, &q, false);
		/* min_nights: fewer subscribers have a home. */
		for (q.min_nights = 2; q.min_nights <= 3; q.min_nights++)
			check(&d, &q, false);
		remove_files(&d);
	}
}

/*
 * residents' min_nights by hand: s0 is seen on one night only (22:00 and
 * 03:00 the next morning are one night), s1 on two, s2 on three (the
 * first a morning of the window's first day, the night before it).
 */
static void
test_residents_min_nights(void **state)
{
	const int64_t t0 = (int64_t)DAY0 * 86400;
	const struct ref_event ev[] = {
		{ 0, t0 + 22 * 3600, 3, -1 },
		{ 0, t0 + 27 * 3600, 3, -1 },
		{ 1, t0 + 23 * 3600, 7, -1 },
		{ 1, t0 + 47 * 3600, 7, -1 },
		{ 2, t0 + 2 * 3600, 7, -1 },
		{ 2, t0 + 23 * 3600, 7, -1 },
		{ 2, t0 + 46 * 3600, 7, -1 },
	};
	struct qspec q;
	char *out;

	(void)state;
	base_query(&q, QSPEC_KIND_RESIDENTS, 0, 3);
	q.k = 0;
	out = ref_run(&q, ev, 7);
	assert_string_equal(out, "region,count\n3,1\n7,2\n");
	free(out);
	q.min_nights = 2;
	out = ref_run(&q, ev, 7);
	assert_string_equal(out, "region,count\n7,2\n");
	free(out);
	q.min_nights = 3;
	out = ref_run(&q, ev, 7);
	assert_string_equal(out, "region,count\n7,1\n");
	free(out);
	q.min_nights = 4;
	out = ref_run(&q, ev, 7);
	assert_string_equal(out, "region,count\n");
	free(out);
}

static void
test_od(void **state)
{
	for (unsigned seed = 21; seed <= 26; seed++) {
		struct data d;
		struct qspec q;
		int off = offsets[seed % 6];

		gen(&d, seed, 50, off, false);
		write_files(&d, false);
		base_query(&q, QSPEC_KIND_OD, off, 1 + seed % 7);
		check(&d, &q, false);
		remove_files(&d);
	}
}

static void
test_migration(void **state)
{
	for (unsigned seed = 31; seed <= 36; seed++) {
		struct data d;
		struct qspec q;
		int off = offsets[seed % 6];

		gen(&d, seed, 50, off, false);
		write_files(&d, false);
		base_query(&q, QSPEC_KIND_MIGRATION, off, 1);
		q.base[0] = DAY0 - 1;
		q.base[1] = DAY0 + 2;
		q.comp[0] = DAY0 + 1 + seed % 3;
		q.comp[1] = DAY0 + 6;
		check(&d, &q, false);
		remove_files(&d);
	}
}

static void
test_visitors(void **state)
{
	for (unsigned seed = 41; seed <= 46; seed++) {
		struct data d;
		struct qspec q;
		int off = offsets[seed % 6];

		gen(&d, seed, 50, off, false);
		write_files(&d, false);
		for (unsigned k = 1; k <= 2; k++) {
			base_query(&q, QSPEC_KIND_VISITORS, off, 2 + seed % 5);
			q.k = k;
			check(&d, &q, false);
		}
		remove_files(&d);
	}
}

/*
 * displacement against the reference: the baseline before the observation
 * days, overlapping them, and after them (the home is a property of the
 * baseline only, whatever its place).
 */
static void
test_displacement(void **state)
{
	static const int w[3][4] = {
		{ -1, 2, 2, 6 }, { 0, 4, 1, 7 }, { 3, 7, -1, 2 },
	};

	for (unsigned seed = 61; seed <= 66; seed++) {
		struct data d;
		struct qspec q;
		int off = offsets[seed % 6];

		gen(&d, seed, 50, off, false);
		write_files(&d, false);
		for (int v = 0; v < 3; v++) {
			base_query(&q, QSPEC_KIND_DISPLACEMENT, off, 1);
			q.base[0] = DAY0 + w[v][0];
			q.base[1] = DAY0 + w[v][1];
			q.start = DAY0 + w[v][2];
			q.end = DAY0 + w[v][3] - (int)(seed % 2);
			check(&d, &q, false);
		}
		remove_files(&d);
	}
}

/*
 * displacement by hand: home 3 for a (a tie of night events, to the
 * smaller id), 20 for c, none for b (no night event in the baseline);
 * a is not seen on Jan 7; c's Jan 6 is a tie of 3 and 20.
 */
static void
test_displacement_known(void **state)
{
	struct data d;
	struct qspec q;
	struct engine_cellmap *cm;
	struct engine_input in;
	struct engine_report rep;
	struct engine_result res;
	char *paths[1], *got;
	FILE *f;

	(void)state;
	memset(&d, 0, sizeof(d));
	strcpy(d.dir, "/tmp/cairn-test-engine-XXXXXX");
	assert_non_null(mkdtemp(d.dir));
	snprintf(d.csv, sizeof(d.csv), "%s/k.csv", d.dir);
	snprintf(d.cells, sizeof(d.cells), "%s/cells.csv", d.dir);
	f = fopen(d.cells, "w");
	fprintf(f, "cell_id,region_id\nx,20\ny,3\n");
	fclose(f);
	f = fopen(d.csv, "w");
	fprintf(f, "subscriber_id,timestamp,cell_id\n"
	    "a,2026-01-05T23:00:00Z,x\na,2026-01-05T01:00:00Z,y\n"
	    "a,2026-01-06T10:00:00Z,x\na,2026-01-06T11:00:00Z,x\n"
	    "b,2026-01-05T12:00:00Z,x\nb,2026-01-06T12:00:00Z,x\n"
	    "c,2026-01-05T02:00:00Z,x\nc,2026-01-06T12:00:00Z,y\n"
	    "c,2026-01-06T13:00:00Z,x\nc,2026-01-07T09:00:00Z,y\n");
	fclose(f);
	assert_int_equal(engine_cellmap_load(d.cells, &cm), CAIRN_OK);
	memset(&in, 0, sizeof(in));
	paths[0] = d.csv;
	in.paths = paths;
	in.npaths = 1;
	in.cells = cm;
	base_query(&q, QSPEC_KIND_DISPLACEMENT, 0, 2);
	q.start = DAY0 + 1;
	q.end = DAY0 + 3;
	q.base[0] = DAY0;
	q.base[1] = DAY0 + 1;
	assert_int_equal(engine_run_csv(&q, &in, &rep, &res), CAIRN_OK);
	got = result_text(&res);
	assert_string_equal(got, "home,day,region,count\n"
	    "3,2026-01-06,20,1\n3,2026-01-07,none,1\n"
	    "20,2026-01-06,3,1\n20,2026-01-07,3,1\n");
	/* regions x days x (regions + not seen) */
	assert_int_equal(res.ncells, 2 * 2 * 3);
	free(got);
	engine_result_release(&res);
	engine_report_release(&rep);
	engine_cellmap_free(cm);
	remove_files(&d);
}

static int
cmp_cat_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void
test_region_level(void **state)
{
	for (unsigned seed = 51; seed <= 54; seed++) {
		struct data d;
		struct qspec q;
		int off = offsets[seed % 6];

		gen(&d, seed, 40, off, true);
		write_files(&d, true);
		base_query(&q, QSPEC_KIND_POPCAT, off, 1 + seed % 5);
		/* The spec's domain: most of the data's categories (cat0
		 * to cat11), one that no row has, and not cat3 or cat7,
		 * whose rows are counted apart and not read. */
		for (int c = 0; c < 12; c++)
			if (c != 3 && c != 7)
				snprintf(q.cats[q.ncats++], sizeof(q.cats[0]),
				    "cat%d", c);
		snprintf(q.cats[q.ncats++], sizeof(q.cats[0]), "%s", "empty");
		qsort(q.cats, q.ncats, sizeof(q.cats[0]), cmp_cat_name);
		check(&d, &q, true);
		/* the other kinds read region-level input too */
		base_query(&q, QSPEC_KIND_PRESENCE, off, 3);
		check(&d, &q, true);
		base_query(&q, QSPEC_KIND_OD, off, 4);
		check(&d, &q, true);
		remove_files(&d);
	}
}

/* A hand-made case whose answer is known without any implementation. */
static void
test_known_answer(void **state)
{
	struct data d;
	struct qspec q;
	struct engine_cellmap *cm;
	struct engine_input in;
	struct engine_report rep;
	struct engine_result res;
	char *paths[1], *got;
	FILE *f;

	memset(&d, 0, sizeof(d));
	strcpy(d.dir, "/tmp/cairn-test-engine-XXXXXX");
	assert_non_null(mkdtemp(d.dir));
	snprintf(d.csv, sizeof(d.csv), "%s/k.csv", d.dir);
	snprintf(d.cells, sizeof(d.cells), "%s/cells.csv", d.dir);
	f = fopen(d.cells, "w");
	fprintf(f, "\xef\xbb\xbf" "cell_id,region_id\nx,20\ny,3\n");
	fclose(f);
	f = fopen(d.csv, "w");
	/* a: 2 events in 20, 2 in 3 on Jan 5: tie -> region 3 with k=1;
	 * b: one event at 23:59:59 Jan 5 UTC = 00:59:59 Jan 6 at +60. */
	fprintf(f, "\xef\xbb\xbf" "subscriber_id,timestamp,cell_id\n"
	    "a,2026-01-05T08:00:00Z,x\na,2026-01-05T09:00:00Z,y\n"
	    "a,2026-01-05T10:00:00Z,x\na,2026-01-05T11:00:00Z,y\n"
	    "b,2026-01-05T23:59:59Z,x\n");
	fclose(f);
	assert_int_equal(engine_cellmap_load(d.cells, &cm), CAIRN_OK);
	memset(&in, 0, sizeof(in));
	paths[0] = d.csv;
	in.paths = paths;
	in.npaths = 1;
	in.cells = cm;
	base_query(&q, QSPEC_KIND_PRESENCE, 60, 2);
	q.k = 1;
	assert_int_equal(engine_run_csv(&q, &in, &rep, &res), CAIRN_OK);
	got = result_text(&res);
	assert_string_equal(got, "region,bucket,count\n3,2026-01-05,1\n"
	    "20,2026-01-06,1\n");
	assert_int_equal(res.subjects, 2);
	free(got);
	engine_result_release(&res);
	engine_report_release(&rep);
	engine_cellmap_free(cm);
	remove_files(&d);
}

/*
 * population_by_category counts an entity in one cell: its modal (region,
 * category) over the window.  Entity e is in 3 regions x 2 categories
 * (it used to land in all 6 cells); its 2 events in (5, "b") win.  Entity
 * f ties (3, "b") with (5, "a") and (3, "a") - the smaller region wins,
 * then the category first in the spec's list: (3, "a").  Entity g's only
 * events before the window count nowhere, in the store as from CSV.
 */
static void
test_popcat_one_cell(void **state)
{
	struct data d;
	struct qspec q;
	struct engine_cellmap *cm;
	struct engine_input in;
	struct engine_report rep;
	struct engine_result res;
	struct engine_store *st;
	uint32_t ids[3] = { 3, 5, 9 };
	char *paths[1], *got, store[160];
	const char *want = "region,category,count\n3,a,1\n5,b,1\n";
	FILE *f;

	memset(&d, 0, sizeof(d));
	strcpy(d.dir, "/tmp/cairn-test-engine-XXXXXX");
	assert_non_null(mkdtemp(d.dir));
	snprintf(d.csv, sizeof(d.csv), "%s/p.csv", d.dir);
	f = fopen(d.csv, "w");
	assert_non_null(f);
	fprintf(f, "entity_id,timestamp,region_id,category\n"
	    "e,2026-01-05T08:00:00Z,3,a\ne,2026-01-05T09:00:00Z,3,b\n"
	    "e,2026-01-05T10:00:00Z,5,a\ne,2026-01-06T11:00:00Z,5,b\n"
	    "e,2026-01-06T12:00:00Z,9,a\ne,2026-01-06T13:00:00Z,9,b\n"
	    "e,2026-01-06T14:00:00Z,5,b\n"
	    "f,2026-01-05T08:00:00Z,5,a\nf,2026-01-05T09:00:00Z,3,b\n"
	    "f,2026-01-06T10:00:00Z,3,a\n"
	    "g,2026-01-04T10:00:00Z,9,a\n");
	fclose(f);
	assert_int_equal(engine_regions_from_ids(ids, 3, &cm), CAIRN_OK);
	memset(&in, 0, sizeof(in));
	paths[0] = d.csv;
	in.paths = paths;
	in.npaths = 1;
	in.cells = cm;
	base_query(&q, QSPEC_KIND_POPCAT, 0, 2);
	q.k = 1;
	q.ncats = 2;
	strcpy(q.cats[0], "a");
	strcpy(q.cats[1], "b");
	assert_int_equal(engine_run_csv(&q, &in, &rep, &res), CAIRN_OK);
	got = result_text(&res);
	assert_string_equal(got, want);
	free(got);
	engine_result_release(&res);
	engine_report_release(&rep);
	/* the store path shares the kernel */
	snprintf(store, sizeof(store), "%s/store", d.dir);
	assert_int_equal(engine_store_ingest(store, &in, &rep), CAIRN_OK);
	engine_report_release(&rep);
	assert_int_equal(engine_store_open(store, &st), CAIRN_OK);
	assert_int_equal(engine_run_store(&q, st, 1, &res), CAIRN_OK);
	got = result_text(&res);
	assert_string_equal(got, want);
	free(got);
	engine_result_release(&res);
	engine_store_close(st);
	engine_cellmap_free(cm);
	remove_files(&d);
}

/* The noise plan of each kind, from dp_requirement's largest Delta_m. */
static void
test_noise_plan(void **state)
{
	struct qspec q;
	struct node_noise_plan p;

	base_query(&q, QSPEC_KIND_RESIDENTS, 0, 7);
	assert_int_equal(node_noise_plan(&q, 500000000, 1e-6, &p), CAIRN_OK);
	assert_int_equal(p.delta2_sq, 1);
	assert_int_equal(p.sigma2, 1);
	assert_true(p.rho == 0.5);
	assert_true(p.epsilon > 0 && p.ci95 >= 1);
	base_query(&q, QSPEC_KIND_PRESENCE, 0, 7);
	q.k = 3;
	assert_int_equal(node_noise_plan(&q, 500000000, 1e-6, &p), CAIRN_OK);
	assert_int_equal(p.delta2_sq, 21);
	assert_int_equal(p.sigma2, 21);
	q.bucket_hour = true;
	assert_int_equal(node_noise_plan(&q, 500000000, 1e-6, &p), CAIRN_OK);
	assert_int_equal(p.delta2_sq, 3 * 7 * 24);
	base_query(&q, QSPEC_KIND_OD, 0, 7);
	assert_int_equal(node_noise_plan(&q, 100000000, 1e-6, &p), CAIRN_OK);
	assert_int_equal(p.delta2_sq, 6);
	assert_int_equal(p.sigma2, 30);
	assert_true(p.rho <= 0.1);
	assert_int_not_equal(node_noise_plan(&q, 0, 1e-6, &p), CAIRN_OK);
	/* Per data-month: presence by day, k = 1, over local Feb 28 and
	   Mar 1 2026 at UTC+60 (Mar 1 straddles February and March):
	   February's Delta_m^2 = 1 + 2 = 3 sets sigma2, not the
	   whole-subscriber k B = 2 */
	base_query(&q, QSPEC_KIND_PRESENCE, 60, 2);
	q.start = 20512;
	q.end = 20514;
	q.k = 1;
	assert_int_equal(node_noise_plan(&q, 350000000, 1e-6, &p), CAIRN_OK);
	assert_int_equal(p.delta2_sq, 3);
	assert_int_equal(p.sigma2, 5);
	assert_true(p.rho == 0.3);
	/* residents across the boundary: 2 */
	base_query(&q, QSPEC_KIND_RESIDENTS, 60, 2);
	q.start = 20512;
	q.end = 20514;
	assert_int_equal(node_noise_plan(&q, 500000000, 1e-6, &p), CAIRN_OK);
	assert_int_equal(p.delta2_sq, 2);
	assert_int_equal(p.sigma2, 2);
}

/*
 * Every cell of the domain is printed with its interval; the noise has
 * mean about 0 and variance about sigma2 (bounds at 7 standard errors).
 */
static void
test_noise_cells(void **state)
{
	struct data d;
	struct qspec q;
	struct engine_cellmap *cm;
	struct engine_input in;
	struct engine_report rep;
	struct engine_result res;
	struct node_noise_plan p;
	char *paths[1], *text = NULL, *line, *save = NULL;
	size_t len = 0, rows = 0;
	double sum = 0, sq = 0, n;
	FILE *f;

	gen(&d, 99, 60, 0, false);
	write_files(&d, false);
	assert_int_equal(engine_cellmap_load(d.cells, &cm), CAIRN_OK);
	memset(&in, 0, sizeof(in));
	paths[0] = d.csv;
	in.paths = paths;
	in.npaths = 1;
	in.cells = cm;
	base_query(&q, QSPEC_KIND_PRESENCE, 0, 30);
	q.bucket_hour = true;
	q.k = 2;
	assert_int_equal(engine_run_csv(&q, &in, &rep, &res), CAIRN_OK);
	f = open_memstream(&text, &len);
	assert_int_equal(node_noise_write(&res, 1000000000, 1e-6,
	    ENGINE_OUT_CSV, f, &p), CAIRN_OK);
	fclose(f);
	line = strtok_r(text, "\n", &save);
	assert_string_equal(line, "region,bucket,count,ci95_low,ci95_high");
	for (uint64_t id = 0; (line = strtok_r(NULL, "\n", &save)) != NULL;
	    id++) {
		long long v, lo, hi;
		char bucket[32];
		unsigned region;
		double z;

		assert_int_equal(sscanf(line, "%u,%31[^,],%lld,%lld,%lld",
		    &region, bucket, &v, &lo, &hi), 5);
		assert_int_equal(region, res.regions[id / res.nbuckets]);
		assert_int_equal(lo, v - (long long)p.ci95);
		assert_int_equal(hi, v + (long long)p.ci95);
		z = (double)v - (double)engine_result_get(&res, id);
		sum += z;
		sq += z * z;
		rows++;
	}
	assert_int_equal(rows, res.ncells);
	n = (double)rows;
	assert_true(rows > 1000);
	assert_true(fabs(sum / n) < 7 * sqrt((double)p.sigma2 / n));
	assert_true(fabs(sq / n / (double)p.sigma2 - 1) < 7 * sqrt(2 / n));
	free(text);
	engine_result_release(&res);
	engine_report_release(&rep);
	engine_cellmap_free(cm);
	remove_files(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_answer),
		cmocka_unit_test(test_presence),
		cmocka_unit_test(test_residents),
		cmocka_unit_test(test_residents_min_nights),
		cmocka_unit_test(test_od),
		cmocka_unit_test(test_migration),
		cmocka_unit_test(test_visitors),
		cmocka_unit_test(test_displacement),
		cmocka_unit_test(test_displacement_known),
		cmocka_unit_test(test_region_level),
		cmocka_unit_test(test_popcat_one_cell),
		cmocka_unit_test(test_noise_plan),
		cmocka_unit_test(test_noise_cells),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
