/*
 * ledger.h - a node's privacy ledger: every charge it has made, the spend
 * per data-month, and the noisy vectors of rounds still open.
 *
 * The ledger is the node's promise that it never spends more privacy
 * budget than its policy allows and never under-counts after a crash.  A
 * charge, the noisy vector it pays for and the daemon's record that sends
 * it to the log are written in one SQLite transaction (WAL,
 * synchronous=FULL) before anything derived from the data leaves the
 * process; a charge is never refunded or edited, except that
 * the transparency-log index of its CHARGE entry is filled in once known.
 *
 * Privacy loss is kept in nano-ρ (int64, 1 ρ = 10^9), exactly the count
 * the signed query carries (common/rho.h: one representation from the
 * spec to the log), so sums and budget comparisons are exact integer
 * arithmetic.  A data-month is
 * year·12 + (month − 1) of the calendar month of the data a query reads.
 */
#ifndef CAIRN_NODE_LEDGER_H
#define CAIRN_NODE_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LEDGER_NANO		INT64_C(1000000000)	/* nano-ρ per ρ */
#define LEDGER_MAX_MONTHS	240	/* data-months one query may read */
#define LEDGER_MAX_CELLS	(INT64_C(1) << 27)	/* stored vector cells */
#define LEDGER_MAX_LABEL	1024

struct node_ledger;

/* One key and value of the daemon's state table (node_ledger_state_*). */
struct node_ledger_kv {
	const char	*key;
	const void	*val;
	size_t		 len;
};

/* What one charge pays for, as given to node_ledger_charge(). */
struct node_ledger_charge_req {
	uint8_t		 query_hash[32];
	uint8_t		 pset_hash[32];	/* hash of the participant set */
	const int32_t	*months;	/* distinct data-months read */
	size_t		 nmonths;
	/* charged to each month, > 0; with month_rho_nano, the largest */
	int64_t		 rho_nano;
	/* NULL, or each month's own charge (nmonths values, each > 0 and
	   <= rho_nano): dp_requirement's rho_m */
	const int64_t	*month_rho_nano;
	int64_t		 budget_nano;	/* the policy's budget per month */
	const char	*label;		/* kind, analyst, purpose: display */
	const char	*query_id;	/* the analyst's id (may be NULL) */
	uint64_t	 noise_variance;	/* sigma_h^2 of the noise */
	const int64_t	*cells;		/* the noisy vector to keep; NULL
					   (ncells 0): none, the round is
					   closed from the start */
	size_t		 ncells;
	const struct node_ledger_kv *state;	/* state rows written in
						   the same transaction */
	size_t		 nstate;
};

/* One charge as read back, for `cairn-node ledger show|export`. */
struct node_ledger_entry {
	int64_t		 id;
	uint8_t		 query_hash[32];
	uint8_t		 pset_hash[32];
	int64_t		 created;	/* unix seconds */
	/* per month; the largest when the months were charged apart */
	int64_t		 rho_nano;
	const int32_t	*months;
	const int64_t	*month_rho_nano; /* each month's charge */
	size_t		 nmonths;
	int64_t		 log_index;	/* -1 while not yet logged */
	bool		 vector_kept;	/* the round is still open */
	const char	*label;
	const char	*query_id;
	int64_t		 budget_nano;	/* budget per month when charged */
	uint64_t	 noise_variance;
};

/* The latest charge of a query, from node_ledger_find_query(). */
struct node_ledger_round {
	int64_t		 id;
	uint8_t		 pset_hash[32];
	int64_t		 created;
	int64_t		 log_index;	/* -1 while not yet logged */
	bool		 vector_kept;
};

/* One data-month of a charge and the month's spend up to that charge. */
struct node_ledger_month {
	int32_t		 month;
	int64_t		 rho_nano;
	int64_t		 cumulative_nano;
};

/*
 * Open (creating when absent, mode 0600, never through a symlink) the
 * ledger database at 'path'.  Returns CAIRN_OK and '*out', CAIRN_ERR_PERM
 * when the file is readable by group or others, or CAIRN_ERR_DB/IO with
 * the detail naming the file.
 */
int	node_ledger_open(const char *path, struct node_ledger **out)
	    __attribute__((warn_unused_result));
void	node_ledger_free(struct node_ledger *l);

/* The data-month of a day number (days since 1970-01-01). */
int32_t	ledger_month_of_day(int64_t day);

/*
 * Charge 'req' durably: in one transaction, check that every month's spend
 * plus its charge (req->month_rho_nano[i], or req->rho_nano for every
 * month when that is NULL) stays within req->budget_nano, record the
 * charge, keep the noisy vector (when req->cells is not NULL) and write
 * the req->nstate rows of req->state to the state table (the daemon's
 * re-send record of the charge: a charge is never on disk without what
 * sends it to the log); the transaction is on disk when this returns.
 * Returns CAIRN_OK and the charge's id in '*id', CAIRN_ERR_BUDGET (the
 * detail names the month, its spend and the budget) with nothing written,
 * CAIRN_ERR_ARG / CAIRN_ERR_TOOBIG for a malformed request, or
 * CAIRN_ERR_DB with nothing written (a full disk under any row rolls
 * back all of them).  Fault point "node.before_charge_commit": every row
 * written, the transaction not yet committed.
 */
int	node_ledger_charge(struct node_ledger *l,
	    const struct node_ledger_charge_req *req, int64_t *id)
	    __attribute__((warn_unused_result));

/*
 * Find the open charge for 'query_hash' and 'pset_hash' (one whose vector
 * is still kept): a retry of the same round reuses it rather than drawing
 * new noise.  Returns CAIRN_OK with '*id' and, when 'cells' is not NULL, a
 * malloc'd copy of the vector in '*cells' and '*ncells' (caller frees);
 * CAIRN_ERR_NOTFOUND when there is none; CAIRN_ERR_DB.
 */
int	node_ledger_find_open(struct node_ledger *l,
	    const uint8_t query_hash[static 32], const uint8_t pset_hash[static 32],
	    int64_t *id, int64_t **cells, size_t *ncells)
	    __attribute__((warn_unused_result));

/*
 * The round of charge 'id' is over: delete its kept vector (SQLite's
 * secure_delete overwrites the freed pages).  The charge stays.
 * Returns CAIRN_OK, CAIRN_ERR_NOTFOUND, or CAIRN_ERR_DB.
 */
int	node_ledger_close_round(struct node_ledger *l, int64_t id)
	    __attribute__((warn_unused_result));

/*
 * Record the transparency-log index of charge 'id''s CHARGE entry.  Setting
 * the same index again is a no-op; a different one is CAIRN_ERR_CONFLICT.
 */
int	node_ledger_set_log_index(struct node_ledger *l, int64_t id,
	    uint64_t log_index) __attribute__((warn_unused_result));

/* A CHARGE entry of this node read back from the transparency log. */
struct node_ledger_logged {
	uint8_t		 query_hash[32];
	const char	*query_id;
	const int32_t	*months;	/* data-months of the entry */
	const int64_t	*rho_nano;	/* charged to each month, > 0 */
	const int64_t	*cumulative_nano; /* the entry's spend per month */
	size_t		 nmonths;
	int64_t		 budget_nano;
	uint64_t	 noise_variance;
	uint64_t	 log_index;
};

/*
 * Make the ledger count at least what the log shows the node spent, in
 * one transaction: when 'insert', record the logged charge 'lg' (whose
 * query the ledger does not hold: a ledger restored from a backup, or
 * deleted) as a charge known from the log, with its log index and no
 * vector; then, for each month whose spend is still below the entry's
 * cumulative, record the difference as a charge of that month alone.
 * No budget check: this is spend that happened.  '*added' (may be NULL)
 * gets the nano-ρ added over all months.  Returns CAIRN_OK, CAIRN_ERR_ARG
 * or CAIRN_ERR_DB.
 */
int	node_ledger_absorb_logged(struct node_ledger *l,
	    const struct node_ledger_logged *lg, bool insert, int64_t *added)
	    __attribute__((warn_unused_result));

/* Total nano-ρ charged to data-month 'month' into '*spent'. */
int	node_ledger_spent(struct node_ledger *l, int32_t month, int64_t *spent)
	    __attribute__((warn_unused_result));

/*
 * Call 'fn' for every charge in id order; the entry's pointers are valid
 * only during the call.  Stops at, and returns, the first non-zero value
 * 'fn' returns; otherwise CAIRN_OK or CAIRN_ERR_DB.
 */
int	node_ledger_foreach(struct node_ledger *l,
	    int (*fn)(const struct node_ledger_entry *, void *), void *ctx);

/*
 * The latest charge for 'query_hash' (whatever its participant set, open
 * or closed) into '*out'.  CAIRN_ERR_NOTFOUND when the query was never
 * charged; CAIRN_ERR_DB.
 */
int	node_ledger_find_query(struct node_ledger *l,
	    const uint8_t query_hash[static 32], struct node_ledger_round *out)
	    __attribute__((warn_unused_result));

/*
 * The data-months of charge 'id', ascending, with its ρ and the month's
 * cumulative spend including this charge and every earlier one (a pure
 * function of the rows, so a retry restates the same figures), into
 * 'out' (room for 'cap'); '*n' gets the count.  CAIRN_ERR_NOTFOUND,
 * CAIRN_ERR_TOOBIG, CAIRN_ERR_DB.
 */
int	node_ledger_charge_months(struct node_ledger *l, int64_t id,
	    struct node_ledger_month *out, size_t cap, size_t *n)
	    __attribute__((warn_unused_result));

/* Budget per month and noise variance recorded with charge 'id'. */
int	node_ledger_charge_params(struct node_ledger *l, int64_t id,
	    int64_t *budget_nano, uint64_t *noise_variance)
	    __attribute__((warn_unused_result));

/*
 * Delete the kept vectors of every charge created before 'before' (unix
 * seconds): their retention period is over, and a later retry is refused
 * rather than charged again.  '*n' (may be NULL) gets how many.
 */
int	node_ledger_expire(struct node_ledger *l, int64_t before, uint64_t *n)
	    __attribute__((warn_unused_result));

/*
 * A small durable key/value store for the daemon's own state (the log
 * position it has read up to).  get: CAIRN_OK with '*len', or
 * CAIRN_ERR_NOTFOUND, CAIRN_ERR_TOOBIG (value over 'cap'), CAIRN_ERR_DB.
 */
int	node_ledger_state_get(struct node_ledger *l, const char *key,
	    void *buf, size_t cap, size_t *len)
	    __attribute__((warn_unused_result));
int	node_ledger_state_set(struct node_ledger *l, const char *key,
	    const void *buf, size_t len) __attribute__((warn_unused_result));
/*
 * Write the 'n' rows of 'kv' in one transaction: all of them are on disk
 * when this returns CAIRN_OK, none after CAIRN_ERR_DB.
 */
int	node_ledger_state_setv(struct node_ledger *l,
	    const struct node_ledger_kv *kv, size_t n)
	    __attribute__((warn_unused_result));

#endif
