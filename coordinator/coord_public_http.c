/*
 * coord_public_http.c - the coordinator's optional read-only HTTP(S)
 * listener over the public directory (docs/public.md): common/monitor.c's
 * libmicrohttpd listener with a route that maps a fixed set of paths to
 * files of the directory.  The mapping (coord_public_route()) is a pure
 * function of the request path, fuzzed by tests/fuzz/fuzz_public_path.c.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/monitor.h"
#include "coordinator/coord_int.h"
#include "keys/keys_tls.h"
#include "protocol/tlog_tiles.h"

#define CACHE_IMMUTABLE	"public, max-age=31536000, immutable"
#define CACHE_PARTIAL	"public, max-age=300"
#define CACHE_JSON	"public, max-age=3600"
#define CACHE_PORTAL	"no-cache"

/* The portal's files: extension and Content-Type. */
static const struct {
	const char	*ext;
	const char	*ctype;
} portal_types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".mjs", "text/javascript; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".json", "application/json" },
	{ ".geojson", "application/geo+json" },
	{ ".csv", "text/csv; charset=utf-8" },
	{ ".txt", "text/plain; charset=utf-8" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
	{ ".ico", "image/x-icon" },
	{ ".woff2", "font/woff2" },
};

/* A path segment of the portal: [A-Za-z0-9_-][A-Za-z0-9._-]*. */
static bool
segment_ok(const char *s, size_t n)
{
	if (n == 0 || n > 128 || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		    c == '.'))
			return false;
	}
	return true;
}

int
coord_public_route(const char *url, char *rel, size_t cap,
    struct coord_public_kind *kind)
{
	struct tlog_tile t;
	const char *p, *dot, *seg;
	size_t n, nseg = 0;

	if (url[0] != '/')
		return CAIRN_ERR_NOTFOUND;
	p = url + 1;
	if (*p == '\0')
		p = "index.html";
	n = strlen(p);
	if (n >= cap || n > 1024)
		return CAIRN_ERR_NOTFOUND;
	if (strcmp(p, "checkpoint") == 0) {
		kind->ctype = "text/plain; charset=utf-8";
		kind->cache = "no-store";
		goto found;
	}
	if (strncmp(p, "tile/", 5) == 0) {
		if (tlog_tile_path_parse(p, &t) != CAIRN_OK)
			return CAIRN_ERR_NOTFOUND;
		kind->ctype = "application/octet-stream";
		kind->cache = t.width == TLOG_TILE_WIDTH ? CACHE_IMMUTABLE :
		    CACHE_PARTIAL;
		goto found;
	}
	if (strncmp(p, "json/", 5) == 0) {
		const char *d = p + 5;
		size_t k = 0;

		while (d[k] >= '0' && d[k] <= '9')
			k++;
		if (k == 0 || k > 20 || (d[0] == '0' && k > 1) ||
		    strcmp(d + k, ".json") != 0)
			return CAIRN_ERR_NOTFOUND;
		kind->ctype = "application/json";
		kind->cache = CACHE_JSON;
		goto found;
	}
	/* The portal: segments of safe characters, a known extension. */
	for (seg = p; ; seg = dot + 1) {
		dot = strchr(seg, '/');
		if (dot == NULL) {
			if (!segment_ok(seg, strlen(seg)))
				return CAIRN_ERR_NOTFOUND;
			break;
		}
		if (!segment_ok(seg, (size_t)(dot - seg)) || ++nseg > 8)
			return CAIRN_ERR_NOTFOUND;
	}
	if ((dot = strrchr(seg, '.')) == NULL)
		return CAIRN_ERR_NOTFOUND;
	for (size_t i = 0; i < sizeof(portal_types) / sizeof(portal_types[0]);
	    i++)
		if (strcmp(dot, portal_types[i].ext) == 0) {
			kind->ctype = portal_types[i].ctype;
			kind->cache = CACHE_PORTAL;
			goto found;
		}
	return CAIRN_ERR_NOTFOUND;
found:
	memcpy(rel, p, n + 1);
	return CAIRN_OK;
}

struct public_http {
	int		 dirfd;
	struct keys_tls	*tls;
};

static const char not_found[] = "not found\n";

static void
route(void *arg, const char *url, struct monitor_reply *out)
{
	struct public_http *ph = arg;
	struct coord_public_kind k;
	char rel[1100];
	struct stat sb;
	int fd;

	out->status = 404;
	out->ctype = "text/plain; charset=utf-8";
	out->cache = "no-store";
	out->body = not_found;
	out->len = sizeof(not_found) - 1;
	if (coord_public_route(url, rel, sizeof(rel), &k) != CAIRN_OK)
		return;
	/* No symbolic link at the end, no directory: a file or 404. */
	if ((fd = openat(ph->dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC))
	    < 0)
		return;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return;
	}
	out->status = 200;
	out->ctype = k.ctype;
	out->cache = k.cache;
	out->fd = fd;
	out->len = (size_t)sb.st_size;
}

int
coord_public_listen(const struct coord_config *cfg, struct monitor **out,
    struct public_http **phout)
{
	struct monitor_config mc;
	struct public_http *ph;
	int r;

	if ((ph = calloc(1, sizeof(*ph))) == NULL)
		return CAIRN_ERR_NOMEM;
	if ((ph->dirfd = open(cfg->pub_dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0) {
		free(ph);
		return cairn_err(CAIRN_ERR_IO, "[public] dir %s: cannot open",
		    cfg->pub_dir);
	}
	if (cfg->pub_tls_cert != NULL && (r = keys_tls_load_web(
	    cfg->pub_tls_cert, cfg->pub_tls_key, &ph->tls)) != CAIRN_OK)
		goto fail;
	memset(&mc, 0, sizeof(mc));
	mc.listen = cfg->pub_listen;
	mc.what = "[public]";
	mc.route = route;
	mc.arg = ph;
	if (ph->tls != NULL) {
		mc.tls_cert_pem = keys_tls_cert_pem(ph->tls);
		mc.tls_key_pem = keys_tls_key_pem(ph->tls);
	}
	mc.max_connections = (unsigned)cfg->pub_max_connections;
	mc.max_per_ip = (unsigned)cfg->pub_max_per_ip;
	mc.rate_per_ip = (unsigned)cfg->pub_rate_per_ip;
	mc.cors = true;
	if ((r = monitor_start(&mc, out)) != CAIRN_OK)
		goto fail;
	*phout = ph;
	return CAIRN_OK;
fail:
	coord_public_unlisten(NULL, ph);
	return r;
}

void
coord_public_unlisten(struct monitor *m, struct public_http *ph)
{
	monitor_stop(m);
	if (ph == NULL)
		return;
	close(ph->dirfd);
	keys_tls_free(ph->tls);
	free(ph);
}
