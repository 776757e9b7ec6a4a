/*
 * alloc.c - the engine's machine resources: the number of worker
 * threads.  (Its large arrays come from common/bigmem.c, which the
 * round's buffers share.)  Every other engine file uses this, and it uses
 * none of them, so it lives on its own.
 */
#include <unistd.h>

#include "node/engine/engine_int.h"

unsigned
engine_threads(unsigned want)
{
	long n;

	if (want > 0)
		return want > 64 ? 64 : want;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 8 ? 8 : (unsigned)n;
}
