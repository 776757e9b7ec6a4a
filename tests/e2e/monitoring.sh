#!/bin/sh
# monitoring.sh - issue #16 items 3 and 5 on a real federation (the
# coordinator and two `cairn-node serve` on loopback, one query released,
# one refused over the budget):
#  - logs: every line of every daemon starts with an RFC 3339 UTC time
#    (text) or is one JSON object with "ts" (log_format = json); task and
#    release lines carry the query, attempt and log index as fields; no
#    line of any daemon or client holds a secret key (identity seeds in
#    base64 and hex, TLS and CA private keys: each PEM body line and the
#    EC private scalar in hex), a subscriber pseudonym of the input CSVs,
#    or the exact count of subjects;
#  - metrics: each daemon's /metrics passes `promtool check metrics` and
#    counts what happened (releases, refusals, RPCs by method and code,
#    tasks by outcome, charges, budget per data-month, rows read, bad rows
#    by reason, the last poll); a Prometheus server started here scrapes
#    all three and answers a query for the released count; the example
#    alerting rules of docs/operations.md pass `promtool check rules` and
#    load into that server;
#  - health: /healthz and /readyz on the monitoring listener; the
#    coordinator is not ready while its data folder is gone, and ready
#    again once it is back; a node without [monitoring] opens no port.
set -u
: "${CAIRN_BIN:?}" "${CAIRN_TOP:?}"
T=$(mktemp -d /tmp/cairn-monitoring-XXXXXX)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	[ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
C="$CAIRN_BIN/cairn"
N="$CAIRN_BIN/cairn-node"
A="$CAIRN_BIN/node_e2e_analyst"
. "$CAIRN_TOP/tests/e2e/lib/tap.sh"
. "$CAIRN_TOP/tools/federation_lib.sh"
CAIRN=$C

# get URL: the body on stdout; exit 0 on 200, 22 otherwise (like curl -f).
get() {
	python3 - "$1" <<'PY'
import sys, urllib.request, urllib.error
try:
    with urllib.request.urlopen(sys.argv[1], timeout=10) as r:
        sys.stdout.write(r.read().decode())
except urllib.error.HTTPError as e:
    sys.stdout.write(e.read().decode()); sys.exit(22)
except Exception as e:
    sys.stdout.write(str(e) + "\n"); sys.exit(7)
PY
}
# wait_file PATH: up to 10 s for PATH to be non-empty.
wait_file() {
	i=0
	while [ $i -lt 100 ] && [ ! -s "$1" ]; do sleep 0.1; i=$((i + 1)); done
	[ -s "$1" ]
}

{ fed_init "$T" montest &&
  fed_member "$T" analyst analyst && fed_member "$T" node n1 &&
  fed_member "$T" node n2; } >"$T/out" 2>&1 || { notok "keys"; exit 1; }
ok "keys for the coordinator, an analyst and two nodes"

printf 'region_id,name\n1,north\n2,south\n3,east\n4,west\n' >"$T/g4.csv"
printf 'cell_id,region_id\nc1,1\nc2,2\nc3,3\nc4,4\n' >"$T/cells.csv"
# Pseudonyms no log line may hold; n1 has one bad row (unknown cell).
printf 'subscriber_id,timestamp,cell_id\npsQx7a01,2026-01-10T08:00:00Z,c1\npsQx7a02,2026-01-10T09:00:00Z,c1\npsQx7a03,2026-01-10T10:00:00Z,c2\npsQx7a04,2026-01-12T10:00:00Z,c4\npsQx7a05,2026-01-10T10:00:00Z,c9\n' >"$T/n1.csv"
printf 'subscriber_id,timestamp,cell_id\npsQx7b01,2026-01-10T08:00:00Z,c3\npsQx7b02,2026-01-10T12:00:00Z,c1\n' >"$T/n2.csv"
FED_ADVERTISE_SECONDS=8 FED_SHARE_SECONDS=8 \
    fed_coordinator_conf "$T" "g4 g4.csv" >"$T/out" 2>&1 ||
	{ notok "coordinator.conf"; exit 1; }
cat >>"$T/coordinator.conf" <<CONF
[monitoring]
log_format = json
listen = 127.0.0.1:0
port_file = $T/coord.mport
CONF
# The coordinator and n1 log at debug level: the secrets check below
# covers every line they can write.
CAIRN_LOG=debug fed_start_coordinator "$T" ||
	{ cp "$T/coord.log" "$T/out"; notok "coordinator started"; exit 1; }
PIDS="$FED_COORD_PID"
PORT=$FED_PORT
wait_file "$T/coord.mport" && ok "coordinator: gRPC on $PORT, monitoring on $(cat "$T/coord.mport")" ||
	{ cp "$T/coord.log" "$T/out"; notok "coordinator: monitoring port file"; exit 1; }
CM=$(cat "$T/coord.mport")

for m in n1 n2; do
	fmt=text; lvl=info; [ $m = n1 ] && fmt=json && lvl=debug
	FED_CALL_DEADLINE=5 FED_DATA_EXTRA="max_bad_fraction = 0.5" \
	    fed_node_conf "$T" $m "$T/$m.csv" "$T/cells.csv" g4 <<CONF
allow_kind = presence
allow_analyst = analyst
budget_rho_per_month = 0.48
max_rho_per_query = 0.48
[monitoring]
log_format = $fmt
listen = 0
port_file = $T/$m.mport
CONF
	# n2's clock is 90 s behind (the test-only knob of
	# tests/e2e/cases/node_clock.case): its skew gauge says so.
	off=0; [ $m = n2 ] && off=-90
	CAIRN_NODE_TEST_CLOCK_OFFSET=$off CAIRN_LOG=$lvl "$N" serve \
	    -c "$T/$m.conf" >"$T/$m.log" 2>&1 &
	PIDS="$PIDS $!"
	wait_file "$T/$m.mport" || { cp "$T/$m.log" "$T/out"; notok "$m: monitoring port"; exit 1; }
done
ok "two nodes serving, each with a monitoring listener"
M1=$(cat "$T/n1.mport"); M2=$(cat "$T/n2.mport")

if "$A" --dir "$T" --target "127.0.0.1:$PORT" --id q1 --participants n1,n2 \
    --rho 0.48 >"$T/q1.out" 2>"$T/q1.err"; then ok "q1 released"; else
	cp "$T/q1.out" "$T/out"; notok "q1 released"; fi
if "$A" --dir "$T" --target "127.0.0.1:$PORT" --id q2 --participants n1,n2 \
    --rho 0.48 >"$T/q2.out" 2>"$T/q2.err"; then notok "q2 refused over the budget"
else cp "$T/q2.out" "$T/out"; has "q2 refused over the budget" "refusals [12]"; fi
# wait_metric PORT PATTERN: up to 20 s for PORT's /metrics to match.
wait_metric() {
	i=0
	while [ $i -lt 100 ]; do
		get "http://127.0.0.1:$1/metrics" 2>/dev/null | grep -q -- "$2" &&
		    return 0
		sleep 0.2; i=$((i + 1))
	done
	return 1
}
# A node counts a task once it has handled it, just after the coordinator
# logged its outcome; both nodes then park their next PollTask.
wait_metric "$M1" '^cairn_node_tasks_total{outcome="refused"} 1$'
wait_metric "$M2" '^cairn_node_tasks_total{outcome="refused"} 1$'
wait_metric "$CM" '^cairn_coordinator_nodes_polling 2$'

# ---------------------------------------------------------------- metrics
scrape() { get "http://127.0.0.1:$1/metrics" >"$T/$2.prom"; }
scrape "$CM" coord && scrape "$M1" n1 && scrape "$M2" n2 &&
    ok "GET /metrics of the coordinator and both nodes" ||
	{ cp "$T/coord.prom" "$T/out"; notok "GET /metrics"; }
for f in coord n1 n2; do
	if promtool check metrics <"$T/$f.prom" >"$T/out" 2>&1; then
		ok "$f: promtool check metrics passes"
	else notok "$f: promtool check metrics passes"; fi
done
cp "$T/coord.prom" "$T/out"
has "coordinator: one query released" '^cairn_coordinator_queries_total{outcome="released"} 1$'
has "coordinator: one query refused" '^cairn_coordinator_queries_total{outcome="refused"} 1$'
has "coordinator: no query failed (exported as 0)" '^cairn_coordinator_queries_total{outcome="failed"} 0$'
has "coordinator: SubmitQuery RPCs by code" '^cairn_grpc_server_handled_total{method="SubmitQuery",code="OK"} 2$'
has "coordinator: round duration histogram with +Inf" '^cairn_coordinator_round_duration_seconds_bucket{outcome="released",le="+Inf"} 1$'
has "coordinator: log size" '^cairn_coordinator_log_entries [1-9]'
has "coordinator: checkpoint time" '^cairn_coordinator_checkpoint_timestamp_seconds [1-9]'
has "coordinator: both nodes polling" '^cairn_coordinator_nodes_polling 2$'
has "coordinator: ready" '^cairn_coordinator_ready 1$'
cp "$T/n1.prom" "$T/out"
has "n1: one task shared" '^cairn_node_tasks_total{outcome="shared"} 1$'
has "n1: one task refused" '^cairn_node_tasks_total{outcome="refused"} 1$'
has "n1: one charge" '^cairn_node_charges_total 1$'
has "n1: budget spent in 2026-01" '^cairn_node_budget_spent_rho{month="2026-01"} 0.25'
has "n1: budget left in 2026-01" '^cairn_node_budget_remaining_rho{month="2026-01"} 0.22'
# Both tasks ran the engine over n1's 5 rows (q2's is refused on the budget
# after its computation).
has "n1: 10 rows read over two tasks" '^cairn_node_rows_read_total 10$'
has "n1: its bad row (unknown cell) counted in each task" '^cairn_node_bad_rows_total{reason="unknown cell"} 2$'
has "n1: engine seconds" '^cairn_node_engine_seconds_total '
has "n1: last successful poll" '^cairn_node_last_successful_poll_timestamp_seconds [1-9]'
has "n1: clock skew within 5 s (its clock is right)" \
    '^cairn_node_clock_skew_seconds -\{0,1\}[0-4]\.\{0,1\}[0-9]*$'
cp "$T/n2.prom" "$T/out"
has "n2: clock skew 90 s (its clock is 90 s behind)" \
    '^cairn_node_clock_skew_seconds \(89\.9[0-9]*\|90\|90\.0[0-9]*\)$'
cp "$T/n1.prom" "$T/out"
# Every series holds a name of the registry's families and no pseudonym.
holds "no pseudonym in any scrape" "! grep -q psQx7 '$T/coord.prom' '$T/n1.prom' '$T/n2.prom'"

# ------------------------------------------------------------------ health
get "http://127.0.0.1:$CM/healthz" >"$T/out"; status_ok $? "coordinator /healthz 200"
get "http://127.0.0.1:$CM/readyz" >"$T/out"; status_ok $? "coordinator /readyz 200"
get "http://127.0.0.1:$M1/readyz" >"$T/out"; status_ok $? "n1 /readyz 200 (ledger reconciled, polling)"
get "http://127.0.0.1:$M1/nothing" >"$T/out"; [ $? -eq 22 ] && ok "unknown path: an HTTP error" || notok "unknown path: an HTTP error"
mv "$T/coord" "$T/coord.away"
get "http://127.0.0.1:$CM/readyz" >"$T/out"; rc=$?
[ $rc -eq 22 ] && ok "coordinator /readyz 503 while data_dir is gone" || notok "coordinator /readyz 503 while data_dir is gone (rc $rc)"
has "the reason names data_dir" "data_dir .* is not writable"
mv "$T/coord.away" "$T/coord"
get "http://127.0.0.1:$CM/readyz" >"$T/out"; status_ok $? "coordinator /readyz 200 again"

# -------------------------------------------------------- Prometheus server
PP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
awk '/^```yaml cairn-alerts/{f=1; next} /^```/{f=0} f' \
    "$CAIRN_TOP/docs/operations.md" >"$T/alerts.yml"
check "docs/operations.md alerting rules pass promtool check rules" \
    promtool check rules "$T/alerts.yml"
cat >"$T/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["$T/alerts.yml"]
scrape_configs:
  - job_name: cairn-coordinator
    static_configs: [{targets: ["127.0.0.1:$CM"]}]
  - job_name: cairn-node
    static_configs: [{targets: ["127.0.0.1:$M1", "127.0.0.1:$M2"]}]
YML
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/tsdb" \
    --web.listen-address="127.0.0.1:$PP" >"$T/prom.log" 2>&1 &
PIDS="$PIDS $!"
PAPI="http://127.0.0.1:$PP/api/v1"
i=0
while [ $i -lt 300 ]; do
	get "$PAPI/query?query=sum(up)" >"$T/up" 2>/dev/null &&
	    grep -q '"value":\[[0-9.]*,"3"\]' "$T/up" && break
	sleep 0.2; i=$((i + 1))
done
cp "$T/up" "$T/out"
has "prometheus scrapes all three daemons (sum(up) = 3)" '"value":\[[0-9.]*,"3"\]'
get "$PAPI/query?query=cairn_coordinator_queries_total%7Boutcome%3D%22released%22%7D" >"$T/out"
has "prometheus: the released count is 1" '"value":\[[0-9.]*,"1"\]'
get "$PAPI/query?query=cairn_node_budget_remaining_rho%7Bmonth%3D%222026-01%22%7D" >"$T/out"
has "prometheus: budget left of 2026-01 from both nodes" '"instance":"127.0.0.1:'"$M2"'"'
get "$PAPI/rules" >"$T/out"
has "prometheus loaded the budget alert" '"name":"CairnNodeBudgetExhausted"'
has "prometheus loaded the stalled-node alert" '"name":"CairnNodeStalled"'

# -------------------------------------------------------------------- logs
LOGS="$T/coord.log $T/n1.log $T/n2.log $T/q1.out $T/q1.err $T/q2.out $T/q2.err"
TS='[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\.[0-9]\{3\}Z'
holds "n2 (text): every line starts with an RFC 3339 UTC time" \
    "[ -s '$T/n2.log' ] && ! grep -v '^$TS cairn-node: ' '$T/n2.log' | grep -q ."
python3 - "$T/coord.log" "$T/n1.log" >"$T/out" 2>&1 <<'PY'
import json, re, sys
ts = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
for path in sys.argv[1:]:
    for n, line in enumerate(open(path), 1):
        o = json.loads(line)
        assert ts.match(o["ts"]), (path, n, o["ts"])
        for k in ("prog", "level", "func", "msg"):
            assert k in o, (path, n, k)
print("ok")
PY
status_ok $? "coordinator and n1 (json): every line one JSON object with ts, prog, level, func, msg"
grep '"msg":"task: query' "$T/n1.log" >"$T/out"
has "n1: the task line carries query and attempt fields" '"query":"q1","attempt":0'
grep '"msg":"charged query' "$T/n1.log" >"$T/out"
has "n1: the charge line carries the query field" '"query":"q1"'
grep 'released (attempt' "$T/coord.log" >"$T/out"
has "coordinator: the release line carries query, attempt and log index" '"query":"q1","attempt":0,"index":[0-9]'
grep "task: query 'q2'" "$T/n2.log" >"$T/out"
has "n2 (text): the task line ends with query= attempt= fields" " query=q2 attempt=0$"

# Secrets: every secret key file's bytes in the forms a log could show.
: >"$T/needles"
for k in "$T"/fed/coordinator/identity.key "$T"/n1/identity.key \
    "$T"/n2/identity.key "$T"/analyst/identity.key; do
	s=$(sed -n 's/^seed //p' "$k")
	echo "$s" >>"$T/needles"
	echo "$s" | base64 -d | od -An -tx1 | tr -d ' \n' >>"$T/needles"
	echo >>"$T/needles"
done
for k in "$T"/fed/ca.key "$T"/fed/coordinator/tls.key "$T"/n1/tls.key \
    "$T"/n2/tls.key "$T"/analyst/tls.key; do
	grep -v '^-----' "$k" >>"$T/needles"
	openssl pkey -in "$k" -text -noout 2>/dev/null |
	    awk '/^priv:/{f=1; next} /^pub:/{f=0} f' | tr -d ' :\n' >>"$T/needles"
	echo >>"$T/needles"
done
grep -h -o 'psQx7[a-z0-9]*' "$T/n1.csv" "$T/n2.csv" >>"$T/needles"
sed -i '/^$/d' "$T/needles"
[ "$(wc -l <"$T/needles")" -ge 20 ] && ok "$(wc -l <"$T/needles") secret needles (keys, seeds, pseudonyms)" ||
	notok "secret needles"
# shellcheck disable=SC2086
if grep -F -i -f "$T/needles" $LOGS >"$T/out"; then
	notok "no log line of any daemon or client holds a needle"
else ok "no log line of any daemon or client holds a needle"; fi
# shellcheck disable=SC2086
# (The timing line's "noise 0.000110" is the noise phase's seconds.)
if grep -i 'subjects\|noise -\?[0-9]\+\([^.0-9]\|$\)\|noisy vector [-0-9]' \
    $LOGS >"$T/out"; then
	notok "no log line names an exact subject count or a noise value"
else ok "no log line names an exact subject count or a noise value"; fi

# A node without [monitoring] listens nowhere (it only dials out): n2
# restarted from its config without that section holds no listening TCP
# socket, while n1 holds exactly its monitoring listener.
listening() {
	python3 - "$1" <<'PY'
import os, sys
pid = sys.argv[1]
inodes = set()
for fd in os.listdir(f"/proc/{pid}/fd"):
    try:
        t = os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        continue
    if t.startswith("socket:["):
        inodes.add(t[8:-1])
n = 0
for f in ("/proc/net/tcp", "/proc/net/tcp6"):
    for line in open(f).readlines()[1:]:
        c = line.split()
        if c[3] == "0A" and c[9] in inodes:
            n += 1
print(n)
PY
}
set -- $PIDS
N1PID=$2; N2PID=$3
[ "$(listening "$N1PID")" = 1 ] && ok "n1 listens on one TCP port (its monitoring listener)" ||
	notok "n1 listens on one TCP port (its monitoring listener)"
kill -TERM "$N2PID"; wait "$N2PID"
sed '/^\[monitoring\]/,$d' "$T/n2.conf" >"$T/n2b.conf"
CAIRN_LOG=info "$N" serve -c "$T/n2b.conf" >"$T/n2b.log" 2>&1 &
N2PID=$!
PIDS="$1 $N1PID $N2PID $4"
i=0; while [ $i -lt 100 ] && ! grep -q "serving federation" "$T/n2b.log"; do sleep 0.1; i=$((i + 1)); done
cp "$T/n2b.log" "$T/out"
has "n2 restarted without [monitoring]" "serving federation"
[ "$(listening "$N2PID")" = 0 ] && ok "n2 without [monitoring] listens on no TCP port" ||
	notok "n2 without [monitoring] listens on no TCP port"

echo "1..$n"
[ "$fails" -eq 0 ]
