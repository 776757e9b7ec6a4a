/*
 * coord_main.c - the cairn-coordinator program (docs/man/cairn-coordinator.1):
 *
 *	cairn-coordinator serve -c coordinator.conf
 *	cairn-coordinator status -c coordinator.conf
 *	cairn-coordinator check-config -c coordinator.conf
 *	cairn-coordinator verify -c coordinator.conf
 *	cairn-coordinator rebuild -c coordinator.conf
 *	cairn-coordinator public-rebuild -c coordinator.conf [--dir DIR]
 *	cairn-coordinator backup -c coordinator.conf DIR
 */
#include <errno.h>
#include <sqlite3.h>

#include <sys/stat.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "common/db.h"
#include "common/err.h"
#include "common/file.h"
#include "common/log.h"
#include "common/version.h"
#include "coordinator/coord_int.h"
#include "protocol/transport.h"

#define PROG	"cairn-coordinator"

/* Parse "-c FILE" (the only option); print help for -h. */
static int
conf_arg(int argc, char **argv, const char *usage, const char **conf)
{
	*conf = NULL;
	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			printf("usage: %s %s\n", PROG, usage);
			return 0;
		}
		if ((strcmp(argv[i], "-c") == 0 ||
		    strcmp(argv[i], "--config") == 0) && i + 1 < argc)
			*conf = argv[++i];
		else {
			fprintf(stderr, "%s: error: unknown argument '%s'\n"
			    "usage: %s %s\n", PROG, argv[i], PROG, usage);
			return 1;
		}
	}
	if (*conf == NULL) {
		fprintf(stderr, "%s: error: -c coordinator.conf is required\n"
		    "usage: %s %s\n", PROG, PROG, usage);
		return 1;
	}
	return -1;
}

/*
 * The federation of 'cfg' ('*fed', the caller frees it), its
 * coordinator's public key ('*pub', borrowed from it) and the log's
 * origin "cairn/NAME" into 'origin' (TLOG_NAME_MAX + 1 bytes).
 */
static int
fed_identity(const struct coord_config *cfg, struct keys_federation **fed,
    const uint8_t **pub, char *origin)
{
	const struct keys_member *co;
	int r;

	if ((r = keys_federation_load(cfg->federation, fed)) != CAIRN_OK)
		return r;
	if ((r = keys_federation_coordinator(*fed, &co)) != CAIRN_OK)
		return r;
	*pub = co->pub.pk;
	snprintf(origin, TLOG_NAME_MAX + 1, "cairn/%s", (*fed)->name);
	return CAIRN_OK;
}

static int
cmd_serve(int argc, char **argv)
{
	struct coord_config cfg;
	struct coord *c = NULL;
	const char *conf;
	sigset_t sigs;
	int r, sig;

	if ((r = conf_arg(argc, argv, "serve -c coordinator.conf", &conf)) >= 0)
		return r;
	/* Signals go to sigwait below, not to gRPC's threads. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	if ((r = coord_config_load(conf, &cfg)) != CAIRN_OK) {
		coord_config_release(&cfg);
		return cli_fail(PROG, "config", r);
	}
	/* Both values were checked by coord_config_load(). */
	(void)log_configure(cfg.log_format, cfg.log_level);
	(void)transport_tune_memory();
	if ((r = coord_start(&cfg, &c)) != CAIRN_OK) {
		coord_config_release(&cfg);
		return cli_fail(PROG, "start", r);
	}
	if (cfg.port_file != NULL) {
		FILE *f = fopen(cfg.port_file, "w");

		if (f == NULL || fprintf(f, "%d\n", coord_port(c)) < 0 ||
		    fclose(f) != 0) {
			coord_stop(c);
			r = cli_fail(PROG, cfg.port_file,
			    cairn_err(CAIRN_ERR_IO, "cannot write the port "
			    "file"));
			coord_config_release(&cfg);
			return r;
		}
	}
	log_info("serving on port %d", coord_port(c));
	/* SIGHUP reloads what can change while serving (coord_reload()). */
	while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP)
		(void)coord_reload(c, &cfg);
	log_info("stopping (signal %d): open attempts fail, then the "
	    "server stops", sig);
	coord_stop(c);
	coord_config_release(&cfg);
	return 0;
}

static int
cmd_status(int argc, char **argv)
{
	static const char *const names[6] = { "?", "pending", "running",
	    "released", "refused", "failed" };
	struct coord_config cfg;
	struct coord_store *db = NULL;
	struct tlog_store *tl = NULL;
	struct tlog_checkpoint cp;
	uint64_t counts[6], evidence;
	char path[4096], *note = NULL;
	const char *conf;
	size_t len;
	int r;

	if ((r = conf_arg(argc, argv, "status -c coordinator.conf", &conf))
	    >= 0)
		return r;
	if ((r = coord_config_load(conf, &cfg)) != CAIRN_OK) {
		coord_config_release(&cfg);
		return cli_fail(PROG, "config", r);
	}
	snprintf(path, sizeof(path), "%s/coord.db", cfg.data_dir);
	if ((r = coord_store_open(path, &db)) != CAIRN_OK ||
	    (r = coord_store_count(db, counts)) != CAIRN_OK)
		goto out;
	snprintf(path, sizeof(path), "%s/log.db", cfg.data_dir);
	if ((r = tlog_store_open(path, 0, &tl)) != CAIRN_OK)
		goto out;
	printf("log entries: %llu\n",
	    (unsigned long long)tlog_store_size(tl));
	if (tlog_store_checkpoint_latest(tl, &note, &len, &cp) == CAIRN_OK)
		printf("latest checkpoint: %s size %llu\n", cp.origin,
		    (unsigned long long)cp.size);
	for (int i = 1; i < 6; i++)
		printf("queries %s: %llu\n", names[i],
		    (unsigned long long)counts[i]);
	if ((r = coord_store_evidence_count(db, &evidence)) == CAIRN_OK)
		printf("equivocation evidence kept: %llu\n",
		    (unsigned long long)evidence);
out:
	free(note);
	tlog_store_close(tl);
	coord_store_close(db);
	coord_config_release(&cfg);
	return r == CAIRN_OK ? 0 : cli_fail(PROG, "status", r);
}

static int
cmd_check(int argc, char **argv)
{
	struct coord_config cfg;
	const char *conf;
	int r;

	if ((r = conf_arg(argc, argv, "check-config -c coordinator.conf",
	    &conf)) >= 0)
		return r;
	r = coord_config_load(conf, &cfg);
	if (r == CAIRN_OK) {
		struct keys_federation *fed = NULL;

		if ((r = keys_federation_load(cfg.federation, &fed)) ==
		    CAIRN_OK)
			r = coord_config_check_pins(&cfg, conf, fed,
			    cfg.federation);
		keys_federation_free(fed);
	}
	if (r == CAIRN_OK) {
		printf("%s: ok (%zu geographies", conf, cfg.ngeos);
		for (size_t i = 0; i < cfg.ngeos; i++)
			printf("%s %s: %llu regions", i ? "," : ":",
			    cfg.geos[i].name,
			    (unsigned long long)cfg.geos[i].nregions);
		printf(")\n");
	}
	coord_config_release(&cfg);
	return r == CAIRN_OK ? 0 : cli_fail(PROG, "config", r);
}

/* The check serve makes before serving, on the stores as they are. */
static int
cmd_verify(int argc, char **argv)
{
	struct coord_config cfg;
	struct keys_federation *fed = NULL;
	struct coord_store *db = NULL;
	struct tlog_store *tl = NULL;
	struct coord_verify_report rep;
	const uint8_t *pub = NULL;
	char path[4096], origin[TLOG_NAME_MAX + 1];
	const char *conf;
	struct stat sb;
	int r;

	if ((r = conf_arg(argc, argv, "verify -c coordinator.conf", &conf))
	    >= 0)
		return r;
	if ((r = coord_config_load(conf, &cfg)) != CAIRN_OK) {
		coord_config_release(&cfg);
		return cli_fail(PROG, "config", r);
	}
	if ((r = fed_identity(&cfg, &fed, &pub, origin)) != CAIRN_OK)
		goto out;
	snprintf(path, sizeof(path), "%s/log.db", cfg.data_dir);
	if ((r = tlog_store_open(path, 0, &tl)) != CAIRN_OK)
		goto out;
	snprintf(path, sizeof(path), "%s/coord.db", cfg.data_dir);
	if (stat(path, &sb) != 0) {
		r = cairn_err(CAIRN_ERR_NOTFOUND, "%s: no such database",
		    path);
		goto out;
	}
	if ((r = coord_store_open(path, &db)) != CAIRN_OK ||
	    (r = coord_verify(tl, db, path, origin, pub, fed, &rep)) !=
	    CAIRN_OK)
		goto out;
	printf("%s: ok (%llu log entries, %llu queries, %llu results, %llu "
	    "charges and refusals, %llu checkpoints, %llu cosignatures)\n",
	    cfg.data_dir, (unsigned long long)rep.entries,
	    (unsigned long long)rep.queries, (unsigned long long)rep.results,
	    (unsigned long long)rep.signed_rows,
	    (unsigned long long)rep.checkpoints,
	    (unsigned long long)rep.cosigs);
out:
	tlog_store_close(tl);
	coord_store_close(db);
	keys_federation_free(fed);
	coord_config_release(&cfg);
	return r == CAIRN_OK ? 0 : cli_fail(PROG, "verify", r);
}

/* coord.db made again from log.db; the coordinator must be stopped. */
static int
cmd_rebuild(int argc, char **argv)
{
	struct coord_config cfg;
	struct keys_federation *fed = NULL;
	struct coord_verify_report rep;
	const uint8_t *pub = NULL;
	char origin[TLOG_NAME_MAX + 1];
	uint64_t kept = 0, lost = 0;
	const char *conf;
	int lock = -1, r;

	if ((r = conf_arg(argc, argv, "rebuild -c coordinator.conf", &conf))
	    >= 0)
		return r;
	if ((r = coord_config_load(conf, &cfg)) != CAIRN_OK) {
		coord_config_release(&cfg);
		return cli_fail(PROG, "config", r);
	}
	if ((r = fed_identity(&cfg, &fed, &pub, origin)) != CAIRN_OK ||
	    (r = file_lock_dir(cfg.data_dir, "cairn-coordinator rebuild",
	    &lock)) != CAIRN_OK)
		goto out;
	if ((r = coord_rebuild(cfg.data_dir, origin, pub, fed, &rep, &kept,
	    &lost)) != CAIRN_OK)
		goto out;
	printf("%s/coord.db rebuilt from log.db: %llu log entries, %llu "
	    "queries, %llu charges and refusals; released result values: "
	    "%llu kept from the old database, %llu lost (their hashes stay "
	    "in the log); cosignatures are collected again as witnesses "
	    "poll\n", cfg.data_dir, (unsigned long long)rep.entries,
	    (unsigned long long)rep.queries,
	    (unsigned long long)rep.signed_rows, (unsigned long long)kept,
	    (unsigned long long)lost);
out:
	file_unlock_dir(lock);
	keys_federation_free(fed);
	coord_config_release(&cfg);
	return r == CAIRN_OK ? 0 : cli_fail(PROG, "rebuild", r);
}

/*
 * The pair (coord.db, log.db) as of one instant, while serve runs: hold
 * coord.db's write lock while read snapshots of both are opened (the
 * coordinator, which writes the log before coord.db, can then add at
 * most what a crash at that instant would leave, and its next coord.db
 * write waits), let go, copy both snapshots with the backup API, then
 * verify the copies as serve would.
 */
static int
backup_pair(const char *data_dir, const char *dir)
{
	sqlite3 *lk = NULL, *cs = NULL, *ls = NULL;
	char cpath[4096], lpath[4096], dc[4200], dl[4200];
	int r;

	snprintf(cpath, sizeof(cpath), "%s/coord.db", data_dir);
	snprintf(lpath, sizeof(lpath), "%s/log.db", data_dir);
	snprintf(dc, sizeof(dc), "%s/coord.db", dir);
	snprintf(dl, sizeof(dl), "%s/log.db", dir);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return cairn_err(CAIRN_ERR_IO, "%s: %s", dir, strerror(errno));
	if ((r = db_open(cpath, SQLITE_OPEN_READWRITE, "backup", &lk)) !=
	    CAIRN_OK ||
	    (r = db_open(cpath, SQLITE_OPEN_READONLY, "backup", &cs)) !=
	    CAIRN_OK ||
	    (r = db_open(lpath, SQLITE_OPEN_READONLY, "backup", &ls)) !=
	    CAIRN_OK)
		goto out;
	if ((r = db_exec(lk, cpath, "BEGIN IMMEDIATE", "locking")) !=
	    CAIRN_OK)
		goto out;
	r = db_exec(ls, lpath, "BEGIN; SELECT count(*) FROM entries;",
	    "snapshot");
	if (r == CAIRN_OK)
		r = db_exec(cs, cpath, "BEGIN; SELECT count(*) FROM queries;",
		    "snapshot");
	(void)sqlite3_exec(lk, "ROLLBACK", NULL, NULL, NULL);
	if (r != CAIRN_OK ||
	    (r = db_backup(ls, dl)) != CAIRN_OK ||
	    (r = db_backup(cs, dc)) != CAIRN_OK)
		goto out;
	r = CAIRN_OK;
out:
	sqlite3_close(lk);
	sqlite3_close(cs);
	sqlite3_close(ls);
	return r;
}

static int
cmd_backup(int argc, char **argv)
{
	struct coord_config cfg;
	struct keys_federation *fed = NULL;
	struct coord_store *db = NULL;
	struct tlog_store *tl = NULL;
	struct coord_verify_report rep;
	const uint8_t *pub = NULL;
	char path[4200], origin[TLOG_NAME_MAX + 1];
	const char *dir;
	int r;

	if (argc == 2 && cli_is_help(argv[1])) {
		printf("usage: %s backup -c coordinator.conf DIR\n", PROG);
		return 0;
	}
	if (argc != 4 || (strcmp(argv[1], "-c") != 0 &&
	    strcmp(argv[1], "--config") != 0)) {
		fprintf(stderr, "%s: error: usage: %s backup -c "
		    "coordinator.conf DIR\n", PROG, PROG);
		return 1;
	}
	dir = argv[3];
	if ((r = coord_config_load(argv[2], &cfg)) != CAIRN_OK) {
		coord_config_release(&cfg);
		return cli_fail(PROG, "config", r);
	}
	if ((r = fed_identity(&cfg, &fed, &pub, origin)) != CAIRN_OK)
		goto out;
	if ((r = backup_pair(cfg.data_dir, dir)) != CAIRN_OK)
		goto out;
	snprintf(path, sizeof(path), "%s/log.db", dir);
	if ((r = tlog_store_open(path, 0, &tl)) != CAIRN_OK)
		goto out;
	snprintf(path, sizeof(path), "%s/coord.db", dir);
	if ((r = coord_store_open(path, &db)) != CAIRN_OK ||
	    (r = coord_verify(tl, db, path, origin, pub, fed, &rep)) !=
	    CAIRN_OK)
		goto out;
	printf("%s: coord.db and log.db backed up and verified (%llu log "
	    "entries, %llu queries, %llu results)\n", dir,
	    (unsigned long long)rep.entries, (unsigned long long)rep.queries,
	    (unsigned long long)rep.results);
out:
	tlog_store_close(tl);
	coord_store_close(db);
	keys_federation_free(fed);
	coord_config_release(&cfg);
	return r == CAIRN_OK ? 0 : cli_fail(PROG, "backup", r);
}

/*
 * The public directory brought up to log.db and coord.db (or made anew in
 * an empty folder), refusing one that disagrees; docs/public.md.
 */
static int
cmd_public_rebuild(int argc, char **argv)
{
	static const char usage[] =
	    "public-rebuild -c coordinator.conf [--dir DIR]";
	struct coord_config cfg;
	struct keys_federation *fed = NULL;
	struct coord_public *pub = NULL;
	struct coord_log lg;
	const char *conf = NULL, *dir = NULL;
	char path[4096];
	size_t npub = 0;
	struct stat sb;
	int lock = -1, r;

	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			printf("usage: %s %s\n", PROG, usage);
			return 0;
		}
		if ((strcmp(argv[i], "-c") == 0 ||
		    strcmp(argv[i], "--config") == 0) && i + 1 < argc)
			conf = argv[++i];
		else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else {
			fprintf(stderr, "%s: error: unknown argument '%s'\n"
			    "usage: %s %s\n", PROG, argv[i], PROG, usage);
			return 1;
		}
	}
	if (conf == NULL) {
		fprintf(stderr, "%s: error: -c coordinator.conf is required\n"
		    "usage: %s %s\n", PROG, PROG, usage);
		return 1;
	}
	memset(&lg, 0, sizeof(lg));
	if ((r = coord_config_load(conf, &cfg)) != CAIRN_OK) {
		coord_config_release(&cfg);
		return cli_fail(PROG, "config", r);
	}
	if (dir == NULL && (dir = cfg.pub_dir) == NULL) {
		r = cairn_err(CAIRN_ERR_CONFIG, "%s: no [public] dir and no "
		    "--dir", conf);
		goto out;
	}
	if ((r = file_lock_dir(cfg.data_dir, "cairn-coordinator "
	    "public-rebuild", &lock)) != CAIRN_OK ||
	    (r = keys_federation_load(cfg.federation, &fed)) != CAIRN_OK)
		goto out;
	snprintf(lg.origin, sizeof(lg.origin), "cairn/%s", fed->name);
	snprintf(path, sizeof(path), "%s/log.db", cfg.data_dir);
	if ((r = tlog_store_open(path, 0, &lg.tlog)) != CAIRN_OK)
		goto out;
	snprintf(path, sizeof(path), "%s/coord.db", cfg.data_dir);
	if (stat(path, &sb) != 0) {
		r = cairn_err(CAIRN_ERR_NOTFOUND, "%s: no such database",
		    path);
		goto out;
	}
	if ((r = coord_store_open(path, &lg.db)) != CAIRN_OK ||
	    (r = coord_public_open(dir, &lg, coord_public_quorum(&cfg),
	    &pub)) != CAIRN_OK ||
	    (r = coord_publish_all(pub, lg.db, &cfg, &npub)) != CAIRN_OK)
		goto out;
	printf("%s: agrees with %s (%llu log entries, %zu published "
	    "releases): %llu files written, %llu found equal, %llu "
	    "superseded partial tiles removed\n", dir,
	    cfg.data_dir, (unsigned long long)tlog_store_size(lg.tlog), npub,
	    (unsigned long long)coord_public_report(pub)->written,
	    (unsigned long long)coord_public_report(pub)->checked,
	    (unsigned long long)coord_public_report(pub)->removed);
out:
	file_unlock_dir(lock);
	coord_public_close(pub);
	tlog_store_close(lg.tlog);
	coord_store_close(lg.db);
	keys_federation_free(fed);
	coord_config_release(&cfg);
	return r == CAIRN_OK ? 0 : cli_fail(PROG, "public-rebuild", r);
}

static int
cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("%s %s\n", PROG, CAIRN_VERSION);
	return 0;
}

static const struct cli_cmd cmds[] = {
	{ "serve", cmd_serve, "run the coordinator until SIGINT/SIGTERM "
	    "(SIGHUP: reload)" },
	{ "status", cmd_status, "print the log size and query counts" },
	{ "check-config", cmd_check, "read coordinator.conf and report" },
	{ "verify", cmd_verify, "check coord.db and log.db as serve does" },
	{ "rebuild", cmd_rebuild, "make coord.db again from log.db" },
	{ "public-rebuild", cmd_public_rebuild, "bring the public directory "
	    "up to the databases, or refuse one that disagrees" },
	{ "backup", cmd_backup, "copy coord.db and log.db online, verified" },
	{ "version", cmd_version, "print the version" },
};

int
main(int argc, char **argv)
{
	log_set_prog(PROG);
	return cli_dispatch(PROG, cmds, sizeof(cmds) / sizeof(cmds[0]), argc,
	    argv);
}
