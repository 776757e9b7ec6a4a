/*
 * sql_values.c - the values a generated statement travels with, never
 * part of its text (sql_gen.c): the node's cell map and the domain's
 * region ids as PostgreSQL array literals (bound as parameters) or as
 * ClickHouse TabSeparated rows (external tables), the TabSeparated
 * escaping of a string, and a statement's values printed (--explain) and
 * freed.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void
engine_sql_release(struct engine_sql *sql)
{
	free(sql->text);
	for (size_t i = 0; i < sql->nparams; i++)
		free(sql->params[i]);
	for (size_t i = 0; i < sql->next; i++)
		free(sql->ext[i].data);
	memset(sql, 0, sizeof(*sql));
}

void
engine_sql_print(const struct engine_sql *sql, FILE *f)
{
	fputs(sql->text, f);
	fputs(";\n", f);
	for (size_t i = 0; i < sql->nparams; i++) {
		const char *v = sql->params[i];
		char ref[24] = "";

		if (!sql->inline_values)
			snprintf(ref, sizeof(ref), "$%zu: ", i + 1);
		if (v[0] == '{') {
			size_t n = v[1] == '}' ? 0 : 1;

			/* an array: its length, not the map itself */
			for (const char *c = v; *c != '\0'; c++)
				if (*c == '\\' && c[1] != '\0')
					c++;
				else if (*c == ',')
					n++;
			fprintf(f, "-- %s%s (an array of %zu values)\n",
			    ref, sql->what[i], n);
		} else
			fprintf(f, "-- %s%s = %s%s\n", ref, sql->what[i], v,
			    sql->inline_values ? " (written in the statement)" :
			    "");
	}
	for (size_t i = 0; i < sql->next; i++)
		fprintf(f, "-- external table %s (%s): %s, %zu rows\n",
		    sql->ext[i].name, sql->ext[i].structure, sql->ext[i].what,
		    sql->ext[i].rows);
}
