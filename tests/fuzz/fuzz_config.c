/*
 * fuzz_config.c - the INI files of the three programs through their own
 * loaders: the first byte chooses node.conf (node_config_load),
 * coordinator.conf (coord_config_load, with a geography region file next
 * to it) or analyst.conf (`cairn query status --config`, which reads the
 * file and then stops for want of a query id); the rest is the file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "coordinator/coord_int.h"
#include "node/node_config.h"
#include "query/query.h"
#include "tests/fuzz/util.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char regions[] = "region_id,name\n1,a\n2,b\n";

	(void)argc;
	(void)argv;
	fz_quiet();
	(void)fz_file("regions.csv", regions, strlen(regions));
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct coord_config cc;
	struct node_config nc;
	const char *p;
	char path[512];
	int saved;

	switch (fz_byte(&data, &size) % 3) {
	case 0:
		p = fz_file("node.conf", data, size);
		memset(&nc, 0, sizeof(nc));
		if (node_config_load(p, &nc) == CAIRN_OK &&
		    (nc.policy.min_participants <= nc.policy.max_colluding))
			abort();
		node_config_release(&nc);
		break;
	case 1:
		p = fz_file("coordinator.conf", data, size);
		memset(&cc, 0, sizeof(cc));
		if (coord_config_load(p, &cc) == CAIRN_OK &&
		    cc.ngeos > COORD_GEO_MAX)
			abort();
		coord_config_release(&cc);
		break;
	default:
		p = fz_file("analyst.conf", data, size);
		snprintf(path, sizeof(path), "%s", p);
		{
			char *argv[] = { "query", "status", "--config", path,
			    NULL };

			saved = fz_mute();
			fz_ignore(cmd_query(4, argv));
			fz_unmute(saved);
		}
		break;
	}
	return 0;
}
