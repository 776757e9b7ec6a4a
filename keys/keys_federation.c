/*
 * keys_federation.c - read and extend federation.conf.
 *
 * The file is parsed with common/config.h; each "member" value is split and
 * checked here (role, name, 32-byte base64 key, 64-hex fingerprint).
 * Adding a member rewrites the file through a temporary file and rename(2)
 * so a crash leaves either the old or the new list.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "common/config.h"
#include "common/err.h"
#include "keys/keys.h"
#include "keys/keys_federation.h"

struct fedconf {
	char			*name;
	char			*ca_fpr;
	struct config_strlist	 members;
	struct config_strlist	 geos;
};

static const struct config_key fed_schema[] = {
	{ "federation", "name", CONFIG_STRING, offsetof(struct fedconf, name),
	    true, 0, 0, 0, 0, NULL },
	{ "federation", "ca_fingerprint", CONFIG_STRING,
	    offsetof(struct fedconf, ca_fpr), true, 0, 0, 0, 0, NULL },
	{ "members", "member", CONFIG_STRLIST,
	    offsetof(struct fedconf, members), false, 0, 0, 0, 0, NULL },
	{ "geographies", "geography", CONFIG_STRLIST,
	    offsetof(struct fedconf, geos), false, 0, 0, 0, 0, NULL },
};
#define NFED	(sizeof(fed_schema) / sizeof(fed_schema[0]))

static bool
fpr_is_valid(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++)
		if (!((s[n] >= '0' && s[n] <= '9') ||
		    (s[n] >= 'a' && s[n] <= 'f')))
			return false;
	return n == KEYS_FPR_LEN - 1;
}

/* Split "ROLE NAME PK CERTFPR" (hostile) into 'm'. */
static int
parse_member(const char *path, const char *line, struct keys_member *m)
{
	char buf[CONFIG_MAX_VALUE + 1], *f[5], *save = NULL, *tok;
	size_t nf = 0, bl = 0;

	snprintf(buf, sizeof(buf), "%s", line);
	for (tok = strtok_r(buf, " \t", &save); tok != NULL && nf < 5;
	    tok = strtok_r(NULL, " \t", &save))
		f[nf++] = tok;
	if (nf != 4)
		return cairn_err(CAIRN_ERR_CONFIG, "%s: member '%s': expected "
		    "ROLE NAME IDENTITY-KEY CERT-SHA256", path, line);
	memset(m, 0, sizeof(*m));
	if (keys_role_parse(f[0], &m->pub.role) != CAIRN_OK)
		return cairn_err(CAIRN_ERR_CONFIG, "%s: member '%s': unknown "
		    "role '%s'", path, line, f[0]);
	if (!keys_name_is_valid(f[1]))
		return cairn_err(CAIRN_ERR_CONFIG, "%s: member '%s': invalid "
		    "name '%s'", path, line, f[1]);
	snprintf(m->pub.name, sizeof(m->pub.name), "%s", f[1]);
	if (sodium_base642bin(m->pub.pk, KEYS_PK_LEN, f[2], strlen(f[2]),
	    NULL, &bl, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    bl != KEYS_PK_LEN)
		return cairn_err(CAIRN_ERR_CONFIG, "%s: member '%s': identity "
		    "key is not base64 of 32 bytes", path, line);
	if (!fpr_is_valid(f[3]))
		return cairn_err(CAIRN_ERR_CONFIG, "%s: member '%s': "
		    "certificate fingerprint is not 64 lower-case hex digits",
		    path, line);
	memcpy(m->cert_fpr, f[3], KEYS_FPR_LEN);
	return CAIRN_OK;
}

/* Split "NAME SHA256HEX" (hostile) into 'g'. */
static int
parse_geo(const char *path, const char *line, struct keys_geo_pin *g)
{
	char buf[CONFIG_MAX_VALUE + 1], *f[3], *save = NULL, *tok;
	size_t nf = 0;

	snprintf(buf, sizeof(buf), "%s", line);
	for (tok = strtok_r(buf, " \t", &save); tok != NULL && nf < 3;
	    tok = strtok_r(NULL, " \t", &save))
		f[nf++] = tok;
	if (nf != 2 || !keys_name_is_valid(f[0]) || !fpr_is_valid(f[1]))
		return cairn_err(CAIRN_ERR_CONFIG, "%s: geography '%s': "
		    "expected NAME SHA256 (a name of [a-z0-9._-] and 64 "
		    "lower-case hex digits)", path, line);
	memset(g, 0, sizeof(*g));
	snprintf(g->name, sizeof(g->name), "%s", f[0]);
	if (sodium_hex2bin(g->sha256, sizeof(g->sha256), f[1], strlen(f[1]),
	    NULL, NULL, NULL) != 0)
		return cairn_err(CAIRN_ERR_CONFIG, "%s: geography '%s': bad "
		    "hash", path, line);
	return CAIRN_OK;
}

static int
check_duplicate(const char *path, const struct keys_member *ms, size_t n,
    const struct keys_member *m)
{
	for (size_t i = 0; i < n; i++) {
		if (ms[i].pub.role == m->pub.role &&
		    strcmp(ms[i].pub.name, m->pub.name) == 0)
			return cairn_err(CAIRN_ERR_EXISTS, "%s: member %s/%s "
			    "is listed already", path,
			    keys_role_name(m->pub.role), m->pub.name);
		if (memcmp(ms[i].pub.pk, m->pub.pk, KEYS_PK_LEN) == 0)
			return cairn_err(CAIRN_ERR_EXISTS, "%s: the identity "
			    "key of %s is already member %s/%s's", path,
			    m->pub.name, keys_role_name(ms[i].pub.role),
			    ms[i].pub.name);
	}
	return CAIRN_OK;
}

int
keys_federation_load(const char *path, struct keys_federation **out)
{
	struct fedconf fc;
	struct keys_federation *fed = NULL;
	int r;

	memset(&fc, 0, sizeof(fc));
	if ((r = config_load(path, fed_schema, NFED, &fc)) != CAIRN_OK)
		goto out;
	if (!keys_name_is_valid(fc.name)) {
		r = cairn_err(CAIRN_ERR_CONFIG, "%s: [federation] name '%s' is "
		    "invalid", path, fc.name);
		goto out;
	}
	if (!fpr_is_valid(fc.ca_fpr)) {
		r = cairn_err(CAIRN_ERR_CONFIG, "%s: [federation] "
		    "ca_fingerprint is not 64 lower-case hex digits", path);
		goto out;
	}
	if ((fed = calloc(1, sizeof(*fed))) == NULL) {
		r = CAIRN_ERR_NOMEM;
		goto out;
	}
	snprintf(fed->name, sizeof(fed->name), "%s", fc.name);
	memcpy(fed->ca_fpr, fc.ca_fpr, KEYS_FPR_LEN);
	if (fc.members.n > 0 && (fed->members = calloc(fc.members.n,
	    sizeof(*fed->members))) == NULL) {
		r = CAIRN_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < fc.members.n; i++) {
		struct keys_member m;

		if ((r = parse_member(path, fc.members.v[i], &m)) != CAIRN_OK ||
		    (r = check_duplicate(path, fed->members, fed->n,
		    &m)) != CAIRN_OK) {
			if (r == CAIRN_ERR_EXISTS)
				r = CAIRN_ERR_CONFIG;
			goto out;
		}
		fed->members[fed->n++] = m;
	}
	if (fc.geos.n > KEYS_FEDERATION_MAX_GEOS) {
		r = cairn_err(CAIRN_ERR_CONFIG, "%s: more than %d geographies",
		    path, KEYS_FEDERATION_MAX_GEOS);
		goto out;
	}
	for (size_t i = 0; i < fc.geos.n; i++) {
		struct keys_geo_pin g;

		if ((r = parse_geo(path, fc.geos.v[i], &g)) != CAIRN_OK)
			goto out;
		if (keys_federation_geography(fed, g.name) != NULL) {
			r = cairn_err(CAIRN_ERR_CONFIG, "%s: geography '%s' is "
			    "pinned twice", path, g.name);
			goto out;
		}
		fed->geos[fed->ngeos++] = g;
	}
	*out = fed;
	fed = NULL;
	r = CAIRN_OK;
out:
	config_release(fed_schema, NFED, &fc);
	keys_federation_free(fed);
	return r;
}

void
keys_federation_free(struct keys_federation *fed)
{
	if (fed == NULL)
		return;
	free(fed->members);
	free(fed);
}

const struct keys_member *
keys_federation_find(const struct keys_federation *fed, enum keys_role role,
    const char *name)
{
	for (size_t i = 0; i < fed->n; i++)
		if (fed->members[i].pub.role == role &&
		    strcmp(fed->members[i].pub.name, name) == 0)
			return &fed->members[i];
	return NULL;
}

int
keys_federation_coordinator(const struct keys_federation *fed,
    const struct keys_member **out)
{
	const struct keys_member *c = NULL;

	for (size_t i = 0; i < fed->n; i++) {
		if (fed->members[i].pub.role != KEYS_ROLE_COORDINATOR)
			continue;
		if (c != NULL)
			return cairn_err(CAIRN_ERR_CONFIG, "federation '%s' "
			    "enrols two coordinators ('%s', '%s'): which "
			    "certificate to pin is ambiguous", fed->name,
			    c->pub.name, fed->members[i].pub.name);
		c = &fed->members[i];
	}
	if (c == NULL)
		return cairn_err(CAIRN_ERR_CONFIG, "federation '%s' enrols no "
		    "coordinator: there is no certificate to pin", fed->name);
	*out = c;
	return CAIRN_OK;
}

int
keys_federation_create(const char *path, const char *name, const char *ca_fpr)
{
	char text[1024];
	int n;

	if (!keys_name_is_valid(name) || !fpr_is_valid(ca_fpr))
		return cairn_err(CAIRN_ERR_ARG, "bad federation name or CA "
		    "fingerprint");
	n = snprintf(text, sizeof(text),
	    "# cairn federation members; pinned by every member.\n"
	    "# member = ROLE NAME IDENTITY-KEY(base64) CERT-SHA256(hex)\n"
	    "[federation]\nname = %s\nca_fingerprint = %s\n\n[members]\n",
	    name, ca_fpr);
	if (n < 0 || (size_t)n >= sizeof(text))
		return CAIRN_ERR_INTERNAL;
	return keys_file_write(path, text, (size_t)n, false);
}

int
keys_federation_add(const char *path, const struct keys_member *m)
{
	struct keys_federation *fed = NULL;
	char tmp[4096], line[512], b64[64], *text = NULL, *last;
	size_t len;
	bool need_section;
	int n, r;

	if ((r = keys_federation_load(path, &fed)) != CAIRN_OK)
		return r;
	if (fed->n >= KEYS_FEDERATION_MAX_MEMBERS) {
		r = cairn_err(CAIRN_ERR_TOOBIG, "%s: already %d members", path,
		    KEYS_FEDERATION_MAX_MEMBERS);
		goto out;
	}
	if ((r = check_duplicate(path, fed->members, fed->n, m)) != CAIRN_OK)
		goto out;
	if ((r = keys_file_read(path, &text, &len)) != CAIRN_OK)
		goto out;
	/* Members go under [members]; it is the last section we write. */
	last = NULL;
	for (char *p = strstr(text, "\n["); p != NULL; p = strstr(p + 1, "\n["))
		last = p + 1;
	if (last == NULL && text[0] == '[')
		last = text;
	need_section = last == NULL || strncmp(last, "[members]", 9) != 0;
	sodium_bin2base64(b64, sizeof(b64), m->pub.pk, KEYS_PK_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
	n = snprintf(line, sizeof(line), "%s%smember = %s %s %s %s\n",
	    len > 0 && text[len - 1] != '\n' ? "\n" : "",
	    need_section ? "\n[members]\n" : "", keys_role_name(m->pub.role),
	    m->pub.name, b64, m->cert_fpr);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		r = CAIRN_ERR_INTERNAL;
		goto out;
	}
	n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		r = cairn_err(CAIRN_ERR_ARG, "path too long: %s", path);
		goto out;
	}
	{
		char *all;

		if ((all = malloc(len + strlen(line) + 1)) == NULL) {
			r = CAIRN_ERR_NOMEM;
			goto out;
		}
		memcpy(all, text, len);
		memcpy(all + len, line, strlen(line) + 1);
		r = keys_file_write(tmp, all, strlen(all), false);
		free(all);
	}
	if (r != CAIRN_OK)
		goto out;
	if (rename(tmp, path) != 0) {
		r = cairn_err(CAIRN_ERR_IO, "rename %s: %s", tmp,
		    strerror(errno));
		unlink(tmp);
		goto out;
	}
	r = CAIRN_OK;
out:
	free(text);
	keys_federation_free(fed);
	return r;
}

const uint8_t *
keys_federation_geography(const struct keys_federation *fed, const char *name)
{
	for (size_t i = 0; i < fed->ngeos; i++)
		if (strcmp(fed->geos[i].name, name) == 0)
			return fed->geos[i].sha256;
	return NULL;
}

#define GEO_FILE_MAX	(256u << 20)

int
keys_file_sha256(const char *path, uint8_t out[static 32])
{
	crypto_hash_sha256_state st;
	unsigned char buf[65536];
	uint64_t total = 0;
	size_t n;
	FILE *f;

	if ((f = fopen(path, "rb")) == NULL)
		return cairn_err(CAIRN_ERR_IO, "%s: %s", path, strerror(errno));
	crypto_hash_sha256_init(&st);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		total += n;
		if (total > GEO_FILE_MAX) {
			fclose(f);
			return cairn_err(CAIRN_ERR_TOOBIG, "%s: over %u bytes",
			    path, GEO_FILE_MAX);
		}
		crypto_hash_sha256_update(&st, buf, n);
	}
	if (ferror(f)) {
		fclose(f);
		return cairn_err(CAIRN_ERR_IO, "%s: read error", path);
	}
	fclose(f);
	crypto_hash_sha256_final(&st, out);
	return CAIRN_OK;
}

/* Write 'text' to 'path' through a temporary file and rename(2). */
static int
replace_file(const char *path, const char *text)
{
	char tmp[4096];
	int n, r;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return cairn_err(CAIRN_ERR_ARG, "path too long: %s", path);
	if ((r = keys_file_write(tmp, text, strlen(text), false)) != CAIRN_OK)
		return r;
	if (rename(tmp, path) != 0) {
		r = cairn_err(CAIRN_ERR_IO, "rename %s: %s", tmp,
		    strerror(errno));
		unlink(tmp);
		return r;
	}
	return CAIRN_OK;
}

int
keys_federation_pin_geography(const char *path, const char *name,
    const uint8_t sha256[static 32])
{
	struct keys_federation *fed = NULL;
	char hex[65], line[256], *text = NULL, *all = NULL, *p, *eol;
	size_t len, cap;
	int r;

	if (!keys_name_is_valid(name))
		return cairn_err(CAIRN_ERR_ARG, "invalid geography name '%s'",
		    name);
	if ((r = keys_federation_load(path, &fed)) != CAIRN_OK)
		return r;
	if (keys_federation_geography(fed, name) == NULL &&
	    fed->ngeos >= KEYS_FEDERATION_MAX_GEOS) {
		r = cairn_err(CAIRN_ERR_TOOBIG, "%s: already %d geographies",
		    path, KEYS_FEDERATION_MAX_GEOS);
		goto out;
	}
	if ((r = keys_file_read(path, &text, &len)) != CAIRN_OK)
		goto out;
	sodium_bin2hex(hex, sizeof(hex), sha256, 32);
	snprintf(line, sizeof(line), "geography = %s %s\n", name, hex);
	cap = len + strlen(line) + 32;
	if ((all = calloc(1, cap)) == NULL) {
		r = CAIRN_ERR_NOMEM;
		goto out;
	}
	/* Drop an old pin of this name (one line), keep everything else. */
	for (p = text; *p != '\0'; p = eol) {
		char *q = p, *v;
		size_t nl;

		eol = strchr(p, '\n');
		eol = eol != NULL ? eol + 1 : p + strlen(p);
		while (*q == ' ' || *q == '\t')
			q++;
		if (strncmp(q, "geography", 9) == 0 && (v = strchr(q, '=')) !=
		    NULL && v < eol) {
			v++;
			while (*v == ' ' || *v == '\t')
				v++;
			nl = strlen(name);
			if (strncmp(v, name, nl) == 0 && (v[nl] == ' ' ||
			    v[nl] == '\t'))
				continue;
		}
		strncat(all, p, (size_t)(eol - p));
	}
	len = strlen(all);
	if (len > 0 && all[len - 1] != '\n')
		strcat(all, "\n");
	{
		char *last = NULL;

		for (p = strstr(all, "\n["); p != NULL; p = strstr(p + 1,
		    "\n["))
			last = p + 1;
		if (last == NULL && all[0] == '[')
			last = all;
		/* Pins go under [geographies]: reuse it when it is last. */
		if (last == NULL || strncmp(last, "[geographies]", 13) != 0)
			strcat(all, "\n[geographies]\n");
	}
	strcat(all, line);
	r = replace_file(path, all);
out:
	free(all);
	free(text);
	keys_federation_free(fed);
	return r;
}

int
keys_federation_replace(const char *path, enum keys_role role,
    const char *name, const struct keys_member *m)
{
	struct keys_federation *fed = NULL;
	const struct keys_member *old;
	char line[512], b64[64], *text = NULL, *all = NULL, *p, *eol;
	size_t len, nl = strlen(name), done = 0;
	int r;

	if (role == KEYS_ROLE_COORDINATOR)
		return cairn_err(CAIRN_ERR_ARG, "the coordinator's key is the "
		    "log key: it is not rotated or removed this way "
		    "(docs/operations.md)");
	if (m != NULL && (m->pub.role != role || strcmp(m->pub.name, name)))
		return cairn_err(CAIRN_ERR_ARG, "the new key is for %s/%s, not "
		    "%s/%s", keys_role_name(m->pub.role), m->pub.name,
		    keys_role_name(role), name);
	if ((r = keys_federation_load(path, &fed)) != CAIRN_OK)
		return r;
	if ((old = keys_federation_find(fed, role, name)) == NULL) {
		r = cairn_err(CAIRN_ERR_NOTFOUND, "%s: no %s '%s' enrolled",
		    path, keys_role_name(role), name);
		goto out;
	}
	if (m != NULL && (memcmp(old->pub.pk, m->pub.pk, KEYS_PK_LEN) == 0 ||
	    strcmp(old->cert_fpr, m->cert_fpr) == 0)) {
		r = cairn_err(CAIRN_ERR_EXISTS, "%s: %s/%s already has this "
		    "%s", path, keys_role_name(role), name,
		    memcmp(old->pub.pk, m->pub.pk, KEYS_PK_LEN) == 0 ?
		    "identity key" : "certificate");
		goto out;
	}
	/* The new identity key must not be another member's. */
	for (size_t i = 0; m != NULL && i < fed->n; i++)
		if (&fed->members[i] != old && memcmp(fed->members[i].pub.pk,
		    m->pub.pk, KEYS_PK_LEN) == 0) {
			r = cairn_err(CAIRN_ERR_EXISTS, "%s: that identity key "
			    "is %s/%s's", path,
			    keys_role_name(fed->members[i].pub.role),
			    fed->members[i].pub.name);
			goto out;
		}
	line[0] = '\0';
	if (m != NULL) {
		sodium_bin2base64(b64, sizeof(b64), m->pub.pk, KEYS_PK_LEN,
		    sodium_base64_VARIANT_ORIGINAL);
		snprintf(line, sizeof(line), "member = %s %s %s %s\n",
		    keys_role_name(role), name, b64, m->cert_fpr);
	}
	if ((r = keys_file_read(path, &text, &len)) != CAIRN_OK)
		goto out;
	if ((all = calloc(1, len + strlen(line) + 2)) == NULL) {
		r = CAIRN_ERR_NOMEM;
		goto out;
	}
	/* The member's one line replaced (or dropped), the rest kept. */
	for (p = text; *p != '\0'; p = eol) {
		const char *rn = keys_role_name(role);
		char *q = p, *v;

		eol = strchr(p, '\n');
		eol = eol != NULL ? eol + 1 : p + strlen(p);
		while (*q == ' ' || *q == '\t')
			q++;
		if (strncmp(q, "member", 6) == 0 && (v = strchr(q, '=')) !=
		    NULL && v < eol) {
			v++;
			while (*v == ' ' || *v == '\t')
				v++;
			if (strncmp(v, rn, strlen(rn)) == 0 &&
			    v[strlen(rn)] == ' ' &&
			    strncmp(v + strlen(rn) + 1, name, nl) == 0 &&
			    (v[strlen(rn) + 1 + nl] == ' ' ||
			    v[strlen(rn) + 1 + nl] == '\t')) {
				strcat(all, line);
				done++;
				continue;
			}
		}
		strncat(all, p, (size_t)(eol - p));
	}
	if (done != 1) {
		r = cairn_err(CAIRN_ERR_CONFIG, "%s: %zu 'member = %s %s' "
		    "lines; edit it by hand", path, done,
		    keys_role_name(role), name);
		goto out;
	}
	r = replace_file(path, all);
out:
	free(all);
	free(text);
	keys_federation_free(fed);
	return r;
}
