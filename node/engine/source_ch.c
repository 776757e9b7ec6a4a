/*
 * source_ch.c - the ClickHouse source through its HTTP interface and
 * libcurl (engine_source.h, docs/sources.md).  The statement of sql_gen.c
 * goes as a multipart/form-data POST: the query as one part, and the
 * tables the node sends with it (the cell map, the domain, the
 * categories) as ClickHouse's external data, TabSeparated, with their
 * structure in the URL; the URL also carries the database, a query_id
 * of our own, the settings the statement needs (join_use_nulls: an
 * unmatched LEFT JOIN row is NULL as in SQL), max_execution_time from
 * statement_timeout_seconds, the holder's own settings (the 'settings'
 * option: e.g. max_bytes_before_external_group_by, so that a GROUP BY
 * over 10^9 rows spills to disk rather than outgrow the server's
 * memory), and wait_end_of_query=1 so an error that happens late still
 * comes as an HTTP error with ClickHouse's message.
 * The answer is TabSeparated rows of numbers, cells only, checked one by
 * one.
 *
 * On a cluster (the 'shards' option) the same statement runs on every
 * shard at once over its local tables: the data is sharded by
 * subscriber, so each shard holds all of the events of its subscribers
 * and computes their per-subscriber step completely; the node adds the
 * shards' cells (source.c).  ClickHouse 18.16 does not stop a query when
 * its HTTP client goes away, so a stop of the node aborts the transfers
 * and sends KILL QUERY WHERE query_id = ... to each server.  check-data
 * on a cluster also counts, on each shard, the subscribers that have
 * events on another shard too (engine_ch_split()).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <curl/curl.h>

#include "common/err.h"
#include "node/engine/source_int.h"

/* Most bytes of an answer: cells are few; a bigger answer is refused. */
#define CH_MAX_ANSWER	((size_t)256 << 20)
#define CH_CONNECT_S	10L
#define CH_KILL_S	10L

struct ch_req {
	CURL		*h;
	curl_mime	*mime;
	char		*url;
	char		*body;
	size_t		 len, cap;
	bool		 toobig;
	char		 endpoint[272];
	char		 errbuf[CURL_ERROR_SIZE];
	CURLcode	 cc;
	bool		 done;
};

static size_t
ch_write(char *data, size_t size, size_t n, void *arg)
{
	struct ch_req *q = arg;
	size_t len = size * n;
	char *b;

	if (q->len + len > CH_MAX_ANSWER) {
		q->toobig = true;
		return 0;
	}
	if (q->len + len + 1 > q->cap) {
		size_t nc = q->cap ? q->cap : 4096;

		while (nc < q->len + len + 1)
			nc *= 2;
		if ((b = realloc(q->body, nc)) == NULL)
			return 0;
		q->body = b;
		q->cap = nc;
	}
	memcpy(q->body + q->len, data, len);
	q->len += len;
	q->body[q->len] = '\0';
	return len;
}

static void
ch_req_release(struct ch_req *q)
{
	curl_easy_cleanup(q->h);
	curl_mime_free(q->mime);
	free(q->url);
	free(q->body);
	memset(q, 0, sizeof(*q));
}

/* Append "&key=<escaped val>" to 'f'. */
static void
url_arg(CURL *h, FILE *f, const char *key, const char *val)
{
	char *e = curl_easy_escape(h, val, 0);

	fprintf(f, "&%s=%s", key, e != NULL ? e : "");
	curl_free(e);
}

/*
 * Prepare the request of 'sql' (NULL: the text 'text') to 'endpoint'
 * (HOST:PORT) with the query id 'qid'.
 */
static int
ch_req_init(struct ch_req *q, const struct engine_source *s,
    const struct engine_ch_uri *u, const char *endpoint,
    const struct engine_sql *sql, const char *text, const char *qid,
    long timeout_s)
{
	curl_mimepart *part;
	FILE *f;
	size_t ul;
	char key[48], num[32];

	memset(q, 0, sizeof(*q));
	snprintf(q->endpoint, sizeof(q->endpoint), "%s", endpoint);
	if ((q->h = curl_easy_init()) == NULL ||
	    (q->mime = curl_mime_init(q->h)) == NULL ||
	    (f = open_memstream(&q->url, &ul)) == NULL)
		return CAIRN_ERR_NOMEM;
	fprintf(f, "http://%s/?default_format=TabSeparated", endpoint);
	url_arg(q->h, f, "database", u->database);
	url_arg(q->h, f, "query_id", qid);
	if (sql != NULL) {
		fputs("&wait_end_of_query=1&join_use_nulls=1"
		    "&max_query_size=16777216", f);
		if (s->statement_timeout_s > 0)
			fprintf(f, "&max_execution_time=%" PRId64,
			    s->statement_timeout_s);
		/* the holder's settings, checked by engine_source_check() */
		for (size_t i = 0; i < s->nsettings; i++) {
			const char *eq = strchr(s->settings[i], '=');
			char name[72];

			if (eq == NULL || (size_t)(eq - s->settings[i]) >=
			    sizeof(name)) {
				(void)fclose(f);
				return CAIRN_ERR_INTERNAL;
			}
			snprintf(name, sizeof(name), "%.*s",
			    (int)(eq - s->settings[i]), s->settings[i]);
			url_arg(q->h, f, name, eq + 1);
		}
		for (size_t i = 0; i < sql->next; i++) {
			snprintf(key, sizeof(key), "%s_structure",
			    sql->ext[i].name);
			url_arg(q->h, f, key, sql->ext[i].structure);
			snprintf(key, sizeof(key), "%s_format",
			    sql->ext[i].name);
			url_arg(q->h, f, key, "TabSeparated");
		}
		text = sql->text;
	}
	if (fclose(f) != 0)
		return CAIRN_ERR_NOMEM;
	if ((part = curl_mime_addpart(q->mime)) == NULL ||
	    curl_mime_name(part, "query") != CURLE_OK ||
	    curl_mime_data(part, text, CURL_ZERO_TERMINATED) != CURLE_OK)
		return CAIRN_ERR_NOMEM;
	for (size_t i = 0; sql != NULL && i < sql->next; i++)
		if ((part = curl_mime_addpart(q->mime)) == NULL ||
		    curl_mime_name(part, sql->ext[i].name) != CURLE_OK ||
		    curl_mime_filename(part, sql->ext[i].name) != CURLE_OK ||
		    curl_mime_data(part, sql->ext[i].data,
		    CURL_ZERO_TERMINATED) != CURLE_OK)
			return CAIRN_ERR_NOMEM;
	snprintf(num, sizeof(num), "%ld", timeout_s);
	if (curl_easy_setopt(q->h, CURLOPT_URL, q->url) != CURLE_OK ||
	    curl_easy_setopt(q->h, CURLOPT_MIMEPOST, q->mime) != CURLE_OK ||
	    curl_easy_setopt(q->h, CURLOPT_PROTOCOLS_STR, "http") !=
	    CURLE_OK ||
	    curl_easy_setopt(q->h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(q->h, CURLOPT_NOPROXY, "*") != CURLE_OK ||
	    curl_easy_setopt(q->h, CURLOPT_CONNECTTIMEOUT, CH_CONNECT_S) !=
	    CURLE_OK ||
	    curl_easy_setopt(q->h, CURLOPT_TIMEOUT, timeout_s) != CURLE_OK ||
	    curl_easy_setopt(q->h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC) !=
	    CURLE_OK ||
	    curl_easy_setopt(q->h, CURLOPT_USERNAME, u->user) != CURLE_OK ||
	    curl_easy_setopt(q->h, CURLOPT_PASSWORD, u->password) !=
	    CURLE_OK ||
	    curl_easy_setopt(q->h, CURLOPT_USERAGENT, "cairn-node") !=
	    CURLE_OK ||
	    curl_easy_setopt(q->h, CURLOPT_WRITEFUNCTION, ch_write) !=
	    CURLE_OK ||
	    curl_easy_setopt(q->h, CURLOPT_WRITEDATA, q) != CURLE_OK ||
	    curl_easy_setopt(q->h, CURLOPT_ERRORBUFFER, q->errbuf) !=
	    CURLE_OK)
		return CAIRN_ERR_NOMEM;
	return CAIRN_OK;
}

/* Did the finished request fail (transport, HTTP status, size)? */
static bool
ch_req_failed(struct ch_req *q)
{
	long status = 0;

	(void)curl_easy_getinfo(q->h, CURLINFO_RESPONSE_CODE, &status);
	return q->toobig || q->cc != CURLE_OK || status != 200;
}

/* The error of a finished request, or CAIRN_OK for HTTP 200. */
static int
ch_req_err(struct ch_req *q)
{
	long status = 0;
	const char *m, *e;
	size_t n;

	if (q->toobig)
		return cairn_err(CAIRN_ERR_TOOBIG, "clickhouse %s: the answer is "
		    "over %zu bytes", q->endpoint, CH_MAX_ANSWER);
	if (q->cc != CURLE_OK)
		return cairn_err(q->cc == CURLE_OPERATION_TIMEDOUT ?
		    CAIRN_ERR_TIMEOUT : CAIRN_ERR_NET, "clickhouse %s: cannot "
		    "connect or read: %s", q->endpoint, q->errbuf[0] != '\0' ?
		    q->errbuf : curl_easy_strerror(q->cc));
	(void)curl_easy_getinfo(q->h, CURLINFO_RESPONSE_CODE, &status);
	if (status == 200)
		return CAIRN_OK;
	m = q->body != NULL ? q->body : "";
	/* "Code: 60, e.displayText() = DB::Exception: ..., e.what() = ..." */
	if ((e = strstr(m, "e.displayText() = ")) != NULL)
		m = e + 18;
	n = strcspn(m, "\n");
	if ((e = strstr(m, ", e.what() = ")) != NULL && (size_t)(e - m) < n)
		n = (size_t)(e - m);
	if (strncmp(q->body != NULL ? q->body : "", "Code: 159,", 10) == 0)
		return cairn_err(CAIRN_ERR_TIMEOUT, "clickhouse %s: the "
		    "statement ran over statement_timeout_seconds (%.*s)",
		    q->endpoint, (int)(n > 300 ? 300 : n), m);
	return cairn_err(CAIRN_ERR_DB, "clickhouse %s: HTTP %ld: %.*s",
	    q->endpoint, status, (int)(n > 400 ? 400 : n), m);
}

int
engine_ch_answer_parse(const char *endpoint, const char *body, size_t len,
    size_t ncols, size_t shard, engine_ch_row_fn fn, void *arg)
{
	uint64_t v[4];
	const char *p = body, *end = body + len;
	size_t line = 0;
	int r;

	if (ncols == 0 || ncols > 4)
		return CAIRN_ERR_INTERNAL;
	while (p < end) {
		line++;
		for (size_t c = 0; c < ncols; c++) {
			if (p == end || *p < '0' || *p > '9')
				goto bad;
			for (v[c] = 0; p < end && *p >= '0' && *p <= '9'; p++) {
				unsigned d = (unsigned)(*p - '0');

				if (v[c] > (UINT64_MAX - d) / 10)
					goto bad;
				v[c] = v[c] * 10 + d;
			}
			if (p == end || *p != (c + 1 < ncols ? '\t' : '\n'))
				goto bad;
			p++;
		}
		if ((r = fn(arg, shard, v)) != CAIRN_OK)
			return r;
	}
	return CAIRN_OK;
bad:
	return cairn_err(CAIRN_ERR_DB, "clickhouse %s: line %zu of the answer "
	    "is not %zu numbers", endpoint, line, ncols);
}

/* KILL QUERY 'qid' on 'endpoint' (best effort, bounded in time). */
static void
ch_kill(const struct engine_source *s, const struct engine_ch_uri *u,
    const char *endpoint, const char *qid)
{
	struct ch_req k;
	char text[192], kid[96];

	snprintf(text, sizeof(text), "KILL QUERY WHERE query_id = '%s' SYNC",
	    qid);
	snprintf(kid, sizeof(kid), "%s-kill", qid);
	if (ch_req_init(&k, s, u, endpoint, NULL, text, kid, CH_KILL_S) ==
	    CAIRN_OK)
		(void)curl_easy_perform(k.h);
	ch_req_release(&k);
}

/*
 * Run 'sql' on the URI's server, or on every shard at once, handing the
 * rows (of 'ncols' numbers) of shard i to fn(arg, i, row).  A stop
 * request aborts the transfers and kills the queries.
 */
static int
ch_exec(const struct engine_source *s, const struct engine_sql *sql,
    const volatile sig_atomic_t *stop, size_t ncols, engine_ch_row_fn fn,
    void *arg)
{
	struct engine_ch_uri u;
	struct ch_req *q = NULL;
	CURLM *mh = NULL;
	CURLMsg *msg;
	char one[272], base[40], (*qid)[64] = NULL;
	const char *ep[ENGINE_SOURCE_MAX_SHARDS];
	size_t n;
	uint8_t rnd[8];
	long tmo;
	int r, running = 0, left;
	bool cancelled = false, failed = false;

	if ((r = engine_ch_uri_parse(s->uri, &u)) != CAIRN_OK)
		return r;
	if (s->nshards > 0) {
		n = s->nshards;
		memcpy(ep, s->shards, n * sizeof(ep[0]));
	} else {
		snprintf(one, sizeof(one), "%s:%u", u.host, u.port);
		ep[0] = one;
		n = 1;
	}
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return cairn_err(CAIRN_ERR_IO, "clickhouse: no random query id");
	snprintf(base, sizeof(base), "cairn-%02x%02x%02x%02x%02x%02x%02x%02x",
	    rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	/* the server's own limit stops the statement; ours is a backstop */
	tmo = s->statement_timeout_s > 0 ? (long)s->statement_timeout_s + 60 :
	    0L;
	if ((q = calloc(n, sizeof(*q))) == NULL ||
	    (qid = calloc(n, sizeof(*qid))) == NULL ||
	    (mh = curl_multi_init()) == NULL) {
		r = CAIRN_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(qid[i], sizeof(qid[i]), "%s-%zu", base, i);
		if ((r = ch_req_init(&q[i], s, &u, ep[i], sql, NULL, qid[i],
		    tmo)) != CAIRN_OK)
			goto out;
		if (curl_multi_add_handle(mh, q[i].h) != CURLM_OK) {
			r = CAIRN_ERR_NOMEM;
			goto out;
		}
	}
	do {
		if (stop != NULL && *stop != 0) {
			cancelled = true;
			break;
		}
		if (curl_multi_perform(mh, &running) != CURLM_OK ||
		    (running > 0 && curl_multi_poll(mh, NULL, 0, 100, NULL) !=
		    CURLM_OK)) {
			r = cairn_err(CAIRN_ERR_NET, "clickhouse: the transfer "
			    "failed");
			goto out;
		}
		while ((msg = curl_multi_info_read(mh, &left)) != NULL)
			for (size_t i = 0; i < n; i++)
				if (msg->msg == CURLMSG_DONE &&
				    msg->easy_handle == q[i].h) {
					q[i].cc = msg->data.result;
					q[i].done = true;
					failed = failed || ch_req_failed(&q[i]);
				}
	} while (running > 0 && !failed);
	if (cancelled || failed) {
		/* a stop, or one shard failed: no statement runs on */
		for (size_t i = 0; i < n; i++) {
			(void)curl_multi_remove_handle(mh, q[i].h);
			if (!q[i].done)
				ch_kill(s, &u, ep[i], qid[i]);
		}
	}
	if (cancelled) {
		r = cairn_err(CAIRN_ERR_CANCELLED, "clickhouse: the statement "
		    "was cancelled (the node is stopping)");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (q[i].done && (r = ch_req_err(&q[i])) != CAIRN_OK)
			goto out;
	if (failed) {
		r = CAIRN_ERR_INTERNAL;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if ((r = engine_ch_answer_parse(q[i].endpoint, q[i].body != NULL ?
		    q[i].body : "", q[i].len, ncols, i, fn, arg)) != CAIRN_OK)
			goto out;
	r = CAIRN_OK;
out:
	for (size_t i = 0; q != NULL && i < n; i++) {
		if (mh != NULL && q[i].h != NULL)
			(void)curl_multi_remove_handle(mh, q[i].h);
		ch_req_release(&q[i]);
	}
	curl_multi_cleanup(mh);
	free(q);
	free(qid);
	explicit_bzero(&u, sizeof(u));
	return r;
}

struct ch_cells {
	struct engine_src_rows	*shard;		/* one per shard */
};

static int
cells_row(void *arg, size_t shard, const uint64_t *v)
{
	struct ch_cells *c = arg;

	return engine_src_rows_add(&c->shard[shard], v);
}

int
engine_ch_run(const struct engine_source *s, const struct engine_sql *sql,
    const volatile sig_atomic_t *stop, struct engine_src_rows *rw)
{
	struct ch_cells c;
	size_t n = s->nshards > 0 ? s->nshards : 1;
	int r;

	if ((c.shard = calloc(n, sizeof(*c.shard))) == NULL)
		return CAIRN_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		c.shard[i] = *rw;
		c.shard[i].cells = NULL;
		c.shard[i].n = c.shard[i].cap = 0;
		c.shard[i].other_cat = 0;
	}
	if ((r = ch_exec(s, sql, stop, 4, cells_row, &c)) != CAIRN_OK)
		goto out;
	if ((r = engine_src_rows_sort(rw)) != CAIRN_OK)
		goto out;
	for (size_t i = 0; i < n; i++)
		if ((r = engine_src_rows_sort(&c.shard[i])) != CAIRN_OK ||
		    (r = engine_src_rows_merge(rw, &c.shard[i])) != CAIRN_OK)
			goto out;
out:
	for (size_t i = 0; i < n; i++)
		engine_src_rows_release(&c.shard[i]);
	free(c.shard);
	return r;
}

static int
check_row(void *arg, size_t shard, const uint64_t *v)
{
	const struct engine_source *s = ((void **)arg)[0];

	(void)shard;
	return engine_src_check_add(s, ((void **)arg)[1], v);
}

int
engine_ch_check(const struct engine_source *s, const struct engine_sql *sql,
    struct engine_source_table_report *out)
{
	void *arg[2] = { (void *)(uintptr_t)s, out };

	return ch_exec(s, sql, NULL, 3, check_row, arg);
}

static int
split_row(void *arg, size_t shard, const uint64_t *v)
{
	((uint64_t *)arg)[shard] += v[0];
	return CAIRN_OK;
}

int
engine_ch_split(const struct engine_source *s, const struct engine_sql *sql,
    uint64_t *split)
{
	memset(split, 0, s->nshards * sizeof(*split));
	return ch_exec(s, sql, NULL, 1, split_row, split);
}
