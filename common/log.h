/*
 * log.h - leveled, structured logging to stderr.
 *
 * Every line starts with an RFC 3339 UTC timestamp with milliseconds.  In
 * the text format (the default) a line reads
 *   "2026-12-07T03:42:05.123Z PROG: LEVEL: function: message k=v ..."
 * and in the JSON format (log_format = json in a daemon's config) it is
 * one JSON object per line:
 *   {"ts":"...","prog":"...","level":"info","func":"...","msg":"...",
 *    "query":"q1","attempt":2,"index":17}
 * The fields "query", "attempt" and "index" (a log index) come from the
 * calling thread's context (log_ctx_*), so every line a handler writes
 * while it works on a query carries them.  The level comes from
 * log_set_level() or the CAIRN_LOG environment variable (error, warn,
 * info, debug).  Never log secrets, noise or a per-subscriber value:
 * print fingerprints, not key bytes (docs/operations.md, "Logs").
 */
#ifndef CAIRN_LOG_H
#define CAIRN_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN = 1,
	LOG_LEVEL_INFO = 2,
	LOG_LEVEL_DEBUG = 3
};

enum log_format {
	LOG_FORMAT_TEXT = 0,
	LOG_FORMAT_JSON = 1
};

/* Name printed first on every line (borrowed; keep it alive). */
void	log_set_prog(const char *prog);
void	log_set_level(enum log_level level);
/* Parse "error", "warn", "info" or "debug"; false when unknown. */
bool	log_level_parse(const char *s, enum log_level *out);
bool	log_enabled(enum log_level level);
void	log_set_format(enum log_format format);
/* Parse "text" or "json"; false when unknown (*out unchanged). */
bool	log_format_parse(const char *s, enum log_format *out);

/*
 * Set the format and level from a daemon's [monitoring] log_format and
 * log_level (either may be NULL: text; the level of CAIRN_LOG, or info).
 * Safe while other threads log (a reload on SIGHUP).  Returns CAIRN_OK,
 * or CAIRN_ERR_CONFIG for a value that does not parse (nothing changed).
 */
int	log_configure(const char *format, const char *level);

/*
 * The calling thread's context, added to each of its lines until
 * cleared: the query id 'query' (copied; NULL clears it), the attempt
 * (negative clears it) and a log index (negative clears it).
 */
void	log_ctx_set_query(const char *query, int64_t attempt);
void	log_ctx_set_index(int64_t index);
void	log_ctx_clear(void);

/*
 * Write one line at 'level' from function 'func' (the macros below pass
 * __func__).  A message longer than about 1 KiB is cut.
 */
void	log_msg(enum log_level level, const char *func, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/*
 * Format the current UTC time as RFC 3339 with milliseconds
 * ("2026-12-07T03:42:05.123Z") into 'buf' (at least 25 bytes).
 */
void	log_timestamp(char buf[static 25]);

#define log_error(...)	log_msg(LOG_LEVEL_ERROR, __func__, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_LEVEL_WARN, __func__, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_LEVEL_INFO, __func__, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_LEVEL_DEBUG, __func__, __VA_ARGS__)

#endif
