/*
 * cmd_privacy.c - `cairn privacy sample|plan`: draw noise from the exact
 * samplers (for testing them from outside), and plan a query's noise,
 * interval and (eps, delta) for a target rho.  `privacy plan` is the
 * accountant's calculator for one query shape; the analyst's planner for
 * a query to submit is `cairn query plan` (query/query_plan.c), which
 * takes submit's spec and flags.
 *
 * `sample` reads the CSPRNG; only its --seed option selects the
 * deterministic test source, and it says so on stderr.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/cli.h"
#include "common/err.h"
#include "common/rho.h"
#include "common/timeutil.h"
#include "privacy/dp.h"

#define SAMPLE_PROG	"cairn privacy sample"
#define PLAN_PROG	"cairn privacy plan"
#define COUNT_MAX	1000000000ULL
#define CHUNK		4096

/* One "--name value" or "--name=value" option. */
struct opt {
	const char	*name;
	const char	*value;
};

/*
 * Split argv[1..] into options named in 'names'.  Returns CAIRN_OK, or
 * CAIRN_ERR_ARG with the offending argument in the detail.
 */
static int
parse_opts(int argc, char **argv, struct opt *opts, size_t n)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *eq, *val;
		size_t len, j;

		if (strncmp(a, "--", 2) != 0)
			return cairn_err(CAIRN_ERR_ARG, "unexpected argument "
			    "'%s'", a);
		eq = strchr(a, '=');
		len = eq != NULL ? (size_t)(eq - a) : strlen(a);
		for (j = 0; j < n; j++)
			if (strlen(opts[j].name) == len &&
			    strncmp(a, opts[j].name, len) == 0)
				break;
		if (j == n)
			return cairn_err(CAIRN_ERR_ARG, "unknown option '%.*s'",
			    (int)len, a);
		if (eq != NULL)
			val = eq + 1;
		else if (i + 1 < argc)
			val = argv[++i];
		else
			return cairn_err(CAIRN_ERR_ARG, "option %s needs a "
			    "value", opts[j].name);
		if (opts[j].value != NULL)
			return cairn_err(CAIRN_ERR_ARG, "option %s given twice",
			    opts[j].name);
		opts[j].value = val;
	}
	return CAIRN_OK;
}

static int
parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (s[0] < '0' || s[0] > '9')
		return cairn_err(CAIRN_ERR_FORMAT, "'%s' is not a "
		    "non-negative integer", s);
	v = strtoull(s, &end, 10);
	if (*end != '\0')
		return cairn_err(CAIRN_ERR_FORMAT, "'%s' is not a "
		    "non-negative integer", s);
	if (errno == ERANGE || v > max)
		return cairn_err(CAIRN_ERR_RANGE, "%s is above %llu", s,
		    (unsigned long long)max);
	*out = v;
	return CAIRN_OK;
}

static int
parse_double(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v))
		return cairn_err(CAIRN_ERR_FORMAT, "'%s' is not a finite "
		    "number", s);
	*out = v;
	return CAIRN_OK;
}

static int
parse_seed(const char *s, uint8_t seed[static 32])
{
	if (strlen(s) != 64)
		return cairn_err(CAIRN_ERR_FORMAT, "need 64 hex digits, "
		    "got %zu characters", strlen(s));
	for (size_t i = 0; i < 32; i++) {
		unsigned v = 0;

		for (size_t j = 0; j < 2; j++) {
			char c = s[2 * i + j];

			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v |= (unsigned)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				v |= (unsigned)(c - 'A' + 10);
			else
				return cairn_err(CAIRN_ERR_FORMAT,
				    "'%c' is not a hex digit", c);
		}
		seed[i] = (uint8_t)v;
	}
	return CAIRN_OK;
}

static void
sample_usage(FILE *f)
{
	fprintf(f,
	    "usage: " SAMPLE_PROG " --mechanism dgauss --sigma2 X --count N "
	    "[--seed HEX]\n"
	    "\n"
	    "Print N exact noise samples, one integer per line.\n"
	    "  dgauss    discrete Gaussian, P(x) ~ exp(-x^2 / (2 X))\n"
	    "X is an integer P, a fraction P/Q or a decimal I.F (exact).\n"
	    "Randomness comes from the CSPRNG; --seed (64 hex digits) selects\n"
	    "the deterministic ChaCha20 test source instead (never for real "
	    "noise).\n");
}

/* Print 'n' integers, one per line; false on a write error. */
static bool
print_ints(const int64_t *v, size_t n)
{
	char line[32];

	for (size_t i = 0; i < n; i++) {
		int len = snprintf(line, sizeof(line), "%" PRId64 "\n", v[i]);

		if (fwrite(line, 1, (size_t)len, stdout) != (size_t)len)
			return false;
	}
	return true;
}

static int
cmd_sample(int argc, char **argv)
{
	struct opt o[] = {
		{ "--mechanism", NULL }, { "--sigma2", NULL },
		{ "--count", NULL }, { "--seed", NULL },
	};
	const char *mech, *what;
	struct dp_rng *rng = NULL;
	struct dp_rat x;
	int64_t buf[CHUNK];
	uint64_t count;
	uint8_t seed[32];
	int r, rc = 1;

	if (argc == 2 && cli_is_help(argv[1])) {
		sample_usage(stdout);
		return 0;
	}
	if ((r = parse_opts(argc, argv, o, sizeof(o) / sizeof(o[0]))) !=
	    CAIRN_OK)
		return cli_fail(SAMPLE_PROG, "arguments", r);
	/*
	 * Only the discrete Gaussian: the product offers no pure-epsilon
	 * policy, so the discrete Laplace stays inside the Gaussian sampler
	 * (docs/privacy.md).
	 */
	if ((mech = o[0].value) == NULL)
		return cli_fail(SAMPLE_PROG, "--mechanism", cairn_err(
		    CAIRN_ERR_ARG, "missing (dgauss)"));
	if (strcmp(mech, "dgauss") != 0)
		return cli_fail(SAMPLE_PROG, "--mechanism", cairn_err(
		    CAIRN_ERR_ARG, "unknown mechanism '%s' (dgauss)", mech));
	what = "--sigma2";
	if (o[1].value == NULL)
		return cli_fail(SAMPLE_PROG, what, cairn_err(CAIRN_ERR_ARG,
		    "missing"));
	if ((r = dp_rat_parse(o[1].value, &x)) != CAIRN_OK)
		return cli_fail(SAMPLE_PROG, what, r);
	if ((r = dp_dgauss_check(x)) != CAIRN_OK)
		return cli_fail(SAMPLE_PROG, what, r);
	if (o[2].value == NULL)
		return cli_fail(SAMPLE_PROG, "--count", cairn_err(CAIRN_ERR_ARG,
		    "missing"));
	if ((r = parse_u64(o[2].value, COUNT_MAX, &count)) !=
	    CAIRN_OK)
		return cli_fail(SAMPLE_PROG, "--count", r);
	if (o[3].value != NULL) {
		if ((r = parse_seed(o[3].value, seed)) != CAIRN_OK)
			return cli_fail(SAMPLE_PROG, "--seed", r);
		fprintf(stderr, SAMPLE_PROG ": using the deterministic test "
		    "source (ChaCha20 keystream from --seed), not the CSPRNG; "
		    "never use these samples as real noise\n");
		r = dp_rng_new_seeded(&rng, seed);
	} else
		r = dp_rng_new_csprng(&rng);
	if (r != CAIRN_OK)
		return cli_fail(SAMPLE_PROG, "randomness", r);
	while (count > 0) {
		size_t n = count < CHUNK ? (size_t)count : CHUNK;

		r = dp_dgauss_fill(rng, x, buf, n);
		if (r != CAIRN_OK) {
			cli_fail(SAMPLE_PROG, mech, r);
			goto out;
		}
		if (!print_ints(buf, n))
			break;
		count -= n;
	}
	if (fflush(stdout) != 0 || ferror(stdout) || count > 0) {
		cli_fail(SAMPLE_PROG, "stdout", cairn_err(CAIRN_ERR_IO,
		    "%s", strerror(errno)));
		goto out;
	}
	rc = 0;
out:
	sodium_memzero(buf, sizeof(buf));
	sodium_memzero(seed, sizeof(seed));
	dp_rng_free(rng);
	return rc;
}

static void
plan_usage(FILE *f)
{
	fprintf(f,
	    "usage: " PLAN_PROG " --kind K --rho R [--delta D] [--days B] "
	    "[--k K]\n"
	    "           [--holders H] --nodes N --colluding C\n"
	    "       " PLAN_PROG " --kind K --rho R --start DATE --end DATE\n"
	    "           [--offset MIN] [--bucket day|hour] [--cells D] ...\n"
	    "       " PLAN_PROG " --kind migration --rho R --baseline FROM,TO\n"
	    "           --comparison FROM,TO [--offset MIN] ...\n"
	    "       " PLAN_PROG " --kind displacement --rho R --baseline "
	    "FROM,TO\n"
	    "           --start DATE --end DATE [--offset MIN] ...\n"
	    "\n"
	    "Plan the discrete Gaussian noise of one query of kind K\n"
	    "(presence, residents, od, migration, visitors,\n"
	    "population_by_category, displacement) that costs rho (zCDP):\n"
	    "the sensitivity, sigma2 = delta2^2 / (2 rho) rounded up, each\n"
	    "node's sigma_h2 = max(4, ceil(sigma2 / (N - C))), the released\n"
	    "variance\n"
	    "N sigma_h2 and its 95%% half-width, and the (eps, delta) of rho,\n"
	    "tight and simple.  With a window (local dates, end excluded, at\n"
	    "UTC offset MIN minutes), the plan is the one the federation\n"
	    "charges: each UTC data-month's delta_m^2 and rho_m, sigma2 from\n"
	    "the largest, over an output of D cells (default 1).\n"
	    "Defaults: --delta 1e-6, --days 1, --k 1, --holders 1,\n"
	    "--offset 0, --bucket day.\n"
	    "\n"
	    "This is the accountant's calculator, for one query shape on\n"
	    "its own (no spec, no geography, no federation).  To plan a\n"
	    "query you will submit, use `cairn query plan`: it takes\n"
	    "exactly `cairn query submit`'s spec and flags, counts the cells\n"
	    "from the geography and prints each holder's charge and budget\n"
	    "as the nodes will see them.\n");
}

/* "YYYY-MM-DD,YYYY-MM-DD" into local days [*d0, *d1). */
static int
parse_range(const char *s, int64_t *d0, int64_t *d1)
{
	char a[16];
	const char *comma = strchr(s, ',');

	if (comma == NULL || (size_t)(comma - s) >= sizeof(a))
		return cairn_err(CAIRN_ERR_FORMAT, "'%s' is not FROM,TO", s);
	memcpy(a, s, (size_t)(comma - s));
	a[comma - s] = '\0';
	if (time_parse_date(a, d0) != CAIRN_OK ||
	    time_parse_date(comma + 1, d1) != CAIRN_OK)
		return cairn_err(CAIRN_ERR_FORMAT, "'%s' is not "
		    "YYYY-MM-DD,YYYY-MM-DD", s);
	return CAIRN_OK;
}

/*
 * The plan of a query over a window: dp_requirement() (the charge each
 * UTC data-month pays), as the node, the coordinator and the audit
 * compute it.  'o' holds every option of cmd_plan in its order.
 */
static int
plan_window(enum dp_kind kind, uint64_t rho_nano, double delta,
    const struct dp_query_shape *shape, uint32_t nodes, uint32_t coll,
    const struct opt *o)
{
	struct dp_query q;
	struct dp_requirement req;
	uint64_t cells = 1, v, w, most = 0, maxd = 0;
	char rt[2][RHO_TEXT_MAX];
	double rho_honest, rho_all, rho_m, eps_t, eps_s;
	char from[TIME_DATE_LEN], to[TIME_DATE_LEN];
	int r;

	memset(&q, 0, sizeof(q));
	q.kind = kind;
	q.k = shape->k;
	q.holders = shape->holders;
	if (o[3].value != NULL)
		return cli_fail(PLAN_PROG, "--days", cairn_err(CAIRN_ERR_ARG,
		    "a window gives the days: leave --days out"));
	if (kind == DP_KIND_DISPLACEMENT) {
		/* The observation days are --start/--end, the home's
		   window --baseline. */
		if (o[8].value == NULL || o[9].value == NULL ||
		    o[12].value == NULL || o[13].value != NULL)
			return cli_fail(PLAN_PROG, "--baseline", cairn_err(
			    CAIRN_ERR_ARG, "displacement takes --baseline "
			    "FROM,TO and --start/--end (the observation days), "
			    "not --comparison"));
		if ((r = parse_range(o[12].value, &q.base0, &q.base1)) !=
		    CAIRN_OK)
			return cli_fail(PLAN_PROG, "--baseline", r);
		if ((r = time_parse_date(o[8].value, &q.comp0)) != CAIRN_OK)
			return cli_fail(PLAN_PROG, "--start", r);
		if ((r = time_parse_date(o[9].value, &q.comp1)) != CAIRN_OK)
			return cli_fail(PLAN_PROG, "--end", r);
		q.day0 = q.base0 < q.comp0 ? q.base0 : q.comp0;
		q.day1 = q.base1 > q.comp1 ? q.base1 : q.comp1;
	} else if (kind == DP_KIND_MIGRATION) {
		if (o[12].value == NULL || o[13].value == NULL ||
		    o[8].value != NULL || o[9].value != NULL)
			return cli_fail(PLAN_PROG, "--baseline", cairn_err(
			    CAIRN_ERR_ARG, "migration takes --baseline and "
			    "--comparison (FROM,TO), not --start/--end"));
		if ((r = parse_range(o[12].value, &q.base0, &q.base1)) !=
		    CAIRN_OK)
			return cli_fail(PLAN_PROG, "--baseline", r);
		if ((r = parse_range(o[13].value, &q.comp0, &q.comp1)) !=
		    CAIRN_OK)
			return cli_fail(PLAN_PROG, "--comparison", r);
		q.day0 = q.base0 < q.comp0 ? q.base0 : q.comp0;
		q.day1 = q.base1 > q.comp1 ? q.base1 : q.comp1;
	} else {
		if (o[8].value == NULL || o[9].value == NULL ||
		    o[12].value != NULL || o[13].value != NULL)
			return cli_fail(PLAN_PROG, "--start", cairn_err(
			    CAIRN_ERR_ARG, "%s takes --start and --end "
			    "(YYYY-MM-DD, end excluded)", dp_kind_name(kind)));
		if ((r = time_parse_date(o[8].value, &q.day0)) != CAIRN_OK)
			return cli_fail(PLAN_PROG, "--start", r);
		if ((r = time_parse_date(o[9].value, &q.day1)) != CAIRN_OK)
			return cli_fail(PLAN_PROG, "--end", r);
	}
	if (o[10].value != NULL) {
		const char *s = o[10].value;
		bool neg = s[0] == '-';

		if ((r = parse_u64(s + (neg || s[0] == '+'), DP_MAX_OFFSET,
		    &v)) != CAIRN_OK)
			return cli_fail(PLAN_PROG, "--offset", r);
		q.utc_offset_min = neg ? -(int32_t)v : (int32_t)v;
	}
	if (o[11].value != NULL) {
		if (strcmp(o[11].value, "hour") == 0)
			q.hour = true;
		else if (strcmp(o[11].value, "day") != 0)
			return cli_fail(PLAN_PROG, "--bucket", cairn_err(
			    CAIRN_ERR_ARG, "'%s' is not day or hour",
			    o[11].value));
	}
	if (o[14].value != NULL &&
	    (r = parse_u64(o[14].value, DP_MAX_CELLS, &cells)) != CAIRN_OK)
		return cli_fail(PLAN_PROG, "--cells", r);
	if ((r = dp_requirement(&q, rho_nano, nodes, coll, cells, &req)) !=
	    CAIRN_OK)
		return cli_fail(PLAN_PROG, "plan", r);
	for (size_t i = 0; i < req.nmonths; i++) {
		if (req.rho_nano[i] > most)
			most = req.rho_nano[i];
		if (req.delta2_sq[i] > maxd)
			maxd = req.delta2_sq[i];
	}
	rho_m = (double)most / (double)DP_NANO;
	if ((r = dp_ci95_halfwidth(req.variance, &w)) != CAIRN_OK)
		return cli_fail(PLAN_PROG, "interval", r);
	if ((r = dp_rho_from_sigma2(maxd, (struct dp_rat){ req.sigma_h2 *
	    (nodes - coll), 1 }, &rho_honest)) != CAIRN_OK ||
	    (r = dp_rho_from_sigma2(maxd, (struct dp_rat){ req.variance, 1 },
	    &rho_all)) != CAIRN_OK ||
	    (r = dp_eps_from_rho_tight(rho_m, delta, &eps_t)) != CAIRN_OK ||
	    (r = dp_eps_from_rho_simple(rho_m, delta, &eps_s)) != CAIRN_OK)
		return cli_fail(PLAN_PROG, "accounting", r);
	if (!time_format_date(q.day0, from) || !time_format_date(q.day1, to))
		return cli_fail(PLAN_PROG, "window", cairn_err(CAIRN_ERR_RANGE,
		    "dates out of range"));
	printf("kind:               %s (k = %u, %s buckets, %s to %s "
	    "excluded at UTC%+d min, holders = %u)\n", dp_kind_name(kind), q.k,
	    q.hour ? "hour" : "day", from, to, (int)q.utc_offset_min,
	    q.holders);
	printf("months:             %zu (UTC data-months read)\n",
	    req.nmonths);
	for (size_t i = 0; i < req.nmonths; i++)
		printf("month %04d-%02d:      delta_m^2 = %" PRIu64 ", rho_m = "
		    "%s\n", (int)(req.month[i] / 12),
		    (int)(req.month[i] % 12) + 1, req.delta2_sq[i],
		    rho_format(req.rho_nano[i], rt[0]));
	printf("delta2:             %.6f (the largest month's, delta2^2 = %"
	    PRIu64 ")\n", sqrt((double)maxd), maxd);
	printf("rho:                %s asked, %s the most a month pays\n",
	    rho_format(rho_nano, rt[0]), rho_format(most, rt[1]));
	printf("kls21_extra:        %" PRIu64 " nano-rho in every month "
	    "(%" PRIu64 " cells)\n", req.extra_nano, cells);
	printf("sigma2:             %" PRIu64 " (delta2^2 / (2 (rho - "
	    "extra)), rounded up)\n", req.sigma2);
	printf("nodes:              %u (colluding %u, honest %u)\n", nodes,
	    coll, nodes - coll);
	printf("sigma_h2:           %" PRIu64 " (each node)\n", req.sigma_h2);
	printf("released_variance:  %" PRIu64 "\n", req.variance);
	printf("released_sigma:     %.3f\n", sqrt((double)req.variance));
	printf("ci95_halfwidth:     %" PRIu64 " (P(|noise| > w) <= 0.05)\n", w);
	printf("rho_honest:         %.6g (honest nodes' noise alone)\n",
	    rho_honest);
	printf("rho_no_collusion:   %.6g (all nodes' noise)\n", rho_all);
	printf("eps_tight:          %.3f (delta = %g)\n", eps_t, delta);
	printf("eps_simple:         %.3f (delta = %g)\n", eps_s, delta);
	if (fflush(stdout) != 0)
		return cli_fail(PLAN_PROG, "stdout", cairn_err(CAIRN_ERR_IO,
		    "%s", strerror(errno)));
	return 0;
}

static int
cmd_plan(int argc, char **argv)
{
	struct opt o[] = {
		{ "--kind", NULL }, { "--rho", NULL }, { "--delta", NULL },
		{ "--days", NULL }, { "--k", NULL }, { "--holders", NULL },
		{ "--nodes", NULL }, { "--colluding", NULL },
		{ "--start", NULL }, { "--end", NULL }, { "--offset", NULL },
		{ "--bucket", NULL }, { "--baseline", NULL },
		{ "--comparison", NULL }, { "--cells", NULL },
	};
	struct dp_query_shape shape = { 1, 1, 1 };
	struct dp_sensitivity sens;
	enum dp_kind kind;
	double rho, delta = 1e-6, rho_honest, rho_all, eps_t, eps_s;
	uint64_t rho_nano;
	char rtext[RHO_TEXT_MAX];
	uint64_t v, sigma2, sigma_h2, variance, w;
	uint32_t nodes = 0, coll = 0;
	int r;

	if (argc == 2 && cli_is_help(argv[1])) {
		plan_usage(stdout);
		return 0;
	}
	if ((r = parse_opts(argc, argv, o, sizeof(o) / sizeof(o[0]))) !=
	    CAIRN_OK)
		return cli_fail(PLAN_PROG, "arguments", r);
	for (size_t i = 0; i < sizeof(o) / sizeof(o[0]); i++) {
		bool required = i == 0 || i == 1 || i == 6 || i == 7;

		if (required && o[i].value == NULL)
			return cli_fail(PLAN_PROG, o[i].name, cairn_err(
			    CAIRN_ERR_ARG, "missing"));
	}
	if ((r = dp_kind_parse(o[0].value, &kind)) != CAIRN_OK)
		return cli_fail(PLAN_PROG, "--kind", r);
	/* Exactly the nano-ρ the node would charge (common/rho.h). */
	if ((r = rho_parse_field("--rho", o[1].value, &rho_nano)) != CAIRN_OK)
		return cli_fail(PLAN_PROG, "--rho", r);
	rho = rho_to_double(rho_nano);
	if (o[2].value != NULL &&
	    (r = parse_double(o[2].value, &delta)) != CAIRN_OK)
		return cli_fail(PLAN_PROG, "--delta", r);
	if (!(delta > 0 && delta < 1))
		return cli_fail(PLAN_PROG, "--delta", cairn_err(CAIRN_ERR_ARG,
		    "%g must be in (0, 1)", delta));
	for (size_t i = 3; i <= 7; i++) {
		if (o[i].value == NULL)
			continue;
		if ((r = parse_u64(o[i].value, UINT32_MAX, &v)) !=
		    CAIRN_OK)
			return cli_fail(PLAN_PROG, o[i].name, r);
		switch (i) {
		case 3: shape.buckets = (uint32_t)v; break;
		case 4: shape.k = (uint32_t)v; break;
		case 5: shape.holders = (uint32_t)v; break;
		case 6: nodes = (uint32_t)v; break;
		default: coll = (uint32_t)v; break;
		}
	}
	if (o[8].value != NULL || o[9].value != NULL || o[12].value != NULL ||
	    o[13].value != NULL)
		return plan_window(kind, rho_nano, delta, &shape, nodes, coll, o);
	for (size_t i = 10; i < sizeof(o) / sizeof(o[0]); i++)
		if (o[i].value != NULL)
			return cli_fail(PLAN_PROG, o[i].name, cairn_err(
			    CAIRN_ERR_ARG, "needs a window (--start and --end, "
			    "or --baseline and --comparison)"));
	if ((r = dp_sensitivity(kind, &shape, &sens)) != CAIRN_OK)
		return cli_fail(PLAN_PROG, "sensitivity", r);
	if ((r = dp_sigma2_from_rho_nano(sens.delta2_sq, rho_nano, &sigma2)) !=
	    CAIRN_OK)
		return cli_fail(PLAN_PROG, "--rho", r);
	if ((r = dp_sigma2_per_node((struct dp_rat){ sigma2, 1 }, nodes, coll,
	    &sigma_h2)) != CAIRN_OK)
		return cli_fail(PLAN_PROG, "--nodes/--colluding", r);
	if ((r = dp_released_variance(sigma_h2, nodes, &variance)) != CAIRN_OK)
		return cli_fail(PLAN_PROG, "--nodes", r);
	if ((r = dp_ci95_halfwidth(variance, &w)) != CAIRN_OK)
		return cli_fail(PLAN_PROG, "interval", r);
	if ((r = dp_rho_from_sigma2(sens.delta2_sq, (struct dp_rat){
	    sigma_h2 * (nodes - coll), 1 }, &rho_honest)) != CAIRN_OK ||
	    (r = dp_rho_from_sigma2(sens.delta2_sq, (struct dp_rat){
	    variance, 1 }, &rho_all)) != CAIRN_OK ||
	    (r = dp_eps_from_rho_tight(rho, delta, &eps_t)) != CAIRN_OK ||
	    (r = dp_eps_from_rho_simple(rho, delta, &eps_s)) != CAIRN_OK)
		return cli_fail(PLAN_PROG, "accounting", r);

	printf("kind:               %s (k = %u, buckets = %u, holders = %u)\n",
	    dp_kind_name(kind), shape.k, shape.buckets, shape.holders);
	printf("delta1:             %" PRIu64 "\n", sens.delta1);
	printf("delta2:             %.6f (delta2^2 = %" PRIu64 ")\n",
	    sqrt((double)sens.delta2_sq), sens.delta2_sq);
	printf("rho:                %s (charged to each data-month read)\n",
	    rho_format(rho_nano, rtext));
	printf("sigma2:             %" PRIu64 " (delta2^2 / (2 rho), rounded "
	    "up)\n", sigma2);
	printf("nodes:              %u (colluding %u, honest %u)\n", nodes,
	    coll, nodes - coll);
	printf("sigma_h2:           %" PRIu64 " (each node)\n", sigma_h2);
	printf("released_variance:  %" PRIu64 "\n", variance);
	printf("released_sigma:     %.3f\n", sqrt((double)variance));
	printf("ci95_halfwidth:     %" PRIu64 " (P(|noise| > w) <= 0.05)\n", w);
	printf("rho_honest:         %.6g (honest nodes' noise alone)\n",
	    rho_honest);
	printf("rho_no_collusion:   %.6g (all nodes' noise)\n", rho_all);
	printf("eps_tight:          %.3f (delta = %g)\n", eps_t, delta);
	printf("eps_simple:         %.3f (delta = %g)\n", eps_s, delta);
	if (fflush(stdout) != 0)
		return cli_fail(PLAN_PROG, "stdout", cairn_err(CAIRN_ERR_IO,
		    "%s", strerror(errno)));
	return 0;
}

static const struct cli_cmd privacy_cmds[] = {
	{ "sample", cmd_sample, "print exact discrete Gaussian noise "
	    "samples" },
	{ "plan", cmd_plan, "plan sigma, the 95% interval and (eps, delta) "
	    "for a rho" },
};

int
dp_cmd_privacy(int argc, char **argv)
{
	return cli_dispatch("cairn privacy", privacy_cmds,
	    sizeof(privacy_cmds) / sizeof(privacy_cmds[0]), argc, argv);
}
