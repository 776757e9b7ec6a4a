/*
 * daemon_int.h - the daemon's state and the task checks, shared by
 * node/daemon.c (the round and the loop) and node/task.c (verification
 * and signed messages).  Private to those files and their tests.
 */
#ifndef CAIRN_NODE_DAEMON_INT_H
#define CAIRN_NODE_DAEMON_INT_H

#include "node/daemon.h"
#include "protocol/secagg.h"

/* The phases of one task, timed by the daemon (docs/benchmarks.md). */
enum node_phase {
	NODE_PHASE_LOG_CHECK,	/* checkpoint, QUERY inclusion, cosign */
	NODE_PHASE_QUERY_CHECK,	/* signature, participants, policy */
	NODE_PHASE_COMPUTE,	/* the exact vector (the engine), on its
				 * own thread while the log is checked */
	NODE_PHASE_LOG_WAIT,	/* after the computation, waiting for the
				 * log check to end */
	NODE_PHASE_NOISE,	/* drawing and adding the noise */
	NODE_PHASE_LEDGER,	/* the durable charge (or the kept vector) */
	NODE_PHASE_ADVERTISE,	/* sign and send the advertisement */
	NODE_PHASE_ROSTER,	/* waiting for the roster */
	NODE_PHASE_MASK,	/* roster check, sid, masking */
	NODE_PHASE_UPLOAD,	/* the masked share's chunks */
	NODE_PHASE_COUNT
};

/* Where a task spent its time; zero for phases it did not reach. */
struct node_task_timing {
	uint64_t	ns[NODE_PHASE_COUNT];	/* per phase, monotonic */
	uint64_t	total_ns;		/* task received to done */
	double		compute_start;		/* epoch seconds (wall) */
	double		compute_end;		/* 0 when not computed */
	bool		valid;			/* a task ran */
};

/* The phase names of node_task_timing_format(), in enum order. */
extern const char *const node_phase_names[NODE_PHASE_COUNT];

/* Monotonic nanoseconds (CLOCK_MONOTONIC). */
uint64_t	node_clock_ns(void);

/* Wall-clock seconds since the epoch with sub-microsecond digits. */
double		node_clock_wall(void);

/*
 * Format 't' as "log_check 0.000123 query_check ... upload 0.012345
 * total 0.500000 compute_window 1795387402.254784 1795387402.397603"
 * (seconds) into 'buf' of 'cap' bytes (truncated, always terminated).
 */
void	node_task_timing_format(const struct node_task_timing *t, char *buf,
	    size_t cap);

struct node_daemon {
	struct node_daemon_config	 dc;
	const char			*name;		/* this node */
	uint8_t				 pk[KEYS_PK_LEN];
	char				 origin[TLOG_NAME_MAX + 1];
	struct tlog_verifier		 logkey;
	unsigned			 call_ms;	/* call deadline */
	struct node_task_timing		 timing;	/* the last task's */
	bool				 resend_due;	/* re-sends due */
	bool				 rebuilt;	/* ledger caught up
							   with the log */
	size_t				 quorum;	/* witness cosignatures
							 * before a share */
};

/* The phase timings of the last task handled (valid false before). */
void	node_daemon_last_timing(const struct node_daemon *d,
	    struct node_task_timing *out);

/* A task's query, checked. */
struct node_task_query {
	Cairn__V1__Query	*q;		/* unpacked signed bytes */
	uint8_t			 qhash[32];	/* SHA-256 of them */
	uint8_t			 pset[32];	/* node_pset_hash() */
	struct qspec		 spec;
	int32_t			 months[QSPEC_MAX_MONTHS];
	size_t			 nmonths;
	uint32_t		 n, c, h;	/* participants, c, h */
};

void	node_task_query_release(struct node_task_query *tq);

/*
 * Step 1 of docs/federation.md §2: with no fork on record, open the
 * checkpoint with the log key, add it to the witness (consistency from
 * the last cosigned one; a proof from another size is fetched with
 * GetConsistencyProof), check the QUERY entry (fetched with GetEntries)
 * is the task's signed query and is included in the checkpoint, and
 * send the cosignature.  Errors: CAIRN_ERR_CONFLICT (fork, evidence
 * kept), CAIRN_ERR_SIGNATURE, CAIRN_ERR_PROOF, CAIRN_ERR_FORMAT, or a
 * transport error.
 */
int	node_task_verify_log(struct node_daemon *d, const Cairn__V1__Task *t)
	    __attribute__((warn_unused_result));

/*
 * Before the masked share leaves (docs/threat-model.md, "Split views"):
 * wait until the coordinator's checkpoint covers the task's checkpoint,
 * is consistent with what this node cosigned (witnessed, and cosigned in
 * turn) and carries valid cosignatures of at least d->quorum of the
 * federation's nodes, i.e. a majority of the nodes witnessed a log that
 * holds this QUERY.  Asks every 200 ms until the task's deadline (or the
 * call deadline when it has none).  CAIRN_OK at once when d->quorum is 0.
 * Errors: CAIRN_ERR_PROOF (no quorum in time, naming the count),
 * CAIRN_ERR_STATE (the coordinator ended the attempt meanwhile: its
 * GetRoster, asked between tries, is refused), CAIRN_ERR_CONFLICT /
 * CAIRN_ERR_SIGNATURE from the witness, or a transport error.
 */
int	node_task_await_quorum(struct node_daemon *d, const Cairn__V1__Task *t)
	    __attribute__((warn_unused_result));

/*
 * Verify a checkpoint note against the log key and add it to the witness
 * ('proof' from 'old_size'), then send the cosignature.  Used for tasks
 * and for the idle checkpoint refresh.
 */
int	node_task_witness(struct node_daemon *d, const char *note,
	    uint64_t old_size, const Cairn__V1__ConsistencyProof *proof)
	    __attribute__((warn_unused_result));

/*
 * Steps 2 and 3: the analyst's signature and enrollment, the federation,
 * the query id, this node among well-formed participants, the spec, then
 * node_policy_check().  On failure '*code' is the refusal reason code and
 * the error detail its line; '*tq' is filled on success only.
 */
int	node_task_check_query(struct node_daemon *d,
	    const Cairn__V1__Task *t, struct node_task_query *tq,
	    const char **code)
	    __attribute__((warn_unused_result));

/*
 * Check a roster against the query: exactly the participants, each
 * advertisement signed by its member and carrying a charge signed by the
 * same member, for this query hash and attempt, with 'cells' cells, and
 * this node's own advertisement byte-identical to 'own'.  Fills 'members'
 * (room for tq->n) sorted by identity key and '*self'.
 */
int	node_roster_check(struct node_daemon *d,
	    const struct node_task_query *tq, uint32_t attempt,
	    uint64_t cells, const Cairn__V1__Roster *ro,
	    const Cairn__V1__SignedAdvertisement *own,
	    struct secagg_member *members, size_t *self)
	    __attribute__((warn_unused_result));

/* Pack 'msg', sign it with 'purpose'; *bytes (malloc'd) and sig. */
int	node_sign_msg(struct node_daemon *d, const ProtobufCMessage *msg,
	    const char *purpose, uint8_t **bytes, size_t *len,
	    uint8_t sig[static KEYS_SIG_LEN])
	    __attribute__((warn_unused_result));

/* Send a signed Refusal (reason code and one line). */
int	node_task_refuse(struct node_daemon *d, const Cairn__V1__Task *t,
	    const uint8_t *qhash, const char *code, const char *line)
	    __attribute__((warn_unused_result));

#endif
