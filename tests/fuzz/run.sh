#!/bin/sh
# run.sh BUILD_DIR SECONDS - run every libFuzzer harness of BUILD_DIR/fuzz
# for SECONDS each, one after the other (at nice 10), starting from its
# seed corpus and regression inputs, and print per harness the executions,
# executions per second, libFuzzer's coverage figures (cov: edges, ft:
# features), the corpus size and the findings (crash, leak, timeout and
# out-of-memory inputs, kept in BUILD_DIR/fuzz-artifacts/HARNESS/).
# New corpus entries go to BUILD_DIR/fuzz-corpus/HARNESS, never into
# tests/fuzz/corpus.  Exits 1 when anything was found.
#
# FUZZ_ONLY="fuzz_a fuzz_b" runs only those harnesses; FUZZ_NICE (default
# 10) is the niceness of the fuzzers (0 when the machine is shared with
# other work that would starve them).  libFuzzer writes a "slow-unit"
# artifact for an input that took over 10 s; a starved fuzzer does that
# for ordinary inputs, so each slow unit is replayed alone afterwards and
# counts as a finding only if it is still over 10 s (else it is listed
# as "slow only under load", with its replay time).
set -u
O=${1:-build-fuzz}
SECS=${2:-600}
# libFuzzer takes -max_total_time=0 as "no limit": refuse it.
case $SECS in
''|*[!0-9]*|0) echo "run.sh: error: SECONDS must be a whole number" \
    "of seconds, at least 1 (got '$SECS')" >&2; exit 2 ;;
esac
top=$(pwd)
found=0
n=0
printf '%-18s %10s %8s %7s %7s %7s %s\n' harness execs exec/s cov ft corpus \
    findings
SLOW=10
for bin in "$O"/fuzz/fuzz_*-libfuzzer; do
	[ -x "$bin" ] || continue
	h=$(basename "$bin" -libfuzzer)
	if [ -n "${FUZZ_ONLY:-}" ]; then
		case " $FUZZ_ONLY " in *" $h "*) ;; *) continue ;; esac
	fi
	work="$O/fuzz-corpus/$h"
	art="$O/fuzz-artifacts/$h"
	log="$O/fuzz-logs/$h.log"
	mkdir -p "$work" "$art" "$O/fuzz-logs"
	# Findings of this run only: earlier artifacts stay for inspection.
	before=$(find "$art" -maxdepth 1 -type f | wc -l)
	: >"$log.start"
	set -- "$work"
	for d in "$top/tests/fuzz/corpus/$h" \
	    "$top/tests/fuzz/regressions/$h"; do
		[ -d "$d" ] && set -- "$@" "$d"
	done
	nice -n "${FUZZ_NICE:-10}" "$bin" -max_total_time="$SECS" \
	    -print_final_stats=1 -timeout=20 -rss_limit_mb=2048 \
	    -max_len=16384 -report_slow_units=$SLOW \
	    -artifact_prefix="$art/" "$@" >"$log" 2>&1
	rc=$?
	# Slow units of this run: replayed alone, kept as findings only if
	# still slow.  An input that runs fast alone is moved aside.
	notes=""
	for u in $(find "$art" -maxdepth 1 -type f -name 'slow-unit-*' \
	    -newer "$log.start"); do
		t0=$(date +%s.%N)
		"$bin" -runs=1 "$u" >/dev/null 2>&1
		dt=$(awk -v a="$t0" -v b="$(date +%s.%N)" \
		    'BEGIN { printf "%.2f", b - a }')
		if awk -v d="$dt" -v s=$SLOW 'BEGIN { exit !(d < s) }'; then
			mkdir -p "$art/load"
			mv "$u" "$art/load/"
			notes="$notes
    slow only under load: $(basename "$u") (alone $dt s)"
		fi
	done
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
	    tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" |
	    tail -n 1)
	last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
	cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	corp=$(echo "$last" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
	f=$(($(find "$art" -maxdepth 1 -type f | wc -l) - before))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1	# libFuzzer stopped without an artifact: see the log
	fi
	[ "$f" -ne 0 ] && found=$((found + f))
	n=$((n + 1))
	printf '%-18s %10s %8s %7s %7s %7s %s\n' "$h" "${execs:-?}" \
	    "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$f"
	[ -n "$notes" ] && echo "$notes" | sed '/^$/d'
	if [ "$f" -ne 0 ]; then
		grep -E 'ERROR|SUMMARY|==[0-9]+==' "$log" | head -n 5 |
		    sed 's/^/    /'
		ls -t -p "$art" | grep -v / | head -n "$f" | sed 's/^/    /'
	fi
done
echo "$n harnesses, ${SECS}s each: $found findings"
[ "$n" -gt 0 ] && [ "$found" -eq 0 ]
