/*
 * log.h - leveled logging to stderr.
 *
 * Lines read "PROG: LEVEL: function: message".  The level comes from
 * log_set_level() or the CAIRN_LOG environment variable (error, warn,
 * info, debug).  Never log secrets: print fingerprints, not key bytes.
 */
#ifndef CAIRN_LOG_H
#define CAIRN_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN = 1,
	LOG_LEVEL_INFO = 2,
	LOG_LEVEL_DEBUG = 3
};

/* Name printed first on every line (borrowed; keep it alive). */
void	log_set_prog(const char *prog);
void	log_set_level(enum log_level level);
/* Parse "error", "warn", "info" or "debug"; false when unknown. */
bool	log_level_parse(const char *s, enum log_level *out);
bool	log_enabled(enum log_level level);
void	log_msg(enum log_level level, const char *func, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

#define log_error(...)	log_msg(LOG_LEVEL_ERROR, __func__, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_LEVEL_WARN, __func__, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_LEVEL_INFO, __func__, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_LEVEL_DEBUG, __func__, __VA_ARGS__)

#endif
