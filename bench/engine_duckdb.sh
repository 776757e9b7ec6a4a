#!/bin/sh
# engine_duckdb.sh [--check-small] - cairn's aggregation engine against
# DuckDB on the same CSV file (docs/benchmarks.md).
#
#   (no argument)   `cairn synth` writes one holder's CDR as one file
#                   (CAIRN_BENCH_SUBSCRIBERS, default 1000000, x
#                   CAIRN_BENCH_DAYS, default 7; pseudonyms of
#                   CAIRN_BENCH_ID_HEX, default 16, hex digits: 64 for a
#                   SHA-256); DuckDB (2 threads) and
#                   `cairn-node run-local --no-noise` (2 threads) run four
#                   queries (presence by day with k large, residents, od,
#                   migration) from the CSV, then DuckDB on its loaded table
#                   (a database file) and cairn on its ingested store;
#                   results must be
#                   identical; prints times, ratios, peak memory and the
#                   machine's parse-only throughput.
#                   CAIRN_BENCH_SCALE=1 repeats the CSV and store runs for
#                   100k, 1M and 3M subscribers and prints how they grow.
#                   Each query runs CAIRN_BENCH_REPEAT times on each side
#                   (default 3, 1 with CAIRN_BENCH_SCALE=1), alternating
#                   DuckDB and cairn, one process a run, and the medians
#                   count; the load average is printed beside.
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
# Pseudonyms like operators': 16 hex digits, or 64 (a SHA-256).
ID_HEX=${CAIRN_BENCH_ID_HEX:-16}

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

# run_cairn OUT QUERY ARGS... : one run-local into OUT; prints
# "SECONDS PEAK_KB" (wall time including the process's start).
run_cairn() {
	rc_out=$1 rc_q=$2
	shift 2
	/usr/bin/time -f '%e %M' -o "$rc_out.time" "$NODE_BIN" \
	    run-local "$@" --query "$rc_q" --no-noise \
	    --threads $THREADS --quiet --output "$rc_out" ||
	    die "cairn-node run-local $rc_q failed"
	cat "$rc_out.time"
}

# run_duck OUT.log ARGS... : one duckdb_run.mjs process; prints "SECONDS
# PEAK_KB" (DuckDB's own time of the one query, Node's start excluded).
run_duck() {
	rd_log=$1
	shift
	/usr/bin/time -f '%M' -o "$rd_log.mem" node "$BENCH/duckdb_run.mjs" \
	    --threads $THREADS "$@" > "$rd_log" || die "duckdb_run $* failed"
	echo "$(awk '$3 != "peak_rss_kb" && $3 != "load" { t = $4 } END \
	    { print t }' "$rd_log") $(cat "$rd_log.mem")"
}

# median FILE: the median of the first column of FILE's lines.
median() {
	sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2];
	    else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# peak FILE: the largest second column (peak kB) of FILE's lines.
peak() { awk '$2 > m { m = $2 } END { print m + 0 }' "$1"; }

# best_time N CMD... : the median wall time of N runs of CMD, as
# "SECONDS CPU_SECONDS" (user + system, median of the runs).
best_time() {
	bt_n=$1 bt_i=0
	shift
	: > "$W/bt.all"
	while [ $bt_i -lt "$bt_n" ]; do
		/usr/bin/time -f '%e %U %S' -o "$W/bt.time" "$@" > /dev/null ||
		    die "$1 failed"
		read -r bt_t bt_u bt_s < "$W/bt.time"
		echo "$bt_t $(awk -v u="$bt_u" -v s="$bt_s" \
		    'BEGIN { print u + s }')" >> "$W/bt.all"
		bt_i=$((bt_i + 1))
	done
	awk '{ print $2 }' "$W/bt.all" > "$W/bt.cpu"
	echo "$(median "$W/bt.all") $(median "$W/bt.cpu")"
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
		run_cairn "$W/cairn/$name.csv" "$q" "$@" > /dev/null
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
				    --cells "$W/fed/$h/cells.csv" > /dev/null
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
	echo "-- $S subscribers x $D days, ids of $ID_HEX hex digits"
	"$BIN/cairn" synth --holders 1 --subscribers "$S" --days "$D" \
	    --regions 20 --seed 1 --one-file --out "$W/data" \
	    --id-hex "$ID_HEX" \
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
	echo "load average at start: $(loadavg); $REPEAT alternated runs per" \
	    "query on each side (DuckDB, cairn, DuckDB, ...), medians"

	# From CSV, alternated: DuckDB (one process, read_csv), then cairn
	# (one run-local), REPEAT times per query.
	for q in $QUERIES; do
		: > "$W/duck/$q.runs"
		: > "$W/cairn/$q.runs"
		i=0
		while [ $i -lt "$REPEAT" ]; do
			run_duck "$W/duck/$q.log" --mode csv --cells "$C" \
			    --cdr "$F" --query "$W/q/$q.json=$W/duck/$q.csv" \
			    >> "$W/duck/$q.runs"
			have_engine && run_cairn "$W/cairn/$q.csv" \
			    "$W/q/$q.json" --cdr "$F" --cells "$C" \
			    >> "$W/cairn/$q.runs"
			i=$((i + 1))
		done
		eval "dcsv_$q=$(median "$W/duck/$q.runs")"
		echo "runs $q from CSV (s): DuckDB" $(awk '{ print $1 }' \
		    "$W/duck/$q.runs") "| cairn" $(awk '{ print $1 }' \
		    "$W/cairn/$q.runs" 2>/dev/null)
		if have_engine; then
			eval "ccsv_$q=$(median "$W/cairn/$q.runs")"
			check "$S $q: cairn csv = DuckDB" "$W/cairn/$q.csv" \
			    "$W/duck/$q.csv"
		fi
	done
	M_dcsv=$(cat "$W"/duck/*.runs | peak /dev/stdin)
	echo "load average after the CSV runs: $(loadavg)"

	# DuckDB's loaded table (sid, local time, region) in a database file.
	# (local times are stored: the load needs the specs' offset)
	off=$(sed -n 's/.*"utc_offset_minutes": *\(-\{0,1\}[0-9]*\).*/\1/p' \
	    "$W/q/presence.json")
	run_duck "$W/duckt/load.log" --mode table --db "$W/duck.db" \
	    --utc-offset "${off:-0}" --cells "$C" --cdr "$F" > /dev/null
	dload=$(awk '$3 == "load" { print $4 }' "$W/duckt/load.log")
	M_dload=$(cat "$W/duckt/load.log.mem")

	if ! have_engine; then
		for q in $QUERIES; do
			run_duck "$W/duckt/$q.log" --mode table --db "$W/duck.db" \
			    --cells "$C" --query "$W/q/$q.json=$W/duckt/$q.csv" \
			    > "$W/duckt/$q.runs"
			eval "dtab_$q=$(median "$W/duckt/$q.runs")"
		done
		M_dtab=$(cat "$W"/duckt/*.runs | peak /dev/stdin)
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

	/usr/bin/time -f '%e %M' -o "$W/ingest.time" "$NODE_BIN" ingest \
	    --cdr "$F" --cells "$C" --data-dir "$W/store" --threads $THREADS \
	    --quiet > /dev/null || die "cairn-node ingest failed"
	read -r iload M_ing < "$W/ingest.time"
	store_mb=$(du -sm "$W/store" | cut -f1)
	db_mb=$(du -sm "$W/duck.db" | cut -f1)

	# The loaded table against the store, alternated the same way.
	for q in $QUERIES; do
		: > "$W/duckt/$q.runs"
		: > "$W/cairn/$q.store.runs"
		i=0
		while [ $i -lt "$REPEAT" ]; do
			run_duck "$W/duckt/$q.log" --mode table --db "$W/duck.db" \
			    --cells "$C" --query "$W/q/$q.json=$W/duckt/$q.csv" \
			    >> "$W/duckt/$q.runs"
			run_cairn "$W/cairn/$q.store.csv" "$W/q/$q.json" \
			    --store "$W/store" >> "$W/cairn/$q.store.runs"
			i=$((i + 1))
		done
		eval "dtab_$q=$(median "$W/duckt/$q.runs")"
		eval "cst_$q=$(median "$W/cairn/$q.store.runs")"
		echo "runs $q on the table/store (s): DuckDB" $(awk \
		    '{ print $1 }' "$W/duckt/$q.runs") "| cairn" $(awk \
		    '{ print $1 }' "$W/cairn/$q.store.runs")
		check "$S $q: DuckDB table = DuckDB csv" "$W/duckt/$q.csv" \
		    "$W/duck/$q.csv"
		check "$S $q: cairn store = DuckDB table" "$W/cairn/$q.store.csv" \
		    "$W/duckt/$q.csv"
	done
	M_dtab=$(cat "$W"/duckt/*.runs | peak /dev/stdin)
	M_ccsv=$(for q in $QUERIES; do cat "$W/cairn/$q.runs"; done |
	    peak /dev/stdin)
	M_cst=$(for q in $QUERIES; do cat "$W/cairn/$q.store.runs"; done |
	    peak /dev/stdin)
	echo "load average after the table and store runs: $(loadavg)"

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
	# Issue 15: 5x with 16-digit ids, 3x with 64; the store 5x.
	want=5
	[ "$ID_HEX" -gt 16 ] && want=3
	echo "targets: cairn csv >= ${want}x DuckDB csv, cairn store >= 5x" \
	    "DuckDB table, peak memory below DuckDB's"
	met=""
	for q in $QUERIES; do
		eval "a=\$dcsv_$q b=\$ccsv_$q c=\$dtab_$q d=\$cst_$q"
		awk -v a="$a" -v b="$b" -v w=$want 'BEGIN { exit !(a >= w * b) }' ||
		    met="$met csv:$q"
		awk -v a="$c" -v b="$d" 'BEGIN { exit !(a >= 5 * b) }' ||
		    met="$met store:$q"
	done
	[ "$M_ccsv" -lt "$M_dcsv" ] || met="$met memory:csv"
	[ "$M_cst" -lt "$M_dtab" ] || met="$met memory:store"
	echo "targets not met:${met:- none}"
	echo "load: DuckDB table ${dload}s ($(mb "$M_dload") MB), cairn ingest" \
	    "${iload}s ($(mb "$M_ing") MB); on disk: DuckDB database" \
	    "${db_mb} MB, cairn store ${store_mb} MB"
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
