/*
 * bench.h - what every benchmark program times with (header only: each
 * program is linked on its own against libcairn.a).
 */
#ifndef CAIRN_BENCH_H
#define CAIRN_BENCH_H

#include <stdio.h>
#include <time.h>
#include <unistd.h>

/* Seconds on the monotonic clock. */
static inline double
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* qsort(3) order of doubles, for medians. */
static inline int
bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Remove SQLite database 'path' and its WAL and shared-memory files. */
static inline void
bench_rm_db(const char *path)
{
	char p[4200];

	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
}

#endif
