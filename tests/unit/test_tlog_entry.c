/*
 * test_tlog_entry.c - the log entry encoding: fixed bytes for known
 * entries (the layout in docs/tlog.md), round trips of every type, and
 * the refusals: unknown version and type, every truncation, trailing
 * bytes, fields over their caps, bad reals and months.
 */
#include <math.h>
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
#include "protocol/tlog_entry.h"

#include <math.h>
/* ρ as a test writes it (a double) to nano-ρ. */
#define NANO(x)	((uint64_t)llround((double)(x) * 1e9))

static struct tlog_bytes
str(const char *s)
{
	struct tlog_bytes b = { (const uint8_t *)s, strlen(s) };

	return b;
}

static void
encode_hex(const struct tlog_entry *e, char *hex, size_t cap)
{
	uint8_t buf[1024];
	size_t len;

	assert_int_equal(tlog_entry_encode(e, buf, sizeof(buf), &len),
	    CAIRN_OK);
	sodium_bin2hex(hex, cap, buf, len);
}

static void
test_golden(void **state)
{
	static struct tlog_entry e;
	char hex[2048];

	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_FAILURE;
	e.time = 1;
	memset(e.query_hash, 0x11, 32);
	e.reason = str("bad");
	encode_hex(&e, hex, sizeof(hex));
	assert_string_equal(hex, "0105" "0000000000000001"
	    "1111111111111111111111111111111111111111111111111111111111111111"
	    "00000003" "626164");

	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_CHARGE;
	e.time = 0x0102030405060708ULL;
	e.node_id = str("n1");
	memset(e.query_hash, 0x22, 32);
	e.ncharges = 1;
	e.charges[0].month = 202403;
	e.charges[0].rho_nano = NANO(0.5);
	e.charges[0].cumulative_nano = NANO(1.25);
	e.body = str("cb");
	e.signature = str("s");
	encode_hex(&e, hex, sizeof(hex));
	assert_string_equal(hex, "0102" "0102030405060708" "00000002" "6e31"
	    "2222222222222222222222222222222222222222222222222222222222222222"
	    "0001" "000316a3" "000000001dcd6500" "000000004a817c80"
	    "00000002" "6362" "00000001" "73");

	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_RELEASE;
	e.time = 2;
	memset(e.query_hash, 0x33, 32);
	e.nparticipants = 2;
	e.participants[0] = str("a");
	e.participants[1] = str("bc");
	memset(e.result_hash, 0x44, 32);
	e.variance = 2.0;
	encode_hex(&e, hex, sizeof(hex));
	assert_string_equal(hex, "0104" "0000000000000002"
	    "3333333333333333333333333333333333333333333333333333333333333333"
	    "0002" "00000001" "61" "00000002" "6263"
	    "4444444444444444444444444444444444444444444444444444444444444444"
	    "4000000000000000");

	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_QUERY;
	e.body = str("q");
	encode_hex(&e, hex, sizeof(hex));
	assert_string_equal(hex, "0101" "0000000000000000" "00000001" "71");
}

/* One filled entry of each type. */
static void
sample(struct tlog_entry *e, int type)
{
	memset(e, 0, sizeof(*e));
	e->type = (enum tlog_entry_type)type;
	e->time = 1700000000 + (uint64_t)type;
	e->body = str("signed query or change bytes");
	e->node_id = str("node-7");
	memset(e->query_hash, type, 32);
	memset(e->result_hash, 0x5a, 32);
	e->reason = str("budget exhausted for 2024-03");
	e->signature = str("0123456789012345678901234567890123456789012345678901234567890123");
	e->variance = 12.5;
	e->ncharges = 3;
	for (int i = 0; i < 3; i++) {
		e->charges[i].month = 202401 + (uint32_t)i;
		e->charges[i].rho_nano = NANO(0.01 * (i + 1));
		e->charges[i].cumulative_nano = NANO(0.1 * (i + 1));
	}
	e->nparticipants = 3;
	e->participants[0] = str("node-1");
	e->participants[1] = str("node-2");
	e->participants[2] = str("");
}

static void
same_fields(const struct tlog_entry *a, const struct tlog_entry *b)
{
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->time, b->time);
	switch (a->type) {
	case TLOG_ENTRY_POLICY:
		assert_int_equal(a->node_id.len, b->node_id.len);
		assert_memory_equal(a->node_id.p, b->node_id.p, a->node_id.len);
		/* FALLTHROUGH */
	case TLOG_ENTRY_MEMBER:
		assert_int_equal(a->signature.len, b->signature.len);
		assert_memory_equal(a->signature.p, b->signature.p,
		    a->signature.len);
		/* FALLTHROUGH */
	case TLOG_ENTRY_QUERY:
		assert_int_equal(a->body.len, b->body.len);
		assert_memory_equal(a->body.p, b->body.p, a->body.len);
		break;
	case TLOG_ENTRY_CHARGE:
		assert_int_equal(a->ncharges, b->ncharges);
		for (size_t i = 0; i < a->ncharges; i++) {
			assert_int_equal(a->charges[i].month,
			    b->charges[i].month);
			assert_true(a->charges[i].rho_nano ==
			    b->charges[i].rho_nano);
			assert_true(a->charges[i].cumulative_nano ==
			    b->charges[i].cumulative_nano);
		}
		/* FALLTHROUGH */
	case TLOG_ENTRY_REFUSAL:
		assert_int_equal(a->node_id.len, b->node_id.len);
		assert_memory_equal(a->node_id.p, b->node_id.p, a->node_id.len);
		assert_int_equal(a->signature.len, b->signature.len);
		assert_memory_equal(a->query_hash, b->query_hash, 32);
		if (a->type == TLOG_ENTRY_REFUSAL)
			assert_memory_equal(a->reason.p, b->reason.p,
			    a->reason.len);
		break;
	case TLOG_ENTRY_RELEASE:
		assert_int_equal(a->nparticipants, b->nparticipants);
		for (size_t i = 0; i < a->nparticipants; i++)
			assert_int_equal(a->participants[i].len,
			    b->participants[i].len);
		assert_memory_equal(a->result_hash, b->result_hash, 32);
		assert_true(a->variance == b->variance);
		break;
	case TLOG_ENTRY_FAILURE:
		assert_memory_equal(a->query_hash, b->query_hash, 32);
		assert_int_equal(a->reason.len, b->reason.len);
		break;
	}
}

static void
test_roundtrip_and_truncation(void **state)
{
	static struct tlog_entry e, d, untouched;
	uint8_t buf[2048];
	size_t len, need;

	for (int type = TLOG_ENTRY_QUERY; type <= TLOG_ENTRY_POLICY; type++) {
		sample(&e, type);
		assert_non_null(tlog_entry_type_name(type));
		assert_int_equal(tlog_entry_encode(&e, NULL, 0, &need),
		    CAIRN_ERR_TOOBIG);
		assert_int_equal(tlog_entry_encode(&e, buf, sizeof(buf), &len),
		    CAIRN_OK);
		assert_int_equal(need, len);
		assert_int_equal(tlog_entry_decode(buf, len, &d), CAIRN_OK);
		same_fields(&e, &d);
		/* Every proper prefix is refused, and nothing is written. */
		memset(&untouched, 0xee, sizeof(untouched));
		for (size_t k = 0; k < len; k++) {
			struct tlog_entry t = untouched;
			int r = tlog_entry_decode(buf, k, &t);

			assert_int_equal(r, CAIRN_ERR_FORMAT);
			assert_memory_equal(&t, &untouched, sizeof(t));
		}
		assert_non_null(strstr(cairn_errmsg(), "truncated"));
		/* A trailing byte is refused. */
		buf[len] = 0;
		assert_int_equal(tlog_entry_decode(buf, len + 1, &d),
		    CAIRN_ERR_FORMAT);
		assert_non_null(strstr(cairn_errmsg(), "trailing"));
	}
	assert_null(tlog_entry_type_name(0));
	assert_null(tlog_entry_type_name(8));
}

/*
 * Version 2 of RELEASE adds the SHA-256 of the values after their
 * BLAKE2b digest; version 1 entries still decode, other types have no
 * version 2, and no type has a version 3.
 */
static void
test_release_v2(void **state)
{
	static struct tlog_entry e, d;
	char hex[512];
	uint8_t buf[2048], v1[2048];
	size_t len, len1;

	(void)state;
	memset(&e, 0, sizeof(e));
	e.version = 2;
	e.type = TLOG_ENTRY_RELEASE;
	e.time = 2;
	memset(e.query_hash, 0x33, 32);
	e.nparticipants = 1;
	e.participants[0] = str("a");
	memset(e.result_hash, 0x44, 32);
	memset(e.result_sha256, 0x55, 32);
	e.variance = 2.0;
	encode_hex(&e, hex, sizeof(hex));
	assert_string_equal(hex, "0204" "0000000000000002"
	    "3333333333333333333333333333333333333333333333333333333333333333"
	    "0001" "00000001" "61"
	    "4444444444444444444444444444444444444444444444444444444444444444"
	    "5555555555555555555555555555555555555555555555555555555555555555"
	    "4000000000000000");
	assert_int_equal(tlog_entry_encode(&e, buf, sizeof(buf), &len),
	    CAIRN_OK);
	assert_int_equal(tlog_entry_decode(buf, len, &d), CAIRN_OK);
	assert_int_equal(d.version, 2);
	assert_memory_equal(d.result_sha256, e.result_sha256, 32);
	assert_memory_equal(d.result_hash, e.result_hash, 32);
	assert_true(d.variance == 2.0);
	for (size_t k = 0; k < len; k++)
		assert_int_equal(tlog_entry_decode(buf, k, &d),
		    CAIRN_ERR_FORMAT);
	/* The same entry as version 1 has no SHA-256 and decodes as 1. */
	e.version = 0;
	assert_int_equal(tlog_entry_encode(&e, v1, sizeof(v1), &len1),
	    CAIRN_OK);
	assert_int_equal(len1 + 32, len);
	assert_int_equal(tlog_entry_decode(v1, len1, &d), CAIRN_OK);
	assert_int_equal(d.version, 1);
	/* A version 1 entry relabelled 2 lacks 32 bytes: refused. */
	v1[0] = 2;
	assert_int_equal(tlog_entry_decode(v1, len1, &d), CAIRN_ERR_FORMAT);
	/* Version 3, and version 2 of another type, are refused. */
	buf[0] = 3;
	assert_int_equal(tlog_entry_decode(buf, len, &d),
	    CAIRN_ERR_UNSUPPORTED);
	assert_non_null(strstr(cairn_errmsg(), "version 3"));
	sample(&e, TLOG_ENTRY_QUERY);
	e.version = 2;
	assert_int_equal(tlog_entry_encode(&e, buf, sizeof(buf), &len),
	    CAIRN_ERR_UNSUPPORTED);
	assert_non_null(strstr(cairn_errmsg(), "no version 2 of the QUERY"));
}

static void
test_refusals(void **state)
{
	static struct tlog_entry e, d;
	uint8_t buf[2048];
	size_t len;

	sample(&e, TLOG_ENTRY_FAILURE);
	assert_int_equal(tlog_entry_encode(&e, buf, sizeof(buf), &len),
	    CAIRN_OK);
	buf[0] = 2;
	assert_int_equal(tlog_entry_decode(buf, len, &d),
	    CAIRN_ERR_UNSUPPORTED);
	assert_non_null(strstr(cairn_errmsg(), "version 2"));
	buf[0] = 1;
	buf[1] = 8;
	assert_int_equal(tlog_entry_decode(buf, len, &d),
	    CAIRN_ERR_UNSUPPORTED);
	buf[1] = 0;
	assert_int_equal(tlog_entry_decode(buf, len, &d),
	    CAIRN_ERR_UNSUPPORTED);
	/* A length field beyond its cap (reason starts after 2+8+32). */
	buf[1] = TLOG_ENTRY_FAILURE;
	buf[42] = 0x7f;
	assert_int_equal(tlog_entry_decode(buf, len, &d), CAIRN_ERR_FORMAT);
	assert_non_null(strstr(cairn_errmsg(), "reason"));
	e.type = 9;
	assert_int_equal(tlog_entry_encode(&e, buf, sizeof(buf), &len),
	    CAIRN_ERR_UNSUPPORTED);

	/* Reals and months. */
	sample(&e, TLOG_ENTRY_RELEASE);
	e.variance = NAN;
	assert_int_equal(tlog_entry_encode(&e, buf, sizeof(buf), &len),
	    CAIRN_ERR_RANGE);
	e.variance = -1;
	assert_int_equal(tlog_entry_encode(&e, buf, sizeof(buf), &len),
	    CAIRN_ERR_RANGE);
	e.variance = 1;
	assert_int_equal(tlog_entry_encode(&e, buf, sizeof(buf), &len),
	    CAIRN_OK);
	memset(buf + len - 8, 0xff, 8);	/* a NaN pattern */
	assert_int_equal(tlog_entry_decode(buf, len, &d), CAIRN_ERR_FORMAT);
	sample(&e, TLOG_ENTRY_CHARGE);
	e.charges[1].month = 202413;
	assert_int_equal(tlog_entry_encode(&e, buf, sizeof(buf), &len),
	    CAIRN_ERR_RANGE);
	e.charges[1].month = 202402;
	e.charges[2].rho_nano = UINT64_C(1000000000000000001);
	assert_int_equal(tlog_entry_encode(&e, buf, sizeof(buf), &len),
	    CAIRN_ERR_RANGE);
	e.charges[2].rho_nano = 0;	/* a charge of nothing */
	assert_int_equal(tlog_entry_encode(&e, buf, sizeof(buf), &len),
	    CAIRN_ERR_RANGE);
	e.charges[2].rho_nano = 1;
	assert_int_equal(tlog_entry_encode(&e, buf, sizeof(buf), &len),
	    CAIRN_OK);
	/* Month of charge 0 sits after 2+8 + 4+6 + 32 + 2 bytes. */
	buf[54 + 3] = 0x00;
	assert_int_equal(tlog_entry_decode(buf, len, &d), CAIRN_ERR_FORMAT);
	assert_non_null(strstr(cairn_errmsg(), "YYYYMM"));

	/* Caps on encode. */
	sample(&e, TLOG_ENTRY_CHARGE);
	e.ncharges = TLOG_ENTRY_MAX_CHARGES + 1;
	assert_int_equal(tlog_entry_encode(&e, buf, sizeof(buf), &len),
	    CAIRN_ERR_TOOBIG);
	sample(&e, TLOG_ENTRY_RELEASE);
	e.nparticipants = TLOG_ENTRY_MAX_PARTICIPANTS + 1;
	assert_int_equal(tlog_entry_encode(&e, buf, sizeof(buf), &len),
	    CAIRN_ERR_TOOBIG);
	sample(&e, TLOG_ENTRY_REFUSAL);
	e.node_id.len = TLOG_ENTRY_MAX_ID + 1;
	assert_int_equal(tlog_entry_encode(&e, buf, sizeof(buf), &len),
	    CAIRN_ERR_TOOBIG);
	/* Too many charges on decode: count field is right after the hash. */
	sample(&e, TLOG_ENTRY_CHARGE);
	assert_int_equal(tlog_entry_encode(&e, buf, sizeof(buf), &len),
	    CAIRN_OK);
	buf[52] = 0xff;
	assert_int_equal(tlog_entry_decode(buf, len, &d), CAIRN_ERR_FORMAT);
	assert_non_null(strstr(cairn_errmsg(), "charges"));
	assert_int_equal(tlog_entry_decode(buf, 1, &d), CAIRN_ERR_FORMAT);
}

/* Random bytes never crash the decoder and rarely decode. */
static void
test_random_bytes(void **state)
{
	static struct tlog_entry d;
	uint8_t buf[256];

	for (int i = 0; i < 20000; i++) {
		size_t len = randombytes_uniform(sizeof(buf));
		int r;

		randombytes_buf(buf, len);
		if (len >= 2) {
			buf[0] = 1;
			buf[1] = (uint8_t)(1 + randombytes_uniform(7));
		}
		r = tlog_entry_decode(buf, len, &d);
		assert_true(r == CAIRN_OK || r == CAIRN_ERR_FORMAT);
		if (r == CAIRN_OK) {
			uint8_t again[256];
			size_t n;

			/* Whatever decodes re-encodes to the same bytes. */
			assert_int_equal(tlog_entry_encode(&d, again,
			    sizeof(again), &n), CAIRN_OK);
			assert_int_equal(n, len);
			assert_memory_equal(again, buf, len);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_roundtrip_and_truncation),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_release_v2),
		cmocka_unit_test(test_random_bytes),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
