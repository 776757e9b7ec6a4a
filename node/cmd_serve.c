/*
 * cmd_serve.c - `cairn-node serve -c node.conf`: the node daemon.  It
 * dials out to the coordinator (it opens no port unless [monitoring]
 * listen asks for the monitoring listener), long-polls for tasks
 * and answers them (docs/node.md); SIGINT or SIGTERM stops it cleanly
 * between calls.
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
#include "common/log.h"
#include "common/monitor.h"
#include "node/daemon.h"
#include "node/node_metrics.h"

static volatile sig_atomic_t stop_flag;

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
	(void)sig;
	stop_flag = 1;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: cairn-node serve -c node.conf\n"
	    "  Dial out to the coordinator named in node.conf, take tasks, "
	    "check\n"
	    "  them against the log and the policy, charge the ledger, and "
	    "send\n"
	    "  masked shares or signed refusals.  SIGINT/SIGTERM stop it.\n");
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
serve(const struct node_config *cfg)
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
	char path[4096];
	int r;

	if (mkdir(cfg->data_dir, 0700) != 0 && errno != EEXIST) {
		r = cairn_err(CAIRN_ERR_IO, "%s: %s", cfg->data_dir,
		    strerror(errno));
		goto out;
	}
	if ((r = keys_identity_load(cfg->identity_key, &id)) != CAIRN_OK ||
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
		enum log_format lf = LOG_FORMAT_TEXT;

		(void)log_format_parse(cfg.log_format, &lf);
		log_set_format(lf);
		/* a source's running statement is cancelled on a stop */
		cfg.stop = &stop_flag;
		r = serve(&cfg);
	}
	node_config_release(&cfg);
	if (r != CAIRN_OK)
		return cli_fail("cairn-node", "serve", r);
	return 0;
}
