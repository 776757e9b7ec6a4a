/*
 * cmd_query.c - `cairn query`: the statistics office's client
 * (docs/analyst.md, cairn-query(1)).  submit, status, wait, result, list.
 * Identity options come from the command line or `--config analyst.conf`
 * ([analyst] section, docs/config.md); the command line wins.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "common/cli.h"
#include "common/config.h"
#include "common/err.h"
#include "common/file.h"
#include "common/rho.h"
#include "keys/keys.h"
#include "keys/keys_federation.h"
#include "protocol/cairn.pb-c.h"
#include "protocol/proto_client.h"
#include "protocol/proto_service.h"
#include "protocol/qspec.h"
#include "protocol/tlog.h"
#include "protocol/tlog_entry.h"
#include "protocol/tlog_member.h"
#include "protocol/tlog_note.h"
#include "protocol/transport.h"
#include "query/query.h"

#define PROG		"cairn query"
#define REFUSED		CAIRN__V1__QUERY_STATE__QUERY_STATE_REFUSED
#define CALL_MS		30000
#define WAIT_SLICE_MS	30000		/* one GetQuery long poll */
#define LIST_MAX	1000000
#define CATS_MAX_TEXT	(256 * 1024)

/* ------------------------------------------------------------ options */

enum opt {
	O_CONFIG, O_KEY, O_TLS_KEY, O_TLS_CERT, O_CA, O_COORD, O_FED,
	O_KIND, O_START, O_END, O_BUCKET, O_K, O_UTC, O_NIGHT_START,
	O_NIGHT_END, O_BASELINE, O_COMPARISON, O_SPEC, O_GEO, O_RHO,
	O_PURPOSE, O_PARTS, O_COLL, O_HOLDERS, O_ID, O_TIMEOUT, O_FORMAT,
	O_OUTPUT, O_REGIONS, O_CATS, O_DELTA, O_N
};

static const struct option opts[] = {
	{ "config", required_argument, NULL, 0 },
	{ "key", required_argument, NULL, 0 },
	{ "tls-key", required_argument, NULL, 0 },
	{ "tls-cert", required_argument, NULL, 0 },
	{ "ca", required_argument, NULL, 0 },
	{ "coordinator", required_argument, NULL, 0 },
	{ "federation", required_argument, NULL, 0 },
	{ "kind", required_argument, NULL, 0 },
	{ "start", required_argument, NULL, 0 },
	{ "end", required_argument, NULL, 0 },
	{ "bucket", required_argument, NULL, 0 },
	{ "k", required_argument, NULL, 0 },
	{ "utc-offset", required_argument, NULL, 0 },
	{ "night-start", required_argument, NULL, 0 },
	{ "night-end", required_argument, NULL, 0 },
	{ "baseline", required_argument, NULL, 0 },
	{ "comparison", required_argument, NULL, 0 },
	{ "spec", required_argument, NULL, 0 },
	{ "geography", required_argument, NULL, 0 },
	{ "rho", required_argument, NULL, 0 },
	{ "purpose", required_argument, NULL, 0 },
	{ "participants", required_argument, NULL, 0 },
	{ "colluding", required_argument, NULL, 0 },
	{ "holders", required_argument, NULL, 0 },
	{ "id", required_argument, NULL, 0 },
	{ "timeout", required_argument, NULL, 0 },
	{ "format", required_argument, NULL, 0 },
	{ "output", required_argument, NULL, 0 },
	{ "regions", required_argument, NULL, 0 },
	{ "categories", required_argument, NULL, 0 },
	{ "delta", required_argument, NULL, 0 },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* analyst.conf */
struct aconf {
	char	*key, *tls_key, *tls_cert, *ca, *coord, *fed;
};

static const struct config_key aconf_schema[] = {
	{ "analyst", "identity_key", CONFIG_STRING,
	    offsetof(struct aconf, key), false, 0, 0, 0, 0, NULL },
	{ "analyst", "tls_key", CONFIG_STRING,
	    offsetof(struct aconf, tls_key), false, 0, 0, 0, 0, NULL },
	{ "analyst", "tls_cert", CONFIG_STRING,
	    offsetof(struct aconf, tls_cert), false, 0, 0, 0, 0, NULL },
	{ "analyst", "ca_cert", CONFIG_STRING,
	    offsetof(struct aconf, ca), false, 0, 0, 0, 0, NULL },
	{ "analyst", "coordinator", CONFIG_STRING,
	    offsetof(struct aconf, coord), false, 0, 0, 0, 0, NULL },
	{ "analyst", "federation", CONFIG_STRING,
	    offsetof(struct aconf, fed), false, 0, 0, 0, 0, NULL },
};
#define ACONF_N	(sizeof(aconf_schema) / sizeof(aconf_schema[0]))

struct ctx {
	const char	*sub;		/* "submit" */
	const char	*o[O_N];
	const char	*arg;		/* the positional query id */
	struct aconf	 conf;
	bool		 have_conf;
};

/*
 * Parse argv: options anywhere, at most one positional argument.
 * Returns -1 to go on, else the exit code (0 after --help).
 */
static int
parse(struct ctx *c, int argc, char **argv, const char *usage)
{
	int ch, idx, r;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", opts, &idx)) != -1) {
		if (ch == 'h') {
			printf("usage: %s %s %s", PROG, c->sub, usage);
			return 0;
		}
		if (ch != 0) {
			fprintf(stderr, "%s: error: %s: unknown or incomplete "
			    "option '%s'\n", PROG, c->sub, argv[optind - 1]);
			return 1;
		}
		c->o[idx] = optarg;
	}
	if (optind < argc)
		c->arg = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "%s: error: %s: unexpected argument '%s'\n",
		    PROG, c->sub, argv[optind]);
		return 1;
	}
	if (c->o[O_CONFIG] != NULL) {
		memset(&c->conf, 0, sizeof(c->conf));
		c->have_conf = true;
		if ((r = config_load(c->o[O_CONFIG], aconf_schema, ACONF_N,
		    &c->conf)) != CAIRN_OK)
			return cli_fail(PROG, "config", r);
		if (c->o[O_KEY] == NULL)
			c->o[O_KEY] = c->conf.key;
		if (c->o[O_TLS_KEY] == NULL)
			c->o[O_TLS_KEY] = c->conf.tls_key;
		if (c->o[O_TLS_CERT] == NULL)
			c->o[O_TLS_CERT] = c->conf.tls_cert;
		if (c->o[O_CA] == NULL)
			c->o[O_CA] = c->conf.ca;
		if (c->o[O_COORD] == NULL)
			c->o[O_COORD] = c->conf.coord;
		if (c->o[O_FED] == NULL)
			c->o[O_FED] = c->conf.fed;
	}
	return -1;
}

static void
ctx_release(struct ctx *c)
{
	if (c->have_conf)
		config_release(aconf_schema, ACONF_N, &c->conf);
}

static int
fail(const struct ctx *c, int code)
{
	return cli_fail(PROG, c->sub, code);
}

static int
need(const struct ctx *c, enum opt o)
{
	if (c->o[o] != NULL)
		return CAIRN_OK;
	return cairn_err(CAIRN_ERR_ARG, "--%s is required", opts[o].name);
}

static int
connect_client(const struct ctx *c, struct transport_client **out)
{
	int r;

	if ((r = need(c, O_COORD)) != CAIRN_OK ||
	    (r = need(c, O_CA)) != CAIRN_OK ||
	    (r = need(c, O_TLS_CERT)) != CAIRN_OK ||
	    (r = need(c, O_TLS_KEY)) != CAIRN_OK)
		return r;
	return proto_client_open(c->o[O_COORD], c->o[O_CA], c->o[O_TLS_CERT],
	    c->o[O_TLS_KEY], c->o[O_FED], out);
}

static int
parse_u32(const char *s, const char *what, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || s[0] < '0' || s[0] > '9' || v > max)
		return cairn_err(CAIRN_ERR_ARG, "--%s: '%s' is not an integer "
		    "in [0, %" PRIu32 "]", what, s, max);
	*out = (uint32_t)v;
	return CAIRN_OK;
}

static int
parse_real(const char *s, const char *what, double *out)
{
	if (!config_parse_double(s, out))
		return cairn_err(CAIRN_ERR_ARG, "--%s: '%s' is not a number",
		    what, s);
	return CAIRN_OK;
}

/* Split "a,b,c" into a new array of new strings. */
static int
split_list(const char *s, const char *what, size_t max, char ***out,
    size_t *n)
{
	char **v = NULL, *copy;
	size_t k = 0;
	int r = CAIRN_OK;

	if ((copy = strdup(s)) == NULL)
		return cairn_err(CAIRN_ERR_NOMEM, "%s", what);
	if ((v = calloc(max + 1, sizeof(*v))) == NULL) {
		free(copy);
		return cairn_err(CAIRN_ERR_NOMEM, "%s", what);
	}
	for (char *p = copy, *comma; ; p = comma + 1) {
		comma = strchr(p, ',');
		if (comma != NULL)
			*comma = '\0';
		if (k == max) {
			r = cairn_err(CAIRN_ERR_ARG, "--%s: more than %zu "
			    "names", what, max);
			break;
		}
		if (*p == '\0') {
			r = cairn_err(CAIRN_ERR_ARG, "--%s: empty name", what);
			break;
		}
		if ((v[k++] = strdup(p)) == NULL) {
			r = cairn_err(CAIRN_ERR_NOMEM, "%s", what);
			break;
		}
		if (comma == NULL)
			break;
	}
	free(copy);
	if (r != CAIRN_OK) {
		for (size_t i = 0; i < k; i++)
			free(v[i]);
		free(v);
		return r;
	}
	*out = v;
	*n = k;
	return CAIRN_OK;
}

static void
free_list(char **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* "FROM,TO" into a JSON array. */
static int
json_range(json_t *o, const char *key, const char *s, const char *what)
{
	const char *comma = strchr(s, ',');
	char from[32];
	json_t *a;

	if (comma == NULL || (size_t)(comma - s) >= sizeof(from))
		return cairn_err(CAIRN_ERR_ARG, "--%s: expected FROM,TO", what);
	memcpy(from, s, (size_t)(comma - s));
	from[comma - s] = '\0';
	a = json_pack("[ss]", from, comma + 1);
	if (a == NULL || json_object_set_new(o, key, a) != 0)
		return cairn_err(CAIRN_ERR_NOMEM, "spec");
	return CAIRN_OK;
}

/* The spec from --spec FILE or from --kind and its fields. */
static int
build_spec(const struct ctx *c, struct qspec *q)
{
	static const struct { enum opt o; const char *key; bool num; } f[] = {
		{ O_START, "start", false }, { O_END, "end", false },
		{ O_BUCKET, "bucket", false }, { O_K, "k", true },
		{ O_UTC, "utc_offset_minutes", true },
		{ O_NIGHT_START, "night_start_hour", true },
		{ O_NIGHT_END, "night_end_hour", true },
	};
	json_t *o;
	char *text;
	int r = CAIRN_OK;

	if (c->o[O_SPEC] != NULL) {
		if (c->o[O_KIND] != NULL)
			return cairn_err(CAIRN_ERR_ARG, "--spec and --kind "
			    "exclude each other");
		return qspec_load_json(c->o[O_SPEC], q);
	}
	if (c->o[O_KIND] == NULL)
		return cairn_err(CAIRN_ERR_ARG, "--spec FILE or --kind K is "
		    "required");
	if ((o = json_object()) == NULL ||
	    json_object_set_new(o, "kind", json_string(c->o[O_KIND])) != 0) {
		json_decref(o);
		return cairn_err(CAIRN_ERR_NOMEM, "spec");
	}
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]) && r == CAIRN_OK;
	    i++) {
		const char *v = c->o[f[i].o];
		json_t *x;
		int64_t iv;

		if (v == NULL)
			continue;
		if (f[i].num) {
			if (!config_parse_int(v, &iv)) {
				r = cairn_err(CAIRN_ERR_ARG, "--%s: '%s' is "
				    "not an integer", opts[f[i].o].name, v);
				break;
			}
			x = json_integer((json_int_t)iv);
		} else
			x = json_string(v);
		if (x == NULL || json_object_set_new(o, f[i].key, x) != 0)
			r = cairn_err(CAIRN_ERR_NOMEM, "spec");
	}
	if (r == CAIRN_OK && c->o[O_BASELINE] != NULL)
		r = json_range(o, "baseline", c->o[O_BASELINE], "baseline");
	if (r == CAIRN_OK && c->o[O_COMPARISON] != NULL)
		r = json_range(o, "comparison", c->o[O_COMPARISON],
		    "comparison");
	if (r == CAIRN_OK && c->o[O_CATS] != NULL) {
		/* population_by_category's domain: --categories a,b,... */
		json_t *a = json_array();
		char *dup = strdup(c->o[O_CATS]), *tok, *save = NULL;

		for (tok = dup != NULL ? strtok_r(dup, ",", &save) : NULL;
		    tok != NULL && a != NULL; tok = strtok_r(NULL, ",", &save))
			if (json_array_append_new(a, json_string(tok)) != 0)
				r = cairn_err(CAIRN_ERR_ARG, "--categories: "
				    "'%s' is not UTF-8", tok);
		if (a == NULL || dup == NULL)
			r = cairn_err(CAIRN_ERR_NOMEM, "spec");
		else if (r == CAIRN_OK) {
			/* set_new takes the reference, also on failure */
			if (json_object_set_new(o, "categories", a) != 0)
				r = cairn_err(CAIRN_ERR_NOMEM, "spec");
			a = NULL;
		}
		json_decref(a);
		free(dup);
	}
	if (r == CAIRN_OK) {
		if ((text = json_dumps(o, JSON_COMPACT)) == NULL)
			r = cairn_err(CAIRN_ERR_NOMEM, "spec");
		else {
			r = qspec_parse_json(text, strlen(text), "command line",
			    q);
			free(text);
		}
	}
	json_decref(o);
	return r;
}

/* Ask for the status of a query (caller frees *out). */
static int
get_status(struct transport_client *cl, const char *id,
    Cairn__V1__QueryStatus **out)
{
	Cairn__V1__GetQueryRequest req = CAIRN__V1__GET_QUERY_REQUEST__INIT;

	req.query_id = (char *)id;
	return transport_unary(cl, proto_method(PROTO_GET_QUERY), &req.base,
	    CALL_MS, (ProtobufCMessage **)out);
}

/*
 * GetQuery as a long poll (docs/protocol.md): the coordinator answers
 * when the state or attempt is no longer 'seen' / 'attempt', or after
 * 'wait_ms'.
 */
static int
wait_status(struct transport_client *cl, const char *id,
    Cairn__V1__QueryState seen, uint32_t attempt, uint32_t wait_ms,
    Cairn__V1__QueryStatus **out)
{
	Cairn__V1__GetQueryRequest req = CAIRN__V1__GET_QUERY_REQUEST__INIT;

	req.query_id = (char *)id;
	req.wait_ms = wait_ms;
	req.seen_state = seen;
	req.seen_attempt = attempt;
	return transport_unary(cl, proto_method(PROTO_GET_QUERY), &req.base,
	    wait_ms + CALL_MS, (ProtobufCMessage **)out);
}

static const char *
state_name(Cairn__V1__QueryState s)
{
	switch (s) {
	case CAIRN__V1__QUERY_STATE__QUERY_STATE_PENDING:
		return "pending";
	case CAIRN__V1__QUERY_STATE__QUERY_STATE_RUNNING:
		return "running";
	case CAIRN__V1__QUERY_STATE__QUERY_STATE_RELEASED:
		return "released";
	case CAIRN__V1__QUERY_STATE__QUERY_STATE_REFUSED:
		return "refused";
	case CAIRN__V1__QUERY_STATE__QUERY_STATE_FAILED:
		return "failed";
	default:
		return "unknown";
	}
}

static void
print_status(const Cairn__V1__QueryStatus *s, FILE *f)
{
	fprintf(f, "%s %s attempt %" PRIu32 " log-index %" PRIu64 "\n",
	    s->query_id, state_name(s->state), s->attempt, s->log_index);
	for (size_t i = 0; i < s->n_refusals; i++) {
		Cairn__V1__Refusal *rf = NULL;
		const Cairn__V1__SignedRefusal *sr = s->refusals[i];

		if (sr == NULL || proto_unpack(&cairn__v1__refusal__descriptor,
		    sr->refusal.data, sr->refusal.len, PROTO_MAX_SMALL,
		    (ProtobufCMessage **)&rf) != CAIRN_OK) {
			fprintf(f, "  refusal %zu: unreadable\n", i + 1);
			continue;
		}
		fprintf(f, "  refused by %s: %s: %s\n", rf->node,
		    rf->reason_code, rf->reason);
		protobuf_c_message_free_unpacked(&rf->base, NULL);
	}
	if (s->failure != NULL && s->failure[0] != '\0')
		fprintf(f, "  failure: %s\n", s->failure);
}

/* --------------------------------------------------------- subcommands */

static const char submit_usage[] =
    "(--spec Q.json | --kind K [--start D --end D --bucket day|hour --k N\n"
    "    --utc-offset M --night-start H --night-end H --baseline D,D\n"
    "    --comparison D,D --categories a,b,...]) --geography G --rho R\n"
    "    --purpose TEXT --participants a,b,c --colluding C [--holders H]\n"
    "    [--id QUERY_ID]\n"
    "    IDENTITY\n\n"
    "Build the query, sign it with the analyst's identity key (purpose\n"
    "\"query\") and submit it; prints the query id and its log index.\n"
    "IDENTITY: --config analyst.conf, or --key --tls-key --tls-cert --ca\n"
    "--coordinator ADDR --federation federation.conf.\n";

static int
q_submit(struct ctx *c)
{
	Cairn__V1__SignedQuery sq = CAIRN__V1__SIGNED_QUERY__INIT;
	Cairn__V1__SubmitQueryResponse *resp = NULL;
	struct query_params p;
	struct keys_identity *id = NULL;
	struct keys_federation *fed = NULL;
	struct transport_client *cl = NULL;
	char **parts = NULL, idbuf[64];
	size_t nparts = 0, qlen;
	uint8_t *qbytes = NULL, sig[KEYS_SIG_LEN];
	int r;

	memset(&p, 0, sizeof(p));
	if ((r = build_spec(c, &p.spec)) != CAIRN_OK)
		goto out;
	if ((r = need(c, O_GEO)) != CAIRN_OK ||
	    (r = need(c, O_RHO)) != CAIRN_OK ||
	    (r = need(c, O_PURPOSE)) != CAIRN_OK ||
	    (r = need(c, O_PARTS)) != CAIRN_OK ||
	    (r = need(c, O_COLL)) != CAIRN_OK ||
	    (r = need(c, O_KEY)) != CAIRN_OK ||
	    (r = need(c, O_FED)) != CAIRN_OK)
		goto out;
	if ((r = rho_parse_field("--rho", c->o[O_RHO], &p.rho_nano)) !=
	    CAIRN_OK ||
	    (r = parse_u32(c->o[O_COLL], "colluding", QUERY_MAX_PARTICIPANTS,
	    &p.colluding)) != CAIRN_OK || (c->o[O_HOLDERS] != NULL &&
	    (r = parse_u32(c->o[O_HOLDERS], "holders", 1000, &p.holders)) !=
	    CAIRN_OK) || (r = split_list(c->o[O_PARTS], "participants",
	    QUERY_MAX_PARTICIPANTS, &parts, &nparts)) != CAIRN_OK)
		goto out;
	if ((r = keys_identity_load(c->o[O_KEY], &id)) != CAIRN_OK)
		goto out;
	if (keys_identity_role(id) != KEYS_ROLE_ANALYST) {
		r = cairn_err(CAIRN_ERR_ARG, "%s: the identity key is a %s's, "
		    "not an analyst's", c->o[O_KEY],
		    keys_role_name(keys_identity_role(id)));
		goto out;
	}
	if ((r = keys_federation_load(c->o[O_FED], &fed)) != CAIRN_OK)
		goto out;
	p.geography = c->o[O_GEO];
	p.purpose = c->o[O_PURPOSE];
	p.participants = (const char *const *)parts;
	p.nparticipants = nparts;
	p.analyst = keys_identity_name(id);
	p.federation = fed->name;
	p.submitted = (int64_t)time(NULL);
	randombytes_buf(p.nonce, sizeof(p.nonce));
	if (c->o[O_ID] != NULL)
		p.query_id = c->o[O_ID];
	else {
		uint8_t rnd[4];
		char hex[9];

		randombytes_buf(rnd, sizeof(rnd));
		sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
		snprintf(idbuf, sizeof(idbuf), "q-%" PRId64 "-%s",
		    p.submitted, hex);
		p.query_id = idbuf;
	}
	if ((r = query_build(&p, id, &qbytes, &qlen, sig)) != CAIRN_OK)
		goto out;
	if ((r = connect_client(c, &cl)) != CAIRN_OK)
		goto out;
	sq.query.data = qbytes;
	sq.query.len = qlen;
	sq.signature.data = sig;
	sq.signature.len = sizeof(sig);
	if ((r = transport_unary(cl, proto_method(PROTO_SUBMIT_QUERY),
	    &sq.base, CALL_MS, (ProtobufCMessage **)&resp)) != CAIRN_OK)
		goto out;
	printf("%s log-index %" PRIu64 "\n", resp->query_id, resp->log_index);
out:
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	transport_client_free(cl);
	free(qbytes);
	free_list(parts, nparts);
	keys_federation_free(fed);
	keys_identity_free(id);
	return r == CAIRN_OK ? 0 : fail(c, r);
}

static const char status_usage[] =
    "QUERY_ID IDENTITY\n\n"
    "Print the query's state, attempt and QUERY log index, and any\n"
    "refusals or failure.\n";

static int
q_status(struct ctx *c)
{
	Cairn__V1__QueryStatus *s = NULL;
	struct transport_client *cl = NULL;
	int r;

	if (c->arg == NULL)
		r = cairn_err(CAIRN_ERR_ARG, "the query id is required");
	else if ((r = connect_client(c, &cl)) == CAIRN_OK &&
	    (r = get_status(cl, c->arg, &s)) == CAIRN_OK)
		print_status(s, stdout);
	if (s != NULL)
		protobuf_c_message_free_unpacked(&s->base, NULL);
	transport_client_free(cl);
	return r == CAIRN_OK ? 0 : fail(c, r);
}

static const char wait_usage[] =
    "QUERY_ID [--timeout S] IDENTITY\n\n"
    "Wait until the query is released (exit 0), refused or failed\n"
    "(exit 1), or S seconds pass (default 600; exit 1).  The coordinator\n"
    "answers as soon as the query's state changes (a long poll).\n";

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int
q_wait(struct ctx *c)
{
	struct transport_client *cl = NULL;
	uint32_t timeout = 600, attempt = 0, slice;
	Cairn__V1__QueryState seen =
	    CAIRN__V1__QUERY_STATE__QUERY_STATE_UNSPECIFIED;
	/*
	 * A coordinator that predates the long poll answers at once: then
	 * poll from 50 ms up to every 500 ms (docs/benchmarks.md).
	 */
	unsigned pause = 50;
	struct timespec t0, t, c0;
	int64_t left, took;
	int r;

	if (c->arg == NULL) {
		r = cairn_err(CAIRN_ERR_ARG, "the query id is required");
		goto out;
	}
	if ((c->o[O_TIMEOUT] != NULL && (r = parse_u32(c->o[O_TIMEOUT],
	    "timeout", 30 * 86400, &timeout)) != CAIRN_OK) ||
	    (r = connect_client(c, &cl)) != CAIRN_OK)
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		Cairn__V1__QueryStatus *s = NULL;
		Cairn__V1__QueryState st;

		clock_gettime(CLOCK_MONOTONIC, &t);
		left = (int64_t)timeout * 1000 - ((int64_t)(t.tv_sec -
		    t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
		slice = left < WAIT_SLICE_MS ? (left > 0 ? (uint32_t)left : 0) :
		    WAIT_SLICE_MS;
		c0 = t;
		if ((r = wait_status(cl, c->arg, seen, attempt, slice, &s)) !=
		    CAIRN_OK)
			goto out;
		st = s->state;
		if (st == CAIRN__V1__QUERY_STATE__QUERY_STATE_RELEASED ||
		    st == CAIRN__V1__QUERY_STATE__QUERY_STATE_REFUSED ||
		    st == CAIRN__V1__QUERY_STATE__QUERY_STATE_FAILED) {
			print_status(s, stdout);
			protobuf_c_message_free_unpacked(&s->base, NULL);
			if (st != CAIRN__V1__QUERY_STATE__QUERY_STATE_RELEASED)
				r = cairn_err(CAIRN_ERR_STATE, "query '%s' %s",
				    c->arg, st == REFUSED ? "was refused" :
				    "failed");
			goto out;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		took = (int64_t)(t.tv_sec - c0.tv_sec) * 1000 +
		    (t.tv_nsec - c0.tv_nsec) / 1000000;
		/* Unchanged long before the slice was up: no long poll. */
		if (st == seen && s->attempt == attempt && slice > 0 &&
		    took < (int64_t)slice / 2) {
			sleep_ms(pause);
			pause = pause * 2 > 500 ? 500 : pause * 2;
		}
		seen = st;
		attempt = s->attempt;
		protobuf_c_message_free_unpacked(&s->base, NULL);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= (time_t)timeout) {
			r = cairn_err(CAIRN_ERR_TIMEOUT, "query '%s' still %s "
			    "after %" PRIu32 " s", c->arg, state_name(st),
			    timeout);
			goto out;
		}
	}
out:
	transport_client_free(cl);
	return r == CAIRN_OK ? 0 : fail(c, r);
}

/* What GetResult streamed. */
struct collected {
	Cairn__V1__Release	*rel;	/* copy of the first message's */
	int64_t			*v;
	uint64_t		 n, got;
};

static int
on_chunk(const ProtobufCMessage *msg, void *arg)
{
	const Cairn__V1__ResultChunk *ch = (const Cairn__V1__ResultChunk *)msg;
	struct collected *co = arg;

	if (co->rel == NULL) {
		const Cairn__V1__Release *r = ch->release;

		if (r == NULL)
			return cairn_err(CAIRN_ERR_FORMAT, "GetResult: the "
			    "first message has no release");
		if (r->cells > PROTO_MAX_CELLS)
			return cairn_err(CAIRN_ERR_TOOBIG, "GetResult: %" PRIu64
			    " cells", r->cells);
		if ((co->rel = calloc(1, sizeof(*co->rel))) == NULL ||
		    (co->v = calloc(r->cells ? r->cells : 1,
		    sizeof(int64_t))) == NULL)
			return cairn_err(CAIRN_ERR_NOMEM, "result");
		cairn__v1__release__init(co->rel);
		co->rel->noise_variance = r->noise_variance;
		co->rel->cells = r->cells;
		co->rel->log_index = r->log_index;
		co->n = r->cells;
	}
	if (ch->offset != co->got || ch->n_values > co->n - co->got)
		return cairn_err(CAIRN_ERR_FORMAT, "GetResult: chunk at offset "
		    "%" PRIu64 " with %zu values, expected offset %" PRIu64
		    " of %" PRIu64, ch->offset, ch->n_values, co->got, co->n);
	if (ch->n_values > 0)
		memcpy(co->v + co->got, ch->values,
		    ch->n_values * sizeof(int64_t));
	co->got += ch->n_values;
	return 0;
}

/* ------------------------------------------- the release, verified */

#define PROOF_WAIT_SLICE_MS	500
#define RESULT_WAIT_DEFAULT_S	60

/*
 * Wait up to 'wait_s' seconds for a checkpoint signed by the log key 'lk'
 * that covers index 'index' and carries at least 'quorum' valid witness
 * cosignatures of 'fed''s nodes (witnesses cosign within their poll
 * interval).  A checkpoint the log key did not sign fails at once.
 */
static int
proven_checkpoint(struct transport_client *cl,
    const struct keys_federation *fed, const struct tlog_verifier *lk,
    size_t quorum, uint64_t index, unsigned wait_s, struct tlog_checkpoint *cp)
{
	Cairn__V1__GetCheckpointRequest req =
	    CAIRN__V1__GET_CHECKPOINT_REQUEST__INIT;
	Cairn__V1__Checkpoint *m = NULL;
	size_t nvalid = 0;
	int r;

	for (unsigned waited = 0;; waited += PROOF_WAIT_SLICE_MS) {
		struct timespec ts = { 0, PROOF_WAIT_SLICE_MS * 1000000L };

		if ((r = transport_unary(cl, proto_method(PROTO_GET_CHECKPOINT),
		    &req.base, CALL_MS, (ProtobufCMessage **)&m)) != CAIRN_OK)
			return r;
		if ((r = tlog_checkpoint_open(m->note, strlen(m->note), lk, 1,
		    1, lk->name, cp)) != CAIRN_OK) {
			char d[256];

			/* cairn_err() writes the buffer errmsg reads. */
			snprintf(d, sizeof(d), "%s", cairn_errmsg());
			r = cairn_err(CAIRN_ERR_SIGNATURE, "checkpoint: not "
			    "signed by the log key '%s' (the coordinator's "
			    "identity key in federation.conf): %s", lk->name,
			    d);
			goto out;
		}
		if ((r = tlog_fed_cosignatures(m->note, strlen(m->note), fed,
		    &nvalid)) != CAIRN_OK)
			goto out;
		protobuf_c_message_free_unpacked(&m->base, NULL);
		m = NULL;
		if (cp->size > index && nvalid >= quorum)
			return CAIRN_OK;
		if (waited >= wait_s * 1000u)
			break;
		nanosleep(&ts, NULL);
	}
	if (cp->size <= index)
		return cairn_err(CAIRN_ERR_PROOF, "checkpoint of size %" PRIu64
		    " does not cover log index %" PRIu64 " (after %u s)",
		    cp->size, index, wait_s);
	return cairn_err(CAIRN_ERR_PROOF, "checkpoint of size %" PRIu64
	    ": %zu valid witness cosignature%s, %zu required (a majority of "
	    "the enrolled nodes; after %u s)", cp->size, nvalid,
	    nvalid == 1 ? "" : "s", quorum, wait_s);
out:
	if (m != NULL)
		protobuf_c_message_free_unpacked(&m->base, NULL);
	return r;
}

/*
 * The entry at 'index' ('what' names it in errors), decoded into 'e',
 * after its inclusion proof in the checkpoint 'cp' verifies.  'e' points
 * into '*resp', which the caller frees.
 */
static int
proven_entry(struct transport_client *cl, const char *what, uint64_t index,
    const struct tlog_checkpoint *cp, Cairn__V1__GetEntriesResponse **resp,
    struct tlog_entry *e)
{
	Cairn__V1__GetEntriesRequest req = CAIRN__V1__GET_ENTRIES_REQUEST__INIT;
	Cairn__V1__GetInclusionProofRequest ireq =
	    CAIRN__V1__GET_INCLUSION_PROOF_REQUEST__INIT;
	Cairn__V1__InclusionProof *ip = NULL;
	Cairn__V1__GetEntriesResponse *er = NULL;
	uint8_t (*h)[TLOG_HASH_LEN] = NULL, leaf[TLOG_HASH_LEN];
	int r;

	req.start = index;
	req.end = index + 1;
	ireq.index = index;
	ireq.tree_size = cp->size;
	if ((r = transport_unary(cl, proto_method(PROTO_GET_ENTRIES),
	    &req.base, CALL_MS, (ProtobufCMessage **)&er)) != CAIRN_OK ||
	    (r = transport_unary(cl, proto_method(PROTO_GET_INCLUSION_PROOF),
	    &ireq.base, CALL_MS, (ProtobufCMessage **)&ip)) != CAIRN_OK)
		goto out;
	if (er->n_entries != 1 || er->entries[0]->index != index) {
		r = cairn_err(CAIRN_ERR_FORMAT, "%s entry %" PRIu64 ": "
		    "GetEntries returned no such entry", what, index);
		goto out;
	}
	if (ip->n_hashes > 64 || (ip->n_hashes > 0 &&
	    (h = calloc(ip->n_hashes, sizeof(*h))) == NULL)) {
		r = cairn_err(ip->n_hashes > 64 ? CAIRN_ERR_TOOBIG :
		    CAIRN_ERR_NOMEM, "%s entry %" PRIu64 ": inclusion proof "
		    "of %zu hashes", what, index, ip->n_hashes);
		goto out;
	}
	for (size_t i = 0; i < ip->n_hashes; i++) {
		if (ip->hashes[i].len != TLOG_HASH_LEN) {
			r = cairn_err(CAIRN_ERR_FORMAT, "%s entry %" PRIu64
			    ": inclusion proof hash %zu is not 32 bytes", what,
			    index, i);
			goto out;
		}
		memcpy(h[i], ip->hashes[i].data, TLOG_HASH_LEN);
	}
	tlog_leaf_hash(er->entries[0]->data.data, er->entries[0]->data.len,
	    leaf);
	if (ip->index != index || ip->tree_size != cp->size ||
	    tlog_inclusion_verify(leaf, index, cp->size,
	    (const uint8_t (*)[TLOG_HASH_LEN])h, ip->n_hashes, cp->root) !=
	    CAIRN_OK) {
		r = cairn_err(CAIRN_ERR_PROOF, "%s entry %" PRIu64 " is not "
		    "included in the signed checkpoint of size %" PRIu64
		    " (its inclusion proof does not verify)", what, index,
		    cp->size);
		goto out;
	}
	if ((r = tlog_entry_decode(er->entries[0]->data.data,
	    er->entries[0]->data.len, e)) != CAIRN_OK) {
		r = cairn_err(CAIRN_ERR_FORMAT, "%s entry %" PRIu64 ": %s",
		    what, index, cairn_errmsg());
		goto out;
	}
	*resp = er;
	er = NULL;
out:
	free(h);
	if (ip != NULL)
		protobuf_c_message_free_unpacked(&ip->base, NULL);
	if (er != NULL)
		protobuf_c_message_free_unpacked(&er->base, NULL);
	return r;
}

/* What the log proves about a release. */
struct proven {
	Cairn__V1__Query	*q;		/* from the QUERY entry */
	uint8_t			 result_hash[32];
	uint64_t		 variance;
	uint64_t		 size;		/* of the checkpoint */
	size_t			 cosignatures;
};

/*
 * Verify the release of query 'id' end to end: a checkpoint signed by the
 * coordinator's key in 'fed' with a majority of the nodes' cosignatures,
 * covering the RELEASE entry at 'rel_index' and the QUERY entry at
 * 'q_index', both included in it by proof; the QUERY entry is the signed
 * query 'id' and the RELEASE entry names its hash.  Fills '*out' ('out->q'
 * for the caller to free).
 */
static int
verify_release(struct transport_client *cl, const char *fedpath,
    const char *id, uint64_t q_index, uint64_t rel_index, unsigned wait_s,
    struct proven *out)
{
	Cairn__V1__GetEntriesResponse *rr = NULL, *qr = NULL;
	Cairn__V1__SignedQuery *sq = NULL;
	Cairn__V1__Query *q = NULL;
	struct keys_federation *fed = NULL;
	const struct keys_member *coord;
	struct tlog_verifier lk;
	struct tlog_checkpoint cp;
	struct tlog_entry *re = NULL, *qe = NULL;
	uint8_t qh[32];
	int r;

	if ((re = malloc(sizeof(*re))) == NULL ||
	    (qe = malloc(sizeof(*qe))) == NULL) {
		r = cairn_err(CAIRN_ERR_NOMEM, "log entries");
		goto out;
	}
	if ((r = keys_federation_load(fedpath, &fed)) != CAIRN_OK ||
	    (r = keys_federation_coordinator(fed, &coord)) != CAIRN_OK)
		goto out;
	tlog_fed_log_key(fed, coord, &lk);
	out->size = 0;
	if ((r = proven_checkpoint(cl, fed, &lk, tlog_fed_majority(fed),
	    rel_index > q_index ? rel_index : q_index, wait_s, &cp)) !=
	    CAIRN_OK ||
	    (r = proven_entry(cl, "RELEASE", rel_index, &cp, &rr, re)) !=
	    CAIRN_OK ||
	    (r = proven_entry(cl, "QUERY", q_index, &cp, &qr, qe)) != CAIRN_OK)
		goto out;
	if (re->type != TLOG_ENTRY_RELEASE) {
		r = cairn_err(CAIRN_ERR_FORMAT, "log entry %" PRIu64 " is not "
		    "a RELEASE entry", rel_index);
		goto out;
	}
	if (qe->type != TLOG_ENTRY_QUERY ||
	    proto_unpack(&cairn__v1__signed_query__descriptor, qe->body.p,
	    qe->body.len, TLOG_ENTRY_MAX_BODY, (ProtobufCMessage **)&sq) !=
	    CAIRN_OK || proto_unpack(&cairn__v1__query__descriptor,
	    sq->query.data, sq->query.len, TLOG_ENTRY_MAX_BODY,
	    (ProtobufCMessage **)&q) != CAIRN_OK ||
	    strcmp(q->query_id, id) != 0) {
		r = cairn_err(CAIRN_ERR_FORMAT, "log entry %" PRIu64 " is not "
		    "the QUERY of '%s'", q_index, id);
		goto out;
	}
	crypto_hash_sha256(qh, sq->query.data, sq->query.len);
	if (sodium_memcmp(qh, re->query_hash, 32) != 0) {
		r = cairn_err(CAIRN_ERR_PROOF, "the RELEASE entry at log index "
		    "%" PRIu64 " is for another query than the QUERY entry "
		    "of '%s' at %" PRIu64, rel_index, id, q_index);
		goto out;
	}
	if (!(re->variance >= 1 && re->variance <= 9007199254740992.0)) {
		r = cairn_err(CAIRN_ERR_FORMAT, "the RELEASE entry at log "
		    "index %" PRIu64 " has variance %g", rel_index,
		    re->variance);
		goto out;
	}
	memcpy(out->result_hash, re->result_hash, 32);
	out->variance = (uint64_t)re->variance;
	out->size = cp.size;
	out->q = q;
	q = NULL;
out:
	if (q != NULL)
		protobuf_c_message_free_unpacked(&q->base, NULL);
	if (sq != NULL)
		protobuf_c_message_free_unpacked(&sq->base, NULL);
	if (rr != NULL)
		protobuf_c_message_free_unpacked(&rr->base, NULL);
	if (qr != NULL)
		protobuf_c_message_free_unpacked(&qr->base, NULL);
	keys_federation_free(fed);
	free(re);
	free(qe);
	return r;
}

static const char result_usage[] =
    "QUERY_ID --regions regions.csv [--categories a,b,...]\n"
    "    [--format csv|json] [--output F] [--delta D] [--timeout S]\n"
    "    [--spec Q.json --rho R] IDENTITY\n\n"
    "Fetch the released result, verify it against the log and write every\n"
    "cell labelled, with its 95% interval, and the query's rho and\n"
    "(epsilon, delta).  Verified first: a checkpoint signed by the log key\n"
    "with a majority of the nodes' cosignatures (waited for up to\n"
    "--timeout S seconds, default 60), the inclusion in it of the RELEASE\n"
    "and QUERY entries, the values against the RELEASE entry's result\n"
    "hash.  The spec and rho are the QUERY entry's unless --spec and --rho\n"
    "are given.\n";

static int
q_result(struct ctx *c)
{
	Cairn__V1__GetResultRequest req = CAIRN__V1__GET_RESULT_REQUEST__INIT;
	Cairn__V1__QueryStatus *s = NULL;
	Cairn__V1__Query *q = NULL;
	struct transport_client *cl = NULL;
	struct collected co;
	struct query_domain dom;
	struct query_release rel;
	struct proven pv;
	struct qspec spec;
	unsigned wait_s = RESULT_WAIT_DEFAULT_S;
	uint32_t *regions = NULL;
	char **cats = NULL, *text = NULL;
	size_t nregions = 0, ncats = 0, len;
	bool json = false;
	FILE *f = NULL;
	uint8_t h[32];
	int r;

	memset(&co, 0, sizeof(co));
	memset(&rel, 0, sizeof(rel));
	memset(&pv, 0, sizeof(pv));
	rel.delta = QUERY_DEFAULT_DELTA;
	if (c->arg == NULL) {
		r = cairn_err(CAIRN_ERR_ARG, "the query id is required");
		goto out;
	}
	if (c->o[O_FORMAT] != NULL) {
		if (strcmp(c->o[O_FORMAT], "json") == 0)
			json = true;
		else if (strcmp(c->o[O_FORMAT], "csv") != 0) {
			r = cairn_err(CAIRN_ERR_ARG, "--format: '%s' is not "
			    "csv or json", c->o[O_FORMAT]);
			goto out;
		}
	}
	if (c->o[O_DELTA] != NULL && ((r = parse_real(c->o[O_DELTA], "delta",
	    &rel.delta)) != CAIRN_OK || !(rel.delta > 0 && rel.delta < 1))) {
		r = cairn_err(CAIRN_ERR_ARG, "--delta: must be in (0, 1)");
		goto out;
	}
	if ((c->o[O_SPEC] == NULL) != (c->o[O_RHO] == NULL)) {
		r = cairn_err(CAIRN_ERR_ARG, "--spec and --rho go together");
		goto out;
	}
	if (c->o[O_TIMEOUT] != NULL) {
		uint32_t w;

		if ((r = parse_u32(c->o[O_TIMEOUT], "timeout", 86400, &w)) !=
		    CAIRN_OK)
			goto out;
		wait_s = w;
	}
	if ((r = need(c, O_REGIONS)) != CAIRN_OK ||
	    (r = file_read_capped(c->o[O_REGIONS], (size_t)64 << 20, &text,
	    &len)) != CAIRN_OK || (r = query_regions_parse(text, len,
	    c->o[O_REGIONS], &regions, &nregions)) != CAIRN_OK)
		goto out;
	if (c->o[O_CATS] != NULL && (r = split_list(c->o[O_CATS],
	    "categories", QUERY_MAX_CATEGORIES, &cats, &ncats)) != CAIRN_OK)
		goto out;
	if (c->o[O_SPEC] != NULL && ((r = qspec_load_json(c->o[O_SPEC],
	    &spec)) != CAIRN_OK || (r = rho_parse_field("--rho",
	    c->o[O_RHO], &rel.rho_nano)) != CAIRN_OK))
		goto out;
	if ((r = connect_client(c, &cl)) != CAIRN_OK ||
	    (r = get_status(cl, c->arg, &s)) != CAIRN_OK)
		goto out;
	if (s->state != CAIRN__V1__QUERY_STATE__QUERY_STATE_RELEASED) {
		r = cairn_err(CAIRN_ERR_STATE, "query '%s' is %s, not released",
		    c->arg, state_name(s->state));
		goto out;
	}
	req.query_id = (char *)c->arg;
	if ((r = transport_stream(cl, proto_method(PROTO_GET_RESULT),
	    &req.base, CALL_MS * 4, on_chunk, &co)) != CAIRN_OK)
		goto out;
	if (co.rel == NULL || co.got != co.n) {
		r = cairn_err(CAIRN_ERR_FORMAT, "GetResult: %" PRIu64 " of %"
		    PRIu64 " values received", co.got, co.n);
		goto out;
	}
	/* Nothing the coordinator says is taken on its word: the log. */
	if ((r = verify_release(cl, c->o[O_FED], c->arg, s->log_index,
	    co.rel->log_index, wait_s, &pv)) != CAIRN_OK)
		goto out;
	q = pv.q;
	if (c->o[O_SPEC] == NULL) {
		if ((r = qspec_from_proto(q->spec, "logged query", &spec)) !=
		    CAIRN_OK)
			goto out;
		rel.rho_nano = q->rho_nano;
	}
	if ((r = query_domain_init(&dom, &spec, regions, nregions,
	    (const char *const *)cats, ncats)) != CAIRN_OK)
		goto out;
	{
		crypto_generichash_state st;

		crypto_generichash_init(&st, NULL, 0, 32);
		for (uint64_t i = 0; i < co.n; i++) {
			uint8_t le[8];
			uint64_t u = (uint64_t)co.v[i];

			for (int b = 0; b < 8; b++)
				le[b] = (uint8_t)(u >> (8 * b));
			crypto_generichash_update(&st, le, 8);
		}
		crypto_generichash_final(&st, h, 32);
	}
	if (sodium_memcmp(h, pv.result_hash, 32) != 0) {
		r = cairn_err(CAIRN_ERR_PROOF, "GetResult: the values do not "
		    "match the result hash of the RELEASE entry at log index %"
		    PRIu64, co.rel->log_index);
		goto out;
	}
	if (co.rel->noise_variance != pv.variance) {
		r = cairn_err(CAIRN_ERR_PROOF, "GetResult: variance %" PRIu64
		    ", the RELEASE entry at log index %" PRIu64 " says %"
		    PRIu64, co.rel->noise_variance, co.rel->log_index,
		    pv.variance);
		goto out;
	}
	rel.query_id = c->arg;
	rel.variance = pv.variance;
	rel.log_index = co.rel->log_index;
	if (c->o[O_OUTPUT] != NULL && (f = fopen(c->o[O_OUTPUT], "w")) ==
	    NULL) {
		r = cairn_err(CAIRN_ERR_IO, "%s: %s", c->o[O_OUTPUT],
		    strerror(errno));
		goto out;
	}
	r = query_result_write(f ? f : stdout, json, &dom, &rel, co.v, co.n);
	if (f != NULL && fclose(f) != 0 && r == CAIRN_OK)
		r = cairn_err(CAIRN_ERR_IO, "%s: %s", c->o[O_OUTPUT],
		    strerror(errno));
	f = NULL;
out:
	if (q != NULL)
		protobuf_c_message_free_unpacked(&q->base, NULL);
	if (s != NULL)
		protobuf_c_message_free_unpacked(&s->base, NULL);
	free(co.rel);
	free(co.v);
	free(regions);
	free(text);
	free_list(cats, ncats);
	transport_client_free(cl);
	return r == CAIRN_OK ? 0 : fail(c, r);
}

static const char list_usage[] =
    "IDENTITY\n\nList the queries the coordinator knows, one per line.\n";

static int
q_list(struct ctx *c)
{
	struct transport_client *cl = NULL;
	char *token = NULL;
	size_t total = 0;
	int r;

	if (c->arg != NULL) {
		r = cairn_err(CAIRN_ERR_ARG, "unexpected argument '%s'",
		    c->arg);
		goto out;
	}
	if ((r = connect_client(c, &cl)) != CAIRN_OK)
		goto out;
	do {
		Cairn__V1__ListQueriesRequest req =
		    CAIRN__V1__LIST_QUERIES_REQUEST__INIT;
		Cairn__V1__ListQueriesResponse *resp = NULL;

		req.page_size = 1000;
		req.page_token = token != NULL ? token : (char *)"";
		if ((r = transport_unary(cl, proto_method(PROTO_LIST_QUERIES),
		    &req.base, CALL_MS, (ProtobufCMessage **)&resp)) !=
		    CAIRN_OK)
			goto out;
		for (size_t i = 0; i < resp->n_queries; i++)
			print_status(resp->queries[i], stdout);
		total += resp->n_queries;
		free(token);
		token = NULL;
		if (resp->next_page_token != NULL &&
		    resp->next_page_token[0] != '\0' && resp->n_queries > 0 &&
		    (token = strdup(resp->next_page_token)) == NULL)
			r = cairn_err(CAIRN_ERR_NOMEM, "list");
		protobuf_c_message_free_unpacked(&resp->base, NULL);
		if (total > LIST_MAX)
			r = cairn_err(CAIRN_ERR_TOOBIG, "more than %d queries",
			    LIST_MAX);
	} while (r == CAIRN_OK && token != NULL);
out:
	free(token);
	transport_client_free(cl);
	return r == CAIRN_OK ? 0 : fail(c, r);
}

/* ------------------------------------------------------------- table */

struct sub {
	const char	*name;
	int		(*fn)(struct ctx *);
	const char	*usage;
};

static const struct sub subs[] = {
	{ "submit", q_submit, submit_usage },
	{ "status", q_status, status_usage },
	{ "wait", q_wait, wait_usage },
	{ "result", q_result, result_usage },
	{ "list", q_list, list_usage },
};

static int
run(int argc, char **argv, const struct sub *s)
{
	struct ctx c;
	int r;

	memset(&c, 0, sizeof(c));
	c.sub = s->name;
	if ((r = parse(&c, argc, argv, s->usage)) >= 0) {
		ctx_release(&c);
		return r;
	}
	r = s->fn(&c);
	ctx_release(&c);
	return r;
}

static int
c_submit(int argc, char **argv)
{
	return run(argc, argv, &subs[0]);
}

static int
c_status(int argc, char **argv)
{
	return run(argc, argv, &subs[1]);
}

static int
c_wait(int argc, char **argv)
{
	return run(argc, argv, &subs[2]);
}

static int
c_result(int argc, char **argv)
{
	return run(argc, argv, &subs[3]);
}

static int
c_list(int argc, char **argv)
{
	return run(argc, argv, &subs[4]);
}

static const struct cli_cmd query_cmds[] = {
	{ "submit", c_submit, "build, sign and submit a query" },
	{ "status", c_status, "show a query's state" },
	{ "wait", c_wait, "wait until a query is released, refused or failed" },
	{ "result", c_result, "fetch a released result, labelled, with "
	    "intervals" },
	{ "list", c_list, "list the coordinator's queries" },
};

int
cmd_query(int argc, char **argv)
{
	return cli_dispatch(PROG, query_cmds,
	    sizeof(query_cmds) / sizeof(query_cmds[0]), argc, argv);
}
