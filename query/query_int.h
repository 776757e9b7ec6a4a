/*
 * query_int.h - private to query/cmd_query.c and the query_*.c files of
 * its subcommands: the parsed command line (struct ctx), the option
 * table, and the helpers the subcommands share.
 */
#ifndef CAIRN_QUERY_INT_H
#define CAIRN_QUERY_INT_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/cli.h"
#include "common/err.h"
#include "protocol/cairn.pb-c.h"
#include "protocol/qspec.h"
#include "protocol/tlog_entry.h"
#include "protocol/tlog_note.h"
#include "protocol/transport.h"

struct keys_federation;
struct tlog_verifier;
struct query_budgets;

#define PROG		"cairn query"
#define CALL_MS		30000


enum opt {
	O_CONFIG, O_KEY, O_TLS_KEY, O_TLS_CERT, O_CA, O_COORD, O_FED,
	O_KIND, O_START, O_END, O_BUCKET, O_K, O_UTC, O_NIGHT_START,
	O_NIGHT_END, O_BASELINE, O_COMPARISON, O_SPEC, O_GEO, O_RHO,
	O_PURPOSE, O_PARTS, O_COLL, O_HOLDERS, O_ID, O_TIMEOUT, O_FORMAT,
	O_OUTPUT, O_REGIONS, O_CATS, O_DELTA, O_INPUT, O_NORMAL,
	O_NORMAL_DAYS, O_ALLOW_MISSING, O_OUTLINES, O_MIN_NIGHTS, O_PUBLISH, O_N
};

/* The long options, indexed by enum opt (cmd_query.c). */
extern const struct option query_opts[];

/* analyst.conf */
struct aconf {
	char	*key, *tls_key, *tls_cert, *ca, *coord, *fed;
};

struct ctx {
	const char	*sub;		/* "submit" */
	const char	*o[O_N];
	const char	*arg;		/* the positional query id */
	struct aconf	 conf;
	bool		 have_conf;
};

/* The exit code for a failed subcommand: the error printed as cli_fail(). */
static inline int
fail(const struct ctx *c, int code)
{
	return cli_fail(PROG, c->sub, code);
}

/* CAIRN_OK if option 'o' was given, else CAIRN_ERR_ARG naming it. */
static inline int
need(const struct ctx *c, enum opt o)
{
	if (c->o[o] != NULL)
		return CAIRN_OK;
	return cairn_err(CAIRN_ERR_ARG, "--%s is required", query_opts[o].name);
}

/*
 * Dial the coordinator named by --coordinator with --ca, --tls-cert,
 * --tls-key (required) and --federation.  *out is the caller's on success.
 */
int	query_connect(const struct ctx *c, struct transport_client **out);

/* Parse decimal 's' for option 'what' into *out, at most 'max'. */
int	query_parse_u32(const char *s, const char *what, uint32_t max,
	    uint32_t *out);

/* Parse a finite real 's' for option 'what' into *out. */
int	query_parse_real(const char *s, const char *what, double *out);

/*
 * Split "a,b,c" (option 'what', at most 'max' items) into a new array of
 * new strings, *out and *n; free it with query_free_list().
 */
int	query_split_list(const char *s, const char *what, size_t max,
	    char ***out, size_t *n);

/* Free 'n' strings of 'v' and 'v'; NULL is fine. */
void	query_free_list(char **v, size_t n);

/* Ask for the status of query 'id' (caller frees *out). */
int	query_get_status(struct transport_client *cl, const char *id,
	    Cairn__V1__QueryStatus **out);

/* The name of query state 's' as printed ("released"). */
const char *query_state_name(Cairn__V1__QueryState s);

/* Print status 's' as `cairn query status` does, to 'f'. */
void	query_print_status(const Cairn__V1__QueryStatus *s, FILE *f);

/* The spec from --spec FILE or from --kind and its fields (query_submit.c). */
int	query_spec_build(const struct ctx *c, struct qspec *q);

/*
 * What submit and plan both take (query_plan.c): the spec, --rho,
 * --participants, --colluding and --holders, checked as submit checks
 * them.  Release with query_ask_release().
 */
struct query_ask {
	struct qspec	 spec;
	uint64_t	 rho_nano;
	char		**parts;
	size_t		 nparts;
	uint32_t	 colluding;
	uint32_t	 holders;	/* 0 means 1 */
	bool		 publish;	/* --publish */
};
int	query_ask_parse(const struct ctx *c, struct query_ask *a);
void	query_ask_release(struct query_ask *a);

/*
 * The plan summary of 'a' (`cairn query plan`, and `submit` before it
 * sends): computed with query_plan_compute() over the regions of
 * --regions, budgets read from the log when 'b' is not NULL; printed to
 * 'f'.  Returns CAIRN_OK or the planner's error.
 */
int	query_plan_summary(const struct ctx *c, const struct query_ask *a,
	    const struct query_budgets *b, FILE *f);

/*
 * CAIRN_OK when the federation.conf at 'fedpath' (NULL: not checked)
 * pins no hash for 'geography' or pins the SHA-256 of the regions file
 * 'path'; CAIRN_ERR_ARG naming both files otherwise (query_plan.c).
 */
int	query_regions_pinned(const char *fedpath, const char *geography,
	    const char *path) __attribute__((warn_unused_result));

/* ---- the log, as the client reads it (query_log.c) ---- */

/* Most entries `cairn query budget` reads from a log. */
#define QUERY_LOG_MAX_ENTRIES	(1u << 22)
/* How long result and budget wait for a covering checkpoint by default. */
#define RESULT_WAIT_DEFAULT_S	60

/*
 * Wait up to 'wait_s' seconds for a checkpoint signed by the log key 'lk'
 * that covers index 'index' and carries at least 'quorum' valid witness
 * cosignatures of 'fed''s nodes (witnesses cosign within their poll
 * interval).  A checkpoint the log key did not sign fails at once.
 */
int	query_log_checkpoint(struct transport_client *cl,
	    const struct keys_federation *fed, const struct tlog_verifier *lk,
	    size_t quorum, uint64_t index, unsigned wait_s,
	    struct tlog_checkpoint *cp);

/*
 * The entry at 'index' ('what' names it in errors), decoded into 'e',
 * after its inclusion proof in the checkpoint 'cp' verifies.  'e' points
 * into '*resp', which the caller frees.
 */
int	query_log_entry(struct transport_client *cl, const char *what,
	    uint64_t index, const struct tlog_checkpoint *cp,
	    Cairn__V1__GetEntriesResponse **resp, struct tlog_entry *e);

/*
 * Check that the 'n' entries data[i] (len[i] bytes) are exactly the
 * leaves of the tree of checkpoint 'cp': CAIRN_OK, or CAIRN_ERR_PROOF
 * when the count differs or the re-hashed root is not cp->root (an entry
 * changed, dropped or added).  The entries may be hostile.
 */
int	query_log_root_check(const uint8_t *const *data, const size_t *len,
	    uint64_t n, const struct tlog_checkpoint *cp)
	    __attribute__((warn_unused_result));

/*
 * Fetch every entry of the log up to checkpoint 'cp' (GetEntries in
 * pages), check them with query_log_root_check(), and only then call
 * 'fn' on each decoded entry in order; an error 'fn' returns stops the
 * scan and is passed on.
 */
int	query_log_scan(struct transport_client *cl,
	    const struct tlog_checkpoint *cp,
	    int (*fn)(void *arg, uint64_t index, const struct tlog_entry *e),
	    void *arg) __attribute__((warn_unused_result));

/*
 * Read the budgets of the federation at --federation from the log the
 * coordinator 'cl' serves, proven against a checkpoint with a witness
 * quorum (waited for up to 'wait_s' s).  '*out' is set on success
 * (query_budgets_release()).
 */
int	query_budgets_fetch(const struct ctx *c, struct transport_client *cl,
	    unsigned wait_s, struct query_budgets *out)
	    __attribute__((warn_unused_result));

/*
 * The subcommands, each with its usage text: the exit code (0 on
 * success).  submit in query_submit.c; status, wait and list in
 * query_status.c; result in query_result.c.
 */
extern const char query_submit_usage[];
extern const char query_status_usage[];
extern const char query_wait_usage[];
extern const char query_result_usage[];
extern const char query_list_usage[];
extern const char query_derive_usage[];
int	query_cmd_submit(struct ctx *c);
int	query_cmd_status(struct ctx *c);
int	query_cmd_wait(struct ctx *c);
int	query_cmd_result(struct ctx *c);
int	query_cmd_list(struct ctx *c);
/* derive (query_derive.c): from a released displacement result. */
int	query_cmd_derive(struct ctx *c);
extern const char query_plan_usage[];
extern const char query_budget_usage[];
int	query_cmd_plan(struct ctx *c);
int	query_cmd_budget(struct ctx *c);

#endif /* CAIRN_QUERY_INT_H */
