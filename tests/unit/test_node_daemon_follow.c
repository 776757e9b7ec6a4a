/*
 * test_node_daemon_follow.c - the node as a reader and witness of the
 * log (node/daemon_follow.c, node/daemon.c) against the fake coordinator
 * of node_daemon_fixture.c: a polled task, then the CHARGE and RELEASE
 * entries followed into the ledger (and ledger show and export), entries
 * that do not hash to the cosigned root not applied, and idle
 * witnessing, a fork seen while idle included.
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
#include <jansson.h>
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_follow_tampered, ndf_setup,
		    ndf_teardown),
		cmocka_unit_test_setup_teardown(test_poll_and_follow, ndf_setup,
		    ndf_teardown),
		cmocka_unit_test_setup_teardown(test_idle_witness, ndf_setup,
		    ndf_teardown),
	};

	return cmocka_run_group_tests(tests, ndf_group_setup,
	    ndf_group_teardown);
}
