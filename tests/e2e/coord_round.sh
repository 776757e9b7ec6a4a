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
n=0
fails=0
cleanup() {
	if [ -n "$SRV" ]; then
		kill "$SRV" 2>/dev/null
		wait "$SRV" 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { # description command...
	d=$1; shift
	if "$@" >"$T/out" 2>&1; then ok "$d"; sed 's/^/# /' "$T/out"
	else notok "$d"; sed 's/^/# /' "$T/out"; fi
}
CAIRN="$CAIRN_BIN/cairn"
COORD="$CAIRN_BIN/cairn-coordinator"
DRV="$CAIRN_BIN/coord_driver"

# --- keys: a federation, an analyst, three nodes, an auditor; a rogue
# analyst whose certificate is issued but who is never enrolled.
"$CAIRN" keys init-federation --name coordtest --dir "$T/fed" >"$T/out" 2>&1 ||
	{ notok "init-federation"; cat "$T/out"; exit 1; }
for who in analyst:analyst node:n1 node:n2 node:n3 auditor:watcher analyst:rogue; do
	role=${who%%:*}; name=${who#*:}
	{ "$CAIRN" keys new --role "$role" --name "$name" --dir "$T/$name" &&
	  "$CAIRN" keys issue --ca "$T/fed" --csr "$T/$name/tls.csr" \
	    --out "$T/$name/tls.crt" &&
	  cp "$T/fed/ca.crt" "$T/$name/ca.crt" &&
	  if [ "$name" != rogue ]; then
		"$CAIRN" keys add-member --ca "$T/fed" --pub "$T/$name/identity.pub" \
		    --cert "$T/$name/tls.crt"
	  fi; } >"$T/out" 2>&1 || { notok "keys for $name"; cat "$T/out"; exit 1; }
done
ok "keys: federation, analyst, 3 nodes, auditor (cairn keys)"

printf 'region_id,name\n1,north\n2,south\n3,east\n4,west\n' >"$T/g4.csv"
seq 1 600000 | sed 's/$/,r/' >"$T/big.csv"	# 600,001 cells: two chunks
for g in g4 big; do	# federation.conf pins each geography by hash
	"$CAIRN" keys pin-geography --ca "$T/fed" --name $g --regions "$T/$g.csv" \
	    >"$T/out" 2>&1 || { notok "pin-geography $g"; cat "$T/out"; exit 1; }
done
mkdir -p "$T/data"
cat >"$T/coordinator.conf" <<EOF
[coordinator]
identity_key = $T/fed/coordinator/identity.key
tls_key = $T/fed/coordinator/tls.key
tls_cert = $T/fed/coordinator/tls.crt
ca_cert = $T/fed/ca.crt
federation = $T/fed/federation.conf
data_dir = $T/data
listen = 127.0.0.1:0
port_file = $T/port

[deadlines]
advertise_seconds = 2
share_seconds = 20

[limits]
max_rho_per_query = 1
max_participants = 8
max_attempts = 4

[geographies]
geography = g4 g4.csv
geography = big big.csv
EOF

start() {
	rm -f "$T/port"
	"$COORD" serve -c "$T/coordinator.conf" >>"$T/coord.log" 2>&1 &
	SRV=$!
	i=0
	while [ ! -s "$T/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	if [ ! -s "$T/port" ]; then
		notok "coordinator starts"; sed 's/^/# /' "$T/coord.log"; exit 1
	fi
	PORT=$(cat "$T/port")
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
