"""config.py - the analyst's files, read as cairn's C code reads them.

analyst.conf ([analyst] identity_key, tls_key, tls_cert, ca_cert,
coordinator, federation; docs/config.md), federation.conf (the federation's
name, members with identity keys and certificate fingerprints, pinned
geographies; docs/keys.md), identity.key ("cairn-identity v1" text with the
Ed25519 seed) and a geography's regions file (CSV whose header starts with
region_id).  Paths in analyst.conf are taken as written (relative to the
working directory), as `cairn query --config` does.  Every error names the
file and line.
"""

import base64
import csv
import io
import re

from .errors import CairnError

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
ROLES = ("node", "coordinator", "analyst", "auditor")


def _read_text(path, what, cap=64 << 20):
    try:
        with open(path, "rb") as f:
            data = f.read(cap + 1)
    except OSError as e:
        raise CairnError(f"{path}: cannot read the {what}: {e.strerror}")
    if len(data) > cap:
        raise CairnError(f"{path}: the {what} is over {cap} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CairnError(f"{path}: the {what} is not UTF-8")


def parse_ini(path, text):
    """[(section, key, value, line)] of an INI text ('#' and ';' comments)."""
    out = []
    section = ""
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line[0] == "[":
            if not line.endswith("]"):
                raise CairnError(f"{path}:{no}: malformed section header")
            section = line[1:-1].strip()
            continue
        if "=" not in line:
            raise CairnError(f"{path}:{no}: expected 'key = value'")
        k, v = line.split("=", 1)
        out.append((section, k.strip(), v.strip(), no))
    return out


class AnalystConfig:
    """analyst.conf: the six identity settings (any may be None)."""

    KEYS = ("identity_key", "tls_key", "tls_cert", "ca_cert", "coordinator",
            "federation")

    def __init__(self, **kw):
        for k in self.KEYS:
            setattr(self, k, kw.get(k))

    @classmethod
    def load(cls, path):
        seen = {}
        for sec, k, v, no in parse_ini(path, _read_text(path, "config")):
            if sec != "analyst":
                raise CairnError(f"{path}:{no}: unknown section '{sec}'")
            if k not in cls.KEYS:
                raise CairnError(f"{path}:{no}: unknown key '{k}'")
            if k in seen:
                raise CairnError(f"{path}:{no}: '{k}' is given twice")
            seen[k] = v
        return cls(**seen)

    def need(self, key):
        v = getattr(self, key)
        if not v:
            raise CairnError(f"analyst config: '{key}' is required")
        return v


class Member:
    def __init__(self, role, name, pk, cert_sha256):
        self.role, self.name, self.pk, self.cert_sha256 = \
            role, name, pk, cert_sha256


class Federation:
    """federation.conf: name, CA fingerprint, members, geography pins."""

    def __init__(self, path):
        self.path = path
        self.name = None
        self.ca_fingerprint = None
        self.members = []
        self.geographies = {}
        for sec, k, v, no in parse_ini(path, _read_text(path,
                                                        "federation file")):
            where = f"{path}:{no}"
            if (sec, k) == ("federation", "name"):
                if not NAME_RE.match(v):
                    raise CairnError(f"{where}: name '{v}' is not valid")
                self.name = v
            elif (sec, k) == ("federation", "ca_fingerprint"):
                self.ca_fingerprint = _fpr(v, where)
            elif (sec, k) == ("members", "member"):
                self.members.append(_member(v, where))
            elif (sec, k) == ("geographies", "geography"):
                p = v.split()
                if len(p) != 2 or not NAME_RE.match(p[0]):
                    raise CairnError(f"{where}: expected 'geography = "
                                     "NAME SHA256'")
                self.geographies[p[0]] = bytes.fromhex(_fpr(p[1], where))
            else:
                raise CairnError(f"{where}: unknown key '{k}' in [{sec}]")
        if self.name is None:
            raise CairnError(f"{path}: [federation] name is missing")
        seen = set()
        for m in self.members:
            if (m.role, m.name) in seen or m.pk in seen:
                raise CairnError(f"{path}: member {m.role} '{m.name}' is "
                                 "listed twice")
            seen.add((m.role, m.name))
            seen.add(m.pk)

    def coordinator(self):
        c = [m for m in self.members if m.role == "coordinator"]
        if len(c) != 1:
            raise CairnError(f"{self.path}: {len(c)} coordinators enrolled, "
                             "1 needed")
        return c[0]

    def nodes(self):
        return [m for m in self.members if m.role == "node"]

    def find(self, role, name):
        for m in self.members:
            if m.role == role and m.name == name:
                return m
        return None

    def majority(self):
        """Witness cosignatures needed: floor(n/2) + 1 of the nodes."""
        n = len(self.nodes())
        return 0 if n == 0 else n // 2 + 1


def _fpr(v, where):
    if not re.fullmatch(r"[0-9a-f]{64}", v):
        raise CairnError(f"{where}: '{v}' is not 64 lower-case hex digits")
    return v


def _member(v, where):
    p = v.split()
    if len(p) != 4:
        raise CairnError(f"{where}: expected 'member = ROLE NAME KEY SHA256'")
    role, name, key, fpr = p
    if role not in ROLES:
        raise CairnError(f"{where}: unknown role '{role}'")
    if not NAME_RE.match(name):
        raise CairnError(f"{where}: member name '{name}' is not valid")
    try:
        pk = base64.b64decode(key, validate=True)
    except ValueError:
        pk = b""
    if len(pk) != 32:
        raise CairnError(f"{where}: the identity key of '{name}' is not 32 "
                         "bytes of base64")
    return Member(role, name, pk, _fpr(fpr, where))


class Identity:
    """identity.key: role, name and the Ed25519 seed (secret)."""

    def __init__(self, path):
        fields = {}
        text = _read_text(path, "identity key", 4096)
        lines = [ln for ln in text.splitlines()]
        body = [(no, ln) for no, ln in enumerate(lines, 1)
                if ln.strip() and not ln.lstrip().startswith("#")]
        if not body or body[0][1].strip() != "cairn-identity v1":
            raise CairnError(f"{path}: not a cairn identity key (no "
                             "'cairn-identity v1' line)")
        for no, ln in body[1:]:
            p = ln.split(None, 1)
            if len(p) != 2 or p[0] not in ("role", "name", "seed"):
                raise CairnError(f"{path}:{no}: expected 'role', 'name' "
                                 "or 'seed' and a value")
            if p[0] in fields:
                raise CairnError(f"{path}:{no}: '{p[0]}' is given twice")
            fields[p[0]] = p[1].strip()
        for k in ("role", "name", "seed"):
            if k not in fields:
                raise CairnError(f"{path}: '{k}' is missing")
        if fields["role"] not in ROLES:
            raise CairnError(f"{path}: unknown role '{fields['role']}'")
        try:
            seed = base64.b64decode(fields["seed"], validate=True)
        except ValueError:
            seed = b""
        if len(seed) != 32:
            raise CairnError(f"{path}: seed is not 32 bytes of base64")
        self.role, self.name, self.seed = fields["role"], fields["name"], seed


def load_regions(path):
    """{region_id: name} of a regions file, ids ascending; the name is the
    'name' column when there is one, else ''."""
    text = _read_text(path, "regions file")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or not rows[0] or rows[0][0] != "region_id":
        raise CairnError(f"{path}:1: the header must start with 'region_id'")
    ncol = rows[0].index("name") if "name" in rows[0] else None
    out = {}
    for no, row in enumerate(rows[1:], 2):
        if not row or row == [""]:
            continue
        f = row[0]
        if not f.isdigit() or int(f) >= 1 << 32:
            raise CairnError(f"{path}:{no}: region_id '{f}' is not a number "
                             "below 2^32")
        rid = int(f)
        if rid in out:
            raise CairnError(f"{path}: region {rid} is listed twice")
        out[rid] = row[ncol] if ncol is not None and ncol < len(row) else ""
    if not out:
        raise CairnError(f"{path}: no regions")
    return dict(sorted(out.items()))
