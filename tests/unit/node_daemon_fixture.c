/*
 * node_daemon_fixture.c - the fixture of the node daemon's tests
 * (tests/unit/test_node_daemon_*.c): an in-process fake coordinator built
 * on the real transport server (mutual TLS on loopback), a node "na"
 * served by it, and the helpers that make queries and tasks, play the
 * second participant "nb" and check what the node sent.
 *
 * The fake keeps a real Merkle log of QUERY (and later CHARGE/RELEASE)
 * entries, signs checkpoints with the coordinator's identity key and plays
 * the second participant "nb" itself, so a test can unmask the node's
 * share and compare it with the ledger's stored noisy vector.  Every test
 * program links it (the Makefile links every tests/unit/ helper into
 * each); only those that include node_daemon_fixture.h use it.
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
#include "node_daemon_fixture.h"
#include "tlog_helpers.h"


static char dir[64], target[64];
/* The fake coordinator's state, shared with its handler threads. */
struct ndf_fake fk = { .mu = PTHREAD_MUTEX_INITIALIZER };
static struct keys_tls *t_coord, *t_na;
struct keys_identity *i_coord, *i_na, *i_nb, *i_nso, *i_eve;
static struct keys_federation fed;
static struct keys_member members[5];
static struct transport_server *srv;



/* Per test. */
char ledger_path[128];
static char witness_path[128];
struct node_config cfg;
struct node_ledger *ledger;
struct tlog_witness *witness;
static struct transport_client *client;
struct node_daemon *daemon_;

static char *kinds_v[] = { (char *)"presence", (char *)"od" };
static char *analysts_v[] = { (char *)"nso" };
char *steps[64];
size_t nsteps;

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
char *
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

void
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
uint64_t
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
	fk.quorum_size = 0;
	fk.quorum_asks = 0;
	pthread_mutex_unlock(&fk.mu);
}

/*
 * The length of state row PREFIX<hex qhash>[/attempt] in ledger 'l'; -1
 * when absent.
 */
long
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
	const Cairn__V1__GetCheckpointRequest *q =
	    (const Cairn__V1__GetCheckpointRequest *)req;
	Cairn__V1__Checkpoint r = CAIRN__V1__CHECKPOINT__INIT;

	struct tlog_note *tn = NULL;
	char lines[1024], *with = NULL, *older = NULL;
	uint8_t root[32];
	size_t ll = 0, wl;
	bool cosigned = !fk.split;

	(void)a;
	pthread_mutex_lock(&fk.mu);
	r.note = fk.note;
	if (q->min_cosignatures > 0)
		fk.quorum_asks++;
	if (fk.quorum_size > 0) {
		/* Only the older checkpoint is cosigned (the witnesses have
		 * not seen the latest yet): shown when asked for a quorum. */
		cosigned = q->min_cosignatures > 0;
		if (cosigned) {
			log_root(fk.quorum_size, root);
			older = sign_checkpoint(i_coord, "cairn/" FED,
			    fk.quorum_size, root);
			r.note = older;
		}
	}
	/*
	 * The nodes na and nb have witnessed this checkpoint (as they do
	 * in a round: each cosigns before it masks), unless the test plays
	 * a split view: a log the other node never saw, no cosignature.
	 */
	if (cosigned && r.note != NULL &&
	    tlog_note_parse(r.note, strlen(r.note), &tn) == CAIRN_OK) {
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
		if (ll > 0 && tlog_note_add_lines(r.note, strlen(r.note),
		    lines, ll, &with, &wl) == CAIRN_OK)
			r.note = with;
	}
	(void)transport_call_reply(call, &r.base);
	free(with);
	free(older);
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

int
ndf_group_setup(void **state)
{
	struct transport_handler h[sizeof(handlers) / sizeof(handlers[0])];
	static const enum proto_method ms[] = { PROTO_GET_ENTRIES,
	    PROTO_GET_CONSISTENCY_PROOF, PROTO_GET_CHECKPOINT, PROTO_COSIGN,
	    PROTO_REFUSE, PROTO_ADVERTISE, PROTO_GET_ROSTER,
	    PROTO_SUBMIT_SHARE, PROTO_POLL_TASK };
	struct transport_server_config sc = { "127.0.0.1:0", NULL, 2, 0, 200,
	    0, false };

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

int
ndf_group_teardown(void **state)
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

bool vector_fails;
uint64_t vector_cells;	/* cells of the vector; 0: the domain */

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

void
record_step(const char *s, void *arg)
{
	(void)arg;
	if (nsteps < 64)
		steps[nsteps++] = (char *)s;
}

int
ndf_setup(void **state)
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

int
ndf_teardown(void **state)
{
	(void)state;
	node_daemon_free(daemon_);
	transport_client_free(client);
	tlog_witness_close(witness);
	node_ledger_free(ledger);
	return 0;
}

/* ------------------------------------------------------------ queries */


void
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


void
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
void
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

void
task_free(struct task_buf *tb)
{
	free(tb->qbytes);
	free(tb->cp.note);
}

/* nb's advertisement for 'tb' at 'attempt', keeping its secret key. */
void
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
Cairn__V1__Refusal *
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

int
charges(void)
{
	int n = 0;

	assert_int_equal(node_ledger_foreach(ledger, count_fn, &n), CAIRN_OK);
	return n;
}

/* Run a task that must be refused with 'code'; nothing charged. */
void
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

/* Unmask na's share with nb's key: the data cells are na's noisy vector. */
void
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

bool
saw_step(const char *s)
{
	for (size_t i = 0; i < nsteps; i++)
		if (strcmp(steps[i], s) == 0)
			return true;
	return false;
}

/* Reopen ledger, witness, client and daemon from disk: a node restart. */
void
restart_node(void **state)
{
	struct node_daemon_config dc;
	struct transport_client_config cc;

	ndf_teardown(state);
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
