#!/usr/bin/env python3
"""tiles_fixture.py - write a coordinator's log as C2SP tlog-tiles.

Usage: tiles_fixture.py DATA_DIR OUT_DIR

Reads DATA_DIR/log.db (the entries) and DATA_DIR/coord.db (the signed
checkpoints and the witnesses' cosignature lines) with the standard
library only, and writes OUT_DIR/checkpoint (the largest cosigned
checkpoint with its cosignatures), OUT_DIR/tile/<L>/<N>[.p/<W>] and
OUT_DIR/tile/entries/<N>[.p/<W>] for that size.  A test fixture for the
portal's browser tests (tests/e2e/portal.sh), written from the C2SP text
and RFC 6962, not from cairn's C; the coordinator's own public directory
([public] dir, issue #14 items 1-2) replaces it when it is there.
"""
import hashlib
import os
import sqlite3
import sys


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def tile_path(level, n, width):
    s = "%03d" % (n % 1000)
    n //= 1000
    while n > 0:
        s = "x%03d/%s" % (n % 1000, s)
        n //= 1000
    return "tile/%s/%s%s" % (level, s, "" if width == 256 else
                             ".p/%d" % width)


def write(out, path, data):
    full = os.path.join(out, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full + ".tmp", "wb") as f:
        f.write(data)
    os.rename(full + ".tmp", full)


def main(data_dir, out):
    coord = sqlite3.connect("file:%s/coord.db?mode=ro" % data_dir, uri=True)
    row = coord.execute(
        "SELECT c.size, c.note FROM checkpoints c WHERE EXISTS (SELECT 1 "
        "FROM cosigs s WHERE s.size = c.size) ORDER BY c.size DESC "
        "LIMIT 1").fetchone()
    if row is None:
        sys.exit("tiles_fixture.py: %s/coord.db: no cosigned checkpoint"
                 % data_dir)
    size, note = row
    lines = [r[0] for r in coord.execute(
        "SELECT line FROM cosigs WHERE size = ? ORDER BY witness", (size,))]
    log = sqlite3.connect("file:%s/log.db?mode=ro" % data_dir, uri=True)
    entries = [bytes(r[0]) for r in log.execute(
        "SELECT data FROM entries WHERE idx < ? ORDER BY idx", (size,))]
    if len(entries) != size:
        sys.exit("tiles_fixture.py: log.db holds %d of %d entries"
                 % (len(entries), size))
    for n in range(0, (size + 255) // 256):
        chunk = entries[n * 256:(n + 1) * 256]
        if any(len(e) > 65535 for e in chunk):
            sys.exit("tiles_fixture.py: an entry over 65,535 bytes")
        write(out, tile_path("entries", n, len(chunk)),
              b"".join(len(e).to_bytes(2, "big") + e for e in chunk))
    level = [hashlib.sha256(b"\x00" + e).digest() for e in entries]
    tl = 0
    while level:
        for n in range(0, (len(level) + 255) // 256):
            chunk = level[n * 256:(n + 1) * 256]
            write(out, tile_path(tl, n, len(chunk)), b"".join(chunk))
        # The next tile level: roots of full level-tl tiles (8 levels up).
        full = len(level) // 256
        up = []
        for n in range(full):
            hs = level[n * 256:(n + 1) * 256]
            while len(hs) > 1:
                hs = [node(hs[i], hs[i + 1]) for i in range(0, len(hs), 2)]
            up.append(hs[0])
        level = up
        tl += 1
    write(out, "checkpoint", (note + "".join(l.rstrip("\n") + "\n" for l in lines))
          .encode())


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: tiles_fixture.py DATA_DIR OUT_DIR")
    main(sys.argv[1], sys.argv[2])
