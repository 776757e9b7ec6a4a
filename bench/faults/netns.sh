#!/bin/sh
# netns.sh - a node cut off from the coordinator for longer than a
# deadline (docs/security-faults.md).  Node n2 runs in its own network
# namespace (`ip netns`, root), joined to the host by a veth pair; the
# coordinator listens on all addresses.  After a first released query the
# link is cut (the host end of the veth set down) for longer than the
# advertise deadline while a query runs, then restored.  Checks:
#   - the query run during the cut fails cleanly: the analyst sees it
#     failed, the log has its FAILURE and no RELEASE for it, and `cairn
#     audit verify` passes with both nodes' ledgers;
#   - n2 reports the broken channel and retries with backoff;
#   - after the link is back n2 reconnects and serves the next query,
#     released.
# Without ip netns (not root, no iproute2, no kernel support) it says so
# and counts the test as not run, never as passed.  Prints
# "# faults: netns K survived of N" (or "... not run: WHY") last.
set -u
: "${CAIRN_BIN:?}" "${CAIRN_TOP:?}"
T=$(mktemp -d /tmp/cairn-netns-XXXXXX)
. "$CAIRN_TOP/tools/federation_lib.sh"
. "$CAIRN_TOP/tests/e2e/lib/tap.sh"
. "$CAIRN_TOP/bench/faults/fault_lib.sh"
TAP_SHOW="$T/out"
k=$(($$ % 250 + 1))
NS=cairnflt$$
VH=cfh$$
VN=cfn$$
HOST_IP=10.231.$k.1
NODE_IP=10.231.$k.2
NS_MADE=""
cleanup() {
	flt_cleanup
	[ -n "$NS_MADE" ] && ip netns del "$NS" 2>/dev/null
	[ -n "${KEEP:-}" ] && echo "# kept $T" || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' HUP INT PIPE TERM

# The namespace first: without it nothing else is worth starting.
if ! ip netns add "$NS" 2>"$T/out"; then
	echo "# netns: ip netns is not available here ($(head -n 1 "$T/out")): not run"
	echo "# faults: netns not run: ip netns not available"
	echo "1..0"
	exit 0
fi
NS_MADE=1
if ! { ip link add "$VH" type veth peer name "$VN" &&
    ip link set "$VN" netns "$NS" &&
    ip addr add "$HOST_IP/30" dev "$VH" && ip link set "$VH" up &&
    ip netns exec "$NS" ip addr add "$NODE_IP/30" dev "$VN" &&
    ip netns exec "$NS" ip link set "$VN" up &&
    ip netns exec "$NS" ip link set lo up; } >"$T/out" 2>&1; then
	echo "# netns: cannot make the veth pair ($(head -n 1 "$T/out")): not run"
	echo "# faults: netns not run: no veth pair"
	echo "1..0"
	exit 0
fi
ok "namespace $NS, n2 at $NODE_IP, the coordinator at $HOST_IP"

FLT_HOSTS=$HOST_IP
flt_setup || { echo "1..$n"; exit 1; }
# The coordinator on all addresses; n2 dials it across the veth pair.
flt_stop_coordinator
sed -i "s/^listen = 127.0.0.1:/listen = 0.0.0.0:/" "$T/coordinator.conf"
flt_start_coordinator || { notok "coordinator on 0.0.0.0:$FED_PORT"; exit 1; }
flt_stop_node n2
sed -i "s/^address = 127.0.0.1:/address = $HOST_IP:/" "$T/n2.conf"
ip netns exec "$NS" env CAIRN_LOG=info "$FLT_NODE" serve -c "$T/n2.conf" \
    >>"$T/n2.log" 2>&1 &
PID_n2=$!
flt_query q1 && ok "q1 released with n2 in the namespace" ||
	{ cp "$T/q1.out" "$T/out"; notok "q1 released with n2 in the namespace"; }
flt_audit "before the cut"
F0=$(sed -n 's/^ok: .* \([0-9]*\) failures.*/\1/p' "$T/audit-n1.out")

f0=$fails
L0=$(wc -l <"$T/n2.log")
ip link set "$VH" down
CUT=$(date +%s)
ok "link cut (host end of the veth pair down)"
flt_query q-cut --retries 0 --wait 30
arc=$?
cp "$T/q-cut.out" "$T/out"
[ $arc -ne 0 ] && grep -q "deadline" "$T/out" &&
    ok "q-cut fails on its deadline while n2 is cut off: $(tail -n 1 "$T/out" | cut -c1-120)" ||
    notok "q-cut fails on its deadline while n2 is cut off"
# Keep the link down past twice the advertise deadline in all.
while [ $(($(date +%s) - CUT)) -lt $((2 * FED_ADVERTISE_SECONDS + 2)) ]; do sleep 0.5; done
DOWN=$(($(date +%s) - CUT))
ip link set "$VH" up
ok "link restored after $DOWN s (deadline $FED_ADVERTISE_SECONDS s)"
tail -n +"$L0" "$T/n2.log" >"$T/out"
has "n2 saw the channel fail and retried with backoff" "retrying in [0-9]* ms"
flt_query q-back && ok "n2 reconnected and q-back is released" ||
	{ { cp "$T/q-back.out" "$T/out"; tail -n 15 "$T/n2.log" >>"$T/out"; }
	  notok "n2 reconnected and q-back is released"; }
flt_audit "after the cut"
F1=$(sed -n 's/^ok: .* \([0-9]*\) failures.*/\1/p' "$T/audit-n1.out")
[ -n "$F0" ] && [ -n "$F1" ] && [ "$F1" -gt "$F0" ] &&
    ok "the log has the FAILURE of q-cut ($F0 failures before, $F1 after)" ||
    notok "the log has the FAILURE of q-cut ($F0 failures before, $F1 after)"
survived=0
[ $fails -eq $f0 ] && survived=1
flt_cleanup
echo "# faults: netns $survived survived of 1 (link down $DOWN s, advertise deadline $FED_ADVERTISE_SECONDS s)"
echo "1..$n"
tap_done
