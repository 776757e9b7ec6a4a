#!/bin/sh
# demo_small.sh - the main job, `cairn demo` (= make demo), at a small size:
# the whole federation on loopback must run to its end, release every
# question (one of each kind, population_by_category and displacement
# included, with the share away derived from the latter), refuse the
# query over budget, and pass the auditor's check, whose log holds the
# members' MEMBER entries and the nodes' POLICY entries.
set -u
: "${CAIRN_BIN:?}"
out=$(mktemp /tmp/cairn-demo-out-XXXXXX)
trap 'rm -f "$out"' EXIT
n=0
fails=0
check() {
	n=$((n + 1))
	if grep -q -- "$2" "$out"; then echo "ok $n - $1"; else
		echo "not ok $n - $1"; fails=$((fails + 1)); fi
}
if CAIRN_DEMO_SUBSCRIBERS=20000 CAIRN_DEMO_REGIONS=10 "$CAIRN_BIN/cairn" demo \
    >"$out" 2>&1; then
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
echo "1..$n"
[ "$fails" -eq 0 ]
