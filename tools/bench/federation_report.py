# federation_report.py NAME T_SUBMIT T_RELEASED T_RESULT LOCAL_TIMES LOGDIR
# - the figures of one federated round for tools/bench/federation.sh.
#
# LOCAL_TIMES is "op1=s,op2=s,op3=s": each node's `cairn-node run-local
# --store --no-noise` time alone.  LOGDIR holds op1.log .. op3.log and
# coord.log, every line prefixed with its epoch time (federation_ts.py).
# The node daemon logs no computation time, so local computation is the
# run-local figure; the timestamped log lines split the rest into phases.
import os
import sys

name = sys.argv[1]
t0, trel, tres = float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
local = {}
for kv in sys.argv[5].split(","):
    k, v = kv.split("=")
    local[k] = float(v)
logdir = sys.argv[6]
qid = name

MARKS = [
    ("task", "task: query '%s'" % qid),
    ("vector", "exact vector:"),
    ("charged", "charged query '%s'" % qid),
    ("sent", "query '%s' attempt" % qid),
]


def node_marks(path):
    got = {}
    for line in open(path, errors="replace"):
        ts, _, rest = line.partition(" ")
        try:
            t = float(ts)
        except ValueError:
            continue
        if t < t0:
            continue
        for key, pat in MARKS:
            if key in got:
                continue
            if key == "sent" and "masked share" not in rest:
                continue
            if key == "vector" and "task" not in got:
                continue
            if pat in rest:
                got[key] = t
    return got


total = trel - t0
mx = max(local.values())
sm = sum(local.values())
over = total - mx
pct = 100.0 * over / total if total > 0 else 0.0
print("   round wall time, submit to released:   %8.3f s" % total)
print("   result download (query result):        %8.3f s (not in the round)" % (tres - trel))
print("   local computation alone (run-local --store --no-noise, 2 threads):")
for k in sorted(local):
    print("     %-4s %8.3f s" % (k, local[k]))
print("   max local %.3f s, sum %.3f s (the 3 nodes share 2 cores)" % (mx, sm))
print("   overhead = total - max local:          %8.3f s = %.1f%% of the round (target <= 10%%: %s)"
      % (over, pct, "met" if pct <= 10.0 else "MISSED"))

phases = {}
print("   phases from the timestamped daemon logs (seconds after submit):")
print("     %-4s %8s %8s %8s %8s" % ("node", "task", "vector", "charged", "sent"))
for k in sorted(local):
    p = os.path.join(logdir, k + ".log")
    m = node_marks(p) if os.path.exists(p) else {}
    phases[k] = m
    print("     %-4s %s" % (k, " ".join(
        "%8.3f" % (m[key] - t0) if key in m else "%8s" % "-"
        for key, _ in MARKS)))
trel_coord = None
cp = os.path.join(logdir, "coord.log")
if os.path.exists(cp):
    for line in open(cp, errors="replace"):
        ts, _, rest = line.partition(" ")
        if ("query %s released" % qid) in rest:
            try:
                trel_coord = float(ts)
            except ValueError:
                pass
            break
if trel_coord is not None:
    tc = trel_coord - t0
    print("   round to the coordinator's release (its log line):  %8.3f s; overhead %.3f s = %.1f%% (%s)"
          % (tc, tc - mx, 100.0 * (tc - mx) / tc if tc > 0 else 0.0,
             "met" if tc > 0 and (tc - mx) / tc <= 0.10 else "MISSED"))
    print("   `query wait` saw the release %.3f s after the coordinator logged it (its poll backs off 0.2 s .. 5 s)"
          % (trel - trel_coord))
ok = all(all(key in m for key, _ in MARKS) for m in phases.values())
if ok:
    # The critical path: the node charged last, then the round's tail.
    crit = max(phases, key=lambda k: phases[k]["charged"])
    c = phases[crit]
    last_charged = c["charged"]
    last_sent = max(m["sent"] for m in phases.values())
    comp = c["vector"] - c["task"]
    tail_end = trel_coord if trel_coord is not None else trel
    parts = [
        ("dispatch: submit to %s's task (poll wait, log fetch)" % crit, c["task"] - t0),
        ("%s: log check + query check + computation" % crit, comp),
        ("%s: noise + ledger charge" % crit, c["charged"] - c["vector"]),
        ("advertise + roster + mask + upload, after the last charge", last_sent - last_charged),
        ("last share to the release (sum, sign, log)" if trel_coord is not None
         else "last share to `query wait` returning", tail_end - last_sent),
    ]
    if trel_coord is not None:
        parts.append(("release to `query wait` returning (its poll interval)", trel - trel_coord))
    print("   the round along its critical path (node %s charged last):" % crit)
    for label, v in parts:
        print("     %-66s %7.3f s" % (label, v))
    print("     (%s's computation window is %.3f s beyond run-local's max: 3 nodes on 2 cores, log check)"
          % (crit, comp - mx))
    print("   against %s's own computation window (%.3f s) instead of run-local's max:" % (crit, comp))
    for label, te in (("the coordinator's release", trel_coord), ("`query wait` returning", trel)):
        if te is None:
            continue
        tt = te - t0
        print("     round to %s: overhead %.3f s = %.1f%% (%s)"
              % (label, tt - comp, 100.0 * (tt - comp) / tt if tt > 0 else 0.0,
                 "met" if tt > 0 and (tt - comp) / tt <= 0.10 else "MISSED"))
    if pct > 10.0:
        cands = [x for i, x in enumerate(parts) if i != 1]
        big = max(cands, key=lambda x: x[1])
        print("   target missed; the largest part outside computation: %s (%.3f s)" % (big[0], big[1]))
else:
    print("   (some daemon log marks are missing; phases not computed)")
