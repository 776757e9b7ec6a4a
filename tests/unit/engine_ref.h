/*
 * engine_ref.h - a deliberately simple reference implementation of the
 * seven query kinds (docs/queries.md), written independently of node/ for
 * the tests: plain loops over all events, no sorting tricks.
 */
#ifndef CAIRN_TESTS_ENGINE_REF_H
#define CAIRN_TESTS_ENGINE_REF_H

#include <stddef.h>
#include <stdint.h>

#include "node/engine/engine.h"

struct ref_event {
	int		sub;		/* subject number >= 0 */
	int64_t		t;		/* UTC seconds */
	uint32_t	region;		/* region id */
	int		cat;		/* category number, or -1 */
};

/*
 * The exact result of 'q' over the 'n' events as the CSV text run-local
 * --no-noise prints (header, sorted rows, zero cells omitted); categories
 * are named "cat<N>".  Returns a malloc'd string.
 */
char	*ref_run(const struct qspec *q, const struct ref_event *ev,
	    size_t n);

#endif
