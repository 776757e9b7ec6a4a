#!/bin/sh
# source_pg.sh - the PostgreSQL push-down source (docs/sources.md) against
# the embedded engine.  Starts a PostgreSQL server of its own (initdb and
# pg_ctl under /usr/lib/postgresql, as 'nobody' when run as root) on
# 127.0.0.1 and an ephemeral port in a temporary directory, loads
# FlowDB-shaped tables (events.calls partitioned by month, events.sms;
# msisdn bytea, datetime timestamptz, location_id text) from the same CSV
# files the engine reads, and checks, connected as a read-only role:
#   - `run-local --no-noise --source` prints byte for byte what `--cdr`
#     prints, for every kind the source computes, on bench/small_data.py's
#     edge cases (modal and top-k ties, k = 1, local midnight at a
#     +1:30 offset, night edges, a month boundary, region ids 0 and
#     2^32 - 1) and on a `cairn synth` holder across February 29 with
#     offsets -330, 0, 90 and 1439, k 1 and 3, and three night spans;
#   - rows the source must refuse (NULL, empty or unmapped locations, empty
#     subscribers, infinite times) change nothing and check-data reports
#     them by reason;
#   - neighbouring data sets: removing one subscriber's records of one UTC
#     month gives the same output through both paths (every cell kind);
#   - population_by_category from a region-level table with categories
#     (region_column, category_column), the same against the region-level
#     CSV, other-category counts included;
#   - --explain, a role without grants, a bad URI, an unknown scheme,
#     population_by_category without a category column and a statement
#     timeout fail with one line; SIGTERM cancels the statement;
#   - the statement's plan uses parallel workers (auto_explain), and
#     groups in them at PostgreSQL's default parallel_tuple_cost for
#     presence, residents, od and migration;
#   - `cairn-node serve` with a [source] in node.conf: a released round.
set -u
. "${CAIRN_TOP:-.}/tests/e2e/lib/tap.sh"
BIN=${CAIRN_BIN:-build/bin}
TOP=${CAIRN_TOP:-.}
NODE="$BIN/cairn-node"
. "$TOP/tests/e2e/lib/dbservers.sh"
[ -x "$PGBIN/initdb" ] || { echo "not ok 1 - no PostgreSQL server under" \
    "/usr/lib/postgresql (tools/deps.sh installs it)"; exit 1; }

T=$(mktemp -d /tmp/cairn-srcpg.XXXXXX)
chmod 755 "$T"
db_runner
PORT=$(free_ports 1)
stop_pg() {
	pg_stop "$T/pg"
	rm -rf "$T"
}
trap stop_pg EXIT
trap 'exit 1' INT TERM
pg_start "$T/pg" "$PORT" "-c session_preload_libraries=auto_explain \
    -c auto_explain.log_min_duration=0 -c parallel_setup_cost=0 \
    -c parallel_tuple_cost=0 -c min_parallel_table_scan_size=0"
status_ok $? "PostgreSQL starts on 127.0.0.1:$PORT as a non-root user"

PSQL="$PGBIN/psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p $PORT -U postgres"
URI="postgresql://cairn_ro@127.0.0.1:$PORT/flowdb"

# The FlowDB layout (0020_schema_events.sql), calls partitioned by month;
# a read-only role with USAGE and SELECT only.
$PSQL -d postgres -c "CREATE DATABASE flowdb" >"$T/out" 2>&1 &&
{ flowdb_ddl; cat <<'EOF'
CREATE TABLE stage (n BIGSERIAL, sub TEXT, ts TEXT, cell TEXT);
CREATE ROLE cairn_ro LOGIN;
GRANT USAGE ON SCHEMA events TO cairn_ro;
GRANT SELECT ON ALL TABLES IN SCHEMA events TO cairn_ro;
CREATE ROLE nogrants LOGIN;
EOF
} | $PSQL -d flowdb >>"$T/out" 2>&1
status_ok $? "FlowDB-shaped tables and a read-only role are created"

# load CSV: replace the event tables' rows with the CSV file's, odd rows
# to calls and even rows to sms.
load() {
	$PSQL -d flowdb >"$T/load.log" 2>&1 <<EOF
TRUNCATE events.calls, events.sms, stage;
\copy stage (sub, ts, cell) FROM '$1' WITH (FORMAT csv, HEADER true)
INSERT INTO events.calls (msisdn, datetime, location_id)
    SELECT convert_to(sub, 'UTF8'), CASE WHEN ts ~ '^[0-9]+\$'
    THEN to_timestamp(ts::bigint) ELSE ts::timestamptz END, cell
    FROM stage WHERE n % 2 = 1;
INSERT INTO events.sms (msisdn, datetime, location_id)
    SELECT convert_to(sub, 'UTF8'), CASE WHEN ts ~ '^[0-9]+\$'
    THEN to_timestamp(ts::bigint) ELSE ts::timestamptz END, cell
    FROM stage WHERE n % 2 = 0;
ANALYZE events.calls, events.sms;
EOF
}

SRC="--source $URI --source-option tables=events.calls,events.sms"
# same NAME Q CDR CELLS: the exact output through the source is the
# embedded engine's, byte for byte (and not empty).
same() {
	"$NODE" run-local --no-noise --quiet --query "$2" --cdr "$3" \
	    --cells "$4" >"$T/emb.csv" 2>"$T/emb.err"
	e=$?
	# shellcheck disable=SC2086
	"$NODE" run-local --no-noise --quiet --query "$2" $SRC \
	    --cells "$4" >"$T/src.csv" 2>"$T/out"
	s=$?
	if [ "$e" -eq 0 ] && [ "$s" -eq 0 ] && [ "$(wc -l <"$T/emb.csv")" -gt 1 ] &&
	    cmp -s "$T/emb.csv" "$T/src.csv"; then
		ok "$1: source output = embedded output"
	else
		diff "$T/emb.csv" "$T/src.csv" | head -n 10 >>"$T/out"
		cat "$T/emb.err" >>"$T/out"
		notok "$1: source output = embedded output (rc $e/$s)"
	fi
}

# 1. The hand-made edge cases.
python3 "$TOP/bench/small_data.py" "$T/small" >/dev/null 2>&1
load "$T/small/cdr.csv"
status_ok $? "the edge-case CDR is loaded"
for q in "$T"/small/queries/*.json; do
	name=$(basename "$q" .json)
	[ "$name" = population_by_category ] && continue
	# Not generated yet (docs/sources.md): refused below, by name.
	case $name in displacement*|residents_2nights) continue ;; esac
	same "small/$name" "$q" "$T/small/cdr.csv" "$T/small/cells.csv"
done

# population_by_category from a region-level table with categories.
$PSQL -d flowdb >"$T/out" 2>&1 <<'EOF'
CREATE SCHEMA registry;
CREATE TABLE registry.records (entity_id TEXT, ts TIMESTAMPTZ,
    region_id BIGINT, category TEXT);
GRANT USAGE ON SCHEMA registry TO cairn_ro;
GRANT SELECT ON registry.records TO cairn_ro;
EOF
status_ok $? "a region-level table with categories is created"
# load_rec CSV: registry.records holds the CSV's rows.
load_rec() {
	$PSQL -d flowdb >"$T/load.log" 2>&1 <<EOF
TRUNCATE registry.records;
\copy registry.records FROM '$1' WITH (FORMAT csv, HEADER true)
ANALYZE registry.records;
EOF
}
RSRC="--source $URI --source-option tables=registry.records
    --source-option subscriber_column=entity_id --source-option time_column=ts
    --source-option region_column=region_id
    --source-option category_column=category"
# same_rec NAME Q CSV REGIONS: as same, for region-level records; the
# count of events under other categories is the same too.
same_rec() {
	"$NODE" run-local --no-noise --query "$2" --cdr "$3" \
	    --regions "$4" >"$T/emb.csv" 2>"$T/emb.err"
	e=$?
	# shellcheck disable=SC2086
	"$NODE" run-local --no-noise --query "$2" $RSRC --regions "$4" \
	    >"$T/src.csv" 2>"$T/src.err"
	s=$?
	oe=$(sed -n 's/.*, \([0-9]*\) under a category outside.*/\1/p' \
	    "$T/emb.err")
	os=$(sed -n 's/.*, \([0-9]*\) under a category outside.*/\1/p' \
	    "$T/src.err")
	if [ "$e" -eq 0 ] && [ "$s" -eq 0 ] && [ "$(wc -l <"$T/emb.csv")" -gt 1 ] &&
	    cmp -s "$T/emb.csv" "$T/src.csv" && [ "$oe" = "$os" ]; then
		ok "$1: source output = embedded output ($oe other-category events)"
	else
		{ diff "$T/emb.csv" "$T/src.csv" | head -n 10
		  cat "$T/emb.err" "$T/src.err"; } >"$T/out"
		notok "$1: source output = embedded output (rc $e/$s)"
	fi
}
load_rec "$T/small/records.csv"
status_ok $? "the edge-case records are loaded"
same_rec "small/population_by_category" \
    "$T/small/queries/population_by_category.json" "$T/small/records.csv" \
    "$T/small/regions.csv"

# Parallel workers: with their costs set to zero (as a big table makes
# them), the plan of the statement gathers from parallel workers.
awk '/Query Text: -- cairn: presence/ { on = 1 } on' "$T/pg/log" >"$T/plans"
has "the statement's plan uses parallel workers" "Workers Planned" \
    "$T/plans"

# Parallel plans where costs are PostgreSQL's (parallel_tuple_cost 0.1,
# a role's setting; the server's 0 above makes any plan parallel): 100,000
# events of 50 subscribers on 7 days (23:00 UTC, a night hour) over 60
# cells of 2 regions.  The per-subscriber grouping divides the rows by
# over a hundred, and the planner sees it only if it knows the region
# takes 2 values, not one per cell of the map: then each kind's
# statement groups in parallel workers (a Partial aggregate under a
# Gather).  The generator before the fix (docs/sources.md) gave presence,
# od and migration serial plans here, as at 200,000 subscribers.  The
# plans are the node's own, logged by auto_explain.
$PSQL -d flowdb >"$T/out" 2>&1 <<'EOF'
CREATE SCHEMA par;
CREATE TABLE par.events (msisdn BYTEA NOT NULL,
    datetime TIMESTAMPTZ NOT NULL, location_id TEXT);
INSERT INTO par.events SELECT convert_to('s' || i % 50, 'UTF8'),
    '2024-03-04 23:00+00'::timestamptz + (i % 7) * interval '1 day',
    'c' || i % 60 FROM generate_series(1, 100000) AS i;
VACUUM ANALYZE par.events;
CREATE ROLE cairn_par LOGIN;
ALTER ROLE cairn_par SET parallel_tuple_cost = 0.1;
GRANT USAGE ON SCHEMA par TO cairn_par;
GRANT SELECT ON par.events TO cairn_par;
EOF
status_ok $? "a table for the parallel plans, a role at the default tuple cost"
awk 'BEGIN { print "cell_id,region_id"
	for (i = 0; i < 60; i++) print "c" i "," i % 2 + 1 }' >"$T/pcells.csv"
PW='"start": "2024-03-04", "end": "2024-03-11", "utc_offset_minutes": 0'
for spec in \
    "presence: \"kind\": \"presence\", $PW, \"bucket\": \"day\", \"k\": 2" \
    "presence k 1: \"kind\": \"presence\", $PW, \"bucket\": \"day\", \"k\": 1" \
    "residents: \"kind\": \"residents\", $PW" \
    "od: \"kind\": \"od\", $PW" \
    "migration: \"kind\": \"migration\", \"baseline\": [\"2024-03-04\", \"2024-03-07\"], \"comparison\": [\"2024-03-07\", \"2024-03-11\"], \"utc_offset_minutes\": 0"
do
	name=${spec%%: *}
	echo "{${spec#*: }}" >"$T/pq.json"
	sz=$(wc -c <"$T/pg/log")
	"$NODE" run-local --no-noise --quiet --query "$T/pq.json" \
	    --source "postgresql://cairn_par@127.0.0.1:$PORT/flowdb" \
	    --source-option tables=par.events --cells "$T/pcells.csv" \
	    >"$T/out" 2>&1
	rc=$?
	tail -c +$((sz + 1)) "$T/pg/log" >"$T/plan"
	TAP_SHOW="$T/plan" holds "$name: the plan groups in parallel workers" \
	    '[ "$rc" -eq 0 ] && grep -q "Query Text: -- cairn:" "$T/plan" &&
	    grep -q "Workers Planned: [1-9]" "$T/plan" &&
	    grep -Eq "Partial (Hash|Group)Aggregate" "$T/plan"'
done

# 2. Rows the source refuses change nothing, and check-data counts them.
$PSQL -d flowdb >"$T/out" 2>&1 <<'EOF'
INSERT INTO events.calls (msisdn, datetime, location_id) VALUES
    ('\x7475'::bytea, '2024-03-31 10:00+00', NULL),
    ('\x7475'::bytea, '2024-03-31 11:00+00', ''),
    ('\x7475'::bytea, '2024-03-31 12:00+00', 'nosuchcell'),
    ('\x7475'::bytea, '2024-03-31 13:00+00', 'nosuchcell'),
    (''::bytea, '2024-03-31 14:00+00', 'c1'),
    ('\x7475'::bytea, 'infinity', 'c1');
EOF
status_ok $? "bad rows are added"
same "small/presence_day_k1 with bad rows" \
    "$T/small/queries/presence_day_k1.json" "$T/small/cdr.csv" \
    "$T/small/cells.csv"
same "small/residents with bad rows" "$T/small/queries/residents.json" \
    "$T/small/cdr.csv" "$T/small/cells.csv"
# shellcheck disable=SC2086
"$NODE" check-data $SRC --cells "$T/small/cells.csv" >"$T/out" 2>&1
rc=$?
holds "check-data refuses a table over --max-bad-fraction (exit 1)" \
    '[ "$rc" -eq 1 ]'
has "check-data counts unmapped locations" \
    "events.calls: .* 2 unmapped location"
has "check-data counts NULL or empty locations" \
    "events.calls: .* 2 NULL or empty location"
has "check-data counts empty subscribers" \
    "events.calls: .*(1 empty subscriber"
has "check-data counts bad times" "events.calls: .* 1 bad time"
has "check-data finds sms clean" "events.sms: [0-9]* rows, [0-9]* read, 0 refused"
# shellcheck disable=SC2086
check "check-data passes under a higher --max-bad-fraction" \
    "$NODE" check-data $SRC --cells "$T/small/cells.csv" \
    --max-bad-fraction 0.5

# 3. A synthetic holder across February 29, offsets, k and night spans.
"$BIN/cairn" synth --out "$T/syn" --subscribers 250 --days 6 --regions 7 \
    --start 2024-02-26 --one-file --quiet >"$T/out" 2>&1
status_ok $? "cairn synth writes a holder"
CDR="$T/syn/holder1/cdr/cdr.csv"
CELLS="$T/syn/holder1/cells.csv"
load "$CDR"
status_ok $? "the synthetic CDR is loaded"
W='"start": "2024-02-26", "end": "2024-03-03"'
i=0
for off in -330 0 90 1439; do
	for spec in \
	    "\"kind\": \"presence\", $W, \"bucket\": \"day\", \"k\": 1" \
	    "\"kind\": \"presence\", $W, \"bucket\": \"day\", \"k\": 3" \
	    "\"kind\": \"presence\", $W, \"bucket\": \"hour\", \"k\": 1" \
	    "\"kind\": \"residents\", $W" \
	    "\"kind\": \"residents\", $W, \"night_start_hour\": 19, \"night_end_hour\": 9" \
	    "\"kind\": \"od\", $W" \
	    "\"kind\": \"migration\", \"baseline\": [\"2024-02-26\", \"2024-02-29\"], \"comparison\": [\"2024-02-28\", \"2024-03-03\"]" \
	    "\"kind\": \"migration\", \"baseline\": [\"2024-02-26\", \"2024-03-01\"], \"comparison\": [\"2024-03-01\", \"2024-03-03\"], \"night_start_hour\": 23, \"night_end_hour\": 1" \
	    "\"kind\": \"visitors\", $W, \"k\": 1" \
	    "\"kind\": \"visitors\", $W, \"k\": 3, \"night_start_hour\": 20, \"night_end_hour\": 7"
	do
		i=$((i + 1))
		echo "{$spec, \"utc_offset_minutes\": $off}" >"$T/q$i.json"
		same "synth q$i (offset $off): $spec" "$T/q$i.json" "$CDR" \
		    "$CELLS"
	done
done
# shellcheck disable=SC2086
load_rec "$T/syn/holder1/records.csv"
status_ok $? "the synthetic records are loaded"
for off in -330 0 1439; do
	for cats in '"0-17", "18-29", "30-49", "50-64", "65+"' '"65+", "18-29", "zz"'
	do
		i=$((i + 1))
		echo "{\"kind\": \"population_by_category\", $W, \"categories\":" \
		    "[$cats], \"utc_offset_minutes\": $off}" >"$T/q$i.json"
		same_rec "synth q$i (offset $off): population_by_category [$cats]" \
		    "$T/q$i.json" "$T/syn/holder1/records.csv" "$T/syn/regions.csv"
	done
done
"$NODE" run-local --no-noise --quiet --dense --format json \
    --query "$T/q1.json" $SRC --cells "$CELLS" >"$T/src.json" 2>"$T/out" &&
    "$NODE" run-local --no-noise --quiet --dense --format json \
    --query "$T/q1.json" --cdr "$CDR" --cells "$CELLS" >"$T/emb.json" \
    2>>"$T/out" && cmp -s "$T/src.json" "$T/emb.json"
status_ok $? "--dense --format json: source output = embedded output"

# A `timestamp without time zone` column is read as UTC whatever the
# role's TimeZone.
$PSQL -d flowdb >"$T/out" 2>&1 <<'EOF'
CREATE TABLE events.naive (msisdn BYTEA, datetime TIMESTAMP,
    location_id TEXT);
INSERT INTO events.naive SELECT msisdn, datetime AT TIME ZONE 'UTC',
    location_id FROM events.calls UNION ALL SELECT msisdn,
    datetime AT TIME ZONE 'UTC', location_id FROM events.sms;
GRANT SELECT ON events.naive TO cairn_ro;
ALTER ROLE cairn_ro SET timezone = 'America/Caracas';
EOF
status_ok $? "a table of UTC times without zone, a role in another zone"
SRC_SAVED=$SRC
SRC="--source $URI --source-option tables=events.naive"
same "timestamp without time zone: presence k 1" "$T/q11.json" "$CDR" \
    "$CELLS"
same "timestamp without time zone: residents at -330" "$T/q4.json" "$CDR" \
    "$CELLS"
SRC=$SRC_SAVED

# 4. Neighbouring data sets: one subscriber's records of one UTC month
# removed, through both paths.
for who in $(cut -d, -f1 "$CDR" | sed 1d | sort -u | head -n 3); do
	for m in 2024-02 2024-03; do
		{ head -n 1 "$CDR"; sed 1d "$CDR" |
		    awk -F, -v w="$who" -v m="$m" \
		    '!($1 == w && substr($2, 1, 7) == m)'; } >"$T/nb.csv"
		load "$T/nb.csv"
		same "without $who's $m: presence k 1" "$T/q11.json" \
		    "$T/nb.csv" "$CELLS"
		same "without $who's $m: od" "$T/q16.json" "$T/nb.csv" "$CELLS"
		same "without $who's $m: visitors" "$T/q19.json" "$T/nb.csv" \
		    "$CELLS"
		same "without $who's $m: presence by hour" "$T/q13.json" \
		    "$T/nb.csv" "$CELLS"
		same "without $who's $m: residents" "$T/q14.json" "$T/nb.csv" \
		    "$CELLS"
		same "without $who's $m: migration" "$T/q17.json" "$T/nb.csv" \
		    "$CELLS"
	done
done

# 5. --explain, and what fails.
# shellcheck disable=SC2086
"$NODE" run-local --no-noise --explain --query "$T/q4.json" $SRC \
    --cells "$CELLS" >"$T/out" 2>&1
status_ok $? "--explain prints the statement"
has "--explain quotes the table names" '"events"."calls"'
has "--explain's statement ranks with ties to the smaller region" \
    "ORDER BY n DESC, region"
has "--explain lists the night hours as parameters" \
    '^-- \$[0-9]*: night_start_hour = 22'
has "--explain summarises the cell map" 'an array of [0-9]* values'
fails_cleanly "a role without grants fails with the server's message" \
    "cairn-node run-local" "permission denied" \
    "$NODE" run-local --no-noise --quiet --query "$T/q4.json" \
    --source "postgresql://nogrants@127.0.0.1:$PORT/flowdb" \
    --cells "$CELLS"
fails_cleanly "a server that is not there fails" "cairn-node run-local" \
    "cannot connect" "$NODE" run-local --no-noise --quiet \
    --query "$T/q4.json" --source "postgresql://x@127.0.0.1:1/flowdb" \
    --cells "$CELLS"
fails_cleanly "an unknown scheme is refused" \
    "cairn-node run-local" "scheme not postgresql:// or clickhouse://" \
    "$NODE" run-local --no-noise --query "$T/q4.json" \
    --source "mysql://127.0.0.1:3306/db" --cells "$CELLS"
fails_cleanly "displacement is refused by a SQL source, not computed otherwise" \
    "cairn-node run-local" "does not compute kind 'displacement' yet" \
    "$NODE" run-local --no-noise --query "$T/small/queries/displacement.json" \
    $SRC --cells "$CELLS"
fails_cleanly "residents with min_nights 2 is refused by a SQL source" \
    "cairn-node run-local" "residents with min_nights 1 only, not 2" \
    "$NODE" run-local --no-noise --query "$T/small/queries/residents_2nights.json" \
    $SRC --cells "$CELLS"
fails_cleanly "population_by_category needs category_column" \
    "cairn-node run-local" "category_column" "$NODE" run-local \
    --no-noise --query "$T/syn/queries/population_by_category.json" $SRC \
    --cells "$CELLS"
fails_cleanly "--source with --cdr is refused" "cairn-node run-local" \
    "--source excludes --cdr" "$NODE" run-local --no-noise \
    --query "$T/q4.json" $SRC --cdr "$CDR" --cells "$CELLS"
fails_cleanly "--source-option without --source is refused" \
    "cairn-node run-local" "needs --source" "$NODE" run-local --no-noise \
    --query "$T/q4.json" --source-option tables=x --cdr "$CDR" \
    --cells "$CELLS"
fails_cleanly "ingest refuses a SQL source" "cairn-node ingest" \
    "not ingested" "$NODE" ingest $SRC --cells "$CELLS" \
    --data-dir "$T/store"
fails_cleanly "an unknown source option is refused" "cairn-node run-local" \
    "unknown source option 'colour'" "$NODE" run-local --no-noise \
    --query "$T/q4.json" $SRC --source-option colour=red --cells "$CELLS"
fails_cleanly "a missing table names it" "cairn-node run-local" \
    'relation "events.nosuch" does not exist' "$NODE" run-local \
    --no-noise --quiet --query "$T/q4.json" --source "$URI" \
    --source-option tables=events.nosuch --cells "$CELLS"
# A statement slower than its timeout: a view whose rows sleep 10 ms each
# (thousands of rows: far over the 1 s timeout).
$PSQL -d flowdb >"$T/out" 2>&1 <<'EOF'
CREATE FUNCTION events.slow(t text) RETURNS text LANGUAGE plpgsql VOLATILE
    AS $$ BEGIN PERFORM pg_sleep(0.01); RETURN t; END $$;
CREATE VIEW events.slow AS SELECT msisdn, datetime,
    events.slow(location_id) AS location_id FROM events.calls;
GRANT SELECT ON events.slow TO cairn_ro;
EOF
status_ok $? "a slow view is created"
fails_cleanly "a statement over statement_timeout_seconds is cancelled" \
    "cairn-node run-local" "statement_timeout" "$NODE" run-local \
    --no-noise --quiet --query "$T/q4.json" --source "$URI" \
    --source-option tables=events.slow \
    --source-option statement_timeout_seconds=1 --cells "$CELLS"
# SIGTERM while the statement runs cancels it on the server.
"$NODE" run-local --no-noise --quiet --query "$T/q4.json" --source "$URI" \
    --source-option tables=events.slow \
    --source-option statement_timeout_seconds=0 --cells "$CELLS" \
    >"$T/cancel.out" 2>"$T/cancel.err" &
pid=$!
active() {
	$PSQL -d flowdb -At -c "SELECT count(*) FROM pg_stat_activity WHERE
	    application_name = 'cairn-node' AND state = 'active'"
}
tries=0
while [ "$(active)" != 1 ] && [ $tries -lt 600 ]; do
	sleep 0.1
	tries=$((tries + 1))
done
holds "the slow statement is running on the server" '[ "$(active)" = 1 ]'
kill -TERM "$pid"
wait "$pid"
rc=$?
holds "SIGTERM stops run-local with one error line (exit 1)" \
    '[ "$rc" -eq 1 ] && [ "$(wc -l <"$T/cancel.err")" -eq 1 ]'
has "the error says the statement was cancelled" "cancelled" "$T/cancel.err"
tries=0
while [ "$(active)" != 0 ] && [ $tries -lt 600 ]; do
	sleep 0.1
	tries=$((tries + 1))
done
holds "no cairn-node statement is left running on the server" \
    '[ "$(active)" = 0 ]'

# 6. `cairn-node serve` with a [source]: n1 reads the database (its [data]
# cdr names no file), n2 the same records from CSV; both compute the same
# exact vector for a round that is released.
load "$CDR"
CAIRN="$BIN/cairn"
. "$TOP/tools/federation_lib.sh"
. "$TOP/tests/e2e/lib/source_round.sh"
src_round_setup "$T/fed" "$T/syn/regions.csv" "$CDR" "$CELLS" "uri = $URI
tables = events.calls, events.sms
statement_timeout_seconds = 600" ""
status_ok $? "a federation of two nodes, n1 with a [source]"
F=$SRC_F
src_round_run qs 2024-02-26 2024-03-03
status_ok $? "the round over n1's database and n2's CSV is released"
src_round_check qs 2024-02-26 2024-03-03 "$CDR" "$CELLS" \
    "n1 PostgreSQL, n2 CSV"
# A node stopped while its statement runs cancels it and charges nothing.
sed 's/^tables = .*/tables = events.slow/' "$F/n1.conf" >"$F/n1slow.conf"
cp "$F/n1.log" "$F/n1.first.log"
for nd in n1slow n2; do
	CAIRN_LOG=debug "$NODE" serve -c "$F/$nd.conf" >"$F/$nd.log" 2>&1 &
	echo $! >"$F/$nd.pid"
done
"$CAIRN" query submit --config "$F/analyst.conf" --id qslow \
    --kind residents --start 2024-02-26 --end 2024-03-03 --geography g1 \
    --rho 0.5 --participants n1,n2 --colluding 0 --holders 1 \
    --purpose "source_pg stop" >"$T/out" 2>&1
status_ok $? "a query for the node on the slow table is submitted"
tries=0
while [ "$(active)" != 1 ] && [ $tries -lt 600 ]; do
	sleep 0.1
	tries=$((tries + 1))
done
holds "n1's statement is running on the server" '[ "$(active)" = 1 ]'
kill -TERM "$(cat "$F/n1slow.pid")"
wait "$(cat "$F/n1slow.pid")"
rc=$?
TAP_SHOW="$F/n1slow.log" holds "n1 stops on SIGTERM (exit 0)" \
    '[ "$rc" -eq 0 ]'
tries=0
while [ "$(active)" != 0 ] && [ $tries -lt 600 ]; do
	sleep 0.1
	tries=$((tries + 1))
done
holds "its statement is no longer running on the server" \
    '[ "$(active)" = 0 ]'
has "n1 charged nothing for the cancelled computation" \
    "query 'qslow': the computation was cancelled (the node is stopping); nothing charged" \
    "$F/n1slow.log"
"$NODE" ledger show -c "$F/n1.conf" >"$T/ledger" 2>&1
holds "n1's ledger has no charge for qslow" \
    '! grep -q qslow "$T/ledger" && grep -q "source round qs" "$T/ledger"'
kill -TERM "$(cat "$F/n2.pid")" 2>/dev/null
wait "$(cat "$F/n2.pid")" 2>/dev/null
kill -TERM "$FED_COORD_PID" 2>/dev/null
wait "$FED_COORD_PID" 2>/dev/null
cp "$F/n2.conf" "$F/bad.conf"
printf '[source]\nuri = clickhouse://127.0.0.1/x\n' >>"$F/bad.conf"
fails_with "node.conf's [source] is checked at load" "needs a host and a port" \
    "$NODE" serve -c "$F/bad.conf"
tap_done
