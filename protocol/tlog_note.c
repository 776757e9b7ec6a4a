/*
 * tlog_note.c - C2SP signed notes, verifier keys, checkpoints and
 * timestamped Ed25519 cosignatures (signed-note, tlog-checkpoint,
 * tlog-cosignature).
 *
 * Parsing is strict and bounded: a note is refused when it is larger
 * than TLOG_NOTE_MAX, when its text is not UTF-8 free of control bytes
 * other than '\n', or when any signature line is malformed.  Signatures
 * from keys the verifier does not know are kept but never count.
 * Ed25519 is libsodium's; nothing here sees a private key.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/err.h"
#include "protocol/tlog_note.h"

/* "— " : U+2014 EM DASH and a space. */
static const char sig_prefix[] = "\xe2\x80\x94 ";
#define SIG_PREFIX_LEN	4
#define COSIG_HDR_MAX	64

int
tlog_b64_decode(const char *s, size_t len, uint8_t *out, size_t cap,
    size_t *out_len)
{
	size_t n;
	const char *end;

	if (len == 0 || len % 4 != 0)
		return cairn_err(CAIRN_ERR_FORMAT, "base64 of %zu characters "
		    "is not a multiple of 4", len);
	if (sodium_base642bin(out, cap, s, len, NULL, &n, &end,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || end != s + len)
		return cairn_err(CAIRN_ERR_FORMAT, "invalid base64 or over %zu "
		    "bytes", cap);
	*out_len = n;
	return CAIRN_OK;
}

size_t
tlog_b64_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
	size_t need = sodium_base64_ENCODED_LEN(len,
	    sodium_base64_VARIANT_ORIGINAL);

	if (need > cap)
		return 0;
	sodium_bin2base64(out, cap, in, len, sodium_base64_VARIANT_ORIGINAL);
	return need - 1;
}

void
tlog_key_id(const char *name, uint8_t type, const uint8_t pub[32],
    uint8_t out[4])
{
	crypto_hash_sha256_state st;
	uint8_t h[crypto_hash_sha256_BYTES];
	uint8_t sep[2] = { '\n', type };

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)name, strlen(name));
	crypto_hash_sha256_update(&st, sep, 2);
	crypto_hash_sha256_update(&st, pub, 32);
	crypto_hash_sha256_final(&st, h);
	memcpy(out, h, 4);
}

/* A key name: 1..TLOG_NAME_MAX bytes, no '+', no space or control byte. */
static bool
name_is_valid(const char *s, size_t len)
{
	if (len == 0 || len > TLOG_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c == 0x7f || c == '+')
			return false;
	}
	return true;
}

/*
 * True when s[0..len) is UTF-8 (shortest forms, no surrogates) without
 * control characters other than '\n'.
 */
static bool
text_is_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		unsigned char c = p[i];
		uint32_t cp;
		size_t k;

		if (c < 0x80) {
			if ((c < 0x20 && c != '\n') || c == 0x7f)
				return false;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			cp = c & 0x07;
		} else
			return false;
		if (len - i <= k)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + j] & 0x3f);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

int
tlog_verifier_parse(const char *vkey, struct tlog_verifier *out)
{
	struct tlog_verifier v;
	const char *p1, *p2;
	uint8_t key[1 + 32 + 1], id[4];
	size_t name_len, klen;
	int r;

	memset(&v, 0, sizeof(v));
	/* name+hash+key: split on the first two '+' (base64 has '+'). */
	if ((p1 = strchr(vkey, '+')) == NULL ||
	    (p2 = strchr(p1 + 1, '+')) == NULL)
		return cairn_err(CAIRN_ERR_FORMAT, "verifier key '%.40s' is not "
		    "name+keyid+key", vkey);
	name_len = (size_t)(p1 - vkey);
	if (!name_is_valid(vkey, name_len))
		return cairn_err(CAIRN_ERR_FORMAT, "verifier key '%.40s': "
		    "invalid key name", vkey);
	memcpy(v.name, vkey, name_len);
	v.name[name_len] = '\0';
	if (p2 - p1 - 1 != 8)
		return cairn_err(CAIRN_ERR_FORMAT, "verifier key '%s': key ID "
		    "is not 8 hex digits", v.name);
	for (int i = 0; i < 4; i++) {
		unsigned hi, lo;
		char c1 = p1[1 + 2 * i], c2 = p1[2 + 2 * i];

		if (!((c1 >= '0' && c1 <= '9') || (c1 >= 'a' && c1 <= 'f')) ||
		    !((c2 >= '0' && c2 <= '9') || (c2 >= 'a' && c2 <= 'f')))
			return cairn_err(CAIRN_ERR_FORMAT, "verifier key '%s': "
			    "key ID is not lowercase hex", v.name);
		hi = c1 <= '9' ? (unsigned)(c1 - '0') :
		    (unsigned)(c1 - 'a' + 10);
		lo = c2 <= '9' ? (unsigned)(c2 - '0') :
		    (unsigned)(c2 - 'a' + 10);
		id[i] = (uint8_t)(hi << 4 | lo);
	}
	if ((r = tlog_b64_decode(p2 + 1, strlen(p2 + 1), key, sizeof(key),
	    &klen)) != CAIRN_OK)
		return cairn_err(CAIRN_ERR_FORMAT, "verifier key '%s': key is "
		    "not base64", v.name);
	if (klen != 33)
		return cairn_err(CAIRN_ERR_FORMAT, "verifier key '%s': key is "
		    "%zu bytes, not 33", v.name, klen);
	if (key[0] != TLOG_KEY_ED25519 && key[0] != TLOG_KEY_COSIGNATURE)
		return cairn_err(CAIRN_ERR_UNSUPPORTED, "verifier key '%s': "
		    "unknown key type 0x%02x", v.name, key[0]);
	v.type = key[0];
	memcpy(v.pub, key + 1, 32);
	tlog_key_id(v.name, v.type, v.pub, v.key_id);
	if (memcmp(v.key_id, id, 4) != 0)
		return cairn_err(CAIRN_ERR_FORMAT, "verifier key '%s': key ID "
		    "does not match the key", v.name);
	*out = v;
	return CAIRN_OK;
}

int
tlog_verifier_format(const char *name, uint8_t type, const uint8_t pub[32],
    char *out, size_t cap)
{
	uint8_t key[33], id[4];
	char b64[64];
	int n;

	if (!name_is_valid(name, strlen(name)))
		return cairn_err(CAIRN_ERR_FORMAT, "invalid key name '%.40s'",
		    name);
	key[0] = type;
	memcpy(key + 1, pub, 32);
	tlog_key_id(name, type, pub, id);
	tlog_b64_encode(key, sizeof(key), b64, sizeof(b64));
	n = snprintf(out, cap, "%s+%02x%02x%02x%02x+%s", name, id[0], id[1],
	    id[2], id[3], b64);
	if (n < 0 || (size_t)n >= cap)
		return cairn_err(CAIRN_ERR_TOOBIG, "verifier key of '%s' needs "
		    "%d bytes", name, n + 1);
	return CAIRN_OK;
}

/* Parse one signature line s[0..len) (without its '\n'). */
static int
parse_sig_line(const char *s, size_t len, size_t lineno,
    struct tlog_note_sig *sig)
{
	const char *name, *sp;
	uint8_t raw[4 + TLOG_SIG_MAX];
	size_t name_len, n;

	if (len < SIG_PREFIX_LEN || memcmp(s, sig_prefix, SIG_PREFIX_LEN) != 0)
		return cairn_err(CAIRN_ERR_FORMAT, "note signature line %zu "
		    "does not start with an em dash and a space", lineno);
	name = s + SIG_PREFIX_LEN;
	sp = memchr(name, ' ', len - SIG_PREFIX_LEN);
	if (sp == NULL)
		return cairn_err(CAIRN_ERR_FORMAT, "note signature line %zu "
		    "has no signature", lineno);
	name_len = (size_t)(sp - name);
	if (!name_is_valid(name, name_len))
		return cairn_err(CAIRN_ERR_FORMAT, "note signature line %zu: "
		    "invalid key name", lineno);
	if (tlog_b64_decode(sp + 1, len - (size_t)(sp + 1 - s), raw,
	    sizeof(raw), &n) != CAIRN_OK)
		return cairn_err(CAIRN_ERR_FORMAT, "note signature line %zu: "
		    "signature is not base64 of at most %d bytes", lineno,
		    4 + TLOG_SIG_MAX);
	if (n < 5)
		return cairn_err(CAIRN_ERR_FORMAT, "note signature line %zu: "
		    "signature of %zu bytes is too short", lineno, n);
	memcpy(sig->name, name, name_len);
	sig->name[name_len] = '\0';
	memcpy(sig->key_id, raw, 4);
	memcpy(sig->sig, raw + 4, n - 4);
	sig->sig_len = n - 4;
	return CAIRN_OK;
}

int
tlog_note_parse(const char *buf, size_t len, struct tlog_note **out)
{
	struct tlog_note *n = NULL;
	const char *sigs, *p, *end;
	size_t text_len = 0, lineno;
	int r;

	if (len > TLOG_NOTE_MAX)
		return cairn_err(CAIRN_ERR_TOOBIG, "note of %zu bytes is over "
		    "the %d-byte limit", len, TLOG_NOTE_MAX);
	if (memchr(buf, '\0', len) != NULL)
		return cairn_err(CAIRN_ERR_FORMAT, "note contains a NUL byte");
	/* The signatures follow the last blank line. */
	for (size_t i = len; i >= 2; i--) {
		if (buf[i - 1] == '\n' && buf[i - 2] == '\n') {
			text_len = i - 1;
			break;
		}
	}
	if (text_len == 0)
		return cairn_err(CAIRN_ERR_FORMAT, "note has no blank line "
		    "before its signatures");
	if (!text_is_valid(buf, len))
		return cairn_err(CAIRN_ERR_FORMAT, "note is not UTF-8 text "
		    "without control characters");
	if (len == text_len + 1 || buf[len - 1] != '\n')
		return cairn_err(CAIRN_ERR_FORMAT, "note signatures are "
		    "missing or do not end in a newline");
	if ((n = calloc(1, sizeof(*n))) == NULL ||
	    (n->text = malloc(text_len + 1)) == NULL) {
		r = cairn_err(CAIRN_ERR_NOMEM, "note of %zu bytes", len);
		goto out;
	}
	memcpy(n->text, buf, text_len);
	n->text[text_len] = '\0';
	n->text_len = text_len;
	sigs = buf + text_len + 1;
	end = buf + len;
	lineno = 1;
	for (p = sigs; p < end; lineno++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (n->nsigs == TLOG_NOTE_MAX_SIGS) {
			r = cairn_err(CAIRN_ERR_TOOBIG, "note has more than %d "
			    "signatures", TLOG_NOTE_MAX_SIGS);
			goto out;
		}
		if ((r = parse_sig_line(p, (size_t)(nl - p), lineno,
		    &n->sigs[n->nsigs])) != CAIRN_OK)
			goto out;
		n->nsigs++;
		p = nl + 1;
	}
	*out = n;
	n = NULL;
	r = CAIRN_OK;
out:
	tlog_note_free(n);
	return r;
}

void
tlog_note_free(struct tlog_note *n)
{
	if (n == NULL)
		return;
	free(n->text);
	free(n);
}

static size_t
cosig_header(uint64_t time, char *out, size_t cap)
{
	int k = snprintf(out, cap, "cosignature/v1\ntime %" PRIu64 "\n", time);

	return k < 0 || (size_t)k >= cap ? 0 : (size_t)k;
}

static uint64_t
load_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* Does 'sig' verify as a signature of 'key' on 'text'? */
static bool
sig_verifies(const struct tlog_note_sig *sig, const struct tlog_verifier *key,
    const char *text, size_t text_len)
{
	char hdr[COSIG_HDR_MAX];
	uint8_t *msg;
	size_t hl;
	bool ok;

	if (strcmp(sig->name, key->name) != 0 ||
	    memcmp(sig->key_id, key->key_id, 4) != 0)
		return false;
	if (key->type == TLOG_KEY_ED25519) {
		if (sig->sig_len != 64)
			return false;
		return crypto_sign_verify_detached(sig->sig,
		    (const uint8_t *)text, text_len, key->pub) == 0;
	}
	if (sig->sig_len != 8 + 64)
		return false;
	hl = cosig_header(load_be64(sig->sig), hdr, sizeof(hdr));
	if (hl == 0 || (msg = malloc(hl + text_len)) == NULL)
		return false;
	memcpy(msg, hdr, hl);
	memcpy(msg + hl, text, text_len);
	ok = crypto_sign_verify_detached(sig->sig + 8, msg, hl + text_len,
	    key->pub) == 0;
	free(msg);
	return ok;
}

int
tlog_note_verify(const struct tlog_note *n, const struct tlog_verifier *keys,
    size_t nkeys, size_t quorum, size_t *nvalid, bool *valid)
{
	size_t count = 0;

	if (quorum == 0 || quorum > nkeys)
		return cairn_err(CAIRN_ERR_ARG, "quorum %zu is not within 1..%zu "
		    "keys", quorum, nkeys);
	for (size_t k = 0; k < nkeys; k++) {
		bool ok = false;

		for (size_t i = 0; i < n->nsigs && !ok; i++)
			ok = sig_verifies(&n->sigs[i], &keys[k], n->text,
			    n->text_len);
		if (valid != NULL)
			valid[k] = ok;
		if (ok)
			count++;
	}
	if (nvalid != NULL)
		*nvalid = count;
	if (count < quorum)
		return cairn_err(CAIRN_ERR_SIGNATURE, "%zu of %zu keys signed "
		    "the note, %zu needed", count, nkeys, quorum);
	return CAIRN_OK;
}

/* Format "— name base64(id || raw)\n" into out; returns its length or 0. */
static size_t
sig_line(const char *name, const uint8_t id[4], const uint8_t *raw,
    size_t raw_len, char *out, size_t cap)
{
	uint8_t buf[4 + TLOG_SIG_MAX];
	char b64[2 * (4 + TLOG_SIG_MAX)];
	int k;

	memcpy(buf, id, 4);
	memcpy(buf + 4, raw, raw_len);
	if (tlog_b64_encode(buf, 4 + raw_len, b64, sizeof(b64)) == 0)
		return 0;
	k = snprintf(out, cap, "%s%s %s\n", sig_prefix, name, b64);
	return k < 0 || (size_t)k >= cap ? 0 : (size_t)k;
}

static int
check_text(const char *text, size_t len)
{
	if (len == 0 || text[len - 1] != '\n')
		return cairn_err(CAIRN_ERR_FORMAT, "note text must end in a "
		    "newline");
	if (len > TLOG_NOTE_MAX / 2)
		return cairn_err(CAIRN_ERR_TOOBIG, "note text of %zu bytes is "
		    "too long", len);
	if (memchr(text, '\0', len) != NULL || !text_is_valid(text, len))
		return cairn_err(CAIRN_ERR_FORMAT, "note text is not UTF-8 "
		    "without control characters");
	for (size_t i = 1; i < len; i++)
		if (text[i] == '\n' && text[i - 1] == '\n')
			return cairn_err(CAIRN_ERR_FORMAT, "note text has a "
			    "blank line");
	return CAIRN_OK;
}

int
tlog_note_sign(const char *text, size_t len, const struct tlog_signer *signers,
    size_t n, char **out, size_t *out_len)
{
	char *buf = NULL;
	size_t cap, at;
	uint8_t sig[64], id[4];
	int r;

	if ((r = check_text(text, len)) != CAIRN_OK)
		return r;
	if (n == 0 || n > TLOG_NOTE_MAX_SIGS)
		return cairn_err(CAIRN_ERR_ARG, "%zu signers, want 1..%d", n,
		    TLOG_NOTE_MAX_SIGS);
	cap = len + 2 + n * (SIG_PREFIX_LEN + TLOG_NAME_MAX + 2 + 96);
	if ((buf = malloc(cap)) == NULL)
		return cairn_err(CAIRN_ERR_NOMEM, "note of %zu bytes", cap);
	memcpy(buf, text, len);
	buf[len] = '\n';
	at = len + 1;
	for (size_t i = 0; i < n; i++) {
		size_t k;

		if (!name_is_valid(signers[i].name, strlen(signers[i].name))) {
			r = cairn_err(CAIRN_ERR_FORMAT, "invalid signer name "
			    "'%.40s'", signers[i].name);
			goto out;
		}
		if ((r = signers[i].sign(signers[i].ctx, (const uint8_t *)text,
		    len, sig)) != CAIRN_OK)
			goto out;
		tlog_key_id(signers[i].name, TLOG_KEY_ED25519, signers[i].pub,
		    id);
		k = sig_line(signers[i].name, id, sig, 64, buf + at, cap - at);
		if (k == 0) {
			r = cairn_err(CAIRN_ERR_INTERNAL, "signature line of "
			    "'%s' does not fit", signers[i].name);
			goto out;
		}
		at += k;
	}
	*out = buf;
	*out_len = at;
	buf = NULL;
	r = CAIRN_OK;
out:
	free(buf);
	return r;
}

int
tlog_note_add_lines(const char *note, size_t note_len, const char *lines,
    size_t len, char **out, size_t *out_len)
{
	struct tlog_note *n = NULL;
	char *buf;
	int r;

	if (note_len > TLOG_NOTE_MAX || len > TLOG_NOTE_MAX - note_len)
		return cairn_err(CAIRN_ERR_TOOBIG, "note would exceed %d bytes",
		    TLOG_NOTE_MAX);
	if ((buf = malloc(note_len + len + 1)) == NULL)
		return cairn_err(CAIRN_ERR_NOMEM, "note of %zu bytes",
		    note_len + len);
	memcpy(buf, note, note_len);
	memcpy(buf + note_len, lines, len);
	buf[note_len + len] = '\0';
	/* The result must still parse, with the same text. */
	if ((r = tlog_note_parse(buf, note_len + len, &n)) != CAIRN_OK) {
		free(buf);
		return r;
	}
	if (n->text_len >= note_len || memcmp(n->text, note, n->text_len)) {
		tlog_note_free(n);
		free(buf);
		return cairn_err(CAIRN_ERR_FORMAT, "added lines change the "
		    "note text");
	}
	tlog_note_free(n);
	*out = buf;
	*out_len = note_len + len;
	return CAIRN_OK;
}

/* Next line of text[*at..len) without its '\n'; false at the end. */
static bool
next_line(const char *text, size_t len, size_t *at, const char **line,
    size_t *line_len)
{
	const char *nl;

	if (*at >= len)
		return false;
	nl = memchr(text + *at, '\n', len - *at);
	if (nl == NULL)
		return false;
	*line = text + *at;
	*line_len = (size_t)(nl - *line);
	*at = (size_t)(nl - text) + 1;
	return true;
}

int
tlog_checkpoint_parse(const char *text, size_t len, struct tlog_checkpoint *out)
{
	struct tlog_checkpoint cp;
	const char *l;
	size_t ll, at = 0, n;
	uint64_t size = 0;

	memset(&cp, 0, sizeof(cp));
	if (len == 0 || text[len - 1] != '\n')
		return cairn_err(CAIRN_ERR_FORMAT, "checkpoint does not end in "
		    "a newline");
	if (memchr(text, '\0', len) != NULL || !text_is_valid(text, len))
		return cairn_err(CAIRN_ERR_FORMAT, "checkpoint is not UTF-8 "
		    "text without control characters");
	if (!next_line(text, len, &at, &l, &ll) || ll == 0 ||
	    ll > TLOG_NAME_MAX)
		return cairn_err(CAIRN_ERR_FORMAT, "checkpoint line 1: origin "
		    "is empty or over %d bytes", TLOG_NAME_MAX);
	memcpy(cp.origin, l, ll);
	cp.origin[ll] = '\0';
	if (!next_line(text, len, &at, &l, &ll) || ll == 0 || ll > 20)
		return cairn_err(CAIRN_ERR_FORMAT, "checkpoint line 2: missing "
		    "or overlong tree size");
	if (ll > 1 && l[0] == '0')
		return cairn_err(CAIRN_ERR_FORMAT, "checkpoint line 2: tree "
		    "size has a leading zero");
	for (size_t i = 0; i < ll; i++) {
		unsigned d = (unsigned)(l[i] - '0');

		if (l[i] < '0' || l[i] > '9')
			return cairn_err(CAIRN_ERR_FORMAT, "checkpoint line 2: "
			    "tree size is not decimal");
		if (size > (UINT64_MAX - d) / 10)
			return cairn_err(CAIRN_ERR_FORMAT, "checkpoint line 2: "
			    "tree size overflows 64 bits");
		size = size * 10 + d;
	}
	cp.size = size;
	if (!next_line(text, len, &at, &l, &ll))
		return cairn_err(CAIRN_ERR_FORMAT, "checkpoint line 3: missing "
		    "root hash");
	if (tlog_b64_decode(l, ll, cp.root, sizeof(cp.root), &n) != CAIRN_OK ||
	    n != TLOG_HASH_LEN)
		return cairn_err(CAIRN_ERR_FORMAT, "checkpoint line 3: root is "
		    "not base64 of %d bytes", TLOG_HASH_LEN);
	if (len - at > TLOG_CP_EXT_MAX)
		return cairn_err(CAIRN_ERR_TOOBIG, "checkpoint extension lines "
		    "exceed %d bytes", TLOG_CP_EXT_MAX);
	memcpy(cp.ext, text + at, len - at);
	cp.ext_len = len - at;
	cp.ext[cp.ext_len] = '\0';
	for (size_t lineno = 4; next_line(text, len, &at, &l, &ll); lineno++)
		if (ll == 0)
			return cairn_err(CAIRN_ERR_FORMAT, "checkpoint line "
			    "%zu: empty extension line", lineno);
	*out = cp;
	return CAIRN_OK;
}

int
tlog_checkpoint_format(const struct tlog_checkpoint *cp, char *out,
    size_t cap, size_t *len)
{
	char b64[64];
	int k;

	if (cp->origin[0] == '\0' || strchr(cp->origin, '\n') != NULL)
		return cairn_err(CAIRN_ERR_FORMAT, "checkpoint origin is empty "
		    "or has a newline");
	if (cp->ext_len > TLOG_CP_EXT_MAX || (cp->ext_len > 0 &&
	    (cp->ext[cp->ext_len - 1] != '\n' || cp->ext[0] == '\n' ||
	    memmem(cp->ext, cp->ext_len, "\n\n", 2) != NULL)))
		return cairn_err(CAIRN_ERR_FORMAT, "checkpoint extension lines "
		    "must be non-empty lines");
	tlog_b64_encode(cp->root, TLOG_HASH_LEN, b64, sizeof(b64));
	k = snprintf(out, cap, "%s\n%" PRIu64 "\n%s\n%.*s", cp->origin,
	    cp->size, b64, (int)cp->ext_len, cp->ext);
	if (k < 0 || (size_t)k >= cap)
		return cairn_err(CAIRN_ERR_TOOBIG, "checkpoint needs %d bytes, "
		    "room for %zu", k + 1, cap);
	*len = (size_t)k;
	return CAIRN_OK;
}

int
tlog_checkpoint_open(const char *note, size_t len,
    const struct tlog_verifier *keys, size_t nkeys, size_t quorum,
    const char *origin, struct tlog_checkpoint *cp)
{
	struct tlog_note *n = NULL;
	struct tlog_checkpoint c;
	int r;

	if ((r = tlog_note_parse(note, len, &n)) != CAIRN_OK)
		return r;
	if ((r = tlog_note_verify(n, keys, nkeys, quorum, NULL, NULL)) !=
	    CAIRN_OK)
		goto out;
	if ((r = tlog_checkpoint_parse(n->text, n->text_len, &c)) != CAIRN_OK)
		goto out;
	if (origin != NULL && strcmp(origin, c.origin) != 0) {
		r = cairn_err(CAIRN_ERR_FORMAT, "checkpoint origin '%s' is not "
		    "the expected '%s'", c.origin, origin);
		goto out;
	}
	*cp = c;
	r = CAIRN_OK;
out:
	tlog_note_free(n);
	return r;
}

int
tlog_cosign(const char *text, size_t len, uint64_t time,
    const struct tlog_signer *signer, char *line, size_t cap)
{
	char hdr[COSIG_HDR_MAX];
	uint8_t *msg, raw[8 + 64], id[4];
	size_t hl;
	int r;

	if ((r = check_text(text, len)) != CAIRN_OK)
		return r;
	if (!name_is_valid(signer->name, strlen(signer->name)))
		return cairn_err(CAIRN_ERR_FORMAT, "invalid cosigner name "
		    "'%.40s'", signer->name);
	hl = cosig_header(time, hdr, sizeof(hdr));
	if ((msg = malloc(hl + len)) == NULL)
		return cairn_err(CAIRN_ERR_NOMEM, "cosigned message");
	memcpy(msg, hdr, hl);
	memcpy(msg + hl, text, len);
	r = signer->sign(signer->ctx, msg, hl + len, raw + 8);
	free(msg);
	if (r != CAIRN_OK)
		return r;
	for (int i = 0; i < 8; i++)
		raw[i] = (uint8_t)(time >> (56 - 8 * i));
	tlog_key_id(signer->name, TLOG_KEY_COSIGNATURE, signer->pub, id);
	if (sig_line(signer->name, id, raw, sizeof(raw), line, cap) == 0)
		return cairn_err(CAIRN_ERR_TOOBIG, "cosignature line does not "
		    "fit in %zu bytes", cap);
	return CAIRN_OK;
}

int
tlog_cosignature_time(const struct tlog_note *n,
    const struct tlog_verifier *key, uint64_t *time)
{
	if (key->type != TLOG_KEY_COSIGNATURE)
		return cairn_err(CAIRN_ERR_ARG, "key '%s' is not a cosignature "
		    "key", key->name);
	for (size_t i = 0; i < n->nsigs; i++) {
		if (sig_verifies(&n->sigs[i], key, n->text, n->text_len)) {
			*time = load_be64(n->sigs[i].sig);
			return CAIRN_OK;
		}
	}
	return cairn_err(CAIRN_ERR_NOTFOUND, "no valid cosignature of '%s'",
	    key->name);
}
