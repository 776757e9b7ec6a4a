/*
 * coord_attempt.c - the lower layer of the coordinator's service: the
 * open attempts of queries and the calls parked by long polls.
 *
 * An attempt is built from a checked signed query, started (linked and
 * handed to nodes waiting in PollTask), and ends failed (a FAILURE entry)
 * or released (the result kept, a RELEASE entry).  A waiter is a call a
 * long poll holds (PollTask, GetRoster, GetQuery); when an attempt starts,
 * changes phase or ends, the waiters concerned are answered here with the
 * reply they waited for (Task, Roster, QueryStatus), so this file never
 * calls up into the handlers (coord_analyst.c, coord_node.c) that park
 * them.  Everything runs under struct coord's mutex.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/bigmem.h"
#include "common/err.h"
#include "common/fault.h"
#include "common/log.h"
#include "common/rho.h"
#include "coordinator/coord_service_int.h"
#include "protocol/secagg.h"

/* ---------------------------------------------------------- helpers */

bool
coord_sig_ok(const uint8_t pk[static 32], const char *purpose,
    const ProtobufCBinaryData *msg, const ProtobufCBinaryData *sig)
{
	return sig->len == KEYS_SIG_LEN &&
	    keys_verify(pk, purpose, msg->data, msg->len, sig->data) ==
	    CAIRN_OK;
}

struct attempt *
coord_attempt_find(struct coord *c, const char *query_id)
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
int
coord_attempt_open(struct coord *c, const char *query_id, struct attempt **out)
{
	struct coord_query_row row;
	int r;

	if ((*out = coord_attempt_find(c, query_id)) != NULL)
		return CAIRN_OK;
	if ((r = coord_store_query_get(c->db, query_id, &row)) != CAIRN_OK)
		return r;
	coord_store_row_clear(&row);
	return cairn_err(CAIRN_ERR_STATE, "query '%s' has no open attempt",
	    query_id);
}

struct part *
coord_part_find(struct attempt *a, const char *name)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->p[i].name, name) == 0)
			return &a->p[i];
	return NULL;
}

void
coord_share_clear(struct share_in *sh)
{
	free(sh->manifest);
	free(sh->cells);
	free(sh->have);
	memset(sh, 0, sizeof(*sh));
}

void
coord_attempt_free(struct attempt *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; a->p != NULL && i < a->n; i++) {
		free(a->p[i].adv);
		coord_share_clear(&a->p[i].sh);
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

bool
coord_attempt_advertising(const struct attempt *a)
{
	return a->round == NULL ||
	    coord_round_phase(a->round) == COORD_ADVERTISING;
}

/* ---------------------------------------------------------- waiters */

void
coord_waiter_remove(struct coord *c, struct waiter *w)
{
	for (struct waiter **pp = &c->waiters; *pp != NULL; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			free(w);
			c->nwaiters--;
			return;
		}
}

/* Answer the GetRoster waiters of 'a': the roster, or 'code'. */
void
coord_roster_wake(struct coord *c, struct attempt *a, int code, const char *why)
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
		else if (coord_roster_reply(c, w->call, a) != CAIRN_OK)
			(void)transport_call_fail(w->call, CAIRN_ERR_INTERNAL,
			    NULL, cairn_errmsg());
		coord_waiter_remove(c, w);
	}
}

/* -------------------------------------------------- attempt endings */

/* Log a FAILURE for 'a' with 'reason', record 'state', drop the attempt. */
void
coord_attempt_fail(struct coord *c, struct attempt *a, enum coord_qstate state,
    const char *reason)
{
	char text[TLOG_ENTRY_MAX_REASON];
	struct tlog_entry e;
	int r;

	log_ctx_set_query(a->query_id, a->attempt);
	log_ctx_set_index((int64_t)tlog_store_size(c->log.tlog));
	coord_metrics_attempt_ended(a, state);
	snprintf(text, sizeof(text), "attempt %u: %s", a->attempt, reason);
	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_FAILURE;
	e.time = (uint64_t)coord_now_s();
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
	coord_roster_wake(c, a, CAIRN_ERR_STATE, text);
	coord_query_wake(c, a->query_id, false);
	attempt_unlink(c, a);
	coord_attempt_free(a);
	log_ctx_clear();
}

static int
name_cmp(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

void
coord_result_hash(const int64_t *v, size_t n, uint8_t out[32])
{
	secagg_cells_digest((const uint64_t *)v, n, out);
}

int
coord_release_pack(const char *query_id, char **names, size_t n,
    const uint8_t rhash[32], uint64_t var, size_t cells, uint64_t log_index,
    uint8_t **packed, size_t *plen)
{
	Cairn__V1__Release rel = CAIRN__V1__RELEASE__INIT;

	rel.query_id = (char *)query_id;
	rel.n_participants = n;
	rel.participants = names;
	rel.result_hash.data = (uint8_t *)rhash;
	rel.result_hash.len = 32;
	rel.noise_variance = var;
	/* The exact half-width, not 1.96 * sqrt(var), which undercovers
	 * for small variances (94.0% at 12); 0 above the range it is
	 * computed for (docs/privacy.md). */
	if (dp_ci95_halfwidth(var, &rel.ci95_halfwidth) != CAIRN_OK)
		rel.ci95_halfwidth = 0;
	rel.cells = cells;
	rel.log_index = log_index;
	return proto_pack(&rel.base, PROTO_MAX_SMALL, packed, plen);
}

/*
 * The SHA-256 of the released values (the RELEASE entry's, which a browser
 * checks published values with), computed on a thread of its own while the
 * releasing thread computes the result hash and stores the result: 20 ms
 * of a 540,000-cell release no longer follows the fsync (docs/benchmarks.md).
 * The thread reads 'v' only; the caller owns it and joins before freeing.
 */
struct release_sha {
	const int64_t	*v;
	size_t		 n;
	uint8_t		 out[32];
	pthread_t	 th;
	bool		 started;
};

static void *
release_sha_run(void *arg)
{
	struct release_sha *j = arg;

	secagg_cells_sha256((const uint64_t *)j->v, j->n, j->out);
	return NULL;
}

static void
release_sha_start(struct release_sha *j, const int64_t *v, size_t n)
{
	j->v = v;
	j->n = n;
	j->started = pthread_create(&j->th, NULL, release_sha_run, j) == 0;
}

/* The hash, once computed: joined, or computed here without a thread. */
static void
release_sha_join(struct release_sha *j)
{
	if (j->started) {
		pthread_join(j->th, NULL);
		j->started = false;
	} else
		(void)release_sha_run(j);
}

/*
 * Every share is in and the check cell holds: keep the result, then log
 * RELEASE (at the index the result names), then mark the query released.
 * A crash between the two is resolved at restart by fail_leftovers():
 * the RELEASE is in the log (released) or it is not (failed).
 */
void
coord_attempt_release(struct coord *c, struct attempt *a)
{
	struct tlog_bytes parts[SECAGG_MAX_MEMBERS];
	char *names[SECAGG_MAX_MEMBERS];
	struct tlog_entry *e = NULL;
	struct release_sha sha = { .started = false };
	uint8_t rhash[32], *packed = NULL;
	int64_t *vals = NULL;
	uint64_t var = 0, index, release_at;
	size_t n = a->ncells - 1, plen;
	int r;

	log_ctx_set_query(a->query_id, a->attempt);

	if ((vals = big_alloc(n * sizeof(*vals))) == NULL ||
	    (e = calloc(1, sizeof(*e))) == NULL) {
		r = CAIRN_ERR_NOMEM;
		goto fail;
	}
	if ((r = coord_round_result(a->round, vals, n)) != CAIRN_OK)
		goto fail;
	release_sha_start(&sha, vals, n);
	coord_result_hash(vals, n, rhash);
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
	/* Version 2: the SHA-256 a browser checks published values with. */
	e->version = 2;
	e->time = (uint64_t)coord_now_s();
	memcpy(e->query_hash, a->qhash, 32);
	memcpy(e->result_hash, rhash, 32);
	e->variance = (double)var;
	e->nparticipants = a->n;
	memcpy(e->participants, parts, a->n * sizeof(parts[0]));
	index = release_at = tlog_store_size(c->log.tlog);
	if ((r = coord_release_pack(a->query_id, names, a->n, rhash, var, n,
	    release_at, &packed, &plen)) != CAIRN_OK ||
	    (r = coord_store_result_put(c->db, a->query_id, packed, plen, vals,
	    n)) != CAIRN_OK) {
		free(packed);
		goto fail;
	}
	release_sha_join(&sha);
	memcpy(e->result_sha256, sha.out, 32);
	if ((r = coord_log_append(&c->log, e, &index)) != CAIRN_OK) {
		if (tlog_store_size(c->log.tlog) <= release_at) {
			free(packed);
			goto fail;
		}
		/* The entry is in; its checkpoint follows at restart. */
		log_error("query %s: RELEASE logged at %llu, its checkpoint "
		    "not published: %s", a->query_id,
		    (unsigned long long)release_at, cairn_errdesc(r));
		index = release_at;
	}
	fault_point("coord.after_release_logged");
	if (index != release_at)
		log_error("query %s: RELEASE at %llu, not %llu", a->query_id,
		    (unsigned long long)index,
		    (unsigned long long)release_at);
	log_ctx_set_index((int64_t)index);
	coord_metrics_attempt_ended(a, COORD_Q_RELEASED);
	if ((r = coord_store_query_set(c->db, a->query_id, COORD_Q_RELEASED,
	    a->attempt, "")) != CAIRN_OK)
		log_error("query %s: released at %llu but not stored: %s",
		    a->query_id, (unsigned long long)index, cairn_errdesc(r));
	else
		log_info("query %s released (attempt %u, %zu cells, log "
		    "index %llu)", a->query_id, a->attempt, n,
		    (unsigned long long)index);
	/* Published statistics: only when the signed query asks. */
	if (coord_publish_release(c->log.pub, c->cfg, a->q, a->query_index,
	    packed, plen, vals, n) != CAIRN_OK)
		log_error("query %s: release file not written: %s (written "
		    "at the next start)", a->query_id, cairn_errmsg());
	coord_query_wake(c, a->query_id, false);
	free(packed);
	free(vals);
	free(e);
	attempt_unlink(c, a);
	coord_attempt_free(a);
	log_ctx_clear();
	return;
fail:
	if (sha.started)
		pthread_join(sha.th, NULL);	/* it reads 'vals' */
	free(vals);
	free(e);
	coord_attempt_fail(c, a, COORD_Q_FAILED, cairn_errdesc(r));
}

/* ------------------------------------------------------- validation */

bool
coord_query_id_ok(const char *s)
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
 * The fields of the signed query 'sq' from analyst 'caller', into 'a':
 * the Query unpacked, its analyst and signature, federation, id, nonce,
 * spec and geography, and the length of its domain.
 */
static int
query_check(struct coord *c, const char *caller,
    const Cairn__V1__SignedQuery *sq, struct attempt *a, const char **field)
{
	const struct keys_member *am;
	const struct coord_geo *geo;
	ProtobufCMessage *msg = NULL;
	Cairn__V1__Query *q;
	int r;

	*field = "query";
	if ((r = proto_unpack(&cairn__v1__query__descriptor, sq->query.data,
	    sq->query.len, PROTO_MAX_SMALL, &msg)) != CAIRN_OK)
		return r;
	a->q = q = (Cairn__V1__Query *)msg;
	*field = "query.analyst";
	if (q->analyst == NULL ||
	    q->analyst->role != CAIRN__V1__ROLE__ROLE_ANALYST ||
	    strcmp(q->analyst->name, caller) != 0)
		return cairn_err(CAIRN_ERR_UNAUTH, "query.analyst is not the "
		    "caller, analyst %s", caller);
	am = keys_federation_find(c->fed, KEYS_ROLE_ANALYST, caller);
	*field = "signature";
	if (am == NULL || !coord_sig_ok(am->pub.pk, "query", &sq->query,
	    &sq->signature))
		return cairn_err(CAIRN_ERR_SIGNATURE, "the query's signature "
		    "does not verify with analyst %s's key", caller);
	*field = "query.federation";
	if (strcmp(q->federation, c->fed->name) != 0)
		return cairn_err(CAIRN_ERR_POLICY, "query for federation '%s', "
		    "this is '%s'", q->federation, c->fed->name);
	*field = "query.query_id";
	if (!coord_query_id_ok(q->query_id))
		return cairn_err(CAIRN_ERR_FORMAT, "query id must be 1 to %d "
		    "characters of [A-Za-z0-9._:-]", COORD_QUERY_ID_MAX);
	*field = "query.nonce";
	if (q->nonce.len != 16)
		return cairn_err(CAIRN_ERR_FORMAT, "nonce of %zu bytes (want "
		    "16)", q->nonce.len);
	*field = "query.spec";
	if (q->spec == NULL)
		return cairn_err(CAIRN_ERR_FORMAT, "query without a spec");
	if ((r = qspec_from_proto(q->spec, "query.spec", &a->spec))
	    != CAIRN_OK)
		return r;
	*field = "query.spec.geography";
	if ((geo = coord_config_geo(c->cfg, q->spec->geography)) == NULL)
		return cairn_err(CAIRN_ERR_ARG, "unknown geography '%s'",
		    q->spec->geography);
	/* Every kind's domain is public (population_by_category's
	 * categories are the spec's), so the length is known here. */
	a->expect_cells = qspec_domain_cells(&a->spec, geo->nregions, 0) + 1;
	if (a->expect_cells > PROTO_MAX_CELLS ||
	    a->expect_cells > COORD_ROUND_MAX_CELLS)
		return cairn_err(CAIRN_ERR_TOOBIG, "the query's domain has "
		    "%llu cells, more than %llu",
		    (unsigned long long)a->expect_cells - 1,
		    (unsigned long long)PROTO_MAX_CELLS);
	return CAIRN_OK;
}

/*
 * The participants of 'a''s query (enrolled nodes, none twice, within
 * the federation's limits), its collusion bound and rho, and what every
 * node's charge must say.
 */
static int
participants_check(struct coord *c, struct attempt *a, const char **field)
{
	const Cairn__V1__Query *q = a->q;
	const struct keys_member *m;
	int r;

	*field = "query.participants";
	if (q->n_participants < 2 ||
	    q->n_participants > (size_t)c->cfg->max_participants)
		return cairn_err(CAIRN_ERR_POLICY, "%zu participants (the "
		    "federation allows 2 to %lld)", q->n_participants,
		    (long long)c->cfg->max_participants);
	if ((a->p = calloc(q->n_participants, sizeof(*a->p))) == NULL)
		return CAIRN_ERR_NOMEM;
	a->n = q->n_participants;
	for (size_t i = 0; i < a->n; i++) {
		m = keys_federation_find(c->fed, KEYS_ROLE_NODE,
		    q->participants[i]);
		if (m == NULL)
			return cairn_err(CAIRN_ERR_POLICY, "participant '%s' "
			    "is not an enrolled node", q->participants[i]);
		for (size_t j = 0; j < i; j++)
			if (strcmp(a->p[j].name, m->pub.name) == 0)
				return cairn_err(CAIRN_ERR_ARG, "participant "
				    "'%s' listed twice", m->pub.name);
		snprintf(a->p[i].name, sizeof(a->p[i].name), "%s",
		    m->pub.name);
		memcpy(a->p[i].id, m->pub.pk, 32);
	}
	*field = "query.max_colluding";
	if (q->max_colluding >= a->n)
		return cairn_err(CAIRN_ERR_ARG, "max_colluding %u must be "
		    "below the %zu participants", q->max_colluding, a->n);
	*field = "query.rho_nano";
	if (q->rho_nano == 0)
		return cairn_err(CAIRN_ERR_ARG, "rho_nano is 0: a query must "
		    "ask for rho > 0 (in nano-rho, 1 rho = 10^9)");
	if (q->rho_nano > c->cfg->max_rho_per_query_nano) {
		char a1[RHO_TEXT_MAX], a2[RHO_TEXT_MAX];

		return cairn_err(CAIRN_ERR_POLICY, "rho %s (%llu nano-rho) is "
		    "over the federation's limit of %s per query",
		    rho_format(q->rho_nano, a1),
		    (unsigned long long)q->rho_nano,
		    rho_format(c->cfg->max_rho_per_query_nano, a2));
	}
	/* What every node's charge must say (docs/privacy.md). */
	{
		struct dp_query dq;

		if ((r = qspec_dp_query(&a->spec, q->holders_per_person != 0 ?
		    q->holders_per_person : 1, &dq)) != CAIRN_OK ||
		    (r = dp_requirement(&dq, q->rho_nano, (uint32_t)a->n,
		    q->max_colluding, a->expect_cells - 1, &a->need)) !=
		    CAIRN_OK)
			return r;
	}
	return CAIRN_OK;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int
coord_attempt_coverage(const struct coord *c, const struct attempt *a,
    const char **field)
{
	if (a->q->allow_missing_months)
		return CAIRN_OK;
	*field = "query.participants";
	for (size_t i = 0; i < a->n; i++) {
		const struct coord_policy_seen *ps = NULL;

		for (size_t k = 0; k < c->log.npols; k++)
			if (strcmp(c->log.pols[k].node, a->p[i].name) == 0)
				ps = &c->log.pols[k];
		if (ps == NULL || ps->nmonths == 0)
			continue;
		for (size_t m = 0; m < a->need.nmonths; m++) {
			uint32_t ym = (uint32_t)(a->need.month[m] / 12) * 100 +
			    (uint32_t)(a->need.month[m] % 12) + 1;

			/* The node sends them sorted; do not rely on it. */
			bool held = false;

			for (size_t k = 0; k < ps->nmonths && !held; k++)
				held = ps->months[k] == ym;
			if (held)
				continue;
			{
				uint32_t lo = ps->months[0], hi = lo;

				for (size_t k = 1; k < ps->nmonths; k++) {
					if (cmp_u32(&ps->months[k], &lo) < 0)
						lo = ps->months[k];
					if (cmp_u32(&ps->months[k], &hi) > 0)
						hi = ps->months[k];
				}
				return cairn_err(CAIRN_ERR_POLICY, "holder %s "
				    "does not hold data-month %04u-%02u (its "
				    "POLICY at log index %llu declares %zu "
				    "month%s, %04u-%02u to %04u-%02u); submit "
				    "with --allow-missing-months to ask anyway",
				    a->p[i].name, ym / 100, ym % 100,
				    (unsigned long long)ps->index,
				    ps->nmonths, ps->nmonths == 1 ? "" : "s",
				    lo / 100, lo % 100, hi / 100, hi % 100);
			}
		}
	}
	*field = NULL;
	return CAIRN_OK;
}

/*
 * Check the signed query 'sq' from analyst 'caller' and build an
 * attempt for it (not linked, number 0).  '*field' names the field at
 * fault on error.
 */
int
coord_attempt_build(struct coord *c, const char *caller,
    const Cairn__V1__SignedQuery *sq, struct attempt **out,
    const char **field)
{
	struct attempt *a;
	ProtobufCMessage *msg = NULL;
	uint8_t *buf = NULL;
	size_t len;
	int r;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return CAIRN_ERR_NOMEM;
	if ((r = query_check(c, caller, sq, a, field)) != CAIRN_OK ||
	    (r = participants_check(c, a, field)) != CAIRN_OK)
		goto fail;
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
	snprintf(a->query_id, sizeof(a->query_id), "%s", a->q->query_id);
	snprintf(a->analyst, sizeof(a->analyst), "%s", caller);
	*out = a;
	return CAIRN_OK;
fail:
	coord_attempt_free(a);
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
	if ((r = coord_attempt_build(&c, caller, sq, &a, field)) == CAIRN_OK)
		coord_attempt_free(a);
	return r;
}

/* ---------------------------------------------------- attempt start */

/* Start attempt 'a' now and hand it to waiting nodes. */
void
coord_attempt_start(struct coord *c, struct attempt *a)
{
	struct attempt **pp;

	a->adv_deadline = coord_now_s() + c->cfg->advertise_seconds;
	a->share_deadline = a->adv_deadline + c->cfg->share_seconds;
	a->started_ms = coord_now_ms();
	for (pp = &c->open; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = a;
	log_ctx_set_query(a->query_id, a->attempt);
	log_info("query %s attempt %u open for %zu participants", a->query_id,
	    a->attempt, a->n);
	coord_metrics_attempt_started();
	coord_dispatch(c);
	log_ctx_clear();
}

/* ----------------------------------------------------- query status */

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

void
coord_status_clear(Cairn__V1__QueryStatus *st)
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
int
coord_status_fill(struct coord *c, struct coord_query_row *row,
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
	    (a = coord_attempt_find(c, row->query_id)) != NULL) {
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

/*
 * Answer a GetQuery for 'query_id' with its status, unless 'wait' and
 * the status still shows (seen_state, seen_attempt): then return
 * CAIRN_OK without answering.  COORD_HELD once answered.
 */
int
coord_query_reply(struct coord *c, struct transport_call *call,
    const char *query_id, bool wait, int seen_state, uint32_t seen_attempt)
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
	if ((r = coord_status_fill(c, &row, &st, &mid)) == CAIRN_OK) {
		if (wait && (int)st.state == seen_state &&
		    st.attempt == seen_attempt)
			r = CAIRN_OK;
		else {
			(void)transport_call_reply(call, &st.base);
			r = COORD_HELD;
		}
	}
	coord_status_clear(&st);
	coord_store_row_clear(&row);
	return r;
}

/*
 * The GetQuery long polls (of 'query_id', or all when NULL) whose query
 * changed state, or every one when 'all_due' and their time is up, are
 * answered with the status as it is.
 */
void
coord_query_wake(struct coord *c, const char *query_id, bool all_due)
{
	struct waiter *w, *next;
	int64_t ms = coord_now_ms();
	int r;

	for (w = c->waiters; w != NULL; w = next) {
		next = w->next;
		if (w->m != PROTO_GET_QUERY || (query_id != NULL &&
		    strcmp(w->query_id, query_id) != 0))
			continue;
		r = coord_query_reply(c, w->call, w->query_id,
		    !(all_due && ms >= w->until_ms), (int)w->last_seen,
		    w->attempt);
		if (r == CAIRN_OK)
			continue;
		if (r != COORD_HELD)
			(void)transport_call_fail(w->call, r, NULL,
			    cairn_errmsg());
		coord_waiter_remove(c, w);
	}
}

/* ----------------------------------------------- tasks and dispatch */

int
coord_task_reply(struct coord *c, struct transport_call *call,
    struct attempt *a, uint64_t last_seen)
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
	resp.now_unix_ms = coord_now_ms();
	(void)transport_call_reply(call, &resp.base);
	fault_point("coord.after_dispatch");
	r = COORD_HELD;
out:
	free(note);
	return r;
}

/* The attempt to hand node 'name' now, or NULL. */
struct attempt *
coord_task_for(struct coord *c, const char *name, struct part **pp)
{
	int64_t now = coord_now_s();

	for (struct attempt *a = c->open; a != NULL; a = a->next) {
		struct part *p = coord_part_find(a, name);

		if (p == NULL || p->adv != NULL ||
		    !coord_attempt_advertising(a))
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
void
coord_dispatch(struct coord *c)
{
	struct waiter *w, *next;
	struct attempt *a;
	struct part *p;
	int r;

	for (w = c->waiters; w != NULL; w = next) {
		next = w->next;
		if (w->m != PROTO_POLL_TASK ||
		    (a = coord_task_for(c, w->node, &p)) == NULL)
			continue;
		if ((r = coord_task_reply(c, w->call, a, w->last_seen)) !=
		    COORD_HELD)
			(void)transport_call_fail(w->call, r, "last_seen_size",
			    cairn_errdesc(r));
		else
			p->delivered = coord_now_s();
		coord_waiter_remove(c, w);
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
int
coord_park(struct coord *c, struct transport_call *call, enum proto_method m,
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
	if (wait_ms > COORD_MAX_WAIT_MS)
		wait_ms = COORD_MAX_WAIT_MS;
	if (rem < (int64_t)wait_ms)
		wait_ms = rem > 0 ? (uint32_t)rem : 0;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return CAIRN_ERR_NOMEM;
	w->call = call;
	w->m = m;
	w->role = role;
	snprintf(w->node, sizeof(w->node), "%s", name);
	w->until_ms = coord_now_ms() + wait_ms;
	w->next = c->waiters;
	c->waiters = w;
	c->nwaiters++;
	*out = w;
	return CAIRN_OK;
}

/* ----------------------------------------------------------- roster */

int
coord_roster_reply(struct coord *c, struct transport_call *call,
    struct attempt *a)
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
