/*
 * coord_driver.c - plays the analyst and three nodes against a real
 * cairn-coordinator through the real transport, with keys made by
 * `cairn keys` (tests/e2e/coord_round.sh).
 *
 * usage: coord_driver --dir DIR --target HOST:PORT
 *	  [--geography NAME --regions N] SCENARIO [ARGS]
 *
 * DIR holds the member folders analyst/, n1/, n2/, n3/ (identity.key,
 * tls.*, ca.crt), rogue/ (an analyst with a certificate but not enrolled)
 * and fed/federation.conf.  Scenarios (each prints what it checked and
 * exits non-zero at the first failure):
 *
 *	round QID		a full round; result = plain sum; RELEASE in
 *				the log with its inclusion proof; a replay
 *				refused
 *	refuse QID		a node refuses: REFUSAL + FAILURE; the
 *				analyst retries the same signed query: an
 *				equivocation, then a completed attempt
 *	deadline QID		a node never advertises: FAILURE after the
 *				advertise deadline
 *	longpoll QID		nodes wait in PollTask before the query
 *				exists and in GetRoster for each other
 *	checks QID		bad arguments of each read; a wrong vector
 *				length, a wrong share digest (sent again), a
 *				check cell off by one (FAILURE)
 *	refusals		wrong role, unenrolled certificate, forged
 *				signature, bad spec, unknown geography, rho
 *				over the limit, c >= n: each its status
 *	open QID STATE		leave an attempt open (all advertised),
 *				save the checkpoint to STATE
 *	after-restart QID STATE	the attempt failed with "coordinator
 *				restarted"; the log is consistent with STATE
 *				and its entries hash to the signed root
 *	chain QID		a charge whose cumulative is not n1's logged
 *				spend plus rho (as from a ledger restored
 *				from a backup) is refused, naming node,
 *				month, expected and given; the right one is
 *				logged
 */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "common/err.h"
#include "keys/keys.h"
#include "keys/keys_federation.h"
#include "keys/keys_tls.h"
#include "privacy/dp.h"
#include "protocol/proto_service.h"
#include "protocol/qspec.h"
#include "protocol/secagg.h"
#include "protocol/tlog.h"
#include "protocol/tlog_entry.h"
#include "protocol/tlog_note.h"
#include "protocol/transport.h"

#include <math.h>
/* ρ as a test writes it (a double) to nano-ρ. */
#define NANO(x)	((uint64_t)llround((double)(x) * 1e9))

#define PROG	"coord_driver"
#define NNODES	3
#define NREG	nreg		/* regions of the geography */
#define NCELLS	(nreg + 1)	/* a cell per region + check */

struct member {
	char			 name[KEYS_NAME_MAX + 1];
	struct keys_identity	*id;
	struct transport_client	*cl;
	uint8_t			 esk[32], epk[32];
	int64_t			*x;		/* NREG cells */
	uint32_t		 attempt;
};

static const char *dir, *target, *geo = "g4";
static size_t nreg = 4;
static struct keys_federation *fed;
static struct member analyst, nodes[NNODES];
/* Faults the 'checks' scenario injects. */
static uint64_t adv_cells;		/* cells a charge announces (0:
					   the right number) */
static bool bad_digest;			/* a wrong manifest digest */
static bool query_rho;			/* charge the query's rho, not
					   each month's rho_m */
static bool low_noise;			/* noise below sigma_h^2 */
static bool keyless;			/* advertise a charge only (a
					   node's re-send) */
static char ack[128];			/* the last Advertise ack */
static int64_t cum_delta;		/* added to the right cumulative */
static int bad_check = -1;		/* node whose check cell is off */
static char origin[TLOG_NAME_MAX + 1];
static struct tlog_verifier logkey;

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: error: ", PROG);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

static void
okf(const char *what)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	printf("checked: %s [%lld.%03ld]\n", what, (long long)ts.tv_sec,
	    ts.tv_nsec / 1000000);
	fflush(stdout);
}

static void
member_open(struct member *m, const char *name)
{
	struct transport_client_config cc;
	struct keys_tls *tls;
	char path[4096];
	int r;

	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(path, sizeof(path), "%s/%s/identity.key", dir, name);
	if ((r = keys_identity_load(path, &m->id)) != CAIRN_OK)
		die("%s: %s", path, cairn_errdesc(r));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((r = keys_tls_load_dir(path, &tls)) != CAIRN_OK)
		die("%s: %s", path, cairn_errdesc(r));
	memset(&cc, 0, sizeof(cc));
	cc.target = target;
	cc.tls = tls;
	cc.retries = 3;
	if ((r = transport_client_new(&cc, &m->cl)) != CAIRN_OK)
		die("client %s: %s", name, cairn_errdesc(r));
	keys_tls_free(tls);
}

static void
setup(void)
{
	const struct keys_member *co;
	char path[4096], vk[512];
	int r;

	snprintf(path, sizeof(path), "%s/fed/federation.conf", dir);
	if ((r = keys_federation_load(path, &fed)) != CAIRN_OK)
		die("%s", cairn_errdesc(r));
	snprintf(origin, sizeof(origin), "cairn/%s", fed->name);
	if ((co = keys_federation_find(fed, KEYS_ROLE_COORDINATOR,
	    "coordinator")) == NULL)
		die("no coordinator in federation.conf");
	if (tlog_verifier_format(origin, TLOG_KEY_ED25519, co->pub.pk, vk,
	    sizeof(vk)) != CAIRN_OK || tlog_verifier_parse(vk, &logkey) !=
	    CAIRN_OK)
		die("log key");
	member_open(&analyst, "analyst");
	for (int i = 0; i < NNODES; i++) {
		char n[16];

		snprintf(n, sizeof(n), "n%d", i + 1);
		member_open(&nodes[i], n);
		if ((nodes[i].x = calloc(NREG, sizeof(int64_t))) == NULL)
			die("nomem");
		/* Counts in [-2^20, 2^20): one draw for the whole vector. */
		randombytes_buf(nodes[i].x, NREG * sizeof(int64_t));
		for (size_t k = 0; k < NREG; k++)
			nodes[i].x[k] = (int64_t)((uint64_t)nodes[i].x[k] &
			    0x1fffff) - (1 << 20);
	}
}

static int
call(struct member *m, enum proto_method meth, const void *req,
    ProtobufCMessage **resp)
{
	return transport_unary(m->cl, proto_method(meth), req, 10000, resp);
}

static void
expect_code(int r, int want, const char *what)
{
	if (r != want)
		die("%s: got %s (%s), want %s", what,
		    r == CAIRN_OK ? "OK" : cairn_strerror(r), cairn_errmsg(),
		    cairn_strerror(want));
	printf("checked: %s (%s)\n", what, transport_status_name_for(want));
}

/* ------------------------------------------------------------- query */

struct signed_query {
	uint8_t	*q;
	size_t	 qlen;
	uint8_t	 sig[64];
};

/* --publish yes: the queries ask for a public release (Query.publish). */
static bool publish;

static void
query_make(const char *qid, const char *geography, double rho, uint32_t c,
    const char *kind, struct member *signer, struct signed_query *out)
{
	Cairn__V1__Query q = CAIRN__V1__QUERY__INIT;
	Cairn__V1__QuerySpec sp = CAIRN__V1__QUERY_SPEC__INIT;
	Cairn__V1__MemberId who = CAIRN__V1__MEMBER_ID__INIT;
	char *parts[NNODES];
	uint8_t nonce[16];

	sp.kind = (char *)kind;
	sp.start = "2024-03-01";
	sp.end = "2024-04-01";
	sp.geography = (char *)geography;
	who.role = CAIRN__V1__ROLE__ROLE_ANALYST;
	who.name = "analyst";
	for (int i = 0; i < NNODES; i++)
		parts[i] = nodes[i].name;
	randombytes_buf(nonce, sizeof(nonce));
	q.query_id = (char *)qid;
	q.analyst = &who;
	q.purpose = "coordinator end-to-end test";
	q.spec = &sp;
	q.rho_nano = NANO(rho);
	q.n_participants = NNODES;
	q.participants = parts;
	q.max_colluding = c;
	q.submitted_unix = (int64_t)time(NULL);
	q.federation = fed->name;
	q.nonce.data = nonce;
	q.nonce.len = 16;
	q.publish = publish;
	if (proto_pack(&q.base, PROTO_MAX_SMALL, &out->q, &out->qlen) !=
	    CAIRN_OK || keys_sign(signer->id, "query", out->q, out->qlen,
	    out->sig) != CAIRN_OK)
		die("query_make");
}

static int
submit(struct member *m, const struct signed_query *sq, uint64_t *index)
{
	Cairn__V1__SignedQuery s = CAIRN__V1__SIGNED_QUERY__INIT;
	ProtobufCMessage *resp;
	int r;

	s.query.data = sq->q;
	s.query.len = sq->qlen;
	s.signature.data = (uint8_t *)sq->sig;
	s.signature.len = 64;
	if ((r = call(m, PROTO_SUBMIT_QUERY, &s, &resp)) != CAIRN_OK)
		return r;
	if (index != NULL)
		*index = ((Cairn__V1__SubmitQueryResponse *)resp)->log_index;
	protobuf_c_message_free_unpacked(resp, NULL);
	return CAIRN_OK;
}

static Cairn__V1__QueryStatus *
status(const char *qid)
{
	Cairn__V1__GetQueryRequest rq = CAIRN__V1__GET_QUERY_REQUEST__INIT;
	ProtobufCMessage *resp;
	int r;

	rq.query_id = (char *)qid;
	if ((r = call(&analyst, PROTO_GET_QUERY, &rq, &resp)) != CAIRN_OK)
		die("GetQuery %s: %s", qid, cairn_errdesc(r));
	return (Cairn__V1__QueryStatus *)resp;
}

/* ----------------------------------------------------------------- log */

static char *
checkpoint(struct member *m, struct tlog_checkpoint *cp)
{
	Cairn__V1__GetCheckpointRequest rq =
	    CAIRN__V1__GET_CHECKPOINT_REQUEST__INIT;
	ProtobufCMessage *resp;
	char *note;
	int r;

	if ((r = call(m, PROTO_GET_CHECKPOINT, &rq, &resp)) != CAIRN_OK)
		die("GetCheckpoint: %s", cairn_errdesc(r));
	note = strdup(((Cairn__V1__Checkpoint *)resp)->note);
	protobuf_c_message_free_unpacked(resp, NULL);
	if (note == NULL || (r = tlog_checkpoint_open(note, strlen(note),
	    &logkey, 1, 1, origin, cp)) != CAIRN_OK)
		die("the checkpoint does not verify: %s", cairn_errdesc(r));
	return note;
}

/* Entry 'i' (leaf bytes) into a new buffer. */
static uint8_t *
entry(uint64_t i, size_t *len)
{
	Cairn__V1__GetEntriesRequest rq = CAIRN__V1__GET_ENTRIES_REQUEST__INIT;
	Cairn__V1__GetEntriesResponse *er;
	ProtobufCMessage *resp;
	uint8_t *b;
	int r;

	rq.start = i;
	rq.end = i + 1;
	if ((r = call(&analyst, PROTO_GET_ENTRIES, &rq, &resp)) != CAIRN_OK)
		die("GetEntries %llu: %s", (unsigned long long)i,
		    cairn_errdesc(r));
	er = (Cairn__V1__GetEntriesResponse *)resp;
	if (er->n_entries != 1 || er->entries[0]->index != i)
		die("GetEntries %llu: wrong entries", (unsigned long long)i);
	*len = er->entries[0]->data.len;
	if ((b = malloc(*len + 1)) == NULL)
		die("nomem");
	memcpy(b, er->entries[0]->data.data, *len);
	protobuf_c_message_free_unpacked(resp, NULL);
	return b;
}

/* Check that entry 'i' is in the tree of 'cp' with a fetched proof. */
static void
check_inclusion(uint64_t i, const struct tlog_checkpoint *cp)
{
	Cairn__V1__GetInclusionProofRequest rq =
	    CAIRN__V1__GET_INCLUSION_PROOF_REQUEST__INIT;
	Cairn__V1__InclusionProof *ip;
	uint8_t leaf[32], pr[TLOG_MAX_PROOF][32], *b;
	ProtobufCMessage *resp;
	size_t len;
	int r;

	b = entry(i, &len);
	tlog_leaf_hash(b, len, leaf);
	free(b);
	rq.index = i;
	rq.tree_size = cp->size;
	if ((r = call(&analyst, PROTO_GET_INCLUSION_PROOF, &rq, &resp))
	    != CAIRN_OK)
		die("GetInclusionProof: %s", cairn_errdesc(r));
	ip = (Cairn__V1__InclusionProof *)resp;
	if (ip->n_hashes > TLOG_MAX_PROOF)
		die("proof too long");
	for (size_t k = 0; k < ip->n_hashes; k++) {
		if (ip->hashes[k].len != 32)
			die("proof hash of %zu bytes", ip->hashes[k].len);
		memcpy(pr[k], ip->hashes[k].data, 32);
	}
	if ((r = tlog_inclusion_verify(leaf, i, cp->size,
	    (const uint8_t (*)[32])pr, ip->n_hashes, cp->root)) != CAIRN_OK)
		die("entry %llu is not in the checkpoint: %s",
		    (unsigned long long)i, cairn_errdesc(r));
	protobuf_c_message_free_unpacked(resp, NULL);
}

/* The index of the last entry of 'type' for query hash 'qh' below
 * 'size', or -1. */
static int64_t
find_entry(uint64_t size, int type, const uint8_t qh[32], char *reason,
    size_t rcap)
{
	for (uint64_t i = size; i-- > 0;) {
		struct tlog_entry *e = malloc(sizeof(*e));
		size_t len;
		uint8_t *b = entry(i, &len);

		if (e == NULL || tlog_entry_decode(b, len, e) != CAIRN_OK)
			die("entry %llu does not decode",
			    (unsigned long long)i);
		if ((int)e->type == type && (qh == NULL ||
		    type == TLOG_ENTRY_QUERY ||
		    memcmp(e->query_hash, qh, 32) == 0)) {
			if (reason != NULL)
				snprintf(reason, rcap, "%.*s",
				    (int)e->reason.len,
				    (const char *)e->reason.p);
			free(e);
			free(b);
			return (int64_t)i;
		}
		free(e);
		free(b);
	}
	return -1;
}

/* ---------------------------------------------------------------- node */

static Cairn__V1__Task *
poll_task(struct member *n, uint32_t wait_ms)
{
	Cairn__V1__PollTaskRequest rq = CAIRN__V1__POLL_TASK_REQUEST__INIT;
	Cairn__V1__PollTaskResponse *pr;
	Cairn__V1__Task *t;
	ProtobufCMessage *resp;
	int r;

	rq.last_seen_size = 0;
	rq.wait_ms = wait_ms;
	if ((r = transport_unary(n->cl, proto_method(PROTO_POLL_TASK), &rq.base,
	    wait_ms + 5000, &resp)) != CAIRN_OK)
		die("PollTask %s: %s", n->name, cairn_errdesc(r));
	pr = (Cairn__V1__PollTaskResponse *)resp;
	t = pr->task;
	pr->task = NULL;
	protobuf_c_message_free_unpacked(resp, NULL);
	return t;
}

static int
sign_note(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64])
{
	return keys_sign_note(ctx, msg, len, sig);
}

/* Witness 'n' cosigns the signed checkpoint 'note' and sends it. */
static void
cosign_note(struct member *n, const char *text)
{
	Cairn__V1__Cosignature cs = CAIRN__V1__COSIGNATURE__INIT;
	struct tlog_checkpoint cp;
	struct tlog_note *note;
	struct tlog_signer sg;
	uint8_t raw[128];
	char line[512];
	const char *sp;
	ProtobufCMessage *resp;
	size_t rl;
	int r;

	if ((r = tlog_checkpoint_open(text, strlen(text), &logkey, 1, 1,
	    origin, &cp)) != CAIRN_OK)
		die("checkpoint to cosign: %s", cairn_errdesc(r));
	if ((r = tlog_note_parse(text, strlen(text), &note)) != CAIRN_OK)
		die("note: %s", cairn_errdesc(r));
	memset(&sg, 0, sizeof(sg));
	sg.name = n->name;
	keys_identity_public(n->id, sg.pub);
	sg.sign = sign_note;
	sg.ctx = n->id;
	if ((r = tlog_cosign(note->text, note->text_len, (uint64_t)time(NULL),
	    &sg, line, sizeof(line))) != CAIRN_OK)
		die("cosign: %s", cairn_errdesc(r));
	tlog_note_free(note);
	sp = strrchr(line, ' ');
	if (sp == NULL || tlog_b64_decode(sp + 1, strcspn(sp + 1, "\n"), raw,
	    sizeof(raw), &rl) != CAIRN_OK || rl != 4 + 72)
		die("cosignature line");
	cs.witness = n->name;
	cs.tree_size = cp.size;
	cs.root_hash.data = cp.root;
	cs.root_hash.len = 32;
	cs.timestamp = 0;
	for (int i = 0; i < 8; i++)
		cs.timestamp = cs.timestamp << 8 | raw[4 + i];
	cs.signature.data = raw + 4;
	cs.signature.len = 72;
	if ((r = call(n, PROTO_COSIGN, &cs, &resp)) != CAIRN_OK)
		die("Cosign %s: %s", n->name, cairn_errdesc(r));
	protobuf_c_message_free_unpacked(resp, NULL);
}

/* What a node checks of a task, then its cosignature. */
static void
task_check_and_cosign(struct member *n, const Cairn__V1__Task *t)
{
	struct tlog_checkpoint cp;
	uint8_t leaf[32], pr[TLOG_MAX_PROOF][32], *b;
	size_t len;
	int r;

	if (t->checkpoint == NULL || t->query == NULL ||
	    t->query_inclusion == NULL)
		die("task without checkpoint, query or inclusion proof");
	if ((r = tlog_checkpoint_open(t->checkpoint->note,
	    strlen(t->checkpoint->note), &logkey, 1, 1, origin, &cp))
	    != CAIRN_OK)
		die("task checkpoint: %s", cairn_errdesc(r));
	/* The QUERY entry: fetched, its body is the signed query, and it
	 * is in the checkpoint. */
	b = entry(t->query_inclusion->index, &len);
	{
		struct tlog_entry *e = malloc(sizeof(*e));

		if (e == NULL || tlog_entry_decode(b, len, e) != CAIRN_OK ||
		    e->type != TLOG_ENTRY_QUERY ||
		    e->body.len < t->query->query.len ||
		    memmem(e->body.p, e->body.len, t->query->query.data,
		    t->query->query.len) == NULL)
			die("the QUERY entry does not hold the task's query");
		free(e);
	}
	tlog_leaf_hash(b, len, leaf);
	free(b);
	for (size_t k = 0; k < t->query_inclusion->n_hashes &&
	    k < TLOG_MAX_PROOF; k++)
		memcpy(pr[k], t->query_inclusion->hashes[k].data, 32);
	if (t->query_inclusion->n_hashes > TLOG_MAX_PROOF ||
	    tlog_inclusion_verify(leaf, t->query_inclusion->index, cp.size,
	    (const uint8_t (*)[32])pr, t->query_inclusion->n_hashes, cp.root)
	    != CAIRN_OK)
		die("the QUERY entry's inclusion proof fails");
	cosign_note(n, t->checkpoint->note);
}

static void
query_hash(const Cairn__V1__SignedQuery *sq, uint8_t qh[32])
{
	crypto_hash_sha256(qh, sq->query.data, sq->query.len);
}

/*
 * A node's cumulative for 'month' in a charge for query 'qh', as its
 * ledger would have it: the coordinator refuses a charge whose cumulative
 * is not the node's logged cumulative plus rho, and a retry restates the
 * CHARGE of the same query.  Read from the log, which every step of this
 * driver (a separate process) sees the same.
 */
static uint64_t
logged_cum(struct member *n, int32_t month, const uint8_t qh[32],
    uint64_t rho)
{
	struct tlog_checkpoint cp;
	struct tlog_entry *e;
	uint64_t last = 0;
	uint32_t ym = (uint32_t)((month / 12) * 100 + month % 12 + 1);
	char *note = checkpoint(n, &cp);

	free(note);
	if ((e = malloc(sizeof(*e))) == NULL)
		die("nomem");
	for (uint64_t i = 0; i < cp.size; i++) {
		size_t len;
		uint8_t *b = entry(i, &len);

		if (tlog_entry_decode(b, len, e) == CAIRN_OK &&
		    e->type == TLOG_ENTRY_CHARGE &&
		    e->node_id.len == strlen(n->name) &&
		    memcmp(e->node_id.p, n->name, e->node_id.len) == 0)
			for (size_t k = 0; k < e->ncharges; k++) {
				if (e->charges[k].month != ym)
					continue;
				if (memcmp(e->query_hash, qh, 32) == 0) {
					free(b);
					last = e->charges[k].cumulative_nano;
					free(e);
					return last;
				}
				if (e->charges[k].cumulative_nano > last)
					last = e->charges[k].cumulative_nano;
			}
		free(b);
	}
	free(e);
	return last + rho;
}

static int
advertise(struct member *n, const Cairn__V1__Task *t)
{
	Cairn__V1__Charge ch = CAIRN__V1__CHARGE__INIT;
	Cairn__V1__MonthCharge mc[QSPEC_MAX_MONTHS], *mp[QSPEC_MAX_MONTHS];
	Cairn__V1__SignedCharge sc = CAIRN__V1__SIGNED_CHARGE__INIT;
	Cairn__V1__Advertisement ad = CAIRN__V1__ADVERTISEMENT__INIT;
	Cairn__V1__SignedAdvertisement sa =
	    CAIRN__V1__SIGNED_ADVERTISEMENT__INIT;
	Cairn__V1__Query *q;
	struct qspec spec;
	struct dp_query dq;
	struct dp_requirement need;
	int32_t months[QSPEC_MAX_MONTHS];
	char mstr[QSPEC_MAX_MONTHS][8];
	uint8_t qh[32], csig[64], asig[64], *cb, *ab;
	ProtobufCMessage *resp, *qm;
	size_t nm, cl, al;
	int r;

	if (proto_unpack(&cairn__v1__query__descriptor, t->query->query.data,
	    t->query->query.len, PROTO_MAX_SMALL, &qm) != CAIRN_OK)
		die("task query");
	q = (Cairn__V1__Query *)qm;
	if (qspec_from_proto(q->spec, "spec", &spec) != CAIRN_OK)
		die("task spec");
	nm = qspec_months(&spec, months);
	query_hash(t->query, qh);
	/* What a node charges each month and the noise it adds
	   (dp_requirement, docs/privacy.md), for the cells advertised. */
	if (qspec_dp_query(&spec, q->holders_per_person ?
	    q->holders_per_person : 1, &dq) != CAIRN_OK ||
	    dp_requirement(&dq, q->rho_nano, (uint32_t)q->n_participants,
	    q->max_colluding, (adv_cells ? adv_cells : NCELLS) - 1, &need) !=
	    CAIRN_OK || need.nmonths != nm)
		die("the query's requirement");
	for (size_t i = 0; i < nm; i++) {
		cairn__v1__month_charge__init(&mc[i]);
		snprintf(mstr[i], sizeof(mstr[i]), "%04u-%02u",
		    (unsigned)(months[i] / 12) % 10000u,
		    (unsigned)(months[i] % 12 + 1));
		mc[i].month = mstr[i];
		mc[i].rho_nano = query_rho ? q->rho_nano : need.rho_nano[i];
		mc[i].cumulative_rho_nano = logged_cum(n, months[i], qh,
		    mc[i].rho_nano) + (uint64_t)cum_delta;
		mp[i] = &mc[i];
	}
	ch.query_id = t->query_id;
	ch.query_hash.data = qh;
	ch.query_hash.len = 32;
	ch.node = n->name;
	ch.n_months = nm;
	ch.months = mp;
	ch.attempt = t->attempt;
	ch.budget_rho_per_month_nano = NANO(10);
	ch.noise_variance = need.sigma_h2 - (low_noise ? 1 : 0);
	ch.cells = adv_cells ? adv_cells : NCELLS;
	if (proto_pack(&ch.base, PROTO_MAX_SMALL, &cb, &cl) != CAIRN_OK ||
	    keys_sign(n->id, "charge", cb, cl, csig) != CAIRN_OK)
		die("charge");
	sc.charge.data = cb;
	sc.charge.len = cl;
	sc.signature.data = csig;
	sc.signature.len = 64;
	if (secagg_keypair(n->epk, n->esk) != CAIRN_OK)
		die("keypair");
	n->attempt = t->attempt;
	ad.query_id = t->query_id;
	ad.attempt = t->attempt;
	ad.node = n->name;
	ad.x25519_public.data = n->epk;
	ad.x25519_public.len = keyless ? 0 : 32;
	ad.charge = &sc;
	if (proto_pack(&ad.base, PROTO_MAX_SMALL, &ab, &al) != CAIRN_OK ||
	    keys_sign(n->id, "advertisement", ab, al, asig) != CAIRN_OK)
		die("advertisement");
	sa.advertisement.data = ab;
	sa.advertisement.len = al;
	sa.signature.data = asig;
	sa.signature.len = 64;
	r = call(n, PROTO_ADVERTISE, &sa, &resp);
	if (r == CAIRN_OK) {
		const char *d = ((Cairn__V1__Ack *)resp)->detail;

		/* The index of the CHARGE entry, for the node's ledger. */
		if (strncmp(d, "CHARGE logged at index ", 23) != 0 &&
		    strncmp(d, "CHARGE already logged at index ", 31) != 0 &&
		    strcmp(d, "advertisement known") != 0)
			die("Advertise: ack '%s'", d);
		snprintf(ack, sizeof(ack), "%s", d);
		protobuf_c_message_free_unpacked(resp, NULL);
	}
	free(cb);
	free(ab);
	protobuf_c_message_free_unpacked(qm, NULL);
	return r;
}

static void
refuse(struct member *n, const Cairn__V1__Task *t)
{
	Cairn__V1__Refusal rf = CAIRN__V1__REFUSAL__INIT;
	Cairn__V1__SignedRefusal sr = CAIRN__V1__SIGNED_REFUSAL__INIT;
	ProtobufCMessage *resp;
	uint8_t qh[32], sig[64], *b;
	size_t bl;
	int r;

	query_hash(t->query, qh);
	rf.query_id = t->query_id;
	rf.query_hash.data = qh;
	rf.query_hash.len = 32;
	rf.node = n->name;
	rf.reason_code = "policy";
	rf.reason = "kind residents is not allowed by this node's policy";
	if (proto_pack(&rf.base, PROTO_MAX_SMALL, &b, &bl) != CAIRN_OK ||
	    keys_sign(n->id, "refusal", b, bl, sig) != CAIRN_OK)
		die("refusal");
	sr.refusal.data = b;
	sr.refusal.len = bl;
	sr.signature.data = sig;
	sr.signature.len = 64;
	if ((r = call(n, PROTO_REFUSE, &sr, &resp)) != CAIRN_OK)
		die("Refuse: %s", cairn_errdesc(r));
	protobuf_c_message_free_unpacked(resp, NULL);
	free(b);
}

/* Fetch the roster, mask x (+ check cell) and send the share. */
static int
share_try(struct member *n, const char *qid, const uint8_t qh[32])
{
	Cairn__V1__GetRosterRequest rq = CAIRN__V1__GET_ROSTER_REQUEST__INIT;
	Cairn__V1__ShareManifest mf = CAIRN__V1__SHARE_MANIFEST__INIT;
	Cairn__V1__MaskedShareChunk ck = CAIRN__V1__MASKED_SHARE_CHUNK__INIT;
	struct secagg_member ro[NNODES];
	Cairn__V1__Roster *roster;
	ProtobufCMessage *resp;
	uint8_t sid[32], dg[32], sig[64], *mb, *le;
	int64_t *x;
	uint64_t *y, got = 0;
	uint32_t nchunks;
	size_t ml;
	long self;
	int r;

	rq.query_id = (char *)qid;
	rq.attempt = n->attempt;
	rq.wait_ms = 3000;
	if ((r = transport_unary(n->cl, proto_method(PROTO_GET_ROSTER),
	    &rq.base, 8000, &resp)) != CAIRN_OK)
		die("GetRoster %s: %s", n->name, cairn_errdesc(r));
	roster = (Cairn__V1__Roster *)resp;
	if (roster->n_advertisements != NNODES)
		die("roster of %zu", roster->n_advertisements);
	for (size_t i = 0; i < NNODES; i++) {
		const Cairn__V1__SignedAdvertisement *sa =
		    roster->advertisements[i];
		const struct keys_member *m;
		Cairn__V1__Advertisement *ad;
		ProtobufCMessage *am;

		if (proto_unpack(&cairn__v1__advertisement__descriptor,
		    sa->advertisement.data, sa->advertisement.len,
		    PROTO_MAX_SMALL, &am) != CAIRN_OK)
			die("roster advertisement");
		ad = (Cairn__V1__Advertisement *)am;
		if ((m = keys_federation_find(fed, KEYS_ROLE_NODE, ad->node))
		    == NULL || sa->signature.len != 64 ||
		    keys_verify(m->pub.pk, "advertisement",
		    sa->advertisement.data, sa->advertisement.len,
		    sa->signature.data) != CAIRN_OK ||
		    ad->x25519_public.len != 32)
			die("roster advertisement of %s does not verify",
			    ad->node);
		memcpy(ro[i].id, m->pub.pk, 32);
		memcpy(ro[i].epk, ad->x25519_public.data, 32);
		protobuf_c_message_free_unpacked(am, NULL);
	}
	protobuf_c_message_free_unpacked(resp, NULL);
	secagg_roster_sort(ro, NNODES);
	{
		uint8_t pk[32];

		keys_identity_public(n->id, pk);
		if ((self = secagg_roster_find(ro, NNODES, pk)) < 0)
			die("not in the roster");
	}
	if (secagg_sid(qh, ro, NNODES, sid) != CAIRN_OK)
		die("sid");
	if ((x = malloc(NCELLS * 8)) == NULL ||
	    (y = malloc(NCELLS * 8)) == NULL ||
	    (le = malloc(NCELLS * 8)) == NULL)
		die("nomem");
	memcpy(x, n->x, NREG * 8);
	x[NCELLS - 1] = (int64_t)secagg_check_value(sid);
	if (n == &nodes[0] + bad_check)
		x[NCELLS - 1]++;
	if ((r = secagg_mask(n->esk, ro, NNODES, (size_t)self, sid, x, y,
	    NCELLS)) != CAIRN_OK)
		die("mask: %s", cairn_errdesc(r));
	for (size_t i = 0; i < NCELLS; i++)
		for (int b = 0; b < 8; b++)
			le[i * 8 + b] = (uint8_t)(y[i] >> (8 * b));
	crypto_generichash(dg, 32, le, NCELLS * 8, NULL, 0);
	free(le);
	free(x);
	nchunks = (uint32_t)((NCELLS + PROTO_CHUNK_CELLS - 1) /
	    PROTO_CHUNK_CELLS);
	mf.query_id = (char *)qid;
	mf.attempt = n->attempt;
	mf.node = n->name;
	mf.sid.data = sid;
	mf.sid.len = 32;
	mf.cells = NCELLS;
	mf.chunk_count = nchunks;
	if (bad_digest)
		dg[0] ^= 1;
	mf.digest.data = dg;
	mf.digest.len = 32;
	if (proto_pack(&mf.base, PROTO_MAX_SMALL, &mb, &ml) != CAIRN_OK ||
	    keys_sign(n->id, "share", mb, ml, sig) != CAIRN_OK)
		die("manifest");
	ck.manifest.data = mb;
	ck.manifest.len = ml;
	ck.signature.data = sig;
	ck.signature.len = 64;
	for (uint32_t c = 0; c < nchunks; c++) {
		ck.chunk_index = c;
		ck.offset = (uint64_t)c * PROTO_CHUNK_CELLS;
		ck.n_cells = NCELLS - ck.offset < PROTO_CHUNK_CELLS ?
		    NCELLS - ck.offset : PROTO_CHUNK_CELLS;
		ck.cells = y + ck.offset;
		if ((r = call(n, PROTO_SUBMIT_SHARE, &ck, &resp)) != CAIRN_OK)
			break;
		got = ((Cairn__V1__SubmitShareResponse *)resp)->received_cells;
		protobuf_c_message_free_unpacked(resp, NULL);
	}
	free(mb);
	free(y);
	if (r != CAIRN_OK)
		return r;	/* the node keeps its key to send it again */
	sodium_memzero(n->esk, sizeof(n->esk));
	if (got != NCELLS)
		die("received cells %llu of %zu", (unsigned long long)got,
		    NCELLS);
	return CAIRN_OK;
}

static void
share(struct member *n, const char *qid, const uint8_t qh[32])
{
	int r;

	if ((r = share_try(n, qid, qh)) != CAIRN_OK)
		die("SubmitShare %s: %s", n->name, cairn_errdesc(r));
}

struct result {
	int64_t	*v;		/* NREG values */
	size_t	n;
	bool	have_release;
	uint64_t variance;
	uint64_t ci95;
	uint64_t log_index;
	uint8_t	rhash[32];
};

static int
on_chunk(const ProtobufCMessage *msg, void *arg)
{
	const Cairn__V1__ResultChunk *ch = (const void *)msg;
	struct result *res = arg;

	if (ch->release != NULL) {
		if (res->have_release || ch->release->result_hash.len != 32)
			return CAIRN_ERR_FORMAT;
		res->have_release = true;
		res->variance = ch->release->noise_variance;
		res->ci95 = ch->release->ci95_halfwidth;
		res->log_index = ch->release->log_index;
		memcpy(res->rhash, ch->release->result_hash.data, 32);
	}
	if (ch->offset != res->n || res->n + ch->n_values > NREG)
		return CAIRN_ERR_FORMAT;
	if (ch->n_values > 0)
		memcpy(res->v + res->n, ch->values, ch->n_values * 8);
	res->n += ch->n_values;
	return CAIRN_OK;
}

/* Every node takes attempt 'want_attempt' and advertises; the first
 * then sends a second, different advertisement: equivocation fails the
 * attempt. */
static void
run_equivocate(const char *qid, uint32_t want_attempt)
{
	Cairn__V1__QueryStatus *st;
	int r;

	for (int i = 0; i < NNODES; i++) {
		Cairn__V1__Task *t = poll_task(&nodes[i], 3000);

		if (t == NULL)
			die("%s got no task", nodes[i].name);
		if (strcmp(t->query_id, qid) != 0 || t->attempt != want_attempt)
			die("%s got task %s attempt %u", nodes[i].name,
			    t->query_id, t->attempt);
		task_check_and_cosign(&nodes[i], t);
		if ((r = advertise(&nodes[i], t)) != CAIRN_OK)
			die("Advertise %s: %s", nodes[i].name,
			    cairn_errdesc(r));
		if (i < NNODES - 1) {
			protobuf_c_message_free_unpacked(&t->base, NULL);
			continue;
		}
		/* Everyone advertised; the last node advertises again with
		 * a fresh key. */
		if ((r = advertise(&nodes[i], t)) != CAIRN_ERR_EXISTS)
			die("a second, different advertisement was not "
			    "refused as equivocation (%d)", r);
		protobuf_c_message_free_unpacked(&t->base, NULL);
	}
	st = status(qid);
	if (st->state != CAIRN__V1__QUERY_STATE__QUERY_STATE_FAILED ||
	    strstr(st->failure, "equivocation") == NULL)
		die("equivocation did not fail the attempt (%s)", st->failure);
	protobuf_c_message_free_unpacked(&st->base, NULL);
	okf("two different advertisements from one node fail the attempt");
}

static void	check_release(const char *qid, const uint8_t qh[32],
		    uint32_t want_attempt);

static void
run_round_clean(const char *qid, const struct signed_query *sq,
    uint32_t want_attempt)
{
	uint8_t qh[32];
	int r;

	(void)sq;
	for (int i = 0; i < NNODES; i++) {
		Cairn__V1__Task *t = poll_task(&nodes[i], 3000);

		if (t == NULL)
			die("%s got no task", nodes[i].name);
		if (strcmp(t->query_id, qid) != 0 || t->attempt != want_attempt)
			die("%s got task %s attempt %u (want %u)",
			    nodes[i].name, t->query_id, t->attempt,
			    want_attempt);
		task_check_and_cosign(&nodes[i], t);
		query_hash(t->query, qh);
		if ((r = advertise(&nodes[i], t)) != CAIRN_OK)
			die("Advertise %s: %s", nodes[i].name,
			    cairn_errdesc(r));
		protobuf_c_message_free_unpacked(&t->base, NULL);
	}
	okf("every node got the task, verified the checkpoint and the "
	    "QUERY entry's inclusion, cosigned and advertised");
	for (int i = 0; i < NNODES; i++)
		share(&nodes[i], qid, qh);
	okf("every node got the roster and sent its masked share");
	check_release(qid, qh, want_attempt);
}

/* The analyst's view of a released query: state, result = plain sum,
 * variance, result hash, RELEASE entry included in the checkpoint. */
static void
check_release(const char *qid, const uint8_t qh[32], uint32_t want_attempt)
{
	Cairn__V1__GetResultRequest rq = CAIRN__V1__GET_RESULT_REQUEST__INIT;
	struct tlog_checkpoint cp;
	struct result res;
	Cairn__V1__QueryStatus *st;
	uint8_t h[32], *le;
	int64_t *sum, rel;
	char *note;
	int r;

	st = status(qid);
	if (st->state != CAIRN__V1__QUERY_STATE__QUERY_STATE_RELEASED ||
	    st->attempt != want_attempt || st->n_charges != NNODES)
		die("query state %d attempt %u charges %zu after the shares",
		    st->state, st->attempt, st->n_charges);
	protobuf_c_message_free_unpacked(&st->base, NULL);
	okf("GetQuery: RELEASED with a signed charge from every node");
	memset(&res, 0, sizeof(res));
	if ((res.v = calloc(NREG, 8)) == NULL ||
	    (sum = calloc(NREG, 8)) == NULL || (le = malloc(NREG * 8)) == NULL)
		die("nomem");
	rq.query_id = (char *)qid;
	if ((r = transport_stream(analyst.cl, proto_method(PROTO_GET_RESULT),
	    &rq.base, 10000, on_chunk, &res)) != CAIRN_OK)
		die("GetResult: %s", cairn_errdesc(r));
	if (!res.have_release || res.n != NREG)
		die("GetResult: release %d, %zu values", res.have_release,
		    res.n);
	for (int i = 0; i < NNODES; i++)
		for (size_t k = 0; k < NREG; k++)
			sum[k] += nodes[i].x[k];
	if (memcmp(sum, res.v, NREG * 8) != 0)
		die("the result is not the plain sum of the nodes' vectors");
	okf("GetResult: the released values equal the plain sum");
	if (res.variance != 4 * NNODES)
		die("released variance %llu, want %d",
		    (unsigned long long)res.variance, 4 * NNODES);
	/* V = 12: the exact 95% half-width is 7 (P(|Z| <= 7) = 0.9702),
	 * where 1.96 * sqrt(12) = 6.79 covers only 94.0%. */
	if (res.ci95 != 7)
		die("released 95%% half-width %llu for variance 12, want the "
		    "exact 7", (unsigned long long)res.ci95);
	okf("the release carries the exact 95% half-width (7 at variance "
	    "12)");
	for (size_t k = 0; k < NREG; k++)
		for (int b = 0; b < 8; b++)
			le[k * 8 + b] = (uint8_t)((uint64_t)res.v[k] >>
			    (8 * b));
	crypto_generichash(h, 32, le, NREG * 8, NULL, 0);
	free(le);
	free(sum);
	free(res.v);
	if (memcmp(h, res.rhash, 32) != 0)
		die("result hash differs from BLAKE2b-256 of the values");
	okf("the release's variance is the sum of the charged variances and "
	    "its hash covers the values");
	/* The RELEASE entry, and its inclusion in the latest checkpoint. */
	note = checkpoint(&analyst, &cp);
	free(note);
	if (cp.size <= res.log_index) {
		/* A witness quorum may hold the shown checkpoint back. */
		die("the shown checkpoint (%llu) does not cover the RELEASE "
		    "entry %llu", (unsigned long long)cp.size,
		    (unsigned long long)res.log_index);
	}
	rel = find_entry(cp.size, TLOG_ENTRY_RELEASE, qh, NULL, 0);
	if (rel != (int64_t)res.log_index)
		die("RELEASE entry at %lld, the release says %llu",
		    (long long)rel, (unsigned long long)res.log_index);
	check_inclusion((uint64_t)rel, &cp);
	okf("the RELEASE entry is in the signed checkpoint");
}

/* ----------------------------------------------------------- scenarios */

static void
sc_round(const char *qid)
{
	struct signed_query sq;
	struct tlog_checkpoint cp;
	struct tlog_verifier wk[NNODES];
	char *note, vk[512];
	int r;

	query_make(qid, geo, 0.5, 1, "residents", &analyst, &sq);
	if ((r = submit(&analyst, &sq, NULL)) != CAIRN_OK)
		die("SubmitQuery: %s", cairn_errdesc(r));
	okf("SubmitQuery accepted");
	run_round_clean(qid, &sq, 0);
	expect_code(submit(&analyst, &sq, NULL), CAIRN_ERR_EXISTS,
	    "a replayed query is refused");
	/* Witnesses cosign the latest checkpoint; GetCheckpoint serves it
	 * with their cosignatures. */
	for (int i = 0; i < NNODES; i++) {
		note = checkpoint(&nodes[i], &cp);
		cosign_note(&nodes[i], note);
		free(note);
	}
	note = checkpoint(&analyst, &cp);
	for (int i = 0; i < NNODES; i++) {
		uint8_t pk[32];

		keys_identity_public(nodes[i].id, pk);
		if (tlog_verifier_format(nodes[i].name, TLOG_KEY_COSIGNATURE,
		    pk, vk, sizeof(vk)) != CAIRN_OK ||
		    tlog_verifier_parse(vk, &wk[i]) != CAIRN_OK)
			die("witness key");
	}
	if ((r = tlog_checkpoint_open(note, strlen(note), wk, NNODES, NNODES,
	    origin, &cp)) != CAIRN_OK)
		die("the checkpoint lacks the nodes' cosignatures: %s\n%s",
		    cairn_errdesc(r), note);
	free(note);
	okf("GetCheckpoint carries every node's verified cosignature");
	free(sq.q);
}

static void
sc_refuse(const char *qid)
{
	struct signed_query sq;
	struct tlog_checkpoint cp;
	Cairn__V1__QueryStatus *st;
	Cairn__V1__Task *t, *t0;
	uint8_t qh[32];
	char reason[512], *note;
	uint64_t late;
	int r;

	query_make(qid, geo, 0.5, 1, "residents", &analyst, &sq);
	if ((r = submit(&analyst, &sq, NULL)) != CAIRN_OK)
		die("SubmitQuery: %s", cairn_errdesc(r));
	if ((t0 = poll_task(&nodes[0], 3000)) == NULL ||
	    (t = poll_task(&nodes[1], 3000)) == NULL)
		die("no task");
	query_hash(t->query, qh);
	refuse(&nodes[1], t);
	protobuf_c_message_free_unpacked(&t->base, NULL);
	/* n1 charged before it could know of the refusal: its CHARGE is
	 * logged all the same (once), its advertisement refused. */
	expect_code(advertise(&nodes[0], t0), CAIRN_ERR_STATE,
	    "an advertisement after the attempt failed is refused");
	note = checkpoint(&analyst, &cp);
	free(note);
	if (find_entry(cp.size, TLOG_ENTRY_CHARGE, qh, NULL, 0) < 0)
		die("the late CHARGE is not in the log");
	late = cp.size;
	expect_code(advertise(&nodes[0], t0), CAIRN_ERR_STATE,
	    "the same late advertisement again");
	/* A node's re-send of the charge (no key) is answered with the
	 * index it is logged at, and logs nothing more. */
	keyless = true;
	expect_code(advertise(&nodes[0], t0), CAIRN_OK,
	    "a re-sent charge is acknowledged");
	if (strncmp(ack, "CHARGE already logged at index ", 31) != 0)
		die("re-sent charge: ack '%s'", ack);
	t0->attempt = 5;
	expect_code(advertise(&nodes[0], t0), CAIRN_ERR_STATE,
	    "a re-sent charge for an attempt never opened is refused");
	t0->attempt = 0;
	keyless = false;
	note = checkpoint(&analyst, &cp);
	free(note);
	if (cp.size != late)
		die("a second late CHARGE was logged");
	okf("a charge that arrives after the attempt failed is logged once");
	protobuf_c_message_free_unpacked(&t0->base, NULL);
	st = status(qid);
	if (st->state != CAIRN__V1__QUERY_STATE__QUERY_STATE_REFUSED ||
	    st->n_refusals != 1 || strstr(st->failure, "n2") == NULL)
		die("after a refusal: state %d, %zu refusals, '%s'", st->state,
		    st->n_refusals, st->failure);
	protobuf_c_message_free_unpacked(&st->base, NULL);
	okf("GetQuery: REFUSED with the node's signed refusal");
	note = checkpoint(&analyst, &cp);
	free(note);
	if (find_entry(cp.size, TLOG_ENTRY_REFUSAL, qh, NULL, 0) < 0 ||
	    find_entry(cp.size, TLOG_ENTRY_FAILURE, qh, reason,
	    sizeof(reason)) < 0 || strstr(reason, "refused") == NULL)
		die("REFUSAL and FAILURE entries are not both in the log");
	okf("REFUSAL and FAILURE entries are in the log");
	/* A retry: the same signed query starts attempt 1; a node
	 * equivocates in it (attempt fails); attempt 2 completes. */
	if ((r = submit(&analyst, &sq, NULL)) != CAIRN_OK)
		die("retry: %s", cairn_errdesc(r));
	okf("the same signed query after a failure starts attempt 1");
	run_equivocate(qid, 1);
	if ((r = submit(&analyst, &sq, NULL)) != CAIRN_OK)
		die("second retry: %s", cairn_errdesc(r));
	run_round_clean(qid, &sq, 2);
	expect_code(submit(&analyst, &sq, NULL), CAIRN_ERR_EXISTS,
	    "the released query cannot be retried again");
	free(sq.q);
}

static void
sc_chain(const char *qid)
{
	struct signed_query sq;
	Cairn__V1__Task *t;
	char want[160];
	int r;

	query_make(qid, geo, 0.5, 1, "residents", &analyst, &sq);
	if ((r = submit(&analyst, &sq, NULL)) != CAIRN_OK)
		die("SubmitQuery: %s", cairn_errdesc(r));
	if ((t = poll_task(&nodes[0], 3000)) == NULL)
		die("no task");
	/* n1's ledger as if restored to before its last charge. */
	cum_delta = -500000000;
	expect_code(advertise(&nodes[0], t), CAIRN_ERR_BUDGET,
	    "a cumulative 0.5 below n1's logged spend plus rho is refused");
	snprintf(want, sizeof(want), "node n1, month ");
	if (strstr(cairn_errmsg(), want) == NULL ||
	    strstr(cairn_errmsg(), " given, ") == NULL ||
	    strstr(cairn_errmsg(), " expected (its logged spend ") == NULL)
		die("the refusal does not name node, month, expected and "
		    "given: %s", cairn_errmsg());
	okf("the refusal names node, month, expected and given");
	cum_delta = 1;
	expect_code(advertise(&nodes[0], t), CAIRN_ERR_BUDGET,
	    "a cumulative 1 nano-rho above it is refused too");
	cum_delta = 0;
	expect_code(advertise(&nodes[0], t), CAIRN_OK,
	    "the cumulative that continues n1's logged spend is logged");
	if (strncmp(ack, "CHARGE logged at index ", 23) != 0)
		die("ack '%s'", ack);
	protobuf_c_message_free_unpacked(&t->base, NULL);
	free(sq.q);
}

static void
sc_deadline(const char *qid)
{
	struct signed_query sq;
	struct tlog_checkpoint cp;
	Cairn__V1__QueryStatus *st;
	uint8_t qh[32];
	char reason[512], *note;
	int r, tries;

	query_make(qid, geo, 0.5, 1, "residents", &analyst, &sq);
	if ((r = submit(&analyst, &sq, NULL)) != CAIRN_OK)
		die("SubmitQuery: %s", cairn_errdesc(r));
	for (int i = 0; i < 2; i++) {
		Cairn__V1__Task *t = poll_task(&nodes[i], 3000);

		if (t == NULL)
			die("no task");
		query_hash(t->query, qh);
		if ((r = advertise(&nodes[i], t)) != CAIRN_OK)
			die("Advertise: %s", cairn_errdesc(r));
		if (i == 0) {
			/* A re-sent charge of an advertised node while the
			 * attempt is open: answered, no equivocation. */
			keyless = true;
			expect_code(advertise(&nodes[0], t), CAIRN_OK,
			    "a re-sent charge during the attempt");
			keyless = false;
			if (strncmp(ack, "CHARGE already logged at index ",
			    31) != 0)
				die("re-sent charge: ack '%s'", ack);
		}
		protobuf_c_message_free_unpacked(&t->base, NULL);
	}
	{
		/* n3 never advertises; a charge it re-sends is logged
		 * but does not count as its advertisement. */
		Cairn__V1__Task *t = poll_task(&nodes[2], 3000);

		if (t == NULL)
			die("no task for n3");
		keyless = true;
		expect_code(advertise(&nodes[2], t), CAIRN_OK,
		    "a re-sent charge of a node that did not advertise");
		keyless = false;
		if (strncmp(ack, "CHARGE logged at index ", 23) != 0)
			die("re-sent charge: ack '%s'", ack);
		protobuf_c_message_free_unpacked(&t->base, NULL);
	}
	for (tries = 0; tries < 100; tries++) {
		st = status(qid);
		if (st->state == CAIRN__V1__QUERY_STATE__QUERY_STATE_FAILED)
			break;
		protobuf_c_message_free_unpacked(&st->base, NULL);
		st = NULL;
		usleep(100000);
	}
	if (st == NULL || strstr(st->failure, "deadline") == NULL ||
	    strstr(st->failure, "n3") == NULL)
		die("no deadline failure naming n3 (%s)",
		    st ? st->failure : "still open");
	protobuf_c_message_free_unpacked(&st->base, NULL);
	okf("a missed advertise deadline fails the attempt, naming the node");
	note = checkpoint(&analyst, &cp);
	free(note);
	if (find_entry(cp.size, TLOG_ENTRY_FAILURE, qh, reason,
	    sizeof(reason)) < 0 || strstr(reason, "deadline") == NULL)
		die("no FAILURE entry for the deadline");
	okf("the FAILURE entry is in the log");
	free(sq.q);
}

static void
sc_refusals(void)
{
	Cairn__V1__PollTaskRequest pr = CAIRN__V1__POLL_TASK_REQUEST__INIT;
	Cairn__V1__GetEntriesRequest er = CAIRN__V1__GET_ENTRIES_REQUEST__INIT;
	struct signed_query sq;
	struct member rogue;
	ProtobufCMessage *resp = NULL;

	query_make("bad-role", geo, 0.5, 1, "residents", &analyst, &sq);
	expect_code(submit(&nodes[0], &sq, NULL), CAIRN_ERR_UNAUTH,
	    "SubmitQuery by a node is refused");
	free(sq.q);
	expect_code(call(&analyst, PROTO_POLL_TASK, &pr, &resp),
	    CAIRN_ERR_UNAUTH, "PollTask by an analyst is refused");
	member_open(&rogue, "rogue");
	query_make("rogue-1", geo, 0.5, 1, "residents", &rogue, &sq);
	expect_code(submit(&rogue, &sq, NULL), CAIRN_ERR_UNAUTH,
	    "an analyst certificate not in federation.conf is refused");
	free(sq.q);
	query_make("forged", geo, 0.5, 1, "residents", &analyst, &sq);
	sq.sig[0] ^= 1;
	expect_code(submit(&analyst, &sq, NULL), CAIRN_ERR_SIGNATURE,
	    "a forged query signature is refused");
	free(sq.q);
	query_make("badspec", geo, 0.5, 1, "teleport", &analyst, &sq);
	expect_code(submit(&analyst, &sq, NULL), CAIRN_ERR_FORMAT,
	    "a malformed spec is refused");
	free(sq.q);
	query_make("nogeo", "atlantis", 0.5, 1, "residents", &analyst, &sq);
	expect_code(submit(&analyst, &sq, NULL), CAIRN_ERR_ARG,
	    "an unknown geography is refused");
	free(sq.q);
	query_make("greedy", geo, 5.0, 1, "residents", &analyst, &sq);
	expect_code(submit(&analyst, &sq, NULL), CAIRN_ERR_POLICY,
	    "rho over the federation limit is refused");
	free(sq.q);
	query_make("collude", geo, 0.5, 3, "residents", &analyst, &sq);
	expect_code(submit(&analyst, &sq, NULL), CAIRN_ERR_ARG,
	    "max_colluding >= participants is refused");
	free(sq.q);
	er.start = 0;
	er.end = 1u << 30;
	expect_code(call(&analyst, PROTO_GET_ENTRIES, &er, &resp),
	    CAIRN_ERR_RANGE, "GetEntries beyond the log is OUT_OF_RANGE");
	transport_client_free(rogue.cl);
	keys_identity_free(rogue.id);
}

static void
sc_checks(const char *qid)
{
	Cairn__V1__PollTaskRequest pr = CAIRN__V1__POLL_TASK_REQUEST__INIT;
	Cairn__V1__GetResultRequest gr = CAIRN__V1__GET_RESULT_REQUEST__INIT;
	Cairn__V1__GetQueryRequest gq = CAIRN__V1__GET_QUERY_REQUEST__INIT;
	Cairn__V1__ListQueriesRequest lq =
	    CAIRN__V1__LIST_QUERIES_REQUEST__INIT;
	Cairn__V1__Cosignature cs = CAIRN__V1__COSIGNATURE__INIT;
	Cairn__V1__GetInclusionProofRequest ip =
	    CAIRN__V1__GET_INCLUSION_PROOF_REQUEST__INIT;
	Cairn__V1__GetConsistencyProofRequest cq =
	    CAIRN__V1__GET_CONSISTENCY_PROOF_REQUEST__INIT;
	Cairn__V1__ListQueriesResponse *lr;
	Cairn__V1__QueryStatus *st;
	Cairn__V1__Task *t[NNODES];
	struct signed_query sq;
	struct result res;
	ProtobufCMessage *resp;
	uint8_t qh[32], sig[72] = { 0 }, root[32] = { 0 };
	int r;

	/* Log and query reads with bad arguments. */
	pr.last_seen_size = 1u << 30;
	expect_code(call(&nodes[0], PROTO_POLL_TASK, &pr, &resp),
	    CAIRN_ERR_RANGE, "PollTask from beyond the log is OUT_OF_RANGE");
	if (poll_task(&nodes[0], 300) != NULL)
		die("a task out of nowhere");
	okf("a long poll with nothing to do ends empty after its wait");
	gq.query_id = "no-such-query";
	expect_code(call(&analyst, PROTO_GET_QUERY, &gq, &resp),
	    CAIRN_ERR_NOTFOUND, "GetQuery of an unknown query is NOT_FOUND");
	ip.index = 5;
	ip.tree_size = 5;
	expect_code(call(&analyst, PROTO_GET_INCLUSION_PROOF, &ip, &resp),
	    CAIRN_ERR_RANGE, "an inclusion proof of index >= size is "
	    "OUT_OF_RANGE");
	cq.old_size = 3;
	cq.new_size = 2;
	expect_code(call(&analyst, PROTO_GET_CONSISTENCY_PROOF, &cq, &resp),
	    CAIRN_ERR_ARG, "a consistency proof with old > new is "
	    "INVALID_ARGUMENT");
	cs.witness = nodes[0].name;
	cs.tree_size = 1u << 30;
	cs.root_hash.data = root;
	cs.root_hash.len = 32;
	cs.signature.data = sig;
	cs.signature.len = 72;
	expect_code(call(&nodes[0], PROTO_COSIGN, &cs, &resp),
	    CAIRN_ERR_NOTFOUND, "a cosignature of an unpublished checkpoint "
	    "is NOT_FOUND");
	cs.witness = nodes[1].name;
	expect_code(call(&nodes[0], PROTO_COSIGN, &cs, &resp), CAIRN_ERR_UNAUTH,
	    "a cosignature in another node's name is PERMISSION_DENIED");
	lq.page_token = "x";
	expect_code(call(&analyst, PROTO_LIST_QUERIES, &lq, &resp),
	    CAIRN_ERR_ARG, "a bad page token is INVALID_ARGUMENT");
	lq.page_token = "";
	lq.page_size = 1;
	if ((r = call(&analyst, PROTO_LIST_QUERIES, &lq, &resp)) != CAIRN_OK)
		die("ListQueries: %s", cairn_errdesc(r));
	lr = (Cairn__V1__ListQueriesResponse *)resp;
	if (lr->n_queries != 1 || lr->next_page_token[0] == '\0')
		die("ListQueries page of 1: %zu, token '%s'", lr->n_queries,
		    lr->next_page_token);
	protobuf_c_message_free_unpacked(resp, NULL);
	okf("ListQueries pages with a token");

	/* A round with faults: a wrong vector length, a wrong digest, a
	 * check cell off by one. */
	query_make(qid, geo, 0.5, 1, "residents", &analyst, &sq);
	if ((r = submit(&analyst, &sq, NULL)) != CAIRN_OK)
		die("SubmitQuery: %s", cairn_errdesc(r));
	gr.query_id = (char *)qid;
	memset(&res, 0, sizeof(res));
	expect_code(transport_stream(analyst.cl,
	    proto_method(PROTO_GET_RESULT), &gr.base, 5000, on_chunk, &res),
	    CAIRN_ERR_STATE, "GetResult before the release is "
	    "FAILED_PRECONDITION");
	for (int i = 0; i < NNODES; i++) {
		if ((t[i] = poll_task(&nodes[i], 3000)) == NULL)
			die("no task");
		query_hash(t[i]->query, qh);
	}
	adv_cells = NCELLS + 1;
	expect_code(advertise(&nodes[0], t[0]), CAIRN_ERR_ARG,
	    "a charge for a vector of the wrong length is INVALID_ARGUMENT");
	adv_cells = 0;
	/* dp_requirement: each month pays its rho_m, here not the query's
	   0.5 (2 honest nodes), and the noise is at least sigma_h^2 */
	query_rho = true;
	expect_code(advertise(&nodes[0], t[0]), CAIRN_ERR_ARG,
	    "a charge of the query's rho instead of the month's rho_m is "
	    "INVALID_ARGUMENT");
	query_rho = false;
	low_noise = true;
	expect_code(advertise(&nodes[0], t[0]), CAIRN_ERR_ARG,
	    "a charge with noise below sigma_h^2 is INVALID_ARGUMENT");
	low_noise = false;
	for (int i = 0; i < NNODES; i++) {
		if ((r = advertise(&nodes[i], t[i])) != CAIRN_OK)
			die("Advertise: %s", cairn_errdesc(r));
		protobuf_c_message_free_unpacked(&t[i]->base, NULL);
	}
	bad_digest = true;
	expect_code(share_try(&nodes[0], qid, qh), CAIRN_ERR_ARG,
	    "a share whose digest differs from its manifest is "
	    "INVALID_ARGUMENT");
	bad_digest = false;
	/* The node sends the same masked vector again, correctly. */
	share(&nodes[0], qid, qh);
	okf("the share is accepted when sent again after a digest mismatch");
	share(&nodes[1], qid, qh);
	bad_check = 2;
	expect_code(share_try(&nodes[2], qid, qh), CAIRN_ERR_CONFLICT,
	    "a sum whose check cell is wrong is ABORTED");
	bad_check = -1;
	st = status(qid);
	if (st->state != CAIRN__V1__QUERY_STATE__QUERY_STATE_FAILED ||
	    strstr(st->failure, "roster") == NULL)
		die("a bad check cell: state %d '%s'", st->state, st->failure);
	protobuf_c_message_free_unpacked(&st->base, NULL);
	okf("a bad check cell fails the attempt with a FAILURE entry");
	free(sq.q);
}

struct lp_arg {
	struct member	*n;
	const char	*qid;
	unsigned	 delay_ms;
	uint8_t		 qh[32];
};

/* A node waiting in PollTask before the query exists; it advertises after
 * 'delay_ms' and then waits in GetRoster for the slower ones. */
static void *
lp_node(void *arg)
{
	struct lp_arg *a = arg;
	Cairn__V1__Task *t = poll_task(a->n, 8000);
	int r;

	if (t == NULL || strcmp(t->query_id, a->qid) != 0)
		die("%s: the long poll did not bring the task", a->n->name);
	task_check_and_cosign(a->n, t);
	query_hash(t->query, a->qh);
	usleep(a->delay_ms * 1000);
	if ((r = advertise(a->n, t)) != CAIRN_OK)
		die("Advertise %s: %s", a->n->name, cairn_errdesc(r));
	protobuf_c_message_free_unpacked(&t->base, NULL);
	share(a->n, a->qid, a->qh);
	return NULL;
}

static void
sc_longpoll(const char *qid)
{
	struct lp_arg args[NNODES];
	pthread_t th[NNODES];
	struct signed_query sq;
	int r;

	for (int i = 0; i < NNODES; i++) {
		args[i].n = &nodes[i];
		args[i].qid = qid;
		args[i].delay_ms = 400u * (unsigned)i;
		if (pthread_create(&th[i], NULL, lp_node, &args[i]) != 0)
			die("thread");
	}
	usleep(500000);		/* every node is waiting in PollTask */
	query_make(qid, geo, 0.5, 1, "residents", &analyst, &sq);
	if ((r = submit(&analyst, &sq, NULL)) != CAIRN_OK)
		die("SubmitQuery: %s", cairn_errdesc(r));
	for (int i = 0; i < NNODES; i++)
		pthread_join(th[i], NULL);
	okf("nodes waiting in PollTask got the task when it was submitted; "
	    "early nodes waited in GetRoster for the late ones");
	check_release(qid, args[0].qh, 0);
	free(sq.q);
}

static void
sc_open(const char *qid, const char *state)
{
	struct signed_query sq;
	struct tlog_checkpoint cp;
	char *note, b64[64];
	FILE *f;
	int r;

	query_make(qid, geo, 0.5, 1, "residents", &analyst, &sq);
	if ((r = submit(&analyst, &sq, NULL)) != CAIRN_OK)
		die("SubmitQuery: %s", cairn_errdesc(r));
	for (int i = 0; i < NNODES; i++) {
		Cairn__V1__Task *t = poll_task(&nodes[i], 3000);

		if (t == NULL || (r = advertise(&nodes[i], t)) != CAIRN_OK)
			die("task/advertise");
		protobuf_c_message_free_unpacked(&t->base, NULL);
	}
	note = checkpoint(&analyst, &cp);
	free(note);
	tlog_b64_encode(cp.root, 32, b64, sizeof(b64));
	if ((f = fopen(state, "w")) == NULL ||
	    fprintf(f, "%llu %s\n", (unsigned long long)cp.size, b64) < 0 ||
	    fclose(f) != 0)
		die("%s", state);
	okf("an attempt is left open in its share phase");
	free(sq.q);
}

static void
sc_after_restart(const char *qid, const char *state)
{
	Cairn__V1__GetConsistencyProofRequest rq =
	    CAIRN__V1__GET_CONSISTENCY_PROOF_REQUEST__INIT;
	Cairn__V1__ConsistencyProof *cpf;
	Cairn__V1__QueryStatus *st;
	struct tlog_checkpoint cp;
	struct tlog_frontier fr;
	ProtobufCMessage *resp;
	uint8_t old_root[32], root[32], pr[TLOG_MAX_PROOF][32];
	unsigned long long old_size;
	char b64[64], *note, reason[512];
	size_t rl;
	FILE *f;
	int r;

	if ((f = fopen(state, "r")) == NULL ||
	    fscanf(f, "%llu %63s", &old_size, b64) != 2 ||
	    tlog_b64_decode(b64, strlen(b64), old_root, 32, &rl) != CAIRN_OK)
		die("%s", state);
	fclose(f);
	st = status(qid);
	if (st->state != CAIRN__V1__QUERY_STATE__QUERY_STATE_FAILED ||
	    strstr(st->failure, "coordinator restarted") == NULL)
		die("after a restart: state %d '%s'", st->state, st->failure);
	protobuf_c_message_free_unpacked(&st->base, NULL);
	okf("the open attempt failed with 'coordinator restarted'");
	note = checkpoint(&analyst, &cp);
	free(note);
	okf("the checkpoint after the restart verifies");
	rq.old_size = old_size;
	rq.new_size = cp.size;
	if ((r = call(&analyst, PROTO_GET_CONSISTENCY_PROOF, &rq, &resp))
	    != CAIRN_OK)
		die("GetConsistencyProof: %s", cairn_errdesc(r));
	cpf = (Cairn__V1__ConsistencyProof *)resp;
	for (size_t k = 0; k < cpf->n_hashes && k < TLOG_MAX_PROOF; k++)
		memcpy(pr[k], cpf->hashes[k].data, 32);
	if (cpf->n_hashes > TLOG_MAX_PROOF ||
	    (r = tlog_consistency_check(old_size, cp.size, old_root, cp.root,
	    (const uint8_t (*)[32])pr, cpf->n_hashes)) != CAIRN_OK)
		die("the log after the restart is not consistent with the "
		    "one before: %s", cairn_errdesc(r));
	protobuf_c_message_free_unpacked(resp, NULL);
	okf("the log after the restart extends the one before (consistency "
	    "proof)");
	tlog_frontier_init(&fr);
	for (uint64_t i = 0; i < cp.size; i++) {
		struct tlog_entry *e = malloc(sizeof(*e));
		uint8_t leaf[32], *b;
		size_t len;

		b = entry(i, &len);
		if (e == NULL || tlog_entry_decode(b, len, e) != CAIRN_OK)
			die("entry %llu does not decode",
			    (unsigned long long)i);
		free(e);
		tlog_leaf_hash(b, len, leaf);
		free(b);
		if (tlog_frontier_append(&fr, leaf, NULL, NULL) != CAIRN_OK)
			die("frontier");
	}
	tlog_frontier_root(&fr, root);
	if (memcmp(root, cp.root, 32) != 0)
		die("the entries do not hash to the checkpoint's root");
	okf("every entry decodes and the entries hash to the signed root");
	if (find_entry(cp.size, TLOG_ENTRY_FAILURE, NULL, reason,
	    sizeof(reason)) < 0 || strstr(reason, "coordinator restarted") ==
	    NULL)
		die("the last FAILURE entry is not the restart's (%s)", reason);
	okf("the log's last FAILURE entry says 'coordinator restarted'");
}

int
main(int argc, char **argv)
{
	const char *sc;
	int i = 1;

	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (strcmp(argv[i], "--dir") == 0)
			dir = argv[i + 1];
		else if (strcmp(argv[i], "--target") == 0)
			target = argv[i + 1];
		else if (strcmp(argv[i], "--geography") == 0)
			geo = argv[i + 1];
		else if (strcmp(argv[i], "--regions") == 0)
			nreg = (size_t)strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--publish") == 0)
			publish = strcmp(argv[i + 1], "yes") == 0;
		else
			die("unknown option %s", argv[i]);
	}
	if (i < argc && (strcmp(argv[i], "--help") == 0 ||
	    strcmp(argv[i], "-h") == 0)) {
		printf("usage: %s --dir DIR --target HOST:PORT "
		    "[--geography NAME --regions N] [--publish yes|no] "
		    "SCENARIO [ARGS]\n"
		    "  scenarios: round QID, refuse QID, deadline QID, "
		    "longpoll QID, checks QID, refusals, open QID STATE,\n"
		    "  after-restart QID STATE\n",
		    PROG);
		return 0;
	}
	if (dir == NULL || target == NULL || i >= argc || nreg == 0 ||
	    nreg > 10000000)
		die("usage: %s --dir DIR --target HOST:PORT SCENARIO [ARGS]",
		    PROG);
	if (sodium_init() < 0)
		die("sodium_init");
	setup();
	sc = argv[i++];
	if (strcmp(sc, "round") == 0 && i < argc)
		sc_round(argv[i]);
	else if (strcmp(sc, "refuse") == 0 && i < argc)
		sc_refuse(argv[i]);
	else if (strcmp(sc, "deadline") == 0 && i < argc)
		sc_deadline(argv[i]);
	else if (strcmp(sc, "longpoll") == 0 && i < argc)
		sc_longpoll(argv[i]);
	else if (strcmp(sc, "checks") == 0 && i < argc)
		sc_checks(argv[i]);
	else if (strcmp(sc, "refusals") == 0)
		sc_refusals();
	else if (strcmp(sc, "open") == 0 && i + 1 < argc)
		sc_open(argv[i], argv[i + 1]);
	else if (strcmp(sc, "chain") == 0 && i < argc)
		sc_chain(argv[i]);
	else if (strcmp(sc, "after-restart") == 0 && i + 1 < argc)
		sc_after_restart(argv[i], argv[i + 1]);
	else
		die("unknown scenario or missing arguments: %s", sc);
	for (int k = 0; k < NNODES; k++) {
		transport_client_free(nodes[k].cl);
		free(nodes[k].x);
		keys_identity_free(nodes[k].id);
	}
	transport_client_free(analyst.cl);
	keys_identity_free(analyst.id);
	keys_federation_free(fed);
	return 0;
}
