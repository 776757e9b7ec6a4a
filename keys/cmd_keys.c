/*
 * cmd_keys.c - `cairn keys`: make the federation CA, members' keys and
 * certificates, enrol members, and show what a key file holds.
 *
 * One small function per subcommand, dispatched from a table.  Private key
 * material is never printed: `show` prints "(hidden)" in its place.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "common/cli.h"
#include "common/config.h"
#include "common/err.h"
#include "keys/keys.h"
#include "keys/keys_federation.h"
#include "keys/keys_tls.h"

/* Re-raise 'code' with 'prefix' before the current detail (copied first:
 * the detail buffer is the one cairn_err() writes). */
static int
err_prefix(int code, const char *prefix)
{
	char d[512];

	snprintf(d, sizeof(d), "%s", cairn_errmsg());
	return cairn_err(code, "%s: %s", prefix, d);
}

struct opt {
	const char	*name;		/* "--dir" */
	const char	**val;
};

/*
 * Take "--name VALUE" pairs into the 'n' options; the first argument that
 * is not an option is stored in *pos (when pos is not NULL).  Returns false
 * after printing the reason.
 */
static bool
parse_opts(const char *prog, int argc, char **argv, const struct opt *o,
    size_t n, const char **pos)
{
	for (int i = 1; i < argc; i++) {
		size_t j;

		if (pos != NULL && argv[i][0] != '-' && *pos == NULL) {
			*pos = argv[i];
			continue;
		}
		for (j = 0; j < n; j++)
			if (strcmp(argv[i], o[j].name) == 0)
				break;
		if (j == n) {
			fprintf(stderr, "%s: error: unknown argument '%s' "
			    "(see --help)\n", prog, argv[i]);
			return false;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "%s: error: %s needs a value\n", prog,
			    argv[i]);
			return false;
		}
		*o[j].val = argv[++i];
	}
	return true;
}

static bool
wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (cli_is_help(argv[i]))
			return true;
	return false;
}

static int
need(const char *prog, const char *what, const char *val)
{
	if (val != NULL)
		return 0;
	fprintf(stderr, "%s: error: %s is required (see --help)\n", prog, what);
	return 1;
}

static int
make_dir(const char *dir, mode_t mode)
{
	if (mkdir(dir, mode) != 0 && errno != EEXIST)
		return cairn_err(CAIRN_ERR_IO, "mkdir %s: %s", dir,
		    strerror(errno));
	return CAIRN_OK;
}

static int
join(char *out, const char *dir, const char *file)
{
	int k = snprintf(out, PATH_MAX, "%s/%s", dir, file);

	if (k < 0 || k >= PATH_MAX)
		return cairn_err(CAIRN_ERR_ARG, "path too long: %s/%s", dir,
		    file);
	return CAIRN_OK;
}

/* identity.key, identity.pub, tls.key, tls.csr in 'dir'. */
static int
new_member(enum keys_role role, const char *name, const char *dir)
{
	struct keys_identity *id = NULL;
	char p[PATH_MAX], q[PATH_MAX];
	int r;

	if (!keys_name_is_valid(name))
		return cairn_err(CAIRN_ERR_ARG, "invalid name '%s' (1-%d of "
		    "a-z 0-9 . _ -, starting with a letter or digit)", name,
		    KEYS_NAME_MAX);
	if ((r = make_dir(dir, 0700)) != CAIRN_OK)
		return r;
	if ((r = keys_identity_generate(role, name, &id)) != CAIRN_OK)
		return r;
	if ((r = join(p, dir, "identity.key")) != CAIRN_OK ||
	    (r = keys_identity_save(id, p)) != CAIRN_OK ||
	    (r = join(p, dir, "identity.pub")) != CAIRN_OK ||
	    (r = keys_identity_save_public(id, p)) != CAIRN_OK)
		goto out;
	if ((r = join(p, dir, "tls.key")) != CAIRN_OK ||
	    (r = join(q, dir, "tls.csr")) != CAIRN_OK)
		goto out;
	r = keys_tls_new(role, name, p, q);
out:
	keys_identity_free(id);
	return r;
}

static int
copy_file(const char *from, const char *to)
{
	char *buf;
	size_t len;
	int r;

	if ((r = keys_file_read(from, &buf, &len)) != CAIRN_OK)
		return r;
	r = keys_file_write(to, buf, len, false);
	free(buf);
	return r;
}

/* Enrol the member whose public identity and certificate are given. */
/*
 * The member whose identity.pub is 'pub_path' and certificate
 * 'cert_path', checked: the certificate chains to 'ca_path' and names the
 * same role and name.
 */
static int
load_member(const char *ca_path, const char *pub_path, const char *cert_path,
    struct keys_member *out)
{
	struct keys_member m;
	struct keys_cert_info ci;
	char *ca = NULL, *cert = NULL;
	size_t len;
	int r;

	memset(&m, 0, sizeof(m));
	if ((r = keys_public_load(pub_path, &m.pub)) != CAIRN_OK)
		return r;
	if ((r = keys_file_read(ca_path, &ca, &len)) != CAIRN_OK ||
	    (r = keys_file_read(cert_path, &cert, &len)) != CAIRN_OK)
		goto out;
	if ((r = keys_cert_info(cert, len, &ci)) != CAIRN_OK ||
	    (r = keys_cert_verify(ca, cert)) != CAIRN_OK) {
		r = err_prefix(r, cert_path);
		goto out;
	}
	if (ci.role != m.pub.role || strcmp(ci.name, m.pub.name) != 0) {
		r = cairn_err(CAIRN_ERR_ARG, "%s is for %s/%s but %s is for "
		    "%s/%s", cert_path, keys_role_name(ci.role), ci.name,
		    pub_path, keys_role_name(m.pub.role), m.pub.name);
		goto out;
	}
	memcpy(m.cert_fpr, ci.fingerprint, KEYS_FPR_LEN);
	*out = m;
out:
	free(ca);
	free(cert);
	return r;
}

static int
add_member(const char *fedconf, const char *ca_path, const char *pub_path,
    const char *cert_path, struct keys_member *added)
{
	int r;

	if ((r = load_member(ca_path, pub_path, cert_path, added)) !=
	    CAIRN_OK)
		return r;
	return keys_federation_add(fedconf, added);
}

static int
cmd_init_federation(int argc, char **argv)
{
	const char *prog = "cairn keys init-federation";
	const char *name = NULL, *dir = NULL, *cname = "coordinator";
	const char *hosts = "localhost,127.0.0.1";
	const struct opt o[] = { { "--name", &name }, { "--dir", &dir },
	    { "--coordinator", &cname }, { "--hosts", &hosts } };
	struct keys_cert_info ci;
	struct keys_member m;
	char cdir[PATH_MAX], p[PATH_MAX], q[PATH_MAX], *pem = NULL;
	size_t len;
	int r;

	if (wants_help(argc, argv)) {
		printf("usage: %s --name NAME --dir DIR [--coordinator NAME] "
		    "[--hosts LIST]\n  Create the federation CA (DIR/ca.key, "
		    "DIR/ca.crt), the coordinator's keys and\n  certificate in "
		    "DIR/coordinator/ and DIR/federation.conf.\n  --hosts: "
		    "names/addresses the coordinator is dialled at "
		    "(default localhost,127.0.0.1)\n", prog);
		return 0;
	}
	if (!parse_opts(prog, argc, argv, o, 4, NULL) ||
	    need(prog, "--name", name) || need(prog, "--dir", dir))
		return 1;
	if (!keys_name_is_valid(name))
		return cli_fail(prog, "--name", cairn_err(CAIRN_ERR_ARG,
		    "invalid federation name '%s'", name));
	if ((r = make_dir(dir, 0700)) != CAIRN_OK ||
	    (r = keys_ca_create(name, dir)) != CAIRN_OK)
		return cli_fail(prog, dir, r);
	if ((r = join(cdir, dir, "coordinator")) != CAIRN_OK ||
	    (r = new_member(KEYS_ROLE_COORDINATOR, cname, cdir)) != CAIRN_OK)
		return cli_fail(prog, "coordinator keys", r);
	if ((r = join(p, cdir, "tls.csr")) != CAIRN_OK ||
	    (r = join(q, cdir, "tls.crt")) != CAIRN_OK ||
	    (r = keys_cert_issue(dir, p, q, KEYS_CERT_DAYS, hosts,
	    NULL)) != CAIRN_OK)
		return cli_fail(prog, "coordinator certificate", r);
	if ((r = join(p, dir, "ca.crt")) != CAIRN_OK ||
	    (r = join(q, cdir, "ca.crt")) != CAIRN_OK ||
	    (r = copy_file(p, q)) != CAIRN_OK)
		return cli_fail(prog, "copy ca.crt", r);
	if ((r = keys_file_read(p, &pem, &len)) != CAIRN_OK ||
	    (r = keys_cert_info(pem, len, &ci)) != CAIRN_OK) {
		free(pem);
		return cli_fail(prog, p, r);
	}
	free(pem);
	if ((r = join(p, dir, "federation.conf")) != CAIRN_OK ||
	    (r = keys_federation_create(p, name, ci.fingerprint)) != CAIRN_OK)
		return cli_fail(prog, "federation.conf", r);
	{
		char pub[PATH_MAX], crt[PATH_MAX], ca[PATH_MAX];

		if ((r = join(pub, cdir, "identity.pub")) != CAIRN_OK ||
		    (r = join(crt, cdir, "tls.crt")) != CAIRN_OK ||
		    (r = join(ca, dir, "ca.crt")) != CAIRN_OK ||
		    (r = add_member(p, ca, pub, crt, &m)) != CAIRN_OK)
			return cli_fail(prog, "enrol the coordinator", r);
	}
	printf("federation %s created in %s\nCA fingerprint: %s\n"
	    "coordinator %s: keys in %s\nkeep %s/ca.key offline and secret\n",
	    name, dir, ci.fingerprint, cname, cdir, dir);
	return 0;
}

static int
cmd_new(int argc, char **argv)
{
	const char *prog = "cairn keys new";
	const char *role_s = NULL, *name = NULL, *dir = NULL;
	const struct opt o[] = { { "--role", &role_s }, { "--name", &name },
	    { "--dir", &dir } };
	enum keys_role role;
	int r;

	if (wants_help(argc, argv)) {
		printf("usage: %s --role node|coordinator|analyst|auditor "
		    "--name NAME --dir DIR\n  Create DIR/identity.key (secret), "
		    "DIR/identity.pub, DIR/tls.key (secret)\n  and DIR/tls.csr "
		    "(send identity.pub and tls.csr to the federation "
		    "operator).\n", prog);
		return 0;
	}
	if (!parse_opts(prog, argc, argv, o, 3, NULL) ||
	    need(prog, "--role", role_s) || need(prog, "--name", name) ||
	    need(prog, "--dir", dir))
		return 1;
	if ((r = keys_role_parse(role_s, &role)) != CAIRN_OK)
		return cli_fail(prog, "--role", r);
	if ((r = new_member(role, name, dir)) != CAIRN_OK)
		return cli_fail(prog, dir, r);
	printf("%s %s: keys in %s; send identity.pub and tls.csr to the "
	    "federation operator\n", keys_role_name(role), name, dir);
	return 0;
}

static int
cmd_issue(int argc, char **argv)
{
	const char *prog = "cairn keys issue";
	const char *ca = NULL, *csr = NULL, *out = NULL, *days_s = NULL;
	const char *hosts = NULL;
	const struct opt o[] = { { "--ca", &ca }, { "--csr", &csr },
	    { "--out", &out }, { "--days", &days_s }, { "--hosts", &hosts } };
	struct keys_public who;
	int64_t days = KEYS_CERT_DAYS;
	int r;

	if (wants_help(argc, argv)) {
		printf("usage: %s --ca DIR --csr FILE --out FILE [--days N] "
		    "[--hosts LIST]\n  Issue a certificate for a member's CSR "
		    "with the CA in DIR (ca.key, ca.crt).\n  --days: validity "
		    "(default %d); --hosts: DNS names/IPs to add (coordinator)"
		    "\n", prog, KEYS_CERT_DAYS);
		return 0;
	}
	if (!parse_opts(prog, argc, argv, o, 5, NULL) ||
	    need(prog, "--ca", ca) || need(prog, "--csr", csr) ||
	    need(prog, "--out", out))
		return 1;
	if (days_s != NULL && (!config_parse_int(days_s, &days) || days < 1 ||
	    days > KEYS_CA_DAYS))
		return cli_fail(prog, "--days", cairn_err(CAIRN_ERR_ARG,
		    "'%s' is not a number of days in 1..%d", days_s,
		    KEYS_CA_DAYS));
	if ((r = keys_cert_issue(ca, csr, out, (int)days, hosts, &who)) !=
	    CAIRN_OK)
		return cli_fail(prog, csr, r);
	printf("issued %s for %s/%s, valid %d days\n", out,
	    keys_role_name(who.role), who.name, (int)days);
	return 0;
}

static int
cmd_add_member(int argc, char **argv)
{
	const char *prog = "cairn keys add-member";
	const char *dir = NULL, *pub = NULL, *cert = NULL;
	const struct opt o[] = { { "--ca", &dir }, { "--pub", &pub },
	    { "--cert", &cert } };
	struct keys_member m;
	char conf[PATH_MAX], ca[PATH_MAX];
	int r;

	if (wants_help(argc, argv)) {
		printf("usage: %s --ca DIR --pub FILE --cert FILE\n  Add the "
		    "member whose identity.pub and certificate are given to "
		    "DIR/federation.conf\n  (the certificate must chain to "
		    "DIR/ca.crt and name the same role and name).\n", prog);
		return 0;
	}
	if (!parse_opts(prog, argc, argv, o, 3, NULL) ||
	    need(prog, "--ca", dir) || need(prog, "--pub", pub) ||
	    need(prog, "--cert", cert))
		return 1;
	if ((r = join(conf, dir, "federation.conf")) != CAIRN_OK ||
	    (r = join(ca, dir, "ca.crt")) != CAIRN_OK ||
	    (r = add_member(conf, ca, pub, cert, &m)) != CAIRN_OK)
		return cli_fail(prog, "cannot add member", r);
	printf("added %s/%s to %s\n", keys_role_name(m.pub.role), m.pub.name,
	    conf);
	return 0;
}

static int
cmd_pin_geography(int argc, char **argv)
{
	const char *prog = "cairn keys pin-geography";
	const char *dir = NULL, *name = NULL, *regions = NULL;
	const struct opt o[] = { { "--ca", &dir }, { "--name", &name },
	    { "--regions", &regions } };
	char conf[PATH_MAX], hex[65];
	uint8_t h[32];
	int r;

	if (wants_help(argc, argv)) {
		printf("usage: %s --ca DIR --name NAME --regions FILE\n  Pin "
		    "geography NAME in DIR/federation.conf to the SHA-256 of "
		    "its region\n  file (region_id,name); a pin of that name "
		    "is replaced.  Publish the new\n  federation.conf to every "
		    "member.\n", prog);
		return 0;
	}
	if (!parse_opts(prog, argc, argv, o, 3, NULL) ||
	    need(prog, "--ca", dir) || need(prog, "--name", name) ||
	    need(prog, "--regions", regions))
		return 1;
	if ((r = keys_file_sha256(regions, h)) != CAIRN_OK)
		return cli_fail(prog, "region file", r);
	if ((r = join(conf, dir, "federation.conf")) != CAIRN_OK ||
	    (r = keys_federation_pin_geography(conf, name, h)) != CAIRN_OK)
		return cli_fail(prog, "cannot pin geography", r);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	printf("pinned geography %s to sha256 %s in %s\n", name, hex, conf);
	return 0;
}

/* The first bytes of 'path' (public part of any key file), NUL-ended. */
static int
peek(const char *path, char *head, size_t n)
{
	FILE *f;
	size_t got;

	if ((f = fopen(path, "re")) == NULL)
		return cairn_err(errno == ENOENT ? CAIRN_ERR_NOTFOUND :
		    CAIRN_ERR_IO, "%s: %s", path, strerror(errno));
	got = fread(head, 1, n - 1, f);
	fclose(f);
	head[got] = '\0';
	return CAIRN_OK;
}

static void
print_cert(const char *kind, const struct keys_cert_info *ci)
{
	printf("type: %s\n", kind);
	if (ci->name[0] != '\0')
		printf("role: %s\nname: %s\n", keys_role_name(ci->role),
		    ci->name);
	printf("subject: %s\n", ci->subject);
	if (ci->issuer[0] != '\0')
		printf("issuer: %s\nnot before: %s\nnot after: %s\nCA: %s\n",
		    ci->issuer, ci->not_before, ci->not_after,
		    ci->is_ca ? "yes" : "no");
	if (ci->sans[0] != '\0')
		printf("subject alt names: %s\n", ci->sans);
	printf("sha256 fingerprint: %s\n", ci->fingerprint);
}

static int
cmd_show(int argc, char **argv)
{
	const char *prog = "cairn keys show";
	const char *path = NULL;
	struct keys_cert_info ci;
	struct keys_public pub;
	char fpr[KEYS_FPR_LEN], head[48], *text = NULL;
	size_t len;
	int r;

	if (wants_help(argc, argv) || argc != 2) {
		printf("usage: %s FILE\n  Print the role, name and fingerprints "
		    "of an identity key, public key,\n  TLS key, CSR or "
		    "certificate; private material shows as (hidden).\n", prog);
		return argc == 2 ? 0 : 1;
	}
	path = argv[1];
	if ((r = peek(path, head, sizeof(head))) != CAIRN_OK)
		return cli_fail(prog, "key file", r);
	/* Secret files are read only through the checked secret readers. */
	if (strstr(head, "cairn identity key") != NULL ||
	    strstr(head, "cairn-identity v1") != NULL) {
		struct keys_identity *id = NULL;
		uint8_t pk[KEYS_PK_LEN];

		if ((r = keys_identity_load(path, &id)) != CAIRN_OK)
			return cli_fail(prog, "key file", r);
		keys_identity_public(id, pk);
		keys_fingerprint(pk, sizeof(pk), fpr);
		printf("type: identity key (Ed25519)\nrole: %s\nname: %s\n"
		    "identity fingerprint: %s\nsecret: (hidden)\n",
		    keys_role_name(keys_identity_role(id)),
		    keys_identity_name(id), fpr);
		keys_identity_free(id);
		return 0;
	}
	if (strncmp(head, "-----BEGIN ", 11) == 0 &&
	    strstr(head, "PRIVATE KEY") != NULL) {
		if ((r = keys_tls_key_fingerprint(path, fpr)) != CAIRN_OK)
			return cli_fail(prog, "key file", r);
		printf("type: TLS private key (P-256)\npublic key sha256 "
		    "fingerprint: %s\nprivate key: (hidden)\n", fpr);
		return 0;
	}
	if ((r = keys_file_read(path, &text, &len)) != CAIRN_OK)
		return cli_fail(prog, "key file", r);
	if (strstr(text, "cairn-public v1") != NULL) {
		free(text);
		if ((r = keys_public_load(path, &pub)) != CAIRN_OK)
			return cli_fail(prog, "key file", r);
		keys_fingerprint(pub.pk, sizeof(pub.pk), fpr);
		printf("type: identity public key (Ed25519)\nrole: %s\nname: "
		    "%s\nidentity fingerprint: %s\n", keys_role_name(pub.role),
		    pub.name, fpr);
		return 0;
	}
	if (strstr(text, "-----BEGIN CERTIFICATE REQUEST-----") != NULL) {
		r = keys_csr_info(text, len, &ci);
		free(text);
		if (r != CAIRN_OK)
			return cli_fail(prog, "key file", r);
		print_cert("certificate signing request", &ci);
		return 0;
	}
	if (strstr(text, "-----BEGIN CERTIFICATE-----") != NULL) {
		r = keys_cert_info(text, len, &ci);
		free(text);
		if (r != CAIRN_OK)
			return cli_fail(prog, "key file", r);
		print_cert("certificate", &ci);
		return 0;
	}
	free(text);
	return cli_fail(prog, "key file", cairn_err(CAIRN_ERR_FORMAT, "%s: not "
	    "a cairn key, CSR or certificate", path));
}

static int
cmd_rotate_member(int argc, char **argv)
{
	const char *prog = "cairn keys rotate-member";
	const char *dir = NULL, *pub = NULL, *cert = NULL;
	const struct opt o[] = { { "--ca", &dir }, { "--pub", &pub },
	    { "--cert", &cert } };
	struct keys_member m;
	char conf[PATH_MAX], ca[PATH_MAX];
	int r;

	if (wants_help(argc, argv)) {
		printf("usage: %s --ca DIR --pub FILE --cert FILE\n  Replace "
		    "the enrolled keys of the member that identity.pub and the "
		    "certificate\n  name by these new ones in "
		    "DIR/federation.conf (docs/operations.md, \"Keys\n  over "
		    "years\").  The daemons pick the change up without a "
		    "restart; the\n  coordinator logs it as MEMBER entries.\n",
		    prog);
		return 0;
	}
	if (!parse_opts(prog, argc, argv, o, 3, NULL) ||
	    need(prog, "--ca", dir) || need(prog, "--pub", pub) ||
	    need(prog, "--cert", cert))
		return 1;
	if ((r = join(conf, dir, "federation.conf")) != CAIRN_OK ||
	    (r = join(ca, dir, "ca.crt")) != CAIRN_OK ||
	    (r = load_member(ca, pub, cert, &m)) != CAIRN_OK ||
	    (r = keys_federation_replace(conf, m.pub.role, m.pub.name, &m)) !=
	    CAIRN_OK)
		return cli_fail(prog, "cannot rotate member", r);
	printf("rotated %s/%s in %s (certificate %s)\n",
	    keys_role_name(m.pub.role), m.pub.name, conf, m.cert_fpr);
	return 0;
}

static int
cmd_remove_member(int argc, char **argv)
{
	const char *prog = "cairn keys remove-member";
	const char *dir = NULL, *role_s = NULL, *name = NULL;
	const struct opt o[] = { { "--ca", &dir }, { "--role", &role_s },
	    { "--name", &name } };
	enum keys_role role;
	char conf[PATH_MAX];
	int r;

	if (wants_help(argc, argv)) {
		printf("usage: %s --ca DIR --role node|analyst --name NAME\n"
		    "  Remove the member from DIR/federation.conf: it is refused "
		    "from its next call,\n  and the coordinator logs a MEMBER "
		    "entry (docs/operations.md).\n", prog);
		return 0;
	}
	if (!parse_opts(prog, argc, argv, o, 3, NULL) ||
	    need(prog, "--ca", dir) || need(prog, "--role", role_s) ||
	    need(prog, "--name", name))
		return 1;
	if ((r = keys_role_parse(role_s, &role)) != CAIRN_OK ||
	    (r = join(conf, dir, "federation.conf")) != CAIRN_OK ||
	    (r = keys_federation_replace(conf, role, name, NULL)) != CAIRN_OK)
		return cli_fail(prog, "cannot remove member", r);
	printf("removed %s/%s from %s\n", keys_role_name(role), name, conf);
	return 0;
}

static const struct cli_cmd keys_cmds[] = {
	{ "init-federation", cmd_init_federation,
	    "create the federation CA, coordinator keys, federation.conf" },
	{ "new", cmd_new, "create a member's identity key, TLS key and CSR" },
	{ "issue", cmd_issue, "issue a certificate for a CSR with the CA" },
	{ "add-member", cmd_add_member, "enrol a member in federation.conf" },
	{ "rotate-member", cmd_rotate_member,
	    "replace a member's identity key and certificate" },
	{ "remove-member", cmd_remove_member,
	    "remove a member from federation.conf" },
	{ "pin-geography", cmd_pin_geography,
	    "pin a geography's region file by hash in federation.conf" },
	{ "show", cmd_show, "show role and fingerprints of a key file" },
};

int
cmd_keys(int argc, char **argv)
{
	return cli_dispatch("cairn keys", keys_cmds,
	    sizeof(keys_cmds) / sizeof(keys_cmds[0]), argc, argv);
}
