/*
 * transport.c - the gRPC C core glue: mutual TLS, server workers, calls
 * finished from any thread, clients with deadlines and retries.
 *
 * Server.  One completion queue per worker thread; every worker keeps a few
 * grpc_server_request_registered_call() posted per method, and a couple of
 * grpc_server_request_call() for paths no handler serves, which are
 * answered UNIMPLEMENTED at once.  The handlers given to the server are
 * its whole dispatch table: serving another method is one more entry.
 * A new call is re-posted first, then authorized (role in the peer's
 * cairn:// URI SAN), size-checked and unpacked, and handed to the
 * handler.  Each call is a reference-counted struct: one reference per
 * batch in flight and one held by the handler until it finishes the call;
 * the last one frees it, from whichever thread drops it.  A streaming
 * call writes one message at a time from a queue.  A worker shuts its
 * queue down only once the server has shut down and none of its calls is
 * alive, because starting a batch on a queue already shut down aborts the
 * process.
 *
 * Client.  One channel and one pluck queue per client; a unary call is one
 * batch of six operations.  UNAVAILABLE is retried with exponential backoff
 * and full jitter inside the call's deadline.
 */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
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

#define REQUESTS_PER_METHOD	4	/* posted per worker and method */
#define REQUESTS_UNKNOWN	2	/* posted per worker for the rest */
#define METHOD_ECHO_MAX		64	/* of an unknown path, shown */
#define ERROR_MD_KEY		"cairn-error-bin"
#define DETAIL_MAX		512

/*
 * No compression, in either direction, on servers and clients alike.  A
 * gzip message of 1 MiB inflates to 1 GiB, and gRPC 1.51 inflates a whole
 * message before any size check (and, on a server, before the handler can
 * authorize the caller).  Only identity is enabled, so gRPC itself cancels
 * a call whose grpc-encoding names another algorithm (UNIMPLEMENTED,
 * "Compression algorithm 'gzip' is disabled.") and tells peers so in
 * grpc-accept-encoding; nothing is sent compressed; and the decompression
 * filter is left out of the channel, so that a compressed message that
 * gets through anyway reaches unpack_bb() still compressed and is refused
 * there, before a byte of it is inflated.
 */
#define NO_COMPRESSION_ARGS \
	{ GRPC_ARG_INTEGER, \
	    GRPC_COMPRESSION_CHANNEL_ENABLED_ALGORITHMS_BITSET, \
	    { .integer = 1 << GRPC_COMPRESS_NONE } }, \
	{ GRPC_ARG_INTEGER, GRPC_COMPRESSION_CHANNEL_DEFAULT_ALGORITHM, \
	    { .integer = GRPC_COMPRESS_NONE } }, \
	{ GRPC_ARG_INTEGER, GRPC_ARG_ENABLE_PER_MESSAGE_DECOMPRESSION, \
	    { .integer = 0 } }

/* ------------------------------------------------------- error mapping */

static const struct {
	int			code;
	const char		*name;
	grpc_status_code	status;
} errmap[] = {
	{ CAIRN_ERR_INTERNAL, "internal", GRPC_STATUS_INTERNAL },
	{ CAIRN_ERR_NOMEM, "nomem", GRPC_STATUS_RESOURCE_EXHAUSTED },
	{ CAIRN_ERR_ARG, "arg", GRPC_STATUS_INVALID_ARGUMENT },
	{ CAIRN_ERR_IO, "io", GRPC_STATUS_INTERNAL },
	{ CAIRN_ERR_FORMAT, "format", GRPC_STATUS_INVALID_ARGUMENT },
	{ CAIRN_ERR_TOOBIG, "toobig", GRPC_STATUS_RESOURCE_EXHAUSTED },
	{ CAIRN_ERR_RANGE, "range", GRPC_STATUS_OUT_OF_RANGE },
	{ CAIRN_ERR_CONFIG, "config", GRPC_STATUS_INTERNAL },
	{ CAIRN_ERR_NOTFOUND, "notfound", GRPC_STATUS_NOT_FOUND },
	{ CAIRN_ERR_EXISTS, "exists", GRPC_STATUS_ALREADY_EXISTS },
	{ CAIRN_ERR_PERM, "perm", GRPC_STATUS_PERMISSION_DENIED },
	{ CAIRN_ERR_SIGNATURE, "signature", GRPC_STATUS_UNAUTHENTICATED },
	{ CAIRN_ERR_PROOF, "proof", GRPC_STATUS_INVALID_ARGUMENT },
	{ CAIRN_ERR_BUDGET, "budget", GRPC_STATUS_FAILED_PRECONDITION },
	{ CAIRN_ERR_POLICY, "policy", GRPC_STATUS_FAILED_PRECONDITION },
	{ CAIRN_ERR_STATE, "state", GRPC_STATUS_FAILED_PRECONDITION },
	{ CAIRN_ERR_CRYPTO, "crypto", GRPC_STATUS_INTERNAL },
	{ CAIRN_ERR_DB, "db", GRPC_STATUS_INTERNAL },
	{ CAIRN_ERR_NET, "net", GRPC_STATUS_UNAVAILABLE },
	{ CAIRN_ERR_TIMEOUT, "timeout", GRPC_STATUS_DEADLINE_EXCEEDED },
	{ CAIRN_ERR_UNAUTH, "unauth", GRPC_STATUS_PERMISSION_DENIED },
	{ CAIRN_ERR_OVERFLOW, "overflow", GRPC_STATUS_OUT_OF_RANGE },
	{ CAIRN_ERR_CONFLICT, "conflict", GRPC_STATUS_ABORTED },
	{ CAIRN_ERR_UNSUPPORTED, "unsupported", GRPC_STATUS_UNIMPLEMENTED },
	{ CAIRN_ERR_CANCELLED, "cancelled", GRPC_STATUS_CANCELLED },
};
#define NERRMAP	(sizeof(errmap) / sizeof(errmap[0]))

static const char *const status_names[] = {
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED",
	"RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
	"OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE",
	"DATA_LOSS", "UNAUTHENTICATED"
};

static const char *
status_name(grpc_status_code s)
{
	if ((unsigned)s < sizeof(status_names) / sizeof(status_names[0]))
		return status_names[s];
	return "UNKNOWN";
}

static grpc_status_code
status_for(int code)
{
	for (size_t i = 0; i < NERRMAP; i++)
		if (errmap[i].code == code)
			return errmap[i].status;
	return GRPC_STATUS_INTERNAL;
}

int
transport_tune_memory(void)
{
	if (mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024) != 1 ||
	    mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024) != 1)
		return cairn_err(CAIRN_ERR_INTERNAL, "mallopt refused");
	return CAIRN_OK;
}

const char *
transport_status_name_for(int code)
{
	return status_name(code == CAIRN_OK ? GRPC_STATUS_OK :
	    status_for(code));
}

/* A status without a cairn detail maps to the closest cairn error. */
static int
code_for_status(grpc_status_code s)
{
	switch (s) {
	case GRPC_STATUS_OK:
		return CAIRN_OK;
	case GRPC_STATUS_CANCELLED:
		return CAIRN_ERR_CANCELLED;
	case GRPC_STATUS_INVALID_ARGUMENT:
		return CAIRN_ERR_FORMAT;
	case GRPC_STATUS_DEADLINE_EXCEEDED:
		return CAIRN_ERR_TIMEOUT;
	case GRPC_STATUS_NOT_FOUND:
		return CAIRN_ERR_NOTFOUND;
	case GRPC_STATUS_ALREADY_EXISTS:
		return CAIRN_ERR_EXISTS;
	case GRPC_STATUS_PERMISSION_DENIED:
	case GRPC_STATUS_UNAUTHENTICATED:
		return CAIRN_ERR_UNAUTH;
	case GRPC_STATUS_RESOURCE_EXHAUSTED:
		return CAIRN_ERR_TOOBIG;
	case GRPC_STATUS_FAILED_PRECONDITION:
		return CAIRN_ERR_STATE;
	case GRPC_STATUS_ABORTED:
		return CAIRN_ERR_CONFLICT;
	case GRPC_STATUS_OUT_OF_RANGE:
		return CAIRN_ERR_RANGE;
	case GRPC_STATUS_UNIMPLEMENTED:
		return CAIRN_ERR_UNSUPPORTED;
	case GRPC_STATUS_UNAVAILABLE:
		return CAIRN_ERR_NET;
	default:
		return CAIRN_ERR_INTERNAL;
	}
}

static int
code_for_name(const char *name)
{
	for (size_t i = 0; i < NERRMAP; i++)
		if (strcmp(errmap[i].name, name) == 0)
			return errmap[i].code;
	return 0;
}

static const char *
name_for_code(int code)
{
	for (size_t i = 0; i < NERRMAP; i++)
		if (errmap[i].code == code)
			return errmap[i].name;
	return "internal";
}

/* ------------------------------------------------------------ helpers */

/* Re-raise 'code' with 'prefix' before the current detail (copied first:
 * the detail buffer is the one cairn_err() writes). */
static int
err_prefix(int code, const char *prefix)
{
	char d[512];

	snprintf(d, sizeof(d), "%s", cairn_errmsg());
	return cairn_err(code, "%s: %s", prefix, d);
}

static gpr_timespec
deadline_in(int64_t ms)
{
	return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
	    gpr_time_from_millis(ms, GPR_TIMESPAN));
}

/* Pack 'msg' straight into a gRPC slice. */
static int
pack_bb(const ProtobufCMessage *msg, size_t max, grpc_byte_buffer **out)
{
	size_t n = protobuf_c_message_get_packed_size(msg);
	grpc_slice s;

	if (n > max)
		return cairn_err(CAIRN_ERR_TOOBIG, "%s of %zu bytes exceeds the "
		    "message limit of %zu", msg->descriptor->short_name, n, max);
	s = grpc_slice_malloc_large(n);
	if (protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(s)) != n) {
		grpc_slice_unref(s);
		return cairn_err(CAIRN_ERR_INTERNAL, "pack %s",
		    msg->descriptor->short_name);
	}
	*out = grpc_raw_byte_buffer_create(&s, 1);
	grpc_slice_unref(s);
	return CAIRN_OK;
}

/* A grow-only buffer a worker reuses to join a message's slices: fresh
 * large allocations cost a page fault per page on every message. */
struct scratch {
	uint8_t	*buf;
	size_t	 cap;
};

/* Join the slices of 'rd' (total 'len' bytes) into s->buf. */
static int
join_slices(grpc_byte_buffer_reader *rd, size_t len, struct scratch *s)
{
	grpc_slice x;
	size_t off = 0;

	if (len > s->cap) {
		free(s->buf);
		s->cap = 0;
		if ((s->buf = malloc(len)) == NULL)
			return CAIRN_ERR_NOMEM;
		s->cap = len;
	}
	while (grpc_byte_buffer_reader_next(rd, &x)) {
		size_t n = GRPC_SLICE_LENGTH(x);

		if (n > len - off) {
			grpc_slice_unref(x);
			return cairn_err(CAIRN_ERR_INTERNAL, "message grew");
		}
		memcpy(s->buf + off, GRPC_SLICE_START_PTR(x), n);
		off += n;
		grpc_slice_unref(x);
	}
	return off == len ? CAIRN_OK : cairn_err(CAIRN_ERR_INTERNAL,
	    "message shrank");
}

/* Check the size of a received message, then unpack it. */
static int
unpack_bb(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *desc,
    size_t max, struct scratch *scr, ProtobufCMessage **out)
{
	grpc_byte_buffer_reader rd;
	grpc_slice a, b, all;
	int r;

	if (bb == NULL)
		return cairn_err(CAIRN_ERR_FORMAT, "no %s message received",
		    desc->short_name);
	/* The reader would inflate it whole: refuse it first. */
	if (bb->type != GRPC_BB_RAW ||
	    bb->data.raw.compression != GRPC_COMPRESS_NONE)
		return cairn_err(CAIRN_ERR_UNSUPPORTED, "%s: compressed "
		    "messages are refused", desc->short_name);
	if (!grpc_byte_buffer_reader_init(&rd, bb))
		return cairn_err(CAIRN_ERR_FORMAT, "%s: cannot decompress",
		    desc->short_name);
	if (!grpc_byte_buffer_reader_next(&rd, &a)) {
		r = proto_unpack(desc, NULL, 0, max, out);
	} else if (!grpc_byte_buffer_reader_next(&rd, &b)) {
		r = proto_unpack(desc, GRPC_SLICE_START_PTR(a),
		    GRPC_SLICE_LENGTH(a), max, out);
		grpc_slice_unref(a);
	} else {
		grpc_slice_unref(a);
		grpc_slice_unref(b);
		grpc_byte_buffer_reader_destroy(&rd);
		if (!grpc_byte_buffer_reader_init(&rd, bb))
			return cairn_err(CAIRN_ERR_FORMAT, "%s: cannot "
			    "decompress", desc->short_name);
		if (scr != NULL && grpc_byte_buffer_length(bb) <= max &&
		    bb->data.raw.compression == GRPC_COMPRESS_NONE) {
			size_t len = grpc_byte_buffer_length(bb);

			if ((r = join_slices(&rd, len, scr)) == CAIRN_OK)
				r = proto_unpack(desc, scr->buf, len, max, out);
		} else {
			all = grpc_byte_buffer_reader_readall(&rd);
			r = proto_unpack(desc, GRPC_SLICE_START_PTR(all),
			    GRPC_SLICE_LENGTH(all), max, out);
			grpc_slice_unref(all);
		}
	}
	grpc_byte_buffer_reader_destroy(&rd);
	return r;
}

/* ------------------------------------------------------------- server */

enum tag_kind { TAG_NEW, TAG_WRITE, TAG_FINISH, TAG_CLOSE };

struct tag {
	enum tag_kind		 kind;
	struct transport_call	*call;
};

struct qmsg {
	grpc_byte_buffer	*bb;
	size_t			 len;
	struct qmsg		*next;
};

struct worker;
struct handler_reg;

struct transport_call {
	struct worker		*w;
	const struct handler_reg *h;	/* NULL: a method not registered */
	grpc_call_details	 details;	/* its path, when h is NULL */
	struct tag		 t_new, t_write, t_finish, t_close;

	grpc_call		*call;
	gpr_timespec		 deadline;
	grpc_metadata_array	 md;
	grpc_byte_buffer	*payload;
	ProtobufCMessage	*req;

	pthread_mutex_t		 mu;
	pthread_cond_t		 drained;
	int			 refs;		/* under mu */
	int			 cancelled;	/* RECV_CLOSE_ON_SERVER */
	bool			 closed;	/* RECV_CLOSE done */
	bool			 owned;		/* handler holds it */
	bool			 md_sent;
	bool			 write_busy;
	bool			 finish_pending;
	struct qmsg		*qhead, *qtail;
	size_t			 qbytes;
	grpc_byte_buffer	*writing;
	grpc_status_code	 fin_status;
	char			 fin_detail[DETAIL_MAX];
	grpc_metadata		 trailing[1];
	bool			 have_trailing;

	enum keys_role		 role;
	char			 name[KEYS_NAME_MAX + 1];
};

struct handler_reg {
	struct transport_handler	 h;
	void				*grpc_method;
};

struct worker {
	struct transport_server	*srv;
	pthread_t		 thr;
	grpc_completion_queue	*cq;
	atomic_int		 live;		/* calls alive */
	bool			 cq_shut;
	struct scratch		 scratch;	/* joins requests */
};

struct transport_server {
	grpc_server		*server;
	grpc_completion_queue	*shutdown_cq;
	struct worker		*workers;
	unsigned		 nworkers;
	struct handler_reg	*handlers;
	size_t			 nhandlers;
	size_t			 max_message;
	size_t			 queue_max;
	unsigned		 grace_ms;
	int			 port;
	atomic_bool		 stopping;
	atomic_bool		 shut_done;
};

static _Thread_local bool on_worker_thread;

static void call_unref(struct transport_call *c);

static struct transport_call *
call_new(struct worker *w, const struct handler_reg *h)
{
	struct transport_call *c;

	if (atomic_load(&w->srv->stopping))
		return NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_error("out of memory posting a call");
		return NULL;
	}
	c->w = w;
	c->h = h;
	c->t_new = (struct tag){ TAG_NEW, c };
	c->t_write = (struct tag){ TAG_WRITE, c };
	c->t_finish = (struct tag){ TAG_FINISH, c };
	c->t_close = (struct tag){ TAG_CLOSE, c };
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->drained, NULL);
	c->refs = 1;
	grpc_metadata_array_init(&c->md);
	grpc_call_details_init(&c->details);
	atomic_fetch_add(&w->live, 1);
	return c;
}

/* Be ready for one more call of the registered method 'h'. */
static void
post_request(struct worker *w, const struct handler_reg *h)
{
	struct transport_call *c;
	grpc_call_error e;

	if ((c = call_new(w, h)) == NULL)
		return;
	e = grpc_server_request_registered_call(w->srv->server, h->grpc_method,
	    &c->call, &c->deadline, &c->md, &c->payload, w->cq, w->cq,
	    &c->t_new);
	if (e != GRPC_CALL_OK) {
		log_error("request_registered_call: %s",
		    grpc_call_error_to_string(e));
		call_unref(c);
	}
}

/*
 * Be ready for one more call of a method that is not registered (gRPC
 * queues such calls until someone asks for them: unasked, the caller
 * would wait for its deadline).
 */
static void
post_unknown(struct worker *w)
{
	struct transport_call *c;
	grpc_call_error e;

	if ((c = call_new(w, NULL)) == NULL)
		return;
	e = grpc_server_request_call(w->srv->server, &c->call, &c->details,
	    &c->md, w->cq, w->cq, &c->t_new);
	if (e != GRPC_CALL_OK) {
		log_error("request_call: %s", grpc_call_error_to_string(e));
		call_unref(c);
	}
}

static void
call_destroy(struct transport_call *c)
{
	struct worker *w = c->w;
	struct qmsg *q;

	while ((q = c->qhead) != NULL) {
		c->qhead = q->next;
		grpc_byte_buffer_destroy(q->bb);
		free(q);
	}
	if (c->writing != NULL)
		grpc_byte_buffer_destroy(c->writing);
	if (c->have_trailing) {
		grpc_slice_unref(c->trailing[0].key);
		grpc_slice_unref(c->trailing[0].value);
	}
	if (c->req != NULL)
		protobuf_c_message_free_unpacked(c->req, NULL);
	if (c->payload != NULL)
		grpc_byte_buffer_destroy(c->payload);
	grpc_metadata_array_destroy(&c->md);
	grpc_call_details_destroy(&c->details);
	if (c->call != NULL)
		grpc_call_unref(c->call);
	pthread_cond_destroy(&c->drained);
	pthread_mutex_destroy(&c->mu);
	free(c);
	atomic_fetch_sub(&w->live, 1);
}

static void
call_unref(struct transport_call *c)
{
	int left;

	pthread_mutex_lock(&c->mu);
	left = --c->refs;
	pthread_mutex_unlock(&c->mu);
	if (left == 0)
		call_destroy(c);
}

/* Start a batch holding one more reference; under c->mu. */
static int
start_locked(struct transport_call *c, grpc_op *ops, size_t n, struct tag *t)
{
	grpc_call_error e;

	c->refs++;
	e = grpc_call_start_batch(c->call, ops, n, t, NULL);
	if (e != GRPC_CALL_OK) {
		c->refs--;
		return cairn_err(CAIRN_ERR_INTERNAL, "start_batch: %s",
		    grpc_call_error_to_string(e));
	}
	return CAIRN_OK;
}

/* Send the final status (plus any initial metadata/message); under mu. */
static int
send_status_locked(struct transport_call *c, grpc_byte_buffer *msg)
{
	grpc_op ops[3];
	grpc_slice det;
	size_t n = 0;
	int r;

	memset(ops, 0, sizeof(ops));
	if (!c->md_sent) {
		ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
		c->md_sent = true;
	}
	if (msg != NULL) {
		c->writing = msg;
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = msg;
	}
	det = grpc_slice_from_copied_string(c->fin_detail);
	ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[n].data.send_status_from_server.status = c->fin_status;
	ops[n].data.send_status_from_server.status_details =
	    c->fin_detail[0] != '\0' ? &det : NULL;
	ops[n].data.send_status_from_server.trailing_metadata_count =
	    c->have_trailing ? 1 : 0;
	ops[n].data.send_status_from_server.trailing_metadata = c->trailing;
	n++;
	r = start_locked(c, ops, n, &c->t_finish);
	grpc_slice_unref(det);
	return r;
}

/* Start writing the next queued message; under mu. */
static int
write_next_locked(struct transport_call *c)
{
	struct qmsg *q = c->qhead;
	grpc_op ops[2];
	size_t n = 0;

	c->qhead = q->next;
	if (c->qhead == NULL)
		c->qtail = NULL;
	c->qbytes -= q->len;
	c->writing = q->bb;
	free(q);
	memset(ops, 0, sizeof(ops));
	if (!c->md_sent) {
		ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
		c->md_sent = true;
	}
	ops[n].op = GRPC_OP_SEND_MESSAGE;
	ops[n++].data.send_message.send_message = c->writing;
	c->write_busy = true;
	return start_locked(c, ops, n, &c->t_write);
}

static void
set_error_trailer(struct transport_call *c, int code, const char *field,
    const char *detail)
{
	Cairn__V1__ErrorDetail ed = CAIRN__V1__ERROR_DETAIL__INIT;
	uint8_t buf[DETAIL_MAX + 128];
	size_t n;

	ed.code = (char *)name_for_code(code);
	ed.field = (char *)(field != NULL ? field : "");
	ed.detail = (char *)detail;
	if (protobuf_c_message_get_packed_size(&ed.base) > sizeof(buf))
		return;
	n = protobuf_c_message_pack(&ed.base, buf);
	c->trailing[0].key = grpc_slice_from_static_string(ERROR_MD_KEY);
	c->trailing[0].value = grpc_slice_from_copied_buffer((char *)buf, n);
	c->have_trailing = true;
}

/* Finish the call as the handler's last act; consumes its reference. */
static int
finish_call(struct transport_call *c, grpc_byte_buffer *msg, int code,
    const char *field, const char *detail)
{
	int r = CAIRN_OK;

	pthread_mutex_lock(&c->mu);
	if (!c->owned) {
		pthread_mutex_unlock(&c->mu);
		if (msg != NULL)
			grpc_byte_buffer_destroy(msg);
		return cairn_err(CAIRN_ERR_STATE, "call finished twice");
	}
	c->owned = false;
	c->fin_status = code == CAIRN_OK ? GRPC_STATUS_OK : status_for(code);
	snprintf(c->fin_detail, sizeof(c->fin_detail), "%s",
	    detail != NULL ? detail : "");
	if (code != CAIRN_OK)
		set_error_trailer(c, code, field, c->fin_detail);
	if (c->write_busy || c->qhead != NULL)
		c->finish_pending = true;
	else
		r = send_status_locked(c, msg);
	c->refs--;	/* the handler's reference; a batch holds another */
	if (c->refs == 0) {
		pthread_mutex_unlock(&c->mu);
		call_destroy(c);
		return r;
	}
	pthread_mutex_unlock(&c->mu);
	return r;
}

int
transport_call_reply(struct transport_call *c, const ProtobufCMessage *resp)
{
	grpc_byte_buffer *bb = NULL;
	int r;

	if ((r = pack_bb(resp, c->w->srv->max_message, &bb)) != CAIRN_OK) {
		log_error("%s: %s", c->h->h.method->name, cairn_errmsg());
		(void)finish_call(c, NULL, CAIRN_ERR_INTERNAL, NULL,
		    "reply too large");
		return r;
	}
	return finish_call(c, bb, CAIRN_OK, NULL, NULL);
}

int
transport_call_fail(struct transport_call *c, int code, const char *field,
    const char *detail)
{
	if (code == CAIRN_OK)
		code = CAIRN_ERR_INTERNAL;
	return finish_call(c, NULL, code, field, detail);
}

int
transport_call_finish(struct transport_call *c, int code, const char *detail)
{
	return finish_call(c, NULL, code, NULL, detail);
}

int
transport_call_send(struct transport_call *c, const ProtobufCMessage *msg)
{
	grpc_byte_buffer *bb = NULL;
	struct qmsg *q;
	size_t len, qmax = c->w->srv->queue_max;
	int r;

	if ((r = pack_bb(msg, c->w->srv->max_message, &bb)) != CAIRN_OK)
		return r;
	len = grpc_byte_buffer_length(bb);
	if ((q = calloc(1, sizeof(*q))) == NULL) {
		grpc_byte_buffer_destroy(bb);
		return CAIRN_ERR_NOMEM;
	}
	q->bb = bb;
	q->len = len;
	pthread_mutex_lock(&c->mu);
	while (c->qbytes + len > qmax && c->qhead != NULL && !c->closed &&
	    !on_worker_thread)
		pthread_cond_wait(&c->drained, &c->mu);
	if (c->closed && c->cancelled) {
		r = cairn_err(CAIRN_ERR_CANCELLED, "call cancelled");
		goto fail;
	}
	if (!c->owned) {
		r = cairn_err(CAIRN_ERR_STATE, "send on a finished call");
		goto fail;
	}
	if (c->qbytes + len > qmax && c->qhead != NULL) {
		r = cairn_err(CAIRN_ERR_TOOBIG, "stream queue full");
		goto fail;
	}
	if (c->qtail != NULL)
		c->qtail->next = q;
	else
		c->qhead = q;
	c->qtail = q;
	c->qbytes += len;
	r = c->write_busy ? CAIRN_OK : write_next_locked(c);
	pthread_mutex_unlock(&c->mu);
	return r;
fail:
	pthread_mutex_unlock(&c->mu);
	grpc_byte_buffer_destroy(bb);
	free(q);
	return r;
}

enum keys_role
transport_call_role(const struct transport_call *c)
{
	return c->role;
}

const char *
transport_call_peer(const struct transport_call *c)
{
	return c->name;
}

int
transport_call_peer_cert_fpr(const struct transport_call *c,
    char fpr[static KEYS_FPR_LEN])
{
	struct keys_cert_info ci;
	grpc_auth_context *ac;
	grpc_auth_property_iterator it;
	const grpc_auth_property *p;
	int r = cairn_err(CAIRN_ERR_UNAUTH, "no peer certificate");

	if ((ac = grpc_call_auth_context(c->call)) == NULL)
		return r;
	it = grpc_auth_context_find_properties_by_name(ac,
	    GRPC_X509_PEM_CERT_PROPERTY_NAME);
	if ((p = grpc_auth_property_iterator_next(&it)) != NULL) {
		r = keys_cert_info(p->value, p->value_length, &ci);
		if (r == CAIRN_OK)
			memcpy(fpr, ci.fingerprint, KEYS_FPR_LEN);
		else
			r = CAIRN_ERR_UNAUTH;
	}
	grpc_auth_context_release(ac);
	return r;
}

const struct proto_method_info *
transport_call_method(const struct transport_call *c)
{
	return c->h->h.method;
}

int64_t
transport_call_remaining_ms(const struct transport_call *c)
{
	gpr_timespec d = gpr_convert_clock_type(c->deadline,
	    GPR_CLOCK_MONOTONIC);
	gpr_timespec left = gpr_time_sub(d, gpr_now(GPR_CLOCK_MONOTONIC));
	int64_t ms = gpr_time_to_millis(left);

	return ms > 0 ? ms : 0;
}

bool
transport_call_is_cancelled(const struct transport_call *c)
{
	struct transport_call *m = (struct transport_call *)c;
	bool r;

	pthread_mutex_lock(&m->mu);
	r = (m->closed && m->cancelled) ||
	    atomic_load(&m->w->srv->stopping);
	pthread_mutex_unlock(&m->mu);
	return r;
}

/* The caller's role and name from its certificate's cairn:// URI SAN. */
static int
peer_identity(struct transport_call *c)
{
	grpc_auth_context *ac;
	grpc_auth_property_iterator it;
	const grpc_auth_property *p;
	int found = 0, r = CAIRN_OK;

	if ((ac = grpc_call_auth_context(c->call)) == NULL)
		return cairn_err(CAIRN_ERR_UNAUTH, "no authentication context");
	if (!grpc_auth_context_peer_is_authenticated(ac)) {
		grpc_auth_context_release(ac);
		return cairn_err(CAIRN_ERR_UNAUTH, "peer not authenticated");
	}
	it = grpc_auth_context_find_properties_by_name(ac,
	    GRPC_PEER_URI_PROPERTY_NAME);
	while ((p = grpc_auth_property_iterator_next(&it)) != NULL) {
		if (p->value_length < 8 || memcmp(p->value, "cairn://", 8) != 0)
			continue;
		if (found++ ||
		    keys_uri_parse(p->value, p->value_length, &c->role,
		    c->name) != CAIRN_OK) {
			r = cairn_err(CAIRN_ERR_UNAUTH, "certificate has a bad "
			    "or second cairn:// URI");
			break;
		}
	}
	grpc_auth_context_release(ac);
	if (r == CAIRN_OK && !found)
		r = cairn_err(CAIRN_ERR_UNAUTH, "certificate has no cairn:// "
		    "URI");
	return r;
}

/* Start RECV_CLOSE_ON_SERVER, so cancels are seen; the NEW tag's
 * reference becomes the handler's. */
static int
start_close(struct transport_call *c)
{
	grpc_op op;
	int r;

	pthread_mutex_lock(&c->mu);
	c->owned = true;
	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	op.data.recv_close_on_server.cancelled = &c->cancelled;
	r = start_locked(c, &op, 1, &c->t_close);
	pthread_mutex_unlock(&c->mu);
	return r;
}

/*
 * A method no handler serves: UNIMPLEMENTED at once, naming the path.
 * The path comes from the caller, so at most METHOD_ECHO_MAX bytes of it
 * are named, anything but printable ASCII shown as '?'.
 */
static void
on_unknown_call(struct worker *w, struct transport_call *c)
{
	const uint8_t *p = GRPC_SLICE_START_PTR(c->details.method);
	size_t len = GRPC_SLICE_LENGTH(c->details.method), n, i;
	char name[METHOD_ECHO_MAX + 1], detail[DETAIL_MAX];
	int r;

	post_unknown(w);	/* keep the pipeline full */
	if ((r = start_close(c)) != CAIRN_OK) {
		(void)transport_call_fail(c, r, NULL, "internal error");
		return;
	}
	n = len < METHOD_ECHO_MAX ? len : METHOD_ECHO_MAX;
	for (i = 0; i < n; i++)
		name[i] = p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\'' ?
		    (char)p[i] : '?';
	name[n] = '\0';
	snprintf(detail, sizeof(detail), "unknown method '%s'%s", name,
	    len > n ? " (cut)" : "");
	log_debug("%s", detail);
	(void)transport_call_fail(c, CAIRN_ERR_UNSUPPORTED, NULL, detail);
}

static void
on_new_call(struct worker *w, struct transport_call *c)
{
	const struct transport_handler *h = &c->h->h;
	const struct proto_method_info *m = h->method;
	char detail[DETAIL_MAX];
	int r;

	post_request(w, c->h);	/* keep the pipeline full */
	if ((r = start_close(c)) != CAIRN_OK) {
		(void)transport_call_fail(c, r, NULL, "internal error");
		return;
	}
	if ((r = peer_identity(c)) != CAIRN_OK) {
		(void)transport_call_fail(c, CAIRN_ERR_UNAUTH, NULL,
		    cairn_errmsg());
		return;
	}
	if ((m->roles & KEYS_ROLE_BIT(c->role)) == 0) {
		snprintf(detail, sizeof(detail), "%s may not be called by %s "
		    "%s", m->name, keys_role_name(c->role), c->name);
		(void)transport_call_fail(c, CAIRN_ERR_UNAUTH, NULL, detail);
		return;
	}
	if (gpr_time_cmp(c->deadline, gpr_inf_future(c->deadline.clock_type))
	    == 0) {
		(void)transport_call_fail(c, CAIRN_ERR_ARG, NULL, "the call "
		    "has no deadline; set one");
		return;
	}
	if ((r = unpack_bb(c->payload, m->request, m->max_request,
	    &w->scratch, &c->req)) != CAIRN_OK) {
		snprintf(detail, sizeof(detail), "%s", cairn_errmsg());
		(void)transport_call_fail(c, r, NULL, detail);
		return;
	}
	grpc_byte_buffer_destroy(c->payload);
	c->payload = NULL;
	h->fn(c, c->req, h->arg);
}

static void
on_event(struct worker *w, struct tag *t, bool ok)
{
	struct transport_call *c = t->call;
	bool notify = false;

	switch (t->kind) {
	case TAG_NEW:
		if (!ok) {	/* server shutting down */
			call_unref(c);
			return;
		}
		if (c->h == NULL)
			on_unknown_call(w, c);
		else
			on_new_call(w, c);
		return;
	case TAG_WRITE:
		pthread_mutex_lock(&c->mu);
		c->write_busy = false;
		grpc_byte_buffer_destroy(c->writing);
		c->writing = NULL;
		if (!ok) {	/* the call is gone: drop what is queued */
			struct qmsg *q;

			while ((q = c->qhead) != NULL) {
				c->qhead = q->next;
				grpc_byte_buffer_destroy(q->bb);
				free(q);
			}
			c->qtail = NULL;
			c->qbytes = 0;
		}
		if (c->qhead != NULL)
			(void)write_next_locked(c);
		else if (c->finish_pending) {
			c->finish_pending = false;
			(void)send_status_locked(c, NULL);
		}
		pthread_cond_broadcast(&c->drained);
		pthread_mutex_unlock(&c->mu);
		call_unref(c);
		return;
	case TAG_FINISH:
		call_unref(c);
		return;
	case TAG_CLOSE:
		pthread_mutex_lock(&c->mu);
		c->closed = true;
		notify = c->cancelled && c->owned && c->h != NULL &&
		    c->h->h.cancel != NULL;
		pthread_cond_broadcast(&c->drained);
		pthread_mutex_unlock(&c->mu);
		if (notify)
			c->h->h.cancel(c, c->h->h.arg);
		call_unref(c);
		return;
	}
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct transport_server *s = w->srv;
	grpc_event ev;

	on_worker_thread = true;
	for (size_t i = 0; i < s->nhandlers; i++)
		for (int k = 0; k < REQUESTS_PER_METHOD; k++)
			post_request(w, &s->handlers[i]);
	for (int k = 0; k < REQUESTS_UNKNOWN; k++)
		post_unknown(w);
	for (;;) {
		ev = grpc_completion_queue_next(w->cq, deadline_in(100), NULL);
		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			break;
		if (ev.type == GRPC_OP_COMPLETE)
			on_event(w, ev.tag, ev.success != 0);
		if (!w->cq_shut && atomic_load(&s->shut_done) &&
		    atomic_load(&w->live) == 0) {
			grpc_completion_queue_shutdown(w->cq);
			w->cq_shut = true;
		}
	}
	return NULL;
}

static grpc_server_credentials *
server_creds(const struct keys_tls *tls)
{
	grpc_ssl_pem_key_cert_pair pair;
	grpc_ssl_server_certificate_config *cfg;
	grpc_ssl_server_credentials_options *opts;

	pair.private_key = keys_tls_key_pem(tls);
	pair.cert_chain = keys_tls_cert_pem(tls);
	/* Copies the PEMs. */
	cfg = grpc_ssl_server_certificate_config_create(keys_tls_ca_pem(tls),
	    &pair, 1);
	/* The plain REQUEST_..._AND_VERIFY admits clients without one. */
	opts = grpc_ssl_server_credentials_create_options_using_config(
	    GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY, cfg);
	return grpc_ssl_server_credentials_create_with_options(opts);
}

int
transport_server_start(const struct transport_server_config *cfg,
    const struct transport_handler *h, size_t n, struct transport_server **out)
{
	struct transport_server *s;
	grpc_server_credentials *creds;
	grpc_completion_queue_attributes attr = { GRPC_CQ_CURRENT_VERSION,
	    GRPC_CQ_NEXT, GRPC_CQ_NON_LISTENING, NULL };
	int r;

	if (cfg->tls == NULL || cfg->listen == NULL || n == 0)
		return cairn_err(CAIRN_ERR_ARG, "server needs TLS keys, an "
		    "address and handlers");
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return CAIRN_ERR_NOMEM;
	s->nworkers = cfg->workers ? cfg->workers : TRANSPORT_DEFAULT_WORKERS;
	s->max_message = cfg->max_message ? cfg->max_message :
	    PROTO_MAX_MESSAGE;
	s->grace_ms = cfg->grace_ms ? cfg->grace_ms :
	    TRANSPORT_DEFAULT_GRACE_MS;
	s->queue_max = cfg->stream_queue_max ? cfg->stream_queue_max :
	    TRANSPORT_STREAM_QUEUE_MAX;
	if (s->max_message > INT_MAX) {
		free(s);
		return cairn_err(CAIRN_ERR_ARG, "message limit too large");
	}
	if ((s->handlers = calloc(n, sizeof(*s->handlers))) == NULL ||
	    (s->workers = calloc(s->nworkers, sizeof(*s->workers))) == NULL) {
		free(s->handlers);
		free(s);
		return CAIRN_ERR_NOMEM;
	}
	grpc_init();
	{
		grpc_resource_quota *quota = grpc_resource_quota_create(
		    "cairn-server");
		/*
		 * gRPC 1.51 reads a whole message before it compares it with
		 * the receive limit: only the quota bounds what a caller can
		 * make the server buffer (its streams are reset beyond it).
		 */
		grpc_resource_quota_resize(quota, TRANSPORT_MEMORY_MAX);
		grpc_arg args[] = {
			{ GRPC_ARG_POINTER, GRPC_ARG_RESOURCE_QUOTA,
			    { .pointer = { quota,
			    grpc_resource_quota_arg_vtable() } } },
			{ GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
			    { .integer = (int)s->max_message } },
			{ GRPC_ARG_INTEGER, GRPC_ARG_MAX_SEND_MESSAGE_LENGTH,
			    { .integer = (int)s->max_message } },
			{ GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_TIME_MS,
			    { .integer = 60000 } },
			{ GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
			    { .integer = 20000 } },
			{ GRPC_ARG_INTEGER,
			    GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
			    { .integer = 10000 } },
			{ GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS,
			    { .integer = 1 } },
			{ GRPC_ARG_INTEGER, GRPC_ARG_MAX_CONCURRENT_STREAMS,
			    { .integer = 256 } },
			{ GRPC_ARG_INTEGER, GRPC_ARG_ALLOW_REUSEPORT,
			    { .integer = 0 } },
			{ GRPC_ARG_INTEGER,
			    GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES,
			    { .integer = 8 * 1024 * 1024 } },
			/* A connection that has not finished its TLS
			 * handshake in 10 s is closed (gRPC: 120 s). */
			{ GRPC_ARG_INTEGER, GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
			    { .integer = TRANSPORT_HANDSHAKE_MS } },
			NO_COMPRESSION_ARGS,
		};
		grpc_channel_args ca = { sizeof(args) / sizeof(args[0]), args };

		s->server = grpc_server_create(&ca, NULL);
		grpc_resource_quota_unref(quota);
	}
	s->nhandlers = n;
	for (size_t i = 0; i < n; i++) {
		s->handlers[i].h = h[i];
		s->handlers[i].grpc_method = grpc_server_register_method(
		    s->server, h[i].method->path, NULL,
		    GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
		if (s->handlers[i].grpc_method == NULL) {
			r = cairn_err(CAIRN_ERR_ARG, "cannot register %s twice",
			    h[i].method->path);
			goto fail;
		}
	}
	for (unsigned i = 0; i < s->nworkers; i++) {
		s->workers[i].srv = s;
		s->workers[i].cq = grpc_completion_queue_create_for_next(NULL);
		grpc_server_register_completion_queue(s->server,
		    s->workers[i].cq, NULL);
	}
	/* NON_LISTENING, or it would accept connections nobody serves. */
	s->shutdown_cq = grpc_completion_queue_create(
	    grpc_completion_queue_factory_lookup(&attr), &attr, NULL);
	grpc_server_register_completion_queue(s->server, s->shutdown_cq, NULL);
	creds = server_creds(cfg->tls);
	s->port = grpc_server_add_http2_port(s->server, cfg->listen, creds);
	grpc_server_credentials_release(creds);
	if (s->port == 0) {
		r = cairn_err(CAIRN_ERR_NET, "cannot listen on %s (in use or "
		    "bad address)", cfg->listen);
		goto fail;
	}
	grpc_server_start(s->server);
	for (unsigned i = 0; i < s->nworkers; i++) {
		if (pthread_create(&s->workers[i].thr, NULL, worker_main,
		    &s->workers[i]) != 0) {
			/* Workers already running are joined by stop. */
			s->nworkers = i;
			transport_server_stop(s);
			return cairn_err(CAIRN_ERR_INTERNAL, "pthread_create");
		}
	}
	log_debug("serving on port %d with %u workers", s->port, s->nworkers);
	*out = s;
	return CAIRN_OK;
fail:
	/* Never started: no calls exist; destroy in order. */
	grpc_server_shutdown_and_notify(s->server, s->shutdown_cq, NULL);
	grpc_completion_queue_next(s->shutdown_cq,
	    gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	grpc_server_destroy(s->server);
	for (unsigned i = 0; i < s->nworkers; i++) {
		if (s->workers[i].cq == NULL)
			continue;
		grpc_completion_queue_shutdown(s->workers[i].cq);
		while (grpc_completion_queue_next(s->workers[i].cq,
		    gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
		    GRPC_QUEUE_SHUTDOWN)
			;
		grpc_completion_queue_destroy(s->workers[i].cq);
	}
	if (s->shutdown_cq != NULL) {
		grpc_completion_queue_shutdown(s->shutdown_cq);
		while (grpc_completion_queue_next(s->shutdown_cq,
		    gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
		    GRPC_QUEUE_SHUTDOWN)
			;
		grpc_completion_queue_destroy(s->shutdown_cq);
	}
	free(s->workers);
	free(s->handlers);
	free(s);
	grpc_shutdown();
	return r;
}

int
transport_server_port(const struct transport_server *s)
{
	return s->port;
}

void
transport_server_stop(struct transport_server *s)
{
	static int shutdown_tag;
	grpc_event ev;

	if (s == NULL)
		return;
	atomic_store(&s->stopping, true);
	grpc_server_shutdown_and_notify(s->server, s->shutdown_cq,
	    &shutdown_tag);
	ev = grpc_completion_queue_next(s->shutdown_cq,
	    deadline_in(s->grace_ms), NULL);
	if (ev.type == GRPC_QUEUE_TIMEOUT) {
		log_info("grace period over: cancelling the calls left");
		grpc_server_cancel_all_calls(s->server);
		grpc_completion_queue_next(s->shutdown_cq,
		    gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	}
	atomic_store(&s->shut_done, true);
	for (unsigned i = 0; i < s->nworkers; i++) {
		pthread_join(s->workers[i].thr, NULL);
		grpc_completion_queue_destroy(s->workers[i].cq);
		free(s->workers[i].scratch.buf);
	}
	grpc_server_destroy(s->server);
	grpc_completion_queue_shutdown(s->shutdown_cq);
	while (grpc_completion_queue_next(s->shutdown_cq,
	    gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
	    GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(s->shutdown_cq);
	free(s->workers);
	free(s->handlers);
	free(s);
	grpc_shutdown();
}

/* ------------------------------------------------------------- client */

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
		code = code_for_name(ed->code);
	if (code == 0)
		code = code_for_status(st);
	d = grpc_slice_to_c_string(details);
	code = cairn_err(code, "%s: %s: %.*s%s%s", m->name, status_name(st),
	    DETAIL_MAX, d, ed != NULL && ed->field[0] != '\0' ? " field " : "",
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
	gpr_timespec until = deadline_in(ms);
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
	if ((r = unpack_bb(recv, m->response, c->max_message, NULL, resp)) !=
	    CAIRN_OK)
		r = err_prefix(r, m->name);
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
	deadline = deadline_in(timeout_ms);
	for (unsigned attempt = 0;; attempt++) {
		/* gRPC takes the payload out of the buffer it sends: each
		 * attempt sends a copy, so a retry is not an empty message. */
		grpc_byte_buffer *one = grpc_byte_buffer_copy(send);

		st = GRPC_STATUS_UNKNOWN;
		r = unary_once(c, m, one, deadline, resp, &st);
		grpc_byte_buffer_destroy(one);
		if (r != CAIRN_OK && transport_client_pin_status(c) !=
		    CAIRN_OK)
			return err_prefix(CAIRN_ERR_UNAUTH, m->name);
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
	if ((r = pack_bb(req, c->max_message, &bb)) != CAIRN_OK)
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
		r = unpack_bb(bb, m->response, c->max_message, NULL, &msg);
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
	if ((r = pack_bb(req, c->max_message, &bb)) != CAIRN_OK)
		return r;
	if (timeout_ms == 0)
		timeout_ms = TRANSPORT_DEFAULT_TIMEOUT_MS;
	deadline = deadline_in(timeout_ms);
	for (unsigned attempt = 0;; attempt++) {
		grpc_byte_buffer *one = grpc_byte_buffer_copy(bb);

		st = GRPC_STATUS_UNKNOWN;
		r = stream_once(c, m, one, deadline, on_msg, arg, &st,
		    &got_any);
		grpc_byte_buffer_destroy(one);
		if (r != CAIRN_OK && transport_client_pin_status(c) !=
		    CAIRN_OK) {
			r = err_prefix(CAIRN_ERR_UNAUTH, m->name);
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
