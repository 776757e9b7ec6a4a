#!/bin/sh
# attack_suite.sh - the attack suite of issue 7 against a real federation on
# loopback: the real cairn-coordinator, three `cairn-node serve` (n2 talks
# through attack_client's proxy, a malicious coordinator in front of the
# real one), analysts, an auditor, an enrolled node that takes no part, a
# certificate of the federation CA that is not enrolled, and one of another
# CA.  Each attack must be refused with its precise status, leave the log
# and the nodes' ledgers as the design says (nothing, or the FAILURE,
# REFUSAL or witness evidence it names), and a legitimate query (n1, n3)
# must still be released afterwards.  docs/security-attacks.md lists the
# attacks.  CAIRN_ATTACK_LONG=1 holds far more slow-loris connections for
# a minute (make test-long).  The last line reads
# "attacks: N refused, M accepted".
set -u
: "${CAIRN_BIN:?}"
: "${CAIRN_TOP:?}"
T=$(mktemp -d /tmp/cairn-attack-XXXXXX)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	[ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' HUP INT PIPE TERM
CAIRN="$CAIRN_BIN/cairn"
NODE="$CAIRN_BIN/cairn-node"
X="$CAIRN_BIN/attack_client"
. "$CAIRN_TOP/tests/e2e/lib/tap.sh"
. "$CAIRN_TOP/tools/federation_lib.sh"
TAP_SHOW="$T/out"
refused=0
accepted=0

# attack WHAT NEEDLE CMD...: CMD (an attack_client call) prints NEEDLE: the
# attack was refused with that status and detail.
attack() {
	d=$1; want=$2; shift 2
	"$@" >"$T/out" 2>&1
	if grep -q -- "$want" "$T/out"; then
		refused=$((refused + 1)); ok "$d"
	else
		accepted=$((accepted + 1)); notok "$d (no '$want')"
	fi
}

# ---------------------------------------------------------------- set-up
fed_init "$T" attackfed || { notok "federation CA"; tap_done; }
for who in analyst:analyst analyst:eve auditor:aud node:n1 node:n2 node:n3 \
    node:mallory; do
	fed_member "$T" "${who%%:*}" "${who#*:}" >"$T/out" 2>&1 ||
		{ notok "keys of ${who#*:}"; tap_done; }
done
# ghost: a certificate of this CA that is not enrolled in federation.conf.
{ "$CAIRN" keys new --role node --name ghost --dir "$T/ghost" &&
  "$CAIRN" keys issue --ca "$T/fed" --csr "$T/ghost/tls.csr" \
      --out "$T/ghost/tls.crt" && cp "$T/fed/ca.crt" "$T/ghost/ca.crt"; } \
    >"$T/out" 2>&1 || { notok "ghost's certificate"; tap_done; }
# rogue: an analyst of another federation, with another CA.
mkdir -p "$T/other"
{ "$CAIRN" keys init-federation --name otherfed --dir "$T/other/fed" &&
  "$CAIRN" keys new --role analyst --name analyst --dir "$T/other/rogue" &&
  "$CAIRN" keys issue --ca "$T/other/fed" --csr "$T/other/rogue/tls.csr" \
      --out "$T/other/rogue/tls.crt" &&
  cp "$T/other/fed/ca.crt" "$T/other/rogue/ca.crt"; } >"$T/out" 2>&1 ||
	{ notok "another CA's certificate"; tap_done; }
ok "keys: coordinator, 2 analysts, an auditor, 4 nodes, an unenrolled and a foreign certificate"

printf 'region_id,name\n1,north\n2,south\n' >"$T/g2.csv"
printf 'cell_id,region_id\nc1,1\nc2,2\n' >"$T/cells.csv"
for m in n1 n2 n3; do
	printf 'subscriber_id,timestamp,cell_id\n%s-a,2026-01-10T08:00:00Z,c1\n%s-b,2026-01-10T09:00:00Z,c2\n' \
	    "$m" "$m" >"$T/$m.csv"
done
FED_ADVERTISE_SECONDS=6 FED_SHARE_SECONDS=6 FED_MAX_ATTEMPTS=3 \
    fed_coordinator_conf "$T" "g2 $T/g2.csv"
# A small ASan quarantine (when built with it), so freed messages count
# once in the coordinator's peak memory.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16" \
    fed_start_coordinator "$T" || { cp "$T/coord.log" "$T/out"; notok "coordinator starts"; tap_done; }
COORD=$FED_COORD_PID
PIDS="$COORD"
TARGET="127.0.0.1:$FED_PORT"
ok "coordinator on $TARGET"

# The proxy: n2's coordinator.  Its mode file says what it does.
echo forward >"$T/mode"
mkdir -p "$T/cap"
"$X" proxy --target "$TARGET" --dir "$T/n2" --server-ca "$T/fed/ca.crt" \
    --server-cert "$T/fed/coordinator/tls.crt" \
    --server-key "$T/fed/coordinator/tls.key" \
    --log-key "$T/fed/coordinator/identity.key" --mode-file "$T/mode" \
    --capture "$T/cap" --port-file "$T/proxy.port" >"$T/proxy.log" 2>&1 &
PIDS="$PIDS $!"
i=0
while [ $i -lt 100 ] && [ ! -s "$T/proxy.port" ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$T/proxy.port" ] || { cp "$T/proxy.log" "$T/out"; notok "proxy starts"; tap_done; }
PROXY_PORT=$(cat "$T/proxy.port")

policy() {
	cat <<POL
allow_kind = presence
allow_analyst = analyst
budget_rho_per_month = 10
max_rho_per_query = 0.5
POL
}
for m in n1 n2 n3; do
	port=$FED_PORT
	[ "$m" = n2 ] && port=$PROXY_PORT
	# Four nodes are enrolled but mallory never witnesses and n2 stops
	# after the forked log: the live witnesses are n1 and n3, so the
	# quorum is set to 2 (the default, a majority, would be 3).
	policy | FED_PORT=$port FED_CALL_DEADLINE=5 FED_WITNESS_QUORUM=2 \
	    fed_node_conf "$T" "$m" "$T/$m.csv" "$T/cells.csv" g2
	CAIRN_LOG=info "$NODE" serve -c "$T/$m.conf" >"$T/$m.log" 2>&1 &
	PIDS="$PIDS $!"
	eval "PID_$m=$!"
done
fed_analyst_conf "$T" analyst
fed_analyst_conf "$T" eve
ok "nodes n1, n3 on the coordinator, n2 through the proxy on $PROXY_PORT"

# submit QID PARTICIPANTS [RHO]: the analyst submits a presence query.
submit() {
	"$CAIRN" query submit --config "$T/analyst.conf" --kind presence \
	    --start 2026-01-10 --end 2026-01-11 --bucket day --k 1 \
	    --geography g2 --rho "${3:-0.1}" --purpose "attack suite" \
	    --participants "$2" --colluding 1 --id "$1"
}
# waitq QID: wait for the query's end; its status line in $T/out.
waitq() {
	"$CAIRN" query wait --config "$T/analyst.conf" "$1" --timeout 40 \
	    >"$T/out" 2>&1
}
# legit WHAT QID: a legitimate query of n1 and n3 is released.
legit() {
	if submit "$2" n1,n3 >"$T/out" 2>&1 && waitq "$2" &&
	    grep -q "released" "$T/out"; then
		ok "$1: legitimate query $2 released"
	else
		notok "$1: legitimate query $2 released"
	fi
}
AV="--federation $T/fed/federation.conf --coordinator $TARGET
    --ca $T/aud/ca.crt --tls-cert $T/aud/tls.crt --tls-key $T/aud/tls.key
    --quorum 2"
# audit: `cairn audit verify` passes; LOGSIZE, RELEASES, FAILURES set.
audit() {
	# shellcheck disable=SC2086
	"$CAIRN" audit verify $AV >"$T/audit" 2>&1
	rc=$?
	LOGSIZE=$(sed -n 's/^ok: log size \([0-9]*\),.*/\1/p' "$T/audit")
	RELEASES=$(sed -n 's/.* \([0-9]*\) releases.*/\1/p' "$T/audit")
	FAILURES=$(sed -n 's/.* \([0-9]*\) failures.*/\1/p' "$T/audit")
	return $rc
}
# ledgers NAME: every node's charges (ledger export without the log index
# and open flag, which the nodes fill in as they follow the log).
ledgers() {
	for m in n1 n2 n3; do "$NODE" ledger export -c "$T/$m.conf"; done 2>&1 |
	    sed 's/"log_index":[^,]*,"open":[a-z]*,//' >"$T/ledgers.$1"
}
# mark: note the log size and the charges; unchanged WHAT: they are as at
# the mark.
mark() { ledgers before; audit; MARK_SIZE=$LOGSIZE; MARK_RELEASES=$RELEASES; }
unchanged() {
	if audit && [ "$LOGSIZE" = "$MARK_SIZE" ]; then
		ok "$1: no log entry (size $LOGSIZE), audit verify passes"
	else
		cp "$T/audit" "$T/out"
		notok "$1: no log entry (size $LOGSIZE, was $MARK_SIZE), audit verify passes"
	fi
	ledgers after
	if cmp -s "$T/ledgers.before" "$T/ledgers.after"; then
		ok "$1: the nodes' ledgers are unchanged"
	else
		diff "$T/ledgers.before" "$T/ledgers.after" >"$T/out"
		notok "$1: the nodes' ledgers are unchanged"
	fi
}

# q0 runs through the proxy (n2), which keeps n2's advertisement and
# share for the replays below.
if submit q0 n1,n2 >"$T/out" 2>&1 && waitq q0 && grep -q released "$T/out"; then
	ok "q0 of n1 and n2 (through the proxy) released"
else
	cat "$T/n2.log" "$T/proxy.log" >>"$T/out"; notok "q0 of n1 and n2 released"
fi
[ -s "$T/cap/advertise-q0-0.bin" ] && [ -s "$T/cap/share-q0-0-0.bin" ] &&
	ok "the proxy captured n2's advertisement and share of q0" ||
	notok "the proxy captured n2's advertisement and share of q0"

# ------------------------------------------------ who may call what
mark
ALL="SubmitQuery GetQuery GetResult ListQueries PollTask Refuse Advertise GetRoster SubmitShare Cosign GetCheckpoint GetEntries GetInclusionProof GetConsistencyProof"
# methods_refused WHAT STATUS NEEDLE METHODS -- ARGS: each of METHODS
# answers "Method: STATUS: ...NEEDLE..." when called with ARGS.
methods_refused() {
	d=$1; st=$2; needle=$3; ms=$4; shift 5
	"$X" methods --target "$TARGET" "$@" >"$T/methods" 2>&1
	for m in $ms; do
		if grep -q "^$m: $st: .*$needle" "$T/methods"; then
			refused=$((refused + 1)); ok "$d: $m refused with $st"
		else
			accepted=$((accepted + 1))
			grep "^$m:" "$T/methods" >"$T/out"
			notok "$d: $m refused with $st"
		fi
	done
}
methods_refused "no client certificate" UNAVAILABLE "" "$ALL" -- \
    --dir "$T/analyst" --no-cert
methods_refused "a certificate of another CA" UNAVAILABLE "" "$ALL" -- \
    --dir "$T/other/rogue" --ca "$T/fed/ca.crt"
methods_refused "an unenrolled certificate of the federation CA" \
    PERMISSION_DENIED "ghost" "$ALL" -- --dir "$T/ghost"
methods_refused "a node on analyst methods" PERMISSION_DENIED \
    "may not be called by node mallory" \
    "SubmitQuery GetQuery GetResult ListQueries" -- --dir "$T/mallory"
methods_refused "an analyst on node methods" PERMISSION_DENIED \
    "may not be called by analyst analyst" \
    "PollTask Refuse Advertise GetRoster SubmitShare Cosign" -- \
    --dir "$T/analyst"
mkdir -m 700 "$T/coordid"
cp "$T/fed/coordinator/tls.crt" "$T/fed/coordinator/tls.key" "$T/fed/ca.crt" \
    "$T/coordid/"
methods_refused "the coordinator's certificate on member methods" \
    PERMISSION_DENIED "may not be called by coordinator" \
    "SubmitQuery GetQuery GetResult ListQueries PollTask Refuse Advertise GetRoster SubmitShare Cosign" \
    -- --dir "$T/coordid"
methods_refused "the auditor on writes" PERMISSION_DENIED \
    "may not be called by auditor aud" \
    "SubmitQuery GetQuery GetResult ListQueries PollTask Refuse Advertise GetRoster SubmitShare Cosign" \
    -- --dir "$T/aud"
"$X" methods --target "$TARGET" --dir "$T/aud" >"$T/out" 2>&1
has "the auditor still reads the log" "^GetCheckpoint: OK"
# Paths no handler serves: UNIMPLEMENTED at once (the calls' deadline is
# 30 s; gRPC used to hold them that long), naming at most 64 bytes.
attack "the health check of another service: UNIMPLEMENTED" \
    "^/grpc.health.v1.Health/Check: UNIMPLEMENTED: unknown method '/grpc.health.v1.Health/Check'$" \
    "$X" call --target "$TARGET" --dir "$T/analyst" \
    --path /grpc.health.v1.Health/Check
attack "a misspelt method: UNIMPLEMENTED" \
    "UNIMPLEMENTED: unknown method '/cairn.v1.Coordinator/GetCheckpoints'$" \
    "$X" call --target "$TARGET" --dir "$T/aud" \
    --path /cairn.v1.Coordinator/GetCheckpoints
attack "a method of 4000 bytes: UNIMPLEMENTED, 64 of them named" \
    "UNIMPLEMENTED: unknown method '/xA*' (cut)$" \
    "$X" call --target "$TARGET" --dir "$T/ghost" --path-bytes 4000
has "the 4000-byte method is not echoed whole" "^detail length: 8[0-9]$"
has "the coordinator logs the unenrolled caller" \
    "PollTask by node ghost refused: .*not a member" "$T/coord.log"
unchanged "wrong callers"
legit "after the wrong callers" q1

# ------------------------------------------------------------ replays
mark
attack "q0's signed query replayed by its analyst: ALREADY_EXISTS" \
    "SubmitQuery: ALREADY_EXISTS: query 'q0' was submitted already (a replay)" \
    "$X" resubmit --target "$TARGET" --dir "$T/analyst" --index 0
attack "q0's signed query replayed by another analyst: PERMISSION_DENIED" \
    "SubmitQuery: PERMISSION_DENIED: query.analyst is not the caller" \
    "$X" resubmit --target "$TARGET" --dir "$T/eve" --index 0
attack "q0's id with other bytes: ALREADY_EXISTS" \
    "ALREADY_EXISTS: query id 'q0' is taken" submit q0 n1,n3 0.2
attack "n2's advertisement of q0 replayed after the release" \
    "Advertise: FAILED_PRECONDITION: query 'q0' has no open attempt" \
    "$X" replay --target "$TARGET" --dir "$T/n2" --method Advertise \
    "$T/cap/advertise-q0-0.bin"
attack "n2's share of q0 replayed after the release" \
    "SubmitShare: FAILED_PRECONDITION: query 'q0' has no open attempt" \
    "$X" replay --target "$TARGET" --dir "$T/n2" --method SubmitShare \
    "$T/cap/share-q0-0-0.bin"
attack "n2's advertisement sent by n1: UNAUTHENTICATED" \
    "Advertise: UNAUTHENTICATED: the advertisement's signature does not verify with node n1's key" \
    "$X" replay --target "$TARGET" --dir "$T/n1" --method Advertise \
    "$T/cap/advertise-q0-0.bin"
unchanged "replays"
legit "after the replays" q2

# ------------------------------------------- shares for the wrong round
# The proxy holds n2's share of q3 back: q3 waits in its share phase.
mark
echo hold-share >"$T/mode"
submit q3 n1,n2 >"$T/out" 2>&1 || notok "q3 submitted"
i=0
while [ $i -lt 100 ] && [ ! -s "$T/cap/share-q3-0-0.bin" ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$T/cap/share-q3-0-0.bin" ] && ok "q3: the proxy held n2's share back" ||
	notok "q3: the proxy held n2's share back"
echo forward >"$T/mode"
K="$T/n2/identity.key"
attack "q0's share (its session id) re-signed for q3: INVALID_ARGUMENT" \
    "SubmitShare: INVALID_ARGUMENT: the manifest does not fit the round" \
    "$X" forge-share --target "$TARGET" --dir "$T/n2" --identity "$K" \
    --query-id q3 "$T/cap/share-q0-0-0.bin"
attack "q3's share for attempt 1 while attempt 0 is open: FAILED_PRECONDITION" \
    "SubmitShare: FAILED_PRECONDITION: no share phase of attempt 1" \
    "$X" forge-share --target "$TARGET" --dir "$T/n2" --identity "$K" \
    --attempt 1 "$T/cap/share-q3-0-0.bin"
attack "q3's share re-signed for the released q0: FAILED_PRECONDITION" \
    "SubmitShare: FAILED_PRECONDITION: query 'q0' has no open attempt" \
    "$X" forge-share --target "$TARGET" --dir "$T/n2" --identity "$K" \
    --query-id q0 "$T/cap/share-q3-0-0.bin"
attack "q3's share with a manifest of 10^8 cells: INVALID_ARGUMENT" \
    "SubmitShare: INVALID_ARGUMENT: the manifest does not fit the round" \
    "$X" forge-share --target "$TARGET" --dir "$T/n2" --identity "$K" \
    --manifest-cells 100000000 "$T/cap/share-q3-0-0.bin"
attack "q3's share chunk with 1000 cells too many: INVALID_ARGUMENT" \
    "SubmitShare: INVALID_ARGUMENT: chunk 0 at offset 0 with .* cells is outside the manifest" \
    "$X" forge-share --target "$TARGET" --dir "$T/n2" --identity "$K" \
    --extra-cells 1000 "$T/cap/share-q3-0-0.bin"
attack "q3's share sent by n1: UNAUTHENTICATED" \
    "SubmitShare: UNAUTHENTICATED: the share manifest's signature does not verify with node n1's key" \
    "$X" replay --target "$TARGET" --dir "$T/n1" --method SubmitShare \
    "$T/cap/share-q3-0-0.bin"
# n2's real share, delivered late, still completes q3.
"$X" replay --target "$TARGET" --dir "$T/n2" --method SubmitShare \
    "$T/cap/share-q3-0-0.bin" >"$T/out" 2>&1
has "q3: n2's held share, delivered late, is taken" "^SubmitShare: OK"
waitq q3
has "q3 released despite the forged shares" "released"
attack "q3's share replayed after the release" \
    "SubmitShare: FAILED_PRECONDITION: query 'q3' has no open attempt" \
    "$X" replay --target "$TARGET" --dir "$T/n2" --method SubmitShare \
    "$T/cap/share-q3-0-0.bin"
audit
[ "$FAILURES" -eq 0 ] && ok "wrong-round shares: no FAILURE logged" ||
	{ cp "$T/audit" "$T/out"; notok "wrong-round shares: no FAILURE logged"; }
legit "after the wrong-round shares" q4

# --------------------------------------------------- oversized messages
mark
# Under AddressSanitizer, shadow memory, redzones and the quarantine add
# to the peak (a client's peak reached 425 MiB under ASan in a fresh-clone
# CI run), so the bound there only catches unbounded growth.
HWM_MAX=262144
if ldd "$CAIRN_BIN/cairn-coordinator" 2>/dev/null | grep -q libasan; then
	HWM_MAX=655360
fi
hwm() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$COORD/status"; }
H0=$(hwm)
# Two 256 MiB messages at once: gRPC reads a message whole before it
# checks its size, so only the server's memory quota (128 MiB) bounds
# what they cost.
"$X" oversize --target "$TARGET" --dir "$T/n1" --method SubmitShare \
    --bytes 268435456 >"$T/big1" 2>&1 &
B1=$!
attack "a 256 MiB SubmitShare: RESOURCE_EXHAUSTED" \
    "SubmitShare: RESOURCE_EXHAUSTED" \
    "$X" oversize --target "$TARGET" --dir "$T/n3" --method SubmitShare \
    --bytes 268435456
wait $B1
attack "another 256 MiB SubmitShare at the same time: RESOURCE_EXHAUSTED" \
    "SubmitShare: RESOURCE_EXHAUSTED" cat "$T/big1"
attack "a 16 MiB GetEntries: RESOURCE_EXHAUSTED" \
    "GetEntries: RESOURCE_EXHAUSTED" \
    "$X" oversize --target "$TARGET" --dir "$T/aud" --method GetEntries \
    --bytes 16777216
H1=$(hwm)
if [ $((H1 - H0)) -lt "$HWM_MAX" ]; then
	ok "the coordinator's peak memory grew by $((H1 - H0)) kB for 528 MiB sent (under $((HWM_MAX / 1024)) MiB: its 128 MiB quota holds)"
else
	notok "the coordinator's peak memory grew by $((H1 - H0)) kB for 528 MiB sent"
fi
attack "a 1 MiB SubmitQuery (the limit is 256 KiB): RESOURCE_EXHAUSTED" \
    "SubmitQuery: RESOURCE_EXHAUSTED" \
    "$X" oversize --target "$TARGET" --dir "$T/analyst" --method SubmitQuery \
    --bytes 1048576
attack "a 300 KiB Advertise: RESOURCE_EXHAUSTED" \
    "Advertise: RESOURCE_EXHAUSTED" \
    "$X" oversize --target "$TARGET" --dir "$T/n1" --method Advertise \
    --bytes 307200
unchanged "oversized messages"
legit "after the oversized messages" q5

# ------------------------------------------------------------ gzip bombs
# About 1 MiB of gzip that inflates to 1 GiB.  gRPC would inflate it whole
# before any size check and before the handler authorizes the caller; every
# cairn server and client enables no compression and refuses a compressed
# message before inflating it.  The peak memory is reset first (clear_refs)
# where the kernel allows, so that earlier attacks do not hide the growth.
mark
GZ_MAX=65536
if ldd "$CAIRN_BIN/cairn-coordinator" 2>/dev/null | grep -q libasan; then
	GZ_MAX=262144
fi
GZ_NEEDLE="Compression algorithm 'gzip' is disabled\\|compressed messages are refused"
{ echo 5 >"/proc/$COORD/clear_refs"; } 2>/dev/null
H0=$(hwm)
"$X" gzip --target "$TARGET" --dir "$T/ghost" --method GetCheckpoint \
    --calls 3 >"$T/gz" 2>&1
H1=$(hwm)
if [ "$(grep -c "^GetCheckpoint: UNIMPLEMENTED: Compression algorithm 'gzip' is disabled" "$T/gz")" -eq 3 ]; then
	refused=$((refused + 1)); ok "three gzip bombs to GetCheckpoint from a non-member at once: UNIMPLEMENTED"
else
	accepted=$((accepted + 1)); cp "$T/gz" "$T/out"
	notok "three gzip bombs to GetCheckpoint from a non-member at once: UNIMPLEMENTED"
fi
if [ $((H1 - H0)) -lt "$GZ_MAX" ]; then
	ok "the coordinator's peak memory grew by $((H1 - H0)) kB from $H0 kB for 3 GiB of gzip bombs (under $((GZ_MAX / 1024)) MiB: nothing inflated)"
else
	notok "the coordinator's peak memory grew by $((H1 - H0)) kB for 3 GiB of gzip bombs"
fi
unchanged "gzip bombs"
# The mirror: a fake coordinator with the coordinator's certificate that
# replies to every call with a gzip bomb.
"$X" gzip-server --server-ca "$T/fed/ca.crt" \
    --server-cert "$T/fed/coordinator/tls.crt" \
    --server-key "$T/fed/coordinator/tls.key" --port-file "$T/gz.port" \
    >"$T/gz.log" 2>&1 &
GZS=$!
PIDS="$PIDS $GZS"
i=0
while [ $i -lt 100 ] && [ ! -s "$T/gz.port" ]; do sleep 0.1; i=$((i + 1)); done
GZ_PORT=$(cat "$T/gz.port" 2>/dev/null)
# cairn's transport client, on every method.
"$X" methods --target "127.0.0.1:$GZ_PORT" --dir "$T/aud" \
    --timeout-ms 20000 >"$T/gz" 2>&1
NM=$(grep -c "^[A-Za-z]*: " "$T/gz")
if [ "$NM" -ge 14 ] &&
    [ "$(grep -c "^[A-Za-z]*: .*\($GZ_NEEDLE\)" "$T/gz")" -eq "$NM" ]; then
	refused=$((refused + 1)); ok "gzip bomb replies: the transport client refuses them on all $NM methods"
else
	accepted=$((accepted + 1)); cp "$T/gz" "$T/out"
	notok "gzip bomb replies: the transport client refuses them on every method"
fi
PEAK=$(sed -n 's/^peak memory: \([0-9]*\) kB/\1/p' "$T/gz")
holds "the transport client's peak memory was $PEAK kB for $NM gzip bomb replies (under $((GZ_MAX / 1024)) MiB)" \
    '[ -n "$PEAK" ] && [ "$PEAK" -lt "$GZ_MAX" ]'
# `cairn query` (an analyst).
FED_PORT=$GZ_PORT fed_analyst_conf "$T" analyst "$T/gz-analyst.conf"
"$X" peak "$CAIRN" query status --config "$T/gz-analyst.conf" q0 \
    >"$T/gz" 2>&1
PEAK=$(sed -n 's/^peak memory: \([0-9]*\) kB/\1/p' "$T/gz")
attack "gzip bomb reply to \`cairn query status\`: refused" \
    "^cairn query: error: status: GetQuery: .*\($GZ_NEEDLE\)" cat "$T/gz"
holds "\`cairn query\`'s peak memory was $PEAK kB for the gzip bomb reply (under $((GZ_MAX / 1024)) MiB)" \
    '[ -n "$PEAK" ] && [ "$PEAK" -lt "$GZ_MAX" ]'
# A real node (mallory, enrolled, in no query) whose coordinator it is.
policy | FED_PORT=$GZ_PORT FED_CALL_DEADLINE=5 fed_node_conf "$T" mallory \
    "$T/n1.csv" "$T/cells.csv" g2
# The log exists before the node starts: the wait below greps it at once.
: >"$T/mallory.log"
CAIRN_LOG=info "$NODE" serve -c "$T/mallory.conf" >"$T/mallory.log" 2>&1 &
GZN=$!
i=0
# It retries whichever call it is at (before its first task a node reads
# the checkpoint and its own CHARGE entries from the log, then polls).
GZ_CALLS='\(PollTask\|GetCheckpoint\)'
while [ $i -lt 150 ] && [ "$(grep -c "$GZ_CALLS: .*\($GZ_NEEDLE\)" "$T/mallory.log")" -lt 2 ]; do
	sleep 0.1; i=$((i + 1))
done
PEAK=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$GZN/status" 2>/dev/null)
cp "$T/mallory.log" "$T/out"
if [ "$(grep -c "$GZ_CALLS: .*\($GZ_NEEDLE\)" "$T/out")" -ge 2 ] &&
    kill -0 "$GZN" 2>/dev/null; then
	refused=$((refused + 1)); ok "gzip bomb replies to a node: refused, and it keeps retrying"
else
	accepted=$((accepted + 1)); notok "gzip bomb replies to a node: refused, and it keeps retrying"
fi
holds "the node's peak memory was $PEAK kB after the gzip bomb replies (under $((GZ_MAX / 1024)) MiB)" \
    '[ -n "$PEAK" ] && [ "$PEAK" -lt "$GZ_MAX" ]'
kill "$GZN" "$GZS" 2>/dev/null
wait "$GZN" "$GZS" 2>/dev/null
legit "after the gzip bombs" q5g

# ---------------------------------------------------------- slow-loris
# mallory (an enrolled node) also holds NP long polls: the coordinator
# holds 16 per member and refuses the rest.
if [ -n "${CAIRN_ATTACK_LONG:-}" ]; then
	NP=32; SL="--tcp 2000 --tls 500 --h2 100 --streams 256 --hold 60"
else
	NP=20; SL="--tcp 200 --tls 50 --h2 10 --streams 100 --hold 6"
fi
SL="$SL --polls $NP"
mark
# shellcheck disable=SC2086
"$X" slowloris --target "$TARGET" --dir "$T/mallory" --poll-dir "$T/mallory" \
    --probe-dir "$T/aud" --max-probe-ms 2000 $SL >"$T/slowloris" 2>&1 &
SLP=$!
sleep 2
legit "while slow-loris clients hold the coordinator" q6
wait $SLP
cp "$T/slowloris" "$T/out"
if grep -q "^probe: [0-9]* calls, 0 failed" "$T/out"; then
	refused=$((refused + 1)); ok "slow-loris: every probe answered ($(grep '^probe' "$T/out"); $(grep '^held' "$T/out"))"
else
	accepted=$((accepted + 1)); notok "slow-loris: every probe answered"
fi
if [ -n "${CAIRN_ATTACK_LONG:-}" ]; then
	has "slow-loris: every idle TCP and TLS connection closed within the minute" \
	    "^closed by the server: 2000 of 2000 tcp, 500 of 500 tls"
fi
has "slow-loris: 16 long polls of one member held, the other $((NP - 16)) refused" \
    "^polls: $NP held, $((NP - 16)) refused"
if [ "$(grep -c "^poll: PollTask: RESOURCE_EXHAUSTED: node mallory holds 16 long polls already (the limit per member, \[limits\] max_long_polls_per_member)" "$T/out")" -eq $((NP - 16)) ]; then
	refused=$((refused + 1)); ok "slow-loris: the long polls over the limit got RESOURCE_EXHAUSTED"
else
	accepted=$((accepted + 1)); notok "slow-loris: the long polls over the limit got RESOURCE_EXHAUSTED"
fi
legit "after the slow-loris clients left" q7

# ------------------------------------------------------ rosters
# The proxy drops, then duplicates, a member in n2's roster: n2 must not
# mask and says so in a signed REFUSAL; the attempt fails at once.
# Meanwhile bare TCP connections wait for the handshake timeout (10 s).
"$X" slowloris --target "$TARGET" --dir "$T/mallory" --probe-dir "$T/aud" \
    --tcp 300 --tls 50 --hold 13 >"$T/idle" 2>&1 &
IDLE=$!
roster() {
	echo "$1" >"$T/mode"
	: >"$T/out"
	submit "$2" n1,n2 >"$T/out" 2>&1
	waitq "$2"
	echo forward >"$T/mode"
	if grep -q "$2 refused" "$T/out"; then
		refused=$((refused + 1)); ok "roster $1: $2 refused"
	else
		accepted=$((accepted + 1)); notok "roster $1: $2 refused"
	fi
	has "roster $1: n2 did not mask ($3)" \
	    "query '$2' attempt 0: bad roster: $3.*not masking" "$T/n2.log"
	[ ! -e "$T/cap/share-$2-0-0.bin" ] && ok "roster $1: n2 sent no share" ||
		notok "roster $1: n2 sent no share"
	"$CAIRN" query status --config "$T/analyst.conf" "$2" >"$T/out" 2>&1
	has "roster $1: the log has n2's REFUSAL naming the bad roster" \
	    "n2.*bad roster: $3"
}
mark
roster roster-missing q8 "roster has 1 advertisements for 2 participants"
roster roster-dup q9 "roster has two advertisements from"
audit
[ "$RELEASES" = "$MARK_RELEASES" ] && ok "rosters: no RELEASE for q8, q9" ||
	{ cp "$T/audit" "$T/out"; notok "rosters: no RELEASE for q8, q9"; }
has "rosters: two REFUSAL entries logged" " 2 refusals" "$T/audit"
wait $IDLE
cp "$T/idle" "$T/out"
if grep -q "^closed by the server: 300 of 300 tcp, 50 of 50 tls" "$T/out" &&
    grep -q "^probe: [0-9]* calls, 0 failed" "$T/out"; then
	refused=$((refused + 1)); ok "300 idle TCP and 50 idle TLS connections closed by the handshake timeout, probes answered"
else
	accepted=$((accepted + 1)); notok "300 idle TCP and 50 idle TLS connections closed by the handshake timeout, probes answered"
fi
legit "after the bad rosters" q10

# --------------------------------------------------- a forked log
# The proxy serves n2 a checkpoint of the size n2 cosigned last with
# another root, signed with the log key: n2 keeps both as evidence and
# refuses every task from then on with a signed REFUSAL.  n2 asks for a
# checkpoint on its next poll; on a loaded machine that took more than the
# 10 s this loop once allowed (seen in a CI run with the demo's builds
# competing), so it waits up to 60 s.
i=0
while [ $i -lt 300 ] && ! grep -q "checkpoint refused" "$T/n2.log"; do
	echo fork >"$T/mode"; sleep 0.2; i=$((i + 1))
done
echo forward >"$T/mode"
has "fork: n2 refuses the checkpoint with a second root for its size" \
    "checkpoint refused: log 'cairn/attackfed' signed two roots for size" \
    "$T/n2.log"
"$X" evidence --witness "$T/n2/data/witness.db" --origin cairn/attackfed \
    >"$T/out" 2>&1
if grep -q "^evidence [1-9][0-9]* fork yes" "$T/out"; then
	refused=$((refused + 1)); ok "fork: n2 keeps both checkpoints as evidence ($(cat "$T/out"))"
else
	accepted=$((accepted + 1)); notok "fork: n2 keeps both checkpoints as evidence"
fi
submit q11 n1,n2 >"$T/out" 2>&1
waitq q11
if grep -q "q11 refused" "$T/out"; then
	refused=$((refused + 1)); ok "fork: n2 refuses work afterwards (q11 refused)"
else
	accepted=$((accepted + 1)); notok "fork: n2 refuses work afterwards (q11 refused)"
fi
"$CAIRN" query status --config "$T/analyst.conf" q11 >"$T/out" 2>&1
has "fork: q11's REFUSAL from n2 names the fork" "n2.*forked earlier"
legit "after the fork" q12

# ------------------------------------- an oversized reply to a node
# The proxy answers GetCheckpoint with a 256 MiB checkpoint.  A client
# (the transport nodes use) refuses it, and its memory quota bounds what
# it buffers first; n2 itself refuses it (by size or by its 5 s deadline)
# and keeps serving.
echo oversize >"$T/mode"
"$X" methods --target "127.0.0.1:$PROXY_PORT" --dir "$T/aud" \
    --timeout-ms 60000 >"$T/reply" 2>&1
attack "a 256 MiB checkpoint from the coordinator: the client refuses it" \
    "GetCheckpoint: RESOURCE_EXHAUSTED" cat "$T/reply"
PEAK=$(sed -n 's/^peak memory: \([0-9]*\) kB/\1/p' "$T/reply")
if [ -n "$PEAK" ] && [ "$PEAK" -lt "$HWM_MAX" ]; then
	ok "the client's peak memory was $PEAK kB for the 256 MiB reply (under $((HWM_MAX / 1024)) MiB: its 128 MiB quota holds)"
else
	notok "the client's peak memory was $PEAK kB for the 256 MiB reply"
fi
nhwm() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$PID_n2/status"; }
N0=$(nhwm)
i=0
while [ $i -lt 150 ] && ! grep -q "GetCheckpoint: \(RESOURCE_EXHAUSTED\|DEADLINE_EXCEEDED\)" "$T/n2.log"; do
	sleep 0.1; i=$((i + 1))
done
echo forward >"$T/mode"
N1=$(nhwm)
if grep -q "GetCheckpoint: \(RESOURCE_EXHAUSTED\|DEADLINE_EXCEEDED\)" "$T/n2.log" &&
    [ $((N1 - N0)) -lt "$HWM_MAX" ]; then
	refused=$((refused + 1)); ok "n2 refuses the 256 MiB checkpoint; its peak memory grew by $((N1 - N0)) kB"
else
	accepted=$((accepted + 1)); cp "$T/n2.log" "$T/out"
	notok "n2 refuses the 256 MiB checkpoint (peak memory grew by $((N1 - N0)) kB)"
fi
legit "after the oversized reply" q13

audit && ok "audit verify passes after every attack ($(head -1 "$T/audit"))" ||
	{ cp "$T/audit" "$T/out"; notok "audit verify passes after every attack"; }
echo "attacks: $refused refused, $accepted accepted"
tap_done
