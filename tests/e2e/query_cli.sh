#!/bin/sh
# query_cli.sh - `cairn query` from the command line with a real
# federation made by `cairn keys`: help, argument and spec errors, the
# identity checks, analyst.conf, and an unreachable coordinator, each a
# single "cairn query: error: SUB: ..." line with exit 1, and `query
# derive` on a hand-written displacement release.  The online
# paths against a coordinator are in tests/unit/test_query_online.c.
set -u
CAIRN="${CAIRN_BIN:-build/bin}/cairn"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "${CAIRN_TOP:-.}/tests/e2e/lib/tap.sh"

# expect_fail DESC NEEDLE CMD...: exit 1, nothing on stdout, one stderr
# line "cairn query: error: ..." containing NEEDLE
expect_fail() { _d=$1; _w=$2; shift 2; fails_cleanly "$_d" "cairn query" "$_w" "$@"; }

# A federation with one analyst.
"$CAIRN" keys init-federation --name demo --dir "$T/fed" >/dev/null 2>&1 &&
"$CAIRN" keys new --role analyst --name stats --dir "$T/stats" >/dev/null 2>&1 &&
"$CAIRN" keys issue --ca "$T/fed" --csr "$T/stats/tls.csr" \
    --out "$T/stats/tls.crt" >/dev/null 2>&1 &&
"$CAIRN" keys add-member --ca "$T/fed" --pub "$T/stats/identity.pub" \
    --cert "$T/stats/tls.crt" >/dev/null 2>&1
if [ $? -eq 0 ]; then ok "federation with an analyst"; else
	notok "federation with an analyst"; fi

cat >"$T/analyst.conf" <<CONF
[analyst]
identity_key = $T/stats/identity.key
tls_key = $T/stats/tls.key
tls_cert = $T/stats/tls.crt
ca_cert = $T/fed/ca.crt
coordinator = 127.0.0.1:1
federation = $T/fed/federation.conf
CONF
SPEC="--kind presence --start 2026-01-05 --end 2026-01-08 --bucket day --k 1"
ASK="--geography g1 --rho 0.1 --purpose test --participants alpha,beta --colluding 1"

out=$("$CAIRN" query --help 2>&1)
if [ $? -eq 0 ] && echo "$out" | grep -q "submit" &&
    echo "$out" | grep -q "result"; then ok "query --help lists the commands"
else notok "query --help lists the commands ($out)"; fi
out=$("$CAIRN" query submit --help 2>&1)
if [ $? -eq 0 ] && echo "$out" | grep -q -- "--participants"; then
	ok "submit --help"; else notok "submit --help ($out)"; fi

# shellcheck disable=SC2086
expect_fail "a missing --rho is named" "submit: --rho is required" \
	"$CAIRN" query submit --config "$T/analyst.conf" $SPEC \
	--geography g1 --purpose p --participants a,b --colluding 1
# shellcheck disable=SC2086
expect_fail "a spec field the kind needs is named" \
	"missing field 'bucket' (required by kind 'presence')" \
	"$CAIRN" query submit --config "$T/analyst.conf" --kind presence \
	--start 2026-01-05 --end 2026-01-08 --k 1 $ASK
# shellcheck disable=SC2086
expect_fail "c must be below n" "--colluding: 2 must be below the 2" \
	"$CAIRN" query submit --config "$T/analyst.conf" $SPEC \
	--geography g1 --rho 0.1 --purpose p --participants alpha,beta \
	--colluding 2
# shellcheck disable=SC2086
expect_fail "the coordinator's key is not an analyst's" "not an analyst's" \
	"$CAIRN" query submit --config "$T/analyst.conf" \
	--key "$T/fed/coordinator/identity.key" $SPEC $ASK
printf '{"kind": "residents", "start": "2026-01-05", "end": "2026-01-06", "k": 3}\n' >"$T/q.json"
# shellcheck disable=SC2086
expect_fail "a spec file's bad field is named" "field 'k'" \
	"$CAIRN" query submit --config "$T/analyst.conf" --spec "$T/q.json" $ASK
# shellcheck disable=SC2086
expect_fail "an unreachable coordinator is one line" "submit: SubmitQuery" \
	"$CAIRN" query submit --config "$T/analyst.conf" $SPEC $ASK
printf '[analyst]\ncolour = red\n' >"$T/bad.conf"
expect_fail "analyst.conf errors name file and line" "bad.conf:2" \
	"$CAIRN" query status --config "$T/bad.conf" q1
expect_fail "result needs --regions" "result: --regions is required" \
	"$CAIRN" query result --config "$T/analyst.conf" q1
expect_fail "result --format is csv, json or geojson" "'xml' is not csv, json or geojson" \
	"$CAIRN" query result --config "$T/analyst.conf" q1 --format xml
expect_fail "status needs an id" "the query id is required" \
	"$CAIRN" query status --config "$T/analyst.conf"
expect_fail "wait: unreachable coordinator" "wait: GetQuery" \
	"$CAIRN" query wait --config "$T/analyst.conf" q1 --timeout 1
"$CAIRN" query frobnicate >/dev/null 2>&1
if [ $? -ne 0 ]; then ok "unknown subcommand exits non-zero"; else
	notok "unknown subcommand exits non-zero"; fi

# derive: from a released displacement result (two regions, two days;
# the second day is the normal of the first), offline.
cat >"$T/disp.csv" <<'CSV'
# query d kind displacement released at log index 9
# noise variance 4 per cell, 95% interval value +- 4
home,day,region,value,ci95_low,ci95_high
5,2026-03-08,5,60,56,64
5,2026-03-08,9,40,36,44
5,2026-03-08,none,3,-1,7
5,2026-03-09,5,90,86,94
5,2026-03-09,9,10,6,14
5,2026-03-09,none,2,-2,6
9,2026-03-08,5,1,-3,5
9,2026-03-08,9,10,6,14
9,2026-03-08,none,0,-4,4
9,2026-03-09,5,2,-2,6
9,2026-03-09,9,10,6,14
9,2026-03-09,none,0,-4,4
CSV
"$CAIRN" query derive share-away --input "$T/disp.csv" >"$T/out" 2>&1
holds "derive share-away: one row per home and day" \
    "[ \$(grep -c '^[59],2026-03-0[89],' '$T/out') -eq 4 ]"
holds "derive share-away: 40 of 100 seen are away, share 0.4 with an interval" \
    "grep -q '^5,2026-03-08,100,40,0.4000,0.3[0-9]*,0.4[0-9]*$' '$T/out'"
"$CAIRN" query derive above-normal --input "$T/disp.csv" \
    --normal-days 2026-03-09,2026-03-10 --output "$T/above.csv" >"$T/out" 2>&1
holds "derive above-normal: 30 above the normal of 10, the normal days left out" \
    "grep -q '^5,2026-03-08,9,40,10.00,30.00,' '$T/above.csv' && grep -q '^5,2026-03-08,all,40,10.00,30.00,' '$T/above.csv' && ! grep -q '^[59],2026-03-09' '$T/above.csv'"
expect_fail "derive without a derivation" "say share-away or above-normal" \
    "$CAIRN" query derive --input "$T/disp.csv"
expect_fail "derive above-normal without a normal" "above-normal needs --normal" \
    "$CAIRN" query derive above-normal --input "$T/disp.csv"
expect_fail "derive: normal days outside the release" "--normal-days: '2026-03-01,2026-03-02' is not a non-empty window" \
    "$CAIRN" query derive above-normal --input "$T/disp.csv" --normal-days 2026-03-01,2026-03-02
head -n 14 "$T/disp.csv" >"$T/short.csv"
expect_fail "derive: a release with cells missing" "are not regions x days x (regions + 1)" \
    "$CAIRN" query derive share-away --input "$T/short.csv"
printf 'region,count\n1,2\n' >"$T/res.csv"
expect_fail "derive: not a displacement result, file and line named" "res.csv:1: not a displacement result" \
    "$CAIRN" query derive share-away --input "$T/res.csv"

echo "1..$n"
[ "$fails" -eq 0 ]
