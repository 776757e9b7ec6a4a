#!/bin/sh
# include_rules.sh - the module graph of docs/architecture.md holds: roles
# do not include one another, foundations include no role, only protocol/
# includes gRPC, only keys/ signs with a long-term key, no header circle
# (tests/e2e/include_rules.py).  Negative controls: a small tree with one
# violation of each rule must be refused, naming the file and the rule.
set -u
TOP=${CAIRN_TOP:-.}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$TOP/tests/e2e/lib/tap.sh"
PY="$TOP/tests/e2e/include_rules.py"

check "the tree follows the include rules" python3 "$PY" "$TOP"

# One violation at a time in a tree of its own.
mk() {
	rm -rf "$T/tree"
	mkdir -p "$T/tree/common" "$T/tree/keys" "$T/tree/protocol" \
	    "$T/tree/node/engine" "$T/tree/query" "$T/tree/audit"
	printf '#include "common/err.h"\n' >"$T/tree/keys/keys.c"
	: >"$T/tree/common/err.h"
}
refused() {
	if python3 "$PY" "$T/tree" >"$T/out" 2>&1; then
		notok "$1 (accepted)"
	elif grep -q -- "$2" "$T/out"; then
		ok "$1"
	else
		notok "$1 (no '$2')"
	fi
}
mk
printf '#include "query/query.h"\n' >"$T/tree/audit/verify.c"
refused "a role including a role is refused" \
    'audit/verify.c:1: includes "query/query.h": audit/ and query/ are side by side'
mk
printf '#include "node/node.h"\n' >"$T/tree/protocol/qspec.c"
refused "a foundation including a role is refused" \
    'protocol/qspec.c:1: includes "node/node.h": protocol/ (level 2) may not include node/'
mk
printf '#include "node/daemon_int.h"\n' >"$T/tree/node/engine/engine.c"
refused "node/engine/ including the rest of node/ is refused" \
    'node/engine/engine.c:1: .*node/engine/ includes nothing of the rest'
mk
printf '#include <grpc/grpc.h>\n' >"$T/tree/node/daemon.c"
refused "gRPC outside protocol/ is refused" \
    'node/daemon.c:1: includes <grpc/grpc.h>: only protocol/'
mk
printf 'int f(void) { return crypto_sign_detached(s, 0, m, n, sk); }\n' \
    >"$T/tree/query/sign.c"
refused "signing outside keys/ is refused" \
    'query/sign.c:1: calls crypto_sign_detached: only keys/'
mk
printf 'int f(void) { return crypto_sign_verify_detached(s, m, n, pk); }\n' \
    >"$T/tree/query/sign.c"
check "verifying outside keys/ is allowed" python3 "$PY" "$T/tree"
mk
printf '#include "protocol/b.h"\n' >"$T/tree/protocol/a.h"
printf '#include "protocol/a.h"\n' >"$T/tree/protocol/b.h"
refused "an include circle is refused" \
    'include circle: protocol/a.h -> protocol/b.h -> protocol/a.h'
tap_done
