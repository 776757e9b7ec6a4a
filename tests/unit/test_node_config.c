/*
 * test_node_config.c - node.conf parsing and the policy decision.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <sodium.h>

#include "common/err.h"
#include "keys/keys_federation.h"
#include "node/engine/engine_source.h"
#include "node/node_config.h"
#include "node/policy_publish.h"

#include <math.h>
/* ρ as a test writes it (a double) to nano-ρ. */
#define NANO(x)	((uint64_t)llround((double)(x) * 1e9))

static const char base[] =
	"[node]\nname = op-a\ndata_dir = /var/lib/cairn\n"
	"identity_key = id.key\ntls_key = tls.key\ntls_cert = tls.crt\n"
	"ca_cert = ca.crt\nfederation = federation.conf\n"
	"[coordinator]\naddress = 127.0.0.1:7443\n"
	"[data]\ncdr = /data/cdr\ncdr = /data/more.csv.gz\ncells = cells.csv\n"
	"geography = admin2\n"
	"[policy]\nallow_kind = presence, od\nallow_kind = residents\n"
	"allow_analyst = nso\nbudget_rho_per_month = 1\n";

static int
load(const char *extra, struct node_config *cfg)
{
	char path[] = "/tmp/cairn-nodeconf-XXXXXX";
	int fd = mkstemp(path), r;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, base, strlen(base)), (ssize_t)strlen(base));
	assert_int_equal(write(fd, extra, strlen(extra)), (ssize_t)strlen(extra));
	close(fd);
	r = node_config_load(path, cfg);
	unlink(path);
	return r;
}

static void
test_load_ok(void **state)
{
	struct node_config c;

	assert_int_equal(load("max_rho_per_query = 0.25\n", &c), CAIRN_OK);
	assert_int_equal(c.policy.max_rho_per_query_nano, 250000000);
	assert_int_equal(c.policy.budget_rho_per_month_nano, 1000000000);
	assert_string_equal(c.name, "op-a");
	assert_int_equal(c.cdr.n, 2);
	assert_int_equal(c.policy.kinds.n, 3);
	assert_string_equal(c.policy.kinds.v[0], "presence");
	assert_string_equal(c.policy.kinds.v[1], "od");
	assert_string_equal(c.policy.kinds.v[2], "residents");
	assert_int_equal(c.poll_seconds, 30);
	/* No witness_quorum: a majority of the nodes (decided at start). */
	assert_int_equal(c.witness_quorum, -1);
	assert_int_equal(c.policy.min_participants, 2);
	assert_true(c.max_bad_fraction == 0.001);
	node_config_release(&c);
}

static void
expect(const char *extra, const char *needle)
{
	struct node_config c;

	assert_int_equal(load(extra, &c), CAIRN_ERR_CONFIG);
	if (strstr(cairn_errmsg(), needle) == NULL)
		fail_msg("'%s' lacks '%s'", cairn_errmsg(), needle);
	node_config_release(&c);
}

/*
 * [data] records (region-level files beside the CDRs) and geography_file
 * (the node's copy of the geography, hashed at load); then every refusal
 * of node_geography_check: a task pin, a federation.conf pin or both that
 * differ from the copy, a malformed pin, a copy pinned nowhere.
 */
static void
test_geography(void **state)
{
	struct node_config c;
	char gpath[] = "/tmp/cairn-nodegeo-XXXXXX", extra[256];
	uint8_t h[32], other[32];
	int fd = mkstemp(gpath);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "region_id,name\n1,a\n", 20), 20);
	close(fd);
	assert_int_equal(keys_file_sha256(gpath, h), CAIRN_OK);
	memset(other, 0x5a, sizeof(other));

	/* Without a copy, only the name is checked (and a malformed pin). */
	assert_int_equal(load("max_rho_per_query = 0.25\n", &c), CAIRN_OK);
	assert_false(c.geo_copy);
	assert_int_equal(c.records.n, 0);
	assert_int_equal(node_geography_check(&c, "admin2", NULL, 0, NULL),
	    CAIRN_OK);
	assert_int_equal(node_geography_check(&c, "admin2", other, 32, NULL),
	    CAIRN_OK);
	assert_int_equal(node_geography_check(&c, "admin2", other, 7, NULL),
	    CAIRN_ERR_POLICY);
	assert_non_null(strstr(cairn_errmsg(), "7 bytes, not a SHA-256"));
	node_config_release(&c);

	snprintf(extra, sizeof(extra), "max_rho_per_query = 0.25\n[data]\n"
	    "records = /data/r1.csv, /data/r2.csv\ngeography_file = %s\n",
	    gpath);
	assert_int_equal(load(extra, &c), CAIRN_OK);
	assert_int_equal(c.records.n, 2);
	assert_string_equal(c.records.v[1], "/data/r2.csv");
	assert_true(c.geo_copy);
	assert_memory_equal(c.geo_sha256, h, 32);
	/* right pins */
	assert_int_equal(node_geography_check(&c, "admin2", h, 32, NULL),
	    CAIRN_OK);
	assert_int_equal(node_geography_check(&c, "admin2", h, 32, h),
	    CAIRN_OK);
	assert_int_equal(node_geography_check(&c, "admin2", NULL, 0, h),
	    CAIRN_OK);
	/* the coordinator's pin differs from the copy */
	assert_int_equal(node_geography_check(&c, "admin2", other, 32, NULL),
	    CAIRN_ERR_POLICY);
	assert_non_null(strstr(cairn_errmsg(), "geography 'admin2': the "
	    "coordinator pins sha256 5a5a"));
	assert_non_null(strstr(cairn_errmsg(), "this node's copy has"));
	/* federation.conf's pin differs from the copy */
	assert_int_equal(node_geography_check(&c, "admin2", NULL, 0, other),
	    CAIRN_ERR_POLICY);
	assert_non_null(strstr(cairn_errmsg(), "federation.conf pins sha256 "
	    "5a5a"));
	/* the two pins disagree */
	assert_int_equal(node_geography_check(&c, "admin2", h, 32, other),
	    CAIRN_ERR_POLICY);
	assert_non_null(strstr(cairn_errmsg(), "this node's federation.conf "
	    "pins 5a5a"));
	/* pinned nowhere */
	assert_int_equal(node_geography_check(&c, "admin2", NULL, 0, NULL),
	    CAIRN_ERR_POLICY);
	assert_non_null(strstr(cairn_errmsg(), "pinned nowhere"));
	node_config_release(&c);

	/* a copy that cannot be read stops the node at load */
	expect("max_rho_per_query = 0.25\n[data]\ngeography_file = "
	    "/nonexistent/g.csv\n", "key 'geography_file' in [data]: "
	    "/nonexistent/g.csv");
	unlink(gpath);
}

/* SIGHUP (config_reload()): what may change is taken, the rest named. */
static void
test_reload(void **state)
{
	struct node_config cur, next, same;
	char applied[256], fixed[256];

	assert_int_equal(load("max_rho_per_query = 0.25\n", &cur), CAIRN_OK);
	assert_int_equal(load("max_rho_per_query = 0.5\nallow_kind = od\n"
	    "[monitoring]\nlog_level = debug\nlog_format = json\n"
	    "listen = 9464\n", &next), CAIRN_OK);
	assert_int_equal(load("max_rho_per_query = 0.25\n", &same), CAIRN_OK);
	assert_int_equal(node_config_reload(&cur, &same, applied,
	    sizeof(applied), fixed, sizeof(fixed)), CAIRN_OK);
	assert_string_equal(applied, "");
	assert_string_equal(fixed, "");
	assert_int_equal(node_config_reload(&cur, &next, applied,
	    sizeof(applied), fixed, sizeof(fixed)), CAIRN_OK);
	assert_string_equal(applied, "[monitoring] log_format, "
	    "[monitoring] log_level");
	/* The policy (a list among it) and a listener need a restart. */
	assert_string_equal(fixed, "[monitoring] listen, [policy] allow_kind, "
	    "[policy] max_rho_per_query");
	assert_string_equal(cur.log_format, "json");
	assert_string_equal(cur.log_level, "debug");
	assert_null(cur.mon_listen);
	assert_int_equal(cur.policy.max_rho_per_query_nano, 250000000);
	assert_int_equal(cur.policy.kinds.n, 3);
	/* Taken back: an unset key is a change too. */
	assert_int_equal(node_config_reload(&cur, &same, applied,
	    sizeof(applied), fixed, sizeof(fixed)), CAIRN_OK);
	assert_string_equal(applied, "[monitoring] log_format, "
	    "[monitoring] log_level");
	assert_null(cur.log_level);
	assert_string_equal(cur.log_format, "text");
	node_config_release(&same);
	node_config_release(&next);
	node_config_release(&cur);
}

static void
test_load_errors(void **state)
{
	expect("", "missing key 'max_rho_per_query' in [policy]");
	expect("max_rho_per_query = 2\n",
	    "'max_rho_per_query' in [policy]: 2 exceeds budget_rho_per_month 1");
	/* rho keys take decimal text that is a whole number of nano-rho. */
	expect("max_rho_per_query = 0.1234567891\n",
	    ":21: key 'max_rho_per_query' in [policy]: '0.1234567891' is not a "
	    "valid rho: more than 9 decimals");
	expect("max_rho_per_query = 1/3\n",
	    "key 'max_rho_per_query' in [policy]: '1/3' is not a valid rho");
	expect("max_rho_per_query = 0\n",
	    "key 'max_rho_per_query' in [policy]: '0' is not a valid rho: "
	    "zero");
	expect("max_rho_per_query = -0.1\n", "-0.1' is not a valid rho: "
	    "negative");
	expect("max_rho_per_query = 0.1\nallow_kind = teleport\n",
	    "unknown query kind 'teleport'");
	expect("max_rho_per_query = 0.1\nmax_colluding = 2\n",
	    "'min_participants' in [policy]: 2 must exceed max_colluding 2");
	expect("max_rho_per_query = 0.1\nmin_participants = 1\n",
	    "1 is outside [2, 1024]");
	expect("max_rho_per_query = 0.1\n[data]\nregions = r.csv\n",
	    "needs exactly one of 'cells'");
	expect("max_rho_per_query = 0.1\nbudget = 3\n",
	    "unknown key 'budget' in [policy]");
	expect("max_rho_per_query = 0.1\nallow_analyst = ,\n",
	    "key 'allow_analyst' lists no value");
}

/* [policy] data_months: months and ranges, published sorted and distinct. */
static void
test_data_months(void **state)
{
	struct node_config c;
	Cairn__V1__Policy p = CAIRN__V1__POLICY__INIT;

	(void)state;
	assert_int_equal(load("max_rho_per_query = 0.1\n", &c), CAIRN_OK);
	assert_int_equal(c.policy.n_data_months, 0);
	node_policy_message(&c, "op-a", &p);
	assert_int_equal(p.n_data_months, 0);
	node_config_release(&c);
	assert_int_equal(load("max_rho_per_query = 0.1\n"
	    "data_months = 2026-02, 2025-11..2026-01\ndata_months = 2026-01\n",
	    &c), CAIRN_OK);
	assert_int_equal(c.policy.n_data_months, 4);
	assert_int_equal(c.policy.data_months[0], 202511);
	assert_int_equal(c.policy.data_months[1], 202512);
	assert_int_equal(c.policy.data_months[2], 202601);
	assert_int_equal(c.policy.data_months[3], 202602);
	node_policy_message(&c, "op-a", &p);
	assert_int_equal(p.n_data_months, 4);
	assert_int_equal(p.data_months[3], 202602);
	node_config_release(&c);
	expect("max_rho_per_query = 0.1\ndata_months = 2026-13\n",
	    "key 'data_months' in [policy]: '2026-13' is not YYYY-MM");
	expect("max_rho_per_query = 0.1\ndata_months = 2026-03..2026-01\n",
	    "'2026-03..2026-01' is not YYYY-MM or YYYY-MM..YYYY-MM (first <= "
	    "last)");
	expect("max_rho_per_query = 0.1\ndata_months = 2026-1\n",
	    "'2026-1' is not YYYY-MM");
	expect("max_rho_per_query = 0.1\ndata_months = 1900-01..2026-01\n",
	    "more than 1200 months");
}

static void
test_policy(void **state)
{
	struct node_config c;
	struct node_policy_request q = { "od", "nso", "admin2", NANO(0.2), 3,
	    1, 2, 1 };

	assert_int_equal(load("max_rho_per_query = 0.25\nmax_colluding = 1\n"
	    "min_participants = 3\nallow_geography = admin2\n", &c), CAIRN_OK);
	assert_int_equal(node_policy_check(&c.policy, &q), CAIRN_OK);
	q.analyst = "bank";
	assert_int_equal(node_policy_check(&c.policy, &q), CAIRN_ERR_POLICY);
	assert_string_equal(cairn_errmsg(), "analyst 'bank' is not allowed");
	q.analyst = "nso";
	q.kind = "visitors";
	assert_int_equal(node_policy_check(&c.policy, &q), CAIRN_ERR_POLICY);
	assert_string_equal(cairn_errmsg(), "query kind 'visitors' is not allowed");
	q.kind = "od";
	q.geography = "admin1";
	assert_int_equal(node_policy_check(&c.policy, &q), CAIRN_ERR_POLICY);
	q.geography = "admin2";
	q.rho_nano = NANO(0.3);
	assert_int_equal(node_policy_check(&c.policy, &q), CAIRN_ERR_POLICY);
	assert_non_null(strstr(cairn_errmsg(), "rho 0.3 exceeds"));
	q.rho_nano = NANO(0.25);
	assert_int_equal(node_policy_check(&c.policy, &q), CAIRN_OK);
	q.participants = 2;
	assert_int_equal(node_policy_check(&c.policy, &q), CAIRN_ERR_POLICY);
	assert_non_null(strstr(cairn_errmsg(), "fewer than the 3 required"));
	q.participants = 3;
	q.colluding = 0;
	assert_int_equal(node_policy_check(&c.policy, &q), CAIRN_ERR_POLICY);
	assert_non_null(strstr(cairn_errmsg(), "fewer than the 1 required"));
	q.colluding = 3;
	assert_int_equal(node_policy_check(&c.policy, &q), CAIRN_ERR_POLICY);
	assert_non_null(strstr(cairn_errmsg(), "leaves no honest node"));
	q.colluding = 1;
	q.months = 13;
	assert_int_equal(node_policy_check(&c.policy, &q), CAIRN_ERR_POLICY);
	assert_non_null(strstr(cairn_errmsg(), "13 data-months"));
	q.months = 2;
	assert_int_equal(c.policy.holders_per_person, 1);
	assert_int_equal(c.policy.retention_days, 7);
	node_config_release(&c);

	assert_int_equal(load("max_rho_per_query = 0.25\nholders_per_person = 2\n"
	    "retention_days = 3\n", &c), CAIRN_OK);
	assert_int_equal(c.policy.retention_days, 3);
	q.colluding = 0;
	q.holders = 0;
	assert_int_equal(node_policy_check(&c.policy, &q), CAIRN_ERR_POLICY);
	assert_non_null(strstr(cairn_errmsg(), "at 1 holders, fewer than the 2"));
	q.holders = 2;
	assert_int_equal(node_policy_check(&c.policy, &q), CAIRN_OK);
	node_config_release(&c);
}

static void
test_kinds(void **state)
{
	assert_true(node_kind_is_known("population_by_category"));
	assert_false(node_kind_is_known("Presence"));
	assert_false(node_kind_is_known(""));
}

/* [source]: a ClickHouse cluster, and what is refused at load. */
static void
test_source(void **state)
{
	struct node_config c;
	struct engine_source s;

	(void)state;
	if (load("max_rho_per_query = 0.25\n[source]\nuri = clickhouse://cairn:pw@ch1:8123/cdr\n"
	    "tables = calls, sms\nshards = ch1:8123, ch2:8124\n", &c) !=
	    CAIRN_OK)
		fail_msg("%s", cairn_errmsg());
	assert_true(node_config_source(&c, &s));
	assert_int_equal(s.type, ENGINE_SOURCE_CLICKHOUSE);
	assert_int_equal(s.ntables, 2);
	assert_int_equal(s.nshards, 2);
	assert_string_equal(s.shards[0], "ch1:8123");
	assert_string_equal(s.shards[1], "ch2:8124");
	node_config_release(&c);
	expect("max_rho_per_query = 0.25\n[source]\nuri = clickhouse://ch1/cdr\n",
	    "needs a host and a port");
	expect("max_rho_per_query = 0.25\n[source]\nuri = clickhouse://ch1:8123/cdr\nshards = ch1\n",
	    "source shard 'ch1' is not HOST:PORT");
	expect("max_rho_per_query = 0.25\n[source]\nuri = postgresql://ro@db/flowdb\nshards = a:1\n",
	    "'shards' is for clickhouse:// sources only");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_ok),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_geography),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_data_months),
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_source),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
