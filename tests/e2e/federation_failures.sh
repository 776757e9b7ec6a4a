#!/bin/sh
# federation_failures.sh - what goes wrong, with real processes on
# loopback (the real cairn-coordinator and one `cairn-node serve`):
#   (a) a participant that is down for the whole round: the query fails on
#       its advertise deadline, `cairn query wait` exits 1 with one error
#       line, the log has a FAILURE and no RELEASE, and `cairn audit
#       verify` passes and counts them;
#   (b) one byte of a stored log entry, then one byte of the latest
#       checkpoint, changed in the coordinator's database while it is
#       stopped: after a restart `cairn audit verify` exits 1 and names the
#       entry, then the checkpoint;
#   (c) a query signed with another analyst's identity key than the one of
#       its TLS certificate's member is refused with one error line.
set -u
: "${CAIRN_BIN:?}"
T=$(mktemp -d /tmp/cairn-fedfail-XXXXXX)
SRV=""
NODE=""
cleanup() {
	for p in $NODE $SRV; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	[ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' HUP INT PIPE TERM
C="$CAIRN_BIN/cairn"
TAP_SHOW="$T/out $T/err"
. "$CAIRN_TOP/tests/e2e/lib/tap.sh"
. "$CAIRN_TOP/tools/federation_lib.sh"
CAIRN=$C

: >"$T/err"
{ fed_init "$T" fedfail &&
  for who in analyst:analyst analyst:other node:n1 node:n2; do
	fed_member "$T" "${who%%:*}" "${who#*:}" || exit 1
  done; } >"$T/out" 2>&1 || { notok "keys"; exit 1; }
ok "keys: two analysts and two nodes"

printf 'region_id,name\n1,north\n2,south\n' >"$T/g2.csv"
printf 'cell_id,region_id\nc1,1\nc2,2\n' >"$T/cells.csv"
printf 'subscriber_id,timestamp,cell_id\ns1,2026-01-10T08:00:00Z,c1\ns2,2026-01-10T09:00:00Z,c2\n' >"$T/n1.csv"
FED_ADVERTISE_SECONDS=3 FED_SHARE_SECONDS=3 FED_MAX_ATTEMPTS=1 \
    fed_coordinator_conf "$T" "g2 g2.csv" >"$T/out" 2>&1 ||
	{ notok "coordinator.conf, geography pinned"; exit 1; }

# start_coord: (re)start the coordinator, PORT its port.
start_coord() {
	fed_start_coordinator "$T" || { cp "$T/coord.log" "$T/out"; return 1; }
	SRV=$FED_COORD_PID
	PORT=$FED_PORT
}
stop_coord() {
	kill -TERM "$SRV"; wait "$SRV" 2>/dev/null; SRV=""
}
start_coord || { notok "coordinator starts"; exit 1; }
ok "coordinator serves on 127.0.0.1:$PORT"

# n1 runs; n2 is never started.
FED_CALL_DEADLINE=5 fed_node_conf "$T" n1 "$T/n1.csv" "$T/cells.csv" g2 <<CONF
allow_kind = presence
allow_analyst = analyst
budget_rho_per_month = 1
max_rho_per_query = 0.5
CONF
"$CAIRN_BIN/cairn-node" serve -c "$T/n1.conf" >"$T/n1.log" 2>&1 &
NODE=$!

# analyst_conf FILE IDENTITY_OF: the analyst's TLS identity, the identity
# key of IDENTITY_OF.
analyst_conf() {
	cat >"$1" <<CONF
[analyst]
identity_key = $T/$2/identity.key
tls_key = $T/analyst/tls.key
tls_cert = $T/analyst/tls.crt
ca_cert = $T/analyst/ca.crt
coordinator = 127.0.0.1:$PORT
federation = $T/fed/federation.conf
CONF
}
analyst_conf "$T/analyst.conf" analyst
analyst_conf "$T/forged.conf" other

# (c) A query signed with 'other''s key over 'analyst''s connection: as
# 'other' (the key file's name), then as 'analyst' (the same secret seed
# in a key file relabelled 'analyst', so only the signature is wrong).
sed 's/^name other$/name analyst/' "$T/other/identity.key" >"$T/forged.key"
chmod 600 "$T/forged.key"
sed "s|^identity_key = .*|identity_key = $T/forged.key|" "$T/forged.conf" \
    >"$T/relabelled.conf"
# forged CONF ID WHAT PATTERN
forged() {
	"$C" query submit --config "$1" --kind presence \
	    --start 2026-01-10 --end 2026-01-11 --bucket day --k 1 \
	    --geography g2 --rho 0.25 --purpose forged --participants n1,n2 \
	    --colluding 1 --id "$2" >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc -eq 1 ] && [ ! -s "$T/out" ] && [ "$(wc -l <"$T/err")" -eq 1 ] &&
	    grep -q "^cairn query: error: submit: SubmitQuery: $4" "$T/err"; then
		ok "$3: refused with one line ($(cat "$T/err"))"
	else
		echo "rc $rc" >>"$T/out"; notok "$3: refused with one line"
	fi
	"$C" query status --config "$T/analyst.conf" "$2" >"$T/out" 2>"$T/err"
	[ $? -ne 0 ] && grep -q "NOT_FOUND" "$T/err" &&
		ok "$3: the query is not in the coordinator" ||
		notok "$3: the query is not in the coordinator"
}
forged "$T/forged.conf" q-forged "another analyst's key and name" \
    "PERMISSION_DENIED: query.analyst is not the caller"
forged "$T/relabelled.conf" q-relabelled "another analyst's key, this analyst's name" \
    ".*signature"

# (a) n2 is down for the whole round.
if "$C" query submit --config "$T/analyst.conf" --kind presence \
    --start 2026-01-10 --end 2026-01-11 --bucket day --k 1 --geography g2 --rho 0.25 \
    --purpose failure-test --participants n1,n2 --colluding 1 --id q-down \
    >"$T/out" 2>"$T/err" && grep -q "^q-down log-index [0-9][0-9]*$" "$T/out"; then
	ok "q-down submitted and logged (after the MEMBER and POLICY entries)"
else
	notok "q-down submitted and logged (after the MEMBER and POLICY entries)"
fi
"$C" query wait --config "$T/analyst.conf" q-down --timeout 20 \
    >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 1 ] && grep -q "^q-down failed" "$T/out" &&
    [ "$(wc -l <"$T/err")" -eq 1 ] &&
    grep -q "^cairn query: error: wait: query 'q-down' failed$" "$T/err"; then
	ok "query wait: node down, exit 1 with one error line"
else
	echo "rc $rc" >>"$T/out"; notok "query wait: node down, exit 1 with one error line"
fi
grep -q "deadline" "$T/out" && ok "the failure names the deadline" ||
	notok "the failure names the deadline"
# One of the two nodes is down: its live peer is the only witness, so
# the auditor asks for one cosignature (the default, a majority, is 2).
AV="--federation $T/fed/federation.conf --coordinator 127.0.0.1:$PORT
    --ca $T/analyst/ca.crt --tls-cert $T/analyst/tls.crt --tls-key $T/analyst/tls.key
    --quorum 1"
# shellcheck disable=SC2086
"$C" audit verify $AV >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 0 ] && grep -Eq "^ok: .* 1 queries, .* 0 releases, 1 failures" "$T/out"; then
	ok "audit verify passes: 1 query, a FAILURE, no RELEASE"
else
	echo "rc $rc" >>"$T/out"; notok "audit verify passes: 1 query, a FAILURE, no RELEASE"
fi
SIZE=$(sed -n 's/^ok: log size \([0-9]*\),.*/\1/p' "$T/out")
kill -TERM "$NODE"; wait "$NODE" 2>/dev/null; NODE=""

# (b) One byte of the QUERY entry's signed bytes (its purpose text); the
# log opens with MEMBER and POLICY entries, so find the QUERY entry first.
stop_coord
cp "$T/coord/log.db" "$T/log.db.orig"
python3 - "$T/coord/log.db" <<'PY' >"$T/qidx" 2>"$T/out"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for idx, data in db.execute("SELECT idx, data FROM entries ORDER BY idx"):
    if b"failure-test" in bytes(data):
        break
i = bytes(data).index(b"failure-test")
b = bytearray(data)
b[i] ^= 0x20                    # 'f' -> 'F'
db.execute("UPDATE entries SET data = ? WHERE idx = ?", (bytes(b), idx))
db.commit()
print(idx)
PY
[ $? -eq 0 ] && QI=$(cat "$T/qidx") && ok "changed one byte of the QUERY entry ($QI) in log.db" ||
	{ notok "changed one byte of the QUERY entry in log.db"; exit 1; }
fails_with "the coordinator refuses to serve the changed log, naming entry $QI" \
    "log.db: entry $QI does not match its stored leaf hash" \
    "$CAIRN_BIN/cairn-coordinator" serve -c "$T/coordinator.conf"
# A coordinator that serves it anyway (a dishonest one): the auditor
# catches it.
export CAIRN_COORD_TEST_SKIP_VERIFY=1
start_coord || { notok "coordinator restarts"; exit 1; }
unset CAIRN_COORD_TEST_SKIP_VERIFY
# One of the two nodes is down: its live peer is the only witness, so
# the auditor asks for one cosignature (the default, a majority, is 2).
AV="--federation $T/fed/federation.conf --coordinator 127.0.0.1:$PORT
    --ca $T/analyst/ca.crt --tls-cert $T/analyst/tls.crt --tls-key $T/analyst/tls.key
    --quorum 1"
# shellcheck disable=SC2086
"$C" audit verify $AV >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 1 ] && grep -q "^FAIL entry $QI: QUERY 'q-down': the analyst's signature does not verify" "$T/out" &&
    grep -q "^FAILED: " "$T/out"; then
	ok "audit verify: the changed entry $QI is named"
else
	echo "rc $rc" >>"$T/out"; notok "audit verify: the changed entry $QI is named"
fi
grep -q "^FAIL entries: they do not hash to the checkpoint's root" "$T/out" &&
	ok "audit verify: the entries no longer hash to the checkpoint's root" ||
	notok "audit verify: the entries no longer hash to the checkpoint's root"

# One byte of the latest checkpoint's note (in its signature line).
stop_coord
cp "$T/log.db.orig" "$T/coord/log.db"
python3 - "$T/coord/log.db" <<'PY' >"$T/out" 2>&1
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
size, note = db.execute("SELECT size, note FROM checkpoints "
                        "ORDER BY size DESC LIMIT 1").fetchone()
note = bytes(note)
i = note.rindex(b"\n\xe2\x80\x94 ") + 5      # after "— " of the last line
i = note.index(b" ", i) + 3                  # inside the base64 signature
c = note[i:i + 1]
b = bytearray(note)
b[i] = ord("A") if c != b"A" else ord("B")
db.execute("UPDATE checkpoints SET note = ? WHERE size = ?", (bytes(b), size))
db.commit()
print(size)
PY
[ $? -eq 0 ] && CPS=$(cat "$T/out") && ok "changed one byte of checkpoint $CPS in log.db" ||
	{ notok "changed one byte of the latest checkpoint in log.db"; exit 1; }
fails_with "the coordinator refuses to serve the changed checkpoint $CPS" \
    "log.db: checkpoint of size $CPS:" \
    "$CAIRN_BIN/cairn-coordinator" serve -c "$T/coordinator.conf"
export CAIRN_COORD_TEST_SKIP_VERIFY=1
start_coord || { notok "coordinator restarts"; exit 1; }
unset CAIRN_COORD_TEST_SKIP_VERIFY
# One of the two nodes is down: its live peer is the only witness, so
# the auditor asks for one cosignature (the default, a majority, is 2).
AV="--federation $T/fed/federation.conf --coordinator 127.0.0.1:$PORT
    --ca $T/analyst/ca.crt --tls-cert $T/analyst/tls.crt --tls-key $T/analyst/tls.key
    --quorum 1"
# shellcheck disable=SC2086
"$C" audit verify $AV >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 1 ] && grep -q "^FAIL checkpoint: does not verify with the log key" "$T/out" &&
    grep -q "^FAILED: " "$T/out"; then
	ok "audit verify: the changed checkpoint is named"
else
	echo "rc $rc" >>"$T/out"; notok "audit verify: the changed checkpoint is named"
fi

# Put the original back: the log verifies again at the same size.
stop_coord
cp "$T/log.db.orig" "$T/coord/log.db"
start_coord || { notok "coordinator restarts"; exit 1; }
# One of the two nodes is down: its live peer is the only witness, so
# the auditor asks for one cosignature (the default, a majority, is 2).
AV="--federation $T/fed/federation.conf --coordinator 127.0.0.1:$PORT
    --ca $T/analyst/ca.crt --tls-cert $T/analyst/tls.crt --tls-key $T/analyst/tls.key
    --quorum 1"
# shellcheck disable=SC2086
"$C" audit verify $AV >"$T/out" 2>"$T/err"
[ $? -eq 0 ] && grep -q "^ok: log size $SIZE," "$T/out" &&
	ok "the original database verifies again (size $SIZE)" ||
	notok "the original database verifies again (size $SIZE)"
stop_coord

echo "1..$n"
[ "$fails" -eq 0 ]
