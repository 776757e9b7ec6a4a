/*
 * test_round.c - the coordinator's round state machine driven by real
 * masked shares: the normal path, retries, equivocation, refusals,
 * deadlines, outsiders, and a node that masked for another roster.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "common/err.h"
#include "coordinator/round.h"

#define N	3
#define CELLS	5	/* 4 data cells + the check cell */

struct fixture {
	uint8_t			 ids[N][32];
	uint8_t			 esk[N][32];
	uint8_t			 epk[N][32];
	uint8_t			 qhash[32];
	struct coord_round	*r;
};

static struct fixture f;

static int
setup(void **state)
{
	memset(&f, 0, sizeof(f));
	for (int i = 0; i < N; i++) {
		randombytes_buf(f.ids[i], 32);
		assert_int_equal(secagg_keypair(f.epk[i], f.esk[i]), CAIRN_OK);
	}
	randombytes_buf(f.qhash, 32);
	assert_int_equal(coord_round_new(f.qhash, (const uint8_t (*)[32])f.ids,
	    N, CELLS, 100, 200, &f.r), CAIRN_OK);
	return 0;
}

static int
teardown(void **state)
{
	coord_round_free(f.r);
	return 0;
}

static void
advertise_all(void)
{
	for (int i = 0; i < N; i++)
		assert_int_equal(coord_round_advertise(f.r, f.ids[i], f.epk[i]),
		    CAIRN_OK);
	assert_int_equal(coord_round_phase(f.r), COORD_MASKING);
}

/* Node i's masked share of x_i = (i+1)·(1, 2, 3, -4) plus the check cell. */
static void
share_of(int i, uint64_t y[CELLS])
{
	struct secagg_member roster[N];
	uint8_t sid[32];
	int64_t x[CELLS];
	long self = -1;

	assert_int_equal(coord_round_roster(f.r, roster, N, sid), CAIRN_OK);
	for (int c = 0; c < 4; c++)
		x[c] = (i + 1) * (c == 3 ? -4 : c + 1);
	x[4] = (int64_t)secagg_check_value(sid);
	for (int k = 0; k < N; k++)
		if (memcmp(roster[k].id, f.ids[i], 32) == 0)
			self = k;
	assert_true(self >= 0);
	assert_int_equal(secagg_mask(f.esk[i], roster, N, (size_t)self, sid,
	    x, y, CELLS), CAIRN_OK);
}

static void
test_normal_round(void **state)
{
	uint64_t y[N][CELLS];
	int64_t out[CELLS - 1];

	assert_int_equal(coord_round_result(f.r, out, CELLS - 1), CAIRN_ERR_STATE);
	advertise_all();
	/* A retried advertisement is harmless. */
	assert_int_equal(coord_round_advertise(f.r, f.ids[1], f.epk[1]), CAIRN_OK);
	for (int i = 0; i < N; i++)
		share_of(i, y[i]);
	for (int i = 0; i < N; i++) {
		assert_int_equal(coord_round_share(f.r, f.ids[i], y[i], CELLS),
		    CAIRN_OK);
		assert_int_equal(coord_round_shared(f.r), (size_t)i + 1);
	}
	assert_int_equal(coord_round_phase(f.r), COORD_SUMMED);
	/* A retried share after the sum is harmless too. */
	assert_int_equal(coord_round_share(f.r, f.ids[0], y[0], CELLS), CAIRN_OK);
	assert_int_equal(coord_round_result(f.r, out, CELLS - 1), CAIRN_OK);
	assert_int_equal(out[0], 6);
	assert_int_equal(out[1], 12);
	assert_int_equal(out[2], 18);
	assert_int_equal(out[3], -24);
	assert_false(coord_round_expire(f.r, 10000));
}

static void
test_equivocation(void **state)
{
	uint8_t other[32];
	uint64_t y[N][CELLS];

	memset(other, 9, 32);
	assert_int_equal(coord_round_advertise(f.r, f.ids[0], f.epk[0]), CAIRN_OK);
	assert_int_equal(coord_round_advertise(f.r, f.ids[0], other),
	    CAIRN_ERR_CONFLICT);
	assert_int_equal(coord_round_phase(f.r), COORD_FAILED);
	assert_non_null(strstr(coord_round_failure(f.r), "two ephemeral keys"));
	coord_round_free(f.r);

	setup(state);
	advertise_all();
	for (int i = 0; i < N; i++)
		share_of(i, y[i]);
	assert_int_equal(coord_round_share(f.r, f.ids[0], y[0], CELLS), CAIRN_OK);
	y[0][2] ^= 1;
	assert_int_equal(coord_round_share(f.r, f.ids[0], y[0], CELLS),
	    CAIRN_ERR_CONFLICT);
	assert_int_equal(coord_round_phase(f.r), COORD_FAILED);
	assert_int_equal(coord_round_share(f.r, f.ids[1], y[1], CELLS),
	    CAIRN_ERR_STATE);
	assert_non_null(strstr(cairn_errmsg(), "two different shares"));
}

static void
test_outsiders_and_phases(void **state)
{
	uint8_t stranger[32];
	uint64_t y[CELLS] = { 0 };

	randombytes_buf(stranger, 32);
	assert_int_equal(coord_round_advertise(f.r, stranger, f.epk[0]),
	    CAIRN_ERR_UNAUTH);
	assert_int_equal(coord_round_refuse(f.r, stranger, "x"), CAIRN_ERR_UNAUTH);
	assert_int_equal(coord_round_share(f.r, stranger, y, CELLS),
	    CAIRN_ERR_UNAUTH);
	/* Shares before the roster are out of order. */
	assert_int_equal(coord_round_share(f.r, f.ids[0], y, CELLS),
	    CAIRN_ERR_STATE);
	assert_non_null(strstr(cairn_errmsg(), "while the round is advertising"));
	assert_int_equal(coord_round_share(f.r, f.ids[0], y, CELLS - 1),
	    CAIRN_ERR_FORMAT);
	assert_int_equal(coord_round_phase(f.r), COORD_ADVERTISING);
}

static void
test_refusal_fails_round(void **state)
{
	assert_int_equal(coord_round_advertise(f.r, f.ids[0], f.epk[0]), CAIRN_OK);
	assert_int_equal(coord_round_refuse(f.r, f.ids[2], "budget exhausted"),
	    CAIRN_OK);
	assert_int_equal(coord_round_phase(f.r), COORD_FAILED);
	assert_string_equal(coord_round_failure(f.r),
	    "a participant refused: budget exhausted");
	assert_int_equal(coord_round_advertise(f.r, f.ids[1], f.epk[1]),
	    CAIRN_ERR_STATE);
}

static void
test_deadlines(void **state)
{
	assert_int_equal(coord_round_advertise(f.r, f.ids[0], f.epk[0]), CAIRN_OK);
	assert_false(coord_round_expire(f.r, 100));
	assert_true(coord_round_expire(f.r, 101));
	assert_string_equal(coord_round_failure(f.r),
	    "deadline passed with 1 of 3 advertisements");
	coord_round_free(f.r);

	setup(state);
	advertise_all();
	assert_false(coord_round_expire(f.r, 150));
	assert_true(coord_round_expire(f.r, 201));
	assert_string_equal(coord_round_failure(f.r),
	    "deadline passed with 0 of 3 shares");
}

static void
test_roster_disagreement(void **state)
{
	uint64_t y[N][CELLS];
	int64_t out[CELLS - 1];
	struct secagg_member roster[N];
	uint8_t sid[32], fake_sid[32];
	int64_t x[CELLS] = { 1, 2, 3, 4, 0 };
	long self = -1;

	advertise_all();
	for (int i = 1; i < N; i++)
		share_of(i, y[i]);
	/* Node 0 masks against a roster with one key swapped. */
	assert_int_equal(coord_round_roster(f.r, roster, N, sid), CAIRN_OK);
	for (int k = 0; k < N; k++)
		if (memcmp(roster[k].id, f.ids[0], 32) == 0)
			self = k;
	roster[self == 0 ? 1 : 0].epk[5] ^= 0x40;
	assert_int_equal(secagg_sid(f.qhash, roster, N, fake_sid), CAIRN_OK);
	x[4] = (int64_t)secagg_check_value(fake_sid);
	assert_int_equal(secagg_mask(f.esk[0], roster, N, (size_t)self,
	    fake_sid, x, y[0], CELLS), CAIRN_OK);
	for (int i = 0; i < N - 1; i++)
		assert_int_equal(coord_round_share(f.r, f.ids[i], y[i], CELLS),
		    CAIRN_OK);
	assert_int_equal(coord_round_share(f.r, f.ids[N - 1], y[N - 1], CELLS),
	    CAIRN_ERR_CONFLICT);
	assert_int_equal(coord_round_phase(f.r), COORD_FAILED);
	assert_non_null(strstr(coord_round_failure(f.r), "check cell"));
	assert_int_equal(coord_round_result(f.r, out, CELLS - 1),
	    CAIRN_ERR_STATE);
}

static void
test_new_refusals(void **state)
{
	struct coord_round *r = NULL;
	uint8_t ids[2][32];

	memset(ids, 1, sizeof(ids));
	assert_int_equal(coord_round_new(f.qhash, (const uint8_t (*)[32])ids,
	    2, CELLS, 1, 2, &r), CAIRN_ERR_ARG);
	assert_int_equal(coord_round_new(f.qhash, (const uint8_t (*)[32])ids,
	    1, CELLS, 1, 2, &r), CAIRN_ERR_ARG);
	ids[1][0] = 2;
	assert_int_equal(coord_round_new(f.qhash, (const uint8_t (*)[32])ids,
	    2, 1, 1, 2, &r), CAIRN_ERR_ARG);
	assert_int_equal(coord_round_new(f.qhash, (const uint8_t (*)[32])ids,
	    2, (size_t)COORD_ROUND_MAX_CELLS + 1, 1, 2, &r), CAIRN_ERR_TOOBIG);
	assert_null(r);
}

static void
test_duplicate_ephemeral_keys(void **state)
{
	assert_int_equal(coord_round_advertise(f.r, f.ids[0], f.epk[0]), CAIRN_OK);
	assert_int_equal(coord_round_advertise(f.r, f.ids[1], f.epk[0]), CAIRN_OK);
	assert_int_equal(coord_round_advertise(f.r, f.ids[2], f.epk[2]),
	    CAIRN_ERR_FORMAT);
	assert_int_equal(coord_round_phase(f.r), COORD_FAILED);
	assert_non_null(strstr(coord_round_failure(f.r), "share an ephemeral key"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_normal_round, setup, teardown),
		cmocka_unit_test_setup_teardown(test_equivocation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outsiders_and_phases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusal_fails_round, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadlines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roster_disagreement, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_ephemeral_keys, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
