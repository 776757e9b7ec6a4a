/*
 * coord_analyst.c - the analyst's methods of cairn.v1.Coordinator:
 * SubmitQuery (log the QUERY, or retry a failed one, and start an
 * attempt), GetQuery (a status, or a long poll until it changes),
 * ListQueries, and GetResult (the released result, streamed on its own
 * thread).  Attempts and waiters are coord_attempt.c's.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fault.h"
#include "common/log.h"
#include "coordinator/coord_service_int.h"

int
coord_do_submit(struct coord *c, struct transport_call *call,
    const Cairn__V1__SignedQuery *sq, const char **field)
{
	Cairn__V1__SubmitQueryResponse resp =
	    CAIRN__V1__SUBMIT_QUERY_RESPONSE__INIT;
	struct coord_query_row row;
	struct attempt *a = NULL;
	struct tlog_entry e;
	uint8_t *body = NULL;
	size_t blen;
	int r;

	/* The start of the round as the coordinator sees it (benchmarks). */
	log_debug("SubmitQuery from %s", transport_call_peer(call));
	if ((r = coord_attempt_build(c, transport_call_peer(call), sq, &a,
	    field)) != CAIRN_OK)
		return r;
	if ((r = coord_attempt_coverage(c, a, field)) != CAIRN_OK)
		goto out;
	*field = "query.query_id";
	r = coord_store_query_get(c->db, a->query_id, &row);
	if (r == CAIRN_OK) {
		/* The same signed bytes after a failure: a retry. */
		bool same = memcmp(row.hash, a->qhash, 32) == 0 &&
		    strcmp(row.analyst, a->analyst) == 0;

		coord_store_row_clear(&row);
		if (!same) {
			r = cairn_err(CAIRN_ERR_EXISTS, "query id '%s' is "
			    "taken", a->query_id);
			goto out;
		}
		if (row.state != COORD_Q_FAILED &&
		    row.state != COORD_Q_REFUSED) {
			r = cairn_err(CAIRN_ERR_EXISTS, "query '%s' was "
			    "submitted already (a replay)", a->query_id);
			goto out;
		}
		if (row.attempt + 1 >= (uint32_t)c->cfg->max_attempts) {
			r = cairn_err(CAIRN_ERR_EXISTS, "query '%s' failed "
			    "%u times, the federation's limit of attempts",
			    a->query_id, row.attempt + 1);
			goto out;
		}
		a->attempt = row.attempt + 1;
		a->query_index = row.log_index;
		if ((r = coord_store_query_set(c->db, a->query_id,
		    COORD_Q_PENDING, a->attempt, "")) != CAIRN_OK)
			goto out;
	} else if (r == CAIRN_ERR_NOTFOUND) {
		if ((r = proto_pack(&sq->base, PROTO_MAX_SMALL, &body, &blen))
		    != CAIRN_OK)
			goto out;
		memset(&e, 0, sizeof(e));
		e.type = TLOG_ENTRY_QUERY;
		e.time = (uint64_t)coord_now_s();
		e.body.p = body;
		e.body.len = blen;
		if ((r = coord_log_append(&c->log, &e, &a->query_index))
		    != CAIRN_OK)
			goto out;
		fault_point("coord.after_query_logged");
		memset(&row, 0, sizeof(row));
		snprintf(row.query_id, sizeof(row.query_id), "%s",
		    a->query_id);
		snprintf(row.analyst, sizeof(row.analyst), "%s", a->analyst);
		memcpy(row.hash, a->qhash, 32);
		row.signed_query = body;
		row.signed_len = blen;
		row.log_index = a->query_index;
		row.created = (int64_t)e.time;	/* checked against the log */
		if ((r = coord_store_query_add(c->db, &row)) != CAIRN_OK)
			goto out;
	} else
		goto out;
	*field = NULL;
	resp.query_id = a->query_id;
	resp.log_index = a->query_index;
	r = transport_call_reply(call, &resp.base);
	coord_attempt_start(c, a);
	a = NULL;
	if (r != CAIRN_OK)
		r = COORD_HELD;	/* the call is finished either way */
out:
	free(body);
	coord_attempt_free(a);
	return r;
}

int
coord_do_get_query(struct coord *c, struct transport_call *call,
    const Cairn__V1__GetQueryRequest *req, const char **field)
{
	struct waiter *w;
	bool wait;
	int r;

	*field = "query_id";
	wait = req->wait_ms > 0 && !c->stopping &&
	    req->seen_state != CAIRN__V1__QUERY_STATE__QUERY_STATE_UNSPECIFIED;
	r = coord_query_reply(c, call, req->query_id, wait,
	    (int)req->seen_state, req->seen_attempt);
	if (r != CAIRN_OK)
		return r;
	/* Unchanged: hold the call until it changes or wait_ms passes. */
	if ((r = coord_park(c, call, PROTO_GET_QUERY, req->wait_ms, &w)) !=
	    CAIRN_OK)
		return r;
	snprintf(w->query_id, sizeof(w->query_id), "%s", req->query_id);
	w->last_seen = (uint64_t)req->seen_state;
	w->attempt = req->seen_attempt;
	return COORD_HELD;
}

int
coord_do_list(struct coord *c, struct transport_call *call,
    const Cairn__V1__ListQueriesRequest *req, const char **field)
{
	Cairn__V1__ListQueriesResponse resp =
	    CAIRN__V1__LIST_QUERIES_RESPONSE__INIT;
	struct coord_query_row *rows = NULL;
	Cairn__V1__QueryStatus *st = NULL, **sp = NULL;
	Cairn__V1__MemberId *mid = NULL;
	size_t cap = req->page_size ? req->page_size : 100, n = 0;
	int64_t after = 0;
	char token[32];
	int r;

	*field = "page_size";
	if (cap > 1000)
		return cairn_err(CAIRN_ERR_ARG, "page size %u over 1000",
		    req->page_size);
	*field = "page_token";
	if (req->page_token[0] != '\0' &&
	    (!config_parse_int(req->page_token, &after) || after < 0))
		return cairn_err(CAIRN_ERR_ARG, "bad page token");
	*field = NULL;
	if ((rows = calloc(cap, sizeof(*rows))) == NULL ||
	    (st = calloc(cap, sizeof(*st))) == NULL ||
	    (sp = calloc(cap, sizeof(*sp))) == NULL ||
	    (mid = calloc(cap, sizeof(*mid))) == NULL) {
		r = CAIRN_ERR_NOMEM;
		goto out;
	}
	if ((r = coord_store_query_list(c->db, transport_call_peer(call),
	    after, rows, cap, &n)) != CAIRN_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if ((r = coord_status_fill(c, &rows[i], &st[i], &mid[i])) !=
		    CAIRN_OK)
			goto out;
		sp[i] = &st[i];
	}
	resp.n_queries = n;
	resp.queries = sp;
	token[0] = '\0';
	if (n == cap)
		snprintf(token, sizeof(token), "%lld",
		    (long long)rows[n - 1].seq);
	resp.next_page_token = token;
	(void)transport_call_reply(call, &resp.base);
	r = COORD_HELD;
out:
	for (size_t i = 0; st != NULL && i < n; i++)
		coord_status_clear(&st[i]);
	for (size_t i = 0; rows != NULL && i < n; i++)
		coord_store_row_clear(&rows[i]);
	free(rows);
	free(st);
	free(sp);
	free(mid);
	return r;
}

struct result_job {
	struct transport_call	*call;
	uint8_t			*rel;
	size_t			 rlen;
	int64_t			*vals;
	size_t			 n;
};

/* Stream a result on its own thread, so a large one can wait for the
 * transport's queue. */
static void *
result_thread(void *arg)
{
	struct result_job *j = arg;
	Cairn__V1__ResultChunk ch = CAIRN__V1__RESULT_CHUNK__INIT;
	ProtobufCMessage *msg = NULL;
	int r;

	if ((r = proto_unpack(&cairn__v1__release__descriptor, j->rel, j->rlen,
	    PROTO_MAX_SMALL, &msg)) != CAIRN_OK)
		goto out;
	ch.release = (Cairn__V1__Release *)msg;
	if ((r = transport_call_send(j->call, &ch.base)) != CAIRN_OK)
		goto out;
	ch.release = NULL;
	for (size_t off = 0; off < j->n; off += PROTO_CHUNK_CELLS) {
		ch.offset = off;
		ch.n_values = j->n - off < PROTO_CHUNK_CELLS ? j->n - off :
		    PROTO_CHUNK_CELLS;
		ch.values = j->vals + off;
		if ((r = transport_call_send(j->call, &ch.base)) != CAIRN_OK)
			goto out;
	}
out:
	(void)transport_call_finish(j->call, r, r == CAIRN_OK ? NULL :
	    cairn_errdesc(r));
	if (msg != NULL)
		protobuf_c_message_free_unpacked(msg, NULL);
	free(j->rel);
	free(j->vals);
	free(j);
	return NULL;
}

int
coord_do_result(struct coord *c, struct transport_call *call,
    const Cairn__V1__GetResultRequest *req, const char **field)
{
	struct coord_query_row row;
	struct result_job *j;
	pthread_attr_t at;
	pthread_t t;
	int r;

	*field = "query_id";
	if ((r = coord_store_query_get(c->db, req->query_id, &row))
	    != CAIRN_OK)
		return r;
	coord_store_row_clear(&row);
	if (strcmp(row.analyst, transport_call_peer(call)) != 0)
		return cairn_err(CAIRN_ERR_NOTFOUND, "no query '%s' of "
		    "analyst %s", req->query_id, transport_call_peer(call));
	if (row.state != COORD_Q_RELEASED)
		return cairn_err(CAIRN_ERR_STATE, "query '%s' is not released"
		    "%s%s", req->query_id, row.failure[0] ? ": " : "",
		    row.failure);
	*field = NULL;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return CAIRN_ERR_NOMEM;
	if ((r = coord_store_result_get(c->db, req->query_id, &j->rel,
	    &j->rlen, &j->vals, &j->n)) != CAIRN_OK) {
		free(j);
		return r;
	}
	j->call = call;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &at, result_thread, j) != 0) {
		pthread_attr_destroy(&at);
		free(j->rel);
		free(j->vals);
		free(j);
		return cairn_err(CAIRN_ERR_INTERNAL, "cannot start a thread");
	}
	pthread_attr_destroy(&at);
	return COORD_HELD;
}
