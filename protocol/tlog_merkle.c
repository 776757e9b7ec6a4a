/*
 * tlog_merkle.c - RFC 6962 / RFC 9162 Merkle hashing, proof verification
 * and proof generation.
 *
 * The verifiers follow RFC 9162 §2.1.3.2 and §2.1.4.2 step by step on
 * uint64 counters.  Generation walks the RFC's recursive definitions of
 * PATH and SUBPROOF iteratively from the root down, collecting one hash
 * per level, and reverses the list into the RFC's leaf-to-root order.
 *
 * SHA-256 comes from OpenSSL's low-level SHA256_Init/Update/Final: on the
 * hot paths (a full verify hashes two million short inputs) the EVP
 * layer's per-call algorithm fetch (which OpenSSL 3's one-shot SHA256()
 * also goes through) costs more than the hashing itself, so this
 * interface is used on purpose despite its deprecation notice.
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <string.h>

#include <openssl/sha.h>

#include "common/err.h"
#include "protocol/tlog.h"

void
tlog_leaf_hash(const uint8_t *data, size_t len, uint8_t out[TLOG_HASH_LEN])
{
	SHA256_CTX c;
	static const uint8_t prefix = 0x00;

	SHA256_Init(&c);
	SHA256_Update(&c, &prefix, 1);
	if (len > 0)
		SHA256_Update(&c, data, len);
	SHA256_Final(out, &c);
}

void
tlog_node_hash(const uint8_t left[TLOG_HASH_LEN],
    const uint8_t right[TLOG_HASH_LEN], uint8_t out[TLOG_HASH_LEN])
{
	uint8_t buf[1 + 2 * TLOG_HASH_LEN];
	SHA256_CTX c;

	buf[0] = 0x01;
	memcpy(buf + 1, left, TLOG_HASH_LEN);
	memcpy(buf + 1 + TLOG_HASH_LEN, right, TLOG_HASH_LEN);
	SHA256_Init(&c);
	SHA256_Update(&c, buf, sizeof(buf));
	SHA256_Final(out, &c);
}

void
tlog_empty_root(uint8_t out[TLOG_HASH_LEN])
{
	SHA256_CTX c;

	SHA256_Init(&c);
	SHA256_Final(out, &c);
}

uint64_t
tlog_split(uint64_t n)
{
	uint64_t k = 1;

	/* n >= 2: the largest power of two strictly below n. */
	while (k < n - k)
		k <<= 1;
	return k;
}

static uint64_t
hibit(uint64_t v)
{
	return v == 0 ? 0 : (uint64_t)1 << (63 - __builtin_clzll(v));
}

size_t
tlog_inclusion_proof_len(uint64_t index, uint64_t size)
{
	size_t n = 0;
	uint64_t fn = index, sn;

	if (index >= size)
		return 0;
	sn = size - 1;
	while (sn != 0) {
		n++;
		if ((fn & 1) == 0 && fn == sn) {
			/* The last node of its level has no right sibling. */
			while ((fn & 1) == 0 && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		}
		fn >>= 1;
		sn >>= 1;
	}
	return n;
}

static int
inclusion_core(const uint8_t leaf[TLOG_HASH_LEN], uint64_t index,
    uint64_t size, const uint8_t *const *proof, size_t n,
    const uint8_t root[TLOG_HASH_LEN])
{
	uint8_t r[TLOG_HASH_LEN];
	uint64_t fn, sn;

	if (index >= size)
		return cairn_err(CAIRN_ERR_PROOF, "leaf index %llu is not below "
		    "tree size %llu", (unsigned long long)index,
		    (unsigned long long)size);
	if (n > TLOG_MAX_PROOF)
		return cairn_err(CAIRN_ERR_PROOF, "proof has %zu hashes, more "
		    "than %d", n, TLOG_MAX_PROOF);
	fn = index;
	sn = size - 1;
	memcpy(r, leaf, TLOG_HASH_LEN);
	for (size_t i = 0; i < n; i++) {
		if (sn == 0)
			return cairn_err(CAIRN_ERR_PROOF, "proof has %zu hashes, "
			    "more than the %zu the tree needs", n, i);
		if ((fn & 1) || fn == sn) {
			tlog_node_hash(proof[i], r, r);
			if ((fn & 1) == 0) {
				while ((fn & 1) == 0 && fn != 0) {
					fn >>= 1;
					sn >>= 1;
				}
			}
		} else
			tlog_node_hash(r, proof[i], r);
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0)
		return cairn_err(CAIRN_ERR_PROOF, "proof has %zu hashes, fewer "
		    "than the %zu the tree needs", n,
		    tlog_inclusion_proof_len(index, size));
	if (memcmp(r, root, TLOG_HASH_LEN) != 0)
		return cairn_err(CAIRN_ERR_PROOF, "computed root does not "
		    "match the given root");
	return CAIRN_OK;
}

int
tlog_inclusion_verify(const uint8_t leaf[TLOG_HASH_LEN], uint64_t index,
    uint64_t size, const uint8_t (*proof)[TLOG_HASH_LEN], size_t n,
    const uint8_t root[TLOG_HASH_LEN])
{
	const uint8_t *p[TLOG_MAX_PROOF];

	if (n > TLOG_MAX_PROOF)
		return cairn_err(CAIRN_ERR_PROOF, "proof has %zu hashes, more "
		    "than %d", n, TLOG_MAX_PROOF);
	for (size_t i = 0; i < n; i++)
		p[i] = proof[i];
	return inclusion_core(leaf, index, size, p, n, root);
}

static int
consistency_core(uint64_t size1, uint64_t size2,
    const uint8_t root1[TLOG_HASH_LEN], const uint8_t root2[TLOG_HASH_LEN],
    const uint8_t *const *proof, size_t n)
{
	uint8_t fr[TLOG_HASH_LEN], sr[TLOG_HASH_LEN];
	const uint8_t *seed;
	uint64_t fn, sn;
	size_t i;

	/* The caller has handled size1 > size2, size1 == 0, size1 == size2. */
	if (n == 0)
		return cairn_err(CAIRN_ERR_PROOF, "empty consistency proof "
		    "between different sizes %llu and %llu",
		    (unsigned long long)size1, (unsigned long long)size2);
	if (n > TLOG_MAX_PROOF)
		return cairn_err(CAIRN_ERR_PROOF, "proof has %zu hashes, more "
		    "than %d", n, TLOG_MAX_PROOF);
	/* An old tree of 2^k leaves is a complete subtree: its root seeds. */
	if ((size1 & (size1 - 1)) == 0) {
		seed = root1;
		i = 0;
	} else {
		seed = proof[0];
		i = 1;
	}
	fn = size1 - 1;
	sn = size2 - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	memcpy(fr, seed, TLOG_HASH_LEN);
	memcpy(sr, seed, TLOG_HASH_LEN);
	for (; i < n; i++) {
		if (sn == 0)
			return cairn_err(CAIRN_ERR_PROOF, "consistency proof "
			    "has more hashes than the trees need");
		if ((fn & 1) || fn == sn) {
			tlog_node_hash(proof[i], fr, fr);
			tlog_node_hash(proof[i], sr, sr);
			if ((fn & 1) == 0) {
				while ((fn & 1) == 0 && fn != 0) {
					fn >>= 1;
					sn >>= 1;
				}
			}
		} else
			tlog_node_hash(sr, proof[i], sr);
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0)
		return cairn_err(CAIRN_ERR_PROOF, "consistency proof has fewer "
		    "hashes than the trees need");
	if (memcmp(fr, root1, TLOG_HASH_LEN) != 0)
		return cairn_err(CAIRN_ERR_PROOF, "computed old root does not "
		    "match root1");
	if (memcmp(sr, root2, TLOG_HASH_LEN) != 0)
		return cairn_err(CAIRN_ERR_PROOF, "computed new root does not "
		    "match root2");
	return CAIRN_OK;
}

/* The size checks shared by both consistency verifiers. */
static int
consistency_sizes(uint64_t size1, uint64_t size2, size_t n)
{
	if (size1 > size2)
		return cairn_err(CAIRN_ERR_PROOF, "size1 %llu is greater than "
		    "size2 %llu", (unsigned long long)size1,
		    (unsigned long long)size2);
	if (size1 == 0)
		return cairn_err(CAIRN_ERR_PROOF, "consistency from size 0 is "
		    "meaningless");
	if (size1 == size2 && n != 0)
		return cairn_err(CAIRN_ERR_PROOF, "sizes are equal but the "
		    "proof has %zu hashes", n);
	return CAIRN_OK;
}

int
tlog_consistency_verify(uint64_t size1, uint64_t size2,
    const uint8_t root1[TLOG_HASH_LEN], const uint8_t root2[TLOG_HASH_LEN],
    const uint8_t (*proof)[TLOG_HASH_LEN], size_t n)
{
	const uint8_t *p[TLOG_MAX_PROOF];
	int r;

	if ((r = consistency_sizes(size1, size2, n)) != CAIRN_OK)
		return r;
	if (size1 == size2) {
		if (memcmp(root1, root2, TLOG_HASH_LEN) != 0)
			return cairn_err(CAIRN_ERR_PROOF, "sizes are equal but "
			    "the roots differ");
		return CAIRN_OK;
	}
	if (n > TLOG_MAX_PROOF)
		return cairn_err(CAIRN_ERR_PROOF, "proof has %zu hashes, more "
		    "than %d", n, TLOG_MAX_PROOF);
	for (size_t i = 0; i < n; i++)
		p[i] = proof[i];
	return consistency_core(size1, size2, root1, root2, p, n);
}

int
tlog_consistency_check(uint64_t size1, uint64_t size2,
    const uint8_t root1[TLOG_HASH_LEN], const uint8_t root2[TLOG_HASH_LEN],
    const uint8_t (*proof)[TLOG_HASH_LEN], size_t n)
{
	uint8_t empty[TLOG_HASH_LEN];

	if (size1 != 0)
		return tlog_consistency_verify(size1, size2, root1, root2,
		    proof, n);
	if (n != 0)
		return cairn_err(CAIRN_ERR_PROOF, "a proof from size 0 must be "
		    "empty, got %zu hashes", n);
	tlog_empty_root(empty);
	if (memcmp(root1, empty, TLOG_HASH_LEN) != 0)
		return cairn_err(CAIRN_ERR_PROOF, "root of size 0 is not the "
		    "empty root");
	if (size2 == 0 && memcmp(root2, empty, TLOG_HASH_LEN) != 0)
		return cairn_err(CAIRN_ERR_PROOF, "root of size 0 is not the "
		    "empty root");
	return CAIRN_OK;
}

static int
check_hash_len(struct tlog_bytes b, const char *what)
{
	if (b.len != TLOG_HASH_LEN)
		return cairn_err(CAIRN_ERR_PROOF, "%s is %zu bytes, not %d",
		    what, b.len, TLOG_HASH_LEN);
	return CAIRN_OK;
}

static int
check_proof_bytes(const struct tlog_bytes *proof, size_t n,
    const uint8_t **p)
{
	if (n > TLOG_MAX_PROOF)
		return cairn_err(CAIRN_ERR_PROOF, "proof has %zu hashes, more "
		    "than %d", n, TLOG_MAX_PROOF);
	for (size_t i = 0; i < n; i++) {
		if (proof[i].len != TLOG_HASH_LEN)
			return cairn_err(CAIRN_ERR_PROOF, "proof hash %zu is "
			    "%zu bytes, not %d", i, proof[i].len,
			    TLOG_HASH_LEN);
		p[i] = proof[i].p;
	}
	return CAIRN_OK;
}

int
tlog_inclusion_verify_bytes(struct tlog_bytes leaf, uint64_t index,
    uint64_t size, const struct tlog_bytes *proof, size_t n,
    struct tlog_bytes root)
{
	const uint8_t *p[TLOG_MAX_PROOF];
	int r;

	if ((r = check_hash_len(leaf, "leaf hash")) != CAIRN_OK ||
	    (r = check_hash_len(root, "root")) != CAIRN_OK ||
	    (r = check_proof_bytes(proof, n, p)) != CAIRN_OK)
		return r;
	return inclusion_core(leaf.p, index, size, p, n, root.p);
}

int
tlog_consistency_verify_bytes(uint64_t size1, uint64_t size2,
    struct tlog_bytes root1, struct tlog_bytes root2,
    const struct tlog_bytes *proof, size_t n)
{
	const uint8_t *p[TLOG_MAX_PROOF];
	int r;

	if ((r = consistency_sizes(size1, size2, n)) != CAIRN_OK)
		return r;
	if (size1 == size2) {
		if (root1.len != root2.len || (root1.len > 0 &&
		    memcmp(root1.p, root2.p, root1.len) != 0))
			return cairn_err(CAIRN_ERR_PROOF, "sizes are equal but "
			    "the roots differ");
		return CAIRN_OK;
	}
	if ((r = check_hash_len(root1, "root1")) != CAIRN_OK ||
	    (r = check_hash_len(root2, "root2")) != CAIRN_OK ||
	    (r = check_proof_bytes(proof, n, p)) != CAIRN_OK)
		return r;
	return consistency_core(size1, size2, root1.p, root2.p, p, n);
}

int
tlog_range_root(const struct tlog_hash_source *src, uint64_t begin,
    uint64_t end, uint8_t out[TLOG_HASH_LEN])
{
	uint8_t part[64][TLOG_HASH_LEN];
	uint64_t w, at;
	unsigned np = 0;
	int r;

	if (end < begin)
		return cairn_err(CAIRN_ERR_ARG, "range [%llu, %llu) is "
		    "reversed", (unsigned long long)begin,
		    (unsigned long long)end);
	if (end == begin) {
		tlog_empty_root(out);
		return CAIRN_OK;
	}
	w = end - begin;
	if (begin % hibit(w) != 0)
		return cairn_err(CAIRN_ERR_ARG, "range [%llu, %llu) is not "
		    "aligned", (unsigned long long)begin,
		    (unsigned long long)end);
	/* One complete subtree per set bit of the width, largest first. */
	at = begin;
	for (int level = 63; level >= 0; level--) {
		uint64_t bit = (uint64_t)1 << level;

		if ((w & bit) == 0)
			continue;
		if ((r = src->node(src->ctx, (unsigned)level, at >> level,
		    part[np])) != CAIRN_OK)
			return r;
		np++;
		at += bit;
	}
	for (unsigned i = np - 1; i > 0; i--)
		tlog_node_hash(part[i - 1], part[i], part[i - 1]);
	memcpy(out, part[0], TLOG_HASH_LEN);
	return CAIRN_OK;
}

static void
reverse(uint8_t (*p)[TLOG_HASH_LEN], size_t n)
{
	uint8_t t[TLOG_HASH_LEN];

	for (size_t i = 0; i < n / 2; i++) {
		memcpy(t, p[i], TLOG_HASH_LEN);
		memcpy(p[i], p[n - 1 - i], TLOG_HASH_LEN);
		memcpy(p[n - 1 - i], t, TLOG_HASH_LEN);
	}
}

int
tlog_inclusion_proof(const struct tlog_hash_source *src, uint64_t index,
    uint64_t size, uint8_t (*proof)[TLOG_HASH_LEN], size_t cap, size_t *n)
{
	uint8_t tmp[TLOG_MAX_PROOF][TLOG_HASH_LEN];
	uint64_t begin = 0, end = size, k;
	size_t np = 0;
	int r;

	if (index >= size)
		return cairn_err(CAIRN_ERR_RANGE, "leaf index %llu is not below "
		    "tree size %llu", (unsigned long long)index,
		    (unsigned long long)size);
	while (end - begin > 1) {
		k = tlog_split(end - begin);
		if (index - begin < k) {
			r = tlog_range_root(src, begin + k, end, tmp[np]);
			end = begin + k;
		} else {
			r = tlog_range_root(src, begin, begin + k, tmp[np]);
			begin += k;
		}
		if (r != CAIRN_OK)
			return r;
		np++;
	}
	if (np > cap)
		return cairn_err(CAIRN_ERR_TOOBIG, "inclusion proof needs %zu "
		    "hashes, room for %zu", np, cap);
	reverse(tmp, np);
	memcpy(proof, tmp, np * TLOG_HASH_LEN);
	*n = np;
	return CAIRN_OK;
}

int
tlog_consistency_proof(const struct tlog_hash_source *src, uint64_t size1,
    uint64_t size2, uint8_t (*proof)[TLOG_HASH_LEN], size_t cap, size_t *n)
{
	uint8_t tmp[TLOG_MAX_PROOF][TLOG_HASH_LEN];
	uint64_t begin = 0, end = size2, m = size1, k;
	bool whole = true;
	size_t np = 0;
	int r;

	if (size1 > size2)
		return cairn_err(CAIRN_ERR_RANGE, "size1 %llu is greater than "
		    "size2 %llu", (unsigned long long)size1,
		    (unsigned long long)size2);
	if (size1 == 0 || size1 == size2) {
		*n = 0;
		return CAIRN_OK;
	}
	/* SUBPROOF(m, D[begin:end], whole), m relative to begin. */
	for (;;) {
		if (m == end - begin) {
			if (!whole) {
				if ((r = tlog_range_root(src, begin, end,
				    tmp[np])) != CAIRN_OK)
					return r;
				np++;
			}
			break;
		}
		k = tlog_split(end - begin);
		if (m <= k) {
			r = tlog_range_root(src, begin + k, end, tmp[np]);
			end = begin + k;
		} else {
			r = tlog_range_root(src, begin, begin + k, tmp[np]);
			m -= k;
			begin += k;
			whole = false;
		}
		if (r != CAIRN_OK)
			return r;
		np++;
	}
	if (np > cap)
		return cairn_err(CAIRN_ERR_TOOBIG, "consistency proof needs %zu "
		    "hashes, room for %zu", np, cap);
	reverse(tmp, np);
	memcpy(proof, tmp, np * TLOG_HASH_LEN);
	*n = np;
	return CAIRN_OK;
}

void
tlog_frontier_init(struct tlog_frontier *f)
{
	f->size = 0;
	f->n = 0;
}

int
tlog_frontier_append(struct tlog_frontier *f,
    const uint8_t leaf[TLOG_HASH_LEN],
    int (*emit)(void *ctx, unsigned level, uint64_t idx,
    const uint8_t hash[TLOG_HASH_LEN]), void *ctx)
{
	uint8_t h[TLOG_HASH_LEN];
	uint64_t i = f->size;
	unsigned level = 0, top = f->n;
	int r;

	if (f->size >= ((uint64_t)1 << 63))
		return cairn_err(CAIRN_ERR_OVERFLOW, "tree is full");
	memcpy(h, leaf, TLOG_HASH_LEN);
	/* Each set low bit of the old size is a subtree the leaf closes. */
	while ((i >> level) & 1) {
		tlog_node_hash(f->hash[top - 1], h, h);
		top--;
		level++;
		if (emit != NULL && (r = emit(ctx, level, i >> level, h)) !=
		    CAIRN_OK)
			return r;
	}
	memcpy(f->hash[top], h, TLOG_HASH_LEN);
	f->n = top + 1;
	f->size++;
	return CAIRN_OK;
}

void
tlog_frontier_root(const struct tlog_frontier *f, uint8_t out[TLOG_HASH_LEN])
{
	uint8_t h[TLOG_HASH_LEN];

	if (f->n == 0) {
		tlog_empty_root(out);
		return;
	}
	memcpy(h, f->hash[f->n - 1], TLOG_HASH_LEN);
	for (unsigned i = f->n - 1; i > 0; i--)
		tlog_node_hash(f->hash[i - 1], h, h);
	memcpy(out, h, TLOG_HASH_LEN);
}

int
tlog_frontier_load(struct tlog_frontier *f,
    const struct tlog_hash_source *src, uint64_t size)
{
	struct tlog_frontier t;
	uint64_t at = 0;
	int r;

	t.size = size;
	t.n = 0;
	for (int level = 63; level >= 0; level--) {
		uint64_t bit = (uint64_t)1 << level;

		if ((size & bit) == 0)
			continue;
		if ((r = src->node(src->ctx, (unsigned)level, at >> level,
		    t.hash[t.n])) != CAIRN_OK)
			return r;
		t.n++;
		at += bit;
	}
	memcpy(f, &t, sizeof(t));
	return CAIRN_OK;
}
