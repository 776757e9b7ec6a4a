/*
 * synth_truth.c - the ground truth of `cairn synth`: a plain, direct
 * implementation of the query semantics of docs/queries.md, fed one
 * subscriber (or entity) at a time.  It shares no code with the node's
 * engine on purpose: the two are checked against each other.
 *
 * Local time is UTC + utc_offset_minutes; a day is a local calendar date;
 * night is a local hour h with h >= night_start or h < night_end; the
 * modal region is the one with most events, ties to the smaller region
 * (region indexes ascend with region ids).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/timeutil.h"
#include "synth/synth.h"

#define MAX_CELLS	(1ULL << 31)

static int64_t
floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if (a % b != 0 && (a < 0) != (b < 0))
		q--;
	return q;
}

#define MAX_EVENTS	(1u << 24)	/* of one subscriber */

/*
 * The local date and hour of every event (sorted by time, so the date is
 * recomputed only when an event leaves the current day).
 */
static int
localize(struct synth_truth *t, const struct synth_event *ev, size_t n)
{
	int64_t off = (int64_t)t->q->utc_offset_min * 60;
	int64_t d = 0, d0 = 1, d1 = 0;	/* [d0, d1): local seconds of d */

	if (n > MAX_EVENTS)
		return cairn_err(CAIRN_ERR_TOOBIG, "truth %s: %zu events of "
		    "one subscriber", t->q->name, n);
	if (n > t->lcap) {
		size_t cap = n < 256 ? 256 : n;
		int64_t *a = realloc(t->lday, cap * sizeof(*a));
		uint8_t *b;

		if (a == NULL)
			return cairn_err(CAIRN_ERR_NOMEM, "truth events");
		t->lday = a;
		if ((b = realloc(t->lhour, cap)) == NULL)
			return cairn_err(CAIRN_ERR_NOMEM, "truth events");
		t->lhour = b;
		t->lcap = cap;
	}
	for (size_t i = 0; i < n; i++) {
		int64_t lt = ev[i].t + off;

		if (lt < d0 || lt >= d1) {
			d = floordiv(lt, 86400);
			d0 = d * 86400;
			d1 = d0 + 86400;
		}
		t->lday[i] = d;
		t->lhour[i] = (uint8_t)((lt - d0) / 3600);
	}
	return CAIRN_OK;
}

static bool
is_night(unsigned h, unsigned night_start, unsigned night_end)
{
	return h >= night_start || h < night_end;
}

static bool
uses_window(enum synth_kind kind)
{
	return kind != SYNTH_MIGRATION;
}

int
synth_truth_init(struct synth_truth *t, const struct synth_query *q,
    unsigned nreg, unsigned ncat)
{
	uint64_t cells, scratch;

	memset(t, 0, sizeof(*t));
	if (nreg == 0)
		return cairn_err(CAIRN_ERR_ARG, "truth %s: no regions",
		    q->name);
	if (uses_window(q->kind) && q->end <= q->start)
		return cairn_err(CAIRN_ERR_ARG, "truth %s: empty window",
		    q->name);
	if (q->kind == SYNTH_DISPLACEMENT && q->base[1] <= q->base[0])
		return cairn_err(CAIRN_ERR_ARG, "truth %s: empty baseline",
		    q->name);
	if (q->kind == SYNTH_MIGRATION && (q->base[1] <= q->base[0] ||
	    q->comp[1] <= q->comp[0]))
		return cairn_err(CAIRN_ERR_ARG, "truth %s: empty baseline or "
		    "comparison", q->name);
	if ((q->kind == SYNTH_PRESENCE || q->kind == SYNTH_VISITORS) &&
	    q->k == 0)
		return cairn_err(CAIRN_ERR_ARG, "truth %s: k must be >= 1",
		    q->name);
	if (q->kind == SYNTH_POPULATION && ncat == 0)
		return cairn_err(CAIRN_ERR_ARG, "truth %s: no categories",
		    q->name);
	if (uses_window(q->kind) && (uint64_t)(q->end - q->start) >
	    SYNTH_MAX_DAYS * 4)
		return cairn_err(CAIRN_ERR_ARG, "truth %s: window too long",
		    q->name);
	t->q = q;
	t->nreg = nreg;
	t->ncat = ncat;
	t->ndays = uses_window(q->kind) ? (unsigned)(q->end - q->start) : 0;
	scratch = nreg;
	switch (q->kind) {
	case SYNTH_PRESENCE:
		t->nbuckets = t->ndays * (q->hourly ? 24 : 1);
		cells = (uint64_t)nreg * t->nbuckets;
		break;
	case SYNTH_RESIDENTS:
		cells = nreg;
		break;
	case SYNTH_OD:
		cells = (uint64_t)(t->ndays - 1) * nreg * nreg;
		break;
	case SYNTH_MIGRATION:
		cells = (uint64_t)nreg * nreg;
		break;
	case SYNTH_VISITORS:
		cells = (uint64_t)nreg * t->ndays;
		break;
	case SYNTH_POPULATION:
		cells = (uint64_t)nreg * ncat;
		scratch = cells;
		break;
	case SYNTH_DISPLACEMENT:
		cells = (uint64_t)nreg * t->ndays * (nreg + 1);
		break;
	default:
		return cairn_err(CAIRN_ERR_ARG, "truth %s: unknown kind",
		    q->name);
	}
	if (cells >= MAX_CELLS || scratch >= MAX_CELLS)
		return cairn_err(CAIRN_ERR_ARG, "truth %s: domain too large",
		    q->name);
	t->ncells = (size_t)cells;
	t->cnt = calloc(cells ? cells : 1, sizeof(*t->cnt));
	t->scratch = calloc(scratch, sizeof(*t->scratch));
	t->touched = calloc(scratch, sizeof(*t->touched));
	t->daymode = calloc(t->ndays ? t->ndays : 1, sizeof(*t->daymode));
	if (t->cnt == NULL || t->scratch == NULL || t->touched == NULL ||
	    t->daymode == NULL) {
		synth_truth_release(t);
		return cairn_err(CAIRN_ERR_NOMEM, "truth %s: %" PRIu64 " cells",
		    q->name, cells);
	}
	return CAIRN_OK;
}

void
synth_truth_release(struct synth_truth *t)
{
	free(t->cnt);
	free(t->scratch);
	free(t->touched);
	free(t->daymode);
	free(t->lday);
	free(t->lhour);
	t->lday = NULL;
	t->lhour = NULL;
	t->lcap = 0;
	t->cnt = NULL;
	t->scratch = NULL;
	t->touched = NULL;
	t->daymode = NULL;
}

/* Sort by time, stable; linear when already sorted (the usual case). */
static void
sort_events(struct synth_event *ev, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct synth_event x = ev[i];
		size_t j = i;

		if (ev[j - 1].t <= x.t)
			continue;
		while (j > 0 && ev[j - 1].t > x.t) {
			ev[j] = ev[j - 1];
			j--;
		}
		ev[j] = x;
	}
}

/*
 * The modal region of the counts in scratch[] over touched[0..nt): most
 * events, ties to the smaller index.  Clears the counts.
 */
static int32_t
modal(uint32_t *scratch, const uint32_t *touched, size_t nt)
{
	int32_t best = -1;
	uint32_t bestc = 0;

	for (size_t i = 0; i < nt; i++) {
		uint32_t r = touched[i], c = scratch[r];

		if (c > bestc || (c == bestc && (int32_t)r < best)) {
			best = (int32_t)r;
			bestc = c;
		}
		scratch[r] = 0;
	}
	return best;
}

/*
 * Home of a subscriber: the modal region (ties to the smaller index) of
 * its events whose local date is in [first, last) at night.
 */
static int32_t
home(struct synth_truth *t, const struct synth_event *ev, size_t n,
    int64_t first, int64_t last)
{
	size_t nt = 0;

	for (size_t i = 0; i < n; i++) {
		if (t->lday[i] < first || t->lday[i] >= last ||
		    !is_night(t->lhour[i], t->q->night_start, t->q->night_end))
			continue;
		if (t->scratch[ev[i].region]++ == 0)
			t->touched[nt++] = ev[i].region;
	}
	return modal(t->scratch, t->touched, nt);
}

/* Bucket of event i for presence/visitors, or -1 outside the window. */
static int64_t
bucket_of(const struct synth_truth *t, size_t i, bool hourly)
{
	int64_t day = t->lday[i];

	if (day < t->q->start || day >= t->q->end)
		return -1;
	return hourly ? (day - t->q->start) * 24 + t->lhour[i] :
	    day - t->q->start;
}

/*
 * Presence-like counting: per bucket, the subscriber's top-k regions by
 * event count (ties to the smaller index) each get one; with 'home' >= 0
 * (visitors) the home region is left out of the count, not of the top-k;
 * visitors without a home (-1) count everywhere.
 */
static void
add_topk(struct synth_truth *t, const struct synth_event *ev, size_t n,
    bool hourly, unsigned nb, int32_t home)
{
	size_t i = 0;

	while (i < n) {
		int64_t b = bucket_of(t, i, hourly);
		size_t j = i, nt = 0;

		if (b < 0) {
			i++;
			continue;
		}
		while (j < n && bucket_of(t, j, hourly) == b) {
			if (t->scratch[ev[j].region]++ == 0)
				t->touched[nt++] = ev[j].region;
			j++;
		}
		/* Order the touched regions: more events first, then index. */
		for (size_t a = 1; a < nt; a++) {
			uint32_t x = t->touched[a];
			size_t c = a;

			while (c > 0 && (t->scratch[t->touched[c - 1]] <
			    t->scratch[x] || (t->scratch[t->touched[c - 1]] ==
			    t->scratch[x] && t->touched[c - 1] > x))) {
				t->touched[c] = t->touched[c - 1];
				c--;
			}
			t->touched[c] = x;
		}
		for (size_t a = 0; a < nt; a++) {
			uint32_t r = t->touched[a];

			if (a < t->q->k && (home < 0 || r != (uint32_t)home))
				t->cnt[(size_t)r * nb + (size_t)b]++;
			t->scratch[r] = 0;
		}
		i = j;
	}
}

static void
add_od(struct synth_truth *t, const struct synth_event *ev, size_t n)
{
	size_t i = 0, R = t->nreg;

	for (unsigned d = 0; d < t->ndays; d++)
		t->daymode[d] = -1;
	while (i < n) {
		int64_t b = bucket_of(t, i, false);
		size_t j = i, nt = 0;

		if (b < 0) {
			i++;
			continue;
		}
		while (j < n && bucket_of(t, j, false) == b) {
			if (t->scratch[ev[j].region]++ == 0)
				t->touched[nt++] = ev[j].region;
			j++;
		}
		t->daymode[b] = modal(t->scratch, t->touched, nt);
		i = j;
	}
	for (unsigned d = 0; d + 1 < t->ndays; d++) {
		int32_t o = t->daymode[d], e = t->daymode[d + 1];

		if (o >= 0 && e >= 0)
			t->cnt[((size_t)d * R + (size_t)o) * R + (size_t)e]++;
	}
}

/*
 * displacement: a subscriber with a home over the baseline counts once
 * per observation day in (home, day, modal region of the day), or in
 * (home, day, not seen = nreg) on a day without events.
 */
static void
add_displacement(struct synth_truth *t, const struct synth_event *ev,
    size_t n)
{
	int32_t h = home(t, ev, n, t->q->base[0], t->q->base[1]);
	size_t R = t->nreg;

	if (h < 0)
		return;
	/* the events are in time order: one pass fills the day regions */
	for (unsigned d = 0; d < t->ndays; d++)
		t->daymode[d] = (int32_t)R;
	for (size_t i = 0; i < n;) {
		int64_t b = bucket_of(t, i, false);
		size_t j = i, nt = 0;

		if (b < 0) {
			i++;
			continue;
		}
		while (j < n && bucket_of(t, j, false) == b) {
			if (t->scratch[ev[j].region]++ == 0)
				t->touched[nt++] = ev[j].region;
			j++;
		}
		t->daymode[b] = modal(t->scratch, t->touched, nt);
		i = j;
	}
	for (unsigned d = 0; d < t->ndays; d++)
		t->cnt[((size_t)h * t->ndays + d) * (R + 1) +
		    (size_t)t->daymode[d]]++;
}

static void
add_population(struct synth_truth *t, const struct synth_event *ev, size_t n)
{
	size_t nt = 0;

	for (size_t i = 0; i < n; i++) {
		size_t c;

		if (bucket_of(t, i, false) < 0)
			continue;
		c = (size_t)ev[i].region * t->ncat + ev[i].category;
		if (t->scratch[c]++ == 0)
			t->touched[nt++] = (uint32_t)c;
	}
	/* One cell per entity (docs/queries.md): its modal (region,
	   category); cell = region * ncat + category, so the smaller index
	   breaks ties by region, then by category (synth_categories are
	   sorted bytewise, the output's order). */
	if (nt > 0)
		t->cnt[modal(t->scratch, t->touched, nt)]++;
}

int
synth_truth_add(struct synth_truth *t, struct synth_event *ev, size_t n)
{
	const struct synth_query *q = t->q;
	int32_t h1, h2;
	int r;

	for (size_t i = 0; i < n; i++)
		if (ev[i].region >= t->nreg || (q->kind == SYNTH_POPULATION &&
		    ev[i].category >= t->ncat))
			return cairn_err(CAIRN_ERR_RANGE, "truth %s: event "
			    "%zu: region or category index out of range",
			    q->name, i);
	sort_events(ev, n);
	if ((r = localize(t, ev, n)) != CAIRN_OK)
		return r;
	switch (q->kind) {
	case SYNTH_PRESENCE:
		add_topk(t, ev, n, q->hourly, t->nbuckets, -1);
		break;
	case SYNTH_RESIDENTS:
		h1 = home(t, ev, n, q->start, q->end);
		if (h1 >= 0)
			t->cnt[h1]++;
		break;
	case SYNTH_OD:
		add_od(t, ev, n);
		break;
	case SYNTH_MIGRATION:
		h1 = home(t, ev, n, q->base[0], q->base[1]);
		h2 = home(t, ev, n, q->comp[0], q->comp[1]);
		if (h1 >= 0 && h2 >= 0)
			t->cnt[(size_t)h1 * t->nreg + (size_t)h2]++;
		break;
	case SYNTH_VISITORS:
		/* Non-residents: a subscriber without a home is a
		 * visitor wherever it is (DESIGN §4). */
		h1 = home(t, ev, n, q->start, q->end);
		add_topk(t, ev, n, false, t->ndays, h1);
		break;
	case SYNTH_POPULATION:
		add_population(t, ev, n);
		break;
	case SYNTH_DISPLACEMENT:
		add_displacement(t, ev, n);
		break;
	}
	return CAIRN_OK;
}

static uint64_t
sum_cell(const struct synth_truth *const *parts, size_t nparts, size_t c)
{
	uint64_t s = 0;

	for (size_t p = 0; p < nparts; p++)
		s += parts[p]->cnt[c];
	return s;
}

static void
date_str(int64_t day, char buf[static TIME_DATE_LEN])
{
	if (!time_format_date(day, buf))
		strcpy(buf, "0000-00-00");
}

int
synth_truth_write(const struct synth_truth *const *parts, size_t nparts,
    const uint32_t *region_id, const char *const *categories,
    const char *path)
{
	const struct synth_truth *t = parts[0];
	const struct synth_query *q = t->q;
	size_t R = t->nreg;
	char d1[TIME_DATE_LEN];
	uint64_t s;
	FILE *f;
	int r;

	if ((f = fopen(path, "w")) == NULL)
		return cairn_err(CAIRN_ERR_IO, "%s: cannot create", path);
	switch (q->kind) {
	case SYNTH_PRESENCE:
		fputs("region,bucket,count\n", f);
		for (size_t g = 0; g < R; g++)
			for (size_t b = 0; b < t->nbuckets; b++) {
				size_t day = q->hourly ? b / 24 : b;
				char hh[4] = "";

				if ((s = sum_cell(parts, nparts,
				    g * t->nbuckets + b)) == 0)
					continue;
				date_str(q->start + (int64_t)day, d1);
				if (q->hourly)
					snprintf(hh, sizeof(hh), "T%02zu",
					    b % 24);
				fprintf(f, "%" PRIu32 ",%s%s,%" PRIu64 "\n",
				    region_id[g], d1, hh, s);
			}
		break;
	case SYNTH_RESIDENTS:
		fputs("region,count\n", f);
		for (size_t g = 0; g < R; g++)
			if ((s = sum_cell(parts, nparts, g)) != 0)
				fprintf(f, "%" PRIu32 ",%" PRIu64 "\n",
				    region_id[g], s);
		break;
	case SYNTH_OD:
		fputs("day,origin,destination,count\n", f);
		for (size_t d = 0; d + 1 < t->ndays; d++) {
			date_str(q->start + (int64_t)d, d1);
			for (size_t o = 0; o < R; o++)
				for (size_t e = 0; e < R; e++)
					if ((s = sum_cell(parts, nparts,
					    (d * R + o) * R + e)) != 0)
						fprintf(f, "%s,%" PRIu32 ",%"
						    PRIu32 ",%" PRIu64 "\n", d1,
						    region_id[o], region_id[e],
						    s);
		}
		break;
	case SYNTH_MIGRATION:
		fputs("from,to,count\n", f);
		for (size_t o = 0; o < R; o++)
			for (size_t e = 0; e < R; e++)
				if ((s = sum_cell(parts, nparts,
				    o * R + e)) != 0)
					fprintf(f, "%" PRIu32 ",%" PRIu32 ",%"
					    PRIu64 "\n", region_id[o],
					    region_id[e], s);
		break;
	case SYNTH_VISITORS:
		fputs("region,day,count\n", f);
		for (size_t g = 0; g < R; g++)
			for (size_t d = 0; d < t->ndays; d++) {
				if ((s = sum_cell(parts, nparts,
				    g * t->ndays + d)) == 0)
					continue;
				date_str(q->start + (int64_t)d, d1);
				fprintf(f, "%" PRIu32 ",%s,%" PRIu64 "\n",
				    region_id[g], d1, s);
			}
		break;
	case SYNTH_DISPLACEMENT:
		fputs("home,day,region,count\n", f);
		for (size_t h = 0; h < R; h++)
			for (size_t d = 0; d < t->ndays; d++) {
				date_str(q->start + (int64_t)d, d1);
				for (size_t g = 0; g <= R; g++) {
					if ((s = sum_cell(parts, nparts,
					    (h * t->ndays + d) * (R + 1) + g))
					    == 0)
						continue;
					fprintf(f, "%" PRIu32 ",%s,", region_id[h],
					    d1);
					if (g == R)
						fputs("none", f);
					else
						fprintf(f, "%" PRIu32,
						    region_id[g]);
					fprintf(f, ",%" PRIu64 "\n", s);
				}
			}
		break;
	case SYNTH_POPULATION:
		fputs("region,category,count\n", f);
		for (size_t g = 0; g < R; g++)
			for (size_t c = 0; c < t->ncat; c++)
				if ((s = sum_cell(parts, nparts,
				    g * t->ncat + c)) != 0)
					fprintf(f, "%" PRIu32 ",%s,%" PRIu64
					    "\n", region_id[g], categories[c],
					    s);
		break;
	}
	r = ferror(f) ? -1 : 0;
	if (fclose(f) != 0 || r != 0)
		return cairn_err(CAIRN_ERR_IO, "%s: write failed", path);
	return CAIRN_OK;
}

static const char *
kind_name(enum synth_kind kind)
{
	switch (kind) {
	case SYNTH_PRESENCE:
		return "presence";
	case SYNTH_RESIDENTS:
		return "residents";
	case SYNTH_OD:
		return "od";
	case SYNTH_MIGRATION:
		return "migration";
	case SYNTH_VISITORS:
		return "visitors";
	case SYNTH_POPULATION:
		return "population_by_category";
	case SYNTH_DISPLACEMENT:
		return "displacement";
	}
	return "?";
}

int
synth_query_write(const struct synth_query *q, const char *path)
{
	char a[TIME_DATE_LEN], b[TIME_DATE_LEN];
	FILE *f;
	int r;

	if ((f = fopen(path, "w")) == NULL)
		return cairn_err(CAIRN_ERR_IO, "%s: cannot create", path);
	fprintf(f, "{\"kind\": \"%s\"", kind_name(q->kind));
	if (uses_window(q->kind)) {
		date_str(q->start, a);
		date_str(q->end, b);
		fprintf(f, ", \"start\": \"%s\", \"end\": \"%s\"", a, b);
	}
	fprintf(f, ", \"utc_offset_minutes\": %d", q->utc_offset_min);
	if (q->kind == SYNTH_PRESENCE)
		fprintf(f, ", \"bucket\": \"%s\"", q->hourly ? "hour" : "day");
	if (q->kind == SYNTH_PRESENCE || q->kind == SYNTH_VISITORS)
		fprintf(f, ", \"k\": %u", q->k);
	if (q->kind == SYNTH_RESIDENTS || q->kind == SYNTH_MIGRATION ||
	    q->kind == SYNTH_VISITORS || q->kind == SYNTH_DISPLACEMENT)
		fprintf(f, ", \"night_start_hour\": %u, \"night_end_hour\": %u",
		    q->night_start, q->night_end);
	if (q->kind == SYNTH_MIGRATION) {
		date_str(q->base[0], a);
		date_str(q->base[1], b);
		fprintf(f, ", \"baseline\": [\"%s\", \"%s\"]", a, b);
		date_str(q->comp[0], a);
		date_str(q->comp[1], b);
		fprintf(f, ", \"comparison\": [\"%s\", \"%s\"]", a, b);
	}
	if (q->kind == SYNTH_DISPLACEMENT) {
		date_str(q->base[0], a);
		date_str(q->base[1], b);
		fprintf(f, ", \"baseline\": [\"%s\", \"%s\"]", a, b);
	}
	if (q->kind == SYNTH_POPULATION) {
		/* The public category domain (docs/queries.md). */
		fputs(", \"categories\": [", f);
		for (int i = 0; i < SYNTH_NCAT; i++)
			fprintf(f, "%s\"%s\"", i ? ", " : "",
			    synth_categories[i]);
		fputs("]", f);
	}
	fputs("}\n", f);
	r = ferror(f) ? -1 : 0;
	if (fclose(f) != 0 || r != 0)
		return cairn_err(CAIRN_ERR_IO, "%s: write failed", path);
	return CAIRN_OK;
}
