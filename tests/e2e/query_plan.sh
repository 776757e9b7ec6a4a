#!/bin/sh
# query_plan.sh - issue #17 against a real federation on loopback (a
# coordinator and two `cairn-node serve`): the one planner, budgets and
# coverage before spending.
#  - `cairn query plan` takes submit's flags and prints the variance, the
#    exact 95% half-width, each holder's charge per data-month and, read
#    from the log, each budget; `submit --regions` prints the same plan;
#  - plan == charge: the CHARGE entries (read back by `cairn query
#    budget`), each node's ledger and the release's ci95_halfwidth and
#    variance are exactly the plan's;
#  - `cairn query budget` shows budget, spent and left per holder and
#    data-month, and fails with a federation.conf whose log key is wrong;
#  - a query over a data-month a participant's POLICY does not declare is
#    refused, naming the holder and the month, before anything is
#    charged; --allow-missing-months runs it;
#  - failure paths: an outlines file missing a region, a pinned-regions
#    mismatch, a wrong log key, an exhausted budget (the plan says OVER
#    BUDGET, the holders refuse, nothing is charged).
set -u
: "${CAIRN_BIN:?}" "${CAIRN_TOP:?}"
T=$(mktemp -d /tmp/cairn-qplan-XXXXXX)
PIDS=""
cleanup() {
	for p in $PIDS; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' HUP INT PIPE TERM
CAIRN="$CAIRN_BIN/cairn"
. "$CAIRN_TOP/tests/e2e/lib/tap.sh"
. "$CAIRN_TOP/tools/federation_lib.sh"
TAP_SHOW="$T/out $T/err"

fed_init "$T" plan17 &&
fed_member "$T" analyst analyst &&
fed_member "$T" node n1 &&
fed_member "$T" node n2 || { notok "federation keys"; tap_done; }
printf 'region_id,name\n1,north\n2,south\n3,east\n4,west\n' >"$T/g4.csv"
printf 'cell_id,region_id\nc1,1\nc2,2\nc3,3\nc4,4\n' >"$T/cells.csv"
cat >"$T/n1.csv" <<EOF
subscriber_id,timestamp,cell_id
s1,2026-01-10T08:00:00Z,c1
s2,2026-01-10T09:00:00Z,c2
s3,2026-01-11T09:00:00Z,c2
EOF
cat >"$T/n2.csv" <<EOF
subscriber_id,timestamp,cell_id
t1,2026-01-10T08:00:00Z,c3
t2,2026-01-12T12:00:00Z,c1
t3,2026-02-10T12:00:00Z,c4
EOF
FED_ADVERTISE_SECONDS=8 FED_SHARE_SECONDS=8
export FED_ADVERTISE_SECONDS FED_SHARE_SECONDS
fed_coordinator_conf "$T" "g4 g4.csv" &&
fed_start_coordinator "$T" || { notok "coordinator starts"; tap_done; }
PIDS="$FED_COORD_PID"
fed_analyst_conf "$T" analyst
# n1 holds January only, n2 January and February.
fed_node_conf "$T" n1 "$T/n1.csv" "$T/cells.csv" g4 <<EOF
allow_kind = presence
allow_analyst = analyst
budget_rho_per_month = 1
max_rho_per_query = 0.5
data_months = 2026-01
EOF
fed_node_conf "$T" n2 "$T/n2.csv" "$T/cells.csv" g4 <<EOF
allow_kind = presence
allow_analyst = analyst
budget_rho_per_month = 1
max_rho_per_query = 0.5
data_months = 2026-01..2026-02
EOF
for nd in n1 n2; do
	"$CAIRN_BIN/cairn-node" serve -c "$T/$nd.conf" >>"$T/$nd.log" 2>&1 &
	PIDS="$PIDS $!"
done
ok "a coordinator and two nodes serve on 127.0.0.1"

AC="--config $T/analyst.conf"
Q="--kind presence --start 2026-01-10 --end 2026-01-17 --bucket day --k 1
    --geography g4 --rho 0.1 --participants n1,n2 --colluding 0"

# Both POLICY entries are logged once the nodes have started.
i=0
while [ $i -lt 100 ]; do
	# shellcheck disable=SC2086
	"$CAIRN" query budget $AC --timeout 20 >"$T/budget0" 2>"$T/err" &&
	    grep -q '^n1,' "$T/budget0" && grep -q '^n2,' "$T/budget0" && break
	sleep 0.2; i=$((i + 1))
done
has "budget: both holders' POLICY read from the log, nothing spent" \
    '^n1,2026-01,1,0,1,yes$' "$T/budget0"
has "budget: n2 declares February too" '^n2,2026-02,1,0,1,yes$' \
    "$T/budget0"

# --- the plan ------------------------------------------------------------
# shellcheck disable=SC2086
if "$CAIRN" query plan $AC $Q --regions "$T/g4.csv" >"$T/plan" 2>"$T/err"
then ok "query plan: submit's flags, budgets read"
else notok "query plan: submit's flags, budgets read"; fi
cp "$T/plan" "$T/out"
# 7 days x 4 regions, 2 nodes: Delta^2 = 7, x = ceil(18 * 1 * 28 / 1e9)
# = 1, sigma^2 = ceil(7e9 / (2 (1e8 - 1))) = 36, sigma_h^2 = 36 / 2 = 18,
# variance 36; rho_m = ceil(7e9 / 72) + 1 = 97222224 nano-rho.
has "plan: 28 cells" "^plan: presence over 2026-01-10 to 2026-01-17 (excluded), geography g4: 4 regions, 28 cells$"
has "plan: released variance 36 = 2 x 18" \
    "^released_variance: 36 per cell (n sigma_h^2 = 2 x 18; "
has "plan: each holder's January charge and what its budget keeps" \
    "^  n1  *2026-01  *0.097222224  *1  *0  *0.902777776$"
has "plan: epsilon at delta 1e-06" "^epsilon: [0-9.]* at delta 1e-06 (tight"
has "plan: not published without --publish" "^publish: no "
# shellcheck disable=SC2086
"$CAIRN" query plan $AC $Q --regions "$T/g4.csv" --publish >"$T/out" 2>&1
has "plan --publish: says the release is public" "^publish: yes "
# shellcheck disable=SC2086
"$CAIRN" query plan $AC $Q --regions "$T/g4.csv" --publish --format json \
    >"$T/out" 2>&1
has "plan --publish --format json: \"publish\": true" '"publish": true'
W=$(sed -n 's/^ci95_halfwidth: \([0-9]*\) .*/\1/p' "$T/plan")
V=$(sed -n 's/^released_variance: \([0-9]*\) .*/\1/p' "$T/plan")

# The old privacy planner's question (--bucket refused, a 1-day default)
# is gone: the plan takes --bucket like submit.
# shellcheck disable=SC2086
fails_with "plan needs --regions (the cells)" "--regions is required" \
    "$CAIRN" query plan $AC $Q
printf 'region_id,name\n1,north\n2,south\n' >"$T/g2.csv"
# shellcheck disable=SC2086
fails_with "plan refuses a regions file that is not the pinned one" \
    "is not the regions file" "$CAIRN" query plan $AC $Q --regions "$T/g2.csv"

# --- submit prints the same plan, and the charge is the plan ------------
# shellcheck disable=SC2086
if "$CAIRN" query submit $AC $Q --regions "$T/g4.csv" --purpose "plan e2e" \
    --id q-plan >"$T/sub" 2>"$T/err"; then ok "submit q-plan"
else notok "submit q-plan"; cp "$T/sub" "$T/out"; fi
grep -v '^  \|^charges:' "$T/plan" >"$T/plan.head"
grep -v '^  \|^charges:\|log-index' "$T/sub" >"$T/sub.head"
holds "submit prints the plan's summary" 'cmp -s "$T/plan.head" "$T/sub.head"'
has "submit: the charges without budgets" \
    "^  n1  *2026-01  *0.097222224  *-  *-  *-$" "$T/sub"
# shellcheck disable=SC2086
"$CAIRN" query wait $AC q-plan --timeout 60 >"$T/out" 2>&1
has "q-plan released" "^q-plan released"
# shellcheck disable=SC2086
"$CAIRN" query result $AC q-plan --regions "$T/g4.csv" --format json \
    >"$T/res.json" 2>"$T/err"
cp "$T/res.json" "$T/out"
has "release: ci95_halfwidth is the plan's" "\"ci95_halfwidth\": $W}"
has "release: variance is the plan's" "\"variance\": $V,"
has "release: region names beside ids" '"region": 1, "region_name": "north"'
has "release: columns is an array" '"columns": \["region", "region_name", "bucket", "value", "ci95_low", "ci95_high"\]'
has "release: delta printed as 1e-06" '"delta": 1e-06,'
# GeoJSON: each cell joined to its region's outline.
{
	echo '{"type": "FeatureCollection", "features": ['
	for r in 1 2 3 4; do
		[ "$r" -gt 1 ] && echo ','
		printf '{"type": "Feature", "properties": {"region_id": %d}, "geometry": {"type": "Polygon", "coordinates": [[[%d, 0], [%d.5, 0], [%d.5, 1], [%d, 1], [%d, 0]]]}}\n' \
		    "$r" "$r" "$r" "$r" "$r" "$r"
	done
	echo ']}'
} >"$T/g4.geojson"
# shellcheck disable=SC2086
"$CAIRN" query result $AC q-plan --regions "$T/g4.csv" --format geojson \
    --outlines "$T/g4.geojson" --output "$T/res.geojson" >"$T/out" 2>&1
holds "release as GeoJSON: 28 Polygon features with values and intervals" \
    "python3 -c \"import json,sys; d=json.load(open('$T/res.geojson')); f=d['features']; sys.exit(not (d['type'] == 'FeatureCollection' and len(f) == 28 and all(x['geometry']['type'] == 'Polygon' and x['properties']['ci95_high'] - x['properties']['value'] == $W for x in f) and f[0]['properties']['region_name'] == 'north'))\""
holds "--output leaves no temporary file beside the result" \
    '[ "$(ls "$T" | grep -c "^res.geojson")" -eq 1 ]'
head -n 3 "$T/g4.geojson" >"$T/half.geojson"
# shellcheck disable=SC2086
fails_with "geojson: a broken outlines file is refused, no output" \
    "half.geojson" "$CAIRN" query result $AC q-plan --regions "$T/g4.csv" \
    --format geojson --outlines "$T/half.geojson" --output "$T/no.geojson"
holds "nothing written for the refused output" '[ ! -e "$T/no.geojson" ]'
# shellcheck disable=SC2086
fails_with "result: names only from the regions file federation.conf pins" \
    "is not the regions file" "$CAIRN" query result $AC q-plan \
    --regions "$T/g2.csv"
i=0
while [ $i -lt 50 ]; do
	# shellcheck disable=SC2086
	"$CAIRN" query budget $AC >"$T/budget1" 2>"$T/err" &&
	    grep -q '^n2,2026-01,1,0.097222224,' "$T/budget1" &&
	    grep -q '^n1,2026-01,1,0.097222224,' "$T/budget1" && break
	sleep 0.2; i=$((i + 1))
done
cp "$T/budget1" "$T/out"
has "budget: n1's CHARGE entry is the planned charge, left 0.902777776" \
    '^n1,2026-01,1,0.097222224,0.902777776,yes$'
has "budget: n2's CHARGE entry is the planned charge" \
    '^n2,2026-01,1,0.097222224,0.902777776,yes$'
"$CAIRN_BIN/cairn-node" ledger export -c "$T/n1.conf" >"$T/out" 2>&1
has "n1's ledger holds the planned 97222224 nano-rho" \
    '"rho_nano":97222224,'
# shellcheck disable=SC2086
"$CAIRN" query plan $AC $Q --regions "$T/g4.csv" >"$T/out" 2>"$T/err"
has "plan again: spent and what would be left after a second query" \
    "^  n1  *2026-01  *0.097222224  *1  *0.097222224  *0.805555552$"

# An outlines file without region 4: refused, naming the region, nothing
# written.
head -n 7 "$T/g4.geojson" | sed '$ s/,$//' >"$T/g3.geojson"
echo ']}' >>"$T/g3.geojson"
# shellcheck disable=SC2086
fails_with "geojson: a region without an outline is refused by name" \
    "region 4 has no outline" "$CAIRN" query result $AC q-plan \
    --regions "$T/g4.csv" --format geojson --outlines "$T/g3.geojson" \
    --output "$T/no3.geojson"
holds "nothing written for the region without an outline" \
    '[ ! -e "$T/no3.geojson" ]'

# --- an exhausted budget ----------------------------------------------
# Two queries at rho 0.5 charge 0.437500001 each (x = 1 nano-rho of the
# distributed bound taken out first); with q-plan's 0.097222224 that
# leaves 0.027777774 of January, less than another q-plan.
QB="--kind presence --start 2026-01-10 --end 2026-01-17 --bucket day --k 1
    --geography g4 --rho 0.5 --participants n1,n2 --colluding 0"
for q in q-big1 q-big2; do
	# shellcheck disable=SC2086
	"$CAIRN" query submit $AC $QB --regions "$T/g4.csv" --purpose "$q" \
	    --id "$q" >"$T/out" 2>&1 &&
	    "$CAIRN" query wait $AC "$q" --timeout 60 >"$T/out" 2>&1
	has "$q released" "^$q released"
done
i=0
while [ $i -lt 50 ]; do
	# shellcheck disable=SC2086
	"$CAIRN" query budget $AC >"$T/budget2" 2>"$T/err" &&
	    grep -q '^n1,2026-01,1,0.972222226,' "$T/budget2" &&
	    grep -q '^n2,2026-01,1,0.972222226,' "$T/budget2" && break
	sleep 0.2; i=$((i + 1))
done
cp "$T/budget2" "$T/out"
has "budget: two charges of 0.437500001 on top of q-plan's" \
    '^n1,2026-01,1,0.972222226,0.027777774,yes$'
# shellcheck disable=SC2086
"$CAIRN" query plan $AC $Q --regions "$T/g4.csv" >"$T/out" 2>&1
has "plan: the query the budget cannot pay shows OVER BUDGET" \
    "^  n1  *2026-01  *0.097222224  *1  *0.972222226  *OVER BUDGET$"
# shellcheck disable=SC2086
"$CAIRN" query submit $AC $Q --regions "$T/g4.csv" --purpose "over" \
    --id q-over >"$T/out" 2>&1
# shellcheck disable=SC2086
"$CAIRN" query wait $AC q-over --timeout 60 >"$T/out" 2>&1
# shellcheck disable=SC2086
"$CAIRN" query status $AC q-over >>"$T/out" 2>&1
has "an exhausted budget: the query is refused by the holders, naming the budget" \
    "refused by n[12]: .*budget"
# shellcheck disable=SC2086
"$CAIRN" query budget $AC >"$T/out" 2>&1
holds "the refused query charged nothing (the same rows, more log entries)" \
    'grep -v "^#" "$T/out" >"$T/b3" && grep -v "^#" "$T/budget2" >"$T/b2" &&
    cmp -s "$T/b3" "$T/b2"'

# --- wrong log key ------------------------------------------------------
"$CAIRN" keys new --role analyst --name other --dir "$T/other" >/dev/null
AK=$(sed -n 's/^public //p' "$T/other/identity.pub")
awk -v k="$AK" '$3 == "coordinator" && $1 == "member" { $5 = k } { print }' \
    "$T/fed/federation.conf" >"$T/bad.conf"
sed "s|^federation = .*|federation = $T/bad.conf|" "$T/analyst.conf" \
    >"$T/bad-analyst.conf"
fails_with "budget: a checkpoint not signed by the pinned log key fails" \
    "not signed by the log key" \
    "$CAIRN" query budget --config "$T/bad-analyst.conf" --timeout 5

# --- coverage before spending -----------------------------------------
QF="--kind presence --start 2026-02-10 --end 2026-02-11 --bucket day --k 1
    --geography g4 --rho 0.1 --participants n1,n2 --colluding 0"
# shellcheck disable=SC2086
fails_with "a month n1 does not hold is refused, naming holder and month" \
    "holder n1 does not hold data-month 2026-02" \
    "$CAIRN" query submit $AC $QF --purpose "feb" --id q-feb
# shellcheck disable=SC2086
"$CAIRN" query plan $AC $QF --regions "$T/g4.csv" >"$T/out" 2>&1
has "plan flags the month n1 does not hold" \
    "^  n1  *2026-02 .*(NOT HELD: no data for this month)$"
# shellcheck disable=SC2086
"$CAIRN" query budget $AC >"$T/out" 2>&1
if grep -q '^n1,2026-02' "$T/out" || grep -q '^n2,2026-02,1,0\.' "$T/out"
then notok "the refused query charged nothing"
else ok "the refused query charged nothing"; fi
# shellcheck disable=SC2086
if "$CAIRN" query submit $AC $QF --purpose "feb anyway" --id q-feb2 \
    --allow-missing-months >"$T/out" 2>&1; then
	ok "--allow-missing-months: the query is accepted"
else notok "--allow-missing-months: the query is accepted"; fi
# shellcheck disable=SC2086
"$CAIRN" query wait $AC q-feb2 --timeout 60 >"$T/out" 2>&1
has "--allow-missing-months: released" "^q-feb2 released"

echo "1..$n"
tap_done
