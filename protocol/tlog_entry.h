/*
 * tlog_entry.h - the byte encoding of transparency-log entries.
 *
 * An entry's exact bytes are its Merkle leaf.  Layout (docs/tlog.md
 * describes it byte by byte): version (1 byte: 1, or 2 for a RELEASE that
 * carries the SHA-256 of its values), type (1 byte), time
 * (u64be seconds since the epoch), then the type's fields in a fixed
 * order; a byte-string field is u32be length || bytes, a hash is 32 raw
 * bytes, a real number is IEEE 754 binary64 big-endian.  Decoding accepts
 * exactly one encoding per entry: unknown versions and types, truncation,
 * overlong fields and trailing bytes are refused.
 *
 * The payloads are byte strings the federation fills (signed queries,
 * node signatures, signed membership changes and node policies); this
 * module only frames them.  Never put noise, raw per-node values or randomness
 * in an entry: the log is public.
 */
#ifndef CAIRN_TLOG_ENTRY_H
#define CAIRN_TLOG_ENTRY_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/tlog.h"

#define TLOG_ENTRY_VERSION	1	/* every type */
#define TLOG_ENTRY_VERSION_MAX	2	/* RELEASE only: adds result_sha256 */

enum tlog_entry_type {
	TLOG_ENTRY_QUERY = 1,	/* body: the analyst-signed query */
	TLOG_ENTRY_CHARGE = 2,	/* node_id, query_hash, charges, body
				   (the exact signed bytes), signature */
	TLOG_ENTRY_REFUSAL = 3,	/* node_id, query_hash, reason, body,
				   signature */
	TLOG_ENTRY_RELEASE = 4,	/* query_hash, participants, result_hash,
				   [version 2: result_sha256,] variance */
	TLOG_ENTRY_FAILURE = 5,	/* query_hash, reason */
	TLOG_ENTRY_MEMBER = 6,	/* body (a MemberChange), signature (the
				   coordinator's, purpose "member") */
	TLOG_ENTRY_POLICY = 7	/* node_id, body (a Policy), signature (the
				   node's, purpose "policy") */
};

/* Caps checked on encode and decode. */
#define TLOG_ENTRY_MAX_BODY		(512 * 1024)
#define TLOG_ENTRY_MAX_ID		256
#define TLOG_ENTRY_MAX_REASON		1024
#define TLOG_ENTRY_MAX_SIG		256
#define TLOG_ENTRY_MAX_CHARGES		240	/* data-months */
#define TLOG_ENTRY_MAX_PARTICIPANTS	256

/*
 * The charge of one data-month: ρ of this query and the month's total,
 * both in nano-ρ (common/rho.h), encoded as u64be.
 */
struct tlog_charge {
	uint32_t	month;		/* YYYYMM, e.g. 202403 */
	uint64_t	rho_nano;	/* zCDP rho charged, in [1, 10^18] */
	uint64_t	cumulative_nano; /* spent on the month, <= 10^18 */
};

/*
 * A decoded entry.  Byte strings point into the decoded buffer (or the
 * caller's data for encoding); fields a type does not use are ignored on
 * encode and zero after decode.
 */
struct tlog_entry {
	uint8_t			version;	/* 0 on encode: 1; version
						   2 is a RELEASE with
						   result_sha256 */
	enum tlog_entry_type	type;
	uint64_t		time;
	struct tlog_bytes	body;
	struct tlog_bytes	node_id;
	uint8_t			query_hash[TLOG_HASH_LEN];
	uint8_t			result_hash[TLOG_HASH_LEN];
	uint8_t			result_sha256[TLOG_HASH_LEN]; /* version 2 */
	struct tlog_bytes	reason;
	struct tlog_bytes	signature;
	double			variance;
	size_t			ncharges;
	struct tlog_charge	charges[TLOG_ENTRY_MAX_CHARGES];
	size_t			nparticipants;
	struct tlog_bytes	participants[TLOG_ENTRY_MAX_PARTICIPANTS];
};

/* "QUERY", "CHARGE", ... or NULL for an unknown type. */
const char	*tlog_entry_type_name(int type);

/*
 * Encode 'e' into 'out' (room for 'cap' bytes; out may be NULL with cap
 * 0 to learn the size); '*len' gets the encoded length in every
 * successful case.  Returns CAIRN_OK, CAIRN_ERR_UNSUPPORTED (unknown
 * type, or a version the type does not have), CAIRN_ERR_TOOBIG (a field over its cap, or 'cap' too small:
 * '*len' is then still set to the size needed), CAIRN_ERR_RANGE (a
 * negative, NaN or infinite real, a charge of 0 or over 10^18 nano-ρ, a
 * month that is not YYYYMM).
 */
int	tlog_entry_encode(const struct tlog_entry *e, uint8_t *out, size_t cap,
	    size_t *len) __attribute__((warn_unused_result));

/*
 * Decode the 'len' bytes of 'data' (untrusted) into '*e', whose byte
 * strings then point into 'data'; e->version says which layout it had.  Returns CAIRN_OK, or
 * CAIRN_ERR_UNSUPPORTED (unknown version or type) / CAIRN_ERR_FORMAT
 * (truncated, trailing bytes, a field over its cap, a bad real or month)
 * with the byte offset and field in the detail.  '*e' is set only on
 * success.
 */
int	tlog_entry_decode(const uint8_t *data, size_t len,
	    struct tlog_entry *e) __attribute__((warn_unused_result));

#endif
