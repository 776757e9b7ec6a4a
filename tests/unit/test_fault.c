/*
 * test_fault.c - the crash points of common/fault.h: each case runs in a
 * child process (CAIRN_FAULT is read once per process) and checks how it
 * ended.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/fault.h"

/*
 * In a child with CAIRN_FAULT=env (unset when NULL): pass point "a.one"
 * 'ones' times then "a.two" once, exit 0.  Returns the wait status; the
 * number of "a.one" passes made before the end is in '*passed' (read
 * from a pipe).
 */
static int
run_child(const char *env, int ones, int *passed)
{
	int fd[2], status, k = 0;
	pid_t pid;
	char b;

	assert_int_equal(pipe(fd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fd[0]);
		if (env != NULL)
			setenv("CAIRN_FAULT", env, 1);
		else
			unsetenv("CAIRN_FAULT");
		for (int i = 0; i < ones; i++) {
			fault_point("a.one");
			if (write(fd[1], "x", 1) != 1)
				_exit(3);
		}
		fault_point("a.two");
		_exit(0);
	}
	close(fd[1]);
	while (read(fd[0], &b, 1) == 1)
		k++;
	close(fd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	*passed = k;
	return status;
}

static bool
killed(int status)
{
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

static void
test_fault_unset(void **state)
{
	int st, k;

	(void)state;
	st = run_child(NULL, 5, &k);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(k, 5);
	st = run_child("", 5, &k);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void
test_fault_first_hit(void **state)
{
	int st, k;

	(void)state;
	st = run_child("a.one", 5, &k);
	assert_true(killed(st));
	assert_int_equal(k, 0);
	st = run_child("a.two", 5, &k);
	assert_true(killed(st));
	assert_int_equal(k, 5);
}

static void
test_fault_nth_hit(void **state)
{
	int st, k;

	(void)state;
	st = run_child("a.one:3", 5, &k);
	assert_true(killed(st));
	assert_int_equal(k, 2);
	/* Never reached that often: runs to the end. */
	st = run_child("a.one:9", 5, &k);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(k, 5);
}

static void
test_fault_other_or_bad(void **state)
{
	const char *bad[] = { "a.one:0", "a.one:", "a.one:x", ":2",
	    "a.one:2x" };
	int st, k;

	(void)state;
	/* A point of another name, or a prefix of one, is not hit. */
	st = run_child("a.on", 3, &k);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	st = run_child("b.one", 3, &k);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* A malformed value disarms (with a warning on stderr). */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		st = run_child(bad[i], 3, &k);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		assert_int_equal(k, 3);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fault_unset),
		cmocka_unit_test(test_fault_first_hit),
		cmocka_unit_test(test_fault_nth_hit),
		cmocka_unit_test(test_fault_other_or_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
