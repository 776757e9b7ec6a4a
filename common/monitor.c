/*
 * monitor.c - the monitoring listener of monitor.h on libmicrohttpd: one
 * internal polling thread, at most 16 connections, 10 s idle timeout.
 * Monitoring reads only; nothing here changes a daemon's state.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/monitor.h"

struct monitor {
	struct MHD_Daemon	*d;
	struct monitor_config	 cfg;
	int			 port;
};

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
    const char *log_level, const char *key1, const char *listen1, const char *key2,
    const char *listen2)
{
	enum log_format f;
	enum log_level l;
	char host[16];
	int port;

	if (log_format != NULL && !log_format_parse(log_format, &f))
		return cairn_err(CAIRN_ERR_CONFIG, "%s: key 'log_format' in "
		    "[monitoring]: '%s' is not text or json", path, log_format);
	if (log_level != NULL && !log_level_parse(log_level, &l))
		return cairn_err(CAIRN_ERR_CONFIG, "%s: key 'log_level' in "
		    "[monitoring]: '%s' is not error, warn, info or debug",
		    path, log_level);
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

static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned status, const char *ctype,
    char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *resp;
	enum MHD_Result r;

	resp = MHD_create_response_from_buffer(len, body, mode);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-store");
	r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_len, void **state)
{
	static int first;
	struct monitor *m = cls;
	static char ok[] = "ok\n", ready[] = "ready\n", nf[] = "not found\n",
	    na[] = "method not allowed\n";
	char why[256], *body;
	size_t len;

	/* The first call only announces the request's headers. */
	if (*state == NULL) {
		*state = &first;
		return MHD_YES;
	}
	if (*upload_len != 0)
		return MHD_NO;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
		    na, sizeof(na) - 1, MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/metrics") == 0) {
		if (metrics_render(&body, &len) != CAIRN_OK)
			return MHD_NO;
		return reply(conn, MHD_HTTP_OK,
		    "text/plain; version=0.0.4; charset=utf-8", body, len,
		    MHD_RESPMEM_MUST_FREE);
	}
	if (strcmp(url, "/healthz") == 0)
		return reply(conn, MHD_HTTP_OK, "text/plain", ok,
		    sizeof(ok) - 1, MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/readyz") == 0) {
		why[0] = '\0';
		if (m->cfg.ready == NULL || m->cfg.ready(m->cfg.arg, why,
		    sizeof(why)))
			return reply(conn, MHD_HTTP_OK, "text/plain", ready,
			    sizeof(ready) - 1, MHD_RESPMEM_PERSISTENT);
		len = strlen(why);
		if (len < sizeof(why) - 1)
			why[len++] = '\n';
		return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain",
		    why, len, MHD_RESPMEM_MUST_COPY);
	}
	return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain", nf,
	    sizeof(nf) - 1, MHD_RESPMEM_PERSISTENT);
}

int
monitor_start(const struct monitor_config *cfg, struct monitor **out)
{
	struct sockaddr_in sa;
	struct monitor *m;
	const union MHD_DaemonInfo *info;
	char host[16];
	int r, port;

	if ((r = monitor_parse_listen(cfg->listen, host, &port)) != CAIRN_OK)
		return r;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return CAIRN_ERR_NOMEM;
	m->cfg = *cfg;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	(void)inet_pton(AF_INET, host, &sa.sin_addr);
	m->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_POLL, 0, NULL, NULL, on_request, m,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536,
	    MHD_OPTION_END);
	if (m->d == NULL) {
		free(m);
		return cairn_err(CAIRN_ERR_NET, "[monitoring] listen '%s': "
		    "cannot listen there", cfg->listen);
	}
	info = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_BIND_PORT);
	m->port = info != NULL ? (int)info->port : port;
	log_info("monitoring on %s:%d (/metrics, /healthz, /readyz)", host,
	    m->port);
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
	free(m);
}
