/*
 * coord_service.c - cairn.v1.Coordinator (docs/protocol.md) running the
 * round of docs/federation.md: the method table, the ticker, startup and
 * stop.  The handlers are in coord_analyst.c, coord_node.c and
 * coord_logread.c, over the attempts and waiters of coord_attempt.c
 * (coord_service_int.h shows the layers).
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/err.h"
#include "common/log.h"
#include "coordinator/coord_service_int.h"
#include "keys/keys_tls.h"

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

/* ----------------------------------------------------- method table */

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
	if (c->stopping && mi->id != PROTO_GET_QUERY &&
	    mi->id != PROTO_GET_RESULT && mi->id != PROTO_LIST_QUERIES &&
	    mi->id != PROTO_GET_CHECKPOINT && mi->id != PROTO_GET_ENTRIES &&
	    mi->id != PROTO_GET_INCLUSION_PROOF &&
	    mi->id != PROTO_GET_CONSISTENCY_PROOF) {
		/* Nothing new once the open attempts are failed; reads
		 * (the failures among them) are answered until the end. */
		r = cairn_err(CAIRN_ERR_CANCELLED, "the coordinator is "
		    "stopping");
		goto done;
	}
	if ((r = auth(c, call, &m)) != CAIRN_OK)
		goto done;
	switch (mi->id) {
	case PROTO_SUBMIT_QUERY:
		r = coord_do_submit(c, call, (const void *)req, &field);
		break;
	case PROTO_GET_QUERY:
		r = coord_do_get_query(c, call, (const void *)req, &field);
		break;
	case PROTO_GET_RESULT:
		r = coord_do_result(c, call, (const void *)req, &field);
		break;
	case PROTO_LIST_QUERIES:
		r = coord_do_list(c, call, (const void *)req, &field);
		break;
	case PROTO_POLL_TASK:
		r = coord_do_poll(c, call, (const void *)req, &field);
		break;
	case PROTO_REFUSE:
		r = coord_do_refuse(c, call, (const void *)req, m, &field);
		break;
	case PROTO_ADVERTISE:
		r = coord_do_advertise(c, call, (const void *)req, m, &field);
		break;
	case PROTO_GET_ROSTER:
		r = coord_do_roster(c, call, (const void *)req, &field);
		break;
	case PROTO_SUBMIT_SHARE:
		r = coord_do_share(c, call, (const void *)req, m, &field);
		break;
	case PROTO_COSIGN:
		r = coord_do_cosign(c, call, (const void *)req, m, &field);
		break;
	case PROTO_GET_CHECKPOINT:
		r = coord_do_checkpoint(c, call, (const void *)req);
		break;
	case PROTO_GET_ENTRIES:
		r = coord_do_entries(c, call, (const void *)req, &field);
		break;
	case PROTO_GET_INCLUSION_PROOF:
		r = coord_do_inclusion(c, call, (const void *)req, &field);
		break;
	case PROTO_GET_CONSISTENCY_PROOF:
		r = coord_do_consistency(c, call, (const void *)req, &field);
		break;
	case PROTO_PUBLISH_POLICY:
		r = coord_do_policy(c, call, (const void *)req, m, &field);
		break;
	default:
		r = cairn_err(CAIRN_ERR_UNSUPPORTED, "method %s", mi->name);
		break;
	}
done:
	if (r != COORD_HELD && r != CAIRN_OK) {
		if (r == CAIRN_ERR_UNAUTH || r == CAIRN_ERR_SIGNATURE)
			log_warn("%s by %s %s refused: %s", mi->name,
			    keys_role_name(transport_call_role(call)),
			    transport_call_peer(call), cairn_errdesc(r));
		(void)transport_call_fail(call, r, field, cairn_errdesc(r));
	}
	pthread_mutex_unlock(&c->mu);
}

/* -------------------------------------------------- membership */

/*
 * federation.conf changed (a member rotated, added or removed with `cairn
 * keys`): load it, check it is the same federation with the same
 * coordinator and pins, log the membership changes as MEMBER entries and
 * serve by it from the next call.  The old one is kept until the end (a
 * handler may hold one of its members).  A file that does not check out
 * is logged and the membership in force stays.
 */
static void
fed_refresh(struct coord *c)
{
	struct keys_federation *nf = NULL, **ov;
	const struct keys_member *was, *now;
	size_t changes = 0;
	int r;

	if (!file_changed(c->cfg->federation, &c->fed_stamp))
		return;
	if ((r = keys_federation_load(c->cfg->federation, &nf)) != CAIRN_OK)
		goto fail;
	if (strcmp(nf->name, c->fed->name) != 0) {
		r = cairn_err(CAIRN_ERR_CONFIG, "it names federation '%s', not "
		    "'%s'", nf->name, c->fed->name);
		goto fail;
	}
	was = keys_federation_find(c->fed, KEYS_ROLE_COORDINATOR,
	    keys_identity_name(c->id));
	now = keys_federation_find(nf, KEYS_ROLE_COORDINATOR,
	    keys_identity_name(c->id));
	if (was == NULL || now == NULL || memcmp(was->pub.pk, now->pub.pk,
	    KEYS_PK_LEN) != 0 || strcmp(was->cert_fpr, now->cert_fpr) != 0) {
		r = cairn_err(CAIRN_ERR_CONFIG, "the coordinator's own keys "
		    "changed (the log key cannot be rotated by a reload)");
		goto fail;
	}
	if ((r = coord_config_check_pins(c->cfg, c->cfg->path, nf,
	    c->cfg->federation)) != CAIRN_OK ||
	    (r = coord_log_member_changes(&c->log, nf, c->id, &changes)) !=
	    CAIRN_OK)
		goto fail;
	if ((ov = realloc(c->old_feds, (c->nold_feds + 1) *
	    sizeof(*ov))) == NULL) {
		r = CAIRN_ERR_NOMEM;
		goto fail;
	}
	c->old_feds = ov;
	c->old_feds[c->nold_feds++] = c->fed;
	c->fed = nf;
	log_info("%s reloaded: %zu membership change(s) logged",
	    c->cfg->federation, changes);
	return;
fail:
	log_error("%s changed but is not taken: %s; the membership in force "
	    "stays", c->cfg->federation, cairn_errdesc(r));
	keys_federation_free(nf);
}

/* ----------------------------------------------------------- ticker */

static void
tick(struct coord *c)
{
	int64_t now = coord_now_s(), ms = coord_now_ms();
	struct attempt *a, *next;
	struct waiter *w, *wn;
	char why[TLOG_ENTRY_MAX_REASON - 32];

	fed_refresh(c);
	for (a = c->open; a != NULL; a = next) {
		bool adv = coord_attempt_advertising(a);
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
		coord_attempt_fail(c, a, COORD_Q_FAILED, why);
	}
	coord_dispatch(c);
	for (w = c->waiters; w != NULL; w = wn) {
		wn = w->next;
		if (transport_call_is_cancelled(w->call)) {
			(void)transport_call_fail(w->call, CAIRN_ERR_CANCELLED,
			    NULL, "cancelled");
		} else if (ms >= w->until_ms && w->m != PROTO_GET_QUERY) {
			if (w->m == PROTO_POLL_TASK) {
				Cairn__V1__PollTaskResponse resp =
				    CAIRN__V1__POLL_TASK_RESPONSE__INIT;

				resp.now_unix_ms = coord_now_ms();
				(void)transport_call_reply(w->call, &resp.base);
			} else
				(void)transport_call_fail(w->call,
				    CAIRN_ERR_TIMEOUT, NULL, "not every "
				    "participant has advertised yet");
		} else
			continue;
		coord_waiter_remove(c, w);
	}
	/* Status long polls: any change (attempt start, first delivery),
	 * or their time is up. */
	coord_query_wake(c, NULL, true);
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
		ts.tv_nsec += COORD_TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&c->cv, &c->mu, &ts);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* ---------------------------------------------------------- startup */

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
	    !coord_query_id_ok(q->query_id)) {
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
	row.created = (int64_t)e->time;
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
			e.time = (uint64_t)coord_now_s();
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
		coord_attempt_free(a);
	}
	coord_public_close(c->log.pub);
	c->log.pub = NULL;
	if (c->log_open)
		coord_log_close(&c->log);
	coord_store_close(c->db);
	keys_federation_free(c->fed);
	for (size_t i = 0; i < c->nold_feds; i++)
		keys_federation_free(c->old_feds[i]);
	free(c->old_feds);
	keys_identity_free(c->id);
	file_unlock_dir(c->dir_lock);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

int
coord_start(const struct coord_config *cfg, struct coord **out)
{
	struct transport_handler h[PROTO_NMETHODS];
	struct transport_server_config sc;
	struct coord_verify_report vr;
	struct keys_tls *tls = NULL;
	struct coord *c;
	char path[4096];
	int r;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return CAIRN_ERR_NOMEM;
	c->cfg = cfg;
	c->dir_lock = -1;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	/* Stamped first: a change made while it is read is seen later. */
	(void)file_changed(cfg->federation, &c->fed_stamp);
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
	/* One coordinator, or rebuild, at a time on data_dir. */
	if ((r = file_lock_dir(cfg->data_dir, "cairn-coordinator serve",
	    &c->dir_lock)) != CAIRN_OK ||
	    (r = coord_store_open(path, &c->db)) != CAIRN_OK)
		goto fail;
	snprintf(path, sizeof(path), "%s/log.db", cfg->data_dir);
	if ((r = coord_log_open(&c->log, path, c->fed->name, c->id, c->db))
	    != CAIRN_OK)
		goto fail;
	c->log_open = true;
	snprintf(path, sizeof(path), "%s/coord.db", cfg->data_dir);
	if ((r = recover_last_query(c)) != CAIRN_OK)
		goto fail;
	/* Test only: play a coordinator that serves damaged or changed
	 * state anyway, for the auditor's tests (docs/operations.md). */
	if (getenv("CAIRN_COORD_TEST_SKIP_VERIFY") != NULL)
		log_warn("CAIRN_COORD_TEST_SKIP_VERIFY is set: the state is "
		    "not verified (tests only)");
	else if ((r = coord_verify(c->log.tlog, c->db, path, c->log.origin,
	    c->log.signer.pub, c->fed, &vr)) != CAIRN_OK)
		goto fail;
	else
		log_info("state verified: %llu log entries, %llu queries, "
		    "%llu results, %llu cosignatures",
		    (unsigned long long)vr.entries,
		    (unsigned long long)vr.queries,
		    (unsigned long long)vr.results,
		    (unsigned long long)vr.cosigs);
	/* The public directory follows the verified state (docs/public.md). */
	if (cfg->pub_dir != NULL && (r = coord_public_open(cfg->pub_dir,
	    &c->log, coord_public_quorum(cfg), &c->log.pub)) != CAIRN_OK)
		goto fail;
	if ((r = coord_publish_all(c->log.pub, c->db, cfg, NULL)) != CAIRN_OK)
		goto fail;
	if ((r = fail_leftovers(c)) != CAIRN_OK ||
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
	if ((r = coord_monitor_start(c)) != CAIRN_OK) {
		coord_stop(c);
		return r;
	}
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

int
coord_reload(struct coord *c, struct coord_config *cfg)
{
	struct coord_config next;
	char applied[1024], fixed[1024];
	int r;

	log_info("SIGHUP: reading %s again", cfg->path);
	if ((r = coord_config_load(cfg->path, &next)) != CAIRN_OK) {
		log_error("%s not taken, the configuration in force stays: %s",
		    cfg->path, cairn_errdesc(r));
		coord_config_release(&next);
		return r;
	}
	pthread_mutex_lock(&c->mu);
	r = coord_config_reload(cfg, &next, applied, sizeof(applied), fixed,
	    sizeof(fixed));
	pthread_mutex_unlock(&c->mu);
	coord_config_release(&next);
	if (r != CAIRN_OK) {
		log_error("%s not taken: %s", cfg->path, cairn_errdesc(r));
		return r;
	}
	/* Said at the level in force when the signal came; then the new
	 * format and level (both checked by coord_config_load()). */
	log_info("%s reloaded: %s", cfg->path, applied[0] != '\0' ? applied :
	    "nothing that can change while serving changed");
	if (fixed[0] != '\0')
		log_warn("%s: changed but not reloadable, still as at start "
		    "until a restart: %s", cfg->path, fixed);
	(void)log_configure(cfg->log_format, cfg->log_level);
	return CAIRN_OK;
}

/*
 * Fail every open attempt: its nodes keep their charges (the FAILURE
 * entry is what a retry or an auditor reads), its partial sum is wiped.
 */
static void
fail_open_attempts(struct coord *c)
{
	size_t n = 0;

	while (c->open != NULL) {
		coord_attempt_fail(c, c->open, COORD_Q_FAILED,
		    "coordinator stopping");
		n++;
	}
	if (n > 0)
		log_info("%zu open attempt(s) failed: coordinator stopping",
		    n);
}

void
coord_stop(struct coord *c)
{
	struct waiter *w;

	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	c->stopping = true;
	/* Only a serving coordinator's attempts: coord_start() failing
	 * after fail_leftovers() has none open. */
	fail_open_attempts(c);
	/* Status long polls get the status as it is. */
	for (w = c->waiters; w != NULL; w = w->next)
		w->until_ms = 0;
	coord_query_wake(c, NULL, true);
	while ((w = c->waiters) != NULL) {
		if (w->m == PROTO_POLL_TASK) {
			Cairn__V1__PollTaskResponse resp =
			    CAIRN__V1__POLL_TASK_RESPONSE__INIT;

			resp.now_unix_ms = coord_now_ms();
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
	coord_monitor_stop(c);
	transport_server_stop(c->srv);
	coord_free(c);
}
