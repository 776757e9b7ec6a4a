/*
 * transport_client.c - the client side of the gRPC C core glue: channels
 * with mutual TLS, the optional pin of the server's certificate, unary
 * calls with deadlines and retries, and server-streaming calls.
 *
 * One channel and one pluck queue per client; a unary call is one batch
 * of six operations.  UNAVAILABLE is retried with exponential backoff and
 * full jitter inside the call's deadline.  A failed call's status becomes
 * a cairn error: the server's cairn-error-bin trailer when there is one,
 * else the closest code for the gRPC status (transport_msg.c).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <sodium.h>

#include "common/err.h"
#include "common/log.h"
#include "keys/keys.h"
#include "keys/keys_tls.h"
#include "protocol/cairn.pb-c.h"
#include "protocol/proto_service.h"
#include "protocol/transport.h"
#include "protocol/transport_int.h"

/*
 * The pin of the server's certificate, shared by the client and gRPC's
 * copy of the verify options (either may let go first: refcounted).  The
 * callback runs on gRPC's threads during each handshake.
 */
struct pin {
	atomic_int		 refs;
	pthread_mutex_t		 mu;
	char			 want[KEYS_FPR_LEN];
	char			 seen[KEYS_FPR_LEN];	/* the refused one */
	bool			 refused;		/* the last handshake */
};

static void
pin_unref(void *arg)
{
	struct pin *p = arg;

	if (p != NULL && atomic_fetch_sub(&p->refs, 1) == 1) {
		pthread_mutex_destroy(&p->mu);
		free(p);
	}
}

/* gRPC's verify_peer_callback: non-zero fails the handshake. */
static int
pin_check(const char *target, const char *peer_pem, void *arg)
{
	struct pin *p = arg;
	struct keys_cert_info ci;
	bool ok;

	(void)target;
	if (peer_pem == NULL || keys_cert_info(peer_pem, strlen(peer_pem),
	    &ci) != CAIRN_OK)
		snprintf(ci.fingerprint, sizeof(ci.fingerprint), "%s",
		    "(unreadable)");
	ok = strcasecmp(ci.fingerprint, p->want) == 0;
	pthread_mutex_lock(&p->mu);
	p->refused = !ok;
	if (!ok)
		snprintf(p->seen, sizeof(p->seen), "%s", ci.fingerprint);
	pthread_mutex_unlock(&p->mu);
	if (!ok)
		log_warn("server certificate sha256 %s is not the pinned %s",
		    ci.fingerprint, p->want);
	return ok ? 0 : 1;
}

struct transport_client {
	grpc_channel		*ch;
	grpc_completion_queue	*cq;
	void			*methods[PROTO_NMETHODS];
	size_t			 max_message;
	unsigned		 retries, backoff_ms, backoff_max_ms;
	struct pin		*pin;		/* NULL: none */
};

int
transport_client_pin_status(struct transport_client *c)
{
	char seen[KEYS_FPR_LEN];
	bool refused;

	if (c->pin == NULL)
		return CAIRN_OK;
	pthread_mutex_lock(&c->pin->mu);
	refused = c->pin->refused;
	memcpy(seen, c->pin->seen, sizeof(seen));
	pthread_mutex_unlock(&c->pin->mu);
	if (!refused)
		return CAIRN_OK;
	return cairn_err(CAIRN_ERR_UNAUTH, "server certificate sha256 %s is "
	    "not the pinned %s (the coordinator's certificate enrolled in "
	    "federation.conf)", seen, c->pin->want);
}

int
transport_client_new(const struct transport_client_config *cfg,
    struct transport_client **out)
{
	struct transport_client *c;
	grpc_channel_credentials *creds;
	grpc_ssl_pem_key_cert_pair pair;
	verify_peer_options vo;
	grpc_resource_quota *quota;
	grpc_arg args[12];
	grpc_channel_args ca;
	size_t na = 0;

	if (cfg->target == NULL || cfg->tls == NULL)
		return cairn_err(CAIRN_ERR_ARG, "client needs a target and TLS "
		    "keys");
	if (cfg->pin_sha256 != NULL && (strlen(cfg->pin_sha256) !=
	    KEYS_FPR_LEN - 1 || strspn(cfg->pin_sha256, "0123456789abcdef"
	    "ABCDEF") != KEYS_FPR_LEN - 1))
		return cairn_err(CAIRN_ERR_ARG, "certificate pin '%s' is not "
		    "64 hex digits", cfg->pin_sha256);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return CAIRN_ERR_NOMEM;
	if (cfg->pin_sha256 != NULL) {
		if ((c->pin = calloc(1, sizeof(*c->pin))) == NULL) {
			free(c);
			return CAIRN_ERR_NOMEM;
		}
		atomic_init(&c->pin->refs, 1);
		pthread_mutex_init(&c->pin->mu, NULL);
		memcpy(c->pin->want, cfg->pin_sha256, KEYS_FPR_LEN);
	}
	c->max_message = cfg->max_message ? cfg->max_message :
	    PROTO_MAX_MESSAGE;
	if (c->max_message > INT_MAX) {
		pin_unref(c->pin);
		free(c);
		return cairn_err(CAIRN_ERR_ARG, "message limit too large");
	}
	c->retries = cfg->retries;
	c->backoff_ms = cfg->backoff_ms ? cfg->backoff_ms : 100;
	c->backoff_max_ms = cfg->backoff_max_ms ? cfg->backoff_max_ms : 5000;
	grpc_init();
	pair.private_key = keys_tls_key_pem(cfg->tls);
	pair.cert_chain = keys_tls_cert_pem(cfg->tls);
	memset(&vo, 0, sizeof(vo));
	if (c->pin != NULL) {
		/* gRPC's copy of the options holds a reference. */
		atomic_fetch_add(&c->pin->refs, 1);
		vo.verify_peer_callback = pin_check;
		vo.verify_peer_callback_userdata = c->pin;
		vo.verify_peer_destruct = pin_unref;
	}
	creds = grpc_ssl_credentials_create(cfg->ca_pem != NULL ? cfg->ca_pem :
	    keys_tls_ca_pem(cfg->tls), cfg->no_client_cert ? NULL : &pair,
	    c->pin != NULL ? &vo : NULL, NULL);
	/* As on the server: a reply over the limit is read whole before it
	 * is refused, so the quota bounds what a server can make us hold. */
	quota = grpc_resource_quota_create("cairn-client");
	grpc_resource_quota_resize(quota, TRANSPORT_MEMORY_MAX);
	args[na++] = (grpc_arg){ GRPC_ARG_POINTER, GRPC_ARG_RESOURCE_QUOTA,
	    { .pointer = { quota, grpc_resource_quota_arg_vtable() } } };
	args[na++] = (grpc_arg){ GRPC_ARG_INTEGER,
	    GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
	    { .integer = (int)c->max_message } };
	args[na++] = (grpc_arg){ GRPC_ARG_INTEGER,
	    GRPC_ARG_MAX_SEND_MESSAGE_LENGTH,
	    { .integer = (int)c->max_message } };
	args[na++] = (grpc_arg){ GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_TIME_MS,
	    { .integer = 30000 } };
	args[na++] = (grpc_arg){ GRPC_ARG_INTEGER,
	    GRPC_ARG_KEEPALIVE_TIMEOUT_MS, { .integer = 10000 } };
	args[na++] = (grpc_arg){ GRPC_ARG_INTEGER, GRPC_ARG_ENABLE_RETRIES,
	    { .integer = 0 } };	/* we retry, with our own policy */
	/* gRPC's own reconnect backoff grows to 120 s by default: a
	 * coordinator back after a restart would be ignored that long. */
	args[na++] = (grpc_arg){ GRPC_ARG_INTEGER,
	    GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
	    { .integer = (int)c->backoff_max_ms } };
	{
		const grpc_arg nc[] = { NO_COMPRESSION_ARGS };

		for (size_t i = 0; i < sizeof(nc) / sizeof(nc[0]); i++)
			args[na++] = nc[i];
	}
	if (cfg->server_name != NULL)
		args[na++] = (grpc_arg){ GRPC_ARG_STRING,
		    GRPC_SSL_TARGET_NAME_OVERRIDE_ARG,
		    { .string = (char *)cfg->server_name } };
	ca = (grpc_channel_args){ na, args };
	c->ch = grpc_channel_create(cfg->target, creds, &ca);
	grpc_channel_credentials_release(creds);
	grpc_resource_quota_unref(quota);
	c->cq = grpc_completion_queue_create_for_pluck(NULL);
	for (size_t i = 0; i < PROTO_NMETHODS; i++)
		c->methods[i] = grpc_channel_register_call(c->ch,
		    proto_method((enum proto_method)i)->path, NULL, NULL);
	*out = c;
	return CAIRN_OK;
}

void
transport_client_free(struct transport_client *c)
{
	if (c == NULL)
		return;
	grpc_channel_destroy(c->ch);
	grpc_completion_queue_shutdown(c->cq);
	while (grpc_completion_queue_pluck(c->cq, NULL,
	    gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
	    GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(c->cq);
	pin_unref(c->pin);
	free(c);
	grpc_shutdown();
}

/* Turn a finished call's status into a cairn code with the detail. */
static int
call_status(const struct proto_method_info *m, grpc_status_code st,
    grpc_slice details, const grpc_metadata_array *trail)
{
	Cairn__V1__ErrorDetail *ed = NULL;
	char *d;
	int code = 0;

	if (st == GRPC_STATUS_OK)
		return CAIRN_OK;
	for (size_t i = 0; i < trail->count; i++) {
		if (grpc_slice_str_cmp(trail->metadata[i].key,
		    ERROR_MD_KEY) != 0)
			continue;
		ed = cairn__v1__error_detail__unpack(NULL,
		    GRPC_SLICE_LENGTH(trail->metadata[i].value),
		    GRPC_SLICE_START_PTR(trail->metadata[i].value));
		break;
	}
	if (ed != NULL)
		code = transport_code_for_name(ed->code);
	if (code == 0)
		code = transport_code_for_status(st);
	d = grpc_slice_to_c_string(details);
	code = cairn_err(code, "%s: %s: %.*s%s%s", m->name,
	    transport_status_name(st), DETAIL_MAX, d,
	    ed != NULL && ed->field[0] != '\0' ? " field " : "",
	    ed != NULL ? ed->field : "");
	gpr_free(d);
	if (ed != NULL)
		cairn__v1__error_detail__free_unpacked(ed, NULL);
	return code;
}

bool
transport_client_is_ready(struct transport_client *c)
{
	return grpc_channel_check_connectivity_state(c->ch, 0) ==
	    GRPC_CHANNEL_READY;
}

int
transport_client_wait_ready(struct transport_client *c, unsigned ms)
{
	gpr_timespec until = transport_deadline_in(ms);
	grpc_connectivity_state st;
	grpc_event ev;
	int tag;

	for (;;) {
		/* Asking with try_to_connect starts a connection from IDLE. */
		st = grpc_channel_check_connectivity_state(c->ch, 1);
		if (st == GRPC_CHANNEL_READY)
			return CAIRN_OK;
		if (st == GRPC_CHANNEL_SHUTDOWN)
			return cairn_err(CAIRN_ERR_NET, "channel shut down");
		if (st == GRPC_CHANNEL_TRANSIENT_FAILURE &&
		    transport_client_pin_status(c) != CAIRN_OK)
			return CAIRN_ERR_UNAUTH;
		if (gpr_time_cmp(gpr_now(GPR_CLOCK_MONOTONIC), until) >= 0)
			return cairn_err(CAIRN_ERR_TIMEOUT, "not connected "
			    "within %u ms", ms);
		/*
		 * Plucking the watch's tag polls this queue's pollset, which
		 * the watch adds to the channel's: that is what drives a
		 * connection attempt (TCP, TLS) forward when no call is
		 * waiting.  Without it only gRPC's backup poller (every
		 * 5 s) would, and a handshake of a few round trips would
		 * outlast the server's handshake timeout.
		 */
		grpc_channel_watch_connectivity_state(c->ch, st, until, c->cq,
		    &tag);
		ev = grpc_completion_queue_pluck(c->cq, &tag,
		    gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
		if (ev.type != GRPC_OP_COMPLETE)
			return cairn_err(CAIRN_ERR_NET, "channel watch failed");
	}
}

/*
 * Wait out the next backoff, with full jitter in [d/2, d], while driving
 * the channel's reconnection: return early once it is connected again.
 */
static void
backoff_sleep(struct transport_client *c, unsigned *d, int64_t left_ms)
{
	unsigned ms = *d / 2 + randombytes_uniform(*d / 2 + 1);

	struct timespec ts;

	if ((int64_t)ms > left_ms)
		ms = left_ms > 0 ? (unsigned)left_ms : 0;
	if (transport_client_is_ready(c)) {
		/* Connected: the server itself said UNAVAILABLE. */
		ts.tv_sec = ms / 1000;
		ts.tv_nsec = (long)(ms % 1000) * 1000000L;
		nanosleep(&ts, NULL);
	} else
		(void)transport_client_wait_ready(c, ms);
	*d = *d * 2 > c->backoff_max_ms ? c->backoff_max_ms : *d * 2;
}

/* One unary attempt with a prepared byte buffer. */
static int
unary_once(struct transport_client *c, const struct proto_method_info *m,
    grpc_byte_buffer *send, gpr_timespec deadline, ProtobufCMessage **resp,
    grpc_status_code *stp)
{
	grpc_call *call;
	grpc_op ops[6];
	grpc_byte_buffer *recv = NULL;
	grpc_metadata_array imd, tmd;
	grpc_status_code st = GRPC_STATUS_UNKNOWN;
	grpc_slice details = grpc_empty_slice();
	const char *errstr = NULL;
	int tag, r;

	call = grpc_channel_create_registered_call(c->ch, NULL,
	    GRPC_PROPAGATE_DEFAULTS, c->cq, c->methods[m->id], deadline, NULL);
	grpc_metadata_array_init(&imd);
	grpc_metadata_array_init(&tmd);
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = send;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &imd;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &recv;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &tmd;
	ops[5].data.recv_status_on_client.status = &st;
	ops[5].data.recv_status_on_client.status_details = &details;
	ops[5].data.recv_status_on_client.error_string = &errstr;
	if (grpc_call_start_batch(call, ops, 6, &tag, NULL) != GRPC_CALL_OK) {
		r = cairn_err(CAIRN_ERR_INTERNAL, "%s: start_batch", m->name);
		goto out;
	}
	/* RECV_STATUS always completes (the deadline is the call's). */
	grpc_completion_queue_pluck(c->cq, &tag,
	    gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	*stp = st;
	if ((r = call_status(m, st, details, &tmd)) != CAIRN_OK)
		goto out;
	if ((r = transport_unpack_bb(recv, m->response, c->max_message,
	    NULL, resp)) != CAIRN_OK)
		r = transport_err_prefix(r, m->name);
out:
	if (errstr != NULL)
		gpr_free((void *)errstr);
	grpc_slice_unref(details);
	grpc_metadata_array_destroy(&imd);
	grpc_metadata_array_destroy(&tmd);
	if (recv != NULL)
		grpc_byte_buffer_destroy(recv);
	grpc_call_unref(call);
	return r;
}

static int
unary_bb(struct transport_client *c, const struct proto_method_info *m,
    grpc_byte_buffer *send, unsigned timeout_ms, ProtobufCMessage **resp)
{
	gpr_timespec deadline;
	grpc_status_code st;
	unsigned d = c->backoff_ms;
	int r;

	if (timeout_ms == 0)
		timeout_ms = TRANSPORT_DEFAULT_TIMEOUT_MS;
	deadline = transport_deadline_in(timeout_ms);
	for (unsigned attempt = 0;; attempt++) {
		/* gRPC takes the payload out of the buffer it sends: each
		 * attempt sends a copy, so a retry is not an empty message. */
		grpc_byte_buffer *one = grpc_byte_buffer_copy(send);

		st = GRPC_STATUS_UNKNOWN;
		r = unary_once(c, m, one, deadline, resp, &st);
		grpc_byte_buffer_destroy(one);
		if (r != CAIRN_OK && transport_client_pin_status(c) !=
		    CAIRN_OK)
			return transport_err_prefix(CAIRN_ERR_UNAUTH, m->name);
		if (st != GRPC_STATUS_UNAVAILABLE || attempt >= c->retries)
			break;
		{
			int64_t left = gpr_time_to_millis(gpr_time_sub(deadline,
			    gpr_now(GPR_CLOCK_MONOTONIC)));

			if (left <= 0)
				break;
			log_debug("%s unavailable, retry %u", m->name,
			    attempt + 1);
			backoff_sleep(c, &d, left);
		}
	}
	return r;
}

int
transport_unary(struct transport_client *c, const struct proto_method_info *m,
    const ProtobufCMessage *req, unsigned timeout_ms, ProtobufCMessage **resp)
{
	grpc_byte_buffer *bb = NULL;
	int r;

	if (m->server_streaming)
		return cairn_err(CAIRN_ERR_ARG, "%s streams; use "
		    "transport_stream", m->name);
	if (req->descriptor != m->request)
		return cairn_err(CAIRN_ERR_ARG, "%s takes %s, not %s", m->name,
		    m->request->short_name, req->descriptor->short_name);
	if ((r = transport_pack_bb(req, c->max_message, &bb)) != CAIRN_OK)
		return r;
	r = unary_bb(c, m, bb, timeout_ms, resp);
	grpc_byte_buffer_destroy(bb);
	return r;
}

int
transport_unary_raw(struct transport_client *c,
    const struct proto_method_info *m, const uint8_t *buf, size_t len,
    unsigned timeout_ms, ProtobufCMessage **resp)
{
	grpc_slice s = grpc_slice_from_copied_buffer((const char *)buf, len);
	grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
	int r;

	grpc_slice_unref(s);
	r = unary_bb(c, m, bb, timeout_ms, resp);
	grpc_byte_buffer_destroy(bb);
	return r;
}

static int
stream_once(struct transport_client *c, const struct proto_method_info *m,
    grpc_byte_buffer *send, gpr_timespec deadline,
    int (*on_msg)(const ProtobufCMessage *, void *), void *arg,
    grpc_status_code *stp, bool *got_any)
{
	grpc_call *call;
	grpc_op ops[4];
	grpc_metadata_array imd, tmd;
	grpc_status_code st = GRPC_STATUS_UNKNOWN;
	grpc_slice details = grpc_empty_slice();
	int t_send, t_recv, t_status, r = CAIRN_OK, cb = 0;

	call = grpc_channel_create_registered_call(c->ch, NULL,
	    GRPC_PROPAGATE_DEFAULTS, c->cq, c->methods[m->id], deadline, NULL);
	grpc_metadata_array_init(&imd);
	grpc_metadata_array_init(&tmd);
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = send;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &imd;
	if (grpc_call_start_batch(call, ops, 4, &t_send, NULL) == GRPC_CALL_OK)
		grpc_completion_queue_pluck(c->cq, &t_send,
		    gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	for (;;) {
		grpc_byte_buffer *bb = NULL;
		ProtobufCMessage *msg = NULL;

		memset(ops, 0, sizeof(ops));
		ops[0].op = GRPC_OP_RECV_MESSAGE;
		ops[0].data.recv_message.recv_message = &bb;
		if (grpc_call_start_batch(call, ops, 1, &t_recv, NULL) !=
		    GRPC_CALL_OK)
			break;
		grpc_completion_queue_pluck(c->cq, &t_recv,
		    gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
		if (bb == NULL)
			break;	/* end of stream, or failure */
		r = transport_unpack_bb(bb, m->response, c->max_message,
		    NULL, &msg);
		grpc_byte_buffer_destroy(bb);
		if (r != CAIRN_OK) {
			grpc_call_cancel(call, NULL);
			break;
		}
		*got_any = true;
		cb = on_msg(msg, arg);
		protobuf_c_message_free_unpacked(msg, NULL);
		if (cb != 0) {
			grpc_call_cancel(call, NULL);
			break;
		}
	}
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[0].data.recv_status_on_client.trailing_metadata = &tmd;
	ops[0].data.recv_status_on_client.status = &st;
	ops[0].data.recv_status_on_client.status_details = &details;
	if (grpc_call_start_batch(call, ops, 1, &t_status, NULL) ==
	    GRPC_CALL_OK)
		grpc_completion_queue_pluck(c->cq, &t_status,
		    gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	*stp = st;
	if (cb != 0)
		r = cb;
	else if (r == CAIRN_OK)
		r = call_status(m, st, details, &tmd);
	grpc_slice_unref(details);
	grpc_metadata_array_destroy(&imd);
	grpc_metadata_array_destroy(&tmd);
	grpc_call_unref(call);
	return r;
}

int
transport_stream(struct transport_client *c, const struct proto_method_info *m,
    const ProtobufCMessage *req, unsigned timeout_ms,
    int (*on_msg)(const ProtobufCMessage *, void *), void *arg)
{
	grpc_byte_buffer *bb = NULL;
	gpr_timespec deadline;
	grpc_status_code st;
	unsigned d = c->backoff_ms;
	bool got_any = false;
	int r;

	if (!m->server_streaming || req->descriptor != m->request)
		return cairn_err(CAIRN_ERR_ARG, "%s is not a streaming method "
		    "taking %s", m->name, req->descriptor->short_name);
	if ((r = transport_pack_bb(req, c->max_message, &bb)) != CAIRN_OK)
		return r;
	if (timeout_ms == 0)
		timeout_ms = TRANSPORT_DEFAULT_TIMEOUT_MS;
	deadline = transport_deadline_in(timeout_ms);
	for (unsigned attempt = 0;; attempt++) {
		grpc_byte_buffer *one = grpc_byte_buffer_copy(bb);

		st = GRPC_STATUS_UNKNOWN;
		r = stream_once(c, m, one, deadline, on_msg, arg, &st,
		    &got_any);
		grpc_byte_buffer_destroy(one);
		if (r != CAIRN_OK && transport_client_pin_status(c) !=
		    CAIRN_OK) {
			r = transport_err_prefix(CAIRN_ERR_UNAUTH, m->name);
			break;
		}
		if (st != GRPC_STATUS_UNAVAILABLE || got_any ||
		    attempt >= c->retries)
			break;
		{
			int64_t left = gpr_time_to_millis(gpr_time_sub(deadline,
			    gpr_now(GPR_CLOCK_MONOTONIC)));

			if (left <= 0)
				break;
			backoff_sleep(c, &d, left);
		}
	}
	grpc_byte_buffer_destroy(bb);
	return r;
}
