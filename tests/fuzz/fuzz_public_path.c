/*
 * fuzz_public_path.c - the request paths of the coordinator's public HTTP
 * listener (coord_public_route(), coordinator/coord_public_http.c) and
 * the tile paths under it (tlog_tile_path_parse(), protocol/tlog_tiles.c).
 * A path that is accepted names a file inside the directory (no segment
 * that starts with a dot, so no "..", no empty segment, no leading '/'),
 * and a tile path that
 * parses is spelled the one canonical way: writing the parsed tile gives
 * the same bytes back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "coordinator/coord_int.h"
#include "protocol/tlog_tiles.h"
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
	struct coord_public_kind k = { NULL, NULL };
	struct tlog_tile t;
	char url[2048], rel[1100], back[TLOG_TILE_PATH_MAX];

	if (size >= sizeof(url))
		return 0;
	memcpy(url, data, size);
	url[size] = '\0';
	/* ("a..b.json" is a name, not a way up: segments are checked.) */
	if (coord_public_route(url, rel, sizeof(rel), &k) == CAIRN_OK) {
		if (k.ctype == NULL || k.cache == NULL || rel[0] == '/' ||
		    rel[0] == '.' || strstr(rel, "/.") != NULL ||
		    strstr(rel, "//") != NULL || rel[strlen(rel) - 1] == '/' ||
		    (strcmp(url, "/") != 0 && strcmp(rel, url + 1) != 0))
			abort();
	}
	if (tlog_tile_path_parse(url, &t) == CAIRN_OK) {
		if (tlog_tile_path(&t, back, sizeof(back)) != CAIRN_OK ||
		    strcmp(back, url) != 0)
			abort();
	}
	return 0;
}
