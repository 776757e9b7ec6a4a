/*
 * bench_coord_store.c - the coordinator's cosignature lookups on a long
 * log (run by `make bench`).
 *
 * Every GetCheckpoint, every node's quorum wait before its share and
 * every update of the public directory looks up the cosignatures of one
 * checkpoint size (coord_store_cosig_lines) and, with a quorum, the
 * newest size that has enough of them (coord_store_cosigned_size).  The
 * store keeps each witness's cosignature of every checkpoint, so the
 * table grows with the log.  This fills a coordinator database with
 * CAIRN_BENCH_CHECKPOINTS checkpoints (default 100,000) cosigned by 3
 * witnesses and times both lookups, median of 50 calls, with the size
 * index and without it (dropped, as in a database of an older version),
 * alternated 3 times.
 *
 * The database lives in $TMPDIR (default /tmp) and is removed afterwards.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/err.h"
#include "coordinator/coord_int.h"
#include "bench/bench.h"

#define CALLS	50

static int
die(const char *what, const char *why)
{
	fprintf(stderr, "bench_coord_store: %s: %s\n", what, why);
	return 1;
}

/* The median time of CALLS lookups of each kind, in milliseconds. */
static int
time_lookups(struct coord_store *s, uint64_t last, double *ms_size,
    double *ms_lines)
{
	double t[CALLS], t0;
	uint64_t size;
	size_t count;
	char *lines;

	for (int i = 0; i < CALLS; i++) {
		t0 = bench_now();
		if (coord_store_cosigned_size(s, 2, &size) != CAIRN_OK ||
		    size != last)
			return -1;
		t[i] = bench_now() - t0;
	}
	qsort(t, CALLS, sizeof(t[0]), bench_cmp_double);
	*ms_size = t[CALLS / 2] * 1e3;
	for (int i = 0; i < CALLS; i++) {
		t0 = bench_now();
		if (coord_store_cosig_lines(s, last - (uint64_t)i, &lines,
		    &count) != CAIRN_OK || count != 3)
			return -1;
		free(lines);
		t[i] = bench_now() - t0;
	}
	qsort(t, CALLS, sizeof(t[0]), bench_cmp_double);
	*ms_lines = t[CALLS / 2] * 1e3;
	return 0;
}

int
main(void)
{
	static const char *witness[3] = { "op1", "op2", "op3" };
	const char *tmp = getenv("TMPDIR"), *env;
	struct coord_store *s = NULL;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	uint64_t n = 100000;
	char path[4096], line[160];
	double a, b;
	int rc = 1;

	if ((env = getenv("CAIRN_BENCH_CHECKPOINTS")) != NULL)
		n = strtoull(env, NULL, 10);
	if (n < CALLS)
		n = CALLS;
	snprintf(path, sizeof(path), "%s/cairn-bench-coord-%ld.db",
	    tmp != NULL ? tmp : "/tmp", (long)getpid());
	/* The coordinator's schema, then the rows in one transaction. */
	if (coord_store_open(path, &s) != CAIRN_OK)
		return die(path, cairn_errmsg());
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO cosigs(witness, size, ts,"
	    " line) VALUES(?,?,?,?)", -1, &st, NULL) != SQLITE_OK) {
		rc = die(path, sqlite3_errmsg(db));
		goto out;
	}
	for (uint64_t size = 1; size <= n; size++)
		for (int w = 0; w < 3; w++) {
			/* A cosignature line's shape: name, 104 base64. */
			snprintf(line, sizeof(line), "\xe2\x80\x94 %s %0104llu\n",
			    witness[w], (unsigned long long)size);
			sqlite3_bind_text(st, 1, witness[w], -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 2, (sqlite3_int64)size);
			sqlite3_bind_int64(st, 3, 1700000000 + (int64_t)size);
			sqlite3_bind_text(st, 4, line, -1, SQLITE_TRANSIENT);
			if (sqlite3_step(st) != SQLITE_DONE) {
				rc = die("insert", sqlite3_errmsg(db));
				goto out;
			}
			sqlite3_reset(st);
		}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		rc = die("commit", sqlite3_errmsg(db));
		goto out;
	}
	printf("cosignature lookups, %llu checkpoints x 3 witnesses "
	    "(median of %d calls, ms):\n", (unsigned long long)n, CALLS);
	printf("  %-14s %20s %22s\n", "", "newest with 2 (size)",
	    "lines of one size");
	for (int rep = 0; rep < 3; rep++) {
		if (sqlite3_exec(db, "CREATE INDEX IF NOT EXISTS cosigs_size "
		    "ON cosigs(size)", NULL, NULL, NULL) != SQLITE_OK ||
		    time_lookups(s, n, &a, &b) != 0) {
			rc = die("lookups with the index", cairn_errmsg());
			goto out;
		}
		printf("  %-14s %20.3f %22.3f\n", "size index", a, b);
		if (sqlite3_exec(db, "DROP INDEX cosigs_size", NULL, NULL,
		    NULL) != SQLITE_OK || time_lookups(s, n, &a, &b) != 0) {
			rc = die("lookups without the index", cairn_errmsg());
			goto out;
		}
		printf("  %-14s %20.3f %22.3f\n", "no size index", a, b);
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	coord_store_close(s);
	bench_rm_db(path);
	return rc;
}
