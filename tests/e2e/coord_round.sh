#!/bin/sh
# coord_round.sh - the real cairn-coordinator on loopback, driven by
# tests/e2e/coord_driver.c playing an analyst and three nodes with keys from
# `cairn keys`: a full round (result = plain sum, RELEASE in the log), a
# refusal, an equivocation and retries, a missed deadline, replays and
# wrong callers refused, a crash mid-round (the open attempt fails, the log
# still verifies), a config error naming file:line, a third-party gRPC
# client (@grpc/grpc-js) reading the checkpoint, and a clean SIGTERM stop.
set -u
: "${CAIRN_BIN:?}" "${CAIRN_TOP:?}"
T=$(mktemp -d /tmp/cairn-coord-XXXXXX)
SRV=""
cleanup() {
	if [ -n "$SRV" ]; then
		kill "$SRV" 2>/dev/null
		wait "$SRV" 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT
. "$CAIRN_TOP/tests/e2e/lib/tap.sh"
. "$CAIRN_TOP/tools/federation_lib.sh"
CAIRN="$CAIRN_BIN/cairn"
COORD="$CAIRN_BIN/cairn-coordinator"
DRV="$CAIRN_BIN/coord_driver"

# --- keys: a federation, an analyst, three nodes, an auditor; a rogue
# analyst whose certificate is issued but who is never enrolled.
{ fed_init "$T" coordtest &&
  for who in analyst:analyst node:n1 node:n2 node:n3 auditor:watcher; do
	fed_member "$T" "${who%%:*}" "${who#*:}" || exit 1
  done &&
  "$CAIRN" keys new --role analyst --name rogue --dir "$T/rogue" &&
  "$CAIRN" keys issue --ca "$T/fed" --csr "$T/rogue/tls.csr" \
    --out "$T/rogue/tls.crt" &&
  cp "$T/fed/ca.crt" "$T/rogue/ca.crt"; } >"$T/out" 2>&1 ||
	{ notok "keys"; exit 1; }
ok "keys: federation, analyst, 3 nodes, auditor (cairn keys)"

printf 'region_id,name\n1,north\n2,south\n3,east\n4,west\n' >"$T/g4.csv"
seq 1 600000 | sed 's/$/,r/' >"$T/big.csv"	# 600,001 cells: two chunks
{ FED_ADVERTISE_SECONDS=2 FED_SHARE_SECONDS=20 FED_MAX_ATTEMPTS=4 \
    fed_coordinator_conf "$T" "g4 g4.csv" "big big.csv" >"$T/out" 2>&1; } ||
	{ notok "coordinator.conf and pinned geographies"; exit 1; }

start() {
	fed_start_coordinator "$T" || {
		notok "coordinator starts"; sed 's/^/# /' "$T/coord.log"; exit 1; }
	SRV=$FED_COORD_PID
	PORT=$FED_PORT
}

# --- configuration errors name the file and line
printf '[coordinator]\nidentity_key = x\nbogus = 1\n' >"$T/bad.conf"
if "$COORD" serve -c "$T/bad.conf" >"$T/out" 2>&1; then
	notok "an unknown key is refused"
else
	grep -q "^cairn-coordinator: error: config: .*bad.conf:3: .*bogus" "$T/out" &&
	    ok "an unknown key is refused naming file:line" ||
	    { notok "an unknown key is refused naming file:line"; cat "$T/out"; }
fi
sed 's/^geography = g4 g4.csv/geography = g4 missing.csv/' "$T/coordinator.conf" >"$T/bad2.conf"
if "$COORD" check-config -c "$T/bad2.conf" >"$T/out" 2>&1; then
	notok "a missing region file is refused"
else
	grep -q "bad2.conf:[0-9]*: geography 'g4'.*missing.csv" "$T/out" &&
	    ok "a missing region file is refused naming file:line" ||
	    { notok "a missing region file is refused naming file:line"; cat "$T/out"; }
fi
check "check-config counts the regions" sh -c \
    "'$COORD' check-config -c '$T/coordinator.conf' | grep -q 'g4: 4 regions'"

start
ok "coordinator serves on 127.0.0.1:$PORT"
D() { "$DRV" --dir "$T" --target "127.0.0.1:$PORT" "$@"; }

check "callers, signatures and limits refused with precise statuses" D refusals
check "a full round: released sum = plain sum, RELEASE logged, replay refused" D round q-round
check "a round of 600,001 cells: shares and result in chunks of 2^19" \
    D --geography big --regions 600000 round q-big
check "long polls: PollTask woken by SubmitQuery, GetRoster by the last advertisement" \
    D longpoll q-longpoll
check "a refusal fails the attempt; retries (equivocation, then success)" D refuse q-refuse
check "a missed deadline fails the attempt" D deadline q-deadline
check "bad arguments, wrong vector length, bad digest, bad check cell" D checks q-checks
check "an attempt left open mid-round" D open q-open "$T/state"

# --- crash and restart: the open attempt fails, the log still verifies
kill -KILL "$SRV"; wait "$SRV" 2>/dev/null; SRV=""
start
check "after a crash: FAILURE 'coordinator restarted', log consistent" \
    D after-restart q-open "$T/state"
grep -q "coordinator restarted" "$T/coord.log" &&
    ok "the restart is reported in the coordinator's log" ||
    notok "the restart is reported in the coordinator's log"
"$COORD" status -c "$T/coordinator.conf" >"$T/status" 2>&1
if grep -q 'queries released: 4' "$T/status" &&
    grep -q 'queries failed: 3' "$T/status" &&
    grep -q 'equivocation evidence kept: 1' "$T/status"; then
	ok "status reports the queries, the log and the evidence kept"
else
	notok "status reports the queries, the log and the evidence kept"; sed 's/^/# /' "$T/status"
fi

# --- after the restart, the chain of each node's logged spend was read
# back from the log: a charge that does not continue it is refused
check "after the restart: a charge not continuing the logged spend is refused" \
    D chain q-chain

# --- a third-party gRPC client reads the checkpoint (npm cached in build/)
ND="$CAIRN_TOP/build/interop-node"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	notok "node and npm are installed (apt-get install nodejs npm)"
else
	mkdir -p "$ND"
	if ! cmp -s "$CAIRN_TOP/tests/e2e/interop/package.json" "$ND/package.json" ||
	    [ ! -d "$ND/node_modules/@grpc/grpc-js" ] ||
	    [ ! -d "$ND/node_modules/@grpc/proto-loader" ]; then
		cp "$CAIRN_TOP/tests/e2e/interop/package.json" "$ND/package.json"
		(cd "$ND" && npm install --no-audit --no-fund --loglevel=error) \
		    >"$T/npm.log" 2>&1 || rm -f "$ND/package.json"
	fi
	if NODE_PATH="$ND/node_modules" node "$CAIRN_TOP/tests/e2e/interop/client.js" \
	    "$CAIRN_TOP/protocol/cairn.proto" "127.0.0.1:$PORT" "$T/watcher" \
	    checkpoint >"$T/out" 2>&1 && grep -q '^cairn/coordtest$' "$T/out"; then
		ok "@grpc/grpc-js GetCheckpoint on the coordinator (auditor)"
	else
		notok "@grpc/grpc-js GetCheckpoint on the coordinator (auditor)"
		sed 's/^/# /' "$T/out" "$T/npm.log" 2>/dev/null | tail -20
	fi
fi

# --- graceful stop
kill -TERM "$SRV"
if wait "$SRV"; then ok "coordinator stops cleanly on SIGTERM"
else notok "coordinator stops cleanly on SIGTERM"; sed 's/^/# /' "$T/coord.log"; fi
SRV=""
if grep -Eq 'noise|x_i' "$T/coord.log"; then
	notok "the coordinator's log holds no values"
else
	ok "the coordinator's log holds no values"
fi
[ "$fails" -eq 0 ]
