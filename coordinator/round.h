/*
 * round.h - the coordinator's state machine for one secure-aggregation
 * round (DESIGN §6, steps 2-5), with no I/O: the service layer verifies
 * signatures and decodes messages, then feeds them here; this module
 * decides what each message means for the round.
 *
 * A round goes ADVERTISING (waiting for every participant's ephemeral key
 * or a refusal) -> MASKING (roster fixed; waiting for every masked share)
 * -> SUMMED, or to FAILED from either waiting phase: any refusal, a missed
 * deadline, or a sum whose check cell shows the nodes did not agree on the
 * roster.  All-or-nothing: there is no partial sum.  Masked shares are
 * added into one accumulator as they arrive, so memory is one vector
 * whatever the number of nodes; a resent share must be byte-identical
 * (its BLAKE2b-256 is kept), and a different one is equivocation.
 */
#ifndef CAIRN_COORD_ROUND_H
#define CAIRN_COORD_ROUND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/secagg.h"

/* Cells in one round's vector (the check cell included). */
#define COORD_ROUND_MAX_CELLS	(UINT64_C(1) << 27)

enum coord_phase {
	COORD_ADVERTISING,
	COORD_MASKING,
	COORD_SUMMED,
	COORD_FAILED
};

struct coord_round;

/*
 * Start a round for the query whose hash is 'qhash' among the 'n'
 * participants whose identity keys are 'ids' (any order; no duplicates),
 * with vectors of 'ncells' cells including the check cell.  The
 * advertising phase ends at 'advertise_deadline' and the masking phase at
 * 'share_deadline' (unix seconds).  Returns CAIRN_OK and '*out', or
 * CAIRN_ERR_ARG / CAIRN_ERR_TOOBIG / CAIRN_ERR_NOMEM.
 */
int	coord_round_new(const uint8_t qhash[static 32],
	    const uint8_t (*ids)[32], size_t n, size_t ncells,
	    int64_t advertise_deadline, int64_t share_deadline,
	    struct coord_round **out) __attribute__((warn_unused_result));
void	coord_round_free(struct coord_round *r);

enum coord_phase coord_round_phase(const struct coord_round *r);
/* Why the round failed ("" unless COORD_FAILED). */
const char	*coord_round_failure(const struct coord_round *r);

/*
 * Participant 'id' advertises ephemeral key 'epk'.  The same
 * advertisement again is accepted (a retry); a different key from the same
 * node is CAIRN_ERR_CONFLICT and fails the round.  Returns CAIRN_OK,
 * CAIRN_ERR_UNAUTH for a non-participant, CAIRN_ERR_STATE outside the
 * advertising phase, CAIRN_ERR_CONFLICT.  When the last participant has
 * advertised the round moves to COORD_MASKING.
 */
int	coord_round_advertise(struct coord_round *r, const uint8_t id[static 32],
	    const uint8_t epk[static 32]) __attribute__((warn_unused_result));

/*
 * Participant 'id' refuses (its signed reason is logged by the caller):
 * the round fails.  Returns CAIRN_OK, CAIRN_ERR_UNAUTH or CAIRN_ERR_STATE.
 */
int	coord_round_refuse(struct coord_round *r, const uint8_t id[static 32],
	    const char *reason) __attribute__((warn_unused_result));

/*
 * The roster, once every participant has advertised: 'n' members sorted
 * by id into 'out' and the session id into 'sid'.  Returns CAIRN_OK or
 * CAIRN_ERR_STATE before then.
 */
int	coord_round_roster(const struct coord_round *r,
	    struct secagg_member *out, size_t n, uint8_t sid[static 32])
	    __attribute__((warn_unused_result));

/*
 * Participant 'id' sends its masked vector 'y' of 'len' cells.  The same
 * bytes again are accepted; different ones are CAIRN_ERR_CONFLICT and fail
 * the round.  Returns CAIRN_OK, CAIRN_ERR_UNAUTH, CAIRN_ERR_STATE, or
 * CAIRN_ERR_FORMAT when 'len' is not the round's.  When the last share is
 * in, the check cell is verified: the round is COORD_SUMMED, or FAILED
 * (and this returns CAIRN_ERR_CONFLICT) when the nodes disagreed.
 */
int	coord_round_share(struct coord_round *r, const uint8_t id[static 32],
	    const uint64_t *y, size_t len) __attribute__((warn_unused_result));

/*
 * coord_round_share() for a caller that has the share's digest 'h'
 * (secagg_cells_digest() of 'y') already: the share is not hashed again.
 */
int	coord_round_share_digest(struct coord_round *r,
	    const uint8_t id[static 32], const uint64_t *y, size_t len,
	    const uint8_t h[static 32]) __attribute__((warn_unused_result));

/*
 * Fail the round if its current phase's deadline is before 'now'.
 * Returns true when this call failed it.
 */
bool	coord_round_expire(struct coord_round *r, int64_t now);

/* Fail the round with 'reason' (e.g. the coordinator is shutting down). */
void	coord_round_fail(struct coord_round *r, const char *reason);

/*
 * The released sum: the data cells (the check cell dropped) decoded as
 * int64 into 'out' ('n' = ncells − 1).  Returns CAIRN_OK or
 * CAIRN_ERR_STATE unless COORD_SUMMED.
 */
int	coord_round_result(const struct coord_round *r, int64_t *out, size_t n)
	    __attribute__((warn_unused_result));

/* Number of participants that have advertised / sent their share. */
size_t	coord_round_advertised(const struct coord_round *r);
size_t	coord_round_shared(const struct coord_round *r);

#endif
