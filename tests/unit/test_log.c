/*
 * test_log.c - the log lines of common/log.h: the RFC 3339 UTC timestamp
 * with milliseconds on every line, the text and JSON formats, the
 * thread's query / attempt / index fields and their clearing, one record
 * per line even for a message with newlines, and valid JSON for a
 * message that is not UTF-8.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <regex.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "common/err.h"
#include "common/log.h"

static char path[] = "/tmp/cairn-test-log-XXXXXX";
static int saved = -1;

/* Send stderr to a fresh temporary file. */
static int
capture(void **state)
{
	int fd;

	(void)state;
	fflush(stderr);
	strcpy(path, "/tmp/cairn-test-log-XXXXXX");
	if ((fd = mkstemp(path)) < 0)
		return -1;
	saved = dup(2);
	dup2(fd, 2);
	close(fd);
	log_set_prog("tprog");
	log_set_level(LOG_LEVEL_INFO);
	log_ctx_clear();
	return 0;
}

/* Restore stderr; the captured text into a new buffer. */
static char *
release(void)
{
	static char buf[8192];
	FILE *f;
	size_t n;

	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	unlink(path);
	return buf;
}

static void
text_format(void **state)
{
	regex_t re;
	char *out;

	(void)state;
	log_set_format(LOG_FORMAT_TEXT);
	log_info("plain %d", 1);
	log_ctx_set_query("q-7", 2);
	log_ctx_set_index(41);
	log_warn("two\nlines");
	log_ctx_clear();
	log_debug("not shown at info");
	log_error("after");
	out = release();
	assert_int_equal(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:"
	    "[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z tprog: info: text_format: plain 1\n"
	    "[0-9TZ:.-]{24} tprog: warn: text_format: two lines query=q-7 "
	    "attempt=2 index=41\n"
	    "[0-9TZ:.-]{24} tprog: error: text_format: after\n$",
	    REG_EXTENDED), 0);
	assert_int_equal(regexec(&re, out, 0, NULL, 0), 0);
	regfree(&re);
}

static void
json_format(void **state)
{
	json_error_t err;
	json_t *o;
	char *out, *nl;

	(void)state;
	log_set_format(LOG_FORMAT_JSON);
	log_ctx_set_query("q\"x", 0);
	log_info("say \"hi\"\nthere \xff\xfe");
	log_ctx_set_query(NULL, -1);
	log_info("bare");
	log_set_format(LOG_FORMAT_TEXT);
	out = release();
	nl = strchr(out, '\n');
	assert_non_null(nl);
	*nl = '\0';
	o = json_loads(out, 0, &err);
	assert_non_null(o);
	assert_int_equal(strlen(json_string_value(json_object_get(o, "ts"))),
	    24);
	assert_string_equal(json_string_value(json_object_get(o, "prog")),
	    "tprog");
	assert_string_equal(json_string_value(json_object_get(o, "level")),
	    "info");
	assert_string_equal(json_string_value(json_object_get(o, "func")),
	    "json_format");
	assert_string_equal(json_string_value(json_object_get(o, "msg")),
	    "say \"hi\" there ??");
	assert_string_equal(json_string_value(json_object_get(o, "query")),
	    "q\"x");
	assert_int_equal(json_integer_value(json_object_get(o, "attempt")), 0);
	assert_null(json_object_get(o, "index"));
	json_decref(o);
	o = json_loads(nl + 1, 0, &err);
	assert_non_null(o);
	assert_null(json_object_get(o, "query"));
	assert_null(json_object_get(o, "attempt"));
	json_decref(o);
}

static void
parse(void **state)
{
	enum log_format f = LOG_FORMAT_TEXT;
	char ts[25];

	(void)state;
	(void)release();
	assert_true(log_format_parse("json", &f));
	assert_int_equal(f, LOG_FORMAT_JSON);
	assert_true(log_format_parse("text", &f));
	assert_int_equal(f, LOG_FORMAT_TEXT);
	assert_false(log_format_parse("JSON", &f));
	assert_false(log_format_parse("", &f));
	log_timestamp(ts);
	assert_int_equal(strlen(ts), 24);
	assert_int_equal(ts[10], 'T');
	assert_int_equal(ts[19], '.');
	assert_int_equal(ts[23], 'Z');
}

/* A daemon's [monitoring] keys, as at start and on SIGHUP. */
static void
configure(void **state)
{
	char *out;

	(void)state;
	assert_int_equal(log_configure("json", "error"), CAIRN_OK);
	log_warn("hidden at error");
	log_error("shown");
	/* A bad value changes nothing. */
	assert_int_equal(log_configure("xml", NULL), CAIRN_ERR_CONFIG);
	assert_int_equal(log_configure(NULL, "loud"), CAIRN_ERR_CONFIG);
	log_warn("still hidden");
	/* Unset: text, and the level of CAIRN_LOG or info again. */
	unsetenv("CAIRN_LOG");
	assert_int_equal(log_configure(NULL, NULL), CAIRN_OK);
	log_info("back to info");
	log_debug("not at info");
	out = release();
	assert_null(strstr(out, "hidden"));
	assert_non_null(strstr(out, "\"msg\":\"shown\""));
	assert_non_null(strstr(out, "tprog: info: configure: back to info\n"));
	assert_null(strstr(out, "not at info"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(text_format, capture),
		cmocka_unit_test_setup(json_format, capture),
		cmocka_unit_test_setup(parse, capture),
		cmocka_unit_test_setup(configure, capture),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
