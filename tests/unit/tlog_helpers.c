/*
 * tlog_helpers.c - fixtures of the transparency-log unit tests (see
 * tlog_helpers.h).  The in-memory tree is built bottom-up, independently
 * of the frontier code it is used to check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "common/err.h"
#include "tests/unit/tlog_helpers.h"

static int
mem_node(void *ctx, unsigned level, uint64_t idx, uint8_t out[TLOG_HASH_LEN])
{
	struct memtree *t = ctx;

	if (level >= t->levels || idx >= (t->size >> level))
		return cairn_err(CAIRN_ERR_NOTFOUND, "no node (%u, %llu)",
		    level, (unsigned long long)idx);
	memcpy(out, t->level[level][idx], TLOG_HASH_LEN);
	return CAIRN_OK;
}

void
tlogt_memtree_init(struct memtree *t, const uint8_t (*leaves)[TLOG_HASH_LEN],
    uint64_t n)
{
	memset(t, 0, sizeof(*t));
	t->size = n;
	t->src.node = mem_node;
	t->src.ctx = t;
	for (unsigned l = 0; (n >> l) > 0; l++) {
		uint64_t m = n >> l;

		t->level[l] = calloc(m, TLOG_HASH_LEN);
		if (t->level[l] == NULL)
			abort();
		for (uint64_t i = 0; i < m; i++) {
			if (l == 0)
				memcpy(t->level[0][i], leaves[i], TLOG_HASH_LEN);
			else
				tlog_node_hash(t->level[l - 1][2 * i],
				    t->level[l - 1][2 * i + 1], t->level[l][i]);
		}
		t->levels = l + 1;
	}
}

void
tlogt_memtree_free(struct memtree *t)
{
	for (unsigned l = 0; l < t->levels; l++)
		free(t->level[l]);
	t->levels = 0;
}

void
tlogt_memtree_root_naive(const struct memtree *t, uint64_t begin, uint64_t end,
    uint8_t out[TLOG_HASH_LEN])
{
	uint8_t l[TLOG_HASH_LEN], r[TLOG_HASH_LEN];
	uint64_t k;

	if (end == begin) {
		tlog_empty_root(out);
		return;
	}
	if (end - begin == 1) {
		memcpy(out, t->level[0][begin], TLOG_HASH_LEN);
		return;
	}
	for (k = 1; k < end - begin - k; k <<= 1)
		;
	tlogt_memtree_root_naive(t, begin, begin + k, l);
	tlogt_memtree_root_naive(t, begin + k, end, r);
	tlog_node_hash(l, r, out);
}

static int
test_sign(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64])
{
	struct test_key *k = ctx;

	crypto_sign_detached(sig, NULL, msg, len, k->sk);
	return CAIRN_OK;
}

void
tlogt_test_key_init(struct test_key *k, const char *name, const uint8_t seed[32])
{
	memset(k, 0, sizeof(*k));
	if (crypto_sign_seed_keypair(k->pk, k->sk, seed) != 0)
		abort();
	snprintf(k->name, sizeof(k->name), "%s", name);
	k->signer.name = k->name;
	memcpy(k->signer.pub, k->pk, 32);
	k->signer.sign = test_sign;
	k->signer.ctx = k;
	snprintf(k->verifier.name, sizeof(k->verifier.name), "%s", name);
	k->verifier.type = TLOG_KEY_ED25519;
	memcpy(k->verifier.pub, k->pk, 32);
	tlog_key_id(name, TLOG_KEY_ED25519, k->pk, k->verifier.key_id);
	k->cosigner = k->verifier;
	k->cosigner.type = TLOG_KEY_COSIGNATURE;
	tlog_key_id(name, TLOG_KEY_COSIGNATURE, k->pk, k->cosigner.key_id);
}

size_t
tlogt_hex2bin(const char *s, uint8_t *out, size_t cap)
{
	size_t n;

	if (sodium_hex2bin(out, cap, s, strlen(s), NULL, &n, NULL) != 0) {
		fprintf(stderr, "bad hex '%s'\n", s);
		abort();
	}
	return n;
}

void
tlogt_hex32(const char *s, uint8_t out[TLOG_HASH_LEN])
{
	if (tlogt_hex2bin(s, out, TLOG_HASH_LEN) != TLOG_HASH_LEN)
		abort();
}

/*
 * jansson reads integers as json_int_t (int64): the probes' uint64
 * maximum 18446744073709551615 is rewritten as -1 before parsing, which
 * json_integer_value() then returns and a cast turns back into 2^64-1.
 */
json_t *
tlogt_load_vector(const char *name)
{
	static const char big[] = ": 18446744073709551615";
	const char *top = getenv("CAIRN_TOP");
	char path[4096], *buf, *p;
	json_error_t err;
	size_t n;
	FILE *f;
	json_t *j;

	snprintf(path, sizeof(path), "%s/tests/vectors/%s",
	    top != NULL ? top : ".", name);
	if ((f = fopen(path, "r")) == NULL || (buf = malloc(1 << 20)) == NULL)
		abort();
	n = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	buf[n] = '\0';
	while ((p = strstr(buf, big)) != NULL) {
		memcpy(p, ": -1", 4);
		memset(p + 4, ' ', sizeof(big) - 1 - 4);
	}
	if ((j = json_loads(buf, 0, &err)) == NULL) {
		fprintf(stderr, "%s:%d: %s\n", path, err.line, err.text);
		abort();
	}
	free(buf);
	return j;
}

void
tlogt_tmp_path(char *buf, size_t cap, const char *tag)
{
	uint32_t r = randombytes_random();

	snprintf(buf, cap, "/tmp/cairn-test-%s-%ld-%08x.db", tag,
	    (long)getpid(), r);
}

void
tlogt_rm_db(const char *path)
{
	char p[4200];

	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
}
