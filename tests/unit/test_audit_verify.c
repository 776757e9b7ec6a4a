/*
 * test_audit_verify.c - audit_verify() over logs built with real
 * identity keys, the real entry encoding and the SQLite log store: a
 * valid log verifies, and each violation of docs/federation.md §5 is
 * found with a precise message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <sodium.h>

#include "audit/audit.h"
#include "common/err.h"
#include "common/file.h"
#include "keys/keys.h"
#include "keys/keys_federation.h"
#include "protocol/cairn.pb-c.h"
#include "protocol/proto_service.h"
#include "protocol/qspec.h"
#include "protocol/tlog_entry.h"
#include "protocol/tlog_member.h"
#include "protocol/tlog_note.h"
#include "protocol/tlog_store.h"
#include "query/query.h"

#include <math.h>
/* ρ as a test writes it (a double) to nano-ρ. */
#define NANO(x)	((uint64_t)llround((double)(x) * 1e9))

#define NNODES	3
#define MAXE	4096

static const char *const node_names[NNODES] = { "alpha", "beta", "gamma" };

/* Keys made once. */
static struct keys_identity *coord, *ana, *nodes[NNODES], *rogue;
static struct keys_member members[2 + NNODES];
static struct keys_federation fed;

/* The log under construction. */
struct logb {
	uint8_t		*e[MAXE];
	size_t		 len[MAXE];
	size_t		 n;
	char		 findings[16384];
	size_t		 nfind;
};

static struct logb L;

/* Who signs a QUERY and for which federation (tests bend these). */
static const struct keys_identity *q_signer;
static const char *q_fed = "demo";
static const char *q_spec;		/* JSON spec; NULL: residents */


static void
member_of(struct keys_member *m, const struct keys_identity *id)
{
	memset(m, 0, sizeof(*m));
	m->pub.role = keys_identity_role(id);
	snprintf(m->pub.name, sizeof(m->pub.name), "%s",
	    keys_identity_name(id));
	keys_identity_public(id, m->pub.pk);
	memset(m->cert_fpr, 'a', 64);
}

static int
setup_all(void **state)
{
	(void)state;
	assert_int_equal(keys_identity_generate(KEYS_ROLE_COORDINATOR,
	    "coord", &coord), CAIRN_OK);
	assert_int_equal(keys_identity_generate(KEYS_ROLE_ANALYST, "stats",
	    &ana), CAIRN_OK);
	assert_int_equal(keys_identity_generate(KEYS_ROLE_NODE, "alpha",
	    &rogue), CAIRN_OK);
	member_of(&members[0], coord);
	member_of(&members[1], ana);
	for (int i = 0; i < NNODES; i++) {
		assert_int_equal(keys_identity_generate(KEYS_ROLE_NODE,
		    node_names[i], &nodes[i]), CAIRN_OK);
		member_of(&members[2 + i], nodes[i]);
	}
	snprintf(fed.name, sizeof(fed.name), "demo");
	fed.members = members;
	fed.n = 2 + NNODES;
	return 0;
}

static int
teardown_all(void **state)
{
	(void)state;
	keys_identity_free(coord);
	keys_identity_free(ana);
	keys_identity_free(rogue);
	for (int i = 0; i < NNODES; i++)
		keys_identity_free(nodes[i]);
	return 0;
}

static int
setup(void **state)
{
	(void)state;
	memset(&L, 0, sizeof(L));
	q_signer = NULL;
	q_fed = "demo";
	q_spec = NULL;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < L.n; i++)
		free(L.e[i]);
	return 0;
}

static struct tlog_bytes
str(const char *s)
{
	struct tlog_bytes b = { (const uint8_t *)s, strlen(s) };

	return b;
}

static void
put(const struct tlog_entry *e)
{
	size_t len;

	assert_true(L.n < MAXE);
	assert_int_equal(tlog_entry_encode(e, NULL, 0, &len),
	    CAIRN_ERR_TOOBIG);
	L.e[L.n] = malloc(len);
	assert_non_null(L.e[L.n]);
	assert_int_equal(tlog_entry_encode(e, L.e[L.n], len, &len), CAIRN_OK);
	L.len[L.n++] = len;
}

/* A QUERY by the analyst over 'np' of the nodes; its hash into qh. */
static void
add_query(const char *id, size_t np, double rho, uint8_t qh[32])
{
	static const char spec[] = "{\"kind\": \"residents\", \"start\": "
	    "\"2026-01-05\", \"end\": \"2026-01-20\"}";
	Cairn__V1__SignedQuery sq = CAIRN__V1__SIGNED_QUERY__INIT;
	struct query_params p;
	struct tlog_entry *e = calloc(1, sizeof(*e));
	uint8_t *q, sig[64], *body;
	size_t qlen, blen;

	assert_non_null(e);
	memset(&p, 0, sizeof(p));
	const char *js = q_spec != NULL ? q_spec : spec;

	assert_int_equal(qspec_parse_json(js, strlen(js), "t", &p.spec),
	    CAIRN_OK);
	p.geography = "g1";
	p.rho_nano = NANO(rho);
	p.purpose = "test";
	p.participants = node_names;
	p.nparticipants = np;
	p.colluding = 1;
	p.query_id = id;
	p.analyst = "stats";
	p.federation = q_fed;
	p.submitted = 1767225600;
	assert_int_equal(query_build(&p, ana, &q, &qlen, sig), CAIRN_OK);
	if (q_signer != NULL)
		assert_int_equal(keys_sign(q_signer, "query", q, qlen, sig),
		    CAIRN_OK);
	crypto_hash_sha256(qh, q, qlen);
	sq.query.data = q;
	sq.query.len = qlen;
	sq.signature.data = sig;
	sq.signature.len = 64;
	assert_int_equal(proto_pack(&sq.base, PROTO_MAX_SMALL, &body, &blen),
	    CAIRN_OK);
	e->type = TLOG_ENTRY_QUERY;
	e->time = 1767225600;
	e->body.p = body;
	e->body.len = blen;
	put(e);
	free(body);
	free(q);
	free(e);
}

/* How a test bends a CHARGE entry. */
struct chg {
	const char	*query_id;
	int		 node;		/* index in nodes[] */
	uint32_t	 attempt;
	double		 rho, cum, budget;
	uint64_t	 sigma2;
	bool		 forge;		/* sign with the rogue key */
	double		 logged_cum;	/* when > 0: the typed field */
};

static void
add_charge(const uint8_t qh[32], const struct chg *c)
{
	Cairn__V1__Charge ch = CAIRN__V1__CHARGE__INIT;
	Cairn__V1__MonthCharge mc = CAIRN__V1__MONTH_CHARGE__INIT;
	Cairn__V1__MonthCharge *mcs[1] = { &mc };
	struct tlog_entry *e = calloc(1, sizeof(*e));
	uint8_t *body, sig[64];
	size_t blen;

	assert_non_null(e);
	ch.query_id = (char *)c->query_id;
	ch.query_hash.data = (uint8_t *)qh;
	ch.query_hash.len = 32;
	ch.node = (char *)node_names[c->node];
	mc.month = (char *)"2026-01";
	mc.rho_nano = NANO(c->rho);
	mc.cumulative_rho_nano = NANO(c->cum);
	ch.n_months = 1;
	ch.months = mcs;
	ch.attempt = c->attempt;
	ch.budget_rho_per_month_nano = NANO(c->budget);
	ch.noise_variance = c->sigma2;
	ch.cells = 11;
	assert_int_equal(proto_pack(&ch.base, PROTO_MAX_SMALL, &body, &blen),
	    CAIRN_OK);
	assert_int_equal(keys_sign(c->forge ? rogue : nodes[c->node],
	    "charge", body, blen, sig), CAIRN_OK);
	e->type = TLOG_ENTRY_CHARGE;
	e->time = 1767225601;
	e->node_id = str(node_names[c->node]);
	memcpy(e->query_hash, qh, 32);
	e->ncharges = 1;
	e->charges[0].month = 202601;
	e->charges[0].rho_nano = NANO(c->rho);
	e->charges[0].cumulative_nano = NANO(c->logged_cum > 0 ?
	    c->logged_cum : c->cum);
	e->body.p = body;
	e->body.len = blen;
	e->signature.p = sig;
	e->signature.len = 64;
	put(e);
	free(body);
	free(e);
}

static void
add_release(const uint8_t qh[32], size_t np, double variance)
{
	struct tlog_entry *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	e->type = TLOG_ENTRY_RELEASE;
	e->time = 1767225700;
	memcpy(e->query_hash, qh, 32);
	e->nparticipants = np;
	for (size_t i = 0; i < np; i++)
		e->participants[i] = str(node_names[i]);
	memset(e->result_hash, 0x42, 32);
	e->variance = variance;
	put(e);
	free(e);
}

static void
add_refusal(const uint8_t qh[32], int node, const char *logged_reason)
{
	Cairn__V1__Refusal rf = CAIRN__V1__REFUSAL__INIT;
	struct tlog_entry *e = calloc(1, sizeof(*e));
	uint8_t *body, sig[64];
	size_t blen;

	assert_non_null(e);
	rf.query_id = (char *)"q2";
	rf.query_hash.data = (uint8_t *)qh;
	rf.query_hash.len = 32;
	rf.node = (char *)node_names[node];
	rf.reason_code = (char *)"policy";
	rf.reason = (char *)"kind not allowed";
	assert_int_equal(proto_pack(&rf.base, PROTO_MAX_SMALL, &body, &blen),
	    CAIRN_OK);
	assert_int_equal(keys_sign(nodes[node], "refusal", body, blen, sig),
	    CAIRN_OK);
	e->type = TLOG_ENTRY_REFUSAL;
	e->node_id = str(node_names[node]);
	memcpy(e->query_hash, qh, 32);
	e->reason = str(logged_reason);
	e->body.p = body;
	e->body.len = blen;
	e->signature.p = sig;
	e->signature.len = 64;
	put(e);
	free(body);
	free(e);
}

static void
add_failure(const uint8_t qh[32])
{
	struct tlog_entry *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	e->type = TLOG_ENTRY_FAILURE;
	memcpy(e->query_hash, qh, 32);
	e->reason = str("refused by beta");
	put(e);
	free(e);
}

/* A MEMBER entry: member 'm' added or removed, signed by 'signer'. */
static void
add_member(const struct keys_member *m, bool added,
    const struct keys_identity *signer)
{
	struct tlog_member_change c;
	struct tlog_entry *e = calloc(1, sizeof(*e));
	uint8_t *body, sig[64];
	size_t blen;

	assert_non_null(e);
	memset(&c, 0, sizeof(c));
	c.added = added;
	c.m = *m;
	snprintf(c.federation, sizeof(c.federation), "demo");
	assert_int_equal(tlog_member_encode(&c, &body, &blen), CAIRN_OK);
	assert_int_equal(keys_sign(signer, "member", body, blen, sig),
	    CAIRN_OK);
	e->type = TLOG_ENTRY_MEMBER;
	e->time = 1767225500;
	e->body.p = body;
	e->body.len = blen;
	e->signature.p = sig;
	e->signature.len = 64;
	put(e);
	free(body);
	free(e);
}

/* Every member of 'fed' added, as a coordinator's first start logs. */
static void
add_all_members(void)
{
	for (size_t i = 0; i < fed.n; i++)
		add_member(&fed.members[i], true, coord);
}

/* A POLICY entry of node 'node' with 'budget' and 'max_rho'. */
static void
add_policy(int node, double budget, double max_rho)
{
	Cairn__V1__Policy p = CAIRN__V1__POLICY__INIT;
	struct tlog_entry *e = calloc(1, sizeof(*e));
	char *kinds[] = { (char *)"residents" };
	uint8_t *body, sig[64];
	size_t blen;

	assert_non_null(e);
	p.node = (char *)node_names[node];
	p.n_allow_kinds = 1;
	p.allow_kinds = kinds;
	p.budget_rho_per_month_nano = NANO(budget);
	p.max_rho_per_query_nano = NANO(max_rho);
	p.min_participants = 2;
	assert_int_equal(proto_pack(&p.base, PROTO_MAX_SMALL, &body, &blen),
	    CAIRN_OK);
	assert_int_equal(keys_sign(nodes[node], "policy", body, blen, sig),
	    CAIRN_OK);
	e->type = TLOG_ENTRY_POLICY;
	e->time = 1767225550;
	e->node_id = str(node_names[node]);
	e->body.p = body;
	e->body.len = blen;
	e->signature.p = sig;
	e->signature.len = 64;
	put(e);
	free(body);
	free(e);
}

/* ----------------------------------------------------- store and note */

static int
sign_note(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64])
{
	return keys_sign_note(ctx, msg, len, sig);
}

/*
 * Put the log into a fresh tlog store, publish a checkpoint of its first
 * 'upto' entries signed by 'signer' (coord unless a test forges it) and
 * cosigned by the first 'ncosign' nodes, and read the entries back.
 */
struct built {
	char			*note;
	size_t			 note_len;
	struct tlog_bytes	 e[MAXE];
	uint8_t			*own[MAXE];
	size_t			 n;
};

static void
build(struct built *b, size_t upto, const struct keys_identity *signer,
    int ncosign)
{
	struct tlog_store *s;
	struct tlog_signer sg;
	char path[128], *note, line[512];
	size_t len;

	memset(b, 0, sizeof(*b));
	snprintf(path, sizeof(path), "/tmp/cairn-auditv-%d.db", (int)getpid());
	unlink(path);
	assert_int_equal(tlog_store_open(path, TLOG_STORE_CREATE, &s),
	    CAIRN_OK);
	for (size_t i = 0; i < upto; i++)
		assert_int_equal(tlog_store_append(s, L.e[i], L.len[i], NULL),
		    CAIRN_OK);
	memset(&sg, 0, sizeof(sg));
	sg.name = "cairn/demo";
	keys_identity_public(signer, sg.pub);
	sg.sign = sign_note;
	sg.ctx = (void *)signer;
	assert_int_equal(tlog_store_publish(s, "cairn/demo", &sg, 1, &note,
	    &len), CAIRN_OK);
	for (int i = 0; i < ncosign; i++) {
		struct tlog_signer w;
		struct tlog_note *pn;
		char *nn;
		size_t nl;

		memset(&w, 0, sizeof(w));
		w.name = node_names[i];
		keys_identity_public(nodes[i], w.pub);
		w.sign = sign_note;
		w.ctx = nodes[i];
		assert_int_equal(tlog_note_parse(note, len, &pn), CAIRN_OK);
		assert_int_equal(tlog_cosign(pn->text, pn->text_len,
		    1767225800, &w, line, sizeof(line)), CAIRN_OK);
		tlog_note_free(pn);
		assert_int_equal(tlog_note_add_lines(note, len, line,
		    strlen(line), &nn, &nl), CAIRN_OK);
		free(note);
		note = nn;
		len = nl;
	}
	b->note = note;
	b->note_len = len;
	for (size_t i = 0; i < upto; i++) {
		size_t n;

		assert_int_equal(tlog_store_entry(s, i, &b->own[i], &n),
		    CAIRN_OK);
		b->e[i].p = b->own[i];
		b->e[i].len = n;
	}
	b->n = upto;
	tlog_store_close(s);
	unlink(path);
	snprintf(line, sizeof(line), "%s-wal", path);
	unlink(line);
	snprintf(line, sizeof(line), "%s-shm", path);
	unlink(line);
}

static void
built_free(struct built *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->own[i]);
	free(b->note);
}

static void
collect(void *ctx, const char *line)
{
	struct logb *l = ctx;
	size_t n = strlen(l->findings);

	snprintf(l->findings + n, sizeof(l->findings) - n, "%s\n", line);
	l->nfind++;
}

static int
verify_with(struct built *b, const char *state, size_t quorum,
    const struct audit_ledger *ledger, struct audit_verify_report *rep)
{
	struct audit_verify_in in;

	memset(&in, 0, sizeof(in));
	in.fed = &fed;
	in.checkpoint = b->note;
	in.checkpoint_len = b->note_len;
	in.state = state;
	in.state_len = state ? strlen(state) : 0;
	in.quorum = quorum;
	in.entries = b->e;
	in.nentries = b->n;
	in.ledger = ledger;
	in.ledger_node = ledger ? "alpha" : NULL;
	in.finding = collect;
	in.ctx = &L;
	L.findings[0] = '\0';
	L.nfind = 0;
	return audit_verify(&in, rep);
}

/* Build the whole log, verify, expect one finding containing 'want'. */
static void
expect_finding(const char *want)
{
	struct audit_verify_report rep;
	struct built b;

	build(&b, L.n, coord, 0);
	assert_int_equal(verify_with(&b, NULL, 0, NULL, &rep),
	    CAIRN_ERR_CONFLICT);
	if (strstr(L.findings, want) == NULL)
		fail_msg("finding '%s' not in:\n%s", want, L.findings);
	assert_int_equal(L.nfind, rep.findings);
	assert_true(rep.findings >= 1);
	built_free(&b);
}

static struct chg
chg(int node, const char *qid, double rho, double cum, uint64_t s2)
{
	struct chg c;

	memset(&c, 0, sizeof(c));
	c.node = node;
	c.query_id = qid;
	c.rho = rho;
	c.cum = cum;
	c.budget = 1.0;
	c.sigma2 = s2;
	return c;
}

/* A valid log: two released queries, a retry, a refused query. */
static void
valid_log(uint8_t q1[32], uint8_t q2[32])
{
	struct chg c;

	add_query("q1", 2, 0.25, q1);
	c = chg(0, "q1", 0.25, 0.25, 40);
	add_charge(q1, &c);
	c = chg(1, "q1", 0.25, 0.25, 40);
	add_charge(q1, &c);
	add_failure(q1);			/* attempt 0 timed out */
	c = chg(0, "q1", 0.25, 0.25, 40);
	c.attempt = 1;
	add_charge(q1, &c);			/* restatements */
	c = chg(1, "q1", 0.25, 0.25, 40);
	c.attempt = 1;
	add_charge(q1, &c);
	add_release(q1, 2, 80);
	add_query("q2", 3, 0.5, q2);
	add_refusal(q2, 2, "policy: kind not allowed");
	add_failure(q2);
}

static void
test_valid(void **state)
{
	struct audit_verify_report rep;
	uint8_t q1[32], q2[32], q3[32];
	struct built b;
	struct chg c;

	(void)state;
	valid_log(q1, q2);
	add_query("q3", 2, 0.5, q3);
	c = chg(0, "q3", 0.5, 0.75, 9);
	add_charge(q3, &c);
	c = chg(1, "q3", 0.5, 0.75, 7);
	add_charge(q3, &c);
	add_release(q3, 2, 16);
	build(&b, L.n, coord, 2);
	assert_int_equal(verify_with(&b, NULL, 2, NULL, &rep), CAIRN_OK);
	assert_string_equal(L.findings, "");
	assert_true(rep.log_ok);
	assert_int_equal(rep.cp.size, L.n);
	assert_int_equal(rep.cosignatures, 2);
	assert_int_equal(rep.queries, 3);
	assert_int_equal(rep.charges, 6);
	assert_int_equal(rep.restatements, 2);
	assert_int_equal(rep.refusals, 1);
	assert_int_equal(rep.releases, 2);
	assert_int_equal(rep.failures, 2);
	/* Three cosignatures asked, two given. */
	assert_int_equal(verify_with(&b, NULL, 3, NULL, &rep),
	    CAIRN_ERR_CONFLICT);
	assert_non_null(strstr(L.findings, "checkpoint: 2 valid witness "
	    "cosignatures, 3 required"));
	built_free(&b);
}

/*
 * MEMBER and POLICY entries: a log that records its membership and the
 * nodes' policies verifies; a QUERY signed by an analyst who is not a
 * member at that point is a finding even though federation.conf lists it
 * now; a CHARGE over the node's published budget (or ρ per query) is a
 * finding even when the charge declares a larger budget.
 */
static void
test_members_and_policies(void **state)
{
	struct audit_verify_report rep;
	uint8_t q1[32], q2[32];
	struct built b;
	struct chg c;

	(void)state;
	add_all_members();
	add_policy(0, 1.0, 0.5);
	add_policy(1, 1.0, 0.5);
	add_query("q1", 2, 0.25, q1);
	c = chg(0, "q1", 0.25, 0.25, 40);
	add_charge(q1, &c);
	c = chg(1, "q1", 0.25, 0.25, 40);
	add_charge(q1, &c);
	add_release(q1, 2, 80);
	build(&b, L.n, coord, 0);
	assert_int_equal(verify_with(&b, NULL, 0, NULL, &rep), CAIRN_OK);
	assert_string_equal(L.findings, "");
	assert_int_equal(rep.members, fed.n);
	assert_int_equal(rep.policies, 2);
	built_free(&b);

	/* The analyst leaves; a later query of it is a finding. */
	add_member(&members[1], false, coord);
	add_query("q2", 2, 0.25, q2);
	expect_finding("entry 12: QUERY 'q2': analyst 'stats' is not a member "
	    "at this point of the log");
}

static void
test_member_added_later(void **state)
{
	uint8_t q[32];

	(void)state;
	/* Everyone but the analyst; the query comes before its MEMBER. */
	for (size_t i = 0; i < fed.n; i++)
		if (fed.members[i].pub.role != KEYS_ROLE_ANALYST)
			add_member(&fed.members[i], true, coord);
	add_query("q1", 2, 0.25, q);
	add_member(&members[1], true, coord);
	expect_finding("entry 4: QUERY 'q1': analyst 'stats' is not a member "
	    "at this point of the log");
}

static void
test_member_forged_and_unknown_removal(void **state)
{
	(void)state;
	add_all_members();
	add_member(&members[2], true, ana);	/* not the log key */
	expect_finding("entry 5: MEMBER entry: the coordinator's signature "
	    "does not verify");
	teardown(NULL);
	setup(NULL);
	add_member(&members[2], false, coord);	/* never added */
	expect_finding("entry 0: MEMBER: member node/alpha is removed but is "
	    "not a member");
}

static void
test_policy_budget(void **state)
{
	uint8_t q1[32], q2[32];
	struct chg c;

	(void)state;
	add_all_members();
	add_policy(0, 0.5, 0.5);		/* alpha: 0.5 per month */
	add_query("q1", 2, 0.25, q1);
	c = chg(0, "q1", 0.25, 0.25, 40);
	add_charge(q1, &c);
	add_query("q2", 2, 0.5, q2);
	c = chg(0, "q2", 0.5, 0.75, 40);	/* declares budget 1 */
	add_charge(q2, &c);
	expect_finding("entry 9: CHARGE of 'alpha' for 2026-01: cumulative "
	    "0.75 exceeds the budget 0.5 of its POLICY entry 5");
	teardown(NULL);
	setup(NULL);
	add_all_members();
	add_policy(0, 1.0, 0.25);
	add_query("q1", 2, 0.5, q1);
	c = chg(0, "q1", 0.5, 0.5, 40);
	add_charge(q1, &c);
	expect_finding("entry 7: CHARGE of 'alpha' for 2026-01: rho 0.5 "
	    "exceeds max_rho_per_query 0.25 of its POLICY entry 5");
}

static void
test_policy_signature(void **state)
{
	struct tlog_entry *e = calloc(1, sizeof(*e));

	(void)state;
	assert_non_null(e);
	add_all_members();
	add_policy(0, 1.0, 0.5);
	/* a POLICY whose node_id is beta's but whose signature is alpha's */
	assert_int_equal(tlog_entry_decode(L.e[L.n - 1], L.len[L.n - 1], e),
	    CAIRN_OK);
	e->node_id = str("beta");
	put(e);
	free(e);
	expect_finding("entry 6: POLICY entry of 'beta': the node's signature "
	    "does not verify");
}

static void
test_release_without_query(void **state)
{
	uint8_t q[32];

	(void)state;
	memset(q, 7, 32);
	add_release(q, 2, 80);
	expect_finding("entry 0: RELEASE of query 0707070707070707: no QUERY "
	    "entry before it");
}

static void
test_missing_charge(void **state)
{
	uint8_t q[32];
	struct chg c;

	(void)state;
	add_query("q1", 2, 0.25, q);
	c = chg(0, "q1", 0.25, 0.25, 40);
	add_charge(q, &c);
	add_release(q, 2, 40);
	expect_finding("entry 2: RELEASE of query 'q1': no CHARGE from "
	    "participant 'beta' before it");
}

static void
test_forged_signature(void **state)
{
	uint8_t q[32];
	struct chg c;

	(void)state;
	add_query("q1", 2, 0.25, q);
	c = chg(0, "q1", 0.25, 0.25, 40);
	c.forge = true;
	add_charge(q, &c);
	expect_finding("entry 1: CHARGE of 'alpha': the node's signature does "
	    "not verify over the body");
}

static void
test_typed_field(void **state)
{
	uint8_t q[32];
	struct chg c;

	(void)state;
	add_query("q1", 2, 0.25, q);
	c = chg(0, "q1", 0.25, 0.25, 40);
	c.logged_cum = 0.125;
	add_charge(q, &c);
	expect_finding("entry 1: CHARGE of 'alpha' for 2026-01: logged rho "
	    "0.25 cumulative 0.125, the signed charge says rho 0.25 "
	    "cumulative 0.25");
}

static void
test_cumulative_skips(void **state)
{
	uint8_t q1[32], q2[32];
	struct chg c;

	(void)state;
	add_query("q1", 2, 0.25, q1);
	c = chg(0, "q1", 0.25, 0.25, 40);
	add_charge(q1, &c);
	add_query("q2", 2, 0.25, q2);
	c = chg(0, "q2", 0.25, 0.25, 40);	/* should be 0.5 */
	add_charge(q2, &c);
	expect_finding("entry 3: CHARGE of 'alpha' for 2026-01: cumulative "
	    "0.25 is not the previous 0.25 plus rho 0.25");
}

/* Spend the log does not show (a charge whose attempt failed before it
 * was advertised) raises the next cumulative: not a finding. */
static void
test_cumulative_unlogged_spend(void **state)
{
	struct audit_verify_report rep;
	struct built b;
	uint8_t q1[32], q2[32];
	struct chg c;

	(void)state;
	add_query("q1", 2, 0.25, q1);
	c = chg(0, "q1", 0.25, 0.25, 40);
	add_charge(q1, &c);
	add_query("q2", 2, 0.25, q2);
	c = chg(0, "q2", 0.25, 0.75, 40);	/* 0.25 charged, not logged */
	add_charge(q2, &c);
	build(&b, L.n, coord, 0);
	assert_int_equal(verify_with(&b, NULL, 0, NULL, &rep), CAIRN_OK);
	assert_int_equal(rep.findings, 0);
	built_free(&b);
}

static void
test_over_budget(void **state)
{
	uint8_t q1[32], q2[32];
	struct chg c;

	(void)state;
	add_query("q1", 2, 0.75, q1);
	c = chg(0, "q1", 0.75, 0.75, 40);
	add_charge(q1, &c);
	add_query("q2", 2, 0.5, q2);
	c = chg(0, "q2", 0.5, 1.25, 40);
	add_charge(q2, &c);
	expect_finding("entry 3: CHARGE of 'alpha' for 2026-01: cumulative "
	    "1.25 exceeds the declared budget 1");
}

static void
test_restatement_differs(void **state)
{
	uint8_t q[32];
	struct chg c;

	(void)state;
	add_query("q1", 2, 0.25, q);
	c = chg(0, "q1", 0.25, 0.25, 40);
	add_charge(q, &c);
	c = chg(0, "q1", 0.25, 0.25, 41);	/* new noise on a retry */
	c.attempt = 1;
	add_charge(q, &c);
	expect_finding("entry 2: CHARGE of 'alpha' for query ");
	assert_non_null(strstr(L.findings, "restates entry 1 with different "
	    "fields"));
}

static void
test_wrong_variance(void **state)
{
	uint8_t q[32];
	struct chg c;

	(void)state;
	add_query("q1", 2, 0.25, q);
	c = chg(0, "q1", 0.25, 0.25, 40);
	add_charge(q, &c);
	c = chg(1, "q1", 0.25, 0.25, 30);
	add_charge(q, &c);
	add_release(q, 2, 80);
	expect_finding("entry 3: RELEASE of query 'q1': variance 80 is not "
	    "the sum 70 of the participants' sigma_h^2");
}

/*
 * Residents at rho 0.25, n 2, c 1: delta2^2 1, sigma^2 2, sigma_h^2
 * max(4, 2 / 1) = 4.  A node adding 3 is flagged, the one adding 4 not,
 * and the release of their sum is consistent.
 */
static void
test_noise_too_small(void **state)
{
	uint8_t q[32];
	struct chg c;

	(void)state;
	add_query("q1", 2, 0.25, q);
	c = chg(0, "q1", 0.25, 0.25, 3);
	add_charge(q, &c);
	c = chg(1, "q1", 0.25, 0.25, 4);
	add_charge(q, &c);
	add_release(q, 2, 7);
	expect_finding("entry 1: CHARGE of 'alpha' for query 'q1': "
	    "noise_variance 3 is below the required sigma_h^2 4 (largest "
	    "delta_m^2 1, rho 0.25, n 2, c 1, 10 cells)");
	assert_int_equal(L.nfind, 1);
	assert_null(strstr(L.findings, "'beta'"));
}

/*
 * Presence with k 2 over 3 days of January (end exclusive), h 1, rho 0.1,
 * n 3, c 1, 10 cells (docs/privacy.md): delta_m^2 = k B = 6; the 2 honest
 * nodes cost x = ceil(18 * 1 * 10 / 10^9) = 1 nano-rho, so sigma^2 =
 * ceil(6 10^9 / (2 (10^8 - 1))) = 31, sigma_h^2 = ceil(31 / 2) = 16 and
 * the month pays ceil(6 10^9 / 62) + 1 = 96774195 nano-rho.  Every node
 * at 16 passes; 15 (below by one) is flagged, and so is a
 * charge of the query's 0.1 instead of its rho_m.
 */
static void
test_noise_floor_presence(void **state)
{
	struct audit_verify_report rep;
	uint8_t q[32];
	struct built b;
	struct chg c;
	const double rm = 0.096774195;

	(void)state;
	q_spec = "{\"kind\": \"presence\", \"start\": \"2026-01-05\", "
	    "\"end\": \"2026-01-08\", \"k\": 2, \"bucket\": \"day\"}";
	add_query("qp", 3, 0.1, q);
	for (int i = 0; i < 3; i++) {
		c = chg(i, "qp", rm, rm, 16);
		add_charge(q, &c);
	}
	add_release(q, 3, 48);
	build(&b, L.n, coord, 0);
	assert_int_equal(verify_with(&b, NULL, 0, NULL, &rep), CAIRN_OK);
	assert_string_equal(L.findings, "");
	assert_int_equal(rep.findings, 0);
	built_free(&b);

	for (; L.n > 3; L.n--)		/* drop gamma's charge, the release */
		free(L.e[L.n - 1]);
	c = chg(2, "qp", 0.1, 0.1, 15);
	add_charge(q, &c);
	add_release(q, 3, 47);
	expect_finding("entry 3: CHARGE of 'gamma' for query 'qp': month "
	    "202601: rho 0.1 is not the 0.096774195 the query charges it");
	assert_non_null(strstr(L.findings, "entry 3: CHARGE of 'gamma' for "
	    "query 'qp': noise_variance 15 is below the required sigma_h^2 16 "
	    "(largest delta_m^2 6, rho 0.1, n 3, c 1, 10 cells)"));
	assert_int_equal(L.nfind, 2);
}

/*
 * A rho so small that sigma^2 passes DP_SIGMA2_PLAN_MAX admits no noise:
 * a charge for it is flagged with the reason.  ρ is at least 1 nano-ρ, so
 * that takes a sensitivity above 2.25e6: presence of k = 1000 regions per
 * hour over 100 days (2.4e6 cells).
 */
static void
test_noise_underivable(void **state)
{
	uint8_t q[32];
	struct chg c;

	(void)state;
	/* One nano-rho for three nodes of which one may collude: the
	   distributed-noise term (KLS21) alone takes it all, so no sigma2
	   follows (dp_requirement). */
	add_query("q1", 3, 1e-9, q);
	c = chg(0, "q1", 1e-9, 1e-9, 4);
	add_charge(q, &c);
	expect_finding("entry 1: CHARGE of 'alpha' for query 'q1': the query "
	    "admits no noise to check it against: ");
}

static void
test_participants(void **state)
{
	uint8_t q[32];
	struct chg c;

	(void)state;
	add_query("q1", 3, 0.25, q);
	for (int i = 0; i < 3; i++) {
		c = chg(i, "q1", 0.25, 0.25, 4);
		add_charge(q, &c);
	}
	add_release(q, 2, 8);
	expect_finding("entry 4: RELEASE of query 'q1': names 2 participants, "
	    "the query has 3 (missing 'gamma')");
}

static void
test_stale_attempt_and_strangers(void **state)
{
	uint8_t q[32];
	struct chg c;

	(void)state;
	add_query("q1", 2, 0.25, q);
	c = chg(0, "q1", 0.25, 0.25, 4);
	c.attempt = 1;
	add_charge(q, &c);
	c = chg(1, "q1", 0.25, 0.25, 4);
	add_charge(q, &c);
	c = chg(2, "q1", 0.25, 0.25, 4);	/* gamma is not in P */
	add_charge(q, &c);
	add_release(q, 2, 8);
	expect_finding("entry 4: RELEASE of query 'q1': participant 'beta' "
	    "charged attempt 0 only, the current attempt is 1");
	assert_non_null(strstr(L.findings, "entry 3: CHARGE of 'gamma' for "
	    "query 'q1': not a participant"));
}

static void
test_refusal_reason(void **state)
{
	uint8_t q[32];

	(void)state;
	add_query("q2", 3, 0.5, q);
	add_refusal(q, 2, "budget: exhausted");
	expect_finding("entry 1: REFUSAL of 'gamma': the logged reason differs "
	    "from the signed refusal's");
}

static void
test_undecodable(void **state)
{
	uint8_t q[32];

	(void)state;
	add_query("q1", 2, 0.25, q);
	L.e[L.n] = malloc(3);
	memcpy(L.e[L.n], "\x09\x01\x00", 3);
	L.len[L.n++] = 3;
	expect_finding("entry 1: does not decode");
}

static void
test_query_entries(void **state)
{
	uint8_t q1[32], q2[32], q3[32], qx[32];
	struct chg c;

	(void)state;
	q_signer = rogue;		/* not the analyst's key */
	add_query("q1", 2, 0.25, q1);
	q_signer = NULL;
	q_fed = "other";
	add_query("q2", 2, 0.25, q2);
	q_fed = "demo";
	add_query("q3", 2, 0.25, q3);
	add_query("q3", 2, 0.25, q3);	/* the same bytes again */
	memset(qx, 0x33, 32);
	c = chg(0, "qx", 0.25, 0.25, 4);
	add_charge(qx, &c);
	add_failure(qx);
	c = chg(0, "q3", 0.5, 0.75, 4);	/* not the query's rho */
	add_charge(q3, &c);
	expect_finding("entry 0: QUERY 'q1': the analyst's signature does not "
	    "verify");
	assert_non_null(strstr(L.findings, "entry 1: QUERY 'q2': federation "
	    "'other' is not 'demo'"));
	assert_non_null(strstr(L.findings, "entry 3: QUERY 'q3' ("));
	assert_non_null(strstr(L.findings, ") is logged twice"));
	assert_non_null(strstr(L.findings, "entry 4: CHARGE of 'alpha' for "
	    "query 3333333333333333: no QUERY entry before it"));
	assert_non_null(strstr(L.findings, "entry 5: FAILURE of query "
	    "3333333333333333: no QUERY entry before it"));
	assert_non_null(strstr(L.findings, "entry 6: CHARGE of 'alpha' for "
	    "query 'q3': month 202601: rho 0.5 is not the 0.25 the query "
	    "charges it"));
	assert_int_equal(L.nfind, 6);
}

static void
test_release_twice_and_unknown_node(void **state)
{
	uint8_t q[32];
	struct chg c;
	struct tlog_entry *e;

	(void)state;
	add_query("q1", 2, 0.25, q);
	c = chg(0, "q1", 0.25, 0.25, 4);
	add_charge(q, &c);
	c = chg(1, "q1", 0.25, 0.25, 4);
	add_charge(q, &c);
	add_release(q, 2, 8);
	add_release(q, 2, 8);
	/* A refusal by a name federation.conf does not list. */
	e = calloc(1, sizeof(*e));
	assert_non_null(e);
	e->type = TLOG_ENTRY_REFUSAL;
	e->node_id = str("mallory");
	memcpy(e->query_hash, q, 32);
	e->reason = str("x");
	e->signature = str("01234567890123456789012345678901"
	    "23456789012345678901234567890123");
	put(e);
	free(e);
	expect_finding("entry 4: RELEASE of query 'q1': released twice");
	assert_non_null(strstr(L.findings, "entry 5: REFUSAL of 'mallory': no "
	    "such node in federation.conf"));
	assert_int_equal(L.nfind, 2);
}

/*
 * Hostile entries: every single-byte change and truncation of a valid
 * log is found (the root no longer matches) and never crashes the rule
 * checks, which still run over the changed bytes.
 */
static void
test_mutations(void **state)
{
	static const uint8_t seed[randombytes_SEEDBYTES] = { 7 };
	struct audit_verify_report rep;
	uint8_t q1[32], q2[32], rnd[3 * 400], *save;
	struct built b;

	(void)state;
	valid_log(q1, q2);
	build(&b, L.n, coord, 0);
	randombytes_buf_deterministic(rnd, sizeof(rnd), seed);
	for (size_t i = 0; i < 400; i++) {
		size_t k = rnd[3 * i] % b.n, len = b.e[k].len;
		size_t off = ((size_t)rnd[3 * i + 1] << 8 | rnd[3 * i + 2]) %
		    len;
		struct tlog_bytes orig = b.e[k];

		if ((save = malloc(len)) == NULL)
			fail();
		memcpy(save, orig.p, len);
		if (i % 2 == 0)
			save[off] ^= (uint8_t)(1u << (i % 8));
		b.e[k].p = save;
		b.e[k].len = i % 2 == 0 ? len : off;
		assert_int_equal(verify_with(&b, NULL, 0, NULL, &rep),
		    CAIRN_ERR_CONFLICT);
		assert_false(rep.log_ok);
		assert_non_null(strstr(L.findings, "entries: they do not hash "
		    "to the checkpoint's root"));
		b.e[k] = orig;
		free(save);
	}
	built_free(&b);
}

static void
test_bad_checkpoint(void **state)
{
	struct audit_verify_report rep;
	uint8_t q1[32], q2[32];
	struct built b;

	(void)state;
	valid_log(q1, q2);
	build(&b, L.n, ana, 0);		/* signed by the wrong key */
	assert_int_equal(verify_with(&b, NULL, 0, NULL, &rep),
	    CAIRN_ERR_CONFLICT);
	assert_non_null(strstr(L.findings, "checkpoint: does not verify with "
	    "the log key 'cairn/demo'"));
	assert_false(rep.log_ok);
	built_free(&b);

	/* Entries that are not what the checkpoint covers. */
	build(&b, L.n, coord, 0);
	b.n--;
	assert_int_equal(verify_with(&b, NULL, 0, NULL, &rep),
	    CAIRN_ERR_CONFLICT);
	assert_non_null(strstr(L.findings, "entries: 9 given, the checkpoint "
	    "covers 10"));
	b.n++;
	b.e[3] = b.e[4];
	assert_int_equal(verify_with(&b, NULL, 0, NULL, &rep),
	    CAIRN_ERR_CONFLICT);
	assert_non_null(strstr(L.findings, "entries: they do not hash to the "
	    "checkpoint's root"));
	assert_false(rep.log_ok);
	built_free(&b);
}

static void
test_state(void **state)
{
	struct audit_verify_report rep;
	uint8_t q1[32], q2[32], q3[32];
	struct built old, cur, fork;
	struct chg c;

	(void)state;
	valid_log(q1, q2);
	build(&old, 5, coord, 0);
	build(&cur, L.n, coord, 0);
	/* Consistent: the first 5 entries hash to the kept root. */
	assert_int_equal(verify_with(&cur, old.note, 0, NULL, &rep),
	    CAIRN_OK);
	assert_true(rep.log_ok);
	/* The same state as now is consistent too. */
	assert_int_equal(verify_with(&cur, cur.note, 0, NULL, &rep),
	    CAIRN_OK);
	/* A log that shrank. */
	assert_int_equal(verify_with(&old, cur.note, 0, NULL, &rep),
	    CAIRN_ERR_CONFLICT);
	assert_non_null(strstr(L.findings, "checkpoint is not consistent with "
	    "the state: the log shrank from 10 to 5 entries"));
	assert_false(rep.log_ok);

	/* A fork: entry 2 differs under the same size. */
	free(L.e[2]);
	L.n = 2;
	add_query("q9", 2, 0.1, q3);
	L.n = 10;
	build(&fork, L.n, coord, 0);
	assert_int_equal(verify_with(&fork, old.note, 0, NULL, &rep),
	    CAIRN_ERR_CONFLICT);
	assert_non_null(strstr(L.findings, "checkpoint is not consistent with "
	    "the state: the first 5 entries do not hash to the kept "
	    "checkpoint's root"));
	assert_false(rep.log_ok);
	/* A state file signed by someone else. */
	built_free(&old);
	build(&old, 5, ana, 0);
	assert_int_equal(verify_with(&cur, old.note, 0, NULL, &rep),
	    CAIRN_ERR_CONFLICT);
	assert_non_null(strstr(L.findings, "state: does not verify with the "
	    "log key"));
	built_free(&old);
	built_free(&cur);
	built_free(&fork);
	(void)c;
}

/* ------------------------------------------------------------- ledger */

static void
ledger_line(char *buf, size_t cap, int64_t id, const char *qid,
    const uint8_t qh[32], double rho, double cum, const char *index)
{
	char hex[65];

	/* The format of `cairn-node ledger export` (docs/node.md). */
	sodium_bin2hex(hex, sizeof(hex), qh, 32);
	snprintf(buf + strlen(buf), cap - strlen(buf), "{\"node\": \"alpha\", "
	    "\"id\": %lld, \"query_id\": \"%s\", \"query_hash\": \"%s\", "
	    "\"participants_hash\": \"%s\", \"created\": "
	    "\"2026-01-01T00:00:01Z\", \"months\": [{\"month\": \"2026-01\", "
	    "\"rho\": %.17g, \"cumulative_rho\": %.17g}], \"rho\": %.17g, "
	    "\"rho_nano\": 1, \"budget_rho_per_month\": 1, "
	    "\"noise_variance\": %d, \"log_index\": %s, \"open\": false, "
	    "\"label\": \"residents stats: test\"}\n", (long long)id, qid, hex,
	    hex, rho, cum, rho, strcmp(qid, "q3") == 0 ? 9 : 40, index);
}

static void
test_ledger(void **state)
{
	struct audit_verify_report rep;
	struct audit_ledger led;
	uint8_t q1[32], q2[32], q3[32], qx[32];
	struct built b;
	struct chg c;
	char text[4096];

	(void)state;
	valid_log(q1, q2);
	add_query("q3", 2, 0.5, q3);
	c = chg(0, "q3", 0.5, 0.75, 9);
	add_charge(q3, &c);
	build(&b, L.n, coord, 0);

	/* alpha's ledger: q1 at entry 1, q3 not yet indexed. */
	text[0] = '\0';
	ledger_line(text, sizeof(text), 1, "q1", q1, 0.25, 0.25, "1");
	ledger_line(text, sizeof(text), 2, "q3", q3, 0.5, 0.75, "null");
	assert_int_equal(audit_ledger_parse(text, strlen(text), "l.jsonl",
	    &led), CAIRN_OK);
	assert_int_equal(led.n, 2);
	assert_int_equal(verify_with(&b, NULL, 0, &led, &rep), CAIRN_OK);
	assert_int_equal(rep.ledger_charges, 2);
	audit_ledger_free(&led);

	/* A ledger charge the log lacks, and a log charge the ledger lacks. */
	memset(qx, 0x5a, 32);
	text[0] = '\0';
	ledger_line(text, sizeof(text), 1, "q1", q1, 0.25, 0.25, "1");
	ledger_line(text, sizeof(text), 7, "qx", qx, 0.5, 0.75, "null");
	assert_int_equal(audit_ledger_parse(text, strlen(text), "l.jsonl",
	    &led), CAIRN_OK);
	assert_int_equal(verify_with(&b, NULL, 0, &led, &rep),
	    CAIRN_ERR_CONFLICT);
	assert_non_null(strstr(L.findings, "ledger line 2: charge 7 (query "
	    "'qx', 5a5a5a5a5a5a5a5a) is missing from the log"));
	assert_non_null(strstr(L.findings, "log entry 11: CHARGE of 'alpha' "
	    "for query 'q3' is missing from the ledger"));
	audit_ledger_free(&led);

	/* Recorded at the wrong index, and with other fields. */
	text[0] = '\0';
	ledger_line(text, sizeof(text), 1, "q1", q1, 0.25, 0.25, "2");
	ledger_line(text, sizeof(text), 2, "q3", q3, 0.5, 0.5, "11");
	assert_int_equal(audit_ledger_parse(text, strlen(text), "l.jsonl",
	    &led), CAIRN_OK);
	assert_int_equal(verify_with(&b, NULL, 0, &led, &rep),
	    CAIRN_ERR_CONFLICT);
	assert_non_null(strstr(L.findings, "ledger line 1: charge 1: log "
	    "entry 2 is not a CHARGE of 'alpha'"));
	assert_non_null(strstr(L.findings, "ledger line 2: charge 2: log "
	    "entry 11 has different fields"));
	audit_ledger_free(&led);

	/* Another node's export, and another noise variance. */
	text[0] = '\0';
	ledger_line(text, sizeof(text), 1, "q1", q1, 0.25, 0.25, "1");
	memcpy(strstr(text, "alpha"), "gamma", 5);
	ledger_line(text, sizeof(text), 2, "q3", q3, 0.5, 0.75, "11");
	memcpy(strstr(text, "\"noise_variance\": 9"), "\"noise_variance\": 8",
	    19);
	assert_int_equal(audit_ledger_parse(text, strlen(text), "l.jsonl",
	    &led), CAIRN_OK);
	assert_int_equal(verify_with(&b, NULL, 0, &led, &rep),
	    CAIRN_ERR_CONFLICT);
	assert_non_null(strstr(L.findings, "ledger line 1: charge 1 is of node "
	    "'gamma', not 'alpha'"));
	assert_non_null(strstr(L.findings, "ledger line 2: charge 2: budget or "
	    "noise variance differs from the signed charge of log entry 11"));
	audit_ledger_free(&led);
	built_free(&b);
}

static void
test_ledger_parse_errors(void **state)
{
	static const struct { const char *text, *want; } bad[] = {
		{ "{\"id\": 1}\n", "l:1: missing field 'log_index'" },
		{ "\n{\"id\": 1, \"log_index\": 2, \"created\": 3, "
		  "\"query_id\": \"q\", \"query_hash\": \"zz\"}",
		  "l:2: field 'query_hash' is not 64 hex digits" },
		{ "[1]", "l:1: not a JSON object" },
		{ "{\"id\": 1, \"log_index\": 2, \"created\": 3, \"query_id\": "
		  "\"q\", \"query_hash\": \"" "0000000000000000000000000000000"
		  "000000000000000000000000000000000\", "
		  "\"months\": [{\"month\": "
		  "\"2026-13\", \"rho\": 1, \"cumulative\": 1}]}",
		  "l:1: field 'months': entry 1 has no month 'YYYY-MM'" },
		{ "{oops", "l:1: " },
		/* rho must be exactly a whole number of nano-rho. */
		{ "{\"id\": 1, \"log_index\": 2, \"created\": 3, \"query_id\": "
		  "\"q\", \"query_hash\": \"" "0000000000000000000000000000000"
		  "000000000000000000000000000000000\", "
		  "\"months\": [{\"month\": "
		  "\"2026-01\", \"rho\": 0.1234567891, \"cumulative\": 1}]}",
		  "l:1: field 'rho': 0.12345678910000001 is not a valid rho: "
		  "more than 9 decimals" },
		{ "{\"id\": 1, \"log_index\": 2, \"created\": 3, \"query_id\": "
		  "\"q\", \"query_hash\": \"" "0000000000000000000000000000000"
		  "000000000000000000000000000000000\", "
		  "\"months\": [{\"month\": "
		  "\"2026-01\", \"rho\": 0.5, \"rho_nano\": 0, "
		  "\"cumulative\": 1}]}",
		  "l:1: field 'rho_nano' is not a count of nano-rho above 0" },
		{ "{\"id\": 1, \"log_index\": 2, \"created\": 3, \"query_id\": "
		  "\"q\", \"query_hash\": \"" "0000000000000000000000000000000"
		  "000000000000000000000000000000000\", "
		  "\"budget_rho_per_month\": 1e-10, "
		  "\"months\": [{\"month\": "
		  "\"2026-01\", \"rho\": 0.5, \"cumulative\": 1}]}",
		  "l:1: field 'budget_rho_per_month': 1e-10 is not a valid "
		  "rho: below 1 nano-rho" },
	};
	struct audit_ledger led;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_not_equal(audit_ledger_parse(bad[i].text,
		    strlen(bad[i].text), "l", &led), CAIRN_OK);
		if (strstr(cairn_errmsg(), bad[i].want) == NULL)
			fail_msg("case %zu: '%s' lacks '%s'", i, cairn_errmsg(),
			    bad[i].want);
	}
}

/* Every prefix of a valid ledger line parses or fails cleanly. */
static void
test_ledger_truncations(void **state)
{
	struct audit_ledger led;
	uint8_t qh[32];
	char text[2048];
	size_t n;

	(void)state;
	memset(qh, 1, 32);
	text[0] = '\0';
	ledger_line(text, sizeof(text), 1, "q1", qh, 0.25, 0.25, "1");
	n = strlen(text);
	for (size_t len = 0; len < n; len++) {
		int r = audit_ledger_parse(text, len, "l", &led);

		if (r == CAIRN_OK) {
			/* Nothing, or the whole object without its newline. */
			assert_true(len == 0 || len == n - 1);
			assert_int_equal(led.n, len == 0 ? 0 : 1);
			audit_ledger_free(&led);
		} else if (len > 0)
			assert_non_null(strstr(cairn_errmsg(), "l:1:"));
	}
}

static void
test_state_write(void **state)
{
	char path[128], *back;
	size_t len;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/cairn-auditv-state-%d",
	    (int)getpid());
	assert_int_equal(audit_state_write(path, "first\n", 6), CAIRN_OK);
	assert_int_equal(audit_state_write(path, "second\n", 7), CAIRN_OK);
	assert_int_equal(file_read_capped(path, 100, &back, &len), CAIRN_OK);
	assert_string_equal(back, "second\n");
	free(back);
	unlink(path);
	assert_int_equal(audit_state_write("/nonexistent-dir/x", "a", 1),
	    CAIRN_ERR_IO);
}

static void
test_no_coordinator(void **state)
{
	struct keys_federation f2 = fed;
	struct audit_verify_in in;

	(void)state;
	f2.members = members + 1;
	f2.n = fed.n - 1;
	memset(&in, 0, sizeof(in));
	in.fed = &f2;
	in.checkpoint = "x";
	in.checkpoint_len = 1;
	assert_int_equal(audit_verify(&in, NULL), CAIRN_ERR_CONFIG);
	in.fed = NULL;
	assert_int_equal(audit_verify(&in, NULL), CAIRN_ERR_ARG);
}


/*
 * Many queries, entries taken straight from memory with a checkpoint
 * signed over the frontier's root: the tables grow past their first
 * size.  CAIRN_AUDIT_BENCH=N runs N queries and prints the time.
 */
static void
test_many(void **state)
{
	struct audit_verify_report rep;
	struct tlog_frontier fr;
	struct tlog_checkpoint cp;
	struct tlog_signer sg;
	struct built b;
	struct timespec t0, t1;
	const char *env = getenv("CAIRN_AUDIT_BENCH");
	size_t nq = env != NULL ? (size_t)strtoul(env, NULL, 10) : 300;
	char text[512], qname[32];
	size_t tl;

	(void)state;
	if (nq * 4 > MAXE)
		nq = MAXE / 4;
	for (size_t i = 0; i < nq; i++) {
		uint8_t q[32];
		struct chg c;

		snprintf(qname, sizeof(qname), "q%zu", i);
		add_query(qname, 2, 0.0001, q);
		c = chg(0, qname, 0.0001, 0.0001 * (double)(i + 1), 5000);
		c.query_id = qname;
		add_charge(q, &c);
		c.node = 1;
		add_charge(q, &c);
		add_release(q, 2, 10000);
	}
	memset(&b, 0, sizeof(b));
	tlog_frontier_init(&fr);
	for (size_t i = 0; i < L.n; i++) {
		uint8_t leaf[32];

		b.e[i].p = L.e[i];
		b.e[i].len = L.len[i];
		tlog_leaf_hash(L.e[i], L.len[i], leaf);
		assert_int_equal(tlog_frontier_append(&fr, leaf, NULL, NULL),
		    CAIRN_OK);
	}
	b.n = L.n;
	memset(&cp, 0, sizeof(cp));
	strcpy(cp.origin, "cairn/demo");
	cp.size = fr.size;
	tlog_frontier_root(&fr, cp.root);
	assert_int_equal(tlog_checkpoint_format(&cp, text, sizeof(text), &tl),
	    CAIRN_OK);
	memset(&sg, 0, sizeof(sg));
	sg.name = "cairn/demo";
	keys_identity_public(coord, sg.pub);
	sg.sign = sign_note;
	sg.ctx = coord;
	assert_int_equal(tlog_note_sign(text, tl, &sg, 1, &b.note,
	    &b.note_len), CAIRN_OK);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(verify_with(&b, NULL, 0, NULL, &rep), CAIRN_OK);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(rep.queries, nq);
	assert_int_equal(rep.charges, 2 * nq);
	assert_int_equal(rep.releases, nq);
	if (env != NULL)
		printf("audit_verify: %zu entries in %.3f s\n", L.n,
		    (double)(t1.tv_sec - t0.tv_sec) +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	free(b.note);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_valid),
		T(test_members_and_policies),
		T(test_member_added_later),
		T(test_member_forged_and_unknown_removal),
		T(test_policy_budget),
		T(test_policy_signature),
		T(test_release_without_query),
		T(test_missing_charge),
		T(test_forged_signature),
		T(test_typed_field),
		T(test_cumulative_skips),
		T(test_cumulative_unlogged_spend),
		T(test_over_budget),
		T(test_restatement_differs),
		T(test_wrong_variance),
		T(test_noise_too_small),
		T(test_noise_floor_presence),
		T(test_noise_underivable),
		T(test_participants),
		T(test_stale_attempt_and_strangers),
		T(test_refusal_reason),
		T(test_undecodable),
		T(test_query_entries),
		T(test_release_twice_and_unknown_node),
		T(test_bad_checkpoint),
		T(test_state),
		T(test_ledger),
		T(test_ledger_parse_errors),
		T(test_mutations),
		T(test_ledger_truncations),
		T(test_state_write),
		T(test_no_coordinator),
		T(test_many),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
