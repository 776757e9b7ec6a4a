#!/bin/sh
# daemon_signals.sh - what the daemons do on the signals systemd sends
# (docs/operations.md, "Signals"): a coordinator stopped by SIGTERM in the
# middle of a round fails the open attempt with a logged FAILURE
# ("coordinator stopping") and exits 0; a node stopped by SIGTERM while
# its task is under way (paused right after its charge) exits 0 with its
# ledger whole; both start again, the next query is released and
# `cairn audit verify` passes on the log and both ledgers.  SIGHUP reloads
# coordinator.conf and node.conf: a reloadable key is taken and logged
# (a new log level silences the next info line), a key that needs a
# restart is named, and a file that does not load changes nothing.
set -u
: "${CAIRN_BIN:?}" "${CAIRN_TOP:?}"
T=$(mktemp -d /tmp/cairn-signals-XXXXXX)
PIDS=""
cleanup() {
	for p in $PIDS; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null; done
	[ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
C="$CAIRN_BIN/cairn"
N="$CAIRN_BIN/cairn-node"
A="$CAIRN_BIN/node_e2e_analyst"
. "$CAIRN_TOP/tests/e2e/lib/tap.sh"
. "$CAIRN_TOP/tools/federation_lib.sh"
CAIRN=$C

# wait_for FILE PATTERN [TENTHS]: until FILE has a line matching PATTERN.
wait_for() {
	_i=0
	while [ $_i -lt "${3:-300}" ]; do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1; _i=$((_i + 1))
	done
	return 1
}
# gone PID [TENTHS]: the process exits within TENTHS/10 s (default 20 s);
# its status in $rc (124: still running).
gone() {
	_i=0
	while [ $_i -lt "${2:-200}" ] && kill -0 "$1" 2>/dev/null &&
	    ! grep -q "^State:.*Z" "/proc/$1/status" 2>/dev/null; do
		sleep 0.1; _i=$((_i + 1))
	done
	if kill -0 "$1" 2>/dev/null &&
	    ! grep -q "^State:.*Z" "/proc/$1/status" 2>/dev/null; then
		rc=124; return 1
	fi
	wait "$1"; rc=$?
	PIDS=$(echo " $PIDS " | sed "s/ $1 / /")
}
start_node() {	# start_node NAME [ENV...]: PID in PID_NAME
	_m=$1; shift
	env CAIRN_LOG=info "$@" "$N" serve -c "$T/$_m.conf" >>"$T/$_m.log" 2>&1 &
	eval "PID_$_m=$!"
	PIDS="$PIDS $!"
}
audit() {	# audit NODE: the log and NODE's ledger, from pinned keys
	"$N" ledger export -c "$T/$1.conf" >"$T/$1.jsonl" &&
	"$C" audit verify --federation "$T/fed/federation.conf" \
	    --coordinator "127.0.0.1:$PORT" --ca "$T/analyst/ca.crt" \
	    --tls-cert "$T/analyst/tls.crt" --tls-key "$T/analyst/tls.key" \
	    --ledger "$T/$1.jsonl" --node "$1"
}

{ fed_init "$T" sigtest && fed_member "$T" analyst analyst &&
  fed_member "$T" node n1 && fed_member "$T" node n2; } >"$T/out" 2>&1 ||
	{ notok "keys"; tap_done; }
printf 'region_id,name\n1,north\n2,south\n3,east\n4,west\n' >"$T/g4.csv"
printf 'cell_id,region_id\nc1,1\nc2,2\nc3,3\nc4,4\n' >"$T/cells.csv"
printf 'subscriber_id,timestamp,cell_id\ns1,2026-01-10T08:00:00Z,c1\ns2,2026-01-10T09:00:00Z,c2\n' >"$T/n1.csv"
printf 'subscriber_id,timestamp,cell_id\nt1,2026-01-10T08:00:00Z,c3\n' >"$T/n2.csv"
FED_ADVERTISE_SECONDS=60 FED_SHARE_SECONDS=60 \
    fed_coordinator_conf "$T" "g4 g4.csv" >"$T/out" 2>&1 ||
	{ notok "coordinator.conf"; tap_done; }
CAIRN_LOG=info fed_start_coordinator "$T" ||
	{ cp "$T/coord.log" "$T/out"; notok "coordinator started"; tap_done; }
PORT=$FED_PORT
CPID=$FED_COORD_PID
PIDS="$CPID"
# Started again on the same port, so the nodes' configs stay right.
sed -i "s/^listen = 127.0.0.1:0$/listen = 127.0.0.1:$PORT/" \
    "$T/coordinator.conf"
ok "coordinator serving on $PORT"
for m in n1 n2; do
	fed_node_conf "$T" $m "$T/$m.csv" "$T/cells.csv" g4 <<CONF
allow_kind = presence
allow_analyst = analyst
budget_rho_per_month = 1
max_rho_per_query = 0.25
CONF
done
start_node n1
start_node n2 CAIRN_NODE_STOP_AT=charged

# --- SIGTERM to the coordinator in the middle of q1's round -----------
"$A" --dir "$T" --target "127.0.0.1:$PORT" --id q1 --participants n1,n2 \
    --rho 0.25 --wait 60 >"$T/q1.out" 2>&1 &
APID=$!
if wait_for "$T/n2.log" "CAIRN_NODE_STOP_AT=charged" &&
    wait_for "$T/coord.log" "query q1 attempt 0 open" 50; then
	ok "q1's round is open: n2 paused right after its charge"
else
	cat "$T/n2.log" "$T/coord.log" >"$T/out"; notok "q1's round is open"
fi
kill -TERM "$CPID"
gone "$CPID"
holds "coordinator: exit 0 on SIGTERM mid-round (rc $rc)" '[ "$rc" -eq 0 ]'
cp "$T/coord.log" "$T/out"
has "coordinator: q1's attempt failed with the reason logged" \
    "query q1 attempt 0: coordinator stopping"
has "coordinator: says it failed its open attempts" \
    "1 open attempt(s) failed: coordinator stopping"
wait "$APID"

# --- SIGTERM to n2 while its task is under way ------------------------
kill -TERM "$PID_n2"
kill -CONT "$PID_n2"
gone "$PID_n2"
holds "n2: exit 0 on SIGTERM during its task (rc $rc)" '[ "$rc" -eq 0 ]'
cp "$T/n2.log" "$T/out"
has "n2: says it stopped" "node 'n2' stopped"
"$N" ledger show -c "$T/n2.conf" >"$T/out" 2>&1
has "n2: its ledger opens and holds q1's charge, whole" "q1"
# n1 may be in a call to the stopped coordinator (GetRoster): it stops
# when that call's deadline passes, at most twice call_deadline_seconds
# (10 s here; docs/operations.md, "Signals").
kill -TERM "$PID_n1"
gone "$PID_n1" 450
holds "n1: exit 0 on SIGTERM, the coordinator gone (rc $rc)" \
    '[ "$rc" -eq 0 ]'

# --- everything again: the FAILURE is in the log, the next query runs --
CAIRN_LOG=info fed_start_coordinator "$T" "$T/coord2.log" ||
	{ cp "$T/coord2.log" "$T/out"; notok "coordinator started again"
	  tap_done; }
CPID=$FED_COORD_PID
PIDS="$PIDS $CPID"
cp "$T/coord2.log" "$T/out"
has "coordinator: its state verifies at start after the stop" \
    "state verified"
if grep -q "coordinator restarted" "$T/coord2.log"; then
	notok "nothing was left open for the restart to fail"
else ok "nothing was left open for the restart to fail"; fi
fed_analyst_conf "$T" analyst
"$C" query status --config "$T/analyst.conf" q1 >"$T/out" 2>&1
has "q1's status after the restart: failed, coordinator stopping" \
    "attempt 0: coordinator stopping"
start_node n1
start_node n2
if "$A" --dir "$T" --target "127.0.0.1:$PORT" --id q2 --participants n1,n2 \
    --rho 0.25 --wait 60 >"$T/out" 2>&1; then ok "q2 released after both stops"
else notok "q2 released after both stops"; fi
for m in n1 n2; do
	i=0
	while [ $i -lt 40 ] && ! audit $m >"$T/out" 2>&1; do
		sleep 0.25; i=$((i + 1)); done
	has "audit verify: the log with q1's FAILURE and $m's ledger" \
	    "^ok: .*ledger of '$m'"
done

# --- SIGHUP to the coordinator -------------------------------------------
sed -i -e 's/^advertise_seconds = .*/advertise_seconds = 45/' \
    -e 's/^\[limits\]$/[limits]\nmax_long_polls = 500/' \
    -e 's/^port_file = .*/&\nworkers = 3/' "$T/coordinator.conf"
kill -HUP "$CPID"
wait_for "$T/coord2.log" "reloaded:" 100
cp "$T/coord2.log" "$T/out"
has "coordinator SIGHUP: deadlines and limits taken" \
    "coordinator.conf reloaded: \[deadlines\] advertise_seconds, \[limits\] max_long_polls"
has "coordinator SIGHUP: a key that needs a restart is named" \
    "changed but not reloadable, still as at start until a restart: \[coordinator\] workers"
cp "$T/coordinator.conf" "$T/coordinator.good"
sed -i 's/^advertise_seconds = .*/advertise_seconds = soon/' \
    "$T/coordinator.conf"
kill -HUP "$CPID"
wait_for "$T/coord2.log" "not taken" 100
cp "$T/coord2.log" "$T/out"
has "coordinator SIGHUP: a file that does not load is refused, by key" \
    "coordinator.conf not taken, the configuration in force stays: .*advertise_seconds"
cp "$T/coordinator.good" "$T/coordinator.conf"
printf '[monitoring]\nlog_level = warn\n' >>"$T/coordinator.conf"
kill -HUP "$CPID"
wait_for "$T/coord2.log" "reloaded: \[monitoring\] log_level" 100
cp "$T/coord2.log" "$T/out"
has "coordinator SIGHUP: log_level taken" "reloaded: \[monitoring\] log_level"
before=$(grep -c "SIGHUP: reading" "$T/coord2.log")
kill -HUP "$CPID"
sleep 1
after=$(grep -c "SIGHUP: reading" "$T/coord2.log")
holds "coordinator: at level warn the next reload's info line is not written" \
    '[ "$before" -eq "$after" ] && [ "$before" -eq 3 ]'
holds "coordinator: still serving after four SIGHUPs" 'kill -0 "$CPID"'

# --- SIGHUP to a node ------------------------------------------------------
sed -i -e 's/^poll_seconds = .*/poll_seconds = 2/' \
    -e 's/^budget_rho_per_month = .*/budget_rho_per_month = 2/' "$T/n1.conf"
kill -HUP "$PID_n1"
wait_for "$T/n1.log" "reloaded:" 100
cp "$T/n1.log" "$T/out"
has "n1 SIGHUP: poll_seconds taken" "n1.conf reloaded: \[coordinator\] poll_seconds"
has "n1 SIGHUP: the policy needs a restart, and says so" \
    "changed but not reloadable, still as at start until a restart: \[policy\] budget_rho_per_month"
if "$A" --dir "$T" --target "127.0.0.1:$PORT" --id q3 --participants n1,n2 \
    --rho 0.25 --wait 60 >"$T/out" 2>&1; then ok "q3 released after the reloads"
else notok "q3 released after the reloads"; fi

for p in $PID_n1 $PID_n2 $CPID; do kill -TERM "$p"; done
for p in $PID_n1 $PID_n2 $CPID; do
	gone "$p"
	holds "process $p: exit 0 on SIGTERM when idle (rc $rc)" '[ "$rc" -eq 0 ]'
done
tap_done
