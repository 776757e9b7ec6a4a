#!/bin/sh
# cases.sh [CASE_FILE...] - run the declarative end-to-end cases: each file
# under tests/e2e/cases/ (default: every *.case there) states a federation
# (its members, their data and policies), the queries and the expected
# outcomes; this runner builds that federation with tools/federation_lib.sh,
# runs a real cairn-coordinator and `cairn-node serve` processes on
# 127.0.0.1, and prints one "ok N" / "not ok N" line per expectation
# (tests/e2e/lib/tap.sh).  The format is described in
# tests/e2e/cases/README.md.  KEEP=1 keeps the working folder.
set -u
: "${CAIRN_BIN:?}" "${CAIRN_TOP:?}"
T=$(mktemp -d /tmp/cairn-cases-XXXXXX)
cleanup() {
	for p in $(cat "$T"/*/pids 2>/dev/null); do
		kill "$p" 2>/dev/null
	done
	[ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' HUP INT PIPE TERM
CAIRN="$CAIRN_BIN/cairn"
NODE="$CAIRN_BIN/cairn-node"
WIRE="$CAIRN_BIN/node_e2e_analyst"
. "$CAIRN_TOP/tests/e2e/lib/tap.sh"
. "$CAIRN_TOP/tools/federation_lib.sh"

# --- the federation -------------------------------------------------------

# case_path FILE: FILE, taken from the case's folder $D if relative.
case_path() {
	case $1 in /*) echo "$1" ;; *) echo "$D/$1" ;; esac
}

# case_read VAR FILE [DEFAULT]: VAR is FILE's first line, or DEFAULT if
# there is no FILE (the shell's own read: no process per check).
case_read() {
	if [ -f "$2" ] && IFS= read -r "$1" <"$2"; then return 0; fi
	eval "$1=\${3:-}"
}

# case_start_node NAME [VAR=VALUE...]: write NAME's config (its [data]
# from the node line and the data block, its [policy] from the policy
# block, the coordinator's current port), then serve it in the background
# from the case's folder, with the VAR=VALUE test settings in its
# environment; its log is appended to $D/NAME.log, where this run starts
# at the offset kept in $D/NAME.from (the source run:NAME).
case_start_node() {
	_nm=$1; shift
	[ -f "$D/$_nm.data" ] || { notok "$C: serve $_nm: no node line"; return 1; }
	_extra=""
	[ -f "$D/$_nm.extra" ] && _extra=$(cat "$D/$_nm.extra")
	read -r _cdr _cells _geo <"$D/$_nm.data"
	FED_DATA_EXTRA=$_extra fed_node_conf "$D" "$_nm" "$_cdr" "$_cells" \
	    "$_geo" <"$D/$_nm.policy" || { notok "$C: $_nm.conf"; return 1; }
	if [ -f "$D/$_nm.log" ]; then wc -c <"$D/$_nm.log"; else echo 0; fi \
	    >"$D/$_nm.from"
	(
		# shellcheck disable=SC2163
		for _e in "$@"; do export "$_e"; done
		cd "$D" && CAIRN_LOG=info exec "$NODE" serve -c "$D/$_nm.conf"
	) >>"$D/$_nm.log" 2>&1 &
	echo $! >"$D/$_nm.pid"
	echo $! >>"$D/pids"
}

# case_stop SIGNAL NAME...: send SIGNAL to each NAME (a node, or coord:
# the coordinator) that runs, then wait for each to end (they shut down
# side by side); its exit status in $D/NAME.rc.
case_stop() {
	_sig=$1; shift
	for _m in "$@"; do
		[ -f "$D/$_m.pid" ] && kill -"$_sig" "$(cat "$D/$_m.pid")" 2>/dev/null
	done
	for _m in "$@"; do
		[ -f "$D/$_m.pid" ] || continue
		wait "$(cat "$D/$_m.pid")" 2>/dev/null
		echo $? >"$D/$_m.rc"
		rm -f "$D/$_m.pid"
	done
}

# --- queries --------------------------------------------------------------

# case_flags KEY=VALUE...: each as "--KEY VALUE", one a line, but
# analyst=NAME (which picks the analyst: case_analyst_of).
case_flags() {
	for _a in "$@"; do
		case $_a in
		analyst=*) ;;
		*) printf -- '--%s\n%s\n' "${_a%%=*}" "${_a#*=}" ;;
		esac
	done
}

# case_analyst_of KEY=VALUE...: the analyst=NAME among them, or the first
# analyst declared.
case_analyst_of() {
	case_read _an "$D/analysts"
	for _a in "$@"; do
		case $_a in analyst=*) _an=${_a#analyst=} ;; esac
	done
	echo "$_an"
}

# case_query_submit ID KEY=VALUE...: `cairn query submit --id ID --KEY
# VALUE...` as the analyst case_analyst_of names.
case_query_submit() {
	_id=$1; shift
	case_analyst_of "$@" >"$D/q/$_id.analyst"
	(
		set -f
		IFS='
'
		case_read _an "$D/q/$_id.analyst"
		# shellcheck disable=SC2046
		set -- $(case_flags "$@")
		"$CAIRN" query submit --config "$D/$_an.conf" "$@" --id "$_id"
	)
}

# case_query ID KEY=VALUE...: case_query_submit; one check.
case_query() {
	case_query_submit "$@" >"$T/out" 2>&1 && ok "$C: $1 submitted" ||
	    notok "$C: $1 submitted"
}

# case_reject ID PATTERN KEY=VALUE...: `cairn query submit` as case_query
# must fail, its output having PATTERN; one check.
case_reject() {
	_id=$1; _pat=$2; shift 2
	if case_query_submit "$_id" "$@" >"$T/out" 2>&1; then
		notok "$C: $_id refused at submission (it succeeded)"
	else
		has "$C: $_id refused at submission: $(head -n 1 "$T/out")" "$_pat"
	fi
}

# case_wire ID KEY=VALUE...: node_e2e_analyst (analyst 'analyst', a
# hand-built wire query) runs ID to its end; its output and exit status
# are kept for the expectations.
case_wire() {
	_id=$1; shift
	(
		set -f
		IFS='
'
		# shellcheck disable=SC2046
		set -- $(case_flags "$@")
		"$WIRE" --dir "$D" --target "127.0.0.1:$FED_PORT" --id "$_id" \
		    --wait 60 "$@"
	) >"$D/q/$_id.out" 2>&1
	echo $? >"$D/q/$_id.rc"
}

# case_wire_start ID KEY=VALUE...: case_wire in the background; the first
# expectation that needs its end waits for it (case_outcome).
case_wire_start() {
	case_wire "$@" &
	echo $! >"$D/q/$1.pid"
	echo $! >>"$D/pids"
}

# case_outcome ID: the query's end, `cairn query wait` the first time for
# a `query`, the background client's end for a `wire-start`; sets RC, and
# SRC to the file holding its output.
case_outcome() {
	if [ -f "$D/q/$1.pid" ]; then
		wait "$(cat "$D/q/$1.pid")"
		rm -f "$D/q/$1.pid"
	fi
	if [ ! -f "$D/q/$1.rc" ]; then
		case_read _an "$D/q/$1.analyst"
		"$CAIRN" query wait --config "$D/$_an.conf" \
		    "$1" --timeout 60 >"$D/q/$1.out" 2>&1
		echo $? >"$D/q/$1.rc"
	fi
	case_read RC "$D/q/$1.rc"
	SRC=$D/q/$1.out
}

# --- expectations ---------------------------------------------------------

# case_source SOURCE: set SRC to a file holding what SOURCE names (and
# TAP_SHOW to it, so that a failed check shows it).  log:NAME (a node's
# log, log:coord the coordinator's), out:NAME and err:NAME (a `run`'s
# standard output and error) and file:PATH are read where they are;
# run:NODE (the node's log since its last `serve`), ledger:NODE
# (`cairn-node ledger export`), show:NODE (`ledger show`), status:ID
# (`cairn query status`), query:ID (the query's end: `query wait` or the
# wire client) and result:ID@REGIONS (`cairn query result --regions
# REGIONS`) are put in $T/src, once for a run of lines on the same SOURCE:
# the one read for the line before (_PREV_SRC, an `await` or `expect`) is
# read again only if that line was on another source.
case_source() {
	_src=$1
	if [ "$_src" = "${_PREV_SRC:-}" ]; then
		# SRC is still the file read for the line before.
		TAP_SHOW=$SRC
		_LAST_SRC=$_src
		return 0
	fi
	SRC=$T/src
	case $_src in
	log:*) SRC=$D/${_src#log:}.log ;;
	out:*) SRC=$D/run/${_src#out:}.out ;;
	err:*) SRC=$D/run/${_src#err:}.err ;;
	file:/*) SRC=${_src#file:} ;;
	file:*) SRC=$D/${_src#file:} ;;
	run:*) _from=0; case_read _from "$D/${_src#run:}.from" 0
	    tail -c +$((_from + 1)) "$D/${_src#run:}.log" >"$SRC" 2>&1 ;;
	ledger:*) "$NODE" ledger export -c "$D/${_src#ledger:}.conf" >"$SRC" 2>&1 ;;
	show:*) "$NODE" ledger show -c "$D/${_src#show:}.conf" >"$SRC" 2>&1 ;;
	status:*) case_read _an "$D/q/${_src#status:}.analyst"
	    "$CAIRN" query status --config "$D/$_an.conf" "${_src#status:}" \
	    >"$SRC" 2>&1 ;;
	query:*) case_outcome "${_src#query:}" ;;
	result:*) _r=${_src#result:}; case_read _an "$D/q/${_r%%@*}.analyst"
	    "$CAIRN" query result --config "$D/$_an.conf" "${_r%%@*}" \
	    --regions "$(case_path "${_r#*@}")" --timeout 30 \
	    >"$SRC" 2>&1 ;;
	*) echo "unknown source '$_src'" >"$SRC"; return 1 ;;
	esac
	if [ ! -f "$SRC" ]; then
		echo "no file $SRC" >"$T/src"
		SRC=$T/src
	fi
	TAP_SHOW=$SRC
	case $_src in log:*|out:*|err:*|file:*) ;; *) _LAST_SRC=$_src ;; esac
	return 0
}

# case_await SOURCE PATTERN [SECONDS [N]]: until SOURCE has N lines
# (default 1) matching PATTERN, up to SECONDS (default 10); no check of its
# own.
case_await() {
	_i=0
	while [ $_i -lt $((${3:-10} * 10)) ]; do
		case_source "$1" &&
		    [ "$(grep -c -- "$2" "$SRC")" -ge "${4:-1}" ] && return 0
		_PREV_SRC=""
		sleep 0.1; _i=$((_i + 1))
	done
	return 0
}

# case_audit NODE QUORUM CHARGES DESC [PATTERN]: `cairn audit verify`
# online with NODE's ledger export, QUORUM witness cosignatures required
# ('-': the default), retried while the nodes have not cosigned yet; it
# must pass and count CHARGES of CHARGES charges of NODE's matching ('all':
# as many as the export holds), on an "ok:" line that also has PATTERN.
# NODE '-' (CHARGES '-'): the log and its cosignatures alone, no ledger.
case_audit() {
	_led=""
	_want=""
	if [ "$1" != - ]; then
		"$NODE" ledger export -c "$D/$1.conf" >"$D/$1.jsonl" 2>/dev/null
		_c=$3
		[ "$_c" = all ] && _c=$(grep -c '"query_id"' "$D/$1.jsonl")
		_led="--ledger $D/$1.jsonl --node $1"
		_want=".*ledger of '$1': $_c of $_c charges match"
	fi
	case_read _an "$D/analysts"
	_q=""
	if [ "$2" != - ]; then
		_q="--quorum $2"
		_want=".*$2 witness cosignatures$_want"
	fi
	_want="^ok: ${5:+.*$5}$_want"
	_i=0
	while :; do
		# shellcheck disable=SC2086
		"$CAIRN" audit verify --federation "$D/fed/federation.conf" \
		    --coordinator "127.0.0.1:$FED_PORT" --ca "$D/$_an/ca.crt" \
		    --tls-cert "$D/$_an/tls.crt" --tls-key "$D/$_an/tls.key" \
		    $_q $_led >"$T/out" 2>&1 && break
		_i=$((_i + 1))
		grep -Eq "witness cosignatures?, [0-9]+ required" "$T/out" &&
		    [ $_i -lt 40 ] || break
		sleep 0.25
	done
	has "$C: $4" "$_want"
}

# case_expect KIND ARGS...: one check (see the README for the kinds).
case_expect() {
	_k=$1; shift
	TAP_SHOW=$T/out
	case $_k in
	released)	# ID [DESC]
		case_outcome "$1"
		# shellcheck disable=SC2034	# read by notok (tap.sh)
		TAP_SHOW=$SRC
		status_ok "$RC" "$C: ${2:-$1 released}" ;;
	refused)	# ID PATTERN [DESC]
		case_outcome "$1"
		TAP_SHOW=$SRC
		if [ "$RC" -eq 0 ]; then notok "$C: ${3:-$1 refused} (it succeeded)"
		else has "$C: ${3:-$1 refused}" "$2" "$SRC"; fi ;;
	output)		# SOURCE PATTERN DESC
		case_source "$1" && has "$C: $3" "$2" "$SRC" || notok "$C: $3" ;;
	no-output)	# SOURCE EREGEX DESC
		if case_source "$1" && ! grep -Eiq -- "$2" "$SRC"
		then ok "$C: $3"; else notok "$C: $3"; fi ;;
	count)		# SOURCE PATTERN N DESC
		case_source "$1"
		_got=$(grep -c -- "$2" "$SRC"); _want=$3
		holds "$C: $4 ($_got)" '[ "$_got" -eq "$_want" ]' ;;
	order)		# SOURCE DESC PATTERN...: first matches in this order
		case_source "$1"; _d=$2; shift 2
		_last=0; _good=1
		for _p in "$@"; do
			_l=$(grep -n -- "$_p" "$SRC" | head -n 1 | cut -d: -f1)
			if [ -z "$_l" ] || [ "$_l" -le "$_last" ]; then _good=0; fi
			_last=${_l:-0}
		done
		holds "$C: $_d" '[ "$_good" -eq 1 ]' ;;
	spent)		# NODE NANO_RHO [DESC]: the highest cumulative spend
		# in the export (a spend only grows: the month's total)
		case_source "ledger:$1"
		_got=$(sed -n 's/.*"cumulative_rho_nano":\([0-9]*\).*/\1/p' \
		    "$SRC" | sort -n | tail -n 1); _want=$2
		holds "$C: ${3:-$1 has spent $2 nano-rho} ($_got)" \
		    '[ "$_got" = "$_want" ]' ;;
	audit)		# NODE QUORUM CHARGES DESC [PATTERN]
		case_audit "$@" ;;
	stopped)	# NODE [DESC]: its last stop exited 0
		_rc=none; case_read _rc "$D/$1.rc" none
		echo "rc $_rc" >"$T/out"
		holds "$C: ${2:-$1 exits 0 on SIGTERM}" '[ "$_rc" = 0 ]' ;;
	exit)		# NAME STATUS DESC: a `run` exited STATUS (nonzero: any
		# failure)
		_rc=none; case_read _rc "$D/run/$1.rc" none
		_want=$2
		echo "exit status $_rc" >"$T/out"
		[ "$_rc" = "$_want" ] || cat "$D/run/$1.err" >>"$T/out" 2>/dev/null
		if [ "$_want" = nonzero ]; then
			holds "$C: $3" '[ "$_rc" != none ] && [ "$_rc" -ne 0 ]'
		else
			holds "$C: $3" '[ "$_rc" = "$_want" ]'
		fi ;;
	same)		# SOURCE FILE DESC: SOURCE is FILE byte for byte
		case_source "$1"
		if cmp -s "$SRC" "$(case_path "$2")"; then ok "$C: $3"
		else notok "$C: $3 (not the same as $2)"; fi ;;
	cells)		# SOURCE TOLERANCE V0,V1,... DESC: SOURCE's "cell I
		# VALUE" lines are one per Vi, each within TOLERANCE of it
		case_source "$1"
		if awk -v tol="$2" -v want="$3" 'BEGIN {
			n = split(want, e, ","); bad = 0; cells = 0 }
		    $1 == "cell" { cells++; i = $2 + 1
			if (!(i in e)) { bad = 1; next }
			d = $3 - e[i]; if (d < -tol || d > tol) bad = 1 }
		    END { exit (bad || cells != n) }' "$SRC"
		then ok "$C: $4"; else notok "$C: $4"; fi ;;
	*)
		notok "$C: unknown expectation '$_k'" ;;
	esac
}

# --- the case file --------------------------------------------------------

# case_line VERB ARGS...: one line of a case file.
case_line() {
	_v=$1; shift
	case $_v in
	federation)	# NAME
		{ fed_init "$D" "$1" && : >"$D/analysts"; } >"$T/out" 2>&1 ||
			{ notok "$C: federation $1"; return 1; } ;;
	analyst)	# NAME
		fed_member "$D" analyst "$1" >"$T/out" 2>&1 ||
			{ notok "$C: keys for analyst $1"; return 1; }
		echo "$1" >>"$D/analysts" ;;
	auditor)	# NAME
		fed_member "$D" auditor "$1" >"$T/out" 2>&1 ||
			{ notok "$C: keys for auditor $1"; return 1; } ;;
	node)		# NAME CDR CELLS GEOGRAPHY
		fed_member "$D" node "$1" >"$T/out" 2>&1 ||
			{ notok "$C: keys for node $1"; return 1; }
		echo "$(case_path "$2") $(case_path "$3") $4" >"$D/$1.data"
		[ -f "$D/$1.policy" ] || : >"$D/$1.policy" ;;
	geography)	# NAME REGIONS_FILE
		echo "$1 $2" >>"$D/geographies" ;;
	set)		# VARIABLE VALUE
		case $1 in
		FED_*|CAIRN_LOG|CAIRN_NODE_TEST_CLOCK_OFFSET) export "$1=$2" ;;
		*) notok "$C: set $1: only FED_*, CAIRN_LOG and CAIRN_NODE_TEST_CLOCK_OFFSET"; return 1 ;;
		esac ;;
	coordinator)	# [conf]: write coordinator.conf; unless conf, start
		_gs=$(cat "$D/geographies" 2>/dev/null)
		(
			IFS='
'
			# shellcheck disable=SC2086
			fed_coordinator_conf "$D" $_gs
		) >"$T/out" 2>&1 ||
			{ notok "$C: coordinator.conf, geographies pinned"; return 1; }
		[ "${1:-}" = conf ] && return 0
		fed_start_coordinator "$D" || {
			cp "$D/coord.log" "$T/out"
			notok "$C: coordinator started"; return 1; }
		echo "$FED_COORD_PID" >>"$D/pids"
		echo "$FED_COORD_PID" >"$D/coord.pid"
		# shellcheck disable=SC2034	# for the case's lines ($PORT)
		PORT=$FED_PORT
		ok "$C: coordinator listening on $FED_PORT"
		while read -r _a; do fed_analyst_conf "$D" "$_a"; done \
		    <"$D/analysts" ;;
	serve)		# NODE... [VAR=VALUE...]
		_env=""
		for _m in "$@"; do
			case $_m in
			CAIRN_NODE_*=*) _env="$_env $_m" ;;
			*=*) notok "$C: serve $_m: only CAIRN_NODE_* test settings"
				return 1 ;;
			esac
		done
		for _m in "$@"; do
			case $_m in *=*) continue ;; esac
			# shellcheck disable=SC2086
			case_start_node "$_m" $_env || return 1
		done ;;
	stop)		# NAME...
		case_stop TERM "$@" ;;
	kill)		# NAME SIGNAL
		case_stop "$2" "$1" ;;
	run)		# NAME PROGRAM ARG...: cairn, cairn-node or
			# cairn-coordinator, in the case's folder
		_rn=$1; shift
		case $1 in
		cairn|cairn-node|cairn-coordinator) ;;
		*) notok "$C: run $_rn: '$1' is not cairn, cairn-node or cairn-coordinator"
			return 1 ;;
		esac
		_prog=$CAIRN_BIN/$1; shift
		mkdir -p "$D/run"
		(cd "$D" && exec timeout 60 "$_prog" "$@") \
		    >"$D/run/$_rn.out" 2>"$D/run/$_rn.err"
		echo $? >"$D/run/$_rn.rc" ;;
	sha256)		# VARIABLE FILE: $VARIABLE is FILE's SHA-256 in the
			# lines after this one
		case $1 in
		SHA_*[!A-Za-z0-9_]*|SHA_) notok "$C: sha256 '$1': not a SHA_NAME"
			return 1 ;;
		SHA_*) ;;
		*) notok "$C: sha256 '$1': not a SHA_NAME"; return 1 ;;
		esac
		_h=$(sha256sum "$(case_path "$2")") ||
			{ notok "$C: sha256 $2"; return 1; }
		eval "$1=\${_h%% *}" ;;
	backup)		# NODE NAME: copy its ledger.db (stop it first)
		cp "$D/$1/data/ledger.db" "$D/$1-$2.db" ||
			{ notok "$C: backup $1 $2"; return 1; } ;;
	online-backup)	# NODE NAME: `cairn-node backup` while it serves; its
			# ledger copy is what `restore NODE NAME` puts back
		rm -rf "$D/$1-$2.bak"
		"$NODE" backup -c "$D/$1.conf" "$D/$1-$2.bak" >"$T/out" 2>&1 &&
		    cp "$D/$1-$2.bak/ledger.db" "$D/$1-$2.db" ||
			{ notok "$C: online-backup $1 $2"; return 1; } ;;
	restore)	# NODE NAME: put that copy back (it is stopped)
		rm -f "$D/$1/data/ledger.db-wal" "$D/$1/data/ledger.db-shm"
		cp "$D/$1-$2.db" "$D/$1/data/ledger.db" ||
			{ notok "$C: restore $1 $2"; return 1; } ;;
	wipe)		# NODE: delete its ledger (it is stopped)
		rm -f "$D/$1/data/ledger.db-wal" "$D/$1/data/ledger.db-shm" \
		    "$D/$1/data/ledger.db" ;;
	query)		# ID KEY=VALUE...
		case_query "$@" ;;
	reject)		# ID PATTERN KEY=VALUE...
		case_reject "$@" ;;
	wire)		# ID KEY=VALUE...
		case_wire "$@" ;;
	wire-start)	# ID KEY=VALUE...
		case_wire_start "$@" ;;
	expect)		# KIND ARGS...
		case_expect "$@" ;;
	await)		# SOURCE PATTERN [SECONDS [N]]
		case_await "$@" ;;
	sleep)		# SECONDS
		sleep "$1" ;;
	*)
		notok "$C: unknown line '$_v'"; return 1 ;;
	esac
}

# case_include FILE: FILE with each line "include NAME" replaced by the
# lines of NAME (next to FILE), or by "include-missing NAME" if there is no
# such file.
case_include() {
	awk -v dir="$(dirname "$1")" '$1 == "include" && NF == 2 {
		f = dir "/" $2; got = 0
		while ((getline l < f) > 0) { print l; got = 1 }
		close(f)
		if (!got) print "include-missing " $2
		next }
	    { print }' "$1"
}

# case_run FILE: one case in its own folder $T/NAME; "file", "policy" and
# "data" blocks run to a line "end" (a policy or data block naming several
# nodes is each one's), any other line is split into shell words.  A line
# that cannot set the federation up ends the case.
case_run() {
	C=$(basename "$1" .case)
	D=$T/$C
	mkdir -p "$D/q"
	_blk=""
	_also=""
	case_include "$1" >"$D/case"
	# The file on descriptor 3: the programs run get /dev/null.
	exec 3<"$D/case" </dev/null
	while IFS= read -r _line <&3 || [ -n "$_line" ]; do
		if [ -n "$_blk" ]; then
			if [ "$_line" != end ]; then
				printf '%s\n' "$_line" >>"$_blk"
				continue
			fi
			for _f in $_also; do cp "$_blk" "$_f"; done
			_blk=""
			_also=""
			continue
		fi
		case $_line in ''|'#'*) continue ;; esac
		eval "set -- $_line"
		case $1 in
		file)	_blk=$(case_path "$2"); : >"$_blk"; continue ;;
		policy|data)
			_ext=policy
			[ "$1" = data ] && _ext=extra
			shift
			_blk=$D/$1.$_ext; : >"$_blk"; shift
			for _m in "$@"; do _also="$_also $D/$_m.$_ext"; done
			continue ;;
		include-missing)
			notok "$C: include $2: no such file next to the case"
			break ;;
		esac
		# A source read for this line can serve the next one only.
		_PREV_SRC=${_LAST_SRC:-}
		_LAST_SRC=""
		case $1 in expect|await) ;; *) _PREV_SRC="" ;; esac
		# What a failed line shows: its own output only.
		: >"$T/out"
		# shellcheck disable=SC2034	# read by notok (tap.sh)
		TAP_SHOW=$T/out
		case_line "$@" || break
	done
	exec 3<&-
	for _p in $(cat "$D/pids" 2>/dev/null); do
		kill "$_p" 2>/dev/null; wait "$_p" 2>/dev/null
	done
	: >"$D/pids"
}

[ $# -gt 0 ] || set -- "$CAIRN_TOP"/tests/e2e/cases/*.case
for f in "$@"; do
	# Each case in a subshell (its FED_* settings stay its own); the
	# counts come back through a file.
	rm -f "$T/counts"
	(
		fails=0
		case_run "$f"
		echo "$n $fails" >"$T/counts"
	)
	if [ -f "$T/counts" ]; then
		read -r n _f <"$T/counts"
		fails=$((fails + _f))
	else
		notok "$(basename "$f" .case): the runner stopped"
	fi
done
echo "1..$n"
tap_done
