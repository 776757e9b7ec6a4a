/*
 * test_node_daemon_round.c - the round on the node's side
 * (node/daemon_round.c) against the fake coordinator of
 * node_daemon_fixture.c, which plays the second participant "nb" and
 * unmasks the node's share: the charge and the attempt's marker on disk
 * before the advertisement leaves, the stored vector reused on a retry,
 * one advertisement per attempt, the phase timings, bad rosters refused,
 * a split view of the log refused, and a share uploaded in chunks.
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

/*
 * The log grew after the task's checkpoint (another query's entry, as
 * the CHARGE entries do in a round) and the witnesses have cosigned only
 * the task's checkpoint.  The node asks for the newest checkpoint with a
 * quorum of cosignatures, gets the task's, and sends its share at once;
 * asking only for the latest, it would wait for cosignatures that never
 * come and refuse at the deadline.  The negative control: the same log
 * with no cosignatures at all (the split view above) is refused.
 */
static void
test_quorum_on_task_checkpoint(void **state)
{
	struct task_buf tb, other;
	struct qopts o, o2;
	enum node_task_outcome oc;
	uint8_t esk[32], epk[32];

	(void)state;
	qopts_default(&o, "q-qcp");
	task_make(&tb, &o, 0);
	tb.t.deadline_unix = (int64_t)time(NULL) + 2;
	pthread_mutex_lock(&fk.mu);
	fk.quorum_size = fk.size;
	pthread_mutex_unlock(&fk.mu);
	qopts_default(&o2, "q-qcp-other");
	task_make(&other, &o2, 0);
	nb_advertise(&tb, 0, NREG * 2 + 1, esk, epk);
	assert_int_equal(node_daemon_handle_task(daemon_, &tb.t, &oc),
	    CAIRN_OK);
	assert_int_equal(oc, NODE_TASK_SHARED);
	assert_int_equal(fk.refusals, 0);
	assert_true(fk.share_calls >= 1);
	assert_int_equal(fk.quorum_asks, 1);
	task_free(&other);
	task_free(&tb);
}

/*
 * A share over 2^19 cells goes up in several chunks, two calls in
 * flight, each chunk with the signed manifest; the coordinator puts it
 * back together.  A chunk the coordinator refuses fails the upload.
 */
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_retry_reuses_vector,
		    ndf_setup, ndf_teardown),
		cmocka_unit_test_setup_teardown(test_task_timing, ndf_setup,
		    ndf_teardown),
		cmocka_unit_test_setup_teardown(test_roster_checks, ndf_setup,
		    ndf_teardown),
		cmocka_unit_test_setup_teardown(test_split_view, ndf_setup,
		    ndf_teardown),
		cmocka_unit_test_setup_teardown(test_quorum_on_task_checkpoint, ndf_setup,
		    ndf_teardown),
		cmocka_unit_test_setup_teardown(test_multi_chunk_share,
		    ndf_setup, ndf_teardown),
	};

	return cmocka_run_group_tests(tests, ndf_group_setup,
	    ndf_group_teardown);
}
