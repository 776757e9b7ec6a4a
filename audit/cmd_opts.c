/*
 * cmd_opts.c - option handling shared by the `cairn audit` subcommands.
 */
#include <getopt.h>
#include <stdio.h>

#include "audit/cmd_int.h"

int
audit_cli_usage_fail(const char *prog, const char *usage)
{
	fprintf(stderr, "%s: error: usage: %s %s\n", prog, prog, usage);
	return 1;
}

int
audit_cli_opts(int argc, char **argv, const struct option *opts,
    const char **vals, const char *prog, const char *usage, const char *help)
{
	int c, idx;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, &idx)) != -1) {
		if (c == 'h') {
			printf("usage: %s %s\n\n%s", prog, usage, help);
			return 0;
		}
		if (c != 0) {
			fprintf(stderr, "%s: error: unknown or incomplete "
			    "option '%s'\n", prog, argv[optind - 1]);
			return 1;
		}
		vals[idx] = optarg;
	}
	if (optind != argc) {
		fprintf(stderr, "%s: error: unexpected argument '%s'\n", prog,
		    argv[optind]);
		return 1;
	}
	return -1;
}
