#!/bin/sh
# coord_damage.sh - a coordinator refuses to start on damaged state
# (docs/operations.md, "Damaged state"), reproducing the faults of issue
# #16: coord.db deleted or emptied while log.db is intact; one changed byte
# in log entry 5; a flipped byte on every page of log.db and of coord.db
# (each corrupted copy is refused by `cairn-coordinator verify`, or it is
# provably harmless: its logical content, every row of every table, is the
# original's).  Then `cairn-coordinator rebuild` makes coord.db again from
# the log, and the rebuilt coordinator serves the old queries' status; an
# online `cairn-coordinator backup` taken while serving is verified and
# restored.  rebuild, public-rebuild and a second serve refuse while a
# coordinator serves the same data_dir.
set -u
: "${CAIRN_BIN:?}" "${CAIRN_TOP:?}"
T=$(mktemp -d /tmp/cairn-damage-XXXXXX)
SRV=""
cleanup() {
	if [ -n "$SRV" ]; then
		kill "$SRV" 2>/dev/null
		wait "$SRV" 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT
. "$CAIRN_TOP/tests/e2e/lib/tap.sh"
. "$CAIRN_TOP/tools/federation_lib.sh"
CAIRN="$CAIRN_BIN/cairn"
COORD="$CAIRN_BIN/cairn-coordinator"
DRV="$CAIRN_BIN/coord_driver"
PY=$CAIRN_TOP/tests/e2e/lib/dbfault.py

{ fed_init "$T" damagetest &&
  for who in analyst:analyst node:n1 node:n2 node:n3; do
	fed_member "$T" "${who%%:*}" "${who#*:}" || exit 1
  done; } >"$T/out" 2>&1 || { notok "keys"; exit 1; }
printf 'region_id,name\n1,north\n2,south\n3,east\n4,west\n' >"$T/g4.csv"
{ FED_ADVERTISE_SECONDS=2 fed_coordinator_conf "$T" "g4 g4.csv" \
    >"$T/out" 2>&1; } || { notok "coordinator.conf"; exit 1; }

start() {
	fed_start_coordinator "$T" || return 1
	SRV=$FED_COORD_PID
	PORT=$FED_PORT
}
stop() {
	kill -TERM "$SRV"; wait "$SRV" 2>/dev/null; SRV=""
}
D() { "$DRV" --dir "$T" --target "127.0.0.1:$PORT" "$@"; }

# --- a state with queries released, refused and failed, cosignatures
start || { notok "coordinator starts"; sed 's/^/# /' "$T/coord.log"; exit 1; }
check "a released round" D round q-one
check "a refusal, then a retry released" D refuse q-two
check "backup while serving: coord.db and log.db copied and verified" \
    "$COORD" backup -c "$T/coordinator.conf" "$T/bk"
has "the backup is verified" "backed up and verified" "$T/out"
fails_with "a backup never overwrites one" "exists already" \
    "$COORD" backup -c "$T/coordinator.conf" "$T/bk"
# --- one process at a time on data_dir: what must run alone refuses, naming
# the serving coordinator, and leaves nothing behind
fails_with "rebuild refuses while serve runs, naming its process" \
    "coord is in use by process $SRV" "$COORD" rebuild -c "$T/coordinator.conf"
fails_with "public-rebuild refuses while serve runs" "in use by process $SRV" \
    "$COORD" public-rebuild -c "$T/coordinator.conf" --dir "$T/pubx"
fails_with "a second serve on the same data_dir refuses" \
    "in use by process $SRV (.*/coord/lock): cairn-coordinator serve" \
    timeout 20 "$COORD" serve -c "$T/coordinator.conf"
holds "the refused commands left nothing behind" \
    '! ls "$T/coord"/coord.db.damaged-* >/dev/null 2>&1 && [ ! -e "$T/pubx" ]'
check "a missed deadline" D deadline q-three
stop
check "verify: the state as the coordinator left it is sound" \
    "$COORD" verify -c "$T/coordinator.conf"
has "verify reports what it checked" "queries, .* results" "$T/out"
cp -a "$T/coord" "$T/good"
N=$(python3 "$PY" size "$T/good/log.db")
holds "the log has more than 5 entries ($N)" '[ "$N" -gt 5 ]'

restore() { rm -rf "$T/coord"; cp -a "$T/good" "$T/coord"; }

# refused WHAT NEEDLE: serve refuses to start, one line naming NEEDLE;
# nothing was appended to the log.
refused() {
	# (CAIRN_DAMAGE_SKIP=1: serve without the check, to see the faults pass)
	rm -f "$T/port"
	if [ -n "${CAIRN_DAMAGE_SKIP:-}" ]; then export CAIRN_COORD_TEST_SKIP_VERIFY=1; fi
	"$COORD" serve -c "$T/coordinator.conf" >"$T/out" 2>&1 &
	unset CAIRN_COORD_TEST_SKIP_VERIFY
	_p=$!
	_i=0
	while [ $_i -lt 300 ] && kill -0 $_p 2>/dev/null && [ ! -s "$T/port" ]; do
		sleep 0.1; _i=$((_i + 1))
	done
	if [ -s "$T/port" ]; then
		kill -TERM $_p; wait $_p 2>/dev/null
		notok "$1 (it started)"
		return
	fi
	wait $_p
	if grep -q "^cairn-coordinator: error: .*$2" "$T/out"; then ok "$1"
	else notok "$1 (no '$2')"; fi
}

# --- 1. coord.db deleted, log.db intact
restore
rm -f "$T/coord/coord.db" "$T/coord/coord.db-wal" "$T/coord/coord.db-shm"
refused "coord.db deleted: refused, naming the missing query row" \
    "coord.db: table queries has no row for query 'q-one' logged at entry"
# --- 2. coord.db emptied (zero bytes)
restore
: >"$T/coord/coord.db"
refused "coord.db emptied: refused, naming the missing query row" \
    "coord.db: table queries has no row for query 'q-one'"
# --- 3. one byte of log entry 5 changed (the row only, not its hashes)
restore
python3 "$PY" entry-byte "$T/coord/log.db" 5
refused "a changed byte in log entry 5: refused, naming entry 5" \
    "log.db: entry 5 does not match its stored leaf hash"
# ... and changed with its leaf hash recomputed, as a careful forger would
restore
python3 "$PY" entry-byte-rehash "$T/coord/log.db" 5
refused "entry 5 and its leaf hash changed: refused (the tree differs)" \
    "log.db: stored node .* differs\|log.db: .*does not reproduce\|log.db: checkpoint"
# --- 4. a query row changed in coord.db: refused naming the table
restore
python3 "$PY" sql "$T/coord/coord.db" \
    "UPDATE queries SET state = 3, failure = '' WHERE query_id = 'q-three'"
refused "a query's state changed in coord.db: refused naming the table" \
    "coord.db: table queries: the state of query 'q-three'"
restore
python3 "$PY" sql "$T/coord/coord.db" \
    "UPDATE results SET vals = zeroblob(length(vals)) WHERE query_id = 'q-one'"
refused "a released result changed: refused naming table and entry" \
    "coord.db: table results: the result of query 'q-one' differs from its RELEASE at log entry"

# --- 5. every page of both files with a flipped byte
for db in log.db coord.db; do
	python3 "$PY" pages "$T/good/$db" >"$T/npages"
	P=$(cat "$T/npages")
	refusedn=0; harmless=0; missed=""
	i=0
	while [ $i -lt "$P" ]; do
		for at in head tail; do
			restore
			python3 "$PY" flip "$T/coord/$db" $i $at
			if "$COORD" verify -c "$T/coordinator.conf" \
			    >"$T/v.out" 2>&1; then
				if python3 "$PY" same "$T/good/$db" "$T/coord/$db" \
				    >"$T/same.out" 2>&1; then
					harmless=$((harmless + 1))
				else
					missed="$missed $i/$at"
					sed 's/^/# /' "$T/same.out" | head -3
				fi
			elif [ "$(wc -l <"$T/v.out")" -eq 1 ] &&
			    grep -q "^cairn-coordinator: error: " "$T/v.out"; then
				refusedn=$((refusedn + 1))
			else
				missed="$missed $i/$at(message)"
				sed 's/^/# /' "$T/v.out" | head -3
			fi
		done
		i=$((i + 1))
	done
	holds "$db: $P pages x 2 flipped bytes: $refusedn refused, $harmless harmless (content unchanged), none missed${missed:+ (missed:$missed)}" \
	    '[ -z "$missed" ]'
done

# --- 6. rebuild coord.db from the log
restore
rm -f "$T/coord/coord.db" "$T/coord/coord.db-wal" "$T/coord/coord.db-shm"
check "rebuild: coord.db made again from log.db" \
    "$COORD" rebuild -c "$T/coordinator.conf"
has "rebuild says what it could not rebuild" "result values" "$T/out"
check "verify: the rebuilt state is sound" \
    "$COORD" verify -c "$T/coordinator.conf"
restore
python3 "$PY" sql "$T/coord/coord.db" \
    "UPDATE results SET vals = zeroblob(length(vals)) WHERE query_id = 'q-one'"
check "rebuild over a damaged coord.db keeps it aside" \
    "$COORD" rebuild -c "$T/coordinator.conf"
has "rebuild keeps the intact result, records the damaged one as lost" \
    "values: 1 kept from the old database, 1 lost"
holds "the damaged coord.db is kept as coord.db.damaged-*" \
    'ls "$T/coord"/coord.db.damaged-* >/dev/null 2>&1'
check "verify after rebuild" "$COORD" verify -c "$T/coordinator.conf"
start || { notok "the rebuilt coordinator starts"; sed 's/^/# /' "$T/coord.log"; }
stop
"$COORD" status -c "$T/coordinator.conf" >"$T/out" 2>&1
has "status of the rebuilt coordinator: 2 released" "queries released: 2"
has "status of the rebuilt coordinator: 1 failed" "queries failed: 1"
# --- 7. restore the online backup: the state as it was then
restore
rm -f "$T/coord/coord.db"* "$T/coord/log.db"*
cp "$T/bk/coord.db" "$T/bk/log.db" "$T/coord/"
check "verify: the restored backup is sound" \
    "$COORD" verify -c "$T/coordinator.conf"
start || { notok "the coordinator starts on the restored backup"; sed 's/^/# /' "$T/coord.log"; }
[ -n "$SRV" ] && stop
"$COORD" status -c "$T/coordinator.conf" >"$T/out" 2>&1
has "restored: the two queries released before the backup" "queries released: 2"
has "restored: the query after the backup is not there" "queries failed: 0"
restore
# a log that does not verify is not rebuilt from
python3 "$PY" entry-byte "$T/coord/log.db" 5
fails_with "rebuild refuses a log that does not verify" "entry 5" \
    "$COORD" rebuild -c "$T/coordinator.conf"
tap_done
