/*
 * keys_tls.c - the federation CA and members' certificates with OpenSSL 3.
 *
 * Everything cairn asks of X.509 is here: make a P-256 key, a CSR carrying
 * "cairn://ROLE/NAME", issue a certificate from a CSR (trusting nothing in
 * the CSR but its key and that one URI), describe and verify certificates,
 * and hand the transport the PEM texts it passes to gRPC.  OpenSSL errors
 * become CAIRN_ERR_CRYPTO (ours) or CAIRN_ERR_FORMAT (the input's) here.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include "common/err.h"
#include "keys/keys.h"
#include "keys/keys_tls.h"

struct keys_tls {
	char		*ca;
	char		*cert;
	char		*key;		/* sodium_malloc */
	size_t		 keylen;
	enum keys_role	 role;
	char		 name[KEYS_NAME_MAX + 1];
};

/* Re-raise 'code' with 'prefix' before the current detail (copied first:
 * the detail buffer is the one cairn_err() writes). */
static int
err_prefix(int code, const char *prefix)
{
	char d[512];

	snprintf(d, sizeof(d), "%s", cairn_errmsg());
	return cairn_err(code, "%s: %s", prefix, d);
}

static int
ossl_fail(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "unknown error";

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return cairn_err(CAIRN_ERR_CRYPTO, "%s: %s", what, buf);
}

static int
path_join(char *out, size_t n, const char *dir, const char *file)
{
	int k = snprintf(out, n, "%s/%s", dir, file);

	if (k < 0 || (size_t)k >= n)
		return cairn_err(CAIRN_ERR_ARG, "path too long: %s/%s", dir,
		    file);
	return CAIRN_OK;
}

/* Write a BIO's contents with keys_file_write(). */
static int
bio_to_file(BIO *b, const char *path, bool secret)
{
	char *p;
	long n = BIO_get_mem_data(b, &p);

	if (n <= 0)
		return cairn_err(CAIRN_ERR_CRYPTO, "%s: nothing to write",
		    path);
	return keys_file_write(path, p, (size_t)n, secret);
}

static int
write_key(EVP_PKEY *k, const char *path)
{
	BIO *b;
	int r;

	if ((b = BIO_new(BIO_s_secmem())) == NULL)
		return ossl_fail("BIO_new");
	if (!PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL)) {
		BIO_free(b);
		return ossl_fail("PEM_write_bio_PrivateKey");
	}
	r = bio_to_file(b, path, true);
	BIO_free(b);
	return r;
}

static int
write_cert(X509 *x, const char *path)
{
	BIO *b;
	int r;

	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return ossl_fail("BIO_new");
	if (!PEM_write_bio_X509(b, x)) {
		BIO_free(b);
		return ossl_fail("PEM_write_bio_X509");
	}
	r = bio_to_file(b, path, false);
	BIO_free(b);
	return r;
}

static int
random_serial(X509 *x)
{
	uint8_t s[16];
	BIGNUM *bn;
	int ok;

	randombytes_buf(s, sizeof(s));
	s[0] &= 0x7f;
	s[0] |= 0x01;	/* positive, full length */
	if ((bn = BN_bin2bn(s, sizeof(s), NULL)) == NULL)
		return ossl_fail("BN_bin2bn");
	ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok ? CAIRN_OK : ossl_fail("serial");
}

static int
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;
	int ok;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	if ((e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return ossl_fail(OBJ_nid2sn(nid));
	ok = X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok ? CAIRN_OK : ossl_fail("X509_add_ext");
}

static int
set_name(X509_NAME *n, const char *cn, const char *ou)
{
	if (!X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
	    (const unsigned char *)"cairn", -1, -1, 0) ||
	    (ou != NULL && !X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_UTF8,
	    (const unsigned char *)ou, -1, -1, 0)) ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0))
		return ossl_fail("X509_NAME_add_entry");
	return CAIRN_OK;
}

int
keys_ca_create(const char *fedname, const char *dir)
{
	char kpath[PATH_MAX], cpath[PATH_MAX], cn[KEYS_NAME_MAX + 32];
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	int r;

	if (!keys_name_is_valid(fedname))
		return cairn_err(CAIRN_ERR_ARG, "invalid federation name '%s'",
		    fedname);
	if ((r = path_join(kpath, sizeof(kpath), dir, "ca.key")) != CAIRN_OK ||
	    (r = path_join(cpath, sizeof(cpath), dir, "ca.crt")) != CAIRN_OK)
		return r;
	snprintf(cn, sizeof(cn), "cairn federation %s CA", fedname);
	if ((k = EVP_EC_gen("P-256")) == NULL) {
		r = ossl_fail("EVP_EC_gen");
		goto out;
	}
	if ((x = X509_new()) == NULL) {
		r = ossl_fail("X509_new");
		goto out;
	}
	if (!X509_set_version(x, 2) ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -300) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), KEYS_CA_DAYS, 0,
	    NULL) == NULL || !X509_set_pubkey(x, k)) {
		r = ossl_fail("CA certificate");
		goto out;
	}
	if ((r = random_serial(x)) != CAIRN_OK ||
	    (r = set_name(X509_get_subject_name(x), cn, NULL)) != CAIRN_OK)
		goto out;
	if (!X509_set_issuer_name(x, X509_get_subject_name(x))) {
		r = ossl_fail("X509_set_issuer_name");
		goto out;
	}
	if ((r = add_ext(x, x, NID_basic_constraints,
	    "critical,CA:TRUE,pathlen:0")) != CAIRN_OK ||
	    (r = add_ext(x, x, NID_key_usage,
	    "critical,keyCertSign,cRLSign")) != CAIRN_OK ||
	    (r = add_ext(x, x, NID_subject_key_identifier, "hash")) != CAIRN_OK)
		goto out;
	if (X509_sign(x, k, EVP_sha256()) == 0) {
		r = ossl_fail("X509_sign");
		goto out;
	}
	if ((r = write_key(k, kpath)) != CAIRN_OK)
		goto out;
	r = write_cert(x, cpath);
out:
	X509_free(x);
	EVP_PKEY_free(k);
	return r;
}

int
keys_tls_new(enum keys_role role, const char *name, const char *key_path,
    const char *csr_path)
{
	char uri[KEYS_NAME_MAX + 32];
	EVP_PKEY *k = NULL;
	X509_REQ *req = NULL;
	STACK_OF(X509_EXTENSION) *exts = NULL;
	X509_EXTENSION *e;
	BIO *b = NULL;
	int r;

	if (!keys_name_is_valid(name) || (unsigned)role >= KEYS_NROLES)
		return cairn_err(CAIRN_ERR_ARG, "invalid member name '%s'",
		    name);
	snprintf(uri, sizeof(uri), "URI:cairn://%s/%s", keys_role_name(role),
	    name);
	if ((k = EVP_EC_gen("P-256")) == NULL) {
		r = ossl_fail("EVP_EC_gen");
		goto out;
	}
	if ((req = X509_REQ_new()) == NULL || !X509_REQ_set_version(req, 0) ||
	    !X509_REQ_set_pubkey(req, k)) {
		r = ossl_fail("X509_REQ");
		goto out;
	}
	if ((r = set_name(X509_REQ_get_subject_name(req), name,
	    keys_role_name(role))) != CAIRN_OK)
		goto out;
	if ((exts = sk_X509_EXTENSION_new_null()) == NULL ||
	    (e = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
	    uri)) == NULL) {
		r = ossl_fail("CSR SAN");
		goto out;
	}
	if (!sk_X509_EXTENSION_push(exts, e)) {
		X509_EXTENSION_free(e);
		r = ossl_fail("CSR SAN");
		goto out;
	}
	if (!X509_REQ_add_extensions(req, exts) ||
	    X509_REQ_sign(req, k, EVP_sha256()) == 0) {
		r = ossl_fail("X509_REQ_sign");
		goto out;
	}
	if ((r = write_key(k, key_path)) != CAIRN_OK)
		goto out;
	if ((b = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio_X509_REQ(b, req)) {
		r = ossl_fail("PEM_write_bio_X509_REQ");
		goto out;
	}
	r = bio_to_file(b, csr_path, false);
out:
	BIO_free(b);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	EVP_PKEY_free(k);
	return r;
}

/* Read the single cairn:// URI among 'names'; CAIRN_ERR_NOTFOUND if none. */
static int
names_cairn_uri(const GENERAL_NAMES *names, enum keys_role *role,
    char name[KEYS_NAME_MAX + 1], char *all, size_t alln)
{
	int found = 0, r;
	size_t used = 0;

	if (all != NULL && alln > 0)
		all[0] = '\0';
	for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		const ASN1_STRING *s = NULL;
		const char *tag = "other";
		char ipbuf[64] = "";

		if (g->type == GEN_URI) {
			s = g->d.uniformResourceIdentifier;
			tag = "URI";
		} else if (g->type == GEN_DNS) {
			s = g->d.dNSName;
			tag = "DNS";
		} else if (g->type == GEN_IPADD) {
			const unsigned char *ip = g->d.iPAddress->data;

			tag = "IP";
			if (g->d.iPAddress->length == 4)
				snprintf(ipbuf, sizeof(ipbuf), "%u.%u.%u.%u",
				    ip[0], ip[1], ip[2], ip[3]);
			else
				snprintf(ipbuf, sizeof(ipbuf), "(ipv6)");
		}
		if (all != NULL && used < alln) {
			int k = snprintf(all + used, alln - used, "%s%s:%.*s",
			    used ? "," : "", tag,
			    s ? (int)ASN1_STRING_length(s) : (int)strlen(ipbuf),
			    s ? (const char *)ASN1_STRING_get0_data(s) : ipbuf);
			if (k > 0)
				used += (size_t)k;
		}
		if (g->type != GEN_URI)
			continue;
		if (ASN1_STRING_length(s) >= 8 && memcmp(ASN1_STRING_get0_data(s),
		    "cairn://", 8) == 0) {
			if (found++)
				return cairn_err(CAIRN_ERR_FORMAT, "more than "
				    "one cairn:// URI");
			r = keys_uri_parse((const char *)ASN1_STRING_get0_data(s),
			    (size_t)ASN1_STRING_length(s), role, name);
			if (r != CAIRN_OK)
				return r;
		}
	}
	return found ? CAIRN_OK : CAIRN_ERR_NOTFOUND;
}

static X509_REQ *
csr_parse(const char *pem, size_t len)
{
	BIO *b;
	X509_REQ *req;

	if (len > INT_MAX || (b = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return NULL;
	req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
	BIO_free(b);
	ERR_clear_error();
	return req;
}

static X509 *
cert_parse(const char *pem, size_t len)
{
	BIO *b;
	X509 *x;

	if (len > INT_MAX || (b = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return NULL;
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	ERR_clear_error();
	return x;
}

static int
csr_identity(X509_REQ *req, enum keys_role *role, char name[KEYS_NAME_MAX + 1],
    char *all, size_t alln)
{
	STACK_OF(X509_EXTENSION) *exts;
	GENERAL_NAMES *names = NULL;
	int r;

	if ((exts = X509_REQ_get_extensions(req)) == NULL)
		return cairn_err(CAIRN_ERR_FORMAT, "CSR has no extensions");
	names = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	if (names == NULL)
		return cairn_err(CAIRN_ERR_FORMAT, "CSR has no SAN");
	r = names_cairn_uri(names, role, name, all, alln);
	GENERAL_NAMES_free(names);
	if (r == CAIRN_ERR_NOTFOUND)
		r = cairn_err(CAIRN_ERR_FORMAT, "CSR SAN has no cairn:// URI");
	return r;
}

/* Build "URI:...,DNS:h,IP:a" checking every host's characters. */
static int
build_san(char *out, size_t n, enum keys_role role, const char *name,
    const char *hosts)
{
	size_t used;
	int k;

	k = snprintf(out, n, "URI:cairn://%s/%s", keys_role_name(role), name);
	if (k < 0 || (size_t)k >= n)
		return CAIRN_ERR_INTERNAL;
	used = (size_t)k;
	if (hosts == NULL || *hosts == '\0')
		return CAIRN_OK;
	if (strlen(hosts) > KEYS_HOSTS_MAX)
		return cairn_err(CAIRN_ERR_ARG, "--hosts longer than %d",
		    KEYS_HOSTS_MAX);
	for (const char *h = hosts; *h != '\0';) {
		size_t hl = strcspn(h, ",");
		bool ip = hl > 0;

		if (hl == 0 || hl > 253)
			return cairn_err(CAIRN_ERR_ARG, "empty or long host in "
			    "'%s'", hosts);
		for (size_t i = 0; i < hl; i++) {
			char c = h[i];

			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '.' || c == '-' ||
			    c == ':'))
				return cairn_err(CAIRN_ERR_ARG, "bad character "
				    "in host list '%s'", hosts);
			if (!((c >= '0' && c <= '9') || c == '.' || c == ':'))
				ip = false;
		}
		k = snprintf(out + used, n - used, ",%s:%.*s", ip ? "IP" : "DNS",
		    (int)hl, h);
		if (k < 0 || (size_t)k >= n - used)
			return cairn_err(CAIRN_ERR_ARG, "host list too long");
		used += (size_t)k;
		h += hl;
		if (*h == ',')
			h++;
	}
	return CAIRN_OK;
}

static int
load_pem_key(const char *path, EVP_PKEY **out)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	BIO *b;
	EVP_PKEY *k;
	int r;

	if ((r = keys_secret_read(path, &buf, &len)) != CAIRN_OK)
		return r;
	if ((b = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		keys_secret_free(buf, len);
		return ossl_fail("BIO_new_mem_buf");
	}
	k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	keys_secret_free(buf, len);
	ERR_clear_error();
	if (k == NULL)
		return cairn_err(CAIRN_ERR_FORMAT, "%s: not a PEM private key",
		    path);
	*out = k;
	return CAIRN_OK;
}

int
keys_cert_issue(const char *ca_dir, const char *csr_path, const char *out_path,
    int days, const char *hosts, struct keys_public *issued)
{
	char path[PATH_MAX], san[KEYS_HOSTS_MAX + 256], name[KEYS_NAME_MAX + 1];
	char *pem = NULL;
	size_t len;
	enum keys_role role = KEYS_ROLE_NODE;
	EVP_PKEY *cakey = NULL, *pub = NULL;
	X509 *ca = NULL, *x = NULL;
	X509_REQ *req = NULL;
	int r;

	if (days < 1 || days > KEYS_CA_DAYS)
		return cairn_err(CAIRN_ERR_ARG, "--days must be 1..%d",
		    KEYS_CA_DAYS);
	if ((r = keys_file_read(csr_path, &pem, &len)) != CAIRN_OK)
		return r;
	if ((req = csr_parse(pem, len)) == NULL) {
		r = cairn_err(CAIRN_ERR_FORMAT, "%s: not a PEM CSR", csr_path);
		goto out;
	}
	free(pem);
	pem = NULL;
	if ((pub = X509_REQ_get_pubkey(req)) == NULL ||
	    X509_REQ_verify(req, pub) != 1) {
		ERR_clear_error();
		r = cairn_err(CAIRN_ERR_SIGNATURE, "%s: CSR signature does not "
		    "verify", csr_path);
		goto out;
	}
	if ((r = csr_identity(req, &role, name, NULL, 0)) != CAIRN_OK) {
		r = err_prefix(r, csr_path);
		goto out;
	}
	if ((r = build_san(san, sizeof(san), role, name, hosts)) != CAIRN_OK)
		goto out;
	if ((r = path_join(path, sizeof(path), ca_dir, "ca.crt")) != CAIRN_OK ||
	    (r = keys_file_read(path, &pem, &len)) != CAIRN_OK)
		goto out;
	if ((ca = cert_parse(pem, len)) == NULL) {
		r = cairn_err(CAIRN_ERR_FORMAT, "%s: not a PEM certificate",
		    path);
		goto out;
	}
	if ((r = path_join(path, sizeof(path), ca_dir, "ca.key")) != CAIRN_OK ||
	    (r = load_pem_key(path, &cakey)) != CAIRN_OK)
		goto out;
	if ((x = X509_new()) == NULL || !X509_set_version(x, 2) ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -300) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) == NULL ||
	    !X509_set_pubkey(x, pub) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(ca))) {
		r = ossl_fail("certificate");
		goto out;
	}
	if ((r = random_serial(x)) != CAIRN_OK ||
	    (r = set_name(X509_get_subject_name(x), name,
	    keys_role_name(role))) != CAIRN_OK)
		goto out;
	if ((r = add_ext(x, ca, NID_basic_constraints,
	    "critical,CA:FALSE")) != CAIRN_OK ||
	    (r = add_ext(x, ca, NID_key_usage,
	    "critical,digitalSignature")) != CAIRN_OK ||
	    (r = add_ext(x, ca, NID_ext_key_usage,
	    role == KEYS_ROLE_COORDINATOR ? "serverAuth,clientAuth" :
	    "clientAuth")) != CAIRN_OK ||
	    (r = add_ext(x, ca, NID_subject_alt_name, san)) != CAIRN_OK ||
	    (r = add_ext(x, ca, NID_authority_key_identifier,
	    "keyid:always")) != CAIRN_OK)
		goto out;
	if (X509_check_private_key(ca, cakey) != 1) {
		ERR_clear_error();
		r = cairn_err(CAIRN_ERR_CONFIG, "%s: ca.key does not match "
		    "ca.crt", ca_dir);
		goto out;
	}
	if (X509_sign(x, cakey, EVP_sha256()) == 0) {
		r = ossl_fail("X509_sign");
		goto out;
	}
	if ((r = write_cert(x, out_path)) != CAIRN_OK)
		goto out;
	if (issued != NULL) {
		memset(issued, 0, sizeof(*issued));
		issued->role = role;
		snprintf(issued->name, sizeof(issued->name), "%s", name);
	}
	r = CAIRN_OK;
out:
	free(pem);
	X509_free(x);
	X509_free(ca);
	X509_REQ_free(req);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(cakey);
	return r;
}

static void
asn1_time_str(const ASN1_TIME *t, char *out, size_t n)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
		snprintf(out, n, "?");
		return;
	}
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
keys_cert_info(const char *pem, size_t len, struct keys_cert_info *out)
{
	struct keys_cert_info ci;
	GENERAL_NAMES *names;
	unsigned char *der = NULL;
	X509 *x;
	int dl, r = CAIRN_OK;

	memset(&ci, 0, sizeof(ci));
	if ((x = cert_parse(pem, len)) == NULL)
		return cairn_err(CAIRN_ERR_FORMAT, "not a PEM certificate");
	if ((dl = i2d_X509(x, &der)) <= 0) {
		X509_free(x);
		return ossl_fail("i2d_X509");
	}
	keys_fingerprint(der, (size_t)dl, ci.fingerprint);
	OPENSSL_free(der);
	X509_NAME_oneline(X509_get_subject_name(x), ci.subject,
	    sizeof(ci.subject));
	X509_NAME_oneline(X509_get_issuer_name(x), ci.issuer,
	    sizeof(ci.issuer));
	asn1_time_str(X509_get0_notBefore(x), ci.not_before,
	    sizeof(ci.not_before));
	asn1_time_str(X509_get0_notAfter(x), ci.not_after,
	    sizeof(ci.not_after));
	ci.is_ca = X509_check_ca(x) != 0;
	names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	if (names != NULL) {
		r = names_cairn_uri(names, &ci.role, ci.name, ci.sans,
		    sizeof(ci.sans));
		GENERAL_NAMES_free(names);
		if (r == CAIRN_ERR_NOTFOUND)
			r = CAIRN_OK;
	}
	X509_free(x);
	ERR_clear_error();
	if (r == CAIRN_OK)
		*out = ci;
	return r;
}

int
keys_csr_info(const char *pem, size_t len, struct keys_cert_info *out)
{
	struct keys_cert_info ci;
	unsigned char *der = NULL;
	X509_REQ *req;
	int dl, r;

	memset(&ci, 0, sizeof(ci));
	if ((req = csr_parse(pem, len)) == NULL)
		return cairn_err(CAIRN_ERR_FORMAT, "not a PEM CSR");
	if ((dl = i2d_X509_REQ(req, &der)) <= 0) {
		X509_REQ_free(req);
		return ossl_fail("i2d_X509_REQ");
	}
	keys_fingerprint(der, (size_t)dl, ci.fingerprint);
	OPENSSL_free(der);
	X509_NAME_oneline(X509_REQ_get_subject_name(req), ci.subject,
	    sizeof(ci.subject));
	r = csr_identity(req, &ci.role, ci.name, ci.sans, sizeof(ci.sans));
	X509_REQ_free(req);
	ERR_clear_error();
	if (r == CAIRN_OK)
		*out = ci;
	return r;
}

int
keys_cert_verify(const char *ca_pem, const char *cert_pem)
{
	X509 *ca = NULL, *x = NULL;
	X509_STORE *st = NULL;
	X509_STORE_CTX *ctx = NULL;
	int r;

	if ((ca = cert_parse(ca_pem, strlen(ca_pem))) == NULL)
		return cairn_err(CAIRN_ERR_FORMAT, "CA is not a PEM "
		    "certificate");
	if ((x = cert_parse(cert_pem, strlen(cert_pem))) == NULL) {
		r = cairn_err(CAIRN_ERR_FORMAT, "not a PEM certificate");
		goto out;
	}
	if ((st = X509_STORE_new()) == NULL || !X509_STORE_add_cert(st, ca) ||
	    (ctx = X509_STORE_CTX_new()) == NULL ||
	    !X509_STORE_CTX_init(ctx, st, x, NULL)) {
		r = ossl_fail("X509_STORE");
		goto out;
	}
	if (X509_verify_cert(ctx) != 1) {
		r = cairn_err(CAIRN_ERR_SIGNATURE, "certificate does not chain "
		    "to the federation CA: %s", X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(ctx)));
		goto out;
	}
	r = CAIRN_OK;
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	X509_free(x);
	X509_free(ca);
	return r;
}

int
keys_tls_key_fingerprint(const char *path, char fpr[static KEYS_FPR_LEN])
{
	EVP_PKEY *k = NULL;
	unsigned char *der = NULL;
	int dl, r;

	if ((r = load_pem_key(path, &k)) != CAIRN_OK)
		return r;
	dl = i2d_PUBKEY(k, &der);
	EVP_PKEY_free(k);
	if (dl <= 0)
		return ossl_fail("i2d_PUBKEY");
	keys_fingerprint(der, (size_t)dl, fpr);
	OPENSSL_free(der);
	return CAIRN_OK;
}

/*
 * Read the secret key 'key_path' into t->key and check that it is the
 * private key of t->cert (read from 'cert_path'): a mismatch would
 * otherwise fail later, obscurely, in the TLS handshake.
 */
static int
load_matching_key(struct keys_tls *t, const char *cert_path,
    const char *key_path)
{
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	uint8_t *kb = NULL;
	BIO *b = NULL;
	int r;

	if ((r = keys_secret_read(key_path, &kb, &t->keylen)) != CAIRN_OK)
		return r;
	t->key = (char *)kb;
	r = CAIRN_OK;
	if ((b = BIO_new_mem_buf(t->key, (int)t->keylen)) == NULL ||
	    (k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)) == NULL ||
	    (x = cert_parse(t->cert, strlen(t->cert))) == NULL ||
	    X509_check_private_key(x, k) != 1) {
		ERR_clear_error();
		r = cairn_err(CAIRN_ERR_CONFIG, "%s: not the private key of %s",
		    key_path, cert_path);
	}
	BIO_free(b);
	EVP_PKEY_free(k);
	X509_free(x);
	return r;
}

int
keys_tls_load(const char *ca_path, const char *cert_path, const char *key_path,
    struct keys_tls **out)
{
	struct keys_tls *t;
	struct keys_cert_info ci;
	size_t len;
	int r;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return CAIRN_ERR_NOMEM;
	if ((r = keys_file_read(ca_path, &t->ca, &len)) != CAIRN_OK ||
	    (r = keys_file_read(cert_path, &t->cert, &len)) != CAIRN_OK)
		goto out;
	if ((r = keys_cert_info(t->cert, len, &ci)) != CAIRN_OK) {
		r = err_prefix(r, cert_path);
		goto out;
	}
	if (ci.name[0] == '\0') {
		r = cairn_err(CAIRN_ERR_FORMAT, "%s: no cairn:// URI in the "
		    "certificate", cert_path);
		goto out;
	}
	if ((r = keys_cert_verify(t->ca, t->cert)) != CAIRN_OK) {
		r = err_prefix(r, cert_path);
		goto out;
	}
	if ((r = load_matching_key(t, cert_path, key_path)) != CAIRN_OK)
		goto out;
	t->role = ci.role;
	memcpy(t->name, ci.name, sizeof(t->name));
	*out = t;
	t = NULL;
	r = CAIRN_OK;
out:
	keys_tls_free(t);
	return r;
}

int
keys_tls_load_web(const char *cert_path, const char *key_path,
    struct keys_tls **out)
{
	struct keys_tls *t;
	X509 *x = NULL;
	size_t len;
	int r;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return CAIRN_ERR_NOMEM;
	if ((r = keys_file_read(cert_path, &t->cert, &len)) != CAIRN_OK)
		goto out;
	if ((x = cert_parse(t->cert, strlen(t->cert))) == NULL) {
		ERR_clear_error();
		r = cairn_err(CAIRN_ERR_FORMAT, "%s: not a PEM certificate",
		    cert_path);
		goto out;
	}
	if ((r = load_matching_key(t, cert_path, key_path)) != CAIRN_OK)
		goto out;
	*out = t;
	t = NULL;
	r = CAIRN_OK;
out:
	X509_free(x);
	keys_tls_free(t);
	return r;
}

int
keys_tls_load_dir(const char *dir, struct keys_tls **out)
{
	char ca[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];
	int r;

	if ((r = path_join(ca, sizeof(ca), dir, "ca.crt")) != CAIRN_OK ||
	    (r = path_join(cert, sizeof(cert), dir, "tls.crt")) != CAIRN_OK ||
	    (r = path_join(key, sizeof(key), dir, "tls.key")) != CAIRN_OK)
		return r;
	return keys_tls_load(ca, cert, key, out);
}

void
keys_tls_free(struct keys_tls *t)
{
	if (t == NULL)
		return;
	free(t->ca);
	free(t->cert);
	keys_secret_free((uint8_t *)t->key, t->keylen);
	free(t);
}

const char *
keys_tls_ca_pem(const struct keys_tls *t)
{
	return t->ca;
}

const char *
keys_tls_cert_pem(const struct keys_tls *t)
{
	return t->cert;
}

const char *
keys_tls_key_pem(const struct keys_tls *t)
{
	return t->key;
}

enum keys_role
keys_tls_role(const struct keys_tls *t)
{
	return t->role;
}

const char *
keys_tls_name(const struct keys_tls *t)
{
	return t->name;
}
