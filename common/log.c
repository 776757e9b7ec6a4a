/*
 * log.c - leveled logging to stderr, safe to call from several threads
 * (each line goes out with one write through stdio's locked stream).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

static const char *prog = "cairn";
static int level = -1;
static const char *const names[] = { "error", "warn", "info", "debug" };

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

static int
current_level(void)
{
	enum log_level l;
	const char *env;

	if (level < 0) {
		env = getenv("CAIRN_LOG");
		if (env != NULL && log_level_parse(env, &l))
			level = (int)l;
		else
			level = LOG_LEVEL_INFO;
	}
	return level;
}

bool
log_enabled(enum log_level l)
{
	return (int)l <= current_level();
}

void
log_msg(enum log_level l, const char *func, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (!log_enabled(l))
		return;
	n = snprintf(line, sizeof(line), "%s: %s: %s: ", prog, names[l],
	    func);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", line);
}
