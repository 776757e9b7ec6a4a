/*
 * cmd_backup.c - `cairn-node backup -c node.conf DIR`: an online copy of
 * the node's privacy ledger (ledger.db) and witness state (witness.db)
 * into DIR, while serve runs (docs/operations.md, "Back up and restore").
 * Each file is one consistent snapshot taken with SQLite's backup API,
 * written whole or not at all, mode 0600.  A ledger restored from such a
 * copy may be older than the node's spend: before serving, the node tops
 * it up from the CHARGE entries it signed in the log, so it never
 * under-counts.
 */
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "common/cli.h"
#include "common/db.h"
#include "common/err.h"
#include "node/daemon.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: cairn-node backup -c node.conf DIR\n"
	    "  Copy ledger.db and witness.db of the node's data_dir into DIR\n"
	    "  (created 0700; the copies must not exist), online.  Restore:\n"
	    "  stop the node, copy them back into data_dir, start it\n"
	    "  (docs/operations.md).\n");
}

/* Copy data_dir/NAME to dir/NAME; a missing source is skipped. */
static int
copy_one(const char *data_dir, const char *dir, const char *name,
    bool *copied)
{
	char src[4096], dst[4096];
	struct stat sb;
	sqlite3 *db = NULL;
	int r;

	*copied = false;
	snprintf(src, sizeof(src), "%s/%s", data_dir, name);
	snprintf(dst, sizeof(dst), "%s/%s", dir, name);
	if (stat(src, &sb) != 0)
		return CAIRN_OK;
	if ((r = db_open(src, SQLITE_OPEN_READONLY, "backup", &db)) ==
	    CAIRN_OK && (r = db_backup(db, dst)) == CAIRN_OK)
		*copied = true;
	sqlite3_close(db);
	return r;
}

int
node_cmd_backup(int argc, char **argv)
{
	struct node_config cfg;
	const char *conf = NULL;
	bool led = false, wit = false;
	int c, r;
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", lo, NULL)) != -1) {
		switch (c) {
		case 'c':
			conf = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (conf == NULL || optind + 1 != argc) {
		cairn_err(CAIRN_ERR_ARG, "usage: cairn-node backup -c "
		    "node.conf DIR");
		return cli_fail("cairn-node", "backup", CAIRN_ERR_ARG);
	}
	if ((r = node_config_load(conf, &cfg)) != CAIRN_OK) {
		node_config_release(&cfg);
		return cli_fail("cairn-node", "backup", r);
	}
	if (mkdir(argv[optind], 0700) != 0 && errno != EEXIST)
		r = cairn_err(CAIRN_ERR_IO, "%s: %s", argv[optind],
		    strerror(errno));
	else if ((r = copy_one(cfg.data_dir, argv[optind], NODE_LEDGER_FILE,
	    &led)) == CAIRN_OK)
		r = copy_one(cfg.data_dir, argv[optind], NODE_WITNESS_FILE,
		    &wit);
	if (r == CAIRN_OK && !led)
		r = cairn_err(CAIRN_ERR_NOTFOUND, "%s/%s: no ledger to back "
		    "up", cfg.data_dir, NODE_LEDGER_FILE);
	if (r == CAIRN_OK)
		printf("%s: %s%s backed up\n", argv[optind], NODE_LEDGER_FILE,
		    wit ? " and " NODE_WITNESS_FILE : "");
	node_config_release(&cfg);
	return r == CAIRN_OK ? 0 : cli_fail("cairn-node", "backup", r);
}
