# tap.sh - the checks of the end-to-end scripts, sourced by each one.  It
# prints "ok N - what" / "not ok N - what" lines that tests/run.sh counts;
# on a failure it shows the files named in TAP_SHOW (default "$T/out") with
# "# " in front.  End a script with tap_done, which exits non-zero if any
# check failed.
n=0
fails=0

# ok WHAT / notok WHAT: record one passed / failed check.
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() {
	n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"
	for f in ${TAP_SHOW:-${T:+$T/out}}; do
		[ -f "$f" ] && sed 's/^/# /' "$f" | tail -n 40
	done
	return 0
}

# check WHAT CMD...: CMD succeeds (its output in $T/out).
check() {
	d=$1; shift
	if "$@" >"$T/out" 2>&1; then ok "$d"; else notok "$d"; fi
}

# fails_with WHAT NEEDLE CMD...: CMD fails and its output has NEEDLE.
fails_with() {
	d=$1; want=$2; shift 2
	if "$@" >"$T/out" 2>&1; then notok "$d (it succeeded)"
	elif grep -q -- "$want" "$T/out"; then ok "$d"
	else notok "$d (no '$want')"; fi
}

# has WHAT PATTERN [FILE]: FILE (default $T/out) has a line matching the
# grep pattern.
has() {
	if grep -q -- "$2" "${3:-$T/out}"; then ok "$1"; else notok "$1"; fi
}

# holds WHAT EXPR: the shell expression EXPR (evaluated here, so it sees
# the script's variables) is true.
holds() {
	if eval "$2"; then ok "$1"; else notok "$1"; fi
}

# status_ok STATUS WHAT: a command that just ran exited with STATUS 0.
status_ok() {
	if [ "$1" -eq 0 ]; then ok "$2"; else notok "$2"; fi
}

# tap_done: exit with the scripts' status.
tap_done() { [ "$fails" -eq 0 ]; exit; }

# fails_cleanly WHAT PROG NEEDLE CMD...: CMD exits 1 with nothing on
# standard output and exactly one line on standard error, "PROG: error: ..."
# (PROG a basic regular expression) containing NEEDLE.
fails_cleanly() {
	d=$1; prog=$2; needle=$3; shift 3
	out=$("$@" 2>"$T/err")
	rc=$?
	if [ "$rc" -eq 1 ] && [ -z "$out" ] && [ "$(wc -l <"$T/err")" -eq 1 ] &&
	    grep -q "^$prog: error: " "$T/err" && grep -qF -- "$needle" "$T/err"
	then ok "$d"
	else notok "$d (rc=$rc out='$out' err='$(cat "$T/err")')"; fi
}

# fails_one_line WHAT NEEDLE CMD...: CMD fails and prints exactly one line
# (standard output and error together), which has NEEDLE.
fails_one_line() {
	d=$1; want=$2; shift 2
	if "$@" >"$T/out" 2>&1; then notok "$d (it succeeded)"
	elif grep -q -- "$want" "$T/out" && [ "$(wc -l <"$T/out")" -eq 1 ]
	then ok "$d"
	else notok "$d"; fi
}
