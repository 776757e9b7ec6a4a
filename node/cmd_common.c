/*
 * cmd_common.c - option handling shared by the cairn-node subcommands that
 * read CSV input: --cdr paths (a directory means its .csv and .csv.gz files),
 * --cells or --regions for the region domain, --max-bad-fraction and
 * --threads; --source URI with --source-option KEY=VALUE for a SQL
 * push-down source (node/engine/engine_source.h) in place of --cdr.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/err.h"
#include "node/cmd_int.h"

void
cmd_input_init(struct cmd_input *ci)
{
	memset(ci, 0, sizeof(*ci));
	ci->max_bad = 0.001;
	engine_source_defaults(&ci->src);
}

void
cmd_input_release(struct cmd_input *ci)
{
	free(ci->raw);
	engine_paths_free(ci->paths, ci->npaths);
	engine_cellmap_free(ci->cells);
	memset(ci, 0, sizeof(*ci));
}

int
cmd_input_add(struct cmd_input *ci, char *path)
{
	char **n;

	if (ci->nraw >= 100000)
		return cairn_err(CAIRN_ERR_TOOBIG, "too many --cdr paths");
	if ((n = realloc(ci->raw, (ci->nraw + 1) * sizeof(*n))) == NULL)
		return CAIRN_ERR_NOMEM;
	ci->raw = n;
	ci->raw[ci->nraw++] = path;
	return CAIRN_OK;
}

int
cmd_input_option(struct cmd_input *ci, int opt, char *arg)
{
	int64_t v;
	char *eq;

	switch (opt) {
	case OPT_SOURCE:
		ci->have_source = true;
		return engine_source_set(&ci->src, "uri", arg);
	case OPT_SOURCE_OPT:
		if ((eq = strchr(arg, '=')) == NULL)
			return cairn_err(CAIRN_ERR_ARG, "--source-option: '%s' "
			    "is not KEY=VALUE", arg);
		*eq = '\0';
		ci->source_opts = true;
		return engine_source_set(&ci->src, arg, eq + 1);
	case OPT_CDR:
		return cmd_input_add(ci, arg);
	case OPT_CELLS:
		ci->cells_path = arg;
		return CAIRN_OK;
	case OPT_REGIONS:
		ci->regions_path = arg;
		return CAIRN_OK;
	case OPT_MAXBAD:
		if (!config_parse_double(arg, &ci->max_bad) ||
		    ci->max_bad < 0 || ci->max_bad > 1)
			return cairn_err(CAIRN_ERR_ARG, "--max-bad-fraction: "
			    "'%s' is not a number in [0, 1]", arg);
		return CAIRN_OK;
	case OPT_THREADS:
		if (!config_parse_int(arg, &v) || v < 1 || v > 64)
			return cairn_err(CAIRN_ERR_ARG, "--threads: '%s' is "
			    "not an integer in [1, 64]", arg);
		ci->threads = (unsigned)v;
		return CAIRN_OK;
	}
	return CAIRN_ERR_INTERNAL;
}

int
cmd_input_next(struct cmd_input *ci, int argc, char **argv,
    const struct option *opts, int *opt)
{
	int c, r;

	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case ':':
			return cairn_err(CAIRN_ERR_ARG, "option '%s' needs a "
			    "value", argv[optind - 1]);
		case '?':
			return cairn_err(CAIRN_ERR_ARG, "bad option '%s' (see "
			    "--help)", argv[optind - 1]);
		case OPT_CDR:
		case OPT_CELLS:
		case OPT_REGIONS:
		case OPT_MAXBAD:
		case OPT_THREADS:
		case OPT_SOURCE:
		case OPT_SOURCE_OPT:
			if ((r = cmd_input_option(ci, c, optarg)) != CAIRN_OK)
				return r;
			break;
		default:
			*opt = c;
			return CAIRN_OK;
		}
	}
	for (; optind < argc; optind++)
		if ((r = cmd_input_add(ci, argv[optind])) != CAIRN_OK)
			return r;
	*opt = -1;
	return CAIRN_OK;
}

int
cmd_input_open(struct cmd_input *ci, bool need_files)
{
	int r;

	if (ci->cells_path != NULL && ci->regions_path != NULL)
		return cairn_err(CAIRN_ERR_ARG, "give --cells or --regions, "
		    "not both");
	if (ci->source_opts && !ci->have_source)
		return cairn_err(CAIRN_ERR_ARG, "--source-option needs "
		    "--source URI");
	if (ci->have_source) {
		if (ci->nraw > 0)
			return cairn_err(CAIRN_ERR_ARG, "--source excludes "
			    "--cdr");
		if ((r = engine_source_check(&ci->src)) != CAIRN_OK)
			return r;
		if (ci->cells_path == NULL && ((ci->src.cell_table == NULL &&
		    ci->src.region_column == NULL) ||
		    ci->regions_path == NULL))
			return cairn_err(CAIRN_ERR_ARG, "--source needs "
			    "--cells FILE (or --regions FILE with the "
			    "cell_table or region_column option)");
	} else if (need_files) {
		if (ci->nraw == 0)
			return cairn_err(CAIRN_ERR_ARG, "missing --cdr PATH");
		if (ci->cells_path == NULL && ci->regions_path == NULL)
			return cairn_err(CAIRN_ERR_ARG, "missing --cells FILE "
			    "(or --regions FILE for region-level input)");
	}
	if (ci->cells_path != NULL &&
	    (r = engine_cellmap_load(ci->cells_path, &ci->cells)) != CAIRN_OK)
		return r;
	if (ci->regions_path != NULL &&
	    (r = engine_regions_load(ci->regions_path, &ci->cells)) != CAIRN_OK)
		return r;
	if (ci->nraw > 0 && (r = engine_expand_paths(ci->raw, ci->nraw,
	    &ci->paths, &ci->npaths)) != CAIRN_OK)
		return r;
	ci->in.paths = ci->paths;
	ci->in.npaths = ci->npaths;
	ci->in.cells = ci->cells;
	ci->in.max_bad_fraction = ci->max_bad;
	ci->in.threads = ci->threads;
	return CAIRN_OK;
}
