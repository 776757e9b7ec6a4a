/*
 * fault.h - named crash points for the fault-injection tests
 * (docs/security-faults.md).
 *
 * A program calls fault_point("node.after_charge") at each step of the
 * federation round.  With the environment variable CAIRN_FAULT unset (the
 * normal case) a point costs one relaxed atomic load and a branch.  With
 * CAIRN_FAULT=NAME or CAIRN_FAULT=NAME:N the process writes one line
 * "PROG: fault: CAIRN_FAULT=NAME hit N: SIGKILL" to standard error and
 * kills itself with SIGKILL at the Nth time (default the first) it passes
 * the point of that NAME, so a test can crash it at that exact step.
 */
#ifndef CAIRN_FAULT_H
#define CAIRN_FAULT_H

#include <stdatomic.h>

/* 0 not read yet, 1 CAIRN_FAULT unset or empty, 2 armed.  Internal. */
extern atomic_int	fault_state_;

/*
 * The slow path of fault_point(): read CAIRN_FAULT once, and when it
 * names 'name', count the hit and raise SIGKILL at the chosen one.
 * 'name' is a string literal naming the step ("coord.after_release").
 */
void	fault_hit(const char *name);

/*
 * Crash here if CAIRN_FAULT names 'name' (see above); otherwise nothing.
 * Never returns when it fires.
 */
#define fault_point(name) do {						\
	if (atomic_load_explicit(&fault_state_, memory_order_relaxed) != 1) \
		fault_hit(name);					\
} while (0)

#endif
