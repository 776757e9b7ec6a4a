#!/bin/sh
# ledger_rollback.sh - a node's ledger restored from a backup, or deleted,
# must not let it spend its budget again (issue #12 item 8).  Real
# cairn-coordinator and two `cairn-node serve` on loopback; n2's budget is
# 1 rho per data-month (n1's is larger, so only n2 can refuse).  Queries
# qa, qb and qc at rho 0.3 are released; each charges January
# 0.250000001 (dp_requirement: presence, one day, k = 1, 2 nodes:
# Delta_m^2 = 1, sigma^2 = ceil(10^9 / (2 (3 10^8 - 1))) = 2, rho_m =
# 10^9 / 4 + 1 nano-rho for the KLS21 term), so n2
# has spent 0.750000003 of 2026-01; then n2 is stopped and either its
# ledger.db is put back to the copy taken after qa ("rollback") or
# deleted ("deletion"), and restarted.  qd must be REFUSED by n2
# (0.750000003 + 0.250000001 > 1): before its first task the
# node reads its own CHARGE entries back from the log and records the ones
# its ledger lacks.  The audit of the log and of n2's ledger export passes.
set -u
: "${CAIRN_BIN:?}" "${CAIRN_TOP:?}"
T=$(mktemp -d /tmp/cairn-rollback-XXXXXX)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	[ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
C="$CAIRN_BIN/cairn"
N="$CAIRN_BIN/cairn-node"
A="$CAIRN_BIN/node_e2e_analyst"
. "$CAIRN_TOP/tests/e2e/lib/tap.sh"
. "$CAIRN_TOP/tools/federation_lib.sh"
CAIRN=$C

# ask DIR QID: node_e2e_analyst's query QID at rho 0.3 (output in DIR/QID.out).
ask() {
	"$A" --dir "$1" --target "127.0.0.1:$PORT" --id "$2" \
	    --participants n1,n2 --rho 0.3 --wait 60 >"$1/$2.out" 2>&1
}

# start_n2 DIR: serve n2 in the background (its log appended to DIR/n2.log).
start_n2() {
	CAIRN_LOG=info "$N" serve -c "$1/n2.conf" >>"$1/n2.log" 2>&1 &
	PID_n2=$!
	PIDS="$PIDS $PID_n2"
}

stop_n2() {
	kill -TERM "$PID_n2"; wait "$PID_n2" 2>/dev/null
	PIDS=$(echo "$PIDS" | sed "s/ $PID_n2//")
}

# scenario MODE: a federation of its own in $T/MODE; MODE is rollback or
# deletion.
scenario() {
	mode=$1
	D=$T/$mode
	mkdir -p "$D"
	{ fed_init "$D" "fed$mode" &&
	  fed_member "$D" analyst analyst && fed_member "$D" node n1 &&
	  fed_member "$D" node n2; } >"$T/out" 2>&1 ||
		{ notok "$mode: keys"; return 1; }
	printf 'region_id,name\n1,north\n2,south\n3,east\n4,west\n' >"$D/g4.csv"
	printf 'cell_id,region_id\nc1,1\nc2,2\nc3,3\nc4,4\n' >"$D/cells.csv"
	printf 'subscriber_id,timestamp,cell_id\ns1,2026-01-10T08:00:00Z,c1\ns2,2026-01-10T09:00:00Z,c2\n' >"$D/n1.csv"
	printf 'subscriber_id,timestamp,cell_id\nt1,2026-01-10T08:00:00Z,c3\nt2,2026-01-10T12:00:00Z,c1\n' >"$D/n2.csv"
	FED_ADVERTISE_SECONDS=8 FED_SHARE_SECONDS=8 \
	    fed_coordinator_conf "$D" "g4 g4.csv" >"$T/out" 2>&1 &&
	    fed_start_coordinator "$D" ||
		{ notok "$mode: coordinator started"; return 1; }
	PIDS="$PIDS $FED_COORD_PID"
	PORT=$FED_PORT
	for m in n1 n2; do
		budget=1
		[ $m = n1 ] && budget=10
		FED_CALL_DEADLINE=5 fed_node_conf "$D" $m "$D/$m.csv" \
		    "$D/cells.csv" g4 <<CONF
allow_kind = presence
allow_analyst = analyst
budget_rho_per_month = $budget
max_rho_per_query = 0.5
CONF
	done
	CAIRN_LOG=info "$N" serve -c "$D/n1.conf" >"$D/n1.log" 2>&1 &
	PIDS="$PIDS $!"
	start_n2 "$D"

	ask "$D" qa && ok "$mode: qa released" ||
		{ notok "$mode: qa released"; sed 's/^/# /' "$D/qa.out"; }
	# The backup: n2 stopped so that ledger.db is whole on disk.
	stop_n2
	cp "$D/n2/data/ledger.db" "$D/ledger-after-qa.db"
	start_n2 "$D"
	for q in qb qc; do
		ask "$D" $q && ok "$mode: $q released" ||
			{ notok "$mode: $q released"; sed 's/^/# /' "$D/$q.out"; }
	done
	"$N" ledger export -c "$D/n2.conf" >"$T/out" 2>&1
	has "$mode: n2 has spent 0.750000003 of 2026-01" \
	    '"cumulative_rho_nano":750000003'

	stop_n2
	rm -f "$D/n2/data/ledger.db-wal" "$D/n2/data/ledger.db-shm"
	if [ "$mode" = rollback ]; then
		cp "$D/ledger-after-qa.db" "$D/n2/data/ledger.db"
	else
		rm -f "$D/n2/data/ledger.db"
	fi
	start_n2 "$D"

	if ask "$D" qd; then
		notok "$mode: qd over n2's real budget is refused"
		sed 's/^/# /' "$D/qd.out"
	else
		cp "$D/qd.out" "$T/out"
		has "$mode: qd over n2's real budget is refused (state 4, REFUSED)" \
		    "^state 4 .*refusals 1$"
	fi
	cp "$D/n2.log" "$T/out"
	has "$mode: n2 took its missing charges from the log" \
	    "was missing in the ledger: 0.250000001 rho added"
	has "$mode: n2 refused qd on its budget" "refusing query 'qd' (budget)"
	"$N" ledger export -c "$D/n2.conf" >"$D/n2.jsonl" 2>&1
	cp "$D/n2.jsonl" "$T/out"
	has "$mode: n2's ledger counts 0.750000003 of 2026-01 again" \
	    '"cumulative_rho_nano":750000003'
	nq=$(grep -c '"query_id":"q[abc]"' "$D/n2.jsonl")
	[ "$nq" -eq 3 ] && ok "$mode: n2's ledger holds qa, qb and qc" ||
		notok "$mode: n2's ledger holds qa, qb and qc ($nq)"
	"$C" audit verify --federation "$D/fed/federation.conf" \
	    --coordinator "127.0.0.1:$PORT" --ca "$D/analyst/ca.crt" \
	    --tls-cert "$D/analyst/tls.crt" --tls-key "$D/analyst/tls.key" \
	    --ledger "$D/n2.jsonl" --node n2 >"$T/out" 2>&1
	has "$mode: audit verify passes, n2's ledger matches the log" \
	    "^ok: .*ledger of 'n2': 3 of 3 charges match"
	for p in $PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	PIDS=""
}

scenario rollback
scenario deletion

echo "1..$n"
[ "$fails" -eq 0 ]
