/*
 * transport_msg.c - what the server and client sides of the transport
 * share: the table that maps cairn error codes to gRPC status codes (and
 * the short names carried in the cairn-error-bin trailer) in both
 * directions, deadlines, and packing and unpacking protobuf messages into
 * gRPC byte buffers with the size checks done before anything is
 * inflated or unpacked.  Nothing here opens a channel or serves a call.
 */
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>

#include "common/bigmem.h"
#include "common/err.h"
#include "protocol/proto_service.h"
#include "protocol/transport.h"
#include "protocol/transport_int.h"

/* ------------------------------------------------------- error mapping */

static const struct {
	int			code;
	const char		*name;
	grpc_status_code	status;
} errmap[] = {
	{ CAIRN_ERR_INTERNAL, "internal", GRPC_STATUS_INTERNAL },
	{ CAIRN_ERR_NOMEM, "nomem", GRPC_STATUS_RESOURCE_EXHAUSTED },
	{ CAIRN_ERR_ARG, "arg", GRPC_STATUS_INVALID_ARGUMENT },
	{ CAIRN_ERR_IO, "io", GRPC_STATUS_INTERNAL },
	{ CAIRN_ERR_FORMAT, "format", GRPC_STATUS_INVALID_ARGUMENT },
	{ CAIRN_ERR_TOOBIG, "toobig", GRPC_STATUS_RESOURCE_EXHAUSTED },
	{ CAIRN_ERR_RANGE, "range", GRPC_STATUS_OUT_OF_RANGE },
	{ CAIRN_ERR_CONFIG, "config", GRPC_STATUS_INTERNAL },
	{ CAIRN_ERR_NOTFOUND, "notfound", GRPC_STATUS_NOT_FOUND },
	{ CAIRN_ERR_EXISTS, "exists", GRPC_STATUS_ALREADY_EXISTS },
	{ CAIRN_ERR_PERM, "perm", GRPC_STATUS_PERMISSION_DENIED },
	{ CAIRN_ERR_SIGNATURE, "signature", GRPC_STATUS_UNAUTHENTICATED },
	{ CAIRN_ERR_PROOF, "proof", GRPC_STATUS_INVALID_ARGUMENT },
	{ CAIRN_ERR_BUDGET, "budget", GRPC_STATUS_FAILED_PRECONDITION },
	{ CAIRN_ERR_POLICY, "policy", GRPC_STATUS_FAILED_PRECONDITION },
	{ CAIRN_ERR_STATE, "state", GRPC_STATUS_FAILED_PRECONDITION },
	{ CAIRN_ERR_CRYPTO, "crypto", GRPC_STATUS_INTERNAL },
	{ CAIRN_ERR_DB, "db", GRPC_STATUS_INTERNAL },
	{ CAIRN_ERR_NET, "net", GRPC_STATUS_UNAVAILABLE },
	{ CAIRN_ERR_TIMEOUT, "timeout", GRPC_STATUS_DEADLINE_EXCEEDED },
	{ CAIRN_ERR_UNAUTH, "unauth", GRPC_STATUS_PERMISSION_DENIED },
	{ CAIRN_ERR_OVERFLOW, "overflow", GRPC_STATUS_OUT_OF_RANGE },
	{ CAIRN_ERR_CONFLICT, "conflict", GRPC_STATUS_ABORTED },
	{ CAIRN_ERR_UNSUPPORTED, "unsupported", GRPC_STATUS_UNIMPLEMENTED },
	{ CAIRN_ERR_CANCELLED, "cancelled", GRPC_STATUS_CANCELLED },
};
#define NERRMAP	(sizeof(errmap) / sizeof(errmap[0]))

static const char *const status_names[] = {
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED",
	"RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
	"OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE",
	"DATA_LOSS", "UNAUTHENTICATED"
};

const char *
transport_status_name(grpc_status_code s)
{
	if ((unsigned)s < sizeof(status_names) / sizeof(status_names[0]))
		return status_names[s];
	return "UNKNOWN";
}

grpc_status_code
transport_status_for(int code)
{
	for (size_t i = 0; i < NERRMAP; i++)
		if (errmap[i].code == code)
			return errmap[i].status;
	return GRPC_STATUS_INTERNAL;
}

int
transport_tune_memory(void)
{
	if (mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024) != 1 ||
	    mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024) != 1)
		return cairn_err(CAIRN_ERR_INTERNAL, "mallopt refused");
	return CAIRN_OK;
}

const char *
transport_status_name_for(int code)
{
	return transport_status_name(code == CAIRN_OK ? GRPC_STATUS_OK :
	    transport_status_for(code));
}

/* A status without a cairn detail maps to the closest cairn error. */
int
transport_code_for_status(grpc_status_code s)
{
	switch (s) {
	case GRPC_STATUS_OK:
		return CAIRN_OK;
	case GRPC_STATUS_CANCELLED:
		return CAIRN_ERR_CANCELLED;
	case GRPC_STATUS_INVALID_ARGUMENT:
		return CAIRN_ERR_FORMAT;
	case GRPC_STATUS_DEADLINE_EXCEEDED:
		return CAIRN_ERR_TIMEOUT;
	case GRPC_STATUS_NOT_FOUND:
		return CAIRN_ERR_NOTFOUND;
	case GRPC_STATUS_ALREADY_EXISTS:
		return CAIRN_ERR_EXISTS;
	case GRPC_STATUS_PERMISSION_DENIED:
	case GRPC_STATUS_UNAUTHENTICATED:
		return CAIRN_ERR_UNAUTH;
	case GRPC_STATUS_RESOURCE_EXHAUSTED:
		return CAIRN_ERR_TOOBIG;
	case GRPC_STATUS_FAILED_PRECONDITION:
		return CAIRN_ERR_STATE;
	case GRPC_STATUS_ABORTED:
		return CAIRN_ERR_CONFLICT;
	case GRPC_STATUS_OUT_OF_RANGE:
		return CAIRN_ERR_RANGE;
	case GRPC_STATUS_UNIMPLEMENTED:
		return CAIRN_ERR_UNSUPPORTED;
	case GRPC_STATUS_UNAVAILABLE:
		return CAIRN_ERR_NET;
	default:
		return CAIRN_ERR_INTERNAL;
	}
}

int
transport_code_for_name(const char *name)
{
	for (size_t i = 0; i < NERRMAP; i++)
		if (strcmp(errmap[i].name, name) == 0)
			return errmap[i].code;
	return 0;
}

const char *
transport_name_for_code(int code)
{
	for (size_t i = 0; i < NERRMAP; i++)
		if (errmap[i].code == code)
			return errmap[i].name;
	return "internal";
}

/* ------------------------------------------------------------ helpers */

/* Re-raise 'code' with 'prefix' before the current detail (copied first:
 * the detail buffer is the one cairn_err() writes). */
int
transport_err_prefix(int code, const char *prefix)
{
	char d[512];

	snprintf(d, sizeof(d), "%s", cairn_errmsg());
	return cairn_err(code, "%s: %s", prefix, d);
}

gpr_timespec
transport_deadline_in(int64_t ms)
{
	return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
	    gpr_time_from_millis(ms, GPR_TIMESPAN));
}

/* Pack 'msg' straight into a gRPC slice. */
int
transport_pack_bb(const ProtobufCMessage *msg, size_t max,
    grpc_byte_buffer **out)
{
	size_t n = protobuf_c_message_get_packed_size(msg);
	grpc_slice s;

	if (n > max)
		return cairn_err(CAIRN_ERR_TOOBIG, "%s of %zu bytes exceeds the "
		    "message limit of %zu", msg->descriptor->short_name, n, max);
	if (n >= BIGMEM_MIN) {
		/* A share chunk: packed into huge pages (common/bigmem.h),
		 * freed by gRPC with free() once sent. */
		void *p = big_alloc(n);

		if (p == NULL)
			return cairn_err(CAIRN_ERR_NOMEM, "packing %s of %zu "
			    "bytes", msg->descriptor->short_name, n);
		s = grpc_slice_new(p, n, free);
	} else
		s = grpc_slice_malloc_large(n);
	if (protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(s)) != n) {
		grpc_slice_unref(s);
		return cairn_err(CAIRN_ERR_INTERNAL, "pack %s",
		    msg->descriptor->short_name);
	}
	*out = grpc_raw_byte_buffer_create(&s, 1);
	grpc_slice_unref(s);
	return CAIRN_OK;
}

/* Join the slices of 'rd' (total 'len' bytes) into s->buf. */
static int
join_slices(grpc_byte_buffer_reader *rd, size_t len,
    struct transport_scratch *s)
{
	grpc_slice x;
	size_t off = 0;

	if (len > s->cap) {
		free(s->buf);
		s->cap = 0;
		if ((s->buf = big_alloc(len)) == NULL)
			return CAIRN_ERR_NOMEM;
		s->cap = len;
	}
	while (grpc_byte_buffer_reader_next(rd, &x)) {
		size_t n = GRPC_SLICE_LENGTH(x);

		if (n > len - off) {
			grpc_slice_unref(x);
			return cairn_err(CAIRN_ERR_INTERNAL, "message grew");
		}
		memcpy(s->buf + off, GRPC_SLICE_START_PTR(x), n);
		off += n;
		grpc_slice_unref(x);
	}
	return off == len ? CAIRN_OK : cairn_err(CAIRN_ERR_INTERNAL,
	    "message shrank");
}

/* Check the size of a received message, then unpack it. */
int
transport_unpack_bb(grpc_byte_buffer *bb,
    const ProtobufCMessageDescriptor *desc, size_t max,
    struct transport_scratch *scr, ProtobufCMessage **out)
{
	grpc_byte_buffer_reader rd;
	grpc_slice a, b, all;
	int r;

	if (bb == NULL)
		return cairn_err(CAIRN_ERR_FORMAT, "no %s message received",
		    desc->short_name);
	/* The reader would inflate it whole: refuse it first. */
	if (bb->type != GRPC_BB_RAW ||
	    bb->data.raw.compression != GRPC_COMPRESS_NONE)
		return cairn_err(CAIRN_ERR_UNSUPPORTED, "%s: compressed "
		    "messages are refused", desc->short_name);
	if (!grpc_byte_buffer_reader_init(&rd, bb))
		return cairn_err(CAIRN_ERR_FORMAT, "%s: cannot decompress",
		    desc->short_name);
	if (!grpc_byte_buffer_reader_next(&rd, &a)) {
		r = proto_unpack(desc, NULL, 0, max, out);
	} else if (!grpc_byte_buffer_reader_next(&rd, &b)) {
		r = proto_unpack(desc, GRPC_SLICE_START_PTR(a),
		    GRPC_SLICE_LENGTH(a), max, out);
		grpc_slice_unref(a);
	} else {
		grpc_slice_unref(a);
		grpc_slice_unref(b);
		grpc_byte_buffer_reader_destroy(&rd);
		if (!grpc_byte_buffer_reader_init(&rd, bb))
			return cairn_err(CAIRN_ERR_FORMAT, "%s: cannot "
			    "decompress", desc->short_name);
		if (scr != NULL && grpc_byte_buffer_length(bb) <= max &&
		    bb->data.raw.compression == GRPC_COMPRESS_NONE) {
			size_t len = grpc_byte_buffer_length(bb);

			if ((r = join_slices(&rd, len, scr)) == CAIRN_OK)
				r = proto_unpack(desc, scr->buf, len, max, out);
		} else {
			all = grpc_byte_buffer_reader_readall(&rd);
			r = proto_unpack(desc, GRPC_SLICE_START_PTR(all),
			    GRPC_SLICE_LENGTH(all), max, out);
			grpc_slice_unref(all);
		}
	}
	grpc_byte_buffer_reader_destroy(&rd);
	return r;
}
