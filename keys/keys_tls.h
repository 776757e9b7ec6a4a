/*
 * keys_tls.h - the federation CA, members' TLS keys and certificates.
 *
 * The federation CA is an ECDSA P-256 key with a self-signed certificate
 * valid ten years.  A member makes a P-256 TLS key and a CSR whose SAN is
 * the URI "cairn://ROLE/NAME"; the CA issues a certificate carrying the same
 * URI (and, for the coordinator, its host names) which gRPC presents in
 * mutual TLS.  The transport reads role and name back from the URI SAN.
 * Private keys are written 0600 and read back only through struct keys_tls,
 * whose key PEM lives in sodium_malloc memory.
 */
#ifndef CAIRN_KEYS_TLS_H
#define CAIRN_KEYS_TLS_H

#include <stddef.h>

#include "keys/keys.h"

#define KEYS_CA_DAYS		3650	/* CA validity */
#define KEYS_CERT_DAYS		365	/* default certificate validity */
#define KEYS_HOSTS_MAX		512	/* longest --hosts list */

/*
 * Create the federation CA 'fedname' in 'dir': "ca.key" (0600) and
 * "ca.crt".  Files that exist are never overwritten (CAIRN_ERR_EXISTS).
 */
int	keys_ca_create(const char *fedname, const char *dir)
	    __attribute__((warn_unused_result));

/*
 * Create a P-256 TLS key at 'key_path' (0600) and a CSR at 'csr_path'
 * whose subject is CN=NAME, OU=ROLE and whose SAN is cairn://ROLE/NAME.
 */
int	keys_tls_new(enum keys_role role, const char *name,
	    const char *key_path, const char *csr_path)
	    __attribute__((warn_unused_result));

/*
 * Issue a certificate for the CSR at 'csr_path' (hostile input: its
 * signature and its single cairn:// URI SAN are checked) with the CA in
 * 'ca_dir', valid 'days' (1..KEYS_CA_DAYS), and write it to 'out_path'.
 * 'hosts' is NULL or a comma-separated list of DNS names and IP addresses
 * added to the SAN (used for the coordinator, which is dialled by name).
 * The certificate's role and name are returned through 'issued' when it is
 * not NULL.
 */
int	keys_cert_issue(const char *ca_dir, const char *csr_path,
	    const char *out_path, int days, const char *hosts,
	    struct keys_public *issued) __attribute__((warn_unused_result));

/* What `cairn keys show` prints about a certificate or CSR. */
struct keys_cert_info {
	enum keys_role	role;
	char		name[KEYS_NAME_MAX + 1];
	char		fingerprint[KEYS_FPR_LEN];	/* SHA-256 of DER */
	char		subject[256];
	char		issuer[256];
	char		not_before[32];
	char		not_after[32];
	char		sans[512];	/* every SAN, comma-separated */
	bool		is_ca;
};

/*
 * Parse the PEM certificate pem[0..len) (hostile input).  A certificate
 * without a cairn:// URI (the CA's) has is_ca set and role/name empty.
 * Returns CAIRN_OK or CAIRN_ERR_FORMAT.
 */
int	keys_cert_info(const char *pem, size_t len,
	    struct keys_cert_info *out)
	    __attribute__((warn_unused_result));

/* The same for a PEM CSR (fingerprint is of the CSR DER). */
int	keys_csr_info(const char *pem, size_t len,
	    struct keys_cert_info *out)
	    __attribute__((warn_unused_result));

/*
 * Check that the PEM certificate 'cert' chains to the PEM CA 'ca' and is
 * valid now.  Returns CAIRN_OK or CAIRN_ERR_SIGNATURE with the reason.
 */
int	keys_cert_verify(const char *ca, const char *cert)
	    __attribute__((warn_unused_result));

/*
 * SHA-256 fingerprint of the public key in a PEM private key file
 * (checked like every secret file).  Used by `cairn keys show`.
 */
int	keys_tls_key_fingerprint(const char *path,
	    char fpr[static KEYS_FPR_LEN])
	    __attribute__((warn_unused_result));

/*
 * A member's TLS material as the transport needs it: the CA certificate,
 * its own certificate and private key, as PEM text.  The key PEM lives in
 * sodium_malloc memory; gRPC copies it when credentials are made.
 */
struct keys_tls;

/*
 * Load 'ca_path', 'cert_path' and the secret 'key_path'; check that the
 * certificate chains to the CA and carries a cairn:// URI.  *out set on
 * success.
 */
int	keys_tls_load(const char *ca_path, const char *cert_path,
	    const char *key_path, struct keys_tls **out)
	    __attribute__((warn_unused_result));

/*
 * Load a web server's certificate chain 'cert_path' (PEM, from any CA:
 * no cairn:// URI or federation CA is required) and its secret key
 * 'key_path' (read as every secret key is: 0600, O_NOFOLLOW), and check
 * that the key is the first certificate's.  keys_tls_ca_pem() is then
 * NULL.  For the public HTTPS listener (docs/public.md).
 */
int	keys_tls_load_web(const char *cert_path, const char *key_path,
	    struct keys_tls **out) __attribute__((warn_unused_result));

/* keys_tls_load(DIR/ca.crt, DIR/tls.crt, DIR/tls.key). */
int	keys_tls_load_dir(const char *dir, struct keys_tls **out)
	    __attribute__((warn_unused_result));

/* Wipe and free; NULL accepted. */
void	keys_tls_free(struct keys_tls *tls);

/* Borrowed NUL-terminated PEM text, valid while 'tls' lives. */
const char	*keys_tls_ca_pem(const struct keys_tls *tls);
const char	*keys_tls_cert_pem(const struct keys_tls *tls);
const char	*keys_tls_key_pem(const struct keys_tls *tls);
/* Role and name in the loaded certificate. */
enum keys_role	 keys_tls_role(const struct keys_tls *tls);
const char	*keys_tls_name(const struct keys_tls *tls);

#endif
