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

struct node_policy {
	struct config_strlist	 kinds;		/* allow_kind */
	struct config_strlist	 analysts;	/* allow_analyst */
	struct config_strlist	 geographies;	/* allow_geography */
	double			 budget_rho_per_month;
	double			 max_rho_per_query;
	int64_t			 min_participants;
	int64_t			 max_colluding;
	int64_t			 max_months_per_query;
};

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
	/* [data] */
	struct config_strlist	 cdr;
	char		*cells;
	char		*geography;
	double		 max_bad_fraction;
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

/* True when 'kind' is one of the query kinds cairn computes. */
bool	node_kind_is_known(const char *kind);

/* What a task asks of the node, for node_policy_check(). */
struct node_policy_request {
	const char	*kind;
	const char	*analyst;
	const char	*geography;
	double		 rho;
	size_t		 participants;
	size_t		 colluding;	/* the query's collusion assumption */
	size_t		 months;	/* data-months the query reads */
};

/*
 * Decide whether the policy allows 'req' (budget is the ledger's
 * business, checked when charging).  Returns CAIRN_OK, or CAIRN_ERR_POLICY
 * with a detail that is safe to send back as the signed refusal reason.
 */
int	node_policy_check(const struct node_policy *p,
	    const struct node_policy_request *req)
	    __attribute__((warn_unused_result));

#endif
