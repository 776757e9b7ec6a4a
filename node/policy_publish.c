/*
 * policy_publish.c - publish the node's policy as a signed Policy
 * (policy_publish.h).  The bytes are deterministic for one node.conf
 * (protobuf-c packs fields in tag order), so an unchanged policy is
 * recognised by the coordinator and logged once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "node/daemon_int.h"
#include "node/policy_publish.h"

void
node_policy_message(const struct node_config *cfg, const char *name,
    Cairn__V1__Policy *p)
{
	const struct node_policy *pol = &cfg->policy;

	p->node = (char *)name;
	p->n_allow_kinds = pol->kinds.n;
	p->allow_kinds = pol->kinds.v;
	p->n_allow_analysts = pol->analysts.n;
	p->allow_analysts = pol->analysts.v;
	if (pol->geographies.n > 0) {
		p->n_allow_geographies = pol->geographies.n;
		p->allow_geographies = pol->geographies.v;
	} else if (cfg->geography != NULL) {
		/* allow_geography defaults to the node's geography */
		p->n_allow_geographies = 1;
		p->allow_geographies = (char **)&cfg->geography;
	}
	p->budget_rho_per_month_nano = pol->budget_rho_per_month_nano;
	p->max_rho_per_query_nano = pol->max_rho_per_query_nano;
	p->min_participants = (uint32_t)pol->min_participants;
	p->max_colluding = (uint32_t)pol->max_colluding;
	p->max_months_per_query = (uint32_t)pol->max_months_per_query;
	p->holders_per_person = (uint32_t)pol->holders_per_person;
	p->retention_days = (uint32_t)pol->retention_days;
	/* Left out when undeclared, so an older node.conf publishes the
	   same bytes as before. */
	p->n_data_months = pol->n_data_months;
	p->data_months = pol->data_months;
}

int
node_policy_publish(struct node_daemon *d, char *detail, size_t cap)
{
	Cairn__V1__Policy p = CAIRN__V1__POLICY__INIT;
	Cairn__V1__SignedPolicy sp = CAIRN__V1__SIGNED_POLICY__INIT;
	ProtobufCMessage *resp = NULL;
	uint8_t sig[KEYS_SIG_LEN], *bytes = NULL;
	size_t len;
	int r;

	node_policy_message(d->dc.cfg, d->name, &p);
	if ((r = node_sign_msg(d, &p.base, "policy", &bytes, &len, sig)) !=
	    CAIRN_OK)
		return r;
	sp.policy.data = bytes;
	sp.policy.len = len;
	sp.signature.data = sig;
	sp.signature.len = KEYS_SIG_LEN;
	r = transport_unary(d->dc.client, proto_method(PROTO_PUBLISH_POLICY),
	    &sp.base, d->call_ms, &resp);
	if (r == CAIRN_OK) {
		const Cairn__V1__Ack *ack = (const Cairn__V1__Ack *)resp;

		log_info("policy published: %s", ack->detail);
		if (detail != NULL)
			snprintf(detail, cap, "%s", ack->detail);
	}
	if (resp != NULL)
		protobuf_c_message_free_unpacked(resp, NULL);
	free(bytes);
	return r;
}
