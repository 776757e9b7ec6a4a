/*
 * daemon_follow.c - the node as a reader and witness of the log
 * (docs/federation.md, docs/node.md): the idle checkpoint refresh
 * (open the coordinator's checkpoint, add it to the witness, cosign),
 * and following the log up to the newest cosigned checkpoint, checking
 * the entries hash to its root, to bring the ledger up to what the log
 * says: this node's CHARGE entries (a ledger restored from a backup, or
 * deleted, never under-counts), their log indexes, and RELEASE entries,
 * which close a round and delete its kept noisy vector.  The position
 * reached is kept in the ledger's state.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/err.h"
#include "common/rho.h"
#include "common/log.h"
#include "node/daemon_int.h"
#include "protocol/tlog_entry.h"

#define FOLLOW_KEY	"log_follow"
#define FOLLOW_BATCH	1000
#define FOLLOW_MAX_HITS	100000

int
node_daemon_witness_checkpoint(struct node_daemon *d)
{
	Cairn__V1__GetCheckpointRequest req =
	    CAIRN__V1__GET_CHECKPOINT_REQUEST__INIT;
	Cairn__V1__Checkpoint *cpm = NULL;
	struct tlog_checkpoint cp, latest;
	int r;

	if ((r = transport_unary(d->dc.client,
	    proto_method(PROTO_GET_CHECKPOINT), &req.base, d->call_ms,
	    (ProtobufCMessage **)&cpm)) != CAIRN_OK)
		return r;
	if ((r = tlog_checkpoint_open(cpm->note, strlen(cpm->note), &d->logkey,
	    1, 1, d->origin, &cp)) != CAIRN_OK)
		goto out;
	r = tlog_witness_latest(d->dc.witness, d->origin, &latest, NULL, NULL);
	if (r == CAIRN_OK && latest.size == cp.size &&
	    memcmp(latest.root, cp.root, TLOG_HASH_LEN) == 0)
		goto out;
	if (r != CAIRN_OK && r != CAIRN_ERR_NOTFOUND)
		goto out;
	r = node_task_witness(d, cpm->note, r == CAIRN_OK ? latest.size : 0,
	    NULL);
out:
	protobuf_c_message_free_unpacked(&cpm->base, NULL);
	return r;
}

struct follow_hit {
	uint64_t	index;
	int		type;
	uint8_t		qhash[32];
	uint8_t		*body;		/* own CHARGE: the Charge signed */
	size_t		 blen;
};

/* "YYYY-MM" as year·12 + month − 1 (the ledger's data-month), or -1. */
static int32_t
month_of(const char *s)
{
	int y, mo;
	char tail;

	if (s == NULL || strlen(s) != 7 || s[4] != '-' ||
	    sscanf(s, "%4d-%2d%c", &y, &mo, &tail) != 2 || y < 1970 ||
	    y > 9999 || mo < 1 || mo > 12)
		return -1;
	return (int32_t)(y * 12 + mo - 1);
}

/*
 * Log entry 'h' is a CHARGE this node signed: make its ledger count at
 * least that spend.  A ledger restored from a backup or deleted does not
 * hold the charge: it goes in as a charge known from the log, so a budget
 * is never spent twice (docs/node.md).
 */
static int
follow_absorb(struct node_daemon *d, const struct follow_hit *h, bool insert)
{
	struct node_ledger_logged lg;
	Cairn__V1__Charge *ch = NULL;
	int32_t months[LEDGER_MAX_MONTHS];
	int64_t cum[LEDGER_MAX_MONTHS], rho[LEDGER_MAX_MONTHS], added = 0;
	char rt[RHO_TEXT_MAX];
	int r;

	if ((r = proto_unpack(&cairn__v1__charge__descriptor, h->body,
	    h->blen, PROTO_MAX_SMALL, (ProtobufCMessage **)&ch)) != CAIRN_OK)
		return cairn_err(CAIRN_ERR_FORMAT, "log entry %llu: the body "
		    "of this node's CHARGE is not a Charge",
		    (unsigned long long)h->index);
	if (ch->n_months == 0 || ch->n_months > LEDGER_MAX_MONTHS ||
	    strcmp(ch->node, d->name) != 0) {
		r = cairn_err(CAIRN_ERR_FORMAT, "log entry %llu: CHARGE of "
		    "%zu months for node '%s'", (unsigned long long)h->index,
		    ch->n_months, ch->node);
		goto out;
	}
	for (size_t i = 0; i < ch->n_months; i++) {
		const Cairn__V1__MonthCharge *mc = ch->months[i];

		if ((months[i] = month_of(mc->month)) < 0 ||
		    mc->rho_nano == 0 || mc->rho_nano > RHO_NANO_MAX ||
		    mc->cumulative_rho_nano > RHO_NANO_MAX) {
			r = cairn_err(CAIRN_ERR_FORMAT, "log entry %llu: "
			    "month %zu of this node's CHARGE does not parse",
			    (unsigned long long)h->index, i + 1);
			goto out;
		}
		rho[i] = (int64_t)mc->rho_nano;
		cum[i] = (int64_t)mc->cumulative_rho_nano;
	}
	memset(&lg, 0, sizeof(lg));
	memcpy(lg.query_hash, h->qhash, 32);
	lg.query_id = ch->query_id;
	lg.months = months;
	lg.cumulative_nano = cum;
	lg.nmonths = ch->n_months;
	lg.rho_nano = rho;
	lg.budget_nano = ch->budget_rho_per_month_nano > RHO_NANO_MAX ? 0 :
	    (int64_t)ch->budget_rho_per_month_nano;
	lg.noise_variance = ch->noise_variance;
	lg.log_index = h->index;
	if ((r = node_ledger_absorb_logged(d->dc.ledger, &lg, insert,
	    &added)) != CAIRN_OK)
		goto out;
	if (added > 0)
		log_warn("log entry %llu: this node's CHARGE for query '%s' "
		    "was %s in the ledger: %s rho added to it from the log "
		    "(a ledger restored from a backup, or deleted?)",
		    (unsigned long long)h->index, ch->query_id,
		    insert ? "missing" : "under-counted",
		    rho_format((uint64_t)added, rt));
out:
	protobuf_c_message_free_unpacked(&ch->base, NULL);
	return r;
}

static int
follow_load(struct node_daemon *d, uint64_t *next, struct tlog_frontier *f)
{
	uint8_t buf[8 + 4 + 64 * TLOG_HASH_LEN];
	size_t len;
	uint32_t n;
	int r;

	tlog_frontier_init(f);
	*next = 0;
	r = node_ledger_state_get(d->dc.ledger, FOLLOW_KEY, buf, sizeof(buf),
	    &len);
	if (r == CAIRN_ERR_NOTFOUND)
		return CAIRN_OK;
	if (r != CAIRN_OK)
		return r;
	if (len < 12)
		return cairn_err(CAIRN_ERR_DB, "log position state is corrupt");
	memcpy(next, buf, 8);
	memcpy(&n, buf + 8, 4);
	if (n > 64 || len != 12 + (size_t)n * TLOG_HASH_LEN)
		return cairn_err(CAIRN_ERR_DB, "log position state is corrupt");
	f->size = *next;
	f->n = n;
	memcpy(f->hash, buf + 12, (size_t)n * TLOG_HASH_LEN);
	return CAIRN_OK;
}

static int
follow_save(struct node_daemon *d, const struct tlog_frontier *f)
{
	uint8_t buf[8 + 4 + 64 * TLOG_HASH_LEN];
	uint32_t n = f->n;

	memcpy(buf, &f->size, 8);
	memcpy(buf + 8, &n, 4);
	memcpy(buf + 12, f->hash, (size_t)n * TLOG_HASH_LEN);
	return node_ledger_state_set(d->dc.ledger, FOLLOW_KEY, buf,
	    12 + (size_t)n * TLOG_HASH_LEN);
}

static int
follow_apply(struct node_daemon *d, const struct follow_hit *h)
{
	struct node_ledger_round rd;
	int r;

	r = node_ledger_find_query(d->dc.ledger, h->qhash, &rd);
	if (h->type == TLOG_ENTRY_CHARGE && h->body != NULL &&
	    (r == CAIRN_OK || r == CAIRN_ERR_NOTFOUND)) {
		int r2 = follow_absorb(d, h, r == CAIRN_ERR_NOTFOUND);

		if (r2 != CAIRN_OK || r == CAIRN_ERR_NOTFOUND)
			return r2;
	}
	if (r == CAIRN_ERR_NOTFOUND)
		return CAIRN_OK;
	if (r != CAIRN_OK)
		return r;
	if (h->type == TLOG_ENTRY_CHARGE) {
		r = node_ledger_set_log_index(d->dc.ledger, rd.id, h->index);
		/* A restatement on a retry: the first index stays. */
		if (r == CAIRN_ERR_CONFLICT)
			r = CAIRN_OK;
		else if (r == CAIRN_OK)
			log_info("ledger charge %lld is at log index %llu",
			    (long long)rd.id, (unsigned long long)h->index);
		return r;
	}
	if (rd.vector_kept) {
		if ((r = node_ledger_close_round(d->dc.ledger, rd.id)) !=
		    CAIRN_OK)
			return r;
		log_info("ledger charge %lld: released at log index %llu, "
		    "noisy vector deleted", (long long)rd.id,
		    (unsigned long long)h->index);
	}
	return CAIRN_OK;
}

/*
 * Keep log entry 'le' (decoded as 'e') in '*hits' ('*n' of '*cap') when
 * it concerns this node: a RELEASE, or a CHARGE in its name, with the
 * signed Charge when this node signed it.
 */
static int
follow_note(struct node_daemon *d, const Cairn__V1__LogEntry *le,
    const struct tlog_entry *e, struct follow_hit **hits, size_t *n,
    size_t *cap)
{
	struct follow_hit *nh, *h;

	if (!(e->type == TLOG_ENTRY_RELEASE ||
	    (e->type == TLOG_ENTRY_CHARGE &&
	    e->node_id.len == strlen(d->name) &&
	    memcmp(e->node_id.p, d->name, e->node_id.len) == 0)))
		return CAIRN_OK;
	if (*n == *cap) {
		if (*cap >= FOLLOW_MAX_HITS)
			return cairn_err(CAIRN_ERR_TOOBIG, "over %d log "
			    "entries to apply at once", FOLLOW_MAX_HITS);
		*cap = *cap ? *cap * 2 : 16;
		if ((nh = realloc(*hits, *cap * sizeof(*nh))) == NULL)
			return cairn_err(CAIRN_ERR_NOMEM, "log");
		*hits = nh;
	}
	h = &(*hits)[*n];
	h->index = le->index;
	h->type = (int)e->type;
	memcpy(h->qhash, e->query_hash, 32);
	h->body = NULL;
	h->blen = 0;
	/* A CHARGE in this node's name counts only when this node signed
	 * it. */
	if (e->type == TLOG_ENTRY_CHARGE && e->signature.len == KEYS_SIG_LEN &&
	    e->body.len <= PROTO_MAX_SMALL &&
	    keys_verify(d->pk, "charge", e->body.p, e->body.len,
	    e->signature.p) == CAIRN_OK) {
		if ((h->body = malloc(e->body.len + 1)) == NULL)
			return cairn_err(CAIRN_ERR_NOMEM, "log");
		memcpy(h->body, e->body.p, e->body.len);
		h->blen = e->body.len;
	} else if (e->type == TLOG_ENTRY_CHARGE)
		log_warn("log entry %llu: a CHARGE in this node's name that "
		    "it did not sign", (unsigned long long)le->index);
	(*n)++;
	return CAIRN_OK;
}

int
node_daemon_follow_log(struct node_daemon *d)
{
	Cairn__V1__GetEntriesRequest req = CAIRN__V1__GET_ENTRIES_REQUEST__INIT;
	Cairn__V1__GetEntriesResponse *resp = NULL;
	struct tlog_checkpoint cp;
	struct tlog_frontier f;
	struct tlog_entry *e = NULL;
	struct follow_hit *hits = NULL;
	size_t nhits = 0, cap = 0;
	uint8_t leaf[TLOG_HASH_LEN], root[TLOG_HASH_LEN];
	uint64_t next;
	int r;

	r = tlog_witness_latest(d->dc.witness, d->origin, &cp, NULL, NULL);
	if (r == CAIRN_ERR_NOTFOUND)
		return CAIRN_OK;
	if (r != CAIRN_OK || (r = follow_load(d, &next, &f)) != CAIRN_OK)
		return r;
	if (next >= cp.size)
		return CAIRN_OK;
	if ((e = malloc(sizeof(*e))) == NULL)
		return cairn_err(CAIRN_ERR_NOMEM, "log entry");
	while (f.size < cp.size) {
		req.start = f.size;
		req.end = cp.size - f.size > FOLLOW_BATCH ?
		    f.size + FOLLOW_BATCH : cp.size;
		if ((r = transport_unary(d->dc.client,
		    proto_method(PROTO_GET_ENTRIES), &req.base, d->call_ms,
		    (ProtobufCMessage **)&resp)) != CAIRN_OK)
			goto out;
		if (resp->n_entries == 0) {
			r = cairn_err(CAIRN_ERR_FORMAT, "GetEntries(%llu, "
			    "%llu) returned nothing",
			    (unsigned long long)req.start,
			    (unsigned long long)req.end);
			goto out;
		}
		for (size_t i = 0; i < resp->n_entries && f.size < cp.size;
		    i++) {
			const Cairn__V1__LogEntry *le = resp->entries[i];

			if (le->index != f.size) {
				r = cairn_err(CAIRN_ERR_FORMAT, "GetEntries "
				    "returned index %llu for %llu",
				    (unsigned long long)le->index,
				    (unsigned long long)f.size);
				goto out;
			}
			tlog_leaf_hash(le->data.data, le->data.len, leaf);
			if ((r = tlog_frontier_append(&f, leaf, NULL, NULL)) !=
			    CAIRN_OK)
				goto out;
			if (tlog_entry_decode(le->data.data, le->data.len, e) !=
			    CAIRN_OK)
				continue;
			if ((r = follow_note(d, le, e, &hits, &nhits, &cap)) !=
			    CAIRN_OK)
				goto out;
		}
		protobuf_c_message_free_unpacked(&resp->base, NULL);
		resp = NULL;
	}
	tlog_frontier_root(&f, root);
	if (sodium_memcmp(root, cp.root, TLOG_HASH_LEN) != 0) {
		r = cairn_err(CAIRN_ERR_PROOF, "log entries [%llu, %llu) do "
		    "not hash to the cosigned checkpoint's root",
		    (unsigned long long)next, (unsigned long long)cp.size);
		goto out;
	}
	for (size_t i = 0; i < nhits; i++)
		if ((r = follow_apply(d, &hits[i])) != CAIRN_OK)
			goto out;
	r = follow_save(d, &f);
out:
	free(e);
	for (size_t i = 0; i < nhits; i++)
		free(hits[i].body);
	free(hits);
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	return r;
}
