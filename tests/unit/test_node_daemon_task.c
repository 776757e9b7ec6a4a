/*
 * test_node_daemon_task.c - the node's checks of a task before anything
 * is charged (node/task.c, node/daemon_round.c), against the fake
 * coordinator of node_daemon_fixture.c: a checkpoint older than the one
 * cosigned, a checkpoint not signed by the log key, an inclusion proof
 * that fails or proves another query, a fork (and every task refused
 * after it), and the query checks (signature, federation, analyst,
 * policy, geography, spec), each refused with its code and nothing
 * charged.
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

/* Each query check refuses with its code and a line that names it. */
static void
test_query_refusals(void **state)
{
	const struct {
		const char			*id;
		bool				 bad_sig;
		const char			*federation, *analyst;
		const struct keys_identity	*signer;
		double				 rho;
		const char			*geography, *kind;
		const char			*code, *words;
	} cases[] = {
		{ .id = "q-badsig", .bad_sig = true,
		    .code = NODE_REFUSE_ANALYST, .words = "does not verify" },
		{ .id = "q-fed", .federation = "otherfed",
		    .code = NODE_REFUSE_OTHER,
		    .words = "federation 'otherfed'" },
		{ .id = "q-eve", .signer = i_eve, .analyst = "eve",
		    .code = NODE_REFUSE_ANALYST,
		    .words = "analyst 'eve' is not" },
		{ .id = "q-rho", .rho = 0.75, .code = NODE_REFUSE_POLICY,
		    .words = "rho 0.75 exceeds" },
		{ .id = "q-geo", .geography = "g2",
		    .code = NODE_REFUSE_GEOGRAPHY, .words = "geography 'g2'" },
		/* residents takes no bucket or k: a malformed spec. */
		{ .id = "q-kind", .kind = "residents",
		    .code = NODE_REFUSE_POLICY, .words = "field" },
	};
	struct task_buf tb;
	struct qopts o;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fk.refusals = 0;
		qopts_default(&o, cases[i].id);
		o.bad_sig = cases[i].bad_sig;
		if (cases[i].federation != NULL)
			o.federation = cases[i].federation;
		if (cases[i].signer != NULL)
			o.signer = cases[i].signer;
		if (cases[i].analyst != NULL)
			o.analyst = cases[i].analyst;
		if (cases[i].rho != 0)
			o.rho = cases[i].rho;
		if (cases[i].geography != NULL)
			o.geography = cases[i].geography;
		if (cases[i].kind != NULL)
			o.kind = cases[i].kind;
		task_make(&tb, &o, 0);
		expect_refusal(&tb, cases[i].code, cases[i].words);
		task_free(&tb);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_older_checkpoint,
		    ndf_setup, ndf_teardown),
		cmocka_unit_test_setup_teardown(test_bad_checkpoint_signature,
		    ndf_setup, ndf_teardown),
		cmocka_unit_test_setup_teardown(test_bad_inclusion, ndf_setup,
		    ndf_teardown),
		cmocka_unit_test_setup_teardown(test_fork, ndf_setup,
		    ndf_teardown),
		cmocka_unit_test_setup_teardown(test_query_refusals, ndf_setup,
		    ndf_teardown),
	};

	return cmocka_run_group_tests(tests, ndf_group_setup,
	    ndf_group_teardown);
}
