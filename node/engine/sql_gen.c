/*
 * sql_gen.c - the SQL statement of each query kind for a push-down source
 * (engine_source.h, docs/sources.md), and the source options.
 *
 * One statement per query computes the exact cells inside the holder's
 * database, following the embedded kernels (engine.c) rule for rule:
 *   ev       the events of the window, each as (subscriber, slot, region):
 *            slot = whole hours since the window's first local midnight,
 *            so slot / 24 is the local day index and slot % 24 the local
 *            hour; only rows with a subscriber and a mapped cell
 *   ranking  row_number() over (subscriber, bucket) ordered by events
 *            descending, then region id ascending: rank 1 is the modal
 *            region with ties to the smaller id, ranks 1..k the top-k
 * and returns rows (t, r1, r2, n) only: a bucket or day index, region ids
 * and a count.  No row per subscriber ever leaves the database.
 *
 * The SQL is standard where it can be (WITH, window functions, joins,
 * GROUP BY); what is PostgreSQL's is kept in the dialect helpers below
 * (parameter placeholders with casts, the epoch of a timestamp, unnest of
 * array parameters), so a ClickHouse dialect can replace them.  Every name
 * is quoted as an identifier; every value is a parameter.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/config.h"
#include "common/err.h"
#include "node/engine/engine_int.h"
#include "node/engine/engine_source.h"

/* The engine's largest timestamp (ingest_csv.c), exclusive. */
#define SRC_MAX_SECONDS	((int64_t)UINT32_MAX * 60)

/* ---- options ---- */

void
engine_source_defaults(struct engine_source *s)
{
	memset(s, 0, sizeof(*s));
	s->tables[0] = "events.calls";
	s->ntables = 1;
	s->subscriber_column = "msisdn";
	s->time_column = "datetime";
	s->cell_column = "location_id";
	s->cell_table_cell = "cell_id";
	s->cell_table_region = "region_id";
	s->statement_timeout_s = 3600;
}

/* Split the list 'val' into s->tables; 's' is unchanged on failure. */
static int
set_tables(struct engine_source *s, const char *val)
{
	char buf[sizeof(s->tabbuf)], *item, *save, *end;
	size_t off[ENGINE_SOURCE_MAX_TABLES], n = 0;

	if (strlen(val) >= sizeof(buf))
		return cairn_err(CAIRN_ERR_ARG, "source option 'tables': "
		    "the list is over %zu bytes", sizeof(buf) - 1);
	memcpy(buf, val, strlen(val) + 1);
	for (item = strtok_r(buf, ",", &save); item != NULL;
	    item = strtok_r(NULL, ",", &save)) {
		while (*item == ' ' || *item == '\t')
			item++;
		end = item + strlen(item);
		while (end > item && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (*item == '\0')
			continue;
		if (n == ENGINE_SOURCE_MAX_TABLES)
			return cairn_err(CAIRN_ERR_ARG, "source option "
			    "'tables': more than %d tables",
			    ENGINE_SOURCE_MAX_TABLES);
		off[n++] = (size_t)(item - buf);
	}
	if (n == 0)
		return cairn_err(CAIRN_ERR_ARG, "source option 'tables': no "
		    "table named");
	memcpy(s->tabbuf, buf, sizeof(buf));
	for (size_t i = 0; i < n; i++)
		s->tables[i] = s->tabbuf + off[i];
	s->ntables = n;
	return CAIRN_OK;
}

int
engine_source_set(struct engine_source *s, const char *key, const char *val)
{
	static const struct {
		const char	*key;
		size_t		 off;
	} names[] = {
		{ "subscriber_column",
		    offsetof(struct engine_source, subscriber_column) },
		{ "time_column", offsetof(struct engine_source, time_column) },
		{ "cell_column", offsetof(struct engine_source, cell_column) },
		{ "cell_table", offsetof(struct engine_source, cell_table) },
		{ "cell_table_cell_column",
		    offsetof(struct engine_source, cell_table_cell) },
		{ "cell_table_region_column",
		    offsetof(struct engine_source, cell_table_region) },
		{ "region_column",
		    offsetof(struct engine_source, region_column) },
		{ "category_column",
		    offsetof(struct engine_source, category_column) },
	};
	int64_t v;

	if (strcmp(key, "uri") == 0) {
		s->uri = val;
		return CAIRN_OK;
	}
	if (strcmp(key, "tables") == 0)
		return set_tables(s, val);
	if (strcmp(key, "statement_timeout_seconds") == 0) {
		if (!config_parse_int(val, &v) || v < 0 || v > 86400 * 7)
			return cairn_err(CAIRN_ERR_ARG, "source option "
			    "'statement_timeout_seconds': '%s' is not an "
			    "integer in [0, 604800]", val);
		s->statement_timeout_s = v;
		return CAIRN_OK;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(key, names[i].key) == 0) {
			if (*val == '\0')
				return cairn_err(CAIRN_ERR_ARG, "source option "
				    "'%s' is empty", key);
			*(const char **)((char *)s + names[i].off) = val;
			return CAIRN_OK;
		}
	return cairn_err(CAIRN_ERR_ARG, "unknown source option '%s'", key);
}

/* A name that can be quoted: non-empty, no dot-separated empty part. */
static bool
name_ok(const char *n, bool dotted)
{
	if (n == NULL || *n == '\0' || strlen(n) > 200)
		return false;
	if (dotted && (n[0] == '.' || n[strlen(n) - 1] == '.' ||
	    strstr(n, "..") != NULL || strchr(strchr(n, '.') ?
	    strchr(n, '.') + 1 : "", '.') != NULL))
		return false;
	return true;
}

int
engine_source_check(struct engine_source *s)
{
	if (s->uri == NULL || *s->uri == '\0')
		return cairn_err(CAIRN_ERR_ARG, "missing source URI");
	if (strncmp(s->uri, "postgresql://", 13) == 0 ||
	    strncmp(s->uri, "postgres://", 11) == 0)
		s->type = ENGINE_SOURCE_POSTGRESQL;
	else if (strncmp(s->uri, "clickhouse://", 13) == 0)
		return cairn_err(CAIRN_ERR_UNSUPPORTED, "source 'clickhouse://"
		    "...': ClickHouse sources are not yet supported (use "
		    "postgresql:// or the embedded engine)");
	else
		return cairn_err(CAIRN_ERR_ARG, "source URI: scheme not "
		    "postgresql:// (or clickhouse://)");
	for (size_t i = 0; i < s->ntables; i++)
		if (!name_ok(s->tables[i], true))
			return cairn_err(CAIRN_ERR_ARG, "source table '%s' is "
			    "not a name or schema.name", s->tables[i]);
	if (s->cell_table != NULL && !name_ok(s->cell_table, true))
		return cairn_err(CAIRN_ERR_ARG, "source cell_table '%s' is not "
		    "a name or schema.name", s->cell_table);
	if (!name_ok(s->subscriber_column, false) ||
	    !name_ok(s->time_column, false) ||
	    !name_ok(s->cell_column, false) ||
	    !name_ok(s->cell_table_cell, false) ||
	    !name_ok(s->cell_table_region, false) ||
	    (s->region_column != NULL && !name_ok(s->region_column, false)) ||
	    (s->category_column != NULL && !name_ok(s->category_column,
	    false)))
		return cairn_err(CAIRN_ERR_ARG, "a source column name is empty "
		    "or over 200 bytes");
	return CAIRN_OK;
}

/* ---- the generator and its dialect helpers (PostgreSQL) ---- */

struct gen {
	FILE		*f;
	struct engine_sql *out;
	int		 err;
};

/* Add a parameter (its value formatted), return its number. */
static size_t
gen_param(struct gen *g, const char *what, const char *fmt, ...)
{
	va_list ap;
	char *v = NULL;
	size_t i = g->out->nparams;

	if (i == ENGINE_SQL_MAXPARAMS) {
		g->err = CAIRN_ERR_INTERNAL;
		return 1;
	}
	va_start(ap, fmt);
	if (vasprintf(&v, fmt, ap) < 0) {
		g->err = CAIRN_ERR_NOMEM;
		va_end(ap);
		return 1;
	}
	va_end(ap);
	g->out->params[i] = v;
	snprintf(g->out->what[i], sizeof(g->out->what[i]), "%s", what);
	g->out->nparams = i + 1;
	return i + 1;
}

/* Take over the malloc'd value 'v' as a parameter. */
static size_t
gen_param_take(struct gen *g, const char *what, char *v)
{
	size_t i = g->out->nparams;

	if (v == NULL) {
		g->err = CAIRN_ERR_NOMEM;
		return 1;
	}
	if (i == ENGINE_SQL_MAXPARAMS) {
		free(v);
		g->err = CAIRN_ERR_INTERNAL;
		return 1;
	}
	g->out->params[i] = v;
	snprintf(g->out->what[i], sizeof(g->out->what[i]), "%s", what);
	g->out->nparams = i + 1;
	return i + 1;
}

/* A reference to parameter 'n' with its type. */
static void
P(struct gen *g, size_t n, const char *type)
{
	fprintf(g->f, "$%zu::%s", n, type);
}

/* An identifier, quoted; with 'dotted', "a.b" is "a"."b". */
static void
ident(struct gen *g, const char *name, bool dotted)
{
	fputc('"', g->f);
	for (const char *c = name; *c != '\0'; c++) {
		if (*c == '"')
			fputs("\"\"", g->f);
		else if (*c == '.' && dotted)
			fputs("\".\"", g->f);
		else
			fputc(*c, g->f);
	}
	fputc('"', g->f);
}

/* Seconds since the epoch, floored, of the timestamp expression 'e'. */
static void
epoch_of(struct gen *g, const char *e)
{
	fprintf(g->f, "floor(extract(epoch FROM %s))::bigint", e);
}

/* A UTC timestamp parameter value. */
static size_t
ts_param(struct gen *g, const char *what, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL) {
		g->err = CAIRN_ERR_RANGE;
		return 1;
	}
	return gen_param(g, what, "%04d-%02d-%02d %02d:%02d:%02d+00",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
}

/* PostgreSQL array literal of the cell ids, and of their region ids. */
static int
cell_arrays(const struct engine_cellmap *m, char **cells, char **regions)
{
	char *cb = NULL, *rb = NULL;
	size_t cl = 0, rl = 0;
	FILE *cf = open_memstream(&cb, &cl), *rf = open_memstream(&rb, &rl);
	size_t n = engine_cellmap_ncells(m);

	if (cf == NULL || rf == NULL) {
		if (cf != NULL)
			fclose(cf);
		if (rf != NULL)
			fclose(rf);
		free(cb);
		free(rb);
		return CAIRN_ERR_NOMEM;
	}
	fputc('{', cf);
	fputc('{', rf);
	for (size_t i = 0; i < n; i++) {
		size_t len;
		uint32_t reg;
		const char *c = engine_cellmap_cell(m, i, &len, &reg);

		fputs(i ? ",\"" : "\"", cf);
		for (size_t j = 0; j < len; j++) {
			if (c[j] == '"' || c[j] == '\\')
				fputc('\\', cf);
			fputc(c[j], cf);
		}
		fputc('"', cf);
		fprintf(rf, "%s%" PRIu32, i ? "," : "", reg);
	}
	fputc('}', cf);
	fputc('}', rf);
	if (fclose(cf) != 0 || fclose(rf) != 0) {
		free(cb);
		free(rb);
		return CAIRN_ERR_NOMEM;
	}
	*cells = cb;
	*regions = rb;
	return CAIRN_OK;
}

static char *
region_array(const struct engine_cellmap *m)
{
	char *b = NULL;
	size_t l = 0;
	FILE *f = open_memstream(&b, &l);
	const uint32_t *ids = engine_cellmap_regions(m);

	if (f == NULL)
		return NULL;
	fputc('{', f);
	for (size_t i = 0; i < engine_cellmap_nregions(m); i++)
		fprintf(f, "%s%" PRIu32, i ? "," : "", ids[i]);
	fputc('}', f);
	if (fclose(f) != 0) {
		free(b);
		return NULL;
	}
	return b;
}

/*
 * The map CTE "cm (cell, region)": the node's cell map as two array
 * parameters, or the configured table restricted to the domain's regions.
 */
static void
gen_map(struct gen *g, const struct engine_source *s,
    const struct engine_cellmap *m)
{
	char *cells = NULL, *regions = NULL;
	size_t a, b;
	int r;

	if (s->region_column != NULL) {
		a = gen_param_take(g, "region ids of the domain",
		    region_array(m));
		fputs("WITH dom (region) AS (\n\tSELECT * FROM unnest(", g->f);
		P(g, a, "bigint[]");
		fputs(")\n)", g->f);
		return;
	}
	fputs("WITH cm (cell, region) AS (\n", g->f);
	if (s->cell_table == NULL) {
		if ((r = cell_arrays(m, &cells, &regions)) != CAIRN_OK) {
			g->err = r;
			return;
		}
		a = gen_param_take(g, "cell ids of the cell map", cells);
		b = gen_param_take(g, "their region ids", regions);
		fputs("\tSELECT * FROM unnest(", g->f);
		P(g, a, "text[]");
		fputs(", ", g->f);
		P(g, b, "bigint[]");
		fputs(")\n)", g->f);
		return;
	}
	a = gen_param_take(g, "region ids of the domain", region_array(m));
	fputs("\tSELECT ", g->f);
	ident(g, s->cell_table_cell, false);
	fputs("::text, ", g->f);
	ident(g, s->cell_table_region, false);
	fputs("::bigint FROM ", g->f);
	ident(g, s->cell_table, true);
	fputs("\n\tWHERE ", g->f);
	ident(g, s->cell_table_region, false);
	fputs(" = ANY (", g->f);
	P(g, a, "bigint[]");
	fputs(")\n)", g->f);
}

/*
 * The events of every table as "(s, t, cell)"; with 'lo' non-zero only
 * those with lo <= time < hi (parameters, for partition pruning).
 */
static void
gen_union(struct gen *g, const struct engine_source *s, size_t lo, size_t hi)
{
	for (size_t i = 0; i < s->ntables; i++) {
		fputs(i ? "\t\tUNION ALL\n\t\tSELECT " : "\t\tSELECT ", g->f);
		ident(g, s->subscriber_column, false);
		fputs(" AS s, ", g->f);
		ident(g, s->time_column, false);
		fputs(" AS t, ", g->f);
		if (s->region_column != NULL) {
			ident(g, s->region_column, false);
			fputs("::bigint AS cell", g->f);
		} else {
			ident(g, s->cell_column, false);
			fputs("::text AS cell", g->f);
		}
		if (s->category_column != NULL) {
			fputs(", ", g->f);
			ident(g, s->category_column, false);
			fputs("::text AS cat", g->f);
		}
		fputs(" FROM ", g->f);
		ident(g, s->tables[i], true);
		fputc('\n', g->f);
		if (lo == 0)
			continue;
		fputs("\t\tWHERE ", g->f);
		ident(g, s->time_column, false);
		fputs(" >= ", g->f);
		P(g, lo, "timestamptz");
		fputs(" AND ", g->f);
		ident(g, s->time_column, false);
		fputs(" < ", g->f);
		P(g, hi, "timestamptz");
		fputc('\n', g->f);
	}
}

/* "ev (s, slot, region)": the window's events. */
static void
gen_events(struct gen *g, const struct engine_source *s,
    const struct engine_plan *p)
{
	int64_t base = p->d0 * 86400 - p->off, end = p->d1 * 86400 - p->off;
	size_t b = gen_param(g, "UTC epoch of the window's first local "
	    "midnight", "%" PRId64, base);
	size_t lo = ts_param(g, "window start (UTC)", base);
	size_t hi = ts_param(g, "window end (UTC), exclusive", end);

	bool cat = p->q.kind == QSPEC_KIND_POPCAT;

	fprintf(g->f, ",\nev (s, slot, region%s) AS (\n\tSELECT e.s, (",
	    cat ? ", cat" : "");
	epoch_of(g, "e.t");
	fputs(" - ", g->f);
	P(g, b, "bigint");
	fprintf(g->f, ") / 3600, %s%s\n\tFROM (\n", s->region_column != NULL ?
	    "dom.region" : "cm.region", cat ? ", e.cat" : "");
	gen_union(g, s, lo, hi);
	fprintf(g->f, "\t) AS e JOIN %s\n"
	    "\tWHERE e.s IS NOT NULL AND length(e.s) > 0%s\n)",
	    s->region_column != NULL ? "dom ON dom.region = e.cell" :
	    "cm ON cm.cell = e.cell", cat ?
	    " AND e.cat IS NOT NULL AND e.cat <> ''" : "");
}

/*
 * "NAME (s, region)": each subscriber's home, the modal region of its
 * night events over local days [from, to) (0, 0: the whole window).
 */
static void
gen_home(struct gen *g, const char *name, size_t ns, size_t ne, size_t from,
    size_t to)
{
	fprintf(g->f, ",\n%s_n (s, region, n) AS (\n\tSELECT s, region, "
	    "count(*) FROM ev\n\tWHERE (slot %% 24 >= ", name);
	P(g, ns, "integer");
	fputs(" OR slot % 24 < ", g->f);
	P(g, ne, "integer");
	fputc(')', g->f);
	if (from != 0) {
		fputs(" AND slot / 24 >= ", g->f);
		P(g, from, "integer");
		fputs(" AND slot / 24 < ", g->f);
		P(g, to, "integer");
	}
	fprintf(g->f, "\n\tGROUP BY s, region\n),\n%s (s, region) AS (\n"
	    "\tSELECT s, region FROM (\n\t\tSELECT s, region, row_number() "
	    "OVER (PARTITION BY s\n\t\t    ORDER BY n DESC, region) AS rk\n"
	    "\t\tFROM %s_n\n\t) AS x WHERE rk = 1\n)", name, name);
}

/*
 * "ranked (s, b, region, rk)": per subscriber and bucket (day, or hour
 * with 'hour'), its regions ranked by events, ties to the smaller id.
 */
static void
gen_ranked(struct gen *g, bool hour)
{
	fprintf(g->f, ",\nc (s, b, region, n) AS (\n\tSELECT s, b, region, "
	    "count(*) FROM (\n\t\tSELECT s, %s AS b, region FROM ev\n\t) AS x "
	    "GROUP BY s, b, region\n),\nranked (s, b, region, rk) AS (\n"
	    "\tSELECT s, b, region, row_number() OVER (PARTITION BY s, b\n"
	    "\t    ORDER BY n DESC, region)\n\tFROM c\n)", hour ? "slot" :
	    "slot / 24");
}

/* The spec's categories (sorted bytewise) as an array parameter. */
static size_t
cats_param(struct gen *g, const struct qspec *q)
{
	char *b = NULL;
	size_t l = 0;
	FILE *f = open_memstream(&b, &l);

	if (f == NULL) {
		g->err = CAIRN_ERR_NOMEM;
		return 1;
	}
	fputc('{', f);
	for (uint32_t i = 0; i < q->ncats; i++) {
		fputs(i ? ",\"" : "\"", f);
		for (const char *c = q->cats[i]; *c != '\0'; c++) {
			if (*c == '"' || *c == '\\')
				fputc('\\', f);
			fputc(*c, f);
		}
		fputc('"', f);
	}
	fputc('}', f);
	if (fclose(f) != 0) {
		free(b);
		b = NULL;
	}
	return gen_param_take(g, "the categories, sorted", b);
}

/*
 * population_by_category: each subscriber's modal (region, category)
 * among the spec's categories, ties to the smaller region id, then to
 * the category first in the sorted list; and the count of the window's
 * events under other categories as the row (0, 0, 1, n).
 */
static void
gen_popcat(struct gen *g, const struct qspec *q)
{
	size_t k = cats_param(g, q);

	fputs(",\nevc (s, region, ci) AS (\n\tSELECT s, region, "
	    "array_position(", g->f);
	P(g, k, "text[]");
	fputs(", cat) - 1 FROM ev\n),\npc (s, region, ci, n) AS (\n"
	    "\tSELECT s, region, ci, count(*) FROM evc WHERE ci IS NOT NULL\n"
	    "\tGROUP BY s, region, ci\n),\nm (region, ci) AS (\n"
	    "\tSELECT region, ci FROM (\n\t\tSELECT region, ci, row_number() "
	    "OVER (PARTITION BY s\n\t\t    ORDER BY n DESC, region, ci) AS rk\n"
	    "\t\tFROM pc\n\t) AS x WHERE rk = 1\n)\n"
	    "SELECT ci AS t, region AS r1, 0 AS r2, count(*) AS n\n"
	    "FROM m GROUP BY ci, region\nUNION ALL\n"
	    "SELECT 0, 0, 1, count(*) FROM evc WHERE ci IS NULL\n", g->f);
}

static void
gen_kind(struct gen *g, const struct engine_plan *p)
{
	const struct qspec *q = &p->q;
	size_t k, ns, ne, f1, t1, f2, t2;

	switch (q->kind) {
	case QSPEC_KIND_PRESENCE:
		k = gen_param(g, "k", "%" PRIu32, q->k);
		gen_ranked(g, q->bucket_hour);
		fputs("\nSELECT b AS t, region AS r1, 0 AS r2, count(*) AS n\n"
		    "FROM ranked WHERE rk <= ", g->f);
		P(g, k, "integer");
		fputs("\nGROUP BY b, region\n", g->f);
		break;
	case QSPEC_KIND_RESIDENTS:
		ns = gen_param(g, "night_start_hour", "%u", q->night_start);
		ne = gen_param(g, "night_end_hour", "%u", q->night_end);
		gen_home(g, "home", ns, ne, 0, 0);
		fputs("\nSELECT 0 AS t, region AS r1, 0 AS r2, count(*) AS n\n"
		    "FROM home GROUP BY region\n", g->f);
		break;
	case QSPEC_KIND_OD:
		fputs(",\nc (s, d, region, n) AS (\n\tSELECT s, d, region, "
		    "count(*) FROM (\n\t\tSELECT s, slot / 24 AS d, region "
		    "FROM ev\n\t) AS x GROUP BY s, d, region\n),\n"
		    "dr (s, d, region) AS (\n\tSELECT s, d, region FROM (\n"
		    "\t\tSELECT s, d, region, row_number() OVER (PARTITION BY "
		    "s, d\n\t\t    ORDER BY n DESC, region) AS rk\n\t\tFROM c\n"
		    "\t) AS x WHERE rk = 1\n)\n"
		    "SELECT a.d AS t, a.region AS r1, b.region AS r2, count(*) "
		    "AS n\nFROM dr AS a JOIN dr AS b ON b.s = a.s AND "
		    "b.d = a.d + 1\nGROUP BY a.d, a.region, b.region\n", g->f);
		break;
	case QSPEC_KIND_MIGRATION:
		ns = gen_param(g, "night_start_hour", "%u", q->night_start);
		ne = gen_param(g, "night_end_hour", "%u", q->night_end);
		/* Day indexes from the span's first day. */
		f1 = gen_param(g, "baseline first day index", "%" PRId64,
		    q->base[0] - p->d0);
		t1 = gen_param(g, "baseline end day index", "%" PRId64,
		    q->base[1] - p->d0);
		f2 = gen_param(g, "comparison first day index", "%" PRId64,
		    q->comp[0] - p->d0);
		t2 = gen_param(g, "comparison end day index", "%" PRId64,
		    q->comp[1] - p->d0);
		gen_home(g, "hb", ns, ne, f1, t1);
		gen_home(g, "hc", ns, ne, f2, t2);
		fputs("\nSELECT 0 AS t, hb.region AS r1, hc.region AS r2, "
		    "count(*) AS n\nFROM hb JOIN hc ON hc.s = hb.s\n"
		    "GROUP BY hb.region, hc.region\n", g->f);
		break;
	case QSPEC_KIND_VISITORS:
		k = gen_param(g, "k", "%" PRIu32, q->k);
		ns = gen_param(g, "night_start_hour", "%u", q->night_start);
		ne = gen_param(g, "night_end_hour", "%u", q->night_end);
		gen_home(g, "home", ns, ne, 0, 0);
		gen_ranked(g, false);
		fputs("\nSELECT r.b AS t, r.region AS r1, 0 AS r2, count(*) AS "
		    "n\nFROM ranked AS r LEFT JOIN home AS h ON h.s = r.s\n"
		    "WHERE r.rk <= ", g->f);
		P(g, k, "integer");
		fputs(" AND (h.region IS NULL OR h.region <> r.region)\n"
		    "GROUP BY r.b, r.region\n", g->f);
		break;
	case QSPEC_KIND_POPCAT:
		gen_popcat(g, q);
		break;
	default:
		g->err = CAIRN_ERR_INTERNAL;
	}
}

static int
gen_open(struct gen *g, struct engine_sql *out, char **buf, size_t *len)
{
	memset(out, 0, sizeof(*out));
	memset(g, 0, sizeof(*g));
	g->out = out;
	*buf = NULL;
	if ((g->f = open_memstream(buf, len)) == NULL)
		return CAIRN_ERR_NOMEM;
	return CAIRN_OK;
}

/* Close the text of 'g' (*buf, set by the stream) into 'out'. */
static int
gen_close(struct gen *g, struct engine_sql *out, char **bufp)
{
	int r = g->err;
	char *buf;

	if (fclose(g->f) != 0 && r == CAIRN_OK)
		r = CAIRN_ERR_NOMEM;
	buf = *bufp;
	if (r != CAIRN_OK) {
		free(buf);
		engine_sql_release(out);
		return r == CAIRN_ERR_RANGE ? cairn_err(r, "the query window "
		    "is outside the timestamps this system can write") : r;
	}
	out->text = buf;
	return CAIRN_OK;
}

int
engine_sql_build(const struct qspec *q, const struct engine_source *s,
    const struct engine_cellmap *cells, struct engine_sql *out)
{
	struct engine_plan p;
	struct gen g;
	char *buf;
	size_t len;
	int r;

	if (q->kind == QSPEC_KIND_POPCAT && s->category_column == NULL)
		return cairn_err(CAIRN_ERR_ARG, "population_by_category needs "
		    "the source option category_column (the events' category)");
	/* Not generated yet: refused, never computed some other way. */
	if (q->kind == QSPEC_KIND_DISPLACEMENT)
		return cairn_err(CAIRN_ERR_UNSUPPORTED, "a SQL source does not "
		    "compute kind 'displacement' yet; use the CSV files or the "
		    "store (docs/sources.md)");
	if (q->kind == QSPEC_KIND_RESIDENTS &&
	    q->min_nights != QSPEC_MIN_NIGHTS_DEFAULT)
		return cairn_err(CAIRN_ERR_UNSUPPORTED, "a SQL source computes "
		    "residents with min_nights %u only, not %u; use the CSV "
		    "files or the store (docs/sources.md)",
		    QSPEC_MIN_NIGHTS_DEFAULT, q->min_nights);
	if ((r = engine_plan_init(&p, q,
	    (uint32_t)engine_cellmap_nregions(cells))) != CAIRN_OK)
		return r;
	if (s->cell_table == NULL && s->region_column == NULL &&
	    engine_cellmap_ncells(cells) == 0)
		return cairn_err(CAIRN_ERR_ARG, "a SQL source needs a cell map "
		    "(--cells), a cell_table or a region_column");
	if ((r = gen_open(&g, out, &buf, &len)) != CAIRN_OK)
		return r;
	fprintf(g.f, "-- cairn: %s, exact cells (t, r1, r2, n)\n",
	    qspec_kind_name(q->kind));
	gen_map(&g, s, cells);
	gen_events(&g, s, &p);
	gen_kind(&g, &p);
	return gen_close(&g, out, &buf);
}

int
engine_sql_build_check(const struct engine_source *s,
    const struct engine_cellmap *cells, struct engine_sql *out)
{
	struct gen g;
	char *buf;
	size_t len, lo, hi;
	int r;

	if (s->cell_table == NULL && s->region_column == NULL &&
	    engine_cellmap_ncells(cells) == 0)
		return cairn_err(CAIRN_ERR_ARG, "a SQL source needs a cell map "
		    "(--cells), a cell_table or a region_column");
	if ((r = gen_open(&g, out, &buf, &len)) != CAIRN_OK)
		return r;
	fputs("-- cairn: check-data, rows by table and reason\n", g.f);
	gen_map(&g, s, cells);
	lo = ts_param(&g, "earliest timestamp read", 0);
	hi = ts_param(&g, "latest timestamp read, exclusive",
	    SRC_MAX_SECONDS);
	fputc('\n', g.f);
	for (size_t i = 0; i < s->ntables; i++) {
		struct engine_source one = *s;

		one.tables[0] = s->tables[i];
		one.ntables = 1;
		if (i > 0)
			fputs("UNION ALL\n", g.f);
		fprintf(g.f, "SELECT %zu AS tab, CASE\n"
		    "\tWHEN e.s IS NULL OR length(e.s) = 0 THEN 1\n"
		    "\tWHEN e.t IS NULL OR e.t < ", i);
		P(&g, lo, "timestamptz");
		fputs(" OR e.t >= ", g.f);
		P(&g, hi, "timestamptz");
		if (s->region_column != NULL)
			fputs(" THEN 2\n\tWHEN e.cell IS NULL THEN 3\n"
			    "\tWHEN dom.region IS NULL THEN 4\n", g.f);
		else
			fputs(" THEN 2\n\tWHEN e.cell IS NULL OR e.cell = '' "
			    "THEN 3\n\tWHEN cm.cell IS NULL THEN 4\n", g.f);
		fputs("\tELSE 0 END AS why, count(*) AS n\nFROM (\n", g.f);
		gen_union(&g, &one, 0, 0);
		fputs(s->region_column != NULL ? ") AS e LEFT JOIN dom ON "
		    "dom.region = e.cell\nGROUP BY 1, 2\n" : ") AS e LEFT JOIN "
		    "cm ON cm.cell = e.cell\nGROUP BY 1, 2\n", g.f);
	}
	return gen_close(&g, out, &buf);
}

void
engine_sql_release(struct engine_sql *sql)
{
	free(sql->text);
	for (size_t i = 0; i < sql->nparams; i++)
		free(sql->params[i]);
	memset(sql, 0, sizeof(*sql));
}

void
engine_sql_print(const struct engine_sql *sql, FILE *f)
{
	fputs(sql->text, f);
	fputs(";\n", f);
	for (size_t i = 0; i < sql->nparams; i++) {
		const char *v = sql->params[i];

		if (v[0] == '{') {
			size_t n = v[1] == '}' ? 0 : 1;

			/* an array: its length, not the map itself */
			for (const char *c = v; *c != '\0'; c++)
				if (*c == '\\' && c[1] != '\0')
					c++;
				else if (*c == ',')
					n++;
			fprintf(f, "-- $%zu: %s (an array of %zu values)\n",
			    i + 1, sql->what[i], n);
		} else
			fprintf(f, "-- $%zu: %s = %s\n", i + 1, sql->what[i],
			    v);
	}
}
