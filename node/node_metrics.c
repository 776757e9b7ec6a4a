/*
 * node_metrics.c - the node's metric families and readiness flags of
 * node_metrics.h, on the registry of common/metrics.h.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/metrics.h"
#include "common/version.h"
#include "node/engine/engine.h"
#include "node/ledger.h"
#include "node/node_metrics.h"

static struct metrics_family *m_tasks, *m_charges, *m_spent, *m_left,
    *m_budget, *m_engine, *m_rows, *m_bad, *m_poll, *m_polls, *m_skew;
static atomic_bool polled_ok, rebuilt;

void
node_metrics_init(void)
{
	struct metrics_family *info;

	info = metrics_register("cairn_build_info", METRICS_GAUGE,
	    "The program and version running (value 1).", "program",
	    "version", NULL, 0);
	metrics_set(info, "cairn-node", CAIRN_VERSION, 1);
	m_tasks = metrics_register("cairn_node_tasks_total", METRICS_COUNTER,
	    "Tasks handled, by outcome (shared, refused, abandoned, error).",
	    "outcome", NULL, NULL, 0);
	m_charges = metrics_register("cairn_node_charges_total",
	    METRICS_COUNTER, "Charges committed to the ledger.", NULL, NULL,
	    NULL, 0);
	m_spent = metrics_register("cairn_node_budget_spent_rho",
	    METRICS_GAUGE, "zCDP rho charged to a data-month (YYYY-MM).",
	    "month", NULL, NULL, 0);
	m_left = metrics_register("cairn_node_budget_remaining_rho",
	    METRICS_GAUGE, "zCDP rho a data-month (YYYY-MM) has left.",
	    "month", NULL, NULL, 0);
	m_budget = metrics_register("cairn_node_budget_per_month_rho",
	    METRICS_GAUGE, "The policy's zCDP budget per data-month.", NULL,
	    NULL, NULL, 0);
	m_engine = metrics_register("cairn_node_engine_seconds_total",
	    METRICS_COUNTER, "Time the aggregation engine ran for tasks.",
	    NULL, NULL, NULL, 0);
	m_rows = metrics_register("cairn_node_rows_read_total",
	    METRICS_COUNTER, "CSV data rows the engine read for tasks.",
	    NULL, NULL, NULL, 0);
	m_bad = metrics_register("cairn_node_bad_rows_total", METRICS_COUNTER,
	    "CSV rows the engine skipped, by reason.", "reason", NULL, NULL,
	    0);
	m_poll = metrics_register(
	    "cairn_node_last_successful_poll_timestamp_seconds", METRICS_GAUGE,
	    "Unix time the coordinator last answered a PollTask.", NULL, NULL,
	    NULL, 0);
	m_skew = metrics_register("cairn_node_clock_skew_seconds",
	    METRICS_GAUGE, "The coordinator's clock minus this node's at the "
	    "last answered PollTask (positive: the node is behind).", NULL,
	    NULL, NULL, 0);
	m_polls = metrics_register("cairn_node_polls_total", METRICS_COUNTER,
	    "PollTask calls, by result (ok, error).", "result", NULL, NULL, 0);
	metrics_touch(m_tasks, "shared", NULL);
	metrics_touch(m_tasks, "refused", NULL);
	metrics_touch(m_tasks, "abandoned", NULL);
	metrics_touch(m_tasks, "error", NULL);
	metrics_touch(m_charges, NULL, NULL);
	metrics_touch(m_engine, NULL, NULL);
	metrics_touch(m_rows, NULL, NULL);
	for (int i = 0; i < ENGINE_BAD__N; i++)
		metrics_touch(m_bad, engine_bad_name((enum engine_bad)i), NULL);
	metrics_touch(m_polls, "ok", NULL);
	metrics_touch(m_polls, "error", NULL);
}

void
node_metrics_task(int r, enum node_task_outcome oc)
{
	const char *o = "error";

	if (r == CAIRN_OK)
		o = oc == NODE_TASK_SHARED ? "shared" : oc == NODE_TASK_REFUSED ?
		    "refused" : "abandoned";
	metrics_add(m_tasks, o, NULL, 1);
}

void
node_metrics_charge(void)
{
	metrics_add(m_charges, NULL, NULL, 1);
}

void
node_metrics_poll(bool ok)
{
	metrics_add(m_polls, ok ? "ok" : "error", NULL, 1);
	if (ok)
		metrics_set(m_poll, NULL, NULL, (double)time(NULL));
	atomic_store(&polled_ok, ok);
}

void
node_metrics_clock_skew(int64_t ms)
{
	metrics_set(m_skew, NULL, NULL, (double)ms / 1000.0);
}

void
node_metrics_rebuilt(void)
{
	atomic_store(&rebuilt, true);
}

void
node_metrics_engine(double seconds, const struct engine_report *rep)
{
	metrics_add(m_engine, NULL, NULL, seconds);
	if (rep == NULL)
		return;
	for (size_t f = 0; f < rep->nfiles; f++) {
		metrics_add(m_rows, NULL, NULL, (double)rep->files[f].rows);
		for (int i = 0; i < ENGINE_BAD__N; i++)
			if (rep->files[f].bad[i] > 0)
				metrics_add(m_bad, engine_bad_name(
				    (enum engine_bad)i), NULL,
				    (double)rep->files[f].bad[i]);
	}
}

/* Spend per month while walking the ledger. */
struct sums {
	int32_t	month[512];
	int64_t	spent[512];
	size_t	n;
};

static int
add_entry(const struct node_ledger_entry *e, void *arg)
{
	struct sums *s = arg;

	for (size_t i = 0; i < e->nmonths; i++) {
		size_t j;

		for (j = 0; j < s->n; j++)
			if (s->month[j] == e->months[i])
				break;
		if (j == s->n) {
			if (s->n == 512)
				continue;	/* beyond the series cap */
			s->month[s->n] = e->months[i];
			s->spent[s->n++] = 0;
		}
		s->spent[j] += e->month_rho_nano != NULL ?
		    e->month_rho_nano[i] : e->rho_nano;
	}
	return 0;
}

int
node_metrics_budget(struct node_ledger *l, int64_t budget_nano)
{
	struct sums *s;
	char m[16];
	int r;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return CAIRN_ERR_NOMEM;
	if ((r = node_ledger_foreach(l, add_entry, s)) != CAIRN_OK)
		goto out;
	metrics_set(m_budget, NULL, NULL, (double)budget_nano / 1e9);
	for (size_t i = 0; i < s->n; i++) {
		snprintf(m, sizeof(m), "%04d-%02d", (int)(s->month[i] / 12),
		    (int)(s->month[i] % 12) + 1);
		metrics_set(m_spent, m, NULL, (double)s->spent[i] / 1e9);
		metrics_set(m_left, m, NULL, s->spent[i] >= budget_nano ? 0 :
		    (double)(budget_nano - s->spent[i]) / 1e9);
	}
	r = CAIRN_OK;
out:
	free(s);
	return r;
}

bool
node_metrics_ready(void *arg, char *why, size_t n)
{
	(void)arg;
	if (!atomic_load(&rebuilt)) {
		snprintf(why, n, "the ledger is not yet reconciled with the "
		    "log");
		return false;
	}
	if (!atomic_load(&polled_ok)) {
		snprintf(why, n, "the last poll of the coordinator failed");
		return false;
	}
	return true;
}
