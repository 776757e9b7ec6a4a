/*
 * coord_publish.c - published statistics: the release file of every
 * released query whose analyst-signed Query asks `publish`, written into
 * the public directory (docs/portal.md, "Published statistics").
 *
 * A release file is releases/<index>.json, <index> being the log index of
 * the RELEASE entry: the query's fields as signed, the pinned geography's
 * region ids and names in the cells' order, the values in the engine's
 * cell order, the noise variance and the exact 95% half-width, and the
 * SHA-256 of the values' encoding, which is the RELEASE entry's
 * result_sha256, so a reader checks the file against the log without
 * trusting the coordinator.  The geography's GeoJSON outlines, when the
 * configuration names them, go to geographies/<name>.geojson once per
 * geography.  Like the tiles, everything here is derived from the
 * database: written atomically at release, and compared or written again
 * at start, so a crash between the RELEASE and its file is repaired and a
 * file that differs from the database stops the coordinator.  A query
 * without `publish` writes nothing public.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "common/err.h"
#include "common/file.h"
#include "common/log.h"
#include "coordinator/coord_int.h"
#include "protocol/cairn.pb-c.h"
#include "protocol/proto_service.h"
#include "protocol/secagg.h"
#include "protocol/tlog_entry.h"

#define OUTLINES_MAX	(64u * 1024 * 1024)

/* json_object_set_new() that notes a failure in '*bad'. */
static void
jset(json_t *o, const char *k, json_t *v, bool *bad)
{
	if (v == NULL || json_object_set_new(o, k, v) != 0)
		*bad = true;
}

static json_t *
jhex(const uint8_t *b, size_t n)
{
	char hex[2 * 64 + 1];

	sodium_bin2hex(hex, sizeof(hex), b, n);
	return json_string(hex);
}

static json_t *
jrange(const Cairn__V1__DateRange *d)
{
	if (d == NULL)
		return json_null();
	return json_pack("{s:s,s:s}", "start", d->start != NULL ? d->start :
	    "", "end", d->end != NULL ? d->end : "");
}

/* The spec as signed, in the field names of cairn.proto. */
static json_t *
spec_json(const Cairn__V1__QuerySpec *s, bool *bad)
{
	json_t *o = json_object(), *cats = json_array();

	if (o == NULL || cats == NULL) {
		json_decref(o);
		json_decref(cats);
		*bad = true;
		return NULL;
	}
	jset(o, "kind", json_string(s->kind), bad);
	jset(o, "start", json_string(s->start), bad);
	jset(o, "end", json_string(s->end), bad);
	jset(o, "utc_offset_minutes", json_integer(s->utc_offset_minutes),
	    bad);
	jset(o, "bucket", json_string(s->bucket), bad);
	jset(o, "k", json_integer(s->k), bad);
	jset(o, "night", s->night != NULL ? json_pack("{s:i,s:i}",
	    "start_hour", (int)s->night->start_hour, "end_hour",
	    (int)s->night->end_hour) : json_null(), bad);
	jset(o, "baseline", jrange(s->baseline), bad);
	jset(o, "comparison", jrange(s->comparison), bad);
	jset(o, "geography", json_string(s->geography), bad);
	for (size_t i = 0; i < s->n_categories; i++)
		if (json_array_append_new(cats, json_string(
		    s->categories[i])) != 0)
			*bad = true;
	jset(o, "categories", cats, bad);
	jset(o, "min_nights", json_integer(s->min_nights), bad);
	return o;
}

/*
 * The release file of query 'q' (its QUERY entry at 'q_index') released as 'rel' with 'vals', over geography 'g' whose
 * regions are 'reg'.  A new string in '*out'.
 */
static int
release_json(const Cairn__V1__Query *q, uint64_t q_index,
    const Cairn__V1__Release *rel, const int64_t *vals, size_t n,
    const struct coord_geo *g, const struct coord_region *reg, size_t nreg,
    char **out)
{
	json_t *o, *a;
	uint8_t h[32];
	char rho[32], outl[KEYS_NAME_MAX + 32];
	bool bad = false;

	if ((o = json_object()) == NULL)
		return CAIRN_ERR_NOMEM;
	secagg_cells_sha256((const uint64_t *)vals, n, h);
	jset(o, "release_file_version", json_integer(1), &bad);
	jset(o, "query_id", json_string(q->query_id), &bad);
	jset(o, "analyst", json_string(q->analyst != NULL &&
	    q->analyst->name != NULL ? q->analyst->name : ""), &bad);
	jset(o, "purpose", json_string(q->purpose), &bad);
	jset(o, "query_log_index", json_integer((json_int_t)q_index), &bad);
	jset(o, "release_log_index", json_integer((json_int_t)rel->log_index),
	    &bad);
	jset(o, "spec", spec_json(q->spec, &bad), &bad);
	snprintf(rho, sizeof(rho), "%" PRIu64, q->rho_nano);
	jset(o, "rho_nano", json_string(rho), &bad);
	a = json_array();
	for (size_t i = 0; a != NULL && i < rel->n_participants; i++)
		if (json_array_append_new(a, json_string(
		    rel->participants[i])) != 0)
			bad = true;
	jset(o, "participants", a, &bad);
	snprintf(outl, sizeof(outl), "geographies/%s.geojson", g->name);
	/* Always the path, configured or not, so that adding outlines
	 * later does not change the files already written. */
	jset(o, "geography", json_pack("{s:s,s:o,s:s}", "name", g->name,
	    "regions_sha256", jhex(g->sha256, 32), "outlines", outl), &bad);
	a = json_array();
	for (size_t i = 0; a != NULL && i < nreg; i++)
		if (json_array_append_new(a, json_pack("{s:I,s:s}", "id",
		    (json_int_t)reg[i].id, "name", reg[i].name)) != 0)
			bad = true;
	jset(o, "regions", a, &bad);
	jset(o, "noise_variance", json_integer((json_int_t)
	    rel->noise_variance), &bad);
	jset(o, "ci95_halfwidth", json_integer((json_int_t)
	    rel->ci95_halfwidth), &bad);
	jset(o, "cells", json_integer((json_int_t)n), &bad);
	jset(o, "values_sha256", jhex(h, 32), &bad);
	a = json_array();
	for (size_t i = 0; a != NULL && i < n; i++)
		if (json_array_append_new(a, json_integer(vals[i])) != 0)
			bad = true;
	jset(o, "values", a, &bad);
	if (!bad && (*out = json_dumps(o, JSON_COMPACT)) == NULL)
		bad = true;
	json_decref(o);
	return bad ? cairn_err(CAIRN_ERR_NOMEM, "release file of '%s'",
	    q->query_id) : CAIRN_OK;
}

/* geographies/<name>.geojson: the configured outlines, as they are. */
static int
put_outlines(struct coord_public *p, const struct coord_geo *g)
{
	char rel[KEYS_NAME_MAX + 32], *buf = NULL;
	size_t len;
	int r;

	if (g->outlines[0] == '\0')
		return CAIRN_OK;
	if ((r = file_read_capped(g->outlines, OUTLINES_MAX, &buf, &len)) !=
	    CAIRN_OK)
		return r;
	snprintf(rel, sizeof(rel), "geographies/%s.geojson", g->name);
	r = coord_public_put(p, rel, buf, len, true);
	free(buf);
	return r;
}

int
coord_publish_release(struct coord_public *p, const struct coord_config *cfg,
    const struct Cairn__V1__Query *q, uint64_t q_index,
    const uint8_t *release,
    size_t rlen, const int64_t *vals, size_t n)
{
	Cairn__V1__Release *rel = NULL;
	const struct coord_geo *g;
	struct coord_region *reg = NULL;
	size_t nreg = 0;
	char relpath[64], *json = NULL;
	int r;

	if (p == NULL || !q->publish)
		return CAIRN_OK;	/* not asked for: nothing public */
	if ((r = proto_unpack(&cairn__v1__release__descriptor, release, rlen,
	    PROTO_MAX_SMALL, (ProtobufCMessage **)&rel)) != CAIRN_OK)
		goto out;
	if (q->spec == NULL || (g = coord_config_geo(cfg,
	    q->spec->geography)) == NULL) {
		r = cairn_err(CAIRN_ERR_CONFIG, "geography '%s' is not in the "
		    "configuration", q->spec != NULL ? q->spec->geography : "");
		goto out;
	}
	if ((r = coord_regions_read(g->path, &reg, &nreg)) != CAIRN_OK ||
	    (r = put_outlines(p, g)) != CAIRN_OK ||
	    (r = release_json(q, q_index, rel, vals, n, g, reg, nreg, &json))
	    != CAIRN_OK)
		goto out;
	snprintf(relpath, sizeof(relpath), "releases/%" PRIu64 ".json",
	    rel->log_index);
	r = coord_public_put(p, relpath, json, strlen(json), false);
out:
	if (r != CAIRN_OK) {
		char d[1024];

		snprintf(d, sizeof(d), "%s", cairn_errdesc(r));
		r = cairn_err(r, "publishing query '%s': %s", q->query_id, d);
	}
	free(json);
	coord_regions_free(reg, nreg);
	if (rel != NULL)
		protobuf_c_message_free_unpacked(&rel->base, NULL);
	return r;
}

/* The Query inside the packed SignedQuery 'b' ('len' bytes). */
static int
unpack_query(const uint8_t *b, size_t len, Cairn__V1__Query **q)
{
	Cairn__V1__SignedQuery *sq = NULL;
	int r;

	if ((r = proto_unpack(&cairn__v1__signed_query__descriptor, b, len,
	    TLOG_ENTRY_MAX_BODY, (ProtobufCMessage **)&sq)) != CAIRN_OK)
		return r;
	r = proto_unpack(&cairn__v1__query__descriptor, sq->query.data,
	    sq->query.len, TLOG_ENTRY_MAX_BODY, (ProtobufCMessage **)q);
	protobuf_c_message_free_unpacked(&sq->base, NULL);
	return r;
}

int
coord_publish_all(struct coord_public *p, struct coord_store *db,
    const struct coord_config *cfg, size_t *published)
{
	struct coord_query_row rows[64];
	int64_t after = 0;
	size_t n, count = 0;
	int r = CAIRN_OK;

	if (p == NULL)
		return CAIRN_OK;
	do {
		if ((r = coord_store_query_list(db, NULL, after, rows, 64, &n))
		    != CAIRN_OK)
			return r;
		for (size_t i = 0; i < n; i++) {
			Cairn__V1__Query *q = NULL;
			uint8_t *rel = NULL;
			int64_t *vals = NULL;
			size_t rlen, nv;

			after = rows[i].seq;
			if (r != CAIRN_OK || rows[i].state != COORD_Q_RELEASED)
				continue;
			if (unpack_query(rows[i].signed_query,
			    rows[i].signed_len, &q) != CAIRN_OK) {
				/* Stops the walk: the row is damaged. */
				r = cairn_err(CAIRN_ERR_DB, "query '%s': its "
				    "stored signed query does not decode",
				    rows[i].query_id);
				continue;
			}
			if (!q->publish || coord_store_result_get(db,
			    rows[i].query_id, &rel, &rlen, &vals, &nv) !=
			    CAIRN_OK) {
				/* Unpublished, or its values lost in a
				 * rebuild (docs/operations.md): nothing. */
				protobuf_c_message_free_unpacked(&q->base,
				    NULL);
				continue;
			}
			r = coord_publish_release(p, cfg, q, rows[i].log_index,
			    rel, rlen, vals, nv);
			protobuf_c_message_free_unpacked(&q->base, NULL);
			free(rel);
			free(vals);
			count++;
		}
		for (size_t i = 0; i < n; i++)
			coord_store_row_clear(&rows[i]);
	} while (n == 64 && r == CAIRN_OK);
	if (r == CAIRN_OK && published != NULL)
		*published = count;
	return r;
}
