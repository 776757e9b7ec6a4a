# federation_ts.py - copy stdin to stdout, each line prefixed with the
# wall-clock time (seconds since the epoch, microseconds) at which it was
# read; bench/federation.sh runs each daemon's stderr through it.
import sys
import time

for line in sys.stdin:
    sys.stdout.write("%.6f %s" % (time.time(), line))
    sys.stdout.flush()
