#!/bin/sh
# fed_gaps.sh - pinned geographies, the public category domain of
# population_by_category, and the log's MEMBER and POLICY entries, with
# real processes on loopback (cairn-coordinator and three `cairn-node serve`):
#   - the coordinator refuses to start with a geography federation.conf
#     does not pin, or pins to another hash (both hashes named);
#   - a node refuses, signed, a task whose geography's pin differs from its
#     own copy of the region file, and a geography it does not map;
#   - population_by_category over the nodes' region-level records with the
#     spec's categories, rows under other categories counted apart;
#   - the log opens with a MEMBER entry per member; nodes publish their
#     policy (a POLICY entry per change, none when unchanged); a member
#     added to federation.conf is logged at the coordinator's next start;
#     `cairn audit verify` replays all of it.
set -u
: "${CAIRN_BIN:?}" "${CAIRN_TOP:?}"
T=$(mktemp -d /tmp/cairn-fedgaps-XXXXXX)
SRV=""
N1=""
N2=""
N3=""
cleanup() {
	for p in $N1 $N2 $N3 $SRV; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	[ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' HUP INT PIPE TERM
C="$CAIRN_BIN/cairn"
. "$CAIRN_TOP/tests/e2e/lib/tap.sh"
TAP_SHOW="$T/out $T/err"
# wait_for FILE PATTERN COUNT: until FILE has COUNT lines matching PATTERN.
wait_for() {
	i=0
	while [ $i -lt 150 ]; do
		[ "$(grep -c -- "$2" "$1" 2>/dev/null)" -ge "$3" ] && return 0
		sleep 0.1; i=$((i + 1))
	done
	return 1
}
sha() { sha256sum "$1" | cut -d' ' -f1; }

: >"$T/err"
"$C" keys init-federation --name gaps --dir "$T/fed" >"$T/out" 2>&1 ||
	{ notok "init-federation"; exit 1; }
for who in analyst:nso node:n1 node:n2 node:n3; do
	role=${who%%:*}; name=${who#*:}
	{ "$C" keys new --role "$role" --name "$name" --dir "$T/$name" &&
	  "$C" keys issue --ca "$T/fed" --csr "$T/$name/tls.csr" --out "$T/$name/tls.crt" &&
	  cp "$T/fed/ca.crt" "$T/$name/ca.crt" &&
	  "$C" keys add-member --ca "$T/fed" --pub "$T/$name/identity.pub" \
	      --cert "$T/$name/tls.crt"; } >"$T/out" 2>&1 || { notok "keys $name"; exit 1; }
done
M=$(grep -c '^member' "$T/fed/federation.conf")

printf 'region_id,name\n1,north\n2,south\n' >"$T/g2.csv"
printf 'region_id,name\n1,North\n2,South\n' >"$T/g2-other.csv"	# same ids, other bytes
printf 'region_id,name\n1,a\n2,b\n3,c\n' >"$T/g3.csv"
printf 'cell_id,region_id\nc1,1\nc2,2\n' >"$T/cells.csv"
printf 'subscriber_id,timestamp,cell_id\ns1,2026-01-10T08:00:00Z,c1\ns2,2026-01-10T09:00:00Z,c2\n' >"$T/cdr.csv"
printf 'entity_id,timestamp,region_id,category\ne1,2026-01-10T08:00:00Z,1,a\ne2,2026-01-10T09:00:00Z,2,b\ne3,2026-01-10T09:00:00Z,2,c\ne4,2026-01-10T10:00:00Z,1,c\n' >"$T/records.csv"
mkdir -p "$T/cdata"
cat >"$T/coordinator.conf" <<CONF
[coordinator]
identity_key = $T/fed/coordinator/identity.key
tls_key = $T/fed/coordinator/tls.key
tls_cert = $T/fed/coordinator/tls.crt
ca_cert = $T/fed/ca.crt
federation = $T/fed/federation.conf
data_dir = $T/cdata
listen = 127.0.0.1:0
port_file = $T/port
[deadlines]
advertise_seconds = 10
share_seconds = 10
[limits]
max_rho_per_query = 1
max_attempts = 1
[geographies]
geography = g2 g2.csv
geography = g3 g3.csv
CONF

# --- pinned geographies: the coordinator ------------------------------
"$CAIRN_BIN/cairn-coordinator" check-config -c "$T/coordinator.conf" >"$T/out" 2>"$T/err"
[ $? -eq 1 ] && grep -q "geography 'g2' is not pinned in $T/fed/federation.conf (region file $T/g2.csv, sha256 $(sha "$T/g2.csv")" "$T/err" &&
	ok "an unpinned geography is refused, its file and hash named" ||
	notok "an unpinned geography is refused, its file and hash named"
mkdir -p "$T/badfed"
cp "$T/fed/federation.conf" "$T/badfed/federation.conf"
{ "$C" keys pin-geography --ca "$T/fed" --name g2 --regions "$T/g2.csv" &&
  "$C" keys pin-geography --ca "$T/fed" --name g3 --regions "$T/g3.csv" &&
  "$C" keys pin-geography --ca "$T/badfed" --name g2 --regions "$T/g2-other.csv" &&
  "$C" keys pin-geography --ca "$T/badfed" --name g3 --regions "$T/g3.csv"; } >"$T/out" 2>&1 &&
    grep -q "^geography = g2 $(sha "$T/g2.csv")$" "$T/fed/federation.conf" &&
	ok "cairn keys pin-geography pins the region files' SHA-256" ||
	notok "cairn keys pin-geography pins the region files' SHA-256"
sed "s|^federation = .*|federation = $T/badfed/federation.conf|" "$T/coordinator.conf" >"$T/bad.conf"
"$CAIRN_BIN/cairn-coordinator" serve -c "$T/bad.conf" >"$T/out" 2>"$T/err"
[ $? -ne 0 ] && grep -q "geography 'g2': region file $T/g2.csv has sha256 $(sha "$T/g2.csv"), $T/badfed/federation.conf pins $(sha "$T/g2-other.csv")" "$T/err" &&
	ok "a geography pinned to another hash stops the coordinator, both hashes named" ||
	notok "a geography pinned to another hash stops the coordinator, both hashes named"

start_coord() {
	rm -f "$T/port"
	"$CAIRN_BIN/cairn-coordinator" serve -c "$T/coordinator.conf" >>"$T/coord.log" 2>&1 &
	SRV=$!
	i=0
	while [ $i -lt 100 ] && [ ! -s "$T/port" ]; do sleep 0.1; i=$((i + 1)); done
	[ -s "$T/port" ] || { cp "$T/coord.log" "$T/out"; return 1; }
	PORT=$(cat "$T/port")
}
stop_coord() { kill -TERM "$SRV"; wait "$SRV" 2>/dev/null; SRV=""; }
start_coord || { notok "coordinator starts"; exit 1; }
[ "$(grep -c 'MEMBER added' "$T/coord.log")" -eq "$M" ] &&
	ok "the log opens with one MEMBER entry per member ($M)" ||
	{ cp "$T/coord.log" "$T/out"; notok "the log opens with one MEMBER entry per member ($M)"; }

# node_conf NAME GEOGRAPHY_FILE BUDGET
node_conf() {
	cat >"$T/$1.conf" <<CONF
[node]
name = $1
data_dir = $T/$1/data
identity_key = $T/$1/identity.key
tls_key = $T/$1/tls.key
tls_cert = $T/$1/tls.crt
ca_cert = $T/$1/ca.crt
federation = $T/fed/federation.conf
[coordinator]
address = 127.0.0.1:$PORT
poll_seconds = 1
call_deadline_seconds = 5
[data]
cdr = $T/cdr.csv
cells = $T/cells.csv
records = $T/records.csv
geography = g2
geography_file = $2
[policy]
allow_kind = presence, population_by_category
allow_analyst = nso
budget_rho_per_month = $3
max_rho_per_query = 0.5
CONF
}
# n2 and n3 have another copy of g2 than the one federation.conf pins.
node_conf n1 "$T/g2.csv" 1
node_conf n2 "$T/g2-other.csv" 1
node_conf n3 "$T/g2-other.csv" 1
"$CAIRN_BIN/cairn-node" serve -c "$T/n1.conf" >>"$T/n1.log" 2>&1 &
N1=$!
"$CAIRN_BIN/cairn-node" serve -c "$T/n2.conf" >>"$T/n2.log" 2>&1 &
N2=$!
"$CAIRN_BIN/cairn-node" serve -c "$T/n3.conf" >>"$T/n3.log" 2>&1 &
N3=$!
wait_for "$T/coord.log" "POLICY of node n[123] logged" 3 &&
	ok "each node publishes its policy: a POLICY entry each" ||
	{ cp "$T/coord.log" "$T/out"; notok "each node publishes its policy: a POLICY entry each"; }

cat >"$T/analyst.conf" <<CONF
[analyst]
identity_key = $T/nso/identity.key
tls_key = $T/nso/tls.key
tls_cert = $T/nso/tls.crt
ca_cert = $T/nso/ca.crt
coordinator = 127.0.0.1:$PORT
federation = $T/fed/federation.conf
CONF
# ask ID GEOGRAPHY NODES: a presence query; 'query wait' into out.  (Only
# nodes that refuse take part: a node that accepts charges its ledger.)
ask() {
	"$C" query submit --config "$T/analyst.conf" --kind presence \
	    --start 2026-01-10 --end 2026-01-11 --bucket day --k 1 \
	    --geography "$2" --rho 0.25 --purpose gaps --participants "$3" \
	    --colluding 1 --id "$1" >"$T/out" 2>"$T/err" || return 1
	"$C" query wait --config "$T/analyst.conf" "$1" --timeout 30 >"$T/out" 2>"$T/err"
}

# --- pinned geographies: the nodes -------------------------------------
ask q-hash g2 n2,n3
grep -q "refused by n[23]: geography: geography 'g2': the coordinator pins sha256 $(sha "$T/g2.csv"), this node's copy has $(sha "$T/g2-other.csv")" "$T/out" &&
	ok "a node whose copy of the geography differs refuses, signed, both hashes named" ||
	notok "a node whose copy of the geography differs refuses, signed, both hashes named"
ask q-unknown g3 n1,n2
grep -q "refused by n[12]: geography: geography 'g3' is not the one this node's data is mapped to" "$T/out" &&
	ok "a node refuses a geography it does not map" ||
	notok "a node refuses a geography it does not map"

# --- policies: unchanged is not logged again, a change is ------------------
kill -TERM "$N1" "$N2" "$N3"; wait "$N1" 2>/dev/null; wait "$N2" 2>/dev/null
wait "$N3" 2>/dev/null; N3=""
node_conf n2 "$T/g2.csv" 0.75
"$CAIRN_BIN/cairn-node" serve -c "$T/n1.conf" >>"$T/n1.log" 2>&1 &
N1=$!
"$CAIRN_BIN/cairn-node" serve -c "$T/n2.conf" >>"$T/n2.log" 2>&1 &
N2=$!
wait_for "$T/n1.log" "policy published: POLICY unchanged" 1 &&
    wait_for "$T/coord.log" "POLICY of node n2 logged" 2 &&
    [ "$(grep -c 'POLICY of node n1 logged' "$T/coord.log")" -eq 1 ] &&
	ok "a restart with the same policy logs nothing; a changed policy is logged" ||
	{ cat "$T/coord.log" "$T/n1.log" >"$T/out"; notok "a restart with the same policy logs nothing; a changed policy is logged"; }

# --- population_by_category: the spec's categories ----------------------
printf '{"kind": "population_by_category", "start": "2026-01-10", "end": "2026-01-11", "categories": ["b", "a", "z"]}\n' >"$T/pop.json"
"$C" query submit --config "$T/analyst.conf" --kind population_by_category \
    --start 2026-01-10 --end 2026-01-11 --geography g2 --rho 0.25 \
    --purpose categories --participants n1,n2 --colluding 1 --id q-nocat \
    >"$T/out" 2>"$T/err"
[ $? -eq 1 ] && [ "$(wc -l <"$T/err")" -eq 1 ] &&
    grep -q "missing field 'categories' (required by kind 'population_by_category')" "$T/err" &&
	ok "population_by_category without its categories is refused with one line" ||
	notok "population_by_category without its categories is refused with one line"
"$C" query submit --config "$T/analyst.conf" --kind population_by_category \
    --start 2026-01-10 --end 2026-01-11 --categories b,a,z --geography g2 \
    --rho 0.25 --purpose categories --participants n1,n2 --colluding 1 \
    --id q-pop >"$T/out" 2>"$T/err" &&
    "$C" query wait --config "$T/analyst.conf" q-pop --timeout 30 >"$T/out" 2>"$T/err" &&
    "$C" query result --config "$T/analyst.conf" q-pop --regions "$T/g2.csv" \
    >"$T/pop.csv" 2>"$T/err"
if [ $? -eq 0 ] && [ "$(grep -c '^[12],[a-z]*,[abz],' "$T/pop.csv")" -eq 6 ] &&
    grep -q '^region,region_name,category,value,ci95_low,ci95_high$' "$T/pop.csv"; then
	ok "population_by_category released over regions x the spec's categories (6 cells)"
else
	cp "$T/pop.csv" "$T/out"; notok "population_by_category released over regions x the spec's categories (6 cells)"
fi
grep -q "2 events in the window are under categories outside the query's list and were not counted" "$T/n1.log" &&
	ok "rows under a category outside the spec's are counted apart, not dropped silently" ||
	{ cp "$T/n1.log" "$T/out"; notok "rows under a category outside the spec's are counted apart, not dropped silently"; }
"$CAIRN_BIN/cairn-node" run-local --query "$T/pop.json" --cdr "$T/records.csv" \
    --regions "$T/g2.csv" --no-noise >"$T/out" 2>"$T/err"
grep -q "2 under a category outside the query's" "$T/err" &&
    [ "$(cat "$T/out")" = "$(printf 'region,category,count\n1,a,1\n2,b,1')" ] &&
	ok "run-local: the same counts and the same report" ||
	notok "run-local: the same counts and the same report"

# --- members: a change of federation.conf is logged at the next start ------
kill -TERM "$N1" "$N2"; wait "$N1" 2>/dev/null; wait "$N2" 2>/dev/null; N1=""; N2=""
stop_coord
{ "$C" keys new --role auditor --name watch --dir "$T/watch" &&
  "$C" keys issue --ca "$T/fed" --csr "$T/watch/tls.csr" --out "$T/watch/tls.crt" &&
  "$C" keys add-member --ca "$T/fed" --pub "$T/watch/identity.pub" \
      --cert "$T/watch/tls.crt"; } >"$T/out" 2>&1 || notok "keys watch"
start_coord || { notok "coordinator restarts"; exit 1; }
[ "$(grep -c 'MEMBER added auditor/watch' "$T/coord.log")" -eq 1 ] &&
    [ "$(grep -c 'MEMBER added' "$T/coord.log")" -eq $((M + 1)) ] &&
	ok "a member added to federation.conf: one MEMBER entry at the next start" ||
	{ cp "$T/coord.log" "$T/out"; notok "a member added to federation.conf: one MEMBER entry at the next start"; }
stop_coord
start_coord || { notok "coordinator restarts"; exit 1; }
[ "$(grep -c 'MEMBER added' "$T/coord.log")" -eq $((M + 1)) ] &&
	ok "an unchanged federation.conf logs no MEMBER entry" ||
	{ cp "$T/coord.log" "$T/out"; notok "an unchanged federation.conf logs no MEMBER entry"; }
# No node runs any more to witness the log: the replay is what is checked
# here, so the witness quorum is waived (with its warning).
"$C" audit verify --federation "$T/fed/federation.conf" --coordinator "127.0.0.1:$PORT" \
    --ca "$T/fed/ca.crt" --tls-cert "$T/watch/tls.crt" --tls-key "$T/watch/tls.key" \
    --quorum 0 >"$T/out" 2>"$T/err"
[ $? -eq 0 ] && grep -q "^ok: log size .* 3 queries, 2 charges .* refusals, 1 releases, 2 failures, $((M + 1)) member changes, 4 policies$" "$T/out" &&
	ok "audit verify replays the MEMBER and POLICY entries and passes" ||
	notok "audit verify replays the MEMBER and POLICY entries and passes"
stop_coord

echo "1..$n"
tap_done
