#!/usr/bin/env python3
"""secagg_ref.py - an independent reference of cairn's pairwise masking.

Written from RFC 7748 (X25519), the original ChaCha20 (64-bit nonce and
counter; with both starting at zero it equals RFC 8439's for 2^32 blocks),
and DESIGN §6, using only Python's standard library (hashlib.blake2b), so
that it shares no code with the C implementation in protocol/secagg.c.

  secagg_ref.py generate > secagg_kat.json   write the known-answer vectors
  secagg_ref.py check secagg_kat.json        recompute every value; exit 1
                                             on the first mismatch
"""
import hashlib
import json
import sys

P = 2**255 - 19
A24 = 121665
MASK64 = 2**64 - 1


def x25519(k: bytes, u: bytes) -> bytes:
    """RFC 7748 §5: scalar multiplication on Curve25519 (Montgomery ladder)."""
    kb = bytearray(k)
    kb[0] &= 248
    kb[31] &= 127
    kb[31] |= 64
    scalar = int.from_bytes(kb, "little")
    ub = bytearray(u)
    ub[31] &= 127
    x1 = int.from_bytes(ub, "little")
    x2, z2, x3, z3, swap = 1, 0, x1, 1, 0
    for t in reversed(range(255)):
        bit = (scalar >> t) & 1
        swap ^= bit
        if swap:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = bit
        a, b = (x2 + z2) % P, (x2 - z2) % P
        aa, bb = a * a % P, b * b % P
        e = (aa - bb) % P
        c, d = (x3 + z3) % P, (x3 - z3) % P
        da, cb = d * a % P, c * b % P
        x3 = (da + cb) ** 2 % P
        z3 = x1 * (da - cb) ** 2 % P
        x2 = aa * bb % P
        z2 = e * (aa + A24 * e) % P
    if swap:
        x2, x3, z2, z3 = x3, x2, z3, z2
    return (x2 * pow(z2, P - 2, P) % P).to_bytes(32, "little")


def x25519_base(k: bytes) -> bytes:
    return x25519(k, (9).to_bytes(32, "little"))


def _rotl(v, c):
    return ((v << c) & 0xFFFFFFFF) | (v >> (32 - c))


def _qr(s, a, b, c, d):
    s[a] = (s[a] + s[b]) & 0xFFFFFFFF; s[d] = _rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & 0xFFFFFFFF; s[b] = _rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & 0xFFFFFFFF; s[d] = _rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & 0xFFFFFFFF; s[b] = _rotl(s[b] ^ s[c], 7)


def chacha20_block(key: bytes, counter: int, nonce8: bytes) -> bytes:
    cons = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574]
    kw = [int.from_bytes(key[i:i + 4], "little") for i in range(0, 32, 4)]
    nw = [int.from_bytes(nonce8[i:i + 4], "little") for i in range(0, 8, 4)]
    st = cons + kw + [counter & 0xFFFFFFFF, counter >> 32] + nw
    w = list(st)
    for _ in range(10):
        _qr(w, 0, 4, 8, 12); _qr(w, 1, 5, 9, 13)
        _qr(w, 2, 6, 10, 14); _qr(w, 3, 7, 11, 15)
        _qr(w, 0, 5, 10, 15); _qr(w, 1, 6, 11, 12)
        _qr(w, 2, 7, 8, 13); _qr(w, 3, 4, 9, 14)
    return b"".join(((w[i] + st[i]) & 0xFFFFFFFF).to_bytes(4, "little")
                    for i in range(16))


def mask_cells(key: bytes, ncells: int):
    stream = b"".join(chacha20_block(key, b, bytes(8))
                      for b in range((ncells * 8 + 63) // 64))
    return [int.from_bytes(stream[8 * c:8 * c + 8], "little")
            for c in range(ncells)]


def b2b(data: bytes, key: bytes = b"") -> bytes:
    return hashlib.blake2b(data, digest_size=32, key=key).digest()


def sid_of(qhash: bytes, roster) -> bytes:
    return b2b(b"cairn/v1/sid" + qhash +
               b"".join(m["id"] + m["epk"] for m in roster))


def pair_key(esk: bytes, peer_epk: bytes, sid: bytes, i: int, j: int) -> bytes:
    shared = x25519(esk, peer_epk)
    lo, hi = min(i, j), max(i, j)
    return b2b(b"cairn/v1/mask" + sid + lo.to_bytes(4, "big") +
               hi.to_bytes(4, "big"), key=shared)


def check_value(sid: bytes) -> int:
    return int.from_bytes(b2b(b"cairn/v1/check" + sid)[:8], "little")


def compute(qhash: bytes, nodes):
    """nodes: list of {id, esk, x}; returns every derived value."""
    roster = sorted(({"id": n["id"], "epk": x25519_base(n["esk"]),
                      "esk": n["esk"], "x": n["x"]} for n in nodes),
                    key=lambda m: m["id"])
    sid = sid_of(qhash, roster)
    ncells = len(roster[0]["x"])
    keys, ys = {}, []
    for i, mi in enumerate(roster):
        y = [v & MASK64 for v in mi["x"]]
        for j, mj in enumerate(roster):
            if i == j:
                continue
            k = pair_key(mi["esk"], mj["epk"], sid, i, j)
            keys[(min(i, j), max(i, j))] = k
            m = mask_cells(k, ncells)
            for c in range(ncells):
                y[c] = (y[c] + m[c]) & MASK64 if j > i else (y[c] - m[c]) & MASK64
        ys.append(y)
    total = [sum(col) & MASK64 for col in zip(*ys)]
    return roster, sid, keys, ys, total


def selftest():
    # RFC 7748 §5.2, first X25519 test vector.
    k = bytes.fromhex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4")
    u = bytes.fromhex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c")
    want = "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"
    assert x25519(k, u).hex() == want, "X25519 self-test"
    # RFC 8439 §2.3.2 block function (IETF layout: counter 1, 96-bit nonce);
    # the 64-bit-nonce layout puts counter in words 12-13, nonce in 14-15.
    key = bytes(range(32))
    blk = chacha20_block(key, 1 | (0x09000000 << 32),
                         bytes.fromhex("0000004a00000000"))
    assert blk.hex().startswith("10f1e7e4d13b5915500fdd1fa32071c4"), "ChaCha20 self-test"


def generate():
    qhash = hashlib.sha256(b"cairn known-answer query").digest()
    nodes = []
    for n in range(3):
        nodes.append({
            "id": hashlib.sha256(b"identity %d" % n).digest(),
            "esk": hashlib.sha256(b"ephemeral %d" % n).digest(),
            "x": [(n + 1) * 10 + c - (40 if c == 6 else 0) for c in range(7)],
        })
    roster, sid, keys, ys, total = compute(qhash, [
        {**n, "x": n["x"] + [0]} for n in nodes])
    # Last cell: the check cell every node sets to check_value(sid).
    cv = check_value(sid)
    roster, sid, keys, ys, total = compute(qhash, [
        {**n, "x": n["x"] + [cv if cv < 2**63 else cv - 2**64]} for n in nodes])
    out = {
        "description": "cairn secure-aggregation known answers: 3 nodes, 8 "
                       "cells (7 data cells and the check cell); all bytes hex",
        "query_hash": qhash.hex(),
        "nodes": [{"id": m["id"].hex(), "esk": m["esk"].hex(),
                   "epk": m["epk"].hex(), "x": m["x"]} for m in roster],
        "sid": sid.hex(),
        "check_value": str(cv),
        "pair_keys": [{"i": i, "j": j, "k": k.hex()}
                      for (i, j), k in sorted(keys.items())],
        "masked": [[str(v) for v in y] for y in ys],
        "sum": [str(v) for v in total],
    }
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


def check(path):
    with open(path) as f:
        kat = json.load(f)
    qhash = bytes.fromhex(kat["query_hash"])
    nodes = [{"id": bytes.fromhex(n["id"]), "esk": bytes.fromhex(n["esk"]),
              "x": n["x"]} for n in kat["nodes"]]
    roster, sid, keys, ys, total = compute(qhash, nodes)
    ok = True

    def same(what, got, want):
        nonlocal ok
        if got != want:
            print("not ok - %s: got %s, want %s" % (what, got, want))
            ok = False

    for m, n in zip(roster, kat["nodes"]):
        same("epk of " + n["id"][:8], m["epk"].hex(), n["epk"])
    same("sid", sid.hex(), kat["sid"])
    same("check value", str(check_value(sid)), kat["check_value"])
    for pk in kat["pair_keys"]:
        same("k_%d%d" % (pk["i"], pk["j"]), keys[(pk["i"], pk["j"])].hex(), pk["k"])
    same("masked", [[str(v) for v in y] for y in ys], kat["masked"])
    same("sum", [str(v) for v in total], kat["sum"])
    plain = [sum(col) & MASK64 for col in zip(*(n["x"] for n in nodes))]
    same("sum equals plain sum", [str(v) for v in total], [str(v) for v in plain])
    return ok


if __name__ == "__main__":
    selftest()
    if len(sys.argv) == 2 and sys.argv[1] == "generate":
        generate()
    elif len(sys.argv) == 3 and sys.argv[1] == "check":
        if not check(sys.argv[2]):
            sys.exit(1)
        print("ok - secagg known answers recomputed independently")
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)
