/*
 * engine.c - the exact aggregation of DESIGN §4.  Events arrive grouped by
 * subject (from CSV one partition of subjects at a time, partition.c),
 * each subject's events are sorted by time and region, and the kind's kernel
 * turns them into cell increments in per-thread accumulators that are
 * summed at the end.  The CSV path and
 * the store path (store.c) share the kernels, so they give the same
 * answers by construction.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "node/engine/engine_int.h"

#define MAX_CELLS	(UINT64_C(1) << 40)

/* ---- plans ---- */

static int
plan_domain(struct engine_plan *p)
{
	uint64_t r = p->nregions;

	switch (p->q.kind) {
	case QSPEC_KIND_PRESENCE:
		p->nbuckets = p->q.bucket_hour ? p->nslots : p->ndays;
		p->ncells = r * p->nbuckets;
		break;
	case QSPEC_KIND_RESIDENTS:
		p->ncells = r;
		break;
	case QSPEC_KIND_OD:
		p->ncells = (uint64_t)(p->ndays - 1) * r * r;
		break;
	case QSPEC_KIND_MIGRATION:
		p->ncells = r * r;
		break;
	case QSPEC_KIND_VISITORS:
		p->ncells = r * p->ndays;
		break;
	case QSPEC_KIND_POPCAT:
		p->ncells = r * p->ncats;
		break;
	case QSPEC_KIND_DISPLACEMENT:
		p->nbuckets = (uint64_t)(p->q.end - p->q.start);
		p->ncells = r * p->nbuckets * (r + 1);
		break;
	default:
		return CAIRN_ERR_INTERNAL;
	}
	if (p->ncells > MAX_CELLS)
		return cairn_err(CAIRN_ERR_TOOBIG, "the output domain has more "
		    "than 2^40 cells");
	return CAIRN_OK;
}

int
engine_plan_init(struct engine_plan *p, const struct qspec *q,
    uint32_t nregions)
{
	memset(p, 0, sizeof(*p));
	p->q = *q;
	qspec_span(q, &p->d0, &p->d1);
	p->off = (int64_t)q->utc_offset_min * 60;
	p->nregions = nregions;
	while (p->rb < 32 && (UINT64_C(1) << p->rb) < nregions)
		p->rb++;
	p->rmask = (uint32_t)((UINT64_C(1) << p->rb) - 1);
	p->ndays = (size_t)(p->d1 - p->d0);
	p->nslots = (uint32_t)(p->ndays * 24);
	p->day0 = p->d0;
	if (nregions == 0)
		return cairn_err(CAIRN_ERR_ARG, "no regions");
	if (q->kind == QSPEC_KIND_POPCAT) {
		/* The category domain is public: the spec's list. */
		if (q->ncats == 0)
			return cairn_err(CAIRN_ERR_ARG,
			    "population_by_category "
			    "needs the spec's categories");
		if (((uint64_t)q->ncats << p->rb) > (UINT64_C(1) << 32))
			return cairn_err(CAIRN_ERR_TOOBIG, "%u categories over "
			    "%u regions do not fit the event word", q->ncats,
			    nregions);
		p->ncats = q->ncats;
	} else if (((uint64_t)p->nslots << p->rb) > (UINT64_C(1) << 32))
		return cairn_err(CAIRN_ERR_TOOBIG, "%zu days over %u regions "
		    "do not fit the event word: shorten the window",
		    p->ndays, nregions);
	for (unsigned h = 0; h < 24; h++)
		p->night[h] = h >= q->night_start || h < q->night_end;
	p->night_only = q->kind == QSPEC_KIND_RESIDENTS ||
	    q->kind == QSPEC_KIND_MIGRATION;
	return plan_domain(p);
}

/* ---- sorting ---- */

void
engine_sort_u32(uint32_t *v, size_t n, uint32_t *scratch)
{
	if (n <= 256) {
		for (size_t i = 1; i < n; i++) {
			uint32_t x = v[i];
			size_t j = i;

			while (j > 0 && v[j - 1] > x) {
				v[j] = v[j - 1];
				j--;
			}
			v[j] = x;
		}
		return;
	}
	/* LSD radix, 4 passes of 8 bits; an even count ends back in v. */
	uint32_t *src = v, *dst = scratch;

	for (unsigned sh = 0; sh < 32; sh += 8) {
		size_t cnt[256] = { 0 }, sum = 0;

		for (size_t i = 0; i < n; i++)
			cnt[src[i] >> sh & 0xff]++;
		if (cnt[src[0] >> sh & 0xff] == n)
			continue;
		for (int b = 0; b < 256; b++) {
			size_t c = cnt[b];

			cnt[b] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			dst[cnt[src[i] >> sh & 0xff]++] = src[i];
		uint32_t *t = src;

		src = dst;
		dst = t;
	}
	if (src != v)
		memcpy(v, src, n * sizeof(*v));
}

/* ---- accumulators ---- */

int
engine_acc_init(struct engine_acc *a, uint64_t ncells)
{
	memset(a, 0, sizeof(*a));
	a->ncells = ncells;
	if (ncells <= ACC_DENSE_MAX && (a->dense = calloc(ncells ? ncells : 1,
	    sizeof(uint32_t))) == NULL)
		return CAIRN_ERR_NOMEM;
	return CAIRN_OK;
}

void
engine_acc_release(struct engine_acc *a)
{
	free(a->dense);
	free(a->ids);
	free(a->tmp);
	free(a->tmp2);
	memset(a, 0, sizeof(*a));
}

int
engine_acc_scratch(struct engine_acc *a, size_t n)
{
	uint32_t *t1, *t2;

	if (n <= a->tmpcap)
		return CAIRN_OK;
	if ((t1 = realloc(a->tmp, n * sizeof(uint32_t))) == NULL)
		return CAIRN_ERR_NOMEM;
	a->tmp = t1;
	if ((t2 = realloc(a->tmp2, n * sizeof(uint32_t))) == NULL)
		return CAIRN_ERR_NOMEM;
	a->tmp2 = t2;
	a->tmpcap = n;
	return CAIRN_OK;
}

static inline void
acc_add(struct engine_acc *a, uint64_t id)
{
	if (a->dense != NULL) {
		a->dense[id]++;
		return;
	}
	if (a->nids == a->capids) {
		size_t nc = a->capids ? a->capids * 2 : 1 << 16;
		uint64_t *n;

		if ((n = realloc(a->ids, nc * sizeof(*n))) == NULL) {
			a->err = CAIRN_ERR_NOMEM;
			return;
		}
		a->ids = n;
		a->capids = nc;
	}
	a->ids[a->nids++] = id;
}

static int
cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

int
engine_acc_finish(struct engine_acc *a, size_t n, struct engine_result *res)
{
	size_t nnz = 0, cap = 0;
	struct engine_cell *cells = NULL;

	for (size_t t = 0; t < n; t++)
		if (a[t].err != CAIRN_OK)
			return a[t].err;
	if (a[0].dense != NULL) {
		for (size_t t = 1; t < n; t++)
			for (uint64_t i = 0; i < a[0].ncells; i++)
				a[0].dense[i] += a[t].dense[i];
		for (uint64_t i = 0; i < a[0].ncells; i++)
			nnz += a[0].dense[i] != 0;
		if ((cells = malloc((nnz ? nnz : 1) * sizeof(*cells))) == NULL)
			return CAIRN_ERR_NOMEM;
		nnz = 0;
		for (uint64_t i = 0; i < a[0].ncells; i++)
			if (a[0].dense[i] != 0) {
				cells[nnz].id = i;
				cells[nnz++].count = a[0].dense[i];
			}
	} else {
		size_t total = 0, k = 0;
		uint64_t *all;

		for (size_t t = 0; t < n; t++)
			total += a[t].nids;
		if ((all = malloc((total ? total : 1) * sizeof(*all))) == NULL)
			return CAIRN_ERR_NOMEM;
		for (size_t t = 0; t < n; t++) {
			if (a[t].nids > 0)
				memcpy(all + k, a[t].ids, a[t].nids *
				    sizeof(*all));
			k += a[t].nids;
		}
		if (total > 0)
			qsort(all, total, sizeof(*all), cmp_u64);
		for (size_t i = 0; i < total; i++) {
			if (nnz > 0 && cells[nnz - 1].id == all[i]) {
				cells[nnz - 1].count++;
				continue;
			}
			if (nnz == cap) {
				size_t nc = cap ? cap * 2 : 1024;
				struct engine_cell *nce;

				if ((nce = realloc(cells, nc * sizeof(*nce))) ==
				    NULL) {
					free(all);
					free(cells);
					return CAIRN_ERR_NOMEM;
				}
				cells = nce;
				cap = nc;
			}
			cells[nnz].id = all[i];
			cells[nnz++].count = 1;
		}
		free(all);
	}
	res->subjects = 0;
	for (size_t t = 0; t < n; t++)
		res->subjects += a[t].subjects;
	res->cells = cells;
	res->nnz = nnz;
	return CAIRN_OK;
}

/* ---- kernels ---- */

/* The modal value of 'v' (sorted in place); ties to the smallest. */
static uint32_t
modal(uint32_t *v, size_t n, uint32_t *scratch)
{
	uint32_t best = v[0];
	size_t bestc = 0;

	engine_sort_u32(v, n, scratch);
	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j < n && v[j] == v[i])
			j++;
		if (j - i > bestc) {
			bestc = j - i;
			best = v[i];
		}
		i = j;
	}
	return best;
}

/*
 * Regions 'v' (sorted) of one subject in one bucket: add the bucket's
 * top-k regions by events (ties to the smaller region) to the cells
 * region * stride + b, skipping region 'skip'.
 */
static void
topk(const struct engine_plan *p, uint32_t *v, size_t n, uint32_t *cnt,
    uint64_t stride, uint64_t b, uint32_t skip, struct engine_acc *a)
{
	size_t np = 0;

	/* Run-length encode in place: v[i] region, cnt[i] events. */
	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j < n && v[j] == v[i])
			j++;
		v[np] = v[i];
		cnt[np++] = (uint32_t)(j - i);
		i = j;
	}
	if (np <= p->q.k) {
		for (size_t i = 0; i < np; i++)
			if (v[i] != skip)
				acc_add(a, (uint64_t)v[i] * stride + b);
		return;
	}
	for (uint32_t round = 0; round < p->q.k; round++) {
		size_t best = np;

		for (size_t i = 0; i < np; i++)
			if (cnt[i] > 0 && (best == np || cnt[i] > cnt[best]))
				best = i;
		if (v[best] != skip)
			acc_add(a, (uint64_t)v[best] * stride + b);
		cnt[best] = 0;
	}
}

/* Presence over days or hours; skip the region 'skip' (visitors). */
static void
presence(const struct engine_plan *p, const uint32_t *w, size_t n, bool hour,
    uint64_t stride, uint32_t skip, struct engine_acc *a)
{
	uint32_t *tmp = a->tmp, *tmp2 = a->tmp2;

	for (size_t i = 0; i < n;) {
		uint32_t b = w[i] >> p->rb;
		size_t j = i, m = 0;

		if (!hour)
			b /= 24;
		while (j < n && (hour ? w[j] >> p->rb :
		    (w[j] >> p->rb) / 24) == b)
			tmp[m++] = w[j++] & p->rmask;
		if (!hour)
			engine_sort_u32(tmp, m, tmp2);
		topk(p, tmp, m, tmp2, stride, b, skip, a);
		i = j;
	}
}

/* Night modal region over local days [from, to) of the window, or -1. */
static int64_t
night_home(const struct engine_plan *p, const uint32_t *w, size_t n,
    uint32_t from, uint32_t to, struct engine_acc *a)
{
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		uint32_t slot = w[i] >> p->rb, day = slot / 24;

		if (day >= from && day < to && p->night[slot % 24])
			a->tmp[m++] = w[i] & p->rmask;
	}
	if (m == 0)
		return -1;
	return modal(a->tmp, m, a->tmp2);
}

/*
 * displacement (docs/queries.md): a subject with a home (night modal
 * region over the baseline) counts once per observation day, in the cell
 * (home, day, day region) or (home, day, not seen) for a day without
 * events; the day region is the modal region of all the day's events, as
 * for od.  Cells are (home * B + day) * (R + 1) + region, not seen = R.
 */
static void
displacement(const struct engine_plan *p, const uint32_t *w, size_t n,
    struct engine_acc *a)
{
	uint64_t R = p->nregions, B = p->nbuckets;
	uint32_t obs0 = (uint32_t)(p->q.start - p->d0);
	int64_t h;
	size_t i = 0;

	h = night_home(p, w, n, (uint32_t)(p->q.base[0] - p->d0),
	    (uint32_t)(p->q.base[1] - p->d0), a);
	if (h < 0)
		return;
	for (uint64_t o = 0; o < B; o++) {
		uint32_t day = obs0 + (uint32_t)o;
		uint64_t g = R;
		size_t m = 0;

		/* w is sorted by slot, so the days come in order */
		while (i < n && (w[i] >> p->rb) / 24 < day)
			i++;
		while (i < n && (w[i] >> p->rb) / 24 == day)
			a->tmp[m++] = w[i++] & p->rmask;
		if (m > 0)
			g = modal(a->tmp, m, a->tmp2);
		acc_add(a, ((uint64_t)h * B + o) * (R + 1) + g);
	}
}

/*
 * The distinct nights on which the subject was seen at night in local days
 * [from, to) of the window: an event before night_end belongs to the
 * night that began the day before.  'w' is sorted, so the nights come in
 * order.
 */
static uint32_t
nights_seen(const struct engine_plan *p, const uint32_t *w, size_t n,
    uint32_t from, uint32_t to)
{
	int64_t last = INT64_MIN;
	uint32_t k = 0;

	for (size_t i = 0; i < n; i++) {
		uint32_t slot = w[i] >> p->rb, day = slot / 24, h = slot % 24;
		int64_t night;

		if (day < from || day >= to || !p->night[h])
			continue;
		night = (int64_t)day - (h < p->q.night_end ? 1 : 0);
		if (night != last) {
			k++;
			last = night;
		}
	}
	return k;
}

void
engine_kernel_subject(const struct engine_plan *p, uint32_t *w, size_t n,
    struct engine_acc *a)
{
	uint64_t R = p->nregions;
	int64_t h, h2;

	if (n == 0)
		return;
	a->subjects++;
	engine_sort_u32(w, n, a->tmp);
	switch (p->q.kind) {
	case QSPEC_KIND_PRESENCE:
		presence(p, w, n, p->q.bucket_hour, p->nbuckets, UINT32_MAX,
		    a);
		break;
	case QSPEC_KIND_RESIDENTS:
		/* Seen on too few nights: no home, not counted. */
		if (p->q.min_nights > 1 && nights_seen(p, w, n, 0,
		    (uint32_t)p->ndays) < p->q.min_nights)
			break;
		if ((h = night_home(p, w, n, 0, (uint32_t)p->ndays, a)) >= 0)
			acc_add(a, (uint64_t)h);
		break;
	case QSPEC_KIND_OD: {
		int64_t prevday = -2;
		uint32_t prev = 0;

		for (size_t i = 0; i < n;) {
			uint32_t day = (w[i] >> p->rb) / 24, reg;
			size_t j = i, m = 0;

			while (j < n && (w[j] >> p->rb) / 24 == day)
				a->tmp[m++] = w[j++] & p->rmask;
			reg = modal(a->tmp, m, a->tmp2);
			if ((int64_t)day == prevday + 1)
				acc_add(a, ((uint64_t)prevday * R + prev) * R +
				    reg);
			prevday = day;
			prev = reg;
			i = j;
		}
		break;
	}
	case QSPEC_KIND_MIGRATION:
		h = night_home(p, w, n, (uint32_t)(p->q.base[0] - p->d0),
		    (uint32_t)(p->q.base[1] - p->d0), a);
		h2 = night_home(p, w, n, (uint32_t)(p->q.comp[0] - p->d0),
		    (uint32_t)(p->q.comp[1] - p->d0), a);
		if (h >= 0 && h2 >= 0)
			acc_add(a, (uint64_t)h * R + (uint64_t)h2);
		break;
	case QSPEC_KIND_VISITORS:
		h = night_home(p, w, n, 0, (uint32_t)p->ndays, a);
		presence(p, w, n, false, p->ndays, h >= 0 ? (uint32_t)h :
		    UINT32_MAX, a);
		break;
	case QSPEC_KIND_DISPLACEMENT:
		displacement(p, w, n, a);
		break;
	case QSPEC_KIND_POPCAT: {
		/*
		 * One cell per entity (docs/queries.md): its modal (region,
		 * category) by events over the window; ties to the smaller
		 * region id, then to the category first in the spec's list.
		 * The words are category << rb | region, sorted.
		 */
		uint32_t best = w[0];
		size_t bestc = 0;

		for (size_t i = 0; i < n;) {
			size_t j = i;

			while (j < n && w[j] == w[i])
				j++;
			if (j - i > bestc || (j - i == bestc &&
			    ((w[i] & p->rmask) < (best & p->rmask) ||
			    ((w[i] & p->rmask) == (best & p->rmask) &&
			    w[i] >> p->rb < best >> p->rb)))) {
				bestc = j - i;
				best = w[i];
			}
			i = j;
		}
		acc_add(a, (uint64_t)(best & p->rmask) * p->ncats +
		    (best >> p->rb));
		break;
	}
	default:
		break;
	}
}

/* ---- results ---- */

int
engine_result_init(struct engine_result *res, const struct engine_plan *p,
    const uint32_t *regions)
{
	memset(res, 0, sizeof(*res));
	res->query = p->q;
	res->nregions = p->nregions;
	if ((res->regions = malloc(p->nregions * sizeof(uint32_t))) == NULL)
		return CAIRN_ERR_NOMEM;
	memcpy(res->regions, regions, p->nregions * sizeof(uint32_t));
	res->ndays = p->ndays;
	res->day0 = p->d0;
	res->nbuckets = p->nbuckets;
	res->ncells = p->ncells;
	return CAIRN_OK;
}

int
engine_result_cats(struct engine_result *res, const struct qspec *q)
{
	if (q->kind != QSPEC_KIND_POPCAT)
		return CAIRN_OK;
	if ((res->cats = calloc(q->ncats, sizeof(char *))) == NULL)
		return CAIRN_ERR_NOMEM;
	for (uint32_t i = 0; i < q->ncats; i++) {
		if ((res->cats[i] = strdup(q->cats[i])) == NULL)
			return CAIRN_ERR_NOMEM;
		res->ncats = i + 1;
	}
	return CAIRN_OK;
}

void
engine_result_release(struct engine_result *res)
{
	free(res->regions);
	for (size_t i = 0; i < res->ncats; i++)
		free(res->cats[i]);
	free(res->cats);
	free(res->cells);
	memset(res, 0, sizeof(*res));
}

uint64_t
engine_result_get(const struct engine_result *res, uint64_t id)
{
	size_t lo = 0, hi = res->nnz;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (res->cells[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < res->nnz && res->cells[lo].id == id ? res->cells[lo].count :
	    0;
}

/* ---- the CSV path ---- */

struct csv_job {
	const struct engine_plan	*p;
	struct engine_parse_out	*po;
	atomic_uint		*next;		/* next partition to take */
	atomic_uint_fast64_t	*subjects;	/* over every partition */
	struct engine_part_group	 g;
	struct engine_acc		 acc;
	int			 err;
	char			 errmsg[256];	/* the detail, for the caller's
						   thread */
};

/*
 * Take partitions until none is left: group each by subject, run the
 * kernel on every subject.  Any thread may take any partition, and the
 * accumulators are sums, so the result does not depend on who took what.
 */
static void *
csv_job_run(void *arg)
{
	struct csv_job *j = arg;
	struct engine_parse_out *po = j->po;
	uint32_t part;

	while (j->err == CAIRN_OK &&
	    (part = atomic_fetch_add(j->next, 1)) < po->nparts) {
		struct engine_part_group *g = &j->g;

		if ((j->err = engine_part_group(g, po, part)) != CAIRN_OK)
			break;
		if (atomic_fetch_add(j->subjects, g->nsubs) + g->nsubs >
		    po->max_subjects) {
			j->err = cairn_err(CAIRN_ERR_TOOBIG, "more than %u "
			    "distinct keys", po->max_subjects);
			break;
		}
		for (uint32_t s = 0; s < g->nsubs; s++) {
			size_t n = (size_t)(g->off[s + 1] - g->off[s]);

			if ((j->err = engine_acc_scratch(&j->acc, n)) !=
			    CAIRN_OK)
				break;
			engine_kernel_subject(j->p, g->grouped + g->off[s], n,
			    &j->acc);
		}
	}
	/* the others stop at their next partition */
	if (j->err != CAIRN_OK) {
		snprintf(j->errmsg, sizeof(j->errmsg), "%s",
		    cairn_errdesc(j->err));
		atomic_store(j->next, po->nparts);
	}
	return NULL;
}

int
engine_run_csv(const struct qspec *q, const struct engine_input *in,
    struct engine_report *rep, struct engine_result *res)
{
	struct engine_plan p;
	struct engine_parse_out po;
	struct csv_job jobs[64];
	struct engine_acc accs[64];
	pthread_t tid[64];
	unsigned T = 0, started = 0;
	atomic_uint next = 0;
	atomic_uint_fast64_t subjects = 0;
	int r;

	memset(&po, 0, sizeof(po));
	memset(jobs, 0, sizeof(jobs));
	memset(rep, 0, sizeof(*rep));
	if ((r = engine_plan_init(&p, q,
	    (uint32_t)engine_cellmap_nregions(in->cells)))
	    != CAIRN_OK)
		return r;
	if ((r = engine_parse_input(in, PARSE_QUERY, &p, rep, &po)) != CAIRN_OK)
		goto out;
	T = po.nthreads > 64 ? 64 : po.nthreads;
	for (unsigned t = 0; t < T; t++) {
		jobs[t].p = &p;
		jobs[t].po = &po;
		jobs[t].next = &next;
		jobs[t].subjects = &subjects;
		if ((r = engine_part_group_init(&jobs[t].g, po.max_subjects)) !=
		    CAIRN_OK || (r = engine_acc_init(&jobs[t].acc, p.ncells)) !=
		    CAIRN_OK)
			goto out;
	}
	for (unsigned t = 1; t < T; t++) {
		if (pthread_create(&tid[t], NULL, csv_job_run, &jobs[t]) != 0)
			break;
		started++;
	}
	csv_job_run(&jobs[0]);
	for (unsigned t = started + 1; t < T; t++)
		csv_job_run(&jobs[t]);
	for (unsigned t = 1; t <= started; t++)
		pthread_join(tid[t], NULL);
	for (unsigned t = 0; t < T; t++) {
		if (jobs[t].err != CAIRN_OK) {
			r = cairn_err(jobs[t].err, "%s", jobs[t].errmsg);
			goto out;
		}
		accs[t] = jobs[t].acc;
	}
	if ((r = engine_result_init(res, &p,
	    engine_cellmap_regions(in->cells))) !=
	    CAIRN_OK)
		goto out;
	if ((r = engine_acc_finish(accs, T, res)) != CAIRN_OK) {
		engine_result_release(res);
		goto out;
	}
	for (size_t i = 0; i < rep->nfiles; i++)
		res->other_cat += rep->files[i].other_cat;
	if ((r = engine_result_cats(res, q)) != CAIRN_OK)
		engine_result_release(res);
out:
	for (unsigned t = 0; t < T; t++) {
		engine_acc_release(&jobs[t].acc);
		engine_part_group_release(&jobs[t].g);
	}
	engine_parse_out_release(&po);
	return r;
}
