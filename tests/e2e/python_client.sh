#!/bin/sh
# python_client.sh - the Python client (clients/python/cairn_client)
# against a live federation: the real cairn-coordinator and three real
# `cairn-node serve` on loopback.  The CLI submits and fetches one presence
# query first (q-cli: what the Python client's signing and result are
# compared with), then tests/python/test_client.py (unittest) submits,
# waits, fetches, verifies, reads budgets and checks every failure path;
# each of its tests is one TAP line here, and a skipped test fails.
set -u
: "${CAIRN_BIN:?}" "${CAIRN_TOP:?}"
PY=${CAIRN_PYTHON:-/usr/bin/python3}
T=$(mktemp -d /tmp/cairn-pyclient-XXXXXX)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	[ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
. "$CAIRN_TOP/tests/e2e/lib/tap.sh"
. "$CAIRN_TOP/tools/federation_lib.sh"
CAIRN="$CAIRN_BIN/cairn"
GEN=${CAIRN_PYTHON_GEN:-$CAIRN_BIN/../python}

if ! "$PY" -c 'import grpc, nacl, pandas, google.protobuf' >"$T/out" 2>&1 ||
    [ ! -f "$GEN/cairn_pb2.py" ]; then
	echo "python3-grpcio python3-nacl python3-pandas python3-protobuf" \
	    "and make python are needed" >>"$T/out"
	notok "the Python client's packages and generated modules"
	exit 1
fi

{ fed_init "$T" pyfed && fed_member "$T" analyst stats &&
  fed_member "$T" node n1 && fed_member "$T" node n2 &&
  fed_member "$T" node n3; } >"$T/out" 2>&1 || { notok "keys"; exit 1; }
printf 'region_id,name\n1,north\n2,south\n3,east\n4,west\n' >"$T/g4.csv"
printf 'cell_id,region_id\nc1,1\nc2,2\nc3,3\nc4,4\n' >"$T/cells.csv"
for m in n1 n2 n3; do
	{ echo "subscriber_id,timestamp,cell_id"
	  for s in 1 2 3 4 5 6; do
		echo "$m-s$s,2026-01-10T0$s:00:00Z,c$((s % 4 + 1))"
		echo "$m-s$s,2026-01-11T1$s:00:00Z,c$((s % 3 + 1))"
		echo "$m-s$s,2026-01-10T23:30:00Z,c$((s % 2 + 1))"
	  done; } >"$T/$m.csv"
done
FED_ADVERTISE_SECONDS=10 FED_SHARE_SECONDS=10 FED_MAX_ATTEMPTS=1 \
    fed_coordinator_conf "$T" "g4 g4.csv" >"$T/out" 2>&1 ||
	{ notok "coordinator.conf"; exit 1; }
fed_start_coordinator "$T" ||
	{ cp "$T/coord.log" "$T/out"; notok "coordinator started"; exit 1; }
PIDS="$FED_COORD_PID"
for m in n1 n2 n3; do
	fed_node_conf "$T" $m "$T/$m.csv" "$T/cells.csv" g4 <<CONF
allow_kind = presence, residents
allow_analyst = stats
budget_rho_per_month = 1
max_rho_per_query = 0.5
CONF
	"$CAIRN_BIN/cairn-node" serve -c "$T/$m.conf" >"$T/$m.log" 2>&1 &
	PIDS="$PIDS $!"
done
fed_analyst_conf "$T" stats "$T/analyst.conf"
ok "federation: coordinator and 3 nodes on 127.0.0.1:$FED_PORT"

check "CLI: q-cli submitted" "$CAIRN" query submit --config "$T/analyst.conf" \
    --kind presence --start 2026-01-10 --end 2026-01-12 --bucket day --k 2 \
    --geography g4 --rho 0.1 --purpose "the CLI side of the comparison" \
    --participants n1,n2,n3 --colluding 1 --id q-cli
# Logged, not waited for: its bytes are compared with Python's (the
# default night hours of a kind with a home are signed, and --publish).
check "CLI: q-cli-res submitted" "$CAIRN" query submit \
    --config "$T/analyst.conf" --kind residents --start 2026-01-10 \
    --end 2026-01-12 --geography g4 --rho 0.01 --purpose "residents" \
    --participants n1,n2 --colluding 0 --holders 2 --id q-cli-res --publish
check "CLI: q-cli released" "$CAIRN" query wait --config "$T/analyst.conf" \
    q-cli --timeout 120
check "CLI: q-cli result" "$CAIRN" query result --config "$T/analyst.conf" \
    q-cli --regions "$T/g4.csv" --output "$T/q-cli.csv"

# Results on stdout (py.log), gRPC's own log lines on stderr (py.err).
CAIRN_TEST_DIR=$T CAIRN_PYTHON_GEN=$GEN \
    PYTHONPATH="$CAIRN_TOP/clients/python" PYTHONDONTWRITEBYTECODE=1 \
    "$PY" "$CAIRN_TOP/tests/python/test_client.py" >"$T/py.log" 2>"$T/py.err"
rc=$?
# "test_x (__main__.ClientTest.test_x) ... ok" / FAIL / ERROR / skipped;
# every test that ran must have its line.
sed -n 's/^\(test_[a-z0-9_]*\) .* \.\.\. \(.*\)$/\1 \2/p' "$T/py.log" \
    >"$T/py.res"
TAP_SHOW="$T/py.log $T/py.err"
while read -r name res; do
	if [ "$res" = ok ]; then ok "python: $name"
	else notok "python: $name ($res)"; fi
done <"$T/py.res"
TAP_SHOW=" "
ran=$(sed -n 's/^Ran \([0-9]*\) tests* in .*/\1/p' "$T/py.log")
if [ $rc -eq 0 ] && [ "$(wc -l <"$T/py.res")" -eq "${ran:-0}" ] &&
    [ "${ran:-0}" -gt 0 ] && tail -n 1 "$T/py.log" | grep -qx OK
then ok "python: unittest closes with OK ($(grep '^Ran ' "$T/py.log"))"
else notok "python: unittest closes with OK"; tail -n 60 "$T/py.log" \
    "$T/py.err" | sed 's/^/# /'; fi
tap_done
