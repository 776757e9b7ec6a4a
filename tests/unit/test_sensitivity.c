/*
 * test_sensitivity.c - the brute-force check of the charge: on small random
 * data sets that straddle a month boundary, for every query kind (one
 * table, kinds[] below: a new kind adds a row), several parameters and
 * UTC offsets (+60, 0, -300 and +330, where local hours straddle UTC
 * hours), remove each subscriber's records of each UTC month in turn and
 * check that the L2^2 change of the exact output never exceeds the Delta_m^2
 * that dp_requirement() charges that month (0 for a month it does not
 * list).  The output is computed by the real engine (engine_run_csv() on a
 * temporary CSV) and by the reference implementation (engine_ref.c).
 *
 * h holders: a person at h holders is tested by running h independent
 * data sets (one per holder, the same subscriber ids) and summing their
 * outputs, then removing the subscriber's month-m records at every holder
 * at once; the change must stay within h^2 Delta_m^2 (dp_requirement with
 * holders = h).  Negative controls: the same check with the whole-
 * subscriber charge that the code had before (one Delta per kind, the same
 * for every month) and with Delta_m^2 - 1 must find violations.
 *
 * Seeded (libsodium's deterministic stream), a few seconds.
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

#include <sodium.h>

#include "common/err.h"
#include "common/timeutil.h"
#include "node/engine/engine.h"
#include "privacy/dp.h"
#include "protocol/qspec.h"
#include "tests/unit/engine_ref.h"

#define MAXEV		512
#define MAXH		2
#define NSUB		10
#define NREG		3

static const uint32_t regions[NREG] = { 3, 7, 12 };
static const int offsets[] = { 60, 0, -300, 330 };
#define NOFF	(sizeof(offsets) / sizeof(offsets[0]))

/* ---- deterministic randomness ---- */

struct rng {
	unsigned char	buf[4096];
	size_t		pos;
	unsigned char	seed[randombytes_SEEDBYTES];
};

static void
rng_init(struct rng *r, unsigned s)
{
	memset(r->seed, 0, sizeof(r->seed));
	memcpy(r->seed, &s, sizeof(s));
	r->seed[31] = 0x5e;
	randombytes_buf_deterministic(r->buf, sizeof(r->buf), r->seed);
	r->pos = 0;
}

static uint32_t
rnd(struct rng *r, uint32_t n)
{
	uint32_t v;

	if (r->pos + 4 > sizeof(r->buf)) {
		r->seed[30]++;
		randombytes_buf_deterministic(r->buf, sizeof(r->buf), r->seed);
		r->pos = 0;
	}
	memcpy(&v, r->buf + r->pos, 4);
	r->pos += 4;
	return v % n;
}

/* ---- the kinds: one row each ---- */

static int64_t
mar1(void)
{
	return time_days_from_civil(2026, 3, 1);
}

static void
base(struct qspec *q, enum qspec_kind kind, int off, int64_t d0, int64_t d1)
{
	memset(q, 0, sizeof(*q));
	q->kind = kind;
	q->start = d0;
	q->end = d1;
	q->utc_offset_min = off;
	q->night_start = 22;
	q->night_end = 6;
	q->k = 1;
}

/* Windows of 2 and 7 days around 2026-03-01. */
static void
window(int w, int64_t *d0, int64_t *d1)
{
	*d0 = mar1() - (w == 0 ? 1 : 3);
	*d1 = mar1() + (w == 0 ? 1 : 4);
}

static size_t
q_presence(int off, struct qspec *out)
{
	size_t n = 0;
	int64_t d0, d1;

	for (int w = 0; w < 2; w++)
		for (uint32_t k = 1; k <= 2; k++)
			for (int hour = 0; hour < 2; hour++) {
				window(w, &d0, &d1);
				base(&out[n], QSPEC_KIND_PRESENCE, off, d0, d1);
				out[n].k = k;
				out[n++].bucket_hour = hour;
			}
	return n;
}

static size_t
q_visitors(int off, struct qspec *out)
{
	size_t n = 0;
	int64_t d0, d1;

	for (int w = 0; w < 2; w++)
		for (uint32_t k = 1; k <= 2; k++) {
			window(w, &d0, &d1);
			base(&out[n], QSPEC_KIND_VISITORS, off, d0, d1);
			out[n++].k = k;
		}
	return n;
}

static size_t
q_window_only(enum qspec_kind kind, int off, struct qspec *out)
{
	int64_t d0, d1;

	for (int w = 0; w < 2; w++) {
		window(w, &d0, &d1);
		base(&out[w], kind, off, d0, d1);
		if (kind == QSPEC_KIND_POPCAT) {
			out[w].ncats = 3;
			for (int c = 0; c < 3; c++)
				snprintf(out[w].cats[c], sizeof(out[w].cats[c]),
				    "cat%d", c);
		}
	}
	return 2;
}

static size_t
q_od(int off, struct qspec *out)
{
	return q_window_only(QSPEC_KIND_OD, off, out);
}

/* Both windows with any night, then with at least 2 nights (min_nights:
   a subscriber-month's removal can also take a home away). */
static size_t
q_residents(int off, struct qspec *out)
{
	size_t n = q_window_only(QSPEC_KIND_RESIDENTS, off, out);

	for (size_t i = 0; i < n; i++) {
		out[n + i] = out[i];
		out[n + i].min_nights = 2;
	}
	return 2 * n;
}

static size_t
q_popcat(int off, struct qspec *out)
{
	return q_window_only(QSPEC_KIND_POPCAT, off, out);
}

static size_t
q_migration(int off, struct qspec *out)
{
	int64_t m = mar1();
	/* baseline before / comparison across the boundary; both across;
	   and a gap month (February) between January and March windows */
	const int64_t w[3][4] = {
		{ m - 3, m - 1, m - 1, m + 2 },
		{ m - 2, m + 1, m, m + 3 },
		{ m - 33, m - 29, m, m + 3 },
	};

	for (int i = 0; i < 3; i++) {
		base(&out[i], QSPEC_KIND_MIGRATION, off, 0, 0);
		out[i].base[0] = w[i][0];
		out[i].base[1] = w[i][1];
		out[i].comp[0] = w[i][2];
		out[i].comp[1] = w[i][3];
	}
	return 3;
}

/*
 * displacement (start/end the observation days): a baseline in February
 * only with the observation across the boundary; a baseline across it
 * (so the home can move: 2B) with the observation in March; the two
 * windows the same; and a January baseline with a gap before March.
 */
static size_t
q_displacement(int off, struct qspec *out)
{
	int64_t m = mar1();
	const int64_t w[4][4] = {
		{ m - 3, m - 1, m - 1, m + 1 },
		{ m - 2, m + 1, m + 1, m + 3 },
		{ m - 1, m + 1, m - 1, m + 1 },
		{ m - 33, m - 29, m + 1, m + 2 },
	};

	for (int i = 0; i < 4; i++) {
		base(&out[i], QSPEC_KIND_DISPLACEMENT, off, w[i][2], w[i][3]);
		out[i].base[0] = w[i][0];
		out[i].base[1] = w[i][1];
	}
	return 4;
}

#define MAXQ	8

static const struct kind_row {
	enum qspec_kind	kind;
	size_t		(*queries)(int off, struct qspec out[MAXQ]);
} kinds[] = {
	{ QSPEC_KIND_PRESENCE, q_presence },
	{ QSPEC_KIND_RESIDENTS, q_residents },
	{ QSPEC_KIND_OD, q_od },
	{ QSPEC_KIND_MIGRATION, q_migration },
	{ QSPEC_KIND_VISITORS, q_visitors },
	{ QSPEC_KIND_POPCAT, q_popcat },
	{ QSPEC_KIND_DISPLACEMENT, q_displacement },
};
#define NKINDS	(sizeof(kinds) / sizeof(kinds[0]))
_Static_assert(NKINDS == QSPEC_KIND__N, "every kind is in the table");

/* ---- data ---- */

struct holder {
	struct ref_event ev[MAXEV];
	size_t		 n;
};

/*
 * Random events for NSUB subjects around the query's span: half of them
 * within a day and a half of a month boundary the span touches (many on a
 * local midnight or hour edge), the rest anywhere in the span; each
 * subject keeps to 2 favourite regions of 3, so ties and moves are common.
 */
static void
gen(struct holder *hd, struct rng *r, const struct qspec *q)
{
	int64_t d0, d1, s, e, bounds[4];
	size_t nb = 0;

	qspec_span(q, &d0, &d1);
	s = d0 * 86400 - q->utc_offset_min * 60 - 6 * 3600;
	e = d1 * 86400 - q->utc_offset_min * 60 + 6 * 3600;
	for (int64_t day = d0 - 1; day <= d1 + 1 && nb < 4; day++) {
		int64_t y;
		unsigned mo, dd;

		time_civil_from_days(day, &y, &mo, &dd);
		if (dd == 1)
			bounds[nb++] = day * 86400;
	}
	hd->n = 0;
	for (int sub = 0; sub < NSUB; sub++) {
		int nev = 1 + (int)rnd(r, 10);
		uint32_t fav = rnd(r, NREG);

		for (int i = 0; i < nev && hd->n < MAXEV; i++) {
			struct ref_event *x = &hd->ev[hd->n++];
			int64_t t;

			if (nb > 0 && rnd(r, 2) == 0) {
				t = bounds[rnd(r, (uint32_t)nb)] - 36 * 3600 +
				    rnd(r, 72 * 3600);
				/* a local hour edge */
				if (rnd(r, 3) == 0)
					t = (t + q->utc_offset_min * 60) /
					    3600 * 3600 - q->utc_offset_min *
					    60 + (int)rnd(r, 3) - 1;
			} else
				t = s + rnd(r, (uint32_t)(e - s));
			x->sub = sub;
			x->t = t;
			x->region = regions[(fav + rnd(r, 2)) % NREG];
			x->cat = (int)rnd(r, 3);
		}
	}
}

static int32_t
month_of(int64_t t)
{
	int64_t y;
	unsigned m, d;

	time_civil_from_days(time_day_of(t), &y, &m, &d);
	return (int32_t)(y * 12 + (m - 1));
}

/* ---- running a query ---- */

struct out {
	char	 key[512][48];
	long	 count[512];
	size_t	 n;
};

static char tmpdir[64];
static struct engine_cellmap *cellmap;

/* Add the rows of CSV text 'text' (header first) to 'o'. */
static void
out_add(struct out *o, const char *text)
{
	const char *p = strchr(text, '\n');

	assert_non_null(p);
	for (p++; *p != '\0';) {
		const char *nl = strchr(p, '\n'), *comma;
		size_t klen, i;
		long c;

		assert_non_null(nl);
		comma = nl;
		while (comma > p && *comma != ',')
			comma--;
		klen = (size_t)(comma - p);
		assert_true(klen < sizeof(o->key[0]));
		c = strtol(comma + 1, NULL, 10);
		for (i = 0; i < o->n; i++)
			if (strlen(o->key[i]) == klen &&
			    memcmp(o->key[i], p, klen) == 0)
				break;
		if (i == o->n) {
			assert_true(o->n < 512);
			memcpy(o->key[i], p, klen);
			o->key[i][klen] = '\0';
			o->count[i] = 0;
			o->n++;
		}
		o->count[i] += c;
		p = nl + 1;
	}
}

/* L2^2 of a - b. */
static uint64_t
l2sq(const struct out *a, const struct out *b)
{
	uint64_t s = 0;

	for (size_t i = 0; i < a->n; i++) {
		long v = a->count[i];

		for (size_t j = 0; j < b->n; j++)
			if (strcmp(a->key[i], b->key[j]) == 0)
				v -= b->count[j];
		s += (uint64_t)(v * v);
	}
	for (size_t j = 0; j < b->n; j++) {
		bool found = false;

		for (size_t i = 0; i < a->n; i++)
			found |= strcmp(a->key[i], b->key[j]) == 0;
		if (!found)
			s += (uint64_t)(b->count[j] * b->count[j]);
	}
	return s;
}

/* The events of 'hd' without subject 'sub''s records of UTC month 'mo'
   (sub < 0: all). */
static size_t
filter(const struct holder *hd, int sub, int32_t mo, struct ref_event *ev)
{
	size_t n = 0;

	for (size_t i = 0; i < hd->n; i++)
		if (sub < 0 || hd->ev[i].sub != sub ||
		    month_of(hd->ev[i].t) != mo)
			ev[n++] = hd->ev[i];
	return n;
}

/* The exact output of 'q' over 'n' events by the engine, as CSV. */
static char *
engine_text(const struct qspec *q, const struct ref_event *ev, size_t n)
{
	char path[96], *paths[1], *text = NULL;
	struct engine_input in;
	struct engine_report rep;
	struct engine_result res;
	size_t len = 0;
	FILE *f;
	int r;

	snprintf(path, sizeof(path), "%s/in.csv", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "entity_id,timestamp,region_id,category\n");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "s%d,%lld,%u,cat%d\n", ev[i].sub,
		    (long long)ev[i].t, ev[i].region, ev[i].cat);
	fclose(f);
	memset(&in, 0, sizeof(in));
	paths[0] = path;
	in.paths = paths;
	in.npaths = 1;
	in.cells = cellmap;
	in.threads = 1;
	in.part_bits = 2;
	if ((r = engine_run_csv(q, &in, &rep, &res)) != CAIRN_OK)
		fail_msg("engine: %s", cairn_errdesc(r));
	engine_report_release(&rep);
	f = open_memstream(&text, &len);
	assert_non_null(f);
	assert_int_equal(engine_result_write(&res, ENGINE_OUT_CSV, false, NULL,
	    f), CAIRN_OK);
	fclose(f);
	engine_result_release(&res);
	return text;
}

/*
 * The output of 'q' summed over the 'h' holders, each without 'sub''s
 * records of month 'mo', by the engine ('ref' false) or the reference.
 */
static void
run(const struct qspec *q, const struct holder *hd, unsigned h, int sub,
    int32_t mo, bool ref, struct out *o)
{
	static struct ref_event ev[MAXEV];

	memset(o, 0, sizeof(*o));
	for (unsigned i = 0; i < h; i++) {
		size_t n = filter(&hd[i], sub, mo, ev);
		char *t = ref ? ref_run(q, ev, n) : engine_text(q, ev, n);

		out_add(o, t);
		free(t);
	}
}

/* ---- the bounds checked ---- */

/* Delta_m^2 charged to month 'mo' (0 when not read). */
typedef uint64_t (*bound_fn)(const struct qspec *q, unsigned h, int32_t mo);

static uint64_t
bound_charged(const struct qspec *q, unsigned h, int32_t mo)
{
	struct dp_query d;
	struct dp_requirement req;

	assert_int_equal(qspec_dp_query(q, h, &d), CAIRN_OK);
	assert_int_equal(dp_requirement(&d, DP_NANO, 3, 1, 1000, &req),
	    CAIRN_OK);
	for (size_t i = 0; i < req.nmonths; i++)
		if (req.month[i] == mo)
			return req.delta2_sq[i];
	return 0;
}

/* Negative control: one less than charged. */
static uint64_t
bound_minus_one(const struct qspec *q, unsigned h, int32_t mo)
{
	uint64_t b = bound_charged(q, h, mo);

	return b > 0 ? b - 1 : 0;
}

/* Negative control: the whole-subscriber charge of before, the same for
   every month the window touches. */
static uint64_t
bound_old(const struct qspec *q, unsigned h, int32_t mo)
{
	uint64_t days = (uint64_t)(q->end - q->start), cells;

	if (bound_charged(q, h, mo) == 0)
		return 0;
	switch (q->kind) {
	case QSPEC_KIND_PRESENCE:
		cells = q->k * (q->bucket_hour ? 24 * days : days);
		break;
	case QSPEC_KIND_VISITORS:
		cells = q->k * days;
		break;
	case QSPEC_KIND_OD:
		cells = days - 1;
		break;
	case QSPEC_KIND_DISPLACEMENT:
		cells = days;
		break;
	default:
		cells = 1;
	}
	return (uint64_t)h * h * cells;
}

struct tally {
	unsigned	configs, removals, violations, tight;
	char		first[512];
};

/* The bounds every removal is checked against: the charge, then the two
   negative controls. */
static const bound_fn bounds[] = { bound_charged, bound_old,
	bound_minus_one };
#define NBOUNDS	(sizeof(bounds) / sizeof(bounds[0]))

/* Count the removal of 'sub''s month 'mo' that changed L2^2 by 'c'. */
static void
tally(struct tally *t, const struct qspec *q, unsigned h, int sub, int32_t mo,
    uint64_t c, uint64_t b)
{
	t->removals++;
	if (c == b && b > 0)
		t->tight++;
	if (c > b && t->violations++ == 0)
		snprintf(t->first, sizeof(t->first), "%s days [%lld, %lld) "
		    "k=%u hour=%d off=%d h=%u: removing subject %d's month "
		    "%d-%02d changes L2^2 by %llu > %llu",
		    qspec_kind_name(q->kind), (long long)q->start,
		    (long long)q->end, q->k, q->bucket_hour,
		    q->utc_offset_min, h, sub, mo / 12, mo % 12 + 1,
		    (unsigned long long)c, (unsigned long long)b);
}

/*
 * Check every removal of one subject-month of 'q' over the 'h' holders'
 * data against each of bounds[]; count violations in t[].  The engine and
 * the reference must agree on every output.
 */
/* The months where some removal reached the charge exactly. */
struct reached {
	int32_t		mo[8];
	size_t		n;
};

static void
reached_add(struct reached *rc, int32_t mo)
{
	for (size_t i = 0; i < rc->n; i++)
		if (rc->mo[i] == mo)
			return;
	if (rc->n < 8)
		rc->mo[rc->n++] = mo;
}

static void
check_query(const struct qspec *q, const struct holder *hd, unsigned h,
    struct tally t[NBOUNDS], struct reached *rc)
{
	static struct out full, fullref, cut, cutref;

	run(q, hd, h, -1, 0, false, &full);
	run(q, hd, h, -1, 0, true, &fullref);
	assert_int_equal(l2sq(&full, &fullref), 0);
	for (size_t b = 0; b < NBOUNDS; b++)
		t[b].configs++;
	for (int sub = 0; sub < NSUB; sub++) {
		int32_t seen[8];
		size_t nseen = 0;

		for (unsigned i = 0; i < h; i++)
			for (size_t e = 0; e < hd[i].n; e++) {
				int32_t mo = month_of(hd[i].ev[e].t);
				bool dup = false;

				if (hd[i].ev[e].sub != sub)
					continue;
				for (size_t j = 0; j < nseen; j++)
					dup |= seen[j] == mo;
				if (!dup && nseen < 8)
					seen[nseen++] = mo;
			}
		for (size_t j = 0; j < nseen; j++) {
			uint64_t c, cr;

			run(q, hd, h, sub, seen[j], false, &cut);
			run(q, hd, h, sub, seen[j], true, &cutref);
			c = l2sq(&full, &cut);
			cr = l2sq(&fullref, &cutref);
			assert_int_equal(c, cr);
			for (size_t b = 0; b < NBOUNDS; b++)
				tally(&t[b], q, h, sub, seen[j], c,
				    bounds[b](q, h, seen[j]));
			if (c > 0 && c == bound_charged(q, h, seen[j]))
				reached_add(rc, seen[j]);
		}
	}
}

/*
 * displacement's Delta_m^2 is exact, not only a bound: every month it
 * charges was reached by some removal (over the seeds of one variant).
 */
static void
check_reached(const struct qspec *q, const struct reached *rc)
{
	struct dp_query d;
	struct dp_requirement req;

	assert_int_equal(qspec_dp_query(q, 1, &d), CAIRN_OK);
	assert_int_equal(dp_requirement(&d, DP_NANO, 3, 1, 1000, &req),
	    CAIRN_OK);
	for (size_t i = 0; i < req.nmonths; i++) {
		bool hit = false;

		for (size_t j = 0; j < rc->n; j++)
			hit |= rc->mo[j] == req.month[i];
		if (!hit)
			fail_msg("displacement baseline [%lld, %lld) days "
			    "[%lld, %lld) off=%d: month %d-%02d's charge %llu "
			    "was never reached", (long long)q->base[0],
			    (long long)q->base[1], (long long)q->start,
			    (long long)q->end, q->utc_offset_min,
			    req.month[i] / 12, req.month[i] % 12 + 1,
			    (unsigned long long)req.delta2_sq[i]);
	}
}

/*
 * Every offset and variant of kind row 'kind', with h = 1 and (on every
 * other seed) h = 2, over data from 'seeds' seeds.
 */
static void
sweep(size_t kind, unsigned seeds, struct tally t[NBOUNDS])
{
	static struct holder hd[MAXH];
	struct qspec qs[MAXQ];

	memset(t, 0, NBOUNDS * sizeof(*t));
	for (size_t o = 0; o < NOFF; o++) {
		size_t nq = kinds[kind].queries(offsets[o], qs);

		assert_true(nq <= MAXQ);
		for (size_t v = 0; v < nq; v++) {
			struct reached rc = { { 0 }, 0 };

			for (unsigned s = 0; s < seeds; s++) {
				struct rng r;
				unsigned h = s % 2 == 1 ? 2 : 1;

				rng_init(&r, (unsigned)(kind * 10007 +
				    o * 1009 + v * 101 + s));
				for (unsigned i = 0; i < h; i++)
					gen(&hd[i], &r, &qs[v]);
				check_query(&qs[v], hd, h, t, &rc);
			}
			if (kinds[kind].kind == QSPEC_KIND_DISPLACEMENT)
				check_reached(&qs[v], &rc);
		}
	}
}

static int
setup(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/cairn-test-sens-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	return engine_regions_from_ids(regions, NREG, &cellmap) == CAIRN_OK ?
	    0 : -1;
}

static int
teardown(void **state)
{
	char path[96];

	(void)state;
	engine_cellmap_free(cellmap);
	snprintf(path, sizeof(path), "%s/in.csv", tmpdir);
	unlink(path);
	rmdir(tmpdir);
	return 0;
}

/*
 * Removing one subscriber-month never changes more than charged; and the
 * negative controls: the old whole-subscriber charge is exceeded for at
 * least six of the seven kinds, one less than charged for every kind.
 */
static void
test_bruteforce(void **state)
{
	unsigned old_caught = 0;

	(void)state;
	for (size_t k = 0; k < NKINDS; k++) {
		struct tally t[NBOUNDS];

		/* displacement checks every charge is reached: more data */
		sweep(k, kinds[k].kind == QSPEC_KIND_DISPLACEMENT ? 24 : 4, t);
		print_message("%-22s %3u configs %5u removals, %3u at the "
		    "bound, %u over; controls: old charge %u over, "
		    "charge - 1 %u over\n", qspec_kind_name(kinds[k].kind),
		    t[0].configs, t[0].removals, t[0].tight, t[0].violations,
		    t[1].violations, t[2].violations);
		if (t[0].violations > 0)
			fail_msg("%u violations; first: %s", t[0].violations,
			    t[0].first);
		assert_true(t[0].removals > t[0].configs * NSUB / 2);
		assert_true(t[2].violations > 0);
		old_caught += t[1].violations > 0;
	}
	assert_true(old_caught >= 6);
}

/* UTC second of 2026-MM-DD hh:mm. */
static int64_t
at(unsigned mo, unsigned d, unsigned hh, unsigned mm)
{
	return time_days_from_civil(2026, mo, d) * 86400 + hh * 3600 +
	    mm * 60;
}

/*
 * Hand-made moves, all at UTC+60 (local 2026-03-01 starts at 2026-02-28
 * 23:00 UTC, so local March 1 straddles two UTC months), subject 0, regions
 * 3 (A), 7 (B), 12 (C).  Each removes one month and knows the change, the
 * charge and the old whole-subscriber charge it exceeded.
 */
static void
test_known_moves(void **state)
{
	static const struct {
		enum qspec_kind	kind;
		int		d0, d1;	/* days from 2026-03-01 */
		int		b0, b1, c0, c1;	/* migration (b0, b1:
						   displacement's baseline) */
		unsigned	rm;		/* month removed (2 or 3) */
		uint64_t	change, charged, old;
		struct { unsigned mo, d, hh, mm, reg; int cat; } ev[12];
	} cases[] = {
		/* The residents case: 3 night events in A on Feb 28
		   23:10-23:30 UTC, 2 in March in B; without February the
		   home moves from A to B. */
		{ QSPEC_KIND_RESIDENTS, 0, 31, 0, 0, 0, 0, 2, 2, 2, 1, {
		    { 2, 28, 23, 10, 3, 0 }, { 2, 28, 23, 20, 3, 0 },
		    { 2, 28, 23, 30, 3, 0 }, { 3, 5, 23, 0, 7, 0 },
		    { 3, 6, 1, 0, 7, 0 }, { 0, 0, 0, 0, 0, 0 } } },
		/* od over Feb 28 (February only) and Mar 1 (both): without
		   March, Mar 1's day region moves from C to B. */
		{ QSPEC_KIND_OD, -1, 1, 0, 0, 0, 0, 3, 2, 2, 1, {
		    { 2, 27, 23, 30, 3, 0 }, { 2, 28, 23, 10, 7, 0 },
		    { 3, 1, 10, 0, 12, 0 }, { 3, 1, 11, 0, 12, 0 },
		    { 0, 0, 0, 0, 0, 0 } } },
		/* presence by day, k = 1: without February, Feb 28 loses A
		   and Mar 1's top region moves from B to C. */
		{ QSPEC_KIND_PRESENCE, -1, 1, 0, 0, 0, 0, 2, 3, 3, 2, {
		    { 2, 28, 10, 0, 3, 0 }, { 2, 28, 23, 10, 7, 0 },
		    { 2, 28, 23, 20, 7, 0 }, { 3, 1, 10, 0, 12, 0 },
		    { 0, 0, 0, 0, 0, 0 } } },
		/* visitors, k = 1: without March the home moves from A to
		   B (so Feb 28's B stops counting) and Mar 1's top region
		   from C to A. */
		{ QSPEC_KIND_VISITORS, -1, 1, 0, 0, 0, 0, 3, 3, 3, 2, {
		    { 2, 28, 1, 0, 7, 0 }, { 2, 28, 2, 0, 7, 0 },
		    { 2, 28, 23, 10, 3, 0 }, { 3, 1, 1, 0, 3, 0 },
		    { 3, 1, 2, 0, 3, 0 }, { 3, 1, 10, 0, 12, 0 },
		    { 3, 1, 11, 0, 12, 0 }, { 3, 1, 12, 0, 12, 0 },
		    { 3, 1, 13, 0, 12, 0 }, { 0, 0, 0, 0, 0, 0 } } },
		/* migration: baseline Feb 26-28 (February only), comparison
		   Mar 1-3 (both); without March the comparison home moves
		   from C to B. */
		{ QSPEC_KIND_MIGRATION, 0, 0, -3, 0, 0, 3, 3, 2, 2, 1, {
		    { 2, 26, 23, 30, 3, 0 }, { 2, 28, 23, 10, 7, 0 },
		    { 3, 1, 1, 0, 12, 0 }, { 3, 1, 2, 0, 12, 0 },
		    { 0, 0, 0, 0, 0, 0 } } },
		/* population_by_category: without March the modal pair
		   moves from (B, cat1) to (A, cat0). */
		/* displacement: baseline Feb 27 - Mar 1 (both months),
		   observation Mar 2-3; without February the home moves
		   from A to B, and both days' cells (C, not seen) move. */
		{ QSPEC_KIND_DISPLACEMENT, 1, 3, -2, 1, 0, 0, 2, 4, 4, 2, {
		    { 2, 27, 23, 30, 3, 0 }, { 2, 28, 1, 0, 3, 0 },
		    { 3, 1, 1, 0, 7, 0 }, { 3, 2, 10, 0, 12, 0 },
		    { 0, 0, 0, 0, 0, 0 } } },
		{ QSPEC_KIND_POPCAT, -1, 1, 0, 0, 0, 0, 3, 2, 2, 1, {
		    { 2, 28, 10, 0, 3, 0 }, { 2, 28, 11, 0, 3, 0 },
		    { 3, 1, 10, 0, 7, 1 }, { 3, 1, 11, 0, 7, 1 },
		    { 3, 1, 12, 0, 7, 1 }, { 0, 0, 0, 0, 0, 0 } } },
	};
	static struct holder hd;
	struct out full, cut;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct qspec q;
		int64_t m = mar1();
		int32_t mo = 2026 * 12 + (int32_t)cases[i].rm - 1;

		base(&q, cases[i].kind, 60, m + cases[i].d0, m + cases[i].d1);
		if (q.kind == QSPEC_KIND_DISPLACEMENT) {
			q.base[0] = m + cases[i].b0;
			q.base[1] = m + cases[i].b1;
		}
		if (q.kind == QSPEC_KIND_MIGRATION) {
			q.base[0] = m + cases[i].b0;
			q.base[1] = m + cases[i].b1;
			q.comp[0] = m + cases[i].c0;
			q.comp[1] = m + cases[i].c1;
		}
		if (q.kind == QSPEC_KIND_POPCAT) {
			q.ncats = 2;
			strcpy(q.cats[0], "cat0");
			strcpy(q.cats[1], "cat1");
		}
		hd.n = 0;
		for (size_t e = 0; cases[i].ev[e].mo != 0; e++) {
			hd.ev[hd.n].sub = 0;
			hd.ev[hd.n].t = at(cases[i].ev[e].mo, cases[i].ev[e].d,
			    cases[i].ev[e].hh, cases[i].ev[e].mm);
			hd.ev[hd.n].region = cases[i].ev[e].reg;
			hd.ev[hd.n++].cat = cases[i].ev[e].cat;
		}
		for (int ref = 0; ref < 2; ref++) {
			run(&q, &hd, 1, -1, 0, ref, &full);
			run(&q, &hd, 1, 0, mo, ref, &cut);
			if (l2sq(&full, &cut) != cases[i].change)
				fail_msg("%s (%s): change %llu, expected %llu",
				    qspec_kind_name(q.kind), ref ? "reference" :
				    "engine", (unsigned long long)l2sq(&full,
				    &cut), (unsigned long long)cases[i].change);
		}
		assert_int_equal(bound_charged(&q, 1, mo), cases[i].charged);
		assert_int_equal(bound_old(&q, 1, mo), cases[i].old);
		assert_true(cases[i].change > cases[i].old);
		/* h = 2: the charge scales by h^2 */
		assert_int_equal(bound_charged(&q, 2, mo),
		    4 * cases[i].charged);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_moves),
		cmocka_unit_test(test_bruteforce),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
