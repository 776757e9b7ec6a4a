/*
 * synth_rng.c - the generator's random numbers: a ChaCha20 keystream from
 * libsodium, keyed by a key derived from the seed, one stream per nonce.
 * Never libc rand(): the output must be the same on every machine.
 */
#include <string.h>

#include <sodium.h>

#include "synth/synth.h"

#define DOMAIN	"cairn-synth-v1"

void
synth_key_from_seed(uint64_t seed, uint8_t key[static 32])
{
	uint8_t le[8];

	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(seed >> (8 * i));
	crypto_generichash(key, 32, le, sizeof(le),
	    (const unsigned char *)DOMAIN, sizeof(DOMAIN) - 1);
}

void
synth_rng_init(struct synth_rng *g, const uint8_t key[static 32],
    uint64_t stream)
{
	memcpy(g->key, key, 32);
	for (int i = 0; i < 8; i++)
		g->nonce[i] = (uint8_t)(stream >> (8 * i));
	g->block = 0;
	g->pos = 32;		/* empty: the first read refills */
	g->pre = NULL;
	g->npre = g->ppos = 0;
}

void
synth_rng_init_pre(struct synth_rng *g, const uint8_t key[static 32],
    uint64_t stream, const uint32_t *pre, unsigned npre)
{
	synth_rng_init(g, key, stream);
	g->pre = pre;
	g->npre = npre;
}

void
synth_keystream(const uint8_t key[static 32], uint64_t stream,
    uint64_t first, size_t count, unsigned nwords, uint32_t *words)
{
	static const uint8_t zero[65536];
	uint8_t nonce[8];
	uint64_t block = first * (nwords / 16);
	size_t left = count * nwords * 4;
	uint8_t *out = (uint8_t *)words;

	for (int i = 0; i < 8; i++)
		nonce[i] = (uint8_t)(stream >> (8 * i));
	while (left > 0) {
		size_t n = left < sizeof(zero) ? left : sizeof(zero);

		crypto_stream_chacha20_xor_ic(out, zero, n, nonce, block, key);
		block += n / 64;
		out += n;
		left -= n;
	}
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	for (size_t i = 0; i < count * nwords; i++)
		words[i] = __builtin_bswap32(words[i]);
#endif
}

static void
refill(struct synth_rng *g)
{
	static const uint8_t zero[128];
	uint8_t b[128];

	crypto_stream_chacha20_xor_ic(b, zero, sizeof(b), g->nonce, g->block,
	    g->key);
	g->block += 2;
	for (int i = 0; i < 32; i++)
		g->buf[i] = (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 |
		    (uint32_t)b[4 * i + 2] << 16 | (uint32_t)b[4 * i + 3] << 24;
	g->pos = 0;
}

uint32_t
synth_rng_u32(struct synth_rng *g)
{
	if (g->ppos < g->npre)
		return g->pre[g->ppos++];
	if (g->pos == 32)
		refill(g);
	return g->buf[g->pos++];
}

uint32_t
synth_rng_below(struct synth_rng *g, uint32_t n)
{
	return (uint32_t)(((uint64_t)synth_rng_u32(g) * n) >> 32);
}

double
synth_rng_unit(struct synth_rng *g)
{
	return synth_rng_u32(g) * (1.0 / 4294967296.0);
}
