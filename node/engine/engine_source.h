/*
 * engine_source.h - SQL push-down sources (DESIGN §11, docs/sources.md).
 * Beside the embedded engine (CSV files, the store), a holder whose
 * records sit in a database points the node at it: for each query kind
 * the node generates one SQL statement (sql_gen.c) that computes the
 * exact per-cell counts inside the holder's engine, with the same
 * per-subscriber rules as the embedded kernels (local time by the
 * query's offset, night hours, modal region with ties to the smaller
 * region id, top-k per bucket with the same tie rule, windows), and reads
 * back only the cells (source_pg.c for PostgreSQL through libpq,
 * source_ch.c for ClickHouse through its HTTP interface and libcurl, on
 * one server or on every shard of a cluster; source.c turns the rows of
 * either into a result).  Noise, the charge and all that follows stay in
 * the node.
 *
 * Flow: engine_source_defaults(), then engine_source_set() per option (or
 * node.conf's [source] keys), engine_source_check(); engine_run_source()
 * gives the same struct engine_result as engine_run_csv().
 */
#ifndef CAIRN_NODE_ENGINE_SOURCE_H
#define CAIRN_NODE_ENGINE_SOURCE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "node/engine/engine.h"

/* Most event tables one source reads. */
#define ENGINE_SOURCE_MAX_TABLES	8

enum engine_source_type {
	ENGINE_SOURCE_POSTGRESQL,	/* postgresql:// or postgres:// */
	ENGINE_SOURCE_CLICKHOUSE	/* clickhouse:// (HTTP interface) */
};

/* Most shards of a ClickHouse cluster one source reads. */
#define ENGINE_SOURCE_MAX_SHARDS	16
/* Most ClickHouse settings one source sends with its statements. */
#define ENGINE_SOURCE_MAX_SETTINGS	16

/*
 * Where the events are and how their columns are named.  Strings are
 * borrowed (from argv or node.conf).  Table names are "schema.table" or
 * "table"; every name is quoted as an identifier in the statement.
 */
struct engine_source {
	enum engine_source_type type;
	const char	*uri;		/* a libpq URI, or clickhouse://
					   [USER[:PASSWORD]@]HOST:PORT/DB */
	const char	*tables[ENGINE_SOURCE_MAX_TABLES];
	size_t		 ntables;	/* default: events.calls */
	const char	*subscriber_column;	/* default msisdn */
	const char	*time_column;		/* default datetime */
	const char	*cell_column;		/* default location_id */
	/* The cell -> region map: the node's cell map (passed as parameters)
	   unless cell_table names a table of the database. */
	const char	*cell_table;
	const char	*cell_table_cell;	/* default cell_id */
	const char	*cell_table_region;	/* default region_id */
	/* Region-level tables: the region id column (no cell map; the
	   domain is the node's region list), and the category column that
	   population_by_category reads. */
	const char	*region_column;
	const char	*category_column;
	int64_t		 statement_timeout_s;	/* 0: none (3600) */
	char		 tabbuf[512];	/* tables split from a list */
	/* ClickHouse: the HTTP endpoints (HOST:PORT) of every shard; the
	   statement runs on each over its local tables and the node adds
	   the cells.  None: the URI's server alone. */
	const char	*shards[ENGINE_SOURCE_MAX_SHARDS];
	size_t		 nshards;
	char		 shardbuf[1024];
	/* ClickHouse: settings sent with every statement on every server,
	   each "name=value" (e.g. max_bytes_before_external_group_by=N);
	   engine_source_check() checks them. */
	const char	*settings[ENGINE_SOURCE_MAX_SETTINGS];
	size_t		 nsettings;
	char		 setbuf[1024];
	/* ClickHouse with shards: the cluster (remote_servers) the shards
	   form, through which check-data counts the subscribers that have
	   events on more than one shard.  NULL: not counted. */
	const char	*cluster;
};

/* A clickhouse:// URI taken apart (percent-escapes decoded). */
struct engine_ch_uri {
	char		user[64];	/* default "default" */
	char		password[128];
	char		host[256];
	unsigned	port;
	char		database[128];
};

/*
 * Take the clickhouse:// URI 'uri' apart into 'out'.  CAIRN_ERR_ARG
 * naming what is wrong (no port, no database, a part too long); the
 * password is never part of a message.
 */
int	engine_ch_uri_parse(const char *uri, struct engine_ch_uri *out)
	    __attribute__((warn_unused_result));

void	engine_source_defaults(struct engine_source *s);
/*
 * Set option 'key' ("uri", "tables", "subscriber_column", "time_column",
 * "cell_column", "cell_table", "cell_table_cell_column",
 * "cell_table_region_column", "region_column", "category_column",
 * "statement_timeout_seconds", "shards", "settings", "cluster") to 'val'
 * (borrowed; "tables", "shards" and "settings" are comma-separated
 * lists).  An unknown key or a bad value is CAIRN_ERR_ARG naming it.
 */
int	engine_source_set(struct engine_source *s, const char *key,
	    const char *val) __attribute__((warn_unused_result));
/*
 * Check the URI's scheme and every name: CAIRN_ERR_ARG for a missing or
 * unknown scheme, a clickhouse:// URI that does not parse, an empty
 * name, shards, settings or a cluster given to a postgresql:// source, a
 * cluster without shards, or a setting that is not name=value (a name of
 * [a-z0-9_], a value of [A-Za-z0-9_.+-], each at most 64 bytes) or that
 * names what the node sets itself (join_use_nulls, max_execution_time:
 * use statement_timeout_seconds, query_id, the database, ...).
 */
int	engine_source_check(struct engine_source *s)
	    __attribute__((warn_unused_result));

/* ---- the statement (sql_gen.c) ---- */

#define ENGINE_SQL_MAXPARAMS	16
#define ENGINE_SQL_MAXEXT	3

/*
 * A table the statement reads that the node sends with it (ClickHouse's
 * external data: the cell map, the domain, the categories).
 */
struct engine_sql_ext {
	char		 name[16];
	const char	*structure;	/* "cell String, region UInt64" */
	const char	*what;
	char		*data;		/* TabSeparated rows */
	size_t		 rows;
};

/*
 * One statement and its parameter values (text, as libpq sends them).
 * With inline_values (ClickHouse 18.16, which has no query parameters)
 * the values are numbers the node wrote into the statement, listed
 * here for --explain, and every string value (cell ids, categories) is
 * an external table instead.
 */
struct engine_sql {
	char	*text;
	size_t	 nparams;
	char	*params[ENGINE_SQL_MAXPARAMS];
	char	 what[ENGINE_SQL_MAXPARAMS][48];	/* their meaning */
	bool	 inline_values;
	size_t	 next;
	struct engine_sql_ext ext[ENGINE_SQL_MAXEXT];
};

/*
 * Build the statement computing 'q''s exact cells over 's' for the
 * region domain 'cells' (whose cells become the map's parameters unless
 * s->cell_table is set).  Its rows are (t, r1, r2, n): a bucket or day
 * index, one or two region ids and a count; engine_run_source() turns
 * them into cells (population_by_category: t is the category's index
 * in the spec's sorted list, and one more row (0, 0, 1, n) counts the
 * window's events under other categories).  population_by_category needs
 * s->category_column (CAIRN_ERR_ARG without it).
 */
int	engine_sql_build(const struct qspec *q,
	    const struct engine_source *s, const struct engine_cellmap *cells,
	    struct engine_sql *out)
	    __attribute__((warn_unused_result));
/*
 * The check-data statement over 's': per table, its rows and those it
 * would refuse by reason (rows: table, rows, empty subscriber, bad time,
 * NULL or empty location, unmapped location).
 */
int	engine_sql_build_check(const struct engine_source *s,
	    const struct engine_cellmap *cells, struct engine_sql *out)
	    __attribute__((warn_unused_result));
void	engine_sql_release(struct engine_sql *sql);
/*
 * Print 'sql' for --explain: the statement, then one comment line per
 * parameter (the cell map's arrays summarised by their length).
 */
void	engine_sql_print(const struct engine_sql *sql, FILE *f);

/* ---- running (source.c, with source_pg.c and source_ch.c) ---- */

/*
 * Run 'q' over the source 's' for the domain 'cells' into 'res' (as
 * engine_run_csv() does; res->subjects is not known and stays 0).  When
 * '*stop' becomes non-zero (may be NULL) the running statement is
 * cancelled and CAIRN_ERR_CANCELLED returned.  A statement over its
 * timeout is CAIRN_ERR_TIMEOUT; a database error is CAIRN_ERR_DB with
 * the server's message; a server that cannot be reached CAIRN_ERR_NET.
 */
int	engine_run_source(const struct qspec *q,
	    const struct engine_source *s, const struct engine_cellmap *cells,
	    const volatile sig_atomic_t *stop, struct engine_result *res) __attribute__((warn_unused_result));

/* What check-data found in one table. */
struct engine_source_table_report {
	char		table[160];
	uint64_t	rows;
	uint64_t	empty_id;	/* NULL or empty subscriber */
	uint64_t	bad_time;	/* NULL, infinite or out of range */
	uint64_t	no_cell;	/* NULL or empty location */
	uint64_t	unmapped;	/* location not in the cell map */
};

/*
 * Count, per table of 's', the rows a query would read and those it
 * would refuse, by reason, into 'out' (s->ntables entries).
 */
int	engine_check_source(const struct engine_source *s,
	    const struct engine_cellmap *cells,
	    struct engine_source_table_report *out)
	    __attribute__((warn_unused_result));
/*
 * The statement that counts, on one shard, its subscribers (over every
 * table) that also have events on another shard of s->cluster: their
 * rows over the cluster outnumber their rows on the shard.  One row,
 * one number.  CAIRN_ERR_ARG without shards and a cluster.
 */
int	engine_sql_build_split(const struct engine_source *s,
	    struct engine_sql *out) __attribute__((warn_unused_result));
/*
 * For a ClickHouse source with shards and a cluster: into split[i] the
 * subscribers of shard i that also have events on another shard (data
 * not sharded by subscriber; s->nshards entries).  Errors as
 * engine_run_source() says.
 */
int	engine_check_split(const struct engine_source *s, uint64_t *split)
	    __attribute__((warn_unused_result));

#endif
