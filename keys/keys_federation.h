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

#include "keys/keys.h"

#define KEYS_FEDERATION_MAX_MEMBERS	1024

struct keys_member {
	struct keys_public	pub;
	char			cert_fpr[KEYS_FPR_LEN];
};

struct keys_federation {
	char			 name[KEYS_NAME_MAX + 1];
	char			 ca_fpr[KEYS_FPR_LEN];
	struct keys_member	*members;
	size_t			 n;
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

/* The member with this role and name, or NULL (borrowed from 'fed'). */
const struct keys_member *keys_federation_find(
	    const struct keys_federation *fed, enum keys_role role,
	    const char *name);

/*
 * Add 'm' to the federation.conf at 'path' (rewritten atomically through a
 * temporary file and rename).  CAIRN_ERR_EXISTS when a member with the same
 * role and name, or the same identity key, is already listed.
 */
int	keys_federation_add(const char *path, const struct keys_member *m)
	    __attribute__((warn_unused_result));

#endif
