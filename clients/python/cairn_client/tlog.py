"""tlog.py - the transparency log checked from the client's side.

What docs/tlog.md specifies and protocol/tlog*.c implement, written again
so that a Python analyst trusts nothing the coordinator says: RFC 6962
leaf and node hashes, the RFC 9162 inclusion proof verifier and tree
root, C2SP signed notes (Ed25519 signatures, type 0x01, and witness
cosignatures, type 0x04), checkpoints, and the decoding of the entries
the client reads (QUERY, RELEASE, CHARGE, POLICY).  Every input here may
come from a hostile peer; a failure raises VerificationError.
"""

import base64
import hashlib
import struct

import nacl.exceptions
import nacl.signing

from .errors import VerificationError

ENTRY_QUERY, ENTRY_CHARGE, ENTRY_REFUSAL, ENTRY_RELEASE = 1, 2, 3, 4
ENTRY_FAILURE, ENTRY_MEMBER, ENTRY_POLICY = 5, 6, 7
ENTRY_NAMES = {1: "QUERY", 2: "CHARGE", 3: "REFUSAL", 4: "RELEASE",
               5: "FAILURE", 6: "MEMBER", 7: "POLICY"}
KEY_ED25519, KEY_COSIGNATURE = 0x01, 0x04
NOTE_MAX = 64 * 1024
PROOF_MAX = 64


def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def tree_root(leaves):
    """RFC 6962 Merkle tree hash of a list of leaf hashes."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    level = list(leaves)
    # Bottom-up with the odd last node carried up: the same tree as the
    # recursive split at the largest power of two below n.
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1])
               for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def inclusion_is_valid(leaf, index, size, proof, root):
    """RFC 9162 section 2.1.3.2: is 'leaf' at 'index' of the tree of
    'size' leaves whose root is 'root'?"""
    if index >= size or len(proof) > PROOF_MAX:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if len(p) != 32 or sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while True:
                    fn >>= 1
                    sn >>= 1
                    if fn & 1 or fn == 0:
                        break
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def key_id(name, ktype, pk):
    return hashlib.sha256(name.encode() + b"\n" + bytes([ktype]) +
                          pk).digest()[:4]


def ed25519_ok(pk, msg, sig):
    try:
        nacl.signing.VerifyKey(pk).verify(msg, sig)
        return True
    except (nacl.exceptions.BadSignatureError, ValueError,
            nacl.exceptions.TypeError):
        return False


class Note:
    """A parsed C2SP signed note: 'text' (bytes) and its signature lines
    as (name, raw bytes)."""

    def __init__(self, note):
        if isinstance(note, str):
            note = note.encode("utf-8")
        if len(note) > NOTE_MAX:
            raise VerificationError("checkpoint: the note is over 64 KiB")
        cut = note.find(b"\n\n")
        if cut < 0 or not note.endswith(b"\n"):
            raise VerificationError("checkpoint: not a signed note (no "
                                    "blank line before the signatures)")
        self.text = note[:cut + 1]
        self.sigs = []
        lines = note[cut + 2:-1].split(b"\n")
        if len(lines) > 64:
            raise VerificationError("checkpoint: more than 64 signatures")
        for ln in lines:
            p = ln.decode("utf-8", "replace").split(" ")
            if len(p) != 3 or p[0] != "\u2014":
                raise VerificationError("checkpoint: malformed signature "
                                        "line")
            try:
                raw = base64.b64decode(p[2], validate=True)
            except ValueError:
                raise VerificationError("checkpoint: signature of "
                                        f"'{p[1]}' is not base64")
            self.sigs.append((p[1], raw))

    def signed_by(self, name, pk):
        """Does the Ed25519 key 'pk' named 'name' sign the text?"""
        kid = key_id(name, KEY_ED25519, pk)
        return any(n == name and len(s) == 68 and s[:4] == kid and
                   ed25519_ok(pk, self.text, s[4:])
                   for n, s in self.sigs)

    def cosigned_by(self, name, pk):
        """Does witness 'name' with key 'pk' cosign the text?"""
        kid = key_id(name, KEY_COSIGNATURE, pk)
        for n, s in self.sigs:
            if n != name or len(s) != 76 or s[:4] != kid:
                continue
            t = struct.unpack(">Q", s[4:12])[0]
            msg = b"cosignature/v1\ntime %d\n" % t + self.text
            if ed25519_ok(pk, msg, s[12:]):
                return True
        return False


class Checkpoint:
    """origin, size and root of a checkpoint's text."""

    def __init__(self, text):
        lines = text.decode("utf-8", "replace").split("\n")
        if len(lines) < 4:
            raise VerificationError("checkpoint: fewer than 3 lines")
        self.origin = lines[0]
        s = lines[1]
        if not s.isdigit() or (len(s) > 1 and s[0] == "0") or \
                int(s) >= 1 << 64:
            raise VerificationError(f"checkpoint: bad tree size '{s}'")
        self.size = int(s)
        try:
            self.root = base64.b64decode(lines[2], validate=True)
        except ValueError:
            self.root = b""
        if len(self.root) != 32:
            raise VerificationError("checkpoint: the root is not 32 bytes "
                                    "of base64")


class Reader:
    """Big-endian reader of an entry; errors name the field and offset."""

    def __init__(self, data, where):
        self.d, self.o, self.where = data, 0, where

    def take(self, n, field):
        if self.o + n > len(self.d):
            raise VerificationError(f"{self.where}: truncated at byte "
                                    f"{self.o} ({field})")
        b = self.d[self.o:self.o + n]
        self.o += n
        return b

    def u(self, size, field):
        return int.from_bytes(self.take(size, field), "big")

    def blob(self, field, cap):
        n = self.u(4, field)
        if n > cap:
            raise VerificationError(f"{self.where}: {field} of {n} bytes "
                                    f"is over {cap}")
        return self.take(n, field)

    def end(self):
        if self.o != len(self.d):
            raise VerificationError(f"{self.where}: {len(self.d) - self.o} "
                                    f"trailing bytes at {self.o}")


class Entry:
    """A decoded log entry: type, time and the type's fields as
    attributes (docs/tlog.md, "Entries")."""

    def __init__(self, data, index):
        rd = Reader(data, f"log entry {index}")
        self.index = index
        self.version = rd.u(1, "version")
        self.type = rd.u(1, "type")
        # Version 2 is a RELEASE carrying the SHA-256 of its values.
        if self.version != 1 and not (self.version == 2 and
                                      self.type == ENTRY_RELEASE):
            raise VerificationError(f"log entry {index}: unknown version "
                                    f"{self.version}")
        self.time = rd.u(8, "time")
        t = self.type
        if t == ENTRY_QUERY:
            self.body = rd.blob("body", 512 * 1024)
        elif t == ENTRY_RELEASE:
            self.query_hash = rd.take(32, "query_hash")
            n = rd.u(2, "participants")
            if n > 256:
                raise VerificationError(f"log entry {index}: {n} "
                                        "participants")
            self.participants = [rd.blob("node_id", 256).decode()
                                 for _ in range(n)]
            self.result_hash = rd.take(32, "result_hash")
            self.result_sha256 = rd.take(32, "result_sha256") \
                if self.version == 2 else None
            self.variance = struct.unpack(">d", rd.take(8, "variance"))[0]
            if not self.variance >= 0 or self.variance == float("inf"):
                raise VerificationError(f"log entry {index}: variance "
                                        "is not a finite real >= 0")
        elif t == ENTRY_CHARGE:
            self.node = rd.blob("node_id", 256).decode()
            self.query_hash = rd.take(32, "query_hash")
            n = rd.u(2, "charges")
            if n > 240:
                raise VerificationError(f"log entry {index}: {n} months")
            self.months = []
            for _ in range(n):
                m = rd.u(4, "month")
                nano = rd.u(8, "rho_nano")
                cum = rd.u(8, "cumulative_rho_nano")
                if not (1 <= m % 100 <= 12) or not 1 <= nano <= 10**18 \
                        or cum > 10**18:
                    raise VerificationError(f"log entry {index}: bad "
                                            "month charge")
                self.months.append((f"{m // 100:04d}-{m % 100:02d}", nano,
                                    cum))
            self.body = rd.blob("body", 512 * 1024)
            self.signature = rd.blob("signature", 256)
        elif t == ENTRY_POLICY:
            self.node = rd.blob("node_id", 256).decode()
            self.body = rd.blob("body", 512 * 1024)
            self.signature = rd.blob("signature", 256)
        elif t in ENTRY_NAMES:
            return      # not read by this client
        else:
            raise VerificationError(f"log entry {index}: unknown type {t}")
        rd.end()

    @property
    def type_name(self):
        return ENTRY_NAMES.get(self.type, "?")
