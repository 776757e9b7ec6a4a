/*
 * test_tlog_note.c - C2SP signed notes, verifier keys, checkpoints and
 * cosignatures: the public vectors (C2SP spec examples, golang.org/x/mod
 * sumdb/note, transparency-dev/formats), signing known answers, quorum,
 * caps and malformed input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include "common/err.h"
#include "protocol/tlog.h"
#include "protocol/tlog_note.h"
#include "tests/unit/tlog_helpers.h"

/* Text + blank line + signature lines of a vector, in a new buffer. */
static char *
vector_note(json_t *v, size_t *len)
{
	const char *text = json_string_value(json_object_get(v, "text"));
	char *buf = malloc(4096);
	json_t *l;
	size_t i, at;

	assert_non_null(buf);
	at = (size_t)snprintf(buf, 4096, "%s\n", text);
	json_array_foreach(json_object_get(v, "signature_lines"), i, l)
		at += (size_t)snprintf(buf + at, 4096 - at, "%s\n",
		    json_string_value(l));
	*len = at;
	return buf;
}

/* The seed of a "PRIVATE+KEY+name+id+base64(0x01||seed)" signer key. */
static void
skey_seed(const char *skey, char *name, size_t cap, uint8_t seed[32])
{
	const char *p = skey;
	uint8_t raw[40];
	size_t n;

	assert_int_equal(strncmp(skey, "PRIVATE+KEY+", 12), 0);
	p += 12;
	n = (size_t)(strchr(p, '+') - p);
	assert_true(n < cap);
	memcpy(name, p, n);
	name[n] = '\0';
	p = strchr(strchr(p, '+') + 1, '+') + 1;
	assert_int_equal(tlog_b64_decode(p, strlen(p), raw, sizeof(raw), &n),
	    CAIRN_OK);
	assert_int_equal(n, 33);
	assert_int_equal(raw[0], 1);
	memcpy(seed, raw + 1, 32);
}

static void
test_vector_notes(void **state)
{
	json_t *j = tlogt_load_vector("signed_notes.json"), *v;
	struct tlog_verifier keys[3];
	struct tlog_note *n;
	size_t i, len, nvalid;
	bool valid[3];
	char *buf;

	json_array_foreach(json_object_get(j, "ed25519_notes"), i, v) {
		assert_int_equal(tlog_verifier_parse(json_string_value(
		    json_object_get(v, "vkey")), &keys[i]), CAIRN_OK);
		buf = vector_note(v, &len);
		assert_int_equal(tlog_note_parse(buf, len, &n), CAIRN_OK);
		assert_int_equal(n->nsigs, 1);
		assert_string_equal(n->text, json_string_value(
		    json_object_get(v, "text")));
		assert_int_equal(tlog_note_verify(n, &keys[i], 1, 1, &nvalid,
		    NULL), CAIRN_OK);
		assert_int_equal(nvalid, 1);
		/* Tampered text: the signature no longer verifies. */
		n->text[0] ^= 0x20;
		assert_int_equal(tlog_note_verify(n, &keys[i], 1, 1, NULL,
		    NULL), CAIRN_ERR_SIGNATURE);
		tlog_note_free(n);
		free(buf);
	}
	assert_int_equal(i, 3);
	/* PeterNeumann and EnochRoot signed the same text: quorum of two. */
	{
		json_t *a = json_array_get(json_object_get(j, "ed25519_notes"),
		    1);
		json_t *b = json_array_get(json_object_get(j, "ed25519_notes"),
		    2);
		char note[2048];

		snprintf(note, sizeof(note), "%s\n%s\n%s\n",
		    json_string_value(json_object_get(a, "text")),
		    json_string_value(json_array_get(json_object_get(a,
		    "signature_lines"), 0)),
		    json_string_value(json_array_get(json_object_get(b,
		    "signature_lines"), 0)));
		assert_int_equal(tlog_note_parse(note, strlen(note), &n),
		    CAIRN_OK);
		assert_int_equal(tlog_note_verify(n, keys, 3, 2, &nvalid,
		    valid), CAIRN_OK);
		assert_int_equal(nvalid, 2);
		assert_false(valid[0]);
		assert_true(valid[1] && valid[2]);
		assert_int_equal(tlog_note_verify(n, keys, 3, 3, &nvalid,
		    NULL), CAIRN_ERR_SIGNATURE);
		/* Only the example.com/foo key: its signature is absent. */
		assert_int_equal(tlog_note_verify(n, keys, 1, 1, &nvalid,
		    NULL), CAIRN_ERR_SIGNATURE);
		assert_int_equal(nvalid, 0);
		tlog_note_free(n);
	}
	json_decref(j);
}

/* Ed25519 is deterministic: signing the vectors' texts gives their lines. */
static void
test_sign_known_answers(void **state)
{
	json_t *j = tlogt_load_vector("signed_notes.json"), *v;
	const char *lines[2];
	struct test_key k;
	uint8_t seed[32];
	char name[64], *note;
	size_t len, i;

	for (i = 1; i <= 2; i++) {
		v = json_array_get(json_object_get(j, "ed25519_notes"), i);
		if (json_object_get(v, "skey") != NULL)
			skey_seed(json_string_value(json_object_get(v, "skey")),
			    name, sizeof(name), seed);
		else {
			tlogt_hex32(json_string_value(json_object_get(v, "seed_hex")),
			    seed);
			snprintf(name, sizeof(name), "EnochRoot");
		}
		tlogt_test_key_init(&k, name, seed);
		{
			char vk[256];

			assert_int_equal(tlog_verifier_format(name,
			    TLOG_KEY_ED25519, k.pk, vk, sizeof(vk)), CAIRN_OK);
			assert_string_equal(vk, json_string_value(
			    json_object_get(v, "vkey")));
		}
		lines[0] = json_string_value(json_object_get(v, "text"));
		lines[1] = json_string_value(json_array_get(json_object_get(v,
		    "signature_lines"), 0));
		assert_int_equal(tlog_note_sign(lines[0], strlen(lines[0]),
		    &k.signer, 1, &note, &len), CAIRN_OK);
		assert_int_equal(len, strlen(note));
		{
			char want[1024];

			snprintf(want, sizeof(want), "%s\n%s\n", lines[0],
			    lines[1]);
			assert_string_equal(note, want);
		}
		free(note);
	}
	/* The transparency-dev key pairs: skey and vkey belong together. */
	json_array_foreach(json_object_get(j, "key_pairs"), i, v) {
		struct tlog_verifier vk;
		char out[256];

		skey_seed(json_string_value(json_object_get(v, "skey")), name,
		    sizeof(name), seed);
		tlogt_test_key_init(&k, name, seed);
		assert_int_equal(tlog_verifier_parse(json_string_value(
		    json_object_get(v, "vkey")), &vk), CAIRN_OK);
		assert_memory_equal(vk.pub, k.pk, 32);
		assert_int_equal(tlog_verifier_format(name, TLOG_KEY_ED25519,
		    k.pk, out, sizeof(out)), CAIRN_OK);
		assert_string_equal(out, json_string_value(json_object_get(v,
		    "vkey")));
	}
	json_decref(j);
}

static void
test_checkpoint_examples(void **state)
{
	json_t *j = tlogt_load_vector("signed_notes.json"), *ex;
	struct tlog_checkpoint cp;
	struct tlog_note *n, *n2;
	struct test_key other;
	uint8_t seed[32] = { 9 }, want[32];
	char note[1024], body[512], *with, msg[512];
	const char *line;
	size_t len, i;

	ex = json_object_get(j, "checkpoint_format_examples");
	/* behind-the-sofa: parse; an unknown key's signature never counts. */
	snprintf(note, sizeof(note), "%s", json_string_value(json_object_get(
	    json_array_get(ex, 0), "note")));
	assert_int_equal(tlog_note_parse(note, strlen(note), &n), CAIRN_OK);
	assert_int_equal(tlog_checkpoint_parse(n->text, n->text_len, &cp),
	    CAIRN_OK);
	assert_string_equal(cp.origin, "example.com/behind-the-sofa");
	assert_int_equal(cp.size, 20852163);
	assert_int_equal(tlog_checkpoint_format(&cp, body, sizeof(body), &len),
	    CAIRN_OK);
	assert_string_equal(body, n->text);
	tlogt_test_key_init(&other, "example.com/behind-the-sofa", seed);
	assert_int_equal(tlog_note_verify(n, &other.verifier, 1, 1, NULL,
	    NULL), CAIRN_ERR_SIGNATURE);
	/* The cosignature example: keyID || u64 time || signature. */
	line = json_string_value(json_object_get(json_array_get(ex, 1),
	    "cosignature_line"));
	snprintf(msg, sizeof(msg), "%s\n", line);
	assert_int_equal(tlog_note_add_lines(note, strlen(note), msg,
	    strlen(msg), &with, &len), CAIRN_OK);
	assert_int_equal(tlog_note_parse(with, len, &n2), CAIRN_OK);
	assert_int_equal(n2->nsigs, 2);
	assert_string_equal(n2->sigs[1].name, "witness.example.com/w1");
	assert_int_equal(n2->sigs[1].sig_len, 8 + 64);
	{
		uint64_t t = 0;

		for (i = 0; i < 8; i++)
			t = t << 8 | n2->sigs[1].sig[i];
		assert_int_equal(t, 1679315147);
		snprintf(msg, sizeof(msg), "cosignature/v1\ntime %llu\n%s",
		    (unsigned long long)t, n2->text);
		assert_string_equal(msg, json_string_value(json_object_get(
		    json_array_get(ex, 1), "cosigned_message_example")));
	}
	tlog_note_free(n2);
	free(with);
	tlog_note_free(n);
	/* transparency-dev: the hash field is 7 bytes, not a SHA-256 root. */
	line = json_string_value(json_object_get(json_array_get(ex, 2),
	    "body"));
	assert_int_equal(tlog_checkpoint_parse(line, strlen(line), &cp),
	    CAIRN_ERR_FORMAT);
	assert_non_null(strstr(cairn_errmsg(), "line 3"));
	/* go.sum tree: a 12-digit size, root = leaf hash of "hello world". */
	line = json_string_value(json_object_get(json_array_get(ex, 3),
	    "body"));
	assert_int_equal(tlog_checkpoint_parse(line, strlen(line), &cp),
	    CAIRN_OK);
	assert_string_equal(cp.origin, "go.sum database tree");
	assert_int_equal(cp.size, 123456789012ULL);
	tlog_leaf_hash((const uint8_t *)"hello world", 11, want);
	assert_memory_equal(cp.root, want, 32);
	assert_int_equal(cp.ext_len, 0);
	json_decref(j);
}

static void
test_cosign_roundtrip(void **state)
{
	struct test_key log, w1, w2;
	uint8_t s1[32] = { 1 }, s2[32] = { 2 }, s3[32] = { 3 };
	struct tlog_checkpoint cp;
	struct tlog_verifier keys[3];
	struct tlog_note *n;
	char body[256], line[512], lines[1024], *note, *all;
	size_t blen, len, alen;
	uint64_t t;

	tlogt_test_key_init(&log, "log.example", s1);
	tlogt_test_key_init(&w1, "w1.example", s2);
	tlogt_test_key_init(&w2, "w2.example", s3);
	memset(&cp, 0, sizeof(cp));
	strcpy(cp.origin, "log.example");
	cp.size = 42;
	memset(cp.root, 0xab, 32);
	strcpy(cp.ext, "ext one\nanother\n");
	cp.ext_len = strlen(cp.ext);
	assert_int_equal(tlog_checkpoint_format(&cp, body, sizeof(body), &blen),
	    CAIRN_OK);
	assert_int_equal(tlog_note_sign(body, blen, &log.signer, 1, &note,
	    &len), CAIRN_OK);
	assert_int_equal(tlog_cosign(body, blen, 1700000000, &w1.signer, line,
	    sizeof(line)), CAIRN_OK);
	strcpy(lines, line);
	assert_int_equal(tlog_cosign(body, blen, 1700000005, &w2.signer, line,
	    sizeof(line)), CAIRN_OK);
	strcat(lines, line);
	assert_int_equal(tlog_note_add_lines(note, len, lines, strlen(lines),
	    &all, &alen), CAIRN_OK);
	keys[0] = log.verifier;
	keys[1] = w1.cosigner;
	keys[2] = w2.cosigner;
	assert_int_equal(tlog_checkpoint_open(all, alen, keys, 3, 3,
	    "log.example", &cp), CAIRN_OK);
	assert_string_equal(cp.ext, "ext one\nanother\n");
	assert_int_equal(tlog_checkpoint_open(all, alen, keys, 3, 3,
	    "other.example", &cp), CAIRN_ERR_FORMAT);
	assert_int_equal(tlog_note_parse(all, alen, &n), CAIRN_OK);
	assert_int_equal(tlog_cosignature_time(n, &w2.cosigner, &t), CAIRN_OK);
	assert_int_equal(t, 1700000005);
	assert_int_equal(tlog_cosignature_time(n, &w1.cosigner, &t), CAIRN_OK);
	assert_int_equal(t, 1700000000);
	/* A cosignature is not a plain signature and vice versa. */
	assert_int_equal(tlog_note_verify(n, &w1.verifier, 1, 1, NULL, NULL),
	    CAIRN_ERR_SIGNATURE);
	{
		struct tlog_verifier lc = log.cosigner;

		assert_int_equal(tlog_note_verify(n, &lc, 1, 1, NULL, NULL),
		    CAIRN_ERR_SIGNATURE);
	}
	/* A changed timestamp breaks the cosignature. */
	n->sigs[1].sig[7] ^= 1;
	assert_int_equal(tlog_note_verify(n, &keys[1], 1, 1, NULL, NULL),
	    CAIRN_ERR_SIGNATURE);
	assert_int_equal(tlog_cosignature_time(n, &w1.cosigner, &t),
	    CAIRN_ERR_NOTFOUND);
	tlog_note_free(n);
	/* A forged (flipped) log signature fails, the witnesses still count. */
	{
		char *p = strstr(all, "\xe2\x80\x94 log.example ");
		char *sig = p + strlen("\xe2\x80\x94 log.example ") + 10;

		*sig = *sig == 'A' ? 'B' : 'A';
		assert_int_equal(tlog_checkpoint_open(all, alen, keys, 3, 3,
		    NULL, &cp), CAIRN_ERR_SIGNATURE);
		assert_int_equal(tlog_checkpoint_open(all, alen, keys + 1, 2,
		    2, NULL, &cp), CAIRN_OK);
	}
	free(all);
	free(note);
}

static void
test_many_signatures(void **state)
{
	enum { N = 20 };
	static struct test_key k[TLOG_NOTE_MAX_SIGS + 1];
	struct tlog_signer signers[TLOG_NOTE_MAX_SIGS + 1];
	struct tlog_verifier keys[TLOG_NOTE_MAX_SIGS + 1];
	const char *text = "origin\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
	struct tlog_note *n;
	char *note, *more;
	size_t len, nvalid, mlen;

	for (int i = 0; i <= TLOG_NOTE_MAX_SIGS; i++) {
		uint8_t seed[32] = { (uint8_t)i, 0x55 };
		char name[32];

		snprintf(name, sizeof(name), "signer%d", i);
		tlogt_test_key_init(&k[i], name, seed);
		signers[i] = k[i].signer;
		keys[i] = k[i].verifier;
	}
	assert_int_equal(tlog_note_sign(text, strlen(text), signers, N, &note,
	    &len), CAIRN_OK);
	assert_int_equal(tlog_note_parse(note, len, &n), CAIRN_OK);
	assert_int_equal(n->nsigs, N);
	assert_int_equal(tlog_note_verify(n, keys, N, N, &nvalid, NULL),
	    CAIRN_OK);
	assert_int_equal(nvalid, N);
	assert_int_equal(tlog_note_verify(n, keys, N, 0, &nvalid, NULL),
	    CAIRN_ERR_ARG);
	tlog_note_free(n);
	free(note);
	/* The cap: TLOG_NOTE_MAX_SIGS lines parse, one more does not. */
	assert_int_equal(tlog_note_sign(text, strlen(text), signers,
	    TLOG_NOTE_MAX_SIGS, &note, &len), CAIRN_OK);
	assert_int_equal(tlog_note_parse(note, len, &n), CAIRN_OK);
	tlog_note_free(n);
	{
		char line[512];
		uint8_t id[4];
		uint8_t sig[64];
		char b64[200];
		uint8_t raw[68];

		tlog_key_id(k[TLOG_NOTE_MAX_SIGS].name, 1,
		    k[TLOG_NOTE_MAX_SIGS].pk, id);
		crypto_sign_detached(sig, NULL, (const uint8_t *)text,
		    strlen(text), k[TLOG_NOTE_MAX_SIGS].sk);
		memcpy(raw, id, 4);
		memcpy(raw + 4, sig, 64);
		tlog_b64_encode(raw, 68, b64, sizeof(b64));
		snprintf(line, sizeof(line), "\xe2\x80\x94 %s %s\n",
		    k[TLOG_NOTE_MAX_SIGS].name, b64);
		assert_int_equal(tlog_note_add_lines(note, len, line,
		    strlen(line), &more, &mlen), CAIRN_ERR_TOOBIG);
	}
	free(note);
	assert_int_equal(tlog_note_sign(text, strlen(text), signers,
	    TLOG_NOTE_MAX_SIGS + 1, &note, &len), CAIRN_ERR_ARG);
}

static void
expect_parse_error(const char *note, int code, const char *needle)
{
	struct tlog_note *n = NULL;

	assert_int_equal(tlog_note_parse(note, strlen(note), &n), code);
	assert_null(n);
	if (needle != NULL && strstr(cairn_errmsg(), needle) == NULL)
		fail_msg("'%s' lacks '%s'", cairn_errmsg(), needle);
}

static void
test_note_malformed(void **state)
{
	const char *sig = "\xe2\x80\x94 k Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
	char buf[512], *big;

	snprintf(buf, sizeof(buf), "text\n%s", sig);
	expect_parse_error(buf, CAIRN_ERR_FORMAT, "blank line");
	snprintf(buf, sizeof(buf), "text\n\n");
	expect_parse_error(buf, CAIRN_ERR_FORMAT, "missing");
	snprintf(buf, sizeof(buf), "text\n\n%.*s", (int)strlen(sig) - 1, sig);
	expect_parse_error(buf, CAIRN_ERR_FORMAT, "newline");
	snprintf(buf, sizeof(buf), "text\n\n- k AAAAAAAA\n");
	expect_parse_error(buf, CAIRN_ERR_FORMAT, "em dash");
	snprintf(buf, sizeof(buf), "text\n\n\xe2\x80\x94 k AAA*AAAA\n");
	expect_parse_error(buf, CAIRN_ERR_FORMAT, "base64");
	snprintf(buf, sizeof(buf), "text\n\n\xe2\x80\x94 k AAAA\n");
	expect_parse_error(buf, CAIRN_ERR_FORMAT, "too short");
	snprintf(buf, sizeof(buf), "text\n\n\xe2\x80\x94 kAAAAAAAA\n");
	expect_parse_error(buf, CAIRN_ERR_FORMAT, "no signature");
	snprintf(buf, sizeof(buf), "te\x01xt\n\n%s", sig);
	expect_parse_error(buf, CAIRN_ERR_FORMAT, "UTF-8");
	snprintf(buf, sizeof(buf), "te\xc0\xafxt\n\n%s", sig);
	expect_parse_error(buf, CAIRN_ERR_FORMAT, "UTF-8");
	snprintf(buf, sizeof(buf), "te\xed\xa0\x80xt\n\n%s", sig);
	expect_parse_error(buf, CAIRN_ERR_FORMAT, "UTF-8");
	big = malloc(TLOG_NOTE_MAX + 10);
	assert_non_null(big);
	memset(big, 'a', TLOG_NOTE_MAX + 9);
	big[TLOG_NOTE_MAX + 9] = '\0';
	expect_parse_error(big, CAIRN_ERR_TOOBIG, "limit");
	free(big);
	/* A NUL inside. */
	{
		struct tlog_note *n = NULL;

		snprintf(buf, sizeof(buf), "te_t\n\n%s", sig);
		buf[2] = '\0';
		assert_int_equal(tlog_note_parse(buf, 6 + strlen(sig), &n),
		    CAIRN_ERR_FORMAT);
	}
	/* Signing refuses texts a verifier could not parse. */
	{
		struct test_key k;
		uint8_t seed[32] = { 4 };
		char *out = NULL;
		size_t len;

		tlogt_test_key_init(&k, "k", seed);
		assert_int_equal(tlog_note_sign("no newline", 10, &k.signer, 1,
		    &out, &len), CAIRN_ERR_FORMAT);
		assert_int_equal(tlog_note_sign("a\n\nb\n", 5, &k.signer, 1,
		    &out, &len), CAIRN_ERR_FORMAT);
		assert_int_equal(tlog_cosign("x", 1, 1, &k.signer, buf,
		    sizeof(buf)), CAIRN_ERR_FORMAT);
		assert_null(out);
	}
}

static void
test_verifier_keys(void **state)
{
	struct tlog_verifier v;
	const char *good = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";

	assert_int_equal(tlog_verifier_parse(good, &v), CAIRN_OK);
	assert_string_equal(v.name, "example.com/foo");
	assert_int_equal(v.type, TLOG_KEY_ED25519);
	assert_int_equal(tlog_verifier_parse("example.com/foo+530d903b+"
	    "AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", &v),
	    CAIRN_ERR_FORMAT);
	assert_non_null(strstr(cairn_errmsg(), "does not match"));
	assert_int_equal(tlog_verifier_parse("example.com/foo+530D903A+"
	    "AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", &v),
	    CAIRN_ERR_FORMAT);
	assert_int_equal(tlog_verifier_parse("example.com/foo+530d903a",
	    &v), CAIRN_ERR_FORMAT);
	assert_int_equal(tlog_verifier_parse("+530d903a+AekyeRrm56hApGFkyQR4"
	    "ZCbV54Id2LKaANYcrnKv3U2k", &v), CAIRN_ERR_FORMAT);
	assert_int_equal(tlog_verifier_parse("example.com/foo+530d903a+"
	    "AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2", &v),
	    CAIRN_ERR_FORMAT);
	/* Type 0x02 (unknown): the key bytes are fine, the type is not. */
	{
		uint8_t raw[33] = { 2 };
		uint8_t id[4];
		char b64[64], vk[128];

		tlog_key_id("k", 2, raw + 1, id);
		tlog_b64_encode(raw, 33, b64, sizeof(b64));
		snprintf(vk, sizeof(vk), "k+%02x%02x%02x%02x+%s", id[0], id[1],
		    id[2], id[3], b64);
		assert_int_equal(tlog_verifier_parse(vk, &v),
		    CAIRN_ERR_UNSUPPORTED);
	}
	{
		char out[16];
		uint8_t pub[32] = { 0 };

		assert_int_equal(tlog_verifier_format("name", 1, pub, out,
		    sizeof(out)), CAIRN_ERR_TOOBIG);
		assert_int_equal(tlog_verifier_format("bad name", 1, pub, out,
		    sizeof(out)), CAIRN_ERR_FORMAT);
	}
}

static void
expect_cp_error(const char *text, const char *needle)
{
	struct tlog_checkpoint cp;

	assert_int_equal(tlog_checkpoint_parse(text, strlen(text), &cp),
	    strstr(needle, "exceed") != NULL ? CAIRN_ERR_TOOBIG :
	    CAIRN_ERR_FORMAT);
	if (strstr(cairn_errmsg(), needle) == NULL)
		fail_msg("'%s' lacks '%s'", cairn_errmsg(), needle);
}

static void
test_checkpoint_malformed(void **state)
{
	const char *root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
	char buf[8192];
	struct tlog_checkpoint cp;

	snprintf(buf, sizeof(buf), "o\n0\n%s\n", root);
	assert_int_equal(tlog_checkpoint_parse(buf, strlen(buf), &cp),
	    CAIRN_OK);
	snprintf(buf, sizeof(buf), "o\n18446744073709551615\n%s\n", root);
	assert_int_equal(tlog_checkpoint_parse(buf, strlen(buf), &cp),
	    CAIRN_OK);
	assert_true(cp.size == UINT64_MAX);
	snprintf(buf, sizeof(buf), "o\n18446744073709551616\n%s\n", root);
	expect_cp_error(buf, "overflows");
	snprintf(buf, sizeof(buf), "o\n012\n%s\n", root);
	expect_cp_error(buf, "leading zero");
	snprintf(buf, sizeof(buf), "o\n-1\n%s\n", root);
	expect_cp_error(buf, "not decimal");
	snprintf(buf, sizeof(buf), "o\n\n%s\n", root);
	expect_cp_error(buf, "line 2");
	snprintf(buf, sizeof(buf), "\n5\n%s\n", root);
	expect_cp_error(buf, "line 1");
	snprintf(buf, sizeof(buf), "o\n5\n%s", root);
	expect_cp_error(buf, "newline");
	snprintf(buf, sizeof(buf), "o\n5\n");
	expect_cp_error(buf, "line 3");
	snprintf(buf, sizeof(buf), "o\n5\n%.40s\n", root);
	expect_cp_error(buf, "line 3");
	snprintf(buf, sizeof(buf), "o\n5\n%s\next\n\n", root);
	expect_cp_error(buf, "line 5: empty");
	snprintf(buf, sizeof(buf), "o\n5\n%s\n", root);
	{
		size_t at = strlen(buf);

		memset(buf + at, 'x', TLOG_CP_EXT_MAX + 1);
		buf[at + TLOG_CP_EXT_MAX + 1] = '\n';
		buf[at + TLOG_CP_EXT_MAX + 2] = '\0';
	}
	expect_cp_error(buf, "exceed");
}

/*
 * Mutated notes (one to three random bytes changed, or truncated) never
 * crash the parsers, and only the original note verifies.
 */
static void
test_mutations(void **state)
{
	struct test_key k;
	uint8_t seed[32] = { 8 };
	struct tlog_checkpoint cp;
	const char *body = "cairn.test/log\n1234\n"
	    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\next\n";
	char *note, *m;
	size_t len, verified = 0;

	tlogt_test_key_init(&k, "cairn.test/log", seed);
	assert_int_equal(tlog_note_sign(body, strlen(body), &k.signer, 1,
	    &note, &len), CAIRN_OK);
	m = malloc(len);
	assert_non_null(m);
	for (int i = 0; i < 20000; i++) {
		struct tlog_note *n = NULL;
		size_t ml = len;
		int r;

		memcpy(m, note, len);
		if (i % 10 == 0)
			ml = randombytes_uniform((uint32_t)len);
		else
			for (uint32_t j = 0; j <= randombytes_uniform(3); j++)
				m[randombytes_uniform((uint32_t)len)] =
				    (char)randombytes_uniform(256);
		r = tlog_note_parse(m, ml, &n);
		if (r != CAIRN_OK) {
			assert_null(n);
			continue;
		}
		if (tlog_note_verify(n, &k.verifier, 1, 1, NULL, NULL) ==
		    CAIRN_OK) {
			assert_int_equal(ml, len);
			assert_memory_equal(m, note, len);
			verified++;
		}
		r = tlog_checkpoint_parse(n->text, n->text_len, &cp);
		assert_true(r == CAIRN_OK || r == CAIRN_ERR_FORMAT);
		tlog_note_free(n);
	}
	/* Some mutations rewrite a byte with itself. */
	assert_true(verified < 20000);
	free(m);
	free(note);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vector_notes),
		cmocka_unit_test(test_sign_known_answers),
		cmocka_unit_test(test_checkpoint_examples),
		cmocka_unit_test(test_cosign_roundtrip),
		cmocka_unit_test(test_many_signatures),
		cmocka_unit_test(test_note_malformed),
		cmocka_unit_test(test_verifier_keys),
		cmocka_unit_test(test_checkpoint_malformed),
		cmocka_unit_test(test_mutations),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
