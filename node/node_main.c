/*
 * node_main.c - the `cairn-node` program: a data holder's node.  Each
 * subcommand lives in node/cmd_*.c and is listed here.
 */
#include <stdio.h>
#include <string.h>

#include "common/cli.h"
#include "common/log.h"
#include "common/version.h"
#include "node/daemon.h"
#include "node/node.h"

static int
cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("cairn-node %s (%s)\n", CAIRN_VERSION, CAIRN_PROTOCOL);
	return 0;
}

static const struct cli_cmd cmds[] = {
	{ "run-local", node_cmd_run_local,
	    "run one query on local CSV files or the store" },
	{ "check-data", node_cmd_check_data,
	    "report bad rows of input files without running a query" },
	{ "ingest", node_cmd_ingest,
	    "convert CSV drops into the node's binary store" },
	{ "prune", node_cmd_prune,
	    "remove the data-months before a month from the store" },
	{ "serve", node_cmd_serve,
	    "run the node: take tasks from the coordinator (docs/node.md)" },
	{ "ledger", node_cmd_ledger,
	    "show or export the privacy ledger" },
	{ "backup", node_cmd_backup,
	    "copy the ledger and witness state online (docs/operations.md)" },
	{ "version", cmd_version, "print the version" },
};

int
main(int argc, char **argv)
{
	log_set_prog("cairn-node");
	return cli_dispatch("cairn-node", cmds, sizeof(cmds) / sizeof(cmds[0]),
	    argc, argv);
}
