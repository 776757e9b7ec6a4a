/*
 * query_plan.c - `cairn query plan`: the one planner.  It takes exactly
 * `cairn query submit`'s spec and flags and prints, before anything is
 * sent, what the query will cost and give: the released variance per cell
 * (n sigma_h^2), the exact 95% half-width, (eps, delta), each holder's
 * charge per data-month and, when it can reach the coordinator, what each
 * budget would have left (read from the log, proven).  `submit` prints the
 * same summary before it sends.
 *
 * The numbers come from qspec_dp_query() and dp_requirement(), the calls
 * the coordinator and every node make for the same query, so the plan is
 * the charge (docs/privacy.md, "One planner").
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "common/err.h"
#include "common/file.h"
#include "common/rho.h"
#include "common/timeutil.h"
#include "keys/keys_federation.h"
#include "privacy/dp.h"
#include "protocol/qspec.h"
#include "query/query.h"
#include "query/query_int.h"

int
query_plan_compute(const struct qspec *q, uint64_t rho_nano, uint32_t n,
    uint32_t c, uint32_t holders, uint64_t nregions, double delta,
    struct query_plan *out)
{
	struct query_plan p;
	struct dp_query dq;
	double rho_max;
	int r;

	memset(&p, 0, sizeof(p));
	p.rho_nano = rho_nano;
	p.n = n;
	p.c = c;
	p.h = holders != 0 ? holders : 1;
	p.delta = delta;
	if (nregions == 0)
		return cairn_err(CAIRN_ERR_ARG, "the geography has no regions");
	/* The coordinator's count: the public domain, no check cell. */
	p.cells = qspec_domain_cells(q, nregions, 0);
	if ((r = qspec_dp_query(q, p.h, &dq)) != CAIRN_OK ||
	    (r = dp_requirement(&dq, rho_nano, n, c, p.cells, &p.req)) !=
	    CAIRN_OK)
		return r;
	for (size_t i = 0; i < p.req.nmonths; i++)
		if (p.req.rho_nano[i] > p.rho_max_nano)
			p.rho_max_nano = p.req.rho_nano[i];
	rho_max = rho_to_double(p.rho_max_nano);
	if ((r = dp_ci95_halfwidth(p.req.variance, &p.ci95_halfwidth)) !=
	    CAIRN_OK ||
	    (r = dp_eps_from_rho_tight(rho_max, delta, &p.eps_tight)) !=
	    CAIRN_OK ||
	    (r = dp_eps_from_rho_simple(rho_max, delta, &p.eps_simple)) !=
	    CAIRN_OK)
		return r;
	*out = p;
	return CAIRN_OK;
}

/* ------------------------------------------------- the command line */

int
query_ask_parse(const struct ctx *c, struct query_ask *a)
{
	int r;

	memset(a, 0, sizeof(*a));
	if ((r = query_spec_build(c, &a->spec)) != CAIRN_OK)
		return r;
	a->publish = c->o[O_PUBLISH] != NULL;
	if ((r = need(c, O_GEO)) != CAIRN_OK ||
	    (r = need(c, O_RHO)) != CAIRN_OK ||
	    (r = need(c, O_PARTS)) != CAIRN_OK ||
	    (r = need(c, O_COLL)) != CAIRN_OK)
		return r;
	if ((r = rho_parse_field("--rho", c->o[O_RHO], &a->rho_nano)) !=
	    CAIRN_OK ||
	    (r = query_parse_u32(c->o[O_COLL], "colluding",
	    QUERY_MAX_PARTICIPANTS, &a->colluding)) != CAIRN_OK ||
	    (c->o[O_HOLDERS] != NULL && (r = query_parse_u32(c->o[O_HOLDERS],
	    "holders", 1000, &a->holders)) != CAIRN_OK) ||
	    (r = query_split_list(c->o[O_PARTS], "participants",
	    QUERY_MAX_PARTICIPANTS, &a->parts, &a->nparts)) != CAIRN_OK)
		return r;
	if (a->nparts < 2)
		return cairn_err(CAIRN_ERR_ARG, "--participants: %zu names, 2 "
		    "to %d needed", a->nparts, QUERY_MAX_PARTICIPANTS);
	if (a->colluding >= a->nparts)
		return cairn_err(CAIRN_ERR_ARG, "--colluding: %" PRIu32 " must "
		    "be below the %zu participants", a->colluding, a->nparts);
	return CAIRN_OK;
}

void
query_ask_release(struct query_ask *a)
{
	query_free_list(a->parts, a->nparts);
	a->parts = NULL;
	a->nparts = 0;
}

int
query_regions_pinned(const char *fedpath, const char *geography,
    const char *path)
{
	struct keys_federation *fed = NULL;
	const uint8_t *pin;
	uint8_t h[32];
	int r;

	if (fedpath == NULL)
		return CAIRN_OK;
	if ((r = keys_federation_load(fedpath, &fed)) != CAIRN_OK)
		return r;
	if ((pin = keys_federation_geography(fed, geography)) != NULL) {
		if ((r = keys_file_sha256(path, h)) != CAIRN_OK)
			goto out;
		if (sodium_memcmp(h, pin, 32) != 0) {
			r = cairn_err(CAIRN_ERR_ARG, "--regions: %s is not the "
			    "regions file %s pins for geography '%s'", path,
			    fedpath, geography);
			goto out;
		}
	}
	r = CAIRN_OK;
out:
	keys_federation_free(fed);
	return r;
}

/*
 * The number of regions of --regions, whose SHA-256 must be the one
 * federation.conf pins for --geography when --federation is given (the
 * file the coordinator serves, so the plan counts its cells).
 */
static int
plan_regions(const struct ctx *c, size_t *nregions)
{
	uint32_t *ids = NULL;
	char *text = NULL;
	size_t len;
	int r;

	if ((r = need(c, O_REGIONS)) != CAIRN_OK ||
	    (r = query_regions_pinned(c->o[O_FED], c->o[O_GEO],
	    c->o[O_REGIONS])) != CAIRN_OK ||
	    (r = file_read_capped(c->o[O_REGIONS], (size_t)64 << 20, &text,
	    &len)) != CAIRN_OK || (r = query_regions_parse(text, len,
	    c->o[O_REGIONS], &ids, nregions)) != CAIRN_OK)
		goto out;
	r = CAIRN_OK;
out:
	free(ids);
	free(text);
	return r;
}

/* "YYYY-MM" of a year·12 + month − 1 value. */
static void
month_text(int32_t m, char out[static 16])
{
	snprintf(out, 16, "%04d-%02d", (int)(m / 12), (int)(m % 12) + 1);
}

int
query_plan_summary(const struct ctx *c, const struct query_ask *a,
    const struct query_budgets *b, FILE *f)
{
	struct query_plan p;
	char t[4][RHO_TEXT_MAX], from[TIME_DATE_LEN], to[TIME_DATE_LEN];
	char num[2][QUERY_NUM_MAX];
	size_t nregions;
	int64_t d0, d1;
	int r;

	if ((r = plan_regions(c, &nregions)) != CAIRN_OK ||
	    (r = query_plan_compute(&a->spec, a->rho_nano,
	    (uint32_t)a->nparts, a->colluding, a->holders, nregions,
	    QUERY_DEFAULT_DELTA, &p)) != CAIRN_OK)
		return r;
	qspec_span(&a->spec, &d0, &d1);
	(void)time_format_date(d0, from);
	(void)time_format_date(d1, to);
	fprintf(f, "plan: %s over %s to %s (excluded), geography %s: %zu "
	    "regions, %" PRIu64 " cells\n", qspec_kind_name(a->spec.kind),
	    from, to, c->o[O_GEO], nregions, p.cells);
	fprintf(f, "participants: %" PRIu32 " (colluding %" PRIu32 ", honest "
	    "%" PRIu32 "), holders per person %" PRIu32 "\n", p.n, p.c,
	    p.n - p.c, p.h);
	fprintf(f, "publish: %s\n", a->publish ? "yes (the released values "
	    "go to the public directory, for anyone to read)" : "no (the "
	    "released values stay with the analyst)");
	fprintf(f, "rho: %s asked; the most one data-month pays %s\n",
	    rho_format(p.rho_nano, t[0]), rho_format(p.rho_max_nano, t[1]));
	fprintf(f, "released_variance: %" PRIu64 " per cell (n sigma_h^2 = %"
	    PRIu32 " x %" PRIu64 "; the honest nodes alone reach sigma^2 = %"
	    PRIu64 ")\n", p.req.variance, p.n, p.req.sigma_h2, p.req.sigma2);
	fprintf(f, "ci95_halfwidth: %" PRIu64 " (exact: P(|noise| > w) <= "
	    "0.05, the same for every cell)\n", p.ci95_halfwidth);
	query_format_number(p.delta, num[0]);
	query_format_number(round(p.eps_tight * 1e4) / 1e4, num[1]);
	fprintf(f, "epsilon: %s at delta %s (tight", num[1], num[0]);
	query_format_number(round(p.eps_simple * 1e4) / 1e4, num[1]);
	fprintf(f, "; simple bound %s), per subscriber and data-month\n",
	    num[1]);
	fprintf(f, "charges: each participant, per data-month%s\n",
	    b != NULL ? " (budgets from the log, proven)" : " (budgets not "
	    "read here: `cairn query plan` with the identity options reads "
	    "them from the log)");
	fprintf(f, "  %-20s %-8s %-14s %-14s %-14s %s\n", "holder", "month",
	    "charge", "budget", "spent", "left_after");
	for (size_t i = 0; i < a->nparts; i++) {
		const struct query_budget_holder *h = b != NULL ?
		    query_budgets_holder(b, a->parts[i]) : NULL;

		for (size_t m = 0; m < p.req.nmonths; m++) {
			uint32_t ym = (uint32_t)(p.req.month[m] / 12) * 100 +
			    (uint32_t)(p.req.month[m] % 12) + 1;
			char mt[16];

			month_text(p.req.month[m], mt);
			rho_format(p.req.rho_nano[m], t[0]);
			if (h == NULL) {
				fprintf(f, "  %-20s %-8s %-14s %-14s %-14s "
				    "%s\n", a->parts[i], mt, t[0], "-", "-",
				    b != NULL ? "- (no POLICY logged)" : "-");
				continue;
			}
			{
				uint64_t spent = query_budgets_spent(b,
				    a->parts[i], ym);
				uint64_t after = spent + p.req.rho_nano[m];
				bool over = after > h->budget_nano;

				rho_format(h->budget_nano, t[1]);
				rho_format(spent, t[2]);
				if (!over)
					rho_format(h->budget_nano - after,
					    t[3]);
				fprintf(f, "  %-20s %-8s %-14s %-14s %-14s "
				    "%s%s\n", a->parts[i], mt, t[0], t[1],
				    t[2], over ? "OVER BUDGET" : t[3],
				    query_budget_holds(h, ym) ? "" :
				    " (NOT HELD: no data for this month)");
			}
		}
	}
	return CAIRN_OK;
}

/* json_object_set_new() that notes a failure in '*bad'. */
static void
jset(json_t *o, const char *k, json_t *v, bool *bad)
{
	if (v == NULL || json_object_set_new(o, k, v) != 0)
		*bad = true;
}

/*
 * The plan of query_plan_summary() as one JSON object ("cairn query plan
 * --format json", docs/analyst.md): the same figures, ρ as exact nano-ρ
 * integers beside their decimal text, a budget figure null where no
 * POLICY was read.
 */
static int
plan_json(const struct ctx *c, const struct query_ask *a,
    const struct query_budgets *b, FILE *f)
{
	struct query_plan p;
	char t[RHO_TEXT_MAX], from[TIME_DATE_LEN], to[TIME_DATE_LEN];
	size_t nregions;
	int64_t d0, d1;
	json_t *o, *ch;
	bool bad = false;
	int r;

	if ((r = plan_regions(c, &nregions)) != CAIRN_OK ||
	    (r = query_plan_compute(&a->spec, a->rho_nano,
	    (uint32_t)a->nparts, a->colluding, a->holders, nregions,
	    QUERY_DEFAULT_DELTA, &p)) != CAIRN_OK)
		return r;
	qspec_span(&a->spec, &d0, &d1);
	(void)time_format_date(d0, from);
	(void)time_format_date(d1, to);
	if ((o = json_object()) == NULL || (ch = json_array()) == NULL) {
		json_decref(o);
		return CAIRN_ERR_NOMEM;
	}
	jset(o, "kind", json_string(qspec_kind_name(a->spec.kind)), &bad);
	jset(o, "from", json_string(from), &bad);
	jset(o, "to", json_string(to), &bad);
	jset(o, "geography", json_string(c->o[O_GEO]), &bad);
	jset(o, "regions", json_integer((json_int_t)nregions), &bad);
	jset(o, "cells", json_integer((json_int_t)p.cells), &bad);
	jset(o, "participants", json_integer(p.n), &bad);
	jset(o, "colluding", json_integer(p.c), &bad);
	jset(o, "holders", json_integer(p.h), &bad);
	jset(o, "publish", json_boolean(a->publish), &bad);
	jset(o, "rho", json_string(rho_format(p.rho_nano, t)), &bad);
	jset(o, "rho_nano", json_integer((json_int_t)p.rho_nano), &bad);
	jset(o, "rho_max_nano", json_integer((json_int_t)p.rho_max_nano),
	    &bad);
	jset(o, "released_variance", json_integer((json_int_t)
	    p.req.variance), &bad);
	jset(o, "sigma_h2", json_integer((json_int_t)p.req.sigma_h2), &bad);
	jset(o, "sigma2", json_integer((json_int_t)p.req.sigma2), &bad);
	jset(o, "ci95_halfwidth", json_integer((json_int_t)p.ci95_halfwidth),
	    &bad);
	jset(o, "delta", json_real(p.delta), &bad);
	jset(o, "epsilon_tight", json_real(p.eps_tight), &bad);
	jset(o, "epsilon_simple", json_real(p.eps_simple), &bad);
	jset(o, "budgets_read", json_boolean(b != NULL), &bad);
	for (size_t i = 0; i < a->nparts; i++) {
		const struct query_budget_holder *h = b != NULL ?
		    query_budgets_holder(b, a->parts[i]) : NULL;

		for (size_t m = 0; m < p.req.nmonths; m++) {
			uint32_t ym = (uint32_t)(p.req.month[m] / 12) * 100 +
			    (uint32_t)(p.req.month[m] % 12) + 1;
			json_t *e = json_object();
			char mt[16];

			month_text(p.req.month[m], mt);
			if (e == NULL || json_array_append_new(ch, e) != 0) {
				bad = true;
				break;
			}
			jset(e, "holder", json_string(a->parts[i]), &bad);
			jset(e, "month", json_string(mt), &bad);
			jset(e, "rho", json_string(rho_format(p.req.rho_nano[m],
			    t)), &bad);
			jset(e, "rho_nano", json_integer((json_int_t)
			    p.req.rho_nano[m]), &bad);
			if (h == NULL) {
				jset(e, "budget_nano", json_null(), &bad);
				jset(e, "spent_nano", json_null(), &bad);
				jset(e, "left_after_nano", json_null(), &bad);
				jset(e, "over_budget", json_null(), &bad);
				jset(e, "held", json_null(), &bad);
				continue;
			}
			{
				uint64_t spent = query_budgets_spent(b,
				    a->parts[i], ym);
				uint64_t after = spent + p.req.rho_nano[m];
				bool over = after > h->budget_nano;

				jset(e, "budget_nano", json_integer((json_int_t)
				    h->budget_nano), &bad);
				jset(e, "spent_nano", json_integer((json_int_t)
				    spent), &bad);
				jset(e, "left_after_nano", over ? json_null() :
				    json_integer((json_int_t)(h->budget_nano -
				    after)), &bad);
				jset(e, "over_budget", json_boolean(over), &bad);
				jset(e, "held", json_boolean(
				    query_budget_holds(h, ym)), &bad);
			}
		}
	}
	jset(o, "charges", ch, &bad);
	if (!bad && json_dumpf(o, f, JSON_INDENT(2) | JSON_REAL_PRECISION(17))
	    != 0)
		bad = true;
	if (!bad)
		fputc('\n', f);
	json_decref(o);
	return bad ? cairn_err(CAIRN_ERR_NOMEM, "plan as JSON") : CAIRN_OK;
}

const char query_plan_usage[] =
    "(--spec Q.json | --kind K [--start D --end D --bucket day|hour --k N\n"
    "    --utc-offset M --night-start H --night-end H --baseline D,D\n"
    "    --comparison D,D --categories a,b,... --min-nights N])\n"
    "    --geography G --rho R\n"
    "    --participants a,b,c --colluding C [--holders H]\n"
    "    --regions regions.csv [--purpose TEXT] [--id QUERY_ID]\n"
    "    [--publish] [--format text|json] [IDENTITY]\n\n"
    "Print, before anything is sent, what `cairn query submit` with the\n"
    "same spec and flags would cost and give: the released variance per\n"
    "cell, the exact 95% half-width, epsilon at delta 1e-06, each\n"
    "participant's charge per data-month (the coordinator's and the\n"
    "nodes' own computation), and with IDENTITY (--config analyst.conf,\n"
    "or --ca --tls-cert --tls-key --coordinator --federation) each\n"
    "budget, spent and left after, read from the log and proven.\n"
    "--regions is the geography's regions file (checked against the hash\n"
    "federation.conf pins); it gives the number of cells.  --format json\n"
    "prints the same figures as one JSON object (rho in exact nano-rho).\n";

int
query_cmd_plan(struct ctx *c)
{
	struct query_ask a;
	struct query_budgets b;
	struct transport_client *cl = NULL;
	bool have_b = false;
	int r;

	memset(&b, 0, sizeof(b));
	if (c->o[O_FORMAT] != NULL && strcmp(c->o[O_FORMAT], "text") != 0 &&
	    strcmp(c->o[O_FORMAT], "json") != 0)
		return fail(c, cairn_err(CAIRN_ERR_ARG, "--format '%s': "
		    "text or json", c->o[O_FORMAT]));
	if ((r = query_ask_parse(c, &a)) != CAIRN_OK)
		goto out;
	if (c->o[O_COORD] != NULL) {
		if ((r = query_connect(c, &cl)) != CAIRN_OK ||
		    (r = need(c, O_FED)) != CAIRN_OK ||
		    (r = query_budgets_fetch(c, cl, RESULT_WAIT_DEFAULT_S,
		    &b)) != CAIRN_OK)
			goto out;
		have_b = true;
	}
	if ((r = c->o[O_FORMAT] != NULL && strcmp(c->o[O_FORMAT], "json") ==
	    0 ? plan_json(c, &a, have_b ? &b : NULL, stdout) :
	    query_plan_summary(c, &a, have_b ? &b : NULL, stdout)) !=
	    CAIRN_OK)
		goto out;
	if (fflush(stdout) != 0)
		r = cairn_err(CAIRN_ERR_IO, "stdout: %s", strerror(errno));
out:
	transport_client_free(cl);
	query_budgets_release(&b);
	query_ask_release(&a);
	return r == CAIRN_OK ? 0 : fail(c, r);
}
