#!/bin/sh
# rho_exact.sh - rho is one exact integer of nano-rho (issue #12 item 11):
# `cairn privacy plan` takes rho exactly, refuses a rho that is not a whole
# number of nano-rho, and gives January's rho_m for a presence query at
# 0.123456789 as 0.100000001, the exact charge that
# tests/e2e/cases/rho_exact.case then finds in each node's ledger, the
# log's CHARGE entries and the audit (the federation part, with the
# refusals of `cairn query submit` and SubmitQuery, is that case file).
set -u
: "${CAIRN_BIN:?}" "${CAIRN_TOP:?}"
T=$(mktemp -d /tmp/cairn-rho-XXXXXX)
trap 'rm -rf "$T"' EXIT
C="$CAIRN_BIN/cairn"
. "$CAIRN_TOP/tests/e2e/lib/tap.sh"

# What each node charges January: dp_requirement's rho_m for this query
# (presence, 2026-01-10, k = 1, 4 regions, 2 nodes, c = 0), as the
# planner prints it — the node, the planner and the audit must agree.
# By hand: Delta_m^2 = 1, the KLS21 term x = 1 nano-rho, sigma^2 =
# ceil(10^9 / (2 (123456789 - 1))) = 5, rho_m = 10^9 / 10 + 1.
"$C" privacy plan --kind presence --rho 0.123456789 --start 2026-01-10 \
    --end 2026-01-11 --k 1 --nodes 2 --colluding 0 --cells 4 >"$T/plan" 2>&1
RM=$(sed -n 's/^month 2026-01: *delta_m^2 = 1, rho_m = \([0-9.]*\)$/\1/p' "$T/plan")
holds "privacy plan: January pays rho_m 0.100000001 of the 0.123456789 asked" \
    '[ "$RM" = 0.100000001 ]'

"$C" privacy plan --kind presence --rho 0.123456789 --days 1 --k 1 \
    --nodes 2 --colluding 0 >"$T/out" 2>&1
has "privacy plan prints rho 0.123456789 exactly" \
    "^rho: *0.123456789 (charged"
if "$C" privacy plan --kind presence --rho 0.1234567891 --days 1 --k 1 \
    --nodes 2 --colluding 0 >"$T/out" 2>&1; then notok "privacy plan refuses 0.1234567891"
else has "privacy plan refuses 0.1234567891" "more than 9 decimals"; fi

echo "1..$n"
tap_done
