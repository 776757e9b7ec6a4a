/*
 * cmd_demo.c - `cairn demo`: the whole federation on loopback with
 * synthetic data (the same as `make demo`).  The demonstration is the
 * shell script tools/demo.sh, installed as PREFIX/share/cairn/demo.sh; this
 * command finds it next to the running program and runs it with the
 * programs beside this one.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cli.h"
#include "common/err.h"
#include "cmd/cmd.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: cairn demo\n"
	    "  Run a whole federation on 127.0.0.1 with synthetic data: three\n"
	    "  operators' nodes, a coordinator, a statistics office's queries\n"
	    "  compared with the ground truth, a budget refusal and the\n"
	    "  auditor's verification (README.md).  Environment: KEEP=1 keeps\n"
	    "  the temporary folder; CAIRN_DEMO_SUBSCRIBERS, CAIRN_DEMO_REGIONS\n"
	    "  change the size; CAIRN_DEMO_SCRIPT names the script to run.\n");
}

int
cmd_demo(int argc, char **argv)
{
	char exe[PATH_MAX], top[PATH_MAX], script[PATH_MAX + 32];
	const char *env = getenv("CAIRN_DEMO_SCRIPT");
	ssize_t n;

	if (argc > 1) {
		if (cli_is_help(argv[1])) {
			usage(stdout);
			return 0;
		}
		usage(stderr);
		return 1;
	}
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) < 0)
		return cli_fail("cairn demo", "locating the program",
		    cairn_err(CAIRN_ERR_IO, "/proc/self/exe: %s",
		    strerror(errno)));
	exe[n] = '\0';
	/* PREFIX/bin/cairn or BUILD/bin/cairn: the demo takes PREFIX/BUILD. */
	snprintf(top, sizeof(top), "%s", dirname(dirname(exe)));
	if (env != NULL && env[0] != '\0')
		snprintf(script, sizeof(script), "%s", env);
	else {
		snprintf(script, sizeof(script), "%s/share/cairn/demo.sh", top);
		if (access(script, R_OK) != 0)
			snprintf(script, sizeof(script), "%s/../tools/demo.sh",
			    top);
	}
	if (access(script, R_OK) != 0)
		return cli_fail("cairn demo", "finding the demonstration",
		    cairn_err(CAIRN_ERR_NOTFOUND, "no %s/share/cairn/demo.sh "
		    "nor %s/../tools/demo.sh (set CAIRN_DEMO_SCRIPT)", top,
		    top));
	execl("/bin/sh", "sh", script, top, (char *)NULL);
	return cli_fail("cairn demo", "running /bin/sh",
	    cairn_err(CAIRN_ERR_IO, "%s", strerror(errno)));
}
