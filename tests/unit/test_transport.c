/*
 * test_transport.c - mutual TLS, authorization by role, size limits,
 * malformed input, deadlines, unknown methods, calls finished later from
 * another thread, streaming, retries and shutdown with calls in flight,
 * over loopback.
 *
 * A throwaway federation (CA, coordinator, node, analyst, auditor) and a
 * rogue CA with its own "node" are made once with the keys/ API.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/err.h"
#include "keys/keys.h"
#include "keys/keys_tls.h"
#include "protocol/cairn.pb-c.h"
#include "protocol/proto_service.h"
#include "protocol/transport.h"

#define CHECKPOINT_NOTE	"test.cairn/log\n7\nAAAA\n\n— test sig\n"

static char dir[64];
static struct keys_tls *t_coord, *t_node, *t_analyst, *t_auditor, *t_rogue;
static struct transport_server *srv;
static char target[64];

/* ------------------------------------------------------------ the PKI */

static void
member(const char *cadir, enum keys_role role, const char *name,
    const char *hosts, struct keys_tls **out)
{
	char key[256], csr[256], crt[256], ca[256];

	snprintf(key, sizeof(key), "%s/%s.key", cadir, name);
	snprintf(csr, sizeof(csr), "%s/%s.csr", cadir, name);
	snprintf(crt, sizeof(crt), "%s/%s.crt", cadir, name);
	snprintf(ca, sizeof(ca), "%s/ca.crt", cadir);
	assert_int_equal(keys_tls_new(role, name, key, csr), CAIRN_OK);
	assert_int_equal(keys_cert_issue(cadir, csr, crt, 30, hosts, NULL),
	    CAIRN_OK);
	assert_int_equal(keys_tls_load(ca, crt, key, out), CAIRN_OK);
}

/* ----------------------------------------------------------- handlers */

struct parked {
	pthread_mutex_t		 mu;
	struct transport_call	*call;
	pthread_t		 thr;
	bool			 have_thr;
	unsigned		 delay_ms;
	int			 cancels;
	bool			 saw_cancelled;
};
static struct parked park = { .mu = PTHREAD_MUTEX_INITIALIZER };

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void
h_checkpoint(struct transport_call *call, const ProtobufCMessage *req,
    void *arg)
{
	Cairn__V1__Checkpoint cp = CAIRN__V1__CHECKPOINT__INIT;

	(void)req;
	(void)arg;
	cp.note = (char *)CHECKPOINT_NOTE;
	(void)transport_call_reply(call, &cp.base);
}

static void
h_submit_query(struct transport_call *call, const ProtobufCMessage *req,
    void *arg)
{
	const Cairn__V1__SignedQuery *q = (const Cairn__V1__SignedQuery *)req;
	Cairn__V1__SubmitQueryResponse r =
	    CAIRN__V1__SUBMIT_QUERY_RESPONSE__INIT;
	char id[KEYS_NAME_MAX + KEYS_FPR_LEN + 2], fpr[KEYS_FPR_LEN];

	(void)arg;
	if (q->query.len == 0) {
		(void)transport_call_fail(call, CAIRN_ERR_BUDGET, "rho",
		    "budget of 2026-01 exhausted");
		return;
	}
	/* Runs on a server thread: report problems through the call, since
	 * cmocka's assertions must stay on the test's thread. */
	if (transport_call_peer_cert_fpr(call, fpr) != CAIRN_OK ||
	    transport_call_role(call) != KEYS_ROLE_ANALYST ||
	    transport_call_method(call) != proto_method(PROTO_SUBMIT_QUERY) ||
	    transport_call_remaining_ms(call) < 1000 ||
	    transport_call_is_cancelled(call)) {
		(void)transport_call_fail(call, CAIRN_ERR_INTERNAL, NULL,
		    "call accessors disagree");
		return;
	}
	snprintf(id, sizeof(id), "%s:%s", transport_call_peer(call), fpr);
	r.query_id = id;
	r.log_index = q->query.len;
	(void)transport_call_reply(call, &r.base);
}

static void
h_share(struct transport_call *call, const ProtobufCMessage *req, void *arg)
{
	const Cairn__V1__MaskedShareChunk *m =
	    (const Cairn__V1__MaskedShareChunk *)req;
	Cairn__V1__SubmitShareResponse r =
	    CAIRN__V1__SUBMIT_SHARE_RESPONSE__INIT;

	(void)arg;
	r.received_cells = m->n_cells;
	(void)transport_call_reply(call, &r.base);
}

/* Reply from another thread after park.delay_ms. */
static void *
late_reply(void *arg)
{
	Cairn__V1__GetEntriesResponse r = CAIRN__V1__GET_ENTRIES_RESPONSE__INIT;
	struct transport_call *call;

	(void)arg;
	pthread_mutex_lock(&park.mu);
	call = park.call;
	pthread_mutex_unlock(&park.mu);
	sleep_ms(park.delay_ms);
	pthread_mutex_lock(&park.mu);
	if (park.call == call) {
		park.call = NULL;
		pthread_mutex_unlock(&park.mu);
		(void)transport_call_reply(call, &r.base);
		return NULL;
	}
	pthread_mutex_unlock(&park.mu);	/* finished by the cancel path */
	return NULL;
}

/* GetEntries: start = 0 replies now, else after 'start' ms from a thread;
 * end = 1 parks the call until it is cancelled. */
static void
h_entries(struct transport_call *call, const ProtobufCMessage *req, void *arg)
{
	const Cairn__V1__GetEntriesRequest *q =
	    (const Cairn__V1__GetEntriesRequest *)req;
	Cairn__V1__GetEntriesResponse r = CAIRN__V1__GET_ENTRIES_RESPONSE__INIT;

	(void)arg;
	if (q->start == 0 && q->end == 0) {
		(void)transport_call_reply(call, &r.base);
		return;
	}
	pthread_mutex_lock(&park.mu);
	park.call = call;
	if (q->end == 0) {
		park.delay_ms = (unsigned)q->start;
		park.have_thr = pthread_create(&park.thr, NULL, late_reply,
		    NULL) == 0;
	}
	pthread_mutex_unlock(&park.mu);
}

static void
c_entries(struct transport_call *call, void *arg)
{
	(void)arg;
	pthread_mutex_lock(&park.mu);
	park.cancels++;
	if (park.call == call) {
		park.call = NULL;
		park.saw_cancelled = transport_call_is_cancelled(call);
		pthread_mutex_unlock(&park.mu);
		(void)transport_call_fail(call, CAIRN_ERR_CANCELLED, NULL,
		    "stopping");
		return;
	}
	pthread_mutex_unlock(&park.mu);
}

static void
join_parked(void)
{
	if (park.have_thr) {
		pthread_join(park.thr, NULL);
		park.have_thr = false;
	}
}

/* GetResult: a release then three chunks of 1000 values. */
static void
h_result(struct transport_call *call, const ProtobufCMessage *req, void *arg)
{
	Cairn__V1__ResultChunk ch = CAIRN__V1__RESULT_CHUNK__INIT;
	Cairn__V1__Release rel = CAIRN__V1__RELEASE__INIT;
	int64_t vals[1000];
	int r = CAIRN_OK;

	(void)req;
	(void)arg;
	for (int i = 0; i < 1000; i++)
		vals[i] = -i;
	rel.query_id = (char *)"q1";
	rel.cells = 3000;
	rel.noise_variance = 12;
	ch.release = &rel;
	ch.n_values = 1000;
	ch.values = vals;
	for (int k = 0; k < 3; k++) {
		ch.offset = (uint64_t)k * 1000;
		if ((r = transport_call_send(call, &ch.base)) != CAIRN_OK)
			break;
		ch.release = NULL;
	}
	(void)transport_call_finish(call, r, r ? "send failed" : NULL);
}

/* GetResult with a small stream queue: query "thread" streams 8 messages
 * of ~390 KB from a producer thread, which must wait for the queue to
 * drain; query "worker" tries the same on the transport thread, where the
 * third message overflows the queue (CAIRN_ERR_TOOBIG). */
static pthread_t producer;
static bool have_producer;

static void *
produce(void *arg)
{
	struct transport_call *call = arg;
	Cairn__V1__ResultChunk ch = CAIRN__V1__RESULT_CHUNK__INIT;
	static int64_t vals[65536];
	int r = CAIRN_OK;

	for (size_t i = 0; i < 65536; i++)
		vals[i] = ((int64_t)1 << 40) + (int64_t)i;
	ch.values = vals;
	ch.n_values = 65536;
	for (int k = 0; k < 8 && r == CAIRN_OK; k++) {
		ch.offset = (uint64_t)k * 65536;
		r = transport_call_send(call, &ch.base);
	}
	(void)transport_call_finish(call, r, r ? cairn_errmsg() : NULL);
	return NULL;
}

static void
h_result_queue(struct transport_call *call, const ProtobufCMessage *req,
    void *arg)
{
	const Cairn__V1__GetResultRequest *q =
	    (const Cairn__V1__GetResultRequest *)req;

	(void)arg;
	if (strcmp(q->query_id, "thread") == 0) {
		have_producer = pthread_create(&producer, NULL, produce,
		    call) == 0;
		if (!have_producer)
			(void)transport_call_fail(call, CAIRN_ERR_INTERNAL,
			    NULL, "thread");
		return;
	}
	produce(call);
}

static const struct transport_handler *
handlers(size_t *n)
{
	static struct transport_handler h[6];

	h[0] = (struct transport_handler){ proto_method(PROTO_GET_CHECKPOINT),
	    h_checkpoint, NULL, NULL };
	h[1] = (struct transport_handler){ proto_method(PROTO_SUBMIT_QUERY),
	    h_submit_query, NULL, NULL };
	h[2] = (struct transport_handler){ proto_method(PROTO_SUBMIT_SHARE),
	    h_share, NULL, NULL };
	h[3] = (struct transport_handler){ proto_method(PROTO_GET_ENTRIES),
	    h_entries, c_entries, NULL };
	h[4] = (struct transport_handler){ proto_method(PROTO_GET_RESULT),
	    h_result, NULL, NULL };
	*n = 5;
	return h;
}

static int
start_server(unsigned grace_ms, struct transport_server **out)
{
	struct transport_server_config cfg = { "127.0.0.1:0", t_coord, 2, 0,
	    grace_ms, 0, false };
	const struct transport_handler *h;
	size_t n;

	h = handlers(&n);
	return transport_server_start(&cfg, h, n, out);
}

static int
group_setup(void **state)
{
	char rogue[96];

	(void)state;
	strcpy(dir, "/tmp/cairn-test-transport-XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(keys_ca_create("testfed", dir), CAIRN_OK);
	member(dir, KEYS_ROLE_COORDINATOR, "coord", "localhost,127.0.0.1",
	    &t_coord);
	member(dir, KEYS_ROLE_NODE, "alpha", NULL, &t_node);
	member(dir, KEYS_ROLE_ANALYST, "stats", NULL, &t_analyst);
	member(dir, KEYS_ROLE_AUDITOR, "watch", NULL, &t_auditor);
	snprintf(rogue, sizeof(rogue), "%s/rogue", dir);
	assert_int_equal(mkdir(rogue, 0700), 0);
	assert_int_equal(keys_ca_create("evil", rogue), CAIRN_OK);
	member(rogue, KEYS_ROLE_NODE, "alpha", NULL, &t_rogue);
	assert_int_equal(start_server(300, &srv), CAIRN_OK);
	snprintf(target, sizeof(target), "127.0.0.1:%d",
	    transport_server_port(srv));
	return 0;
}

static int
group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	transport_server_stop(srv);
	join_parked();
	keys_tls_free(t_coord);
	keys_tls_free(t_node);
	keys_tls_free(t_analyst);
	keys_tls_free(t_auditor);
	keys_tls_free(t_rogue);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct transport_client *
client(const struct keys_tls *tls, const char *ca, bool nocert, size_t max)
{
	struct transport_client_config cfg;
	struct transport_client *c = NULL;

	memset(&cfg, 0, sizeof(cfg));
	cfg.target = target;
	cfg.tls = tls;
	cfg.ca_pem = ca;
	cfg.no_client_cert = nocert;
	cfg.max_message = max;
	cfg.retries = 0;
	assert_int_equal(transport_client_new(&cfg, &c), CAIRN_OK);
	return c;
}

static int
checkpoint(struct transport_client *c)
{
	Cairn__V1__GetCheckpointRequest req =
	    CAIRN__V1__GET_CHECKPOINT_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	int r;

	r = transport_unary(c, proto_method(PROTO_GET_CHECKPOINT), &req.base,
	    3000, &resp);
	if (r == CAIRN_OK) {
		assert_string_equal(((Cairn__V1__Checkpoint *)resp)->note,
		    CHECKPOINT_NOTE);
		protobuf_c_message_free_unpacked(resp, NULL);
	}
	return r;
}

static int
submit_query(struct transport_client *c, size_t len, uint64_t *idx)
{
	Cairn__V1__SignedQuery q = CAIRN__V1__SIGNED_QUERY__INIT;
	ProtobufCMessage *resp = NULL;
	uint8_t body[16] = "query";
	int r;

	q.query.data = body;
	q.query.len = len;
	r = transport_unary(c, proto_method(PROTO_SUBMIT_QUERY), &q.base, 3000,
	    &resp);
	if (r == CAIRN_OK) {
		struct keys_cert_info ci;
		char want[KEYS_NAME_MAX + KEYS_FPR_LEN + 2];
		const char *pem = keys_tls_cert_pem(t_analyst);

		assert_int_equal(keys_cert_info(pem, strlen(pem), &ci),
		    CAIRN_OK);
		snprintf(want, sizeof(want), "stats:%s", ci.fingerprint);
		*idx = ((Cairn__V1__SubmitQueryResponse *)resp)->log_index;
		assert_string_equal(
		    ((Cairn__V1__SubmitQueryResponse *)resp)->query_id, want);
		protobuf_c_message_free_unpacked(resp, NULL);
	}
	return r;
}

/* -------------------------------------------------------------- tests */

static void
test_every_role_reads_the_log(void **state)
{
	const struct keys_tls *who[] = { t_node, t_analyst, t_auditor,
	    t_coord };

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		struct transport_client *c = client(who[i], NULL, false, 0);

		assert_int_equal(checkpoint(c), CAIRN_OK);
		transport_client_free(c);
	}
}

static void
test_no_client_certificate_refused(void **state)
{
	struct transport_client *c = client(t_node, NULL, true, 0);

	(void)state;
	assert_int_equal(checkpoint(c), CAIRN_ERR_NET);
	transport_client_free(c);
}

static void
test_other_ca_refused(void **state)
{
	/* Trusts our CA for the server, presents a rogue CA's node cert. */
	struct transport_client *c = client(t_rogue, keys_tls_ca_pem(t_coord),
	    false, 0);

	(void)state;
	assert_int_equal(checkpoint(c), CAIRN_ERR_NET);
	transport_client_free(c);
}

static void
test_server_from_other_ca_refused(void **state)
{
	/* A client trusting only the rogue CA must not accept our server. */
	struct transport_client *c = client(t_rogue, NULL, false, 0);

	(void)state;
	assert_int_equal(checkpoint(c), CAIRN_ERR_NET);
	transport_client_free(c);
}

static void
test_wrong_role_denied_right_role_served(void **state)
{
	struct transport_client *node = client(t_node, NULL, false, 0);
	struct transport_client *an = client(t_analyst, NULL, false, 0);
	struct transport_client *aud = client(t_auditor, NULL, false, 0);
	Cairn__V1__MaskedShareChunk m = CAIRN__V1__MASKED_SHARE_CHUNK__INIT;
	ProtobufCMessage *resp = NULL;
	uint64_t idx = 0, cells[4] = { 1, 2, 3, 4 };

	(void)state;
	assert_int_equal(submit_query(node, 5, &idx), CAIRN_ERR_UNAUTH);
	assert_non_null(strstr(cairn_errmsg(), "PERMISSION_DENIED"));
	assert_non_null(strstr(cairn_errmsg(), "may not be called by node"));
	assert_int_equal(submit_query(aud, 5, &idx), CAIRN_ERR_UNAUTH);
	assert_int_equal(submit_query(an, 5, &idx), CAIRN_OK);
	assert_int_equal(idx, 5);
	m.cells = cells;
	m.n_cells = 4;
	assert_int_equal(transport_unary(an, proto_method(PROTO_SUBMIT_SHARE),
	    &m.base, 3000, &resp), CAIRN_ERR_UNAUTH);
	assert_int_equal(transport_unary(node, proto_method(PROTO_SUBMIT_SHARE),
	    &m.base, 3000, &resp), CAIRN_OK);
	assert_int_equal(((Cairn__V1__SubmitShareResponse *)resp)->
	    received_cells, 4);
	protobuf_c_message_free_unpacked(resp, NULL);
	transport_client_free(node);
	transport_client_free(an);
	transport_client_free(aud);
}

static void
test_error_detail_crosses(void **state)
{
	struct transport_client *an = client(t_analyst, NULL, false, 0);
	uint64_t idx;

	(void)state;
	assert_int_equal(submit_query(an, 0, &idx), CAIRN_ERR_BUDGET);
	assert_non_null(strstr(cairn_errmsg(), "FAILED_PRECONDITION"));
	assert_non_null(strstr(cairn_errmsg(), "budget of 2026-01 exhausted"));
	assert_non_null(strstr(cairn_errmsg(), "field rho"));
	transport_client_free(an);
}

static void
test_malformed_and_oversized_refused(void **state)
{
	struct transport_client *c = client(t_node, NULL, false,
	    16 * 1024 * 1024);
	const struct proto_method_info *cp = proto_method(PROTO_GET_CHECKPOINT);
	const struct proto_method_info *sh = proto_method(PROTO_SUBMIT_SHARE);
	ProtobufCMessage *resp = NULL;
	uint8_t bad[] = { 0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01 };
	uint8_t *big;
	size_t bigsz = 6 * 1024 * 1024;

	(void)state;
	/* A truncated length-delimited field. */
	assert_int_equal(transport_unary_raw(c, cp, bad, sizeof(bad), 3000,
	    &resp), CAIRN_ERR_FORMAT);
	assert_non_null(strstr(cairn_errmsg(), "INVALID_ARGUMENT"));
	assert_int_equal(checkpoint(c), CAIRN_OK);
	/* Over the method's own limit (checked before unpacking). */
	big = calloc(1, bigsz);
	assert_non_null(big);
	assert_int_equal(transport_unary_raw(c, cp, big, PROTO_MAX_SMALL + 1,
	    3000, &resp), CAIRN_ERR_TOOBIG);
	assert_non_null(strstr(cairn_errmsg(), "RESOURCE_EXHAUSTED"));
	assert_int_equal(checkpoint(c), CAIRN_OK);
	/* Over the server's message limit: refused by gRPC itself. */
	assert_int_equal(transport_unary_raw(c, sh, big, bigsz, 5000, &resp),
	    CAIRN_ERR_TOOBIG);
	assert_int_equal(checkpoint(c), CAIRN_OK);
	free(big);
	transport_client_free(c);
}

static void
test_client_refuses_oversized_send(void **state)
{
	struct transport_client *c = client(t_node, NULL, false, 1024);
	Cairn__V1__MaskedShareChunk m = CAIRN__V1__MASKED_SHARE_CHUNK__INIT;
	uint64_t cells[512] = { 0 };
	ProtobufCMessage *resp = NULL;

	(void)state;
	m.cells = cells;
	m.n_cells = 512;
	assert_int_equal(transport_unary(c, proto_method(PROTO_SUBMIT_SHARE),
	    &m.base, 3000, &resp), CAIRN_ERR_TOOBIG);
	transport_client_free(c);
}

static void
test_late_reply_from_another_thread(void **state)
{
	struct transport_client *c = client(t_auditor, NULL, false, 0);
	Cairn__V1__GetEntriesRequest q = CAIRN__V1__GET_ENTRIES_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;

	(void)state;
	q.start = 150;
	assert_int_equal(transport_unary(c, proto_method(PROTO_GET_ENTRIES),
	    &q.base, 3000, &resp), CAIRN_OK);
	protobuf_c_message_free_unpacked(resp, NULL);
	join_parked();
	transport_client_free(c);
}

static void
test_deadline_fires(void **state)
{
	struct transport_client *c = client(t_auditor, NULL, false, 0);
	Cairn__V1__GetEntriesRequest q = CAIRN__V1__GET_ENTRIES_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	struct timespec a, b;
	long ms;

	(void)state;
	q.start = 800;
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(transport_unary(c, proto_method(PROTO_GET_ENTRIES),
	    &q.base, 150, &resp), CAIRN_ERR_TIMEOUT);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	assert_true(ms >= 140 && ms < 700);
	join_parked();	/* the late reply lands on a cancelled call */
	assert_int_equal(checkpoint(c), CAIRN_OK);
	transport_client_free(c);
}

/*
 * A method this server has no handler for (PollTask, GetRoster here) is
 * answered UNIMPLEMENTED at once, naming the method, for any caller, and
 * the server goes on serving; before, gRPC held such a call until its
 * deadline (30 s here) passed.
 */
static void
test_unknown_method_unimplemented(void **state)
{
	struct transport_client *c = client(t_node, NULL, false, 0);
	Cairn__V1__PollTaskRequest pq = CAIRN__V1__POLL_TASK_REQUEST__INIT;
	Cairn__V1__GetRosterRequest rq = CAIRN__V1__GET_ROSTER_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;

	(void)state;
	for (int i = 0; i < 6; i++) {	/* more than are posted */
		assert_int_equal(transport_unary(c,
		    proto_method(PROTO_POLL_TASK), &pq.base, 30000, &resp),
		    CAIRN_ERR_UNSUPPORTED);
		assert_null(resp);
		assert_non_null(strstr(cairn_errmsg(), "PollTask: "
		    "UNIMPLEMENTED: unknown method "
		    "'/cairn.v1.Coordinator/PollTask'"));
	}
	assert_int_equal(transport_unary(c, proto_method(PROTO_GET_ROSTER),
	    &rq.base, 30000, &resp), CAIRN_ERR_UNSUPPORTED);
	assert_non_null(strstr(cairn_errmsg(), "unknown method "
	    "'/cairn.v1.Coordinator/GetRoster'"));
	assert_int_equal(checkpoint(c), CAIRN_OK);
	transport_client_free(c);
}

static int
count_chunk(const ProtobufCMessage *msg, void *arg)
{
	const Cairn__V1__ResultChunk *ch = (const Cairn__V1__ResultChunk *)msg;
	uint64_t *n = arg;

	assert_int_equal(ch->offset, *n);
	if (*n == 0) {
		assert_non_null(ch->release);
		assert_int_equal(ch->release->noise_variance, 12);
	} else {
		assert_null(ch->release);
	}
	assert_int_equal(ch->values[999], -999);
	*n += ch->n_values;
	return 0;
}

static int
stop_early(const ProtobufCMessage *msg, void *arg)
{
	(void)msg;
	(void)arg;
	return CAIRN_ERR_CANCELLED;
}

static void
test_server_streaming(void **state)
{
	struct transport_client *c = client(t_analyst, NULL, false, 0);
	struct transport_client *n = client(t_node, NULL, false, 0);
	Cairn__V1__GetResultRequest q = CAIRN__V1__GET_RESULT_REQUEST__INIT;
	uint64_t got = 0;

	(void)state;
	q.query_id = (char *)"q1";
	assert_int_equal(transport_stream(c, proto_method(PROTO_GET_RESULT),
	    &q.base, 3000, count_chunk, &got), CAIRN_OK);
	assert_int_equal(got, 3000);
	assert_int_equal(transport_stream(c, proto_method(PROTO_GET_RESULT),
	    &q.base, 3000, stop_early, NULL), CAIRN_ERR_CANCELLED);
	got = 0;
	assert_int_equal(transport_stream(n, proto_method(PROTO_GET_RESULT),
	    &q.base, 3000, count_chunk, &got), CAIRN_ERR_UNAUTH);
	assert_int_equal(got, 0);
	assert_int_equal(checkpoint(c), CAIRN_OK);
	transport_client_free(c);
	transport_client_free(n);
}

static int
count_big(const ProtobufCMessage *msg, void *arg)
{
	const Cairn__V1__ResultChunk *ch = (const Cairn__V1__ResultChunk *)msg;
	uint64_t *got = arg;

	assert_int_equal(ch->offset, *got);
	assert_int_equal(ch->n_values, 65536);
	assert_int_equal(ch->values[65535], ((int64_t)1 << 40) + 65535);
	*got += ch->n_values;
	return 0;
}

static void
test_stream_queue_backpressure(void **state)
{
	struct transport_server_config cfg = { "127.0.0.1:0", t_coord, 1, 0,
	    200, 512 * 1024, false };
	struct transport_handler h = { proto_method(PROTO_GET_RESULT),
	    h_result_queue, NULL, NULL };
	struct transport_client_config cc;
	struct transport_server *s = NULL;
	struct transport_client *c = NULL;
	Cairn__V1__GetResultRequest q = CAIRN__V1__GET_RESULT_REQUEST__INIT;
	char t[64];
	uint64_t got = 0;

	(void)state;
	assert_int_equal(transport_server_start(&cfg, &h, 1, &s), CAIRN_OK);
	snprintf(t, sizeof(t), "127.0.0.1:%d", transport_server_port(s));
	memset(&cc, 0, sizeof(cc));
	cc.target = t;
	cc.tls = t_analyst;
	assert_int_equal(transport_client_new(&cc, &c), CAIRN_OK);
	/* A producer thread waits for the queue: everything arrives. */
	q.query_id = (char *)"thread";
	assert_int_equal(transport_stream(c, proto_method(PROTO_GET_RESULT),
	    &q.base, 5000, count_big, &got), CAIRN_OK);
	assert_int_equal(got, 8 * 65536);
	if (have_producer)
		pthread_join(producer, NULL);
	/* On the transport thread the queue overflows instead. */
	got = 0;
	q.query_id = (char *)"worker";
	assert_int_equal(transport_stream(c, proto_method(PROTO_GET_RESULT),
	    &q.base, 5000, count_big, &got), CAIRN_ERR_TOOBIG);
	assert_int_equal(got, 2 * 65536);
	assert_non_null(strstr(cairn_errmsg(), "stream queue full"));
	transport_client_free(c);
	transport_server_stop(s);
}

static void
test_second_bind_fails(void **state)
{
	struct transport_server_config cfg = { target, t_coord, 1, 0, 100,
	    0, false };
	struct transport_server *s2 = NULL;
	const struct transport_handler *h;
	size_t n;

	(void)state;
	h = handlers(&n);
	assert_int_equal(transport_server_start(&cfg, h, n, &s2),
	    CAIRN_ERR_NET);
	assert_null(s2);
}

static void
test_retries_then_unavailable(void **state)
{
	struct transport_client_config cfg;
	struct transport_client *c = NULL;
	struct timespec a, b;
	long ms;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.target = "127.0.0.1:1";	/* nothing listens there */
	cfg.tls = t_node;
	cfg.retries = 3;
	cfg.backoff_ms = 40;
	cfg.backoff_max_ms = 80;
	assert_int_equal(transport_client_new(&cfg, &c), CAIRN_OK);
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(checkpoint(c), CAIRN_ERR_NET);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	/* three backoffs of at least 20, 40 and 40 ms */
	assert_true(ms >= 100);
	assert_non_null(strstr(cairn_errmsg(), "UNAVAILABLE"));
	transport_client_free(c);
}

/*
 * A client whose server went away and came back on the same port: while
 * nothing listens, waiting for the channel times out; once the server is
 * back, the wait drives the reconnection (TCP and TLS) to the end and the
 * next call goes through without a retry.  Only generous deadlines.
 */
static void
test_wait_ready_after_restart(void **state)
{
	struct transport_server_config scfg;
	struct transport_server *s = NULL;
	struct transport_client_config cfg;
	struct transport_client *c = NULL;
	const struct transport_handler *h;
	char t[64];
	size_t n;
	int port;

	(void)state;
	assert_int_equal(start_server(100, &s), CAIRN_OK);
	port = transport_server_port(s);
	snprintf(t, sizeof(t), "127.0.0.1:%d", port);
	memset(&cfg, 0, sizeof(cfg));
	cfg.target = t;
	cfg.tls = t_node;
	cfg.backoff_max_ms = 1000;
	assert_int_equal(transport_client_new(&cfg, &c), CAIRN_OK);
	assert_int_equal(transport_client_wait_ready(c, 30000), CAIRN_OK);
	assert_true(transport_client_is_ready(c));
	assert_int_equal(checkpoint(c), CAIRN_OK);
	transport_server_stop(s);
	s = NULL;
	/* Refused: the channel fails and stays down while nothing listens. */
	assert_int_equal(checkpoint(c), CAIRN_ERR_NET);
	assert_false(transport_client_is_ready(c));
	assert_int_equal(transport_client_wait_ready(c, 300),
	    CAIRN_ERR_TIMEOUT);
	assert_non_null(strstr(cairn_errmsg(), "not connected within 300 ms"));
	assert_int_equal(checkpoint(c), CAIRN_ERR_NET);
	memset(&scfg, 0, sizeof(scfg));
	scfg.listen = t;
	scfg.tls = t_coord;
	scfg.workers = 2;
	scfg.grace_ms = 100;
	h = handlers(&n);
	assert_int_equal(transport_server_start(&scfg, h, n, &s), CAIRN_OK);
	assert_int_equal(transport_client_wait_ready(c, 60000), CAIRN_OK);
	assert_true(transport_client_is_ready(c));
	assert_int_equal(checkpoint(c), CAIRN_OK);
	transport_client_free(c);
	transport_server_stop(s);
}

struct bg_call {
	struct transport_client	*c;
	int			 r;
};

static void *
parked_call(void *arg)
{
	struct bg_call *bg = arg;
	Cairn__V1__GetEntriesRequest q = CAIRN__V1__GET_ENTRIES_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;

	q.start = 1;
	q.end = 1;	/* park until cancelled */
	bg->r = transport_unary(bg->c, proto_method(PROTO_GET_ENTRIES), &q.base,
	    10000, &resp);
	if (resp != NULL)
		protobuf_c_message_free_unpacked(resp, NULL);
	return NULL;
}

static void
test_shutdown_with_calls_in_flight(void **state)
{
	struct transport_server *s = NULL;
	struct transport_client_config cfg;
	struct bg_call bg;
	pthread_t th;
	char t[64];
	int before;

	(void)state;
	assert_int_equal(start_server(200, &s), CAIRN_OK);
	snprintf(t, sizeof(t), "127.0.0.1:%d", transport_server_port(s));
	memset(&cfg, 0, sizeof(cfg));
	cfg.target = t;
	cfg.tls = t_auditor;
	assert_int_equal(transport_client_new(&cfg, &bg.c), CAIRN_OK);
	pthread_mutex_lock(&park.mu);
	before = park.cancels;
	pthread_mutex_unlock(&park.mu);
	assert_int_equal(pthread_create(&th, NULL, parked_call, &bg), 0);
	for (int i = 0; i < 200; i++) {	/* wait until the call is parked */
		bool parked;

		pthread_mutex_lock(&park.mu);
		parked = park.call != NULL;
		pthread_mutex_unlock(&park.mu);
		if (parked)
			break;
		sleep_ms(10);
	}
	transport_server_stop(s);	/* grace, cancel, handler finishes */
	pthread_join(th, NULL);
	assert_int_not_equal(bg.r, CAIRN_OK);
	pthread_mutex_lock(&park.mu);
	assert_int_equal(park.cancels, before + 1);
	assert_true(park.saw_cancelled);
	assert_null(park.call);
	pthread_mutex_unlock(&park.mu);
	transport_client_free(bg.c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_role_reads_the_log),
		cmocka_unit_test(test_no_client_certificate_refused),
		cmocka_unit_test(test_other_ca_refused),
		cmocka_unit_test(test_server_from_other_ca_refused),
		cmocka_unit_test(test_wrong_role_denied_right_role_served),
		cmocka_unit_test(test_error_detail_crosses),
		cmocka_unit_test(test_malformed_and_oversized_refused),
		cmocka_unit_test(test_client_refuses_oversized_send),
		cmocka_unit_test(test_late_reply_from_another_thread),
		cmocka_unit_test(test_deadline_fires),
		cmocka_unit_test(test_unknown_method_unimplemented),
		cmocka_unit_test(test_server_streaming),
		cmocka_unit_test(test_stream_queue_backpressure),
		cmocka_unit_test(test_second_bind_fails),
		cmocka_unit_test(test_retries_then_unavailable),
		cmocka_unit_test(test_wait_ready_after_restart),
		cmocka_unit_test(test_shutdown_with_calls_in_flight),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
