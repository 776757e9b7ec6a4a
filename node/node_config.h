/*
 * node_config.h - a holder's node.conf and the policy it sets.
 *
 * The file says who the node is (its keys and data directory), where the
 * coordinator is, which data it serves, and its policy: which analysts may
 * query it, which kinds and geographies, how much privacy budget per
 * data-month, the most ρ one query may take, how many participants a query
 * needs at least, and against how many colluding nodes the noise must
 * hold.  Every key is documented in docs/config.md.
 */
#ifndef CAIRN_NODE_CONFIG_H
#define CAIRN_NODE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "node/engine/engine_source.h"

struct node_policy {
	struct config_strlist	 kinds;		/* allow_kind */
	struct config_strlist	 analysts;	/* allow_analyst */
	struct config_strlist	 geographies;	/* allow_geography */
	uint64_t		 budget_rho_per_month_nano;
	uint64_t		 max_rho_per_query_nano;
	int64_t			 min_participants;
	int64_t			 max_colluding;
	int64_t			 max_months_per_query;
	int64_t			 holders_per_person;	/* h at least */
	int64_t			 retention_days;	/* keep open rounds */
	/* data_months: the UTC data-months the node holds, published in
	   its POLICY (YYYYMM, ascending, distinct; none: undeclared) */
	struct config_strlist	 data_months_text;
	uint32_t		*data_months;
	size_t			 n_data_months;
};

/* Most data-months [policy] data_months may list (100 years). */
#define NODE_MAX_DATA_MONTHS	1200

struct node_config {
	/* [node] */
	char		*name;
	char		*data_dir;
	char		*identity_key;
	char		*tls_key;
	char		*tls_cert;
	char		*ca_cert;
	char		*federation;
	/* [coordinator] */
	char		*coordinator;
	int64_t		 poll_seconds;
	int64_t		 call_deadline_seconds;
	int64_t		 witness_quorum;	/* -1 (default): a majority
						 * of the federation's nodes */
	/* [data] */
	struct config_strlist	 cdr;
	char		*cells;
	char		*geography;
	char		*regions;	/* optional region list */
	/* region-level records (entity_id,timestamp,region_id,category)
	   read for population_by_category beside the CDRs */
	struct config_strlist	 records;
	/* the node's copy of the geography's region file, pinned by hash
	   in federation.conf; defaults to 'regions' */
	char		*geography_file;
	bool		 geo_copy;	/* geo_sha256 is set */
	uint8_t		 geo_sha256[32];
	double		 max_bad_fraction;
	/* [monitoring] (docs/operations.md) */
	char		*log_format;	/* text | json */
	char		*log_level;	/* NULL: CAIRN_LOG or info */
	char		*mon_listen;	/* HTTP /metrics, /healthz, /readyz;
					   NULL: off (no port opened) */
	char		*mon_port_file;
	/* [source]: a SQL push-down source instead of the cdr files or the
	   store (docs/sources.md); NULL uri: none */
	char		*src_uri;
	char		*src_tables;
	char		*src_subscriber_column;
	char		*src_time_column;
	char		*src_cell_column;
	char		*src_cell_table;
	char		*src_cell_table_cell;
	char		*src_cell_table_region;
	char		*src_region_column;
	char		*src_category_column;
	char		*src_shards;	/* ClickHouse: HOST:PORT, ... */
	char		*src_settings;	/* ClickHouse: name=value, ... */
	char		*src_cluster;	/* ClickHouse: the shards' cluster */
	int64_t		 src_timeout_s;
	/* not from the file: set by `cairn-node serve`, cancels a source's
	   statement when the node stops (may be NULL) */
	const volatile sig_atomic_t *stop;
	/* [policy] */
	struct node_policy	 policy;
};

/*
 * Read and check 'path' into 'cfg' (defaults first, then the file).
 * Beyond the schema it checks that list values name known kinds, that
 * max_rho_per_query does not exceed budget_rho_per_month, and that
 * min_participants exceeds max_colluding.  Returns CAIRN_OK or
 * CAIRN_ERR_CONFIG/IO with the detail naming file:line or file and key.
 * Release 'cfg' with node_config_release() in every case.
 */
int	node_config_load(const char *path, struct node_config *cfg)
	    __attribute__((warn_unused_result));
void	node_config_release(struct node_config *cfg);

/*
 * Take into 'cur' (the configuration the node serves with) what 'next'
 * (node.conf loaded again) changed and can change while it serves:
 * [coordinator] poll_seconds, [monitoring] log_format and log_level.
 * 'applied' and 'fixed' get the changed keys taken and those that need a
 * restart (config_reload(): [policy] among them, as the policy in force
 * is the one published to the log at start).  Returns CAIRN_OK or
 * CAIRN_ERR_NOMEM ('cur' unchanged).
 */
int	node_config_reload(struct node_config *cur,
	    const struct node_config *next, char *applied, size_t alen,
	    char *fixed, size_t flen) __attribute__((warn_unused_result));

/*
 * The SQL source of [source] into '*out' (its strings borrowed from
 * 'cfg'): true when node.conf has one.  node_config_load() checked it.
 */
bool	node_config_source(const struct node_config *cfg,
	    struct engine_source *out);

/* True when 'kind' is one of the query kinds cairn computes. */
bool	node_kind_is_known(const char *kind);

/* What a task asks of the node, for node_policy_check(). */
struct node_policy_request {
	const char	*kind;
	const char	*analyst;
	const char	*geography;
	uint64_t	 rho_nano;
	size_t		 participants;
	size_t		 colluding;	/* the query's collusion assumption */
	size_t		 months;	/* data-months the query reads */
	uint64_t	 holders;	/* the query's h (0 is read as 1) */
};

/*
 * Decide whether the policy allows 'req' (budget is the ledger's
 * business, checked when charging).  Returns CAIRN_OK, or CAIRN_ERR_POLICY
 * with a detail that is safe to send back as the signed refusal reason.
 */
int	node_policy_check(const struct node_policy *p,
	    const struct node_policy_request *req)
	    __attribute__((warn_unused_result));

/*
 * Check the geography 'name' of a task against this node: the task's pin
 * 'task_sha256' ('task_len' bytes, from the coordinator; 0 when absent),
 * the pin in the node's federation.conf 'fed_pin' (NULL when absent) and
 * the hash of the node's own copy of the region file (cfg->geo_copy).
 * With a copy, the task must carry a pin and every pin must equal the
 * copy's hash; without one only the name is checked (node.conf sets none).
 * Returns CAIRN_OK or CAIRN_ERR_POLICY with a one-line reason (both
 * hashes) that is safe to send as the signed refusal.
 */
int	node_geography_check(const struct node_config *cfg, const char *name,
	    const uint8_t *task_sha256, size_t task_len,
	    const uint8_t *fed_pin) __attribute__((warn_unused_result));

#endif
