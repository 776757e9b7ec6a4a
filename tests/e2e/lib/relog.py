#!/usr/bin/python3
"""relog.py - re-make a log's public files as a lying coordinator would.

For tests/e2e/portal.sh: in a copy of a public directory (checkpoint,
tile/, json/), optionally flip one byte of the signature *inside* one entry
(--flip TYPE: the node's signature of the first CHARGE, REFUSAL or POLICY,
the analyst's signature inside the first QUERY's SignedQuery, the log
key's signature of the first MEMBER), then recompute everything above the
entries from them: every entry bundle and hash tile in the directory, the
tree root, json/<i>.json of the changed entry, and the checkpoint, signed
again with the coordinator's identity key and cosigned again with the
nodes' keys (the same cosignature times), found in KEYS (every
*/identity.key below it, docs/keys.md's format).  The result is valid at
the checkpoint, cosignature and tile level, and only the entry's inner
signature says it is forged.  --edit CHARGE raises the first CHARGE's
logged cumulative spend by one nano-rho instead, leaving the node's signed
body as it was.  --remove NODE inserts instead, after the
last MEMBER entry, a MEMBER entry removing NODE, rightly signed by the log
key: the entries NODE signed after it are then signed by a node that is
not a member at their point of the log.  Without --flip or --remove
nothing changes, so the directory must come out byte for byte as it went
in: the negative control that this tool re-signs correctly.

The tree arithmetic and note parsing are tiles_verify.py's (imported).

usage: relog.py DIR --keys KEYS [--flip TYPE | --edit CHARGE | --remove NODE]
           [--hex FILE]
Prints "entry I TYPE SIGNER" for the changed entry (for --remove: the
inserted MEMBER entry, then the first later entry NODE signed); --hex
writes every entry as one hex line (`cairn audit verify --entries`).
"""

import argparse
import base64
import glob
import json
import os
import struct
import sys

import nacl.signing

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import tiles_verify as tv  # noqa: E402

TYPES = {1: "QUERY", 2: "CHARGE", 3: "REFUSAL", 4: "RELEASE", 5: "FAILURE",
         6: "MEMBER", 7: "POLICY"}


def read_keys(top):
    """{(role, name): SigningKey} of every */identity.key below TOP."""
    keys = {}
    for path in glob.glob(os.path.join(top, "**", "identity.key"),
                          recursive=True):
        f = {}
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("#") or " " not in line:
                    continue
                k, v = line.rstrip("\n").split(" ", 1)
                f[k] = v
        seed = base64.b64decode(f["seed"])
        keys[(f["role"], f["name"])] = nacl.signing.SigningKey(seed)
    return keys


def pb_field(buf, want):
    """(offset, length) of the length-delimited field WANT of message BUF."""
    o = 0
    while o < len(buf):
        key, o = varint(buf, o)
        num, wt = key >> 3, key & 7
        if wt == 0:
            _, o = varint(buf, o)
        elif wt == 2:
            n, o = varint(buf, o)
            if num == want:
                return o, n
            o += n
        elif wt in (1, 5):
            o += 8 if wt == 1 else 4
        else:
            break
    raise SystemExit(f"relog.py: no field {want} in the message")


def varint(buf, o):
    v, s = 0, 0
    while True:
        b = buf[o]
        o += 1
        v |= (b & 0x7F) << s
        if not b & 0x80:
            return v, o
        s += 7


def node_id(e):
    """The node_id field of a CHARGE, REFUSAL or POLICY entry."""
    n = struct.unpack(">I", e[10:14])[0]
    return e[14:14 + n].decode()


def flip(e):
    """E with one byte of its inner signature flipped, and the signer."""
    b = bytearray(e)
    typ = TYPES[e[1]]
    if typ == "QUERY":
        # body: a SignedQuery; the analyst's signature is its field 2.
        body = 14
        off, n = pb_field(bytes(e[body:]), 2)
        qoff, qn = pb_field(bytes(e[body:]), 1)
        q = bytes(e[body + qoff:body + qoff + qn])
        aoff, an = pb_field(q, 2)           # Query.analyst
        noff, nn = pb_field(q[aoff:aoff + an], 2)   # Identity.name
        who = q[aoff + noff:aoff + noff + nn].decode()
        b[body + off + n - 1] ^= 1
        return bytes(b), who
    # CHARGE, REFUSAL, MEMBER, POLICY end with the signature bytes.
    if struct.unpack(">I", e[-68:-64])[0] != 64:
        raise SystemExit(f"relog.py: a {typ} entry not ending in a signature")
    b[-1] ^= 1
    return bytes(b), "coordinator" if typ == "MEMBER" else node_id(e)


def remove(entries, keys, node):
    """ENTRIES with a MEMBER entry removing NODE, signed by the log key,
    inserted after the last MEMBER entry; prints it and the first later
    entry NODE signed (no longer a member there)."""
    member = [i for i, e in enumerate(entries) if e[1] == 6]
    added = next(e for e in (entries[i] for i in member)
                 if e[14:16] == b"\x08\x01" and
                 b"\x1a" + bytes([len(node)]) + node.encode() in e[14:])
    body = added[14:14 + struct.unpack(">I", added[10:14])[0]]
    assert body.startswith(b"\x08\x01")
    body = body[2:]                     # added = false: removed
    coord = [k for (role, _), k in keys.items() if role == "coordinator"]
    sig = coord[0].sign(b"cairn/v1/member\n" + body).signature
    e = (added[:10] + struct.pack(">I", len(body)) + body +
         struct.pack(">I", len(sig)) + sig)
    at = member[-1] + 1
    entries = entries[:at] + [e] + entries[at:]
    print(f"entry {at} MEMBER coordinator")
    for i in range(at + 1, len(entries)):
        if TYPES.get(entries[i][1]) in ("CHARGE", "REFUSAL", "POLICY") and \
                node_id(entries[i]) == node:
            print(f"entry {i} {TYPES[entries[i][1]]} {node}")
            break
    return entries


def edit(e):
    """CHARGE entry E with its first month's logged cumulative spend one
    nano-rho higher: a typed field, outside the body the node signed."""
    n = struct.unpack(">I", e[10:14])[0]
    at = 14 + n + 32 + 2 + 4 + 8      # node_id, query_hash, count, month, rho
    cum = struct.unpack(">Q", e[at:at + 8])[0]
    return e[:at] + struct.pack(">Q", cum + 1) + e[at + 8:], node_id(e)


def tree_levels(leaves):
    """level[k][j]: the hash of the complete subtree of 2^k leaves number j."""
    level = [[tv.leaf_hash(x) for x in leaves]]
    while len(level[-1]) > 1:
        below = level[-1]
        level.append([tv.node_hash(below[i], below[i + 1])
                      for i in range(0, len(below) - 1, 2)])
    return level


def root(level, lo, hi):
    """RFC 6962 MTH of leaves [LO, HI)."""
    n = hi - lo
    if n & (n - 1) == 0 and lo % n == 0:
        return level[n.bit_length() - 1][lo >> (n.bit_length() - 1)]
    k = tv.split(n)
    return tv.node_hash(root(level, lo, lo + k), root(level, lo + k, hi))


def write(path, data):
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)


def implied_tiles(size):
    """The paths of the bundles and hash tiles a tree of SIZE implies."""
    out = [tv.tile_path(-1, n, min(256, size - n * 256))
           for n in range((size + 255) // 256)]
    level = 0
    while 256 ** level <= size:
        at = size >> (8 * level)
        out += [tv.tile_path(level, n, min(256, at - n * 256))
                for n in range((at + 255) // 256)]
        level += 1
    return out


def rewrite_tiles(d, entries, level):
    """Every bundle and hash tile under D/tile and those the size implies,
    from ENTRIES and LEVEL."""
    paths = {p for p in glob.glob(os.path.join(d, "tile", "**"),
                                  recursive=True) if os.path.isfile(p)}
    paths |= {os.path.join(d, p) for p in implied_tiles(len(entries))}
    for path in sorted(paths):
        rel = os.path.relpath(path, os.path.join(d, "tile")).split(os.sep)
        width = 256
        if len(rel) >= 2 and rel[-2].endswith(".p"):
            width = int(rel[-1])
            rel = rel[:-2] + [rel[-2][:-2]]
        n = 0
        for g in rel[1:]:
            n = n * 1000 + int(g.lstrip("x"))
        lo = n * 256
        if rel[0] == "entries":
            if len(entries[lo:lo + width]) != width:
                raise SystemExit(f"relog.py: {path}: beyond the tree")
            data = b"".join(struct.pack(">H", len(e)) + e
                            for e in entries[lo:lo + width])
        else:
            hashes = level[8 * int(rel[0])][lo:lo + width]
            if len(hashes) != width:
                raise SystemExit(f"relog.py: {path}: beyond the tree")
            data = b"".join(hashes)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write(path, data)


def resign(d, keys, new_size, new_root):
    """The checkpoint of NEW_SIZE and NEW_ROOT, signed and cosigned again."""
    with open(os.path.join(d, "checkpoint"), "rb") as f:
        text, sigs = tv.parse_note(f.read(), "checkpoint")
    lines = text.split("\n")
    lines[1] = str(new_size)
    lines[2] = base64.b64encode(new_root).decode()
    text = "\n".join(lines)
    origin = lines[0]
    coord = [k for (role, _), k in keys.items() if role == "coordinator"]
    if len(coord) != 1:
        raise SystemExit("relog.py: not one coordinator identity.key")
    out = []
    for name, raw in sigs:
        if name == origin:
            pk = bytes(coord[0].verify_key)
            sig = tv.key_id(origin, 0x01, pk) + coord[0].sign(
                text.encode()).signature
        elif ("node", name) in keys:
            k = keys[("node", name)]
            ts = struct.unpack(">Q", raw[4:12])[0]
            msg = f"cosignature/v1\ntime {ts}\n".encode() + text.encode()
            sig = (tv.key_id(name, 0x04, bytes(k.verify_key)) + raw[4:12] +
                   k.sign(msg).signature)
        else:
            continue
        out.append(f"{tv.DASH}{name} {base64.b64encode(sig).decode()}\n")
    write(os.path.join(d, "checkpoint"), (text + "\n" + "".join(out)).encode())


def rejson(d, i, e):
    """json/<i>.json with the changed entry's bytes, leaf hash, signature."""
    path = os.path.join(d, "json", f"{i}.json")
    if not os.path.exists(path):
        return
    with open(path, encoding="utf-8") as f:
        j = json.load(f)
    j["entry"] = base64.b64encode(e).decode()
    j["leaf_hash"] = tv.leaf_hash(e).hex()
    if "signature" in j:
        j["signature"] = base64.b64encode(e[-64:]).decode()
    write(path, (json.dumps(j) + "\n").encode())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--keys", required=True)
    ap.add_argument("--flip", choices=["QUERY", "CHARGE", "REFUSAL",
                                       "MEMBER", "POLICY"])
    ap.add_argument("--edit", choices=["CHARGE"])
    ap.add_argument("--remove", metavar="NODE")
    ap.add_argument("--hex")
    a = ap.parse_args()
    with open(os.path.join(a.dir, "checkpoint"), "rb") as f:
        text, _ = tv.parse_note(f.read(), "checkpoint")
    size = int(text.split("\n")[1])
    keys = read_keys(a.keys)
    entries = [e for _, e, _ in tv.entries(tv.Fetcher(a.dir), size)]
    change = a.flip or a.edit
    if change:
        i = next((i for i, e in enumerate(entries)
                  if TYPES.get(e[1]) == change), None)
        if i is None:
            raise SystemExit(f"relog.py: no {change} entry in the log")
        entries[i], who = (flip if a.flip else edit)(entries[i])
        rejson(a.dir, i, entries[i])
        print(f"entry {i} {change} {who}")
    if a.remove:
        entries = remove(entries, keys, a.remove)
    level = tree_levels(entries)
    rewrite_tiles(a.dir, entries, level)
    resign(a.dir, keys, len(entries), root(level, 0, len(entries)))
    if a.hex:
        with open(a.hex, "w", encoding="ascii") as f:
            f.write("".join(e.hex() + "\n" for e in entries))


if __name__ == "__main__":
    main()
