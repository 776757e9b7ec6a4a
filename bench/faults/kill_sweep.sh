#!/bin/sh
# kill_sweep.sh [POINT[:N]...] - kill -9 at every step of the federation
# round, in turn (docs/security-faults.md).  For each crash point (default:
# all of FLT_ALL_POINTS below) the process that owns it (node n2 for
# node.*, the coordinator for coord.*) is restarted with CAIRN_FAULT set to
# it, a query is run, the process SIGKILLs itself at that step, it is
# started again (unarmed), and the script checks:
#   - it died at that point, by SIGKILL;
#   - the query ends cleanly: released (a failed attempt is retried with
#     the same signed bytes, as an analyst would), or for the refusal
#     points refused, never half-way;
#   - the public directory verifies from its files (tests/e2e/
#     tiles_verify.py) and the restarted coordinator accepted it;
#   - `cairn audit verify` passes with each node's ledger export: the log
#     verifies, every RELEASE follows a CHARGE from every participant, and
#     every CHARGE in the log is in the ledger and every ledger charge in
#     the log (ledgers never under-count);
#   - the next query is released (the services came back).
# Prints "ok N - ..." lines and, last, "# faults: kill K survived of P".
# Run by tests/e2e/fault_kill.sh (five points) and bench/test-long.sh
# (all, or those in FAULT_POINTS).  Needs CAIRN_BIN (with
# node_e2e_analyst) and CAIRN_TOP.
set -u
: "${CAIRN_BIN:?}" "${CAIRN_TOP:?}"
FLT_ALL_POINTS="node.task_received node.after_witness node.after_compute
node.after_noise node.before_charge_commit node.after_charge
node.before_advertise node.after_advertise node.after_roster
node.after_mask node.mid_upload node.after_upload node.after_refuse
coord.after_query_logged coord.after_checkpoint_signed
coord.after_checkpoint_signed:3 coord.after_dispatch
coord.after_dispatch:2 coord.after_charge_logged
coord.after_charge_logged:2 coord.after_refusal_logged
coord.after_failure_logged coord.after_roster_sent
coord.after_share_received coord.after_share_received:2 coord.after_sum
coord.after_release_logged coord.public_before_rename
coord.public_before_rename:3 coord.public_after_tiles
coord.public_after_tiles:2"
POINTS=${*:-${FAULT_POINTS:-$FLT_ALL_POINTS}}
T=$(mktemp -d /tmp/cairn-faultkill-XXXXXX)
. "$CAIRN_TOP/tools/federation_lib.sh"
. "$CAIRN_TOP/tests/e2e/lib/tap.sh"
. "$CAIRN_TOP/bench/faults/fault_lib.sh"
TAP_SHOW="$T/out"
cleanup() {
	flt_cleanup
	[ -n "${KEEP:-}" ] && echo "# kept $T" || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' HUP INT PIPE TERM

flt_setup || { echo "1..$n"; exit 1; }
# n2 refuses queries over rho 0.5 (the refusal points ask for 0.6).
sed -i 's/^max_rho_per_query = 1$/max_rho_per_query = 0.5/' "$T/n2.conf"
flt_stop_node n2; flt_start_node n2
flt_query q0 && ok "q0 released before any fault" ||
	{ cp "$T/q0.out" "$T/out"; notok "q0 released before any fault"; }

points=0
survived=0
k=0
for spec in $POINTS; do
	k=$((k + 1)); q=q$k; name=${spec%%:*}
	points=$((points + 1))
	f0=$fails
	rho=0.01; want=released
	case $name in *refus*) rho=0.6; want=refused ;; esac
	case $name in
	coord.*)
		flt_stop_coordinator
		flt_start_coordinator CAIRN_FAULT="$spec" ||
			{ notok "$spec: coordinator starts armed"; continue; }
		victim=$FED_COORD_PID; vlog=$T/coord.log ;;
	*)
		flt_stop_node n2
		flt_start_node n2 CAIRN_FAULT="$spec"
		victim=$PID_n2; vlog=$T/n2.log ;;
	esac
	# A FAILURE needs a failed attempt: n2 paused past the advertise
	# deadline (nodes otherwise answer at once, even after a restart).
	paused=""
	case $name in coord.after_failure_logged)
		eval "paused=\$PID_n2"; kill -STOP "$paused" ;;
	esac
	flt_query "$q" --rho "$rho" &
	apid=$!
	if flt_wait_dead "$victim" 60; then
		if [ "$FLT_RC" -eq 137 ] && grep -q "fault: CAIRN_FAULT=$name hit ${spec#"$name"}" "$vlog" 2>/dev/null ||
		    { [ "$FLT_RC" -eq 137 ] && grep -q "fault: CAIRN_FAULT=$name hit" "$vlog"; }; then
			ok "$spec: died there by SIGKILL"
		else
			tail -n 20 "$vlog" >"$T/out"; echo "rc $FLT_RC" >>"$T/out"
			notok "$spec: died there by SIGKILL"
		fi
	else
		tail -n 20 "$vlog" >"$T/out"
		notok "$spec: point reached within 60 s"
		# Not reached: stop it so the next points start clean.
		kill -KILL "$victim" 2>/dev/null; wait "$victim" 2>/dev/null
	fi
	[ -n "$paused" ] && kill -CONT "$paused"
	case $name in
	coord.*) FED_COORD_PID=""
		flt_start_coordinator ||
		    { cp "$T/coord.log" "$T/out"; notok "$spec: coordinator restarts"; } ;;
	*) eval "PID_n2="; flt_start_node n2 ;;
	esac
	wait "$apid"
	arc=$?
	cp "$T/$q.out" "$T/out"
	if [ $want = released ]; then
		[ $arc -eq 0 ] && grep -q "^released attempt" "$T/out" &&
		    ok "$spec: $q released after the restart ($(grep -c retrying "$T/out") retries)" ||
		    notok "$spec: $q released after the restart"
	else
		[ $arc -ne 0 ] && grep -q "refusals [1-9]" "$T/out" &&
		    ok "$spec: $q refused, nothing released" ||
		    notok "$spec: $q refused, nothing released"
	fi
	flt_audit "$spec"
	flt_query "$q-next" && ok "$spec: the next query is released" ||
		{ cp "$T/$q-next.out" "$T/out"; notok "$spec: the next query is released"; }
	[ $fails -eq $f0 ] && survived=$((survived + 1))
done
flt_audit "after the sweep"
echo "# log: $(flt_log_counts)"
echo "# faults: kill $survived survived of $points"
echo "1..$n"
tap_done
