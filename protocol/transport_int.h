/*
 * transport_int.h - private to protocol/transport_*.c: what the server
 * (transport_server.c) and the client (transport_client.c) share from
 * transport_msg.c.  Nothing outside protocol/ includes it; it names gRPC
 * types, which only protocol/ may see.
 *
 * None of these functions is wrapped by the tests' -Wl,--wrap lists
 * (Makefile WRAP_TRANSPORT): a call across the split files reaches them
 * unwrapped, as it did when the transport was one file.
 */
#ifndef CAIRN_TRANSPORT_INT_H
#define CAIRN_TRANSPORT_INT_H

#include <stddef.h>
#include <stdint.h>

#include <grpc/grpc.h>
#include <grpc/support/time.h>
#include <protobuf-c/protobuf-c.h>

#define ERROR_MD_KEY		"cairn-error-bin"
#define DETAIL_MAX		512

/*
 * No compression, in either direction, on servers and clients alike.  A
 * gzip message of 1 MiB inflates to 1 GiB, and gRPC 1.51 inflates a whole
 * message before any size check (and, on a server, before the handler can
 * authorize the caller).  Only identity is enabled, so gRPC itself cancels
 * a call whose grpc-encoding names another algorithm (UNIMPLEMENTED,
 * "Compression algorithm 'gzip' is disabled.") and tells peers so in
 * grpc-accept-encoding; nothing is sent compressed; and the decompression
 * filter is left out of the channel, so that a compressed message that
 * gets through anyway reaches transport_unpack_bb() still compressed and
 * is refused there, before a byte of it is inflated.
 */
#define NO_COMPRESSION_ARGS \
	{ GRPC_ARG_INTEGER, \
	    GRPC_COMPRESSION_CHANNEL_ENABLED_ALGORITHMS_BITSET, \
	    { .integer = 1 << GRPC_COMPRESS_NONE } }, \
	{ GRPC_ARG_INTEGER, GRPC_COMPRESSION_CHANNEL_DEFAULT_ALGORITHM, \
	    { .integer = GRPC_COMPRESS_NONE } }, \
	{ GRPC_ARG_INTEGER, GRPC_ARG_ENABLE_PER_MESSAGE_DECOMPRESSION, \
	    { .integer = 0 } }

/* A grow-only buffer a worker reuses to join a message's slices: fresh
 * large allocations cost a page fault per page on every message. */
struct transport_scratch {
	uint8_t	*buf;
	size_t	 cap;
};

/* The name of gRPC status 's' ("UNAVAILABLE"); "UNKNOWN" out of range. */
const char	*transport_status_name(grpc_status_code s);

/* The gRPC status a cairn error 'code' is sent as (INTERNAL if unmapped). */
grpc_status_code transport_status_for(int code);

/* The closest cairn error for a status without a cairn detail. */
int		 transport_code_for_status(grpc_status_code s);

/* The cairn error whose short trailer name is 'name', or 0 if none. */
int		 transport_code_for_name(const char *name);

/* The short trailer name of cairn error 'code' ("internal" if unmapped). */
const char	*transport_name_for_code(int code);

/*
 * Re-raise 'code' with 'prefix' before the current detail (copied first:
 * the detail buffer is the one cairn_err() writes).  Returns 'code'.
 */
int		 transport_err_prefix(int code, const char *prefix);

/* The monotonic-clock time 'ms' milliseconds from now. */
gpr_timespec	 transport_deadline_in(int64_t ms);

/*
 * Pack 'msg' straight into a gRPC slice; *out is the caller's on success.
 * Returns CAIRN_ERR_TOOBIG when the packed size exceeds 'max'.
 */
int		 transport_pack_bb(const ProtobufCMessage *msg, size_t max,
		    grpc_byte_buffer **out);

/*
 * Check the size of the received message 'bb' (hostile), refuse it when
 * compressed, then unpack it as 'desc' into *out (the caller frees it
 * with protobuf_c_message_free_unpacked).  'scr', if not NULL, is reused
 * to join a message that arrived in several slices.
 */
int		 transport_unpack_bb(grpc_byte_buffer *bb,
		    const ProtobufCMessageDescriptor *desc, size_t max,
		    struct transport_scratch *scr, ProtobufCMessage **out);

#endif /* CAIRN_TRANSPORT_INT_H */
