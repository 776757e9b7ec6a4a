/*
 * bench_secagg.c - throughput of pairwise masking (make bench).
 *
 * Masks a vector of 2^20 cells (8 MiB) for one member of rosters of 2, 5
 * and 10 nodes; each peer costs one ChaCha20 keystream over the vector, so
 * the figure printed is keystream bytes per second on one core (target
 * >= 1 GB/s), plus the time per masked vector.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "protocol/secagg.h"
#include "bench/bench.h"

#define CELLS	(1u << 20)

int
main(void)
{
	static const size_t sizes[] = { 2, 5, 10 };
	struct secagg_member r[10];
	uint8_t esk[10][32], qhash[32] = { 0 }, sid[32];
	int64_t *x;
	uint64_t *y;
	int rc = 0;

	if (sodium_init() < 0)
		return 1;
	x = calloc(CELLS, sizeof(*x));
	y = calloc(CELLS, sizeof(*y));
	if (x == NULL || y == NULL)
		return 1;
	for (size_t i = 0; i < 10; i++) {
		randombytes_buf(r[i].id, 32);
		if (secagg_keypair(r[i].epk, esk[i]) != 0)
			return 1;
	}
	printf("%-28s %10s %12s %14s\n", "secagg mask (1 core)", "peers",
	    "ms/vector", "keystream GB/s");
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t n = sizes[s], reps = 0;
		struct secagg_member sorted[10];
		double t0, t;

		memcpy(sorted, r, sizeof(r));
		secagg_roster_sort(sorted, n);
		if (secagg_sid(qhash, sorted, n, sid) != 0)
			return 1;
		/* Find our esk for sorted[0]. */
		size_t self = 0;
		for (size_t i = 0; i < n; i++)
			if (memcmp(sorted[0].id, r[i].id, 32) == 0)
				self = i;
		t0 = bench_now();
		do {
			if (secagg_mask(esk[self], sorted, n, 0, sid, x, y,
			    CELLS) != 0)
				rc = 1;
			reps++;
			t = bench_now() - t0;
		} while (t < 1.0);
		printf("%-28s %10zu %12.2f %14.2f\n", "2^20 cells (8 MiB)", n - 1,
		    t / (double)reps * 1e3,
		    (double)CELLS * 8 * (double)(n - 1) * (double)reps / t / 1e9);
	}
	free(x);
	free(y);
	return rc;
}
