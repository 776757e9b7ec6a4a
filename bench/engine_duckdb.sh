#!/bin/sh
# engine_duckdb.sh [--check-small] - cairn's aggregation engine against
# DuckDB on the same CSV file (docs/benchmarks.md).
#
#   (no argument)   `cairn synth` writes one holder's CDR as one file
#                   (CAIRN_BENCH_SUBSCRIBERS, default 1000000, x
#                   CAIRN_BENCH_DAYS, default 7); DuckDB (2 threads) and
#                   `cairn-node run-local --no-noise` (2 threads) run four
#                   queries (presence by day with k large, residents, od,
#                   migration) from the CSV, then DuckDB on its loaded table
#                   and cairn on its ingested store; results must be
#                   identical; prints times, ratios, peak memory and the
#                   machine's parse-only throughput.
#                   CAIRN_BENCH_SCALE=1 repeats the CSV and store runs for
#                   100k, 1M and 3M subscribers and prints how they grow.
#                   Each query runs CAIRN_BENCH_REPEAT times on each side
#                   (default 3, 1 with CAIRN_BENCH_SCALE=1) and the fastest
#                   run counts; the load average is printed beside.
#   --check-small   DuckDB and cairn on small hand-made data (ties, offset
#                   and midnight edges; bench/small_data.py, whose
#                   Python reference gives the expected answers) and on a
#                   small `cairn synth` federation (against its truth).
#
# @duckdb/node-api is installed from npm into build/duckdb-node (kept).
# Without cairn-node in $CAIRN_BIN (a tree without the engine), the DuckDB
# side is still run and checked against `cairn synth`'s ground truth.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
BENCH="$TOP/bench"
BIN=${CAIRN_BIN:-$TOP/build/bin}
NODE_BIN=${CAIRN_NODE:-$BIN/cairn-node}
SCRATCH="$TOP/build/duckdb-node"
DUCKDB_VERSION=1.5.6-r.1
THREADS=2
if [ "${CAIRN_BENCH_SCALE:-0}" = 1 ]; then
	REPEAT=${CAIRN_BENCH_REPEAT:-1}
else
	REPEAT=${CAIRN_BENCH_REPEAT:-3}
fi
export DUCKDB_NODE_DIR="$SCRATCH"

die() { echo "engine_duckdb: error: $*" >&2; exit 1; }

have_engine() { [ -x "$NODE_BIN" ]; }

install_duckdb() {
	[ -f "$SCRATCH/node_modules/@duckdb/node-api/package.json" ] && return 0
	command -v npm >/dev/null 2>&1 || die "npm not found (Node.js 18+ needed)"
	tmp="$SCRATCH.tmp.$$"
	rm -rf "$tmp"
	mkdir -p "$tmp" || die "cannot create $tmp"
	echo '{"name": "cairn-bench-duckdb", "private": true}' > "$tmp/package.json"
	if ! (cd "$tmp" && npm install --no-audit --no-fund --loglevel=error \
	    "@duckdb/node-api@$DUCKDB_VERSION" >&2); then
		rm -rf "$tmp"
		die "npm install @duckdb/node-api@$DUCKDB_VERSION failed"
	fi
	# Another run may have won the race; either copy will do.
	mv "$tmp" "$SCRATCH" 2>/dev/null || rm -rf "$tmp"
	[ -f "$SCRATCH/node_modules/@duckdb/node-api/package.json" ] ||
	    die "@duckdb/node-api missing in $SCRATCH"
}

duck() { node "$BENCH/duckdb_run.mjs" --threads $THREADS "$@"; }

# run_cairn OUT QUERY ARGS... : run-local into OUT; "SECONDS PEAK_KB" in
# OUT.time (with RC_REPEAT=N: the fastest of N runs, the largest peak).
run_cairn() {
	rc_out=$1 rc_q=$2
	shift 2
	rc_best="" rc_mem=0 rc_i=0
	while [ $rc_i -lt "${RC_REPEAT:-1}" ]; do
		/usr/bin/time -f '%e %M' -o "$rc_out.time" "$NODE_BIN" \
		    run-local "$@" --query "$rc_q" --no-noise \
		    --threads $THREADS --quiet --output "$rc_out" ||
		    die "cairn-node run-local $rc_q failed"
		read -r rc_t rc_m < "$rc_out.time"
		if [ -z "$rc_best" ] || awk -v a="$rc_t" -v b="$rc_best" \
		    'BEGIN { exit !(a < b) }'; then
			rc_best=$rc_t
		fi
		[ "$rc_m" -gt "$rc_mem" ] && rc_mem=$rc_m
		rc_i=$((rc_i + 1))
	done
	echo "$rc_best $rc_mem" > "$rc_out.time"
}

# best_time N CMD... : the fastest wall time of N runs of CMD, as
# "SECONDS CPU_SECONDS" (user + system of that run).
best_time() {
	bt_n=$1 bt_best="" bt_cpu="" bt_i=0
	shift
	while [ $bt_i -lt "$bt_n" ]; do
		/usr/bin/time -f '%e %U %S' -o "$W/bt.time" "$@" > /dev/null ||
		    die "$1 failed"
		read -r bt_t bt_u bt_s < "$W/bt.time"
		if [ -z "$bt_best" ] || awk -v a="$bt_t" -v b="$bt_best" \
		    'BEGIN { exit !(a < b) }'; then
			bt_best=$bt_t
			bt_cpu=$(awk -v u="$bt_u" -v s="$bt_s" \
			    'BEGIN { print u + s }')
		fi
		bt_i=$((bt_i + 1))
	done
	echo "$bt_best $bt_cpu"
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

n=0
fails=0
check() {	# check NAME FILE_A FILE_B
	n=$((n + 1))
	if cmp -s "$2" "$3"; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1: $2 and $3 differ"
		diff "$2" "$3" | head -5
		fails=$((fails + 1))
	fi
}

check_small() {
	install_duckdb
	W=$(mktemp -d /tmp/cairn-duckdb-small.XXXXXX)
	trap 'rm -rf "$W"' EXIT
	python3 "$BENCH/small_data.py" "$W/small" || die "small_data.py failed"
	mkdir -p "$W/duck" "$W/cairn"
	args=""
	for q in "$W"/small/queries/*.json; do
		args="$args --query $q=$W/duck/$(basename "$q" .json).csv"
	done
	# shellcheck disable=SC2086
	duck --cells "$W/small/cells.csv" --cdr "$W/small/cdr.csv" \
	    --records "$W/small/records.csv" $args >/dev/null ||
	    die "duckdb failed on the small data"
	for q in "$W"/small/queries/*.json; do
		name=$(basename "$q" .json)
		check "small $name: DuckDB = Python reference" \
		    "$W/duck/$name.csv" "$W/small/expected/$name.csv"
		have_engine || continue
		if [ "$name" = population_by_category ]; then
			set -- --cdr "$W/small/records.csv" \
			    --regions "$W/small/regions.csv"
		else
			set -- --cdr "$W/small/cdr.csv" --cells "$W/small/cells.csv"
		fi
		run_cairn "$W/cairn/$name.csv" "$q" "$@"
		check "small $name: cairn = DuckDB" "$W/cairn/$name.csv" \
		    "$W/duck/$name.csv"
	done

	# A small synthetic federation: DuckDB on each holder against the
	# holder's truth, and on all holders at once against the federation's.
	"$BIN/cairn" synth --holders 2 --subscribers 1500 --days 5 \
	    --regions 11 --seed 17 --utc-offset -150 --out "$W/fed" --quiet ||
	    die "cairn synth failed"
	qs="presence_day presence_hour residents od migration visitors displacement"
	for h in holder1 holder2 all; do
		args=""
		for name in $qs; do
			args="$args --query $W/fed/queries/$name.json=$W/duck/$h-$name.csv"
		done
		if [ $h = all ]; then
			cat "$W/fed/holder1/cells.csv" > "$W/cells-all.csv"
			tail -n +2 "$W/fed/holder2/cells.csv" >> "$W/cells-all.csv"
			# shellcheck disable=SC2086
			duck --cells "$W/cells-all.csv" \
			    --cdr "$W/fed/holder1/cdr/*.csv" \
			    --cdr "$W/fed/holder2/cdr/*.csv" \
			    --records "$W/fed/agency/records.csv" $args \
			    --query "$W/fed/queries/population_by_category.json=$W/duck/all-population_by_category.csv" \
			    >/dev/null || die "duckdb failed on the federation"
			truth="$W/fed/truth"
		else
			# shellcheck disable=SC2086
			duck --cells "$W/fed/$h/cells.csv" \
			    --cdr "$W/fed/$h/cdr/*.csv" $args >/dev/null ||
			    die "duckdb failed on $h"
			truth="$W/fed/$h/truth"
		fi
		for name in $qs; do
			check "synth $h $name: DuckDB = cairn synth truth" \
			    "$W/duck/$h-$name.csv" "$truth/$name.csv"
			if have_engine && [ $h != all ]; then
				run_cairn "$W/cairn/$h-$name.csv" \
				    "$W/fed/queries/$name.json" \
				    --cdr "$W/fed/$h/cdr" \
				    --cells "$W/fed/$h/cells.csv"
				check "synth $h $name: cairn = truth" \
				    "$W/cairn/$h-$name.csv" "$truth/$name.csv"
			fi
		done
	done
	check "synth population_by_category: DuckDB = truth" \
	    "$W/duck/all-population_by_category.csv" \
	    "$W/fed/truth/population_by_category.csv"
	[ $fails -eq 0 ]
	exit $?
}

# ---------------------------------------------------------------- bench

gbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.2f", (s > 0 ? b / s / 1e9 : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
now() { date +%s.%N; }
mb() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }

QUERIES="presence residents od migration"

# bench_size S D DIR: generate, run both sides, print a table; sets
# totals T_* and peak memory M_* for the scale summary.
bench_size() {
	S=$1 D=$2 W=$3
	rm -rf "$W"
	echo "-- $S subscribers x $D days"
	"$BIN/cairn" synth --holders 1 --subscribers "$S" --days "$D" \
	    --regions 20 --seed 1 --one-file --out "$W/data" \
	    $( have_engine && echo --no-truth ) || die "cairn synth failed"
	F="$W/data/holder1/cdr/cdr.csv"
	C="$W/data/holder1/cells.csv"
	Qd="$W/data/queries"
	mkdir -p "$W/q" "$W/duck" "$W/duckt" "$W/cairn" "$W/store"
	sed 's/"k": [0-9]*/"k": 1000/' "$Qd/presence_day.json" > "$W/q/presence.json"
	for q in residents od migration; do cp "$Qd/$q.json" "$W/q/"; done
	bytes=$(wc -c < "$F")
	rows=$(($(wc -l < "$F") - 1))

	# The machine's parse-only floor: reading the (cached) file.
	cat "$F" > /dev/null
	t0=$(now); cat "$F" > /dev/null; t1=$(now)
	cat_s=$(secs "$t0" "$t1")
	t0=$(now); wc -l "$F" > /dev/null; t1=$(now)
	wc_s=$(secs "$t0" "$t1")
	echo "file: $rows rows, $(gbps "$bytes" 1) GB; cat > /dev/null" \
	    "$(gbps "$bytes" "$cat_s") GB/s, wc -l $(gbps "$bytes" "$wc_s") GB/s"
	echo "load average at start: $(loadavg); best of $REPEAT runs per" \
	    "query on each side"

	# DuckDB from CSV: one process per query, read_csv every time.
	M_dcsv=0; T_dcsv=0
	for q in $QUERIES; do
		/usr/bin/time -f '%M' -o "$W/duck/$q.mem" \
		    node "$BENCH/duckdb_run.mjs" --threads $THREADS --mode csv \
		    --repeat "$REPEAT" --cells "$C" --cdr "$F" \
		    --query "$W/q/$q.json=$W/duck/$q.csv" > "$W/duck/$q.log" ||
		    die "duckdb csv $q failed"
		eval "dcsv_$q=$(awk '$3 != "peak_rss_kb" { print $4 }' "$W/duck/$q.log")"
		m=$(cat "$W/duck/$q.mem")
		[ "$m" -gt "$M_dcsv" ] && M_dcsv=$m
	done
	# DuckDB on its loaded table (sid, local time, region): one process.
	args=""
	for q in $QUERIES; do args="$args --query $W/q/$q.json=$W/duckt/$q.csv"; done
	# shellcheck disable=SC2086
	echo "load average after DuckDB from CSV: $(loadavg)"
	/usr/bin/time -f '%M' -o "$W/duckt/mem" node "$BENCH/duckdb_run.mjs" \
	    --threads $THREADS --mode table --repeat "$REPEAT" --cells "$C" \
	    --cdr "$F" $args \
	    > "$W/duckt/log" || die "duckdb table failed"
	M_dtab=$(cat "$W/duckt/mem")
	dload=$(awk '$3 == "load" { print $4 }' "$W/duckt/log")
	for q in $QUERIES; do
		eval "dtab_$q=$(awk -v q=$q '$3 == q { print $4 }' "$W/duckt/log")"
		check "$S: DuckDB table = DuckDB csv ($q)" "$W/duckt/$q.csv" \
		    "$W/duck/$q.csv" >/dev/null
	done

	if ! have_engine; then
		echo "cairn-node not built in $BIN: DuckDB side only, checked" \
		    "against cairn synth's ground truth"
		for q in residents od migration; do
			check "$S $q: DuckDB = cairn synth truth" \
			    "$W/duck/$q.csv" "$W/data/holder1/truth/$q.csv"
		done
		printf '%-10s %10s %10s\n' query "duckdb csv" "duck table"
		for q in $QUERIES; do
			eval "printf '%-10s %10s %10s\n' $q \$dcsv_$q \$dtab_$q"
		done
		echo "duckdb table load ${dload}s; peak memory: duckdb csv" \
		    "$(mb "$M_dcsv") MB, duckdb table $(mb "$M_dtab") MB"
		return 0
	fi

	# cairn from CSV, then ingest, then from the store.
	echo "load average after DuckDB on its table: $(loadavg)"
	M_ccsv=0; M_cst=0
	for q in $QUERIES; do
		RC_REPEAT=$REPEAT run_cairn "$W/cairn/$q.csv" "$W/q/$q.json" \
		    --cdr "$F" --cells "$C"
		read -r t m < "$W/cairn/$q.csv.time"
		set -- "$t" "$m"
		eval "ccsv_$q=$1"
		[ "$2" -gt "$M_ccsv" ] && M_ccsv=$2
		check "$S $q: cairn csv = DuckDB" "$W/cairn/$q.csv" "$W/duck/$q.csv"
	done
	/usr/bin/time -f '%e %M' -o "$W/ingest.time" "$NODE_BIN" ingest \
	    --cdr "$F" --cells "$C" --data-dir "$W/store" --threads $THREADS \
	    --quiet > /dev/null || die "cairn-node ingest failed"
	read -r iload M_ing < "$W/ingest.time"
	for q in $QUERIES; do
		RC_REPEAT=$REPEAT run_cairn "$W/cairn/$q.store.csv" \
		    "$W/q/$q.json" --store "$W/store"
		read -r t m < "$W/cairn/$q.store.csv.time"
		set -- "$t" "$m"
		eval "cst_$q=$1"
		[ "$2" -gt "$M_cst" ] && M_cst=$2
		check "$S $q: cairn store = DuckDB table" "$W/cairn/$q.store.csv" \
		    "$W/duckt/$q.csv"
	done

	printf '%-10s %9s %9s %7s   %9s %9s %7s\n' query "duck csv" "cairn csv" \
	    ratio "duck tab" "cairn st" ratio
	T_ccsv=0; T_cst=0; T_dcsv=0; T_dtab=0
	for q in $QUERIES; do
		eval "a=\$dcsv_$q b=\$ccsv_$q c=\$dtab_$q d=\$cst_$q"
		printf '%-10s %8ss %8ss %6sx   %8ss %8ss %6sx\n' "$q" "$a" "$b" \
		    "$(ratio "$a" "$b")" "$c" "$d" "$(ratio "$c" "$d")"
		T_dcsv=$(awk -v x="$T_dcsv" -v y="$a" 'BEGIN { print x + y }')
		T_ccsv=$(awk -v x="$T_ccsv" -v y="$b" 'BEGIN { print x + y }')
		T_dtab=$(awk -v x="$T_dtab" -v y="$c" 'BEGIN { print x + y }')
		T_cst=$(awk -v x="$T_cst" -v y="$d" 'BEGIN { print x + y }')
	done
	# Parse only: check-data reads and checks every row, nothing more.
	set -- $(best_time "$REPEAT" "$NODE_BIN" check-data --cdr "$F" \
	    --cells "$C" --threads 1)
	p1_s=$1 p1_cpu=$2
	set -- $(best_time "$REPEAT" "$NODE_BIN" check-data --cdr "$F" \
	    --cells "$C" --threads $THREADS)
	p2_s=$1 p2_cpu=$2
	echo "targets: cairn csv >= 3x DuckDB csv, cairn store >= 3x DuckDB" \
	    "table, peak memory <= DuckDB's, parsing >= 1.5 GB/s per core"
	met=""
	for q in $QUERIES; do
		eval "a=\$dcsv_$q b=\$ccsv_$q c=\$dtab_$q d=\$cst_$q"
		awk -v a="$a" -v b="$b" 'BEGIN { exit !(a >= 3 * b) }' ||
		    met="$met csv:$q"
		awk -v a="$c" -v b="$d" 'BEGIN { exit !(a >= 3 * b) }' ||
		    met="$met store:$q"
	done
	echo "ratio targets not met:${met:- none}"
	echo "load: DuckDB table ${dload}s, cairn ingest ${iload}s ($(mb "$M_ing") MB)"
	echo "peak memory: DuckDB csv $(mb "$M_dcsv") MB, cairn csv" \
	    "$(mb "$M_ccsv") MB; DuckDB table $(mb "$M_dtab") MB, cairn store" \
	    "$(mb "$M_cst") MB"
	echo "cairn csv parse rate: $(gbps "$bytes" "$(awk -v t="$T_ccsv" \
	    'BEGIN { print t / 4 }')") GB/s per query on $THREADS threads" \
	    "(cat: $(gbps "$bytes" "$cat_s") GB/s)"
	echo "parse only (check-data): 1 thread $(gbps "$bytes" "$p1_s") GB/s" \
	    "($(gbps "$bytes" "$p1_cpu") GB/s per CPU-second), $THREADS" \
	    "threads $(gbps "$bytes" "$p2_s") GB/s ($(gbps "$bytes" \
	    "$p2_cpu") GB/s per CPU-second); cat $(gbps "$bytes" "$cat_s")" \
	    "GB/s, wc -l $(gbps "$bytes" "$wc_s") GB/s"
	echo "load average at the end: $(loadavg)"
}

case "${1:-}" in
--check-small)
	check_small
	;;
"")
	;;
-h|--help)
	sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
*)
	die "unknown argument '$1' (try --help)"
	;;
esac

command -v /usr/bin/time >/dev/null 2>&1 || die "/usr/bin/time missing (apt-get install time)"
install_duckdb
BASE="$TOP/build/bench-engine"
if [ "${CAIRN_BENCH_SCALE:-0}" = 1 ]; then
	summary=""
	for S in 100000 1000000 3000000; do
		bench_size "$S" "${CAIRN_BENCH_DAYS:-7}" "$BASE"
		summary="$summary
$S $T_dcsv $M_dcsv ${T_ccsv:-0} ${M_ccsv:-0} ${T_dtab:-0} $M_dtab ${T_cst:-0} ${M_cst:-0}"
	done
	echo "-- scale (sum of the four queries; seconds and peak MB)"
	echo "$summary" | awk 'NF { printf "%9s subs: duckdb csv %7.2fs %6.0f MB | cairn csv %7.2fs %6.0f MB | duckdb table %7.2fs %6.0f MB | cairn store %7.2fs %6.0f MB\n", $1, $2, $3/1024, $4, $5/1024, $6, $7/1024, $8, $9/1024 }'
else
	bench_size "${CAIRN_BENCH_SUBSCRIBERS:-1000000}" \
	    "${CAIRN_BENCH_DAYS:-7}" "$BASE"
fi
rm -rf "$BASE"
[ $fails -eq 0 ] || die "$fails result(s) differ"
