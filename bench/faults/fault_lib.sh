# fault_lib.sh - the federation the fault-injection scripts crash, starve
# and cut off (docs/security-faults.md).  Sourced after
# tools/federation_lib.sh and tests/e2e/lib/tap.sh; the caller sets T (its
# folder), CAIRN_BIN and CAIRN_TOP.
#
# flt_setup makes, in $T: the federation (an analyst and the nodes named
# in FLT_NODES, default "n1 n2"), the 4-region geography g4 of
# node_e2e_analyst, each node's data, and starts the coordinator on a
# fixed loopback port (FED_PORT), so that a restarted coordinator is found
# again by the nodes.  Node NAME's process id is in PID_NAME.

CAIRN="$CAIRN_BIN/cairn"
FLT_NODE="$CAIRN_BIN/cairn-node"
FLT_ANALYST="$CAIRN_BIN/node_e2e_analyst"
FLT_NODES=${FLT_NODES:-"n1 n2"}
FED_ADVERTISE_SECONDS=${FED_ADVERTISE_SECONDS:-5}
FED_SHARE_SECONDS=${FED_SHARE_SECONDS:-5}
FED_MAX_ATTEMPTS=${FED_MAX_ATTEMPTS:-10}
FED_CALL_DEADLINE=${FED_CALL_DEADLINE:-4}
FLT_PIDS=""

# flt_setup: see above.  Returns 1 (after a "not ok" line) on a failure.
flt_setup() {
	# FLT_HOSTS: more addresses the coordinator is dialled at (netns).
	{ if [ -n "${FLT_HOSTS:-}" ]; then
		"$CAIRN" keys init-federation --name faults --dir "$T/fed" \
		    --hosts "localhost,127.0.0.1,$FLT_HOSTS" >/dev/null
	  else fed_init "$T" faults; fi && fed_member "$T" analyst analyst; } \
	    >"$T/out" 2>&1 || { notok "federation keys"; return 1; }
	for m in $FLT_NODES; do
		fed_member "$T" node "$m" >"$T/out" 2>&1 ||
			{ notok "keys of $m"; return 1; }
	done
	printf 'region_id,name\n1,north\n2,south\n3,east\n4,west\n' >"$T/g4.csv"
	printf 'cell_id,region_id\nc1,1\nc2,2\nc3,3\nc4,4\n' >"$T/cells.csv"
	for m in $FLT_NODES; do
		printf 'subscriber_id,timestamp,cell_id\n%s1,2026-01-10T08:00:00Z,c1\n%s2,2026-01-10T09:00:00Z,c2\n' \
		    "$m" "$m" >"$T/$m.csv"
	done
	fed_coordinator_conf "$T" "g4 g4.csv"
	# The public directory of the log (docs/public.md), checked by
	# flt_audit after every crash.
	printf '[public]\ndir = %s/pub\n' "$T" >>"$T/coordinator.conf"
	# A fixed port: take the one the first start chose, then pin it.
	fed_start_coordinator "$T" || { cp "$T/coord.log" "$T/out"
		notok "coordinator starts"; return 1; }
	flt_stop_coordinator
	sed -i "s/^listen = 127.0.0.1:0$/listen = 127.0.0.1:$FED_PORT/" \
	    "$T/coordinator.conf"
	flt_start_coordinator || { notok "coordinator restarts on $FED_PORT"
		return 1; }
	for m in $FLT_NODES; do
		fed_node_conf "$T" "$m" "$T/$m.csv" "$T/cells.csv" g4 <<POL
allow_kind = presence
allow_analyst = analyst
budget_rho_per_month = 100
max_rho_per_query = 1
POL
		flt_start_node "$m" || { notok "$m starts"; return 1; }
	done
	fed_analyst_conf "$T" analyst
	ok "federation of $FLT_NODES, coordinator on 127.0.0.1:$FED_PORT"
}

# flt_log_sink NAME: FLT_SINK, where process NAME writes its log: $T/NAME.log,
# or with FLT_LOG_PIPE set a FIFO that a cat appends to it (a process under
# a small file-size limit could not write its log file itself).
flt_log_sink() {
	FLT_SINK=$T/$1.log
	[ -n "${FLT_LOG_PIPE:-}" ] || return 0
	rm -f "$T/$1.fifo"
	mkfifo "$T/$1.fifo" || return 0
	cat "$T/$1.fifo" >>"$T/$1.log" &
	FLT_SINK=$T/$1.fifo
}

# flt_start_coordinator [ENV=VALUE...]: start the coordinator (with the
# extra environment), FED_COORD_PID its process; wait for its port file.
flt_start_coordinator() {
	rm -f "$T/port"
	flt_log_sink coord
	(cd "$T" && exec env "$@" "$CAIRN_BIN/cairn-coordinator" serve \
	    -c "$T/coordinator.conf" >>"$FLT_SINK" 2>&1) &
	FED_COORD_PID=$!
	i=0
	while [ $i -lt 150 ] && [ ! -s "$T/port" ]; do
		kill -0 "$FED_COORD_PID" 2>/dev/null || return 1
		sleep 0.1; i=$((i + 1))
	done
	[ -s "$T/port" ]
}

flt_stop_coordinator() {
	[ -n "${FED_COORD_PID:-}" ] || return 0
	kill -TERM "$FED_COORD_PID" 2>/dev/null
	wait "$FED_COORD_PID" 2>/dev/null
	FED_COORD_PID=""
}

# flt_start_node NAME [ENV=VALUE...]: start node NAME (log appended to
# $T/NAME.log), PID_NAME its process.
flt_start_node() {
	m=$1; shift
	flt_log_sink "$m"
	env CAIRN_LOG=info "$@" "$FLT_NODE" serve -c "$T/$m.conf" \
	    >>"$FLT_SINK" 2>&1 &
	eval "PID_$m=$!"
	sleep 0.1
	kill -0 "$!" 2>/dev/null
}

# flt_stop_node NAME: SIGTERM, wait.
flt_stop_node() {
	eval "p=\${PID_$1:-}"
	[ -n "$p" ] || return 0
	kill -TERM "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	eval "PID_$1="
}

# flt_cleanup: stop everything this script started (by process id).
flt_cleanup() {
	for m in $FLT_NODES; do flt_stop_node "$m"; done
	flt_stop_coordinator
	for p in $FLT_PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
}

# flt_wait_dead PID SECONDS: wait for PID to end by itself; its exit
# status in FLT_RC (137 when killed by SIGKILL); 1 if it is still alive.
flt_wait_dead() {
	i=0
	while kill -0 "$1" 2>/dev/null; do
		[ $i -ge $(($2 * 10)) ] && return 1
		sleep 0.1; i=$((i + 1))
	done
	wait "$1" 2>/dev/null
	FLT_RC=$?
	return 0
}

# flt_query ID [ARGS...]: the analyst submits presence query ID over all
# nodes (rho 0.01), retrying failed attempts and riding out coordinator
# restarts (--persist); its output in $T/ID.out.
flt_query() {
	_fq=$1; shift
	"$FLT_ANALYST" --dir "$T" --target "127.0.0.1:$FED_PORT" --id "$_fq" \
	    --participants "$(echo $FLT_NODES | tr ' ' ',')" --rho 0.01 \
	    --retries 9 --wait 150 --persist "$@" >"$T/$_fq.out" 2>&1
}

# flt_audit WHAT: `cairn audit verify` of the log with each node's ledger
# export (retried for up to FLT_AUDIT_SECONDS, default 60, while a node has
# not yet followed the log to its CHARGE entry or re-sent a charge the
# coordinator died before logging); one ok/not ok line per node.  The
# last output is in $T/audit-NAME.out.
flt_audit() {
	for _fm in $FLT_NODES; do
		_fi=0
		while :; do
			"$FLT_NODE" ledger export -c "$T/$_fm.conf" >"$T/$_fm.jsonl" 2>"$T/out"
			"$CAIRN" audit verify --federation "$T/fed/federation.conf" \
			    --coordinator "127.0.0.1:$FED_PORT" --ca "$T/analyst/ca.crt" \
			    --tls-cert "$T/analyst/tls.crt" --tls-key "$T/analyst/tls.key" \
			    --ledger "$T/$_fm.jsonl" --node "$_fm" \
			    >"$T/audit-$_fm.out" 2>&1 && break
			_fi=$((_fi + 1))
			[ $_fi -lt $((${FLT_AUDIT_SECONDS:-60} * 4)) ] || break
			sleep 0.25
		done
		cp "$T/audit-$_fm.out" "$T/out"
		has "$1: audit verify passes with $_fm's ledger (log and ledger agree)" \
		    "^ok: .*ledger of '$_fm'"
	done
	# The public directory, read by an independent verifier from the
	# files alone: the checkpoint's signature, every tile it implies and
	# the inclusion of every entry (tests/e2e/tiles_verify.py).
	/usr/bin/python3 "$CAIRN_TOP/tests/e2e/tiles_verify.py" "$T/pub" \
	    --federation "$T/fed/federation.conf" --json >"$T/out" 2>&1 &&
	    ok "$1: the public directory verifies from its files" ||
	    notok "$1: the public directory verifies from its files"
}

# flt_log_counts: the numbers of QUERY... in the last audit output, as
# "queries Q releases R failures F".
flt_log_counts() {
	sed -n 's/^ok: .* \([0-9]*\) queries.* \([0-9]*\) releases, \([0-9]*\) failures.*/queries \1 releases \2 failures \3/p' \
	    "$T/audit-$(echo $FLT_NODES | cut -d' ' -f1).out"
}
