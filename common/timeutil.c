/*
 * timeutil.c - civil-date arithmetic (the era-based days-from-civil
 * method: 400-year eras of 146097 days, March-based years so that the
 * leap day falls at the end) and strict ISO-8601 parsing.
 */
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/timeutil.h"

#define MIN_DAYS	(-719528)	/* 0000-01-01 */
#define MAX_DAYS	2932896		/* 9999-12-31 */

int64_t
time_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void
time_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

int64_t
time_day_of(int64_t t)
{
	return t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
}

static bool
digits(const char *s, size_t n, unsigned *out)
{
	unsigned v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return true;
}

static unsigned
month_days(unsigned y, unsigned m)
{
	static const unsigned char len[] = { 31, 28, 31, 30, 31, 30, 31, 31,
	    30, 31, 30, 31 };

	if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return 29;
	return len[m - 1];
}

static bool
parse_ymd(const char *s, int64_t *days)
{
	unsigned y, m, d;

	if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &m) ||
	    s[7] != '-' || !digits(s + 8, 2, &d))
		return false;
	if (m < 1 || m > 12 || d < 1 || d > month_days(y, m))
		return false;
	*days = time_days_from_civil(y, m, d);
	return true;
}

int
time_parse_iso(const char *s, size_t len, int64_t *out)
{
	int64_t days;
	unsigned hh, mm, ss;

	if (len != 20 || !parse_ymd(s, &days) || s[10] != 'T' ||
	    !digits(s + 11, 2, &hh) || s[13] != ':' ||
	    !digits(s + 14, 2, &mm) || s[16] != ':' ||
	    !digits(s + 17, 2, &ss) || s[19] != 'Z' ||
	    hh > 23 || mm > 59 || ss > 59)
		return CAIRN_ERR_FORMAT;
	*out = days * 86400 + hh * 3600 + mm * 60 + ss;
	return CAIRN_OK;
}

int
time_parse_timestamp(const char *s, size_t len, int64_t *out)
{
	size_t i = 0;
	int64_t v = 0;
	bool neg = false;

	if (len == 20 && s[10] == 'T')
		return time_parse_iso(s, len, out);
	if (len > 0 && s[0] == '-') {
		neg = true;
		i = 1;
	}
	if (len == i || len - i > 12)
		return CAIRN_ERR_FORMAT;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return CAIRN_ERR_FORMAT;
		v = v * 10 + (s[i] - '0');
	}
	*out = neg ? -v : v;
	return CAIRN_OK;
}

int
time_parse_date(const char *s, int64_t *days)
{
	int64_t d;
	size_t n = 0;

	while (n < 11 && s[n] != '\0')
		n++;
	if (n != 10 || !parse_ymd(s, &d))
		return CAIRN_ERR_FORMAT;
	*days = d;
	return CAIRN_OK;
}

bool
time_format_date(int64_t days, char buf[static TIME_DATE_LEN])
{
	int64_t y;
	unsigned m, d;

	if (days < MIN_DAYS || days > MAX_DAYS)
		return false;
	time_civil_from_days(days, &y, &m, &d);
	snprintf(buf, TIME_DATE_LEN, "%04d-%02u-%02u", (int)y, m, d);
	return true;
}

bool
time_format_iso(int64_t t, char buf[static TIME_ISO_LEN])
{
	int64_t days = time_day_of(t), sod = t - days * 86400;
	char date[TIME_DATE_LEN];

	if (!time_format_date(days, date))
		return false;
	unsigned hh = (unsigned)(sod / 3600) % 24, mm = (unsigned)(sod / 60 % 60),
	    ss = (unsigned)(sod % 60);

	memcpy(buf, date, 10);
	buf[10] = 'T';
	buf[11] = (char)('0' + hh / 10);
	buf[12] = (char)('0' + hh % 10);
	buf[13] = ':';
	buf[14] = (char)('0' + mm / 10);
	buf[15] = (char)('0' + mm % 10);
	buf[16] = ':';
	buf[17] = (char)('0' + ss / 10);
	buf[18] = (char)('0' + ss % 10);
	buf[19] = 'Z';
	buf[20] = '\0';
	return true;
}
