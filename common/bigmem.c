/*
 * bigmem.c - large arrays on huge pages (see bigmem.h).  The advice is
 * only advice: a kernel without transparent huge pages, or with none
 * free, gives ordinary pages and the memory is the same.
 */
#include <stdlib.h>
#include <sys/mman.h>

#include "common/bigmem.h"

void *
big_alloc(size_t n)
{
	void *p;

	if (n == 0)
		n = 1;
	if (n < BIGMEM_MIN)
		return aligned_alloc(64, (n + 63) / 64 * 64);
	if (posix_memalign(&p, BIGMEM_MIN, n) != 0)
		return NULL;
	(void)madvise(p, n, MADV_HUGEPAGE);
	return p;
}
