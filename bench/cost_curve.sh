#!/bin/sh
# cost_curve.sh - time and peak memory of a query as the data grows, for
# the embedded engine and for ClickHouse through cairn's generated
# statement (docs/benchmarks.md, "Cost curve").
#
#   CAIRN_CURVE_ROWS     the points, in rows (default "10000000 100000000";
#                        1000000000 is a point of its own: run it alone)
#   CAIRN_CURVE_QUERIES  default "presence" (presence by day, k 1000; also
#                        residents, od, migration)
#   CAIRN_CURVE_ENGINES  default "cairn ch"
#   CAIRN_BENCH_LOCK     a file: each timed run holds `flock` on it
#
# cairn: `cairn synth --id-hex 16` (7 days, 20 regions, about 8 events per
# subscriber-day, so rows / 56 subscribers) writes its CDR into a named
# pipe that `cairn-node run-local --cdr PIPE --no-noise --threads 2` reads
# (one pass; nothing is written to disk).  Reported: run-local's wall
# time, its CPU time (user + system) and maximum RSS (/usr/bin/time), and
# synth's CPU time.  synth writes on one thread; where it needs more CPU
# than the engine (the pipe feeds slower than the engine reads) the point
# is marked generator-bound and the engine's CPU time is the figure to
# read, not the wall time.
# ch: one clickhouse-server (tests/e2e/lib/dbservers.sh); the rows are
# generated inside it (INSERT ... SELECT FROM numbers(), at nice 19),
# shaped like synth's: 16-hex ids, 56 events per subscriber over 7 days
# (8 a day), 70% of them in the subscriber's home region, 20 regions of 7
# cells.  The server is restarted before each query; reported: `run-local
# --source` wall time and the server's peak RSS (VmHWM of its process,
# which includes what the server held before the query).  The embedded
# engine's answer on the same rows is not computed here (the rows exist
# only in the server); bench/sql_engines.sh checks that the two agree.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=${CAIRN_BIN:-$TOP/build/bin}
NODE="$BIN/cairn-node"
ROWS=${CAIRN_CURVE_ROWS:-10000000 100000000}
QUERIES=${CAIRN_CURVE_QUERIES:-presence}
ENGINES=${CAIRN_CURVE_ENGINES:-cairn ch}
LOCK=${CAIRN_BENCH_LOCK:-}
DAYS=7
. "$TOP/tests/e2e/lib/dbservers.sh"
. "$TOP/bench/lib/benchlock.sh"

die() { echo "cost_curve: error: $*" >&2; exit 1; }
[ -x "$NODE" ] || die "no $NODE (make first)"
command -v /usr/bin/time >/dev/null 2>&1 ||
    die "/usr/bin/time missing (apt-get install time)"
W=$(mktemp -d /tmp/cairn-curve.XXXXXX)
chmod 755 "$W"
db_runner
set -- $(free_ports 4)
H1=$1 P1=$2 PA=$3 PB=$4
cleanup() {
	[ -n "${SPID:-}" ] && kill "$SPID" 2>/dev/null
	ch_stop "$W/ch"
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
mb() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }

# The queries and synth's cell map (which does not depend on the number
# of subscribers) from a small run.
nice -n 19 "$BIN/cairn" synth --subscribers 1000 --days $DAYS --regions 20 \
    --seed 1 --one-file --no-truth --id-hex 16 --out "$W/small" --quiet ||
    die "cairn synth failed"
mkdir -p "$W/q"
sed 's/"k": [0-9]*/"k": 1000/' "$W/small/queries/presence_day.json" \
    >"$W/q/presence.json"
for q in residents od migration; do cp "$W/small/queries/$q.json" "$W/q/"; done

cairn_point() {	# cairn_point ROWS
	subs=$(($1 / (DAYS * 8)))
	for q in $QUERIES; do
		rm -rf "$W/gen"
		mkdir -p "$W/gen/holder1/cdr"
		mkfifo "$W/gen/holder1/cdr/cdr.csv" || die "mkfifo failed"
		lock
		la0=$(loadavg)
		/usr/bin/time -f '%e %U %S %M' -o "$W/synth.time" \
		    "$BIN/cairn" synth --subscribers "$subs" --days $DAYS \
		    --regions 20 --seed 1 --one-file --no-truth --id-hex 16 \
		    --force --out "$W/gen" --quiet &
		SPID=$!
		/usr/bin/time -f '%e %U %S %M' -o "$W/node.time" "$NODE" \
		    run-local --no-noise --quiet --threads 2 \
		    --query "$W/q/$q.json" --cdr "$W/gen/holder1/cdr/cdr.csv" \
		    --cells "$W/small/holder1/cells.csv" --output "$W/out.csv" ||
		    die "run-local $q on $1 rows failed"
		wait "$SPID" || die "cairn synth failed"
		SPID=""
		la1=$(loadavg)
		unlock
		read -r e u s m <"$W/node.time"
		read -r se su ss sm <"$W/synth.time"
		awk -v r="$1" -v q="$q" -v e="$e" -v u="$u" -v s="$s" -v m="$m" \
		    -v su="$su" -v ss="$ss" -v sm="$sm" -v l0="$la0" -v l1="$la1" \
		    'BEGIN {
			printf "cairn %11d %-9s %8.2fs %8.2fs %7.0f MB  synth %7.2fs %6.0f MB  %s  load %s -> %s\n",
			    r, q, e, u + s, m / 1024, su + ss, sm / 1024,
			    (su + ss > u + s ? "generator-bound" : "engine-bound"),
			    l0, l1 }'
		echo "      ($(($(wc -l <"$W/out.csv") - 1)) cells)"
	done
}

ch_point() {	# ch_point ROWS
	subs=$(($1 / (DAYS * 8)))
	mkdir -p "$W/ch"
	ch_conf "$W/ch" "$H1" "$P1" UTC
	ch_start "$W/ch" "$H1" "nice -n 19" || die "ClickHouse did not start"
	t0=$(awk -F'"' '{ for (i = 1; i < NF; i++) if ($i == "start") print $(i + 2) }' \
	    "$W/q/presence.json")
	# The window of the queries (offset +60): local midnights from
	# START, as UTC seconds.
	b=$(($(date -u -d "$t0" +%s) - 3600))
	q "$H1" "CREATE DATABASE cdr" && q "$H1" "CREATE TABLE cdr.calls
	    (msisdn String, datetime DateTime, location_id String)
	    ENGINE = MergeTree() PARTITION BY toYYYYMM(datetime)
	    ORDER BY (msisdn, datetime)" || die "creating the table failed"
	# Subscriber u = n / 56 with home region u % 20; event n on day
	# (n % 56) / 8 at a hashed second of that day; 70% at home.
	t1=$(date +%s)
	q "$H1" "INSERT INTO cdr.calls SELECT
	    lower(hex(bitOr(cityHash64(intDiv(number, 56)),
	        toUInt64(1152921504606846976)))) AS msisdn,
	    toDateTime($b + intDiv(number % 56, 8) * 86400 +
	        cityHash64(number, 1) % 86400) AS datetime,
	    concat('c', toString(if(cityHash64(number, 2) % 10 < 7,
	        intDiv(number, 56) % 20, cityHash64(number, 3) % 20)), '_',
	        toString(cityHash64(number, 4) % 7)) AS location_id
	    FROM numbers($1)" >/dev/null || die "generating $1 rows failed"
	t2=$(date +%s)
	q "$H1" "OPTIMIZE TABLE cdr.calls FINAL" >/dev/null ||
	    die "OPTIMIZE failed"
	{ echo cell_id,region_id
	  for r in $(seq 0 19); do for k in $(seq 0 6); do echo "c${r}_$k,$r"
	  done; done; } >"$W/chcells.csv"
	echo "ch    $1 rows generated in $((t2 - t1)) s ($subs subscribers);" \
	    "on disk $(q "$H1" "SELECT formatReadableSize(sum(bytes)) FROM
	    system.parts WHERE database = 'cdr' AND active")"
	for q in $QUERIES; do
		ch_stop "$W/ch"
		ch_start "$W/ch" "$H1" || die "ClickHouse did not restart"
		pid=$(cat "$W/ch/pid")
		lock
		la0=$(loadavg)
		/usr/bin/time -f '%e %U %S %M' -o "$W/node.time" "$NODE" \
		    run-local --no-noise --quiet --query "$W/q/$q.json" \
		    --source "clickhouse://cairn:s3cret@127.0.0.1:$H1/cdr" \
		    --source-option tables=calls --cells "$W/chcells.csv" \
		    --source-option statement_timeout_seconds=0 \
		    --output "$W/out.csv" || die "run-local --source $q failed"
		la1=$(loadavg)
		unlock
		hwm=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$pid/status")
		read -r e u s m <"$W/node.time"
		printf 'ch    %11d %-9s %8.2fs  server peak RSS %6s MB  (%s cells)  load %s -> %s\n' \
		    "$1" "$q" "$e" "$(mb "$hwm")" \
		    "$(($(wc -l <"$W/out.csv") - 1))" "$la0" "$la1"
	done
	ch_stop "$W/ch"
	rm -rf "$W/ch"
}

echo "load average at the start: $(loadavg); queries: $QUERIES"
echo "engine       rows query          wall      CPU    peak RSS"
for r in $ROWS; do
	for e in $ENGINES; do
		case $e in
		cairn) cairn_point "$r" ;;
		ch) ch_point "$r" ;;
		*) die "unknown engine '$e' (cairn, ch)" ;;
		esac
	done
done
echo "load average at the end: $(loadavg)"
