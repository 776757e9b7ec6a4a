/*
 * coord_logread.c - the read-only log methods of cairn.v1.Coordinator,
 * for auditors, witnesses and nodes: GetCheckpoint (with cosignatures,
 * at the witness quorum or the one asked for), GetEntries,
 * GetInclusionProof and
 * GetConsistencyProof.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "coordinator/coord_service_int.h"

int
coord_do_checkpoint(struct coord *c, struct transport_call *call,
    const Cairn__V1__GetCheckpointRequest *req)
{
	Cairn__V1__Checkpoint cp = CAIRN__V1__CHECKPOINT__INIT;
	size_t quorum = (size_t)c->cfg->witness_quorum;
	char *note;
	int r;

	/* A serving choice only: the caller counts the valid ones itself. */
	if (req->min_cosignatures > 0)
		quorum = req->min_cosignatures;
	if ((r = coord_log_checkpoint(&c->log, quorum, &note)) != CAIRN_OK)
		return r;
	cp.note = note;
	(void)transport_call_reply(call, &cp.base);
	free(note);
	return COORD_HELD;
}

int
coord_do_entries(struct coord *c, struct transport_call *call,
    const Cairn__V1__GetEntriesRequest *req, const char **field)
{
	Cairn__V1__GetEntriesResponse resp =
	    CAIRN__V1__GET_ENTRIES_RESPONSE__INIT;
	Cairn__V1__LogEntry *ev = NULL, **ep = NULL;
	uint64_t size = tlog_store_size(c->log.tlog), end = req->end;
	size_t n = 0, k = 0;
	int r = CAIRN_OK;

	*field = "end";
	if (end > size || req->start >= end)
		return cairn_err(end > size ? CAIRN_ERR_RANGE : CAIRN_ERR_ARG,
		    "entries [%llu, %llu) of a log of %llu",
		    (unsigned long long)req->start, (unsigned long long)end,
		    (unsigned long long)size);
	*field = NULL;
	if (end - req->start > 1000)
		end = req->start + 1000;
	n = (size_t)(end - req->start);
	if ((ev = calloc(n, sizeof(*ev))) == NULL ||
	    (ep = calloc(n, sizeof(*ep))) == NULL) {
		r = CAIRN_ERR_NOMEM;
		goto out;
	}
	for (; k < n; k++) {
		size_t len;

		cairn__v1__log_entry__init(&ev[k]);
		if ((r = tlog_store_entry(c->log.tlog, req->start + k,
		    &ev[k].data.data, &len)) != CAIRN_OK)
			goto out;
		ev[k].data.len = len;
		ev[k].index = req->start + k;
		ev[k].type = len > 1 ?
		    (Cairn__V1__EntryType)ev[k].data.data[1] :
		    CAIRN__V1__ENTRY_TYPE__ENTRY_UNSPECIFIED;
		ep[k] = &ev[k];
	}
	resp.n_entries = n;
	resp.entries = ep;
	(void)transport_call_reply(call, &resp.base);
	r = COORD_HELD;
out:
	for (size_t i = 0; i < k; i++)
		free(ev[i].data.data);
	free(ev);
	free(ep);
	return r;
}

int
coord_do_inclusion(struct coord *c, struct transport_call *call,
    const Cairn__V1__GetInclusionProofRequest *req, const char **field)
{
	Cairn__V1__InclusionProof ip = CAIRN__V1__INCLUSION_PROOF__INIT;
	uint8_t pr[TLOG_MAX_PROOF][TLOG_HASH_LEN];
	ProtobufCBinaryData h[TLOG_MAX_PROOF];
	size_t n;
	int r;

	*field = "tree_size";
	if (req->tree_size > tlog_store_size(c->log.tlog) ||
	    req->index >= req->tree_size)
		return cairn_err(CAIRN_ERR_RANGE, "entry %llu in a tree of "
		    "%llu (the log has %llu)", (unsigned long long)req->index,
		    (unsigned long long)req->tree_size,
		    (unsigned long long)tlog_store_size(c->log.tlog));
	if ((r = tlog_store_inclusion_proof(c->log.tlog, req->index,
	    req->tree_size, pr, TLOG_MAX_PROOF, &n)) != CAIRN_OK)
		return r;
	for (size_t i = 0; i < n; i++) {
		h[i].data = pr[i];
		h[i].len = TLOG_HASH_LEN;
	}
	ip.index = req->index;
	ip.tree_size = req->tree_size;
	ip.n_hashes = n;
	ip.hashes = h;
	(void)transport_call_reply(call, &ip.base);
	return COORD_HELD;
}

int
coord_do_consistency(struct coord *c, struct transport_call *call,
    const Cairn__V1__GetConsistencyProofRequest *req, const char **field)
{
	Cairn__V1__ConsistencyProof cp = CAIRN__V1__CONSISTENCY_PROOF__INIT;
	uint8_t pr[TLOG_MAX_PROOF][TLOG_HASH_LEN];
	ProtobufCBinaryData h[TLOG_MAX_PROOF];
	size_t n;
	int r;

	*field = "new_size";
	if (req->old_size > req->new_size)
		return cairn_err(CAIRN_ERR_ARG, "old size %llu is over the new "
		    "size %llu", (unsigned long long)req->old_size,
		    (unsigned long long)req->new_size);
	if (req->new_size > tlog_store_size(c->log.tlog))
		return cairn_err(CAIRN_ERR_RANGE, "size %llu is beyond the "
		    "log's %llu", (unsigned long long)req->new_size,
		    (unsigned long long)tlog_store_size(c->log.tlog));
	if ((r = tlog_store_consistency_proof(c->log.tlog, req->old_size,
	    req->new_size, pr, TLOG_MAX_PROOF, &n)) != CAIRN_OK)
		return r;
	for (size_t i = 0; i < n; i++) {
		h[i].data = pr[i];
		h[i].len = TLOG_HASH_LEN;
	}
	cp.old_size = req->old_size;
	cp.new_size = req->new_size;
	cp.n_hashes = n;
	cp.hashes = h;
	(void)transport_call_reply(call, &cp.base);
	return COORD_HELD;
}
