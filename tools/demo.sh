#!/bin/sh
# demo.sh BUILD_DIR - the main job, `make demo`.
#
# The whole federation on loopback (nodes, coordinator, analyst, auditor)
# is not built yet.  Until it is, this demo runs only the privacy engine:
# `cairn privacy plan` for a presence query at a few rho, and
# `cairn privacy sample` drawing the nodes' exact noise, showing that the
# released noise matches the planned variance and 95% interval.
set -eu
O=${1:-build}
B="$O/bin"
C="$B/cairn"

cat <<'HEAD'
==========================================================================
cairn demo: PRIVACY PLANNER AND SAMPLER ONLY.
The federation on loopback (nodes, coordinator, secure aggregation,
transparency log) is not built yet; this demo runs `cairn privacy plan`
and `cairn privacy sample`, nothing else.
==========================================================================
HEAD
"$C" version
echo
echo "1. Plan a presence query: 30 daily buckets, top-1 region per day,"
echo "   5 operators of which up to 1 may collude with the coordinator,"
echo "   delta = 1e-6.  Each row is one 'cairn privacy plan' run."
echo
printf '%8s %8s %9s %11s %7s %8s %10s %11s\n' rho sigma2 sigma_h2 \
    released_sd ci95_w rho_hon eps_tight eps_simple
for rho in 0.05 0.1 0.5 1 2; do
	"$C" privacy plan --kind presence --days 30 --k 1 --rho "$rho" \
	    --nodes 5 --colluding 1 --delta 1e-6 | awk -v rho="$rho" '
	    /^sigma2:/ { s2 = $2 } /^sigma_h2:/ { sh = $2 }
	    /^released_sigma:/ { sd = $2 } /^ci95_halfwidth:/ { w = $2 }
	    /^rho_honest:/ { rh = $2 }
	    /^eps_tight:/ { et = $2 } /^eps_simple:/ { es = $2 }
	    END { printf "%8s %8s %9s %11s %7s %8.4f %10s %11s\n",
	        rho, s2, sh, sd, w, rh, et, es }'
done
echo
echo "   The full plan for rho = 0.1:"
"$C" privacy plan --kind presence --days 30 --rho 0.1 --nodes 5 \
    --colluding 1 | sed 's/^/     /'

echo
sh2=$("$C" privacy plan --kind presence --days 30 --rho 0.1 --nodes 5 \
    --colluding 1 | awk '/^sigma_h2:/ { print $2 }')
w=$("$C" privacy plan --kind presence --days 30 --rho 0.1 --nodes 5 \
    --colluding 1 | awk '/^ci95_halfwidth:/ { print $2 }')
cells=20000
echo "2. Each of the 5 nodes draws its noise exactly: discrete Gaussian with"
echo "   sigma_h2 = $sh2, from the CSPRNG (cairn privacy sample).  Summing"
echo "   the 5 nodes' noise over $cells cells:"
"$C" privacy sample --mechanism dgauss --sigma2 "$sh2" \
    --count $((5 * cells)) | awk -v w="$w" -v v="$((5 * sh2))" '
    { s += $1 }
    NR % 5 == 0 {
	n++; m2 += s * s
	if ((s < 0 ? -s : s) <= w) in_w++
	s = 0
    }
    END {
	printf "     released noise variance  %.1f (planned %d)\n", m2 / n, v
	printf "     cells within +-%d       %.2f%% (planned >= 95%%)\n",
	    w, 100 * in_w / n
    }'
echo
echo "3. The first 10 noise values of one node (sigma_h2 = $sh2):"
printf '     '
"$C" privacy sample --mechanism dgauss --sigma2 "$sh2" --count 10 |
    tr '\n' ' '
echo
echo
echo "4. Discrete Laplace for pure-eps policies, scale 10/3:"
printf '     '
"$C" privacy sample --mechanism dlaplace --scale 10/3 --count 10 |
    tr '\n' ' '
echo
echo
echo "Done (privacy engine only; see docs/privacy.md)."
