/*
 * coord_log.c - the coordinator's side of the transparency log: append an
 * entry and publish a checkpoint signed with the coordinator's identity
 * key before anyone can act on it; keep the witnesses' cosignatures and
 * serve checkpoints with them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "common/err.h"
#include "common/log.h"
#include "common/fault.h"
#include "coordinator/coord_int.h"
#include "protocol/proto_service.h"
#include "protocol/tlog_member.h"
#include "protocol/tlog_tiles.h"

static int
sign_note(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64])
{
	return keys_sign_note(ctx, msg, len, sig);
}

/* Publish a checkpoint of the current size and remember its note. */
static int
publish(struct coord_log *lg)
{
	char *note = NULL;
	size_t len;
	int r;

	if ((r = tlog_store_publish(lg->tlog, lg->origin, &lg->signer, 1,
	    &note, &len)) != CAIRN_OK)
		return r;
	fault_point("coord.after_checkpoint_signed");
	r = coord_store_checkpoint_put(lg->db, tlog_store_size(lg->tlog),
	    note);
	free(note);
	if (r == CAIRN_OK)
		lg->last_cp_s = (int64_t)time(NULL);
	return r;
}

int
coord_log_open(struct coord_log *lg, const char *path, const char *fedname,
    const struct keys_identity *id, struct coord_store *db)
{
	struct tlog_checkpoint cp;
	char *note = NULL;
	size_t len;
	int r;

	memset(lg, 0, sizeof(*lg));
	if (snprintf(lg->origin, sizeof(lg->origin), "cairn/%s", fedname) >=
	    (int)sizeof(lg->origin))
		return cairn_err(CAIRN_ERR_ARG, "federation name too long");
	lg->db = db;
	lg->signer.name = lg->origin;
	keys_identity_public(id, lg->signer.pub);
	lg->signer.sign = sign_note;
	lg->signer.ctx = (void *)(uintptr_t)id;
	if ((r = tlog_store_open(path, TLOG_STORE_CREATE, &lg->tlog))
	    != CAIRN_OK)
		return r;
	r = tlog_store_checkpoint_latest(lg->tlog, &note, &len, &cp);
	if (r == CAIRN_OK && cp.size == tlog_store_size(lg->tlog)) {
		/* Make sure the coordinator's table has it too. */
		r = coord_store_checkpoint_put(db, cp.size, note);
		lg->last_cp_s = (int64_t)time(NULL);
	} else if (r == CAIRN_OK || r == CAIRN_ERR_NOTFOUND)
		r = publish(lg);
	free(note);
	if (r != CAIRN_OK) {
		tlog_store_close(lg->tlog);
		lg->tlog = NULL;
	}
	return r;
}

void
coord_log_close(struct coord_log *lg)
{
	tlog_store_close(lg->tlog);
	lg->tlog = NULL;
	free(lg->pols);
	lg->pols = NULL;
	lg->npols = 0;
	coord_chain_release(&lg->chain);
}

int
coord_log_append(struct coord_log *lg, const struct tlog_entry *e,
    uint64_t *index)
{
	uint8_t *buf;
	size_t len;
	uint64_t idx;
	int r;

	if ((r = tlog_entry_encode(e, NULL, 0, &len)) != CAIRN_OK &&
	    r != CAIRN_ERR_TOOBIG)
		return r;
	/* The public directory's bundles carry an entry's length in 16
	 * bits (C2SP tlog-tiles): refuse, before logging, what they cannot
	 * carry. */
	if (len > TLOG_TILE_MAX_ENTRY)
		return cairn_err(CAIRN_ERR_TOOBIG, "%s entry of %zu bytes is "
		    "over the %d a log entry may have",
		    tlog_entry_type_name((int)e->type), len,
		    TLOG_TILE_MAX_ENTRY);
	if ((buf = malloc(len)) == NULL)
		return CAIRN_ERR_NOMEM;
	if ((r = tlog_entry_encode(e, buf, len, &len)) == CAIRN_OK &&
	    (r = tlog_store_append(lg->tlog, buf, len, &idx)) == CAIRN_OK &&
	    (r = publish(lg)) == CAIRN_OK && index != NULL)
		*index = idx;
	free(buf);
	/* The chain follows the log: a CHARGE counts once it is in it. */
	if (r == CAIRN_OK && e->type == TLOG_ENTRY_CHARGE)
		r = coord_chain_note(&lg->chain, e);
	/* The entry is durable: a failure here is logged and retried. */
	if (r == CAIRN_OK)
		(void)coord_public_update(lg->pub);
	return r;
}

/* The checkpoint text the log published for (size, root). */
static int
cp_text(struct coord_log *lg, uint64_t size, const uint8_t root[32],
    char *text, size_t cap, size_t *len)
{
	struct tlog_checkpoint cp;

	memset(&cp, 0, sizeof(cp));
	snprintf(cp.origin, sizeof(cp.origin), "%s", lg->origin);
	cp.size = size;
	memcpy(cp.root, root, 32);
	return tlog_checkpoint_format(&cp, text, cap, len);
}

int
coord_log_cosign(struct coord_log *lg, const char *name,
    const uint8_t pk[static 32], uint64_t size, const uint8_t *root,
    size_t root_len, uint64_t ts, const uint8_t *sig, size_t sig_len)
{
	char text[TLOG_NAME_MAX + 128], line[TLOG_NAME_MAX + 256];
	uint8_t have[32], msg[TLOG_NAME_MAX + 200], raw[4 + 72];
	char *note = NULL;
	size_t tlen, mlen;
	uint64_t sts = 0;
	int r, hl;

	if (root_len != 32 || sig_len != 72)
		return cairn_err(CAIRN_ERR_FORMAT, "cosignature: root of %zu "
		    "bytes, signature of %zu (want 32 and 72)", root_len,
		    sig_len);
	if (size > tlog_store_size(lg->tlog) ||
	    tlog_store_root_at(lg->tlog, size, have) != CAIRN_OK ||
	    memcmp(have, root, 32) != 0 ||
	    coord_store_checkpoint_get(lg->db, size, &note) != CAIRN_OK)
		return cairn_err(CAIRN_ERR_NOTFOUND, "no checkpoint of size "
		    "%llu with that root was published",
		    (unsigned long long)size);
	free(note);
	for (int i = 0; i < 8; i++)
		sts = sts << 8 | sig[i];
	if (sts != ts)
		return cairn_err(CAIRN_ERR_SIGNATURE, "cosignature: timestamp "
		    "%llu differs from the signed one %llu",
		    (unsigned long long)ts, (unsigned long long)sts);
	if ((r = cp_text(lg, size, root, text, sizeof(text), &tlen))
	    != CAIRN_OK)
		return r;
	hl = snprintf((char *)msg, sizeof(msg), "cosignature/v1\ntime %llu\n",
	    (unsigned long long)ts);
	if (hl < 0 || (size_t)hl + tlen > sizeof(msg))
		return cairn_err(CAIRN_ERR_INTERNAL, "cosignature too long");
	memcpy(msg + hl, text, tlen);
	mlen = (size_t)hl + tlen;
	if (keys_verify_note(pk, msg, mlen, sig + 8) != CAIRN_OK)
		return cairn_err(CAIRN_ERR_SIGNATURE, "cosignature of %s on "
		    "checkpoint %llu does not verify", name,
		    (unsigned long long)size);
	tlog_key_id(name, TLOG_KEY_COSIGNATURE, pk, raw);
	memcpy(raw + 4, sig, 72);
	hl = snprintf(line, sizeof(line), "\xe2\x80\x94 %s ", name);
	if (hl < 0 || tlog_b64_encode(raw, sizeof(raw), line + hl,
	    sizeof(line) - (size_t)hl - 1) == 0)
		return cairn_err(CAIRN_ERR_INTERNAL, "cosignature line");
	strcat(line, "\n");
	if ((r = coord_store_cosig_put(lg->db, name, size, ts, line)) !=
	    CAIRN_OK)
		return r;
	(void)coord_public_update(lg->pub);
	return CAIRN_OK;
}

int
coord_log_checkpoint(struct coord_log *lg, size_t quorum, char **note)
{
	struct tlog_checkpoint cp;
	char *base = NULL, *lines = NULL, *out = NULL;
	size_t len, nl, olen;
	uint64_t size;
	int r;

	if (quorum > 0 && coord_store_cosigned_size(lg->db, quorum, &size) ==
	    CAIRN_OK) {
		if ((r = coord_store_checkpoint_get(lg->db, size, &base))
		    != CAIRN_OK)
			return r;
		len = strlen(base);
	} else {
		if ((r = tlog_store_checkpoint_latest(lg->tlog, &base, &len,
		    &cp)) != CAIRN_OK)
			return r;
		size = cp.size;
	}
	if ((r = coord_store_cosig_lines(lg->db, size, &lines, &nl))
	    != CAIRN_OK)
		goto out;
	if (nl == 0) {
		*note = base;
		base = NULL;
		goto out;
	}
	if ((r = tlog_note_add_lines(base, len, lines, strlen(lines), &out,
	    &olen)) != CAIRN_OK)
		goto out;
	*note = out;
out:
	free(base);
	free(lines);
	return r;
}

/*
 * The data-months a Policy body declares (its signature was checked when
 * it was logged) into 'ps'; none when the body does not decode.
 */
static void
policy_months(struct coord_policy_seen *ps, const uint8_t *body, size_t len)
{
	Cairn__V1__Policy *p = NULL;

	ps->nmonths = 0;
	if (proto_unpack(&cairn__v1__policy__descriptor, body, len,
	    PROTO_MAX_SMALL, (ProtobufCMessage **)&p) != CAIRN_OK)
		return;
	for (size_t i = 0; i < p->n_data_months &&
	    ps->nmonths < COORD_POLICY_MAX_MONTHS; i++)
		ps->months[ps->nmonths++] = p->data_months[i];
	cairn__v1__policy__free_unpacked(p, NULL);
}

/* Remember 'node''s newest POLICY entry, whose body is 'body'. */
static int
policy_seen(struct coord_log *lg, const char *node, const uint8_t h[32],
    uint64_t index, const uint8_t *body, size_t len)
{
	struct coord_policy_seen *nv;

	for (size_t i = 0; i < lg->npols; i++)
		if (strcmp(lg->pols[i].node, node) == 0) {
			memcpy(lg->pols[i].body_hash, h, 32);
			lg->pols[i].index = index;
			policy_months(&lg->pols[i], body, len);
			return CAIRN_OK;
		}
	if (lg->npols >= KEYS_FEDERATION_MAX_MEMBERS)
		return cairn_err(CAIRN_ERR_TOOBIG, "POLICY entries of more "
		    "than %d nodes", KEYS_FEDERATION_MAX_MEMBERS);
	if ((nv = realloc(lg->pols, (lg->npols + 1) * sizeof(*nv))) == NULL)
		return CAIRN_ERR_NOMEM;
	lg->pols = nv;
	memset(&nv[lg->npols], 0, sizeof(nv[0]));
	snprintf(nv[lg->npols].node, sizeof(nv[0].node), "%s", node);
	memcpy(nv[lg->npols].body_hash, h, 32);
	nv[lg->npols].index = index;
	policy_months(&nv[lg->npols], body, len);
	lg->npols++;
	return CAIRN_OK;
}

/*
 * coord_log_members() and, with 'all' false, coord_log_member_changes():
 * only MEMBER entries are replayed then.
 */
static int
members_sync(struct coord_log *lg, const struct keys_federation *fed,
    const struct keys_identity *id, size_t *added, bool all)
{
	struct tlog_roster roster = { NULL, 0, 0 };
	struct tlog_member_change *ch = NULL;
	struct tlog_entry *e = NULL;
	uint64_t size = tlog_store_size(lg->tlog);
	size_t nch = 0;
	int r = CAIRN_OK;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return CAIRN_ERR_NOMEM;
	for (uint64_t i = 0; i < size; i++) {
		uint8_t *data = NULL, h[32];
		size_t len;

		if ((r = tlog_store_entry(lg->tlog, i, &data, &len)) !=
		    CAIRN_OK)
			goto out;
		/* Only MEMBER, POLICY and CHARGE matter here: a peek at
		 * the type. */
		if (len < 2 || (data[1] != TLOG_ENTRY_MEMBER && (!all ||
		    (data[1] != TLOG_ENTRY_POLICY &&
		    data[1] != TLOG_ENTRY_CHARGE)))) {
			free(data);
			continue;
		}
		if ((r = tlog_entry_decode(data, len, e)) != CAIRN_OK) {
			free(data);
			r = cairn_err(r, "log entry %llu: %s",
			    (unsigned long long)i, cairn_errdesc(r));
			goto out;
		}
		if (e->type == TLOG_ENTRY_MEMBER) {
			struct tlog_member_change c;

			if ((r = tlog_member_decode(e, lg->signer.pub, &c)) ==
			    CAIRN_OK)
				r = tlog_roster_apply(&roster, &c);
		} else if (e->type == TLOG_ENTRY_CHARGE) {
			r = coord_chain_note(&lg->chain, e);
		} else {
			char node[KEYS_NAME_MAX + 1];

			snprintf(node, sizeof(node), "%.*s",
			    (int)(e->node_id.len > KEYS_NAME_MAX ?
			    KEYS_NAME_MAX : e->node_id.len),
			    (const char *)e->node_id.p);
			crypto_hash_sha256(h, e->body.p, e->body.len);
			r = policy_seen(lg, node, h, i, e->body.p,
			    e->body.len);
		}
		free(data);
		if (r != CAIRN_OK) {
			r = cairn_err(r, "log entry %llu: %s",
			    (unsigned long long)i, cairn_errdesc(r));
			goto out;
		}
	}
	if ((r = tlog_roster_diff(&roster, fed, &ch, &nch)) != CAIRN_OK)
		goto out;
	for (size_t i = 0; i < nch; i++) {
		struct tlog_entry me;
		uint8_t *body = NULL, sig[KEYS_SIG_LEN];
		size_t blen;
		uint64_t idx;

		if ((r = tlog_member_encode(&ch[i], &body, &blen)) != CAIRN_OK)
			goto out;
		if ((r = keys_sign(id, "member", body, blen, sig)) !=
		    CAIRN_OK) {
			free(body);
			goto out;
		}
		memset(&me, 0, sizeof(me));
		me.type = TLOG_ENTRY_MEMBER;
		me.time = (uint64_t)time(NULL);
		me.body.p = body;
		me.body.len = blen;
		me.signature.p = sig;
		me.signature.len = KEYS_SIG_LEN;
		r = coord_log_append(lg, &me, &idx);
		free(body);
		if (r != CAIRN_OK)
			goto out;
		log_info("MEMBER %s %s/%s logged at index %llu",
		    ch[i].added ? "added" : "removed",
		    keys_role_name(ch[i].m.pub.role), ch[i].m.pub.name,
		    (unsigned long long)idx);
	}
	if (added != NULL)
		*added = nch;
	r = CAIRN_OK;
out:
	free(ch);
	free(e);
	tlog_roster_release(&roster);
	return r;
}

int
coord_log_members(struct coord_log *lg, const struct keys_federation *fed,
    const struct keys_identity *id, size_t *added)
{
	return members_sync(lg, fed, id, added, true);
}

int
coord_log_member_changes(struct coord_log *lg,
    const struct keys_federation *fed, const struct keys_identity *id,
    size_t *added)
{
	return members_sync(lg, fed, id, added, false);
}

int
coord_log_policy(struct coord_log *lg, const char *name,
    const uint8_t pk[static 32], const uint8_t *body, size_t len,
    const uint8_t *sig, size_t siglen, uint64_t *index, bool *appended)
{
	Cairn__V1__Policy *p = NULL;
	struct tlog_entry e;
	uint8_t h[32];
	uint64_t idx;
	int r;

	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_POLICY;
	e.time = (uint64_t)time(NULL);
	e.node_id.p = (const uint8_t *)name;
	e.node_id.len = strlen(name);
	e.body.p = body;
	e.body.len = len;
	e.signature.p = sig;
	e.signature.len = siglen;
	/* The same checks an auditor makes on the entry. */
	if ((r = tlog_policy_decode(&e, pk, &p)) != CAIRN_OK)
		return r;
	cairn__v1__policy__free_unpacked(p, NULL);
	crypto_hash_sha256(h, body, len);
	for (size_t i = 0; i < lg->npols; i++)
		if (strcmp(lg->pols[i].node, name) == 0 &&
		    sodium_memcmp(lg->pols[i].body_hash, h, 32) == 0) {
			*index = lg->pols[i].index;
			*appended = false;
			return CAIRN_OK;
		}
	if ((r = coord_log_append(lg, &e, &idx)) != CAIRN_OK ||
	    (r = policy_seen(lg, name, h, idx, body, len)) != CAIRN_OK)
		return r;
	log_info("POLICY of node %s logged at index %llu", name,
	    (unsigned long long)idx);
	*index = idx;
	*appended = true;
	return CAIRN_OK;
}
