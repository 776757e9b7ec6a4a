/*
 * tlog_member.c - MEMBER and POLICY entry bodies, and the membership
 * their replay gives (tlog_member.h).  The coordinator writes MEMBER
 * entries when federation.conf changed since the log last recorded it;
 * auditors replay them.  Bodies are protobuf messages whose exact bytes
 * are signed; they are verified before they are decoded.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/rho.h"
#include "keys/keys.h"
#include "protocol/proto_service.h"
#include "protocol/tlog_member.h"

static bool
fpr_ok(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' &&
		    s[n] <= 'f')))
			return false;
	return n == KEYS_FPR_LEN - 1;
}

int
tlog_member_encode(const struct tlog_member_change *c, uint8_t **out,
    size_t *len)
{
	Cairn__V1__MemberChange mc = CAIRN__V1__MEMBER_CHANGE__INIT;

	mc.added = c->added;
	mc.role = (Cairn__V1__Role)((int)c->m.pub.role + 1);
	mc.name = (char *)c->m.pub.name;
	mc.identity_key.data = (uint8_t *)c->m.pub.pk;
	mc.identity_key.len = KEYS_PK_LEN;
	mc.cert_sha256 = (char *)c->m.cert_fpr;
	mc.federation = (char *)c->federation;
	return proto_pack(&mc.base, PROTO_MAX_SMALL, out, len);
}

int
tlog_member_decode(const struct tlog_entry *e, const uint8_t pk[static 32],
    struct tlog_member_change *c)
{
	Cairn__V1__MemberChange *mc = NULL;
	struct tlog_member_change x;
	int r;

	if (e->type != TLOG_ENTRY_MEMBER)
		return cairn_err(CAIRN_ERR_FORMAT, "not a MEMBER entry");
	if (e->signature.len != KEYS_SIG_LEN || keys_verify(pk, "member",
	    e->body.p, e->body.len, e->signature.p) != CAIRN_OK)
		return cairn_err(CAIRN_ERR_SIGNATURE, "MEMBER entry: the "
		    "coordinator's signature does not verify");
	if ((r = proto_unpack(&cairn__v1__member_change__descriptor,
	    e->body.p, e->body.len, PROTO_MAX_SMALL,
	    (ProtobufCMessage **)&mc)) != CAIRN_OK)
		return cairn_err(CAIRN_ERR_FORMAT, "MEMBER entry: the body is "
		    "not a MemberChange");
	memset(&x, 0, sizeof(x));
	r = CAIRN_ERR_FORMAT;
	if (mc->role < CAIRN__V1__ROLE__ROLE_NODE ||
	    mc->role > CAIRN__V1__ROLE__ROLE_AUDITOR) {
		r = cairn_err(r, "MEMBER entry: field 'role' %d", (int)mc->role);
		goto out;
	}
	if (!keys_name_is_valid(mc->name)) {
		r = cairn_err(r, "MEMBER entry: field 'name' is not a member "
		    "name");
		goto out;
	}
	if (mc->identity_key.len != KEYS_PK_LEN) {
		r = cairn_err(r, "MEMBER entry: field 'identity_key' of %zu "
		    "bytes", mc->identity_key.len);
		goto out;
	}
	if (!fpr_ok(mc->cert_sha256)) {
		r = cairn_err(r, "MEMBER entry: field 'cert_sha256' is not 64 "
		    "lower-case hex digits");
		goto out;
	}
	if (strlen(mc->federation) > KEYS_NAME_MAX) {
		r = cairn_err(r, "MEMBER entry: field 'federation' too long");
		goto out;
	}
	x.added = mc->added;
	x.m.pub.role = (enum keys_role)(mc->role - 1);
	snprintf(x.m.pub.name, sizeof(x.m.pub.name), "%s", mc->name);
	memcpy(x.m.pub.pk, mc->identity_key.data, KEYS_PK_LEN);
	memcpy(x.m.cert_fpr, mc->cert_sha256, KEYS_FPR_LEN);
	snprintf(x.federation, sizeof(x.federation), "%s", mc->federation);
	*c = x;
	r = CAIRN_OK;
out:
	cairn__v1__member_change__free_unpacked(mc, NULL);
	return r;
}

static size_t
roster_index(const struct tlog_roster *r, enum keys_role role,
    const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].pub.role == role &&
		    strcmp(r->v[i].pub.name, name) == 0)
			return i;
	return SIZE_MAX;
}

const struct keys_member *
tlog_roster_find(const struct tlog_roster *r, enum keys_role role,
    const char *name)
{
	size_t i = roster_index(r, role, name);

	return i == SIZE_MAX ? NULL : &r->v[i];
}

int
tlog_roster_apply(struct tlog_roster *r, const struct tlog_member_change *c)
{
	size_t i = roster_index(r, c->m.pub.role, c->m.pub.name);

	if (!c->added) {
		if (i == SIZE_MAX)
			return cairn_err(CAIRN_ERR_NOTFOUND, "member %s/%s is "
			    "removed but is not a member",
			    keys_role_name(c->m.pub.role), c->m.pub.name);
		r->v[i] = r->v[--r->n];
		return CAIRN_OK;
	}
	if (i != SIZE_MAX) {
		r->v[i] = c->m;
		return CAIRN_OK;
	}
	if (r->n >= KEYS_FEDERATION_MAX_MEMBERS)
		return cairn_err(CAIRN_ERR_TOOBIG, "more than %d members",
		    KEYS_FEDERATION_MAX_MEMBERS);
	if (r->n == r->cap) {
		size_t nc = r->cap ? r->cap * 2 : 16;
		struct keys_member *nv = realloc(r->v, nc * sizeof(*nv));

		if (nv == NULL)
			return CAIRN_ERR_NOMEM;
		r->v = nv;
		r->cap = nc;
	}
	r->v[r->n++] = c->m;
	return CAIRN_OK;
}

void
tlog_roster_release(struct tlog_roster *r)
{
	free(r->v);
	memset(r, 0, sizeof(*r));
}

static bool
same_member(const struct keys_member *a, const struct keys_member *b)
{
	return memcmp(a->pub.pk, b->pub.pk, KEYS_PK_LEN) == 0 &&
	    strcmp(a->cert_fpr, b->cert_fpr) == 0;
}

int
tlog_roster_diff(const struct tlog_roster *from,
    const struct keys_federation *fed, struct tlog_member_change **out,
    size_t *n)
{
	struct tlog_member_change *v;
	size_t k = 0;

	if ((v = calloc(from->n + fed->n + 1, sizeof(*v))) == NULL)
		return CAIRN_ERR_NOMEM;
	for (size_t i = 0; i < from->n; i++) {
		const struct keys_member *now = keys_federation_find(fed,
		    from->v[i].pub.role, from->v[i].pub.name);

		if (now == NULL || !same_member(now, &from->v[i])) {
			v[k].added = false;
			v[k].m = from->v[i];
			snprintf(v[k].federation, sizeof(v[k].federation),
			    "%s", fed->name);
			k++;
		}
	}
	for (size_t i = 0; i < fed->n; i++) {
		const struct keys_member *was = tlog_roster_find(from,
		    fed->members[i].pub.role, fed->members[i].pub.name);

		if (was == NULL || !same_member(was, &fed->members[i])) {
			v[k].added = true;
			v[k].m = fed->members[i];
			snprintf(v[k].federation, sizeof(v[k].federation),
			    "%s", fed->name);
			k++;
		}
	}
	*out = v;
	*n = k;
	return CAIRN_OK;
}

int
tlog_policy_decode(const struct tlog_entry *e, const uint8_t pk[static 32],
    Cairn__V1__Policy **out)
{
	Cairn__V1__Policy *p = NULL;
	int r;

	if (e->type != TLOG_ENTRY_POLICY)
		return cairn_err(CAIRN_ERR_FORMAT, "not a POLICY entry");
	if (e->signature.len != KEYS_SIG_LEN || keys_verify(pk, "policy",
	    e->body.p, e->body.len, e->signature.p) != CAIRN_OK)
		return cairn_err(CAIRN_ERR_SIGNATURE, "POLICY entry of '%.*s': "
		    "the node's signature does not verify",
		    (int)(e->node_id.len > 64 ? 64 : e->node_id.len),
		    (const char *)e->node_id.p);
	if ((r = proto_unpack(&cairn__v1__policy__descriptor, e->body.p,
	    e->body.len, PROTO_MAX_SMALL, (ProtobufCMessage **)&p)) !=
	    CAIRN_OK)
		return cairn_err(CAIRN_ERR_FORMAT, "POLICY entry: the body is "
		    "not a Policy");
	if (strlen(p->node) != e->node_id.len ||
	    memcmp(p->node, e->node_id.p, e->node_id.len) != 0) {
		r = cairn_err(CAIRN_ERR_FORMAT, "POLICY entry: the body is "
		    "node '%s''s, the entry names another", p->node);
		goto fail;
	}
	if (p->budget_rho_per_month_nano == 0 ||
	    p->budget_rho_per_month_nano > RHO_NANO_MAX ||
	    p->max_rho_per_query_nano == 0 ||
	    p->max_rho_per_query_nano > RHO_NANO_MAX) {
		r = cairn_err(CAIRN_ERR_FORMAT, "POLICY entry of '%s': "
		    "budget_rho_per_month_nano or max_rho_per_query_nano is "
		    "not in [1, 10^18]", p->node);
		goto fail;
	}
	*out = p;
	return CAIRN_OK;
fail:
	cairn__v1__policy__free_unpacked(p, NULL);
	return r;
}

/* ------------------------------------------------------------ witnesses */

size_t
tlog_fed_majority(const struct keys_federation *fed)
{
	size_t n = 0;

	for (size_t i = 0; i < fed->n; i++)
		if (fed->members[i].pub.role == KEYS_ROLE_NODE)
			n++;
	return n == 0 ? 0 : n / 2 + 1;
}

void
tlog_fed_log_key(const struct keys_federation *fed,
    const struct keys_member *coord, struct tlog_verifier *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "cairn/%s", fed->name);
	out->type = TLOG_KEY_ED25519;
	memcpy(out->pub, coord->pub.pk, 32);
	tlog_key_id(out->name, out->type, out->pub, out->key_id);
}

int
tlog_fed_cosignatures(const char *note, size_t len,
    const struct keys_federation *fed, size_t *nvalid)
{
	struct tlog_verifier *wk = NULL;
	struct tlog_note *n = NULL;
	size_t nw = 0, count = 0;
	int r;

	if ((r = tlog_note_parse(note, len, &n)) != CAIRN_OK)
		return r;
	if ((wk = calloc(fed->n + 1, sizeof(*wk))) == NULL) {
		r = cairn_err(CAIRN_ERR_NOMEM, "witness keys");
		goto out;
	}
	for (size_t i = 0; i < fed->n; i++) {
		const struct keys_member *m = &fed->members[i];

		if (m->pub.role != KEYS_ROLE_NODE)
			continue;
		snprintf(wk[nw].name, sizeof(wk[nw].name), "%s", m->pub.name);
		wk[nw].type = TLOG_KEY_COSIGNATURE;
		memcpy(wk[nw].pub, m->pub.pk, 32);
		tlog_key_id(wk[nw].name, wk[nw].type, wk[nw].pub,
		    wk[nw].key_id);
		nw++;
	}
	/* Below a quorum of one is not an error here: count only. */
	if (nw > 0 && tlog_note_verify(n, wk, nw, 1, &count, NULL) !=
	    CAIRN_OK)
		cairn_err_clear();
	*nvalid = count;
	r = CAIRN_OK;
out:
	free(wk);
	tlog_note_free(n);
	return r;
}
