/*
 * cmd_run_local.c - `cairn-node run-local`: one query on local files (CSV
 * or the ingested store, or a SQL push-down source), printed as CSV or
 * JSON.  Exact counts with --no-noise; otherwise discrete Gaussian noise
 * for --rho.  --explain prints a source's statement instead.
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
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

/* Set by SIGINT/SIGTERM while a source's statement runs: cancel it. */
static volatile sig_atomic_t rl_stop;

static void
rl_on_signal(int sig)
{
	(void)sig;
	rl_stop = 1;
}

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
	    "--cells FILE | --cdr PATH... --regions FILE | --store DIR |\n"
	    "           --source URI [--source-option KEY=VALUE]... --cells "
	    "FILE [--explain])\n"
	    "           [--no-noise | --rho R [--delta D]] [--format csv|json] "
	    "[--output FILE] [--dense]\n"
	    "           [--max-bad-fraction F] [--threads N] [--quiet]\n\n"
	    "Run one query (docs/queries.md) on local data and print the "
	    "result.\n\n"
	    "  --cdr PATH           CSV, .csv.gz or directory (repeatable)\n"
	    "  --cells FILE         cell map cell_id,region_id\n"
	    "  --regions FILE       region list region_id[,...]\n"
	    "  --store DIR          the store written by 'cairn-node ingest'\n"
	    "  --source URI         a SQL source: postgresql://... (libpq "
	    "URI) or\n"
	    "                       clickhouse://[USER[:PASSWORD]@]HOST:PORT/"
	    "DATABASE\n"
	    "  --source-option K=V  tables, subscriber_column, time_column, "
	    "cell_column,\n"
	    "                       cell_table, statement_timeout_seconds, "
	    "shards, ... "
	    "(docs/sources.md)\n"
	    "  --explain            print the source's SQL statement and its "
	    "parameters\n"
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
	bool			 explain;
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
		{ "explain", no_argument, NULL, OPT_EXPLAIN },
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
		case OPT_EXPLAIN:
			o->explain = true;
			break;
		}
	}
	if (o->qpath == NULL)
		return cairn_err(CAIRN_ERR_ARG, "missing --query FILE");
	if (o->explain && !ci->have_source)
		return cairn_err(CAIRN_ERR_ARG, "--explain needs --source");
	if (o->explain)
		return CAIRN_OK;
	if (o->nonoise && o->have_rho)
		return cairn_err(CAIRN_ERR_ARG, "--rho and --no-noise exclude "
		    "each other");
	if (!o->nonoise && !o->have_rho)
		return cairn_err(CAIRN_ERR_ARG, "give --rho R for a noisy "
		    "result, or --no-noise");
	if (o->store != NULL && (ci->nraw > 0 || ci->cells_path != NULL ||
	    ci->regions_path != NULL || ci->have_source))
		return cairn_err(CAIRN_ERR_ARG, "--store excludes --cdr, "
		    "--source, --cells and --regions");
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

/*
 * Run 'q' over the SQL source of 'ci' (or print its statement with
 * 'explain': *done is then set).  SIGINT and SIGTERM cancel the statement.
 */
static int
rl_run_source(struct cmd_input *ci, const struct qspec *q,
    const struct rl_opts *o, struct engine_result *res, bool *done)
{
	struct engine_sql sql;
	struct sigaction sa, oint, oterm;
	double t0;
	int r;

	if ((r = cmd_input_open(ci, true)) != CAIRN_OK)
		return r;
	if (o->explain) {
		if ((r = engine_sql_build(q, &ci->src, ci->cells, &sql)) !=
		    CAIRN_OK)
			return r;
		engine_sql_print(&sql, stdout);
		engine_sql_release(&sql);
		*done = true;
		return fflush(stdout) == 0 ? CAIRN_OK : CAIRN_ERR_IO;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = rl_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &oint);
	sigaction(SIGTERM, &sa, &oterm);
	t0 = now();
	r = engine_run_source(q, &ci->src, ci->cells, &rl_stop, res);
	sigaction(SIGINT, &oint, NULL);
	sigaction(SIGTERM, &oterm, NULL);
	if (r == CAIRN_OK && !o->quiet) {
		char oc[96] = "";

		if (res->other_cat > 0)
			snprintf(oc, sizeof(oc), ", %" PRIu64 " under a "
			    "category outside the query's", res->other_cat);
		fprintf(stderr, "%s: source %zu table(s), %zu non-zero cells "
		    "read back%s, %.2f s\n", PROG, ci->src.ntables, res->nnz,
		    oc, now() - t0);
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
	bool done = false;
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
	if (ci.have_source) {
		if ((r = rl_run_source(&ci, &q, &o, &res, &done)) != CAIRN_OK)
			goto fail;
		if (done) {
			rc = 0;
			goto out;
		}
	} else if (o.store != NULL) {
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
