/*
 * daemon_timing.c - where a task spends its time: the monotonic and wall
 * clocks the daemon reads, and the one-line form of a task's phase
 * timings that bench/federation_report.py reads (docs/benchmarks.md,
 * "Benchmark: federation overhead").
 */
#include <stdio.h>
#include <time.h>

#include "node/daemon_int.h"

const char *const node_phase_names[NODE_PHASE_COUNT] = {
	"log_check", "query_check", "compute", "log_wait", "noise", "ledger",
	"advertise", "roster_wait", "mask", "upload"
};

uint64_t
node_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double
node_clock_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
node_task_timing_format(const struct node_task_timing *t, char *buf,
    size_t cap)
{
	size_t k = 0;
	int n;

	if (cap == 0)
		return;
	buf[0] = '\0';
	for (int i = 0; i < NODE_PHASE_COUNT && k < cap; i++) {
		n = snprintf(buf + k, cap - k, "%s %.6f ", node_phase_names[i],
		    (double)t->ns[i] / 1e9);
		if (n < 0)
			return;
		k += (size_t)n;
	}
	if (k < cap)
		(void)snprintf(buf + k, cap - k, "total %.6f compute_window "
		    "%.6f %.6f", (double)t->total_ns / 1e9, t->compute_start,
		    t->compute_end);
}

void
node_daemon_last_timing(const struct node_daemon *d,
    struct node_task_timing *out)
{
	*out = d->timing;
}
