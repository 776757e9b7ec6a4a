/*
 * node_daemon_fixture.h - the shared fixture of the node daemon's tests
 * (node_daemon_fixture.c): the fake coordinator's state, the node under
 * test ("na") and the helpers that build queries and tasks.  Each test
 * program runs its cases with ndf_setup/ndf_teardown under
 * ndf_group_setup/ndf_group_teardown.
 */
#ifndef CAIRN_TESTS_NODE_DAEMON_FIXTURE_H
#define CAIRN_TESTS_NODE_DAEMON_FIXTURE_H

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "keys/keys.h"
#include "node/daemon_int.h"
#include "node/ledger.h"
#include "protocol/tlog_entry.h"

/* ρ as a test writes it (a double) to nano-ρ. */
#define NANO(x)	((uint64_t)llround((double)(x) * 1e9))

#define FED	"testfed"
#define NREG	4

/* What the default query (presence, k = 1, two days of January 2026, rho
   0.5, 2 nodes) charges its month, nano-rho: see test_retry_reuses_vector. */
#define RHO_M	INT64_C(333333335)

/* How the fake's GetRoster spoils the roster it returns. */
enum roster_mode { RM_OK, RM_MISSING, RM_DUP, RM_UNSIGNED, RM_ATTEMPT };

/* The fake coordinator's state, shared with its handler threads. */
struct ndf_fake {
	pthread_mutex_t	 mu;
	uint8_t		*leaf[64];
	size_t		 leaflen[64];
	uint64_t	 size;
	char		*note;		/* signed checkpoint of 'size' */
	uint8_t		*task;		/* packed Task for PollTask */
	size_t		 tasklen;
	int		 cosigns, refusals, adverts;
	uint8_t		 refusal[4096];
	size_t		 refusal_len;
	uint8_t		 refusal_sig[64];
	uint8_t		 own_ad[4096], own_sig[64];
	size_t		 own_len;
	uint8_t		 nb_ad[4096], nb_sig[64];
	size_t		 nb_len;
	enum roster_mode mode;
	uint64_t	*share;
	size_t		 share_cells, share_got;
	uint8_t		 manifest[1024], manifest_sig[64];
	size_t		 manifest_len;
	uint8_t		 qhash[32];
	bool		 charged_at_advertise;
	bool		 marked_at_advertise;	/* advertised/<q>/<attempt> */
	bool		 pending_at_advertise;	/* resend/<q> not empty */
	int		 resends_at_refusal;
	bool		 fail_advertise;
	int		 advertise_code;	/* fail Advertise with it */
	int		 resend_code;	/* fail key-less ones with it */
	int		 resends;	/* key-less advertisements */
	uint8_t		 resend_ad[4096], resend_sig[64];
	size_t		 resend_len;
	int		 fail_chunk;	/* chunk index + 1 to refuse */
	int		 share_calls;
	bool		 split;		/* GetCheckpoint: no cosignatures */
	/*
	 * When not 0, the one checkpoint size the witnesses cosigned:
	 * served (with the cosignatures) to a GetCheckpoint asking for
	 * them; the latest is served bare otherwise.
	 */
	uint64_t	 quorum_size;
	int		 quorum_asks;	/* GetCheckpoints asking for them */
	char		 ledger_path[128];
};

extern struct ndf_fake fk;

/* The members' identity keys (coordinator, nodes na and nb, analysts). */
extern struct keys_identity *i_coord, *i_na, *i_nb, *i_nso, *i_eve;

/* Per test: the node under test and what it was built from. */
extern char ledger_path[128];
extern struct node_config cfg;
extern struct node_ledger *ledger;
extern struct tlog_witness *witness;
extern struct node_daemon *daemon_;

/* The steps the daemon reported (record_step() is its step hook). */
extern char *steps[64];
extern size_t nsteps;
void	record_step(const char *s, void *arg);
bool	saw_step(const char *s);

/* The test vector source: fail it, or give it a length (0: the domain). */
extern bool vector_fails;
extern uint64_t vector_cells;

/* Group and per-test setup of cmocka; ndf_setup() resets the fake. */
int	ndf_group_setup(void **state);
int	ndf_group_teardown(void **state);
int	ndf_setup(void **state);
int	ndf_teardown(void **state);

/* Reopen ledger, witness, client and daemon from disk: a node restart. */
void	restart_node(void **state);

/* The fake's log. */
char	*sign_checkpoint(const struct keys_identity *id, const char *name,
	    uint64_t size, const uint8_t root[32]);
void	 log_root(uint64_t size, uint8_t root[32]);
uint64_t log_append(const struct tlog_entry *e);

/*
 * The length of state row PREFIX<hex qhash>[/attempt] in ledger 'l'; -1
 * when absent.
 */
long	state_len(struct node_ledger *l, const char *prefix,
	    const uint8_t qhash[32], uint32_t attempt, bool with_attempt);

/* What a query says; qopts_default() gives the default query 'id'. */
struct qopts {
	const char	*id;
	const char	*federation;
	const char	*kind;
	double		 rho;
	const struct keys_identity *signer;
	const char	*analyst;
	const char	*geography;
	uint32_t	 holders;	/* h; 0 means 1 */
	bool		 bad_sig;
};

void	qopts_default(struct qopts *o, const char *id);

/* A task for a logged query: everything the coordinator would send. */
struct task_buf {
	Cairn__V1__Task		 t;
	Cairn__V1__SignedQuery	 sq;
	Cairn__V1__Checkpoint	 cp;
	Cairn__V1__InclusionProof ip;
	ProtobufCBinaryData	 ph[TLOG_MAX_PROOF];
	uint8_t			 proof[TLOG_MAX_PROOF][TLOG_HASH_LEN];
	uint8_t			*qbytes;
	uint8_t			 sig[64];
	uint8_t			 qhash[32];
	uint64_t		 index;
};

/* Log the query of 'o' and build its task. */
void	task_make(struct task_buf *tb, const struct qopts *o, uint32_t attempt);
/* Build the task again for 'attempt', under the log's newest checkpoint. */
void	task_fill(struct task_buf *tb, const char *id, uint32_t attempt);
void	task_free(struct task_buf *tb);

/* nb's advertisement for 'tb' at 'attempt', keeping its secret key. */
void	nb_advertise(const struct task_buf *tb, uint32_t attempt,
	    uint64_t cells, uint8_t esk[32], uint8_t epk[32]);

/* Unmask na's share with nb's key: the data cells are na's noisy vector. */
void	check_share(const struct task_buf *tb, const uint8_t nb_esk[32],
	    const uint8_t nb_epk[32], int64_t *out, size_t ncells);

/* The refusal the fake received: signature checked, fields decoded. */
Cairn__V1__Refusal *last_refusal(void);

/* The number of charges in the ledger. */
int	charges(void);

/* Run a task that must be refused with 'code'; nothing charged. */
void	expect_refusal(struct task_buf *tb, const char *code,
	    const char *words);

#endif
