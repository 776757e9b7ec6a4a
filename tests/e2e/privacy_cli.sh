#!/bin/sh
# privacy_cli.sh - `cairn privacy sample|plan` from the outside.
#
# Samples drawn from the CSPRNG are checked by an independent
# goodness-of-fit test (privacy_gof.py, plain Python against the exact pmf;
# the threshold p >= 1e-5 over 5 cases makes a false alarm about 1 run
# in 20000; the fixed-seed unit tests in test_privacy_gof.c are the strict
# ones);
# `plan` must print the reference (eps, delta) values; bad arguments give
# one error line and exit 1; the sampler files use no floating point.
set -u
B=${CAIRN_BIN:-build/bin}
TOP=${CAIRN_TOP:-.}
C="$B/cairn"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
TAP_SHOW="$tmp/e"
. "$TOP/tests/e2e/lib/tap.sh"

# 1. Goodness of fit of CSPRNG output.
for spec in "dgauss 4" "dgauss 100" "dgauss 5.484964" "dgauss 1000" \
    "dgauss 2000001/2"; do
	set -- $spec
	opt=--sigma2
	if "$C" privacy sample --mechanism "$1" $opt "$2" --count 200000 \
	    >"$tmp/s" 2>"$tmp/e" && [ ! -s "$tmp/e" ] &&
	    python3 "$TOP/tests/e2e/privacy_gof.py" "$1" "$2" 1e-5 \
	    <"$tmp/s" >"$tmp/g"; then
		ok "$(cat "$tmp/g")"
	else
		cat "$tmp/e" "$tmp/g" 2>/dev/null
		notok "sample $1 $2 fits the exact pmf"
	fi
done

# 2. The test source: reproducible, and it says so.
seed=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
"$C" privacy sample --mechanism dgauss --sigma2 30 --count 1000 \
    --seed "$seed" >"$tmp/a" 2>"$tmp/ea"
r1=$?
"$C" privacy sample --mechanism dgauss --sigma2=30 --count=1000 \
    --seed="$seed" >"$tmp/b" 2>/dev/null
r2=$?
[ $r1 -eq 0 ] && [ $r2 -eq 0 ] && cmp -s "$tmp/a" "$tmp/b" &&
    [ "$(wc -l <"$tmp/a")" -eq 1000 ]
status_ok $? "--seed output is reproducible"
grep -q 'deterministic test source' "$tmp/ea"
status_ok $? "--seed announces the test source on stderr"
"$C" privacy sample --mechanism dgauss --sigma2 30 --count 1000 >"$tmp/c"
cmp -s "$tmp/a" "$tmp/c"
[ $? -ne 0 ]
status_ok $? "the CSPRNG output differs from the seeded output"

# 3. plan reproduces the reference (eps, delta).
for ref in "0.1 1e-6 2.142" "0.5 1e-6 5.222" "1 1e-10 10.034"; do
	set -- $ref
	"$C" privacy plan --kind presence --rho "$1" --delta "$2" --days 30 \
	    --k 2 --nodes 5 --colluding 1 >"$tmp/p" 2>&1
	grep -q "^eps_tight: *$3 " "$tmp/p"
	status_ok $? "plan rho=$1 delta=$2 gives eps $3"
done
"$C" privacy plan --kind od --days 8 --rho 0.35 --nodes 4 --colluding 1 \
    >"$tmp/p"
grep -q '^delta2: *2.645751 (delta2^2 = 7)' "$tmp/p" &&
    grep -q '^sigma2: *10 ' "$tmp/p" && grep -q '^sigma_h2: *4 ' "$tmp/p" &&
    grep -q '^released_variance: *16$' "$tmp/p" &&
    grep -q '^ci95_halfwidth: *8 ' "$tmp/p"
status_ok $? "plan od: delta2, sigma2, sigma_h2, released variance, interval"

# With a window: the per-data-month plan the federation charges
# (dp_requirement).  Residents over local March 2026 at UTC+60 read from
# Feb 28 23:00 UTC: both months can move the home (delta_m^2 = 2); 2 honest
# nodes over 10 cells cost 1 nano-rho, so sigma2 = 3 and each month pays
# ceil(2 10^9 / 6) + 1 nano-rho.
"$C" privacy plan --kind residents --rho 0.5 --start 2026-03-01 \
    --end 2026-04-01 --offset 60 --nodes 3 --colluding 1 --cells 10 >"$tmp/p"
grep -q '^months: *2 ' "$tmp/p" &&
    grep -q '^month 2026-02: *delta_m^2 = 2, rho_m = 0.333333335$' "$tmp/p" &&
    grep -q '^month 2026-03: *delta_m^2 = 2, rho_m = 0.333333335$' "$tmp/p" &&
    grep -q '^kls21_extra: *1 nano-rho' "$tmp/p" &&
    grep -q '^sigma2: *3 ' "$tmp/p" && grep -q '^sigma_h2: *4 ' "$tmp/p"
status_ok $? "plan residents across a month boundary: 2 months at delta_m^2 2"
# Migration with February in the gap between its windows: not charged.
"$C" privacy plan --kind migration --rho 0.25 --baseline 2026-01-27,2026-01-31 \
    --comparison 2026-03-01,2026-03-04 --nodes 3 --colluding 2 >"$tmp/p"
grep -q '^months: *2 ' "$tmp/p" && grep -q '^month 2026-01:' "$tmp/p" &&
    ! grep -q '^month 2026-02:' "$tmp/p" && grep -q '^month 2026-03:' "$tmp/p"
status_ok $? "plan migration: the gap month is not read"
# Displacement: a February baseline (the home can only vanish: B = 3) and
# three March observation days (2 each: 6); whole-subscriber h^2 B.
"$C" privacy plan --kind displacement --rho 0.5 --baseline 2026-02-24,2026-03-01 \
    --start 2026-03-01 --end 2026-03-04 --nodes 2 --colluding 0 --cells 60 \
    >"$tmp/p"
grep -q '^months: *2 ' "$tmp/p" &&
    grep -q '^month 2026-02: *delta_m^2 = 3, rho_m = 0.214285716$' "$tmp/p" &&
    grep -q '^month 2026-03: *delta_m^2 = 6, rho_m = 0.42857143$' "$tmp/p" &&
    grep -q '^sigma2: *7 ' "$tmp/p"
status_ok $? "plan displacement: baseline month B, observation month 2 per day"
# A baseline across the boundary: the home can move, all B cells: 2B.
"$C" privacy plan --kind displacement --rho 0.5 --baseline 2026-02-24,2026-03-02 \
    --start 2026-03-01 --end 2026-03-04 --nodes 2 --colluding 0 >"$tmp/p"
grep -q '^month 2026-02: *delta_m^2 = 6,' "$tmp/p" &&
    grep -q '^month 2026-03: *delta_m^2 = 6,' "$tmp/p"
status_ok $? "plan displacement: a baseline across months charges both 2B"
"$C" privacy plan --kind displacement --days 5 --holders 2 --rho 0.5 \
    --nodes 3 --colluding 1 >"$tmp/p"
grep -q '^delta2: *4.472136 (delta2^2 = 20)' "$tmp/p"
status_ok $? "plan displacement, whole subscriber: delta2^2 = h^2 B"

# 4. Bad arguments: one line "cairn privacy ...: error: ...", exit 1.
bad() {
	"$C" privacy "$@" >"$tmp/o" 2>"$tmp/e"
	rc=$?
	if [ $rc -eq 1 ] && [ ! -s "$tmp/o" ] &&
	    [ "$(wc -l <"$tmp/e")" -eq 1 ] &&
	    grep -q '^cairn privacy [a-z]*: error: ' "$tmp/e"; then
		ok "rejects: $* ($(cat "$tmp/e"))"
	else
		notok "rejects: $* (rc $rc: $(cat "$tmp/e"))"
	fi
}
bad sample --mechanism dgauss --sigma2 0 --count 5
bad sample --mechanism dgauss --sigma2 -4 --count 5
bad sample --mechanism dgauss --sigma2 1/0 --count 5
bad sample --mechanism dgauss --sigma2 3/x --count 5
bad sample --mechanism dgauss --sigma2 9223372036854775807 --count 5
# No pure-epsilon mechanism is offered (docs/privacy.md).
bad sample --mechanism dlaplace --scale 3 --count 5
bad sample --mechanism dgauss --scale 3 --count 5
bad sample --mechanism gauss --sigma2 4 --count 5
bad sample --mechanism dgauss --sigma2 4
bad sample --mechanism dgauss --sigma2 4 --count -1
bad sample --mechanism dgauss --sigma2 4 --count 5 --seed abc
bad sample --mechanism dgauss --sigma2 4 --count 5 --bogus 1
bad plan --kind presence --rho 0.1 --nodes 3 --colluding 3
bad plan --kind presense --rho 0.1 --nodes 3 --colluding 1
bad plan --kind presence --rho 0 --nodes 3 --colluding 1
bad plan --kind presence --rho 0.1 --delta 1 --nodes 3 --colluding 1
bad plan --kind od --days 1 --rho 0.1 --nodes 3 --colluding 1
bad plan --kind presence --rho 0.1 --nodes 3
bad plan --kind presence --rho 0.1 --start 2026-03-01 --end 2026-03-03 --days 2 --nodes 3 --colluding 1
bad plan --kind presence --rho 0.1 --offset 60 --nodes 3 --colluding 1
bad plan --kind presence --rho 0.1 --start 2026-03-01 --end 2026-03-03 --bucket week --nodes 3 --colluding 1
bad plan --kind presence --rho 0.1 --start 2026-03-01 --end 2026-03-01 --nodes 3 --colluding 1
bad plan --kind residents --rho 0.1 --start 2026-03-01 --end 2026-03-03 --offset 1440 --nodes 3 --colluding 1
bad plan --kind migration --rho 0.1 --start 2026-03-01 --end 2026-03-03 --nodes 3 --colluding 1
bad plan --kind migration --rho 0.1 --baseline 2026-03-01 --comparison 2026-03-05,2026-03-07 --nodes 3 --colluding 1
bad plan --kind displacement --rho 0.1 --baseline 2026-03-01,2026-03-03 --comparison 2026-03-05,2026-03-07 --nodes 3 --colluding 1
bad plan --kind displacement --rho 0.1 --start 2026-03-01 --end 2026-03-03 --nodes 3 --colluding 1

# 5. Help.
"$C" privacy sample --help | grep -q '^usage: cairn privacy sample'
status_ok $? "sample --help"
"$C" privacy plan --help | grep -q '^usage: cairn privacy plan'
status_ok $? "plan --help"
"$C" privacy --help | grep -q 'sample'
status_ok $? "privacy --help lists the subcommands"

# 6. No floating point on the sampling path.
if grep -nE 'math\.h|float\.h|\<(float|double)\>|[0-9]\.[0-9]' \
    "$TOP"/privacy/dp_int.h "$TOP"/privacy/rng.c "$TOP"/privacy/bernoulli.c \
    "$TOP"/privacy/dgauss.c "$TOP"/privacy/dlaplace.c \
    "$TOP"/privacy/rational.c | grep -v '^[^:]*:[0-9]*: \*'; then
	notok "sampler files use no floating point"
else
	ok "sampler files use no floating point"
fi
tap_done
