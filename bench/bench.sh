#!/bin/sh
# bench.sh BUILD_DIR - run every benchmark program (build/bin/bench_*) and
# benchmark script (bench/*.sh but this one and test-long.sh, the fault
# run); each prints its own figures.
set -u
O=${1:-build}
export CAIRN_BIN="$(cd "$O/bin" && pwd)"
rc=0
for b in "$O"/bin/bench_*; do
	[ -x "$b" ] || continue
	echo "== $(basename "$b")"
	"$b" || rc=1
done
for s in bench/*.sh; do
	[ -f "$s" ] || continue
	case $s in bench/bench.sh|bench/test-long.sh) continue ;; esac
	echo "== $(basename "$s" .sh)"
	sh "$s" || rc=1
	# the engine on operators' two pseudonym shapes: 16 (above), 64
	if [ "$s" = bench/engine_duckdb.sh ]; then
		echo "== engine_duckdb, 64-digit ids"
		CAIRN_BENCH_ID_HEX=64 sh "$s" || rc=1
	fi
done
exit $rc
