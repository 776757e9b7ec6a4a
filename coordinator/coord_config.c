/*
 * coord_config.c - coordinator.conf: schema, defaults and the geographies
 * (docs/config.md, section "coordinator.conf").  Each key's default is in
 * its line of the schema.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "common/err.h"
#include "common/monitor.h"
#include "common/rho.h"
#include "coordinator/coord_int.h"

#define C(f)	offsetof(struct coord_config, f)
#define STR_(x)	#x
#define STR(x)	STR_(x)		/* a limit of coord_int.h as a default */

static const struct config_key schema[] = {
	{ "coordinator", "identity_key", CONFIG_STRING, C(identity_key), true,
	    0, 0, 0, 0, NULL },
	{ "coordinator", "tls_key", CONFIG_STRING, C(tls_key), true, 0, 0, 0, 0,
	    NULL },
	{ "coordinator", "tls_cert", CONFIG_STRING, C(tls_cert), true, 0, 0, 0,
	    0, NULL },
	{ "coordinator", "ca_cert", CONFIG_STRING, C(ca_cert), true, 0, 0, 0, 0,
	    NULL },
	{ "coordinator", "federation", CONFIG_STRING, C(federation), true, 0, 0,
	    0, 0, NULL },
	{ "coordinator", "data_dir", CONFIG_STRING, C(data_dir), true, 0, 0, 0,
	    0, NULL },
	{ "coordinator", "listen", CONFIG_STRING, C(listen), false, 0, 0, 0, 0,
	    "127.0.0.1:7443" },
	{ "coordinator", "port_file", CONFIG_STRING, C(port_file), false, 0, 0,
	    0, 0, NULL },
	{ "coordinator", "workers", CONFIG_INT, C(workers), false, 1, 64, 0, 0,
	    "2" },
	{ "deadlines", "advertise_seconds", CONFIG_INT, C(advertise_seconds),
	    false, 1, 86400, 0, 0, "60" },
	{ "deadlines", "share_seconds", CONFIG_INT, C(share_seconds), false, 1,
	    86400, 0, 0, "120" },
	{ "deadlines", "redeliver_seconds", CONFIG_INT, C(redeliver_seconds),
	    false, 1, 86400, 0, 0, "30" },
	{ "limits", "max_rho_per_query", CONFIG_RHO, C(max_rho_per_query_nano),
	    false, 1, INT64_C(1000000000000000), 0, 0, "1" },
	{ "limits", "max_participants", CONFIG_INT, C(max_participants), false,
	    2, 1024, 0, 0, "64" },
	{ "limits", "max_attempts", CONFIG_INT, C(max_attempts), false, 1, 100,
	    0, 0, "3" },
	{ "limits", "witness_quorum", CONFIG_INT, C(witness_quorum), false, 0,
	    1024, 0, 0, "0" },
	{ "limits", "max_long_polls_per_member", CONFIG_INT,
	    C(max_long_polls_per_member), false, 1, 1024, 0, 0,
	    STR(COORD_LONG_POLLS_PER_MEMBER) },
	{ "limits", "max_long_polls", CONFIG_INT, C(max_long_polls), false, 1,
	    1000000, 0, 0, STR(COORD_LONG_POLLS) },
	{ "public", "dir", CONFIG_STRING, C(pub_dir), false, 0, 0, 0, 0,
	    NULL },
	{ "public", "listen", CONFIG_STRING, C(pub_listen), false, 0, 0, 0, 0,
	    NULL },
	{ "public", "port_file", CONFIG_STRING, C(pub_port_file), false, 0, 0,
	    0, 0, NULL },
	{ "public", "tls_cert", CONFIG_STRING, C(pub_tls_cert), false, 0, 0, 0,
	    0, NULL },
	{ "public", "tls_key", CONFIG_STRING, C(pub_tls_key), false, 0, 0, 0,
	    0, NULL },
	{ "public", "witness_quorum", CONFIG_INT, C(pub_quorum), false, 0,
	    1024, 0, 0, "0" },
	{ "public", "max_connections", CONFIG_INT, C(pub_max_connections),
	    false, 1, 100000, 0, 0, "256" },
	{ "public", "max_connections_per_ip", CONFIG_INT, C(pub_max_per_ip),
	    false, 1, 100000, 0, 0, "16" },
	{ "public", "requests_per_second_per_ip", CONFIG_INT,
	    C(pub_rate_per_ip), false, 1, 1000000, 0, 0, "50" },
	{ "monitoring", "log_format", CONFIG_STRING, C(log_format), false, 0,
	    0, 0, 0, "text" },
	{ "monitoring", "log_level", CONFIG_STRING, C(log_level), false, 0,
	    0, 0, 0, NULL },
	{ "monitoring", "listen", CONFIG_STRING, C(mon_listen), false, 0, 0, 0,
	    0, NULL },
	{ "monitoring", "port_file", CONFIG_STRING, C(mon_port_file), false, 0,
	    0, 0, 0, NULL },
	{ "monitoring", "health_listen", CONFIG_STRING, C(health_listen), false,
	    0, 0, 0, 0, NULL },
	{ "monitoring", "health_port_file", CONFIG_STRING, C(health_port_file),
	    false, 0, 0, 0, 0, NULL },
	{ "geographies", "geography", CONFIG_STRLIST, C(geography), true, 0, 0,
	    0, 0, NULL },
	{ "geographies", "outlines", CONFIG_STRLIST, C(outlines), false, 0, 0,
	    0, 0, NULL },
};
#define NSCHEMA	(sizeof(schema) / sizeof(schema[0]))

/* The line of 'path' that sets 'key' to 'value' (0 when not found). */
static unsigned
find_line(const char *path, const char *value)
{
	char buf[CONFIG_MAX_VALUE + 256];
	unsigned line = 0, found = 0;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(buf, sizeof(buf), f) != NULL) {
		line++;
		if (strstr(buf, value) != NULL) {
			found = line;
			break;
		}
	}
	fclose(f);
	return found;
}

static int
region_cmp(const void *a, const void *b)
{
	const struct coord_region *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

void
coord_regions_free(struct coord_region *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		free(v[i].name);
	free(v);
}

int
coord_regions_read(const char *path, struct coord_region **out, size_t *n)
{
	char buf[1024];
	struct coord_region *v = NULL, *nv;
	size_t nv_n = 0, cap = 0;
	unsigned line = 0;
	FILE *f;
	int r = CAIRN_OK;

	if ((f = fopen(path, "r")) == NULL)
		return cairn_err(CAIRN_ERR_IO, "%s: %s", path, strerror(errno));
	while (fgets(buf, sizeof(buf), f) != NULL) {
		char *comma, *p = buf, *name = NULL;
		int64_t id;

		line++;
		if (strchr(buf, '\n') == NULL && !feof(f)) {
			r = cairn_err(CAIRN_ERR_CONFIG, "%s:%u: line too long",
			    path, line);
			goto out;
		}
		buf[strcspn(buf, "\r\n")] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		if ((comma = strchr(p, ',')) != NULL) {
			*comma = '\0';
			name = comma + 1;
			/* The name is the second column, plain or quoted. */
			if ((comma = strchr(name, ',')) != NULL)
				*comma = '\0';
			if (name[0] == '"' && strlen(name) >= 2 &&
			    name[strlen(name) - 1] == '"') {
				name[strlen(name) - 1] = '\0';
				name++;
			}
		}
		if (!config_parse_int(p, &id) || id < 0 || id > UINT32_MAX) {
			if (nv_n == 0 && line == 1 &&
			    strcmp(p, "region_id") == 0)
				continue;	/* the header */
			r = cairn_err(CAIRN_ERR_CONFIG, "%s:%u: region id '%s' "
			    "is not an integer in [0, 2^32)", path, line, p);
			goto out;
		}
		if (nv_n == COORD_GEO_REGIONS_MAX) {
			r = cairn_err(CAIRN_ERR_CONFIG, "%s:%u: more than %d "
			    "regions", path, line, COORD_GEO_REGIONS_MAX);
			goto out;
		}
		if (nv_n == cap) {
			cap = cap ? cap * 2 : 256;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				r = CAIRN_ERR_NOMEM;
				goto out;
			}
			v = nv;
		}
		v[nv_n].id = (uint32_t)id;
		if ((v[nv_n].name = strdup(name != NULL ? name : "")) == NULL) {
			r = CAIRN_ERR_NOMEM;
			goto out;
		}
		nv_n++;
	}
	if (ferror(f)) {
		r = cairn_err(CAIRN_ERR_IO, "%s: read error", path);
		goto out;
	}
	if (nv_n == 0) {
		r = cairn_err(CAIRN_ERR_CONFIG, "%s: no regions", path);
		goto out;
	}
	qsort(v, nv_n, sizeof(*v), region_cmp);
	for (size_t i = 1; i < nv_n; i++)
		if (v[i].id == v[i - 1].id) {
			r = cairn_err(CAIRN_ERR_CONFIG, "%s: region id %u "
			    "listed twice", path, (unsigned)v[i].id);
			goto out;
		}
	*out = v;
	*n = nv_n;
	v = NULL;
out:
	coord_regions_free(v, nv_n);
	fclose(f);
	return r;
}

int
coord_regions_count(const char *path, uint64_t *n)
{
	struct coord_region *v = NULL;
	size_t k;
	int r;

	if ((r = coord_regions_read(path, &v, &k)) != CAIRN_OK)
		return r;
	coord_regions_free(v, k);
	*n = k;
	return CAIRN_OK;
}

/*
 * 'file' as a path: a relative one is taken from the folder of the config
 * file 'path'.  False when 'full' ('cap' bytes) is too short.
 */
static bool
beside(const char *path, const char *file, char *full, size_t cap)
{
	const char *slash = strrchr(path, '/');

	if (file[0] != '/' && slash != NULL)
		return snprintf(full, cap, "%.*s/%s", (int)(slash - path), path,
		    file) < (int)cap;
	return snprintf(full, cap, "%s", file) < (int)cap;
}

/* Parse one "NAME REGIONS_CSV" value into cfg->geos. */
static int
parse_geo(struct coord_config *cfg, const char *path, const char *value)
{
	char name[KEYS_NAME_MAX + 2], file[PATH_MAX], full[PATH_MAX];
	const char *sp;
	unsigned line = find_line(path, value);
	size_t nlen;
	int r;

	sp = strpbrk(value, " \t");
	nlen = sp ? (size_t)(sp - value) : strlen(value);
	if (sp == NULL || nlen == 0 || nlen > KEYS_NAME_MAX)
		return cairn_err(CAIRN_ERR_CONFIG, "%s:%u: key 'geography' in "
		    "[geographies]: '%s' is not 'NAME REGIONS_CSV'", path, line,
		    value);
	memcpy(name, value, nlen);
	name[nlen] = '\0';
	while (*sp == ' ' || *sp == '\t')
		sp++;
	if (!keys_name_is_valid(name) || *sp == '\0' ||
	    strlen(sp) >= sizeof(file))
		return cairn_err(CAIRN_ERR_CONFIG, "%s:%u: key 'geography' in "
		    "[geographies]: '%s' is not 'NAME REGIONS_CSV' with NAME "
		    "of [a-z0-9._-]", path, line, value);
	snprintf(file, sizeof(file), "%s", sp);
	if (coord_config_geo(cfg, name) != NULL)
		return cairn_err(CAIRN_ERR_CONFIG, "%s:%u: key 'geography' in "
		    "[geographies]: geography '%s' given twice", path, line,
		    name);
	if (cfg->ngeos == COORD_GEO_MAX)
		return cairn_err(CAIRN_ERR_CONFIG, "%s:%u: more than %d "
		    "geographies", path, line, COORD_GEO_MAX);
	/* A relative region file is next to the config file. */
	if (!beside(path, file, full, sizeof(full)))
		return cairn_err(CAIRN_ERR_CONFIG, "%s:%u: path too long",
		    path, line);
	if ((r = coord_regions_count(full, &cfg->geos[cfg->ngeos].nregions))
	    != CAIRN_OK) {
		char d[512];

		snprintf(d, sizeof(d), "%s", cairn_errdesc(r));
		return cairn_err(CAIRN_ERR_CONFIG, "%s:%u: geography '%s': %s",
		    path, line, name, d);
	}
	if ((r = keys_file_sha256(full, cfg->geos[cfg->ngeos].sha256)) !=
	    CAIRN_OK) {
		char d[512];

		snprintf(d, sizeof(d), "%s", cairn_errdesc(r));
		return cairn_err(CAIRN_ERR_CONFIG, "%s:%u: geography '%s': %s",
		    path, line, name, d);
	}
	snprintf(cfg->geos[cfg->ngeos].path, sizeof(cfg->geos[0].path), "%s",
	    full);
	memcpy(cfg->geos[cfg->ngeos].name, name, nlen + 1);
	cfg->ngeos++;
	return CAIRN_OK;
}

/*
 * Parse one "NAME OUTLINES_GEOJSON" value of [geographies] outlines: a
 * geography already named, and a file that parses as a GeoJSON
 * FeatureCollection (the drawing of its regions, copied into the public
 * directory for the portal; not pinned, see docs/portal.md).
 */
static int
parse_outlines(struct coord_config *cfg, const char *path, const char *value)
{
	char name[KEYS_NAME_MAX + 2], full[PATH_MAX];
	const char *sp;
	unsigned line = find_line(path, value);
	struct coord_geo *g = NULL;
	json_error_t jerr;
	json_t *o;
	size_t nlen;

	sp = strpbrk(value, " \t");
	nlen = sp ? (size_t)(sp - value) : strlen(value);
	if (sp != NULL && nlen <= KEYS_NAME_MAX) {
		memcpy(name, value, nlen);
		name[nlen] = '\0';
		g = (struct coord_geo *)coord_config_geo(cfg, name);
		while (*sp == ' ' || *sp == '\t')
			sp++;
	}
	if (sp == NULL || *sp == '\0')
		return cairn_err(CAIRN_ERR_CONFIG, "%s:%u: key 'outlines' in "
		    "[geographies]: '%s' is not 'NAME OUTLINES_GEOJSON'", path,
		    line, value);
	if (g == NULL)
		return cairn_err(CAIRN_ERR_CONFIG, "%s:%u: key 'outlines' in "
		    "[geographies]: '%.*s' is not a geography of this file",
		    path, line, (int)nlen, value);
	if (g->outlines[0] != '\0')
		return cairn_err(CAIRN_ERR_CONFIG, "%s:%u: key 'outlines' in "
		    "[geographies]: geography '%s' given twice", path, line,
		    g->name);
	if (!beside(path, sp, full, sizeof(full)))
		return cairn_err(CAIRN_ERR_CONFIG, "%s:%u: path too long",
		    path, line);
	if ((o = json_load_file(full, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL)
		return cairn_err(CAIRN_ERR_CONFIG, "%s:%u: outlines of '%s': "
		    "%s:%d: %s", path, line, g->name, full, jerr.line,
		    jerr.text);
	if (!json_is_object(o) || !json_is_string(json_object_get(o,
	    "type")) || strcmp(json_string_value(json_object_get(o, "type")),
	    "FeatureCollection") != 0 ||
	    !json_is_array(json_object_get(o, "features"))) {
		json_decref(o);
		return cairn_err(CAIRN_ERR_CONFIG, "%s:%u: outlines of '%s': "
		    "%s is not a GeoJSON FeatureCollection", path, line,
		    g->name, full);
	}
	json_decref(o);
	snprintf(g->outlines, sizeof(g->outlines), "%s", full);
	return CAIRN_OK;
}

/* [public]: a listener needs the directory; TLS needs both files. */
static int
check_public(const struct coord_config *cfg, const char *path)
{
	char host[16];
	int port;

	if (cfg->pub_listen != NULL && cfg->pub_dir == NULL)
		return cairn_err(CAIRN_ERR_CONFIG, "%s: [public] listen is "
		    "set without [public] dir", path);
	if ((cfg->pub_tls_cert == NULL) != (cfg->pub_tls_key == NULL))
		return cairn_err(CAIRN_ERR_CONFIG, "%s: [public] tls_cert and "
		    "tls_key go together", path);
	if (cfg->pub_tls_cert != NULL && cfg->pub_listen == NULL)
		return cairn_err(CAIRN_ERR_CONFIG, "%s: [public] tls_cert is "
		    "set without [public] listen", path);
	if (cfg->pub_dir != NULL && cfg->pub_dir[0] == '\0')
		return cairn_err(CAIRN_ERR_CONFIG, "%s: [public] dir is empty",
		    path);
	if (cfg->pub_listen != NULL && monitor_parse_listen(cfg->pub_listen,
	    host, &port) != CAIRN_OK)
		return cairn_err(CAIRN_ERR_CONFIG, "%s: [public] listen: %s",
		    path, cairn_errmsg());
	return CAIRN_OK;
}

int
coord_config_load(const char *path, struct coord_config *cfg)
{
	int r;

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	if ((r = config_load(path, schema, NSCHEMA, cfg)) != CAIRN_OK)
		return r;
	for (size_t i = 0; i < cfg->geography.n; i++)
		if ((r = parse_geo(cfg, path, cfg->geography.v[i])) != CAIRN_OK)
			return r;
	for (size_t i = 0; i < cfg->outlines.n; i++)
		if ((r = parse_outlines(cfg, path, cfg->outlines.v[i])) !=
		    CAIRN_OK)
			return r;
	if ((r = monitor_check_config(path, cfg->log_format, cfg->log_level,
	    "listen", cfg->mon_listen, "health_listen", cfg->health_listen)) !=
	    CAIRN_OK)
		return r;
	return check_public(cfg, path);
}

/* What a running coordinator takes on SIGHUP (docs/operations.md). */
static const char *const reloadable[] = {
	"deadlines.advertise_seconds", "deadlines.share_seconds",
	"deadlines.redeliver_seconds", "limits.max_rho_per_query",
	"limits.max_participants", "limits.max_attempts",
	"limits.max_long_polls_per_member", "limits.max_long_polls",
	"monitoring.log_format", "monitoring.log_level", NULL
};

int
coord_config_reload(struct coord_config *cur, const struct coord_config *next,
    char *applied, size_t alen, char *fixed, size_t flen)
{
	return config_reload(schema, NSCHEMA, cur, next, reloadable, applied,
	    alen, fixed, flen);
}

void
coord_config_release(struct coord_config *cfg)
{
	config_release(schema, NSCHEMA, cfg);
	cfg->ngeos = 0;
}

const struct coord_geo *
coord_config_geo(const struct coord_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->ngeos; i++)
		if (strcmp(cfg->geos[i].name, name) == 0)
			return &cfg->geos[i];
	return NULL;
}

int
coord_config_check_pins(const struct coord_config *cfg, const char *path,
    const struct keys_federation *fed, const char *fedpath)
{
	for (size_t i = 0; i < cfg->ngeos; i++) {
		const struct coord_geo *g = &cfg->geos[i];
		const uint8_t *pin = keys_federation_geography(fed, g->name);
		char have[65], want[65];

		sodium_bin2hex(have, sizeof(have), g->sha256, 32);
		if (pin == NULL)
			return cairn_err(CAIRN_ERR_CONFIG, "%s: geography '%s' "
			    "is not pinned in %s (region file %s, sha256 %s; "
			    "cairn keys pin-geography)", path, g->name,
			    fedpath, g->path, have);
		sodium_bin2hex(want, sizeof(want), pin, 32);
		if (sodium_memcmp(pin, g->sha256, 32) != 0)
			return cairn_err(CAIRN_ERR_CONFIG, "%s: geography '%s': "
			    "region file %s has sha256 %s, %s pins %s", path,
			    g->name, g->path, have, fedpath, want);
	}
	return CAIRN_OK;
}
