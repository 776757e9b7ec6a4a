/*
 * verify.c - audit_verify(): every rule of docs/federation.md §5 over a
 * checkpoint, the entries it covers and federation.conf.  This file is
 * the walk: it opens the checkpoint (and the kept state) with the log
 * key, counts the witnesses' cosignatures, hashes the entries to the
 * checkpoint's root, then hands each entry to verify_entry.c and the
 * node's ledger, if given, to verify_ledger.c.  It also holds the state
 * those share (audit_int.h): the hash tables and the findings.
 *
 * One pass over the entries in log order keeps three tables: queries by
 * query hash, the first charge of each (node, query hash) and the
 * cumulative ρ of each (node, data-month).  A rule that fails is a
 * finding; the pass goes on so that one run reports everything.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit/audit.h"
#include "audit/audit_int.h"
#include "common/err.h"
#include "keys/keys.h"
#include "protocol/cairn.pb-c.h"
#include "protocol/tlog_member.h"

/* ---------------------------------------------------------- hash table */

static uint64_t
ht_hash(const uint8_t *k, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= k[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static struct hent *
ht_slot(struct hent *v, size_t cap, const uint8_t *k, size_t n)
{
	size_t i = (size_t)ht_hash(k, n) & (cap - 1);

	while (v[i].key != NULL && (v[i].klen != n ||
	    memcmp(v[i].key, k, n) != 0))
		i = (i + 1) & (cap - 1);
	return &v[i];
}

void *
audit_ht_get(const struct htab *t, const uint8_t *k, size_t n)
{
	struct hent *e;

	if (t->cap == 0)
		return NULL;
	e = ht_slot(t->v, t->cap, k, n);
	return e->key != NULL ? e->val : NULL;
}

/* Insert 'val' under a key not present yet. */
int
audit_ht_put(struct htab *t, const uint8_t *k, size_t n, void *val)
{
	struct hent *e;

	if (2 * (t->n + 1) > t->cap) {
		size_t ncap = t->cap ? 2 * t->cap : 64;
		struct hent *nv = calloc(ncap, sizeof(*nv));

		if (nv == NULL)
			return cairn_err(CAIRN_ERR_NOMEM, "audit: table");
		for (size_t i = 0; i < t->cap; i++)
			if (t->v[i].key != NULL)
				*ht_slot(nv, ncap, t->v[i].key,
				    t->v[i].klen) = t->v[i];
		free(t->v);
		t->v = nv;
		t->cap = ncap;
	}
	e = ht_slot(t->v, t->cap, k, n);
	if ((e->key = malloc(n ? n : 1)) == NULL)
		return cairn_err(CAIRN_ERR_NOMEM, "audit: table");
	memcpy(e->key, k, n);
	e->klen = n;
	e->val = val;
	t->n++;
	return CAIRN_OK;
}

void
audit_ht_free(struct htab *t, void (*fv)(void *))
{
	for (size_t i = 0; i < t->cap; i++)
		if (t->v[i].key != NULL) {
			free(t->v[i].key);
			if (fv != NULL)
				fv(t->v[i].val);
		}
	free(t->v);
	memset(t, 0, sizeof(*t));
}

size_t
audit_ht_index(const struct htab *t, const uint8_t *k, size_t n)
{
	return (size_t)(ht_slot(t->v, t->cap, k, n) - t->v);
}

/* --------------------------------------------------------- the state */

void
audit_vquery_free(void *p)
{
	struct vquery *vq = p;

	if (vq == NULL)
		return;
	free(vq->sorted);
	if (vq->q != NULL)
		protobuf_c_message_free_unpacked(&vq->q->base, NULL);
	free(vq);
}

void
audit_vcharge_free(void *p)
{
	struct vcharge *vc = p;

	if (vc == NULL)
		return;
	if (vc->c != NULL)
		protobuf_c_message_free_unpacked(&vc->c->base, NULL);
	free(vc);
}

void
audit_findv(struct vctx *v, const char *fmt, va_list ap)
{
	char line[FINDING_MAX];

	vsnprintf(line, sizeof(line), fmt, ap);
	for (char *p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	v->rep->findings++;
	if (v->in->finding != NULL)
		v->in->finding(v->in->ctx, line);
}

/* Copy a byte string into a NUL-terminated name; false when unfit. */
bool
audit_bytes_name(struct tlog_bytes b, char name[static KEYS_NAME_MAX + 1])
{
	if (b.len == 0 || b.len > KEYS_NAME_MAX ||
	    memchr(b.p, '\0', b.len) != NULL)
		return false;
	memcpy(name, b.p, b.len);
	name[b.len] = '\0';
	return keys_name_is_valid(name);
}

size_t
audit_charge_key(uint8_t *k, const char *node, const uint8_t qh[TLOG_HASH_LEN])
{
	size_t n = strlen(node);

	memcpy(k, node, n);
	k[n] = 0;
	memcpy(k + n + 1, qh, TLOG_HASH_LEN);
	return n + 1 + TLOG_HASH_LEN;
}

/* ------------------------------------------------------------ the log */

static const struct keys_member *
coordinator(const struct keys_federation *fed)
{
	for (size_t i = 0; i < fed->n; i++)
		if (fed->members[i].pub.role == KEYS_ROLE_COORDINATOR)
			return &fed->members[i];
	return NULL;
}

/* Open a note signed by the log key; finding (prefixed 'what') if not. */
static bool
open_cp(struct vctx *v, const char *what, const char *note, size_t len,
    const struct tlog_verifier *lk, struct tlog_checkpoint *cp)
{
	int r = tlog_checkpoint_open(note, len, lk, 1, 1, lk->name, cp);

	if (r != CAIRN_OK) {
		find(v, "%s: does not verify with the log key '%s': %s", what,
		    lk->name, cairn_errdesc(r));
		return false;
	}
	return true;
}

static void
witnesses(struct vctx *v, const struct audit_verify_in *in)
{
	struct tlog_verifier *wk = NULL;
	struct tlog_note *note = NULL;
	size_t nw = 0, nvalid = 0;

	if (tlog_note_parse(in->checkpoint, in->checkpoint_len, &note) !=
	    CAIRN_OK)
		return;
	if ((wk = calloc(in->fed->n + 1, sizeof(*wk))) == NULL)
		goto out;
	for (size_t i = 0; i < in->fed->n; i++) {
		const struct keys_member *m = &in->fed->members[i];

		if (m->pub.role != KEYS_ROLE_NODE)
			continue;
		snprintf(wk[nw].name, sizeof(wk[nw].name), "%s", m->pub.name);
		wk[nw].type = TLOG_KEY_COSIGNATURE;
		memcpy(wk[nw].pub, m->pub.pk, 32);
		tlog_key_id(wk[nw].name, wk[nw].type, wk[nw].pub,
		    wk[nw].key_id);
		nw++;
	}
	/* Fewer than one valid cosignature is not an error here. */
	if (nw > 0 && tlog_note_verify(note, wk, nw, 1, &nvalid, NULL) !=
	    CAIRN_OK)
		cairn_err_clear();
	v->rep->cosignatures = nvalid;
	if (in->quorum > 0 && nvalid < in->quorum)
		find(v, "checkpoint: %zu valid witness cosignature%s, %zu "
		    "required", nvalid, nvalid == 1 ? "" : "s", in->quorum);
out:
	free(wk);
	tlog_note_free(note);
}

int
audit_verify(const struct audit_verify_in *in,
    struct audit_verify_report *rep)
{
	struct audit_verify_report lrep;
	struct tlog_checkpoint st;
	struct tlog_verifier lk;
	struct tlog_frontier *fr = NULL;
	struct tlog_entry *e = NULL;
	const struct keys_member *co;
	struct vctx v;
	uint8_t leaf[TLOG_HASH_LEN], root[TLOG_HASH_LEN];
	uint8_t st_root[TLOG_HASH_LEN];
	bool cp_ok, st_ok = false, have_st_root = false;
	int r = CAIRN_OK;

	if (in == NULL || in->fed == NULL || in->checkpoint == NULL ||
	    (in->nentries > 0 && in->entries == NULL) ||
	    (in->ledger != NULL && in->ledger_node == NULL))
		return cairn_err(CAIRN_ERR_ARG, "audit_verify: bad arguments");
	if (in->nentries > AUDIT_MAX_ENTRIES)
		return cairn_err(CAIRN_ERR_TOOBIG, "audit: more than %" PRIu64
		    " entries", AUDIT_MAX_ENTRIES);
	if ((co = coordinator(in->fed)) == NULL)
		return cairn_err(CAIRN_ERR_CONFIG, "federation.conf lists no "
		    "coordinator: no log key");
	memset(&lrep, 0, sizeof(lrep));
	memset(&v, 0, sizeof(v));
	v.in = in;
	v.rep = &lrep;
	v.log_pk = co->pub.pk;
	memset(&lk, 0, sizeof(lk));
	snprintf(lk.name, sizeof(lk.name), "cairn/%s", in->fed->name);
	lk.type = TLOG_KEY_ED25519;
	memcpy(lk.pub, co->pub.pk, 32);
	tlog_key_id(lk.name, lk.type, lk.pub, lk.key_id);
	if ((e = malloc(sizeof(*e))) == NULL ||
	    (fr = malloc(sizeof(*fr))) == NULL) {
		r = cairn_err(CAIRN_ERR_NOMEM, "audit");
		goto out;
	}

	/* The checkpoint, the witnesses and the state. */
	cp_ok = open_cp(&v, "checkpoint", in->checkpoint, in->checkpoint_len,
	    &lk, &lrep.cp);
	if (cp_ok)
		witnesses(&v, in);
	if (cp_ok && in->state != NULL) {
		st_ok = open_cp(&v, "state", in->state, in->state_len, &lk,
		    &st);
		if (st_ok && st.size > lrep.cp.size) {
			find(&v, "checkpoint is not consistent with the state: "
			    "the log shrank from %" PRIu64 " to %" PRIu64
			    " entries", st.size, lrep.cp.size);
			st_ok = false;
			cp_ok = false;
		}
	}
	if (cp_ok && in->nentries != lrep.cp.size) {
		find(&v, "entries: %zu given, the checkpoint covers %" PRIu64,
		    in->nentries, lrep.cp.size);
		cp_ok = false;
	}

	/* The entries' root, and the root at the state's size. */
	tlog_frontier_init(fr);
	for (size_t i = 0; i <= in->nentries; i++) {
		if (st_ok && fr->size == st.size) {
			tlog_frontier_root(fr, st_root);
			have_st_root = true;
		}
		if (i == in->nentries)
			break;
		tlog_leaf_hash(in->entries[i].p, in->entries[i].len, leaf);
		if ((r = tlog_frontier_append(fr, leaf, NULL, NULL)) !=
		    CAIRN_OK)
			goto out;
	}
	tlog_frontier_root(fr, root);
	if (cp_ok && sodium_memcmp(root, lrep.cp.root, TLOG_HASH_LEN) != 0) {
		find(&v, "entries: they do not hash to the checkpoint's root "
		    "(size %" PRIu64 ")", lrep.cp.size);
		cp_ok = false;
	}
	if (cp_ok && st_ok && (!have_st_root || sodium_memcmp(st_root,
	    st.root, TLOG_HASH_LEN) != 0)) {
		find(&v, "checkpoint is not consistent with the state: the "
		    "first %" PRIu64 " entries do not hash to the kept "
		    "checkpoint's root", st.size);
		cp_ok = false;
	}
	lrep.log_ok = cp_ok && lrep.findings == 0;

	/* The rules, entry by entry. */
	for (size_t i = 0; i < in->nentries; i++)
		if ((r = audit_verify_entry(&v, i, in->entries[i], e)) !=
		    CAIRN_OK)
			goto out;
	if (in->ledger != NULL)
		audit_verify_ledger(&v, e);
	if (rep != NULL)
		*rep = lrep;
	if (lrep.findings > 0)
		r = cairn_err(CAIRN_ERR_CONFLICT, "%" PRIu64 " finding%s",
		    lrep.findings, lrep.findings == 1 ? "" : "s");
out:
	audit_ht_free(&v.queries, audit_vquery_free);
	audit_ht_free(&v.charges, audit_vcharge_free);
	audit_ht_free(&v.months, free);
	tlog_roster_release(&v.roster);
	for (size_t i = 0; i < v.npols; i++)
		cairn__v1__policy__free_unpacked(v.pols[i].p, NULL);
	free(v.pols);
	free(fr);
	free(e);
	return r;
}
