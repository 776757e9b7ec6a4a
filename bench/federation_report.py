# federation_report.py NAME T_SUBMIT T_RELEASED T_RESULT|- LOCAL_TIMES LOGDIR
# - the figures of one federated round for bench/federation.sh
# (docs/benchmarks.md, "Benchmark: federation overhead").
#
# LOCAL_TIMES is "op1=s,op2=s,op3=s": each node's `cairn-node run-local
# --store --no-noise` time alone.  LOGDIR holds op1.log .. op3.log and
# coord.log, every line prefixed with its epoch time (federation_ts.py).
#
# Each node daemon logs one line per task,
#   timing: query 'Q' attempt A: log_check S query_check S compute S
#   log_wait S noise S ledger S advertise S roster_wait S mask S upload S
#   total S compute_window START END
# (seconds, measured in the daemon with the monotonic clock; the window
# in wall-clock epoch seconds).  The query check comes first, then the
# computation runs on its own thread while the log is checked; log_wait
# is the part of the log check left after the computation ended.  The overhead is the round (submit to the
# coordinator's release, and to `query wait` returning) minus the
# computation window of the critical-path node: the node whose
# computation ended last, so nothing that follows it is computation.
import os
import sys

name = sys.argv[1]
# T_RESULT "-": `query result` was not run for this round.
t0, trel = float(sys.argv[2]), float(sys.argv[3])
tres = None if sys.argv[4] == "-" else float(sys.argv[4])
local = {}
for kv in sys.argv[5].split(","):
    k, v = kv.split("=")
    local[k] = float(v)
logdir = sys.argv[6]
qid = name
PHASES = ["log_check", "query_check", "compute", "log_wait", "noise",
          "ledger", "advertise", "roster_wait", "mask", "upload"]
TARGET = 10.0


def verdict(over, tot):
    pct = 100.0 * over / tot if tot > 0 else 0.0
    return "%.3f s = %.1f%% (target <= %.0f%%: %s)" % (
        over, pct, TARGET, "met" if pct <= TARGET else "MISSED")


def node_timing(path):
    """The daemon's timing line of this query's last attempt."""
    got = None
    for line in open(path, errors="replace"):
        _, _, rest = line.partition(" ")
        key = "timing: query '%s' attempt " % qid
        i = rest.find(key)
        if i < 0:
            continue
        f = rest[i + len(key):].split()
        # "A: log_check S ... total S compute_window START END"
        vals = {}
        j = 1
        while j + 1 < len(f):
            if "=" in f[j]:
                break       # the log's own fields (query=, attempt=)
            if f[j] == "compute_window":
                vals["cw_start"] = float(f[j + 1])
                vals["cw_end"] = float(f[j + 2])
                j += 3
                continue
            vals[f[j]] = float(f[j + 1])
            j += 2
        got = vals
    return got


def coord_mark(path, pattern):
    if not os.path.exists(path):
        return None
    for line in open(path, errors="replace"):
        ts, _, rest = line.partition(" ")
        if pattern in rest:
            try:
                t = float(ts)
            except ValueError:
                continue
            if t >= t0:
                return t
    return None


total = trel - t0
mx = max(local.values())
sm = sum(local.values())
cp = os.path.join(logdir, "coord.log")
tsub = coord_mark(cp, "SubmitQuery from")
tstart = coord_mark(cp, "query %s attempt" % qid)
trc = coord_mark(cp, "query %s released" % qid)
print("   round, submit to `query wait` released: %8.3f s" % total)
if trc is not None:
    print("   round, submit to the coordinator's release: %8.3f s"
          % (trc - t0))
if tres is not None:
    print("   result download (query result):         %8.3f s (not in the round)"
          % (tres - trel))

tm = {}
for k in sorted(local):
    p = os.path.join(logdir, k + ".log")
    t = node_timing(p) if os.path.exists(p) else None
    if t is not None and all(x in t for x in PHASES + ["cw_end"]):
        tm[k] = t
print("   each node's task as its daemon timed it (seconds):")
print("     %-4s %s %8s" % ("node", " ".join("%11s" % x for x in PHASES),
                            "total"))
for k in sorted(tm):
    print("     %-4s %s %8.3f" % (k, " ".join("%11.3f" % tm[k][x]
                                              for x in PHASES),
                                 tm[k]["total"]))

if len(tm) == len(local) and trc is not None:
    crit = max(tm, key=lambda k: tm[k]["cw_end"])
    c = tm[crit]
    comp = c["compute"]
    recv = c["cw_start"] - c["query_check"]
    up_end = c["cw_end"] + sum(c[x] for x in PHASES[3:])
    print("   OVERHEAD = round - computation window of the critical-path "
          "node (%s, computation ended last: %.3f s):" % (crit, comp))
    print("     to the coordinator's release:  " + verdict(trc - t0 - comp,
                                                          trc - t0))
    print("     to `query wait` returning:     " + verdict(total - comp,
                                                          total))
    if tsub is not None:
        print("     the coordinator's round, SubmitQuery received to its "
              "release: " + verdict(trc - tsub - comp, trc - tsub))
    parts = []
    if tsub is not None and tstart is not None:
        parts.append(("submit to the coordinator's SubmitQuery (client "
                      "start, keys, TLS)", tsub - t0))
        parts.append(("SubmitQuery to the attempt start (checks, QUERY "
                      "logged, stored)", tstart - tsub))
    if tstart is not None:
        if tsub is None:
            parts.append(("submit to the coordinator's attempt start",
                          tstart - t0))
        parts.append(("attempt start to %s's task (dispatch)" % crit,
                      recv - tstart))
    else:
        parts.append(("submit to %s's task" % crit, recv - t0))
    parts += [
        ("%s: query check (signature, policy)" % crit, c["query_check"]),
        ("%s: COMPUTATION (the engine)" % crit, comp),
        ("%s: log check left after it (whole log check %.3f s beside the "
         "computation)" % (crit, c["log_check"]), c["log_wait"]),
        ("%s: noise" % crit, c["noise"]),
        ("%s: ledger commit (charge + noisy vector, fsync)" % crit,
         c["ledger"]),
        ("%s: advertise" % crit, c["advertise"]),
        ("%s: wait for the roster (other nodes' charges)" % crit,
         c["roster_wait"]),
        ("%s: roster check + masking" % crit, c["mask"]),
        ("%s: upload of the masked share" % crit, c["upload"]),
        ("%s's upload to the release (other shares, sum, sign, log)" % crit,
         trc - up_end),
        ("release to `query wait` returning", trel - trc),
    ]
    print("   the round along the critical path (sums to the round):")
    for label, v in parts:
        print("     %-66s %7.3f s" % (label, v))
    big = max((x for x in parts if not x[0].endswith("(the engine)")),
              key=lambda x: x[1])
    print("   largest part outside computation: %s (%.3f s)" % big)
else:
    print("   (a daemon timing line or the coordinator's release line is "
          "missing; no critical path)")

print("   for comparison, against run-local alone (the old figure):")
for k in sorted(local):
    print("     %-4s run-local %8.3f s" % (k, local[k]))
print("     max local %.3f s, sum %.3f s (the 3 nodes share 2 cores)"
      % (mx, sm))
if trc is not None:
    print("     round to the release - max local:  " + verdict(trc - t0 - mx,
                                                              trc - t0))
print("     round to `query wait` - max local: " + verdict(total - mx, total))
