/*
 * engine_ref.c - the reference implementation (see engine_ref.h).  Every
 * quantity is recomputed from the raw events for every subject, day and
 * region it is needed for; slow and obvious on purpose.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/engine_ref.h"

struct ref_row {
	int64_t		a, b, c;	/* sort keys */
	char		cat[32];
	long		count;
};

struct ref_out {
	struct ref_row	*rows;
	size_t		 n;
};

static int64_t
floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t
lday(const struct qspec *q, int64_t t)
{
	return floordiv(t + q->utc_offset_min * 60, 86400);
}

static int
lhour(const struct qspec *q, int64_t t)
{
	int64_t l = t + q->utc_offset_min * 60;

	return (int)(floordiv(l, 3600) - floordiv(l, 86400) * 24);
}

static int64_t
lhourindex(const struct qspec *q, int64_t t)
{
	return floordiv(t + q->utc_offset_min * 60, 3600);
}

static void
add(struct ref_out *o, int64_t a, int64_t b, int64_t c, const char *cat)
{
	for (size_t i = 0; i < o->n; i++)
		if (o->rows[i].a == a && o->rows[i].b == b &&
		    o->rows[i].c == c && strcmp(o->rows[i].cat, cat) == 0) {
			o->rows[i].count++;
			return;
		}
	o->rows = realloc(o->rows, (o->n + 1) * sizeof(*o->rows));
	o->rows[o->n].a = a;
	o->rows[o->n].b = b;
	o->rows[o->n].c = c;
	snprintf(o->rows[o->n].cat, sizeof(o->rows[o->n].cat), "%s", cat);
	o->rows[o->n].count = 1;
	o->n++;
}

static int
cmp_row(const void *x, const void *y)
{
	const struct ref_row *p = x, *q = y;

	if (p->a != q->a)
		return p->a < q->a ? -1 : 1;
	if (p->b != q->b)
		return p->b < q->b ? -1 : 1;
	if (p->c != q->c)
		return p->c < q->c ? -1 : 1;
	return strcmp(p->cat, q->cat);
}

static bool
is_night(const struct qspec *q, int h)
{
	return h >= (int)q->night_start || h < (int)q->night_end;
}

/*
 * The region with most events of subject 's' among events with local day
 * in [d0, d1) (and at night when 'night'); ties to the smaller id.
 * Returns false when there is no such event.
 */
static bool
modal(const struct qspec *q, const struct ref_event *ev, size_t n,
    int s, int64_t d0, int64_t d1, bool night, uint32_t *out)
{
	bool found = false;
	uint32_t best = 0;
	long bestc = 0;

	for (size_t i = 0; i < n; i++) {
		long c = 0;
		int64_t d = lday(q, ev[i].t);

		if (ev[i].sub != s || d < d0 || d >= d1 ||
		    (night && !is_night(q, lhour(q, ev[i].t))))
			continue;
		for (size_t j = 0; j < n; j++) {
			int64_t dj = lday(q, ev[j].t);

			if (ev[j].sub == s && ev[j].region == ev[i].region &&
			    dj >= d0 && dj < d1 &&
			    (!night || is_night(q, lhour(q, ev[j].t))))
				c++;
		}
		if (!found || c > bestc ||
		    (c == bestc && ev[i].region < best)) {
			best = ev[i].region;
			bestc = c;
			found = true;
		}
	}
	*out = best;
	return found;
}

/* Count of subject s's events in region r whose bucket is b. */
static long
bucket_count(const struct qspec *q, const struct ref_event *ev,
    size_t n, int s, uint32_t r, int64_t b, bool hour)
{
	long c = 0;

	for (size_t i = 0; i < n; i++)
		if (ev[i].sub == s && ev[i].region == r &&
		    (hour ? lhourindex(q, ev[i].t) : lday(q, ev[i].t)) == b)
			c++;
	return c;
}

/* Is region r among subject s's top-k regions of bucket b? */
static bool
in_topk(const struct qspec *q, const struct ref_event *ev, size_t n,
    int s, uint32_t r, int64_t b, bool hour)
{
	long mine = bucket_count(q, ev, n, s, r, b, hour);
	uint32_t better = 0, seen[4096];
	size_t nseen = 0;

	if (mine == 0)
		return false;
	/* Count the distinct regions that beat r. */
	for (size_t i = 0; i < n; i++) {
		long c;
		bool dup = false;

		if (ev[i].sub != s || ev[i].region == r ||
		    (hour ? lhourindex(q, ev[i].t) : lday(q, ev[i].t)) != b)
			continue;
		for (size_t j = 0; j < nseen; j++)
			dup |= seen[j] == ev[i].region;
		if (dup)
			continue;
		if (nseen < 4096)
			seen[nseen++] = ev[i].region;
		c = bucket_count(q, ev, n, s, ev[i].region, b, hour);
		if (c > mine || (c == mine && ev[i].region < r))
			better++;
	}
	return better < q->k;
}

/* YYYY-MM-DD of 'days' since 1970-01-01 (days >= 0), by counting. */
static void
time_fmt_ref(int64_t days, char out[32])
{
	static const int ml[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
	    31 };
	int y = 1970, m = 0;

	for (;;) {
		int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

		if (days < 365 + leap)
			break;
		days -= 365 + leap;
		y++;
	}
	for (;; m++) {
		int len = ml[m] + (m == 1 && ((y % 4 == 0 && y % 100 != 0) ||
		    y % 400 == 0));

		if (days < len)
			break;
		days -= len;
	}
	snprintf(out, 32, "%04d-%02d-%02d", y, m + 1, (int)days + 1);
}

char *
ref_run(const struct qspec *q, const struct ref_event *ev, size_t n)
{
	struct ref_out o = { NULL, 0 };
	int maxsub = -1;
	int64_t d0, d1;
	uint32_t regs[4096];
	size_t nregs = 0;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	qspec_span(q, &d0, &d1);
	for (size_t i = 0; i < n; i++) {
		bool dup = false;

		if (ev[i].sub > maxsub)
			maxsub = ev[i].sub;
		for (size_t j = 0; j < nregs; j++)
			dup |= regs[j] == ev[i].region;
		if (!dup && nregs < 4096)
			regs[nregs++] = ev[i].region;
	}
	struct ref_event *all = (struct ref_event *)ev;
	size_t nall = n;
	struct ref_event *mine = malloc((nall + 1) * sizeof(*mine));

	for (int s = 0; s <= maxsub; s++) {
		uint32_t h, h2;
		bool hh, hh2;

		/* Only this subject's events, to keep the loops short. */
		n = 0;
		for (size_t i = 0; i < nall; i++)
			if (all[i].sub == s)
				mine[n++] = all[i];
		ev = mine;

		switch (q->kind) {
		case QSPEC_KIND_PRESENCE:
		case QSPEC_KIND_VISITORS: {
			bool hour = q->kind == QSPEC_KIND_PRESENCE &&
			    q->bucket_hour;
			int64_t b0 = hour ? d0 * 24 : d0, b1 = hour ? d1 * 24 :
			    d1;

			hh = q->kind == QSPEC_KIND_VISITORS &&
			    modal(q, ev, n, s, d0, d1, true, &h);
			for (int64_t b = b0; b < b1; b++)
				for (size_t r = 0; r < nregs; r++) {
					if (!in_topk(q, ev, n, s, regs[r], b,
					    hour))
						continue;
					if (hh && regs[r] == h)
						continue;
					add(&o, regs[r], b, 0, "");
				}
			break;
		}
		case QSPEC_KIND_RESIDENTS: {
			/* min_nights: the distinct nights with a night event
			 * in the window, a morning event counted for the
			 * night before; by brute force over every night. */
			uint32_t nights = 0;

			for (int64_t nt = d0 - 1; nt < d1; nt++) {
				bool seen = false;

				for (size_t i = 0; i < n && !seen; i++) {
					int64_t d = lday(q, ev[i].t);
					int hr = lhour(q, ev[i].t);

					if (ev[i].sub != s || d < d0 ||
					    d >= d1 || !is_night(q, hr))
						continue;
					seen = (hr >= (int)q->night_start &&
					    d == nt) || (hr < (int)q->night_end
					    && d == nt + 1);
				}
				nights += seen;
			}
			if (q->min_nights > 1 && nights < q->min_nights)
				break;
			if (modal(q, ev, n, s, d0, d1, true, &h))
				add(&o, h, 0, 0, "");
			break;
		}
		case QSPEC_KIND_OD:
			for (int64_t d = d0; d + 1 < d1; d++)
				if (modal(q, ev, n, s, d, d + 1, false, &h) &&
				    modal(q, ev, n, s, d + 1, d + 2, false,
				    &h2))
					add(&o, d, h, h2, "");
			break;
		case QSPEC_KIND_MIGRATION:
			hh = modal(q, ev, n, s, q->base[0], q->base[1], true,
			    &h);
			hh2 = modal(q, ev, n, s, q->comp[0], q->comp[1], true,
			    &h2);
			if (hh && hh2)
				add(&o, h, h2, 0, "");
			break;
		case QSPEC_KIND_DISPLACEMENT:
			/* Home over the baseline (night); then every
			 * observation day, its modal region or not seen
			 * (INT64_MAX, printed "none", sorted last). */
			if (!modal(q, ev, n, s, q->base[0], q->base[1], true,
			    &h))
				break;
			for (int64_t d = q->start; d < q->end; d++)
				add(&o, h, d, modal(q, ev, n, s, d, d + 1,
				    false, &h2) ? (int64_t)h2 : INT64_MAX, "");
			break;
		case QSPEC_KIND_POPCAT: {
			/* One cell: the (region, category) with most events
			 * in the window, ties to the smaller region id, then
			 * to the category first in the spec's list. */
			long bestc = 0;
			int bestci = -1;
			uint32_t bestr = 0;

			for (size_t i = 0; i < n; i++) {
				long c = 0;
				int ci;
				char name[32];
				int64_t d = lday(q, ev[i].t);

				if (ev[i].cat < 0 || d < d0 || d >= d1)
					continue;
				snprintf(name, sizeof(name), "cat%d",
				    ev[i].cat);
				/* only the spec's categories are read */
				if ((ci = qspec_cat_index(q, name,
				    strlen(name))) < 0)
					continue;
				for (size_t j = 0; j < n; j++) {
					int64_t dj = lday(q, ev[j].t);

					if (ev[j].region == ev[i].region &&
					    ev[j].cat == ev[i].cat &&
					    dj >= d0 && dj < d1)
						c++;
				}
				if (bestci < 0 || c > bestc || (c == bestc &&
				    (ev[i].region < bestr || (ev[i].region ==
				    bestr && ci < bestci)))) {
					bestc = c;
					bestci = ci;
					bestr = ev[i].region;
				}
			}
			if (bestci >= 0)
				add(&o, bestr, 0, 0, q->cats[bestci]);
			break;
		}
		default:
			break;
		}
	}
	free(mine);
	if (o.n > 0)
		qsort(o.rows, o.n, sizeof(*o.rows), cmp_row);
	f = open_memstream(&text, &len);
	fprintf(f, "%s\n", engine_kind_header(q->kind));
	for (size_t i = 0; i < o.n; i++) {
		struct ref_row *r = &o.rows[i];
		char d[32];

		switch (q->kind) {
		case QSPEC_KIND_PRESENCE:
			if (q->bucket_hour) {
				time_fmt_ref(floordiv(r->b, 24), d);
				fprintf(f, "%lld,%sT%02d,%ld\n",
				    (long long)r->a, d, (int)(r->b -
				    floordiv(r->b, 24) * 24), r->count);
			} else {
				time_fmt_ref(r->b, d);
				fprintf(f, "%lld,%s,%ld\n", (long long)r->a, d,
				    r->count);
			}
			break;
		case QSPEC_KIND_VISITORS:
			time_fmt_ref(r->b, d);
			fprintf(f, "%lld,%s,%ld\n", (long long)r->a, d,
			    r->count);
			break;
		case QSPEC_KIND_RESIDENTS:
			fprintf(f, "%lld,%ld\n", (long long)r->a, r->count);
			break;
		case QSPEC_KIND_OD:
			time_fmt_ref(r->a, d);
			fprintf(f, "%s,%lld,%lld,%ld\n", d, (long long)r->b,
			    (long long)r->c, r->count);
			break;
		case QSPEC_KIND_MIGRATION:
			fprintf(f, "%lld,%lld,%ld\n", (long long)r->a,
			    (long long)r->b, r->count);
			break;
		case QSPEC_KIND_DISPLACEMENT:
			time_fmt_ref(r->b, d);
			if (r->c == INT64_MAX)
				fprintf(f, "%lld,%s,none,%ld\n",
				    (long long)r->a, d, r->count);
			else
				fprintf(f, "%lld,%s,%lld,%ld\n",
				    (long long)r->a, d, (long long)r->c,
				    r->count);
			break;
		case QSPEC_KIND_POPCAT:
			fprintf(f, "%lld,%s,%ld\n", (long long)r->a, r->cat,
			    r->count);
			break;
		default:
			break;
		}
	}
	fclose(f);
	free(o.rows);
	return text;
}
