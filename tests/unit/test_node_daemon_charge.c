/*
 * test_node_daemon_charge.c - charges (node/daemon_charge.c) against the
 * fake coordinator of node_daemon_fixture.c: the vector charged before a
 * break is the one sent after a restart, a pending charge re-sent (and
 * dropped when refused), the budget spent, a refusal that depends on the
 * data charged and logged, the charge and its re-send record in one
 * transaction, the noise drawn beside the computation, and the noise of a
 * query with h = 2.
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
	restart_node(state);
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

/*
 * The noise drawn beside the computation (node_vec_prenoise()) is the
 * noise charged: drawn for the domain's length, then consumed by the
 * charge (replaced here by 5 in every cell, which the noisy vector then
 * carries over the fixture's exact 1000s).  Drawn for another variance
 * than the requirement's, it is not used: the charge draws its own.
 */
static void
test_prenoise_used(void **state)
{
	struct task_buf tb;
	struct qopts o;
	struct node_task_query tq;
	struct node_vec_job job;
	const char *code = NULL;
	int64_t cid, *noisy = NULL;
	size_t ncells = 0, n = NREG * 2, fives;

	(void)state;
	for (int round = 0; round < 2; round++) {
		qopts_default(&o, round == 0 ? "q-prenoise" : "q-prenoise2");
		task_make(&tb, &o, 0);
		memset(&tq, 0, sizeof(tq));
		memset(&job, 0, sizeof(job));
		job.d = daemon_;
		job.tq = &tq;
		assert_int_equal(node_task_check_query(daemon_, &tb.t, &tq,
		    &code), CAIRN_OK);
		node_vec_prenoise(&job);
		assert_non_null(job.noise);
		assert_int_equal(job.noise_n, n);
		assert_true(job.noise_s2 > 0);
		for (size_t i = 0; i < n; i++)
			job.noise[i] = 5;
		if (round == 1)
			job.noise_s2++;
		assert_int_equal(node_charge_for_task(daemon_, &tb.t, &tq,
		    &job, &cid, &noisy, &ncells, &code), CAIRN_OK);
		assert_int_equal(ncells, n);
		fives = 0;
		for (size_t i = 0; i < n; i++)
			fives += noisy[i] == 1005;
		if (round == 0) {
			assert_null(job.noise);
			assert_int_equal(fives, n);
		} else {
			assert_non_null(job.noise);
			assert_true(fives < n);
		}
		free(noisy);
		noisy = NULL;
		node_vec_discard(&job);
		assert_null(job.noise);
		node_task_query_release(&tq);
		task_free(&tb);
	}
	assert_int_equal(charges(), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_restart_reuses_vector,
		    ndf_setup, ndf_teardown),
		cmocka_unit_test_setup_teardown(test_charge_resent, ndf_setup,
		    ndf_teardown),
		cmocka_unit_test_setup_teardown(test_budget_exhausted,
		    ndf_setup, ndf_teardown),
		cmocka_unit_test_setup_teardown(test_data_refusal_charged,
		    ndf_setup, ndf_teardown),
		cmocka_unit_test_setup_teardown(test_charge_resend_atomic,
		    ndf_setup, ndf_teardown),
		cmocka_unit_test_setup_teardown(test_prenoise_used, ndf_setup,
		    ndf_teardown),
		cmocka_unit_test_setup_teardown(test_holders_noise, ndf_setup,
		    ndf_teardown),
	};

	return cmocka_run_group_tests(tests, ndf_group_setup,
	    ndf_group_teardown);
}
