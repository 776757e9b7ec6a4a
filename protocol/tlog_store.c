/*
 * tlog_store.c - the append-only transparency log in SQLite.
 *
 * Tables (docs/tlog.md has the full layout):
 *   meta(key, value)              'format' = 1
 *   entries(idx, leaf, data)      one row per entry, leaf = its leaf hash
 *   nodes(id, hash)               complete subtrees of level >= 1,
 *                                 id = level << 48 | index
 *   checkpoints(size, root, note) signed checkpoints published for the log
 *
 * The right edge of the tree (struct tlog_frontier) is kept in memory and
 * reloaded from 'nodes' on open; an append writes the entry and the
 * subtrees it closes in the same transaction, so the tables never
 * disagree after a crash.  Proofs read subtree hashes by primary key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "common/db.h"
#include "common/err.h"
#include "protocol/tlog_store.h"

#define STORE_FORMAT	1
#define LEVEL_SHIFT	48
#define MAX_LEVEL	48

enum {
	ST_INS_ENTRY,
	ST_INS_NODE,
	ST_GET_LEAF,
	ST_GET_NODE,
	ST_GET_ENTRY,
	ST_MAX_IDX,
	ST_BEGIN,
	ST_COMMIT,
	ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
	"INSERT INTO entries(idx, leaf, data) VALUES (?1, ?2, ?3)",
	"INSERT INTO nodes(id, hash) VALUES (?1, ?2)",
	"SELECT leaf FROM entries WHERE idx = ?1",
	"SELECT hash FROM nodes WHERE id = ?1",
	"SELECT data FROM entries WHERE idx = ?1",
	"SELECT max(idx) FROM entries",
	"BEGIN",
	"COMMIT",
};

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value) "
	"WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS entries(idx INTEGER PRIMARY KEY, "
	"leaf BLOB NOT NULL, data BLOB NOT NULL);"
	"CREATE TABLE IF NOT EXISTS nodes(id INTEGER PRIMARY KEY, "
	"hash BLOB NOT NULL);"
	"CREATE TABLE IF NOT EXISTS checkpoints(size INTEGER PRIMARY KEY, "
	"root BLOB NOT NULL, note BLOB NOT NULL);"
	"INSERT OR IGNORE INTO meta(key, value) VALUES ('format', 1);";

/*
 * Subtrees of CACHE_LEVEL and above (one per 2^CACHE_LEVEL entries, so
 * n / 2^(CACHE_LEVEL - 1) * 32 bytes: 250 KB per million entries) are
 * also kept in memory, halving the rows a proof reads.
 */
#define CACHE_LEVEL	8

struct node_cache {
	uint8_t		(*h)[TLOG_HASH_LEN];
	uint64_t	 n;	/* hashes of indices 0..n-1 are valid */
	uint64_t	 cap;
};

struct tlog_store {
	sqlite3			*db;
	char			*path;
	sqlite3_stmt		*st[ST_COUNT];
	struct tlog_frontier	 f;
	struct tlog_hash_source	 src;
	struct node_cache	 cache[MAX_LEVEL + 1];
};

static int
dberr(struct tlog_store *s, const char *what)
{
	return db_error(s->db, s->path, what);
}

static int
exec(struct tlog_store *s, const char *sql)
{
	return db_exec(s->db, s->path, sql, sql);
}

/* Read one 32-byte blob from a prepared single-row query bound to 'key'. */
static int
read_hash(struct tlog_store *s, int which, int64_t key, const char *what,
    uint64_t level, uint64_t idx, uint8_t out[TLOG_HASH_LEN])
{
	sqlite3_stmt *st = s->st[which];
	int rc, r;

	sqlite3_bind_int64(st, 1, key);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (sqlite3_column_bytes(st, 0) != TLOG_HASH_LEN) {
			r = cairn_err(CAIRN_ERR_FORMAT, "%s: %s (level %llu, "
			    "index %llu) is not %d bytes", s->path, what,
			    (unsigned long long)level, (unsigned long long)idx,
			    TLOG_HASH_LEN);
		} else {
			memcpy(out, sqlite3_column_blob(st, 0), TLOG_HASH_LEN);
			r = CAIRN_OK;
		}
	} else if (rc == SQLITE_DONE)
		r = cairn_err(CAIRN_ERR_FORMAT, "%s: %s (level %llu, index "
		    "%llu) is missing: the store is damaged", s->path, what,
		    (unsigned long long)level, (unsigned long long)idx);
	else
		r = dberr(s, what);
	sqlite3_reset(st);
	return r;
}

static int
src_node(void *ctx, unsigned level, uint64_t idx, uint8_t out[TLOG_HASH_LEN])
{
	struct tlog_store *s = ctx;
	uint64_t edge = s->f.size >> level;

	/*
	 * The right edge of the current tree is in memory: the subtree of
	 * this level that ends the binary decomposition of the size.
	 */
	if (level < 64 && (edge & 1) != 0 && idx == edge - 1) {
		unsigned pos = (unsigned)__builtin_popcountll(level == 63 ? 0 :
		    s->f.size >> (level + 1));

		memcpy(out, s->f.hash[pos], TLOG_HASH_LEN);
		return CAIRN_OK;
	}
	if (level > MAX_LEVEL || idx >= TLOG_STORE_MAX_SIZE)
		return cairn_err(CAIRN_ERR_RANGE, "node (%u, %llu) is outside "
		    "the store", level, (unsigned long long)idx);
	if (level >= CACHE_LEVEL && idx < s->cache[level].n) {
		memcpy(out, s->cache[level].h[idx], TLOG_HASH_LEN);
		return CAIRN_OK;
	}
	if (level == 0)
		return read_hash(s, ST_GET_LEAF, (int64_t)idx, "leaf hash", 0,
		    idx, out);
	return read_hash(s, ST_GET_NODE,
	    (int64_t)((uint64_t)level << LEVEL_SHIFT | idx), "node hash",
	    level, idx, out);
}

/* Current number of entries according to the table. */
static int
table_size(struct tlog_store *s, uint64_t *size)
{
	sqlite3_stmt *st = s->st[ST_MAX_IDX];
	int r = CAIRN_OK;

	if (sqlite3_step(st) != SQLITE_ROW)
		r = dberr(s, "reading the log size");
	else if (sqlite3_column_type(st, 0) == SQLITE_NULL)
		*size = 0;
	else
		*size = (uint64_t)sqlite3_column_int64(st, 0) + 1;
	sqlite3_reset(st);
	return r;
}

static int
read_entry(struct tlog_store *s, uint64_t index, uint8_t **data, size_t *len)
{
	sqlite3_stmt *st = s->st[ST_GET_ENTRY];
	uint8_t *buf;
	size_t n;
	int rc, r;

	sqlite3_bind_int64(st, 1, (int64_t)index);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		r = cairn_err(CAIRN_ERR_NOTFOUND, "%s: no entry %llu", s->path,
		    (unsigned long long)index);
		goto out;
	}
	if (rc != SQLITE_ROW) {
		r = dberr(s, "reading an entry");
		goto out;
	}
	n = (size_t)sqlite3_column_bytes(st, 0);
	if ((buf = malloc(n > 0 ? n : 1)) == NULL) {
		r = cairn_err(CAIRN_ERR_NOMEM, "entry of %zu bytes", n);
		goto out;
	}
	if (n > 0)
		memcpy(buf, sqlite3_column_blob(st, 0), n);
	*data = buf;
	*len = n;
	r = CAIRN_OK;
out:
	sqlite3_reset(st);
	return r;
}

static int
root_at(struct tlog_store *s, uint64_t size, uint8_t out[TLOG_HASH_LEN])
{
	if (size == s->f.size) {
		tlog_frontier_root(&s->f, out);
		return CAIRN_OK;
	}
	return tlog_range_root(&s->src, 0, size, out);
}

/* Latest checkpoint row: size, root and (optionally) note. */
static int
latest_checkpoint(struct tlog_store *s, uint64_t *size,
    uint8_t root[TLOG_HASH_LEN], char **note, size_t *len)
{
	sqlite3_stmt *st = NULL;
	int rc, r;

	if (sqlite3_prepare_v2(s->db, "SELECT size, root, note FROM "
	    "checkpoints ORDER BY size DESC LIMIT 1", -1, &st, NULL) !=
	    SQLITE_OK)
		return dberr(s, "reading checkpoints");
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		r = cairn_err(CAIRN_ERR_NOTFOUND, "%s: no checkpoint recorded",
		    s->path);
		goto out;
	}
	if (rc != SQLITE_ROW) {
		r = dberr(s, "reading checkpoints");
		goto out;
	}
	if (sqlite3_column_bytes(st, 1) != TLOG_HASH_LEN ||
	    sqlite3_column_int64(st, 0) < 0) {
		r = cairn_err(CAIRN_ERR_FORMAT, "%s: malformed checkpoint row",
		    s->path);
		goto out;
	}
	if (note != NULL) {
		size_t n = (size_t)sqlite3_column_bytes(st, 2);
		char *buf = malloc(n + 1);

		if (buf == NULL) {
			r = cairn_err(CAIRN_ERR_NOMEM, "checkpoint note");
			goto out;
		}
		memcpy(buf, sqlite3_column_blob(st, 2), n);
		buf[n] = '\0';
		*note = buf;
		*len = n;
	}
	*size = (uint64_t)sqlite3_column_int64(st, 0);
	memcpy(root, sqlite3_column_blob(st, 1), TLOG_HASH_LEN);
	r = CAIRN_OK;
out:
	sqlite3_finalize(st);
	return r;
}

/* Store 'hash' as node (level, idx) of the cache, growing it. */
static int
cache_put(struct tlog_store *s, unsigned level, uint64_t idx,
    const uint8_t hash[TLOG_HASH_LEN])
{
	struct node_cache *c = &s->cache[level];

	if (level < CACHE_LEVEL || level > MAX_LEVEL || idx > c->n)
		return CAIRN_OK;	/* not cached, or after a gap */
	if (idx == c->cap) {
		uint64_t cap = c->cap == 0 ? 64 : 2 * c->cap;
		void *p = realloc(c->h, cap * TLOG_HASH_LEN);

		if (p == NULL)
			return cairn_err(CAIRN_ERR_NOMEM, "node cache of %llu "
			    "hashes", (unsigned long long)cap);
		c->h = p;
		c->cap = cap;
	}
	memcpy(c->h[idx], hash, TLOG_HASH_LEN);
	if (idx == c->n)
		c->n++;
	return CAIRN_OK;
}

/* Read the cached levels' rows the cache does not hold yet. */
static int
cache_load(struct tlog_store *s)
{
	sqlite3_stmt *st = NULL;
	int rc, r = CAIRN_OK;

	if (sqlite3_prepare_v2(s->db, "SELECT id, hash FROM nodes WHERE "
	    "id >= ?1 AND id < ?2 ORDER BY id", -1, &st, NULL) != SQLITE_OK)
		return dberr(s, "reading nodes");
	for (unsigned l = CACHE_LEVEL; l <= MAX_LEVEL && r == CAIRN_OK; l++) {
		uint64_t base = (uint64_t)l << LEVEL_SHIFT;

		sqlite3_bind_int64(st, 1, (int64_t)(base | s->cache[l].n));
		sqlite3_bind_int64(st, 2, (int64_t)(base + ((uint64_t)1 <<
		    LEVEL_SHIFT)));
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			uint64_t idx = (uint64_t)sqlite3_column_int64(st, 0) -
			    base;

			if (idx != s->cache[l].n ||
			    sqlite3_column_bytes(st, 1) != TLOG_HASH_LEN)
				break;	/* a gap: read on demand */
			if ((r = cache_put(s, l, idx,
			    sqlite3_column_blob(st, 1))) != CAIRN_OK)
				break;
		}
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			r = dberr(s, "reading nodes");
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return r;
}

/* The cheap integrity checks of open (see the header). */
static int
check_open(struct tlog_store *s)
{
	uint8_t h[TLOG_HASH_LEN], want[TLOG_HASH_LEN], root[TLOG_HASH_LEN];
	uint8_t *data = NULL;
	uint64_t size, cps;
	size_t len;
	int r;

	if ((r = table_size(s, &size)) != CAIRN_OK)
		return r;
	if (size > TLOG_STORE_MAX_SIZE)
		return cairn_err(CAIRN_ERR_FORMAT, "%s: entry index beyond the "
		    "store's range", s->path);
	if ((r = tlog_frontier_load(&s->f, &s->src, size)) != CAIRN_OK ||
	    (r = cache_load(s)) != CAIRN_OK)
		return r;
	if (size > 0) {
		if ((r = read_entry(s, size - 1, &data, &len)) != CAIRN_OK)
			return r;
		tlog_leaf_hash(data, len, h);
		free(data);
		if ((r = src_node(s, 0, size - 1, want)) != CAIRN_OK)
			return r;
		if (memcmp(h, want, TLOG_HASH_LEN) != 0)
			return cairn_err(CAIRN_ERR_FORMAT, "%s: entry %llu does "
			    "not match its stored leaf hash", s->path,
			    (unsigned long long)(size - 1));
	}
	r = latest_checkpoint(s, &cps, want, NULL, NULL);
	if (r == CAIRN_ERR_NOTFOUND) {
		cairn_err_clear();
		return CAIRN_OK;
	}
	if (r != CAIRN_OK)
		return r;
	if (cps > size)
		return cairn_err(CAIRN_ERR_CONFLICT, "%s: the store has %llu "
		    "entries but checkpoint size %llu was published: entries "
		    "were removed", s->path, (unsigned long long)size,
		    (unsigned long long)cps);
	if ((r = root_at(s, cps, root)) != CAIRN_OK)
		return r;
	if (memcmp(root, want, TLOG_HASH_LEN) != 0)
		return cairn_err(CAIRN_ERR_CONFLICT, "%s: the stored tree does "
		    "not reproduce the root of checkpoint size %llu", s->path,
		    (unsigned long long)cps);
	return CAIRN_OK;
}

int
tlog_store_open(const char *path, int flags, struct tlog_store **out)
{
	struct tlog_store *s;
	sqlite3_stmt *st = NULL;
	struct stat sb;
	int r, oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;

	if ((flags & TLOG_STORE_CREATE) != 0)
		oflags |= SQLITE_OPEN_CREATE;
	else if (stat(path, &sb) != 0)
		return cairn_err(CAIRN_ERR_NOTFOUND, "%s: no such log store",
		    path);
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->path = strdup(path)) == NULL) {
		free(s);
		return cairn_err(CAIRN_ERR_NOMEM, "opening %s", path);
	}
	s->src.node = src_node;
	s->src.ctx = s;
	tlog_frontier_init(&s->f);
	if ((r = db_open(path, oflags, "open", &s->db)) != CAIRN_OK)
		goto out;
	if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st,
	    NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		r = dberr(s, "setting WAL mode");
		goto out;
	}
	if (strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
		r = cairn_err(CAIRN_ERR_DB, "%s: cannot use WAL mode", path);
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	/* Proofs read scattered pages: map the file, keep a larger cache. */
	if ((r = exec(s, "PRAGMA synchronous=FULL")) != CAIRN_OK ||
	    (r = exec(s, "PRAGMA mmap_size=4294967296")) != CAIRN_OK ||
	    (r = exec(s, "PRAGMA cache_size=-65536")) != CAIRN_OK ||
	    (r = exec(s, "BEGIN IMMEDIATE")) != CAIRN_OK)
		goto out;
	if ((r = exec(s, schema_sql)) != CAIRN_OK) {
		(void)exec(s, "ROLLBACK");
		goto out;
	}
	if ((r = exec(s, "COMMIT")) != CAIRN_OK)
		goto out;
	if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = "
	    "'format'", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		r = dberr(s, "reading the format");
		goto out;
	}
	if (sqlite3_column_int64(st, 0) != STORE_FORMAT) {
		r = cairn_err(CAIRN_ERR_UNSUPPORTED, "%s: store format %lld, "
		    "this program reads %d", path,
		    (long long)sqlite3_column_int64(st, 0), STORE_FORMAT);
		goto out;
	}
	for (int i = 0; i < ST_COUNT; i++) {
		if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) != SQLITE_OK) {
			r = dberr(s, "preparing statements");
			goto out;
		}
	}
	if ((r = check_open(s)) != CAIRN_OK)
		goto out;
	*out = s;
	s = NULL;
	r = CAIRN_OK;
out:
	sqlite3_finalize(st);
	tlog_store_close(s);
	return r;
}

void
tlog_store_close(struct tlog_store *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	for (int i = 0; i <= MAX_LEVEL; i++)
		free(s->cache[i].h);
	free(s->path);
	free(s);
}

uint64_t
tlog_store_size(const struct tlog_store *s)
{
	return s->f.size;
}

void
tlog_store_root(const struct tlog_store *s, uint8_t out[TLOG_HASH_LEN])
{
	tlog_frontier_root(&s->f, out);
}

static int
emit_node(void *ctx, unsigned level, uint64_t idx,
    const uint8_t hash[TLOG_HASH_LEN])
{
	struct tlog_store *s = ctx;
	sqlite3_stmt *st = s->st[ST_INS_NODE];
	int rc;

	sqlite3_bind_int64(st, 1, (int64_t)((uint64_t)level << LEVEL_SHIFT |
	    idx));
	sqlite3_bind_blob(st, 2, hash, TLOG_HASH_LEN, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return dberr(s, "storing a node");
	return cache_put(s, level, idx, hash);
}

int
tlog_store_append_batch(struct tlog_store *s, const struct tlog_bytes *e,
    size_t n, uint64_t *first)
{
	struct tlog_frontier f;
	sqlite3_stmt *st = s->st[ST_INS_ENTRY];
	uint64_t cached[MAX_LEVEL + 1];
	uint8_t leaf[TLOG_HASH_LEN];
	uint64_t size;
	int r;

	if (n > TLOG_STORE_MAX_BATCH)
		return cairn_err(CAIRN_ERR_TOOBIG, "batch of %zu entries is over "
		    "%d", n, TLOG_STORE_MAX_BATCH);
	for (size_t i = 0; i < n; i++)
		if (e[i].len > TLOG_STORE_MAX_ENTRY)
			return cairn_err(CAIRN_ERR_TOOBIG, "entry of %zu bytes "
			    "is over %d", e[i].len, TLOG_STORE_MAX_ENTRY);
	for (unsigned l = 0; l <= MAX_LEVEL; l++)
		cached[l] = s->cache[l].n;
	if ((r = exec(s, "BEGIN IMMEDIATE")) != CAIRN_OK)
		return r;
	/* Another process may have appended since we last looked. */
	if ((r = table_size(s, &size)) != CAIRN_OK)
		goto out;
	if (size != s->f.size &&
	    ((r = tlog_frontier_load(&s->f, &s->src, size)) != CAIRN_OK ||
	    (r = cache_load(s)) != CAIRN_OK))
		goto out;
	if (n > TLOG_STORE_MAX_SIZE - size) {
		r = cairn_err(CAIRN_ERR_RANGE, "%s: the store is full",
		    s->path);
		goto out;
	}
	memcpy(&f, &s->f, sizeof(f));
	for (size_t i = 0; i < n; i++) {
		int rc;

		tlog_leaf_hash(e[i].p, e[i].len, leaf);
		sqlite3_bind_int64(st, 1, (int64_t)f.size);
		sqlite3_bind_blob(st, 2, leaf, TLOG_HASH_LEN, SQLITE_STATIC);
		sqlite3_bind_blob(st, 3, e[i].len > 0 ? (const void *)e[i].p :
		    "", (int)e[i].len, SQLITE_STATIC);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE) {
			r = dberr(s, "storing an entry");
			goto out;
		}
		if ((r = tlog_frontier_append(&f, leaf, emit_node, s)) !=
		    CAIRN_OK)
			goto out;
	}
	if ((r = exec(s, "COMMIT")) != CAIRN_OK)
		goto out;
	memcpy(&s->f, &f, sizeof(f));
	if (first != NULL)
		*first = size;
	return CAIRN_OK;
out:
	(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	/* Forget the nodes of the batch that was not committed. */
	for (unsigned l = 0; l <= MAX_LEVEL; l++)
		if (s->cache[l].n > cached[l])
			s->cache[l].n = cached[l];
	return r;
}

int
tlog_store_append(struct tlog_store *s, const uint8_t *data, size_t len,
    uint64_t *index)
{
	struct tlog_bytes b = { data, len };

	return tlog_store_append_batch(s, &b, 1, index);
}

int
tlog_store_entry(struct tlog_store *s, uint64_t index, uint8_t **data,
    size_t *len)
{
	if (index >= TLOG_STORE_MAX_SIZE)
		return cairn_err(CAIRN_ERR_NOTFOUND, "%s: no entry %llu",
		    s->path, (unsigned long long)index);
	return read_entry(s, index, data, len);
}

int
tlog_store_leaf_hash(struct tlog_store *s, uint64_t index,
    uint8_t out[TLOG_HASH_LEN])
{
	if (index >= s->f.size)
		return cairn_err(CAIRN_ERR_NOTFOUND, "%s: no entry %llu",
		    s->path, (unsigned long long)index);
	return src_node(s, 0, index, out);
}

/*
 * Proofs read a few dozen rows.  Outside a transaction every statement
 * would take and drop the WAL read lock (fcntl system calls costing more
 * than the lookups), so the readers below run in one read transaction.
 * Returns true when it began one that read_end() must close.
 */
static bool
read_begin(struct tlog_store *s)
{
	sqlite3_stmt *st = s->st[ST_BEGIN];
	bool began;

	if (sqlite3_get_autocommit(s->db) == 0)
		return false;
	began = sqlite3_step(st) == SQLITE_DONE;
	sqlite3_reset(st);
	return began;
}

static void
read_end(struct tlog_store *s, bool began)
{
	sqlite3_stmt *st = s->st[ST_COMMIT];

	if (!began)
		return;
	(void)sqlite3_step(st);
	sqlite3_reset(st);
}

static int
check_size(struct tlog_store *s, uint64_t size)
{
	if (size > s->f.size)
		return cairn_err(CAIRN_ERR_RANGE, "%s: size %llu is beyond the "
		    "log's %llu entries", s->path, (unsigned long long)size,
		    (unsigned long long)s->f.size);
	return CAIRN_OK;
}

int
tlog_store_root_at(struct tlog_store *s, uint64_t size,
    uint8_t out[TLOG_HASH_LEN])
{
	int r;

	bool began;

	if ((r = check_size(s, size)) != CAIRN_OK)
		return r;
	began = read_begin(s);
	r = root_at(s, size, out);
	read_end(s, began);
	return r;
}

int
tlog_store_inclusion_proof(struct tlog_store *s, uint64_t index,
    uint64_t size, uint8_t (*proof)[TLOG_HASH_LEN], size_t cap, size_t *n)
{
	int r;

	bool began;

	if ((r = check_size(s, size)) != CAIRN_OK)
		return r;
	began = read_begin(s);
	r = tlog_inclusion_proof(&s->src, index, size, proof, cap, n);
	read_end(s, began);
	return r;
}

int
tlog_store_consistency_proof(struct tlog_store *s, uint64_t size1,
    uint64_t size2, uint8_t (*proof)[TLOG_HASH_LEN], size_t cap, size_t *n)
{
	int r;

	bool began;

	if ((r = check_size(s, size2)) != CAIRN_OK)
		return r;
	began = read_begin(s);
	r = tlog_consistency_proof(&s->src, size1, size2, proof, cap, n);
	read_end(s, began);
	return r;
}

int
tlog_store_checkpoint_add(struct tlog_store *s, const char *note, size_t len)
{
	struct tlog_note *n = NULL;
	struct tlog_checkpoint cp;
	sqlite3_stmt *st = NULL;
	uint8_t root[TLOG_HASH_LEN], lroot[TLOG_HASH_LEN];
	uint64_t lsize;
	int r, rc;

	if ((r = tlog_note_parse(note, len, &n)) != CAIRN_OK)
		return r;
	if ((r = tlog_checkpoint_parse(n->text, n->text_len, &cp)) != CAIRN_OK)
		goto out;
	if ((r = tlog_store_root_at(s, cp.size, root)) != CAIRN_OK)
		goto out;
	if (memcmp(root, cp.root, TLOG_HASH_LEN) != 0) {
		r = cairn_err(CAIRN_ERR_CONFLICT, "%s: checkpoint root for size "
		    "%llu is not the log's root", s->path,
		    (unsigned long long)cp.size);
		goto out;
	}
	r = latest_checkpoint(s, &lsize, lroot, NULL, NULL);
	if (r == CAIRN_OK && lsize > cp.size) {
		r = cairn_err(CAIRN_ERR_RANGE, "%s: checkpoint size %llu is "
		    "older than the latest, %llu", s->path,
		    (unsigned long long)cp.size, (unsigned long long)lsize);
		goto out;
	}
	if (r != CAIRN_OK && r != CAIRN_ERR_NOTFOUND)
		goto out;
	if (sqlite3_prepare_v2(s->db, "INSERT INTO checkpoints(size, root, "
	    "note) VALUES (?1, ?2, ?3) ON CONFLICT(size) DO UPDATE SET "
	    "note = excluded.note", -1, &st, NULL) != SQLITE_OK) {
		r = dberr(s, "storing a checkpoint");
		goto out;
	}
	sqlite3_bind_int64(st, 1, (int64_t)cp.size);
	sqlite3_bind_blob(st, 2, cp.root, TLOG_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, note, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE) {
		r = dberr(s, "storing a checkpoint");
		goto out;
	}
	r = CAIRN_OK;
out:
	sqlite3_finalize(st);
	tlog_note_free(n);
	return r;
}

int
tlog_store_publish(struct tlog_store *s, const char *origin,
    const struct tlog_signer *signers, size_t nsigners, char **note,
    size_t *len)
{
	struct tlog_checkpoint cp;
	char body[TLOG_NAME_MAX + 128];
	char *signed_note = NULL;
	size_t blen, slen;
	int r;

	memset(&cp, 0, sizeof(cp));
	if (strlen(origin) == 0 || strlen(origin) > TLOG_NAME_MAX)
		return cairn_err(CAIRN_ERR_ARG, "origin must be 1..%d bytes",
		    TLOG_NAME_MAX);
	memcpy(cp.origin, origin, strlen(origin) + 1);
	cp.size = s->f.size;
	tlog_frontier_root(&s->f, cp.root);
	if ((r = tlog_checkpoint_format(&cp, body, sizeof(body), &blen)) !=
	    CAIRN_OK)
		return r;
	if ((r = tlog_note_sign(body, blen, signers, nsigners, &signed_note,
	    &slen)) != CAIRN_OK)
		return r;
	if ((r = tlog_store_checkpoint_add(s, signed_note, slen)) !=
	    CAIRN_OK) {
		free(signed_note);
		return r;
	}
	*note = signed_note;
	*len = slen;
	return CAIRN_OK;
}

int
tlog_store_checkpoint_latest(struct tlog_store *s, char **note, size_t *len,
    struct tlog_checkpoint *cp)
{
	struct tlog_note *n = NULL;
	struct tlog_checkpoint c;
	uint8_t root[TLOG_HASH_LEN];
	uint64_t size;
	char *buf = NULL;
	size_t blen;
	int r;

	if ((r = latest_checkpoint(s, &size, root, &buf, &blen)) != CAIRN_OK)
		return r;
	if (cp != NULL) {
		if ((r = tlog_note_parse(buf, blen, &n)) != CAIRN_OK ||
		    (r = tlog_checkpoint_parse(n->text, n->text_len, &c)) !=
		    CAIRN_OK)
			goto out;
		*cp = c;
	}
	*note = buf;
	*len = blen;
	buf = NULL;
	r = CAIRN_OK;
out:
	tlog_note_free(n);
	free(buf);
	return r;
}

const struct tlog_hash_source *
tlog_store_source(struct tlog_store *s)
{
	return &s->src;
}

int
tlog_store_checkpoint_sizes(struct tlog_store *s, uint64_t **sizes,
    size_t *n)
{
	sqlite3_stmt *st = NULL;
	uint64_t *v = NULL, *nv;
	size_t k = 0, cap = 0;
	int rc, r;

	if (sqlite3_prepare_v2(s->db, "SELECT size FROM checkpoints ORDER BY "
	    "size", -1, &st, NULL) != SQLITE_OK)
		return dberr(s, "reading checkpoints");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (k == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				r = cairn_err(CAIRN_ERR_NOMEM, "checkpoint "
				    "sizes");
				goto out;
			}
			v = nv;
		}
		v[k++] = (uint64_t)sqlite3_column_int64(st, 0);
	}
	if (rc != SQLITE_DONE) {
		r = dberr(s, "reading checkpoints");
		goto out;
	}
	*sizes = v;
	*n = k;
	v = NULL;
	r = CAIRN_OK;
out:
	free(v);
	sqlite3_finalize(st);
	return r;
}

/* State of a full verification: one cursor per tree level. */
struct verify_state {
	struct tlog_store	*s;
	sqlite3_stmt		*level[MAX_LEVEL + 1];
	uint64_t		 nodes;
};

static int
verify_node(void *ctx, unsigned level, uint64_t idx,
    const uint8_t hash[TLOG_HASH_LEN])
{
	struct verify_state *v = ctx;
	struct tlog_store *s = v->s;
	sqlite3_stmt *st;
	uint64_t want = (uint64_t)level << LEVEL_SHIFT | idx;
	int rc;

	if (v->level[level] == NULL) {
		if (sqlite3_prepare_v2(s->db, "SELECT id, hash FROM nodes "
		    "WHERE id >= ?1 AND id < ?2 ORDER BY id", -1,
		    &v->level[level], NULL) != SQLITE_OK)
			return dberr(s, "reading nodes");
		sqlite3_bind_int64(v->level[level], 1,
		    (int64_t)((uint64_t)level << LEVEL_SHIFT));
		sqlite3_bind_int64(v->level[level], 2,
		    (int64_t)((uint64_t)(level + 1) << LEVEL_SHIFT));
	}
	st = v->level[level];
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return dberr(s, "reading nodes");
	if (rc == SQLITE_DONE || (uint64_t)sqlite3_column_int64(st, 0) != want)
		return cairn_err(CAIRN_ERR_FORMAT, "%s: node (level %u, index "
		    "%llu) is missing", s->path, level,
		    (unsigned long long)idx);
	if (sqlite3_column_bytes(st, 1) != TLOG_HASH_LEN ||
	    memcmp(sqlite3_column_blob(st, 1), hash, TLOG_HASH_LEN) != 0)
		return cairn_err(CAIRN_ERR_FORMAT, "%s: stored node (level %u, "
		    "index %llu) differs from the one recomputed from the "
		    "entries", s->path, level, (unsigned long long)idx);
	v->nodes++;
	return CAIRN_OK;
}

static int
count_rows(struct tlog_store *s, const char *sql, uint64_t *n)
{
	sqlite3_stmt *st = NULL;
	int r = CAIRN_OK;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		r = dberr(s, "counting rows");
	else
		*n = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return r;
}

/* Compare checkpoint row 'cst' (positioned) with the recomputed root. */
static int
verify_checkpoint(struct tlog_store *s, sqlite3_stmt *cst,
    const struct tlog_frontier *f)
{
	struct tlog_note *n = NULL;
	struct tlog_checkpoint cp;
	uint8_t root[TLOG_HASH_LEN];
	int r;

	tlog_frontier_root(f, root);
	if (sqlite3_column_bytes(cst, 1) != TLOG_HASH_LEN ||
	    memcmp(sqlite3_column_blob(cst, 1), root, TLOG_HASH_LEN) != 0)
		return cairn_err(CAIRN_ERR_CONFLICT, "%s: checkpoint at size "
		    "%llu does not match the root recomputed from the entries",
		    s->path, (unsigned long long)f->size);
	if ((r = tlog_note_parse(sqlite3_column_blob(cst, 2),
	    (size_t)sqlite3_column_bytes(cst, 2), &n)) != CAIRN_OK)
		return r;
	r = tlog_checkpoint_parse(n->text, n->text_len, &cp);
	tlog_note_free(n);
	if (r != CAIRN_OK)
		return r;
	if (cp.size != f->size || memcmp(cp.root, root, TLOG_HASH_LEN) != 0)
		return cairn_err(CAIRN_ERR_CONFLICT, "%s: checkpoint note at "
		    "size %llu does not match its row", s->path,
		    (unsigned long long)f->size);
	return CAIRN_OK;
}

int
tlog_store_verify(struct tlog_store *s, struct tlog_store_report *rep)
{
	struct verify_state v;
	struct tlog_frontier f;
	struct tlog_store_report out;
	sqlite3_stmt *est = NULL, *cst = NULL;
	uint8_t leaf[TLOG_HASH_LEN];
	uint64_t n = 0, cps = 0;
	bool have_cp;
	int rc, r;

	memset(&v, 0, sizeof(v));
	memset(&out, 0, sizeof(out));
	v.s = s;
	tlog_frontier_init(&f);
	if ((r = exec(s, "BEGIN")) != CAIRN_OK)
		return r;
	if (sqlite3_prepare_v2(s->db, "SELECT idx, leaf, data FROM entries "
	    "ORDER BY idx", -1, &est, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "SELECT size, root, note FROM "
	    "checkpoints ORDER BY size", -1, &cst, NULL) != SQLITE_OK) {
		r = dberr(s, "reading the log");
		goto out;
	}
	rc = sqlite3_step(cst);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		r = dberr(s, "reading checkpoints");
		goto out;
	}
	have_cp = rc == SQLITE_ROW;
	for (;;) {
		/* Every checkpoint at the size reached so far. */
		while (have_cp && (cps = (uint64_t)sqlite3_column_int64(cst,
		    0)) <= f.size) {
			if (cps < f.size) {
				r = cairn_err(CAIRN_ERR_FORMAT, "%s: checkpoint "
				    "row of size %llu is out of order",
				    s->path, (unsigned long long)cps);
				goto out;
			}
			if ((r = verify_checkpoint(s, cst, &f)) != CAIRN_OK)
				goto out;
			out.checkpoints++;
			rc = sqlite3_step(cst);
			if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
				r = dberr(s, "reading checkpoints");
				goto out;
			}
			have_cp = rc == SQLITE_ROW;
		}
		rc = sqlite3_step(est);
		if (rc == SQLITE_DONE)
			break;
		if (rc != SQLITE_ROW) {
			r = dberr(s, "reading entries");
			goto out;
		}
		if ((uint64_t)sqlite3_column_int64(est, 0) != f.size) {
			r = cairn_err(CAIRN_ERR_FORMAT, "%s: entry %llu is "
			    "missing", s->path, (unsigned long long)f.size);
			goto out;
		}
		tlog_leaf_hash(sqlite3_column_blob(est, 2),
		    (size_t)sqlite3_column_bytes(est, 2), leaf);
		if (sqlite3_column_bytes(est, 1) != TLOG_HASH_LEN ||
		    memcmp(sqlite3_column_blob(est, 1), leaf,
		    TLOG_HASH_LEN) != 0) {
			r = cairn_err(CAIRN_ERR_FORMAT, "%s: entry %llu does "
			    "not match its stored leaf hash", s->path,
			    (unsigned long long)f.size);
			goto out;
		}
		if ((r = tlog_frontier_append(&f, leaf, verify_node, &v)) !=
		    CAIRN_OK)
			goto out;
	}
	if (have_cp) {
		r = cairn_err(CAIRN_ERR_CONFLICT, "%s: checkpoint size %llu is "
		    "beyond the %llu entries: entries were removed", s->path,
		    (unsigned long long)cps, (unsigned long long)f.size);
		goto out;
	}
	if ((r = count_rows(s, "SELECT count(*) FROM nodes", &n)) != CAIRN_OK)
		goto out;
	if (n != v.nodes) {
		r = cairn_err(CAIRN_ERR_FORMAT, "%s: %llu stored nodes, %llu "
		    "expected", s->path, (unsigned long long)n,
		    (unsigned long long)v.nodes);
		goto out;
	}
	if (f.size != s->f.size) {
		/* Appended by another process meanwhile: adopt the new edge. */
		memcpy(&s->f, &f, sizeof(f));
	}
	tlog_frontier_root(&f, out.root);
	out.entries = f.size;
	out.nodes = v.nodes;
	if (rep != NULL)
		*rep = out;
	r = CAIRN_OK;
out:
	for (int i = 0; i <= MAX_LEVEL; i++)
		sqlite3_finalize(v.level[i]);
	sqlite3_finalize(est);
	sqlite3_finalize(cst);
	(void)sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	return r;
}

int
tlog_store_integrity(struct tlog_store *s)
{
	return db_integrity(s->db, s->path);
}

int
tlog_store_verify_notes(struct tlog_store *s, const struct tlog_verifier *key,
    uint64_t *n)
{
	sqlite3_stmt *st = NULL;
	struct tlog_note *note;
	uint64_t count = 0, size = 0;
	int rc, r = CAIRN_OK;

	if (sqlite3_prepare_v2(s->db, "SELECT size, note FROM checkpoints "
	    "ORDER BY size", -1, &st, NULL) != SQLITE_OK)
		return dberr(s, "reading checkpoints");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		size = (uint64_t)sqlite3_column_int64(st, 0);
		note = NULL;
		if ((r = tlog_note_parse(sqlite3_column_blob(st, 1),
		    (size_t)sqlite3_column_bytes(st, 1), &note)) == CAIRN_OK)
			r = tlog_note_verify(note, key, 1, 1, NULL, NULL);
		tlog_note_free(note);
		if (r != CAIRN_OK) {
			r = cairn_err(r, "%s: checkpoint of size %llu: %s",
			    s->path, (unsigned long long)size,
			    cairn_errdesc(r));
			break;
		}
		count++;
	}
	if (r == CAIRN_OK && rc != SQLITE_DONE)
		r = dberr(s, "reading checkpoints");
	sqlite3_finalize(st);
	if (r == CAIRN_OK && n != NULL)
		*n = count;
	return r;
}
