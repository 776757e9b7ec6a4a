/*
 * test_node_daemon.c - the node daemon against an in-process fake
 * coordinator built on the real transport server (mutual TLS on
 * loopback): task verification and refusals, roster checks, the charge
 * written before anything is sent (with its re-send record, in one
 * transaction), the attempt marker on disk before the advertisement
 * leaves, a refusal that depends on the data charged and logged, the
 * noise of a query with h = 2, reuse of the stored vector on a retry,
 * following the log, ledger show and export.
 *
 * The fake keeps a real Merkle log of QUERY (and later CHARGE/RELEASE)
 * entries, signs checkpoints with the coordinator's identity key and plays
 * the second participant "nb" itself, so the test can unmask the node's
 * share and compare it with the ledger's stored noisy vector.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <sodium.h>
#include <sqlite3.h>

#include "common/err.h"
#include "keys/keys.h"
#include "keys/keys_federation.h"
#include "keys/keys_tls.h"
#include "node/daemon_int.h"
#include "node/ledger.h"
#include "privacy/dp.h"
#include "protocol/secagg.h"
#include "protocol/tlog_entry.h"
#include "tlog_helpers.h"

#include <math.h>
/* ρ as a test writes it (a double) to nano-ρ. */
#define NANO(x)	((uint64_t)llround((double)(x) * 1e9))

#define FED	"testfed"
#define NREG	4

static char dir[64], target[64];
static struct keys_tls *t_coord, *t_na;
static struct keys_identity *i_coord, *i_na, *i_nb, *i_nso, *i_eve;
static struct keys_federation fed;
static struct keys_member members[5];
static struct transport_server *srv;

enum roster_mode { RM_OK, RM_MISSING, RM_DUP, RM_UNSIGNED, RM_ATTEMPT };

/* The fake coordinator's state, shared with its handler threads. */
static struct {
	pthread_mutex_t	 mu;
	uint8_t		*leaf[64];
	size_t		 leaflen[64];
	uint64_t	 size;
	char		*note;		/* signed checkpoint of 'size' */
	uint8_t		*task;		/* packed Task for PollTask */
	size_t		 tasklen;
	int		 cosigns, refusals, adverts;
	uint8_t		 refusal[4096];
	size_t		 refusal_len;
	uint8_t		 refusal_sig[64];
	uint8_t		 own_ad[4096], own_sig[64];
	size_t		 own_len;
	uint8_t		 nb_ad[4096], nb_sig[64];
	size_t		 nb_len;
	enum roster_mode mode;
	uint64_t	*share;
	size_t		 share_cells, share_got;
	uint8_t		 manifest[1024], manifest_sig[64];
	size_t		 manifest_len;
	uint8_t		 qhash[32];
	bool		 charged_at_advertise;
	bool		 marked_at_advertise;	/* advertised/<q>/<attempt> */
	bool		 pending_at_advertise;	/* resend/<q> not empty */
	int		 resends_at_refusal;
	bool		 fail_advertise;
	int		 advertise_code;	/* fail Advertise with it */
	int		 resend_code;	/* fail key-less ones with it */
	int		 resends;	/* key-less advertisements */
	uint8_t		 resend_ad[4096], resend_sig[64];
	size_t		 resend_len;
	int		 fail_chunk;	/* chunk index + 1 to refuse */
	int		 share_calls;
	bool		 split;		/* GetCheckpoint: no cosignatures */
	char		 ledger_path[128];
} fk = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* Per test. */
static char ledger_path[128], witness_path[128];
static struct node_config cfg;
static struct node_ledger *ledger;
static struct tlog_witness *witness;
static struct transport_client *client;
static struct node_daemon *daemon_;
/* What the default query (presence, k = 1, two days of January 2026, rho
   0.5, 2 nodes) charges its month, nano-rho: see test_retry_reuses_vector. */
#define RHO_M	INT64_C(333333335)

static char *kinds_v[] = { (char *)"presence", (char *)"od" };
static char *analysts_v[] = { (char *)"nso" };
static char *steps[64];
static size_t nsteps;

/* ---------------------------------------------------------- the log */

static void
leaf_hashes(uint8_t (**out)[TLOG_HASH_LEN])
{
	uint8_t (*h)[TLOG_HASH_LEN] = calloc(fk.size + 1, TLOG_HASH_LEN);

	for (uint64_t i = 0; i < fk.size; i++)
		tlog_leaf_hash(fk.leaf[i], fk.leaflen[i], h[i]);
	*out = h;
}

/* Sign checkpoint (size, root) with 'id' under the key name 'name'. */
static char *
sign_checkpoint(const struct keys_identity *id, const char *name,
    uint64_t size, const uint8_t root[32])
{
	struct tlog_checkpoint cp;
	uint8_t pk[32], raw[68];
	char text[512], b64[128], *note;
	size_t len;

	memset(&cp, 0, sizeof(cp));
	snprintf(cp.origin, sizeof(cp.origin), "cairn/%s", FED);
	cp.size = size;
	memcpy(cp.root, root, 32);
	assert_int_equal(tlog_checkpoint_format(&cp, text, sizeof(text), &len),
	    CAIRN_OK);
	keys_identity_public(id, pk);
	tlog_key_id(name, TLOG_KEY_ED25519, pk, raw);
	assert_int_equal(keys_sign_note(id, (const uint8_t *)text, len,
	    raw + 4), CAIRN_OK);
	assert_true(tlog_b64_encode(raw, 68, b64, sizeof(b64)) > 0);
	note = malloc(len + 512);
	snprintf(note, len + 512, "%s\n\xe2\x80\x94 %s %s\n", text, name, b64);
	return note;
}

static void
log_root(uint64_t size, uint8_t root[32])
{
	struct memtree t;
	uint8_t (*h)[TLOG_HASH_LEN];

	leaf_hashes(&h);
	tlogt_memtree_init(&t, (const uint8_t (*)[TLOG_HASH_LEN])h, fk.size);
	assert_int_equal(tlog_range_root(&t.src, 0, size, root), CAIRN_OK);
	tlogt_memtree_free(&t);
	free(h);
}

/* Append an entry and re-sign the checkpoint (caller holds no lock). */
static uint64_t
log_append(const struct tlog_entry *e)
{
	uint8_t root[32];
	size_t len;
	uint64_t idx;

	pthread_mutex_lock(&fk.mu);
	assert_int_equal(tlog_entry_encode(e, NULL, 0, &len), CAIRN_ERR_TOOBIG);
	idx = fk.size;
	fk.leaf[idx] = malloc(len);
	assert_int_equal(tlog_entry_encode(e, fk.leaf[idx], len, &len),
	    CAIRN_OK);
	fk.leaflen[idx] = len;
	fk.size++;
	log_root(fk.size, root);
	free(fk.note);
	fk.note = sign_checkpoint(i_coord, "cairn/" FED, fk.size, root);
	pthread_mutex_unlock(&fk.mu);
	return idx;
}

static void
log_reset(void)
{
	pthread_mutex_lock(&fk.mu);
	for (uint64_t i = 0; i < fk.size; i++)
		free(fk.leaf[i]);
	fk.size = 0;
	free(fk.note);
	fk.note = NULL;
	free(fk.task);
	fk.task = NULL;
	free(fk.share);
	fk.share = NULL;
	fk.share_cells = fk.share_got = 0;
	fk.cosigns = fk.refusals = fk.adverts = 0;
	fk.own_len = fk.nb_len = fk.manifest_len = 0;
	fk.mode = RM_OK;
	fk.charged_at_advertise = false;
	fk.marked_at_advertise = fk.pending_at_advertise = false;
	fk.resends_at_refusal = 0;
	fk.fail_advertise = false;
	fk.advertise_code = fk.resend_code = fk.resends = 0;
	fk.resend_len = 0;
	fk.fail_chunk = 0;
	fk.share_calls = 0;
	fk.split = false;
	pthread_mutex_unlock(&fk.mu);
}

/*
 * The length of state row PREFIX<hex qhash>[/attempt] in ledger 'l'; -1
 * when absent.
 */
static long
state_len(struct node_ledger *l, const char *prefix, const uint8_t qhash[32],
    uint32_t attempt, bool with_attempt)
{
	char key[128];
	uint8_t buf[512];
	size_t k, len;

	k = (size_t)snprintf(key, sizeof(key), "%s", prefix);
	for (int i = 0; i < 32; i++)
		k += (size_t)snprintf(key + k, sizeof(key) - k, "%02x",
		    qhash[i]);
	if (with_attempt)
		snprintf(key + k, sizeof(key) - k, "/%u", attempt);
	if (node_ledger_state_get(l, key, buf, sizeof(buf), &len) != CAIRN_OK)
		return -1;
	return (long)len;
}

/* ------------------------------------------------------------ handlers */

static void
h_entries(struct transport_call *call, const ProtobufCMessage *req, void *a)
{
	const Cairn__V1__GetEntriesRequest *q =
	    (const Cairn__V1__GetEntriesRequest *)req;
	Cairn__V1__GetEntriesResponse r = CAIRN__V1__GET_ENTRIES_RESPONSE__INIT;
	Cairn__V1__LogEntry e[64], *ep[64];
	size_t n = 0;

	(void)a;
	pthread_mutex_lock(&fk.mu);
	for (uint64_t i = q->start; i < q->end && i < fk.size; i++) {
		cairn__v1__log_entry__init(&e[n]);
		e[n].index = i;
		e[n].data.data = fk.leaf[i];
		e[n].data.len = fk.leaflen[i];
		ep[n] = &e[n];
		n++;
	}
	r.n_entries = n;
	r.entries = ep;
	(void)transport_call_reply(call, &r.base);
	pthread_mutex_unlock(&fk.mu);
}

static void
h_consistency(struct transport_call *call, const ProtobufCMessage *req,
    void *a)
{
	const Cairn__V1__GetConsistencyProofRequest *q =
	    (const Cairn__V1__GetConsistencyProofRequest *)req;
	Cairn__V1__ConsistencyProof r = CAIRN__V1__CONSISTENCY_PROOF__INIT;
	ProtobufCBinaryData b[TLOG_MAX_PROOF];
	uint8_t proof[TLOG_MAX_PROOF][TLOG_HASH_LEN], (*h)[TLOG_HASH_LEN];
	struct memtree t;
	size_t n = 0;

	(void)a;
	pthread_mutex_lock(&fk.mu);
	leaf_hashes(&h);
	tlogt_memtree_init(&t, (const uint8_t (*)[TLOG_HASH_LEN])h, fk.size);
	if (q->new_size > fk.size || tlog_consistency_proof(&t.src,
	    q->old_size, q->new_size, proof, TLOG_MAX_PROOF, &n) != CAIRN_OK) {
		(void)transport_call_fail(call, CAIRN_ERR_RANGE, NULL, "range");
	} else {
		for (size_t i = 0; i < n; i++) {
			b[i].data = proof[i];
			b[i].len = TLOG_HASH_LEN;
		}
		r.old_size = q->old_size;
		r.new_size = q->new_size;
		r.n_hashes = n;
		r.hashes = b;
		(void)transport_call_reply(call, &r.base);
	}
	tlogt_memtree_free(&t);
	free(h);
	pthread_mutex_unlock(&fk.mu);
}

static int
note_sign_cb(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64])
{
	return keys_sign_note(ctx, msg, len, sig);
}

static void
h_checkpoint(struct transport_call *call, const ProtobufCMessage *req,
    void *a)
{
	Cairn__V1__Checkpoint r = CAIRN__V1__CHECKPOINT__INIT;

	struct tlog_note *tn = NULL;
	char lines[1024], *with = NULL;
	size_t ll = 0, wl;

	(void)req;
	(void)a;
	pthread_mutex_lock(&fk.mu);
	r.note = fk.note;
	/*
	 * The nodes na and nb have witnessed this checkpoint (as they do
	 * in a round: each cosigns before it masks), unless the test plays
	 * a split view: a log the other node never saw, no cosignature.
	 */
	if (!fk.split && fk.note != NULL &&
	    tlog_note_parse(fk.note, strlen(fk.note), &tn) == CAIRN_OK) {
		const struct keys_identity *ids[2] = { i_na, i_nb };
		const char *names[2] = { "na", "nb" };

		for (int i = 0; i < 2; i++) {
			struct tlog_signer sg;

			memset(&sg, 0, sizeof(sg));
			sg.name = names[i];
			keys_identity_public(ids[i], sg.pub);
			sg.sign = note_sign_cb;
			sg.ctx = (void *)ids[i];
			if (tlog_cosign(tn->text, tn->text_len, 1767225600,
			    &sg, lines + ll, sizeof(lines) - ll) == CAIRN_OK)
				ll += strlen(lines + ll);
		}
		tlog_note_free(tn);
		if (ll > 0 && tlog_note_add_lines(fk.note, strlen(fk.note),
		    lines, ll, &with, &wl) == CAIRN_OK)
			r.note = with;
	}
	(void)transport_call_reply(call, &r.base);
	free(with);
	pthread_mutex_unlock(&fk.mu);
}

static void
h_cosign(struct transport_call *call, const ProtobufCMessage *req, void *a)
{
	const Cairn__V1__Cosignature *c = (const Cairn__V1__Cosignature *)req;
	Cairn__V1__Ack r = CAIRN__V1__ACK__INIT;

	(void)a;
	pthread_mutex_lock(&fk.mu);
	if (strcmp(c->witness, "na") == 0 && c->signature.len == 72 &&
	    c->root_hash.len == 32)
		fk.cosigns++;
	pthread_mutex_unlock(&fk.mu);
	(void)transport_call_reply(call, &r.base);
}

static void
h_refuse(struct transport_call *call, const ProtobufCMessage *req, void *a)
{
	const Cairn__V1__SignedRefusal *s = (const Cairn__V1__SignedRefusal *)req;
	Cairn__V1__Ack r = CAIRN__V1__ACK__INIT;

	(void)a;
	pthread_mutex_lock(&fk.mu);
	fk.refusals++;
	fk.resends_at_refusal = fk.resends;
	if (s->refusal.len <= sizeof(fk.refusal) && s->signature.len == 64) {
		memcpy(fk.refusal, s->refusal.data, s->refusal.len);
		fk.refusal_len = s->refusal.len;
		memcpy(fk.refusal_sig, s->signature.data, 64);
	}
	pthread_mutex_unlock(&fk.mu);
	(void)transport_call_reply(call, &r.base);
}

static void
h_advertise(struct transport_call *call, const ProtobufCMessage *req, void *a)
{
	const Cairn__V1__SignedAdvertisement *s =
	    (const Cairn__V1__SignedAdvertisement *)req;
	Cairn__V1__Ack r = CAIRN__V1__ACK__INIT;
	struct node_ledger *l;
	struct node_ledger_round rd;
	uint32_t attempt = 0;

	(void)a;
	pthread_mutex_lock(&fk.mu);
	if (fk.fail_advertise || fk.advertise_code != 0) {
		int code = fk.fail_advertise ? CAIRN_ERR_STATE :
		    fk.advertise_code;

		pthread_mutex_unlock(&fk.mu);
		(void)transport_call_fail(call, code, NULL,
		    "coordinator restarting");
		return;
	}
	{
		Cairn__V1__Advertisement *ad = NULL;
		bool keyless;

		if (proto_unpack(&cairn__v1__advertisement__descriptor,
		    s->advertisement.data, s->advertisement.len,
		    PROTO_MAX_SMALL, (ProtobufCMessage **)&ad) != CAIRN_OK)
			ad = NULL;
		keyless = ad != NULL && ad->x25519_public.len == 0;
		attempt = ad != NULL ? ad->attempt : 0;
		if (ad != NULL)
			protobuf_c_message_free_unpacked(&ad->base, NULL);
		if (keyless) {
			/* A charge re-sent: kept for the test to check. */
			int code = fk.resend_code;

			fk.resends++;
			if (s->advertisement.len <= sizeof(fk.resend_ad) &&
			    s->signature.len == 64) {
				memcpy(fk.resend_ad, s->advertisement.data,
				    s->advertisement.len);
				fk.resend_len = s->advertisement.len;
				memcpy(fk.resend_sig, s->signature.data, 64);
			}
			pthread_mutex_unlock(&fk.mu);
			if (code != 0)
				(void)transport_call_fail(call, code, NULL,
				    "attempt 7 was never opened");
			else {
				r.detail = (char *)"CHARGE logged at index 9";
				(void)transport_call_reply(call, &r.base);
			}
			return;
		}
	}
	fk.adverts++;
	if (s->advertisement.len <= sizeof(fk.own_ad) &&
	    s->signature.len == 64) {
		memcpy(fk.own_ad, s->advertisement.data, s->advertisement.len);
		fk.own_len = s->advertisement.len;
		memcpy(fk.own_sig, s->signature.data, 64);
	}
	/* What is on disk now, through a connection of our own: the
	 * charge, the marker of this attempt and the re-send record. */
	fk.charged_at_advertise = false;
	fk.marked_at_advertise = fk.pending_at_advertise = false;
	if (node_ledger_open(fk.ledger_path, &l) == CAIRN_OK) {
		fk.charged_at_advertise = node_ledger_find_query(l, fk.qhash,
		    &rd) == CAIRN_OK && rd.vector_kept;
		fk.marked_at_advertise = state_len(l, "advertised/", fk.qhash,
		    attempt, true) > 0;
		fk.pending_at_advertise = state_len(l, "resend/", fk.qhash,
		    0, false) > 0;
		node_ledger_free(l);
	}
	pthread_mutex_unlock(&fk.mu);
	(void)transport_call_reply(call, &r.base);
}

static void
h_roster(struct transport_call *call, const ProtobufCMessage *req, void *a)
{
	const Cairn__V1__GetRosterRequest *q =
	    (const Cairn__V1__GetRosterRequest *)req;
	Cairn__V1__Roster r = CAIRN__V1__ROSTER__INIT;
	Cairn__V1__SignedAdvertisement s[2], *sp[2];
	uint8_t zero[64] = { 0 };
	size_t n = 0;

	(void)a;
	pthread_mutex_lock(&fk.mu);
	if (fk.own_len == 0 || fk.nb_len == 0) {
		pthread_mutex_unlock(&fk.mu);
		(void)transport_call_fail(call, CAIRN_ERR_NOTFOUND, NULL,
		    "not everyone advertised");
		return;
	}
	for (int i = 0; i < 2; i++) {
		cairn__v1__signed_advertisement__init(&s[i]);
		sp[i] = &s[i];
	}
	s[n].advertisement.data = fk.own_ad;
	s[n].advertisement.len = fk.own_len;
	s[n].signature.data = fk.own_sig;
	s[n].signature.len = 64;
	n++;
	if (fk.mode == RM_DUP) {
		s[n] = s[0];
		n++;
	} else if (fk.mode != RM_MISSING) {
		s[n].advertisement.data = fk.nb_ad;
		s[n].advertisement.len = fk.nb_len;
		s[n].signature.data = fk.mode == RM_UNSIGNED ? zero : fk.nb_sig;
		s[n].signature.len = 64;
		n++;
	}
	r.query_id = q->query_id;
	r.attempt = q->attempt;
	r.n_advertisements = n;
	r.advertisements = sp;
	(void)transport_call_reply(call, &r.base);
	pthread_mutex_unlock(&fk.mu);
}

static void
h_share(struct transport_call *call, const ProtobufCMessage *req, void *a)
{
	const Cairn__V1__MaskedShareChunk *c =
	    (const Cairn__V1__MaskedShareChunk *)req;
	Cairn__V1__SubmitShareResponse r =
	    CAIRN__V1__SUBMIT_SHARE_RESPONSE__INIT;
	Cairn__V1__ShareManifest *m = NULL;

	(void)a;
	pthread_mutex_lock(&fk.mu);
	fk.share_calls++;
	if (fk.fail_chunk != 0 && c->chunk_index + 1 == (uint32_t)fk.fail_chunk) {
		pthread_mutex_unlock(&fk.mu);
		(void)transport_call_fail(call, CAIRN_ERR_STATE, NULL,
		    "attempt closed under chunk");
		return;
	}
	if (proto_unpack(&cairn__v1__share_manifest__descriptor,
	    c->manifest.data, c->manifest.len, 4096,
	    (ProtobufCMessage **)&m) == CAIRN_OK && m->cells < 1000000 &&
	    c->offset + c->n_cells <= m->cells) {
		if (fk.share == NULL) {
			fk.share = calloc(m->cells, 8);
			fk.share_cells = m->cells;
		}
		memcpy(fk.share + c->offset, c->cells, c->n_cells * 8);
		fk.share_got += c->n_cells;
		memcpy(fk.manifest, c->manifest.data, c->manifest.len);
		fk.manifest_len = c->manifest.len;
		memcpy(fk.manifest_sig, c->signature.data, 64);
	}
	if (m != NULL)
		protobuf_c_message_free_unpacked(&m->base, NULL);
	r.received_cells = fk.share_got;
	pthread_mutex_unlock(&fk.mu);
	(void)transport_call_reply(call, &r.base);
}

static void
h_poll(struct transport_call *call, const ProtobufCMessage *req, void *a)
{
	Cairn__V1__PollTaskResponse r = CAIRN__V1__POLL_TASK_RESPONSE__INIT;
	Cairn__V1__Task *t = NULL;

	(void)req;
	(void)a;
	pthread_mutex_lock(&fk.mu);
	if (fk.task != NULL) {
		if (proto_unpack(&cairn__v1__task__descriptor, fk.task,
		    fk.tasklen, PROTO_MAX_SMALL, (ProtobufCMessage **)&t) !=
		    CAIRN_OK)
			t = NULL;
		free(fk.task);
		fk.task = NULL;
	}
	pthread_mutex_unlock(&fk.mu);
	r.task = t;
	(void)transport_call_reply(call, &r.base);
	if (t != NULL)
		protobuf_c_message_free_unpacked(&t->base, NULL);
}

static const struct transport_handler handlers[] = {
	{ NULL, h_entries, NULL, NULL },
	{ NULL, h_consistency, NULL, NULL },
	{ NULL, h_checkpoint, NULL, NULL },
	{ NULL, h_cosign, NULL, NULL },
	{ NULL, h_refuse, NULL, NULL },
	{ NULL, h_advertise, NULL, NULL },
	{ NULL, h_roster, NULL, NULL },
	{ NULL, h_share, NULL, NULL },
	{ NULL, h_poll, NULL, NULL },
};

/* --------------------------------------------------------------- setup */

static void
tls_member(enum keys_role role, const char *name, const char *hosts,
    struct keys_tls **out)
{
	char key[128], csr[128], crt[128], ca[128];

	snprintf(key, sizeof(key), "%s/%s.key", dir, name);
	snprintf(csr, sizeof(csr), "%s/%s.csr", dir, name);
	snprintf(crt, sizeof(crt), "%s/%s.crt", dir, name);
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	assert_int_equal(keys_tls_new(role, name, key, csr), CAIRN_OK);
	assert_int_equal(keys_cert_issue(dir, csr, crt, 30, hosts, NULL),
	    CAIRN_OK);
	assert_int_equal(keys_tls_load(ca, crt, key, out), CAIRN_OK);
}

static void
identity(enum keys_role role, const char *name, struct keys_identity **id,
    struct keys_member *m)
{
	assert_int_equal(keys_identity_generate(role, name, id), CAIRN_OK);
	if (m != NULL) {
		memset(m, 0, sizeof(*m));
		m->pub.role = role;
		snprintf(m->pub.name, sizeof(m->pub.name), "%s", name);
		keys_identity_public(*id, m->pub.pk);
	}
}

static int
group_setup(void **state)
{
	struct transport_handler h[sizeof(handlers) / sizeof(handlers[0])];
	static const enum proto_method ms[] = { PROTO_GET_ENTRIES,
	    PROTO_GET_CONSISTENCY_PROOF, PROTO_GET_CHECKPOINT, PROTO_COSIGN,
	    PROTO_REFUSE, PROTO_ADVERTISE, PROTO_GET_ROSTER,
	    PROTO_SUBMIT_SHARE, PROTO_POLL_TASK };
	struct transport_server_config sc = { "127.0.0.1:0", NULL, 2, 0, 200,
	    0 };

	(void)state;
	strcpy(dir, "/tmp/cairn-test-noded-XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(keys_ca_create(FED, dir), CAIRN_OK);
	tls_member(KEYS_ROLE_COORDINATOR, "coord", "localhost,127.0.0.1",
	    &t_coord);
	tls_member(KEYS_ROLE_NODE, "na", NULL, &t_na);
	identity(KEYS_ROLE_COORDINATOR, "coord", &i_coord, &members[0]);
	identity(KEYS_ROLE_NODE, "na", &i_na, &members[1]);
	identity(KEYS_ROLE_NODE, "nb", &i_nb, &members[2]);
	identity(KEYS_ROLE_ANALYST, "nso", &i_nso, &members[3]);
	identity(KEYS_ROLE_ANALYST, "eve", &i_eve, &members[4]);
	snprintf(fed.name, sizeof(fed.name), "%s", FED);
	fed.members = members;
	fed.n = 5;
	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
		h[i] = handlers[i];
		h[i].method = proto_method(ms[i]);
	}
	sc.tls = t_coord;
	assert_int_equal(transport_server_start(&sc, h, sizeof(ms) /
	    sizeof(ms[0]), &srv), CAIRN_OK);
	snprintf(target, sizeof(target), "127.0.0.1:%d",
	    transport_server_port(srv));
	return 0;
}

static int
group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	transport_server_stop(srv);
	log_reset();
	keys_tls_free(t_coord);
	keys_tls_free(t_na);
	keys_identity_free(i_coord);
	keys_identity_free(i_na);
	keys_identity_free(i_nb);
	keys_identity_free(i_nso);
	keys_identity_free(i_eve);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static bool vector_fails;
static uint64_t vector_cells;	/* cells of the vector; 0: the domain */

/* Test-only vector source: 1000 in every cell of the domain. */
static int
fixed_vector(void *ctx, const struct qspec *q, const char *geography,
    int64_t **cells, uint64_t *n)
{
	uint64_t k = vector_cells != 0 ? vector_cells :
	    qspec_domain_cells(q, NREG, 0);
	int64_t *v;

	(void)ctx;
	(void)geography;
	if (vector_fails)
		return cairn_err(CAIRN_ERR_FORMAT, "cdr.csv:7: subscriber "
		    "s42: bad timestamp");
	if ((v = malloc(k * sizeof(*v))) == NULL)
		return CAIRN_ERR_NOMEM;
	for (uint64_t i = 0; i < k; i++)
		v[i] = 1000;
	*cells = v;
	*n = k;
	return CAIRN_OK;
}

/* Its domain: the cells of the query over NREG regions. */
static int
fixed_domain(void *ctx, const struct qspec *q, const char *geography,
    uint64_t *n)
{
	(void)ctx;
	(void)geography;
	*n = vector_cells != 0 ? vector_cells : qspec_domain_cells(q, NREG, 0);
	return CAIRN_OK;
}

static void
record_step(const char *s, void *arg)
{
	(void)arg;
	if (nsteps < 64)
		steps[nsteps++] = (char *)s;
}

static int
setup(void **state)
{
	struct node_daemon_config dc;
	struct transport_client_config cc;
	static int seq;

	(void)state;
	log_reset();
	nsteps = 0;
	vector_fails = false;	/* a test that failed may have left it */
	seq++;
	snprintf(ledger_path, sizeof(ledger_path), "%s/ledger%d.db", dir, seq);
	snprintf(witness_path, sizeof(witness_path), "%s/witness%d.db", dir,
	    seq);
	snprintf(fk.ledger_path, sizeof(fk.ledger_path), "%s", ledger_path);
	memset(&cfg, 0, sizeof(cfg));
	cfg.name = (char *)"na";
	cfg.coordinator = target;
	cfg.poll_seconds = 1;
	cfg.call_deadline_seconds = 5;
	cfg.witness_quorum = -1;	/* node.conf's default: a majority */
	cfg.geography = (char *)"g1";
	cfg.policy.kinds.v = kinds_v;
	cfg.policy.kinds.n = 2;
	cfg.policy.analysts.v = analysts_v;
	cfg.policy.analysts.n = 1;
	cfg.policy.budget_rho_per_month_nano = NANO(10.0);
	cfg.policy.max_rho_per_query_nano = NANO(0.5);
	cfg.policy.min_participants = 2;
	cfg.policy.max_colluding = 0;
	cfg.policy.max_months_per_query = 12;
	cfg.policy.holders_per_person = 1;
	cfg.policy.retention_days = 7;
	assert_int_equal(node_ledger_open(ledger_path, &ledger), CAIRN_OK);
	assert_int_equal(tlog_witness_open(witness_path, &witness), CAIRN_OK);
	memset(&cc, 0, sizeof(cc));
	cc.target = target;
	cc.tls = t_na;
	assert_int_equal(transport_client_new(&cc, &client), CAIRN_OK);
	memset(&dc, 0, sizeof(dc));
	dc.cfg = &cfg;
	dc.id = i_na;
	dc.fed = &fed;
	dc.ledger = ledger;
	dc.witness = witness;
	dc.client = client;
	dc.vectors.compute = fixed_vector;
	dc.vectors.domain = fixed_domain;
	dc.step_hook = record_step;
	assert_int_equal(node_daemon_new(&dc, &daemon_), CAIRN_OK);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	node_daemon_free(daemon_);
	transport_client_free(client);
	tlog_witness_close(witness);
	node_ledger_free(ledger);
	return 0;
}

/* ------------------------------------------------------------ queries */

struct qopts {
	const char	*id;
	const char	*federation;
	const char	*kind;
	double		 rho;
	const struct keys_identity *signer;
	const char	*analyst;
	const char	*geography;
	uint32_t	 holders;	/* h; 0 means 1 */
	bool		 bad_sig;
};

static void
qopts_default(struct qopts *o, const char *id)
{
	memset(o, 0, sizeof(*o));
	o->id = id;
	o->federation = FED;
	o->kind = "presence";
	o->rho = 0.5;
	o->signer = i_nso;
	o->analyst = "nso";
	o->geography = "g1";
}

/* A signed query, packed, and its hash. */
static void
make_query(const struct qopts *o, uint8_t **bytes, size_t *len,
    uint8_t sig[64], uint8_t qhash[32])
{
	Cairn__V1__Query q = CAIRN__V1__QUERY__INIT;
	Cairn__V1__MemberId an = CAIRN__V1__MEMBER_ID__INIT;
	Cairn__V1__QuerySpec sp = CAIRN__V1__QUERY_SPEC__INIT;
	char *parts[] = { (char *)"na", (char *)"nb" };
	uint8_t nonce[16];

	an.role = CAIRN__V1__ROLE__ROLE_ANALYST;
	an.name = (char *)o->analyst;
	sp.kind = (char *)o->kind;
	sp.start = (char *)"2026-01-10";
	sp.end = (char *)"2026-01-12";
	sp.bucket = (char *)"day";
	sp.k = 1;
	sp.geography = (char *)o->geography;
	randombytes_buf(nonce, sizeof(nonce));
	q.query_id = (char *)o->id;
	q.analyst = &an;
	q.purpose = (char *)"test";
	q.spec = &sp;
	q.rho_nano = NANO(o->rho);
	q.n_participants = 2;
	q.participants = parts;
	q.max_colluding = 0;
	q.holders_per_person = o->holders;
	q.submitted_unix = time(NULL);
	q.federation = (char *)o->federation;
	q.nonce.data = nonce;
	q.nonce.len = 16;
	assert_int_equal(proto_pack(&q.base, PROTO_MAX_SMALL, bytes, len),
	    CAIRN_OK);
	assert_int_equal(keys_sign(o->signer, "query", *bytes, *len, sig),
	    CAIRN_OK);
	if (o->bad_sig)
		sig[5] ^= 1;
	crypto_hash_sha256(qhash, *bytes, *len);
}

/* A task for a logged query: everything the coordinator would send. */
struct task_buf {
	Cairn__V1__Task		 t;
	Cairn__V1__SignedQuery	 sq;
	Cairn__V1__Checkpoint	 cp;
	Cairn__V1__InclusionProof ip;
	ProtobufCBinaryData	 ph[TLOG_MAX_PROOF];
	uint8_t			 proof[TLOG_MAX_PROOF][TLOG_HASH_LEN];
	uint8_t			*qbytes;
	uint8_t			 sig[64];
	uint8_t			 qhash[32];
	uint64_t		 index;
};

static void
task_fill(struct task_buf *tb, const char *id, uint32_t attempt)
{
	struct memtree t;
	uint8_t (*h)[TLOG_HASH_LEN];
	size_t n;

	cairn__v1__task__init(&tb->t);
	cairn__v1__checkpoint__init(&tb->cp);
	cairn__v1__inclusion_proof__init(&tb->ip);
	pthread_mutex_lock(&fk.mu);
	leaf_hashes(&h);
	tlogt_memtree_init(&t, (const uint8_t (*)[TLOG_HASH_LEN])h, fk.size);
	assert_int_equal(tlog_inclusion_proof(&t.src, tb->index, fk.size,
	    tb->proof, TLOG_MAX_PROOF, &n), CAIRN_OK);
	tlogt_memtree_free(&t);
	free(h);
	for (size_t i = 0; i < n; i++) {
		tb->ph[i].data = tb->proof[i];
		tb->ph[i].len = TLOG_HASH_LEN;
	}
	tb->ip.index = tb->index;
	tb->ip.tree_size = fk.size;
	tb->ip.n_hashes = n;
	tb->ip.hashes = tb->ph;
	tb->cp.note = strdup(fk.note);
	pthread_mutex_unlock(&fk.mu);
	tb->t.query_id = (char *)id;
	tb->t.attempt = attempt;
	tb->t.query = &tb->sq;
	tb->t.checkpoint = &tb->cp;
	tb->t.query_inclusion = &tb->ip;
	tb->t.deadline_unix = time(NULL) + 30;
}

/* Log the query of 'o' and build its task. */
static void
task_make(struct task_buf *tb, const struct qopts *o, uint32_t attempt)
{
	struct tlog_entry e;
	size_t len, plen;
	uint8_t *packed;

	memset(tb, 0, sizeof(*tb));
	make_query(o, &tb->qbytes, &len, tb->sig, tb->qhash);
	cairn__v1__signed_query__init(&tb->sq);
	tb->sq.query.data = tb->qbytes;
	tb->sq.query.len = len;
	tb->sq.signature.data = tb->sig;
	tb->sq.signature.len = 64;
	assert_int_equal(proto_pack(&tb->sq.base, PROTO_MAX_SMALL, &packed,
	    &plen), CAIRN_OK);
	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_QUERY;
	e.time = (uint64_t)time(NULL);
	e.body.p = packed;
	e.body.len = plen;
	tb->index = log_append(&e);
	free(packed);
	task_fill(tb, o->id, attempt);
	pthread_mutex_lock(&fk.mu);
	memcpy(fk.qhash, tb->qhash, 32);
	pthread_mutex_unlock(&fk.mu);
}

static void
task_free(struct task_buf *tb)
{
	free(tb->qbytes);
	free(tb->cp.note);
}

/* nb's advertisement for 'tb' at 'attempt', keeping its secret key. */
static void
nb_advertise(const struct task_buf *tb, uint32_t attempt, uint64_t cells,
    uint8_t esk[32], uint8_t epk[32])
{
	Cairn__V1__Charge ch = CAIRN__V1__CHARGE__INIT;
	Cairn__V1__SignedCharge sc = CAIRN__V1__SIGNED_CHARGE__INIT;
	Cairn__V1__Advertisement ad = CAIRN__V1__ADVERTISEMENT__INIT;
	uint8_t *cb, *ab, csig[64];
	size_t clen, alen;

	assert_int_equal(secagg_keypair(epk, esk), CAIRN_OK);
	ch.query_id = tb->t.query_id;
	ch.query_hash.data = (uint8_t *)tb->qhash;
	ch.query_hash.len = 32;
	ch.node = (char *)"nb";
	ch.attempt = attempt;
	ch.cells = cells;
	assert_int_equal(proto_pack(&ch.base, 4096, &cb, &clen), CAIRN_OK);
	assert_int_equal(keys_sign(i_nb, "charge", cb, clen, csig), CAIRN_OK);
	sc.charge.data = cb;
	sc.charge.len = clen;
	sc.signature.data = csig;
	sc.signature.len = 64;
	ad.query_id = tb->t.query_id;
	ad.attempt = attempt;
	ad.node = (char *)"nb";
	ad.x25519_public.data = epk;
	ad.x25519_public.len = 32;
	ad.charge = &sc;
	assert_int_equal(proto_pack(&ad.base, 4096, &ab, &alen), CAIRN_OK);
	pthread_mutex_lock(&fk.mu);
	memcpy(fk.nb_ad, ab, alen);
	fk.nb_len = alen;
	assert_int_equal(keys_sign(i_nb, "advertisement", ab, alen, fk.nb_sig),
	    CAIRN_OK);
	fk.own_len = 0;
	free(fk.share);
	fk.share = NULL;
	fk.share_cells = fk.share_got = 0;
	pthread_mutex_unlock(&fk.mu);
	free(cb);
	free(ab);
}

/* The refusal the fake received: signature checked, fields decoded. */
static Cairn__V1__Refusal *
last_refusal(void)
{
	Cairn__V1__Refusal *rf = NULL;
	uint8_t pk[32];

	keys_identity_public(i_na, pk);
	pthread_mutex_lock(&fk.mu);
	assert_int_equal(keys_verify(pk, "refusal", fk.refusal,
	    fk.refusal_len, fk.refusal_sig), CAIRN_OK);
	assert_int_equal(proto_unpack(&cairn__v1__refusal__descriptor,
	    fk.refusal, fk.refusal_len, 4096, (ProtobufCMessage **)&rf),
	    CAIRN_OK);
	pthread_mutex_unlock(&fk.mu);
	assert_string_equal(rf->node, "na");
	return rf;
}

static int
count_fn(const struct node_ledger_entry *e, void *arg)
{
	(void)e;
	(*(int *)arg)++;
	return 0;
}

static int
charges(void)
{
	int n = 0;

	assert_int_equal(node_ledger_foreach(ledger, count_fn, &n), CAIRN_OK);
	return n;
}

/* Run a task that must be refused with 'code'; nothing charged. */
static void
expect_refusal(struct task_buf *tb, const char *code, const char *words)
{
	enum node_task_outcome oc;
	Cairn__V1__Refusal *rf;
	int before = charges();

	assert_int_equal(node_daemon_handle_task(daemon_, &tb->t, &oc),
	    CAIRN_OK);
	assert_int_equal(oc, NODE_TASK_REFUSED);
	assert_int_equal(fk.refusals, 1);
	assert_int_equal(fk.adverts, 0);
	rf = last_refusal();
	assert_string_equal(rf->reason_code, code);
	if (strstr(rf->reason, words) == NULL)
		fail_msg("refusal '%s' lacks '%s'", rf->reason, words);
	protobuf_c_message_free_unpacked(&rf->base, NULL);
	assert_int_equal(charges(), before);
}

/* -------------------------------------------------------------- tests */

/* Unmask na's share with nb's key: the data cells are na's noisy vector. */
static void
check_share(const struct task_buf *tb, const uint8_t nb_esk[32],
    const uint8_t nb_epk[32], int64_t *out, size_t ncells)
{
	struct secagg_member ro[2];
	Cairn__V1__ShareManifest *m = NULL;
	uint8_t sid[32], pk[32], digest[32];
	int64_t *xb;
	uint64_t *yb;
	size_t n = ncells + 1, self;
	Cairn__V1__Advertisement *ad = NULL;

	keys_identity_public(i_na, pk);
	pthread_mutex_lock(&fk.mu);
	assert_int_equal(fk.share_got, n);
	assert_int_equal(keys_verify(pk, "share", fk.manifest,
	    fk.manifest_len, fk.manifest_sig), CAIRN_OK);
	assert_int_equal(proto_unpack(&cairn__v1__share_manifest__descriptor,
	    fk.manifest, fk.manifest_len, 4096, (ProtobufCMessage **)&m),
	    CAIRN_OK);
	assert_int_equal(proto_unpack(&cairn__v1__advertisement__descriptor,
	    fk.own_ad, fk.own_len, 4096, (ProtobufCMessage **)&ad), CAIRN_OK);
	memcpy(ro[0].id, pk, 32);
	memcpy(ro[0].epk, ad->x25519_public.data, 32);
	keys_identity_public(i_nb, ro[1].id);
	memcpy(ro[1].epk, nb_epk, 32);
	secagg_roster_sort(ro, 2);
	assert_int_equal(secagg_sid(tb->qhash, ro, 2, sid), CAIRN_OK);
	assert_memory_equal(m->sid.data, sid, 32);
	assert_int_equal(m->cells, n);
	crypto_generichash(digest, 32, (const uint8_t *)fk.share, n * 8,
	    NULL, 0);
	assert_memory_equal(m->digest.data, digest, 32);
	xb = calloc(n, sizeof(*xb));
	yb = calloc(n, sizeof(*yb));
	xb[ncells] = (int64_t)secagg_check_value(sid);
	keys_identity_public(i_nb, pk);
	self = (size_t)secagg_roster_find(ro, 2, pk);
	assert_int_equal(secagg_mask(nb_esk, ro, 2, self, sid, xb, yb, n),
	    CAIRN_OK);
	secagg_sum_add(yb, fk.share, n);
	assert_true(secagg_check_is_valid(yb[ncells], 2, sid));
	for (size_t i = 0; i < ncells; i++)
		out[i] = secagg_decode(yb[i]);
	pthread_mutex_unlock(&fk.mu);
	protobuf_c_message_free_unpacked(&m->base, NULL);
	protobuf_c_message_free_unpacked(&ad->base, NULL);
	free(xb);
	free(yb);
}

static bool
saw_step(const char *s)
{
	for (size_t i = 0; i < nsteps; i++)
		if (strcmp(steps[i], s) == 0)
			return true;
	return false;
}

static void
test_retry_reuses_vector(void **state)
{
	struct task_buf tb;
	struct qopts o;
	enum node_task_outcome oc;
	uint8_t esk[32], epk[32];
	int64_t first[NREG * 2], second[NREG * 2];
	size_t ncells = NREG * 2;
	struct node_ledger_month lm[4];
	size_t nm;
	int64_t budget;
	uint64_t var;

	(void)state;
	qopts_default(&o, "q-retry");
	task_make(&tb, &o, 0);
	nb_advertise(&tb, 0, ncells + 1, esk, epk);
	assert_int_equal(node_daemon_handle_task(daemon_, &tb.t, &oc),
	    CAIRN_OK);
	assert_int_equal(oc, NODE_TASK_SHARED);
	check_share(&tb, esk, epk, first, ncells);
	assert_int_equal(charges(), 1);
	/* When the advertisement arrived, the attempt's marker and the
	 * charge's re-send record were on disk already. */
	assert_true(fk.charged_at_advertise);
	assert_true(fk.marked_at_advertise);
	assert_true(fk.pending_at_advertise);

	/* Attempt 1 with fresh keys on both sides. */
	free(tb.cp.note);
	task_fill(&tb, "q-retry", 1);
	nb_advertise(&tb, 1, ncells + 1, esk, epk);
	assert_int_equal(node_daemon_handle_task(daemon_, &tb.t, &oc),
	    CAIRN_OK);
	assert_int_equal(oc, NODE_TASK_SHARED);
	check_share(&tb, esk, epk, second, ncells);
	assert_memory_equal(first, second, sizeof(first));
	assert_int_equal(charges(), 1);
	/* The retry's own marker (attempt 1), and the record, emptied by
	 * the first acknowledgement, written again before the send. */
	assert_true(fk.marked_at_advertise);
	assert_true(fk.pending_at_advertise);
	assert_int_equal(node_ledger_charge_months(ledger, 1, lm, 4, &nm),
	    CAIRN_OK);
	assert_int_equal(nm, 1);
	assert_int_equal(lm[0].month, 2026 * 12 + 0);
	/* dp_requirement: presence, k = 1, over 2 days of January:
	 * delta_m^2 = 2; 2 honest nodes add x = 1 nano-rho (KLS21), so
	 * sigma^2 = ceil(2 10^9 / (2 (5 10^8 - 1))) = 3 and the month pays
	 * ceil(2 10^9 / 6) + 1, below the 0.5 asked. */
	assert_int_equal(lm[0].rho_nano, RHO_M);
	assert_int_equal(lm[0].cumulative_nano, RHO_M);
	assert_int_equal(node_ledger_charge_params(ledger, 1, &budget, &var),
	    CAIRN_OK);
	assert_int_equal(budget, 10 * LEDGER_NANO);
	/* per node max(4, ceil(3 / 2)) = 4. */
	assert_int_equal(var, 4);

	/* The same attempt delivered again: never a second advertisement. */
	pthread_mutex_lock(&fk.mu);
	fk.adverts = 0;
	pthread_mutex_unlock(&fk.mu);
	nsteps = 0;
	assert_int_equal(node_daemon_handle_task(daemon_, &tb.t, &oc),
	    CAIRN_OK);
	assert_int_equal(oc, NODE_TASK_ABANDONED);
	assert_int_equal(fk.adverts, 0);
	assert_false(saw_step("advertise"));
	assert_int_equal(charges(), 1);
	task_free(&tb);
}

static uint64_t
phase_sum(const struct node_task_timing *tt)
{
	uint64_t s = 0;

	for (int i = 0; i < NODE_PHASE_COUNT; i++)
		s += tt->ns[i];
	return s;
}

/*
 * The daemon times every phase of a task: a new charge has compute, noise
 * and ledger time and a compute window; a retry reuses the vector (ledger
 * time, no computation, no noise); the line names every phase.
 */
static void
test_task_timing(void **state)
{
	struct task_buf tb;
	struct qopts o;
	struct node_task_timing tt;
	enum node_task_outcome oc;
	uint8_t esk[32], epk[32];
	int64_t out[NREG * 2];
	size_t ncells = NREG * 2;
	double before;
	char line[512];

	(void)state;
	node_daemon_last_timing(daemon_, &tt);
	assert_false(tt.valid);
	qopts_default(&o, "q-timing");
	task_make(&tb, &o, 0);
	nb_advertise(&tb, 0, ncells + 1, esk, epk);
	before = node_clock_wall();
	assert_int_equal(node_daemon_handle_task(daemon_, &tb.t, &oc),
	    CAIRN_OK);
	assert_int_equal(oc, NODE_TASK_SHARED);
	check_share(&tb, esk, epk, out, ncells);
	node_daemon_last_timing(daemon_, &tt);
	assert_true(tt.valid);
	for (int i = 0; i < NODE_PHASE_COUNT; i++)
		if (i != NODE_PHASE_LOG_WAIT)
			assert_true(tt.ns[i] > 0);
	/* The computation runs beside the log check, and the wait for
	 * the log check after it is part of the log check: without those
	 * two the phases add up to at most the total. */
	assert_true(tt.ns[NODE_PHASE_LOG_WAIT] <= tt.ns[NODE_PHASE_LOG_CHECK]);
	assert_true(phase_sum(&tt) - tt.ns[NODE_PHASE_COMPUTE] -
	    tt.ns[NODE_PHASE_LOG_WAIT] <= tt.total_ns);
	assert_true(tt.compute_start >= before - 1.0);
	assert_true(tt.compute_end >= tt.compute_start);
	assert_true(tt.compute_end <= node_clock_wall() + 1.0);
	node_task_timing_format(&tt, line, sizeof(line));
	for (int i = 0; i < NODE_PHASE_COUNT; i++)
		assert_non_null(strstr(line, node_phase_names[i]));
	assert_non_null(strstr(line, "total "));
	assert_non_null(strstr(line, "compute_window "));

	/* The retry: the kept vector, no computation, no noise. */
	free(tb.cp.note);
	task_fill(&tb, "q-timing", 1);
	nb_advertise(&tb, 1, ncells + 1, esk, epk);
	assert_int_equal(node_daemon_handle_task(daemon_, &tb.t, &oc),
	    CAIRN_OK);
	assert_int_equal(oc, NODE_TASK_SHARED);
	check_share(&tb, esk, epk, out, ncells);
	node_daemon_last_timing(daemon_, &tt);
	assert_true(tt.valid);
	assert_int_equal(tt.ns[NODE_PHASE_COMPUTE], 0);
	assert_int_equal(tt.ns[NODE_PHASE_NOISE], 0);
	assert_true(tt.ns[NODE_PHASE_LEDGER] > 0);
	assert_true(tt.ns[NODE_PHASE_UPLOAD] > 0);
	assert_true(tt.compute_end == 0);

	/* A short buffer is cut, and still terminated. */
	node_task_timing_format(&tt, line, 20);
	assert_int_equal(strlen(line), 19);
	task_free(&tb);
}

/* A task whose checkpoint is older than the one the node cosigned. */
static void
test_older_checkpoint(void **state)
{
	struct task_buf old, cur;
	struct qopts o;
	enum node_task_outcome oc;
	uint8_t esk[32], epk[32];

	(void)state;
	qopts_default(&o, "q-old");
	task_make(&old, &o, 0);
	qopts_default(&o, "q-new");
	task_make(&cur, &o, 0);
	nb_advertise(&cur, 0, NREG * 2 + 1, esk, epk);
	assert_int_equal(node_daemon_handle_task(daemon_, &cur.t, &oc),
	    CAIRN_OK);
	assert_int_equal(oc, NODE_TASK_SHARED);
	nb_advertise(&old, 0, NREG * 2 + 1, esk, epk);
	assert_int_equal(node_daemon_handle_task(daemon_, &old.t, &oc),
	    CAIRN_OK);
	assert_int_equal(oc, NODE_TASK_SHARED);
	assert_int_equal(fk.refusals, 0);
	task_free(&old);
	task_free(&cur);
}

/*
 * The node charges, then the round breaks before the share is sent; the
 * node restarts (ledger, witness and daemon reopened) and the retry sends
 * the vector charged before the break, with no second charge.
 */
static void
test_restart_reuses_vector(void **state)
{
	struct task_buf tb;
	struct qopts o;
	enum node_task_outcome oc;
	uint8_t esk[32], epk[32], pset[32];
	int64_t got[NREG * 2], *kept = NULL, id;
	size_t nkept, ncells = NREG * 2;
	char *p[] = { (char *)"na", (char *)"nb" };

	qopts_default(&o, "q-restart");
	task_make(&tb, &o, 0);
	nb_advertise(&tb, 0, ncells + 1, esk, epk);
	pthread_mutex_lock(&fk.mu);
	fk.fail_advertise = true;
	pthread_mutex_unlock(&fk.mu);
	assert_int_equal(node_daemon_handle_task(daemon_, &tb.t, &oc),
	    CAIRN_OK);
	assert_int_equal(oc, NODE_TASK_ABANDONED);
	assert_true(saw_step("charged"));
	assert_false(saw_step("advertised"));
	assert_int_equal(charges(), 1);
	node_pset_hash(p, 2, pset);
	assert_int_equal(node_ledger_find_open(ledger, tb.qhash, pset, &id,
	    &kept, &nkept), CAIRN_OK);
	assert_int_equal(nkept, ncells);

	/* Restart: everything reopened from disk. */
	teardown(state);
	{
		struct node_daemon_config dc;
		struct transport_client_config cc;

		assert_int_equal(node_ledger_open(ledger_path, &ledger),
		    CAIRN_OK);
		assert_int_equal(tlog_witness_open(witness_path, &witness),
		    CAIRN_OK);
		memset(&cc, 0, sizeof(cc));
		cc.target = target;
		cc.tls = t_na;
		assert_int_equal(transport_client_new(&cc, &client), CAIRN_OK);
		memset(&dc, 0, sizeof(dc));
		dc.cfg = &cfg;
		dc.id = i_na;
		dc.fed = &fed;
		dc.ledger = ledger;
		dc.witness = witness;
		dc.client = client;
		dc.vectors.compute = fixed_vector;
	dc.vectors.domain = fixed_domain;
		assert_int_equal(node_daemon_new(&dc, &daemon_), CAIRN_OK);
	}
	pthread_mutex_lock(&fk.mu);
	fk.fail_advertise = false;
	pthread_mutex_unlock(&fk.mu);
	free(tb.cp.note);
	task_fill(&tb, "q-restart", 1);
	nb_advertise(&tb, 1, ncells + 1, esk, epk);
	assert_int_equal(node_daemon_handle_task(daemon_, &tb.t, &oc),
	    CAIRN_OK);
	assert_int_equal(oc, NODE_TASK_SHARED);
	check_share(&tb, esk, epk, got, ncells);
	assert_memory_equal(got, kept, ncells * sizeof(int64_t));
	assert_int_equal(charges(), 1);
	free(kept);
	task_free(&tb);
}

/* Reopen ledger, witness, client and daemon from disk: a node restart. */
static void
restart_node(void **state)
{
	struct node_daemon_config dc;
	struct transport_client_config cc;

	teardown(state);
	assert_int_equal(node_ledger_open(ledger_path, &ledger), CAIRN_OK);
	assert_int_equal(tlog_witness_open(witness_path, &witness), CAIRN_OK);
	memset(&cc, 0, sizeof(cc));
	cc.target = target;
	cc.tls = t_na;
	assert_int_equal(transport_client_new(&cc, &client), CAIRN_OK);
	memset(&dc, 0, sizeof(dc));
	dc.cfg = &cfg;
	dc.id = i_na;
	dc.fed = &fed;
	dc.ledger = ledger;
	dc.witness = witness;
	dc.client = client;
	dc.vectors.compute = fixed_vector;
	dc.vectors.domain = fixed_domain;
	assert_int_equal(node_daemon_new(&dc, &daemon_), CAIRN_OK);
}

static int
count_pending(const struct node_ledger_entry *e, void *arg)
{
	if (e->log_index < 0)
		(*(int *)arg)++;
	return 0;
}

/*
 * The coordinator dies before it logs a charge (its Advertise fails on
 * the channel): the charge is pending in the ledger, survives a restart of
 * the node, and is sent again once the coordinator answers, as a key-less
 * advertisement carrying the same signed charge, exactly once.  A
 * transport failure keeps it pending; a refusal by the coordinator drops
 * it (the ledger keeps the charge: an over-count) instead of sending it
 * forever.
 */
static void
test_charge_resent(void **state)
{
	struct task_buf tb, tb2;
	struct qopts o;
	enum node_task_outcome oc;
	Cairn__V1__Advertisement *ad;
	Cairn__V1__Charge *ch;
	uint8_t pk[32], adb[4096], adsig[64];
	size_t sent = 99, ncells = NREG * 2, adlen;
	int pending = 0, resends, adverts;

	qopts_default(&o, "q-resend");
	task_make(&tb, &o, 3);
	pthread_mutex_lock(&fk.mu);
	fk.advertise_code = CAIRN_ERR_NET;
	pthread_mutex_unlock(&fk.mu);
	assert_int_equal(node_daemon_handle_task(daemon_, &tb.t, &oc),
	    CAIRN_ERR_NET);
	assert_true(saw_step("charged"));
	assert_int_equal(charges(), 1);
	assert_int_equal(node_ledger_foreach(ledger, count_pending, &pending),
	    CAIRN_OK);
	assert_int_equal(pending, 1);

	/* Still away: the re-send fails on the channel, stays pending. */
	assert_int_equal(node_daemon_resend_charges(daemon_, &sent),
	    CAIRN_ERR_NET);
	assert_int_equal(sent, 0);
	pthread_mutex_lock(&fk.mu);
	resends = fk.resends;
	fk.advertise_code = 0;
	pthread_mutex_unlock(&fk.mu);
	assert_int_equal(resends, 0);

	/* The node restarts: the pending charge is found on disk. */
	restart_node(state);
	assert_int_equal(node_daemon_resend_charges(daemon_, &sent),
	    CAIRN_OK);
	assert_int_equal(sent, 1);
	pthread_mutex_lock(&fk.mu);
	resends = fk.resends;
	adverts = fk.adverts;
	memcpy(adb, fk.resend_ad, sizeof(adb));
	adlen = fk.resend_len;
	memcpy(adsig, fk.resend_sig, 64);
	pthread_mutex_unlock(&fk.mu);
	assert_int_equal(resends, 1);
	assert_int_equal(adverts, 0);
	keys_identity_public(i_na, pk);
	assert_int_equal(keys_verify(pk, "advertisement", adb, adlen, adsig),
	    CAIRN_OK);
	assert_int_equal(proto_unpack(&cairn__v1__advertisement__descriptor,
	    adb, adlen, PROTO_MAX_SMALL, (ProtobufCMessage **)&ad), CAIRN_OK);
	assert_int_equal(ad->x25519_public.len, 0);
	assert_string_equal(ad->query_id, "q-resend");
	assert_string_equal(ad->node, "na");
	assert_int_equal(ad->attempt, 3);
	assert_non_null(ad->charge);
	assert_int_equal(keys_verify(pk, "charge", ad->charge->charge.data,
	    ad->charge->charge.len, ad->charge->signature.data), CAIRN_OK);
	assert_int_equal(proto_unpack(&cairn__v1__charge__descriptor,
	    ad->charge->charge.data, ad->charge->charge.len, PROTO_MAX_SMALL,
	    (ProtobufCMessage **)&ch), CAIRN_OK);
	assert_int_equal(ch->query_hash.len, 32);
	assert_memory_equal(ch->query_hash.data, tb.qhash, 32);
	assert_int_equal(ch->attempt, 3);
	assert_int_equal(ch->cells, ncells + 1);
	assert_int_equal(ch->n_months, 1);
	assert_true(ch->months[0]->rho_nano == RHO_M);
	protobuf_c_message_free_unpacked(&ch->base, NULL);
	protobuf_c_message_free_unpacked(&ad->base, NULL);

	/* Acknowledged: never sent again, even before the log shows it. */
	assert_int_equal(node_daemon_resend_charges(daemon_, &sent),
	    CAIRN_OK);
	assert_int_equal(sent, 0);
	pthread_mutex_lock(&fk.mu);
	resends = fk.resends;
	pthread_mutex_unlock(&fk.mu);
	assert_int_equal(resends, 1);

	/* A charge the coordinator refuses to log: dropped after one try. */
	qopts_default(&o, "q-resend-2");
	task_make(&tb2, &o, 0);
	pthread_mutex_lock(&fk.mu);
	fk.advertise_code = CAIRN_ERR_NET;
	pthread_mutex_unlock(&fk.mu);
	assert_int_equal(node_daemon_handle_task(daemon_, &tb2.t, &oc),
	    CAIRN_ERR_NET);
	pthread_mutex_lock(&fk.mu);
	fk.advertise_code = 0;
	fk.resend_code = CAIRN_ERR_STATE;
	pthread_mutex_unlock(&fk.mu);
	assert_int_equal(node_daemon_resend_charges(daemon_, &sent),
	    CAIRN_OK);
	assert_int_equal(sent, 0);
	assert_int_equal(node_daemon_resend_charges(daemon_, &sent),
	    CAIRN_OK);
	pthread_mutex_lock(&fk.mu);
	resends = fk.resends;
	pthread_mutex_unlock(&fk.mu);
	assert_int_equal(resends, 2);
	assert_int_equal(charges(), 2);
	task_free(&tb);
	task_free(&tb2);
}

static void
test_budget_exhausted(void **state)
{
	struct task_buf tb;
	struct qopts o;
	enum node_task_outcome oc;
	uint8_t esk[32], epk[32];
	char id[16];

	(void)state;
	cfg.policy.budget_rho_per_month_nano = NANO(1.0);
	for (int i = 0; i < 2; i++) {
		snprintf(id, sizeof(id), "q-b%d", i);
		qopts_default(&o, id);
		task_make(&tb, &o, 0);
		nb_advertise(&tb, 0, NREG * 2 + 1, esk, epk);
		assert_int_equal(node_daemon_handle_task(daemon_, &tb.t, &oc),
		    CAIRN_OK);
		assert_int_equal(oc, NODE_TASK_SHARED);
		task_free(&tb);
	}
	assert_int_equal(charges(), 2);
	qopts_default(&o, "q-b2");
	task_make(&tb, &o, 0);
	pthread_mutex_lock(&fk.mu);
	fk.adverts = 0;
	pthread_mutex_unlock(&fk.mu);
	expect_refusal(&tb, NODE_REFUSE_BUDGET, "data-month 2026-01");
	task_free(&tb);
}

static void
test_bad_checkpoint_signature(void **state)
{
	struct task_buf tb;
	struct qopts o;
	uint8_t root[32];

	(void)state;
	qopts_default(&o, "q-sig");
	task_make(&tb, &o, 0);
	free(tb.cp.note);
	pthread_mutex_lock(&fk.mu);
	log_root(fk.size, root);
	pthread_mutex_unlock(&fk.mu);
	/* Signed by a node's key under the log's name. */
	tb.cp.note = sign_checkpoint(i_nb, "cairn/" FED, 1, root);
	expect_refusal(&tb, NODE_REFUSE_LOG, "");
	assert_int_equal(fk.cosigns, 0);
	task_free(&tb);
}

static void
test_bad_inclusion(void **state)
{
	struct task_buf tb, tb2;
	struct qopts o;

	(void)state;
	qopts_default(&o, "q-incl0");
	task_make(&tb, &o, 0);
	qopts_default(&o, "q-incl");
	task_make(&tb2, &o, 0);
	tb2.proof[0][3] ^= 1;
	expect_refusal(&tb2, NODE_REFUSE_LOG, "");
	assert_int_equal(fk.cosigns, 0);
	/* A valid proof, but of the entry of another query. */
	free(tb.cp.note);
	task_fill(&tb, "q-incl0", 0);
	tb2.ip = tb.ip;
	tb2.ph[0] = tb.ph[0];
	memcpy(tb2.proof, tb.proof, sizeof(tb.proof));
	for (size_t i = 0; i < tb2.ip.n_hashes; i++)
		tb2.ph[i].data = tb2.proof[i];
	tb2.ip.hashes = tb2.ph;
	tb2.t.query_inclusion = &tb2.ip;
	pthread_mutex_lock(&fk.mu);
	fk.refusals = 0;
	pthread_mutex_unlock(&fk.mu);
	expect_refusal(&tb2, NODE_REFUSE_LOG, "is not the task's QUERY");
	task_free(&tb);
	task_free(&tb2);
}

static void
test_fork(void **state)
{
	struct task_buf tb, other;
	struct qopts o;
	enum node_task_outcome oc;
	uint8_t esk[32], epk[32], root[32], leaf0[32], x[32];

	(void)state;
	qopts_default(&o, "q-f0");
	task_make(&tb, &o, 0);
	qopts_default(&o, "q-fx");
	task_make(&other, &o, 0);
	free(tb.cp.note);
	task_fill(&tb, "q-f0", 0);
	nb_advertise(&tb, 0, NREG * 2 + 1, esk, epk);
	assert_int_equal(node_daemon_handle_task(daemon_, &tb.t, &oc),
	    CAIRN_OK);
	assert_int_equal(oc, NODE_TASK_SHARED);
	/* A second view of size 2: the same QUERY at 0, another entry at
	 * 1, validly signed by the log key: a fork. */
	pthread_mutex_lock(&fk.mu);
	tlog_leaf_hash(fk.leaf[0], fk.leaflen[0], leaf0);
	pthread_mutex_unlock(&fk.mu);
	tlog_leaf_hash((const uint8_t *)"other", 5, x);
	tlog_node_hash(leaf0, x, root);
	free(tb.cp.note);
	tb.cp.note = sign_checkpoint(i_coord, "cairn/" FED, 2, root);
	memcpy(tb.proof[0], x, 32);
	tb.ip.n_hashes = 1;
	pthread_mutex_lock(&fk.mu);
	fk.adverts = 0;
	fk.refusals = 0;
	pthread_mutex_unlock(&fk.mu);
	expect_refusal(&tb, NODE_REFUSE_LOG, "");
	assert_true(tlog_witness_has_fork(witness, "cairn/" FED));
	task_free(&tb);
	task_free(&other);
	/* Every later task is refused, even a well-formed one. */
	qopts_default(&o, "q-f1");
	task_make(&tb, &o, 0);
	pthread_mutex_lock(&fk.mu);
	fk.refusals = 0;
	pthread_mutex_unlock(&fk.mu);
	expect_refusal(&tb, NODE_REFUSE_LOG, "forked");
	task_free(&tb);
}

static void
test_query_refusals(void **state)
{
	struct task_buf tb;
	struct qopts o;

	(void)state;
	qopts_default(&o, "q-badsig");
	o.bad_sig = true;
	task_make(&tb, &o, 0);
	expect_refusal(&tb, NODE_REFUSE_ANALYST, "does not verify");
	task_free(&tb);

	fk.refusals = 0;
	qopts_default(&o, "q-fed");
	o.federation = "otherfed";
	task_make(&tb, &o, 0);
	expect_refusal(&tb, NODE_REFUSE_OTHER, "federation 'otherfed'");
	task_free(&tb);

	fk.refusals = 0;
	qopts_default(&o, "q-eve");
	o.signer = i_eve;
	o.analyst = "eve";
	task_make(&tb, &o, 0);
	expect_refusal(&tb, NODE_REFUSE_ANALYST, "analyst 'eve' is not");
	task_free(&tb);

	fk.refusals = 0;
	qopts_default(&o, "q-rho");
	o.rho = 0.75;
	task_make(&tb, &o, 0);
	expect_refusal(&tb, NODE_REFUSE_POLICY, "rho 0.75 exceeds");
	task_free(&tb);

	fk.refusals = 0;
	qopts_default(&o, "q-geo");
	o.geography = "g2";
	task_make(&tb, &o, 0);
	expect_refusal(&tb, NODE_REFUSE_GEOGRAPHY, "geography 'g2'");
	task_free(&tb);

	fk.refusals = 0;
	qopts_default(&o, "q-kind");
	o.kind = "residents";
	task_make(&tb, &o, 0);
	/* residents takes no bucket or k: a malformed spec is refused. */
	expect_refusal(&tb, NODE_REFUSE_POLICY, "field");
	task_free(&tb);
}

static void
roster_case(enum roster_mode mode, uint32_t nb_attempt, const char *id)
{
	struct task_buf tb;
	struct qopts o;
	enum node_task_outcome oc;
	uint8_t esk[32], epk[32];

	qopts_default(&o, id);
	task_make(&tb, &o, 0);
	tb.t.deadline_unix = time(NULL) + 3;
	nb_advertise(&tb, nb_attempt, NREG * 2 + 1, esk, epk);
	pthread_mutex_lock(&fk.mu);
	fk.mode = mode;
	fk.refusals = 0;
	pthread_mutex_unlock(&fk.mu);
	assert_int_equal(node_daemon_handle_task(daemon_, &tb.t, &oc),
	    CAIRN_OK);
	assert_int_equal(oc, NODE_TASK_ABANDONED);
	assert_true(saw_step("advertised"));
	assert_false(saw_step("masked"));
	assert_int_equal(fk.share_got, 0);
	/* The bad roster is refused with a signed reason. */
	assert_int_equal(fk.refusals, 1);
	{
		Cairn__V1__Refusal *rf = last_refusal();

		assert_string_equal(rf->reason_code, NODE_REFUSE_OTHER);
		assert_non_null(strstr(rf->reason, "bad roster"));
		protobuf_c_message_free_unpacked(&rf->base, NULL);
	}
	fk.refusals = 0;
	nsteps = 0;
	task_free(&tb);
}

static void
test_roster_checks(void **state)
{
	(void)state;
	roster_case(RM_MISSING, 0, "q-r1");
	roster_case(RM_DUP, 0, "q-r2");
	roster_case(RM_UNSIGNED, 0, "q-r3");
	roster_case(RM_ATTEMPT, 5, "q-r4");
}

/* Poll a task, then follow CHARGE and RELEASE entries in the log. */
static void
test_poll_and_follow(void **state)
{
	struct task_buf tb;
	struct qopts o;
	struct tlog_entry e;
	uint8_t esk[32], epk[32], *packed;
	size_t plen;
	bool got;
	char *buf = NULL;
	size_t blen = 0;
	FILE *f;

	(void)state;
	qopts_default(&o, "q-poll");
	task_make(&tb, &o, 0);
	nb_advertise(&tb, 0, NREG * 2 + 1, esk, epk);
	assert_int_equal(proto_pack(&tb.t.base, PROTO_MAX_SMALL, &packed,
	    &plen), CAIRN_OK);
	pthread_mutex_lock(&fk.mu);
	fk.task = packed;
	fk.tasklen = plen;
	pthread_mutex_unlock(&fk.mu);
	assert_int_equal(node_daemon_poll_once(daemon_, 100, &got), CAIRN_OK);
	assert_true(got);
	assert_int_equal(fk.share_got, NREG * 2 + 1);

	/* The coordinator logs the charge (as sent) and the release. */
	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_CHARGE;
	e.time = (uint64_t)time(NULL);
	e.node_id.p = (const uint8_t *)"na";
	e.node_id.len = 2;
	memcpy(e.query_hash, tb.qhash, 32);
	e.ncharges = 1;
	e.charges[0].month = 202601;
	e.charges[0].rho_nano = NANO(0.5);
	e.charges[0].cumulative_nano = NANO(0.5);
	e.body.p = (const uint8_t *)"x";
	e.body.len = 1;
	e.signature.p = (const uint8_t *)"s";
	e.signature.len = 1;
	assert_int_equal(log_append(&e), 1);
	assert_int_equal(node_daemon_poll_once(daemon_, 100, &got), CAIRN_OK);
	assert_false(got);
	f = open_memstream(&buf, &blen);
	assert_int_equal(node_ledger_print(ledger, f), CAIRN_OK);
	fclose(f);
	if (strstr(buf, "q-poll") == NULL || strstr(buf, "open") == NULL ||
	    strstr(buf, "2026-01") == NULL)
		fail_msg("ledger show:\n%s", buf);
	free(buf);
	buf = NULL;

	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_RELEASE;
	e.time = (uint64_t)time(NULL);
	memcpy(e.query_hash, tb.qhash, 32);
	e.variance = 8;
	assert_int_equal(log_append(&e), 2);
	assert_int_equal(node_daemon_poll_once(daemon_, 100, &got), CAIRN_OK);
	f = open_memstream(&buf, &blen);
	assert_int_equal(node_ledger_export(ledger, "na", f), CAIRN_OK);
	fclose(f);
	{
		json_error_t je;
		json_t *j = json_loads(buf, 0, &je);
		json_t *m;

		if (j == NULL)
			fail_msg("export is not JSON: %s\n%s", je.text, buf);
		assert_string_equal(json_string_value(json_object_get(j,
		    "query_id")), "q-poll");
		assert_int_equal(json_integer_value(json_object_get(j,
		    "log_index")), 1);
		assert_true(json_is_false(json_object_get(j, "open")));
		assert_string_equal(json_string_value(json_object_get(j,
		    "node")), "na");
		m = json_array_get(json_object_get(j, "months"), 0);
		assert_string_equal(json_string_value(json_object_get(m,
		    "month")), "2026-01");
		assert_true(json_real_value(json_object_get(m,
		    "cumulative_rho")) == (double)RHO_M / LEDGER_NANO);
		json_decref(j);
	}
	free(buf);
	/* Released: a new task for the query is refused, not recharged. */
	free(tb.cp.note);
	task_fill(&tb, "q-poll", 1);
	pthread_mutex_lock(&fk.mu);
	fk.refusals = 0;
	fk.adverts = 0;
	pthread_mutex_unlock(&fk.mu);
	expect_refusal(&tb, NODE_REFUSE_OTHER, "round is closed");
	task_free(&tb);
}

/* Entries that do not hash to the cosigned root are not applied. */
static void
test_follow_tampered(void **state)
{
	struct task_buf tb;
	struct qopts o;
	struct tlog_entry e;
	struct node_ledger_round rd;
	enum node_task_outcome oc;
	uint8_t esk[32], epk[32];
	uint64_t idx;

	(void)state;
	qopts_default(&o, "q-tamper");
	task_make(&tb, &o, 0);
	nb_advertise(&tb, 0, NREG * 2 + 1, esk, epk);
	assert_int_equal(node_daemon_handle_task(daemon_, &tb.t, &oc),
	    CAIRN_OK);
	assert_int_equal(oc, NODE_TASK_SHARED);
	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_CHARGE;
	e.time = (uint64_t)time(NULL);
	e.node_id.p = (const uint8_t *)"na";
	e.node_id.len = 2;
	memcpy(e.query_hash, tb.qhash, 32);
	e.ncharges = 1;
	e.charges[0].month = 202601;
	e.charges[0].rho_nano = NANO(0.5);
	e.charges[0].cumulative_nano = NANO(0.5);
	e.body.p = (const uint8_t *)"x";
	e.body.len = 1;
	e.signature.p = (const uint8_t *)"s";
	e.signature.len = 1;
	idx = log_append(&e);
	/* The next checkpoint is cosigned, then its RELEASE leaf changes. */
	assert_int_equal(node_daemon_poll_once(daemon_, 100, NULL), CAIRN_OK);
	assert_int_equal(node_ledger_find_query(ledger, tb.qhash, &rd),
	    CAIRN_OK);
	assert_int_equal(rd.log_index, (int64_t)idx);
	e.type = TLOG_ENTRY_RELEASE;
	e.variance = 8;
	idx = log_append(&e);
	assert_int_equal(node_daemon_witness_checkpoint(daemon_), CAIRN_OK);
	pthread_mutex_lock(&fk.mu);
	fk.leaf[idx][fk.leaflen[idx] - 1] ^= 1;
	pthread_mutex_unlock(&fk.mu);
	assert_int_equal(node_daemon_follow_log(daemon_), CAIRN_ERR_PROOF);
	assert_int_equal(node_ledger_find_query(ledger, tb.qhash, &rd),
	    CAIRN_OK);
	assert_true(rd.vector_kept);
	pthread_mutex_lock(&fk.mu);
	fk.leaf[idx][fk.leaflen[idx] - 1] ^= 1;
	pthread_mutex_unlock(&fk.mu);
	assert_int_equal(node_daemon_follow_log(daemon_), CAIRN_OK);
	assert_int_equal(node_ledger_find_query(ledger, tb.qhash, &rd),
	    CAIRN_OK);
	assert_false(rd.vector_kept);
	task_free(&tb);
}

/*
 * Idle witnessing: a checkpoint published after the last task is
 * cosigned on the next empty poll, once; a fork seen while idle is
 * refused with its evidence kept, and nothing is cosigned after it.
 */
static void
test_idle_witness(void **state)
{
	struct task_buf tb;
	struct qopts o;
	struct tlog_entry e;
	struct tlog_checkpoint latest;
	enum node_task_outcome oc;
	uint8_t esk[32], epk[32], root[32];
	uint64_t idx;
	bool got;
	int c0;

	(void)state;
	qopts_default(&o, "q-idle");
	task_make(&tb, &o, 0);
	nb_advertise(&tb, 0, NREG * 2 + 1, esk, epk);
	assert_int_equal(node_daemon_handle_task(daemon_, &tb.t, &oc),
	    CAIRN_OK);
	assert_int_equal(oc, NODE_TASK_SHARED);
	pthread_mutex_lock(&fk.mu);
	c0 = fk.cosigns;
	pthread_mutex_unlock(&fk.mu);
	assert_true(c0 >= 1);

	/* A refusal is logged after the round: no task, yet cosigned. */
	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_REFUSAL;
	e.time = (uint64_t)time(NULL);
	e.node_id.p = (const uint8_t *)"nb";
	e.node_id.len = 2;
	memcpy(e.query_hash, tb.qhash, 32);
	e.body.p = (const uint8_t *)"r";
	e.body.len = 1;
	e.signature.p = (const uint8_t *)"s";
	e.signature.len = 1;
	idx = log_append(&e);
	assert_int_equal(node_daemon_poll_once(daemon_, 100, &got), CAIRN_OK);
	assert_false(got);
	pthread_mutex_lock(&fk.mu);
	assert_int_equal(fk.cosigns, c0 + 1);
	pthread_mutex_unlock(&fk.mu);
	assert_int_equal(tlog_witness_latest(witness, "cairn/" FED, &latest,
	    NULL, NULL), CAIRN_OK);
	assert_int_equal(latest.size, idx + 1);
	/* At most once per new checkpoint. */
	assert_int_equal(node_daemon_poll_once(daemon_, 100, &got), CAIRN_OK);
	assert_false(got);
	pthread_mutex_lock(&fk.mu);
	assert_int_equal(fk.cosigns, c0 + 1);
	pthread_mutex_unlock(&fk.mu);

	/* Two more entries, two sizes ahead: consistency is fetched. */
	e.type = TLOG_ENTRY_FAILURE;
	(void)log_append(&e);
	idx = log_append(&e);
	assert_int_equal(node_daemon_poll_once(daemon_, 100, &got), CAIRN_OK);
	pthread_mutex_lock(&fk.mu);
	assert_int_equal(fk.cosigns, c0 + 2);
	pthread_mutex_unlock(&fk.mu);
	assert_int_equal(tlog_witness_latest(witness, "cairn/" FED, &latest,
	    NULL, NULL), CAIRN_OK);
	assert_int_equal(latest.size, idx + 1);

	/* A second, validly signed root for the cosigned size: a fork. */
	tlog_leaf_hash((const uint8_t *)"other", 5, root);
	pthread_mutex_lock(&fk.mu);
	free(fk.note);
	fk.note = sign_checkpoint(i_coord, "cairn/" FED, fk.size, root);
	pthread_mutex_unlock(&fk.mu);
	assert_int_equal(node_daemon_witness_checkpoint(daemon_),
	    CAIRN_ERR_CONFLICT);
	assert_true(tlog_witness_has_fork(witness, "cairn/" FED));
	/* The loop logs the refusal and keeps polling. */
	assert_int_equal(node_daemon_poll_once(daemon_, 100, &got), CAIRN_OK);
	/* A later, well-formed checkpoint is refused too. */
	(void)log_append(&e);
	assert_int_equal(node_daemon_poll_once(daemon_, 100, &got), CAIRN_OK);
	pthread_mutex_lock(&fk.mu);
	assert_int_equal(fk.cosigns, c0 + 2);
	pthread_mutex_unlock(&fk.mu);
	assert_true(tlog_witness_has_fork(witness, "cairn/" FED));
	task_free(&tb);
}

/*
 * A share over 2^19 cells goes up in several chunks, two calls in
 * flight, each chunk with the signed manifest; the coordinator puts it
 * back together.  A chunk the coordinator refuses fails the upload.
 */
/*
 * A split view: the coordinator shows this node a log (the QUERY in it)
 * that the other node never witnessed, so no checkpoint covering it ever
 * carries a majority of the nodes' cosignatures.  With node.conf's
 * default quorum (a majority: 2 of na, nb) the node charges and
 * advertises but never sends its share; it refuses with code "log".
 */
static void
test_split_view(void **state)
{
	struct task_buf tb;
	struct qopts o;
	enum node_task_outcome oc;
	uint8_t esk[32], epk[32];
	Cairn__V1__Refusal *rf;

	(void)state;
	pthread_mutex_lock(&fk.mu);
	fk.split = true;
	pthread_mutex_unlock(&fk.mu);
	qopts_default(&o, "q-split");
	task_make(&tb, &o, 0);
	tb.t.deadline_unix = (int64_t)time(NULL) + 2;
	nb_advertise(&tb, 0, NREG * 2 + 1, esk, epk);
	assert_int_equal(node_daemon_handle_task(daemon_, &tb.t, &oc),
	    CAIRN_OK);
	assert_int_equal(oc, NODE_TASK_ABANDONED);
	assert_int_equal(fk.share_calls, 0);
	assert_int_equal(fk.refusals, 1);
	rf = last_refusal();
	assert_string_equal(rf->reason_code, "log");
	if (strstr(rf->reason, "valid witness cosignatures, 2 required") ==
	    NULL)
		fail_msg("refusal '%s' does not name the quorum", rf->reason);
	protobuf_c_message_free_unpacked(&rf->base, NULL);
	task_free(&tb);
}

static void
test_multi_chunk_share(void **state)
{
	struct task_buf tb;
	struct qopts o;
	enum node_task_outcome oc;
	uint8_t esk[32], epk[32];
	size_t ncells = 600000, nchunks;
	int64_t *out;
	int calls;

	(void)state;
	nchunks = (ncells + 1 + PROTO_CHUNK_CELLS - 1) / PROTO_CHUNK_CELLS;
	assert_true(nchunks >= 2);
	vector_cells = ncells;
	out = calloc(ncells, sizeof(*out));
	assert_non_null(out);
	qopts_default(&o, "q-big");
	task_make(&tb, &o, 0);
	nb_advertise(&tb, 0, ncells + 1, esk, epk);
	assert_int_equal(node_daemon_handle_task(daemon_, &tb.t, &oc),
	    CAIRN_OK);
	assert_int_equal(oc, NODE_TASK_SHARED);
	check_share(&tb, esk, epk, out, ncells);
	pthread_mutex_lock(&fk.mu);
	calls = fk.share_calls;
	pthread_mutex_unlock(&fk.mu);
	assert_int_equal(calls, (int)nchunks);
	/* The noisy values (sigma^2 4 per node) are near 1000. */
	for (size_t i = 0; i < ncells; i += 9973)
		assert_true(out[i] > 900 && out[i] < 1100);
	/* Noise is drawn in parts by several threads: every quarter of the
	 * vector has mean ~0 and variance ~4 about the exact 1000. */
	for (size_t q = 0; q < 4; q++) {
		double sum = 0, sq = 0, m, var;
		size_t lo = q * ncells / 4, hi = (q + 1) * ncells / 4;

		for (size_t i = lo; i < hi; i++) {
			sum += (double)(out[i] - 1000);
			sq += (double)(out[i] - 1000) * (double)(out[i] - 1000);
		}
		m = sum / (double)(hi - lo);
		var = sq / (double)(hi - lo) - m * m;
		assert_true(m > -0.1 && m < 0.1);
		assert_true(var > 3.8 && var < 4.2);
	}

	/* Attempt 1: the coordinator refuses the second chunk. */
	free(tb.cp.note);
	task_fill(&tb, "q-big", 1);
	nb_advertise(&tb, 1, ncells + 1, esk, epk);
	pthread_mutex_lock(&fk.mu);
	fk.fail_chunk = 2;
	pthread_mutex_unlock(&fk.mu);
	nsteps = 0;
	assert_int_equal(node_daemon_handle_task(daemon_, &tb.t, &oc),
	    CAIRN_OK);
	assert_int_equal(oc, NODE_TASK_ABANDONED);
	assert_true(saw_step("masked"));
	assert_false(saw_step("shared"));
	assert_int_equal(charges(), 1);
	vector_cells = 0;
	free(out);
	task_free(&tb);
}

static int
find_entry(const struct node_ledger_entry *e, void *arg)
{
	*(struct node_ledger_entry *)arg = *e;
	((struct node_ledger_entry *)arg)->label = NULL;
	((struct node_ledger_entry *)arg)->query_id = NULL;
	((struct node_ledger_entry *)arg)->months = NULL;
	return 0;
}

/* The charge of the last key-less advertisement the fake received. */
static Cairn__V1__Charge *
last_resent_charge(Cairn__V1__Advertisement **adp)
{
	Cairn__V1__Advertisement *ad = NULL;
	Cairn__V1__Charge *ch = NULL;
	uint8_t pk[32];

	keys_identity_public(i_na, pk);
	pthread_mutex_lock(&fk.mu);
	assert_int_equal(keys_verify(pk, "advertisement", fk.resend_ad,
	    fk.resend_len, fk.resend_sig), CAIRN_OK);
	assert_int_equal(proto_unpack(&cairn__v1__advertisement__descriptor,
	    fk.resend_ad, fk.resend_len, PROTO_MAX_SMALL,
	    (ProtobufCMessage **)&ad), CAIRN_OK);
	pthread_mutex_unlock(&fk.mu);
	assert_int_equal(ad->x25519_public.len, 0);
	assert_non_null(ad->charge);
	assert_int_equal(keys_verify(pk, "charge", ad->charge->charge.data,
	    ad->charge->charge.len, ad->charge->signature.data), CAIRN_OK);
	assert_int_equal(proto_unpack(&cairn__v1__charge__descriptor,
	    ad->charge->charge.data, ad->charge->charge.len, PROTO_MAX_SMALL,
	    (ProtobufCMessage **)&ch), CAIRN_OK);
	*adp = ad;
	return ch;
}

/*
 * Item 4 of issue 12: the computation read the holder's records and
 * failed (here "bad timestamp" at a subscriber: the engine's refusal of
 * a file over max_bad_fraction takes this path), so the refusal depends
 * on the data.  It leaves only after a durable charge (no vector kept)
 * whose CHARGE the coordinator has been sent; the refusal's line says
 * nothing of the data.  With the coordinator away for the charge, the
 * refusal still goes and the charge stays pending for the next re-send.
 */
static void
test_data_refusal_charged(void **state)
{
	struct task_buf tb;
	struct qopts o;
	enum node_task_outcome oc;
	struct node_ledger_entry e;
	Cairn__V1__Refusal *rf;
	Cairn__V1__Advertisement *ad;
	Cairn__V1__Charge *ch;
	size_t sent = 0;
	int pending = 0;

	(void)state;
	vector_fails = true;
	qopts_default(&o, "q-data");
	task_make(&tb, &o, 2);
	assert_int_equal(node_daemon_handle_task(daemon_, &tb.t, &oc),
	    CAIRN_OK);
	assert_int_equal(oc, NODE_TASK_REFUSED);
	assert_int_equal(fk.refusals, 1);
	assert_int_equal(fk.adverts, 0);
	rf = last_refusal();
	assert_string_equal(rf->reason_code, NODE_REFUSE_OTHER);
	assert_non_null(strstr(rf->reason, "could not compute its vector"));
	assert_null(strstr(rf->reason, "s42"));
	assert_null(strstr(rf->reason, "timestamp"));
	protobuf_c_message_free_unpacked(&rf->base, NULL);
	/* Charged: one ledger row, no vector kept, ... */
	assert_int_equal(charges(), 1);
	memset(&e, 0, sizeof(e));
	assert_int_equal(node_ledger_foreach(ledger, find_entry, &e),
	    CAIRN_OK);
	assert_memory_equal(e.query_hash, tb.qhash, 32);
	assert_int_equal(e.rho_nano, RHO_M);
	assert_false(e.vector_kept);
	/* ... its CHARGE sent before the refusal, acknowledged, ... */
	assert_int_equal(fk.resends, 1);
	assert_int_equal(fk.resends_at_refusal, 1);
	ch = last_resent_charge(&ad);
	assert_string_equal(ad->query_id, "q-data");
	assert_int_equal(ad->attempt, 2);
	assert_memory_equal(ch->query_hash.data, tb.qhash, 32);
	assert_int_equal(ch->attempt, 2);
	assert_int_equal(ch->cells, NREG * 2 + 1);	/* the domain's */
	assert_int_equal(ch->noise_variance, 4);
	assert_int_equal(ch->months[0]->rho_nano, RHO_M);
	protobuf_c_message_free_unpacked(&ch->base, NULL);
	protobuf_c_message_free_unpacked(&ad->base, NULL);
	assert_int_equal(state_len(ledger, "resend/", tb.qhash, 0, false), 0);
	/* ... and a retry is refused, never charged again. */
	fk.refusals = 0;
	vector_fails = false;
	free(tb.cp.note);
	task_fill(&tb, "q-data", 3);
	expect_refusal(&tb, NODE_REFUSE_OTHER, "not charging again");
	task_free(&tb);

	/* The coordinator away when the charge goes: refused all the same,
	 * the charge pending, and sent at the next re-send. */
	vector_fails = true;
	fk.refusals = 0;
	qopts_default(&o, "q-data-2");
	task_make(&tb, &o, 0);
	pthread_mutex_lock(&fk.mu);
	fk.advertise_code = CAIRN_ERR_NET;
	pthread_mutex_unlock(&fk.mu);
	assert_int_equal(node_daemon_handle_task(daemon_, &tb.t, &oc),
	    CAIRN_OK);
	vector_fails = false;
	assert_int_equal(oc, NODE_TASK_REFUSED);
	assert_int_equal(fk.refusals, 1);
	assert_int_equal(charges(), 2);
	assert_true(state_len(ledger, "resend/", tb.qhash, 0, false) > 0);
	pthread_mutex_lock(&fk.mu);
	fk.advertise_code = 0;
	pthread_mutex_unlock(&fk.mu);
	assert_int_equal(node_daemon_resend_charges(daemon_, &sent),
	    CAIRN_OK);
	assert_int_equal(sent, 1);
	assert_int_equal(fk.resends, 2);
	ch = last_resent_charge(&ad);
	assert_memory_equal(ch->query_hash.data, tb.qhash, 32);
	protobuf_c_message_free_unpacked(&ch->base, NULL);
	protobuf_c_message_free_unpacked(&ad->base, NULL);
	assert_int_equal(node_ledger_foreach(ledger, count_pending, &pending),
	    CAIRN_OK);
	assert_int_equal(pending, 2);	/* not in the log yet, not resent */
	assert_int_equal(node_daemon_resend_charges(daemon_, &sent),
	    CAIRN_OK);
	assert_int_equal(sent, 0);
	task_free(&tb);
}

/* At step "charged": is the re-send record on disk beside the charge? */
static long charged_resend_len;
static uint8_t charged_qhash[32];

static void
check_at_charged(const char *s, void *arg)
{
	struct node_ledger *l;

	record_step(s, arg);
	if (strcmp(s, "charged") != 0)
		return;
	charged_resend_len = -2;
	if (node_ledger_open(ledger_path, &l) != CAIRN_OK)
		return;
	charged_resend_len = state_len(l, "resend/", charged_qhash, 0, false);
	node_ledger_free(l);
}

/* Make the ledger's writes of re-send records fail like a full disk. */
static void
resend_writes_fail(bool on)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(ledger_path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_exec(db, on ?
	    "CREATE TRIGGER full BEFORE INSERT ON node_state WHEN "
	    "NEW.key LIKE 'resend/%' BEGIN SELECT RAISE(ABORT, "
	    "'database or disk is full'); END;" :
	    "DROP TRIGGER full", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/*
 * Item 9 of issue 12: the charge and its re-send record are one
 * transaction.  (a) When the task reaches "charged" (the point a crash
 * would leave it at) the record is on disk beside the charge.  (b) A
 * failure of the record's write (a full disk, injected by a trigger)
 * leaves neither: no charge, no record, nothing sent; once the disk is
 * back the query is charged once and shared.  (c) The same for a retry's
 * attempt marker and record: neither, and nothing sent.
 */
static void
test_charge_resend_atomic(void **state)
{
	struct task_buf tb;
	struct qopts o;
	enum node_task_outcome oc;
	uint8_t esk[32], epk[32];

	(void)state;
	qopts_default(&o, "q-atomic");
	task_make(&tb, &o, 0);
	memcpy(charged_qhash, tb.qhash, 32);
	charged_resend_len = -3;
	daemon_->dc.step_hook = check_at_charged;
	nb_advertise(&tb, 0, NREG * 2 + 1, esk, epk);
	assert_int_equal(node_daemon_handle_task(daemon_, &tb.t, &oc),
	    CAIRN_OK);
	assert_int_equal(oc, NODE_TASK_SHARED);
	assert_true(saw_step("charged"));
	assert_true(charged_resend_len > 12);
	task_free(&tb);

	/* (b) The disk fills up under the re-send record. */
	daemon_->dc.step_hook = record_step;
	resend_writes_fail(true);
	qopts_default(&o, "q-full");
	task_make(&tb, &o, 0);
	nb_advertise(&tb, 0, NREG * 2 + 1, esk, epk);
	nsteps = 0;
	assert_int_equal(node_daemon_handle_task(daemon_, &tb.t, &oc),
	    CAIRN_ERR_DB);
	assert_int_equal(charges(), 1);		/* q-atomic's only */
	assert_int_equal(state_len(ledger, "resend/", tb.qhash, 0, false), -1);
	assert_false(saw_step("charged"));
	assert_int_equal(fk.adverts, 1);	/* q-atomic's only */
	assert_int_equal(fk.refusals, 0);
	resend_writes_fail(false);
	free(tb.cp.note);
	task_fill(&tb, "q-full", 1);
	nb_advertise(&tb, 1, NREG * 2 + 1, esk, epk);
	assert_int_equal(node_daemon_handle_task(daemon_, &tb.t, &oc),
	    CAIRN_OK);
	assert_int_equal(oc, NODE_TASK_SHARED);
	assert_int_equal(charges(), 2);

	/* (c) A retry: the attempt's marker and the re-send record go in
	 * one transaction before the send; the record's write failing
	 * leaves no marker (the attempt can still be advertised). */
	resend_writes_fail(true);
	free(tb.cp.note);
	task_fill(&tb, "q-full", 2);
	nb_advertise(&tb, 2, NREG * 2 + 1, esk, epk);
	pthread_mutex_lock(&fk.mu);
	fk.adverts = 0;
	pthread_mutex_unlock(&fk.mu);
	assert_int_equal(node_daemon_handle_task(daemon_, &tb.t, &oc),
	    CAIRN_ERR_DB);
	assert_int_equal(fk.adverts, 0);
	assert_int_equal(state_len(ledger, "advertised/", tb.qhash, 2, true),
	    -1);
	resend_writes_fail(false);
	nb_advertise(&tb, 2, NREG * 2 + 1, esk, epk);
	assert_int_equal(node_daemon_handle_task(daemon_, &tb.t, &oc),
	    CAIRN_OK);
	assert_int_equal(oc, NODE_TASK_SHARED);
	assert_int_equal(fk.adverts, 1);
	assert_int_equal(charges(), 2);
	task_free(&tb);
}

/*
 * Item 20 of issue 12: a query assuming h = 2 holders per person (the
 * node's policy requires 2) is charged and advertised with the noise of
 * h = 2, worked by hand (docs/privacy.md): presence k = 1 over B = 2 days
 * of one month, Delta_m^2 = h^2 k B = 8; n = 2 honest nodes over 8 cells
 * give the KLS21 term x = ceil(18 * 1 * 8 / 10^9) = 1 nano-rho, so
 * sigma^2 = ceil(8 10^9 / (2 (5 10^7 - 1))) = 81 and per node
 * ceil(81 / 2) = 41 — not the 11 of h = 1 (Delta_m^2 = 2, sigma^2 = 21).
 * A query assuming h = 1 is refused by that policy.
 */
static void
test_holders_noise(void **state)
{
	struct task_buf tb;
	struct qopts o;
	enum node_task_outcome oc;
	uint8_t esk[32], epk[32];
	Cairn__V1__Advertisement *ad = NULL;
	Cairn__V1__Charge *ch = NULL;
	int64_t budget;
	uint64_t var;

	(void)state;
	cfg.policy.holders_per_person = 2;
	qopts_default(&o, "q-h2");
	o.rho = 0.05;
	o.holders = 2;
	task_make(&tb, &o, 0);
	nb_advertise(&tb, 0, NREG * 2 + 1, esk, epk);
	assert_int_equal(node_daemon_handle_task(daemon_, &tb.t, &oc),
	    CAIRN_OK);
	assert_int_equal(oc, NODE_TASK_SHARED);
	pthread_mutex_lock(&fk.mu);
	assert_int_equal(proto_unpack(&cairn__v1__advertisement__descriptor,
	    fk.own_ad, fk.own_len, PROTO_MAX_SMALL, (ProtobufCMessage **)&ad),
	    CAIRN_OK);
	pthread_mutex_unlock(&fk.mu);
	assert_int_equal(proto_unpack(&cairn__v1__charge__descriptor,
	    ad->charge->charge.data, ad->charge->charge.len, PROTO_MAX_SMALL,
	    (ProtobufCMessage **)&ch), CAIRN_OK);
	assert_int_equal(ch->noise_variance, 41);
	protobuf_c_message_free_unpacked(&ch->base, NULL);
	protobuf_c_message_free_unpacked(&ad->base, NULL);
	assert_int_equal(node_ledger_charge_params(ledger, 1, &budget, &var),
	    CAIRN_OK);
	assert_int_equal(var, 41);
	task_free(&tb);

	qopts_default(&o, "q-h1");
	o.rho = 0.05;
	task_make(&tb, &o, 0);
	pthread_mutex_lock(&fk.mu);
	fk.adverts = 0;
	pthread_mutex_unlock(&fk.mu);
	expect_refusal(&tb, NODE_REFUSE_POLICY, "holders");
	task_free(&tb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_retry_reuses_vector,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_task_timing, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_older_checkpoint, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_restart_reuses_vector,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_charge_resent, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_budget_exhausted, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_checkpoint_signature,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_inclusion, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fork, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_refusals, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_roster_checks, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_follow_tampered, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_poll_and_follow, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_idle_witness, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_split_view, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_multi_chunk_share, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_data_refusal_charged,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_charge_resend_atomic,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_holders_noise, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
