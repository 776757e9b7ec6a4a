/*
 * query_log.c - the analyst's client reads the transparency log and takes
 * nothing on the coordinator's word: a checkpoint signed by the log key
 * with a witness quorum, single entries proven included in it (used by
 * `cairn query result`), and the whole log up to a checkpoint, its leaves
 * re-hashed into the checkpoint's root (used by `cairn query budget` and
 * the planner, which read every POLICY and CHARGE entry).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "keys/keys_federation.h"
#include "protocol/cairn.pb-c.h"
#include "protocol/proto_service.h"
#include "protocol/tlog.h"
#include "protocol/tlog_entry.h"
#include "protocol/tlog_member.h"
#include "protocol/tlog_note.h"
#include "protocol/transport.h"
#include "query/query.h"
#include "query/query_int.h"

#define PROOF_WAIT_SLICE_MS	500

/*
 * Wait up to 'wait_s' seconds for a checkpoint signed by the log key 'lk'
 * that covers index 'index' and carries at least 'quorum' valid witness
 * cosignatures of 'fed''s nodes (witnesses cosign within their poll
 * interval).  A checkpoint the log key did not sign fails at once.
 */
int
query_log_checkpoint(struct transport_client *cl,
    const struct keys_federation *fed, const struct tlog_verifier *lk,
    size_t quorum, uint64_t index, unsigned wait_s, struct tlog_checkpoint *cp)
{
	Cairn__V1__GetCheckpointRequest req =
	    CAIRN__V1__GET_CHECKPOINT_REQUEST__INIT;
	Cairn__V1__Checkpoint *m = NULL;
	size_t nvalid = 0;
	int r;

	for (unsigned waited = 0;; waited += PROOF_WAIT_SLICE_MS) {
		struct timespec ts = { 0, PROOF_WAIT_SLICE_MS * 1000000L };

		if ((r = transport_unary(cl, proto_method(PROTO_GET_CHECKPOINT),
		    &req.base, CALL_MS, (ProtobufCMessage **)&m)) != CAIRN_OK)
			return r;
		if ((r = tlog_checkpoint_open(m->note, strlen(m->note), lk, 1,
		    1, lk->name, cp)) != CAIRN_OK) {
			char d[256];

			/* cairn_err() writes the buffer errmsg reads. */
			snprintf(d, sizeof(d), "%s", cairn_errmsg());
			r = cairn_err(CAIRN_ERR_SIGNATURE, "checkpoint: not "
			    "signed by the log key '%s' (the coordinator's "
			    "identity key in federation.conf): %s", lk->name,
			    d);
			goto out;
		}
		if ((r = tlog_fed_cosignatures(m->note, strlen(m->note), fed,
		    &nvalid)) != CAIRN_OK)
			goto out;
		protobuf_c_message_free_unpacked(&m->base, NULL);
		m = NULL;
		if (cp->size > index && nvalid >= quorum)
			return CAIRN_OK;
		if (waited >= wait_s * 1000u)
			break;
		nanosleep(&ts, NULL);
	}
	if (cp->size <= index)
		return cairn_err(CAIRN_ERR_PROOF, "checkpoint of size %" PRIu64
		    " does not cover log index %" PRIu64 " (after %u s)",
		    cp->size, index, wait_s);
	return cairn_err(CAIRN_ERR_PROOF, "checkpoint of size %" PRIu64
	    ": %zu valid witness cosignature%s, %zu required (a majority of "
	    "the enrolled nodes; after %u s)", cp->size, nvalid,
	    nvalid == 1 ? "" : "s", quorum, wait_s);
out:
	if (m != NULL)
		protobuf_c_message_free_unpacked(&m->base, NULL);
	return r;
}

/*
 * The entry at 'index' ('what' names it in errors), decoded into 'e',
 * after its inclusion proof in the checkpoint 'cp' verifies.  'e' points
 * into '*resp', which the caller frees.
 */
int
query_log_entry(struct transport_client *cl, const char *what, uint64_t index,
    const struct tlog_checkpoint *cp, Cairn__V1__GetEntriesResponse **resp,
    struct tlog_entry *e)
{
	Cairn__V1__GetEntriesRequest req = CAIRN__V1__GET_ENTRIES_REQUEST__INIT;
	Cairn__V1__GetInclusionProofRequest ireq =
	    CAIRN__V1__GET_INCLUSION_PROOF_REQUEST__INIT;
	Cairn__V1__InclusionProof *ip = NULL;
	Cairn__V1__GetEntriesResponse *er = NULL;
	uint8_t (*h)[TLOG_HASH_LEN] = NULL, leaf[TLOG_HASH_LEN];
	int r;

	req.start = index;
	req.end = index + 1;
	ireq.index = index;
	ireq.tree_size = cp->size;
	if ((r = transport_unary(cl, proto_method(PROTO_GET_ENTRIES),
	    &req.base, CALL_MS, (ProtobufCMessage **)&er)) != CAIRN_OK ||
	    (r = transport_unary(cl, proto_method(PROTO_GET_INCLUSION_PROOF),
	    &ireq.base, CALL_MS, (ProtobufCMessage **)&ip)) != CAIRN_OK)
		goto out;
	if (er->n_entries != 1 || er->entries[0]->index != index) {
		r = cairn_err(CAIRN_ERR_FORMAT, "%s entry %" PRIu64 ": "
		    "GetEntries returned no such entry", what, index);
		goto out;
	}
	if (ip->n_hashes > 64 || (ip->n_hashes > 0 &&
	    (h = calloc(ip->n_hashes, sizeof(*h))) == NULL)) {
		r = cairn_err(ip->n_hashes > 64 ? CAIRN_ERR_TOOBIG :
		    CAIRN_ERR_NOMEM, "%s entry %" PRIu64 ": inclusion proof "
		    "of %zu hashes", what, index, ip->n_hashes);
		goto out;
	}
	for (size_t i = 0; i < ip->n_hashes; i++) {
		if (ip->hashes[i].len != TLOG_HASH_LEN) {
			r = cairn_err(CAIRN_ERR_FORMAT, "%s entry %" PRIu64
			    ": inclusion proof hash %zu is not 32 bytes", what,
			    index, i);
			goto out;
		}
		memcpy(h[i], ip->hashes[i].data, TLOG_HASH_LEN);
	}
	tlog_leaf_hash(er->entries[0]->data.data, er->entries[0]->data.len,
	    leaf);
	if (ip->index != index || ip->tree_size != cp->size ||
	    tlog_inclusion_verify(leaf, index, cp->size,
	    (const uint8_t (*)[TLOG_HASH_LEN])h, ip->n_hashes, cp->root) !=
	    CAIRN_OK) {
		r = cairn_err(CAIRN_ERR_PROOF, "%s entry %" PRIu64 " is not "
		    "included in the signed checkpoint of size %" PRIu64
		    " (its inclusion proof does not verify)", what, index,
		    cp->size);
		goto out;
	}
	if ((r = tlog_entry_decode(er->entries[0]->data.data,
	    er->entries[0]->data.len, e)) != CAIRN_OK) {
		r = cairn_err(CAIRN_ERR_FORMAT, "%s entry %" PRIu64 ": %s",
		    what, index, cairn_errmsg());
		goto out;
	}
	*resp = er;
	er = NULL;
out:
	free(h);
	if (ip != NULL)
		protobuf_c_message_free_unpacked(&ip->base, NULL);
	if (er != NULL)
		protobuf_c_message_free_unpacked(&er->base, NULL);
	return r;
}

int
query_log_root_check(const uint8_t *const *data, const size_t *len,
    uint64_t n, const struct tlog_checkpoint *cp)
{
	struct tlog_frontier f;
	uint8_t leaf[TLOG_HASH_LEN], root[TLOG_HASH_LEN];
	int r;

	if (n != cp->size)
		return cairn_err(CAIRN_ERR_PROOF, "%" PRIu64 " log entries "
		    "for a checkpoint of size %" PRIu64, n, cp->size);
	tlog_frontier_init(&f);
	for (uint64_t i = 0; i < n; i++) {
		tlog_leaf_hash(data[i], len[i], leaf);
		if ((r = tlog_frontier_append(&f, leaf, NULL, NULL)) !=
		    CAIRN_OK)
			return r;
	}
	tlog_frontier_root(&f, root);
	if (memcmp(root, cp->root, TLOG_HASH_LEN) != 0)
		return cairn_err(CAIRN_ERR_PROOF, "the %" PRIu64 " log entries "
		    "do not hash to the root of the signed checkpoint of size %"
		    PRIu64 " (an entry was changed, dropped or added)", n,
		    cp->size);
	return CAIRN_OK;
}

/* Entries fetched so far, kept until the root is checked. */
struct fetched {
	Cairn__V1__GetEntriesResponse	**resp;
	size_t				  nresp;
	const uint8_t			**data;
	size_t				 *len;
	uint64_t			  n;
};

static void
fetched_release(struct fetched *fe)
{
	for (size_t i = 0; i < fe->nresp; i++)
		protobuf_c_message_free_unpacked(&fe->resp[i]->base, NULL);
	free(fe->resp);
	free(fe->data);
	free(fe->len);
}

int
query_log_scan(struct transport_client *cl, const struct tlog_checkpoint *cp,
    int (*fn)(void *arg, uint64_t index, const struct tlog_entry *e),
    void *arg)
{
	Cairn__V1__GetEntriesRequest req = CAIRN__V1__GET_ENTRIES_REQUEST__INIT;
	Cairn__V1__GetEntriesResponse *er = NULL;
	struct tlog_entry *e = NULL;
	struct fetched fe;
	int r;

	memset(&fe, 0, sizeof(fe));
	if (cp->size > QUERY_LOG_MAX_ENTRIES)
		return cairn_err(CAIRN_ERR_TOOBIG, "a log of %" PRIu64 " "
		    "entries, more than %u", cp->size, QUERY_LOG_MAX_ENTRIES);
	if (cp->size > 0 && ((fe.data = calloc(cp->size,
	    sizeof(*fe.data))) == NULL || (fe.len = calloc(cp->size,
	    sizeof(*fe.len))) == NULL || (fe.resp = calloc(cp->size,
	    sizeof(*fe.resp))) == NULL)) {
		r = cairn_err(CAIRN_ERR_NOMEM, "log entries");
		goto out;
	}
	while (fe.n < cp->size) {
		req.start = fe.n;
		req.end = cp->size;
		if ((r = transport_unary(cl, proto_method(PROTO_GET_ENTRIES),
		    &req.base, CALL_MS, (ProtobufCMessage **)&er)) != CAIRN_OK)
			goto out;
		fe.resp[fe.nresp++] = er;
		if (er->n_entries == 0 || er->n_entries > cp->size - fe.n) {
			r = cairn_err(CAIRN_ERR_FORMAT, "GetEntries from %"
			    PRIu64 ": %zu entries", fe.n, er->n_entries);
			goto out;
		}
		for (size_t i = 0; i < er->n_entries; i++, fe.n++) {
			if (er->entries[i]->index != fe.n) {
				r = cairn_err(CAIRN_ERR_FORMAT, "GetEntries: "
				    "entry %" PRIu64 " came as %" PRIu64, fe.n,
				    er->entries[i]->index);
				goto out;
			}
			fe.data[fe.n] = er->entries[i]->data.data;
			fe.len[fe.n] = er->entries[i]->data.len;
		}
		er = NULL;
	}
	/* Nothing is believed before every leaf is in the signed root. */
	if ((r = query_log_root_check(fe.data, fe.len, fe.n, cp)) != CAIRN_OK)
		goto out;
	if ((e = malloc(sizeof(*e))) == NULL) {
		r = cairn_err(CAIRN_ERR_NOMEM, "log entry");
		goto out;
	}
	for (uint64_t i = 0; i < fe.n; i++) {
		if ((r = tlog_entry_decode(fe.data[i], fe.len[i], e)) !=
		    CAIRN_OK) {
			r = cairn_err(CAIRN_ERR_FORMAT, "log entry %" PRIu64
			    ": %s", i, cairn_errmsg());
			goto out;
		}
		if ((r = fn(arg, i, e)) != CAIRN_OK)
			goto out;
	}
	r = CAIRN_OK;
out:
	free(e);
	fetched_release(&fe);
	return r;
}
