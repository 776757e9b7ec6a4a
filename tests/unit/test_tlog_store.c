/*
 * test_tlog_store.c - the SQLite log store: roots and proofs against an
 * independently built tree, reopening, checkpoints, a second writer,
 * tamper detection (changed entry, changed entry and leaf hash, removed
 * entries, truncated file, forged checkpoint signature) and crash safety
 * (a writer killed with SIGKILL a dozen times loses no acknowledged
 * entry and leaves a tree consistent with its last checkpoint).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <sodium.h>
#include <sqlite3.h>

#include "common/err.h"
#include "protocol/tlog_store.h"
#include "tests/unit/tlog_helpers.h"

#define ORIGIN	"cairn.test/log"

/* Entry i of the test logs: fixed by its index, 20..83 bytes. */
static size_t
entry_bytes(uint64_t i, uint8_t *buf)
{
	size_t n = (size_t)snprintf((char *)buf, 96, "entry-%llu-",
	    (unsigned long long)i);

	memset(buf + n, 'a' + (int)(i % 26), 10 + i % 54);
	return n + 10 + i % 54;
}

static uint64_t
append_n(struct tlog_store *s, uint64_t n)
{
	uint8_t bufs[64][96];
	struct tlog_bytes b[64];
	uint64_t first, done = 0, start = tlog_store_size(s);

	while (done < n) {
		size_t k = n - done > 64 ? 64 : (size_t)(n - done);

		for (size_t i = 0; i < k; i++) {
			b[i].len = entry_bytes(start + done + i, bufs[i]);
			b[i].p = bufs[i];
		}
		assert_int_equal(tlog_store_append_batch(s, b, k, &first),
		    CAIRN_OK);
		assert_int_equal(first, start + done);
		done += k;
	}
	return start;
}

static struct test_key logkey;

static int
setup(void **state)
{
	uint8_t seed[32] = { 42 };

	tlogt_test_key_init(&logkey, ORIGIN, seed);
	return 0;
}

static void
test_store_matches_memtree(void **state)
{
	enum { N = 300 };
	static uint8_t leaves[N][32];
	uint8_t buf[96], root[32], got[32], proof[TLOG_MAX_PROOF][32],
	    want[TLOG_MAX_PROOF][32], *data;
	struct tlog_store *s = NULL;
	struct memtree t;
	char path[256];
	size_t n, nw, len;
	uint64_t idx;

	tlogt_tmp_path(path, sizeof(path), "store");
	assert_int_equal(tlog_store_open(path, 0, &s), CAIRN_ERR_NOTFOUND);
	assert_int_equal(tlog_store_open(path, TLOG_STORE_CREATE, &s),
	    CAIRN_OK);
	assert_int_equal(tlog_store_size(s), 0);
	tlog_store_root(s, got);
	tlog_empty_root(root);
	assert_memory_equal(got, root, 32);
	/* One at a time, then in batches. */
	for (uint64_t i = 0; i < 40; i++) {
		len = entry_bytes(i, buf);
		assert_int_equal(tlog_store_append(s, buf, len, &idx), CAIRN_OK);
		assert_int_equal(idx, i);
	}
	append_n(s, N - 40);
	assert_int_equal(tlog_store_size(s), N);
	for (uint64_t i = 0; i < N; i++) {
		len = entry_bytes(i, buf);
		tlog_leaf_hash(buf, len, leaves[i]);
	}
	tlogt_memtree_init(&t, (const uint8_t (*)[32])leaves, N);
	for (uint64_t size = 0; size <= N; size += (size < 20 ? 1 : 37)) {
		tlogt_memtree_root_naive(&t, 0, size, root);
		assert_int_equal(tlog_store_root_at(s, size, got), CAIRN_OK);
		assert_memory_equal(got, root, 32);
		for (uint64_t i = 0; i < size; i += 1 + size / 9) {
			assert_int_equal(tlog_store_inclusion_proof(s, i, size,
			    proof, TLOG_MAX_PROOF, &n), CAIRN_OK);
			assert_int_equal(tlog_inclusion_proof(&t.src, i, size,
			    want, TLOG_MAX_PROOF, &nw), CAIRN_OK);
			assert_int_equal(n, nw);
			assert_memory_equal(proof, want, n * 32);
			assert_int_equal(tlog_inclusion_verify(leaves[i], i,
			    size, (const uint8_t (*)[32])proof, n, root),
			    CAIRN_OK);
		}
		for (uint64_t s1 = 1; s1 <= size; s1 += 1 + size / 7) {
			uint8_t r1[32];

			tlogt_memtree_root_naive(&t, 0, s1, r1);
			assert_int_equal(tlog_store_consistency_proof(s, s1,
			    size, proof, TLOG_MAX_PROOF, &n), CAIRN_OK);
			assert_int_equal(tlog_consistency_verify(s1, size, r1,
			    root, (const uint8_t (*)[32])proof, n), CAIRN_OK);
		}
	}
	assert_int_equal(tlog_store_inclusion_proof(s, 0, N + 1, proof,
	    TLOG_MAX_PROOF, &n), CAIRN_ERR_RANGE);
	assert_int_equal(tlog_store_consistency_proof(s, 1, N + 1, proof,
	    TLOG_MAX_PROOF, &n), CAIRN_ERR_RANGE);
	assert_int_equal(tlog_store_root_at(s, N + 1, got), CAIRN_ERR_RANGE);
	assert_int_equal(tlog_store_entry(s, 7, &data, &len), CAIRN_OK);
	assert_int_equal(len, entry_bytes(7, buf));
	assert_memory_equal(data, buf, len);
	free(data);
	assert_int_equal(tlog_store_entry(s, N, &data, &len),
	    CAIRN_ERR_NOTFOUND);
	assert_int_equal(tlog_store_leaf_hash(s, 9, got), CAIRN_OK);
	assert_memory_equal(got, leaves[9], 32);
	assert_int_equal(tlog_store_leaf_hash(s, N, got), CAIRN_ERR_NOTFOUND);
	/* Reopen: same size and root; full verification passes. */
	tlog_store_root(s, root);
	tlog_store_close(s);
	assert_int_equal(tlog_store_open(path, 0, &s), CAIRN_OK);
	assert_int_equal(tlog_store_size(s), N);
	tlog_store_root(s, got);
	assert_memory_equal(got, root, 32);
	{
		struct tlog_store_report rep;

		assert_int_equal(tlog_store_verify(s, &rep), CAIRN_OK);
		assert_int_equal(rep.entries, N);
		assert_int_equal(rep.nodes, N - 4);	/* n - popcount(n) */
		assert_memory_equal(rep.root, root, 32);
	}
	/* Limits. */
	{
		struct tlog_bytes big = { NULL, TLOG_STORE_MAX_ENTRY + 1 };

		assert_int_equal(tlog_store_append_batch(s, &big, 1, NULL),
		    CAIRN_ERR_TOOBIG);
		assert_int_equal(tlog_store_append_batch(s, &big,
		    TLOG_STORE_MAX_BATCH + 1, NULL), CAIRN_ERR_TOOBIG);
		assert_int_equal(tlog_store_size(s), N);
	}
	tlog_store_close(s);
	tlogt_memtree_free(&t);
	tlogt_rm_db(path);
}

static void
test_checkpoints(void **state)
{
	struct tlog_store *s = NULL;
	struct tlog_checkpoint cp;
	char path[256], *note, *latest, *forged;
	size_t len, llen;
	uint8_t root[32];

	tlogt_tmp_path(path, sizeof(path), "cp");
	assert_int_equal(tlog_store_open(path, TLOG_STORE_CREATE, &s),
	    CAIRN_OK);
	assert_int_equal(tlog_store_checkpoint_latest(s, &latest, &llen, &cp),
	    CAIRN_ERR_NOTFOUND);
	/* A checkpoint of the empty log is fine. */
	assert_int_equal(tlog_store_publish(s, ORIGIN, &logkey.signer, 1,
	    &note, &len), CAIRN_OK);
	free(note);
	append_n(s, 100);
	assert_int_equal(tlog_store_publish(s, ORIGIN, &logkey.signer, 1,
	    &note, &len), CAIRN_OK);
	assert_int_equal(tlog_store_checkpoint_latest(s, &latest, &llen, &cp),
	    CAIRN_OK);
	assert_string_equal(latest, note);
	assert_int_equal(cp.size, 100);
	tlog_store_root(s, root);
	assert_memory_equal(cp.root, root, 32);
	assert_int_equal(tlog_checkpoint_open(note, len, &logkey.verifier, 1,
	    1, ORIGIN, &cp), CAIRN_OK);
	free(latest);
	/* A forged signature is detected by whoever verifies the note. */
	forged = strdup(note);
	assert_non_null(forged);
	forged[len - 5] = forged[len - 5] == 'A' ? 'B' : 'A';
	assert_int_equal(tlog_checkpoint_open(forged, len, &logkey.verifier, 1,
	    1, ORIGIN, &cp), CAIRN_ERR_SIGNATURE);
	free(forged);
	/* A checkpoint whose root is not the log's is refused. */
	{
		struct tlog_checkpoint bad;
		char body[512], *bn;
		size_t bl, bnl;

		memset(&bad, 0, sizeof(bad));
		strcpy(bad.origin, ORIGIN);
		bad.size = 50;
		memset(bad.root, 1, 32);
		assert_int_equal(tlog_checkpoint_format(&bad, body,
		    sizeof(body), &bl), CAIRN_OK);
		assert_int_equal(tlog_note_sign(body, bl, &logkey.signer, 1,
		    &bn, &bnl), CAIRN_OK);
		assert_int_equal(tlog_store_checkpoint_add(s, bn, bnl),
		    CAIRN_ERR_CONFLICT);
		free(bn);
		/* Older than the latest: refused too, even with the right root. */
		assert_int_equal(tlog_store_root_at(s, 50, bad.root), CAIRN_OK);
		assert_int_equal(tlog_checkpoint_format(&bad, body,
		    sizeof(body), &bl), CAIRN_OK);
		assert_int_equal(tlog_note_sign(body, bl, &logkey.signer, 1,
		    &bn, &bnl), CAIRN_OK);
		assert_int_equal(tlog_store_checkpoint_add(s, bn, bnl),
		    CAIRN_ERR_RANGE);
		free(bn);
		bad.size = 101;
		assert_int_equal(tlog_checkpoint_format(&bad, body,
		    sizeof(body), &bl), CAIRN_OK);
		assert_int_equal(tlog_note_sign(body, bl, &logkey.signer, 1,
		    &bn, &bnl), CAIRN_OK);
		assert_int_equal(tlog_store_checkpoint_add(s, bn, bnl),
		    CAIRN_ERR_RANGE);
		free(bn);
		assert_int_equal(tlog_store_checkpoint_add(s, "junk", 4),
		    CAIRN_ERR_FORMAT);
	}
	free(note);
	tlog_store_close(s);
	tlogt_rm_db(path);
}

static void
test_second_writer(void **state)
{
	struct tlog_store *a = NULL, *b = NULL;
	uint8_t ra[32], rb[32];
	char path[256];
	uint64_t idx;

	tlogt_tmp_path(path, sizeof(path), "two");
	assert_int_equal(tlog_store_open(path, TLOG_STORE_CREATE, &a),
	    CAIRN_OK);
	assert_int_equal(tlog_store_open(path, 0, &b), CAIRN_OK);
	append_n(a, 13);
	/* b has not seen a's entries: its append must follow them. */
	assert_int_equal(tlog_store_size(b), 0);
	assert_int_equal(tlog_store_append(b, (const uint8_t *)"x", 1, &idx),
	    CAIRN_OK);
	assert_int_equal(idx, 13);
	assert_int_equal(tlog_store_size(b), 14);
	assert_int_equal(tlog_store_append(a, (const uint8_t *)"y", 1, &idx),
	    CAIRN_OK);
	assert_int_equal(idx, 14);
	assert_int_equal(tlog_store_size(a), 15);
	assert_int_equal(tlog_store_verify(b, NULL), CAIRN_OK);
	tlog_store_root(a, ra);
	tlog_store_root(b, rb);
	assert_memory_equal(ra, rb, 32);
	tlog_store_close(a);
	tlog_store_close(b);
	tlogt_rm_db(path);
}

/* Run 'sql' on the store file behind the library's back. */
static void
tamper(const char *path, const char *sql)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_close(db);
}

static void
make_log(const char *path, uint64_t n, bool checkpoint)
{
	struct tlog_store *s = NULL;
	char *note;
	size_t len;

	tlogt_rm_db(path);
	assert_int_equal(tlog_store_open(path, TLOG_STORE_CREATE, &s),
	    CAIRN_OK);
	append_n(s, n);
	if (checkpoint) {
		assert_int_equal(tlog_store_publish(s, ORIGIN, &logkey.signer,
		    1, &note, &len), CAIRN_OK);
		free(note);
	}
	tlog_store_close(s);
}

static void
expect_verify_fails(const char *path, int code, const char *needle)
{
	struct tlog_store *s = NULL;

	assert_int_equal(tlog_store_open(path, 0, &s), CAIRN_OK);
	assert_int_equal(tlog_store_verify(s, NULL), code);
	if (strstr(cairn_errmsg(), needle) == NULL)
		fail_msg("'%s' lacks '%s'", cairn_errmsg(), needle);
	tlog_store_close(s);
}

static void
expect_open_fails(const char *path, int code, const char *needle)
{
	struct tlog_store *s = NULL;

	assert_int_equal(tlog_store_open(path, 0, &s), code);
	assert_null(s);
	if (strstr(cairn_errmsg(), needle) == NULL)
		fail_msg("'%s' lacks '%s'", cairn_errmsg(), needle);
}

static void
test_tamper(void **state)
{
	char path[256];

	tlogt_tmp_path(path, sizeof(path), "tamper");
	/* A modified entry in the middle: found by a full verify. */
	make_log(path, 200, true);
	tamper(path, "UPDATE entries SET data = x'00' WHERE idx = 77");
	expect_verify_fails(path, CAIRN_ERR_FORMAT,
	    "entry 77 does not match its stored leaf hash");
	/* The last entry: found on open already. */
	make_log(path, 200, true);
	tamper(path, "UPDATE entries SET data = x'00' WHERE idx = 199");
	expect_open_fails(path, CAIRN_ERR_FORMAT, "entry 199");
	/* Entry and leaf hash rewritten together: the tree above differs. */
	make_log(path, 200, true);
	tamper(path, "UPDATE entries SET data = x'01', leaf = "
	    "x'b413f47d13ee2fe6c845b2ee141af81de858df4ec549a58b7970bb96645bc8d2'"
	    " WHERE idx = 10");
	expect_verify_fails(path, CAIRN_ERR_FORMAT, "node (level 1, index 5)");
	/* A stored interior node changed: proofs would lie; verify finds it. */
	make_log(path, 200, true);
	tamper(path, "UPDATE nodes SET hash = zeroblob(32) WHERE id = "
	    "(3 << 48) | 4");
	expect_verify_fails(path, CAIRN_ERR_FORMAT, "level 3, index 4");
	/* A node of the right edge changed: the checkpoint check on open. */
	make_log(path, 200, true);
	tamper(path, "UPDATE nodes SET hash = zeroblob(32) WHERE id = "
	    "(7 << 48) | 0");
	expect_open_fails(path, CAIRN_ERR_CONFLICT, "checkpoint");
	/* Entries removed from the end (with their nodes). */
	make_log(path, 200, true);
	tamper(path, "DELETE FROM entries WHERE idx >= 190;"
	    "DELETE FROM nodes WHERE ((id & 281474976710655) + 1) << "
	    "(id >> 48) > 190");
	expect_open_fails(path, CAIRN_ERR_CONFLICT, "entries were removed");
	/* Without a checkpoint the removal is still a gap in the tree... */
	make_log(path, 200, false);
	tamper(path, "DELETE FROM entries WHERE idx = 100");
	expect_verify_fails(path, CAIRN_ERR_FORMAT, "entry 100 is missing");
	/* ...or leftover nodes. */
	make_log(path, 200, false);
	tamper(path, "DELETE FROM entries WHERE idx >= 196");
	expect_verify_fails(path, CAIRN_ERR_FORMAT, "stored nodes");
	tlogt_rm_db(path);
}

/*
 * A batch that fails half-way leaves no trace, in the file or in memory:
 * the cached subtrees it closed before failing are forgotten, so proofs
 * are right after another writer appends different entries.
 */
static void
test_failed_batch(void **state)
{
	enum { N0 = 600, K = 500, N = N0 + K };
	static uint8_t leaves[N][32], bufs[K][96];
	uint8_t proof[TLOG_MAX_PROOF][32], want[TLOG_MAX_PROOF][32];
	uint8_t root[32], before[32];
	static struct tlog_bytes b[K];
	struct tlog_store *s = NULL, *s2 = NULL;
	struct memtree t;
	char path[256];
	size_t n, nw;

	tlogt_tmp_path(path, sizeof(path), "fail");
	make_log(path, N0, false);
	/*
	 * A row in the way of the level-1 node of leaves 1080-1081: the
	 * batch fails after closing the cached nodes (8, 2), (8, 3), (9, 1)
	 * and (10, 0).
	 */
	tamper(path, "INSERT INTO nodes(id, hash) VALUES ((1 << 48) | 540, "
	    "zeroblob(32))");
	assert_int_equal(tlog_store_open(path, 0, &s), CAIRN_OK);
	tlog_store_root(s, before);
	for (size_t i = 0; i < K; i++) {
		b[i].len = entry_bytes(N0 + i, bufs[i]);
		b[i].p = bufs[i];
		bufs[i][0] ^= 1;	/* other bytes than the real ones */
	}
	assert_int_equal(tlog_store_append_batch(s, b, K, NULL), CAIRN_ERR_DB);
	assert_int_equal(tlog_store_size(s), N0);
	tlog_store_root(s, root);
	assert_memory_equal(root, before, 32);
	tamper(path, "DELETE FROM nodes WHERE id = (1 << 48) | 540");
	/* Another writer appends the real entries; s learns by verifying. */
	for (size_t i = 0; i < K; i++)
		bufs[i][0] ^= 1;
	assert_int_equal(tlog_store_open(path, 0, &s2), CAIRN_OK);
	assert_int_equal(tlog_store_append_batch(s2, b, K, NULL), CAIRN_OK);
	tlog_store_close(s2);
	assert_int_equal(tlog_store_verify(s, NULL), CAIRN_OK);
	assert_int_equal(tlog_store_size(s), N);
	for (uint64_t i = 0; i < N; i++) {
		uint8_t buf[96];
		size_t len = entry_bytes(i, buf);

		tlog_leaf_hash(buf, len, leaves[i]);
	}
	tlogt_memtree_init(&t, (const uint8_t (*)[32])leaves, N);
	tlogt_memtree_root_naive(&t, 0, N, root);
	for (uint64_t i = 0; i < N; i += 13) {
		assert_int_equal(tlog_store_inclusion_proof(s, i, N, proof,
		    TLOG_MAX_PROOF, &n), CAIRN_OK);
		assert_int_equal(tlog_inclusion_proof(&t.src, i, N, want,
		    TLOG_MAX_PROOF, &nw), CAIRN_OK);
		assert_int_equal(n, nw);
		assert_memory_equal(proof, want, n * 32);
		assert_int_equal(tlog_inclusion_verify(leaves[i], i, N,
		    (const uint8_t (*)[32])proof, n, root), CAIRN_OK);
	}
	tlog_store_close(s);
	tlogt_memtree_free(&t);
	tlogt_rm_db(path);
}

static void
test_truncated_file(void **state)
{
	struct tlog_store *s = NULL;
	char path[256];
	struct stat sb;
	int r;

	tlogt_tmp_path(path, sizeof(path), "trunc");
	make_log(path, 3000, true);
	assert_int_equal(stat(path, &sb), 0);
	assert_true(sb.st_size > 100000);
	assert_int_equal(truncate(path, sb.st_size / 2), 0);
	r = tlog_store_open(path, 0, &s);
	if (r == CAIRN_OK) {
		r = tlog_store_verify(s, NULL);
		tlog_store_close(s);
	}
	assert_int_not_equal(r, CAIRN_OK);
	assert_non_null(strstr(cairn_errmsg(), path));
	tlogt_rm_db(path);
}

/* The writer of the crash test: appends forever, acknowledging commits. */
static void
crash_writer(const char *path, int ack)
{
	struct tlog_store *s = NULL;
	uint8_t bufs[50][96];
	struct tlog_bytes b[50];
	uint64_t first, end;
	char *note;
	size_t len;

	if (tlog_store_open(path, TLOG_STORE_CREATE, &s) != CAIRN_OK)
		_exit(3);
	for (unsigned round = 0;; round++) {
		size_t k = 1 + randombytes_uniform(50);
		uint64_t at = tlog_store_size(s);

		for (size_t i = 0; i < k; i++) {
			b[i].len = entry_bytes(at + i, bufs[i]);
			b[i].p = bufs[i];
		}
		if (tlog_store_append_batch(s, b, k, &first) != CAIRN_OK)
			_exit(4);
		end = first + k;
		if (write(ack, &end, sizeof(end)) != sizeof(end))
			_exit(5);
		if (round % 4 == 3 && tlog_store_publish(s, ORIGIN,
		    &logkey.signer, 1, &note, &len) == CAIRN_OK)
			free(note);
	}
}

static void
test_crash_safety(void **state)
{
	struct tlog_store *s = NULL;
	struct tlog_checkpoint cp;
	struct tlog_store_report rep;
	char path[256], *note;
	uint64_t acked = 0, checked = 0;
	size_t len;

	tlogt_tmp_path(path, sizeof(path), "crash");
	for (int round = 0; round < 12; round++) {
		uint64_t v;
		int fds[2], status;
		pid_t pid;
		ssize_t n;

		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			crash_writer(path, fds[1]);
		}
		close(fds[1]);
		/*
		 * Wait for its first commit whatever the machine's load, then
		 * let it run 0..100 ms more and kill it mid-work.
		 */
		n = read(fds[0], &v, sizeof(v));
		if (n == sizeof(v) && v > acked)
			acked = v;
		poll(NULL, 0, (int)randombytes_uniform(100));
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFSIGNALED(status))
			fail_msg("writer exited by itself with status %d (3: "
			    "open, 4: append, 5: ack failed)",
			    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		assert_int_equal(n, sizeof(v));
		/* Every acknowledgement written before the kill. */
		while ((n = read(fds[0], &v, sizeof(v))) == sizeof(v))
			if (v > acked)
				acked = v;
		close(fds[0]);
		assert_int_equal(tlog_store_open(path, 0, &s), CAIRN_OK);
		assert_true(tlog_store_size(s) >= acked);
		/* No acknowledged entry lost, each with its own bytes. */
		for (uint64_t i = checked; i < tlog_store_size(s); i++) {
			uint8_t want[96], *data;
			size_t wl = entry_bytes(i, want), dl;

			assert_int_equal(tlog_store_entry(s, i, &data, &dl),
			    CAIRN_OK);
			assert_int_equal(dl, wl);
			assert_memory_equal(data, want, wl);
			free(data);
		}
		checked = tlog_store_size(s);
		assert_int_equal(tlog_store_verify(s, &rep), CAIRN_OK);
		if (tlog_store_checkpoint_latest(s, &note, &len, &cp) ==
		    CAIRN_OK) {
			uint8_t root[32];

			assert_true(cp.size <= tlog_store_size(s));
			assert_int_equal(tlog_store_root_at(s, cp.size, root),
			    CAIRN_OK);
			assert_memory_equal(root, cp.root, 32);
			assert_int_equal(tlog_checkpoint_open(note, len,
			    &logkey.verifier, 1, 1, ORIGIN, &cp), CAIRN_OK);
			free(note);
		}
		tlog_store_close(s);
	}
	assert_true(acked > 0);
	tlogt_rm_db(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_matches_memtree),
		cmocka_unit_test(test_checkpoints),
		cmocka_unit_test(test_second_writer),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_failed_batch),
		cmocka_unit_test(test_truncated_file),
		cmocka_unit_test(test_crash_safety),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, NULL);
}
