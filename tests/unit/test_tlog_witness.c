/*
 * test_tlog_witness.c - the witness: cosigning consistent checkpoints
 * from the empty tree on, refusing stale, rolled-back, inconsistent and
 * forked ones with evidence kept, and keeping its state across restarts.
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
#include "protocol/tlog_store.h"
#include "protocol/tlog_witness.h"
#include "tests/unit/tlog_helpers.h"

#define ORIGIN	"cairn.test/witnessed"

static struct test_key logkey, wkey, other;

static int
setup(void **state)
{
	uint8_t s1[32] = { 1 }, s2[32] = { 2 }, s3[32] = { 3 };

	tlogt_test_key_init(&logkey, ORIGIN, s1);
	tlogt_test_key_init(&wkey, "witness.test/w1", s2);
	tlogt_test_key_init(&other, ORIGIN, s3);
	return 0;
}

static void
grow(struct tlog_store *s, int n)
{
	for (int i = 0; i < n; i++) {
		char e[32];

		snprintf(e, sizeof(e), "e%llu",
		    (unsigned long long)tlog_store_size(s));
		assert_int_equal(tlog_store_append(s, (const uint8_t *)e,
		    strlen(e), NULL), CAIRN_OK);
	}
}

/* Sign a checkpoint of 'size' with 'root' by 'key'. */
static char *
signed_cp(const struct test_key *key, uint64_t size, const uint8_t root[32],
    size_t *len)
{
	struct tlog_checkpoint cp;
	char body[512], *note;
	size_t bl;

	memset(&cp, 0, sizeof(cp));
	strcpy(cp.origin, ORIGIN);
	cp.size = size;
	memcpy(cp.root, root, 32);
	assert_int_equal(tlog_checkpoint_format(&cp, body, sizeof(body), &bl),
	    CAIRN_OK);
	assert_int_equal(tlog_note_sign(body, bl, &key->signer, 1, &note, len),
	    CAIRN_OK);
	return note;
}

static int
ask(struct tlog_witness *w, const char *note, size_t len, uint64_t old,
    uint8_t (*proof)[32], size_t n, char *line, size_t cap)
{
	struct tlog_witness_req req;

	memset(&req, 0, sizeof(req));
	req.note = note;
	req.note_len = len;
	req.log_keys = &logkey.verifier;
	req.nkeys = 1;
	req.quorum = 1;
	req.old_size = old;
	req.proof = (const uint8_t (*)[32])proof;
	req.proof_len = n;
	return tlog_witness_add(w, &req, &wkey.signer, 1700000000 + old, line,
	    cap);
}

static void
test_witness_flow(void **state)
{
	struct tlog_store *s = NULL;
	struct tlog_witness *w = NULL;
	struct tlog_checkpoint cp;
	uint8_t root[32], proof[TLOG_MAX_PROOF][32], fake[32];
	char spath[256], wpath[256], line[512], *note, *cosigned;
	size_t len, n, clen;
	uint64_t ev;

	tlogt_tmp_path(spath, sizeof(spath), "wlog");
	tlogt_tmp_path(wpath, sizeof(wpath), "wstate");
	assert_int_equal(tlog_store_open(spath, TLOG_STORE_CREATE, &s),
	    CAIRN_OK);
	assert_int_equal(tlog_witness_open(wpath, &w), CAIRN_OK);
	assert_int_equal(tlog_witness_latest(w, ORIGIN, &cp, NULL, NULL),
	    CAIRN_ERR_NOTFOUND);

	/* First checkpoint: from size 0 with an empty proof (C2SP). */
	grow(s, 5);
	tlog_store_root(s, root);
	note = signed_cp(&logkey, 5, root, &len);
	assert_int_equal(ask(w, note, len, 0, NULL, 0, line, sizeof(line)),
	    CAIRN_OK);
	/* The cosignature verifies on the checkpoint and carries the time. */
	assert_int_equal(tlog_note_add_lines(note, len, line, strlen(line),
	    &cosigned, &clen), CAIRN_OK);
	{
		struct tlog_verifier keys[2] = { logkey.verifier,
		    wkey.cosigner };
		struct tlog_note *nn;
		uint64_t t;

		assert_int_equal(tlog_checkpoint_open(cosigned, clen, keys, 2,
		    2, ORIGIN, &cp), CAIRN_OK);
		assert_int_equal(tlog_note_parse(cosigned, clen, &nn),
		    CAIRN_OK);
		assert_int_equal(tlog_cosignature_time(nn, &wkey.cosigner, &t),
		    CAIRN_OK);
		assert_int_equal(t, 1700000000);
		tlog_note_free(nn);
	}
	free(cosigned);
	free(note);

	/* Growth with a consistency proof from 5. */
	grow(s, 12);
	tlog_store_root(s, root);
	note = signed_cp(&logkey, 17, root, &len);
	assert_int_equal(tlog_store_consistency_proof(s, 5, 17, proof,
	    TLOG_MAX_PROOF, &n), CAIRN_OK);
	/* An oversized proof is refused before anything else. */
	assert_int_equal(ask(w, note, len, 5, proof, TLOG_MAX_PROOF + 1, line,
	    sizeof(line)), CAIRN_ERR_TOOBIG);
	/* Stale old size: retry needed, nothing kept. */
	assert_int_equal(ask(w, note, len, 4, proof, n, line, sizeof(line)),
	    CAIRN_ERR_STATE);
	/* A broken proof: refused, evidence kept, state unchanged. */
	proof[1][3] ^= 1;
	assert_int_equal(ask(w, note, len, 5, proof, n, line, sizeof(line)),
	    CAIRN_ERR_CONFLICT);
	proof[1][3] ^= 1;
	assert_int_equal(tlog_witness_evidence_count(w, ORIGIN, &ev),
	    CAIRN_OK);
	assert_int_equal(ev, 1);
	assert_false(tlog_witness_has_fork(w, ORIGIN));
	assert_int_equal(tlog_witness_latest(w, ORIGIN, &cp, NULL, NULL),
	    CAIRN_OK);
	assert_int_equal(cp.size, 5);
	/* Not signed by the log: refused, nothing kept. */
	{
		char *bad = signed_cp(&other, 17, root, &clen);

		assert_int_equal(ask(w, bad, clen, 5, proof, n, line,
		    sizeof(line)), CAIRN_ERR_SIGNATURE);
		free(bad);
	}
	assert_int_equal(ask(w, note, len, 5, proof, n, line, sizeof(line)),
	    CAIRN_OK);
	free(note);
	/* The same checkpoint again is fine (idempotent). */
	note = signed_cp(&logkey, 17, root, &len);
	assert_int_equal(ask(w, note, len, 17, NULL, 0, line, sizeof(line)),
	    CAIRN_OK);
	free(note);

	/* Restart: the state survives. */
	tlog_witness_close(w);
	w = NULL;
	assert_int_equal(tlog_witness_open(wpath, &w), CAIRN_OK);
	assert_int_equal(tlog_witness_latest(w, ORIGIN, &cp, &note, &len),
	    CAIRN_OK);
	assert_int_equal(cp.size, 17);
	assert_memory_equal(cp.root, root, 32);
	free(note);

	/* A rollback to a smaller size is refused. */
	assert_int_equal(tlog_store_root_at(s, 9, fake), CAIRN_OK);
	note = signed_cp(&logkey, 9, fake, &len);
	assert_int_equal(ask(w, note, len, 17, NULL, 0, line, sizeof(line)),
	    CAIRN_ERR_RANGE);
	free(note);

	/* A fork: another root for size 17.  Both notes kept; all refused. */
	memset(fake, 0x66, 32);
	note = signed_cp(&logkey, 17, fake, &len);
	assert_int_equal(ask(w, note, len, 17, NULL, 0, line, sizeof(line)),
	    CAIRN_ERR_CONFLICT);
	assert_non_null(strstr(cairn_errmsg(), "two roots"));
	free(note);
	assert_true(tlog_witness_has_fork(w, ORIGIN));
	assert_int_equal(tlog_witness_evidence_count(w, NULL, &ev), CAIRN_OK);
	assert_int_equal(ev, 2);
	grow(s, 3);
	tlog_store_root(s, root);
	note = signed_cp(&logkey, 20, root, &len);
	assert_int_equal(tlog_store_consistency_proof(s, 17, 20, proof,
	    TLOG_MAX_PROOF, &n), CAIRN_OK);
	assert_int_equal(ask(w, note, len, 17, proof, n, line, sizeof(line)),
	    CAIRN_ERR_CONFLICT);
	assert_non_null(strstr(cairn_errmsg(), "equivocated"));
	free(note);
	/* The evidence survives a restart too. */
	tlog_witness_close(w);
	w = NULL;
	assert_int_equal(tlog_witness_open(wpath, &w), CAIRN_OK);
	assert_true(tlog_witness_has_fork(w, ORIGIN));
	assert_false(tlog_witness_has_fork(w, "another/log"));
	tlog_witness_close(w);
	tlog_store_close(s);
	tlogt_rm_db(spath);
	tlogt_rm_db(wpath);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_witness_flow),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, NULL);
}
