/*
 * tlog_helpers.h - shared fixtures of the transparency-log unit tests:
 * an in-memory Merkle tree (all complete-subtree hashes by level), an
 * Ed25519 test signer on libsodium, hex helpers and vector loading.
 * Every test binary links this file: its functions carry the tlogt_
 * prefix so they cannot clash with other modules' test helpers.
 */
#ifndef CAIRN_TESTS_TLOG_HELPERS_H
#define CAIRN_TESTS_TLOG_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "protocol/tlog.h"
#include "protocol/tlog_note.h"

/* Every complete subtree hash of a tree of 'size' leaves. */
struct memtree {
	uint64_t		 size;
	unsigned		 levels;
	uint8_t			(*level[64])[TLOG_HASH_LEN];
	struct tlog_hash_source	 src;
};

/* Build from 'n' leaf hashes; free with tlogt_memtree_free(). */
void	tlogt_memtree_init(struct memtree *t, const uint8_t (*leaves)[TLOG_HASH_LEN],
	    uint64_t n);
void	tlogt_memtree_free(struct memtree *t);
/* Root of the first 'size' leaves, computed naively from the definition. */
void	tlogt_memtree_root_naive(const struct memtree *t, uint64_t begin,
	    uint64_t end, uint8_t out[TLOG_HASH_LEN]);

/* An Ed25519 key for tests, usable as a struct tlog_signer. */
struct test_key {
	uint8_t			pk[32];
	uint8_t			sk[64];
	char			name[64];
	struct tlog_signer	signer;
	struct tlog_verifier	verifier;	/* type 0x01 */
	struct tlog_verifier	cosigner;	/* type 0x04 */
};

/* Deterministic key from 'seed' (32 bytes). */
void	tlogt_test_key_init(struct test_key *k, const char *name,
	    const uint8_t seed[32]);

/* Decode hex 's' into out (cap bytes); returns the length, aborts on bad. */
size_t	tlogt_hex2bin(const char *s, uint8_t *out, size_t cap);
void	tlogt_hex32(const char *s, uint8_t out[TLOG_HASH_LEN]);

/* Load tests/vectors/NAME (under $CAIRN_TOP when set); aborts on error. */
json_t	*tlogt_load_vector(const char *name);

/* A fresh path under /tmp (removed with tlogt_rm_db()). */
void	tlogt_tmp_path(char *buf, size_t cap, const char *tag);
void	tlogt_rm_db(const char *path);

#endif
