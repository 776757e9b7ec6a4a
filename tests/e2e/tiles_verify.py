#!/usr/bin/python3
"""tiles_verify.py - an independent verifier of a C2SP tlog-tiles log.

Written from the specifications (C2SP signed-note, tlog-checkpoint,
tlog-cosignature, tlog-tiles; RFC 6962/9162 for the tree), not from
cairn's C: it reads a log's static files alone, from a directory or over
HTTP, and checks, against pinned keys,

  * the checkpoint's log signature (Ed25519, key type 0x01) and at least
    QUORUM witness cosignatures (cosignature/v1, key type 0x04);
  * the inclusion of every entry of the checkpoint: each entry of the
    entry bundles hashes to its level-0 tile hash, and an RFC 6962
    inclusion proof built from the hash tiles folds to the signed root;
  * with --old, the consistency of an older checkpoint with this one,
    from a proof built from the tiles of the newer tree, and that the
    tiles of the older size reproduce its root;
  * with --json, that json/<i>.json carries each entry's exact bytes.

A partial tile or bundle the log no longer serves (tlog-tiles lets a log
delete it once the full tile exists; cairn does) is read as the first W
hashes or entries of the full tile, unless --no-fallback.

Every failure is printed as one line "FAIL: WHAT: DETAIL" and the exit
status is 1; success prints "OK: ..." lines and exits 0.

usage: tiles_verify.py BASE (--federation FILE | --origin O --log-key NAME=B64
           [--witness NAME=B64]...) [--quorum K] [--old CHECKPOINT] [--json]
           [--no-fallback]
BASE is a directory or an http(s):// URL prefix.  --federation pins the
keys of a cairn federation.conf: the coordinator's as the log key (named
by the origin cairn/<federation name>), every node's as a witness.
"""

import argparse
import base64
import hashlib
import json
import ssl
import struct
import sys
import time
import urllib.error
import urllib.request

import nacl.exceptions
import nacl.signing

DASH = "\u2014 "


class Failure(Exception):
    """A named verification failure: what failed and why."""

    def __init__(self, what, detail):
        super().__init__(f"{what}: {detail}")
        self.what = what
        self.detail = detail


class Missing(Failure):
    """The log does not have the file (HTTP 404, no such file)."""


class Fetcher:
    """Reads files of the log from a directory or an HTTP prefix."""

    def __init__(self, base, cafile=None, fallback=True):
        self.base = base.rstrip("/")
        self.ctx = ssl.create_default_context(cafile=cafile) if cafile else None
        self.http = base.startswith("http://") or base.startswith("https://")
        self.cache = {}
        self.fallback = fallback
        self.fallbacks = set()  # partial tiles read from their full tile

    def get(self, path):
        """Return the bytes of PATH; raise Missing when the log does not
        have it, Failure when it cannot be read."""
        if path in self.cache:
            return self.cache[path]
        for attempt in range(10):
            try:
                if self.http:
                    with urllib.request.urlopen(f"{self.base}/{path}",
                                                timeout=10,
                                                context=self.ctx) as r:
                        data = r.read()
                else:
                    with open(f"{self.base}/{path}", "rb") as f:
                        data = f.read()
                break
            except urllib.error.HTTPError as e:
                # A polite client waits when it is rate-limited.
                if e.code == 429 and attempt < 9:
                    time.sleep(float(e.headers.get("Retry-After", "1")))
                    continue
                if e.code == 404:
                    raise Missing(path, f"cannot fetch: {e}") from None
                raise Failure(path, f"cannot fetch: {e}") from None
            except FileNotFoundError as e:
                raise Missing(path, f"cannot fetch: {e}") from None
            except (OSError, urllib.error.URLError) as e:
                raise Failure(path, f"cannot fetch: {e}") from None
        self.cache[path] = data
        return data


def key_id(name, typ, pub):
    """The 4-byte key ID of C2SP signed-note."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([typ]) + pub).digest()[:4]


def parse_note(data, what):
    """Split a signed note into (text, [(name, raw signature bytes)])."""
    try:
        s = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Failure(what, "not UTF-8") from None
    if "\n\n" not in s:
        raise Failure(what, "no blank line before the signatures")
    text, sigs = s.split("\n\n", 1)
    text += "\n"
    out = []
    for line in sigs.split("\n"):
        if line == "":
            continue
        if not line.startswith(DASH):
            raise Failure(what, f"signature line {line!r} is malformed")
        try:
            name, b64 = line[len(DASH):].split(" ")
            raw = base64.b64decode(b64, validate=True)
        except (ValueError, base64.binascii.Error):
            raise Failure(what, f"signature line {line!r} is malformed") from None
        if len(raw) < 5:
            raise Failure(what, f"signature of {name} is too short")
        out.append((name, raw))
    return text, out


def parse_checkpoint(text, origin, what):
    """Return (size, root) of a checkpoint body of ORIGIN."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[0] != origin:
        raise Failure(what, f"origin is {lines[0]!r}, pinned {origin!r}")
    if not lines[1].isdigit() or (lines[1] != "0" and lines[1][0] == "0"):
        raise Failure(what, f"size {lines[1]!r} is not a decimal number")
    root = base64.b64decode(lines[2])
    if len(root) != 32:
        raise Failure(what, "root is not 32 bytes")
    return int(lines[1]), root


def verify_checkpoint(data, origin, log_key, witnesses, quorum, what):
    """Check the log signature and QUORUM cosignatures; return (size, root)."""
    text, sigs = parse_note(data, what)
    name, pub = log_key
    lid = key_id(name, 0x01, pub)
    good = False
    cosigned = set()
    for sname, raw in sigs:
        if sname == name and raw[:4] == lid:
            try:
                nacl.signing.VerifyKey(pub).verify(text.encode(), raw[4:])
            except nacl.exceptions.BadSignatureError:
                raise Failure(what, f"log signature of {name} does not verify") from None
            good = True
        elif sname in witnesses:
            wpub = witnesses[sname]
            if raw[:4] != key_id(sname, 0x04, wpub) or len(raw) != 4 + 72:
                continue
            ts = struct.unpack(">Q", raw[4:12])[0]
            msg = f"cosignature/v1\ntime {ts}\n".encode() + text.encode()
            try:
                nacl.signing.VerifyKey(wpub).verify(msg, raw[12:])
            except nacl.exceptions.BadSignatureError:
                raise Failure(what, f"cosignature of {sname} does not verify") from None
            cosigned.add(sname)
    if not good:
        raise Failure(what, f"no signature of the pinned log key {name}")
    if len(cosigned) < quorum:
        raise Failure(what, f"{len(cosigned)} valid cosignatures of pinned "
                      f"witnesses, the quorum is {quorum}")
    size, root = parse_checkpoint(text, origin, what)
    return size, root, sorted(cosigned)


def tile_path(level, n, width):
    """The tlog-tiles path of tile (LEVEL, N) of WIDTH (256: full)."""
    s = f"{n:03d}"
    groups = []
    while True:
        groups.append(n % 1000)
        n //= 1000
        if n == 0:
            break
    s = "/".join(("x%03d" if i < len(groups) - 1 else "%03d") % g
                 for i, g in enumerate(reversed(groups)))
    lev = "entries" if level < 0 else str(level)
    return f"tile/{lev}/{s}" + (f".p/{width}" if width < 256 else "")


def get_tile(fetch, level, n, width):
    """(path read, bytes) of tile (LEVEL, N; -1: the entry bundle) at
    WIDTH.  A partial tile the log removed is the first WIDTH hashes, or
    entries, of the full tile, which every tree that has it proves."""
    path = tile_path(level, n, width)
    try:
        return path, fetch.get(path)
    except Missing:
        if width == 256 or not fetch.fallback:
            raise
    full = tile_path(level, n, 256)
    data = fetch.get(full)
    fetch.fallbacks.add(path)
    if level >= 0:
        return full, data[:32 * width]
    off = 0
    for _ in range(width):
        if len(data) - off < 2:
            break
        off += 2 + struct.unpack(">H", data[off:off + 2])[0]
    return full, data[:off]


def leaf_hash(b):
    return hashlib.sha256(b"\x00" + b).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


class Tiles:
    """The hashes of a tree of SIZE leaves, read from its tiles."""

    def __init__(self, fetch, size):
        self.fetch = fetch
        self.size = size

    def _tile(self, level, n):
        """Hashes of tile (LEVEL, N) at the width SIZE implies."""
        at = self.size >> (8 * level)
        width = 256 if (n + 1) * 256 <= at else at % 256
        path, data = get_tile(self.fetch, level, n, width)
        if len(data) != 32 * width:
            raise Failure(path, f"{len(data)} bytes, {32 * width} expected")
        return path, [data[i:i + 32] for i in range(0, len(data), 32)]

    def node(self, height, k):
        """Hash of the complete subtree of 2^HEIGHT leaves numbered K."""
        level, r = divmod(height, 8)
        base = k << r
        _, hashes = self._tile(level, base // 256)
        off = base % 256
        h = hashes[off:off + (1 << r)]
        if len(h) != 1 << r:
            raise Failure(tile_path(level, base // 256, 256), "too short")
        while len(h) > 1:
            h = [node_hash(h[i], h[i + 1]) for i in range(0, len(h), 2)]
        return h[0]

    def mth(self, lo, hi):
        """MTH of leaves [LO, HI), LO aligned as RFC 6962 recursions are."""
        n = hi - lo
        if n & (n - 1) == 0 and lo % n == 0:
            return self.node(n.bit_length() - 1, lo >> (n.bit_length() - 1))
        k = split(n)
        return node_hash(self.mth(lo, lo + k), self.mth(lo + k, hi))

    def path(self, m, lo, hi):
        """RFC 6962 PATH(m, D[lo:hi])."""
        n = hi - lo
        if n == 1:
            return []
        k = split(n)
        if m < k:
            return self.path(m, lo, lo + k) + [self.mth(lo + k, hi)]
        return self.path(m - k, lo + k, hi) + [self.mth(lo, lo + k)]

    def subproof(self, m, lo, hi, b):
        """RFC 6962 SUBPROOF(m, D[lo:hi], b)."""
        n = hi - lo
        if m == n:
            return [] if b else [self.mth(lo, hi)]
        k = split(n)
        if m <= k:
            return self.subproof(m, lo, lo + k, b) + [self.mth(lo + k, hi)]
        return self.subproof(m - k, lo + k, hi, False) + [self.mth(lo, lo + k)]


def split(n):
    """Largest power of two strictly below N (N >= 2)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def inclusion_root(index, size, leaf, proof):
    """RFC 9162 2.1.3.2: the root PROOF gives for LEAF, or None."""
    if index >= size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def consistency_ok(m, n, root1, root2, proof):
    """RFC 9162 2.1.4.2 consistency verification."""
    if m == n:
        return root1 == root2 and not proof
    if m == 0 or m > n or not proof:
        return False
    if m & (m - 1) == 0:
        proof = [root1] + proof
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == root1 and sr == root2


def entries(fetch, size, first=0):
    """Yield (index, bytes, bundle path) of every entry of the tree from
    the bundle of entry FIRST on."""
    for n in range(first // 256, (size + 255) // 256):
        width = 256 if (n + 1) * 256 <= size else size % 256
        path, data = get_tile(fetch, -1, n, width)
        off, k = 0, 0
        while off < len(data):
            if len(data) - off < 2:
                raise Failure(path, f"truncated length at byte {off}")
            ln = struct.unpack(">H", data[off:off + 2])[0]
            if len(data) - off - 2 < ln:
                raise Failure(path, f"entry {k} at byte {off} is truncated")
            yield n * 256 + k, data[off + 2:off + 2 + ln], path
            off += 2 + ln
            k += 1
        if k != width:
            raise Failure(path, f"{k} entries, the checkpoint implies {width}")


def pin(s):
    name, b64 = s.split("=", 1)
    pub = base64.b64decode(b64)
    if len(pub) != 32:
        raise SystemExit(f"key of {name} is not 32 bytes")
    return name, pub


def federation_keys(path):
    """(origin, log key, {witness: key}) pinned from a federation.conf."""
    name, log, wit = None, None, {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            k, _, v = line.partition("=")
            k, v = k.strip(), v.split()
            if k == "name" and v:
                name = v[0]
            elif k == "member" and len(v) >= 3:
                if v[0] == "coordinator":
                    log = base64.b64decode(v[2])
                elif v[0] == "node":
                    wit[v[1]] = base64.b64decode(v[2])
    if name is None or log is None:
        raise SystemExit(f"{path}: no federation name or coordinator")
    return f"cairn/{name}", (f"cairn/{name}", log), wit


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("base")
    ap.add_argument("--federation")
    ap.add_argument("--cafile", help="CA certificates for https")
    ap.add_argument("--origin")
    ap.add_argument("--log-key", type=pin)
    ap.add_argument("--witness", action="append", default=[], type=pin)
    ap.add_argument("--quorum", type=int, default=0)
    ap.add_argument("--old", help="an older checkpoint file to prove "
                    "consistent with the current one")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-fallback", action="store_true",
                    help="do not read a missing partial tile from its full "
                    "tile (a negative control)")
    a = ap.parse_args()
    fetch = Fetcher(a.base, a.cafile, not a.no_fallback)
    wit = dict(a.witness)
    if a.federation:
        a.origin, a.log_key, fw = federation_keys(a.federation)
        wit.update(fw)
    if a.origin is None or a.log_key is None:
        ap.error("give --federation, or --origin and --log-key")
    try:
        size, root, cos = verify_checkpoint(fetch.get("checkpoint"), a.origin,
                                            a.log_key, wit, a.quorum,
                                            "checkpoint")
        print(f"OK: checkpoint of size {size} signed by {a.log_key[0]}, "
              f"cosigned by {len(cos)} pinned witnesses ({', '.join(cos)})")
        tiles = Tiles(fetch, size)
        if size > 0 and tiles.mth(0, size) != root:
            raise Failure("tiles", f"the hash tiles of size {size} do not "
                          f"reproduce the signed root")
        print(f"OK: the hash tiles reproduce the signed root")
        n = 0
        for i, e, bpath in entries(fetch, size):
            lh = leaf_hash(e)
            if lh != tiles.node(0, i):
                raise Failure(bpath, f"entry {i} does not hash to its "
                              f"leaf hash in the (verified) level-0 tile")
            if inclusion_root(i, size, lh, tiles.path(i, 0, size)) != root:
                raise Failure("inclusion", f"entry {i}: the proof from the "
                              f"tiles does not reach the signed root")
            if a.json:
                jpath = f"json/{i}.json"
                j = json.loads(fetch.get(jpath))
                if (j.get("json_version") != 1 or j.get("index") != i or
                        base64.b64decode(j["entry"]) != e or
                        j.get("leaf_hash") != lh.hex()):
                    raise Failure(jpath, "does not carry the entry's bytes")
            n += 1
        if n != size:
            raise Failure("entries", f"{n} entries, the checkpoint has {size}")
        print(f"OK: inclusion of all {n} entries in the signed root")
        if a.old:
            with open(a.old, "rb") as f:
                osize, oroot, _ = verify_checkpoint(f.read(), a.origin,
                                                    a.log_key, wit, 0, a.old)
            if osize > size:
                raise Failure("consistency", f"old size {osize} > {size}")
            proof = [] if osize in (0, size) else tiles.subproof(osize, 0, size, True)
            ok = (osize == 0 or consistency_ok(osize, size, oroot, root, proof))
            if not ok:
                raise Failure("consistency", f"size {osize} is not a prefix "
                              f"of size {size}")
            print(f"OK: checkpoint {osize} is consistent with {size}")
            # What a reader that kept the old checkpoint fetches: its own
            # tiles (partials the log may have removed since) and its
            # last bundle.
            old = Tiles(fetch, osize)
            if osize > 0 and old.mth(0, osize) != oroot:
                raise Failure("tiles", f"the hash tiles of size {osize} do "
                              f"not reproduce the root of {a.old}")
            for i, e, bpath in entries(fetch, osize, osize - osize % 256):
                if leaf_hash(e) != old.node(0, i):
                    raise Failure(bpath, f"entry {i} does not hash to its "
                                  f"leaf hash in the tiles of size {osize}")
            print(f"OK: the tiles of size {osize} reproduce its root "
                  f"({len(fetch.fallbacks)} removed partial tiles read from "
                  f"their full tiles)")
    except Failure as f:
        print(f"FAIL: {f.what}: {f.detail}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
