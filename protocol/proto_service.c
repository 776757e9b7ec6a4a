/*
 * proto_service.c - the Coordinator method table and checked pack/unpack.
 *
 * Who may call what: analysts submit and read their queries; nodes take
 * part in rounds; every authenticated member (auditors, nodes, analysts,
 * the coordinator) may read the transparency log.
 */
#include <stdlib.h>
#include <string.h>

#include "common/bigmem.h"
#include "common/err.h"
#include "keys/keys.h"
#include "protocol/proto_service.h"

#define SVC	"/cairn.v1.Coordinator/"
#define ANALYST	KEYS_ROLE_BIT(KEYS_ROLE_ANALYST)
#define NODE	KEYS_ROLE_BIT(KEYS_ROLE_NODE)
#define ANYONE	KEYS_ROLES_ALL

#define M(id, name, stream, roles, req, resp, max) \
	{ id, #name, SVC #name, stream, roles, &cairn__v1__##req##__descriptor, \
	  &cairn__v1__##resp##__descriptor, max }

static const struct proto_method_info methods[PROTO_NMETHODS] = {
	M(PROTO_SUBMIT_QUERY, SubmitQuery, false, ANALYST, signed_query,
	    submit_query_response, PROTO_MAX_SMALL),
	M(PROTO_GET_QUERY, GetQuery, false, ANALYST, get_query_request,
	    query_status, PROTO_MAX_SMALL),
	M(PROTO_GET_RESULT, GetResult, true, ANALYST, get_result_request,
	    result_chunk, PROTO_MAX_SMALL),
	M(PROTO_LIST_QUERIES, ListQueries, false, ANALYST,
	    list_queries_request, list_queries_response, PROTO_MAX_SMALL),
	M(PROTO_POLL_TASK, PollTask, false, NODE, poll_task_request,
	    poll_task_response, PROTO_MAX_SMALL),
	M(PROTO_REFUSE, Refuse, false, NODE, signed_refusal, ack,
	    PROTO_MAX_SMALL),
	M(PROTO_ADVERTISE, Advertise, false, NODE, signed_advertisement, ack,
	    PROTO_MAX_SMALL),
	M(PROTO_GET_ROSTER, GetRoster, false, NODE, get_roster_request,
	    roster, PROTO_MAX_SMALL),
	M(PROTO_SUBMIT_SHARE, SubmitShare, false, NODE, masked_share_chunk,
	    submit_share_response, PROTO_MAX_MESSAGE),
	M(PROTO_COSIGN, Cosign, false, NODE, cosignature, ack,
	    PROTO_MAX_SMALL),
	M(PROTO_GET_CHECKPOINT, GetCheckpoint, false, ANYONE,
	    get_checkpoint_request, checkpoint, PROTO_MAX_SMALL),
	M(PROTO_GET_ENTRIES, GetEntries, false, ANYONE, get_entries_request,
	    get_entries_response, PROTO_MAX_SMALL),
	M(PROTO_GET_INCLUSION_PROOF, GetInclusionProof, false, ANYONE,
	    get_inclusion_proof_request, inclusion_proof, PROTO_MAX_SMALL),
	M(PROTO_GET_CONSISTENCY_PROOF, GetConsistencyProof, false, ANYONE,
	    get_consistency_proof_request, consistency_proof, PROTO_MAX_SMALL),
	M(PROTO_PUBLISH_POLICY, PublishPolicy, false, NODE, signed_policy, ack,
	    PROTO_MAX_SMALL),
};

const struct proto_method_info *
proto_method(enum proto_method m)
{
	return &methods[m];
}

const struct proto_method_info *
proto_method_by_name(const char *name)
{
	for (size_t i = 0; i < PROTO_NMETHODS; i++)
		if (strcmp(methods[i].name, name) == 0)
			return &methods[i];
	return NULL;
}

int
proto_pack(const ProtobufCMessage *msg, size_t max, uint8_t **out, size_t *len)
{
	size_t n = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf;

	if (n > max)
		return cairn_err(CAIRN_ERR_TOOBIG, "%s of %zu bytes exceeds "
		    "the limit of %zu", msg->descriptor->short_name, n, max);
	if ((buf = malloc(n ? n : 1)) == NULL)
		return cairn_err(CAIRN_ERR_NOMEM, "packing %s of %zu bytes",
		    msg->descriptor->short_name, n);
	if (protobuf_c_message_pack(msg, buf) != n) {
		free(buf);
		return cairn_err(CAIRN_ERR_INTERNAL, "%s: packed size changed",
		    msg->descriptor->short_name);
	}
	*out = buf;
	*len = n;
	return CAIRN_OK;
}

/*
 * protobuf-c's allocator with large arrays (a share chunk's 4 MB of
 * cells) on huge pages (common/bigmem.h); everything it returns is freed
 * with free(), as protobuf_c_message_free_unpacked(m, NULL) does.
 */
static void *
unpack_alloc(void *data, size_t n)
{
	(void)data;
	return n >= BIGMEM_MIN ? big_alloc(n) : malloc(n);
}

static void
unpack_free(void *data, void *p)
{
	(void)data;
	free(p);
}

static ProtobufCAllocator unpack_allocator = {
	.alloc = unpack_alloc,
	.free = unpack_free,
	.allocator_data = NULL,
};

int
proto_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *buf,
    size_t len, size_t max, ProtobufCMessage **out)
{
	ProtobufCMessage *m;

	if (len > max)
		return cairn_err(CAIRN_ERR_TOOBIG, "%s of %zu bytes exceeds "
		    "the limit of %zu", desc->short_name, len, max);
	if ((m = protobuf_c_message_unpack(desc, &unpack_allocator, len,
	    len ? buf : (const uint8_t *)"")) == NULL)
		return cairn_err(CAIRN_ERR_FORMAT, "malformed %s (%zu bytes)",
		    desc->short_name, len);
	*out = m;
	return CAIRN_OK;
}
