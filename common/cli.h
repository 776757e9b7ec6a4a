/*
 * cli.h - subcommand tables for cairn's programs.
 *
 * Each program (and each command with subcommands, like `cairn privacy`)
 * keeps a table of {name, fn, help}; cli_dispatch() picks the entry named
 * by argv[1] and calls it with argv shifted by one, so argv[0] of the
 * callee is its own name.  "--help", "-h" and "help" print the table.
 */
#ifndef CAIRN_CLI_H
#define CAIRN_CLI_H

#include <stdbool.h>
#include <stddef.h>

struct cli_cmd {
	const char	*name;
	int		(*fn)(int argc, char **argv);	/* returns exit code */
	const char	*help;				/* one line */
};

/*
 * Run the entry of 'cmds' named by argv[1].  'prog' is the full command
 * ("cairn privacy") used in messages.  Returns the command's exit code,
 * 0 after printing help, or 1 (usage on stderr) for a missing or unknown
 * command.
 */
int	cli_dispatch(const char *prog, const struct cli_cmd *cmds, size_t n,
	    int argc, char **argv);

/* Print "usage: PROG <command> ..." and the table to 'to_stderr' or stdout. */
void	cli_usage(const char *prog, const struct cli_cmd *cmds, size_t n,
	    bool to_stderr);

/* True when 'arg' asks for help ("-h", "--help", "help"). */
bool	cli_is_help(const char *arg);

/*
 * Report a failed command to the user as one line on stderr:
 * "PROG: error: WHAT: DETAIL" where DETAIL is cairn_errdesc(code).
 * Returns 1, the exit code for failures.
 */
int	cli_fail(const char *prog, const char *what, int code);

/* Room for cli_format_number()'s longest text, NUL included. */
#define CLI_NUM_MAX	32

/*
 * 'x' as people write it: the shortest "%.Ng" (N from 1 to 17) that
 * reads back as exactly 'x' (1e-06, not 9.9999999999999995e-07; 0.1, not
 * 0.10000000000000001), into 'out'.  Non-finite values print as "nan",
 * "inf" or "-inf".  Every program that prints a real for people or for
 * JSON uses it.
 */
void	cli_format_number(double x, char out[static CLI_NUM_MAX]);

#endif
