/*
 * daemon_round.c - one task on the node's side of the federation round
 * (docs/federation.md §2): the log and query checks (node/task.c), the
 * charge (node/daemon_charge.c), then the round itself: advertise under
 * a fresh ephemeral key, wait for the roster and check it, wait for a
 * quorum of witnesses, mask the stored noisy vector and upload it in
 * chunks.  Each phase is timed (docs/benchmarks.md).
 *
 * Order within a task is the privacy argument: nothing derived from the
 * data leaves the process before the charge is on disk, and a retry
 * sends the stored noisy vector again, masked under fresh keys.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "common/bigmem.h"
#include "common/err.h"
#include "common/fault.h"
#include "common/log.h"
#include "node/daemon_int.h"
#include "protocol/secagg.h"

static void
advert_key(const uint8_t qhash[32], uint32_t attempt, char key[96])
{
	static const char hx[] = "0123456789abcdef";
	int k;

	k = snprintf(key, 96, "advertised/");
	for (int i = 0; i < 32; i++) {
		key[k++] = hx[qhash[i] >> 4];
		key[k++] = hx[qhash[i] & 15];
	}
	snprintf(key + k, (size_t)(96 - k), "/%u", attempt);
}

static int
get_roster(struct node_daemon *d, const Cairn__V1__Task *t,
    Cairn__V1__Roster **out)
{
	Cairn__V1__GetRosterRequest req = CAIRN__V1__GET_ROSTER_REQUEST__INIT;
	int64_t left;
	unsigned wait;
	int r;

	for (;;) {
		left = (t->deadline_unix - node_coord_now(d)) * 1000;
		if (left <= 0)
			return cairn_err(CAIRN_ERR_TIMEOUT, "query '%s': round "
			    "deadline passed before the roster was complete",
			    t->query_id);
		if (node_daemon_stopping(d))
			return cairn_err(CAIRN_ERR_CANCELLED, "stopping");
		wait = left < (int64_t)d->call_ms ? (unsigned)left : d->call_ms;
		req.query_id = t->query_id;
		req.attempt = t->attempt;
		req.wait_ms = wait;
		r = transport_unary(d->dc.client,
		    proto_method(PROTO_GET_ROSTER), &req.base,
		    wait + d->call_ms, (ProtobufCMessage **)out);
		/* Not complete yet: ask again until the deadline. */
		if (r == CAIRN_ERR_TIMEOUT || r == CAIRN_ERR_NOTFOUND)
			continue;
		return r;
	}
}

/* Chunk calls in flight while uploading a masked share. */
#define UPLOAD_INFLIGHT	2
/* upload()'s fallback to one thread assumes exactly one helper thread. */
_Static_assert(UPLOAD_INFLIGHT == 2, "upload() runs one helper thread");

/* The share upload, shared by its workers. */
struct upload_job {
	struct node_daemon	*d;
	const uint64_t		*y;
	size_t			 n, nchunks;
	const uint8_t		*manifest;	/* signed ShareManifest */
	size_t			 manifest_len;
	const uint8_t		*sig;
	pthread_mutex_t		 mu;
	int			 r;		/* first error */
	char			 msg[512];	/* its detail */
};

/* One worker: chunks first, first + step, ... until one fails. */
struct upload_worker {
	struct upload_job	*job;
	size_t			 first, step;
};

static bool
upload_failed(struct upload_job *job)
{
	bool failed;

	pthread_mutex_lock(&job->mu);
	failed = job->r != CAIRN_OK;
	pthread_mutex_unlock(&job->mu);
	return failed;
}

static void *
upload_chunks(void *arg)
{
	struct upload_worker *w = arg;
	struct upload_job *job = w->job;
	Cairn__V1__MaskedShareChunk ck = CAIRN__V1__MASKED_SHARE_CHUNK__INIT;
	ProtobufCMessage *resp;
	int r = CAIRN_OK;

	ck.manifest.data = (uint8_t *)job->manifest;
	ck.manifest.len = job->manifest_len;
	ck.signature.data = (uint8_t *)job->sig;
	ck.signature.len = KEYS_SIG_LEN;
	for (size_t i = w->first; i < job->nchunks; i += w->step) {
		size_t off = i * PROTO_CHUNK_CELLS;

		if (upload_failed(job))
			return NULL;
		ck.chunk_index = (uint32_t)i;
		ck.offset = off;
		ck.n_cells = job->n - off < PROTO_CHUNK_CELLS ? job->n - off :
		    PROTO_CHUNK_CELLS;
		ck.cells = (uint64_t *)(job->y + off);
		fault_point("node.mid_upload");
		resp = NULL;
		r = transport_unary(job->d->dc.client,
		    proto_method(PROTO_SUBMIT_SHARE), &ck.base, job->d->call_ms,
		    &resp);
		if (resp != NULL)
			protobuf_c_message_free_unpacked(resp, NULL);
		if (r != CAIRN_OK)
			break;
	}
	if (r != CAIRN_OK) {
		pthread_mutex_lock(&job->mu);
		if (job->r == CAIRN_OK) {
			job->r = r;
			snprintf(job->msg, sizeof(job->msg), "%s",
			    cairn_errmsg());
		}
		pthread_mutex_unlock(&job->mu);
	}
	return NULL;
}

/*
 * Upload the masked share in chunks of PROTO_CHUNK_CELLS cells, each
 * carrying the signed manifest, with UPLOAD_INFLIGHT calls in flight
 * (workers over interleaved chunk sets, each making its own calls through
 * the thread-safe client).  The first chunk to fail fails the upload
 * with its error; the other worker stops before its next chunk.
 */
static int
upload(struct node_daemon *d, const Cairn__V1__Task *t, const uint8_t sid[32],
    const uint64_t *y, size_t n)
{
	Cairn__V1__ShareManifest mf = CAIRN__V1__SHARE_MANIFEST__INIT;
	struct upload_job job;
	struct upload_worker w[UPLOAD_INFLIGHT];
	pthread_t th[UPLOAD_INFLIGHT];
	bool started[UPLOAD_INFLIGHT];
	uint8_t digest[32], sig[KEYS_SIG_LEN], *bytes = NULL;
	size_t len, nw, i;
	int r;

	secagg_cells_digest(y, n, digest);
	mf.query_id = t->query_id;
	mf.attempt = t->attempt;
	mf.node = (char *)d->name;
	mf.sid.data = (uint8_t *)sid;
	mf.sid.len = 32;
	mf.cells = n;
	mf.chunk_count = (uint32_t)((n + PROTO_CHUNK_CELLS - 1) /
	    PROTO_CHUNK_CELLS);
	mf.digest.data = digest;
	mf.digest.len = 32;
	if ((r = node_sign_msg(d, &mf.base, "share", &bytes, &len, sig)) !=
	    CAIRN_OK)
		return r;
	memset(&job, 0, sizeof(job));
	job.d = d;
	job.y = y;
	job.n = n;
	job.nchunks = mf.chunk_count;
	job.manifest = bytes;
	job.manifest_len = len;
	job.sig = sig;
	job.r = CAIRN_OK;
	if (pthread_mutex_init(&job.mu, NULL) != 0) {
		free(bytes);
		return cairn_err(CAIRN_ERR_INTERNAL, "upload mutex");
	}
	nw = job.nchunks < UPLOAD_INFLIGHT ? job.nchunks : UPLOAD_INFLIGHT;
	if (nw == 0)
		nw = 1;
	for (i = 0; i < nw; i++) {
		w[i].job = &job;
		w[i].first = i;
		w[i].step = nw;
		started[i] = false;
	}
	/* Worker 0 runs on this thread; when a thread cannot be started,
	 * this thread takes its chunks too. */
	for (i = 1; i < nw; i++)
		started[i] = pthread_create(&th[i], NULL, upload_chunks,
		    &w[i]) == 0;
	if (nw > 1 && !started[1]) {
		log_warn("upload: no second thread; one chunk at a time");
		w[0].step = 1;
	}
	(void)upload_chunks(&w[0]);
	for (i = 1; i < nw; i++)
		if (started[i])
			pthread_join(th[i], NULL);
	r = job.r;
	if (r != CAIRN_OK)
		(void)cairn_err(r, "%s", job.msg);
	pthread_mutex_destroy(&job.mu);
	free(bytes);
	return r;
}

/*
 * One advertisement per attempt, ever: the ephemeral key is never
 * written to disk, so after a restart the same attempt cannot be
 * continued and is left to fail; the analyst's retry is a new one.
 * '*before' is true (nothing written) when 't''s attempt was advertised
 * already.  Else the marker and the charge's re-send record for this
 * attempt ('n' cells) go in one transaction, on disk before the
 * advertisement leaves: a crash after the send must find the attempt
 * advertised.
 */
static int
round_mark_advertised(struct node_daemon *d, const Cairn__V1__Task *t,
    const struct node_task_query *tq, size_t n, bool *before)
{
	struct node_ledger_kv kv[2];
	char key[96], rkey[96], mark[8];
	uint8_t rec[NODE_RESEND_MAX];
	size_t marklen;
	int r;

	*before = false;
	advert_key(tq->qhash, t->attempt, key);
	r = node_ledger_state_get(d->dc.ledger, key, mark, sizeof(mark),
	    &marklen);
	if (r == CAIRN_OK) {
		*before = true;
		return CAIRN_OK;
	}
	if (r != CAIRN_ERR_NOTFOUND)
		return r;
	kv[0].key = key;
	kv[0].val = "1";
	kv[0].len = 1;
	if ((r = node_resend_record(tq->qhash, t->attempt, n, tq->q->query_id,
	    rkey, rec, &kv[1])) != CAIRN_OK)
		return r;
	return node_ledger_state_setv(d->dc.ledger, kv, 2);
}

/* Send a signed refusal that ends the attempt; a failure is only logged. */
static void
round_refuse(struct node_daemon *d, const Cairn__V1__Task *t,
    const struct node_task_query *tq, const char *code, const char *line)
{
	if (node_task_refuse(d, t, tq->qhash, code, line) != CAIRN_OK)
		log_warn("query '%s': refusal not taken: %s", t->query_id,
		    cairn_errmsg());
}

/*
 * Check roster 'ro' against the query and this node's own advertisement
 * 'own' ('n' cells; fills 'members' and '*self'), then wait for a quorum
 * of witnesses.  '*go' says whether to mask; when not, the attempt is
 * abandoned (with a signed refusal where a reason is due) and this
 * returns CAIRN_OK.  A transport error is returned for the serve loop.
 */
static int
round_check(struct node_daemon *d, const Cairn__V1__Task *t,
    const struct node_task_query *tq, size_t n, const Cairn__V1__Roster *ro,
    const Cairn__V1__SignedAdvertisement *own,
    struct secagg_member *members, size_t *self, bool *go)
{
	char line[512];
	int r;

	*go = false;
	if (node_roster_check(d, tq, t->attempt, n, ro, own, members,
	    self) != CAIRN_OK) {
		/*
		 * Never mask for a roster that is not exactly P; say so in
		 * a signed refusal, so the log shows which node saw a bad
		 * roster and the attempt ends now rather than at its
		 * deadline.  The charge and vector stay for a retry.
		 */
		snprintf(line, sizeof(line), "bad roster: %s", cairn_errmsg());
		log_warn("query '%s' attempt %u: %s; not masking",
		    t->query_id, t->attempt, line);
		round_refuse(d, t, tq, NODE_REFUSE_OTHER, line);
		return CAIRN_OK;
	}
	/*
	 * The checkpoint this share acts on must be the one a majority of
	 * the nodes witnessed: every participant cosigned it before
	 * advertising and witnesses the coordinator's checkpoint here.
	 */
	if ((r = node_task_await_quorum(d, t)) == CAIRN_OK) {
		*go = true;
		return CAIRN_OK;
	}
	if (node_is_transport_error(r))
		return r;
	if (r == CAIRN_ERR_STATE) {
		/* The attempt is over: nothing to refuse. */
		log_warn("%s", cairn_errmsg());
		return CAIRN_OK;
	}
	snprintf(line, sizeof(line), "%s", cairn_errmsg());
	log_error("query '%s' attempt %u: %s; not masking",
	    t->query_id, t->attempt, line);
	round_refuse(d, t, tq, NODE_REFUSE_LOG, line);
	return CAIRN_OK;
}

/*
 * Advertise under a fresh ephemeral key, check the roster, mask the
 * stored noisy vector with the check cell appended, wipe the key, upload.
 */
static int
run_round(struct node_daemon *d, const Cairn__V1__Task *t,
    const struct node_task_query *tq, int64_t cid, const int64_t *noisy,
    size_t ncells, enum node_task_outcome *outcome)
{
	struct node_advert a = { .cbytes = NULL, .abytes = NULL };
	Cairn__V1__Roster *ro = NULL;
	ProtobufCMessage *resp = NULL;
	struct secagg_member *members = NULL;
	uint8_t epk[SECAGG_KEY_LEN], *esk = NULL, sid[32];
	uint64_t *y = NULL;
	size_t self, n = ncells + 1;
	uint64_t clk = node_clock_ns();
	bool before, go;
	int r;

	if ((esk = sodium_malloc(SECAGG_KEY_LEN)) == NULL) {
		r = cairn_err(CAIRN_ERR_NOMEM, "ephemeral key");
		goto out;
	}
	/* the task's query id is the query's (node_task_check_query) */
	if ((r = secagg_keypair(epk, esk)) != CAIRN_OK ||
	    (r = node_advert_sign(d, tq->q->query_id, tq->qhash, cid,
	    t->attempt, n, epk, &a)) != CAIRN_OK)
		goto out;
	if ((r = round_mark_advertised(d, t, tq, n, &before)) != CAIRN_OK)
		goto out;
	if (before) {
		log_warn("query '%s' attempt %u: advertised before a restart; "
		    "leaving this attempt to fail", t->query_id, t->attempt);
		*outcome = NODE_TASK_ABANDONED;
		goto out;
	}
	fault_point("node.before_advertise");
	node_daemon_step(d, "advertise");
	if ((r = transport_unary(d->dc.client, proto_method(PROTO_ADVERTISE),
	    &a.sa.base, d->call_ms, &resp)) != CAIRN_OK) {
		/* The coordinator may have died before logging the
		 * charge: send it again once it answers. */
		d->resend_due = true;
		goto coord_failed;
	}
	node_resend_done(d, tq->qhash);
	node_timing_lap(d, NODE_PHASE_ADVERTISE, &clk);
	node_daemon_step(d, "advertised");
	fault_point("node.after_advertise");
	r = get_roster(d, t, &ro);
	node_timing_lap(d, NODE_PHASE_ROSTER, &clk);
	if (r != CAIRN_OK) {
		if (r == CAIRN_ERR_TIMEOUT || r == CAIRN_ERR_CANCELLED) {
			log_warn("%s", cairn_errmsg());
			*outcome = NODE_TASK_ABANDONED;
			r = CAIRN_OK;
			goto out;
		}
		goto coord_failed;
	}
	fault_point("node.after_roster");
	if ((members = calloc(tq->n, sizeof(*members))) == NULL) {
		r = cairn_err(CAIRN_ERR_NOMEM, "roster");
		goto out;
	}
	if ((r = round_check(d, t, tq, n, ro, &a.sa, members, &self, &go)) !=
	    CAIRN_OK)
		goto out;	/* a transport error */
	if (!go) {
		*outcome = NODE_TASK_ABANDONED;
		goto out;
	}
	node_timing_lap(d, NODE_PHASE_ROSTER, &clk);
	if ((r = secagg_sid(tq->qhash, members, tq->n, sid)) != CAIRN_OK)
		goto out;
	/*
	 * One buffer, masked in place, on huge pages: each fresh 4 MB
	 * buffer of ordinary pages cost 25-50 ms of page faults here
	 * (docs/benchmarks.md), and every node masks at the same moment.
	 */
	if ((y = big_alloc(n * sizeof(*y))) == NULL) {
		r = cairn_err(CAIRN_ERR_NOMEM, "vector of %zu cells", n);
		goto out;
	}
	memcpy(y, noisy, ncells * sizeof(*y));
	y[ncells] = secagg_check_value(sid);
	r = secagg_mask(esk, members, tq->n, self, sid, (const int64_t *)y,
	    y, n);
	sodium_free(esk);
	esk = NULL;
	if (r != CAIRN_OK)
		goto out;
	node_timing_lap(d, NODE_PHASE_MASK, &clk);
	node_daemon_step(d, "masked");
	fault_point("node.after_mask");
	r = upload(d, t, sid, y, n);
	node_timing_lap(d, NODE_PHASE_UPLOAD, &clk);
	if (r != CAIRN_OK)
		goto coord_failed;
	node_daemon_step(d, "shared");
	fault_point("node.after_upload");
	log_info("query '%s' attempt %u: masked share of %zu cells sent",
	    t->query_id, t->attempt, n);
	*outcome = NODE_TASK_SHARED;
	r = CAIRN_OK;
	goto out;
coord_failed:
	/*
	 * The coordinator answered with an error (the attempt failed or
	 * moved on): the charge and vector stay for a retry.  A broken
	 * channel is passed up so the serve loop backs off.
	 */
	if (!node_is_transport_error(r)) {
		log_warn("query '%s' attempt %u: coordinator: %s; abandoning "
		    "the attempt", t->query_id, t->attempt, cairn_errmsg());
		*outcome = NODE_TASK_ABANDONED;
		r = CAIRN_OK;
	}
out:
	if (esk != NULL)
		sodium_free(esk);
	if (y != NULL) {
		/* it held the noisy vector until masked */
		sodium_memzero(y, n * sizeof(*y));
		free(y);
	}
	free(members);
	node_advert_release(&a);
	if (resp != NULL)
		protobuf_c_message_free_unpacked(resp, NULL);
	if (ro != NULL)
		protobuf_c_message_free_unpacked(&ro->base, NULL);
	return r;
}

static int
refuse(struct node_daemon *d, const Cairn__V1__Task *t, const uint8_t *qhash,
    const char *code, enum node_task_outcome *outcome)
{
	char line[512];
	int r;

	snprintf(line, sizeof(line), "%s", cairn_errmsg());
	r = node_task_refuse(d, t, qhash, code, line);
	if (node_is_transport_error(r))
		return r;
	/* Refused either way; the coordinator may have closed the attempt
	 * already (another participant refused first). */
	if (r != CAIRN_OK)
		log_warn("query '%s': refusal not taken: %s",
		    t->query_id != NULL ? t->query_id : "", cairn_errmsg());
	node_daemon_step(d, "refused");
	fault_point("node.after_refuse");
	*outcome = NODE_TASK_REFUSED;
	return CAIRN_OK;
}

/*
 * Log where the task spent its time, one info line per task: the figures
 * bench/federation_report.py reads (docs/benchmarks.md, "Benchmark:
 * federation overhead").
 */
static void
log_timing(struct node_daemon *d, const Cairn__V1__Task *t, uint64_t start)
{
	char line[512];

	d->timing.total_ns = node_clock_ns() - start;
	d->timing.valid = true;
	node_task_timing_format(&d->timing, line, sizeof(line));
	log_info("timing: query '%s' attempt %u: %s",
	    t->query_id != NULL ? t->query_id : "", t->attempt, line);
}

static int
handle_task(struct node_daemon *d, const Cairn__V1__Task *t,
    enum node_task_outcome *outcome)
{
	struct node_task_query tq;
	struct node_ledger_round rd;
	struct node_vec_job job;
	const char *code = NODE_REFUSE_OTHER;
	int64_t cid, *noisy = NULL;
	size_t ncells = 0;
	uint64_t mark = node_clock_ns();
	char qmsg[512];
	int r, qr;

	memset(&tq, 0, sizeof(tq));
	memset(&job, 0, sizeof(job));
	job.d = d;
	job.tq = &tq;
	fault_point("node.task_received");
	/* Deadlines are the coordinator's: judged by its clock as
	 * measured on the poll (a wrong local clock must not drop tasks). */
	if (t->deadline_unix != 0 && t->deadline_unix < node_coord_now(d)) {
		log_warn("query '%s': task arrived %lld s past its deadline "
		    "(by the coordinator's clock; this node's is %lld ms %s)",
		    t->query_id, (long long)(node_coord_now(d) -
		    t->deadline_unix), (long long)(d->clock_skew_ms < 0 ?
		    -d->clock_skew_ms : d->clock_skew_ms),
		    d->clock_skew_ms > 0 ? "behind" : "ahead");
		return CAIRN_OK;
	}
	/*
	 * The query's own checks (local), then its computation on a thread
	 * while the log is checked over the network.  A failed log check
	 * is the refusal even when the query failed too, as before.
	 */
	qr = node_task_check_query(d, t, &tq, &code);
	node_timing_lap(d, NODE_PHASE_QUERY_CHECK, &mark);
	if (qr != CAIRN_OK)
		snprintf(qmsg, sizeof(qmsg), "%s", cairn_errmsg());
	else if (node_ledger_find_query(d->dc.ledger, tq.qhash, &rd) ==
	    CAIRN_ERR_NOTFOUND)
		node_vec_start(&job);
	r = node_task_verify_log(d, t);
	node_timing_lap(d, NODE_PHASE_LOG_CHECK, &mark);
	if (r == CAIRN_OK && job.started)
		node_vec_prenoise(&job);
	mark = node_clock_ns();
	node_vec_join(&job);
	if (job.done && mark > job.end_ns)
		d->timing.ns[NODE_PHASE_LOG_WAIT] = mark - job.end_ns;
	if (r != CAIRN_OK) {
		if (node_is_transport_error(r))
			goto out;
		log_error("query '%s': log check failed: %s",
		    t->query_id != NULL ? t->query_id : "", cairn_errmsg());
		r = refuse(d, t, NULL, NODE_REFUSE_LOG, outcome);
		goto out;
	}
	node_daemon_step(d, "cosigned");
	fault_point("node.after_witness");
	if (qr != CAIRN_OK) {
		(void)cairn_err(qr, "%s", qmsg);
		r = refuse(d, t, NULL, code, outcome);
		goto out;
	}
	node_daemon_step(d, "checked");
	if ((r = node_charge_for_task(d, t, &tq, &job, &cid, &noisy, &ncells,
	    &code)) != CAIRN_OK) {
		if (r == CAIRN_ERR_BUDGET || r == CAIRN_ERR_STATE ||
		    r == CAIRN_ERR_UNSUPPORTED || r == CAIRN_ERR_TOOBIG ||
		    r == CAIRN_ERR_RANGE || r == CAIRN_ERR_OVERFLOW)
			r = refuse(d, t, tq.qhash, code, outcome);
		goto out;
	}
	node_daemon_step(d, "charged");
	fault_point("node.after_charge");
	r = run_round(d, t, &tq, cid, noisy, ncells, outcome);
out:
	node_vec_discard(&job);
	if (noisy != NULL) {
		sodium_memzero(noisy, ncells * sizeof(*noisy));
		free(noisy);
	}
	node_task_query_release(&tq);
	return r;
}

int
node_daemon_handle_task(struct node_daemon *d, const Cairn__V1__Task *t,
    enum node_task_outcome *outcome)
{
	uint64_t start = node_clock_ns();
	int r;

	*outcome = NODE_TASK_ABANDONED;
	memset(&d->timing, 0, sizeof(d->timing));
	/* Every line of the task carries its query and attempt. */
	log_ctx_set_query(t->query_id, t->attempt);
	log_info("task: query '%s' attempt %u",
	    t->query_id != NULL ? t->query_id : "", t->attempt);
	r = handle_task(d, t, outcome);
	log_timing(d, t, start);
	log_ctx_clear();
	return r;
}
