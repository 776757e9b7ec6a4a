/*
 * synth_model.c - the synthetic country and its people.
 *
 * Regions sit on a grid with jittered shared corners (so the outlines tile
 * the country), weighted by a Zipf-like population law; each holder has its
 * own cells in every region.  A subscriber's plan (holder by market share,
 * home by population, work nearby, commute hours, activity, trips, a move
 * at the displacement, or a short stay as an inbound visitor) is drawn once
 * from the subscriber's own stream; each day's events are drawn from the
 * (subscriber, day) stream, so any day can be regenerated on its own.
 * docs/synth.md states every constant used here.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/err.h"
#include "synth/synth.h"

const char *const synth_categories[SYNTH_NCAT] = {
	"0-17", "18-29", "30-49", "50-64", "65+"
};
static const double cat_weight[SYNTH_NCAT] = { 0.19, 0.15, 0.27, 0.21, 0.18 };

/* Relative event intensity per local hour: quiet nights, busy evenings. */
static const double hour_weight[24] = {
	0.35, 0.20, 0.12, 0.10, 0.10, 0.20, 0.50, 0.90, 1.20, 1.30, 1.30, 1.35,
	1.45, 1.40, 1.30, 1.30, 1.40, 1.55, 1.60, 1.50, 1.35, 1.10, 0.80, 0.55
};

static const char *const syl1[] = {
	"Al", "Bel", "Cor", "Dun", "El", "Fen", "Gar", "Hol", "Ir", "Kel",
	"Lor", "Mar", "Nor", "Or", "Pen", "Ros", "Sel", "Tor", "Ul", "Ven",
	"Wes", "Yar"
};
static const char *const syl2[] = {
	"ford", "mere", "ham", "wick", "dale", "moor", "stead", "bury",
	"holm", "vale", "haven", "brook", "field", "ton"
};
static const char *const prefix[] = { "", "New ", "Upper ", "Lower " };
#define NSYL1	(sizeof(syl1) / sizeof(syl1[0]))
#define NSYL2	(sizeof(syl2) / sizeof(syl2[0]))
#define NNAMES	(NSYL1 * NSYL2 * 4)

#define ROAMER_SHARE	0.04	/* inbound visitors among subscribers */
#define DISP_SHARE	0.30	/* origin residents who move away */
#define NOISE_256	8	/* of 256 events seen in a neighbour region */
#define WEEKEND		0.85	/* activity at weekends, of weekdays' */

void
synth_country_release(struct synth_country *c)
{
	free(c->region_id);
	free(c->region_name);
	free(c->vlon);
	free(c->vlat);
	free(c->weight);
	free(c->pop_cdf);
	free(c->nb);
	free(c->nnb);
	free(c->cell_first);
	free(c->cell_n);
	free(c->cell_region);
	free(c->cell_holder);
	free(c->cell_name);
	memset(c, 0, sizeof(*c));
}

/* A region index drawn by population weight. */
static uint16_t
weighted_region(const struct synth_country *c, struct synth_rng *g)
{
	uint32_t u = synth_rng_u32(g);
	unsigned lo = 0, hi = c->nreg - 1;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (u < c->pop_cdf[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	return (uint16_t)lo;
}

/* A region other than 'not', by weight (a few tries), else the next one. */
static uint16_t
weighted_other(const struct synth_country *c, struct synth_rng *g,
    uint16_t not)
{
	for (int i = 0; i < 8; i++) {
		uint16_t r = weighted_region(c, g);

		if (r != not)
			return r;
	}
	return (uint16_t)((not + 1) % c->nreg);
}

static uint16_t
neighbour_or_other(const struct synth_country *c, struct synth_rng *g,
    uint16_t r)
{
	if (c->nnb[r] > 0)
		return c->nb[r][synth_rng_below(g, c->nnb[r])];
	return weighted_other(c, g, r);
}

static void
make_cdf(const double *w, unsigned n, uint32_t *cdf)
{
	double acc = 0;

	for (unsigned i = 0; i < n; i++) {
		acc += w[i];
		cdf[i] = acc >= 1.0 ? UINT32_MAX :
		    (uint32_t)(acc * 4294967296.0);
	}
	cdf[n - 1] = UINT32_MAX;
}

static void
make_names(struct synth_country *c, struct synth_rng *g)
{
	uint16_t perm[NNAMES];

	/* A partial Fisher-Yates shuffle: the first nreg names are distinct. */
	for (unsigned i = 0; i < NNAMES; i++)
		perm[i] = (uint16_t)i;
	for (unsigned i = 0; i < c->nreg; i++) {
		unsigned j = i + synth_rng_below(g, (uint32_t)(NNAMES - i));
		uint16_t x = perm[i];
		unsigned k;

		perm[i] = perm[j];
		perm[j] = x;
		k = perm[i];
		snprintf(c->region_name[i], sizeof(c->region_name[i]),
		    "%s%s%s", prefix[k / (NSYL1 * NSYL2)],
		    syl1[k % (NSYL1 * NSYL2) / NSYL2], syl2[k % NSYL2]);
	}
}

static void
make_grid(struct synth_country *c, struct synth_rng *g)
{
	unsigned vc = c->cols + 1;

	for (unsigned y = 0; y <= c->rows; y++)
		for (unsigned x = 0; x <= c->cols; x++) {
			double jx = 0, jy = 0;

			/* Inner corners move a little; the frame stays. */
			if (x > 0 && x < c->cols && y > 0 && y < c->rows) {
				jx = (synth_rng_unit(g) - 0.5) * 0.2;
				jy = (synth_rng_unit(g) - 0.5) * 0.2;
			}
			c->vlon[y * vc + x] = 4.0 + (x + jx) * 0.4;
			c->vlat[y * vc + x] = 47.0 + (y + jy) * 0.3;
		}
	for (unsigned i = 0; i < c->nreg; i++) {
		unsigned x = i % c->cols, y = i / c->cols;

		c->nnb[i] = 0;
		if (x > 0)
			c->nb[i][c->nnb[i]++] = (uint16_t)(i - 1);
		if (x + 1 < c->cols && i + 1 < c->nreg)
			c->nb[i][c->nnb[i]++] = (uint16_t)(i + 1);
		if (y > 0)
			c->nb[i][c->nnb[i]++] = (uint16_t)(i - c->cols);
		if (i + c->cols < c->nreg)
			c->nb[i][c->nnb[i]++] = (uint16_t)(i + c->cols);
	}
}

static void
make_weights(struct synth_country *c, struct synth_rng *g)
{
	double sum = 0;
	uint16_t rank[SYNTH_MAX_REGIONS];

	/* Zipf-like sizes (exponent 0.8) on a random order of the regions. */
	for (unsigned i = 0; i < c->nreg; i++)
		rank[i] = (uint16_t)i;
	for (unsigned i = c->nreg - 1; i > 0; i--) {
		unsigned j = synth_rng_below(g, i + 1);
		uint16_t x = rank[i];

		rank[i] = rank[j];
		rank[j] = x;
	}
	for (unsigned i = 0; i < c->nreg; i++) {
		c->weight[i] = pow(rank[i] + 1.0, -0.8) *
		    (0.8 + 0.4 * synth_rng_unit(g));
		sum += c->weight[i];
	}
	/* The displacement starts in the second to fourth largest region. */
	{
		unsigned want = 1 + synth_rng_below(g, c->nreg > 3 ? 3 :
		    c->nreg - 1);

		for (unsigned i = 0; i < c->nreg; i++)
			if (rank[i] == want)
				c->disp_origin = i;
	}
	for (unsigned i = 0; i < c->nreg; i++)
		c->weight[i] /= sum;
	make_cdf(c->weight, c->nreg, c->pop_cdf);
}

static void
make_shares(struct synth_country *c, struct synth_rng *g)
{
	double sum = 0;

	for (unsigned h = 0; h < c->nhold; h++) {
		c->share[h] = pow(h + 1.0, -0.8) * (0.8 + 0.4 *
		    synth_rng_unit(g));
		sum += c->share[h];
	}
	for (unsigned h = 0; h < c->nhold; h++)
		c->share[h] /= sum;
	make_cdf(c->share, c->nhold, c->share_cdf);
}

static int
make_cells(struct synth_country *c, struct synth_rng *g)
{
	size_t n = (size_t)c->nhold * c->nreg;
	uint32_t total = 0, k = 0;

	if ((c->cell_first = calloc(n, sizeof(uint32_t))) == NULL ||
	    (c->cell_n = calloc(n, sizeof(uint32_t))) == NULL)
		return cairn_err(CAIRN_ERR_NOMEM, "cells");
	for (unsigned h = 0; h < c->nhold; h++)
		for (unsigned r = 0; r < c->nreg; r++) {
			double m = 4.0 * c->weight[r] * c->nreg;
			uint32_t cn = 2 + synth_rng_below(g, 3) +
			    (uint32_t)(m + 0.5);

			if (cn > 24)
				cn = 24;
			c->cell_first[h * c->nreg + r] = total;
			c->cell_n[h * c->nreg + r] = cn;
			total += cn;
		}
	c->ncells = total;
	c->cell_region = calloc(total, sizeof(uint32_t));
	c->cell_holder = calloc(total, 1);
	c->cell_name = calloc(total, sizeof(*c->cell_name));
	if (c->cell_region == NULL || c->cell_holder == NULL ||
	    c->cell_name == NULL)
		return cairn_err(CAIRN_ERR_NOMEM, "cells");
	for (unsigned h = 0; h < c->nhold; h++) {
		uint32_t base = 100000 + synth_rng_below(g, 800000);

		for (unsigned r = 0; r < c->nreg; r++)
			for (uint32_t i = 0; i < c->cell_n[h * c->nreg + r];
			    i++) {
				c->cell_region[k] = r;
				c->cell_holder[k] = (uint8_t)h;
				snprintf(c->cell_name[k],
				    sizeof(c->cell_name[k]), "%c%06u",
				    'A' + h, (unsigned)(base + k));
				k++;
			}
	}
	return CAIRN_OK;
}

int
synth_country_init(struct synth_country *c, const struct synth_opts *o)
{
	struct synth_rng g;
	double acc = 0;
	unsigned vn;
	int r;

	memset(c, 0, sizeof(*c));
	c->nreg = o->regions;
	c->nhold = o->holders;
	c->days = o->days;
	c->offset_min = o->utc_offset_min;
	c->start_day = o->start_day;
	synth_key_from_seed(o->seed, c->key);
	synth_rng_init(&g, c->key, SYNTH_STREAM(SYNTH_P_COUNTRY, 0, 0));
	c->cols = 1;
	while (c->cols * c->cols < c->nreg)
		c->cols++;
	c->rows = (c->nreg + c->cols - 1) / c->cols;
	vn = (c->cols + 1) * (c->rows + 1);
	c->region_id = calloc(c->nreg, sizeof(*c->region_id));
	c->region_name = calloc(c->nreg, sizeof(*c->region_name));
	c->vlon = calloc(vn, sizeof(double));
	c->vlat = calloc(vn, sizeof(double));
	c->weight = calloc(c->nreg, sizeof(double));
	c->pop_cdf = calloc(c->nreg, sizeof(uint32_t));
	c->nb = calloc(c->nreg, sizeof(*c->nb));
	c->nnb = calloc(c->nreg, 1);
	if (c->region_id == NULL || c->region_name == NULL ||
	    c->vlon == NULL || c->vlat == NULL || c->weight == NULL ||
	    c->pop_cdf == NULL || c->nb == NULL || c->nnb == NULL) {
		r = cairn_err(CAIRN_ERR_NOMEM, "country of %u regions",
		    c->nreg);
		goto out;
	}
	/* Ids ascend with the index but are neither dense nor from 0. */
	for (unsigned i = 0; i < c->nreg; i++)
		c->region_id[i] = 10 + 7 * i;
	make_names(c, &g);
	make_grid(c, &g);
	make_weights(c, &g);
	make_shares(c, &g);
	if ((r = make_cells(c, &g)) != CAIRN_OK)
		goto out;
	for (unsigned h = 0; h < 24; h++)
		acc += hour_weight[h];
	{
		double cum = 0;
		unsigned h = 0;

		for (unsigned i = 0; i < 1024; i++) {
			while (h < 23 && (i + 0.5) / 1024.0 >=
			    (cum + hour_weight[h]) / acc) {
				cum += hour_weight[h];
				h++;
			}
			c->hour_of[i] = (uint8_t)h;
		}
	}
	for (unsigned l = 0; l < 256; l++) {
		c->emean[0][l] = exp(-(l / 4.0));
		c->emean[1][l] = exp(-(l / 4.0) * WEEKEND);
	}
	c->disp_day = c->days / 2;
	c->disp_share = DISP_SHARE;
	if (o->event) {
		/* The staged event (checked by synth_opts_check, but for
		   the region, whose ids the country gives). */
		unsigned i;

		for (i = 0; i < c->nreg; i++)
			if (c->region_id[i] == o->event_region)
				break;
		if (i == c->nreg) {
			synth_country_release(c);
			return cairn_err(CAIRN_ERR_ARG, "--event: region %"
			    PRIu32 " is not one of the %u regions (ids in "
			    "regions.csv)", o->event_region, o->regions);
		}
		c->disp_origin = i;
		c->disp_day = (unsigned)(o->event_day - o->start_day);
		c->disp_share = o->event_share;
	}
	c->nentities = o->subscribers / 10 + 1;
	for (int i = 0; i < 4; i++) {
		uint32_t a = synth_rng_u32(&g), b = synth_rng_u32(&g);

		memcpy(c->sub_key + 4 * i, &a, 4);
		memcpy(c->ent_key + 4 * i, &b, 4);
	}
	r = CAIRN_OK;
out:
	if (r != CAIRN_OK)
		synth_country_release(c);
	return r;
}

void
synth_id(const struct synth_country *c, uint64_t s, bool entity,
    unsigned len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *key = entity ? c->ent_key : c->sub_key;
	uint32_t l = (uint32_t)(s >> 20) & 0xfffff, r = (uint32_t)s & 0xfffff;
	uint64_t v;

	/* A four-round Feistel network over 20-bit halves, SipHash rounds. */
	for (uint8_t round = 0; round < 4; round++) {
		uint8_t in[4] = { round, (uint8_t)r, (uint8_t)(r >> 8),
		    (uint8_t)(r >> 16) };
		uint8_t h[8];
		uint32_t f, nl;

		crypto_shorthash(h, in, sizeof(in), key);
		f = ((uint32_t)h[0] | (uint32_t)h[1] << 8 |
		    (uint32_t)h[2] << 16) & 0xfffff;
		nl = r;
		r = l ^ f;
		l = nl;
	}
	v = (uint64_t)l << 20 | r;
	if (len > SYNTH_ID_LEN) {
		uint8_t in[5], h[crypto_generichash_BYTES];
		size_t np = len - SYNTH_ID_LEN;

		_Static_assert(2 * crypto_generichash_BYTES >=
		    SYNTH_ID_MAX - SYNTH_ID_LEN, "hash too short");
		for (int i = 0; i < 5; i++)
			in[i] = (uint8_t)(v >> (8 * i));
		crypto_generichash(h, sizeof(h), in, sizeof(in), key,
		    crypto_shorthash_KEYBYTES);
		for (size_t i = 0; i < np; i++)
			out[i] = hex[i % 2 ? h[i / 2] & 15 : h[i / 2] >> 4];
		out += np;
	}
	for (int i = SYNTH_ID_LEN - 1; i >= 0; i--) {
		out[i] = hex[v & 15];
		v >>= 4;
	}
}

void
synth_plan_draw(const struct synth_country *c, uint64_t s,
    const uint32_t *pre, struct synth_plan *p)
{
	uint32_t own[SYNTH_PLAN_WORDS];
	struct synth_rng g;
	uint32_t u;
	double lambda, x;

	memset(p, 0, sizeof(*p));
	if (pre == NULL) {
		synth_keystream(c->key, SYNTH_STREAM(SYNTH_P_PLAN, 0, 0), s, 1,
		    SYNTH_PLAN_WORDS, own);
		pre = own;
	}
	synth_rng_init_pre(&g, c->key, SYNTH_STREAM(SYNTH_P_PLAN_MORE, 0, s),
	    pre, SYNTH_PLAN_WORDS);
	u = synth_rng_u32(&g);
	while (p->holder + 1u < c->nhold && u >= c->share_cdf[p->holder])
		p->holder++;
	p->trip_day[0] = p->trip_day[1] = SYNTH_NO_DAY;
	if (synth_rng_unit(&g) < ROAMER_SHARE) {
		unsigned len = 1 + synth_rng_below(&g, 5);

		p->flags = SYNTH_ROAMER;
		p->arrive = (uint16_t)synth_rng_below(&g, c->days);
		p->depart = (uint16_t)(p->arrive + len > c->days ? c->days :
		    p->arrive + len);
		p->v1 = p->v2 = weighted_region(c, &g);
		p->switchday = p->depart;
		if (synth_rng_unit(&g) < 0.5 && p->depart - p->arrive > 1) {
			p->v2 = weighted_other(c, &g, p->v1);
			p->switchday = (uint16_t)(p->arrive +
			    (p->depart - p->arrive) / 2);
		}
		p->lambda4 = 24;
		p->home = p->work = p->newhome = p->v1;
		return;
	}
	p->home = weighted_region(c, &g);
	x = synth_rng_unit(&g);
	if (x < 0.55)
		p->work = p->home;
	else if (x < 0.85)
		p->work = neighbour_or_other(c, &g, p->home);
	else
		p->work = weighted_region(c, &g);
	if (synth_rng_unit(&g) < 0.65)
		p->flags |= SYNTH_EMPLOYED;
	x = synth_rng_unit(&g);
	if (x < 0.15)
		lambda = 2.0;
	else if (x < 0.85)
		lambda = 5.0 + 6.0 * synth_rng_unit(&g);
	else
		lambda = 14.0 + 8.0 * synth_rng_unit(&g);
	p->lambda4 = (uint8_t)(lambda * 4.0 + 0.5);
	p->leave_q = (uint8_t)(26 + synth_rng_below(&g, 10));
	p->ret_q = (uint8_t)(64 + synth_rng_below(&g, 12));
	p->outing = (uint8_t)(40 + synth_rng_below(&g, 60));
	x = synth_rng_unit(&g);
	for (int i = 0; i < (x < 0.6 ? 0 : x < 0.9 ? 1 : 2); i++) {
		p->trip_day[i] = (uint16_t)synth_rng_below(&g, c->days);
		p->trip_len[i] = (uint8_t)(synth_rng_unit(&g) < 0.6 ? 1 :
		    2 + synth_rng_below(&g, 3));
		p->trip_region[i] = weighted_other(c, &g, p->home);
	}
	p->newhome = p->home;
	if (p->home == c->disp_origin && synth_rng_unit(&g) < c->disp_share) {
		p->flags |= SYNTH_DISPLACED;
		p->newhome = synth_rng_unit(&g) < 0.6 ?
		    neighbour_or_other(c, &g, p->home) :
		    weighted_other(c, &g, p->home);
	}
}

/* A day's whereabouts: from 'start' (local second) on, in 'region'. */
struct seg {
	uint32_t	 start;
	uint32_t	 region;
};
#define MAXSEG	16

static uint32_t
region_at(const struct seg *s, unsigned n, uint32_t sec)
{
	uint32_t r = s[0].region;

	for (unsigned i = 0; i < n && s[i].start <= sec; i++)
		r = s[i].region;
	return r;
}

/* Be in 'region' over [a, b) of the day, the rest unchanged. */
static unsigned
overlay(struct seg *s, unsigned n, uint32_t a, uint32_t b, uint32_t region)
{
	struct seg o[MAXSEG];
	unsigned m = 0;
	uint32_t after = region_at(s, n, b);

	if (b <= a || n + 2 > MAXSEG)
		return n;
	for (unsigned i = 0; i < n; i++)
		if (s[i].start < a)
			o[m++] = s[i];
	o[m].start = a;
	o[m++].region = region;
	if (b < 86400) {
		o[m].start = b;
		o[m++].region = after;
		for (unsigned i = 0; i < n; i++)
			if (s[i].start > b)
				o[m++] = s[i];
	}
	memcpy(s, o, m * sizeof(*o));
	return m;
}

static unsigned
schedule(const struct synth_country *c, const struct synth_plan *p,
    unsigned d, struct synth_rng *g, struct seg *s, bool *weekend_out)
{
	bool moved = (p->flags & SYNTH_DISPLACED) && d >= c->disp_day;
	uint32_t home = moved ? p->newhome : p->home;
	uint32_t work = moved ? p->newhome : p->work;
	int64_t dow = ((c->start_day + d) % 7 + 11) % 7;	/* 0 = Sunday */
	bool weekend = dow == 0 || dow == 6;
	unsigned n = 1;

	*weekend_out = false;
	if (p->flags & SYNTH_ROAMER) {
		if (d < p->arrive || d >= p->depart)
			return 0;
		s[0].start = 0;
		s[0].region = d >= p->switchday ? p->v2 : p->v1;
		return 1;
	}
	s[0].start = 0;
	s[0].region = home;
	if ((p->flags & SYNTH_EMPLOYED) && !weekend) {
		uint32_t leave = p->leave_q * 900u + synth_rng_below(g, 1800);
		uint32_t ret = p->ret_q * 900u + synth_rng_below(g, 1800);

		n = overlay(s, n, leave, ret, work);
	} else if (synth_rng_below(g, 256) < p->outing) {
		uint32_t a = 36000 + synth_rng_below(g, 5 * 3600);
		uint32_t b = a + 3600 + synth_rng_below(g, 4 * 3600);
		uint32_t r = synth_rng_below(g, 2) == 0 ? p->work :
		    neighbour_or_other(c, g, (uint16_t)home);

		n = overlay(s, n, a, b > 82800 ? 82800 : b, r);
	}
	*weekend_out = weekend;
	for (int i = 0; i < 2; i++) {
		unsigned t0 = p->trip_day[i], len = p->trip_len[i];
		uint32_t tr = p->trip_region[i];

		if (t0 == SYNTH_NO_DAY || d < t0 || d >= t0 + len)
			continue;
		if (len == 1)
			n = overlay(s, n, 32400 + synth_rng_below(g, 7200),
			    64800 + synth_rng_below(g, 3 * 3600), tr);
		else if (d == t0)
			n = overlay(s, n, 36000 + synth_rng_below(g, 4 * 3600),
			    86400, tr);
		else if (d == t0 + len - 1)
			n = overlay(s, n, 0, 54000 + synth_rng_below(g,
			    4 * 3600), tr);
		else
			n = overlay(s, n, 0, 86400, tr);
	}
	if ((p->flags & SYNTH_DISPLACED) && d == c->disp_day)
		n = overlay(s, n, 0, 39600 + synth_rng_below(g, 3 * 3600),
		    p->home);
	return n;
}

/* A Poisson draw of mean 'mean' (e^-mean = 'em') by inversion, capped. */
static unsigned
poisson(struct synth_rng *g, double mean, double em, unsigned cap)
{
	double u = synth_rng_unit(g), p = em, f = p;
	unsigned k = 0;

	while (u > f && k < cap) {
		k++;
		p *= mean / k;
		f += p;
		if (p < 1e-300)
			break;
	}
	return k;
}

size_t
synth_day_events(const struct synth_country *c, const struct synth_plan *p,
    uint64_t s, unsigned d, const uint32_t *pre,
    struct synth_dev out[static SYNTH_MAX_DAY_EVENTS])
{
	uint32_t own[SYNTH_DAY_WORDS];
	struct synth_rng g;
	struct seg seg[MAXSEG];
	unsigned ns, n;
	bool weekend;
	const uint32_t *first = c->cell_first + (size_t)p->holder * c->nreg;
	const uint32_t *cn = c->cell_n + (size_t)p->holder * c->nreg;

	if ((p->flags & SYNTH_ROAMER) && (d < p->arrive || d >= p->depart))
		return 0;	/* absent: no draws at all */
	if (pre == NULL) {
		synth_keystream(c->key, SYNTH_STREAM(SYNTH_P_DAY, d, 0), s, 1,
		    SYNTH_DAY_WORDS, own);
		pre = own;
	}
	synth_rng_init_pre(&g, c->key, SYNTH_STREAM(SYNTH_P_DAY_MORE, d, s),
	    pre, SYNTH_DAY_WORDS);
	if ((ns = schedule(c, p, d, &g, seg, &weekend)) == 0)
		return 0;
	n = poisson(&g, p->lambda4 / 4.0 * (weekend ? WEEKEND : 1.0),
	    c->emean[weekend][p->lambda4], SYNTH_MAX_DAY_EVENTS);
	for (unsigned i = 0; i < n; i++) {
		uint32_t u = synth_rng_u32(&g), v = synth_rng_u32(&g);
		uint32_t sec = c->hour_of[u >> 22] * 3600u +
		    (uint32_t)(((uint64_t)(u & 0x3fffff) * 3600) >> 22);
		uint32_t r = region_at(seg, ns, sec);
		unsigned j = i;

		if ((v >> 24) < NOISE_256 && c->nnb[r] > 0)
			r = c->nb[r][((v >> 16) & 0xff) % c->nnb[r]];
		/* Insertion keeps the day sorted by second. */
		while (j > 0 && out[j - 1].sec > sec) {
			out[j] = out[j - 1];
			j--;
		}
		out[j].sec = sec;
		out[j].region = r;
		out[j].cell = first[r] +
		    (uint32_t)(((v & 0xffff) * cn[r]) >> 16);
	}
	return n;
}

void
synth_entity_draw(const struct synth_country *c, uint64_t e,
    struct synth_entity *en)
{
	struct synth_rng g;
	double x, acc = 0;

	synth_rng_init(&g, c->key, SYNTH_STREAM(SYNTH_P_ENTITY, 0, e));
	en->home = weighted_region(c, &g);
	en->other = neighbour_or_other(c, &g, en->home);
	x = synth_rng_unit(&g);
	en->category = SYNTH_NCAT - 1;
	for (unsigned i = 0; i < SYNTH_NCAT; i++) {
		acc += cat_weight[i];
		if (x < acc) {
			en->category = (uint8_t)i;
			break;
		}
	}
}

size_t
synth_entity_day(const struct synth_country *c, const struct synth_entity *en,
    uint64_t e, unsigned d, struct synth_dev out[static SYNTH_MAX_DAY_EVENTS])
{
	struct synth_rng g;
	unsigned n;

	synth_rng_init(&g, c->key, SYNTH_STREAM(SYNTH_P_ENTITY_DAY, d, e));
	n = synth_rng_below(&g, 4);	/* 0..3 records, 1.5 a day */
	for (unsigned i = 0; i < n; i++) {
		out[i].sec = 25200 + synth_rng_below(&g, 15 * 3600);
		out[i].region = synth_rng_below(&g, 4) == 0 ? en->other :
		    en->home;
		out[i].cell = en->category;
	}
	return n;
}

unsigned
synth_entity_holder(const struct synth_country *c, uint64_t e)
{
	return (unsigned)(e % c->nhold);
}
