/*
 * report.c - the CSV reader's surroundings: the input paths (a directory
 * means its *.csv and *.csv.gz files, sorted), the names of the accepted
 * headers and of the bad-row reasons, and the bad-row report as printed
 * for the operator.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "node/engine/engine_int.h"

#define MAX_FILES	100000

static const char *const bad_names[ENGINE_BAD__N] = {
	[ENGINE_BAD_FIELDS] = "wrong number of fields",
	[ENGINE_BAD_TIMESTAMP] = "bad timestamp",
	[ENGINE_BAD_CELL] = "unknown cell",
	[ENGINE_BAD_REGION] = "unknown region",
	[ENGINE_BAD_EMPTY_ID] = "empty id",
	[ENGINE_BAD_EMPTY_FIELD] = "empty field",
	[ENGINE_BAD_LONG_FIELD] = "over-long field",
	[ENGINE_BAD_ENCODING] = "invalid UTF-8 or NUL byte",
	[ENGINE_BAD_QUOTING] = "bad quoting",
	[ENGINE_BAD_BLANK] = "empty line",
	[ENGINE_BAD_LONG_LINE] = "over-long line",
};

const char *const engine_format_header_at[] = {
	[ENGINE_FMT_CDR] = "subscriber_id,timestamp,cell_id",
	[ENGINE_FMT_REGION] = "entity_id,timestamp,region_id",
	[ENGINE_FMT_REGION_CAT] = "entity_id,timestamp,region_id,category",
};

const char *
engine_bad_name(enum engine_bad reason)
{
	return (unsigned)reason < ENGINE_BAD__N ? bad_names[reason] : "?";
}

/* ---- paths and reports ---- */

static bool
has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n > m && strcmp(s + n - m, suf) == 0;
}

int
engine_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
push_path(char ***v, size_t *n, size_t *cap, const char *p)
{
	if (*n >= MAX_FILES)
		return cairn_err(CAIRN_ERR_TOOBIG, "more than %d input files",
		    MAX_FILES);
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		char **nv;

		if ((nv = realloc(*v, nc * sizeof(*nv))) == NULL)
			return CAIRN_ERR_NOMEM;
		*v = nv;
		*cap = nc;
	}
	if (((*v)[*n] = strdup(p)) == NULL)
		return CAIRN_ERR_NOMEM;
	(*n)++;
	return CAIRN_OK;
}

int
engine_expand_paths(char *const *paths, size_t n, char ***out, size_t *nout)
{
	char **v = NULL;
	size_t nv = 0, cap = 0;
	int r = CAIRN_OK;

	for (size_t i = 0; i < n && r == CAIRN_OK; i++) {
		struct stat sb;
		DIR *d;
		struct dirent *de;
		size_t first = nv;

		if (strcmp(paths[i], "-") == 0) {
			/* Standard input: read once, like a named pipe. */
			r = push_path(&v, &nv, &cap, paths[i]);
			continue;
		}
		if (stat(paths[i], &sb) == -1) {
			r = cairn_err(CAIRN_ERR_IO, "%s: %s", paths[i],
			    strerror(errno));
			break;
		}
		if (!S_ISDIR(sb.st_mode)) {
			r = push_path(&v, &nv, &cap, paths[i]);
			continue;
		}
		if ((d = opendir(paths[i])) == NULL) {
			r = cairn_err(CAIRN_ERR_IO, "%s: %s", paths[i],
			    strerror(errno));
			break;
		}
		while (r == CAIRN_OK && (de = readdir(d)) != NULL) {
			char *p;

			if (de->d_name[0] == '.' ||
			    (!has_suffix(de->d_name, ".csv") &&
			    !has_suffix(de->d_name, ".csv.gz") &&
			    !has_suffix(de->d_name, ".csv.zst")))
				continue;
			if (asprintf(&p, "%s/%s", paths[i], de->d_name) < 0) {
				r = CAIRN_ERR_NOMEM;
				break;
			}
			r = push_path(&v, &nv, &cap, p);
			free(p);
		}
		closedir(d);
		if (r == CAIRN_OK && nv == first)
			r = cairn_err(CAIRN_ERR_NOTFOUND, "%s: no *.csv, "
			    "*.csv.gz or *.csv.zst files in the directory",
			    paths[i]);
		if (r == CAIRN_OK)
			qsort(v + first, nv - first, sizeof(*v),
			    engine_cmp_str);
	}
	if (r == CAIRN_OK && nv == 0)
		r = cairn_err(CAIRN_ERR_ARG, "no input files");
	if (r != CAIRN_OK) {
		engine_paths_free(v, nv);
		return r;
	}
	*out = v;
	*nout = nv;
	return CAIRN_OK;
}

void
engine_paths_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
engine_report_release(struct engine_report *r)
{
	for (size_t i = 0; i < r->nfiles; i++)
		free(r->files[i].path);
	free(r->files);
	r->files = NULL;
	r->nfiles = 0;
}

void
engine_report_print(const struct engine_report *r, FILE *f)
{
	for (size_t i = 0; i < r->nfiles; i++) {
		const struct engine_file_report *fr = &r->files[i];

		fprintf(f, "%s: %s: %" PRIu64 " rows, %" PRIu64 " good, %"
		    PRIu64 " bad (%.4f%%)%s\n", fr->path,
		    engine_format_header_at[fr->format],
		    fr->rows, fr->good, fr->nbad, fr->rows ? 100.0 *
		    (double)fr->nbad / (double)fr->rows : 0.0, fr->refused ?
		    ", refused" : "");
		if (fr->outside > 0)
			fprintf(f, "%s: %" PRIu64 " good rows outside the "
			    "query window\n", fr->path, fr->outside);
		if (fr->other_cat > 0)
			fprintf(f, "%s: %" PRIu64 " good rows under a "
			    "category outside the query's list (not counted)\n",
			    fr->path, fr->other_cat);
		for (int b = 0; b < ENGINE_BAD__N; b++)
			if (fr->bad[b] > 0)
				fprintf(f, "%s:   %s: %" PRIu64 "\n", fr->path,
				    bad_names[b], fr->bad[b]);
		for (size_t e = 0; e < fr->nexamples; e++)
			fprintf(f, "%s:%" PRIu64 ": %s\n", fr->path,
			    fr->examples[e].line,
			    bad_names[fr->examples[e].reason]);
	}
}
