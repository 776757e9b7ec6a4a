/*
 * node_e2e_analyst.c - the analyst of the end-to-end tests (the `wire`
 * lines of tests/e2e/cases/, daemon_signals.sh, monitoring.sh, the fault
 * scripts under bench/faults/): submits one signed presence query to a
 * real cairn-coordinator, waits for its end and prints the released values
 * ("cell I VALUE" lines and "variance V"), or the final state and failure.
 *
 * usage: node_e2e_analyst --dir DIR --target HOST:PORT --id QID
 *            --participants A,B[,...] [--rho R | --rho-nano N]
 *            [--wait SECONDS]
 *            [--retries K] [--persist]
 *
 * With --retries, a FAILED query is submitted again (the same signed
 * bytes: a retry, docs/coordinator.md) up to K times.  With --persist
 * (the fault-injection sweep, bench/faults/), a call that fails on the
 * channel (the coordinator was killed) is made again every 250 ms until
 * the --wait time is up, and an ALREADY_EXISTS answer to the first
 * SubmitQuery (a retry of bytes the coordinator took) is taken as taken.
 * DIR holds analyst/ (identity.key, tls.key, tls.crt, ca.crt) and
 * fed/federation.conf.  The query: presence, 2026-01-10 (one day), k = 1,
 * geography g4, c = 0.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "common/err.h"
#include "common/rho.h"
#include "keys/keys.h"
#include "keys/keys_federation.h"
#include "keys/keys_tls.h"
#include "protocol/proto_service.h"
#include "protocol/transport.h"


#define PROG	"node_e2e_analyst"

static int
die(const char *what, int r)
{
	fprintf(stderr, "%s: error: %s: %s\n", PROG, what, cairn_errdesc(r));
	return 1;
}

static int
on_chunk(const ProtobufCMessage *msg, void *arg)
{
	const Cairn__V1__ResultChunk *c = (const Cairn__V1__ResultChunk *)msg;

	(void)arg;
	if (c->release != NULL)
		printf("variance %llu\n",
		    (unsigned long long)c->release->noise_variance);
	for (size_t i = 0; i < c->n_values; i++)
		printf("cell %llu %lld\n", (unsigned long long)(c->offset + i),
		    (long long)c->values[i]);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *dir = NULL, *target = NULL, *id = NULL, *parts = NULL;
	uint64_t rho_nano = 500000000;
	const char *why;
	int wait_s = 60, retries = 0, persist = 0, c, r, rc = 1;
	char path[4096], ca[4096], crt[4096], key[4096], *pv[16], *save, *p;
	struct keys_identity *ident = NULL;
	struct keys_federation *fed = NULL;
	struct keys_tls *tls = NULL;
	struct transport_client *cl = NULL;
	struct transport_client_config cc;
	Cairn__V1__Query q = CAIRN__V1__QUERY__INIT;
	Cairn__V1__MemberId an = CAIRN__V1__MEMBER_ID__INIT;
	Cairn__V1__QuerySpec sp = CAIRN__V1__QUERY_SPEC__INIT;
	Cairn__V1__SignedQuery sq = CAIRN__V1__SIGNED_QUERY__INIT;
	Cairn__V1__GetQueryRequest gq = CAIRN__V1__GET_QUERY_REQUEST__INIT;
	Cairn__V1__GetResultRequest gr = CAIRN__V1__GET_RESULT_REQUEST__INIT;
	Cairn__V1__QueryStatus *st = NULL;
	ProtobufCMessage *resp = NULL;
	uint8_t nonce[16], sig[KEYS_SIG_LEN], *bytes = NULL;
	size_t len, np = 0;
	time_t until;
	static const struct option lo[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "target", required_argument, NULL, 't' },
		{ "id", required_argument, NULL, 'i' },
		{ "participants", required_argument, NULL, 'p' },
		{ "rho", required_argument, NULL, 'r' },
		{ "rho-nano", required_argument, NULL, 'n' },
		{ "wait", required_argument, NULL, 'w' },
		{ "retries", required_argument, NULL, 'k' },
		{ "persist", no_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 }
	};

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 't': target = optarg; break;
		case 'i': id = optarg; break;
		case 'p': parts = optarg; break;
		case 'r':
			if (!rho_parse(optarg, &rho_nano, &why)) {
				fprintf(stderr, "%s: --rho '%s': %s\n", PROG,
				    optarg, why);
				return 2;
			}
			break;
		case 'n':	/* as is, even 0: a hand-built query */
			rho_nano = strtoull(optarg, NULL, 10);
			break;
		case 'w': wait_s = atoi(optarg); break;
		case 'k': retries = atoi(optarg); break;
		case 'P': persist = 1; break;
		default: return 2;
		}
	}
	if (dir == NULL || target == NULL || id == NULL || parts == NULL) {
		fprintf(stderr, "usage: %s --dir DIR --target HOST:PORT --id QID "
		    "--participants A,B [--rho R] [--wait S]\n", PROG);
		return 2;
	}
	if (sodium_init() < 0)
		{ rc = die("sodium", CAIRN_ERR_CRYPTO); goto out; }
	snprintf(path, sizeof(path), "%s/analyst/identity.key", dir);
	if ((r = keys_identity_load(path, &ident)) != CAIRN_OK)
		{ rc = die(path, r); goto out; }
	snprintf(path, sizeof(path), "%s/fed/federation.conf", dir);
	if ((r = keys_federation_load(path, &fed)) != CAIRN_OK)
		{ rc = die(path, r); goto out; }
	snprintf(ca, sizeof(ca), "%s/analyst/ca.crt", dir);
	snprintf(crt, sizeof(crt), "%s/analyst/tls.crt", dir);
	snprintf(key, sizeof(key), "%s/analyst/tls.key", dir);
	if ((r = keys_tls_load(ca, crt, key, &tls)) != CAIRN_OK)
		{ rc = die("tls", r); goto out; }
	memset(&cc, 0, sizeof(cc));
	cc.target = target;
	cc.tls = tls;
	cc.retries = 3;
	if ((r = transport_client_new(&cc, &cl)) != CAIRN_OK)
		{ rc = die("client", r); goto out; }
	for (p = strtok_r((char *)parts, ",", &save); p != NULL && np < 16;
	    p = strtok_r(NULL, ",", &save))
		pv[np++] = p;
	an.role = CAIRN__V1__ROLE__ROLE_ANALYST;
	an.name = (char *)keys_identity_name(ident);
	sp.kind = (char *)"presence";
	sp.start = (char *)"2026-01-10";
	sp.end = (char *)"2026-01-11";
	sp.bucket = (char *)"day";
	sp.k = 1;
	sp.geography = (char *)"g4";
	randombytes_buf(nonce, sizeof(nonce));
	q.query_id = (char *)id;
	q.analyst = &an;
	q.purpose = (char *)"node e2e";
	q.spec = &sp;
	q.rho_nano = rho_nano;
	q.n_participants = np;
	q.participants = pv;
	q.submitted_unix = time(NULL);
	q.federation = fed->name;
	q.nonce.data = nonce;
	q.nonce.len = 16;
	if ((r = proto_pack(&q.base, PROTO_MAX_SMALL, &bytes, &len)) !=
	    CAIRN_OK ||
	    (r = keys_sign(ident, "query", bytes, len, sig)) != CAIRN_OK)
		{ rc = die("query", r); goto out; }
	sq.query.data = bytes;
	sq.query.len = len;
	sq.signature.data = sig;
	sq.signature.len = KEYS_SIG_LEN;
	until = time(NULL) + wait_s;
	while ((r = transport_unary(cl, proto_method(PROTO_SUBMIT_QUERY),
	    &sq.base, 0, &resp)) != CAIRN_OK) {
		if (persist && r == CAIRN_ERR_EXISTS)
			break;
		if (!persist || time(NULL) > until ||
		    (r != CAIRN_ERR_NET && r != CAIRN_ERR_TIMEOUT &&
		    r != CAIRN_ERR_CANCELLED))
			{ rc = die("SubmitQuery", r); goto out; }
		usleep(250000);
	}
	if (r == CAIRN_OK)
		protobuf_c_message_free_unpacked(resp, NULL);
	gq.query_id = (char *)id;
	for (;;) {
		if ((r = transport_unary(cl, proto_method(PROTO_GET_QUERY),
		    &gq.base, 0, (ProtobufCMessage **)&st)) != CAIRN_OK) {
			if (persist && time(NULL) <= until &&
			    (r == CAIRN_ERR_NET || r == CAIRN_ERR_TIMEOUT ||
			    r == CAIRN_ERR_CANCELLED)) {
				st = NULL;
				usleep(250000);
				continue;
			}
			rc = die("GetQuery", r);
			goto out;
		}
		if (st->state == CAIRN__V1__QUERY_STATE__QUERY_STATE_RELEASED)
			break;
		if (st->state == CAIRN__V1__QUERY_STATE__QUERY_STATE_FAILED &&
		    retries > 0 && time(NULL) <= until) {
			printf("attempt %u failed (%s): retrying\n", st->attempt,
			    st->failure);
			retries--;
			protobuf_c_message_free_unpacked(&st->base, NULL);
			st = NULL;
			if ((r = transport_unary(cl,
			    proto_method(PROTO_SUBMIT_QUERY), &sq.base, 0,
			    &resp)) != CAIRN_OK) {
				if (persist && (r == CAIRN_ERR_EXISTS ||
				    r == CAIRN_ERR_NET ||
				    r == CAIRN_ERR_TIMEOUT ||
				    r == CAIRN_ERR_CANCELLED)) {
					if (r != CAIRN_ERR_EXISTS)
						retries++;
					usleep(250000);
					continue;
				}
				rc = die("SubmitQuery (retry)", r);
				goto out;
			}
			protobuf_c_message_free_unpacked(resp, NULL);
			continue;
		}
		if (st->state == CAIRN__V1__QUERY_STATE__QUERY_STATE_FAILED ||
		    st->state == CAIRN__V1__QUERY_STATE__QUERY_STATE_REFUSED ||
		    time(NULL) > until) {
			printf("state %d attempt %u failure %s refusals %zu\n",
			    (int)st->state, st->attempt, st->failure,
			    st->n_refusals);
			rc = 1;
			goto out;
		}
		protobuf_c_message_free_unpacked(&st->base, NULL);
		st = NULL;
		usleep(200000);
	}
	printf("released attempt %u\n", st->attempt);
	protobuf_c_message_free_unpacked(&st->base, NULL);
	st = NULL;
	gr.query_id = (char *)id;
	if ((r = transport_stream(cl, proto_method(PROTO_GET_RESULT), &gr.base,
	    0, on_chunk, NULL)) != CAIRN_OK)
		{ rc = die("GetResult", r); goto out; }
	rc = 0;
out:
	if (st != NULL)
		protobuf_c_message_free_unpacked(&st->base, NULL);
	fflush(stdout);
	free(bytes);
	transport_client_free(cl);
	keys_tls_free(tls);
	keys_federation_free(fed);
	keys_identity_free(ident);
	return rc;
}
