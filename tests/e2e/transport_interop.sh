#!/bin/sh
# transport_interop.sh - a third-party gRPC client (Node.js @grpc/grpc-js and
# @grpc/proto-loader, installed from npm into build/interop-node and reused)
# calls a cairn server over mutual TLS with protocol/cairn.proto.  The
# server is tests/e2e/transport_server.c on the real transport module; the
# keys come from `cairn keys`.  If npm or node is missing or unreachable the
# test fails: interoperability is a requirement, not an option.
set -u
: "${CAIRN_BIN:?}" "${CAIRN_TOP:?}"
T=$(mktemp -d /tmp/cairn-interop-XXXXXX)
SRV=""
cleanup() {
	[ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
. "$CAIRN_TOP/tests/e2e/lib/tap.sh"
CAIRN="$CAIRN_BIN/cairn"

# --- keys: a federation, an auditor and an analyst
check "init-federation" "$CAIRN" keys init-federation --name interop --dir "$T/fed"
for who in auditor:watcher analyst:stats; do
	role=${who%%:*}; name=${who#*:}
	check "keys new $role" "$CAIRN" keys new --role "$role" --name "$name" --dir "$T/$role"
	check "keys issue $role" "$CAIRN" keys issue --ca "$T/fed" --csr "$T/$role/tls.csr" --out "$T/$role/tls.crt"
	cp "$T/fed/ca.crt" "$T/$role/ca.crt"
done

# --- the server
"$CAIRN_BIN/transport_server" --dir "$T/fed/coordinator" --port-file "$T/port" \
    >"$T/server.log" 2>&1 &
SRV=$!
i=0
while [ ! -s "$T/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if [ ! -s "$T/port" ]; then
	notok "server starts"; cat "$T/server.log"; exit 1
fi
ok "server starts"
PORT=$(cat "$T/port")
if "$CAIRN_BIN/transport_server" --dir "$T/fed/coordinator" \
    --listen "127.0.0.1:$PORT" >"$T/second.log" 2>&1; then
	notok "a second server on the same port is refused"
else
	ok "a second server on the same port is refused"
fi

# --- the Node.js client, installed once into build/interop-node
ND="$CAIRN_TOP/build/interop-node"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	notok "node and npm are installed (apt-get install nodejs npm)"
	exit 1
fi
mkdir -p "$ND"
if ! cmp -s "$CAIRN_TOP/tests/e2e/interop/package.json" "$ND/package.json" ||
    [ ! -d "$ND/node_modules/@grpc/grpc-js" ] ||
    [ ! -d "$ND/node_modules/@grpc/proto-loader" ]; then
	cp "$CAIRN_TOP/tests/e2e/interop/package.json" "$ND/package.json"
	if ! (cd "$ND" && npm install --no-audit --no-fund --loglevel=error) \
	    >"$T/npm.log" 2>&1; then
		notok "npm install @grpc/grpc-js @grpc/proto-loader"
		sed 's/^/# /' "$T/npm.log" | tail -20
		rm -f "$ND/package.json"
		exit 1
	fi
fi
ok "npm packages @grpc/grpc-js and @grpc/proto-loader available"

JS="$CAIRN_TOP/tests/e2e/interop/client.js"
PROTO="$CAIRN_TOP/protocol/cairn.proto"
node_client() { NODE_PATH="$ND/node_modules" node "$JS" "$PROTO" "127.0.0.1:$PORT" "$@"; }

check "node GetCheckpoint over mTLS (auditor)" node_client "$T/auditor" checkpoint
grep -q '^cairn.test/log$' "$T/out" && ok "checkpoint text received intact" ||
	notok "checkpoint text received intact"
check "node SubmitQuery (analyst)" node_client "$T/analyst" submit
check "node SubmitQuery as auditor is PERMISSION_DENIED" node_client "$T/auditor" denied
check "node without a client certificate is refused" node_client "$T/auditor" nocert
check "node call without a deadline is INVALID_ARGUMENT" node_client "$T/auditor" nodeadline

# --- graceful stop
kill -TERM "$SRV"
if wait "$SRV"; then ok "server stops cleanly on SIGTERM"; else notok "server stops cleanly on SIGTERM"; cat "$T/server.log"; fi
SRV=""
tap_done
