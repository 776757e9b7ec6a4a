/*
 * query_submit.c - `cairn query submit`: the query spec from --spec or
 * from --kind and its fields, built, signed with the analyst's identity
 * key and submitted to the coordinator (SubmitQuery).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "common/config.h"
#include "common/err.h"
#include "common/rho.h"
#include "keys/keys.h"
#include "keys/keys_federation.h"
#include "protocol/cairn.pb-c.h"
#include "protocol/proto_service.h"
#include "protocol/qspec.h"
#include "protocol/transport.h"
#include "query/query.h"
#include "query/query_int.h"

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

int
query_spec_build(const struct ctx *c, struct qspec *q)
{
	static const struct { enum opt o; const char *key; bool num; } f[] = {
		{ O_START, "start", false }, { O_END, "end", false },
		{ O_BUCKET, "bucket", false }, { O_K, "k", true },
		{ O_UTC, "utc_offset_minutes", true },
		{ O_NIGHT_START, "night_start_hour", true },
		{ O_NIGHT_END, "night_end_hour", true },
		{ O_MIN_NIGHTS, "min_nights", true },
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
				    "not an integer", query_opts[f[i].o].name,
				    v);
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

const char query_submit_usage[] =
    "(--spec Q.json | --kind K [--start D --end D --bucket day|hour --k N\n"
    "    --utc-offset M --night-start H --night-end H --baseline D,D\n"
    "    --comparison D,D --categories a,b,... --min-nights N])\n"
    "    --geography G --rho R --purpose TEXT --participants a,b,c\n"
    "    --colluding C [--holders H]\n"
    "    [--id QUERY_ID] [--regions regions.csv] [--allow-missing-months]\n"
    "    [--publish] IDENTITY\n\n"
    "Build the query, sign it with the analyst's identity key (purpose\n"
    "\"query\") and submit it; prints the query id and its log index.\n"
    "With --regions (the geography's regions file) it first prints the\n"
    "plan, as `cairn query plan` does (without the budgets).  A query\n"
    "over a data-month some participant's POLICY says it does not hold\n"
    "is refused before anything is charged unless --allow-missing-months\n"
    "is given.  --publish asks, in the signed query, that the release be\n"
    "public: the coordinator writes its values into its public directory\n"
    "for anyone to read (docs/portal.md); without it nothing is published.\n"
    "IDENTITY: --config analyst.conf, or --key --tls-key --tls-cert --ca\n"
    "--coordinator ADDR --federation federation.conf.\n";

int
query_cmd_submit(struct ctx *c)
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
	if ((r = query_spec_build(c, &p.spec)) != CAIRN_OK)
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
	    (r = query_parse_u32(c->o[O_COLL], "colluding",
	    QUERY_MAX_PARTICIPANTS, &p.colluding)) != CAIRN_OK ||
	    (c->o[O_HOLDERS] != NULL && (r = query_parse_u32(c->o[O_HOLDERS],
	    "holders", 1000, &p.holders)) != CAIRN_OK) ||
	    (r = query_split_list(c->o[O_PARTS], "participants",
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
	p.allow_missing_months = c->o[O_ALLOW_MISSING] != NULL;
	p.publish = c->o[O_PUBLISH] != NULL;
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
	if (c->o[O_REGIONS] != NULL) {
		/* The planner's summary, before anything is sent. */
		struct query_ask a;

		memset(&a, 0, sizeof(a));
		a.spec = p.spec;
		a.rho_nano = p.rho_nano;
		a.parts = parts;
		a.nparts = nparts;
		a.colluding = p.colluding;
		a.holders = p.holders;
		a.publish = p.publish;
		if ((r = query_plan_summary(c, &a, NULL, stdout)) != CAIRN_OK)
			goto out;
		fflush(stdout);
	}
	if ((r = query_connect(c, &cl)) != CAIRN_OK)
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
	query_free_list(parts, nparts);
	keys_federation_free(fed);
	keys_identity_free(id);
	return r == CAIRN_OK ? 0 : fail(c, r);
}
