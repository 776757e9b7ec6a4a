/*
 * health.c - the method entries of the gRPC health service (health.h).
 * They are not among cairn.proto's methods (proto_method()): their id is
 * PROTO_NMETHODS, which no client table indexes, and any role may call
 * them (the health listener has no client certificates at all).
 */
#include "keys/keys.h"
#include "protocol/health.h"

#define ANY_ROLE	(KEYS_ROLE_BIT(KEYS_ROLE_NODE) | \
	KEYS_ROLE_BIT(KEYS_ROLE_COORDINATOR) | \
	KEYS_ROLE_BIT(KEYS_ROLE_ANALYST) | KEYS_ROLE_BIT(KEYS_ROLE_AUDITOR))

static const struct proto_method_info check = {
	PROTO_NMETHODS, "Check", "/grpc.health.v1.Health/Check", false,
	ANY_ROLE, &grpc__health__v1__health_check_request__descriptor,
	&grpc__health__v1__health_check_response__descriptor,
	PROTO_HEALTH_MAX_REQUEST
};

static const struct proto_method_info watch = {
	PROTO_NMETHODS, "Watch", "/grpc.health.v1.Health/Watch", true,
	ANY_ROLE, &grpc__health__v1__health_check_request__descriptor,
	&grpc__health__v1__health_check_response__descriptor,
	PROTO_HEALTH_MAX_REQUEST
};

const struct proto_method_info *
proto_health_check(void)
{
	return &check;
}

const struct proto_method_info *
proto_health_watch(void)
{
	return &watch;
}
