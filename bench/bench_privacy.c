/*
 * bench_privacy.c - throughput of the exact samplers on one core: samples
 * per second of dp_dgauss_fill() at sigma2 = 4, 100, 10^6, 10^12, from
 * the CSPRNG (the source nodes use).  Each figure is the best of three short runs, per second of this
 * thread's CPU time (what one core delivers, less sensitive to other load)
 * and per wall-clock second; on a shared machine both are lower bounds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/err.h"
#include "privacy/dp.h"

#define N	(1 << 20)

static double
now(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
bench(struct dp_rng *rng, struct dp_rat x, int64_t *buf,
    const char *label)
{
	double best = 0, best_wall = 0;
	int r;

	for (int rep = 0; rep < 3; rep++) {
		double c0 = now(CLOCK_THREAD_CPUTIME_ID);
		double w0 = now(CLOCK_MONOTONIC), dt, dw;

		r = dp_dgauss_fill(rng, x, buf, N);
		if (r != CAIRN_OK) {
			fprintf(stderr, "bench_privacy: error: %s: %s\n", label,
			    cairn_errdesc(r));
			return 1;
		}
		dt = now(CLOCK_THREAD_CPUTIME_ID) - c0;
		dw = now(CLOCK_MONOTONIC) - w0;
		if (N / dt > best)
			best = N / dt;
		if (N / dw > best_wall)
			best_wall = N / dw;
	}
	printf("%-28s %7.2f million samples/s per CPU second "
	    "(%.2f per wall second)\n", label, best / 1e6, best_wall / 1e6);
	return 0;
}

int
main(void)
{
	struct dp_rng *rng = NULL;
	int64_t *buf;
	int r, rc = 0;

	if ((buf = malloc(N * sizeof(*buf))) == NULL) {
		fprintf(stderr, "bench_privacy: error: out of memory\n");
		return 1;
	}
	if ((r = dp_rng_new_csprng(&rng)) != CAIRN_OK) {
		fprintf(stderr, "bench_privacy: error: rng: %s\n",
		    cairn_errdesc(r));
		free(buf);
		return 1;
	}
	printf("exact samplers, CSPRNG, one core, best of 3 x %d samples\n",
	    N);
	rc |= bench(rng, (struct dp_rat){ 4, 1 }, buf,
	    "dgauss sigma2=4");
	rc |= bench(rng, (struct dp_rat){ 100, 1 }, buf,
	    "dgauss sigma2=100");
	rc |= bench(rng, (struct dp_rat){ 1000000, 1 }, buf,
	    "dgauss sigma2=10^6");
	rc |= bench(rng, (struct dp_rat){ 1000000000000ULL, 1 }, buf,
	    "dgauss sigma2=10^12");
	rc |= bench(rng, (struct dp_rat){ 5484964, 1000000 }, buf,
	    "dgauss sigma2=5484964/10^6");
	dp_rng_free(rng);
	free(buf);
	return rc;
}
