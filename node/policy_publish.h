/*
 * policy_publish.h - a node publishes its policy (docs/node.md §4): the
 * [policy] of node.conf as a Policy message signed with the node's
 * identity key (purpose "policy"), sent with PublishPolicy; the
 * coordinator logs it as a POLICY entry when it differs from the node's
 * last one, so auditors check every charge against the policy in force.
 */
#ifndef CAIRN_NODE_POLICY_PUBLISH_H
#define CAIRN_NODE_POLICY_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

#include "node/node_config.h"
#include "protocol/cairn.pb-c.h"

struct node_daemon;

/*
 * Fill 'p' (initialised by the caller with cairn__v1__policy__init) with
 * node 'name''s policy from 'cfg'; strings and lists are borrowed from
 * 'cfg' and live as long as it does.
 */
void	node_policy_message(const struct node_config *cfg, const char *name,
	    Cairn__V1__Policy *p);

/*
 * Sign this node's policy and send it with PublishPolicy.  '*detail'
 * (may be NULL; size 'cap') gets the coordinator's answer ("POLICY logged
 * at index N" or "POLICY unchanged at index N").  Returns CAIRN_OK or the
 * transport's error.
 */
int	node_policy_publish(struct node_daemon *d, char *detail, size_t cap)
	    __attribute__((warn_unused_result));

#endif
