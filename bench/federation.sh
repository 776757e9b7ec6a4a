#!/bin/sh
# federation.sh - the time a federated round spends outside the nodes'
# local computation (docs/benchmarks.md, "Benchmark: federation overhead").
#
# `cairn synth` makes 3 operators' CDR (CAIRN_BENCH_FED_SUBSCRIBERS,
# default 1000000, x 7 days) twice: 20 regions for a presence query (day
# buckets, k from the synth spec) and 300 regions for od
# (CAIRN_BENCH_FED_OD_SUBSCRIBERS, default the same), with pseudonyms of
# CAIRN_BENCH_FED_ID_HEX hex digits (default synth's, 10).  Keys, coordinator
# and nodes are set up as in tools/demo.sh (poll_seconds = 1); each node
# ingests its files into its store.  For each query:
#   1. each node's local computation alone: `cairn-node run-local --store
#      --no-noise` on its store, one node after the other;
#   2. the whole round: `cairn query submit` to `cairn query wait` returning
#      released (`query result` timed separately); with
#      CAIRN_BENCH_FED_ROUNDS=R (default 1, at most 6: the nodes' monthly
#      budget), R - 1 more rounds of the same query on the same daemons,
#      each reported alone (a daemon's first large round pays first-use
#      costs a long-running one has paid already);
# then prints the round time, the max and sum of the local times, the
# overhead (round - max local) against the 10% target, and the round split
# into phases from the daemons' logs, each line timestamped on arrival
# (bench/federation_ts.py; bench/federation_report.py).
# Every process started here is stopped and the temporary folder removed
# (KEEP=1 keeps it).
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
BENCH="$TOP/bench"
B=${CAIRN_BIN:-$TOP/build/bin}
C="$B/cairn"
N="$B/cairn-node"
CO="$B/cairn-coordinator"
SUBS=${CAIRN_BENCH_FED_SUBSCRIBERS:-1000000}
OD_SUBS=${CAIRN_BENCH_FED_OD_SUBSCRIBERS:-$SUBS}
ROUNDS=${CAIRN_BENCH_FED_ROUNDS:-1}
# Pseudonyms of this many hex digits (synth's default, 10, when unset).
ID_HEX=${CAIRN_BENCH_FED_ID_HEX:+--id-hex $CAIRN_BENCH_FED_ID_HEX}
# The interpreter itself, not a version manager's shim (a shim can take
# seconds to start, and lines written before the stamper reads are
# stamped late).
PY=$(python3 -c 'import sys; print(sys.executable)')
T=$(mktemp -d /tmp/cairn-fedbench-XXXXXX)
PIDS=""
COORD_PIDS=""
NODE_PIDS=""

die() { echo "federation: error: $*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
stop() {
	for p in "$@"; do kill "$p" 2>/dev/null || true; done
	for p in "$@"; do wait "$p" 2>/dev/null || true; done
}
cleanup() {
	stop $NODE_PIDS $COORD_PIDS
	stop $PIDS
	if [ -n "${KEEP:-}" ]; then echo "   files kept in $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
case $ROUNDS in
[1-6]) ;;
*) die "CAIRN_BENCH_FED_ROUNDS=$ROUNDS: 1 to 6 (the nodes' monthly budget" \
    "of 1.75 takes 7 queries of rho 0.25)" ;;
esac
for p in "$C" "$N" "$CO"; do [ -x "$p" ] || die "$p not built"; done

# run_logged LOG CMD...: CMD in the background, its stderr timestamped
# line by line into LOG; sets LAST to CMD's pid (the stamper's pid goes to
# PIDS, it ends when CMD closes the pipe).
run_logged() {
	log=$1; shift
	fifo="$log.fifo"
	mkfifo "$fifo"
	"$PY" "$BENCH/federation_ts.py" <"$fifo" >"$log" &
	PIDS="$PIDS $!"
	CAIRN_LOG=debug "$@" >"$fifo" 2>&1 &
	LAST=$!
}

echo "   $SUBS subscribers (presence, 20 regions), $OD_SUBS (od, 300 regions), 3 holders, 7 days"
t=$(now)
# Both geographies are made (the coordinator registers both).
"$C" synth --holders 3 --subscribers "$SUBS" --days 7 --regions 20 --one-file \
    --out "$T/d20" --no-truth --quiet $ID_HEX
"$C" synth --holders 3 --subscribers "$OD_SUBS" --days 7 --regions 300 --one-file \
    --out "$T/d300" --no-truth --quiet $ID_HEX
echo "   synth: $(since "$t") s"

CAIRN=$C
. "$TOP/tools/federation_lib.sh"
fed_init "$T" bench
for who in node:op1 node:op2 node:op3 analyst:nso; do
	fed_member "$T" "${who%%:*}" "${who#*:}" || die "keys for ${who#*:}"
done
FED_ADVERTISE_SECONDS=600 FED_SHARE_SECONDS=600 fed_coordinator_conf "$T" \
    "g20 $T/d20/regions.csv" "g300 $T/d300/regions.csv" || die "pin-geography"
run_logged "$T/coord.log" "$CO" serve -c "$T/coordinator.conf"
COORD_PIDS=$LAST
i=0
while [ $i -lt 100 ] && [ ! -s "$T/port" ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$T/port" ] || { cat "$T/coord.log" >&2; die "the coordinator did not start"; }
PORT=$(cat "$T/port")
i=0
while [ $i -lt 300 ] && ! grep -q "serving on port" "$T/coord.log"; do
	sleep 0.1; i=$((i + 1))
done
FED_PORT=$PORT fed_analyst_conf "$T" nso "$T/analyst.conf"

# setup DATASET GEO: node configs and stores for one dataset.
setup() {
	ds=$1; geo=$2; k=1
	for m in op1 op2 op3; do
		FED_PORT=$PORT FED_CALL_DEADLINE=60 FED_NODE_DATA_DIR="$T/$m/$ds" \
		    fed_node_conf "$T" $m "$T/$ds/holder$k/cdr" \
		    "$T/$ds/holder$k/cells.csv" $geo "$T/$m-$ds.conf" <<CONF
allow_kind = presence, od
allow_analyst = nso
budget_rho_per_month = 1.75
max_rho_per_query = 0.5
min_participants = 3
max_colluding = 1
CONF
		t=$(now)
		"$N" ingest --cdr "$T/$ds/holder$k/cdr" --cells "$T/$ds/holder$k/cells.csv" \
		    --data-dir "$T/$m/$ds/store" >"$T/$m-$ds-ingest.log" 2>&1 ||
		    { cat "$T/$m-$ds-ingest.log" >&2; die "$m: ingest failed"; }
		echo "   $m: ingest of holder$k ($ds) $(since "$t") s"
		k=$((k + 1))
	done
}

# bench NAME DATASET GEO: local times, then one federated round.
bench() {
	name=$1; ds=$2; geo=$3
	spec="$T/$ds/queries/$name.json"
	printf '\n -- %s on %s (%s)\n' "$name" "$ds" "$(cat "$spec")"
	LOCAL=""
	for m in op1 op2 op3; do
		t=$(now)
		"$N" run-local --store "$T/$m/$ds/store" --query "$spec" --no-noise \
		    --quiet --output "$T/$m-$name-local.csv" ||
		    die "$m: run-local failed"
		LOCAL="$LOCAL${LOCAL:+,}$m=$(since "$t")"
	done
	NODE_PIDS=""
	for m in op1 op2 op3; do
		run_logged "$T/$m.log.$ds" "$N" serve -c "$T/$m-$ds.conf"
		NODE_PIDS="$NODE_PIDS $LAST"
	done
	# Every stamper reads (each node's first line is in its log), then
	# the nodes settle into their first poll.
	for m in op1 op2 op3; do
		i=0
		while [ $i -lt 300 ] && ! grep -q "serving federation" "$T/$m.log.$ds"; do
			sleep 0.1; i=$((i + 1))
		done
		grep -q "serving federation" "$T/$m.log.$ds" || die "$m did not start"
	done
	sleep 2
	t0=$(now)
	"$C" query submit --config "$T/analyst.conf" --spec "$spec" \
	    --geography "$geo" --rho 0.25 --purpose "federation benchmark" \
	    --participants op1,op2,op3 --colluding 1 --id "$name" >/dev/null
	"$C" query wait "$name" --config "$T/analyst.conf" --timeout 1200 \
	    >"$T/$name.wait" 2>&1 || { cat "$T/$name.wait" >&2; die "$name: not released"; }
	t1=$(now)
	"$C" query result "$name" --config "$T/analyst.conf" --format csv \
	    --regions "$T/$ds/regions.csv" \
	    --output "$T/$name.csv"
	t2=$(now)
	# The same query again on the same daemons (CAIRN_BENCH_FED_ROUNDS).
	TIMES=""
	k=2
	while [ $k -le "$ROUNDS" ]; do
		a=$(now)
		"$C" query submit --config "$T/analyst.conf" --spec "$spec" \
		    --geography "$geo" --rho 0.25 --purpose "federation benchmark" \
		    --participants op1,op2,op3 --colluding 1 --id "$name-$k" \
		    >/dev/null
		"$C" query wait "$name-$k" --config "$T/analyst.conf" \
		    --timeout 1200 >"$T/$name-$k.wait" 2>&1 ||
		    { cat "$T/$name-$k.wait" >&2; die "$name-$k: not released"; }
		TIMES="$TIMES $a:$(now)"
		k=$((k + 1))
	done
	# A node's timing line may follow the release: let it be stamped.
	[ "$ROUNDS" -eq 1 ] || sleep 1
	stop $NODE_PIDS
	NODE_PIDS=""
	mkdir -p "$T/logs-$name"
	for m in op1 op2 op3; do cp "$T/$m.log.$ds" "$T/logs-$name/$m.log"; done
	cp "$T/coord.log" "$T/logs-$name/coord.log"
	echo "   released: $(($(grep -c -v "^#" "$T/$name.csv") - 1)) result rows"
	"$PY" "$BENCH/federation_report.py" "$name" "$t0" "$t1" "$t2" "$LOCAL" \
	    "$T/logs-$name"
	k=2
	for w in $TIMES; do
		printf '\n -- %s, round %d of %d on the same daemons\n' "$name" \
		    $k "$ROUNDS"
		"$PY" "$BENCH/federation_report.py" "$name-$k" "${w%%:*}" \
		    "${w#*:}" - "$LOCAL" "$T/logs-$name"
		k=$((k + 1))
	done
}

case ${CAIRN_BENCH_FED_ONLY:-both} in
both|presence) setup d20 g20; bench presence_day d20 g20 ;;
esac
case ${CAIRN_BENCH_FED_ONLY:-both} in
both|od) setup d300 g300; bench od d300 g300 ;;
esac
