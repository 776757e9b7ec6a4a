/*
 * cmd_serve.c - `cairn-node serve -c node.conf`: the node daemon.  It
 * dials out to the coordinator (it opens no port unless [monitoring]
 * listen asks for the monitoring listener), long-polls for tasks
 * and answers them (docs/node.md); SIGINT or SIGTERM stops it cleanly
 * between calls (a task under way is finished or abandoned, never
 * half-written to the ledger: each charge is one transaction), SIGHUP
 * reloads node.conf's reloadable keys between tasks.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cli.h"
#include "common/err.h"
#include "common/file.h"
#include "common/log.h"
#include "common/monitor.h"
#include "node/daemon.h"
#include "node/node_metrics.h"

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t reload_flag;

/* What the serve loop's reload (SIGHUP) reads again and changes. */
struct reload_ctx {
	const char		*path;
	struct node_config	*cfg;
};

/*
 * Fault injection for the end-to-end tests (docs/node.md): with
 * CAIRN_NODE_STOP_AT=STEP the node sends itself SIGSTOP right after STEP
 * ("charged", "advertised", "masked", ...), so a test can kill it at that
 * exact point.  It only ever pauses the node.
 */
static void
stop_at(const char *step, void *arg)
{
	const char *want = arg;

	if (strcmp(step, want) == 0) {
		log_warn("CAIRN_NODE_STOP_AT=%s: stopping", want);
		kill(getpid(), SIGSTOP);
	}
}

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_flag = 1;
	else
		stop_flag = 1;
}

/* SIGHUP, on the serve loop's thread between tasks. */
static void
reload(void *arg)
{
	struct reload_ctx *rc = arg;
	struct node_config next;
	char applied[1024], fixed[2048];
	int r;

	log_info("SIGHUP: reading %s again", rc->path);
	if ((r = node_config_load(rc->path, &next)) != CAIRN_OK) {
		log_error("%s not taken, the configuration in force stays: %s",
		    rc->path, cairn_errdesc(r));
		node_config_release(&next);
		return;
	}
	r = node_config_reload(rc->cfg, &next, applied, sizeof(applied),
	    fixed, sizeof(fixed));
	node_config_release(&next);
	if (r != CAIRN_OK) {
		log_error("%s not taken: %s", rc->path, cairn_errdesc(r));
		return;
	}
	/* Said at the level in force when the signal came; then the new
	 * format and level (both checked by node_config_load()). */
	log_info("%s reloaded: %s", rc->path, applied[0] != '\0' ? applied :
	    "nothing that can change while serving changed");
	if (fixed[0] != '\0')
		log_warn("%s: changed but not reloadable, still as at start "
		    "until a restart: %s", rc->path, fixed);
	(void)log_configure(rc->cfg->log_format, rc->cfg->log_level);
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: cairn-node serve -c node.conf\n"
	    "  Dial out to the coordinator named in node.conf, take tasks, "
	    "check\n"
	    "  them against the log and the policy, charge the ledger, and "
	    "send\n"
	    "  masked shares or signed refusals.  SIGINT/SIGTERM stop it,\n"
	    "  SIGHUP reloads node.conf's reloadable keys.\n");
}

/* Write 'port' to 'path' (NULL: nothing to do). */
static int
write_port(const char *path, int port)
{
	FILE *f;

	if (path == NULL)
		return CAIRN_OK;
	if ((f = fopen(path, "w")) == NULL || fprintf(f, "%d\n", port) < 0 ||
	    fclose(f) != 0)
		return cairn_err(CAIRN_ERR_IO, "%s: cannot write the port file",
		    path);
	return CAIRN_OK;
}

static int
serve(struct node_config *cfg, const char *conf)
{
	struct keys_identity *id = NULL;
	struct keys_federation *fed = NULL;
	const struct keys_member *coord;
	struct keys_tls *tls = NULL;
	struct node_ledger *ledger = NULL;
	struct tlog_witness *witness = NULL;
	struct transport_client *client = NULL;
	struct node_daemon *d = NULL;
	struct monitor *mon = NULL;
	struct transport_client_config cc;
	struct node_daemon_config dc;
	struct sigaction sa;
	struct reload_ctx rc = { conf, cfg };
	char path[4096];
	int lock = -1, r;

	if (mkdir(cfg->data_dir, 0700) != 0 && errno != EEXIST) {
		r = cairn_err(CAIRN_ERR_IO, "%s: %s", cfg->data_dir,
		    strerror(errno));
		goto out;
	}
	/* One daemon at a time on a ledger. */
	if ((r = file_lock_dir(cfg->data_dir, "cairn-node serve", &lock)) !=
	    CAIRN_OK ||
	    (r = keys_identity_load(cfg->identity_key, &id)) != CAIRN_OK ||
	    (r = keys_federation_load(cfg->federation, &fed)) != CAIRN_OK ||
	    (r = keys_tls_load(cfg->ca_cert, cfg->tls_cert, cfg->tls_key,
	    &tls)) != CAIRN_OK)
		goto out;
	snprintf(path, sizeof(path), "%s/%s", cfg->data_dir, NODE_LEDGER_FILE);
	if ((r = node_ledger_open(path, &ledger)) != CAIRN_OK)
		goto out;
	snprintf(path, sizeof(path), "%s/%s", cfg->data_dir, NODE_WITNESS_FILE);
	if ((r = tlog_witness_open(path, &witness)) != CAIRN_OK)
		goto out;
	if ((r = keys_federation_coordinator(fed, &coord)) != CAIRN_OK)
		goto out;
	memset(&cc, 0, sizeof(cc));
	cc.target = cfg->coordinator;
	cc.tls = tls;
	/* Only the coordinator's enrolled certificate, not any other the
	 * federation CA issued for its name. */
	cc.pin_sha256 = coord->cert_fpr;
	if ((r = transport_client_new(&cc, &client)) != CAIRN_OK)
		goto out;
	memset(&dc, 0, sizeof(dc));
	dc.cfg = cfg;
	dc.id = id;
	dc.fed = fed;
	dc.ledger = ledger;
	dc.witness = witness;
	dc.client = client;
	dc.vectors.compute = node_task_vector;
	dc.vectors.domain = node_task_domain;
	dc.vectors.ctx = (void *)cfg;
	dc.stop = &stop_flag;
	dc.reload = &reload_flag;
	dc.reload_fn = reload;
	dc.reload_arg = &rc;
	if ((dc.step_arg = getenv("CAIRN_NODE_STOP_AT")) != NULL)
		dc.step_hook = stop_at;
	if ((r = node_daemon_new(&dc, &d)) != CAIRN_OK)
		goto out;
	node_metrics_init();
	if (cfg->mon_listen != NULL) {
		struct monitor_config mc;

		memset(&mc, 0, sizeof(mc));
		mc.listen = cfg->mon_listen;
		mc.ready = node_metrics_ready;
		if ((r = monitor_start(&mc, &mon)) != CAIRN_OK ||
		    (r = write_port(cfg->mon_port_file, monitor_port(mon))) !=
		    CAIRN_OK)
			goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* A reload must not fail the system call it lands in. */
	sa.sa_flags = SA_RESTART;
	sigaction(SIGHUP, &sa, NULL);
	(void)transport_tune_memory();
	r = node_daemon_serve(d);
out:
	monitor_stop(mon);
	node_daemon_free(d);
	transport_client_free(client);
	tlog_witness_close(witness);
	node_ledger_free(ledger);
	keys_tls_free(tls);
	keys_federation_free(fed);
	keys_identity_free(id);
	file_unlock_dir(lock);
	return r;
}

int
node_cmd_serve(int argc, char **argv)
{
	struct node_config cfg;
	const char *conf = NULL;
	int c, r;
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", lo, NULL)) != -1) {
		switch (c) {
		case 'c':
			conf = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (conf == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}
	if ((r = node_config_load(conf, &cfg)) == CAIRN_OK) {
		/* Both values were checked by node_config_load(). */
		(void)log_configure(cfg.log_format, cfg.log_level);
		/* a source's running statement is cancelled on a stop */
		cfg.stop = &stop_flag;
		r = serve(&cfg, conf);
	}
	node_config_release(&cfg);
	if (r != CAIRN_OK)
		return cli_fail("cairn-node", "serve", r);
	return 0;
}
