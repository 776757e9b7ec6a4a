/*
 * transport_server.c - the server side of the gRPC C core glue: mutual
 * TLS listener, worker threads, method dispatch, calls finished from any
 * thread.
 *
 * One completion queue per worker thread; every worker keeps a few
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
 * The tests link with -Wl,--wrap for transport_server_* and
 * transport_call_* (Makefile WRAP_TRANSPORT): those functions and every
 * caller of them inside the transport stay in this one file, so that such
 * internal calls are resolved here and not wrapped.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
#include "common/metrics.h"
#include "keys/keys.h"
#include "keys/keys_tls.h"
#include "protocol/cairn.pb-c.h"
#include "protocol/proto_service.h"
#include "protocol/transport.h"
#include "protocol/transport_int.h"

#define REQUESTS_PER_METHOD	4	/* posted per worker and method */
#define REQUESTS_UNKNOWN	2	/* posted per worker for the rest */
#define METHOD_ECHO_MAX		64	/* of an unknown path, shown */

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
	struct transport_scratch scratch;	/* joins requests */
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
	bool			 plaintext;	/* no TLS, no identity */
	atomic_bool		 stopping;
	atomic_bool		 shut_done;
};

static _Thread_local bool on_worker_thread;

/* RPCs finished, by method and gRPC status (docs/operations.md). */
static struct metrics_family *rpcs_total;

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

	ed.code = (char *)transport_name_for_code(code);
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
	c->fin_status = code == CAIRN_OK ? GRPC_STATUS_OK :
	    transport_status_for(code);
	/* Unknown paths come from the caller: one series for all. */
	metrics_add(rpcs_total, c->h != NULL ? c->h->h.method->name :
	    "unknown", transport_status_name(c->fin_status), 1);
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

	if ((r = transport_pack_bb(resp, c->w->srv->max_message, &bb)) !=
	    CAIRN_OK) {
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

	if ((r = transport_pack_bb(msg, c->w->srv->max_message, &bb)) !=
	    CAIRN_OK)
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

/*
 * Check the caller of 'm' on the member port: its certificate's identity,
 * its role, and a deadline.  False when the call was failed.
 */
static bool
authorize(struct transport_call *c, const struct proto_method_info *m)
{
	char detail[DETAIL_MAX];
	int r;

	if ((r = peer_identity(c)) != CAIRN_OK) {
		(void)transport_call_fail(c, CAIRN_ERR_UNAUTH, NULL,
		    cairn_errmsg());
		return false;
	}
	if ((m->roles & KEYS_ROLE_BIT(c->role)) == 0) {
		snprintf(detail, sizeof(detail), "%s may not be called by %s "
		    "%s", m->name, keys_role_name(c->role), c->name);
		(void)transport_call_fail(c, CAIRN_ERR_UNAUTH, NULL, detail);
		return false;
	}
	if (gpr_time_cmp(c->deadline, gpr_inf_future(c->deadline.clock_type))
	    == 0) {
		(void)transport_call_fail(c, CAIRN_ERR_ARG, NULL, "the call "
		    "has no deadline; set one");
		return false;
	}
	return true;
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
	if (w->srv->plaintext)
		/* A local probe: nobody to authenticate, no deadline
		 * required (a Watch lasts as long as the prober likes). */
		snprintf(c->name, sizeof(c->name), "probe");
	else if (!authorize(c, m))
		return;
	if ((r = transport_unpack_bb(c->payload, m->request, m->max_request,
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
		ev = grpc_completion_queue_next(w->cq,
		    transport_deadline_in(100), NULL);
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

/*
 * The gRPC server with cairn's channel arguments: the memory quota, the
 * message limits, keepalive, streams per connection, the handshake's
 * deadline, no compression.
 */
static grpc_server *
server_create(const struct transport_server *s)
{
	grpc_server *server;
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

	server = grpc_server_create(&ca, NULL);
	grpc_resource_quota_unref(quota);
	return server;
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

	if ((cfg->tls == NULL && !cfg->plaintext_loopback) ||
	    cfg->listen == NULL || n == 0)
		return cairn_err(CAIRN_ERR_ARG, "server needs TLS keys, an "
		    "address and handlers");
	if (cfg->plaintext_loopback && strncmp(cfg->listen, "127.", 4) != 0 &&
	    strncmp(cfg->listen, "[::1]:", 6) != 0)
		return cairn_err(CAIRN_ERR_CONFIG, "a plaintext listener must be "
		    "on the loopback (127.0.0.1:PORT), not '%s'", cfg->listen);
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return CAIRN_ERR_NOMEM;
	s->nworkers = cfg->workers ? cfg->workers : TRANSPORT_DEFAULT_WORKERS;
	s->plaintext = cfg->plaintext_loopback;
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
	rpcs_total = metrics_register("cairn_grpc_server_handled_total",
	    METRICS_COUNTER, "RPCs the gRPC server finished, by method and "
	    "status code.", "method", "code", NULL, 0);
	for (size_t i = 0; i < n; i++)
		metrics_touch(rpcs_total, h[i].method->name, "OK");
	grpc_init();
	s->server = server_create(s);
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
	creds = s->plaintext ? grpc_insecure_server_credentials_create() :
	    server_creds(cfg->tls);
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
	    transport_deadline_in(s->grace_ms), NULL);
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
