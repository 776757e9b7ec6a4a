/*
 * test_query_online.c - `cairn query` and `cairn audit verify|fetch`
 * against a small in-process coordinator built on the transport server
 * API, over mutual TLS on loopback.  The fake coordinator logs what a
 * real round logs (QUERY, the nodes' signed CHARGEs, RELEASE) in a real
 * tlog store, signs checkpoints with its identity key and serves
 * GetQuery, GetResult, ListQueries, GetCheckpoint and GetEntries.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>
#include <sodium.h>

#include "audit/audit.h"
#include "common/err.h"
#include "common/file.h"
#include "keys/keys.h"
#include "keys/keys_federation.h"
#include "keys/keys_tls.h"
#include "protocol/cairn.pb-c.h"
#include "protocol/proto_client.h"
#include "protocol/proto_service.h"
#include "protocol/qspec.h"
#include "protocol/secagg.h"
#include "protocol/tlog_entry.h"
#include "protocol/tlog_note.h"
#include "protocol/tlog_store.h"
#include "protocol/transport.h"
#include "query/query.h"

#include <math.h>
/* ρ as a test writes it (a double) to nano-ρ. */
#define NANO(x)	((uint64_t)llround((double)(x) * 1e9))

#define NREG	2

static char dir[64], target[64], fedpath[128], aconf[128], vconf[8][160];
static struct keys_identity *coord_id, *node_id[2];
static struct keys_tls *t_coord;
static struct transport_server *srv;
static struct keys_federation *fed;

/* The coordinator's state, behind a lock (handlers run on its threads). */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct tlog_store *store;
static char *note;
static char qid[128];
static uint64_t q_index, rel_index;
static int64_t values[64];
static uint64_t ncells;
static uint8_t result_hash[32];
static bool have_query;
/*
 * 1: a changed value, 2: a gap in the stream, 3: a changed value with the
 * Release's result hash to match (the logged one differs), 4: the same
 * with a forged RELEASE entry from GetEntries, 5: a checkpoint signed by
 * another key than the log's.
 */
static int corrupt;
static struct keys_identity *rogue_id;	/* signs corrupt == 5 */

static const char *const node_names[2] = { "alpha", "beta" };

/* ------------------------------------------------------------ the PKI */

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
	if (out != NULL)
		assert_int_equal(keys_tls_load(ca, crt, key, out), CAIRN_OK);
}

/* The SHA-256 fingerprint of the certificate file 'crt'. */
static void
cert_fpr(const char *crt, char fpr[static KEYS_FPR_LEN])
{
	struct keys_cert_info ci;
	char *pem;
	size_t n;

	assert_int_equal(file_read_capped(crt, 1 << 20, &pem, &n), CAIRN_OK);
	assert_int_equal(keys_cert_info(pem, n, &ci), CAIRN_OK);
	memcpy(fpr, ci.fingerprint, KEYS_FPR_LEN);
	free(pem);
}

/* Enrol 'id'; the coordinator with the fingerprint of coord.crt. */
static void
enrol(const struct keys_identity *id)
{
	struct keys_member m;
	char crt[128];

	memset(&m, 0, sizeof(m));
	m.pub.role = keys_identity_role(id);
	snprintf(m.pub.name, sizeof(m.pub.name), "%s",
	    keys_identity_name(id));
	keys_identity_public(id, m.pub.pk);
	keys_fingerprint((const uint8_t *)m.pub.name, strlen(m.pub.name),
	    m.cert_fpr);
	if (m.pub.role == KEYS_ROLE_COORDINATOR) {
		snprintf(crt, sizeof(crt), "%s/coord.crt", dir);
		cert_fpr(crt, m.cert_fpr);
	}
	assert_int_equal(keys_federation_add(fedpath, &m), CAIRN_OK);
}

/* ------------------------------------------------------ the log side */

static int
sign_note(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64])
{
	return keys_sign_note(ctx, msg, len, sig);
}

/* How many of the two nodes cosign each published checkpoint. */
static int ncosign = 2;

static int
publish(void)
{
	struct tlog_signer sg;
	struct tlog_note *tn;
	char *n, lines[1024], *withc;
	size_t len, ll = 0;
	int r;

	memset(&sg, 0, sizeof(sg));
	sg.name = "cairn/demo";
	keys_identity_public(coord_id, sg.pub);
	sg.sign = sign_note;
	sg.ctx = coord_id;
	if ((r = tlog_store_publish(store, "cairn/demo", &sg, 1, &n, &len)) !=
	    CAIRN_OK)
		return r;
	/* The nodes, as witnesses, cosign it. */
	if (ncosign > 0 && (r = tlog_note_parse(n, len, &tn)) == CAIRN_OK) {
		for (int i = 0; i < ncosign && r == CAIRN_OK; i++) {
			memset(&sg, 0, sizeof(sg));
			sg.name = node_names[i];
			keys_identity_public(node_id[i], sg.pub);
			sg.sign = sign_note;
			sg.ctx = node_id[i];
			r = tlog_cosign(tn->text, tn->text_len, 1767225600,
			    &sg, lines + ll, sizeof(lines) - ll);
			ll += strlen(lines + ll);
		}
		tlog_note_free(tn);
		if (r == CAIRN_OK && (r = tlog_note_add_lines(n, len, lines, ll,
		    &withc, &len)) == CAIRN_OK) {
			free(n);
			n = withc;
		}
	}
	if (r != CAIRN_OK) {
		free(n);
		return r;
	}
	free(note);
	note = n;
	return CAIRN_OK;
}

static int
append(const struct tlog_entry *e, uint64_t *index)
{
	uint8_t buf[8192];
	size_t len;
	int r;

	if ((r = tlog_entry_encode(e, buf, sizeof(buf), &len)) != CAIRN_OK)
		return r;
	return tlog_store_append(store, buf, len, index);
}

/* What the nodes would do: a signed charge each, logged. */
static int
log_charges(const uint8_t qh[32], const char *id, double rho)
{
	for (int i = 0; i < 2; i++) {
		Cairn__V1__Charge ch = CAIRN__V1__CHARGE__INIT;
		Cairn__V1__MonthCharge mc = CAIRN__V1__MONTH_CHARGE__INIT;
		Cairn__V1__MonthCharge *mcs[1] = { &mc };
		struct tlog_entry e;
		uint8_t *body, sig[64];
		size_t blen;
		int r;

		ch.query_id = (char *)id;
		ch.query_hash.data = (uint8_t *)qh;
		ch.query_hash.len = 32;
		ch.node = (char *)node_names[i];
		mc.month = (char *)"2026-01";
		mc.rho_nano = NANO(rho);
		mc.cumulative_rho_nano = NANO(rho);
		ch.n_months = 1;
		ch.months = mcs;
		ch.budget_rho_per_month_nano = NANO(1);
		ch.noise_variance = 50;
		ch.cells = ncells + 1;
		if ((r = proto_pack(&ch.base, PROTO_MAX_SMALL, &body, &blen)) !=
		    CAIRN_OK)
			return r;
		r = keys_sign(node_id[i], "charge", body, blen, sig);
		memset(&e, 0, sizeof(e));
		e.type = TLOG_ENTRY_CHARGE;
		e.node_id.p = (const uint8_t *)node_names[i];
		e.node_id.len = strlen(node_names[i]);
		memcpy(e.query_hash, qh, 32);
		e.ncharges = 1;
		e.charges[0].month = 202601;
		e.charges[0].rho_nano = NANO(rho);
		e.charges[0].cumulative_nano = NANO(rho);
		e.body.p = body;
		e.body.len = blen;
		e.signature.p = sig;
		e.signature.len = 64;
		if (r == CAIRN_OK)
			r = append(&e, NULL);
		free(body);
		if (r != CAIRN_OK)
			return r;
	}
	return CAIRN_OK;
}

static int
log_release(const uint8_t qh[32])
{
	struct tlog_entry *e = calloc(1, sizeof(*e));
	crypto_generichash_state st;
	int r;

	if (e == NULL)
		return CAIRN_ERR_NOMEM;
	crypto_generichash_init(&st, NULL, 0, 32);
	for (uint64_t i = 0; i < ncells; i++) {
		uint8_t le[8];

		for (int b = 0; b < 8; b++)
			le[b] = (uint8_t)((uint64_t)values[i] >> (8 * b));
		crypto_generichash_update(&st, le, 8);
	}
	crypto_generichash_final(&st, result_hash, 32);
	e->type = TLOG_ENTRY_RELEASE;
	memcpy(e->query_hash, qh, 32);
	e->nparticipants = 2;
	for (int i = 0; i < 2; i++) {
		e->participants[i].p = (const uint8_t *)node_names[i];
		e->participants[i].len = strlen(node_names[i]);
	}
	memcpy(e->result_hash, result_hash, 32);
	/* Version 2, as the coordinator writes it: the client checks the
	 * SHA-256 too. */
	e->version = 2;
	secagg_cells_sha256((const uint64_t *)values, ncells,
	    e->result_sha256);
	e->variance = 100;
	r = append(e, &rel_index);
	free(e);
	return r;
}

/* ----------------------------------------------------------- handlers */

static void
h_submit(struct transport_call *call, const ProtobufCMessage *req, void *a)
{
	const Cairn__V1__SignedQuery *sq = (const void *)req;
	Cairn__V1__SubmitQueryResponse resp =
	    CAIRN__V1__SUBMIT_QUERY_RESPONSE__INIT;
	Cairn__V1__Query *q = NULL;
	const struct keys_member *m;
	struct tlog_entry e;
	struct qspec spec;
	uint8_t *body = NULL, qh[32];
	size_t blen;
	int r;

	(void)a;
	pthread_mutex_lock(&mu);
	m = keys_federation_find(fed, KEYS_ROLE_ANALYST,
	    transport_call_peer(call));
	if (m == NULL || sq->signature.len != 64 || keys_verify(m->pub.pk,
	    "query", sq->query.data, sq->query.len, sq->signature.data) !=
	    CAIRN_OK) {
		r = transport_call_fail(call, CAIRN_ERR_SIGNATURE, "signature",
		    "the analyst's signature does not verify");
		goto out;
	}
	if (proto_unpack(&cairn__v1__query__descriptor, sq->query.data,
	    sq->query.len, PROTO_MAX_SMALL, (ProtobufCMessage **)&q) !=
	    CAIRN_OK || qspec_from_proto(q->spec, "spec", &spec) != CAIRN_OK) {
		r = transport_call_fail(call, CAIRN_ERR_FORMAT, "query",
		    "bad query");
		goto out;
	}
	if (have_query) {
		r = transport_call_fail(call, CAIRN_ERR_EXISTS, "query_id",
		    "query 'q-online' exists already");
		goto out;
	}
	if (q->rho_nano > 1000000000) {
		r = transport_call_fail(call, CAIRN_ERR_BUDGET, "rho",
		    "rho 2 is over the federation limit 1");
		goto out;
	}
	snprintf(qid, sizeof(qid), "%s", q->query_id);
	ncells = qspec_domain_cells(&spec, NREG, 0);
	for (uint64_t i = 0; i < ncells && i < 64; i++)
		values[i] = (int64_t)i * 10 - 3;
	crypto_hash_sha256(qh, sq->query.data, sq->query.len);
	if (proto_pack(&sq->base, PROTO_MAX_SMALL, &body, &blen) !=
	    CAIRN_OK) {
		r = transport_call_fail(call, CAIRN_ERR_NOMEM, NULL, "pack");
		goto out;
	}
	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_QUERY;
	e.body.p = body;
	e.body.len = blen;
	if (append(&e, &q_index) != CAIRN_OK || log_charges(qh, qid,
	    (double)q->rho_nano / 1e9) != CAIRN_OK ||
	    log_release(qh) != CAIRN_OK ||
	    publish() != CAIRN_OK) {
		r = transport_call_fail(call, CAIRN_ERR_DB, NULL, "log");
		goto out;
	}
	have_query = true;
	resp.query_id = qid;
	resp.log_index = q_index;
	r = transport_call_reply(call, &resp.base);
out:
	(void)r;
	free(body);
	if (q != NULL)
		protobuf_c_message_free_unpacked(&q->base, NULL);
	pthread_mutex_unlock(&mu);
}

static void
fill_status(Cairn__V1__QueryStatus *s)
{
	s->query_id = qid;
	s->state = CAIRN__V1__QUERY_STATE__QUERY_STATE_RELEASED;
	s->attempt = 0;
	s->log_index = q_index;
}

static void
h_get_query(struct transport_call *call, const ProtobufCMessage *req,
    void *a)
{
	const Cairn__V1__GetQueryRequest *g = (const void *)req;
	Cairn__V1__QueryStatus s = CAIRN__V1__QUERY_STATUS__INIT;

	(void)a;
	pthread_mutex_lock(&mu);
	if (!have_query || strcmp(g->query_id, qid) != 0)
		(void)transport_call_fail(call, CAIRN_ERR_NOTFOUND, "query_id",
		    "no query 'nope'");
	else {
		fill_status(&s);
		(void)transport_call_reply(call, &s.base);
	}
	pthread_mutex_unlock(&mu);
}

static void
h_list(struct transport_call *call, const ProtobufCMessage *req, void *a)
{
	Cairn__V1__ListQueriesResponse resp =
	    CAIRN__V1__LIST_QUERIES_RESPONSE__INIT;
	Cairn__V1__QueryStatus s = CAIRN__V1__QUERY_STATUS__INIT;
	Cairn__V1__QueryStatus *sp[1] = { &s };

	(void)req;
	(void)a;
	pthread_mutex_lock(&mu);
	fill_status(&s);
	resp.n_queries = have_query ? 1 : 0;
	resp.queries = sp;
	(void)transport_call_reply(call, &resp.base);
	pthread_mutex_unlock(&mu);
}

/* BLAKE2b-256 of the values as little-endian int64 (as released). */
static void
values_hash(uint8_t out[32])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	for (uint64_t i = 0; i < ncells; i++) {
		uint8_t le[8];

		for (int b = 0; b < 8; b++)
			le[b] = (uint8_t)((uint64_t)values[i] >> (8 * b));
		crypto_generichash_update(&st, le, 8);
	}
	crypto_generichash_final(&st, out, 32);
}

/* The hash of the tampered values (corrupt 3 and 4). */
static uint8_t forged_hash[32];

static void
h_result(struct transport_call *call, const ProtobufCMessage *req, void *a)
{
	Cairn__V1__ResultChunk c1 = CAIRN__V1__RESULT_CHUNK__INIT;
	Cairn__V1__ResultChunk c2 = CAIRN__V1__RESULT_CHUNK__INIT;
	Cairn__V1__Release rel = CAIRN__V1__RELEASE__INIT;
	uint64_t half;

	(void)req;
	(void)a;
	pthread_mutex_lock(&mu);
	half = ncells / 2;
	rel.query_id = qid;
	rel.result_hash.data = result_hash;
	rel.result_hash.len = 32;
	rel.noise_variance = 100;
	rel.cells = ncells;
	rel.log_index = rel_index;
	c1.release = &rel;
	c1.offset = 0;
	c1.n_values = half;
	c1.values = values;
	c2.offset = corrupt == 2 ? half + 1 : half;
	c2.n_values = ncells - half;
	c2.values = values + half;
	if (corrupt == 1 || corrupt == 3 || corrupt == 4)
		values[0]++;
	if (corrupt == 3 || corrupt == 4)
		values_hash(forged_hash);
	if (corrupt == 3 || corrupt == 4)
		rel.result_hash.data = forged_hash;
	if (transport_call_send(call, &c1.base) == CAIRN_OK &&
	    transport_call_send(call, &c2.base) == CAIRN_OK)
		(void)transport_call_finish(call, CAIRN_OK, NULL);
	else
		(void)transport_call_finish(call, CAIRN_ERR_NET, "send");
	if (corrupt == 1 || corrupt == 3 || corrupt == 4)
		values[0]--;
	pthread_mutex_unlock(&mu);
}

static void
h_checkpoint(struct transport_call *call, const ProtobufCMessage *req,
    void *a)
{
	Cairn__V1__Checkpoint cp = CAIRN__V1__CHECKPOINT__INIT;

	struct tlog_note *tn = NULL;
	struct tlog_signer sg;
	char *other = NULL;
	size_t olen;

	(void)req;
	(void)a;
	pthread_mutex_lock(&mu);
	cp.note = note;
	if (corrupt == 5 && tlog_note_parse(note, strlen(note), &tn) ==
	    CAIRN_OK) {
		/* The same tree, signed under the log's name by another key. */
		memset(&sg, 0, sizeof(sg));
		sg.name = "cairn/demo";
		keys_identity_public(rogue_id, sg.pub);
		sg.sign = sign_note;
		sg.ctx = rogue_id;
		if (tlog_note_sign(tn->text, tn->text_len, &sg, 1, &other,
		    &olen) == CAIRN_OK)
			cp.note = other;
		tlog_note_free(tn);
	}
	(void)transport_call_reply(call, &cp.base);
	free(other);
	pthread_mutex_unlock(&mu);
}

static void
h_inclusion(struct transport_call *call, const ProtobufCMessage *req,
    void *a)
{
	const Cairn__V1__GetInclusionProofRequest *g = (const void *)req;
	Cairn__V1__InclusionProof ip = CAIRN__V1__INCLUSION_PROOF__INIT;
	uint8_t pr[64][32];
	ProtobufCBinaryData h[64];
	size_t n;

	(void)a;
	pthread_mutex_lock(&mu);
	if (g->index >= g->tree_size || g->tree_size > tlog_store_size(store) ||
	    tlog_store_inclusion_proof(store, g->index, g->tree_size, pr, 64,
	    &n) != CAIRN_OK)
		(void)transport_call_fail(call, CAIRN_ERR_RANGE, "tree_size",
		    "no such proof");
	else {
		for (size_t i = 0; i < n; i++) {
			h[i].data = pr[i];
			h[i].len = 32;
		}
		ip.index = g->index;
		ip.tree_size = g->tree_size;
		ip.n_hashes = n;
		ip.hashes = h;
		(void)transport_call_reply(call, &ip.base);
	}
	pthread_mutex_unlock(&mu);
}

static void
h_entries(struct transport_call *call, const ProtobufCMessage *req, void *a)
{
	const Cairn__V1__GetEntriesRequest *g = (const void *)req;
	Cairn__V1__GetEntriesResponse resp =
	    CAIRN__V1__GET_ENTRIES_RESPONSE__INIT;
	Cairn__V1__LogEntry le[16], *lp[16];
	uint8_t *data[16];
	size_t n = 0;

	(void)a;
	pthread_mutex_lock(&mu);
	/* Pages of at most 2 entries, to exercise the client's paging. */
	for (uint64_t i = g->start; i < g->end && n < 2 &&
	    i < tlog_store_size(store); i++, n++) {
		size_t len;

		cairn__v1__log_entry__init(&le[n]);
		if (tlog_store_entry(store, i, &data[n], &len) != CAIRN_OK)
			break;
		if (corrupt == 4 && i == rel_index) {
			/* A RELEASE entry of the tampered values' hash. */
			struct tlog_entry *e = calloc(1, sizeof(*e));
			uint8_t *f = malloc(8192);
			size_t flen;

			assert_non_null(e);
			assert_non_null(f);
			assert_int_equal(tlog_entry_decode(data[n], len, e),
			    CAIRN_OK);
			memcpy(e->result_hash, forged_hash, 32);
			assert_int_equal(tlog_entry_encode(e, f, 8192, &flen),
			    CAIRN_OK);
			free(e);
			free(data[n]);
			data[n] = f;
			len = flen;
		}
		le[n].index = i;
		le[n].data.data = data[n];
		le[n].data.len = len;
		lp[n] = &le[n];
	}
	resp.n_entries = n;
	resp.entries = lp;
	(void)transport_call_reply(call, &resp.base);
	for (size_t i = 0; i < n; i++)
		free(data[i]);
	pthread_mutex_unlock(&mu);
}

/* ------------------------------------------------------------- setup */

static char *
path(char *buf, const char *name)
{
	snprintf(buf, 128, "%s/%s", dir, name);
	return buf;
}

static int
setup_all(void **state)
{
	static const struct { enum proto_method m; transport_handler_fn fn; }
	    hs[] = {
		{ PROTO_SUBMIT_QUERY, h_submit },
		{ PROTO_GET_QUERY, h_get_query },
		{ PROTO_LIST_QUERIES, h_list },
		{ PROTO_GET_RESULT, h_result },
		{ PROTO_GET_CHECKPOINT, h_checkpoint },
		{ PROTO_GET_ENTRIES, h_entries },
		{ PROTO_GET_INCLUSION_PROOF, h_inclusion },
	};
	struct transport_handler h[7];
	struct transport_server_config cfg;
	struct keys_identity *ana;
	char p[128], fpr[KEYS_FPR_LEN];
	FILE *f;

	(void)state;
	strcpy(dir, "/tmp/cairn-test-qonline-XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(keys_ca_create("demo", dir), CAIRN_OK);
	tls_member(KEYS_ROLE_COORDINATOR, "coord", "localhost,127.0.0.1",
	    &t_coord);
	tls_member(KEYS_ROLE_ANALYST, "stats", NULL, NULL);
	tls_member(KEYS_ROLE_AUDITOR, "watch", NULL, NULL);

	snprintf(fedpath, sizeof(fedpath), "%s/federation.conf", dir);
	keys_fingerprint((const uint8_t *)"ca", 2, fpr);
	assert_int_equal(keys_federation_create(fedpath, "demo", fpr),
	    CAIRN_OK);
	assert_int_equal(keys_identity_generate(KEYS_ROLE_COORDINATOR,
	    "coord", &coord_id), CAIRN_OK);
	assert_int_equal(keys_identity_generate(KEYS_ROLE_COORDINATOR,
	    "coord", &rogue_id), CAIRN_OK);
	assert_int_equal(keys_identity_generate(KEYS_ROLE_ANALYST, "stats",
	    &ana), CAIRN_OK);
	assert_int_equal(keys_identity_save(ana, path(p, "stats.id")),
	    CAIRN_OK);
	enrol(coord_id);
	enrol(ana);
	keys_identity_free(ana);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(keys_identity_generate(KEYS_ROLE_NODE,
		    node_names[i], &node_id[i]), CAIRN_OK);
		enrol(node_id[i]);
	}
	assert_int_equal(keys_federation_load(fedpath, &fed), CAIRN_OK);

	assert_int_equal(tlog_store_open(path(p, "log.db"), TLOG_STORE_CREATE,
	    &store), CAIRN_OK);
	assert_int_equal(publish(), CAIRN_OK);
	for (size_t i = 0; i < 7; i++) {
		h[i].method = proto_method(hs[i].m);
		h[i].fn = hs[i].fn;
		h[i].cancel = NULL;
		h[i].arg = NULL;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.listen = "127.0.0.1:0";
	cfg.tls = t_coord;
	assert_int_equal(transport_server_start(&cfg, h, 7, &srv), CAIRN_OK);
	snprintf(target, sizeof(target), "127.0.0.1:%d",
	    transport_server_port(srv));

	snprintf(aconf, sizeof(aconf), "%s/analyst.conf", dir);
	f = fopen(aconf, "w");
	assert_non_null(f);
	fprintf(f, "[analyst]\nidentity_key = %s/stats.id\n"
	    "tls_key = %s/stats.key\ntls_cert = %s/stats.crt\n"
	    "ca_cert = %s/ca.crt\ncoordinator = %s\nfederation = %s\n",
	    dir, dir, dir, dir, target, fedpath);
	fclose(f);
	f = fopen(path(p, "regions.csv"), "w");
	assert_non_null(f);
	fputs("region_id,name\n20,b\n3,a\n", f);
	fclose(f);
	/* The auditor's TLS options. */
	snprintf(vconf[0], 160, "--coordinator=%s", target);
	snprintf(vconf[1], 160, "--ca=%s/ca.crt", dir);
	snprintf(vconf[2], 160, "--tls-cert=%s/watch.crt", dir);
	snprintf(vconf[3], 160, "--tls-key=%s/watch.key", dir);
	snprintf(vconf[4], 160, "--federation=%s", fedpath);
	return 0;
}

static int
teardown_all(void **state)
{
	char cmd[128];

	(void)state;
	transport_server_stop(srv);
	tlog_store_close(store);
	keys_tls_free(t_coord);
	keys_identity_free(coord_id);
	keys_identity_free(rogue_id);
	keys_identity_free(node_id[0]);
	keys_identity_free(node_id[1]);
	keys_federation_free(fed);
	free(note);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------- tests */

static int
run_query(char **argv)
{
	int argc = 0;

	while (argv[argc] != NULL)
		argc++;
	return cmd_query(argc, argv);
}

static int
run_verify(char **argv)
{
	int argc = 0;

	while (argv[argc] != NULL)
		argc++;
	return audit_cmd_verify(argc, argv);
}

/* The standard output of the last run_verify_out(). */
static char last_finding[4096];

/* run_verify with its standard output kept in last_finding. */
static int
run_verify_out(char **argv)
{
	char p[128];
	int fd, saved, r;
	FILE *f;
	size_t n;

	fflush(stdout);
	path(p, "verify.out");
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	saved = dup(1);
	dup2(fd, 1);
	close(fd);
	r = run_verify(argv);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	f = fopen(p, "r");
	assert_non_null(f);
	n = fread(last_finding, 1, sizeof(last_finding) - 1, f);
	last_finding[n] = '\0';
	fclose(f);
	return r;
}

static char *
slurp(const char *p)
{
	char *t;
	size_t n;

	assert_int_equal(file_read_capped(p, 1 << 20, &t, &n), CAIRN_OK);
	return t;
}

static void
test_1_submit(void **state)
{
	char conf[160];

	(void)state;
	snprintf(conf, sizeof(conf), "--config=%s", aconf);
	/* Over the federation's limit: the coordinator's one line. */
	assert_int_equal(run_query((char *[]){ "query", "submit", conf,
	    "--kind", "presence", "--start", "2026-01-05", "--end",
	    "2026-01-08", "--bucket", "day", "--k", "1", "--geography", "g1",
	    "--rho", "2", "--purpose", "test", "--participants",
	    "alpha,beta", "--colluding", "1", "--id", "q-online", NULL }), 1);
	assert_non_null(strstr(cairn_errmsg(), "rho 2 is over the federation "
	    "limit 1"));
	assert_int_equal(run_query((char *[]){ "query", "submit", conf,
	    "--kind", "presence", "--start", "2026-01-05", "--end",
	    "2026-01-08", "--bucket", "day", "--k", "1", "--geography", "g1",
	    "--rho", "0.25", "--purpose", "test", "--participants",
	    "alpha,beta", "--colluding", "1", "--id", "q-online", NULL }), 0);
	assert_true(have_query);
	assert_string_equal(qid, "q-online");
	assert_int_equal(q_index, 0);
	assert_int_equal(ncells, 6);
	/* A replay is refused by the coordinator. */
	assert_int_equal(run_query((char *[]){ "query", "submit", conf,
	    "--kind", "residents", "--start", "2026-01-05", "--end",
	    "2026-01-08", "--geography", "g1", "--rho", "0.25", "--purpose",
	    "test", "--participants", "alpha,beta", "--colluding", "1",
	    "--id", "q-online", NULL }), 1);
	assert_non_null(strstr(cairn_errmsg(), "exists already"));
}

static void
test_2_status_wait_list(void **state)
{
	char conf[160];

	(void)state;
	snprintf(conf, sizeof(conf), "--config=%s", aconf);
	assert_int_equal(run_query((char *[]){ "query", "status", conf,
	    "q-online", NULL }), 0);
	assert_int_equal(run_query((char *[]){ "query", "wait", conf,
	    "q-online", "--timeout", "5", NULL }), 0);
	assert_int_equal(run_query((char *[]){ "query", "list", conf, NULL }),
	    0);
	assert_int_equal(run_query((char *[]){ "query", "status", conf,
	    "nope", NULL }), 1);
	assert_non_null(strstr(cairn_errmsg(), "no query 'nope'"));
}

static void
test_3_result(void **state)
{
	char conf[160], reg[160], out[128], *t;
	json_t *o, *c;
	json_error_t jerr;

	(void)state;
	snprintf(conf, sizeof(conf), "--config=%s", aconf);
	snprintf(reg, sizeof(reg), "--regions=%s/regions.csv", dir);
	snprintf(out, sizeof(out), "--output=%s/r.csv", dir);
	assert_int_equal(run_query((char *[]){ "query", "result", conf,
	    "q-online", reg, out, NULL }), 0);
	t = slurp(out + 9);
	assert_non_null(strstr(t, "# query q-online kind presence released at "
	    "log index 3\n# rho 0.25 per data-month"));
	assert_non_null(strstr(t, "# noise variance 100 per cell, 95% "
	    "interval value +- 20\n"));
	/* Region names from the regions file beside the ids. */
	assert_non_null(strstr(t, "region,region_name,bucket,value,ci95_low,"
	    "ci95_high\n3,a,2026-01-05,-3,-23,17\n3,a,2026-01-06,7,-13,27\n"
	    "3,a,2026-01-07,17,-3,37\n20,b,2026-01-05,27,7,47\n"));
	free(t);
	snprintf(out, sizeof(out), "--output=%s/r.json", dir);
	assert_int_equal(run_query((char *[]){ "query", "result", conf,
	    "q-online", reg, out, "--format", "json", "--delta", "1e-9",
	    NULL }), 0);
	t = slurp(out + 9);
	o = json_loads(t, 0, &jerr);
	assert_non_null(o);
	c = json_array_get(json_object_get(o, "cells"), 5);
	assert_int_equal(json_integer_value(json_object_get(c, "region")), 20);
	assert_string_equal(json_string_value(json_object_get(c,
	    "region_name")), "b");
	assert_string_equal(json_string_value(json_object_get(c, "bucket")),
	    "2026-01-07");
	assert_int_equal(json_integer_value(json_object_get(c, "value")), 47);
	c = json_object_get(o, "privacy");
	assert_true(json_real_value(json_object_get(c, "delta")) == 1e-9);
	json_decref(o);
	free(t);
	/* Values that are not what was released, a stream with a gap. */
	corrupt = 1;
	assert_int_equal(run_query((char *[]){ "query", "result", conf,
	    "q-online", reg, out, NULL }), 1);
	assert_non_null(strstr(cairn_errmsg(), "the values do not match the "
	    "result hash of the RELEASE entry at log index 3"));
	/* The same, with the reply's own hash made to match the values:
	 * only the logged hash counts. */
	corrupt = 3;
	assert_int_equal(run_query((char *[]){ "query", "result", conf,
	    "q-online", reg, out, NULL }), 1);
	assert_non_null(strstr(cairn_errmsg(), "the values do not match the "
	    "result hash of the RELEASE entry at log index 3"));
	/* ... and a RELEASE entry forged to match: not in the checkpoint. */
	corrupt = 4;
	assert_int_equal(run_query((char *[]){ "query", "result", conf,
	    "q-online", reg, out, NULL }), 1);
	assert_non_null(strstr(cairn_errmsg(), "RELEASE entry 3 is not "
	    "included in the signed checkpoint of size 4"));
	/* A checkpoint the log key did not sign. */
	corrupt = 5;
	assert_int_equal(run_query((char *[]){ "query", "result", conf,
	    "q-online", reg, out, NULL }), 1);
	assert_non_null(strstr(cairn_errmsg(), "checkpoint: not signed by the "
	    "log key 'cairn/demo'"));
	corrupt = 0;
	/* A checkpoint one of the two nodes cosigned: no majority. */
	ncosign = 1;
	pthread_mutex_lock(&mu);
	assert_int_equal(publish(), CAIRN_OK);
	pthread_mutex_unlock(&mu);
	assert_int_equal(run_query((char *[]){ "query", "result", conf,
	    "q-online", reg, out, "--timeout", "1", NULL }), 1);
	assert_non_null(strstr(cairn_errmsg(), "checkpoint of size 4: 1 valid "
	    "witness cosignature, 2 required"));
	ncosign = 2;
	pthread_mutex_lock(&mu);
	assert_int_equal(publish(), CAIRN_OK);
	pthread_mutex_unlock(&mu);
	corrupt = 2;
	assert_int_equal(run_query((char *[]){ "query", "result", conf,
	    "q-online", reg, out, NULL }), 1);
	assert_non_null(strstr(cairn_errmsg(), "chunk at offset 4 with 3 "
	    "values, expected offset 3 of 6"));
	corrupt = 0;
	/* A regions file that does not fit the released vector. */
	{
		char p[128];
		FILE *f = fopen(path(p, "three.csv"), "w");

		fputs("region_id\n1\n2\n3\n", f);
		fclose(f);
		snprintf(reg, sizeof(reg), "--regions=%s", p);
		assert_int_equal(run_query((char *[]){ "query", "result",
		    conf, "q-online", reg, out, NULL }), 1);
		assert_non_null(strstr(cairn_errmsg(), "the result has 6 "
		    "cells, the domain of this query 9"));
	}
}

static void
test_4_audit(void **state)
{
	char st[160], ent[160], cp[160], led[200], p[128], *t;
	FILE *f;
	uint8_t qh[32];

	(void)state;
	snprintf(st, sizeof(st), "--state=%s/audit.state", dir);
	assert_int_equal(run_verify((char *[]){ "verify", vconf[0], vconf[1],
	    vconf[2], vconf[3], vconf[4], st, NULL }), 0);
	t = slurp(st + 8);
	assert_non_null(strstr(t, "cairn/demo\n4\n"));
	free(t);
	/* Again, against the kept state. */
	assert_int_equal(run_verify((char *[]){ "verify", vconf[0], vconf[1],
	    vconf[2], vconf[3], vconf[4], st, "--quorum", "0", NULL }), 0);
	/* Witnesses required but none cosigned. */
	assert_int_equal(run_verify((char *[]){ "verify", vconf[0], vconf[1],
	    vconf[2], vconf[3], vconf[4], "--quorum", "3", "--wait", "0",
	    NULL }), 1);
	/*
	 * A view of the log no witness cosigned (the coordinator shows the
	 * auditor a log the nodes never saw): refused with the DEFAULT
	 * quorum, a majority of the two nodes.  One cosignature is not
	 * enough either.
	 */
	for (ncosign = 0; ncosign < 2; ncosign++) {
		char want[64];

		pthread_mutex_lock(&mu);
		assert_int_equal(publish(), CAIRN_OK);
		pthread_mutex_unlock(&mu);
		assert_int_equal(run_verify_out((char *[]){ "verify",
		    vconf[0], vconf[1], vconf[2], vconf[3], vconf[4], "--wait",
		    "1", NULL }), 1);
		snprintf(want, sizeof(want), "checkpoint: %d valid witness "
		    "cosignature", ncosign);
		assert_non_null(strstr(last_finding, want));
		assert_non_null(strstr(last_finding, "2 required"));
	}
	/* --quorum 0 is still allowed (with a warning). */
	assert_int_equal(run_verify((char *[]){ "verify", vconf[0], vconf[1],
	    vconf[2], vconf[3], vconf[4], "--quorum", "0", NULL }), 0);
	pthread_mutex_lock(&mu);
	assert_int_equal(publish(), CAIRN_OK);
	pthread_mutex_unlock(&mu);

	/* Fetch, then verify offline. */
	snprintf(ent, sizeof(ent), "--entries=%s/entries.hex", dir);
	snprintf(cp, sizeof(cp), "--checkpoint=%s/cp.note", dir);
	assert_int_equal(audit_cmd_fetch(8, (char *[]){ "fetch", vconf[0],
	    vconf[1], vconf[2], vconf[3], vconf[4], ent, cp, NULL }), 0);
	assert_int_equal(audit_cmd_fetch(8, (char *[]){ "fetch", vconf[0],
	    vconf[1], vconf[2], vconf[3], vconf[4], ent, cp, NULL }), 1);
	assert_int_equal(run_verify((char *[]){ "verify", vconf[4], ent, cp,
	    st, NULL }), 0);

	/* alpha's ledger export, then one missing a charge. */
	{
		uint8_t *d;
		size_t n;
		struct tlog_entry e;
		char hex[65];

		assert_int_equal(tlog_store_entry(store, 1, &d, &n), CAIRN_OK);
		assert_int_equal(tlog_entry_decode(d, n, &e), CAIRN_OK);
		memcpy(qh, e.query_hash, 32);
		free(d);
		sodium_bin2hex(hex, sizeof(hex), qh, 32);
		f = fopen(path(p, "alpha.jsonl"), "w");
		fprintf(f, "{\"node\": \"alpha\", \"id\": 1, \"query_id\": "
		    "\"q-online\", \"query_hash\": \"%s\", \"months\": "
		    "[{\"month\": \"2026-01\", \"rho\": 0.25, "
		    "\"cumulative_rho\": 0.25}], \"budget_rho_per_month\": 1, "
		    "\"noise_variance\": 50, \"log_index\": 1, \"created\": "
		    "\"2026-01-01T00:00:00Z\", \"open\": false}\n", hex);
		fclose(f);
	}
	snprintf(led, sizeof(led), "--ledger=%s", p);
	assert_int_equal(run_verify((char *[]){ "verify", vconf[4], ent, cp,
	    led, "--node", "alpha", NULL }), 0);
	assert_int_equal(run_verify((char *[]){ "verify", vconf[4], ent, cp,
	    led, "--node", "beta", NULL }), 1);
	/* --ledger without --node is a usage error. */
	assert_int_equal(run_verify((char *[]){ "verify", vconf[4], ent, cp,
	    led, NULL }), 1);

	/* A tampered entries file fails; a bad hex line is one error. */
	t = slurp(ent + 10);
	t[10] = t[10] == '0' ? '1' : '0';
	f = fopen(ent + 10, "w");
	fputs(t, f);
	fclose(f);
	assert_int_equal(run_verify((char *[]){ "verify", vconf[4], ent, cp,
	    NULL }), 1);
	t[0] = 'z';
	f = fopen(ent + 10, "w");
	fputs(t, f);
	fclose(f);
	free(t);
	assert_int_equal(run_verify((char *[]){ "verify", vconf[4], ent, cp,
	    NULL }), 1);
	assert_non_null(strstr(cairn_errmsg(), "entries.hex:1: not an entry "
	    "in hex"));
}

/*
 * A second certificate the federation CA issued for the coordinator (its
 * own key and CSR, the same name and host names): a client pins the
 * enrolled one and refuses this one, naming both fingerprints.
 */
static void
test_5_pinned_certificate(void **state)
{
	struct transport_handler h[2];
	struct transport_server_config cfg;
	struct transport_server *srv2;
	struct keys_tls *t2;
	char csr[128], crt[128], ca[128], key[128], enrolled[KEYS_FPR_LEN],
	    other[KEYS_FPR_LEN], conf[160], tgt[64], st[160], *a;
	FILE *f;

	(void)state;
	path(csr, "coord.csr");
	path(crt, "coord-b.crt");
	path(ca, "ca.crt");
	path(key, "coord.key");
	assert_int_equal(keys_cert_issue(dir, csr, crt, 30,
	    "localhost,127.0.0.1", NULL), CAIRN_OK);
	assert_int_equal(keys_tls_load(ca, crt, key, &t2), CAIRN_OK);
	cert_fpr(crt, other);
	path(crt, "coord.crt");
	cert_fpr(crt, enrolled);
	assert_string_not_equal(enrolled, other);
	h[0].method = proto_method(PROTO_GET_QUERY);
	h[0].fn = h_get_query;
	h[1].method = proto_method(PROTO_GET_CHECKPOINT);
	h[1].fn = h_checkpoint;
	for (int i = 0; i < 2; i++) {
		h[i].cancel = NULL;
		h[i].arg = NULL;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.listen = "127.0.0.1:0";
	cfg.tls = t2;
	assert_int_equal(transport_server_start(&cfg, h, 2, &srv2), CAIRN_OK);
	snprintf(tgt, sizeof(tgt), "127.0.0.1:%d", transport_server_port(srv2));

	/* The analyst: `cairn query status` through analyst.conf. */
	path(conf, "analyst-b.conf");
	f = fopen(conf, "w");
	assert_non_null(f);
	fprintf(f, "[analyst]\nidentity_key = %s/stats.id\n"
	    "tls_key = %s/stats.key\ntls_cert = %s/stats.crt\n"
	    "ca_cert = %s/ca.crt\ncoordinator = %s\nfederation = %s\n",
	    dir, dir, dir, dir, tgt, fedpath);
	fclose(f);
	a = strdup(conf);
	snprintf(conf, sizeof(conf), "--config=%s", a);
	free(a);
	assert_int_equal(run_query((char *[]){ "query", "status", conf,
	    "q-online", NULL }), 1);
	assert_non_null(strstr(cairn_errmsg(), other));
	assert_non_null(strstr(cairn_errmsg(), enrolled));
	assert_non_null(strstr(cairn_errmsg(), "is not the pinned"));
	/* Without the federation file there is nothing to pin: refused. */
	assert_int_equal(run_query((char *[]){ "query", "status",
	    "--coordinator", tgt, vconf[1], "--tls-cert", "x", "--tls-key",
	    "y", "q-online", NULL }), 1);
	assert_non_null(strstr(cairn_errmsg(), "--federation is required"));

	/* The auditor: `cairn audit verify` online. */
	snprintf(st, sizeof(st), "--coordinator=%s", tgt);
	assert_int_equal(run_verify((char *[]){ "verify", st, vconf[1],
	    vconf[2], vconf[3], vconf[4], NULL }), 1);
	assert_non_null(strstr(cairn_errmsg(), other));
	assert_non_null(strstr(cairn_errmsg(), enrolled));

	/* The same clients against the enrolled certificate still work. */
	assert_int_equal(run_verify((char *[]){ "verify", vconf[0], vconf[1],
	    vconf[2], vconf[3], vconf[4], NULL }), 0);
	transport_server_stop(srv2);
	keys_tls_free(t2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_1_submit),
		cmocka_unit_test(test_2_status_wait_list),
		cmocka_unit_test(test_3_result),
		cmocka_unit_test(test_4_audit),
		cmocka_unit_test(test_5_pinned_certificate),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
