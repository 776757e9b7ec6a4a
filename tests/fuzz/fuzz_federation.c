/*
 * fuzz_federation.c - federation.conf (keys/keys_federation.c), the file
 * every member pins.  An accepted file's members must all be found again.
 */
#include <stdio.h>
#include <stdlib.h>

#include "common/err.h"
#include "keys/keys_federation.h"
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
	struct keys_federation *fed;
	const char *p = fz_file("federation.conf", data, size);

	if (keys_federation_load(p, &fed) != CAIRN_OK)
		return 0;
	for (size_t i = 0; i < fed->n; i++)
		if (keys_federation_find(fed, fed->members[i].pub.role,
		    fed->members[i].pub.name) == NULL ||
		    !keys_name_is_valid(fed->members[i].pub.name))
			abort();
	keys_federation_free(fed);
	return 0;
}
