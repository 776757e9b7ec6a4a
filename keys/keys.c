/*
 * keys.c - Ed25519 identities, their files, and domain-separated
 * signatures.
 *
 * The identity file is a short text file (format in docs/keys.md) whose
 * "seed" line is the 32-byte Ed25519 seed in base64.  It is read into
 * sodium_malloc memory after checking ownership and mode, parsed there, and
 * the buffer is wiped; the expanded secret key lives in its own
 * sodium_malloc block for the life of the handle.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/err.h"
#include "common/file.h"
#include "keys/keys.h"

#define IDENTITY_MAGIC	"cairn-identity v1"
#define PUBLIC_MAGIC	"cairn-public v1"
#define SIGN_PREFIX	"cairn/v1/"

struct keys_identity {
	enum keys_role	 role;
	char		 name[KEYS_NAME_MAX + 1];
	uint8_t		 pk[KEYS_PK_LEN];
	unsigned char	*sk;	/* sodium_malloc'd, 64 bytes */
};

static const char *const role_names[KEYS_NROLES] = {
	"node", "coordinator", "analyst", "auditor"
};

const char *
keys_role_name(enum keys_role role)
{
	if ((unsigned)role >= KEYS_NROLES)
		return "?";
	return role_names[role];
}

int
keys_role_parse(const char *s, enum keys_role *out)
{
	for (unsigned i = 0; i < KEYS_NROLES; i++) {
		if (strcmp(s, role_names[i]) == 0) {
			*out = (enum keys_role)i;
			return CAIRN_OK;
		}
	}
	return cairn_err(CAIRN_ERR_ARG,
	    "unknown role '%s' (node, coordinator, analyst or auditor)", s);
}

static bool
name_char_ok(char c, bool first)
{
	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return true;
	return !first && (c == '.' || c == '_' || c == '-');
}

static bool
name_is_valid_n(const char *s, size_t n)
{
	if (n == 0 || n > KEYS_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!name_char_ok(s[i], i == 0))
			return false;
	return true;
}

bool
keys_name_is_valid(const char *name)
{
	return name != NULL && name_is_valid_n(name, strlen(name));
}

int
keys_uri_parse(const char *uri, size_t len, enum keys_role *role,
    char name[static KEYS_NAME_MAX + 1])
{
	static const char scheme[] = "cairn://";
	const char *p, *slash;
	size_t rl;

	if (len < sizeof(scheme) - 1 ||
	    memcmp(uri, scheme, sizeof(scheme) - 1) != 0)
		return cairn_err(CAIRN_ERR_FORMAT, "URI does not start with "
		    "cairn://");
	p = uri + sizeof(scheme) - 1;
	len -= sizeof(scheme) - 1;
	if ((slash = memchr(p, '/', len)) == NULL)
		return cairn_err(CAIRN_ERR_FORMAT, "URI lacks /NAME");
	rl = (size_t)(slash - p);
	for (unsigned i = 0; i < KEYS_NROLES; i++) {
		if (rl == strlen(role_names[i]) &&
		    memcmp(p, role_names[i], rl) == 0) {
			if (!name_is_valid_n(slash + 1, len - rl - 1))
				return cairn_err(CAIRN_ERR_FORMAT,
				    "URI has an invalid member name");
			*role = (enum keys_role)i;
			memcpy(name, slash + 1, len - rl - 1);
			name[len - rl - 1] = '\0';
			return CAIRN_OK;
		}
	}
	return cairn_err(CAIRN_ERR_FORMAT, "URI names an unknown role");
}

void
keys_fingerprint(const uint8_t *data, size_t len, char fpr[static KEYS_FPR_LEN])
{
	uint8_t h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, data, len);
	sodium_bin2hex(fpr, KEYS_FPR_LEN, h, sizeof(h));
}

static int
identity_new(enum keys_role role, const char *name, struct keys_identity **out)
{
	struct keys_identity *id;

	if (sodium_init() < 0)
		return cairn_err(CAIRN_ERR_CRYPTO, "libsodium failed to start");
	if ((unsigned)role >= KEYS_NROLES)
		return cairn_err(CAIRN_ERR_ARG, "bad role %d", (int)role);
	if (!keys_name_is_valid(name))
		return cairn_err(CAIRN_ERR_ARG, "invalid member name '%s' "
		    "(1-%d of a-z 0-9 . _ -, starting with a letter or digit)",
		    name, KEYS_NAME_MAX);
	if ((id = calloc(1, sizeof(*id))) == NULL)
		return CAIRN_ERR_NOMEM;
	if ((id->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES)) == NULL) {
		free(id);
		return CAIRN_ERR_NOMEM;
	}
	id->role = role;
	snprintf(id->name, sizeof(id->name), "%s", name);
	*out = id;
	return CAIRN_OK;
}

int
keys_identity_generate(enum keys_role role, const char *name,
    struct keys_identity **out)
{
	struct keys_identity *id = NULL;
	int r;

	if ((r = identity_new(role, name, &id)) != CAIRN_OK)
		return r;
	crypto_sign_keypair(id->pk, id->sk);
	*out = id;
	return CAIRN_OK;
}

void
keys_identity_free(struct keys_identity *id)
{
	if (id == NULL)
		return;
	sodium_free(id->sk);	/* wipes */
	sodium_memzero(id, sizeof(*id));
	free(id);
}

enum keys_role
keys_identity_role(const struct keys_identity *id)
{
	return id->role;
}

const char *
keys_identity_name(const struct keys_identity *id)
{
	return id->name;
}

void
keys_identity_public(const struct keys_identity *id,
    uint8_t pk[static KEYS_PK_LEN])
{
	memcpy(pk, id->pk, KEYS_PK_LEN);
}

/* ---------------------------------------------------------------- files */

int
keys_file_write(const char *path, const void *data, size_t len, bool secret)
{
	mode_t old;
	ssize_t w;
	size_t off = 0;
	int fd, r;

	old = umask(secret ? 077 : 022);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    secret ? 0600 : 0644);
	umask(old);
	if (fd < 0) {
		if (errno == EEXIST)
			return cairn_err(CAIRN_ERR_EXISTS, "%s: exists already; "
			    "not overwriting a key file", path);
		return cairn_err(CAIRN_ERR_IO, "%s: %s", path, strerror(errno));
	}
	while (off < len) {
		w = write(fd, (const char *)data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			r = cairn_err(CAIRN_ERR_IO, "%s: write: %s", path,
			    strerror(errno));
			goto fail;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0) {
		r = cairn_err(CAIRN_ERR_IO, "%s: fsync: %s", path,
		    strerror(errno));
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		r = cairn_err(CAIRN_ERR_IO, "%s: close: %s", path,
		    strerror(errno));
		goto fail;
	}
	return CAIRN_OK;
fail:
	if (fd >= 0)
		close(fd);
	unlink(path);
	return r;
}

/* Open 'path' without following a final symlink and check it is ours. */
static int
open_checked(const char *path, bool secret, int *fdp, size_t *sizep)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ELOOP)
			return cairn_err(CAIRN_ERR_PERM, "%s: refusing a "
			    "symbolic link for a key file", path);
		return cairn_err(errno == ENOENT ? CAIRN_ERR_NOTFOUND :
		    CAIRN_ERR_IO, "%s: %s", path, strerror(errno));
	}
	if (fstat(fd, &st) != 0) {
		close(fd);
		return cairn_err(CAIRN_ERR_IO, "%s: %s", path, strerror(errno));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return cairn_err(CAIRN_ERR_PERM, "%s: not a regular file",
		    path);
	}
	if (secret && st.st_uid != geteuid()) {
		close(fd);
		return cairn_err(CAIRN_ERR_PERM, "%s: owned by uid %u, not by "
		    "this user (uid %u)", path, (unsigned)st.st_uid,
		    (unsigned)geteuid());
	}
	if (secret && (st.st_mode & 077) != 0) {
		close(fd);
		return cairn_err(CAIRN_ERR_PERM, "%s: mode %04o lets group or "
		    "others access a secret key (chmod 600 it)", path,
		    (unsigned)(st.st_mode & 07777));
	}
	if (st.st_size < 0 || (uintmax_t)st.st_size > KEYS_FILE_MAX) {
		close(fd);
		return cairn_err(CAIRN_ERR_TOOBIG, "%s: larger than %d bytes",
		    path, KEYS_FILE_MAX);
	}
	*fdp = fd;
	*sizep = (size_t)st.st_size;
	return CAIRN_OK;
}

int
keys_secret_read(const char *path, uint8_t **bufp, size_t *lenp)
{
	uint8_t *buf = NULL;
	size_t size, got;
	int fd = -1, r;

	if (sodium_init() < 0)
		return cairn_err(CAIRN_ERR_CRYPTO, "libsodium failed to start");
	if ((r = open_checked(path, true, &fd, &size)) != CAIRN_OK)
		return r;
	if ((buf = sodium_malloc(size + 1)) == NULL) {
		r = CAIRN_ERR_NOMEM;
		goto out;
	}
	if ((r = file_read_fd(fd, path, buf, size, &got)) != CAIRN_OK)
		goto out;
	buf[got] = '\0';
	*bufp = buf;
	*lenp = got;
	buf = NULL;
	r = CAIRN_OK;
out:
	if (buf != NULL)
		sodium_free(buf);
	close(fd);
	return r;
}

void
keys_secret_free(uint8_t *buf, size_t len)
{
	(void)len;
	if (buf != NULL)
		sodium_free(buf);	/* wipes the whole block */
}

int
keys_file_read(const char *path, char **bufp, size_t *lenp)
{
	char *buf;
	size_t size, got;
	int fd, r;

	if ((r = open_checked(path, false, &fd, &size)) != CAIRN_OK)
		return r;
	if ((buf = malloc(size + 1)) == NULL) {
		close(fd);
		return CAIRN_ERR_NOMEM;
	}
	r = file_read_fd(fd, path, (uint8_t *)buf, size, &got);
	close(fd);
	if (r != CAIRN_OK) {
		free(buf);
		return r;
	}
	buf[got] = '\0';
	*bufp = buf;
	*lenp = got;
	return CAIRN_OK;
}

/* ------------------------------------------------------- identity text */

/*
 * Parse the "key value" lines of an identity or public file held in 'buf'
 * (NUL-terminated, may be hostile).  The first significant line must be
 * 'magic'; then role, name and 'keyword' (base64 of 32 bytes into
 * key32) each exactly once.  key32 may be secret memory.
 */
static int
parse_keyfile(const char *path, char *buf, const char *magic,
    const char *keyword, enum keys_role *role, char name[KEYS_NAME_MAX + 1],
    uint8_t key32[32])
{
	char *line, *next, *val;
	size_t lineno = 0, klen;
	bool have_magic = false, have_role = false, have_name = false;
	bool have_key = false;
	int r;

	for (line = buf; line != NULL && *line != '\0'; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		klen = strlen(line);
		if (klen > 0 && line[klen - 1] == '\r')
			line[--klen] = '\0';
		if (klen == 0 || line[0] == '#')
			continue;
		if (!have_magic) {
			if (strcmp(line, magic) != 0)
				return cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: "
				    "expected '%s'", path, lineno, magic);
			have_magic = true;
			continue;
		}
		if ((val = strchr(line, ' ')) == NULL)
			return cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: expected "
			    "'KEY VALUE'", path, lineno);
		*val++ = '\0';
		if (strcmp(line, "role") == 0 && !have_role) {
			if (keys_role_parse(val, role) != CAIRN_OK)
				return cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: "
				    "unknown role", path, lineno);
			have_role = true;
		} else if (strcmp(line, "name") == 0 && !have_name) {
			if (!keys_name_is_valid(val))
				return cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: "
				    "invalid name", path, lineno);
			snprintf(name, KEYS_NAME_MAX + 1, "%s", val);
			have_name = true;
		} else if (strcmp(line, keyword) == 0 && !have_key) {
			size_t bl = 0;

			r = sodium_base642bin(key32, 32, val, strlen(val),
			    NULL, &bl, NULL, sodium_base64_VARIANT_ORIGINAL);
			if (r != 0 || bl != 32)
				return cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: "
				    "'%s' is not base64 of 32 bytes", path,
				    lineno, keyword);
			have_key = true;
		} else {
			return cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: unexpected "
			    "or repeated key '%s'", path, lineno, line);
		}
	}
	if (!have_magic)
		return cairn_err(CAIRN_ERR_FORMAT, "%s: empty, expected '%s'",
		    path, magic);
	if (!have_role || !have_name || !have_key)
		return cairn_err(CAIRN_ERR_FORMAT, "%s: missing '%s'", path,
		    !have_role ? "role" : !have_name ? "name" : keyword);
	return CAIRN_OK;
}

int
keys_identity_save(const struct keys_identity *id, const char *path)
{
	/* seed = first 32 bytes of libsodium's secret key */
	enum { TEXT_MAX = 256 + KEYS_NAME_MAX };
	char *text;
	char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
	int n, r;

	if ((text = sodium_malloc(TEXT_MAX)) == NULL)
		return CAIRN_ERR_NOMEM;
	sodium_bin2base64(b64, sizeof(b64), id->sk, 32,
	    sodium_base64_VARIANT_ORIGINAL);
	n = snprintf(text, TEXT_MAX, "# cairn identity key: SECRET, keep "
	    "this file 0600 and never copy it off this host\n%s\nrole %s\n"
	    "name %s\nseed %s\n", IDENTITY_MAGIC, keys_role_name(id->role),
	    id->name, b64);
	sodium_memzero(b64, sizeof(b64));
	if (n < 0 || n >= TEXT_MAX) {
		sodium_free(text);
		return cairn_err(CAIRN_ERR_INTERNAL, "identity text too long");
	}
	r = keys_file_write(path, text, (size_t)n, true);
	sodium_free(text);
	return r;
}

int
keys_identity_save_public(const struct keys_identity *id, const char *path)
{
	char text[256 + KEYS_NAME_MAX];
	char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
	int n;

	sodium_bin2base64(b64, sizeof(b64), id->pk, 32,
	    sodium_base64_VARIANT_ORIGINAL);
	n = snprintf(text, sizeof(text), "%s\nrole %s\nname %s\npublic %s\n",
	    PUBLIC_MAGIC, keys_role_name(id->role), id->name, b64);
	if (n < 0 || (size_t)n >= sizeof(text))
		return cairn_err(CAIRN_ERR_INTERNAL, "public text too long");
	return keys_file_write(path, text, (size_t)n, false);
}

int
keys_identity_load(const char *path, struct keys_identity **out)
{
	struct keys_identity *id = NULL;
	uint8_t *buf = NULL, *seed = NULL;
	size_t len = 0;
	enum keys_role role = KEYS_ROLE_NODE;
	char name[KEYS_NAME_MAX + 1] = "";
	int r;

	if ((r = keys_secret_read(path, &buf, &len)) != CAIRN_OK)
		return r;
	if ((seed = sodium_malloc(32)) == NULL) {
		r = CAIRN_ERR_NOMEM;
		goto out;
	}
	if ((r = parse_keyfile(path, (char *)buf, IDENTITY_MAGIC, "seed",
	    &role, name, seed)) != CAIRN_OK)
		goto out;
	if ((r = identity_new(role, name, &id)) != CAIRN_OK)
		goto out;
	crypto_sign_seed_keypair(id->pk, id->sk, seed);
	*out = id;
	id = NULL;
	r = CAIRN_OK;
out:
	if (seed != NULL)
		sodium_free(seed);
	keys_secret_free(buf, len);
	keys_identity_free(id);
	return r;
}

int
keys_public_load(const char *path, struct keys_public *out)
{
	struct keys_public p;
	char *buf = NULL;
	size_t len;
	int r;

	memset(&p, 0, sizeof(p));
	if ((r = keys_file_read(path, &buf, &len)) != CAIRN_OK)
		return r;
	r = parse_keyfile(path, buf, PUBLIC_MAGIC, "public", &p.role, p.name,
	    p.pk);
	free(buf);
	if (r == CAIRN_OK)
		*out = p;
	return r;
}

/* ----------------------------------------------------------- signatures */

static bool
purpose_is_valid(const char *purpose, size_t *lenp)
{
	size_t n;

	if (purpose == NULL)
		return false;
	n = strlen(purpose);
	if (n == 0 || n > KEYS_PURPOSE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = purpose[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '-'))
			return false;
	}
	*lenp = n;
	return true;
}

/*
 * Build "cairn/v1/<purpose>\n" || msg in one malloc'd buffer: the exact
 * bytes Ed25519 signs (the message itself is public).
 */
static int
build_signed(const char *purpose, const uint8_t *msg, size_t len,
    uint8_t **outp, size_t *outlen)
{
	size_t plen, pre;
	uint8_t *m;

	if (!purpose_is_valid(purpose, &plen))
		return CAIRN_ERR_ARG;
	pre = sizeof(SIGN_PREFIX) - 1 + plen + 1;
	if (len > SIZE_MAX - pre)
		return CAIRN_ERR_TOOBIG;
	if ((m = malloc(pre + len + 1)) == NULL)
		return CAIRN_ERR_NOMEM;
	memcpy(m, SIGN_PREFIX, sizeof(SIGN_PREFIX) - 1);
	memcpy(m + sizeof(SIGN_PREFIX) - 1, purpose, plen);
	m[pre - 1] = '\n';
	if (len > 0)
		memcpy(m + pre, msg, len);
	*outp = m;
	*outlen = pre + len;
	return CAIRN_OK;
}

int
keys_sign(const struct keys_identity *id, const char *purpose,
    const uint8_t *msg, size_t len, uint8_t sig[static KEYS_SIG_LEN])
{
	uint8_t *m;
	size_t mlen;
	int r;

	if ((r = build_signed(purpose, msg, len, &m, &mlen)) != CAIRN_OK)
		return r == CAIRN_ERR_ARG ? cairn_err(r, "invalid signature "
		    "purpose") : r;
	crypto_sign_detached(sig, NULL, m, mlen, id->sk);
	free(m);
	return CAIRN_OK;
}

int
keys_verify(const uint8_t pk[static KEYS_PK_LEN], const char *purpose,
    const uint8_t *msg, size_t len, const uint8_t sig[static KEYS_SIG_LEN])
{
	uint8_t *m;
	size_t mlen;
	int r;

	if (sodium_init() < 0)
		return cairn_err(CAIRN_ERR_CRYPTO, "libsodium failed to start");
	if ((r = build_signed(purpose, msg, len, &m, &mlen)) != CAIRN_OK)
		return r == CAIRN_ERR_ARG ? cairn_err(CAIRN_ERR_SIGNATURE,
		    "invalid signature purpose") : r;
	r = crypto_sign_verify_detached(sig, m, mlen, pk);
	free(m);
	if (r != 0)
		return cairn_err(CAIRN_ERR_SIGNATURE, "%s signature does not "
		    "verify", purpose);
	return CAIRN_OK;
}

int
keys_sign_note(const struct keys_identity *id, const uint8_t *text,
    size_t len, uint8_t sig[static KEYS_SIG_LEN])
{
	crypto_sign_detached(sig, NULL, text, len, id->sk);
	return CAIRN_OK;
}

int
keys_verify_note(const uint8_t pk[static KEYS_PK_LEN], const uint8_t *text,
    size_t len, const uint8_t sig[static KEYS_SIG_LEN])
{
	if (sodium_init() < 0)
		return cairn_err(CAIRN_ERR_CRYPTO, "libsodium failed to start");
	if (crypto_sign_verify_detached(sig, text, len, pk) != 0)
		return cairn_err(CAIRN_ERR_SIGNATURE, "note signature does "
		    "not verify");
	return CAIRN_OK;
}
