/*
 * proto_service.h - the methods of cairn.v1.Coordinator as data.
 *
 * protoc-c generates messages only: it says nothing about method paths,
 * which methods stream, who may call them or how large their requests may
 * be.  This table says it once, for the server (which registers handlers
 * against it) and for clients (which call through it).  docs/protocol.md
 * describes the same table for people.
 */
#ifndef CAIRN_PROTO_SERVICE_H
#define CAIRN_PROTO_SERVICE_H

#include <stdbool.h>
#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#include "protocol/cairn.pb-c.h"

enum proto_method {
	PROTO_SUBMIT_QUERY,
	PROTO_GET_QUERY,
	PROTO_GET_RESULT,
	PROTO_LIST_QUERIES,
	PROTO_POLL_TASK,
	PROTO_REFUSE,
	PROTO_ADVERTISE,
	PROTO_GET_ROSTER,
	PROTO_SUBMIT_SHARE,
	PROTO_COSIGN,
	PROTO_GET_CHECKPOINT,
	PROTO_GET_ENTRIES,
	PROTO_GET_INCLUSION_PROOF,
	PROTO_GET_CONSISTENCY_PROOF,
	PROTO_PUBLISH_POLICY,
	PROTO_NMETHODS
};

/* Cells in one chunk of a vector (MaskedShareChunk, ResultChunk): 4 MiB. */
#define PROTO_CHUNK_CELLS	(1u << 19)
/* Largest message either side accepts on the wire (a chunk + headroom). */
#define PROTO_MAX_MESSAGE	(PROTO_CHUNK_CELLS * 8 + 256 * 1024)
/* Largest request of a method that carries no vector. */
#define PROTO_MAX_SMALL		(256 * 1024)
/* Longest vector a query may produce (10^8 cells). */
#define PROTO_MAX_CELLS		100000000ull

struct proto_method_info {
	enum proto_method	 id;
	const char		*name;		/* "SubmitQuery" */
	const char		*path;		/* "/cairn.v1.Coordinator/…" */
	bool			 server_streaming;
	unsigned		 roles;		/* KEYS_ROLE_BIT() mask */
	const ProtobufCMessageDescriptor *request;
	const ProtobufCMessageDescriptor *response;
	size_t			 max_request;	/* bytes, before unpacking */
};

/* The entry for 'm' (a valid enum value), never NULL; static storage. */
const struct proto_method_info *proto_method(enum proto_method m);

/* The entry whose name is 'name' ("GetCheckpoint"), or NULL. */
const struct proto_method_info *proto_method_by_name(const char *name);

/*
 * Pack 'msg' into a new malloc'd buffer if it is at most 'max' bytes.
 * Returns CAIRN_OK, CAIRN_ERR_TOOBIG or CAIRN_ERR_NOMEM; *out and *len set on
 * success.
 */
int	proto_pack(const ProtobufCMessage *msg, size_t max, uint8_t **out,
	    size_t *len) __attribute__((warn_unused_result));

/*
 * Unpack 'len' bytes (hostile) as 'desc' after checking len <= max.
 * Returns CAIRN_OK, CAIRN_ERR_TOOBIG or CAIRN_ERR_FORMAT naming the
 * message type; *out set on success (free it with
 * protobuf_c_message_free_unpacked).
 */
int	proto_unpack(const ProtobufCMessageDescriptor *desc,
	    const uint8_t *buf, size_t len, size_t max, ProtobufCMessage **out)
	    __attribute__((warn_unused_result));

#endif
