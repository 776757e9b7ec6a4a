/*
 * test_synth.c - `cairn synth`: the random streams, the ground truth on
 * hand-made events (ties, midnight and offset boundaries, k = 1, single
 * events), determinism of whole runs, consistency of the truth with the
 * generated rows, and the command's argument errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/timeutil.h"
#include "synth/synth.h"

/* ---- helpers ---------------------------------------------------- */

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static bool
same_file(const char *a, const char *b)
{
	size_t la, lb;
	char *x = slurp(a, &la), *y = slurp(b, &lb);
	bool same = x != NULL && y != NULL && la == lb &&
	    memcmp(x, y, la) == 0;

	free(x);
	free(y);
	return same;
}

static void
mktmp(char *buf, size_t n)
{
	snprintf(buf, n, "/tmp/cairn-test-synth-XXXXXX");
	assert_non_null(mkdtemp(buf));
}

static void
rmtree(const char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static int
run_synth(const char *out, const char *extra)
{
	char *argv[32], buf[512];
	int argc = 0;

	snprintf(buf, sizeof(buf), "synth --out %s --quiet %s", out, extra);
	for (char *t = strtok(buf, " "); t != NULL && argc < 31;
	    t = strtok(NULL, " "))
		argv[argc++] = t;
	argv[argc] = NULL;
	return cmd_synth(argc, argv);
}

/* Sum of the count column of a truth CSV; -1 when it cannot be read. */
static long
csv_total(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[256];
	long total = 0;

	if (f == NULL)
		return -1;
	if (fgets(line, sizeof(line), f) == NULL) {
		fclose(f);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *c = strrchr(line, ',');

		assert_non_null(c);
		total += atol(c + 1);
	}
	fclose(f);
	return total;
}

/* ---- random streams --------------------------------------------- */

static void
test_rng_deterministic(void **state)
{
	uint8_t k1[32], k2[32];
	struct synth_rng a, b;
	uint32_t bulk[3 * 16], one[16];
	bool differ = false;

	synth_key_from_seed(42, k1);
	synth_key_from_seed(43, k2);
	assert_memory_not_equal(k1, k2, 32);
	synth_rng_init(&a, k1, 7);
	synth_rng_init(&b, k1, 7);
	for (int i = 0; i < 100; i++)
		assert_int_equal(synth_rng_u32(&a), synth_rng_u32(&b));
	synth_rng_init(&a, k1, 7);
	synth_rng_init(&b, k1, 8);
	for (int i = 0; i < 8; i++)
		differ |= synth_rng_u32(&a) != synth_rng_u32(&b);
	assert_true(differ);
	/* Item 2 of a bulk draw equals item 2 drawn alone. */
	synth_keystream(k1, 9, 0, 3, 16, bulk);
	synth_keystream(k1, 9, 2, 1, 16, one);
	assert_memory_equal(bulk + 32, one, sizeof(one));
	/* A pre-drawn slice is read first, then the stream. */
	synth_rng_init_pre(&a, k1, 5, one, 2);
	assert_int_equal(synth_rng_u32(&a), one[0]);
	assert_int_equal(synth_rng_u32(&a), one[1]);
	synth_rng_init(&b, k1, 5);
	assert_int_equal(synth_rng_u32(&a), synth_rng_u32(&b));
	for (int i = 0; i < 1000; i++) {
		assert_true(synth_rng_below(&a, 7) < 7);
		assert_true(synth_rng_unit(&a) < 1.0);
	}
}

/* ---- ground truth on hand-made events ------------------------------ */

#define D0	19786		/* 2024-03-04 */
#define T(day, h, m)	(((int64_t)(D0 + (day)) * 86400) + (h) * 3600 + \
	(m) * 60)

static struct synth_query
query(enum synth_kind kind)
{
	struct synth_query q = { 0 };

	q.name = "t";
	q.kind = kind;
	q.start = D0;
	q.end = D0 + 3;
	q.night_start = 22;
	q.night_end = 6;
	q.k = 1;
	return q;
}

static void
test_truth_presence_topk_ties(void **state)
{
	struct synth_query q = query(SYNTH_PRESENCE);
	struct synth_truth t;
	/* Day 0: regions 2 and 1 tie with 2 events, region 0 has 1: k=1
	 * takes region 1 (the smaller of the tie), k=2 regions 1 and 2. */
	struct synth_event ev[] = {
		{ T(0, 9, 0), 2, 0 }, { T(0, 10, 0), 1, 0 },
		{ T(0, 11, 0), 2, 0 }, { T(0, 12, 0), 1, 0 },
		{ T(0, 13, 0), 0, 0 },
		{ T(1, 0, 0), 0, 0 },		/* one event on day 1 */
		{ T(3, 0, 0), 0, 0 },		/* outside the window */
	};

	assert_int_equal(synth_truth_init(&t, &q, 3, 0), CAIRN_OK);
	assert_int_equal(synth_truth_add(&t, ev, 7), CAIRN_OK);
	assert_int_equal(t.cnt[1 * 3 + 0], 1);
	assert_int_equal(t.cnt[2 * 3 + 0], 0);
	assert_int_equal(t.cnt[0 * 3 + 0], 0);
	assert_int_equal(t.cnt[0 * 3 + 1], 1);
	assert_int_equal(t.cnt[0 * 3 + 2], 0);
	synth_truth_release(&t);

	q.k = 2;
	assert_int_equal(synth_truth_init(&t, &q, 3, 0), CAIRN_OK);
	assert_int_equal(synth_truth_add(&t, ev, 7), CAIRN_OK);
	assert_int_equal(t.cnt[1 * 3 + 0], 1);
	assert_int_equal(t.cnt[2 * 3 + 0], 1);
	assert_int_equal(t.cnt[0 * 3 + 0], 0);
	synth_truth_release(&t);
}

static void
test_truth_offset_midnight(void **state)
{
	struct synth_query q = query(SYNTH_PRESENCE);
	struct synth_truth t;
	/* UTC 22:59 on day 0 is local 23:59 (+60): day 0, hour 23; UTC
	 * 23:00 is local 00:00 of day 1. */
	struct synth_event ev[] = {
		{ T(0, 22, 59), 0, 0 }, { T(0, 23, 0), 1, 0 },
		{ T(-1, 23, 30), 1, 0 },	/* local 00:30 of day 0 */
	};

	q.hourly = true;
	q.utc_offset_min = 60;
	assert_int_equal(synth_truth_init(&t, &q, 2, 0), CAIRN_OK);
	assert_int_equal(t.nbuckets, 72);
	assert_int_equal(synth_truth_add(&t, ev, 3), CAIRN_OK);
	/* The function sorted the events in place. */
	assert_true(ev[0].t < ev[1].t && ev[1].t < ev[2].t);
	assert_int_equal(t.cnt[0 * 72 + 23], 1);
	assert_int_equal(t.cnt[1 * 72 + 24], 1);
	assert_int_equal(t.cnt[1 * 72 + 0], 1);
	synth_truth_release(&t);
}

static void
test_truth_residents_night(void **state)
{
	struct synth_query q = query(SYNTH_RESIDENTS);
	struct synth_truth t;
	/* Night is h >= 22 or h < 6: 22:00 and 05:59 count, 06:00 not. */
	struct synth_event a[] = {
		{ T(0, 22, 0), 1, 0 }, { T(1, 5, 59), 1, 0 },
		{ T(1, 6, 0), 0, 0 }, { T(1, 6, 1), 0, 0 },
		{ T(1, 6, 2), 0, 0 },
	};
	struct synth_event b[] = {	/* tie at night: the smaller region */
		{ T(0, 23, 0), 1, 0 }, { T(1, 1, 0), 0, 0 },
	};
	struct synth_event c[] = {	/* no night events: no home */
		{ T(0, 12, 0), 1, 0 },
	};

	assert_int_equal(synth_truth_init(&t, &q, 2, 0), CAIRN_OK);
	assert_int_equal(synth_truth_add(&t, a, 5), CAIRN_OK);
	assert_int_equal(synth_truth_add(&t, b, 2), CAIRN_OK);
	assert_int_equal(synth_truth_add(&t, c, 1), CAIRN_OK);
	assert_int_equal(t.cnt[0], 1);
	assert_int_equal(t.cnt[1], 1);
	synth_truth_release(&t);
}

static void
test_truth_od_migration_visitors(void **state)
{
	struct synth_query q = query(SYNTH_OD);
	struct synth_truth t;
	/* Days 0 and 1 modal 1 then 0 (tie 0/1 on day 1); none on day 2. */
	struct synth_event ev[] = {
		{ T(0, 9, 0), 1, 0 }, { T(1, 9, 0), 1, 0 },
		{ T(1, 10, 0), 0, 0 },
	};
	struct synth_event mv[] = {
		{ T(0, 23, 0), 0, 0 }, { T(2, 23, 0), 1, 0 },
		{ T(2, 12, 0), 0, 0 },
	};
	struct synth_event nohome[] = { { T(1, 12, 0), 1, 0 } };

	assert_int_equal(synth_truth_init(&t, &q, 2, 0), CAIRN_OK);
	assert_int_equal(t.ncells, 2 * 2 * 2);
	assert_int_equal(synth_truth_add(&t, ev, 3), CAIRN_OK);
	assert_int_equal(t.cnt[(0 * 2 + 1) * 2 + 0], 1);
	for (size_t i = 0; i < t.ncells; i++)
		if (i != (0 * 2 + 1) * 2 + 0)
			assert_int_equal(t.cnt[i], 0);
	synth_truth_release(&t);

	q = query(SYNTH_MIGRATION);
	q.base[0] = D0;
	q.base[1] = D0 + 1;
	q.comp[0] = D0 + 1;
	q.comp[1] = D0 + 3;
	assert_int_equal(synth_truth_init(&t, &q, 2, 0), CAIRN_OK);
	assert_int_equal(synth_truth_add(&t, mv, 3), CAIRN_OK);
	assert_int_equal(synth_truth_add(&t, nohome, 1), CAIRN_OK);
	assert_int_equal(t.cnt[0 * 2 + 1], 1);
	assert_int_equal(t.cnt[0] + t.cnt[2] + t.cnt[3], 0);
	synth_truth_release(&t);

	/* Visitors: home 0 (one night at 0 beats... a tie 0/1 goes to 0);
	 * day 2 in region 0 is home, not a visit; region 1 is. */
	q = query(SYNTH_VISITORS);
	q.k = 2;
	assert_int_equal(synth_truth_init(&t, &q, 2, 0), CAIRN_OK);
	assert_int_equal(synth_truth_add(&t, mv, 3), CAIRN_OK);
	assert_int_equal(t.cnt[1 * 3 + 2], 1);
	assert_int_equal(t.cnt[0 * 3 + 2], 0);
	assert_int_equal(t.cnt[0 * 3 + 0], 0);
	/* No home at all: a visitor wherever it is. */
	assert_int_equal(synth_truth_add(&t, nohome, 1), CAIRN_OK);
	assert_int_equal(t.cnt[1 * 3 + 1], 1);
	synth_truth_release(&t);
}

static void
test_truth_population_and_errors(void **state)
{
	struct synth_query q = query(SYNTH_POPULATION);
	struct synth_truth t;
	struct synth_event ev[] = {
		{ T(0, 9, 0), 1, 2 }, { T(1, 9, 0), 1, 2 },
		{ T(1, 9, 0), 0, 2 }, { T(2, 9, 0), 1, 0 },
	};
	struct synth_event bad[] = { { T(0, 9, 0), 5, 0 } };

	assert_int_equal(synth_truth_init(&t, &q, 2, 3), CAIRN_OK);
	assert_int_equal(synth_truth_add(&t, ev, 4), CAIRN_OK);
	/* one cell per entity: its modal (region, category), (1, 2) */
	assert_int_equal(t.cnt[1 * 3 + 2], 1);
	assert_int_equal(t.cnt[0 * 3 + 2], 0);
	assert_int_equal(t.cnt[1 * 3 + 0], 0);
	/* a tie goes to the smaller region, then the smaller category */
	assert_int_equal(synth_truth_add(&t, ev + 2, 2), CAIRN_OK);
	assert_int_equal(t.cnt[0 * 3 + 2], 1);
	assert_int_equal(t.cnt[1 * 3 + 0], 0);
	assert_int_equal(synth_truth_add(&t, bad, 1), CAIRN_ERR_RANGE);
	synth_truth_release(&t);
	synth_truth_release(&t);	/* twice is harmless */

	q.end = q.start;
	assert_int_equal(synth_truth_init(&t, &q, 2, 3), CAIRN_ERR_ARG);
	q = query(SYNTH_PRESENCE);
	q.k = 0;
	assert_int_equal(synth_truth_init(&t, &q, 2, 0), CAIRN_ERR_ARG);
	q = query(SYNTH_MIGRATION);
	assert_int_equal(synth_truth_init(&t, &q, 2, 0), CAIRN_ERR_ARG);
	q = query(SYNTH_POPULATION);
	assert_int_equal(synth_truth_init(&t, &q, 2, 0), CAIRN_ERR_ARG);
}

/* ---- whole runs ---------------------------------------------------- */

static const char *const files[] = {
	"regions.csv", "regions.geojson", "manifest.json",
	"holder1/cells.csv", "holder2/cells.csv",
	"holder1/cdr/2024-03-04.csv", "holder2/cdr/2024-03-06.csv",
	"agency/records.csv", "queries/migration.json",
	"truth/presence_day.csv", "truth/presence_hour.csv",
	"truth/residents.csv", "truth/od.csv", "truth/migration.csv",
	"truth/visitors.csv", "truth/population_by_category.csv",
	"holder1/truth/od.csv", "holder2/truth/visitors.csv",
	"agency/truth/population_by_category.csv",
};
#define NFILES	(sizeof(files) / sizeof(files[0]))
#define SMALL	"--holders 2 --subscribers 300 --days 3 --regions 9"

static void
test_run_deterministic(void **state)
{
	char a[64], b[64], c[64], pa[128], pb[128];

	mktmp(a, sizeof(a));
	mktmp(b, sizeof(b));
	mktmp(c, sizeof(c));
	assert_int_equal(run_synth(a, SMALL " --seed 5"), 0);
	assert_int_equal(run_synth(b, SMALL " --seed 5 --threads 1"), 0);
	assert_int_equal(run_synth(c, SMALL " --seed 6"), 0);
	for (size_t i = 0; i < NFILES; i++) {
		snprintf(pa, sizeof(pa), "%s/%s", a, files[i]);
		snprintf(pb, sizeof(pb), "%s/%s", b, files[i]);
		assert_true(same_file(pa, pb));
	}
	snprintf(pa, sizeof(pa), "%s/holder1/cdr/2024-03-04.csv", a);
	snprintf(pb, sizeof(pb), "%s/holder1/cdr/2024-03-04.csv", c);
	assert_false(same_file(pa, pb));
	snprintf(pa, sizeof(pa), "%s/truth/presence_day.csv", a);
	snprintf(pb, sizeof(pb), "%s/truth/presence_day.csv", c);
	assert_false(same_file(pa, pb));
	rmtree(a);
	rmtree(b);
	rmtree(c);
}

/* Each subscriber's local (day, hour) activity and night days. */
struct sub {
	char		 id[SYNTH_ID_LEN + 1];
	uint32_t	 hours[3];	/* bit h: active in hour h, per day */
	uint8_t		 nights;	/* bit d: a night event on day d */
};

static struct sub *
find_sub(struct sub *s, size_t *n, const char *id)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp(s[i].id, id) == 0)
			return &s[i];
	memset(&s[*n], 0, sizeof(s[*n]));
	memcpy(s[*n].id, id, SYNTH_ID_LEN);
	return &s[(*n)++];
}

static void
test_truth_consistent_with_rows(void **state)
{
	static struct sub subs[400];
	char dir[64], p[160], line[128];
	size_t nsub = 0;
	long per_hour = 0, with_night = 0, both = 0, od = 0, fed, sum;
	const char *days[] = { "2024-03-04", "2024-03-05", "2024-03-06" };

	mktmp(dir, sizeof(dir));
	assert_int_equal(run_synth(dir, SMALL " --seed 9 --holders 1"), 0);
	for (int d = 0; d < 3; d++) {
		FILE *f;

		snprintf(p, sizeof(p), "%s/holder1/cdr/%s.csv", dir, days[d]);
		assert_non_null(f = fopen(p, "r"));
		assert_non_null(fgets(line, sizeof(line), f));
		assert_string_equal(line, "subscriber_id,timestamp,cell_id\n");
		while (fgets(line, sizeof(line), f) != NULL) {
			int64_t t;
			int64_t lt, day;
			unsigned hour;
			struct sub *s;

			assert_int_equal(line[SYNTH_ID_LEN], ',');
			line[SYNTH_ID_LEN] = '\0';
			assert_int_equal(time_parse_iso(line + SYNTH_ID_LEN + 1,
			    20, &t), CAIRN_OK);
			lt = t + 3600;		/* the default +60 minutes */
			day = lt / 86400 - D0;
			hour = (unsigned)(lt % 86400 / 3600);
			/* files are local days */
			assert_int_equal(day, d);
			assert_true(nsub < 400);
			s = find_sub(subs, &nsub, line);
			s->hours[d] |= 1u << hour;
			if (hour >= 22 || hour < 6)
				s->nights |= (uint8_t)(1u << d);
		}
		fclose(f);
	}
	for (size_t i = 0; i < nsub; i++) {
		for (int d = 0; d < 3; d++)
			per_hour += __builtin_popcount(subs[i].hours[d]);
		with_night += subs[i].nights != 0;
		/* Migration: baseline day 0 (days/2 = 1), comparison 1-2. */
		both += (subs[i].nights & 1) && (subs[i].nights & 6);
		for (int d = 0; d + 1 < 3; d++)
			od += subs[i].hours[d] && subs[i].hours[d + 1];
	}
	/* k = 1 per hour: each active (subscriber, hour) counts once. */
	snprintf(p, sizeof(p), "%s/truth/presence_hour.csv", dir);
	assert_int_equal(csv_total(p), per_hour);
	snprintf(p, sizeof(p), "%s/truth/residents.csv", dir);
	assert_int_equal(csv_total(p), with_night);
	snprintf(p, sizeof(p), "%s/truth/migration.csv", dir);
	assert_int_equal(csv_total(p), both);
	snprintf(p, sizeof(p), "%s/truth/od.csv", dir);
	assert_int_equal(csv_total(p), od);
	assert_true(per_hour > 0 && with_night > 0 && both > 0 && od > 0);
	rmtree(dir);

	/* Federation = sum of the holders, for every query (for
	 * population_by_category, over the holders' records.csv). */
	mktmp(dir, sizeof(dir));
	assert_int_equal(run_synth(dir, SMALL " --seed 9 --holders 3"), 0);
	for (size_t i = 9; i < 16; i++) {
		char name[64];

		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		fed = csv_total(p);
		sum = 0;
		snprintf(name, sizeof(name), "%s", files[i] + strlen("truth/"));
		for (int h = 1; h <= 3; h++) {
			snprintf(p, sizeof(p), "%s/holder%d/truth/%s", dir, h,
			    name);
			sum += csv_total(p);
		}
		assert_true(fed > 0);
		assert_int_equal(fed, sum);
	}
	/* The holders' region-level files partition the agency's rows. */
	{
		size_t la = 0, lh = 0, len;
		char *t;

		snprintf(p, sizeof(p), "%s/agency/records.csv", dir);
		assert_non_null(t = slurp(p, &len));
		for (size_t k = 0; k < len; k++)
			la += t[k] == '\n';
		free(t);
		for (int h = 1; h <= 3; h++) {
			snprintf(p, sizeof(p), "%s/holder%d/records.csv", dir, h);
			assert_non_null(t = slurp(p, &len));
			assert_int_equal(strncmp(t, "entity_id,timestamp,"
			    "region_id,category\n", 38), 0);
			for (size_t k = 0; k < len; k++)
				lh += t[k] == '\n';
			lh--;		/* its header */
			free(t);
		}
		assert_true(la > 1);
		assert_int_equal(lh, la - 1);
	}
	rmtree(dir);
}

static void
test_run_variants(void **state)
{
	char a[64], b[64], pa[160], pb[160], cmd[512];
	size_t la, lb;
	char *x, *y;

	/* --gzip writes the same rows, compressed. */
	mktmp(a, sizeof(a));
	mktmp(b, sizeof(b));
	assert_int_equal(run_synth(a, SMALL " --seed 3"), 0);
	assert_int_equal(run_synth(b, SMALL " --seed 3 --gzip --one-file"), 0);
	snprintf(cmd, sizeof(cmd), "cd %s/holder1/cdr && cat 2024-03-04.csv > "
	    "/tmp/x.$$ && tail -q -n +2 2024-03-05.csv 2024-03-06.csv >> "
	    "/tmp/x.$$ && gzip -dc %s/holder1/cdr/cdr.csv.gz | cmp -s - "
	    "/tmp/x.$$; r=$?; rm -f /tmp/x.$$; exit $r", a, b);
	assert_int_equal(system(cmd), 0);
	snprintf(pa, sizeof(pa), "%s/truth/od.csv", a);
	snprintf(pb, sizeof(pb), "%s/truth/od.csv", b);
	assert_true(same_file(pa, pb));
	rmtree(b);

	/* --epoch-timestamps: the same instants as integers. */
	mktmp(b, sizeof(b));
	assert_int_equal(run_synth(b, SMALL " --seed 3 --epoch-timestamps"), 0);
	snprintf(pa, sizeof(pa), "%s/holder1/cdr/2024-03-05.csv", a);
	snprintf(pb, sizeof(pb), "%s/holder1/cdr/2024-03-05.csv", b);
	x = slurp(pa, &la);
	y = slurp(pb, &lb);
	assert_non_null(x);
	assert_non_null(y);
	{
		char *l1 = strchr(x, '\n') + 1, *l2 = strchr(y, '\n') + 1;
		int64_t t1, t2;

		assert_int_equal(time_parse_iso(l1 + SYNTH_ID_LEN + 1, 20, &t1),
		    CAIRN_OK);
		assert_int_equal(time_parse_timestamp(l2 + SYNTH_ID_LEN + 1,
		    10, &t2), CAIRN_OK);
		assert_true(t1 == t2);
		assert_memory_equal(l1, l2, SYNTH_ID_LEN);
	}
	free(x);
	free(y);
	rmtree(b);

	/*
	 * --id-hex 16 and 64: the same rows, each id N lowercase hex digits
	 * ending in the default id, the digits before it not a constant;
	 * the same truth.
	 */
	for (unsigned n = 16; n <= 64; n += 48) {
		char opt[128], *l1, *l2;
		size_t rows = 0, differ = 0;
		char first[SYNTH_ID_MAX];

		mktmp(b, sizeof(b));
		snprintf(opt, sizeof(opt), SMALL " --seed 3 --id-hex %u", n);
		assert_int_equal(run_synth(b, opt), 0);
		snprintf(pa, sizeof(pa), "%s/holder1/cdr/2024-03-05.csv", a);
		snprintf(pb, sizeof(pb), "%s/holder1/cdr/2024-03-05.csv", b);
		x = slurp(pa, &la);
		y = slurp(pb, &lb);
		assert_non_null(x);
		assert_non_null(y);
		l1 = strchr(x, '\n') + 1;
		l2 = strchr(y, '\n') + 1;
		while (*l1 != '\0') {
			char *e1 = strchr(l1, '\n'), *e2 = strchr(l2, '\n');

			assert_non_null(e1);
			assert_non_null(e2);
			assert_int_equal(l2[n], ',');
			for (unsigned i = 0; i < n; i++)
				assert_non_null(strchr("0123456789abcdef",
				    l2[i]));
			assert_memory_equal(l1, l2 + n - SYNTH_ID_LEN,
			    (size_t)(e1 - l1 + 1));
			if (rows == 0)
				memcpy(first, l2, n - SYNTH_ID_LEN);
			else if (memcmp(first, l2, n - SYNTH_ID_LEN) != 0)
				differ++;
			rows++;
			l1 = e1 + 1;
			l2 = e2 + 1;
		}
		assert_int_equal(*l2, '\0');
		assert_int_equal(lb - la, rows * (n - SYNTH_ID_LEN));
		assert_true(rows > 100);
		assert_true(differ > rows / 2);
		snprintf(pa, sizeof(pa), "%s/truth/od.csv", a);
		snprintf(pb, sizeof(pb), "%s/truth/od.csv", b);
		assert_true(same_file(pa, pb));
		free(x);
		free(y);
		rmtree(b);
	}
	rmtree(a);
}

static void
test_args(void **state)
{
	char dir[64], p[128];
	struct synth_opts o;
	FILE *f;

	synth_opts_default(&o);
	o.out = "/tmp/x";
	assert_int_equal(synth_opts_check(&o), CAIRN_OK);
	o.days = 1;
	assert_int_equal(synth_opts_check(&o), CAIRN_ERR_ARG);
	assert_non_null(strstr(cairn_errmsg(), "--days"));
	/* od alone: 365 * 1000^2 cells per holder, over the cap... */
	o.days = 366;
	o.regions = 1000;
	o.holders = 16;
	assert_int_equal(synth_opts_check(&o), CAIRN_ERR_TOOBIG);
	assert_non_null(strstr(cairn_errmsg(), "--no-truth"));
	/* ...unless the truth is not wanted. */
	o.no_truth = true;
	assert_int_equal(synth_opts_check(&o), CAIRN_OK);

	mktmp(dir, sizeof(dir));
	assert_int_equal(run_synth(dir, "--holders 0"), 1);
	assert_int_equal(run_synth(dir, "--holders 17"), 1);
	assert_int_equal(run_synth(dir, "--subscribers 0"), 1);
	assert_int_equal(run_synth(dir, "--subscribers 12x"), 1);
	assert_int_equal(run_synth(dir, "--days 1"), 1);
	assert_int_equal(run_synth(dir, "--regions 1001"), 1);
	assert_int_equal(run_synth(dir, "--start 2024-02-30"), 1);
	assert_int_equal(run_synth(dir, "--utc-offset 900"), 1);
	assert_int_equal(run_synth(dir, "--threads 3"), 1);
	assert_int_equal(run_synth(dir, "--id-hex 9"), 1);
	assert_int_equal(run_synth(dir, "--id-hex 65"), 1);
	assert_int_equal(run_synth(dir, "--bogus"), 1);
	assert_int_equal(run_synth(dir, "extra"), 1);
	{
		char *argv[] = { "synth", "--subscribers", "5", NULL };

		assert_int_equal(cmd_synth(3, argv), 1);	/* no --out */
	}
	/* A folder that is not empty is refused without --force. */
	snprintf(p, sizeof(p), "%s/keep", dir);
	assert_non_null(f = fopen(p, "w"));
	fclose(f);
	assert_int_equal(run_synth(dir, "--subscribers 5"), 1);
	assert_int_equal(run_synth(dir, "--subscribers 5 --force"), 0);
	rmtree(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rng_deterministic),
		cmocka_unit_test(test_truth_presence_topk_ties),
		cmocka_unit_test(test_truth_offset_midnight),
		cmocka_unit_test(test_truth_residents_night),
		cmocka_unit_test(test_truth_od_migration_visitors),
		cmocka_unit_test(test_truth_population_and_errors),
		cmocka_unit_test(test_run_deterministic),
		cmocka_unit_test(test_truth_consistent_with_rows),
		cmocka_unit_test(test_run_variants),
		cmocka_unit_test(test_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
