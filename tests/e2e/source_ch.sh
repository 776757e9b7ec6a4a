#!/bin/sh
# source_ch.sh - the ClickHouse push-down source (docs/sources.md) against
# the embedded engine.  Starts Debian's clickhouse-server (18.16) three
# times on 127.0.0.1 with ephemeral ports, each in a temporary directory of
# its own and as 'nobody' when run as root: one single server, and a
# cluster of two shards (two processes) whose events go through a
# Distributed table sharded by cityHash64(msisdn).  The single server runs
# in the Asia/Kolkata time zone, the shards in UTC: the statement must not
# depend on the server's zone.  Event tables cdr.calls and cdr.sms (msisdn
# String, datetime DateTime, location_id String), loaded from the same CSV
# files the engine reads; the node connects as a readonly=2 user.  Checks:
#   - `run-local --no-noise --source` prints byte for byte what `--cdr`
#     prints, from the single server and from the cluster (`shards`), for
#     every kind the source computes, on bench/small_data.py's edge cases
#     (modal and top-k ties, k = 1, offsets, night edges, a month
#     boundary, region ids 0 and 2^32 - 1) and on a `cairn synth` holder
#     across February 29 with offsets -330 and 90, k 1 and 3, and night
#     spans; population_by_category from a region-level table;
#   - both shards hold events, and no subscriber is on both; negative
#     control: the same events sharded at random give other cells;
#   - neighbouring data sets: one subscriber's records of one UTC month
#     removed gives the same output through the three paths (every kind);
#   - rows the source refuses (an unmapped or empty location, an empty
#     subscriber) change no kind's cells;
#   - check-data counts what the source would refuse, by reason; Nullable
#     columns with NULLs; on the cluster with 'cluster', the subscribers
#     of each shard that also have events on another (none when sharded
#     by subscriber; remote()'s count when sharded at random; one planted
#     event);
#   - the holder's 'settings' reach every server (external aggregation:
#     the same cells, and the servers spill; a memory limit fails on a
#     shard); the node's own settings are refused;
#   - --explain; an unreachable server, a shard down, a wrong table, a bad
#     password, a missing database, a user without access to the database
#     and a statement over its timeout fail with one line naming it; a
#     failed shard stops the statement of the other;
#     SIGTERM kills the running statement on the server;
#   - `cairn-node serve` with a [source] in node.conf, one node on the
#     single server and one on the cluster: a released round within its
#     noise of the embedded engine's exact counts.
set -u
. "${CAIRN_TOP:-.}/tests/e2e/lib/tap.sh"
BIN=${CAIRN_BIN:-build/bin}
TOP=${CAIRN_TOP:-.}
NODE="$BIN/cairn-node"
. "$TOP/tests/e2e/lib/dbservers.sh"
[ -x "$CHS" ] || { echo "not ok 1 - no $CHS (tools/deps.sh installs" \
    "clickhouse-server)"; exit 1; }

T=$(mktemp -d /tmp/cairn-srcch.XXXXXX)
chmod 755 "$T"
db_runner
# Six free ports: HTTP and TCP of the single server and of two shards.
set -- $(free_ports 6)
H1=$1 P1=$2 HA=$3 PA=$4 HB=$5 PB=$6
stop_ch() {
	[ -n "${FED_COORD_PID:-}" ] && kill -TERM "$FED_COORD_PID" 2>/dev/null
	ch_stop "$T/one" "$T/sa" "$T/sb"
	rm -rf "$T"
}
trap stop_ch EXIT
trap 'exit 1' INT TERM

ch_conf "$T/one" "$H1" "$P1" Asia/Kolkata &&
    ch_conf "$T/sa" "$HA" "$PA" UTC && ch_conf "$T/sb" "$HB" "$PB" UTC &&
    ch_start "$T/one" "$H1" && ch_start "$T/sa" "$HA" &&
    ch_start "$T/sb" "$HB"
status_ok $? "three ClickHouse servers start on 127.0.0.1 ($H1, $HA, $HB)"
check "the servers are ClickHouse 18.16" sh -c \
    "curl -sS 'http://127.0.0.1:$H1/?query=SELECT%20version()' | grep -q '^18\.16\.'"

# The tables: on the single server cdr.calls and cdr.sms; on each shard
# the same local tables, and cdr.calls_all / cdr.sms_all, Distributed over
# the cluster by cityHash64(msisdn) (every event of a subscriber on one
# shard).  A region-level table cdr.records for population_by_category.
EV='(msisdn String, datetime DateTime, location_id String)
    ENGINE = MergeTree() PARTITION BY toYYYYMM(datetime)
    ORDER BY (msisdn, datetime)'
REC='(entity_id String, ts DateTime, region_id UInt64, category String)
    ENGINE = MergeTree() ORDER BY entity_id'
mk_tables() {
	q "$1" "CREATE DATABASE cdr" && q "$1" "CREATE DATABASE other" &&
	    q "$1" "CREATE TABLE cdr.calls $EV" &&
	    q "$1" "CREATE TABLE cdr.sms $EV" &&
	    q "$1" "CREATE TABLE cdr.records $REC" &&
	    q "$1" "CREATE TABLE cdr.stage (n UInt64, sub String, ts String,
	        cell String) ENGINE = Memory" &&
	    q "$1" "CREATE TABLE cdr.rstage (sub String, ts String,
	        region String, cat String) ENGINE = Memory"
}
mk_tables "$H1" >"$T/out" 2>&1 && mk_tables "$HA" >>"$T/out" 2>&1 &&
    mk_tables "$HB" >>"$T/out" 2>&1 && for h in "$HA" "$HB"; do
	for t in calls sms records; do
		q "$h" "CREATE TABLE cdr.${t}_all AS cdr.$t ENGINE =
		    Distributed(cairn2, cdr, $t, cityHash64($([ $t = records ] &&
		    echo entity_id || echo msisdn)))" || exit 1
	done
done >>"$T/out" 2>&1
status_ok $? "event tables on the server and the shards, Distributed tables over the shards"

TS="if(match(ts, '^[0-9]+\$'), toDateTime(toUInt32OrZero(ts)), parseDateTimeBestEffort(ts))"
# load CSV: the CSV's rows replace the events, odd rows to calls, even
# rows to sms; on the single server, and through the Distributed tables
# onto the shards.
load() {
	awk 'NR > 1 { print NR "," $0 }' "$1" >"$T/stage.csv"
	for h in "$H1" "$HA" "$HB"; do
		for t in calls sms stage; do
			q "$h" "TRUNCATE TABLE cdr.$t" || return 1
		done
	done
	for h in "$H1" "$HA"; do
		q "$h" "INSERT INTO cdr.stage FORMAT CSV" "$T/stage.csv" ||
		    return 1
	done
	for p in "$H1 calls sms" "$HA calls_all sms_all"; do
		set -- $p
		q "$1" "INSERT INTO cdr.$2 SELECT sub, $TS, cell FROM cdr.stage
		    WHERE n % 2 = 1" && q "$1" "INSERT INTO cdr.$3 SELECT sub,
		    $TS, cell FROM cdr.stage WHERE n % 2 = 0" || return 1
	done
}
# load_rec CSV: the region-level records, likewise.
load_rec() {
	sed 1d "$1" >"$T/rstage.csv"
	for h in "$H1" "$HA" "$HB"; do
		q "$h" "TRUNCATE TABLE cdr.records" &&
		    q "$h" "TRUNCATE TABLE cdr.rstage" || return 1
	done
	for p in "$H1 records" "$HA records_all"; do
		set -- $p
		q "$1" "INSERT INTO cdr.rstage FORMAT CSV" "$T/rstage.csv" &&
		    q "$1" "INSERT INTO cdr.$2 SELECT sub, $TS, toUInt64(region),
		    cat FROM cdr.rstage" || return 1
	done
}

URI1="clickhouse://cairn:s3cret@127.0.0.1:$H1/cdr"
URIC="clickhouse://cairn:s3cret@127.0.0.1:$HA/cdr"
SRC1="--source $URI1 --source-option tables=calls,sms"
SRCC="--source $URIC --source-option tables=calls,sms
    --source-option shards=127.0.0.1:$HA,127.0.0.1:$HB"
# same NAME Q CDR CELLS: the exact output from the single server and from
# the cluster is the embedded engine's, byte for byte (and not empty).
same() {
	"$NODE" run-local --no-noise --quiet --query "$2" --cdr "$3" \
	    --cells "$4" >"$T/emb.csv" 2>"$T/out"
	e=$?
	# shellcheck disable=SC2086
	"$NODE" run-local --no-noise --quiet --query "$2" $SRC1 \
	    --cells "$4" >"$T/one.csv" 2>>"$T/out"
	s=$?
	# shellcheck disable=SC2086
	"$NODE" run-local --no-noise --quiet --query "$2" $SRCC \
	    --cells "$4" >"$T/cl.csv" 2>>"$T/out"
	c=$?
	if [ "$e$s$c" = 000 ] && [ "$(wc -l <"$T/emb.csv")" -gt 1 ] &&
	    cmp -s "$T/emb.csv" "$T/one.csv" && cmp -s "$T/emb.csv" "$T/cl.csv"
	then
		ok "$1: server and cluster output = embedded output"
	else
		{ diff "$T/emb.csv" "$T/one.csv" | head -n 5
		  diff "$T/emb.csv" "$T/cl.csv" | head -n 5; } >>"$T/out"
		notok "$1: server and cluster output = embedded output (rc $e/$s/$c)"
	fi
}

# 1. The hand-made edge cases.
python3 "$TOP/bench/small_data.py" "$T/small" >/dev/null 2>&1 &&
    load "$T/small/cdr.csv" >"$T/out" 2>&1
status_ok $? "the edge-case CDR is loaded"
for f in "$T"/small/queries/*.json; do
	name=$(basename "$f" .json)
	# Not generated (docs/sources.md); population_by_category below.
	case $name in displacement*|residents_2nights|population_by_category)
		continue ;;
	esac
	same "small/$name" "$f" "$T/small/cdr.csv" "$T/small/cells.csv"
done
n1=$(q "$HA" "SELECT count() FROM cdr.calls")
n2=$(q "$HB" "SELECT count() FROM cdr.calls")
both=$(q "$HA" "SELECT count() FROM (SELECT DISTINCT msisdn FROM cdr.calls
    UNION ALL SELECT DISTINCT msisdn FROM cdr.sms) WHERE msisdn IN
    (SELECT msisdn FROM remote('127.0.0.1:$PB', cdr.calls) UNION ALL
    SELECT msisdn FROM remote('127.0.0.1:$PB', cdr.sms))")
holds "both shards hold events ($n1 and $n2 calls), no subscriber on both" \
    '[ "${n1:-0}" -gt 0 ] && [ "${n2:-0}" -gt 0 ] && [ "$both" = 0 ]'

# population_by_category from a region-level table with categories.
RSRC="--source-option tables=records --source-option subscriber_column=entity_id
    --source-option time_column=ts --source-option region_column=region_id
    --source-option category_column=category"
# same_rec NAME Q CSV REGIONS: as same, for region-level records, with
# the count of events under other categories.
same_rec() {
	"$NODE" run-local --no-noise --query "$2" --cdr "$3" \
	    --regions "$4" >"$T/emb.csv" 2>"$T/emb.err"
	e=$?
	# shellcheck disable=SC2086
	"$NODE" run-local --no-noise --query "$2" --source "$URI1" $RSRC \
	    --regions "$4" >"$T/one.csv" 2>"$T/one.err"
	s=$?
	# shellcheck disable=SC2086
	"$NODE" run-local --no-noise --query "$2" --source "$URIC" $RSRC \
	    --source-option "shards=127.0.0.1:$HA,127.0.0.1:$HB" \
	    --regions "$4" >"$T/cl.csv" 2>"$T/cl.err"
	c=$?
	oth() {
		sed -n 's/.*, \([0-9]*\) under a category outside.*/\1/p' "$1"
	}
	oe=$(oth "$T/emb.err") os=$(oth "$T/one.err") oc=$(oth "$T/cl.err")
	if [ "$e$s$c" = 000 ] && [ "$(wc -l <"$T/emb.csv")" -gt 1 ] &&
	    cmp -s "$T/emb.csv" "$T/one.csv" &&
	    cmp -s "$T/emb.csv" "$T/cl.csv" && [ "$oe" = "$os" ] &&
	    [ "$oe" = "$oc" ]; then
		ok "$1: server and cluster output = embedded output ($oe other-category events)"
	else
		{ diff "$T/emb.csv" "$T/one.csv" | head -n 5
		  diff "$T/emb.csv" "$T/cl.csv" | head -n 5
		  cat "$T/emb.err" "$T/one.err" "$T/cl.err"; } >"$T/out"
		notok "$1: server and cluster output = embedded output (rc $e/$s/$c)"
	fi
}
load_rec "$T/small/records.csv" >"$T/out" 2>&1
status_ok $? "the edge-case records are loaded"
same_rec "small/population_by_category" \
    "$T/small/queries/population_by_category.json" "$T/small/records.csv" \
    "$T/small/regions.csv"

# 2. Rows the source refuses change nothing, and check-data counts them.
q "$H1" "INSERT INTO cdr.calls VALUES ('tu', '2024-03-31 10:00:00', ''),
    ('tu', '2024-03-31 12:00:00', 'nosuchcell'),
    ('tu', '2024-03-31 13:00:00', 'nosuchcell'),
    ('', '2024-03-31 14:00:00', 'c1')" >"$T/out" 2>&1
status_ok $? "bad rows are added on the single server"
# Every kind: an unmapped cell's events have no region (transform()'s
# default), never a region of the map or one of their own (the cluster,
# which has no bad rows, is compared too).
for j in presence_day_k1 presence_hour_k2 residents od migration \
    visitors_k1; do
	same "the bad rows change nothing: $j" "$T/small/queries/$j.json" \
	    "$T/small/cdr.csv" "$T/small/cells.csv"
done
# A cell map over 16,384 cells is joined, not looked up by transform()
# (sql_gen.c): the same cells through that path, on the server and the
# cluster.
r0=$(sed -n 2p "$T/small/cells.csv" | cut -d, -f2)
{ cat "$T/small/cells.csv"; seq 1 16400 | sed "s/.*/zzbig&,$r0/"; } \
    >"$T/bigcells.csv"
# shellcheck disable=SC2086
"$NODE" run-local --no-noise --explain --query \
    "$T/small/queries/od.json" $SRC1 --cells "$T/bigcells.csv" >"$T/out" 2>&1
has "a map of $(($(wc -l <"$T/bigcells.csv") - 1)) cells is joined" \
    'ALL INNER JOIN cm ON cm.cell = e.cell'
for j in presence_day_k1 residents od migration visitors_k1; do
	same "a map over transform()'s limit: $j" \
	    "$T/small/queries/$j.json" "$T/small/cdr.csv" "$T/bigcells.csv"
done
# shellcheck disable=SC2086
"$NODE" check-data $SRC1 --cells "$T/small/cells.csv" >"$T/out" 2>&1
rc=$?
holds "check-data refuses a table over --max-bad-fraction (exit 1)" \
    '[ "$rc" -eq 1 ]'
has "check-data counts unmapped locations" "calls: .* 2 unmapped location"
has "check-data counts empty locations" "calls: .* 1 NULL or empty location"
has "check-data counts empty subscribers" "calls: .*(1 empty subscriber"
has "check-data finds sms clean" "sms: [0-9]* rows, [0-9]* read, 0 refused"
# shellcheck disable=SC2086
"$NODE" check-data $SRCC --cells "$T/small/cells.csv" >"$T/out" 2>&1
rc=$?
nc=$(grep -c . "$T/small/cdr.csv")
holds "check-data on the cluster counts every shard's rows ($((nc - 1)))" \
    '[ "$rc" -eq 0 ] && [ "$(sed -n "s/^calls: \([0-9]*\) rows.*/\1/p" "$T/out")" -eq $(( (nc - 1) / 2 )) ]'

# Nullable columns: NULLs are not read, and check-data counts them.
q "$H1" "CREATE TABLE cdr.ncalls (msisdn Nullable(String),
    datetime Nullable(DateTime), location_id Nullable(String))
    ENGINE = MergeTree() ORDER BY tuple()" >"$T/out" 2>&1 &&
    q "$H1" "INSERT INTO cdr.ncalls SELECT msisdn, datetime, location_id
    FROM cdr.calls WHERE location_id <> 'nosuchcell' AND location_id <> ''
    AND msisdn <> ''" >>"$T/out" 2>&1 &&
    q "$H1" "INSERT INTO cdr.ncalls SELECT msisdn, datetime, location_id
    FROM cdr.sms" >>"$T/out" 2>&1 &&
    q "$H1" "INSERT INTO cdr.ncalls VALUES (NULL, '2024-03-31 10:00:00', 'c1'),
    ('tu', NULL, 'c1'), ('tu', '2024-03-31 10:00:00', NULL)" >>"$T/out" 2>&1
status_ok $? "a table of Nullable columns with NULLs"
for j in residents od; do
	"$NODE" run-local --no-noise --quiet --query \
	    "$T/small/queries/$j.json" --cdr "$T/small/cdr.csv" \
	    --cells "$T/small/cells.csv" >"$T/emb.csv" 2>"$T/out"
	"$NODE" run-local --no-noise --quiet --query \
	    "$T/small/queries/$j.json" --source "$URI1" \
	    --source-option tables=ncalls --cells "$T/small/cells.csv" \
	    >"$T/one.csv" 2>>"$T/out"
	holds "Nullable columns: $j = embedded output" \
	    'cmp -s "$T/emb.csv" "$T/one.csv"'
done
"$NODE" check-data --source "$URI1" --source-option tables=ncalls \
    --cells "$T/small/cells.csv" >"$T/out" 2>&1
has "check-data counts NULLs by reason" \
    "ncalls: .* 3 refused (1 empty subscriber, 1 bad time, 1 NULL or empty location, 0 unmapped"

# 3. A synthetic holder across February 29, offsets, k and night spans.
"$BIN/cairn" synth --out "$T/syn" --subscribers 200 --days 5 --regions 7 \
    --start 2024-02-27 --one-file --quiet >"$T/out" 2>&1
status_ok $? "cairn synth writes a holder"
CDR="$T/syn/holder1/cdr/cdr.csv"
CELLS="$T/syn/holder1/cells.csv"
load "$CDR" >"$T/out" 2>&1
status_ok $? "the synthetic CDR is loaded"
W='"start": "2024-02-27", "end": "2024-03-03"'
i=0
for off in -330 90; do
	for spec in \
	    "\"kind\": \"presence\", $W, \"bucket\": \"day\", \"k\": 1" \
	    "\"kind\": \"presence\", $W, \"bucket\": \"day\", \"k\": 3" \
	    "\"kind\": \"presence\", $W, \"bucket\": \"hour\", \"k\": 1" \
	    "\"kind\": \"residents\", $W" \
	    "\"kind\": \"residents\", $W, \"night_start_hour\": 19, \"night_end_hour\": 9" \
	    "\"kind\": \"od\", $W" \
	    "\"kind\": \"migration\", \"baseline\": [\"2024-02-27\", \"2024-03-01\"], \"comparison\": [\"2024-02-29\", \"2024-03-03\"], \"night_start_hour\": 23, \"night_end_hour\": 1" \
	    "\"kind\": \"visitors\", $W, \"k\": 1" \
	    "\"kind\": \"visitors\", $W, \"k\": 3, \"night_start_hour\": 20, \"night_end_hour\": 7"
	do
		i=$((i + 1))
		echo "{$spec, \"utc_offset_minutes\": $off}" >"$T/q$i.json"
		same "synth q$i (offset $off): $spec" "$T/q$i.json" "$CDR" \
		    "$CELLS"
	done
done
load_rec "$T/syn/holder1/records.csv" >"$T/out" 2>&1
status_ok $? "the synthetic records are loaded"
i=$((i + 1))
echo "{\"kind\": \"population_by_category\", $W, \"categories\":" \
    "[\"65+\", \"18-29\", \"zz\"], \"utc_offset_minutes\": -330}" \
    >"$T/q$i.json"
same_rec "synth q$i: population_by_category" "$T/q$i.json" \
    "$T/syn/holder1/records.csv" "$T/syn/regions.csv"

# Negative control: the same events sharded at random, not by subscriber,
# split subscribers between the shards, and the cluster's cells are no
# longer the embedded engine's (why `shards` needs data sharded by
# subscriber, docs/sources.md).
for h in "$HA" "$HB"; do
	q "$h" "CREATE TABLE cdr.crand $EV" && q "$h" "CREATE TABLE cdr.srand $EV" &&
	    q "$h" "CREATE TABLE cdr.crand_all AS cdr.crand ENGINE =
	    Distributed(cairn2, cdr, crand, rand())" &&
	    q "$h" "CREATE TABLE cdr.srand_all AS cdr.srand ENGINE =
	    Distributed(cairn2, cdr, srand, rand())" || break
done >"$T/out" 2>&1 &&
    q "$HA" "INSERT INTO cdr.crand_all SELECT sub, $TS, cell FROM cdr.stage
    WHERE n % 2 = 1" >>"$T/out" 2>&1 &&
    q "$HA" "INSERT INTO cdr.srand_all SELECT sub, $TS, cell FROM cdr.stage
    WHERE n % 2 = 0" >>"$T/out" 2>&1
status_ok $? "the same events are loaded sharded at random"
"$NODE" run-local --no-noise --quiet --query "$T/q4.json" --cdr "$CDR" \
    --cells "$CELLS" >"$T/emb.csv" 2>"$T/out"
"$NODE" run-local --no-noise --quiet --query "$T/q4.json" --source "$URIC" \
    --source-option tables=crand,srand \
    --source-option "shards=127.0.0.1:$HA,127.0.0.1:$HB" --cells "$CELLS" \
    >"$T/cl.csv" 2>>"$T/out"
rc=$?
holds "sharded at random, the cluster's residents are not the embedded engine's" \
    '[ "$rc" -eq 0 ] && [ -s "$T/cl.csv" ] && ! cmp -s "$T/emb.csv" "$T/cl.csv"'

# check-data on a cluster counts, through the option 'cluster', the
# subscribers of each shard that have events on another shard too.
# Sharded by subscriber: none (the negative control); sharded at random:
# each shard's count is the one remote() finds; one planted event:
# one subscriber on each shard, both shards named, exit 1.
CLU="--source $URIC --source-option shards=127.0.0.1:$HA,127.0.0.1:$HB
    --source-option cluster=cairn2"
# shellcheck disable=SC2086
"$NODE" check-data $CLU --source-option tables=calls,sms --cells "$CELLS" \
    >"$T/out" 2>&1
rc=$?
holds "check-data: sharded by subscriber, no shard holds a split subscriber (exit 0)" \
    '[ "$rc" -eq 0 ] && [ "$(grep -c "^shard 127.0.0.1:[0-9]*: 0 subscribers also on another shard$" "$T/out")" -eq 2 ]'
# split_on H P: the subscribers of the shard of HTTP port H (tables crand,
# srand) that have events on the shard of TCP port P, as remote() sees it.
split_on() {
	q "$1" "SELECT uniqExact(msisdn) FROM (SELECT msisdn FROM cdr.crand
	    UNION ALL SELECT msisdn FROM cdr.srand) WHERE msisdn IN
	    (SELECT msisdn FROM remote('127.0.0.1:$2', cdr.crand) UNION ALL
	    SELECT msisdn FROM remote('127.0.0.1:$2', cdr.srand))"
}
sa=$(split_on "$HA" "$PB")
sb=$(split_on "$HB" "$PA")
# shellcheck disable=SC2086
"$NODE" check-data $CLU --source-option tables=crand,srand --cells "$CELLS" \
    >"$T/out" 2>"$T/err"
rc=$?
holds "check-data: sharded at random, each shard's split subscribers as remote() counts them ($sa, $sb; exit 1)" \
    '[ "$rc" -eq 1 ] && [ "${sa:-0}" -gt 0 ] && [ "${sb:-0}" -gt 0 ] &&
    grep -q "^shard 127.0.0.1:$HA: $sa subscribers also on another shard$" "$T/out" &&
    grep -q "^shard 127.0.0.1:$HB: $sb subscribers also on another shard$" "$T/out"'
has "check-data names the shards of the split subscribers" \
    "error: the data is not sharded by subscriber: shard 127.0.0.1:$HA holds $sa subscribers.* shard 127.0.0.1:$HB holds $sb " \
    "$T/err"
who=$(q "$HA" "SELECT any(msisdn) FROM cdr.calls")
q "$HB" "INSERT INTO cdr.sms VALUES ('$who', '2024-02-28 12:00:00', 'nosuchcell')" \
    >"$T/out" 2>&1
status_ok $? "one event of a subscriber of shard A is planted on shard B"
# shellcheck disable=SC2086
"$NODE" check-data $CLU --source-option tables=calls,sms --cells "$CELLS" \
    >"$T/out" 2>"$T/err"
rc=$?
holds "check-data: the planted subscriber is counted once on each shard (exit 1)" \
    '[ "$rc" -eq 1 ] &&
    grep -q "^shard 127.0.0.1:$HA: 1 subscribers also on another shard$" "$T/out" &&
    grep -q "^shard 127.0.0.1:$HB: 1 subscribers also on another shard$" "$T/out"'
# shellcheck disable=SC2086
"$NODE" check-data $SRCC --cells "$CELLS" >"$T/out" 2>&1
rc=$?
holds "check-data on shards without 'cluster' says the count was not made (exit 0)" \
    '[ "$rc" -eq 0 ] && grep -q "^shards: subscribers on more than one shard not counted (set the source option cluster)$" "$T/out"'
fails_cleanly "a cluster the shards do not know fails with the server's message" \
    "cairn-node check-data" "Requested cluster 'nosuch' not found" \
    "$NODE" check-data --source "$URIC" --source-option tables=calls,sms \
    --source-option "shards=127.0.0.1:$HA,127.0.0.1:$HB" \
    --source-option cluster=nosuch --cells "$CELLS"
load "$CDR" >"$T/out" 2>&1
status_ok $? "the synthetic CDR is loaded again (the planted event gone)"

# The holder's ClickHouse settings reach every server: external
# aggregation from the first byte (and two-level from the first key, as
# spilling needs) gives the same cells and spills (the server's
# ExternalAggregationWritePart grows; without it, it does not);
# a memory limit too small fails on the shard; the node's own settings
# are refused.
spills() {
	q "$1" "SELECT sum(value) FROM system.events WHERE
	    event = 'ExternalAggregationWritePart'"
}
w0=$(spills "$H1")
same "synth q1 without settings" "$T/q1.json" "$CDR" "$CELLS"
w1=$(spills "$H1")
EXT="max_bytes_before_external_group_by=1,group_by_two_level_threshold=1"
SRC1="$SRC1 --source-option settings=$EXT"
SRCC="$SRCC --source-option settings=$EXT"
same "synth q1 with max_bytes_before_external_group_by=1" "$T/q1.json" \
    "$CDR" "$CELLS"
same "synth q6 (od) with max_bytes_before_external_group_by=1" \
    "$T/q6.json" "$CDR" "$CELLS"
w2=$(spills "$H1")
wa=$(spills "$HA")
holds "with the setting the servers spilled their GROUP BY to disk (server $w1 -> $w2 parts, shard A $wa), without it not ($w0 -> $w1)" \
    '[ "${w0:-0}" = "${w1:-0}" ] && [ "${w2:-0}" -gt "${w1:-0}" ] && [ "${wa:-0}" -gt 0 ]'
fails_cleanly "a setting reaches the shards: max_memory_usage too small fails there" \
    "cairn-node run-local" "Memory limit (for query) exceeded" \
    "$NODE" run-local --no-noise --quiet --query "$T/q4.json" \
    --source "$URIC" --source-option tables=calls,sms \
    --source-option "shards=127.0.0.1:$HA,127.0.0.1:$HB" \
    --source-option settings=max_memory_usage=1000 --cells "$CELLS"
fails_cleanly "a setting the node sets itself is refused" \
    "cairn-node run-local" "source setting 'join_use_nulls' is the node's own" \
    "$NODE" run-local --no-noise --quiet --query "$T/q4.json" \
    --source "$URI1" --source-option settings=join_use_nulls=0 \
    --cells "$CELLS"
fails_cleanly "a setting's value that is not a plain token is refused" \
    "cairn-node run-local" "the value is not" \
    "$NODE" run-local --no-noise --quiet --query "$T/q4.json" \
    --source "$URI1" --source-option "settings=max_threads=1&readonly=0" \
    --cells "$CELLS"
SRC1="--source $URI1 --source-option tables=calls,sms"
SRCC="--source $URIC --source-option tables=calls,sms
    --source-option shards=127.0.0.1:$HA,127.0.0.1:$HB"

# 4. Neighbouring data sets: one subscriber's records of one UTC month
# removed, through the three paths.
for who in $(cut -d, -f1 "$CDR" | sed 1d | sort -u | head -n 2); do
	for m in 2024-02 2024-03; do
		{ head -n 1 "$CDR"; sed 1d "$CDR" |
		    awk -F, -v w="$who" -v m="$m" \
		    '!($1 == w && substr($2, 1, 7) == m)'; } >"$T/nb.csv"
		load "$T/nb.csv" >"$T/out" 2>&1 ||
		    notok "without $who's $m: the data is loaded"
		for j in 10 12 13 15 16 17; do
			same "without $who's $m: q$j" "$T/q$j.json" \
			    "$T/nb.csv" "$CELLS"
		done
	done
done

# 5. --explain, and what fails.
# shellcheck disable=SC2086
"$NODE" run-local --no-noise --explain --query "$T/q4.json" $SRC1 \
    --cells "$CELLS" >"$T/out" 2>&1
status_ok $? "--explain prints the statement"
has "--explain quotes the table names" '"calls"'
has "--explain's home is one max() of the count, then the smaller region" \
    '4294967295 - max(n \* 4294967296 + (4294967295 - region) + throwIf(n > 4294967295)) % 4294967296 AS region'
has "--explain maps the cells by transform() of the external table cm" \
    'transform(e.cell, tupleElement((SELECT groupArray(cell), groupArray(region) FROM cm), 1),'
has "--explain lists the night hours" \
    '^-- night_start_hour = 22 (written in the statement)'
has "--explain names the cell map's external table" \
    '^-- external table cm (cell String, region UInt64): the cell map'
holds "--explain shows no cell id" '! grep -q "$(sed -n 2p "$CELLS" |
    cut -d, -f1)" "$T/out"'
fails_cleanly "a server that is not there fails" "cairn-node run-local" \
    "cannot connect" "$NODE" run-local --no-noise --quiet \
    --query "$T/q4.json" --source "clickhouse://cairn@127.0.0.1:1/cdr" \
    --cells "$CELLS"
# shellcheck disable=SC2086
fails_cleanly "a shard that is down is named" "cairn-node run-local" \
    "clickhouse 127.0.0.1:1: cannot connect" "$NODE" run-local --no-noise \
    --quiet --query "$T/q4.json" $SRCC \
    --source-option "shards=127.0.0.1:$HA,127.0.0.1:1" --cells "$CELLS"
fails_cleanly "a missing table names it" "cairn-node run-local" \
    "Table cdr.nosuch doesn't exist" "$NODE" run-local --no-noise --quiet \
    --query "$T/q4.json" --source "$URI1" --source-option tables=nosuch \
    --cells "$CELLS"
fails_cleanly "a missing column names it" "cairn-node run-local" \
    "nosuchcol" "$NODE" run-local --no-noise --quiet \
    --query "$T/q4.json" --source "$URI1" \
    --source-option time_column=nosuchcol --source-option tables=calls \
    --cells "$CELLS"
fails_cleanly "a wrong password fails with the server's message" \
    "cairn-node run-local" "Wrong password for user cairn" "$NODE" \
    run-local --no-noise --quiet --query "$T/q4.json" \
    --source "clickhouse://cairn:wrong@127.0.0.1:$H1/cdr" --cells "$CELLS"
fails_cleanly "a missing database names it" "cairn-node run-local" \
    "Database nosuchdb doesn't exist" "$NODE" run-local --no-noise --quiet \
    --query "$T/q4.json" --source "clickhouse://cairn:s3cret@127.0.0.1:$H1/nosuchdb" \
    --cells "$CELLS"
fails_cleanly "a user without access to the database fails" \
    "cairn-node run-local" "Access denied to database cdr" "$NODE" \
    run-local --no-noise --quiet --query "$T/q4.json" \
    --source "clickhouse://nogrants@127.0.0.1:$H1/cdr" --cells "$CELLS"
fails_cleanly "a URI without a port is refused" "cairn-node run-local" \
    "needs a host and a port" "$NODE" run-local --no-noise \
    --query "$T/q4.json" --source "clickhouse://127.0.0.1/cdr" \
    --cells "$CELLS"
fails_cleanly "shards that are not HOST:PORT are refused" \
    "cairn-node run-local" "source shard 'x/y' is not HOST:PORT" "$NODE" \
    run-local --no-noise --query "$T/q4.json" --source "$URI1" \
    --source-option shards=x/y --cells "$CELLS"
holds "no password appears in an error" \
    '! grep -q s3cret "$T/err"'
# A statement slower than its timeout: a view whose rows come 20 a block
# (user 'slow'), 50 ms a row.
SLOWV="CREATE VIEW cdr.slow AS SELECT 'x' AS msisdn,
    toDateTime(1709251200) AS datetime, 'c1' AS location_id FROM
    (SELECT number FROM system.numbers LIMIT 4000)
    WHERE sleepEachRow(0.05) = 0"
q "$H1" "$SLOWV" >"$T/out" 2>&1 && q "$HA" "$SLOWV" >>"$T/out" 2>&1
status_ok $? "a slow view is created on the server and on shard A"
SLOW="clickhouse://slow:s3cret@127.0.0.1:$H1/cdr"
fails_cleanly "a statement over statement_timeout_seconds is stopped" \
    "cairn-node run-local" "statement_timeout_seconds" "$NODE" run-local \
    --no-noise --quiet --query "$T/q4.json" --source "$SLOW" \
    --source-option tables=slow \
    --source-option statement_timeout_seconds=1 --cells "$CELLS"
# A shard that fails stops the run at once, and the statement still
# running on the other shard is killed.
t0=$(date +%s)
fails_cleanly "a shard down stops the run while the other shard computes" \
    "cairn-node run-local" "clickhouse 127.0.0.1:1: cannot connect" \
    "$NODE" run-local --no-noise --quiet --query "$T/q4.json" \
    --source "clickhouse://slow:s3cret@127.0.0.1:$HA/cdr" \
    --source-option tables=slow --source-option statement_timeout_seconds=0 \
    --source-option "shards=127.0.0.1:$HA,127.0.0.1:1" --cells "$CELLS"
t1=$(date +%s)
left_a=$(q "$HA" "SELECT count() FROM system.processes WHERE
    query_id LIKE 'cairn-%' AND query NOT LIKE 'KILL%'")
holds "it took seconds, not the slow statement's minutes ($((t1 - t0)) s), and left nothing running on shard A" \
    '[ $((t1 - t0)) -lt 30 ] && [ "$left_a" = 0 ]'
# SIGTERM while the statement runs kills it on the server.
"$NODE" run-local --no-noise --quiet --query "$T/q4.json" --source "$SLOW" \
    --source-option tables=slow --source-option statement_timeout_seconds=0 \
    --cells "$CELLS" >"$T/cancel.out" 2>"$T/cancel.err" &
pid=$!
active() {
	q "$H1" "SELECT count() FROM system.processes WHERE
	    query_id LIKE 'cairn-%' AND query NOT LIKE 'KILL%'"
}
tries=0
while [ "$(active)" != 1 ] && [ $tries -lt 300 ]; do
	sleep 0.1
	tries=$((tries + 1))
done
holds "the slow statement is running on the server" '[ "$(active)" = 1 ]'
kill -TERM "$pid"
wait "$pid"
rc=$?
TAP_SHOW="$T/cancel.err" holds "SIGTERM stops run-local with one error line (exit 1)" \
    '[ "$rc" -eq 1 ] && [ "$(wc -l <"$T/cancel.err")" -eq 1 ]'
has "the error says the statement was cancelled" "cancelled" "$T/cancel.err"
tries=0
while [ "$(active)" != 0 ] && [ $tries -lt 100 ]; do
	sleep 0.1
	tries=$((tries + 1))
done
holds "no cairn-node statement is left running on the server" \
    '[ "$(active)" = 0 ]'
# 6. `cairn-node serve` with a [source]: n1 reads the single server, n2
# the cluster (shards); a round that is released, within its noise of the
# embedded engine's exact counts (tests/e2e/lib/source_round.sh, shared
# with source_pg.sh).
load "$CDR" >"$T/out" 2>&1
status_ok $? "the synthetic CDR is loaded again"
CAIRN="$BIN/cairn"
. "$TOP/tools/federation_lib.sh"
. "$TOP/tests/e2e/lib/source_round.sh"
src_round_setup "$T/fed" "$T/syn/regions.csv" "$CDR" "$CELLS" "uri = $URI1
tables = calls, sms" "uri = $URIC
tables = calls, sms
shards = 127.0.0.1:$HA, 127.0.0.1:$HB
settings = max_memory_usage=4000000000, max_bytes_before_external_group_by=2000000000
cluster = cairn2"
status_ok $? "a federation of two nodes with a ClickHouse [source]: n1 the server, n2 the cluster"
src_round_run qc 2024-02-27 2024-03-03
status_ok $? "the round over the ClickHouse server and the cluster is released"
src_round_check qc 2024-02-27 2024-03-03 "$CDR" "$CELLS" \
    "n1 ClickHouse server, n2 ClickHouse cluster"
kill -TERM "$FED_COORD_PID" 2>/dev/null
wait "$FED_COORD_PID" 2>/dev/null
tap_done
