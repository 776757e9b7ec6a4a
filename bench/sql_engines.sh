#!/bin/sh
# sql_engines.sh - the SQL that cairn generates for a source
# (node/engine/sql_gen.c, docs/sources.md) against SQL written by hand for
# the same query, on the same data, in PostgreSQL 15 (parallel workers) and
# ClickHouse 18.16 (one server, and two shards); docs/benchmarks.md.
#
# `cairn synth --id-hex 16` writes one holder's CDR (CAIRN_SQLBENCH_SUBSCRIBERS,
# default 200000, x CAIRN_SQLBENCH_DAYS, default 7; CAIRN_SQLBENCH_ID_HEX,
# default 16, the pseudonyms' hex digits); the servers are started here on
# 127.0.0.1 in a temporary directory (tests/e2e/lib/dbservers.sh) and
# loaded at nice 19, then restarted at normal priority for the timings.
# For each reference query of bench/engine_duckdb.sh (presence by day with
# k 1000, residents, od, migration):
#   PostgreSQL  FlowDB's events.calls and events.sms (msisdn bytea,
#               datetime timestamptz, location_id text),
#               max_parallel_workers_per_gather = 2: `cairn-node run-local
#               --source --no-noise` end to end, the generated statement
#               alone through psql, and the hand-written statement through
#               psql; EXPLAIN must show parallel workers in both plans;
#   ClickHouse  tables cdr.calls and cdr.sms, on one server and on two
#               shards (sharded by cityHash64(msisdn)): `run-local
#               --source` (with `shards` on the cluster) against the
#               hand-written statement through curl (on the cluster: sent
#               to both shards at once and the cells added, as cairn does).
# Every side's cells must equal the embedded engine's (`run-local --cdr`)
# or the benchmark fails.  Each timing is the median of
# CAIRN_SQLBENCH_REPEAT (default 3) runs, alternated (cairn, hand-written,
# cairn, ...).  With CAIRN_BENCH_LOCK=FILE each query's runs (the untimed
# first ones and the timed ones) hold `flock FILE`; the load, at nice 19,
# does not.  CAIRN_SQLBENCH_ENGINES (default
# "pg ch") picks the engines, CAIRN_SQLBENCH_QUERIES (default all four)
# the queries.  CAIRN_SQLBENCH_ANALYZE=1 writes PostgreSQL's
# EXPLAIN ANALYZE of both statements, untimed, and CAIRN_SQLBENCH_KEEP=DIR
# keeps the statements, plans and results there.  CAIRN_SQLBENCH_BASE=FILE,
# another build's cairn-node (e.g. the previous commit's), adds its
# generated PostgreSQL statement as one more side (psql, checked, timed
# and EXPLAINed in the same rounds), and in ClickHouse its `run-local
# --source` on the one server (checked, timed first in each round): the
# generator before and after a change on the same data.  The data and the servers are removed at the
# end.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=${CAIRN_BIN:-$TOP/build/bin}
NODE="$BIN/cairn-node"
S=${CAIRN_SQLBENCH_SUBSCRIBERS:-200000}
D=${CAIRN_SQLBENCH_DAYS:-7}
HEX=${CAIRN_SQLBENCH_ID_HEX:-16}
REPEAT=${CAIRN_SQLBENCH_REPEAT:-3}
ENGINES=${CAIRN_SQLBENCH_ENGINES:-pg ch}
LOCK=${CAIRN_BENCH_LOCK:-}
QUERIES=${CAIRN_SQLBENCH_QUERIES:-presence residents od migration}
BASE=${CAIRN_SQLBENCH_BASE:-}
. "$TOP/tests/e2e/lib/dbservers.sh"
. "$TOP/bench/lib/benchlock.sh"

die() { echo "sql_engines: error: $*" >&2; exit 1; }
[ -x "$NODE" ] || die "no $NODE (make first)"
[ -z "$BASE" ] || [ -x "$BASE" ] ||
    die "CAIRN_SQLBENCH_BASE: no executable $BASE"
command -v /usr/bin/time >/dev/null 2>&1 ||
    die "/usr/bin/time missing (apt-get install time)"

W=$(mktemp -d /tmp/cairn-sqlbench.XXXXXX)
chmod 755 "$W"
db_runner
set -- $(free_ports 7)
PGPORT=$1 H1=$2 P1=$3 HA=$4 PA=$5 HB=$6 PB=$7
cleanup() {
	pg_stop "$W/pg"
	ch_stop "$W/one" "$W/sa" "$W/sb"
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
median() {
	sort -n | awk '{ v[NR] = $1 }
	    END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.3f", m }'
}
# timed FILE CMD...: run CMD (output discarded), append its wall seconds
# to FILE.
timed() {
	tf=$1
	shift
	/usr/bin/time -f '%e' -o "$W/t" "$@" >/dev/null 2>"$W/t.err" ||
	    { cat "$W/t.err" >&2; die "$* failed"; }
	cat "$W/t" >>"$tf"
}
fails=0
n=0
verdict() {	# verdict NAME FILE_A FILE_B: equal, as sorted lines
	n=$((n + 1))
	if [ -s "$2" ] && [ "$(sort "$2")" = "$(sort "$3")" ]; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		diff "$2" "$3" | head -n 5
		fails=$((fails + 1))
	fi
}

# ---------------------------------------------------------------- data
echo "-- $S subscribers x $D days, $HEX-hex pseudonyms"
nice -n 19 "$BIN/cairn" synth --holders 1 --subscribers "$S" --days "$D" \
    --regions 20 --seed 1 --one-file --no-truth --id-hex "$HEX" \
    --out "$W/data" --quiet || die "cairn synth failed"
CDR="$W/data/holder1/cdr/cdr.csv"
CELLS="$W/data/holder1/cells.csv"
mkdir -p "$W/q" "$W/emb" "$W/out"
sed 's/"k": [0-9]*/"k": 1000/' "$W/data/queries/presence_day.json" \
    >"$W/q/presence.json"
for q in residents od migration; do cp "$W/data/queries/$q.json" "$W/q/"; done
NREG=$(sed 1d "$CELLS" | cut -d, -f2 | sort -u | wc -l)
# The hand-written presence counts every region of a day: k >= regions.
[ "$NREG" -le 1000 ] || die "presence k 1000 < $NREG regions"
# Odd rows to calls, even rows to sms, times as 'YYYY-MM-DD hh:mm:ss' UTC
# (both servers read that form).
nice -n 19 awk -F, 'NR > 1 { sub("T", " ", $2); sub("Z", "", $2)
	print $1 "," $2 "," $3 > (NR % 2 ? c : s) }' c="$W/calls.csv" \
    s="$W/sms.csv" "$CDR" || die "splitting the CDR failed"
ROWS=$(($(wc -l <"$CDR") - 1))
echo "$ROWS rows, $(wc -c <"$CDR") bytes of CSV, $NREG regions," \
    "$(($(wc -l <"$CELLS") - 1)) cells"
for q in $QUERIES; do
	nice -n 19 "$NODE" run-local --no-noise --quiet --query "$W/q/$q.json" \
	    --cdr "$CDR" --cells "$CELLS" --output "$W/emb/$q.csv" ||
	    die "run-local --cdr $q failed"
done

# The values of a query, from cairn's own --explain (ClickHouse writes
# them as numbers): B the window's first local midnight, S0 and S1 the
# window, NS and NE the night hours, migration's day indexes.
params() {
	"$NODE" run-local --no-noise --explain --query "$W/q/$1.json" \
	    --source "clickhouse://127.0.0.1:1/x" --cells "$CELLS" >"$W/x.sql" ||
	    die "--explain $1 failed"
	val() { sed -n "s/^-- $1 = \([0-9-]*\).*/\1/p" "$W/x.sql"; }
	B=$(val "UTC epoch of the window's first local midnight")
	S0=$(val "window start (UTC)")
	S1=$(val "window end (UTC), exclusive")
	NS=$(val night_start_hour) NE=$(val night_end_hour)
	BB=$(val "baseline first day index") BE=$(val "baseline end day index")
	CB=$(val "comparison first day index")
	CE=$(val "comparison end day index")
	START=$(sed -n 's/.*"\(start\|baseline\)": \[*"\([0-9-]*\)".*/\2/p' \
	    "$W/q/$1.json")
}
# cells KIND < t,r1,r2,n rows: the rows in run-local's CSV form, no header.
cells() {
	awk -F, -v k="$1" -v st="$START" '
	function day(t,   c, r) { if (t in m) return m[t]
		c = "date -u -d \"" st " + " t " days\" +%F"
		c | getline r; close(c); return m[t] = r }
	{ gsub(/[ \t]/, ","); $0 = $0 }
	k == "presence" { print $2 "," day($1) "," $4 }
	k == "residents" { print $2 "," $4 }
	k == "od" { print day($1) "," $2 "," $3 "," $4 }
	k == "migration" { print $2 "," $3 "," $4 }'
}
# verdict_cells NAME KIND FILE: FILE's (t, r1, r2, n) rows are the embedded
# engine's cells.
verdict_cells() {
	params "$2"
	cells "$2" <"$3" >"$3.cells"
	sed 1d "$W/emb/$2.csv" >"$W/emb/$2.rows"
	verdict "$1" "$3.cells" "$W/emb/$2.rows"
}

# ---------------------------------------------------------------- PostgreSQL
# (One line: pg_ctl hands the options to a shell.)
PGSET="-c max_parallel_workers_per_gather=2 -c shared_buffers=1GB"
PGSET="$PGSET -c work_mem=256MB ${CAIRN_SQLBENCH_PGOPTS:-}"
PSQL="$PGBIN/psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p $PGPORT"
PGURI="postgresql://cairn_ro@127.0.0.1:$PGPORT/flowdb"

# pg_hand Q: the hand-written statement of query Q (params set), for the
# FlowDB tables and the DBA's cell map table bench.cells.  The modal
# region with ties to the smaller id is one max() over n * 2^32 + (2^32 -
# 1 - region): no sort, no window.
pg_hand() {
	ev="SELECT msisdn AS s, (floor(extract(epoch FROM datetime))::bigint
	    - $B) / 3600 AS slot, c.region AS r FROM (
	    SELECT msisdn, datetime, location_id FROM events.calls
	    WHERE datetime >= to_timestamp($S0) AND datetime < to_timestamp($S1)
	    UNION ALL SELECT msisdn, datetime, location_id FROM events.sms
	    WHERE datetime >= to_timestamp($S0) AND datetime < to_timestamp($S1)
	    ) AS e JOIN bench.cells AS c ON c.cell = e.location_id
	    WHERE length(msisdn) > 0"
	night="(slot % 24 >= $NS OR slot % 24 < $NE)"
	modal="4294967295 - max(n * 4294967296 + (4294967295 - r)) % 4294967296"
	case $1 in
	presence) cat <<SQL ;;
SELECT d AS t, r AS r1, 0 AS r2, count(*) AS n FROM (
    SELECT s, slot / 24 AS d, r FROM ($ev) AS ev GROUP BY 1, 2, 3
) AS x GROUP BY d, r;
SQL
	residents) cat <<SQL ;;
SELECT 0 AS t, h AS r1, 0 AS r2, count(*) AS n FROM (
    SELECT s, $modal AS h FROM (
        SELECT s, r, count(*) AS n FROM ($ev) AS ev WHERE $night
        GROUP BY s, r) AS x GROUP BY s
) AS y GROUP BY h;
SQL
	od) cat <<SQL ;;
WITH dr AS (
    SELECT s, d, $modal AS h FROM (
        SELECT s, slot / 24 AS d, r, count(*) AS n FROM ($ev) AS ev
        GROUP BY 1, 2, 3) AS x GROUP BY s, d
)
SELECT a.d AS t, a.h AS r1, b.h AS r2, count(*) AS n
FROM dr AS a JOIN dr AS b ON b.s = a.s AND b.d = a.d + 1
GROUP BY a.d, a.h, b.h;
SQL
	migration) cat <<SQL ;;
SELECT 0 AS t, hb AS r1, hc AS r2, count(*) AS n FROM (
    SELECT s,
        4294967295 - max(CASE WHEN nb > 0 THEN nb * 4294967296 +
            (4294967295 - r) END) % 4294967296 AS hb,
        4294967295 - max(CASE WHEN nc > 0 THEN nc * 4294967296 +
            (4294967295 - r) END) % 4294967296 AS hc
    FROM (
        SELECT s, r,
            count(*) FILTER (WHERE slot / 24 >= $BB AND slot / 24 < $BE) AS nb,
            count(*) FILTER (WHERE slot / 24 >= $CB AND slot / 24 < $CE) AS nc
        FROM ($ev) AS ev WHERE $night AND ((slot / 24 >= $BB AND
            slot / 24 < $BE) OR (slot / 24 >= $CB AND slot / 24 < $CE))
        GROUP BY s, r) AS x GROUP BY s
) AS y WHERE hb IS NOT NULL AND hc IS NOT NULL GROUP BY hb, hc;
SQL
	esac
}

# pg_gen Q [NODE]: cairn's (or NODE's) statement for Q with its
# parameters written in as literals (the cell map's arrays and the
# domain's region ids from the cell map file), for psql.
pg_gen() {
	"${2:-$NODE}" run-local --no-noise --explain --query "$W/q/$1.json" \
	    --source "$PGURI" --source-option tables=events.calls,events.sms \
	    --cells "$CELLS" >"$W/g.txt" ||
	    die "--explain $1 failed"
	awk -F, -v cf="$CELLS" '
	BEGIN { while ((getline l < cf) > 0) if (++i > 1) {
		split(l, f, ","); c = c (c == "" ? "" : ",") f[1]
		r = r (r == "" ? "" : ",") f[2]
		if (!(f[2] in seen)) dom = dom (dom == "" ? "" : ",") f[2]
		seen[f[2]] = 1 } }
	!done { st[++ns] = $0; if ($0 == ";") done = 1; next }
	/^-- \$[0-9]+: / { p = substr($0, 5); k = substr(p, 1, index(p, ":") - 1)
		if (p ~ /cell ids of the cell map/) v[k] = "{" c "}"
		else if (p ~ /their region ids/) v[k] = "{" r "}"
		else if (p ~ /region ids of the domain/) v[k] = "{" dom "}"
		else { v[k] = substr(p, index(p, " = ") + 3) }
		if (k + 0 > max) max = k + 0 }
	END { for (j = 1; j <= ns; j++) { line = st[j]
		for (k = max; k >= 1; k--) gsub("\\$" k, "'\''" v[k] "'\''", line)
		print line } }' "$W/g.txt"
}

pg_bench() {
	echo "-- PostgreSQL $("$PGBIN/postgres" --version | awk '{ print $3 }')"
	pg_start "$W/pg" "$PGPORT" "$PGSET" || die "PostgreSQL did not start"
	PGPID=$(head -n 1 "$W/pg/data/postmaster.pid")
	renice -n 19 -p "$PGPID" >/dev/null
	$PSQL -U postgres -d postgres -c "CREATE DATABASE flowdb" >/dev/null &&
	{ echo "SET TimeZone = 'UTC';"; flowdb_ddl; cat <<SQL; } |
\\copy events.calls (msisdn, datetime, location_id) FROM '$W/calls.csv' WITH (FORMAT csv)
\\copy events.sms (msisdn, datetime, location_id) FROM '$W/sms.csv' WITH (FORMAT csv)
CREATE SCHEMA bench;
CREATE TABLE bench.cells (cell TEXT PRIMARY KEY, region BIGINT NOT NULL);
\\copy bench.cells FROM '$CELLS' WITH (FORMAT csv, HEADER true)
VACUUM (FREEZE, ANALYZE);
CREATE ROLE cairn_ro LOGIN;
GRANT USAGE ON SCHEMA events, bench TO cairn_ro;
GRANT SELECT ON ALL TABLES IN SCHEMA events, bench TO cairn_ro;
SQL
	    $PSQL -U postgres -d flowdb >"$W/pg/load.log" 2>&1 ||
	    die "loading PostgreSQL failed (see $W/pg/load.log)"
	pg_restart "$W/pg" "$PGPORT" "$PGSET" || die "PostgreSQL did not restart"
	echo "settings: $($PSQL -U cairn_ro -d flowdb -At -c "SELECT
	    string_agg(name || '=' || setting, ' ' ORDER BY name) FROM
	    pg_settings WHERE name IN ('max_parallel_workers_per_gather',
	    'shared_buffers', 'work_mem', 'jit', 'enable_nestloop',
	    'max_parallel_workers')")"
	echo "loaded: $($PSQL -U postgres -d flowdb -At -c "SELECT
	    pg_size_pretty(pg_total_relation_size('events.calls_2024_03') +
	    pg_total_relation_size('events.sms'))") in events.calls and" \
	    "events.sms"
	printf '%-10s %9s %9s %9s %6s  %s\n' query "cairn" "gen psql" \
	    "hand psql" "ratio" "parallel workers planned (gen/hand)"
	SIDES="gen hand"
	[ -n "$BASE" ] && SIDES="base gen hand" &&
	    echo "(base: the statement of $BASE, through psql)"
	for q in $QUERIES; do
		params "$q"
		pg_gen "$q" >"$W/gen.sql"
		pg_hand "$q" >"$W/hand.sql"
		[ -n "$BASE" ] && pg_gen "$q" "$BASE" >"$W/base.sql"
		for s in $SIDES; do
			cp "$W/$s.sql" "$W/out/pg-$q-$s.sql"
		done
		for s in $SIDES; do
			{ echo "EXPLAIN"; cat "$W/$s.sql"; } |
			    $PSQL -U cairn_ro -d flowdb >"$W/out/pg-$q-$s.plan" ||
			    die "EXPLAIN $q $s failed"
		done
		# The untimed runs (plans, the warm-up, the checks) load the
		# machine too: under the lock as well.
		lock
		if [ -n "${CAIRN_SQLBENCH_ANALYZE:-}" ]; then
			for s in $SIDES; do
				{ echo "EXPLAIN (ANALYZE, BUFFERS)"
				  cat "$W/$s.sql"; } | $PSQL -U cairn_ro -d flowdb \
				    >"$W/out/pg-$q-$s.analyze" ||
				    die "EXPLAIN ANALYZE $q $s failed"
			done
		fi
		wg=$(sed -n 's/.*Workers Planned: \([0-9]*\).*/\1/p' \
		    "$W/out/pg-$q-gen.plan" | sort -n | tail -n 1)
		wh=$(sed -n 's/.*Workers Planned: \([0-9]*\).*/\1/p' \
		    "$W/out/pg-$q-hand.plan" | sort -n | tail -n 1)
		wb=""
		[ -n "$BASE" ] && wb=$(sed -n \
		    's/.*Workers Planned: \([0-9]*\).*/\1/p' \
		    "$W/out/pg-$q-base.plan" | sort -n | tail -n 1)
		# Once untimed (the cache warm, the cells checked).
		"$NODE" run-local --no-noise --quiet --query "$W/q/$q.json" \
		    --source "$PGURI" --source-option tables=events.calls,events.sms \
		    --cells "$CELLS" --output "$W/out/pg-$q-cairn.csv" ||
		    die "run-local --source $q failed"
		$PSQL -U cairn_ro -d flowdb -At -F, -f "$W/gen.sql" \
		    >"$W/out/pg-$q-gen.tuples" || die "psql gen $q failed"
		$PSQL -U cairn_ro -d flowdb -At -F, -f "$W/hand.sql" \
		    >"$W/out/pg-$q-hand.tuples" || die "psql hand $q failed"
		verdict "PostgreSQL $q: cairn --source = embedded engine" \
		    "$W/out/pg-$q-cairn.csv" "$W/emb/$q.csv"
		verdict_cells "PostgreSQL $q: generated statement via psql = embedded engine" \
		    "$q" "$W/out/pg-$q-gen.tuples"
		verdict_cells "PostgreSQL $q: hand-written = embedded engine" \
		    "$q" "$W/out/pg-$q-hand.tuples"
		if [ -n "$BASE" ]; then
			$PSQL -U cairn_ro -d flowdb -At -F, -f "$W/base.sql" \
			    >"$W/out/pg-$q-base.tuples" ||
			    die "psql base $q failed"
			verdict_cells "PostgreSQL $q: base's statement via psql = embedded engine" \
			    "$q" "$W/out/pg-$q-base.tuples"
		fi
		rm -f "$W/pg-c" "$W/pg-g" "$W/pg-h" "$W/pg-b"
		la0=$(loadavg)
		i=0
		while [ $i -lt "$REPEAT" ]; do
			timed "$W/pg-c" "$NODE" run-local --no-noise --quiet \
			    --query "$W/q/$q.json" --source "$PGURI" \
			    --source-option tables=events.calls,events.sms \
			    --cells "$CELLS" --output /dev/null
			[ -n "$BASE" ] && timed "$W/pg-b" $PSQL -U cairn_ro \
			    -d flowdb -f "$W/base.sql"
			timed "$W/pg-g" $PSQL -U cairn_ro -d flowdb -f "$W/gen.sql"
			timed "$W/pg-h" $PSQL -U cairn_ro -d flowdb -f "$W/hand.sql"
			i=$((i + 1))
		done
		la1=$(loadavg)
		unlock
		c=$(median <"$W/pg-c") g=$(median <"$W/pg-g") h=$(median <"$W/pg-h")
		printf '%-10s %8ss %8ss %8ss %5sx  %s/%s   load %s -> %s\n' "$q" \
		    "$c" "$g" "$h" "$(awk -v a="$c" -v b="$h" \
		    'BEGIN { printf "%.2f", a / b }')" "${wg:-0}" "${wh:-0}" \
		    "$la0" "$la1"
		echo "   runs: cairn $(tr '\n' ' ' <"$W/pg-c")| gen $(tr '\n' ' ' \
		    <"$W/pg-g")| hand $(tr '\n' ' ' <"$W/pg-h")"
		[ -n "$BASE" ] && echo "   base: median $(median <"$W/pg-b")s," \
		    "base / hand $(awk -v a="$(median <"$W/pg-b")" -v b="$h" \
		    'BEGIN { printf "%.2f", a / b }')x, gen / hand $(awk \
		    -v a="$g" -v b="$h" 'BEGIN { printf "%.2f", a / b }')x," \
		    "workers planned ${wb:-0}; runs $(tr '\n' ' ' <"$W/pg-b")"
	done
	[ -n "${CAIRN_SQLBENCH_KEEP:-}" ] && cp -r "$W/out" "$CAIRN_SQLBENCH_KEEP"
	pg_stop "$W/pg"
}

# ---------------------------------------------------------------- ClickHouse
# ch_hand Q: the hand-written statement of query Q (params set) over the
# local tables cdr.calls and cdr.sms: the cell map as transform() of two
# literal arrays, presence as uniqExact, the modal region as one max()
# (as pg_hand), od's next day by indexOf() in the subscriber's arrays
# (one scan), migration's two homes by maxIf() (one scan).
ch_hand() {
	none=18446744073709551615
	ev="SELECT s, slot, intDiv(slot, 24) AS d, r FROM (
	    SELECT msisdn AS s, intDiv(toInt64(toUnixTimestamp(datetime)) - $B,
	    3600) AS slot, transform(location_id, $CH_CELLS, $CH_REGS,
	    toUInt64($none)) AS r FROM cdr.calls WHERE datetime >=
	    toDateTime($S0) AND datetime < toDateTime($S1) AND msisdn != ''
	    UNION ALL
	    SELECT msisdn AS s, intDiv(toInt64(toUnixTimestamp(datetime)) - $B,
	    3600) AS slot, transform(location_id, $CH_CELLS, $CH_REGS,
	    toUInt64($none)) AS r FROM cdr.sms WHERE datetime >=
	    toDateTime($S0) AND datetime < toDateTime($S1) AND msisdn != ''
	    ) WHERE r != $none"
	night="(slot % 24 >= $NS OR slot % 24 < $NE)"
	modal="4294967295 - max(n * 4294967296 + (4294967295 - r)) % 4294967296"
	case $1 in
	presence) cat <<SQL ;;
SELECT d AS t, r AS r1, 0 AS r2, uniqExact(s) AS n FROM ($ev)
GROUP BY t, r1
SQL
	residents) cat <<SQL ;;
SELECT 0 AS t, h AS r1, 0 AS r2, count() AS n FROM (
    SELECT s, $modal AS h FROM (
        SELECT s, r, count() AS n FROM ($ev) WHERE $night GROUP BY s, r
    ) GROUP BY s
) GROUP BY r1
SQL
	od) cat <<SQL ;;
SELECT d AS t, h AS r1, hs[indexOf(ds, d + 1)] AS r2, count() AS n FROM (
    SELECT s, groupArray(d) AS ds, groupArray(h) AS hs FROM (
        SELECT s, d, $modal AS h FROM (
            SELECT s, d, r, count() AS n FROM ($ev) GROUP BY s, d, r
        ) GROUP BY s, d
    ) GROUP BY s
) ARRAY JOIN ds AS d, hs AS h WHERE has(ds, d + 1) GROUP BY t, r1, r2
SQL
	migration) cat <<SQL ;;
SELECT 0 AS t, hb AS r1, hc AS r2, count() AS n FROM (
    SELECT s, countIf(nb > 0) AS kb, countIf(nc > 0) AS kc,
        4294967295 - maxIf(nb * 4294967296 + (4294967295 - r), nb > 0)
            % 4294967296 AS hb,
        4294967295 - maxIf(nc * 4294967296 + (4294967295 - r), nc > 0)
            % 4294967296 AS hc
    FROM (
        SELECT s, r, countIf(d >= $BB AND d < $BE) AS nb,
            countIf(d >= $CB AND d < $CE) AS nc
        FROM ($ev) WHERE $night AND ((d >= $BB AND d < $BE) OR
            (d >= $CB AND d < $CE))
        GROUP BY s, r
    ) GROUP BY s
) WHERE kb > 0 AND kc > 0 GROUP BY r1, r2
SQL
	esac
}

# ch_run FILE PORT...: the statement of FILE on the servers of the HTTP
# PORTs at once (curl, as 'default'), the cells added; on stdout.
ch_run() {
	cf=$1
	shift
	k=0
	for p in "$@"; do
		k=$((k + 1))
		curl -sS --fail-with-body --data-binary @"$cf" \
		    "http://127.0.0.1:$p/" >"$W/chr.$k" &
	done
	wait || return 1
	for j in $(seq 1 $k); do
		grep -q '^[0-9]' "$W/chr.$j" || return 1
	done
	cat "$W"/chr.[0-9]* | awk -F'\t' '{ c[$1 "\t" $2 "\t" $3] += $4 }
	    END { for (x in c) print x "\t" c[x] }'
	rm -f "$W"/chr.[0-9]*
}

ch_bench() {
	[ -x "$CHS" ] || die "no $CHS (tools/deps.sh installs clickhouse-server)"
	for d in one sa sb; do mkdir -p "$W/$d"; done
	ch_conf "$W/one" "$H1" "$P1" UTC && ch_conf "$W/sa" "$HA" "$PA" UTC &&
	    ch_conf "$W/sb" "$HB" "$PB" UTC &&
	    ch_start "$W/one" "$H1" "nice -n 19" &&
	    ch_start "$W/sa" "$HA" "nice -n 19" &&
	    ch_start "$W/sb" "$HB" "nice -n 19" ||
	    die "ClickHouse did not start"
	echo "-- ClickHouse $(q "$H1" "SELECT version()")"
	EV='(msisdn String, datetime DateTime, location_id String)
	    ENGINE = MergeTree() PARTITION BY toYYYYMM(datetime)
	    ORDER BY (msisdn, datetime)'
	for h in "$H1" "$HA" "$HB"; do
		q "$h" "CREATE DATABASE cdr" && for t in calls sms; do
			q "$h" "CREATE TABLE cdr.$t $EV" || exit 1
		done || die "creating the tables failed"
	done
	for h in "$HA" "$HB"; do
		for t in calls sms; do
			q "$h" "CREATE TABLE cdr.${t}_all AS cdr.$t ENGINE =
			    Distributed(cairn2, cdr, $t, cityHash64(msisdn))" ||
			    die "creating the Distributed tables failed"
		done
	done
	q "$H1" "INSERT INTO cdr.calls FORMAT CSV" "$W/calls.csv" &&
	    q "$H1" "INSERT INTO cdr.sms FORMAT CSV" "$W/sms.csv" &&
	    q "$HA" "INSERT INTO cdr.calls_all FORMAT CSV" "$W/calls.csv" &&
	    q "$HA" "INSERT INTO cdr.sms_all FORMAT CSV" "$W/sms.csv" ||
	    die "loading ClickHouse failed"
	for h in "$H1" "$HA" "$HB"; do
		for t in calls sms; do
			q "$h" "OPTIMIZE TABLE cdr.$t FINAL" ||
			    die "OPTIMIZE failed"
		done
	done
	echo "loaded: server $(q "$H1" "SELECT count() FROM cdr.calls") +" \
	    "$(q "$H1" "SELECT count() FROM cdr.sms") rows, shards" \
	    "$(q "$HA" "SELECT count() FROM cdr.calls") +" \
	    "$(q "$HA" "SELECT count() FROM cdr.sms") and" \
	    "$(q "$HB" "SELECT count() FROM cdr.calls") +" \
	    "$(q "$HB" "SELECT count() FROM cdr.sms"); on disk" \
	    "$(q "$H1" "SELECT formatReadableSize(sum(bytes)) FROM
	    system.parts WHERE database = 'cdr' AND active")"
	ch_stop "$W/one" "$W/sa" "$W/sb"
	ch_start "$W/one" "$H1" && ch_start "$W/sa" "$HA" &&
	    ch_start "$W/sb" "$HB" || die "ClickHouse did not restart"
	CH_CELLS="[$(sed 1d "$CELLS" | cut -d, -f1 | sed "s/.*/'&'/" |
	    paste -sd,)]"
	CH_REGS="[$(sed 1d "$CELLS" | cut -d, -f2 | sed 's/.*/toUInt64(&)/' |
	    paste -sd,)]"
	U1="clickhouse://cairn:s3cret@127.0.0.1:$H1/cdr"
	UC="clickhouse://cairn:s3cret@127.0.0.1:$HA/cdr"
	SH="shards=127.0.0.1:$HA,127.0.0.1:$HB"
	printf '%-10s %9s %9s %6s   %9s %9s %6s\n' query "cairn 1" "hand 1" \
	    ratio "cairn 2sh" "hand 2sh" ratio
	for q in $QUERIES; do
		params "$q"
		ch_hand "$q" >"$W/hand.sql"
		cp "$W/hand.sql" "$W/out/ch-$q-hand.sql"
		lock
		"$NODE" run-local --no-noise --quiet --query "$W/q/$q.json" \
		    --source "$U1" --source-option tables=calls,sms \
		    --cells "$CELLS" --output "$W/out/ch-$q-cairn1.csv" ||
		    die "run-local --source $q failed"
		"$NODE" run-local --no-noise --quiet --query "$W/q/$q.json" \
		    --source "$UC" --source-option tables=calls,sms \
		    --source-option "$SH" --cells "$CELLS" \
		    --output "$W/out/ch-$q-cairn2.csv" ||
		    die "run-local --source (shards) $q failed"
		[ -z "$BASE" ] || "$BASE" run-local --no-noise --quiet \
		    --query "$W/q/$q.json" --source "$U1" \
		    --source-option tables=calls,sms --cells "$CELLS" \
		    --output "$W/out/ch-$q-base1.csv" ||
		    die "CAIRN_SQLBENCH_BASE run-local --source $q failed"
		ch_run "$W/hand.sql" "$H1" >"$W/out/ch-$q-hand1.tuples" ||
		    die "hand-written $q failed on the server"
		ch_run "$W/hand.sql" "$HA" "$HB" >"$W/out/ch-$q-hand2.tuples" ||
		    die "hand-written $q failed on the shards"
		verdict "ClickHouse $q: cairn --source, one server = embedded engine" \
		    "$W/out/ch-$q-cairn1.csv" "$W/emb/$q.csv"
		verdict "ClickHouse $q: cairn --source, two shards = embedded engine" \
		    "$W/out/ch-$q-cairn2.csv" "$W/emb/$q.csv"
		verdict_cells "ClickHouse $q: hand-written, one server = embedded engine" \
		    "$q" "$W/out/ch-$q-hand1.tuples"
		verdict_cells "ClickHouse $q: hand-written, two shards = embedded engine" \
		    "$q" "$W/out/ch-$q-hand2.tuples"
		[ -z "$BASE" ] || verdict \
		    "ClickHouse $q: base's --source, one server = embedded engine" \
		    "$W/out/ch-$q-base1.csv" "$W/emb/$q.csv"
		rm -f "$W/c1" "$W/h1" "$W/c2" "$W/h2" "$W/b1"
		la0=$(loadavg)
		i=0
		while [ $i -lt "$REPEAT" ]; do
			[ -z "$BASE" ] || timed "$W/b1" "$BASE" run-local \
			    --no-noise --quiet --query "$W/q/$q.json" \
			    --source "$U1" --source-option tables=calls,sms \
			    --cells "$CELLS" --output /dev/null
			timed "$W/c1" "$NODE" run-local --no-noise --quiet \
			    --query "$W/q/$q.json" --source "$U1" \
			    --source-option tables=calls,sms --cells "$CELLS" \
			    --output /dev/null
			timed "$W/h1" sh -c "curl -sS --fail-with-body \
			    --data-binary @'$W/hand.sql' http://127.0.0.1:$H1/"
			timed "$W/c2" "$NODE" run-local --no-noise --quiet \
			    --query "$W/q/$q.json" --source "$UC" \
			    --source-option tables=calls,sms \
			    --source-option "$SH" --cells "$CELLS" \
			    --output /dev/null
			timed "$W/h2" sh -c "curl -sS --fail-with-body \
			    --data-binary @'$W/hand.sql' http://127.0.0.1:$HA/ &
			    curl -sS --fail-with-body \
			    --data-binary @'$W/hand.sql' http://127.0.0.1:$HB/ &
			    wait"
			i=$((i + 1))
		done
		la1=$(loadavg)
		unlock
		a=$(median <"$W/c1") b=$(median <"$W/h1")
		c=$(median <"$W/c2") d=$(median <"$W/h2")
		printf '%-10s %8ss %8ss %5sx   %8ss %8ss %5sx   load %s -> %s\n' \
		    "$q" "$a" "$b" "$(awk -v a="$a" -v b="$b" \
		    'BEGIN { printf "%.2f", a / b }')" "$c" "$d" \
		    "$(awk -v a="$c" -v b="$d" 'BEGIN { printf "%.2f", a / b }')" \
		    "$la0" "$la1"
		echo "   runs: cairn 1 $(tr '\n' ' ' <"$W/c1")| hand 1 $(tr '\n' \
		    ' ' <"$W/h1")| cairn 2sh $(tr '\n' ' ' <"$W/c2")| hand 2sh" \
		    "$(tr '\n' ' ' <"$W/h2")"
		[ -z "$BASE" ] || echo "   base 1 $(median <"$W/b1")s, base /" \
		    "hand $(awk -v a="$(median <"$W/b1")" -v b="$b" \
		    'BEGIN { printf "%.2f", a / b }')x, cairn / base $(awk \
		    -v a="$a" -v b="$(median <"$W/b1")" \
		    'BEGIN { printf "%.2f", a / b }')x; runs $(tr '\n' ' ' \
		    <"$W/b1")"
	done
	[ -n "${CAIRN_SQLBENCH_KEEP:-}" ] && cp -r "$W/out" "$CAIRN_SQLBENCH_KEEP"
	ch_stop "$W/one" "$W/sa" "$W/sb"
}

# ---------------------------------------------------------------- main
echo "load average at the start: $(loadavg)"
for e in $ENGINES; do
	case $e in
	pg) pg_bench ;;
	ch) ch_bench ;;
	*) die "unknown engine '$e' in CAIRN_SQLBENCH_ENGINES (pg, ch)" ;;
	esac
done
echo "load average at the end: $(loadavg)"
[ $fails -eq 0 ]
