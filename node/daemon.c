/*
 * daemon.c - the node's side of the federation round and its serve loop
 * (docs/federation.md, docs/node.md).
 *
 * Order within a task is the privacy argument: nothing derived from the
 * data leaves the process before the charge, the noisy vector and what
 * sends the charge to the log are on disk in the ledger (one
 * transaction); a refusal that depends on the records read (the vector
 * could not be computed) is charged the same way before it leaves; and a
 * retry of a query sends the stored noisy vector again (masked under
 * fresh keys), never a new draw.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "common/err.h"
#include "common/fault.h"
#include "common/rho.h"
#include "common/log.h"
#include "node/daemon_int.h"
#include "node/policy_publish.h"
#include "privacy/dp.h"
#include "protocol/tlog_entry.h"
#include "protocol/tlog_member.h"

#define FOLLOW_KEY	"log_follow"
#define FOLLOW_BATCH	1000
#define FOLLOW_MAX_HITS	100000
#define BACKOFF_MIN_MS	1000
#define BACKOFF_MAX_MS	15000

static void
step(struct node_daemon *d, const char *what)
{
	if (d->dc.step_hook != NULL)
		d->dc.step_hook(what, d->dc.step_arg);
}

static bool
stopping(const struct node_daemon *d)
{
	return d->dc.stop != NULL && *d->dc.stop != 0;
}

/* A failure of the channel rather than an answer from the coordinator. */
static bool
is_transport_error(int r)
{
	return r == CAIRN_ERR_NET || r == CAIRN_ERR_TIMEOUT ||
	    r == CAIRN_ERR_CANCELLED;
}

/* ------------------------------------------------------------ timing */

const char *const node_phase_names[NODE_PHASE_COUNT] = {
	"log_check", "query_check", "compute", "log_wait", "noise", "ledger",
	"advertise", "roster_wait", "mask", "upload"
};

uint64_t
node_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double
node_clock_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
node_task_timing_format(const struct node_task_timing *t, char *buf,
    size_t cap)
{
	size_t k = 0;
	int n;

	if (cap == 0)
		return;
	buf[0] = '\0';
	for (int i = 0; i < NODE_PHASE_COUNT && k < cap; i++) {
		n = snprintf(buf + k, cap - k, "%s %.6f ", node_phase_names[i],
		    (double)t->ns[i] / 1e9);
		if (n < 0)
			return;
		k += (size_t)n;
	}
	if (k < cap)
		(void)snprintf(buf + k, cap - k, "total %.6f compute_window "
		    "%.6f %.6f", (double)t->total_ns / 1e9, t->compute_start,
		    t->compute_end);
}

void
node_daemon_last_timing(const struct node_daemon *d,
    struct node_task_timing *out)
{
	*out = d->timing;
}

/* Add the time since '*mark' to 'phase' and move the mark to now. */
static void
lap(struct node_daemon *d, enum node_phase phase, uint64_t *mark)
{
	uint64_t now = node_clock_ns();

	d->timing.ns[phase] += now - *mark;
	*mark = now;
}

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
	free(d);
}

/* ------------------------------------------------------ charge, vector */

/*
 * What this node's charge for the query must be (docs/privacy.md,
 * dp_requirement()): each data-month's rho and sigma_h^2, for the query's
 * h, n, c and an output of 'cells' cells.  The months are the ones the
 * task listed (qspec_months(), the same function's).
 */
static int
charge_requirement(const struct node_task_query *tq, uint64_t cells,
    struct dp_requirement *req)
{
	struct dp_query dq;
	int r;

	if ((r = qspec_dp_query(&tq->spec, tq->h, &dq)) != CAIRN_OK ||
	    (r = dp_requirement(&dq, tq->q->rho_nano, tq->n, tq->c, cells,
	    req)) != CAIRN_OK)
		return r;
	if (req->nmonths != tq->nmonths || memcmp(req->month, tq->months,
	    tq->nmonths * sizeof(tq->months[0])) != 0)
		return cairn_err(CAIRN_ERR_INTERNAL, "query '%s': the months "
		    "charged differ from the months listed",
		    tq->q->query_id);
	return CAIRN_OK;
}

/*
 * Fill the noise and each month's charge of 'req' from the requirement
 * over 'cells' cells: req->month_rho_nano points at 'month_rho', and
 * req->rho_nano is the largest month's (never above the query's rho).
 */
static int
charge_plan(const struct node_task_query *tq, uint64_t cells,
    struct node_ledger_charge_req *req, int64_t month_rho[DP_MAX_MONTHS])
{
	struct dp_requirement need;
	int r;

	if ((r = charge_requirement(tq, cells, &need)) != CAIRN_OK)
		return r;
	req->rho_nano = 0;
	for (size_t i = 0; i < need.nmonths; i++) {
		month_rho[i] = (int64_t)need.rho_nano[i];
		if (month_rho[i] > req->rho_nano)
			req->rho_nano = month_rho[i];
	}
	req->month_rho_nano = month_rho;
	req->noise_variance = need.sigma_h2;
	return CAIRN_OK;
}

/* Noise threads: at most this many, each over at least NOISE_MIN_CELLS. */
#define NOISE_MAX_THREADS	4
#define NOISE_MIN_CELLS		65536

/* One noise thread's share of the vector. */
struct noise_part {
	struct dp_rat	 s2;
	int64_t		*out;
	size_t		 n;
	int		 r;
	char		 msg[256];
};

static void *
noise_run(void *arg)
{
	struct noise_part *p = arg;
	struct dp_rng *rng = NULL;

	if ((p->r = dp_rng_new_csprng(&rng)) == CAIRN_OK)
		p->r = dp_dgauss_fill(rng, p->s2, p->out, p->n);
	if (p->r != CAIRN_OK)
		snprintf(p->msg, sizeof(p->msg), "%s", cairn_errmsg());
	dp_rng_free(rng);
	return NULL;
}

/*
 * Draw n discrete Gaussian samples of variance s2 into 'out'.  The
 * samples are independent, so a large vector is cut into consecutive
 * parts drawn by up to NOISE_MAX_THREADS threads (one per online CPU),
 * each with its own generator from libsodium's CSPRNG
 * (dp_rng_new_csprng()); a part whose thread cannot start is drawn here.
 */
static int
noise_fill(struct dp_rat s2, int64_t *out, size_t n)
{
	struct noise_part part[NOISE_MAX_THREADS];
	pthread_t th[NOISE_MAX_THREADS];
	bool started[NOISE_MAX_THREADS];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t k, i, off = 0;
	int r = CAIRN_OK;

	k = cpus > 1 ? (size_t)cpus : 1;
	if (k > NOISE_MAX_THREADS)
		k = NOISE_MAX_THREADS;
	if (k > n / NOISE_MIN_CELLS)
		k = n / NOISE_MIN_CELLS > 0 ? n / NOISE_MIN_CELLS : 1;
	for (i = 0; i < k; i++) {
		part[i].s2 = s2;
		part[i].out = out + off;
		part[i].n = n / k + (i < n % k ? 1 : 0);
		part[i].r = CAIRN_OK;
		part[i].msg[0] = '\0';
		off += part[i].n;
		started[i] = false;
	}
	for (i = 1; i < k; i++)
		started[i] = pthread_create(&th[i], NULL, noise_run,
		    &part[i]) == 0;
	(void)noise_run(&part[0]);
	for (i = 1; i < k; i++) {
		if (started[i])
			pthread_join(th[i], NULL);
		else
			(void)noise_run(&part[i]);
	}
	for (i = 0; i < k; i++)
		if (part[i].r != CAIRN_OK && r == CAIRN_OK)
			r = cairn_err(part[i].r, "%s", part[i].msg);
	return r;
}

/*
 * The exact vector of a task.  It is computed on its own thread from the
 * moment the query passed its checks, while the log is checked over the
 * network; nothing derived from it leaves the process before the charge,
 * and it is wiped unused when the log check fails.
 */
struct vec_job {
	struct node_daemon		*d;
	const struct node_task_query	*tq;
	int64_t				*exact;
	uint64_t			 n;
	int				 r;
	char				 msg[512];	/* the error detail */
	uint64_t			 ns, end_ns;	/* monotonic */
	double				 start, end;	/* wall clock */
	pthread_t			 th;
	bool				 started;	/* a thread runs it */
	bool				 done;
};

static void *
vec_run(void *arg)
{
	struct vec_job *j = arg;
	uint64_t t0 = node_clock_ns();

	j->start = node_clock_wall();
	j->r = j->d->dc.vectors.compute(j->d->dc.vectors.ctx, &j->tq->spec,
	    j->tq->q->spec->geography, &j->exact, &j->n);
	j->end_ns = node_clock_ns();
	j->ns = j->end_ns - t0;
	j->end = node_clock_wall();
	if (j->r != CAIRN_OK)
		snprintf(j->msg, sizeof(j->msg), "%s", cairn_errmsg());
	j->done = true;
	return NULL;
}

/* Start the computation on its own thread (else it runs on demand). */
static void
vec_start(struct vec_job *j)
{
	j->started = pthread_create(&j->th, NULL, vec_run, j) == 0;
}

/* Wait for a started computation; record its time in the task's. */
static void
vec_join(struct vec_job *j)
{
	if (!j->started)
		return;
	pthread_join(j->th, NULL);
	j->started = false;
}

static void
vec_discard(struct vec_job *j)
{
	vec_join(j);
	if (j->exact != NULL) {
		sodium_memzero(j->exact, (size_t)j->n * sizeof(*j->exact));
		free(j->exact);
		j->exact = NULL;
	}
}

/* ------------------------------------------------- re-send records */

static void
hex32(const uint8_t b[32], char out[65])
{
	static const char hx[] = "0123456789abcdef";

	for (int i = 0; i < 32; i++) {
		out[2 * i] = hx[b[i] >> 4];
		out[2 * i + 1] = hx[b[i] & 15];
	}
	out[64] = '\0';
}

/*
 * The re-send record of a query's charge ("resend/<query hash>"): the
 * attempt of its last advertisement (4 bytes), its vector length (8) and
 * the query id.  It is written in the ledger transaction of the charge
 * itself (node_ledger_charge(): never a charge on disk without it, even
 * when the disk fills up between two writes), again with the attempt
 * marker before each advertisement of a retry, and emptied once the
 * coordinator acknowledged a CHARGE for it.  A charge whose record is not
 * empty and whose CHARGE the node has not seen in the log is pending:
 * node_daemon_resend_charges() sends it again.  Both halves are in the
 * ledger database, so a restarted node finds the same set.
 */
#define RESEND_PREFIX	"resend/"
#define RESEND_MAX	(4 + 8 + 128)

static void
resend_key(const uint8_t qhash[32], char key[96])
{
	char hx[65];

	hex32(qhash, hx);
	snprintf(key, 96, RESEND_PREFIX "%s", hx);
}

/*
 * The re-send record of 'qhash' for 'attempt', a vector of 'cells' cells
 * and 'query_id' into 'kv', pointing into 'key' and 'v'.
 */
static int
resend_record(const uint8_t qhash[32], uint32_t attempt, uint64_t cells,
    const char *query_id, char key[96], uint8_t v[RESEND_MAX],
    struct node_ledger_kv *kv)
{
	size_t n = strlen(query_id);

	if (n > RESEND_MAX - 12)
		return cairn_err(CAIRN_ERR_TOOBIG, "query id of %zu bytes", n);
	resend_key(qhash, key);
	memcpy(v, &attempt, 4);
	memcpy(v + 4, &cells, 8);
	memcpy(v + 12, query_id, n);
	kv->key = key;
	kv->val = v;
	kv->len = 12 + n;
	return CAIRN_OK;
}

/* The coordinator acknowledged the charge: nothing left to re-send. */
static void
resend_done(struct node_daemon *d, const uint8_t qhash[32])
{
	char key[96];

	resend_key(qhash, key);
	if (node_ledger_state_set(d->dc.ledger, key, "", 0) != CAIRN_OK)
		log_warn("clearing the re-send record: %s", cairn_errmsg());
}

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

static int	resend_one(struct node_daemon *, int64_t, const uint8_t[32],
	    const uint8_t *, size_t);

/*
 * A computation that failed has read the holder's records for this query,
 * so a refusal saying so depends on them (a file over max_bad_fraction,
 * the subject cap, an engine limit): it is charged like a vector
 * (docs/privacy.md, "Refusals that depend on the data").  'req' is the
 * charge without its vector and state; the charge (no vector kept: the
 * round is closed from the start) and its re-send record, naming the
 * domain's length from public inputs, are committed in one transaction,
 * then the charge goes to the coordinator as a key-less advertisement
 * (logged as a late CHARGE) before the caller refuses.  A broken channel
 * leaves it pending for the next poll's re-send.  Returns CAIRN_OK once
 * the charge is on disk, CAIRN_ERR_BUDGET (nothing written), or an error.
 */
static int
charge_refusal(struct node_daemon *d, const Cairn__V1__Task *t,
    const struct node_task_query *tq, struct node_ledger_charge_req *req,
    int64_t *cid)
{
	struct node_ledger_kv kv;
	uint8_t rec[RESEND_MAX];
	char key[96], rtext[RHO_TEXT_MAX];
	int64_t month_rho[DP_MAX_MONTHS];
	uint64_t n = 0;
	int r;

	if (d->dc.vectors.domain == NULL)
		return cairn_err(CAIRN_ERR_INTERNAL, "the vector source has "
		    "no domain");
	if ((r = d->dc.vectors.domain(d->dc.vectors.ctx, &tq->spec,
	    tq->q->spec->geography, &n)) != CAIRN_OK ||
	    (r = charge_plan(tq, n, req, month_rho)) != CAIRN_OK ||
	    (r = resend_record(tq->qhash, t->attempt, n + 1, tq->q->query_id,
	    key, rec, &kv)) != CAIRN_OK)
		return r;
	req->cells = NULL;
	req->ncells = 0;
	req->state = &kv;
	req->nstate = 1;
	if ((r = node_ledger_charge(d->dc.ledger, req, cid)) != CAIRN_OK)
		return r;
	log_info("charged query '%s' without a vector: rho up to %s on %zu "
	    "data-months (its computation failed)", tq->q->query_id,
	    rho_format((uint64_t)req->rho_nano, rtext), tq->nmonths);
	step(d, "charged_refusal");
	r = resend_one(d, *cid, tq->qhash, rec, kv.len);
	if (is_transport_error(r)) {
		log_warn("ledger charge %lld: %s; sent again at the next poll",
		    (long long)*cid, cairn_errmsg());
		d->resend_due = true;
		return CAIRN_OK;
	}
	if (r != CAIRN_OK)
		log_error("ledger charge %lld: the coordinator will not log it "
		    "(%s); the ledger keeps it (an over-count)",
		    (long long)*cid, cairn_errmsg());
	resend_done(d, tq->qhash);
	return CAIRN_OK;
}

/*
 * Take the exact vector ('job' computed it already, else compute it now),
 * draw the whole noise vector, add it and commit charge, noisy vector and
 * the charge's re-send record (for 't''s attempt) in one durable ledger
 * transaction.  The exact counts and the noise are wiped before return.
 * On success '*cid', '*noisy' (malloc'd) and '*ncells'.  A computation
 * that failed is charged (charge_refusal()) and then CAIRN_ERR_UNSUPPORTED
 * with a line that says nothing of the data.
 */
static int
charge_new(struct node_daemon *d, const Cairn__V1__Task *t,
    const struct node_task_query *tq, struct vec_job *job, int64_t *cid,
    int64_t **noisy, size_t *ncells)
{
	struct node_ledger_charge_req req;
	struct node_ledger_kv kv;
	struct dp_rat s2;
	int64_t *exact = NULL, *noise = NULL, budget_nano;
	int64_t month_rho[DP_MAX_MONTHS];
	uint64_t n = 0, sigma_h2;
	char label[LEDGER_MAX_LABEL], key[96], rtext[RHO_TEXT_MAX];
	uint8_t rec[RESEND_MAX];
	uint64_t mark;
	int r;

	/* nano-ρ from the signed query as is: no rounding anywhere. */
	if (tq->q->rho_nano == 0 || tq->q->rho_nano > RHO_NANO_MAX)
		return cairn_err(CAIRN_ERR_RANGE, "query '%s': rho_nano %llu "
		    "is not in [1, 10^18]", tq->q->query_id,
		    (unsigned long long)tq->q->rho_nano);
	budget_nano = (int64_t)d->dc.cfg->policy.budget_rho_per_month_nano;
	snprintf(label, sizeof(label), "%s %s: %s",
	    qspec_kind_name(tq->spec.kind), tq->q->analyst->name,
	    tq->q->purpose);
	memset(&req, 0, sizeof(req));
	memcpy(req.query_hash, tq->qhash, 32);
	memcpy(req.pset_hash, tq->pset, 32);
	req.months = tq->months;
	req.nmonths = tq->nmonths;
	req.budget_nano = budget_nano;
	req.label = label;
	req.query_id = tq->q->query_id;
	vec_join(job);
	if (!job->done)
		(void)vec_run(job);
	d->timing.ns[NODE_PHASE_COMPUTE] = job->ns;
	d->timing.compute_start = job->start;
	d->timing.compute_end = job->end;
	mark = node_clock_ns();
	r = job->r;
	exact = job->exact;
	n = job->n;
	job->exact = NULL;
	if (r != CAIRN_OK) {
		/* The detail stays here: it may describe the holder's data. */
		log_error("query '%s': computing the vector: %s",
		    tq->q->query_id, job->msg);
		goto refused;
	}
	fault_point("node.after_compute");
	if (n == 0 || n >= (uint64_t)LEDGER_MAX_CELLS) {
		r = cairn_err(CAIRN_ERR_TOOBIG, "query '%s' has %llu cells "
		    "(1 to %lld accepted)", tq->q->query_id,
		    (unsigned long long)n, (long long)LEDGER_MAX_CELLS - 1);
		goto out;
	}
	/* The noise and each month's charge, for the 'n' cells computed
	   (the coordinator checks every node's vector has the domain's). */
	if ((r = charge_plan(tq, n, &req, month_rho)) != CAIRN_OK)
		goto out;
	sigma_h2 = (uint64_t)req.noise_variance;
	if ((noise = malloc((size_t)n * sizeof(*noise))) == NULL) {
		r = cairn_err(CAIRN_ERR_NOMEM, "noise of %llu cells",
		    (unsigned long long)n);
		goto out;
	}
	s2.num = sigma_h2;
	s2.den = 1;
	if ((r = noise_fill(s2, noise, (size_t)n)) != CAIRN_OK)
		goto out;
	for (uint64_t i = 0; i < n; i++)
		if (__builtin_add_overflow(exact[i], noise[i], &exact[i])) {
			/* An exact count this large is the data's doing. */
			log_error("query '%s': cell %llu overflows with its "
			    "noise", tq->q->query_id, (unsigned long long)i);
			goto refused;
		}
	lap(d, NODE_PHASE_NOISE, &mark);
	fault_point("node.after_noise");
	if ((r = resend_record(tq->qhash, t->attempt, n + 1, tq->q->query_id,
	    key, rec, &kv)) != CAIRN_OK)
		goto out;
	req.cells = exact;
	req.ncells = (size_t)n;
	req.state = &kv;
	req.nstate = 1;
	r = node_ledger_charge(d->dc.ledger, &req, cid);
	lap(d, NODE_PHASE_LEDGER, &mark);
	if (r != CAIRN_OK)
		goto out;
	log_info("charged query '%s': rho up to %s on %zu data-months, "
	    "sigma_h^2 %llu, %llu cells", tq->q->query_id,
	    rho_format((uint64_t)req.rho_nano, rtext), tq->nmonths,
	    (unsigned long long)req.noise_variance, (unsigned long long)n);
	*noisy = exact;
	*ncells = (size_t)n;
	exact = NULL;
	r = CAIRN_OK;
	goto out;
refused:
	if ((r = charge_refusal(d, t, tq, &req, cid)) == CAIRN_OK)
		r = cairn_err(CAIRN_ERR_UNSUPPORTED, "this node could not "
		    "compute its vector for query '%s' (see its log); the "
		    "query is charged", tq->q->query_id);
out:
	if (noise != NULL) {
		sodium_memzero(noise, (size_t)n * sizeof(*noise));
		free(noise);
	}
	if (exact != NULL) {
		sodium_memzero(exact, (size_t)n * sizeof(*exact));
		free(exact);
	}
	return r;
}

/*
 * The charge this task pays with: the open one of a retry, or a new one.
 * On a refusal '*code' is set and the detail is its line.
 */
static int
charge_for_task(struct node_daemon *d, const Cairn__V1__Task *t,
    const struct node_task_query *tq, struct vec_job *job, int64_t *cid, int64_t **noisy, size_t *ncells,
    const char **code)
{
	struct node_ledger_round rd;
	int64_t retain;
	uint64_t mark;
	int r;

	*code = NODE_REFUSE_OTHER;
	r = node_ledger_find_query(d->dc.ledger, tq->qhash, &rd);
	if (r == CAIRN_ERR_NOTFOUND) {
		r = charge_new(d, t, tq, job, cid, noisy, ncells);
		if (r == CAIRN_ERR_BUDGET)
			*code = NODE_REFUSE_BUDGET;
		return r;
	}
	if (r != CAIRN_OK)
		return r;
	retain = d->dc.cfg->policy.retention_days * 86400;
	if (rd.vector_kept && rd.created + retain < (int64_t)time(NULL)) {
		if ((r = node_ledger_close_round(d->dc.ledger, rd.id)) !=
		    CAIRN_OK)
			return r;
		rd.vector_kept = false;
	}
	if (!rd.vector_kept || sodium_memcmp(rd.pset_hash, tq->pset, 32) != 0)
		return cairn_err(CAIRN_ERR_STATE, "query '%s' was charged "
		    "before (ledger charge %lld) and its round is closed "
		    "(released or past its retention); not charging again",
		    tq->q->query_id, (long long)rd.id);
	mark = node_clock_ns();
	r = node_ledger_find_open(d->dc.ledger, tq->qhash, tq->pset, cid,
	    noisy, ncells);
	lap(d, NODE_PHASE_LEDGER, &mark);
	if (r != CAIRN_OK)
		return r;
	log_info("query '%s': reusing the noisy vector of ledger charge %lld",
	    tq->q->query_id, (long long)*cid);
	return CAIRN_OK;
}

/* ------------------------------------------------------------- the round */

/*
 * The signed Charge of ledger charge 'cid' for query 'query_id' (hash
 * 'qhash') in 'attempt', for a vector of 'cells' cells: the same bytes
 * whenever it is rebuilt (a retry, a re-send), but for the attempt.
 */
static int
build_charge(struct node_daemon *d, const char *query_id,
    const uint8_t qhash[32], int64_t cid, uint32_t attempt, uint64_t cells,
    Cairn__V1__SignedCharge *sc, uint8_t **bytes,
    uint8_t sig[static KEYS_SIG_LEN])
{
	Cairn__V1__Charge ch = CAIRN__V1__CHARGE__INIT;
	struct node_ledger_month lm[LEDGER_MAX_MONTHS];
	Cairn__V1__MonthCharge mc[LEDGER_MAX_MONTHS], *mp[LEDGER_MAX_MONTHS];
	char names[LEDGER_MAX_MONTHS][16];
	int64_t budget;
	uint64_t var;
	size_t n, len, i;
	int r;

	if ((r = node_ledger_charge_months(d->dc.ledger, cid, lm,
	    LEDGER_MAX_MONTHS, &n)) != CAIRN_OK ||
	    (r = node_ledger_charge_params(d->dc.ledger, cid, &budget, &var)) !=
	    CAIRN_OK)
		return r;
	for (i = 0; i < n; i++) {
		cairn__v1__month_charge__init(&mc[i]);
		snprintf(names[i], sizeof(names[i]), "%04d-%02d",
		    (int)(lm[i].month / 12), (int)(lm[i].month % 12) + 1);
		mc[i].month = names[i];
		mc[i].rho_nano = (uint64_t)lm[i].rho_nano;
		mc[i].cumulative_rho_nano = (uint64_t)lm[i].cumulative_nano;
		mp[i] = &mc[i];
	}
	ch.query_id = (char *)query_id;
	ch.query_hash.data = (uint8_t *)qhash;
	ch.query_hash.len = 32;
	ch.node = (char *)d->name;
	ch.n_months = n;
	ch.months = mp;
	ch.attempt = attempt;
	ch.budget_rho_per_month_nano = (uint64_t)budget;
	ch.noise_variance = var;
	ch.cells = cells;
	if ((r = node_sign_msg(d, &ch.base, "charge", bytes, &len, sig)) !=
	    CAIRN_OK)
		return r;
	sc->charge.data = *bytes;
	sc->charge.len = len;
	sc->signature.data = sig;
	sc->signature.len = KEYS_SIG_LEN;
	return CAIRN_OK;
}

/* A signed advertisement and the buffers it points into. */
struct advert {
	Cairn__V1__SignedCharge		 sc;
	Cairn__V1__Advertisement	 ad;
	Cairn__V1__SignedAdvertisement	 sa;
	uint8_t				 csig[KEYS_SIG_LEN];
	uint8_t				 asig[KEYS_SIG_LEN];
	uint8_t				*cbytes, *abytes;
};

/*
 * Sign into 'a' the advertisement carrying ledger charge 'cid' (the
 * arguments of build_charge), under the ephemeral public key 'epk', or
 * without a key when 'epk' is NULL: a charge sent again, which is never
 * part of a round.  'a' points into 'query_id' and 'epk'.  Release 'a'
 * with advert_release() whatever this returns.
 */
static int
advert_sign(struct node_daemon *d, const char *query_id,
    const uint8_t qhash[32], int64_t cid, uint32_t attempt, uint64_t cells,
    const uint8_t *epk, struct advert *a)
{
	size_t alen;
	int r;

	cairn__v1__signed_charge__init(&a->sc);
	cairn__v1__advertisement__init(&a->ad);
	cairn__v1__signed_advertisement__init(&a->sa);
	a->cbytes = a->abytes = NULL;
	if ((r = build_charge(d, query_id, qhash, cid, attempt, cells,
	    &a->sc, &a->cbytes, a->csig)) != CAIRN_OK)
		return r;
	a->ad.query_id = (char *)query_id;
	a->ad.attempt = attempt;
	a->ad.node = (char *)d->name;
	if (epk != NULL) {
		a->ad.x25519_public.data = (uint8_t *)epk;
		a->ad.x25519_public.len = SECAGG_KEY_LEN;
	}
	a->ad.charge = &a->sc;
	if ((r = node_sign_msg(d, &a->ad.base, "advertisement", &a->abytes,
	    &alen, a->asig)) != CAIRN_OK)
		return r;
	a->sa.advertisement.data = a->abytes;
	a->sa.advertisement.len = alen;
	a->sa.signature.data = a->asig;
	a->sa.signature.len = KEYS_SIG_LEN;
	return CAIRN_OK;
}

static void
advert_release(struct advert *a)
{
	free(a->cbytes);
	free(a->abytes);
	a->cbytes = a->abytes = NULL;
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
		left = (t->deadline_unix - (int64_t)time(NULL)) * 1000;
		if (left <= 0)
			return cairn_err(CAIRN_ERR_TIMEOUT, "query '%s': round "
			    "deadline passed before the roster was complete",
			    t->query_id);
		if (stopping(d))
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

static void
digest_vector(const uint64_t *y, size_t n, uint8_t out[32])
{
	crypto_generichash_state st;
	uint8_t buf[8 * 256];
	size_t i, k;

	crypto_generichash_init(&st, NULL, 0, 32);
	for (i = 0; i < n; i += k) {
		k = n - i < 256 ? n - i : 256;
		for (size_t j = 0; j < k; j++)
			for (int b = 0; b < 8; b++)
				buf[8 * j + (size_t)b] =
				    (uint8_t)(y[i + j] >> (8 * b));
		crypto_generichash_update(&st, buf, 8 * k);
	}
	crypto_generichash_final(&st, out, 32);
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

	digest_vector(y, n, digest);
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
 * Advertise under a fresh ephemeral key, check the roster, mask the
 * stored noisy vector with the check cell appended, wipe the key, upload.
 */
static int
run_round(struct node_daemon *d, const Cairn__V1__Task *t,
    const struct node_task_query *tq, int64_t cid, const int64_t *noisy,
    size_t ncells, enum node_task_outcome *outcome)
{
	struct advert a = { .cbytes = NULL, .abytes = NULL };
	Cairn__V1__Roster *ro = NULL;
	ProtobufCMessage *resp = NULL;
	struct secagg_member *members = NULL;
	uint8_t epk[SECAGG_KEY_LEN], *esk = NULL, sid[32];
	int64_t *x = NULL;
	uint64_t *y = NULL;
	struct node_ledger_kv kv[2];
	size_t self, n = ncells + 1, marklen;
	char key[96], rkey[96], mark[8];
	uint8_t rec[RESEND_MAX];
	uint64_t clk = node_clock_ns();
	int r;

	if ((esk = sodium_malloc(SECAGG_KEY_LEN)) == NULL) {
		r = cairn_err(CAIRN_ERR_NOMEM, "ephemeral key");
		goto out;
	}
	/* the task's query id is the query's (node_task_check_query) */
	if ((r = secagg_keypair(epk, esk)) != CAIRN_OK ||
	    (r = advert_sign(d, tq->q->query_id, tq->qhash, cid, t->attempt,
	    n, epk, &a)) != CAIRN_OK)
		goto out;
	/*
	 * One advertisement per attempt, ever: the ephemeral key is never
	 * written to disk, so after a restart the same attempt cannot be
	 * continued and is left to fail; the analyst's retry is a new one.
	 */
	advert_key(tq->qhash, t->attempt, key);
	r = node_ledger_state_get(d->dc.ledger, key, mark, sizeof(mark),
	    &marklen);
	if (r == CAIRN_OK) {
		log_warn("query '%s' attempt %u: advertised before a restart; "
		    "leaving this attempt to fail", t->query_id, t->attempt);
		*outcome = NODE_TASK_ABANDONED;
		goto out;
	}
	if (r != CAIRN_ERR_NOTFOUND)
		goto out;
	/*
	 * The marker and the charge's re-send record for this attempt, in
	 * one transaction, on disk before the advertisement leaves: a crash
	 * after the send must find the attempt advertised.
	 */
	kv[0].key = key;
	kv[0].val = "1";
	kv[0].len = 1;
	if ((r = resend_record(tq->qhash, t->attempt, n, tq->q->query_id,
	    rkey, rec, &kv[1])) != CAIRN_OK ||
	    (r = node_ledger_state_setv(d->dc.ledger, kv, 2)) != CAIRN_OK)
		goto out;
	fault_point("node.before_advertise");
	step(d, "advertise");
	if ((r = transport_unary(d->dc.client, proto_method(PROTO_ADVERTISE),
	    &a.sa.base, d->call_ms, &resp)) != CAIRN_OK) {
		/* The coordinator may have died before logging the
		 * charge: send it again once it answers. */
		d->resend_due = true;
		goto coord_failed;
	}
	resend_done(d, tq->qhash);
	lap(d, NODE_PHASE_ADVERTISE, &clk);
	step(d, "advertised");
	fault_point("node.after_advertise");
	r = get_roster(d, t, &ro);
	lap(d, NODE_PHASE_ROSTER, &clk);
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
	if ((r = node_roster_check(d, tq, t->attempt, n, ro, &a.sa, members,
	    &self)) != CAIRN_OK) {
		char line[512];

		/*
		 * Never mask for a roster that is not exactly P; say so in
		 * a signed refusal, so the log shows which node saw a bad
		 * roster and the attempt ends now rather than at its
		 * deadline.  The charge and vector stay for a retry.
		 */
		snprintf(line, sizeof(line), "bad roster: %s", cairn_errmsg());
		log_warn("query '%s' attempt %u: %s; not masking",
		    t->query_id, t->attempt, line);
		if (node_task_refuse(d, t, tq->qhash, NODE_REFUSE_OTHER, line)
		    != CAIRN_OK)
			log_warn("query '%s': refusal not taken: %s",
			    t->query_id, cairn_errmsg());
		*outcome = NODE_TASK_ABANDONED;
		r = CAIRN_OK;
		goto out;
	}
	/*
	 * The checkpoint this share acts on must be the one a majority of
	 * the nodes witnessed: every participant cosigned it before
	 * advertising and witnesses the coordinator's checkpoint here.
	 */
	if ((r = node_task_await_quorum(d, t)) != CAIRN_OK) {
		char line[512];

		if (is_transport_error(r))
			goto coord_failed;
		if (r == CAIRN_ERR_STATE) {
			/* The attempt is over: nothing to refuse. */
			log_warn("%s", cairn_errmsg());
			*outcome = NODE_TASK_ABANDONED;
			r = CAIRN_OK;
			goto out;
		}
		snprintf(line, sizeof(line), "%s", cairn_errmsg());
		log_error("query '%s' attempt %u: %s; not masking",
		    t->query_id, t->attempt, line);
		if (node_task_refuse(d, t, tq->qhash, NODE_REFUSE_LOG, line)
		    != CAIRN_OK)
			log_warn("query '%s': refusal not taken: %s",
			    t->query_id, cairn_errmsg());
		*outcome = NODE_TASK_ABANDONED;
		r = CAIRN_OK;
		goto out;
	}
	lap(d, NODE_PHASE_ROSTER, &clk);
	if ((r = secagg_sid(tq->qhash, members, tq->n, sid)) != CAIRN_OK)
		goto out;
	if ((x = malloc(n * sizeof(*x))) == NULL ||
	    (y = malloc(n * sizeof(*y))) == NULL) {
		r = cairn_err(CAIRN_ERR_NOMEM, "vector of %zu cells", n);
		goto out;
	}
	memcpy(x, noisy, ncells * sizeof(*x));
	x[ncells] = (int64_t)secagg_check_value(sid);
	r = secagg_mask(esk, members, tq->n, self, sid, x, y, n);
	sodium_free(esk);
	esk = NULL;
	if (r != CAIRN_OK)
		goto out;
	lap(d, NODE_PHASE_MASK, &clk);
	step(d, "masked");
	fault_point("node.after_mask");
	r = upload(d, t, sid, y, n);
	lap(d, NODE_PHASE_UPLOAD, &clk);
	if (r != CAIRN_OK)
		goto coord_failed;
	step(d, "shared");
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
	if (!is_transport_error(r)) {
		log_warn("query '%s' attempt %u: coordinator: %s; abandoning "
		    "the attempt", t->query_id, t->attempt, cairn_errmsg());
		*outcome = NODE_TASK_ABANDONED;
		r = CAIRN_OK;
	}
out:
	if (esk != NULL)
		sodium_free(esk);
	if (x != NULL) {
		sodium_memzero(x, n * sizeof(*x));
		free(x);
	}
	free(y);
	free(members);
	advert_release(&a);
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
	if (is_transport_error(r))
		return r;
	/* Refused either way; the coordinator may have closed the attempt
	 * already (another participant refused first). */
	if (r != CAIRN_OK)
		log_warn("query '%s': refusal not taken: %s",
		    t->query_id != NULL ? t->query_id : "", cairn_errmsg());
	step(d, "refused");
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
	struct vec_job job;
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
	if (t->deadline_unix != 0 && t->deadline_unix < (int64_t)time(NULL)) {
		log_warn("query '%s': task arrived past its deadline",
		    t->query_id);
		return CAIRN_OK;
	}
	/*
	 * The query's own checks (local), then its computation on a thread
	 * while the log is checked over the network.  A failed log check
	 * is the refusal even when the query failed too, as before.
	 */
	qr = node_task_check_query(d, t, &tq, &code);
	lap(d, NODE_PHASE_QUERY_CHECK, &mark);
	if (qr != CAIRN_OK)
		snprintf(qmsg, sizeof(qmsg), "%s", cairn_errmsg());
	else if (node_ledger_find_query(d->dc.ledger, tq.qhash, &rd) ==
	    CAIRN_ERR_NOTFOUND)
		vec_start(&job);
	r = node_task_verify_log(d, t);
	lap(d, NODE_PHASE_LOG_CHECK, &mark);
	vec_join(&job);
	if (job.done && mark > job.end_ns)
		d->timing.ns[NODE_PHASE_LOG_WAIT] = mark - job.end_ns;
	if (r != CAIRN_OK) {
		if (is_transport_error(r))
			goto out;
		log_error("query '%s': log check failed: %s",
		    t->query_id != NULL ? t->query_id : "", cairn_errmsg());
		r = refuse(d, t, NULL, NODE_REFUSE_LOG, outcome);
		goto out;
	}
	step(d, "cosigned");
	fault_point("node.after_witness");
	if (qr != CAIRN_OK) {
		(void)cairn_err(qr, "%s", qmsg);
		r = refuse(d, t, NULL, code, outcome);
		goto out;
	}
	step(d, "checked");
	if ((r = charge_for_task(d, t, &tq, &job, &cid, &noisy, &ncells,
	    &code)) != CAIRN_OK) {
		if (r == CAIRN_ERR_BUDGET || r == CAIRN_ERR_STATE ||
		    r == CAIRN_ERR_UNSUPPORTED || r == CAIRN_ERR_TOOBIG ||
		    r == CAIRN_ERR_RANGE || r == CAIRN_ERR_OVERFLOW)
			r = refuse(d, t, tq.qhash, code, outcome);
		goto out;
	}
	step(d, "charged");
	fault_point("node.after_charge");
	r = run_round(d, t, &tq, cid, noisy, ncells, outcome);
out:
	vec_discard(&job);
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
	log_info("task: query '%s' attempt %u",
	    t->query_id != NULL ? t->query_id : "", t->attempt);
	r = handle_task(d, t, outcome);
	log_timing(d, t, start);
	return r;
}

/* --------------------------------------------------------- the log */

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

int
node_daemon_follow_log(struct node_daemon *d)
{
	Cairn__V1__GetEntriesRequest req = CAIRN__V1__GET_ENTRIES_REQUEST__INIT;
	Cairn__V1__GetEntriesResponse *resp = NULL;
	struct tlog_checkpoint cp;
	struct tlog_frontier f;
	struct tlog_entry *e = NULL;
	struct follow_hit *hits = NULL, *nh;
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
			if (!(e->type == TLOG_ENTRY_RELEASE ||
			    (e->type == TLOG_ENTRY_CHARGE &&
			    e->node_id.len == strlen(d->name) &&
			    memcmp(e->node_id.p, d->name, e->node_id.len) ==
			    0)))
				continue;
			if (nhits == cap) {
				if (cap >= FOLLOW_MAX_HITS) {
					r = cairn_err(CAIRN_ERR_TOOBIG, "over "
					    "%d log entries to apply at once",
					    FOLLOW_MAX_HITS);
					goto out;
				}
				cap = cap ? cap * 2 : 16;
				if ((nh = realloc(hits, cap * sizeof(*nh))) ==
				    NULL) {
					r = cairn_err(CAIRN_ERR_NOMEM, "log");
					goto out;
				}
				hits = nh;
			}
			hits[nhits].index = le->index;
			hits[nhits].type = (int)e->type;
			memcpy(hits[nhits].qhash, e->query_hash, 32);
			hits[nhits].body = NULL;
			hits[nhits].blen = 0;
			/* A CHARGE in this node's name counts only when this
			 * node signed it. */
			if (e->type == TLOG_ENTRY_CHARGE &&
			    e->signature.len == KEYS_SIG_LEN &&
			    e->body.len <= PROTO_MAX_SMALL &&
			    keys_verify(d->pk, "charge", e->body.p, e->body.len,
			    e->signature.p) == CAIRN_OK) {
				if ((hits[nhits].body = malloc(e->body.len +
				    1)) == NULL) {
					r = cairn_err(CAIRN_ERR_NOMEM, "log");
					goto out;
				}
				memcpy(hits[nhits].body, e->body.p,
				    e->body.len);
				hits[nhits].blen = e->body.len;
			} else if (e->type == TLOG_ENTRY_CHARGE)
				log_warn("log entry %llu: a CHARGE in this "
				    "node's name that it did not sign",
				    (unsigned long long)le->index);
			nhits++;
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

/* ------------------------------------------------------ charge re-sends */

#define RESEND_BATCH	64

struct pending_list {
	int64_t		id[RESEND_BATCH];
	uint8_t		qhash[RESEND_BATCH][32];
	size_t		n;
	bool		more;
};

static int
pending_add(const struct node_ledger_entry *e, void *arg)
{
	struct pending_list *pl = arg;

	if (e->log_index >= 0)
		return 0;
	if (pl->n == RESEND_BATCH) {
		pl->more = true;
		return 1;
	}
	pl->id[pl->n] = e->id;
	memcpy(pl->qhash[pl->n], e->query_hash, 32);
	pl->n++;
	return 0;
}

/* Send ledger charge 'cid' again as a key-less advertisement. */
static int
resend_one(struct node_daemon *d, int64_t cid, const uint8_t qhash[32],
    const uint8_t *rec, size_t len)
{
	struct advert a = { .cbytes = NULL, .abytes = NULL };
	ProtobufCMessage *resp = NULL;
	char qid[RESEND_MAX];
	uint32_t attempt;
	uint64_t cells;
	int r;

	if (len < 12 || len >= RESEND_MAX)
		return cairn_err(CAIRN_ERR_DB, "re-send record of charge %lld "
		    "is corrupt", (long long)cid);
	memcpy(&attempt, rec, 4);
	memcpy(&cells, rec + 4, 8);
	memcpy(qid, rec + 12, len - 12);
	qid[len - 12] = '\0';
	/* No ephemeral key: a charge only, never part of a round. */
	if ((r = advert_sign(d, qid, qhash, cid, attempt, cells, NULL,
	    &a)) != CAIRN_OK)
		goto out;
	r = transport_unary(d->dc.client, proto_method(PROTO_ADVERTISE),
	    &a.sa.base, d->call_ms, &resp);
	if (r == CAIRN_OK)
		log_info("ledger charge %lld (query '%s' attempt %u) sent "
		    "again: %s", (long long)cid, qid, attempt,
		    ((Cairn__V1__Ack *)resp)->detail != NULL ?
		    ((Cairn__V1__Ack *)resp)->detail : "");
out:
	advert_release(&a);
	if (resp != NULL)
		protobuf_c_message_free_unpacked(resp, NULL);
	return r;
}

int
node_daemon_resend_charges(struct node_daemon *d, size_t *sent)
{
	struct pending_list *pl;
	uint8_t rec[RESEND_MAX];
	char key[96];
	size_t len, k = 0;
	int r;

	if ((pl = calloc(1, sizeof(*pl))) == NULL)
		return cairn_err(CAIRN_ERR_NOMEM, "pending charges");
	r = node_ledger_foreach(d->dc.ledger, pending_add, pl);
	if (r != CAIRN_OK && r != 1)
		goto out;
	r = CAIRN_OK;
	for (size_t i = 0; i < pl->n && !stopping(d); i++) {
		resend_key(pl->qhash[i], key);
		r = node_ledger_state_get(d->dc.ledger, key, rec, sizeof(rec),
		    &len);
		if (r == CAIRN_ERR_NOTFOUND || (r == CAIRN_OK && len == 0)) {
			r = CAIRN_OK;	/* never sent, or acknowledged */
			continue;
		}
		if (r != CAIRN_OK)
			goto out;
		r = resend_one(d, pl->id[i], pl->qhash[i], rec, len);
		if (is_transport_error(r))
			goto out;	/* the coordinator is away again */
		if (r != CAIRN_OK)
			log_error("ledger charge %lld: the coordinator will "
			    "not log it (%s); the ledger keeps it (an "
			    "over-count)", (long long)pl->id[i],
			    cairn_errmsg());
		else
			k++;
		resend_done(d, pl->qhash[i]);
		r = CAIRN_OK;
	}
	/* A full batch: the rest on the next pass. */
	d->resend_due = pl->more;
out:
	if (sent != NULL)
		*sent = k;
	free(pl);
	return r;
}

/* ------------------------------------------------------------ the loop */

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

int
node_daemon_poll_once(struct node_daemon *d, unsigned wait_ms, bool *got)
{
	Cairn__V1__PollTaskRequest req = CAIRN__V1__POLL_TASK_REQUEST__INIT;
	Cairn__V1__PollTaskResponse *resp = NULL;
	struct tlog_checkpoint latest;
	enum node_task_outcome oc;
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
	}
	/* First, charges the coordinator may not have logged go again (at
	 * start, and after an Advertise that failed): a broken channel
	 * ends this poll, so they go as soon as the coordinator answers. */
	if (d->resend_due && (r = node_daemon_resend_charges(d, NULL)) !=
	    CAIRN_OK) {
		if (is_transport_error(r))
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
	    CAIRN_OK)
		return r;
	if (resp->task != NULL) {
		if (got != NULL)
			*got = true;
		r = node_daemon_handle_task(d, resp->task, &oc);
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
	    !is_transport_error(r)) {
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

	for (unsigned t = 0; t < ms && !stopping(d); t += 100) {
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

	/* Long-poll in slices of at most 5 s so a stop is prompt. */
	wait = (unsigned)d->dc.cfg->poll_seconds * 1000u;
	if (wait > 5000)
		wait = 5000;
	log_info("node '%s' serving federation '%s' via %s", d->name,
	    d->dc.fed->name, d->dc.cfg->coordinator);
	while (!stopping(d)) {
		if (node_ledger_expire(d->dc.ledger, (int64_t)time(NULL) -
		    d->dc.cfg->policy.retention_days * 86400, &expired) ==
		    CAIRN_OK && expired > 0)
			log_info("%llu kept vectors past their retention "
			    "deleted", (unsigned long long)expired);
		/* The policy goes into the log before the first task; a
		 * refusal of it is logged and the node serves anyway. */
		r = published ? CAIRN_OK : node_policy_publish(d, NULL, 0);
		if (r != CAIRN_OK && !is_transport_error(r)) {
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
		if (stopping(d))
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
