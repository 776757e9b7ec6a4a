/*
 * fault.c - named crash points (fault.h): CAIRN_FAULT=NAME[:N] kills the
 * process with SIGKILL the Nth time it passes fault_point(NAME).
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fault.h"

#define FAULT_NAME_MAX	64

atomic_int	fault_state_;

static char		fault_name[FAULT_NAME_MAX];
static unsigned long	fault_at = 1;
static atomic_ulong	fault_hits;

/* Parse CAIRN_FAULT once; a malformed value disarms with a warning. */
static void
fault_read(void)
{
	const char *v = getenv("CAIRN_FAULT"), *colon;
	char *end;
	size_t len;
	int state = 1;

	if (v == NULL || *v == '\0')
		goto out;
	colon = strchr(v, ':');
	len = colon != NULL ? (size_t)(colon - v) : strlen(v);
	if (len == 0 || len >= sizeof(fault_name))
		goto bad;
	if (colon != NULL) {
		errno = 0;
		fault_at = strtoul(colon + 1, &end, 10);
		if (errno != 0 || end == colon + 1 || *end != '\0' ||
		    fault_at == 0)
			goto bad;
	}
	memcpy(fault_name, v, len);
	fault_name[len] = '\0';
	state = 2;
	goto out;
bad:
	fprintf(stderr, "cairn: warning: CAIRN_FAULT='%s' is not NAME or "
	    "NAME:N (N >= 1); no fault is injected\n", v);
out:
	atomic_store(&fault_state_, state);
}

void
fault_hit(const char *name)
{
	static atomic_flag once = ATOMIC_FLAG_INIT;
	char line[160];
	unsigned long k;
	int len;

	if (atomic_load(&fault_state_) == 0) {
		if (!atomic_flag_test_and_set(&once))
			fault_read();
		else
			while (atomic_load(&fault_state_) == 0)
				usleep(1000);
	}
	if (atomic_load(&fault_state_) != 2 || strcmp(name, fault_name) != 0)
		return;
	k = atomic_fetch_add(&fault_hits, 1) + 1;
	if (k != fault_at)
		return;
	len = snprintf(line, sizeof(line), "%s: fault: CAIRN_FAULT=%s hit "
	    "%lu: SIGKILL\n", program_invocation_short_name, name, k);
	if (len > 0 && write(STDERR_FILENO, line, (size_t)len <
	    sizeof(line) ? (size_t)len : sizeof(line) - 1) < 0)
		len = 0;	/* killed either way */
	for (;;) {
		(void)kill(getpid(), SIGKILL);
		pause();
	}
}
