/*
 * bench_engine.c - throughput of the node's engine (`make bench`).
 *
 * Writes a synthetic CDR file (for each of the CAIRN_BENCH_SUBS scales,
 * e.g. "100000 1000000 3000000", default 100000: subscribers x 7 days,
 * about 8 events per subscriber-day, time-ordered,
 * home cells at night and work cells by day) to a scratch folder, then
 * measures, each in a forked child so peak memory is its own:
 *   parse-only (check-data) with 1 and 2 threads, the physical limit;
 *   presence, residents, od and migration from CSV (2 threads);
 *   ingest, and the same four queries from the store.
 * `bench_engine gen FILE CELLS SUBS DAYS` only writes the data.
 * Figures on a shared machine are lower bounds.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "node/engine/engine.h"
#include "bench/bench.h"

#define NCELLS		4000
#define NREGIONS	400
#define DAY0		20454		/* 2026-01-01 */

static uint64_t rs = 0x853c49e6748fea9bULL;

static uint64_t
next(void)
{
	uint64_t z = (rs += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static char *
put_num(char *p, uint64_t v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + width;
}

static int
gen(const char *path, const char *cells, uint64_t subs, int days)
{
	FILE *f;
	uint32_t *home, *work;
	char *buf, *p;
	size_t cap = 1 << 22;

	if ((f = fopen(cells, "w")) == NULL)
		return -1;
	fprintf(f, "cell_id,region_id\n");
	for (int c = 0; c < NCELLS; c++)
		fprintf(f, "c%05d,%d\n", c, c % NREGIONS);
	fclose(f);
	home = malloc(subs * 4);
	work = malloc(subs * 4);
	buf = malloc(cap + 256);
	for (uint64_t s = 0; s < subs; s++) {
		home[s] = (uint32_t)(next() % NCELLS);
		work[s] = (uint32_t)(next() % NCELLS);
	}
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fputs("subscriber_id,timestamp,cell_id\n", f);
	p = buf;
	for (int d = 0; d < days; d++)
		for (int h = 0; h < 24; h++) {
			int64_t y = 2026, mo = 1, dd = 1 + d;

			for (uint64_t s = 0; s < subs; s++) {
				uint64_t r = next();
				uint32_t cell;

				if (r % 3 != 0)
					continue;
				r >>= 8;
				if (h >= 9 && h < 18)
					cell = r % 5 ? work[s] : (uint32_t)(r >>
					    8) % NCELLS;
				else
					cell = r % 7 ? home[s] : (uint32_t)(r >>
					    8) % NCELLS;
				*p++ = 's';
				p = put_num(p, s * 7919 % 10000000 +
				    s / 10000000 * 10000000, 8);
				*p++ = ',';
				p = put_num(p, (uint64_t)y, 4);
				*p++ = '-';
				p = put_num(p, (uint64_t)mo, 2);
				*p++ = '-';
				p = put_num(p, (uint64_t)dd, 2);
				*p++ = 'T';
				p = put_num(p, (uint64_t)h, 2);
				*p++ = ':';
				p = put_num(p, (r >> 20) % 60, 2);
				*p++ = ':';
				p = put_num(p, (r >> 30) % 60, 2);
				*p++ = 'Z';
				*p++ = ',';
				*p++ = 'c';
				p = put_num(p, cell, 5);
				*p++ = '\n';
				if ((size_t)(p - buf) >= cap) {
					fwrite(buf, 1, (size_t)(p - buf), f);
					p = buf;
				}
			}
		}
	fwrite(buf, 1, (size_t)(p - buf), f);
	fclose(f);
	free(buf);
	free(home);
	free(work);
	return 0;
}

struct job {
	const char	*what;
	const char	*spec;		/* NULL: parse only */
	const char	*store;		/* run on the store */
	const char	*ingest;	/* ingest into this dir */
	unsigned	 threads;
};

static const char *csv_path, *cells_path;

/* Run one job in a child; print seconds, throughput and peak RSS. */
static int
run(const struct job *j, double bytes, uint64_t rows)
{
	struct rusage ru;
	double t0 = bench_now(), dt, cpu;
	int status;
	pid_t pid;

	if ((pid = fork()) == 0) {
		struct engine_cellmap *cm = NULL;
		struct engine_input in;
		struct engine_report rep;
		struct engine_result res;
		struct qspec q;
		struct engine_store *st = NULL;
		char *paths[1] = { (char *)csv_path };
		int r;

		memset(&in, 0, sizeof(in));
		if (engine_cellmap_load(cells_path, &cm) != CAIRN_OK)
			_exit(2);
		in.paths = paths;
		in.npaths = 1;
		in.cells = cm;
		in.max_bad_fraction = 0.001;
		in.threads = j->threads;
		if (j->ingest != NULL)
			r = engine_store_ingest(j->ingest, &in, &rep);
		else if (j->spec == NULL)
			r = engine_check_data(&in, &rep);
		else {
			if (qspec_parse_json(j->spec, strlen(j->spec), "bench",
			    &q) != CAIRN_OK)
				_exit(3);
			if (j->store != NULL)
				r = engine_store_open(j->store, &st) ||
				    engine_run_store(&q, st, j->threads, &res);
			else
				r = engine_run_csv(&q, &in, &rep, &res);
		}
		if (r != CAIRN_OK) {
			fprintf(stderr, "bench_engine: %s: %s\n", j->what,
			    cairn_errdesc(r));
			_exit(1);
		}
		_exit(0);
	}
	if (pid < 0 || wait4(pid, &status, 0, &ru) != pid ||
	    !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		printf("%-34s FAILED\n", j->what);
		return 1;
	}
	dt = bench_now() - t0;
	cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	printf("%-34s %7.3f s wall %7.3f s cpu  %6.0f MB/s  %5.1f M rows/s"
	    "  %6.0f MB/s/cpu-s  peak %5ld MB\n", j->what, dt, cpu,
	    bytes / dt / 1e6, (double)rows / dt / 1e6, bytes / cpu / 1e6,
	    ru.ru_maxrss / 1024);
	fflush(stdout);
	return 0;
}

static int
bench(uint64_t subs)
{
	const char *tmp;
	uint64_t rows = 0;
	char dir[256], file[300], cells[300], store[300], cmd[700];
	struct stat sb;
	double t0;
	int rc = 0;
	FILE *f;

	tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(dir, sizeof(dir), "%s/cairn-bench-XXXXXX", tmp);
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(file, sizeof(file), "%s/cdr.csv", dir);
	snprintf(cells, sizeof(cells), "%s/cells.csv", dir);
	snprintf(store, sizeof(store), "%s/store", dir);
	csv_path = file;
	cells_path = cells;
	t0 = bench_now();
	if (gen(file, cells, subs, 7) != 0 || stat(file, &sb) != 0)
		return 1;
	if ((f = fopen(file, "r")) != NULL) {
		char b[1 << 16];
		size_t n;

		while ((n = fread(b, 1, sizeof(b), f)) > 0)
			for (size_t i = 0; i < n; i++)
				rows += b[i] == '\n';
		fclose(f);
		rows--;
	}
	printf("engine bench: %" PRIu64 " subscribers x 7 days, %" PRIu64
	    " rows, %.0f MB (generated in %.1f s); CAIRN_BENCH_SUBS scales\n",
	    subs, rows, (double)sb.st_size / 1e6, bench_now() - t0);
	const char *presence = "{\"kind\":\"presence\",\"start\":"
	    "\"2026-01-01\",\"end\":\"2026-01-08\",\"bucket\":\"day\","
	    "\"k\":1000}";
	const char *residents = "{\"kind\":\"residents\",\"start\":"
	    "\"2026-01-01\",\"end\":\"2026-01-08\"}";
	const char *od = "{\"kind\":\"od\",\"start\":\"2026-01-01\",\"end\":"
	    "\"2026-01-08\"}";
	const char *migration = "{\"kind\":\"migration\",\"baseline\":["
	    "\"2026-01-01\",\"2026-01-04\"],\"comparison\":[\"2026-01-04\","
	    "\"2026-01-08\"]}";
	const struct job jobs[] = {
		{ "parse only, 1 thread", NULL, NULL, NULL, 1 },
		{ "parse only, 2 threads", NULL, NULL, NULL, 2 },
		{ "presence from CSV, 2 threads", presence, NULL, NULL, 2 },
		{ "residents from CSV, 2 threads", residents, NULL, NULL, 2 },
		{ "od from CSV, 2 threads", od, NULL, NULL, 2 },
		{ "migration from CSV, 2 threads", migration, NULL, NULL, 2 },
		{ "ingest into the store, 2 threads", NULL, NULL, store, 2 },
		{ "presence from store, 2 threads", presence, store, NULL, 2 },
		{ "residents from store, 2 threads", residents, store, NULL,
		    2 },
		{ "od from store, 2 threads", od, store, NULL, 2 },
		{ "migration from store, 2 threads", migration, store, NULL,
		    2 },
	};
	for (size_t i = 0; i < sizeof(jobs) / sizeof(jobs[0]); i++)
		rc |= run(&jobs[i], (double)sb.st_size, rows);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}

int
main(int argc, char **argv)
{
	const char *env = getenv("CAIRN_BENCH_SUBS");
	char *list, *tok, *save = NULL;
	int rc = 0;

	if (argc == 6 && strcmp(argv[1], "gen") == 0)
		return gen(argv[2], argv[3], strtoull(argv[4], NULL, 10),
		    atoi(argv[5])) == 0 ? 0 : 1;
	if (argc > 1) {
		fprintf(stderr, "usage: bench_engine [gen FILE CELLS SUBS "
		    "DAYS]\n  CAIRN_BENCH_SUBS=\"100000 1000000 3000000\" "
		    "sets the scales (default 100000)\n");
		return argc == 2 && strcmp(argv[1], "--help") == 0 ? 0 : 1;
	}
	if ((list = strdup(env ? env : "100000")) == NULL)
		return 1;
	for (tok = strtok_r(list, " ,", &save); tok != NULL;
	    tok = strtok_r(NULL, " ,", &save))
		rc |= bench(strtoull(tok, NULL, 10));
	free(list);
	return rc;
}
