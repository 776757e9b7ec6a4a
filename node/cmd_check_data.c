/*
 * cmd_check_data.c - `cairn-node check-data`: read the input and print the
 * bad-row report without running a query.  Exits 1 when a file would be
 * refused under --max-bad-fraction.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common/cli.h"
#include "common/err.h"
#include "node/cmd_int.h"

#define PROG	"cairn-node check-data"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: cairn-node check-data --cdr PATH... (--cells FILE | "
	    "--regions FILE)\n"
	    "           [--max-bad-fraction F] [--threads N]\n\n"
	    "Read the input files and report bad rows by reason, with the "
	    "first examples\nas file:line: reason.  Exits 1 when a file "
	    "would be refused.\n");
}

int
node_cmd_check_data(int argc, char **argv)
{
	static const struct option opts[] = {
		CMD_INPUT_OPTIONS,
		{ NULL, 0, NULL, 0 }
	};
	struct cmd_input ci;
	struct engine_report rep;
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
	}
	if ((r = cmd_input_open(&ci, true)) != CAIRN_OK ||
	    (r = engine_check_data(&ci.in, &rep)) != CAIRN_OK)
		goto fail;
	engine_report_print(&rep, stdout);
	rc = 0;
	for (size_t i = 0; i < rep.nfiles; i++)
		if (rep.files[i].refused) {
			fprintf(stderr, "%s: error: %s: %.4f%% of rows bad, "
			    "over the limit of %g%%\n", PROG, rep.files[i].path,
			    100.0 * (double)rep.files[i].nbad /
			    (double)rep.files[i].rows, 100.0 * ci.max_bad);
			rc = 1;
		}
	goto out;
fail:
	rc = cli_fail(PROG, "check-data", r);
out:
	engine_report_release(&rep);
	cmd_input_release(&ci);
	return rc;
}
