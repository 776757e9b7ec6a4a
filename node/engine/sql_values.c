/*
 * sql_values.c - the values a generated statement travels with, never
 * part of its text (sql_gen.c): the node's cell map and the domain's
 * region ids as PostgreSQL array literals (bound as parameters) or as
 * ClickHouse TabSeparated rows (external tables), and the TabSeparated
 * escaping of a string.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/err.h"
#include "node/engine/engine_int.h"
#include "node/engine/source_int.h"

int
engine_sql_cell_arrays(const struct engine_cellmap *m, char **cells, char **regions)
{
	char *cb = NULL, *rb = NULL;
	size_t cl = 0, rl = 0;
	FILE *cf = open_memstream(&cb, &cl), *rf = open_memstream(&rb, &rl);
	size_t n = engine_cellmap_ncells(m);

	if (cf == NULL || rf == NULL) {
		if (cf != NULL)
			fclose(cf);
		if (rf != NULL)
			fclose(rf);
		free(cb);
		free(rb);
		return CAIRN_ERR_NOMEM;
	}
	fputc('{', cf);
	fputc('{', rf);
	for (size_t i = 0; i < n; i++) {
		size_t len;
		uint32_t reg;
		const char *c = engine_cellmap_cell(m, i, &len, &reg);

		fputs(i ? ",\"" : "\"", cf);
		for (size_t j = 0; j < len; j++) {
			if (c[j] == '"' || c[j] == '\\')
				fputc('\\', cf);
			fputc(c[j], cf);
		}
		fputc('"', cf);
		fprintf(rf, "%s%" PRIu32, i ? "," : "", reg);
	}
	fputc('}', cf);
	fputc('}', rf);
	if (fclose(cf) != 0 || fclose(rf) != 0) {
		free(cb);
		free(rb);
		return CAIRN_ERR_NOMEM;
	}
	*cells = cb;
	*regions = rb;
	return CAIRN_OK;
}

void
engine_sql_tsv_escape(FILE *f, const char *c, size_t len)
{
	for (size_t j = 0; j < len; j++)
		switch (c[j]) {
		case '\t': fputs("\\t", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\0': fputs("\\0", f); break;
		case '\\': fputs("\\\\", f); break;
		default: fputc(c[j], f);
		}
}

char *
engine_sql_cell_rows(const struct engine_cellmap *m)
{
	char *b = NULL;
	size_t l = 0;
	FILE *f = open_memstream(&b, &l);

	if (f == NULL)
		return NULL;
	for (size_t i = 0; i < engine_cellmap_ncells(m); i++) {
		size_t len;
		uint32_t reg;
		const char *c = engine_cellmap_cell(m, i, &len, &reg);

		engine_sql_tsv_escape(f, c, len);
		fprintf(f, "\t%" PRIu32 "\n", reg);
	}
	if (fclose(f) != 0) {
		free(b);
		return NULL;
	}
	return b;
}

char *
engine_sql_region_list(const struct engine_cellmap *m, bool rows)
{
	char *b = NULL;
	size_t l = 0;
	FILE *f = open_memstream(&b, &l);
	const uint32_t *ids = engine_cellmap_regions(m);

	if (f == NULL)
		return NULL;
	if (!rows)
		fputc('{', f);
	for (size_t i = 0; i < engine_cellmap_nregions(m); i++)
		if (rows)
			fprintf(f, "%" PRIu32 "\n", ids[i]);
		else
			fprintf(f, "%s%" PRIu32, i ? "," : "", ids[i]);
	if (!rows)
		fputc('}', f);
	if (fclose(f) != 0) {
		free(b);
		return NULL;
	}
	return b;
}
