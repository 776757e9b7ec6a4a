/*
 * cmd_ingest.c - `cairn-node ingest`: add CSV drops to the binary store in
 * the node's data directory (node/engine/store.c).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/cli.h"
#include "common/err.h"
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
