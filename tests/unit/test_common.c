/*
 * test_common.c - errors, configuration files, time parsing, dispatch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/cells.h"
#include "common/cli.h"
#include "common/config.h"
#include "common/err.h"
#include "common/timeutil.h"

struct conf {
	char			*name;
	int64_t			 port;
	bool			 verbose;
	double			 rho;
	struct config_strlist	 peers;
};

static const struct config_key schema[] = {
	{ "", "name", CONFIG_STRING, offsetof(struct conf, name), true, 0, 0, 0, 0, NULL },
	{ "net", "port", CONFIG_INT, offsetof(struct conf, port), false, 1, 65535, 0, 0, NULL },
	{ "net", "peer", CONFIG_STRLIST, offsetof(struct conf, peers), false, 0, 0, 0, 0, NULL },
	{ "policy", "verbose", CONFIG_BOOL, offsetof(struct conf, verbose), false, 0, 0, 0, 0, NULL },
	{ "policy", "rho", CONFIG_DOUBLE, offsetof(struct conf, rho), false, 0, 0, 0.0, 10.0, NULL },
};
#define NSCHEMA (sizeof(schema) / sizeof(schema[0]))

static char path[64];

static void
write_conf(const char *text)
{
	int fd;

	strcpy(path, "/tmp/cairn-test-conf-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static int
load(const char *text, struct conf *c)
{
	int r;

	memset(c, 0, sizeof(*c));
	c->port = 7;
	write_conf(text);
	r = config_load(path, schema, NSCHEMA, c);
	unlink(path);
	return r;
}

static void
test_config_ok(void **state)
{
	struct conf c;

	assert_int_equal(load("name = alpha\n[net]\nport = 443\npeer = a\n"
	    "peer = b\n[policy]\nverbose = yes\nrho = 0.25\n", &c), CAIRN_OK);
	assert_string_equal(c.name, "alpha");
	assert_int_equal(c.port, 443);
	assert_int_equal(c.peers.n, 2);
	assert_string_equal(c.peers.v[1], "b");
	assert_true(c.verbose);
	assert_true(c.rho == 0.25);
	config_release(schema, NSCHEMA, &c);
	assert_null(c.name);
}

static void
test_config_default_kept(void **state)
{
	struct conf c;

	assert_int_equal(load("name = x\n", &c), CAIRN_OK);
	assert_int_equal(c.port, 7);
	config_release(schema, NSCHEMA, &c);
}

static void
expect_error(const char *text, const char *needle)
{
	struct conf c;
	int r = load(text, &c);

	assert_int_equal(r, CAIRN_ERR_CONFIG);
	if (strstr(cairn_errmsg(), needle) == NULL)
		fail_msg("detail '%s' lacks '%s'", cairn_errmsg(), needle);
	assert_non_null(strstr(cairn_errmsg(), path));
	config_release(schema, NSCHEMA, &c);
}

static void
test_config_errors(void **state)
{
	expect_error("name = a\n[net]\nport = 70000\n",
	    ":3: key 'port' in [net]: 70000 is outside [1, 65535]");
	expect_error("name = a\n[net]\nport = 8x\n",
	    ":3: key 'port' in [net]: '8x' is not an integer (decimal digits");
	expect_error("name = a\n[net]\nbogus = 1\n", ":3: unknown key 'bogus' in [net]");
	expect_error("name = a\n[nope]\nx = 1\n", ":3: unknown section [nope]");
	expect_error("name = a\nname = b\n", ":2: key 'name' is given twice");
	expect_error("[net]\nport = 5\n", "missing key 'name'");
	expect_error("name = a\n[policy]\nverbose = maybe\n", ":3: key 'verbose' in [policy]: 'maybe' is not true or false");
	expect_error("name = a\n[policy]\nrho = 11\n", ":3: key 'rho' in [policy]: 11 is outside [0, 10]");
	expect_error("name = a\n[policy]\nrho = nan\n",
	    "'nan' is not a number (decimal");
	expect_error("name = a\nthis line has no equals\n", ":2: syntax error");
}

/*
 * Numbers in a config file are decimal (docs/config.md, "Numbers"):
 * what strtoll() and strtod() also take (hexadecimal, "inf", "nan", '+',
 * blanks, a bare '.') is refused with the file, line, key and value.
 */
static void
test_config_numbers(void **state)
{
	static const char *const bad_int[] = { "0x10", "0X1f", "1e3", "1.0",
	    "+5", " 5", "5 ", "5 5", "5x", "-", "", "--5", "05", "00", "-05",
	    "9223372036854775808", "1_000", "\xd9\xa3", "inf", "nan" };
	static const char *const bad_real[] = { "0x10", "0x1p3", "inf",
	    "-inf", "infinity", "nan", "NAN(1)", "+1", " 5", "5 ", "5 junk",
	    ".5", "5.", "-.5", "1e", "1e+", "1e3.5", "1.2.3", "0,5", "01",
	    "1e999", "-1e999", "1e-999", "1..2", "e3", "1d3", "1f" };
	static const struct {
		const char	*s;
		double		 v;
	} good_real[] = { { "0", 0 }, { "-0", 0 }, { "0.25", 0.25 },
	    { "10", 10 }, { "-12.5", -12.5 }, { "1e3", 1000 },
	    { "1E3", 1000 }, { "2.5e-3", 0.0025 }, { "1e+2", 100 },
	    { "0.0", 0 } };
	int64_t iv = 42;
	double dv = 42;
	char text[128];
	struct conf c;

	for (size_t i = 0; i < sizeof(bad_int) / sizeof(bad_int[0]); i++) {
		if (config_parse_int(bad_int[i], &iv))
			fail_msg("integer '%s' taken", bad_int[i]);
		assert_int_equal(iv, 42);
	}
	for (size_t i = 0; i < sizeof(bad_real) / sizeof(bad_real[0]); i++) {
		if (config_parse_double(bad_real[i], &dv))
			fail_msg("number '%s' taken", bad_real[i]);
		assert_true(dv == 42);
	}
	for (size_t i = 0; i < sizeof(good_real) / sizeof(good_real[0]);
	    i++) {
		if (!config_parse_double(good_real[i].s, &dv))
			fail_msg("number '%s' refused", good_real[i].s);
		assert_true(dv == good_real[i].v);
	}
	assert_true(config_parse_int("0", &iv) && iv == 0);
	assert_true(config_parse_int("-7", &iv) && iv == -7);
	assert_true(config_parse_int("65535", &iv) && iv == 65535);
	assert_true(config_parse_int("9223372036854775807", &iv) &&
	    iv == INT64_MAX);
	assert_true(config_parse_int("-9223372036854775808", &iv) &&
	    iv == INT64_MIN);

	/* In a file: the file, line, key and value are named. */
	expect_error("name = a\n[policy]\nrho = 0x10\n",
	    ":3: key 'rho' in [policy]: '0x10' is not a number");
	expect_error("name = a\n[policy]\nrho = inf\n",
	    ":3: key 'rho' in [policy]: 'inf' is not a number");
	expect_error("name = a\n\n[policy]\nrho = .5\n",
	    ":4: key 'rho' in [policy]: '.5' is not a number");
	expect_error("name = a\n[net]\nport = 0x10\n",
	    ":3: key 'port' in [net]: '0x10' is not an integer");
	expect_error("name = a\n[net]\nport = 1e3\n",
	    ":3: key 'port' in [net]: '1e3' is not an integer");
	expect_error("name = a\n[net]\nport = +80\n",
	    ":3: key 'port' in [net]: '+80' is not an integer");
	/* inih trims the blanks around a value; what is inside stays. */
	expect_error("name = a\n[net]\nport =  5 junk\n",
	    ":3: key 'port' in [net]: '5 junk' is not an integer");
	expect_error("name = a\n[policy]\nrho = 1 5\n",
	    ":3: key 'rho' in [policy]: '1 5' is not a number");
	/* Exponents are numbers; the range still applies. */
	snprintf(text, sizeof(text), "name = a\n[net]\nport =   443  \n"
	    "[policy]\nrho = 2.5e-1\n");
	assert_int_equal(load(text, &c), CAIRN_OK);
	assert_int_equal(c.port, 443);
	assert_true(c.rho == 0.25);
	config_release(schema, NSCHEMA, &c);
	expect_error("name = a\n[policy]\nrho = 1e3\n",
	    ":3: key 'rho' in [policy]: 1e3 is outside [0, 10]");
}

static void
test_config_missing_file(void **state)
{
	struct conf c;

	memset(&c, 0, sizeof(c));
	assert_int_equal(config_load("/nonexistent/cairn.conf", schema, NSCHEMA,
	    &c), CAIRN_ERR_IO);
	assert_non_null(strstr(cairn_errmsg(), "/nonexistent/cairn.conf"));
}

static void
test_time_civil(void **state)
{
	int64_t y;
	unsigned m, d;

	assert_int_equal(time_days_from_civil(1970, 1, 1), 0);
	assert_int_equal(time_days_from_civil(2000, 3, 1), 11017);
	assert_int_equal(time_days_from_civil(1969, 12, 31), -1);
	for (int64_t z = -800000; z < 3000000; z += 997) {
		time_civil_from_days(z, &y, &m, &d);
		assert_int_equal(time_days_from_civil(y, m, d), z);
	}
	assert_int_equal(time_day_of(-1), -1);
	assert_int_equal(time_day_of(86399), 0);
	assert_int_equal(time_day_of(-86400), -1);
	assert_int_equal(time_day_of(-86401), -2);
}

static void
test_time_parse(void **state)
{
	int64_t t;
	char buf[TIME_ISO_LEN];

	assert_int_equal(time_parse_iso("2024-02-29T23:59:59Z", 20, &t), CAIRN_OK);
	assert_int_equal(t, 1709251199);
	assert_true(time_format_iso(t, buf));
	assert_string_equal(buf, "2024-02-29T23:59:59Z");
	assert_int_equal(time_parse_timestamp("1709251199", 10, &t), CAIRN_OK);
	assert_int_equal(t, 1709251199);
	assert_int_equal(time_parse_timestamp("-5", 2, &t), CAIRN_OK);
	assert_int_equal(t, -5);
	assert_int_equal(time_parse_date("1970-01-02", &t), CAIRN_OK);
	assert_int_equal(t, 1);
	assert_true(time_format_iso(-1, buf));
	assert_string_equal(buf, "1969-12-31T23:59:59Z");
}

static void
test_time_parse_bad(void **state)
{
	static const char *bad[] = {
		"2023-02-29T00:00:00Z", "2024-13-01T00:00:00Z",
		"2024-00-10T00:00:00Z", "2024-01-32T00:00:00Z",
		"2024-01-01T24:00:00Z", "2024-01-01T00:60:00Z",
		"2024-01-01T00:00:60Z", "2024-01-01 00:00:00Z",
		"2024-01-01T00:00:00+", "2024-1-01T00:00:00Z0",
	};
	int64_t t = 42;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(time_parse_timestamp(bad[i], strlen(bad[i]),
		    &t), CAIRN_ERR_FORMAT);
	assert_int_equal(time_parse_timestamp("", 0, &t), CAIRN_ERR_FORMAT);
	assert_int_equal(time_parse_timestamp("12a", 3, &t), CAIRN_ERR_FORMAT);
	assert_int_equal(time_parse_timestamp("-", 1, &t), CAIRN_ERR_FORMAT);
	assert_int_equal(time_parse_timestamp("1234567890123", 13, &t),
	    CAIRN_ERR_FORMAT);
	assert_int_equal(time_parse_date("2024-01-01x", &t), CAIRN_ERR_FORMAT);
	assert_int_equal(time_parse_date("2024-02-30", &t), CAIRN_ERR_FORMAT);
	assert_int_equal(t, 42);	/* out-param untouched on failure */
	{ char b[TIME_DATE_LEN];
	  assert_false(time_format_date(time_days_from_civil(10000, 1, 1), b)); }
}

static int called;
static int
cmd_a(int argc, char **argv)
{
	called = argc;
	return strcmp(argv[0], "a") == 0 ? 3 : 4;
}

static void
test_cli(void **state)
{
	static const struct cli_cmd cmds[] = { { "a", cmd_a, "does a" } };
	char *argv1[] = { "prog", "a", "x", NULL };
	char *argv2[] = { "prog", "zzz", NULL };
	char *argv3[] = { "prog", NULL };

	assert_int_equal(cli_dispatch("prog", cmds, 1, 3, argv1), 3);
	assert_int_equal(called, 2);
	assert_int_equal(cli_dispatch("prog", cmds, 1, 2, argv2), 1);
	assert_int_equal(cli_dispatch("prog", cmds, 1, 1, argv3), 1);
	assert_true(cli_is_help("--help"));
}

static void
test_err(void **state)
{
	assert_string_equal(cairn_strerror(CAIRN_OK), "success");
	assert_string_equal(cairn_strerror(CAIRN_ERR_BUDGET),
	    "privacy budget exhausted");
	assert_string_equal(cairn_strerror(5), "unknown error");
	assert_string_equal(cairn_strerror(CAIRN_ERR__LAST), "unknown error");
	for (int c = CAIRN_ERR_INTERNAL; c > CAIRN_ERR__LAST; c--)
		assert_string_not_equal(cairn_strerror(c), "unknown error");
	cairn_err_clear();
	assert_string_equal(cairn_errdesc(CAIRN_ERR_IO), "input/output error");
	assert_int_equal(cairn_err(CAIRN_ERR_FORMAT, "f.csv:%d: bad", 3),
	    CAIRN_ERR_FORMAT);
	assert_string_equal(cairn_errdesc(CAIRN_ERR_FORMAT), "f.csv:3: bad");
}

/*
 * The compact vector encoding (common/cells.h): a round trip with the
 * extremes, small counts in one byte, and every damage named.
 */
static void
test_cells_codec(void **state)
{
	const int64_t v[] = { 0, -1, 1, -64, 63, 64, INT64_MIN, INT64_MAX };
	const uint8_t cut[] = { 0x02, 0x00, 0x80 };	/* 2nd cell cut */
	const uint8_t past[] = { 0x01, 0x00, 0x00 };	/* 1 byte too many */
	const uint8_t big[] = { 0x05, 0, 0, 0, 0, 0 };	/* over max 4 */
	const uint8_t longv[] = { 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0x02 };			/* 65 bits */
	uint8_t *b;
	int64_t *got;
	size_t len, n;

	(void)state;
	assert_int_equal(cells_encode(v, 8, &b, &len), CAIRN_OK);
	/* count 1, five cells of 1 byte, 64 -> 128 in 2, extremes 10 each */
	assert_int_equal(len, 1 + 5 + 2 + 10 + 10);
	assert_int_equal(cells_decode(b, len, 8, &got, &n), CAIRN_OK);
	assert_int_equal(n, 8);
	assert_memory_equal(got, v, sizeof(v));
	free(got);
	assert_int_equal(cells_decode(b, len, 7, &got, &n), CAIRN_ERR_FORMAT);
	assert_non_null(strstr(cairn_errmsg(), "at most 7"));
	free(b);
	assert_int_equal(cells_decode(cut, sizeof(cut), 4, &got, &n),
	    CAIRN_ERR_FORMAT);
	assert_non_null(strstr(cairn_errmsg(), "cut short at cell 1 of 2"));
	assert_int_equal(cells_decode(past, sizeof(past), 4, &got, &n),
	    CAIRN_ERR_FORMAT);
	assert_non_null(strstr(cairn_errmsg(), "1 bytes past"));
	assert_int_equal(cells_decode(big, sizeof(big), 4, &got, &n),
	    CAIRN_ERR_FORMAT);
	assert_int_equal(cells_decode(longv, sizeof(longv), 4, &got, &n),
	    CAIRN_ERR_FORMAT);
	assert_int_equal(cells_decode(NULL, 0, 4, &got, &n), CAIRN_ERR_FORMAT);
	assert_non_null(strstr(cairn_errmsg(), "no cell count"));
}

/* Comma lists: blanks cut, empty values skipped, the list written in place. */
static void
test_config_list(void **state)
{
	char a[] = " a, b\t,, ,c d ,", b[] = " , ,\t", c[] = "x";
	char *save, *v;
	const char *want[] = { "a", "b", "c d" };
	size_t n = 0;

	(void)state;
	for (v = config_list_next(a, &save); v != NULL;
	    v = config_list_next(NULL, &save)) {
		assert_true(n < 3);
		assert_string_equal(v, want[n]);
		n++;
	}
	assert_int_equal(n, 3);
	assert_null(config_list_next(b, &save));
	assert_string_equal(config_list_next(c, &save), "x");
	assert_null(config_list_next(NULL, &save));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_ok),
		cmocka_unit_test(test_config_default_kept),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_config_numbers),
		cmocka_unit_test(test_config_list),
		cmocka_unit_test(test_config_missing_file),
		cmocka_unit_test(test_time_civil),
		cmocka_unit_test(test_time_parse),
		cmocka_unit_test(test_time_parse_bad),
		cmocka_unit_test(test_cli),
		cmocka_unit_test(test_err),
		cmocka_unit_test(test_cells_codec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
