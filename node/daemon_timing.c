/*
 * daemon_timing.c - where a task spends its time: the monotonic and wall
 * clocks the daemon reads, the one-line form of a task's phase timings
 * that bench/federation_report.py reads (docs/benchmarks.md, "Benchmark:
 * federation overhead"), and the node's clock against the coordinator's
 * (docs/operations.md, "Clocks"): measured on every poll, logged when off,
 * and used to judge deadlines, which the coordinator's clock sets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/log.h"
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

int64_t
node_wall_ms(void)
{
	struct timespec ts;
	const char *off = getenv("CAIRN_NODE_TEST_CLOCK_OFFSET");

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 +
	    (off != NULL ? strtoll(off, NULL, 10) * 1000 : 0);
}

void
node_clock_note(struct node_daemon *d, int64_t coord_ms)
{
	int64_t skew, mag;

	if (coord_ms <= 0)
		return;
	skew = coord_ms - node_wall_ms();
	mag = skew < 0 ? -skew : skew;
	d->clock_skew_ms = skew;
	d->clock_skew_valid = true;
	if (mag > NODE_CLOCK_TOLERANCE_MS && !d->clock_warned) {
		log_warn("clock is %lld s %s the coordinator; deadlines are "
		    "judged by the coordinator's clock, but fix this host's "
		    "time (NTP)", (long long)((mag + 500) / 1000),
		    skew > 0 ? "behind" : "ahead of");
		d->clock_warned = true;
	} else if (mag <= NODE_CLOCK_TOLERANCE_MS && d->clock_warned) {
		log_info("clock is within %d s of the coordinator again",
		    NODE_CLOCK_TOLERANCE_MS / 1000);
		d->clock_warned = false;
	}
}

int64_t
node_coord_now(const struct node_daemon *d)
{
	int64_t ms = node_wall_ms();

	if (d->clock_skew_valid)
		ms += d->clock_skew_ms;
	return ms / 1000;
}

bool
node_daemon_clock_skew(const struct node_daemon *d, int64_t *ms)
{
	if (d->clock_skew_valid)
		*ms = d->clock_skew_ms;
	return d->clock_skew_valid;
}
