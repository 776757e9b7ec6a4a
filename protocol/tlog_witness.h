/*
 * tlog_witness.h - a witness of transparency logs (C2SP tlog-witness
 * semantics): it keeps, per log origin, the latest checkpoint it
 * cosigned, and cosigns a new checkpoint only after checking the log's
 * signature and a consistency proof from that latest checkpoint.
 *
 * A checkpoint that differs from the latest at the same size is proof
 * that the log equivocated (a fork): both signed notes are kept as
 * evidence and the witness refuses every later checkpoint of that log.
 * A consistency proof that does not verify is also kept as evidence,
 * and refused.  State lives in a small SQLite file (WAL, synchronous =
 * FULL) so it survives restarts; one struct tlog_witness per thread.
 */
#ifndef CAIRN_TLOG_WITNESS_H
#define CAIRN_TLOG_WITNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/tlog.h"
#include "protocol/tlog_note.h"

struct tlog_witness;

/* What a witness was asked to cosign. */
struct tlog_witness_req {
	const char			*note;	/* signed checkpoint */
	size_t				 note_len;
	const struct tlog_verifier	*log_keys;	/* the log's keys */
	size_t				 nkeys;
	size_t				 quorum;	/* of log_keys */
	uint64_t			 old_size;	/* proof from */
	const uint8_t			(*proof)[TLOG_HASH_LEN];
	size_t				 proof_len;
};

/* Open (creating when missing) the witness state file 'path'. */
int	tlog_witness_open(const char *path, struct tlog_witness **out)
	    __attribute__((warn_unused_result));

/* Close; NULL is accepted. */
void	tlog_witness_close(struct tlog_witness *w);

/*
 * The latest checkpoint cosigned for 'origin': its body in '*cp' and,
 * when 'note' is not NULL, the signed note as received in a new
 * NUL-terminated buffer (caller frees).  CAIRN_ERR_NOTFOUND when the
 * witness has cosigned nothing for 'origin'.
 */
int	tlog_witness_latest(struct tlog_witness *w, const char *origin,
	    struct tlog_checkpoint *cp, char **note, size_t *len)
	    __attribute__((warn_unused_result));

/*
 * Handle 'req': refuse a proof over TLOG_MAX_PROOF hashes
 * (CAIRN_ERR_TOOBIG), verify the note with the log's keys, then, against the
 * latest checkpoint of its origin (size 0 and the empty root when none):
 *  - CAIRN_ERR_CONFLICT if evidence of a fork of this log is on record;
 *  - CAIRN_ERR_STATE if req->old_size is not the latest size (the caller
 *    should fetch tlog_witness_latest() and retry);
 *  - CAIRN_ERR_RANGE if the checkpoint is smaller than the latest;
 *  - CAIRN_ERR_CONFLICT, evidence kept, if it has the latest size but a
 *    different root (a fork), or the consistency proof from the latest
 *    does not verify (size 0 takes an empty proof, C2SP tlog-witness);
 * otherwise record it as the latest, cosign it at 'now' through 'signer'
 * and write the cosignature line (with '\n') into 'line' (room for 'cap'
 * bytes).  Signature failures give CAIRN_ERR_SIGNATURE and keep nothing.
 */
int	tlog_witness_add(struct tlog_witness *w,
	    const struct tlog_witness_req *req, const struct tlog_signer *signer,
	    uint64_t now, char *line, size_t cap)
	    __attribute__((warn_unused_result));

/* Number of evidence records kept for 'origin' (all origins if NULL). */
int	tlog_witness_evidence_count(struct tlog_witness *w, const char *origin,
	    uint64_t *n) __attribute__((warn_unused_result));

/* True when a fork (two roots for one size) of 'origin' is on record. */
bool	tlog_witness_has_fork(struct tlog_witness *w, const char *origin);

#endif
