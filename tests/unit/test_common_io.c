/*
 * test_common_io.c - common/file.c (capped reads), common/db.c (SQLite
 * helpers and their messages) and the defaults of common/config.c's key
 * table: the failure cases first.
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

#include <sqlite3.h>

#include "common/config.h"
#include "common/db.h"
#include "common/err.h"
#include "common/file.h"

static char path[64];

static void
write_tmp(const char *text, size_t n)
{
	int fd;

	strcpy(path, "/tmp/cairn-test-io-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	close(fd);
}

static void
test_file_missing(void **state)
{
	char *buf = NULL;
	size_t len = 99;

	(void)state;
	assert_int_equal(file_read_capped("/nonexistent/cairn-x", 16, &buf,
	    &len), CAIRN_ERR_IO);
	assert_non_null(strstr(cairn_errmsg(), "/nonexistent/cairn-x: "));
	assert_null(buf);
	assert_int_equal(len, 99);
}

static void
test_file_toobig(void **state)
{
	char big[10000], *buf = NULL;
	size_t len = 0;

	(void)state;
	memset(big, 'x', sizeof(big));
	write_tmp(big, sizeof(big));
	/* Over the cap by one byte, and far over it. */
	assert_int_equal(file_read_capped(path, sizeof(big) - 1, &buf, &len),
	    CAIRN_ERR_TOOBIG);
	assert_non_null(strstr(cairn_errmsg(), "over 9999 bytes"));
	assert_int_equal(file_read_capped(path, 10, &buf, &len),
	    CAIRN_ERR_TOOBIG);
	assert_null(buf);
	/* Exactly at the cap. */
	assert_int_equal(file_read_capped(path, sizeof(big), &buf, &len),
	    CAIRN_OK);
	assert_int_equal(len, sizeof(big));
	assert_int_equal(buf[len], '\0');
	free(buf);
	unlink(path);
}

static void
test_file_ok(void **state)
{
	char *buf = NULL;
	size_t len = 0;

	(void)state;
	write_tmp("a\0b", 3);
	assert_int_equal(file_read_capped(path, 3, &buf, &len), CAIRN_OK);
	assert_int_equal(len, 3);
	assert_memory_equal(buf, "a\0b", 4);
	free(buf);
	unlink(path);
	write_tmp("", 0);
	assert_int_equal(file_read_capped(path, 0, &buf, &len), CAIRN_OK);
	assert_int_equal(len, 0);
	assert_string_equal(buf, "");
	free(buf);
	unlink(path);
}

/*
 * file_changed: the first look records, a rewrite of another size is a
 * change, a missing file is not, and a NULL path (a configuration given
 * in memory) never is -- it used to reach stat(NULL).
 */
static void
test_file_changed(void **state)
{
	struct file_stamp st;

	(void)state;
	memset(&st, 0, sizeof(st));
	assert_false(file_changed(NULL, &st));
	assert_false(file_changed(NULL, &st));
	assert_false(st.valid);
	write_tmp("one", 3);
	assert_false(file_changed(path, &st));
	assert_true(st.valid);
	assert_false(file_changed(path, &st));
	{
		FILE *f = fopen(path, "w");

		assert_non_null(f);
		fputs("longer text", f);
		fclose(f);
	}
	assert_true(file_changed(path, &st));
	assert_false(file_changed(path, &st));
	unlink(path);
	assert_false(file_changed(path, &st));
}

static void
test_db_damaged(void **state)
{
	static const char junk[] = "this is not an SQLite database, not at all"
	    " -- it only has to be longer than the header of one";
	sqlite3 *db = NULL;
	int r;

	(void)state;
	assert_int_equal(db_code(SQLITE_OK), CAIRN_OK);
	assert_int_equal(db_code(SQLITE_DONE), CAIRN_OK);
	assert_int_equal(db_code(SQLITE_BUSY), CAIRN_ERR_DB);
	assert_int_equal(db_code(SQLITE_IOERR_FSYNC), CAIRN_ERR_DB);
	write_tmp(junk, sizeof(junk));
	/* SQLite opens lazily: the first statement finds the damage. */
	if ((r = db_open(path, SQLITE_OPEN_READWRITE, "open", &db)) ==
	    CAIRN_OK) {
		r = db_exec(db, path, "PRAGMA journal_mode=WAL", "setting WAL");
		assert_int_equal(r, CAIRN_ERR_DB);
		assert_non_null(strstr(cairn_errmsg(), ": setting WAL: "));
		sqlite3_close(db);
	} else
		assert_int_equal(r, CAIRN_ERR_DB);
	assert_non_null(strstr(cairn_errmsg(), path));
	assert_non_null(strstr(cairn_errmsg(), "(the store is damaged)"));
	unlink(path);
}

static void
test_db_exec(void **state)
{
	sqlite3 *db = NULL;

	(void)state;
	assert_int_equal(db_open("/nonexistent/cairn.db",
	    SQLITE_OPEN_READWRITE, "open", &db), CAIRN_ERR_DB);
	assert_null(db);
	assert_non_null(strstr(cairn_errmsg(),
	    "/nonexistent/cairn.db: open: "));
	assert_int_equal(db_open(":memory:", SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL, &db), CAIRN_OK);
	assert_int_equal(db_exec(db, "mem", "CREATE TABLE t(x);", NULL),
	    CAIRN_OK);
	assert_int_equal(db_exec(db, "mem", "SELECT y FROM t", NULL),
	    CAIRN_ERR_DB);
	assert_string_equal(cairn_errmsg(), "mem: no such column: y");
	assert_int_equal(db_error(db, "mem", "reading"), CAIRN_ERR_DB);
	assert_string_equal(cairn_errmsg(), "mem: reading: no such column: y");
	sqlite3_close(db);
}

struct dconf {
	char	*name;
	int64_t	 port;
	int64_t	 quorum;
	double	 frac;
	uint64_t rho;
};

static const struct config_key dschema[] = {
	{ "net", "name", CONFIG_STRING, offsetof(struct dconf, name), false,
	    0, 0, 0, 0, "127.0.0.1:7443" },
	{ "net", "port", CONFIG_INT, offsetof(struct dconf, port), false,
	    1, 65535, 0, 0, "30" },
	{ "net", "quorum", CONFIG_INT, offsetof(struct dconf, quorum), false,
	    0, 1024, 0, 0, "-1" },
	{ "net", "frac", CONFIG_DOUBLE, offsetof(struct dconf, frac), false,
	    0, 0, 0.0, 1.0, "0.001" },
	{ "net", "rho", CONFIG_RHO, offsetof(struct dconf, rho), false,
	    1, INT64_C(1000000000000000), 0, 0, "1" },
};
#define NDSCHEMA (sizeof(dschema) / sizeof(dschema[0]))

static const struct config_key bad_schema[] = {
	{ "net", "port", CONFIG_INT, offsetof(struct dconf, port), false,
	    1, 65535, 0, 0, "thirty" },
};

static void
test_config_defaults(void **state)
{
	struct dconf c;

	(void)state;
	/* A default its type cannot parse is a bug in the table. */
	memset(&c, 0, sizeof(c));
	write_tmp("[net]\n", strlen("[net]\n"));
	assert_int_equal(config_load(path, bad_schema, 1, &c),
	    CAIRN_ERR_INTERNAL);
	unlink(path);
	/* Absent keys take their defaults, out of range or not. */
	memset(&c, 0, sizeof(c));
	write_tmp("[net]\n", strlen("[net]\n"));
	assert_int_equal(config_load(path, dschema, NDSCHEMA, &c), CAIRN_OK);
	assert_string_equal(c.name, "127.0.0.1:7443");
	assert_int_equal(c.port, 30);
	assert_int_equal(c.quorum, -1);
	assert_true(c.frac == 0.001);
	assert_int_equal(c.rho, 1000000000);
	config_release(dschema, NDSCHEMA, &c);
	unlink(path);
	/* Given keys keep their values, range-checked as ever. */
	memset(&c, 0, sizeof(c));
	write_tmp("[net]\nname = x\nport = 443\nquorum = -1\n",
	    strlen("[net]\nname = x\nport = 443\nquorum = -1\n"));
	assert_int_equal(config_load(path, dschema, NDSCHEMA, &c),
	    CAIRN_ERR_CONFIG);
	assert_non_null(strstr(cairn_errmsg(), ":4: key 'quorum' in [net]"));
	config_release(dschema, NDSCHEMA, &c);
	unlink(path);
	memset(&c, 0, sizeof(c));
	write_tmp("[net]\nname = x\nport = 443\n",
	    strlen("[net]\nname = x\nport = 443\n"));
	assert_int_equal(config_load(path, dschema, NDSCHEMA, &c), CAIRN_OK);
	assert_string_equal(c.name, "x");
	assert_int_equal(c.port, 443);
	assert_int_equal(c.quorum, -1);
	config_release(dschema, NDSCHEMA, &c);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_missing),
		cmocka_unit_test(test_file_toobig),
		cmocka_unit_test(test_file_ok),
		cmocka_unit_test(test_file_changed),
		cmocka_unit_test(test_db_damaged),
		cmocka_unit_test(test_db_exec),
		cmocka_unit_test(test_config_defaults),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
