/*
 * daemon.c - the node daemon's startup and serve loop (docs/node.md):
 * the daemon's identity and log key from the federation, then the loop
 * that publishes the policy, brings the ledger up to the log before the
 * first task, re-sends charges the coordinator may not have logged,
 * long-polls for tasks (node/daemon_round.c) and backs off, with
 * jitter, while the coordinator is away.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "common/err.h"
#include "common/log.h"
#include "node/daemon_int.h"
#include "node/node_metrics.h"
#include "node/policy_publish.h"
#include "protocol/tlog_member.h"

#define BACKOFF_MIN_MS	1000
#define BACKOFF_MAX_MS	15000


int
node_daemon_new(const struct node_daemon_config *dc, struct node_daemon **out)
{
	const struct keys_member *coord = NULL, *self;
	struct node_daemon *d;
	size_t i;
	int r;

	for (i = 0; i < dc->fed->n; i++) {
		if (dc->fed->members[i].pub.role != KEYS_ROLE_COORDINATOR)
			continue;
		if (coord != NULL)
			return cairn_err(CAIRN_ERR_CONFIG, "federation '%s' "
			    "lists two coordinators; the log key is ambiguous",
			    dc->fed->name);
		coord = &dc->fed->members[i];
	}
	if (coord == NULL)
		return cairn_err(CAIRN_ERR_CONFIG, "federation '%s' lists no "
		    "coordinator (the log key)", dc->fed->name);
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return cairn_err(CAIRN_ERR_NOMEM, "daemon");
	d->dc = *dc;
	(void)file_changed(dc->cfg->federation, &d->fed_stamp);
	d->name = keys_identity_name(dc->id);
	keys_identity_public(dc->id, d->pk);
	if (strcmp(d->name, dc->cfg->name) != 0 ||
	    keys_identity_role(dc->id) != KEYS_ROLE_NODE) {
		r = cairn_err(CAIRN_ERR_CONFIG, "identity key is for '%s', "
		    "node.conf names node '%s'", d->name, dc->cfg->name);
		goto fail;
	}
	self = keys_federation_find(dc->fed, KEYS_ROLE_NODE, d->name);
	if (self == NULL || sodium_memcmp(self->pub.pk, d->pk, 32) != 0) {
		r = cairn_err(CAIRN_ERR_CONFIG, "federation '%s' does not list "
		    "node '%s' with this identity key", dc->fed->name, d->name);
		goto fail;
	}
	snprintf(d->origin, sizeof(d->origin), "cairn/%s", dc->fed->name);
	snprintf(d->logkey.name, sizeof(d->logkey.name), "%s", d->origin);
	d->logkey.type = TLOG_KEY_ED25519;
	memcpy(d->logkey.pub, coord->pub.pk, 32);
	tlog_key_id(d->origin, TLOG_KEY_ED25519, coord->pub.pk,
	    d->logkey.key_id);
	/* The checkpoint quorum: by default a majority of the nodes. */
	d->quorum = dc->cfg->witness_quorum < 0 ? tlog_fed_majority(dc->fed) :
	    (size_t)dc->cfg->witness_quorum;
	if (dc->cfg->witness_quorum == 0)
		log_warn("witness_quorum = 0: shares go out without a "
		    "majority of the nodes having cosigned the log; a split "
		    "view would go unnoticed");
	d->resend_due = true;	/* a restart finds its pending charges */
	d->call_ms = (unsigned)dc->cfg->call_deadline_seconds * 1000u;
	if (d->call_ms == 0)
		d->call_ms = TRANSPORT_DEFAULT_TIMEOUT_MS;
	*out = d;
	return CAIRN_OK;
fail:
	free(d);
	return r;
}

void
node_daemon_free(struct node_daemon *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->nfeds; i++)
		keys_federation_free(d->feds[i]);
	free(d->feds);
	free(d);
}

/*
 * federation.conf changed (a member rotated, added or removed): serve by
 * the new membership from the next task, when it is the same federation
 * with the same coordinator (the log key) and still lists this node with
 * its key.  Otherwise the line says why and the membership in force
 * stays.  Every loaded federation is kept until the end: a task may hold
 * one of its members.
 */
static void
fed_refresh(struct node_daemon *d)
{
	struct keys_federation *nf = NULL, **v;
	const struct keys_member *self, *co;
	const char *path = d->dc.cfg->federation;
	int r;

	if (!file_changed(path, &d->fed_stamp))
		return;
	if ((r = keys_federation_load(path, &nf)) != CAIRN_OK)
		goto fail;
	self = keys_federation_find(nf, KEYS_ROLE_NODE, d->name);
	if (strcmp(nf->name, d->dc.fed->name) != 0)
		r = cairn_err(CAIRN_ERR_CONFIG, "it names federation '%s', not "
		    "'%s'", nf->name, d->dc.fed->name);
	else if (keys_federation_coordinator(nf, &co) != CAIRN_OK ||
	    memcmp(co->pub.pk, d->logkey.pub, 32) != 0)
		r = cairn_err(CAIRN_ERR_CONFIG, "its coordinator's key is not "
		    "the log key this node follows");
	else if (self == NULL || sodium_memcmp(self->pub.pk, d->pk, 32) != 0)
		r = cairn_err(CAIRN_ERR_CONFIG, "it does not list node '%s' "
		    "with this node's identity key (rotated or removed: "
		    "restart the node with its new keys)", d->name);
	if (r != CAIRN_OK)
		goto fail;
	if ((v = realloc(d->feds, (d->nfeds + 1) * sizeof(*v))) == NULL) {
		r = CAIRN_ERR_NOMEM;
		goto fail;
	}
	d->feds = v;
	d->feds[d->nfeds++] = nf;
	d->dc.fed = nf;
	if (d->dc.cfg->witness_quorum < 0)
		d->quorum = tlog_fed_majority(nf);
	log_info("%s reloaded: %zu members, checkpoint quorum %zu", path,
	    nf->n, d->quorum);
	return;
fail:
	log_error("%s changed but is not taken: %s; the membership in force "
	    "stays", path, cairn_errdesc(r));
	keys_federation_free(nf);
}

int
node_daemon_poll_once(struct node_daemon *d, unsigned wait_ms, bool *got)
{
	Cairn__V1__PollTaskRequest req = CAIRN__V1__POLL_TASK_REQUEST__INIT;
	Cairn__V1__PollTaskResponse *resp = NULL;
	struct tlog_checkpoint latest;
	enum node_task_outcome oc;
	int64_t skew_ms;
	int r;

	if (got != NULL)
		*got = false;
	/*
	 * Before the first task: bring the ledger up to the log's CHARGE
	 * entries this node signed (a ledger restored from a backup, or
	 * deleted, would under-count), from the coordinator's newest
	 * checkpoint.  No task is served until that has succeeded.
	 */
	if (!d->rebuilt) {
		r = node_daemon_witness_checkpoint(d);
		if (r == CAIRN_OK || r == CAIRN_ERR_NOTFOUND)
			r = node_daemon_follow_log(d);
		if (r != CAIRN_OK)
			return r;
		d->rebuilt = true;
		node_metrics_rebuilt();
		if (node_metrics_budget(d->dc.ledger,
		    d->dc.cfg->policy.budget_rho_per_month_nano) != CAIRN_OK)
			log_warn("budget metrics: %s", cairn_errmsg());
	}
	/* First, charges the coordinator may not have logged go again (at
	 * start, and after an Advertise that failed): a broken channel
	 * ends this poll, so they go as soon as the coordinator answers. */
	if (d->resend_due && (r = node_daemon_resend_charges(d, NULL)) !=
	    CAIRN_OK) {
		if (node_is_transport_error(r))
			return r;
		log_error("re-sending charges: %s", cairn_errmsg());
	}
	r = tlog_witness_latest(d->dc.witness, d->origin, &latest, NULL, NULL);
	if (r == CAIRN_ERR_NOTFOUND)
		latest.size = 0;
	else if (r != CAIRN_OK)
		return r;
	req.last_seen_size = latest.size;
	req.wait_ms = wait_ms;
	if ((r = transport_unary(d->dc.client, proto_method(PROTO_POLL_TASK),
	    &req.base, wait_ms + d->call_ms, (ProtobufCMessage **)&resp)) !=
	    CAIRN_OK) {
		node_metrics_poll(false);
		return r;
	}
	node_metrics_poll(true);
	node_clock_note(d, resp->now_unix_ms);
	if (node_daemon_clock_skew(d, &skew_ms))
		node_metrics_clock_skew(skew_ms);
	if (resp->task != NULL) {
		if (got != NULL)
			*got = true;
		r = node_daemon_handle_task(d, resp->task, &oc);
		node_metrics_task(r, oc);
		if (node_metrics_budget(d->dc.ledger,
		    d->dc.cfg->policy.budget_rho_per_month_nano) != CAIRN_OK)
			log_warn("budget metrics: %s", cairn_errmsg());
	} else {
		r = node_daemon_witness_checkpoint(d);
		if (r == CAIRN_ERR_CONFLICT || r == CAIRN_ERR_SIGNATURE ||
		    r == CAIRN_ERR_PROOF || r == CAIRN_ERR_RANGE) {
			log_error("checkpoint refused: %s", cairn_errmsg());
			r = CAIRN_OK;
		}
	}
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	if (r != CAIRN_OK)
		return r;
	if ((r = node_daemon_follow_log(d)) != CAIRN_OK &&
	    !node_is_transport_error(r)) {
		log_error("following the log: %s", cairn_errmsg());
		r = CAIRN_OK;
	}
	return r;
}

/*
 * Back off for 'ms' (in slices, so a stop is prompt).  When the channel
 * is down, wait on it instead of sleeping: that drives its reconnection,
 * and the loop goes on as soon as the coordinator answers again rather
 * than at the end of the backoff (a coordinator back from a restart must
 * find its nodes polling within its advertise deadline).
 */
static void
backoff_wait(struct node_daemon *d, unsigned ms)
{
	struct timespec ts = { 0, 100 * 1000000L };
	bool was_down = !transport_client_is_ready(d->dc.client);

	int r;

	for (unsigned t = 0; t < ms && !node_daemon_stopping(d); t += 100) {
		if (!was_down) {
			nanosleep(&ts, NULL);
			continue;
		}
		r = transport_client_wait_ready(d->dc.client, 100);
		if (r == CAIRN_OK) {
			log_info("coordinator reachable again");
			return;
		}
		if (r != CAIRN_ERR_TIMEOUT)
			nanosleep(&ts, NULL);
	}
}

int
node_daemon_serve(struct node_daemon *d)
{
	unsigned backoff = BACKOFF_MIN_MS, wait, jitter;
	uint64_t expired;
	bool published = false;
	int r;

	log_info("node '%s' serving federation '%s' via %s", d->name,
	    d->dc.fed->name, d->dc.cfg->coordinator);
	while (!node_daemon_stopping(d)) {
		if (d->dc.reload != NULL && *d->dc.reload) {
			*d->dc.reload = 0;
			d->dc.reload_fn(d->dc.reload_arg);
		}
		/* Long-poll in slices of at most 5 s so a stop (or a
		 * reload, which may change poll_seconds) is prompt. */
		wait = (unsigned)d->dc.cfg->poll_seconds * 1000u;
		if (wait > 5000)
			wait = 5000;
		fed_refresh(d);
		if (node_ledger_expire(d->dc.ledger, (int64_t)time(NULL) -
		    d->dc.cfg->policy.retention_days * 86400, &expired) ==
		    CAIRN_OK && expired > 0)
			log_info("%llu kept vectors past their retention "
			    "deleted", (unsigned long long)expired);
		/* The policy goes into the log before the first task; a
		 * refusal of it is logged and the node serves anyway. */
		r = published ? CAIRN_OK : node_policy_publish(d, NULL, 0);
		if (r != CAIRN_OK && !node_is_transport_error(r)) {
			log_error("publishing the policy: %s", cairn_errmsg());
			r = CAIRN_OK;
		}
		if (r == CAIRN_OK) {
			published = true;
			r = node_daemon_poll_once(d, wait, NULL);
		}
		if (r == CAIRN_OK) {
			backoff = BACKOFF_MIN_MS;
			continue;
		}
		if (node_daemon_stopping(d))
			break;
		jitter = randombytes_uniform(backoff / 2 + 1);
		log_warn("%s; retrying in %u ms", cairn_errmsg(),
		    backoff + jitter);
		backoff_wait(d, backoff + jitter);
		backoff = backoff >= BACKOFF_MAX_MS / 2 ? BACKOFF_MAX_MS :
		    backoff * 2;
	}
	log_info("node '%s' stopped", d->name);
	return CAIRN_OK;
}
