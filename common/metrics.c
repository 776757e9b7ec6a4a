/*
 * metrics.c - the Prometheus registry behind metrics.h.  Families live in
 * a fixed array and series in a small array per family, searched
 * linearly: a daemon has a few dozen families and a few series each, and
 * the registry is read once per scrape.  One mutex covers everything; the
 * collect callbacks run outside it, so they may take their own locks and
 * set gauges.
 */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/metrics.h"

#define FAMILIES_MAX	96
#define CALLBACKS_MAX	8
#define LABEL_MAX	64

struct series {
	char	 v1[LABEL_MAX];
	char	 v2[LABEL_MAX];
	double	 value;			/* counter, gauge; histogram sum */
	double	 count;			/* histogram */
	double	 buckets[METRICS_BUCKETS_MAX];	/* non-cumulative */
};

struct metrics_family {
	const char		*name;
	const char		*help;
	const char		*l1, *l2;
	enum metrics_type	 type;
	double			 bounds[METRICS_BUCKETS_MAX];
	size_t			 nb;
	struct series		*s;
	size_t			 n;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct metrics_family fams[FAMILIES_MAX];
static size_t nfams;
static struct {
	void	(*fn)(void *);
	void	*arg;
} cbs[CALLBACKS_MAX];
static size_t ncbs;

struct metrics_family *
metrics_register(const char *name, enum metrics_type type, const char *help,
    const char *l1, const char *l2, const double *bounds, size_t nb)
{
	struct metrics_family *f = NULL;

	if (nb > METRICS_BUCKETS_MAX - 1 || (l2 != NULL && l1 == NULL))
		return NULL;
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < nfams; i++)
		if (strcmp(fams[i].name, name) == 0) {
			f = &fams[i];
			goto out;
		}
	if (nfams == FAMILIES_MAX)
		goto out;
	f = &fams[nfams++];
	memset(f, 0, sizeof(*f));
	f->name = name;
	f->help = help;
	f->l1 = l1;
	f->l2 = l2;
	f->type = type;
	if (type == METRICS_HISTOGRAM) {
		memcpy(f->bounds, bounds, nb * sizeof(double));
		f->nb = nb;
	}
out:
	pthread_mutex_unlock(&mu);
	return f;
}

/* The series for 'v1', 'v2', created if missing (the overflow series
 * "other" when the family is full); NULL when out of memory. */
static struct series *
find(struct metrics_family *f, const char *v1, const char *v2)
{
	struct series *s;

	v1 = f->l1 == NULL ? "" : (v1 == NULL ? "" : v1);
	v2 = f->l2 == NULL ? "" : (v2 == NULL ? "" : v2);
	for (size_t i = 0; i < f->n; i++)
		if (strncmp(f->s[i].v1, v1, LABEL_MAX - 1) == 0 &&
		    strncmp(f->s[i].v2, v2, LABEL_MAX - 1) == 0)
			return &f->s[i];
	if (f->n >= METRICS_SERIES_MAX - 1 && strcmp(v1, "other") != 0)
		return find(f, f->l1 ? "other" : "", f->l2 ? "other" : "");
	if (f->n == METRICS_SERIES_MAX)
		return NULL;
	if (f->n % 8 == 0) {
		s = realloc(f->s, (f->n + 8) * sizeof(*s));
		if (s == NULL)
			return NULL;
		f->s = s;
	}
	s = &f->s[f->n++];
	memset(s, 0, sizeof(*s));
	snprintf(s->v1, sizeof(s->v1), "%s", v1);
	snprintf(s->v2, sizeof(s->v2), "%s", v2);
	return s;
}

static void
update(struct metrics_family *f, const char *v1, const char *v2, double v,
    int op)
{
	struct series *s;

	if (f == NULL || isnan(v))
		return;
	pthread_mutex_lock(&mu);
	if ((s = find(f, v1, v2)) == NULL)
		goto out;
	switch (op) {
	case 0:
		if (f->type == METRICS_HISTOGRAM || (f->type ==
		    METRICS_COUNTER && v < 0))
			break;
		s->value += v;
		break;
	case 1:
		if (f->type == METRICS_GAUGE)
			s->value = v;
		break;
	case 2:
		if (f->type != METRICS_HISTOGRAM)
			break;
		s->value += v;
		s->count += 1;
		for (size_t i = 0; i <= f->nb; i++)
			if (i == f->nb || v <= f->bounds[i]) {
				s->buckets[i] += 1;
				break;
			}
		break;
	default:
		break;
	}
out:
	pthread_mutex_unlock(&mu);
}

void
metrics_add(struct metrics_family *f, const char *v1, const char *v2,
    double v)
{
	update(f, v1, v2, v, 0);
}

void
metrics_set(struct metrics_family *f, const char *v1, const char *v2,
    double v)
{
	update(f, v1, v2, v, 1);
}

void
metrics_observe(struct metrics_family *f, const char *v1, const char *v2,
    double v)
{
	update(f, v1, v2, v, 2);
}

void
metrics_touch(struct metrics_family *f, const char *v1, const char *v2)
{
	update(f, v1, v2, 0, 0);
}

void
metrics_on_collect(void (*fn)(void *), void *arg)
{
	pthread_mutex_lock(&mu);
	if (ncbs < CALLBACKS_MAX) {
		cbs[ncbs].fn = fn;
		cbs[ncbs].arg = arg;
		ncbs++;
	}
	pthread_mutex_unlock(&mu);
}

void
metrics_reset(void)
{
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < nfams; i++)
		free(fams[i].s);
	nfams = 0;
	ncbs = 0;
	pthread_mutex_unlock(&mu);
}

/* A growing output buffer; 'err' sticks after the first failure. */
struct out {
	char	*b;
	size_t	 len, cap;
	int	 err;
};

static void
put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *nb;

	for (;;) {
		if (o->err)
			return;
		va_start(ap, fmt);
		n = vsnprintf(o->b + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->err = CAIRN_ERR_INTERNAL;
			return;
		}
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		if ((nb = realloc(o->b, o->cap * 2 + (size_t)n)) == NULL) {
			o->err = CAIRN_ERR_NOMEM;
			return;
		}
		o->b = nb;
		o->cap = o->cap * 2 + (size_t)n;
	}
}

/* A label value with '\\', '"' and newlines escaped. */
static void
put_label(struct out *o, const char *name, const char *v, bool first)
{
	put(o, "%s%s=\"", first ? "" : ",", name);
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			put(o, "\\%c", *v);
		else if (*v == '\n')
			put(o, "\\n");
		else
			put(o, "%c", *v);
	}
	put(o, "\"");
}

static void
put_value(struct out *o, double v)
{
	if (isinf(v))
		put(o, " %s\n", v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 1e15)
		put(o, " %.0f\n", v);
	else
		put(o, " %.17g\n", v);
}

static void
put_labels(struct out *o, const struct metrics_family *f,
    const struct series *s, const char *le)
{
	bool any = f->l1 != NULL || le != NULL;

	if (!any)
		return;
	put(o, "{");
	if (f->l1 != NULL)
		put_label(o, f->l1, s->v1, true);
	if (f->l2 != NULL)
		put_label(o, f->l2, s->v2, false);
	if (le != NULL)
		put_label(o, "le", le, f->l1 == NULL);
	put(o, "}");
}

static void
render_family(struct out *o, const struct metrics_family *f)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };
	char le[32];

	put(o, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
	    types[f->type]);
	for (size_t i = 0; i < f->n; i++) {
		const struct series *s = &f->s[i];
		double cum = 0;

		if (f->type != METRICS_HISTOGRAM) {
			put(o, "%s", f->name);
			put_labels(o, f, s, NULL);
			put_value(o, s->value);
			continue;
		}
		for (size_t b = 0; b <= f->nb; b++) {
			cum += s->buckets[b];
			if (b == f->nb)
				snprintf(le, sizeof(le), "+Inf");
			else
				snprintf(le, sizeof(le), "%g", f->bounds[b]);
			put(o, "%s_bucket", f->name);
			put_labels(o, f, s, le);
			put_value(o, cum);
		}
		put(o, "%s_sum", f->name);
		put_labels(o, f, s, NULL);
		put_value(o, s->value);
		put(o, "%s_count", f->name);
		put_labels(o, f, s, NULL);
		put_value(o, s->count);
	}
}

int
metrics_render(char **out, size_t *len)
{
	struct out o = { NULL, 0, 4096, CAIRN_OK };
	void (*fn[CALLBACKS_MAX])(void *);
	void *arg[CALLBACKS_MAX];
	size_t n;

	pthread_mutex_lock(&mu);
	n = ncbs;
	for (size_t i = 0; i < n; i++) {
		fn[i] = cbs[i].fn;
		arg[i] = cbs[i].arg;
	}
	pthread_mutex_unlock(&mu);
	for (size_t i = 0; i < n; i++)
		fn[i](arg[i]);
	if ((o.b = malloc(o.cap)) == NULL)
		return CAIRN_ERR_NOMEM;
	o.b[0] = '\0';
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < nfams; i++)
		render_family(&o, &fams[i]);
	pthread_mutex_unlock(&mu);
	if (o.err != CAIRN_OK) {
		free(o.b);
		return o.err;
	}
	*out = o.b;
	*len = o.len;
	return CAIRN_OK;
}
