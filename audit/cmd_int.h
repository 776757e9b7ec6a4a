/*
 * cmd_int.h - the option handling shared by the `cairn audit` subcommands
 * (audit/cmd_audit.c, audit/verify_cmd.c).
 */
#ifndef CAIRN_AUDIT_CMD_INT_H
#define CAIRN_AUDIT_CMD_INT_H

#include <getopt.h>

/*
 * Read argv's options (every one of 'opts' takes a value, except "help"
 * with val 'h') into vals[i] for long option i; the last one given wins.
 * On -h/--help prints "usage: PROG USAGE", a blank line and HELP on
 * stdout and returns 0; on an unknown or valueless option or a stray
 * argument prints one error line naming it and returns 1; otherwise
 * returns -1 (go on).
 */
int	audit_cli_opts(int argc, char **argv, const struct option *opts,
	    const char **vals, const char *prog, const char *usage,
	    const char *help);

/* Print "PROG: error: usage: PROG USAGE" on stderr; returns 1. */
int	audit_cli_usage_fail(const char *prog, const char *usage);

#endif
