# benchlock.sh - the machine-wide benchmark lock and the load average,
# sourced by bench/sql_engines.sh and bench/cost_curve.sh.  The caller sets
# LOCK (CAIRN_BENCH_LOCK: a file, or empty for no lock); lock takes
# `flock` on it through descriptor 9 (so it is held by this shell and what
# it runs until unlock), unlock releases it.

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
lock() { [ -n "$LOCK" ] && exec 9>"$LOCK" && flock 9; return 0; }
unlock() { [ -n "$LOCK" ] && flock -u 9 && exec 9>&-; return 0; }
