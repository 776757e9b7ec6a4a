/*
 * fake_transport.c - see fake_transport.h.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "keys/keys_tls.h"
#include "tests/unit/fake_transport.h"

struct transport_call {
	enum keys_role			 role;
	char				 peer[KEYS_NAME_MAX + 1];
	char				 fpr[KEYS_FPR_LEN];
	const struct proto_method_info	*mi;
	atomic_int			 state;	/* PENDING, DONE, ABANDONED */
	int				 code;
	uint8_t				*resp;	/* first message, packed */
	size_t				 resp_len;
};

enum { PENDING, DONE, ABANDONED };

struct transport_handler	fake_handlers[PROTO_NMETHODS];
void	*(*fake_alloc)(size_t) = malloc;
static int fake_object;

int	__wrap_transport_server_start(const struct transport_server_config *cfg,
	    const struct transport_handler *h, size_t n,
	    struct transport_server **out);
void	__wrap_transport_server_stop(struct transport_server *srv);
int	__wrap_transport_server_port(const struct transport_server *srv);
enum keys_role __wrap_transport_call_role(const struct transport_call *c);
const char *__wrap_transport_call_peer(const struct transport_call *c);
int	__wrap_transport_call_peer_cert_fpr(const struct transport_call *c,
	    char fpr[static KEYS_FPR_LEN]);
const struct proto_method_info *__wrap_transport_call_method(
	    const struct transport_call *c);
int64_t	__wrap_transport_call_remaining_ms(const struct transport_call *c);
bool	__wrap_transport_call_is_cancelled(const struct transport_call *c);
int	__wrap_transport_call_reply(struct transport_call *c,
	    const ProtobufCMessage *resp);
int	__wrap_transport_call_fail(struct transport_call *c, int code,
	    const char *field, const char *detail);
int	__wrap_transport_call_send(struct transport_call *c,
	    const ProtobufCMessage *msg);
int	__wrap_transport_call_finish(struct transport_call *c, int code,
	    const char *detail);
int	__wrap_keys_tls_load(const char *ca, const char *cert, const char *key,
	    struct keys_tls **out);
void	__wrap_keys_tls_free(struct keys_tls *t);

int
__wrap_transport_server_start(const struct transport_server_config *cfg,
    const struct transport_handler *h, size_t n, struct transport_server **out)
{
	(void)cfg;
	if (n > PROTO_NMETHODS)
		return CAIRN_ERR_ARG;
	memset(fake_handlers, 0, sizeof(fake_handlers));
	memcpy(fake_handlers, h, n * sizeof(*h));
	*out = (struct transport_server *)&fake_object;
	return CAIRN_OK;
}

void
__wrap_transport_server_stop(struct transport_server *srv)
{
	(void)srv;
	memset(fake_handlers, 0, sizeof(fake_handlers));
}

int
__wrap_transport_server_port(const struct transport_server *srv)
{
	(void)srv;
	return 1;
}

enum keys_role
__wrap_transport_call_role(const struct transport_call *c)
{
	return c->role;
}

const char *
__wrap_transport_call_peer(const struct transport_call *c)
{
	return c->peer;
}

int
__wrap_transport_call_peer_cert_fpr(const struct transport_call *c,
    char fpr[static KEYS_FPR_LEN])
{
	memcpy(fpr, c->fpr, KEYS_FPR_LEN);
	return CAIRN_OK;
}

const struct proto_method_info *
__wrap_transport_call_method(const struct transport_call *c)
{
	return c->mi;
}

int64_t
__wrap_transport_call_remaining_ms(const struct transport_call *c)
{
	(void)c;
	return 2000;
}

bool
__wrap_transport_call_is_cancelled(const struct transport_call *c)
{
	(void)c;
	return false;
}

static void
keep(struct transport_call *c, const ProtobufCMessage *m)
{
	size_t l;

	if (c->resp != NULL)
		return;
	l = protobuf_c_message_get_packed_size(m);
	if ((c->resp = fake_alloc(l + 1)) == NULL)
		abort();
	c->resp_len = protobuf_c_message_pack(m, c->resp);
}

/* Finish 'c'; an abandoned call is the service's to free here. */
static void
finish(struct transport_call *c, int code)
{
	int want = PENDING;

	c->code = code;
	if (!atomic_compare_exchange_strong(&c->state, &want, DONE)) {
		free(c->resp);
		free(c);
	}
}

int
__wrap_transport_call_reply(struct transport_call *c,
    const ProtobufCMessage *resp)
{
	keep(c, resp);
	finish(c, CAIRN_OK);
	return CAIRN_OK;
}

int
__wrap_transport_call_fail(struct transport_call *c, int code,
    const char *field, const char *detail)
{
	(void)field;
	(void)detail;
	finish(c, code);
	return CAIRN_OK;
}

int
__wrap_transport_call_send(struct transport_call *c,
    const ProtobufCMessage *msg)
{
	keep(c, msg);
	return CAIRN_OK;
}

int
__wrap_transport_call_finish(struct transport_call *c, int code,
    const char *detail)
{
	(void)detail;
	finish(c, code);
	return CAIRN_OK;
}

int
__wrap_keys_tls_load(const char *ca, const char *cert, const char *key,
    struct keys_tls **out)
{
	(void)ca;
	(void)cert;
	(void)key;
	*out = (struct keys_tls *)&fake_object;
	return CAIRN_OK;
}

void
__wrap_keys_tls_free(struct keys_tls *t)
{
	(void)t;
}

int
fake_call(enum proto_method m, const struct keys_member *who,
    const ProtobufCMessage *req, unsigned wait_ms, uint8_t **resp,
    size_t *resp_len)
{
	struct transport_call *c;
	int code;

	if (resp != NULL) {
		*resp = NULL;
		*resp_len = 0;
	}
	if ((unsigned)m >= PROTO_NMETHODS || fake_handlers[m].fn == NULL)
		return CAIRN_ERR_STATE;
	if ((c = fake_alloc(sizeof(*c))) == NULL)
		abort();
	memset(c, 0, sizeof(*c));
	c->role = who->pub.role;
	snprintf(c->peer, sizeof(c->peer), "%s", who->pub.name);
	memcpy(c->fpr, who->cert_fpr, KEYS_FPR_LEN);
	c->mi = proto_method(m);
	atomic_init(&c->state, PENDING);
	fake_handlers[m].fn(c, req, fake_handlers[m].arg);
	for (unsigned i = 0; i < wait_ms && atomic_load(&c->state) == PENDING;
	    i++)
		usleep(1000);
	{
		int want = PENDING;

		/* Parked (a long poll): the service finishes it later. */
		if (atomic_compare_exchange_strong(&c->state, &want,
		    ABANDONED))
			return CAIRN_ERR_TIMEOUT;
	}
	code = c->code;
	if (resp != NULL) {
		*resp = c->resp;
		*resp_len = c->resp_len;
	} else
		free(c->resp);
	free(c);
	return code;
}
