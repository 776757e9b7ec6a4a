#!/bin/sh
# pin_cert.sh - clients pin the coordinator's enrolled certificate: a real
# cairn-coordinator serving a second certificate the federation CA issued
# for its own CSR (same key, name and host names, a different fingerprint)
# is refused by a node (`cairn-node serve`), by the analyst
# (`cairn query status`) and by the auditor (`cairn audit verify`), each
# naming both fingerprints; with the enrolled certificate all three work.
set -u
: "${CAIRN_BIN:?}" "${CAIRN_TOP:?}"
T=$(mktemp -d /tmp/cairn-pin-XXXXXX); echo "# $T"
NODE_PID=
cleanup() {
	[ -n "$NODE_PID" ] && kill "$NODE_PID" 2>/dev/null && wait "$NODE_PID" 2>/dev/null
	[ -n "${FED_COORD_PID:-}" ] && kill "$FED_COORD_PID" 2>/dev/null &&
	    wait "$FED_COORD_PID" 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
CAIRN="$CAIRN_BIN/cairn"
C=$CAIRN
. "$CAIRN_TOP/tests/e2e/lib/tap.sh"
. "$CAIRN_TOP/tools/federation_lib.sh"

fed_init "$T" pin &&
for m in node:alpha analyst:stats auditor:watch; do
	fed_member "$T" "${m%%:*}" "${m#*:}" || exit 1
done || { echo "not ok 1 - keys"; exit 1; }
printf 'region_id,name\n1,north\n2,south\n' >"$T/g2.csv"
printf 'cell_id,region_id\nc1,1\nc2,2\n' >"$T/cells.csv"
printf 'subscriber_id,timestamp,cell_id\n' >"$T/cdr.csv"
fed_coordinator_conf "$T" "g2 g2.csv" || { echo "not ok 1 - conf"; exit 1; }
enrolled=$("$CAIRN" keys show "$T/fed/coordinator/tls.crt" | sed -n "s/^sha256 fingerprint: //p")
"$CAIRN" keys issue --ca "$T/fed" --csr "$T/fed/coordinator/tls.csr" \
    --hosts localhost,127.0.0.1 --out "$T/fed/coordinator/other.crt" \
    >"$T/out" 2>&1
other=$("$CAIRN" keys show "$T/fed/coordinator/other.crt" | sed -n "s/^sha256 fingerprint: //p")
holds "a second certificate for the coordinator, another fingerprint" \
    '[ -n "$enrolled" ] && [ -n "$other" ] && [ "$enrolled" != "$other" ]'
sed "s|tls_cert = .*|tls_cert = $T/fed/coordinator/other.crt|" \
    "$T/coordinator.conf" >"$T/coordinator-other.conf"
mv "$T/coordinator-other.conf" "$T/coordinator.conf"
fed_start_coordinator "$T" && ok "coordinator serves the second certificate" ||
	{ notok "coordinator serves the second certificate"; tap_done; }

fed_node_conf "$T" alpha "$T/cdr.csv" "$T/cells.csv" g2 <<EOF
allow_kind = presence
allow_analyst = stats
budget_rho_per_month = 1
max_rho_per_query = 0.5
EOF
fed_analyst_conf "$T" stats
CAIRN_LOG=info "$CAIRN_BIN/cairn-node" serve -c "$T/alpha.conf" \
    >"$T/node.log" 2>&1 &
NODE_PID=$!
i=0
while [ $i -lt 100 ] && ! grep -q "is not the pinned" "$T/node.log"; do
	sleep 0.1; i=$((i + 1))
done
cp "$T/node.log" "$T/out"
has "node: refuses the coordinator's other certificate" \
    "server certificate sha256 $other is not the pinned $enrolled"
kill "$NODE_PID" 2>/dev/null; wait "$NODE_PID" 2>/dev/null; NODE_PID=

fails_with "query status: refused, naming both fingerprints" \
    "sha256 $other is not the pinned $enrolled" \
    "$CAIRN" query status --config "$T/stats.conf" q1
AV="--coordinator 127.0.0.1:$FED_PORT --ca $T/watch/ca.crt --tls-cert $T/watch/tls.crt --tls-key $T/watch/tls.key --federation $T/fed/federation.conf"
fails_with "audit verify: refused, naming both fingerprints" \
    "sha256 $other is not the pinned $enrolled" \
    "$CAIRN" audit verify $AV --quorum 0

# The enrolled certificate again: the same clients go through.
kill "$FED_COORD_PID"; wait "$FED_COORD_PID" 2>/dev/null
sed "s|tls_cert = .*|tls_cert = $T/fed/coordinator/tls.crt|" \
    "$T/coordinator.conf" >"$T/c2" && mv "$T/c2" "$T/coordinator.conf"
fed_start_coordinator "$T" || { notok "coordinator restarts"; tap_done; }
fed_analyst_conf "$T" stats
fails_with "query status: the enrolled certificate is accepted" \
    "no query 'q1'" "$CAIRN" query status --config "$T/stats.conf" q1
AV="--coordinator 127.0.0.1:$FED_PORT --ca $T/watch/ca.crt --tls-cert $T/watch/tls.crt --tls-key $T/watch/tls.key --federation $T/fed/federation.conf"
check "audit verify: the enrolled certificate is accepted" \
    "$CAIRN" audit verify $AV --quorum 0
tap_done
