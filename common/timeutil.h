/*
 * timeutil.h - calendar arithmetic and ISO-8601 UTC times, without the
 * locale- and TZ-dependent parts of libc.
 *
 * Times are int64_t seconds since 1970-01-01T00:00:00Z; dates are int64_t
 * days since 1970-01-01 (negative before).  Years 0000..9999 only.
 */
#ifndef CAIRN_TIMEUTIL_H
#define CAIRN_TIMEUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Days since the epoch of the proleptic Gregorian date y-m-d (unchecked). */
int64_t	time_days_from_civil(int64_t y, unsigned m, unsigned d);
/* The inverse of time_days_from_civil. */
void	time_civil_from_days(int64_t days, int64_t *y, unsigned *m,
	    unsigned *d);
/* Floor division of a time by 86400: the UTC day of 't'. */
int64_t	time_day_of(int64_t t);

/*
 * Parse exactly 'len' bytes of 's' as "YYYY-MM-DDTHH:MM:SSZ" into seconds.
 * Field ranges are checked (month 1-12, day within the month, 23:59:59 at
 * most; no leap seconds).  Returns CAIRN_OK or CAIRN_ERR_FORMAT.  's' may
 * be hostile; it need not be NUL-terminated.
 */
int	time_parse_iso(const char *s, size_t len, int64_t *out)
	    __attribute__((warn_unused_result));
/*
 * Parse a timestamp: ISO-8601 as above, or decimal epoch seconds (an
 * optional '-', 1 to 12 digits).  Returns CAIRN_OK or CAIRN_ERR_FORMAT.
 */
int	time_parse_timestamp(const char *s, size_t len, int64_t *out)
	    __attribute__((warn_unused_result));
/* Parse exactly "YYYY-MM-DD" (NUL-terminated) into days since the epoch. */
int	time_parse_date(const char *s, int64_t *days)
	    __attribute__((warn_unused_result));

#define TIME_ISO_LEN	21	/* "YYYY-MM-DDTHH:MM:SSZ" + NUL */
#define TIME_DATE_LEN	11	/* "YYYY-MM-DD" + NUL */

/* Format 't' as ISO-8601 UTC into 'buf'; false when out of 0000..9999. */
bool	time_format_iso(int64_t t, char buf[static TIME_ISO_LEN]);
/* Format 'days' as YYYY-MM-DD; false when out of 0000..9999. */
bool	time_format_date(int64_t days, char buf[static TIME_DATE_LEN]);

#endif
