/*
 * fake_transport.h - the coordinator's service in process, without
 * sockets: a binary linked with the Makefile's WRAP_TRANSPORT flags
 * (-Wl,--wrap=transport_server_*,transport_call_*,keys_tls_load,
 * keys_tls_free) gets these definitions instead of gRPC's.  coord_start()
 * then hands its handler table to fake_handlers[], and fake_call() runs
 * one request through the real handler as an authenticated member.
 * Used by test_allocfail and the fuzz_coord_msg harness; linked into
 * every unit test, where nothing refers to it.
 */
#ifndef CAIRN_TESTS_FAKE_TRANSPORT_H
#define CAIRN_TESTS_FAKE_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "keys/keys_federation.h"
#include "protocol/proto_service.h"
#include "protocol/transport.h"

/* The handlers coord_start() registered (fn NULL before). */
extern struct transport_handler	fake_handlers[PROTO_NMETHODS];
/*
 * The allocator of replies kept for the caller: malloc unless a test
 * that wraps malloc sets its __real_malloc, so replies never fail.
 */
extern void	*(*fake_alloc)(size_t);

/*
 * Call method 'm' with request 'req' as member 'who' (its certificate
 * fingerprint as enrolled), wait for the answer (a streaming reply is sent
 * from a thread of the service's) and return the call's code: CAIRN_OK or
 * the CAIRN_ERR_* it failed with.  When 'resp' is not NULL it gets the
 * first reply message packed (fake_alloc memory, free()), or NULL.
 * Returns CAIRN_ERR_TIMEOUT if no answer came within 'wait_ms' (the call
 * is then abandoned to the service, which answers it on coord_stop()).
 */
int	fake_call(enum proto_method m, const struct keys_member *who,
	    const ProtobufCMessage *req, unsigned wait_ms, uint8_t **resp,
	    size_t *resp_len);

#endif
