/*
 * verify.c - audit_verify(): every rule of docs/federation.md §5 over a
 * checkpoint, the entries it covers and federation.conf.
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
#include "common/err.h"
#include "common/rho.h"
#include "keys/keys.h"
#include "privacy/dp.h"
#include "protocol/cairn.pb-c.h"
#include "protocol/proto_service.h"
#include "protocol/qspec.h"
#include "protocol/tlog_member.h"

#define FINDING_MAX	1024
#define HT_KEY_MAX	(TLOG_ENTRY_MAX_ID + TLOG_HASH_LEN + 8)

/* ---------------------------------------------------------- hash table */

struct hent {
	uint8_t	*key;
	size_t	 klen;
	void	*val;
};

struct htab {
	struct hent	*v;
	size_t		 cap, n;
};

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

static void *
ht_get(const struct htab *t, const uint8_t *k, size_t n)
{
	struct hent *e;

	if (t->cap == 0)
		return NULL;
	e = ht_slot(t->v, t->cap, k, n);
	return e->key != NULL ? e->val : NULL;
}

/* Insert 'val' under a key not present yet. */
static int
ht_put(struct htab *t, const uint8_t *k, size_t n, void *val)
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

static void
ht_free(struct htab *t, void (*fv)(void *))
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

/* --------------------------------------------------------- the state */

struct vquery {
	uint64_t		 index;
	Cairn__V1__Query	*q;
	char			**sorted;	/* participants, bytewise */
	uint32_t		 attempt;	/* highest charge attempt */
	bool			 released;
	struct dp_query		 dq;	/* the spec, as accounted */
	uint64_t		 rho_nano;	/* the query's rho */
	bool			 dq_ok;	/* false: 'why' says why */
	char			 why[FINDING_MAX / 2];
};

struct vcharge {
	uint64_t		 index;		/* first CHARGE entry */
	Cairn__V1__Charge	*c;
	uint32_t		 attempt;	/* latest attempt seen */
};

struct vmonth {
	uint64_t cum;	/* nano-ρ */
};

/* A node's newest published policy. */
struct vpolicy {
	char			 node[KEYS_NAME_MAX + 1];
	uint64_t		 index;		/* its POLICY entry */
	Cairn__V1__Policy	*p;
};

struct vctx {
	const struct audit_verify_in	*in;
	struct audit_verify_report	*rep;
	const uint8_t			*log_pk;	/* coordinator's key */
	/* Membership as the MEMBER entries so far say; once the log has
	 * one, QUERY, CHARGE, REFUSAL and POLICY entries are checked
	 * against it (before: against federation.conf). */
	bool				 have_members;
	struct tlog_roster		 roster;
	struct vpolicy			*pols;
	size_t				 npols;
	struct htab			 queries;	/* qh -> vquery */
	struct htab			 charges;	/* node,qh: vcharge */
	struct htab			 months;	/* node,month: vmonth */
};

static void
vquery_free(void *p)
{
	struct vquery *vq = p;

	if (vq == NULL)
		return;
	free(vq->sorted);
	if (vq->q != NULL)
		protobuf_c_message_free_unpacked(&vq->q->base, NULL);
	free(vq);
}

static void
vcharge_free(void *p)
{
	struct vcharge *vc = p;

	if (vc == NULL)
		return;
	if (vc->c != NULL)
		protobuf_c_message_free_unpacked(&vc->c->base, NULL);
	free(vc);
}

static void
find(struct vctx *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
find(struct vctx *v, const char *fmt, ...)
{
	char line[FINDING_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (char *p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	v->rep->findings++;
	if (v->in->finding != NULL)
		v->in->finding(v->in->ctx, line);
}

/* First 8 bytes of a hash in hex, to name a query in findings. */
static const char *
short_hash(const uint8_t h[TLOG_HASH_LEN], char buf[17])
{
	sodium_bin2hex(buf, 17, h, 8);
	return buf;
}

/* Copy a byte string into a NUL-terminated name; false when unfit. */
static bool
bytes_name(struct tlog_bytes b, char name[static KEYS_NAME_MAX + 1])
{
	if (b.len == 0 || b.len > KEYS_NAME_MAX ||
	    memchr(b.p, '\0', b.len) != NULL)
		return false;
	memcpy(name, b.p, b.len);
	name[b.len] = '\0';
	return keys_name_is_valid(name);
}

static bool
bytes_eq_str(struct tlog_bytes b, const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	return b.len == n && (n == 0 || memcmp(b.p, s, n) == 0);
}

/* "YYYY-MM" -> YYYYMM; 0 when malformed. */
static uint32_t
month_parse(const char *s)
{
	unsigned y = 0, m;

	if (s == NULL || strlen(s) != 7 || s[4] != '-')
		return 0;
	for (int i = 0; i < 7; i++) {
		if (i == 4)
			continue;
		if (s[i] < '0' || s[i] > '9')
			return 0;
	}
	for (int i = 0; i < 4; i++)
		y = y * 10 + (unsigned)(s[i] - '0');
	m = (unsigned)(s[5] - '0') * 10 + (unsigned)(s[6] - '0');
	if (m < 1 || m > 12 || y == 0)
		return 0;
	return y * 100 + m;
}

static void
month_fmt(uint32_t m, char buf[16])
{
	snprintf(buf, 16, "%04u-%02u", (unsigned)(m / 100),
	    (unsigned)(m % 100));
}

static size_t
charge_key(uint8_t *k, const char *node, const uint8_t qh[TLOG_HASH_LEN])
{
	size_t n = strlen(node);

	memcpy(k, node, n);
	k[n] = 0;
	memcpy(k + n + 1, qh, TLOG_HASH_LEN);
	return n + 1 + TLOG_HASH_LEN;
}

static size_t
month_key(uint8_t *k, const char *node, uint32_t month)
{
	size_t n = strlen(node);

	memcpy(k, node, n);
	k[n] = 0;
	k[n + 1] = (uint8_t)(month >> 24);
	k[n + 2] = (uint8_t)(month >> 16);
	k[n + 3] = (uint8_t)(month >> 8);
	k[n + 4] = (uint8_t)month;
	return n + 5;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ------------------------------------------------------------ entries */

/*
 * The member 'role'/'name' in force at this point of the log: from the
 * MEMBER entries replayed so far once there is one, else federation.conf.
 */
static const struct keys_member *
member_at(const struct vctx *v, enum keys_role role, const char *name)
{
	if (v->have_members)
		return tlog_roster_find(&v->roster, role, name);
	return keys_federation_find(v->in->fed, role, name);
}

static const char *
member_source(const struct vctx *v)
{
	return v->have_members ? "a member at this point of the log" :
	    "in federation.conf";
}

/* The newest published policy of 'node', or NULL. */
static struct vpolicy *
policy_of(struct vctx *v, const char *node)
{
	for (size_t i = 0; i < v->npols; i++)
		if (strcmp(v->pols[i].node, node) == 0)
			return &v->pols[i];
	return NULL;
}

/* Verify a node's signature over an entry's body; finding on failure. */
static bool
node_sig_ok(struct vctx *v, uint64_t idx, const char *type,
    const struct tlog_entry *e, const char *purpose, char *node)
{
	const struct keys_member *m;

	if (!bytes_name(e->node_id, node)) {
		find(v, "entry %" PRIu64 ": %s: node_id is not a member name",
		    idx, type);
		return false;
	}
	m = member_at(v, KEYS_ROLE_NODE, node);
	if (m == NULL) {
		find(v, "entry %" PRIu64 ": %s of '%s': no such node %s", idx,
		    type, node, v->have_members ? "at this point of the log" :
		    "in federation.conf");
		return false;
	}
	if (e->signature.len != KEYS_SIG_LEN || keys_verify(m->pub.pk,
	    purpose, e->body.p, e->body.len, e->signature.p) != CAIRN_OK) {
		find(v, "entry %" PRIu64 ": %s of '%s': the node's signature "
		    "does not verify over the body", idx, type, node);
		return false;
	}
	return true;
}

/*
 * The signed query as the accountant sees it (docs/privacy.md): its spec
 * with h, and its rho in nano-rho.  What each charge must say follows from
 * these and the charge's cells (charge_need()).  On failure vq->dq_ok
 * stays false and vq->why says why.
 */
static void
query_need(struct vquery *vq)
{
	const Cairn__V1__Query *q = vq->q;
	struct qspec spec;
	int r;

	cairn_err_clear();
	if (q->spec == NULL) {
		snprintf(vq->why, sizeof(vq->why), "it has no spec");
		return;
	}
	if (q->n_participants > UINT32_MAX) {
		snprintf(vq->why, sizeof(vq->why), "too many participants");
		return;
	}
	if ((r = qspec_from_proto(q->spec, "spec", &spec)) != CAIRN_OK ||
	    (r = qspec_dp_query(&spec, q->holders_per_person != 0 ?
	    q->holders_per_person : 1, &vq->dq)) != CAIRN_OK)
		goto fail;
	vq->rho_nano = q->rho_nano;
	vq->dq_ok = true;
	return;
fail:
	snprintf(vq->why, sizeof(vq->why), "%s%s%s", cairn_errdesc(r),
	    *cairn_errmsg() ? ": " : "", cairn_errmsg());
}

/*
 * The requirement of query 'vq' for a charge over a vector of 'cells'
 * cells (the check cell included): each month's rho and sigma_h^2.  On
 * failure 'why' says why.
 */
static bool
charge_need(const struct vquery *vq, uint64_t cells,
    struct dp_requirement *need, char *why, size_t whylen)
{
	int r;

	if (!vq->dq_ok) {
		snprintf(why, whylen, "%s", vq->why);
		return false;
	}
	cairn_err_clear();
	if (cells < 2) {
		snprintf(why, whylen, "the charge is for %" PRIu64 " cells",
		    cells);
		return false;
	}
	if ((r = dp_requirement(&vq->dq, vq->rho_nano,
	    (uint32_t)vq->q->n_participants, vq->q->max_colluding, cells - 1,
	    need)) != CAIRN_OK) {
		snprintf(why, whylen, "%s%s%s", cairn_errdesc(r),
		    *cairn_errmsg() ? ": " : "", cairn_errmsg());
		return false;
	}
	return true;
}

static int
do_query(struct vctx *v, uint64_t idx, const struct tlog_entry *e)
{
	Cairn__V1__SignedQuery *sq = NULL;
	Cairn__V1__Query *q = NULL;
	const struct keys_member *m;
	struct vquery *vq = NULL;
	uint8_t qh[TLOG_HASH_LEN];
	char hb[17];
	int r = CAIRN_OK;

	v->rep->queries++;
	if (proto_unpack(&cairn__v1__signed_query__descriptor, e->body.p,
	    e->body.len, TLOG_ENTRY_MAX_BODY, (ProtobufCMessage **)&sq) !=
	    CAIRN_OK) {
		find(v, "entry %" PRIu64 ": QUERY: the body is not a "
		    "SignedQuery", idx);
		goto out;
	}
	crypto_hash_sha256(qh, sq->query.data, sq->query.len);
	if (proto_unpack(&cairn__v1__query__descriptor, sq->query.data,
	    sq->query.len, TLOG_ENTRY_MAX_BODY, (ProtobufCMessage **)&q) !=
	    CAIRN_OK) {
		find(v, "entry %" PRIu64 ": QUERY %s: the signed bytes are not "
		    "a Query", idx, short_hash(qh, hb));
		goto out;
	}
	m = q->analyst != NULL && q->analyst->name != NULL ?
	    member_at(v, KEYS_ROLE_ANALYST, q->analyst->name) : NULL;
	if (m == NULL)
		find(v, "entry %" PRIu64 ": QUERY '%s': analyst '%s' is not "
		    "%s", idx, q->query_id,
		    q->analyst && q->analyst->name ? q->analyst->name : "",
		    member_source(v));
	else if (sq->signature.len != KEYS_SIG_LEN || keys_verify(m->pub.pk,
	    "query", sq->query.data, sq->query.len, sq->signature.data) !=
	    CAIRN_OK)
		find(v, "entry %" PRIu64 ": QUERY '%s': the analyst's "
		    "signature does not verify", idx, q->query_id);
	if (q->federation == NULL || strcmp(q->federation,
	    v->in->fed->name) != 0)
		find(v, "entry %" PRIu64 ": QUERY '%s': federation '%s' is not "
		    "'%s'", idx, q->query_id, q->federation ? q->federation :
		    "", v->in->fed->name);
	if (ht_get(&v->queries, qh, sizeof(qh)) != NULL) {
		find(v, "entry %" PRIu64 ": QUERY '%s' (%s) is logged twice",
		    idx, q->query_id, short_hash(qh, hb));
		goto out;
	}
	if ((vq = calloc(1, sizeof(*vq))) == NULL ||
	    (vq->sorted = calloc(q->n_participants + 1,
	    sizeof(char *))) == NULL) {
		r = cairn_err(CAIRN_ERR_NOMEM, "audit: query");
		goto out;
	}
	vq->index = idx;
	for (size_t i = 0; i < q->n_participants; i++)
		vq->sorted[i] = q->participants[i];
	qsort(vq->sorted, q->n_participants, sizeof(char *), cmp_str);
	for (size_t i = 1; i < q->n_participants; i++)
		if (strcmp(vq->sorted[i - 1], vq->sorted[i]) == 0)
			find(v, "entry %" PRIu64 ": QUERY '%s' names "
			    "participant '%s' twice", idx, q->query_id,
			    vq->sorted[i]);
	vq->q = q;
	q = NULL;
	query_need(vq);
	if ((r = ht_put(&v->queries, qh, sizeof(qh), vq)) != CAIRN_OK)
		goto out;
	vq = NULL;
out:
	vquery_free(vq);
	if (q != NULL)
		protobuf_c_message_free_unpacked(&q->base, NULL);
	if (sq != NULL)
		protobuf_c_message_free_unpacked(&sq->base, NULL);
	return r;
}

static bool
participant(const struct vquery *vq, const char *node)
{
	for (size_t i = 0; i < vq->q->n_participants; i++)
		if (strcmp(vq->sorted[i], node) == 0)
			return true;
	return false;
}

/* Restatement: equal to the first charge but for the attempt. */
static bool
same_charge(const Cairn__V1__Charge *a, const Cairn__V1__Charge *b)
{
	if (strcmp(a->query_id, b->query_id) != 0 ||
	    a->query_hash.len != b->query_hash.len ||
	    memcmp(a->query_hash.data, b->query_hash.data,
	    a->query_hash.len) != 0 || strcmp(a->node, b->node) != 0 ||
	    a->n_months != b->n_months ||
	    a->budget_rho_per_month_nano != b->budget_rho_per_month_nano ||
	    a->noise_variance != b->noise_variance || a->cells != b->cells)
		return false;
	for (size_t i = 0; i < a->n_months; i++)
		if (strcmp(a->months[i]->month, b->months[i]->month) != 0 ||
		    a->months[i]->rho_nano != b->months[i]->rho_nano ||
		    a->months[i]->cumulative_rho_nano !=
		    b->months[i]->cumulative_rho_nano)
			return false;
	return true;
}

/* The typed fields of a CHARGE entry against its signed Charge. */
static bool
charge_fields_ok(struct vctx *v, uint64_t idx, const struct tlog_entry *e,
    const Cairn__V1__Charge *c, const char *node)
{
	if (strcmp(c->node, node) != 0) {
		find(v, "entry %" PRIu64 ": CHARGE: node_id '%s' differs from "
		    "the signed charge's node '%s'", idx, node, c->node);
		return false;
	}
	if (c->query_hash.len != TLOG_HASH_LEN || memcmp(c->query_hash.data,
	    e->query_hash, TLOG_HASH_LEN) != 0) {
		find(v, "entry %" PRIu64 ": CHARGE of '%s': query_hash differs "
		    "from the signed charge's", idx, node);
		return false;
	}
	if (c->n_months != e->ncharges) {
		find(v, "entry %" PRIu64 ": CHARGE of '%s': %zu data-months "
		    "logged, the signed charge has %zu", idx, node,
		    e->ncharges, c->n_months);
		return false;
	}
	for (size_t i = 0; i < e->ncharges; i++) {
		const Cairn__V1__MonthCharge *mc = c->months[i];
		char mb[16];

		month_fmt(e->charges[i].month, mb);
		if (month_parse(mc->month) != e->charges[i].month) {
			find(v, "entry %" PRIu64 ": CHARGE of '%s': month %zu "
			    "is %s in the log, '%s' in the signed charge", idx,
			    node, i + 1, mb, mc->month);
			return false;
		}
		if (mc->rho_nano != e->charges[i].rho_nano ||
		    mc->cumulative_rho_nano != e->charges[i].cumulative_nano) {
			char t[4][RHO_TEXT_MAX];

			find(v, "entry %" PRIu64 ": CHARGE of '%s' for %s: "
			    "logged rho %s cumulative %s, the signed charge "
			    "says rho %s cumulative %s", idx, node, mb,
			    rho_format(e->charges[i].rho_nano, t[0]),
			    rho_format(e->charges[i].cumulative_nano, t[1]),
			    rho_format(mc->rho_nano, t[2]),
			    rho_format(mc->cumulative_rho_nano, t[3]));
			return false;
		}
	}
	return true;
}

/*
 * Per (node, month): cumulative >= previous + ρ, within the budget.  More
 * than previous + ρ is spend the log does not show: a node that charged
 * for an attempt which failed (another participant refused) before its
 * advertisement arrived; it only lowers what the node may still spend,
 * and `--ledger` names those charges.  Less is an under-count.
 */
static int
charge_budget(struct vctx *v, uint64_t idx, const struct tlog_entry *e,
    const Cairn__V1__Charge *c, const char *node)
{
	uint8_t key[HT_KEY_MAX];
	const struct vpolicy *pol = policy_of(v, node);
	int r;

	for (size_t i = 0; i < e->ncharges; i++) {
		const struct tlog_charge *ch = &e->charges[i];
		size_t kn = month_key(key, node, ch->month);
		struct vmonth *vm = ht_get(&v->months, key, kn);
		uint64_t prev = vm != NULL ? vm->cum : 0;
		char mb[16], t[3][RHO_TEXT_MAX];

		month_fmt(ch->month, mb);
		if (ch->cumulative_nano < prev + ch->rho_nano)
			find(v, "entry %" PRIu64 ": CHARGE of '%s' for %s: "
			    "cumulative %s is not the previous %s plus "
			    "rho %s", idx, node, mb,
			    rho_format(ch->cumulative_nano, t[0]),
			    rho_format(prev, t[1]),
			    rho_format(ch->rho_nano, t[2]));
		if (ch->cumulative_nano > c->budget_rho_per_month_nano)
			find(v, "entry %" PRIu64 ": CHARGE of '%s' for %s: "
			    "cumulative %s exceeds the declared budget %s",
			    idx, node, mb,
			    rho_format(ch->cumulative_nano, t[0]),
			    rho_format(c->budget_rho_per_month_nano, t[1]));
		if (pol != NULL && ch->cumulative_nano >
		    pol->p->budget_rho_per_month_nano)
			find(v, "entry %" PRIu64 ": CHARGE of '%s' for %s: "
			    "cumulative %s exceeds the budget %s of its "
			    "POLICY entry %" PRIu64, idx, node, mb,
			    rho_format(ch->cumulative_nano, t[0]),
			    rho_format(pol->p->budget_rho_per_month_nano,
			    t[1]), pol->index);
		if (pol != NULL && ch->rho_nano >
		    pol->p->max_rho_per_query_nano)
			find(v, "entry %" PRIu64 ": CHARGE of '%s' for %s: "
			    "rho %s exceeds max_rho_per_query %s of its "
			    "POLICY entry %" PRIu64, idx, node, mb,
			    rho_format(ch->rho_nano, t[0]),
			    rho_format(pol->p->max_rho_per_query_nano, t[1]),
			    pol->index);
		if (vm == NULL) {
			if ((vm = calloc(1, sizeof(*vm))) == NULL)
				return cairn_err(CAIRN_ERR_NOMEM, "audit");
			if ((r = ht_put(&v->months, key, kn, vm)) != CAIRN_OK) {
				free(vm);
				return r;
			}
		}
		vm->cum = ch->cumulative_nano;
	}
	return CAIRN_OK;
}

/*
 * A charge against what its query requires (dp_requirement): the months
 * the query reads, each with its own rho_m, and at least sigma_h^2.
 */
static void
charge_vs_need(struct vctx *v, uint64_t idx, const struct tlog_entry *e,
    const Cairn__V1__Charge *c, const char *node, const struct vquery *vq)
{
	struct dp_requirement need;
	char why[FINDING_MAX / 2];
	uint64_t delta = 0;

	if (!charge_need(vq, c->cells, &need, why, sizeof(why))) {
		find(v, "entry %" PRIu64 ": CHARGE of '%s' for query '%s': "
		    "the query admits no noise to check it against: %s", idx,
		    node, vq->q->query_id, why);
		return;
	}
	if (e->ncharges != need.nmonths)
		find(v, "entry %" PRIu64 ": CHARGE of '%s' for query '%s': "
		    "%zu data-months, the query reads %zu", idx, node,
		    vq->q->query_id, e->ncharges, need.nmonths);
	for (size_t i = 0; i < e->ncharges && i < need.nmonths; i++) {
		uint32_t ym = (uint32_t)(need.month[i] / 12) * 100 +
		    (uint32_t)(need.month[i] % 12) + 1;
		char t[2][RHO_TEXT_MAX];

		if (e->charges[i].month != ym)
			find(v, "entry %" PRIu64 ": CHARGE of '%s' for query "
			    "'%s': month %" PRIu32 " is not the query's %"
			    PRIu32, idx, node, vq->q->query_id,
			    e->charges[i].month, ym);
		else if (e->charges[i].rho_nano != need.rho_nano[i])
			find(v, "entry %" PRIu64 ": CHARGE of '%s' for query "
			    "'%s': month %" PRIu32 ": rho %s is not the %s "
			    "the query charges it", idx, node,
			    vq->q->query_id, ym,
			    rho_format(e->charges[i].rho_nano, t[0]),
			    rho_format(need.rho_nano[i], t[1]));
		if (need.delta2_sq[i] > delta)
			delta = need.delta2_sq[i];
	}
	if (c->noise_variance < need.sigma_h2) {
		char rt[RHO_TEXT_MAX];

		find(v, "entry %" PRIu64 ": CHARGE of '%s' for query '%s': "
		    "noise_variance %" PRIu64 " is below the required "
		    "sigma_h^2 %" PRIu64 " (largest delta_m^2 %" PRIu64 ", "
		    "rho %s, n %zu, c %" PRIu32 ", %" PRIu64 " cells)", idx,
		    node, vq->q->query_id, c->noise_variance, need.sigma_h2,
		    delta, rho_format(vq->q->rho_nano, rt),
		    vq->q->n_participants, vq->q->max_colluding,
		    c->cells - 1);
	}
}

static int
do_charge(struct vctx *v, uint64_t idx, const struct tlog_entry *e)
{
	Cairn__V1__Charge *c = NULL;
	struct vquery *vq;
	struct vcharge *vc;
	char node[KEYS_NAME_MAX + 1], hb[17];
	uint8_t key[HT_KEY_MAX];
	size_t kn;
	int r = CAIRN_OK;

	v->rep->charges++;
	if (!node_sig_ok(v, idx, "CHARGE", e, "charge", node))
		goto out;
	if (proto_unpack(&cairn__v1__charge__descriptor, e->body.p,
	    e->body.len, TLOG_ENTRY_MAX_BODY, (ProtobufCMessage **)&c) !=
	    CAIRN_OK) {
		find(v, "entry %" PRIu64 ": CHARGE of '%s': the body is not a "
		    "Charge", idx, node);
		goto out;
	}
	if (!charge_fields_ok(v, idx, e, c, node))
		goto out;
	vq = ht_get(&v->queries, e->query_hash, TLOG_HASH_LEN);
	if (vq == NULL)
		find(v, "entry %" PRIu64 ": CHARGE of '%s' for query %s: no "
		    "QUERY entry before it", idx, node,
		    short_hash(e->query_hash, hb));
	else {
		if (!participant(vq, node))
			find(v, "entry %" PRIu64 ": CHARGE of '%s' for query "
			    "'%s': not a participant", idx, node,
			    vq->q->query_id);
		if (strcmp(c->query_id, vq->q->query_id) != 0)
			find(v, "entry %" PRIu64 ": CHARGE of '%s': query_id "
			    "'%s' is not the query's '%s'", idx, node,
			    c->query_id, vq->q->query_id);
		charge_vs_need(v, idx, e, c, node, vq);
		if (c->attempt > vq->attempt)
			vq->attempt = c->attempt;
	}
	kn = charge_key(key, node, e->query_hash);
	if ((vc = ht_get(&v->charges, key, kn)) != NULL) {
		v->rep->restatements++;
		if (!same_charge(vc->c, c))
			find(v, "entry %" PRIu64 ": CHARGE of '%s' for query "
			    "%s restates entry %" PRIu64 " with different "
			    "fields", idx, node, short_hash(e->query_hash, hb),
			    vc->index);
		if (c->attempt > vc->attempt)
			vc->attempt = c->attempt;
		goto out;
	}
	if ((r = charge_budget(v, idx, e, c, node)) != CAIRN_OK)
		goto out;
	if ((vc = calloc(1, sizeof(*vc))) == NULL) {
		r = cairn_err(CAIRN_ERR_NOMEM, "audit: charge");
		goto out;
	}
	vc->index = idx;
	vc->c = c;
	vc->attempt = c->attempt;
	if ((r = ht_put(&v->charges, key, kn, vc)) != CAIRN_OK) {
		free(vc);
		goto out;
	}
	c = NULL;
out:
	if (c != NULL)
		protobuf_c_message_free_unpacked(&c->base, NULL);
	return r;
}

static void
do_refusal(struct vctx *v, uint64_t idx, const struct tlog_entry *e)
{
	Cairn__V1__Refusal *rf = NULL;
	char node[KEYS_NAME_MAX + 1], hb[17], both[TLOG_ENTRY_MAX_REASON + 64];

	v->rep->refusals++;
	if (!node_sig_ok(v, idx, "REFUSAL", e, "refusal", node))
		return;
	if (proto_unpack(&cairn__v1__refusal__descriptor, e->body.p,
	    e->body.len, TLOG_ENTRY_MAX_BODY, (ProtobufCMessage **)&rf) !=
	    CAIRN_OK) {
		find(v, "entry %" PRIu64 ": REFUSAL of '%s': the body is not "
		    "a Refusal", idx, node);
		return;
	}
	snprintf(both, sizeof(both), "%s: %s", rf->reason_code, rf->reason);
	if (strcmp(rf->node, node) != 0)
		find(v, "entry %" PRIu64 ": REFUSAL: node_id '%s' differs from "
		    "the signed refusal's node '%s'", idx, node, rf->node);
	else if (rf->query_hash.len != TLOG_HASH_LEN ||
	    memcmp(rf->query_hash.data, e->query_hash, TLOG_HASH_LEN) != 0)
		find(v, "entry %" PRIu64 ": REFUSAL of '%s': query_hash "
		    "differs from the signed refusal's", idx, node);
	else if (!bytes_eq_str(e->reason, rf->reason) &&
	    !bytes_eq_str(e->reason, both))
		find(v, "entry %" PRIu64 ": REFUSAL of '%s': the logged reason "
		    "differs from the signed refusal's", idx, node);
	else if (ht_get(&v->queries, e->query_hash, TLOG_HASH_LEN) == NULL)
		find(v, "entry %" PRIu64 ": REFUSAL of '%s' for query %s: no "
		    "QUERY entry before it", idx, node,
		    short_hash(e->query_hash, hb));
	protobuf_c_message_free_unpacked(&rf->base, NULL);
}

static void
do_release(struct vctx *v, uint64_t idx, const struct tlog_entry *e)
{
	struct vquery *vq;
	uint8_t key[HT_KEY_MAX];
	uint64_t sum = 0;
	bool ok = true;
	char hb[17], node[KEYS_NAME_MAX + 1];
	size_t np;

	v->rep->releases++;
	vq = ht_get(&v->queries, e->query_hash, TLOG_HASH_LEN);
	if (vq == NULL) {
		find(v, "entry %" PRIu64 ": RELEASE of query %s: no QUERY "
		    "entry before it", idx, short_hash(e->query_hash, hb));
		return;
	}
	if (vq->released)
		find(v, "entry %" PRIu64 ": RELEASE of query '%s': released "
		    "twice", idx, vq->q->query_id);
	vq->released = true;
	np = vq->q->n_participants;
	for (size_t i = 0; i < e->nparticipants; i++) {
		if (!bytes_name(e->participants[i], node)) {
			find(v, "entry %" PRIu64 ": RELEASE of query '%s': "
			    "participant %zu is not a member name", idx,
			    vq->q->query_id, i + 1);
			ok = false;
			continue;
		}
		if (i >= np || strcmp(node, vq->sorted[i]) != 0) {
			find(v, "entry %" PRIu64 ": RELEASE of query '%s': "
			    "participant %zu is '%s', the query's sorted "
			    "participant %zu is '%s'", idx, vq->q->query_id,
			    i + 1, node, i + 1, i < np ? vq->sorted[i] :
			    "(none)");
			ok = false;
		}
	}
	if (e->nparticipants < np) {
		find(v, "entry %" PRIu64 ": RELEASE of query '%s': names %zu "
		    "participants, the query has %zu (missing '%s')", idx,
		    vq->q->query_id, e->nparticipants, np,
		    vq->sorted[e->nparticipants]);
		ok = false;
	}
	/* Every participant of the query charged, at the current attempt. */
	for (size_t i = 0; i < np; i++) {
		const char *p = vq->sorted[i];
		struct vcharge *vc;
		size_t kn;

		if (strlen(p) > KEYS_NAME_MAX)
			continue;
		kn = charge_key(key, p, e->query_hash);
		vc = ht_get(&v->charges, key, kn);
		if (vc == NULL) {
			find(v, "entry %" PRIu64 ": RELEASE of query '%s': no "
			    "CHARGE from participant '%s' before it", idx,
			    vq->q->query_id, p);
			ok = false;
			continue;
		}
		if (vc->attempt != vq->attempt) {
			find(v, "entry %" PRIu64 ": RELEASE of query '%s': "
			    "participant '%s' charged attempt %" PRIu32 " "
			    "only, the current attempt is %" PRIu32, idx,
			    vq->q->query_id, p, vc->attempt, vq->attempt);
			ok = false;
		}
		if (sum + vc->c->noise_variance < sum)
			ok = false;
		sum += vc->c->noise_variance;
	}
	if (ok && (double)sum != e->variance)
		find(v, "entry %" PRIu64 ": RELEASE of query '%s': variance "
		    "%.17g is not the sum %" PRIu64 " of the participants' "
		    "sigma_h^2", idx, vq->q->query_id, e->variance, sum);
}

static void
do_failure(struct vctx *v, uint64_t idx, const struct tlog_entry *e)
{
	char hb[17];

	v->rep->failures++;
	if (ht_get(&v->queries, e->query_hash, TLOG_HASH_LEN) == NULL)
		find(v, "entry %" PRIu64 ": FAILURE of query %s: no QUERY "
		    "entry before it", idx, short_hash(e->query_hash, hb));
}

/* A MEMBER entry: signed by the log key; replayed into the roster. */
static int
do_member(struct vctx *v, uint64_t idx, const struct tlog_entry *e)
{
	struct tlog_member_change c;
	int r;

	v->rep->members++;
	if ((r = tlog_member_decode(e, v->log_pk, &c)) != CAIRN_OK) {
		find(v, "entry %" PRIu64 ": %s", idx, cairn_errdesc(r));
		return CAIRN_OK;
	}
	if (strcmp(c.federation, v->in->fed->name) != 0)
		find(v, "entry %" PRIu64 ": MEMBER: federation '%s' is not "
		    "'%s'", idx, c.federation, v->in->fed->name);
	v->have_members = true;
	if ((r = tlog_roster_apply(&v->roster, &c)) == CAIRN_ERR_NOTFOUND)
		find(v, "entry %" PRIu64 ": MEMBER: %s", idx,
		    cairn_errdesc(r));
	else if (r != CAIRN_OK)
		return r;
	return CAIRN_OK;
}

/* A POLICY entry: signed by a member node; the node's policy from now. */
static int
do_policy(struct vctx *v, uint64_t idx, const struct tlog_entry *e)
{
	Cairn__V1__Policy *p = NULL;
	struct vpolicy *vp;
	const struct keys_member *m;
	char node[KEYS_NAME_MAX + 1];
	int r;

	v->rep->policies++;
	if (!bytes_name(e->node_id, node)) {
		find(v, "entry %" PRIu64 ": POLICY: node_id is not a member "
		    "name", idx);
		return CAIRN_OK;
	}
	if ((m = member_at(v, KEYS_ROLE_NODE, node)) == NULL) {
		find(v, "entry %" PRIu64 ": POLICY of '%s': the node is not %s",
		    idx, node, member_source(v));
		return CAIRN_OK;
	}
	if ((r = tlog_policy_decode(e, m->pub.pk, &p)) != CAIRN_OK) {
		find(v, "entry %" PRIu64 ": %s", idx, cairn_errdesc(r));
		return CAIRN_OK;
	}
	if ((vp = policy_of(v, node)) == NULL) {
		struct vpolicy *nv;

		if (v->npols >= KEYS_FEDERATION_MAX_MEMBERS ||
		    (nv = realloc(v->pols, (v->npols + 1) * sizeof(*nv))) ==
		    NULL) {
			cairn__v1__policy__free_unpacked(p, NULL);
			return cairn_err(CAIRN_ERR_NOMEM, "audit: policies");
		}
		v->pols = nv;
		vp = &v->pols[v->npols++];
		memset(vp, 0, sizeof(*vp));
		snprintf(vp->node, sizeof(vp->node), "%s", node);
	} else
		cairn__v1__policy__free_unpacked(vp->p, NULL);
	vp->p = p;
	vp->index = idx;
	return CAIRN_OK;
}

static int
do_entry(struct vctx *v, uint64_t idx, struct tlog_bytes data,
    struct tlog_entry *e)
{
	int r;

	if ((r = tlog_entry_decode(data.p, data.len, e)) != CAIRN_OK) {
		find(v, "entry %" PRIu64 ": does not decode: %s", idx,
		    cairn_errdesc(r));
		return CAIRN_OK;
	}
	switch (e->type) {
	case TLOG_ENTRY_QUERY:
		return do_query(v, idx, e);
	case TLOG_ENTRY_CHARGE:
		return do_charge(v, idx, e);
	case TLOG_ENTRY_REFUSAL:
		do_refusal(v, idx, e);
		break;
	case TLOG_ENTRY_RELEASE:
		do_release(v, idx, e);
		break;
	case TLOG_ENTRY_FAILURE:
		do_failure(v, idx, e);
		break;
	case TLOG_ENTRY_MEMBER:
		return do_member(v, idx, e);
	case TLOG_ENTRY_POLICY:
		return do_policy(v, idx, e);
	default:
		v->rep->others++;
		break;
	}
	return CAIRN_OK;
}

/* --------------------------------------------------------------- ledger */

static bool
ledger_matches(const struct audit_ledger_charge *lc,
    const struct tlog_entry *e)
{
	if (memcmp(lc->query_hash, e->query_hash, TLOG_HASH_LEN) != 0 ||
	    lc->nmonths != e->ncharges)
		return false;
	for (size_t i = 0; i < lc->nmonths; i++)
		if (lc->months[i].month != e->charges[i].month ||
		    lc->months[i].rho_nano != e->charges[i].rho_nano ||
		    lc->months[i].cumulative_nano !=
		    e->charges[i].cumulative_nano)
			return false;
	return true;
}

static void
check_ledger(struct vctx *v, struct tlog_entry *e)
{
	const struct audit_ledger *l = v->in->ledger;
	const char *node = v->in->ledger_node;
	uint8_t key[HT_KEY_MAX];
	char hb[17];
	bool *seen;

	if (strlen(node) > KEYS_NAME_MAX) {
		find(v, "ledger: node name '%s' is too long", node);
		return;
	}
	if ((seen = calloc(v->charges.cap + 1, sizeof(bool))) == NULL) {
		find(v, "ledger: out of memory");
		return;
	}
	for (size_t i = 0; i < l->n; i++) {
		const struct audit_ledger_charge *lc = &l->v[i];
		struct vcharge *vc;
		size_t kn = charge_key(key, node, lc->query_hash);

		if (lc->node[0] != '\0' && strcmp(lc->node, node) != 0) {
			find(v, "ledger line %zu: charge %" PRId64 " is of "
			    "node '%s', not '%s'", lc->line, lc->id, lc->node,
			    node);
			continue;
		}
		vc = ht_get(&v->charges, key, kn);
		if (vc == NULL) {
			find(v, "ledger line %zu: charge %" PRId64 " (query "
			    "'%s', %s) is missing from the log", lc->line,
			    lc->id, lc->query_id, short_hash(lc->query_hash,
			    hb));
			continue;
		}
		seen[ht_slot(v->charges.v, v->charges.cap, key, kn) -
		    v->charges.v] = true;
		if (lc->log_index >= 0) {
			uint64_t li = (uint64_t)lc->log_index;
			struct tlog_bytes d;
			char nb[KEYS_NAME_MAX + 1];

			if (li >= v->in->nentries) {
				find(v, "ledger line %zu: charge %" PRId64
				    " is recorded at log index %" PRIu64
				    ", beyond the log", lc->line, lc->id, li);
				continue;
			}
			d = v->in->entries[li];
			if (tlog_entry_decode(d.p, d.len, e) != CAIRN_OK ||
			    e->type != TLOG_ENTRY_CHARGE ||
			    !bytes_name(e->node_id, nb) ||
			    strcmp(nb, node) != 0) {
				find(v, "ledger line %zu: charge %" PRId64 ": "
				    "log entry %" PRIu64 " is not a CHARGE of "
				    "'%s'", lc->line, lc->id, li, node);
				continue;
			}
			if (!ledger_matches(lc, e)) {
				find(v, "ledger line %zu: charge %" PRId64 ": "
				    "log entry %" PRIu64 " has different "
				    "fields", lc->line, lc->id, li);
				continue;
			}
		} else {
			struct tlog_bytes d = v->in->entries[vc->index];

			if (tlog_entry_decode(d.p, d.len, e) != CAIRN_OK ||
			    !ledger_matches(lc, e)) {
				find(v, "ledger line %zu: charge %" PRId64 ": "
				    "log entry %" PRIu64 " has different "
				    "fields", lc->line, lc->id, vc->index);
				continue;
			}
		}
		if ((lc->have_budget && lc->budget_nano !=
		    vc->c->budget_rho_per_month_nano) ||
		    (lc->have_variance &&
		    lc->variance != vc->c->noise_variance)) {
			find(v, "ledger line %zu: charge %" PRId64 ": budget "
			    "or noise variance differs from the signed charge "
			    "of log entry %" PRIu64, lc->line, lc->id,
			    vc->index);
			continue;
		}
		v->rep->ledger_charges++;
	}
	/* Every CHARGE of the node in the log is in the ledger. */
	for (size_t i = 0; i < v->charges.cap; i++) {
		struct hent *h = &v->charges.v[i];
		const struct vcharge *vc;

		if (h->key == NULL || seen[i] || strcmp((const char *)h->key,
		    node) != 0)
			continue;
		vc = h->val;
		find(v, "log entry %" PRIu64 ": CHARGE of '%s' for query '%s' "
		    "is missing from the ledger", vc->index, node,
		    vc->c->query_id);
	}
	free(seen);
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
		if ((r = do_entry(&v, i, in->entries[i], e)) != CAIRN_OK)
			goto out;
	if (in->ledger != NULL)
		check_ledger(&v, e);
	if (rep != NULL)
		*rep = lrep;
	if (lrep.findings > 0)
		r = cairn_err(CAIRN_ERR_CONFLICT, "%" PRIu64 " finding%s",
		    lrep.findings, lrep.findings == 1 ? "" : "s");
out:
	ht_free(&v.queries, vquery_free);
	ht_free(&v.charges, vcharge_free);
	ht_free(&v.months, free);
	tlog_roster_release(&v.roster);
	for (size_t i = 0; i < v.npols; i++)
		cairn__v1__policy__free_unpacked(v.pols[i].p, NULL);
	free(v.pols);
	free(fr);
	free(e);
	return r;
}
