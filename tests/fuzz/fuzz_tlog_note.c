/*
 * fuzz_tlog_note.c - C2SP signed notes, checkpoints, cosignatures and
 * verifier keys (protocol/tlog_note.c, protocol/tlog_witness.c).  The
 * first byte chooses:
 *   0  a whole signed note: parsed, verified against the log key and a
 *      witness's cosignature key, opened as a checkpoint, and the first
 *      line parsed as a verifier key;
 *   1  a checkpoint body, signed here with the log key so the fuzzer
 *      reaches the witness: opened and added to a fresh witness, whose
 *      cosignature is then parsed back;
 *   2  signature lines appended to a validly signed checkpoint, then
 *      parsed and verified.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "protocol/tlog_note.h"
#include "protocol/tlog_witness.h"
#include "tests/fuzz/util.h"

#define ORIGIN	"cairn/fz"

static struct tlog_verifier keys[2];	/* log, witness n1 */
static struct tlog_signer logsig, witsig;
static char *good;			/* a signed checkpoint */
static size_t good_len;

static int
sign(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64])
{
	return keys_sign_note(ctx, msg, len, sig);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const struct fz_fed *f;
	static const char body[] = ORIGIN "\n3\n"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";

	(void)argc;
	(void)argv;
	fz_quiet();
	f = fz_fed();
	snprintf(keys[0].name, sizeof(keys[0].name), ORIGIN);
	keys[0].type = TLOG_KEY_ED25519;
	keys_identity_public(f->coord, keys[0].pub);
	tlog_key_id(keys[0].name, keys[0].type, keys[0].pub, keys[0].key_id);
	snprintf(keys[1].name, sizeof(keys[1].name), "n1");
	keys[1].type = TLOG_KEY_COSIGNATURE;
	keys_identity_public(f->node[0], keys[1].pub);
	tlog_key_id(keys[1].name, keys[1].type, keys[1].pub, keys[1].key_id);
	logsig.name = keys[0].name;
	memcpy(logsig.pub, keys[0].pub, 32);
	logsig.sign = sign;
	logsig.ctx = f->coord;
	witsig.name = keys[1].name;
	memcpy(witsig.pub, keys[1].pub, 32);
	witsig.sign = sign;
	witsig.ctx = f->node[0];
	if (tlog_note_sign(body, strlen(body), &logsig, 1, &good, &good_len)
	    != CAIRN_OK)
		abort();
	return 0;
}

static void
check_note(const char *buf, size_t len)
{
	struct tlog_checkpoint cp;
	struct tlog_note *n;
	bool valid[2];
	size_t nvalid;
	uint64_t t;

	if (tlog_note_parse(buf, len, &n) == CAIRN_OK) {
		if (n->nsigs == 0 || n->nsigs > TLOG_NOTE_MAX_SIGS)
			abort();
		fz_ignore(tlog_note_verify(n, keys, 2, 1, &nvalid, valid));
		fz_ignore(tlog_cosignature_time(n, &keys[1], &t));
		fz_ignore(tlog_checkpoint_parse(n->text, n->text_len, &cp));
		tlog_note_free(n);
	}
	fz_ignore(tlog_checkpoint_open(buf, len, keys, 1, 1, ORIGIN, &cp));
}

static void
witness(const uint8_t *data, size_t size)
{
	struct tlog_witness_req req;
	struct tlog_checkpoint cp;
	struct tlog_witness *w;
	char *note, *both, line[1024];
	size_t len, blen;

	if (tlog_note_sign((const char *)data, size, &logsig, 1, &note, &len)
	    != CAIRN_OK)
		return;
	if (tlog_checkpoint_open(note, len, keys, 1, 1, ORIGIN, &cp) !=
	    CAIRN_OK) {
		free(note);
		return;
	}
	if (tlog_witness_open(":memory:", &w) != CAIRN_OK)
		abort();
	memset(&req, 0, sizeof(req));
	req.note = note;
	req.note_len = len;
	req.log_keys = keys;
	req.nkeys = 1;
	req.quorum = 1;
	if (tlog_witness_add(w, &req, &witsig, 1700000000, line,
	    sizeof(line)) == CAIRN_OK) {
		if (tlog_note_add_lines(note, len, line, strlen(line), &both,
		    &blen) != CAIRN_OK)
			abort();
		check_note(both, blen);
		free(both);
	}
	tlog_witness_close(w);
	free(note);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tlog_verifier v;
	char *buf, *both;
	size_t blen, i;

	switch (fz_byte(&data, &size) % 3) {
	case 0:
		check_note((const char *)data, size);
		if ((buf = malloc(size + 1)) == NULL)
			abort();
		memcpy(buf, data, size);
		buf[size] = '\0';
		for (i = 0; i < size && buf[i] != '\n'; i++)
			;
		buf[i] = '\0';
		fz_ignore(tlog_verifier_parse(buf, &v));
		free(buf);
		break;
	case 1:
		witness(data, size);
		break;
	default:
		if (tlog_note_add_lines(good, good_len, (const char *)data,
		    size, &both, &blen) == CAIRN_OK) {
			check_note(both, blen);
			free(both);
		}
		break;
	}
	return 0;
}
