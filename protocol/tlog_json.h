/*
 * tlog_json.h - the JSON rendering of a log entry, version 1
 * (docs/tlog.md, "JSON rendering"), written beside the entry bundles of
 * the public directory so that anyone can read the log without cairn.
 *
 * One object per entry: "json_version" 1, the entry's index, its exact
 * leaf bytes in base64 ("entry") and leaf hash, then every field of the
 * entry's type, and the protobuf body decoded field by field (names as in
 * protocol/cairn.proto; 64-bit integers as decimal strings, bytes as
 * base64, enums by name, as the proto3 JSON mapping does).  The rendering
 * is a view: the leaf bytes are what the log proves.
 */
#ifndef CAIRN_TLOG_JSON_H
#define CAIRN_TLOG_JSON_H

#include <stddef.h>
#include <stdint.h>

#define TLOG_JSON_VERSION	1

/*
 * Render entry 'index' ('len' bytes of 'data', hostile) as one JSON
 * object and a final LF in a new NUL-terminated buffer '*out' ('*olen'
 * bytes without the NUL; caller frees).  A body that does not decode as
 * its type's message is rendered as base64 only, with "body_error"
 * saying why.  Returns CAIRN_OK, CAIRN_ERR_NOMEM, or the error of
 * tlog_entry_decode() for bytes that are not an entry.
 */
int	tlog_entry_json(uint64_t index, const uint8_t *data, size_t len,
	    char **out, size_t *olen) __attribute__((warn_unused_result));

#endif
