/*
 * err.h - the one error vocabulary of cairn.
 *
 * Every function that can fail returns CAIRN_OK (0) or a negative
 * CAIRN_ERR_* code.  Codes of the libraries cairn uses (gRPC, protobuf-c,
 * SQLite, OpenSSL, libc) are translated where they enter and go no further.
 * A failure may carry a one-line detail ("nodes.conf:12: unknown key 'x'")
 * kept per thread; cairn_err() sets it and returns the code, so the shape
 * `return cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: ...", file, line)` reports
 * where the fault is, and the caller that has the context logs it once.
 */
#ifndef CAIRN_ERR_H
#define CAIRN_ERR_H

enum cairn_err {
	CAIRN_OK = 0,
	CAIRN_ERR_INTERNAL = -1,	/* a bug: an invariant did not hold */
	CAIRN_ERR_NOMEM = -2,		/* allocation failed */
	CAIRN_ERR_ARG = -3,		/* bad argument from the caller/user */
	CAIRN_ERR_IO = -4,		/* read/write/open failed */
	CAIRN_ERR_FORMAT = -5,		/* malformed input (file, message) */
	CAIRN_ERR_TOOBIG = -6,		/* input over a size limit */
	CAIRN_ERR_RANGE = -7,		/* value out of its allowed range */
	CAIRN_ERR_CONFIG = -8,		/* bad configuration */
	CAIRN_ERR_NOTFOUND = -9,	/* no such item */
	CAIRN_ERR_EXISTS = -10,		/* item exists already */
	CAIRN_ERR_PERM = -11,		/* permission denied / unsafe perms */
	CAIRN_ERR_SIGNATURE = -12,	/* signature missing or invalid */
	CAIRN_ERR_PROOF = -13,		/* Merkle proof does not verify */
	CAIRN_ERR_BUDGET = -14,		/* privacy budget exhausted */
	CAIRN_ERR_POLICY = -15,		/* refused by policy */
	CAIRN_ERR_STATE = -16,		/* operation not valid in this state */
	CAIRN_ERR_CRYPTO = -17,		/* cryptographic library failure */
	CAIRN_ERR_DB = -18,		/* database failure */
	CAIRN_ERR_NET = -19,		/* transport failure, peer unreachable */
	CAIRN_ERR_TIMEOUT = -20,	/* deadline exceeded */
	CAIRN_ERR_UNAUTH = -21,		/* peer not authenticated / wrong role */
	CAIRN_ERR_OVERFLOW = -22,	/* arithmetic would overflow */
	CAIRN_ERR_CONFLICT = -23,	/* evidence of equivocation / fork */
	CAIRN_ERR_UNSUPPORTED = -24,	/* unknown version / kind */
	CAIRN_ERR_CANCELLED = -25,	/* operation cancelled / shut down */
	CAIRN_ERR__LAST = -26
};

/* Static text for 'code' ("malformed input"); never NULL. */
const char	*cairn_strerror(int code);

/*
 * Record a detail message for the current thread and return 'code'
 * unchanged.  The detail replaces any earlier one.
 */
int	 cairn_err(int code, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * The detail recorded by the last cairn_err() on this thread, or the
 * empty string.  Valid until the next cairn_err()/cairn_err_clear().
 */
const char	*cairn_errmsg(void);

/* Forget the current thread's detail. */
void	 cairn_err_clear(void);

/*
 * Describe the failure 'code' for a user: the recorded detail when there
 * is one, else cairn_strerror(code).
 */
const char	*cairn_errdesc(int code);

#endif
