/*
 * coord_service.c - the handlers of cairn.v1.Coordinator (docs/protocol.md)
 * running the round of docs/federation.md.
 *
 * One mutex guards all state: the SQLite stores, the open attempts and
 * the calls held by long polls.  A handler takes it, checks the caller
 * (role by the transport, then name and certificate fingerprint against
 * federation.conf), does its work and replies, or parks the call as a
 * waiter (PollTask, GetRoster) that another handler or the ticker thread
 * answers later.  The ticker fails attempts whose deadline passed and
 * answers waiters whose wait ended or whose caller went away.
 *
 * Masked shares and sums live only in memory (coordinator/round.c); what
 * must survive a crash (queries, states, signed charges and refusals,
 * results, checkpoints, cosignatures) is in coord.db, and the log in
 * log.db.  After a restart every attempt that was open gets a FAILURE
 * entry; the analyst may retry it (docs/coordinator.md, "Retries").
 */
#include <sys/stat.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "common/err.h"
#include "common/fault.h"
#include "common/rho.h"
#include "common/log.h"
#include "coordinator/coord_int.h"
#include "coordinator/round.h"
#include "keys/keys_tls.h"
#include "privacy/dp.h"
#include "protocol/proto_service.h"
#include "privacy/dp.h"
#include "protocol/qspec.h"
#include "protocol/transport.h"

#define HELD		1		/* a handler kept the call */
#define TICK_MS		100
#define MAX_WAIT_MS	600000u		/* longest long poll */

struct share_in {
	uint8_t		*manifest;	/* the signed manifest bytes */
	size_t		 mlen;
	uint8_t		 sig[64];
	uint64_t	*cells;
	uint32_t	 nchunks;
	uint32_t	 got;
	uint64_t	 received;
	uint8_t		*have;		/* per chunk */
	bool		 done;
};

struct part {
	char		 name[KEYS_NAME_MAX + 1];
	uint8_t		 id[32];
	int64_t		 delivered;	/* when the task went out */
	uint8_t		*adv;		/* SignedAdvertisement */
	size_t		 adv_len;
	uint64_t	 sigma2;
	struct share_in	 sh;
};

struct attempt {
	struct attempt		*next;
	char			 query_id[COORD_QUERY_ID_MAX + 1];
	char			 analyst[KEYS_NAME_MAX + 1];
	uint8_t			 qhash[32];
	Cairn__V1__SignedQuery	*sq;
	Cairn__V1__Query	*q;
	struct qspec		 spec;
	uint64_t		 query_index;
	uint32_t		 attempt;
	size_t			 n;
	struct part		*p;
	uint64_t		 expect_cells;	/* 0: unknown */
	uint64_t		 ncells;	/* 0 until an advertisement */
	struct dp_requirement	 need;	/* rho_m, sigma_h^2 */
	int64_t			 adv_deadline;
	int64_t			 share_deadline;
	struct coord_round	*round;
};

struct waiter {
	struct waiter		*next;
	struct transport_call	*call;
	enum proto_method	 m;
	enum keys_role		 role;		/* the caller's */
	char			 node[KEYS_NAME_MAX + 1];	/* name */
	uint64_t		 last_seen;
	int64_t			 until_ms;
	char			 query_id[COORD_QUERY_ID_MAX + 1];
	uint32_t		 attempt;
};

struct coord {
	const struct coord_config	*cfg;
	pthread_mutex_t			 mu;
	struct keys_identity		*id;
	struct keys_federation		*fed;
	struct coord_store		*db;
	struct coord_log		 log;
	bool				 log_open;
	struct attempt			*open;
	struct waiter			*waiters;
	size_t				 nwaiters;
	struct transport_server		*srv;
	pthread_t			 ticker;
	bool				 ticker_running;
	bool				 stopping;
	pthread_cond_t			 cv;
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
now_s(void)
{
	return (int64_t)time(NULL);
}

/* ------------------------------------------------------------ helpers */

/* The caller, checked against federation.conf by name and certificate. */
static int
auth(struct coord *c, struct transport_call *call,
    const struct keys_member **out)
{
	const struct keys_member *m;
	char fpr[KEYS_FPR_LEN];
	enum keys_role role = transport_call_role(call);
	const char *name = transport_call_peer(call);

	m = keys_federation_find(c->fed, role, name);
	if (m == NULL)
		return cairn_err(CAIRN_ERR_UNAUTH, "%s %s is not a member of "
		    "federation %s", keys_role_name(role), name, c->fed->name);
	if (transport_call_peer_cert_fpr(call, fpr) != CAIRN_OK ||
	    strcmp(fpr, m->cert_fpr) != 0)
		return cairn_err(CAIRN_ERR_UNAUTH, "the certificate of %s %s "
		    "is not the one enrolled in federation.conf",
		    keys_role_name(role), name);
	*out = m;
	return CAIRN_OK;
}

static bool
verify(const uint8_t pk[static 32], const char *purpose,
    const ProtobufCBinaryData *msg, const ProtobufCBinaryData *sig)
{
	return sig->len == KEYS_SIG_LEN &&
	    keys_verify(pk, purpose, msg->data, msg->len, sig->data) ==
	    CAIRN_OK;
}

static struct attempt *
attempt_find(struct coord *c, const char *query_id)
{
	for (struct attempt *a = c->open; a != NULL; a = a->next)
		if (strcmp(a->query_id, query_id) == 0)
			return a;
	return NULL;
}

/*
 * The open attempt of 'query_id' into '*out'.  Otherwise the store's error
 * for a query it does not know (CAIRN_ERR_NOTFOUND), or CAIRN_ERR_STATE
 * when the query has no attempt open.
 */
static int
open_attempt(struct coord *c, const char *query_id, struct attempt **out)
{
	struct coord_query_row row;
	int r;

	if ((*out = attempt_find(c, query_id)) != NULL)
		return CAIRN_OK;
	if ((r = coord_store_query_get(c->db, query_id, &row)) != CAIRN_OK)
		return r;
	coord_store_row_clear(&row);
	return cairn_err(CAIRN_ERR_STATE, "query '%s' has no open attempt",
	    query_id);
}

static struct part *
part_find(struct attempt *a, const char *name)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->p[i].name, name) == 0)
			return &a->p[i];
	return NULL;
}

static void
share_clear(struct share_in *sh)
{
	free(sh->manifest);
	free(sh->cells);
	free(sh->have);
	memset(sh, 0, sizeof(*sh));
}

static void
attempt_free(struct attempt *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; a->p != NULL && i < a->n; i++) {
		free(a->p[i].adv);
		share_clear(&a->p[i].sh);
	}
	free(a->p);
	coord_round_free(a->round);
	if (a->q != NULL)
		protobuf_c_message_free_unpacked(&a->q->base, NULL);
	if (a->sq != NULL)
		protobuf_c_message_free_unpacked(&a->sq->base, NULL);
	free(a);
}

static void
attempt_unlink(struct coord *c, struct attempt *a)
{
	for (struct attempt **pp = &c->open; *pp != NULL; pp = &(*pp)->next)
		if (*pp == a) {
			*pp = a->next;
			return;
		}
}

static bool
advertising(const struct attempt *a)
{
	return a->round == NULL ||
	    coord_round_phase(a->round) == COORD_ADVERTISING;
}

/* ------------------------------------------------------------ waiters */

static void
waiter_remove(struct coord *c, struct waiter *w)
{
	for (struct waiter **pp = &c->waiters; *pp != NULL; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			free(w);
			c->nwaiters--;
			return;
		}
}

static int	roster_reply(struct coord *c, struct transport_call *call,
		    struct attempt *a);
static void	query_wake(struct coord *c, const char *query_id,
		    bool all_due);

/* Answer the GetRoster waiters of 'a': the roster, or 'code'. */
static void
roster_wake(struct coord *c, struct attempt *a, int code, const char *why)
{
	struct waiter *w, *next;

	for (w = c->waiters; w != NULL; w = next) {
		next = w->next;
		if (w->m != PROTO_GET_ROSTER ||
		    strcmp(w->query_id, a->query_id) != 0)
			continue;
		if (code != CAIRN_OK)
			(void)transport_call_fail(w->call, code, NULL, why);
		else if (w->attempt != a->attempt)
			(void)transport_call_fail(w->call, CAIRN_ERR_STATE,
			    NULL, "attempt is over");
		else if (roster_reply(c, w->call, a) != CAIRN_OK)
			(void)transport_call_fail(w->call, CAIRN_ERR_INTERNAL,
			    NULL, cairn_errmsg());
		waiter_remove(c, w);
	}
}

/* ----------------------------------------------------- attempt endings */

/* Log a FAILURE for 'a' with 'reason', record 'state', drop the attempt. */
static void
attempt_fail(struct coord *c, struct attempt *a, enum coord_qstate state,
    const char *reason)
{
	char text[TLOG_ENTRY_MAX_REASON];
	struct tlog_entry e;
	int r;

	snprintf(text, sizeof(text), "attempt %u: %s", a->attempt, reason);
	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_FAILURE;
	e.time = (uint64_t)now_s();
	memcpy(e.query_hash, a->qhash, 32);
	e.reason.p = (const uint8_t *)text;
	e.reason.len = strlen(text);
	if ((r = coord_log_append(&c->log, &e, NULL)) != CAIRN_OK)
		log_error("query %s: cannot log its FAILURE: %s", a->query_id,
		    cairn_errdesc(r));
	fault_point("coord.after_failure_logged");
	if ((r = coord_store_query_set(c->db, a->query_id, state, a->attempt,
	    text)) != CAIRN_OK)
		log_error("query %s: %s", a->query_id, cairn_errdesc(r));
	log_info("query %s %s", a->query_id, text);
	roster_wake(c, a, CAIRN_ERR_STATE, text);
	query_wake(c, a->query_id, false);
	attempt_unlink(c, a);
	attempt_free(a);
}

static int
name_cmp(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

static void
hash_le(const int64_t *v, size_t n, uint8_t out[32])
{
	crypto_generichash_state st;
	uint8_t buf[8 * 256];

	crypto_generichash_init(&st, NULL, 0, 32);
	for (size_t i = 0; i < n; i += 256) {
		size_t k = n - i < 256 ? n - i : 256;

		for (size_t j = 0; j < k; j++)
			for (int b = 0; b < 8; b++)
				buf[j * 8 + b] = (uint8_t)((uint64_t)v[i + j] >>
				    (8 * b));
		crypto_generichash_update(&st, buf, k * 8);
	}
	crypto_generichash_final(&st, out, 32);
}

/*
 * Every share is in and the check cell holds: keep the result, then log
 * RELEASE (at the index the result names), then mark the query released.
 * A crash between the two is resolved at restart by fail_leftovers():
 * the RELEASE is in the log (released) or it is not (failed).
 */
static void
attempt_release(struct coord *c, struct attempt *a)
{
	Cairn__V1__Release rel = CAIRN__V1__RELEASE__INIT;
	struct tlog_bytes parts[SECAGG_MAX_MEMBERS];
	char *names[SECAGG_MAX_MEMBERS];
	struct tlog_entry *e = NULL;
	uint8_t rhash[32], *packed = NULL;
	int64_t *vals = NULL;
	uint64_t var = 0, index;
	size_t n = a->ncells - 1, plen;
	int r;

	if ((vals = malloc(n * sizeof(*vals))) == NULL ||
	    (e = calloc(1, sizeof(*e))) == NULL) {
		r = CAIRN_ERR_NOMEM;
		goto fail;
	}
	if ((r = coord_round_result(a->round, vals, n)) != CAIRN_OK)
		goto fail;
	hash_le(vals, n, rhash);
	for (size_t i = 0; i < a->n; i++) {
		names[i] = a->p[i].name;
		var += a->p[i].sigma2;
	}
	qsort(names, a->n, sizeof(names[0]), name_cmp);
	for (size_t i = 0; i < a->n; i++) {
		parts[i].p = (const uint8_t *)names[i];
		parts[i].len = strlen(names[i]);
	}
	e->type = TLOG_ENTRY_RELEASE;
	e->time = (uint64_t)now_s();
	memcpy(e->query_hash, a->qhash, 32);
	memcpy(e->result_hash, rhash, 32);
	e->variance = (double)var;
	e->nparticipants = a->n;
	memcpy(e->participants, parts, a->n * sizeof(parts[0]));
	index = tlog_store_size(c->log.tlog);
	rel.query_id = a->query_id;
	rel.n_participants = a->n;
	rel.participants = names;
	rel.result_hash.data = rhash;
	rel.result_hash.len = 32;
	rel.noise_variance = var;
	/* The exact half-width, not 1.96 * sqrt(var), which undercovers
	 * for small variances (94.0% at 12); 0 above the range it is
	 * computed for (docs/privacy.md). */
	if (dp_ci95_halfwidth(var, &rel.ci95_halfwidth) != CAIRN_OK)
		rel.ci95_halfwidth = 0;
	rel.cells = n;
	rel.log_index = index;
	if ((r = proto_pack(&rel.base, PROTO_MAX_SMALL, &packed, &plen))
	    != CAIRN_OK ||
	    (r = coord_store_result_put(c->db, a->query_id, packed, plen, vals,
	    n)) != CAIRN_OK) {
		free(packed);
		goto fail;
	}
	if ((r = coord_log_append(&c->log, e, &index)) != CAIRN_OK) {
		if (tlog_store_size(c->log.tlog) <= rel.log_index) {
			free(packed);
			goto fail;
		}
		/* The entry is in; its checkpoint follows at restart. */
		log_error("query %s: RELEASE logged at %llu, its checkpoint "
		    "not published: %s", a->query_id,
		    (unsigned long long)rel.log_index, cairn_errdesc(r));
		index = rel.log_index;
	}
	fault_point("coord.after_release_logged");
	if (index != rel.log_index)
		log_error("query %s: RELEASE at %llu, not %llu", a->query_id,
		    (unsigned long long)index,
		    (unsigned long long)rel.log_index);
	if ((r = coord_store_query_set(c->db, a->query_id, COORD_Q_RELEASED,
	    a->attempt, "")) != CAIRN_OK)
		log_error("query %s: released at %llu but not stored: %s",
		    a->query_id, (unsigned long long)index, cairn_errdesc(r));
	else
		log_info("query %s released (attempt %u, %zu cells, log "
		    "index %llu)", a->query_id, a->attempt, n,
		    (unsigned long long)index);
	query_wake(c, a->query_id, false);
	free(packed);
	free(vals);
	free(e);
	attempt_unlink(c, a);
	attempt_free(a);
	return;
fail:
	free(vals);
	free(e);
	attempt_fail(c, a, COORD_Q_FAILED, cairn_errdesc(r));
}

/* --------------------------------------------------------- validation */

static bool
query_id_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > COORD_QUERY_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || strchr("._-:", s[i])))
			return false;
	return true;
}

/*
 * Check the signed query 'sq' from analyst 'caller' and build an
 * attempt for it (not linked, number 0).  '*field' names the field at
 * fault on error.
 */
static int
attempt_build(struct coord *c, const char *caller,
    const Cairn__V1__SignedQuery *sq, struct attempt **out,
    const char **field)
{
	const struct keys_member *am, *m;
	const struct coord_geo *geo;
	struct attempt *a;
	ProtobufCMessage *msg = NULL;
	uint8_t *buf = NULL;
	size_t len;
	Cairn__V1__Query *q;
	int r;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return CAIRN_ERR_NOMEM;
	*field = "query";
	if ((r = proto_unpack(&cairn__v1__query__descriptor, sq->query.data,
	    sq->query.len, PROTO_MAX_SMALL, &msg)) != CAIRN_OK)
		goto fail;
	a->q = q = (Cairn__V1__Query *)msg;
	*field = "query.analyst";
	if (q->analyst == NULL ||
	    q->analyst->role != CAIRN__V1__ROLE__ROLE_ANALYST ||
	    strcmp(q->analyst->name, caller) != 0) {
		r = cairn_err(CAIRN_ERR_UNAUTH, "query.analyst is not the "
		    "caller, analyst %s", caller);
		goto fail;
	}
	am = keys_federation_find(c->fed, KEYS_ROLE_ANALYST, caller);
	*field = "signature";
	if (am == NULL || !verify(am->pub.pk, "query", &sq->query,
	    &sq->signature)) {
		r = cairn_err(CAIRN_ERR_SIGNATURE, "the query's signature does "
		    "not verify with analyst %s's key", caller);
		goto fail;
	}
	*field = "query.federation";
	if (strcmp(q->federation, c->fed->name) != 0) {
		r = cairn_err(CAIRN_ERR_POLICY, "query for federation '%s', "
		    "this is '%s'", q->federation, c->fed->name);
		goto fail;
	}
	*field = "query.query_id";
	if (!query_id_ok(q->query_id)) {
		r = cairn_err(CAIRN_ERR_FORMAT, "query id must be 1 to %d "
		    "characters of [A-Za-z0-9._:-]", COORD_QUERY_ID_MAX);
		goto fail;
	}
	*field = "query.nonce";
	if (q->nonce.len != 16) {
		r = cairn_err(CAIRN_ERR_FORMAT, "nonce of %zu bytes (want 16)",
		    q->nonce.len);
		goto fail;
	}
	*field = "query.spec";
	if (q->spec == NULL) {
		r = cairn_err(CAIRN_ERR_FORMAT, "query without a spec");
		goto fail;
	}
	if ((r = qspec_from_proto(q->spec, "query.spec", &a->spec))
	    != CAIRN_OK)
		goto fail;
	*field = "query.spec.geography";
	if ((geo = coord_config_geo(c->cfg, q->spec->geography)) == NULL) {
		r = cairn_err(CAIRN_ERR_ARG, "unknown geography '%s'",
		    q->spec->geography);
		goto fail;
	}
	/* Every kind's domain is public (population_by_category's
	 * categories are the spec's), so the length is known here. */
	a->expect_cells = qspec_domain_cells(&a->spec, geo->nregions, 0) + 1;
	if (a->expect_cells > PROTO_MAX_CELLS ||
	    a->expect_cells > COORD_ROUND_MAX_CELLS) {
		r = cairn_err(CAIRN_ERR_TOOBIG, "the query's domain has %llu "
		    "cells, more than %llu",
		    (unsigned long long)a->expect_cells - 1,
		    (unsigned long long)PROTO_MAX_CELLS);
		goto fail;
	}
	*field = "query.participants";
	if (q->n_participants < 2 ||
	    q->n_participants > (size_t)c->cfg->max_participants) {
		r = cairn_err(CAIRN_ERR_POLICY, "%zu participants (the "
		    "federation allows 2 to %lld)", q->n_participants,
		    (long long)c->cfg->max_participants);
		goto fail;
	}
	if ((a->p = calloc(q->n_participants, sizeof(*a->p))) == NULL) {
		r = CAIRN_ERR_NOMEM;
		goto fail;
	}
	a->n = q->n_participants;
	for (size_t i = 0; i < a->n; i++) {
		m = keys_federation_find(c->fed, KEYS_ROLE_NODE,
		    q->participants[i]);
		if (m == NULL) {
			r = cairn_err(CAIRN_ERR_POLICY, "participant '%s' is "
			    "not an enrolled node", q->participants[i]);
			goto fail;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(a->p[j].name, m->pub.name) == 0) {
				r = cairn_err(CAIRN_ERR_ARG, "participant '%s' "
				    "listed twice", m->pub.name);
				goto fail;
			}
		snprintf(a->p[i].name, sizeof(a->p[i].name), "%s",
		    m->pub.name);
		memcpy(a->p[i].id, m->pub.pk, 32);
	}
	*field = "query.max_colluding";
	if (q->max_colluding >= a->n) {
		r = cairn_err(CAIRN_ERR_ARG, "max_colluding %u must be below "
		    "the %zu participants", q->max_colluding, a->n);
		goto fail;
	}
	*field = "query.rho_nano";
	if (q->rho_nano == 0) {
		r = cairn_err(CAIRN_ERR_ARG, "rho_nano is 0: a query must "
		    "ask for rho > 0 (in nano-rho, 1 rho = 10^9)");
		goto fail;
	}
	if (q->rho_nano > c->cfg->max_rho_per_query_nano) {
		char a1[RHO_TEXT_MAX], a2[RHO_TEXT_MAX];

		r = cairn_err(CAIRN_ERR_POLICY, "rho %s (%llu nano-rho) is "
		    "over the federation's limit of %s per query",
		    rho_format(q->rho_nano, a1),
		    (unsigned long long)q->rho_nano,
		    rho_format(c->cfg->max_rho_per_query_nano, a2));
		goto fail;
	}
	/* What every node's charge must say (docs/privacy.md). */
	{
		struct dp_query dq;

		if ((r = qspec_dp_query(&a->spec, q->holders_per_person != 0 ?
		    q->holders_per_person : 1, &dq)) != CAIRN_OK ||
		    (r = dp_requirement(&dq, q->rho_nano, (uint32_t)a->n,
		    q->max_colluding, a->expect_cells - 1, &a->need)) !=
		    CAIRN_OK)
			goto fail;
	}
	*field = NULL;
	/* Keep a copy of the signed query for the tasks. */
	if ((r = proto_pack(&sq->base, PROTO_MAX_SMALL, &buf, &len))
	    != CAIRN_OK)
		goto fail;
	r = proto_unpack(&cairn__v1__signed_query__descriptor, buf, len,
	    PROTO_MAX_SMALL, &msg);
	free(buf);
	if (r != CAIRN_OK)
		goto fail;
	a->sq = (Cairn__V1__SignedQuery *)msg;
	crypto_hash_sha256(a->qhash, sq->query.data, sq->query.len);
	snprintf(a->query_id, sizeof(a->query_id), "%s", q->query_id);
	snprintf(a->analyst, sizeof(a->analyst), "%s", caller);
	*out = a;
	return CAIRN_OK;
fail:
	attempt_free(a);
	return r;
}

int
coord_check_query(const struct coord_config *cfg,
    const struct keys_federation *fed, const char *caller,
    const Cairn__V1__SignedQuery *sq, const char **field)
{
	struct attempt *a = NULL;
	struct coord c;
	int r;

	memset(&c, 0, sizeof(c));
	c.cfg = cfg;
	c.fed = (struct keys_federation *)(uintptr_t)fed;
	if ((r = attempt_build(&c, caller, sq, &a, field)) == CAIRN_OK)
		attempt_free(a);
	return r;
}

/* Start attempt 'a' now and hand it to waiting nodes. */
static void	dispatch(struct coord *c);

static void
attempt_start(struct coord *c, struct attempt *a)
{
	struct attempt **pp;

	a->adv_deadline = now_s() + c->cfg->advertise_seconds;
	a->share_deadline = a->adv_deadline + c->cfg->share_seconds;
	for (pp = &c->open; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = a;
	log_info("query %s attempt %u open for %zu participants", a->query_id,
	    a->attempt, a->n);
	dispatch(c);
}

/* ----------------------------------------------------------- analyst */

static int
do_submit(struct coord *c, struct transport_call *call,
    const Cairn__V1__SignedQuery *sq, const char **field)
{
	Cairn__V1__SubmitQueryResponse resp =
	    CAIRN__V1__SUBMIT_QUERY_RESPONSE__INIT;
	struct coord_query_row row;
	struct attempt *a = NULL;
	struct tlog_entry e;
	uint8_t *body = NULL;
	size_t blen;
	int r;

	/* The start of the round as the coordinator sees it (benchmarks). */
	log_debug("SubmitQuery from %s", transport_call_peer(call));
	if ((r = attempt_build(c, transport_call_peer(call), sq, &a, field))
	    != CAIRN_OK)
		return r;
	*field = "query.query_id";
	r = coord_store_query_get(c->db, a->query_id, &row);
	if (r == CAIRN_OK) {
		/* The same signed bytes after a failure: a retry. */
		bool same = memcmp(row.hash, a->qhash, 32) == 0 &&
		    strcmp(row.analyst, a->analyst) == 0;

		coord_store_row_clear(&row);
		if (!same) {
			r = cairn_err(CAIRN_ERR_EXISTS, "query id '%s' is "
			    "taken", a->query_id);
			goto out;
		}
		if (row.state != COORD_Q_FAILED &&
		    row.state != COORD_Q_REFUSED) {
			r = cairn_err(CAIRN_ERR_EXISTS, "query '%s' was "
			    "submitted already (a replay)", a->query_id);
			goto out;
		}
		if (row.attempt + 1 >= (uint32_t)c->cfg->max_attempts) {
			r = cairn_err(CAIRN_ERR_EXISTS, "query '%s' failed "
			    "%u times, the federation's limit of attempts",
			    a->query_id, row.attempt + 1);
			goto out;
		}
		a->attempt = row.attempt + 1;
		a->query_index = row.log_index;
		if ((r = coord_store_query_set(c->db, a->query_id,
		    COORD_Q_PENDING, a->attempt, "")) != CAIRN_OK)
			goto out;
	} else if (r == CAIRN_ERR_NOTFOUND) {
		if ((r = proto_pack(&sq->base, PROTO_MAX_SMALL, &body, &blen))
		    != CAIRN_OK)
			goto out;
		memset(&e, 0, sizeof(e));
		e.type = TLOG_ENTRY_QUERY;
		e.time = (uint64_t)now_s();
		e.body.p = body;
		e.body.len = blen;
		if ((r = coord_log_append(&c->log, &e, &a->query_index))
		    != CAIRN_OK)
			goto out;
		fault_point("coord.after_query_logged");
		memset(&row, 0, sizeof(row));
		snprintf(row.query_id, sizeof(row.query_id), "%s",
		    a->query_id);
		snprintf(row.analyst, sizeof(row.analyst), "%s", a->analyst);
		memcpy(row.hash, a->qhash, 32);
		row.signed_query = body;
		row.signed_len = blen;
		row.log_index = a->query_index;
		row.created = now_s();
		if ((r = coord_store_query_add(c->db, &row)) != CAIRN_OK)
			goto out;
	} else
		goto out;
	*field = NULL;
	resp.query_id = a->query_id;
	resp.log_index = a->query_index;
	r = transport_call_reply(call, &resp.base);
	attempt_start(c, a);
	a = NULL;
	if (r != CAIRN_OK)
		r = HELD;	/* the call is finished either way */
out:
	free(body);
	attempt_free(a);
	return r;
}

/* Collects signed messages of one kind into a QueryStatus. */
struct collect {
	Cairn__V1__QueryStatus	*st;
	char			 kind;
};

static int
collect_one(void *arg, const char *node, const uint8_t *body, size_t blen,
    const uint8_t *sig, size_t slen)
{
	struct collect *cl = arg;
	Cairn__V1__QueryStatus *st = cl->st;
	uint8_t *b, *s;
	void **arr;
	size_t *n;

	(void)node;
	if ((b = malloc(blen + 1)) == NULL || (s = malloc(slen + 1)) == NULL) {
		free(b);
		return CAIRN_ERR_NOMEM;
	}
	memcpy(b, body, blen);
	memcpy(s, sig, slen);
	if (cl->kind == 'c') {
		Cairn__V1__SignedCharge *m = malloc(sizeof(*m)), **na;

		na = realloc(st->charges, (st->n_charges + 1) * sizeof(*na));
		if (m == NULL || na == NULL) {
			free(m);
			free(b);
			free(s);
			if (na != NULL)
				st->charges = na;
			return CAIRN_ERR_NOMEM;
		}
		cairn__v1__signed_charge__init(m);
		m->charge.data = b;
		m->charge.len = blen;
		m->signature.data = s;
		m->signature.len = slen;
		st->charges = na;
		st->charges[st->n_charges++] = m;
		return CAIRN_OK;
	}
	arr = (void **)st->refusals;
	n = &st->n_refusals;
	{
		Cairn__V1__SignedRefusal *m = malloc(sizeof(*m)), **na;

		na = realloc(arr, (*n + 1) * sizeof(*na));
		if (m == NULL || na == NULL) {
			free(m);
			free(b);
			free(s);
			if (na != NULL)
				st->refusals = na;
			return CAIRN_ERR_NOMEM;
		}
		cairn__v1__signed_refusal__init(m);
		m->refusal.data = b;
		m->refusal.len = blen;
		m->signature.data = s;
		m->signature.len = slen;
		st->refusals = na;
		st->refusals[(*n)++] = m;
	}
	return CAIRN_OK;
}

static void
status_clear(Cairn__V1__QueryStatus *st)
{
	for (size_t i = 0; i < st->n_charges; i++) {
		free(st->charges[i]->charge.data);
		free(st->charges[i]->signature.data);
		free(st->charges[i]);
	}
	free(st->charges);
	for (size_t i = 0; i < st->n_refusals; i++) {
		free(st->refusals[i]->refusal.data);
		free(st->refusals[i]->signature.data);
		free(st->refusals[i]);
	}
	free(st->refusals);
	st->charges = NULL;
	st->refusals = NULL;
	st->n_charges = st->n_refusals = 0;
}

/* Fill 'st' (and 'mid') from 'row'; 'st' borrows strings from 'row'. */
static int
status_fill(struct coord *c, struct coord_query_row *row,
    Cairn__V1__QueryStatus *st, Cairn__V1__MemberId *mid)
{
	struct collect cl = { st, 'c' };
	struct attempt *a;
	int r;

	cairn__v1__query_status__init(st);
	cairn__v1__member_id__init(mid);
	mid->role = CAIRN__V1__ROLE__ROLE_ANALYST;
	mid->name = row->analyst;
	st->query_id = row->query_id;
	st->state = (Cairn__V1__QueryState)row->state;
	/* Pending until a node has the task, running from then on. */
	if (row->state == COORD_Q_PENDING &&
	    (a = attempt_find(c, row->query_id)) != NULL) {
		for (size_t i = 0; i < a->n; i++)
			if (a->p[i].delivered != 0)
				st->state =
				    CAIRN__V1__QUERY_STATE__QUERY_STATE_RUNNING;
	}
	st->analyst = mid;
	st->attempt = row->attempt;
	st->failure = row->failure;
	st->log_index = row->log_index;
	if ((r = coord_store_signed_each(c->db, row->query_id, row->attempt,
	    'c', collect_one, &cl)) != CAIRN_OK)
		return r;
	cl.kind = 'r';
	return coord_store_signed_each(c->db, row->query_id, row->attempt, 'r',
	    collect_one, &cl);
}

static int	park(struct coord *c, struct transport_call *call,
		    enum proto_method m, uint32_t wait_ms,
		    struct waiter **out);

/*
 * Answer a GetQuery for 'query_id' with its status, unless 'wait' and
 * the status still shows (seen_state, seen_attempt): then return
 * CAIRN_OK without answering.  HELD once answered.
 */
static int
query_reply(struct coord *c, struct transport_call *call, const char *query_id,
    bool wait, int seen_state, uint32_t seen_attempt)
{
	Cairn__V1__QueryStatus st;
	Cairn__V1__MemberId mid;
	struct coord_query_row row;
	int r;

	if ((r = coord_store_query_get(c->db, query_id, &row)) != CAIRN_OK)
		return r;
	if (strcmp(row.analyst, transport_call_peer(call)) != 0) {
		coord_store_row_clear(&row);
		return cairn_err(CAIRN_ERR_NOTFOUND, "no query '%s' of "
		    "analyst %s", query_id, transport_call_peer(call));
	}
	if ((r = status_fill(c, &row, &st, &mid)) == CAIRN_OK) {
		if (wait && (int)st.state == seen_state &&
		    st.attempt == seen_attempt)
			r = CAIRN_OK;
		else {
			(void)transport_call_reply(call, &st.base);
			r = HELD;
		}
	}
	status_clear(&st);
	coord_store_row_clear(&row);
	return r;
}

/*
 * The GetQuery long polls (of 'query_id', or all when NULL) whose query
 * changed state, or every one when 'all_due' and their time is up, are
 * answered with the status as it is.
 */
static void
query_wake(struct coord *c, const char *query_id, bool all_due)
{
	struct waiter *w, *next;
	int64_t ms = now_ms();
	int r;

	for (w = c->waiters; w != NULL; w = next) {
		next = w->next;
		if (w->m != PROTO_GET_QUERY || (query_id != NULL &&
		    strcmp(w->query_id, query_id) != 0))
			continue;
		r = query_reply(c, w->call, w->query_id,
		    !(all_due && ms >= w->until_ms), (int)w->last_seen,
		    w->attempt);
		if (r == CAIRN_OK)
			continue;
		if (r != HELD)
			(void)transport_call_fail(w->call, r, NULL,
			    cairn_errmsg());
		waiter_remove(c, w);
	}
}

static int
do_get_query(struct coord *c, struct transport_call *call,
    const Cairn__V1__GetQueryRequest *req, const char **field)
{
	struct waiter *w;
	bool wait;
	int r;

	*field = "query_id";
	wait = req->wait_ms > 0 && !c->stopping &&
	    req->seen_state != CAIRN__V1__QUERY_STATE__QUERY_STATE_UNSPECIFIED;
	r = query_reply(c, call, req->query_id, wait, (int)req->seen_state,
	    req->seen_attempt);
	if (r != CAIRN_OK)
		return r;
	/* Unchanged: hold the call until it changes or wait_ms passes. */
	if ((r = park(c, call, PROTO_GET_QUERY, req->wait_ms, &w)) !=
	    CAIRN_OK)
		return r;
	snprintf(w->query_id, sizeof(w->query_id), "%s", req->query_id);
	w->last_seen = (uint64_t)req->seen_state;
	w->attempt = req->seen_attempt;
	return HELD;
}

static int
do_list(struct coord *c, struct transport_call *call,
    const Cairn__V1__ListQueriesRequest *req, const char **field)
{
	Cairn__V1__ListQueriesResponse resp =
	    CAIRN__V1__LIST_QUERIES_RESPONSE__INIT;
	struct coord_query_row *rows = NULL;
	Cairn__V1__QueryStatus *st = NULL, **sp = NULL;
	Cairn__V1__MemberId *mid = NULL;
	size_t cap = req->page_size ? req->page_size : 100, n = 0;
	int64_t after = 0;
	char token[32];
	int r;

	*field = "page_size";
	if (cap > 1000)
		return cairn_err(CAIRN_ERR_ARG, "page size %u over 1000",
		    req->page_size);
	*field = "page_token";
	if (req->page_token[0] != '\0' &&
	    (!config_parse_int(req->page_token, &after) || after < 0))
		return cairn_err(CAIRN_ERR_ARG, "bad page token");
	*field = NULL;
	if ((rows = calloc(cap, sizeof(*rows))) == NULL ||
	    (st = calloc(cap, sizeof(*st))) == NULL ||
	    (sp = calloc(cap, sizeof(*sp))) == NULL ||
	    (mid = calloc(cap, sizeof(*mid))) == NULL) {
		r = CAIRN_ERR_NOMEM;
		goto out;
	}
	if ((r = coord_store_query_list(c->db, transport_call_peer(call),
	    after, rows, cap, &n)) != CAIRN_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if ((r = status_fill(c, &rows[i], &st[i], &mid[i])) != CAIRN_OK)
			goto out;
		sp[i] = &st[i];
	}
	resp.n_queries = n;
	resp.queries = sp;
	token[0] = '\0';
	if (n == cap)
		snprintf(token, sizeof(token), "%lld",
		    (long long)rows[n - 1].seq);
	resp.next_page_token = token;
	(void)transport_call_reply(call, &resp.base);
	r = HELD;
out:
	for (size_t i = 0; st != NULL && i < n; i++)
		status_clear(&st[i]);
	for (size_t i = 0; rows != NULL && i < n; i++)
		coord_store_row_clear(&rows[i]);
	free(rows);
	free(st);
	free(sp);
	free(mid);
	return r;
}

struct result_job {
	struct transport_call	*call;
	uint8_t			*rel;
	size_t			 rlen;
	int64_t			*vals;
	size_t			 n;
};

/* Stream a result on its own thread, so a large one can wait for the
 * transport's queue. */
static void *
result_thread(void *arg)
{
	struct result_job *j = arg;
	Cairn__V1__ResultChunk ch = CAIRN__V1__RESULT_CHUNK__INIT;
	ProtobufCMessage *msg = NULL;
	int r;

	if ((r = proto_unpack(&cairn__v1__release__descriptor, j->rel, j->rlen,
	    PROTO_MAX_SMALL, &msg)) != CAIRN_OK)
		goto out;
	ch.release = (Cairn__V1__Release *)msg;
	if ((r = transport_call_send(j->call, &ch.base)) != CAIRN_OK)
		goto out;
	ch.release = NULL;
	for (size_t off = 0; off < j->n; off += PROTO_CHUNK_CELLS) {
		ch.offset = off;
		ch.n_values = j->n - off < PROTO_CHUNK_CELLS ? j->n - off :
		    PROTO_CHUNK_CELLS;
		ch.values = j->vals + off;
		if ((r = transport_call_send(j->call, &ch.base)) != CAIRN_OK)
			goto out;
	}
out:
	(void)transport_call_finish(j->call, r, r == CAIRN_OK ? NULL :
	    cairn_errdesc(r));
	if (msg != NULL)
		protobuf_c_message_free_unpacked(msg, NULL);
	free(j->rel);
	free(j->vals);
	free(j);
	return NULL;
}

static int
do_result(struct coord *c, struct transport_call *call,
    const Cairn__V1__GetResultRequest *req, const char **field)
{
	struct coord_query_row row;
	struct result_job *j;
	pthread_attr_t at;
	pthread_t t;
	int r;

	*field = "query_id";
	if ((r = coord_store_query_get(c->db, req->query_id, &row))
	    != CAIRN_OK)
		return r;
	coord_store_row_clear(&row);
	if (strcmp(row.analyst, transport_call_peer(call)) != 0)
		return cairn_err(CAIRN_ERR_NOTFOUND, "no query '%s' of "
		    "analyst %s", req->query_id, transport_call_peer(call));
	if (row.state != COORD_Q_RELEASED)
		return cairn_err(CAIRN_ERR_STATE, "query '%s' is not released"
		    "%s%s", req->query_id, row.failure[0] ? ": " : "",
		    row.failure);
	*field = NULL;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return CAIRN_ERR_NOMEM;
	if ((r = coord_store_result_get(c->db, req->query_id, &j->rel,
	    &j->rlen, &j->vals, &j->n)) != CAIRN_OK) {
		free(j);
		return r;
	}
	j->call = call;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &at, result_thread, j) != 0) {
		pthread_attr_destroy(&at);
		free(j->rel);
		free(j->vals);
		free(j);
		return cairn_err(CAIRN_ERR_INTERNAL, "cannot start a thread");
	}
	pthread_attr_destroy(&at);
	return HELD;
}

/* -------------------------------------------------------------- nodes */

static int
task_reply(struct coord *c, struct transport_call *call, struct attempt *a,
    uint64_t last_seen)
{
	Cairn__V1__PollTaskResponse resp = CAIRN__V1__POLL_TASK_RESPONSE__INIT;
	Cairn__V1__Task t = CAIRN__V1__TASK__INIT;
	Cairn__V1__Checkpoint cp = CAIRN__V1__CHECKPOINT__INIT;
	Cairn__V1__ConsistencyProof cons = CAIRN__V1__CONSISTENCY_PROOF__INIT;
	Cairn__V1__InclusionProof inc = CAIRN__V1__INCLUSION_PROOF__INIT;
	uint8_t cproof[TLOG_MAX_PROOF][TLOG_HASH_LEN];
	uint8_t iproof[TLOG_MAX_PROOF][TLOG_HASH_LEN];
	ProtobufCBinaryData ch[TLOG_MAX_PROOF], ih[TLOG_MAX_PROOF];
	struct tlog_checkpoint tcp;
	const struct coord_geo *geo;
	char *note = NULL;
	size_t len, nc = 0, ni = 0;
	int r;

	if ((r = tlog_store_checkpoint_latest(c->log.tlog, &note, &len, &tcp))
	    != CAIRN_OK)
		return r;
	if (last_seen > tcp.size) {
		r = cairn_err(CAIRN_ERR_RANGE, "last seen size %llu is beyond "
		    "the log's %llu", (unsigned long long)last_seen,
		    (unsigned long long)tcp.size);
		goto out;
	}
	if ((r = tlog_store_consistency_proof(c->log.tlog, last_seen, tcp.size,
	    cproof, TLOG_MAX_PROOF, &nc)) != CAIRN_OK ||
	    (r = tlog_store_inclusion_proof(c->log.tlog, a->query_index,
	    tcp.size, iproof, TLOG_MAX_PROOF, &ni)) != CAIRN_OK)
		goto out;
	for (size_t i = 0; i < nc; i++) {
		ch[i].data = cproof[i];
		ch[i].len = TLOG_HASH_LEN;
	}
	for (size_t i = 0; i < ni; i++) {
		ih[i].data = iproof[i];
		ih[i].len = TLOG_HASH_LEN;
	}
	cp.note = note;
	cons.old_size = last_seen;
	cons.new_size = tcp.size;
	cons.n_hashes = nc;
	cons.hashes = ch;
	inc.index = a->query_index;
	inc.tree_size = tcp.size;
	inc.n_hashes = ni;
	inc.hashes = ih;
	t.query_id = a->query_id;
	t.attempt = a->attempt;
	t.query = a->sq;
	t.checkpoint = &cp;
	t.consistency = &cons;
	t.query_inclusion = &inc;
	t.deadline_unix = a->share_deadline;
	if (a->q->spec != NULL && (geo = coord_config_geo(c->cfg,
	    a->q->spec->geography)) != NULL) {
		/* The pin of the query's geography: nodes check their copy. */
		t.geography_sha256.data = (uint8_t *)geo->sha256;
		t.geography_sha256.len = sizeof(geo->sha256);
	}
	resp.task = &t;
	(void)transport_call_reply(call, &resp.base);
	fault_point("coord.after_dispatch");
	r = HELD;
out:
	free(note);
	return r;
}

/* The attempt to hand node 'name' now, or NULL. */
static struct attempt *
task_for(struct coord *c, const char *name, struct part **pp)
{
	int64_t now = now_s();

	for (struct attempt *a = c->open; a != NULL; a = a->next) {
		struct part *p = part_find(a, name);

		if (p == NULL || p->adv != NULL || !advertising(a))
			continue;
		if (p->delivered != 0 &&
		    now - p->delivered < c->cfg->redeliver_seconds)
			continue;
		*pp = p;
		return a;
	}
	return NULL;
}

/* Hand tasks to the nodes waiting in PollTask. */
static void
dispatch(struct coord *c)
{
	struct waiter *w, *next;
	struct attempt *a;
	struct part *p;
	int r;

	for (w = c->waiters; w != NULL; w = next) {
		next = w->next;
		if (w->m != PROTO_POLL_TASK ||
		    (a = task_for(c, w->node, &p)) == NULL)
			continue;
		if ((r = task_reply(c, w->call, a, w->last_seen)) != HELD)
			(void)transport_call_fail(w->call, r, "last_seen_size",
			    cairn_errdesc(r));
		else
			p->delivered = now_s();
		waiter_remove(c, w);
	}
}

/*
 * Hold 'call' of the caller as a waiter of method 'm' for up to 'wait_ms'.
 * A member needs one or two long polls at a time; more is a caller
 * hoarding calls.  Each caller (by role and name, so that one analyst's
 * polls never count against another's) may hold max_long_polls_per_member
 * of them, and all callers together max_long_polls; past either limit the
 * call is refused with RESOURCE_EXHAUSTED naming the limit.
 */
static int
park(struct coord *c, struct transport_call *call, enum proto_method m,
    uint32_t wait_ms, struct waiter **out)
{
	const char *name = transport_call_peer(call);
	enum keys_role role = transport_call_role(call);
	int64_t per = c->cfg->max_long_polls_per_member > 0 ?
	    c->cfg->max_long_polls_per_member : COORD_LONG_POLLS_PER_MEMBER;
	int64_t all = c->cfg->max_long_polls > 0 ? c->cfg->max_long_polls :
	    COORD_LONG_POLLS;
	struct waiter *w;
	int64_t rem = transport_call_remaining_ms(call) - 200;
	int64_t held = 0;

	if ((int64_t)c->nwaiters >= all)
		return cairn_err(CAIRN_ERR_TOOBIG, "the coordinator holds "
		    "%lld long polls already (the limit for all members, "
		    "[limits] max_long_polls)", (long long)all);
	for (w = c->waiters; w != NULL; w = w->next)
		if (w->role == role && strcmp(w->node, name) == 0 &&
		    ++held >= per)
			return cairn_err(CAIRN_ERR_TOOBIG, "%s %s holds %lld "
			    "long polls already (the limit per member, "
			    "[limits] max_long_polls_per_member)",
			    keys_role_name(role), name, (long long)per);
	if (wait_ms > MAX_WAIT_MS)
		wait_ms = MAX_WAIT_MS;
	if (rem < (int64_t)wait_ms)
		wait_ms = rem > 0 ? (uint32_t)rem : 0;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return CAIRN_ERR_NOMEM;
	w->call = call;
	w->m = m;
	w->role = role;
	snprintf(w->node, sizeof(w->node), "%s", name);
	w->until_ms = now_ms() + wait_ms;
	w->next = c->waiters;
	c->waiters = w;
	c->nwaiters++;
	*out = w;
	return CAIRN_OK;
}

static int
do_poll(struct coord *c, struct transport_call *call,
    const Cairn__V1__PollTaskRequest *req, const char **field)
{
	Cairn__V1__PollTaskResponse resp = CAIRN__V1__POLL_TASK_RESPONSE__INIT;
	const char *name = transport_call_peer(call);
	struct waiter *w;
	struct attempt *a;
	struct part *p;
	int r;

	*field = "last_seen_size";
	if (req->last_seen_size > tlog_store_size(c->log.tlog))
		return cairn_err(CAIRN_ERR_RANGE, "last seen size %llu is "
		    "beyond the log's %llu",
		    (unsigned long long)req->last_seen_size,
		    (unsigned long long)tlog_store_size(c->log.tlog));
	if ((a = task_for(c, name, &p)) != NULL) {
		if ((r = task_reply(c, call, a, req->last_seen_size)) == HELD)
			p->delivered = now_s();
		return r;
	}
	if (req->wait_ms == 0 || c->stopping) {
		(void)transport_call_reply(call, &resp.base);
		return HELD;
	}
	if ((r = park(c, call, PROTO_POLL_TASK, req->wait_ms, &w)) !=
	    CAIRN_OK)
		return r;
	w->last_seen = req->last_seen_size;
	return HELD;
}

static int
do_refuse(struct coord *c, struct transport_call *call,
    const Cairn__V1__SignedRefusal *sr, const struct keys_member *m,
    const char **field)
{
	Cairn__V1__Ack ack = CAIRN__V1__ACK__INIT;
	Cairn__V1__Refusal *rf = NULL;
	ProtobufCMessage *msg = NULL;
	char reason[TLOG_ENTRY_MAX_REASON], detail[64];
	struct tlog_entry e;
	struct attempt *a;
	uint64_t index;
	int r;

	*field = "signature";
	if (!verify(m->pub.pk, "refusal", &sr->refusal, &sr->signature))
		return cairn_err(CAIRN_ERR_SIGNATURE, "the refusal's signature "
		    "does not verify with node %s's key", m->pub.name);
	*field = "refusal";
	if ((r = proto_unpack(&cairn__v1__refusal__descriptor,
	    sr->refusal.data, sr->refusal.len, PROTO_MAX_SMALL, &msg))
	    != CAIRN_OK)
		return r;
	rf = (Cairn__V1__Refusal *)msg;
	if (strcmp(rf->node, m->pub.name) != 0) {
		r = cairn_err(CAIRN_ERR_UNAUTH, "refusal.node '%s' is not the "
		    "caller", rf->node);
		goto out;
	}
	*field = "refusal.query_id";
	if ((r = open_attempt(c, rf->query_id, &a)) != CAIRN_OK)
		goto out;
	*field = "refusal.query_hash";
	if (rf->query_hash.len != 32 ||
	    memcmp(rf->query_hash.data, a->qhash, 32) != 0) {
		r = cairn_err(CAIRN_ERR_ARG, "refusal for another query hash");
		goto out;
	}
	*field = "refusal.node";
	if (part_find(a, m->pub.name) == NULL) {
		r = cairn_err(CAIRN_ERR_STATE, "node %s is not a participant "
		    "of query '%s'", m->pub.name, a->query_id);
		goto out;
	}
	*field = NULL;
	snprintf(reason, sizeof(reason), "%s: %s", rf->reason_code,
	    rf->reason);
	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_REFUSAL;
	e.time = (uint64_t)now_s();
	e.node_id.p = (const uint8_t *)m->pub.name;
	e.node_id.len = strlen(m->pub.name);
	memcpy(e.query_hash, a->qhash, 32);
	e.reason.p = (const uint8_t *)reason;
	e.reason.len = strlen(reason);
	e.body.p = sr->refusal.data;
	e.body.len = sr->refusal.len;
	e.signature.p = sr->signature.data;
	e.signature.len = sr->signature.len;
	if ((r = coord_log_append(&c->log, &e, &index)) != CAIRN_OK)
		goto out;
	fault_point("coord.after_refusal_logged");
	if ((r = coord_store_signed_add(c->db, a->query_id, a->attempt,
	    m->pub.name, 'r', sr->refusal.data, sr->refusal.len,
	    sr->signature.data, sr->signature.len, index)) != CAIRN_OK &&
	    r != CAIRN_ERR_EXISTS)
		goto out;
	{
		char why[TLOG_ENTRY_MAX_REASON - 32];

		snprintf(why, sizeof(why), "node %s refused (%.*s)",
		    m->pub.name, (int)sizeof(why) - 128, reason);
		attempt_fail(c, a, COORD_Q_REFUSED, why);
	}
	snprintf(detail, sizeof(detail), "REFUSAL logged at index %llu",
	    (unsigned long long)index);
	ack.detail = detail;
	(void)transport_call_reply(call, &ack.base);
	r = HELD;
out:
	protobuf_c_message_free_unpacked(msg, NULL);
	return r;
}

/* "YYYY-MM" as year·12 + month − 1 (qspec_months' form), or -1. */
static int32_t
month_parse(const char *s)
{
	int y, mo;
	char tail;

	if (strlen(s) != 7 || s[4] != '-' ||
	    sscanf(s, "%4d-%2d%c", &y, &mo, &tail) != 2 || y < 1970 ||
	    y > 9999 || mo < 1 || mo > 12)
		return -1;
	return (int32_t)(y * 12 + mo - 1);
}

/* Check the charge inside an advertisement of node 'm' for 'a'. */
static int
charge_check(struct coord *c, struct attempt *a, const struct keys_member *m,
    const Cairn__V1__SignedCharge *sc, Cairn__V1__Charge **out,
    const char **field)
{
	int32_t months[QSPEC_MAX_MONTHS];
	ProtobufCMessage *msg = NULL;
	Cairn__V1__Charge *ch;
	size_t nm;
	int r;

	(void)c;
	*field = "advertisement.charge.signature";
	if (!verify(m->pub.pk, "charge", &sc->charge, &sc->signature))
		return cairn_err(CAIRN_ERR_SIGNATURE, "the charge's signature "
		    "does not verify with node %s's key", m->pub.name);
	*field = "advertisement.charge";
	if ((r = proto_unpack(&cairn__v1__charge__descriptor, sc->charge.data,
	    sc->charge.len, PROTO_MAX_SMALL, &msg)) != CAIRN_OK)
		return r;
	ch = (Cairn__V1__Charge *)msg;
	if (strcmp(ch->query_id, a->query_id) != 0 ||
	    ch->query_hash.len != 32 ||
	    memcmp(ch->query_hash.data, a->qhash, 32) != 0 ||
	    strcmp(ch->node, m->pub.name) != 0 || ch->attempt != a->attempt) {
		r = cairn_err(CAIRN_ERR_ARG, "the charge is not for this "
		    "query, node and attempt");
		goto fail;
	}
	nm = qspec_months(&a->spec, months);
	*field = "advertisement.charge.months";
	if (ch->n_months != nm) {
		r = cairn_err(CAIRN_ERR_ARG, "the charge names %zu months, the "
		    "query reads %zu", ch->n_months, nm);
		goto fail;
	}
	for (size_t i = 0; i < nm; i++) {
		const Cairn__V1__MonthCharge *mc = ch->months[i];

		/* dp_requirement lists the months qspec_months does. */
		if (month_parse(mc->month) != months[i] ||
		    a->need.nmonths != nm || a->need.month[i] != months[i]) {
			r = cairn_err(CAIRN_ERR_ARG, "month %zu ('%s') of the "
			    "charge is not the query's month %zu", i,
			    mc->month, i);
			goto fail;
		}
	}
	*field = "advertisement.charge.budget_rho_per_month_nano";
	if (ch->budget_rho_per_month_nano == 0 ||
	    ch->budget_rho_per_month_nano > RHO_NANO_MAX) {
		r = cairn_err(CAIRN_ERR_ARG, "budget_rho_per_month_nano %llu "
		    "is not in [1, 10^18]",
		    (unsigned long long)ch->budget_rho_per_month_nano);
		goto fail;
	}
	*field = "advertisement.charge.cells";
	if ((a->expect_cells != 0 && ch->cells != a->expect_cells) ||
	    ch->cells < 2 || ch->cells > PROTO_MAX_CELLS ||
	    ch->cells > COORD_ROUND_MAX_CELLS ||
	    (a->ncells != 0 && ch->cells != a->ncells)) {
		r = cairn_err(CAIRN_ERR_ARG, "vector of %llu cells, the query "
		    "needs %llu", (unsigned long long)ch->cells,
		    (unsigned long long)(a->expect_cells ? a->expect_cells :
		    a->ncells));
		goto fail;
	}
	*field = "advertisement.charge.noise_variance";
	if (ch->noise_variance < a->need.sigma_h2 ||
	    ch->noise_variance > (UINT64_C(1) << 53)) {
		r = cairn_err(CAIRN_ERR_ARG, "noise variance %llu, the query "
		    "needs at least %llu", (unsigned long long)
		    ch->noise_variance, (unsigned long long)a->need.sigma_h2);
		goto fail;
	}
	*out = ch;
	return CAIRN_OK;
fail:
	protobuf_c_message_free_unpacked(msg, NULL);
	return r;
}

/* The CHARGE entry of node 'm''s checked charge 'ch' (borrowing 'sc';
 * without 'sc', the typed fields only). */
static void
charge_entry(struct tlog_entry *e, const struct keys_member *m,
    const uint8_t qhash[32], const Cairn__V1__Charge *ch,
    const Cairn__V1__SignedCharge *sc)
{
	e->type = TLOG_ENTRY_CHARGE;
	e->time = (uint64_t)now_s();
	e->node_id.p = (const uint8_t *)m->pub.name;
	e->node_id.len = strlen(m->pub.name);
	memcpy(e->query_hash, qhash, 32);
	e->ncharges = ch->n_months;
	for (size_t i = 0; i < ch->n_months; i++) {
		int32_t mo = month_parse(ch->months[i]->month);

		e->charges[i].month = (uint32_t)((mo / 12) * 100 + mo % 12 + 1);
		e->charges[i].rho_nano = ch->months[i]->rho_nano;
		e->charges[i].cumulative_nano =
		    ch->months[i]->cumulative_rho_nano;
	}
	if (sc == NULL)
		return;
	e->body.p = sc->charge.data;
	e->body.len = sc->charge.len;
	e->signature.p = sc->signature.data;
	e->signature.len = sc->signature.len;
}

/*
 * Whether the log holds a CHARGE of node 'node' for query hash 'qhash'
 * after the QUERY at 'from': '*yes', and its index in '*index'; when
 * 'months' is not NULL, the first such entry's months go there (room for
 * TLOG_ENTRY_MAX_CHARGES) and their count in '*nmonths'.  The log, not
 * coord.db, is the authority: a crash between appending a CHARGE and
 * recording it in coord.db leaves only the entry.  Returns CAIRN_OK or
 * the error reading the log.
 */
static int
charge_logged(struct coord *c, const uint8_t qhash[32], const char *node,
    uint64_t from, uint64_t *index, bool *yes, struct tlog_charge *months,
    size_t *nmonths)
{
	uint64_t size = tlog_store_size(c->log.tlog);
	struct tlog_entry *e;
	uint8_t *data;
	size_t dlen, nl = strlen(node);
	int r = CAIRN_OK;

	*yes = false;
	if ((e = malloc(sizeof(*e))) == NULL)
		return cairn_err(CAIRN_ERR_NOMEM, "log entry");
	for (uint64_t i = from + 1; i < size && !*yes; i++) {
		data = NULL;
		if ((r = tlog_store_entry(c->log.tlog, i, &data, &dlen)) !=
		    CAIRN_OK)
			break;
		if (tlog_entry_decode(data, dlen, e) == CAIRN_OK &&
		    e->type == TLOG_ENTRY_CHARGE && e->node_id.len == nl &&
		    memcmp(e->node_id.p, node, nl) == 0 &&
		    memcmp(e->query_hash, qhash, 32) == 0) {
			*index = i;
			*yes = true;
			if (months != NULL) {
				memcpy(months, e->charges, e->ncharges *
				    sizeof(*months));
				*nmonths = e->ncharges;
			}
		}
		free(data);
	}
	free(e);
	return r;
}

/*
 * The amounts of node 'm''s checked charge 'ch' for 'a' (whose QUERY is
 * at log index 'from'): ρ per month, and each month's cumulative against
 * the node's logged chain, or against its CHARGE for this query already
 * in the log when this one restates it (a retry).  coord_chain_check() is
 * the one place the rule lives.  Returns CAIRN_OK, CAIRN_ERR_BUDGET (the
 * detail names node, month, expected and given) or a log error.
 */
static int
charge_amounts(struct coord *c, struct attempt *a,
    const struct keys_member *m, const Cairn__V1__Charge *ch, uint64_t from,
    const char **field)
{
	struct tlog_charge *prev = NULL;
	struct tlog_entry *e = NULL;
	size_t nprev = 0, bad;
	uint64_t idx;
	bool yes = false;
	int r;

	*field = "advertisement.charge.months";
	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (prev = calloc(TLOG_ENTRY_MAX_CHARGES, sizeof(*prev))) == NULL) {
		r = cairn_err(CAIRN_ERR_NOMEM, "charge check");
		goto out;
	}
	/* The months as the CHARGE entry would log them. */
	charge_entry(e, m, a->qhash, ch, NULL);
	if ((r = charge_logged(c, a->qhash, m->pub.name, from, &idx, &yes,
	    prev, &nprev)) != CAIRN_OK)
		goto out;
	/* Each month pays its own rho_m (dp_requirement, a->need). */
	if (e->ncharges != a->need.nmonths) {
		r = cairn_err(CAIRN_ERR_ARG, "the charge names %zu months, the "
		    "query charges %zu", e->ncharges, a->need.nmonths);
		goto out;
	}
	r = coord_chain_check(&c->log.chain, m->pub.name, e->charges,
	    e->ncharges, a->need.rho_nano, ch->budget_rho_per_month_nano,
	    yes ? prev : NULL, nprev, &bad);
out:
	free(prev);
	free(e);
	return r;
}

/*
 * An advertisement for an attempt that has ended (another participant
 * refused first, the deadline passed, the coordinator restarted) still
 * carries a charge its node committed to its ledger, and a node re-sends
 * the charges it has not seen logged (docs/federation.md §2).  Log that
 * CHARGE unless the log holds one of this node for this query already
 * ('*already' then, with its index), so that the log holds every charge a
 * node sent and each node's cumulative spend stays one chain.
 */
static int
late_charge(struct coord *c, const Cairn__V1__Advertisement *ad,
    const struct keys_member *m, uint64_t *index, bool *already)
{
	Cairn__V1__SignedQuery *sq = NULL;
	Cairn__V1__Charge *ch = NULL;
	struct coord_query_row row;
	struct tlog_entry *e = NULL;
	struct attempt *a = NULL;
	const char *field;
	int r;

	if (ad->charge == NULL)
		return cairn_err(CAIRN_ERR_FORMAT, "no charge");
	if ((r = coord_store_query_get(c->db, ad->query_id, &row)) != CAIRN_OK)
		return r;
	if (ad->attempt > row.attempt) {
		r = cairn_err(CAIRN_ERR_STATE, "attempt %u was never opened",
		    ad->attempt);
		goto out;
	}
	*already = false;
	if ((r = proto_unpack(&cairn__v1__signed_query__descriptor,
	    row.signed_query, row.signed_len, PROTO_MAX_SMALL,
	    (ProtobufCMessage **)&sq)) != CAIRN_OK ||
	    (r = attempt_build(c, row.analyst, sq, &a, &field)) != CAIRN_OK)
		goto out;
	a->attempt = ad->attempt;
	if (part_find(a, m->pub.name) == NULL) {
		r = cairn_err(CAIRN_ERR_STATE, "not a participant");
		goto out;
	}
	if ((r = charge_check(c, a, m, ad->charge, &ch, &field)) != CAIRN_OK)
		goto out;
	if ((r = charge_logged(c, a->qhash, m->pub.name, row.log_index, index,
	    already, NULL, NULL)) != CAIRN_OK || *already)
		goto out;
	/* Not logged yet: it must continue the node's chain. */
	if ((r = charge_amounts(c, a, m, ch, row.log_index, &field)) !=
	    CAIRN_OK)
		goto out;
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		r = CAIRN_ERR_NOMEM;
		goto out;
	}
	charge_entry(e, m, a->qhash, ch, ad->charge);
	if ((r = coord_log_append(&c->log, e, index)) != CAIRN_OK)
		goto out;
	if ((r = coord_store_signed_add(c->db, a->query_id, a->attempt,
	    m->pub.name, 'c', ad->charge->charge.data, ad->charge->charge.len,
	    ad->charge->signature.data, ad->charge->signature.len, *index)) ==
	    CAIRN_ERR_EXISTS)
		r = CAIRN_OK;
	log_info("query %s attempt %u: late CHARGE of %s logged at %llu",
	    a->query_id, a->attempt, m->pub.name, (unsigned long long)*index);
out:
	free(e);
	if (ch != NULL)
		protobuf_c_message_free_unpacked(&ch->base, NULL);
	if (sq != NULL)
		protobuf_c_message_free_unpacked(&sq->base, NULL);
	attempt_free(a);
	coord_store_row_clear(&row);
	return r;
}

static int
do_advertise(struct coord *c, struct transport_call *call,
    const Cairn__V1__SignedAdvertisement *sa, const struct keys_member *m,
    const char **field)
{
	Cairn__V1__Ack ack = CAIRN__V1__ACK__INIT;
	Cairn__V1__Advertisement *ad;
	Cairn__V1__Charge *ch = NULL;
	struct tlog_entry *e = NULL;
	ProtobufCMessage *msg = NULL;
	uint8_t *packed = NULL;
	struct attempt *a;
	struct part *p;
	char detail[64];
	size_t plen;
	uint64_t index;
	bool already = false;
	int r;

	*field = "signature";
	if (!verify(m->pub.pk, "advertisement", &sa->advertisement,
	    &sa->signature))
		return cairn_err(CAIRN_ERR_SIGNATURE, "the advertisement's "
		    "signature does not verify with node %s's key",
		    m->pub.name);
	*field = "advertisement";
	if ((r = proto_unpack(&cairn__v1__advertisement__descriptor,
	    sa->advertisement.data, sa->advertisement.len, PROTO_MAX_SMALL,
	    &msg)) != CAIRN_OK)
		return r;
	ad = (Cairn__V1__Advertisement *)msg;
	*field = "advertisement.node";
	if (strcmp(ad->node, m->pub.name) != 0) {
		r = cairn_err(CAIRN_ERR_UNAUTH, "advertisement.node '%s' is "
		    "not the caller", ad->node);
		goto out;
	}
	if (ad->x25519_public.len == 0 && ad->charge != NULL) {
		/*
		 * No key: a node re-sending a charge it has not seen in the
		 * log.  Never part of a round, whatever attempt is open.
		 */
		*field = "advertisement.charge";
		if ((r = late_charge(c, ad, m, &index, &already)) != CAIRN_OK)
			goto out;
		snprintf(detail, sizeof(detail), "CHARGE %slogged at index "
		    "%llu", already ? "already " : "",
		    (unsigned long long)index);
		ack.detail = detail;
		(void)transport_call_reply(call, &ack.base);
		r = HELD;
		goto out;
	}
	*field = "advertisement.query_id";
	if ((r = open_attempt(c, ad->query_id, &a)) != CAIRN_OK ||
	    ad->attempt != a->attempt) {
		if (r == CAIRN_OK)
			r = cairn_err(CAIRN_ERR_STATE, "advertisement for "
			    "attempt %u, the open attempt is %u", ad->attempt,
			    a->attempt);
		if (r == CAIRN_ERR_STATE) {
			char why[256];

			*field = "advertisement.attempt";
			snprintf(why, sizeof(why), "%s", cairn_errmsg());
			if (late_charge(c, ad, m, &index, &already) ==
			    CAIRN_OK)
				r = cairn_err(CAIRN_ERR_STATE, "%s; the CHARGE "
				    "is logged at index %llu", why,
				    (unsigned long long)index);
			else
				r = cairn_err(CAIRN_ERR_STATE, "%s", why);
		}
		goto out;
	}
	*field = "advertisement.node";
	if ((p = part_find(a, m->pub.name)) == NULL) {
		r = cairn_err(CAIRN_ERR_STATE, "node %s is not a participant "
		    "of query '%s'", m->pub.name, a->query_id);
		goto out;
	}
	if ((r = proto_pack(&sa->base, PROTO_MAX_SMALL, &packed, &plen))
	    != CAIRN_OK)
		goto out;
	if (p->adv != NULL) {
		if (p->adv_len == plen && memcmp(p->adv, packed, plen) == 0) {
			ack.detail = "advertisement known";
			(void)transport_call_reply(call, &ack.base);
			r = HELD;
			goto out;
		}
		/* Keep the second one as evidence next to the first. */
		if (coord_store_signed_add(c->db, a->query_id, a->attempt,
		    m->pub.name, 'e', packed, plen, NULL, 0, 0) != CAIRN_OK)
			log_warn("query %s: evidence not kept: %s",
			    a->query_id, cairn_errmsg());
		attempt_fail(c, a, COORD_Q_FAILED, "equivocation: two "
		    "different advertisements from one node");
		r = cairn_err(CAIRN_ERR_EXISTS, "a different advertisement "
		    "for this attempt was received; the attempt failed");
		goto out;
	}
	if (!advertising(a)) {
		r = cairn_err(CAIRN_ERR_STATE, "the advertising phase is over");
		goto out;
	}
	*field = "advertisement.x25519_public";
	if (ad->x25519_public.len != 32 || ad->charge == NULL) {
		r = cairn_err(CAIRN_ERR_FORMAT, "advertisement without a "
		    "32-byte key and a charge");
		goto out;
	}
	if ((r = charge_check(c, a, m, ad->charge, &ch, field)) != CAIRN_OK ||
	    (r = charge_amounts(c, a, m, ch, a->query_index, field)) !=
	    CAIRN_OK)
		goto out;
	*field = NULL;
	if (a->round == NULL) {
		uint8_t (*ids)[32] = calloc(a->n, 32);

		if (ids == NULL) {
			r = CAIRN_ERR_NOMEM;
			goto out;
		}
		for (size_t i = 0; i < a->n; i++)
			memcpy(ids[i], a->p[i].id, 32);
		r = coord_round_new(a->qhash, (const uint8_t (*)[32])ids, a->n,
		    ch->cells, a->adv_deadline, a->share_deadline, &a->round);
		free(ids);
		if (r != CAIRN_OK)
			goto out;
		a->ncells = ch->cells;
	}
	if ((r = coord_round_advertise(a->round, p->id,
	    ad->x25519_public.data)) != CAIRN_OK) {
		if (coord_round_phase(a->round) == COORD_FAILED)
			attempt_fail(c, a, COORD_Q_FAILED,
			    coord_round_failure(a->round));
		goto out;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		r = CAIRN_ERR_NOMEM;
		goto out;
	}
	charge_entry(e, m, a->qhash, ch, ad->charge);
	if ((r = coord_log_append(&c->log, e, &index)) != CAIRN_OK)
		goto out;
	fault_point("coord.after_charge_logged");
	if ((r = coord_store_signed_add(c->db, a->query_id, a->attempt,
	    m->pub.name, 'c', ad->charge->charge.data, ad->charge->charge.len,
	    ad->charge->signature.data, ad->charge->signature.len, index))
	    != CAIRN_OK && r != CAIRN_ERR_EXISTS)
		goto out;
	p->adv = packed;
	p->adv_len = plen;
	packed = NULL;
	p->sigma2 = ch->noise_variance;
	if (coord_round_phase(a->round) == COORD_MASKING)
		roster_wake(c, a, CAIRN_OK, NULL);
	snprintf(detail, sizeof(detail), "CHARGE logged at index %llu",
	    (unsigned long long)index);
	ack.detail = detail;
	(void)transport_call_reply(call, &ack.base);
	r = HELD;
out:
	free(e);
	free(packed);
	if (ch != NULL)
		protobuf_c_message_free_unpacked(&ch->base, NULL);
	protobuf_c_message_free_unpacked(msg, NULL);
	return r;
}

static int
roster_reply(struct coord *c, struct transport_call *call, struct attempt *a)
{
	Cairn__V1__Roster ro = CAIRN__V1__ROSTER__INIT;
	Cairn__V1__SignedAdvertisement **v;
	size_t k = 0;
	int r = CAIRN_OK;

	(void)c;
	if ((v = calloc(a->n, sizeof(*v))) == NULL)
		return CAIRN_ERR_NOMEM;
	for (; k < a->n; k++) {
		ProtobufCMessage *m;

		if ((r = proto_unpack(
		    &cairn__v1__signed_advertisement__descriptor, a->p[k].adv,
		    a->p[k].adv_len, PROTO_MAX_SMALL, &m)) != CAIRN_OK)
			goto out;
		v[k] = (Cairn__V1__SignedAdvertisement *)m;
	}
	ro.query_id = a->query_id;
	ro.attempt = a->attempt;
	ro.n_advertisements = a->n;
	ro.advertisements = v;
	(void)transport_call_reply(call, &ro.base);
	fault_point("coord.after_roster_sent");
out:
	for (size_t i = 0; i < k; i++)
		protobuf_c_message_free_unpacked(&v[i]->base, NULL);
	free(v);
	return r;
}

static int
do_roster(struct coord *c, struct transport_call *call,
    const Cairn__V1__GetRosterRequest *req, const char **field)
{
	struct coord_query_row row;
	struct waiter *w;
	struct attempt *a;
	int r;

	*field = "query_id";
	if ((a = attempt_find(c, req->query_id)) == NULL) {
		if ((r = coord_store_query_get(c->db, req->query_id, &row))
		    != CAIRN_OK)
			return r;
		coord_store_row_clear(&row);
		return cairn_err(CAIRN_ERR_STATE, "query '%s' has no open "
		    "attempt%s%s", req->query_id, row.failure[0] ? ": " : "",
		    row.failure);
	}
	if (part_find(a, transport_call_peer(call)) == NULL)
		return cairn_err(CAIRN_ERR_STATE, "node %s is not a "
		    "participant", transport_call_peer(call));
	*field = "attempt";
	if (req->attempt != a->attempt)
		return cairn_err(CAIRN_ERR_STATE, "attempt %u is not the open "
		    "attempt %u", req->attempt, a->attempt);
	*field = NULL;
	if (!advertising(a)) {
		if ((r = roster_reply(c, call, a)) != CAIRN_OK)
			return r;
		return HELD;
	}
	if (req->wait_ms == 0 || c->stopping)
		return cairn_err(CAIRN_ERR_TIMEOUT, "not every participant "
		    "has advertised yet");
	if ((r = park(c, call, PROTO_GET_ROSTER, req->wait_ms, &w)) !=
	    CAIRN_OK)
		return r;
	snprintf(w->query_id, sizeof(w->query_id), "%s", a->query_id);
	w->attempt = a->attempt;
	return HELD;
}

/* BLAKE2b-256 of 'n' cells as little-endian uint64. */
static void
digest_cells(const uint64_t *v, size_t n, uint8_t out[32])
{
	crypto_generichash_state st;
	uint8_t buf[8 * 256];

	crypto_generichash_init(&st, NULL, 0, 32);
	for (size_t i = 0; i < n; i += 256) {
		size_t k = n - i < 256 ? n - i : 256;

		for (size_t j = 0; j < k; j++)
			for (int b = 0; b < 8; b++)
				buf[j * 8 + b] = (uint8_t)(v[i + j] >> (8 * b));
		crypto_generichash_update(&st, buf, k * 8);
	}
	crypto_generichash_final(&st, out, 32);
}

static int
do_share(struct coord *c, struct transport_call *call,
    const Cairn__V1__MaskedShareChunk *ck, const struct keys_member *m,
    const char **field)
{
	Cairn__V1__SubmitShareResponse resp =
	    CAIRN__V1__SUBMIT_SHARE_RESPONSE__INIT;
	struct secagg_member *roster = NULL;
	Cairn__V1__ShareManifest *mf;
	ProtobufCMessage *msg = NULL;
	struct share_in *sh;
	struct attempt *a;
	struct part *p;
	uint8_t sid[32], dg[32];
	uint64_t want;
	int r;

	*field = "signature";
	if (!verify(m->pub.pk, "share", &ck->manifest, &ck->signature))
		return cairn_err(CAIRN_ERR_SIGNATURE, "the share manifest's "
		    "signature does not verify with node %s's key",
		    m->pub.name);
	*field = "manifest";
	if ((r = proto_unpack(&cairn__v1__share_manifest__descriptor,
	    ck->manifest.data, ck->manifest.len, PROTO_MAX_SMALL, &msg))
	    != CAIRN_OK)
		return r;
	mf = (Cairn__V1__ShareManifest *)msg;
	if (strcmp(mf->node, m->pub.name) != 0) {
		r = cairn_err(CAIRN_ERR_UNAUTH, "manifest.node '%s' is not the "
		    "caller", mf->node);
		goto out;
	}
	*field = "manifest.query_id";
	if ((r = open_attempt(c, mf->query_id, &a)) != CAIRN_OK)
		goto out;
	if ((p = part_find(a, m->pub.name)) == NULL ||
	    mf->attempt != a->attempt || a->round == NULL ||
	    coord_round_phase(a->round) != COORD_MASKING) {
		*field = "manifest.attempt";
		r = cairn_err(CAIRN_ERR_STATE, "no share phase of attempt %u "
		    "for node %s", mf->attempt, m->pub.name);
		goto out;
	}
	sh = &p->sh;
	if (sh->done) {
		resp.received_cells = a->ncells;
		(void)transport_call_reply(call, &resp.base);
		r = HELD;
		goto out;
	}
	if ((roster = calloc(a->n, sizeof(*roster))) == NULL) {
		r = CAIRN_ERR_NOMEM;
		goto out;
	}
	if ((r = coord_round_roster(a->round, roster, a->n, sid)) != CAIRN_OK)
		goto out;
	*field = "manifest";
	if (mf->sid.len != 32 || memcmp(mf->sid.data, sid, 32) != 0 ||
	    mf->cells != a->ncells || mf->digest.len != 32 ||
	    mf->chunk_count != (a->ncells + PROTO_CHUNK_CELLS - 1) /
	    PROTO_CHUNK_CELLS) {
		r = cairn_err(CAIRN_ERR_ARG, "the manifest does not fit the "
		    "round (session id, %llu cells in %llu chunks, 32-byte "
		    "digest)", (unsigned long long)a->ncells,
		    (unsigned long long)((a->ncells + PROTO_CHUNK_CELLS - 1) /
		    PROTO_CHUNK_CELLS));
		goto out;
	}
	if (sh->manifest != NULL && (sh->mlen != ck->manifest.len ||
	    memcmp(sh->manifest, ck->manifest.data, sh->mlen) != 0)) {
		if (coord_store_signed_add(c->db, a->query_id, a->attempt,
		    m->pub.name, 'm', ck->manifest.data, ck->manifest.len,
		    ck->signature.data, ck->signature.len, 0) != CAIRN_OK)
			log_warn("query %s: evidence not kept: %s",
			    a->query_id, cairn_errmsg());
		attempt_fail(c, a, COORD_Q_FAILED, "equivocation: two share "
		    "manifests from one node");
		r = cairn_err(CAIRN_ERR_CONFLICT, "a different manifest was "
		    "received for this share; the attempt failed");
		goto out;
	}
	if (sh->manifest == NULL) {
		if ((sh->manifest = malloc(ck->manifest.len)) == NULL ||
		    (sh->cells = malloc(a->ncells * 8)) == NULL ||
		    (sh->have = calloc(mf->chunk_count, 1)) == NULL) {
			share_clear(sh);
			r = CAIRN_ERR_NOMEM;
			goto out;
		}
		memcpy(sh->manifest, ck->manifest.data, ck->manifest.len);
		sh->mlen = ck->manifest.len;
		sh->nchunks = mf->chunk_count;
	}
	*field = "chunk_index";
	want = a->ncells - (uint64_t)ck->chunk_index * PROTO_CHUNK_CELLS;
	if (ck->chunk_index >= sh->nchunks ||
	    ck->offset != (uint64_t)ck->chunk_index * PROTO_CHUNK_CELLS ||
	    ck->n_cells != (want < PROTO_CHUNK_CELLS ? want :
	    PROTO_CHUNK_CELLS)) {
		r = cairn_err(CAIRN_ERR_ARG, "chunk %u at offset %llu with %zu "
		    "cells is outside the manifest", ck->chunk_index,
		    (unsigned long long)ck->offset, ck->n_cells);
		goto out;
	}
	*field = NULL;
	if (!sh->have[ck->chunk_index]) {
		memcpy(sh->cells + ck->offset, ck->cells, ck->n_cells * 8);
		sh->have[ck->chunk_index] = 1;
		sh->got++;
		sh->received += ck->n_cells;
	}
	resp.received_cells = sh->received;
	if (sh->got == sh->nchunks) {
		digest_cells(sh->cells, a->ncells, dg);
		if (memcmp(dg, mf->digest.data, 32) != 0) {
			share_clear(sh);
			*field = "manifest.digest";
			r = cairn_err(CAIRN_ERR_ARG, "the share's digest does "
			    "not match its manifest; send it again");
			goto out;
		}
		fault_point("coord.after_share_received");
		r = coord_round_share(a->round, p->id, sh->cells, a->ncells);
		free(sh->cells);
		sh->cells = NULL;
		sh->done = true;
		if (coord_round_phase(a->round) == COORD_FAILED) {
			char why[256];

			snprintf(why, sizeof(why), "%s",
			    coord_round_failure(a->round));
			attempt_fail(c, a, COORD_Q_FAILED, why);
			if (r == CAIRN_OK)
				r = cairn_err(CAIRN_ERR_CONFLICT, "%s", why);
			goto out;
		}
		if (r != CAIRN_OK)
			goto out;
		(void)transport_call_reply(call, &resp.base);
		r = HELD;
		if (coord_round_phase(a->round) == COORD_SUMMED) {
			fault_point("coord.after_sum");
			attempt_release(c, a);
		}
		goto out;
	}
	(void)transport_call_reply(call, &resp.base);
	r = HELD;
out:
	free(roster);
	protobuf_c_message_free_unpacked(msg, NULL);
	return r;
}

static int
do_cosign(struct coord *c, struct transport_call *call,
    const Cairn__V1__Cosignature *cs, const struct keys_member *m,
    const char **field)
{
	Cairn__V1__Ack ack = CAIRN__V1__ACK__INIT;
	int r;

	*field = "witness";
	if (strcmp(cs->witness, m->pub.name) != 0)
		return cairn_err(CAIRN_ERR_UNAUTH, "witness '%s' is not the "
		    "caller", cs->witness);
	*field = "signature";
	if ((r = coord_log_cosign(&c->log, m->pub.name, m->pub.pk,
	    cs->tree_size, cs->root_hash.data, cs->root_hash.len,
	    cs->timestamp, cs->signature.data, cs->signature.len)) != CAIRN_OK)
		return r;
	ack.detail = "cosignature kept";
	(void)transport_call_reply(call, &ack.base);
	return HELD;
}

/* A node publishes its policy: a POLICY entry unless unchanged. */
static int
do_policy(struct coord *c, struct transport_call *call,
    const Cairn__V1__SignedPolicy *sp, const struct keys_member *m,
    const char **field)
{
	Cairn__V1__Ack ack = CAIRN__V1__ACK__INIT;
	char detail[96];
	uint64_t idx;
	bool appended;
	int r;

	*field = "policy";
	if ((r = coord_log_policy(&c->log, m->pub.name, m->pub.pk,
	    sp->policy.data, sp->policy.len, sp->signature.data,
	    sp->signature.len, &idx, &appended)) != CAIRN_OK)
		return r;
	snprintf(detail, sizeof(detail), "POLICY %s at index %llu",
	    appended ? "logged" : "unchanged", (unsigned long long)idx);
	ack.detail = detail;
	(void)transport_call_reply(call, &ack.base);
	return HELD;
}

/* --------------------------------------------------------------- log */

static int
do_checkpoint(struct coord *c, struct transport_call *call)
{
	Cairn__V1__Checkpoint cp = CAIRN__V1__CHECKPOINT__INIT;
	char *note;
	int r;

	if ((r = coord_log_checkpoint(&c->log, (size_t)c->cfg->witness_quorum,
	    &note)) != CAIRN_OK)
		return r;
	cp.note = note;
	(void)transport_call_reply(call, &cp.base);
	free(note);
	return HELD;
}

static int
do_entries(struct coord *c, struct transport_call *call,
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
	r = HELD;
out:
	for (size_t i = 0; i < k; i++)
		free(ev[i].data.data);
	free(ev);
	free(ep);
	return r;
}

static int
do_inclusion(struct coord *c, struct transport_call *call,
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
	return HELD;
}

static int
do_consistency(struct coord *c, struct transport_call *call,
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
	return HELD;
}

/* ----------------------------------------------------------- dispatch */

static void
handle(struct transport_call *call, const ProtobufCMessage *req, void *arg)
{
	struct coord *c = arg;
	const struct proto_method_info *mi = transport_call_method(call);
	const struct keys_member *m = NULL;
	const char *field = NULL;
	int r;

	pthread_mutex_lock(&c->mu);
	cairn_err_clear();
	if ((r = auth(c, call, &m)) != CAIRN_OK)
		goto done;
	switch (mi->id) {
	case PROTO_SUBMIT_QUERY:
		r = do_submit(c, call, (const void *)req, &field);
		break;
	case PROTO_GET_QUERY:
		r = do_get_query(c, call, (const void *)req, &field);
		break;
	case PROTO_GET_RESULT:
		r = do_result(c, call, (const void *)req, &field);
		break;
	case PROTO_LIST_QUERIES:
		r = do_list(c, call, (const void *)req, &field);
		break;
	case PROTO_POLL_TASK:
		r = do_poll(c, call, (const void *)req, &field);
		break;
	case PROTO_REFUSE:
		r = do_refuse(c, call, (const void *)req, m, &field);
		break;
	case PROTO_ADVERTISE:
		r = do_advertise(c, call, (const void *)req, m, &field);
		break;
	case PROTO_GET_ROSTER:
		r = do_roster(c, call, (const void *)req, &field);
		break;
	case PROTO_SUBMIT_SHARE:
		r = do_share(c, call, (const void *)req, m, &field);
		break;
	case PROTO_COSIGN:
		r = do_cosign(c, call, (const void *)req, m, &field);
		break;
	case PROTO_GET_CHECKPOINT:
		r = do_checkpoint(c, call);
		break;
	case PROTO_GET_ENTRIES:
		r = do_entries(c, call, (const void *)req, &field);
		break;
	case PROTO_GET_INCLUSION_PROOF:
		r = do_inclusion(c, call, (const void *)req, &field);
		break;
	case PROTO_GET_CONSISTENCY_PROOF:
		r = do_consistency(c, call, (const void *)req, &field);
		break;
	case PROTO_PUBLISH_POLICY:
		r = do_policy(c, call, (const void *)req, m, &field);
		break;
	default:
		r = cairn_err(CAIRN_ERR_UNSUPPORTED, "method %s", mi->name);
		break;
	}
done:
	if (r != HELD && r != CAIRN_OK) {
		if (r == CAIRN_ERR_UNAUTH || r == CAIRN_ERR_SIGNATURE)
			log_warn("%s by %s %s refused: %s", mi->name,
			    keys_role_name(transport_call_role(call)),
			    transport_call_peer(call), cairn_errdesc(r));
		(void)transport_call_fail(call, r, field, cairn_errdesc(r));
	}
	pthread_mutex_unlock(&c->mu);
}

/* ------------------------------------------------------------- ticker */

static void
tick(struct coord *c)
{
	int64_t now = now_s(), ms = now_ms();
	struct attempt *a, *next;
	struct waiter *w, *wn;
	char why[TLOG_ENTRY_MAX_REASON - 32];

	for (a = c->open; a != NULL; a = next) {
		bool adv = advertising(a);
		size_t len = 0;

		next = a->next;
		if (now <= (adv ? a->adv_deadline : a->share_deadline))
			continue;
		len = (size_t)snprintf(why, sizeof(why), "deadline: no %s from",
		    adv ? "advertisement" : "share");
		for (size_t i = 0; i < a->n && len < sizeof(why) - 80; i++)
			if (adv ? a->p[i].adv == NULL : !a->p[i].sh.done)
				len += (size_t)snprintf(why + len,
				    sizeof(why) - len, " %s", a->p[i].name);
		attempt_fail(c, a, COORD_Q_FAILED, why);
	}
	dispatch(c);
	for (w = c->waiters; w != NULL; w = wn) {
		wn = w->next;
		if (transport_call_is_cancelled(w->call)) {
			(void)transport_call_fail(w->call, CAIRN_ERR_CANCELLED,
			    NULL, "cancelled");
		} else if (ms >= w->until_ms && w->m != PROTO_GET_QUERY) {
			if (w->m == PROTO_POLL_TASK) {
				Cairn__V1__PollTaskResponse resp =
				    CAIRN__V1__POLL_TASK_RESPONSE__INIT;

				(void)transport_call_reply(w->call, &resp.base);
			} else
				(void)transport_call_fail(w->call,
				    CAIRN_ERR_TIMEOUT, NULL, "not every "
				    "participant has advertised yet");
		} else
			continue;
		waiter_remove(c, w);
	}
	/* Status long polls: any change (attempt start, first delivery),
	 * or their time is up. */
	query_wake(c, NULL, true);
}

static void *
ticker(void *arg)
{
	struct coord *c = arg;
	struct timespec ts;

	pthread_mutex_lock(&c->mu);
	while (!c->stopping) {
		tick(c);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&c->cv, &c->mu, &ts);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* ------------------------------------------------------------ startup */

/*
 * Whether the open query of 'row' was released before a crash: its
 * stored result names a log index that holds its RELEASE entry.
 */
static bool
released_before(struct coord *c, const struct coord_query_row *row)
{
	Cairn__V1__Release *rel = NULL;
	struct tlog_entry *e = NULL;
	uint8_t *packed = NULL, *data = NULL;
	int64_t *vals = NULL;
	size_t plen, n, dlen;
	bool yes = false;

	if (coord_store_result_get(c->db, row->query_id, &packed, &plen, &vals,
	    &n) != CAIRN_OK)
		return false;
	if (proto_unpack(&cairn__v1__release__descriptor, packed, plen,
	    PROTO_MAX_SMALL, (ProtobufCMessage **)&rel) == CAIRN_OK &&
	    rel->log_index < tlog_store_size(c->log.tlog) &&
	    tlog_store_entry(c->log.tlog, rel->log_index, &data, &dlen) ==
	    CAIRN_OK && (e = malloc(sizeof(*e))) != NULL &&
	    tlog_entry_decode(data, dlen, e) == CAIRN_OK)
		yes = e->type == TLOG_ENTRY_RELEASE &&
		    memcmp(e->query_hash, row->hash, 32) == 0;
	if (rel != NULL)
		protobuf_c_message_free_unpacked(&rel->base, NULL);
	free(e);
	free(data);
	free(packed);
	free(vals);
	return yes;
}

/*
 * A crash between logging a QUERY and recording its row leaves the QUERY
 * as the log's last entry (calls are handled one at a time) with no row:
 * record it from the entry as pending, so that fail_leftovers() logs its
 * FAILURE and the analyst's retry of the same bytes opens attempt 1
 * rather than logging the QUERY twice.
 */
static int
recover_last_query(struct coord *c)
{
	Cairn__V1__SignedQuery *sq = NULL;
	Cairn__V1__Query *q = NULL;
	struct coord_query_row row;
	struct tlog_entry *e = NULL;
	uint64_t size = tlog_store_size(c->log.tlog);
	uint8_t *data = NULL;
	size_t dlen;
	int r;

	if (size == 0)
		return CAIRN_OK;
	if ((e = malloc(sizeof(*e))) == NULL)
		return CAIRN_ERR_NOMEM;
	if ((r = tlog_store_entry(c->log.tlog, size - 1, &data, &dlen)) !=
	    CAIRN_OK)
		goto out;
	if (tlog_entry_decode(data, dlen, e) != CAIRN_OK ||
	    e->type != TLOG_ENTRY_QUERY)
		goto out;
	if ((r = proto_unpack(&cairn__v1__signed_query__descriptor, e->body.p,
	    e->body.len, PROTO_MAX_SMALL, (ProtobufCMessage **)&sq)) !=
	    CAIRN_OK ||
	    (r = proto_unpack(&cairn__v1__query__descriptor, sq->query.data,
	    sq->query.len, PROTO_MAX_SMALL, (ProtobufCMessage **)&q)) !=
	    CAIRN_OK)
		goto out;
	if (q->analyst == NULL || q->analyst->name == NULL ||
	    !query_id_ok(q->query_id)) {
		r = cairn_err(CAIRN_ERR_FORMAT, "log entry %llu: a QUERY "
		    "without a valid id or analyst",
		    (unsigned long long)(size - 1));
		goto out;
	}
	r = coord_store_query_get(c->db, q->query_id, &row);
	if (r == CAIRN_OK) {
		coord_store_row_clear(&row);
		goto out;
	}
	if (r != CAIRN_ERR_NOTFOUND)
		goto out;
	memset(&row, 0, sizeof(row));
	snprintf(row.query_id, sizeof(row.query_id), "%s", q->query_id);
	snprintf(row.analyst, sizeof(row.analyst), "%s", q->analyst->name);
	crypto_hash_sha256(row.hash, sq->query.data, sq->query.len);
	row.signed_query = (uint8_t *)e->body.p;
	row.signed_len = e->body.len;
	row.log_index = size - 1;
	row.created = now_s();
	if ((r = coord_store_query_add(c->db, &row)) == CAIRN_OK)
		log_info("query %s: logged at %llu before a crash; recorded",
		    row.query_id, (unsigned long long)(size - 1));
out:
	if (q != NULL)
		protobuf_c_message_free_unpacked(&q->base, NULL);
	if (sq != NULL)
		protobuf_c_message_free_unpacked(&sq->base, NULL);
	free(data);
	free(e);
	return r;
}

/* Fail every attempt a previous run left open (or mark it released). */
static int
fail_leftovers(struct coord *c)
{
	char ids[64][COORD_QUERY_ID_MAX + 1];
	struct coord_query_row row;
	struct tlog_entry e;
	char text[256];
	size_t n;
	int r;

	do {
		if ((r = coord_store_open_queries(c->db, ids, 64, &n))
		    != CAIRN_OK)
			return r;
		for (size_t i = 0; i < n; i++) {
			if ((r = coord_store_query_get(c->db, ids[i], &row))
			    != CAIRN_OK)
				return r;
			if (released_before(c, &row)) {
				r = coord_store_query_set(c->db, ids[i],
				    COORD_Q_RELEASED, row.attempt, "");
				coord_store_row_clear(&row);
				if (r != CAIRN_OK)
					return r;
				log_info("query %s was released before the "
				    "restart", ids[i]);
				continue;
			}
			snprintf(text, sizeof(text), "attempt %u: coordinator "
			    "restarted", row.attempt);
			memset(&e, 0, sizeof(e));
			e.type = TLOG_ENTRY_FAILURE;
			e.time = (uint64_t)now_s();
			memcpy(e.query_hash, row.hash, 32);
			e.reason.p = (const uint8_t *)text;
			e.reason.len = strlen(text);
			r = coord_log_append(&c->log, &e, NULL);
			if (r == CAIRN_OK)
				r = coord_store_query_set(c->db, ids[i],
				    COORD_Q_FAILED, row.attempt, text);
			coord_store_row_clear(&row);
			if (r != CAIRN_OK)
				return r;
			log_info("query %s %s", ids[i], text);
		}
	} while (n == 64);
	return CAIRN_OK;
}

static void
coord_free(struct coord *c)
{
	struct attempt *a;

	while ((a = c->open) != NULL) {
		c->open = a->next;
		attempt_free(a);
	}
	if (c->log_open)
		coord_log_close(&c->log);
	coord_store_close(c->db);
	keys_federation_free(c->fed);
	keys_identity_free(c->id);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

int
coord_start(const struct coord_config *cfg, struct coord **out)
{
	struct transport_handler h[PROTO_NMETHODS];
	struct transport_server_config sc;
	struct keys_tls *tls = NULL;
	struct coord *c;
	char path[4096];
	int r;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return CAIRN_ERR_NOMEM;
	c->cfg = cfg;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	if ((r = keys_identity_load(cfg->identity_key, &c->id)) != CAIRN_OK ||
	    (r = keys_federation_load(cfg->federation, &c->fed)) != CAIRN_OK ||
	    (r = coord_config_check_pins(cfg, cfg->path, c->fed,
	    cfg->federation)) != CAIRN_OK)
		goto fail;
	if (keys_identity_role(c->id) != KEYS_ROLE_COORDINATOR) {
		r = cairn_err(CAIRN_ERR_CONFIG, "%s: not a coordinator's "
		    "identity key", cfg->identity_key);
		goto fail;
	}
	{
		const struct keys_member *me = keys_federation_find(c->fed,
		    KEYS_ROLE_COORDINATOR, keys_identity_name(c->id));
		uint8_t pk[KEYS_PK_LEN];

		keys_identity_public(c->id, pk);
		if (me == NULL || memcmp(me->pub.pk, pk, KEYS_PK_LEN) != 0) {
			r = cairn_err(CAIRN_ERR_CONFIG, "%s: coordinator %s "
			    "with this identity key is not in %s",
			    cfg->identity_key, keys_identity_name(c->id),
			    cfg->federation);
			goto fail;
		}
	}
	if (snprintf(path, sizeof(path), "%s/coord.db", cfg->data_dir) >=
	    (int)sizeof(path)) {
		r = cairn_err(CAIRN_ERR_CONFIG, "data_dir too long");
		goto fail;
	}
	if (mkdir(cfg->data_dir, 0700) != 0 && errno != EEXIST) {
		r = cairn_err(CAIRN_ERR_IO, "%s: %s", cfg->data_dir,
		    strerror(errno));
		goto fail;
	}
	if ((r = coord_store_open(path, &c->db)) != CAIRN_OK)
		goto fail;
	snprintf(path, sizeof(path), "%s/log.db", cfg->data_dir);
	if ((r = coord_log_open(&c->log, path, c->fed->name, c->id, c->db))
	    != CAIRN_OK)
		goto fail;
	c->log_open = true;
	if ((r = recover_last_query(c)) != CAIRN_OK ||
	    (r = fail_leftovers(c)) != CAIRN_OK ||
	    (r = coord_log_members(&c->log, c->fed, c->id, NULL)) != CAIRN_OK)
		goto fail;
	if ((r = keys_tls_load(cfg->ca_cert, cfg->tls_cert, cfg->tls_key,
	    &tls)) != CAIRN_OK)
		goto fail;
	for (int i = 0; i < PROTO_NMETHODS; i++) {
		h[i].method = proto_method((enum proto_method)i);
		h[i].fn = handle;
		h[i].cancel = NULL;
		h[i].arg = c;
	}
	memset(&sc, 0, sizeof(sc));
	sc.listen = cfg->listen;
	sc.tls = tls;
	sc.workers = (unsigned)cfg->workers;
	sc.grace_ms = 2000;
	r = transport_server_start(&sc, h, PROTO_NMETHODS, &c->srv);
	keys_tls_free(tls);
	if (r != CAIRN_OK)
		goto fail;
	if (pthread_create(&c->ticker, NULL, ticker, c) != 0) {
		transport_server_stop(c->srv);
		r = cairn_err(CAIRN_ERR_INTERNAL, "cannot start a thread");
		goto fail;
	}
	c->ticker_running = true;
	*out = c;
	return CAIRN_OK;
fail:
	coord_free(c);
	return r;
}

int
coord_port(const struct coord *c)
{
	return transport_server_port(c->srv);
}

size_t
coord_long_polls(struct coord *c)
{
	size_t n;

	pthread_mutex_lock(&c->mu);
	n = c->nwaiters;
	pthread_mutex_unlock(&c->mu);
	return n;
}

void
coord_stop(struct coord *c)
{
	struct waiter *w;

	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	c->stopping = true;
	/* Status long polls get the status as it is. */
	for (w = c->waiters; w != NULL; w = w->next)
		w->until_ms = 0;
	query_wake(c, NULL, true);
	while ((w = c->waiters) != NULL) {
		if (w->m == PROTO_POLL_TASK) {
			Cairn__V1__PollTaskResponse resp =
			    CAIRN__V1__POLL_TASK_RESPONSE__INIT;

			(void)transport_call_reply(w->call, &resp.base);
		} else
			(void)transport_call_fail(w->call, CAIRN_ERR_CANCELLED,
			    NULL, "the coordinator is stopping");
		c->waiters = w->next;
		free(w);
		c->nwaiters--;
	}
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	if (c->ticker_running)
		pthread_join(c->ticker, NULL);
	transport_server_stop(c->srv);
	coord_free(c);
}
