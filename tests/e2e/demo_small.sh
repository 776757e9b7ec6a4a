#!/bin/sh
# demo_small.sh - the main job, `cairn demo` (= make demo), at a small size:
# the whole federation on loopback must run to its end, release every
# question (one of each kind, population_by_category and displacement
# included, with the share away derived from the latter), refuse the
# query over budget, and pass the auditor's check, whose log holds the
# members' MEMBER entries and the nodes' POLICY entries.  The demo's folder
# is kept (CAIRN_DEMO_DIR) and started and stopped twice more with the
# start.sh and stop.sh it prints: the same federation serves its old
# queries and answers a new one each time.
set -u
: "${CAIRN_BIN:?}"
out=$(mktemp /tmp/cairn-demo-out-XXXXXX)
DD=$(mktemp -d /tmp/cairn-demo-dir-XXXXXX)
rmdir "$DD"
cleanup() {
	[ -x "$DD/stop.sh" ] && sh "$DD/stop.sh" >/dev/null 2>&1
	rm -rf "$out" "$DD"
}
trap cleanup EXIT
n=0
fails=0
check() {
	n=$((n + 1))
	if grep -q -- "$2" "$out"; then echo "ok $n - $1"; else
		echo "not ok $n - $1"; fails=$((fails + 1)); fi
}
if CAIRN_DEMO_DIR=$DD CAIRN_DEMO_SUBSCRIBERS=20000 CAIRN_DEMO_REGIONS=10 \
    "$CAIRN_BIN/cairn" demo >"$out" 2>&1; then
	n=$((n + 1)); echo "ok $n - cairn demo exits 0"
else
	n=$((n + 1)); echo "not ok $n - cairn demo exits 0"; fails=$((fails + 1))
	sed 's/^/# /' "$out" | tail -n 40
fi
for q in presence_day presence_hour residents od migration visitors \
    population_by_category displacement; do
	check "$q released" "$q released attempt"
done
check "the collusion trade-off in numbers" \
    "colluding 2: sigma_h^2 56 per node, variance 168, 95% interval +- 25"
check "intervals compared with the ground truth" "the exact count lies inside the 95% interval"
check "the query over budget is refused" "refused by op[123]: budget"
check "the auditor's verification passes" "^   ok: log size"
check "the log records the members and the nodes' policies" \
    "^   ok: log size .*, 6 member changes, 3 policies"
check "population_by_category beside its ground truth" \
    "registered customers per region and age category"
check "displacement: the affected region's share away, derived with intervals" \
    "share of its seen cohort away from home (Fieller 95% interval)"
check "displacement: an event day's outflow above the pre-event normal" \
    "^   2026-03-08 \* away .* above normal"
check "the portal: the log verified and log.html written (tools/portal.mjs)" \
    "log of [0-9]* entries verified, log.html and log.fr.html written"
check "the portal's URL is printed" "portal: http://127.0.0.1:[0-9]*/"
check "... and the public directory" "public directory: $DD/public"
check "the kept folder's start and stop commands are printed" \
    "start:  sh $DD/start.sh"
check "... and its stop command" "stop:   sh $DD/stop.sh"

# The kept folder, started again twice as it is.
C="$CAIRN_BIN/cairn"
for round in 1 2; do
	if sh "$DD/start.sh" >"$out" 2>&1; then
		n=$((n + 1)); echo "ok $n - run $round: start.sh starts the kept federation"
	else
		n=$((n + 1)); fails=$((fails + 1))
		echo "not ok $n - run $round: start.sh starts the kept federation"
		sed 's/^/# /' "$out"; break
	fi
	"$C" query list --config "$DD/analyst.conf" >"$out" 2>&1
	check "run $round: the old queries are served" "presence_day.*released"
	"$C" query submit --config "$DD/analyst.conf" \
	    --spec "$DD/data/queries/residents.json" --geography demo \
	    --rho 0.001 --purpose "after restart $round" \
	    --participants op1,op2,op3 --colluding 1 --id "again-$round" \
	    >"$out" 2>&1 &&
	    "$C" query wait "again-$round" --config "$DD/analyst.conf" \
	    --timeout 120 >>"$out" 2>&1
	check "run $round: the nodes answer a new query" \
	    "again-$round released attempt"
	if sh "$DD/stop.sh" >"$out" 2>&1 && ! ls "$DD"/*.pid >/dev/null 2>&1; then
		n=$((n + 1)); echo "ok $n - run $round: stop.sh stops it"
	else
		n=$((n + 1)); fails=$((fails + 1))
		echo "not ok $n - run $round: stop.sh stops it"; sed 's/^/# /' "$out"
	fi
done
if "$CAIRN_BIN/cairn-coordinator" verify -c "$DD/coordinator.conf" >"$out" 2>&1
then n=$((n + 1)); echo "ok $n - the kept coordinator's state verifies"
else n=$((n + 1)); fails=$((fails + 1))
	echo "not ok $n - the kept coordinator's state verifies"; sed 's/^/# /' "$out"
fi
echo "1..$n"
[ "$fails" -eq 0 ]
