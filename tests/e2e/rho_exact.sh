#!/bin/sh
# rho_exact.sh - rho is one exact integer of nano-rho from the analyst to
# the ledger, the log and the audit (issue #12 item 11).  Real
# cairn-coordinator and two `cairn-node serve` on loopback.
#  - `cairn query submit` refuses rho that is not a whole number of
#    nano-rho (1/3, 1e-10, 0.0123456789012, 0.1234567891) with a message
#    naming the flag and the value, and nothing reaches the log or a
#    ledger (before, 0.1234567891 was charged by every node while the
#    coordinator rejected every CHARGE);
#  - SubmitQuery refuses a hand-built wire query of 0 nano-rho and one over
#    the federation's limit;
#  - a query at 0.123456789 is released, each node's ledger and the log's
#    CHARGE entries hold exactly the month's rho_m that `cairn privacy
#    plan` gives for it (dp_requirement: at most the rho asked), and the
#    audit passes;
#  - `cairn privacy plan` takes the same exact rho.
set -u
: "${CAIRN_BIN:?}" "${CAIRN_TOP:?}"
T=$(mktemp -d /tmp/cairn-rho-XXXXXX)
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

{ fed_init "$T" rhotest &&
  fed_member "$T" analyst analyst && fed_member "$T" node n1 &&
  fed_member "$T" node n2; } >"$T/out" 2>&1 || { notok "keys"; exit 1; }
printf 'region_id,name\n1,north\n2,south\n3,east\n4,west\n' >"$T/g4.csv"
printf 'cell_id,region_id\nc1,1\nc2,2\nc3,3\nc4,4\n' >"$T/cells.csv"
printf 'subscriber_id,timestamp,cell_id\ns1,2026-01-10T08:00:00Z,c1\ns2,2026-01-10T09:00:00Z,c2\n' >"$T/n1.csv"
printf 'subscriber_id,timestamp,cell_id\nt1,2026-01-10T08:00:00Z,c3\nt2,2026-01-10T12:00:00Z,c1\n' >"$T/n2.csv"
FED_ADVERTISE_SECONDS=8 FED_SHARE_SECONDS=8 \
    fed_coordinator_conf "$T" "g4 g4.csv" >"$T/out" 2>&1 &&
    fed_start_coordinator "$T" || { notok "coordinator started"; exit 1; }
PIDS="$FED_COORD_PID"
PORT=$FED_PORT
ok "coordinator listening on $PORT"
for m in n1 n2; do
	fed_node_conf "$T" $m "$T/$m.csv" "$T/cells.csv" g4 <<CONF
allow_kind = presence
allow_analyst = analyst
budget_rho_per_month = 1
max_rho_per_query = 0.5
CONF
	CAIRN_LOG=info "$N" serve -c "$T/$m.conf" >"$T/$m.log" 2>&1 &
	PIDS="$PIDS $!"
done
fed_analyst_conf "$T" analyst

# submit RHO: `cairn query submit` of a presence query at RHO.
submit() {
	"$C" query submit --config "$T/analyst.conf" --kind presence \
	    --start 2026-01-10 --end 2026-01-11 --bucket day --k 1 \
	    --geography g4 --rho "$1" --purpose "rho e2e" \
	    --participants n1,n2 --colluding 0 --id "q-$2"
}
for v in 1/3:third 1e-10:tiny 0.0123456789012:long 0.1234567891:ten; do
	rho=${v%%:*}
	out=$(submit "$rho" "${v#*:}" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] && echo "$out" | grep -q -- "--rho: '$rho' is not a valid rho"
	then ok "query submit refuses --rho $rho: $(echo "$out" | head -1)"
	else notok "query submit refuses --rho $rho (rc $rc: $out)"; fi
done
sleep 2
for m in n1 n2; do
	"$N" ledger export -c "$T/$m.conf" >"$T/out" 2>&1
	[ ! -s "$T/out" ] && ok "$m: nothing charged for the refused rho" ||
		notok "$m: nothing charged for the refused rho"
done

# Hand-built wire queries: SubmitQuery itself refuses 0 and over 1 rho.
if "$A" --dir "$T" --target "127.0.0.1:$PORT" --id q-zero \
    --participants n1,n2 --rho-nano 0 --wait 10 >"$T/out" 2>&1
then notok "SubmitQuery refuses rho_nano 0"; else
	has "SubmitQuery refuses rho_nano 0" "rho_nano is 0"; fi
if "$A" --dir "$T" --target "127.0.0.1:$PORT" --id q-over \
    --participants n1,n2 --rho-nano 1000000001 --wait 10 >"$T/out" 2>&1
then notok "SubmitQuery refuses 1.000000001 rho"; else
	has "SubmitQuery refuses 1.000000001 rho (limit 1)" \
	    "rho 1.000000001 (1000000001 nano-rho) is over the federation's limit of 1"; fi

if "$A" --dir "$T" --target "127.0.0.1:$PORT" --id q-exact \
    --participants n1,n2 --rho 0.123456789 --wait 60 >"$T/out" 2>&1
then ok "a query at rho 0.123456789 is released"; else
	notok "a query at rho 0.123456789 is released"
	cat "$T/n1.log" "$T/coord.log" | sed 's/^/# /' | tail -20; fi
# What each node charges January: dp_requirement's rho_m for this query
# (presence, 2026-01-10, k = 1, 4 regions, 2 nodes, c = 0), as the
# planner prints it — the node, the planner and the audit must agree.
# By hand: Delta_m^2 = 1, the KLS21 term x = 1 nano-rho, sigma^2 =
# ceil(10^9 / (2 (123456789 - 1))) = 5, rho_m = 10^9 / 10 + 1.
"$C" privacy plan --kind presence --rho 0.123456789 --start 2026-01-10 \
    --end 2026-01-11 --k 1 --nodes 2 --colluding 0 --cells 4 >"$T/plan" 2>&1
RM=$(sed -n 's/^month 2026-01: *delta_m^2 = 1, rho_m = \([0-9.]*\)$/\1/p' "$T/plan")
holds "privacy plan: January pays rho_m 0.100000001 of the 0.123456789 asked" \
    '[ "$RM" = 0.100000001 ]'
RMN=$(echo "$RM" | awk '{ split($1, a, "."); f = a[2];
	while (length(f) < 9) f = f "0"; printf "%d\n", a[1] * 1000000000 + f }')
for m in n1 n2; do
	# The node fills in the CHARGE's log index once it follows the log.
	i=0
	while :; do
		"$N" ledger export -c "$T/$m.conf" >"$T/$m.jsonl" 2>&1
		grep -q '"log_index":[0-9]' "$T/$m.jsonl" && break
		i=$((i + 1)); [ $i -lt 100 ] || break; sleep 0.1
	done
	cp "$T/$m.jsonl" "$T/out"
	has "$m: the ledger charged exactly the planned $RMN nano-rho" \
	    "\"rho_nano\":$RMN,\"cumulative_rho\":$RM[0-9]*,\"cumulative_rho_nano\":$RMN}"
	has "$m: its CHARGE is in the log" '"log_index":[0-9]'
	"$N" ledger show -c "$T/$m.conf" >"$T/out" 2>&1
	has "$m: ledger show prints rho $RM exactly" \
	    " $RM .*2026-01=$RM "
	i=0
	while :; do
		"$C" audit verify --federation "$T/fed/federation.conf" \
		    --coordinator "127.0.0.1:$PORT" --ca "$T/analyst/ca.crt" \
		    --tls-cert "$T/analyst/tls.crt" \
		    --tls-key "$T/analyst/tls.key" \
		    --ledger "$T/$m.jsonl" --node $m >"$T/out" 2>&1 && break
		i=$((i + 1)); [ $i -lt 20 ] || break; sleep 0.25
	done
	has "audit verify: 2 CHARGE entries logged, $m's ledger matches" \
	    "^ok: .* 1 queries, 2 charges.*ledger of '$m': 1 of 1 charges match"
done

"$C" privacy plan --kind presence --rho 0.123456789 --days 1 --k 1 \
    --nodes 2 --colluding 0 >"$T/out" 2>&1
has "privacy plan prints rho 0.123456789 exactly" \
    "^rho: *0.123456789 (charged"
if "$C" privacy plan --kind presence --rho 0.1234567891 --days 1 --k 1 \
    --nodes 2 --colluding 0 >"$T/out" 2>&1; then notok "privacy plan refuses 0.1234567891"
else has "privacy plan refuses 0.1234567891" "more than 9 decimals"; fi

echo "1..$n"
[ "$fails" -eq 0 ]
