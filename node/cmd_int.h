/*
 * cmd_int.h - helpers shared by the cairn-node subcommands (node/cmd_*.c).
 */
#ifndef CAIRN_NODE_CMD_INT_H
#define CAIRN_NODE_CMD_INT_H

#include <getopt.h>
#include <stdbool.h>

#include "node/engine/engine.h"
#include "node/engine/engine_source.h"
#include "node/node.h"

enum {
	OPT_CDR = 256, OPT_CELLS, OPT_REGIONS, OPT_MAXBAD, OPT_THREADS,
	OPT_QUERY, OPT_NONOISE, OPT_RHO, OPT_FORMAT, OPT_OUTPUT, OPT_DENSE,
	OPT_STORE, OPT_DATADIR, OPT_QUIET, OPT_HELP, OPT_DELTA, OPT_SOURCE,
	OPT_SOURCE_OPT, OPT_EXPLAIN
};

/* The long options every input-reading command takes. */
#define CMD_INPUT_OPTIONS \
	{ "cdr", required_argument, NULL, OPT_CDR }, \
	{ "cells", required_argument, NULL, OPT_CELLS }, \
	{ "regions", required_argument, NULL, OPT_REGIONS }, \
	{ "max-bad-fraction", required_argument, NULL, OPT_MAXBAD }, \
	{ "threads", required_argument, NULL, OPT_THREADS }, \
	{ "source", required_argument, NULL, OPT_SOURCE }, \
	{ "source-option", required_argument, NULL, OPT_SOURCE_OPT }, \
	{ "help", no_argument, NULL, OPT_HELP }

struct cmd_input {
	char			**raw;		/* --cdr paths */
	size_t			  nraw;
	const char		 *cells_path, *regions_path;
	double			  max_bad;
	unsigned		  threads;
	char			**paths;	/* expanded */
	size_t			  npaths;
	struct engine_cellmap	 *cells;
	struct engine_input	  in;
	bool			  have_source;	/* --source given */
	bool			  source_opts;	/* --source-option given */
	struct engine_source	  src;	/* --source, --source-option */
};

void	cmd_input_init(struct cmd_input *ci);
void	cmd_input_release(struct cmd_input *ci);
/* Take a path given after --cdr without an option name. */
int	cmd_input_add(struct cmd_input *ci, char *path);
/* Handle one of the CMD_INPUT_OPTIONS (not OPT_HELP). */
int	cmd_input_option(struct cmd_input *ci, int opt, char *arg);
/*
 * Read argv's next option that is not one of the CMD_INPUT_OPTIONS (those
 * are handled here) into *opt, its value in optarg; at the end, take the
 * remaining arguments as --cdr paths and set *opt to -1.  The caller sets
 * optind = 1 and opterr = 0 before the first call and lists
 * CMD_INPUT_OPTIONS in 'opts'.  Returns CAIRN_ERR_ARG naming an unknown
 * option, a missing value or a bad input option value.
 */
int	cmd_input_next(struct cmd_input *ci, int argc, char **argv,
	    const struct option *opts, int *opt);
/*
 * Load the cell map or region list and expand the paths into ci->in;
 * with 'need_files', --cdr (or --source) and --cells/--regions are
 * required.  With --source, --cdr is refused and the source checked.
 */
int	cmd_input_open(struct cmd_input *ci, bool need_files);

#endif
