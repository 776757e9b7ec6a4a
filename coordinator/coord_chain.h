/*
 * coord_chain.h - each node's logged spend per data-month, and the check
 * that a new charge continues it.
 *
 * A node's CHARGE entries form one chain per data-month: the first charge
 * of a month has cumulative = ρ, every later one cumulative = the
 * previous logged cumulative + ρ, all in nano-ρ and compared exactly.  A
 * node whose ledger was restored from a backup or deleted would advertise
 * a cumulative below the log's; the coordinator refuses that charge, so
 * no charge that under-counts a holder's spend is logged or used.
 *
 * The chain is derived from the log only: coord_log_open()'s scan notes
 * every CHARGE entry, coord_log_append() every new one, so it is the same
 * after a restart.  No I/O here: decisions only, for unit tests.
 */
#ifndef CAIRN_COORD_CHAIN_H
#define CAIRN_COORD_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/tlog_entry.h"

/* (node, month) pairs kept at most: the check refuses beyond. */
#define COORD_CHAIN_MAX		(1u << 22)

struct coord_chain_item {
	char		 node[257];
	uint32_t	 month;		/* YYYYMM */
	uint64_t	 cumulative_nano;
};

/* Sorted by (node, month); zero-initialise, release with _release(). */
struct coord_chain {
	struct coord_chain_item	*v;
	size_t			 n, cap;
};

void	coord_chain_release(struct coord_chain *cc);

/* The last logged cumulative of 'node' for 'month', 0 when none. */
uint64_t coord_chain_last(const struct coord_chain *cc, const char *node,
	    uint32_t month);

/*
 * Note the logged CHARGE entry 'e' (other types are ignored): each of
 * its months' cumulative becomes that node's last for the month (the
 * larger one is kept, should a log hold a broken chain).  Returns
 * CAIRN_OK, CAIRN_ERR_NOMEM or CAIRN_ERR_TOOBIG (over COORD_CHAIN_MAX).
 */
int	coord_chain_note(struct coord_chain *cc, const struct tlog_entry *e)
	    __attribute__((warn_unused_result));

/*
 * The one check of a charge's amounts: node 'node' charges the 'n' months
 * of 'ch' (hostile: from the node's signed Charge); for each month i the
 * charge's ρ must be 'rho_nano[i]' (what dp_requirement() charges that
 * month of the query), its
 * cumulative at most 'budget_nano' and exactly the node's last logged
 * cumulative for the month plus ρ (the first charge of a month: ρ).
 * When the log already holds this node's CHARGE for the same query (a
 * retry restating it), 'logged' holds that entry's 'nlogged' months and
 * the charge must repeat them exactly instead.  Returns CAIRN_OK,
 * CAIRN_ERR_ARG for a month whose ρ is not the query's (a malformed
 * charge), or CAIRN_ERR_BUDGET for a cumulative that breaks the chain or
 * the budget; the detail names the node, the month, the expected and the
 * given values, '*bad' the index of the month at fault.
 */
int	coord_chain_check(const struct coord_chain *cc, const char *node,
	    const struct tlog_charge *ch, size_t n, const uint64_t *rho_nano,
	    uint64_t budget_nano, const struct tlog_charge *logged,
	    size_t nlogged, size_t *bad) __attribute__((warn_unused_result));

#endif
