/*
 * rho.h - privacy loss ρ as an exact integer count of nano-ρ.
 *
 * cairn has one representation of ρ from the query spec to the ledger, the
 * wire, the transparency log and the audit: a uint64 count of nano-ρ
 * (1 ρ = 10^9 nano-ρ).  Sums and comparisons are then exact.  People write
 * ρ as decimal text ("0.05"); these functions are the only way text and
 * JSON numbers become nano-ρ, and nano-ρ becomes text again.  A value that
 * is not exactly a whole number of nano-ρ (more than 9 decimals, 1/3,
 * 1e-10), zero, negative, not finite or over RHO_NANO_MAX is refused,
 * never rounded.
 */
#ifndef CAIRN_RHO_H
#define CAIRN_RHO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RHO_NANO_PER_RHO	UINT64_C(1000000000)
#define RHO_NANO_MAX		UINT64_C(1000000000000000000) /* 10^9 ρ */
/* Room for the longest text rho_format() writes, NUL included. */
#define RHO_TEXT_MAX		32

/*
 * Parse the decimal text 's' ("0.05", "1", "2.5e-3") exactly into
 * '*nano'.  Returns true, or false with a short reason in '*why' (a
 * static string: "not a decimal number", "more than 9 decimals: not a
 * whole number of nano-rho", "zero", "negative", "over 10^9"); '*nano'
 * is set only on success.  's' may be hostile.
 */
bool	rho_parse(const char *s, uint64_t *nano, const char **why);

/*
 * A JSON number (a double) as nano-ρ: accepted only when the exact
 * decimal of its nano count, parsed back as a double, is 'd' itself
 * (0.1 gives 100000000; 0.1234567891, 1/3 and 1e-10 are refused).
 * Returns true, or false with the reason in '*why' as above.
 */
bool	rho_from_double(double d, uint64_t *nano, const char **why);

/*
 * The exact decimal text of 'nano' into 'buf' (RHO_TEXT_MAX bytes),
 * trailing zeros trimmed: 100000000 is "0.1", 2000000000 is "2".
 * Returns 'buf'.
 */
char	*rho_format(uint64_t nano, char buf[static RHO_TEXT_MAX]);

/*
 * rho_parse() for the user-facing field 'field' (a flag, a key, a JSON
 * member): returns CAIRN_OK and '*nano', or CAIRN_ERR_ARG with the detail
 * "FIELD: 'TEXT' is not a valid rho: REASON".
 */
int	rho_parse_field(const char *field, const char *s, uint64_t *nano)
	    __attribute__((warn_unused_result));

/* rho_from_double() with the same message shape as rho_parse_field(). */
int	rho_double_field(const char *field, double d, uint64_t *nano)
	    __attribute__((warn_unused_result));

/* nano-ρ as a double, for the (ε, δ) conversions and display only. */
double	rho_to_double(uint64_t nano);

#endif
