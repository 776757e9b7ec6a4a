#!/bin/sh
# test-long.sh [BUILD_DIR] - `make test-long`: the long hardening run of
# issue 7 and its one report (docs/security-faults.md).
#   1. the kill -9 sweep over every crash point (bench/faults/kill_sweep.sh)
#   2. ENOSPC under the node's ledger and the coordinator's log
#      (bench/faults/enospc.sh)
#   3. a node cut off by a network namespace (bench/faults/netns.sh)
#   4. the attack suite in its long mode (tests/e2e/attack_suite.sh with
#      CAIRN_ATTACK_LONG=1, or the NAME=VALUE in TEST_LONG_ATTACK_ENV), when it
#      exists
#   5. `make fuzz FUZZ_SECONDS=N` (N from FUZZ_SECONDS, default 600), when
#      the Makefile has a fuzz target; FUZZ_SECONDS=0 leaves it out (and
#      says so in the report)
# Each part's full output is kept in build/test-long/PART.log.  Exits 1 if
# any part that ran failed.  A part that cannot run here (no netns, no
# attack suite, no fuzz target) is reported as "not run"/"not present",
# never as passed.
set -u
O=${1:-build}
export CAIRN_BIN="$(cd "$O/bin" && pwd)"
export CAIRN_TOP="$(pwd)"
L="$O/test-long"
mkdir -p "$L"
FUZZ_SECONDS=${FUZZ_SECONDS:-600}
status=0
start=$(date +%s)

# part NAME CMD...: run CMD with its output in $L/NAME.log; sets RC.
part() {
	name=$1; shift
	echo "test-long: $name ..." >&2
	t0=$(date +%s)
	"$@" >"$L/$name.log" 2>&1
	RC=$?
	echo "test-long: $name: exit $RC in $(($(date +%s) - t0)) s" >&2
	[ $RC -eq 0 ] || status=1
}

# faults LOG KIND: the "K survived of N" of a fault script's summary.
faults() {
	sed -n "s/^# faults: $2 //p" "$L/$1.log" | tail -n 1
}

part kill sh bench/faults/kill_sweep.sh
KILL=$(faults kill kill); KILL_RC=$RC
part enospc sh bench/faults/enospc.sh
ENOSPC=$(faults enospc enospc); ENOSPC_RC=$RC
part netns sh bench/faults/netns.sh
NETNS=$(faults netns netns); NETNS_RC=$RC

if [ -f tests/e2e/attack_suite.sh ]; then
	part attack env ${TEST_LONG_ATTACK_ENV:-CAIRN_ATTACK_LONG=1} \
	    sh tests/e2e/attack_suite.sh
	ATTACK=$(grep -E "^(# )?attacks: " "$L/attack.log" | tail -n 1 |
	    sed 's/^# //; s/^attacks: //')
	[ -n "$ATTACK" ] || ATTACK="ran (exit $RC) but printed no 'attacks:' line"
	[ $RC -eq 0 ] || ATTACK="$ATTACK (FAILED, exit $RC)"
else
	ATTACK="not present (tests/e2e/attack_suite.sh)"
fi

if [ "$FUZZ_SECONDS" = 0 ]; then
	FUZZ_RC=skip
elif make -n fuzz >/dev/null 2>&1; then
	part fuzz make --no-print-directory fuzz FUZZ_SECONDS="$FUZZ_SECONDS"
	FUZZ_RC=$RC
else
	FUZZ_RC=""
fi

echo
echo "== cairn hardening report (make test-long, $(($(date +%s) - start)) s) =="
echo "fuzz (FUZZ_SECONDS=$FUZZ_SECONDS per harness):"
if [ "$FUZZ_RC" = skip ]; then
	echo "  not run (FUZZ_SECONDS=0)"
elif [ -z "$FUZZ_RC" ]; then
	echo "  not present (no 'make fuzz' target)"
else
	# tests/fuzz/run.sh's table: executions, exec/s, coverage, findings.
	sed -n '/^harness  *execs/,/^[0-9]* harnesses, /p' "$L/fuzz.log" |
	    sed 's/^/  /' 
	[ "$FUZZ_RC" -eq 0 ] && echo "  make fuzz: passed" ||
	    echo "  make fuzz: FAILED (exit $FUZZ_RC; see $L/fuzz.log)"
fi
echo "faults survived:"
echo "  kill -9 at a crash point: ${KILL:-no summary} $( [ "$KILL_RC" -eq 0 ] && echo passed || echo "FAILED, see $L/kill.log")"
echo "  ENOSPC: ${ENOSPC:-no summary} $( [ "$ENOSPC_RC" -eq 0 ] && echo passed || echo "FAILED, see $L/enospc.log")"
case $NETNS in
not\ run*) echo "  network partition (ip netns): $NETNS (counted as not run)" ;;
*) echo "  network partition (ip netns): ${NETNS:-no summary} $( [ "$NETNS_RC" -eq 0 ] && echo passed || echo "FAILED, see $L/netns.log")" ;;
esac
grep -h "^not ok" "$L/kill.log" "$L/enospc.log" "$L/netns.log" 2>/dev/null |
    sed 's/^/  /' | head -n 20
echo "attacks: $ATTACK"
[ $status -eq 0 ] && echo "result: PASS" || echo "result: FAIL"
exit $status
