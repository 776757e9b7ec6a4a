/*
 * coord_rebuild.c - cairn-coordinator rebuild: make coord.db again from
 * log.db when the database is lost or damaged and the log is sound
 * (docs/operations.md, "Damaged state").  Everything coord.db holds that
 * the log also holds is rebuilt: each query (its signed bytes, analyst,
 * time), its state and attempt (from its CHARGE, REFUSAL, FAILURE and
 * RELEASE entries), the nodes' signed charges and refusals, the latest
 * checkpoint.  What the log does not hold cannot be: released values
 * (the log keeps their hash) are taken from the old database only where
 * they still match their RELEASE entry byte for byte, else recorded as
 * lost; witnesses' cosignatures are collected again as they poll;
 * equivocation evidence is gone.  The new database is verified as serve
 * would verify it before it replaces the old one, which is kept aside.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "common/db.h"
#include "common/err.h"
#include "coordinator/coord_service_int.h"

/* A query as the walk of the log sees it. */
struct rq {
	uint8_t		hash[32];
	char		id[COORD_QUERY_ID_MAX + 1];
	uint32_t	attempt;
	int		state;
	bool		refused;	/* a REFUSAL in this attempt */
};

struct rb {
	struct tlog_store	*tl;
	struct coord_store	*db;
	sqlite3			*old;		/* the old coord.db, or NULL */
	struct rq		*q;
	size_t			 nq;
	uint64_t		 kept, lost;
};

static struct rq *
rq_find(struct rb *b, const uint8_t h[32])
{
	for (size_t i = 0; i < b->nq; i++)
		if (memcmp(b->q[i].hash, h, 32) == 0)
			return &b->q[i];
	return NULL;
}

static int
rb_query(struct rb *b, uint64_t i, const struct tlog_entry *e)
{
	Cairn__V1__SignedQuery *sq = NULL;
	Cairn__V1__Query *q = NULL;
	struct coord_query_row row;
	struct rq *nq;
	int r;

	if ((r = proto_unpack(&cairn__v1__signed_query__descriptor, e->body.p,
	    e->body.len, PROTO_MAX_SMALL, (ProtobufCMessage **)&sq)) !=
	    CAIRN_OK ||
	    (r = proto_unpack(&cairn__v1__query__descriptor, sq->query.data,
	    sq->query.len, PROTO_MAX_SMALL, (ProtobufCMessage **)&q)) !=
	    CAIRN_OK || q->analyst == NULL || q->analyst->name == NULL ||
	    !coord_query_id_ok(q->query_id)) {
		r = cairn_err(CAIRN_ERR_FORMAT, "log entry %llu: a QUERY "
		    "that does not decode", (unsigned long long)i);
		goto out;
	}
	if ((nq = realloc(b->q, (b->nq + 1) * sizeof(*nq))) == NULL) {
		r = CAIRN_ERR_NOMEM;
		goto out;
	}
	b->q = nq;
	nq = &b->q[b->nq++];
	memset(nq, 0, sizeof(*nq));
	crypto_hash_sha256(nq->hash, sq->query.data, sq->query.len);
	snprintf(nq->id, sizeof(nq->id), "%s", q->query_id);
	nq->state = COORD_Q_PENDING;
	memset(&row, 0, sizeof(row));
	snprintf(row.query_id, sizeof(row.query_id), "%s", q->query_id);
	snprintf(row.analyst, sizeof(row.analyst), "%s", q->analyst->name);
	memcpy(row.hash, nq->hash, 32);
	row.signed_query = (uint8_t *)e->body.p;
	row.signed_len = e->body.len;
	row.log_index = i;
	row.created = (int64_t)e->time;
	r = coord_store_query_add(b->db, &row);
out:
	if (q != NULL)
		protobuf_c_message_free_unpacked(&q->base, NULL);
	if (sq != NULL)
		protobuf_c_message_free_unpacked(&sq->base, NULL);
	return r;
}

/* The result of 'q' from the old database if it matches 'e', else lost. */
static int
rb_result(struct rb *b, uint64_t i, const struct tlog_entry *e, struct rq *q)
{
	sqlite3_stmt *st = NULL;
	int64_t *vals = NULL;
	size_t n;
	int r;

	if (b->old != NULL &&
	    coord_store_result_select(b->old, &st) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, q->id, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_ROW &&
		    coord_store_result_decode(q->id, sqlite3_column_int(st, 2),
		    sqlite3_column_blob(st, 1),
		    (size_t)sqlite3_column_bytes(st, 1), &vals, &n) ==
		    CAIRN_OK &&
		    coord_verify_result(e, i, q->id, sqlite3_column_blob(st, 0),
		    (size_t)sqlite3_column_bytes(st, 0), vals, n)) {
			r = coord_store_result_put(b->db, q->id,
			    sqlite3_column_blob(st, 0),
			    (size_t)sqlite3_column_bytes(st, 0), vals, n);
			free(vals);
			sqlite3_finalize(st);
			if (r == CAIRN_OK)
				b->kept++;
			return r;
		}
		free(vals);
		vals = NULL;
	}
	sqlite3_finalize(st);
	b->lost++;
	return coord_store_result_lost(b->db, q->id, i);
}

/* One entry of the log into the new database. */
static int
rb_entry(struct rb *b, uint64_t i, const struct tlog_entry *e)
{
	char node[KEYS_NAME_MAX + 1], reason[TLOG_ENTRY_MAX_REASON + 1];
	struct rq *q;
	char *end;
	long n;
	int r;

	if (e->type == TLOG_ENTRY_QUERY)
		return rb_query(b, i, e);
	if (e->type != TLOG_ENTRY_CHARGE && e->type != TLOG_ENTRY_REFUSAL &&
	    e->type != TLOG_ENTRY_FAILURE && e->type != TLOG_ENTRY_RELEASE)
		return CAIRN_OK;
	if ((q = rq_find(b, e->query_hash)) == NULL)
		return cairn_err(CAIRN_ERR_CONFLICT, "log entry %llu: %s of a "
		    "query not in the log", (unsigned long long)i,
		    tlog_entry_type_name(e->type));
	switch (e->type) {
	case TLOG_ENTRY_CHARGE:
	case TLOG_ENTRY_REFUSAL:
		if (q->state == COORD_Q_FAILED ||
		    q->state == COORD_Q_REFUSED) {
			/* A retry: the next attempt. */
			q->attempt++;
			q->refused = false;
		}
		q->state = COORD_Q_RUNNING;
		if (e->type == TLOG_ENTRY_REFUSAL)
			q->refused = true;
		snprintf(node, sizeof(node), "%.*s", (int)(e->node_id.len >
		    KEYS_NAME_MAX ? KEYS_NAME_MAX : e->node_id.len),
		    (const char *)e->node_id.p);
		r = coord_store_signed_add(b->db, q->id, q->attempt, node,
		    e->type == TLOG_ENTRY_CHARGE ? 'c' : 'r', e->body.p,
		    e->body.len, e->signature.p, e->signature.len, i);
		return r == CAIRN_ERR_EXISTS ? CAIRN_OK : r;
	case TLOG_ENTRY_FAILURE:
		snprintf(reason, sizeof(reason), "%.*s", (int)e->reason.len,
		    (const char *)e->reason.p);
		n = strncmp(reason, "attempt ", 8) == 0 ?
		    strtol(reason + 8, &end, 10) : -1;
		if (n < 0 || n > (long)UINT32_MAX || *end != ':')
			return cairn_err(CAIRN_ERR_FORMAT, "log entry %llu: a "
			    "FAILURE without its attempt",
			    (unsigned long long)i);
		q->attempt = (uint32_t)n;
		q->state = q->refused ? COORD_Q_REFUSED : COORD_Q_FAILED;
		return coord_store_query_set(b->db, q->id,
		    (enum coord_qstate)q->state, q->attempt, reason);
	default:
		q->state = COORD_Q_RELEASED;
		if ((r = coord_store_query_set(b->db, q->id, COORD_Q_RELEASED,
		    q->attempt, "")) != CAIRN_OK)
			return r;
		return rb_result(b, i, e, q);
	}
}

/* Check the log as serve would, then write every entry into 'b->db'. */
static int
rb_walk(struct rb *b, const struct tlog_verifier *lk)
{
	struct tlog_checkpoint cp;
	struct tlog_entry *e;
	char *note = NULL;
	size_t len;
	int r;

	if ((r = tlog_store_integrity(b->tl)) != CAIRN_OK ||
	    (r = tlog_store_verify(b->tl, NULL)) != CAIRN_OK ||
	    (r = tlog_store_verify_notes(b->tl, lk, NULL)) != CAIRN_OK)
		return r;
	if ((e = malloc(sizeof(*e))) == NULL)
		return CAIRN_ERR_NOMEM;
	for (uint64_t i = 0; i < tlog_store_size(b->tl); i++) {
		uint8_t *data = NULL;

		if ((r = tlog_store_entry(b->tl, i, &data, &len)) != CAIRN_OK)
			break;
		if ((r = tlog_entry_decode(data, len, e)) == CAIRN_OK)
			r = rb_entry(b, i, e);
		else
			r = cairn_err(r, "log entry %llu: %s",
			    (unsigned long long)i, cairn_errdesc(r));
		free(data);
		if (r != CAIRN_OK)
			break;
	}
	free(e);
	if (r != CAIRN_OK)
		return r;
	r = tlog_store_checkpoint_latest(b->tl, &note, &len, &cp);
	if (r == CAIRN_OK)
		r = coord_store_checkpoint_put(b->db, cp.size, note);
	else if (r == CAIRN_ERR_NOTFOUND) {
		cairn_err_clear();
		r = CAIRN_OK;
	}
	free(note);
	return r;
}

static void
rm_db(const char *path)
{
	char p[4200];

	(void)unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	(void)unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	(void)unlink(p);
}

int
coord_rebuild(const char *data_dir, const char *origin, const uint8_t pub[32],
    const struct keys_federation *fed, struct coord_verify_report *rep,
    uint64_t *kept, uint64_t *lost)
{
	char cur[4096], tmp[4096], aside[4200], p1[4200], p2[4300];
	struct tlog_verifier lk;
	struct stat sb;
	struct rb b;
	bool have_old;
	int r;

	memset(&b, 0, sizeof(b));
	if (snprintf(cur, sizeof(cur), "%s/coord.db", data_dir) >=
	    (int)sizeof(cur) || snprintf(tmp, sizeof(tmp),
	    "%s/coord.db.rebuild", data_dir) >= (int)sizeof(tmp))
		return cairn_err(CAIRN_ERR_CONFIG, "data_dir too long");
	memset(&lk, 0, sizeof(lk));
	snprintf(lk.name, sizeof(lk.name), "%s", origin);
	lk.type = TLOG_KEY_ED25519;
	memcpy(lk.pub, pub, 32);
	tlog_key_id(lk.name, lk.type, lk.pub, lk.key_id);
	snprintf(p1, sizeof(p1), "%s/log.db", data_dir);
	if ((r = tlog_store_open(p1, 0, &b.tl)) != CAIRN_OK)
		return r;
	have_old = stat(cur, &sb) == 0;
	/* Read what can be read of the old database, never write it. */
	if (have_old && sqlite3_open_v2(cur, &b.old, SQLITE_OPEN_READONLY,
	    NULL) != SQLITE_OK) {
		sqlite3_close(b.old);
		b.old = NULL;
	}
	rm_db(tmp);
	if ((r = coord_store_open(tmp, &b.db)) != CAIRN_OK ||
	    (r = rb_walk(&b, &lk)) != CAIRN_OK ||
	    (r = coord_verify(b.tl, b.db, tmp, origin, pub, fed, rep)) !=
	    CAIRN_OK)
		goto out;
	coord_store_close(b.db);
	b.db = NULL;
	sqlite3_close(b.old);
	b.old = NULL;
	if (have_old) {
		snprintf(aside, sizeof(aside), "%s.damaged-%lld", cur,
		    (long long)time(NULL));
		for (int k = 0; k < 3; k++) {
			static const char *const sfx[3] = { "", "-wal",
			    "-shm" };

			snprintf(p1, sizeof(p1), "%s%s", cur, sfx[k]);
			snprintf(p2, sizeof(p2), "%s%s", aside, sfx[k]);
			if (rename(p1, p2) != 0 && errno != ENOENT) {
				r = cairn_err(CAIRN_ERR_IO, "%s: %s", p1,
				    strerror(errno));
				goto out;
			}
		}
	}
	if (rename(tmp, cur) != 0) {
		r = cairn_err(CAIRN_ERR_IO, "%s: %s", cur, strerror(errno));
		goto out;
	}
	*kept = b.kept;
	*lost = b.lost;
	r = CAIRN_OK;
out:
	coord_store_close(b.db);
	sqlite3_close(b.old);
	tlog_store_close(b.tl);
	if (r != CAIRN_OK)
		rm_db(tmp);
	free(b.q);
	return r;
}
