/*
 * verify_entry.c - the rules of docs/federation.md §5 entry by entry, for
 * audit_verify() (verify.c): a QUERY is signed by an allowed analyst and
 * accounted as the privacy module would (dp_requirement); a CHARGE is
 * signed by a participant, names the month's rho and keeps each
 * (node, data-month) within the node's budget; a REFUSAL, RELEASE or
 * FAILURE follows its query; MEMBER and POLICY entries are replayed so
 * later entries are checked against the membership and policy in force
 * at their point of the log.  A rule that fails is a finding.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit/audit.h"
#include "audit/audit_int.h"
#include "common/err.h"
#include "common/rho.h"
#include "keys/keys.h"
#include "privacy/dp.h"
#include "protocol/cairn.pb-c.h"
#include "protocol/proto_service.h"
#include "protocol/qspec.h"
#include "protocol/tlog_member.h"

/* ------------------------------------------------------------ helpers */

static bool
bytes_eq_str(struct tlog_bytes b, const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	return b.len == n && (n == 0 || memcmp(b.p, s, n) == 0);
}

/* "YYYY-MM" -> YYYYMM; 0 when malformed. */
static uint32_t
month_parse(const char *s)
{
	unsigned y = 0, m;

	if (s == NULL || strlen(s) != 7 || s[4] != '-')
		return 0;
	for (int i = 0; i < 7; i++) {
		if (i == 4)
			continue;
		if (s[i] < '0' || s[i] > '9')
			return 0;
	}
	for (int i = 0; i < 4; i++)
		y = y * 10 + (unsigned)(s[i] - '0');
	m = (unsigned)(s[5] - '0') * 10 + (unsigned)(s[6] - '0');
	if (m < 1 || m > 12 || y == 0)
		return 0;
	return y * 100 + m;
}

static void
month_fmt(uint32_t m, char buf[16])
{
	snprintf(buf, 16, "%04u-%02u", (unsigned)(m / 100),
	    (unsigned)(m % 100));
}

static size_t
month_key(uint8_t *k, const char *node, uint32_t month)
{
	size_t n = strlen(node);

	memcpy(k, node, n);
	k[n] = 0;
	k[n + 1] = (uint8_t)(month >> 24);
	k[n + 2] = (uint8_t)(month >> 16);
	k[n + 3] = (uint8_t)(month >> 8);
	k[n + 4] = (uint8_t)month;
	return n + 5;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ------------------------------------------------------------ entries */

/*
 * The member 'role'/'name' in force at this point of the log: from the
 * MEMBER entries replayed so far once there is one, else federation.conf.
 */
static const struct keys_member *
member_at(const struct vctx *v, enum keys_role role, const char *name)
{
	if (v->have_members)
		return tlog_roster_find(&v->roster, role, name);
	return keys_federation_find(v->in->fed, role, name);
}

static const char *
member_source(const struct vctx *v)
{
	return v->have_members ? "a member at this point of the log" :
	    "in federation.conf";
}

/* The newest published policy of 'node', or NULL. */
static struct vpolicy *
policy_of(struct vctx *v, const char *node)
{
	for (size_t i = 0; i < v->npols; i++)
		if (strcmp(v->pols[i].node, node) == 0)
			return &v->pols[i];
	return NULL;
}

/* Verify a node's signature over an entry's body; finding on failure. */
static bool
node_sig_ok(struct vctx *v, uint64_t idx, const char *type,
    const struct tlog_entry *e, const char *purpose, char *node)
{
	const struct keys_member *m;

	if (!audit_bytes_name(e->node_id, node)) {
		find(v, "entry %" PRIu64 ": %s: node_id is not a member name",
		    idx, type);
		return false;
	}
	m = member_at(v, KEYS_ROLE_NODE, node);
	if (m == NULL) {
		find(v, "entry %" PRIu64 ": %s of '%s': no such node %s", idx,
		    type, node, v->have_members ? "at this point of the log" :
		    "in federation.conf");
		return false;
	}
	if (e->signature.len != KEYS_SIG_LEN || keys_verify(m->pub.pk,
	    purpose, e->body.p, e->body.len, e->signature.p) != CAIRN_OK) {
		find(v, "entry %" PRIu64 ": %s of '%s': the node's signature "
		    "does not verify over the body", idx, type, node);
		return false;
	}
	return true;
}

/*
 * The signed query as the accountant sees it (docs/privacy.md): its spec
 * with h, and its rho in nano-rho.  What each charge must say follows from
 * these and the charge's cells (charge_need()).  On failure vq->dq_ok
 * stays false and vq->why says why.
 */
static void
query_need(struct vquery *vq)
{
	const Cairn__V1__Query *q = vq->q;
	struct qspec spec;
	int r;

	cairn_err_clear();
	if (q->spec == NULL) {
		snprintf(vq->why, sizeof(vq->why), "it has no spec");
		return;
	}
	if (q->n_participants > UINT32_MAX) {
		snprintf(vq->why, sizeof(vq->why), "too many participants");
		return;
	}
	if ((r = qspec_from_proto(q->spec, "spec", &spec)) != CAIRN_OK ||
	    (r = qspec_dp_query(&spec, q->holders_per_person != 0 ?
	    q->holders_per_person : 1, &vq->dq)) != CAIRN_OK)
		goto fail;
	vq->rho_nano = q->rho_nano;
	vq->dq_ok = true;
	return;
fail:
	snprintf(vq->why, sizeof(vq->why), "%s%s%s", cairn_errdesc(r),
	    *cairn_errmsg() ? ": " : "", cairn_errmsg());
}

/*
 * The requirement of query 'vq' for a charge over a vector of 'cells'
 * cells (the check cell included): each month's rho and sigma_h^2.  On
 * failure 'why' says why.
 */
static bool
charge_need(const struct vquery *vq, uint64_t cells,
    struct dp_requirement *need, char *why, size_t whylen)
{
	int r;

	if (!vq->dq_ok) {
		snprintf(why, whylen, "%s", vq->why);
		return false;
	}
	cairn_err_clear();
	if (cells < 2) {
		snprintf(why, whylen, "the charge is for %" PRIu64 " cells",
		    cells);
		return false;
	}
	if ((r = dp_requirement(&vq->dq, vq->rho_nano,
	    (uint32_t)vq->q->n_participants, vq->q->max_colluding, cells - 1,
	    need)) != CAIRN_OK) {
		snprintf(why, whylen, "%s%s%s", cairn_errdesc(r),
		    *cairn_errmsg() ? ": " : "", cairn_errmsg());
		return false;
	}
	return true;
}

static int
do_query(struct vctx *v, uint64_t idx, const struct tlog_entry *e)
{
	Cairn__V1__SignedQuery *sq = NULL;
	Cairn__V1__Query *q = NULL;
	const struct keys_member *m;
	struct vquery *vq = NULL;
	uint8_t qh[TLOG_HASH_LEN];
	char hb[17];
	int r = CAIRN_OK;

	v->rep->queries++;
	if (proto_unpack(&cairn__v1__signed_query__descriptor, e->body.p,
	    e->body.len, TLOG_ENTRY_MAX_BODY, (ProtobufCMessage **)&sq) !=
	    CAIRN_OK) {
		find(v, "entry %" PRIu64 ": QUERY: the body is not a "
		    "SignedQuery", idx);
		goto out;
	}
	crypto_hash_sha256(qh, sq->query.data, sq->query.len);
	if (proto_unpack(&cairn__v1__query__descriptor, sq->query.data,
	    sq->query.len, TLOG_ENTRY_MAX_BODY, (ProtobufCMessage **)&q) !=
	    CAIRN_OK) {
		find(v, "entry %" PRIu64 ": QUERY %s: the signed bytes are not "
		    "a Query", idx, short_hash(qh, hb));
		goto out;
	}
	m = q->analyst != NULL && q->analyst->name != NULL ?
	    member_at(v, KEYS_ROLE_ANALYST, q->analyst->name) : NULL;
	if (m == NULL)
		find(v, "entry %" PRIu64 ": QUERY '%s': analyst '%s' is not "
		    "%s", idx, q->query_id,
		    q->analyst && q->analyst->name ? q->analyst->name : "",
		    member_source(v));
	else if (sq->signature.len != KEYS_SIG_LEN || keys_verify(m->pub.pk,
	    "query", sq->query.data, sq->query.len, sq->signature.data) !=
	    CAIRN_OK)
		find(v, "entry %" PRIu64 ": QUERY '%s': the analyst's "
		    "signature does not verify", idx, q->query_id);
	if (q->federation == NULL || strcmp(q->federation,
	    v->in->fed->name) != 0)
		find(v, "entry %" PRIu64 ": QUERY '%s': federation '%s' is not "
		    "'%s'", idx, q->query_id, q->federation ? q->federation :
		    "", v->in->fed->name);
	if (audit_ht_get(&v->queries, qh, sizeof(qh)) != NULL) {
		find(v, "entry %" PRIu64 ": QUERY '%s' (%s) is logged twice",
		    idx, q->query_id, short_hash(qh, hb));
		goto out;
	}
	if ((vq = calloc(1, sizeof(*vq))) == NULL ||
	    (vq->sorted = calloc(q->n_participants + 1,
	    sizeof(char *))) == NULL) {
		r = cairn_err(CAIRN_ERR_NOMEM, "audit: query");
		goto out;
	}
	vq->index = idx;
	for (size_t i = 0; i < q->n_participants; i++)
		vq->sorted[i] = q->participants[i];
	qsort(vq->sorted, q->n_participants, sizeof(char *), cmp_str);
	for (size_t i = 1; i < q->n_participants; i++)
		if (strcmp(vq->sorted[i - 1], vq->sorted[i]) == 0)
			find(v, "entry %" PRIu64 ": QUERY '%s' names "
			    "participant '%s' twice", idx, q->query_id,
			    vq->sorted[i]);
	vq->q = q;
	q = NULL;
	query_need(vq);
	if ((r = audit_ht_put(&v->queries, qh, sizeof(qh), vq)) != CAIRN_OK)
		goto out;
	vq = NULL;
out:
	audit_vquery_free(vq);
	if (q != NULL)
		protobuf_c_message_free_unpacked(&q->base, NULL);
	if (sq != NULL)
		protobuf_c_message_free_unpacked(&sq->base, NULL);
	return r;
}

static bool
participant(const struct vquery *vq, const char *node)
{
	for (size_t i = 0; i < vq->q->n_participants; i++)
		if (strcmp(vq->sorted[i], node) == 0)
			return true;
	return false;
}

/* Restatement: equal to the first charge but for the attempt. */
static bool
same_charge(const Cairn__V1__Charge *a, const Cairn__V1__Charge *b)
{
	if (strcmp(a->query_id, b->query_id) != 0 ||
	    a->query_hash.len != b->query_hash.len ||
	    memcmp(a->query_hash.data, b->query_hash.data,
	    a->query_hash.len) != 0 || strcmp(a->node, b->node) != 0 ||
	    a->n_months != b->n_months ||
	    a->budget_rho_per_month_nano != b->budget_rho_per_month_nano ||
	    a->noise_variance != b->noise_variance || a->cells != b->cells)
		return false;
	for (size_t i = 0; i < a->n_months; i++)
		if (strcmp(a->months[i]->month, b->months[i]->month) != 0 ||
		    a->months[i]->rho_nano != b->months[i]->rho_nano ||
		    a->months[i]->cumulative_rho_nano !=
		    b->months[i]->cumulative_rho_nano)
			return false;
	return true;
}

/* The typed fields of a CHARGE entry against its signed Charge. */
static bool
charge_fields_ok(struct vctx *v, uint64_t idx, const struct tlog_entry *e,
    const Cairn__V1__Charge *c, const char *node)
{
	if (strcmp(c->node, node) != 0) {
		find(v, "entry %" PRIu64 ": CHARGE: node_id '%s' differs from "
		    "the signed charge's node '%s'", idx, node, c->node);
		return false;
	}
	if (c->query_hash.len != TLOG_HASH_LEN || memcmp(c->query_hash.data,
	    e->query_hash, TLOG_HASH_LEN) != 0) {
		find(v, "entry %" PRIu64 ": CHARGE of '%s': query_hash differs "
		    "from the signed charge's", idx, node);
		return false;
	}
	if (c->n_months != e->ncharges) {
		find(v, "entry %" PRIu64 ": CHARGE of '%s': %zu data-months "
		    "logged, the signed charge has %zu", idx, node,
		    e->ncharges, c->n_months);
		return false;
	}
	for (size_t i = 0; i < e->ncharges; i++) {
		const Cairn__V1__MonthCharge *mc = c->months[i];
		char mb[16];

		month_fmt(e->charges[i].month, mb);
		if (month_parse(mc->month) != e->charges[i].month) {
			find(v, "entry %" PRIu64 ": CHARGE of '%s': month %zu "
			    "is %s in the log, '%s' in the signed charge", idx,
			    node, i + 1, mb, mc->month);
			return false;
		}
		if (mc->rho_nano != e->charges[i].rho_nano ||
		    mc->cumulative_rho_nano != e->charges[i].cumulative_nano) {
			char t[4][RHO_TEXT_MAX];

			find(v, "entry %" PRIu64 ": CHARGE of '%s' for %s: "
			    "logged rho %s cumulative %s, the signed charge "
			    "says rho %s cumulative %s", idx, node, mb,
			    rho_format(e->charges[i].rho_nano, t[0]),
			    rho_format(e->charges[i].cumulative_nano, t[1]),
			    rho_format(mc->rho_nano, t[2]),
			    rho_format(mc->cumulative_rho_nano, t[3]));
			return false;
		}
	}
	return true;
}

/*
 * Per (node, month): cumulative >= previous + ρ, within the budget.  More
 * than previous + ρ is spend the log does not show: a node that charged
 * for an attempt which failed (another participant refused) before its
 * advertisement arrived; it only lowers what the node may still spend,
 * and `--ledger` names those charges.  Less is an under-count.
 */
static int
charge_budget(struct vctx *v, uint64_t idx, const struct tlog_entry *e,
    const Cairn__V1__Charge *c, const char *node)
{
	uint8_t key[HT_KEY_MAX];
	const struct vpolicy *pol = policy_of(v, node);
	int r;

	for (size_t i = 0; i < e->ncharges; i++) {
		const struct tlog_charge *ch = &e->charges[i];
		size_t kn = month_key(key, node, ch->month);
		struct vmonth *vm = audit_ht_get(&v->months, key, kn);
		uint64_t prev = vm != NULL ? vm->cum : 0;
		char mb[16], t[3][RHO_TEXT_MAX];

		month_fmt(ch->month, mb);
		if (ch->cumulative_nano < prev + ch->rho_nano)
			find(v, "entry %" PRIu64 ": CHARGE of '%s' for %s: "
			    "cumulative %s is not the previous %s plus "
			    "rho %s", idx, node, mb,
			    rho_format(ch->cumulative_nano, t[0]),
			    rho_format(prev, t[1]),
			    rho_format(ch->rho_nano, t[2]));
		if (ch->cumulative_nano > c->budget_rho_per_month_nano)
			find(v, "entry %" PRIu64 ": CHARGE of '%s' for %s: "
			    "cumulative %s exceeds the declared budget %s",
			    idx, node, mb,
			    rho_format(ch->cumulative_nano, t[0]),
			    rho_format(c->budget_rho_per_month_nano, t[1]));
		if (pol != NULL && ch->cumulative_nano >
		    pol->p->budget_rho_per_month_nano)
			find(v, "entry %" PRIu64 ": CHARGE of '%s' for %s: "
			    "cumulative %s exceeds the budget %s of its "
			    "POLICY entry %" PRIu64, idx, node, mb,
			    rho_format(ch->cumulative_nano, t[0]),
			    rho_format(pol->p->budget_rho_per_month_nano,
			    t[1]), pol->index);
		if (pol != NULL && ch->rho_nano >
		    pol->p->max_rho_per_query_nano)
			find(v, "entry %" PRIu64 ": CHARGE of '%s' for %s: "
			    "rho %s exceeds max_rho_per_query %s of its "
			    "POLICY entry %" PRIu64, idx, node, mb,
			    rho_format(ch->rho_nano, t[0]),
			    rho_format(pol->p->max_rho_per_query_nano, t[1]),
			    pol->index);
		if (vm == NULL) {
			if ((vm = calloc(1, sizeof(*vm))) == NULL)
				return cairn_err(CAIRN_ERR_NOMEM, "audit");
			if ((r = audit_ht_put(&v->months, key, kn, vm)) !=
			    CAIRN_OK) {
				free(vm);
				return r;
			}
		}
		vm->cum = ch->cumulative_nano;
	}
	return CAIRN_OK;
}

/*
 * A charge against what its query requires (dp_requirement): the months
 * the query reads, each with its own rho_m, and at least sigma_h^2.
 */
static void
charge_vs_need(struct vctx *v, uint64_t idx, const struct tlog_entry *e,
    const Cairn__V1__Charge *c, const char *node, const struct vquery *vq)
{
	struct dp_requirement need;
	char why[FINDING_MAX / 2];
	uint64_t delta = 0;

	if (!charge_need(vq, c->cells, &need, why, sizeof(why))) {
		find(v, "entry %" PRIu64 ": CHARGE of '%s' for query '%s': "
		    "the query admits no noise to check it against: %s", idx,
		    node, vq->q->query_id, why);
		return;
	}
	if (e->ncharges != need.nmonths)
		find(v, "entry %" PRIu64 ": CHARGE of '%s' for query '%s': "
		    "%zu data-months, the query reads %zu", idx, node,
		    vq->q->query_id, e->ncharges, need.nmonths);
	for (size_t i = 0; i < e->ncharges && i < need.nmonths; i++) {
		uint32_t ym = (uint32_t)(need.month[i] / 12) * 100 +
		    (uint32_t)(need.month[i] % 12) + 1;
		char t[2][RHO_TEXT_MAX];

		if (e->charges[i].month != ym)
			find(v, "entry %" PRIu64 ": CHARGE of '%s' for query "
			    "'%s': month %" PRIu32 " is not the query's %"
			    PRIu32, idx, node, vq->q->query_id,
			    e->charges[i].month, ym);
		else if (e->charges[i].rho_nano != need.rho_nano[i])
			find(v, "entry %" PRIu64 ": CHARGE of '%s' for query "
			    "'%s': month %" PRIu32 ": rho %s is not the %s "
			    "the query charges it", idx, node,
			    vq->q->query_id, ym,
			    rho_format(e->charges[i].rho_nano, t[0]),
			    rho_format(need.rho_nano[i], t[1]));
		if (need.delta2_sq[i] > delta)
			delta = need.delta2_sq[i];
	}
	if (c->noise_variance < need.sigma_h2) {
		char rt[RHO_TEXT_MAX];

		find(v, "entry %" PRIu64 ": CHARGE of '%s' for query '%s': "
		    "noise_variance %" PRIu64 " is below the required "
		    "sigma_h^2 %" PRIu64 " (largest delta_m^2 %" PRIu64 ", "
		    "rho %s, n %zu, c %" PRIu32 ", %" PRIu64 " cells)", idx,
		    node, vq->q->query_id, c->noise_variance, need.sigma_h2,
		    delta, rho_format(vq->q->rho_nano, rt),
		    vq->q->n_participants, vq->q->max_colluding,
		    c->cells - 1);
	}
}

static int
do_charge(struct vctx *v, uint64_t idx, const struct tlog_entry *e)
{
	Cairn__V1__Charge *c = NULL;
	struct vquery *vq;
	struct vcharge *vc;
	char node[KEYS_NAME_MAX + 1], hb[17];
	uint8_t key[HT_KEY_MAX];
	size_t kn;
	int r = CAIRN_OK;

	v->rep->charges++;
	if (!node_sig_ok(v, idx, "CHARGE", e, "charge", node))
		goto out;
	if (proto_unpack(&cairn__v1__charge__descriptor, e->body.p,
	    e->body.len, TLOG_ENTRY_MAX_BODY, (ProtobufCMessage **)&c) !=
	    CAIRN_OK) {
		find(v, "entry %" PRIu64 ": CHARGE of '%s': the body is not a "
		    "Charge", idx, node);
		goto out;
	}
	if (!charge_fields_ok(v, idx, e, c, node))
		goto out;
	vq = audit_ht_get(&v->queries, e->query_hash, TLOG_HASH_LEN);
	if (vq == NULL)
		find(v, "entry %" PRIu64 ": CHARGE of '%s' for query %s: no "
		    "QUERY entry before it", idx, node,
		    short_hash(e->query_hash, hb));
	else {
		if (!participant(vq, node))
			find(v, "entry %" PRIu64 ": CHARGE of '%s' for query "
			    "'%s': not a participant", idx, node,
			    vq->q->query_id);
		if (strcmp(c->query_id, vq->q->query_id) != 0)
			find(v, "entry %" PRIu64 ": CHARGE of '%s': query_id "
			    "'%s' is not the query's '%s'", idx, node,
			    c->query_id, vq->q->query_id);
		charge_vs_need(v, idx, e, c, node, vq);
		if (c->attempt > vq->attempt)
			vq->attempt = c->attempt;
	}
	kn = audit_charge_key(key, node, e->query_hash);
	if ((vc = audit_ht_get(&v->charges, key, kn)) != NULL) {
		v->rep->restatements++;
		if (!same_charge(vc->c, c))
			find(v, "entry %" PRIu64 ": CHARGE of '%s' for query "
			    "%s restates entry %" PRIu64 " with different "
			    "fields", idx, node, short_hash(e->query_hash, hb),
			    vc->index);
		if (c->attempt > vc->attempt)
			vc->attempt = c->attempt;
		goto out;
	}
	if ((r = charge_budget(v, idx, e, c, node)) != CAIRN_OK)
		goto out;
	if ((vc = calloc(1, sizeof(*vc))) == NULL) {
		r = cairn_err(CAIRN_ERR_NOMEM, "audit: charge");
		goto out;
	}
	vc->index = idx;
	vc->c = c;
	vc->attempt = c->attempt;
	if ((r = audit_ht_put(&v->charges, key, kn, vc)) != CAIRN_OK) {
		free(vc);
		goto out;
	}
	c = NULL;
out:
	if (c != NULL)
		protobuf_c_message_free_unpacked(&c->base, NULL);
	return r;
}

static void
do_refusal(struct vctx *v, uint64_t idx, const struct tlog_entry *e)
{
	Cairn__V1__Refusal *rf = NULL;
	char node[KEYS_NAME_MAX + 1], hb[17], both[TLOG_ENTRY_MAX_REASON + 64];

	v->rep->refusals++;
	if (!node_sig_ok(v, idx, "REFUSAL", e, "refusal", node))
		return;
	if (proto_unpack(&cairn__v1__refusal__descriptor, e->body.p,
	    e->body.len, TLOG_ENTRY_MAX_BODY, (ProtobufCMessage **)&rf) !=
	    CAIRN_OK) {
		find(v, "entry %" PRIu64 ": REFUSAL of '%s': the body is not "
		    "a Refusal", idx, node);
		return;
	}
	snprintf(both, sizeof(both), "%s: %s", rf->reason_code, rf->reason);
	if (strcmp(rf->node, node) != 0)
		find(v, "entry %" PRIu64 ": REFUSAL: node_id '%s' differs from "
		    "the signed refusal's node '%s'", idx, node, rf->node);
	else if (rf->query_hash.len != TLOG_HASH_LEN ||
	    memcmp(rf->query_hash.data, e->query_hash, TLOG_HASH_LEN) != 0)
		find(v, "entry %" PRIu64 ": REFUSAL of '%s': query_hash "
		    "differs from the signed refusal's", idx, node);
	else if (!bytes_eq_str(e->reason, rf->reason) &&
	    !bytes_eq_str(e->reason, both))
		find(v, "entry %" PRIu64 ": REFUSAL of '%s': the logged reason "
		    "differs from the signed refusal's", idx, node);
	else if (audit_ht_get(&v->queries, e->query_hash,
	    TLOG_HASH_LEN) == NULL)
		find(v, "entry %" PRIu64 ": REFUSAL of '%s' for query %s: no "
		    "QUERY entry before it", idx, node,
		    short_hash(e->query_hash, hb));
	protobuf_c_message_free_unpacked(&rf->base, NULL);
}

static void
do_release(struct vctx *v, uint64_t idx, const struct tlog_entry *e)
{
	struct vquery *vq;
	uint8_t key[HT_KEY_MAX];
	uint64_t sum = 0;
	bool ok = true;
	char hb[17], node[KEYS_NAME_MAX + 1];
	size_t np;

	v->rep->releases++;
	vq = audit_ht_get(&v->queries, e->query_hash, TLOG_HASH_LEN);
	if (vq == NULL) {
		find(v, "entry %" PRIu64 ": RELEASE of query %s: no QUERY "
		    "entry before it", idx, short_hash(e->query_hash, hb));
		return;
	}
	if (vq->released)
		find(v, "entry %" PRIu64 ": RELEASE of query '%s': released "
		    "twice", idx, vq->q->query_id);
	vq->released = true;
	np = vq->q->n_participants;
	for (size_t i = 0; i < e->nparticipants; i++) {
		if (!audit_bytes_name(e->participants[i], node)) {
			find(v, "entry %" PRIu64 ": RELEASE of query '%s': "
			    "participant %zu is not a member name", idx,
			    vq->q->query_id, i + 1);
			ok = false;
			continue;
		}
		if (i >= np || strcmp(node, vq->sorted[i]) != 0) {
			find(v, "entry %" PRIu64 ": RELEASE of query '%s': "
			    "participant %zu is '%s', the query's sorted "
			    "participant %zu is '%s'", idx, vq->q->query_id,
			    i + 1, node, i + 1, i < np ? vq->sorted[i] :
			    "(none)");
			ok = false;
		}
	}
	if (e->nparticipants < np) {
		find(v, "entry %" PRIu64 ": RELEASE of query '%s': names %zu "
		    "participants, the query has %zu (missing '%s')", idx,
		    vq->q->query_id, e->nparticipants, np,
		    vq->sorted[e->nparticipants]);
		ok = false;
	}
	/* Every participant of the query charged, at the current attempt. */
	for (size_t i = 0; i < np; i++) {
		const char *p = vq->sorted[i];
		struct vcharge *vc;
		size_t kn;

		if (strlen(p) > KEYS_NAME_MAX)
			continue;
		kn = audit_charge_key(key, p, e->query_hash);
		vc = audit_ht_get(&v->charges, key, kn);
		if (vc == NULL) {
			find(v, "entry %" PRIu64 ": RELEASE of query '%s': no "
			    "CHARGE from participant '%s' before it", idx,
			    vq->q->query_id, p);
			ok = false;
			continue;
		}
		if (vc->attempt != vq->attempt) {
			find(v, "entry %" PRIu64 ": RELEASE of query '%s': "
			    "participant '%s' charged attempt %" PRIu32 " "
			    "only, the current attempt is %" PRIu32, idx,
			    vq->q->query_id, p, vc->attempt, vq->attempt);
			ok = false;
		}
		if (sum + vc->c->noise_variance < sum)
			ok = false;
		sum += vc->c->noise_variance;
	}
	if (ok && (double)sum != e->variance)
		find(v, "entry %" PRIu64 ": RELEASE of query '%s': variance "
		    "%.17g is not the sum %" PRIu64 " of the participants' "
		    "sigma_h^2", idx, vq->q->query_id, e->variance, sum);
}

static void
do_failure(struct vctx *v, uint64_t idx, const struct tlog_entry *e)
{
	char hb[17];

	v->rep->failures++;
	if (audit_ht_get(&v->queries, e->query_hash, TLOG_HASH_LEN) == NULL)
		find(v, "entry %" PRIu64 ": FAILURE of query %s: no QUERY "
		    "entry before it", idx, short_hash(e->query_hash, hb));
}

/* A MEMBER entry: signed by the log key; replayed into the roster. */
static int
do_member(struct vctx *v, uint64_t idx, const struct tlog_entry *e)
{
	struct tlog_member_change c;
	int r;

	v->rep->members++;
	if ((r = tlog_member_decode(e, v->log_pk, &c)) != CAIRN_OK) {
		find(v, "entry %" PRIu64 ": %s", idx, cairn_errdesc(r));
		return CAIRN_OK;
	}
	if (strcmp(c.federation, v->in->fed->name) != 0)
		find(v, "entry %" PRIu64 ": MEMBER: federation '%s' is not "
		    "'%s'", idx, c.federation, v->in->fed->name);
	v->have_members = true;
	if ((r = tlog_roster_apply(&v->roster, &c)) == CAIRN_ERR_NOTFOUND)
		find(v, "entry %" PRIu64 ": MEMBER: %s", idx,
		    cairn_errdesc(r));
	else if (r != CAIRN_OK)
		return r;
	return CAIRN_OK;
}

/* A POLICY entry: signed by a member node; the node's policy from now. */
static int
do_policy(struct vctx *v, uint64_t idx, const struct tlog_entry *e)
{
	Cairn__V1__Policy *p = NULL;
	struct vpolicy *vp;
	const struct keys_member *m;
	char node[KEYS_NAME_MAX + 1];
	int r;

	v->rep->policies++;
	if (!audit_bytes_name(e->node_id, node)) {
		find(v, "entry %" PRIu64 ": POLICY: node_id is not a member "
		    "name", idx);
		return CAIRN_OK;
	}
	if ((m = member_at(v, KEYS_ROLE_NODE, node)) == NULL) {
		find(v, "entry %" PRIu64 ": POLICY of '%s': the node is not %s",
		    idx, node, member_source(v));
		return CAIRN_OK;
	}
	if ((r = tlog_policy_decode(e, m->pub.pk, &p)) != CAIRN_OK) {
		find(v, "entry %" PRIu64 ": %s", idx, cairn_errdesc(r));
		return CAIRN_OK;
	}
	if ((vp = policy_of(v, node)) == NULL) {
		struct vpolicy *nv;

		if (v->npols >= KEYS_FEDERATION_MAX_MEMBERS ||
		    (nv = realloc(v->pols, (v->npols + 1) * sizeof(*nv))) ==
		    NULL) {
			cairn__v1__policy__free_unpacked(p, NULL);
			return cairn_err(CAIRN_ERR_NOMEM, "audit: policies");
		}
		v->pols = nv;
		vp = &v->pols[v->npols++];
		memset(vp, 0, sizeof(*vp));
		snprintf(vp->node, sizeof(vp->node), "%s", node);
	} else
		cairn__v1__policy__free_unpacked(vp->p, NULL);
	vp->p = p;
	vp->index = idx;
	return CAIRN_OK;
}

int
audit_verify_entry(struct vctx *v, uint64_t idx, struct tlog_bytes data,
    struct tlog_entry *e)
{
	int r;

	if ((r = tlog_entry_decode(data.p, data.len, e)) != CAIRN_OK) {
		find(v, "entry %" PRIu64 ": does not decode: %s", idx,
		    cairn_errdesc(r));
		return CAIRN_OK;
	}
	switch (e->type) {
	case TLOG_ENTRY_QUERY:
		return do_query(v, idx, e);
	case TLOG_ENTRY_CHARGE:
		return do_charge(v, idx, e);
	case TLOG_ENTRY_REFUSAL:
		do_refusal(v, idx, e);
		break;
	case TLOG_ENTRY_RELEASE:
		do_release(v, idx, e);
		break;
	case TLOG_ENTRY_FAILURE:
		do_failure(v, idx, e);
		break;
	case TLOG_ENTRY_MEMBER:
		return do_member(v, idx, e);
	case TLOG_ENTRY_POLICY:
		return do_policy(v, idx, e);
	default:
		v->rep->others++;
		break;
	}
	return CAIRN_OK;
}
