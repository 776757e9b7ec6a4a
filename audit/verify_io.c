/*
 * verify_io.c - the auditor's files: a node's ledger export (JSON lines)
 * and the state file that keeps the last verified checkpoint.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "audit/audit.h"
#include "common/err.h"
#include "common/rho.h"

void
audit_ledger_free(struct audit_ledger *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].months);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int
field_int(json_t *o, const char *k, bool nullable, int64_t *out,
    const char *name, size_t line)
{
	json_t *x = json_object_get(o, k);

	if (x == NULL)
		return cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: missing field '%s'",
		    name, line, k);
	if (nullable && json_is_null(x)) {
		*out = -1;
		return CAIRN_OK;
	}
	if (!json_is_integer(x))
		return cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: field '%s' is not "
		    "an integer", name, line, k);
	*out = (int64_t)json_integer_value(x);
	return CAIRN_OK;
}

/*
 * ρ member 'k' of 'o' in nano-ρ: its integer twin "<k>_nano" when
 * present, else the decimal number, refused unless it is exactly a whole
 * number of nano-ρ.
 */
static int
field_rho(json_t *o, const char *k, uint64_t *out, const char *name,
    size_t line)
{
	char kn[64];
	const char *why;
	json_t *x;

	snprintf(kn, sizeof(kn), "%s_nano", k);
	if ((x = json_object_get(o, kn)) != NULL) {
		if (!json_is_integer(x) || json_integer_value(x) < 1)
			return cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: field '%s' "
			    "is not a count of nano-rho above 0", name, line,
			    kn);
		*out = (uint64_t)json_integer_value(x);
		return CAIRN_OK;
	}
	x = json_object_get(o, k);
	if (x == NULL || !json_is_number(x))
		return cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: field '%s' missing "
		    "or not a number", name, line, k);
	if (!rho_from_double(json_number_value(x), out, &why))
		return cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: field '%s': %.17g "
		    "is not a valid rho: %s", name, line, k,
		    json_number_value(x), why);
	return CAIRN_OK;
}

static uint32_t
ledger_month(const char *s)
{
	unsigned y, m;
	char tail;

	if (s == NULL || strlen(s) != 7 || sscanf(s, "%4u-%2u%c", &y, &m,
	    &tail) != 2 || s[4] != '-' || m < 1 || m > 12 || y < 1)
		return 0;
	for (int i = 0; i < 7; i++)
		if (i != 4 && (s[i] < '0' || s[i] > '9'))
			return 0;
	return y * 100 + m;
}

static int
parse_line(json_t *o, const char *name, size_t line,
    struct audit_ledger_charge *lc)
{
	json_t *x, *months;
	const char *s;
	size_t hl;
	int r;

	memset(lc, 0, sizeof(*lc));
	lc->line = line;
	if (!json_is_object(o))
		return cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: not a JSON object",
		    name, line);
	if ((r = field_int(o, "id", false, &lc->id, name, line)) != CAIRN_OK ||
	    (r = field_int(o, "log_index", true, &lc->log_index, name,
	    line)) != CAIRN_OK)
		return r;
	if ((x = json_object_get(o, "node")) != NULL) {
		if (!json_is_string(x) || strlen(s = json_string_value(x)) >
		    KEYS_NAME_MAX)
			return cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: field "
			    "'node' is not a member name", name, line);
		memcpy(lc->node, s, strlen(s) + 1);
	}
	if (json_object_get(o, "budget_rho_per_month") != NULL ||
	    json_object_get(o, "budget_rho_per_month_nano") != NULL) {
		if ((r = field_rho(o, "budget_rho_per_month",
		    &lc->budget_nano, name, line)) != CAIRN_OK)
			return r;
		lc->have_budget = true;
	}
	if ((x = json_object_get(o, "noise_variance")) != NULL) {
		if (!json_is_integer(x) || json_integer_value(x) < 0)
			return cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: field "
			    "'noise_variance' is not a count", name, line);
		lc->have_variance = true;
		lc->variance = (uint64_t)json_integer_value(x);
	}
	if (lc->log_index < -1)
		return cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: field 'log_index' "
		    "is negative", name, line);
	x = json_object_get(o, "query_id");
	if (x == NULL || !json_is_string(x) ||
	    strlen(s = json_string_value(x)) > TLOG_ENTRY_MAX_ID)
		return cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: field 'query_id' "
		    "missing, not a string or too long", name, line);
	memcpy(lc->query_id, s, strlen(s) + 1);
	x = json_object_get(o, "query_hash");
	if (x == NULL || !json_is_string(x) ||
	    strlen(s = json_string_value(x)) != 2 * TLOG_HASH_LEN ||
	    sodium_hex2bin(lc->query_hash, TLOG_HASH_LEN, s, strlen(s), NULL,
	    &hl, NULL) != 0 || hl != TLOG_HASH_LEN)
		return cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: field 'query_hash' "
		    "is not 64 hex digits", name, line);
	months = json_object_get(o, "months");
	if (months == NULL || !json_is_array(months) ||
	    json_array_size(months) == 0 ||
	    json_array_size(months) > TLOG_ENTRY_MAX_CHARGES)
		return cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: field 'months' is "
		    "not an array of 1..%d data-months", name, line,
		    TLOG_ENTRY_MAX_CHARGES);
	lc->nmonths = json_array_size(months);
	if ((lc->months = calloc(lc->nmonths, sizeof(*lc->months))) == NULL)
		return cairn_err(CAIRN_ERR_NOMEM, "ledger");
	for (size_t i = 0; i < lc->nmonths; i++) {
		json_t *m = json_array_get(months, i), *ms;

		ms = json_is_object(m) ? json_object_get(m, "month") : NULL;
		if (ms == NULL || !json_is_string(ms) ||
		    (lc->months[i].month =
		    ledger_month(json_string_value(ms))) == 0)
			return cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: field "
			    "'months': entry %zu has no month 'YYYY-MM'", name,
			    line, i + 1);
		if ((r = field_rho(m, "rho", &lc->months[i].rho_nano, name,
		    line)) != CAIRN_OK || (r = field_rho(m,
		    json_object_get(m, "cumulative") != NULL ? "cumulative" :
		    "cumulative_rho", &lc->months[i].cumulative_nano, name,
		    line)) != CAIRN_OK)
			return r;
	}
	return CAIRN_OK;
}

int
audit_ledger_parse(const char *text, size_t len, const char *name,
    struct audit_ledger *out)
{
	struct audit_ledger l = { NULL, 0 };
	size_t cap = 0, line = 0, pos = 0;
	int r = CAIRN_OK;

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;
		json_error_t jerr;
		json_t *o;

		line++;
		if (n > AUDIT_LEDGER_LINE_MAX) {
			r = cairn_err(CAIRN_ERR_TOOBIG, "%s:%zu: line over %d "
			    "bytes", name, line, AUDIT_LEDGER_LINE_MAX);
			goto out;
		}
		if (n == 0 || (n == 1 && text[pos] == '\r')) {
			pos += n + 1;
			continue;
		}
		if (l.n == AUDIT_LEDGER_MAX) {
			r = cairn_err(CAIRN_ERR_TOOBIG, "%s:%zu: more than %u "
			    "charges", name, line, AUDIT_LEDGER_MAX);
			goto out;
		}
		if (l.n == cap) {
			size_t nc = cap ? 2 * cap : 64;
			struct audit_ledger_charge *nv = realloc(l.v,
			    nc * sizeof(*nv));

			if (nv == NULL) {
				r = cairn_err(CAIRN_ERR_NOMEM, "ledger");
				goto out;
			}
			l.v = nv;
			cap = nc;
		}
		o = json_loadb(text + pos, n, JSON_REJECT_DUPLICATES, &jerr);
		if (o == NULL) {
			r = cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: %s", name,
			    line, jerr.text);
			goto out;
		}
		r = parse_line(o, name, line, &l.v[l.n]);
		json_decref(o);
		l.n++;
		if (r != CAIRN_OK)
			goto out;
		pos += n + 1;
	}
	*out = l;
	l.v = NULL;
	l.n = 0;
out:
	audit_ledger_free(&l);
	return r;
}

int
audit_state_write(const char *path, const char *note, size_t len)
{
	char tmp[4096], dir[4096];
	int fd = -1, r = CAIRN_OK;
	size_t off = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path) >=
	    (int)sizeof(tmp) || snprintf(dir, sizeof(dir), "%s", path) >=
	    (int)sizeof(dir))
		return cairn_err(CAIRN_ERR_IO, "%s: path too long", path);
	if ((fd = mkstemp(tmp)) < 0)
		return cairn_err(CAIRN_ERR_IO, "%s: %s", tmp, strerror(errno));
	while (off < len) {
		ssize_t w = write(fd, note + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			r = cairn_err(CAIRN_ERR_IO, "%s: %s", tmp,
			    strerror(errno));
			goto out;
		}
		off += (size_t)w;
	}
	if (fchmod(fd, 0644) != 0 || fsync(fd) != 0) {
		r = cairn_err(CAIRN_ERR_IO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		r = cairn_err(CAIRN_ERR_IO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		r = cairn_err(CAIRN_ERR_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if ((fd = open(dirname(dir), O_RDONLY | O_DIRECTORY)) >= 0) {
		(void)fsync(fd);
		(void)close(fd);
	}
	return CAIRN_OK;
out:
	if (fd >= 0)
		(void)close(fd);
	(void)unlink(tmp);
	return r;
}
