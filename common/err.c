/*
 * err.c - error strings and the per-thread error detail.
 *
 * The detail lives in a thread-local buffer so that parsers deep in a call
 * chain can say exactly which file, line and field is at fault without
 * threading a message buffer through every signature.
 */
#include <stdarg.h>
#include <stdio.h>

#include "common/err.h"

static _Thread_local char detail[512];

static const char *const texts[] = {
	"success",
	"internal error",
	"out of memory",
	"invalid argument",
	"input/output error",
	"malformed input",
	"input too large",
	"value out of range",
	"bad configuration",
	"not found",
	"already exists",
	"permission denied",
	"bad signature",
	"proof does not verify",
	"privacy budget exhausted",
	"refused by policy",
	"invalid state",
	"cryptographic failure",
	"database error",
	"network error",
	"deadline exceeded",
	"not authorized",
	"arithmetic overflow",
	"conflicting evidence",
	"unsupported",
	"cancelled",
};

const char *
cairn_strerror(int code)
{
	if (code > 0 || code <= CAIRN_ERR__LAST)
		return "unknown error";
	return texts[-code];
}

int
cairn_err(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return code;
}

const char *
cairn_errmsg(void)
{
	return detail;
}

void
cairn_err_clear(void)
{
	detail[0] = '\0';
}

const char *
cairn_errdesc(int code)
{
	if (detail[0] != '\0')
		return detail;
	return cairn_strerror(code);
}
