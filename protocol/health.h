/*
 * health.h - the standard gRPC health service (grpc.health.v1.Health,
 * protocol/health.proto, vendored from grpc-proto) as method entries the
 * transport can serve: Check (unary) and Watch (server streaming).  The
 * coordinator serves them on its plaintext loopback health listener
 * (docs/operations.md, "Health"); its member port does not serve them.
 */
#ifndef CAIRN_PROTOCOL_HEALTH_H
#define CAIRN_PROTOCOL_HEALTH_H

#include "protocol/health.pb-c.h"
#include "protocol/proto_service.h"

/* Longest request accepted (a service name). */
#define PROTO_HEALTH_MAX_REQUEST	1024

/* The entries of /grpc.health.v1.Health/Check and /Watch (static). */
const struct proto_method_info *proto_health_check(void);
const struct proto_method_info *proto_health_watch(void);

#endif
