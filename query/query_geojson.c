/*
 * query_geojson.c - `cairn query result --format geojson`: the released
 * cells joined to the geography's outlines, for a map.  A cell of one
 * region takes the region's outline (Polygon or MultiPolygon); a cell of
 * two regions (a flow: od, migration, and any kind whose labels name an
 * origin and a destination region) a LineString between their centroids.
 * Which kind is which comes from the cell's labels (query_cell_regions()),
 * not from a list of kinds, so a new kind needs nothing here.
 *
 * The outlines are a GeoJSON FeatureCollection with properties.region_id
 * (`cairn synth` writes one as regions.geojson); they only draw: the
 * values are joined by region id, and the ids and names come from the
 * pinned regions file as in CSV and JSON.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/cli.h"
#include "common/err.h"
#include "common/rho.h"
#include "privacy/dp.h"
#include "query/query.h"

struct outline {
	uint32_t	 id;
	json_t		*geom;		/* borrowed from the root */
	double		 lon, lat;	/* centroid */
};

struct query_outlines {
	json_t		*root;
	struct outline	*v;		/* sorted by id */
	size_t		 n;
};

static int
outline_cmp(const void *a, const void *b)
{
	const struct outline *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* One [lon, lat, ...] position into *x, *y; false when it is not one. */
static bool
position(const json_t *p, double *x, double *y)
{
	const json_t *a, *b;

	if (!json_is_array(p) || json_array_size(p) < 2)
		return false;
	a = json_array_get(p, 0);
	b = json_array_get(p, 1);
	if (!json_is_number(a) || !json_is_number(b))
		return false;
	*x = json_number_value(a);
	*y = json_number_value(b);
	return isfinite(*x) && isfinite(*y);
}

/*
 * Check the rings of one polygon (an array of rings, each an array of
 * positions) and add its outer ring's area-weighted centroid to the sums
 * (shoelace formula); also the plain sum of its points, for a polygon of
 * no area.
 */
static bool
polygon(const json_t *rings, double *area, double *sx, double *sy,
    double *px, double *py, size_t *np)
{
	size_t i;
	const json_t *ring;

	if (!json_is_array(rings) || json_array_size(rings) == 0)
		return false;
	json_array_foreach(rings, i, ring) {
		size_t m = json_array_size(ring);
		double a = 0, cx = 0, cy = 0, x0, y0, x1, y1;

		if (!json_is_array(ring) || m == 0)
			return false;
		for (size_t k = 0; k < m; k++)
			if (!position(json_array_get(ring, k), &x0, &y0))
				return false;
		if (i > 0)
			continue;	/* holes do not move the centroid */
		for (size_t k = 0; k < m; k++) {
			(void)position(json_array_get(ring, k), &x0, &y0);
			(void)position(json_array_get(ring, (k + 1) % m), &x1,
			    &y1);
			a += x0 * y1 - x1 * y0;
			cx += (x0 + x1) * (x0 * y1 - x1 * y0);
			cy += (y0 + y1) * (x0 * y1 - x1 * y0);
			*px += x0;
			*py += y0;
			(*np)++;
		}
		a /= 2;
		if (a != 0) {
			/* Centroid cx/(6a), weighted by |a|. */
			*sx += cx / (6 * a) * fabs(a);
			*sy += cy / (6 * a) * fabs(a);
			*area += fabs(a);
		}
	}
	return true;
}

/* Check geometry 'g' and set the centroid of 'ol'. */
static int
geometry(const char *path, size_t feat, const json_t *g, struct outline *ol)
{
	const char *type = json_string_value(json_object_get(g, "type"));
	const json_t *c = json_object_get(g, "coordinates"), *poly;
	double area = 0, sx = 0, sy = 0, px = 0, py = 0;
	size_t np = 0, i;
	bool good = true;

	if (type != NULL && strcmp(type, "Polygon") == 0)
		good = polygon(c, &area, &sx, &sy, &px, &py, &np);
	else if (type != NULL && strcmp(type, "MultiPolygon") == 0 &&
	    json_is_array(c) && json_array_size(c) > 0) {
		json_array_foreach(c, i, poly)
			if (!(good = polygon(poly, &area, &sx, &sy, &px, &py,
			    &np)))
				break;
	} else
		good = false;
	if (!good || np == 0)
		return cairn_err(CAIRN_ERR_FORMAT, "%s: feature %zu (region %"
		    PRIu32 "): the geometry is not a Polygon or MultiPolygon "
		    "of [lon, lat] positions", path, feat, ol->id);
	if (area > 0) {
		ol->lon = sx / area;
		ol->lat = sy / area;
	} else {
		ol->lon = px / (double)np;
		ol->lat = py / (double)np;
	}
	return CAIRN_OK;
}

int
query_outlines_load(const char *path, struct query_outlines **out)
{
	struct query_outlines *o;
	json_error_t jerr;
	const json_t *feats, *ft;
	size_t i;
	FILE *f;
	long sz;
	int r;

	if ((f = fopen(path, "r")) == NULL)
		return cairn_err(CAIRN_ERR_IO, "%s: %s", path, strerror(errno));
	if (fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 ||
	    (size_t)sz > QUERY_OUTLINES_MAX || fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return cairn_err(CAIRN_ERR_TOOBIG, "%s: not a file of at most "
		    "%zu bytes", path, QUERY_OUTLINES_MAX);
	}
	if ((o = calloc(1, sizeof(*o))) == NULL) {
		fclose(f);
		return cairn_err(CAIRN_ERR_NOMEM, "%s", path);
	}
	o->root = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
	fclose(f);
	if (o->root == NULL) {
		r = cairn_err(CAIRN_ERR_FORMAT, "%s:%d: %s", path, jerr.line,
		    jerr.text);
		goto fail;
	}
	feats = json_object_get(o->root, "features");
	if (!json_is_array(feats) || json_array_size(feats) == 0 ||
	    json_array_size(feats) > QUERY_MAX_REGIONS) {
		r = cairn_err(CAIRN_ERR_FORMAT, "%s: not a FeatureCollection "
		    "of 1 to %u features", path, QUERY_MAX_REGIONS);
		goto fail;
	}
	if ((o->v = calloc(json_array_size(feats), sizeof(*o->v))) == NULL) {
		r = cairn_err(CAIRN_ERR_NOMEM, "%s", path);
		goto fail;
	}
	json_array_foreach(feats, i, ft) {
		const json_t *id = json_object_get(json_object_get(ft,
		    "properties"), "region_id");
		json_t *g = json_object_get(ft, "geometry");

		if (!json_is_integer(id) || json_integer_value(id) < 0 ||
		    json_integer_value(id) > UINT32_MAX) {
			r = cairn_err(CAIRN_ERR_FORMAT, "%s: feature %zu has "
			    "no integer properties.region_id", path, i);
			goto fail;
		}
		o->v[i].id = (uint32_t)json_integer_value(id);
		o->v[i].geom = g;
		if ((r = geometry(path, i, g, &o->v[i])) != CAIRN_OK)
			goto fail;
	}
	o->n = i;
	qsort(o->v, o->n, sizeof(*o->v), outline_cmp);
	for (i = 1; i < o->n; i++)
		if (o->v[i].id == o->v[i - 1].id) {
			r = cairn_err(CAIRN_ERR_FORMAT, "%s: region %" PRIu32
			    " has two features", path, o->v[i].id);
			goto fail;
		}
	*out = o;
	return CAIRN_OK;
fail:
	query_outlines_free(o);
	return r;
}

void
query_outlines_free(struct query_outlines *o)
{
	if (o == NULL)
		return;
	json_decref(o->root);
	free(o->v);
	free(o);
}

static const struct outline *
find(const struct query_outlines *o, uint32_t id)
{
	struct outline key = { .id = id };

	return bsearch(&key, o->v, o->n, sizeof(*o->v), outline_cmp);
}

bool
query_outlines_centroid(const struct query_outlines *o, uint32_t id,
    double *lon, double *lat)
{
	const struct outline *ol = find(o, id);

	if (ol == NULL)
		return false;
	*lon = ol->lon;
	*lat = ol->lat;
	return true;
}

/* 'v' as JSON, reals the shortest way that reads back exactly. */
static void
dump(FILE *f, const json_t *v)
{
	char num[CLI_NUM_MAX], *t;
	const char *k;
	const json_t *x;
	size_t i;
	bool first = true;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		fputc('{', f);
		json_object_foreach((json_t *)v, k, x) {
			json_t *ks = json_string(k);

			fputs(first ? "" : ", ", f);
			first = false;
			dump(f, ks);
			json_decref(ks);
			fputs(": ", f);
			dump(f, x);
		}
		fputc('}', f);
		break;
	case JSON_ARRAY:
		fputc('[', f);
		json_array_foreach(v, i, x) {
			fputs(i ? ", " : "", f);
			dump(f, x);
		}
		fputc(']', f);
		break;
	case JSON_REAL:
		cli_format_number(json_real_value(v), num);
		fputs(num, f);
		break;
	case JSON_INTEGER:
		fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_STRING:
		if ((t = json_dumps(v, JSON_ENCODE_ANY)) != NULL)
			fputs(t, f);
		free(t);
		break;
	case JSON_TRUE:
		fputs("true", f);
		break;
	case JSON_FALSE:
		fputs("false", f);
		break;
	default:
		fputs("null", f);
		break;
	}
}

/* The geometry of cell 'id': an outline, or a line between centroids. */
static int
cell_geometry(FILE *f, const struct query_domain *d, uint64_t id,
    const struct query_outlines *o)
{
	uint32_t ids[3];
	const struct outline *a, *b;
	char n[4][CLI_NUM_MAX];
	size_t k;
	int r;

	if ((r = query_cell_regions(d, id, ids, &k)) != CAIRN_OK)
		return r;
	if (k == 0 || k > 2)
		return cairn_err(CAIRN_ERR_ARG, "cell %" PRIu64 " names %zu "
		    "regions", id, k);
	if ((a = find(o, ids[0])) == NULL || (b = find(o, ids[k - 1])) ==
	    NULL)
		return cairn_err(CAIRN_ERR_ARG, "--outlines: region %" PRIu32
		    " has no outline", a == NULL ? ids[0] : ids[k - 1]);
	if (k == 1) {
		dump(f, a->geom);
		return CAIRN_OK;
	}
	cli_format_number(a->lon, n[0]);
	cli_format_number(a->lat, n[1]);
	cli_format_number(b->lon, n[2]);
	cli_format_number(b->lat, n[3]);
	if (a == b)
		fprintf(f, "{\"type\": \"Point\", \"coordinates\": [%s, %s]}",
		    n[0], n[1]);
	else
		fprintf(f, "{\"type\": \"LineString\", \"coordinates\": "
		    "[[%s, %s], [%s, %s]]}", n[0], n[1], n[2], n[3]);
	return CAIRN_OK;
}

int
query_geojson_write(FILE *f, const struct query_domain *d,
    const struct query_release *rel, const int64_t *values, uint64_t n,
    const struct query_outlines *o)
{
	double eps_t, eps_s, rho = rho_to_double(rel->rho_nano);
	char label[2048], rt[RHO_TEXT_MAX], num[3][CLI_NUM_MAX];
	json_t *qid;
	uint64_t w;
	int r;

	if (n != d->ncells)
		return cairn_err(CAIRN_ERR_RANGE, "the result has %" PRIu64
		    " cells, the domain of this query %" PRIu64 " (check "
		    "--regions)", n, d->ncells);
	/* Every region first, so nothing half-written names a gap. */
	for (size_t i = 0; i < d->nregions; i++)
		if (find(o, d->regions[i]) == NULL)
			return cairn_err(CAIRN_ERR_ARG, "--outlines: region %"
			    PRIu32 " has no outline", d->regions[i]);
	if ((r = dp_eps_from_rho_tight(rho, rel->delta, &eps_t)) !=
	    CAIRN_OK || (r = dp_eps_from_rho_simple(rho, rel->delta,
	    &eps_s)) != CAIRN_OK || (r = dp_ci95_halfwidth(rel->variance,
	    &w)) != CAIRN_OK)
		return r;
	rho_format(rel->rho_nano, rt);
	cli_format_number(eps_t, num[0]);
	cli_format_number(rel->delta, num[1]);
	cli_format_number(eps_s, num[2]);
	fputs("{\"type\": \"FeatureCollection\", \"query_id\": ", f);
	if ((qid = json_string(rel->query_id)) == NULL)
		return cairn_err(CAIRN_ERR_ARG, "query id is not UTF-8");
	dump(f, qid);
	json_decref(qid);
	fprintf(f, ", \"kind\": \"%s\",\n \"privacy\": {\"rho\": %s, "
	    "\"rho_nano\": %" PRIu64 ", \"epsilon\": %s, \"delta\": %s, "
	    "\"epsilon_simple\": %s, \"variance\": %" PRIu64 ", "
	    "\"ci95_halfwidth\": %" PRIu64 "}, \"log_index\": %" PRIu64 ",\n "
	    "\"features\": [", qspec_kind_name(d->spec.kind), rt,
	    rel->rho_nano, num[0], num[1], num[2], rel->variance, w,
	    rel->log_index);
	for (uint64_t i = 0; i < n; i++) {
		int64_t v = values[i];

		if (v > INT64_MAX / 2 || v < INT64_MIN / 2)
			return cairn_err(CAIRN_ERR_RANGE, "cell %" PRIu64 ": "
			    "value %" PRId64 " is out of range", i, v);
		if ((r = query_cell_label(d, i, true, label, sizeof(label))) !=
		    CAIRN_OK)
			return r;
		fprintf(f, "%s\n  {\"type\": \"Feature\", \"properties\": {%s, "
		    "\"value\": %" PRId64 ", \"ci95_low\": %" PRId64 ", "
		    "\"ci95_high\": %" PRId64 "}, \"geometry\": ", i ? "," : "",
		    label, v, v - (int64_t)w, v + (int64_t)w);
		if ((r = cell_geometry(f, d, i, o)) != CAIRN_OK)
			return r;
		fputc('}', f);
	}
	fputs(n ? "\n ]\n}\n" : "]\n}\n", f);
	if (fflush(f) != 0 || ferror(f))
		return cairn_err(CAIRN_ERR_IO, "write failed");
	return CAIRN_OK;
}
