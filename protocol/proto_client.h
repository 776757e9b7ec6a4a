/*
 * proto_client.h - opening a client channel to the coordinator, the one
 * way the statistics office's client (query/) and the auditor's (audit/)
 * do it: mutual TLS with the caller's identity, and the coordinator's
 * certificate pinned from the federation file.
 */
#ifndef CAIRN_PROTO_CLIENT_H
#define CAIRN_PROTO_CLIENT_H

struct transport_client;

/*
 * A transport client to 'target' ("host:port") with the TLS identity
 * (CA certificate, own certificate and key files) that accepts only the
 * coordinator's certificate enrolled in the federation file 'fed' (its
 * SHA-256 fingerprint is pinned: another certificate, even one the CA
 * issued for the same name, fails every call with CAIRN_ERR_UNAUTH naming
 * both fingerprints).  CAIRN_ERR_ARG when 'fed' is NULL; the errors of
 * keys_federation_load(), keys_tls_load() and transport_client_new()
 * otherwise.  '*out' set on success (transport_client_free()).
 */
int	proto_client_open(const char *target, const char *ca, const char *cert,
	    const char *key, const char *fed, struct transport_client **out)
	    __attribute__((warn_unused_result));

#endif
