/*
 * test_reader.c - what the CSV reader reads (node/engine/reader.c): zstd
 * and gzip files whatever their names (several frames or members too),
 * cut-short compressed data refused, named pipes and standard input read
 * in one pass (plain, gzip and zstd, larger than a read buffer, with
 * threads waiting for rows), formats that are not CSV refused by name, and
 * content digests: the same whatever the threads, the compression or the
 * pipe, so the store refuses records it holds (store_inputs.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <zlib.h>
#include <zstd.h>

#include "common/err.h"
#include "node/engine/engine.h"
#include "node/engine/engine_int.h"

static char dir[64];

static int
setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/cairn-test-reader-XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static const char *
path_of(const char *name)
{
	static char p[8][128];
	static int k;
	char *s = p[k++ % 8];

	snprintf(s, 128, "%s/%s", dir, name);
	return s;
}

static const char *
put(const char *name, const void *b, size_t len)
{
	const char *p = path_of(name);
	FILE *f = fopen(p, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, len, f), len);
	fclose(f);
	return p;
}

/* 'n' rows after the header; a third of them name the unmapped c3. */
static char *
csv_text(int n, size_t *len)
{
	size_t cap = 64 + (size_t)n * 48, k;
	char *t = malloc(cap);

	assert_non_null(t);
	k = (size_t)snprintf(t, cap, "subscriber_id,timestamp,cell_id\n");
	for (int i = 0; i < n; i++)
		k += (size_t)snprintf(t + k, cap - k,
		    "%016x,2026-01-05T10:%02d:%02dZ,c%d\n",
		    (unsigned)(i * 2654435761u), (i / 60) % 60, i % 60,
		    1 + i % 3);
	*len = k;
	return t;
}

static void *
zstd_of(const char *t, size_t len, size_t *out)
{
	size_t cap = ZSTD_compressBound(len);
	void *z = malloc(cap);

	assert_non_null(z);
	*out = ZSTD_compress(z, cap, t, len, 3);
	assert_false(ZSTD_isError(*out));
	return z;
}

static void *
gzip_of(const char *t, size_t len, size_t *out)
{
	z_stream s;
	size_t cap = compressBound(len) + 64;
	unsigned char *g = malloc(cap);

	assert_non_null(g);
	memset(&s, 0, sizeof(s));
	assert_int_equal(deflateInit2(&s, 6, Z_DEFLATED, 15 + 16, 8,
	    Z_DEFAULT_STRATEGY), Z_OK);
	s.next_in = (Bytef *)t;
	s.avail_in = (uInt)len;
	s.next_out = g;
	s.avail_out = (uInt)cap;
	assert_int_equal(deflate(&s, Z_FINISH), Z_STREAM_END);
	*out = s.total_out;
	deflateEnd(&s);
	return g;
}

static struct engine_cellmap *
cells(void)
{
	struct engine_cellmap *cm;
	static const char m[] = "cell_id,region_id\nc1,1\nc2,2\n";

	assert_int_equal(engine_cellmap_load(put("cells.csv", m,
	    sizeof(m) - 1), &cm), CAIRN_OK);
	return cm;
}

/* Check 'path' with 'threads' threads; rows and bad cells for 'n' rows. */
static void
check(const char *path, unsigned threads, int n)
{
	struct engine_cellmap *cm = cells();
	struct engine_input in;
	struct engine_report rep;
	const char *paths[1] = { path };

	memset(&in, 0, sizeof(in));
	in.paths = (char *const *)paths;
	in.npaths = 1;
	in.cells = cm;
	in.max_bad_fraction = 1;
	in.threads = threads;
	in.split_bytes = 4096;
	assert_int_equal(engine_check_data(&in, &rep), CAIRN_OK);
	assert_int_equal(rep.files[0].rows, n);
	assert_int_equal(rep.files[0].bad[ENGINE_BAD_CELL], n / 3);
	assert_int_equal(rep.files[0].examples[0].line, 4);
	engine_report_release(&rep);
	engine_cellmap_free(cm);
}

/* The error checking 'path' gives, with its message in 'msg'. */
static int
check_err(const char *path, char *msg, size_t cap)
{
	struct engine_cellmap *cm = cells();
	struct engine_input in;
	struct engine_report rep;
	const char *paths[1] = { path };
	int r;

	memset(&in, 0, sizeof(in));
	in.paths = (char *const *)paths;
	in.npaths = 1;
	in.cells = cm;
	in.max_bad_fraction = 1;
	in.threads = 2;
	r = engine_check_data(&in, &rep);
	snprintf(msg, cap, "%s", cairn_errmsg());
	engine_report_release(&rep);
	engine_cellmap_free(cm);
	return r;
}

static void
test_zstd_and_gzip_files(void **state)
{
	size_t len, zl, zl2, gl, gl2;
	char *t = csv_text(1000, &len), msg[512], *both;
	void *z = zstd_of(t, len, &zl), *g = gzip_of(t, len, &gl), *z2, *g2;
	size_t half;

	(void)state;
	check(put("a.csv.zst", z, zl), 2, 1000);
	/* The magic decides, not the name. */
	check(put("a-zstd.csv", z, zl), 2, 1000);
	check(put("a-gzip.csv", g, gl), 2, 1000);
	/* Two zstd frames and two gzip members: one file of 1000 rows. */
	half = (size_t)(strchr(t + len / 2, '\n') - t) + 1;
	free(z);
	free(g);
	z = zstd_of(t, half, &zl);
	z2 = zstd_of(t + half, len - half, &zl2);
	g = gzip_of(t, half, &gl);
	g2 = gzip_of(t + half, len - half, &gl2);
	assert_non_null(both = malloc(zl + zl2 + gl + gl2));
	memcpy(both, z, zl);
	memcpy(both + zl, z2, zl2);
	check(put("frames.csv.zst", both, zl + zl2), 2, 1000);
	memcpy(both, g, gl);
	memcpy(both + gl, g2, gl2);
	check(put("members.csv.gz", both, gl + gl2), 2, 1000);
	/* Cut short: an error naming the file, never a short read. */
	assert_int_equal(check_err(put("cut.csv.zst", z, zl - 9), msg,
	    sizeof(msg)), CAIRN_ERR_IO);
	assert_non_null(strstr(msg, "cut.csv.zst: corrupt zstd data"));
	assert_int_equal(check_err(put("cut.csv.gz", g, gl - 9), msg,
	    sizeof(msg)), CAIRN_ERR_IO);
	assert_non_null(strstr(msg, "cut.csv.gz: corrupt gzip data"));
	/* Damaged in the middle of a frame with a checksum (zstd -C, the
	   command's default). */
	{
		ZSTD_CCtx *cc = ZSTD_createCCtx();
		size_t cap = ZSTD_compressBound(len), cl;
		unsigned char *c = malloc(cap);

		assert_non_null(c);
		assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cc,
		    ZSTD_c_checksumFlag, 1)));
		cl = ZSTD_compress2(cc, c, cap, t, len);
		assert_false(ZSTD_isError(cl));
		c[cl / 2] ^= 0xff;
		assert_int_equal(check_err(put("bad.csv.zst", c, cl), msg,
		    sizeof(msg)), CAIRN_ERR_IO);
		assert_non_null(strstr(msg, "bad.csv.zst: corrupt zstd data"));
		ZSTD_freeCCtx(cc);
		free(c);
	}
	free(both);
	free(z);
	free(z2);
	free(g);
	free(g2);
	free(t);
}

struct feeder {
	const char	*path;		/* a FIFO to open, or NULL: fd */
	int		 fd;
	const void	*b;
	size_t		 len;
};

static void *
feed(void *arg)
{
	struct feeder *f = arg;
	int fd = f->path != NULL ? open(f->path, O_WRONLY) : f->fd;
	const char *p = f->b;
	size_t left = f->len;

	/* Small writes: the reader sees the stream in pieces. */
	while (fd != -1 && left > 0) {
		ssize_t k = write(fd, p, left < 7000 ? left : 7000);

		if (k <= 0)
			break;
		p += k;
		left -= (size_t)k;
	}
	if (fd != -1)
		close(fd);
	return NULL;
}

/* Check a FIFO fed with 'b' by a thread. */
static void
check_fifo(const char *name, const void *b, size_t len, unsigned threads,
    int n)
{
	const char *p = path_of(name);
	struct feeder f = { p, -1, b, len };
	pthread_t th;

	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(pthread_create(&th, NULL, feed, &f), 0);
	check(p, threads, n);
	pthread_join(th, NULL);
}

static void
test_named_pipes(void **state)
{
	size_t len, zl, gl;
	/* Over 4 MiB: more than one read buffer. */
	char *t = csv_text(120000, &len);
	void *z = zstd_of(t, len, &zl), *g = gzip_of(t, len, &gl);

	(void)state;
	assert_true(len > (4u << 20));
	check_fifo("plain.fifo", t, len, 4, 120000);
	check_fifo("zstd.fifo", z, zl, 2, 120000);
	check_fifo("gzip.fifo", g, gl, 1, 120000);
	free(z);
	free(g);
	free(t);
}

static void
test_stdin(void **state)
{
	size_t len, zl;
	char *t = csv_text(3000, &len);
	void *z = zstd_of(t, len, &zl);
	int saved = dup(STDIN_FILENO), pfd[2];
	pthread_t th;
	struct feeder f;

	(void)state;
	for (int round = 0; round < 2; round++) {
		assert_int_equal(pipe(pfd), 0);
		assert_int_equal(dup2(pfd[0], STDIN_FILENO), STDIN_FILENO);
		close(pfd[0]);
		f.path = NULL;
		f.fd = pfd[1];
		f.b = round == 0 ? (const void *)t : z;
		f.len = round == 0 ? len : zl;
		assert_int_equal(pthread_create(&th, NULL, feed, &f), 0);
		check("-", 2, 3000);
		pthread_join(th, NULL);
	}
	assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
	close(saved);
	free(z);
	free(t);
}

static void
test_refused_formats(void **state)
{
	static const struct {
		const char *bytes, *name, *says;
		size_t len;
	} bad[] = {
		{ "PAR1\x15\x04\x15\x00", "cdr.parquet", "a Parquet file", 8 },
		{ "PK\x03\x04\x14\x00", "cdr.zip", "a zip archive", 6 },
		{ "\xfd" "7zXZ\x00\x00", "cdr.csv.xz", "an xz file", 7 },
		{ "BZh91AY&SY", "cdr.csv.bz2", "a bzip2 file", 10 },
		{ "ORC\x0a\x03", "cdr.orc", "an ORC file", 5 },
	};
	char msg[512];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *p = put(bad[i].name, bad[i].bytes, bad[i].len);

		assert_int_equal(check_err(p, msg, sizeof(msg)),
		    CAIRN_ERR_FORMAT);
		assert_non_null(strstr(msg, bad[i].name));
		assert_non_null(strstr(msg, bad[i].says));
		assert_non_null(strstr(msg, "reads CSV, gzip-compressed CSV "
		    "or zstd-compressed CSV"));
	}
	/* Text that is not our CSV says what is read, too. */
	assert_int_equal(check_err(put("x.csv", "a;b;c\n1;2;3\n", 12), msg,
	    sizeof(msg)), CAIRN_ERR_FORMAT);
	assert_non_null(strstr(msg, "x.csv:1: header must be"));
	assert_non_null(strstr(msg, "named pipe or standard input"));
}

/*
 * A content digest over more than one piece: the same with 1 and 3
 * threads and through a reader's one pass; another byte, another digest.
 */
static void
test_content_digest(void **state)
{
	size_t n = (size_t)ENGINE_DIGEST_PIECE * 2 + 12345, got;
	char *b = malloc(n), *buf = malloc(1u << 20);
	const char *p;
	uint8_t d1[32], d3[32], ds[32], dx[32];
	struct engine_reader *r;

	(void)state;
	assert_non_null(b);
	assert_non_null(buf);
	for (size_t i = 0; i < n; i++)
		b[i] = (char)('a' + (i * 7 + i / 4093) % 26);
	p = put("big.txt", b, n);
	assert_int_equal(engine_file_digest(p, 1, true, d1), CAIRN_OK);
	assert_int_equal(engine_file_digest(p, 3, true, d3), CAIRN_OK);
	assert_memory_equal(d1, d3, 32);
	assert_int_equal(engine_reader_open(p, &r), CAIRN_OK);
	assert_int_equal(engine_reader_digest_start(r), CAIRN_OK);
	do
		assert_int_equal(engine_reader_read(r, buf, 1u << 20, &got),
		    CAIRN_OK);
	while (got > 0);
	assert_int_equal(engine_reader_digest(r, ds), CAIRN_OK);
	engine_reader_close(r);
	assert_memory_equal(d1, ds, 32);
	b[n - 1] ^= 1;
	p = put("big2.txt", b, n);
	assert_int_equal(engine_file_digest(p, 2, true, dx), CAIRN_OK);
	assert_memory_not_equal(d1, dx, 32);
	free(b);
	free(buf);
}

/* Segments in the store 'st'. */
static int
segments(const char *st)
{
	char cmd[256];
	FILE *f;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls %s | grep -c '^seg-'", st);
	assert_non_null(f = popen(cmd, "r"));
	assert_int_equal(fscanf(f, "%d", &n), 1);
	pclose(f);
	return n;
}

static int
ingest(const char *st, const char **paths, size_t np, char *msg,
    size_t cap)
{
	struct engine_cellmap *cm = cells();
	struct engine_input in;
	struct engine_report rep;
	int r;

	memset(&in, 0, sizeof(in));
	in.paths = (char *const *)paths;
	in.npaths = np;
	in.cells = cm;
	in.max_bad_fraction = 1;
	in.threads = 2;
	in.split_bytes = 4096;
	r = engine_store_ingest(st, &in, &rep);
	snprintf(msg, cap, "%s", cairn_errmsg());
	engine_report_release(&rep);
	engine_cellmap_free(cm);
	return r;
}

/*
 * The store takes the same records once: again as a file, compressed,
 * through a pipe, or repeated in one ingest, they are refused and nothing
 * is written; new records still go in; a line whose segment a crash left
 * unwritten does not count.
 */
static void
test_store_ingest_once(void **state)
{
	size_t la, lb, zl;
	char *a = csv_text(2000, &la), *b = csv_text(3000, &lb), msg[512];
	void *z = zstd_of(a, la, &zl);
	const char *paths[2];
	char st[128], pa[128], pb[128], pz[128], pf[128], seg[256];
	struct feeder f;
	pthread_t th;

	(void)state;
	snprintf(st, sizeof(st), "%s", path_of("store"));
	snprintf(pa, sizeof(pa), "%s", put("a.csv", a, la));
	snprintf(pb, sizeof(pb), "%s", put("b.csv", b, lb));
	snprintf(pz, sizeof(pz), "%s", put("a.csv.zst", z, zl));
	snprintf(pf, sizeof(pf), "%s", path_of("a.fifo"));
	paths[0] = pa;
	assert_int_equal(ingest(st, paths, 1, msg, sizeof(msg)), CAIRN_OK);
	assert_int_equal(segments(st), 1);
	assert_int_equal(ingest(st, paths, 1, msg, sizeof(msg)),
	    CAIRN_ERR_EXISTS);
	assert_non_null(strstr(msg, "a.csv: already ingested into this store "
	    "(in seg-000001.bin, from "));
	assert_non_null(strstr(msg, "nothing written"));
	paths[0] = pz;
	assert_int_equal(ingest(st, paths, 1, msg, sizeof(msg)),
	    CAIRN_ERR_EXISTS);
	assert_non_null(strstr(msg, "a.csv.zst: already ingested"));
	/* Through a named pipe. */
	paths[0] = pf;
	assert_int_equal(mkfifo(pf, 0600), 0);
	f = (struct feeder){ paths[0], -1, z, zl };
	assert_int_equal(pthread_create(&th, NULL, feed, &f), 0);
	assert_int_equal(ingest(st, paths, 1, msg, sizeof(msg)),
	    CAIRN_ERR_EXISTS);
	pthread_join(th, NULL);
	assert_non_null(strstr(msg, "a.fifo: already ingested"));
	/* New with old: nothing written. */
	paths[0] = pb;
	paths[1] = pa;
	assert_int_equal(ingest(st, paths, 2, msg, sizeof(msg)),
	    CAIRN_ERR_EXISTS);
	assert_int_equal(segments(st), 1);
	/* Twice in one ingest. */
	paths[1] = pb;
	assert_int_equal(ingest(st, paths, 2, msg, sizeof(msg)),
	    CAIRN_ERR_EXISTS);
	assert_non_null(strstr(msg, "the same records as"));
	assert_int_equal(segments(st), 1);
	/* New alone: in. */
	assert_int_equal(ingest(st, paths, 1, msg, sizeof(msg)), CAIRN_OK);
	assert_int_equal(segments(st), 2);
	/* A crash after the inputs line, before its segment: b again. */
	snprintf(seg, sizeof(seg), "%s/seg-000002.bin", st);
	assert_int_equal(unlink(seg), 0);
	assert_int_equal(ingest(st, paths, 1, msg, sizeof(msg)), CAIRN_OK);
	assert_int_equal(segments(st), 2);
	/* A damaged inputs file is an error naming its line. */
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "echo garbage >> %s/inputs", st);
		assert_int_equal(system(cmd), 0);
	}
	assert_int_equal(ingest(st, paths, 1, msg, sizeof(msg)),
	    CAIRN_ERR_FORMAT);
	assert_non_null(strstr(msg, "/inputs:3: not '<64 hex digits>"));
	free(a);
	free(b);
	free(z);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zstd_and_gzip_files),
		cmocka_unit_test(test_named_pipes),
		cmocka_unit_test(test_stdin),
		cmocka_unit_test(test_refused_formats),
		cmocka_unit_test(test_content_digest),
		cmocka_unit_test(test_store_ingest_once),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
