/*
 * bigmem.h - memory for large arrays (the engine's tables, a masked
 * share, a share being received, the coordinator's sum and result): 2 MiB
 * aligned and advised for transparent huge pages, so a 4 MB vector is
 * two page faults instead of a thousand.  On this project's virtual
 * machines a fault costs tens of microseconds: a fresh 4.3 MB buffer
 * from malloc() took 25-50 ms to fill, from here 1-13 ms
 * (docs/benchmarks.md, "Benchmark: federation overhead").
 */
#ifndef CAIRN_COMMON_BIGMEM_H
#define CAIRN_COMMON_BIGMEM_H

#include <stddef.h>

/* The size from which big_alloc() uses huge pages (2 MiB, one page). */
#define BIGMEM_MIN	((size_t)2 << 20)

/*
 * 'n' bytes (at least 1), uninitialised, to be released with free().
 * Below BIGMEM_MIN it is a 64-byte aligned allocation, nothing advised.
 * NULL when the memory cannot be had (errno as malloc() sets it).
 */
void	*big_alloc(size_t n) __attribute__((malloc));

#endif
