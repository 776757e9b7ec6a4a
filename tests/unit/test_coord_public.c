/*
 * test_coord_public.c - the coordinator's public directory
 * (coordinator/coord_public.c) over a log of 600 entries with checkpoints
 * at sizes around the tile edges: exactly the files the checkpointed sizes
 * imply (full and partial hash tiles, bundles, JSON, no more; no partial
 * of a tile the shown checkpoint implies full, and with a witness quorum
 * the partials of the lagging shown checkpoint kept), their bytes
 * against hashes computed here from the entries, a second open that writes
 * nothing, repair of missing files, refusal of a changed tile and of a
 * tile no checkpointed size implies, stale temporary files removed,
 * superseded partials of an older version's directory removed without
 * being compared, updates after appends (one, and several missed; the
 * partials of a tile removed once its full tile is shown), a crash (this
 * program run again with CAIRN_FAULT=coord.public_prune, killed there)
 * before and in the middle of a removal restarting clean, and the refusal at
 * append of an entry over 65,535 bytes.  With
 * CAIRN_TILES_KEEP=DIR the final directory (770 entries: three full
 * level-0 tiles, whose partials of sizes 600..603 are gone, and partials
 * of width 2) is also written to DIR, its log key to DIR.key and the
 * checkpoint of size 601 to DIR.old, for tests/e2e/public_tiles.sh's
 * Python verifier and portal/tlog.js.  With CAIRN_TILES_DU=N:DIR it only
 * builds the public directory DIR of a log of N entries of 486 bytes,
 * checkpointed and updated after every append as the coordinator does,
 * for the size figure of docs/public.md (du -sb DIR).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <sodium.h>

#include "common/err.h"
#include "coordinator/coord_int.h"
#include "protocol/tlog_entry.h"
#include "protocol/tlog_tiles.h"
#include "tests/unit/tlog_helpers.h"

#define ORIGIN	"cairn/tilestest"

/* argv[0], to run this program again as the process that crashes. */
static const char *self;

static const uint64_t cp_sizes[] = { 1, 2, 100, 255, 256, 257, 511, 512,
    600 };

struct fx {
	char			 tmp[256];
	char			 dir[300];
	struct test_key		 key;
	struct coord_log	 lg;
	uint8_t			 (*leaves)[32];
	uint64_t		 n;
};

static void
append_failure(struct fx *f)
{
	struct tlog_entry e;
	uint8_t buf[256];
	char reason[64];
	size_t len;

	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_FAILURE;
	e.time = 1772323200 + f->n;
	memset(e.query_hash, (int)(f->n & 0xff), 32);
	snprintf(reason, sizeof(reason), "failure %llu",
	    (unsigned long long)f->n);
	e.reason = (struct tlog_bytes){ (const uint8_t *)reason,
	    strlen(reason) };
	assert_int_equal(tlog_entry_encode(&e, buf, sizeof(buf), &len),
	    CAIRN_OK);
	assert_int_equal(tlog_store_append(f->lg.tlog, buf, len, NULL),
	    CAIRN_OK);
	f->leaves = realloc(f->leaves, (f->n + 1) * 32);
	tlog_leaf_hash(buf, len, f->leaves[f->n]);
	f->n++;
}

/* 'n' FAILURE entries in one batch. */
static void
append_failures(struct fx *f, uint64_t n)
{
	struct tlog_bytes *b = calloc(n, sizeof(*b));
	uint8_t (*buf)[128] = calloc(n, 128);

	f->leaves = realloc(f->leaves, (f->n + n) * 32);
	for (uint64_t i = 0; i < n; i++) {
		struct tlog_entry e;
		char reason[64];
		size_t len;

		memset(&e, 0, sizeof(e));
		e.type = TLOG_ENTRY_FAILURE;
		e.time = 1772323200 + f->n + i;
		memset(e.query_hash, (int)((f->n + i) & 0xff), 32);
		snprintf(reason, sizeof(reason), "failure %llu",
		    (unsigned long long)(f->n + i));
		e.reason = (struct tlog_bytes){ (const uint8_t *)reason,
		    strlen(reason) };
		assert_int_equal(tlog_entry_encode(&e, buf[i], 128, &len),
		    CAIRN_OK);
		b[i] = (struct tlog_bytes){ buf[i], len };
		tlog_leaf_hash(buf[i], len, f->leaves[f->n + i]);
	}
	assert_int_equal(tlog_store_append_batch(f->lg.tlog, b, (size_t)n,
	    NULL), CAIRN_OK);
	f->n += n;
	free(buf);
	free(b);
}

static void
publish(struct fx *f)
{
	char *note = NULL;
	size_t len;

	assert_int_equal(tlog_store_publish(f->lg.tlog, ORIGIN,
	    &f->key.signer, 1, &note, &len), CAIRN_OK);
	/* As coord_log does: the note kept for witness quorums. */
	assert_int_equal(coord_store_checkpoint_put(f->lg.db,
	    tlog_store_size(f->lg.tlog), note), CAIRN_OK);
	free(note);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	uint8_t seed[32];
	char path[400];
	size_t k = 0;

	memset(seed, 7, sizeof(seed));
	tlogt_test_key_init(&f->key, ORIGIN, seed);
	snprintf(f->tmp, sizeof(f->tmp), "/tmp/cairn-tcpub-XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	snprintf(f->dir, sizeof(f->dir), "%s/pub", f->tmp);
	snprintf(f->lg.origin, sizeof(f->lg.origin), "%s", ORIGIN);
	snprintf(path, sizeof(path), "%s/log.db", f->tmp);
	assert_int_equal(tlog_store_open(path, TLOG_STORE_CREATE, &f->lg.tlog),
	    CAIRN_OK);
	snprintf(path, sizeof(path), "%s/coord.db", f->tmp);
	assert_int_equal(coord_store_open(path, &f->lg.db), CAIRN_OK);
	/* One transaction per checkpoint (synchronous=FULL is slow). */
	while (f->n < 600) {
		append_failures(f, cp_sizes[k] - f->n);
		publish(f);
		k++;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[400];

	tlog_store_close(f->lg.tlog);
	coord_store_close(f->lg.db);
	free(f->leaves);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->tmp);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* The bytes of DIR/rel, or NULL when missing. */
static uint8_t *
slurp(const char *dir, const char *rel, size_t *len)
{
	char path[600];
	uint8_t *b;
	FILE *fp;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if ((fp = fopen(path, "rb")) == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	b = malloc((size_t)n + 1);
	assert_int_equal(fread(b, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return b;
}

static size_t
count_files(const char *dir, const char *sub)
{
	char cmd[600], out[32] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd), "find '%s/%s' -type f | wc -l", dir, sub);
	p = popen(cmd, "r");
	assert_non_null(fgets(out, sizeof(out), p));
	pclose(p);
	return (size_t)strtoul(out, NULL, 10);
}

static void
expect_tile(struct fx *f, const char *rel, uint64_t first, unsigned width,
    unsigned level)
{
	uint8_t *b, want[32];
	struct memtree mt;
	size_t len;

	b = slurp(f->dir, rel, &len);
	if (b == NULL)
		fail_msg("%s is missing", rel);
	assert_int_equal(len, 32 * width);
	tlogt_memtree_init(&mt, (const uint8_t (*)[32])f->leaves, f->n);
	for (unsigned i = 0; i < width; i++) {
		uint64_t span = (uint64_t)1 << (8 * level);

		tlogt_memtree_root_naive(&mt, (first + i) * span,
		    (first + i + 1) * span, want);
		if (memcmp(b + 32 * i, want, 32) != 0)
			fail_msg("%s: hash %u differs", rel, i);
	}
	tlogt_memtree_free(&mt);
	free(b);
}

static void
flip(const char *dir, const char *rel, long off)
{
	char path[600];
	FILE *fp;
	int c;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	fp = fopen(path, "r+b");
	assert_non_null(fp);
	fseek(fp, off, SEEK_SET);
	c = fgetc(fp);
	fseek(fp, off, SEEK_SET);
	fputc(c ^ 0x40, fp);
	fclose(fp);
}

static void
touch(const char *dir, const char *rel)
{
	char path[600];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fclose(fp);
}

static void
test_layout(void **state)
{
	struct fx *f = *state;
	struct coord_public *p = NULL;
	uint8_t *b;
	size_t len, off, k;

	assert_int_equal(coord_public_open(f->dir, &f->lg, 0, &p), CAIRN_OK);
	/* level 0: 2 full and the partial 88 of tile 2 (those of sizes 1 2
	 * 100 255, tile 0, and 1 255, tile 1, are superseded by the full
	 * tiles size 600 shows); bundles alike; level 1: partials of 1 and
	 * 2 (no full level-1 tile). */
	assert_int_equal(count_files(f->dir, "tile/0"), 3);
	assert_int_equal(count_files(f->dir, "tile/entries"), 3);
	assert_int_equal(count_files(f->dir, "tile/1"), 2);
	assert_int_equal(count_files(f->dir, "tile"), 8);
	assert_int_equal(count_files(f->dir, "json"), 600);
	assert_int_equal(coord_public_report(p)->written, 8 + 600 + 1);
	assert_int_equal(coord_public_report(p)->removed, 0);
	expect_tile(f, "tile/0/000", 0, 256, 0);
	expect_tile(f, "tile/0/001", 256, 256, 0);
	expect_tile(f, "tile/0/002.p/88", 512, 88, 0);
	assert_null(slurp(f->dir, "tile/0/000.p/100", &len));
	assert_null(slurp(f->dir, "tile/entries/001.p/255", &len));
	expect_tile(f, "tile/1/000.p/1", 0, 1, 1);
	expect_tile(f, "tile/1/000.p/2", 0, 2, 1);
	/* Bundle 1: 256 entries whose hashes are the leaves 256..511. */
	b = slurp(f->dir, "tile/entries/001", &len);
	assert_non_null(b);
	for (off = 0, k = 0; off < len; k++) {
		size_t el = (size_t)b[off] << 8 | b[off + 1];
		uint8_t h[32];

		tlog_leaf_hash(b + off + 2, el, h);
		assert_memory_equal(h, f->leaves[256 + k], 32);
		off += 2 + el;
	}
	assert_int_equal(k, 256);
	free(b);
	b = slurp(f->dir, "checkpoint", &len);
	assert_non_null(b);
	b[len] = '\0';
	assert_non_null(strstr((char *)b, ORIGIN "\n600\n"));
	free(b);
	b = slurp(f->dir, "json/599.json", &len);
	assert_non_null(b);
	b[len] = '\0';
	assert_non_null(strstr((char *)b, "\"reason\":\"failure 599\""));
	free(b);
	coord_public_close(p);

	/* Again: nothing written, every file compared. */
	p = NULL;
	assert_int_equal(coord_public_open(f->dir, &f->lg, 0, &p), CAIRN_OK);
	assert_int_equal(coord_public_report(p)->written, 0);
	/* (the level-1 partial of width 1 is implied by 3 sizes, of 2 by
	 * 2: 3 comparisons more than files) */
	assert_int_equal(coord_public_report(p)->checked, 608 + 3);
	coord_public_close(p);
}

/*
 * A directory of an older version (every checkpointed size's partials)
 * or of a crash between a full tile and the removal of its partials:
 * the superseded ones are removed at start, even with other bytes (they
 * are not compared: nothing points a reader at them); a partial no size
 * implies is still refused.
 */
static void
test_superseded(void **state)
{
	struct fx *f = *state;
	struct coord_public *p = NULL;
	char path[600];
	size_t len;

	assert_int_equal(coord_public_open(f->dir, &f->lg, 0, &p), CAIRN_OK);
	coord_public_close(p);
	snprintf(path, sizeof(path), "%s/tile/0/000.p", f->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/tile/entries/001.p", f->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	/* Empty files: superseded partials are not compared. */
	touch(f->dir, "tile/0/000.p/100");
	touch(f->dir, "tile/0/000.p/255");
	touch(f->dir, "tile/entries/001.p/1");
	touch(f->dir, "tile/entries/001.p/255.tmp");
	p = NULL;
	assert_int_equal(coord_public_open(f->dir, &f->lg, 0, &p), CAIRN_OK);
	assert_int_equal(coord_public_report(p)->written, 0);
	/* the .tmp goes with the scan's sweep, the three with prune() */
	assert_int_equal(coord_public_report(p)->removed, 3);
	coord_public_close(p);
	assert_int_equal(count_files(f->dir, "tile"), 8);
	snprintf(path, sizeof(path), "%s/tile/0/000.p", f->dir);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/tile/entries/001.p", f->dir);
	assert_int_equal(access(path, F_OK), -1);
	/* A partial width no checkpointed size has is refused still. */
	snprintf(path, sizeof(path), "%s/tile/0/000.p", f->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	touch(f->dir, "tile/0/000.p/7");
	assert_int_equal(coord_public_open(f->dir, &f->lg, 0, &p),
	    CAIRN_ERR_CONFLICT);
	assert_non_null(strstr(cairn_errmsg(), "tile/0/000.p/7: no "
	    "checkpointed size"));
	snprintf(path, sizeof(path), "%s/tile/0/000.p/7", f->dir);
	assert_int_equal(unlink(path), 0);	/* left as it was */

	/* A witness quorum whose newest cosigned size is 257: the shown
	 * checkpoint implies full tile 0 only, so the partials of tile 1
	 * (sizes 257 and 511) and 2 are kept although full tile 1 exists,
	 * and a reader of the shown checkpoint finds its own partials. */
	assert_int_equal(coord_store_cosig_put(f->lg.db, "w1", 257, 1,
	    "\xe2\x80\x94 w1 "
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n"),
	    CAIRN_OK);
	p = NULL;
	assert_int_equal(coord_public_open(f->dir, &f->lg, 1, &p), CAIRN_OK);
	/* (the four partials and the checkpoint) */
	assert_int_equal(coord_public_report(p)->written, 5);
	coord_public_close(p);
	expect_tile(f, "tile/0/001.p/1", 256, 1, 0);
	expect_tile(f, "tile/0/001.p/255", 256, 255, 0);
	assert_null(slurp(f->dir, "tile/0/000.p/255", &len));
	{
		uint8_t *b = slurp(f->dir, "tile/entries/001.p/1", &len);

		assert_non_null(b);
		free(b);
		b = slurp(f->dir, "checkpoint", &len);
		assert_non_null(b);
		b[len] = '\0';
		assert_non_null(strstr((char *)b, ORIGIN "\n257\n"));
		free(b);
	}
	/* Without the quorum (size 600 shown) they go again. */
	p = NULL;
	assert_int_equal(coord_public_open(f->dir, &f->lg, 0, &p), CAIRN_OK);
	assert_int_equal(coord_public_report(p)->removed, 4);
	coord_public_close(p);
	assert_int_equal(count_files(f->dir, "tile"), 8);
}

static void
test_repair_and_refuse(void **state)
{
	struct fx *f = *state;
	struct coord_public *p = NULL;
	char path[600];

	assert_int_equal(coord_public_open(f->dir, &f->lg, 0, &p), CAIRN_OK);
	coord_public_close(p);
	/* Missing files (a crash before they were written) are written. */
	snprintf(path, sizeof(path), "%s/tile/1/000.p/2", f->dir);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/json/599.json", f->dir);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/checkpoint", f->dir);
	assert_int_equal(unlink(path), 0);
	touch(f->dir, "tile/0/002.p/88.tmp");
	p = NULL;
	assert_int_equal(coord_public_open(f->dir, &f->lg, 0, &p), CAIRN_OK);
	assert_int_equal(coord_public_report(p)->written, 3);
	coord_public_close(p);
	snprintf(path, sizeof(path), "%s/tile/0/002.p/88.tmp", f->dir);
	assert_int_equal(access(path, F_OK), -1);
	expect_tile(f, "tile/1/000.p/2", 0, 2, 1);

	/* A full tile with other bytes is refused, naming it. */
	flip(f->dir, "tile/0/001", 8191);
	p = NULL;
	assert_int_equal(coord_public_open(f->dir, &f->lg, 0, &p),
	    CAIRN_ERR_CONFLICT);
	assert_null(p);
	assert_non_null(strstr(cairn_errmsg(), "tile/0/001: differs from "
	    "log.db at byte 8191"));
	flip(f->dir, "tile/0/001", 8191);
	/* So is a bundle that differs, and a tile no size implies. */
	flip(f->dir, "tile/entries/002.p/88", 3);
	assert_int_equal(coord_public_open(f->dir, &f->lg, 0, &p),
	    CAIRN_ERR_CONFLICT);
	assert_non_null(strstr(cairn_errmsg(), "tile/entries/002.p/88"));
	flip(f->dir, "tile/entries/002.p/88", 3);
	touch(f->dir, "tile/0/002.p/89");
	assert_int_equal(coord_public_open(f->dir, &f->lg, 0, &p),
	    CAIRN_ERR_CONFLICT);
	assert_non_null(strstr(cairn_errmsg(), "tile/0/002.p/89: no "
	    "checkpointed size"));
	snprintf(path, sizeof(path), "%s/tile/0/002.p/89", f->dir);
	unlink(path);
	touch(f->dir, "json/600.json");
	assert_int_equal(coord_public_open(f->dir, &f->lg, 0, &p),
	    CAIRN_ERR_CONFLICT);
	snprintf(path, sizeof(path), "%s/json/600.json", f->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/tile/9", f->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/tile/9/000.p", f->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	touch(f->dir, "tile/9/000.p/1");	/* a level past any shift */
	assert_int_equal(coord_public_open(f->dir, &f->lg, 0, &p),
	    CAIRN_ERR_CONFLICT);
	snprintf(path, sizeof(path), "%s/tile/9/000.p/1", f->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/tile/9/000.p", f->dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/tile/9", f->dir);
	rmdir(path);
	touch(f->dir, "tile/0/notatile");
	assert_int_equal(coord_public_open(f->dir, &f->lg, 0, &p),
	    CAIRN_ERR_CONFLICT);
	snprintf(path, sizeof(path), "%s/tile/0/notatile", f->dir);
	unlink(path);
	/* A truncated checkpoint is not one. */
	touch(f->dir, "checkpoint");
	assert_int_equal(coord_public_open(f->dir, &f->lg, 0, &p),
	    CAIRN_ERR_CONFLICT);
	assert_non_null(strstr(cairn_errmsg(), "checkpoint: not a signed "
	    "checkpoint"));
	snprintf(path, sizeof(path), "%s/checkpoint", f->dir);
	unlink(path);
	assert_int_equal(coord_public_open(f->dir, &f->lg, 0, &p), CAIRN_OK);
	coord_public_close(p);
}

static void
test_updates(void **state)
{
	struct fx *f = *state;
	struct coord_public *p = NULL;
	char path[600];
	const char *keep = getenv("CAIRN_TILES_KEEP");
	uint8_t *old;
	size_t oldlen;

	assert_int_equal(coord_public_open(f->dir, &f->lg, 0, &p), CAIRN_OK);
	f->lg.pub = p;
	append_failure(f);
	publish(f);
	assert_int_equal(coord_public_update(p), CAIRN_OK);
	expect_tile(f, "tile/0/002.p/89", 512, 89, 0);
	old = slurp(f->dir, "checkpoint", &oldlen);
	assert_non_null(old);
	snprintf(path, sizeof(path), "%s/json/600.json", f->dir);
	assert_int_equal(access(path, F_OK), 0);
	/* Two appends, one checkpoint: the full walk writes size 603's
	 * tiles and none of 602's, which was never checkpointed. */
	append_failure(f);
	append_failure(f);
	append_failure(f);
	publish(f);
	assert_int_equal(coord_public_update(p), CAIRN_OK);
	expect_tile(f, "tile/0/002.p/92", 512, 92, 0);
	snprintf(path, sizeof(path), "%s/tile/0/002.p/91", f->dir);
	assert_int_equal(access(path, F_OK), -1);
	/* Fill to 768: a third full tile closes, and its partials (of
	 * sizes 600 601 603) and bundles go. */
	append_failures(f, 768 - f->n);
	publish(f);
	assert_int_equal(coord_public_update(p), CAIRN_OK);
	expect_tile(f, "tile/0/002", 512, 256, 0);
	expect_tile(f, "tile/1/000.p/3", 0, 3, 1);
	expect_tile(f, "tile/1/000.p/2", 0, 2, 1);
	assert_int_equal(coord_public_report(p)->removed, 6);
	snprintf(path, sizeof(path), "%s/tile/0/002.p", f->dir);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/tile/entries/002.p", f->dir);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(count_files(f->dir, "tile/0"), 3);
	assert_int_equal(count_files(f->dir, "tile/entries"), 3);
	coord_public_close(p);
	f->lg.pub = NULL;
	if (keep != NULL) {
		char b64[64], kp[600];
		FILE *fp;

		append_failures(f, 2);
		publish(f);
		p = NULL;
		assert_int_equal(coord_public_open(keep, &f->lg, 0, &p),
		    CAIRN_OK);
		coord_public_close(p);
		sodium_bin2base64(b64, sizeof(b64), f->key.pk, 32,
		    sodium_base64_VARIANT_ORIGINAL);
		snprintf(kp, sizeof(kp), "%s.key", keep);
		fp = fopen(kp, "w");
		assert_non_null(fp);
		fprintf(fp, "%s=%s\n", ORIGIN, b64);
		fclose(fp);
		/* The checkpoint of size 601, for a consistency proof. */
		snprintf(kp, sizeof(kp), "%s.old", keep);
		fp = fopen(kp, "w");
		assert_non_null(fp);
		assert_int_equal(fwrite(old, 1, oldlen, fp), oldlen);
		fclose(fp);
	}
	free(old);
}

/*
 * Run this program again as a coordinator opening the public directory
 * of the fixture under CAIRN_FAULT='fault'; returns its wait status.
 */
static int
run_child(struct fx *f, const char *fault)
{
	int st;
	pid_t pid;

	if ((pid = fork()) == 0) {
		setenv("CAIRN_TILES_CHILD", f->tmp, 1);
		setenv("CAIRN_FAULT", fault, 1);
		execl(self, self, (char *)NULL);
		_exit(127);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

/*
 * CAIRN_TILES_DU=N:DIR: DIR/pub after N appends of 486-byte entries, each
 * followed by a checkpoint and an update, as the coordinator does.
 */
static int
du_main(const char *arg)
{
	struct fx f;
	struct coord_public *p = NULL;
	char path[400], reason[441];
	unsigned long n = strtoul(arg, NULL, 10);
	const char *dir = strchr(arg, ':');
	uint8_t seed[32];

	if (dir == NULL || n == 0)
		return 2;
	dir++;
	memset(&f, 0, sizeof(f));
	memset(seed, 7, sizeof(seed));
	memset(reason, 'r', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	tlogt_test_key_init(&f.key, ORIGIN, seed);
	snprintf(f.lg.origin, sizeof(f.lg.origin), "%s", ORIGIN);
	if (mkdir(dir, 0755) != 0)
		return 2;
	snprintf(path, sizeof(path), "%s/log.db", dir);
	if (tlog_store_open(path, TLOG_STORE_CREATE, &f.lg.tlog) != CAIRN_OK)
		return 3;
	snprintf(path, sizeof(path), "%s/coord.db", dir);
	if (coord_store_open(path, &f.lg.db) != CAIRN_OK)
		return 3;
	publish(&f);		/* size 0, as a new coordinator does */
	snprintf(path, sizeof(path), "%s/pub", dir);
	if (coord_public_open(path, &f.lg, 0, &p) != CAIRN_OK)
		return 4;
	for (unsigned long i = 0; i < n; i++) {
		struct tlog_entry e;
		uint8_t buf[600];
		size_t len;

		memset(&e, 0, sizeof(e));
		e.type = TLOG_ENTRY_FAILURE;
		e.time = 1772323200 + i;
		memset(e.query_hash, (int)(i & 0xff), 32);
		e.reason = (struct tlog_bytes){ (const uint8_t *)reason,
		    strlen(reason) };
		if (tlog_entry_encode(&e, buf, sizeof(buf), &len) !=
		    CAIRN_OK || tlog_store_append(f.lg.tlog, buf, len,
		    NULL) != CAIRN_OK)
			return 5;
		publish(&f);
		if (coord_public_update(p) != CAIRN_OK)
			return 6;
	}
	printf("%lu entries of %zu bytes\n", n, (size_t)46 + strlen(reason));
	coord_public_close(p);
	tlog_store_close(f.lg.tlog);
	coord_store_close(f.lg.db);
	return 0;
}

/* The child: open the fixture's stores and its public directory. */
static int
child_main(const char *tmp)
{
	struct coord_log lg;
	struct coord_public *p = NULL;
	char path[400];
	int r;

	memset(&lg, 0, sizeof(lg));
	snprintf(lg.origin, sizeof(lg.origin), "%s", ORIGIN);
	snprintf(path, sizeof(path), "%s/log.db", tmp);
	if (tlog_store_open(path, 0, &lg.tlog) != CAIRN_OK)
		return 3;
	snprintf(path, sizeof(path), "%s/coord.db", tmp);
	if (coord_store_open(path, &lg.db) != CAIRN_OK)
		return 3;
	snprintf(path, sizeof(path), "%s/pub", tmp);
	r = coord_public_open(path, &lg, 0, &p);
	coord_public_close(p);
	tlog_store_close(lg.tlog);
	coord_store_close(lg.db);
	return r == CAIRN_OK ? 0 : 4;
}

/*
 * A coordinator killed after the checkpoint that shows a new full tile and
 * before (:1) or in the middle of (:2) the removal of its partials: the
 * directory it leaves has the full tile, the checkpoint and some partials,
 * and the next start accepts it and finishes the removal.
 */
static void
test_crash_prune(void **state)
{
	struct fx *f = *state;
	struct coord_public *p = NULL;
	char path[600];
	size_t len;
	uint8_t *b;
	int st;

	assert_int_equal(coord_public_open(f->dir, &f->lg, 0, &p), CAIRN_OK);
	f->lg.pub = p;
	for (int i = 0; i < 3; i++) {	/* partials 89 90 91 of tile 2 */
		append_failure(f);
		publish(f);
		assert_int_equal(coord_public_update(p), CAIRN_OK);
	}
	coord_public_close(p);
	f->lg.pub = NULL;
	append_failures(f, 768 - f->n);
	publish(f);
	st = run_child(f, "coord.public_prune:1");
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	b = slurp(f->dir, "checkpoint", &len);
	assert_non_null(b);
	b[len] = '\0';
	assert_non_null(strstr((char *)b, ORIGIN "\n768\n"));
	free(b);
	expect_tile(f, "tile/0/002", 512, 256, 0);
	/* 88..91 of tile 2, hashes and bundles, all still there */
	assert_int_equal(count_files(f->dir, "tile/0"), 3 + 4);
	assert_int_equal(count_files(f->dir, "tile/entries"), 3 + 4);
	st = run_child(f, "coord.public_prune:3");
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	/* the bundles' partials go first: two of them did */
	assert_int_equal(count_files(f->dir, "tile/entries"), 3 + 2);
	assert_int_equal(count_files(f->dir, "tile/0"), 3 + 4);
	p = NULL;
	assert_int_equal(coord_public_open(f->dir, &f->lg, 0, &p), CAIRN_OK);
	assert_int_equal(coord_public_report(p)->removed, 6);
	assert_int_equal(coord_public_report(p)->written, 0);
	coord_public_close(p);
	assert_int_equal(count_files(f->dir, "tile/0"), 3);
	assert_int_equal(count_files(f->dir, "tile/entries"), 3);
	snprintf(path, sizeof(path), "%s/tile/0/002.p", f->dir);
	assert_int_equal(access(path, F_OK), -1);
	/* Negative control: the child unarmed exits cleanly. */
	st = run_child(f, "");
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* An entry that an entry bundle cannot carry is refused before logging. */
static void
test_entry_limit(void **state)
{
	struct fx *f = *state;
	struct tlog_entry e;
	uint8_t *body = calloc(1, 70000);
	uint64_t size = tlog_store_size(f->lg.tlog);

	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_QUERY;
	e.time = 1;
	e.body = (struct tlog_bytes){ body, 70000 };
	assert_int_equal(coord_log_append(&f->lg, &e, NULL), CAIRN_ERR_TOOBIG);
	assert_non_null(strstr(cairn_errmsg(), "QUERY entry of 70014 bytes is "
	    "over the 65535 a log entry may have"));
	assert_true(tlog_store_size(f->lg.tlog) == size);
	free(body);
}

int
main(int argc, char **argv)
{
	const char *child = getenv("CAIRN_TILES_CHILD");
	const char *du = getenv("CAIRN_TILES_DU");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repair_and_refuse, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_superseded, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_updates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_prune, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_entry_limit, setup,
		    teardown),
	};

	(void)argc;
	if (child != NULL)
		return child_main(child);
	if (du != NULL)
		return du_main(du);
	self = argv[0];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
