/*
 * rational.c - exact non-negative rationals for sampler parameters:
 * parsing "P", "P/Q" and "I.F" from untrusted text, and reduction.
 */
#include <string.h>

#include "common/err.h"
#include "privacy/dp.h"

static uint64_t
gcd64(uint64_t a, uint64_t b)
{
	while (b != 0) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

void
dp_rat_reduce(struct dp_rat *r)
{
	uint64_t g;

	if (r->den == 0)
		return;
	if (r->num == 0) {
		r->den = 1;
		return;
	}
	g = gcd64(r->num, r->den);
	r->num /= g;
	r->den /= g;
}

/*
 * Parse the digits s[0..n) into '*v' (<= DP_RAT_MAX).  '*ndig' is the
 * number of digits.  Returns CAIRN_OK, CAIRN_ERR_FORMAT or CAIRN_ERR_RANGE.
 */
static int
digits(const char *s, size_t n, uint64_t *v, const char *text)
{
	uint64_t x = 0;

	if (n == 0)
		return cairn_err(CAIRN_ERR_FORMAT, "'%s' is not a number P, "
		    "P/Q or I.F", text);
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return cairn_err(CAIRN_ERR_FORMAT, "'%s' is not a "
			    "number P, P/Q or I.F", text);
		if (x > (DP_RAT_MAX - (uint64_t)(s[i] - '0')) / 10)
			return cairn_err(CAIRN_ERR_RANGE, "'%s' is too large "
			    "(parts at most 2^63 - 1)", text);
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	*v = x;
	return CAIRN_OK;
}

int
dp_rat_parse(const char *text, struct dp_rat *out)
{
	struct dp_rat r;
	const char *slash, *dot;
	size_t len;
	int e;

	if (text == NULL || *text == '\0')
		return cairn_err(CAIRN_ERR_FORMAT, "empty number");
	if (text[0] == '-')
		return cairn_err(CAIRN_ERR_ARG, "'%s' is negative", text);
	len = strlen(text);
	slash = strchr(text, '/');
	dot = strchr(text, '.');
	if (slash != NULL && dot != NULL)
		return cairn_err(CAIRN_ERR_FORMAT, "'%s' is not a number P, "
		    "P/Q or I.F", text);
	if (slash != NULL) {
		if ((e = digits(text, (size_t)(slash - text), &r.num,
		    text)) != CAIRN_OK)
			return e;
		if ((e = digits(slash + 1, len - (size_t)(slash - text) - 1,
		    &r.den, text)) != CAIRN_OK)
			return e;
		if (r.den == 0)
			return cairn_err(CAIRN_ERR_FORMAT, "'%s' has a zero "
			    "denominator", text);
	} else if (dot != NULL) {
		size_t ni = (size_t)(dot - text), nf = len - ni - 1;
		uint64_t ip, fp, scale = 1;

		if (ni == 0 || nf == 0 || nf > 18)
			return cairn_err(nf > 18 ? CAIRN_ERR_RANGE :
			    CAIRN_ERR_FORMAT, "'%s' is not a number P, P/Q or "
			    "I.F (at most 18 decimals)", text);
		if ((e = digits(text, ni, &ip, text)) != CAIRN_OK ||
		    (e = digits(dot + 1, nf, &fp, text)) != CAIRN_OK)
			return e;
		for (size_t i = 0; i < nf; i++)
			scale *= 10;
		if (ip > (DP_RAT_MAX - fp) / scale)
			return cairn_err(CAIRN_ERR_RANGE, "'%s' is too large "
			    "as a fraction", text);
		r.num = ip * scale + fp;
		r.den = scale;
	} else {
		if ((e = digits(text, len, &r.num, text)) != CAIRN_OK)
			return e;
		r.den = 1;
	}
	dp_rat_reduce(&r);
	*out = r;
	return CAIRN_OK;
}
