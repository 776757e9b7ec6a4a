#!/bin/sh
# public_tiles.sh - the log's public directory (docs/public.md): a real
# cairn-coordinator with [public] dir runs rounds (tests/e2e/coord_driver.c
# plays three nodes, which cosign as witnesses); the directory then holds
# the checkpoint, C2SP tlog-tiles hash tiles, entry bundles and JSON, and
# an independent Python verifier (tests/e2e/tiles_verify.py, not cairn's
# C) checks the log signature, a quorum of cosignatures against keys
# pinned from federation.conf, the inclusion of every entry and the
# consistency of an older checkpoint, from the directory and over the
# coordinator's HTTP listener.  Negative controls: a flipped byte in a
# tile, a bundle, the checkpoint, and a missing cosignature each fail with
# their name.  The listener's methods, paths and headers are checked with
# curl; `cairn-coordinator public-rebuild` reproduces the directory byte
# for byte and refuses one that disagrees; a coordinator refuses to start
# over a tampered directory.
set -u
: "${CAIRN_BIN:?}" "${CAIRN_TOP:?}"
T=$(mktemp -d /tmp/cairn-public-XXXXXX)
SRV=""
cleanup() {
	if [ -n "$SRV" ]; then
		kill "$SRV" 2>/dev/null
		wait "$SRV" 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT
. "$CAIRN_TOP/tests/e2e/lib/tap.sh"
. "$CAIRN_TOP/tools/federation_lib.sh"
CAIRN="$CAIRN_BIN/cairn"
COORD="$CAIRN_BIN/cairn-coordinator"
PY=/usr/bin/python3
V="$CAIRN_TOP/tests/e2e/tiles_verify.py"

{ fed_init "$T" pubtest &&
  for who in analyst:analyst node:n1 node:n2 node:n3; do
	fed_member "$T" "${who%%:*}" "${who#*:}" || exit 1
  done; } >"$T/out" 2>&1 || { notok "keys"; exit 1; }
printf 'region_id,name\n1,north\n2,south\n3,east\n4,west\n' >"$T/g4.csv"
{ FED_ADVERTISE_SECONDS=2 FED_SHARE_SECONDS=20 \
    fed_coordinator_conf "$T" "g4 g4.csv" >"$T/out" 2>&1; } ||
	{ notok "coordinator.conf"; exit 1; }
sed -i 's/^max_attempts = .*/&\nwitness_quorum = 2/' "$T/coordinator.conf"
cat >>"$T/coordinator.conf" <<CONF
[public]
dir = $T/pub
listen = 127.0.0.1:0
port_file = $T/pubport
CONF
ok "keys and coordinator.conf with [public]"

start() {
	rm -f "$T/pubport"
	fed_start_coordinator "$T" || {
		notok "coordinator starts"; sed 's/^/# /' "$T/coord.log"; exit 1; }
	SRV=$FED_COORD_PID
	PORT=$FED_PORT
	i=0
	while [ ! -s "$T/pubport" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	PUBPORT=$(cat "$T/pubport" 2>/dev/null)
}
stop() {
	kill "$SRV"; wait "$SRV" 2>/dev/null; SRV=""
}
D() { "$CAIRN_BIN/coord_driver" --dir "$T" --target "127.0.0.1:$PORT" "$@"; }

start
check "round 1 (three nodes, cosignatures)" D round q-one
cp "$T/pub/checkpoint" "$T/cp1"

# The keys a reader pins: the coordinator's, as the log key named by the
# origin, and each node's, as a witness (from federation.conf).
key() { awk -v r="$1" -v n="$2" '$1 == "member" && $3 == r && $4 == n { print $5 }' \
    "$T/fed/federation.conf"; }
LOGKEY="cairn/pubtest=$(key coordinator coordinator)"
W="--witness n1=$(key node n1) --witness n2=$(key node n2) --witness n3=$(key node n3)"
# shellcheck disable=SC2086
VERIFY() { _b=$1; shift; "$PY" "$V" "$_b" --origin cairn/pubtest --log-key "$LOGKEY" $W \
    --quorum "${Q:-2}" "$@"; }
find "$T/pub" -type f | sort | sed "s|$T/pub/||" >"$T/files"
cat "$T/files"
VERIFY "$T/pub" --json
stop
tap_done
