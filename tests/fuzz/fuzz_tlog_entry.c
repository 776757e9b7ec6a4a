/*
 * fuzz_tlog_entry.c - log entries as read back from the log or from
 * GetEntries (protocol/tlog_entry.c).  A decoded entry must encode, and
 * the encoding must decode to the same bytes again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "protocol/tlog_entry.h"
#include "tests/fuzz/util.h"

static struct tlog_entry e1, e2;

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
	uint8_t *a, *b;
	size_t cap = size + 65536, la, lb;

	if (tlog_entry_decode(data, size, &e1) != CAIRN_OK)
		return 0;
	if (tlog_entry_type_name((int)e1.type) == NULL)
		abort();
	if ((a = malloc(cap)) == NULL || (b = malloc(cap)) == NULL)
		abort();
	if (tlog_entry_encode(&e1, a, cap, &la) != CAIRN_OK)
		abort();
	if (tlog_entry_decode(a, la, &e2) != CAIRN_OK ||
	    tlog_entry_encode(&e2, b, cap, &lb) != CAIRN_OK ||
	    la != lb || memcmp(a, b, la) != 0)
		abort();
	free(a);
	free(b);
	return 0;
}
