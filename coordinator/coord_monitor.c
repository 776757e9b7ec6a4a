/*
 * coord_monitor.c - the coordinator's monitoring (docs/operations.md):
 * its Prometheus metrics, the readiness its /readyz and its gRPC health
 * service report (SERVING only when the data folder and both databases
 * are writable and the identity key signs), and the optional listeners
 * that serve them.  The RPC counter lives in the transport
 * (protocol/transport_server.c), which sees every call's status.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "common/err.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/monitor.h"
#include "common/version.h"
#include "coordinator/coord_service_int.h"
#include "keys/keys.h"
#include "protocol/health.h"
#include "protocol/transport.h"

/* Watch calls held at once; more are refused (RESOURCE_EXHAUSTED). */
#define HEALTH_WATCHERS_MAX	16
/* How often a Watch's status is re-evaluated. */
#define HEALTH_TICK_MS		500

typedef Grpc__Health__V1__HealthCheckResponse__ServingStatus serving_t;

struct watcher {
	struct watcher		*next;
	struct transport_call	*call;
	bool			 known;		/* a service we serve */
	bool			 cancelled;
	serving_t		 sent;
};

/* The gRPC health service's state (docs/operations.md, "Health"). */
struct coord_health {
	struct coord		*c;
	struct transport_server	*srv;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	pthread_t		 thr;
	bool			 running;
	bool			 stopping;
	struct watcher		*w;
	size_t			 nw;
};

/* Round durations: a round takes from tens of milliseconds to the
 * advertise + share deadlines (minutes). */
static const double round_bounds[] = { 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
    30, 60, 120, 300, 600 };

static struct metrics_family *m_queries, *m_rounds, *m_attempts,
    *m_log_entries, *m_checkpoint, *m_polling, *m_open, *m_ready,
    *m_pub_entries, *m_pub_failures;

static const char *
outcome_name(enum coord_qstate s)
{
	switch (s) {
	case COORD_Q_RELEASED:
		return "released";
	case COORD_Q_REFUSED:
		return "refused";
	default:
		return "failed";
	}
}

void
coord_metrics_attempt_started(void)
{
	metrics_add(m_attempts, NULL, NULL, 1);
}

void
coord_metrics_attempt_ended(const struct attempt *a, enum coord_qstate s)
{
	metrics_add(m_queries, outcome_name(s), NULL, 1);
	if (a->started_ms > 0)
		metrics_observe(m_rounds, outcome_name(s), NULL,
		    (double)(coord_now_ms() - a->started_ms) / 1000.0);
}

bool
coord_ready(struct coord *c, char *why, size_t n)
{
	static const uint8_t probe[] = "health";
	uint8_t sig[KEYS_SIG_LEN], pk[KEYS_PK_LEN];
	const char *const files[] = { "coord.db", "log.db" };
	char path[4096];

	if (access(c->cfg->data_dir, W_OK) != 0) {
		snprintf(why, n, "data_dir %s is not writable",
		    c->cfg->data_dir);
		return false;
	}
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", c->cfg->data_dir,
		    files[i]);
		if (access(path, W_OK) != 0) {
			snprintf(why, n, "%s is not writable", path);
			return false;
		}
	}
	keys_identity_public(c->id, pk);
	if (keys_sign(c->id, "health", probe, sizeof(probe), sig) !=
	    CAIRN_OK || keys_verify(pk, "health", probe, sizeof(probe), sig)
	    != CAIRN_OK) {
		snprintf(why, n, "the identity key does not sign");
		return false;
	}
	return true;
}

static bool
ready_cb(void *arg, char *why, size_t n)
{
	return coord_ready(arg, why, n);
}

/* Gauges read from the coordinator's state at each scrape. */
static void
collect(void *arg)
{
	struct coord *c = arg;
	const char **names;
	size_t nn = 0, nopen = 0;
	uint64_t size;
	int64_t cp;
	char why[128];
	bool counted;
	struct coord_public_report pub;

	memset(&pub, 0, sizeof(pub));
	pthread_mutex_lock(&c->mu);
	if (c->log.pub != NULL)
		pub = *coord_public_report(c->log.pub);
	size = tlog_store_size(c->log.tlog);
	cp = c->log.last_cp_s;
	for (struct attempt *a = c->open; a != NULL; a = a->next)
		nopen++;
	/* Distinct nodes among the parked PollTask calls. */
	names = calloc(c->nwaiters + 1, sizeof(*names));
	for (struct waiter *w = c->waiters; names != NULL && w != NULL;
	    w = w->next) {
		size_t i;

		if (w->m != PROTO_POLL_TASK)
			continue;
		for (i = 0; i < nn; i++)
			if (strcmp(names[i], w->node) == 0)
				break;
		if (i == nn)
			names[nn++] = w->node;
	}
	pthread_mutex_unlock(&c->mu);
	counted = names != NULL;
	free(names);
	metrics_set(m_log_entries, NULL, NULL, (double)size);
	if (cp > 0)
		metrics_set(m_checkpoint, NULL, NULL, (double)cp);
	if (counted)
		metrics_set(m_polling, NULL, NULL, (double)nn);
	metrics_set(m_open, NULL, NULL, (double)nopen);
	if (m_pub_entries != NULL) {
		metrics_set(m_pub_entries, NULL, NULL, (double)pub.size);
		metrics_set(m_pub_failures, NULL, NULL, (double)pub.failures);
	}
	metrics_set(m_ready, NULL, NULL, coord_ready(c, why, sizeof(why)) ?
	    1 : 0);
}

/* Whether 'service' names what this server serves: "" (the server as a
 * whole) or the coordinator's service. */
static bool
service_known(const char *service)
{
	return service[0] == '\0' || strcmp(service, "cairn.v1.Coordinator")
	    == 0;
}

static serving_t
serving(struct coord *c)
{
	char why[256];

	if (coord_ready(c, why, sizeof(why)))
		return GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
	return GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
}

static void
health_check(struct transport_call *call, const ProtobufCMessage *req,
    void *arg)
{
	const Grpc__Health__V1__HealthCheckRequest *r = (const void *)req;
	Grpc__Health__V1__HealthCheckResponse resp =
	    GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
	struct coord_health *hs = arg;

	if (!service_known(r->service)) {
		(void)transport_call_fail(call, CAIRN_ERR_NOTFOUND, "service",
		    "unknown service");
		return;
	}
	resp.status = serving(hs->c);
	(void)transport_call_reply(call, &resp.base);
}

static int
watch_send(struct transport_call *call, serving_t st)
{
	Grpc__Health__V1__HealthCheckResponse resp =
	    GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;

	resp.status = st;
	return transport_call_send(call, &resp.base);
}

static void
health_watch(struct transport_call *call, const ProtobufCMessage *req,
    void *arg)
{
	const Grpc__Health__V1__HealthCheckRequest *r = (const void *)req;
	struct coord_health *hs = arg;
	struct watcher *w;

	pthread_mutex_lock(&hs->mu);
	if (hs->stopping || hs->nw >= HEALTH_WATCHERS_MAX ||
	    (w = calloc(1, sizeof(*w))) == NULL) {
		pthread_mutex_unlock(&hs->mu);
		(void)transport_call_fail(call, hs->stopping ?
		    CAIRN_ERR_CANCELLED : CAIRN_ERR_TOOBIG, NULL, hs->stopping ?
		    "the coordinator is stopping" : "too many Watch calls");
		return;
	}
	w->call = call;
	w->known = service_known(r->service);
	w->sent = w->known ? serving(hs->c) :
	    GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN;
	/* The current status at once; the ticker sends the changes. */
	(void)watch_send(call, w->sent);
	w->next = hs->w;
	hs->w = w;
	hs->nw++;
	pthread_mutex_unlock(&hs->mu);
}

static void
health_cancel(struct transport_call *call, void *arg)
{
	struct coord_health *hs = arg;

	pthread_mutex_lock(&hs->mu);
	for (struct watcher *w = hs->w; w != NULL; w = w->next)
		if (w->call == call)
			w->cancelled = true;
	pthread_cond_signal(&hs->cv);
	pthread_mutex_unlock(&hs->mu);
}

/* Re-evaluate the status; send changes; finish cancelled watches. */
static void *
health_ticker(void *arg)
{
	struct coord_health *hs = arg;
	struct timespec ts;
	serving_t st;

	pthread_mutex_lock(&hs->mu);
	while (!hs->stopping || hs->w != NULL) {
		pthread_mutex_unlock(&hs->mu);
		st = serving(hs->c);
		pthread_mutex_lock(&hs->mu);
		for (struct watcher **pp = &hs->w; *pp != NULL;) {
			struct watcher *w = *pp;

			if (w->cancelled || hs->stopping ||
			    transport_call_is_cancelled(w->call)) {
				(void)transport_call_finish(w->call,
				    CAIRN_ERR_CANCELLED, "the watch ended");
				*pp = w->next;
				free(w);
				hs->nw--;
				continue;
			}
			if (w->known && w->sent != st) {
				w->sent = st;
				(void)watch_send(w->call, st);
			}
			pp = &w->next;
		}
		if (hs->stopping && hs->w == NULL)
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += HEALTH_TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		(void)pthread_cond_timedwait(&hs->cv, &hs->mu, &ts);
	}
	pthread_mutex_unlock(&hs->mu);
	return NULL;
}

static void
health_stop(struct coord_health *hs)
{
	if (hs == NULL)
		return;
	/* The server first: it cancels the watches still open, which the
	 * ticker finishes, so that its stop can end. */
	transport_server_stop(hs->srv);
	if (hs->running) {
		pthread_mutex_lock(&hs->mu);
		hs->stopping = true;
		pthread_cond_signal(&hs->cv);
		pthread_mutex_unlock(&hs->mu);
		pthread_join(hs->thr, NULL);
	}
	pthread_cond_destroy(&hs->cv);
	pthread_mutex_destroy(&hs->mu);
	free(hs);
}

static int
health_start(struct coord *c, struct coord_health **out)
{
	struct transport_server_config sc;
	struct transport_handler h[2];
	struct coord_health *hs;
	int r;

	if ((hs = calloc(1, sizeof(*hs))) == NULL)
		return CAIRN_ERR_NOMEM;
	hs->c = c;
	pthread_mutex_init(&hs->mu, NULL);
	pthread_cond_init(&hs->cv, NULL);
	if (pthread_create(&hs->thr, NULL, health_ticker, hs) != 0) {
		health_stop(hs);
		return cairn_err(CAIRN_ERR_INTERNAL, "cannot start a thread");
	}
	hs->running = true;
	memset(h, 0, sizeof(h));
	h[0].method = proto_health_check();
	h[0].fn = health_check;
	h[0].arg = hs;
	h[1].method = proto_health_watch();
	h[1].fn = health_watch;
	h[1].cancel = health_cancel;
	h[1].arg = hs;
	memset(&sc, 0, sizeof(sc));
	sc.listen = c->cfg->health_listen;
	sc.plaintext_loopback = true;
	sc.workers = 1;
	sc.grace_ms = 100;
	sc.max_message = 64 * 1024;
	if ((r = transport_server_start(&sc, h, 2, &hs->srv)) != CAIRN_OK) {
		health_stop(hs);
		return r;
	}
	log_info("gRPC health service on port %d (plaintext, loopback)",
	    transport_server_port(hs->srv));
	*out = hs;
	return CAIRN_OK;
}

static int
write_port(const char *path, int port)
{
	FILE *f;

	if (path == NULL)
		return CAIRN_OK;
	if ((f = fopen(path, "w")) == NULL || fprintf(f, "%d\n", port) < 0 ||
	    fclose(f) != 0)
		return cairn_err(CAIRN_ERR_IO, "%s: cannot write the port file",
		    path);
	return CAIRN_OK;
}

int
coord_monitor_start(struct coord *c)
{
	struct monitor_config mc;
	struct metrics_family *info;
	int r;

	info = metrics_register("cairn_build_info", METRICS_GAUGE,
	    "The program and version running (value 1).", "program",
	    "version", NULL, 0);
	metrics_set(info, "cairn-coordinator", CAIRN_VERSION, 1);
	m_queries = metrics_register("cairn_coordinator_queries_total",
	    METRICS_COUNTER, "Queries ended, by outcome (released, refused by "
	    "a node, failed).", "outcome", NULL, NULL, 0);
	m_rounds = metrics_register("cairn_coordinator_round_duration_seconds",
	    METRICS_HISTOGRAM, "Time from an attempt's start to its end, by "
	    "outcome.", "outcome", NULL, round_bounds,
	    sizeof(round_bounds) / sizeof(round_bounds[0]));
	m_attempts = metrics_register("cairn_coordinator_attempts_total",
	    METRICS_COUNTER, "Attempts started (a query's first and every "
	    "retry).", NULL, NULL, NULL, 0);
	m_log_entries = metrics_register("cairn_coordinator_log_entries",
	    METRICS_GAUGE, "Entries in the transparency log.", NULL, NULL,
	    NULL, 0);
	m_checkpoint = metrics_register(
	    "cairn_coordinator_checkpoint_timestamp_seconds", METRICS_GAUGE,
	    "Unix time the checkpoint of the log's current size was last "
	    "published or confirmed at startup.", NULL, NULL, NULL, 0);
	m_polling = metrics_register("cairn_coordinator_nodes_polling",
	    METRICS_GAUGE, "Nodes holding a PollTask long poll now.", NULL,
	    NULL, NULL, 0);
	m_open = metrics_register("cairn_coordinator_open_attempts",
	    METRICS_GAUGE, "Attempts in progress.", NULL, NULL, NULL, 0);
	m_ready = metrics_register("cairn_coordinator_ready", METRICS_GAUGE,
	    "1 when the data folder and databases are writable and the "
	    "identity key signs, else 0.", NULL, NULL, NULL, 0);
	if (c->log.pub != NULL) {
		m_pub_entries = metrics_register(
		    "cairn_coordinator_public_entries", METRICS_GAUGE,
		    "Log entries the public directory has tiles for (its "
		    "checkpointed size).", NULL, NULL, NULL, 0);
		m_pub_failures = metrics_register(
		    "cairn_coordinator_public_write_failures_total",
		    METRICS_COUNTER, "Updates of the public directory that "
		    "failed (logged; retried at the next update).", NULL,
		    NULL, NULL, 0);
	}
	for (int s = COORD_Q_RELEASED; s <= COORD_Q_FAILED; s++) {
		metrics_touch(m_queries, outcome_name((enum coord_qstate)s),
		    NULL);
		metrics_touch(m_rounds, outcome_name((enum coord_qstate)s),
		    NULL);
	}
	metrics_touch(m_attempts, NULL, NULL);
	metrics_on_collect(collect, c);
	if (c->cfg->mon_listen != NULL) {
		memset(&mc, 0, sizeof(mc));
		mc.listen = c->cfg->mon_listen;
		mc.ready = ready_cb;
		mc.arg = c;
		if ((r = monitor_start(&mc, &c->mon)) != CAIRN_OK ||
		    (r = write_port(c->cfg->mon_port_file,
		    monitor_port(c->mon))) != CAIRN_OK)
			return r;
	}
	if (c->cfg->pub_listen != NULL &&
	    ((r = coord_public_listen(c->cfg, &c->pubmon, &c->pubhttp)) !=
	    CAIRN_OK || (r = write_port(c->cfg->pub_port_file,
	    monitor_port(c->pubmon))) != CAIRN_OK))
		return r;
	if (c->cfg->health_listen != NULL) {
		if ((r = health_start(c, &c->health)) != CAIRN_OK ||
		    (r = write_port(c->cfg->health_port_file,
		    transport_server_port(c->health->srv))) != CAIRN_OK)
			return r;
	}
	return CAIRN_OK;
}

void
coord_monitor_stop(struct coord *c)
{
	health_stop(c->health);
	c->health = NULL;
	monitor_stop(c->mon);
	c->mon = NULL;
	coord_public_unlisten(c->pubmon, c->pubhttp);
	c->pubmon = NULL;
	c->pubhttp = NULL;
}
