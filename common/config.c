/*
 * config.c - INI parsing with libinih, checked against a key schema.
 *
 * inih calls back once per "name = value"; the handler looks the key up in
 * the schema, converts and range-checks the value and stores it.  When the
 * handler refuses a line, inih reports that line's number, which is what
 * lets every message name file:line.
 */
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/config.h"
#include "common/rho.h"
#include "common/err.h"

struct ctx {
	const struct config_key *schema;
	size_t		 n;
	void		*target;
	unsigned char	*seen;
	char		 why[384];	/* first failure, without the line */
	int		 nomem;
	bool		 defaults;	/* storing defaults: no range checks */
};

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Whether all of 's' is a decimal number as docs/config.md defines it: an
 * optional '-', then 0 or digits not starting with 0, then (when
 * 'real') an optional fraction '.' DIGITS and an optional exponent 'e' or
 * 'E', an optional sign, DIGITS.  The grammar of JSON numbers: no '+', no
 * blanks, no hexadecimal, no "inf" or "nan", no ".5" or "5.", nothing
 * after.  strtod() and strtoll() alone take all of those, and strtod() in
 * another locale would read "0,5".
 */
static bool
is_decimal(const char *s, bool real)
{
	const char *p = s;

	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (is_digit(*p))
			p++;
	else
		return false;
	if (real && *p == '.') {
		if (!is_digit(*++p))
			return false;
		while (is_digit(*p))
			p++;
	}
	if (real && (*p == 'e' || *p == 'E')) {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!is_digit(*p))
			return false;
		while (is_digit(*p))
			p++;
	}
	return *p == '\0';
}

bool
config_parse_int(const char *s, int64_t *out)
{
	long long v;

	if (!is_decimal(s, false))
		return false;
	errno = 0;
	v = strtoll(s, NULL, 10);
	if (errno != 0)
		return false;	/* beyond int64_t */
	*out = (int64_t)v;
	return true;
}

bool
config_parse_double(const char *s, double *out)
{
	double v;

	if (!is_decimal(s, true))
		return false;
	/* Checked: only digits, '-', '.', 'e' reach strtod(), which reads
	 * them the same in every locale cairn runs in ("C"). */
	errno = 0;
	v = strtod(s, NULL);
	if (errno != 0 || !isfinite(v))
		return false;	/* overflow, or underflow to 0 */
	*out = v;
	return true;
}

static bool
parse_bool(const char *s, bool *out)
{
	if (strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0 ||
	    strcmp(s, "1") == 0) {
		*out = true;
		return true;
	}
	if (strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0 ||
	    strcmp(s, "0") == 0) {
		*out = false;
		return true;
	}
	return false;
}

static int
fail(struct ctx *c, const char *fmt, const char *section, const char *name,
    const char *extra)
{
	char where[160];

	if (c->why[0] != '\0')
		return 0;
	if (section[0] != '\0')
		snprintf(where, sizeof(where), "key '%s' in [%s]", name,
		    section);
	else
		snprintf(where, sizeof(where), "key '%s'", name);
	snprintf(c->why, sizeof(c->why), fmt, where, extra);
	return 0;
}

static int
store(struct ctx *c, const struct config_key *k, const char *value)
{
	char *field = (char *)c->target + k->offset;
	int64_t iv;
	double dv;
	bool bv;
	char range[160], *copy;
	struct config_strlist *l;
	char **nv;

	switch (k->type) {
	case CONFIG_STRING:
		if ((copy = strdup(value)) == NULL) {
			c->nomem = 1;
			return 0;
		}
		free(*(char **)field);
		*(char **)field = copy;
		return 1;
	case CONFIG_INT:
		if (!config_parse_int(value, &iv))
			return fail(c, "%s: '%s' is not an integer (decimal "
			    "digits, optionally after '-', within 64 bits)",
			    k->section, k->name, value);
		if (!c->defaults && (iv < k->min || iv > k->max)) {
			snprintf(range, sizeof(range), "%s is outside [%lld, %lld]",
			    value, (long long)k->min, (long long)k->max);
			return fail(c, "%s: %s", k->section, k->name, range);
		}
		*(int64_t *)field = iv;
		return 1;
	case CONFIG_BOOL:
		if (!parse_bool(value, &bv))
			return fail(c, "%s: '%s' is not true or false",
			    k->section, k->name, value);
		*(bool *)field = bv;
		return 1;
	case CONFIG_DOUBLE:
		if (!config_parse_double(value, &dv))
			return fail(c, "%s: '%s' is not a number (decimal, as "
			    "in -12, 0.25 or 1e-3)", k->section, k->name,
			    value);
		if (!c->defaults && (dv < k->dmin || dv > k->dmax)) {
			snprintf(range, sizeof(range), "%s is outside [%g, %g]",
			    value, k->dmin, k->dmax);
			return fail(c, "%s: %s", k->section, k->name, range);
		}
		*(double *)field = dv;
		return 1;
	case CONFIG_RHO: {
		const char *why;
		uint64_t nano;

		if (!rho_parse(value, &nano, &why)) {
			snprintf(range, sizeof(range), "'%s' is not a valid "
			    "rho: %s", value, why);
			return fail(c, "%s: %s", k->section, k->name, range);
		}
		if (!c->defaults && (nano < (uint64_t)k->min ||
		    nano > (uint64_t)k->max)) {
			char lo[RHO_TEXT_MAX], hi[RHO_TEXT_MAX];

			snprintf(range, sizeof(range), "%s is outside [%s, %s]",
			    value, rho_format((uint64_t)k->min, lo),
			    rho_format((uint64_t)k->max, hi));
			return fail(c, "%s: %s", k->section, k->name, range);
		}
		*(uint64_t *)field = nano;
		return 1;
	}
	case CONFIG_STRLIST:
		l = (struct config_strlist *)field;
		if (l->n >= CONFIG_MAX_LIST)
			return fail(c, "%s: more than %s entries",
			    k->section, k->name, "1024");
		if ((copy = strdup(value)) == NULL) {
			c->nomem = 1;
			return 0;
		}
		nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
		if (nv == NULL) {
			free(copy);
			c->nomem = 1;
			return 0;
		}
		nv[l->n++] = copy;
		l->v = nv;
		return 1;
	}
	return 0;
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct ctx *c = user;
	size_t i;

	if (c->why[0] != '\0' || c->nomem)
		return 0;
	if (name == NULL)	/* a section header alone; checked by keys */
		return 1;
	if (strlen(value) > CONFIG_MAX_VALUE)
		return fail(c, "%s: value longer than %s bytes", section,
		    name, "4096");
	for (i = 0; i < c->n; i++) {
		const struct config_key *k = &c->schema[i];

		if (strcmp(k->section, section) != 0 ||
		    strcmp(k->name, name) != 0)
			continue;
		if (c->seen[i] && k->type != CONFIG_STRLIST)
			return fail(c, "%s is given twice%s", section, name,
			    "");
		c->seen[i] = 1;
		return store(c, k, value);
	}
	for (i = 0; i < c->n; i++)
		if (strcmp(c->schema[i].section, section) == 0)
			return fail(c, "unknown %s%s", section, name, "");
	snprintf(c->why, sizeof(c->why), "unknown section [%s]", section);
	return 0;
}

int
config_load(const char *path, const struct config_key *schema, size_t n,
    void *target)
{
	struct ctx c;
	FILE *f;
	int line, r;
	size_t i;

	memset(&c, 0, sizeof(c));
	c.schema = schema;
	c.n = n;
	c.target = target;
	if ((c.seen = calloc(n ? n : 1, 1)) == NULL)
		return cairn_err(CAIRN_ERR_NOMEM, "%s: out of memory", path);
	if ((f = fopen(path, "r")) == NULL) {
		r = cairn_err(CAIRN_ERR_IO, "%s: cannot open: %s", path,
		    strerror(errno));
		goto out;
	}
	line = ini_parse_file(f, handler, &c);
	fclose(f);
	if (c.nomem) {
		r = cairn_err(CAIRN_ERR_NOMEM, "%s: out of memory", path);
		goto out;
	}
	if (line < 0) {
		r = cairn_err(CAIRN_ERR_IO, "%s: read error", path);
		goto out;
	}
	if (line > 0) {
		r = cairn_err(CAIRN_ERR_CONFIG, "%s:%d: %s", path, line,
		    c.why[0] != '\0' ? c.why : "syntax error");
		goto out;
	}
	c.defaults = true;
	for (i = 0; i < n; i++) {
		if (c.seen[i] || schema[i].def == NULL)
			continue;
		if (schema[i].type == CONFIG_STRLIST ||
		    !store(&c, &schema[i], schema[i].def)) {
			r = c.nomem ? cairn_err(CAIRN_ERR_NOMEM, "%s: out of "
			    "memory", path) : cairn_err(CAIRN_ERR_INTERNAL,
			    "%s: default '%s' of key '%s' does not parse",
			    path, schema[i].def, schema[i].name);
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		if (schema[i].required && !c.seen[i]) {
			if (schema[i].section[0] != '\0')
				r = cairn_err(CAIRN_ERR_CONFIG,
				    "%s: missing key '%s' in [%s]", path,
				    schema[i].name, schema[i].section);
			else
				r = cairn_err(CAIRN_ERR_CONFIG,
				    "%s: missing key '%s'", path,
				    schema[i].name);
			goto out;
		}
	}
	r = CAIRN_OK;
out:
	free(c.seen);
	return r;
}

void
config_release(const struct config_key *schema, size_t n, void *target)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		char *field = (char *)target + schema[i].offset;

		if (schema[i].type == CONFIG_STRING) {
			free(*(char **)field);
			*(char **)field = NULL;
		} else if (schema[i].type == CONFIG_STRLIST) {
			struct config_strlist *l = (struct config_strlist *)field;

			for (j = 0; j < l->n; j++)
				free(l->v[j]);
			free(l->v);
			l->v = NULL;
			l->n = 0;
		}
	}
}

/* Whether key 'k' holds the same value in 'a' and 'b'. */
static bool
key_equal(const struct config_key *k, const void *a, const void *b)
{
	const char *fa = (const char *)a + k->offset;
	const char *fb = (const char *)b + k->offset;

	switch (k->type) {
	case CONFIG_STRING: {
		const char *x = *(char *const *)fa, *y = *(char *const *)fb;

		return x == y || (x != NULL && y != NULL && strcmp(x, y) == 0);
	}
	case CONFIG_INT:
		return *(const int64_t *)fa == *(const int64_t *)fb;
	case CONFIG_RHO:
		return *(const uint64_t *)fa == *(const uint64_t *)fb;
	case CONFIG_BOOL:
		return *(const bool *)fa == *(const bool *)fb;
	case CONFIG_DOUBLE:
		return memcmp(fa, fb, sizeof(double)) == 0;
	case CONFIG_STRLIST: {
		const struct config_strlist *x = (const void *)fa;
		const struct config_strlist *y = (const void *)fb;

		if (x->n != y->n)
			return false;
		for (size_t i = 0; i < x->n; i++)
			if (strcmp(x->v[i], y->v[i]) != 0)
				return false;
		return true;
	}
	}
	return false;
}

/* Append "[section] name" to 'buf' (a list separated by ", "). */
static void
key_append(char *buf, size_t len, const struct config_key *k)
{
	size_t used = strlen(buf);

	snprintf(buf + used, len - used, "%s[%s] %s", used ? ", " : "",
	    k->section, k->name);
}

/* Whether "section.name" of 'k' is in the NULL-terminated 'list'. */
static bool
key_listed(const struct config_key *k, const char *const *list)
{
	size_t sl = strlen(k->section);

	for (; *list != NULL; list++)
		if (strncmp(*list, k->section, sl) == 0 &&
		    (*list)[sl] == '.' && strcmp(*list + sl + 1, k->name) == 0)
			return true;
	return false;
}

int
config_reload(const struct config_key *schema, size_t n, void *cur,
    const void *next, const char *const *reloadable, char *applied,
    size_t alen, char *fixed, size_t flen)
{
	char *copy[CONFIG_RELOAD_MAX];
	bool take[CONFIG_RELOAD_MAX];
	size_t i;

	applied[0] = fixed[0] = '\0';
	if (n > CONFIG_RELOAD_MAX)
		return cairn_err(CAIRN_ERR_INTERNAL, "config_reload: %zu keys",
		    n);
	for (i = 0; i < n; i++) {
		copy[i] = NULL;
		take[i] = false;
	}
	/* Every new string first, so a failed allocation changes nothing. */
	for (i = 0; i < n; i++) {
		const struct config_key *k = &schema[i];
		const char *s;

		if (key_equal(k, cur, next))
			continue;
		/* A list is never taken: its readers keep pointers. */
		if (k->type == CONFIG_STRLIST || !key_listed(k, reloadable)) {
			key_append(fixed, flen, k);
			continue;
		}
		take[i] = true;
		if (k->type != CONFIG_STRING)
			continue;
		s = *(char *const *)((const char *)next + k->offset);
		if (s != NULL && (copy[i] = strdup(s)) == NULL)
			goto nomem;
	}
	for (i = 0; i < n; i++) {
		const struct config_key *k = &schema[i];
		char *to = (char *)cur + k->offset;
		const char *from = (const char *)next + k->offset;

		if (!take[i])
			continue;
		if (k->type == CONFIG_STRING) {
			free(*(char **)to);
			*(char **)to = copy[i];
		} else if (k->type == CONFIG_BOOL)
			*(bool *)to = *(const bool *)from;
		else if (k->type == CONFIG_DOUBLE)
			*(double *)to = *(const double *)from;
		else	/* CONFIG_INT, CONFIG_RHO */
			*(int64_t *)to = *(const int64_t *)from;
		key_append(applied, alen, k);
	}
	return CAIRN_OK;
nomem:
	for (i = 0; i < n; i++)
		free(copy[i]);
	fixed[0] = '\0';
	return CAIRN_ERR_NOMEM;
}

char *
config_list_next(char *s, char **save)
{
	char *item, *end;

	while ((item = strtok_r(s, ",", save)) != NULL) {
		s = NULL;
		while (*item == ' ' || *item == '\t')
			item++;
		end = item + strlen(item);
		while (end > item && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (*item != '\0')
			return item;
	}
	return NULL;
}
