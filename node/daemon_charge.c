/*
 * daemon_charge.c - what a task is charged with and the charge's way to
 * the log (docs/privacy.md, docs/node.md): the exact vector computed on
 * its own thread, the noise drawn for it, the charge committed with the
 * noisy vector and its re-send record in one durable ledger transaction
 * (or, for a refusal that depends on the data, without a vector), the
 * signed advertisement that carries a charge, and the re-send of charges
 * the coordinator may not have logged.
 *
 * Ledger first: nothing derived from the data leaves the process before
 * the charge, the noisy vector and what sends the charge to the log are
 * on disk; a retry reuses the stored noisy vector, never a new draw.
 * Called by node/daemon_round.c (a task) and node/daemon.c (the loop).
 */
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
#include "node/node_metrics.h"
#include "privacy/dp.h"

static int	resend_one(struct node_daemon *, int64_t, const uint8_t[32],
	    const uint8_t *, size_t);

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


static void *
vec_run(void *arg)
{
	struct node_vec_job *j = arg;
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

void
node_vec_start(struct node_vec_job *j)
{
	j->started = pthread_create(&j->th, NULL, vec_run, j) == 0;
}

void
node_vec_join(struct node_vec_job *j)
{
	if (!j->started)
		return;
	pthread_join(j->th, NULL);
	j->started = false;
}

void
node_vec_prenoise(struct node_vec_job *j)
{
	struct node_ledger_charge_req req;
	int64_t month_rho[DP_MAX_MONTHS];
	const struct node_vector_source *src = &j->d->dc.vectors;
	struct dp_rat s2;
	uint64_t n;

	if (src->domain == NULL || src->domain(src->ctx, &j->tq->spec,
	    j->tq->q->spec->geography, &n) != CAIRN_OK || n == 0 ||
	    n >= (uint64_t)LEDGER_MAX_CELLS)
		return;
	memset(&req, 0, sizeof(req));
	if (charge_plan(j->tq, n, &req, month_rho) != CAIRN_OK ||
	    (j->noise = malloc((size_t)n * sizeof(*j->noise))) == NULL)
		return;
	s2.num = (uint64_t)req.noise_variance;
	s2.den = 1;
	if (noise_fill(s2, j->noise, (size_t)n) != CAIRN_OK) {
		free(j->noise);
		j->noise = NULL;
		return;
	}
	j->noise_n = n;
	j->noise_s2 = s2.num;
}

void
node_vec_discard(struct node_vec_job *j)
{
	node_vec_join(j);
	if (j->noise != NULL) {
		sodium_memzero(j->noise, (size_t)j->noise_n *
		    sizeof(*j->noise));
		free(j->noise);
		j->noise = NULL;
	}
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

static void
resend_key(const uint8_t qhash[32], char key[96])
{
	char hx[65];

	hex32(qhash, hx);
	snprintf(key, 96, RESEND_PREFIX "%s", hx);
}

int
node_resend_record(const uint8_t qhash[32], uint32_t attempt, uint64_t cells,
    const char *query_id, char key[96], uint8_t v[NODE_RESEND_MAX],
    struct node_ledger_kv *kv)
{
	size_t n = strlen(query_id);

	if (n > NODE_RESEND_MAX - 12)
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

void
node_resend_done(struct node_daemon *d, const uint8_t qhash[32])
{
	char key[96];

	resend_key(qhash, key);
	if (node_ledger_state_set(d->dc.ledger, key, "", 0) != CAIRN_OK)
		log_warn("clearing the re-send record: %s", cairn_errmsg());
}

/* ------------------------------------------------------ advertisements */

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


int
node_advert_sign(struct node_daemon *d, const char *query_id,
    const uint8_t qhash[32], int64_t cid, uint32_t attempt, uint64_t cells,
    const uint8_t *epk, struct node_advert *a)
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

void
node_advert_release(struct node_advert *a)
{
	free(a->cbytes);
	free(a->abytes);
	a->cbytes = a->abytes = NULL;
}


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
	uint8_t rec[NODE_RESEND_MAX];
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
	    (r = node_resend_record(tq->qhash, t->attempt, n + 1,
	    tq->q->query_id, key, rec, &kv)) != CAIRN_OK)
		return r;
	req->cells = NULL;
	req->ncells = 0;
	req->state = &kv;
	req->nstate = 1;
	if ((r = node_ledger_charge(d->dc.ledger, req, cid)) != CAIRN_OK)
		return r;
	node_metrics_charge();
	log_info("charged query '%s' without a vector: rho up to %s on %zu "
	    "data-months (its computation failed)", tq->q->query_id,
	    rho_format((uint64_t)req->rho_nano, rtext), tq->nmonths);
	node_daemon_step(d, "charged_refusal");
	r = resend_one(d, *cid, tq->qhash, rec, kv.len);
	if (node_is_transport_error(r)) {
		log_warn("ledger charge %lld: %s; sent again at the next poll",
		    (long long)*cid, cairn_errmsg());
		d->resend_due = true;
		return CAIRN_OK;
	}
	if (r != CAIRN_OK)
		log_error("ledger charge %lld: the coordinator will not log it "
		    "(%s); the ledger keeps it (an over-count)",
		    (long long)*cid, cairn_errmsg());
	node_resend_done(d, tq->qhash);
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
    const struct node_task_query *tq, struct node_vec_job *job, int64_t *cid,
    int64_t **noisy, size_t *ncells)
{
	struct node_ledger_charge_req req;
	struct node_ledger_kv kv;
	struct dp_rat s2;
	int64_t *exact = NULL, *noise = NULL, budget_nano;
	int64_t month_rho[DP_MAX_MONTHS];
	uint64_t n = 0, sigma_h2;
	char label[LEDGER_MAX_LABEL], key[96], rtext[RHO_TEXT_MAX];
	uint8_t rec[NODE_RESEND_MAX];
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
	node_vec_join(job);
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
	if (r == CAIRN_ERR_CANCELLED && node_daemon_stopping(d)) {
		/* A SQL source's statement cancelled by the stop: nothing
		   was computed, so nothing is charged or sent; a restarted
		   node computes the task again. */
		log_info("query '%s': the computation was cancelled (the node "
		    "is stopping); nothing charged", tq->q->query_id);
		goto out;
	}
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
	if (job->noise != NULL && job->noise_n == n &&
	    job->noise_s2 == sigma_h2) {
		/* Drawn beside the computation for this very length and
		   variance: the same draw as here, made earlier. */
		noise = job->noise;
		job->noise = NULL;
	} else {
		if ((noise = malloc((size_t)n * sizeof(*noise))) == NULL) {
			r = cairn_err(CAIRN_ERR_NOMEM, "noise of %llu cells",
			    (unsigned long long)n);
			goto out;
		}
		s2.num = sigma_h2;
		s2.den = 1;
		if ((r = noise_fill(s2, noise, (size_t)n)) != CAIRN_OK)
			goto out;
	}
	for (uint64_t i = 0; i < n; i++)
		if (__builtin_add_overflow(exact[i], noise[i], &exact[i])) {
			/* An exact count this large is the data's doing. */
			log_error("query '%s': cell %llu overflows with its "
			    "noise", tq->q->query_id, (unsigned long long)i);
			goto refused;
		}
	node_timing_lap(d, NODE_PHASE_NOISE, &mark);
	fault_point("node.after_noise");
	if ((r = node_resend_record(tq->qhash, t->attempt, n + 1,
	    tq->q->query_id, key, rec, &kv)) != CAIRN_OK)
		goto out;
	req.cells = exact;
	req.ncells = (size_t)n;
	req.state = &kv;
	req.nstate = 1;
	r = node_ledger_charge(d->dc.ledger, &req, cid);
	node_timing_lap(d, NODE_PHASE_LEDGER, &mark);
	if (r != CAIRN_OK)
		goto out;
	node_metrics_charge();
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

int
node_charge_for_task(struct node_daemon *d, const Cairn__V1__Task *t,
    const struct node_task_query *tq, struct node_vec_job *job,
    int64_t *cid, int64_t **noisy, size_t *ncells, const char **code)
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
	node_timing_lap(d, NODE_PHASE_LEDGER, &mark);
	if (r != CAIRN_OK)
		return r;
	log_info("query '%s': reusing the noisy vector of ledger charge %lld",
	    tq->q->query_id, (long long)*cid);
	return CAIRN_OK;
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
	struct node_advert a = { .cbytes = NULL, .abytes = NULL };
	ProtobufCMessage *resp = NULL;
	char qid[NODE_RESEND_MAX];
	uint32_t attempt;
	uint64_t cells;
	int r;

	if (len < 12 || len >= NODE_RESEND_MAX)
		return cairn_err(CAIRN_ERR_DB, "re-send record of charge %lld "
		    "is corrupt", (long long)cid);
	memcpy(&attempt, rec, 4);
	memcpy(&cells, rec + 4, 8);
	memcpy(qid, rec + 12, len - 12);
	qid[len - 12] = '\0';
	/* No ephemeral key: a charge only, never part of a round. */
	if ((r = node_advert_sign(d, qid, qhash, cid, attempt, cells, NULL,
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
	node_advert_release(&a);
	if (resp != NULL)
		protobuf_c_message_free_unpacked(resp, NULL);
	return r;
}

int
node_daemon_resend_charges(struct node_daemon *d, size_t *sent)
{
	struct pending_list *pl;
	uint8_t rec[NODE_RESEND_MAX];
	char key[96];
	size_t len, k = 0;
	int r;

	if ((pl = calloc(1, sizeof(*pl))) == NULL)
		return cairn_err(CAIRN_ERR_NOMEM, "pending charges");
	r = node_ledger_foreach(d->dc.ledger, pending_add, pl);
	if (r != CAIRN_OK && r != 1)
		goto out;
	r = CAIRN_OK;
	for (size_t i = 0; i < pl->n && !node_daemon_stopping(d); i++) {
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
		if (node_is_transport_error(r))
			goto out;	/* the coordinator is away again */
		if (r != CAIRN_OK)
			log_error("ledger charge %lld: the coordinator will "
			    "not log it (%s); the ledger keeps it (an "
			    "over-count)", (long long)pl->id[i],
			    cairn_errmsg());
		else
			k++;
		node_resend_done(d, pl->qhash[i]);
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
