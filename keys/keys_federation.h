/*
 * keys_federation.h - federation.conf: who the members are.
 *
 * The federation operator keeps one INI file (format in docs/keys.md) with
 * the federation's name, the SHA-256 fingerprint of its CA certificate and
 * one "member = ROLE NAME IDENTITY-PUBKEY CERT-SHA256" line per member.
 * Everyone pins this file: signatures are checked against the identity keys
 * it lists and certificates against the fingerprints.
 */
#ifndef CAIRN_KEYS_FEDERATION_H
#define CAIRN_KEYS_FEDERATION_H

#include <stddef.h>
#include <stdint.h>

#include "keys/keys.h"

#define KEYS_FEDERATION_MAX_MEMBERS	1024

struct keys_member {
	struct keys_public	pub;
	char			cert_fpr[KEYS_FPR_LEN];
};

#define KEYS_FEDERATION_MAX_GEOS	64

/* A geography pinned by the SHA-256 of its region file. */
struct keys_geo_pin {
	char			name[KEYS_NAME_MAX + 1];
	uint8_t			sha256[32];
};

struct keys_federation {
	char			 name[KEYS_NAME_MAX + 1];
	char			 ca_fpr[KEYS_FPR_LEN];
	struct keys_member	*members;
	size_t			 n;
	struct keys_geo_pin	 geos[KEYS_FEDERATION_MAX_GEOS];
	size_t			 ngeos;
};

/*
 * Write a new federation.conf at 'path' naming federation 'name' with CA
 * fingerprint 'ca_fpr' and no members (O_EXCL; never overwrites).
 */
int	keys_federation_create(const char *path, const char *name,
	    const char *ca_fpr) __attribute__((warn_unused_result));

/*
 * Read and check 'path'.  Errors (CAIRN_ERR_CONFIG) name the file, line or
 * member at fault; duplicate members are refused.  *out set on success,
 * free with keys_federation_free().
 */
int	keys_federation_load(const char *path, struct keys_federation **out)
	    __attribute__((warn_unused_result));

void	keys_federation_free(struct keys_federation *fed);

/*
 * The federation's coordinator: the one member of role coordinator, whose
 * enrolled certificate fingerprint clients pin (borrowed from 'fed').
 * Returns CAIRN_OK, or CAIRN_ERR_CONFIG when none or several are enrolled.
 */
int	keys_federation_coordinator(const struct keys_federation *fed,
	    const struct keys_member **out) __attribute__((warn_unused_result));

/* The member with this role and name, or NULL (borrowed from 'fed'). */
const struct keys_member *keys_federation_find(
	    const struct keys_federation *fed, enum keys_role role,
	    const char *name);

/*
 * The SHA-256 pinned for geography 'name' ([geographies] geography = NAME
 * HEX), or NULL when the federation does not pin it (borrowed).
 */
const uint8_t	*keys_federation_geography(const struct keys_federation *fed,
	    const char *name);

/*
 * SHA-256 of the file 'path' (a geography's region file, at most 256 MiB)
 * into 'out'.  Returns CAIRN_OK or CAIRN_ERR_IO / CAIRN_ERR_TOOBIG naming
 * the file.
 */
int	keys_file_sha256(const char *path, uint8_t out[static 32])
	    __attribute__((warn_unused_result));

/*
 * Pin geography 'name' to the SHA-256 'sha256' in the federation.conf at
 * 'path' (rewritten atomically): a new "geography = NAME HEX" line under
 * [geographies], or the old line of that name replaced.  Returns CAIRN_OK
 * or CAIRN_ERR_ARG (bad name), CAIRN_ERR_TOOBIG, CAIRN_ERR_CONFIG / _IO.
 */
int	keys_federation_pin_geography(const char *path, const char *name,
	    const uint8_t sha256[static 32]) __attribute__((warn_unused_result));

/*
 * Add 'm' to the federation.conf at 'path' (rewritten atomically through a
 * temporary file and rename).  CAIRN_ERR_EXISTS when a member with the same
 * role and name, or the same identity key, is already listed.
 */
int	keys_federation_add(const char *path, const struct keys_member *m)
	    __attribute__((warn_unused_result));

/*
 * Replace the enrolled keys of 'role'/'name' in the federation.conf at
 * 'path' by those of 'm' (a rotation: same role and name, a new identity
 * key and certificate), or remove the member when 'm' is NULL; the file
 * is rewritten atomically, every other line kept.  CAIRN_ERR_ARG for the
 * coordinator (its key is the log key) or an 'm' of another role or name,
 * CAIRN_ERR_NOTFOUND when no such member is enrolled, CAIRN_ERR_EXISTS
 * when 'm' repeats the old identity key or certificate or is another
 * member's key, CAIRN_ERR_CONFIG / _IO.  The daemons pick the change up
 * without a restart and the coordinator logs it as MEMBER entries.
 */
int	keys_federation_replace(const char *path, enum keys_role role,
	    const char *name, const struct keys_member *m)
	    __attribute__((warn_unused_result));

#endif
