/*
 * node_config.c - node.conf: schema, defaults, cross-key checks, and the
 * policy decision for a task.  Each key's default is in its line of the
 * schema (witness_quorum -1: a majority of the nodes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/err.h"
#include "common/monitor.h"
#include "common/rho.h"
#include "keys/keys_federation.h"
#include "node/node_config.h"

#define C(f)	offsetof(struct node_config, f)
#define P(f)	offsetof(struct node_config, policy.f)

static const struct config_key schema[] = {
	{ "node", "name", CONFIG_STRING, C(name), true, 0, 0, 0, 0, NULL },
	{ "node", "data_dir", CONFIG_STRING, C(data_dir), true, 0, 0, 0, 0,
	    NULL },
	{ "node", "identity_key", CONFIG_STRING, C(identity_key), true, 0, 0, 0,
	    0, NULL },
	{ "node", "tls_key", CONFIG_STRING, C(tls_key), true, 0, 0, 0, 0,
	    NULL },
	{ "node", "tls_cert", CONFIG_STRING, C(tls_cert), true, 0, 0, 0, 0,
	    NULL },
	{ "node", "ca_cert", CONFIG_STRING, C(ca_cert), true, 0, 0, 0, 0,
	    NULL },
	{ "node", "federation", CONFIG_STRING, C(federation), true, 0, 0, 0, 0,
	    NULL },
	{ "coordinator", "address", CONFIG_STRING, C(coordinator), true, 0, 0,
	    0, 0, NULL },
	{ "coordinator", "poll_seconds", CONFIG_INT, C(poll_seconds), false, 1,
	    3600, 0, 0, "30" },
	{ "coordinator", "call_deadline_seconds", CONFIG_INT,
	    C(call_deadline_seconds), false, 1, 3600, 0, 0, "30" },
	{ "coordinator", "witness_quorum", CONFIG_INT, C(witness_quorum), false,
	    0, 1024, 0, 0, "-1" },
	{ "data", "cdr", CONFIG_STRLIST, C(cdr), false, 0, 0, 0, 0, NULL },
	{ "data", "cells", CONFIG_STRING, C(cells), false, 0, 0, 0, 0, NULL },
	{ "data", "geography", CONFIG_STRING, C(geography), true, 0, 0, 0, 0,
	    NULL },
	{ "data", "regions", CONFIG_STRING, C(regions), false, 0, 0, 0, 0,
	    NULL },
	{ "data", "records", CONFIG_STRLIST, C(records), false, 0, 0, 0, 0,
	    NULL },
	{ "data", "geography_file", CONFIG_STRING, C(geography_file), false, 0,
	    0, 0, 0, NULL },
	{ "data", "max_bad_fraction", CONFIG_DOUBLE, C(max_bad_fraction), false,
	    0, 0, 0.0, 1.0, "0.001" },
	{ "monitoring", "log_format", CONFIG_STRING, C(log_format), false, 0,
	    0, 0, 0, "text" },
	{ "monitoring", "log_level", CONFIG_STRING, C(log_level), false, 0,
	    0, 0, 0, NULL },
	{ "monitoring", "listen", CONFIG_STRING, C(mon_listen), false, 0, 0, 0,
	    0, NULL },
	{ "monitoring", "port_file", CONFIG_STRING, C(mon_port_file), false, 0,
	    0, 0, 0, NULL },
	{ "source", "uri", CONFIG_STRING, C(src_uri), false, 0, 0, 0, 0, NULL },
	{ "source", "tables", CONFIG_STRING, C(src_tables), false, 0, 0, 0, 0,
	    NULL },
	{ "source", "subscriber_column", CONFIG_STRING,
	    C(src_subscriber_column), false, 0, 0, 0, 0, NULL },
	{ "source", "time_column", CONFIG_STRING, C(src_time_column), false, 0,
	    0, 0, 0, NULL },
	{ "source", "cell_column", CONFIG_STRING, C(src_cell_column), false, 0,
	    0, 0, 0, NULL },
	{ "source", "cell_table", CONFIG_STRING, C(src_cell_table), false, 0,
	    0, 0, 0, NULL },
	{ "source", "cell_table_cell_column", CONFIG_STRING,
	    C(src_cell_table_cell), false, 0, 0, 0, 0, NULL },
	{ "source", "cell_table_region_column", CONFIG_STRING,
	    C(src_cell_table_region), false, 0, 0, 0, 0, NULL },
	{ "source", "region_column", CONFIG_STRING, C(src_region_column),
	    false, 0, 0, 0, 0, NULL },
	{ "source", "category_column", CONFIG_STRING, C(src_category_column),
	    false, 0, 0, 0, 0, NULL },
	{ "source", "shards", CONFIG_STRING, C(src_shards), false, 0, 0, 0, 0,
	    NULL },
	{ "source", "settings", CONFIG_STRING, C(src_settings), false, 0, 0, 0,
	    0, NULL },
	{ "source", "cluster", CONFIG_STRING, C(src_cluster), false, 0, 0, 0,
	    0, NULL },
	{ "source", "statement_timeout_seconds", CONFIG_INT, C(src_timeout_s),
	    false, 0, 604800, 0, 0, "3600" },
	{ "policy", "allow_kind", CONFIG_STRLIST, P(kinds), true, 0, 0, 0, 0,
	    NULL },
	{ "policy", "allow_analyst", CONFIG_STRLIST, P(analysts), true, 0, 0, 0,
	    0, NULL },
	{ "policy", "allow_geography", CONFIG_STRLIST, P(geographies), false, 0,
	    0, 0, 0, NULL },
	{ "policy", "budget_rho_per_month", CONFIG_RHO,
	    P(budget_rho_per_month_nano), true, 1, INT64_C(1000000000000000), 0,
	    0, NULL },
	{ "policy", "max_rho_per_query", CONFIG_RHO, P(max_rho_per_query_nano),
	    true, 1, INT64_C(1000000000000000), 0, 0, NULL },
	{ "policy", "min_participants", CONFIG_INT, P(min_participants), false,
	    2, 1024, 0, 0, "2" },
	{ "policy", "max_colluding", CONFIG_INT, P(max_colluding), false, 0,
	    1023, 0, 0, "0" },
	{ "policy", "max_months_per_query", CONFIG_INT, P(max_months_per_query),
	    false, 1, 240, 0, 0, "12" },
	{ "policy", "holders_per_person", CONFIG_INT, P(holders_per_person),
	    false, 1, 1024, 0, 0, "1" },
	{ "policy", "retention_days", CONFIG_INT, P(retention_days), false, 1,
	    3650, 0, 0, "7" },
	{ "policy", "data_months", CONFIG_STRLIST, P(data_months_text), false,
	    0, 0, 0, 0, NULL },
};
#define NSCHEMA	(sizeof(schema) / sizeof(schema[0]))

static const char *const kinds[] = {
	"presence", "residents", "od", "migration", "visitors",
	"population_by_category", "displacement",
};

/* Fill '*out' from [source] (uri set): CAIRN_OK or the bad option. */
static int
fill_source(const struct node_config *cfg, struct engine_source *out)
{
	const struct {
		const char	*key, *val;
	} kv[] = {
		{ "tables", cfg->src_tables },
		{ "subscriber_column", cfg->src_subscriber_column },
		{ "time_column", cfg->src_time_column },
		{ "cell_column", cfg->src_cell_column },
		{ "cell_table", cfg->src_cell_table },
		{ "cell_table_cell_column", cfg->src_cell_table_cell },
		{ "cell_table_region_column", cfg->src_cell_table_region },
		{ "region_column", cfg->src_region_column },
		{ "category_column", cfg->src_category_column },
		{ "shards", cfg->src_shards },
		{ "settings", cfg->src_settings },
		{ "cluster", cfg->src_cluster },
	};
	int r;

	engine_source_defaults(out);
	out->uri = cfg->src_uri;
	out->statement_timeout_s = cfg->src_timeout_s;
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
		if (kv[i].val != NULL &&
		    (r = engine_source_set(out, kv[i].key, kv[i].val)) !=
		    CAIRN_OK)
			return r;
	return engine_source_check(out);
}

bool
node_config_source(const struct node_config *cfg, struct engine_source *out)
{
	/* node_config_load() checked [source]: this cannot fail. */
	return cfg->src_uri != NULL && fill_source(cfg, out) == CAIRN_OK;
}

/* Check [source] and that there is something to read. */
static int
check_source(const char *path, const struct node_config *cfg)
{
	struct engine_source s;
	char d[512];
	int r;

	if (cfg->src_uri == NULL) {
		if (cfg->cdr.n == 0)
			return cairn_err(CAIRN_ERR_CONFIG, "%s: [data] needs "
			    "'cdr' (or a [source] with 'uri')", path);
		return CAIRN_OK;
	}
	if (cfg->cells == NULL && cfg->src_cell_table == NULL &&
	    cfg->src_region_column == NULL)
		return cairn_err(CAIRN_ERR_CONFIG, "%s: [source] needs [data] "
		    "'cells', or its own 'cell_table' or 'region_column'",
		    path);
	if ((r = fill_source(cfg, &s)) == CAIRN_OK)
		return CAIRN_OK;
	snprintf(d, sizeof(d), "%s", cairn_errdesc(r));
	return cairn_err(CAIRN_ERR_CONFIG, "%s: [source]: %s", path, d);
}

bool
node_kind_is_known(const char *kind)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kind, kinds[i]) == 0)
			return true;
	return false;
}

/*
 * Let a list key hold comma-separated values as well as repeat: split
 * every entry on commas, trimming blanks.  A line that lists no value is
 * an error.
 */
static int
split_list(struct config_strlist *l, const char *path, const char *key)
{
	struct config_strlist out = { NULL, 0 };
	char *s, *item, *save, **nv;
	int r;

	for (size_t i = 0; i < l->n; i++) {
		size_t before = out.n;

		s = l->v[i];
		for (item = config_list_next(s, &save); item != NULL;
		    item = config_list_next(NULL, &save)) {
			if (out.n >= CONFIG_MAX_LIST) {
				r = cairn_err(CAIRN_ERR_CONFIG, "%s: key '%s' "
				    "lists more than %d values", path, key,
				    CONFIG_MAX_LIST);
				goto fail;
			}
			nv = realloc(out.v, (out.n + 1) * sizeof(*nv));
			if (nv == NULL || (nv[out.n] = strdup(item)) == NULL) {
				if (nv != NULL)
					out.v = nv;
				r = cairn_err(CAIRN_ERR_NOMEM, "%s", path);
				goto fail;
			}
			out.v = nv;
			out.n++;
		}
		if (out.n == before) {
			r = cairn_err(CAIRN_ERR_CONFIG, "%s: key '%s' lists no "
			    "value", path, key);
			goto fail;
		}
	}
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	*l = out;
	return CAIRN_OK;
fail:
	for (size_t i = 0; i < out.n; i++)
		free(out.v[i]);
	free(out.v);
	return r;
}

/* "YYYY-MM" into YYYYMM; false when it is not one. */
static bool
parse_month(const char *s, size_t len, uint32_t *out)
{
	unsigned y, m;
	char buf[8];
	int n = 0;

	if (len != 7)
		return false;
	memcpy(buf, s, 7);
	buf[7] = '\0';
	if (sscanf(buf, "%4u-%2u%n", &y, &m, &n) != 2 || n != 7 ||
	    buf[4] != '-' || y < 1 || m < 1 || m > 12)
		return false;
	*out = y * 100 + m;
	return true;
}

static int
cmp_month(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * [policy] data_months: "YYYY-MM" or "YYYY-MM..YYYY-MM" items, into
 * p->data_months (YYYYMM, ascending, distinct).
 */
static int
parse_data_months(struct node_policy *p, const char *path)
{
	uint32_t *v = NULL;
	size_t n = 0;

	for (size_t i = 0; i < p->data_months_text.n; i++) {
		const char *s = p->data_months_text.v[i], *dots;
		uint32_t a, b;

		dots = strstr(s, "..");
		if (!(dots != NULL ? parse_month(s, (size_t)(dots - s), &a) &&
		    parse_month(dots + 2, strlen(dots + 2), &b) :
		    parse_month(s, strlen(s), &a) && (b = a, true)) || b < a) {
			free(v);
			return cairn_err(CAIRN_ERR_CONFIG, "%s: key "
			    "'data_months' in [policy]: '%s' is not YYYY-MM "
			    "or YYYY-MM..YYYY-MM (first <= last)", path, s);
		}
		for (uint32_t m = a; m <= b; m = m % 100 == 12 ?
		    (m / 100 + 1) * 100 + 1 : m + 1) {
			uint32_t *nv;

			if (n == NODE_MAX_DATA_MONTHS) {
				free(v);
				return cairn_err(CAIRN_ERR_CONFIG, "%s: key "
				    "'data_months' in [policy]: more than %d "
				    "months", path, NODE_MAX_DATA_MONTHS);
			}
			if ((nv = realloc(v, (n + 1) * sizeof(*v))) == NULL) {
				free(v);
				return cairn_err(CAIRN_ERR_NOMEM, "%s", path);
			}
			v = nv;
			v[n++] = m;
		}
	}
	if (n > 0) {
		size_t k = 1;

		qsort(v, n, sizeof(*v), cmp_month);
		for (size_t i = 1; i < n; i++)
			if (v[i] != v[k - 1])
				v[k++] = v[i];
		n = k;
	}
	p->data_months = v;
	p->n_data_months = n;
	return CAIRN_OK;
}

int
node_config_load(const char *path, struct node_config *cfg)
{
	struct node_policy *p = &cfg->policy;
	int r;

	memset(cfg, 0, sizeof(*cfg));
	if ((r = config_load(path, schema, NSCHEMA, cfg)) != CAIRN_OK)
		return r;
	if ((r = split_list(&p->kinds, path, "allow_kind")) != CAIRN_OK ||
	    (r = split_list(&p->analysts, path, "allow_analyst")) != CAIRN_OK ||
	    (r = split_list(&p->geographies, path, "allow_geography")) !=
	    CAIRN_OK ||
	    (r = split_list(&p->data_months_text, path, "data_months")) !=
	    CAIRN_OK || (r = parse_data_months(p, path)) != CAIRN_OK)
		return r;
	for (size_t i = 0; i < p->kinds.n; i++)
		if (!node_kind_is_known(p->kinds.v[i]))
			return cairn_err(CAIRN_ERR_CONFIG, "%s: key 'allow_kind' "
			    "in [policy]: unknown query kind '%s'", path,
			    p->kinds.v[i]);
	if ((cfg->cells == NULL) == (cfg->regions == NULL))
		return cairn_err(CAIRN_ERR_CONFIG, "%s: [data] needs exactly one "
		    "of 'cells' (a cell map, for CDRs) and 'regions' (a region "
		    "list, for region-level records)", path);
	if ((r = split_list(&cfg->records, path, "records")) != CAIRN_OK ||
	    (r = check_source(path, cfg)) != CAIRN_OK)
		return r;
	if (cfg->geography_file != NULL || cfg->regions != NULL) {
		const char *g = cfg->geography_file != NULL ?
		    cfg->geography_file : cfg->regions;

		if ((r = keys_file_sha256(g, cfg->geo_sha256)) != CAIRN_OK) {
			char d[512];

			snprintf(d, sizeof(d), "%s", cairn_errdesc(r));
			return cairn_err(CAIRN_ERR_CONFIG, "%s: key '%s' in "
			    "[data]: %s", path, cfg->geography_file != NULL ?
			    "geography_file" : "regions", d);
		}
		cfg->geo_copy = true;
	}
	if (p->max_rho_per_query_nano > p->budget_rho_per_month_nano) {
		char a[RHO_TEXT_MAX], b[RHO_TEXT_MAX];

		return cairn_err(CAIRN_ERR_CONFIG, "%s: key 'max_rho_per_query' "
		    "in [policy]: %s exceeds budget_rho_per_month %s", path,
		    rho_format(p->max_rho_per_query_nano, a),
		    rho_format(p->budget_rho_per_month_nano, b));
	}
	if (p->min_participants <= p->max_colluding)
		return cairn_err(CAIRN_ERR_CONFIG, "%s: key 'min_participants' "
		    "in [policy]: %lld must exceed max_colluding %lld", path,
		    (long long)p->min_participants,
		    (long long)p->max_colluding);
	return monitor_check_config(path, cfg->log_format, cfg->log_level,
	    "listen",
	    cfg->mon_listen, NULL, NULL);
}

/* What a serving node takes on SIGHUP (docs/operations.md). */
static const char *const reloadable[] = {
	"coordinator.poll_seconds", "monitoring.log_format",
	"monitoring.log_level", NULL
};

int
node_config_reload(struct node_config *cur, const struct node_config *next,
    char *applied, size_t alen, char *fixed, size_t flen)
{
	return config_reload(schema, NSCHEMA, cur, next, reloadable, applied,
	    alen, fixed, flen);
}

void
node_config_release(struct node_config *cfg)
{
	free(cfg->policy.data_months);
	cfg->policy.data_months = NULL;
	cfg->policy.n_data_months = 0;
	config_release(schema, NSCHEMA, cfg);
}

static bool
listed(const struct config_strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return true;
	return false;
}

int
node_policy_check(const struct node_policy *p,
    const struct node_policy_request *req)
{
	if (!listed(&p->analysts, req->analyst))
		return cairn_err(CAIRN_ERR_POLICY, "analyst '%s' is not allowed",
		    req->analyst);
	if (!listed(&p->kinds, req->kind))
		return cairn_err(CAIRN_ERR_POLICY, "query kind '%s' is not "
		    "allowed", req->kind);
	if (p->geographies.n > 0 && !listed(&p->geographies, req->geography))
		return cairn_err(CAIRN_ERR_POLICY, "geography '%s' is not "
		    "allowed", req->geography);
	if (req->rho_nano == 0 || req->rho_nano > p->max_rho_per_query_nano) {
		char a[RHO_TEXT_MAX], b[RHO_TEXT_MAX];

		return cairn_err(CAIRN_ERR_POLICY, "rho %s exceeds the most "
		    "one query may take (%s)", rho_format(req->rho_nano, a),
		    rho_format(p->max_rho_per_query_nano, b));
	}
	if (req->participants < (size_t)p->min_participants)
		return cairn_err(CAIRN_ERR_POLICY, "%zu participants, fewer "
		    "than the %lld required", req->participants,
		    (long long)p->min_participants);
	if (req->colluding < (size_t)p->max_colluding)
		return cairn_err(CAIRN_ERR_POLICY, "noise planned against %zu "
		    "colluding nodes, fewer than the %lld required",
		    req->colluding, (long long)p->max_colluding);
	if (req->colluding >= req->participants)
		return cairn_err(CAIRN_ERR_POLICY, "noise planned against %zu "
		    "colluding nodes of %zu participants leaves no honest "
		    "node", req->colluding, req->participants);
	if ((req->holders != 0 ? req->holders : 1) <
	    (uint64_t)p->holders_per_person)
		return cairn_err(CAIRN_ERR_POLICY, "query assumes a person is "
		    "at %llu holders, fewer than the %lld this node requires",
		    (unsigned long long)(req->holders != 0 ? req->holders : 1),
		    (long long)p->holders_per_person);
	if (req->months == 0 || req->months > (size_t)p->max_months_per_query)
		return cairn_err(CAIRN_ERR_POLICY, "query reads %zu data-months "
		    "(at most %lld allowed)", req->months,
		    (long long)p->max_months_per_query);
	return CAIRN_OK;
}

int
node_geography_check(const struct node_config *cfg, const char *name,
    const uint8_t *task_sha256, size_t task_len, const uint8_t *fed_pin)
{
	char mine[65], other[65];

	if (task_len != 0 && task_len != 32)
		return cairn_err(CAIRN_ERR_POLICY, "geography '%s': the task's "
		    "pin is %zu bytes, not a SHA-256", name, task_len);
	if (task_len == 32 && fed_pin != NULL &&
	    sodium_memcmp(task_sha256, fed_pin, 32) != 0) {
		sodium_bin2hex(mine, sizeof(mine), fed_pin, 32);
		sodium_bin2hex(other, sizeof(other), task_sha256, 32);
		return cairn_err(CAIRN_ERR_POLICY, "geography '%s': the "
		    "coordinator pins sha256 %s, this node's federation.conf "
		    "pins %s", name, other, mine);
	}
	if (!cfg->geo_copy)
		return CAIRN_OK;
	sodium_bin2hex(mine, sizeof(mine), cfg->geo_sha256, 32);
	if (task_len == 0 && fed_pin == NULL)
		return cairn_err(CAIRN_ERR_POLICY, "geography '%s' is pinned "
		    "nowhere (no hash in the task or in federation.conf); this "
		    "node's copy has sha256 %s", name, mine);
	if (task_len == 32 && sodium_memcmp(task_sha256, cfg->geo_sha256,
	    32) != 0) {
		sodium_bin2hex(other, sizeof(other), task_sha256, 32);
		return cairn_err(CAIRN_ERR_POLICY, "geography '%s': the "
		    "coordinator pins sha256 %s, this node's copy has %s",
		    name, other, mine);
	}
	if (fed_pin != NULL && sodium_memcmp(fed_pin, cfg->geo_sha256, 32) !=
	    0) {
		sodium_bin2hex(other, sizeof(other), fed_pin, 32);
		return cairn_err(CAIRN_ERR_POLICY, "geography '%s': "
		    "federation.conf pins sha256 %s, this node's copy has %s",
		    name, other, mine);
	}
	return CAIRN_OK;
}
