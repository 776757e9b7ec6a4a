/*
 * log.c - leveled, structured logging to stderr, safe to call from several
 * threads: each line is built whole in a buffer and goes out with one
 * write through stdio's locked stream.  The JSON format is built with
 * jansson, so a message with quotes or control bytes stays one valid
 * object on one line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/err.h"
#include "common/log.h"

#define LOG_QUERY_MAX	128

static const char *prog = "cairn";
/* Set by a daemon's reload (SIGHUP) while other threads log: atomics. */
static _Atomic int level = -1;
static _Atomic int format = LOG_FORMAT_TEXT;
static const char *const names[] = { "error", "warn", "info", "debug" };

static _Thread_local char ctx_query[LOG_QUERY_MAX];
static _Thread_local int64_t ctx_attempt = -1;
static _Thread_local int64_t ctx_index = -1;

void
log_set_prog(const char *p)
{
	prog = p;
}

void
log_set_level(enum log_level l)
{
	level = (int)l;
}

void
log_set_format(enum log_format f)
{
	format = (int)f;
}

int
log_configure(const char *fmt, const char *lvl)
{
	enum log_format f = LOG_FORMAT_TEXT;
	enum log_level l;

	if (fmt != NULL && !log_format_parse(fmt, &f))
		return CAIRN_ERR_CONFIG;
	if (lvl != NULL && !log_level_parse(lvl, &l))
		return CAIRN_ERR_CONFIG;
	format = (int)f;
	/* -1: CAIRN_LOG or info again, read at the next line */
	level = lvl != NULL ? (int)l : -1;
	return CAIRN_OK;
}

bool
log_level_parse(const char *s, enum log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return true;
		}
	}
	return false;
}

bool
log_format_parse(const char *s, enum log_format *out)
{
	if (strcmp(s, "text") == 0)
		*out = LOG_FORMAT_TEXT;
	else if (strcmp(s, "json") == 0)
		*out = LOG_FORMAT_JSON;
	else
		return false;
	return true;
}

void
log_ctx_set_query(const char *query, int64_t attempt)
{
	if (query == NULL)
		ctx_query[0] = '\0';
	else
		snprintf(ctx_query, sizeof(ctx_query), "%s", query);
	ctx_attempt = attempt < 0 ? -1 : attempt;
}

void
log_ctx_set_index(int64_t index)
{
	ctx_index = index < 0 ? -1 : index;
}

void
log_ctx_clear(void)
{
	ctx_query[0] = '\0';
	ctx_attempt = -1;
	ctx_index = -1;
}

static int
current_level(void)
{
	enum log_level l;
	const char *env;
	int v = level;

	if (v < 0) {
		env = getenv("CAIRN_LOG");
		if (env != NULL && log_level_parse(env, &l))
			v = (int)l;
		else
			v = LOG_LEVEL_INFO;
		level = v;
	}
	return v;
}

bool
log_enabled(enum log_level l)
{
	return (int)l <= current_level();
}

void
log_timestamp(char buf[static 25])
{
	struct timespec ts;
	struct tm tm;
	long ms;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	ms = (ts.tv_nsec / 1000000) % 1000;
	if (strftime(buf, 20, "%Y-%m-%dT%H:%M:%S", &tm) != 19)
		memcpy(buf, "0000-00-00T00:00:00", 20);
	buf[19] = '.';
	buf[20] = (char)('0' + ms / 100);
	buf[21] = (char)('0' + ms / 10 % 10);
	buf[22] = (char)('0' + ms % 10);
	buf[23] = 'Z';
	buf[24] = '\0';
}

/* One JSON object; false when jansson fails (out of memory). */
static bool
emit_json(const char *ts, enum log_level l, const char *func, char *msg)
{
	json_t *o, *m;
	char *s;

	if ((o = json_object()) == NULL)
		return false;
	json_object_set_new(o, "ts", json_string(ts));
	json_object_set_new(o, "prog", json_string(prog));
	json_object_set_new(o, "level", json_string(names[l]));
	json_object_set_new(o, "func", json_string(func));
	if ((m = json_string(msg)) == NULL) {
		/* Not UTF-8 (a hostile name echoed): keep ASCII only. */
		for (char *p = msg; *p != '\0'; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
		m = json_string(msg);
	}
	json_object_set_new(o, "msg", m);
	if (ctx_query[0] != '\0')
		json_object_set_new(o, "query", json_string(ctx_query));
	if (ctx_attempt >= 0)
		json_object_set_new(o, "attempt", json_integer(ctx_attempt));
	if (ctx_index >= 0)
		json_object_set_new(o, "index", json_integer(ctx_index));
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER |
	    JSON_ENSURE_ASCII);
	json_decref(o);
	if (s == NULL)
		return false;
	fprintf(stderr, "%s\n", s);
	free(s);
	return true;
}

void
log_msg(enum log_level l, const char *func, const char *fmt, ...)
{
	char line[1024], ts[25], fields[LOG_QUERY_MAX + 64];
	va_list ap;
	size_t n = 0;

	if (!log_enabled(l))
		return;
	log_timestamp(ts);
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* A message never spans lines: a line is one record. */
	for (char *p = line; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (format == LOG_FORMAT_JSON && emit_json(ts, l, func, line))
		return;
	fields[0] = '\0';
	if (ctx_query[0] != '\0')
		n += (size_t)snprintf(fields + n, sizeof(fields) - n,
		    " query=%s", ctx_query);
	if (ctx_attempt >= 0 && n < sizeof(fields))
		n += (size_t)snprintf(fields + n, sizeof(fields) - n,
		    " attempt=%lld", (long long)ctx_attempt);
	if (ctx_index >= 0 && n < sizeof(fields))
		snprintf(fields + n, sizeof(fields) - n, " index=%lld",
		    (long long)ctx_index);
	fprintf(stderr, "%s %s: %s: %s: %s%s\n", ts, prog, names[l], func,
	    line, fields);
}
