/*
 * test_tlog_tiles.c - the C2SP tlog-tiles layout (protocol/tlog_tiles.h):
 * path spelling against the specification's examples and refusal of
 * every other spelling, the tiles a size implies (the specification's
 * worked example of size 70,000), tile bytes against naive roots of an
 * in-memory tree, entry bundles (the 65,535-byte limit, truncation) and
 * the JSON rendering of entries (tlog_json.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "common/err.h"
#include "protocol/tlog_entry.h"
#include "protocol/tlog_json.h"
#include "protocol/tlog_tiles.h"
#include "tests/unit/tlog_helpers.h"

static void
path_is(int level, uint64_t n, unsigned width, const char *want)
{
	struct tlog_tile t = { level, n, width }, back;
	char buf[TLOG_TILE_PATH_MAX];

	assert_int_equal(tlog_tile_path(&t, buf, sizeof(buf)), CAIRN_OK);
	assert_string_equal(buf, want);
	assert_int_equal(tlog_tile_path_parse(buf, &back), CAIRN_OK);
	assert_int_equal(back.level, level);
	assert_true(back.n == n);
	assert_int_equal(back.width, width);
}

static void
test_paths(void **state)
{
	(void)state;
	path_is(0, 1234067, 256, "tile/0/x001/x234/067");
	path_is(0, 5, 256, "tile/0/005");
	path_is(1, 0, 17, "tile/1/000.p/17");
	path_is(TLOG_TILE_ENTRIES, 1, 44, "tile/entries/001.p/44");
	path_is(63, 1000, 255, "tile/63/x001/000.p/255");
	path_is(2, UINT64_MAX, 1,
	    "tile/2/x018/x446/x744/x073/x709/x551/615.p/1");
}

static void
test_path_refusals(void **state)
{
	static const char *const bad[] = {
		"", "tile", "tile/", "tile/0", "tile/0/", "tile/00/000",
		"tile/01/000", "tile/64/000", "tile/0/00", "tile/0/0000",
		"tile/0/x000/001", "tile/0/x001/x2/067", "tile/0/x001",
		"tile/0/x001/", "tile/0/001/", "tile/0/001.p/", "tile/0/001.p/0",
		"tile/0/001.p/256", "tile/0/001.p/012", "tile/0/001.q/1",
		"tile/0/001.p/1/", "tile/0/../checkpoint", "tile/entries/",
		"tile/entries/0", "tile/data/000", "tile/-1/000",
		"tile/0/x018/x446/x744/x073/x709/x551/616",
		"tile/0/x001/x001/x001/x001/x001/x001/x001/001", "/tile/0/000",
		"tile/0/000\n", "tile/0/ 000",
	};
	struct tlog_tile t = { 7, 7, 7 };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (tlog_tile_path_parse(bad[i], &t) != CAIRN_ERR_FORMAT)
			fail_msg("'%s' was accepted", bad[i]);
		assert_int_equal(t.level, 7);	/* untouched */
	}
	t.level = 64;
	assert_int_equal(tlog_tile_path(&t, (char[80]){ 0 }, 80),
	    CAIRN_ERR_ARG);
	t.level = 0;
	t.width = 0;
	assert_int_equal(tlog_tile_path(&t, (char[80]){ 0 }, 80),
	    CAIRN_ERR_ARG);
	t.width = 1;
	assert_int_equal(tlog_tile_path(&t, (char[8]){ 0 }, 8),
	    CAIRN_ERR_TOOBIG);
}

struct collect {
	struct tlog_tile	t[2048];
	size_t			n;
	int			fail_at;	/* -1: never */
};

static int
collect(void *ctx, const struct tlog_tile *t)
{
	struct collect *c = ctx;

	if ((int)c->n == c->fail_at)
		return CAIRN_ERR_IO;
	assert_true(c->n < 2048);
	c->t[c->n++] = *t;
	return CAIRN_OK;
}

static size_t
count(const struct collect *c, int level, bool full)
{
	size_t k = 0;

	for (size_t i = 0; i < c->n; i++)
		if (c->t[i].level == level &&
		    (c->t[i].width == TLOG_TILE_WIDTH) == full)
			k++;
	return k;
}

static unsigned
partial_width(const struct collect *c, int level)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->t[i].level == level && c->t[i].width < TLOG_TILE_WIDTH)
			return c->t[i].width;
	return 0;
}

static void
test_between(void **state)
{
	struct collect c;

	(void)state;
	/* The specification's example: size 70,000. */
	memset(&c, 0, sizeof(c));
	c.fail_at = -1;
	assert_int_equal(tlog_tiles_between(0, 70000, collect, &c), CAIRN_OK);
	assert_int_equal(count(&c, 0, true), 273);
	assert_int_equal(partial_width(&c, 0), 112);
	assert_int_equal(count(&c, TLOG_TILE_ENTRIES, true), 273);
	assert_int_equal(partial_width(&c, TLOG_TILE_ENTRIES), 112);
	assert_int_equal(count(&c, 1, true), 1);
	assert_int_equal(partial_width(&c, 1), 17);
	assert_int_equal(count(&c, 2, true), 0);
	assert_int_equal(partial_width(&c, 2), 1);
	assert_int_equal(c.n, 273 * 2 + 2 + 1 + 1 + 1);
	/* Size 256: one full level-0 tile and a level-1 partial of 1. */
	memset(&c, 0, sizeof(c));
	c.fail_at = -1;
	assert_int_equal(tlog_tiles_between(0, 256, collect, &c), CAIRN_OK);
	assert_int_equal(c.n, 3);
	assert_int_equal(partial_width(&c, 1), 1);
	assert_int_equal(count(&c, 0, true), 1);
	/* From 255 to 257: the tiles closed and the new partials only. */
	memset(&c, 0, sizeof(c));
	c.fail_at = -1;
	assert_int_equal(tlog_tiles_between(255, 257, collect, &c), CAIRN_OK);
	assert_int_equal(count(&c, 0, true), 1);
	assert_int_equal(count(&c, TLOG_TILE_ENTRIES, true), 1);
	assert_int_equal(partial_width(&c, 0), 1);
	assert_int_equal(partial_width(&c, 1), 1);
	assert_int_equal(c.n, 5);
	/* Nothing for an empty tree; an error stops the walk. */
	memset(&c, 0, sizeof(c));
	c.fail_at = -1;
	assert_int_equal(tlog_tiles_between(0, 0, collect, &c), CAIRN_OK);
	assert_int_equal(c.n, 0);
	c.fail_at = 2;
	assert_int_equal(tlog_tiles_between(0, 70000, collect, &c),
	    CAIRN_ERR_IO);
	assert_int_equal(c.n, 2);
	assert_int_equal(tlog_tiles_between(5, 4, collect, &c),
	    CAIRN_ERR_RANGE);
}

static void
test_tile_hashes(void **state)
{
	enum { N = 256 * 256 + 300 };
	uint8_t (*leaves)[TLOG_HASH_LEN] = calloc(N, TLOG_HASH_LEN);
	uint8_t *tile = malloc(TLOG_TILE_BYTES), want[TLOG_HASH_LEN];
	struct tlog_tile t;
	struct memtree mt;
	size_t len;

	(void)state;
	assert_non_null(leaves);
	for (uint64_t i = 0; i < N; i++) {
		char b[32];
		int n = snprintf(b, sizeof(b), "leaf %llu",
		    (unsigned long long)i);

		tlog_leaf_hash((const uint8_t *)b, (size_t)n, leaves[i]);
	}
	tlogt_memtree_init(&mt, (const uint8_t (*)[TLOG_HASH_LEN])leaves, N);
	/* Level 0, a full tile: the leaf hashes 256..511. */
	t = (struct tlog_tile){ 0, 1, 256 };
	assert_int_equal(tlog_tile_hashes(&mt.src, &t, tile, &len), CAIRN_OK);
	assert_int_equal(len, TLOG_TILE_BYTES);
	assert_memory_equal(tile, leaves[256], TLOG_TILE_BYTES);
	/* Level 1, hash i = MTH of leaves [256 i, 256 (i + 1)). */
	t = (struct tlog_tile){ 1, 0, 256 };
	assert_int_equal(tlog_tile_hashes(&mt.src, &t, tile, &len), CAIRN_OK);
	for (unsigned i = 0; i < 256; i += 51) {
		tlogt_memtree_root_naive(&mt, 256 * (uint64_t)i,
		    256 * (uint64_t)(i + 1), want);
		assert_memory_equal(tile + 32 * i, want, 32);
	}
	/* Level 2, the partial of width 1: MTH of the first 65,536. */
	t = (struct tlog_tile){ 2, 0, 1 };
	assert_int_equal(tlog_tile_hashes(&mt.src, &t, tile, &len), CAIRN_OK);
	assert_int_equal(len, 32);
	tlogt_memtree_root_naive(&mt, 0, 65536, want);
	assert_memory_equal(tile, want, 32);
	t = (struct tlog_tile){ TLOG_TILE_ENTRIES, 0, 1 };
	assert_int_equal(tlog_tile_hashes(&mt.src, &t, tile, &len),
	    CAIRN_ERR_ARG);
	tlogt_memtree_free(&mt);
	free(tile);
	free(leaves);
}

struct parts {
	size_t	n;
	size_t	len[4];
};

static int
part(void *ctx, const uint8_t *e, size_t len)
{
	struct parts *p = ctx;

	(void)e;
	p->len[p->n++ % 4] = len;
	return CAIRN_OK;
}

static void
test_bundles(void **state)
{
	static uint8_t big[TLOG_TILE_MAX_ENTRY + 1];
	uint8_t buf[2 * 65540];
	struct parts p = { 0, { 0 } };
	size_t used = 0, n;

	(void)state;
	assert_int_equal(tlog_bundle_add(buf, sizeof(buf), &used, 0,
	    (const uint8_t *)"abc", 3), CAIRN_OK);
	assert_int_equal(used, 5);
	assert_memory_equal(buf, "\0\3abc", 5);
	assert_int_equal(tlog_bundle_add(buf, sizeof(buf), &used, 1, NULL, 0),
	    CAIRN_OK);
	assert_int_equal(tlog_bundle_add(buf, sizeof(buf), &used, 2, big,
	    TLOG_TILE_MAX_ENTRY), CAIRN_OK);
	assert_int_equal(buf[7], 0xff);
	assert_int_equal(buf[8], 0xff);
	/* One byte more cannot be carried by a uint16 length. */
	assert_int_equal(tlog_bundle_add(buf, sizeof(buf), &used, 3, big,
	    TLOG_TILE_MAX_ENTRY + 1), CAIRN_ERR_TOOBIG);
	assert_non_null(strstr(cairn_errmsg(), "entry 3 is 65536 bytes"));
	assert_int_equal(tlog_bundle_split(buf, used, part, &p, &n), CAIRN_OK);
	assert_int_equal(n, 3);
	assert_int_equal(p.len[0], 3);
	assert_int_equal(p.len[1], 0);
	assert_int_equal(p.len[2], TLOG_TILE_MAX_ENTRY);
	assert_int_equal(tlog_bundle_split(buf, used - 1, part, &p, &n),
	    CAIRN_ERR_FORMAT);
	assert_int_equal(tlog_bundle_split(buf, 1, part, &p, &n),
	    CAIRN_ERR_FORMAT);
	assert_int_equal(tlog_bundle_add(buf, 4, &(size_t){ 0 }, 0,
	    (const uint8_t *)"abc", 3), CAIRN_ERR_TOOBIG);
}

static json_t *
render(const struct tlog_entry *e, uint64_t index)
{
	uint8_t buf[4096];
	size_t len, jlen;
	char *js = NULL;
	json_t *j;

	assert_int_equal(tlog_entry_encode(e, buf, sizeof(buf), &len),
	    CAIRN_OK);
	assert_int_equal(tlog_entry_json(index, buf, len, &js, &jlen),
	    CAIRN_OK);
	assert_int_equal(strlen(js), jlen);
	assert_int_equal(js[jlen - 1], '\n');
	j = json_loads(js, 0, NULL);
	assert_non_null(j);
	free(js);
	return j;
}

static void
test_json(void **state)
{
	struct tlog_entry *e = calloc(1, sizeof(*e));
	json_t *j;
	const uint8_t bad_utf8[] = { 'a', 0xff, '"', '\n' };
	uint8_t junk[3] = { 9, 9, 9 };
	char *js = NULL;
	size_t jlen;

	(void)state;
	e->type = TLOG_ENTRY_RELEASE;
	e->time = 1772323200;
	memset(e->query_hash, 0xab, 32);
	memset(e->result_hash, 0x01, 32);
	e->variance = 12.5;
	e->nparticipants = 2;
	e->participants[0] = (struct tlog_bytes){ (const uint8_t *)"n1", 2 };
	e->participants[1] = (struct tlog_bytes){ bad_utf8, 4 };
	j = render(e, 41);
	assert_int_equal(json_integer_value(json_object_get(j,
	    "json_version")), TLOG_JSON_VERSION);
	assert_int_equal(json_integer_value(json_object_get(j, "index")), 41);
	assert_string_equal(json_string_value(json_object_get(j, "type")),
	    "RELEASE");
	assert_string_equal(json_string_value(json_object_get(j, "time_utc")),
	    "2026-03-01T00:00:00Z");
	assert_true(json_real_value(json_object_get(j, "variance")) == 12.5);
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(j, "participants"), 1)), "a\xef\xbf\xbd\"\n");
	assert_int_equal(strlen(json_string_value(json_object_get(j,
	    "query_hash"))), 64);
	assert_null(json_object_get(j, "body"));
	json_decref(j);

	/* A CHARGE whose body is not a Charge: base64 and the reason. */
	memset(e, 0, sizeof(*e));
	e->type = TLOG_ENTRY_CHARGE;
	e->node_id = (struct tlog_bytes){ (const uint8_t *)"n2", 2 };
	e->ncharges = 1;
	e->charges[0] = (struct tlog_charge){ 202603, 1000000000000000000ull,
	    1000000000000000000ull };
	e->body = (struct tlog_bytes){ junk, 3 };
	e->signature = (struct tlog_bytes){ junk, 3 };
	j = render(e, 0);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(j, "charges"), 0), "rho_nano")),
	    "1000000000000000000");
	assert_string_equal(json_string_value(json_object_get(j,
	    "body_base64")), "CQkJ");
	assert_non_null(json_object_get(j, "body_error"));
	assert_string_equal(json_string_value(json_object_get(j, "node_id")),
	    "n2");
	json_decref(j);

	/* Bytes that are not an entry are refused. */
	assert_int_equal(tlog_entry_json(0, junk, 3, &js, &jlen),
	    CAIRN_ERR_UNSUPPORTED);
	assert_null(js);
	free(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_path_refusals),
		cmocka_unit_test(test_between),
		cmocka_unit_test(test_tile_hashes),
		cmocka_unit_test(test_bundles),
		cmocka_unit_test(test_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
