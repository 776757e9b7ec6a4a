/*
 * test_coord_chain.c - the coordinator's check that a node's charge
 * continues its logged spend per data-month (coordinator/coord_chain.c):
 * the first charge of a month is rho, each later one the previous logged
 * cumulative plus rho, exactly in nano-rho; a retry restates the logged
 * CHARGE of the same query; refusals name node, month, expected and
 * given.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"
#include "coordinator/coord_chain.h"
#include "protocol/tlog_entry.h"

#define R3	UINT64_C(300000000)	/* 0.3 rho */
#define BUDGET	UINT64_C(1000000000)	/* 1 rho */
/* The rho of each month of a two-month charge. */
#define R3R3	((const uint64_t[]){ R3, R3 })
#define TENTH	((const uint64_t[]){ 100000000, 100000000 })
#define OVER	((const uint64_t[]){ 100000001, 100000001 })

/* A CHARGE entry of 'node' for one month (YYYYMM) with 'rho', 'cum'. */
static void
entry(struct tlog_entry *e, const char *node, uint32_t month, uint64_t rho,
    uint64_t cum)
{
	memset(e, 0, sizeof(*e));
	e->type = TLOG_ENTRY_CHARGE;
	e->node_id.p = (const uint8_t *)node;
	e->node_id.len = strlen(node);
	e->ncharges = 1;
	e->charges[0].month = month;
	e->charges[0].rho_nano = rho;
	e->charges[0].cumulative_nano = cum;
}

static int
check1(const struct coord_chain *cc, const char *node, uint32_t month,
    uint64_t rho, uint64_t cum)
{
	struct tlog_charge c = { month, rho, cum };
	size_t bad = 99;

	return coord_chain_check(cc, node, &c, 1, &rho, BUDGET, NULL, 0, &bad);
}

static void
test_first_and_next(void **state)
{
	struct coord_chain cc = { NULL, 0, 0 };
	struct tlog_entry *e = calloc(1, sizeof(*e));

	(void)state;
	assert_non_null(e);
	/* The first charge of a month: cumulative = rho. */
	assert_int_equal(coord_chain_last(&cc, "n2", 202601), 0);
	assert_int_equal(check1(&cc, "n2", 202601, R3, R3), CAIRN_OK);
	assert_int_equal(check1(&cc, "n2", 202601, R3, 2 * R3),
	    CAIRN_ERR_BUDGET);
	assert_string_equal(cairn_errmsg(), "node n2, month 2026-01: "
	    "cumulative 0.6 given, 0.3 expected (its logged spend 0 plus this "
	    "charge)");
	entry(e, "n2", 202601, R3, R3);
	assert_int_equal(coord_chain_note(&cc, e), CAIRN_OK);
	entry(e, "n2", 202601, R3, 2 * R3);
	assert_int_equal(coord_chain_note(&cc, e), CAIRN_OK);
	assert_int_equal(coord_chain_last(&cc, "n2", 202601), 2 * R3);
	/* Another node and another month have chains of their own. */
	assert_int_equal(coord_chain_last(&cc, "n1", 202601), 0);
	assert_int_equal(coord_chain_last(&cc, "n2", 202602), 0);
	assert_int_equal(check1(&cc, "n1", 202601, R3, R3), CAIRN_OK);
	assert_int_equal(check1(&cc, "n2", 202602, R3, R3), CAIRN_OK);
	/* The next charge: exactly 0.6 + 0.3. */
	assert_int_equal(check1(&cc, "n2", 202601, R3, 3 * R3), CAIRN_OK);
	/* One nano-rho off either way is refused. */
	assert_int_equal(check1(&cc, "n2", 202601, R3, 3 * R3 + 1),
	    CAIRN_ERR_BUDGET);
	assert_int_equal(check1(&cc, "n2", 202601, R3, 3 * R3 - 1),
	    CAIRN_ERR_BUDGET);
	/* A ledger restored to after the first charge: 0.6, not 0.9. */
	assert_int_equal(check1(&cc, "n2", 202601, R3, 2 * R3),
	    CAIRN_ERR_BUDGET);
	assert_string_equal(cairn_errmsg(), "node n2, month 2026-01: "
	    "cumulative 0.6 given, 0.9 expected (its logged spend 0.6 plus "
	    "this charge)");
	/* A deleted ledger: 0.3. */
	assert_int_equal(check1(&cc, "n2", 202601, R3, R3), CAIRN_ERR_BUDGET);
	assert_non_null(strstr(cairn_errmsg(), "cumulative 0.3 given, 0.9 "
	    "expected"));
	coord_chain_release(&cc);
	free(e);
}

static void
test_budget_and_rho(void **state)
{
	struct coord_chain cc = { NULL, 0, 0 };
	struct tlog_entry *e = calloc(1, sizeof(*e));
	struct tlog_charge c[2] = {
		{ 202601, R3, 4 * R3 }, { 202602, R3, R3 } };
	size_t bad = 99;

	(void)state;
	assert_non_null(e);
	entry(e, "n2", 202601, R3, 3 * R3);
	assert_int_equal(coord_chain_note(&cc, e), CAIRN_OK);
	/* 0.9 + 0.3 chains but is over the budget of 1. */
	assert_int_equal(coord_chain_check(&cc, "n2", c, 2, R3R3, BUDGET, NULL,
	    0, &bad), CAIRN_ERR_BUDGET);
	assert_int_equal(bad, 0);
	assert_string_equal(cairn_errmsg(), "node n2, month 2026-01: "
	    "cumulative 1.2 is over its budget 1");
	/* The second month at fault: '*bad' names it. */
	c[0].cumulative_nano = 3 * R3 + 100000000;
	c[0].rho_nano = 100000000;
	c[1].rho_nano = 100000000;
	c[1].cumulative_nano = 200000000;
	assert_int_equal(coord_chain_check(&cc, "n2", c, 2, TENTH, BUDGET,
	    NULL, 0, &bad), CAIRN_ERR_BUDGET);
	assert_int_equal(bad, 1);
	assert_non_null(strstr(cairn_errmsg(), "month 2026-02: cumulative 0.2 "
	    "given, 0.1 expected"));
	c[1].cumulative_nano = 100000000;
	assert_int_equal(coord_chain_check(&cc, "n2", c, 2, TENTH, BUDGET,
	    NULL, 0, &bad), CAIRN_OK);
	/* A charge at another rho than the query's. */
	assert_int_equal(coord_chain_check(&cc, "n2", c, 2, OVER, BUDGET,
	    NULL, 0, &bad), CAIRN_ERR_ARG);
	assert_string_equal(cairn_errmsg(), "node n2, month 2026-01: the "
	    "charge is rho 0.1, the query's is 0.100000001");
	coord_chain_release(&cc);
	free(e);
}

/*
 * Each month pays its own rho_m (dp_requirement): a straddled February
 * pays less than the March the window covers.  A node that charges the
 * larger figure to both months, or swaps them, is refused at the month
 * at fault, and each month's chain grows by its own rho_m.
 */
static void
test_month_rho(void **state)
{
	static const uint64_t want[2] = { 100000000, 250000000 };
	struct coord_chain cc = { NULL, 0, 0 };
	struct tlog_entry *e = calloc(1, sizeof(*e));
	struct tlog_charge c[2] = {
		{ 202602, 250000000, 250000000 },
		{ 202603, 250000000, 250000000 } };
	size_t bad = 99;

	(void)state;
	assert_non_null(e);
	assert_int_equal(coord_chain_check(&cc, "n1", c, 2, want, BUDGET,
	    NULL, 0, &bad), CAIRN_ERR_ARG);
	assert_int_equal(bad, 0);
	assert_string_equal(cairn_errmsg(), "node n1, month 2026-02: the "
	    "charge is rho 0.25, the query's is 0.1");
	c[0].rho_nano = 100000000;
	c[0].cumulative_nano = 100000000;
	c[1].rho_nano = 100000000;
	c[1].cumulative_nano = 100000000;
	assert_int_equal(coord_chain_check(&cc, "n1", c, 2, want, BUDGET,
	    NULL, 0, &bad), CAIRN_ERR_ARG);
	assert_int_equal(bad, 1);
	c[1].rho_nano = 250000000;
	c[1].cumulative_nano = 250000000;
	assert_int_equal(coord_chain_check(&cc, "n1", c, 2, want, BUDGET,
	    NULL, 0, &bad), CAIRN_OK);
	/* Logged: each month's chain has grown by its own rho_m. */
	memset(e, 0, sizeof(*e));
	e->type = TLOG_ENTRY_CHARGE;
	e->node_id.p = (const uint8_t *)"n1";
	e->node_id.len = 2;
	e->ncharges = 2;
	e->charges[0] = c[0];
	e->charges[1] = c[1];
	assert_int_equal(coord_chain_note(&cc, e), CAIRN_OK);
	assert_int_equal(coord_chain_last(&cc, "n1", 202602), 100000000);
	assert_int_equal(coord_chain_last(&cc, "n1", 202603), 250000000);
	coord_chain_release(&cc);
	free(e);
}

static void
test_restatement(void **state)
{
	struct coord_chain cc = { NULL, 0, 0 };
	struct tlog_entry *e = calloc(1, sizeof(*e));
	struct tlog_charge logged = { 202601, R3, 2 * R3 };
	struct tlog_charge c = logged;
	size_t bad;

	(void)state;
	assert_non_null(e);
	entry(e, "n1", 202601, R3, R3);
	assert_int_equal(coord_chain_note(&cc, e), CAIRN_OK);
	entry(e, "n1", 202601, R3, 2 * R3);
	assert_int_equal(coord_chain_note(&cc, e), CAIRN_OK);
	entry(e, "n1", 202601, R3, 3 * R3);
	assert_int_equal(coord_chain_note(&cc, e), CAIRN_OK);
	/* A retry of the query charged second restates 0.6, not 0.9 + 0.3. */
	assert_int_equal(coord_chain_check(&cc, "n1", &c, 1, R3R3, BUDGET,
	    &logged, 1, &bad), CAIRN_OK);
	c.cumulative_nano = 4 * R3;
	assert_int_equal(coord_chain_check(&cc, "n1", &c, 1, R3R3, 10 * BUDGET,
	    &logged, 1, &bad), CAIRN_ERR_BUDGET);
	assert_string_equal(cairn_errmsg(), "node n1, month 2026-01: "
	    "cumulative 1.2 given, 0.6 expected (the CHARGE it logged for "
	    "this query)");
	assert_int_equal(coord_chain_check(&cc, "n1", &c, 1, R3R3, BUDGET,
	    &logged, 2, &bad), CAIRN_ERR_BUDGET);
	/* Noting the restatement again changes nothing. */
	entry(e, "n1", 202601, R3, 2 * R3);
	assert_int_equal(coord_chain_note(&cc, e), CAIRN_OK);
	assert_int_equal(coord_chain_last(&cc, "n1", 202601), 3 * R3);
	coord_chain_release(&cc);
	free(e);
}

static void
test_many(void **state)
{
	struct coord_chain cc = { NULL, 0, 0 };
	struct tlog_entry *e = calloc(1, sizeof(*e));
	char node[16];

	(void)state;
	assert_non_null(e);
	/* Notes in any order keep the table sorted for the look-ups. */
	for (int i = 0; i < 300; i++) {
		snprintf(node, sizeof(node), "n%03d", (i * 7919) % 300);
		entry(e, node, 202001 + (uint32_t)(i % 12), 1,
		    (uint64_t)i + 1);
		assert_int_equal(coord_chain_note(&cc, e), CAIRN_OK);
	}
	for (int i = 0; i < 300; i++) {
		snprintf(node, sizeof(node), "n%03d", (i * 7919) % 300);
		assert_int_equal(coord_chain_last(&cc, node,
		    202001 + (uint32_t)(i % 12)), (uint64_t)i + 1);
	}
	/* Other entry types are not charges. */
	e->type = TLOG_ENTRY_RELEASE;
	assert_int_equal(coord_chain_note(&cc, e), CAIRN_OK);
	assert_int_equal(cc.n, 300);
	coord_chain_release(&cc);
	coord_chain_release(&cc);	/* twice is harmless */
	free(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_and_next),
		cmocka_unit_test(test_budget_and_rho),
		cmocka_unit_test(test_month_rho),
		cmocka_unit_test(test_restatement),
		cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
