#!/usr/bin/env python3
"""dbfault.py - damage a copy of a cairn SQLite store the way a fault would,
for tests/e2e/coord_damage.sh (and node_backup.sh).

  size LOGDB                 number of entries of a log store
  entry-byte LOGDB I         flip one byte of entry I's data (not its hash)
  entry-byte-rehash LOGDB I  the same, and store the new leaf hash too
  sql DB STATEMENT           run one SQL statement and commit
  pages DB                   number of pages of the file
  flip DB PAGE head|tail     XOR 0xFF into one byte of page PAGE (0-based):
                             'head' the page header's cell-content offset,
                             'tail' 24 bytes before the page's end (cells)
  same DB1 DB2               exit 0 when every row of every table of both
                             files is the same (DB2 opened read-only)
"""
import hashlib
import sqlite3
import sys


def conn(path, ro=False):
    if ro:
        return sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    return sqlite3.connect(path)


def entry_byte(path, idx, rehash):
    c = conn(path)
    data = bytearray(c.execute("SELECT data FROM entries WHERE idx = ?",
                               (idx,)).fetchone()[0])
    data[len(data) // 2] ^= 0x01
    c.execute("UPDATE entries SET data = ? WHERE idx = ?", (bytes(data), idx))
    if rehash:
        leaf = hashlib.sha256(b"\x00" + bytes(data)).digest()
        c.execute("UPDATE entries SET leaf = ? WHERE idx = ?", (leaf, idx))
    c.commit()
    c.close()


def page_size(path):
    with open(path, "rb") as f:
        h = f.read(100)
    ps = int.from_bytes(h[16:18], "big")
    return 65536 if ps == 1 else ps


def flip(path, page, at):
    ps = page_size(path)
    base = page * ps
    off = base + (100 if page == 0 else 0) + 5 if at == "head" \
        else base + ps - 24
    with open(path, "r+b") as f:
        f.seek(off)
        b = f.read(1)
        f.seek(off)
        f.write(bytes([b[0] ^ 0xFF]))


def rows(path):
    c = conn(path, ro=True)
    out = {}
    names = [r[0] for r in c.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    schema = list(c.execute("SELECT type, name, tbl_name, sql FROM "
                            "sqlite_master ORDER BY name"))
    for n in names:
        out[n] = sorted(map(repr, c.execute('SELECT * FROM "%s"' % n)))
    c.close()
    return schema, out


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    if cmd == "size":
        c = conn(path, ro=True)
        print(c.execute("SELECT count(*) FROM entries").fetchone()[0])
    elif cmd in ("entry-byte", "entry-byte-rehash"):
        entry_byte(path, int(sys.argv[3]), cmd == "entry-byte-rehash")
    elif cmd == "sql":
        c = conn(path)
        c.execute(sys.argv[3])
        c.commit()
        c.close()
    elif cmd == "pages":
        import os
        print(os.path.getsize(path) // page_size(path))
    elif cmd == "flip":
        flip(path, int(sys.argv[3]), sys.argv[4])
    elif cmd == "same":
        try:
            a = rows(path)
            b = rows(sys.argv[3])
        except sqlite3.Error as e:
            print("cannot read: %s" % e)
            return 1
        if a != b:
            for t in a[1]:
                if a[1][t] != b[1].get(t):
                    print("table %s differs" % t)
            if a[0] != b[0]:
                print("schema differs")
            return 1
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
