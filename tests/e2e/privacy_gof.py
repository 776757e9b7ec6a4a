#!/usr/bin/env python3
"""privacy_gof.py MECH PARAM MIN_P < samples

An independent goodness-of-fit check of `cairn privacy sample` output,
written apart from the C tests: read integers (one per line) and test them
against the exact pmf of the discrete Gaussian (MECH = dgauss, PARAM =
sigma2) or discrete Laplace (MECH = dlaplace, PARAM = scale); PARAM is P,
P/Q or I.F.  Chi-squared over bins expecting >= 20 (tails merged; 5 makes
the statistic heavier-tailed than chi-squared), with the
p-value from the regularised incomplete gamma function; mean and second
moment as z-scores against their exact standard errors.  Prints one line
and exits 1 when p < MIN_P or a |z| > 5.
"""
import math
import sys
from fractions import Fraction
import os
MINEXP = float(os.environ.get("GOF_MINEXP", "20"))


def gammq(a, x):
    """Upper regularised incomplete gamma Q(a, x) (series / Lentz CF)."""
    if x <= 0:
        return 1.0
    lg = math.lgamma(a)
    if x < a + 1:
        s = term = 1.0 / a
        n = a
        for _ in range(100000):
            n += 1
            term *= x / n
            s += term
            if abs(term) < abs(s) * 1e-16:
                break
        return 1.0 - s * math.exp(-x + a * math.log(x) - lg)
    b = x + 1 - a
    c = 1e300
    d = 1 / b
    h = d
    for i in range(1, 100000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = 1e-300 if abs(d) < 1e-300 else d
        c = b + an / c
        c = 1e-300 if abs(c) < 1e-300 else c
        d = 1 / d
        dl = d * c
        h *= dl
        if abs(dl - 1) < 1e-16:
            break
    return math.exp(-x + a * math.log(x) - lg) * h


def main():
    mech, param, min_p = sys.argv[1], Fraction(sys.argv[2]), float(sys.argv[3])
    xs = [int(line) for line in sys.stdin if line.strip()]
    n = len(xs)
    v = float(param)
    if mech == "dgauss":
        half = int(math.ceil(math.sqrt(1500 * v))) + 1
        w = [math.exp(-x * x / (2 * v)) for x in range(-half, half + 1)]
    elif mech == "dlaplace":
        half = int(math.ceil(750 * v)) + 1
        w = [math.exp(-abs(x) / v) for x in range(-half, half + 1)]
    else:
        sys.exit("privacy_gof.py: unknown mechanism " + mech)
    z = sum(w)
    p = [x / z for x in w]
    idx = [i for i in range(len(p)) if p[i] * n >= MINEXP]
    a, b = idx[0], idx[-1]
    exp_ = [sum(p[:a])] + p[a:b + 1] + [sum(p[b + 1:])]
    obs = [0] * len(exp_)
    m1 = m2 = 0
    for x in xs:
        k = x + half
        obs[0 if k < a else len(exp_) - 1 if k > b else k - a + 1] += 1
        m1 += x
        m2 += x * x
    exp_ = [e * n for e in exp_]
    for end, nxt in ((0, 1), (len(exp_) - 1, len(exp_) - 2)):
        if exp_[end] < 5:
            exp_[nxt] += exp_[end]
            obs[nxt] += obs[end]
            exp_[end] = obs[end] = 0
    chi2 = sum((o - e) ** 2 / e for o, e in zip(obs, exp_) if e > 0)
    df = sum(1 for e in exp_ if e > 0) - 1
    pval = gammq(df / 2, chi2 / 2)
    var = sum(pi * (i - half) ** 2 for i, pi in enumerate(p))
    mu4 = sum(pi * (i - half) ** 4 for i, pi in enumerate(p))
    zm = (m1 / n) / math.sqrt(var / n)
    zv = (m2 / n - var) / math.sqrt((mu4 - var * var) / n)
    ok = pval >= min_p and abs(zm) <= 5 and abs(zv) <= 5
    print("%s %s n=%d chi2=%.2f df=%d p=%.4g z_mean=%+.2f z_var=%+.2f %s" %
          (mech, sys.argv[2], n, chi2, df, pval, zm, zv,
           "pass" if ok else "FAIL"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
