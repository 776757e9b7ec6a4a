/*
 * db.h - the SQLite helpers every store shares (node/ledger.c,
 * coordinator/coord_store.c, protocol/tlog_store.c, protocol/
 * tlog_witness.c): opening with one busy timeout, running SQL, and the one
 * place where SQLite's result codes become common/err.h's enum.
 *
 * Messages name the store: "PREFIX: WHAT: SQLite's message", where PREFIX
 * is the file's path (or a name such as "coordinator database") and WHAT
 * the step that failed; a file SQLite finds corrupt or not a database
 * adds " (the store is damaged)".
 */
#ifndef CAIRN_COMMON_DB_H
#define CAIRN_COMMON_DB_H

struct sqlite3;

/*
 * How long a statement waits for another connection's lock before it
 * fails with SQLITE_BUSY: 10 s for every store.  With WAL only writers
 * wait for each other, and a writer that fsyncs (synchronous=FULL) on a
 * loaded machine can hold the lock for seconds; the longer of the two
 * timeouts the stores used (5 s for the ledger and the coordinator's
 * store, 10 s for the log and the witness) can only turn a spurious
 * failure into a success.
 */
#define DB_BUSY_TIMEOUT_MS	10000

/*
 * The cairn code for the SQLite result code 'rc' (primary or extended):
 * CAIRN_OK for SQLITE_OK, SQLITE_ROW and SQLITE_DONE, CAIRN_ERR_DB for
 * every failure (the callers' contracts promise CAIRN_ERR_DB; the
 * message says which failure it was).
 */
int	db_code(int rc);

/*
 * Open 'path' with the sqlite3_open_v2() flags 'flags' and set the busy
 * timeout DB_BUSY_TIMEOUT_MS.  '*out' set on success (sqlite3_close()).
 * On failure nothing stays open: CAIRN_ERR_NOMEM ("opening PATH") when
 * SQLite could not allocate a handle, else db_error(db, path, what).
 */
int	db_open(const char *path, int flags, const char *what,
	    struct sqlite3 **out) __attribute__((warn_unused_result));

/*
 * Record the failure of the last call on 'db' as "PREFIX: WHAT: message"
 * ("PREFIX: message" when 'what' is NULL) and return its cairn code,
 * never CAIRN_OK (CAIRN_ERR_DB when SQLite reports no error).
 */
int	db_error(struct sqlite3 *db, const char *prefix, const char *what);

/*
 * Run the SQL text 'sql' (one or more statements, no rows wanted) on
 * 'db'.  Returns CAIRN_OK or db_error(db, prefix, what).
 */
int	db_exec(struct sqlite3 *db, const char *prefix, const char *sql,
	    const char *what) __attribute__((warn_unused_result));

/*
 * Run SQLite's "PRAGMA integrity_check" on 'db' (every page, index and
 * free list).  Returns CAIRN_OK when it answers "ok", else
 * CAIRN_ERR_FORMAT "PREFIX: SQLite integrity check failed: FIRST
 * PROBLEM", or db_error() when the check itself cannot run.
 */
int	db_integrity(struct sqlite3 *db, const char *prefix)
	    __attribute__((warn_unused_result));

/*
 * Online backup: copy the database open on 'src' (the snapshot of its
 * open read transaction, else its last commit) into the new file 'dest'
 * (mode 0600) with SQLite's backup API, while other connections go on
 * writing.  Written as DEST.tmp, synced, then renamed, so 'dest' is whole
 * or absent.  CAIRN_ERR_EXISTS when 'dest' exists, CAIRN_ERR_IO /
 * CAIRN_ERR_DB naming 'dest' otherwise.
 */
int	db_backup(struct sqlite3 *src, const char *dest)
	    __attribute__((warn_unused_result));

#endif
