/*
 * test_keys.c - identities, key-file refusals, signatures (forged,
 * truncated, wrong purpose, wrong key), certificates and federation.conf.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <sodium.h>

#include "common/err.h"
#include "keys/keys.h"
#include "keys/keys_federation.h"
#include "keys/keys_tls.h"

static char dir[64];

static const char *
path(const char *name)
{
	static char p[4][128];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	return p[i];
}

static void
write_file(const char *name, const char *text, mode_t mode)
{
	FILE *f;

	unlink(path(name));
	f = fopen(path(name), "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path(name), mode), 0);
}

static int
setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/cairn-test-keys-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_names_roles_uris(void **state)
{
	enum keys_role r;
	char name[KEYS_NAME_MAX + 1];
	char longname[KEYS_NAME_MAX + 2];

	(void)state;
	assert_int_equal(keys_role_parse("auditor", &r), CAIRN_OK);
	assert_int_equal(r, KEYS_ROLE_AUDITOR);
	assert_int_equal(keys_role_parse("admin", &r), CAIRN_ERR_ARG);
	assert_non_null(strstr(cairn_errmsg(), "admin"));
	assert_true(keys_name_is_valid("op-1.fr_2"));
	assert_false(keys_name_is_valid(""));
	assert_false(keys_name_is_valid("-x"));
	assert_false(keys_name_is_valid("Alpha"));
	assert_false(keys_name_is_valid("a/b"));
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_false(keys_name_is_valid(longname));
	longname[KEYS_NAME_MAX] = '\0';
	assert_true(keys_name_is_valid(longname));

	assert_int_equal(keys_uri_parse("cairn://node/alpha", 18, &r, name),
	    CAIRN_OK);
	assert_int_equal(r, KEYS_ROLE_NODE);
	assert_string_equal(name, "alpha");
	/* length is honoured: no NUL needed, trailing bytes ignored */
	assert_int_equal(keys_uri_parse("cairn://analyst/stxyz", 18, &r, name),
	    CAIRN_OK);
	assert_string_equal(name, "st");
	assert_int_equal(keys_uri_parse("cairn://node/", 13, &r, name),
	    CAIRN_ERR_FORMAT);
	assert_int_equal(keys_uri_parse("cairn://nodes/a", 15, &r, name),
	    CAIRN_ERR_FORMAT);
	assert_int_equal(keys_uri_parse("cairn://node", 12, &r, name),
	    CAIRN_ERR_FORMAT);
	assert_int_equal(keys_uri_parse("spiffe://node/a", 15, &r, name),
	    CAIRN_ERR_FORMAT);
	assert_int_equal(keys_uri_parse("cairn://node/a/b", 16, &r, name),
	    CAIRN_ERR_FORMAT);
}

static void
test_signatures(void **state)
{
	struct keys_identity *a = NULL, *b = NULL;
	uint8_t pka[KEYS_PK_LEN], pkb[KEYS_PK_LEN], sig[KEYS_SIG_LEN];
	uint8_t bad[KEYS_SIG_LEN], note[KEYS_SIG_LEN];
	const uint8_t msg[] = "\x08\x01\x12\x05query bytes";
	size_t len = sizeof(msg) - 1;
	uint8_t full[64];

	(void)state;
	assert_int_equal(keys_identity_generate(KEYS_ROLE_ANALYST, "stats", &a),
	    CAIRN_OK);
	assert_int_equal(keys_identity_generate(KEYS_ROLE_ANALYST, "other", &b),
	    CAIRN_OK);
	keys_identity_public(a, pka);
	keys_identity_public(b, pkb);
	assert_int_equal(keys_sign(a, "query", msg, len, sig), CAIRN_OK);
	assert_int_equal(keys_verify(pka, "query", msg, len, sig), CAIRN_OK);

	/* exactly Ed25519 over "cairn/v1/query\n" || msg */
	memcpy(full, "cairn/v1/query\n", 15);
	memcpy(full + 15, msg, len);
	assert_int_equal(crypto_sign_verify_detached(sig, full, 15 + len, pka),
	    0);

	/* forged: every single-bit flip of the signature fails */
	for (size_t i = 0; i < KEYS_SIG_LEN; i += 7) {
		memcpy(bad, sig, sizeof(bad));
		bad[i] ^= 0x10;
		assert_int_equal(keys_verify(pka, "query", msg, len, bad),
		    CAIRN_ERR_SIGNATURE);
	}
	/* truncated or extended message */
	assert_int_equal(keys_verify(pka, "query", msg, len - 1, sig),
	    CAIRN_ERR_SIGNATURE);
	assert_int_equal(keys_verify(pka, "query", msg, len + 1, sig),
	    CAIRN_ERR_SIGNATURE);
	/* a truncated signature (zero-filled tail) */
	memcpy(bad, sig, 32);
	memset(bad + 32, 0, 32);
	assert_int_equal(keys_verify(pka, "query", msg, len, bad),
	    CAIRN_ERR_SIGNATURE);
	/* wrong purpose, wrong key */
	assert_int_equal(keys_verify(pka, "charge", msg, len, sig),
	    CAIRN_ERR_SIGNATURE);
	assert_int_equal(keys_verify(pkb, "query", msg, len, sig),
	    CAIRN_ERR_SIGNATURE);
	/* invalid purposes: refused to sign, never verify */
	assert_int_equal(keys_sign(a, "Query", msg, len, bad), CAIRN_ERR_ARG);
	assert_int_equal(keys_sign(a, "", msg, len, bad), CAIRN_ERR_ARG);
	assert_int_equal(keys_sign(a, "a\nb", msg, len, bad), CAIRN_ERR_ARG);
	assert_int_equal(keys_verify(pka, "query\n", msg, len, sig),
	    CAIRN_ERR_SIGNATURE);
	/* empty message is fine */
	assert_int_equal(keys_sign(a, "x", NULL, 0, bad), CAIRN_OK);
	assert_int_equal(keys_verify(pka, "x", NULL, 0, bad), CAIRN_OK);

	/* note signatures: raw Ed25519, distinct from prefixed ones */
	assert_int_equal(keys_sign_note(a, msg, len, note), CAIRN_OK);
	assert_int_equal(keys_verify_note(pka, msg, len, note), CAIRN_OK);
	assert_int_equal(crypto_sign_verify_detached(note, msg, len, pka), 0);
	assert_int_equal(keys_verify_note(pka, msg, len, sig),
	    CAIRN_ERR_SIGNATURE);
	assert_int_equal(keys_verify(pka, "query", msg, len, note),
	    CAIRN_ERR_SIGNATURE);
	assert_int_equal(keys_verify_note(pkb, msg, len, note),
	    CAIRN_ERR_SIGNATURE);
	note[0] ^= 1;
	assert_int_equal(keys_verify_note(pka, msg, len, note),
	    CAIRN_ERR_SIGNATURE);

	assert_int_equal(keys_identity_generate(KEYS_ROLE_NODE, "Bad", &b),
	    CAIRN_ERR_ARG);
	keys_identity_free(a);
	keys_identity_free(b);
	keys_identity_free(NULL);
}

static void
test_identity_files(void **state)
{
	struct keys_identity *a = NULL, *l = NULL;
	struct keys_public pub;
	uint8_t pk[KEYS_PK_LEN], pk2[KEYS_PK_LEN], sig[KEYS_SIG_LEN];
	struct stat st;
	mode_t old;

	(void)state;
	assert_int_equal(keys_identity_generate(KEYS_ROLE_NODE, "alpha", &a),
	    CAIRN_OK);
	old = umask(0);	/* the file is 0600 whatever the umask */
	assert_int_equal(keys_identity_save(a, path("id.key")), CAIRN_OK);
	umask(old);
	assert_int_equal(stat(path("id.key"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(keys_identity_save(a, path("id.key")),
	    CAIRN_ERR_EXISTS);
	assert_int_equal(keys_identity_save_public(a, path("id.pub")),
	    CAIRN_OK);

	assert_int_equal(keys_identity_load(path("id.key"), &l), CAIRN_OK);
	assert_int_equal(keys_identity_role(l), KEYS_ROLE_NODE);
	assert_string_equal(keys_identity_name(l), "alpha");
	keys_identity_public(a, pk);
	keys_identity_public(l, pk2);
	assert_memory_equal(pk, pk2, KEYS_PK_LEN);
	assert_int_equal(keys_sign(l, "charge", pk, 32, sig), CAIRN_OK);
	assert_int_equal(keys_verify(pk, "charge", pk, 32, sig), CAIRN_OK);
	keys_identity_free(l);
	l = NULL;

	assert_int_equal(keys_public_load(path("id.pub"), &pub), CAIRN_OK);
	assert_memory_equal(pub.pk, pk, KEYS_PK_LEN);
	assert_string_equal(pub.name, "alpha");
	/* the secret file is not a public file */
	assert_int_equal(keys_public_load(path("id.key"), &pub),
	    CAIRN_ERR_FORMAT);
	keys_identity_free(a);
}

static void
test_key_file_refusals(void **state)
{
	struct keys_identity *a = NULL, *l = NULL;

	(void)state;
	assert_int_equal(keys_identity_generate(KEYS_ROLE_NODE, "beta", &a),
	    CAIRN_OK);
	assert_int_equal(keys_identity_save(a, path("b.key")), CAIRN_OK);
	keys_identity_free(a);

	assert_int_equal(chmod(path("b.key"), 0644), 0);
	assert_int_equal(keys_identity_load(path("b.key"), &l), CAIRN_ERR_PERM);
	assert_non_null(strstr(cairn_errmsg(), "mode 0644"));
	assert_int_equal(chmod(path("b.key"), 0640), 0);
	assert_int_equal(keys_identity_load(path("b.key"), &l), CAIRN_ERR_PERM);
	assert_int_equal(chmod(path("b.key"), 0602), 0);
	assert_int_equal(keys_identity_load(path("b.key"), &l), CAIRN_ERR_PERM);
	/* Every group and other bit alone: g+r g+w g+x o+r o+w o+x. */
	for (unsigned bit = 01; bit <= 040; bit <<= 1) {
		assert_int_equal(chmod(path("b.key"), 0600 | bit), 0);
		assert_int_equal(keys_identity_load(path("b.key"), &l),
		    CAIRN_ERR_PERM);
		assert_null(l);
	}
	assert_int_equal(chmod(path("b.key"), 0400), 0);
	assert_int_equal(keys_identity_load(path("b.key"), &l), CAIRN_OK);
	keys_identity_free(l);
	l = NULL;

	/* a symlink to a good key is refused */
	assert_int_equal(symlink(path("b.key"), path("link.key")), 0);
	assert_int_equal(keys_identity_load(path("link.key"), &l),
	    CAIRN_ERR_PERM);
	assert_non_null(strstr(cairn_errmsg(), "symbolic link"));

	/* a directory */
	assert_int_equal(mkdir(path("d.key"), 0700), 0);
	assert_int_equal(keys_identity_load(path("d.key"), &l), CAIRN_ERR_PERM);

	/* another owner */
	if (geteuid() == 0) {
		assert_int_equal(chown(path("b.key"), 65534, 65534), 0);
		assert_int_equal(keys_identity_load(path("b.key"), &l),
		    CAIRN_ERR_PERM);
	} else {
		assert_int_equal(keys_identity_load("/etc/passwd", &l),
		    CAIRN_ERR_PERM);
	}
	assert_non_null(strstr(cairn_errmsg(), "owned by uid"));
	assert_int_equal(keys_identity_load(path("missing.key"), &l),
	    CAIRN_ERR_NOTFOUND);
	assert_null(l);
}

static void
test_malformed_identity_files(void **state)
{
	static const struct {
		const char	*text;
		const char	*why;
	} cases[] = {
		{ "", "empty" },
		{ "cairn-public v1\nrole node\n", ":1:" },
		{ "cairn-identity v1\nrole node\nname a\n", "missing 'seed'" },
		{ "cairn-identity v1\nrole boss\nname a\nseed x\n", ":2:" },
		{ "cairn-identity v1\nrole node\nname A\n", ":3:" },
		{ "cairn-identity v1\nrole node\nname a\nseed AAAA\n", ":4:" },
		{ "cairn-identity v1\nrole node\nrole node\n", ":3:" },
		{ "cairn-identity v1\nrolenode\n", ":2:" },
		{ "cairn-identity v1\nrole node\nname a\nseed "
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nextra 1\n",
		    ":5:" },
	};
	struct keys_identity *l = NULL;
	char *big;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_file("m.key", cases[i].text, 0600);
		assert_int_equal(keys_identity_load(path("m.key"), &l),
		    CAIRN_ERR_FORMAT);
		assert_non_null(strstr(cairn_errmsg(), cases[i].why));
		assert_null(l);
	}
	/* a good seed of all zeroes loads (format, not entropy, is checked) */
	write_file("m.key", "# c\ncairn-identity v1\r\nrole node\nname a\nseed "
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", 0600);
	assert_int_equal(keys_identity_load(path("m.key"), &l), CAIRN_OK);
	keys_identity_free(l);
	l = NULL;
	big = malloc(KEYS_FILE_MAX + 2);
	assert_non_null(big);
	memset(big, '#', KEYS_FILE_MAX + 1);
	big[KEYS_FILE_MAX + 1] = '\0';
	write_file("big.key", big, 0600);
	free(big);
	assert_int_equal(keys_identity_load(path("big.key"), &l),
	    CAIRN_ERR_TOOBIG);
}

static void
test_certificates(void **state)
{
	struct keys_cert_info ci;
	struct keys_public who;
	struct keys_tls *t = NULL;
	char rogue[128], *ca = NULL, *crt = NULL, *other = NULL, *csr = NULL;
	char fpr[KEYS_FPR_LEN];
	size_t len;

	(void)state;
	assert_int_equal(keys_ca_create("fed", dir), CAIRN_OK);
	assert_int_equal(keys_ca_create("fed", dir), CAIRN_ERR_EXISTS);
	assert_int_equal(keys_tls_new(KEYS_ROLE_NODE, "alpha", path("tls.key"),
	    path("tls.csr")), CAIRN_OK);
	assert_int_equal(keys_cert_issue(dir, path("tls.csr"), path("tls.crt"),
	    30, NULL, &who), CAIRN_OK);
	assert_int_equal(who.role, KEYS_ROLE_NODE);
	assert_string_equal(who.name, "alpha");
	assert_int_equal(keys_file_read(path("tls.crt"), &crt, &len), CAIRN_OK);
	assert_int_equal(keys_cert_info(crt, len, &ci), CAIRN_OK);
	assert_int_equal(ci.role, KEYS_ROLE_NODE);
	assert_string_equal(ci.name, "alpha");
	assert_false(ci.is_ca);
	assert_string_equal(ci.sans, "URI:cairn://node/alpha");
	assert_int_equal(keys_file_read(path("ca.crt"), &ca, &len), CAIRN_OK);
	assert_int_equal(keys_cert_info(ca, len, &ci), CAIRN_OK);
	assert_true(ci.is_ca);
	assert_int_equal(keys_cert_verify(ca, crt), CAIRN_OK);
	assert_int_equal(keys_tls_key_fingerprint(path("tls.key"), fpr),
	    CAIRN_OK);
	assert_int_equal(strlen(fpr), 64);

	/* a coordinator certificate carries its hosts */
	assert_int_equal(keys_tls_new(KEYS_ROLE_COORDINATOR, "hub",
	    path("hub.key"), path("hub.csr")), CAIRN_OK);
	assert_int_equal(keys_cert_issue(dir, path("hub.csr"), path("hub.crt"),
	    30, "localhost,10.0.0.1", NULL), CAIRN_OK);
	assert_int_equal(keys_file_read(path("hub.crt"), &other, &len),
	    CAIRN_OK);
	assert_int_equal(keys_cert_info(other, len, &ci), CAIRN_OK);
	assert_string_equal(ci.sans,
	    "URI:cairn://coordinator/hub,DNS:localhost,IP:10.0.0.1");
	free(other);
	other = NULL;
	assert_int_equal(keys_cert_issue(dir, path("hub.csr"), path("x.crt"),
	    30, "bad host", NULL), CAIRN_ERR_ARG);
	assert_int_equal(keys_cert_issue(dir, path("hub.csr"), path("x.crt"),
	    0, NULL, NULL), CAIRN_ERR_ARG);

	/* a tampered CSR is refused */
	assert_int_equal(keys_file_read(path("tls.csr"), &csr, &len), CAIRN_OK);
	csr[len / 2] = csr[len / 2] == 'A' ? 'B' : 'A';
	write_file("bad.csr", csr, 0644);
	assert_int_not_equal(keys_cert_issue(dir, path("bad.csr"),
	    path("bad.crt"), 30, NULL, NULL), CAIRN_OK);
	write_file("junk.csr", "hello\n", 0644);
	assert_int_equal(keys_cert_issue(dir, path("junk.csr"), path("j.crt"),
	    30, NULL, NULL), CAIRN_ERR_FORMAT);

	/* another CA's certificate does not verify against ours */
	snprintf(rogue, sizeof(rogue), "%s/rogue", dir);
	assert_int_equal(mkdir(rogue, 0700), 0);
	assert_int_equal(keys_ca_create("evil", rogue), CAIRN_OK);
	assert_int_equal(keys_cert_issue(rogue, path("tls.csr"),
	    path("rogue.crt"), 30, NULL, NULL), CAIRN_OK);
	assert_int_equal(keys_file_read(path("rogue.crt"), &other, &len),
	    CAIRN_OK);
	assert_int_equal(keys_cert_verify(ca, other), CAIRN_ERR_SIGNATURE);

	/* TLS material: good, wrong CA, wrong key */
	assert_int_equal(keys_tls_load(path("ca.crt"), path("tls.crt"),
	    path("tls.key"), &t), CAIRN_OK);
	assert_int_equal(keys_tls_role(t), KEYS_ROLE_NODE);
	assert_string_equal(keys_tls_name(t), "alpha");
	assert_non_null(strstr(keys_tls_key_pem(t), "PRIVATE KEY"));
	keys_tls_free(t);
	t = NULL;
	assert_int_equal(keys_tls_load(path("ca.crt"), path("rogue.crt"),
	    path("tls.key"), &t), CAIRN_ERR_SIGNATURE);
	assert_int_equal(keys_tls_load(path("ca.crt"), path("tls.crt"),
	    path("hub.key"), &t), CAIRN_ERR_CONFIG);
	for (unsigned bit = 01; bit <= 040; bit <<= 1) {
		assert_int_equal(chmod(path("tls.key"), 0600 | bit), 0);
		assert_int_equal(keys_tls_load(path("ca.crt"),
		    path("tls.crt"), path("tls.key"), &t), CAIRN_ERR_PERM);
		assert_null(t);
	}
	assert_int_equal(chmod(path("tls.key"), 0644), 0);
	assert_int_equal(keys_tls_load(path("ca.crt"), path("tls.crt"),
	    path("tls.key"), &t), CAIRN_ERR_PERM);
	assert_null(t);
	assert_int_equal(symlink(path("tls.key"), path("tls-link.key")), 0);
	assert_int_equal(chmod(path("tls.key"), 0600), 0);
	assert_int_not_equal(keys_tls_load(path("ca.crt"), path("tls.crt"),
	    path("tls-link.key"), &t), CAIRN_OK);
	assert_null(t);
	free(ca);
	free(crt);
	free(other);
	free(csr);
}

static void
test_federation_conf(void **state)
{
	struct keys_federation *fed = NULL;
	struct keys_member m;
	const struct keys_member *f;
	char fpr[KEYS_FPR_LEN];

	(void)state;
	keys_fingerprint((const uint8_t *)"ca", 2, fpr);
	assert_int_equal(keys_federation_create(path("federation.conf"), "fed",
	    fpr), CAIRN_OK);
	memset(&m, 0, sizeof(m));
	m.pub.role = KEYS_ROLE_NODE;
	strcpy(m.pub.name, "alpha");
	memset(m.pub.pk, 7, KEYS_PK_LEN);
	keys_fingerprint((const uint8_t *)"cert", 4, m.cert_fpr);
	assert_int_equal(keys_federation_add(path("federation.conf"), &m),
	    CAIRN_OK);
	assert_int_equal(keys_federation_add(path("federation.conf"), &m),
	    CAIRN_ERR_EXISTS);
	strcpy(m.pub.name, "beta");	/* same key, other name */
	assert_int_equal(keys_federation_add(path("federation.conf"), &m),
	    CAIRN_ERR_EXISTS);
	m.pub.pk[0] = 8;
	assert_int_equal(keys_federation_add(path("federation.conf"), &m),
	    CAIRN_OK);
	assert_int_equal(keys_federation_load(path("federation.conf"), &fed),
	    CAIRN_OK);
	assert_string_equal(fed->name, "fed");
	assert_string_equal(fed->ca_fpr, fpr);
	assert_int_equal(fed->n, 2);
	f = keys_federation_find(fed, KEYS_ROLE_NODE, "beta");
	assert_non_null(f);
	assert_int_equal(f->pub.pk[0], 8);
	assert_null(keys_federation_find(fed, KEYS_ROLE_ANALYST, "beta"));
	keys_federation_free(fed);
	fed = NULL;

	write_file("bad.conf", "[federation]\nname = fed\nca_fingerprint = "
	    "00\n", 0644);
	assert_int_equal(keys_federation_load(path("bad.conf"), &fed),
	    CAIRN_ERR_CONFIG);
	assert_non_null(strstr(cairn_errmsg(), "ca_fingerprint"));
	{
		char text[512];

		snprintf(text, sizeof(text), "[federation]\nname = fed\n"
		    "ca_fingerprint = %s\n[members]\nmember = node alpha "
		    "notbase64 %s\n", fpr, fpr);
		write_file("bad.conf", text, 0644);
		assert_int_equal(keys_federation_load(path("bad.conf"), &fed),
		    CAIRN_ERR_CONFIG);
		assert_non_null(strstr(cairn_errmsg(), "identity key"));
		snprintf(text, sizeof(text), "[federation]\nname = fed\n"
		    "ca_fingerprint = %s\n[members]\nmember = node alpha\n",
		    fpr);
		write_file("bad.conf", text, 0644);
		assert_int_equal(keys_federation_load(path("bad.conf"), &fed),
		    CAIRN_ERR_CONFIG);
		write_file("bad.conf", "[federation]\nname = fed\n", 0644);
		assert_int_equal(keys_federation_load(path("bad.conf"), &fed),
		    CAIRN_ERR_CONFIG);
	}
	assert_null(fed);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_roles_uris),
		cmocka_unit_test(test_signatures),
		cmocka_unit_test_setup_teardown(test_identity_files, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_key_file_refusals, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_malformed_identity_files,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_certificates, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_federation_conf, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
