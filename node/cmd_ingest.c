/*
 * cmd_ingest.c - `cairn-node ingest`: add CSV drops to the binary store in
 * the node's data directory (node/engine/store.c); `cairn-node prune`:
 * remove the data-months a holder no longer keeps.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/cli.h"
#include "common/err.h"
#include "common/timeutil.h"
#include "node/cmd_int.h"

#define PROG	"cairn-node ingest"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: cairn-node ingest --cdr PATH... (--cells FILE | "
	    "--regions FILE) --data-dir DIR\n"
	    "           [--max-bad-fraction F] [--threads N] [--quiet]\n\n"
	    "Convert CSV drops into a segment of the binary store in DIR "
	    "(docs/data.md);\nqueries then run on it with "
	    "'cairn-node run-local --store DIR'.\n");
}

int
node_cmd_ingest(int argc, char **argv)
{
	static const struct option opts[] = {
		CMD_INPUT_OPTIONS,
		{ "data-dir", required_argument, NULL, OPT_DATADIR },
		{ "quiet", no_argument, NULL, OPT_QUIET },
		{ NULL, 0, NULL, 0 }
	};
	struct cmd_input ci;
	struct engine_report rep;
	struct engine_store *st = NULL;
	const char *dir = NULL;
	bool quiet = false;
	uint64_t subs, events;
	size_t segs;
	int c, r, rc = 1;

	cmd_input_init(&ci);
	memset(&rep, 0, sizeof(rep));
	optind = 1;
	opterr = 0;
	for (;;) {
		if ((r = cmd_input_next(&ci, argc, argv, opts, &c)) != CAIRN_OK)
			goto fail;
		if (c == -1)
			break;
		if (c == OPT_HELP) {
			usage(stdout);
			rc = 0;
			goto out;
		}
		if (c == OPT_DATADIR)
			dir = optarg;
		else if (c == OPT_QUIET)
			quiet = true;
	}
	if (dir == NULL) {
		r = cairn_err(CAIRN_ERR_ARG, "missing --data-dir DIR");
		goto fail;
	}
	if (ci.have_source) {
		r = cairn_err(CAIRN_ERR_ARG, "--source: a SQL source is "
		    "queried where it lives, not ingested (docs/sources.md)");
		goto fail;
	}
	if ((r = cmd_input_open(&ci, true)) != CAIRN_OK)
		goto fail;
	r = engine_store_ingest(dir, &ci.in, &rep);
	if (!quiet || r != CAIRN_OK)
		engine_report_print(&rep, stderr);
	if (r != CAIRN_OK || (r = engine_store_open(dir, &st)) != CAIRN_OK)
		goto fail;
	engine_store_stats(st, &subs, &events, &segs);
	if (!quiet)
		fprintf(stderr, "%s: store %s: %" PRIu64 " subjects, %" PRIu64
		    " events in %zu segment(s)\n", PROG, dir, subs, events,
		    segs);
	rc = 0;
	goto out;
fail:
	rc = cli_fail(PROG, "ingest", r);
out:
	engine_store_close(st);
	engine_report_release(&rep);
	cmd_input_release(&ci);
	return rc;
}

static void
prune_usage(FILE *f)
{
	fprintf(f,
	    "usage: cairn-node prune --data-dir DIR --before YYYY-MM "
	    "[--quiet]\n\n"
	    "Remove from the binary store in DIR every record of the UTC "
	    "data-months before\nYYYY-MM (docs/data.md).  Budgets already "
	    "spent on them stay in the ledger.\n");
}

/* "YYYY-MM" to the UTC minute its first day starts. */
static int
parse_month(const char *s, uint32_t *minute)
{
	char date[16];
	int64_t days;

	if (strlen(s) != 7 || s[4] != '-')
		return cairn_err(CAIRN_ERR_ARG, "--before '%s': not YYYY-MM", s);
	snprintf(date, sizeof(date), "%s-01", s);
	if (time_parse_date(date, &days) != CAIRN_OK || days < 0 ||
	    days * 1440 > (int64_t)UINT32_MAX)
		return cairn_err(CAIRN_ERR_ARG, "--before '%s': not a month "
		    "YYYY-MM from 1970-01", s);
	*minute = (uint32_t)(days * 1440);
	return CAIRN_OK;
}

int
node_cmd_prune(int argc, char **argv)
{
	enum { O_DIR = 1, O_BEFORE, O_QUIET, O_HELP };
	static const struct option opts[] = {
		{ "data-dir", required_argument, NULL, O_DIR },
		{ "before", required_argument, NULL, O_BEFORE },
		{ "quiet", no_argument, NULL, O_QUIET },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	const char *dir = NULL, *before = NULL;
	bool quiet = false;
	uint64_t removed, kept;
	uint32_t minute = 0;
	size_t rewritten;
	int c, r;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_DIR:
			dir = optarg;
			break;
		case O_BEFORE:
			before = optarg;
			break;
		case O_QUIET:
			quiet = true;
			break;
		case O_HELP:
			prune_usage(stdout);
			return 0;
		default:
			r = cairn_err(CAIRN_ERR_ARG, "bad option '%s'",
			    argv[optind - 1]);
			return cli_fail("cairn-node prune", "prune", r);
		}
	}
	if (optind < argc)
		r = cairn_err(CAIRN_ERR_ARG, "unexpected argument '%s'",
		    argv[optind]);
	else if (dir == NULL || before == NULL)
		r = cairn_err(CAIRN_ERR_ARG, "give --data-dir DIR and --before "
		    "YYYY-MM");
	else if ((r = parse_month(before, &minute)) == CAIRN_OK)
		r = engine_store_prune(dir, minute, &removed, &kept,
		    &rewritten);
	if (r != CAIRN_OK)
		return cli_fail("cairn-node prune", "prune", r);
	if (!quiet)
		fprintf(stderr, "cairn-node prune: store %s: %" PRIu64 " events "
		    "before %s removed, %" PRIu64 " kept; %zu segment(s) "
		    "rewritten\n", dir, removed, before, kept, rewritten);
	return 0;
}
