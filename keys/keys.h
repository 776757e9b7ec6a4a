/*
 * keys.h - identities, key files and signatures of cairn members.
 *
 * Every member (node, coordinator, analyst, auditor) holds an Ed25519
 * identity key that signs the protocol messages that matter, and a P-256
 * TLS key whose certificate, issued by the federation CA, carries its role
 * and name as the URI SAN "cairn://ROLE/NAME".  Long-term private keys are
 * touched only inside keys/: other modules hold an opaque struct
 * keys_identity and ask it to sign, so the secret can later move to a
 * separate process without changing callers.  Secrets live in sodium_malloc
 * memory and are wiped; key files are created 0600 under umask 077, opened
 * with O_NOFOLLOW and refused when group/other may read them or another user
 * owns them.
 *
 * Signatures are Ed25519 over "cairn/v1/<purpose>\n" followed by the exact
 * bytes that travel or are logged, never over a re-encoding.
 */
#ifndef CAIRN_KEYS_H
#define CAIRN_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum keys_role {
	KEYS_ROLE_NODE = 0,
	KEYS_ROLE_COORDINATOR = 1,
	KEYS_ROLE_ANALYST = 2,
	KEYS_ROLE_AUDITOR = 3
};
#define KEYS_NROLES	4
/* Bit of 'role' in a role mask (transport method permissions). */
#define KEYS_ROLE_BIT(role)	(1u << (unsigned)(role))
#define KEYS_ROLES_ALL		((1u << KEYS_NROLES) - 1)

#define KEYS_NAME_MAX	64		/* longest member name */
#define KEYS_PK_LEN	32		/* Ed25519 public key */
#define KEYS_SIG_LEN	64		/* Ed25519 signature */
#define KEYS_FPR_LEN	65		/* hex SHA-256 + NUL */
#define KEYS_PURPOSE_MAX 64		/* longest signature purpose */
#define KEYS_FILE_MAX	(64 * 1024)	/* largest key/cert/conf file */

struct keys_identity;

/* "node", "coordinator", "analyst", "auditor"; "?" for a bad value. */
const char	*keys_role_name(enum keys_role role);

/* Parse a role name.  Returns CAIRN_OK or CAIRN_ERR_ARG naming the word. */
int	keys_role_parse(const char *s, enum keys_role *out)
	    __attribute__((warn_unused_result));

/*
 * A member name is 1..KEYS_NAME_MAX characters of [a-z0-9._-], starting
 * with a letter or digit (it appears in URIs, file names and the log).
 */
bool	keys_name_is_valid(const char *name);

/*
 * Parse "cairn://ROLE/NAME" (possibly hostile, 'len' bytes, no NUL
 * needed).  Sets *role and copies NAME into name[] on success.  Returns
 * CAIRN_OK or CAIRN_ERR_FORMAT.
 */
int	keys_uri_parse(const char *uri, size_t len, enum keys_role *role,
	    char name[static KEYS_NAME_MAX + 1])
	    __attribute__((warn_unused_result));

/* Hex SHA-256 of 'len' bytes into fpr (lower-case, NUL-terminated). */
void	keys_fingerprint(const uint8_t *data, size_t len,
	    char fpr[static KEYS_FPR_LEN]);

/*
 * A fresh identity for 'role' and 'name' (validated).  The secret is in
 * sodium_malloc memory (guard pages, locked).  *out is set on success;
 * free with keys_identity_free().
 */
int	keys_identity_generate(enum keys_role role, const char *name,
	    struct keys_identity **out) __attribute__((warn_unused_result));

/*
 * Write the secret identity to 'path' (created 0600 under umask 077,
 * O_EXCL|O_NOFOLLOW: an existing file is never overwritten, CAIRN_ERR_EXISTS).
 */
int	keys_identity_save(const struct keys_identity *id, const char *path)
	    __attribute__((warn_unused_result));

/*
 * Write the public half ("NAME.pub" format, see docs/keys.md) to 'path'
 * (0644, O_EXCL).  Returns CAIRN_OK, CAIRN_ERR_EXISTS or CAIRN_ERR_IO.
 */
int	keys_identity_save_public(const struct keys_identity *id,
	    const char *path) __attribute__((warn_unused_result));

/*
 * Load a secret identity file.  Refused with CAIRN_ERR_PERM (and the
 * reason) when it is a symlink, not a regular file, readable or writable
 * by group/other, or owned by another user; CAIRN_ERR_FORMAT naming the
 * line when malformed.  *out set on success.
 */
int	keys_identity_load(const char *path, struct keys_identity **out)
	    __attribute__((warn_unused_result));

/* Wipe and free; NULL is accepted. */
void	keys_identity_free(struct keys_identity *id);

enum keys_role	 keys_identity_role(const struct keys_identity *id);
/* Borrowed; valid while 'id' lives. */
const char	*keys_identity_name(const struct keys_identity *id);
/* Copy the Ed25519 public key. */
void	keys_identity_public(const struct keys_identity *id,
	    uint8_t pk[static KEYS_PK_LEN]);

/*
 * Sign "cairn/v1/<purpose>\n" || msg[0..len).  'purpose' is
 * [a-z0-9_-]{1,KEYS_PURPOSE_MAX} ("query", "charge", ...).  Returns
 * CAIRN_OK or CAIRN_ERR_ARG for a bad purpose.
 */
int	keys_sign(const struct keys_identity *id, const char *purpose,
	    const uint8_t *msg, size_t len, uint8_t sig[static KEYS_SIG_LEN])
	    __attribute__((warn_unused_result));

/*
 * Verify a keys_sign() signature; every input may be hostile.  Returns
 * CAIRN_OK, or CAIRN_ERR_SIGNATURE (also for a bad purpose).
 */
int	keys_verify(const uint8_t pk[static KEYS_PK_LEN],
	    const char *purpose, const uint8_t *msg, size_t len,
	    const uint8_t sig[static KEYS_SIG_LEN])
	    __attribute__((warn_unused_result));

/*
 * Raw Ed25519 over exactly text[0..len), with no cairn prefix: the C2SP
 * signed-note signature of a checkpoint or cosignature body.  Returns
 * CAIRN_OK.
 */
int	keys_sign_note(const struct keys_identity *id, const uint8_t *text,
	    size_t len, uint8_t sig[static KEYS_SIG_LEN])
	    __attribute__((warn_unused_result));

/* Verify a keys_sign_note() signature: CAIRN_OK or CAIRN_ERR_SIGNATURE. */
int	keys_verify_note(const uint8_t pk[static KEYS_PK_LEN],
	    const uint8_t *text, size_t len,
	    const uint8_t sig[static KEYS_SIG_LEN])
	    __attribute__((warn_unused_result));

/*
 * A member's public identity as read from a ".pub" file or federation.conf.
 */
struct keys_public {
	enum keys_role	role;
	char		name[KEYS_NAME_MAX + 1];
	uint8_t		pk[KEYS_PK_LEN];
};

/* Read a public identity file (hostile input; CAIRN_ERR_FORMAT file:line). */
int	keys_public_load(const char *path, struct keys_public *out)
	    __attribute__((warn_unused_result));

/*
 * Read a whole file that holds a secret into sodium_malloc memory, after
 * the ownership/permission checks above; a NUL follows the data.  *buf is
 * set on success and freed with keys_secret_free(*buf, *len).  Files over
 * KEYS_FILE_MAX are refused with CAIRN_ERR_TOOBIG.
 */
int	keys_secret_read(const char *path, uint8_t **buf, size_t *len)
	    __attribute__((warn_unused_result));
void	keys_secret_free(uint8_t *buf, size_t len);

/*
 * Create 'path' (O_EXCL|O_NOFOLLOW, mode 0600 under umask 077 when
 * 'secret', else 0644) and write 'len' bytes, fsync'ed.  Returns CAIRN_OK,
 * CAIRN_ERR_EXISTS or CAIRN_ERR_IO.
 */
int	keys_file_write(const char *path, const void *data, size_t len,
	    bool secret) __attribute__((warn_unused_result));

/*
 * Read a public file (certificate, CSR, conf) of at most KEYS_FILE_MAX
 * bytes into malloc memory with a NUL after it.  *buf set on success.
 */
int	keys_file_read(const char *path, char **buf, size_t *len)
	    __attribute__((warn_unused_result));

/*
 * `cairn keys ...` (keys/cmd_keys.c): argv[0] is "keys"; returns the
 * exit code.
 */
int	cmd_keys(int argc, char **argv);

#endif
