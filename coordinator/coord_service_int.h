/*
 * coord_service_int.h - private to the files that serve
 * cairn.v1.Coordinator.  Two layers, calls pointing down only:
 *
 *   coord_service.c   the method table, the ticker, startup and stop
 *   coord_analyst.c   SubmitQuery, GetQuery, ListQueries, GetResult
 *   coord_node.c      PollTask, Refuse, Advertise, GetRoster, SubmitShare,
 *                     Cosign, PublishPolicy
 *   coord_logread.c   GetCheckpoint, GetEntries, the two proofs
 *   coord_attempt.c   underneath them all: the open attempts (built,
 *                     started, failed, released), the waiters (parked long
 *                     polls), dispatch, and the replies a waiter gets when
 *                     it is woken (Task, Roster, QueryStatus)
 *
 * The handler files call coord_attempt.c, never each other; coord_attempt.c
 * calls none of them.  Every function here runs under struct coord's mutex
 * (taken by the method table and the ticker).
 */
#ifndef CAIRN_COORD_SERVICE_INT_H
#define CAIRN_COORD_SERVICE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/file.h"
#include "coordinator/coord_int.h"
#include "coordinator/round.h"
#include "privacy/dp.h"
#include "protocol/proto_service.h"
#include "protocol/qspec.h"
#include "protocol/transport.h"

#define COORD_HELD	1		/* a handler kept (answered) the call */
#define COORD_TICK_MS	100
#define COORD_MAX_WAIT_MS 600000u	/* longest long poll */

/* One node's masked share as it arrives, chunk by chunk. */
struct share_in {
	uint8_t		*manifest;	/* the signed manifest bytes */
	size_t		 mlen;
	uint8_t		 sig[64];
	uint64_t	*cells;
	uint32_t	 nchunks;
	uint32_t	 got;
	uint64_t	 received;
	uint8_t		*have;		/* per chunk */
	bool		 done;
};

/* One participant of an attempt. */
struct part {
	char		 name[KEYS_NAME_MAX + 1];
	uint8_t		 id[32];
	int64_t		 delivered;	/* when the task went out */
	uint8_t		*adv;		/* SignedAdvertisement */
	size_t		 adv_len;
	uint64_t	 sigma2;
	struct share_in	 sh;
};

/* One open attempt of a query (c->open lists them). */
struct attempt {
	struct attempt		*next;
	char			 query_id[COORD_QUERY_ID_MAX + 1];
	char			 analyst[KEYS_NAME_MAX + 1];
	uint8_t			 qhash[32];
	Cairn__V1__SignedQuery	*sq;
	Cairn__V1__Query	*q;
	struct qspec		 spec;
	uint64_t		 query_index;
	uint32_t		 attempt;
	size_t			 n;
	struct part		*p;
	uint64_t		 expect_cells;	/* 0: unknown */
	uint64_t		 ncells;	/* 0 until an advertisement */
	struct dp_requirement	 need;	/* rho_m, sigma_h^2 */
	int64_t			 adv_deadline;
	int64_t			 share_deadline;
	struct coord_round	*round;
	int64_t			 started_ms;	/* coord_attempt_start() */
};

/* A call held by a long poll (PollTask, GetRoster, GetQuery). */
struct waiter {
	struct waiter		*next;
	struct transport_call	*call;
	enum proto_method	 m;
	enum keys_role		 role;		/* the caller's */
	char			 node[KEYS_NAME_MAX + 1];	/* name */
	uint64_t		 last_seen;
	int64_t			 until_ms;
	char			 query_id[COORD_QUERY_ID_MAX + 1];
	uint32_t		 attempt;
};

struct monitor;
struct coord_health;

struct coord {
	const struct coord_config	*cfg;
	pthread_mutex_t			 mu;
	struct keys_identity		*id;
	struct keys_federation		*fed;
	struct file_stamp		 fed_stamp;	/* federation.conf */
	struct keys_federation		**old_feds;	/* replaced, kept
							   until the end */
	size_t				 nold_feds;
	int				 dir_lock;	/* data_dir/lock */
	struct coord_store		*db;
	struct coord_log		 log;
	bool				 log_open;
	struct attempt			*open;
	struct waiter			*waiters;
	size_t				 nwaiters;
	struct transport_server		*srv;
	struct monitor			*mon;		/* NULL: off */
	struct monitor			*pubmon;	/* [public] listen;
							   NULL: off */
	struct public_http		*pubhttp;
	struct coord_health		*health;	/* NULL: off */
	pthread_t			 ticker;
	bool				 ticker_running;
	bool				 stopping;
	pthread_cond_t			 cv;
};

/* Wall-clock time in milliseconds and in seconds. */
static inline int64_t
coord_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t
coord_now_s(void)
{
	return (int64_t)time(NULL);
}

/* ------------------------------------------- coord_attempt.c: attempts */

/* Whether 'sig' is a KEYS_SIG_LEN signature of 'msg' for 'purpose' by
 * 'pk'.  'msg' and 'sig' may come from an untrusted peer. */
bool	coord_sig_ok(const uint8_t pk[static 32], const char *purpose,
	    const ProtobufCBinaryData *msg, const ProtobufCBinaryData *sig);

/* The result hash a RELEASE entry names: BLAKE2b-256 of the 'n' values
 * as little-endian int64. */
void	coord_result_hash(const int64_t *v, size_t n, uint8_t out[32]);

/*
 * The packed Release kept with a result (coord_store_result_put()):
 * query 'query_id', the 'n' sorted participant 'names', the result hash,
 * the noise variance, the exact 95% half-width of 'var', 'cells' values
 * and the RELEASE entry's 'log_index'.  One function, so that the
 * startup check (coord_verify.c) rebuilds the same bytes.
 */
int	coord_release_pack(const char *query_id, char **names, size_t n,
	    const uint8_t rhash[32], uint64_t var, size_t cells,
	    uint64_t log_index, uint8_t **packed, size_t *plen)
	    __attribute__((warn_unused_result));

/* Whether 's' is a query id: 1 to COORD_QUERY_ID_MAX of [A-Za-z0-9._:-]. */
bool	coord_query_id_ok(const char *s);

/*
 * Coverage before spending: unless the query asks allow_missing_months,
 * every data-month attempt 'a' reads must be one each participant's
 * newest POLICY declares it holds (a POLICY that declares none is not
 * checked).  CAIRN_ERR_POLICY naming the holder and the month otherwise,
 * '*field' set.  Called on SubmitQuery before the QUERY is logged, so a
 * refused query charges nothing.
 */
int	coord_attempt_coverage(const struct coord *c, const struct attempt *a,
	    const char **field) __attribute__((warn_unused_result));

/*
 * Check the signed query 'sq' (untrusted) from analyst 'caller' and build
 * an attempt for it (not linked, number 0) into '*out'.  '*field' names
 * the field at fault on error.  Free with coord_attempt_free().
 */
int	coord_attempt_build(struct coord *c, const char *caller,
	    const Cairn__V1__SignedQuery *sq, struct attempt **out,
	    const char **field) __attribute__((warn_unused_result));
/* Free 'a' (not linked; NULL is fine). */
void	coord_attempt_free(struct attempt *a);

/* The open attempt of 'query_id', or NULL. */
struct attempt *coord_attempt_find(struct coord *c, const char *query_id);
/*
 * The open attempt of 'query_id' into '*out'.  Otherwise the store's error
 * for a query it does not know (CAIRN_ERR_NOTFOUND), or CAIRN_ERR_STATE
 * when the query has no attempt open.
 */
int	coord_attempt_open(struct coord *c, const char *query_id,
	    struct attempt **out) __attribute__((warn_unused_result));
/* Participant 'name' of 'a', or NULL. */
struct part *coord_part_find(struct attempt *a, const char *name);
/* Free what 'sh' holds and zero it. */
void	coord_share_clear(struct share_in *sh);
/* Whether 'a' still takes advertisements (no round yet, or advertising). */
bool	coord_attempt_advertising(const struct attempt *a);

/* Open attempt 'a' now (deadlines from the config), link it, and hand it
 * to waiting nodes.  'a' belongs to c->open from then on. */
void	coord_attempt_start(struct coord *c, struct attempt *a);
/* Log a FAILURE for 'a' with 'reason', record 'state', answer its
 * waiters, unlink and free 'a'. */
void	coord_attempt_fail(struct coord *c, struct attempt *a,
	    enum coord_qstate state, const char *reason);
/*
 * Every share of 'a' is in and the check cell holds: keep the result, log
 * RELEASE, mark the query released, answer its waiters, unlink and free
 * 'a' (or fail it when any step fails).
 */
void	coord_attempt_release(struct coord *c, struct attempt *a);

/* -------------------------------------------- coord_attempt.c: waiters */

/*
 * Hold 'call' of the caller as a waiter of method 'm' for up to 'wait_ms'
 * (capped by the call's own deadline and COORD_MAX_WAIT_MS), within the
 * [limits] on long polls per member and for all (CAIRN_ERR_TOOBIG naming
 * the limit).  '*out' is linked in c->waiters; the caller fills its
 * method's fields.
 */
int	coord_park(struct coord *c, struct transport_call *call,
	    enum proto_method m, uint32_t wait_ms, struct waiter **out)
	    __attribute__((warn_unused_result));
/* Unlink and free waiter 'w' (its call answered already). */
void	coord_waiter_remove(struct coord *c, struct waiter *w);
/* Hand tasks to the nodes waiting in PollTask. */
void	coord_dispatch(struct coord *c);
/* Answer the GetRoster waiters of 'a': the roster, or 'code' and 'why'. */
void	coord_roster_wake(struct coord *c, struct attempt *a, int code,
	    const char *why);
/*
 * The GetQuery long polls (of 'query_id', or all when NULL) whose query
 * changed state, or every one when 'all_due' and their time is up, are
 * answered with the status as it is.
 */
void	coord_query_wake(struct coord *c, const char *query_id, bool all_due);

/* -------------------------------------------- coord_attempt.c: replies */

/* The attempt to hand node 'name' now (its participant in '*pp'), or
 * NULL. */
struct attempt *coord_task_for(struct coord *c, const char *name,
	    struct part **pp);
/* Answer PollTask 'call' with the task of 'a' and proofs from the node's
 * 'last_seen' log size: COORD_HELD, or an error with the call unanswered. */
int	coord_task_reply(struct coord *c, struct transport_call *call,
	    struct attempt *a, uint64_t last_seen);
/* Answer GetRoster 'call' with the advertisements of 'a': CAIRN_OK once
 * answered, or an error with the call unanswered. */
int	coord_roster_reply(struct coord *c, struct transport_call *call,
	    struct attempt *a);
/* Fill 'st' (and 'mid') from 'row'; 'st' borrows strings from 'row'.
 * Release with coord_status_clear() in every case. */
int	coord_status_fill(struct coord *c, struct coord_query_row *row,
	    Cairn__V1__QueryStatus *st, Cairn__V1__MemberId *mid);
void	coord_status_clear(Cairn__V1__QueryStatus *st);
/*
 * Answer a GetQuery for 'query_id' with its status, unless 'wait' and
 * the status still shows (seen_state, seen_attempt): then return
 * CAIRN_OK without answering.  COORD_HELD once answered.
 */
int	coord_query_reply(struct coord *c, struct transport_call *call,
	    const char *query_id, bool wait, int seen_state,
	    uint32_t seen_attempt);

/* ------------------------------------------------------------ handlers */

/*
 * The handlers of one method each: 'req' is the unpacked request (from a
 * peer, untrusted), 'm' the authenticated caller.  Each returns
 * COORD_HELD when it answered (or kept) the call, else an error for the
 * method table to send, '*field' naming the request field at fault.
 */

/* coord_analyst.c */
int	coord_do_submit(struct coord *c, struct transport_call *call,
	    const Cairn__V1__SignedQuery *sq, const char **field);
int	coord_do_get_query(struct coord *c, struct transport_call *call,
	    const Cairn__V1__GetQueryRequest *req, const char **field);
int	coord_do_list(struct coord *c, struct transport_call *call,
	    const Cairn__V1__ListQueriesRequest *req, const char **field);
int	coord_do_result(struct coord *c, struct transport_call *call,
	    const Cairn__V1__GetResultRequest *req, const char **field);

/* coord_node.c */
int	coord_do_poll(struct coord *c, struct transport_call *call,
	    const Cairn__V1__PollTaskRequest *req, const char **field);
int	coord_do_refuse(struct coord *c, struct transport_call *call,
	    const Cairn__V1__SignedRefusal *sr, const struct keys_member *m,
	    const char **field);
int	coord_do_advertise(struct coord *c, struct transport_call *call,
	    const Cairn__V1__SignedAdvertisement *sa,
	    const struct keys_member *m, const char **field);
int	coord_do_roster(struct coord *c, struct transport_call *call,
	    const Cairn__V1__GetRosterRequest *req, const char **field);
int	coord_do_share(struct coord *c, struct transport_call *call,
	    const Cairn__V1__MaskedShareChunk *ck, const struct keys_member *m,
	    const char **field);
int	coord_do_cosign(struct coord *c, struct transport_call *call,
	    const Cairn__V1__Cosignature *cs, const struct keys_member *m,
	    const char **field);
int	coord_do_policy(struct coord *c, struct transport_call *call,
	    const Cairn__V1__SignedPolicy *sp, const struct keys_member *m,
	    const char **field);

/* coord_logread.c */
int	coord_do_checkpoint(struct coord *c, struct transport_call *call,
	    const Cairn__V1__GetCheckpointRequest *req);
int	coord_do_entries(struct coord *c, struct transport_call *call,
	    const Cairn__V1__GetEntriesRequest *req, const char **field);
int	coord_do_inclusion(struct coord *c, struct transport_call *call,
	    const Cairn__V1__GetInclusionProofRequest *req,
	    const char **field);
int	coord_do_consistency(struct coord *c, struct transport_call *call,
	    const Cairn__V1__GetConsistencyProofRequest *req,
	    const char **field);

/* ------------------------------------- coord_monitor.c: monitoring */

/*
 * Register the coordinator's metrics and start the listeners its config
 * asks for ([monitoring] listen, health_listen).  Returns CAIRN_OK or the
 * listener's error; coord_monitor_stop() undoes it either way.
 */
int	coord_monitor_start(struct coord *c)
	    __attribute__((warn_unused_result));
void	coord_monitor_stop(struct coord *c);

/*
 * Whether the coordinator can do its work: data_dir, coord.db and log.db
 * writable and the identity key signing.  False with a one-line reason in
 * 'why' ('n' bytes).  Takes no lock; reads only 'c->cfg' and 'c->id'.
 */
bool	coord_ready(struct coord *c, char *why, size_t n);

/* Count an attempt started; count and time one ended in state 's'. */
void	coord_metrics_attempt_started(void);
void	coord_metrics_attempt_ended(const struct attempt *a,
	    enum coord_qstate s);

#endif
