/*
 * coord_store.c - the coordinator's own state in SQLite (coord.db in the
 * data directory): queries with their attempt and state, the nodes'
 * signed charges and refusals, released results, the published
 * checkpoints and the witnesses' cosignatures.  The log itself is the
 * tlog store (log.db).  WAL mode, synchronous=FULL: a call that returns
 * CAIRN_OK is on disk.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/cells.h"
#include "common/db.h"
#include "common/err.h"
#include "coordinator/coord_int.h"

struct coord_store {
	sqlite3	*db;
};

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS queries("
	" seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	" query_id TEXT NOT NULL UNIQUE, analyst TEXT NOT NULL,"
	" hash BLOB NOT NULL, signed BLOB NOT NULL,"
	" log_index INTEGER NOT NULL, created INTEGER NOT NULL,"
	" state INTEGER NOT NULL, attempt INTEGER NOT NULL,"
	" failure TEXT NOT NULL DEFAULT '');"
	"CREATE TABLE IF NOT EXISTS signed("
	" query_id TEXT NOT NULL, attempt INTEGER NOT NULL,"
	" node TEXT NOT NULL, kind TEXT NOT NULL, body BLOB NOT NULL,"
	" sig BLOB NOT NULL, log_index INTEGER NOT NULL,"
	" PRIMARY KEY(query_id, attempt, node, kind));"
	"CREATE TABLE IF NOT EXISTS results("
	" query_id TEXT PRIMARY KEY, release BLOB NOT NULL,"
	" vals BLOB NOT NULL, enc INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS results_lost("
	" query_id TEXT PRIMARY KEY, log_index INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS checkpoints("
	" size INTEGER PRIMARY KEY, note TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS cosigs("
	" witness TEXT NOT NULL, size INTEGER NOT NULL,"
	" ts INTEGER NOT NULL, line TEXT NOT NULL,"
	" PRIMARY KEY(witness, size));"
	/*
	 * Every GetCheckpoint and every public update looks cosignatures up
	 * by size; the primary key leads with the witness, so without this
	 * each lookup scanned every cosignature ever kept (29 ms at 100,000
	 * checkpoints, bench/bench_coord_store.c).  Older databases get it
	 * when opened.
	 */
	"CREATE INDEX IF NOT EXISTS cosigs_size ON cosigs(size);";

static int
db_err(struct coord_store *s, const char *what)
{
	return db_error(s->db, "coordinator database", what);
}

/*
 * A database written before results had an encoding keeps its values as
 * 8 little-endian bytes per cell: give it the column, 0 for those rows.
 */
static int
results_enc_column(struct coord_store *s, const char *path)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(s->db, "SELECT enc FROM results LIMIT 0", -1,
	    &st, NULL) == SQLITE_OK) {
		sqlite3_finalize(st);
		return CAIRN_OK;
	}
	return db_exec(s->db, path, "ALTER TABLE results ADD COLUMN enc "
	    "INTEGER NOT NULL DEFAULT 0", NULL);
}

int
coord_store_open(const char *path, struct coord_store **out)
{
	struct coord_store *s;
	int r;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return CAIRN_ERR_NOMEM;
	if ((r = db_open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_FULLMUTEX, NULL, &s->db)) != CAIRN_OK ||
	    (r = db_exec(s->db, path, "PRAGMA journal_mode=WAL;"
	    "PRAGMA synchronous=FULL;", NULL)) != CAIRN_OK ||
	    (r = db_exec(s->db, path, schema_sql, NULL)) != CAIRN_OK ||
	    (r = results_enc_column(s, path)) != CAIRN_OK)
		goto fail;
	*out = s;
	return CAIRN_OK;
fail:
	sqlite3_close(s->db);
	free(s);
	return r;
}

void
coord_store_close(struct coord_store *s)
{
	if (s == NULL)
		return;
	sqlite3_close(s->db);
	free(s);
}

struct sqlite3 *
coord_store_sqlite(struct coord_store *s)
{
	return s->db;
}

static int
prep(struct coord_store *s, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
		return db_err(s, "prepare");
	return CAIRN_OK;
}

/* Step a statement that returns no rows, then finalize it. */
static int
run(struct coord_store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	if (rc == SQLITE_CONSTRAINT)
		return cairn_err(CAIRN_ERR_EXISTS, "%s: exists already", what);
	if (rc != SQLITE_DONE)
		return db_err(s, what);
	return CAIRN_OK;
}

int
coord_store_query_add(struct coord_store *s, const struct coord_query_row *q)
{
	sqlite3_stmt *st;
	int r;

	if ((r = prep(s, "INSERT INTO queries(query_id, analyst, hash, signed,"
	    " log_index, created, state, attempt, failure)"
	    " VALUES(?,?,?,?,?,?,?,?,'')", &st)) != CAIRN_OK)
		return r;
	sqlite3_bind_text(st, 1, q->query_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, q->analyst, -1, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 3, q->hash, 32, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 4, q->signed_query, (int)q->signed_len,
	    SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, (int64_t)q->log_index);
	sqlite3_bind_int64(st, 6, q->created);
	sqlite3_bind_int(st, 7, COORD_Q_PENDING);
	sqlite3_bind_int64(st, 8, 0);
	return run(s, st, "query");
}

static int
row_read(sqlite3_stmt *st, struct coord_query_row *q)
{
	const void *b;
	int n;

	memset(q, 0, sizeof(*q));
	q->seq = sqlite3_column_int64(st, 0);
	snprintf(q->query_id, sizeof(q->query_id), "%s",
	    (const char *)sqlite3_column_text(st, 1));
	snprintf(q->analyst, sizeof(q->analyst), "%s",
	    (const char *)sqlite3_column_text(st, 2));
	if (sqlite3_column_bytes(st, 3) == 32)
		memcpy(q->hash, sqlite3_column_blob(st, 3), 32);
	b = sqlite3_column_blob(st, 4);
	n = sqlite3_column_bytes(st, 4);
	if ((q->signed_query = malloc(n > 0 ? (size_t)n : 1)) == NULL)
		return CAIRN_ERR_NOMEM;
	if (n > 0)
		memcpy(q->signed_query, b, (size_t)n);
	q->signed_len = (size_t)n;
	q->log_index = (uint64_t)sqlite3_column_int64(st, 5);
	q->created = sqlite3_column_int64(st, 6);
	q->state = (enum coord_qstate)sqlite3_column_int(st, 7);
	q->attempt = (uint32_t)sqlite3_column_int64(st, 8);
	snprintf(q->failure, sizeof(q->failure), "%s",
	    (const char *)sqlite3_column_text(st, 9));
	return CAIRN_OK;
}

#define ROW_COLS "seq, query_id, analyst, hash, signed, log_index, created," \
	" state, attempt, failure"

int
coord_store_query_get(struct coord_store *s, const char *id,
    struct coord_query_row *q)
{
	sqlite3_stmt *st;
	int r, rc;

	if ((r = prep(s, "SELECT " ROW_COLS " FROM queries WHERE query_id = ?",
	    &st)) != CAIRN_OK)
		return r;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r = row_read(st, q);
	else if (rc == SQLITE_DONE)
		r = cairn_err(CAIRN_ERR_NOTFOUND, "no query '%s'", id);
	else
		r = db_err(s, "query");
	sqlite3_finalize(st);
	return r;
}

void
coord_store_row_clear(struct coord_query_row *q)
{
	free(q->signed_query);
	q->signed_query = NULL;
}

int
coord_store_query_set(struct coord_store *s, const char *id,
    enum coord_qstate state, uint32_t attempt, const char *failure)
{
	sqlite3_stmt *st;
	int r;

	if ((r = prep(s, "UPDATE queries SET state = ?, attempt = ?,"
	    " failure = ? WHERE query_id = ?", &st)) != CAIRN_OK)
		return r;
	sqlite3_bind_int(st, 1, (int)state);
	sqlite3_bind_int64(st, 2, attempt);
	sqlite3_bind_text(st, 3, failure ? failure : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, id, -1, SQLITE_TRANSIENT);
	return run(s, st, "query state");
}

int
coord_store_query_list(struct coord_store *s, const char *analyst,
    int64_t after, struct coord_query_row *rows, size_t cap, size_t *n)
{
	sqlite3_stmt *st;
	size_t k = 0;
	int r, rc;

	if ((r = prep(s, analyst != NULL ?
	    "SELECT " ROW_COLS " FROM queries WHERE seq > ? AND analyst = ?"
	    " ORDER BY seq LIMIT ?" :
	    "SELECT " ROW_COLS " FROM queries WHERE seq > ?"
	    " ORDER BY seq LIMIT ?", &st)) != CAIRN_OK)
		return r;
	sqlite3_bind_int64(st, 1, after);
	if (analyst != NULL) {
		sqlite3_bind_text(st, 2, analyst, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 3, (int64_t)cap);
	} else
		sqlite3_bind_int64(st, 2, (int64_t)cap);
	while (k < cap && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((r = row_read(st, &rows[k])) != CAIRN_OK)
			goto fail;
		k++;
	}
	if (k < cap && rc != SQLITE_DONE) {
		r = db_err(s, "list");
		goto fail;
	}
	sqlite3_finalize(st);
	*n = k;
	return CAIRN_OK;
fail:
	sqlite3_finalize(st);
	for (size_t i = 0; i < k; i++)
		coord_store_row_clear(&rows[i]);
	return r;
}

int
coord_store_open_queries(struct coord_store *s,
    char (*ids)[COORD_QUERY_ID_MAX + 1], size_t cap, size_t *n)
{
	sqlite3_stmt *st;
	size_t k = 0;
	int r, rc;

	if ((r = prep(s, "SELECT query_id FROM queries WHERE state IN (1, 2)"
	    " ORDER BY seq LIMIT ?", &st)) != CAIRN_OK)
		return r;
	sqlite3_bind_int64(st, 1, (int64_t)cap);
	while (k < cap && (rc = sqlite3_step(st)) == SQLITE_ROW)
		snprintf(ids[k++], COORD_QUERY_ID_MAX + 1, "%s",
		    (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	*n = k;
	return CAIRN_OK;
}

int
coord_store_count(struct coord_store *s, uint64_t counts[6])
{
	sqlite3_stmt *st;
	int r;

	memset(counts, 0, 6 * sizeof(counts[0]));
	if ((r = prep(s, "SELECT state, count(*) FROM queries GROUP BY state",
	    &st)) != CAIRN_OK)
		return r;
	while (sqlite3_step(st) == SQLITE_ROW) {
		int k = sqlite3_column_int(st, 0);

		if (k >= 0 && k < 6)
			counts[k] = (uint64_t)sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return CAIRN_OK;
}

int
coord_store_evidence_count(struct coord_store *s, uint64_t *n)
{
	sqlite3_stmt *st;
	int r;

	if ((r = prep(s, "SELECT count(*) FROM signed WHERE kind IN ('e', 'm')",
	    &st)) != CAIRN_OK)
		return r;
	if (sqlite3_step(st) == SQLITE_ROW)
		*n = (uint64_t)sqlite3_column_int64(st, 0);
	else
		r = db_err(s, "evidence");
	sqlite3_finalize(st);
	return r;
}

int
coord_store_signed_add(struct coord_store *s, const char *query_id,
    uint32_t attempt, const char *node, char kind, const uint8_t *body,
    size_t blen, const uint8_t *sig, size_t slen, uint64_t log_index)
{
	char k[2] = { kind, '\0' };
	sqlite3_stmt *st;
	int r;

	if ((r = prep(s, "INSERT INTO signed(query_id, attempt, node, kind,"
	    " body, sig, log_index) VALUES(?,?,?,?,?,?,?)", &st)) != CAIRN_OK)
		return r;
	sqlite3_bind_text(st, 1, query_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, attempt);
	sqlite3_bind_text(st, 3, node, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, k, -1, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 5, blen ? body : (const uint8_t *)"", (int)blen,
	    SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 6, slen ? sig : (const uint8_t *)"", (int)slen,
	    SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 7, (int64_t)log_index);
	return run(s, st, "signed message");
}

int
coord_store_signed_each(struct coord_store *s, const char *query_id,
    uint32_t attempt, char kind,
    int (*fn)(void *arg, const char *node, const uint8_t *body, size_t blen,
    const uint8_t *sig, size_t slen), void *arg)
{
	char k[2] = { kind, '\0' };
	sqlite3_stmt *st;
	int r, rc;

	if ((r = prep(s, "SELECT node, body, sig FROM signed WHERE query_id = ?"
	    " AND attempt = ? AND kind = ? ORDER BY rowid", &st)) != CAIRN_OK)
		return r;
	sqlite3_bind_text(st, 1, query_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, attempt);
	sqlite3_bind_text(st, 3, k, -1, SQLITE_TRANSIENT);
	r = CAIRN_OK;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((r = fn(arg, (const char *)sqlite3_column_text(st, 0),
		    sqlite3_column_blob(st, 1),
		    (size_t)sqlite3_column_bytes(st, 1),
		    sqlite3_column_blob(st, 2),
		    (size_t)sqlite3_column_bytes(st, 2))) != 0)
			break;
	}
	if (r == CAIRN_OK && rc != SQLITE_DONE)
		r = db_err(s, "signed messages");
	sqlite3_finalize(st);
	return r;
}

int
coord_store_result_put(struct coord_store *s, const char *query_id,
    const uint8_t *release, size_t rlen, const int64_t *vals, size_t n)
{
	sqlite3_stmt *st;
	uint8_t *blob;
	size_t blen;
	int r;

	/* Encoding 1 (common/cells.h): a released count takes a byte or
	   two, not eight, so the write and fsync before RELEASE is logged
	   are an eighth of the raw vector's. */
	if ((r = cells_encode(vals, n, &blob, &blen)) != CAIRN_OK)
		return r;
	if (blen > (size_t)INT32_MAX) {
		free(blob);
		return cairn_err(CAIRN_ERR_TOOBIG, "result of %zu cells", n);
	}
	if ((r = prep(s, "INSERT OR REPLACE INTO results(query_id, release, "
	    "vals, enc) VALUES(?,?,?,1)", &st)) != CAIRN_OK) {
		free(blob);
		return r;
	}
	sqlite3_bind_text(st, 1, query_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 2, release, (int)rlen, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 3, blob, (int)blen, free);
	return run(s, st, "result");
}

int
coord_store_result_select(struct sqlite3 *db, struct sqlite3_stmt **st)
{
	if (sqlite3_prepare_v2(db, "SELECT release, vals, enc FROM results "
	    "WHERE query_id = ?", -1, st, NULL) == SQLITE_OK)
		return SQLITE_OK;
	/* A database from before the encoding (opened read-only). */
	return sqlite3_prepare_v2(db, "SELECT release, vals, 0 FROM results "
	    "WHERE query_id = ?", -1, st, NULL);
}

int
coord_store_result_decode(const char *query_id, int enc, const void *blob,
    size_t len, int64_t **vals, size_t *n)
{
	const uint8_t *b = blob;
	int64_t *v;
	size_t vn;
	int r;

	if (enc == 1) {
		char why[256];

		if ((r = cells_decode(b, len, (uint64_t)INT32_MAX, vals, n)) !=
		    CAIRN_ERR_FORMAT)
			return r;
		snprintf(why, sizeof(why), "%s", cairn_errmsg());
		return cairn_err(CAIRN_ERR_DB, "coordinator database: the "
		    "result of '%s' is corrupt: %s", query_id, why);
	}
	if (enc != 0 || len % 8 != 0)
		return cairn_err(CAIRN_ERR_DB, "coordinator database: the "
		    "result of '%s' is corrupt (encoding %d, %zu bytes)",
		    query_id, enc, len);
	vn = len / 8;
	if ((v = malloc(vn * 8 + 8)) == NULL)
		return CAIRN_ERR_NOMEM;
	for (size_t i = 0; i < vn; i++) {
		uint64_t x = 0;

		for (int k = 0; k < 8; k++)
			x |= (uint64_t)b[i * 8 + (size_t)k] << (8 * k);
		v[i] = (int64_t)x;
	}
	*vals = v;
	*n = vn;
	return CAIRN_OK;
}

/* NOTFOUND for a result never kept, or kept and lost in a rebuild. */
static int
result_missing(struct coord_store *s, const char *query_id)
{
	sqlite3_stmt *st;
	long long at = -1;

	if (prep(s, "SELECT log_index FROM results_lost WHERE query_id = ?",
	    &st) == CAIRN_OK) {
		sqlite3_bind_text(st, 1, query_id, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_ROW)
			at = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	if (at >= 0)
		return cairn_err(CAIRN_ERR_NOTFOUND, "the values of '%s' were "
		    "lost when coord.db was rebuilt from the log; RELEASE "
		    "entry %lld keeps their hash", query_id, at);
	return cairn_err(CAIRN_ERR_NOTFOUND, "no result for '%s'", query_id);
}

int
coord_store_result_lost(struct coord_store *s, const char *query_id,
    uint64_t log_index)
{
	sqlite3_stmt *st;
	int r;

	if ((r = prep(s, "INSERT OR REPLACE INTO results_lost(query_id, "
	    "log_index) VALUES(?,?)", &st)) != CAIRN_OK)
		return r;
	sqlite3_bind_text(st, 1, query_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, (int64_t)log_index);
	return run(s, st, "lost result");
}

int
coord_store_result_get(struct coord_store *s, const char *query_id,
    uint8_t **release, size_t *rlen, int64_t **vals, size_t *n)
{
	sqlite3_stmt *st;
	uint8_t *rel = NULL;
	int64_t *v = NULL;
	size_t rl, vn;
	int r, rc;

	if ((r = prep(s, "SELECT release, vals, enc FROM results "
	    "WHERE query_id = ?", &st)) != CAIRN_OK)
		return r;
	sqlite3_bind_text(st, 1, query_id, -1, SQLITE_TRANSIENT);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? result_missing(s, query_id) :
		    db_err(s, "result");
		goto out;
	}
	rl = (size_t)sqlite3_column_bytes(st, 0);
	if ((rel = malloc(rl + 1)) == NULL) {
		r = CAIRN_ERR_NOMEM;
		goto out;
	}
	if (rl > 0)
		memcpy(rel, sqlite3_column_blob(st, 0), rl);
	if ((r = coord_store_result_decode(query_id, sqlite3_column_int(st, 2),
	    sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1),
	    &v, &vn)) != CAIRN_OK)
		goto out;
	*release = rel;
	*rlen = rl;
	*vals = v;
	*n = vn;
	rel = NULL;
	v = NULL;
	r = CAIRN_OK;
out:
	free(rel);
	free(v);
	sqlite3_finalize(st);
	return r;
}

int
coord_store_checkpoint_put(struct coord_store *s, uint64_t size,
    const char *note)
{
	sqlite3_stmt *st;
	int r;

	if ((r = prep(s, "INSERT OR REPLACE INTO checkpoints(size, note)"
	    " VALUES(?,?)", &st)) != CAIRN_OK)
		return r;
	sqlite3_bind_int64(st, 1, (int64_t)size);
	sqlite3_bind_text(st, 2, note, -1, SQLITE_TRANSIENT);
	return run(s, st, "checkpoint");
}

int
coord_store_checkpoint_get(struct coord_store *s, uint64_t size, char **note)
{
	sqlite3_stmt *st;
	int r;

	if ((r = prep(s, "SELECT note FROM checkpoints WHERE size = ?", &st))
	    != CAIRN_OK)
		return r;
	sqlite3_bind_int64(st, 1, (int64_t)size);
	if (sqlite3_step(st) == SQLITE_ROW) {
		if ((*note = strdup((const char *)sqlite3_column_text(st, 0)))
		    == NULL)
			r = CAIRN_ERR_NOMEM;
	} else
		r = cairn_err(CAIRN_ERR_NOTFOUND, "no checkpoint of size %llu",
		    (unsigned long long)size);
	sqlite3_finalize(st);
	return r;
}

int
coord_store_cosig_put(struct coord_store *s, const char *witness,
    uint64_t size, uint64_t ts, const char *line)
{
	sqlite3_stmt *st;
	int r;

	if ((r = prep(s, "INSERT OR REPLACE INTO cosigs(witness, size, ts,"
	    " line) VALUES(?,?,?,?)", &st)) != CAIRN_OK)
		return r;
	sqlite3_bind_text(st, 1, witness, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, (int64_t)size);
	sqlite3_bind_int64(st, 3, (int64_t)ts);
	sqlite3_bind_text(st, 4, line, -1, SQLITE_TRANSIENT);
	return run(s, st, "cosignature");
}

int
coord_store_cosig_lines(struct coord_store *s, uint64_t size, char **lines,
    size_t *count)
{
	sqlite3_stmt *st;
	char *buf = NULL, *nb;
	size_t len = 0, k = 0;
	int r;

	if ((r = prep(s, "SELECT line FROM cosigs WHERE size = ?"
	    " ORDER BY witness", &st)) != CAIRN_OK)
		return r;
	sqlite3_bind_int64(st, 1, (int64_t)size);
	while (sqlite3_step(st) == SQLITE_ROW && k < TLOG_NOTE_MAX_SIGS - 1) {
		const char *l = (const char *)sqlite3_column_text(st, 0);
		size_t ll = strlen(l);

		if ((nb = realloc(buf, len + ll + 1)) == NULL) {
			r = CAIRN_ERR_NOMEM;
			goto out;
		}
		buf = nb;
		memcpy(buf + len, l, ll + 1);
		len += ll;
		k++;
	}
	if (buf == NULL && (buf = strdup("")) == NULL) {
		r = CAIRN_ERR_NOMEM;
		goto out;
	}
	*lines = buf;
	*count = k;
	buf = NULL;
out:
	free(buf);
	sqlite3_finalize(st);
	return r;
}

int
coord_store_cosigned_size(struct coord_store *s, size_t quorum,
    uint64_t *size)
{
	sqlite3_stmt *st;
	int r;

	if ((r = prep(s, "SELECT size FROM cosigs GROUP BY size"
	    " HAVING count(*) >= ? ORDER BY size DESC LIMIT 1", &st))
	    != CAIRN_OK)
		return r;
	sqlite3_bind_int64(st, 1, (int64_t)quorum);
	if (sqlite3_step(st) == SQLITE_ROW)
		*size = (uint64_t)sqlite3_column_int64(st, 0);
	else
		r = cairn_err(CAIRN_ERR_NOTFOUND, "no checkpoint with %zu "
		    "cosignatures", quorum);
	sqlite3_finalize(st);
	return r;
}
