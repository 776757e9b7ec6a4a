/*
 * audit_int.h - private to audit/verify*.c: the state of one
 * audit_verify() pass and the helpers its parts share.  verify.c walks
 * the log and owns the state; verify_entry.c checks each entry;
 * verify_ledger.c cross-checks a node's ledger.
 */
#ifndef CAIRN_AUDIT_INT_H
#define CAIRN_AUDIT_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "audit/audit.h"
#include "keys/keys.h"
#include "privacy/dp.h"
#include "protocol/cairn.pb-c.h"
#include "protocol/tlog_entry.h"
#include "protocol/tlog_member.h"

#define FINDING_MAX	1024
#define HT_KEY_MAX	(TLOG_ENTRY_MAX_ID + TLOG_HASH_LEN + 8)

/* ---------------------------------------------------------- hash table */

struct hent {
	uint8_t	*key;
	size_t	 klen;
	void	*val;
};

struct htab {
	struct hent	*v;
	size_t		 cap, n;
};

/* The value stored under key 'k' of 'n' bytes, or NULL. */
void	*audit_ht_get(const struct htab *t, const uint8_t *k, size_t n);

/*
 * Store 'val' (owned by the table from now) under a copy of key 'k' of
 * 'n' bytes, growing the table as needed.  Returns CAIRN_OK or
 * CAIRN_ERR_NOMEM (then 'val' is still the caller's).
 */
int	 audit_ht_put(struct htab *t, const uint8_t *k, size_t n, void *val);

/*
 * The index in t->v of the slot of key 'k' of 'n' bytes: where it is,
 * or where it would go (the table must not be empty).
 */
size_t	 audit_ht_index(const struct htab *t, const uint8_t *k, size_t n);

/* Free the table's keys, and its values with 'fv' (may be NULL). */
void	 audit_ht_free(struct htab *t, void (*fv)(void *));

/* --------------------------------------------------------- the state */

struct vquery {
	uint64_t		 index;
	Cairn__V1__Query	*q;
	char			**sorted;	/* participants, bytewise */
	uint32_t		 attempt;	/* highest charge attempt */
	bool			 released;
	struct dp_query		 dq;	/* the spec, as accounted */
	uint64_t		 rho_nano;	/* the query's rho */
	bool			 dq_ok;	/* false: 'why' says why */
	char			 why[FINDING_MAX / 2];
};

struct vcharge {
	uint64_t		 index;		/* first CHARGE entry */
	Cairn__V1__Charge	*c;
	uint32_t		 attempt;	/* latest attempt seen */
};

struct vmonth {
	uint64_t cum;	/* nano-ρ */
};

/* A node's newest published policy. */
struct vpolicy {
	char			 node[KEYS_NAME_MAX + 1];
	uint64_t		 index;		/* its POLICY entry */
	Cairn__V1__Policy	*p;
};

struct vctx {
	const struct audit_verify_in	*in;
	struct audit_verify_report	*rep;
	const uint8_t			*log_pk;	/* coordinator's key */
	/* Membership as the MEMBER entries so far say; once the log has
	 * one, QUERY, CHARGE, REFUSAL and POLICY entries are checked
	 * against it (before: against federation.conf). */
	bool				 have_members;
	struct tlog_roster		 roster;
	struct vpolicy			*pols;
	size_t				 npols;
	struct htab			 queries;	/* qh -> vquery */
	struct htab			 charges;	/* node,qh: vcharge */
	struct htab			 months;	/* node,month: vmonth */
};

/* Free a struct vquery / struct vcharge; NULL is fine. */
void	 audit_vquery_free(void *p);
void	 audit_vcharge_free(void *p);

/* Report one finding (one line: newlines become spaces) and count it. */
void	 audit_findv(struct vctx *v, const char *fmt, va_list ap)
	    __attribute__((format(printf, 2, 0)));

/* audit_findv() with arguments: the short name every rule calls. */
static inline void find(struct vctx *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static inline void
find(struct vctx *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	audit_findv(v, fmt, ap);
	va_end(ap);
}

/* First 8 bytes of a hash in hex in 'buf', to name a query in findings. */
static inline const char *
short_hash(const uint8_t h[TLOG_HASH_LEN], char buf[17])
{
	sodium_bin2hex(buf, 17, h, 8);
	return buf;
}

/* Copy a byte string into a NUL-terminated member name; false when unfit. */
bool	 audit_bytes_name(struct tlog_bytes b,
	    char name[static KEYS_NAME_MAX + 1]);

/* The key (node NUL query hash) of a charge in v->charges; its length. */
size_t	 audit_charge_key(uint8_t *k, const char *node,
	    const uint8_t qh[TLOG_HASH_LEN]);

/*
 * Decode entry 'idx' of the log ('data', hostile) into 'e' (scratch) and
 * apply its type's rules, updating the pass's tables.  A rule that fails
 * is a finding, not an error; returns CAIRN_OK, or an error (no memory)
 * that ends the pass.  In verify_entry.c.
 */
int	 audit_verify_entry(struct vctx *v, uint64_t idx,
	    struct tlog_bytes data, struct tlog_entry *e);

/*
 * Cross-check v->in->ledger (the ledger of node v->in->ledger_node)
 * against the CHARGE entries of the log; each difference is a finding.
 * 'e' is scratch.  In verify_ledger.c.
 */
void	 audit_verify_ledger(struct vctx *v, struct tlog_entry *e);

#endif /* CAIRN_AUDIT_INT_H */
