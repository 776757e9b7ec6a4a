/*
 * proto_client.c - a client channel to the coordinator with its
 * certificate pinned from the federation file (proto_client.h).
 */
#include <stddef.h>
#include <string.h>

#include "common/err.h"
#include "keys/keys_federation.h"
#include "keys/keys_tls.h"
#include "protocol/proto_client.h"
#include "protocol/transport.h"

int
proto_client_open(const char *target, const char *ca, const char *cert,
    const char *key, const char *fed, struct transport_client **out)
{
	struct transport_client_config cfg;
	struct keys_federation *f = NULL;
	const struct keys_member *coord;
	struct keys_tls *tls = NULL;
	int r;

	if (fed == NULL)
		return cairn_err(CAIRN_ERR_ARG, "--federation is required: "
		    "the coordinator's enrolled certificate is pinned from it");
	if ((r = keys_federation_load(fed, &f)) != CAIRN_OK ||
	    (r = keys_federation_coordinator(f, &coord)) != CAIRN_OK ||
	    (r = keys_tls_load(ca, cert, key, &tls)) != CAIRN_OK)
		goto out;
	memset(&cfg, 0, sizeof(cfg));
	cfg.target = target;
	cfg.tls = tls;
	cfg.retries = 3;
	cfg.pin_sha256 = coord->cert_fpr;
	r = transport_client_new(&cfg, out);
out:
	keys_tls_free(tls);
	keys_federation_free(f);
	return r;
}
