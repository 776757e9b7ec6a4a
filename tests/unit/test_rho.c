/*
 * test_rho.c - rho as nano-rho (common/rho.c): decimal text and JSON
 * doubles accepted only when they are exactly a whole number of nano-rho,
 * printing back to exact text, and a CONFIG_RHO key in an INI file.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/config.h"
#include "common/err.h"
#include "common/rho.h"

static void
ok_text(const char *s, uint64_t want)
{
	const char *why = NULL;
	uint64_t n = 0;

	if (!rho_parse(s, &n, &why))
		fail_msg("'%s' refused: %s", s, why);
	assert_int_equal(n, want);
}

static void
bad_text(const char *s, const char *why_part)
{
	const char *why = NULL;
	uint64_t n = 77;

	assert_false(rho_parse(s, &n, &why));
	assert_int_equal(n, 77);	/* untouched */
	assert_non_null(why);
	if (strstr(why, why_part) == NULL)
		fail_msg("'%s': reason '%s' has no '%s'", s, why, why_part);
}

static void
test_parse_text(void **state)
{
	(void)state;
	ok_text("0.05", 50000000);
	ok_text("0.1", 100000000);
	ok_text("1", 1000000000);
	ok_text("2.5", 2500000000);
	ok_text("0.123456789", 123456789);
	ok_text("0.000000001", 1);
	ok_text("0.100000000000", 100000000);	/* trailing zeros are exact */
	ok_text("00.5", 500000000);
	ok_text(".5", 500000000);
	ok_text("5.", 5000000000);
	ok_text("2.5e-3", 2500000);
	ok_text("1E-9", 1);
	ok_text("1e6", UINT64_C(1000000000000000));
	ok_text("+0.3", 300000000);
	ok_text("1000000000", UINT64_C(1000000000000000000));

	bad_text("0.1234567891", "more than 9 decimals");
	bad_text("0.0123456789012", "more than 9 decimals");
	bad_text("1e-10", "more than 9 decimals");
	bad_text("0.0000000001", "more than 9 decimals");
	bad_text("1/3", "not a decimal number");
	bad_text("0", "zero");
	bad_text("0.000", "zero");
	bad_text("-0.1", "negative");
	bad_text("inf", "not a decimal number");
	bad_text("nan", "not a decimal number");
	bad_text("", "not a decimal number");
	bad_text(".", "not a decimal number");
	bad_text("0.1 ", "not a decimal number");
	bad_text("0x1p-3", "not a decimal number");
	bad_text("1e", "not a decimal number");
	bad_text("1000000000.000000001", "over 10^9");
	bad_text("1e10", "over 10^9");
	bad_text("99999999999999999999999", "over 10^9");
}

static void
test_from_double(void **state)
{
	const char *why;
	uint64_t n;

	(void)state;
	assert_true(rho_from_double(0.1, &n, &why));
	assert_int_equal(n, 100000000);
	assert_true(rho_from_double(0.123456789, &n, &why));
	assert_int_equal(n, 123456789);
	assert_true(rho_from_double(0.3, &n, &why));
	assert_int_equal(n, 300000000);
	assert_true(rho_from_double(1e-9, &n, &why));
	assert_int_equal(n, 1);
	assert_true(rho_from_double(123456.123456789, &n, &why));
	assert_int_equal(n, UINT64_C(123456123456789));

	assert_false(rho_from_double(0.1234567891, &n, &why));
	assert_non_null(strstr(why, "more than 9 decimals"));
	assert_false(rho_from_double(1.0 / 3.0, &n, &why));
	assert_non_null(strstr(why, "more than 9 decimals"));
	assert_false(rho_from_double(0.0123456789012, &n, &why));
	/* 0.1 + 0.2 is 0.30000000000000004. */
	assert_false(rho_from_double(0.1 + 0.2, &n, &why));
	assert_false(rho_from_double(1e-10, &n, &why));
	assert_non_null(strstr(why, "below 1 nano-rho"));
	assert_false(rho_from_double(0, &n, &why));
	assert_string_equal(why, "zero");
	assert_false(rho_from_double(-0.5, &n, &why));
	assert_string_equal(why, "negative");
	assert_false(rho_from_double(INFINITY, &n, &why));
	assert_string_equal(why, "not finite");
	assert_false(rho_from_double(NAN, &n, &why));
	assert_false(rho_from_double(2e9, &n, &why));
	assert_string_equal(why, "over 10^9");
}

static void
test_format(void **state)
{
	char b[RHO_TEXT_MAX];
	const char *why;
	uint64_t n;

	(void)state;
	assert_string_equal(rho_format(100000000, b), "0.1");
	assert_string_equal(rho_format(2000000000, b), "2");
	assert_string_equal(rho_format(123456789, b), "0.123456789");
	assert_string_equal(rho_format(1, b), "0.000000001");
	assert_string_equal(rho_format(0, b), "0");
	assert_string_equal(rho_format(RHO_NANO_MAX, b), "1000000000");
	assert_string_equal(rho_format(UINT64_MAX, b),
	    "18446744073.709551615");
	/* Text -> nano -> text -> nano is the identity. */
	for (uint64_t v = 1; v < RHO_NANO_MAX / 7; v = v * 7 + 3) {
		assert_true(rho_parse(rho_format(v, b), &n, &why));
		assert_int_equal(n, v);
		assert_true(rho_from_double(strtod(b, NULL), &n, &why) ||
		    v > UINT64_C(4000000000000000));
	}
}

static void
test_fields(void **state)
{
	uint64_t n;

	(void)state;
	assert_int_equal(rho_parse_field("--rho", "0.1234567891", &n),
	    CAIRN_ERR_ARG);
	assert_string_equal(cairn_errmsg(), "--rho: '0.1234567891' is not a "
	    "valid rho: more than 9 decimals: not a whole number of nano-rho");
	assert_int_equal(rho_double_field("months[0].rho", 1.0 / 3.0, &n),
	    CAIRN_ERR_ARG);
	assert_non_null(strstr(cairn_errmsg(), "months[0].rho: "
	    "0.33333333333333331 is not a valid rho"));
	assert_int_equal(rho_parse_field("--rho", "0.25", &n), CAIRN_OK);
	assert_int_equal(n, 250000000);
}

struct conf {
	uint64_t	rho;
};

static const struct config_key schema[] = {
	{ "policy", "rho", CONFIG_RHO, offsetof(struct conf, rho), true, 1,
	    INT64_C(1000000000000000), 0, 0, NULL },
};

static int
load(const char *text, struct conf *c)
{
	char path[] = "/tmp/cairn-test-rho-XXXXXX";
	int fd = mkstemp(path), r;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	c->rho = 0;
	r = config_load(path, schema, 1, c);
	unlink(path);
	return r;
}

static void
test_config_key(void **state)
{
	struct conf c;

	(void)state;
	assert_int_equal(load("[policy]\nrho = 0.123456789\n", &c), CAIRN_OK);
	assert_int_equal(c.rho, 123456789);
	assert_int_equal(load("[policy]\nrho = 0.1234567891\n", &c),
	    CAIRN_ERR_CONFIG);
	assert_non_null(strstr(cairn_errmsg(), ":2: key 'rho' in [policy]: "
	    "'0.1234567891' is not a valid rho: more than 9 decimals"));
	assert_int_equal(load("[policy]\nrho = 1/3\n", &c), CAIRN_ERR_CONFIG);
	assert_non_null(strstr(cairn_errmsg(), "'1/3' is not a valid rho"));
	assert_int_equal(load("[policy]\nrho = 2e6\n", &c), CAIRN_ERR_CONFIG);
	assert_non_null(strstr(cairn_errmsg(), "2e6 is outside [0.000000001, "
	    "1000000]"));
	assert_int_equal(load("[policy]\nrho = 0\n", &c), CAIRN_ERR_CONFIG);
	assert_non_null(strstr(cairn_errmsg(), "'0' is not a valid rho: zero"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_text),
		cmocka_unit_test(test_from_double),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_config_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
