#!/bin/sh
# enospc.sh - a full disk under the node's ledger and under the
# coordinator's log (docs/security-faults.md).  Node n2's data folder
# (ledger.db, witness state) and the coordinator's data folder (log.db,
# coord.db) are each moved onto a small tmpfs (`mount -t tmpfs`, root), or
# when mounting is not permitted the process runs under a file-size limit
# (RLIMIT_FSIZE lowered to 512 bytes on the running process with
# `prlimit`, SIGXFSZ ignored, so every write past 512 bytes fails with
# EFBIG); the script says which ran.  The folder is filled to ENOSPC
# while the services run (before a task, then with n2 paused right before
# its ledger charge, then under the coordinator), a query is run, space is
# freed, and the script checks:
#   - the failed write is reported with an error naming the file;
#   - the query is not released unless every CHARGE is in its node's
#     ledger: `cairn audit verify` passes with n2's ledger (nothing derived
#     from the data left n2 without a durable charge);
#   - the coordinator logged no half entry and lost no committed one (the
#     log verifies, at the size it had or larger, every entry decoding);
#   - once space is freed the services serve the next query, released.
# Prints "# faults: enospc K survived of N" last.
set -u
: "${CAIRN_BIN:?}" "${CAIRN_TOP:?}"
T=$(mktemp -d /tmp/cairn-enospc-XXXXXX)
. "$CAIRN_TOP/tools/federation_lib.sh"
. "$CAIRN_TOP/tests/e2e/lib/tap.sh"
. "$CAIRN_TOP/bench/faults/fault_lib.sh"
TAP_SHOW="$T/out"
MOUNTS=""
cleanup() {
	flt_cleanup
	for m in $MOUNTS; do umount "$m" 2>/dev/null; done
	[ -n "${KEEP:-}" ] && echo "# kept $T" || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' HUP INT PIPE TERM
# A process over its file-size limit gets EFBIG, not killed (the fallback).
trap '' XFSZ

flt_setup || { echo "1..$n"; exit 1; }
flt_query q0 && ok "q0 released before any fault" ||
	{ cp "$T/q0.out" "$T/out"; notok "q0 released before any fault"; }

# onto_tmpfs DIR: move DIR's files onto a 4 MB tmpfs mounted there.
# Returns 1 when mounting is not permitted.
# FLT_NO_MOUNT=1 takes the file-size-limit path even where mounting works.
onto_tmpfs() {
	[ -z "${FLT_NO_MOUNT:-}" ] || return 1
	mv "$1" "$1.disk" && mkdir -m 700 "$1" || return 1
	if mount -t tmpfs -o size=4m,mode=700 tmpfs "$1" 2>"$T/out"; then
		MOUNTS="$1 $MOUNTS"
		cp -a "$1.disk/." "$1/" && return 0
	fi
	rmdir "$1"; mv "$1.disk" "$1"
	return 1
}

# fill DIR PID: write DIR/filler until the file system is full (tmpfs),
# or lower process PID's file-size limit to 512 bytes (fsize).
fill() {
	if [ "$MODE" = fsize ]; then
		prlimit --pid "$2" --fsize=512:unlimited
		return
	fi
	dd if=/dev/zero of="$1/filler" bs=4k >/dev/null 2>&1
	df -k "$1" | awk 'NR == 2 { exit ($4 != 0) }'
}

# unfill DIR PID: undo fill.
unfill() {
	if [ "$MODE" = fsize ]; then
		prlimit --pid "$2" --fsize=unlimited:unlimited 2>/dev/null
		return 0
	fi
	rm -f "$1/filler"
}

# flt_serving NAME: wait (up to 15 s) until node NAME has polled once
# since its start: its log says it serves and it has cosigned or been idle
# for a second.
flt_serving() {
	_l=$(wc -l <"$T/$1.log")
	i=0
	while [ $i -lt 150 ]; do
		tail -n +"$((_l > 0 ? _l : 1))" "$T/$1.log" | grep -q "serving federation" &&
		    break
		sleep 0.1; i=$((i + 1))
	done
	sleep 1.5
}

# log_size: the log size `cairn audit verify` reports (with n1's ledger).
log_size() {
	sed -n 's/^ok: log size \([0-9]*\),.*/\1/p' "$T/audit-n1.out"
}

# The node's ledger and witness state.
survived=0
kinds=0
flt_stop_node n2
if onto_tmpfs "$T/n2/data"; then
	MODE=tmpfs
	how_n2="tmpfs of 4 MB"
else
	MODE=fsize
	how_n2="file-size limit of 512 bytes (prlimit; tmpfs mount not permitted)"
	FLT_LOG_PIPE=1
fi
flt_start_node n2
flt_serving n2
echo "# enospc: the node's data folder on a $how_n2"

# node_full CASE QUERY: run QUERY with n2's folder full; CASE "witness"
# fills it before the task comes (the checkpoint cosignature is the first
# write), "ledger" when n2 has checked the query and is about to charge
# (n2 pauses there with CAIRN_NODE_STOP_AT=checked, docs/node.md).
node_full() {
	f0=$fails
	kinds=$((kinds + 1))
	if [ "$1" = ledger ]; then
		flt_stop_node n2
		flt_start_node n2 CAIRN_NODE_STOP_AT=checked
		flt_serving n2
	fi
	[ "$1" = witness ] && { fill "$T/n2/data" "$PID_n2" &&
	    ok "$1: n2's data folder is full" || notok "$1: n2's data folder is full"; }
	flt_query "$2" --retries 0 --wait 25 &
	_qp=$!
	if [ "$1" = ledger ]; then
		i=0
		while [ $i -lt 200 ] && ! grep -q "CAIRN_NODE_STOP_AT=checked" "$T/n2.log"; do
			sleep 0.1; i=$((i + 1)); done
		fill "$T/n2/data" "$PID_n2" && ok "$1: n2's data folder filled while n2 is about to charge" ||
		    notok "$1: n2's data folder filled while n2 is about to charge"
		kill -CONT "$PID_n2"
	fi
	wait $_qp
	arc=$?
	cp "$T/$2.out" "$T/out"
	[ $arc -ne 0 ] && ok "$1: $2, with n2's disk full, is not released" ||
		notok "$1: $2, with n2's disk full, is not released"
	grep -E "n2/data/$1[^:]*: .*(full|space|too large|I/O error)" "$T/n2.log" >"$T/out" &&
		ok "$1: n2 names the file it cannot write: $(head -n 1 "$T/out" | cut -c1-200)" ||
		{ tail -n 20 "$T/n2.log" >"$T/out"; notok "$1: n2 names the file it cannot write"; }
	# The ledger export needs room to open the database: free the
	# space, then compare the ledger (as the full disk left it) with
	# the log.
	unfill "$T/n2/data" "$PID_n2"
	flt_audit "$1: n2's disk full"
	if [ "$1" = ledger ]; then
		flt_stop_node n2; flt_start_node n2
	fi
	kill -0 "$PID_n2" 2>/dev/null || { flt_start_node n2; echo "# n2 had exited; restarted"; }
	flt_query "$2-freed" && ok "$1: space freed: n2 serves $2-freed, released" ||
		{ cp "$T/$2-freed.out" "$T/out"; notok "$1: space freed: n2 serves $2-freed, released"; }
	flt_audit "$1: n2's disk freed"
	[ $fails -eq $f0 ] && survived=$((survived + 1))
}
node_full witness q-wfull
node_full ledger q-lfull

# The coordinator's log.
f0=$fails
SIZE0=$(log_size)
flt_stop_coordinator
if [ $MODE = tmpfs ] && onto_tmpfs "$T/coord"; then
	how_c="tmpfs of 4 MB"
else
	MODE=fsize
	how_c="file-size limit of 512 bytes (prlimit; tmpfs mount not permitted)"
	FLT_LOG_PIPE=1
fi
flt_start_coordinator || notok "coordinator starts"
sleep 2
fill "$T/coord" "$FED_COORD_PID" && ok "the coordinator's log folder is full ($how_c)" ||
	notok "the coordinator's log folder is full ($how_c)"
echo "# enospc: the coordinator's log on a $how_c"
"$CAIRN" query submit --config "$T/analyst.conf" --kind presence \
    --start 2026-01-10 --end 2026-01-11 --bucket day --k 1 --geography g4 \
    --rho 0.01 --purpose enospc --participants n1,n2 --colluding 0 \
    --id q-logfull >"$T/out" 2>&1
rc=$?
[ $rc -ne 0 ] && [ "$(wc -l <"$T/out")" -eq 1 ] &&
    ok "SubmitQuery with the log's disk full fails with one line: $(cut -c1-150 "$T/out")" ||
    { echo "rc $rc" >>"$T/out"; notok "SubmitQuery with the log's disk full fails with one line"; }
cp "$T/out" "$T/submit.out"
cat "$T/submit.out" "$T/coord.log" |
    grep -E "coord/(log|coord)\.db[^:]*: .*(full|space|too large|I/O error)" >"$T/out" &&
	ok "the coordinator names the file it cannot write: $(head -n 1 "$T/out" | cut -c1-160)" ||
	{ tail -n 20 "$T/coord.log" >"$T/out"; notok "the coordinator names the file it cannot write"; }
kill -0 "$FED_COORD_PID" 2>/dev/null && ok "the coordinator still serves" ||
	{ tail -n 20 "$T/coord.log" >"$T/out"; notok "the coordinator still serves"; }
flt_audit "log's disk full"
[ "$(log_size)" = "$SIZE0" ] &&
	ok "no half entry, none lost: the log verifies at its size before ($SIZE0)" ||
	notok "no half entry, none lost: the log verifies at its size before ($SIZE0, now $(log_size))"
unfill "$T/coord" "$FED_COORD_PID"
if ! kill -0 "$FED_COORD_PID" 2>/dev/null; then
	flt_stop_coordinator; flt_start_coordinator || notok "coordinator restarts"
fi
flt_query q-logfreed && ok "space freed: q-logfreed released" ||
	{ cp "$T/q-logfreed.out" "$T/out"; notok "space freed: q-logfreed released"; }
flt_audit "log's disk freed"
[ "$(log_size)" -gt "$SIZE0" ] && ok "the log grew again past $SIZE0" ||
	notok "the log grew again past $SIZE0"
kinds=$((kinds + 1))
[ $fails -eq $f0 ] && survived=$((survived + 1))
flt_cleanup
echo "# faults: enospc $survived survived of $kinds (node: $how_n2; coordinator log: $how_c)"
echo "1..$n"
tap_done
