/*
 * monitor.h - a daemon's optional monitoring listener: plain HTTP on a
 * loopback address by default, serving
 *   GET /metrics  the registry of common/metrics.h (text format 0.0.4)
 *   GET /healthz  200 "ok" while the process serves requests (liveness)
 *   GET /readyz   200 "ready", or 503 and the reason, from a callback
 * and 404 for anything else (docs/operations.md).  Off unless the
 * daemon's config sets [monitoring] listen.  It runs its own thread
 * (libmicrohttpd) with a small connection limit and timeout, and reads
 * no request body.
 *
 * The same listener serves other read-only HTTP: with a route() in its
 * config it answers every GET and HEAD from that callback instead (the
 * coordinator's public log, docs/public.md), optionally over TLS, with
 * connection limits in all and per client address, a per-address request
 * rate (429 beyond it) and Access-Control-Allow-Origin.  Every other
 * method gets 405 with "Allow: GET, HEAD".
 */
#ifndef CAIRN_MONITOR_H
#define CAIRN_MONITOR_H

#include <stdbool.h>
#include <stddef.h>

struct monitor;

/* What a route() answers: a status and a body, from memory or a file. */
struct monitor_reply {
	unsigned	 status;	/* 200, 404, ... */
	const char	*ctype;		/* Content-Type (static string) */
	const char	*cache;		/* Cache-Control (static string) */
	int		 fd;		/* >= 0: the body is this file's first
					   'len' bytes; the listener closes it */
	const char	*body;		/* fd < 0: static body of 'len' */
	size_t		 len;
};

struct monitor_config {
	/* "HOST:PORT" with HOST an IPv4 address, or "PORT" alone for
	 * 127.0.0.1; port 0 picks a free one (see monitor_port). */
	const char	*listen;
	/* Readiness: true when ready, else false with a one-line reason
	 * in 'why' ('n' bytes).  NULL: always ready.  Called from the
	 * listener's thread. */
	bool		(*ready)(void *arg, char *why, size_t n);
	void		*arg;
	/* The config section named in messages; NULL: "[monitoring]". */
	const char	*what;
	/* Not NULL: answer every GET/HEAD of 'url' (decoded, hostile)
	 * with this instead of the monitoring paths; *out is preset to
	 * fd -1.  Called from the listener's thread only. */
	void		(*route)(void *arg, const char *url,
			    struct monitor_reply *out);
	/* TLS: PEM text of the certificate chain and its key (borrowed
	 * until monitor_stop); NULL: plain HTTP. */
	const char	*tls_cert_pem;
	const char	*tls_key_pem;
	unsigned	 max_connections;	/* 0: 16 */
	unsigned	 max_per_ip;		/* 0: no limit per address */
	unsigned	 rate_per_ip;		/* requests/s per address; 0:
						   none */
	bool		 cors;	/* Access-Control-Allow-Origin: * */
};

/*
 * Parse 'listen' (as in struct monitor_config) into a dotted address
 * 'host' (16 bytes) and '*port'.  Returns CAIRN_OK or CAIRN_ERR_CONFIG
 * naming the value.
 */
int	monitor_parse_listen(const char *listen, char host[static 16],
	    int *port) __attribute__((warn_unused_result));

/*
 * Check a config's [monitoring] keys read from 'path': 'log_format'
 * ("text" or "json") and each non-NULL listen address of the keys named
 * 'key1' ('listen1') and 'key2' ('listen2').  Returns CAIRN_OK or
 * CAIRN_ERR_CONFIG naming the file, the key and the value.
 */
int	monitor_check_config(const char *path, const char *log_format,
	    const char *key1, const char *listen1, const char *key2,
	    const char *listen2) __attribute__((warn_unused_result));

/*
 * Start listening.  Returns CAIRN_OK and *out (free with monitor_stop),
 * CAIRN_ERR_CONFIG for a bad address, or CAIRN_ERR_NET when the address
 * cannot be bound (named in the detail).
 */
int	monitor_start(const struct monitor_config *cfg, struct monitor **out)
	    __attribute__((warn_unused_result));

/* The bound port. */
int	monitor_port(const struct monitor *m);

/* Stop the listener and free it; NULL is ignored. */
void	monitor_stop(struct monitor *m);

#endif
