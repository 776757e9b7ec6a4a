#!/bin/sh
# health_grpc.sh - issue #16 item 4: the coordinator's standard gRPC health
# service (grpc.health.v1.Health) on its plaintext loopback health
# listener, probed with grpc-js (installed by npm under the build folder):
# Check answers SERVING for "" and "cairn.v1.Coordinator" and NOT_FOUND for
# another service; Watch sends the current status at once, NOT_SERVING
# when the data folder goes away and SERVING when it is back, and
# SERVICE_UNKNOWN (without ending) for another service; the member port
# does not serve health; a health_listen off the loopback is refused.
set -u
: "${CAIRN_BIN:?}" "${CAIRN_TOP:?}"
T=$(mktemp -d /tmp/cairn-health-XXXXXX)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	[ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
C="$CAIRN_BIN/cairn"
. "$CAIRN_TOP/tests/e2e/lib/tap.sh"
. "$CAIRN_TOP/tests/e2e/lib/npm_deps.sh"
. "$CAIRN_TOP/tools/federation_lib.sh"
CAIRN=$C
NPM_DIR="$CAIRN_BIN/../npm"
export CAIRN_TOP

if npm_deps "$NPM_DIR"; then ok "grpc-js and proto-loader installed in $NPM_DIR"
else cp "$NPM_DIR/npm.log" "$T/out"; notok "npm install of grpc-js"; exit 1; fi
export NODE_PATH="$NPM_DIR/node_modules"
probe() { node "$CAIRN_TOP/tests/e2e/health/probe.js" "$@"; }

{ fed_init "$T" healthtest; } >"$T/out" 2>&1 || { notok "keys"; exit 1; }
printf 'region_id,name\n1,north\n' >"$T/g1.csv"
fed_coordinator_conf "$T" "g1 g1.csv" >"$T/out" 2>&1 || { notok "coordinator.conf"; exit 1; }
cp "$T/coordinator.conf" "$T/base.conf"
cat >>"$T/coordinator.conf" <<CONF
[monitoring]
health_listen = 127.0.0.1:0
health_port_file = $T/health.port
CONF
fed_start_coordinator "$T" ||
	{ cp "$T/coord.log" "$T/out"; notok "coordinator started"; exit 1; }
PIDS="$FED_COORD_PID"
i=0; while [ $i -lt 100 ] && [ ! -s "$T/health.port" ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$T/health.port" ] && ok "coordinator: members on $FED_PORT, health on $(cat "$T/health.port")" ||
	{ cp "$T/coord.log" "$T/out"; notok "health port file"; exit 1; }
H="127.0.0.1:$(cat "$T/health.port")"

check "Check \"\" answers" probe check "$H" ""
has "Check \"\": SERVING" "^SERVING$"
check "Check cairn.v1.Coordinator answers" probe check "$H" cairn.v1.Coordinator
has "Check cairn.v1.Coordinator: SERVING" "^SERVING$"
check "Check of another service answers" probe check "$H" no.such.Service
has "Check of another service: NOT_FOUND" "^error NOT_FOUND$"

probe watch "$H" "" 3 >"$T/watch" 2>&1 &
WP=$!
PIDS="$PIDS $WP"
i=0; while [ $i -lt 100 ] && ! grep -q . "$T/watch"; do sleep 0.1; i=$((i + 1)); done
cp "$T/watch" "$T/out"
has "Watch: the current status at once (SERVING)" "^SERVING$"
mv "$T/coord" "$T/coord.away"
i=0; while [ $i -lt 200 ] && ! grep -q NOT_SERVING "$T/watch"; do sleep 0.1; i=$((i + 1)); done
cp "$T/watch" "$T/out"
has "Watch: NOT_SERVING once the data folder is gone" "^NOT_SERVING$"
probe check "$H" "" >"$T/out" 2>&1
has "Check meanwhile: NOT_SERVING" "^NOT_SERVING$"
mv "$T/coord.away" "$T/coord"
if wait "$WP"; then ok "Watch: ended after its third message"; else notok "Watch: ended after its third message"; fi
PIDS="$FED_COORD_PID"
[ "$(tr '\n' ' ' <"$T/watch")" = "SERVING NOT_SERVING SERVING " ] &&
    ok "Watch: SERVING, NOT_SERVING, SERVING again" ||
	{ cp "$T/watch" "$T/out"; notok "Watch: SERVING, NOT_SERVING, SERVING again"; }
check "Watch of another service answers" \
    probe watch "$H" no.such.Service 1
has "Watch of another service: SERVICE_UNKNOWN" "^SERVICE_UNKNOWN$"

# The member port (mutual TLS) is not the health port: a probe without a
# client certificate cannot even finish the handshake there.
probe check "127.0.0.1:$FED_PORT" "" >"$T/out" 2>&1
has "the member port does not answer a plaintext probe" "^error UNAVAILABLE$"

# A Watch still open when the coordinator stops is ended (the prober then
# retries with backoff), and does not hold up the stop.
probe watch "$H" "" 5 >"$T/watch2" 2>&1 &
WP=$!
i=0; while [ $i -lt 100 ] && ! grep -q . "$T/watch2"; do sleep 0.1; i=$((i + 1)); done
kill -TERM "$FED_COORD_PID"; wait "$FED_COORD_PID"; rc=$?
PIDS=""
[ $rc -eq 0 ] && ok "coordinator stops cleanly with a Watch open" ||
	notok "coordinator stops cleanly with a Watch open (rc $rc)"
wait "$WP"; rc=$?
cp "$T/watch2" "$T/out"
[ $rc -eq 1 ] && grep -q "^error " "$T/watch2" &&
    ok "the open Watch ended with an error status ($(tail -1 "$T/watch2"))" ||
	notok "the open Watch ended with an error status"

cp "$T/base.conf" "$T/coordinator.conf"
printf '[monitoring]\nhealth_listen = 0.0.0.0:0\n' >>"$T/coordinator.conf"
fails_with "health_listen off the loopback is refused" \
    "plaintext listener must be on the loopback" \
    "$CAIRN_BIN/cairn-coordinator" serve -c "$T/coordinator.conf"
cp "$T/base.conf" "$T/coordinator.conf"
printf '[monitoring]\nhealth_listen = somewhere\n' >>"$T/coordinator.conf"
fails_with "a bad health_listen names the file and key" \
    "coordinator.conf: key 'health_listen' in \[monitoring\]" \
    "$CAIRN_BIN/cairn-coordinator" check-config -c "$T/coordinator.conf"

echo "1..$n"
[ "$fails" -eq 0 ]
