/*
 * source_opts.c - the options of a push-down source (engine_source.h,
 * docs/sources.md): their defaults (FlowDB's names), `--source` options
 * and `[source]` keys one by one, a ClickHouse URI, and the check of the
 * whole set before a statement is generated (sql_gen.c) or run
 * (source.c).  Every table and column name must be an identifier the
 * generator can quote; every ClickHouse setting a plain token the node
 * does not set itself.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/err.h"
#include "node/engine/engine_int.h"
#include "node/engine/engine_source.h"

void
engine_source_defaults(struct engine_source *s)
{
	memset(s, 0, sizeof(*s));
	s->tables[0] = "events.calls";
	s->ntables = 1;
	s->subscriber_column = "msisdn";
	s->time_column = "datetime";
	s->cell_column = "location_id";
	s->cell_table_cell = "cell_id";
	s->cell_table_region = "region_id";
	s->statement_timeout_s = 3600;
}

/*
 * Split the comma-separated list 'val' of option 'key' into 'items' (at
 * most 'max'), copying it to 'dst' (of 'dstsz' bytes); nothing changes on
 * failure.
 */
static int
split_list(const char *key, const char *val, char *dst, size_t dstsz,
    const char **items, size_t max, size_t *nitems)
{
	char buf[1024], *item, *save;
	size_t off[ENGINE_SOURCE_MAX_SHARDS], n = 0;

	if (strlen(val) >= dstsz || dstsz > sizeof(buf))
		return cairn_err(CAIRN_ERR_ARG, "source option '%s': "
		    "the list is over %zu bytes", key, dstsz - 1);
	memcpy(buf, val, strlen(val) + 1);
	for (item = config_list_next(buf, &save); item != NULL;
	    item = config_list_next(NULL, &save)) {
		if (n == max || n == ENGINE_SOURCE_MAX_SHARDS)
			return cairn_err(CAIRN_ERR_ARG, "source option "
			    "'%s': more than %zu items", key, max);
		off[n++] = (size_t)(item - buf);
	}
	if (n == 0)
		return cairn_err(CAIRN_ERR_ARG, "source option '%s': the list "
		    "is empty", key);
	memcpy(dst, buf, dstsz);
	for (size_t i = 0; i < n; i++)
		items[i] = dst + off[i];
	*nitems = n;
	return CAIRN_OK;
}

int
engine_source_set(struct engine_source *s, const char *key, const char *val)
{
	static const struct {
		const char	*key;
		size_t		 off;
	} names[] = {
		{ "subscriber_column",
		    offsetof(struct engine_source, subscriber_column) },
		{ "time_column", offsetof(struct engine_source, time_column) },
		{ "cell_column", offsetof(struct engine_source, cell_column) },
		{ "cell_table", offsetof(struct engine_source, cell_table) },
		{ "cell_table_cell_column",
		    offsetof(struct engine_source, cell_table_cell) },
		{ "cell_table_region_column",
		    offsetof(struct engine_source, cell_table_region) },
		{ "region_column",
		    offsetof(struct engine_source, region_column) },
		{ "category_column",
		    offsetof(struct engine_source, category_column) },
		{ "cluster", offsetof(struct engine_source, cluster) },
	};
	int64_t v;

	if (strcmp(key, "uri") == 0) {
		s->uri = val;
		return CAIRN_OK;
	}
	if (strcmp(key, "tables") == 0)
		return split_list(key, val, s->tabbuf, sizeof(s->tabbuf),
		    s->tables, ENGINE_SOURCE_MAX_TABLES, &s->ntables);
	if (strcmp(key, "shards") == 0)
		return split_list(key, val, s->shardbuf, sizeof(s->shardbuf),
		    s->shards, ENGINE_SOURCE_MAX_SHARDS, &s->nshards);
	if (strcmp(key, "settings") == 0)
		return split_list(key, val, s->setbuf, sizeof(s->setbuf),
		    s->settings, ENGINE_SOURCE_MAX_SETTINGS, &s->nsettings);
	if (strcmp(key, "statement_timeout_seconds") == 0) {
		if (!config_parse_int(val, &v) || v < 0 || v > 86400 * 7)
			return cairn_err(CAIRN_ERR_ARG, "source option "
			    "'statement_timeout_seconds': '%s' is not an "
			    "integer in [0, 604800]", val);
		s->statement_timeout_s = v;
		return CAIRN_OK;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(key, names[i].key) == 0) {
			if (*val == '\0')
				return cairn_err(CAIRN_ERR_ARG, "source option "
				    "'%s' is empty", key);
			*(const char **)((char *)s + names[i].off) = val;
			return CAIRN_OK;
		}
	return cairn_err(CAIRN_ERR_ARG, "unknown source option '%s'", key);
}

/* A name that can be quoted: non-empty, no dot-separated empty part. */
static bool
name_ok(const char *n, bool dotted)
{
	if (n == NULL || *n == '\0' || strlen(n) > 200)
		return false;
	if (dotted && (n[0] == '.' || n[strlen(n) - 1] == '.' ||
	    strstr(n, "..") != NULL || strchr(strchr(n, '.') ?
	    strchr(n, '.') + 1 : "", '.') != NULL))
		return false;
	return true;
}

/* Decode the percent-escapes of 'n' bytes of 'src' into 'dst'. */
static bool
pct_decode(char *dst, size_t dstsz, const char *src, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned v;
		char c = src[i];

		if (c == '%') {
			if (i + 2 >= n)
				return false;
			if (sscanf(src + i + 1, "%2x", &v) != 1 || v == 0)
				return false;
			c = (char)v;
			i += 2;
		}
		if (o + 1 >= dstsz)
			return false;
		dst[o++] = c;
	}
	dst[o] = '\0';
	return true;
}

int
engine_ch_uri_parse(const char *uri, struct engine_ch_uri *out)
{
	struct engine_ch_uri u;
	const char *p, *at, *slash, *colon, *hostp;
	char *end;
	unsigned long port;

	memset(&u, 0, sizeof(u));
	if (strncmp(uri, "clickhouse://", 13) != 0)
		return cairn_err(CAIRN_ERR_ARG, "source URI: not clickhouse://");
	p = uri + 13;
	if ((slash = strchr(p, '/')) == NULL)
		return cairn_err(CAIRN_ERR_ARG, "source URI: clickhouse://"
		    "HOST:PORT/DATABASE has no /DATABASE");
	at = memchr(p, '@', (size_t)(slash - p));
	snprintf(u.user, sizeof(u.user), "default");
	hostp = p;
	if (at != NULL) {
		colon = memchr(p, ':', (size_t)(at - p));
		if (!pct_decode(u.user, sizeof(u.user), p, (size_t)((colon ?
		    colon : at) - p)) || u.user[0] == '\0')
			return cairn_err(CAIRN_ERR_ARG, "source URI: the user "
			    "name is empty, too long or badly escaped");
		if (colon != NULL && !pct_decode(u.password,
		    sizeof(u.password), colon + 1, (size_t)(at - colon - 1)))
			return cairn_err(CAIRN_ERR_ARG, "source URI: the "
			    "password is too long or badly escaped");
		hostp = at + 1;
	}
	if ((colon = memchr(hostp, ':', (size_t)(slash - hostp))) == NULL ||
	    colon == hostp || (size_t)(colon - hostp) >= sizeof(u.host))
		return cairn_err(CAIRN_ERR_ARG, "source URI: clickhouse://"
		    "HOST:PORT/DATABASE needs a host and a port");
	memcpy(u.host, hostp, (size_t)(colon - hostp));
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (end != slash || colon + 1 == slash || port == 0 || port > 65535)
		return cairn_err(CAIRN_ERR_ARG, "source URI: the port of "
		    "clickhouse://HOST:PORT/DATABASE is not in [1, 65535]");
	u.port = (unsigned)port;
	if (!pct_decode(u.database, sizeof(u.database), slash + 1,
	    strlen(slash + 1)) || u.database[0] == '\0' ||
	    strpbrk(u.database, "/?#") != NULL)
		return cairn_err(CAIRN_ERR_ARG, "source URI: the database of "
		    "clickhouse://HOST:PORT/DATABASE is empty, too long or "
		    "not a name");
	*out = u;
	return CAIRN_OK;
}

/* A shard HOST:PORT. */
static bool
shard_ok(const char *h)
{
	const char *c = strrchr(h, ':');
	char *end;
	unsigned long port;

	if (c == NULL || c == h || strlen(h) > 255 ||
	    strpbrk(h, "/@?# ") != NULL)
		return false;
	port = strtoul(c + 1, &end, 10);
	return *end == '\0' && c[1] != '\0' && port > 0 && port <= 65535;
}

/*
 * What the node sends itself beside a statement, or what is not a setting
 * of ClickHouse's HTTP interface: not for the 'settings' option.
 */
static const char *const ch_reserved[] = {
	"query", "database", "default_format", "query_id", "user",
	"password", "quota_key", "session_id", "session_timeout",
	"session_check", "compress", "decompress", "buffer_size",
	"wait_end_of_query", "join_use_nulls", "max_query_size",
	"max_execution_time", "readonly",
};
/* The external tables a statement may send (gen_map(), gen_cats()). */
static const char *const ch_ext[] = { "cm", "dom", "cats" };

/*
 * Check the setting "name=value" 'kv': CAIRN_OK, or CAIRN_ERR_ARG saying
 * what is wrong with it.
 */
static int
setting_check(const char *kv)
{
	const char *eq = strchr(kv, '=');
	size_t nl;

	if (eq == NULL || eq == kv || eq[1] == '\0')
		return cairn_err(CAIRN_ERR_ARG, "source setting '%s' is not "
		    "name=value", kv);
	nl = (size_t)(eq - kv);
	if (nl > 64 || kv[0] < 'a' || kv[0] > 'z' ||
	    strspn(kv, "abcdefghijklmnopqrstuvwxyz0123456789_") != nl)
		return cairn_err(CAIRN_ERR_ARG, "source setting '%s': the name "
		    "is not [a-z][a-z0-9_]* of at most 64 bytes", kv);
	if (strlen(eq + 1) > 64 || strspn(eq + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789_.+-") != strlen(eq + 1))
		return cairn_err(CAIRN_ERR_ARG, "source setting '%s': the value "
		    "is not [A-Za-z0-9_.+-] of at most 64 bytes", kv);
	for (size_t i = 0; i < sizeof(ch_reserved) / sizeof(ch_reserved[0]);
	    i++)
		if (strlen(ch_reserved[i]) == nl &&
		    strncmp(kv, ch_reserved[i], nl) == 0)
			return cairn_err(CAIRN_ERR_ARG, "source setting '%.*s' "
			    "is the node's own (%s)", (int)nl, kv,
			    strcmp(ch_reserved[i], "max_execution_time") == 0 ?
			    "use statement_timeout_seconds" :
			    "the statement needs the node's value");
	/* NAME_structure, NAME_format, NAME_types of the external tables */
	for (size_t i = 0; i < sizeof(ch_ext) / sizeof(ch_ext[0]); i++) {
		size_t el = strlen(ch_ext[i]);

		if (nl > el && strncmp(kv, ch_ext[i], el) == 0 &&
		    kv[el] == '_' && (strncmp(kv + el, "_structure=", 11) ==
		    0 || strncmp(kv + el, "_format=", 8) == 0 ||
		    strncmp(kv + el, "_types=", 7) == 0))
			return cairn_err(CAIRN_ERR_ARG, "source setting '%.*s' "
			    "names an external table's parameter, not a "
			    "setting", (int)nl, kv);
	}
	return CAIRN_OK;
}

int
engine_source_check(struct engine_source *s)
{
	struct engine_ch_uri u;
	int r;

	if (s->uri == NULL || *s->uri == '\0')
		return cairn_err(CAIRN_ERR_ARG, "missing source URI");
	if (strncmp(s->uri, "postgresql://", 13) == 0 ||
	    strncmp(s->uri, "postgres://", 11) == 0)
		s->type = ENGINE_SOURCE_POSTGRESQL;
	else if (strncmp(s->uri, "clickhouse://", 13) == 0) {
		if ((r = engine_ch_uri_parse(s->uri, &u)) != CAIRN_OK)
			return r;
		s->type = ENGINE_SOURCE_CLICKHOUSE;
	} else
		return cairn_err(CAIRN_ERR_ARG, "source URI: scheme not "
		    "postgresql:// or clickhouse://");
	if (s->nshards > 0 && s->type != ENGINE_SOURCE_CLICKHOUSE)
		return cairn_err(CAIRN_ERR_ARG, "source option 'shards' is for "
		    "clickhouse:// sources only");
	if (s->nsettings > 0 && s->type != ENGINE_SOURCE_CLICKHOUSE)
		return cairn_err(CAIRN_ERR_ARG, "source option 'settings' is "
		    "for clickhouse:// sources only (PostgreSQL: ALTER ROLE "
		    "... SET, docs/sources.md)");
	if (s->cluster != NULL && s->nshards == 0)
		return cairn_err(CAIRN_ERR_ARG, "source option 'cluster' needs "
		    "'shards' (clickhouse:// sources only)");
	if (s->cluster != NULL && !name_ok(s->cluster, false))
		return cairn_err(CAIRN_ERR_ARG, "source cluster '%s' is not a "
		    "name", s->cluster);
	for (size_t i = 0; i < s->nsettings; i++)
		if ((r = setting_check(s->settings[i])) != CAIRN_OK)
			return r;
	for (size_t i = 0; i < s->nshards; i++)
		if (!shard_ok(s->shards[i]))
			return cairn_err(CAIRN_ERR_ARG, "source shard '%s' is not "
			    "HOST:PORT (the shard's HTTP interface)",
			    s->shards[i]);
	for (size_t i = 0; i < s->ntables; i++)
		if (!name_ok(s->tables[i], true))
			return cairn_err(CAIRN_ERR_ARG, "source table '%s' is "
			    "not a name or schema.name", s->tables[i]);
	if (s->cell_table != NULL && !name_ok(s->cell_table, true))
		return cairn_err(CAIRN_ERR_ARG, "source cell_table '%s' is not "
		    "a name or schema.name", s->cell_table);
	if (!name_ok(s->subscriber_column, false) ||
	    !name_ok(s->time_column, false) ||
	    !name_ok(s->cell_column, false) ||
	    !name_ok(s->cell_table_cell, false) ||
	    !name_ok(s->cell_table_region, false) ||
	    (s->region_column != NULL && !name_ok(s->region_column, false)) ||
	    (s->category_column != NULL && !name_ok(s->category_column,
	    false)))
		return cairn_err(CAIRN_ERR_ARG, "a source column name is empty "
		    "or over 200 bytes");
	return CAIRN_OK;
}
