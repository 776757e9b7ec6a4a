#!/bin/sh
# cost_curve.sh - time and peak memory of a query as the data grows, for
# the embedded engine and for ClickHouse through cairn's generated
# statement (docs/benchmarks.md, "Cost curve").
#
#   CAIRN_CURVE_ROWS     the points, in rows (default "10000000 100000000";
#                        1000000000 is a point of its own: run it alone)
#   CAIRN_CURVE_QUERIES  default "presence" (presence by day, k 1000; also
#                        residents, od, migration)
#   CAIRN_CURVE_ENGINES  default "cairn ch" (also ch2: two shards)
#   CAIRN_CURVE_CH_SETTINGS  ClickHouse settings for cairn's statement, as
#                        the source option 'settings' takes them (e.g.
#                        "max_bytes_before_external_group_by=4000000000")
#   CAIRN_CURVE_CH_DATA  a directory that keeps the ClickHouse servers'
#                        data between runs (DIR/ch, DIR/ch2): a point whose
#                        rows are there is not generated again
#   CAIRN_CURVE_CH_OPTIMIZE  1 (default): OPTIMIZE ... FINAL after
#                        generating; 0: wait for the servers' merges only
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
# which includes what the server held before the query), and what the
# server's GROUP BY wrote to disk (ExternalAggregationCompressedBytes).
# ch2: the same rows on two servers, the shards of a cluster, sharded by
# subscriber (the first half of the subscribers on shard A, the rest on
# B; both generate at once), read with the source option 'shards';
# reported: the wall time and each shard's peak RSS.  The embedded
# engine's answer on the same rows is not computed here (the rows exist
# only in the servers); bench/sql_engines.sh checks that the two agree.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=${CAIRN_BIN:-$TOP/build/bin}
NODE="$BIN/cairn-node"
ROWS=${CAIRN_CURVE_ROWS:-10000000 100000000}
QUERIES=${CAIRN_CURVE_QUERIES:-presence}
ENGINES=${CAIRN_CURVE_ENGINES:-cairn ch}
LOCK=${CAIRN_BENCH_LOCK:-}
CHSET=${CAIRN_CURVE_CH_SETTINGS:-}
CHDATA=${CAIRN_CURVE_CH_DATA:-}
OPTIMIZE=${CAIRN_CURVE_CH_OPTIMIZE:-1}
DAYS=7
. "$TOP/tests/e2e/lib/dbservers.sh"
. "$TOP/bench/lib/benchlock.sh"

die() { echo "cost_curve: error: $*" >&2; exit 1; }
[ -x "$NODE" ] || die "no $NODE (make first)"
command -v /usr/bin/time >/dev/null 2>&1 ||
    die "/usr/bin/time missing (apt-get install time)"
W=$(mktemp -d /tmp/cairn-curve.XXXXXX)
chmod 755 "$W"
[ -n "$CHDATA" ] && { mkdir -p "$CHDATA" && chmod 755 "$CHDATA" ||
    die "cannot make $CHDATA"; }
db_runner
# HTTP and TCP ports of the single server and of the two shards (PA and
# PB are the TCP ports of the cluster that ch_conf writes).
set -- $(free_ports 6)
H1=$1 P1=$2 HA=$3 PA=$4 HB=$5 PB=$6
CHDIRS=""
cleanup() {
	[ -n "${SPID:-}" ] && kill "$SPID" 2>/dev/null
	# shellcheck disable=SC2086
	[ -n "$CHDIRS" ] && ch_stop $CHDIRS
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

# ch_gen HTTP FIRST COUNT: generate rows FIRST .. FIRST + COUNT - 1 into
# cdr.calls of the server of HTTP (8M-row blocks, so a few large parts).
ch_gen() {
	curl -sS --fail-with-body --data-binary @- "http://127.0.0.1:$1/?min_insert_block_size_rows=8388608&min_insert_block_size_bytes=0" <<EOF
INSERT INTO cdr.calls SELECT
    lower(hex(bitOr(cityHash64(intDiv(n, 56)),
        toUInt64(1152921504606846976)))) AS msisdn,
    toDateTime($CHBASE + intDiv(n % 56, 8) * 86400 +
        cityHash64(n, 1) % 86400) AS datetime,
    concat('c', toString(if(cityHash64(n, 2) % 10 < 7,
        intDiv(n, 56) % 20, cityHash64(n, 3) % 20)), '_',
        toString(cityHash64(n, 4) % 7)) AS location_id
    FROM (SELECT number + $2 AS n FROM numbers($3))
EOF
}

# ch_rows HTTP: the rows of cdr.calls on a server (0 without the table).
ch_rows() {
	n=$(q "$1" "SELECT count() FROM cdr.calls" 2>/dev/null) || n=0
	echo "$n"
}

# ch_startall [PREFIX]: start the servers of CHDIRS, the HTTP ports of hs.
ch_startall() {
	pfx=${1:-}
	set -- $hs
	for d in $CHDIRS; do
		ch_start "$d" "$1" "$pfx" || return 1
		shift
	done
}

ch_point() {	# ch_point ROWS NSHARDS
	subs=$(($1 / (DAYS * 8)))
	base=${CHDATA:-$W}
	if [ "$2" = 1 ]; then
		set -- "$1" 1 "$base/ch"
		ch_conf "$3" "$H1" "$P1" UTC
		hs=$H1 eng=ch src="127.0.0.1:$H1" shardopt=""
	else
		set -- "$1" 2 "$base/ch2/a" "$base/ch2/b"
		ch_conf "$3" "$HA" "$PA" UTC && ch_conf "$4" "$HB" "$PB" UTC
		hs="$HA $HB" eng=ch2 src="127.0.0.1:$HA"
		shardopt="shards=127.0.0.1:$HA,127.0.0.1:$HB"
	fi
	rows=$1
	shift 2
	CHDIRS="$*"
	set -- $hs
	ch_startall "nice -n 19" || die "ClickHouse did not start"
	t0=$(awk -F'"' '{ for (i = 1; i < NF; i++) if ($i == "start") print $(i + 2) }' \
	    "$W/q/presence.json")
	# The window of the queries (offset +60): local midnights from
	# START, as UTC seconds.
	CHBASE=$(($(date -u -d "$t0" +%s) - 3600))
	have=0
	for h in $hs; do
		have=$((have + $(ch_rows "$h")))
	done
	if [ "$have" = "$rows" ]; then
		tg1=$(date +%s)
		for h in $hs; do
			while [ "$(q "$h" "SELECT count() FROM system.merges")" != 0 ]
			do
				sleep 5
			done
		done
		echo "$eng   $rows rows kept in $base (merges waited for:" \
		    "$(($(date +%s) - tg1)) s)"
	else
		[ "$have" = 0 ] || die "$base holds $have rows, not $rows"
		for h in $hs; do
			q "$h" "CREATE DATABASE IF NOT EXISTS cdr" &&
			    q "$h" "CREATE TABLE cdr.calls
			    (msisdn String, datetime DateTime, location_id String)
			    ENGINE = MergeTree() PARTITION BY toYYYYMM(datetime)
			    ORDER BY (msisdn, datetime)" ||
			    die "creating the table failed"
		done
		# Subscriber u = n / 56 with home region u % 20; event n on day
		# (n % 56) / 8 at a hashed second of that day; 70% at home.  On
		# two shards, the first half of the subscribers on A.
		tg0=$(date +%s)
		if [ $# = 1 ]; then
			ch_gen "$1" 0 "$rows" >/dev/null ||
			    die "generating $rows rows failed"
		else
			split=$((subs / 2 * DAYS * 8))
			ch_gen "$1" 0 "$split" >"$W/gen.a" 2>&1 &
			ga=$!
			ch_gen "$2" "$split" $((rows - split)) >"$W/gen.b" 2>&1 ||
			    die "generating rows on shard B failed: $(cat "$W/gen.b")"
			wait "$ga" ||
			    die "generating rows on shard A failed: $(cat "$W/gen.a")"
		fi
		tg1=$(date +%s)
		for h in $hs; do
			if [ "$OPTIMIZE" = 1 ]; then
				q "$h" "OPTIMIZE TABLE cdr.calls FINAL" >/dev/null ||
				    die "OPTIMIZE failed"
			fi
			while [ "$(q "$h" "SELECT count() FROM system.merges")" != 0 ]
			do
				sleep 5
			done
		done
		tg2=$(date +%s)
		echo "$eng   $rows rows generated in $((tg1 - tg0)) s, merged in" \
		    "$((tg2 - tg1)) s (OPTIMIZE FINAL: $OPTIMIZE; $subs subscribers)"
	fi
	for h in $hs; do
		echo "      127.0.0.1:$h: $(q "$h" "SELECT
		    formatReadableSize(sum(bytes)), count() FROM system.parts
		    WHERE database = 'cdr' AND active" | awk -F'\t' '{ print $1,
		    "on disk in", $2, "parts" }'), $(ch_rows "$h") rows"
	done
	{ echo cell_id,region_id
	  for rg in $(seq 0 19); do for kc in $(seq 0 6); do
		echo "c${rg}_$kc,$rg"
	  done; done; } >"$W/chcells.csv"
	for q in $QUERIES; do
		# shellcheck disable=SC2086
		ch_stop $CHDIRS
		ch_startall || die "ClickHouse did not restart"
		lock
		la0=$(loadavg)
		/usr/bin/time -f '%e %U %S %M' -o "$W/node.time" "$NODE" \
		    run-local --no-noise --quiet --query "$W/q/$q.json" \
		    --source "clickhouse://cairn:s3cret@$src/cdr" \
		    --source-option tables=calls --cells "$W/chcells.csv" \
		    --source-option statement_timeout_seconds=0 \
		    ${shardopt:+--source-option "$shardopt"} \
		    ${CHSET:+--source-option "settings=$CHSET"} \
		    --output "$W/out.csv" 2>"$W/node.err"
		rc=$?
		la1=$(loadavg)
		unlock
		peaks="" spill=0
		for d in $CHDIRS; do
			hwm=$(awk '$1 == "VmHWM:" { print $2 }' \
			    "/proc/$(cat "$d/pid")/status")
			peaks="$peaks${peaks:+ + }$(mb "$hwm")"
		done
		for h in $hs; do
			b=$(q "$h" "SELECT sum(value) FROM system.events WHERE
			    event = 'ExternalAggregationCompressedBytes'")
			spill=$((spill + ${b:-0}))
		done
		read -r e u s m <<EOF
$(tail -n 1 "$W/node.time")
EOF
		if [ "$rc" != 0 ]; then
			printf '%s   %11d %-9s FAILED after %ss: %s  server peak RSS %s MB  load %s -> %s\n' \
			    "$eng" "$rows" "$q" "$e" "$(tail -n 1 "$W/node.err")" \
			    "$peaks" "$la0" "$la1"
			continue
		fi
		printf '%s   %11d %-9s %8.2fs  server peak RSS %s MB  spilled %s MB  (%s cells)  load %s -> %s\n' \
		    "$eng" "$rows" "$q" "$e" "$peaks" \
		    "$(awk -v b="$spill" 'BEGIN { printf "%.0f", b / 1048576 }')" \
		    "$(($(wc -l <"$W/out.csv") - 1))" "$la0" "$la1"
	done
	# shellcheck disable=SC2086
	ch_stop $CHDIRS
	CHDIRS=""
	[ -n "$CHDATA" ] || rm -rf "$base/ch" "$base/ch2"
}

echo "load average at the start: $(loadavg); queries: $QUERIES"
echo "engine       rows query          wall      CPU    peak RSS"
for r in $ROWS; do
	for e in $ENGINES; do
		case $e in
		cairn) cairn_point "$r" ;;
		ch) ch_point "$r" 1 ;;
		ch2) ch_point "$r" 2 ;;
		*) die "unknown engine '$e' (cairn, ch, ch2)" ;;
		esac
	done
done
echo "load average at the end: $(loadavg)"
