/*
 * test_tlog_merkle.c - Merkle hashing, proofs and verifiers against the
 * public vectors (RFC 6962 tree of 8, the transparency-dev verifier
 * probes, real Certificate Transparency proofs) and random trees.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include "common/err.h"
#include "protocol/tlog.h"
#include "tests/unit/tlog_helpers.h"

static void
test_hash_vectors(void **state)
{
	json_t *j = tlogt_load_vector("rfc6962_hashes.json"), *v;
	size_t i;

	json_array_foreach(json_object_get(j, "vectors"), i, v) {
		const char *kind = json_string_value(json_object_get(v, "kind"));
		uint8_t want[32], got[32], in[256], l[64], r[64];
		size_t n;

		tlogt_hex32(json_string_value(json_object_get(v, "want")), want);
		if (strcmp(kind, "empty_root") == 0) {
			tlog_empty_root(got);
		} else if (strcmp(kind, "leaf") == 0) {
			n = tlogt_hex2bin(json_string_value(json_object_get(v,
			    "input_hex")), in, sizeof(in));
			tlog_leaf_hash(n > 0 ? in : NULL, n, got);
		} else {
			/* Raw children shorter than a hash: hash by hand. */
			uint8_t buf[1 + 128];
			size_t nl = tlogt_hex2bin(json_string_value(json_object_get(v,
			    "left_hex")), l, sizeof(l));
			size_t nr = tlogt_hex2bin(json_string_value(json_object_get(v,
			    "right_hex")), r, sizeof(r));

			assert_string_equal(kind, "node");
			buf[0] = 1;
			memcpy(buf + 1, l, nl);
			memcpy(buf + 1 + nl, r, nr);
			crypto_hash_sha256(got, buf, 1 + nl + nr);
		}
		assert_memory_equal(got, want, 32);
	}
	assert_int_equal(i, 5);
	json_decref(j);
}

/* The 8-leaf tree of the vectors, as leaf hashes. */
static void
tree8(json_t *j, struct memtree *t)
{
	uint8_t leaves[8][32], data[64];
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(j, "leaves_hex"), i, v) {
		size_t n = tlogt_hex2bin(json_string_value(v), data, sizeof(data));

		tlog_leaf_hash(data, n, leaves[i]);
	}
	assert_int_equal(i, 8);
	tlogt_memtree_init(t, (const uint8_t (*)[32])leaves, 8);
}

static size_t
load_proof(json_t *arr, uint8_t (*proof)[32])
{
	json_t *v;
	size_t i;

	json_array_foreach(arr, i, v)
		tlogt_hex32(json_string_value(v), proof[i]);
	return json_array_size(arr);
}

static void
test_tree8(void **state)
{
	json_t *j = tlogt_load_vector("rfc6962_tree8.json"), *levels, *v;
	struct memtree t;
	uint8_t want[32], got[32], proof[TLOG_MAX_PROOF][32],
	    gen[TLOG_MAX_PROOF][32];
	size_t i, l, n, ng;

	tree8(j, &t);
	/* Every complete subtree. */
	levels = json_object_get(j, "node_hashes_by_level");
	json_array_foreach(levels, l, v) {
		json_t *h;

		json_array_foreach(v, i, h) {
			tlogt_hex32(json_string_value(h), want);
			assert_int_equal(t.src.node(t.src.ctx, (unsigned)l, i,
			    got), CAIRN_OK);
			assert_memory_equal(got, want, 32);
		}
	}
	/* Roots of sizes 0..8, from the frontier and from stored nodes. */
	for (uint64_t size = 0; size <= 8; size++) {
		struct tlog_frontier f;
		char key[4];

		snprintf(key, sizeof(key), "%u", (unsigned)size);
		tlogt_hex32(json_string_value(json_object_get(json_object_get(j,
		    "roots_by_size"), key)), want);
		assert_int_equal(tlog_range_root(&t.src, 0, size, got),
		    CAIRN_OK);
		assert_memory_equal(got, want, 32);
		tlog_frontier_init(&f);
		for (uint64_t k = 0; k < size; k++)
			assert_int_equal(tlog_frontier_append(&f, t.level[0][k],
			    NULL, NULL), CAIRN_OK);
		tlog_frontier_root(&f, got);
		assert_memory_equal(got, want, 32);
		assert_int_equal(tlog_frontier_load(&f, &t.src, size),
		    CAIRN_OK);
		tlog_frontier_root(&f, got);
		assert_memory_equal(got, want, 32);
	}
	json_array_foreach(json_object_get(j, "inclusion_proofs"), i, v) {
		uint64_t idx = json_integer_value(json_object_get(v,
		    "leaf_index"));
		uint64_t size = json_integer_value(json_object_get(v,
		    "tree_size"));
		char key[4];

		n = load_proof(json_object_get(v, "proof"), proof);
		assert_int_equal(tlog_inclusion_proof(&t.src, idx, size, gen,
		    TLOG_MAX_PROOF, &ng), CAIRN_OK);
		assert_int_equal(ng, n);
		assert_memory_equal(gen, proof, n * 32);
		snprintf(key, sizeof(key), "%u", (unsigned)size);
		tlogt_hex32(json_string_value(json_object_get(json_object_get(j,
		    "roots_by_size"), key)), want);
		assert_int_equal(tlog_inclusion_verify(t.level[0][idx], idx,
		    size, (const uint8_t (*)[32])proof, n, want), CAIRN_OK);
	}
	assert_int_equal(i, 7);
	json_array_foreach(json_object_get(j, "consistency_proofs"), i, v) {
		uint64_t s1 = json_integer_value(json_object_get(v, "size1"));
		uint64_t s2 = json_integer_value(json_object_get(v, "size2"));
		uint8_t r1[32], r2[32];
		char key[4];

		n = load_proof(json_object_get(v, "proof"), proof);
		assert_int_equal(tlog_consistency_proof(&t.src, s1, s2, gen,
		    TLOG_MAX_PROOF, &ng), CAIRN_OK);
		assert_int_equal(ng, n);
		assert_memory_equal(gen, proof, n * 32);
		snprintf(key, sizeof(key), "%u", (unsigned)s1);
		tlogt_hex32(json_string_value(json_object_get(json_object_get(j,
		    "roots_by_size"), key)), r1);
		snprintf(key, sizeof(key), "%u", (unsigned)s2);
		tlogt_hex32(json_string_value(json_object_get(json_object_get(j,
		    "roots_by_size"), key)), r2);
		assert_int_equal(tlog_consistency_verify(s1, s2, r1, r2,
		    (const uint8_t (*)[32])proof, n), CAIRN_OK);
	}
	assert_int_equal(i, 5);
	tlogt_memtree_free(&t);
	json_decref(j);
}

/* A byte string from hex held in 'buf'. */
static struct tlog_bytes
bytes(const char *hex, uint8_t *buf, size_t cap)
{
	struct tlog_bytes b;

	b.len = tlogt_hex2bin(hex, buf, cap);
	b.p = buf;
	return b;
}

static void
test_probes(void **state)
{
	json_t *j = tlogt_load_vector("merkle_probes.json"), *v;
	size_t i, total = 0, failing = 0;

	json_array_foreach(json_object_get(j, "inclusion"), i, v) {
		uint8_t lb[64], rb[64], pbuf[TLOG_MAX_PROOF + 4][64];
		struct tlog_bytes proof[TLOG_MAX_PROOF + 4];
		json_t *pa = json_object_get(v, "proof"), *h;
		bool want_err = json_is_true(json_object_get(v, "wantErr"));
		size_t k, n = 0;
		int r;

		json_array_foreach(pa, k, h)
			proof[n++] = bytes(json_string_value(h), pbuf[k], 64);
		r = tlog_inclusion_verify_bytes(bytes(json_string_value(
		    json_object_get(v, "leafHash")), lb, sizeof(lb)),
		    json_integer_value(json_object_get(v, "leafIdx")),
		    json_integer_value(json_object_get(v, "treeSize")), proof,
		    n, bytes(json_string_value(json_object_get(v, "root")), rb,
		    sizeof(rb)));
		if (want_err != (r != CAIRN_OK))
			fail_msg("%s: got %d, wantErr %d", json_string_value(
			    json_object_get(v, "file")), r, want_err);
		if (r != CAIRN_OK)
			assert_int_equal(r, CAIRN_ERR_PROOF);
		failing += want_err;
		total++;
	}
	json_array_foreach(json_object_get(j, "consistency"), i, v) {
		uint8_t r1b[64], r2b[64], pbuf[TLOG_MAX_PROOF + 4][64];
		struct tlog_bytes proof[TLOG_MAX_PROOF + 4];
		json_t *pa = json_object_get(v, "proof"), *h;
		bool want_err = json_is_true(json_object_get(v, "wantErr"));
		size_t k, n = 0;
		int r;

		json_array_foreach(pa, k, h)
			proof[n++] = bytes(json_string_value(h), pbuf[k], 64);
		r = tlog_consistency_verify_bytes(
		    json_integer_value(json_object_get(v, "size1")),
		    json_integer_value(json_object_get(v, "size2")),
		    bytes(json_string_value(json_object_get(v, "root1")), r1b,
		    sizeof(r1b)), bytes(json_string_value(json_object_get(v,
		    "root2")), r2b, sizeof(r2b)), proof, n);
		if (want_err != (r != CAIRN_OK))
			fail_msg("%s: got %d, wantErr %d", json_string_value(
			    json_object_get(v, "file")), r, want_err);
		failing += want_err;
		total++;
	}
	assert_int_equal(total, 196);
	assert_true(failing > 100);
	json_decref(j);
}

static void
test_ct_argon2020(void **state)
{
	json_t *j = tlogt_load_vector("ct_argon2020.json");
	const char *b64 = json_string_value(json_object_get(j,
	    "leaf_input_b64"));
	uint8_t *leaf_in, leaf[32], root[32], old[32];
	uint8_t proof[TLOG_MAX_PROOF][32];
	uint64_t size = json_integer_value(json_object_get(j, "tree_size"));
	uint64_t idx = json_integer_value(json_object_get(j, "leaf_index"));
	uint64_t osize = json_integer_value(json_object_get(j,
	    "old_tree_size"));
	size_t n, len;

	leaf_in = malloc(strlen(b64));
	assert_non_null(leaf_in);
	assert_int_equal(tlog_b64_decode(b64, strlen(b64), leaf_in,
	    strlen(b64), &len), CAIRN_OK);
	tlog_leaf_hash(leaf_in, len, leaf);
	free(leaf_in);
	tlogt_hex32(json_string_value(json_object_get(j, "root_hash")), root);
	tlogt_hex32(json_string_value(json_object_get(j, "old_root_hash")), old);
	n = load_proof(json_object_get(j, "inclusion_audit_path"), proof);
	assert_int_equal(n, 30);
	assert_int_equal(tlog_inclusion_proof_len(idx, size), 30);
	assert_int_equal(tlog_inclusion_verify(leaf, idx, size,
	    (const uint8_t (*)[32])proof, n, root), CAIRN_OK);
	assert_int_equal(tlog_inclusion_verify(leaf, idx + 1, size,
	    (const uint8_t (*)[32])proof, n, root), CAIRN_ERR_PROOF);
	proof[29][0] ^= 1;
	assert_int_equal(tlog_inclusion_verify(leaf, idx, size,
	    (const uint8_t (*)[32])proof, n, root), CAIRN_ERR_PROOF);
	n = load_proof(json_object_get(j, "consistency_path"), proof);
	assert_int_equal(n, 30);
	assert_int_equal(tlog_consistency_verify(osize, size, old, root,
	    (const uint8_t (*)[32])proof, n), CAIRN_OK);
	assert_int_equal(tlog_consistency_check(osize, size, old, root,
	    (const uint8_t (*)[32])proof, n), CAIRN_OK);
	assert_int_equal(tlog_consistency_verify(osize - 1, size, old, root,
	    (const uint8_t (*)[32])proof, n), CAIRN_ERR_PROOF);
	assert_int_equal(tlog_consistency_verify(osize, size, root, old,
	    (const uint8_t (*)[32])proof, n), CAIRN_ERR_PROOF);
	json_decref(j);
}

static void
test_size_zero(void **state)
{
	uint8_t empty[32], other[32], p[1][32];

	tlog_empty_root(empty);
	memset(other, 7, 32);
	memcpy(p[0], empty, 32);
	/* The raw verifier calls any proof from size 0 meaningless... */
	assert_int_equal(tlog_consistency_verify(0, 5, empty, other, NULL, 0),
	    CAIRN_ERR_PROOF);
	assert_int_equal(tlog_consistency_verify(0, 0, empty, empty, NULL, 0),
	    CAIRN_ERR_PROOF);
	/* ...the protocol check accepts size 0 with an empty proof only. */
	assert_int_equal(tlog_consistency_check(0, 5, empty, other, NULL, 0),
	    CAIRN_OK);
	assert_int_equal(tlog_consistency_check(0, 0, empty, empty, NULL, 0),
	    CAIRN_OK);
	assert_int_equal(tlog_consistency_check(0, 5, empty, other,
	    (const uint8_t (*)[32])p, 1), CAIRN_ERR_PROOF);
	assert_int_equal(tlog_consistency_check(0, 5, other, other, NULL, 0),
	    CAIRN_ERR_PROOF);
	assert_int_equal(tlog_consistency_check(0, 0, empty, other, NULL, 0),
	    CAIRN_ERR_PROOF);
	/* Nothing is in the empty tree. */
	assert_int_equal(tlog_inclusion_verify(empty, 0, 0, NULL, 0, empty),
	    CAIRN_ERR_PROOF);
	/* Oversized proofs are refused before any hashing. */
	{
		uint8_t (*big)[32] = calloc(TLOG_MAX_PROOF + 1, 32);

		assert_non_null(big);
		assert_int_equal(tlog_inclusion_verify(empty, 0, UINT64_MAX,
		    (const uint8_t (*)[32])big, TLOG_MAX_PROOF + 1, empty),
		    CAIRN_ERR_PROOF);
		assert_int_equal(tlog_consistency_verify(1, UINT64_MAX, empty,
		    empty, (const uint8_t (*)[32])big, TLOG_MAX_PROOF + 1),
		    CAIRN_ERR_PROOF);
		free(big);
	}
}

static void
flip_check_inclusion(const uint8_t leaf[32], uint64_t idx, uint64_t size,
    uint8_t (*proof)[32], size_t n, const uint8_t root[32], bool all_bits)
{
	uint8_t l[32], r[32];

	/* Every bit of every proof hash (or one random bit per hash). */
	for (size_t i = 0; i < n; i++) {
		for (unsigned b = 0; b < 256; b++) {
			unsigned bit = all_bits ? b : randombytes_uniform(256);

			proof[i][bit / 8] ^= (uint8_t)(1u << (bit % 8));
			assert_int_equal(tlog_inclusion_verify(leaf, idx, size,
			    (const uint8_t (*)[32])proof, n, root),
			    CAIRN_ERR_PROOF);
			proof[i][bit / 8] ^= (uint8_t)(1u << (bit % 8));
			if (!all_bits)
				break;
		}
	}
	memcpy(l, leaf, 32);
	memcpy(r, root, 32);
	l[randombytes_uniform(32)] ^= 0x10;
	assert_int_equal(tlog_inclusion_verify(l, idx, size,
	    (const uint8_t (*)[32])proof, n, root), CAIRN_ERR_PROOF);
	r[randombytes_uniform(32)] ^= 0x01;
	assert_int_equal(tlog_inclusion_verify(leaf, idx, size,
	    (const uint8_t (*)[32])proof, n, r), CAIRN_ERR_PROOF);
	if (n > 0)
		assert_int_equal(tlog_inclusion_verify(leaf, idx, size,
		    (const uint8_t (*)[32])proof, n - 1, root),
		    CAIRN_ERR_PROOF);
	assert_int_equal(tlog_inclusion_verify(leaf, idx ^ 1, size,
	    (const uint8_t (*)[32])proof, n, root), CAIRN_ERR_PROOF);
}

/*
 * Random trees up to 2000 leaves: every inclusion proof of some sizes and
 * a sample of the others verify, against roots computed naively, and any
 * flipped bit breaks them; consistency proofs likewise.
 */
static void
test_random_trees(void **state)
{
	enum { MAXN = 2000 };
	uint8_t (*leaves)[32] = malloc(MAXN * 32);
	uint8_t proof[TLOG_MAX_PROOF][32], root[32], root1[32], r2[32];
	struct memtree t;
	uint64_t sizes[40];
	size_t ns = 0, n, nproofs = 0;

	assert_non_null(leaves);
	for (size_t i = 0; i < MAXN; i++)
		randombytes_buf(leaves[i], 32);
	tlogt_memtree_init(&t, (const uint8_t (*)[32])leaves, MAXN);
	for (uint64_t s = 1; s <= 17; s++)
		sizes[ns++] = s;
	sizes[ns++] = 1024;
	sizes[ns++] = 1025;
	sizes[ns++] = MAXN;
	while (ns < 40)
		sizes[ns++] = 18 + randombytes_uniform(MAXN - 18);
	for (size_t si = 0; si < ns; si++) {
		uint64_t size = sizes[si];
		bool every = size <= 17 || size == MAXN;

		tlogt_memtree_root_naive(&t, 0, size, root);
		assert_int_equal(tlog_range_root(&t.src, 0, size, r2),
		    CAIRN_OK);
		assert_memory_equal(root, r2, 32);
		for (uint64_t k = 0; k < (every ? size : 25); k++) {
			uint64_t idx = every ? k : randombytes_uniform(
			    (uint32_t)size);

			assert_int_equal(tlog_inclusion_proof(&t.src, idx, size,
			    proof, TLOG_MAX_PROOF, &n), CAIRN_OK);
			assert_int_equal(n, tlog_inclusion_proof_len(idx, size));
			assert_int_equal(tlog_inclusion_verify(t.level[0][idx],
			    idx, size, (const uint8_t (*)[32])proof, n, root),
			    CAIRN_OK);
			flip_check_inclusion(t.level[0][idx], idx, size, proof,
			    n, root, size <= 17 || k % 97 == 0);
			nproofs++;
		}
		/* Consistency from sampled older sizes. */
		for (int k = 0; k < (size <= 17 ? (int)size : 12); k++) {
			uint64_t s1 = size <= 17 ? (uint64_t)k + 1 :
			    1 + randombytes_uniform((uint32_t)size);

			tlogt_memtree_root_naive(&t, 0, s1, root1);
			assert_int_equal(tlog_consistency_proof(&t.src, s1,
			    size, proof, TLOG_MAX_PROOF, &n), CAIRN_OK);
			assert_int_equal(tlog_consistency_verify(s1, size,
			    root1, root, (const uint8_t (*)[32])proof, n),
			    CAIRN_OK);
			for (size_t i = 0; i < n; i++) {
				unsigned bit = randombytes_uniform(256);

				proof[i][bit / 8] ^= (uint8_t)(1u << (bit % 8));
				assert_int_equal(tlog_consistency_verify(s1,
				    size, root1, root,
				    (const uint8_t (*)[32])proof, n),
				    CAIRN_ERR_PROOF);
				proof[i][bit / 8] ^= (uint8_t)(1u << (bit % 8));
			}
			if (s1 < size) {
				root1[0] ^= 0x80;
				assert_int_equal(tlog_consistency_verify(s1,
				    size, root1, root,
				    (const uint8_t (*)[32])proof, n),
				    CAIRN_ERR_PROOF);
				assert_int_equal(tlog_consistency_verify(s1 + 1,
				    size + 1, root1, root,
				    (const uint8_t (*)[32])proof, n),
				    CAIRN_ERR_PROOF);
			}
		}
	}
	assert_true(nproofs > 2000);
	tlogt_memtree_free(&t);
	free(leaves);
}

static void
test_generation_errors(void **state)
{
	uint8_t leaves[5][32], proof[TLOG_MAX_PROOF][32], h[32];
	struct memtree t;
	size_t n = 99;

	for (int i = 0; i < 5; i++)
		tlog_leaf_hash((const uint8_t *)&i, sizeof(i), leaves[i]);
	tlogt_memtree_init(&t, (const uint8_t (*)[32])leaves, 5);
	assert_int_equal(tlog_inclusion_proof(&t.src, 5, 5, proof,
	    TLOG_MAX_PROOF, &n), CAIRN_ERR_RANGE);
	assert_int_equal(n, 99);
	assert_int_equal(tlog_inclusion_proof(&t.src, 0, 5, proof, 2, &n),
	    CAIRN_ERR_TOOBIG);
	assert_int_equal(tlog_consistency_proof(&t.src, 6, 5, proof,
	    TLOG_MAX_PROOF, &n), CAIRN_ERR_RANGE);
	/* Beyond what the source holds: its error comes back. */
	assert_int_equal(tlog_inclusion_proof(&t.src, 0, 9, proof,
	    TLOG_MAX_PROOF, &n), CAIRN_ERR_NOTFOUND);
	assert_int_equal(tlog_range_root(&t.src, 1, 3, h), CAIRN_ERR_ARG);
	assert_int_equal(tlog_range_root(&t.src, 3, 1, h), CAIRN_ERR_ARG);
	assert_int_equal(tlog_consistency_proof(&t.src, 0, 5, proof,
	    TLOG_MAX_PROOF, &n), CAIRN_OK);
	assert_int_equal(n, 0);
	tlogt_memtree_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_vectors),
		cmocka_unit_test(test_tree8),
		cmocka_unit_test(test_probes),
		cmocka_unit_test(test_ct_argon2020),
		cmocka_unit_test(test_size_zero),
		cmocka_unit_test(test_random_trees),
		cmocka_unit_test(test_generation_errors),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
