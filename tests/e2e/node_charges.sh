#!/bin/sh
# node_charges.sh - two real `cairn-node serve` processes and the real
# cairn-coordinator on loopback, driven by `cairn query`:
# (1) the federation's holders_per_person = 2: both nodes require h = 2, a
#     query assuming h = 2 is released, each node charged and advertised
#     the noise of h = 2 (sigma_h^2 = 41 for presence k = 1 over two days
#     of January at rho 0.05: Delta_m^2 = 8, the KLS21 term 1 nano-rho,
#     sigma^2 = ceil(8 10^9 / (2 (5 10^7 - 1))) = 81, per node
#     ceil(81 / 2) — not the 11 of h = 1), and `cairn audit verify` passes
#     with both ledgers;
# (2) a refusal that depends on the data (issue #12 item 4): n2's record
#     file goes over max_bad_fraction; its refusal of the next query is
#     charged (a ledger row, the CHARGE in the log before the REFUSAL) and
#     says nothing of the data, and the audit with both ledgers passes.
set -u
: "${CAIRN_BIN:?}" "${CAIRN_TOP:?}"
T=$(mktemp -d /tmp/cairn-node-charges-XXXXXX)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	[ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
C="$CAIRN_BIN/cairn"
N="$CAIRN_BIN/cairn-node"
. "$CAIRN_TOP/tests/e2e/lib/tap.sh"
. "$CAIRN_TOP/tools/federation_lib.sh"
CAIRN=$C

{ fed_init "$T" charges &&
  fed_member "$T" analyst analyst && fed_member "$T" node n1 &&
  fed_member "$T" node n2; } >"$T/out" 2>&1 || { notok "keys"; exit 1; }
ok "keys for the coordinator, an analyst and two nodes"

printf 'region_id,name\n1,north\n2,south\n3,east\n4,west\n' >"$T/g4.csv"
printf 'cell_id,region_id\nc1,1\nc2,2\nc3,3\nc4,4\n' >"$T/cells.csv"
printf 'subscriber_id,timestamp,cell_id\ns1,2026-01-10T08:00:00Z,c1\ns2,2026-01-10T09:00:00Z,c1\ns3,2026-01-11T10:00:00Z,c2\n' >"$T/n1.csv"
printf 'subscriber_id,timestamp,cell_id\nt1,2026-01-10T08:00:00Z,c3\nt2,2026-01-11T12:00:00Z,c1\n' >"$T/n2.csv"
FED_ADVERTISE_SECONDS=10 FED_SHARE_SECONDS=10 \
    fed_coordinator_conf "$T" "g4 g4.csv" >"$T/out" 2>&1 ||
	{ notok "coordinator.conf, geography pinned"; exit 1; }
fed_start_coordinator "$T" ||
	{ cp "$T/coord.log" "$T/out"; notok "coordinator started"; exit 1; }
PIDS="$FED_COORD_PID"
PORT=$FED_PORT
ok "coordinator listening on $PORT"
fed_analyst_conf "$T" analyst

for m in n1 n2; do
	FED_CALL_DEADLINE=5 fed_node_conf "$T" $m "$T/$m.csv" "$T/cells.csv" g4 <<CONF
allow_kind = presence
allow_analyst = analyst
budget_rho_per_month = 1
max_rho_per_query = 0.5
holders_per_person = 2
CONF
	CAIRN_LOG=info "$N" serve -c "$T/$m.conf" >"$T/$m.log" 2>&1 &
	PIDS="$PIDS $!"
done

# submit ID H: a presence query over 2026-01-10..12 (two days) at rho 0.05
# assuming H holders per person.
submit() {
	"$C" query submit --config "$T/analyst.conf" --kind presence \
	    --start 2026-01-10 --end 2026-01-12 --bucket day --k 1 \
	    --geography g4 --rho 0.05 --purpose "node_charges $1" \
	    --participants n1,n2 --colluding 0 --holders "$2" --id "$1"
}

# audit NAME COUNT: `cairn audit verify` with NAME's ledger export (COUNT
# charges), a quorum of 2 (the nodes cosign the latest checkpoint on an
# idle poll).
audit() {
	"$N" ledger export -c "$T/$1.conf" >"$T/$1.jsonl"
	i=0
	while :; do
		"$C" audit verify --federation "$T/fed/federation.conf" \
		    --coordinator "127.0.0.1:$PORT" --ca "$T/analyst/ca.crt" \
		    --tls-cert "$T/analyst/tls.crt" \
		    --tls-key "$T/analyst/tls.key" --quorum 2 \
		    --ledger "$T/$1.jsonl" --node "$1" >"$T/out" 2>&1 && break
		i=$((i + 1))
		grep -Eq "witness cosignatures?, 2 required" "$T/out" &&
		    [ $i -lt 40 ] || break
		sleep 0.25
	done
	has "audit verify: the log, 2 cosignatures and $1's ledger" \
	    "^ok: .*2 witness cosignatures.*ledger of '$1': $2 of $2 charges match"
}

# (1) h = 2
check "q-h2 submitted with --holders 2" submit q-h2 2
check "q-h2 released" "$C" query wait --config "$T/analyst.conf" q-h2 \
    --timeout 60
for m in n1 n2; do
	"$N" ledger export -c "$T/$m.conf" >"$T/out" 2>&1
	has "$m: q-h2 charged with the noise of h = 2 (sigma_h^2 41)" \
	    '"query_id":"q-h2".*"noise_variance":41[,}]'
done
check "q-h1 submitted with --holders 1" submit q-h1 1
fails_with "q-h1 refused: both nodes require h = 2" "refused" \
    "$C" query wait --config "$T/analyst.conf" q-h1 --timeout 60
audit n1 1
audit n2 1

# (2) n2's file goes over max_bad_fraction (1 bad row of 3, limit 0.1 %).
printf 'subscriber_id,timestamp,cell_id\nt1,2026-01-10T08:00:00Z,c3\nt2,not-a-time,c1\nt3,2026-01-11T12:00:00Z,c2\n' >"$T/n2.csv"
check "q-bad submitted" submit q-bad 2
fails_with "q-bad refused" "refused" \
    "$C" query wait --config "$T/analyst.conf" q-bad --timeout 60
"$C" query status --config "$T/analyst.conf" q-bad >"$T/status" 2>&1
cp "$T/status" "$T/out"
has "the refusal is n2's, code other, and says the query is charged" \
    "could not compute its vector.*the query is charged"
if grep -Eiq "rows bad|timestamp|not-a-time|n2\\.csv|max.bad" "$T/status"
then notok "the refusal says nothing of the data"
else ok "the refusal says nothing of the data"; fi
cp "$T/n2.log" "$T/out"
has "n2 logged the detail locally" "n2.csv: 1 of 3 rows bad"
has "n2 charged q-bad without a vector" "charged query 'q-bad' without a vector"
has "n2 sent the charge before refusing" "ledger charge 2 (query 'q-bad' attempt 0) sent again: CHARGE logged at index"
"$N" ledger export -c "$T/n2.conf" >"$T/out" 2>&1
has "n2's ledger has the q-bad charge" '"query_id":"q-bad"'
[ "$(grep -c '"query_id"' "$T/out")" -eq 2 ] && ok "n2: two charges (q-h2, q-bad)" ||
	notok "n2: two charges (q-h2, q-bad)"
n1c=$("$N" ledger export -c "$T/n1.conf" 2>/dev/null | grep -c '"query_id"')
audit n1 "$n1c"
audit n2 2

for p in ${PIDS#* }; do kill -TERM "$p"; done
for p in ${PIDS#* }; do wait "$p"; rc=$?; [ $rc -eq 0 ] && ok "node $p: exit 0 on SIGTERM" ||
	{ echo "rc $rc" >"$T/out"; notok "node $p: exit 0 on SIGTERM"; }; done
PIDS="${PIDS%% *}"

tap_done
