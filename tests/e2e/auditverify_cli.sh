#!/bin/sh
# auditverify_cli.sh - `cairn audit verify` and `cairn audit fetch` from
# the command line: help, usage errors, a checkpoint signed by a key that
# is not the federation's log key (one FAIL line, a FAILED summary, exit
# 1), malformed entries, ledger and quorum arguments, an unreachable
# coordinator.  Valid logs and every rule are in
# tests/unit/test_audit_verify.c and test_query_online.c.
set -u
CAIRN="${CAIRN_BIN:-build/bin}/cairn"
TOP="${CAIRN_TOP:-.}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "${CAIRN_TOP:-.}/tests/e2e/lib/tap.sh"

# expect_fail DESC NEEDLE CMD...: exit 1, nothing on stdout, one stderr
# line "cairn audit X: error: ..." containing NEEDLE
expect_fail() { _d=$1; _w=$2; shift 2; fails_cleanly "$_d" "cairn audit [a-z]*" "$_w" "$@"; }

"$CAIRN" keys init-federation --name demo --dir "$T/fed" >/dev/null 2>&1 ||
	notok "init-federation"
FED="$T/fed/federation.conf"

out=$("$CAIRN" audit verify --help 2>&1)
if [ $? -eq 0 ] && echo "$out" | grep -q -- "--state"; then
	ok "verify --help"; else notok "verify --help ($out)"; fi
out=$("$CAIRN" audit --help 2>&1)
if echo "$out" | grep -q "verify" && echo "$out" | grep -q "fetch"; then
	ok "audit --help lists verify and fetch"; else
	notok "audit --help lists verify and fetch ($out)"; fi

expect_fail "verify needs a source" "usage" \
	"$CAIRN" audit verify --federation "$FED"
expect_fail "--ledger needs --node" "usage" \
	"$CAIRN" audit verify --federation "$FED" --entries "$T/e" \
	--checkpoint "$T/c" --ledger "$T/l"
expect_fail "--quorum must be a number" "--quorum: 'x'" \
	"$CAIRN" audit verify --federation "$FED" --entries "$T/e" \
	--checkpoint "$T/c" --quorum x
expect_fail "a missing federation.conf is named" "nope.conf" \
	"$CAIRN" audit verify --federation "$T/nope.conf" --entries "$T/e" \
	--checkpoint "$T/c"

# A checkpoint signed by another log's key: a finding, not an error.
cp "$TOP/tests/vectors/cairn_checkpoint.note" "$T/cp.note"
: >"$T/empty.hex"
out=$("$CAIRN" audit verify --federation "$FED" --entries "$T/empty.hex" \
	--checkpoint "$T/cp.note" 2>"$T/err")
rc=$?
if [ "$rc" -eq 1 ] && [ ! -s "$T/err" ] &&
    echo "$out" | grep -q "^FAIL checkpoint: does not verify with the log key 'cairn/demo'" &&
    echo "$out" | tail -n 1 | grep -q "^FAILED: .*; 1 finding$"; then
	ok "a foreign checkpoint is one finding and exit 1"
else
	notok "a foreign checkpoint is one finding and exit 1 (rc=$rc out='$out' err='$(cat "$T/err")')"
fi
printf '0102\nxyz\n' >"$T/bad.hex"
expect_fail "a bad entries line is named" "bad.hex:2: not an entry in hex" \
	"$CAIRN" audit verify --federation "$FED" --entries "$T/bad.hex" \
	--checkpoint "$T/cp.note"
printf '{"id": 1}\n' >"$T/l.jsonl"
expect_fail "a bad ledger line is named" "l.jsonl:1: missing field" \
	"$CAIRN" audit verify --federation "$FED" --entries "$T/empty.hex" \
	--checkpoint "$T/cp.note" --ledger "$T/l.jsonl" --node alpha
"$CAIRN" keys new --role auditor --name watch --dir "$T/watch" >/dev/null 2>&1
"$CAIRN" keys issue --ca "$T/fed" --csr "$T/watch/tls.csr" \
    --out "$T/watch/tls.crt" >/dev/null 2>&1
expect_fail "fetch: an unreachable coordinator is one line" \
	"fetch: GetCheckpoint" \
	"$CAIRN" audit fetch --coordinator 127.0.0.1:1 --ca "$T/fed/ca.crt" \
	--tls-cert "$T/watch/tls.crt" --tls-key "$T/watch/tls.key" \
	--federation "$FED" --entries "$T/out.hex" --checkpoint "$T/out.note"
expect_fail "verify: an unreachable coordinator is one line" \
	"fetch: GetCheckpoint" \
	"$CAIRN" audit verify --coordinator 127.0.0.1:1 --ca "$T/fed/ca.crt" \
	--tls-cert "$T/watch/tls.crt" --tls-key "$T/watch/tls.key" \
	--federation "$FED" --state "$T/state"
if [ ! -e "$T/state" ]; then ok "no state written after a failure"; else
	notok "no state written after a failure"; fi

echo "1..$n"
[ "$fails" -eq 0 ]
