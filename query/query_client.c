/*
 * query_client.c - building and signing queries, labelling released
 * cells, writing results with their intervals (docs/analyst.md).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "common/err.h"
#include "common/rho.h"
#include "common/timeutil.h"
#include "privacy/dp.h"
#include "protocol/cairn.pb-c.h"
#include "protocol/proto_service.h"
#include "protocol/transport.h"
#include "query/query.h"
#include "query/query_int.h"

/* -------------------------------------------------------------- build */

int
query_build(const struct query_params *p, const struct keys_identity *id,
    uint8_t **query, size_t *len, uint8_t sig[static KEYS_SIG_LEN])
{
	Cairn__V1__Query q = CAIRN__V1__QUERY__INIT;
	Cairn__V1__MemberId analyst = CAIRN__V1__MEMBER_ID__INIT;
	Cairn__V1__QuerySpec spec = CAIRN__V1__QUERY_SPEC__INIT;
	struct qspec_proto_bufs bufs;
	uint8_t *buf = NULL;
	size_t n;
	int r;

	if (p->query_id == NULL || p->query_id[0] == '\0' ||
	    strlen(p->query_id) > QUERY_ID_MAX)
		return cairn_err(CAIRN_ERR_ARG, "--id: 1 to %d characters",
		    QUERY_ID_MAX);
	for (const char *c = p->query_id; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return cairn_err(CAIRN_ERR_ARG, "--id: '%s' has a "
			    "space or control character", p->query_id);
	if (p->purpose == NULL || p->purpose[0] == '\0' ||
	    strlen(p->purpose) > QUERY_PURPOSE_MAX ||
	    strpbrk(p->purpose, "\r\n") != NULL)
		return cairn_err(CAIRN_ERR_ARG, "--purpose: one line of 1 to "
		    "%d characters is required", QUERY_PURPOSE_MAX);
	if (p->geography == NULL || p->geography[0] == '\0' ||
	    strlen(p->geography) > KEYS_NAME_MAX)
		return cairn_err(CAIRN_ERR_ARG, "--geography is required");
	if (p->rho_nano == 0 || p->rho_nano > RHO_NANO_MAX)
		return cairn_err(CAIRN_ERR_ARG, "--rho: must be above 0 and at "
		    "most 10^9");
	if (p->nparticipants < 2 || p->nparticipants > QUERY_MAX_PARTICIPANTS)
		return cairn_err(CAIRN_ERR_ARG, "--participants: %zu names, "
		    "2 to %d needed", p->nparticipants, QUERY_MAX_PARTICIPANTS);
	for (size_t i = 0; i < p->nparticipants; i++) {
		if (!keys_name_is_valid(p->participants[i]))
			return cairn_err(CAIRN_ERR_ARG, "--participants: '%s' "
			    "is not a member name", p->participants[i]);
		for (size_t j = 0; j < i; j++)
			if (strcmp(p->participants[i],
			    p->participants[j]) == 0)
				return cairn_err(CAIRN_ERR_ARG,
				    "--participants: '%s' is named twice",
				    p->participants[i]);
	}
	if (p->colluding >= p->nparticipants)
		return cairn_err(CAIRN_ERR_ARG, "--colluding: %" PRIu32 " must "
		    "be below the %zu participants", p->colluding,
		    p->nparticipants);
	if (p->analyst == NULL || !keys_name_is_valid(p->analyst))
		return cairn_err(CAIRN_ERR_ARG, "analyst name is not valid");
	if (p->federation == NULL || p->federation[0] == '\0')
		return cairn_err(CAIRN_ERR_ARG, "federation name missing");

	qspec_to_proto(&p->spec, p->geography, &spec, &bufs);
	analyst.role = CAIRN__V1__ROLE__ROLE_ANALYST;
	analyst.name = (char *)p->analyst;
	q.query_id = (char *)p->query_id;
	q.allow_missing_months = p->allow_missing_months;
	q.publish = p->publish;
	q.analyst = &analyst;
	q.purpose = (char *)p->purpose;
	q.spec = &spec;
	q.rho_nano = p->rho_nano;
	q.n_participants = p->nparticipants;
	q.participants = (char **)p->participants;
	q.max_colluding = p->colluding;
	q.submitted_unix = p->submitted;
	q.federation = (char *)p->federation;
	q.nonce.data = (uint8_t *)p->nonce;
	q.nonce.len = QUERY_NONCE_LEN;
	q.holders_per_person = p->holders;
	if ((r = proto_pack(&q.base, PROTO_MAX_SMALL, &buf, &n)) != CAIRN_OK)
		return r;
	if ((r = keys_sign(id, "query", buf, n, sig)) != CAIRN_OK) {
		free(buf);
		return r;
	}
	*query = buf;
	*len = n;
	return CAIRN_OK;
}

/* ------------------------------------------------------------ regions */

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int
query_regions_parse(const char *text, size_t len, const char *name,
    uint32_t **ids, size_t *n)
{
	uint32_t *v = NULL;
	size_t nv = 0, cap = 0, pos = 0, line = 0;
	int r = CAIRN_OK;

	while (pos < len) {
		const char *s = text + pos, *nl = memchr(s, '\n', len - pos);
		size_t ln = nl ? (size_t)(nl - s) : len - pos, fl;
		char field[16];
		char *end;
		unsigned long long x;

		line++;
		pos += ln + 1;
		if (ln > 0 && s[ln - 1] == '\r')
			ln--;
		fl = 0;
		while (fl < ln && s[fl] != ',')
			fl++;
		if (line == 1) {
			if (fl != 9 || memcmp(s, "region_id", 9) != 0) {
				r = cairn_err(CAIRN_ERR_FORMAT, "%s:1: the "
				    "header must start with 'region_id'", name);
				goto out;
			}
			continue;
		}
		if (ln == 0)
			continue;
		if (fl == 0 || fl >= sizeof(field)) {
			r = cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: region_id is "
			    "not a number", name, line);
			goto out;
		}
		memcpy(field, s, fl);
		field[fl] = '\0';
		errno = 0;
		x = strtoull(field, &end, 10);
		if (errno != 0 || *end != '\0' || field[0] < '0' ||
		    field[0] > '9' || x > UINT32_MAX) {
			r = cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: region_id "
			    "'%s' is not a number below 2^32", name, line,
			    field);
			goto out;
		}
		if (nv == QUERY_MAX_REGIONS) {
			r = cairn_err(CAIRN_ERR_TOOBIG, "%s: more than %u "
			    "regions", name, QUERY_MAX_REGIONS);
			goto out;
		}
		if (nv == cap) {
			size_t nc = cap ? 2 * cap : 256;
			uint32_t *nvp = realloc(v, nc * sizeof(*v));

			if (nvp == NULL) {
				r = cairn_err(CAIRN_ERR_NOMEM, "%s", name);
				goto out;
			}
			v = nvp;
			cap = nc;
		}
		v[nv++] = (uint32_t)x;
	}
	if (line == 0) {
		r = cairn_err(CAIRN_ERR_FORMAT, "%s: empty file", name);
		goto out;
	}
	if (nv == 0) {
		r = cairn_err(CAIRN_ERR_FORMAT, "%s: no regions", name);
		goto out;
	}
	qsort(v, nv, sizeof(*v), cmp_u32);
	for (size_t i = 1; i < nv; i++)
		if (v[i] == v[i - 1]) {
			r = cairn_err(CAIRN_ERR_FORMAT, "%s: region %" PRIu32
			    " is listed twice", name, v[i]);
			goto out;
		}
	*ids = v;
	*n = nv;
	v = NULL;
out:
	free(v);
	return r;
}

int
query_regions_names(const char *text, size_t len, const char *name,
    const uint32_t *ids, size_t n, char ***out)
{
	char **v;
	size_t pos = 0, line = 0;
	int r = CAIRN_OK;

	if ((v = calloc(n ? n : 1, sizeof(*v))) == NULL)
		return cairn_err(CAIRN_ERR_NOMEM, "%s", name);
	while (pos < len && r == CAIRN_OK) {
		const char *s = text + pos, *nl = memchr(s, '\n', len - pos);
		size_t ln = nl ? (size_t)(nl - s) : len - pos, fl = 0, k;
		unsigned long long x;
		const uint32_t *at;
		uint32_t id;
		char *nm;

		line++;
		pos += ln + 1;
		if (ln > 0 && s[ln - 1] == '\r')
			ln--;
		if (line == 1 || ln == 0)
			continue;
		x = strtoull(s, NULL, 10);	/* checked by _parse() */
		id = (uint32_t)x;
		at = bsearch(&id, ids, n, sizeof(*ids), cmp_u32);
		while (fl < ln && s[fl] != ',')
			fl++;
		if (at == NULL || fl == ln)
			continue;	/* no name column: the id alone */
		s += fl + 1;
		ln -= fl + 1;
		if ((nm = malloc(ln + 1)) == NULL) {
			r = cairn_err(CAIRN_ERR_NOMEM, "%s", name);
			break;
		}
		k = 0;
		if (ln > 0 && s[0] == '"') {
			/* A quoted CSV field: "" is one quote. */
			for (size_t i = 1; i < ln; i++) {
				if (s[i] == '"' && i + 1 < ln && s[i + 1] ==
				    '"')
					nm[k++] = s[i++];
				else if (s[i] == '"')
					break;
				else
					nm[k++] = s[i];
			}
		} else
			while (k < ln && s[k] != ',') {
				nm[k] = s[k];
				k++;
			}
		nm[k] = '\0';
		free(v[at - ids]);
		v[at - ids] = nm;
	}
	for (size_t i = 0; r == CAIRN_OK && i < n; i++)
		if (v[i] == NULL && (v[i] = strdup("")) == NULL)
			r = cairn_err(CAIRN_ERR_NOMEM, "%s", name);
	if (r != CAIRN_OK) {
		query_free_list(v, n);
		return r;
	}
	*out = v;
	return CAIRN_OK;
}

/* ------------------------------------------------------------- domain */

static const char *const label_columns[QSPEC_KIND__N] = {
	[QSPEC_KIND_PRESENCE] = "region,bucket",
	[QSPEC_KIND_RESIDENTS] = "region",
	[QSPEC_KIND_OD] = "day,origin,destination",
	[QSPEC_KIND_MIGRATION] = "from,to",
	[QSPEC_KIND_VISITORS] = "region,day",
	[QSPEC_KIND_POPCAT] = "region,category",
	[QSPEC_KIND_DISPLACEMENT] = "home,day,region",
};

const char *
query_label_columns(enum qspec_kind kind)
{
	return (unsigned)kind < QSPEC_KIND__N ? label_columns[kind] : "?";
}

int
query_domain_init(struct query_domain *d, const struct qspec *q,
    const uint32_t *regions, size_t nregions, const char *const *cats,
    size_t ncats)
{
	if (nregions == 0 || regions == NULL)
		return cairn_err(CAIRN_ERR_ARG, "the domain needs regions "
		    "(--regions)");
	for (size_t i = 1; i < nregions; i++)
		if (regions[i] <= regions[i - 1])
			return cairn_err(CAIRN_ERR_ARG, "regions are not "
			    "sorted and distinct");
	if (q->kind == QSPEC_KIND_POPCAT && ncats == 0 && q->ncats > 0) {
		/* The spec's categories (signed with the query). */
		cats = NULL;
		ncats = q->ncats;
	} else if (q->kind == QSPEC_KIND_POPCAT) {
		if (ncats == 0)
			return cairn_err(CAIRN_ERR_ARG,
			    "population_by_category needs its categories "
			    "(--categories)");
		if (ncats > QUERY_MAX_CATEGORIES)
			return cairn_err(CAIRN_ERR_ARG, "--categories: more "
			    "than %d", QUERY_MAX_CATEGORIES);
		for (size_t i = 1; i < ncats; i++)
			if (strcmp(cats[i - 1], cats[i]) >= 0)
				return cairn_err(CAIRN_ERR_ARG, "--categories: "
				    "'%s' and '%s' are not in bytewise order",
				    cats[i - 1], cats[i]);
	} else if (ncats != 0)
		return cairn_err(CAIRN_ERR_ARG, "--categories: only for "
		    "population_by_category");
	memset(d, 0, sizeof(*d));
	d->spec = *q;
	d->regions = regions;
	d->nregions = nregions;
	d->cats = cats;
	d->ncats = ncats;
	d->ncells = qspec_domain_cells(q, nregions, ncats);
	return CAIRN_OK;
}

/* A category as a CSV field or a JSON string. */
static int
quote(const char *s, bool json, char *out, size_t cap)
{
	size_t n = 0;

	if (!json && strpbrk(s, ",\"\r\n") == NULL) {
		if (strlen(s) + 1 > cap)
			return CAIRN_ERR_TOOBIG;
		strcpy(out, s);
		return CAIRN_OK;
	}
	if (cap < 3)
		return CAIRN_ERR_TOOBIG;
	out[n++] = '"';
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (n + 8 >= cap)
			return CAIRN_ERR_TOOBIG;
		if (json && (c == '"' || c == '\\')) {
			out[n++] = '\\';
			out[n++] = (char)c;
		} else if (json && c < 0x20)
			n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
		else if (!json && c == '"') {
			out[n++] = '"';
			out[n++] = '"';
		} else
			out[n++] = (char)c;
	}
	out[n++] = '"';
	out[n] = '\0';
	return CAIRN_OK;
}

/*
 * The label fields of each kind, in the engine's cell order: 'R' a region
 * (its id, and its name beside it when the regions file names regions),
 * 'S' a date or hour, 'C' a category.  A new kind adds a row here and a
 * case in cell_fields(); CSV, JSON and GeoJSON follow (a flow is a kind
 * with two 'R' fields).
 */
static const struct {
	const char	*key[3];
	const char	*type;
} label_fields[QSPEC_KIND__N] = {
	[QSPEC_KIND_PRESENCE] = { { "region", "bucket" }, "RS" },
	[QSPEC_KIND_RESIDENTS] = { { "region" }, "R" },
	[QSPEC_KIND_OD] = { { "day", "origin", "destination" }, "SRR" },
	[QSPEC_KIND_MIGRATION] = { { "from", "to" }, "RR" },
	[QSPEC_KIND_VISITORS] = { { "region", "day" }, "RS" },
	[QSPEC_KIND_POPCAT] = { { "region", "category" }, "RC" },
	/* the second region is nregions for "not seen" that day */
	[QSPEC_KIND_DISPLACEMENT] = { { "home", "day", "region" }, "RSR" },
};

void
query_columns(const struct query_domain *d, char *buf, size_t cap, bool json)
{
	static const char *const tail[] = { "value", "ci95_low", "ci95_high" };
	size_t n = 0;

	buf[0] = '\0';
	if ((unsigned)d->spec.kind >= QSPEC_KIND__N ||
	    label_fields[d->spec.kind].type == NULL)
		return;
	for (size_t i = 0; label_fields[d->spec.kind].type[i] != '\0'; i++) {
		const char *k = label_fields[d->spec.kind].key[i];
		bool named = label_fields[d->spec.kind].type[i] == 'R' &&
		    d->names != NULL;

		n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0,
		    json ? "%s\"%s\"" : "%s%s", i ? (json ? ", " : ",") : "",
		    k);
		if (named)
			n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0,
			    json ? ", \"%s_name\"" : ",%s_name", k);
	}
	for (size_t i = 0; json && i < 3; i++)
		n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0,
		    ", \"%s\"", tail[i]);
}

/*
 * The label fields of cell 'id' of 'd', in label_fields order: region
 * indexes into d->regions in 'reg', dates and (quoted for 'json' or CSV)
 * categories in 'text'.
 */
static int
cell_fields(const struct query_domain *d, uint64_t id, bool json,
    uint64_t reg[3], char text[3][1024])
{
	const struct qspec *q = &d->spec;
	uint64_t R = d->nregions, nb, nd;

	if (id >= d->ncells)
		return cairn_err(CAIRN_ERR_RANGE, "cell %" PRIu64 " is past "
		    "the domain of %" PRIu64, id, d->ncells);
	if ((unsigned)q->kind >= QSPEC_KIND__N ||
	    label_fields[q->kind].type == NULL)
		return cairn_err(CAIRN_ERR_ARG, "no labels for kind '%s'",
		    qspec_kind_name(q->kind));
	reg[0] = reg[1] = reg[2] = 0;
	text[0][0] = text[1][0] = text[2][0] = '\0';
	/* The fields of cell 'id', in label_fields order. */
	switch (q->kind) {
	case QSPEC_KIND_PRESENCE:
		nb = qspec_buckets(q);
		reg[0] = id / nb;
		if (q->bucket_hour) {
			char day[TIME_DATE_LEN];
			uint64_t b = id % nb;

			(void)time_format_date(q->start + (int64_t)(b / 24),
			    day);
			snprintf(text[1], sizeof(text[1]), "%sT%02u", day,
			    (unsigned)(b % 24));
		} else
			(void)time_format_date(q->start + (int64_t)(id % nb),
			    text[1]);
		break;
	case QSPEC_KIND_RESIDENTS:
		reg[0] = id;
		break;
	case QSPEC_KIND_OD:
		(void)time_format_date(q->start + (int64_t)(id / (R * R)),
		    text[0]);
		reg[1] = id / R % R;
		reg[2] = id % R;
		break;
	case QSPEC_KIND_MIGRATION:
		reg[0] = id / R;
		reg[1] = id % R;
		break;
	case QSPEC_KIND_VISITORS:
		nd = (uint64_t)(q->end - q->start);
		reg[0] = id / nd;
		(void)time_format_date(q->start + (int64_t)(id % nd), text[1]);
		break;
	case QSPEC_KIND_DISPLACEMENT:
		/* (home, observation day, region or not seen = R) */
		nd = (uint64_t)(q->end - q->start);
		reg[0] = id / ((R + 1) * nd);
		(void)time_format_date(q->start + (int64_t)(id / (R + 1) % nd),
		    text[1]);
		reg[2] = id % (R + 1);
		break;
	case QSPEC_KIND_POPCAT:
		reg[0] = id / d->ncats;
		if (quote(d->cats != NULL ? d->cats[id % d->ncats] :
		    d->spec.cats[id % d->ncats], json, text[1],
		    sizeof(text[1])) != CAIRN_OK)
			return cairn_err(CAIRN_ERR_TOOBIG, "category too long");
		break;
	default:
		return cairn_err(CAIRN_ERR_ARG, "unknown kind");
	}
	return CAIRN_OK;
}

int
query_cell_regions(const struct query_domain *d, uint64_t id,
    uint32_t ids[static 3], size_t *n)
{
	uint64_t reg[3];
	char text[3][1024];
	size_t k = 0;
	int r;

	if ((r = cell_fields(d, id, false, reg, text)) != CAIRN_OK)
		return r;
	/* A displacement cell's "not seen" names no region. */
	for (size_t i = 0; label_fields[d->spec.kind].type[i] != '\0'; i++)
		if (label_fields[d->spec.kind].type[i] == 'R' &&
		    reg[i] < d->nregions)
			ids[k++] = d->regions[reg[i]];
	*n = k;
	return CAIRN_OK;
}

int
query_cell_label(const struct query_domain *d, uint64_t id, bool json,
    char *buf, size_t cap)
{
	const struct qspec *q = &d->spec;
	uint64_t reg[3];
	char text[3][1024];
	size_t n = 0;
	int r;

	if ((r = cell_fields(d, id, json, reg, text)) != CAIRN_OK)
		return r;
	buf[0] = '\0';
	for (size_t i = 0; label_fields[q->kind].type[i] != '\0'; i++) {
		const char *k = label_fields[q->kind].key[i];
		char t = label_fields[q->kind].type[i], name[1024];
		int w;

		if (i > 0)
			n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0,
			    json ? ", " : ",");
		if (json)
			n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0,
			    "\"%s\": ", k);
		if (t == 'R' && reg[i] >= d->nregions) {
			/* displacement: not seen that day */
			n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0,
			    "%s", json ? "null" : "none");
			if (d->names != NULL)
				n += (size_t)snprintf(buf + n, n < cap ?
				    cap - n : 0, json ? ", \"%s_name\": null" :
				    ",", k);
		} else if (t == 'R') {
			w = snprintf(buf + n, n < cap ? cap - n : 0, "%" PRIu32,
			    d->regions[reg[i]]);
			n += (size_t)(w > 0 ? w : 0);
			if (d->names != NULL) {
				if (quote(d->names[reg[i]], json, name,
				    sizeof(name)) != CAIRN_OK)
					return cairn_err(CAIRN_ERR_TOOBIG,
					    "region name too long");
				n += (size_t)snprintf(buf + n, n < cap ?
				    cap - n : 0, json ? ", \"%s_name\": %s" :
				    ",%s", json ? k : name, name);
			}
		} else if (t == 'S')
			n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0,
			    json ? "\"%s\"" : "%s", text[i]);
		else
			n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0,
			    "%s", text[i]);
	}
	if (n >= cap)
		return cairn_err(CAIRN_ERR_TOOBIG, "label of cell %" PRIu64
		    " too long", id);
	return CAIRN_OK;
}

/* ------------------------------------------------------------- output */

void
query_format_number(double x, char out[static QUERY_NUM_MAX])
{
	cli_format_number(x, out);
}

int
query_result_write(FILE *f, bool json, const struct query_domain *d,
    const struct query_release *rel, const int64_t *values, uint64_t n)
{
	double eps_t, eps_s, rho = rho_to_double(rel->rho_nano);
	uint64_t w;
	char label[2048], rt[RHO_TEXT_MAX], num[3][QUERY_NUM_MAX], cols[512];
	int r;

	if (n != d->ncells)
		return cairn_err(CAIRN_ERR_RANGE, "the result has %" PRIu64
		    " cells, the domain of this query %" PRIu64 " (check "
		    "--regions)", n, d->ncells);
	rho_format(rel->rho_nano, rt);
	if ((r = dp_eps_from_rho_tight(rho, rel->delta, &eps_t)) !=
	    CAIRN_OK || (r = dp_eps_from_rho_simple(rho, rel->delta,
	    &eps_s)) != CAIRN_OK || (r = dp_ci95_halfwidth(rel->variance,
	    &w)) != CAIRN_OK)
		return r;
	query_format_number(eps_t, num[0]);
	query_format_number(rel->delta, num[1]);
	query_format_number(eps_s, num[2]);
	query_columns(d, cols, sizeof(cols), json);
	if (json) {
		fprintf(f, "{\n  \"query_id\": ");
		(void)quote(rel->query_id, true, label, sizeof(label));
		fprintf(f, "%s,\n  \"kind\": \"%s\",\n  \"columns\": "
		    "[%s],\n", label, qspec_kind_name(d->spec.kind), cols);
		fprintf(f, "  \"privacy\": {\"rho\": %s, \"rho_nano\": %"
		    PRIu64 ", \"epsilon\": %s, \"delta\": %s, "
		    "\"epsilon_simple\": %s, \"variance\": %" PRIu64
		    ", \"ci95_halfwidth\": %" PRIu64 "},\n  \"log_index\": %"
		    PRIu64 ",\n  \"cells\": [", rt, rel->rho_nano, num[0],
		    num[1], num[2], rel->variance, w, rel->log_index);
	} else {
		/* The comment line shows ε to 6 significant digits. */
		snprintf(num[0], sizeof(num[0]), "%.6g", eps_t);
		snprintf(num[2], sizeof(num[2]), "%.6g", eps_s);
		fprintf(f, "# query %s kind %s released at log index %" PRIu64
		    "\n# rho %s per data-month = (epsilon %s, delta %s) "
		    "tight, epsilon %s simple\n# noise variance %" PRIu64
		    " per cell, 95%% interval value +- %" PRIu64 "\n",
		    rel->query_id, qspec_kind_name(d->spec.kind),
		    rel->log_index, rt, num[0], num[1], num[2],
		    rel->variance, w);
		fprintf(f, "%s,value,ci95_low,ci95_high\n", cols);
	}
	for (uint64_t i = 0; i < n; i++) {
		int64_t v = values[i];

		if (v > INT64_MAX / 2 || v < INT64_MIN / 2)
			return cairn_err(CAIRN_ERR_RANGE, "cell %" PRIu64 ": "
			    "value %" PRId64 " is out of range", i, v);
		if ((r = query_cell_label(d, i, json, label, sizeof(label))) !=
		    CAIRN_OK)
			return r;
		if (json)
			fprintf(f, "%s\n    {%s, \"value\": %" PRId64
			    ", \"ci95_low\": %" PRId64 ", \"ci95_high\": %"
			    PRId64 "}", i ? "," : "", label, v,
			    v - (int64_t)w, v + (int64_t)w);
		else
			fprintf(f, "%s,%" PRId64 ",%" PRId64 ",%" PRId64 "\n",
			    label, v, v - (int64_t)w, v + (int64_t)w);
	}
	if (json)
		fputs(n ? "\n  ]\n}\n" : "]\n}\n", f);
	if (fflush(f) != 0 || ferror(f))
		return cairn_err(CAIRN_ERR_IO, "write failed");
	return CAIRN_OK;
}
