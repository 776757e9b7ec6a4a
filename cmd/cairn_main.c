/*
 * cairn_main.c - the `cairn` program: the analyst's, auditor's and
 * operator's tools behind one name.  Each subcommand lives in its module
 * (privacy/cmd_privacy.c, keys/cmd_keys.c, ...), is declared by that
 * module's header and is listed here in a {name, fn, help} table; this
 * program is the only one that links synth/.
 */
#include <stdio.h>

#include <sodium.h>

#include "common/cli.h"
#include "common/log.h"
#include "common/version.h"
#include "audit/audit.h"
#include "cmd/cmd.h"
#include "keys/keys.h"
#include "privacy/dp.h"
#include "query/query.h"
#include "synth/synth.h"

static int
cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("cairn %s (%s)\n", CAIRN_VERSION, CAIRN_PROTOCOL);
	return 0;
}

static const struct cli_cmd cmds[] = {
	{ "query", cmd_query, "submit queries and fetch results (analysts)" },
	{ "audit", cmd_audit, "verify the transparency log (auditors)" },
	{ "keys", cmd_keys, "federation CA, member keys and certificates" },
	{ "privacy", dp_cmd_privacy,
	    "draw exact noise samples; plan sigma, intervals and (eps, delta)" },
	{ "synth", cmd_synth, "generate a synthetic federation with ground truth" },
	{ "demo", cmd_demo, "run a whole federation on loopback (make demo)" },
	{ "version", cmd_version, "print the version" },
};

int
main(int argc, char **argv)
{
	log_set_prog("cairn");
	if (sodium_init() < 0) {
		fprintf(stderr, "cairn: error: libsodium failed to initialise\n");
		return 1;
	}
	return cli_dispatch("cairn", cmds, sizeof(cmds) / sizeof(cmds[0]),
	    argc, argv);
}
