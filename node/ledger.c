/*
 * ledger.c - the node's privacy ledger in SQLite.
 *
 * Tables: charges (one row per charge, never deleted), charge_months (the
 * data-months each charge reads, with its ρ; spend per month is their
 * sum, so no running total can drift from the rows it summarises) and
 * vectors (the noisy vector of a charge whose round is still open, one
 * blob per charge: 'enc' 1 is common/cells.h's encoding (the count, then each cell as a zigzag
 * LEB128 varint), so small noisy counts take a byte or two; 'enc' 0, of
 * ledgers written before, is 8 bytes little-endian per cell).  The
 * database runs in WAL mode with synchronous=FULL, so a committed
 * transaction survives a crash or power loss, and with secure_delete so a
 * closed round's vector is overwritten on disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "common/cells.h"
#include "common/db.h"
#include "common/err.h"
#include "common/fault.h"
#include "common/rho.h"
#include "common/timeutil.h"
#include "node/ledger.h"

struct node_ledger {
	sqlite3	*db;
	char	*path;
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
	"INSERT OR IGNORE INTO meta VALUES('schema', 'cairn-ledger-1');"
	"CREATE TABLE IF NOT EXISTS charges("
	"  id INTEGER PRIMARY KEY,"
	"  query_hash BLOB NOT NULL CHECK(length(query_hash) = 32),"
	"  pset_hash BLOB NOT NULL CHECK(length(pset_hash) = 32),"
	"  created INTEGER NOT NULL,"
	"  rho_nano INTEGER NOT NULL CHECK(rho_nano > 0),"
	"  log_index INTEGER,"
	"  label TEXT NOT NULL,"
	"  query_id TEXT NOT NULL DEFAULT '',"
	"  budget_nano INTEGER NOT NULL DEFAULT 0,"
	"  noise_variance INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX IF NOT EXISTS charges_round ON charges(query_hash, pset_hash);"
	"CREATE TABLE IF NOT EXISTS charge_months("
	"  charge_id INTEGER NOT NULL REFERENCES charges(id),"
	"  month INTEGER NOT NULL,"
	"  rho_nano INTEGER NOT NULL,"
	"  PRIMARY KEY(charge_id, month));"
	"CREATE INDEX IF NOT EXISTS charge_months_month ON charge_months(month);"
	"CREATE TABLE IF NOT EXISTS vectors("
	"  charge_id INTEGER PRIMARY KEY REFERENCES charges(id),"
	"  cells BLOB NOT NULL,"
	"  enc INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS node_state(key TEXT PRIMARY KEY, "
	"  value BLOB NOT NULL);";

static int
db_err(struct node_ledger *l, const char *what)
{
	return db_error(l->db, l->path, what);
}

static int
exec(struct node_ledger *l, const char *sql)
{
	return db_exec(l->db, l->path, sql, NULL);
}

/* Create the file 0600 (never through a symlink) and check its mode. */
static int
prepare_file(const char *path)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return cairn_err(errno == ELOOP ? CAIRN_ERR_PERM : CAIRN_ERR_IO,
		    "%s: cannot open ledger: %s", path,
		    errno == ELOOP ? "it is a symbolic link" : strerror(errno));
	if (fstat(fd, &st) != 0) {
		close(fd);
		return cairn_err(CAIRN_ERR_IO, "%s: %s", path, strerror(errno));
	}
	close(fd);
	if ((st.st_mode & 077) != 0)
		return cairn_err(CAIRN_ERR_PERM,
		    "%s: ledger is readable by group or others (mode %03o); "
		    "chmod 600 it", path, (unsigned)(st.st_mode & 0777));
	if (st.st_uid != geteuid())
		return cairn_err(CAIRN_ERR_PERM,
		    "%s: ledger belongs to another user (uid %u)", path,
		    (unsigned)st.st_uid);
	return CAIRN_OK;
}

/* A ledger made before vectors had an encoding gets the column (enc 0). */
static int
vectors_enc_column(struct node_ledger *l)
{
	sqlite3_stmt *st = NULL;
	bool have = false;
	int s;

	if (sqlite3_prepare_v2(l->db, "PRAGMA table_info(vectors)", -1, &st,
	    NULL) != SQLITE_OK)
		return db_err(l, "reading the vectors table");
	while ((s = sqlite3_step(st)) == SQLITE_ROW)
		if (strcmp((const char *)sqlite3_column_text(st, 1), "enc") ==
		    0)
			have = true;
	sqlite3_finalize(st);
	if (s != SQLITE_DONE)
		return db_err(l, "reading the vectors table");
	if (have)
		return CAIRN_OK;
	return exec(l, "ALTER TABLE vectors ADD COLUMN enc INTEGER NOT NULL "
	    "DEFAULT 0");
}

/* Decode a kept vector of encoding 'enc' (0 or 1); '*cells' malloc'd. */
static int
vector_decode(const struct node_ledger *l, int enc, const uint8_t *b,
    size_t len, int64_t **cells, size_t *ncells)
{
	int64_t *v;
	size_t n;
	int r;

	if (enc == 1) {
		char why[256];

		if ((r = cells_decode(b, len, (uint64_t)LEDGER_MAX_CELLS, cells,
		    ncells)) != CAIRN_ERR_FORMAT)
			return r;
		snprintf(why, sizeof(why), "%s", cairn_errmsg());
		return cairn_err(CAIRN_ERR_DB, "%s: kept vector is corrupt "
		    "(encoding 1, %zu bytes): %s", l->path, len, why);
	}
	if (enc != 0 || len % 8 != 0)
		return cairn_err(CAIRN_ERR_DB, "%s: kept vector is corrupt "
		    "(encoding %d, %zu bytes)", l->path, enc, len);
	n = len / 8;
	if ((v = malloc(n ? n * sizeof(*v) : 1)) == NULL)
		return cairn_err(CAIRN_ERR_NOMEM, "vector of %zu cells", n);
	for (size_t i = 0; i < n; i++) {
		uint64_t u = 0;

		for (int k = 0; k < 8; k++)
			u |= (uint64_t)b[8 * i + (size_t)k] << (8 * k);
		v[i] = (int64_t)u;
	}
	*cells = v;
	*ncells = n;
	return CAIRN_OK;
}

int
node_ledger_open(const char *path, struct node_ledger **out)
{
	struct node_ledger *l;
	int r;

	if ((r = prepare_file(path)) != CAIRN_OK)
		return r;
	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (l->path = strdup(path)) == NULL) {
		free(l);
		return cairn_err(CAIRN_ERR_NOMEM, "%s: out of memory", path);
	}
	if ((r = db_open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW |
	    SQLITE_OPEN_FULLMUTEX, "cannot open ledger", &l->db)) != CAIRN_OK)
		goto out;
	if ((r = exec(l, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	    "PRAGMA secure_delete=ON; PRAGMA foreign_keys=ON;")) != CAIRN_OK ||
	    (r = exec(l, schema)) != CAIRN_OK ||
	    (r = vectors_enc_column(l)) != CAIRN_OK)
		goto out;
	*out = l;
	l = NULL;
	r = CAIRN_OK;
out:
	node_ledger_free(l);
	return r;
}

void
node_ledger_free(struct node_ledger *l)
{
	if (l == NULL)
		return;
	sqlite3_close(l->db);
	free(l->path);
	free(l);
}

int32_t
ledger_month_of_day(int64_t day)
{
	int64_t y;
	unsigned m, d;

	time_civil_from_days(day, &y, &m, &d);
	return (int32_t)(y * 12 + (m - 1));
}

static int
month_spent(struct node_ledger *l, int32_t month, int64_t *spent)
{
	sqlite3_stmt *st = NULL;
	int r;

	if (sqlite3_prepare_v2(l->db, "SELECT coalesce(sum(rho_nano), 0) "
	    "FROM charge_months WHERE month = ?", -1, &st, NULL) != SQLITE_OK)
		return db_err(l, "reading spend");
	sqlite3_bind_int(st, 1, month);
	if (sqlite3_step(st) != SQLITE_ROW) {
		r = db_err(l, "reading spend");
		goto out;
	}
	*spent = sqlite3_column_int64(st, 0);
	r = CAIRN_OK;
out:
	sqlite3_finalize(st);
	return r;
}

/*
 * One charge row known from log entry 'lg', no vector: its months 'months'
 * with 'rho[i]' charged to months[i] ('n' of them).
 */
static int
insert_logged(struct node_ledger *l, const struct node_ledger_logged *lg,
    const int32_t *months, const int64_t *rho, size_t n, const char *label)
{
	static const uint8_t none[32];
	sqlite3_stmt *st = NULL;
	int64_t cid;
	int r = CAIRN_OK;

	if (sqlite3_prepare_v2(l->db, "INSERT INTO charges(query_hash, "
	    "pset_hash, created, rho_nano, log_index, label, query_id, "
	    "budget_nano, noise_variance) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
	    -1, &st, NULL) != SQLITE_OK)
		return db_err(l, "recording a charge from the log");
	sqlite3_bind_blob(st, 1, lg->query_hash, 32, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, none, 32, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (int64_t)time(NULL));
	sqlite3_bind_int64(st, 4, rho[0]);
	sqlite3_bind_int64(st, 5, (int64_t)lg->log_index);
	sqlite3_bind_text(st, 6, label, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, lg->query_id != NULL ? lg->query_id : "", -1,
	    SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, lg->budget_nano);
	sqlite3_bind_int64(st, 9, (int64_t)lg->noise_variance);
	if (sqlite3_step(st) != SQLITE_DONE) {
		r = db_err(l, "recording a charge from the log");
		goto out;
	}
	cid = sqlite3_last_insert_rowid(l->db);
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(l->db, "INSERT INTO charge_months VALUES(?, ?, "
	    "?)", -1, &st, NULL) != SQLITE_OK)
		return db_err(l, "recording a charge from the log");
	for (size_t i = 0; i < n; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, cid);
		sqlite3_bind_int(st, 2, months[i]);
		sqlite3_bind_int64(st, 3, rho[i]);
		if (sqlite3_step(st) != SQLITE_DONE) {
			r = db_err(l, "recording a charge from the log");
			goto out;
		}
	}
out:
	sqlite3_finalize(st);
	return r;
}

int
node_ledger_absorb_logged(struct node_ledger *l,
    const struct node_ledger_logged *lg, bool insert, int64_t *added)
{
	char label[128];
	int64_t spent, sum = 0, diff;
	int r;

	if (lg->nmonths == 0 || lg->nmonths > LEDGER_MAX_MONTHS ||
	    lg->budget_nano < 0 || lg->noise_variance > (uint64_t)INT64_MAX ||
	    lg->log_index > (uint64_t)INT64_MAX)
		return cairn_err(CAIRN_ERR_ARG, "logged charge at index %llu: "
		    "%zu months", (unsigned long long)lg->log_index,
		    lg->nmonths);
	for (size_t i = 0; i < lg->nmonths; i++)
		if (lg->rho_nano[i] <= 0 || lg->cumulative_nano[i] < 0)
			return cairn_err(CAIRN_ERR_ARG, "logged charge at "
			    "index %llu: month %zu charges %lld nano-rho",
			    (unsigned long long)lg->log_index, i + 1,
			    (long long)lg->rho_nano[i]);
	if ((r = exec(l, "BEGIN IMMEDIATE")) != CAIRN_OK)
		return r;
	if (insert) {
		snprintf(label, sizeof(label), "known from log entry %llu "
		    "(not in this ledger)", (unsigned long long)lg->log_index);
		if ((r = insert_logged(l, lg, lg->months, lg->rho_nano,
		    lg->nmonths, label)) != CAIRN_OK)
			goto out;
		for (size_t i = 0; i < lg->nmonths; i++)
			sum += lg->rho_nano[i];
	}
	for (size_t i = 0; i < lg->nmonths; i++) {
		if ((r = month_spent(l, lg->months[i], &spent)) != CAIRN_OK)
			goto out;
		if (spent >= lg->cumulative_nano[i])
			continue;
		diff = lg->cumulative_nano[i] - spent;
		snprintf(label, sizeof(label), "spend shown by log entry %llu "
		    "above this ledger's", (unsigned long long)lg->log_index);
		if ((r = insert_logged(l, lg, &lg->months[i], &diff, 1,
		    label)) != CAIRN_OK)
			goto out;
		sum += diff;
	}
	if ((r = exec(l, "COMMIT")) != CAIRN_OK)
		goto out;
	if (added != NULL)
		*added = sum;
out:
	if (r != CAIRN_OK)
		(void)sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

int
node_ledger_spent(struct node_ledger *l, int32_t month, int64_t *spent)
{
	return month_spent(l, month, spent);
}

static int
check_request(const struct node_ledger_charge_req *req)
{
	if (req->nmonths == 0 || req->nmonths > LEDGER_MAX_MONTHS)
		return cairn_err(CAIRN_ERR_ARG,
		    "a charge reads 1 to %d data-months, not %zu",
		    LEDGER_MAX_MONTHS, req->nmonths);
	for (size_t i = 0; i < req->nmonths; i++)
		for (size_t j = i + 1; j < req->nmonths; j++)
			if (req->months[i] == req->months[j])
				return cairn_err(CAIRN_ERR_ARG,
				    "data-month %d listed twice",
				    (int)req->months[i]);
	if (req->rho_nano <= 0 || req->budget_nano < 0)
		return cairn_err(CAIRN_ERR_ARG, "charge of %lld nano-rho "
		    "against a budget of %lld", (long long)req->rho_nano,
		    (long long)req->budget_nano);
	for (size_t i = 0; req->month_rho_nano != NULL && i < req->nmonths;
	    i++)
		if (req->month_rho_nano[i] <= 0 ||
		    req->month_rho_nano[i] > req->rho_nano)
			return cairn_err(CAIRN_ERR_ARG, "data-month %d: charge "
			    "of %lld nano-rho is not in [1, %lld]",
			    (int)req->months[i],
			    (long long)req->month_rho_nano[i],
			    (long long)req->rho_nano);
	if ((int64_t)req->ncells > LEDGER_MAX_CELLS)
		return cairn_err(CAIRN_ERR_TOOBIG, "vector of %zu cells "
		    "(at most %lld)", req->ncells, (long long)LEDGER_MAX_CELLS);
	if (req->query_id != NULL && strlen(req->query_id) > LEDGER_MAX_LABEL)
		return cairn_err(CAIRN_ERR_TOOBIG, "query id longer than %d "
		    "bytes", LEDGER_MAX_LABEL);
	if (req->noise_variance > (uint64_t)INT64_MAX)
		return cairn_err(CAIRN_ERR_RANGE, "noise variance %llu",
		    (unsigned long long)req->noise_variance);
	if (req->label != NULL && strlen(req->label) > LEDGER_MAX_LABEL)
		return cairn_err(CAIRN_ERR_TOOBIG, "label longer than %d bytes",
		    LEDGER_MAX_LABEL);
	if (req->cells == NULL && req->ncells != 0)
		return cairn_err(CAIRN_ERR_ARG, "%zu cells and no vector",
		    req->ncells);
	for (size_t i = 0; i < req->nstate; i++)
		if (req->state[i].key == NULL ||
		    (req->state[i].val == NULL && req->state[i].len != 0))
			return cairn_err(CAIRN_ERR_ARG, "state row %zu of the "
			    "charge has no key or no value", i);
	return CAIRN_OK;
}

/* One state row, inside the caller's transaction. */
static int
state_put(struct node_ledger *l, const struct node_ledger_kv *kv)
{
	sqlite3_stmt *st = NULL;
	int r;

	if (sqlite3_prepare_v2(l->db, "INSERT OR REPLACE INTO node_state "
	    "VALUES(?, ?)", -1, &st, NULL) != SQLITE_OK)
		return db_err(l, "writing node state");
	sqlite3_bind_text(st, 1, kv->key, -1, SQLITE_STATIC);
	sqlite3_bind_blob64(st, 2, kv->len ? kv->val : "", kv->len,
	    SQLITE_STATIC);
	r = sqlite3_step(st) == SQLITE_DONE ? CAIRN_OK :
	    db_err(l, "writing node state");
	sqlite3_finalize(st);
	return r;
}

/* What month 'i' of 'req' is charged. */
static int64_t
month_rho(const struct node_ledger_charge_req *req, size_t i)
{
	return req->month_rho_nano != NULL ? req->month_rho_nano[i] :
	    req->rho_nano;
}

static void
month_name(int32_t month, char buf[static 16])
{
	snprintf(buf, 16, "%04d-%02d", (int)(month / 12), (int)(month % 12) + 1);
}

int
node_ledger_charge(struct node_ledger *l,
    const struct node_ledger_charge_req *req, int64_t *id)
{
	sqlite3_stmt *st = NULL;
	int64_t spent, cid;
	uint8_t *blob = NULL;
	char mname[16];
	size_t i, blen = 0;
	int r;

	if ((r = check_request(req)) != CAIRN_OK)
		return r;
	if ((r = exec(l, "BEGIN IMMEDIATE")) != CAIRN_OK)
		return r;
	for (i = 0; i < req->nmonths; i++) {
		if ((r = month_spent(l, req->months[i], &spent)) != CAIRN_OK)
			goto out;
		if (spent > req->budget_nano - month_rho(req, i)) {
			char t[3][RHO_TEXT_MAX];

			month_name(req->months[i], mname);
			r = cairn_err(CAIRN_ERR_BUDGET, "data-month %s: spent "
			    "%s rho of a budget of %s, this query needs %s",
			    mname, rho_format((uint64_t)spent, t[0]),
			    rho_format((uint64_t)req->budget_nano, t[1]),
			    rho_format((uint64_t)month_rho(req, i), t[2]));
			goto out;
		}
	}
	if (sqlite3_prepare_v2(l->db, "INSERT INTO charges(query_hash, "
	    "pset_hash, created, rho_nano, label, query_id, budget_nano, "
	    "noise_variance) VALUES(?, ?, ?, ?, ?, ?, ?, ?)", -1,
	    &st, NULL) != SQLITE_OK) {
		r = db_err(l, "recording charge");
		goto out;
	}
	sqlite3_bind_blob(st, 1, req->query_hash, 32, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, req->pset_hash, 32, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (int64_t)time(NULL));
	sqlite3_bind_int64(st, 4, req->rho_nano);
	sqlite3_bind_text(st, 5, req->label != NULL ? req->label : "", -1,
	    SQLITE_STATIC);
	sqlite3_bind_text(st, 6, req->query_id != NULL ? req->query_id : "",
	    -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, req->budget_nano);
	sqlite3_bind_int64(st, 8, (int64_t)req->noise_variance);
	if (sqlite3_step(st) != SQLITE_DONE) {
		r = db_err(l, "recording charge");
		goto out;
	}
	cid = sqlite3_last_insert_rowid(l->db);
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(l->db, "INSERT INTO charge_months VALUES(?, ?, ?)",
	    -1, &st, NULL) != SQLITE_OK) {
		r = db_err(l, "recording charge");
		goto out;
	}
	for (i = 0; i < req->nmonths; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, cid);
		sqlite3_bind_int(st, 2, req->months[i]);
		sqlite3_bind_int64(st, 3, month_rho(req, i));
		if (sqlite3_step(st) != SQLITE_DONE) {
			r = db_err(l, "recording charge");
			goto out;
		}
	}
	sqlite3_finalize(st);
	st = NULL;
	if (req->cells != NULL) {
		if ((r = cells_encode(req->cells, req->ncells, &blob,
		    &blen)) != CAIRN_OK)
			goto out;
		if (sqlite3_prepare_v2(l->db, "INSERT INTO vectors(charge_id, "
		    "cells, enc) VALUES(?, ?, 1)", -1, &st, NULL) !=
		    SQLITE_OK) {
			r = db_err(l, "keeping vector");
			goto out;
		}
		sqlite3_bind_int64(st, 1, cid);
		sqlite3_bind_blob64(st, 2, blob, blen, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE) {
			r = db_err(l, "keeping vector");
			goto out;
		}
		sqlite3_finalize(st);
		st = NULL;
	}
	for (i = 0; i < req->nstate; i++)
		if ((r = state_put(l, &req->state[i])) != CAIRN_OK)
			goto out;
	fault_point("node.before_charge_commit");
	if ((r = exec(l, "COMMIT")) != CAIRN_OK)
		goto out;
	*id = cid;
	r = CAIRN_OK;
out:
	sqlite3_finalize(st);
	if (r != CAIRN_OK)
		(void)sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
	if (blob != NULL) {
		sodium_memzero(blob, blen);
		free(blob);
	}
	return r;
}

int
node_ledger_find_open(struct node_ledger *l, const uint8_t query_hash[static 32],
    const uint8_t pset_hash[static 32], int64_t *id, int64_t **cells,
    size_t *ncells)
{
	sqlite3_stmt *st = NULL;
	int r, s;

	if (sqlite3_prepare_v2(l->db, "SELECT c.id, v.cells, v.enc FROM "
	    "charges c "
	    "JOIN vectors v ON v.charge_id = c.id WHERE c.query_hash = ? AND "
	    "c.pset_hash = ? ORDER BY c.id DESC LIMIT 1", -1, &st, NULL) !=
	    SQLITE_OK)
		return db_err(l, "finding open round");
	sqlite3_bind_blob(st, 1, query_hash, 32, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, pset_hash, 32, SQLITE_STATIC);
	if ((s = sqlite3_step(st)) == SQLITE_DONE) {
		r = CAIRN_ERR_NOTFOUND;
		goto out;
	}
	if (s != SQLITE_ROW) {
		r = db_err(l, "finding open round");
		goto out;
	}
	if (cells != NULL && (r = vector_decode(l, sqlite3_column_int(st, 2),
	    sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1),
	    cells, ncells)) != CAIRN_OK)
		goto out;
	*id = sqlite3_column_int64(st, 0);
	r = CAIRN_OK;
out:
	sqlite3_finalize(st);
	return r;
}

int
node_ledger_close_round(struct node_ledger *l, int64_t id)
{
	sqlite3_stmt *st = NULL;
	int r;

	if (sqlite3_prepare_v2(l->db, "DELETE FROM vectors WHERE charge_id = ?",
	    -1, &st, NULL) != SQLITE_OK)
		return db_err(l, "closing round");
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = db_err(l, "closing round");
	else if (sqlite3_changes(l->db) == 0)
		r = cairn_err(CAIRN_ERR_NOTFOUND,
		    "charge %lld has no open round", (long long)id);
	else
		r = CAIRN_OK;
	sqlite3_finalize(st);
	return r;
}

int
node_ledger_set_log_index(struct node_ledger *l, int64_t id, uint64_t log_index)
{
	sqlite3_stmt *st = NULL;
	int r, s;

	if (log_index > (uint64_t)INT64_MAX)
		return cairn_err(CAIRN_ERR_RANGE, "log index %llu",
		    (unsigned long long)log_index);
	if (sqlite3_prepare_v2(l->db, "SELECT log_index FROM charges WHERE "
	    "id = ?", -1, &st, NULL) != SQLITE_OK)
		return db_err(l, "reading charge");
	sqlite3_bind_int64(st, 1, id);
	s = sqlite3_step(st);
	if (s == SQLITE_DONE) {
		r = cairn_err(CAIRN_ERR_NOTFOUND, "no charge %lld",
		    (long long)id);
		goto out;
	}
	if (s != SQLITE_ROW) {
		r = db_err(l, "reading charge");
		goto out;
	}
	if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
		if ((uint64_t)sqlite3_column_int64(st, 0) == log_index)
			r = CAIRN_OK;
		else
			r = cairn_err(CAIRN_ERR_CONFLICT, "charge %lld is "
			    "already at log index %lld, not %llu",
			    (long long)id,
			    (long long)sqlite3_column_int64(st, 0),
			    (unsigned long long)log_index);
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(l->db, "UPDATE charges SET log_index = ? WHERE "
	    "id = ?", -1, &st, NULL) != SQLITE_OK)
		return db_err(l, "recording log index");
	sqlite3_bind_int64(st, 1, (int64_t)log_index);
	sqlite3_bind_int64(st, 2, id);
	r = sqlite3_step(st) == SQLITE_DONE ? CAIRN_OK :
	    db_err(l, "recording log index");
out:
	sqlite3_finalize(st);
	return r;
}

int
node_ledger_foreach(struct node_ledger *l,
    int (*fn)(const struct node_ledger_entry *, void *), void *ctx)
{
	sqlite3_stmt *st = NULL, *ms = NULL;
	struct node_ledger_entry e;
	int32_t months[LEDGER_MAX_MONTHS];
	int64_t mrho[LEDGER_MAX_MONTHS];
	int r, s;

	if (sqlite3_prepare_v2(l->db, "SELECT c.id, c.query_hash, c.pset_hash, "
	    "c.created, c.rho_nano, c.log_index, c.label, "
	    "EXISTS(SELECT 1 FROM vectors v WHERE v.charge_id = c.id), "
	    "c.query_id, c.budget_nano, c.noise_variance "
	    "FROM charges c ORDER BY c.id", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(l->db, "SELECT month, rho_nano FROM "
	    "charge_months WHERE charge_id = ? ORDER BY month", -1, &ms,
	    NULL) != SQLITE_OK) {
		r = db_err(l, "reading charges");
		goto out;
	}
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&e, 0, sizeof(e));
		e.id = sqlite3_column_int64(st, 0);
		memcpy(e.query_hash, sqlite3_column_blob(st, 1), 32);
		memcpy(e.pset_hash, sqlite3_column_blob(st, 2), 32);
		e.created = sqlite3_column_int64(st, 3);
		e.rho_nano = sqlite3_column_int64(st, 4);
		e.log_index = sqlite3_column_type(st, 5) == SQLITE_NULL ? -1 :
		    sqlite3_column_int64(st, 5);
		e.label = (const char *)sqlite3_column_text(st, 6);
		e.vector_kept = sqlite3_column_int(st, 7) != 0;
		e.query_id = (const char *)sqlite3_column_text(st, 8);
		e.budget_nano = sqlite3_column_int64(st, 9);
		e.noise_variance = (uint64_t)sqlite3_column_int64(st, 10);
		sqlite3_reset(ms);
		sqlite3_bind_int64(ms, 1, e.id);
		while ((s = sqlite3_step(ms)) == SQLITE_ROW &&
		    e.nmonths < LEDGER_MAX_MONTHS) {
			months[e.nmonths] = sqlite3_column_int(ms, 0);
			mrho[e.nmonths++] = sqlite3_column_int64(ms, 1);
		}
		e.months = months;
		e.month_rho_nano = mrho;
		if ((r = fn(&e, ctx)) != 0)
			goto out;
	}
	r = s == SQLITE_DONE ? CAIRN_OK : db_err(l, "reading charges");
out:
	sqlite3_finalize(st);
	sqlite3_finalize(ms);
	return r;
}

int
node_ledger_find_query(struct node_ledger *l,
    const uint8_t query_hash[static 32], struct node_ledger_round *out)
{
	sqlite3_stmt *st = NULL;
	struct node_ledger_round rd;
	int r, s;

	if (sqlite3_prepare_v2(l->db, "SELECT c.id, c.pset_hash, c.created, "
	    "c.log_index, EXISTS(SELECT 1 FROM vectors v WHERE "
	    "v.charge_id = c.id) FROM charges c WHERE c.query_hash = ? "
	    "ORDER BY c.id DESC LIMIT 1", -1, &st, NULL) != SQLITE_OK)
		return db_err(l, "finding charge");
	sqlite3_bind_blob(st, 1, query_hash, 32, SQLITE_STATIC);
	if ((s = sqlite3_step(st)) == SQLITE_DONE) {
		r = CAIRN_ERR_NOTFOUND;
		goto out;
	}
	if (s != SQLITE_ROW) {
		r = db_err(l, "finding charge");
		goto out;
	}
	memset(&rd, 0, sizeof(rd));
	rd.id = sqlite3_column_int64(st, 0);
	memcpy(rd.pset_hash, sqlite3_column_blob(st, 1), 32);
	rd.created = sqlite3_column_int64(st, 2);
	rd.log_index = sqlite3_column_type(st, 3) == SQLITE_NULL ? -1 :
	    sqlite3_column_int64(st, 3);
	rd.vector_kept = sqlite3_column_int(st, 4) != 0;
	*out = rd;
	r = CAIRN_OK;
out:
	sqlite3_finalize(st);
	return r;
}

int
node_ledger_charge_months(struct node_ledger *l, int64_t id,
    struct node_ledger_month *out, size_t cap, size_t *n)
{
	sqlite3_stmt *st = NULL;
	size_t k = 0;
	int r, s;

	if (sqlite3_prepare_v2(l->db, "SELECT m.month, m.rho_nano, "
	    "(SELECT sum(p.rho_nano) FROM charge_months p WHERE "
	    "p.month = m.month AND p.charge_id <= m.charge_id) "
	    "FROM charge_months m WHERE m.charge_id = ? ORDER BY m.month", -1,
	    &st, NULL) != SQLITE_OK)
		return db_err(l, "reading charge months");
	sqlite3_bind_int64(st, 1, id);
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		if (k >= cap) {
			r = cairn_err(CAIRN_ERR_TOOBIG, "charge %lld reads more "
			    "than %zu data-months", (long long)id, cap);
			goto out;
		}
		out[k].month = sqlite3_column_int(st, 0);
		out[k].rho_nano = sqlite3_column_int64(st, 1);
		out[k].cumulative_nano = sqlite3_column_int64(st, 2);
		k++;
	}
	if (s != SQLITE_DONE) {
		r = db_err(l, "reading charge months");
		goto out;
	}
	if (k == 0) {
		r = cairn_err(CAIRN_ERR_NOTFOUND, "no charge %lld",
		    (long long)id);
		goto out;
	}
	*n = k;
	r = CAIRN_OK;
out:
	sqlite3_finalize(st);
	return r;
}

int
node_ledger_charge_params(struct node_ledger *l, int64_t id,
    int64_t *budget_nano, uint64_t *noise_variance)
{
	sqlite3_stmt *st = NULL;
	int r, s;

	if (sqlite3_prepare_v2(l->db, "SELECT budget_nano, noise_variance "
	    "FROM charges WHERE id = ?", -1, &st, NULL) != SQLITE_OK)
		return db_err(l, "reading charge");
	sqlite3_bind_int64(st, 1, id);
	if ((s = sqlite3_step(st)) == SQLITE_DONE)
		r = cairn_err(CAIRN_ERR_NOTFOUND, "no charge %lld",
		    (long long)id);
	else if (s != SQLITE_ROW)
		r = db_err(l, "reading charge");
	else {
		*budget_nano = sqlite3_column_int64(st, 0);
		*noise_variance = (uint64_t)sqlite3_column_int64(st, 1);
		r = CAIRN_OK;
	}
	sqlite3_finalize(st);
	return r;
}

int
node_ledger_expire(struct node_ledger *l, int64_t before, uint64_t *n)
{
	sqlite3_stmt *st = NULL;
	int r;

	if (sqlite3_prepare_v2(l->db, "DELETE FROM vectors WHERE charge_id IN "
	    "(SELECT id FROM charges WHERE created < ?)", -1, &st, NULL) !=
	    SQLITE_OK)
		return db_err(l, "expiring rounds");
	sqlite3_bind_int64(st, 1, before);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = db_err(l, "expiring rounds");
	else {
		if (n != NULL)
			*n = (uint64_t)sqlite3_changes(l->db);
		r = CAIRN_OK;
	}
	sqlite3_finalize(st);
	return r;
}

int
node_ledger_state_get(struct node_ledger *l, const char *key, void *buf,
    size_t cap, size_t *len)
{
	sqlite3_stmt *st = NULL;
	size_t n;
	int r, s;

	if (sqlite3_prepare_v2(l->db, "SELECT value FROM node_state WHERE "
	    "key = ?", -1, &st, NULL) != SQLITE_OK)
		return db_err(l, "reading node state");
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if ((s = sqlite3_step(st)) == SQLITE_DONE)
		r = CAIRN_ERR_NOTFOUND;
	else if (s != SQLITE_ROW)
		r = db_err(l, "reading node state");
	else if ((n = (size_t)sqlite3_column_bytes(st, 0)) > cap)
		r = cairn_err(CAIRN_ERR_TOOBIG, "%s: node state '%s' is %zu "
		    "bytes, more than %zu", l->path, key, n, cap);
	else {
		if (n > 0)
			memcpy(buf, sqlite3_column_blob(st, 0), n);
		*len = n;
		r = CAIRN_OK;
	}
	sqlite3_finalize(st);
	return r;
}

int
node_ledger_state_set(struct node_ledger *l, const char *key,
    const void *buf, size_t len)
{
	struct node_ledger_kv kv = { key, buf, len };

	return state_put(l, &kv);
}

int
node_ledger_state_setv(struct node_ledger *l, const struct node_ledger_kv *kv,
    size_t n)
{
	int r;

	if ((r = exec(l, "BEGIN IMMEDIATE")) != CAIRN_OK)
		return r;
	for (size_t i = 0; i < n; i++)
		if ((r = state_put(l, &kv[i])) != CAIRN_OK) {
			(void)sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
			return r;
		}
	if ((r = exec(l, "COMMIT")) != CAIRN_OK)
		(void)sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}
