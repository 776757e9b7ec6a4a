#!/bin/sh
# key_rotation.sh - keys over years (issue #16 item 8): `cairn keys
# rotate-member` gives node n1 a new identity key and certificate and
# `cairn keys remove-member` removes analyst eve, each in federation.conf
# while the federation runs.  The coordinator and node n2 pick the change
# up without a restart, the coordinator logs MEMBER entries, n1 (restarted
# with its new keys) takes part in the next round, its old certificate is
# refused, eve is refused from her next call, and the audit of the whole
# log passes with the membership in force at each entry, as does the
# portal's check of every signature inside it.  A federation.conf
# that does not check out is not taken and the federation keeps serving.
set -u
: "${CAIRN_BIN:?}" "${CAIRN_TOP:?}"
T=$(mktemp -d /tmp/cairn-keyrot-XXXXXX); echo "# $T"
N1_PID=
N2_PID=
cleanup() {
	for p in $N1_PID $N2_PID ${FED_COORD_PID:-}; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
CAIRN="$CAIRN_BIN/cairn"
TAP_SHOW="$T/out"
. "$CAIRN_TOP/tests/e2e/lib/tap.sh"
. "$CAIRN_TOP/tools/federation_lib.sh"

# wait_for FILE PATTERN: up to 20 s for PATTERN in FILE.
wait_for() {
	_i=0
	while [ $_i -lt 200 ] && ! grep -q -- "$2" "$1" 2>/dev/null; do
		sleep 0.1; _i=$((_i + 1))
	done
	grep -q -- "$2" "$1" 2>/dev/null
}

start_node() {
	CAIRN_LOG=info "$CAIRN_BIN/cairn-node" serve -c "$T/$1.conf" \
	    >>"$T/$1.log" 2>&1 &
	eval "${2}_PID=$!"
}

# query ID: submit a presence query as nso and wait for its end.
query() {
	"$CAIRN" query submit --config "$T/nso.conf" --spec "$T/spec.json" \
	    --geography g4 --rho 0.3 --purpose "key rotation test" \
	    --participants n1,n2 --colluding 0 --id "$1" >"$T/out" 2>&1 &&
	"$CAIRN" query wait "$1" --config "$T/nso.conf" --timeout 60 \
	    >>"$T/out" 2>&1
}

fed_init "$T" keyrot || { echo "not ok 1 - federation"; exit 1; }
for m in node:n1 node:n2 analyst:nso analyst:eve auditor:watch; do
	fed_member "$T" "${m%%:*}" "${m#*:}" ||
	    { echo "not ok 1 - keys for ${m#*:}"; exit 1; }
done
printf 'region_id,name\n1,north\n2,south\n3,east\n4,west\n' >"$T/g4.csv"
printf 'cell_id,region_id\nc1,1\nc2,2\nc3,3\nc4,4\n' >"$T/cells.csv"
printf 'subscriber_id,timestamp,cell_id\ns1,2026-01-10T08:00:00Z,c1\ns2,2026-01-10T09:00:00Z,c2\n' >"$T/n1.csv"
printf 'subscriber_id,timestamp,cell_id\nt1,2026-01-10T08:00:00Z,c3\nt2,2026-01-10T12:00:00Z,c1\n' >"$T/n2.csv"
echo '{"kind":"presence","start":"2026-01-10","end":"2026-01-11","bucket":"day","k":1}' >"$T/spec.json"
FED_ADVERTISE_SECONDS=10 FED_SHARE_SECONDS=10 fed_coordinator_conf "$T" \
    "g4 g4.csv" || { echo "not ok 1 - coordinator.conf"; exit 1; }
# The log's public files, for the portal's check of the signatures inside
# the entries at the end.
printf '[public]\ndir = %s\n' "$T/public" >>"$T/coordinator.conf"
fed_start_coordinator "$T" && ok "the coordinator starts" ||
	{ notok "the coordinator starts"; tap_done; }
for nd in n1 n2; do
	fed_node_conf "$T" $nd "$T/$nd.csv" "$T/cells.csv" g4 <<EOF
allow_kind = presence
allow_analyst = nso, eve
budget_rho_per_month = 10
max_rho_per_query = 0.5
EOF
done
fed_analyst_conf "$T" nso
fed_analyst_conf "$T" eve
start_node n1 N1
start_node n2 N2
query q1
holds "q1 released with the first keys" 'grep -q released "$T/out"'
"$CAIRN" query status --config "$T/eve.conf" nosuch >"$T/out" 2>&1
has "eve is a member before her removal" "no query 'nosuch'"

# Rotation: n1's new keys, its certificate issued, federation.conf changed.
"$CAIRN" keys new --role node --name n1 --dir "$T/n1new" >/dev/null &&
"$CAIRN" keys issue --ca "$T/fed" --csr "$T/n1new/tls.csr" \
    --out "$T/n1new/tls.crt" >/dev/null && cp "$T/fed/ca.crt" "$T/n1new/"
check "rotate-member replaces n1's keys in federation.conf" \
    "$CAIRN" keys rotate-member --ca "$T/fed" --pub "$T/n1new/identity.pub" \
    --cert "$T/n1new/tls.crt"
has "it says what it did" "rotated node/n1 in .*federation.conf (certificate "
holds "the coordinator reloads and logs the change" \
    'wait_for "$T/coord.log" "reloaded: 2 membership change(s) logged"'
holds "MEMBER removed and added for n1, in that order" \
    'grep -q "MEMBER removed node/n1 logged" "$T/coord.log" && grep -q "MEMBER added node/n1 logged" "$T/coord.log"'
holds "n2 reloads without a restart" \
    'wait_for "$T/n2.log" "federation.conf reloaded: 6 members"'
holds "n1 with its old keys is told why it is not taken" \
    'wait_for "$T/n1.log" "does not list node .n1. with this node.s identity key"'
# Its calls with the old certificate are refused by the coordinator.
holds "n1's old certificate is refused by the coordinator" \
    'wait_for "$T/n1.log" "is not the one enrolled in federation.conf"'
kill "$N1_PID"; wait "$N1_PID" 2>/dev/null; N1_PID=
"$CAIRN_BIN/cairn-node" serve -c "$T/n1.conf" >"$T/out" 2>&1
has "n1 does not start with its old keys" \
    "does not list node 'n1' with this identity key"
sed -e "s|$T/n1/identity.key|$T/n1new/identity.key|" \
    -e "s|$T/n1/tls.key|$T/n1new/tls.key|" \
    -e "s|$T/n1/tls.crt|$T/n1new/tls.crt|" "$T/n1.conf" >"$T/n1.tmp" &&
    mv "$T/n1.tmp" "$T/n1.conf"
start_node n1 N1
query q2
holds "q2 released: n1 takes part with its new keys" 'grep -q released "$T/out"'

# Removal: eve out of federation.conf; refused from her next call.
check "remove-member removes eve" \
    "$CAIRN" keys remove-member --ca "$T/fed" --role analyst --name eve
holds "the coordinator logs eve's removal" \
    'wait_for "$T/coord.log" "MEMBER removed analyst/eve logged"'
fails_with "eve is refused from her next call" \
    "analyst eve is not a member of federation keyrot" \
    "$CAIRN" query status --config "$T/eve.conf" nosuch
fails_with "eve cannot submit either" "not a member" \
    "$CAIRN" query submit --config "$T/eve.conf" --spec "$T/spec.json" \
    --geography g4 --rho 0.3 --purpose x --participants n1,n2 --colluding 0 \
    --id qe

# What cannot be rotated or removed this way.
fails_with "the coordinator's key is not rotated by rotate-member" \
    "the coordinator's key is the log key" \
    "$CAIRN" keys remove-member --ca "$T/fed" --role coordinator \
    --name coordinator
fails_with "the same keys again are refused" "already has this identity key" \
    "$CAIRN" keys rotate-member --ca "$T/fed" --pub "$T/n1new/identity.pub" \
    --cert "$T/n1new/tls.crt"
fails_with "an unknown member is named" "no analyst 'mallory' enrolled" \
    "$CAIRN" keys remove-member --ca "$T/fed" --role analyst --name mallory

# A federation.conf that does not check out is not taken.
cp "$T/fed/federation.conf" "$T/fed.good"
printf 'member = analyst bad notbase64 nofpr\n' >>"$T/fed/federation.conf"
holds "a broken federation.conf is logged and not taken" \
    'wait_for "$T/coord.log" "federation.conf changed but is not taken"'
cp "$T/fed.good" "$T/fed/federation.conf"
query q3
holds "the federation keeps serving (q3 released)" 'grep -q released "$T/out"'

AV="--coordinator 127.0.0.1:$FED_PORT --ca $T/watch/ca.crt --tls-cert $T/watch/tls.crt --tls-key $T/watch/tls.key --federation $T/fed/federation.conf"
"$CAIRN" audit verify $AV --quorum 0 >"$T/out" 2>&1; rc=$?
holds "the audit passes over the rotation and the removal" \
    '[ $rc -eq 0 ] && grep -q "3 releases" "$T/out" && grep -q " 9 member changes" "$T/out"'

# The portal's check (tools/portal.mjs with portal/entry.js) of the same
# log: each entry's signature with its signer's key at that point of the
# log, as the MEMBER entries give it.  n1 signed q1's CHARGE with its old
# key, which federation.conf no longer lists (shown first: the rotation is
# in this log), and q2's with the new one.
cat >"$T/n1sigs.py" <<'PY'
import base64, glob, json, sys
import nacl.exceptions, nacl.signing
fed, pub = sys.argv[1:]
key = [l.split()[4] for l in open(fed) if l.split()[:4] == ["member", "=", "node", "n1"]][0]
vk = nacl.signing.VerifyKey(base64.b64decode(key))
ok = bad = 0
for p in glob.glob(pub + "/json/*.json"):
    j = json.load(open(p))
    if j["type"] != "CHARGE" or j["node_id"] != "n1":
        continue
    try:
        vk.verify(b"cairn/v1/charge\n" + base64.b64decode(j["body_base64"]),
                  base64.b64decode(j["signature"]))
        ok += 1
    except nacl.exceptions.BadSignatureError:
        bad += 1
print("n1's CHARGE entries: %d verify with its current key, %d do not" % (ok, bad))
sys.exit(0 if ok > 0 and bad > 0 else 1)
PY
check "n1's CHARGE entries: some signed with its old key, some with the new" \
    /usr/bin/python3 "$T/n1sigs.py" "$T/fed/federation.conf" "$T/public"
check "the portal verifies every signature inside the log over the rotation and the removal" \
    node "$CAIRN_TOP/tools/portal.mjs" --federation "$T/fed/federation.conf" \
    --public "$T/public" --quorum 0
has "the portal says the whole log verified" "log of [0-9]* entries verified"
tap_done
