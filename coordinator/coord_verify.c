/*
 * coord_verify.c - the coordinator's check of its own state before it
 * serves (docs/operations.md, "Damaged state").  Both databases pass
 * SQLite's integrity check; the whole log is re-hashed against every
 * stored checkpoint and every checkpoint's signature is checked; then
 * every row of coord.db that the log can vouch for is compared with the
 * log: each QUERY entry has its query row (same bytes, id, analyst,
 * time) and no row is without one; each RELEASE has its result, whose
 * packed Release and values rebuild exactly from the entry; each stored
 * charge or refusal is its entry's signed bytes; each checkpoint note is
 * signed by the log's key over the tree's root at its size; each
 * cosignature verifies with its witness's key.  The first difference is
 * refused with one line naming the database, table and entry.
 * cairn-coordinator rebuild (coord_rebuild.c) makes a new coord.db from
 * the log when the log is sound.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <sqlite3.h>

#include "common/db.h"
#include "common/err.h"
#include "coordinator/coord_service_int.h"
#include "protocol/secagg.h"

/* What the log says about one query. */
struct vq {
	uint8_t		 hash[32];
	char		 id[COORD_QUERY_ID_MAX + 1];
	uint64_t	 index;		/* of its QUERY entry */
	uint32_t	 nfail;		/* FAILURE entries */
	bool		 released;
	char		 reason[TLOG_ENTRY_MAX_REASON + 1];	/* last */
};

struct vstate {
	struct tlog_store	*tl;
	struct coord_store	*store;
	sqlite3			*db;
	const char		*dbname;
	const char		*origin;
	const uint8_t		*pub;
	const struct keys_federation *fed;
	struct vq		*q;		/* sorted by hash */
	size_t			 nq, capq;
	bool			 pending_last;	/* see check_query() */
	struct coord_verify_report rep;
};

static int
vdb(struct vstate *v, const char *what)
{
	return db_error(v->db, v->dbname, what);
}

static struct vq *
vq_find(struct vstate *v, const uint8_t hash[32])
{
	size_t lo = 0, hi = v->nq;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(v->q[mid].hash, hash, 32);

		if (c == 0)
			return &v->q[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static struct vq *
vq_by_id(struct vstate *v, const char *id)
{
	for (size_t i = 0; i < v->nq; i++)
		if (strcmp(v->q[i].id, id) == 0)
			return &v->q[i];
	return NULL;
}

static int
vq_add(struct vstate *v, const uint8_t hash[32], const char *id,
    uint64_t index, struct vq **out)
{
	size_t at = 0;

	while (at < v->nq && memcmp(v->q[at].hash, hash, 32) < 0)
		at++;
	if (at < v->nq && memcmp(v->q[at].hash, hash, 32) == 0)
		return cairn_err(CAIRN_ERR_CONFLICT, "log entry %llu: query "
		    "'%s' was logged before at %llu", (unsigned long long)index,
		    id, (unsigned long long)v->q[at].index);
	if (v->nq == v->capq) {
		size_t cap = v->capq ? v->capq * 2 : 64;
		struct vq *nq = realloc(v->q, cap * sizeof(*nq));

		if (nq == NULL)
			return CAIRN_ERR_NOMEM;
		v->q = nq;
		v->capq = cap;
	}
	memmove(&v->q[at + 1], &v->q[at], (v->nq - at) * sizeof(*v->q));
	memset(&v->q[at], 0, sizeof(v->q[at]));
	memcpy(v->q[at].hash, hash, 32);
	snprintf(v->q[at].id, sizeof(v->q[at].id), "%s", id);
	v->q[at].index = index;
	v->nq++;
	*out = &v->q[at];
	return CAIRN_OK;
}

static bool
blob_eq(sqlite3_stmt *st, int col, const void *p, size_t len)
{
	return (size_t)sqlite3_column_bytes(st, col) == len &&
	    (len == 0 || memcmp(sqlite3_column_blob(st, col), p, len) == 0);
}

static bool
text_eq(sqlite3_stmt *st, int col, const char *s)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	return t != NULL && strcmp((const char *)t, s) == 0 &&
	    (size_t)sqlite3_column_bytes(st, col) == strlen(s);
}

/* A QUERY entry at 'i': its row in 'queries' says the same. */
static int
check_query(struct vstate *v, sqlite3_stmt *st, uint64_t i,
    const struct tlog_entry *e)
{
	Cairn__V1__SignedQuery *sq = NULL;
	Cairn__V1__Query *q = NULL;
	uint8_t h[32];
	struct vq *vq;
	int r, rc;

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
	crypto_hash_sha256(h, sq->query.data, sq->query.len);
	if ((r = vq_add(v, h, q->query_id, i, &vq)) != CAIRN_OK)
		goto out;
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, (int64_t)i);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE && i + 1 == tlog_store_size(v->tl)) {
		/* Logged as the last entry, its row not yet written: the
		 * state of a crash (or of a backup) at that moment, which
		 * serve's recover_last_query() completes. */
		v->pending_last = true;
		r = CAIRN_OK;
		goto out;
	}
	if (rc == SQLITE_DONE) {
		r = cairn_err(CAIRN_ERR_CONFLICT, "%s: table queries has no "
		    "row for query '%s' logged at entry %llu: the database "
		    "is behind the log (deleted, emptied or restored from an "
		    "old copy); cairn-coordinator rebuild makes it again from "
		    "the log", v->dbname, q->query_id, (unsigned long long)i);
		goto out;
	}
	if (rc != SQLITE_ROW) {
		r = vdb(v, "reading queries");
		goto out;
	}
	if (!text_eq(st, 0, q->query_id) || !text_eq(st, 1,
	    q->analyst->name) || !blob_eq(st, 2, h, 32) ||
	    !blob_eq(st, 3, e->body.p, e->body.len) ||
	    sqlite3_column_int64(st, 4) != (int64_t)e->time) {
		r = cairn_err(CAIRN_ERR_CONFLICT, "%s: table queries: the row "
		    "of log entry %llu differs from the QUERY entry (query "
		    "'%s')", v->dbname, (unsigned long long)i, q->query_id);
		goto out;
	}
	v->rep.queries++;
	r = CAIRN_OK;
out:
	if (q != NULL)
		protobuf_c_message_free_unpacked(&q->base, NULL);
	if (sq != NULL)
		protobuf_c_message_free_unpacked(&sq->base, NULL);
	return r;
}

bool
coord_verify_result(const struct tlog_entry *e, uint64_t index,
    const char *query_id, const void *release, size_t rlen,
    const int64_t *vals, size_t n)
{
	char *names[TLOG_ENTRY_MAX_PARTICIPANTS];
	uint8_t h[32], *packed = NULL;
	size_t plen, k;
	bool ok;

	if (e->variance < 0 || e->variance > 9007199254740992.0)
		return false;
	coord_result_hash(vals, n, h);
	if (memcmp(h, e->result_hash, 32) != 0)
		return false;
	if (e->version == 2) {
		uint8_t s[32];

		secagg_cells_sha256((const uint64_t *)vals, n, s);
		if (memcmp(s, e->result_sha256, 32) != 0)
			return false;
	}
	for (k = 0; k < e->nparticipants; k++) {
		if ((names[k] = malloc(e->participants[k].len + 1)) == NULL)
			break;
		memcpy(names[k], e->participants[k].p, e->participants[k].len);
		names[k][e->participants[k].len] = '\0';
	}
	ok = k == e->nparticipants && coord_release_pack(query_id, names,
	    e->nparticipants, h, (uint64_t)e->variance, n, index, &packed,
	    &plen) == CAIRN_OK && plen == rlen && memcmp(packed, release,
	    rlen) == 0;
	while (k > 0)
		free(names[--k]);
	free(packed);
	return ok;
}

/* A RELEASE entry at 'i': its result rebuilds exactly from the entry, or
 * a rebuild recorded it as lost. */
static int
check_release(struct vstate *v, sqlite3_stmt *st, sqlite3_stmt *lst,
    uint64_t i, const struct tlog_entry *e, struct vq *vq)
{
	int rc;

	vq->released = true;
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, vq->id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(lst);
		sqlite3_bind_text(lst, 1, vq->id, -1, SQLITE_TRANSIENT);
		if ((rc = sqlite3_step(lst)) == SQLITE_ROW &&
		    (uint64_t)sqlite3_column_int64(lst, 0) == i) {
			v->rep.lost++;
			return CAIRN_OK;
		}
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return vdb(v, "reading results_lost");
		return cairn_err(CAIRN_ERR_CONFLICT, "%s: table results has "
		    "no row for query '%s' released at log entry %llu",
		    v->dbname, vq->id, (unsigned long long)i);
	}
	if (rc != SQLITE_ROW)
		return vdb(v, "reading results");
	{
		int64_t *vals = NULL;
		size_t n = 0;
		bool same;

		/* A damaged row (coord_store_result_decode's error) is a
		   result that differs. */
		same = coord_store_result_decode(vq->id,
		    sqlite3_column_int(st, 2), sqlite3_column_blob(st, 1),
		    (size_t)sqlite3_column_bytes(st, 1), &vals, &n) ==
		    CAIRN_OK && coord_verify_result(e, i, vq->id,
		    sqlite3_column_blob(st, 0),
		    (size_t)sqlite3_column_bytes(st, 0), vals, n);
		free(vals);
		if (!same)
			return cairn_err(CAIRN_ERR_CONFLICT, "%s: table "
			    "results: the result of query '%s' differs from "
			    "its RELEASE at log entry %llu", v->dbname, vq->id,
			    (unsigned long long)i);
	}
	v->rep.results++;
	return CAIRN_OK;
}

/* Walk the log once: queries and results against their entries. */
static int
walk_log(struct vstate *v)
{
	sqlite3_stmt *qst = NULL, *rst = NULL, *lst = NULL;
	struct tlog_entry *e;
	uint64_t size = tlog_store_size(v->tl);
	int r = CAIRN_OK;

	if ((e = malloc(sizeof(*e))) == NULL)
		return CAIRN_ERR_NOMEM;
	if (sqlite3_prepare_v2(v->db, "SELECT query_id, analyst, hash, signed,"
	    " created FROM queries WHERE log_index = ?", -1, &qst, NULL) !=
	    SQLITE_OK || coord_store_result_select(v->db, &rst) != SQLITE_OK ||
	    sqlite3_prepare_v2(v->db, "SELECT log_index FROM results_lost"
	    " WHERE query_id = ?", -1, &lst, NULL) != SQLITE_OK) {
		r = vdb(v, "preparing the check");
		goto out;
	}
	for (uint64_t i = 0; i < size && r == CAIRN_OK; i++) {
		uint8_t *data = NULL;
		struct vq *vq;
		size_t len;

		if ((r = tlog_store_entry(v->tl, i, &data, &len)) != CAIRN_OK)
			break;
		if ((r = tlog_entry_decode(data, len, e)) != CAIRN_OK) {
			r = cairn_err(r, "log entry %llu: %s",
			    (unsigned long long)i, cairn_errdesc(r));
			free(data);
			break;
		}
		switch (e->type) {
		case TLOG_ENTRY_QUERY:
			r = check_query(v, qst, i, e);
			break;
		case TLOG_ENTRY_RELEASE:
		case TLOG_ENTRY_FAILURE:
			if ((vq = vq_find(v, e->query_hash)) == NULL) {
				r = cairn_err(CAIRN_ERR_CONFLICT, "log entry "
				    "%llu: %s of a query not in the log",
				    (unsigned long long)i,
				    tlog_entry_type_name(e->type));
				break;
			}
			if (e->type == TLOG_ENTRY_RELEASE) {
				r = check_release(v, rst, lst, i, e, vq);
				break;
			}
			vq->nfail++;
			snprintf(vq->reason, sizeof(vq->reason), "%.*s",
			    (int)e->reason.len, (const char *)e->reason.p);
			break;
		default:
			break;
		}
		free(data);
	}
out:
	sqlite3_finalize(qst);
	sqlite3_finalize(rst);
	sqlite3_finalize(lst);
	free(e);
	return r;
}

/* The number N of a failure text "attempt N: ...", or -1. */
static long
failure_attempt(const char *text)
{
	char *end;
	long n;

	if (strncmp(text, "attempt ", 8) != 0)
		return -1;
	n = strtol(text + 8, &end, 10);
	return *end == ':' && n >= 0 ? n : -1;
}

/* Every query row: one per QUERY entry, its state as the log says. */
static int
check_rows(struct vstate *v)
{
	sqlite3_stmt *st = NULL;
	int64_t last_seq = -1, max_seq = 0;
	uint64_t rows = 0, last_index = 0;
	int rc, r = CAIRN_OK;

	if (sqlite3_prepare_v2(v->db, "SELECT seq, query_id, log_index, "
	    "state, attempt, failure FROM queries ORDER BY seq", -1, &st,
	    NULL) != SQLITE_OK)
		return vdb(v, "reading queries");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 1);
		const char *fail = (const char *)sqlite3_column_text(st, 5);
		uint64_t index = (uint64_t)sqlite3_column_int64(st, 2);
		int state = sqlite3_column_int(st, 3);
		int64_t attempt = sqlite3_column_int64(st, 4);
		struct vq *vq = id != NULL ? vq_by_id(v, id) : NULL;
		bool ok;

		if (vq == NULL || vq->index != index) {
			r = cairn_err(CAIRN_ERR_CONFLICT, "%s: table queries: "
			    "query '%s' names log entry %llu, which does not "
			    "hold it", v->dbname, id != NULL ? id : "",
			    (unsigned long long)index);
			break;
		}
		max_seq = sqlite3_column_int64(st, 0);
		if (max_seq <= last_seq || (rows > 0 && index <= last_index))
			goto bad;
		last_seq = max_seq;
		last_index = index;
		rows++;
		if (fail == NULL || attempt < 0 || attempt > UINT32_MAX)
			goto bad;
		switch (state) {
		case COORD_Q_PENDING:
		case COORD_Q_RUNNING:
			ok = fail[0] == '\0' && (uint64_t)attempt <= vq->nfail;
			break;
		case COORD_Q_RELEASED:
			ok = fail[0] == '\0' && vq->released &&
			    (uint64_t)attempt <= vq->nfail;
			break;
		case COORD_Q_REFUSED:
		case COORD_Q_FAILED:
			ok = vq->nfail > (uint64_t)attempt &&
			    failure_attempt(fail) == attempt &&
			    strcmp(fail, vq->reason) == 0;
			break;
		default:
			ok = false;
		}
		if (!ok)
			goto bad;
		continue;
bad:
		r = cairn_err(CAIRN_ERR_CONFLICT, "%s: table queries: the "
		    "state of query '%s' does not follow from the log",
		    v->dbname, id);
		break;
	}
	if (r == CAIRN_OK && rc != SQLITE_DONE)
		r = vdb(v, "reading queries");
	sqlite3_finalize(st);
	if (r != CAIRN_OK)
		return r;
	if (rows + (v->pending_last ? 1 : 0) != v->nq)
		return cairn_err(CAIRN_ERR_CONFLICT, "%s: table queries has "
		    "%llu rows for %zu QUERY entries in the log", v->dbname,
		    (unsigned long long)rows, v->nq);
	/* AUTOINCREMENT's counter: never below the largest seq. */
	if (sqlite3_prepare_v2(v->db, "SELECT seq FROM sqlite_sequence WHERE "
	    "name = 'queries'", -1, &st, NULL) != SQLITE_OK)
		return vdb(v, "reading sqlite_sequence");
	rc = sqlite3_step(st);
	if ((rc == SQLITE_ROW && sqlite3_column_int64(st, 0) < max_seq) ||
	    (rc == SQLITE_DONE && rows > 0))
		r = cairn_err(CAIRN_ERR_CONFLICT, "%s: table sqlite_sequence "
		    "is behind table queries", v->dbname);
	else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = vdb(v, "reading sqlite_sequence");
	sqlite3_finalize(st);
	return r;
}

/* Every stored result belongs to a query; a result of a query not
 * released (kept before a crash) is at least whole. */
static int
check_results(struct vstate *v)
{
	Cairn__V1__Release *rel;
	sqlite3_stmt *st = NULL;
	int rc, r = CAIRN_OK;

	if (sqlite3_prepare_v2(v->db, "SELECT query_id, release FROM "
	    "results", -1, &st, NULL) != SQLITE_OK)
		return vdb(v, "reading results");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 0);
		struct vq *vq = id != NULL ? vq_by_id(v, id) : NULL;

		rel = NULL;
		if (vq == NULL || proto_unpack(&cairn__v1__release__descriptor,
		    sqlite3_column_blob(st, 1),
		    (size_t)sqlite3_column_bytes(st, 1), PROTO_MAX_SMALL,
		    (ProtobufCMessage **)&rel) != CAIRN_OK ||
		    rel->query_id == NULL || strcmp(rel->query_id, id) != 0)
			r = cairn_err(CAIRN_ERR_CONFLICT, "%s: table results: "
			    "the row of '%s' belongs to no query of the log",
			    v->dbname, id != NULL ? id : "");
		if (rel != NULL)
			protobuf_c_message_free_unpacked(&rel->base, NULL);
		if (r != CAIRN_OK)
			break;
	}
	if (r == CAIRN_OK && rc != SQLITE_DONE)
		r = vdb(v, "reading results");
	sqlite3_finalize(st);
	return r;
}

/* Each stored charge ('c') or refusal ('r') is its entry's signed bytes;
 * evidence ('e', 'm') belongs to a known query. */
static int
check_signed(struct vstate *v)
{
	struct tlog_entry *e;
	sqlite3_stmt *st = NULL;
	int rc, r = CAIRN_OK;

	if ((e = malloc(sizeof(*e))) == NULL)
		return CAIRN_ERR_NOMEM;
	if (sqlite3_prepare_v2(v->db, "SELECT s.query_id, s.attempt, s.node,"
	    " s.kind, s.body, s.sig, s.log_index, q.attempt FROM signed s LEFT"
	    " JOIN queries q ON q.query_id = s.query_id", -1, &st, NULL) !=
	    SQLITE_OK) {
		free(e);
		return vdb(v, "reading signed");
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 0);
		const char *node = (const char *)sqlite3_column_text(st, 2);
		const char *kind = (const char *)sqlite3_column_text(st, 3);
		uint64_t index = (uint64_t)sqlite3_column_int64(st, 6);
		struct vq *vq = id != NULL ? vq_by_id(v, id) : NULL;
		uint8_t *data = NULL;
		size_t len;
		bool ok = vq != NULL && node != NULL && kind != NULL &&
		    strlen(kind) == 1 && sqlite3_column_type(st, 7) !=
		    SQLITE_NULL && sqlite3_column_int64(st, 1) >= 0 &&
		    sqlite3_column_int64(st, 1) <= sqlite3_column_int64(st, 7);

		if (ok && (kind[0] == 'e' || kind[0] == 'm'))
			ok = index == 0;
		else if (ok && (kind[0] == 'c' || kind[0] == 'r')) {
			ok = index > vq->index &&
			    index < tlog_store_size(v->tl) &&
			    tlog_store_entry(v->tl, index, &data, &len) ==
			    CAIRN_OK && tlog_entry_decode(data, len, e) ==
			    CAIRN_OK && e->type == (kind[0] == 'c' ?
			    TLOG_ENTRY_CHARGE : TLOG_ENTRY_REFUSAL) &&
			    memcmp(e->query_hash, vq->hash, 32) == 0 &&
			    e->node_id.len == strlen(node) &&
			    memcmp(e->node_id.p, node, e->node_id.len) == 0 &&
			    blob_eq(st, 4, e->body.p, e->body.len) &&
			    blob_eq(st, 5, e->signature.p, e->signature.len);
			free(data);
		} else
			ok = false;
		if (!ok) {
			r = cairn_err(CAIRN_ERR_CONFLICT, "%s: table signed: "
			    "the row of query '%s', node '%s' differs from "
			    "log entry %llu", v->dbname, id != NULL ? id : "",
			    node != NULL ? node : "",
			    (unsigned long long)index);
			break;
		}
		v->rep.signed_rows++;
	}
	if (r == CAIRN_OK && rc != SQLITE_DONE)
		r = vdb(v, "reading signed");
	sqlite3_finalize(st);
	free(e);
	return r;
}

/* A witness's cosignature key: the node of that name in federation.conf. */
static bool
witness_key(const struct keys_federation *fed, const char *name,
    struct tlog_verifier *k)
{
	const struct keys_member *m;

	if (name == NULL || strlen(name) > TLOG_NAME_MAX ||
	    (m = keys_federation_find(fed, KEYS_ROLE_NODE, name)) == NULL)
		return false;
	memset(k, 0, sizeof(*k));
	snprintf(k->name, sizeof(k->name), "%s", name);
	k->type = TLOG_KEY_COSIGNATURE;
	memcpy(k->pub, m->pub.pk, 32);
	tlog_key_id(k->name, k->type, k->pub, k->key_id);
	return true;
}

/* Each checkpoint note signed by the log's key over the root at its size;
 * each cosignature line verifying over its note. */
static int
check_notes(struct vstate *v, const struct tlog_verifier *lk)
{
	struct tlog_checkpoint cp;
	struct tlog_verifier wk;
	struct tlog_note *n;
	sqlite3_stmt *st = NULL;
	uint8_t root[32];
	uint64_t size, ts;
	char *note = NULL, *both = NULL;
	size_t blen;
	int rc, r = CAIRN_OK;

	if (sqlite3_prepare_v2(v->db, "SELECT size, note FROM checkpoints",
	    -1, &st, NULL) != SQLITE_OK)
		return vdb(v, "reading checkpoints");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(st, 1);

		size = (uint64_t)sqlite3_column_int64(st, 0);
		if (text == NULL || tlog_checkpoint_open(text, strlen(text), lk,
		    1, 1, v->origin, &cp) != CAIRN_OK || cp.size != size ||
		    size > tlog_store_size(v->tl) ||
		    tlog_store_root_at(v->tl, size, root) != CAIRN_OK ||
		    memcmp(root, cp.root, 32) != 0) {
			r = cairn_err(CAIRN_ERR_CONFLICT, "%s: table "
			    "checkpoints: the note of size %llu is not the "
			    "log's signed checkpoint of that size", v->dbname,
			    (unsigned long long)size);
			break;
		}
		v->rep.checkpoints++;
	}
	if (r == CAIRN_OK && rc != SQLITE_DONE)
		r = vdb(v, "reading checkpoints");
	sqlite3_finalize(st);
	if (r != CAIRN_OK)
		return r;
	if (sqlite3_prepare_v2(v->db, "SELECT witness, size, ts, line FROM "
	    "cosigs", -1, &st, NULL) != SQLITE_OK)
		return vdb(v, "reading cosigs");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *w = (const char *)sqlite3_column_text(st, 0);
		const char *line = (const char *)sqlite3_column_text(st, 3);
		bool ok;

		size = (uint64_t)sqlite3_column_int64(st, 1);
		n = NULL;
		note = both = NULL;
		ok = line != NULL && witness_key(v->fed, w, &wk) &&
		    coord_store_checkpoint_get(v->store, size, &note) ==
		    CAIRN_OK && tlog_note_add_lines(note, strlen(note), line,
		    strlen(line), &both, &blen) == CAIRN_OK &&
		    tlog_note_parse(both, blen, &n) == CAIRN_OK &&
		    tlog_cosignature_time(n, &wk, &ts) == CAIRN_OK &&
		    ts == (uint64_t)sqlite3_column_int64(st, 2);
		tlog_note_free(n);
		free(note);
		free(both);
		if (!ok) {
			r = cairn_err(CAIRN_ERR_CONFLICT, "%s: table cosigs: "
			    "the cosignature of '%s' on checkpoint %llu does "
			    "not verify", v->dbname, w != NULL ? w : "",
			    (unsigned long long)size);
			break;
		}
		v->rep.cosigs++;
	}
	cairn_err_clear();
	if (r == CAIRN_OK && rc != SQLITE_DONE)
		r = vdb(v, "reading cosigs");
	sqlite3_finalize(st);
	return r;
}

int
coord_verify(struct tlog_store *tl, struct coord_store *db,
    const char *dbname, const char *origin, const uint8_t pub[32],
    const struct keys_federation *fed, struct coord_verify_report *rep)
{
	struct tlog_store_report lrep;
	struct tlog_verifier lk;
	struct vstate v;
	int r;

	memset(&v, 0, sizeof(v));
	v.tl = tl;
	v.store = db;
	v.db = coord_store_sqlite(db);
	v.dbname = dbname;
	v.origin = origin;
	v.pub = pub;
	v.fed = fed;
	memset(&lk, 0, sizeof(lk));
	snprintf(lk.name, sizeof(lk.name), "%s", origin);
	lk.type = TLOG_KEY_ED25519;
	memcpy(lk.pub, pub, 32);
	tlog_key_id(lk.name, lk.type, lk.pub, lk.key_id);
	if ((r = tlog_store_integrity(tl)) != CAIRN_OK ||
	    (r = tlog_store_verify(tl, &lrep)) != CAIRN_OK ||
	    (r = tlog_store_verify_notes(tl, &lk, NULL)) != CAIRN_OK ||
	    (r = db_integrity(v.db, dbname)) != CAIRN_OK ||
	    (r = walk_log(&v)) != CAIRN_OK ||
	    (r = check_rows(&v)) != CAIRN_OK ||
	    (r = check_results(&v)) != CAIRN_OK ||
	    (r = check_signed(&v)) != CAIRN_OK ||
	    (r = check_notes(&v, &lk)) != CAIRN_OK)
		goto out;
	v.rep.entries = lrep.entries;
	if (rep != NULL)
		*rep = v.rep;
out:
	free(v.q);
	return r;
}
