/*
 * coord_node.c - the nodes' and witnesses' methods of cairn.v1.Coordinator
 * in the order of a round (docs/federation.md): PollTask, Refuse,
 * Advertise (with the checks of the charge it carries against each node's
 * logged chain, and late charges of ended attempts), GetRoster,
 * SubmitShare, then Cosign and PublishPolicy.  Attempts and waiters are
 * coord_attempt.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/bigmem.h"
#include "common/err.h"
#include "common/fault.h"
#include "common/log.h"
#include "common/rho.h"
#include "coordinator/coord_service_int.h"
#include "protocol/secagg.h"

/* ------------------------------------------------------------ tasks */

int
coord_do_poll(struct coord *c, struct transport_call *call,
    const Cairn__V1__PollTaskRequest *req, const char **field)
{
	Cairn__V1__PollTaskResponse resp = CAIRN__V1__POLL_TASK_RESPONSE__INIT;
	const char *name = transport_call_peer(call);
	struct waiter *w;
	struct attempt *a;
	struct part *p;
	int r;

	*field = "last_seen_size";
	if (req->last_seen_size > tlog_store_size(c->log.tlog))
		return cairn_err(CAIRN_ERR_RANGE, "last seen size %llu is "
		    "beyond the log's %llu",
		    (unsigned long long)req->last_seen_size,
		    (unsigned long long)tlog_store_size(c->log.tlog));
	if ((a = coord_task_for(c, name, &p)) != NULL) {
		if ((r = coord_task_reply(c, call, a, req->last_seen_size)) ==
		    COORD_HELD)
			p->delivered = coord_now_s();
		return r;
	}
	if (req->wait_ms == 0 || c->stopping) {
		resp.now_unix_ms = coord_now_ms();
		(void)transport_call_reply(call, &resp.base);
		return COORD_HELD;
	}
	if ((r = coord_park(c, call, PROTO_POLL_TASK, req->wait_ms, &w)) !=
	    CAIRN_OK)
		return r;
	w->last_seen = req->last_seen_size;
	return COORD_HELD;
}

int
coord_do_refuse(struct coord *c, struct transport_call *call,
    const Cairn__V1__SignedRefusal *sr, const struct keys_member *m,
    const char **field)
{
	Cairn__V1__Ack ack = CAIRN__V1__ACK__INIT;
	Cairn__V1__Refusal *rf = NULL;
	ProtobufCMessage *msg = NULL;
	char reason[TLOG_ENTRY_MAX_REASON], detail[64];
	struct tlog_entry e;
	struct attempt *a;
	uint64_t index;
	int r;

	*field = "signature";
	if (!coord_sig_ok(m->pub.pk, "refusal", &sr->refusal, &sr->signature))
		return cairn_err(CAIRN_ERR_SIGNATURE, "the refusal's signature "
		    "does not verify with node %s's key", m->pub.name);
	*field = "refusal";
	if ((r = proto_unpack(&cairn__v1__refusal__descriptor,
	    sr->refusal.data, sr->refusal.len, PROTO_MAX_SMALL, &msg))
	    != CAIRN_OK)
		return r;
	rf = (Cairn__V1__Refusal *)msg;
	if (strcmp(rf->node, m->pub.name) != 0) {
		r = cairn_err(CAIRN_ERR_UNAUTH, "refusal.node '%s' is not the "
		    "caller", rf->node);
		goto out;
	}
	*field = "refusal.query_id";
	if ((r = coord_attempt_open(c, rf->query_id, &a)) != CAIRN_OK)
		goto out;
	*field = "refusal.query_hash";
	if (rf->query_hash.len != 32 ||
	    memcmp(rf->query_hash.data, a->qhash, 32) != 0) {
		r = cairn_err(CAIRN_ERR_ARG, "refusal for another query hash");
		goto out;
	}
	*field = "refusal.node";
	if (coord_part_find(a, m->pub.name) == NULL) {
		r = cairn_err(CAIRN_ERR_STATE, "node %s is not a participant "
		    "of query '%s'", m->pub.name, a->query_id);
		goto out;
	}
	*field = NULL;
	snprintf(reason, sizeof(reason), "%s: %s", rf->reason_code,
	    rf->reason);
	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_REFUSAL;
	e.time = (uint64_t)coord_now_s();
	e.node_id.p = (const uint8_t *)m->pub.name;
	e.node_id.len = strlen(m->pub.name);
	memcpy(e.query_hash, a->qhash, 32);
	e.reason.p = (const uint8_t *)reason;
	e.reason.len = strlen(reason);
	e.body.p = sr->refusal.data;
	e.body.len = sr->refusal.len;
	e.signature.p = sr->signature.data;
	e.signature.len = sr->signature.len;
	if ((r = coord_log_append(&c->log, &e, &index)) != CAIRN_OK)
		goto out;
	fault_point("coord.after_refusal_logged");
	if ((r = coord_store_signed_add(c->db, a->query_id, a->attempt,
	    m->pub.name, 'r', sr->refusal.data, sr->refusal.len,
	    sr->signature.data, sr->signature.len, index)) != CAIRN_OK &&
	    r != CAIRN_ERR_EXISTS)
		goto out;
	{
		char why[TLOG_ENTRY_MAX_REASON - 32];

		snprintf(why, sizeof(why), "node %s refused (%.*s)",
		    m->pub.name, (int)sizeof(why) - 128, reason);
		coord_attempt_fail(c, a, COORD_Q_REFUSED, why);
	}
	snprintf(detail, sizeof(detail), "REFUSAL logged at index %llu",
	    (unsigned long long)index);
	ack.detail = detail;
	(void)transport_call_reply(call, &ack.base);
	r = COORD_HELD;
out:
	protobuf_c_message_free_unpacked(msg, NULL);
	return r;
}

/* --------------------------------------- advertisements and charges */

/* "YYYY-MM" as year·12 + month − 1 (qspec_months' form), or -1. */
static int32_t
month_parse(const char *s)
{
	int y, mo;
	char tail;

	if (strlen(s) != 7 || s[4] != '-' ||
	    sscanf(s, "%4d-%2d%c", &y, &mo, &tail) != 2 || y < 1970 ||
	    y > 9999 || mo < 1 || mo > 12)
		return -1;
	return (int32_t)(y * 12 + mo - 1);
}

/* Check the charge inside an advertisement of node 'm' for 'a'. */
static int
charge_check(struct coord *c, struct attempt *a, const struct keys_member *m,
    const Cairn__V1__SignedCharge *sc, Cairn__V1__Charge **out,
    const char **field)
{
	int32_t months[QSPEC_MAX_MONTHS];
	ProtobufCMessage *msg = NULL;
	Cairn__V1__Charge *ch;
	size_t nm;
	int r;

	(void)c;
	*field = "advertisement.charge.signature";
	if (!coord_sig_ok(m->pub.pk, "charge", &sc->charge, &sc->signature))
		return cairn_err(CAIRN_ERR_SIGNATURE, "the charge's signature "
		    "does not verify with node %s's key", m->pub.name);
	*field = "advertisement.charge";
	if ((r = proto_unpack(&cairn__v1__charge__descriptor, sc->charge.data,
	    sc->charge.len, PROTO_MAX_SMALL, &msg)) != CAIRN_OK)
		return r;
	ch = (Cairn__V1__Charge *)msg;
	if (strcmp(ch->query_id, a->query_id) != 0 ||
	    ch->query_hash.len != 32 ||
	    memcmp(ch->query_hash.data, a->qhash, 32) != 0 ||
	    strcmp(ch->node, m->pub.name) != 0 || ch->attempt != a->attempt) {
		r = cairn_err(CAIRN_ERR_ARG, "the charge is not for this "
		    "query, node and attempt");
		goto fail;
	}
	nm = qspec_months(&a->spec, months);
	*field = "advertisement.charge.months";
	if (ch->n_months != nm) {
		r = cairn_err(CAIRN_ERR_ARG, "the charge names %zu months, the "
		    "query reads %zu", ch->n_months, nm);
		goto fail;
	}
	for (size_t i = 0; i < nm; i++) {
		const Cairn__V1__MonthCharge *mc = ch->months[i];

		/* dp_requirement lists the months qspec_months does. */
		if (month_parse(mc->month) != months[i] ||
		    a->need.nmonths != nm || a->need.month[i] != months[i]) {
			r = cairn_err(CAIRN_ERR_ARG, "month %zu ('%s') of the "
			    "charge is not the query's month %zu", i,
			    mc->month, i);
			goto fail;
		}
	}
	*field = "advertisement.charge.budget_rho_per_month_nano";
	if (ch->budget_rho_per_month_nano == 0 ||
	    ch->budget_rho_per_month_nano > RHO_NANO_MAX) {
		r = cairn_err(CAIRN_ERR_ARG, "budget_rho_per_month_nano %llu "
		    "is not in [1, 10^18]",
		    (unsigned long long)ch->budget_rho_per_month_nano);
		goto fail;
	}
	*field = "advertisement.charge.cells";
	if ((a->expect_cells != 0 && ch->cells != a->expect_cells) ||
	    ch->cells < 2 || ch->cells > PROTO_MAX_CELLS ||
	    ch->cells > COORD_ROUND_MAX_CELLS ||
	    (a->ncells != 0 && ch->cells != a->ncells)) {
		r = cairn_err(CAIRN_ERR_ARG, "vector of %llu cells, the query "
		    "needs %llu", (unsigned long long)ch->cells,
		    (unsigned long long)(a->expect_cells ? a->expect_cells :
		    a->ncells));
		goto fail;
	}
	*field = "advertisement.charge.noise_variance";
	if (ch->noise_variance < a->need.sigma_h2 ||
	    ch->noise_variance > (UINT64_C(1) << 53)) {
		r = cairn_err(CAIRN_ERR_ARG, "noise variance %llu, the query "
		    "needs at least %llu", (unsigned long long)
		    ch->noise_variance, (unsigned long long)a->need.sigma_h2);
		goto fail;
	}
	*out = ch;
	return CAIRN_OK;
fail:
	protobuf_c_message_free_unpacked(msg, NULL);
	return r;
}

/* The CHARGE entry of node 'm''s checked charge 'ch' (borrowing 'sc';
 * without 'sc', the typed fields only). */
static void
charge_entry(struct tlog_entry *e, const struct keys_member *m,
    const uint8_t qhash[32], const Cairn__V1__Charge *ch,
    const Cairn__V1__SignedCharge *sc)
{
	e->type = TLOG_ENTRY_CHARGE;
	e->time = (uint64_t)coord_now_s();
	e->node_id.p = (const uint8_t *)m->pub.name;
	e->node_id.len = strlen(m->pub.name);
	memcpy(e->query_hash, qhash, 32);
	e->ncharges = ch->n_months;
	for (size_t i = 0; i < ch->n_months; i++) {
		int32_t mo = month_parse(ch->months[i]->month);

		e->charges[i].month = (uint32_t)((mo / 12) * 100 + mo % 12 + 1);
		e->charges[i].rho_nano = ch->months[i]->rho_nano;
		e->charges[i].cumulative_nano =
		    ch->months[i]->cumulative_rho_nano;
	}
	if (sc == NULL)
		return;
	e->body.p = sc->charge.data;
	e->body.len = sc->charge.len;
	e->signature.p = sc->signature.data;
	e->signature.len = sc->signature.len;
}

/*
 * Whether the log holds a CHARGE of node 'node' for query hash 'qhash'
 * after the QUERY at 'from': '*yes', and its index in '*index'; when
 * 'months' is not NULL, the first such entry's months go there (room for
 * TLOG_ENTRY_MAX_CHARGES) and their count in '*nmonths'.  The log, not
 * coord.db, is the authority: a crash between appending a CHARGE and
 * recording it in coord.db leaves only the entry.  Returns CAIRN_OK or
 * the error reading the log.
 */
static int
charge_logged(struct coord *c, const uint8_t qhash[32], const char *node,
    uint64_t from, uint64_t *index, bool *yes, struct tlog_charge *months,
    size_t *nmonths)
{
	uint64_t size = tlog_store_size(c->log.tlog);
	struct tlog_entry *e;
	uint8_t *data;
	size_t dlen, nl = strlen(node);
	int r = CAIRN_OK;

	*yes = false;
	if ((e = malloc(sizeof(*e))) == NULL)
		return cairn_err(CAIRN_ERR_NOMEM, "log entry");
	for (uint64_t i = from + 1; i < size && !*yes; i++) {
		data = NULL;
		if ((r = tlog_store_entry(c->log.tlog, i, &data, &dlen)) !=
		    CAIRN_OK)
			break;
		if (tlog_entry_decode(data, dlen, e) == CAIRN_OK &&
		    e->type == TLOG_ENTRY_CHARGE && e->node_id.len == nl &&
		    memcmp(e->node_id.p, node, nl) == 0 &&
		    memcmp(e->query_hash, qhash, 32) == 0) {
			*index = i;
			*yes = true;
			if (months != NULL) {
				memcpy(months, e->charges, e->ncharges *
				    sizeof(*months));
				*nmonths = e->ncharges;
			}
		}
		free(data);
	}
	free(e);
	return r;
}

/*
 * The amounts of node 'm''s checked charge 'ch' for 'a' (whose QUERY is
 * at log index 'from'): ρ per month, and each month's cumulative against
 * the node's logged chain, or against its CHARGE for this query already
 * in the log when this one restates it (a retry).  coord_chain_check() is
 * the one place the rule lives.  Returns CAIRN_OK, CAIRN_ERR_BUDGET (the
 * detail names node, month, expected and given) or a log error.
 */
static int
charge_amounts(struct coord *c, struct attempt *a,
    const struct keys_member *m, const Cairn__V1__Charge *ch, uint64_t from,
    const char **field)
{
	struct tlog_charge *prev = NULL;
	struct tlog_entry *e = NULL;
	size_t nprev = 0, bad;
	uint64_t idx;
	bool yes = false;
	int r;

	*field = "advertisement.charge.months";
	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (prev = calloc(TLOG_ENTRY_MAX_CHARGES, sizeof(*prev))) == NULL) {
		r = cairn_err(CAIRN_ERR_NOMEM, "charge check");
		goto out;
	}
	/* The months as the CHARGE entry would log them. */
	charge_entry(e, m, a->qhash, ch, NULL);
	if ((r = charge_logged(c, a->qhash, m->pub.name, from, &idx, &yes,
	    prev, &nprev)) != CAIRN_OK)
		goto out;
	/* Each month pays its own rho_m (dp_requirement, a->need). */
	if (e->ncharges != a->need.nmonths) {
		r = cairn_err(CAIRN_ERR_ARG, "the charge names %zu months, the "
		    "query charges %zu", e->ncharges, a->need.nmonths);
		goto out;
	}
	r = coord_chain_check(&c->log.chain, m->pub.name, e->charges,
	    e->ncharges, a->need.rho_nano, ch->budget_rho_per_month_nano,
	    yes ? prev : NULL, nprev, &bad);
out:
	free(prev);
	free(e);
	return r;
}

/*
 * An advertisement for an attempt that has ended (another participant
 * refused first, the deadline passed, the coordinator restarted) still
 * carries a charge its node committed to its ledger, and a node re-sends
 * the charges it has not seen logged (docs/federation.md §2).  Log that
 * CHARGE unless the log holds one of this node for this query already
 * ('*already' then, with its index), so that the log holds every charge a
 * node sent and each node's cumulative spend stays one chain.
 */
static int
late_charge(struct coord *c, const Cairn__V1__Advertisement *ad,
    const struct keys_member *m, uint64_t *index, bool *already)
{
	Cairn__V1__SignedQuery *sq = NULL;
	Cairn__V1__Charge *ch = NULL;
	struct coord_query_row row;
	struct tlog_entry *e = NULL;
	struct attempt *a = NULL;
	const char *field;
	int r;

	if (ad->charge == NULL)
		return cairn_err(CAIRN_ERR_FORMAT, "no charge");
	if ((r = coord_store_query_get(c->db, ad->query_id, &row)) != CAIRN_OK)
		return r;
	if (ad->attempt > row.attempt) {
		r = cairn_err(CAIRN_ERR_STATE, "attempt %u was never opened",
		    ad->attempt);
		goto out;
	}
	*already = false;
	if ((r = proto_unpack(&cairn__v1__signed_query__descriptor,
	    row.signed_query, row.signed_len, PROTO_MAX_SMALL,
	    (ProtobufCMessage **)&sq)) != CAIRN_OK ||
	    (r = coord_attempt_build(c, row.analyst, sq, &a, &field)) !=
	    CAIRN_OK)
		goto out;
	a->attempt = ad->attempt;
	if (coord_part_find(a, m->pub.name) == NULL) {
		r = cairn_err(CAIRN_ERR_STATE, "not a participant");
		goto out;
	}
	if ((r = charge_check(c, a, m, ad->charge, &ch, &field)) != CAIRN_OK)
		goto out;
	if ((r = charge_logged(c, a->qhash, m->pub.name, row.log_index, index,
	    already, NULL, NULL)) != CAIRN_OK || *already)
		goto out;
	/* Not logged yet: it must continue the node's chain. */
	if ((r = charge_amounts(c, a, m, ch, row.log_index, &field)) !=
	    CAIRN_OK)
		goto out;
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		r = CAIRN_ERR_NOMEM;
		goto out;
	}
	charge_entry(e, m, a->qhash, ch, ad->charge);
	if ((r = coord_log_append(&c->log, e, index)) != CAIRN_OK)
		goto out;
	if ((r = coord_store_signed_add(c->db, a->query_id, a->attempt,
	    m->pub.name, 'c', ad->charge->charge.data, ad->charge->charge.len,
	    ad->charge->signature.data, ad->charge->signature.len, *index)) ==
	    CAIRN_ERR_EXISTS)
		r = CAIRN_OK;
	log_info("query %s attempt %u: late CHARGE of %s logged at %llu",
	    a->query_id, a->attempt, m->pub.name, (unsigned long long)*index);
out:
	free(e);
	if (ch != NULL)
		protobuf_c_message_free_unpacked(&ch->base, NULL);
	if (sq != NULL)
		protobuf_c_message_free_unpacked(&sq->base, NULL);
	coord_attempt_free(a);
	coord_store_row_clear(&row);
	return r;
}

/*
 * Advertisement 'ad' of node 'm' carries no key, only a charge to log
 * (late_charge()): answer 'call' with where the CHARGE is.
 */
static int
adv_late(struct coord *c, struct transport_call *call,
    const Cairn__V1__Advertisement *ad, const struct keys_member *m,
    const char **field)
{
	Cairn__V1__Ack ack = CAIRN__V1__ACK__INIT;
	char detail[64];
	uint64_t index;
	bool already = false;
	int r;

	*field = "advertisement.charge";
	if ((r = late_charge(c, ad, m, &index, &already)) != CAIRN_OK)
		return r;
	snprintf(detail, sizeof(detail), "CHARGE %slogged at index "
	    "%llu", already ? "already " : "",
	    (unsigned long long)index);
	ack.detail = detail;
	(void)transport_call_reply(call, &ack.base);
	return COORD_HELD;
}

/*
 * The open attempt advertisement 'ad' of node 'm' is for, into '*out'.
 * For an attempt that is not open the error says so, and the charge the
 * advertisement carries is logged all the same (late_charge()).
 */
static int
adv_attempt(struct coord *c, const Cairn__V1__Advertisement *ad,
    const struct keys_member *m, struct attempt **out, const char **field)
{
	struct attempt *a;
	uint64_t index;
	bool already = false;
	int r;

	*field = "advertisement.query_id";
	if ((r = coord_attempt_open(c, ad->query_id, &a)) == CAIRN_OK &&
	    ad->attempt == a->attempt) {
		*out = a;
		return CAIRN_OK;
	}
	if (r == CAIRN_OK)
		r = cairn_err(CAIRN_ERR_STATE, "advertisement for "
		    "attempt %u, the open attempt is %u", ad->attempt,
		    a->attempt);
	if (r == CAIRN_ERR_STATE) {
		char why[256];

		*field = "advertisement.attempt";
		snprintf(why, sizeof(why), "%s", cairn_errmsg());
		if (late_charge(c, ad, m, &index, &already) ==
		    CAIRN_OK)
			r = cairn_err(CAIRN_ERR_STATE, "%s; the CHARGE "
			    "is logged at index %llu", why,
			    (unsigned long long)index);
		else
			r = cairn_err(CAIRN_ERR_STATE, "%s", why);
	}
	return r;
}

/*
 * Enter participant 'p''s key from 'ad' into the round of 'a', creating
 * the round with the first advertisement's checked charge 'ch'.  When the
 * round fails, so does the attempt ('a' is freed).
 */
static int
adv_round(struct coord *c, struct attempt *a, struct part *p,
    const Cairn__V1__Advertisement *ad, const Cairn__V1__Charge *ch)
{
	int r;

	if (a->round == NULL) {
		uint8_t (*ids)[32] = calloc(a->n, 32);

		if (ids == NULL)
			return CAIRN_ERR_NOMEM;
		for (size_t i = 0; i < a->n; i++)
			memcpy(ids[i], a->p[i].id, 32);
		r = coord_round_new(a->qhash, (const uint8_t (*)[32])ids, a->n,
		    ch->cells, a->adv_deadline, a->share_deadline, &a->round);
		free(ids);
		if (r != CAIRN_OK)
			return r;
		a->ncells = ch->cells;
	}
	if ((r = coord_round_advertise(a->round, p->id,
	    ad->x25519_public.data)) != CAIRN_OK) {
		if (coord_round_phase(a->round) == COORD_FAILED)
			coord_attempt_fail(c, a, COORD_Q_FAILED,
			    coord_round_failure(a->round));
		return r;
	}
	return CAIRN_OK;
}

int
coord_do_advertise(struct coord *c, struct transport_call *call,
    const Cairn__V1__SignedAdvertisement *sa, const struct keys_member *m,
    const char **field)
{
	Cairn__V1__Ack ack = CAIRN__V1__ACK__INIT;
	Cairn__V1__Advertisement *ad;
	Cairn__V1__Charge *ch = NULL;
	struct tlog_entry *e = NULL;
	ProtobufCMessage *msg = NULL;
	uint8_t *packed = NULL;
	struct attempt *a = NULL;
	struct part *p;
	char detail[64];
	size_t plen;
	uint64_t index;
	int r;

	*field = "signature";
	if (!coord_sig_ok(m->pub.pk, "advertisement", &sa->advertisement,
	    &sa->signature))
		return cairn_err(CAIRN_ERR_SIGNATURE, "the advertisement's "
		    "signature does not verify with node %s's key",
		    m->pub.name);
	*field = "advertisement";
	if ((r = proto_unpack(&cairn__v1__advertisement__descriptor,
	    sa->advertisement.data, sa->advertisement.len, PROTO_MAX_SMALL,
	    &msg)) != CAIRN_OK)
		return r;
	ad = (Cairn__V1__Advertisement *)msg;
	*field = "advertisement.node";
	if (strcmp(ad->node, m->pub.name) != 0) {
		r = cairn_err(CAIRN_ERR_UNAUTH, "advertisement.node '%s' is "
		    "not the caller", ad->node);
		goto out;
	}
	if (ad->x25519_public.len == 0 && ad->charge != NULL) {
		/*
		 * No key: a node re-sending a charge it has not seen in the
		 * log.  Never part of a round, whatever attempt is open.
		 */
		r = adv_late(c, call, ad, m, field);
		goto out;
	}
	if ((r = adv_attempt(c, ad, m, &a, field)) != CAIRN_OK)
		goto out;
	*field = "advertisement.node";
	if ((p = coord_part_find(a, m->pub.name)) == NULL) {
		r = cairn_err(CAIRN_ERR_STATE, "node %s is not a participant "
		    "of query '%s'", m->pub.name, a->query_id);
		goto out;
	}
	if ((r = proto_pack(&sa->base, PROTO_MAX_SMALL, &packed, &plen))
	    != CAIRN_OK)
		goto out;
	if (p->adv != NULL) {
		if (p->adv_len == plen && memcmp(p->adv, packed, plen) == 0) {
			ack.detail = "advertisement known";
			(void)transport_call_reply(call, &ack.base);
			r = COORD_HELD;
			goto out;
		}
		/* Keep the second one as evidence next to the first. */
		if (coord_store_signed_add(c->db, a->query_id, a->attempt,
		    m->pub.name, 'e', packed, plen, NULL, 0, 0) != CAIRN_OK)
			log_warn("query %s: evidence not kept: %s",
			    a->query_id, cairn_errmsg());
		coord_attempt_fail(c, a, COORD_Q_FAILED, "equivocation: two "
		    "different advertisements from one node");
		r = cairn_err(CAIRN_ERR_EXISTS, "a different advertisement "
		    "for this attempt was received; the attempt failed");
		goto out;
	}
	if (!coord_attempt_advertising(a)) {
		r = cairn_err(CAIRN_ERR_STATE, "the advertising phase is over");
		goto out;
	}
	*field = "advertisement.x25519_public";
	if (ad->x25519_public.len != 32 || ad->charge == NULL) {
		r = cairn_err(CAIRN_ERR_FORMAT, "advertisement without a "
		    "32-byte key and a charge");
		goto out;
	}
	if ((r = charge_check(c, a, m, ad->charge, &ch, field)) != CAIRN_OK ||
	    (r = charge_amounts(c, a, m, ch, a->query_index, field)) !=
	    CAIRN_OK)
		goto out;
	*field = NULL;
	if ((r = adv_round(c, a, p, ad, ch)) != CAIRN_OK)
		goto out;
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		r = CAIRN_ERR_NOMEM;
		goto out;
	}
	charge_entry(e, m, a->qhash, ch, ad->charge);
	if ((r = coord_log_append(&c->log, e, &index)) != CAIRN_OK)
		goto out;
	fault_point("coord.after_charge_logged");
	if ((r = coord_store_signed_add(c->db, a->query_id, a->attempt,
	    m->pub.name, 'c', ad->charge->charge.data, ad->charge->charge.len,
	    ad->charge->signature.data, ad->charge->signature.len, index))
	    != CAIRN_OK && r != CAIRN_ERR_EXISTS)
		goto out;
	p->adv = packed;
	p->adv_len = plen;
	packed = NULL;
	p->sigma2 = ch->noise_variance;
	if (coord_round_phase(a->round) == COORD_MASKING)
		coord_roster_wake(c, a, CAIRN_OK, NULL);
	snprintf(detail, sizeof(detail), "CHARGE logged at index %llu",
	    (unsigned long long)index);
	ack.detail = detail;
	(void)transport_call_reply(call, &ack.base);
	r = COORD_HELD;
out:
	free(e);
	free(packed);
	if (ch != NULL)
		protobuf_c_message_free_unpacked(&ch->base, NULL);
	protobuf_c_message_free_unpacked(msg, NULL);
	return r;
}

/* ----------------------------------------------------------- roster */

int
coord_do_roster(struct coord *c, struct transport_call *call,
    const Cairn__V1__GetRosterRequest *req, const char **field)
{
	struct coord_query_row row;
	struct waiter *w;
	struct attempt *a;
	int r;

	*field = "query_id";
	if ((a = coord_attempt_find(c, req->query_id)) == NULL) {
		if ((r = coord_store_query_get(c->db, req->query_id, &row))
		    != CAIRN_OK)
			return r;
		coord_store_row_clear(&row);
		return cairn_err(CAIRN_ERR_STATE, "query '%s' has no open "
		    "attempt%s%s", req->query_id, row.failure[0] ? ": " : "",
		    row.failure);
	}
	if (coord_part_find(a, transport_call_peer(call)) == NULL)
		return cairn_err(CAIRN_ERR_STATE, "node %s is not a "
		    "participant", transport_call_peer(call));
	*field = "attempt";
	if (req->attempt != a->attempt)
		return cairn_err(CAIRN_ERR_STATE, "attempt %u is not the open "
		    "attempt %u", req->attempt, a->attempt);
	*field = NULL;
	if (!coord_attempt_advertising(a)) {
		if ((r = coord_roster_reply(c, call, a)) != CAIRN_OK)
			return r;
		return COORD_HELD;
	}
	if (req->wait_ms == 0 || c->stopping)
		return cairn_err(CAIRN_ERR_TIMEOUT, "not every participant "
		    "has advertised yet");
	if ((r = coord_park(c, call, PROTO_GET_ROSTER, req->wait_ms, &w)) !=
	    CAIRN_OK)
		return r;
	snprintf(w->query_id, sizeof(w->query_id), "%s", a->query_id);
	w->attempt = a->attempt;
	return COORD_HELD;
}

/* ----------------------------------------------------------- shares */

/*
 * Check manifest 'mf' of chunk 'ck' from node 'm' against the round of
 * 'a' and the manifest of 'sh' so far (a different one is equivocation:
 * the attempt fails and 'a' is freed), and make room for the share on
 * its first chunk.
 */
static int
share_manifest(struct coord *c, struct attempt *a, struct share_in *sh,
    const Cairn__V1__MaskedShareChunk *ck, const Cairn__V1__ShareManifest *mf,
    const struct keys_member *m, const char **field)
{
	struct secagg_member *roster = NULL;
	uint8_t sid[32];
	int r;

	if ((roster = calloc(a->n, sizeof(*roster))) == NULL) {
		r = CAIRN_ERR_NOMEM;
		goto out;
	}
	if ((r = coord_round_roster(a->round, roster, a->n, sid)) != CAIRN_OK)
		goto out;
	*field = "manifest";
	if (mf->sid.len != 32 || memcmp(mf->sid.data, sid, 32) != 0 ||
	    mf->cells != a->ncells || mf->digest.len != 32 ||
	    mf->chunk_count != (a->ncells + PROTO_CHUNK_CELLS - 1) /
	    PROTO_CHUNK_CELLS) {
		r = cairn_err(CAIRN_ERR_ARG, "the manifest does not fit the "
		    "round (session id, %llu cells in %llu chunks, 32-byte "
		    "digest)", (unsigned long long)a->ncells,
		    (unsigned long long)((a->ncells + PROTO_CHUNK_CELLS - 1) /
		    PROTO_CHUNK_CELLS));
		goto out;
	}
	if (sh->manifest != NULL && (sh->mlen != ck->manifest.len ||
	    memcmp(sh->manifest, ck->manifest.data, sh->mlen) != 0)) {
		if (coord_store_signed_add(c->db, a->query_id, a->attempt,
		    m->pub.name, 'm', ck->manifest.data, ck->manifest.len,
		    ck->signature.data, ck->signature.len, 0) != CAIRN_OK)
			log_warn("query %s: evidence not kept: %s",
			    a->query_id, cairn_errmsg());
		coord_attempt_fail(c, a, COORD_Q_FAILED, "equivocation: two "
		    "share manifests from one node");
		r = cairn_err(CAIRN_ERR_CONFLICT, "a different manifest was "
		    "received for this share; the attempt failed");
		goto out;
	}
	if (sh->manifest == NULL) {
		if ((sh->manifest = malloc(ck->manifest.len)) == NULL ||
		    (sh->cells = big_alloc(a->ncells * 8)) == NULL ||
		    (sh->have = calloc(mf->chunk_count, 1)) == NULL) {
			coord_share_clear(sh);
			r = CAIRN_ERR_NOMEM;
			goto out;
		}
		memcpy(sh->manifest, ck->manifest.data, ck->manifest.len);
		sh->mlen = ck->manifest.len;
		sh->nchunks = mf->chunk_count;
	}
	r = CAIRN_OK;
out:
	free(roster);
	return r;
}

int
coord_do_share(struct coord *c, struct transport_call *call,
    const Cairn__V1__MaskedShareChunk *ck, const struct keys_member *m,
    const char **field)
{
	Cairn__V1__SubmitShareResponse resp =
	    CAIRN__V1__SUBMIT_SHARE_RESPONSE__INIT;
	Cairn__V1__ShareManifest *mf;
	ProtobufCMessage *msg = NULL;
	struct share_in *sh;
	struct attempt *a;
	struct part *p;
	uint8_t dg[32];
	uint64_t want;
	int r;

	*field = "signature";
	if (!coord_sig_ok(m->pub.pk, "share", &ck->manifest, &ck->signature))
		return cairn_err(CAIRN_ERR_SIGNATURE, "the share manifest's "
		    "signature does not verify with node %s's key",
		    m->pub.name);
	*field = "manifest";
	if ((r = proto_unpack(&cairn__v1__share_manifest__descriptor,
	    ck->manifest.data, ck->manifest.len, PROTO_MAX_SMALL, &msg))
	    != CAIRN_OK)
		return r;
	mf = (Cairn__V1__ShareManifest *)msg;
	if (strcmp(mf->node, m->pub.name) != 0) {
		r = cairn_err(CAIRN_ERR_UNAUTH, "manifest.node '%s' is not the "
		    "caller", mf->node);
		goto out;
	}
	*field = "manifest.query_id";
	if ((r = coord_attempt_open(c, mf->query_id, &a)) != CAIRN_OK)
		goto out;
	if ((p = coord_part_find(a, m->pub.name)) == NULL ||
	    mf->attempt != a->attempt || a->round == NULL ||
	    coord_round_phase(a->round) != COORD_MASKING) {
		*field = "manifest.attempt";
		r = cairn_err(CAIRN_ERR_STATE, "no share phase of attempt %u "
		    "for node %s", mf->attempt, m->pub.name);
		goto out;
	}
	sh = &p->sh;
	if (sh->done) {
		resp.received_cells = a->ncells;
		(void)transport_call_reply(call, &resp.base);
		r = COORD_HELD;
		goto out;
	}
	if ((r = share_manifest(c, a, sh, ck, mf, m, field)) != CAIRN_OK)
		goto out;
	*field = "chunk_index";
	want = a->ncells - (uint64_t)ck->chunk_index * PROTO_CHUNK_CELLS;
	if (ck->chunk_index >= sh->nchunks ||
	    ck->offset != (uint64_t)ck->chunk_index * PROTO_CHUNK_CELLS ||
	    ck->n_cells != (want < PROTO_CHUNK_CELLS ? want :
	    PROTO_CHUNK_CELLS)) {
		r = cairn_err(CAIRN_ERR_ARG, "chunk %u at offset %llu with %zu "
		    "cells is outside the manifest", ck->chunk_index,
		    (unsigned long long)ck->offset, ck->n_cells);
		goto out;
	}
	*field = NULL;
	if (!sh->have[ck->chunk_index]) {
		memcpy(sh->cells + ck->offset, ck->cells, ck->n_cells * 8);
		sh->have[ck->chunk_index] = 1;
		sh->got++;
		sh->received += ck->n_cells;
	}
	resp.received_cells = sh->received;
	if (sh->got == sh->nchunks) {
		secagg_cells_digest(sh->cells, a->ncells, dg);
		if (memcmp(dg, mf->digest.data, 32) != 0) {
			coord_share_clear(sh);
			*field = "manifest.digest";
			r = cairn_err(CAIRN_ERR_ARG, "the share's digest does "
			    "not match its manifest; send it again");
			goto out;
		}
		fault_point("coord.after_share_received");
		r = coord_round_share_digest(a->round, p->id, sh->cells,
		    a->ncells, dg);
		free(sh->cells);
		sh->cells = NULL;
		sh->done = true;
		if (coord_round_phase(a->round) == COORD_FAILED) {
			char why[256];

			snprintf(why, sizeof(why), "%s",
			    coord_round_failure(a->round));
			coord_attempt_fail(c, a, COORD_Q_FAILED, why);
			if (r == CAIRN_OK)
				r = cairn_err(CAIRN_ERR_CONFLICT, "%s", why);
			goto out;
		}
		if (r != CAIRN_OK)
			goto out;
		(void)transport_call_reply(call, &resp.base);
		r = COORD_HELD;
		if (coord_round_phase(a->round) == COORD_SUMMED) {
			fault_point("coord.after_sum");
			coord_attempt_release(c, a);
		}
		goto out;
	}
	(void)transport_call_reply(call, &resp.base);
	r = COORD_HELD;
out:
	protobuf_c_message_free_unpacked(msg, NULL);
	return r;
}

/* ------------------------------------------- witnesses and policies */

int
coord_do_cosign(struct coord *c, struct transport_call *call,
    const Cairn__V1__Cosignature *cs, const struct keys_member *m,
    const char **field)
{
	Cairn__V1__Ack ack = CAIRN__V1__ACK__INIT;
	int r;

	*field = "witness";
	if (strcmp(cs->witness, m->pub.name) != 0)
		return cairn_err(CAIRN_ERR_UNAUTH, "witness '%s' is not the "
		    "caller", cs->witness);
	*field = "signature";
	if ((r = coord_log_cosign(&c->log, m->pub.name, m->pub.pk,
	    cs->tree_size, cs->root_hash.data, cs->root_hash.len,
	    cs->timestamp, cs->signature.data, cs->signature.len)) != CAIRN_OK)
		return r;
	ack.detail = "cosignature kept";
	(void)transport_call_reply(call, &ack.base);
	return COORD_HELD;
}

/* A node publishes its policy: a POLICY entry unless unchanged. */
int
coord_do_policy(struct coord *c, struct transport_call *call,
    const Cairn__V1__SignedPolicy *sp, const struct keys_member *m,
    const char **field)
{
	Cairn__V1__Ack ack = CAIRN__V1__ACK__INIT;
	char detail[96];
	uint64_t idx;
	bool appended;
	int r;

	*field = "policy";
	if ((r = coord_log_policy(&c->log, m->pub.name, m->pub.pk,
	    sp->policy.data, sp->policy.len, sp->signature.data,
	    sp->signature.len, &idx, &appended)) != CAIRN_OK)
		return r;
	snprintf(detail, sizeof(detail), "POLICY %s at index %llu",
	    appended ? "logged" : "unchanged", (unsigned long long)idx);
	ack.detail = detail;
	(void)transport_call_reply(call, &ack.base);
	return COORD_HELD;
}
