#!/bin/sh
# node_round.sh - two real `cairn-node serve` processes and the real
# cairn-coordinator on loopback: a presence query is released with values
# near the exact sum; each node's ledger holds one charge, closed once the
# RELEASE is logged, with its CHARGE entry's log index; a second query
# over the budget is refused with a signed REFUSAL; a node killed (SIGKILL)
# right after charging and restarted lets the query complete (in the same
# attempt or a retry) without a second charge; `cairn audit verify`
# checks the log, the nodes' witness cosignatures and each node's ledger
# export against it; nodes stop cleanly on SIGTERM.
set -u
: "${CAIRN_BIN:?}"
T=$(mktemp -d /tmp/cairn-node-round-XXXXXX)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	[ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
C="$CAIRN_BIN/cairn"
N="$CAIRN_BIN/cairn-node"
CO="$CAIRN_BIN/cairn-coordinator"
A="$CAIRN_BIN/node_e2e_analyst"
. "$CAIRN_TOP/tests/e2e/lib/tap.sh"
. "$CAIRN_TOP/tools/federation_lib.sh"
CAIRN=$C

{ fed_init "$T" nodetest &&
  fed_member "$T" analyst analyst && fed_member "$T" node n1 &&
  fed_member "$T" node n2; } >"$T/out" 2>&1 || { notok "keys"; exit 1; }
ok "keys for the coordinator, an analyst and two nodes"

printf 'region_id,name\n1,north\n2,south\n3,east\n4,west\n' >"$T/g4.csv"
printf 'cell_id,region_id\nc1,1\nc2,2\nc3,3\nc4,4\n' >"$T/cells.csv"
# Exact presence on 2026-01-10 over both nodes: 3, 1, 1, 0.
printf 'subscriber_id,timestamp,cell_id\ns1,2026-01-10T08:00:00Z,c1\ns2,2026-01-10T09:00:00Z,c1\ns3,2026-01-10T10:00:00Z,c2\ns4,2026-01-12T10:00:00Z,c4\n' >"$T/n1.csv"
printf 'subscriber_id,timestamp,cell_id\nt1,2026-01-10T08:00:00Z,c3\nt2,2026-01-10T12:00:00Z,c1\n' >"$T/n2.csv"
FED_ADVERTISE_SECONDS=8 FED_SHARE_SECONDS=8 \
    fed_coordinator_conf "$T" "g4 g4.csv" >"$T/out" 2>&1 ||
	{ notok "coordinator.conf, geography pinned"; exit 1; }
fed_start_coordinator "$T" ||
	{ cp "$T/coord.log" "$T/out"; notok "coordinator started"; exit 1; }
PIDS="$FED_COORD_PID"
PORT=$FED_PORT
ok "coordinator listening on $PORT"

for m in n1 n2; do
	FED_CALL_DEADLINE=5 fed_node_conf "$T" $m "$T/$m.csv" "$T/cells.csv" g4 <<CONF
allow_kind = presence
allow_analyst = analyst
budget_rho_per_month = 0.48
max_rho_per_query = 0.48
CONF
	CAIRN_LOG=info "$N" serve -c "$T/$m.conf" >"$T/$m.log" 2>&1 &
	PIDS="$PIDS $!"
	eval "PID_$m=$!"
done

if "$A" --dir "$T" --target "127.0.0.1:$PORT" --id q1 --participants n1,n2 \
    --rho 0.48 >"$T/out" 2>&1; then ok "q1 released"; else
	notok "q1 released"; cat "$T/n1.log" "$T/n2.log" "$T/coord.log" | sed 's/^/# /'; fi
# Noise variance 8 (two nodes at sigma_h^2 = 4): 30 is over 10 sd.
awk 'BEGIN { e[0] = 3; e[1] = 1; e[2] = 1; e[3] = 0; bad = 0; cells = 0 }
    $1 == "cell" { cells++; d = $3 - e[$2]; if (d < -30 || d > 30) bad = 1 }
    END { exit (bad || cells != 4) }' "$T/out" && ok "released values near the exact sums" ||
	notok "released values near the exact sums"
has "released variance is the sum of the nodes' sigma_h^2" "variance 8"

# Each node sees the RELEASE in the log and closes its round.
for m in n1 n2; do
	i=0
	while [ $i -lt 100 ]; do
		"$N" ledger show -c "$T/$m.conf" >"$T/out" 2>&1
		grep -q "closed" "$T/out" && break
		sleep 0.1; i=$((i + 1))
	done
	has "$m: ledger charge closed after the release" "closed"
	"$N" ledger export -c "$T/$m.conf" >"$T/out" 2>&1
	has "$m: export names q1" '"query_id":"q1"'
	has "$m: export has the CHARGE log index" '"log_index":[0-9]'
	[ "$(wc -l <"$T/out")" -eq 1 ] && ok "$m: exactly one charge" || notok "$m: exactly one charge"
done

# Each month pays its rho_m (dp_requirement, docs/privacy.md): presence over
# one day of January, 2 honest nodes (x = 1 nano-rho): rho 0.48 plans
# sigma^2 = 2 and charges 0.250000001; rho 0.125 plans 5 and charges
# 0.100000001.  Budget 0.48 per month: a second query of 0.48 on the same
# month is refused; two of 0.125 fit (0.450000003).
if "$A" --dir "$T" --target "127.0.0.1:$PORT" --id q2 --participants n1,n2 \
    --rho 0.48 >"$T/out" 2>&1; then notok "q2 over the budget is refused"; else
	has "q2 over the budget is refused" "refusals [12]"; fi
cp "$T/n1.log" "$T/out"
has "n1 logged the budget refusal" "refusing query 'q2' (budget)"
"$N" ledger export -c "$T/n1.conf" >"$T/out" 2>&1
[ "$(wc -l <"$T/out")" -eq 1 ] && ok "the refusal charged nothing" || notok "the refusal charged nothing"

# kill_at STEP QID RHO: n2 stops itself right after STEP of QID, is killed
# (SIGKILL) and restarted; the analyst retries a failed attempt; QID must be
# released with one charge on each node.
kill_at() {
	step=$1; q=$2; rho=$3
	kill -TERM "$PID_n2"; wait "$PID_n2" 2>/dev/null
	PIDS=$(echo "$PIDS" | sed "s/ $PID_n2//")
	CAIRN_NODE_STOP_AT=$step CAIRN_LOG=info "$N" serve -c "$T/n2.conf" \
	    >"$T/n2-$q.log" 2>&1 &
	PID_n2=$!
	PIDS="$PIDS $PID_n2"
	"$A" --dir "$T" --target "127.0.0.1:$PORT" --id "$q" --participants n1,n2 \
	    --rho "$rho" --retries 2 --wait 90 >"$T/$q.out" 2>&1 &
	APID=$!
	i=0
	while [ $i -lt 300 ] && ! grep -q "CAIRN_NODE_STOP_AT=$step" "$T/n2-$q.log"; do
		sleep 0.05; i=$((i + 1)); done
	sleep 0.2
	kill -KILL "$PID_n2"; wait "$PID_n2" 2>/dev/null
	PIDS=$(echo "$PIDS" | sed "s/ $PID_n2//")
	cp "$T/n2-$q.log" "$T/out"
	has "$q: n2 stopped after '$step' and was killed" "CAIRN_NODE_STOP_AT=$step"
	CAIRN_LOG=info "$N" serve -c "$T/n2.conf" >"$T/n2b-$q.log" 2>&1 &
	PID_n2=$!
	PIDS="$PIDS $PID_n2"
	if wait "$APID"; then ok "$q released after n2 was killed and restarted"; else
		cp "$T/$q.out" "$T/out"; notok "$q released after n2 was killed and restarted"
		cat "$T/n2b-$q.log" "$T/coord.log" | sed 's/^/# /'; fi
	for m in n1 n2; do
		"$N" ledger export -c "$T/$m.conf" >"$T/out" 2>&1
		[ "$(grep -c "\"query_id\":\"$q\"" "$T/out")" -eq 1 ] &&
		    ok "$q: $m charged once" || notok "$q: $m charged once"
	done
}
kill_at charged q3 0.125
cp "$T/n2b-q3.log" "$T/out"
has "q3: restarted n2 reused its stored vector" "reusing the noisy vector"
kill_at advertised q4 0.125
cp "$T/q4.out" "$T/out"
has "q4: the attempt n2 could not finish failed, the retry was released" "retrying"
cp "$T/n2b-q4.log" "$T/out"
has "q4: restarted n2 reused its stored vector" "reusing the noisy vector"
"$N" ledger export -c "$T/n2.conf" >"$T/out" 2>&1
has "n2: cumulative spend of 2026-01 is 0.450000003" '"cumulative_rho":0\.45000000[23]'

# The auditor: the log, both nodes' cosignatures (the nodes cosign the
# latest checkpoint on their next idle poll) and each node's ledger.
for m in n1 n2; do
	"$N" ledger export -c "$T/$m.conf" >"$T/$m.jsonl"
	i=0
	while :; do
		"$C" audit verify --federation "$T/fed/federation.conf" \
		    --coordinator "127.0.0.1:$PORT" --ca "$T/analyst/ca.crt" \
		    --tls-cert "$T/analyst/tls.crt" --tls-key "$T/analyst/tls.key" \
		    --quorum 2 --ledger "$T/$m.jsonl" --node $m >"$T/out" 2>&1 && break
		i=$((i + 1))
		grep -Eq "witness cosignatures?, 2 required" "$T/out" && [ $i -lt 40 ] || break
		sleep 0.25
	done
	has "audit verify: log, 2 cosignatures and $m's ledger" "^ok: .*2 witness cosignatures.*ledger of '$m': 3 of 3 charges match"
done

# A refusal after the last release: the checkpoint with its REFUSAL and
# FAILURE entries is published while the nodes are idle, and they cosign it
# on their next empty poll.
if "$A" --dir "$T" --target "127.0.0.1:$PORT" --id q5 --participants n1,n2 \
    --rho 0.48 >"$T/out" 2>&1; then notok "q5 over the budget is refused"; else
	has "q5 over the budget is refused" "refusals [12]"; fi
i=0
while :; do
	"$C" audit verify --federation "$T/fed/federation.conf" \
	    --coordinator "127.0.0.1:$PORT" --ca "$T/analyst/ca.crt" \
	    --tls-cert "$T/analyst/tls.crt" --tls-key "$T/analyst/tls.key" \
	    --quorum 2 >"$T/out" 2>&1 && break
	i=$((i + 1))
	grep -Eq "witness cosignatures?, 2 required" "$T/out" && [ $i -lt 40 ] || break
	sleep 0.25
done
has "the checkpoint after q5's refusal carries both nodes' cosignatures" "^ok: .*2 witness cosignatures"

for p in ${PIDS#* }; do kill -TERM "$p"; done
for p in ${PIDS#* }; do wait "$p"; rc=$?; [ $rc -eq 0 ] && ok "node $p: exit 0 on SIGTERM" ||
	{ echo "rc $rc" >"$T/out"; notok "node $p: exit 0 on SIGTERM"; }; done
PIDS="${PIDS%% *}"

echo "1..$n"
[ "$fails" -eq 0 ]
