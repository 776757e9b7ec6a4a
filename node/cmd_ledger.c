/*
 * cmd_ledger.c - `cairn-node ledger show|export -c node.conf`: the
 * holder's view of its privacy ledger, and the JSON lines an auditor
 * matches against the transparency log (docs/node.md).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/cli.h"
#include "common/err.h"
#include "common/rho.h"
#include "common/timeutil.h"
#include "node/daemon.h"

#define MAX_TRACKED_MONTHS	100000

/* Running spend per data-month while walking charges in id order. */
struct month_sums {
	int32_t		*month;
	int64_t		*sum;
	size_t		 n, cap;
};

static int
sums_add(struct month_sums *s, int32_t month, int64_t rho, int64_t *total)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->month[i] == month)
			break;
	if (i == s->n) {
		if (s->n == s->cap) {
			size_t nc = s->cap ? s->cap * 2 : 16;
			int32_t *m;
			int64_t *v;

			if (nc > MAX_TRACKED_MONTHS)
				return cairn_err(CAIRN_ERR_TOOBIG, "ledger "
				    "spans over %d data-months",
				    MAX_TRACKED_MONTHS);
			if ((m = realloc(s->month, nc * sizeof(*m))) == NULL)
				return cairn_err(CAIRN_ERR_NOMEM, "ledger");
			s->month = m;
			if ((v = realloc(s->sum, nc * sizeof(*v))) == NULL)
				return cairn_err(CAIRN_ERR_NOMEM, "ledger");
			s->sum = v;
			s->cap = nc;
		}
		s->month[i] = month;
		s->sum[i] = 0;
		s->n++;
	}
	s->sum[i] += rho;
	*total = s->sum[i];
	return CAIRN_OK;
}

static void
sums_free(struct month_sums *s)
{
	free(s->month);
	free(s->sum);
}

static void
month_str(int32_t m, char buf[static 16])
{
	snprintf(buf, 16, "%04d-%02d", (int)(m / 12), (int)(m % 12) + 1);
}

static void
hex(const uint8_t *b, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * n] = '\0';
}

struct walk {
	FILE			*f;
	const char		*node;
	struct month_sums	 sums;
	int			 err;
};

static int
print_one(const struct node_ledger_entry *e, void *arg)
{
	struct walk *w = arg;
	char qh[65], mn[16], logi[24], rt[RHO_TEXT_MAX];
	int64_t total;
	int r;

	hex(e->query_hash, 32, qh);
	qh[12] = '\0';
	if (e->log_index >= 0)
		snprintf(logi, sizeof(logi), "%" PRId64, e->log_index);
	else
		snprintf(logi, sizeof(logi), "-");
	fprintf(w->f, "%-5" PRId64 " %-24.24s %-12s %11s %-8s %-6s ", e->id,
	    e->query_id != NULL && e->query_id[0] != '\0' ? e->query_id : "-",
	    qh, rho_format((uint64_t)e->rho_nano, rt), logi,
	    e->vector_kept ? "open" : "closed");
	for (size_t i = 0; i < e->nmonths; i++) {
		if ((r = sums_add(&w->sums, e->months[i],
		    e->month_rho_nano[i], &total)) != CAIRN_OK)
			return r;
		month_str(e->months[i], mn);
		fprintf(w->f, "%s%s=%s", i ? "," : "", mn,
		    rho_format((uint64_t)total, rt));
	}
	fprintf(w->f, "  %s\n", e->label != NULL ? e->label : "");
	return 0;
}

int
node_ledger_print(struct node_ledger *l, FILE *f)
{
	struct walk w;
	int r;

	memset(&w, 0, sizeof(w));
	w.f = f;
	fprintf(f, "%-5s %-24s %-12s %11s %-8s %-6s %s\n", "ID", "QUERY",
	    "HASH", "RHO", "LOG", "ROUND", "CUMULATIVE PER DATA-MONTH  LABEL");
	r = node_ledger_foreach(l, print_one, &w);
	sums_free(&w.sums);
	return r;
}

static int
export_one(const struct node_ledger_entry *e, void *arg)
{
	struct walk *w = arg;
	json_t *o, *months, *m;
	char qh[65], ph[65], mn[16], created[TIME_ISO_LEN];
	int64_t total;
	char *line;
	int r;

	hex(e->query_hash, 32, qh);
	hex(e->pset_hash, 32, ph);
	if (!time_format_iso(e->created, created))
		snprintf(created, sizeof(created), "?");
	if ((months = json_array()) == NULL)
		return cairn_err(CAIRN_ERR_NOMEM, "export");
	for (size_t i = 0; i < e->nmonths; i++) {
		if ((r = sums_add(&w->sums, e->months[i],
		    e->month_rho_nano[i], &total)) != CAIRN_OK) {
			json_decref(months);
			return r;
		}
		month_str(e->months[i], mn);
		/* The decimal for people, the exact count beside it. */
		m = json_pack("{s:s, s:f, s:I, s:f, s:I}", "month", mn,
		    "rho", rho_to_double((uint64_t)e->month_rho_nano[i]),
		    "rho_nano", (json_int_t)e->month_rho_nano[i],
		    "cumulative_rho", rho_to_double((uint64_t)total),
		    "cumulative_rho_nano", (json_int_t)total);
		if (m == NULL || json_array_append_new(months, m) != 0) {
			json_decref(months);
			return cairn_err(CAIRN_ERR_NOMEM, "export");
		}
	}
	o = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:o, s:f, s:I, s:f, "
	    "s:I, s:I, s:o, s:b, s:s}",
	    "node", w->node, "id", (json_int_t)e->id,
	    "query_id", e->query_id != NULL ? e->query_id : "",
	    "query_hash", qh, "participants_hash", ph, "created", created,
	    "months", months,
	    "rho", rho_to_double((uint64_t)e->rho_nano),
	    "rho_nano", (json_int_t)e->rho_nano,
	    "budget_rho_per_month", rho_to_double((uint64_t)e->budget_nano),
	    "budget_rho_per_month_nano", (json_int_t)e->budget_nano,
	    "noise_variance", (json_int_t)e->noise_variance,
	    "log_index", e->log_index >= 0 ?
	    json_integer((json_int_t)e->log_index) : json_null(),
	    "open", e->vector_kept ? 1 : 0,
	    "label", e->label != NULL ? e->label : "");
	if (o == NULL)
		return cairn_err(CAIRN_ERR_NOMEM, "export");
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (line == NULL)
		return cairn_err(CAIRN_ERR_NOMEM, "export");
	fprintf(w->f, "%s\n", line);
	free(line);
	return 0;
}

int
node_ledger_export(struct node_ledger *l, const char *node, FILE *f)
{
	struct walk w;
	int r;

	memset(&w, 0, sizeof(w));
	w.f = f;
	w.node = node;
	r = node_ledger_foreach(l, export_one, &w);
	sums_free(&w.sums);
	return r;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: cairn-node ledger show -c node.conf\n"
	    "       cairn-node ledger export -c node.conf\n"
	    "  show    one line per charge: id, query id and hash, rho, log "
	    "index,\n"
	    "          round open or closed, cumulative rho per data-month\n"
	    "  export  one JSON object per charge and line (docs/node.md), "
	    "for\n"
	    "          cairn audit verify --ledger\n");
}

int
node_cmd_ledger(int argc, char **argv)
{
	struct node_config cfg;
	struct node_ledger *l = NULL;
	const char *conf = NULL, *sub;
	char path[4096];
	int c, r;
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};

	if (argc < 2 || cli_is_help(argv[1])) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	sub = argv[1];
	if (strcmp(sub, "show") != 0 && strcmp(sub, "export") != 0) {
		cairn_err(CAIRN_ERR_ARG, "unknown ledger command '%s' (show, "
		    "export)", sub);
		return cli_fail("cairn-node", "ledger", CAIRN_ERR_ARG);
	}
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "c:h", lo, NULL)) != -1) {
		switch (c) {
		case 'c':
			conf = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (conf == NULL) {
		cairn_err(CAIRN_ERR_ARG, "-c node.conf is required");
		return cli_fail("cairn-node", "ledger", CAIRN_ERR_ARG);
	}
	if ((r = node_config_load(conf, &cfg)) != CAIRN_OK) {
		node_config_release(&cfg);
		return cli_fail("cairn-node", "ledger", r);
	}
	snprintf(path, sizeof(path), "%s/%s", cfg.data_dir, NODE_LEDGER_FILE);
	if ((r = node_ledger_open(path, &l)) == CAIRN_OK)
		r = strcmp(sub, "show") == 0 ? node_ledger_print(l, stdout) :
		    node_ledger_export(l, cfg.name, stdout);
	node_ledger_free(l);
	node_config_release(&cfg);
	if (r != CAIRN_OK)
		return cli_fail("cairn-node", "ledger", r);
	return fflush(stdout) == 0 ? 0 : 1;
}
