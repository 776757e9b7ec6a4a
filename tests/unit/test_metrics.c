/*
 * test_metrics.c - the Prometheus registry (common/metrics.h) and the
 * monitoring listener's address parsing (common/monitor.h): exposition
 * text, cumulative histogram buckets with +Inf, label escaping, counters
 * that never go down, the series cap, collect callbacks, and bad listen
 * values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/metrics.h"
#include "common/monitor.h"

static char *
render(void)
{
	char *s = NULL;
	size_t len = 0;

	assert_int_equal(metrics_render(&s, &len), CAIRN_OK);
	assert_int_equal(strlen(s), len);
	return s;
}

static int
reset(void **state)
{
	(void)state;
	metrics_reset();
	return 0;
}

static void
counter_and_gauge(void **state)
{
	struct metrics_family *c, *g;
	char *s;

	(void)state;
	c = metrics_register("t_requests_total", METRICS_COUNTER, "Requests.",
	    "method", "code", NULL, 0);
	g = metrics_register("t_temp", METRICS_GAUGE, "A gauge.", NULL, NULL,
	    NULL, 0);
	assert_non_null(c);
	assert_ptr_equal(metrics_register("t_requests_total",
	    METRICS_COUNTER, "x", "method", "code", NULL, 0), c);
	metrics_add(c, "Get", "OK", 1);
	metrics_add(c, "Get", "OK", 2);
	metrics_add(c, "Get", "OK", -5);	/* a counter never goes down */
	metrics_touch(c, "Put", "OK");
	metrics_set(g, NULL, NULL, 2.5);
	metrics_set(g, NULL, NULL, -1);
	metrics_add(NULL, "x", "y", 1);		/* ignored */
	s = render();
	assert_non_null(strstr(s, "# HELP t_requests_total Requests.\n"
	    "# TYPE t_requests_total counter\n"
	    "t_requests_total{method=\"Get\",code=\"OK\"} 3\n"
	    "t_requests_total{method=\"Put\",code=\"OK\"} 0\n"));
	assert_non_null(strstr(s, "# TYPE t_temp gauge\nt_temp -1\n"));
	assert_int_equal(s[strlen(s) - 1], '\n');
	free(s);
}

static void
histogram(void **state)
{
	static const double b[] = { 0.1, 1, 10 };
	struct metrics_family *h;
	char *s;

	(void)state;
	h = metrics_register("t_seconds", METRICS_HISTOGRAM, "Durations.",
	    "outcome", NULL, b, 3);
	metrics_observe(h, "ok", NULL, 0.05);
	metrics_observe(h, "ok", NULL, 1);	/* le is inclusive */
	metrics_observe(h, "ok", NULL, 50);
	metrics_add(h, "ok", NULL, 7);		/* not for a histogram */
	s = render();
	assert_non_null(strstr(s, "# TYPE t_seconds histogram\n"
	    "t_seconds_bucket{outcome=\"ok\",le=\"0.1\"} 1\n"
	    "t_seconds_bucket{outcome=\"ok\",le=\"1\"} 2\n"
	    "t_seconds_bucket{outcome=\"ok\",le=\"10\"} 2\n"
	    "t_seconds_bucket{outcome=\"ok\",le=\"+Inf\"} 3\n"
	    "t_seconds_sum{outcome=\"ok\"} 51.049999999999997\n"
	    "t_seconds_count{outcome=\"ok\"} 3\n"));
	free(s);
}

static void
escaping_and_cap(void **state)
{
	struct metrics_family *c;
	char v[32], *s;

	(void)state;
	c = metrics_register("t_things_total", METRICS_COUNTER, "Things.",
	    "name", NULL, NULL, 0);
	metrics_add(c, "a\"b\\c\nd", NULL, 1);
	for (int i = 0; i < METRICS_SERIES_MAX + 50; i++) {
		snprintf(v, sizeof(v), "v%d", i);
		metrics_add(c, v, NULL, 1);
	}
	s = render();
	assert_non_null(strstr(s, "t_things_total{name=\"a\\\"b\\\\c\\nd\"} 1\n"));
	/* Beyond the cap, series go to "other": 256 series in all. */
	assert_non_null(strstr(s, "t_things_total{name=\"other\"} 52\n"));
	assert_null(strstr(s, "name=\"v300\""));
	free(s);
}

static int calls;

static void
collect(void *arg)
{
	calls++;
	metrics_set(arg, NULL, NULL, calls);
}

static void
collect_callback(void **state)
{
	struct metrics_family *g;
	char *s;

	(void)state;
	calls = 0;
	g = metrics_register("t_collected", METRICS_GAUGE, "From a callback.",
	    NULL, NULL, NULL, 0);
	metrics_on_collect(collect, g);
	free(render());
	s = render();
	assert_int_equal(calls, 2);
	assert_non_null(strstr(s, "t_collected 2\n"));
	free(s);
}

static void
listen_values(void **state)
{
	char host[16];
	int port = -1;

	(void)state;
	assert_int_equal(monitor_parse_listen("9464", host, &port), CAIRN_OK);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 9464);
	assert_int_equal(monitor_parse_listen("10.0.0.1:0", host, &port),
	    CAIRN_OK);
	assert_string_equal(host, "10.0.0.1");
	assert_int_equal(port, 0);
	assert_int_equal(monitor_parse_listen("localhost:80", host, &port),
	    CAIRN_ERR_CONFIG);
	assert_int_equal(monitor_parse_listen("1.2.3.4:", host, &port),
	    CAIRN_ERR_CONFIG);
	assert_int_equal(monitor_parse_listen("1.2.3.4:65536", host, &port),
	    CAIRN_ERR_CONFIG);
	assert_int_equal(monitor_parse_listen("12x", host, &port),
	    CAIRN_ERR_CONFIG);
	assert_int_equal(monitor_check_config("n.conf", "xml", NULL, NULL,
	    NULL, NULL), CAIRN_ERR_CONFIG);
	assert_non_null(strstr(cairn_errmsg(), "n.conf: key 'log_format' in "
	    "[monitoring]: 'xml' is not text or json"));
	assert_int_equal(monitor_check_config("c.conf", "json", "listen",
	    "9464", "health_listen", "x:1"), CAIRN_ERR_CONFIG);
	assert_non_null(strstr(cairn_errmsg(), "c.conf: key 'health_listen'"));
	assert_int_equal(monitor_check_config("c.conf", "text", "listen",
	    "127.0.0.1:1", NULL, NULL), CAIRN_OK);
}

/* One HTTP/1.0 request to 127.0.0.1:'port'; the whole answer in 'buf'. */
static void
http(int port, const char *req, char *buf, size_t n)
{
	struct sockaddr_in sa;
	size_t got = 0;
	ssize_t k;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (got < n - 1 && (k = read(fd, buf + got, n - 1 - got)) > 0)
		got += (size_t)k;
	buf[got] = '\0';
	close(fd);
}

static bool ready_now;

static bool
ready(void *arg, char *why, size_t n)
{
	(void)arg;
	if (!ready_now)
		snprintf(why, n, "not yet");
	return ready_now;
}

static void
listener(void **state)
{
	struct monitor_config mc = { .listen = "127.0.0.1:0", .ready = ready };
	struct metrics_family *c;
	struct monitor *m = NULL;
	char buf[8192];
	int port;

	(void)state;
	c = metrics_register("t_served_total", METRICS_COUNTER, "Served.",
	    NULL, NULL, NULL, 0);
	metrics_add(c, NULL, NULL, 4);
	assert_int_equal(monitor_start(&mc, &m), CAIRN_OK);
	port = monitor_port(m);
	assert_true(port > 0);
	http(port, "GET /metrics HTTP/1.0\r\n\r\n", buf, sizeof(buf));
	assert_non_null(strstr(buf, " 200 "));
	assert_non_null(strstr(buf, "text/plain; version=0.0.4"));
	assert_non_null(strstr(buf, "\r\n\r\n# HELP t_served_total Served.\n"
	    "# TYPE t_served_total counter\nt_served_total 4\n"));
	http(port, "GET /healthz HTTP/1.0\r\n\r\n", buf, sizeof(buf));
	assert_non_null(strstr(buf, " 200 "));
	ready_now = false;
	http(port, "GET /readyz HTTP/1.0\r\n\r\n", buf, sizeof(buf));
	assert_non_null(strstr(buf, " 503 "));
	assert_non_null(strstr(buf, "\r\n\r\nnot yet\n"));
	ready_now = true;
	http(port, "GET /readyz HTTP/1.0\r\n\r\n", buf, sizeof(buf));
	assert_non_null(strstr(buf, " 200 "));
	http(port, "GET /other HTTP/1.0\r\n\r\n", buf, sizeof(buf));
	assert_non_null(strstr(buf, " 404 "));
	http(port, "POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
	    buf, sizeof(buf));
	assert_non_null(strstr(buf, " 405 "));
	monitor_stop(m);
	/* The same port, taken by another listener, is refused. */
	mc.listen = "127.0.0.1:0";
	assert_int_equal(monitor_start(&mc, &m), CAIRN_OK);
	{
		char addr[32];
		struct monitor_config mc2 = { .listen = addr };
		struct monitor *m2 = NULL;

		snprintf(addr, sizeof(addr), "127.0.0.1:%d", monitor_port(m));
		assert_int_equal(monitor_start(&mc2, &m2), CAIRN_ERR_NET);
		assert_null(m2);
	}
	monitor_stop(m);
	monitor_stop(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(counter_and_gauge, reset),
		cmocka_unit_test_setup(histogram, reset),
		cmocka_unit_test_setup(escaping_and_cap, reset),
		cmocka_unit_test_setup(collect_callback, reset),
		cmocka_unit_test(listen_values),
		cmocka_unit_test_setup(listener, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
