/*
 * test_secagg.c - pairwise masking: the published known answers (which an
 * independent Python implementation recomputes in tests/e2e), sums for
 * random vectors and rosters of 2 to 20 nodes, uniformity of one masked
 * vector with a negative control, detection of a roster disagreement, and
 * every refusal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "common/err.h"
#include "protocol/secagg.h"

static void
unhex(const char *s, uint8_t *out, size_t n)
{
	assert_int_equal(strlen(s), 2 * n);
	assert_int_equal(sodium_hex2bin(out, n, s, 2 * n, NULL, NULL, NULL), 0);
}

static uint64_t
dec_u64(json_t *v)
{
	assert_true(json_is_string(v));
	return strtoull(json_string_value(v), NULL, 10);
}

static json_t *
load_kat(void)
{
	const char *top = getenv("CAIRN_TOP");
	char path[1024];
	json_error_t e;
	json_t *kat;

	snprintf(path, sizeof(path), "%s/tests/vectors/secagg_kat.json",
	    top != NULL ? top : ".");
	kat = json_load_file(path, 0, &e);
	if (kat == NULL)
		fail_msg("%s:%d: %s", path, e.line, e.text);
	return kat;
}

/* Seeded test ephemeral keys: deterministic rosters for the tests. */
static void
make_roster(struct secagg_member *r, uint8_t (*esk)[32], size_t n,
    uint32_t seed)
{
	uint8_t tmp[32 + 32];
	struct secagg_member m;
	uint8_t s[32];

	for (size_t i = 0; i < n; i++) {
		uint32_t v[2] = { seed, (uint32_t)i };

		crypto_generichash(tmp, 32, (uint8_t *)v, sizeof(v), NULL, 0);
		memcpy(r[i].id, tmp, 32);
		crypto_generichash(esk[i], 32, tmp, 32, NULL, 0);
		assert_int_equal(crypto_scalarmult_base(r[i].epk, esk[i]), 0);
	}
	/* Sort members and their secrets together. */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 &&
		    memcmp(r[j - 1].id, r[j].id, 32) > 0; j--) {
			m = r[j];
			r[j] = r[j - 1];
			r[j - 1] = m;
			memcpy(s, esk[j], 32);
			memcpy(esk[j], esk[j - 1], 32);
			memcpy(esk[j - 1], s, 32);
		}
}

static void
test_known_answers(void **state)
{
	json_t *kat = load_kat(), *nodes = json_object_get(kat, "nodes");
	struct secagg_member r[3];
	uint8_t esk[3][32], qhash[32], sid[32], want[32], k[32];
	int64_t x[3][8];
	uint64_t y[8], acc[8] = { 0 };
	size_t i, c, idx;
	json_t *pk;

	assert_int_equal(json_array_size(nodes), 3);
	unhex(json_string_value(json_object_get(kat, "query_hash")), qhash, 32);
	for (i = 0; i < 3; i++) {
		json_t *n = json_array_get(nodes, i);
		json_t *xs = json_object_get(n, "x");

		unhex(json_string_value(json_object_get(n, "id")), r[i].id, 32);
		unhex(json_string_value(json_object_get(n, "esk")), esk[i], 32);
		unhex(json_string_value(json_object_get(n, "epk")), want, 32);
		assert_int_equal(crypto_scalarmult_base(r[i].epk, esk[i]), 0);
		assert_memory_equal(r[i].epk, want, 32);
		assert_int_equal(json_array_size(xs), 8);
		for (c = 0; c < 8; c++)
			x[i][c] = json_integer_value(json_array_get(xs, c));
	}
	assert_int_equal(secagg_sid(qhash, r, 3, sid), CAIRN_OK);
	unhex(json_string_value(json_object_get(kat, "sid")), want, 32);
	assert_memory_equal(sid, want, 32);
	assert_true(secagg_check_value(sid) ==
	    dec_u64(json_object_get(kat, "check_value")));
	json_array_foreach(json_object_get(kat, "pair_keys"), idx, pk) {
		uint32_t pi = (uint32_t)json_integer_value(json_object_get(pk, "i"));
		uint32_t pj = (uint32_t)json_integer_value(json_object_get(pk, "j"));

		unhex(json_string_value(json_object_get(pk, "k")), want, 32);
		assert_int_equal(secagg_pair_key(esk[pi], r[pj].epk, sid, pi, pj,
		    k), CAIRN_OK);
		assert_memory_equal(k, want, 32);
		assert_int_equal(secagg_pair_key(esk[pj], r[pi].epk, sid, pj, pi,
		    k), CAIRN_OK);
		assert_memory_equal(k, want, 32);
	}
	for (i = 0; i < 3; i++) {
		json_t *m = json_array_get(json_object_get(kat, "masked"), i);

		uint64_t z[8];

		assert_int_equal(secagg_mask(esk[i], r, 3, i, sid, x[i], y, 8),
		    CAIRN_OK);
		for (c = 0; c < 8; c++)
			assert_true(y[c] == dec_u64(json_array_get(m, c)));
		/* Masked in place (the node's round): the same share. */
		memcpy(z, x[i], sizeof(z));
		assert_int_equal(secagg_mask(esk[i], r, 3, i, sid,
		    (const int64_t *)z, z, 8), CAIRN_OK);
		for (c = 0; c < 8; c++)
			assert_true(z[c] == dec_u64(json_array_get(m, c)));
		secagg_sum_add(acc, y, 8);
	}
	for (c = 0; c < 8; c++) {
		assert_true(acc[c] ==
		    dec_u64(json_array_get(json_object_get(kat, "sum"), c)));
		/* The check cell (c = 7) wraps; it is tested below. */
		if (c < 7)
			assert_int_equal(secagg_decode(acc[c]),
			    x[0][c] + x[1][c] + x[2][c]);
	}
	assert_true(secagg_check_is_valid(acc[7], 3, sid));
	json_decref(kat);
}

static void
test_sum_equals_plain_sum(void **state)
{
	enum { MAXN = 20, LEN = 700 };
	struct secagg_member r[MAXN];
	uint8_t esk[MAXN][32], qhash[32] = { 7 }, sid[32];
	static int64_t x[MAXN][LEN + 2100];
	static uint64_t y[LEN + 2100], acc[LEN + 2100];
	size_t len;

	for (size_t n = 2; n <= MAXN; n++) {
		/* Lengths that end inside a block, on one, and past a chunk. */
		len = n == 2 ? 2049 + 3 : (n % 3 == 0 ? 8 : LEN + n);
		make_roster(r, esk, n, (uint32_t)n);
		assert_int_equal(secagg_sid(qhash, r, n, sid), CAIRN_OK);
		memset(acc, 0, sizeof(acc));
		for (size_t i = 0; i < n; i++) {
			for (size_t c = 0; c < len; c++) {
				uint64_t u = randombytes_uniform(2000001);

				x[i][c] = (int64_t)u - 1000000;
			}
			x[i][0] = INT64_MAX / 64;	/* large values wrap */
			assert_int_equal(secagg_mask(esk[i], r, n, i, sid, x[i],
			    y, len), CAIRN_OK);
			secagg_sum_add(acc, y, len);
		}
		for (size_t c = 0; c < len; c++) {
			int64_t want = 0;

			for (size_t i = 0; i < n; i++)
				want += x[i][c];
			assert_int_equal(secagg_decode(acc[c]), want);
		}
	}
}

/*
 * Per bit position, the number of ones among 4096 masked cells is
 * Binomial(4096, 1/2) (mean 2048, sd 32) when the mask is uniform; allow
 * 6 sd.  Over bytes, a chi-square with 255 degrees of freedom must stay
 * under 377 (p ≈ 1e-6, Wilson–Hilferty).
 */
static bool
looks_uniform(const uint64_t *y, size_t len)
{
	size_t ones[64] = { 0 }, bytes[256] = { 0 };
	double chi = 0, expect = (double)len * 8 / 256;

	for (size_t c = 0; c < len; c++)
		for (int b = 0; b < 64; b++) {
			ones[b] += (y[c] >> b) & 1;
			if (b % 8 == 0)
				bytes[(y[c] >> b) & 0xff]++;
		}
	for (int b = 0; b < 64; b++)
		if (ones[b] + 192 < len / 2 || ones[b] > len / 2 + 192)
			return false;
	for (int v = 0; v < 256; v++)
		chi += (bytes[v] - expect) * (bytes[v] - expect) / expect;
	return chi < 377;
}

static void
test_masked_vector_looks_uniform(void **state)
{
	enum { LEN = 4096 };
	struct secagg_member r[2];
	uint8_t esk[2][32], qhash[32] = { 1 }, sid[32];
	static int64_t x[LEN];
	static uint64_t y[LEN], plain[LEN];

	for (size_t c = 0; c < LEN; c++)
		x[c] = (int64_t)(c % 50);	/* small counts, very non-uniform */
	make_roster(r, esk, 2, 99);
	assert_int_equal(secagg_sid(qhash, r, 2, sid), CAIRN_OK);
	assert_int_equal(secagg_mask(esk[0], r, 2, 0, sid, x, y, LEN), CAIRN_OK);
	assert_true(looks_uniform(y, LEN));
	/* Negative control: the unmasked vector must fail the same test. */
	for (size_t c = 0; c < LEN; c++)
		plain[c] = (uint64_t)x[c];
	assert_false(looks_uniform(plain, LEN));
}

static void
test_roster_disagreement_detected(void **state)
{
	struct secagg_member r[4], other[4];
	uint8_t esk[4][32], qhash[32] = { 3 }, sid[32], sid2[32];
	int64_t x[4][5];
	uint64_t y[5], acc[5] = { 0 };

	make_roster(r, esk, 4, 5);
	assert_int_equal(secagg_sid(qhash, r, 4, sid), CAIRN_OK);
	/* Node 2 is shown a roster where node 3's ephemeral key differs. */
	memcpy(other, r, sizeof(r));
	other[3].epk[0] ^= 1;
	assert_int_equal(secagg_sid(qhash, other, 4, sid2), CAIRN_OK);
	assert_memory_not_equal(sid, sid2, 32);
	for (size_t i = 0; i < 4; i++) {
		const struct secagg_member *ri = i == 2 ? other : r;
		const uint8_t *si = i == 2 ? sid2 : sid;

		for (size_t c = 0; c < 4; c++)
			x[i][c] = (int64_t)(i + c);
		x[i][4] = (int64_t)secagg_check_value(si);
		assert_int_equal(secagg_mask(esk[i], ri, 4, i, si, x[i], y, 5),
		    CAIRN_OK);
		secagg_sum_add(acc, y, 5);
	}
	assert_false(secagg_check_is_valid(acc[4], 4, sid));
	/* Control: the same round with one roster passes the check. */
	memset(acc, 0, sizeof(acc));
	for (size_t i = 0; i < 4; i++) {
		x[i][4] = (int64_t)secagg_check_value(sid);
		assert_int_equal(secagg_mask(esk[i], r, 4, i, sid, x[i], y, 5),
		    CAIRN_OK);
		secagg_sum_add(acc, y, 5);
	}
	assert_true(secagg_check_is_valid(acc[4], 4, sid));
	assert_false(secagg_check_is_valid(acc[4], 3, sid));
}

/*
 * In place and into a second buffer give the same cells over a vector of
 * several keystream blocks (2,048 cells each) with a partial last one,
 * and a failure in place wipes the vector.
 */
static void
test_mask_in_place(void **state)
{
	enum { LEN = 3 * 2048 + 77 };
	struct secagg_member r[3];
	uint8_t esk[3][32], qhash[32] = { 7 }, sid[32];
	int64_t *x = malloc(LEN * sizeof(*x));
	uint64_t *y = malloc(LEN * sizeof(*y)), *z = malloc(LEN * sizeof(*z));

	(void)state;
	assert_non_null(x);
	assert_non_null(y);
	assert_non_null(z);
	make_roster(r, esk, 3, 21);
	assert_int_equal(secagg_sid(qhash, r, 3, sid), CAIRN_OK);
	for (size_t c = 0; c < LEN; c++)
		x[c] = (int64_t)(c * 7919) - 1000;
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(secagg_mask(esk[i], r, 3, i, sid, x, y, LEN),
		    CAIRN_OK);
		memcpy(z, x, LEN * sizeof(*z));
		assert_int_equal(secagg_mask(esk[i], r, 3, i, sid,
		    (const int64_t *)z, z, LEN), CAIRN_OK);
		assert_memory_equal(y, z, LEN * sizeof(*z));
		/* negative control: the mask did change the cells */
		assert_memory_not_equal(z, x, LEN * sizeof(*z));
	}
	memcpy(z, x, LEN * sizeof(*z));
	assert_int_equal(secagg_mask(esk[1], r, 3, 0, sid, (const int64_t *)z,
	    z, LEN), CAIRN_ERR_ARG);
	for (size_t c = 0; c < LEN; c++)
		assert_true(z[c] == 0);
	free(x);
	free(y);
	free(z);
}

static void
test_refusals(void **state)
{
	struct secagg_member r[3], bad[3];
	uint8_t esk[3][32], qhash[32] = { 0 }, sid[32], k[32], zero[32] = { 0 };
	int64_t x[2] = { 1, 2 };
	uint64_t y[2] = { 5, 5 };

	make_roster(r, esk, 3, 11);
	assert_int_equal(secagg_sid(qhash, r, 3, sid), CAIRN_OK);

	assert_int_equal(secagg_sid(qhash, r, 1, sid), CAIRN_ERR_FORMAT);
	assert_non_null(strstr(cairn_errmsg(), "roster of 1 members"));
	memcpy(bad, r, sizeof(r));
	bad[0] = r[1];
	bad[1] = r[0];
	assert_int_equal(secagg_roster_check(bad, 3), CAIRN_ERR_FORMAT);
	assert_non_null(strstr(cairn_errmsg(), "out of order"));
	memcpy(bad, r, sizeof(r));
	bad[1] = r[0];
	assert_int_equal(secagg_roster_check(bad, 3), CAIRN_ERR_FORMAT);
	assert_non_null(strstr(cairn_errmsg(), "duplicate"));
	memcpy(bad, r, sizeof(r));
	memcpy(bad[2].epk, r[0].epk, 32);
	assert_int_equal(secagg_roster_check(bad, 3), CAIRN_ERR_FORMAT);
	assert_non_null(strstr(cairn_errmsg(), "share an ephemeral key"));

	assert_int_equal(secagg_mask(esk[0], r, 3, 3, sid, x, y, 2),
	    CAIRN_ERR_ARG);
	assert_true(y[0] == 0 && y[1] == 0);
	assert_int_equal(secagg_mask(esk[1], r, 3, 0, sid, x, y, 2),
	    CAIRN_ERR_ARG);
	assert_non_null(strstr(cairn_errmsg(), "does not match"));
	assert_int_equal(secagg_pair_key(esk[0], r[1].epk, sid, 1, 1, k),
	    CAIRN_ERR_ARG);
	/* A low-order peer key (here zero) gives an all-zero secret. */
	assert_int_equal(secagg_pair_key(esk[0], zero, sid, 0, 1, k),
	    CAIRN_ERR_CRYPTO);
	memcpy(bad, r, sizeof(r));
	memset(bad[2].epk, 0, 32);
	y[0] = 9;
	assert_int_equal(secagg_mask(esk[0], bad, 3, 0, sid, x, y, 2),
	    CAIRN_ERR_CRYPTO);
	assert_true(y[0] == 0 && y[1] == 0);
}

static void
test_roster_sort_find_decode(void **state)
{
	struct secagg_member r[5];
	uint8_t esk[5][32];
	struct secagg_member shuffled[5];

	make_roster(r, esk, 5, 21);
	shuffled[0] = r[3];
	shuffled[1] = r[0];
	shuffled[2] = r[4];
	shuffled[3] = r[2];
	shuffled[4] = r[1];
	secagg_roster_sort(shuffled, 5);
	assert_memory_equal(shuffled, r, sizeof(r));
	for (long i = 0; i < 5; i++)
		assert_int_equal(secagg_roster_find(r, 5, r[i].id), i);
	assert_int_equal(secagg_roster_find(r, 5, esk[0]), -1);
	assert_int_equal(secagg_decode(UINT64_MAX), -1);
	assert_int_equal(secagg_decode((uint64_t)1 << 63), INT64_MIN);
	assert_int_equal(secagg_decode(5), 5);
}

static void
test_keypair(void **state)
{
	uint8_t pk[32], sk[32], pk2[32], sk2[32], chk[32];

	assert_int_equal(secagg_keypair(pk, sk), CAIRN_OK);
	assert_int_equal(secagg_keypair(pk2, sk2), CAIRN_OK);
	assert_memory_not_equal(pk, pk2, 32);
	assert_int_equal(crypto_scalarmult_base(chk, sk), 0);
	assert_memory_equal(chk, pk, 32);
}

/*
 * secagg_cells_digest() is BLAKE2b-256 of the cells as 8 little-endian
 * bytes each, whatever the host's byte order: checked against the bytes
 * written out one by one, for a length that is not a multiple of the
 * block the portable path uses.
 */
static void
test_cells_digest(void **state)
{
	enum { N = 1000 };
	uint64_t v[N];
	uint8_t le[N * 8], want[32], got[32];

	(void)state;
	for (size_t i = 0; i < N; i++) {
		v[i] = 0x0102030405060708ULL * (i + 1) ^ (uint64_t)i << 60;
		for (int b = 0; b < 8; b++)
			le[8 * i + (size_t)b] = (uint8_t)(v[i] >> (8 * b));
	}
	crypto_generichash(want, 32, le, sizeof(le), NULL, 0);
	secagg_cells_digest(v, N, got);
	assert_memory_equal(got, want, 32);
	v[N - 1] ^= 1;
	secagg_cells_digest(v, N, got);
	assert_memory_not_equal(got, want, 32);
	crypto_generichash(want, 32, NULL, 0, NULL, 0);
	secagg_cells_digest(v, 0, got);
	assert_memory_equal(got, want, 32);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_answers),
		cmocka_unit_test(test_sum_equals_plain_sum),
		cmocka_unit_test(test_masked_vector_looks_uniform),
		cmocka_unit_test(test_roster_disagreement_detected),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_mask_in_place),
		cmocka_unit_test(test_roster_sort_find_decode),
		cmocka_unit_test(test_keypair),
		cmocka_unit_test(test_cells_digest),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
