/*
 * tlog_member.h - the bodies of MEMBER and POLICY log entries and the
 * membership they replay to (docs/tlog.md, docs/audit.md).
 *
 * A MEMBER entry records one change of federation.conf as the coordinator
 * saw it when it started: a member added or removed, with its role, name,
 * identity key and certificate fingerprint (body: a MemberChange message,
 * signed by the coordinator with purpose "member").  A POLICY entry is a
 * node's own policy as it published it (body: a Policy message, signed by
 * the node with purpose "policy").  Replaying the MEMBER entries of a log
 * in order gives the membership at every index; auditors check each
 * QUERY and CHARGE against the membership and the policy in force then.
 * Every input here may be hostile.
 */
#ifndef CAIRN_TLOG_MEMBER_H
#define CAIRN_TLOG_MEMBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys/keys_federation.h"
#include "protocol/cairn.pb-c.h"
#include "protocol/tlog_entry.h"
#include "protocol/tlog_note.h"

/* One membership change (a MEMBER entry's body). */
struct tlog_member_change {
	bool			added;		/* false: removed */
	struct keys_member	m;		/* role, name, key, fingerprint */
	char			federation[KEYS_NAME_MAX + 1];
};

/*
 * Serialize 'c' as a MemberChange into a new buffer '*out' of '*len'
 * bytes (the caller frees it).  Returns CAIRN_OK or CAIRN_ERR_NOMEM.
 */
int	tlog_member_encode(const struct tlog_member_change *c, uint8_t **out,
	    size_t *len) __attribute__((warn_unused_result));

/*
 * Check the MEMBER entry 'e': its signature with the coordinator's key
 * 'pk' (purpose "member") over the body, then decode the body into '*c'
 * (role, a valid name, a 32-byte key, a 64-hex fingerprint).  Returns
 * CAIRN_OK, CAIRN_ERR_SIGNATURE or CAIRN_ERR_FORMAT naming the field.
 */
int	tlog_member_decode(const struct tlog_entry *e,
	    const uint8_t pk[static 32], struct tlog_member_change *c)
	    __attribute__((warn_unused_result));

/* A membership: the members in force (growing; capped). */
struct tlog_roster {
	struct keys_member	*v;
	size_t			 n, cap;
};

/*
 * Apply 'c' to 'r': an addition adds or replaces the member of that role
 * and name, a removal removes it.  Returns CAIRN_OK, CAIRN_ERR_NOTFOUND
 * (removing a member that is not there; 'r' unchanged), CAIRN_ERR_TOOBIG
 * (over KEYS_FEDERATION_MAX_MEMBERS) or CAIRN_ERR_NOMEM.
 */
int	tlog_roster_apply(struct tlog_roster *r,
	    const struct tlog_member_change *c)
	    __attribute__((warn_unused_result));
/* The member of 'role' and 'name' in 'r', or NULL (borrowed). */
const struct keys_member *tlog_roster_find(const struct tlog_roster *r,
	    enum keys_role role, const char *name);
void	tlog_roster_release(struct tlog_roster *r);

/*
 * The changes that take roster 'from' to the members of 'fed': removals
 * (of members gone or whose key or certificate changed) first, then
 * additions, each in federation.conf's order, into '*out' (a new array of
 * '*n' changes; the caller frees it).  Returns CAIRN_OK or
 * CAIRN_ERR_NOMEM.
 */
int	tlog_roster_diff(const struct tlog_roster *from,
	    const struct keys_federation *fed,
	    struct tlog_member_change **out, size_t *n)
	    __attribute__((warn_unused_result));

/*
 * Check the POLICY entry 'e': node_id names the node, the node's
 * signature with 'pk' (purpose "policy") verifies over the body, and the
 * body decodes to a Policy of that node with a budget and a
 * max_rho_per_query in [1, 10^18] nano-rho.  On success '*out' owns the
 * unpacked message (free with cairn__v1__policy__free_unpacked).
 * Returns CAIRN_OK, CAIRN_ERR_SIGNATURE or CAIRN_ERR_FORMAT.
 */
int	tlog_policy_decode(const struct tlog_entry *e,
	    const uint8_t pk[static 32], Cairn__V1__Policy **out)
	    __attribute__((warn_unused_result));

/* ---- witnesses: the federation's nodes cosign the log's checkpoints ---- */

/*
 * The default witness quorum: a majority of the node members of 'fed',
 * floor(n/2) + 1 (0 when it enrols no node).  Two views of the log that
 * each carry this many cosignatures share an honest witness, which would
 * have refused the second (docs/threat-model.md).
 */
size_t	tlog_fed_majority(const struct keys_federation *fed);

/*
 * The log key of 'fed': the identity key of its coordinator 'coord' as a
 * note verifier named "cairn/<federation>" (the checkpoints' origin).
 */
void	tlog_fed_log_key(const struct keys_federation *fed,
	    const struct keys_member *coord, struct tlog_verifier *out);

/*
 * Count into '*nvalid' the node members of 'fed' whose witness
 * cosignature (type 0x04) on the signed note note[0..len) verifies; other
 * lines are ignored.  Returns CAIRN_OK, CAIRN_ERR_FORMAT (not a signed
 * note) or CAIRN_ERR_NOMEM.  The note may be hostile.
 */
int	tlog_fed_cosignatures(const char *note, size_t len,
	    const struct keys_federation *fed, size_t *nvalid)
	    __attribute__((warn_unused_result));

#endif
