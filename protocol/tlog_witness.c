/*
 * tlog_witness.c - witness state and cosigning (see tlog_witness.h).
 *
 * Tables:
 *   latest(origin, size, root, note, time)  one row per log origin
 *   evidence(id, origin, kind, old_note, new_note, proof, time)
 *     kind 'fork': two signed checkpoints of one size with different roots
 *     kind 'inconsistent': a signed checkpoint whose consistency proof
 *     from the latest did not verify (proof = the concatenated hashes)
 * The state is updated in the same transaction as the check reads it,
 * so two witness processes cannot both advance from one old state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/db.h"
#include "common/err.h"
#include "protocol/tlog_witness.h"

struct tlog_witness {
	sqlite3	*db;
	char	*path;
};

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS latest(origin TEXT PRIMARY KEY, "
	"size INTEGER NOT NULL, root BLOB NOT NULL, note BLOB NOT NULL, "
	"time INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS evidence(id INTEGER PRIMARY KEY, "
	"origin TEXT NOT NULL, kind TEXT NOT NULL, old_note BLOB, "
	"new_note BLOB NOT NULL, proof BLOB, time INTEGER NOT NULL);";

static int
dberr(struct tlog_witness *w, const char *what)
{
	return db_error(w->db, w->path, what);
}

static int
exec(struct tlog_witness *w, const char *sql)
{
	return db_exec(w->db, w->path, sql, sql);
}

int
tlog_witness_open(const char *path, struct tlog_witness **out)
{
	struct tlog_witness *w;
	int r;

	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->path = strdup(path)) == NULL) {
		free(w);
		return cairn_err(CAIRN_ERR_NOMEM, "opening %s", path);
	}
	if ((r = db_open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, "open", &w->db)) != CAIRN_OK)
		goto out;
	if ((r = exec(w, "PRAGMA journal_mode=WAL")) != CAIRN_OK ||
	    (r = exec(w, "PRAGMA synchronous=FULL")) != CAIRN_OK ||
	    (r = exec(w, schema_sql)) != CAIRN_OK)
		goto out;
	*out = w;
	w = NULL;
	r = CAIRN_OK;
out:
	tlog_witness_close(w);
	return r;
}

void
tlog_witness_close(struct tlog_witness *w)
{
	if (w == NULL)
		return;
	sqlite3_close(w->db);
	free(w->path);
	free(w);
}

int
tlog_witness_latest(struct tlog_witness *w, const char *origin,
    struct tlog_checkpoint *cp, char **note, size_t *len)
{
	struct tlog_note *n = NULL;
	struct tlog_checkpoint c;
	sqlite3_stmt *st = NULL;
	char *buf = NULL;
	size_t blen;
	int rc, r;

	if (sqlite3_prepare_v2(w->db, "SELECT note FROM latest WHERE "
	    "origin = ?1", -1, &st, NULL) != SQLITE_OK)
		return dberr(w, "reading state");
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		r = cairn_err(CAIRN_ERR_NOTFOUND, "%s: no checkpoint cosigned "
		    "for '%s'", w->path, origin);
		goto out;
	}
	if (rc != SQLITE_ROW) {
		r = dberr(w, "reading state");
		goto out;
	}
	blen = (size_t)sqlite3_column_bytes(st, 0);
	if ((buf = malloc(blen + 1)) == NULL) {
		r = cairn_err(CAIRN_ERR_NOMEM, "witness state");
		goto out;
	}
	memcpy(buf, sqlite3_column_blob(st, 0), blen);
	buf[blen] = '\0';
	if ((r = tlog_note_parse(buf, blen, &n)) != CAIRN_OK ||
	    (r = tlog_checkpoint_parse(n->text, n->text_len, &c)) != CAIRN_OK)
		goto out;
	*cp = c;
	if (note != NULL) {
		*note = buf;
		*len = blen;
		buf = NULL;
	}
	r = CAIRN_OK;
out:
	tlog_note_free(n);
	free(buf);
	sqlite3_finalize(st);
	return r;
}

static int
keep_evidence(struct tlog_witness *w, const char *origin, const char *kind,
    const char *old_note, size_t old_len, const struct tlog_witness_req *req,
    uint64_t now)
{
	sqlite3_stmt *st = NULL;
	int r = CAIRN_OK;

	if (sqlite3_prepare_v2(w->db, "INSERT INTO evidence(origin, kind, "
	    "old_note, new_note, proof, time) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	    -1, &st, NULL) != SQLITE_OK)
		return dberr(w, "keeping evidence");
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	if (old_note != NULL)
		sqlite3_bind_blob(st, 3, old_note, (int)old_len, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, req->note, (int)req->note_len, SQLITE_STATIC);
	if (req->proof_len > 0)
		sqlite3_bind_blob(st, 5, req->proof,
		    (int)(req->proof_len * TLOG_HASH_LEN), SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, (int64_t)now);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = dberr(w, "keeping evidence");
	sqlite3_finalize(st);
	return r;
}

static int
save_latest(struct tlog_witness *w, const struct tlog_checkpoint *cp,
    const struct tlog_witness_req *req, uint64_t now)
{
	sqlite3_stmt *st = NULL;
	int r = CAIRN_OK;

	if (sqlite3_prepare_v2(w->db, "INSERT INTO latest(origin, size, root, "
	    "note, time) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(origin) DO "
	    "UPDATE SET size = excluded.size, root = excluded.root, "
	    "note = excluded.note, time = excluded.time", -1, &st, NULL) !=
	    SQLITE_OK)
		return dberr(w, "saving state");
	sqlite3_bind_text(st, 1, cp->origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)cp->size);
	sqlite3_bind_blob(st, 3, cp->root, TLOG_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, req->note, (int)req->note_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (int64_t)now);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = dberr(w, "saving state");
	sqlite3_finalize(st);
	return r;
}

static int
count_evidence(struct tlog_witness *w, const char *origin, const char *kind,
    uint64_t *n)
{
	sqlite3_stmt *st = NULL;
	int r = CAIRN_OK;

	if (sqlite3_prepare_v2(w->db, "SELECT count(*) FROM evidence WHERE "
	    "(?1 IS NULL OR origin = ?1) AND (?2 IS NULL OR kind = ?2)", -1,
	    &st, NULL) != SQLITE_OK)
		return dberr(w, "counting evidence");
	if (origin != NULL)
		sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
	if (kind != NULL)
		sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW)
		r = dberr(w, "counting evidence");
	else
		*n = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return r;
}

int
tlog_witness_evidence_count(struct tlog_witness *w, const char *origin,
    uint64_t *n)
{
	return count_evidence(w, origin, NULL, n);
}

bool
tlog_witness_has_fork(struct tlog_witness *w, const char *origin)
{
	uint64_t n = 0;

	/* A state we cannot read counts as compromised: refuse work. */
	if (count_evidence(w, origin, "fork", &n) != CAIRN_OK)
		return true;
	return n > 0;
}

int
tlog_witness_add(struct tlog_witness *w, const struct tlog_witness_req *req,
    const struct tlog_signer *signer, uint64_t now, char *line, size_t cap)
{
	struct tlog_checkpoint cp, old;
	struct tlog_note *n = NULL;
	char *old_note = NULL;
	size_t old_len = 0;
	bool have_old;
	int r, rv;

	if (req->proof_len > TLOG_MAX_PROOF)
		return cairn_err(CAIRN_ERR_TOOBIG, "consistency proof of %zu "
		    "hashes, more than %d", req->proof_len, TLOG_MAX_PROOF);
	if ((r = tlog_checkpoint_open(req->note, req->note_len, req->log_keys,
	    req->nkeys, req->quorum, NULL, &cp)) != CAIRN_OK)
		return r;
	if ((r = exec(w, "BEGIN IMMEDIATE")) != CAIRN_OK)
		return r;
	if (tlog_witness_has_fork(w, cp.origin)) {
		r = cairn_err(CAIRN_ERR_CONFLICT, "log '%s' has equivocated; "
		    "the evidence is kept in %s", cp.origin, w->path);
		goto out;
	}
	r = tlog_witness_latest(w, cp.origin, &old, &old_note, &old_len);
	if (r != CAIRN_OK && r != CAIRN_ERR_NOTFOUND)
		goto out;
	have_old = r == CAIRN_OK;
	if (!have_old) {
		cairn_err_clear();
		memset(&old, 0, sizeof(old));
		tlog_empty_root(old.root);
	}
	if (req->old_size != old.size) {
		r = cairn_err(CAIRN_ERR_STATE, "witness holds size %llu of "
		    "'%s', the proof starts at %llu",
		    (unsigned long long)old.size, cp.origin,
		    (unsigned long long)req->old_size);
		goto out;
	}
	if (cp.size < old.size) {
		r = cairn_err(CAIRN_ERR_RANGE, "checkpoint size %llu of '%s' is "
		    "older than the cosigned %llu", (unsigned long long)cp.size,
		    cp.origin, (unsigned long long)old.size);
		goto out;
	}
	if (cp.size == old.size &&
	    memcmp(cp.root, old.root, TLOG_HASH_LEN) != 0) {
		if ((r = keep_evidence(w, cp.origin, "fork", old_note, old_len,
		    req, now)) == CAIRN_OK && (r = exec(w, "COMMIT")) ==
		    CAIRN_OK)
			r = cairn_err(CAIRN_ERR_CONFLICT, "log '%s' signed two "
			    "roots for size %llu; evidence kept in %s",
			    cp.origin, (unsigned long long)cp.size, w->path);
		goto out;
	}
	if ((rv = tlog_consistency_check(old.size, cp.size, old.root, cp.root,
	    req->proof, req->proof_len)) != CAIRN_OK) {
		char why[256];

		snprintf(why, sizeof(why), "%s", cairn_errdesc(rv));
		if ((r = keep_evidence(w, cp.origin, "inconsistent", old_note,
		    old_len, req, now)) == CAIRN_OK && (r = exec(w, "COMMIT")) ==
		    CAIRN_OK)
			r = cairn_err(CAIRN_ERR_CONFLICT, "checkpoint size %llu "
			    "of '%s' is not consistent with the cosigned size "
			    "%llu (%s); evidence kept in %s",
			    (unsigned long long)cp.size, cp.origin,
			    (unsigned long long)old.size, why, w->path);
		goto out;
	}
	if ((r = tlog_note_parse(req->note, req->note_len, &n)) != CAIRN_OK ||
	    (r = tlog_cosign(n->text, n->text_len, now, signer, line, cap)) !=
	    CAIRN_OK)
		goto out;
	if ((r = save_latest(w, &cp, req, now)) != CAIRN_OK ||
	    (r = exec(w, "COMMIT")) != CAIRN_OK)
		goto out;
	r = CAIRN_OK;
out:
	if (sqlite3_get_autocommit(w->db) == 0)
		(void)sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
	tlog_note_free(n);
	free(old_note);
	return r;
}
