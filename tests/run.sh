#!/bin/sh
# run.sh BUILD_DIR - run every unit test binary and end-to-end script,
# show each one's result, and close with "N passed, N failed" counting
# test cases (CMocka's own counts; an e2e script counts the checks it
# reports as "ok N" / "not ok N", or one when it prints none).
set -u
O=${1:-build}
export CAIRN_BIN="$(cd "$O/bin" && pwd)"
export CAIRN_TOP="$(pwd)"
export CMOCKA_MESSAGE_OUTPUT=stdout
passed=0
failed=0
failures=""
log=$(mktemp)
trap 'rm -f "$log"' EXIT

for t in "$O"/tests/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	"$t" >"$log" 2>&1
	rc=$?
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1	# crashed or failed outside a test case
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" -ne 0 ]; then
		printf 'FAIL %s (%d passed, %d failed)\n' "$name" "$p" "$f"
		sed 's/^/    /' "$log" | tail -n 40
		failures="$failures $name"
	else
		printf 'ok   %s (%d)\n' "$name" "$p"
	fi
done

for t in tests/e2e/*.sh; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .sh)
	sh "$t" >"$log" 2>&1
	rc=$?
	p=$(grep -c '^ok ' "$log")
	f=$(grep -c '^not ok ' "$log")
	[ "$p" -eq 0 ] && [ "$rc" -eq 0 ] && p=1
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" -ne 0 ]; then
		printf 'FAIL e2e/%s\n' "$name"
		sed 's/^/    /' "$log" | tail -n 60
		failures="$failures e2e/$name"
	else
		printf 'ok   e2e/%s (%d)\n' "$name" "$p"
	fi
done

[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
