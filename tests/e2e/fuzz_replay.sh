#!/bin/sh
# fuzz_replay.sh - replay every fuzz harness's seed corpus and regression
# inputs (tests/fuzz/corpus/H, tests/fuzz/regressions/H) through the
# harness built with the normal compiler and tests/fuzz/replay_main.c.
# A crash, a sanitizer report (under make check) or a harness's own
# invariant failing fails the check.  docs/security.md, "Fuzzing".
set -u
T=${CAIRN_TOP:-.}
F="$(dirname "$CAIRN_BIN")/fuzz"
n=0
fail=0
for src in "$T"/tests/fuzz/fuzz_*.c; do
	h=$(basename "$src" .c)
	n=$((n + 1))
	set --
	for d in "$T/tests/fuzz/corpus/$h" "$T/tests/fuzz/regressions/$h"; do
		[ -d "$d" ] && set -- "$@" "$d"
	done
	if [ ! -x "$F/$h" ]; then
		echo "not ok $n - $h: $F/$h not built"
		fail=1
	elif [ $# -eq 0 ]; then
		echo "not ok $n - $h: no corpus"
		fail=1
	elif out=$("$F/$h" "$@" 2>&1); then
		echo "ok $n - $h: $(echo "$out" | tail -n 1)"
	else
		echo "not ok $n - $h"
		echo "$out" | tail -n 20 | sed 's/^/#   /'
		fail=1
	fi
done
exit $fail
