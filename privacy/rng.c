/*
 * rng.c - the randomness of the privacy engine.
 *
 * Two sources fill the same 4096-byte buffer: libsodium's CSPRNG
 * (randombytes_buf), the only source a node uses, and the deterministic
 * test source, a ChaCha20 keystream under a 32-byte seed that only tests,
 * benchmarks and `cairn privacy sample --seed` construct.  Both hand out
 * bits through the inline reservoir in dp_int.h; uniform integers are drawn
 * by rejection, never by a modulo.  The handle lives in sodium_malloc
 * memory because its buffer holds noise that has not been drawn yet.
 */
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "common/err.h"
#include "privacy/dp.h"
#include "privacy/dp_int.h"

void
dp_rng_refill(struct dp_rng *r)
{
	uint8_t nonce[crypto_stream_chacha20_NONCEBYTES];
	uint64_t b;

	if (r->seeded) {
		b = r->block++;
		for (size_t i = 0; i < sizeof(nonce); i++)
			nonce[i] = (uint8_t)(b >> (8 * i));
		crypto_stream_chacha20(r->buf, sizeof(r->buf), nonce, r->key);
	} else {
		randombytes_buf(r->buf, sizeof(r->buf));
		r->pid = (long)getpid();
	}
	r->pos = 0;
}

void
dp_rng_enter(struct dp_rng *r)
{
	if (r->seeded || r->pid == (long)getpid())
		return;
	/* Forked: the buffer and reservoir are the parent's future noise. */
	sodium_memzero(r->buf, sizeof(r->buf));
	r->bits = 0;
	r->nbits = 0;
	dp_rng_refill(r);
}

static int
rng_new(struct dp_rng **out, const uint8_t *seed)
{
	struct dp_rng *r;

	if (sodium_init() < 0)
		return cairn_err(CAIRN_ERR_CRYPTO, "libsodium failed to start");
	if ((r = sodium_malloc(sizeof(*r))) == NULL)
		return cairn_err(CAIRN_ERR_NOMEM, "cannot allocate an rng");
	memset(r, 0, sizeof(*r));
	if (seed != NULL) {
		r->seeded = true;
		memcpy(r->key, seed, sizeof(r->key));
	}
	dp_rng_refill(r);
	*out = r;
	return CAIRN_OK;
}

int
dp_rng_new_csprng(struct dp_rng **out)
{
	return rng_new(out, NULL);
}

int
dp_rng_new_seeded(struct dp_rng **out, const uint8_t seed[static 32])
{
	return rng_new(out, seed);
}

bool
dp_rng_is_deterministic(const struct dp_rng *rng)
{
	return rng->seeded;
}

void
dp_rng_free(struct dp_rng *rng)
{
	if (rng == NULL)
		return;
	sodium_memzero(rng, sizeof(*rng));
	sodium_free(rng);
}

int
dp_rng_uniform(struct dp_rng *rng, uint64_t n, uint64_t *out)
{
	if (n == 0)
		return cairn_err(CAIRN_ERR_ARG, "uniform draw from an empty "
		    "range [0, 0)");
	dp_rng_enter(rng);
	*out = dp_rng_below(rng, n);
	return CAIRN_OK;
}

int
dp_rng_uniform128(struct dp_rng *rng, dp_u128 n, dp_u128 *out)
{
	dp_u128 v, m;
	unsigned k;
	uint64_t hi;

	if (n == 0)
		return cairn_err(CAIRN_ERR_ARG, "uniform draw from an empty "
		    "range [0, 0)");
	dp_rng_enter(rng);
	m = n - 1;
	if ((uint64_t)(m >> 64) == 0) {
		/* n <= 2^64: one 64-bit-or-less draw. */
		*out = (uint64_t)m == UINT64_MAX ? dp_rng_bits(rng, 64) :
		    dp_rng_below(rng, (uint64_t)m + 1);
		return CAIRN_OK;
	}
	hi = (uint64_t)(m >> 64);
	/* k bits above the low 64. */
	k = 64 - (unsigned)__builtin_clzll(hi);
	do {
		v = dp_rng_bits(rng, 64);
		v |= (dp_u128)dp_rng_bits(rng, k) << 64;
	} while (v > m);
	*out = v;
	return CAIRN_OK;
}

uint64_t
dp_isqrt(uint64_t x)
{
	uint64_t s = 0, bit;

	/* Digit-by-digit square root, one result bit per step. */
	for (bit = (uint64_t)1 << 31; bit != 0; bit >>= 1) {
		uint64_t c = s | bit;

		if (c * c <= x)
			s = c;
	}
	return s;
}
