#!/bin/sh
# node_serve.sh - `cairn-node serve` and `cairn-node ledger` as real
# processes: usage and one-line errors, an empty ledger shown and exported,
# a node whose coordinator is unreachable backs off and retries, and stops
# cleanly (exit 0) on SIGTERM; a node whose identity is not enrolled is
# refused at start, and so is a second node on a data_dir in use.
set -u
: "${CAIRN_BIN:?}"
T=$(mktemp -d /tmp/cairn-node-serve-XXXXXX)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$T"' EXIT
C="$CAIRN_BIN/cairn"
N="$CAIRN_BIN/cairn-node"
. "${CAIRN_TOP:-.}/tests/e2e/lib/tap.sh"

"$C" keys init-federation --name demo --dir "$T/fed" >/dev/null 2>&1 || { echo "not ok 1 - init"; exit 1; }
for m in alpha ghost; do
	"$C" keys new --role node --name $m --dir "$T/$m" >/dev/null 2>&1
	"$C" keys issue --ca "$T/fed" --csr "$T/$m/tls.csr" --out "$T/$m/tls.crt" >/dev/null 2>&1
	cp "$T/fed/ca.crt" "$T/$m/ca.crt"
done
"$C" keys add-member --ca "$T/fed" --pub "$T/alpha/identity.pub" --cert "$T/alpha/tls.crt" >/dev/null 2>&1
printf 'cell_id,region_id\nc1,1\nc2,2\n' >"$T/cells.csv"
printf 'subscriber_id,timestamp,cell_id\n' >"$T/cdr.csv"
conf() { # name file
	cat >"$2" <<CONF
[node]
name = $1
data_dir = $T/$1/data
identity_key = $T/$1/identity.key
tls_key = $T/$1/tls.key
tls_cert = $T/$1/tls.crt
ca_cert = $T/$1/ca.crt
federation = $T/fed/federation.conf
[coordinator]
address = 127.0.0.1:9
poll_seconds = 1
call_deadline_seconds = 1
[data]
cdr = $T/cdr.csv
cells = $T/cells.csv
geography = g1
[policy]
allow_kind = presence
allow_analyst = nso
budget_rho_per_month = 1
max_rho_per_query = 0.5
CONF
}
conf alpha "$T/alpha.conf"
conf ghost "$T/ghost.conf"

check "serve --help" "$N" serve --help
has "serve usage" "cairn-node serve -c node.conf"
check "ledger --help" "$N" ledger --help
has "ledger usage names export" "ledger export -c node.conf"
if "$N" serve >"$T/out" 2>&1; then notok "serve without -c fails"; else ok "serve without -c fails"; fi
fails_one_line "unknown ledger command" "unknown ledger command 'drop'" "$N" ledger drop -c "$T/alpha.conf"
fails_one_line "ledger without -c" "-c node.conf is required" "$N" ledger show
fails_one_line "missing node.conf" "nope.conf" "$N" ledger show -c "$T/nope.conf"
mkdir -p "$T/alpha/data"
check "ledger show on an empty ledger" "$N" ledger show -c "$T/alpha.conf"
has "show prints the header" "CUMULATIVE PER DATA-MONTH"
[ "$(wc -l <"$T/out")" -eq 1 ] && ok "no charges shown" || notok "no charges shown"
check "ledger export on an empty ledger" "$N" ledger export -c "$T/alpha.conf"
[ ! -s "$T/out" ] && ok "export is empty" || notok "export is empty"
perm=$(stat -c %a "$T/alpha/data/ledger.db")
[ "$perm" = 600 ] && ok "ledger.db is 0600" || notok "ledger.db is 0600 (is $perm)"

fails_one_line "a node missing from federation.conf is refused" "does not list node 'ghost'" \
    "$N" serve -c "$T/ghost.conf"

CAIRN_LOG=info "$N" serve -c "$T/alpha.conf" >"$T/serve.out" 2>&1 &
pid=$!
i=0
while [ $i -lt 100 ] && ! grep -q "retrying in" "$T/serve.out"; do sleep 0.1; i=$((i + 1)); done
cp "$T/serve.out" "$T/out"
has "unreachable coordinator: backs off and retries" "retrying in"
fails_one_line "a second serve on the same data_dir is refused, naming the first" \
    "alpha/data is in use by process $pid (.*/alpha/data/lock): cairn-node serve needs it alone" \
    timeout 20 "$N" serve -c "$T/alpha.conf"
kill -TERM "$pid"
i=0
while [ $i -lt 100 ] && kill -0 "$pid" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$pid" 2>/dev/null; then
	notok "SIGTERM stops the node within 10 s"
else
	wait "$pid"; rc=$?
	pid=
	cp "$T/serve.out" "$T/out"
	[ "$rc" -eq 0 ] && ok "SIGTERM: exit status 0" || notok "SIGTERM: exit status 0 (was $rc)"
	has "SIGTERM: stopped cleanly" "node 'alpha' stopped"
fi
[ -f "$T/alpha/data/witness.db" ] && ok "witness state created" || notok "witness state created"

echo "1..$n"
[ "$fails" -eq 0 ]
