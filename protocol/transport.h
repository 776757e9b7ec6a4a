/*
 * transport.h - gRPC over mutual TLS for cairn, without gRPC in sight.
 *
 * This module is the only place in cairn that includes gRPC headers.  A
 * server serves the methods of protocol/proto_service.h: each accepted call
 * is authorized by the role in the peer certificate's URI SAN
 * ("cairn://ROLE/NAME"; PERMISSION_DENIED otherwise), its request is
 * size-checked and unpacked, and the registered handler receives a struct
 * transport_call it owns until it replies.  A handler may reply at once or
 * later from any thread (long-poll): the call stays open until then.  A
 * call of a method no handler serves gets UNIMPLEMENTED at once ("unknown
 * method '/grpc.health.v1.Health/Check'", the path cut to 64 bytes).
 * Clients dial with the federation CA and their own certificate, put a
 * deadline on every call and retry UNAVAILABLE with exponential backoff and
 * jitter.  gRPC status codes and cairn error codes are translated here in
 * both directions; the server's one-line detail reaches the caller.
 * Compression is off on servers and clients alike: a compressed message
 * (a gzip bomb) is refused before it is inflated.
 */
#ifndef CAIRN_TRANSPORT_H
#define CAIRN_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "keys/keys.h"
#include "keys/keys_tls.h"
#include "protocol/proto_service.h"

#define TRANSPORT_DEFAULT_WORKERS	2
#define TRANSPORT_DEFAULT_GRACE_MS	5000
#define TRANSPORT_DEFAULT_TIMEOUT_MS	10000
/* Bytes a streaming call may queue before transport_call_send() waits
 * (default of transport_server_config.stream_queue_max). */
#define TRANSPORT_STREAM_QUEUE_MAX	(64u * 1024 * 1024)
/* Bytes all of a server's connections may buffer (gRPC resource quota):
 * gRPC reads a whole message before checking it against max_message. */
#define TRANSPORT_MEMORY_MAX		(128u * 1024 * 1024)
/* Milliseconds a server gives a new connection to finish its handshake. */
#define TRANSPORT_HANDSHAKE_MS		10000

struct transport_server;
struct transport_client;
struct transport_call;

/* ----------------------------------------------------------------- server */

/*
 * A handler: 'req' (the unpacked request, owned by the call) is valid until
 * the call is finished.  The handler must finish the call exactly once,
 * now or later and from any thread, with transport_call_reply() (unary),
 * transport_call_finish() (streaming) or transport_call_fail().
 */
typedef void (*transport_handler_fn)(struct transport_call *call,
    const ProtobufCMessage *req, void *arg);

/*
 * Optional: told (on a transport thread) that the peer went away, the
 * deadline passed or the server is stopping while the handler still owns
 * 'call'.  It must not block; the owner should then finish the call soon.
 */
typedef void (*transport_cancel_fn)(struct transport_call *call, void *arg);

struct transport_handler {
	const struct proto_method_info	*method;
	transport_handler_fn		 fn;
	transport_cancel_fn		 cancel;	/* may be NULL */
	void				*arg;
};

struct transport_server_config {
	const char		*listen;	/* "127.0.0.1:0": any port */
	const struct keys_tls	*tls;		/* borrowed during start */
	unsigned		 workers;	/* 0: the default, 2 */
	size_t			 max_message;	/* 0: PROTO_MAX_MESSAGE */
	unsigned		 grace_ms;	/* 0: the default, 5 s */
	size_t			 stream_queue_max; /* 0: 64 MiB */
	/*
	 * A plaintext server for local probes (the health listener): no
	 * TLS ('tls' unused), no caller identity or role check, no
	 * deadline required, and 'listen' must be a loopback address
	 * ("127.x.y.z:PORT" or "[::1]:PORT"), else CAIRN_ERR_CONFIG.
	 */
	bool			 plaintext_loopback;
};

/*
 * Bind, register the 'n' handlers and start serving.  A second server on a
 * port already bound fails (SO_REUSEPORT is off) with CAIRN_ERR_NET.
 * *out set on success.
 */
int	transport_server_start(const struct transport_server_config *cfg,
	    const struct transport_handler *h, size_t n,
	    struct transport_server **out) __attribute__((warn_unused_result));

/* The TCP port the server listens on. */
int	transport_server_port(const struct transport_server *srv);

/*
 * Stop accepting, give calls in flight the grace period, then cancel the
 * rest, wait for every handler to finish its calls, and free everything.
 * NULL accepted.
 */
void	transport_server_stop(struct transport_server *srv);

/* Role and name of the authenticated caller (borrowed). */
enum keys_role	 transport_call_role(const struct transport_call *call);
const char	*transport_call_peer(const struct transport_call *call);
/*
 * SHA-256 fingerprint of the caller's certificate (hex, as listed in
 * federation.conf), so a server can refuse members no longer enrolled.
 * Returns CAIRN_OK or CAIRN_ERR_UNAUTH when gRPC gives no certificate.
 */
int		 transport_call_peer_cert_fpr(
		    const struct transport_call *call,
		    char fpr[static KEYS_FPR_LEN])
		    __attribute__((warn_unused_result));
/* The method being called. */
const struct proto_method_info *transport_call_method(
	    const struct transport_call *call);
/* Milliseconds left before the call's deadline (0 when past). */
int64_t		 transport_call_remaining_ms(
		    const struct transport_call *call);
/* True once the peer cancelled, the deadline passed or the server stops. */
bool		 transport_call_is_cancelled(
		    const struct transport_call *call);

/*
 * Reply to a unary call with 'resp' (packed now; the caller keeps it) and
 * status OK.  Finishes the call: 'call' and 'req' are gone afterwards.
 * Returns CAIRN_OK, or an error when the reply could not be sent (the call
 * is finished either way).
 */
int	transport_call_reply(struct transport_call *call,
	    const ProtobufCMessage *resp);

/*
 * Fail the call with the gRPC status that corresponds to the cairn error
 * 'code' (docs/protocol.md), a one-line 'detail' and, in the trailing
 * metadata "cairn-error-bin", an ErrorDetail naming 'field' (may be NULL).
 * Finishes the call.
 */
int	transport_call_fail(struct transport_call *call, int code,
	    const char *field, const char *detail);

/*
 * Send one message of a server-streaming call.  Messages are queued and
 * written in order; when stream_queue_max bytes are queued the
 * call waits for the queue to drain (on a transport thread, where waiting
 * would deadlock, it returns CAIRN_ERR_TOOBIG instead).  Returns
 * CAIRN_ERR_CANCELLED once the call is cancelled.
 */
int	transport_call_send(struct transport_call *call,
	    const ProtobufCMessage *msg);

/*
 * End a server-streaming call with status OK after the queued messages
 * (code == CAIRN_OK) or with the error 'code' and 'detail'.  Finishes the
 * call.
 */
int	transport_call_finish(struct transport_call *call, int code,
	    const char *detail);

/* ----------------------------------------------------------------- client */

struct transport_client_config {
	const char		*target;	/* "host:port" */
	const struct keys_tls	*tls;		/* borrowed during new */
	size_t			 max_message;	/* 0: PROTO_MAX_MESSAGE */
	unsigned		 retries;	/* extra tries on UNAVAILABLE */
	unsigned		 backoff_ms;	/* first backoff; 0: 100 */
	unsigned		 backoff_max_ms;	/* 0: 5000; also caps
						 * gRPC's reconnect
						 * backoff */
	const char		*server_name;	/* TLS name override */
	const char		*ca_pem;	/* trust this CA, not tls's */
	bool			 no_client_cert;	/* (tests) send none */
	/*
	 * The server certificate's pin: its SHA-256 fingerprint (of the
	 * DER, 64 hex digits, as federation.conf lists the coordinator),
	 * or NULL to accept any certificate the CA issued for the name.
	 * A handshake with another certificate fails, and so does every
	 * call (CAIRN_ERR_UNAUTH naming both fingerprints, no retry).
	 */
	const char		*pin_sha256;
};

/*
 * A channel to 'cfg->target' (connects lazily).  Up to six threads may
 * call through one client at a time (gRPC's limit on threads waiting on
 * one queue).  *out set on success.
 */
int	transport_client_new(const struct transport_client_config *cfg,
	    struct transport_client **out) __attribute__((warn_unused_result));

/* Free; NULL accepted.  No call may be running. */
void	transport_client_free(struct transport_client *c);

/*
 * CAIRN_ERR_UNAUTH with the detail "server certificate sha256 X is not the
 * pinned Y" when the last handshake met a certificate other than the pin,
 * else CAIRN_OK.
 */
int	transport_client_pin_status(struct transport_client *c);

/* Whether the channel is connected now (does not start a connection). */
bool	transport_client_is_ready(struct transport_client *c);

/*
 * Wait up to 'ms' for the channel to be connected, starting a connection
 * if it is idle and driving it forward while waiting (a failed connection
 * is retried on gRPC's reconnect backoff, capped at the config's
 * backoff_max_ms).  Clients call it between their own retries: without a
 * call or a wait on the channel, gRPC advances a connection only every
 * 5 s, and a coordinator back from a restart would close the half-done
 * handshake on its handshake timeout.  Returns CAIRN_OK once connected,
 * CAIRN_ERR_TIMEOUT when 'ms' passed first, CAIRN_ERR_NET when the
 * channel is shut down.  Thread-safe like the calls.
 */
int	transport_client_wait_ready(struct transport_client *c, unsigned ms);

/*
 * Call the unary method 'm' with 'req' and a deadline of 'timeout_ms'
 * (0: TRANSPORT_DEFAULT_TIMEOUT_MS) covering every retry.  On success *resp
 * is the unpacked reply (free with protobuf_c_message_free_unpacked).
 * Errors: the cairn code the server sent (or the one its status maps to),
 * CAIRN_ERR_NET when unreachable after the retries, CAIRN_ERR_TIMEOUT when
 * the deadline passed; the detail reads "METHOD: STATUS: server detail".
 */
int	transport_unary(struct transport_client *c,
	    const struct proto_method_info *m, const ProtobufCMessage *req,
	    unsigned timeout_ms, ProtobufCMessage **resp)
	    __attribute__((warn_unused_result));

/*
 * Call the server-streaming method 'm'; 'on_msg' is called with each
 * message in order (borrowed for the duration of the callback); a non-zero
 * return from it cancels the call and is returned.  Retries UNAVAILABLE
 * only before the first message.
 */
int	transport_stream(struct transport_client *c,
	    const struct proto_method_info *m, const ProtobufCMessage *req,
	    unsigned timeout_ms,
	    int (*on_msg)(const ProtobufCMessage *msg, void *arg), void *arg)
	    __attribute__((warn_unused_result));

/*
 * Send 'len' raw bytes as the request of 'm' (no packing): for tests that
 * must put malformed or oversized messages on the wire.  *resp as above.
 */
int	transport_unary_raw(struct transport_client *c,
	    const struct proto_method_info *m, const uint8_t *buf, size_t len,
	    unsigned timeout_ms, ProtobufCMessage **resp)
	    __attribute__((warn_unused_result));

/*
 * Ask glibc to keep multi-megabyte blocks on the heap (mmap threshold
 * 32 MiB, trim threshold 256 MiB) instead of mapping fresh pages for every
 * large message: on virtual machines where page faults are costly this
 * doubles vector throughput.  Process-wide, so daemons call it once at
 * start; returns CAIRN_OK or CAIRN_ERR_INTERNAL when glibc refuses.
 */
int	transport_tune_memory(void);

/* Name of the gRPC status a cairn error maps to ("PERMISSION_DENIED"). */
const char	*transport_status_name_for(int code);

#endif
