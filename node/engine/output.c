/*
 * output.c - results as CSV or JSON.  Rows follow the cell order, which
 * is the sort order of the columns left to right: region ids ascending
 * (regions are indexed in id order), dates and hour buckets as strings
 * (which sort in time order), categories bytewise.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/cli.h"
#include "common/err.h"
#include "common/timeutil.h"
#include "node/engine/engine.h"

static const char *const kind_headers[QSPEC_KIND__N] = {
	[QSPEC_KIND_PRESENCE] = "region,bucket,count",
	[QSPEC_KIND_RESIDENTS] = "region,count",
	[QSPEC_KIND_OD] = "day,origin,destination,count",
	[QSPEC_KIND_MIGRATION] = "from,to,count",
	[QSPEC_KIND_VISITORS] = "region,day,count",
	[QSPEC_KIND_POPCAT] = "region,category,count",
	[QSPEC_KIND_DISPLACEMENT] = "home,day,region,count",
};

const char *
engine_kind_header(enum qspec_kind kind)
{
	return (unsigned)kind < QSPEC_KIND__N ? kind_headers[kind] : "?";
}

static void
fmt_day(int64_t d, char out[TIME_DATE_LEN])
{
	if (!time_format_date(d, out))
		strcpy(out, "?");
}

static void
csv_str(FILE *f, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void
json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* Print the label columns of cell 'id' (without the count). */
static void
labels(const struct engine_result *res, uint64_t id, bool json, FILE *f)
{
	uint64_t R = res->nregions;
	char d[TIME_DATE_LEN];

	switch (res->query.kind) {
	case QSPEC_KIND_PRESENCE: {
		uint64_t b = id % res->nbuckets;

		if (res->query.bucket_hour) {
			fmt_day(res->day0 + (int64_t)(b / 24), d);
			fprintf(f, json ? "\"region\": %" PRIu32 ", "
			    "\"bucket\": \"%sT%02u\"" : "%" PRIu32 ",%sT%02u",
			    res->regions[id / res->nbuckets], d,
			    (unsigned)(b % 24));
		} else {
			fmt_day(res->day0 + (int64_t)b, d);
			fprintf(f, json ? "\"region\": %" PRIu32 ", "
			    "\"bucket\": \"%s\"" : "%" PRIu32 ",%s",
			    res->regions[id / res->nbuckets], d);
		}
		break;
	}
	case QSPEC_KIND_RESIDENTS:
		fprintf(f, json ? "\"region\": %" PRIu32 : "%" PRIu32,
		    res->regions[id]);
		break;
	case QSPEC_KIND_OD:
		fmt_day(res->day0 + (int64_t)(id / (R * R)), d);
		fprintf(f, json ? "\"day\": \"%s\", \"origin\": %" PRIu32
		    ", \"destination\": %" PRIu32 : "%s,%" PRIu32 ",%" PRIu32,
		    d, res->regions[id / R % R], res->regions[id % R]);
		break;
	case QSPEC_KIND_MIGRATION:
		fprintf(f, json ? "\"from\": %" PRIu32 ", \"to\": %" PRIu32 :
		    "%" PRIu32 ",%" PRIu32, res->regions[id / R],
		    res->regions[id % R]);
		break;
	case QSPEC_KIND_VISITORS:
		fmt_day(res->day0 + (int64_t)(id % res->ndays), d);
		fprintf(f, json ? "\"region\": %" PRIu32 ", \"day\": \"%s\"" :
		    "%" PRIu32 ",%s", res->regions[id / res->ndays], d);
		break;
	case QSPEC_KIND_DISPLACEMENT: {
		/* region R is "not seen": none in CSV, null in JSON */
		uint64_t B = res->nbuckets, g = id % (R + 1);

		fmt_day(res->query.start + (int64_t)(id / (R + 1) % B), d);
		fprintf(f, json ? "\"home\": %" PRIu32 ", \"day\": \"%s\", "
		    "\"region\": " : "%" PRIu32 ",%s,",
		    res->regions[id / ((R + 1) * B)], d);
		if (g == R)
			fputs(json ? "null" : "none", f);
		else
			fprintf(f, "%" PRIu32, res->regions[g]);
		break;
	}
	case QSPEC_KIND_POPCAT:
		fprintf(f, json ? "\"region\": %" PRIu32 ", \"category\": " :
		    "%" PRIu32 ",", res->regions[id / res->ncats]);
		if (json)
			json_str(f, res->cats[id % res->ncats]);
		else
			csv_str(f, res->cats[id % res->ncats]);
		break;
	default:
		break;
	}
}

static void
cell(const struct engine_result *res, enum engine_out_format fmt,
    const struct engine_noise *noise, uint64_t id, uint64_t count, bool first,
    FILE *f)
{
	if (fmt == ENGINE_OUT_JSON)
		fputs(first ? "\n    {" : ",\n    {", f);
	labels(res, id, fmt == ENGINE_OUT_JSON, f);
	if (noise != NULL) {
		int64_t v = (int64_t)count + noise->noise[id];

		int64_t w = (int64_t)noise->ci95;

		if (fmt == ENGINE_OUT_JSON)
			fprintf(f, ", \"count\": %" PRId64 ", \"ci95_low\": "
			    "%" PRId64 ", \"ci95_high\": %" PRId64 "}", v,
			    v - w, v + w);
		else
			fprintf(f, ",%" PRId64 ",%" PRId64 ",%" PRId64 "\n", v,
			    v - w, v + w);
	} else if (fmt == ENGINE_OUT_JSON)
		fprintf(f, ", \"count\": %" PRIu64 "}", count);
	else
		fprintf(f, ",%" PRIu64 "\n", count);
}

int
engine_result_write(const struct engine_result *res, enum engine_out_format fmt,
    bool dense, const struct engine_noise *noise, FILE *f)
{
	bool first = true;

	if (fmt == ENGINE_OUT_JSON) {
		fputs("{\n  \"query\": ", f);
		qspec_write_json(&res->query, f);
		/* The column names as an array. */
		fputs(",\n  \"columns\": [", f);
		for (const char *h = kind_headers[res->query.kind], *e; h;
		    h = e != NULL ? e + 1 : NULL) {
			e = strchr(h, ',');
			fprintf(f, "%s\"%.*s\"", h == kind_headers[
			    res->query.kind] ? "" : ", ", e != NULL ?
			    (int)(e - h) : (int)strlen(h), h);
		}
		fputs(noise ? ", \"ci95_low\", \"ci95_high\"]" : "]", f);
		if (noise != NULL) {
			char num[4][CLI_NUM_MAX];

			cli_format_number(noise->rho, num[0]);
			cli_format_number(noise->epsilon, num[1]);
			cli_format_number(noise->delta, num[2]);
			cli_format_number(noise->sigma2, num[3]);
			fprintf(f, ",\n  \"noise\": {\"mechanism\": "
			    "\"discrete_gaussian\", \"rho\": %s, "
			    "\"epsilon\": %s, \"delta\": %s, "
			    "\"variance\": %s, \"ci95_halfwidth\": %" PRIu64
			    "}", num[0], num[1], num[2], num[3], noise->ci95);
		} else
			fputs(",\n  \"noise\": null", f);
		fputs(",\n  \"cells\": [", f);
	} else
		fprintf(f, "%s%s\n", kind_headers[res->query.kind],
		    noise ? ",ci95_low,ci95_high" : "");
	if (dense || noise != NULL) {
		size_t k = 0;

		for (uint64_t id = 0; id < res->ncells; id++) {
			uint64_t c = 0;

			if (k < res->nnz && res->cells[k].id == id)
				c = res->cells[k++].count;
			cell(res, fmt, noise, id, c, first, f);
			first = false;
		}
	} else
		for (size_t k = 0; k < res->nnz; k++) {
			cell(res, fmt, NULL, res->cells[k].id,
			    res->cells[k].count, first, f);
			first = false;
		}
	if (fmt == ENGINE_OUT_JSON)
		fputs(first ? "]\n}\n" : "\n  ]\n}\n", f);
	if (fflush(f) != 0 || ferror(f))
		return cairn_err(CAIRN_ERR_IO, "write failed");
	return CAIRN_OK;
}
