/*
 * verify_cmd.c - `cairn audit verify` and `cairn audit fetch`: fetch a
 * coordinator's checkpoint and every entry it covers (or read them from
 * files), run audit_verify() and print one line per finding and a
 * summary.  Exit 0 only when everything verifies.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "audit/audit.h"
#include "audit/cmd_int.h"
#include "common/cli.h"
#include "common/err.h"
#include "common/file.h"
#include "keys/keys_federation.h"
#include "protocol/proto_client.h"
#include "protocol/proto_service.h"
#include "protocol/tlog_member.h"
#include "protocol/tlog_note.h"
#include "protocol/transport.h"

#define VERIFY_PROG	"cairn audit verify"
#define FETCH_PROG	"cairn audit fetch"
#define PAGE		1000
#define ENTRIES_FILE_MAX	((size_t)1 << 32)
#define CALL_TIMEOUT_MS	30000
#define ENTRY_MAX	(1024 * 1024)	/* bytes of one entry, as the store */
#define HEX_CAP		(2 * ENTRY_MAX + 1)

/* The log as fetched or read: entries own their bytes. */
struct log_copy {
	char			*note;
	size_t			 note_len;
	struct tlog_bytes	*e;
	size_t			 n;
};

static void
log_copy_free(struct log_copy *l)
{
	for (size_t i = 0; i < l->n; i++)
		free((void *)l->e[i].p);
	free(l->e);
	free(l->note);
	memset(l, 0, sizeof(*l));
}

enum {
	O_COORD, O_FED, O_STATE, O_LEDGER, O_NODE, O_QUORUM, O_CA, O_CERT,
	O_KEY, O_ENTRIES, O_CHECKPOINT, O_WAIT, O_N
};

#define WAIT_DEFAULT_S	30	/* for the witnesses' cosignatures */
#define WAIT_SLICE_MS	500

static const struct option vopts[] = {
	{ "coordinator", required_argument, NULL, 0 },
	{ "federation", required_argument, NULL, 0 },
	{ "state", required_argument, NULL, 0 },
	{ "ledger", required_argument, NULL, 0 },
	{ "node", required_argument, NULL, 0 },
	{ "quorum", required_argument, NULL, 0 },
	{ "ca", required_argument, NULL, 0 },
	{ "tls-cert", required_argument, NULL, 0 },
	{ "tls-key", required_argument, NULL, 0 },
	{ "entries", required_argument, NULL, 0 },
	{ "checkpoint", required_argument, NULL, 0 },
	{ "wait", required_argument, NULL, 0 },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static const char verify_usage[] =
    "--federation federation.conf\n"
    "           (--coordinator ADDR --ca CA --tls-cert CRT --tls-key KEY |\n"
    "            --entries FILE --checkpoint FILE)\n"
    "           [--state FILE] [--quorum Q] [--wait S]\n"
    "           [--ledger FILE --node NAME]";
static const char verify_help[] =
    "Verify the federation's transparency log: the checkpoint's signature\n"
    "(the coordinator's key, note name cairn/<federation>), Q witness\n"
    "cosignatures (default: a majority of the enrolled nodes; online, the\n"
    "checkpoint is asked for again for up to --wait S seconds, default 30,\n"
    "until it has them), consistency with the checkpoint kept in --state\n"
    "(then updated), the entries' root, and every rule of docs/federation.md\n"
    "section 5; with --ledger, a node's ledger export against the log.\n"
    "--entries holds one entry per line in hex (as `cairn audit fetch`\n"
    "writes).  Prints one line per finding and a summary; exit 0 only\n"
    "when everything verifies.\n";

static const char fetch_usage[] =
    "--coordinator ADDR --ca CA --tls-cert CRT --tls-key KEY\n"
    "           --federation FILE --entries FILE --checkpoint FILE";
static const char fetch_help[] =
    "Save the coordinator's latest checkpoint and every entry it covers\n"
    "(one per line, hex) for `cairn audit verify --entries --checkpoint`.\n"
    "Existing files are not overwritten.\n";

static int
append_entry(struct log_copy *l, size_t *cap, const uint8_t *d, size_t len)
{
	uint8_t *copy;

	if (l->n == *cap) {
		size_t nc = *cap ? 2 * *cap : 1024;
		struct tlog_bytes *ne = realloc(l->e, nc * sizeof(*ne));

		if (ne == NULL)
			return cairn_err(CAIRN_ERR_NOMEM, "entries");
		l->e = ne;
		*cap = nc;
	}
	if ((copy = malloc(len ? len : 1)) == NULL)
		return cairn_err(CAIRN_ERR_NOMEM, "entries");
	if (len)
		memcpy(copy, d, len);
	l->e[l->n].p = copy;
	l->e[l->n].len = len;
	l->n++;
	return CAIRN_OK;
}

/*
 * Fetch the latest checkpoint and the entries it covers.  With 'quorum' >
 * 0, ask again every WAIT_SLICE_MS for up to 'wait_s' seconds while the
 * checkpoint has fewer than 'quorum' valid cosignatures of 'fed''s nodes
 * (witnesses cosign a new checkpoint within their poll interval); the
 * last one fetched is verified either way.
 */
static int
fetch(const char **o, const struct keys_federation *fed, size_t quorum,
    unsigned wait_s, struct log_copy *l)
{
	Cairn__V1__GetCheckpointRequest creq =
	    CAIRN__V1__GET_CHECKPOINT_REQUEST__INIT;
	Cairn__V1__Checkpoint *cp = NULL;
	struct transport_client *c = NULL;
	struct tlog_checkpoint body;
	struct tlog_note *note = NULL;
	size_t cap = 0;
	int r;

	if ((r = proto_client_open(o[O_COORD], o[O_CA], o[O_CERT], o[O_KEY],
	    o[O_FED], &c)) != CAIRN_OK)
		return r;
	for (unsigned waited = 0;; waited += WAIT_SLICE_MS) {
		size_t nvalid = 0;
		struct timespec ts = { 0, WAIT_SLICE_MS * 1000000L };

		if ((r = transport_unary(c, proto_method(PROTO_GET_CHECKPOINT),
		    &creq.base, CALL_TIMEOUT_MS, (ProtobufCMessage **)&cp)) !=
		    CAIRN_OK)
			goto out;
		if (quorum == 0 || waited >= wait_s * 1000u ||
		    (tlog_fed_cosignatures(cp->note, strlen(cp->note), fed,
		    &nvalid) == CAIRN_OK && nvalid >= quorum))
			break;
		cairn_err_clear();
		protobuf_c_message_free_unpacked(&cp->base, NULL);
		cp = NULL;
		nanosleep(&ts, NULL);
	}
	l->note_len = strlen(cp->note);
	if ((l->note = strdup(cp->note)) == NULL) {
		r = cairn_err(CAIRN_ERR_NOMEM, "checkpoint");
		goto out;
	}
	if ((r = tlog_note_parse(l->note, l->note_len, &note)) != CAIRN_OK ||
	    (r = tlog_checkpoint_parse(note->text, note->text_len, &body)) !=
	    CAIRN_OK)
		goto out;
	if (body.size > AUDIT_MAX_ENTRIES) {
		r = cairn_err(CAIRN_ERR_TOOBIG, "checkpoint: %" PRIu64 " "
		    "entries, more than this auditor takes", body.size);
		goto out;
	}
	while (l->n < body.size) {
		Cairn__V1__GetEntriesRequest req =
		    CAIRN__V1__GET_ENTRIES_REQUEST__INIT;
		Cairn__V1__GetEntriesResponse *resp = NULL;

		req.start = l->n;
		req.end = body.size - l->n > PAGE ? l->n + PAGE : body.size;
		if ((r = transport_unary(c, proto_method(PROTO_GET_ENTRIES),
		    &req.base, CALL_TIMEOUT_MS,
		    (ProtobufCMessage **)&resp)) != CAIRN_OK)
			goto out;
		if (resp->n_entries == 0)
			r = cairn_err(CAIRN_ERR_FORMAT, "GetEntries [%" PRIu64
			    ", %" PRIu64 "): no entries returned", req.start,
			    req.end);
		for (size_t i = 0; r == CAIRN_OK && i < resp->n_entries &&
		    l->n < body.size; i++) {
			Cairn__V1__LogEntry *le = resp->entries[i];

			if (le->index != l->n)
				r = cairn_err(CAIRN_ERR_FORMAT, "GetEntries: "
				    "entry %" PRIu64 " came where %zu was "
				    "expected", le->index, l->n);
			else
				r = append_entry(l, &cap, le->data.data,
				    le->data.len);
		}
		protobuf_c_message_free_unpacked(&resp->base, NULL);
		if (r != CAIRN_OK)
			goto out;
	}
out:
	tlog_note_free(note);
	if (cp != NULL)
		protobuf_c_message_free_unpacked(&cp->base, NULL);
	transport_client_free(c);
	return r;
}

/* Read --entries (hex lines) and --checkpoint. */
static int
read_offline(const char *entries, const char *checkpoint, struct log_copy *l)
{
	char *text = NULL;
	size_t len, cap = 0, pos = 0, line = 0;
	uint8_t *buf = NULL;
	int r;

	if ((r = file_read_capped(checkpoint, TLOG_NOTE_MAX, &l->note,
	    &l->note_len)) != CAIRN_OK)
		return r;
	if ((r = file_read_capped(entries, ENTRIES_FILE_MAX, &text, &len)) !=
	    CAIRN_OK)
		return r;
	if ((buf = malloc(ENTRY_MAX)) == NULL) {
		r = cairn_err(CAIRN_ERR_NOMEM, "%s", entries);
		goto out;
	}
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		size_t bl;

		line++;
		if (n % 2 != 0 || n / 2 > ENTRY_MAX ||
		    sodium_hex2bin(buf, ENTRY_MAX, text + pos,
		    n, NULL, &bl, NULL) != 0 || bl != n / 2) {
			r = cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: not an entry "
			    "in hex", entries, line);
			goto out;
		}
		if (l->n >= AUDIT_MAX_ENTRIES) {
			r = cairn_err(CAIRN_ERR_TOOBIG, "%s: too many entries",
			    entries);
			goto out;
		}
		if ((r = append_entry(l, &cap, buf, bl)) != CAIRN_OK)
			goto out;
		pos += n + 1;
	}
out:
	free(buf);
	free(text);
	return r;
}

static void
print_finding(void *ctx, const char *line)
{
	(void)ctx;
	printf("FAIL %s\n", line);
}

int
audit_cmd_verify(int argc, char **argv)
{
	const char *o[O_N] = { 0 };
	struct keys_federation *fed = NULL;
	struct audit_ledger ledger = { NULL, 0 };
	struct audit_verify_report rep;
	struct audit_verify_in in;
	struct log_copy l;
	char *state = NULL, *ltext = NULL;
	size_t state_len = 0, llen;
	uint64_t quorum = 0;
	unsigned wait_s = WAIT_DEFAULT_S;
	bool online;
	int r, rc = 1;

	memset(&l, 0, sizeof(l));
	if ((r = audit_cli_opts(argc, argv, vopts, o, VERIFY_PROG,
	    verify_usage, verify_help)) >= 0)
		return r;
	online = o[O_COORD] != NULL;
	if (o[O_FED] == NULL || (online && (o[O_CA] == NULL ||
	    o[O_CERT] == NULL || o[O_KEY] == NULL || o[O_ENTRIES] != NULL ||
	    o[O_CHECKPOINT] != NULL)) || (!online && (o[O_ENTRIES] == NULL ||
	    o[O_CHECKPOINT] == NULL)) || ((o[O_LEDGER] == NULL) !=
	    (o[O_NODE] == NULL))) {
		fprintf(stderr, "%s: error: usage: see %s --help\n",
		    VERIFY_PROG, VERIFY_PROG);
		return 1;
	}
	if (o[O_QUORUM] != NULL) {
		char *end;

		errno = 0;
		quorum = strtoull(o[O_QUORUM], &end, 10);
		if (errno != 0 || *end != '\0' || o[O_QUORUM][0] == '-' ||
		    quorum > KEYS_FEDERATION_MAX_MEMBERS) {
			fprintf(stderr, "%s: error: --quorum: '%s' is not a "
			    "number of witnesses\n", VERIFY_PROG, o[O_QUORUM]);
			return 1;
		}
	}
	if (o[O_WAIT] != NULL) {
		char *end;
		unsigned long w;

		errno = 0;
		w = strtoul(o[O_WAIT], &end, 10);
		if (errno != 0 || *end != '\0' || o[O_WAIT][0] == '-' ||
		    w > 3600) {
			fprintf(stderr, "%s: error: --wait: '%s' is not a "
			    "number of seconds (0 to 3600)\n", VERIFY_PROG,
			    o[O_WAIT]);
			return 1;
		}
		wait_s = (unsigned)w;
	}
	if ((r = keys_federation_load(o[O_FED], &fed)) != CAIRN_OK)
		return cli_fail(VERIFY_PROG, "federation", r);
	/*
	 * By default a majority of the enrolled nodes must have cosigned
	 * the checkpoint: two views of the log cannot both have one.
	 */
	if (o[O_QUORUM] == NULL)
		quorum = tlog_fed_majority(fed);
	else if (quorum == 0)
		fprintf(stderr, "%s: warning: --quorum 0: witness "
		    "cosignatures are not required; a split view of the log "
		    "(another log shown to others) would go unnoticed\n",
		    VERIFY_PROG);
	if (o[O_LEDGER] != NULL && ((r = file_read_capped(o[O_LEDGER],
	    (size_t)AUDIT_LEDGER_MAX * 256, &ltext, &llen)) != CAIRN_OK ||
	    (r = audit_ledger_parse(ltext, llen, o[O_LEDGER], &ledger)) !=
	    CAIRN_OK)) {
		rc = cli_fail(VERIFY_PROG, "ledger", r);
		goto out;
	}
	if (o[O_STATE] != NULL) {
		r = file_read_capped(o[O_STATE], TLOG_NOTE_MAX, &state,
		    &state_len);
		if (r == CAIRN_ERR_IO && errno == ENOENT) {
			state = NULL;	/* first run */
		} else if (r != CAIRN_OK) {
			rc = cli_fail(VERIFY_PROG, "state", r);
			goto out;
		}
	}
	r = online ? fetch(o, fed, (size_t)quorum, wait_s, &l) :
	    read_offline(o[O_ENTRIES],
	    o[O_CHECKPOINT], &l);
	if (r != CAIRN_OK) {
		rc = cli_fail(VERIFY_PROG, online ? "fetch" : "read", r);
		goto out;
	}
	memset(&in, 0, sizeof(in));
	in.fed = fed;
	in.checkpoint = l.note;
	in.checkpoint_len = l.note_len;
	in.state = state;
	in.state_len = state_len;
	in.quorum = (size_t)quorum;
	in.entries = l.e;
	in.nentries = l.n;
	in.ledger = o[O_LEDGER] != NULL ? &ledger : NULL;
	in.ledger_node = o[O_NODE];
	in.finding = print_finding;
	r = audit_verify(&in, &rep);
	if (r != CAIRN_OK && r != CAIRN_ERR_CONFLICT) {
		rc = cli_fail(VERIFY_PROG, "verify", r);
		goto out;
	}
	if (rep.log_ok && o[O_STATE] != NULL) {
		int w = audit_state_write(o[O_STATE], l.note, l.note_len);

		if (w != CAIRN_OK) {
			rc = cli_fail(VERIFY_PROG, "state", w);
			goto out;
		}
	}
	printf("%s: log size %" PRIu64 ", %zu witness cosignature%s; "
	    "%" PRIu64 " queries, %" PRIu64 " charges (%" PRIu64
	    " restatements), %" PRIu64 " refusals, %" PRIu64 " releases, "
	    "%" PRIu64 " failures", r == CAIRN_OK ? "ok" : "FAILED",
	    rep.cp.size, rep.cosignatures, rep.cosignatures == 1 ? "" : "s",
	    rep.queries, rep.charges, rep.restatements, rep.refusals,
	    rep.releases, rep.failures);
	printf(", %" PRIu64 " member changes, %" PRIu64 " policies",
	    rep.members, rep.policies);
	if (in.ledger != NULL)
		printf("; ledger of '%s': %" PRIu64 " of %zu charges match",
		    o[O_NODE], rep.ledger_charges, ledger.n);
	if (r != CAIRN_OK)
		printf("; %" PRIu64 " finding%s", rep.findings,
		    rep.findings == 1 ? "" : "s");
	printf("\n");
	rc = r == CAIRN_OK ? 0 : 1;
out:
	log_copy_free(&l);
	audit_ledger_free(&ledger);
	free(ltext);
	free(state);
	keys_federation_free(fed);
	return rc;
}

int
audit_cmd_fetch(int argc, char **argv)
{
	const char *o[O_N] = { 0 };
	struct log_copy l;
	FILE *f = NULL;
	char *hex = NULL;
	int r, rc = 1;

	memset(&l, 0, sizeof(l));
	if ((r = audit_cli_opts(argc, argv, vopts, o, FETCH_PROG,
	    fetch_usage, fetch_help)) >= 0)
		return r;
	if (o[O_COORD] == NULL || o[O_CA] == NULL || o[O_CERT] == NULL ||
	    o[O_KEY] == NULL || o[O_FED] == NULL || o[O_ENTRIES] == NULL ||
	    o[O_CHECKPOINT] == NULL) {
		fprintf(stderr, "%s: error: usage: see %s --help\n",
		    FETCH_PROG, FETCH_PROG);
		return 1;
	}
	if ((r = fetch(o, NULL, 0, 0, &l)) != CAIRN_OK) {
		rc = cli_fail(FETCH_PROG, "fetch", r);
		goto out;
	}
	if ((f = fopen(o[O_CHECKPOINT], "wx")) == NULL ||
	    fwrite(l.note, 1, l.note_len, f) != l.note_len || fclose(f) != 0) {
		f = NULL;
		rc = cli_fail(FETCH_PROG, o[O_CHECKPOINT],
		    cairn_err(CAIRN_ERR_IO, "%s", strerror(errno)));
		goto out;
	}
	if ((f = fopen(o[O_ENTRIES], "wx")) == NULL) {
		rc = cli_fail(FETCH_PROG, o[O_ENTRIES],
		    cairn_err(CAIRN_ERR_IO, "%s", strerror(errno)));
		goto out;
	}
	if ((hex = malloc(HEX_CAP)) == NULL) {
		rc = cli_fail(FETCH_PROG, "fetch", CAIRN_ERR_NOMEM);
		goto out;
	}
	for (size_t i = 0; i < l.n; i++) {
		if (2 * l.e[i].len + 1 > HEX_CAP) {
			rc = cli_fail(FETCH_PROG, "fetch",
			    cairn_err(CAIRN_ERR_TOOBIG, "entry %zu is too "
			    "large", i));
			goto out;
		}
		sodium_bin2hex(hex, HEX_CAP, l.e[i].p, l.e[i].len);
		fprintf(f, "%s\n", hex);
	}
	r = fclose(f);
	f = NULL;
	if (r != 0) {
		rc = cli_fail(FETCH_PROG, o[O_ENTRIES],
		    cairn_err(CAIRN_ERR_IO, "%s", strerror(errno)));
		goto out;
	}
	printf("fetched %zu entries\n", l.n);
	rc = 0;
out:
	if (f != NULL)
		fclose(f);
	free(hex);
	log_copy_free(&l);
	return rc;
}
