/*
 * replay_main.c - run a fuzz harness without libFuzzer: every file named
 * on the command line (a folder means the files in it) is passed once to
 * LLVMFuzzerTestOneInput.  make test links each harness with this main
 * and the normal compiler to replay the seed corpora and the regression
 * inputs; a crash or sanitizer report fails the test.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/util.h"

int	LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int
replay_file(const char *path, size_t *n)
{
	uint8_t *buf;
	FILE *f;
	long len;

	if ((f = fopen(path, "rb")) == NULL ||
	    fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		if (f != NULL)
			fclose(f);
		return -1;
	}
	/* One spare byte so an empty input still has a valid pointer. */
	if ((buf = malloc((size_t)len + 1)) == NULL ||
	    fread(buf, 1, (size_t)len, f) != (size_t)len) {
		fprintf(stderr, "replay: %s: read failed\n", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	(void)LLVMFuzzerTestOneInput(buf, (size_t)len);
	free(buf);
	(*n)++;
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
replay_dir(const char *path, size_t *n)
{
	struct dirent *de;
	char **names = NULL, p[4096];
	size_t nn = 0, cap = 0;
	int rc = 0;
	DIR *d;

	if ((d = opendir(path)) == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (nn == cap) {
			char **nv;

			cap = cap ? cap * 2 : 64;
			if ((nv = realloc(names, cap * sizeof(*nv))) == NULL)
				abort();
			names = nv;
		}
		if ((names[nn++] = strdup(de->d_name)) == NULL)
			abort();
	}
	closedir(d);
	if (nn > 0)
		qsort(names, nn, sizeof(*names), cmp_str);
	for (size_t i = 0; i < nn; i++) {
		snprintf(p, sizeof(p), "%s/%s", path, names[i]);
		if (replay_file(p, n) != 0)
			rc = -1;
		free(names[i]);
	}
	free(names);
	return rc;
}

int
main(int argc, char **argv)
{
	struct stat st;
	size_t n = 0;
	int rc = 0;

	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		fprintf(argc < 2 ? stderr : stdout,
		    "usage: %s FILE|DIR...\nPass every input to the fuzz "
		    "harness once.\n", argv[0]);
		return argc < 2 ? 2 : 0;
	}
	if (LLVMFuzzerInitialize != NULL)
		(void)LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "%s: error: %s: %s\n", argv[0], argv[i],
			    strerror(errno));
			rc = 1;
		} else if (S_ISDIR(st.st_mode) ? replay_dir(argv[i], &n) != 0 :
		    replay_file(argv[i], &n) != 0)
			rc = 1;
	}
	printf("%zu inputs replayed\n", n);
	return rc;
}
