"""verify.py - a release, and the budgets, proved from the log.

verify_release() does what query/query_result.c's verify_release() and
values check do: a checkpoint signed by the log key ("cairn/<federation>",
the coordinator's identity key in federation.conf) that covers both
entries and carries valid cosignatures of a majority of the enrolled
nodes (asked again every half second for up to 'wait_s' seconds); the
RELEASE and QUERY entries proved included in it (RFC 9162); the QUERY
entry is the signed query of this id and its SHA-256 is the query hash
the RELEASE entry names; the BLAKE2b-256 of the values as little-endian
int64 is the RELEASE entry's result hash, and the variance is its
variance.  budgets() reads every entry of a verified checkpoint, checks
that they hash to its root, and sums the nodes' signed POLICY and CHARGE
entries.  'src' is anything with the Client's call(method, request).
"""

import hashlib
import struct
import time

from . import _pb
from . import tlog
from .errors import VerificationError
from .query import signed_message

WAIT_SLICE_S = 0.5


class Proven:
    """What the log proves about a release."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def values_hash(values):
    """BLAKE2b-256 of the values, each as 8 little-endian bytes."""
    h = hashlib.blake2b(digest_size=32)
    h.update(struct.pack("<%dq" % len(values), *values))
    return h.digest()


def values_sha256(values):
    """SHA-256 of the same bytes: what a version 2 RELEASE entry carries
    for checkers without BLAKE2b (docs/tlog.md)."""
    return hashlib.sha256(struct.pack("<%dq" % len(values),
                                      *values)).digest()


def proven_checkpoint(src, fed, index, wait_s):
    """A checkpoint covering 'index' (None: any) signed by the log key with
    a majority of the nodes' cosignatures: (Checkpoint, cosignatures)."""
    coord = fed.coordinator()
    name = f"cairn/{fed.name}"
    quorum = fed.majority()
    waited = 0.0
    while True:
        m = src.call("GetCheckpoint", _pb.pb2.GetCheckpointRequest())
        note = tlog.Note(m.note)
        if not note.signed_by(name, coord.pk):
            raise VerificationError(f"checkpoint: not signed by the log key "
                                    f"'{name}' (the coordinator's identity "
                                    "key in federation.conf)")
        cp = tlog.Checkpoint(note.text)
        if cp.origin != name:
            raise VerificationError(f"checkpoint: origin '{cp.origin}', "
                                    f"expected '{name}'")
        nvalid = sum(1 for n in fed.nodes() if note.cosigned_by(n.name,
                                                                n.pk))
        covers = index is None or cp.size > index
        if covers and nvalid >= quorum:
            return cp, nvalid
        if waited >= wait_s:
            break
        time.sleep(WAIT_SLICE_S)
        waited += WAIT_SLICE_S
    if not covers:
        raise VerificationError(f"checkpoint of size {cp.size} does not "
                                f"cover log index {index} (after {wait_s} s)")
    raise VerificationError(f"checkpoint of size {cp.size}: {nvalid} valid "
                            f"witness cosignature{'' if nvalid == 1 else 's'}"
                            f", {quorum} required (a majority of the "
                            f"enrolled nodes; after {wait_s} s)")


def proven_entry(src, what, index, cp):
    """The entry at 'index', decoded, once its inclusion in 'cp' verifies."""
    er = src.call("GetEntries", _pb.pb2.GetEntriesRequest(start=index,
                                                          end=index + 1))
    ip = src.call("GetInclusionProof", _pb.pb2.GetInclusionProofRequest(
        index=index, tree_size=cp.size))
    if len(er.entries) != 1 or er.entries[0].index != index:
        raise VerificationError(f"{what} entry {index}: GetEntries returned "
                                "no such entry")
    data = er.entries[0].data
    if ip.index != index or ip.tree_size != cp.size or \
            not tlog.inclusion_is_valid(tlog.leaf_hash(data), index, cp.size,
                                        list(ip.hashes), cp.root):
        raise VerificationError(f"{what} entry {index} is not included in "
                                f"the signed checkpoint of size {cp.size} "
                                "(its inclusion proof does not verify)")
    return tlog.Entry(data, index)


def verify_release(src, query_id, q_index, rel_index, values, variance,
                   wait_s=60):
    """Prove the release of 'query_id' (values and variance as GetResult
    gave them); returns a Proven with query (the logged Query), rho_nano,
    variance, result_hash, log_index, size and cosignatures."""
    fed = src.federation
    cp, ncos = proven_checkpoint(src, fed, max(q_index, rel_index), wait_s)
    re_ = proven_entry(src, "RELEASE", rel_index, cp)
    qe = proven_entry(src, "QUERY", q_index, cp)
    if re_.type != tlog.ENTRY_RELEASE:
        raise VerificationError(f"log entry {rel_index} is not a RELEASE "
                                "entry")
    q = None
    if qe.type == tlog.ENTRY_QUERY:
        try:
            sq = _pb.pb2.SignedQuery.FromString(qe.body)
            q = _pb.pb2.Query.FromString(sq.query)
        except Exception:
            q = None
    if q is None or q.query_id != query_id:
        raise VerificationError(f"log entry {q_index} is not the QUERY of "
                                f"'{query_id}'")
    if hashlib.sha256(sq.query).digest() != re_.query_hash:
        raise VerificationError(f"the RELEASE entry at log index {rel_index}"
                                " is for another query than the QUERY entry "
                                f"of '{query_id}' at {q_index}")
    if not 1 <= re_.variance <= 2.0**53:
        raise VerificationError(f"the RELEASE entry at log index {rel_index}"
                                f" has variance {re_.variance}")
    if values_hash(values) != re_.result_hash:
        raise VerificationError("GetResult: the values do not match the "
                                "result hash of the RELEASE entry at log "
                                f"index {rel_index}")
    if re_.result_sha256 is not None and \
            values_sha256(values) != re_.result_sha256:
        raise VerificationError("GetResult: the values do not match the "
                                "result SHA-256 of the RELEASE entry at log "
                                f"index {rel_index}")
    if variance != int(re_.variance):
        raise VerificationError(f"GetResult: variance {variance}, the "
                                f"RELEASE entry at log index {rel_index} "
                                f"says {int(re_.variance)}")
    return Proven(query=q, query_id=query_id, rho_nano=q.rho_nano,
                  variance=int(re_.variance), result_hash=re_.result_hash,
                  participants=re_.participants, log_index=rel_index,
                  size=cp.size, cosignatures=ncos)


def all_entries(src, cp):
    """Every entry of the checkpoint 'cp', checked against its root."""
    out = []
    while len(out) < cp.size:
        er = src.call("GetEntries", _pb.pb2.GetEntriesRequest(
            start=len(out), end=min(cp.size, len(out) + 1000)))
        if not er.entries:
            raise VerificationError(f"GetEntries: nothing at {len(out)} of "
                                    f"{cp.size}")
        for e in er.entries:
            if e.index != len(out) or len(out) >= cp.size:
                raise VerificationError(f"GetEntries: entry {e.index} where "
                                        f"{len(out)} was expected")
            out.append(e.data)
    if tlog.tree_root([tlog.leaf_hash(d) for d in out]) != cp.root:
        raise VerificationError(f"the {cp.size} entries do not hash to the "
                                "root of the signed checkpoint")
    return out


def _signed(fed, e, purpose, cls):
    """The node's signed body of entry 'e' decoded as 'cls', after its
    signature verifies against the node's key in federation.conf."""
    m = fed.find("node", e.node)
    if m is None:
        raise VerificationError(f"log entry {e.index}: node '{e.node}' is "
                                "not in federation.conf")
    if len(e.signature) != 64 or not tlog.ed25519_ok(
            m.pk, signed_message(purpose, e.body), e.signature):
        raise VerificationError(f"log entry {e.index}: the {purpose} "
                                f"signature of '{e.node}' does not verify")
    try:
        msg = cls.FromString(e.body)
    except Exception:
        raise VerificationError(f"log entry {e.index}: the signed "
                                f"{purpose} does not decode")
    if msg.node != e.node:
        raise VerificationError(f"log entry {e.index}: signed by "
                                f"'{e.node}' for '{msg.node}'")
    return msg


def budgets(src, wait_s=60):
    """A DataFrame with one row per node and data-month charged: node,
    month, budget_rho, spent_rho, remaining_rho (decimal text), the same
    in nano-rho (budget_nano, spent_nano, remaining_nano) and charges
    (CHARGE entries).  The budget is the node's latest signed POLICY's
    (else its charges'); the spend the largest cumulative its signed
    charges name for the month."""
    import pandas as pd
    from .result import rho_text

    fed = src.federation
    cp, _ = proven_checkpoint(src, fed, None, wait_s)
    budget, spent, count = {}, {}, {}
    for i, data in enumerate(all_entries(src, cp)):
        e = tlog.Entry(data, i)
        if e.type == tlog.ENTRY_POLICY:
            p = _signed(fed, e, "policy", _pb.pb2.Policy)
            budget[e.node] = p.budget_rho_per_month_nano
        elif e.type == tlog.ENTRY_CHARGE:
            c = _signed(fed, e, "charge", _pb.pb2.Charge)
            body = [(m.month, m.rho_nano, m.cumulative_rho_nano)
                    for m in c.months]
            if body != e.months:
                raise VerificationError(f"log entry {i}: the CHARGE entry's "
                                        "months differ from its signed "
                                        "body")
            budget.setdefault(e.node, c.budget_rho_per_month_nano)
            for month, _, cum in e.months:
                k = (e.node, month)
                spent[k] = max(spent.get(k, 0), cum)
                count[k] = count.get(k, 0) + 1
    rows = []
    for (node, month) in sorted(spent):
        b, s = budget.get(node, 0), spent[(node, month)]
        rows.append({"node": node, "month": month,
                     "budget_rho": rho_text(b), "spent_rho": rho_text(s),
                     "remaining_rho": rho_text(max(b - s, 0)),
                     "budget_nano": b, "spent_nano": s,
                     "remaining_nano": max(b - s, 0),
                     "charges": count[(node, month)]})
    df = pd.DataFrame(rows, columns=["node", "month", "budget_rho",
                                     "spent_rho", "remaining_rho",
                                     "budget_nano", "spent_nano",
                                     "remaining_nano", "charges"])
    df.attrs.update(log_size=cp.size, policies=dict(budget))
    return df
