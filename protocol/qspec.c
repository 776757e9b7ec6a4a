/*
 * qspec.c - the query specification of docs/queries.md, in its two
 * spellings: the JSON an analyst writes and the QuerySpec message of
 * cairn.proto.  Each kind has its required and optional fields; every
 * other field, known or not, is refused, so a spec never means something
 * other than what it says.  Both spellings go through the same checks.
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
#include "protocol/qspec.h"

enum {
	F_KIND = 1 << 0, F_START = 1 << 1, F_END = 1 << 2, F_OFF = 1 << 3,
	F_BUCKET = 1 << 4, F_K = 1 << 5, F_NS = 1 << 6, F_NE = 1 << 7,
	F_BASE = 1 << 8, F_COMP = 1 << 9, F_CATS = 1 << 10, F_NIGHTS = 1 << 11
};

static const char *const field_names[] = { "kind", "start", "end",
	"utc_offset_minutes", "bucket", "k", "night_start_hour",
	"night_end_hour", "baseline", "comparison", "categories",
	"min_nights" };
#define NFIELDS	(sizeof(field_names) / sizeof(field_names[0]))

static const struct {
	const char	*name;
	unsigned	 req, opt;
} kinds[QSPEC_KIND__N] = {
	[QSPEC_KIND_PRESENCE] = { "presence",
	    F_KIND | F_START | F_END | F_BUCKET | F_K, F_OFF },
	[QSPEC_KIND_RESIDENTS] = { "residents",
	    F_KIND | F_START | F_END, F_OFF | F_NS | F_NE | F_NIGHTS },
	[QSPEC_KIND_OD] = { "od", F_KIND | F_START | F_END, F_OFF },
	[QSPEC_KIND_MIGRATION] = { "migration",
	    F_KIND | F_BASE | F_COMP, F_OFF | F_NS | F_NE },
	[QSPEC_KIND_VISITORS] = { "visitors",
	    F_KIND | F_START | F_END | F_K, F_OFF | F_NS | F_NE },
	[QSPEC_KIND_POPCAT] = { "population_by_category",
	    F_KIND | F_START | F_END | F_CATS, F_OFF },
	/* start/end are the observation days, baseline the home's */
	[QSPEC_KIND_DISPLACEMENT] = { "displacement",
	    F_KIND | F_START | F_END | F_BASE, F_OFF | F_NS | F_NE },
};

#define MAX_K		1000
#define MAX_OFFSET	1439

const char *
qspec_kind_name(enum qspec_kind kind)
{
	return (unsigned)kind < QSPEC_KIND__N ? kinds[kind].name : "?";
}

/* Every field 'have' is used by 'kind', and every required one is there. */
static int
check_presence(const char *name, enum qspec_kind kind, unsigned have)
{
	unsigned allowed = kinds[kind].req | kinds[kind].opt;

	for (size_t i = 0; i < NFIELDS; i++) {
		if ((have & (1u << i)) && !(allowed & (1u << i)))
			return cairn_err(CAIRN_ERR_FORMAT, "%s: field '%s' is "
			    "not used by kind '%s'", name, field_names[i],
			    kinds[kind].name);
		if (!(have & (1u << i)) && (kinds[kind].req & (1u << i)))
			return cairn_err(CAIRN_ERR_FORMAT, "%s: missing field "
			    "'%s' (required by kind '%s')", name,
			    field_names[i], kinds[kind].name);
	}
	return CAIRN_OK;
}

static int
check_window(const char *name, const char *field, const int64_t w[2])
{
	if (w[0] >= w[1] || w[1] - w[0] > QSPEC_MAX_DAYS)
		return cairn_err(CAIRN_ERR_FORMAT, "%s: field '%s': the end "
		    "must be after the start, at most %d days", name, field,
		    QSPEC_MAX_DAYS);
	return CAIRN_OK;
}

/* The checks across fields, once every field has its value. */
static int
check_relations(const char *name, const struct qspec *q)
{
	int64_t d0, d1;

	if (q->night_start <= q->night_end)
		return cairn_err(CAIRN_ERR_FORMAT, "%s: field "
		    "'night_start_hour': must be greater than night_end_hour "
		    "(the night spans midnight)", name);
	/* The window's nights: the one before its first day (its morning is
	   in the window) and one per day. */
	if (q->kind == QSPEC_KIND_RESIDENTS &&
	    (int64_t)q->min_nights > q->end - q->start + 1)
		return cairn_err(CAIRN_ERR_FORMAT, "%s: field 'min_nights': "
		    "%u is more than the %lld nights of the window", name,
		    q->min_nights, (long long)(q->end - q->start + 1));
	if (q->kind == QSPEC_KIND_MIGRATION ||
	    q->kind == QSPEC_KIND_DISPLACEMENT) {
		qspec_span(q, &d0, &d1);
		if (d1 - d0 > QSPEC_MAX_DAYS)
			return cairn_err(CAIRN_ERR_FORMAT, "%s: field '%s': "
			    "the two windows span more than %d days", name,
			    q->kind == QSPEC_KIND_MIGRATION ? "comparison" :
			    "baseline", QSPEC_MAX_DAYS);
	}
	return CAIRN_OK;
}

static int
cmp_cat(const void *a, const void *b)
{
	return strcmp(a, b);
}

/*
 * Add category 's' of 'len' bytes (hostile) to 'q'; once all are in,
 * finish_cats() sorts them and refuses duplicates.
 */
static int
add_cat(struct qspec *q, const char *name, const char *s, size_t len)
{
	if (q->ncats == QSPEC_MAX_CATS)
		return cairn_err(CAIRN_ERR_FORMAT, "%s: field 'categories': "
		    "more than %d categories", name, QSPEC_MAX_CATS);
	if (len == 0 || len > QSPEC_MAX_CAT_LEN || memchr(s, '\0', len) !=
	    NULL)
		return cairn_err(CAIRN_ERR_FORMAT, "%s: field 'categories': "
		    "category %u is empty, over %d bytes or holds a NUL byte",
		    name, q->ncats + 1, QSPEC_MAX_CAT_LEN);
	memcpy(q->cats[q->ncats], s, len);
	q->cats[q->ncats][len] = '\0';
	q->ncats++;
	return CAIRN_OK;
}

static int
finish_cats(struct qspec *q, const char *name)
{
	if (q->ncats == 0)
		return cairn_err(CAIRN_ERR_FORMAT, "%s: field 'categories': "
		    "must list at least one category", name);
	qsort(q->cats, q->ncats, sizeof(q->cats[0]), cmp_cat);
	for (uint32_t i = 1; i < q->ncats; i++)
		if (strcmp(q->cats[i - 1], q->cats[i]) == 0)
			return cairn_err(CAIRN_ERR_FORMAT, "%s: field "
			    "'categories': '%s' is listed twice", name,
			    q->cats[i]);
	return CAIRN_OK;
}

int
qspec_cat_index(const struct qspec *q, const char *cat, size_t len)
{
	uint32_t lo = 0, hi = q->ncats;

	if (len > QSPEC_MAX_CAT_LEN)
		return -1;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const char *c = q->cats[mid];
		size_t cl = strlen(c);
		int d = memcmp(c, cat, cl < len ? cl : len);

		if (d == 0)
			d = (cl > len) - (cl < len);
		if (d == 0)
			return (int)mid;
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
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
	return check_window(name, field, w);
}

int
qspec_parse_json(const char *text, size_t len, const char *name,
    struct qspec *q)
{
	json_t *root = NULL, *v, *val;
	json_error_t jerr;
	struct qspec nq;
	const char *key;
	unsigned have = 0;
	int64_t iv;
	int r = CAIRN_OK;

	memset(&nq, 0, sizeof(nq));
	nq.night_start = 22;
	nq.night_end = 6;
	nq.min_nights = QSPEC_MIN_NIGHTS_DEFAULT;
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
	for (nq.kind = 0; nq.kind < QSPEC_KIND__N; nq.kind++)
		if (json_is_string(v) && strcmp(json_string_value(v),
		    kinds[nq.kind].name) == 0)
			break;
	if (nq.kind == QSPEC_KIND__N) {
		r = cairn_err(CAIRN_ERR_FORMAT, "%s: field 'kind': must be "
		    "one of presence, residents, od, migration, visitors, "
		    "population_by_category, displacement", name);
		goto out;
	}
	if ((r = check_presence(name, nq.kind, have)) != CAIRN_OK)
		goto out;
	if (have & F_START) {
		if ((r = get_date(json_object_get(root, "start"), name,
		    "start", &nq.start)) != CAIRN_OK ||
		    (r = get_date(json_object_get(root, "end"), name, "end",
		    &nq.end)) != CAIRN_OK)
			goto out;
		if (nq.end <= nq.start || nq.end - nq.start > QSPEC_MAX_DAYS) {
			r = cairn_err(CAIRN_ERR_FORMAT, "%s: field 'end': must "
			    "be after 'start', at most %d days", name,
			    QSPEC_MAX_DAYS);
			goto out;
		}
		if (nq.kind == QSPEC_KIND_OD && nq.end - nq.start < 2) {
			r = cairn_err(CAIRN_ERR_FORMAT, "%s: field 'end': od "
			    "needs at least 2 days (one day pair)", name);
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
	if (have & F_NIGHTS) {
		if ((r = get_int(json_object_get(root, "min_nights"), name,
		    "min_nights", 1, QSPEC_MAX_DAYS + 1, &iv)) != CAIRN_OK)
			goto out;
		nq.min_nights = (uint32_t)iv;
	}
	if ((have & F_BASE) && (r = get_window(json_object_get(root,
	    "baseline"), name, "baseline", nq.base)) != CAIRN_OK)
		goto out;
	if ((have & F_COMP) && (r = get_window(json_object_get(root,
	    "comparison"), name, "comparison", nq.comp)) != CAIRN_OK)
		goto out;
	if (have & F_CATS) {
		size_t i;

		v = json_object_get(root, "categories");
		if (!json_is_array(v)) {
			r = cairn_err(CAIRN_ERR_FORMAT, "%s: field "
			    "'categories': must be an array of strings", name);
			goto out;
		}
		json_array_foreach(v, i, val) {
			if (!json_is_string(val)) {
				r = cairn_err(CAIRN_ERR_FORMAT, "%s: field "
				    "'categories': element %zu is not a string",
				    name, i + 1);
				goto out;
			}
			if ((r = add_cat(&nq, name, json_string_value(val),
			    json_string_length(val))) != CAIRN_OK)
				goto out;
		}
		if ((r = finish_cats(&nq, name)) != CAIRN_OK)
			goto out;
	}
	if ((r = check_relations(name, &nq)) != CAIRN_OK)
		goto out;
	*q = nq;
	r = CAIRN_OK;
out:
	json_decref(root);
	return r;
}

int
qspec_load_json(const char *path, struct qspec *q)
{
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, r;

	if ((fd = open(path, O_RDONLY)) == -1)
		return cairn_err(CAIRN_ERR_IO, "%s: %s", path, strerror(errno));
	if ((buf = malloc(QSPEC_MAX_JSON + 1)) == NULL) {
		close(fd);
		return CAIRN_ERR_NOMEM;
	}
	while ((n = read(fd, buf + len, QSPEC_MAX_JSON + 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	if (n < 0)
		r = cairn_err(CAIRN_ERR_IO, "%s: %s", path, strerror(errno));
	else if (len > QSPEC_MAX_JSON)
		r = cairn_err(CAIRN_ERR_TOOBIG, "%s: longer than %d bytes",
		    path, QSPEC_MAX_JSON);
	else
		r = qspec_parse_json(buf, len, path, q);
	free(buf);
	return r;
}

void
qspec_span(const struct qspec *q, int64_t *d0, int64_t *d1)
{
	if (q->kind == QSPEC_KIND_MIGRATION) {
		*d0 = q->base[0] < q->comp[0] ? q->base[0] : q->comp[0];
		*d1 = q->base[1] > q->comp[1] ? q->base[1] : q->comp[1];
	} else if (q->kind == QSPEC_KIND_DISPLACEMENT) {
		*d0 = q->base[0] < q->start ? q->base[0] : q->start;
		*d1 = q->base[1] > q->end ? q->base[1] : q->end;
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
qspec_write_json(const struct qspec *q, FILE *f)
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
		fputs("]", f);
	}
	if (fl & F_COMP) {
		fputs(", \"comparison\": [", f);
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
	if (fl & F_NIGHTS)
		fprintf(f, ", \"min_nights\": %u", q->min_nights);
	if (fl & F_CATS) {
		fputs(", \"categories\": [", f);
		for (uint32_t i = 0; i < q->ncats; i++) {
			json_t *js = json_stringn(q->cats[i],
			    strlen(q->cats[i]));
			char *t = js != NULL ? json_dumps(js,
			    JSON_ENCODE_ANY) : NULL;

			fprintf(f, "%s%s", i ? ", " : "", t != NULL ? t :
			    "\"?\"");
			free(t);
			json_decref(js);
		}
		fputs("]", f);
	}
	fputs("}", f);
}

bool
qspec_kind_parse(const char *s, enum qspec_kind *out)
{
	for (int k = 0; k < QSPEC_KIND__N; k++)
		if (strcmp(s, kinds[k].name) == 0) {
			*out = (enum qspec_kind)k;
			return true;
		}
	return false;
}

static int
pb_date(const char *s, const char *name, const char *field, int64_t *out)
{
	if (time_parse_date(s, out) != CAIRN_OK)
		return cairn_err(CAIRN_ERR_FORMAT, "%s: field '%s': must be "
		    "a date \"YYYY-MM-DD\"", name, field);
	return CAIRN_OK;
}

static int
pb_window(const Cairn__V1__DateRange *w, const char *name, const char *field,
    int64_t out[2])
{
	int r;

	if ((r = pb_date(w->start, name, field, &out[0])) != CAIRN_OK ||
	    (r = pb_date(w->end, name, field, &out[1])) != CAIRN_OK)
		return r;
	return check_window(name, field, out);
}

int
qspec_from_proto(const Cairn__V1__QuerySpec *pb, const char *name,
    struct qspec *q)
{
	struct qspec nq;
	unsigned have = F_KIND;
	int r;

	memset(&nq, 0, sizeof(nq));
	nq.night_start = 22;
	nq.night_end = 6;
	nq.min_nights = QSPEC_MIN_NIGHTS_DEFAULT;
	if (!qspec_kind_parse(pb->kind, &nq.kind))
		return cairn_err(CAIRN_ERR_FORMAT, "%s: field 'kind': must be "
		    "one of presence, residents, od, migration, visitors, "
		    "population_by_category, displacement", name);
	if (pb->start[0] != '\0' || pb->end[0] != '\0')
		have |= F_START | F_END;
	if (pb->utc_offset_minutes != 0)
		have |= F_OFF;
	if (pb->bucket[0] != '\0')
		have |= F_BUCKET;
	if (pb->k != 0)
		have |= F_K;
	if (pb->night != NULL)
		have |= F_NS | F_NE;
	if (pb->baseline != NULL)
		have |= F_BASE;
	if (pb->comparison != NULL)
		have |= F_COMP;
	if (pb->n_categories > 0)
		have |= F_CATS;
	if (pb->min_nights != 0)
		have |= F_NIGHTS;
	/* A kind that takes night hours takes them as a pair. */
	if ((have & F_NS) && !((kinds[nq.kind].req | kinds[nq.kind].opt) &
	    F_NS))
		return cairn_err(CAIRN_ERR_FORMAT, "%s: field "
		    "'night_start_hour' is not used by kind '%s'", name,
		    kinds[nq.kind].name);
	if ((r = check_presence(name, nq.kind, have)) != CAIRN_OK)
		return r;
	if (have & F_START) {
		if ((r = pb_date(pb->start, name, "start", &nq.start)) !=
		    CAIRN_OK ||
		    (r = pb_date(pb->end, name, "end", &nq.end)) != CAIRN_OK)
			return r;
		if (nq.end <= nq.start || nq.end - nq.start > QSPEC_MAX_DAYS)
			return cairn_err(CAIRN_ERR_FORMAT, "%s: field 'end': "
			    "must be after 'start', at most %d days", name,
			    QSPEC_MAX_DAYS);
		if (nq.kind == QSPEC_KIND_OD && nq.end - nq.start < 2)
			return cairn_err(CAIRN_ERR_FORMAT, "%s: field 'end': "
			    "od needs at least 2 days (one day pair)", name);
	}
	if (pb->utc_offset_minutes < -MAX_OFFSET ||
	    pb->utc_offset_minutes > MAX_OFFSET)
		return cairn_err(CAIRN_ERR_FORMAT, "%s: field "
		    "'utc_offset_minutes': must be an integer in [%d, %d]",
		    name, -MAX_OFFSET, MAX_OFFSET);
	nq.utc_offset_min = pb->utc_offset_minutes;
	if (have & F_BUCKET) {
		if (strcmp(pb->bucket, "hour") == 0)
			nq.bucket_hour = true;
		else if (strcmp(pb->bucket, "day") != 0)
			return cairn_err(CAIRN_ERR_FORMAT, "%s: field 'bucket': "
			    "must be \"day\" or \"hour\"", name);
	}
	if (pb->k > MAX_K)
		return cairn_err(CAIRN_ERR_FORMAT, "%s: field 'k': must be an "
		    "integer in [1, %d]", name, MAX_K);
	nq.k = pb->k;
	if (have & F_NS) {
		if (pb->night->start_hour > 23 || pb->night->end_hour > 23)
			return cairn_err(CAIRN_ERR_FORMAT, "%s: field "
			    "'night_start_hour': hours must be in [0, 23]", name);
		nq.night_start = pb->night->start_hour;
		nq.night_end = pb->night->end_hour;
	}
	if (have & F_NIGHTS) {
		if (pb->min_nights > QSPEC_MAX_DAYS + 1)
			return cairn_err(CAIRN_ERR_FORMAT, "%s: field "
			    "'min_nights': must be an integer in [1, %d]", name,
			    QSPEC_MAX_DAYS + 1);
		nq.min_nights = pb->min_nights;
	}
	if ((have & F_BASE) &&
	    (r = pb_window(pb->baseline, name, "baseline", nq.base)) !=
	    CAIRN_OK)
		return r;
	if ((have & F_COMP) &&
	    (r = pb_window(pb->comparison, name, "comparison", nq.comp)) !=
	    CAIRN_OK)
		return r;
	if (have & F_CATS) {
		for (size_t i = 0; i < pb->n_categories; i++)
			if ((r = add_cat(&nq, name, pb->categories[i] != NULL ?
			    pb->categories[i] : "", pb->categories[i] != NULL ?
			    strlen(pb->categories[i]) : 0)) != CAIRN_OK)
				return r;
		if ((r = finish_cats(&nq, name)) != CAIRN_OK)
			return r;
	}
	if ((r = check_relations(name, &nq)) != CAIRN_OK)
		return r;
	*q = nq;
	return CAIRN_OK;
}

static void
fmt_date(int64_t d, char buf[11])
{
	if (!time_format_date(d, buf))
		strcpy(buf, "?");
}

void
qspec_to_proto(const struct qspec *q, const char *geography,
    Cairn__V1__QuerySpec *pb, struct qspec_proto_bufs *b)
{
	unsigned fl = kinds[q->kind].req | kinds[q->kind].opt;

	pb->kind = (char *)kinds[q->kind].name;
	pb->geography = (char *)(geography != NULL ? geography : "");
	if (fl & F_START) {
		fmt_date(q->start, b->start);
		fmt_date(q->end, b->end);
		pb->start = b->start;
		pb->end = b->end;
	}
	pb->utc_offset_minutes = q->utc_offset_min;
	if (fl & F_BUCKET)
		pb->bucket = (char *)(q->bucket_hour ? "hour" : "day");
	if (fl & F_K)
		pb->k = q->k;
	/* The default travels as absent, so a query that does not ask for
	   it signs the same bytes as before the field existed. */
	if ((fl & F_NIGHTS) && q->min_nights != QSPEC_MIN_NIGHTS_DEFAULT)
		pb->min_nights = q->min_nights;
	if (fl & F_NS) {
		cairn__v1__night_hours__init(&b->night);
		b->night.start_hour = q->night_start;
		b->night.end_hour = q->night_end;
		pb->night = &b->night;
	}
	if (fl & F_BASE) {
		cairn__v1__date_range__init(&b->baseline);
		fmt_date(q->base[0], b->base[0]);
		fmt_date(q->base[1], b->base[1]);
		b->baseline.start = b->base[0];
		b->baseline.end = b->base[1];
		pb->baseline = &b->baseline;
	}
	if (fl & F_COMP) {
		cairn__v1__date_range__init(&b->comparison);
		fmt_date(q->comp[0], b->comp[0]);
		fmt_date(q->comp[1], b->comp[1]);
		b->comparison.start = b->comp[0];
		b->comparison.end = b->comp[1];
		pb->comparison = &b->comparison;
	}
	if (fl & F_CATS) {
		for (uint32_t i = 0; i < q->ncats; i++)
			b->cats[i] = (char *)q->cats[i];
		pb->categories = b->cats;
		pb->n_categories = q->ncats;
	}
}

_Static_assert(QSPEC_MAX_MONTHS <= DP_MAX_MONTHS, "dp_requirement lists "
    "every month a query reads");
_Static_assert(QSPEC_MAX_DAYS == DP_MAX_DAYS, "one widest window");
_Static_assert(MAX_OFFSET == DP_MAX_OFFSET, "one widest offset");
_Static_assert(QSPEC_KIND__N == DP_KIND_COUNT, "every kind is charged");

int
qspec_dp_query(const struct qspec *q, uint32_t holders, struct dp_query *out)
{
	static const enum dp_kind dk[QSPEC_KIND__N] = {
		[QSPEC_KIND_PRESENCE] = DP_KIND_PRESENCE,
		[QSPEC_KIND_RESIDENTS] = DP_KIND_RESIDENTS,
		[QSPEC_KIND_OD] = DP_KIND_OD,
		[QSPEC_KIND_MIGRATION] = DP_KIND_MIGRATION,
		[QSPEC_KIND_VISITORS] = DP_KIND_VISITORS,
		[QSPEC_KIND_POPCAT] = DP_KIND_POPULATION_BY_CATEGORY,
		[QSPEC_KIND_DISPLACEMENT] = DP_KIND_DISPLACEMENT,
	};
	struct dp_query d;

	if ((unsigned)q->kind >= QSPEC_KIND__N)
		return cairn_err(CAIRN_ERR_ARG, "query kind %d is unknown",
		    (int)q->kind);
	if (holders == 0)
		return cairn_err(CAIRN_ERR_ARG, "holders per person must be "
		    ">= 1");
	memset(&d, 0, sizeof(d));
	d.kind = dk[q->kind];
	d.k = q->kind == QSPEC_KIND_PRESENCE || q->kind == QSPEC_KIND_VISITORS ?
	    q->k : 1;
	d.hour = q->kind == QSPEC_KIND_PRESENCE && q->bucket_hour;
	d.utc_offset_min = q->utc_offset_min;
	qspec_span(q, &d.day0, &d.day1);
	if (q->kind == QSPEC_KIND_MIGRATION) {
		d.base0 = q->base[0];
		d.base1 = q->base[1];
		d.comp0 = q->comp[0];
		d.comp1 = q->comp[1];
	}
	if (q->kind == QSPEC_KIND_DISPLACEMENT) {
		/* the observation days take the comparison's place */
		d.base0 = q->base[0];
		d.base1 = q->base[1];
		d.comp0 = q->start;
		d.comp1 = q->end;
	}
	d.holders = holders;
	*out = d;
	return CAIRN_OK;
}

size_t
qspec_months(const struct qspec *q, int32_t months[QSPEC_MAX_MONTHS])
{
	struct dp_query d;
	struct dp_requirement req;

	/* The months do not depend on h, rho, n, c or the cells. */
	if (qspec_dp_query(q, 1, &d) != CAIRN_OK ||
	    dp_requirement(&d, DP_NANO, 1, 0, 1, &req) != CAIRN_OK ||
	    req.nmonths > QSPEC_MAX_MONTHS)
		return 0;
	memcpy(months, req.month, req.nmonths * sizeof(months[0]));
	return req.nmonths;
}

uint64_t
qspec_buckets(const struct qspec *q)
{
	uint64_t days = (uint64_t)(q->end - q->start);

	switch (q->kind) {
	case QSPEC_KIND_PRESENCE:
		return q->bucket_hour ? days * 24 : days;
	case QSPEC_KIND_OD:
	case QSPEC_KIND_VISITORS:
	case QSPEC_KIND_DISPLACEMENT:
		return days;
	default:
		return 1;
	}
}

uint64_t
qspec_domain_cells(const struct qspec *q, uint64_t nregions, uint64_t ncats)
{
	int64_t d0, d1;
	uint64_t days;

	qspec_span(q, &d0, &d1);
	days = (uint64_t)(d1 - d0);
	switch (q->kind) {
	case QSPEC_KIND_PRESENCE:
		return nregions * (q->bucket_hour ? days * 24 : days);
	case QSPEC_KIND_RESIDENTS:
		return nregions;
	case QSPEC_KIND_OD:
		return (days - 1) * nregions * nregions;
	case QSPEC_KIND_MIGRATION:
		return nregions * nregions;
	case QSPEC_KIND_VISITORS:
		return nregions * days;
	case QSPEC_KIND_POPCAT:
		return nregions * (q->ncats > 0 ? q->ncats : ncats);
	case QSPEC_KIND_DISPLACEMENT:
		return nregions * (uint64_t)(q->end - q->start) *
		    (nregions + 1);
	default:
		return 0;
	}
}
