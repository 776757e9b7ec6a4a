#!/bin/sh
# demo.sh BUILD_DIR - the main job (`make demo`): a whole cairn federation on
# loopback with synthetic data.
#
#  1. `cairn synth` makes a country of 50 regions and three mobile
#     operators' CDR files for 300,000 subscribers over 14 days, with a
#     displacement event, each operator's registered customers by region and
#     age category (region-level records), and the exact answer of every
#     query (ground truth);
#  2. `cairn keys` makes the federation CA, the coordinator's keys, three
#     nodes, a statistics office (analyst) and an auditor;
#  3. federation.conf pins the geography by the hash of its region file;
#     each node ingests its operator's files into its store; the coordinator
#     (which logs the federation's members as MEMBER entries) and the three
#     nodes (which publish their policies as POLICY entries) start on
#     127.0.0.1;
#  4. the statistics office asks seven questions, one of each kind (both
#     presence buckets), then follows each region's cohort across the
#     event (displacement) and derives the share away from home and the
#     flows above normal from that release; each node
#     computes locally, charges its ledger, adds its share of exact discrete
#     Gaussian noise and masks its vector; the coordinator sums; the office
#     gets noisy counts with 95% intervals, compared here with the ground
#     truth, and the displacement as the migration release shows it;
#  5. a query over a holder's monthly budget is refused, signed and logged;
#  6. a holder's ledger;
#  7. the auditor verifies the whole log, and one node's ledger against it;
#  8. the coordinator has kept the log as C2SP tiles in its public
#     directory ([public]) and serves it on loopback; tools/portal.mjs
#     installs the portal there (docs/portal.md) and the demo prints its
#     URL and the directory.
#
# Everything runs in a temporary folder that is removed at the end.  KEEP=1
# keeps it, CAIRN_DEMO_DIR=DIR makes it in DIR (new or empty) and keeps it:
# a kept folder's configs name a port chosen free at creation, and its
# start.sh and stop.sh (printed at the end) start and stop the federation
# again as it is.  CAIRN_DEMO_SUBSCRIBERS and CAIRN_DEMO_REGIONS change
# the size.  It takes well under two minutes on 2 cores.
set -eu
O=${1:-build}
B="$(cd "$O/bin" && pwd)"
C="$B/cairn"
N="$B/cairn-node"
CO="$B/cairn-coordinator"
if [ -n "${CAIRN_DEMO_DIR:-}" ]; then
	mkdir -p "$CAIRN_DEMO_DIR"
	[ -z "$(ls -A "$CAIRN_DEMO_DIR")" ] ||
	    { echo "cairn demo: error: $CAIRN_DEMO_DIR is not empty" >&2; exit 1; }
	T=$(cd "$CAIRN_DEMO_DIR" && pwd)
	KEEP=1
else
	T=$(mktemp -d /tmp/cairn-demo-XXXXXX)
fi
CAIRN=$C
. "$(dirname "$0")/federation_lib.sh"
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	if [ -n "${KEEP:-}" ]; then
		echo "demo files kept in $T (stopped); the same federation again:"
		echo "   start:  sh $T/start.sh"
		echo "   ask:    $C query list --config $T/analyst.conf"
		echo "   stop:   sh $T/stop.sh"
	else rm -rf "$T"; fi
}
trap cleanup EXIT INT TERM
# write_start_stop START STOP: the kept folder's scripts that start and
# stop the same federation again (nodes dial the fixed port of the
# coordinator.conf written above).
write_start_stop() {
	{
		echo '#!/bin/sh'
		echo '# start.sh - start this kept cairn demo federation again'
		echo '# (written by tools/demo.sh): the coordinator, then nodes op1,'
		echo '# op2, op3; logs appended to coord.log and NODE.log, process'
		echo '# ids in *.pid.  stop.sh stops it.'
		echo 'set -u'
		printf "D='%s'\nCO='%s'\nN='%s'\nC='%s'\nPORT=%s\n" "$T" "$CO" "$N" "$C" "$FED_PORT"
		cat <<'EOF'
if [ -s "$D/coordinator.pid" ] && kill -0 "$(cat "$D/coordinator.pid")" 2>/dev/null; then
	echo "start.sh: error: already running ($D/coordinator.pid)" >&2; exit 1
fi
rm -f "$D/port"
(cd "$D" && exec "$CO" serve -c "$D/coordinator.conf" </dev/null >>"$D/coord.log" 2>&1) &
echo $! >"$D/coordinator.pid"
i=0
while [ ! -s "$D/port" ]; do
	if ! kill -0 "$(cat "$D/coordinator.pid")" 2>/dev/null || [ $i -ge 300 ]; then
		echo "start.sh: error: the coordinator did not start on 127.0.0.1:$PORT; the end of $D/coord.log:" >&2
		tail -n 3 "$D/coord.log" >&2
		rm -f "$D/coordinator.pid"; exit 1
	fi
	sleep 0.1; i=$((i + 1))
done
for m in op1 op2 op3; do
	"$N" serve -c "$D/$m.conf" </dev/null >>"$D/$m.log" 2>&1 &
	echo $! >"$D/$m.pid"
done
echo "cairn demo federation running: coordinator on 127.0.0.1:$PORT, nodes op1 op2 op3"
echo "   ask:   $C query list --config $D/analyst.conf"
echo "   stop:  sh $D/stop.sh"
EOF
	} >"$1"
	{
		echo '#!/bin/sh'
		echo '# stop.sh - stop this kept cairn demo federation: SIGTERM to the'
		echo '# nodes, then the coordinator, 10 s each.  Written by tools/demo.sh.'
		echo 'set -u'
		printf "D='%s'\n" "$T"
		cat <<'EOF'
rc=0
for w in op1 op2 op3 coordinator; do
	[ -s "$D/$w.pid" ] || continue
	p=$(cat "$D/$w.pid")
	kill -TERM "$p" 2>/dev/null
	i=0
	while kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	if kill -0 "$p" 2>/dev/null; then
		echo "stop.sh: error: $w (pid $p) did not stop in 10 s" >&2; rc=1
	else
		rm -f "$D/$w.pid"
	fi
done
[ $rc -ne 0 ] || echo "cairn demo federation stopped; start it again: sh $D/start.sh"
exit $rc
EOF
	} >"$2"
	chmod 755 "$1" "$2"
}
step() { printf '\n== %s\n' "$*"; }
fail() { echo "cairn demo: error: $*" >&2; exit 1; }

SUBS=${CAIRN_DEMO_SUBSCRIBERS:-300000}
REGIONS=${CAIRN_DEMO_REGIONS:-50}
step "1. Synthetic country: $REGIONS regions, 3 operators, 14 days (cairn synth)"
"$C" synth --holders 3 --subscribers "$SUBS" --days 14 --regions "$REGIONS" --seed 7 \
    --start 2026-03-01 --one-file --out "$T/data" --quiet
python3 - "$T/data/manifest.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
d = m["displacement"]
print("   %d subscribers split %s across 3 operators; %d CDR rows from %s, UTC%+d min"
      % (m["subscribers"], "/".join(str(n) for n in m["holder_subscribers"]),
         m["cdr_rows"], m["start"], m["utc_offset_minutes"]))
print("   displacement on %s: %d%% of region %d's residents move to other regions"
      % (d["day"], round(d["share"] * 100), d["origin"]))
PY

step "2. Keys: federation CA, coordinator, 3 nodes, an analyst, an auditor (cairn keys)"
fed_init "$T" demo
for who in node:op1 node:op2 node:op3 analyst:nso auditor:audit; do
	fed_member "$T" "${who%%:*}" "${who#*:}" || fail "keys for ${who#*:}"
done
sed -n 's/^/   /p' "$T/fed/federation.conf" | cut -c1-100

step "3. Coordinator and three nodes on 127.0.0.1"
cp "$T/data/regions.csv" "$T/regions.csv"
# A kept folder is started again later: its configs name a fixed port,
# chosen free now.
if [ -n "${KEEP:-}" ]; then
	FED_LISTEN_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	export FED_LISTEN_PORT
fi
fed_coordinator_conf "$T" "demo $T/regions.csv" || fail "pinning the geography"
# The outlines cairn synth drew, for the portal's maps of published
# releases (copied into the public directory, docs/portal.md).
cp "$T/data/regions.geojson" "$T/regions.geojson"
sed -i "/^geography = demo /a outlines = demo $T/regions.geojson" "$T/coordinator.conf"
# The public log and the portal: a port chosen free now, fixed for a kept
# folder's start.sh; the public checkpoint is the newest one a majority
# of the three nodes cosigned, the quorum the portal checks.
PUB_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf '[public]\ndir = %s\nlisten = 127.0.0.1:%s\nport_file = %s\nwitness_quorum = 2\n' \
    "$T/public" "$PUB_PORT" "$T/public.port" >>"$T/coordinator.conf"
grep '^geography' "$T/fed/federation.conf" | sed 's/^/   federation.conf: /' | cut -c1-100
fed_start_coordinator "$T" || { cat "$T/coord.log" >&2; fail "the coordinator did not start"; }
PIDS="$FED_COORD_PID"
PORT=$FED_PORT
echo "   coordinator listening on 127.0.0.1:$PORT"
k=1
for m in op1 op2 op3; do
	FED_DATA_EXTRA="records = $T/data/holder$k/records.csv
geography_file = $T/regions.csv" fed_node_conf "$T" "$m" \
	    "$T/data/holder$k/cdr" "$T/data/holder$k/cells.csv" demo <<CONF
allow_kind = presence, od, residents, migration, visitors, population_by_category, displacement
allow_analyst = nso
budget_rho_per_month = 2
max_rho_per_query = 0.5
min_participants = 3
max_colluding = 1
CONF
	# Ingest once into the node's binary store, which serve then reads.
	"$N" ingest --cdr "$T/data/holder$k/cdr" --cells "$T/data/holder$k/cells.csv" \
	    --data-dir "$T/$m/data/store" >"$T/$m-ingest.log" 2>&1 ||
	    { cat "$T/$m-ingest.log" >&2; fail "$m: ingest failed"; }
	"$N" serve -c "$T/$m.conf" >"$T/$m.log" 2>&1 &
	PIDS="$PIDS $!"
	echo "   node $m: holder$k's CDR ingested into its store, its region-level records beside; serving (it dials out, no inbound port)"
	k=$((k + 1))
done
fed_analyst_conf "$T" nso "$T/analyst.conf"
[ -z "${KEEP:-}" ] || write_start_stop "$T/start.sh" "$T/stop.sh"

# compare RESULT TRUTH KEYCOLS: join noisy cells with the exact federation
# answer and report how many exact values fall inside their 95% interval.
compare() {
	python3 - "$1" "$2" "$3" <<'PY'
import csv, sys
res, truth, nkey = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(truth) as f:
    rows = list(csv.reader(f))
exact = {tuple(r[:nkey]): int(r[nkey]) for r in rows[1:]}
with open(res) as f:
    lines = [l for l in f if not l.startswith('#')]
rd = list(csv.reader(lines))
# The region names beside the ids (region_name, ...) are not part of the key.
keep = [i for i, c in enumerate(rd[0]) if not c.endswith('_name')]
rd = [[r[i] for i in keep] for r in rd]
head, body = rd[0], rd[1:]
iv, ilo, ihi = head.index('value'), head.index('ci95_low'), head.index('ci95_high')
inside = 0
shown = 0
abserr = 0
print('   %-34s %8s %8s %20s' % (','.join(head[:nkey]), 'exact', 'noisy', '95% interval'))
for r in body:
    key = tuple(r[:nkey])
    e = exact.get(key, 0)
    lo, hi = int(r[ilo]), int(r[ihi])
    inside += lo <= e <= hi
    abserr += abs(int(r[iv]) - e)
    if e > 0 and shown < 8:
        print('   %-34s %8d %8s %20s' % (','.join(key), e, r[iv], '[%d, %d]' % (lo, hi)))
        shown += 1
print('   %d cells: mean absolute error %.2f; the exact count lies inside the 95%% '
      'interval in %.1f%% of cells' % (len(body), abserr / len(body),
                                        100.0 * inside / len(body)))
PY
}

# ask NAME KEYS PURPOSE: submit queries/NAME.json at rho 0.25, signed
# with --publish (the release goes to the public directory for the
# portal), wait for the release, fetch it and compare it with the ground
# truth.
ask() {
	"$C" query submit --config "$T/analyst.conf" --spec "$T/data/queries/$1.json" \
	    --geography demo --rho 0.25 --purpose "$3" --participants op1,op2,op3 \
	    --colluding 1 --id "$1" --publish | sed 's/^/   /'
	"$C" query wait "$1" --config "$T/analyst.conf" --timeout 300 | sed 's/^/   /'
	"$C" query result "$1" --config "$T/analyst.conf" --regions "$T/regions.csv" \
	    --format csv --output "$T/$1.csv"
	grep '^#' "$T/$1.csv" | sed 's/^/   /'
	compare "$T/$1.csv" "$T/data/truth/$1.csv" "$2"
}

i=0	# the log's first entries: the members, then each node's policy
while [ $i -lt 100 ] && [ "$(grep -c 'POLICY of node' "$T/coord.log")" -lt 3 ]; do
	sleep 0.1; i=$((i + 1)); done
echo "   the log opens with $(grep -c 'MEMBER added' "$T/coord.log") MEMBER entries and $(grep -c 'POLICY of node' "$T/coord.log") POLICY entries"

step "4. The statistics office asks seven questions, each at rho 0.25 (each data-month read pays its own share, at most that)"
# The price of collusion resistance (docs/threat-model.md): the noise of
# the n - c honest nodes alone must give rho; the queries here plan c = 1.
echo "   planned against c colluding nodes, presence_day (k 2, 14 days) costs in accuracy:"
for c in 0 1 2; do
	"$C" privacy plan --kind presence --k 2 --days 14 --rho 0.25 --nodes 3 \
	    --colluding "$c" | awk -v c="$c" '
	    $1 == "sigma_h2:" { s = $2 } $1 == "released_variance:" { v = $2 }
	    $1 == "ci95_halfwidth:" { w = $2 }
	    END { printf "   colluding %d: sigma_h^2 %d per node, variance %d, 95%% interval +- %d\n", c, s, v, w }'
done
for q in "presence_day 2 present population per region and day" \
    "presence_hour 2 present population per region and hour" \
    "residents 1 residents per home region" \
    "od 3 origin-destination flows between consecutive days" \
    "migration 2 home region before and after the displacement" \
    "visitors 2 visitors per region and day" \
    "population_by_category 2 registered customers per region and age category"; do
	set -- $q
	name=$1; keys=$2; shift 2
	printf '\n -- %s: %s\n' "$name" "$*"
	ask "$name" "$keys" "$*"
done

printf '\n -- the displacement, as the released migration matrix shows it\n'
python3 - "$T/migration.csv" "$T/data/truth/migration.csv" "$T/data/manifest.json" <<'PY'
import csv, json, sys
m = json.load(open(sys.argv[3]))["displacement"]
o = str(m["origin"])
def moved(path, col):
    rows = list(csv.reader(l for l in open(path) if not l.startswith('#')))
    h = rows[0]
    stay = out = 0
    for r in rows[1:]:
        if r[0] == o:
            v = int(r[h.index(col)])
            if r[1] == o: stay += v
            else: out += v
    return out, stay + out
no, nt = moved(sys.argv[1], 'value')
eo, et = moved(sys.argv[2], 'count')
print('   region %s: %d of %d baseline residents live elsewhere afterwards by the noisy '
      'release (%.1f%%); exact %d of %d (%.1f%%); the generator displaced %d%%'
      % (o, no, nt, 100.0 * no / max(nt, 1), eo, et, 100.0 * eo / max(et, 1),
         round(m["share"] * 100)))
PY

printf '\n -- displacement: the cohort of each home region followed day by day across the event\n'
# The home over the first four days, the cohort followed from three days
# before the event to the end, so the curve has a before and an after.
python3 - "$T/data/queries/displacement.json" "$T/displacement.json" <<'PY'
import datetime, json, sys
q = json.load(open(sys.argv[1]))
d = lambda s: datetime.date.fromisoformat(s)
x = d(q["start"])
q["baseline"] = [q["baseline"][0], str(x - datetime.timedelta(days=3))]
q["start"] = str(x - datetime.timedelta(days=3))
json.dump(q, open(sys.argv[2], "w"))
open(sys.argv[2] + ".normal", "w").write("%s,%s" % (q["start"], x))
print("   spec: " + json.dumps(q))
PY
"$C" query submit --config "$T/analyst.conf" --spec "$T/displacement.json" \
    --geography demo --rho 0.25 --purpose "displacement across the event" \
    --participants op1,op2,op3 --colluding 1 --id displacement | sed 's/^/   /'
"$C" query wait displacement --config "$T/analyst.conf" --timeout 300 | sed 's/^/   /'
"$C" query result displacement --config "$T/analyst.conf" --regions "$T/regions.csv" \
    --format csv --output "$T/displacement.csv"
grep '^#' "$T/displacement.csv" | sed 's/^/   /'
# Derived from the released cells only (no budget): the share away from
# home, and the outflow above the normal of the three days before.
"$C" query derive share-away --input "$T/displacement.csv" --output "$T/share.csv"
"$C" query derive above-normal --input "$T/displacement.csv" \
    --normal-days "$(cat "$T/displacement.json.normal")" \
    --output "$T/above.csv"
python3 - "$T/share.csv" "$T/above.csv" "$T/data/manifest.json" <<'PY'
import csv, json, sys
m = json.load(open(sys.argv[3]))["displacement"]
o = str(m["origin"])
rows = lambda p: list(csv.DictReader(l for l in open(p) if not l.startswith('#')))
above = {r["day"]: r for r in rows(sys.argv[2]) if r["home"] == o and r["region"] == "all"}
print("   region %s, event on %s: share of its seen cohort away from home (Fieller 95%% "
      "interval), and the outflow above the pre-event normal" % (o, m["day"]))
for r in rows(sys.argv[1]):
    if r["home"] != o:
        continue
    a = above.get(r["day"])
    print("   %s%s away %6s of %6s  share %s  [%s, %s]%s" % (
        r["day"], " *" if r["day"] >= m["day"] else "  ", r["away"], r["seen"],
        r["share_away"], r["ci95_low"], r["ci95_high"],
        "" if a is None else "   above normal %9s [%s, %s]" % (
            a["above_normal"], a["ci95_low"], a["ci95_high"])))
print("   (* on and after the event; the first three days are the normal)")
PY

step "5. A query over the holders' monthly budget (2 per data-month, about 1.73 of March spent) is refused"
"$C" query submit --config "$T/analyst.conf" --spec "$T/data/queries/residents.json" \
    --geography demo --rho 0.5 --purpose "residents again" --participants op1,op2,op3 \
    --colluding 1 --id residents-2 | sed 's/^/   /'
"$C" query wait residents-2 --config "$T/analyst.conf" --timeout 120 2>&1 | sed 's/^/   /' || true

step "6. Each holder's ledger (cairn-node ledger show)"
"$N" ledger show -c "$T/op1.conf" | sed 's/^/   /'
"$N" ledger export -c "$T/op1.conf" >"$T/op1-ledger.jsonl"

step "7. The auditor verifies the whole log, and op1's ledger against it (cairn audit verify)"
# The auditor reads the newest checkpoint and requires all three nodes'
# witness cosignatures on it; nodes cosign a new checkpoint at their next
# poll, so the first tries may come too early and are repeated.
i=0
while :; do
	if "$C" audit verify --coordinator "127.0.0.1:$PORT" \
	    --federation "$T/fed/federation.conf" --ca "$T/audit/ca.crt" \
	    --tls-cert "$T/audit/tls.crt" --tls-key "$T/audit/tls.key" \
	    --state "$T/audit/state" --ledger "$T/op1-ledger.jsonl" --node op1 \
	    --quorum 3 >"$T/audit.out" 2>&1; then
		break
	fi
	i=$((i + 1))
	[ $i -lt 40 ] || { sed 's/^/   /' "$T/audit.out"; fail "the audit found problems"; }
	sleep 0.5
done
sed 's/^/   /' "$T/audit.out"

step "8. The public log and the portal (docs/portal.md)"
# tools/portal.mjs beside this script, in the source tree and installed.
node "$(dirname "$0")/portal.mjs" --federation "$T/fed/federation.conf" \
    --public "$T/public" >"$T/portal.out" 2>&1 ||
    { sed 's/^/   /' "$T/portal.out"; fail "the portal's check of the public log failed"; }
sed 's/^/   /' "$T/portal.out"
echo "   public directory: $T/public"
# The releases signed with --publish, with the migration matrix that
# shows the staged displacement (docs/portal.md, "Published statistics").
MIG=$(grep -l '"query_id":"migration"' "$T/public/releases/"*.json 2>/dev/null | head -1)
[ -n "$MIG" ] || fail "the migration release was not published"
echo "   published statistics: $(ls "$T/public/releases" | wc -l) release files in $T/public/releases"
echo "   the displacement on the migration map: http://127.0.0.1:$PUB_PORT/#stats-$(basename "$MIG" .json)"
echo "   portal: http://127.0.0.1:$PUB_PORT/ (while the federation runs; the log as text: http://127.0.0.1:$PUB_PORT/log.html)"

step "Done: raw records never left the holders; the log above is public and verified."
