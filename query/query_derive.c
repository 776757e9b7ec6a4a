/*
 * query_derive.c - `cairn query derive`: outputs derived from a released
 * displacement result (query_derive.h), from the released cells alone.
 * The result file is the CSV `cairn query result` wrote; it is parsed
 * back strictly (every cell once, in the release's order), the share
 * away from home gets Fieller's interval and the flows above normal the
 * interval of a difference of independent noisy counts (docs/queries.md).
 */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/file.h"
#include "common/timeutil.h"
#include "query/query_derive.h"
#include "query/query_int.h"

/* The normal quantile of 97.5 %: two-sided 95 % intervals. */
#define Z95		1.959963984540054
#define MAX_FIELDS	16
#define MAX_REGIONS	100000
#define MAX_DAYS	2730

/* ------------------------------------------------------------ parsing */

/*
 * Split the CSV line [p, e) into at most MAX_FIELDS fields (RFC 4180
 * quotes allowed); each field is copied into 'buf' (room 'cap'),
 * NUL-terminated, f[i] pointing at it.  Returns the number of fields or
 * -1 when the line is malformed or too long.
 */
static int
split(const char *p, const char *e, char *buf, size_t cap,
    char *f[MAX_FIELDS])
{
	size_t k = 0;
	int n = 0;

	for (;;) {
		if (n == MAX_FIELDS)
			return -1;
		f[n++] = buf + k;
		if (p < e && *p == '"') {
			for (p++; ; p++) {
				if (p == e)
					return -1;
				if (*p == '"' && (p + 1 == e || p[1] != '"'))
					break;
				if (*p == '"')
					p++;
				if (k + 1 >= cap)
					return -1;
				buf[k++] = *p;
			}
			p++;
		} else
			for (; p < e && *p != ','; p++) {
				if (k + 1 >= cap)
					return -1;
				buf[k++] = *p;
			}
		buf[k++] = '\0';
		if (p == e)
			return n;
		if (*p != ',')
			return -1;
		p++;
	}
}

static bool
parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (*s == '\0')
		return false;
	v = strtoll(s, &end, 10);
	if (*end != '\0')
		return false;
	*out = v;
	return true;
}

/* The row's region: an id, or 'none' (*none set). */
static bool
parse_region(const char *s, uint32_t *id, bool *none)
{
	int64_t v;

	*none = strcmp(s, "none") == 0;
	if (*none)
		return true;
	if (!isdigit((unsigned char)s[0]) || !parse_i64(s, &v) || v < 0 ||
	    v > UINT32_MAX)
		return false;
	*id = (uint32_t)v;
	return true;
}

struct row {
	uint32_t	home, region;
	bool		none;
	int64_t		day, value;
};

/* Columns of home, day, region and value in the header. */
struct cols {
	int	home, day, region, value;
};

static int
parse_header(char *f[MAX_FIELDS], int n, const char *name, size_t line,
    struct cols *c)
{
	c->home = c->day = c->region = c->value = -1;
	for (int i = 0; i < n; i++) {
		if (strcmp(f[i], "home") == 0)
			c->home = i;
		else if (strcmp(f[i], "day") == 0)
			c->day = i;
		else if (strcmp(f[i], "region") == 0)
			c->region = i;
		else if (strcmp(f[i], "value") == 0)
			c->value = i;
	}
	if (c->home < 0 || c->day < 0 || c->region < 0 || c->value < 0)
		return cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: not a displacement "
		    "result (the header needs home, day, region and value)",
		    name, line);
	return CAIRN_OK;
}

static int
parse_row(char *f[MAX_FIELDS], int n, const struct cols *c, const char *name,
    size_t line, struct row *r)
{
	if (n <= c->home || n <= c->day || n <= c->region || n <= c->value)
		return cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: %d fields, short "
		    "of the header's", name, line, n);
	{
		int64_t h;

		if (!isdigit((unsigned char)f[c->home][0]) ||
		    !parse_i64(f[c->home], &h) || h < 0 || h > UINT32_MAX)
			return cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: field "
			    "'home': not a region id", name, line);
		r->home = (uint32_t)h;
	}
	if (time_parse_date(f[c->day], &r->day) != CAIRN_OK)
		return cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: field 'day': not "
		    "a date YYYY-MM-DD", name, line);
	if (!parse_region(f[c->region], &r->region, &r->none))
		return cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: field 'region': "
		    "not a region id or none", name, line);
	if (!parse_i64(f[c->value], &r->value) || r->value > INT64_MAX / 4 ||
	    r->value < INT64_MIN / 4)
		return cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: field 'value': "
		    "not an integer", name, line);
	return CAIRN_OK;
}

/*
 * The rows of 'text' into a new array (*rows, *n) and the variance.
 */
static int
read_rows(const char *text, size_t len, const char *name, struct row **rows,
    size_t *n, uint64_t *variance)
{
	const char *p = text, *end = text + len;
	char buf[4096], *f[MAX_FIELDS];
	struct row *v = NULL;
	struct cols c = { -1, -1, -1, -1 };
	size_t nv = 0, cap = 0, line = 0;
	bool header = false, have_var = false;
	int nf, r = CAIRN_OK;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl != NULL ? nl : end;
		unsigned long long var;

		line++;
		if (e > p && e[-1] == '\r')
			e--;
		if (e == p || *p == '#') {
			if (e - p > 17 && memcmp(p, "# noise variance ", 17) ==
			    0) {
				char *q;

				var = strtoull(p + 17, &q, 10);
				if (!isdigit((unsigned char)p[17]) || q >= e ||
				    *q != ' ' || var == 0 || var > (1ULL << 62)) {
					r = cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: "
					    "not a noise variance", name, line);
					goto out;
				}
				*variance = var;
				have_var = true;
			}
			p = nl != NULL ? nl + 1 : end;
			continue;
		}
		if ((nf = split(p, e, buf, sizeof(buf), f)) < 0) {
			r = cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: malformed CSV "
			    "line", name, line);
			goto out;
		}
		if (!header) {
			if ((r = parse_header(f, nf, name, line, &c)) !=
			    CAIRN_OK)
				goto out;
			header = true;
		} else {
			if (nv == cap) {
				size_t nc = cap ? cap * 2 : 1024;
				struct row *nr;

				if (nc > (size_t)1 << 28) {
					r = cairn_err(CAIRN_ERR_TOOBIG, "%s: "
					    "too many rows", name);
					goto out;
				}
				if ((nr = realloc(v, nc * sizeof(*nr))) ==
				    NULL) {
					r = CAIRN_ERR_NOMEM;
					goto out;
				}
				v = nr;
				cap = nc;
			}
			if ((r = parse_row(f, nf, &c, name, line, &v[nv])) !=
			    CAIRN_OK)
				goto out;
			nv++;
		}
		p = nl != NULL ? nl + 1 : end;
	}
	if (!header || nv == 0)
		r = cairn_err(CAIRN_ERR_FORMAT, "%s: no cells", name);
	else if (!have_var)
		r = cairn_err(CAIRN_ERR_FORMAT, "%s: no '# noise variance V "
		    "per cell' line (write the file with `cairn query "
		    "result`)", name);
out:
	if (r != CAIRN_OK) {
		free(v);
		return r;
	}
	*rows = v;
	*n = nv;
	return CAIRN_OK;
}

int
query_disp_parse(const char *text, size_t len, const char *name,
    struct query_disp *out)
{
	struct query_disp d;
	struct row *rows = NULL;
	size_t n = 0, R = 0, D = 0, i = 0;
	int r;

	memset(&d, 0, sizeof(d));
	if ((r = read_rows(text, len, name, &rows, &n, &d.variance)) !=
	    CAIRN_OK)
		return r;
	/* The homes (ascending) and the first home's days. */
	for (size_t k = 0; k < n; k++)
		if (k == 0 || rows[k].home != rows[k - 1].home)
			R++;
	while (D < n && rows[D].home == rows[0].home)
		D++;
	if (R > MAX_REGIONS || D % (R + 1) != 0 || D / (R + 1) > MAX_DAYS ||
	    n != R * D) {
		r = cairn_err(CAIRN_ERR_FORMAT, "%s: %zu cells are not "
		    "regions x days x (regions + 1) for %zu home regions: a "
		    "dense displacement result is needed", name, n, R);
		goto out;
	}
	D /= R + 1;
	d.nregions = R;
	d.ndays = D;
	d.day0 = rows[0].day;
	if ((d.regions = calloc(R, sizeof(*d.regions))) == NULL ||
	    (d.values = calloc(n, sizeof(*d.values))) == NULL) {
		r = CAIRN_ERR_NOMEM;
		goto out;
	}
	for (size_t h = 0; h < R; h++)
		d.regions[h] = rows[h * D * (R + 1)].home;
	for (size_t h = 0; h < R; h++)
		for (size_t day = 0; day < D; day++)
			for (size_t g = 0; g <= R; g++, i++) {
				const struct row *w = &rows[i];

				if (w->home != d.regions[h] || w->day !=
				    d.day0 + (int64_t)day || w->none !=
				    (g == R) || (g < R && w->region !=
				    d.regions[g]) || (h > 0 && d.regions[h] <=
				    d.regions[h - 1])) {
					r = cairn_err(CAIRN_ERR_FORMAT, "%s: "
					    "cell %zu is not (home %" PRIu32
					    ", day %zu, region %zu) of the "
					    "release's order", name, i + 1,
					    d.regions[h], day, g);
					goto out;
				}
				d.values[i] = w->value;
			}
	*out = d;
	memset(&d, 0, sizeof(d));
	r = CAIRN_OK;
out:
	free(rows);
	query_disp_release(&d);
	return r;
}

void
query_disp_release(struct query_disp *d)
{
	free(d->regions);
	free(d->values);
	memset(d, 0, sizeof(*d));
}

/* ------------------------------------------------------------ derived */

static int64_t
cell(const struct query_disp *r, size_t h, size_t d, size_t g)
{
	return r->values[(h * r->ndays + d) * (r->nregions + 1) + g];
}

static double
clip01(double x)
{
	return x < 0 ? 0 : x > 1 ? 1 : x;
}

void
query_disp_share(const struct query_disp *r, size_t h, size_t d,
    struct query_share *out)
{
	double A, S, VA, VH, z2 = Z95 * Z95, a, b, c, disc;
	int64_t away = 0, at = cell(r, h, d, h);

	for (size_t g = 0; g < r->nregions; g++)
		if (g != h)
			away += cell(r, h, d, g);
	out->away = away;
	out->seen = away + at;
	A = (double)away;
	S = (double)out->seen;
	out->share = S > 0 ? clip01(A / S) : NAN;
	/*
	 * Fieller: theta is in the interval when (A - theta S)^2 <= z^2
	 * Var(A - theta S), and A - theta S = (1 - theta) A - theta H with
	 * A (R - 1 cells) and H (one cell) independent:
	 * (S^2 - z^2 (VA + VH)) theta^2 - 2 (A S - z^2 VA) theta
	 * + (A^2 - z^2 VA) <= 0.
	 */
	VA = (double)(r->nregions - 1) * (double)r->variance;
	VH = (double)r->variance;
	a = S * S - z2 * (VA + VH);
	b = A * S - z2 * VA;
	c = A * A - z2 * VA;
	disc = b * b - a * c;
	out->bounded = a > 0 && disc >= 0;
	if (out->bounded) {
		out->lo = clip01((b - sqrt(disc)) / a);
		out->hi = clip01((b + sqrt(disc)) / a);
	} else {
		out->lo = 0;
		out->hi = 1;
	}
}

void
query_disp_above(const struct query_disp *obs, const struct query_disp *nor,
    size_t nd0, size_t nd1, size_t h, size_t d, size_t g,
    struct query_above *out)
{
	size_t R = obs->nregions, k = g == R ? R - 1 : 1;
	double sum = 0, var, half;
	int64_t v = 0;

	for (size_t x = 0; x < R; x++) {
		if (x == h || (g != R && x != g))
			continue;
		v += cell(obs, h, d, x);
		for (size_t e = nd0; e < nd1; e++)
			sum += (double)cell(nor, h, e, x);
	}
	out->value = v;
	out->normal = sum / (double)(nd1 - nd0);
	out->above = (double)v - out->normal;
	/* k cells on the day, each over n comparison days: independent */
	var = (double)k * ((double)obs->variance + (double)nor->variance /
	    (double)(nd1 - nd0));
	half = Z95 * sqrt(var);
	out->lo = out->above - half;
	out->hi = out->above + half;
}

/* ---------------------------------------------------------- command */

const char query_derive_usage[] =
    "share-away|above-normal --input R.csv [--normal C.csv]\n"
    "    [--normal-days FROM,TO] [--output F]\n\n"
    "Derive from a released displacement result (R.csv, as `cairn query\n"
    "result` writes it, dense) without touching the network or the\n"
    "budget.  share-away: per home region and day, the seen cohort, those\n"
    "seen away from home and their share with Fieller's 95% interval.\n"
    "above-normal: per home, day and destination (and 'all'), the flow\n"
    "minus its normal, the mean over the comparison days [FROM, TO) of\n"
    "C.csv (default R.csv itself, whose days in the window are then not\n"
    "printed), with the 95% interval of the difference.\n";

static int
load(const char *path, struct query_disp *d)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	if ((r = file_read_capped(path, QUERY_DERIVE_MAX_FILE, &text, &len)) !=
	    CAIRN_OK)
		return r;
	r = query_disp_parse(text, len, path, d);
	free(text);
	return r;
}

static void
put_day(FILE *f, int64_t day)
{
	char b[TIME_DATE_LEN];

	if (!time_format_date(day, b))
		strcpy(b, "?");
	fputs(b, f);
}

static void
write_share(FILE *f, const struct query_disp *r)
{
	fprintf(f, "# share away from home: away / (away + at home), seen "
	    "cohort only; Fieller 95%% interval for noise variance %" PRIu64
	    " per cell\nhome,day,seen,away,share_away,ci95_low,ci95_high\n",
	    r->variance);
	for (size_t h = 0; h < r->nregions; h++)
		for (size_t d = 0; d < r->ndays; d++) {
			struct query_share s;

			query_disp_share(r, h, d, &s);
			fprintf(f, "%" PRIu32 ",", r->regions[h]);
			put_day(f, r->day0 + (int64_t)d);
			fprintf(f, ",%" PRId64 ",%" PRId64 ",", s.seen, s.away);
			if (isnan(s.share))
				fputs("nan", f);
			else
				fprintf(f, "%.4f", s.share);
			fprintf(f, ",%.4f,%.4f\n", s.lo, s.hi);
		}
}

static void
write_above(FILE *f, const struct query_disp *r, const struct query_disp *n,
    size_t nd0, size_t nd1)
{
	int64_t from = n->day0 + (int64_t)nd0, to = n->day0 + (int64_t)nd1;

	fprintf(f, "# flows above normal: the day's flow minus the mean of "
	    "the comparison days (");
	put_day(f, from);
	fputs(" to ", f);
	put_day(f, to);
	fprintf(f, " excluded); 95%% interval, variance k (%" PRIu64 " + %"
	    PRIu64 " / %zu) for k cells\nhome,day,region,value,normal,"
	    "above_normal,ci95_low,ci95_high\n", r->variance, n->variance,
	    nd1 - nd0);
	for (size_t h = 0; h < r->nregions; h++)
		for (size_t d = 0; d < r->ndays; d++) {
			int64_t day = r->day0 + (int64_t)d;

			/* the comparison days themselves, when the same
			   release holds both */
			if (n == r && day >= from && day < to)
				continue;
			for (size_t g = 0; g <= r->nregions; g++) {
				struct query_above a;

				if (g == h)
					continue;
				query_disp_above(r, n, nd0, nd1, h, d, g, &a);
				fprintf(f, "%" PRIu32 ",", r->regions[h]);
				put_day(f, day);
				if (g == r->nregions)
					fputs(",all", f);
				else
					fprintf(f, ",%" PRIu32, r->regions[g]);
				fprintf(f, ",%" PRId64 ",%.2f,%.2f,%.2f,%.2f\n",
				    a.value, a.normal, a.above, a.lo, a.hi);
			}
		}
}

/* The comparison days [*d0, *d1) of 'n' from "FROM,TO" (or all). */
static int
normal_days(const char *s, const struct query_disp *n, size_t *d0,
    size_t *d1)
{
	char a[16];
	const char *comma;
	int64_t from, to;

	if (s == NULL) {
		*d0 = 0;
		*d1 = n->ndays;
		return CAIRN_OK;
	}
	comma = strchr(s, ',');
	if (comma == NULL || (size_t)(comma - s) >= sizeof(a))
		return cairn_err(CAIRN_ERR_ARG, "--normal-days: '%s' is not "
		    "FROM,TO", s);
	memcpy(a, s, (size_t)(comma - s));
	a[comma - s] = '\0';
	if (time_parse_date(a, &from) != CAIRN_OK ||
	    time_parse_date(comma + 1, &to) != CAIRN_OK)
		return cairn_err(CAIRN_ERR_ARG, "--normal-days: '%s' is not "
		    "YYYY-MM-DD,YYYY-MM-DD", s);
	if (from >= to || from < n->day0 || to > n->day0 +
	    (int64_t)n->ndays)
		return cairn_err(CAIRN_ERR_ARG, "--normal-days: '%s' is not "
		    "a non-empty window inside the comparison release's "
		    "days", s);
	*d0 = (size_t)(from - n->day0);
	*d1 = (size_t)(to - n->day0);
	return CAIRN_OK;
}

int
query_cmd_derive(struct ctx *c)
{
	struct query_disp obs, nor;
	const struct query_disp *np = &obs;
	bool share;
	size_t nd0 = 0, nd1 = 0;
	FILE *f = stdout;
	int r;

	memset(&obs, 0, sizeof(obs));
	memset(&nor, 0, sizeof(nor));
	if (c->arg == NULL || (strcmp(c->arg, "share-away") != 0 &&
	    strcmp(c->arg, "above-normal") != 0)) {
		r = cairn_err(CAIRN_ERR_ARG, "say share-away or above-normal");
		goto out;
	}
	share = strcmp(c->arg, "share-away") == 0;
	if ((r = need(c, O_INPUT)) != CAIRN_OK)
		goto out;
	if (share && (c->o[O_NORMAL] != NULL || c->o[O_NORMAL_DAYS] != NULL)) {
		r = cairn_err(CAIRN_ERR_ARG, "--normal and --normal-days are "
		    "for above-normal");
		goto out;
	}
	if ((r = load(c->o[O_INPUT], &obs)) != CAIRN_OK)
		goto out;
	if (c->o[O_NORMAL] != NULL) {
		if ((r = load(c->o[O_NORMAL], &nor)) != CAIRN_OK)
			goto out;
		if (nor.nregions != obs.nregions || memcmp(nor.regions,
		    obs.regions, obs.nregions * sizeof(*obs.regions)) != 0) {
			r = cairn_err(CAIRN_ERR_ARG, "--normal: %s has other "
			    "regions than %s", c->o[O_NORMAL], c->o[O_INPUT]);
			goto out;
		}
		np = &nor;
	} else if (!share && c->o[O_NORMAL_DAYS] == NULL) {
		r = cairn_err(CAIRN_ERR_ARG, "above-normal needs --normal "
		    "C.csv or --normal-days FROM,TO (of the input)");
		goto out;
	}
	if (obs.nregions < 2) {
		r = cairn_err(CAIRN_ERR_ARG, "%s: one region has no away",
		    c->o[O_INPUT]);
		goto out;
	}
	if (!share && (r = normal_days(c->o[O_NORMAL_DAYS], np, &nd0, &nd1))
	    != CAIRN_OK)
		goto out;
	if (c->o[O_OUTPUT] != NULL && (f = fopen(c->o[O_OUTPUT], "w")) ==
	    NULL) {
		r = cairn_err(CAIRN_ERR_IO, "%s: cannot create",
		    c->o[O_OUTPUT]);
		goto out;
	}
	if (share)
		write_share(f, &obs);
	else
		write_above(f, &obs, np, nd0, nd1);
	if (fflush(f) != 0 || ferror(f))
		r = cairn_err(CAIRN_ERR_IO, "%s: write failed",
		    c->o[O_OUTPUT] != NULL ? c->o[O_OUTPUT] : "stdout");
	if (f != stdout && fclose(f) != 0 && r == CAIRN_OK)
		r = cairn_err(CAIRN_ERR_IO, "%s: write failed",
		    c->o[O_OUTPUT]);
out:
	query_disp_release(&obs);
	query_disp_release(&nor);
	return r == CAIRN_OK ? 0 : fail(c, r);
}
