/*
 * cmd_query.c - `cairn query`: the statistics office's client
 * (docs/analyst.md, cairn-query(1)).  plan, submit, status, wait,
 * result, list, budget, derive.
 * Identity options come from the command line or `--config analyst.conf`
 * ([analyst] section, docs/config.md); the command line wins.
 *
 * This file parses the command line and dispatches; the subcommands are
 * in query_submit.c (build, sign, submit), query_status.c (status, wait,
 * list), query_result.c (fetch a release, verify it against the log,
 * write it out), query_plan.c (the planner), query_budget.c (budgets
 * from the log, read through query_log.c) and query_derive.c (outputs
 * derived from a released displacement result).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "common/config.h"
#include "common/err.h"
#include "protocol/proto_client.h"
#include "protocol/transport.h"
#include "query/query.h"
#include "query/query_int.h"

/* ------------------------------------------------------------ options */

const struct option query_opts[] = {
	{ "config", required_argument, NULL, 0 },
	{ "key", required_argument, NULL, 0 },
	{ "tls-key", required_argument, NULL, 0 },
	{ "tls-cert", required_argument, NULL, 0 },
	{ "ca", required_argument, NULL, 0 },
	{ "coordinator", required_argument, NULL, 0 },
	{ "federation", required_argument, NULL, 0 },
	{ "kind", required_argument, NULL, 0 },
	{ "start", required_argument, NULL, 0 },
	{ "end", required_argument, NULL, 0 },
	{ "bucket", required_argument, NULL, 0 },
	{ "k", required_argument, NULL, 0 },
	{ "utc-offset", required_argument, NULL, 0 },
	{ "night-start", required_argument, NULL, 0 },
	{ "night-end", required_argument, NULL, 0 },
	{ "baseline", required_argument, NULL, 0 },
	{ "comparison", required_argument, NULL, 0 },
	{ "spec", required_argument, NULL, 0 },
	{ "geography", required_argument, NULL, 0 },
	{ "rho", required_argument, NULL, 0 },
	{ "purpose", required_argument, NULL, 0 },
	{ "participants", required_argument, NULL, 0 },
	{ "colluding", required_argument, NULL, 0 },
	{ "holders", required_argument, NULL, 0 },
	{ "id", required_argument, NULL, 0 },
	{ "timeout", required_argument, NULL, 0 },
	{ "format", required_argument, NULL, 0 },
	{ "output", required_argument, NULL, 0 },
	{ "regions", required_argument, NULL, 0 },
	{ "categories", required_argument, NULL, 0 },
	{ "delta", required_argument, NULL, 0 },
	{ "input", required_argument, NULL, 0 },
	{ "normal", required_argument, NULL, 0 },
	{ "normal-days", required_argument, NULL, 0 },
	{ "allow-missing-months", no_argument, NULL, 0 },
	{ "outlines", required_argument, NULL, 0 },
	{ "min-nights", required_argument, NULL, 0 },
	{ "publish", no_argument, NULL, 0 },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* analyst.conf */
static const struct config_key aconf_schema[] = {
	{ "analyst", "identity_key", CONFIG_STRING,
	    offsetof(struct aconf, key), false, 0, 0, 0, 0, NULL },
	{ "analyst", "tls_key", CONFIG_STRING,
	    offsetof(struct aconf, tls_key), false, 0, 0, 0, 0, NULL },
	{ "analyst", "tls_cert", CONFIG_STRING,
	    offsetof(struct aconf, tls_cert), false, 0, 0, 0, 0, NULL },
	{ "analyst", "ca_cert", CONFIG_STRING,
	    offsetof(struct aconf, ca), false, 0, 0, 0, 0, NULL },
	{ "analyst", "coordinator", CONFIG_STRING,
	    offsetof(struct aconf, coord), false, 0, 0, 0, 0, NULL },
	{ "analyst", "federation", CONFIG_STRING,
	    offsetof(struct aconf, fed), false, 0, 0, 0, 0, NULL },
};
#define ACONF_N	(sizeof(aconf_schema) / sizeof(aconf_schema[0]))

/*
 * Parse argv: options anywhere, at most one positional argument.
 * Returns -1 to go on, else the exit code (0 after --help).
 */
static int
parse(struct ctx *c, int argc, char **argv, const char *usage)
{
	int ch, idx, r;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", query_opts, &idx)) != -1) {
		if (ch == 'h') {
			printf("usage: %s %s %s", PROG, c->sub, usage);
			return 0;
		}
		if (ch != 0) {
			fprintf(stderr, "%s: error: %s: unknown or incomplete "
			    "option '%s'\n", PROG, c->sub, argv[optind - 1]);
			return 1;
		}
		/* A flag without a value is set as "1". */
		c->o[idx] = query_opts[idx].has_arg == no_argument ? "1" :
		    optarg;
	}
	if (optind < argc)
		c->arg = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "%s: error: %s: unexpected argument '%s'\n",
		    PROG, c->sub, argv[optind]);
		return 1;
	}
	if (c->o[O_CONFIG] != NULL) {
		memset(&c->conf, 0, sizeof(c->conf));
		c->have_conf = true;
		if ((r = config_load(c->o[O_CONFIG], aconf_schema, ACONF_N,
		    &c->conf)) != CAIRN_OK)
			return cli_fail(PROG, "config", r);
		if (c->o[O_KEY] == NULL)
			c->o[O_KEY] = c->conf.key;
		if (c->o[O_TLS_KEY] == NULL)
			c->o[O_TLS_KEY] = c->conf.tls_key;
		if (c->o[O_TLS_CERT] == NULL)
			c->o[O_TLS_CERT] = c->conf.tls_cert;
		if (c->o[O_CA] == NULL)
			c->o[O_CA] = c->conf.ca;
		if (c->o[O_COORD] == NULL)
			c->o[O_COORD] = c->conf.coord;
		if (c->o[O_FED] == NULL)
			c->o[O_FED] = c->conf.fed;
	}
	return -1;
}

static void
ctx_release(struct ctx *c)
{
	if (c->have_conf)
		config_release(aconf_schema, ACONF_N, &c->conf);
}

int
query_connect(const struct ctx *c, struct transport_client **out)
{
	int r;

	if ((r = need(c, O_COORD)) != CAIRN_OK ||
	    (r = need(c, O_CA)) != CAIRN_OK ||
	    (r = need(c, O_TLS_CERT)) != CAIRN_OK ||
	    (r = need(c, O_TLS_KEY)) != CAIRN_OK)
		return r;
	return proto_client_open(c->o[O_COORD], c->o[O_CA], c->o[O_TLS_CERT],
	    c->o[O_TLS_KEY], c->o[O_FED], out);
}

int
query_parse_u32(const char *s, const char *what, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || s[0] < '0' || s[0] > '9' || v > max)
		return cairn_err(CAIRN_ERR_ARG, "--%s: '%s' is not an integer "
		    "in [0, %" PRIu32 "]", what, s, max);
	*out = (uint32_t)v;
	return CAIRN_OK;
}

int
query_parse_real(const char *s, const char *what, double *out)
{
	if (!config_parse_double(s, out))
		return cairn_err(CAIRN_ERR_ARG, "--%s: '%s' is not a number",
		    what, s);
	return CAIRN_OK;
}

/* Split "a,b,c" into a new array of new strings. */
int
query_split_list(const char *s, const char *what, size_t max, char ***out,
    size_t *n)
{
	char **v = NULL, *copy;
	size_t k = 0;
	int r = CAIRN_OK;

	if ((copy = strdup(s)) == NULL)
		return cairn_err(CAIRN_ERR_NOMEM, "%s", what);
	if ((v = calloc(max + 1, sizeof(*v))) == NULL) {
		free(copy);
		return cairn_err(CAIRN_ERR_NOMEM, "%s", what);
	}
	for (char *p = copy, *comma; ; p = comma + 1) {
		comma = strchr(p, ',');
		if (comma != NULL)
			*comma = '\0';
		if (k == max) {
			r = cairn_err(CAIRN_ERR_ARG, "--%s: more than %zu "
			    "names", what, max);
			break;
		}
		if (*p == '\0') {
			r = cairn_err(CAIRN_ERR_ARG, "--%s: empty name", what);
			break;
		}
		if ((v[k++] = strdup(p)) == NULL) {
			r = cairn_err(CAIRN_ERR_NOMEM, "%s", what);
			break;
		}
		if (comma == NULL)
			break;
	}
	free(copy);
	if (r != CAIRN_OK) {
		for (size_t i = 0; i < k; i++)
			free(v[i]);
		free(v);
		return r;
	}
	*out = v;
	*n = k;
	return CAIRN_OK;
}

void
query_free_list(char **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ------------------------------------------------------------- table */

struct sub {
	const char	*name;
	int		(*fn)(struct ctx *);
	const char	*usage;
};

static const struct sub subs[] = {
	{ "submit", query_cmd_submit, query_submit_usage },
	{ "status", query_cmd_status, query_status_usage },
	{ "wait", query_cmd_wait, query_wait_usage },
	{ "result", query_cmd_result, query_result_usage },
	{ "list", query_cmd_list, query_list_usage },
	{ "derive", query_cmd_derive, query_derive_usage },
	{ "plan", query_cmd_plan, query_plan_usage },
	{ "budget", query_cmd_budget, query_budget_usage },
};

static int
run(int argc, char **argv, const struct sub *s)
{
	struct ctx c;
	int r;

	memset(&c, 0, sizeof(c));
	c.sub = s->name;
	if ((r = parse(&c, argc, argv, s->usage)) >= 0) {
		ctx_release(&c);
		return r;
	}
	r = s->fn(&c);
	ctx_release(&c);
	return r;
}

static int
c_submit(int argc, char **argv)
{
	return run(argc, argv, &subs[0]);
}

static int
c_status(int argc, char **argv)
{
	return run(argc, argv, &subs[1]);
}

static int
c_wait(int argc, char **argv)
{
	return run(argc, argv, &subs[2]);
}

static int
c_result(int argc, char **argv)
{
	return run(argc, argv, &subs[3]);
}

static int
c_list(int argc, char **argv)
{
	return run(argc, argv, &subs[4]);
}

static int
c_derive(int argc, char **argv)
{
	return run(argc, argv, &subs[5]);
}

static int
c_plan(int argc, char **argv)
{
	return run(argc, argv, &subs[6]);
}

static int
c_budget(int argc, char **argv)
{
	return run(argc, argv, &subs[7]);
}

static const struct cli_cmd query_cmds[] = {
	{ "plan", c_plan, "print what a query would cost and give, before "
	    "anything is sent" },
	{ "budget", c_budget, "print each holder's budget, spent and left "
	    "per data-month, from the log" },
	{ "submit", c_submit, "build, sign and submit a query" },
	{ "status", c_status, "show a query's state" },
	{ "wait", c_wait, "wait until a query is released, refused or failed" },
	{ "result", c_result, "fetch a released result, labelled, with "
	    "intervals" },
	{ "list", c_list, "list the coordinator's queries" },
	{ "derive", c_derive, "share away, flows above normal: from a "
	    "released displacement result" },
};

int
cmd_query(int argc, char **argv)
{
	return cli_dispatch(PROG, query_cmds,
	    sizeof(query_cmds) / sizeof(query_cmds[0]), argc, argv);
}
