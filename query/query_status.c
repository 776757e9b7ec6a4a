/*
 * query_status.c - `cairn query status`, `wait` and `list`: a query's
 * state as the coordinator reports it (GetQuery, as a long poll for
 * wait) and the list of the coordinator's queries (ListQueries).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "protocol/cairn.pb-c.h"
#include "protocol/proto_service.h"
#include "protocol/transport.h"
#include "query/query_int.h"

#include "query/query_int.h"

#define REFUSED		CAIRN__V1__QUERY_STATE__QUERY_STATE_REFUSED
#define WAIT_SLICE_MS	30000		/* one GetQuery long poll */
#define LIST_MAX	1000000

/* Ask for the status of a query (caller frees *out). */
int
query_get_status(struct transport_client *cl, const char *id,
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

const char *
query_state_name(Cairn__V1__QueryState s)
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

void
query_print_status(const Cairn__V1__QueryStatus *s, FILE *f)
{
	fprintf(f, "%s %s attempt %" PRIu32 " log-index %" PRIu64 "\n",
	    s->query_id, query_state_name(s->state), s->attempt, s->log_index);
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

const char query_status_usage[] =
    "QUERY_ID IDENTITY\n\n"
    "Print the query's state, attempt and QUERY log index, and any\n"
    "refusals or failure.\n";

int
query_cmd_status(struct ctx *c)
{
	Cairn__V1__QueryStatus *s = NULL;
	struct transport_client *cl = NULL;
	int r;

	if (c->arg == NULL)
		r = cairn_err(CAIRN_ERR_ARG, "the query id is required");
	else if ((r = query_connect(c, &cl)) == CAIRN_OK &&
	    (r = query_get_status(cl, c->arg, &s)) == CAIRN_OK)
		query_print_status(s, stdout);
	if (s != NULL)
		protobuf_c_message_free_unpacked(&s->base, NULL);
	transport_client_free(cl);
	return r == CAIRN_OK ? 0 : fail(c, r);
}

const char query_wait_usage[] =
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

int
query_cmd_wait(struct ctx *c)
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
	if ((c->o[O_TIMEOUT] != NULL && (r = query_parse_u32(c->o[O_TIMEOUT],
	    "timeout", 30 * 86400, &timeout)) != CAIRN_OK) ||
	    (r = query_connect(c, &cl)) != CAIRN_OK)
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
			query_print_status(s, stdout);
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
			    "after %" PRIu32 " s", c->arg, query_state_name(st),
			    timeout);
			goto out;
		}
	}
out:
	transport_client_free(cl);
	return r == CAIRN_OK ? 0 : fail(c, r);
}

const char query_list_usage[] =
    "IDENTITY\n\nList the queries the coordinator knows, one per line.\n";

int
query_cmd_list(struct ctx *c)
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
	if ((r = query_connect(c, &cl)) != CAIRN_OK)
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
			query_print_status(resp->queries[i], stdout);
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
