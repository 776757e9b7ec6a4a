/*
 * rho.c - exact conversions between decimal ρ text, JSON doubles and
 * nano-ρ counts (common/rho.h).  Text is parsed digit by digit, never
 * through a double, so "0.123456789" is 123456789 nano-ρ exactly and
 * "0.1234567891" is refused rather than rounded.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/rho.h"

#define DIGITS_MAX	64

bool
rho_parse(const char *s, uint64_t *nano, const char **why)
{
	char d[DIGITS_MAX + 1];
	size_t nd = 0, nfrac = 0;
	long exp10 = 0, k;
	bool any = false, neg = false, dot = false;
	uint64_t v = 0;
	const char *p = s;

	*why = "not a decimal number";
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	for (; *p != '\0'; p++) {
		if (*p == '.' && !dot) {
			dot = true;
			continue;
		}
		if (!isdigit((unsigned char)*p))
			break;
		any = true;
		if (nd == 0 && *p == '0') {	/* leading zero */
			if (dot)
				nfrac++;
			continue;
		}
		if (nd == DIGITS_MAX)
			return false;
		d[nd++] = *p;
		if (dot)
			nfrac++;
	}
	if (!any)
		return false;
	if (*p == 'e' || *p == 'E') {
		char *end;

		p++;
		if (!isdigit((unsigned char)*p) && !((*p == '-' ||
		    *p == '+') && isdigit((unsigned char)p[1])))
			return false;
		exp10 = strtol(p, &end, 10);
		if (exp10 > 100 || exp10 < -100)
			return false;
		p = end;
	}
	if (*p != '\0')
		return false;
	if (nd == 0) {
		*why = "zero";
		return false;
	}
	if (neg) {
		*why = "negative";
		return false;
	}
	/* value = D * 10^(exp10 - nfrac); nano = D * 10^k */
	k = exp10 - (long)nfrac + 9;
	for (; k < 0; k++) {
		if (d[nd - 1] != '0') {
			*why = "more than 9 decimals: not a whole number of "
			    "nano-rho";
			return false;
		}
		nd--;
	}
	if ((size_t)k + nd > 19) {
		*why = "over 10^9";
		return false;
	}
	for (size_t i = 0; i < nd; i++)
		v = v * 10 + (uint64_t)(d[i] - '0');
	for (; k > 0; k--)
		v *= 10;
	if (v > RHO_NANO_MAX) {
		*why = "over 10^9";
		return false;
	}
	*nano = v;
	return true;
}

char *
rho_format(uint64_t nano, char buf[static RHO_TEXT_MAX])
{
	size_t n;

	snprintf(buf, RHO_TEXT_MAX, "%llu.%09llu",
	    (unsigned long long)(nano / RHO_NANO_PER_RHO),
	    (unsigned long long)(nano % RHO_NANO_PER_RHO));
	n = strlen(buf);
	while (buf[n - 1] == '0')
		buf[--n] = '\0';
	if (buf[n - 1] == '.')
		buf[--n] = '\0';
	return buf;
}

bool
rho_from_double(double x, uint64_t *nano, const char **why)
{
	char buf[RHO_TEXT_MAX];
	double t, back;

	if (!isfinite(x)) {
		*why = "not finite";
		return false;
	}
	if (x < 0) {
		*why = "negative";
		return false;
	}
	if (x == 0) {
		*why = "zero";
		return false;
	}
	if (x > (double)RHO_NANO_MAX / 1e9) {
		*why = "over 10^9";
		return false;
	}
	t = nearbyint(x * 1e9);
	/* The product may round either way: try the neighbours too. */
	for (int dv = -1; dv <= 1; dv++) {
		double c = t + dv;

		if (c < 1 || c > (double)RHO_NANO_MAX)
			continue;
		rho_format((uint64_t)c, buf);
		back = strtod(buf, NULL);
		if (back == x) {
			*nano = (uint64_t)c;
			return true;
		}
	}
	*why = t < 1 ? "below 1 nano-rho" : "more than 9 decimals: not a "
	    "whole number of nano-rho";
	return false;
}

int
rho_parse_field(const char *field, const char *s, uint64_t *nano)
{
	const char *why;

	if (!rho_parse(s, nano, &why))
		return cairn_err(CAIRN_ERR_ARG, "%s: '%s' is not a valid rho: "
		    "%s", field, s, why);
	return CAIRN_OK;
}

int
rho_double_field(const char *field, double d, uint64_t *nano)
{
	const char *why;

	if (!rho_from_double(d, nano, &why))
		return cairn_err(CAIRN_ERR_ARG, "%s: %.17g is not a valid rho: "
		    "%s", field, d, why);
	return CAIRN_OK;
}

double
rho_to_double(uint64_t nano)
{
	return (double)nano / 1e9;
}
