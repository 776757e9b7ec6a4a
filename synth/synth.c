/*
 * synth.c - `cairn synth` run: output folder, static files (regions,
 * outlines, cells, query specs, manifest), the two passes over the model
 * and the ground truth files.
 *
 * Pass 1 (truth) walks subscriber by subscriber: it draws all the days of
 * one subscriber, feeds them to the truth tables of its holder and forgets
 * them.  Pass 2 (write) walks day by day: it draws every subscriber's
 * events of that day, orders them by holder and minute (a counting sort,
 * so rows within a minute stay in subscriber order: roughly time-ordered,
 * like real CDR drops) and formats them.  Both passes draw the same events
 * from the same streams; with two threads they run side by side.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zlib.h>

#include "common/err.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "synth/synth.h"

#define NCDRQ		7		/* queries on CDR holders */
#define OUTBUF		(1u << 20)	/* bytes buffered per output file */
#define ROW_MAX		(SYNTH_ID_MAX + 96)	/* longest formatted row */
#define TRUTH_MEM_MAX	(4ULL << 30)	/* bytes of truth tables */
#define TBATCH		64		/* subscribers per keystream draw */
#define WBATCH		1024		/* (truth pass: per day, D of them) */

/* Packed day event: subscriber (26 bits), second (17), cell (21). */
#define PK(s, sec, cell) \
	((uint64_t)(s) << 38 | (uint64_t)(sec) << 21 | (uint64_t)(cell))
#define PK_SUB(x)	((uint32_t)((x) >> 38))
#define PK_SEC(x)	((uint32_t)((x) >> 21) & 0x1ffff)
#define PK_CELL(x)	((uint32_t)(x) & 0x1fffff)

void
synth_opts_default(struct synth_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->holders = 1;
	o->subscribers = 1000;
	o->days = 7;
	o->regions = 12;
	o->seed = 1;
	o->start_day = time_days_from_civil(2024, 3, 4);	/* a Monday */
	o->utc_offset_min = 60;
	o->threads = 2;
	o->id_hex = SYNTH_ID_LEN;
}

int
synth_opts_check(const struct synth_opts *o)
{
	if (o->holders < 1 || o->holders > SYNTH_MAX_HOLDERS)
		return cairn_err(CAIRN_ERR_ARG, "--holders: must be 1..%d",
		    SYNTH_MAX_HOLDERS);
	if (o->subscribers < 1 || o->subscribers > SYNTH_MAX_SUBSCRIBERS)
		return cairn_err(CAIRN_ERR_ARG, "--subscribers: must be "
		    "1..%llu", SYNTH_MAX_SUBSCRIBERS);
	if (o->days < SYNTH_MIN_DAYS || o->days > SYNTH_MAX_DAYS)
		return cairn_err(CAIRN_ERR_ARG, "--days: must be %d..%d",
		    SYNTH_MIN_DAYS, SYNTH_MAX_DAYS);
	if (o->id_hex < SYNTH_ID_LEN || o->id_hex > SYNTH_ID_MAX)
		return cairn_err(CAIRN_ERR_ARG, "--id-hex: must be %d..%d",
		    SYNTH_ID_LEN, SYNTH_ID_MAX);
	if (o->regions < SYNTH_MIN_REGIONS || o->regions > SYNTH_MAX_REGIONS)
		return cairn_err(CAIRN_ERR_ARG, "--regions: must be %d..%d",
		    SYNTH_MIN_REGIONS, SYNTH_MAX_REGIONS);
	if (o->utc_offset_min < -720 || o->utc_offset_min > 840)
		return cairn_err(CAIRN_ERR_ARG, "--utc-offset: must be "
		    "-720..840 minutes");
	if (o->start_day < time_days_from_civil(1971, 1, 1) ||
	    o->start_day + o->days > time_days_from_civil(9999, 1, 1))
		return cairn_err(CAIRN_ERR_ARG, "--start: must be 1971..9998");
	if (o->threads < 1 || o->threads > 2)
		return cairn_err(CAIRN_ERR_ARG, "--threads: must be 1 or 2");
	if (o->out == NULL || o->out[0] == '\0')
		return cairn_err(CAIRN_ERR_ARG, "--out: required");
	if (o->event && (o->event_day <= o->start_day ||
	    o->event_day >= o->start_day + o->days))
		return cairn_err(CAIRN_ERR_ARG, "--event: the date must be "
		    "after the first day and before the end (a baseline "
		    "before it, observation days from it)");
	if (o->event && !(o->event_share > 0 && o->event_share <= 1))
		return cairn_err(CAIRN_ERR_ARG, "--event: the share must be "
		    "in (0, 1]");
	if (!o->no_truth) {
		/* Cells of the seven CDR queries' tables, per holder. */
		uint64_t R = o->regions, D = o->days;
		uint64_t cells = R * D * 2 + R * D * 24 + R + (D - 1) * R * R +
		    R * R + R * D * (R + 1);

		if (cells * 4 * o->holders > TRUTH_MEM_MAX)
			return cairn_err(CAIRN_ERR_TOOBIG, "ground truth tables "
			    "would need %" PRIu64 " MiB (at most %llu): use "
			    "fewer regions, days or holders, or --no-truth",
			    (cells * 4 * o->holders) >> 20,
			    TRUTH_MEM_MAX >> 20);
	}
	return CAIRN_OK;
}

/* ------------------------------------------------------------------ */
/* Buffered output files, plain or gzip. */

struct out_file {
	int		 fd;
	gzFile		 gz;
	char		*buf;
	size_t		 len;
	uint64_t	 bytes;
	char		 path[PATH_MAX];
};

static int
of_open(struct out_file *f, const char *path, bool gz)
{
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	if (snprintf(f->path, sizeof(f->path), "%s", path) >=
	    (int)sizeof(f->path))
		return cairn_err(CAIRN_ERR_ARG, "%s: path too long", path);
	if ((f->buf = malloc(OUTBUF)) == NULL)
		return cairn_err(CAIRN_ERR_NOMEM, "%s: buffer", path);
	if ((f->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) == -1) {
		free(f->buf);
		f->buf = NULL;
		return cairn_err(CAIRN_ERR_IO, "%s: %s", path, strerror(errno));
	}
	if (gz && (f->gz = gzdopen(f->fd, "wb1")) == NULL) {
		close(f->fd);
		free(f->buf);
		f->buf = NULL;
		f->fd = -1;
		return cairn_err(CAIRN_ERR_IO, "%s: gzip", path);
	}
	return CAIRN_OK;
}

static int
of_flush(struct out_file *f)
{
	size_t off = 0;

	if (f->gz != NULL) {
		if (f->len > 0 && gzwrite(f->gz, f->buf, (unsigned)f->len) !=
		    (int)f->len)
			return cairn_err(CAIRN_ERR_IO, "%s: gzip write failed",
			    f->path);
	} else {
		while (off < f->len) {
			ssize_t w = write(f->fd, f->buf + off, f->len - off);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return cairn_err(CAIRN_ERR_IO, "%s: %s",
				    f->path, strerror(errno));
			off += (size_t)w;
		}
	}
	f->bytes += f->len;
	f->len = 0;
	return CAIRN_OK;
}

/* Room for 'n' more bytes at f->buf + f->len (n <= OUTBUF). */
static int
of_room(struct out_file *f, size_t n)
{
	if (f->len + n > OUTBUF)
		return of_flush(f);
	return CAIRN_OK;
}

static int
of_puts(struct out_file *f, const char *s)
{
	size_t n = strlen(s);
	int r;

	if ((r = of_room(f, n)) != CAIRN_OK)
		return r;
	memcpy(f->buf + f->len, s, n);
	f->len += n;
	return CAIRN_OK;
}

/* Flush and close; safe on a file that failed to open or is closed. */
static int
of_close(struct out_file *f)
{
	int r = CAIRN_OK;

	if (f->buf == NULL)
		return CAIRN_OK;
	r = of_flush(f);
	if (f->gz != NULL) {
		if (gzclose(f->gz) != Z_OK && r == CAIRN_OK)
			r = cairn_err(CAIRN_ERR_IO, "%s: gzip close", f->path);
	} else if (close(f->fd) != 0 && r == CAIRN_OK)
		r = cairn_err(CAIRN_ERR_IO, "%s: %s", f->path, strerror(errno));
	free(f->buf);
	f->buf = NULL;
	f->gz = NULL;
	f->fd = -1;
	return r;
}

/* ------------------------------------------------------------------ */
/* Folders. */

static int
make_dir(const char *path)
{
	if (mkdir(path, 0755) == 0 || errno == EEXIST)
		return CAIRN_OK;
	return cairn_err(CAIRN_ERR_IO, "%s: %s", path, strerror(errno));
}

/* make_dir for 'path' and any missing parent. */
static int
make_dirs(const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);
	int r;

	if (n >= sizeof(buf))
		return cairn_err(CAIRN_ERR_ARG, "%s: path too long", path);
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i < n; i++)
		if (buf[i] == '/') {
			buf[i] = '\0';
			if ((r = make_dir(buf)) != CAIRN_OK)
				return r;
			buf[i] = '/';
		}
	return make_dir(buf);
}

static int
join(char *buf, size_t n, const char *a, const char *b)
{
	if (snprintf(buf, n, "%s/%s", a, b) >= (int)n)
		return cairn_err(CAIRN_ERR_ARG, "%s/%s: path too long", a, b);
	return CAIRN_OK;
}

static int
prepare_out(const struct synth_opts *o)
{
	struct dirent *e;
	DIR *d;
	int r = CAIRN_OK;

	if ((r = make_dirs(o->out)) != CAIRN_OK)
		return r;
	if ((d = opendir(o->out)) == NULL)
		return cairn_err(CAIRN_ERR_IO, "%s: %s", o->out,
		    strerror(errno));
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0
		    && !o->force) {
			r = cairn_err(CAIRN_ERR_EXISTS, "--out %s: folder is "
			    "not empty (use --force to write into it)", o->out);
			break;
		}
	closedir(d);
	return r;
}

/* ------------------------------------------------------------------ */
/* The run. */

struct run {
	const struct synth_opts		*o;
	struct synth_country		 c;
	struct synth_plan		*plans;
	char				*ids;		/* S * id_hex */
	char				*eids;		/* entities' ids */
	struct synth_entity		*ents;
	struct synth_query		 q[NCDRQ + 1];
	struct synth_truth		*tr;		/* nhold * NCDRQ */
	struct synth_truth		 trpop;
	struct synth_truth		 trpoph[SYNTH_MAX_HOLDERS];
	uint64_t			 cdr_rows, agency_rows, bytes;
	int				 truth_r;	/* pass 1 result */
	char				 truth_msg[256];	/* its detail */
};

static void
make_queries(struct run *u)
{
	const struct synth_opts *o = u->o;
	int64_t a = o->start_day, b = o->start_day + o->days;
	int64_t x = o->start_day + u->c.disp_day;
	struct synth_query base = { 0 };

	base.start = a;
	base.end = b;
	base.utc_offset_min = o->utc_offset_min;
	base.night_start = 22;
	base.night_end = 6;
	for (int i = 0; i <= NCDRQ; i++)
		u->q[i] = base;
	u->q[0].name = "presence_day";
	u->q[0].kind = SYNTH_PRESENCE;
	u->q[0].k = 2;
	u->q[1].name = "presence_hour";
	u->q[1].kind = SYNTH_PRESENCE;
	u->q[1].hourly = true;
	u->q[1].k = 1;
	u->q[2].name = "residents";
	u->q[2].kind = SYNTH_RESIDENTS;
	u->q[3].name = "od";
	u->q[3].kind = SYNTH_OD;
	u->q[4].name = "migration";
	u->q[4].kind = SYNTH_MIGRATION;
	u->q[4].base[0] = a;
	u->q[4].base[1] = x;
	u->q[4].comp[0] = x;
	u->q[4].comp[1] = b;
	u->q[5].name = "visitors";
	u->q[5].kind = SYNTH_VISITORS;
	u->q[5].k = 3;
	/* the cohort's home before the event, followed from its day */
	u->q[6].name = "displacement";
	u->q[6].kind = SYNTH_DISPLACEMENT;
	u->q[6].base[0] = a;
	u->q[6].base[1] = x;
	u->q[6].start = x;
	u->q[NCDRQ].name = "population_by_category";
	u->q[NCDRQ].kind = SYNTH_POPULATION;
}

static int
write_static(struct run *u)
{
	const struct synth_opts *o = u->o;
	const struct synth_country *c = &u->c;
	char p[PATH_MAX], d[PATH_MAX];
	FILE *f = NULL;
	int r;

	if ((r = join(p, sizeof(p), o->out, "regions.csv")) != CAIRN_OK)
		return r;
	if ((f = fopen(p, "w")) == NULL)
		return cairn_err(CAIRN_ERR_IO, "%s: %s", p, strerror(errno));
	fputs("region_id,name\n", f);
	for (unsigned i = 0; i < c->nreg; i++)
		fprintf(f, "%" PRIu32 ",%s\n", c->region_id[i],
		    c->region_name[i]);
	if (ferror(f) | fclose(f))
		return cairn_err(CAIRN_ERR_IO, "%s: write failed", p);

	if ((r = join(p, sizeof(p), o->out, "regions.geojson")) != CAIRN_OK)
		return r;
	if ((f = fopen(p, "w")) == NULL)
		return cairn_err(CAIRN_ERR_IO, "%s: %s", p, strerror(errno));
	fputs("{\"type\": \"FeatureCollection\", \"features\": [\n", f);
	for (unsigned i = 0; i < c->nreg; i++) {
		unsigned x = i % c->cols, y = i / c->cols, vc = c->cols + 1;
		unsigned v[5] = { y * vc + x, y * vc + x + 1,
		    (y + 1) * vc + x + 1, (y + 1) * vc + x, y * vc + x };

		fprintf(f, "{\"type\": \"Feature\", \"properties\": "
		    "{\"region_id\": %" PRIu32 ", \"name\": \"%s\"}, "
		    "\"geometry\": {\"type\": \"Polygon\", \"coordinates\": [[",
		    c->region_id[i], c->region_name[i]);
		for (int j = 0; j < 5; j++)
			fprintf(f, "%s[%.5f, %.5f]", j ? ", " : "",
			    c->vlon[v[j]], c->vlat[v[j]]);
		fprintf(f, "]]}}%s\n", i + 1 < c->nreg ? "," : "");
	}
	fputs("]}\n", f);
	if (ferror(f) | fclose(f))
		return cairn_err(CAIRN_ERR_IO, "%s: write failed", p);

	for (unsigned h = 0; h < c->nhold; h++) {
		char name[32];

		snprintf(name, sizeof(name), "holder%u", h + 1);
		if ((r = join(d, sizeof(d), o->out, name)) != CAIRN_OK ||
		    (r = make_dir(d)) != CAIRN_OK ||
		    (r = join(p, sizeof(p), d, "cdr")) != CAIRN_OK ||
		    (r = make_dir(p)) != CAIRN_OK ||
		    (r = join(p, sizeof(p), d, "truth")) != CAIRN_OK ||
		    (!o->no_truth && (r = make_dir(p)) != CAIRN_OK) ||
		    (r = join(p, sizeof(p), d, "cells.csv")) != CAIRN_OK)
			return r;
		if ((f = fopen(p, "w")) == NULL)
			return cairn_err(CAIRN_ERR_IO, "%s: %s", p,
			    strerror(errno));
		fputs("cell_id,region_id\n", f);
		for (uint32_t k = 0; k < c->ncells; k++)
			if (c->cell_holder[k] == h)
				fprintf(f, "%s,%" PRIu32 "\n", c->cell_name[k],
				    c->region_id[c->cell_region[k]]);
		if (ferror(f) | fclose(f))
			return cairn_err(CAIRN_ERR_IO, "%s: write failed", p);
	}
	if ((r = join(d, sizeof(d), o->out, "agency")) != CAIRN_OK ||
	    (r = make_dir(d)) != CAIRN_OK ||
	    (r = join(p, sizeof(p), d, "truth")) != CAIRN_OK ||
	    (!o->no_truth && (r = make_dir(p)) != CAIRN_OK) ||
	    (r = join(d, sizeof(d), o->out, "queries")) != CAIRN_OK ||
	    (r = make_dir(d)) != CAIRN_OK)
		return r;
	if (!o->no_truth) {
		if ((r = join(p, sizeof(p), o->out, "truth")) != CAIRN_OK ||
		    (r = make_dir(p)) != CAIRN_OK)
			return r;
	}
	for (int i = 0; i <= NCDRQ; i++) {
		char name[64];

		snprintf(name, sizeof(name), "%s.json", u->q[i].name);
		if ((r = join(p, sizeof(p), d, name)) != CAIRN_OK ||
		    (r = synth_query_write(&u->q[i], p)) != CAIRN_OK)
			return r;
	}
	return CAIRN_OK;
}

static int
write_manifest(struct run *u, const struct synth_stats *st)
{
	const struct synth_opts *o = u->o;
	const struct synth_country *c = &u->c;
	char p[PATH_MAX], a[TIME_DATE_LEN], x[TIME_DATE_LEN];
	uint64_t per[SYNTH_MAX_HOLDERS] = { 0 };
	FILE *f;
	int r;

	for (uint64_t s = 0; s < o->subscribers; s++)
		per[u->plans[s].holder]++;
	if ((r = join(p, sizeof(p), o->out, "manifest.json")) != CAIRN_OK)
		return r;
	if ((f = fopen(p, "w")) == NULL)
		return cairn_err(CAIRN_ERR_IO, "%s: %s", p, strerror(errno));
	if (!time_format_date(o->start_day, a) ||
	    !time_format_date(o->start_day + c->disp_day, x)) {
		fclose(f);
		return cairn_err(CAIRN_ERR_RANGE, "--start: out of range");
	}
	fprintf(f, "{\n  \"generator\": \"cairn synth\",\n"
	    "  \"seed\": %" PRIu64 ",\n  \"holders\": %u,\n"
	    "  \"subscribers\": %" PRIu64 ",\n  \"days\": %u,\n"
	    "  \"regions\": %u,\n  \"start\": \"%s\",\n"
	    "  \"utc_offset_minutes\": %d,\n  \"timestamps\": \"%s\",\n"
	    "  \"gzip\": %s,\n  \"one_file\": %s,\n"
	    "  \"displacement\": {\"day\": \"%s\", \"origin\": %" PRIu32
	    ", \"share\": %.2f},\n  \"holder_shares\": [",
	    o->seed, o->holders, o->subscribers, o->days, o->regions, a,
	    o->utc_offset_min, o->epoch_timestamps ? "epoch" : "iso",
	    o->gzip ? "true" : "false", o->one_file ? "true" : "false", x,
	    c->region_id[c->disp_origin], c->disp_share);
	for (unsigned h = 0; h < c->nhold; h++)
		fprintf(f, "%s%.4f", h ? ", " : "", c->share[h]);
	fputs("],\n  \"holder_subscribers\": [", f);
	for (unsigned h = 0; h < c->nhold; h++)
		fprintf(f, "%s%" PRIu64, h ? ", " : "", per[h]);
	fprintf(f, "],\n  \"agency_entities\": %" PRIu64 ",\n"
	    "  \"cdr_rows\": %" PRIu64 ",\n  \"agency_rows\": %" PRIu64
	    ",\n  \"truth\": %s\n}\n", c->nentities, st->cdr_rows,
	    st->agency_rows, o->no_truth ? "false" : "true");
	if (ferror(f) | fclose(f))
		return cairn_err(CAIRN_ERR_IO, "%s: write failed", p);
	return CAIRN_OK;
}

/* Pass 1: every subscriber's (and entity's) events into the truth. */
static void *
truth_pass(void *arg)
{
	struct run *u = arg;
	const struct synth_country *c = &u->c;
	struct synth_dev dev[SYNTH_MAX_DAY_EVENTS];
	struct synth_event *ev;
	uint32_t *ks;
	uint64_t S = u->o->subscribers;
	int r = CAIRN_OK;

	ev = calloc((size_t)c->days * SYNTH_MAX_DAY_EVENTS, sizeof(*ev));
	ks = malloc((size_t)c->days * TBATCH * SYNTH_DAY_WORDS * 4);
	if (ev == NULL || ks == NULL) {
		free(ev);
		free(ks);
		u->truth_r = CAIRN_ERR_NOMEM;
		snprintf(u->truth_msg, sizeof(u->truth_msg), "truth events");
		return NULL;
	}
	for (uint64_t s0 = 0; s0 < S && r == CAIRN_OK; s0 += TBATCH) {
		size_t cnt = S - s0 < TBATCH ? (size_t)(S - s0) : TBATCH;

		for (unsigned d = 0; d < c->days; d++)
			synth_keystream(c->key, SYNTH_STREAM(SYNTH_P_DAY, d, 0),
			    s0, cnt, SYNTH_DAY_WORDS,
			    ks + (size_t)d * TBATCH * SYNTH_DAY_WORDS);
		for (uint64_t s = s0; s < s0 + cnt && r == CAIRN_OK; s++) {
			const struct synth_plan *p = &u->plans[s];
			size_t n = 0;

			for (unsigned d = 0; d < c->days; d++) {
				size_t k = synth_day_events(c, p, s, d, ks +
				    ((size_t)d * TBATCH + (s - s0)) *
				    SYNTH_DAY_WORDS, dev);
				int64_t day0 = (c->start_day + d) * 86400 -
				    (int64_t)c->offset_min * 60;

				for (size_t i = 0; i < k; i++, n++) {
					ev[n].t = day0 + dev[i].sec;
					ev[n].region = dev[i].region;
					ev[n].category = 0;
				}
			}
			for (int q = 0; q < NCDRQ && r == CAIRN_OK; q++)
				r = synth_truth_add(&u->tr[p->holder * NCDRQ +
				    q], ev, n);
		}
	}
	free(ks);
	for (uint64_t e = 0; e < c->nentities && r == CAIRN_OK; e++) {
		size_t n = 0;

		for (unsigned d = 0; d < c->days; d++) {
			size_t k = synth_entity_day(c, &u->ents[e], e, d, dev);
			int64_t day0 = (c->start_day + d) * 86400 -
			    (int64_t)c->offset_min * 60;

			for (size_t i = 0; i < k; i++, n++) {
				ev[n].t = day0 + dev[i].sec;
				ev[n].region = dev[i].region;
				ev[n].category = dev[i].cell;
			}
		}
		r = synth_truth_add(&u->trpop, ev, n);
		if (r == CAIRN_OK)
			r = synth_truth_add(&u->trpoph[synth_entity_holder(c,
			    e)], ev, n);
	}
	free(ev);
	/* The detail lives in this thread; hand it over with the code. */
	if (r != CAIRN_OK)
		snprintf(u->truth_msg, sizeof(u->truth_msg), "%s",
		    cairn_errdesc(r));
	u->truth_r = r;
	return NULL;
}

/* Row formatting state of one local day. */
struct dayfmt {
	int64_t		 day0;		/* UTC second of local midnight */
	int64_t		 udate0;	/* UTC date of prefix[0] */
	char		 prefix[3][12];	/* "YYYY-MM-DDT" of udate0 + i */
	const char	*hms;		/* 86400 * "HH:MM:SS" */
	bool		 epoch;
};

static char *
put_u64(char *w, uint64_t v)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n > 0)
		*w++ = tmp[--n];
	return w;
}

static char *
put_time(char *w, const struct dayfmt *df, uint32_t sec)
{
	int64_t t = df->day0 + sec;
	int64_t ud, us;

	if (df->epoch)
		return put_u64(w, (uint64_t)t);
	ud = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
	us = t - ud * 86400;
	memcpy(w, df->prefix[ud - df->udate0], 11);
	memcpy(w + 11, df->hms + us * 8, 8);
	w[19] = 'Z';
	return w + 20;
}

static int
dayfmt_init(struct dayfmt *df, const struct run *u, unsigned d,
    const char *hms)
{
	int64_t local = u->c.start_day + d;

	df->day0 = local * 86400 - (int64_t)u->c.offset_min * 60;
	df->udate0 = local - 1;
	df->hms = hms;
	df->epoch = u->o->epoch_timestamps;
	for (int i = 0; i < 3; i++) {
		if (!time_format_date(df->udate0 + i, df->prefix[i]))
			return cairn_err(CAIRN_ERR_RANGE, "date out of range");
		df->prefix[i][10] = 'T';
		df->prefix[i][11] = '\0';
	}
	return CAIRN_OK;
}

static int
write_cdr_rows(struct run *u, struct out_file *f, const uint64_t *ev,
    size_t n, const struct dayfmt *df)
{
	const struct synth_country *c = &u->c;
	int r;

	for (size_t i = 0; i < n; i++) {
		uint32_t s = PK_SUB(ev[i]), cell = PK_CELL(ev[i]);
		char *w;

		if ((r = of_room(f, ROW_MAX)) != CAIRN_OK)
			return r;
		w = f->buf + f->len;
		memcpy(w, u->ids + (size_t)s * u->o->id_hex, u->o->id_hex);
		w += u->o->id_hex;
		*w++ = ',';
		w = put_time(w, df, PK_SEC(ev[i]));
		*w++ = ',';
		memcpy(w, c->cell_name[cell], SYNTH_CELL_LEN);
		w += SYNTH_CELL_LEN;
		*w++ = '\n';
		f->len = (size_t)(w - f->buf);
	}
	return CAIRN_OK;
}

static int
open_cdr(struct run *u, unsigned h, unsigned d, struct out_file *f)
{
	char p[PATH_MAX], date[TIME_DATE_LEN];
	int n;

	if (!time_format_date(u->o->start_day + d, date))
		return cairn_err(CAIRN_ERR_RANGE, "date out of range");
	if (u->o->one_file)
		n = snprintf(p, sizeof(p), "%s/holder%u/cdr/cdr.csv%s",
		    u->o->out, h + 1, u->o->gzip ? ".gz" : "");
	else
		n = snprintf(p, sizeof(p), "%s/holder%u/cdr/%s.csv%s",
		    u->o->out, h + 1, date, u->o->gzip ? ".gz" : "");
	if (n >= (int)sizeof(p))
		return cairn_err(CAIRN_ERR_ARG, "%s: path too long", u->o->out);
	if ((n = of_open(f, p, u->o->gzip)) != CAIRN_OK)
		return n;
	return of_puts(f, "subscriber_id,timestamp,cell_id\n");
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Agency records of day 'd', sorted by time, appended to 'f'. */
static int
write_agency_day(struct run *u, struct out_file *f, struct out_file *hf,
    unsigned d, const struct dayfmt *df, uint64_t **buf, size_t *cap)
{
	const struct synth_country *c = &u->c;
	struct synth_dev dev[SYNTH_MAX_DAY_EVENTS];
	size_t n = 0;
	int r;

	for (uint64_t e = 0; e < c->nentities; e++) {
		size_t k = synth_entity_day(c, &u->ents[e], e, d, dev);

		if (n + k > *cap) {
			size_t nc = (*cap ? *cap * 2 : 4096) + k;
			uint64_t *nb = realloc(*buf, nc * sizeof(**buf));

			if (nb == NULL)
				return cairn_err(CAIRN_ERR_NOMEM, "agency day");
			*buf = nb;
			*cap = nc;
		}
		/* second (17 bits) | entity (32) | region index (15). */
		for (size_t i = 0; i < k; i++)
			(*buf)[n++] = (uint64_t)dev[i].sec << 47 | e << 15 |
			    dev[i].region;
	}
	qsort(*buf, n, sizeof(**buf), cmp_u64);
	for (size_t i = 0; i < n; i++) {
		uint64_t x = (*buf)[i];
		uint64_t e = (x >> 15) & 0xffffffffu;
		uint32_t reg = (uint32_t)(x & 0x7fff);
		const char *cat = synth_categories[u->ents[e].category];
		struct out_file *h = &hf[synth_entity_holder(c, e)];
		char *w, *row;

		if ((r = of_room(f, ROW_MAX)) != CAIRN_OK ||
		    (r = of_room(h, ROW_MAX)) != CAIRN_OK)
			return r;
		row = w = f->buf + f->len;
		memcpy(w, u->eids + e * u->o->id_hex, u->o->id_hex);
		w += u->o->id_hex;
		*w++ = ',';
		w = put_time(w, df, (uint32_t)(x >> 47));
		*w++ = ',';
		w = put_u64(w, c->region_id[reg]);
		*w++ = ',';
		memcpy(w, cat, strlen(cat));
		w += strlen(cat);
		*w++ = '\n';
		/* The same row in the registering holder's file. */
		memcpy(h->buf + h->len, row, (size_t)(w - row));
		h->len += (size_t)(w - row);
		f->len = (size_t)(w - f->buf);
	}
	u->agency_rows += n;
	return CAIRN_OK;
}

/* Pass 2: day by day, every holder's CDR rows and the agency records. */
static int
write_pass(struct run *u)
{
	const struct synth_country *c = &u->c;
	const struct synth_opts *o = u->o;
	struct synth_dev dev[SYNTH_MAX_DAY_EVENTS];
	struct out_file files[SYNTH_MAX_HOLDERS], agency;
	struct out_file recs[SYNTH_MAX_HOLDERS];
	size_t nkeys = (size_t)c->nhold * 1440, cap = 0, acap = 0;
	uint64_t *ev = NULL, *sorted = NULL, *abuf = NULL;
	uint32_t *ks = NULL;
	size_t *cnt = NULL;
	char *hms = NULL, p[PATH_MAX];
	struct dayfmt df;
	int r;

	memset(files, 0, sizeof(files));
	memset(&agency, 0, sizeof(agency));
	memset(recs, 0, sizeof(recs));
	cnt = calloc(nkeys + 1, sizeof(*cnt));
	hms = malloc(86400 * 8);
	ks = malloc(WBATCH * SYNTH_DAY_WORDS * 4);
	if (cnt == NULL || hms == NULL || ks == NULL) {
		r = cairn_err(CAIRN_ERR_NOMEM, "write buffers");
		goto out;
	}
	for (unsigned s = 0; s < 86400; s++) {
		char t[12];

		snprintf(t, sizeof(t), "%02u:%02u:%02u", s / 3600,
		    s / 60 % 60, s % 60);
		memcpy(hms + s * 8, t, 8);
	}
	if ((r = join(p, sizeof(p), o->out, o->gzip ? "agency/records.csv.gz" :
	    "agency/records.csv")) != CAIRN_OK ||
	    (r = of_open(&agency, p, o->gzip)) != CAIRN_OK ||
	    (r = of_puts(&agency, "entity_id,timestamp,region_id,category\n"))
	    != CAIRN_OK)
		goto out;
	for (unsigned h = 0; h < c->nhold; h++) {
		if (snprintf(p, sizeof(p), "%s/holder%u/records.csv%s", o->out,
		    h + 1, o->gzip ? ".gz" : "") >= (int)sizeof(p)) {
			r = cairn_err(CAIRN_ERR_ARG, "%s: path too long",
			    o->out);
			goto out;
		}
		if ((r = of_open(&recs[h], p, o->gzip)) != CAIRN_OK ||
		    (r = of_puts(&recs[h], "entity_id,timestamp,region_id,"
		    "category\n")) != CAIRN_OK)
			goto out;
	}
	for (unsigned d = 0; d < c->days; d++) {
		size_t n = 0;

		if ((r = dayfmt_init(&df, u, d, hms)) != CAIRN_OK)
			goto out;
		memset(cnt, 0, (nkeys + 1) * sizeof(*cnt));
		for (uint64_t s = 0; s < o->subscribers; s++) {
			const struct synth_plan *pl = &u->plans[s];
			size_t k;

			if (s % WBATCH == 0)
				synth_keystream(c->key,
				    SYNTH_STREAM(SYNTH_P_DAY, d, 0), s,
				    o->subscribers - s < WBATCH ?
				    (size_t)(o->subscribers - s) : WBATCH,
				    SYNTH_DAY_WORDS, ks);
			k = synth_day_events(c, pl, s, d, ks + (s % WBATCH) *
			    SYNTH_DAY_WORDS, dev);

			if (n + k > cap) {
				size_t nc = cap + cap / 2 + 65536;
				uint64_t *a = realloc(ev, nc * sizeof(*ev));

				if (a == NULL) {
					r = cairn_err(CAIRN_ERR_NOMEM,
					    "day events");
					goto out;
				}
				ev = a;
				if ((a = realloc(sorted, nc * sizeof(*a))) ==
				    NULL) {
					r = cairn_err(CAIRN_ERR_NOMEM,
					    "day events");
					goto out;
				}
				sorted = a;
				cap = nc;
			}
			for (size_t i = 0; i < k; i++) {
				ev[n++] = PK(s, dev[i].sec, dev[i].cell);
				cnt[pl->holder * 1440u + dev[i].sec / 60 + 1]++;
			}
		}
		/* Counting sort by (holder, minute); stable. */
		for (size_t i = 1; i <= nkeys; i++)
			cnt[i] += cnt[i - 1];
		for (size_t i = 0; i < n; i++) {
			uint32_t h = c->cell_holder[PK_CELL(ev[i])];

			sorted[cnt[h * 1440u + PK_SEC(ev[i]) / 60]++] = ev[i];
		}
		/* cnt[key] is now the end of key's run: holder h ends at
		 * cnt[h * 1440 + 1439]. */
		for (unsigned h = 0; h < c->nhold; h++) {
			size_t a = h ? cnt[h * 1440u - 1] : 0;
			size_t b = cnt[h * 1440u + 1439];

			if (!o->one_file || d == 0)
				if ((r = open_cdr(u, h, d, &files[h])) !=
				    CAIRN_OK)
					goto out;
			if ((r = write_cdr_rows(u, &files[h], sorted + a, b - a,
			    &df)) != CAIRN_OK)
				goto out;
			if (!o->one_file || d + 1 == c->days) {
				u->bytes += files[h].bytes + files[h].len;
				if ((r = of_close(&files[h])) != CAIRN_OK)
					goto out;
			}
		}
		u->cdr_rows += n;
		if ((r = write_agency_day(u, &agency, recs, d, &df, &abuf,
		    &acap)) != CAIRN_OK)
			goto out;
	}
	u->bytes += agency.bytes + agency.len;
	if ((r = of_close(&agency)) != CAIRN_OK)
		goto out;
	for (unsigned h = 0; h < c->nhold; h++) {
		u->bytes += recs[h].bytes + recs[h].len;
		if ((r = of_close(&recs[h])) != CAIRN_OK)
			goto out;
	}
out:
	for (unsigned h = 0; h < SYNTH_MAX_HOLDERS; h++) {
		(void)of_close(&files[h]);
		(void)of_close(&recs[h]);
	}
	(void)of_close(&agency);
	free(ev);
	free(sorted);
	free(abuf);
	free(ks);
	free(cnt);
	free(hms);
	return r;
}

static int
truth_alloc(struct run *u)
{
	const struct synth_country *c = &u->c;
	int r;

	/* synth_opts_check bounded the total size already. */
	if ((u->tr = calloc((size_t)c->nhold * NCDRQ, sizeof(*u->tr))) == NULL)
		return cairn_err(CAIRN_ERR_NOMEM, "truth tables");
	for (unsigned h = 0; h < c->nhold; h++)
		for (int q = 0; q < NCDRQ; q++) {
			struct synth_truth *t = &u->tr[h * NCDRQ + q];

			if ((r = synth_truth_init(t, &u->q[q], c->nreg, 0)) !=
			    CAIRN_OK)
				return r;
		}
	for (unsigned h = 0; h < c->nhold; h++)
		if ((r = synth_truth_init(&u->trpoph[h], &u->q[NCDRQ], c->nreg,
		    SYNTH_NCAT)) != CAIRN_OK)
			return r;
	return synth_truth_init(&u->trpop, &u->q[NCDRQ], c->nreg, SYNTH_NCAT);
}

static int
truth_write(struct run *u)
{
	const struct synth_country *c = &u->c;
	const struct synth_truth *parts[SYNTH_MAX_HOLDERS];
	const struct synth_truth *pop = &u->trpop;
	char p[PATH_MAX];
	int r;

	for (int q = 0; q < NCDRQ; q++) {
		for (unsigned h = 0; h < c->nhold; h++) {
			parts[h] = &u->tr[h * NCDRQ + q];
			if (snprintf(p, sizeof(p), "%s/holder%u/truth/%s.csv",
			    u->o->out, h + 1, u->q[q].name) >= (int)sizeof(p))
				return cairn_err(CAIRN_ERR_ARG,
				    "path too long");
			if ((r = synth_truth_write(&parts[h], 1, c->region_id,
			    NULL, p)) != CAIRN_OK)
				return r;
		}
		if (snprintf(p, sizeof(p), "%s/truth/%s.csv", u->o->out,
		    u->q[q].name) >= (int)sizeof(p))
			return cairn_err(CAIRN_ERR_ARG, "path too long");
		if ((r = synth_truth_write(parts, c->nhold, c->region_id, NULL,
		    p)) != CAIRN_OK)
			return r;
	}
	for (unsigned h = 0; h < c->nhold; h++) {
		parts[h] = &u->trpoph[h];
		if (snprintf(p, sizeof(p), "%s/holder%u/truth/%s.csv",
		    u->o->out, h + 1, u->q[NCDRQ].name) >= (int)sizeof(p))
			return cairn_err(CAIRN_ERR_ARG, "path too long");
		if ((r = synth_truth_write(&parts[h], 1, c->region_id,
		    synth_categories, p)) != CAIRN_OK)
			return r;
	}
	if (snprintf(p, sizeof(p), "%s/agency/truth/%s.csv", u->o->out,
	    u->q[NCDRQ].name) >= (int)sizeof(p))
		return cairn_err(CAIRN_ERR_ARG, "path too long");
	if ((r = synth_truth_write(&pop, 1, c->region_id, synth_categories,
	    p)) != CAIRN_OK)
		return r;
	if (snprintf(p, sizeof(p), "%s/truth/%s.csv", u->o->out,
	    u->q[NCDRQ].name) >= (int)sizeof(p))
		return cairn_err(CAIRN_ERR_ARG, "path too long");
	return synth_truth_write(&pop, 1, c->region_id, synth_categories, p);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
synth_run(const struct synth_opts *o, struct synth_stats *st)
{
	struct run *u;
	struct synth_stats res;
	pthread_t th;
	uint32_t *ks = NULL;
	bool threaded = false;
	double t0 = now();
	int r;

	if ((r = synth_opts_check(o)) != CAIRN_OK)
		return r;
	/* Also picks libsodium's fastest ChaCha20 for this CPU. */
	if (sodium_init() < 0)
		return cairn_err(CAIRN_ERR_CRYPTO, "sodium_init failed");
	if ((u = calloc(1, sizeof(*u))) == NULL)
		return cairn_err(CAIRN_ERR_NOMEM, "run");
	u->o = o;
	if ((r = prepare_out(o)) != CAIRN_OK ||
	    (r = synth_country_init(&u->c, o)) != CAIRN_OK)
		goto out;
	make_queries(u);
	u->plans = calloc(o->subscribers, sizeof(*u->plans));
	u->ids = malloc(o->subscribers * o->id_hex);
	u->ents = calloc(u->c.nentities, sizeof(*u->ents));
	u->eids = malloc(u->c.nentities * o->id_hex);
	if (u->plans == NULL || u->ids == NULL || u->ents == NULL ||
	    u->eids == NULL) {
		r = cairn_err(CAIRN_ERR_NOMEM, "%" PRIu64 " subscribers",
		    o->subscribers);
		goto out;
	}
	if ((ks = malloc(WBATCH * SYNTH_PLAN_WORDS * 4)) == NULL) {
		r = cairn_err(CAIRN_ERR_NOMEM, "keystream");
		goto out;
	}
	for (uint64_t s = 0; s < o->subscribers; s++) {
		if (s % WBATCH == 0)
			synth_keystream(u->c.key, SYNTH_STREAM(SYNTH_P_PLAN, 0,
			    0), s, o->subscribers - s < WBATCH ?
			    (size_t)(o->subscribers - s) : WBATCH,
			    SYNTH_PLAN_WORDS, ks);
		synth_plan_draw(&u->c, s, ks + (s % WBATCH) * SYNTH_PLAN_WORDS,
		    &u->plans[s]);
		synth_id(&u->c, s, false, o->id_hex, u->ids + s * o->id_hex);
	}
	free(ks);
	ks = NULL;
	for (uint64_t e = 0; e < u->c.nentities; e++) {
		synth_entity_draw(&u->c, e, &u->ents[e]);
		synth_id(&u->c, e, true, o->id_hex, u->eids + e * o->id_hex);
	}
	log_debug("plans and ids: %.2f s", now() - t0);
	if ((r = write_static(u)) != CAIRN_OK)
		goto out;
	if (!o->no_truth) {
		if ((r = truth_alloc(u)) != CAIRN_OK)
			goto out;
		if (o->threads > 1 && pthread_create(&th, NULL, truth_pass, u)
		    == 0)
			threaded = true;
		else
			truth_pass(u);
	}
	r = write_pass(u);
	log_debug("write pass done: %.2f s", now() - t0);
	if (threaded)
		pthread_join(th, NULL);
	log_debug("truth pass done: %.2f s", now() - t0);
	if (r != CAIRN_OK)
		goto out;
	if (!o->no_truth) {
		if (u->truth_r != CAIRN_OK) {
			r = cairn_err(u->truth_r, "%s", u->truth_msg);
			goto out;
		}
		if ((r = truth_write(u)) != CAIRN_OK)
			goto out;
	}
	memset(&res, 0, sizeof(res));
	res.cdr_rows = u->cdr_rows;
	res.agency_rows = u->agency_rows;
	res.bytes = u->bytes;
	res.displacement_day = o->start_day + u->c.disp_day;
	res.displacement_origin = u->c.region_id[u->c.disp_origin];
	if ((r = write_manifest(u, &res)) != CAIRN_OK)
		goto out;
	res.seconds = now() - t0;
	*st = res;
	r = CAIRN_OK;
out:
	if (u->tr != NULL)
		for (unsigned h = 0; h < u->c.nhold; h++)
			for (int q = 0; q < NCDRQ; q++)
				synth_truth_release(&u->tr[h * NCDRQ + q]);
	synth_truth_release(&u->trpop);
	for (unsigned h = 0; h < SYNTH_MAX_HOLDERS; h++)
		synth_truth_release(&u->trpoph[h]);
	free(ks);
	free(u->tr);
	free(u->plans);
	free(u->ids);
	free(u->ents);
	free(u->eids);
	synth_country_release(&u->c);
	free(u);
	return r;
}
