/*
 * test_coord.c - the coordinator's config (errors naming file:line), its
 * SQLite store, and its log side: appending with a published checkpoint,
 * checking and serving witness cosignatures.  The handlers run against
 * real nodes in tests/e2e/coord_round.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <sodium.h>
#include <sqlite3.h>

#include "common/err.h"
#include "coordinator/coord_int.h"
#include "protocol/proto_service.h"
#include "protocol/tlog_member.h"
#include "protocol/tlog_note.h"

#include <math.h>
/* ρ as a test writes it (a double) to nano-ρ. */
#define NANO(x)	((uint64_t)llround((double)(x) * 1e9))

static char tmpdir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/cairn-coordtest-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	return sodium_init() < 0 ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
put(const char *name, const char *text, char *path, size_t cap)
{
	FILE *f;

	snprintf(path, cap, "%s/%s", tmpdir, name);
	assert_non_null(f = fopen(path, "w"));
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static const char base[] =
	"[coordinator]\nidentity_key = id.key\ntls_key = tls.key\n"
	"tls_cert = tls.crt\nca_cert = ca.crt\nfederation = fed.conf\n"
	"data_dir = data\n";

static int
load(const char *extra, struct coord_config *cfg)
{
	char text[4096], path[256];

	snprintf(text, sizeof(text), "%s%s", base, extra);
	put("coordinator.conf", text, path, sizeof(path));
	return coord_config_load(path, cfg);
}

/* ------------------------------------------------------------- config */

/*
 * Geographies are pinned in federation.conf by the SHA-256 of their
 * region file: a missing pin or another hash stops the coordinator with
 * both hashes named; `cairn keys pin-geography` writes and replaces pins.
 */
static void
test_config_pins(void **state)
{
	struct coord_config c;
	struct keys_federation *fed = NULL;
	char p[256], fp[256], hex[65];
	uint8_t h[32], h2[32];

	(void)state;
	put("p1.csv", "region_id,name\n1,a\n2,b\n", p, sizeof(p));
	assert_int_equal(keys_file_sha256(p, h), CAIRN_OK);
	sodium_bin2hex(hex, sizeof(hex), h, 32);
	put("fed.conf", "[federation]\nname = t\nca_fingerprint = "
	    "0000000000000000000000000000000000000000000000000000000000000000"
	    "\n\n[members]\n", fp, sizeof(fp));
	assert_int_equal(load("[geographies]\ngeography = p1 p1.csv\n", &c),
	    CAIRN_OK);
	assert_memory_equal(coord_config_geo(&c, "p1")->sha256, h, 32);
	/* not pinned */
	assert_int_equal(keys_federation_load(fp, &fed), CAIRN_OK);
	assert_int_equal(coord_config_check_pins(&c, "coordinator.conf", fed,
	    fp), CAIRN_ERR_CONFIG);
	assert_non_null(strstr(cairn_errmsg(), "geography 'p1' is not pinned"));
	assert_non_null(strstr(cairn_errmsg(), hex));
	keys_federation_free(fed);
	/* pinned right */
	assert_int_equal(keys_federation_pin_geography(fp, "p1", h), CAIRN_OK);
	assert_int_equal(keys_federation_load(fp, &fed), CAIRN_OK);
	assert_int_equal(fed->ngeos, 1);
	assert_int_equal(coord_config_check_pins(&c, "coordinator.conf", fed,
	    fp), CAIRN_OK);
	keys_federation_free(fed);
	/* pinned to another file: both hashes are named */
	memset(h2, 0xab, sizeof(h2));
	assert_int_equal(keys_federation_pin_geography(fp, "p1", h2),
	    CAIRN_OK);
	assert_int_equal(keys_federation_load(fp, &fed), CAIRN_OK);
	assert_int_equal(fed->ngeos, 1);
	assert_int_equal(coord_config_check_pins(&c, "coordinator.conf", fed,
	    fp), CAIRN_ERR_CONFIG);
	assert_non_null(strstr(cairn_errmsg(), "p1.csv has sha256"));
	assert_non_null(strstr(cairn_errmsg(), hex));
	assert_non_null(strstr(cairn_errmsg(), "pins abababab"));
	keys_federation_free(fed);
	/* a second pin goes under the same [geographies] section */
	assert_int_equal(keys_federation_pin_geography(fp, "other", h),
	    CAIRN_OK);
	assert_int_equal(keys_federation_load(fp, &fed), CAIRN_OK);
	assert_int_equal(fed->ngeos, 2);
	assert_non_null(keys_federation_geography(fed, "other"));
	assert_null(keys_federation_geography(fed, "third"));
	keys_federation_free(fed);
	assert_int_equal(keys_federation_pin_geography(fp, "Bad/Name", h),
	    CAIRN_ERR_ARG);
	/* a malformed pin is refused when federation.conf is read */
	put("fed.conf", "[federation]\nname = t\nca_fingerprint = "
	    "0000000000000000000000000000000000000000000000000000000000000000"
	    "\n[geographies]\ngeography = p1 xyz\n", fp, sizeof(fp));
	assert_int_equal(keys_federation_load(fp, &fed), CAIRN_ERR_CONFIG);
	assert_non_null(strstr(cairn_errmsg(), "expected NAME SHA256"));
	put("fed.conf", "[federation]\nname = t\nca_fingerprint = "
	    "0000000000000000000000000000000000000000000000000000000000000000"
	    "\n[geographies]\ngeography = p1 0000000000000000000000000000000"
	    "000000000000000000000000000000000\ngeography = p1 000000000000000"
	    "0000000000000000000000000000000000000000000000000\n", fp,
	    sizeof(fp));
	assert_int_equal(keys_federation_load(fp, &fed), CAIRN_ERR_CONFIG);
	assert_non_null(strstr(cairn_errmsg(), "pinned twice"));
	coord_config_release(&c);
}

static void
test_config_ok(void **state)
{
	struct coord_config c;
	char p[256];

	(void)state;
	put("g3.csv", "region_id,name\n10,a\n# comment\n\n20,b\n30,c\n", p,
	    sizeof(p));
	put("g1.csv", "7\n", p, sizeof(p));
	assert_int_equal(load("[deadlines]\nadvertise_seconds = 5\n"
	    "[limits]\nmax_rho_per_query = 0.5\n[geographies]\n"
	    "geography = g3 g3.csv\ngeography = one g1.csv\n", &c), CAIRN_OK);
	assert_string_equal(c.listen, "127.0.0.1:7443");
	assert_int_equal(c.advertise_seconds, 5);
	assert_int_equal(c.share_seconds, 120);
	assert_int_equal(c.redeliver_seconds, 30);
	assert_int_equal(c.max_participants, 64);
	assert_int_equal(c.max_attempts, 3);
	assert_int_equal(c.witness_quorum, 0);
	assert_int_equal(c.max_long_polls_per_member, 16);
	assert_int_equal(c.max_long_polls, 4096);
	assert_true(c.max_rho_per_query_nano == 500000000);
	assert_int_equal(c.ngeos, 2);
	assert_non_null(coord_config_geo(&c, "g3"));
	assert_int_equal(coord_config_geo(&c, "g3")->nregions, 3);
	assert_int_equal(coord_config_geo(&c, "one")->nregions, 1);
	assert_null(coord_config_geo(&c, "two"));
	coord_config_release(&c);
}

static void
expect_error(const char *extra, const char *needle)
{
	struct coord_config c;
	int r = load(extra, &c);

	coord_config_release(&c);
	assert_int_equal(r, CAIRN_ERR_CONFIG);
	if (strstr(cairn_errmsg(), needle) == NULL)
		fail_msg("error '%s' lacks '%s'", cairn_errmsg(), needle);
}

static void
test_config_errors(void **state)
{
	char p[256];

	(void)state;
	put("g2.csv", "1,a\n2,b\n", p, sizeof(p));
	put("dup.csv", "1,a\n2,b\n2,c\n", p, sizeof(p));
	put("junk.csv", "region_id,name\n1,a\nx,b\n", p, sizeof(p));
	put("empty.csv", "# nothing\n", p, sizeof(p));
	expect_error("[geographies]\ngeography = g2 g2.csv\nbogus = 1\n",
	    "coordinator.conf:10:");
	expect_error("[deadlines]\nadvertise_seconds = 0\n[geographies]\n"
	    "geography = g2 g2.csv\n", "coordinator.conf:9:");
	expect_error("[limits]\nmax_rho_per_query = -1\n[geographies]\n"
	    "geography = g2 g2.csv\n", "coordinator.conf:9:");
	expect_error("[limits]\nmax_long_polls_per_member = 0\n"
	    "[geographies]\ngeography = g2 g2.csv\n", "coordinator.conf:9: "
	    "key 'max_long_polls_per_member' in [limits]: 0 is outside "
	    "[1, 1024]");
	expect_error("[limits]\nmax_long_polls = 1000001\n"
	    "[geographies]\ngeography = g2 g2.csv\n", "coordinator.conf:9: "
	    "key 'max_long_polls' in [limits]: 1000001 is outside "
	    "[1, 1000000]");
	/* geography is required */
	expect_error("", "geography");
	expect_error("[geographies]\ngeography = lonely\n",
	    "coordinator.conf:9: key 'geography'");
	expect_error("[geographies]\ngeography = Bad/Name g2.csv\n",
	    "coordinator.conf:9:");
	expect_error("[geographies]\ngeography = g2 g2.csv\n"
	    "geography = g2 g2.csv \n", "given twice");
	expect_error("[geographies]\ngeography = d dup.csv\n",
	    "region id 2 listed twice");
	expect_error("[geographies]\ngeography = j junk.csv\n",
	    "junk.csv:3: region id 'x'");
	expect_error("[geographies]\ngeography = e empty.csv\n",
	    "empty.csv: no regions");
	expect_error("[geographies]\ngeography = m missing.csv\n",
	    "coordinator.conf:9: geography 'm'");
}

/* -------------------------------------------------------------- store */

static struct coord_store *
store_open(const char *name)
{
	struct coord_store *s;
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	assert_int_equal(coord_store_open(path, &s), CAIRN_OK);
	return s;
}

static void
add_query(struct coord_store *s, const char *id, const char *analyst)
{
	struct coord_query_row q;
	uint8_t body[3] = { 1, 2, 3 };

	memset(&q, 0, sizeof(q));
	snprintf(q.query_id, sizeof(q.query_id), "%s", id);
	snprintf(q.analyst, sizeof(q.analyst), "%s", analyst);
	memset(q.hash, id[0], 32);
	q.signed_query = body;
	q.signed_len = sizeof(body);
	q.log_index = 7;
	q.created = 1700000000;
	assert_int_equal(coord_store_query_add(s, &q), CAIRN_OK);
}

struct seen {
	int	n;
	char	nodes[4][16];
};

static int
each(void *arg, const char *node, const uint8_t *body, size_t blen,
    const uint8_t *sig, size_t slen)
{
	struct seen *sn = arg;

	assert_int_equal(blen, 2);
	assert_int_equal(slen, 64);
	assert_int_equal(body[0], 'b');
	assert_int_equal(sig[0], 's');
	snprintf(sn->nodes[sn->n++], 16, "%s", node);
	return 0;
}

static void
test_store(void **state)
{
	struct coord_store *s = store_open("coord.db");
	struct coord_query_row q, rows[4];
	char ids[4][COORD_QUERY_ID_MAX + 1];
	uint8_t sig[64], *rel;
	int64_t vals[3] = { -5, 0, INT64_MAX }, *got;
	uint64_t counts[6];
	struct seen sn;
	size_t n, rl;

	(void)state;
	add_query(s, "q1", "nso");
	add_query(s, "q2", "other");
	add_query(s, "q3", "nso");
	{
		struct coord_query_row dup;
		uint8_t b = 0;

		memset(&dup, 0, sizeof(dup));
		snprintf(dup.query_id, sizeof(dup.query_id), "q1");
		dup.signed_query = &b;
		dup.signed_len = 1;
		assert_int_equal(coord_store_query_add(s, &dup),
		    CAIRN_ERR_EXISTS);
	}
	assert_int_equal(coord_store_query_get(s, "q1", &q), CAIRN_OK);
	assert_string_equal(q.analyst, "nso");
	assert_int_equal(q.state, COORD_Q_PENDING);
	assert_int_equal(q.attempt, 0);
	assert_int_equal(q.log_index, 7);
	assert_int_equal(q.signed_len, 3);
	assert_int_equal(q.signed_query[2], 3);
	assert_int_equal(q.hash[31], 'q');
	coord_store_row_clear(&q);
	assert_int_equal(coord_store_query_get(s, "nope", &q),
	    CAIRN_ERR_NOTFOUND);
	assert_int_equal(coord_store_query_set(s, "q1", COORD_Q_FAILED, 2,
	    "attempt 2: deadline"), CAIRN_OK);
	assert_int_equal(coord_store_query_get(s, "q1", &q), CAIRN_OK);
	assert_int_equal(q.state, COORD_Q_FAILED);
	assert_int_equal(q.attempt, 2);
	assert_string_equal(q.failure, "attempt 2: deadline");
	coord_store_row_clear(&q);
	/* Pages of one analyst's queries. */
	assert_int_equal(coord_store_query_list(s, "nso", 0, rows, 1, &n),
	    CAIRN_OK);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].query_id, "q1");
	coord_store_row_clear(&rows[0]);
	assert_int_equal(coord_store_query_list(s, "nso", rows[0].seq, rows, 4,
	    &n), CAIRN_OK);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].query_id, "q3");
	coord_store_row_clear(&rows[0]);
	assert_int_equal(coord_store_query_list(s, NULL, 0, rows, 4, &n),
	    CAIRN_OK);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		coord_store_row_clear(&rows[i]);
	/* Open queries are the pending and running ones. */
	assert_int_equal(coord_store_open_queries(s, ids, 4, &n), CAIRN_OK);
	assert_int_equal(n, 2);
	assert_string_equal(ids[0], "q2");
	assert_string_equal(ids[1], "q3");
	assert_int_equal(coord_store_count(s, counts), CAIRN_OK);
	assert_int_equal(counts[COORD_Q_PENDING], 2);
	assert_int_equal(counts[COORD_Q_FAILED], 1);
	/* Signed messages per attempt and kind. */
	memset(sig, 's', sizeof(sig));
	assert_int_equal(coord_store_signed_add(s, "q2", 0, "n1", 'c',
	    (const uint8_t *)"b1", 2, sig, 64, 10), CAIRN_OK);
	assert_int_equal(coord_store_signed_add(s, "q2", 0, "n2", 'c',
	    (const uint8_t *)"b2", 2, sig, 64, 11), CAIRN_OK);
	assert_int_equal(coord_store_signed_add(s, "q2", 0, "n3", 'r',
	    (const uint8_t *)"b3", 2, sig, 64, 12), CAIRN_OK);
	assert_int_equal(coord_store_signed_add(s, "q2", 1, "n1", 'c',
	    (const uint8_t *)"b4", 2, sig, 64, 13), CAIRN_OK);
	assert_int_equal(coord_store_signed_add(s, "q2", 0, "n1", 'c',
	    (const uint8_t *)"b5", 2, sig, 64, 14), CAIRN_ERR_EXISTS);
	{
		uint64_t ev = 9;

		assert_int_equal(coord_store_evidence_count(s, &ev), CAIRN_OK);
		assert_int_equal(ev, 0);
		assert_int_equal(coord_store_signed_add(s, "q2", 0, "n1", 'e',
		    (const uint8_t *)"b6", 2, NULL, 0, 0), CAIRN_OK);
		assert_int_equal(coord_store_evidence_count(s, &ev), CAIRN_OK);
		assert_int_equal(ev, 1);
	}
	memset(&sn, 0, sizeof(sn));
	assert_int_equal(coord_store_signed_each(s, "q2", 0, 'c', each, &sn),
	    CAIRN_OK);
	assert_int_equal(sn.n, 2);
	assert_string_equal(sn.nodes[0], "n1");
	assert_string_equal(sn.nodes[1], "n2");
	memset(&sn, 0, sizeof(sn));
	assert_int_equal(coord_store_signed_each(s, "q2", 0, 'r', each, &sn),
	    CAIRN_OK);
	assert_int_equal(sn.n, 1);
	/* Results round-trip as little-endian int64. */
	assert_int_equal(coord_store_result_put(s, "q3",
	    (const uint8_t *)"rel", 3, vals, 3), CAIRN_OK);
	assert_int_equal(coord_store_result_get(s, "q3", &rel, &rl, &got, &n),
	    CAIRN_OK);
	assert_int_equal(rl, 3);
	assert_memory_equal(rel, "rel", 3);
	assert_int_equal(n, 3);
	assert_memory_equal(got, vals, sizeof(vals));
	free(rel);
	free(got);
	assert_int_equal(coord_store_result_get(s, "q1", &rel, &rl, &got, &n),
	    CAIRN_ERR_NOTFOUND);
	coord_store_close(s);
	/* Everything is still there after reopening. */
	s = store_open("coord.db");
	assert_int_equal(coord_store_query_get(s, "q3", &q), CAIRN_OK);
	coord_store_row_clear(&q);
	coord_store_close(s);
}

/* Run 'sql' on the database 'name' of the test folder. */
static void
raw_exec(const char *name, const char *sql)
{
	sqlite3 *db;
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/*
 * A released result is kept compact (common/cells.h: 540,000 small
 * counts in about a byte each, not eight); a database written before
 * the encoding keeps its 8-byte rows readable after the column is added;
 * a damaged row is an error naming the query.
 */
static void
test_store_result_encoding(void **state)
{
	struct coord_store *s;
	enum { N = 540000 };
	int64_t *vals, *got;
	uint8_t *rel;
	size_t rl, n;
	sqlite3 *db;
	sqlite3_stmt *st;
	char path[256];

	(void)state;
	assert_non_null(vals = malloc(N * sizeof(*vals)));
	for (size_t i = 0; i < N; i++)
		vals[i] = (int64_t)(i % 13) - 6;
	vals[7] = INT64_MIN;
	vals[8] = INT64_MAX;
	s = store_open("enc.db");
	assert_int_equal(coord_store_result_put(s, "big",
	    (const uint8_t *)"rel", 3, vals, N), CAIRN_OK);
	coord_store_close(s);
	snprintf(path, sizeof(path), "%s/enc.db", tmpdir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT length(vals), enc "
	    "FROM results", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_true(sqlite3_column_int64(st, 0) < N + 64);
	assert_int_equal(sqlite3_column_int(st, 1), 1);
	sqlite3_finalize(st);
	sqlite3_close(db);
	s = store_open("enc.db");
	assert_int_equal(coord_store_result_get(s, "big", &rel, &rl, &got, &n),
	    CAIRN_OK);
	assert_int_equal(n, N);
	assert_memory_equal(got, vals, N * sizeof(*vals));
	free(rel);
	free(got);
	coord_store_close(s);
	free(vals);

	/* Damaged: one byte cut from the end. */
	raw_exec("enc.db", "UPDATE results SET vals = substr(vals, 1, "
	    "length(vals) - 1)");
	s = store_open("enc.db");
	assert_int_equal(coord_store_result_get(s, "big", &rel, &rl, &got, &n),
	    CAIRN_ERR_DB);
	assert_non_null(strstr(cairn_errmsg(), "result of 'big' is corrupt"));
	coord_store_close(s);

	/* Written before the encoding: no enc column, 8 bytes LE a cell. */
	raw_exec("old.db", "CREATE TABLE results(query_id TEXT PRIMARY KEY, "
	    "release BLOB NOT NULL, vals BLOB NOT NULL);"
	    "INSERT INTO results VALUES('q', x'72656c', "
	    "x'0500000000000000fdffffffffffffff');");
	s = store_open("old.db");
	assert_int_equal(coord_store_result_get(s, "q", &rel, &rl, &got, &n),
	    CAIRN_OK);
	assert_int_equal(n, 2);
	assert_int_equal(got[0], 5);
	assert_int_equal(got[1], -3);
	free(rel);
	free(got);
	coord_store_close(s);
}

/* Does an index of the cosigs table in database 'name' lead with size? */
static bool
size_indexed(const char *name)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	char path[256];
	bool yes;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM "
	    "pragma_index_list('cosigs') AS il, pragma_index_info(il.name) "
	    "AS ii WHERE ii.seqno = 0 AND ii.name = 'size'", -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	yes = sqlite3_column_int(st, 0) > 0;
	sqlite3_finalize(st);
	sqlite3_close(db);
	return yes;
}

static void
test_store_cosigs(void **state)
{
	struct coord_store *s = store_open("cosig.db");
	char *note, *lines;
	uint64_t size;
	size_t n;

	(void)state;
	assert_int_equal(coord_store_checkpoint_put(s, 3, "note3\n"),
	    CAIRN_OK);
	assert_int_equal(coord_store_checkpoint_get(s, 3, &note), CAIRN_OK);
	assert_string_equal(note, "note3\n");
	free(note);
	assert_int_equal(coord_store_checkpoint_get(s, 4, &note),
	    CAIRN_ERR_NOTFOUND);
	assert_int_equal(coord_store_cosigned_size(s, 1, &size),
	    CAIRN_ERR_NOTFOUND);
	assert_int_equal(coord_store_cosig_put(s, "b", 3, 1, "- b 3\n"),
	    CAIRN_OK);
	assert_int_equal(coord_store_cosig_put(s, "a", 3, 1, "- a 3\n"),
	    CAIRN_OK);
	assert_int_equal(coord_store_cosig_put(s, "a", 5, 1, "- a 5\n"),
	    CAIRN_OK);
	/* A newer cosignature from the same witness replaces it. */
	assert_int_equal(coord_store_cosig_put(s, "a", 5, 2, "- a 5'\n"),
	    CAIRN_OK);
	assert_int_equal(coord_store_cosig_lines(s, 3, &lines, &n), CAIRN_OK);
	assert_int_equal(n, 2);
	assert_string_equal(lines, "- a 3\n- b 3\n");
	free(lines);
	assert_int_equal(coord_store_cosig_lines(s, 5, &lines, &n), CAIRN_OK);
	assert_int_equal(n, 1);
	assert_string_equal(lines, "- a 5'\n");
	free(lines);
	assert_int_equal(coord_store_cosig_lines(s, 9, &lines, &n), CAIRN_OK);
	assert_int_equal(n, 0);
	assert_string_equal(lines, "");
	free(lines);
	assert_int_equal(coord_store_cosigned_size(s, 1, &size), CAIRN_OK);
	assert_int_equal(size, 5);
	assert_int_equal(coord_store_cosigned_size(s, 2, &size), CAIRN_OK);
	assert_int_equal(size, 3);
	assert_int_equal(coord_store_cosigned_size(s, 3, &size),
	    CAIRN_ERR_NOTFOUND);
	coord_store_close(s);
	assert_true(size_indexed("cosig.db"));

	/*
	 * A database of an older version: cosignatures kept under the
	 * (witness, size) key alone, so each lookup by size scanned them
	 * all (bench/bench_coord_store.c).  Opened, it gets the index and
	 * answers as before.
	 */
	raw_exec("oldcs.db", "CREATE TABLE cosigs(witness TEXT NOT NULL, "
	    "size INTEGER NOT NULL, ts INTEGER NOT NULL, line TEXT NOT NULL, "
	    "PRIMARY KEY(witness, size));"
	    "INSERT INTO cosigs VALUES('a', 7, 1, '- a 7\n'), "
	    "('b', 7, 1, '- b 7\n'), ('a', 8, 1, '- a 8\n');");
	assert_false(size_indexed("oldcs.db"));
	s = store_open("oldcs.db");
	assert_true(size_indexed("oldcs.db"));
	assert_int_equal(coord_store_cosigned_size(s, 2, &size), CAIRN_OK);
	assert_int_equal(size, 7);
	assert_int_equal(coord_store_cosig_lines(s, 7, &lines, &n), CAIRN_OK);
	assert_int_equal(n, 2);
	assert_string_equal(lines, "- a 7\n- b 7\n");
	free(lines);
	coord_store_close(s);
}

/* ---------------------------------------------------------------- log */

static int
sign_note(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64])
{
	return keys_sign_note(ctx, msg, len, sig);
}

/* Witness 'w' cosigns the checkpoint note 'note' at 'ts': the raw
 * 72-byte signature (u64be ts || Ed25519) into 'sig'. */
static void
cosign(const struct keys_identity *w, const char *note, uint64_t ts,
    uint8_t sig[72])
{
	struct tlog_signer sg;
	struct tlog_note *n;
	uint8_t raw[128];
	char line[512];
	const char *sp;
	size_t rl;

	memset(&sg, 0, sizeof(sg));
	sg.name = keys_identity_name(w);
	keys_identity_public(w, sg.pub);
	sg.sign = sign_note;
	sg.ctx = (void *)(uintptr_t)w;
	assert_int_equal(tlog_note_parse(note, strlen(note), &n), CAIRN_OK);
	assert_int_equal(tlog_cosign(n->text, n->text_len, ts, &sg, line,
	    sizeof(line)), CAIRN_OK);
	tlog_note_free(n);
	assert_non_null(sp = strrchr(line, ' '));
	assert_int_equal(tlog_b64_decode(sp + 1, strcspn(sp + 1, "\n"), raw,
	    sizeof(raw), &rl), CAIRN_OK);
	assert_int_equal(rl, 76);
	memcpy(sig, raw + 4, 72);
}

static void
verifier(const char *name, uint8_t type, const uint8_t pk[32],
    struct tlog_verifier *v)
{
	char vk[512];

	assert_int_equal(tlog_verifier_format(name, type, pk, vk, sizeof(vk)),
	    CAIRN_OK);
	assert_int_equal(tlog_verifier_parse(vk, v), CAIRN_OK);
}

static void
test_log(void **state)
{
	struct keys_identity *co, *w;
	struct coord_store *db = store_open("logside.db");
	struct coord_log lg;
	struct tlog_verifier keys[2];
	struct tlog_checkpoint cp;
	struct tlog_entry e;
	uint8_t pk[32], wpk[32], sig[72], bad[72];
	char path[256], *note, *shown;
	uint64_t idx;

	(void)state;
	assert_int_equal(keys_identity_generate(KEYS_ROLE_COORDINATOR,
	    "coordinator", &co), CAIRN_OK);
	assert_int_equal(keys_identity_generate(KEYS_ROLE_NODE, "n1", &w),
	    CAIRN_OK);
	keys_identity_public(co, pk);
	keys_identity_public(w, wpk);
	verifier("cairn/fedx", TLOG_KEY_ED25519, pk, &keys[0]);
	verifier("n1", TLOG_KEY_COSIGNATURE, wpk, &keys[1]);
	snprintf(path, sizeof(path), "%s/log.db", tmpdir);
	assert_int_equal(coord_log_open(&lg, path, "fedx", co, db), CAIRN_OK);
	/* The empty log has a signed checkpoint of size 0 at once. */
	assert_int_equal(coord_log_checkpoint(&lg, 0, &note), CAIRN_OK);
	assert_int_equal(tlog_checkpoint_open(note, strlen(note), keys, 1, 1,
	    "cairn/fedx", &cp), CAIRN_OK);
	assert_int_equal(cp.size, 0);
	free(note);
	/* An append publishes the checkpoint that covers it. */
	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_FAILURE;
	e.time = 1700000000;
	e.reason.p = (const uint8_t *)"attempt 0: test";
	e.reason.len = 15;
	assert_int_equal(coord_log_append(&lg, &e, &idx), CAIRN_OK);
	assert_int_equal(idx, 0);
	assert_int_equal(coord_log_checkpoint(&lg, 0, &note), CAIRN_OK);
	assert_int_equal(tlog_checkpoint_open(note, strlen(note), keys, 1, 1,
	    "cairn/fedx", &cp), CAIRN_OK);
	assert_int_equal(cp.size, 1);
	/* A witness cosignature is checked, kept and served. */
	cosign(w, note, 1700000100, sig);
	memcpy(bad, sig, 72);
	bad[40] ^= 1;
	assert_int_equal(coord_log_cosign(&lg, "n1", wpk, 1, cp.root, 32,
	    1700000100, bad, 72), CAIRN_ERR_SIGNATURE);
	assert_int_equal(coord_log_cosign(&lg, "n1", wpk, 1, cp.root, 32,
	    1700000101, sig, 72), CAIRN_ERR_SIGNATURE);
	assert_int_equal(coord_log_cosign(&lg, "n1", pk, 1, cp.root, 32,
	    1700000100, sig, 72), CAIRN_ERR_SIGNATURE);
	assert_int_equal(coord_log_cosign(&lg, "n1", wpk, 2, cp.root, 32,
	    1700000100, sig, 72), CAIRN_ERR_NOTFOUND);
	bad[0] = cp.root[0] ^ 1;
	memcpy(bad + 1, cp.root + 1, 31);
	assert_int_equal(coord_log_cosign(&lg, "n1", wpk, 1, bad, 32,
	    1700000100, sig, 72), CAIRN_ERR_NOTFOUND);
	assert_int_equal(coord_log_cosign(&lg, "n1", wpk, 1, cp.root, 31,
	    1700000100, sig, 72), CAIRN_ERR_FORMAT);
	assert_int_equal(coord_log_cosign(&lg, "n1", wpk, 1, cp.root, 32,
	    1700000100, sig, 72), CAIRN_OK);
	free(note);
	assert_int_equal(coord_log_checkpoint(&lg, 0, &shown), CAIRN_OK);
	assert_int_equal(tlog_checkpoint_open(shown, strlen(shown), keys, 2, 2,
	    "cairn/fedx", &cp), CAIRN_OK);
	free(shown);
	/* The log grows: the latest checkpoint has no cosignature yet, but
	 * with a witness quorum of 1 the cosigned one is shown. */
	assert_int_equal(coord_log_append(&lg, &e, &idx), CAIRN_OK);
	assert_int_equal(idx, 1);
	assert_int_equal(coord_log_checkpoint(&lg, 0, &shown), CAIRN_OK);
	assert_int_equal(tlog_checkpoint_open(shown, strlen(shown), keys, 2, 1,
	    "cairn/fedx", &cp), CAIRN_OK);
	assert_int_equal(cp.size, 2);
	assert_int_equal(tlog_checkpoint_open(shown, strlen(shown), keys, 2, 2,
	    "cairn/fedx", &cp), CAIRN_ERR_SIGNATURE);
	free(shown);
	assert_int_equal(coord_log_checkpoint(&lg, 1, &shown), CAIRN_OK);
	assert_int_equal(tlog_checkpoint_open(shown, strlen(shown), keys, 2, 2,
	    "cairn/fedx", &cp), CAIRN_OK);
	assert_int_equal(cp.size, 1);
	free(shown);
	/* No checkpoint has 2 cosignatures: the latest is shown. */
	assert_int_equal(coord_log_checkpoint(&lg, 2, &shown), CAIRN_OK);
	assert_int_equal(tlog_checkpoint_open(shown, strlen(shown), keys, 2, 1,
	    "cairn/fedx", &cp), CAIRN_OK);
	assert_int_equal(cp.size, 2);
	free(shown);
	coord_log_close(&lg);
	/* Reopened, the log keeps its size and checkpoint. */
	assert_int_equal(coord_log_open(&lg, path, "fedx", co, db), CAIRN_OK);
	assert_int_equal(tlog_store_size(lg.tlog), 2);
	assert_int_equal(coord_log_checkpoint(&lg, 0, &shown), CAIRN_OK);
	assert_int_equal(tlog_checkpoint_open(shown, strlen(shown), keys, 1, 1,
	    "cairn/fedx", &cp), CAIRN_OK);
	assert_int_equal(cp.size, 2);
	free(shown);
	coord_log_close(&lg);
	coord_store_close(db);
	keys_identity_free(co);
	keys_identity_free(w);
}

static void
member_of(struct keys_member *m, const struct keys_identity *id, char fill)
{
	memset(m, 0, sizeof(*m));
	m->pub.role = keys_identity_role(id);
	snprintf(m->pub.name, sizeof(m->pub.name), "%s",
	    keys_identity_name(id));
	keys_identity_public(id, m->pub.pk);
	memset(m->cert_fpr, fill, 64);
}

/* The MEMBER entries of 'lg' from 'from' on, as "+role/name" lines. */
static void
member_lines(struct coord_log *lg, uint64_t from, const uint8_t pk[32],
    char *out, size_t cap)
{
	static struct tlog_entry e;

	out[0] = '\0';
	for (uint64_t i = from; i < tlog_store_size(lg->tlog); i++) {
		struct tlog_member_change c;
		uint8_t *data;
		size_t len;

		assert_int_equal(tlog_store_entry(lg->tlog, i, &data, &len),
		    CAIRN_OK);
		assert_int_equal(tlog_entry_decode(data, len, &e), CAIRN_OK);
		assert_int_equal(e.type, TLOG_ENTRY_MEMBER);
		assert_int_equal(tlog_member_decode(&e, pk, &c), CAIRN_OK);
		assert_string_equal(c.federation, "fedm");
		snprintf(out + strlen(out), cap - strlen(out), "%c%s/%s\n",
		    c.added ? '+' : '-', keys_role_name(c.m.pub.role),
		    c.m.pub.name);
		free(data);
	}
}

/* A signed Policy of node 'n' with 'budget', as PublishPolicy carries. */
static void
policy_bytes(const struct keys_identity *n, const char *name, double budget,
    uint8_t **body, size_t *len, uint8_t sig[64])
{
	Cairn__V1__Policy p = CAIRN__V1__POLICY__INIT;

	p.node = (char *)name;
	p.budget_rho_per_month_nano = NANO(budget);
	p.max_rho_per_query_nano = NANO(budget / 2);
	p.min_participants = 2;
	assert_int_equal(proto_pack(&p.base, PROTO_MAX_SMALL, body, len),
	    CAIRN_OK);
	assert_int_equal(keys_sign(n, "policy", *body, *len, sig), CAIRN_OK);
}

/*
 * The coordinator logs its membership before serving: every member on the
 * first start, nothing when federation.conf is unchanged (also after a
 * reopen: it replays the MEMBER entries), removals and additions when it
 * changed.  A node's policy is logged once per change.
 */
static void
test_log_members(void **state)
{
	struct keys_identity *co, *an, *n1, *n2;
	struct coord_store *db = store_open("members.db");
	struct keys_member ms[4];
	struct keys_federation fed;
	struct coord_log lg;
	uint8_t pk[32], *body, sig[64];
	char path[256], lines[1024];
	size_t added, len;
	uint64_t idx, idx2;
	bool app;

	(void)state;
	assert_int_equal(keys_identity_generate(KEYS_ROLE_COORDINATOR, "co",
	    &co), CAIRN_OK);
	assert_int_equal(keys_identity_generate(KEYS_ROLE_ANALYST, "nso", &an),
	    CAIRN_OK);
	assert_int_equal(keys_identity_generate(KEYS_ROLE_NODE, "n1", &n1),
	    CAIRN_OK);
	assert_int_equal(keys_identity_generate(KEYS_ROLE_NODE, "n2", &n2),
	    CAIRN_OK);
	keys_identity_public(co, pk);
	member_of(&ms[0], co, 'a');
	member_of(&ms[1], an, 'b');
	member_of(&ms[2], n1, 'c');
	member_of(&ms[3], n2, 'd');
	memset(&fed, 0, sizeof(fed));
	snprintf(fed.name, sizeof(fed.name), "fedm");
	fed.members = ms;
	fed.n = 3;
	snprintf(path, sizeof(path), "%s/members-log.db", tmpdir);
	assert_int_equal(coord_log_open(&lg, path, "fedm", co, db), CAIRN_OK);
	assert_int_equal(coord_log_members(&lg, &fed, co, &added), CAIRN_OK);
	assert_int_equal(added, 3);
	member_lines(&lg, 0, pk, lines, sizeof(lines));
	assert_string_equal(lines, "+coordinator/co\n+analyst/nso\n+node/n1\n");
	assert_int_equal(coord_log_members(&lg, &fed, co, &added), CAIRN_OK);
	assert_int_equal(added, 0);

	/* Policies: logged once per change, checked like an auditor. */
	policy_bytes(n1, "n1", 1.0, &body, &len, sig);
	assert_int_equal(coord_log_policy(&lg, "n1", ms[2].pub.pk, body, len,
	    sig, 64, &idx, &app), CAIRN_OK);
	assert_true(app);
	assert_int_equal(idx, 3);
	assert_int_equal(coord_log_policy(&lg, "n1", ms[2].pub.pk, body, len,
	    sig, 64, &idx2, &app), CAIRN_OK);
	assert_false(app);
	assert_int_equal(idx2, 3);
	assert_int_equal(coord_log_policy(&lg, "n2", ms[3].pub.pk, body, len,
	    sig, 64, &idx2, &app), CAIRN_ERR_SIGNATURE);
	free(body);
	policy_bytes(n2, "n1", 1.0, &body, &len, sig);
	assert_int_equal(coord_log_policy(&lg, "n2", ms[3].pub.pk, body, len,
	    sig, 64, &idx2, &app), CAIRN_ERR_FORMAT);
	assert_non_null(strstr(cairn_errmsg(), "the body is node 'n1''s"));
	free(body);
	policy_bytes(n1, "n1", 0.5, &body, &len, sig);
	assert_int_equal(coord_log_policy(&lg, "n1", ms[2].pub.pk, body, len,
	    sig, 64, &idx, &app), CAIRN_OK);
	assert_true(app);
	assert_int_equal(idx, 4);
	coord_log_close(&lg);

	/* Reopened: the same membership logs nothing, the same policy is
	 * known; the analyst leaves, n1's certificate changes, n2 joins. */
	assert_int_equal(coord_log_open(&lg, path, "fedm", co, db), CAIRN_OK);
	assert_int_equal(coord_log_members(&lg, &fed, co, &added), CAIRN_OK);
	assert_int_equal(added, 0);
	assert_int_equal(coord_log_policy(&lg, "n1", ms[2].pub.pk, body, len,
	    sig, 64, &idx, &app), CAIRN_OK);
	assert_false(app);
	assert_int_equal(idx, 4);
	free(body);
	ms[1] = ms[3];		/* nso removed, n2 in its place */
	memset(ms[2].cert_fpr, 'e', 64);
	assert_int_equal(coord_log_members(&lg, &fed, co, &added), CAIRN_OK);
	assert_int_equal(added, 4);
	member_lines(&lg, 5, pk, lines, sizeof(lines));
	assert_string_equal(lines, "-analyst/nso\n-node/n1\n+node/n2\n"
	    "+node/n1\n");
	assert_int_equal(tlog_store_size(lg.tlog), 9);
	coord_log_close(&lg);
	coord_store_close(db);
	keys_identity_free(co);
	keys_identity_free(an);
	keys_identity_free(n1);
	keys_identity_free(n2);
}

/* coord_start refuses missing or wrong keys before serving anything. */
static void
test_start_errors(void **state)
{
	struct coord_config c;
	struct coord *co = NULL;
	char p[256];

	(void)state;
	put("gs.csv", "1\n2\n", p, sizeof(p));
	assert_int_equal(load("[geographies]\ngeography = gs gs.csv\n", &c),
	    CAIRN_OK);
	assert_int_not_equal(coord_start(&c, &co), CAIRN_OK);
	assert_null(co);
	coord_config_release(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_ok),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_config_pins),
		cmocka_unit_test(test_store),
		cmocka_unit_test(test_store_result_encoding),
		cmocka_unit_test(test_store_cosigs),
		cmocka_unit_test(test_log),
		cmocka_unit_test(test_log_members),
		cmocka_unit_test(test_start_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
