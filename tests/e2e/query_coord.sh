#!/bin/sh
# query_coord.sh - `cairn query` and `cairn audit verify` against the real
# cairn-coordinator on loopback: tests/e2e/coord_driver.c plays three
# nodes through one full round (q-round); then the analyst client reads
# its status and labelled result, submits its own query (which fails on
# its deadline: no node answers it), and the auditor verifies the whole
# log online with a state file (3 witness cosignatures), again after it
# grew, and offline from `cairn audit fetch`.
set -u
: "${CAIRN_BIN:?}" "${CAIRN_TOP:?}"
T=$(mktemp -d /tmp/cairn-qcoord-XXXXXX)
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
# The failures below show their own files; tap.sh's notok shows none.
TAP_SHOW=" "
# check_out DESC NEEDLE CMD...: exit 0 and NEEDLE (a grep -E pattern) in
# stdout (tap.sh's check takes no needle).
check_out() {
	d=$1; p=$2; shift 2
	if "$@" >"$T/out" 2>"$T/err" && grep -Eq -- "$p" "$T/out"; then
		ok "$d"
	else
		notok "$d"; sed 's/^/# /' "$T/out" "$T/err"
	fi
}
CAIRN="$CAIRN_BIN/cairn"

"$CAIRN" keys init-federation --name qcoord --dir "$T/fed" >"$T/out" 2>&1 ||
	{ notok "init-federation"; cat "$T/out"; exit 1; }
for who in analyst:analyst node:n1 node:n2 node:n3 auditor:watcher \
    analyst:rogue; do
	role=${who%%:*}; name=${who#*:}
	{ "$CAIRN" keys new --role "$role" --name "$name" --dir "$T/$name" &&
	  "$CAIRN" keys issue --ca "$T/fed" --csr "$T/$name/tls.csr" \
	    --out "$T/$name/tls.crt" &&
	  cp "$T/fed/ca.crt" "$T/$name/ca.crt" &&
	  if [ "$name" != rogue ]; then
		"$CAIRN" keys add-member --ca "$T/fed" \
		    --pub "$T/$name/identity.pub" --cert "$T/$name/tls.crt"
	  fi; } >"$T/out" 2>&1 ||
	    { notok "keys for $name"; cat "$T/out"; exit 1; }
done
ok "keys: federation, analyst, 3 nodes, auditor (cairn keys)"

printf 'region_id,name\n1,north\n2,south\n3,east\n4,west\n' >"$T/g4.csv"
"$CAIRN" keys pin-geography --ca "$T/fed" --name g4 --regions "$T/g4.csv" \
    >"$T/out" 2>&1 || { notok "pin-geography"; cat "$T/out"; exit 1; }
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

[geographies]
geography = g4 g4.csv
EOF
"$CAIRN_BIN/cairn-coordinator" serve -c "$T/coordinator.conf" \
    >>"$T/coord.log" 2>&1 &
SRV=$!
i=0
while [ ! -s "$T/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$T/port" ] || { notok "coordinator starts"; cat "$T/coord.log"; exit 1; }
PORT=$(cat "$T/port")
ok "coordinator serves on 127.0.0.1:$PORT"

check_out "three nodes run a round (coord_driver)" "" \
    "$CAIRN_BIN/coord_driver" --dir "$T" --target "127.0.0.1:$PORT" \
    round q-round

cat >"$T/analyst.conf" <<EOF
[analyst]
identity_key = $T/analyst/identity.key
tls_key = $T/analyst/tls.key
tls_cert = $T/analyst/tls.crt
ca_cert = $T/analyst/ca.crt
coordinator = 127.0.0.1:$PORT
federation = $T/fed/federation.conf
EOF
A="--coordinator 127.0.0.1:$PORT --ca $T/watcher/ca.crt
    --tls-cert $T/watcher/tls.crt --tls-key $T/watcher/tls.key
    --federation $T/fed/federation.conf"

# The log opens with one MEMBER entry per member of federation.conf.
M=$(grep -c '^member' "$T/fed/federation.conf")
# shellcheck disable=SC2086
check_out "audit verify: the round's log, 3 witnesses, state kept" \
    "^ok: log size $((M + 5)), 3 witness cosignatures; 1 queries, 3 charges .* 1 releases" \
    "$CAIRN" audit verify $A --state "$T/audit.state" --quorum 3
check_out "query status: released" "^q-round released attempt 0 log-index $M$" \
    sh -c "\"$CAIRN\" query status --config \"$T/analyst.conf\" q-round"
check_out "query list" "^q-round released" \
    "$CAIRN" query list --config "$T/analyst.conf"
check_out "query result: 4 labelled cells with rho, epsilon, intervals" \
    "^# rho 0.5 per data-month = \(epsilon 5.22" \
    "$CAIRN" query result --config "$T/analyst.conf" q-round \
    --regions "$T/g4.csv" --output /dev/stdout
"$CAIRN" query result --config "$T/analyst.conf" q-round \
    --regions "$T/g4.csv" >"$T/r.csv" 2>"$T/err"
if [ "$(grep -c '^[1-4],' "$T/r.csv")" -eq 4 ] &&
    grep -q '^region,region_name,value,ci95_low,ci95_high$' "$T/r.csv" &&
    grep -q '^2,south,' "$T/r.csv" &&
    awk -F, '/^[1-4],/ { if ($3 - $4 != $5 - $3 || $3 <= $4) bad = 1 }
    END { exit bad }' "$T/r.csv"; then
	ok "every cell: region id and name, value inside its interval"
else
	notok "every cell: region id and name, value inside its interval"
	sed 's/^/# /' "$T/r.csv" "$T/err"
fi
check_out "query result --format json" '"cells": \[' \
    "$CAIRN" query result --config "$T/analyst.conf" q-round \
    --regions "$T/g4.csv" --format json

check_out "query submit: logged" "^q-mine log-index $((M + 5))$" \
    "$CAIRN" query submit --config "$T/analyst.conf" --kind residents \
    --start 2026-01-05 --end 2026-01-08 --geography g4 --rho 0.1 \
    --purpose "e2e of the analyst client" --participants n1,n2,n3 \
    --colluding 1 --id q-mine
out=$("$CAIRN" query submit --config "$T/analyst.conf" --kind residents \
    --start 2026-01-05 --end 2026-01-08 --geography g4 --rho 0.1 \
    --purpose again --participants n1,n2,n3 --colluding 1 --id q-mine \
    2>&1)
if [ $? -eq 1 ] && [ "$(echo "$out" | wc -l)" -eq 1 ] &&
    echo "$out" | grep -q "^cairn query: error: submit: .*ALREADY_EXISTS"
then ok "a reused id is one error line"; else
	notok "a reused id is one error line ($out)"; fi
out=$("$CAIRN" query submit --config "$T/analyst.conf" --kind residents \
    --start 2026-01-05 --end 2026-01-08 --geography nope --rho 0.1 \
    --purpose p --participants n1,n2 --colluding 1 2>&1)
if [ $? -eq 1 ] && echo "$out" | grep -q "^cairn query: error: submit: "
then ok "an unknown geography is refused"; else
	notok "an unknown geography is refused ($out)"; fi
"$CAIRN" query wait --config "$T/analyst.conf" q-mine --timeout 30 \
    >"$T/out" 2>"$T/err"
if [ $? -eq 1 ] && grep -q "^q-mine failed" "$T/out" &&
    grep -q "^  failure: .*deadline" "$T/out" &&
    grep -q "^cairn query: error: wait: query 'q-mine' failed$" "$T/err"
then ok "query wait: no node answered, the deadline failed it"; else
	notok "query wait: no node answered, the deadline failed it"
	sed 's/^/# /' "$T/out" "$T/err"; fi

# No node runs after coord_driver's round, so nobody witnesses the grown
# log: what is checked here is its consistency with the state, and the
# witness quorum (by default a majority of the 3 nodes) is waived.
# shellcheck disable=SC2086
check_out "audit verify: the grown log is consistent with the state" \
    "^ok: log size $((M + 7)), .* 2 queries, 3 charges .* 1 failures" \
    "$CAIRN" audit verify $A --state "$T/audit.state" --quorum 0
# shellcheck disable=SC2086
check_out "audit fetch" "^fetched $((M + 7)) entries$" \
    "$CAIRN" audit fetch --coordinator "127.0.0.1:$PORT" \
    --ca "$T/watcher/ca.crt" --tls-cert "$T/watcher/tls.crt" \
    --tls-key "$T/watcher/tls.key" --federation "$T/fed/federation.conf" \
    --entries "$T/log.hex" --checkpoint "$T/cp.note"
check_out "audit verify offline" "^ok: log size $((M + 7))" \
    "$CAIRN" audit verify --federation "$T/fed/federation.conf" \
    --entries "$T/log.hex" --checkpoint "$T/cp.note" \
    --state "$T/audit.state" --quorum 0
head -n $((M + 6)) "$T/log.hex" >"$T/short.hex"
"$CAIRN" audit verify --federation "$T/fed/federation.conf" \
    --entries "$T/short.hex" --checkpoint "$T/cp.note" >"$T/out" 2>&1
if [ $? -eq 1 ] && grep -q "^FAIL entries: $((M + 6)) given, the checkpoint covers $((M + 7))$" "$T/out"
then ok "a missing entry is found"; else
	notok "a missing entry is found"; sed 's/^/# /' "$T/out"; fi

kill -TERM "$SRV"
wait "$SRV" 2>/dev/null
SRV=""
echo "1..$n"
tap_done
