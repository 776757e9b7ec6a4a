/*
 * tlog.h - the Merkle tree of the transparency log (RFC 6962 §2.1,
 * RFC 9162 §2.1.3-2.1.4) over SHA-256.
 *
 * leaf hash = SHA-256(0x00 || entry), node hash = SHA-256(0x01 || l || r),
 * the root of the empty tree = SHA-256(""), the split point of n leaves is
 * the largest power of two strictly below n.  Proofs are lists of 32-byte
 * hashes in leaf-to-root order.  Indices and sizes are uint64_t.
 *
 * The verifiers take untrusted input and never read outside the buffers
 * they are given.  Proof generation reads the hashes of complete subtrees
 * through a struct tlog_hash_source, so the SQLite store (tlog_store.h)
 * and an in-memory array share one implementation.
 */
#ifndef CAIRN_TLOG_H
#define CAIRN_TLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TLOG_HASH_LEN	32
/*
 * Longest proof of any kind for uint64 sizes: an inclusion proof has one
 * hash per level (at most 64), a consistency proof one per level plus the
 * root of the old tree (at most 65).  Verifiers refuse longer proofs
 * before hashing anything.
 */
#define TLOG_MAX_PROOF	65

/* A borrowed byte string (pointer may be NULL when len is 0). */
struct tlog_bytes {
	const uint8_t	*p;
	size_t		 len;
};

/* out = SHA-256(0x00 || data[0..len)).  'data' may be NULL when len is 0. */
void	tlog_leaf_hash(const uint8_t *data, size_t len,
	    uint8_t out[static TLOG_HASH_LEN]);

/* out = SHA-256(0x01 || left || right).  'out' may alias either input. */
void	tlog_node_hash(const uint8_t left[static TLOG_HASH_LEN],
	    const uint8_t right[static TLOG_HASH_LEN],
	    uint8_t out[static TLOG_HASH_LEN]);

/* out = SHA-256 of the empty string, the root of the tree of size 0. */
void	tlog_empty_root(uint8_t out[static TLOG_HASH_LEN]);

/* Largest power of two strictly below n (n >= 2); the RFC's split point. */
uint64_t	tlog_split(uint64_t n);

/*
 * Verify that 'leaf' (a leaf hash) is at 'index' in the tree of 'size'
 * leaves whose root is 'root', using the RFC 9162 §2.1.3.2 inclusion proof
 * 'proof' of 'n' hashes.  Returns CAIRN_OK, or CAIRN_ERR_PROOF (with a
 * detail) when index >= size, the proof has the wrong length or the
 * computed root differs.  All inputs may come from an untrusted peer.
 */
int	tlog_inclusion_verify(const uint8_t leaf[static TLOG_HASH_LEN],
	    uint64_t index, uint64_t size, const uint8_t (*proof)[TLOG_HASH_LEN],
	    size_t n, const uint8_t root[static TLOG_HASH_LEN])
	    __attribute__((warn_unused_result));

/*
 * Verify that the tree of 'size1' leaves with root 'root1' is a prefix of
 * the tree of 'size2' leaves with root 'root2', using the RFC 9162
 * §2.1.4.2 consistency proof of 'n' hashes.  Raw verifier semantics:
 * size1 > size2 fails; size1 == 0 fails (the proof is meaningless; a
 * protocol that accepts growth from the empty tree checks that case
 * itself, see tlog_consistency_check()); size1 == size2 needs an empty
 * proof and equal roots; otherwise an empty proof fails.  Returns CAIRN_OK
 * or CAIRN_ERR_PROOF.  All inputs may be hostile.
 */
int	tlog_consistency_verify(uint64_t size1, uint64_t size2,
	    const uint8_t root1[static TLOG_HASH_LEN],
	    const uint8_t root2[static TLOG_HASH_LEN],
	    const uint8_t (*proof)[TLOG_HASH_LEN], size_t n)
	    __attribute__((warn_unused_result));

/*
 * The protocol-level consistency check of the C2SP witness specification:
 * like tlog_consistency_verify(), except that old size 0 with an empty
 * proof is valid (every tree extends the empty tree) and a non-empty proof
 * from size 0 is refused.
 */
int	tlog_consistency_check(uint64_t size1, uint64_t size2,
	    const uint8_t root1[static TLOG_HASH_LEN],
	    const uint8_t root2[static TLOG_HASH_LEN],
	    const uint8_t (*proof)[TLOG_HASH_LEN], size_t n)
	    __attribute__((warn_unused_result));

/*
 * Byte-string forms of the two verifiers for hashes of any length, as
 * they arrive from a file or the command line: a hash that is not 32
 * bytes never verifies, except that equal-size consistency compares
 * root1 and root2 as byte strings (the transparency-dev probe semantics).
 * 'proof' is an array of 'n' byte strings.  Same returns as above.
 */
int	tlog_inclusion_verify_bytes(struct tlog_bytes leaf, uint64_t index,
	    uint64_t size, const struct tlog_bytes *proof, size_t n,
	    struct tlog_bytes root) __attribute__((warn_unused_result));
int	tlog_consistency_verify_bytes(uint64_t size1, uint64_t size2,
	    struct tlog_bytes root1, struct tlog_bytes root2,
	    const struct tlog_bytes *proof, size_t n)
	    __attribute__((warn_unused_result));

/* Expected number of hashes in an inclusion proof for (index, size). */
size_t	tlog_inclusion_proof_len(uint64_t index, uint64_t size);

/*
 * Where proof generation reads hashes: node() stores in 'out' the hash of
 * the complete subtree at 'level' number 'idx', i.e. of the leaves
 * [idx << level, (idx + 1) << level) (level 0 = the leaf hashes), and
 * returns CAIRN_OK or a negative code that generation passes on.
 */
struct tlog_hash_source {
	int	(*node)(void *ctx, unsigned level, uint64_t idx,
		    uint8_t out[TLOG_HASH_LEN]);
	void	*ctx;
};

/*
 * Root (MTH) of the leaves [begin, end) where 'begin' is a multiple of
 * the largest power of two not above end - begin (true for every range
 * the RFC's recursions visit, and for begin = 0).  end == begin gives the
 * empty root.  Returns CAIRN_OK, CAIRN_ERR_ARG for a misaligned range, or
 * the source's error.
 */
int	tlog_range_root(const struct tlog_hash_source *src, uint64_t begin,
	    uint64_t end, uint8_t out[static TLOG_HASH_LEN]);

/*
 * The RFC 9162 inclusion proof PATH(index, D[size]) into 'proof' (room for
 * 'cap' hashes); '*n' gets its length.  Returns CAIRN_OK, CAIRN_ERR_RANGE
 * when index >= size, CAIRN_ERR_TOOBIG when 'cap' is too small, or the
 * source's error.  Out-params are set only on success.
 */
int	tlog_inclusion_proof(const struct tlog_hash_source *src,
	    uint64_t index, uint64_t size, uint8_t (*proof)[TLOG_HASH_LEN],
	    size_t cap, size_t *n);

/*
 * The RFC 9162 consistency proof PROOF(size1, D[size2]); empty when
 * size1 == 0 or size1 == size2.  Returns as tlog_inclusion_proof(),
 * CAIRN_ERR_RANGE when size1 > size2.
 */
int	tlog_consistency_proof(const struct tlog_hash_source *src,
	    uint64_t size1, uint64_t size2, uint8_t (*proof)[TLOG_HASH_LEN],
	    size_t cap, size_t *n);

/*
 * The right edge of a tree, enough to append leaves and compute the root
 * in O(log n) without the rest of the tree: the roots of the complete
 * subtrees of the binary decomposition of 'size', largest (leftmost)
 * first.  A plain value; copy it freely.
 */
struct tlog_frontier {
	uint64_t	size;
	unsigned	n;
	uint8_t		hash[64][TLOG_HASH_LEN];
};

/* Make 'f' the frontier of the empty tree. */
void	tlog_frontier_init(struct tlog_frontier *f);

/*
 * Append the leaf hash 'leaf' to 'f'.  When 'emit' is not NULL it is
 * called for every complete subtree of level >= 1 that the append closes
 * (level, index, hash), lowest level first; an error it returns stops the
 * append and is passed on, leaving 'f' unchanged.  Returns CAIRN_OK,
 * CAIRN_ERR_OVERFLOW at 2^63 leaves, or emit's error.
 */
int	tlog_frontier_append(struct tlog_frontier *f,
	    const uint8_t leaf[static TLOG_HASH_LEN],
	    int (*emit)(void *ctx, unsigned level, uint64_t idx,
	    const uint8_t hash[TLOG_HASH_LEN]), void *ctx);

/* The root of the tree 'f' describes (the empty root for size 0). */
void	tlog_frontier_root(const struct tlog_frontier *f,
	    uint8_t out[static TLOG_HASH_LEN]);

/*
 * Load the frontier of the tree of 'size' leaves from 'src' (log2 size
 * node reads).  Returns CAIRN_OK or the source's error; '*f' is set only
 * on success.
 */
int	tlog_frontier_load(struct tlog_frontier *f,
	    const struct tlog_hash_source *src, uint64_t size);

#endif
