/*
 * daemon.h - the node daemon (`cairn-node serve`): private to node/.
 *
 * The daemon dials out to the coordinator, long-polls for tasks and runs
 * each task through the federation round of docs/federation.md: verify
 * the log (checkpoint, consistency from its witness state, the QUERY
 * entry's inclusion) and cosign it, verify the analyst's signature and
 * the federation, check the policy, charge the ledger and keep the noisy
 * vector (or reuse the one kept for a retry), advertise, check the
 * roster, mask and upload.  Between tasks it follows the log to record
 * the index of its CHARGE entries and close rounds that were released.
 *
 * The exact vector comes from a struct node_vector_source, so tests can
 * run the whole round without CDR files; `cairn-node serve` wires the
 * aggregation engine (node_task_vector()).
 */
#ifndef CAIRN_NODE_DAEMON_H
#define CAIRN_NODE_DAEMON_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "keys/keys.h"
#include "keys/keys_federation.h"
#include "node/ledger.h"
#include "node/node_config.h"
#include "protocol/cairn.pb-c.h"
#include "protocol/qspec.h"
#include "protocol/tlog_note.h"
#include "protocol/tlog_witness.h"
#include "protocol/transport.h"

/* Files of the node's data_dir. */
#define NODE_LEDGER_FILE	"ledger.db"
#define NODE_WITNESS_FILE	"witness.db"

/* Reason codes of a signed Refusal (cairn.proto). */
#define NODE_REFUSE_POLICY	"policy"
#define NODE_REFUSE_BUDGET	"budget"
#define NODE_REFUSE_GEOGRAPHY	"geography"
#define NODE_REFUSE_ANALYST	"analyst"
#define NODE_REFUSE_LOG		"log"
#define NODE_REFUSE_OTHER	"other"

/*
 * Where exact vectors come from: 'compute' fills '*cells' (malloc'd,
 * caller frees) with the '*n' exact counts of 'q' over its public domain
 * for 'geography', in the engine's row-major cell order, and returns
 * CAIRN_OK or an error.  'domain' gives that '*n' from public inputs only
 * (the geography's regions, the spec), never reading a record: the length
 * of the vector a charge names when the computation failed.
 */
struct node_vector_source {
	int	(*compute)(void *ctx, const struct qspec *q,
		    const char *geography, int64_t **cells, uint64_t *n);
	int	(*domain)(void *ctx, const struct qspec *q,
		    const char *geography, uint64_t *n);
	void	*ctx;
};

/*
 * The vector source of `cairn-node serve`: the aggregation engine over the
 * node's data ([data] of node.conf).  'ctx' is the struct node_config.
 */
int	node_task_vector(void *ctx, const struct qspec *q,
	    const char *geography, int64_t **cells, uint64_t *n)
	    __attribute__((warn_unused_result));
/* Its 'domain': the cells of 'q' over node.conf's regions. */
int	node_task_domain(void *ctx, const struct qspec *q,
	    const char *geography, uint64_t *n)
	    __attribute__((warn_unused_result));

/* What a daemon is built from; everything is borrowed for its life. */
struct node_daemon_config {
	const struct node_config	*cfg;
	const struct keys_identity	*id;
	const struct keys_federation	*fed;
	struct node_ledger		*ledger;
	struct tlog_witness		*witness;
	struct transport_client		*client;
	struct node_vector_source	 vectors;
	volatile sig_atomic_t		*stop;	/* may be NULL */
	/*
	 * SIGHUP: when *reload is set (may be NULL), the serve loop clears
	 * it and calls reload(reload_arg) between tasks, on its own thread
	 * (it may change cfg's reloadable keys: node_config_reload()).
	 */
	volatile sig_atomic_t		*reload;
	void				(*reload_fn)(void *arg);
	void				*reload_arg;
	/* Tests: called after each step with its name; may be NULL. */
	void				(*step_hook)(const char *step,
					    void *arg);
	void				*step_arg;
};

struct node_daemon;

/*
 * Make a daemon: finds the log key (the coordinator's identity key in
 * 'fed', note name "cairn/<federation>").  Returns CAIRN_OK and '*out', or
 * CAIRN_ERR_CONFIG when the federation lists no coordinator or does not
 * list this node under its name and key.
 */
int	node_daemon_new(const struct node_daemon_config *dc,
	    struct node_daemon **out) __attribute__((warn_unused_result));
void	node_daemon_free(struct node_daemon *d);

/* What became of one task (for logs and tests). */
enum node_task_outcome {
	NODE_TASK_SHARED,	/* share uploaded */
	NODE_TASK_REFUSED,	/* a signed refusal was sent */
	NODE_TASK_ABANDONED	/* given up (deadline, bad roster, ...) */
};

/*
 * Handle one task end to end.  Returns CAIRN_OK with '*outcome', or an
 * error that stops the task before any outcome (transport failure before
 * the charge, database error); the detail says what.
 */
int	node_daemon_handle_task(struct node_daemon *d,
	    const Cairn__V1__Task *t, enum node_task_outcome *outcome)
	    __attribute__((warn_unused_result));

/*
 * One PollTask long-poll of at most 'wait_ms', and the task it brings
 * handled; with no task, refresh the checkpoint (verify, cosign) and follow
 * the log.  '*got' (may be NULL) tells whether a task came.  Errors are
 * transport or database failures; the serve loop backs off on them.
 */
int	node_daemon_poll_once(struct node_daemon *d, unsigned wait_ms,
	    bool *got) __attribute__((warn_unused_result));

/*
 * Fetch the coordinator's latest checkpoint and, when it is new, verify it
 * (log key, consistency from the last cosigned one) and cosign it.
 * Returns CAIRN_OK, a transport error, or the witness's refusal
 * (CAIRN_ERR_CONFLICT for a fork, CAIRN_ERR_SIGNATURE, CAIRN_ERR_PROOF).
 */
int	node_daemon_witness_checkpoint(struct node_daemon *d)
	    __attribute__((warn_unused_result));

/*
 * Read log entries from the last position up to the latest cosigned
 * checkpoint (verifying them against its root): record the log index of
 * this node's CHARGE entries, close the rounds whose RELEASE is logged.
 */
int	node_daemon_follow_log(struct node_daemon *d)
	    __attribute__((warn_unused_result));

/*
 * Send again, as key-less advertisements (docs/federation.md §2), the
 * charges this node advertised whose CHARGE entry it has not seen in the
 * log and that the coordinator has not acknowledged: the coordinator may
 * have died before logging them.  It logs each at most once (or answers
 * that it is logged already).  A charge it refuses is kept in the ledger
 * (an over-count) and not sent again.  Pending charges are found from the
 * ledger database alone, so this works after a restart of the node too.
 * '*sent' (may be NULL) gets how many were acknowledged.  Returns CAIRN_OK,
 * a transport error (the rest wait for the next pass) or CAIRN_ERR_DB.
 * node_daemon_poll_once() calls it first when due: at start and after a
 * failed Advertise.
 */
int	node_daemon_resend_charges(struct node_daemon *d, size_t *sent)
	    __attribute__((warn_unused_result));

/*
 * Serve until *stop is set: poll, handle, follow (and reload when asked,
 * between tasks); on failures reconnect
 * with exponential backoff (1 s doubling to 15 s, with jitter), going on
 * at once when a broken channel connects again.  Returns
 * CAIRN_OK once stopped.
 */
int	node_daemon_serve(struct node_daemon *d)
	    __attribute__((warn_unused_result));

/* SHA-256 of the sorted, newline-joined participant names. */
void	node_pset_hash(char *const *names, size_t n, uint8_t out[32]);

/*
 * `cairn-node ledger show`: one line per charge (id, query id and hash
 * prefix, data-months, rho, cumulative per month, log index, open or
 * closed) to 'f'.
 */
int	node_ledger_print(struct node_ledger *l, FILE *f)
	    __attribute__((warn_unused_result));

/*
 * `cairn-node ledger export`: one JSON object per charge and line
 * (docs/node.md gives the fields), for `cairn audit verify --ledger`.
 */
int	node_ledger_export(struct node_ledger *l, const char *node, FILE *f)
	    __attribute__((warn_unused_result));

/* `cairn-node serve` and `cairn-node ledger`. */
int	node_cmd_serve(int argc, char **argv);
int	node_cmd_ledger(int argc, char **argv);
/* cairn-node backup -c node.conf DIR (node/cmd_backup.c). */
int	node_cmd_backup(int argc, char **argv);

#endif
