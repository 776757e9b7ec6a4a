/*
 * monitor.c - the monitoring listener of monitor.h on libmicrohttpd: one
 * internal polling thread (so the callbacks below never run at the same
 * time), at most 16 connections unless configured, 10 s idle timeout.
 * Monitoring reads only; nothing here changes a daemon's state.  With a
 * route() the same listener serves a daemon's other read-only HTTP (the
 * coordinator's public log), with TLS and per-address limits.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/monitor.h"

/* Per-address token buckets of the request rate (open addressing). */
#define RATE_SLOTS	4096
#define RATE_PROBE	8

struct rate_slot {
	uint32_t	addr;		/* IPv4, network order; 0: free */
	double		tokens;
	double		at;		/* seconds, monotonic */
};

struct monitor {
	struct MHD_Daemon	*d;
	struct monitor_config	 cfg;
	int			 port;
	struct rate_slot	*rate;	/* NULL: no rate limit */
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Take one request from the bucket of 'conn''s address: false when it is
 * empty.  A bucket holds up to one second's worth; a full table evicts
 * the oldest of the probed slots, so the table cannot grow.
 */
static bool
rate_take(struct monitor *m, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr_in *sa;
	struct rate_slot *s, *old = NULL;
	double t = now_s(), cap = (double)m->cfg.rate_per_ip;
	uint32_t a, h;

	if (m->rate == NULL)
		return true;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || ci->client_addr == NULL ||
	    ci->client_addr->sa_family != AF_INET)
		return true;
	sa = (const struct sockaddr_in *)(const void *)ci->client_addr;
	a = sa->sin_addr.s_addr == 0 ? 1 : sa->sin_addr.s_addr;
	h = (uint32_t)(a * 2654435761u) % RATE_SLOTS;
	for (unsigned i = 0; i < RATE_PROBE; i++) {
		s = &m->rate[(h + i) % RATE_SLOTS];
		if (s->addr == a)
			goto found;
		if (old == NULL || s->addr == 0 || s->at < old->at)
			old = s;
	}
	s = old;
	s->addr = a;
	s->tokens = cap;
	s->at = t;
found:
	s->tokens += (t - s->at) * cap;
	if (s->tokens > cap)
		s->tokens = cap;
	s->at = t;
	if (s->tokens < 1.0)
		return false;
	s->tokens -= 1.0;
	return true;
}

int
monitor_parse_listen(const char *listen, char host[static 16], int *port)
{
	const char *colon = strrchr(listen, ':');
	const char *ps = colon == NULL ? listen : colon + 1;
	struct in_addr a;
	char h[16];
	char *end;
	long p;

	if (colon == NULL)
		snprintf(h, sizeof(h), "127.0.0.1");
	else if ((size_t)(colon - listen) >= sizeof(h))
		goto bad;
	else {
		memcpy(h, listen, (size_t)(colon - listen));
		h[colon - listen] = '\0';
	}
	if (inet_pton(AF_INET, h, &a) != 1 || *ps == '\0')
		goto bad;
	p = strtol(ps, &end, 10);
	if (*end != '\0' || p < 0 || p > 65535)
		goto bad;
	memcpy(host, h, sizeof(h));
	*port = (int)p;
	return CAIRN_OK;
bad:
	return cairn_err(CAIRN_ERR_CONFIG, "[monitoring] listen '%s': not "
	    "IPV4:PORT or PORT", listen);
}

int
monitor_check_config(const char *path, const char *log_format,
    const char *key1, const char *listen1, const char *key2,
    const char *listen2)
{
	enum log_format f;
	char host[16];
	int port;

	if (log_format != NULL && !log_format_parse(log_format, &f))
		return cairn_err(CAIRN_ERR_CONFIG, "%s: key 'log_format' in "
		    "[monitoring]: '%s' is not text or json", path, log_format);
	if (listen1 != NULL && monitor_parse_listen(listen1, host, &port) !=
	    CAIRN_OK)
		return cairn_err(CAIRN_ERR_CONFIG, "%s: key '%s' in "
		    "[monitoring]: '%s' is not IPV4:PORT or PORT", path, key1,
		    listen1);
	if (listen2 != NULL && monitor_parse_listen(listen2, host, &port) !=
	    CAIRN_OK)
		return cairn_err(CAIRN_ERR_CONFIG, "%s: key '%s' in "
		    "[monitoring]: '%s' is not IPV4:PORT or PORT", path, key2,
		    listen2);
	return CAIRN_OK;
}

/* Queue 'resp' with the headers every answer carries. */
static enum MHD_Result
send_resp(struct monitor *m, struct MHD_Connection *conn, unsigned status,
    struct MHD_Response *resp, const char *ctype, const char *cache)
{
	enum MHD_Result r;

	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	    cache != NULL ? cache : "no-store");
	if (m->cfg.route != NULL)
		MHD_add_response_header(resp, "X-Content-Type-Options",
		    "nosniff");
	if (m->cfg.cors)
		MHD_add_response_header(resp,
		    MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, "*");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
		    "GET, HEAD");
	if (status == MHD_HTTP_TOO_MANY_REQUESTS)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result
reply(struct monitor *m, struct MHD_Connection *conn, unsigned status,
    const char *ctype, char *body, size_t len,
    enum MHD_ResponseMemoryMode mode)
{
	return send_resp(m, conn, status, MHD_create_response_from_buffer(len,
	    body, mode), ctype, NULL);
}

/* Answer from m->cfg.route(). */
static enum MHD_Result
routed(struct monitor *m, struct MHD_Connection *conn, const char *url)
{
	struct monitor_reply rp;
	struct MHD_Response *resp;

	memset(&rp, 0, sizeof(rp));
	rp.fd = -1;
	m->cfg.route(m->cfg.arg, url, &rp);
	if (rp.fd >= 0) {
		/* libmicrohttpd closes the descriptor with the response. */
		resp = MHD_create_response_from_fd((uint64_t)rp.len, rp.fd);
		if (resp == NULL)
			close(rp.fd);
	} else
		resp = MHD_create_response_from_buffer(rp.len,
		    (void *)(uintptr_t)rp.body, MHD_RESPMEM_PERSISTENT);
	return send_resp(m, conn, rp.status, resp, rp.ctype, rp.cache);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_len, void **state)
{
	static int first;
	struct monitor *m = cls;
	static char ok[] = "ok\n", ready[] = "ready\n", nf[] = "not found\n",
	    na[] = "method not allowed\n", tm[] = "too many requests\n";
	char why[256], *body;
	size_t len;

	/* The first call only announces the request's headers. */
	if (*state == NULL) {
		*state = &first;
		return MHD_YES;
	}
	if (*upload_len != 0)
		return MHD_NO;
	if (!rate_take(m, conn))
		return reply(m, conn, MHD_HTTP_TOO_MANY_REQUESTS, "text/plain",
		    tm, sizeof(tm) - 1, MHD_RESPMEM_PERSISTENT);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(m, conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
		    na, sizeof(na) - 1, MHD_RESPMEM_PERSISTENT);
	if (m->cfg.route != NULL)
		return routed(m, conn, url);
	if (strcmp(url, "/metrics") == 0) {
		if (metrics_render(&body, &len) != CAIRN_OK)
			return MHD_NO;
		return reply(m, conn, MHD_HTTP_OK,
		    "text/plain; version=0.0.4; charset=utf-8", body, len,
		    MHD_RESPMEM_MUST_FREE);
	}
	if (strcmp(url, "/healthz") == 0)
		return reply(m, conn, MHD_HTTP_OK, "text/plain", ok,
		    sizeof(ok) - 1, MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/readyz") == 0) {
		why[0] = '\0';
		if (m->cfg.ready == NULL || m->cfg.ready(m->cfg.arg, why,
		    sizeof(why)))
			return reply(m, conn, MHD_HTTP_OK, "text/plain", ready,
			    sizeof(ready) - 1, MHD_RESPMEM_PERSISTENT);
		len = strlen(why);
		if (len < sizeof(why) - 1)
			why[len++] = '\n';
		return reply(m, conn, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain",
		    why, len, MHD_RESPMEM_MUST_COPY);
	}
	return reply(m, conn, MHD_HTTP_NOT_FOUND, "text/plain", nf,
	    sizeof(nf) - 1, MHD_RESPMEM_PERSISTENT);
}

int
monitor_start(const struct monitor_config *cfg, struct monitor **out)
{
	struct sockaddr_in sa;
	struct monitor *m;
	const union MHD_DaemonInfo *info;
	const char *what = cfg->what != NULL ? cfg->what : "[monitoring]";
	struct MHD_OptionItem opts[4];
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
	size_t no = 0;
	char host[16];
	int r, port;

	if ((r = monitor_parse_listen(cfg->listen, host, &port)) != CAIRN_OK)
		return r;
	if ((cfg->tls_cert_pem == NULL) != (cfg->tls_key_pem == NULL))
		return cairn_err(CAIRN_ERR_CONFIG, "%s: a TLS certificate "
		    "needs its key", what);
	if (cfg->tls_cert_pem != NULL) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
			return cairn_err(CAIRN_ERR_UNSUPPORTED, "%s: this "
			    "libmicrohttpd has no TLS", what);
		flags |= MHD_USE_TLS;
		opts[no++] = (struct MHD_OptionItem){
		    MHD_OPTION_HTTPS_MEM_CERT, 0,
		    (void *)(uintptr_t)cfg->tls_cert_pem };
		opts[no++] = (struct MHD_OptionItem){
		    MHD_OPTION_HTTPS_MEM_KEY, 0,
		    (void *)(uintptr_t)cfg->tls_key_pem };
	}
	if (cfg->max_per_ip > 0)
		opts[no++] = (struct MHD_OptionItem){
		    MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		    (intptr_t)cfg->max_per_ip, NULL };
	opts[no] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return CAIRN_ERR_NOMEM;
	m->cfg = *cfg;
	if (cfg->rate_per_ip > 0 &&
	    (m->rate = calloc(RATE_SLOTS, sizeof(*m->rate))) == NULL) {
		free(m);
		return CAIRN_ERR_NOMEM;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	(void)inet_pton(AF_INET, host, &sa.sin_addr);
	m->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, m,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	    MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections > 0 ?
	    cfg->max_connections : (unsigned)16,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536,
	    MHD_OPTION_ARRAY, opts,
	    MHD_OPTION_END);
	if (m->d == NULL) {
		free(m->rate);
		free(m);
		return cairn_err(CAIRN_ERR_NET, "%s listen '%s': cannot listen "
		    "there%s", what, cfg->listen, cfg->tls_cert_pem != NULL ?
		    " (or the TLS certificate or key is refused)" : "");
	}
	info = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_BIND_PORT);
	m->port = info != NULL ? (int)info->port : port;
	if (cfg->route != NULL)
		log_info("%s on %s://%s:%d", what, cfg->tls_cert_pem != NULL ?
		    "https" : "http", host, m->port);
	else
		log_info("monitoring on %s:%d (/metrics, /healthz, /readyz)",
		    host, m->port);
	*out = m;
	return CAIRN_OK;
}

int
monitor_port(const struct monitor *m)
{
	return m->port;
}

void
monitor_stop(struct monitor *m)
{
	if (m == NULL)
		return;
	MHD_stop_daemon(m->d);
	free(m->rate);
	free(m);
}
