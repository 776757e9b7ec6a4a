"""query.py - building and signing a query exactly as `cairn query submit`.

The Query message is filled field for field as query/query_client.c's
query_build() and protocol/qspec.c's qspec_to_proto() fill it (fields a
kind does not use stay absent; the night hours default to 22..6 for the
kinds that use a home), serialized, and signed with the analyst's
Ed25519 identity key over "cairn/v1/query\\n" || the serialized bytes
(keys/keys.c, keys_sign).  Ed25519 is deterministic, so the same fields
give the CLI's bytes and signature exactly (tests/python/test_client.py
checks both against a query the CLI logged).
"""

import re
from decimal import Decimal, InvalidOperation

import nacl.signing

from . import _pb
from .config import NAME_RE
from .errors import CairnError

SIGN_PREFIX = b"cairn/v1/"
QUERY_ID_MAX = 128
PURPOSE_MAX = 1024
MAX_PARTICIPANTS = 256
RHO_NANO_MAX = 10**9
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# kind: (required fields, optional fields) as protocol/qspec.c's table.
KINDS = {
    "presence": ({"start", "end", "bucket", "k"}, {"utc_offset_minutes"}),
    "residents": ({"start", "end"}, {"utc_offset_minutes",
                                     "night_start_hour", "night_end_hour"}),
    "od": ({"start", "end"}, {"utc_offset_minutes"}),
    "migration": ({"baseline", "comparison"}, {"utc_offset_minutes",
                                               "night_start_hour",
                                               "night_end_hour"}),
    "visitors": ({"start", "end", "k"}, {"utc_offset_minutes",
                                         "night_start_hour",
                                         "night_end_hour"}),
    "population_by_category": ({"start", "end", "categories"},
                               {"utc_offset_minutes"}),
}
NIGHT_KINDS = ("residents", "migration", "visitors")


def signed_message(purpose, msg):
    """The exact bytes an Ed25519 signature of 'purpose' covers."""
    if not re.fullmatch(r"[a-z0-9_-]{1,32}", purpose):
        raise CairnError(f"invalid signature purpose '{purpose}'")
    return SIGN_PREFIX + purpose.encode() + b"\n" + msg


def sign(seed, purpose, msg):
    """Ed25519 signature (64 bytes) of the key with 'seed' over 'msg'."""
    return nacl.signing.SigningKey(seed).sign(
        signed_message(purpose, msg)).signature


def parse_rho(rho):
    """rho as decimal text (or int / Decimal) into nano-rho, refusing a
    value that is not an exact count of nano-rho (as the CLI does)."""
    if isinstance(rho, float):
        raise CairnError("rho: give decimal text such as '0.1', not a "
                         "float (it travels as an exact count of nano-rho)")
    try:
        d = Decimal(str(rho))
    except InvalidOperation:
        raise CairnError(f"rho: '{rho}' is not a decimal number")
    nano = d * 10**9
    if not d.is_finite() or nano != nano.to_integral_value():
        raise CairnError(f"rho: '{rho}' is not a whole number of nano-rho "
                         "(at most 9 decimals)")
    n = int(nano)
    if n <= 0 or n > RHO_NANO_MAX:
        raise CairnError("rho: must be above 0 and at most 1")
    return n


def _date(v, field):
    if not isinstance(v, str) or not DATE_RE.match(v):
        raise CairnError(f"spec: field '{field}': must be \"YYYY-MM-DD\"")
    return v


def _int(v, field, lo, hi):
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise CairnError(f"spec: field '{field}': must be an integer in "
                         f"[{lo}, {hi}]")
    return v


def fill_spec(pb, spec, geography):
    """Fill the QuerySpec 'pb' from the JSON-style dict 'spec'."""
    if not isinstance(spec, dict):
        raise CairnError("spec: must be a dict of the query-spec JSON")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise CairnError(f"spec: unknown kind '{kind}'")
    req, opt = KINDS[kind]
    for f in spec:
        if f != "kind" and f not in req and f not in opt:
            raise CairnError(f"spec: field '{f}' is not used by kind "
                             f"'{kind}'")
    for f in sorted(req):
        if f not in spec:
            raise CairnError(f"spec: missing field '{f}' (required by kind "
                             f"'{kind}')")
    pb.kind = kind
    pb.geography = geography
    if "start" in req:
        pb.start = _date(spec["start"], "start")
        pb.end = _date(spec["end"], "end")
    pb.utc_offset_minutes = _int(spec.get("utc_offset_minutes", 0),
                                 "utc_offset_minutes", -1439, 1439)
    if kind == "presence":
        if spec["bucket"] not in ("day", "hour"):
            raise CairnError("spec: field 'bucket': must be \"day\" or "
                             "\"hour\"")
        pb.bucket = spec["bucket"]
    if "k" in req:
        pb.k = _int(spec["k"], "k", 1, 1000)
    if kind in NIGHT_KINDS:
        pb.night.start_hour = _int(spec.get("night_start_hour", 22),
                                   "night_start_hour", 0, 23)
        pb.night.end_hour = _int(spec.get("night_end_hour", 6),
                                 "night_end_hour", 0, 23)
        pb.night.SetInParent()
    if kind == "migration":
        for f, m in (("baseline", pb.baseline),
                     ("comparison", pb.comparison)):
            w = spec[f]
            if not isinstance(w, (list, tuple)) or len(w) != 2:
                raise CairnError(f"spec: field '{f}': must be "
                                 "[\"YYYY-MM-DD\", \"YYYY-MM-DD\"]")
            m.start = _date(w[0], f)
            m.end = _date(w[1], f)
            m.SetInParent()
    if kind == "population_by_category":
        cats = spec["categories"]
        if not isinstance(cats, (list, tuple)) or not cats or \
                not all(isinstance(c, str) and c for c in cats):
            raise CairnError("spec: field 'categories': a non-empty list "
                             "of strings")
        pb.categories.extend(cats)


def build_query(spec, geography, rho, purpose, participants, colluding,
                analyst, federation, query_id, submitted, nonce, holders=0,
                publish=False):
    """The serialized Query (bytes), checked as query_build() checks it.
    'publish' asks that the release be public (Query.publish, the CLI's
    --publish)."""
    if not query_id or len(query_id) > QUERY_ID_MAX or \
            any(ord(c) <= 32 or ord(c) == 0x7f for c in query_id):
        raise CairnError(f"query id: 1 to {QUERY_ID_MAX} characters, no "
                         "space or control character")
    if not purpose or len(purpose.encode()) > PURPOSE_MAX or \
            "\n" in purpose or "\r" in purpose:
        raise CairnError(f"purpose: one line of 1 to {PURPOSE_MAX} "
                         "characters is required")
    if not geography or len(geography) > 64:
        raise CairnError("geography is required")
    participants = list(participants)
    if not 2 <= len(participants) <= MAX_PARTICIPANTS:
        raise CairnError(f"participants: {len(participants)} names, 2 to "
                         f"{MAX_PARTICIPANTS} needed")
    for i, p in enumerate(participants):
        if not NAME_RE.match(p):
            raise CairnError(f"participants: '{p}' is not a member name")
        if p in participants[:i]:
            raise CairnError(f"participants: '{p}' is named twice")
    if not isinstance(colluding, int) or not 0 <= colluding < \
            len(participants):
        raise CairnError(f"colluding: {colluding} must be below the "
                         f"{len(participants)} participants")
    if len(nonce) != 16:
        raise CairnError("nonce: 16 bytes")
    q = _pb.pb2.Query()
    q.query_id = query_id
    q.analyst.role = _pb.pb2.ROLE_ANALYST
    q.analyst.name = analyst
    q.purpose = purpose
    fill_spec(q.spec, spec, geography)
    q.rho_nano = parse_rho(rho)
    q.participants.extend(participants)
    q.max_colluding = colluding
    q.submitted_unix = submitted
    q.federation = federation
    q.nonce = bytes(nonce)
    q.holders_per_person = holders
    q.publish = bool(publish)
    return q.SerializeToString(deterministic=True)
