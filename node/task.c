/*
 * task.c - what a node checks before it computes anything for a task, and
 * what it checks in a roster before it masks (docs/federation.md §2-§3).
 * Every byte checked here comes from the coordinator, which relays what
 * others signed: signatures are verified over the bytes as received.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "common/err.h"
#include "common/log.h"
#include "node/daemon_int.h"
#include "protocol/secagg.h"
#include "protocol/tlog_entry.h"
#include "protocol/tlog_member.h"

#define NODE_MAX_PARTICIPANTS	SECAGG_MAX_MEMBERS

void
node_task_query_release(struct node_task_query *tq)
{
	if (tq->q != NULL)
		protobuf_c_message_free_unpacked(&tq->q->base, NULL);
	tq->q = NULL;
}

/*
 * The names in strcmp order without allocating (a participant set is at
 * most a few hundred names): an allocation failure must not change the
 * hash, which finds the open charge of a retried round in the ledger.
 */
void
node_pset_hash(char *const *names, size_t n, uint8_t out[32])
{
	static const uint8_t nl[1] = { '\n' };
	crypto_hash_sha256_state st;
	const char *last = NULL, *min;
	size_t done = 0, same;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)"cairn/v1/pset\n", 14);
	while (done < n) {
		min = NULL;
		same = 0;
		for (size_t i = 0; i < n; i++) {
			int c;

			if (last != NULL && strcmp(names[i], last) <= 0)
				continue;
			c = min == NULL ? -1 : strcmp(names[i], min);
			if (c < 0) {
				min = names[i];
				same = 1;
			} else if (c == 0)
				same++;
		}
		for (size_t k = 0; k < same; k++) {
			crypto_hash_sha256_update(&st, (const uint8_t *)min,
			    strlen(min));
			crypto_hash_sha256_update(&st, nl, 1);
		}
		done += same;
		last = min;
	}
	crypto_hash_sha256_final(&st, out);
}

int
node_sign_msg(struct node_daemon *d, const ProtobufCMessage *msg,
    const char *purpose, uint8_t **bytes, size_t *len,
    uint8_t sig[static KEYS_SIG_LEN])
{
	uint8_t *buf;
	size_t n;
	int r;

	if ((r = proto_pack(msg, PROTO_MAX_SMALL, &buf, &n)) != CAIRN_OK)
		return r;
	if ((r = keys_sign(d->dc.id, purpose, buf, n, sig)) != CAIRN_OK) {
		free(buf);
		return r;
	}
	*bytes = buf;
	*len = n;
	return CAIRN_OK;
}

/* ------------------------------------------------------------- the log */

static int
note_sign(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64])
{
	return keys_sign_note(ctx, msg, len, sig);
}

/*
 * Turn the witness's cosignature line "— NAME BASE64\n" into the
 * Cosignature message: BASE64 is keyID(4) || time(8) || Ed25519(64).
 */
static int
send_cosignature(struct node_daemon *d, const char *line,
    const struct tlog_checkpoint *cp)
{
	Cairn__V1__Cosignature cs = CAIRN__V1__COSIGNATURE__INIT;
	ProtobufCMessage *resp = NULL;
	uint8_t raw[4 + 8 + 64];
	const char *b64, *end;
	size_t rawlen;
	uint64_t ts = 0;
	int r;

	b64 = strrchr(line, ' ');
	end = strchr(line, '\n');
	if (b64 == NULL || end == NULL || end < b64 ||
	    tlog_b64_decode(b64 + 1, (size_t)(end - b64 - 1), raw, sizeof(raw),
	    &rawlen) != CAIRN_OK || rawlen != sizeof(raw))
		return cairn_err(CAIRN_ERR_INTERNAL, "witness wrote a "
		    "malformed cosignature line");
	for (int i = 0; i < 8; i++)
		ts = ts << 8 | raw[4 + i];
	cs.witness = (char *)d->name;
	cs.tree_size = cp->size;
	cs.root_hash.data = (uint8_t *)cp->root;
	cs.root_hash.len = TLOG_HASH_LEN;
	cs.timestamp = ts;
	cs.signature.data = raw + 4;
	cs.signature.len = 72;
	r = transport_unary(d->dc.client, proto_method(PROTO_COSIGN), &cs.base,
	    d->call_ms, &resp);
	if (resp != NULL)
		protobuf_c_message_free_unpacked(resp, NULL);
	return r;
}

static int
fetch_consistency(struct node_daemon *d, uint64_t old_size, uint64_t new_size,
    Cairn__V1__ConsistencyProof **out)
{
	Cairn__V1__GetConsistencyProofRequest req =
	    CAIRN__V1__GET_CONSISTENCY_PROOF_REQUEST__INIT;

	req.old_size = old_size;
	req.new_size = new_size;
	return transport_unary(d->dc.client,
	    proto_method(PROTO_GET_CONSISTENCY_PROOF), &req.base, d->call_ms,
	    (ProtobufCMessage **)out);
}

static int
proof_hashes(const ProtobufCBinaryData *h, size_t n,
    uint8_t (**out)[TLOG_HASH_LEN])
{
	uint8_t (*p)[TLOG_HASH_LEN];

	if (n > TLOG_MAX_PROOF)
		return cairn_err(CAIRN_ERR_TOOBIG, "proof of %zu hashes "
		    "(at most %d)", n, TLOG_MAX_PROOF);
	if ((p = calloc(n ? n : 1, TLOG_HASH_LEN)) == NULL)
		return cairn_err(CAIRN_ERR_NOMEM, "proof");
	for (size_t i = 0; i < n; i++) {
		if (h[i].len != TLOG_HASH_LEN) {
			free(p);
			return cairn_err(CAIRN_ERR_FORMAT, "proof hash %zu is "
			    "%zu bytes, not 32", i, h[i].len);
		}
		memcpy(p[i], h[i].data, TLOG_HASH_LEN);
	}
	*out = p;
	return CAIRN_OK;
}

/*
 * A checkpoint older than the one this node cosigned (a task prepared
 * before the log grew): it must be a prefix of the cosigned one.
 */
static int
older_checkpoint(struct node_daemon *d, const struct tlog_checkpoint *cp,
    const struct tlog_checkpoint *latest)
{
	Cairn__V1__ConsistencyProof *p = NULL;
	uint8_t (*hashes)[TLOG_HASH_LEN] = NULL;
	int r;

	if ((r = fetch_consistency(d, cp->size, latest->size, &p)) !=
	    CAIRN_OK)
		return r;
	if ((r = proof_hashes(p->hashes, p->n_hashes, &hashes)) == CAIRN_OK)
		r = tlog_consistency_check(cp->size, latest->size, cp->root,
		    latest->root, (const uint8_t (*)[TLOG_HASH_LEN])hashes,
		    p->n_hashes);
	if (r != CAIRN_OK)
		r = cairn_err(CAIRN_ERR_PROOF, "checkpoint of size %llu is not "
		    "a prefix of the cosigned checkpoint of size %llu",
		    (unsigned long long)cp->size,
		    (unsigned long long)latest->size);
	free(hashes);
	protobuf_c_message_free_unpacked(&p->base, NULL);
	return r;
}

int
node_task_witness(struct node_daemon *d, const char *note, uint64_t old_size,
    const Cairn__V1__ConsistencyProof *proof)
{
	struct tlog_witness_req wr;
	struct tlog_checkpoint cp, latest;
	struct tlog_signer signer;
	Cairn__V1__ConsistencyProof *fetched = NULL;
	uint8_t (*hashes)[TLOG_HASH_LEN] = NULL;
	char line[512];
	size_t notelen;
	int r;

	if (tlog_witness_has_fork(d->dc.witness, d->origin))
		return cairn_err(CAIRN_ERR_CONFLICT, "log %s forked earlier "
		    "(evidence kept in the witness state); refusing all work",
		    d->origin);
	notelen = strlen(note);
	if ((r = tlog_checkpoint_open(note, notelen, &d->logkey, 1, 1,
	    d->origin, &cp)) != CAIRN_OK)
		return r;
	r = tlog_witness_latest(d->dc.witness, d->origin, &latest, NULL, NULL);
	if (r == CAIRN_ERR_NOTFOUND)
		latest.size = 0;
	else if (r != CAIRN_OK)
		return r;
	if (r == CAIRN_OK && cp.size < latest.size) {
		r = older_checkpoint(d, &cp, &latest);
		goto out;
	}
	if (proof == NULL || old_size != latest.size ||
	    proof->old_size != latest.size || proof->new_size != cp.size) {
		if (latest.size == 0 || latest.size >= cp.size) {
			/* No proof needed (or the witness decides). */
			proof = NULL;
		} else {
			if ((r = fetch_consistency(d, latest.size, cp.size,
			    &fetched)) != CAIRN_OK)
				return r;
			proof = fetched;
		}
	}
	if (proof != NULL &&
	    (r = proof_hashes(proof->hashes, proof->n_hashes, &hashes)) !=
	    CAIRN_OK)
		goto out;
	memset(&wr, 0, sizeof(wr));
	wr.note = note;
	wr.note_len = notelen;
	wr.log_keys = &d->logkey;
	wr.nkeys = 1;
	wr.quorum = 1;
	wr.old_size = latest.size;
	wr.proof = (const uint8_t (*)[TLOG_HASH_LEN])hashes;
	wr.proof_len = proof != NULL ? proof->n_hashes : 0;
	memset(&signer, 0, sizeof(signer));
	signer.name = d->name;
	memcpy(signer.pub, d->pk, 32);
	signer.sign = note_sign;
	signer.ctx = (void *)d->dc.id;
	if ((r = tlog_witness_add(d->dc.witness, &wr, &signer,
	    (uint64_t)time(NULL), line, sizeof(line))) != CAIRN_OK)
		goto out;
	/* The checkpoint is verified and recorded; a coordinator that
	 * does not take the cosignature now gets it with the next one. */
	r = send_cosignature(d, line, &cp);
	if (r != CAIRN_OK && r != CAIRN_ERR_NET && r != CAIRN_ERR_TIMEOUT &&
	    r != CAIRN_ERR_CANCELLED) {
		log_warn("cosignature of checkpoint %llu not taken: %s",
		    (unsigned long long)cp.size, cairn_errmsg());
		r = CAIRN_OK;
	}
out:
	free(hashes);
	if (fetched != NULL)
		protobuf_c_message_free_unpacked(&fetched->base, NULL);
	return r;
}

/* The QUERY entry at the inclusion proof's index is the task's query. */
static int
check_query_entry(struct node_daemon *d, const Cairn__V1__Task *t,
    const struct tlog_checkpoint *cp)
{
	Cairn__V1__GetEntriesRequest req = CAIRN__V1__GET_ENTRIES_REQUEST__INIT;
	Cairn__V1__GetEntriesResponse *resp = NULL;
	Cairn__V1__SignedQuery *sq = NULL;
	const Cairn__V1__InclusionProof *ip = t->query_inclusion;
	uint8_t (*hashes)[TLOG_HASH_LEN] = NULL;
	uint8_t leaf[TLOG_HASH_LEN];
	struct tlog_entry *e = NULL;
	const Cairn__V1__LogEntry *le;
	int r;

	if (ip == NULL)
		return cairn_err(CAIRN_ERR_PROOF, "task carries no inclusion "
		    "proof of its QUERY entry");
	if (ip->tree_size != cp->size)
		return cairn_err(CAIRN_ERR_PROOF, "inclusion proof for tree "
		    "size %llu, checkpoint has %llu",
		    (unsigned long long)ip->tree_size,
		    (unsigned long long)cp->size);
	if (ip->index >= cp->size)
		return cairn_err(CAIRN_ERR_PROOF, "QUERY entry index %llu is "
		    "beyond the checkpoint (size %llu)",
		    (unsigned long long)ip->index,
		    (unsigned long long)cp->size);
	if ((r = proof_hashes(ip->hashes, ip->n_hashes, &hashes)) != CAIRN_OK)
		return r;
	req.start = ip->index;
	req.end = ip->index + 1;
	if ((r = transport_unary(d->dc.client, proto_method(PROTO_GET_ENTRIES),
	    &req.base, d->call_ms, (ProtobufCMessage **)&resp)) != CAIRN_OK)
		goto out;
	if (resp->n_entries != 1 || resp->entries[0]->index != ip->index) {
		r = cairn_err(CAIRN_ERR_FORMAT, "GetEntries(%llu) returned no "
		    "such entry", (unsigned long long)ip->index);
		goto out;
	}
	le = resp->entries[0];
	tlog_leaf_hash(le->data.data, le->data.len, leaf);
	if ((r = tlog_inclusion_verify(leaf, ip->index, cp->size,
	    (const uint8_t (*)[TLOG_HASH_LEN])hashes, ip->n_hashes,
	    cp->root)) != CAIRN_OK)
		goto out;
	if ((e = malloc(sizeof(*e))) == NULL) {
		r = cairn_err(CAIRN_ERR_NOMEM, "log entry");
		goto out;
	}
	if ((r = tlog_entry_decode(le->data.data, le->data.len, e)) !=
	    CAIRN_OK)
		goto out;
	if (e->type != TLOG_ENTRY_QUERY ||
	    proto_unpack(&cairn__v1__signed_query__descriptor, e->body.p,
	    e->body.len, TLOG_ENTRY_MAX_BODY, (ProtobufCMessage **)&sq) !=
	    CAIRN_OK ||
	    sq->query.len != t->query->query.len ||
	    sq->signature.len != t->query->signature.len ||
	    memcmp(sq->query.data, t->query->query.data, sq->query.len) != 0 ||
	    memcmp(sq->signature.data, t->query->signature.data,
	    sq->signature.len) != 0) {
		r = cairn_err(CAIRN_ERR_PROOF, "log entry %llu is not the "
		    "task's QUERY", (unsigned long long)ip->index);
		goto out;
	}
	r = CAIRN_OK;
out:
	free(hashes);
	free(e);
	if (sq != NULL)
		protobuf_c_message_free_unpacked(&sq->base, NULL);
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	return r;
}

int
node_task_verify_log(struct node_daemon *d, const Cairn__V1__Task *t)
{
	struct tlog_checkpoint cp;
	int r;

	if (t->checkpoint == NULL || t->checkpoint->note == NULL ||
	    t->query == NULL)
		return cairn_err(CAIRN_ERR_FORMAT, "task without checkpoint "
		    "or query");
	if (tlog_witness_has_fork(d->dc.witness, d->origin))
		return cairn_err(CAIRN_ERR_CONFLICT, "log %s forked earlier "
		    "(evidence kept in the witness state); refusing all work",
		    d->origin);
	if ((r = tlog_checkpoint_open(t->checkpoint->note,
	    strlen(t->checkpoint->note), &d->logkey, 1, 1, d->origin, &cp)) !=
	    CAIRN_OK)
		return r;
	if ((r = check_query_entry(d, t, &cp)) != CAIRN_OK)
		return r;
	return node_task_witness(d, t->checkpoint->note,
	    t->consistency != NULL ? t->consistency->old_size : 0,
	    t->consistency);
}

/*
 * CAIRN_OK while the coordinator still serves the attempt's roster;
 * CAIRN_ERR_STATE when it refuses it (the attempt is over), or a
 * transport error.
 */
static int
attempt_open(struct node_daemon *d, const Cairn__V1__Task *t)
{
	Cairn__V1__GetRosterRequest req = CAIRN__V1__GET_ROSTER_REQUEST__INIT;
	Cairn__V1__Roster *ro = NULL;
	char why[256];
	int r;

	req.query_id = t->query_id;
	req.attempt = t->attempt;
	req.wait_ms = 0;
	r = transport_unary(d->dc.client, proto_method(PROTO_GET_ROSTER),
	    &req.base, d->call_ms, (ProtobufCMessage **)&ro);
	if (ro != NULL)
		protobuf_c_message_free_unpacked(&ro->base, NULL);
	if (r == CAIRN_OK || r == CAIRN_ERR_TIMEOUT || r == CAIRN_ERR_NOTFOUND)
		return CAIRN_OK;
	if (r == CAIRN_ERR_NET || r == CAIRN_ERR_UNAUTH ||
	    r == CAIRN_ERR_CANCELLED)
		return r;
	snprintf(why, sizeof(why), "%s", cairn_errmsg());
	return cairn_err(CAIRN_ERR_STATE, "query '%s' attempt %u ended while "
	    "waiting for the checkpoint quorum: %s", t->query_id, t->attempt,
	    why);
}

/*
 * One GetCheckpoint asking for 'min' cosignatures (0: the latest): a
 * checkpoint covering the task's is witnessed (it must extend what this
 * node cosigned) and its valid node cosignatures counted into
 * '*nvalid' ('*seen' its size); '*met' says whether they reach the quorum.
 */
static int
quorum_ask(struct node_daemon *d, uint32_t min,
    const struct tlog_checkpoint *task_cp, uint64_t *seen, size_t *nvalid,
    bool *met)
{
	Cairn__V1__GetCheckpointRequest req =
	    CAIRN__V1__GET_CHECKPOINT_REQUEST__INIT;
	Cairn__V1__Checkpoint *m = NULL;
	struct tlog_checkpoint cp, latest;
	int r;

	*met = false;
	req.min_cosignatures = min;
	if ((r = transport_unary(d->dc.client,
	    proto_method(PROTO_GET_CHECKPOINT), &req.base, d->call_ms,
	    (ProtobufCMessage **)&m)) != CAIRN_OK)
		return r;
	if ((r = tlog_checkpoint_open(m->note, strlen(m->note), &d->logkey,
	    1, 1, d->origin, &cp)) != CAIRN_OK || cp.size < task_cp->size)
		goto out;
	if ((r = tlog_witness_latest(d->dc.witness, d->origin, &latest, NULL,
	    NULL)) != CAIRN_OK)
		goto out;
	if ((latest.size != cp.size || memcmp(latest.root, cp.root,
	    TLOG_HASH_LEN) != 0) &&
	    (r = node_task_witness(d, m->note, latest.size, NULL)) != CAIRN_OK)
		goto out;
	if ((r = tlog_fed_cosignatures(m->note, strlen(m->note), d->dc.fed,
	    nvalid)) != CAIRN_OK)
		goto out;
	*seen = cp.size;
	*met = *nvalid >= d->quorum;
out:
	protobuf_c_message_free_unpacked(&m->base, NULL);
	return r;
}

int
node_task_await_quorum(struct node_daemon *d, const Cairn__V1__Task *t)
{
	struct tlog_checkpoint task_cp;
	struct timespec now, end;
	size_t nvalid = 0;
	uint64_t seen = 0;
	long pause_ms = 10;
	bool met;
	int r;

	if (d->quorum == 0)
		return CAIRN_OK;
	if (t->checkpoint == NULL || t->checkpoint->note == NULL ||
	    (r = tlog_checkpoint_open(t->checkpoint->note,
	    strlen(t->checkpoint->note), &d->logkey, 1, 1, d->origin,
	    &task_cp)) != CAIRN_OK)
		return cairn_err(CAIRN_ERR_FORMAT, "task without a valid "
		    "checkpoint");
	clock_gettime(CLOCK_REALTIME, &end);
	/* The deadline is the coordinator's: now plus what is left of it
	 * by the coordinator's clock (docs/operations.md, "Clocks"). */
	if (t->deadline_unix > node_coord_now(d))
		end.tv_sec += (time_t)(t->deadline_unix - node_coord_now(d));
	else
		end.tv_sec += d->call_ms / 1000 + 1;
	for (;;) {
		/*
		 * First the newest checkpoint the quorum cosigned: every
		 * participant cosigned the task's before advertising, so
		 * with a majority taking part it is there at once (asking
		 * only for the latest, which the CHARGE entries made new,
		 * waited 15-20 ms for its cosignatures, docs/benchmarks.md).
		 * Then the latest, witnessed and cosigned here so idle
		 * nodes' cosignatures can complete a quorum on it.  The
		 * other participants cosign within milliseconds: ask again
		 * after 10 ms, doubling to 200 ms (a fixed 200 ms added
		 * about 0.2 s to every round, bench/federation.sh).
		 */
		struct timespec ts = { 0, pause_ms * 1000000L };

		if ((r = quorum_ask(d, (uint32_t)d->quorum, &task_cp, &seen,
		    &nvalid, &met)) != CAIRN_OK || met)
			return r;
		if ((r = quorum_ask(d, 0, &task_cp, &seen, &nvalid, &met)) !=
		    CAIRN_OK || met)
			return r;
		/* Is the attempt still open?  A failed one (another node
		 * refused, a deadline) ends the wait. */
		if ((r = attempt_open(d, t)) != CAIRN_OK)
			return r;
		clock_gettime(CLOCK_REALTIME, &now);
		if (now.tv_sec >= end.tv_sec ||
		    (d->dc.stop != NULL && *d->dc.stop != 0))
			break;
		nanosleep(&ts, NULL);
		if (pause_ms < 200)
			pause_ms = pause_ms * 2 > 200 ? 200 : pause_ms * 2;
	}
	if (seen == 0)
		return cairn_err(CAIRN_ERR_PROOF, "checkpoint quorum: the "
		    "coordinator served no checkpoint covering the task's "
		    "(size %llu) before the deadline",
		    (unsigned long long)task_cp.size);
	return cairn_err(CAIRN_ERR_PROOF, "checkpoint quorum: checkpoint %llu "
	    "has %zu valid witness cosignature%s, %zu required (a majority "
	    "of the enrolled nodes has not witnessed this log)",
	    (unsigned long long)seen, nvalid, nvalid == 1 ? "" : "s",
	    d->quorum);
}

/* ----------------------------------------------------------- the query */

int
node_task_check_query(struct node_daemon *d, const Cairn__V1__Task *t,
    struct node_task_query *tq, const char **code)
{
	struct node_task_query x;
	struct node_policy_request pr;
	const struct keys_member *am;
	const Cairn__V1__Query *q;
	bool self = false;
	int r;

	memset(&x, 0, sizeof(x));
	*code = NODE_REFUSE_OTHER;
	if (t->query == NULL || t->query->signature.len != KEYS_SIG_LEN)
		return cairn_err(CAIRN_ERR_SIGNATURE, "query carries no "
		    "signature");
	crypto_hash_sha256(x.qhash, t->query->query.data, t->query->query.len);
	if ((r = proto_unpack(&cairn__v1__query__descriptor,
	    t->query->query.data, t->query->query.len, PROTO_MAX_SMALL,
	    (ProtobufCMessage **)&x.q)) != CAIRN_OK)
		goto fail;
	q = x.q;
	*code = NODE_REFUSE_ANALYST;
	if (q->analyst == NULL || q->analyst->role !=
	    CAIRN__V1__ROLE__ROLE_ANALYST || q->analyst->name == NULL ||
	    (am = keys_federation_find(d->dc.fed, KEYS_ROLE_ANALYST,
	    q->analyst->name)) == NULL) {
		r = cairn_err(CAIRN_ERR_SIGNATURE, "analyst '%s' is not "
		    "enrolled in the federation",
		    q->analyst != NULL && q->analyst->name != NULL ?
		    q->analyst->name : "");
		goto fail;
	}
	if ((r = keys_verify(am->pub.pk, "query", t->query->query.data,
	    t->query->query.len, t->query->signature.data)) != CAIRN_OK) {
		r = cairn_err(CAIRN_ERR_SIGNATURE, "analyst '%s''s signature "
		    "on query '%s' does not verify", q->analyst->name,
		    q->query_id);
		goto fail;
	}
	*code = NODE_REFUSE_OTHER;
	if (strcmp(q->federation, d->dc.fed->name) != 0) {
		r = cairn_err(CAIRN_ERR_POLICY, "query is for federation '%s', "
		    "this node is in '%s'", q->federation, d->dc.fed->name);
		goto fail;
	}
	if (t->query_id == NULL || strcmp(q->query_id, t->query_id) != 0) {
		r = cairn_err(CAIRN_ERR_FORMAT, "task names query '%s' but "
		    "carries '%s'", t->query_id != NULL ? t->query_id : "",
		    q->query_id);
		goto fail;
	}
	*code = NODE_REFUSE_POLICY;
	if (q->n_participants < 2 ||
	    q->n_participants > NODE_MAX_PARTICIPANTS) {
		r = cairn_err(CAIRN_ERR_POLICY, "%zu participants (2 to %d "
		    "accepted)", q->n_participants, NODE_MAX_PARTICIPANTS);
		goto fail;
	}
	for (size_t i = 0; i < q->n_participants; i++) {
		if (keys_federation_find(d->dc.fed, KEYS_ROLE_NODE,
		    q->participants[i]) == NULL) {
			r = cairn_err(CAIRN_ERR_POLICY, "participant '%s' is "
			    "not an enrolled node", q->participants[i]);
			goto fail;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(q->participants[i], q->participants[j]) ==
			    0) {
				r = cairn_err(CAIRN_ERR_POLICY, "participant "
				    "'%s' listed twice", q->participants[i]);
				goto fail;
			}
		if (strcmp(q->participants[i], d->name) == 0)
			self = true;
	}
	if (!self) {
		r = cairn_err(CAIRN_ERR_POLICY, "this node ('%s') is not a "
		    "participant of query '%s'", d->name, q->query_id);
		goto fail;
	}
	if (q->spec == NULL) {
		r = cairn_err(CAIRN_ERR_FORMAT, "query '%s' has no spec",
		    q->query_id);
		goto fail;
	}
	if ((r = qspec_from_proto(q->spec, "query spec", &x.spec)) != CAIRN_OK)
		goto fail;
	x.nmonths = qspec_months(&x.spec, x.months);
	x.n = (uint32_t)q->n_participants;
	x.c = q->max_colluding;
	x.h = q->holders_per_person != 0 ? q->holders_per_person : 1;
	memset(&pr, 0, sizeof(pr));
	pr.kind = qspec_kind_name(x.spec.kind);
	pr.analyst = q->analyst->name;
	pr.geography = q->spec->geography;
	pr.rho_nano = q->rho_nano;
	pr.participants = q->n_participants;
	pr.colluding = q->max_colluding;
	pr.months = x.nmonths;
	pr.holders = x.h;
	if (d->dc.cfg->geography != NULL &&
	    strcmp(q->spec->geography, d->dc.cfg->geography) != 0) {
		*code = NODE_REFUSE_GEOGRAPHY;
		r = cairn_err(CAIRN_ERR_POLICY, "geography '%s' is not the one "
		    "this node's data is mapped to", q->spec->geography);
		goto fail;
	}
	if ((r = node_geography_check(d->dc.cfg, q->spec->geography,
	    t->geography_sha256.data, t->geography_sha256.len,
	    keys_federation_geography(d->dc.fed, q->spec->geography))) !=
	    CAIRN_OK) {
		*code = NODE_REFUSE_GEOGRAPHY;
		goto fail;
	}
	if ((r = node_policy_check(&d->dc.cfg->policy, &pr)) != CAIRN_OK) {
		if (strstr(cairn_errmsg(), "analyst") != NULL)
			*code = NODE_REFUSE_ANALYST;
		else if (strstr(cairn_errmsg(), "geography") != NULL)
			*code = NODE_REFUSE_GEOGRAPHY;
		goto fail;
	}
	node_pset_hash(q->participants, q->n_participants, x.pset);
	*tq = x;
	return CAIRN_OK;
fail:
	node_task_query_release(&x);
	return r;
}

int
node_task_refuse(struct node_daemon *d, const Cairn__V1__Task *t,
    const uint8_t *qhash, const char *code, const char *line)
{
	Cairn__V1__Refusal rf = CAIRN__V1__REFUSAL__INIT;
	Cairn__V1__SignedRefusal sr = CAIRN__V1__SIGNED_REFUSAL__INIT;
	ProtobufCMessage *resp = NULL;
	uint8_t sig[KEYS_SIG_LEN], h[32], *bytes = NULL;
	char oneline[512];
	size_t len, i;
	int r;

	snprintf(oneline, sizeof(oneline), "%s", line);
	for (i = 0; oneline[i] != '\0'; i++)
		if (oneline[i] == '\n' || oneline[i] == '\r')
			oneline[i] = ' ';
	if (qhash == NULL) {
		if (t->query != NULL)
			crypto_hash_sha256(h, t->query->query.data,
			    t->query->query.len);
		else
			memset(h, 0, sizeof(h));
		qhash = h;
	}
	rf.query_id = t->query_id != NULL ? t->query_id : (char *)"";
	rf.query_hash.data = (uint8_t *)qhash;
	rf.query_hash.len = 32;
	rf.node = (char *)d->name;
	rf.reason_code = (char *)code;
	rf.reason = oneline;
	if ((r = node_sign_msg(d, &rf.base, "refusal", &bytes, &len, sig)) !=
	    CAIRN_OK)
		return r;
	sr.refusal.data = bytes;
	sr.refusal.len = len;
	sr.signature.data = sig;
	sr.signature.len = KEYS_SIG_LEN;
	log_info("refusing query '%s' (%s): %s", rf.query_id, code, oneline);
	r = transport_unary(d->dc.client, proto_method(PROTO_REFUSE), &sr.base,
	    d->call_ms, &resp);
	if (resp != NULL)
		protobuf_c_message_free_unpacked(resp, NULL);
	free(bytes);
	return r;
}

/* ---------------------------------------------------------- the roster */

static int
cmp_member(const void *a, const void *b)
{
	return memcmp(((const struct secagg_member *)a)->id,
	    ((const struct secagg_member *)b)->id, SECAGG_KEY_LEN);
}

int
node_roster_check(struct node_daemon *d, const struct node_task_query *tq,
    uint32_t attempt, uint64_t cells, const Cairn__V1__Roster *ro,
    const Cairn__V1__SignedAdvertisement *own, struct secagg_member *members,
    size_t *self)
{
	const Cairn__V1__Query *q = tq->q;
	Cairn__V1__Advertisement *ad = NULL;
	Cairn__V1__Charge *ch = NULL;
	const struct keys_member *m;
	bool *seen = NULL, own_seen = false;
	size_t i, k, n = q->n_participants;
	long pos;
	int r;

	if (strcmp(ro->query_id, q->query_id) != 0 || ro->attempt != attempt)
		return cairn_err(CAIRN_ERR_FORMAT, "roster is for query '%s' "
		    "attempt %u, not '%s' attempt %u", ro->query_id,
		    ro->attempt, q->query_id, attempt);
	if (ro->n_advertisements != n)
		return cairn_err(CAIRN_ERR_FORMAT, "roster has %zu "
		    "advertisements for %zu participants",
		    ro->n_advertisements, n);
	if ((seen = calloc(n, sizeof(*seen))) == NULL)
		return cairn_err(CAIRN_ERR_NOMEM, "roster");
	for (i = 0; i < n; i++) {
		const Cairn__V1__SignedAdvertisement *sa =
		    ro->advertisements[i];

		if ((r = proto_unpack(&cairn__v1__advertisement__descriptor,
		    sa->advertisement.data, sa->advertisement.len,
		    PROTO_MAX_SMALL, (ProtobufCMessage **)&ad)) != CAIRN_OK)
			goto out;
		for (k = 0; k < n; k++)
			if (strcmp(q->participants[k], ad->node) == 0)
				break;
		if (k == n) {
			r = cairn_err(CAIRN_ERR_FORMAT, "roster advertisement "
			    "from '%s', not a participant", ad->node);
			goto out;
		}
		if (seen[k]) {
			r = cairn_err(CAIRN_ERR_FORMAT, "roster has two "
			    "advertisements from '%s'", ad->node);
			goto out;
		}
		seen[k] = true;
		m = keys_federation_find(d->dc.fed, KEYS_ROLE_NODE, ad->node);
		if (m == NULL || sa->signature.len != KEYS_SIG_LEN ||
		    keys_verify(m->pub.pk, "advertisement",
		    sa->advertisement.data, sa->advertisement.len,
		    sa->signature.data) != CAIRN_OK) {
			r = cairn_err(CAIRN_ERR_SIGNATURE, "advertisement of "
			    "'%s' is not signed by that node", ad->node);
			goto out;
		}
		if (strcmp(ad->query_id, q->query_id) != 0 ||
		    ad->attempt != attempt) {
			r = cairn_err(CAIRN_ERR_FORMAT, "advertisement of '%s' "
			    "is for query '%s' attempt %u", ad->node,
			    ad->query_id, ad->attempt);
			goto out;
		}
		if (ad->x25519_public.len != SECAGG_KEY_LEN || ad->charge ==
		    NULL || ad->charge->signature.len != KEYS_SIG_LEN ||
		    keys_verify(m->pub.pk, "charge", ad->charge->charge.data,
		    ad->charge->charge.len, ad->charge->signature.data) !=
		    CAIRN_OK) {
			r = cairn_err(CAIRN_ERR_SIGNATURE, "advertisement of "
			    "'%s' lacks a key or a charge signed by it",
			    ad->node);
			goto out;
		}
		if ((r = proto_unpack(&cairn__v1__charge__descriptor,
		    ad->charge->charge.data, ad->charge->charge.len,
		    PROTO_MAX_SMALL, (ProtobufCMessage **)&ch)) != CAIRN_OK)
			goto out;
		if (strcmp(ch->node, ad->node) != 0 || ch->attempt != attempt ||
		    ch->query_hash.len != 32 ||
		    memcmp(ch->query_hash.data, tq->qhash, 32) != 0) {
			r = cairn_err(CAIRN_ERR_FORMAT, "charge of '%s' is not "
			    "for this query and attempt", ad->node);
			goto out;
		}
		if (ch->cells != cells) {
			r = cairn_err(CAIRN_ERR_FORMAT, "'%s' declares %llu "
			    "cells, this node %llu", ad->node,
			    (unsigned long long)ch->cells,
			    (unsigned long long)cells);
			goto out;
		}
		if (strcmp(ad->node, d->name) == 0) {
			if (sa->advertisement.len != own->advertisement.len ||
			    memcmp(sa->advertisement.data,
			    own->advertisement.data,
			    own->advertisement.len) != 0) {
				r = cairn_err(CAIRN_ERR_CONFLICT, "the roster "
				    "carries an advertisement of this node "
				    "that it did not send");
				goto out;
			}
			own_seen = true;
		}
		memcpy(members[i].id, m->pub.pk, SECAGG_KEY_LEN);
		memcpy(members[i].epk, ad->x25519_public.data, SECAGG_KEY_LEN);
		protobuf_c_message_free_unpacked(&ch->base, NULL);
		ch = NULL;
		protobuf_c_message_free_unpacked(&ad->base, NULL);
		ad = NULL;
	}
	if (!own_seen) {
		r = cairn_err(CAIRN_ERR_FORMAT, "roster lacks this node");
		goto out;
	}
	qsort(members, n, sizeof(*members), cmp_member);
	if ((r = secagg_roster_check(members, n)) != CAIRN_OK)
		goto out;
	if ((pos = secagg_roster_find(members, n, d->pk)) < 0) {
		r = cairn_err(CAIRN_ERR_INTERNAL, "own key not in roster");
		goto out;
	}
	*self = (size_t)pos;
	r = CAIRN_OK;
out:
	if (ch != NULL)
		protobuf_c_message_free_unpacked(&ch->base, NULL);
	if (ad != NULL)
		protobuf_c_message_free_unpacked(&ad->base, NULL);
	free(seen);
	return r;
}
