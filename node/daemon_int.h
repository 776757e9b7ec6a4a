/*
 * daemon_int.h - the daemon's state and what its files share, private to
 * them and their tests.  The files are layered, each calling only into
 * the ones above it in this list, never back:
 *
 *   node/daemon_timing.c  the phase clock of a task
 *   node/task.c           log verification, query checks, signed messages
 *   node/daemon_charge.c  the vector, its noise and charge, the re-send
 *                         records and the re-send of pending charges
 *   node/daemon_round.c   one task: checks, charge, then advertise,
 *                         roster, mask and upload
 *   node/daemon_follow.c  following the log: witnessing checkpoints and
 *                         bringing the ledger up to the CHARGE entries
 *   node/daemon.c         startup and the serve loop
 */
#ifndef CAIRN_NODE_DAEMON_INT_H
#define CAIRN_NODE_DAEMON_INT_H

#include <pthread.h>

#include "common/err.h"
#include "common/file.h"
#include "node/daemon.h"
#include "protocol/secagg.h"

/* The phases of one task, timed by the daemon (docs/benchmarks.md). */
enum node_phase {
	NODE_PHASE_LOG_CHECK,	/* checkpoint, QUERY inclusion, cosign */
	NODE_PHASE_QUERY_CHECK,	/* signature, participants, policy */
	NODE_PHASE_COMPUTE,	/* the exact vector (the engine), on its
				 * own thread while the log is checked */
	NODE_PHASE_LOG_WAIT,	/* after the computation, waiting for the
				 * log check and the noise drawn beside
				 * the computation to end */
	NODE_PHASE_NOISE,	/* adding the noise (and drawing it, when
				 * it was not drawn beside the computation) */
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
	/* The coordinator's clock minus this node's, measured on every
	 * PollTask reply (node_clock_note()); read it with
	 * node_daemon_clock_skew() (metrics). */
	int64_t				 clock_skew_ms;
	bool				 clock_skew_valid;
	bool				 clock_warned;	/* beyond tolerance */
	struct file_stamp		 fed_stamp;	/* federation.conf */
	struct keys_federation		**feds;		/* loaded by reloads,
							   kept to the end */
	size_t				 nfeds;
};

/* A skew beyond this is logged as a warning (docs/operations.md,
 * "Clocks"); deadlines are judged by the coordinator's clock anyway. */
#define NODE_CLOCK_TOLERANCE_MS	5000

/*
 * This node's wall clock in milliseconds since the epoch.  Test only:
 * CAIRN_NODE_TEST_CLOCK_OFFSET (seconds, may be negative) is added, to
 * play a node whose clock is wrong (docs/node.md); never set it in
 * production.
 */
int64_t	node_wall_ms(void);

/*
 * Note the coordinator's clock 'coord_ms' read from a PollTask reply that
 * just arrived: keep the skew, and log a warning when it goes beyond
 * NODE_CLOCK_TOLERANCE_MS (and a notice when it comes back).
 */
void	node_clock_note(struct node_daemon *d, int64_t coord_ms);

/*
 * The coordinator's time now in seconds, as this node estimates it (its
 * own clock plus the last measured skew): what task deadlines, set by
 * the coordinator's clock, are compared with.
 */
int64_t	node_coord_now(const struct node_daemon *d);

/*
 * The last measured skew (coordinator minus node, milliseconds; positive
 * when this node is behind) into '*ms': false before the first poll
 * reply that carried the coordinator's time.  For the metrics.
 */
bool	node_daemon_clock_skew(const struct node_daemon *d, int64_t *ms);

/* The phase timings of the last task handled (valid false before). */
void	node_daemon_last_timing(const struct node_daemon *d,
	    struct node_task_timing *out);

/* Report 'what' to the configured step hook (tests, CAIRN_NODE_STOP_AT). */
static inline void
node_daemon_step(struct node_daemon *d, const char *what)
{
	if (d->dc.step_hook != NULL)
		d->dc.step_hook(what, d->dc.step_arg);
}

/* Whether the daemon was asked to stop. */
static inline bool
node_daemon_stopping(const struct node_daemon *d)
{
	return d->dc.stop != NULL && *d->dc.stop != 0;
}

/* A failure of the channel rather than an answer from the coordinator. */
static inline bool
node_is_transport_error(int r)
{
	return r == CAIRN_ERR_NET || r == CAIRN_ERR_TIMEOUT ||
	    r == CAIRN_ERR_CANCELLED;
}

/* Add the time since '*mark' to 'phase' and move the mark to now. */
static inline void
node_timing_lap(struct node_daemon *d, enum node_phase phase,
    uint64_t *mark)
{
	uint64_t now = node_clock_ns();

	d->timing.ns[phase] += now - *mark;
	*mark = now;
}

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

/* --------------------------------------------- node/daemon_charge.c */

/*
 * The exact vector of a task.  It is computed on its own thread from the
 * moment the query passed its checks, while the log is checked over the
 * network; nothing derived from it leaves the process before the charge,
 * and it is wiped unused when the log check fails.  Zero it, then set
 * 'd' and 'tq' (borrowed, outliving the job).
 */
struct node_vec_job {
	struct node_daemon		*d;
	const struct node_task_query	*tq;
	int64_t				*exact;
	uint64_t			 n;
	int				 r;
	char				 msg[512];	/* the error detail */
	uint64_t			 ns, end_ns;	/* monotonic */
	double				 start, end;	/* wall clock */
	pthread_t			 th;
	bool				 started;	/* a thread runs it */
	bool				 done;
	/* Noise drawn beside the computation (node_vec_prenoise()). */
	int64_t				*noise;
	uint64_t			 noise_n, noise_s2;
};

/* Start the computation on its own thread (else it runs on demand). */
void	node_vec_start(struct node_vec_job *j);

/*
 * While the computation runs, draw its noise: noise_n samples of variance
 * noise_s2, for the domain's length (from public inputs only) and the
 * requirement's sigma_h^2.  The noise never depends on the records, so
 * drawing it first changes nothing but when it is drawn.  Best effort:
 * on any failure nothing is kept and the noise is drawn after the
 * computation, as without it.
 */
void	node_vec_prenoise(struct node_vec_job *j);

/* Wait for a started computation. */
void	node_vec_join(struct node_vec_job *j);

/* Wait for it, then wipe and free the exact vector and the noise drawn
   for it if still held. */
void	node_vec_discard(struct node_vec_job *j);

/*
 * The charge this task pays with: the open one of a retry (its stored
 * noisy vector), or a new one (the vector from 'job', noise drawn, all
 * committed in one ledger transaction with its re-send record).  On
 * success '*cid', '*noisy' (malloc'd, the caller wipes and frees it) and
 * '*ncells'.  On a refusal '*code' is set and the error detail is its
 * line: CAIRN_ERR_BUDGET, CAIRN_ERR_STATE (charged before, round
 * closed), CAIRN_ERR_UNSUPPORTED (the computation failed; charged),
 * CAIRN_ERR_TOOBIG, CAIRN_ERR_RANGE, CAIRN_ERR_OVERFLOW; other errors.
 */
int	node_charge_for_task(struct node_daemon *d, const Cairn__V1__Task *t,
	    const struct node_task_query *tq, struct node_vec_job *job,
	    int64_t *cid, int64_t **noisy, size_t *ncells, const char **code)
	    __attribute__((warn_unused_result));

/* The largest re-send record: attempt, cells and a query id. */
#define NODE_RESEND_MAX	(4 + 8 + 128)

/*
 * The re-send record of 'qhash' for 'attempt', a vector of 'cells' cells
 * and 'query_id' into 'kv', pointing into 'key' and 'v'.
 * CAIRN_ERR_TOOBIG when the query id does not fit.
 */
int	node_resend_record(const uint8_t qhash[32], uint32_t attempt,
	    uint64_t cells, const char *query_id, char key[96],
	    uint8_t v[NODE_RESEND_MAX], struct node_ledger_kv *kv)
	    __attribute__((warn_unused_result));

/* The coordinator acknowledged the charge: nothing left to re-send. */
void	node_resend_done(struct node_daemon *d, const uint8_t qhash[32]);

/* A signed advertisement and the buffers it points into. */
struct node_advert {
	Cairn__V1__SignedCharge		 sc;
	Cairn__V1__Advertisement	 ad;
	Cairn__V1__SignedAdvertisement	 sa;
	uint8_t				 csig[KEYS_SIG_LEN];
	uint8_t				 asig[KEYS_SIG_LEN];
	uint8_t				*cbytes, *abytes;
};

/*
 * Sign into 'a' the advertisement carrying ledger charge 'cid' for query
 * 'query_id' (hash 'qhash') in 'attempt', for a vector of 'cells' cells,
 * under the ephemeral public key 'epk', or without a key when 'epk' is
 * NULL: a charge sent again, which is never part of a round.  'a' points
 * into 'query_id', 'qhash' and 'epk'.  Release 'a' with
 * node_advert_release() whatever this returns.
 */
int	node_advert_sign(struct node_daemon *d, const char *query_id,
	    const uint8_t qhash[32], int64_t cid, uint32_t attempt,
	    uint64_t cells, const uint8_t *epk, struct node_advert *a)
	    __attribute__((warn_unused_result));

/* Free what node_advert_sign() allocated (NULL pointers allowed). */
void	node_advert_release(struct node_advert *a);

#endif
