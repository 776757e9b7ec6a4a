/*
 * secagg.h - complete-graph pairwise masking for secure aggregation
 * (DESIGN §6), modulus 2^64.
 *
 * Each node i of a roster of n members draws a fresh X25519 key pair for
 * the round and masks its vector x_i as
 *
 *	y_i = x_i + Σ_{j>i} mask_ij − Σ_{j<i} mask_ij   (mod 2^64)
 *
 * where mask_ij is the ChaCha20 keystream (zero nonce, block counter from
 * zero, read as little-endian uint64) under
 *
 *	k_ij = BLAKE2b-256(key = X25519(esk_i, epk_j),
 *	           "cairn/v1/mask" ‖ sid ‖ u32be(min(i,j)) ‖ u32be(max(i,j)))
 *	sid  = BLAKE2b-256("cairn/v1/sid" ‖ H(query) ‖
 *	           id_0 ‖ epk_0 ‖ … ‖ id_{n-1} ‖ epk_{n-1})
 *
 * with members sorted by their 32-byte identity key id and i, j their
 * positions in that order.  The masks cancel in Σ y_i, which is Σ x_i.
 * Appending secagg_check_value(sid) as a last cell of every x_i makes a
 * disagreement on the roster (or on sid) visible: that cell of the sum is
 * n·check only when every node masked against the same roster.
 *
 * Ephemeral secret keys are the caller's (keep them in sodium_malloc
 * memory and wipe them after use); every derived secret here is wiped
 * before return.
 */
#ifndef CAIRN_SECAGG_H
#define CAIRN_SECAGG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SECAGG_KEY_LEN		32
#define SECAGG_MIN_MEMBERS	2
#define SECAGG_MAX_MEMBERS	1024

struct secagg_member {
	uint8_t	id[SECAGG_KEY_LEN];	/* Ed25519 identity public key */
	uint8_t	epk[SECAGG_KEY_LEN];	/* X25519 ephemeral public key */
};

/*
 * Draw a fresh ephemeral X25519 key pair from the CSPRNG into 'epk' and
 * 'esk' ('esk' should point into sodium_malloc memory).
 * Returns CAIRN_OK or CAIRN_ERR_CRYPTO.
 */
int	secagg_keypair(uint8_t epk[static SECAGG_KEY_LEN],
	    uint8_t esk[static SECAGG_KEY_LEN])
	    __attribute__((warn_unused_result));

/*
 * Check that the 'n' members of 'roster' are between SECAGG_MIN_MEMBERS and
 * SECAGG_MAX_MEMBERS, sorted strictly ascending by id (so no id twice) and
 * carry no ephemeral key twice.  The roster may come from a peer.
 * Returns CAIRN_OK, or CAIRN_ERR_FORMAT with a detail naming the fault.
 */
int	secagg_roster_check(const struct secagg_member *roster, size_t n)
	    __attribute__((warn_unused_result));

/* Sort 'roster' by id, the order every function here expects. */
void	secagg_roster_sort(struct secagg_member *roster, size_t n);

/* Position of identity 'id' in the sorted 'roster', or -1 when absent. */
long	secagg_roster_find(const struct secagg_member *roster, size_t n,
	    const uint8_t id[static SECAGG_KEY_LEN]);

/*
 * The session id of a round: BLAKE2b-256 of the domain string, the query
 * hash 'qhash' and the sorted roster.  Returns CAIRN_OK or the error of
 * secagg_roster_check().
 */
int	secagg_sid(const uint8_t qhash[static 32],
	    const struct secagg_member *roster, size_t n,
	    uint8_t sid[static 32]) __attribute__((warn_unused_result));

/*
 * The pairwise key k_ij from this node's ephemeral secret 'esk', the
 * peer's ephemeral public key 'peer_epk', 'sid' and the two positions.
 * Symmetric: node j computes the same key from its secret and i's public
 * key.  Returns CAIRN_OK, CAIRN_ERR_ARG when i == j, or CAIRN_ERR_CRYPTO
 * when the peer key is of low order (the shared secret would be zero).
 */
int	secagg_pair_key(const uint8_t esk[static SECAGG_KEY_LEN],
	    const uint8_t peer_epk[static SECAGG_KEY_LEN],
	    const uint8_t sid[static 32], uint32_t i, uint32_t j,
	    uint8_t k[static 32]) __attribute__((warn_unused_result));

/*
 * Mask the 'len' cells of 'x' for member 'self' of the sorted 'roster'
 * into 'y' (caller-provided, 'len' cells).  'y' may be 'x' itself (the
 * vector is masked in place, with no second buffer: the same cells as
 * into a separate 'y'); otherwise the two may not overlap.  'esk' must
 * be the secret of roster[self].epk.  Returns CAIRN_OK, CAIRN_ERR_ARG
 * when 'self' is out of range or 'esk' does not match its public key, or
 * the errors of secagg_roster_check() and secagg_pair_key(); on failure
 * 'y' is zeroed (in place: the vector is wiped).
 */
int	secagg_mask(const uint8_t esk[static SECAGG_KEY_LEN],
	    const struct secagg_member *roster, size_t n, size_t self,
	    const uint8_t sid[static 32], const int64_t *x, uint64_t *y,
	    size_t len) __attribute__((warn_unused_result));

/* acc[k] += y[k] (mod 2^64) for the 'len' cells. */
void	secagg_sum_add(uint64_t *acc, const uint64_t *y, size_t len);

/*
 * BLAKE2b-256 of the 'n' cells of 'v', each as 8 little-endian bytes: the
 * digest a share manifest signs, the coordinator checks and a RELEASE
 * entry carries for the released values (cast int64_t to uint64_t).
 */
void	secagg_cells_digest(const uint64_t *v, size_t n, uint8_t out[static 32]);

/*
 * SHA-256 of the same bytes as secagg_cells_digest() hashes: what a
 * version 2 RELEASE entry carries beside the BLAKE2b digest so a web
 * browser (WebCrypto has SHA-256, not BLAKE2b) can check published
 * values (docs/tlog.md).
 */
void	secagg_cells_sha256(const uint64_t *v, size_t n, uint8_t out[static 32]);

/* The value every node puts in the check cell for session 'sid'. */
uint64_t secagg_check_value(const uint8_t sid[static 32]);

/*
 * True when the check cell of the sum of 'n' masked vectors, 'check_sum',
 * equals n·secagg_check_value(sid) mod 2^64: every node masked for the
 * same roster and session.
 */
bool	secagg_check_is_valid(uint64_t check_sum, size_t n,
	    const uint8_t sid[static 32]);

/* Read a sum modulo 2^64 as a signed two's-complement integer. */
int64_t	secagg_decode(uint64_t v);

#endif
