/*
 * tlog_store.h - the append-only log store: entries, the Merkle tree over
 * them and the checkpoints published for it, in one SQLite file.
 *
 * The file is in WAL mode with synchronous=FULL: when an append returns
 * CAIRN_OK its entries are on disk and survive a crash or power loss.
 * Every append stores the entry, its leaf hash and the hashes of the
 * complete subtrees it closes (O(log n) work, amortised two rows), so
 * roots and proofs for any size up to the current one are read, never
 * recomputed.  Layout: docs/tlog.md.
 *
 * One struct tlog_store is used by one thread at a time.  Several
 * processes may open the same file; appends are serialised by SQLite.
 */
#ifndef CAIRN_TLOG_STORE_H
#define CAIRN_TLOG_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/tlog.h"
#include "protocol/tlog_note.h"

/* Largest entry the store accepts (bytes) and most entries per batch. */
#define TLOG_STORE_MAX_ENTRY	(1024 * 1024)
#define TLOG_STORE_MAX_BATCH	100000
/* Most entries a store holds: node ids pack (level, index) in 63 bits. */
#define TLOG_STORE_MAX_SIZE	((uint64_t)1 << 48)

/* tlog_store_open() flags. */
#define TLOG_STORE_CREATE	0x1	/* create the file when missing */

struct tlog_store;

/*
 * Open the store at 'path' (created when missing and 'flags' has
 * TLOG_STORE_CREATE) and check it cheaply: the format version, the
 * stored right edge of the tree, the leaf hash of the last entry against
 * its bytes, and the root of the latest checkpoint recomputed from stored
 * hashes.  Returns CAIRN_OK and '*out', or CAIRN_ERR_NOTFOUND, CAIRN_ERR_DB,
 * CAIRN_ERR_UNSUPPORTED (unknown format), CAIRN_ERR_FORMAT (damaged:
 * missing rows, a leaf hash that does not match) or CAIRN_ERR_CONFLICT
 * (fewer entries than a checkpoint covers, or a checkpoint root that the
 * stored tree does not reproduce); the detail names the path.
 */
int	tlog_store_open(const char *path, int flags, struct tlog_store **out)
	    __attribute__((warn_unused_result));

/* Close the store; NULL is accepted. */
void	tlog_store_close(struct tlog_store *s);

/* Number of entries. */
uint64_t	tlog_store_size(const struct tlog_store *s);

/* Root of the current tree (the empty root for size 0). */
void	tlog_store_root(const struct tlog_store *s,
	    uint8_t out[static TLOG_HASH_LEN]);

/*
 * Append the 'n' entries 'e' (each 0..TLOG_STORE_MAX_ENTRY bytes, n at
 * most TLOG_STORE_MAX_BATCH) in one transaction, committed durably before
 * returning.  '*first' (may be NULL) gets the index of the first one.
 * All or none are appended.  Returns CAIRN_OK, CAIRN_ERR_TOOBIG,
 * CAIRN_ERR_RANGE (store full) or CAIRN_ERR_DB.
 */
int	tlog_store_append_batch(struct tlog_store *s,
	    const struct tlog_bytes *e, size_t n, uint64_t *first)
	    __attribute__((warn_unused_result));

/* Append one entry: tlog_store_append_batch() with n = 1. */
int	tlog_store_append(struct tlog_store *s, const uint8_t *data,
	    size_t len, uint64_t *index) __attribute__((warn_unused_result));

/*
 * The bytes of entry 'index' in a new buffer '*data' of '*len' bytes that
 * the caller frees.  Returns CAIRN_OK, CAIRN_ERR_NOTFOUND or CAIRN_ERR_DB.
 */
int	tlog_store_entry(struct tlog_store *s, uint64_t index, uint8_t **data,
	    size_t *len) __attribute__((warn_unused_result));

/* The stored leaf hash of entry 'index'.  Returns as tlog_store_entry(). */
int	tlog_store_leaf_hash(struct tlog_store *s, uint64_t index,
	    uint8_t out[static TLOG_HASH_LEN])
	    __attribute__((warn_unused_result));

/*
 * Root of the tree of the first 'size' entries (size <= current size),
 * read from stored subtree hashes.  CAIRN_ERR_RANGE for a larger size.
 */
int	tlog_store_root_at(struct tlog_store *s, uint64_t size,
	    uint8_t out[static TLOG_HASH_LEN])
	    __attribute__((warn_unused_result));

/*
 * Inclusion proof of entry 'index' in the tree of 'size' entries, and
 * consistency proof from 'size1' to 'size2', into 'proof' (room for
 * 'cap' hashes, TLOG_MAX_PROOF always suffices); '*n' gets the length.
 * Sizes must not exceed the current size (CAIRN_ERR_RANGE).
 */
int	tlog_store_inclusion_proof(struct tlog_store *s, uint64_t index,
	    uint64_t size, uint8_t (*proof)[TLOG_HASH_LEN], size_t cap,
	    size_t *n) __attribute__((warn_unused_result));
int	tlog_store_consistency_proof(struct tlog_store *s, uint64_t size1,
	    uint64_t size2, uint8_t (*proof)[TLOG_HASH_LEN], size_t cap,
	    size_t *n) __attribute__((warn_unused_result));

/*
 * Record the signed checkpoint 'note' ('len' bytes, a C2SP signed note
 * whose text is a checkpoint) as published for this log.  Its signatures
 * are the publisher's business and are not checked here; its size must
 * not exceed the store's size and its root must equal the stored root at
 * that size, and it must not be older than the latest recorded one.  A
 * note for a size already recorded replaces it (the same checkpoint with
 * more cosignatures; the root is the same by the check above).
 * Returns CAIRN_OK, CAIRN_ERR_FORMAT, CAIRN_ERR_RANGE (beyond the log or
 * older than the latest), CAIRN_ERR_CONFLICT (root differs) or
 * CAIRN_ERR_DB.
 */
int	tlog_store_checkpoint_add(struct tlog_store *s, const char *note,
	    size_t len) __attribute__((warn_unused_result));

/*
 * Make the checkpoint of the current tree for 'origin', sign it with the
 * 'nsigners' signers (at least one), record it with
 * tlog_store_checkpoint_add() and return the signed note in a new
 * NUL-terminated buffer '*note' ('*len' bytes without the NUL).
 */
int	tlog_store_publish(struct tlog_store *s, const char *origin,
	    const struct tlog_signer *signers, size_t nsigners, char **note,
	    size_t *len) __attribute__((warn_unused_result));

/*
 * The latest recorded checkpoint: its signed note in a new NUL-terminated
 * buffer (caller frees) and, when 'cp' is not NULL, its parsed body.
 * CAIRN_ERR_NOTFOUND when none was recorded.
 */
int	tlog_store_checkpoint_latest(struct tlog_store *s, char **note,
	    size_t *len, struct tlog_checkpoint *cp)
	    __attribute__((warn_unused_result));

/*
 * The store's hashes as a struct tlog_hash_source (tlog.h): level 0 the
 * leaf hashes, level l the complete subtrees of 2^l entries, for subtrees
 * inside the current size only.  Borrowed; valid while 's' is open.
 */
const struct tlog_hash_source	*tlog_store_source(struct tlog_store *s);

/*
 * The sizes of every recorded checkpoint, ascending, in a new array
 * '*sizes' of '*n' (caller frees; NULL when there is none).  Returns
 * CAIRN_OK, CAIRN_ERR_NOMEM or CAIRN_ERR_DB.
 */
int	tlog_store_checkpoint_sizes(struct tlog_store *s, uint64_t **sizes,
	    size_t *n) __attribute__((warn_unused_result));

/* What a full verification went through. */
struct tlog_store_report {
	uint64_t	entries;	/* entries re-hashed */
	uint64_t	nodes;		/* interior nodes recomputed */
	uint64_t	checkpoints;	/* checkpoint roots recomputed */
	uint8_t		root[TLOG_HASH_LEN];
};

/*
 * Recompute everything from the entries: every leaf hash, every stored
 * interior node, the root at every recorded checkpoint and the current
 * root, and check that indices have no gaps and no row is left over.
 * Returns CAIRN_OK and fills '*rep' (may be NULL), or CAIRN_ERR_FORMAT /
 * CAIRN_ERR_CONFLICT naming the first entry, node or checkpoint that
 * differs, or CAIRN_ERR_DB when the file itself is damaged.
 */
int	tlog_store_verify(struct tlog_store *s, struct tlog_store_report *rep)
	    __attribute__((warn_unused_result));

/*
 * SQLite's integrity check of the store's file (every page, index and
 * free list): CAIRN_OK, or CAIRN_ERR_FORMAT naming the path and the
 * first problem.
 */
int	tlog_store_integrity(struct tlog_store *s)
	    __attribute__((warn_unused_result));

/*
 * Check the signature of every stored checkpoint note against 'key' (the
 * log's signing key); '*n' (may be NULL) gets how many were checked.
 * Returns CAIRN_OK, or CAIRN_ERR_SIGNATURE / CAIRN_ERR_FORMAT naming the
 * checkpoint's size.
 */
int	tlog_store_verify_notes(struct tlog_store *s,
	    const struct tlog_verifier *key, uint64_t *n)
	    __attribute__((warn_unused_result));

#endif
