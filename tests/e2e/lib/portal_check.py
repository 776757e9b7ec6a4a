#!/usr/bin/env python3
"""portal_check.py - the assertions of tests/e2e/portal.sh on what the
browser showed (the JSON of tests/e2e/portal_browser.mjs).

Usage: portal_check.py CHECK PAGE.json [ARGS...]; exits 0 when CHECK
holds, else prints why and exits 1.  CHECKs:
  verified                 the page says verified, no console errors, every
                           request went to the page's own origin
  queries AUDIT_LINE       one card per query, outcomes, charges and
                           refusals as counted by `cairn audit verify`
  eps CAIRN                every cost links to the ε explanation and shows
                           the ε `cairn privacy plan` computes for its ρ
  budgets BUDGET.csv       the rows equal `cairn query budget`'s
  french                   the French catalogue rendered
  failed NEEDLE            the page says failed, naming NEEDLE, shows no
                           question
  text NEEDLE              NEEDLE is in the page's visible text
  phone                    nothing wider than a phone's screen
  keyboard                 the first Tab stop is the skip link
"""
import json
import re
import subprocess
import sys
from urllib.parse import urlparse


def nano(text):
    """Exact nano-rho of a decimal text (as common/rho.c writes it)."""
    whole, _, frac = text.partition(".")
    return int(whole) * 10**9 + int((frac + "000000000")[:9])


def main():
    check, page = sys.argv[1], json.load(open(sys.argv[2]))
    args = sys.argv[3:]
    if check == "verified":
        if page["verified"] != "verified":
            return "not verified: " + page["status"]
        if page["errors"]:
            return "console errors: %s" % page["errors"]
        origins = {urlparse(u).netloc for u in page["requests"]
                   if not u.startswith("data:")}
        if len(origins) != 1:
            return "requests to more than one origin: %s" % origins
        if page["broken_links"]:
            return "%d links to nothing" % page["broken_links"]
        return None
    if check == "queries":
        m = re.search(r"(\d+) queries, (\d+) charges .*?(\d+) refusals, "
                      r"(\d+) releases, (\d+) failures", args[0])
        if not m:
            return "no audit counts in: " + args[0]
        nq, nc, nr, nrel, nf = map(int, m.groups())
        qs = page["queries"]
        if len(qs) != nq:
            return "%d questions shown, the audit counts %d" % (len(qs), nq)
        idx = [int(q["index"]) for q in qs]
        if idx != sorted(idx, reverse=True):
            return "not newest first: %s" % idx
        charges = {c["index"] for q in qs for c in q["costs"]}
        if len(charges) != nc:
            return "%d charges shown, the audit counts %d" % (len(charges),
                                                               nc)
        refused = sum(1 for q in qs for h in q["holders"]
                      if h[1] == "refused")
        if refused != nr:
            return "%d refusals shown, the audit counts %d" % (refused, nr)
        rel = sum(1 for q in qs if q["outcome"] == "released")
        fail = sum(1 for q in qs if q["outcome"] == "failed")
        if rel != nrel or fail != nf:
            return "%d released, %d failed shown; audit: %d, %d" % (
                rel, fail, nrel, nf)
        for q in qs:
            if not q["analyst"] or not q["purpose"] or not q["what"]:
                return "question %s lacks who, why or what" % q["id"]
        return None
    if check == "eps":
        seen = {}
        for q in page["queries"]:
            for c in q["costs"]:
                if c["eps"] != "#epsilon":
                    return "a cost of %s does not link to #epsilon" % q["id"]
                m = re.search(r"ε = ([0-9.,]+)", c["text"])
                if not m:
                    return "no ε in: " + c["text"]
                seen[int(c["nano"])] = m.group(1)
        if not seen:
            return "no cost shown"
        for n, eps in seen.items():
            rho = "%d.%09d" % divmod(n, 10**9)
            out = subprocess.run(
                [args[0], "privacy", "plan", "--kind", "residents", "--rho",
                 rho, "--delta", "1e-6", "--nodes", "3", "--colluding", "0"],
                capture_output=True, text=True, check=True).stdout
            tight = float(re.search(r"eps_tight:\s+([0-9.]+)", out).group(1))
            if abs(float(eps) - tight) > 0.006:
                return "rho %s: page says ε = %s, cairn privacy plan %s" % (
                    rho, eps, tight)
        return None
    if check == "budgets":
        want = set()
        for line in open(args[0]):
            if line.startswith("#") or line.startswith("holder,"):
                continue
            h, mo, b, s, left, _ = line.strip().split(",")
            want.add((h, mo.replace("-", "") if mo != "*" else "*",
                      nano(b), nano(s), nano(left)))
        got = {(r["holder"], r["month"], int(r["budget"]), int(r["spent"]),
                int(r["left"])) for r in page["budgets"]}
        if not want:
            return "cairn query budget printed no row"
        if got != want:
            return "page %s != cairn query budget %s" % (
                sorted(got - want), sorted(want - got))
        if not all(r["bar"] for r in page["budgets"]):
            return "a budget row without its bar"
        return None
    if check == "french":
        if page["lang"] != "fr":
            return "lang is %s" % page["lang"]
        for needle in ("Vérifié dans votre navigateur", "Posée par",
                       "Finalité déclarée", "mars 2026", "soit ε = ",
                       "Budgets de confidentialité"):
            if needle not in page["text"]:
                return "no '%s' on the French page" % needle
        if re.search(r"ρ = \d+\.\d", page["text"]):
            return "a ρ with a decimal point on the French page"
        return None
    if check == "failed":
        if page["verified"] != "failed":
            return "the page says %s: %s" % (page["verified"], page["status"])
        if args[0] not in page["status"]:
            return "'%s' not named in: %s" % (args[0], page["status"])
        if page["queries"] or page["budgets"]:
            return "questions or budgets shown after a failed check"
        return None
    if check == "text":
        return None if args[0] in page["text"] else (
            "no '%s' in the page's text" % args[0])
    if check == "phone":
        return "wider than the screen" if page["wide"] else None
    if check == "keyboard":
        return None if page["focus"][:1] == ["#log"] else (
            "first Tab stops: %s" % page["focus"])
    return "unknown check " + check


if __name__ == "__main__":
    why = main()
    if why:
        print(why)
        sys.exit(1)
