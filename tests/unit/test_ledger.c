/*
 * test_ledger.c - the node's privacy ledger: charges and spend per
 * data-month, budget refusals that write nothing, reuse of an open round's
 * vector, log indexes, file-mode refusals, and crash safety (a writer
 * killed with SIGKILL mid-stream loses no acknowledged charge and leaves
 * spend equal to its charges), and a charge's state rows (the daemon's
 * re-send record) written in its transaction: both or neither, also when
 * the writer is killed before the commit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "common/err.h"
#include "common/fault.h"
#include "common/timeutil.h"
#include "node/ledger.h"

static char dir[64];
static char path[128];

static int
setup(void **state)
{
	strcpy(dir, "/tmp/cairn-ledger-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ledger.db", dir);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void
req_init(struct node_ledger_charge_req *q, uint8_t tag, const int32_t *months,
    size_t n, int64_t rho, int64_t budget, const int64_t *cells, size_t nc)
{
	memset(q, 0, sizeof(*q));
	memset(q->query_hash, tag, 32);
	memset(q->pset_hash, 0xaa, 32);
	q->months = months;
	q->nmonths = n;
	q->rho_nano = rho;
	q->budget_nano = budget;
	q->label = "presence analyst=nso";
	q->cells = cells;
	q->ncells = nc;
}

static void
test_charge_and_spend(void **state)
{
	struct node_ledger *l = NULL;
	struct node_ledger_charge_req q;
	int32_t months[2] = { 2024 * 12 + 0, 2024 * 12 + 1 };
	int64_t cells[3] = { 5, -7, INT64_MIN }, id1 = 0, id2 = 0, spent, *got;
	size_t n;

	assert_int_equal(node_ledger_open(path, &l), CAIRN_OK);
	req_init(&q, 1, months, 2, 300000000, LEDGER_NANO, cells, 3);
	assert_int_equal(node_ledger_charge(l, &q, &id1), CAIRN_OK);
	req_init(&q, 2, months + 1, 1, 500000000, LEDGER_NANO, cells, 3);
	assert_int_equal(node_ledger_charge(l, &q, &id2), CAIRN_OK);
	assert_true(id2 > id1);
	assert_int_equal(node_ledger_spent(l, months[0], &spent), CAIRN_OK);
	assert_int_equal(spent, 300000000);
	assert_int_equal(node_ledger_spent(l, months[1], &spent), CAIRN_OK);
	assert_int_equal(spent, 800000000);
	assert_int_equal(node_ledger_spent(l, 1, &spent), CAIRN_OK);
	assert_int_equal(spent, 0);

	/* A retry of the same round finds the same vector. */
	assert_int_equal(node_ledger_find_open(l, q.query_hash, q.pset_hash,
	    &id1, &got, &n), CAIRN_OK);
	assert_int_equal(id1, id2);
	assert_int_equal(n, 3);
	assert_memory_equal(got, cells, sizeof(cells));
	free(got);
	/* Closed rounds keep the charge but not the vector. */
	assert_int_equal(node_ledger_close_round(l, id2), CAIRN_OK);
	assert_int_equal(node_ledger_find_open(l, q.query_hash, q.pset_hash,
	    &id1, NULL, NULL), CAIRN_ERR_NOTFOUND);
	assert_int_equal(node_ledger_close_round(l, id2), CAIRN_ERR_NOTFOUND);
	assert_int_equal(node_ledger_spent(l, months[1], &spent), CAIRN_OK);
	assert_int_equal(spent, 800000000);
	node_ledger_free(l);

	/* Everything is still there after reopening. */
	assert_int_equal(node_ledger_open(path, &l), CAIRN_OK);
	assert_int_equal(node_ledger_spent(l, months[1], &spent), CAIRN_OK);
	assert_int_equal(spent, 800000000);
	node_ledger_free(l);
}

/* Run one statement on the ledger file with SQLite directly. */
static void
raw_sql(const char *sql, const void *blob, int blen)
{
	sqlite3 *db;
	sqlite3_stmt *st;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
	    SQLITE_OK);
	if (blob != NULL)
		sqlite3_bind_blob(st, 1, blob, blen, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/*
 * The noisy vector is kept as one compact blob (zigzag varints): small
 * and extreme values round-trip, also after a restart; a ledger made
 * before (no enc column, 8 bytes per cell) still reads; a damaged blob is
 * an error naming the ledger, never a wrong vector.
 */
static void
test_vector_blob(void **state)
{
	struct node_ledger *l = NULL;
	struct node_ledger_charge_req q;
	int32_t month = 2024 * 12 + 2;
	size_t n = 100003, got_n;
	int64_t *cells, *got, id, id2;
	uint8_t legacy[3 * 8];
	int64_t lv[3] = { 1, -2, INT64_MAX };

	(void)state;
	assert_non_null(cells = malloc(n * sizeof(*cells)));
	for (size_t i = 0; i < n; i++)
		cells[i] = (int64_t)(i % 301) - 150;
	cells[0] = INT64_MIN;
	cells[1] = INT64_MAX;
	cells[2] = 0;
	cells[3] = -1;
	cells[n - 1] = INT64_MIN + 1;
	assert_int_equal(node_ledger_open(path, &l), CAIRN_OK);
	req_init(&q, 7, &month, 1, 1000, LEDGER_NANO, cells, n);
	assert_int_equal(node_ledger_charge(l, &q, &id), CAIRN_OK);
	assert_int_equal(node_ledger_find_open(l, q.query_hash, q.pset_hash,
	    &id2, &got, &got_n), CAIRN_OK);
	assert_int_equal(id2, id);
	assert_int_equal(got_n, n);
	assert_memory_equal(got, cells, n * sizeof(*cells));
	free(got);
	node_ledger_free(l);

	/* Compact: the 100,003 small cells take far less than 8 bytes each
	 * (2 bytes at most for |v| <= 150, 10 for the 4 extremes). */
	{
		sqlite3 *db;
		sqlite3_stmt *st;

		assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, "SELECT length(cells), "
		    "enc FROM vectors", -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_true(sqlite3_column_int64(st, 0) <= (int64_t)(2 * n +
		    64));
		assert_int_equal(sqlite3_column_int(st, 1), 1);
		sqlite3_finalize(st);
		sqlite3_close(db);
	}

	/* After a restart: the same vector. */
	assert_int_equal(node_ledger_open(path, &l), CAIRN_OK);
	assert_int_equal(node_ledger_find_open(l, q.query_hash, q.pset_hash,
	    &id2, &got, &got_n), CAIRN_OK);
	assert_int_equal(got_n, n);
	assert_memory_equal(got, cells, n * sizeof(*cells));
	free(got);
	node_ledger_free(l);

	/* A damaged blob (cut short, trailing bytes, wrong encoding). */
	raw_sql("UPDATE vectors SET cells = substr(cells, 1, length(cells) - "
	    "1)", NULL, 0);
	assert_int_equal(node_ledger_open(path, &l), CAIRN_OK);
	assert_int_equal(node_ledger_find_open(l, q.query_hash, q.pset_hash,
	    &id2, &got, &got_n), CAIRN_ERR_DB);
	assert_non_null(strstr(cairn_errmsg(), "ledger.db"));
	node_ledger_free(l);
	raw_sql("UPDATE vectors SET cells = cells || x'0000'", NULL, 0);
	assert_int_equal(node_ledger_open(path, &l), CAIRN_OK);
	assert_int_equal(node_ledger_find_open(l, q.query_hash, q.pset_hash,
	    &id2, &got, &got_n), CAIRN_ERR_DB);
	assert_non_null(strstr(cairn_errmsg(), "past its"));
	node_ledger_free(l);
	raw_sql("UPDATE vectors SET enc = 9", NULL, 0);
	assert_int_equal(node_ledger_open(path, &l), CAIRN_OK);
	assert_int_equal(node_ledger_find_open(l, q.query_hash, q.pset_hash,
	    &id2, &got, &got_n), CAIRN_ERR_DB);
	assert_non_null(strstr(cairn_errmsg(), "encoding 9"));
	node_ledger_free(l);

	/* A ledger written before the encoding: vectors without the enc
	 * column, 8 bytes little-endian per cell. */
	for (size_t i = 0; i < 3; i++)
		for (int b = 0; b < 8; b++)
			legacy[8 * i + (size_t)b] = (uint8_t)((uint64_t)lv[i] >>
			    (8 * b));
	raw_sql("DROP TABLE vectors", NULL, 0);
	raw_sql("CREATE TABLE vectors(charge_id INTEGER PRIMARY KEY "
	    "REFERENCES charges(id), cells BLOB NOT NULL)", NULL, 0);
	raw_sql("INSERT INTO vectors VALUES(1, ?)", legacy, (int)sizeof(legacy));
	assert_int_equal(node_ledger_open(path, &l), CAIRN_OK);
	assert_int_equal(node_ledger_find_open(l, q.query_hash, q.pset_hash,
	    &id2, &got, &got_n), CAIRN_OK);
	assert_int_equal(got_n, 3);
	assert_memory_equal(got, lv, sizeof(lv));
	free(got);
	/* New charges on the migrated ledger are compact again. */
	req_init(&q, 8, &month, 1, 1000, LEDGER_NANO, cells, 5);
	assert_int_equal(node_ledger_charge(l, &q, &id), CAIRN_OK);
	assert_int_equal(node_ledger_find_open(l, q.query_hash, q.pset_hash,
	    &id2, &got, &got_n), CAIRN_OK);
	assert_int_equal(got_n, 5);
	assert_memory_equal(got, cells, 5 * sizeof(*cells));
	free(got);
	node_ledger_free(l);
	free(cells);
}

static void
test_budget_refusal_writes_nothing(void **state)
{
	struct node_ledger *l = NULL;
	struct node_ledger_charge_req q;
	int32_t months[2] = { 100, 101 };
	int64_t id = -5, spent;

	assert_int_equal(node_ledger_open(path, &l), CAIRN_OK);
	req_init(&q, 1, months + 1, 1, 900000000, LEDGER_NANO, NULL, 0);
	assert_int_equal(node_ledger_charge(l, &q, &id), CAIRN_OK);
	/* Month 100 has room, month 101 does not: refuse both. */
	req_init(&q, 2, months, 2, 200000000, LEDGER_NANO, NULL, 0);
	assert_int_equal(node_ledger_charge(l, &q, &id), CAIRN_ERR_BUDGET);
	assert_non_null(strstr(cairn_errmsg(), "data-month 0008-06"));
	assert_non_null(strstr(cairn_errmsg(), "spent 0.9 rho of a budget of "
	    "1, this query needs 0.2"));
	assert_int_equal(node_ledger_spent(l, 100, &spent), CAIRN_OK);
	assert_int_equal(spent, 0);
	assert_int_equal(node_ledger_find_open(l, q.query_hash, q.pset_hash,
	    &id, NULL, NULL), CAIRN_ERR_NOTFOUND);
	/* Exactly filling the budget is allowed; one nano more is not. */
	req_init(&q, 3, months + 1, 1, 100000000, LEDGER_NANO, NULL, 0);
	assert_int_equal(node_ledger_charge(l, &q, &id), CAIRN_OK);
	req_init(&q, 4, months + 1, 1, 1, LEDGER_NANO, NULL, 0);
	assert_int_equal(node_ledger_charge(l, &q, &id), CAIRN_ERR_BUDGET);
	node_ledger_free(l);
}

/* Sum of every month's charge of every entry. */
static int
sum_months(const struct node_ledger_entry *e, void *ctx)
{
	int64_t *sum = ctx;

	for (size_t i = 0; i < e->nmonths; i++)
		*sum += e->month_rho_nano[i];
	return 0;
}

/*
 * Per-month charges (dp_requirement's rho_m): each month is checked and
 * recorded with its own value; the charge's months read back with them.
 */
static void
test_month_charges(void **state)
{
	struct node_ledger *l = NULL;
	struct node_ledger_charge_req q;
	struct node_ledger_month lm[4];
	int32_t months[2] = { 2026 * 12 + 1, 2026 * 12 + 2 };
	int64_t per[2] = { 700000000, 300000000 }, bad[2] = { 1, 0 };
	int64_t id = 0, spent;
	size_t n;

	assert_int_equal(node_ledger_open(path, &l), CAIRN_OK);
	req_init(&q, 1, months, 2, 700000000, LEDGER_NANO, NULL, 0);
	q.month_rho_nano = per;
	assert_int_equal(node_ledger_charge(l, &q, &id), CAIRN_OK);
	assert_int_equal(node_ledger_spent(l, months[0], &spent), CAIRN_OK);
	assert_int_equal(spent, 700000000);
	assert_int_equal(node_ledger_spent(l, months[1], &spent), CAIRN_OK);
	assert_int_equal(spent, 300000000);
	assert_int_equal(node_ledger_charge_months(l, id, lm, 4, &n),
	    CAIRN_OK);
	assert_int_equal(n, 2);
	assert_int_equal(lm[0].rho_nano, 700000000);
	assert_int_equal(lm[1].rho_nano, 300000000);
	spent = 0;
	assert_int_equal(node_ledger_foreach(l, sum_months, &spent), CAIRN_OK);
	assert_int_equal(spent, 1000000000);
	/* March has room for 0.7 more, February for 0.3: a query needing
	   0.7 of March and 0.3 of February fits; 0.3 more of either not */
	per[0] = 300000000;
	per[1] = 700000000;
	req_init(&q, 2, months, 2, 700000000, LEDGER_NANO, NULL, 0);
	q.month_rho_nano = per;
	assert_int_equal(node_ledger_charge(l, &q, &id), CAIRN_OK);
	req_init(&q, 3, months + 1, 1, 1, LEDGER_NANO, NULL, 0);
	assert_int_equal(node_ledger_charge(l, &q, &id), CAIRN_ERR_BUDGET);
	assert_non_null(strstr(cairn_errmsg(), "data-month 2026-03"));
	/* a month's charge must be in [1, rho_nano] */
	req_init(&q, 4, months, 2, 1, LEDGER_NANO, NULL, 0);
	q.month_rho_nano = bad;
	assert_int_equal(node_ledger_charge(l, &q, &id), CAIRN_ERR_ARG);
	bad[1] = 2;
	assert_int_equal(node_ledger_charge(l, &q, &id), CAIRN_ERR_ARG);
	node_ledger_free(l);
}

static void
test_bad_requests(void **state)
{
	struct node_ledger *l = NULL;
	struct node_ledger_charge_req q;
	int32_t months[2] = { 7, 7 };
	int64_t id = 0;
	char big[LEDGER_MAX_LABEL + 2];

	assert_int_equal(node_ledger_open(path, &l), CAIRN_OK);
	req_init(&q, 1, months, 2, 1, LEDGER_NANO, NULL, 0);
	assert_int_equal(node_ledger_charge(l, &q, &id), CAIRN_ERR_ARG);
	assert_non_null(strstr(cairn_errmsg(), "listed twice"));
	req_init(&q, 1, months, 0, 1, LEDGER_NANO, NULL, 0);
	assert_int_equal(node_ledger_charge(l, &q, &id), CAIRN_ERR_ARG);
	req_init(&q, 1, months, 1, 0, LEDGER_NANO, NULL, 0);
	assert_int_equal(node_ledger_charge(l, &q, &id), CAIRN_ERR_ARG);
	req_init(&q, 1, months, 1, 1, LEDGER_NANO, NULL,
	    (size_t)LEDGER_MAX_CELLS + 1);
	assert_int_equal(node_ledger_charge(l, &q, &id), CAIRN_ERR_TOOBIG);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	req_init(&q, 1, months, 1, 1, LEDGER_NANO, NULL, 0);
	q.label = big;
	assert_int_equal(node_ledger_charge(l, &q, &id), CAIRN_ERR_TOOBIG);
	node_ledger_free(l);
}

static void
test_log_index(void **state)
{
	struct node_ledger *l = NULL;
	struct node_ledger_charge_req q;
	int32_t m = 5;
	int64_t id;

	assert_int_equal(node_ledger_open(path, &l), CAIRN_OK);
	req_init(&q, 1, &m, 1, 10, LEDGER_NANO, NULL, 0);
	assert_int_equal(node_ledger_charge(l, &q, &id), CAIRN_OK);
	assert_int_equal(node_ledger_set_log_index(l, id, 42), CAIRN_OK);
	assert_int_equal(node_ledger_set_log_index(l, id, 42), CAIRN_OK);
	assert_int_equal(node_ledger_set_log_index(l, id, 43),
	    CAIRN_ERR_CONFLICT);
	assert_int_equal(node_ledger_set_log_index(l, id + 1, 1),
	    CAIRN_ERR_NOTFOUND);
	node_ledger_free(l);
}

/*
 * Charges read back from the log (a ledger restored from a backup, or
 * deleted): recorded with their log index and no vector, outside the
 * budget check, and the spend topped up to the log's cumulative.
 */
static void
test_absorb_logged(void **state)
{
	struct node_ledger *l = NULL;
	struct node_ledger_charge_req q;
	struct node_ledger_logged lg;
	struct node_ledger_round rd;
	int32_t m[2] = { 7, 8 };
	int64_t cum[2], rho[2] = { 300000000, 300000000 }, spent, added, id;

	(void)state;
	assert_int_equal(node_ledger_open(path, &l), CAIRN_OK);
	/* The ledger holds qa (0.3 on month 7) only. */
	req_init(&q, 0xa1, m, 1, 300000000, LEDGER_NANO, NULL, 0);
	assert_int_equal(node_ledger_charge(l, &q, &id), CAIRN_OK);
	/* qb, logged at 12 with cumulative 0.6: missing, inserted. */
	memset(&lg, 0, sizeof(lg));
	memset(lg.query_hash, 0xb2, 32);
	lg.query_id = "qb";
	lg.months = m;
	lg.nmonths = 1;
	cum[0] = 600000000;
	lg.cumulative_nano = cum;
	lg.rho_nano = rho;
	lg.budget_nano = LEDGER_NANO;
	lg.noise_variance = 4;
	lg.log_index = 12;
	assert_int_equal(node_ledger_absorb_logged(l, &lg, true, &added),
	    CAIRN_OK);
	assert_int_equal(added, 300000000);
	assert_int_equal(node_ledger_spent(l, 7, &spent), CAIRN_OK);
	assert_int_equal(spent, 600000000);
	assert_int_equal(node_ledger_find_query(l, lg.query_hash, &rd),
	    CAIRN_OK);
	assert_int_equal(rd.log_index, 12);
	assert_false(rd.vector_kept);
	/* Over the budget is recorded all the same: it was spent. */
	memset(lg.query_hash, 0xc3, 32);
	cum[0] = 1200000000;
	cum[1] = 600000000;
	lg.nmonths = 2;
	lg.log_index = 14;
	assert_int_equal(node_ledger_absorb_logged(l, &lg, true, &added),
	    CAIRN_OK);
	/* Month 7: 0.9 after the insert, topped up to the log's 1.2;
	 * month 8: 0.3, topped up to 0.6. */
	assert_int_equal(added, 600000000 + 300000000 + 300000000);
	assert_int_equal(node_ledger_spent(l, 7, &spent), CAIRN_OK);
	assert_int_equal(spent, 1200000000);
	assert_int_equal(node_ledger_spent(l, 8, &spent), CAIRN_OK);
	assert_int_equal(spent, 600000000);
	/* A charge the ledger holds, at or below its spend: nothing. */
	cum[0] = 300000000;
	cum[1] = 300000000;
	assert_int_equal(node_ledger_absorb_logged(l, &lg, false, &added),
	    CAIRN_OK);
	assert_int_equal(added, 0);
	/* The next charge of month 7 now sees the real spend. */
	req_init(&q, 0xd4, m, 1, 100000000, 2 * LEDGER_NANO, NULL, 0);
	assert_int_equal(node_ledger_charge(l, &q, &id), CAIRN_OK);
	req_init(&q, 0xd5, m, 1, 100000000, 1300000000, NULL, 0);
	assert_int_equal(node_ledger_charge(l, &q, &id), CAIRN_ERR_BUDGET);
	assert_non_null(strstr(cairn_errmsg(), "spent 1.3 rho of a budget of "
	    "1.3"));
	/* Malformed: no months, rho 0. */
	lg.nmonths = 0;
	assert_int_equal(node_ledger_absorb_logged(l, &lg, true, NULL),
	    CAIRN_ERR_ARG);
	lg.nmonths = 1;
	rho[0] = 0;
	assert_int_equal(node_ledger_absorb_logged(l, &lg, true, NULL),
	    CAIRN_ERR_ARG);
	node_ledger_free(l);
}

struct seen {
	int	n;
	int64_t	last_index;
	int64_t	rho_total;
};

static int
count(const struct node_ledger_entry *e, void *ctx)
{
	struct seen *s = ctx;

	s->n++;
	s->last_index = e->log_index;
	s->rho_total += e->rho_nano * (int64_t)e->nmonths;
	assert_string_equal(e->label, "presence analyst=nso");
	return 0;
}

static void
test_foreach(void **state)
{
	struct node_ledger *l = NULL;
	struct node_ledger_charge_req q;
	int32_t m[3] = { 1, 2, 3 };
	int64_t id;
	struct seen s = { 0, 0, 0 };

	assert_int_equal(node_ledger_open(path, &l), CAIRN_OK);
	req_init(&q, 1, m, 3, 10, LEDGER_NANO, NULL, 0);
	assert_int_equal(node_ledger_charge(l, &q, &id), CAIRN_OK);
	req_init(&q, 2, m, 1, 7, LEDGER_NANO, NULL, 0);
	assert_int_equal(node_ledger_charge(l, &q, &id), CAIRN_OK);
	assert_int_equal(node_ledger_set_log_index(l, id, 9), CAIRN_OK);
	assert_int_equal(node_ledger_foreach(l, count, &s), CAIRN_OK);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.last_index, 9);
	assert_int_equal(s.rho_total, 37);
	node_ledger_free(l);
}

static void
test_file_refusals(void **state)
{
	struct node_ledger *l = NULL;
	char link[160];

	assert_int_equal(node_ledger_open(path, &l), CAIRN_OK);
	node_ledger_free(l);
	l = NULL;
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(node_ledger_open(path, &l), CAIRN_ERR_PERM);
	assert_non_null(strstr(cairn_errmsg(), "readable by group or others"));
	assert_null(l);
	/* Every group and other bit alone: g+r g+w g+x o+r o+w o+x. */
	for (unsigned bit = 01; bit <= 040; bit <<= 1) {
		char want[32];

		assert_int_equal(chmod(path, 0600 | bit), 0);
		assert_int_equal(node_ledger_open(path, &l), CAIRN_ERR_PERM);
		snprintf(want, sizeof(want), "(mode %03o)", 0600 | bit);
		if (strstr(cairn_errmsg(), want) == NULL)
			fail_msg("mode %03o: '%s'", 0600 | bit,
			    cairn_errmsg());
		assert_null(l);
	}
	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(node_ledger_open(path, &l), CAIRN_OK);
	node_ledger_free(l);
	l = NULL;
	assert_int_equal(chmod(path, 0600), 0);
	snprintf(link, sizeof(link), "%s/link.db", dir);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(node_ledger_open(link, &l), CAIRN_ERR_PERM);
	assert_non_null(strstr(cairn_errmsg(), "symbolic link"));
	assert_int_equal(node_ledger_open("/nonexistent/dir/l.db", &l),
	    CAIRN_ERR_IO);
}

static void
test_rho_and_months(void **state)
{
	(void)state;
	assert_int_equal(ledger_month_of_day(time_days_from_civil(2024, 2, 29)),
	    2024 * 12 + 1);
	assert_int_equal(ledger_month_of_day(time_days_from_civil(2024, 12, 31)),
	    2024 * 12 + 11);
}

/*
 * A child charges in a loop, writing each charge's id to a pipe once
 * node_ledger_charge() has returned; the parent kills it with SIGKILL at
 * a different point each time, then reopens the ledger: every
 * acknowledged id is there and the month's spend equals the charges.
 */
static void
test_crash_safety(void **state)
{
	int32_t m = 77;
	int64_t total = 0;

	for (int round = 0; round < 8; round++) {
		int fds[2];
		pid_t pid;
		int64_t id, last = 0, spent;
		int acks = 0, status;
		struct node_ledger *l = NULL;
		struct seen s = { 0, 0, 0 };

		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			struct node_ledger_charge_req q;

			close(fds[0]);
			if (node_ledger_open(path, &l) != CAIRN_OK)
				_exit(2);
			for (uint8_t k = 0;; k++) {
				int64_t cells[64] = { k };

				req_init(&q, k, &m, 1, 1, INT64_MAX / 2, cells, 64);
				if (node_ledger_charge(l, &q, &id) != CAIRN_OK)
					_exit(3);
				if (write(fds[1], &id, sizeof(id)) != sizeof(id))
					_exit(4);
			}
		}
		close(fds[1]);
		/* Let it acknowledge 3 + 5·round charges, then kill it. */
		while (acks < 3 + 5 * round &&
		    read(fds[0], &id, sizeof(id)) == sizeof(id)) {
			last = id;
			acks++;
		}
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));
		while (read(fds[0], &id, sizeof(id)) == sizeof(id)) {
			last = id;
			acks++;
		}
		close(fds[0]);
		assert_int_equal(node_ledger_open(path, &l), CAIRN_OK);
		assert_int_equal(node_ledger_foreach(l, count, &s), CAIRN_OK);
		assert_int_equal(node_ledger_spent(l, m, &spent), CAIRN_OK);
		/* Spend equals the charges present; none acknowledged lost. */
		assert_int_equal(spent, s.n);
		assert_true(s.n >= total + acks);
		assert_true(s.n >= last);
		total = s.n;
		node_ledger_free(l);
	}
}

/* Cumulative per month, charge parameters, lookup by query, expiry and
 * the daemon's state. */
static void
test_daemon_support(void **state)
{
	struct node_ledger *l = NULL;
	struct node_ledger_charge_req q;
	struct node_ledger_month m[4];
	struct node_ledger_round rd;
	int32_t months[2] = { 2026 * 12 + 0, 2026 * 12 + 1 };
	int64_t cells[2] = { 1, 2 }, id1, id2, budget;
	uint64_t var, n;
	uint8_t qh[32], buf[16];
	size_t nm, len;

	(void)state;
	assert_int_equal(node_ledger_open(path, &l), CAIRN_OK);
	req_init(&q, 1, months, 2, 300000000, LEDGER_NANO, cells, 2);
	q.query_id = "q1";
	q.noise_variance = 12;
	assert_int_equal(node_ledger_charge(l, &q, &id1), CAIRN_OK);
	req_init(&q, 2, months + 1, 1, 200000000, LEDGER_NANO, cells, 2);
	assert_int_equal(node_ledger_charge(l, &q, &id2), CAIRN_OK);
	assert_int_equal(node_ledger_charge_months(l, id1, m, 4, &nm),
	    CAIRN_OK);
	assert_int_equal(nm, 2);
	assert_int_equal(m[0].cumulative_nano, 300000000);
	assert_int_equal(m[1].cumulative_nano, 300000000);
	assert_int_equal(node_ledger_charge_months(l, id2, m, 4, &nm),
	    CAIRN_OK);
	assert_int_equal(nm, 1);
	assert_int_equal(m[0].month, months[1]);
	assert_int_equal(m[0].rho_nano, 200000000);
	assert_int_equal(m[0].cumulative_nano, 500000000);
	/* The figures of the first charge do not move with later ones. */
	assert_int_equal(node_ledger_charge_months(l, id1, m, 1, &nm),
	    CAIRN_ERR_TOOBIG);
	assert_int_equal(node_ledger_charge_months(l, 99, m, 4, &nm),
	    CAIRN_ERR_NOTFOUND);
	assert_int_equal(node_ledger_charge_params(l, id1, &budget, &var),
	    CAIRN_OK);
	assert_int_equal(budget, LEDGER_NANO);
	assert_int_equal(var, 12);
	memset(qh, 1, 32);
	assert_int_equal(node_ledger_find_query(l, qh, &rd), CAIRN_OK);
	assert_int_equal(rd.id, id1);
	assert_true(rd.vector_kept);
	assert_int_equal(rd.log_index, -1);
	memset(qh, 9, 32);
	assert_int_equal(node_ledger_find_query(l, qh, &rd),
	    CAIRN_ERR_NOTFOUND);
	/* Nothing is older than an hour ago; everything is older than
	 * tomorrow. */
	assert_int_equal(node_ledger_expire(l, time(NULL) - 3600, &n),
	    CAIRN_OK);
	assert_int_equal(n, 0);
	assert_int_equal(node_ledger_expire(l, time(NULL) + 86400, &n),
	    CAIRN_OK);
	assert_int_equal(n, 2);
	memset(qh, 1, 32);
	assert_int_equal(node_ledger_find_query(l, qh, &rd), CAIRN_OK);
	assert_false(rd.vector_kept);
	/* The charges stay: spend is unchanged. */
	assert_int_equal(node_ledger_charge_months(l, id2, m, 4, &nm),
	    CAIRN_OK);
	assert_int_equal(m[0].cumulative_nano, 500000000);
	assert_int_equal(node_ledger_state_get(l, "k", buf, sizeof(buf), &len),
	    CAIRN_ERR_NOTFOUND);
	assert_int_equal(node_ledger_state_set(l, "k", "abc", 3), CAIRN_OK);
	assert_int_equal(node_ledger_state_set(l, "k", "abcd", 4), CAIRN_OK);
	assert_int_equal(node_ledger_state_get(l, "k", buf, sizeof(buf), &len),
	    CAIRN_OK);
	assert_int_equal(len, 4);
	assert_memory_equal(buf, "abcd", 4);
	assert_int_equal(node_ledger_state_get(l, "k", buf, 2, &len),
	    CAIRN_ERR_TOOBIG);
	node_ledger_free(l);
}

static int
count_entries(const struct node_ledger_entry *e, void *arg)
{
	(void)e;
	(*(int *)arg)++;
	return 0;
}

/*
 * A charge with state rows: a writer killed at "node.before_charge_commit"
 * (every row written, no commit) leaves neither; written together; a
 * budget refusal writes neither; a charge without a vector keeps none;
 * node_ledger_state_setv() writes all its rows.
 */
static void
test_charge_with_state(void **state)
{
	struct node_ledger *l = NULL;
	struct node_ledger_charge_req q;
	struct node_ledger_kv kv[2] = { { "resend/a", "abc", 3 },
	    { "advertised/a/0", "1", 1 } };
	int32_t m = 300;
	int64_t cells[2] = { 5, -5 }, id, *v = NULL;
	uint8_t buf[16];
	size_t len, nv;
	int n, status;
	pid_t pid;

	(void)state;
	/*
	 * First (CAIRN_FAULT is read once per process, at the first fault
	 * point passed: this test runs first and its parent passes none
	 * before the fork): a writer killed before the commit leaves
	 * neither the charge nor its row.
	 */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setenv("CAIRN_FAULT", "node.before_charge_commit", 1);
		if (node_ledger_open(path, &l) != CAIRN_OK)
			_exit(2);
		req_init(&q, 5, &m, 1, 1, LEDGER_NANO, cells, 2);
		kv[0].key = "resend/c";
		q.state = kv;
		q.nstate = 1;
		_exit(node_ledger_charge(l, &q, &id) == CAIRN_OK ? 3 : 4);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_int_equal(node_ledger_open(path, &l), CAIRN_OK);
	n = 0;
	assert_int_equal(node_ledger_foreach(l, count_entries, &n), CAIRN_OK);
	assert_int_equal(n, 0);
	assert_int_equal(node_ledger_state_get(l, "resend/c", buf,
	    sizeof(buf), &len), CAIRN_ERR_NOTFOUND);
	kv[0].key = "resend/a";
	req_init(&q, 1, &m, 1, LEDGER_NANO / 2, LEDGER_NANO, cells, 2);
	q.state = kv;
	q.nstate = 1;
	assert_int_equal(node_ledger_charge(l, &q, &id), CAIRN_OK);
	assert_int_equal(node_ledger_state_get(l, "resend/a", buf,
	    sizeof(buf), &len), CAIRN_OK);
	assert_int_equal(len, 3);
	assert_memory_equal(buf, "abc", 3);

	/* Over the budget: no charge, no state row. */
	req_init(&q, 2, &m, 1, LEDGER_NANO, LEDGER_NANO, cells, 2);
	kv[0].key = "resend/b";
	q.state = kv;
	q.nstate = 1;
	assert_int_equal(node_ledger_charge(l, &q, &id), CAIRN_ERR_BUDGET);
	assert_int_equal(node_ledger_state_get(l, "resend/b", buf,
	    sizeof(buf), &len), CAIRN_ERR_NOTFOUND);

	/* No vector: the round is closed from the start. */
	req_init(&q, 3, &m, 1, LEDGER_NANO / 4, LEDGER_NANO, NULL, 0);
	q.state = kv;
	q.nstate = 1;
	assert_int_equal(node_ledger_charge(l, &q, &id), CAIRN_OK);
	memset(q.query_hash, 3, 32);
	assert_int_equal(node_ledger_find_open(l, q.query_hash, q.pset_hash,
	    &id, &v, &nv), CAIRN_ERR_NOTFOUND);
	assert_int_equal(node_ledger_state_get(l, "resend/b", buf,
	    sizeof(buf), &len), CAIRN_OK);
	req_init(&q, 4, &m, 1, 1, LEDGER_NANO, NULL, 2);
	assert_int_equal(node_ledger_charge(l, &q, &id), CAIRN_ERR_ARG);

	/* Several state rows in one transaction. */
	kv[0].key = "resend/d";
	assert_int_equal(node_ledger_state_setv(l, kv, 2), CAIRN_OK);
	assert_int_equal(node_ledger_state_get(l, "resend/d", buf,
	    sizeof(buf), &len), CAIRN_OK);
	assert_int_equal(node_ledger_state_get(l, "advertised/a/0", buf,
	    sizeof(buf), &len), CAIRN_OK);
	assert_int_equal(len, 1);
	node_ledger_free(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		/* first: it needs a process that passed no fault point */
		cmocka_unit_test_setup_teardown(test_charge_with_state, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_charge_and_spend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_absorb_logged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_budget_refusal_writes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vector_blob, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_safety, setup, teardown),
		cmocka_unit_test(test_rho_and_months),
		cmocka_unit_test_setup_teardown(test_month_charges, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_daemon_support, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
