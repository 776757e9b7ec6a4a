/*
 * bench_tlog.c - figures of the transparency log (run by `make bench`).
 *
 *   append      durable appends (WAL, synchronous=FULL) of encoded CHARGE
 *               entries, in batches of BATCH per commit, and one per commit
 *   verify      tlog_store_verify() of a 1,000,000-entry log: every leaf
 *               re-hashed from its entry, every interior node recomputed
 *               and compared, the root at every checkpoint
 *   root        the root alone recomputed from the entries
 *   proofs      inclusion and consistency proof generation from the store
 *               and verification, per proof
 *
 * The store lives in $TMPDIR (default /tmp) and is removed afterwards.
 * CAIRN_BENCH_ENTRIES overrides the log size (default 1000000).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "common/err.h"
#include "protocol/tlog_entry.h"
#include "protocol/tlog_store.h"
#include "bench/bench.h"

#define BATCH	1000

/* A realistic CHARGE entry for index i (about 170 bytes). */
static size_t
charge_entry(uint64_t i, uint8_t *out, size_t cap)
{
	static struct tlog_entry e;
	static uint8_t sig[64];
	char node[16];
	size_t len;

	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_CHARGE;
	e.time = 1700000000 + i;
	snprintf(node, sizeof(node), "node-%02u", (unsigned)(i % 17));
	e.node_id.p = (const uint8_t *)node;
	e.node_id.len = strlen(node);
	memcpy(e.query_hash, &i, sizeof(i));
	e.ncharges = 2;
	e.charges[0].month = 202401;
	e.charges[0].rho_nano = 10000000;
	e.charges[0].cumulative_nano = 10000000 * (uint64_t)(i % 100 + 1);
	e.charges[1].month = 202402;
	e.charges[1].rho_nano = 10000000;
	e.charges[1].cumulative_nano = 20000000;
	memcpy(sig, &i, sizeof(i));
	e.signature.p = sig;
	e.signature.len = sizeof(sig);
	if (tlog_entry_encode(&e, out, cap, &len) != CAIRN_OK)
		abort();
	return len;
}

static int
die(const char *what, int r)
{
	fprintf(stderr, "bench_tlog: error: %s: %s\n", what, cairn_errdesc(r));
	return 1;
}

static int
root_only(const char *path, uint64_t *n, uint8_t root[TLOG_HASH_LEN])
{
	struct tlog_frontier f;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	uint8_t leaf[TLOG_HASH_LEN];
	int rc = 1;

	tlog_frontier_init(&f);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK || sqlite3_prepare_v2(db, "SELECT data FROM entries "
	    "ORDER BY idx", -1, &st, NULL) != SQLITE_OK)
		goto out;
	while (sqlite3_step(st) == SQLITE_ROW) {
		tlog_leaf_hash(sqlite3_column_blob(st, 0),
		    (size_t)sqlite3_column_bytes(st, 0), leaf);
		if (tlog_frontier_append(&f, leaf, NULL, NULL) != CAIRN_OK)
			goto out;
	}
	tlog_frontier_root(&f, root);
	*n = f.size;
	rc = 0;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR"), *env;
	struct tlog_store *s = NULL;
	struct tlog_store_report rep;
	static uint8_t bufs[BATCH][256];
	struct tlog_bytes b[BATCH];
	uint8_t proof[TLOG_MAX_PROOF][TLOG_HASH_LEN], root[TLOG_HASH_LEN],
	    r2[TLOG_HASH_LEN], leaf[TLOG_HASH_LEN];
	uint64_t total = 1000000, i, n, vi;
	char path[4096];
	double t0, t1, small_rate;
	size_t np;
	int r, nproofs = 20000;

	if (sodium_init() < 0)
		return 1;
	if ((env = getenv("CAIRN_BENCH_ENTRIES")) != NULL)
		total = strtoull(env, NULL, 10);
	if (total < 2 * BATCH)
		total = 2 * BATCH;
	snprintf(path, sizeof(path), "%s/cairn-bench-tlog-%ld.db",
	    tmp != NULL ? tmp : "/tmp", (long)getpid());
	bench_rm_db(path);
	if ((r = tlog_store_open(path, TLOG_STORE_CREATE, &s)) != CAIRN_OK)
		return die("open", r);

	/* One entry per commit: every append waits for its own fsync. */
	t0 = bench_now();
	for (i = 0; i < 300; i++) {
		size_t len = charge_entry(i, bufs[0], sizeof(bufs[0]));

		if ((r = tlog_store_append(s, bufs[0], len, NULL)) != CAIRN_OK)
			return die("append", r);
	}
	t1 = bench_now();
	small_rate = 300 / (t1 - t0);

	/* Batches of BATCH per commit up to the full size. */
	t0 = bench_now();
	for (i = tlog_store_size(s); i < total;) {
		size_t k = total - i > BATCH ? BATCH : (size_t)(total - i);

		for (size_t j = 0; j < k; j++) {
			b[j].len = charge_entry(i + j, bufs[j],
			    sizeof(bufs[j]));
			b[j].p = bufs[j];
		}
		if ((r = tlog_store_append_batch(s, b, k, NULL)) != CAIRN_OK)
			return die("append", r);
		i += k;
	}
	t1 = bench_now();
	printf("append: %.0f entries/s durably in batches of %d entries per "
	    "commit (%llu entries of ~%zu bytes in %.2f s)\n",
	    (double)(total - 300) / (t1 - t0), BATCH,
	    (unsigned long long)(total - 300), b[0].len, t1 - t0);
	printf("append: %.0f entries/s with one commit (fsync) per entry\n",
	    small_rate);
	tlog_store_root(s, root);
	tlog_store_close(s);
	s = NULL;

	/* Reopen (cheap checks) and verify everything from the entries. */
	t0 = bench_now();
	if ((r = tlog_store_open(path, 0, &s)) != CAIRN_OK)
		return die("reopen", r);
	t1 = bench_now();
	printf("open: %.1f ms (cheap integrity checks)\n", (t1 - t0) * 1e3);
	t0 = bench_now();
	if ((r = tlog_store_verify(s, &rep)) != CAIRN_OK)
		return die("verify", r);
	t1 = bench_now();
	if (memcmp(rep.root, root, TLOG_HASH_LEN) != 0)
		return die("verify", CAIRN_ERR_INTERNAL);
	printf("verify: %.2f s for %llu entries (every leaf and %llu interior "
	    "nodes recomputed and compared)\n", t1 - t0,
	    (unsigned long long)rep.entries, (unsigned long long)rep.nodes);
	t0 = bench_now();
	if (root_only(path, &n, r2) != 0 || n != total ||
	    memcmp(r2, root, TLOG_HASH_LEN) != 0)
		return die("root", CAIRN_ERR_INTERNAL);
	t1 = bench_now();
	printf("root: %.2f s to recompute the root of %llu entries from "
	    "scratch\n", t1 - t0, (unsigned long long)n);

	/* Proofs for random leaves and sizes. */
	t0 = bench_now();
	for (int k = 0; k < nproofs; k++) {
		uint64_t idx = randombytes_uniform((uint32_t)total);

		if ((r = tlog_store_inclusion_proof(s, idx, total, proof,
		    TLOG_MAX_PROOF, &np)) != CAIRN_OK)
			return die("proof", r);
	}
	t1 = bench_now();
	printf("proofs: %.1f us per inclusion proof (tree of %llu)\n",
	    (t1 - t0) * 1e6 / nproofs, (unsigned long long)total);
	t0 = bench_now();
	for (int k = 0; k < nproofs; k++) {
		uint64_t s1 = 1 + randombytes_uniform((uint32_t)total - 1);

		if ((r = tlog_store_consistency_proof(s, s1, total, proof,
		    TLOG_MAX_PROOF, &np)) != CAIRN_OK)
			return die("proof", r);
	}
	t1 = bench_now();
	printf("proofs: %.1f us per consistency proof (to size %llu)\n",
	    (t1 - t0) * 1e6 / nproofs, (unsigned long long)total);
	/* Leaf 12345, or the middle one of a log smaller than that
	 * (CAIRN_BENCH_ENTRIES). */
	vi = total > 12345 ? 12345 : total / 2;
	if ((r = tlog_store_inclusion_proof(s, vi, total, proof,
	    TLOG_MAX_PROOF, &np)) != CAIRN_OK ||
	    (r = tlog_store_leaf_hash(s, vi, leaf)) != CAIRN_OK)
		return die("proof", r);
	t0 = bench_now();
	for (int k = 0; k < nproofs; k++)
		if (tlog_inclusion_verify(leaf, vi, total,
		    (const uint8_t (*)[TLOG_HASH_LEN])proof, np, root) !=
		    CAIRN_OK)
			return die("verify proof", CAIRN_ERR_PROOF);
	t1 = bench_now();
	printf("proofs: %.2f us per inclusion proof verification (%zu "
	    "hashes)\n", (t1 - t0) * 1e6 / nproofs, np);
	tlog_store_close(s);
	bench_rm_db(path);
	printf("(figures from a shared 2-core machine: noisy lower bounds)\n");
	return 0;
}
