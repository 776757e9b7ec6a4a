/*
 * bench_transport.c - figures for the transport over mutual TLS on
 * loopback: the round trip of a small unary call, and three ways to move a
 * vector of 10^7 uint64 (80 MB): chunked unary uploads (SubmitShare, 4 MiB
 * chunks), a chunked server stream (GetResult), and one unary message with
 * raised limits.  A throwaway federation is made in a temporary folder.
 *
 * usage: bench_transport [--calls N] [--cells N] [--no-single]
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "common/cli.h"
#include "common/config.h"
#include "common/err.h"
#include "keys/keys.h"
#include "keys/keys_tls.h"
#include "protocol/cairn.pb-c.h"
#include "protocol/proto_service.h"
#include "protocol/transport.h"
#include "bench/bench.h"

#define PROG		"bench_transport"
#define BIG_LIMIT	(96u * 1024 * 1024)

static uint64_t n_cells = 10000000;
static int64_t *result_values;

static int
make_member(const char *dir, enum keys_role role, const char *name,
    const char *hosts, struct keys_tls **out)
{
	char key[PATH_MAX], csr[PATH_MAX], crt[PATH_MAX], ca[PATH_MAX];
	int r;

	snprintf(key, sizeof(key), "%s/%s.key", dir, name);
	snprintf(csr, sizeof(csr), "%s/%s.csr", dir, name);
	snprintf(crt, sizeof(crt), "%s/%s.crt", dir, name);
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	if ((r = keys_tls_new(role, name, key, csr)) != CAIRN_OK ||
	    (r = keys_cert_issue(dir, csr, crt, 2, hosts, NULL)) != CAIRN_OK)
		return r;
	return keys_tls_load(ca, crt, key, out);
}

/* ------------------------------------------------------------ handlers */

static void
h_checkpoint(struct transport_call *call, const ProtobufCMessage *req,
    void *arg)
{
	Cairn__V1__Checkpoint cp = CAIRN__V1__CHECKPOINT__INIT;

	(void)req;
	(void)arg;
	cp.note = (char *)"bench.cairn/log\n1\nAAAA\n";
	(void)transport_call_reply(call, &cp.base);
}

static void
h_share(struct transport_call *call, const ProtobufCMessage *req, void *arg)
{
	const Cairn__V1__MaskedShareChunk *m =
	    (const Cairn__V1__MaskedShareChunk *)req;
	Cairn__V1__SubmitShareResponse r =
	    CAIRN__V1__SUBMIT_SHARE_RESPONSE__INIT;

	(void)arg;
	r.received_cells = m->offset + m->n_cells;
	(void)transport_call_reply(call, &r.base);
}

/* Streams from its own thread: the queue may block there. */
static void *
stream_result(void *arg)
{
	struct transport_call *call = arg;
	Cairn__V1__ResultChunk ch = CAIRN__V1__RESULT_CHUNK__INIT;
	int r = CAIRN_OK;

	for (uint64_t off = 0; off < n_cells && r == CAIRN_OK;
	    off += PROTO_CHUNK_CELLS) {
		ch.offset = off;
		ch.values = result_values + off;
		ch.n_values = n_cells - off < PROTO_CHUNK_CELLS ?
		    n_cells - off : PROTO_CHUNK_CELLS;
		r = transport_call_send(call, &ch.base);
	}
	(void)transport_call_finish(call, r, r == CAIRN_OK ? NULL : "send");
	return NULL;
}

static pthread_t stream_thr;

static void
h_result(struct transport_call *call, const ProtobufCMessage *req, void *arg)
{
	(void)req;
	(void)arg;
	if (pthread_create(&stream_thr, NULL, stream_result, call) != 0)
		(void)transport_call_fail(call, CAIRN_ERR_INTERNAL, NULL,
		    "thread");
}

/* --------------------------------------------------------------- runs */

static int
bench_unary(struct transport_client *c, int calls)
{
	Cairn__V1__GetCheckpointRequest req =
	    CAIRN__V1__GET_CHECKPOINT_REQUEST__INIT;
	double *lat, t0;
	int r = CAIRN_OK;

	if ((lat = calloc((size_t)calls, sizeof(*lat))) == NULL)
		return CAIRN_ERR_NOMEM;
	for (int i = -200; i < calls; i++) {
		ProtobufCMessage *resp = NULL;

		t0 = bench_now();
		r = transport_unary(c, proto_method(PROTO_GET_CHECKPOINT),
		    &req.base, 5000, &resp);
		if (r != CAIRN_OK)
			break;
		if (i >= 0)
			lat[i] = (bench_now() - t0) * 1e6;
		protobuf_c_message_free_unpacked(resp, NULL);
	}
	if (r == CAIRN_OK) {
		qsort(lat, (size_t)calls, sizeof(*lat), bench_cmp_double);
		printf("unary GetCheckpoint round trip, mTLS loopback, %d calls: "
		    "median %.1f us, p90 %.1f us, p99 %.1f us (target median "
		    "<= 200 us)\n", calls, lat[calls / 2], lat[calls * 9 / 10],
		    lat[calls * 99 / 100]);
	}
	free(lat);
	return r;
}

struct uploader {
	struct transport_client	*c;
	const uint64_t		*vec;
	unsigned		 first, step;	/* chunks first, first+step, ... */
	int			 r;
};

static void *
upload_chunks(void *arg)
{
	struct uploader *u = arg;
	Cairn__V1__MaskedShareChunk m = CAIRN__V1__MASKED_SHARE_CHUNK__INIT;
	int r = CAIRN_OK;

	for (uint64_t off = (uint64_t)u->first * PROTO_CHUNK_CELLS;
	    off < n_cells && r == CAIRN_OK;
	    off += (uint64_t)u->step * PROTO_CHUNK_CELLS) {
		ProtobufCMessage *resp = NULL;

		m.offset = off;
		m.chunk_index = (uint32_t)(off / PROTO_CHUNK_CELLS);
		m.cells = (uint64_t *)u->vec + off;
		m.n_cells = n_cells - off < PROTO_CHUNK_CELLS ? n_cells - off :
		    PROTO_CHUNK_CELLS;
		r = transport_unary(u->c, proto_method(PROTO_SUBMIT_SHARE),
		    &m.base, 30000, &resp);
		if (r == CAIRN_OK)
			protobuf_c_message_free_unpacked(resp, NULL);
	}
	u->r = r;
	return NULL;
}

/* Upload the vector in 4 MiB chunks with 'inflight' calls at a time. */
static int
bench_chunked_upload(struct transport_client *c, const uint64_t *vec,
    unsigned inflight)
{
	struct uploader u[4];
	pthread_t th[4];
	double t0 = bench_now(), s;
	int r = CAIRN_OK;

	for (unsigned i = 0; i < inflight; i++) {
		u[i] = (struct uploader){ c, vec, i, inflight, CAIRN_OK };
		if (pthread_create(&th[i], NULL, upload_chunks, &u[i]) != 0)
			return CAIRN_ERR_INTERNAL;
	}
	for (unsigned i = 0; i < inflight; i++) {
		pthread_join(th[i], NULL);
		if (u[i].r != CAIRN_OK)
			r = u[i].r;
	}
	s = bench_now() - t0;
	if (r == CAIRN_OK)
		printf("upload %llu cells (%.0f MB) as %llu unary chunks of "
		    "4 MiB, %u in flight: %.0f ms, %.0f MB/s (target >= 300 "
		    "MB/s)\n", (unsigned long long)n_cells, n_cells * 8 / 1e6,
		    (unsigned long long)((n_cells + PROTO_CHUNK_CELLS - 1) /
		    PROTO_CHUNK_CELLS), inflight, s * 1e3,
		    n_cells * 8 / 1e6 / s);
	return r;
}

static int
count_values(const ProtobufCMessage *msg, void *arg)
{
	const Cairn__V1__ResultChunk *ch = (const Cairn__V1__ResultChunk *)msg;
	uint64_t *got = arg;

	if (ch->offset != *got)
		return CAIRN_ERR_FORMAT;
	*got += ch->n_values;
	return 0;
}

static int
bench_stream_download(struct transport_client *c)
{
	Cairn__V1__GetResultRequest q = CAIRN__V1__GET_RESULT_REQUEST__INIT;
	uint64_t got = 0;
	double t0 = bench_now(), s;
	int r;

	q.query_id = (char *)"bench";
	r = transport_stream(c, proto_method(PROTO_GET_RESULT), &q.base, 60000,
	    count_values, &got);
	pthread_join(stream_thr, NULL);
	s = bench_now() - t0;
	if (r == CAIRN_OK && got != n_cells)
		r = cairn_err(CAIRN_ERR_FORMAT, "received %llu cells",
		    (unsigned long long)got);
	if (r == CAIRN_OK)
		printf("download %llu noisy counts (%.0f MB as int64) as a "
		    "server stream of 4 MiB chunks: %.0f ms, %.0f MB/s\n",
		    (unsigned long long)n_cells, n_cells * 8 / 1e6, s * 1e3,
		    n_cells * 8 / 1e6 / s);
	return r;
}

static int
bench_one_message(struct transport_client *c, const uint64_t *vec)
{
	Cairn__V1__MaskedShareChunk m = CAIRN__V1__MASKED_SHARE_CHUNK__INIT;
	ProtobufCMessage *resp = NULL;
	double t0 = bench_now(), s;
	int r;

	m.cells = (uint64_t *)vec;
	m.n_cells = n_cells;
	r = transport_unary(c, proto_method(PROTO_SUBMIT_SHARE), &m.base,
	    60000, &resp);
	s = bench_now() - t0;
	if (r != CAIRN_OK)
		return r;
	protobuf_c_message_free_unpacked(resp, NULL);
	printf("upload %llu cells (%.0f MB) as ONE unary message with limits "
	    "raised to %u MiB: %.0f ms, %.0f MB/s\n",
	    (unsigned long long)n_cells, n_cells * 8 / 1e6,
	    BIG_LIMIT / 1024 / 1024, s * 1e3, n_cells * 8 / 1e6 / s);
	return CAIRN_OK;
}

int
main(int argc, char **argv)
{
	char dir[] = "/tmp/cairn-bench-transport-XXXXXX", target[64], cmd[96];
	struct keys_tls *coord = NULL, *node = NULL;
	struct transport_server *srv = NULL, *big = NULL;
	struct transport_client *c = NULL, *cb = NULL;
	struct proto_method_info share_big = *proto_method(PROTO_SUBMIT_SHARE);
	struct transport_handler h[3] = {
		{ proto_method(PROTO_GET_CHECKPOINT), h_checkpoint, NULL, NULL },
		{ proto_method(PROTO_SUBMIT_SHARE), h_share, NULL, NULL },
		{ proto_method(PROTO_GET_RESULT), h_result, NULL, NULL },
	};
	struct transport_server_config sc;
	struct transport_client_config cc;
	uint64_t *vec = NULL;
	int64_t v;
	int calls = 2000, r;
	bool single = true;

	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			printf("usage: %s [--calls N] [--cells N] "
			    "[--no-single]\n", PROG);
			return 0;
		}
		if (strcmp(argv[i], "--no-single") == 0) {
			single = false;
			continue;
		}
		if (i + 1 < argc && strcmp(argv[i], "--calls") == 0 &&
		    config_parse_int(argv[i + 1], &v) && v >= 10 && v <= 1000000) {
			calls = (int)v;
			i++;
		} else if (i + 1 < argc && strcmp(argv[i], "--cells") == 0 &&
		    config_parse_int(argv[i + 1], &v) && v >= 1 &&
		    v <= 11000000) {
			n_cells = (uint64_t)v;
			i++;
		} else {
			fprintf(stderr, "%s: error: bad argument '%s'\n", PROG,
			    argv[i]);
			return 1;
		}
	}
	if (transport_tune_memory() != CAIRN_OK || sodium_init() < 0 ||
	    mkdtemp(dir) == NULL)
		return cli_fail(PROG, "setup", CAIRN_ERR_INTERNAL);
	if ((r = keys_ca_create("bench", dir)) != CAIRN_OK ||
	    (r = make_member(dir, KEYS_ROLE_COORDINATOR, "hub",
	    "localhost,127.0.0.1", &coord)) != CAIRN_OK ||
	    (r = make_member(dir, KEYS_ROLE_NODE, "alpha", NULL, &node)) !=
	    CAIRN_OK) {
		cli_fail(PROG, "keys", r);
		goto out;
	}
	if ((vec = malloc(n_cells * 8)) == NULL ||
	    (result_values = malloc(n_cells * 8)) == NULL) {
		r = cli_fail(PROG, "vector", CAIRN_ERR_NOMEM);
		goto out;
	}
	randombytes_buf(vec, n_cells * 8);
	for (uint64_t i = 0; i < n_cells; i++)
		result_values[i] = (int64_t)(vec[i] % 2001) - 1000;

	memset(&sc, 0, sizeof(sc));
	sc.listen = "127.0.0.1:0";
	sc.tls = coord;
	if ((r = transport_server_start(&sc, h, 3, &srv)) != CAIRN_OK) {
		cli_fail(PROG, "server", r);
		goto out;
	}
	snprintf(target, sizeof(target), "127.0.0.1:%d",
	    transport_server_port(srv));
	memset(&cc, 0, sizeof(cc));
	cc.target = target;
	cc.tls = node;
	if ((r = transport_client_new(&cc, &c)) != CAIRN_OK ||
	    (r = bench_unary(c, calls)) != CAIRN_OK ||
	    (r = bench_chunked_upload(c, vec, 1)) != CAIRN_OK ||
	    (r = bench_chunked_upload(c, vec, 2)) != CAIRN_OK) {
		cli_fail(PROG, "run", r);
		goto out;
	}
	transport_client_free(c);
	c = NULL;
	/* GetResult is the analyst's: stream to an analyst. */
	{
		struct keys_tls *an = NULL;

		if ((r = make_member(dir, KEYS_ROLE_ANALYST, "stats", NULL,
		    &an)) != CAIRN_OK) {
			cli_fail(PROG, "keys", r);
			goto out;
		}
		cc.tls = an;
		r = transport_client_new(&cc, &c);
		keys_tls_free(an);
		if (r != CAIRN_OK || (r = bench_stream_download(c)) !=
		    CAIRN_OK) {
			cli_fail(PROG, "stream", r);
			goto out;
		}
	}

	/* The alternative: one message, limits raised on both sides. */
	if (!single) {
		r = 0;
		goto out;
	}
	share_big.max_request = BIG_LIMIT;
	h[1].method = &share_big;
	sc.max_message = BIG_LIMIT;
	if ((r = transport_server_start(&sc, &h[1], 1, &big)) != CAIRN_OK) {
		cli_fail(PROG, "server", r);
		goto out;
	}
	snprintf(target, sizeof(target), "127.0.0.1:%d",
	    transport_server_port(big));
	cc.tls = node;
	cc.max_message = BIG_LIMIT;
	if ((r = transport_client_new(&cc, &cb)) != CAIRN_OK ||
	    (r = bench_one_message(cb, vec)) != CAIRN_OK) {
		cli_fail(PROG, "one message", r);
		goto out;
	}
	r = 0;
	printf("(2 shared vCPUs, other jobs running: figures are noisy lower "
	    "bounds)\n");
out:
	transport_client_free(c);
	transport_client_free(cb);
	transport_server_stop(srv);
	transport_server_stop(big);
	keys_tls_free(coord);
	keys_tls_free(node);
	free(vec);
	free(result_values);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		r = 1;
	return r == 0 ? 0 : 1;
}
