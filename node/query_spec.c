/*
 * query_spec.c - the JSON query spec of docs/queries.md.  Each kind has
 * its required and optional fields; every other field, known or not, is
 * refused, so a spec never means something other than what it says.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/err.h"
#include "common/timeutil.h"
#include "node/node.h"

enum {
	F_KIND = 1 << 0, F_START = 1 << 1, F_END = 1 << 2, F_OFF = 1 << 3,
	F_BUCKET = 1 << 4, F_K = 1 << 5, F_NS = 1 << 6, F_NE = 1 << 7,
	F_BASE = 1 << 8, F_COMP = 1 << 9
};

static const char *const field_names[] = { "kind", "start", "end",
	"utc_offset_minutes", "bucket", "k", "night_start_hour",
	"night_end_hour", "baseline", "comparison" };
#define NFIELDS	(sizeof(field_names) / sizeof(field_names[0]))

static const struct {
	const char	*name;
	unsigned	 req, opt;
} kinds[NODE_KIND__N] = {
	[NODE_KIND_PRESENCE] = { "presence",
	    F_KIND | F_START | F_END | F_BUCKET | F_K, F_OFF },
	[NODE_KIND_RESIDENTS] = { "residents",
	    F_KIND | F_START | F_END, F_OFF | F_NS | F_NE },
	[NODE_KIND_OD] = { "od", F_KIND | F_START | F_END, F_OFF },
	[NODE_KIND_MIGRATION] = { "migration",
	    F_KIND | F_BASE | F_COMP, F_OFF | F_NS | F_NE },
	[NODE_KIND_VISITORS] = { "visitors",
	    F_KIND | F_START | F_END | F_K, F_OFF | F_NS | F_NE },
	[NODE_KIND_POPCAT] = { "population_by_category",
	    F_KIND | F_START | F_END, F_OFF },
};

#define MAX_K		1000
#define MAX_OFFSET	1439

const char *
node_kind_name(enum node_kind kind)
{
	return (unsigned)kind < NODE_KIND__N ? kinds[kind].name : "?";
}

static int
get_date(json_t *v, const char *name, const char *field, int64_t *out)
{
	if (!json_is_string(v) || time_parse_date(json_string_value(v), out)
	    != CAIRN_OK)
		return cairn_err(CAIRN_ERR_FORMAT, "%s: field '%s': must be "
		    "a date \"YYYY-MM-DD\"", name, field);
	return CAIRN_OK;
}

static int
get_int(json_t *v, const char *name, const char *field, int64_t lo,
    int64_t hi, int64_t *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi)
		return cairn_err(CAIRN_ERR_FORMAT, "%s: field '%s': must be "
		    "an integer in [%" PRId64 ", %" PRId64 "]", name, field,
		    lo, hi);
	*out = json_integer_value(v);
	return CAIRN_OK;
}

static int
get_window(json_t *v, const char *name, const char *field, int64_t w[2])
{
	int r;

	if (!json_is_array(v) || json_array_size(v) != 2)
		return cairn_err(CAIRN_ERR_FORMAT, "%s: field '%s': must be "
		    "[\"YYYY-MM-DD\", \"YYYY-MM-DD\"]", name, field);
	if ((r = get_date(json_array_get(v, 0), name, field, &w[0])) !=
	    CAIRN_OK ||
	    (r = get_date(json_array_get(v, 1), name, field, &w[1])) !=
	    CAIRN_OK)
		return r;
	if (w[0] >= w[1] || w[1] - w[0] > NODE_MAX_DAYS)
		return cairn_err(CAIRN_ERR_FORMAT, "%s: field '%s': the end "
		    "must be after the start, at most %d days", name, field,
		    NODE_MAX_DAYS);
	return CAIRN_OK;
}

int
node_query_parse(const char *text, size_t len, const char *name,
    struct node_query *q)
{
	json_t *root = NULL, *v;
	json_error_t jerr;
	struct node_query nq;
	const char *key;
	unsigned have = 0, allowed;
	int64_t iv;
	int r = CAIRN_OK;

	memset(&nq, 0, sizeof(nq));
	nq.night_start = 22;
	nq.night_end = 6;
	if ((root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL)
		return cairn_err(CAIRN_ERR_FORMAT, "%s:%d:%d: %s", name,
		    jerr.line, jerr.column, jerr.text);
	if (!json_is_object(root)) {
		r = cairn_err(CAIRN_ERR_FORMAT, "%s: the spec must be a JSON "
		    "object", name);
		goto out;
	}
	json_object_foreach(root, key, v) {
		size_t i;

		for (i = 0; i < NFIELDS; i++)
			if (strcmp(key, field_names[i]) == 0)
				break;
		if (i == NFIELDS) {
			r = cairn_err(CAIRN_ERR_FORMAT, "%s: unknown field "
			    "'%.64s'", name, key);
			goto out;
		}
		have |= 1u << i;
	}
	if (!(have & F_KIND)) {
		r = cairn_err(CAIRN_ERR_FORMAT, "%s: missing field 'kind'",
		    name);
		goto out;
	}
	v = json_object_get(root, "kind");
	for (nq.kind = 0; nq.kind < NODE_KIND__N; nq.kind++)
		if (json_is_string(v) && strcmp(json_string_value(v),
		    kinds[nq.kind].name) == 0)
			break;
	if (nq.kind == NODE_KIND__N) {
		r = cairn_err(CAIRN_ERR_FORMAT, "%s: field 'kind': must be "
		    "one of presence, residents, od, migration, visitors, "
		    "population_by_category", name);
		goto out;
	}
	allowed = kinds[nq.kind].req | kinds[nq.kind].opt;
	for (size_t i = 0; i < NFIELDS; i++) {
		if ((have & (1u << i)) && !(allowed & (1u << i))) {
			r = cairn_err(CAIRN_ERR_FORMAT, "%s: field '%s' is not "
			    "used by kind '%s'", name, field_names[i],
			    kinds[nq.kind].name);
			goto out;
		}
		if (!(have & (1u << i)) && (kinds[nq.kind].req & (1u << i))) {
			r = cairn_err(CAIRN_ERR_FORMAT, "%s: missing field "
			    "'%s' (required by kind '%s')", name,
			    field_names[i], kinds[nq.kind].name);
			goto out;
		}
	}
	if (have & F_START) {
		if ((r = get_date(json_object_get(root, "start"), name,
		    "start", &nq.start)) != CAIRN_OK ||
		    (r = get_date(json_object_get(root, "end"), name, "end",
		    &nq.end)) != CAIRN_OK)
			goto out;
		if (nq.end <= nq.start || nq.end - nq.start > NODE_MAX_DAYS) {
			r = cairn_err(CAIRN_ERR_FORMAT, "%s: field 'end': must "
			    "be after 'start', at most %d days", name,
			    NODE_MAX_DAYS);
			goto out;
		}
	}
	if (have & F_OFF) {
		if ((r = get_int(json_object_get(root, "utc_offset_minutes"),
		    name, "utc_offset_minutes", -MAX_OFFSET, MAX_OFFSET, &iv))
		    != CAIRN_OK)
			goto out;
		nq.utc_offset_min = (int32_t)iv;
	}
	if (have & F_BUCKET) {
		v = json_object_get(root, "bucket");
		if (json_is_string(v) && strcmp(json_string_value(v), "hour")
		    == 0)
			nq.bucket_hour = true;
		else if (!json_is_string(v) ||
		    strcmp(json_string_value(v), "day") != 0) {
			r = cairn_err(CAIRN_ERR_FORMAT, "%s: field 'bucket': "
			    "must be \"day\" or \"hour\"", name);
			goto out;
		}
	}
	if (have & F_K) {
		if ((r = get_int(json_object_get(root, "k"), name, "k", 1,
		    MAX_K, &iv)) != CAIRN_OK)
			goto out;
		nq.k = (uint32_t)iv;
	}
	if (have & F_NS) {
		if ((r = get_int(json_object_get(root, "night_start_hour"),
		    name, "night_start_hour", 0, 23, &iv)) != CAIRN_OK)
			goto out;
		nq.night_start = (unsigned)iv;
	}
	if (have & F_NE) {
		if ((r = get_int(json_object_get(root, "night_end_hour"),
		    name, "night_end_hour", 0, 23, &iv)) != CAIRN_OK)
			goto out;
		nq.night_end = (unsigned)iv;
	}
	if (nq.night_start <= nq.night_end) {
		r = cairn_err(CAIRN_ERR_FORMAT, "%s: field 'night_start_hour': "
		    "must be greater than night_end_hour (the night spans "
		    "midnight)", name);
		goto out;
	}
	if ((have & F_BASE) && ((r = get_window(json_object_get(root,
	    "baseline"), name, "baseline", nq.base)) != CAIRN_OK ||
	    (r = get_window(json_object_get(root, "comparison"), name,
	    "comparison", nq.comp)) != CAIRN_OK))
		goto out;
	if (nq.kind == NODE_KIND_MIGRATION) {
		int64_t d0, d1;

		node_query_span(&nq, &d0, &d1);
		if (d1 - d0 > NODE_MAX_DAYS) {
			r = cairn_err(CAIRN_ERR_FORMAT, "%s: field 'comparison':"
			    " baseline and comparison span more than %d days",
			    name, NODE_MAX_DAYS);
			goto out;
		}
	}
	*q = nq;
	r = CAIRN_OK;
out:
	json_decref(root);
	return r;
}

int
node_query_load(const char *path, struct node_query *q)
{
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, r;

	if ((fd = open(path, O_RDONLY)) == -1)
		return cairn_err(CAIRN_ERR_IO, "%s: %s", path, strerror(errno));
	if ((buf = malloc(NODE_QUERY_MAX + 1)) == NULL) {
		close(fd);
		return CAIRN_ERR_NOMEM;
	}
	while ((n = read(fd, buf + len, NODE_QUERY_MAX + 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	if (n < 0)
		r = cairn_err(CAIRN_ERR_IO, "%s: %s", path, strerror(errno));
	else if (len > NODE_QUERY_MAX)
		r = cairn_err(CAIRN_ERR_TOOBIG, "%s: longer than %d bytes",
		    path, NODE_QUERY_MAX);
	else
		r = node_query_parse(buf, len, path, q);
	free(buf);
	return r;
}

void
node_query_span(const struct node_query *q, int64_t *d0, int64_t *d1)
{
	if (q->kind == NODE_KIND_MIGRATION) {
		*d0 = q->base[0] < q->comp[0] ? q->base[0] : q->comp[0];
		*d1 = q->base[1] > q->comp[1] ? q->base[1] : q->comp[1];
	} else {
		*d0 = q->start;
		*d1 = q->end;
	}
}

static void
put_date(FILE *f, int64_t d)
{
	char b[TIME_DATE_LEN];

	if (!time_format_date(d, b))
		strcpy(b, "?");
	fprintf(f, "\"%s\"", b);
}

void
node_query_write_json(const struct node_query *q, FILE *f)
{
	unsigned fl = kinds[q->kind].req | kinds[q->kind].opt;

	fprintf(f, "{\"kind\": \"%s\"", kinds[q->kind].name);
	if (fl & F_START) {
		fputs(", \"start\": ", f);
		put_date(f, q->start);
		fputs(", \"end\": ", f);
		put_date(f, q->end);
	}
	if (fl & F_BASE) {
		fputs(", \"baseline\": [", f);
		put_date(f, q->base[0]);
		fputs(", ", f);
		put_date(f, q->base[1]);
		fputs("], \"comparison\": [", f);
		put_date(f, q->comp[0]);
		fputs(", ", f);
		put_date(f, q->comp[1]);
		fputs("]", f);
	}
	fprintf(f, ", \"utc_offset_minutes\": %d", (int)q->utc_offset_min);
	if (fl & F_BUCKET)
		fprintf(f, ", \"bucket\": \"%s\"", q->bucket_hour ? "hour" :
		    "day");
	if (fl & F_K)
		fprintf(f, ", \"k\": %u", q->k);
	if (fl & F_NS)
		fprintf(f, ", \"night_start_hour\": %u, \"night_end_hour\": %u",
		    q->night_start, q->night_end);
	fputs("}", f);
}
