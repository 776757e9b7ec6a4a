/*
 * cmd_run_local.c - `cairn-node run-local`: one query on local files (CSV
 * or the ingested store), printed as CSV or JSON.  Exact counts with
 * --no-noise; otherwise discrete Gaussian noise for --rho.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/cli.h"
#include "common/config.h"
#include "common/err.h"
#include "common/rho.h"
#include "node/cmd_int.h"
#include "node/noise.h"

#define PROG	"cairn-node run-local"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: cairn-node run-local --query Q.json (--cdr PATH... "
	    "--cells FILE | --cdr PATH... --regions FILE | --store DIR)\n"
	    "           [--no-noise | --rho R [--delta D]] [--format csv|json] "
	    "[--output FILE] [--dense]\n"
	    "           [--max-bad-fraction F] [--threads N] [--quiet]\n\n"
	    "Run one query (docs/queries.md) on local data and print the "
	    "result.\n\n"
	    "  --cdr PATH           CSV, .csv.gz or directory (repeatable)\n"
	    "  --cells FILE         cell map cell_id,region_id\n"
	    "  --regions FILE       region list region_id[,...]\n"
	    "  --store DIR          the store written by 'cairn-node ingest'\n"
	    "  --query FILE         the JSON query spec\n"
	    "  --no-noise           exact counts (local checks only)\n"
	    "  --rho R              zCDP budget of the noisy result\n"
	    "  --delta D            delta of the (epsilon, delta) shown "
	    "(default 1e-6)\n"
	    "  --format csv|json    output format (default csv)\n"
	    "  --output FILE        write there instead of stdout\n"
	    "  --dense              print zero cells too\n"
	    "  --max-bad-fraction F refuse a file with more bad rows "
	    "(default 0.001)\n"
	    "  --threads N          worker threads (default: CPUs, at most 8)\n"
	    "  --quiet              no summary or bad-row report on stderr\n");
}

/* run-local's options beyond the input's (struct cmd_input). */
struct rl_opts {
	enum engine_out_format	 fmt;
	const char		*qpath, *outpath, *store;
	bool			 nonoise, dense, quiet, have_rho, help;
	double			 delta;
	uint64_t		 rho_nano;
};

/* Read the command line into 'ci' and 'o'; a one-line error on failure. */
static int
rl_parse(int argc, char **argv, struct cmd_input *ci, struct rl_opts *o)
{
	static const struct option opts[] = {
		CMD_INPUT_OPTIONS,
		{ "query", required_argument, NULL, OPT_QUERY },
		{ "no-noise", no_argument, NULL, OPT_NONOISE },
		{ "rho", required_argument, NULL, OPT_RHO },
		{ "delta", required_argument, NULL, OPT_DELTA },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "output", required_argument, NULL, OPT_OUTPUT },
		{ "dense", no_argument, NULL, OPT_DENSE },
		{ "store", required_argument, NULL, OPT_STORE },
		{ "quiet", no_argument, NULL, OPT_QUIET },
		{ NULL, 0, NULL, 0 }
	};
	int c, r;

	optind = 1;
	opterr = 0;
	for (;;) {
		if ((r = cmd_input_next(ci, argc, argv, opts, &c)) != CAIRN_OK)
			return r;
		if (c == -1)
			break;
		switch (c) {
		case OPT_HELP:
			o->help = true;
			return CAIRN_OK;
		case OPT_QUERY:
			o->qpath = optarg;
			break;
		case OPT_NONOISE:
			o->nonoise = true;
			break;
		case OPT_RHO:
			/* Exact decimal text, as a query takes it. */
			if ((r = rho_parse_field("--rho", optarg,
			    &o->rho_nano)) != CAIRN_OK)
				return r;
			o->have_rho = true;
			break;
		case OPT_DELTA:
			if (!config_parse_double(optarg, &o->delta) ||
			    !(o->delta > 0 && o->delta < 1))
				return cairn_err(CAIRN_ERR_ARG, "--delta: '%s' "
				    "is not a number in (0, 1)", optarg);
			break;
		case OPT_FORMAT:
			if (strcmp(optarg, "json") == 0)
				o->fmt = ENGINE_OUT_JSON;
			else if (strcmp(optarg, "csv") != 0)
				return cairn_err(CAIRN_ERR_ARG, "--format: '%s' "
				    "is not csv or json", optarg);
			break;
		case OPT_OUTPUT:
			o->outpath = optarg;
			break;
		case OPT_DENSE:
			o->dense = true;
			break;
		case OPT_STORE:
			o->store = optarg;
			break;
		case OPT_QUIET:
			o->quiet = true;
			break;
		}
	}
	if (o->qpath == NULL)
		return cairn_err(CAIRN_ERR_ARG, "missing --query FILE");
	if (o->nonoise && o->have_rho)
		return cairn_err(CAIRN_ERR_ARG, "--rho and --no-noise exclude "
		    "each other");
	if (!o->nonoise && !o->have_rho)
		return cairn_err(CAIRN_ERR_ARG, "give --rho R for a noisy "
		    "result, or --no-noise");
	if (o->store != NULL && (ci->nraw > 0 || ci->cells_path != NULL ||
	    ci->regions_path != NULL))
		return cairn_err(CAIRN_ERR_ARG, "--store excludes --cdr, "
		    "--cells and --regions");
	return CAIRN_OK;
}

/*
 * Run 'q' over the CSV input of 'ci' into 'res', printing the rows read
 * (unless 'quiet') and the bad-row report (when there are bad rows, or
 * always on failure) to stderr.
 */
static int
rl_run_csv(struct cmd_input *ci, const struct qspec *q, bool quiet,
    struct engine_report *rep, struct engine_result *res)
{
	double t0;
	int r;

	if ((r = cmd_input_open(ci, true)) != CAIRN_OK)
		return r;
	t0 = now();
	r = engine_run_csv(q, &ci->in, rep, res);
	if (!quiet && r == CAIRN_OK) {
		uint64_t rows = 0, good = 0, outside = 0;
		char oc[96] = "";

		for (size_t i = 0; i < rep->nfiles; i++) {
			rows += rep->files[i].rows;
			good += rep->files[i].good;
			outside += rep->files[i].outside;
		}
		if (res->other_cat > 0)
			snprintf(oc, sizeof(oc), ", %" PRIu64 " under a "
			    "category outside the query's", res->other_cat);
		fprintf(stderr, "%s: %zu file(s), %" PRIu64 " rows, %" PRIu64
		    " good (%" PRIu64 " outside the window%s), %" PRIu64
		    " subjects, %.2f s\n", PROG, rep->nfiles, rows, good,
		    outside, oc, res->subjects, now() - t0);
	}
	if (!quiet || r != CAIRN_OK) {
		bool any = false;

		for (size_t i = 0; i < rep->nfiles; i++)
			any |= rep->files[i].nbad > 0;
		if (any)
			engine_report_print(rep, stderr);
	}
	return r;
}

int
node_cmd_run_local(int argc, char **argv)
{
	struct cmd_input ci;
	struct rl_opts o;
	struct qspec q;
	struct engine_report rep;
	struct engine_result res;
	struct engine_store *st = NULL;
	struct node_noise_plan plan;
	FILE *out = stdout;
	int r, rc = 1;

	cmd_input_init(&ci);
	memset(&o, 0, sizeof(o));
	o.fmt = ENGINE_OUT_CSV;
	o.delta = 1e-6;
	memset(&rep, 0, sizeof(rep));
	memset(&res, 0, sizeof(res));
	if ((r = rl_parse(argc, argv, &ci, &o)) != CAIRN_OK)
		goto fail;
	if (o.help) {
		usage(stdout);
		rc = 0;
		goto out;
	}
	if ((r = qspec_load_json(o.qpath, &q)) != CAIRN_OK)
		goto fail;
	if (o.store != NULL) {
		if ((r = engine_store_open(o.store, &st)) != CAIRN_OK ||
		    (r = engine_run_store(&q, st, ci.threads, &res)) !=
		    CAIRN_OK)
			goto fail;
	} else if ((r = rl_run_csv(&ci, &q, o.quiet, &rep, &res)) !=
	    CAIRN_OK)
		goto fail;
	if (o.outpath != NULL && (out = fopen(o.outpath, "w")) == NULL) {
		r = cairn_err(CAIRN_ERR_IO, "%s: cannot create", o.outpath);
		goto fail;
	}
	if (o.nonoise)
		r = engine_result_write(&res, o.fmt, o.dense, NULL, out);
	else
		r = node_noise_write(&res, o.rho_nano, o.delta, o.fmt, out,
		    &plan);
	if (r != CAIRN_OK)
		goto fail;
	if (!o.nonoise && !o.quiet)
		fprintf(stderr, "%s: discrete Gaussian noise, variance %" PRIu64
		    " per cell (sensitivity^2 %" PRIu64 "): rho %.6g, (epsilon "
		    "%.6g, delta %g); 95%% interval +-%" PRIu64 "\n", PROG,
		    plan.sigma2, plan.delta2_sq, plan.rho, plan.epsilon,
		    plan.delta, plan.ci95);
	if (o.outpath != NULL) {
		r = fclose(out) == 0 ? CAIRN_OK : cairn_err(CAIRN_ERR_IO,
		    "%s: write failed", o.outpath);
		out = stdout;
		if (r != CAIRN_OK)
			goto fail;
	}
	rc = 0;
	goto out;
fail:
	rc = cli_fail(PROG, "run-local", r);
out:
	if (out != stdout)
		fclose(out);
	engine_store_close(st);
	engine_result_release(&res);
	engine_report_release(&rep);
	cmd_input_release(&ci);
	return rc;
}
