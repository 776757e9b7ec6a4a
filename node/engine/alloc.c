/*
 * alloc.c - the engine's machine resources: memory for its large arrays
 * (2 MiB aligned, huge pages when the kernel has them) and the number of
 * worker threads.  Every other engine file uses these, and they use none
 * of them, so they live on their own.
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "node/engine/engine_int.h"

#define BIG_ALIGN	(UINT64_C(2) << 20)

void *
engine_big_alloc(size_t n)
{
	void *p;

	if (n < BIG_ALIGN)
		return aligned_alloc(64, (n + 63) / 64 * 64);
	if (posix_memalign(&p, BIG_ALIGN, n) != 0)
		return NULL;
	madvise(p, n, MADV_HUGEPAGE);
	return p;
}

unsigned
engine_threads(unsigned want)
{
	long n;

	if (want > 0)
		return want > 64 ? 64 : want;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 8 ? 8 : (unsigned)n;
}
