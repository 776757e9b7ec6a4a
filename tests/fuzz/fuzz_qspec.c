/*
 * fuzz_qspec.c - the analyst's query-spec JSON (protocol/qspec.c).  An
 * accepted spec must survive qspec_write_json() and parse back equal,
 * and its derived sizes (months, buckets, domain) must stay in range.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "protocol/qspec.h"
#include "tests/fuzz/util.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int32_t months[QSPEC_MAX_MONTHS];
	struct qspec q, q2;
	char *buf = NULL;
	size_t len = 0, nm;
	int64_t d0, d1;
	FILE *f;

	if (qspec_parse_json((const char *)data, size, "fuzz.json", &q) !=
	    CAIRN_OK)
		return 0;
	qspec_span(&q, &d0, &d1);
	if (d0 > d1 || d1 - d0 > QSPEC_MAX_DAYS + 2)
		abort();
	nm = qspec_months(&q, months);
	if (nm == 0 || nm > QSPEC_MAX_MONTHS)
		abort();
	(void)qspec_buckets(&q);
	(void)qspec_domain_cells(&q, 1000, 16);
	if ((f = open_memstream(&buf, &len)) == NULL)
		return 0;
	qspec_write_json(&q, f);
	fclose(f);
	if (qspec_parse_json(buf, len, "again.json", &q2) != CAIRN_OK ||
	    memcmp(&q, &q2, sizeof(q)) != 0)
		abort();
	free(buf);
	return 0;
}
