/*
 * test_coord_service.c - the coordinator's handlers in process: a
 * federation made with keys/ in a temporary folder, coord_start() on an
 * ephemeral port, and cairn's own transport client.  What the end-to-end
 * test (tests/e2e/coord_round.sh) does not reach: the query checks one by
 * one, the attempt limit, failing the attempts a previous run left open,
 * and answering long polls on a graceful stop.
 */
#include <sys/stat.h>

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <sodium.h>

#include "common/err.h"
#include "common/log.h"
#include "coordinator/coord_int.h"
#include "keys/keys_federation.h"
#include "keys/keys_tls.h"
#include "protocol/proto_service.h"
#include "protocol/transport.h"

#include <math.h>
/* ρ as a test writes it (a double) to nano-ρ. */
#define NANO(x)	((uint64_t)llround((double)(x) * 1e9))

static char top[64], fedconf[128], confpath[128];

/* Members of the test federation: coordinator, nso, na, nb, nso2. */
#define NMEMBERS	5

struct who {
	struct keys_identity	*id;
	struct transport_client	*cl;
};

static struct who analyst, analyst2, nodes[2];
/* More [limits] lines for the next start(). */
static const char *limits_extra = "";

/* Keys, certificate and enrolment of one member in top/NAME. */
static void
member_make(enum keys_role role, const char *name)
{
	struct keys_cert_info ci;
	struct keys_member m;
	struct keys_identity *id;
	char d[128], p[256], q[256], *pem;
	size_t len;

	snprintf(d, sizeof(d), "%s/%s", top, name);
	assert_int_equal(mkdir(d, 0700), 0);
	assert_int_equal(keys_identity_generate(role, name, &id), CAIRN_OK);
	snprintf(p, sizeof(p), "%s/identity.key", d);
	assert_int_equal(keys_identity_save(id, p), CAIRN_OK);
	snprintf(p, sizeof(p), "%s/tls.key", d);
	snprintf(q, sizeof(q), "%s/tls.csr", d);
	assert_int_equal(keys_tls_new(role, name, p, q), CAIRN_OK);
	snprintf(p, sizeof(p), "%s/tls.crt", d);
	assert_int_equal(keys_cert_issue(top, q, p, 30, role ==
	    KEYS_ROLE_COORDINATOR ? "localhost,127.0.0.1" : NULL, NULL),
	    CAIRN_OK);
	assert_int_equal(keys_file_read(p, &pem, &len), CAIRN_OK);
	assert_int_equal(keys_cert_info(pem, len, &ci), CAIRN_OK);
	free(pem);
	memset(&m, 0, sizeof(m));
	m.pub.role = role;
	snprintf(m.pub.name, sizeof(m.pub.name), "%s", name);
	keys_identity_public(id, m.pub.pk);
	memcpy(m.cert_fpr, ci.fingerprint, KEYS_FPR_LEN);
	assert_int_equal(keys_federation_add(fedconf, &m), CAIRN_OK);
	keys_identity_free(id);
	snprintf(p, sizeof(p), "%s/ca.crt", top);
	snprintf(q, sizeof(q), "%s/ca.crt", d);
	assert_int_equal(keys_file_read(p, &pem, &len), CAIRN_OK);
	assert_int_equal(keys_file_write(q, pem, len, false), CAIRN_OK);
	free(pem);
}

static int
setup(void **state)
{
	struct keys_cert_info ci;
	char p[256], *pem;
	size_t len;
	FILE *f;

	(void)state;
	log_set_level(LOG_LEVEL_ERROR);
	if (sodium_init() < 0)
		return -1;
	snprintf(top, sizeof(top), "/tmp/cairn-coordsvc-XXXXXX");
	if (mkdtemp(top) == NULL || keys_ca_create("svc", top) != CAIRN_OK)
		return -1;
	snprintf(p, sizeof(p), "%s/ca.crt", top);
	if (keys_file_read(p, &pem, &len) != CAIRN_OK ||
	    keys_cert_info(pem, len, &ci) != CAIRN_OK)
		return -1;
	free(pem);
	snprintf(fedconf, sizeof(fedconf), "%s/federation.conf", top);
	if (keys_federation_create(fedconf, "svc", ci.fingerprint) !=
	    CAIRN_OK)
		return -1;
	member_make(KEYS_ROLE_COORDINATOR, "coordinator");
	member_make(KEYS_ROLE_ANALYST, "nso");
	member_make(KEYS_ROLE_NODE, "na");
	member_make(KEYS_ROLE_NODE, "nb");
	member_make(KEYS_ROLE_ANALYST, "nso2");
	snprintf(p, sizeof(p), "%s/regions.csv", top);
	if ((f = fopen(p, "w")) == NULL)
		return -1;
	fputs("1,a\n2,b\n3,c\n", f);
	fclose(f);
	{
		uint8_t h[32];

		if (keys_file_sha256(p, h) != CAIRN_OK ||
		    keys_federation_pin_geography(fedconf, "g3", h) !=
		    CAIRN_OK)
			return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	return system(cmd) == 0 ? 0 : -1;
}

static void
who_open(struct who *w, const char *name, int port)
{
	struct transport_client_config cc;
	struct keys_tls *tls;
	char d[256], target[64];

	snprintf(d, sizeof(d), "%s/%s/identity.key", top, name);
	assert_int_equal(keys_identity_load(d, &w->id), CAIRN_OK);
	snprintf(d, sizeof(d), "%s/%s", top, name);
	assert_int_equal(keys_tls_load_dir(d, &tls), CAIRN_OK);
	snprintf(target, sizeof(target), "127.0.0.1:%d", port);
	memset(&cc, 0, sizeof(cc));
	cc.target = target;
	cc.tls = tls;
	cc.server_name = "localhost";
	assert_int_equal(transport_client_new(&cc, &w->cl), CAIRN_OK);
	keys_tls_free(tls);
}

static void
who_close(struct who *w)
{
	transport_client_free(w->cl);
	keys_identity_free(w->id);
	memset(w, 0, sizeof(*w));
}

/* Start a coordinator whose data folder is top/DATA. */
static struct coord *
start(struct coord_config *cfg, const char *data)
{
	struct coord *c;
	FILE *f;

	snprintf(confpath, sizeof(confpath), "%s/coordinator.conf", top);
	assert_non_null(f = fopen(confpath, "w"));
	fprintf(f, "[coordinator]\n"
	    "identity_key = %s/coordinator/identity.key\n"
	    "tls_key = %s/coordinator/tls.key\n"
	    "tls_cert = %s/coordinator/tls.crt\nca_cert = %s/ca.crt\n"
	    "federation = %s\ndata_dir = %s/%s\nlisten = 127.0.0.1:0\n"
	    "[limits]\nmax_attempts = 2\nmax_participants = 2\n%s"
	    "[geographies]\ngeography = g3 regions.csv\n", top, top, top, top,
	    fedconf, top, data, limits_extra);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(coord_config_load(confpath, cfg), CAIRN_OK);
	assert_int_equal(coord_start(cfg, &c), CAIRN_OK);
	who_open(&analyst, "nso", coord_port(c));
	who_open(&analyst2, "nso2", coord_port(c));
	who_open(&nodes[0], "na", coord_port(c));
	who_open(&nodes[1], "nb", coord_port(c));
	return c;
}

static void
stop(struct coord *c, struct coord_config *cfg)
{
	who_close(&analyst);
	who_close(&analyst2);
	who_close(&nodes[0]);
	who_close(&nodes[1]);
	coord_stop(c);
	coord_config_release(cfg);
}

/* ρ of the next query as is on the wire, nano-ρ, unless negative. */
static int64_t raw_rho = -1;

/* What a test query varies. */
struct qopt {
	const char	*id;
	const char	*analyst;
	const char	*federation;
	const char	*geography;
	const char	*p[3];
	size_t		 np;
	size_t		 nonce_len;
	double		 rho;
};

static int
submit(const struct qopt *o, uint64_t *index)
{
	Cairn__V1__Query q = CAIRN__V1__QUERY__INIT;
	Cairn__V1__QuerySpec sp = CAIRN__V1__QUERY_SPEC__INIT;
	Cairn__V1__MemberId who = CAIRN__V1__MEMBER_ID__INIT;
	Cairn__V1__SignedQuery sq = CAIRN__V1__SIGNED_QUERY__INIT;
	ProtobufCMessage *resp;
	uint8_t nonce[32] = { 0 }, sig[64], *b;
	/* nso2's queries come from nso2; any other name is nso's doing. */
	struct who *as = o->analyst != NULL && strcmp(o->analyst, "nso2") ==
	    0 ? &analyst2 : &analyst;
	size_t bl;
	int r;

	sp.kind = "residents";
	sp.start = "2024-03-01";
	sp.end = "2024-04-01";
	sp.geography = (char *)(o->geography ? o->geography : "g3");
	who.role = CAIRN__V1__ROLE__ROLE_ANALYST;
	who.name = (char *)(o->analyst ? o->analyst : "nso");
	q.query_id = (char *)o->id;
	q.analyst = &who;
	q.spec = &sp;
	q.rho_nano = raw_rho >= 0 ? (uint64_t)raw_rho :
	    NANO(o->rho > 0 ? o->rho : 0.5);
	q.n_participants = o->np;
	q.participants = (char **)o->p;
	q.federation = (char *)(o->federation ? o->federation : "svc");
	q.nonce.data = nonce;
	q.nonce.len = o->nonce_len ? o->nonce_len : 16;
	assert_int_equal(proto_pack(&q.base, PROTO_MAX_SMALL, &b, &bl),
	    CAIRN_OK);
	assert_int_equal(keys_sign(as->id, "query", b, bl, sig), CAIRN_OK);
	sq.query.data = b;
	sq.query.len = bl;
	sq.signature.data = sig;
	sq.signature.len = 64;
	r = transport_unary(as->cl, proto_method(PROTO_SUBMIT_QUERY),
	    &sq.base, 5000, &resp);
	free(b);
	if (r == CAIRN_OK) {
		if (index != NULL)
			*index = ((Cairn__V1__SubmitQueryResponse *)resp)->
			    log_index;
		protobuf_c_message_free_unpacked(resp, NULL);
	}
	return r;
}

static Cairn__V1__QueryStatus *
status(const char *id)
{
	Cairn__V1__GetQueryRequest rq = CAIRN__V1__GET_QUERY_REQUEST__INIT;
	ProtobufCMessage *resp;

	rq.query_id = (char *)id;
	assert_int_equal(transport_unary(analyst.cl,
	    proto_method(PROTO_GET_QUERY), &rq.base, 5000, &resp), CAIRN_OK);
	return (Cairn__V1__QueryStatus *)resp;
}

static Cairn__V1__Task *
poll(struct who *n, uint32_t wait_ms)
{
	Cairn__V1__PollTaskRequest rq = CAIRN__V1__POLL_TASK_REQUEST__INIT;
	Cairn__V1__PollTaskResponse *pr;
	Cairn__V1__Task *t;
	ProtobufCMessage *resp;

	rq.wait_ms = wait_ms;
	assert_int_equal(transport_unary(n->cl, proto_method(PROTO_POLL_TASK),
	    &rq.base, wait_ms + 5000, &resp), CAIRN_OK);
	pr = (Cairn__V1__PollTaskResponse *)resp;
	t = pr->task;
	pr->task = NULL;
	protobuf_c_message_free_unpacked(resp, NULL);
	if (t != NULL) {
		/* Every task carries the pin of its geography (g3). */
		char rp[160];
		uint8_t h[32];

		snprintf(rp, sizeof(rp), "%s/regions.csv", top);
		assert_int_equal(keys_file_sha256(rp, h), CAIRN_OK);
		assert_int_equal(t->geography_sha256.len, 32);
		assert_memory_equal(t->geography_sha256.data, h, 32);
	}
	return t;
}

static void
refuse(struct who *n, const char *name, const Cairn__V1__Task *t)
{
	Cairn__V1__Refusal rf = CAIRN__V1__REFUSAL__INIT;
	Cairn__V1__SignedRefusal sr = CAIRN__V1__SIGNED_REFUSAL__INIT;
	ProtobufCMessage *resp;
	uint8_t qh[32], sig[64], *b;
	size_t bl;

	crypto_hash_sha256(qh, t->query->query.data, t->query->query.len);
	rf.query_id = t->query_id;
	rf.query_hash.data = qh;
	rf.query_hash.len = 32;
	rf.node = (char *)name;
	rf.reason_code = "budget";
	rf.reason = "spent";
	assert_int_equal(proto_pack(&rf.base, PROTO_MAX_SMALL, &b, &bl),
	    CAIRN_OK);
	assert_int_equal(keys_sign(n->id, "refusal", b, bl, sig), CAIRN_OK);
	sr.refusal.data = b;
	sr.refusal.len = bl;
	sr.signature.data = sig;
	sr.signature.len = 64;
	assert_int_equal(transport_unary(n->cl, proto_method(PROTO_REFUSE),
	    &sr.base, 5000, &resp), CAIRN_OK);
	assert_non_null(strstr(((Cairn__V1__Ack *)resp)->detail,
	    "REFUSAL logged at index "));
	protobuf_c_message_free_unpacked(resp, NULL);
	free(b);
}

static void
test_submit_checks(void **state)
{
	struct coord_config cfg;
	struct coord *c;
	struct qopt o = { "ok-1", NULL, NULL, NULL, { "na", "nb" }, 2, 0, 0 };
	uint64_t idx;

	(void)state;
	c = start(&cfg, "d1");
	o.id = "bad id!";
	assert_int_equal(submit(&o, NULL), CAIRN_ERR_FORMAT);
	o.id = "q";
	o.nonce_len = 15;
	assert_int_equal(submit(&o, NULL), CAIRN_ERR_FORMAT);
	o.nonce_len = 0;
	o.federation = "other";
	assert_int_equal(submit(&o, NULL), CAIRN_ERR_POLICY);
	o.federation = NULL;
	o.analyst = "someone";
	assert_int_equal(submit(&o, NULL), CAIRN_ERR_UNAUTH);
	o.analyst = NULL;
	o.np = 1;
	assert_int_equal(submit(&o, NULL), CAIRN_ERR_POLICY);
	o.np = 3;
	o.p[2] = "nc";
	/* Over max_participants = 2. */
	assert_int_equal(submit(&o, NULL), CAIRN_ERR_POLICY);
	o.np = 2;
	o.p[1] = "nc";
	assert_int_equal(submit(&o, NULL), CAIRN_ERR_POLICY);
	o.p[1] = "na";
	assert_int_equal(submit(&o, NULL), CAIRN_ERR_ARG);
	o.p[1] = "nb";
	o.rho = 1.5;
	assert_int_equal(submit(&o, NULL), CAIRN_ERR_POLICY);
	o.rho = 0;
	/* Hand-built wire queries: 0 nano-rho, and 1 nano-rho over the
	 * limit of 1 rho (coordinator.conf's max_rho_per_query). */
	raw_rho = 0;
	assert_int_equal(submit(&o, NULL), CAIRN_ERR_ARG);
	assert_non_null(strstr(cairn_errmsg(), "rho_nano is 0"));
	raw_rho = 1000000001;
	assert_int_equal(submit(&o, NULL), CAIRN_ERR_POLICY);
	assert_non_null(strstr(cairn_errmsg(), "rho 1.000000001 (1000000001 "
	    "nano-rho) is over the federation's limit of 1 per query"));
	raw_rho = 1000000000;	/* exactly the limit */
	o.id = "at-limit";
	assert_int_equal(submit(&o, NULL), CAIRN_OK);
	o.id = "q";
	raw_rho = -1;
	/* Nothing was logged for the refused ones: the QUERY after the
	 * one at the limit follows the MEMBER entries of the coordinator's
	 * first start. */
	assert_int_equal(submit(&o, &idx), CAIRN_OK);
	assert_int_equal(idx, NMEMBERS + 1);
	assert_int_equal(submit(&o, NULL), CAIRN_ERR_EXISTS);
	stop(c, &cfg);
}

static void
test_retry_and_limit(void **state)
{
	struct coord_config cfg;
	struct coord *c;
	Cairn__V1__Query q = CAIRN__V1__QUERY__INIT;
	Cairn__V1__QuerySpec sp = CAIRN__V1__QUERY_SPEC__INIT;
	Cairn__V1__MemberId who = CAIRN__V1__MEMBER_ID__INIT;
	Cairn__V1__SignedQuery sq = CAIRN__V1__SIGNED_QUERY__INIT;
	Cairn__V1__QueryStatus *st;
	Cairn__V1__Task *t;
	ProtobufCMessage *resp;
	const char *parts[2] = { "na", "nb" };
	uint8_t nonce[16] = { 1 }, sig[64], *b;
	size_t bl;

	(void)state;
	c = start(&cfg, "d2");
	sp.kind = "residents";
	sp.start = "2024-03-01";
	sp.end = "2024-04-01";
	sp.geography = "g3";
	who.role = CAIRN__V1__ROLE__ROLE_ANALYST;
	who.name = "nso";
	q.query_id = "retry";
	q.analyst = &who;
	q.spec = &sp;
	q.rho_nano = NANO(0.25);
	q.n_participants = 2;
	q.participants = (char **)parts;
	q.federation = "svc";
	q.nonce.data = nonce;
	q.nonce.len = 16;
	assert_int_equal(proto_pack(&q.base, PROTO_MAX_SMALL, &b, &bl),
	    CAIRN_OK);
	assert_int_equal(keys_sign(analyst.id, "query", b, bl, sig), CAIRN_OK);
	sq.query.data = b;
	sq.query.len = bl;
	sq.signature.data = sig;
	sq.signature.len = 64;
	for (unsigned a = 0; a < 3; a++) {
		int r = transport_unary(analyst.cl,
		    proto_method(PROTO_SUBMIT_QUERY), &sq.base, 5000, &resp);

		if (a == 2) {
			/* max_attempts = 2 */
			assert_int_equal(r, CAIRN_ERR_EXISTS);
			assert_non_null(strstr(cairn_errmsg(), "limit"));
			break;
		}
		assert_int_equal(r, CAIRN_OK);
		protobuf_c_message_free_unpacked(resp, NULL);
		st = status("retry");
		assert_int_equal(st->state,
		    CAIRN__V1__QUERY_STATE__QUERY_STATE_PENDING);
		protobuf_c_message_free_unpacked(&st->base, NULL);
		/* While the attempt is open the same bytes are a replay. */
		assert_int_equal(transport_unary(analyst.cl,
		    proto_method(PROTO_SUBMIT_QUERY), &sq.base, 5000, &resp),
		    CAIRN_ERR_EXISTS);
		assert_non_null(t = poll(&nodes[0], 2000));
		assert_int_equal(t->attempt, a);
		st = status("retry");
		assert_int_equal(st->state,
		    CAIRN__V1__QUERY_STATE__QUERY_STATE_RUNNING);
		protobuf_c_message_free_unpacked(&st->base, NULL);
		refuse(&nodes[0], "na", t);
		protobuf_c_message_free_unpacked(&t->base, NULL);
		st = status("retry");
		assert_int_equal(st->state,
		    CAIRN__V1__QUERY_STATE__QUERY_STATE_REFUSED);
		assert_int_equal(st->attempt, a);
		assert_non_null(strstr(st->failure, "node na refused"));
		protobuf_c_message_free_unpacked(&st->base, NULL);
	}
	free(b);
	stop(c, &cfg);
}

struct poller {
	struct who	*n;
	Cairn__V1__Task	*t;
	int64_t		 ms;
};

static void *
poller(void *arg)
{
	struct poller *p = arg;
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	p->t = poll(p->n, 20000);
	clock_gettime(CLOCK_MONOTONIC, &b);
	p->ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) /
	    1000000;
	return NULL;
}

/*
 * A graceful stop answers a waiting PollTask at once (no task) and fails
 * the open attempt with a FAILURE entry ("coordinator stopping"); the
 * next start finds nothing left open (a crash's leftovers are failed as
 * "coordinator restarted": coord_round.sh).
 */
static void
test_stop_and_restart(void **state)
{
	struct coord_config cfg;
	struct coord *c;
	struct qopt o = { "open", NULL, NULL, NULL, { "na", "nb" }, 2, 0, 0 };
	Cairn__V1__GetEntriesRequest er = CAIRN__V1__GET_ENTRIES_REQUEST__INIT;
	Cairn__V1__GetEntriesResponse *ents;
	Cairn__V1__QueryStatus *st;
	struct tlog_entry *e;
	ProtobufCMessage *resp;
	struct poller p;
	pthread_t th;

	(void)state;
	c = start(&cfg, "d3");
	assert_int_equal(submit(&o, NULL), CAIRN_OK);
	/* na takes the task; its second poll then waits (the task is
	 * handed again only after redeliver_seconds). */
	assert_non_null(p.t = poll(&nodes[0], 1000));
	protobuf_c_message_free_unpacked(&p.t->base, NULL);
	p.n = &nodes[0];
	assert_int_equal(pthread_create(&th, NULL, poller, &p), 0);
	usleep(300000);
	who_close(&analyst);
	who_close(&analyst2);
	who_close(&nodes[1]);
	coord_stop(c);
	pthread_join(th, NULL);
	assert_null(p.t);
	assert_true(p.ms < 5000);
	who_close(&nodes[0]);
	coord_config_release(&cfg);

	c = start(&cfg, "d3");
	st = status("open");
	assert_int_equal(st->state, CAIRN__V1__QUERY_STATE__QUERY_STATE_FAILED);
	assert_string_equal(st->failure, "attempt 0: coordinator stopping");
	protobuf_c_message_free_unpacked(&st->base, NULL);
	/* The log: the members (logged once, the restart changed none),
	 * the QUERY, the stop's FAILURE (the status above shows that the
	 * restart failed nothing more). */
	er.start = 0;
	er.end = NMEMBERS + 2;
	assert_int_equal(transport_unary(analyst.cl,
	    proto_method(PROTO_GET_ENTRIES), &er.base, 5000, &resp), CAIRN_OK);
	ents = (Cairn__V1__GetEntriesResponse *)resp;
	assert_int_equal(ents->n_entries, NMEMBERS + 2);
	for (size_t i = 0; i < NMEMBERS; i++)
		assert_int_equal(ents->entries[i]->type,
		    CAIRN__V1__ENTRY_TYPE__ENTRY_MEMBER);
	ents->entries += NMEMBERS;	/* restored before the free */
	assert_int_equal(ents->entries[0]->type,
	    CAIRN__V1__ENTRY_TYPE__ENTRY_QUERY);
	assert_int_equal(ents->entries[1]->type,
	    CAIRN__V1__ENTRY_TYPE__ENTRY_FAILURE);
	assert_non_null(e = malloc(sizeof(*e)));
	assert_int_equal(tlog_entry_decode(ents->entries[1]->data.data,
	    ents->entries[1]->data.len, e), CAIRN_OK);
	assert_int_equal(e->reason.len, strlen("attempt 0: coordinator "
	    "stopping"));
	assert_memory_equal(e->reason.p, "attempt 0: coordinator stopping",
	    e->reason.len);
	free(e);
	ents->entries -= NMEMBERS;
	protobuf_c_message_free_unpacked(resp, NULL);
	stop(c, &cfg);
}

/* One GetQuery long poll in a thread, timed. */
struct status_wait {
	struct transport_client	*cl;		/* NULL: analyst's */
	const char		*id;
	Cairn__V1__QueryState	 seen;
	uint32_t		 attempt, wait_ms;
	int			 r;
	Cairn__V1__QueryStatus	*st;
	int64_t			 ms;
};

static void *
status_waiter(void *arg)
{
	struct status_wait *sw = arg;
	Cairn__V1__GetQueryRequest rq = CAIRN__V1__GET_QUERY_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	struct timespec a, b;

	rq.query_id = (char *)sw->id;
	rq.seen_state = sw->seen;
	rq.seen_attempt = sw->attempt;
	rq.wait_ms = sw->wait_ms;
	clock_gettime(CLOCK_MONOTONIC, &a);
	sw->r = transport_unary(sw->cl != NULL ? sw->cl : analyst.cl,
	    proto_method(PROTO_GET_QUERY), &rq.base, sw->wait_ms + 5000,
	    &resp);
	clock_gettime(CLOCK_MONOTONIC, &b);
	sw->st = (Cairn__V1__QueryStatus *)resp;
	sw->ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) /
	    1000000;
	return NULL;
}

static void
status_wait_start(struct status_wait *sw, pthread_t *th, const char *id,
    Cairn__V1__QueryState seen, uint32_t attempt, uint32_t wait_ms)
{
	memset(sw, 0, sizeof(*sw));
	sw->id = id;
	sw->seen = seen;
	sw->attempt = attempt;
	sw->wait_ms = wait_ms;
	assert_int_equal(pthread_create(th, NULL, status_waiter, sw), 0);
}

/*
 * GetQuery with wait_ms is a long poll: it answers at once when the state
 * already differs from the one seen, on the first delivery (pending to
 * running), on a refusal, after wait_ms when nothing changes, and with
 * the status when the coordinator stops; unknown queries are NOT_FOUND.
 */
static void
test_status_long_poll(void **state)
{
	struct coord_config cfg;
	struct coord *c;
	struct qopt o = { "lp", NULL, NULL, NULL, { "na", "nb" }, 2, 0, 0 };
	struct status_wait sw;
	Cairn__V1__Task *t;
	pthread_t th;

	(void)state;
	c = start(&cfg, "d4");
	assert_int_equal(submit(&o, NULL), CAIRN_OK);

	/* Nothing changes: answered after wait_ms, still pending. */
	status_wait_start(&sw, &th, "lp",
	    CAIRN__V1__QUERY_STATE__QUERY_STATE_PENDING, 0, 400);
	pthread_join(th, NULL);
	assert_int_equal(sw.r, CAIRN_OK);
	assert_int_equal(sw.st->state,
	    CAIRN__V1__QUERY_STATE__QUERY_STATE_PENDING);
	assert_true(sw.ms >= 350 && sw.ms < 15000);
	protobuf_c_message_free_unpacked(&sw.st->base, NULL);

	/* Another state seen (or none): answered at once. */
	status_wait_start(&sw, &th, "lp",
	    CAIRN__V1__QUERY_STATE__QUERY_STATE_RUNNING, 0, 20000);
	pthread_join(th, NULL);
	assert_int_equal(sw.r, CAIRN_OK);
	assert_int_equal(sw.st->state,
	    CAIRN__V1__QUERY_STATE__QUERY_STATE_PENDING);
	assert_true(sw.ms < 15000);
	protobuf_c_message_free_unpacked(&sw.st->base, NULL);
	status_wait_start(&sw, &th, "lp",
	    CAIRN__V1__QUERY_STATE__QUERY_STATE_UNSPECIFIED, 0, 20000);
	pthread_join(th, NULL);
	assert_int_equal(sw.r, CAIRN_OK);
	assert_true(sw.ms < 15000);
	protobuf_c_message_free_unpacked(&sw.st->base, NULL);

	/* Pending to running when a node takes the task. */
	status_wait_start(&sw, &th, "lp",
	    CAIRN__V1__QUERY_STATE__QUERY_STATE_PENDING, 0, 20000);
	usleep(200000);
	assert_non_null(t = poll(&nodes[0], 2000));
	pthread_join(th, NULL);
	assert_int_equal(sw.r, CAIRN_OK);
	assert_int_equal(sw.st->state,
	    CAIRN__V1__QUERY_STATE__QUERY_STATE_RUNNING);
	assert_true(sw.ms < 15000);
	protobuf_c_message_free_unpacked(&sw.st->base, NULL);

	/* Running to refused: the refusal wakes the poll. */
	status_wait_start(&sw, &th, "lp",
	    CAIRN__V1__QUERY_STATE__QUERY_STATE_RUNNING, 0, 20000);
	usleep(200000);
	refuse(&nodes[0], "na", t);
	protobuf_c_message_free_unpacked(&t->base, NULL);
	pthread_join(th, NULL);
	assert_int_equal(sw.r, CAIRN_OK);
	assert_int_equal(sw.st->state,
	    CAIRN__V1__QUERY_STATE__QUERY_STATE_REFUSED);
	assert_non_null(strstr(sw.st->failure, "node na refused"));
	assert_true(sw.ms < 15000);
	protobuf_c_message_free_unpacked(&sw.st->base, NULL);

	/* No such query. */
	status_wait_start(&sw, &th, "nope",
	    CAIRN__V1__QUERY_STATE__QUERY_STATE_PENDING, 0, 20000);
	pthread_join(th, NULL);
	assert_int_equal(sw.r, CAIRN_ERR_NOTFOUND);
	assert_true(sw.ms < 15000);

	/* A stop answers a waiting poll with the status. */
	status_wait_start(&sw, &th, "lp",
	    CAIRN__V1__QUERY_STATE__QUERY_STATE_REFUSED, 0, 20000);
	usleep(300000);
	who_close(&nodes[0]);
	who_close(&nodes[1]);
	who_close(&analyst2);
	coord_stop(c);
	pthread_join(th, NULL);
	assert_int_equal(sw.r, CAIRN_OK);
	assert_int_equal(sw.st->state,
	    CAIRN__V1__QUERY_STATE__QUERY_STATE_REFUSED);
	assert_true(sw.ms < 15000);
	protobuf_c_message_free_unpacked(&sw.st->base, NULL);
	who_close(&analyst);
	coord_config_release(&cfg);
}

/* Wait (up to 20 s) until the coordinator holds 'n' long polls. */
static void
long_polls_are(struct coord *c, size_t n)
{
	for (int i = 0; i < 2000 && coord_long_polls(c) != n; i++)
		usleep(10000);
	assert_int_equal(coord_long_polls(c), n);
}

/*
 * Long polls are limited per caller (role and name), under a global cap:
 * one analyst holding its 16 GetQuery waits does not make another
 * analyst's wait fail (it did: every GetQuery wait counted under one
 * shared name); its 17th is refused naming the limit; and with
 * [limits] max_long_polls = 3, a wait within its caller's limit is
 * refused once three polls are held, naming that limit.
 */
static void
test_long_polls_per_caller(void **state)
{
	struct coord_config cfg;
	struct coord *c;
	struct qopt o1 = { "lp1", NULL, NULL, NULL, { "na", "nb" }, 2, 0, 0 };
	struct qopt o2 = { "lp2", "nso2", NULL, NULL, { "na", "nb" }, 2, 0,
	    0 };
	const Cairn__V1__QueryState P =
	    CAIRN__V1__QUERY_STATE__QUERY_STATE_PENDING;
	struct transport_client *cl[4];
	struct status_wait sw[16], one, two;
	pthread_t th[16], t1;
	struct who w;

	(void)state;
	c = start(&cfg, "d6");
	assert_int_equal(submit(&o1, NULL), CAIRN_OK);
	assert_int_equal(submit(&o2, NULL), CAIRN_OK);
	/* At most six threads wait on one client: four more of nso. */
	for (int i = 0; i < 4; i++) {
		who_open(&w, "nso", coord_port(c));
		keys_identity_free(w.id);
		cl[i] = w.cl;
	}
	/* nso holds its 16 (the default limit). */
	for (int i = 0; i < 16; i++) {
		memset(&sw[i], 0, sizeof(sw[i]));
		sw[i].cl = cl[i % 4];
		sw[i].id = "lp1";
		sw[i].seen = P;
		sw[i].wait_ms = 5000;
		assert_int_equal(pthread_create(&th[i], NULL, status_waiter,
		    &sw[i]), 0);
	}
	long_polls_are(c, 16);
	/* Its 17th is refused, naming the limit. */
	memset(&one, 0, sizeof(one));
	one.id = "lp1";
	one.seen = P;
	one.wait_ms = 5000;
	status_waiter(&one);
	assert_int_equal(one.r, CAIRN_ERR_TOOBIG);
	assert_non_null(strstr(cairn_errmsg(), "GetQuery: RESOURCE_EXHAUSTED: "
	    "analyst nso holds 16 long polls already (the limit per member, "
	    "[limits] max_long_polls_per_member)"));
	/* Another analyst's wait is held meanwhile, and answered when its
	 * wait is over (a refusal would come back at once). */
	memset(&one, 0, sizeof(one));
	one.cl = analyst2.cl;
	one.id = "lp2";
	one.seen = P;
	one.wait_ms = 300;
	status_waiter(&one);
	assert_int_equal(one.r, CAIRN_OK);
	assert_int_equal(one.st->state, P);
	assert_true(one.ms >= 250);
	protobuf_c_message_free_unpacked(&one.st->base, NULL);
	for (int i = 0; i < 16; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(sw[i].r, CAIRN_OK);
		protobuf_c_message_free_unpacked(&sw[i].st->base, NULL);
	}
	long_polls_are(c, 0);
	for (int i = 0; i < 4; i++)
		transport_client_free(cl[i]);
	stop(c, &cfg);

	/* All members together: at most max_long_polls. */
	limits_extra = "max_long_polls_per_member = 2\nmax_long_polls = 3\n";
	c = start(&cfg, "d7");
	limits_extra = "";
	assert_int_equal(submit(&o1, NULL), CAIRN_OK);
	assert_int_equal(submit(&o2, NULL), CAIRN_OK);
	for (int i = 0; i < 2; i++) {
		memset(&sw[i], 0, sizeof(sw[i]));
		sw[i].id = "lp1";
		sw[i].seen = P;
		sw[i].wait_ms = 3000;
		assert_int_equal(pthread_create(&th[i], NULL, status_waiter,
		    &sw[i]), 0);
	}
	long_polls_are(c, 2);
	memset(&one, 0, sizeof(one));
	one.id = "lp1";
	one.seen = P;
	one.wait_ms = 3000;
	status_waiter(&one);
	assert_int_equal(one.r, CAIRN_ERR_TOOBIG);
	assert_non_null(strstr(cairn_errmsg(), "analyst nso holds 2 long "
	    "polls already (the limit per member"));
	memset(&one, 0, sizeof(one));
	one.cl = analyst2.cl;
	one.id = "lp2";
	one.seen = P;
	one.wait_ms = 3000;
	assert_int_equal(pthread_create(&t1, NULL, status_waiter, &one), 0);
	long_polls_are(c, 3);
	/* nso2 holds one of its two, but all members hold three. */
	memset(&two, 0, sizeof(two));
	two.cl = analyst2.cl;
	two.id = "lp2";
	two.seen = P;
	two.wait_ms = 3000;
	status_waiter(&two);
	assert_int_equal(two.r, CAIRN_ERR_TOOBIG);
	assert_non_null(strstr(cairn_errmsg(), "GetQuery: RESOURCE_EXHAUSTED: "
	    "the coordinator holds 3 long polls already (the limit for all "
	    "members, [limits] max_long_polls)"));
	pthread_join(t1, NULL);
	assert_int_equal(one.r, CAIRN_OK);
	protobuf_c_message_free_unpacked(&one.st->base, NULL);
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(sw[i].r, CAIRN_OK);
		protobuf_c_message_free_unpacked(&sw[i].st->base, NULL);
	}
	/* Room again: nso2's wait is held, and answered when it is over. */
	long_polls_are(c, 0);
	two.wait_ms = 300;
	status_waiter(&two);
	assert_int_equal(two.r, CAIRN_OK);
	assert_true(two.ms >= 250);
	protobuf_c_message_free_unpacked(&two.st->base, NULL);
	stop(c, &cfg);
}

/* Node 'w' publishes a Policy with 'budget' signed by 'signer'. */
static int
publish(struct who *w, const char *name, double budget,
    const struct keys_identity *signer, char *detail, size_t cap)
{
	Cairn__V1__Policy p = CAIRN__V1__POLICY__INIT;
	Cairn__V1__SignedPolicy sp = CAIRN__V1__SIGNED_POLICY__INIT;
	ProtobufCMessage *resp = NULL;
	uint8_t *b, sig[64];
	size_t bl;
	int r;

	p.node = (char *)name;
	p.budget_rho_per_month_nano = NANO(budget);
	p.max_rho_per_query_nano = NANO(budget);
	assert_int_equal(proto_pack(&p.base, PROTO_MAX_SMALL, &b, &bl),
	    CAIRN_OK);
	assert_int_equal(keys_sign(signer, "policy", b, bl, sig), CAIRN_OK);
	sp.policy.data = b;
	sp.policy.len = bl;
	sp.signature.data = sig;
	sp.signature.len = 64;
	r = transport_unary(w->cl, proto_method(PROTO_PUBLISH_POLICY),
	    &sp.base, 5000, &resp);
	if (r == CAIRN_OK)
		snprintf(detail, cap, "%s", ((Cairn__V1__Ack *)resp)->detail);
	if (resp != NULL)
		protobuf_c_message_free_unpacked(resp, NULL);
	free(b);
	return r;
}

/*
 * PublishPolicy: a node's signed policy is logged once per change, after
 * the MEMBER entries; another node's key, another node's name and an
 * analyst caller are refused.
 */
static void
test_publish_policy(void **state)
{
	struct coord_config cfg;
	struct coord *c;
	char d[128];

	(void)state;
	c = start(&cfg, "d5");
	assert_int_equal(publish(&nodes[0], "na", 1.0, nodes[0].id, d,
	    sizeof(d)), CAIRN_OK);
	assert_string_equal(d, "POLICY logged at index 5");
	assert_int_equal(publish(&nodes[0], "na", 1.0, nodes[0].id, d,
	    sizeof(d)), CAIRN_OK);
	assert_string_equal(d, "POLICY unchanged at index 5");
	assert_int_equal(publish(&nodes[0], "na", 0.5, nodes[0].id, d,
	    sizeof(d)), CAIRN_OK);
	assert_string_equal(d, "POLICY logged at index 6");
	assert_int_not_equal(publish(&nodes[0], "na", 1.0, nodes[1].id, d,
	    sizeof(d)), CAIRN_OK);
	assert_int_not_equal(publish(&nodes[1], "na", 1.0, nodes[1].id, d,
	    sizeof(d)), CAIRN_OK);
	assert_int_not_equal(publish(&analyst, "nso", 1.0, analyst.id, d,
	    sizeof(d)), CAIRN_OK);
	stop(c, &cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_submit_checks),
		cmocka_unit_test(test_retry_and_limit),
		cmocka_unit_test(test_stop_and_restart),
		cmocka_unit_test(test_status_long_poll),
		cmocka_unit_test(test_long_polls_per_caller),
		cmocka_unit_test(test_publish_policy),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
