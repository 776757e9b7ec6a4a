/*
 * transport_server.c - a minimal cairn server for the end-to-end tests.
 *
 * It serves GetCheckpoint (a fixed checkpoint text) and SubmitQuery (echoes
 * the caller's name) through the real protocol/transport module with the
 * TLS material in DIR, until SIGTERM or SIGINT.  The coordinator daemon
 * replaces it when it exists; until then it is how third-party clients are
 * tested against cairn's transport.
 *
 * usage: transport_server --dir DIR [--listen ADDR] [--port-file FILE]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include "common/cli.h"
#include "common/err.h"
#include "common/log.h"
#include "keys/keys_tls.h"
#include "protocol/cairn.pb-c.h"
#include "protocol/proto_service.h"
#include "protocol/transport.h"

#define PROG	"transport_server"
#define NOTE	"cairn.test/log\n" \
		"3\n" \
		"3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n" \
		"\n" \
		"\xe2\x80\x94 cairn.test/log Az3grkAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n"

static void
h_checkpoint(struct transport_call *call, const ProtobufCMessage *req,
    void *arg)
{
	Cairn__V1__Checkpoint cp = CAIRN__V1__CHECKPOINT__INIT;

	(void)req;
	(void)arg;
	cp.note = (char *)NOTE;
	(void)transport_call_reply(call, &cp.base);
}

static void
h_submit(struct transport_call *call, const ProtobufCMessage *req, void *arg)
{
	const Cairn__V1__SignedQuery *q = (const Cairn__V1__SignedQuery *)req;
	Cairn__V1__SubmitQueryResponse r =
	    CAIRN__V1__SUBMIT_QUERY_RESPONSE__INIT;

	(void)arg;
	r.query_id = (char *)transport_call_peer(call);
	r.log_index = q->query.len;
	(void)transport_call_reply(call, &r.base);
}

int
main(int argc, char **argv)
{
	const char *dir = NULL, *listen = "127.0.0.1:0", *port_file = NULL;
	struct transport_handler h[2] = {
		{ proto_method(PROTO_GET_CHECKPOINT), h_checkpoint, NULL, NULL },
		{ proto_method(PROTO_SUBMIT_QUERY), h_submit, NULL, NULL },
	};
	struct transport_server_config cfg;
	struct transport_server *srv = NULL;
	struct keys_tls *tls = NULL;
	sigset_t sigs;
	int r, sig;

	log_set_prog(PROG);
	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			printf("usage: %s --dir DIR [--listen ADDR] "
			    "[--port-file FILE]\n  Serve GetCheckpoint and "
			    "SubmitQuery with DIR/{ca.crt,tls.crt,tls.key} "
			    "until SIGTERM.\n", PROG);
			return 0;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "%s: error: %s needs a value\n", PROG,
			    argv[i]);
			return 1;
		}
		if (strcmp(argv[i], "--dir") == 0)
			dir = argv[++i];
		else if (strcmp(argv[i], "--listen") == 0)
			listen = argv[++i];
		else if (strcmp(argv[i], "--port-file") == 0)
			port_file = argv[++i];
		else {
			fprintf(stderr, "%s: error: unknown argument '%s'\n",
			    PROG, argv[i]);
			return 1;
		}
	}
	if (dir == NULL) {
		fprintf(stderr, "%s: error: --dir is required\n", PROG);
		return 1;
	}
	/* Signals go to sigwait below, not to gRPC's threads. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	if ((r = keys_tls_load_dir(dir, &tls)) != CAIRN_OK)
		return cli_fail(PROG, dir, r);
	memset(&cfg, 0, sizeof(cfg));
	cfg.listen = listen;
	cfg.tls = tls;
	cfg.grace_ms = 1000;
	if ((r = transport_server_start(&cfg, h, 2, &srv)) != CAIRN_OK) {
		keys_tls_free(tls);
		return cli_fail(PROG, listen, r);
	}
	keys_tls_free(tls);
	if (port_file != NULL) {
		FILE *f = fopen(port_file, "w");

		if (f == NULL || fprintf(f, "%d\n", transport_server_port(srv))
		    < 0 || fclose(f) != 0) {
			transport_server_stop(srv);
			return cli_fail(PROG, port_file, cairn_err(CAIRN_ERR_IO,
			    "cannot write the port file"));
		}
	}
	printf("listening on port %d\n", transport_server_port(srv));
	fflush(stdout);
	sigwait(&sigs, &sig);
	transport_server_stop(srv);
	return 0;
}
