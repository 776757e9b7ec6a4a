/*
 * source_int.h - between the files of the SQL sources, not for callers
 * (engine_source.h is theirs).  A client (source_pg.c, source_ch.c) runs
 * the statement of sql_gen.c and hands each row of numbers to source.c,
 * which checks it against the query's domain and turns the rows into the
 * cells of a struct engine_result; sql_values.c writes the values a
 * statement travels with.
 */
#ifndef CAIRN_NODE_ENGINE_SOURCE_INT_H
#define CAIRN_NODE_ENGINE_SOURCE_INT_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>

#include "node/engine/engine_int.h"
#include "node/engine/engine_source.h"

/* The cells read so far from one server. */
struct engine_src_rows {
	const struct engine_plan	*p;
	const struct engine_cellmap	*m;
	const char			*who;	/* "postgresql" ... */
	struct engine_cell		*cells;
	size_t				 n, cap;
	uint64_t			 other_cat;	/* popcat */
};

/*
 * Add the row v = (t, r1, r2, n) of a cell statement to 'rw'.
 * CAIRN_ERR_DB when the row is outside the query's domain or there are
 * more rows than cells: the server's answer is not trusted to fit.
 */
int	engine_src_rows_add(struct engine_src_rows *rw, const uint64_t v[4])
	    __attribute__((warn_unused_result));
/*
 * Sort the cells of 'rw' by id; a cell twice is CAIRN_ERR_DB (a server
 * answers each cell once).
 */
int	engine_src_rows_sort(struct engine_src_rows *rw)
	    __attribute__((warn_unused_result));
/*
 * Add the sorted cells of 'src' (a shard's) to the sorted cells of
 * 'dst', summing the counts of a cell both have; 'src' is unchanged.
 */
int	engine_src_rows_merge(struct engine_src_rows *dst,
	    const struct engine_src_rows *src)
	    __attribute__((warn_unused_result));
void	engine_src_rows_release(struct engine_src_rows *rw);

/*
 * Count the check-data row (table index, reason, rows) into 'out'
 * (s->ntables entries); CAIRN_ERR_DB for a table or reason out of range.
 */
int	engine_src_check_add(const struct engine_source *s,
	    struct engine_source_table_report *out, const uint64_t v[3])
	    __attribute__((warn_unused_result));

/*
 * The clients.  Run 'sql' (a cell statement) and add its rows to 'rw'
 * (sorted on success), or the check statement and count its rows into
 * 'out'.  Errors as engine_run_source() says.
 */
int	engine_pg_run(const struct engine_source *s,
	    const struct engine_sql *sql, const volatile sig_atomic_t *stop,
	    struct engine_src_rows *rw) __attribute__((warn_unused_result));
int	engine_pg_check(const struct engine_source *s,
	    const struct engine_sql *sql,
	    struct engine_source_table_report *out)
	    __attribute__((warn_unused_result));
/* Called for each row of numbers of an answer: the shard, the row. */
typedef int (*engine_ch_row_fn)(void *arg, size_t shard, const uint64_t *v);

/*
 * Parse the 'len' bytes of 'body', a ClickHouse answer from 'endpoint'
 * (hostile: a server's bytes), as TabSeparated rows of 'ncols' (1..4)
 * decimal numbers below 2^64, each ending in a newline, handing each row
 * to fn(arg, shard, row) and stopping at its first error.  Anything else
 * is CAIRN_ERR_DB naming the endpoint and the line.
 */
int	engine_ch_answer_parse(const char *endpoint, const char *body,
	    size_t len, size_t ncols, size_t shard, engine_ch_row_fn fn,
	    void *arg) __attribute__((warn_unused_result));
int	engine_ch_run(const struct engine_source *s,
	    const struct engine_sql *sql, const volatile sig_atomic_t *stop,
	    struct engine_src_rows *rw) __attribute__((warn_unused_result));
int	engine_ch_check(const struct engine_source *s,
	    const struct engine_sql *sql,
	    struct engine_source_table_report *out)
	    __attribute__((warn_unused_result));
/*
 * Run the statement of engine_sql_build_split() on every shard of 's',
 * its one number for shard i into split[i].
 */
int	engine_ch_split(const struct engine_source *s,
	    const struct engine_sql *sql, uint64_t *split)
	    __attribute__((warn_unused_result));

/*
 * The values of a statement (sql_values.c).  The cell ids of 'm' and
 * their region ids as two PostgreSQL array literals ('*cells',
 * '*regions', malloc'd); CAIRN_ERR_NOMEM.
 */
int	engine_sql_cell_arrays(const struct engine_cellmap *m, char **cells,
	    char **regions) __attribute__((warn_unused_result));
/* The cell map as TabSeparated rows "cell TAB region"; NULL: no memory. */
char	*engine_sql_cell_rows(const struct engine_cellmap *m);
/*
 * The domain's region ids: a PostgreSQL array literal, or with 'rows'
 * one a line; NULL: no memory.
 */
char	*engine_sql_region_list(const struct engine_cellmap *m, bool rows);
/* Write the 'len' bytes of 'c' escaped for ClickHouse's TabSeparated. */
void	engine_sql_tsv_escape(FILE *f, const char *c, size_t len);

#endif
