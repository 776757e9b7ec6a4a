/*
 * cli.c - subcommand dispatch and one-line failure reports.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "common/err.h"

bool
cli_is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0 ||
	    strcmp(arg, "help") == 0;
}

void
cli_usage(const char *prog, const struct cli_cmd *cmds, size_t n,
    bool to_stderr)
{
	FILE *f = to_stderr ? stderr : stdout;

	fprintf(f, "usage: %s <command> [options]\n\ncommands:\n", prog);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  %-16s %s\n", cmds[i].name, cmds[i].help);
	fprintf(f, "\n'%s <command> --help' describes a command.\n", prog);
}

int
cli_dispatch(const char *prog, const struct cli_cmd *cmds, size_t n,
    int argc, char **argv)
{
	if (argc < 2) {
		cli_usage(prog, cmds, n, true);
		return 1;
	}
	if (cli_is_help(argv[1])) {
		cli_usage(prog, cmds, n, false);
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "%s: error: unknown command '%s' (try '%s --help')\n",
	    prog, argv[1], prog);
	return 1;
}

int
cli_fail(const char *prog, const char *what, int code)
{
	fprintf(stderr, "%s: error: %s: %s\n", prog, what,
	    cairn_errdesc(code));
	return 1;
}

void
cli_format_number(double x, char out[static CLI_NUM_MAX])
{
	if (isnan(x)) {
		strcpy(out, "nan");
		return;
	}
	if (isinf(x)) {
		strcpy(out, x < 0 ? "-inf" : "inf");
		return;
	}
	/* The shortest precision that reads back exactly; 17 always does. */
	for (int p = 1; p <= 17; p++) {
		snprintf(out, CLI_NUM_MAX, "%.*g", p, x);
		if (strtod(out, NULL) == x)
			return;
	}
}
