/*
 * coord_int.h - the coordinator daemon's modules, shared between
 * coord_config.c (coordinator.conf), coord_store.c (the SQLite state),
 * coord_log.c (log entries, checkpoints, cosignatures), coord_service.c
 * (the 15 methods of cairn.v1.Coordinator, whose own files share
 * coord_service_int.h) and coord_main.c (the cairn-coordinator program).  docs/coordinator.md describes the daemon,
 * docs/federation.md the round it runs.
 */
#ifndef CAIRN_COORD_INT_H
#define CAIRN_COORD_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "coordinator/coord_chain.h"
#include "keys/keys.h"
#include "keys/keys_federation.h"
#include "protocol/cairn.pb-c.h"
#include "protocol/tlog_entry.h"
#include "protocol/tlog_note.h"
#include "protocol/tlog_store.h"

/* ------------------------------------------------------------- config */

#define COORD_GEO_MAX		64	/* geographies in one config */
#define COORD_GEO_REGIONS_MAX	1000000	/* regions of a geography */
#define COORD_QUERY_ID_MAX	128	/* bytes of a query id */

struct coord_geo {
	char		name[KEYS_NAME_MAX + 1];
	uint64_t	nregions;
	uint8_t		sha256[32];	/* of its region file */
	char		path[4096];	/* the region file */
	char		outlines[4096];	/* its GeoJSON outlines, or "" */
};

/* Defaults of [limits] max_long_polls_per_member and max_long_polls. */
#define COORD_LONG_POLLS_PER_MEMBER	16
#define COORD_LONG_POLLS		4096

struct coord_config {
	char			 path[4096];	/* coordinator.conf itself */
	/* [coordinator] */
	char			*identity_key;
	char			*tls_key;
	char			*tls_cert;
	char			*ca_cert;
	char			*federation;
	char			*data_dir;
	char			*listen;
	char			*port_file;
	int64_t			 workers;
	/* [deadlines] */
	int64_t			 advertise_seconds;
	int64_t			 share_seconds;
	int64_t			 redeliver_seconds;
	/* [limits] */
	uint64_t		 max_rho_per_query_nano;
	int64_t			 max_participants;
	int64_t			 max_attempts;
	int64_t			 witness_quorum;
	/* Long polls held per caller and for all callers; 0: the
	 * defaults below. */
	int64_t			 max_long_polls_per_member;
	int64_t			 max_long_polls;
	/* [monitoring] (docs/operations.md) */
	char			*log_format;	/* text | json */
	char			*log_level;	/* NULL: CAIRN_LOG or info */
	char			*mon_listen;	/* HTTP /metrics; NULL: off */
	char			*mon_port_file;
	char			*health_listen;	/* gRPC health; NULL: off */
	char			*health_port_file;
	/* [public] (docs/public.md) */
	char			*pub_dir;	/* NULL: no public directory */
	char			*pub_listen;	/* HTTP; NULL: off */
	char			*pub_port_file;
	char			*pub_tls_cert;
	char			*pub_tls_key;
	int64_t			 pub_max_connections;
	int64_t			 pub_max_per_ip;
	int64_t			 pub_rate_per_ip;	/* requests/s */
	int64_t			 pub_quorum;	/* 0: [limits] witness_quorum */
	/* [geographies] */
	struct config_strlist	 geography;
	struct config_strlist	 outlines;
	/* parsed from 'geography' */
	struct coord_geo	 geos[COORD_GEO_MAX];
	size_t			 ngeos;
};

/*
 * Read and check 'path' into 'cfg' (defaults first, then the file), then
 * read every geography's region file (relative paths are taken from the
 * config file's folder) to count its regions.  Returns CAIRN_OK or
 * CAIRN_ERR_CONFIG / CAIRN_ERR_IO with a detail naming file:line and key.
 * Release 'cfg' with coord_config_release() in every case.
 */
int	coord_config_load(const char *path, struct coord_config *cfg)
	    __attribute__((warn_unused_result));
void	coord_config_release(struct coord_config *cfg);

/*
 * Take into 'cur' (the configuration the coordinator runs with) what
 * 'next' (coordinator.conf loaded again) changed and can change while it
 * serves: [deadlines] (for attempts opened from now on), [limits] but
 * witness_quorum (for queries admitted from now on), [monitoring]
 * log_format and log_level.  'applied' and 'fixed' get the changed keys
 * taken and the changed keys that need a restart (config_reload()).  The
 * caller holds the coordinator's mutex.  Returns CAIRN_OK or
 * CAIRN_ERR_NOMEM ('cur' unchanged).
 */
int	coord_config_reload(struct coord_config *cur,
	    const struct coord_config *next, char *applied, size_t alen,
	    char *fixed, size_t flen) __attribute__((warn_unused_result));

/*
 * Check that federation.conf ('fed', read from 'fedpath') pins every
 * geography of 'cfg' ('path' is coordinator.conf) to the SHA-256 of its
 * region file.  Returns CAIRN_OK or CAIRN_ERR_CONFIG naming the geography,
 * the file and both hashes (or that the pin is missing).
 */
int	coord_config_check_pins(const struct coord_config *cfg,
	    const char *path, const struct keys_federation *fed,
	    const char *fedpath) __attribute__((warn_unused_result));

/* The geography named 'name', or NULL. */
const struct coord_geo *coord_config_geo(const struct coord_config *cfg,
	    const char *name);

/*
 * Count the regions of the region file 'path' ("region_id,name" lines,
 * an optional header, '#' comments): every id an integer, none twice.
 * Returns CAIRN_OK and '*n', or CAIRN_ERR_CONFIG / CAIRN_ERR_IO naming
 * file:line.
 */
int	coord_regions_count(const char *path, uint64_t *n)
	    __attribute__((warn_unused_result));

/* One region of a region file: its id and its name ("" when unnamed). */
struct coord_region {
	uint32_t	 id;
	char		*name;
};

/*
 * Read the region file 'path' as coord_regions_count() checks it, into a
 * new array '*out' of '*n' regions sorted by id (the cells' order), with
 * the name of each (the second column, plain or in double quotes).  Free
 * with coord_regions_free().
 */
int	coord_regions_read(const char *path, struct coord_region **out,
	    size_t *n) __attribute__((warn_unused_result));
void	coord_regions_free(struct coord_region *v, size_t n);

/* -------------------------------------------------------------- store */

/* Query states, as in QueryState of cairn.proto. */
enum coord_qstate {
	COORD_Q_PENDING = 1,
	COORD_Q_RUNNING = 2,
	COORD_Q_RELEASED = 3,
	COORD_Q_REFUSED = 4,
	COORD_Q_FAILED = 5
};

struct coord_store;

/* One query as stored (strings and blobs owned by the struct). */
struct coord_query_row {
	int64_t		 seq;
	char		 query_id[COORD_QUERY_ID_MAX + 1];
	char		 analyst[KEYS_NAME_MAX + 1];
	uint8_t		 hash[32];
	uint8_t		*signed_query;	/* packed SignedQuery */
	size_t		 signed_len;
	uint64_t	 log_index;
	int64_t		 created;
	enum coord_qstate state;
	uint32_t	 attempt;
	char		 failure[TLOG_ENTRY_MAX_REASON + 1];
};

/*
 * Open (creating when missing) the coordinator database 'path' (WAL,
 * synchronous=FULL).  Returns CAIRN_OK and '*out', or CAIRN_ERR_DB naming
 * the path.
 */
int	coord_store_open(const char *path, struct coord_store **out)
	    __attribute__((warn_unused_result));
void	coord_store_close(struct coord_store *s);

/* Insert a new query (state PENDING, attempt 0): CAIRN_ERR_EXISTS if its id
 * is taken. */
int	coord_store_query_add(struct coord_store *s,
	    const struct coord_query_row *q)
	    __attribute__((warn_unused_result));
/* Read query 'id' into '*q' (free with coord_store_row_clear()):
 * CAIRN_ERR_NOTFOUND when absent. */
int	coord_store_query_get(struct coord_store *s, const char *id,
	    struct coord_query_row *q) __attribute__((warn_unused_result));
void	coord_store_row_clear(struct coord_query_row *q);
/* Set state, attempt and failure text of query 'id'. */
int	coord_store_query_set(struct coord_store *s, const char *id,
	    enum coord_qstate state, uint32_t attempt, const char *failure)
	    __attribute__((warn_unused_result));
/*
 * Up to 'cap' queries of 'analyst' (every analyst when NULL) with seq
 * greater than 'after', in seq order, into 'rows' ('*n' of them; clear
 * each).
 */
int	coord_store_query_list(struct coord_store *s, const char *analyst,
	    int64_t after, struct coord_query_row *rows, size_t cap, size_t *n)
	    __attribute__((warn_unused_result));
/*
 * The queries left PENDING or RUNNING (by a stop or crash): up to 'cap'
 * ids into 'ids', '*n' of them.
 */
int	coord_store_open_queries(struct coord_store *s,
	    char (*ids)[COORD_QUERY_ID_MAX + 1], size_t cap, size_t *n)
	    __attribute__((warn_unused_result));
/* Count the queries in each state into counts[state] (6 entries). */
int	coord_store_count(struct coord_store *s, uint64_t counts[6])
	    __attribute__((warn_unused_result));

/* Number of equivocation evidence records (kinds 'e' and 'm'). */
int	coord_store_evidence_count(struct coord_store *s, uint64_t *n)
	    __attribute__((warn_unused_result));

/* A node's signed message of one attempt: an advertisement's charge
 * (kind 'c') or a refusal (kind 'r'), with the index of its entry, or
 * evidence of equivocation: a second signed advertisement (kind 'e') or
 * share manifest (kind 'm'), index 0. */
int	coord_store_signed_add(struct coord_store *s, const char *query_id,
	    uint32_t attempt, const char *node, char kind,
	    const uint8_t *body, size_t blen, const uint8_t *sig, size_t slen,
	    uint64_t log_index) __attribute__((warn_unused_result));
/*
 * Call 'fn' with each stored message of 'kind' for (query_id, attempt)
 * in insertion order; a non-zero return stops and is returned.
 */
int	coord_store_signed_each(struct coord_store *s, const char *query_id,
	    uint32_t attempt, char kind,
	    int (*fn)(void *arg, const char *node, const uint8_t *body,
	    size_t blen, const uint8_t *sig, size_t slen), void *arg)
	    __attribute__((warn_unused_result));

/* Keep the released result of 'query_id': the packed Release and the
 * values as little-endian int64. */
int	coord_store_result_put(struct coord_store *s, const char *query_id,
	    const uint8_t *release, size_t rlen, const int64_t *vals, size_t n)
	    __attribute__((warn_unused_result));
/* Read it back into new buffers (caller frees): CAIRN_ERR_NOTFOUND. */
int	coord_store_result_get(struct coord_store *s, const char *query_id,
	    uint8_t **release, size_t *rlen, int64_t **vals, size_t *n)
	    __attribute__((warn_unused_result));

/* Record that the values of 'query_id', released at 'log_index', were
 * lost (a rebuild from the log): coord_store_result_get() says so. */
int	coord_store_result_lost(struct coord_store *s, const char *query_id,
	    uint64_t log_index) __attribute__((warn_unused_result));

/* Record the signed checkpoint note published for 'size'. */
int	coord_store_checkpoint_put(struct coord_store *s, uint64_t size,
	    const char *note) __attribute__((warn_unused_result));
/* The note published for 'size' in a new buffer: CAIRN_ERR_NOTFOUND. */
int	coord_store_checkpoint_get(struct coord_store *s, uint64_t size,
	    char **note) __attribute__((warn_unused_result));

/* Keep witness 'witness''s cosignature line on the checkpoint of 'size'
 * (a newer one from the same witness for the same size replaces it). */
int	coord_store_cosig_put(struct coord_store *s, const char *witness,
	    uint64_t size, uint64_t ts, const char *line)
	    __attribute__((warn_unused_result));
/* The cosignature lines on 'size', concatenated, in a new buffer, and how
 * many there are. */
int	coord_store_cosig_lines(struct coord_store *s, uint64_t size,
	    char **lines, size_t *count) __attribute__((warn_unused_result));
/* The largest checkpoint size with at least 'quorum' cosignatures:
 * CAIRN_ERR_NOTFOUND when none. */
int	coord_store_cosigned_size(struct coord_store *s, size_t quorum,
	    uint64_t *size) __attribute__((warn_unused_result));

/* The store's SQLite handle, for coord_verify.c's reads (borrowed). */
struct sqlite3	*coord_store_sqlite(struct coord_store *s);

/* ---------------------------------------------------------------- log */

/* The log and what signs its checkpoints. */
/* Most data-months of a POLICY the coordinator checks queries against. */
#define COORD_POLICY_MAX_MONTHS	1200

/* The newest POLICY entry of one node. */
struct coord_policy_seen {
	char			 node[KEYS_NAME_MAX + 1];
	uint8_t			 body_hash[32];	/* SHA-256 of the body */
	uint64_t		 index;
	/* the data-months it declares it holds (YYYYMM, as the node
	   sent them); none: undeclared, not checked */
	uint32_t		 months[COORD_POLICY_MAX_MONTHS];
	size_t			 nmonths;
};

struct coord_public;

struct coord_log {
	struct tlog_store	*tlog;
	struct coord_store	*db;		/* borrowed */
	char			 origin[TLOG_NAME_MAX + 1];
	struct tlog_signer	 signer;
	struct coord_policy_seen *pols;		/* one per node */
	size_t			 npols;
	struct coord_chain	 chain;		/* logged spend per node
						   and data-month */
	int64_t			 last_cp_s;	/* Unix time the current
						   checkpoint was published
						   or found at open */
	struct coord_public	*pub;		/* NULL: no public
						   directory */
};

/*
 * Open the log store 'path' for federation 'fedname' signed by 'id'
 * (borrowed, alive as long as 'lg') and make sure a checkpoint of its
 * current size is published.
 */
int	coord_log_open(struct coord_log *lg, const char *path,
	    const char *fedname, const struct keys_identity *id,
	    struct coord_store *db) __attribute__((warn_unused_result));
void	coord_log_close(struct coord_log *lg);

/*
 * Encode 'e', append it durably and publish a signed checkpoint covering
 * it before returning; '*index' (may be NULL) gets its index.  A CHARGE
 * entry's cumulative spends are noted in lg->chain.
 */
int	coord_log_append(struct coord_log *lg, const struct tlog_entry *e,
	    uint64_t *index) __attribute__((warn_unused_result));

/*
 * Check witness 'name''s (key 'pk') cosignature of the checkpoint of
 * 'size' with 'root' at 'ts' ('sig' = u64be ts || Ed25519, 72 bytes) and
 * keep it.  CAIRN_ERR_NOTFOUND when the log published no checkpoint of
 * that size and root, CAIRN_ERR_SIGNATURE when it does not verify.
 */
int	coord_log_cosign(struct coord_log *lg, const char *name,
	    const uint8_t pk[static 32], uint64_t size, const uint8_t *root,
	    size_t root_len, uint64_t ts, const uint8_t *sig, size_t sig_len)
	    __attribute__((warn_unused_result));

/*
 * Bring the log's membership up to 'fed' before serving: replay the
 * MEMBER entries (signed by this coordinator's key) and append one MEMBER
 * entry per member added, removed or changed (key or certificate) since,
 * signed with 'id' (purpose "member"); also remember each node's newest
 * POLICY entry, and note every CHARGE entry in lg->chain (each node's
 * logged spend per data-month).  '*added' (may be NULL) gets the number
 * of entries
 * appended.  Returns CAIRN_OK, or CAIRN_ERR_FORMAT / _SIGNATURE when a
 * stored MEMBER entry does not check, or a store error.
 */
int	coord_log_members(struct coord_log *lg,
	    const struct keys_federation *fed,
	    const struct keys_identity *id, size_t *added)
	    __attribute__((warn_unused_result));

/*
 * The same for a federation.conf changed while serving: only the MEMBER
 * entries are replayed (the policies and the chain are already known),
 * and the changes since are appended.
 */
int	coord_log_member_changes(struct coord_log *lg,
	    const struct keys_federation *fed,
	    const struct keys_identity *id, size_t *added)
	    __attribute__((warn_unused_result));

/*
 * A node's published policy: 'body' (a serialized Policy) signed with
 * 'sig' by node 'name' whose identity key is 'pk'.  Verifies it (the
 * Policy must name 'name'), and appends a POLICY entry unless it is the
 * same as the node's newest one.  '*index' gets the index of the entry
 * that holds it, '*appended' whether it is new.  Returns CAIRN_OK,
 * CAIRN_ERR_SIGNATURE, CAIRN_ERR_FORMAT or a store error.
 */
int	coord_log_policy(struct coord_log *lg, const char *name,
	    const uint8_t pk[static 32], const uint8_t *body, size_t len,
	    const uint8_t *sig, size_t siglen, uint64_t *index,
	    bool *appended) __attribute__((warn_unused_result));

/*
 * The checkpoint to show: the latest, or with 'quorum' > 0 the newest one
 * with at least 'quorum' cosignatures (the latest when none has), with its
 * cosignature lines appended, in a new buffer.
 */
int	coord_log_checkpoint(struct coord_log *lg, size_t quorum,
	    char **note) __attribute__((warn_unused_result));

/* ------------------------------------------------------------- public */

/* What the public directory's writer did since it was opened. */
struct coord_public_report {
	uint64_t	written;	/* files written */
	uint64_t	checked;	/* existing files found equal */
	uint64_t	removed;	/* superseded partials removed */
	uint64_t	failures;	/* updates that failed (logged) */
	uint64_t	size;		/* entries the tiles cover */
	int		first_error;	/* internal: the scan's error */
};

/*
 * Open the public directory 'dir' (created when missing) for the log
 * 'lg' (borrowed; its tlog, db and origin are used) and bring it up to
 * the database: every tile, bundle and JSON file of every checkpointed
 * size compared with its expected bytes or written, stale temporary files
 * removed, then the checkpoint to show ('quorum' as in
 * coord_log_checkpoint()) written, and then the partial tiles and
 * bundles it supersedes (their full tile is implied by it) removed:
 * those are neither written nor compared.  Returns CAIRN_OK and '*out', or
 * CAIRN_ERR_CONFLICT naming the first file that contradicts the database
 * (other bytes, or a file no checkpointed size implies: a tile beyond
 * the log, a checkpoint of another log or root), CAIRN_ERR_IO,
 * CAIRN_ERR_TOOBIG (an entry over 65,535 bytes) or the store's error.
 */
int	coord_public_open(const char *dir, struct coord_log *lg,
	    size_t quorum, struct coord_public **out)
	    __attribute__((warn_unused_result));

/*
 * Write what is new since the last update: the tiles of the log's new
 * size and the checkpoint (which a cosignature may have changed), then
 * remove the partials of the tiles that checkpoint implies full.  A
 * failure is logged and counted, and the next update tries again (from a
 * full walk when sizes were missed).  NULL does nothing.  Returns the
 * error for tests; callers that already made the entry durable ignore it.
 */
int	coord_public_update(struct coord_public *p);

/*
 * Make the public file 'rel' (under the directory of 'p') hold exactly
 * 'len' bytes of 'data', atomically.  With 'replace' false an existing
 * file that differs is CAIRN_ERR_CONFLICT naming it (a file derived from
 * the database); with 'replace' true it is rewritten (a copy of a
 * configured file).
 */
int	coord_public_put(struct coord_public *p, const char *rel,
	    const void *data, size_t len, bool replace)
	    __attribute__((warn_unused_result));

/* ---- published statistics (coord_publish.c, docs/portal.md) ---- */

struct Cairn__V1__Query;

/*
 * When query 'q' (its QUERY entry at 'q_index') asks `publish`, write
 * releases/<RELEASE index>.json for its result (the packed Release
 * 'release' of 'rlen' bytes and its 'n' values) and the outlines of its
 * geography under 'cfg' into 'p'.  Does nothing for a query without
 * publish or a NULL 'p'.  Returns CAIRN_OK, CAIRN_ERR_CONFLICT (a file
 * there differs), CAIRN_ERR_CONFIG (the geography is not configured) or
 * an I/O error, naming the query.
 */
int	coord_publish_release(struct coord_public *p,
	    const struct coord_config *cfg, const struct Cairn__V1__Query *q,
	    uint64_t q_index, const uint8_t *release, size_t rlen,
	    const int64_t *vals, size_t n) __attribute__((warn_unused_result));

/*
 * coord_publish_release() for every released query of 'db' (at start and
 * by public-rebuild): missing files written, existing ones compared.
 * '*published' (may be NULL) gets the number of release files checked.
 */
int	coord_publish_all(struct coord_public *p, struct coord_store *db,
	    const struct coord_config *cfg, size_t *published)
	    __attribute__((warn_unused_result));

/* The cosignatures the public checkpoint needs under 'cfg'. */
size_t	coord_public_quorum(const struct coord_config *cfg);

/* Counters of 'p'. */
const struct coord_public_report *coord_public_report(
	    const struct coord_public *p);

/* Free 'p' (the directory stays); NULL is accepted. */
void	coord_public_close(struct coord_public *p);

/* What coord_public_route() found: the answer's headers. */
struct coord_public_kind {
	const char	*ctype;		/* Content-Type */
	const char	*cache;		/* Cache-Control */
};

/*
 * Map the request path 'url' (decoded, hostile: "/tile/0/000.p/5") to the
 * file 'rel' ('cap' bytes) of the public directory, from a fixed set:
 * checkpoint, tile/<L>/<N>[.p/<W>] and tile/entries/... in their one C2SP
 * spelling, json/<index>.json, and the portal's files (segments of
 * [A-Za-z0-9._-] not starting with a dot, at most 8 folders deep, with an
 * extension of a known type; "/" is index.html).  No "..", no hidden
 * file, no directory.  Returns CAIRN_OK with 'rel' and '*kind', or
 * CAIRN_ERR_NOTFOUND.
 */
int	coord_public_route(const char *url, char *rel, size_t cap,
	    struct coord_public_kind *kind) __attribute__((warn_unused_result));

struct monitor;
struct public_http;

/*
 * Start the [public] listener of 'cfg' over cfg->pub_dir (TLS when
 * tls_cert and tls_key are set, loaded by keys_tls_load_web()).  Returns
 * CAIRN_OK with '*out' and '*ph' (stop both with coord_public_unlisten),
 * or the error naming the key.
 */
int	coord_public_listen(const struct coord_config *cfg,
	    struct monitor **out, struct public_http **ph)
	    __attribute__((warn_unused_result));
/* Stop the listener and free its state; NULLs are accepted. */
void	coord_public_unlisten(struct monitor *m, struct public_http *ph);

/* ------------------------------------------------------------- verify */

/* What coord_verify() went through. */
struct coord_verify_report {
	uint64_t	entries;	/* log entries re-hashed */
	uint64_t	queries;	/* rows matched to QUERY entries */
	uint64_t	results;	/* rebuilt from RELEASE entries */
	uint64_t	signed_rows;	/* charges, refusals, evidence */
	uint64_t	checkpoints;	/* checkpoint notes in coord.db */
	uint64_t	cosigs;		/* cosignatures verified */
	uint64_t	lost;		/* released results a rebuild lost */
};

/*
 * Check the coordinator's state before serving (docs/operations.md,
 * "Damaged state"): SQLite's integrity check of log.db ('tl') and of
 * coord.db ('db', called 'dbname' in messages); the whole log re-hashed
 * against every stored checkpoint, each checkpoint's signature by 'pub'
 * (the log's key, note name 'origin'); then coord.db against the log:
 * one query row per QUERY entry with the same bytes, id, analyst and
 * time (but for a QUERY that is the last entry: a crash's state, which
 * serve completes), states that follow from the FAILURE and RELEASE
 * entries, each released result rebuilt exactly from its RELEASE entry,
 * each stored charge and refusal equal to its entry, each checkpoint note the log's
 * signed checkpoint of its size, each cosignature valid for its witness
 * (a node of 'fed').  Returns CAIRN_OK and '*rep' (may be NULL), or
 * CAIRN_ERR_FORMAT / CAIRN_ERR_CONFLICT / CAIRN_ERR_SIGNATURE /
 * CAIRN_ERR_DB with one line naming the database, the table or entry.
 */
int	coord_verify(struct tlog_store *tl, struct coord_store *db,
	    const char *dbname, const char *origin, const uint8_t pub[32],
	    const struct keys_federation *fed,
	    struct coord_verify_report *rep)
	    __attribute__((warn_unused_result));

/*
 * Whether the stored result 'release' ('rlen' bytes, a packed Release)
 * and its 'n' values 'vals' (decoded, coord_store_result_decode()) of
 * query 'query_id' are exactly what the RELEASE entry 'e' at 'index'
 * released (both digests of a version 2 entry).
 */
bool	coord_verify_result(const struct tlog_entry *e, uint64_t index,
	    const char *query_id, const void *release, size_t rlen,
	    const int64_t *vals, size_t n);

/*
 * The values of a results row: 'len' bytes of 'blob' in encoding 'enc'
 * (1: common/cells.h; 0: 8 bytes little-endian a value, databases from
 * before the encoding) into a new malloc vector ('*vals', '*n').
 * CAIRN_ERR_DB naming the query when the row is damaged; CAIRN_ERR_NOMEM.
 */
/*
 * Prepare "the release, the values and their encoding of the results row
 * of query ?1" on 'db' (a database from before the encoding reads as
 * encoding 0).  Returns SQLite's code.
 */
struct sqlite3;
struct sqlite3_stmt;
int	coord_store_result_select(struct sqlite3 *db, struct sqlite3_stmt **st);

int	coord_store_result_decode(const char *query_id, int enc,
	    const void *blob, size_t len, int64_t **vals, size_t *n)
	    __attribute__((warn_unused_result));

/*
 * Make coord.db again from log.db (cairn-coordinator rebuild, docs/
 * operations.md): check the log (integrity, every leaf and node, every
 * checkpoint's signature by 'pub'), write a new database beside the old
 * one from the log's entries (queries, states, attempts, charges and
 * refusals, the latest checkpoint); a released result is kept from the
 * old database when it still matches its RELEASE entry, else recorded as
 * lost; verify the new database with coord_verify(), then move the old
 * one aside as coord.db.damaged-UNIXTIME and the new one in place.
 * '*rep' gets the counts, '*kept' and '*lost' the results.
 */
int	coord_rebuild(const char *data_dir, const char *origin,
	    const uint8_t pub[32], const struct keys_federation *fed,
	    struct coord_verify_report *rep, uint64_t *kept, uint64_t *lost)
	    __attribute__((warn_unused_result));

/* ------------------------------------------------------------ service */

struct coord;

/*
 * Load everything 'cfg' names (keys, federation, stores), fail every
 * attempt left open by a previous run with a FAILURE entry, and start
 * serving.  '*out' set on success.
 */
int	coord_start(const struct coord_config *cfg, struct coord **out)
	    __attribute__((warn_unused_result));
/*
 * The checks SubmitQuery makes of the signed query 'sq' from analyst
 * 'caller' under 'cfg' and 'fed' (signature, fields, spec, geography,
 * participants, limits), storing nothing: for tests and the fuzz harness.
 * Returns CAIRN_OK or the handler's error, '*field' naming the field.
 */
int	coord_check_query(const struct coord_config *cfg,
	    const struct keys_federation *fed, const char *caller,
	    const Cairn__V1__SignedQuery *sq, const char **field)
	    __attribute__((warn_unused_result));
/* The TCP port served. */
int	coord_port(const struct coord *c);
/* How many long polls (PollTask, GetRoster, GetQuery) are held now. */
size_t	coord_long_polls(struct coord *c);
/*
 * Reload on SIGHUP: read coordinator.conf ('cfg->path') again and take
 * what can change while serving into 'cfg', which must be the
 * configuration 'c' was started with (coord_config_reload()); set the
 * log's format and level; log what was taken and name every changed key
 * that needs a restart.  federation.conf is taken by the ticker when it
 * changes, as always.  A coordinator.conf that does not load changes
 * nothing.  Returns CAIRN_OK or the error of the load (logged).
 */
int	coord_reload(struct coord *c, struct coord_config *cfg);
/*
 * Stop: refuse new calls, fail every open attempt with a FAILURE entry
 * ("coordinator stopping"), answer the held long polls, stop serving
 * (calls in flight get the grace period), then free.
 */
void	coord_stop(struct coord *c);

#endif
