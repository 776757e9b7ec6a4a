/*
 * secagg.c - pairwise masking for secure aggregation (see secagg.h for
 * the construction).  libsodium provides X25519 (crypto_scalarmult),
 * BLAKE2b (crypto_generichash) and ChaCha20 (crypto_stream_chacha20);
 * this file only composes them.  Keystream is produced in fixed chunks so
 * that a vector of any length is masked in cache-sized pieces, and every
 * chunk of keystream is wiped after use: a mask alone reveals a peer's
 * input once its masked vector is known.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/err.h"
#include "protocol/secagg.h"

#define SID_DOMAIN	"cairn/v1/sid"
#define MASK_DOMAIN	"cairn/v1/mask"
#define CHECK_DOMAIN	"cairn/v1/check"
#define CHUNK_CELLS	2048			/* 16 KiB of keystream */

static uint64_t
load_le64(const uint8_t *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	    (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 |
	    (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
	    (uint64_t)p[7] << 56;
}

static void
store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int
secagg_keypair(uint8_t epk[static SECAGG_KEY_LEN],
    uint8_t esk[static SECAGG_KEY_LEN])
{
	randombytes_buf(esk, SECAGG_KEY_LEN);
	if (crypto_scalarmult_base(epk, esk) != 0) {
		sodium_memzero(esk, SECAGG_KEY_LEN);
		return cairn_err(CAIRN_ERR_CRYPTO,
		    "X25519 key generation failed");
	}
	return CAIRN_OK;
}

static int
member_cmp(const void *a, const void *b)
{
	return memcmp(((const struct secagg_member *)a)->id,
	    ((const struct secagg_member *)b)->id, SECAGG_KEY_LEN);
}

void
secagg_roster_sort(struct secagg_member *roster, size_t n)
{
	qsort(roster, n, sizeof(*roster), member_cmp);
}

long
secagg_roster_find(const struct secagg_member *roster, size_t n,
    const uint8_t id[static SECAGG_KEY_LEN])
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(roster[mid].id, id, SECAGG_KEY_LEN);

		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

int
secagg_roster_check(const struct secagg_member *roster, size_t n)
{
	int c;

	if (n < SECAGG_MIN_MEMBERS || n > SECAGG_MAX_MEMBERS)
		return cairn_err(CAIRN_ERR_FORMAT,
		    "roster of %zu members (must be %d to %d)", n,
		    SECAGG_MIN_MEMBERS, SECAGG_MAX_MEMBERS);
	for (size_t i = 1; i < n; i++) {
		c = memcmp(roster[i - 1].id, roster[i].id, SECAGG_KEY_LEN);
		if (c >= 0)
			return cairn_err(CAIRN_ERR_FORMAT,
			    "roster member %zu is %s", i,
			    c == 0 ? "a duplicate" : "out of order");
	}
	/* A repeated ephemeral key would make two pairs share a mask. */
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (sodium_memcmp(roster[i].epk, roster[j].epk,
			    SECAGG_KEY_LEN) == 0)
				return cairn_err(CAIRN_ERR_FORMAT,
				    "roster members %zu and %zu share an "
				    "ephemeral key", i, j);
	return CAIRN_OK;
}

int
secagg_sid(const uint8_t qhash[static 32], const struct secagg_member *roster,
    size_t n, uint8_t sid[static 32])
{
	crypto_generichash_state st;
	int r;

	if ((r = secagg_roster_check(roster, n)) != CAIRN_OK)
		return r;
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)SID_DOMAIN,
	    strlen(SID_DOMAIN));
	crypto_generichash_update(&st, qhash, 32);
	for (size_t i = 0; i < n; i++) {
		crypto_generichash_update(&st, roster[i].id, SECAGG_KEY_LEN);
		crypto_generichash_update(&st, roster[i].epk, SECAGG_KEY_LEN);
	}
	crypto_generichash_final(&st, sid, 32);
	return CAIRN_OK;
}

int
secagg_pair_key(const uint8_t esk[static SECAGG_KEY_LEN],
    const uint8_t peer_epk[static SECAGG_KEY_LEN],
    const uint8_t sid[static 32], uint32_t i, uint32_t j, uint8_t k[static 32])
{
	uint8_t shared[crypto_scalarmult_BYTES];
	uint8_t msg[sizeof(MASK_DOMAIN) - 1 + 32 + 8];
	size_t dl = sizeof(MASK_DOMAIN) - 1;
	int r;

	if (i == j)
		return cairn_err(CAIRN_ERR_ARG,
		    "pair key of member %u with itself", i);
	if (crypto_scalarmult(shared, esk, peer_epk) != 0) {
		r = cairn_err(CAIRN_ERR_CRYPTO,
		    "peer ephemeral key is of low order");
		goto out;
	}
	memcpy(msg, MASK_DOMAIN, dl);
	memcpy(msg + dl, sid, 32);
	store_be32(msg + dl + 32, i < j ? i : j);
	store_be32(msg + dl + 36, i < j ? j : i);
	crypto_generichash(k, 32, msg, sizeof(msg), shared, sizeof(shared));
	r = CAIRN_OK;
out:
	sodium_memzero(shared, sizeof(shared));
	return r;
}

int
secagg_mask(const uint8_t esk[static SECAGG_KEY_LEN],
    const struct secagg_member *roster, size_t n, size_t self,
    const uint8_t sid[static 32], const int64_t *x, uint64_t *y, size_t len)
{
	static const uint8_t nonce[crypto_stream_chacha20_NONCEBYTES];
	uint8_t pk[SECAGG_KEY_LEN], k[32];
	uint8_t *ks = NULL;
	size_t j, off, m, c;
	int r;

	sodium_memzero(k, sizeof(k));
	if ((r = secagg_roster_check(roster, n)) != CAIRN_OK)
		goto out;
	if (self >= n) {
		r = cairn_err(CAIRN_ERR_ARG,
		    "member %zu of a roster of %zu", self, n);
		goto out;
	}
	if (crypto_scalarmult_base(pk, esk) != 0 ||
	    sodium_memcmp(pk, roster[self].epk, SECAGG_KEY_LEN) != 0) {
		r = cairn_err(CAIRN_ERR_ARG,
		    "ephemeral secret does not match roster member %zu", self);
		goto out;
	}
	if ((ks = sodium_malloc(CHUNK_CELLS * 8)) == NULL) {
		r = cairn_err(CAIRN_ERR_NOMEM, "keystream buffer");
		goto out;
	}
	/* In place, the cells are there already. */
	if ((const void *)x != (const void *)y)
		for (c = 0; c < len; c++)
			y[c] = (uint64_t)x[c];
	for (j = 0; j < n; j++) {
		if (j == self)
			continue;
		if ((r = secagg_pair_key(esk, roster[j].epk, sid,
		    (uint32_t)self, (uint32_t)j, k)) != CAIRN_OK)
			goto out;
		for (off = 0; off < len; off += m) {
			m = len - off < CHUNK_CELLS ? len - off : CHUNK_CELLS;
			memset(ks, 0, m * 8);
			/* 64-byte ChaCha20 blocks hold 8 cells each. */
			crypto_stream_chacha20_xor_ic(ks, ks, m * 8, nonce,
			    (uint64_t)(off / 8), k);
			if (j > self)
				for (c = 0; c < m; c++)
					y[off + c] += load_le64(ks + 8 * c);
			else
				for (c = 0; c < m; c++)
					y[off + c] -= load_le64(ks + 8 * c);
		}
		sodium_memzero(k, sizeof(k));
	}
	r = CAIRN_OK;
out:
	sodium_memzero(k, sizeof(k));
	if (ks != NULL)
		sodium_free(ks);	/* sodium_free wipes before freeing */
	if (r != CAIRN_OK && len > 0)
		sodium_memzero(y, len * sizeof(*y));
	return r;
}

void
secagg_sum_add(uint64_t *acc, const uint64_t *y, size_t len)
{
	for (size_t c = 0; c < len; c++)
		acc[c] += y[c];
}

/*
 * Feed the 'n' cells of 'v' as 8 little-endian bytes each to 'update'
 * (the one encoding both digests of the values hash).
 */
static void
cells_le(const uint64_t *v, size_t n,
    void (*update)(void *, const uint8_t *, size_t), void *st)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	/* The cells are little-endian in memory already. */
	update(st, (const uint8_t *)v, n * sizeof(*v));
#else
	uint8_t buf[8 * 256];

	for (size_t i = 0; i < n; i += 256) {
		size_t k = n - i < 256 ? n - i : 256;

		for (size_t j = 0; j < k; j++)
			for (int b = 0; b < 8; b++)
				buf[j * 8 + (size_t)b] =
				    (uint8_t)(v[i + j] >> (8 * b));
		update(st, buf, k * 8);
	}
#endif
}

static void
blake2b_update(void *st, const uint8_t *p, size_t n)
{
	crypto_generichash_update(st, p, n);
}

static void
sha256_update(void *st, const uint8_t *p, size_t n)
{
	crypto_hash_sha256_update(st, p, n);
}

void
secagg_cells_digest(const uint64_t *v, size_t n, uint8_t out[static 32])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	cells_le(v, n, blake2b_update, &st);
	crypto_generichash_final(&st, out, 32);
}

void
secagg_cells_sha256(const uint64_t *v, size_t n, uint8_t out[static 32])
{
	crypto_hash_sha256_state st;

	crypto_hash_sha256_init(&st);
	cells_le(v, n, sha256_update, &st);
	crypto_hash_sha256_final(&st, out);
}

uint64_t
secagg_check_value(const uint8_t sid[static 32])
{
	uint8_t msg[sizeof(CHECK_DOMAIN) - 1 + 32], h[32];

	memcpy(msg, CHECK_DOMAIN, sizeof(CHECK_DOMAIN) - 1);
	memcpy(msg + sizeof(CHECK_DOMAIN) - 1, sid, 32);
	crypto_generichash(h, sizeof(h), msg, sizeof(msg), NULL, 0);
	return load_le64(h);
}

bool
secagg_check_is_valid(uint64_t check_sum, size_t n,
    const uint8_t sid[static 32])
{
	return check_sum == (uint64_t)n * secagg_check_value(sid);
}

int64_t
secagg_decode(uint64_t v)
{
	if (v <= (uint64_t)INT64_MAX)
		return (int64_t)v;
	return -(int64_t)(~v) - 1;
}
