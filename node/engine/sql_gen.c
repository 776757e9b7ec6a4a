/*
 * sql_gen.c - the SQL statement of each query kind for a push-down source
 * (engine_source.h, docs/sources.md; its options are source_opts.c).
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
 * The structure is one for both dialects; the dialect table below holds
 * what differs.  PostgreSQL gets the relations as WITH, the ranking as
 * row_number(), values as $n parameters.  ClickHouse 18.16 (Debian 12)
 * has no WITH of subqueries, no window functions and no query
 * parameters: each relation is written inline where it is used (so od
 * and migration are written to use their relations once: the days'
 * regions in arrays per subscriber, the two homes by maxIf), the top-k
 * ranking sorts each partition's array of (region, count) by count
 * descending then region ascending and numbers it (arrayEnumerate), the
 * modal region (rank 1 alone) is one max() of the packed (count,
 * region), the node's cell map is looked up by transform(), the numbers
 * the node computed (k, hours, epochs, day indexes) are written as
 * integer literals, and every string value (cell ids, categories)
 * travels as an external table beside the statement.  Every name is
 * quoted as an identifier; no string value is ever part of the text.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "node/engine/engine_int.h"
#include "node/engine/engine_source.h"
#include "node/engine/source_int.h"

/* The engine's largest timestamp (ingest_csv.c), exclusive. */
#define SRC_MAX_SECONDS	((int64_t)UINT32_MAX * 60)

/*
 * ClickHouse: the node's cell map (the external table cm) as a tuple of
 * its two columns, each an array, and the region of a cell not in it.
 */
#define CH_CM_ARRAYS	"(SELECT groupArray(cell), groupArray(region) FROM cm)"
#define CH_NO_REGION	"toUInt64(18446744073709551615)"

/*
 * The largest cell map looked up by transform(); a larger one is joined.
 * transform()'s cost grew faster than the map (migration on the
 * benchmark's 11.2 M events, single runs: +0.2 s at 10,000 cells, +0.8 s
 * at 30,000, +8.5 s at 100,000, +115 s at 300,000 over 1.2 s at 141)
 * where the join's barely moved (2.5-4.3 s for the previous, two-pass
 * statement); below about 20,000 cells transform() is the cheaper
 * (docs/sources.md).
 */
#define CH_TRANSFORM_MAXCELLS	16384

/* ---- the generator and its dialect table ---- */

/*
 * What differs between the dialects.  The statement's structure (the
 * relations below and the final SELECT of each kind) is one; a dialect
 * says how a name is quoted, how a value reaches the server, how time
 * becomes seconds, and how the relations and the ranking are written:
 * PostgreSQL has WITH and row_number(); ClickHouse 18.16 (Debian 12) has
 * neither, so there each relation is written inline where it is used and
 * the ranking sorts an array of (region, count) per partition.
 */
struct dialect {
	const char	*quote_quote;	/* a '"' inside a quoted name */
	const char	*quote_bslash;	/* a '\' inside a quoted name */
	const char	*join;		/* an inner join */
	const char	*left_join;	/* unmatched right side: NULL */
	const char	*epoch[2];	/* seconds since the epoch of ... */
	const char	*text[2];	/* ... as text */
	const char	*id[2];		/* ... as a region id */
	const char	*idiv[3];	/* integer division: a, b */
	const char	*cat_found;	/* a category index was found */
	const char	*cat_missing;
	const char	*count_if[2];	/* the rows where ... hold */
	bool		 ctes;		/* WITH relations, or inline */
	bool		 windows;	/* row_number(), or sorted arrays */
	bool		 placeholders;	/* $n::type, or literals and external
					   tables (ClickHouse 18.16 has no
					   query parameters) */
};

static const struct dialect dialects[] = {
	[ENGINE_SOURCE_POSTGRESQL] = {
		"\"\"", "\\", "JOIN", "LEFT JOIN",
		{ "floor(extract(epoch FROM ", "))::bigint" },
		{ "", "::text" }, { "", "::bigint" }, { "(", " / ", ")" },
		"ci IS NOT NULL", "ci IS NULL",
		{ "count(*) FILTER (WHERE ", ")" }, true, true, true
	},
	[ENGINE_SOURCE_CLICKHOUSE] = {
		"\\\"", "\\\\", "ALL INNER JOIN", "ALL LEFT JOIN",
		{ "toInt64(toUnixTimestamp(", "))" },
		{ "toString(", ")" }, { "toUInt64(", ")" },
		{ "intDiv(", ", ", ")" },
		"ci >= 0", "ci < 0", { "countIf(", ")" }, false, false, false
	},
};

#define GEN_MAXRELS	16

struct gen {
	FILE		*f;		/* where text goes now */
	FILE		*main;		/* the final SELECT */
	FILE		*outer;		/* main, while a relation is written */
	char		*relbuf;
	size_t		 rellen;
	struct engine_sql *out;
	const struct dialect *d;
	int		 err;
	bool		 transform;	/* ClickHouse: cm by transform() */
	size_t		 nrels;
	char		 relname[GEN_MAXRELS][16];
	char		*reltext[GEN_MAXRELS];
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

/*
 * Take over the malloc'd tab-separated rows 'data' ('rows' of them) as
 * the external table 'name' of 'structure' (ClickHouse).
 */
static void
gen_ext_take(struct gen *g, const char *name, const char *structure,
    const char *what, char *data, size_t rows)
{
	struct engine_sql *o = g->out;

	if (data == NULL) {
		g->err = CAIRN_ERR_NOMEM;
		return;
	}
	if (o->next == ENGINE_SQL_MAXEXT) {
		free(data);
		g->err = CAIRN_ERR_INTERNAL;
		return;
	}
	snprintf(o->ext[o->next].name, sizeof(o->ext[0].name), "%s", name);
	o->ext[o->next].structure = structure;
	o->ext[o->next].what = what;
	o->ext[o->next].data = data;
	o->ext[o->next].rows = rows;
	o->next++;
}

/*
 * A reference to parameter 'n' of 'type': "$n::type" in PostgreSQL; in
 * ClickHouse the value itself, which is always a number the node wrote
 * (an integer, or seconds since the epoch for a timestamptz).
 */
static void
P(struct gen *g, size_t n, const char *type)
{
	if (g->d->placeholders)
		fprintf(g->f, "$%zu::%s", n, type);
	else if (n > g->out->nparams)
		g->err = CAIRN_ERR_INTERNAL;
	else if (strcmp(type, "timestamptz") == 0)
		fprintf(g->f, "toDateTime(%s)", g->out->params[n - 1]);
	else
		fprintf(g->f, "toInt64(%s)", g->out->params[n - 1]);
}

/* An identifier, quoted; with 'dotted', "a.b" is "a"."b". */
static void
ident(struct gen *g, const char *name, bool dotted)
{
	fputc('"', g->f);
	for (const char *c = name; *c != '\0'; c++) {
		if (*c == '"')
			fputs(g->d->quote_quote, g->f);
		else if (*c == '\\')
			fputs(g->d->quote_bslash, g->f);
		else if (*c == '.' && dotted)
			fputs("\".\"", g->f);
		else
			fputc(*c, g->f);
	}
	fputc('"', g->f);
}

/* Print 'pre', the identifier 'name', then 'post'. */
static void
wrap_ident(struct gen *g, const char *const w[2], const char *name)
{
	fputs(w[0], g->f);
	ident(g, name, false);
	fputs(w[1], g->f);
}

/* Seconds since the epoch, floored, of the timestamp expression 'e'. */
static void
epoch_of(struct gen *g, const char *e)
{
	fprintf(g->f, "%s%s%s", g->d->epoch[0], e, g->d->epoch[1]);
}

/* The integer quotient a / b (both non-negative). */
static void
idiv(struct gen *g, const char *a, const char *b)
{
	fprintf(g->f, "%s%s%s%s%s", g->d->idiv[0], a, g->d->idiv[1], b,
	    g->d->idiv[2]);
}

/*
 * A UTC timestamp parameter value: text for PostgreSQL, seconds since
 * the epoch for ClickHouse (whose DateTime holds 1970 to 2106: clamped).
 */
static size_t
ts_param(struct gen *g, const char *what, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!g->d->placeholders)
		return gen_param(g, what, "%" PRId64, t < 0 ? 0 :
		    t > (int64_t)UINT32_MAX ? (int64_t)UINT32_MAX : t);
	if (gmtime_r(&tt, &tm) == NULL) {
		g->err = CAIRN_ERR_RANGE;
		return 1;
	}
	return gen_param(g, what, "%04d-%02d-%02d %02d:%02d:%02d+00",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
}

/* Start writing the relation 'name' (no nesting). */
static void
rel_begin(struct gen *g)
{
	FILE *f;

	g->relbuf = NULL;
	g->outer = g->f;
	if ((f = open_memstream(&g->relbuf, &g->rellen)) == NULL)
		g->err = CAIRN_ERR_NOMEM;
	else
		g->f = f;
}

/* End the relation begun last, naming it 'name'. */
static void
rel_end(struct gen *g, const char *name)
{
	if (g->f == g->outer)
		return;	/* rel_begin failed */
	if (fclose(g->f) != 0) {
		g->err = CAIRN_ERR_NOMEM;
		free(g->relbuf);
	} else if (g->nrels == GEN_MAXRELS) {
		g->err = CAIRN_ERR_INTERNAL;
		free(g->relbuf);
	} else {
		snprintf(g->relname[g->nrels], sizeof(g->relname[0]), "%s",
		    name);
		g->reltext[g->nrels++] = g->relbuf;
	}
	g->relbuf = NULL;
	g->f = g->outer;
}

/*
 * Use the relation 'name' in a FROM clause, as 'alias' (NULL: its name):
 * by name where the dialect has WITH (and for the external tables of
 * ClickHouse, which no relation shadows), else its text in parentheses.
 */
static void
use(struct gen *g, const char *name, const char *alias)
{
	for (size_t i = 0; i < g->nrels; i++)
		if (strcmp(g->relname[i], name) == 0 && !g->d->ctes) {
			fprintf(g->f, "(\n%s\n) AS %s", g->reltext[i],
			    alias != NULL ? alias : name);
			return;
		}
	fputs(name, g->f);
	if (alias != NULL)
		fprintf(g->f, " AS %s", alias);
}

/*
 * The map: "cm (cell, region)", the node's cell map (array parameters:
 * the cells, their regions and the domain's regions; or ClickHouse's
 * external table cm) or the configured table
 * restricted to the domain's regions; for region-level tables "dom
 * (region)", the domain's region ids.
 */
static void
gen_map(struct gen *g, const struct engine_source *s,
    const struct engine_cellmap *m)
{
	bool ph = g->d->placeholders;
	char *cells = NULL, *regions = NULL;
	size_t a = 0, b, c;
	int r;

	if (s->region_column != NULL || s->cell_table != NULL) {
		if (ph)
			a = gen_param_take(g, "region ids of the domain",
			    engine_sql_region_list(m, false));
		else
			gen_ext_take(g, "dom", "region UInt64",
			    "region ids of the domain", engine_sql_region_list(m, true),
			    engine_cellmap_nregions(m));
	}
	if (s->region_column != NULL) {
		if (!ph)
			return;
		rel_begin(g);
		fputs("\tSELECT unnest(", g->f);
		P(g, a, "bigint[]");
		fputs(") AS region", g->f);
		rel_end(g, "dom");
		return;
	}
	if (s->cell_table == NULL) {
		if (!ph) {
			gen_ext_take(g, "cm", "cell String, region UInt64",
			    "the cell map (cell, region)", engine_sql_cell_rows(m),
			    engine_cellmap_ncells(m));
			return;
		}
		if ((r = engine_sql_cell_arrays(m, &cells, &regions)) != CAIRN_OK) {
			g->err = r;
			return;
		}
		a = gen_param_take(g, "cell ids of the cell map", cells);
		b = gen_param_take(g, "their region ids", regions);
		c = gen_param_take(g, "region ids of the domain",
		    engine_sql_region_list(m, false));
		/*
		 * The region comes from the domain's list, LEFT JOINed (every
		 * cell's region is in it: nothing is lost or doubled), for
		 * the planner: a function scan has no statistics, so the
		 * number of distinct values of a column is taken to be its
		 * row count.  Read from the cell map, the region looked as
		 * varied as the cells (141 instead of 20 on the benchmark's
		 * data), the (subscriber, day, region) groups no fewer than
		 * the events, and a partial aggregation in parallel workers
		 * not worth a Gather: the plan was serial.  Read from the
		 * domain it has its true count; an inner join would have
		 * cut the map's estimated rows to the regions' count and
		 * the events joined with it likewise (docs/sources.md).
		 */
		rel_begin(g);
		fputs("\tSELECT u.cell AS cell, d.region AS region FROM unnest(",
		    g->f);
		P(g, a, "text[]");
		fputs(", ", g->f);
		P(g, b, "bigint[]");
		fputs(") AS u (cell, region)\n\tLEFT JOIN unnest(", g->f);
		P(g, c, "bigint[]");
		fputs(") AS d (region) ON d.region = u.region", g->f);
		rel_end(g, "cm");
		return;
	}
	rel_begin(g);
	fputs("\tSELECT ", g->f);
	wrap_ident(g, g->d->text, s->cell_table_cell);
	fputs(" AS cell, ", g->f);
	wrap_ident(g, g->d->id, s->cell_table_region);
	fputs(" AS region FROM ", g->f);
	ident(g, s->cell_table, true);
	fputs("\n\tWHERE ", g->f);
	if (ph) {
		ident(g, s->cell_table_region, false);
		fputs(" = ANY (", g->f);
		P(g, a, "bigint[]");
		fputc(')', g->f);
	} else {
		wrap_ident(g, g->d->id, s->cell_table_region);
		fputs(" IN (SELECT region FROM dom)", g->f);
	}
	rel_end(g, "cm");
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
		if (s->region_column != NULL)
			wrap_ident(g, g->d->id, s->region_column);
		else
			wrap_ident(g, g->d->text, s->cell_column);
		fputs(" AS cell", g->f);
		if (s->category_column != NULL) {
			fputs(", ", g->f);
			wrap_ident(g, g->d->text, s->category_column);
			fputs(" AS cat", g->f);
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

/* "ev (s, slot, region[, cat])": the window's events. */
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
	bool dom = s->region_column != NULL;
	char *num = NULL;
	size_t nl;
	FILE *f;

	/* (epoch(e.t) - base) as the dividend of the slot */
	if ((f = open_memstream(&num, &nl)) == NULL) {
		g->err = CAIRN_ERR_NOMEM;
		return;
	}
	rel_begin(g);
	fputs("\tSELECT e.s AS s, ", g->f);
	{
		FILE *save = g->f;

		g->f = f;
		fputc('(', f);
		epoch_of(g, "e.t");
		fputs(" - ", f);
		P(g, b, "bigint");
		fputc(')', f);
		g->f = save;
	}
	if (fclose(f) != 0) {
		g->err = CAIRN_ERR_NOMEM;
		free(num);
		num = NULL;
	}
	idiv(g, num != NULL ? num : "0", "3600");
	free(num);
	if (g->d->placeholders || s->cell_table != NULL ||
	    (!dom && !g->transform)) {
		fprintf(g->f, " AS slot, %s AS region%s\n\tFROM (\n",
		    dom ? "dom.region" : "cm.region",
		    cat ? ", e.cat AS cat" : "");
		gen_union(g, s, lo, hi);
		fprintf(g->f, "\t) AS e %s ", g->d->join);
		use(g, dom ? "dom" : "cm", NULL);
		fprintf(g->f, " ON %s = e.cell\n\tWHERE ",
		    dom ? "dom.region" : "cm.cell");
	} else if (dom) {
		/* a set lookup, not a hash join of every event */
		fprintf(g->f, " AS slot, e.cell AS region%s\n\tFROM (\n",
		    cat ? ", e.cat AS cat" : "");
		gen_union(g, s, lo, hi);
		fputs("\t) AS e\n\tWHERE e.cell IN (SELECT region FROM dom) "
		    "AND ", g->f);
	} else {
		/*
		 * ClickHouse with the node's cell map (of at most
		 * CH_TRANSFORM_MAXCELLS cells): each event's region
		 * by transform() over the map's two columns as constant
		 * arrays (one scalar subquery of the external table cm, so
		 * the cells and their regions come from the same rows; the
		 * node's cells are unique), no region (2^64 - 1, never a
		 * region id, which are 32-bit) for a cell not in it.  An
		 * ALL INNER JOIN built the same kind of hash table but took
		 * 1.1-1.4x transform()'s time on the benchmark's od and
		 * migration (docs/benchmarks.md).
		 */
		fputs(" AS slot, transform(e.cell, tupleElement(" CH_CM_ARRAYS
		    ", 1),\n\t    tupleElement(" CH_CM_ARRAYS ", 2), "
		    CH_NO_REGION ") AS region", g->f);
		fprintf(g->f, "%s\n\tFROM (\n", cat ? ", e.cat AS cat" : "");
		gen_union(g, s, lo, hi);
		fputs("\t) AS e\n\tWHERE region != " CH_NO_REGION " AND ",
		    g->f);
	}
	fprintf(g->f, "e.s IS NOT NULL AND length(e.s) > 0%s", cat ?
	    " AND e.cat IS NOT NULL AND e.cat <> ''" : "");
	rel_end(g, "ev");
}

/*
 * Rank, per partition 'part' ("s", "s, b" ...) of the relation 'src'
 * (columns part, region[, ci], n), its rows by n descending, then region
 * ascending (then ci): rank 1 is the modal region with ties to the
 * smaller id, ranks 1..k the top k.  Gives (part, region[, ci], rk).
 */
static void
gen_rank(struct gen *g, const char *src, const char *part, bool ci)
{
	if (g->d->windows) {
		fprintf(g->f, "\tSELECT %s, region%s, row_number() OVER "
		    "(PARTITION BY %s\n\t    ORDER BY n DESC, region%s) AS rk\n"
		    "\tFROM ", part, ci ? ", ci" : "", part, ci ? ", ci" : "");
		use(g, src, NULL);
		return;
	}
	/* no window functions: sort each partition's (keys, n) array */
	fprintf(g->f, "\tSELECT %s, tupleElement(x, 1) AS region%s, rk FROM "
	    "(\n\t\tSELECT %s, arraySort(y -> (-tupleElement(y, %d), "
	    "tupleElement(y, 1)%s),\n\t\t    groupArray((region%s, n))) AS a\n"
	    "\t\tFROM ", part, ci ? ", tupleElement(x, 2) AS ci" : "", part,
	    ci ? 3 : 2, ci ? ", tupleElement(y, 2)" : "", ci ? ", ci" : "");
	use(g, src, NULL);
	fprintf(g->f, "\n\t\tGROUP BY %s\n\t) ARRAY JOIN a AS x, "
	    "arrayEnumerate(a) AS rk", part);
}

/*
 * ClickHouse: the region of the most events 'n' in each group, ties to
 * the smaller id (rank 1 of gen_rank), as one aggregate over the group's
 * rows (region, n): the max of n * 2^32 + (2^32 - 1 - region), a
 * UInt64 that orders like (n, -region) because region ids are 32-bit
 * (cellmap.c; a cell_table's or region_column's regions are kept to the
 * domain's), decoded back to the region.  With 'cond' only the rows
 * where it holds (maxIf).  A count of 2^32 or more would wrap the
 * packing: throwIf() fails the statement instead (ClickHouse's error
 * 395, reported by the node) rather than rank wrong.  No array per
 * group is built or sorted (docs/benchmarks.md); a max() of the tuple
 * (n, -region) ranks alike but took 1.3-1.6x the time (single runs).
 */
static void
ch_modal(struct gen *g, const char *n, const char *cond)
{
	fprintf(g->f, "4294967295 - max%s(%s * 4294967296 + "
	    "(4294967295 - region) + throwIf(%s > 4294967295)%s%s) "
	    "%% 4294967296", cond != NULL ? "If" : "", n, n,
	    cond != NULL ? ", " : "", cond != NULL ? cond : "");
}

/* "(h >= ns OR h < ne)" for the local hour h of 'slot': a night hour. */
static void
night_in(struct gen *g, size_t ns, size_t ne)
{
	fputs("(slot % 24 >= ", g->f);
	P(g, ns, "integer");
	fputs(" OR slot % 24 < ", g->f);
	P(g, ne, "integer");
	fputc(')', g->f);
}

/* "d >= from AND d < to" for the local day index d of 'slot'. */
static void
day_in(struct gen *g, size_t from, size_t to)
{
	idiv(g, "slot", "24");
	fputs(" >= ", g->f);
	P(g, from, "integer");
	fputs(" AND ", g->f);
	idiv(g, "slot", "24");
	fputs(" < ", g->f);
	P(g, to, "integer");
}

/*
 * "NAME (s, region)": each subscriber's home, the modal region of its
 * night events over local days [from, to) (0, 0: the whole window).
 */
static void
gen_home(struct gen *g, const char *name, size_t ns, size_t ne, size_t from,
    size_t to)
{
	char n_name[16];

	snprintf(n_name, sizeof(n_name), "%s_n", name);
	rel_begin(g);
	fputs("\tSELECT s, region, count(*) AS n FROM ", g->f);
	use(g, "ev", NULL);
	fputs("\n\tWHERE ", g->f);
	night_in(g, ns, ne);
	if (from != 0) {
		fputs(" AND ", g->f);
		day_in(g, from, to);
	}
	fputs("\n\tGROUP BY s, region", g->f);
	rel_end(g, n_name);
	rel_begin(g);
	if (g->d->windows) {
		fputs("\tSELECT s, region FROM (\n", g->f);
		gen_rank(g, n_name, "s", false);
		fputs("\n\t) AS x WHERE rk = 1", g->f);
	} else {
		fputs("\tSELECT s, ", g->f);
		ch_modal(g, "n", NULL);
		fputs(" AS region\n\tFROM ", g->f);
		use(g, n_name, NULL);
		fputs(" GROUP BY s", g->f);
	}
	rel_end(g, name);
}

/*
 * Migration in one pass: "mn (s, region, nb, nc)" counts each
 * subscriber's night events per region in the baseline days [f1, t1)
 * and in the comparison days [f2, t2) in the same scan of the events
 * (count(*) FILTER, ClickHouse's countIf); then per subscriber each home
 * is the modal region of its window with ties to the smaller id, as one
 * aggregate over the regions with n > 0: in PostgreSQL
 * max(ARRAY[n, -region]) (arrays compare element by element: the most
 * events, then the smallest id; no sort, no window, no overflow), NULL
 * when the window has no night event; in ClickHouse maxIf of the packed
 * (n, region) of ch_modal, the subscriber kept when both windows have a
 * region with n > 0.  A subscriber with both homes adds one to (r1, r2).
 * The two homes as separate relations made PostgreSQL materialize the
 * window's events and scan them twice, in one process, and ClickHouse
 * (no WITH) read and map the window's events twice
 * (docs/benchmarks.md).
 */
static void
gen_migration_one_pass(struct gen *g, size_t ns, size_t ne, size_t f1,
    size_t t1, size_t f2, size_t t2)
{
	rel_begin(g);
	fprintf(g->f, "\tSELECT s, region,\n\t    %s", g->d->count_if[0]);
	day_in(g, f1, t1);
	fprintf(g->f, "%s AS nb,\n\t    %s", g->d->count_if[1],
	    g->d->count_if[0]);
	day_in(g, f2, t2);
	fprintf(g->f, "%s AS nc\n\tFROM ", g->d->count_if[1]);
	use(g, "ev", NULL);
	fputs("\n\tWHERE ", g->f);
	night_in(g, ns, ne);
	fputs("\n\t    AND ((", g->f);
	day_in(g, f1, t1);
	fputs(") OR (", g->f);
	day_in(g, f2, t2);
	fputs("))\n\tGROUP BY s, region", g->f);
	rel_end(g, "mn");
	if (!g->d->windows) {
		fputs("SELECT 0 AS t, r1, r2, count(*) AS n FROM (\n"
		    "\tSELECT s,\n\t    ", g->f);
		ch_modal(g, "nb", "nb > 0");
		fputs(" AS r1,\n\t    ", g->f);
		ch_modal(g, "nc", "nc > 0");
		fputs(" AS r2\n\tFROM ", g->f);
		use(g, "mn", NULL);
		fputs(" GROUP BY s HAVING max(nb) > 0 AND max(nc) > 0\n"
		    ") AS m GROUP BY r1, r2\n", g->f);
		return;
	}
	fputs("SELECT 0 AS t, r1, r2, count(*) AS n FROM (\n"
	    "\tSELECT s,\n"
	    "\t    -(max(CASE WHEN nb > 0 THEN ARRAY[nb, -region] END))[2] "
	    "AS r1,\n"
	    "\t    -(max(CASE WHEN nc > 0 THEN ARRAY[nc, -region] END))[2] "
	    "AS r2\n\tFROM ", g->f);
	use(g, "mn", NULL);
	fputs(" GROUP BY s\n) AS m WHERE r1 IS NOT NULL AND r2 IS NOT NULL\n"
	    "GROUP BY r1, r2\n", g->f);
}

/*
 * "c (s, B, region, n)": events per subscriber, bucket and region, with
 * the bucket B the local day, or the hour slot with 'hour'.
 */
static void
gen_counts(struct gen *g, const char *bname, bool hour)
{
	rel_begin(g);
	fprintf(g->f, "\tSELECT s, %s, region, count(*) AS n FROM (\n"
	    "\t\tSELECT s, ", bname);
	if (hour)
		fputs("slot", g->f);
	else
		idiv(g, "slot", "24");
	fprintf(g->f, " AS %s, region FROM ", bname);
	use(g, "ev", NULL);
	fprintf(g->f, "\n\t) AS x GROUP BY s, %s, region", bname);
	rel_end(g, "c");
}

/*
 * od in ClickHouse, from "c (s, d, region, n)": each subscriber's modal
 * region of each day (ch_modal), the subscriber's days and regions as
 * two arrays, and each day d whose d + 1 is among them paired with that
 * day's region (indexOf).  The days are read once; the self-join of
 * PostgreSQL's statement would write the days' relation twice here (no
 * WITH in 18.16), reading and mapping the window's events twice.
 */
static void
gen_od_ch(struct gen *g)
{
	rel_begin(g);
	fputs("\tSELECT s, d, ", g->f);
	ch_modal(g, "n", NULL);
	fputs(" AS region\n\tFROM ", g->f);
	use(g, "c", NULL);
	fputs(" GROUP BY s, d", g->f);
	rel_end(g, "dr");
	fputs("SELECT d AS t, r AS r1, rs[indexOf(ds, d + 1)] AS r2, "
	    "count(*) AS n FROM (\n\tSELECT s, groupArray(d) AS ds, "
	    "groupArray(region) AS rs FROM ", g->f);
	use(g, "dr", NULL);
	fputs(" GROUP BY s\n) AS a ARRAY JOIN ds AS d, rs AS r\n"
	    "WHERE has(ds, d + 1)\nGROUP BY t, r1, r2\n", g->f);
}

/*
 * "ranked (s, b, region, rk)": per subscriber and bucket (day, or hour
 * with 'hour'), its regions ranked by events, ties to the smaller id.
 */
static void
gen_ranked(struct gen *g, bool hour)
{
	gen_counts(g, "b", hour);
	rel_begin(g);
	gen_rank(g, "c", "s, b", false);
	rel_end(g, "ranked");
}

/* The spec's categories (sorted bytewise): an array, or TSV rows. */
static void
gen_cats(struct gen *g, const struct qspec *q, size_t *k)
{
	bool ph = g->d->placeholders;
	char *b = NULL;
	size_t l = 0;
	FILE *f = open_memstream(&b, &l);

	if (f == NULL) {
		g->err = CAIRN_ERR_NOMEM;
		return;
	}
	if (ph)
		fputc('{', f);
	for (uint32_t i = 0; i < q->ncats; i++) {
		if (!ph) {
			fprintf(f, "%" PRIu32 "\t", i);
			engine_sql_tsv_escape(f, q->cats[i], strlen(q->cats[i]));
			fputc('\n', f);
			continue;
		}
		fputs(i ? ",\"" : "\"", f);
		for (const char *c = q->cats[i]; *c != '\0'; c++) {
			if (*c == '"' || *c == '\\')
				fputc('\\', f);
			fputc(*c, f);
		}
		fputc('"', f);
	}
	if (ph)
		fputc('}', f);
	if (fclose(f) != 0) {
		free(b);
		b = NULL;
	}
	if (ph)
		*k = gen_param_take(g, "the categories, sorted", b);
	else
		gen_ext_take(g, "cats", "ci Int64, cat String",
		    "the categories (index, name), sorted", b, q->ncats);
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
	size_t k = 0;

	gen_cats(g, q, &k);
	rel_begin(g);
	fputs("\tSELECT s, region, ", g->f);
	if (g->d->placeholders) {
		fputs("array_position(", g->f);
		P(g, k, "text[]");
		fputs(", cat) - 1", g->f);
	} else
		fputs("toInt64(indexOf((SELECT arrayMap(z -> tupleElement(z, "
		    "2),\n\t    arraySort(groupArray((ci, cat)))) FROM cats), "
		    "cat)) - 1", g->f);
	fputs(" AS ci FROM ", g->f);
	use(g, "ev", NULL);
	rel_end(g, "evc");
	rel_begin(g);
	fputs("\tSELECT s, region, ci, count(*) AS n FROM ", g->f);
	use(g, "evc", NULL);
	fprintf(g->f, " WHERE %s\n\tGROUP BY s, region, ci",
	    g->d->cat_found);
	rel_end(g, "pc");
	rel_begin(g);
	fputs("\tSELECT region, ci FROM (\n", g->f);
	gen_rank(g, "pc", "s", true);
	fputs("\n\t) AS x WHERE rk = 1", g->f);
	rel_end(g, "m");
	fputs("SELECT ci AS t, region AS r1, 0 AS r2, count(*) AS n\nFROM ",
	    g->f);
	use(g, "m", NULL);
	fputs(" GROUP BY ci, region\nUNION ALL\nSELECT 0, 0, 1, count(*) "
	    "FROM ", g->f);
	use(g, "evc", NULL);
	fprintf(g->f, " WHERE %s\n", g->d->cat_missing);
}

/*
 * The statement of the query's kind.  'in_domain': every region the
 * statement reads is one of the domain's p->nregions (the node's cell
 * map or region list; not a cell_table, whose regions the node does not
 * know).
 */
static void
gen_kind(struct gen *g, const struct engine_plan *p, bool in_domain)
{
	const struct qspec *q = &p->q;
	size_t k, ns, ne, f1, t1, f2, t2;

	switch (q->kind) {
	case QSPEC_KIND_PRESENCE:
		if (in_domain && q->k >= p->nregions) {
			/*
			 * k at least the number of regions: every region a
			 * subscriber has events in is in its top k, so the
			 * cell counts (subscriber, bucket, region) groups
			 * and the ranking (a sort of every group) is not
			 * written.  ClickHouse counts each (bucket,
			 * region)'s distinct subscribers in one aggregation
			 * (uniqExact: a hash set per cell) instead of
			 * grouping by subscriber first: 0.64x the time and
			 * half the memory on the benchmark's data (two runs
			 * each).
			 */
			if (!g->d->windows) {
				fputs("SELECT b AS t, region AS r1, 0 AS r2, "
				    "uniqExact(s) AS n\nFROM (\n\tSELECT s, ",
				    g->f);
				if (q->bucket_hour)
					fputs("slot", g->f);
				else
					idiv(g, "slot", "24");
				fputs(" AS b, region FROM ", g->f);
				use(g, "ev", NULL);
				fputs("\n) AS x GROUP BY b, region\n", g->f);
				break;
			}
			gen_counts(g, "b", q->bucket_hour);
			fputs("SELECT b AS t, region AS r1, 0 AS r2, count(*) "
			    "AS n\nFROM ", g->f);
			use(g, "c", NULL);
			fputs(" GROUP BY b, region\n", g->f);
			break;
		}
		k = gen_param(g, "k", "%" PRIu32, q->k);
		gen_ranked(g, q->bucket_hour);
		fputs("SELECT b AS t, region AS r1, 0 AS r2, count(*) AS n\n"
		    "FROM ", g->f);
		use(g, "ranked", NULL);
		fputs(" WHERE rk <= ", g->f);
		P(g, k, "integer");
		fputs("\nGROUP BY b, region\n", g->f);
		break;
	case QSPEC_KIND_RESIDENTS:
		ns = gen_param(g, "night_start_hour", "%u", q->night_start);
		ne = gen_param(g, "night_end_hour", "%u", q->night_end);
		gen_home(g, "home", ns, ne, 0, 0);
		fputs("SELECT 0 AS t, region AS r1, 0 AS r2, count(*) AS n\n"
		    "FROM ", g->f);
		use(g, "home", NULL);
		fputs(" GROUP BY region\n", g->f);
		break;
	case QSPEC_KIND_OD:
		gen_counts(g, "d", false);
		if (!g->d->windows) {
			gen_od_ch(g);
			break;
		}
		rel_begin(g);
		fputs("\tSELECT s, d, region FROM (\n", g->f);
		gen_rank(g, "c", "s, d", false);
		fputs("\n\t) AS x WHERE rk = 1", g->f);
		rel_end(g, "dr");
		fputs("SELECT a.d AS t, a.region AS r1, b.region AS r2, "
		    "count(*) AS n\nFROM ", g->f);
		use(g, "dr", "a");
		fprintf(g->f, " %s ", g->d->join);
		use(g, "dr", "b");
		fputs(" ON b.s = a.s AND b.d = a.d + 1\n"
		    "GROUP BY a.d, a.region, b.region\n", g->f);
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
		gen_migration_one_pass(g, ns, ne, f1, t1, f2, t2);
		break;
	case QSPEC_KIND_VISITORS:
		k = gen_param(g, "k", "%" PRIu32, q->k);
		ns = gen_param(g, "night_start_hour", "%u", q->night_start);
		ne = gen_param(g, "night_end_hour", "%u", q->night_end);
		gen_home(g, "home", ns, ne, 0, 0);
		gen_ranked(g, false);
		fputs("SELECT r.b AS t, r.region AS r1, 0 AS r2, count(*) AS "
		    "n\nFROM ", g->f);
		use(g, "ranked", "r");
		fprintf(g->f, " %s ", g->d->left_join);
		use(g, "home", "h");
		fputs(" ON h.s = r.s\nWHERE r.rk <= ", g->f);
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
gen_open(struct gen *g, const struct engine_source *s, struct engine_sql *out,
    char **buf, size_t *len)
{
	memset(out, 0, sizeof(*out));
	memset(g, 0, sizeof(*g));
	g->out = out;
	g->d = &dialects[s->type == ENGINE_SOURCE_CLICKHOUSE ?
	    ENGINE_SOURCE_CLICKHOUSE : ENGINE_SOURCE_POSTGRESQL];
	out->inline_values = !g->d->placeholders;
	*buf = NULL;
	if ((g->f = open_memstream(buf, len)) == NULL)
		return CAIRN_ERR_NOMEM;
	g->main = g->f;
	return CAIRN_OK;
}

/*
 * Close the text of 'g' (*bufp, set by the stream) into 'out': the
 * comment line 'head', the relations as WITH where the dialect has it,
 * then the final SELECT.
 */
static int
gen_close(struct gen *g, const char *head, struct engine_sql *out,
    char **bufp)
{
	int r = g->err;
	char *text = NULL;
	size_t tl;
	FILE *f = NULL;

	if (fclose(g->main) != 0 && r == CAIRN_OK)
		r = CAIRN_ERR_NOMEM;
	if (r == CAIRN_OK && (f = open_memstream(&text, &tl)) == NULL)
		r = CAIRN_ERR_NOMEM;
	if (f != NULL) {
		fprintf(f, "-- cairn: %s\n", head);
		for (size_t i = 0; g->d->ctes && i < g->nrels; i++)
			fprintf(f, "%s%s AS (\n%s\n)", i ? ",\n" : "WITH ",
			    g->relname[i], g->reltext[i]);
		if (g->d->ctes && g->nrels > 0)
			fputc('\n', f);
		fputs(*bufp, f);
		if (fclose(f) != 0) {
			r = CAIRN_ERR_NOMEM;
			free(text);
			text = NULL;
		}
	}
	free(*bufp);
	*bufp = NULL;
	for (size_t i = 0; i < g->nrels; i++)
		free(g->reltext[i]);
	g->nrels = 0;
	if (r != CAIRN_OK) {
		free(text);
		engine_sql_release(out);
		return r == CAIRN_ERR_RANGE ? cairn_err(r, "the query window "
		    "is outside the timestamps this system can write") : r;
	}
	out->text = text;
	return CAIRN_OK;
}

int
engine_sql_build(const struct qspec *q, const struct engine_source *s,
    const struct engine_cellmap *cells, struct engine_sql *out)
{
	struct engine_plan p;
	struct gen g;
	char *buf, head[96];
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
	if ((r = gen_open(&g, s, out, &buf, &len)) != CAIRN_OK)
		return r;
	snprintf(head, sizeof(head), "%s, exact cells (t, r1, r2, n)",
	    qspec_kind_name(q->kind));
	gen_map(&g, s, cells);
	g.transform = engine_cellmap_ncells(cells) <= CH_TRANSFORM_MAXCELLS;
	gen_events(&g, s, &p);
	gen_kind(&g, &p, s->cell_table == NULL);
	return gen_close(&g, head, out, &buf);
}

int
engine_sql_build_check(const struct engine_source *s,
    const struct engine_cellmap *cells, struct engine_sql *out)
{
	struct gen g;
	char *buf;
	size_t len, lo, hi;
	bool dom = s->region_column != NULL;
	int r;

	if (s->cell_table == NULL && s->region_column == NULL &&
	    engine_cellmap_ncells(cells) == 0)
		return cairn_err(CAIRN_ERR_ARG, "a SQL source needs a cell map "
		    "(--cells), a cell_table or a region_column");
	if ((r = gen_open(&g, s, out, &buf, &len)) != CAIRN_OK)
		return r;
	gen_map(&g, s, cells);
	lo = ts_param(&g, "earliest timestamp read", 0);
	hi = ts_param(&g, "latest timestamp read, exclusive",
	    g.d->placeholders ? SRC_MAX_SECONDS : (int64_t)UINT32_MAX);
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
		/* unmapped: NOT IN, as ClickHouse gives a LEFT JOIN's right
		   key the left one's value, never NULL */
		if (dom)
			fputs(" THEN 2\n\tWHEN e.cell IS NULL THEN 3\n"
			    "\tWHEN e.cell NOT IN (SELECT region FROM ", g.f);
		else
			fputs(" THEN 2\n\tWHEN e.cell IS NULL OR e.cell = '' "
			    "THEN 3\n\tWHEN e.cell NOT IN (SELECT cell FROM ", g.f);
		use(&g, dom ? "dom" : "cm", NULL);
		fputs(") THEN 4\n\tELSE 0 END AS why, count(*) AS n\nFROM (\n",
		    g.f);
		gen_union(&g, &one, 0, 0);
		fputs(") AS e\nGROUP BY tab, why\n", g.f);
	}
	return gen_close(&g, "check-data, rows by table and reason", out,
	    &buf);
}

/*
 * The subscriber column of every table as "s", one SELECT per table
 * under UNION ALL: from the local tables, or with 'cluster' from
 * cluster(NAME, database, table) over the source's cluster.
 */
static void
gen_subscribers(struct gen *g, const struct engine_source *s, bool cluster)
{
	for (size_t i = 0; i < s->ntables; i++) {
		const char *t = s->tables[i], *dot = strchr(t, '.');

		fputs(i ? "\t\tUNION ALL\n\t\tSELECT " : "\t\tSELECT ", g->f);
		ident(g, s->subscriber_column, false);
		fputs(" AS s FROM ", g->f);
		if (!cluster) {
			ident(g, t, true);
		} else {
			char db[256];

			fputs("cluster(", g->f);
			ident(g, s->cluster, false);
			if (dot != NULL) {
				snprintf(db, sizeof(db), "%.*s", (int)(dot - t),
				    t);
				fputs(", ", g->f);
				ident(g, db, false);
				fputs(", ", g->f);
				ident(g, dot + 1, false);
			} else {
				fputs(", currentDatabase(), ", g->f);
				ident(g, t, false);
			}
			fputc(')', g->f);
		}
		fputc('\n', g->f);
	}
}

int
engine_sql_build_split(const struct engine_source *s, struct engine_sql *out)
{
	struct gen g;
	char *buf;
	size_t len;
	int r;

	if (s->type != ENGINE_SOURCE_CLICKHOUSE || s->nshards == 0 ||
	    s->cluster == NULL)
		return cairn_err(CAIRN_ERR_ARG, "counting split subscribers "
		    "needs a clickhouse:// source with shards and a cluster");
	if ((r = gen_open(&g, s, out, &buf, &len)) != CAIRN_OK)
		return r;
	/*
	 * Per subscriber of this shard, its rows here (l.n) against its rows
	 * over the whole cluster (g.n, the cluster read only for this
	 * shard's subscribers: GLOBAL IN sends their set to the other
	 * shards): more over the cluster means rows on another shard.
	 */
	fputs("SELECT count(*) AS split FROM (\n"
	    "\tSELECT s, count(*) AS n FROM (\n", g.f);
	gen_subscribers(&g, s, false);
	fputs("\t) WHERE s IS NOT NULL AND length(s) > 0 GROUP BY s\n"
	    ") AS l ALL INNER JOIN (\n"
	    "\tSELECT s, count(*) AS gn FROM (\n", g.f);
	gen_subscribers(&g, s, true);
	fputs("\t) WHERE s GLOBAL IN (\n", g.f);
	gen_subscribers(&g, s, false);
	fputs("\t) GROUP BY s\n"
	    ") AS c USING s\n"
	    "WHERE gn > n\n", g.f);
	return gen_close(&g, "check-data, subscribers also on another shard",
	    out, &buf);
}
