"""client.py - the analyst's client: connect, submit, wait, fetch and
verify a release, read budgets from the log.

The same steps as `cairn query` (query/*.c, docs/analyst.md): mutual TLS
with the analyst's key and certificate, the coordinator's certificate
pinned by the SHA-256 fingerprint enrolled in federation.conf, queries
signed with the identity key (query.py), and nothing the coordinator says
about a release taken on its word: the checkpoint must be signed by the
log key and cosigned by a majority of the enrolled nodes, the RELEASE and
QUERY entries proved included in it, and the values must hash to the
RELEASE entry's result hash (verify.py).
"""

import hashlib
import os
import socket
import ssl
import subprocess
import json
import time

import grpc

from . import _pb
from .config import AnalystConfig, Federation, Identity, load_regions
from .errors import CairnError
from . import query as _query
from . import result as _result
from . import verify as _verify

CALL_S = 30
STATES = {0: "unspecified", 1: "pending", 2: "running", 3: "released",
          4: "refused", 5: "failed"}
MAX_MESSAGE = 64 << 20
MAX_CELLS = 100000000          # PROTO_MAX_CELLS (protocol/proto_service.h)


def rpc_error(method, e):
    """A grpc.RpcError as one line, as the CLI prints it."""
    code = e.code().name if hasattr(e, "code") and e.code() else "UNKNOWN"
    det = e.details() if hasattr(e, "details") else str(e)
    return CairnError(f"{method}: {code}: {det}")


def _split_target(target):
    if target.startswith("["):
        host, _, port = target[1:].partition("]:")
    else:
        host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise CairnError(f"coordinator: '{target}' is not host:port")
    return host, int(port)


class Status:
    """A query's status (GetQuery): id, state name, attempt, log index,
    failure text and the refusals as (node, reason code, reason)."""

    def __init__(self, m):
        self.query_id = m.query_id
        self.state = STATES.get(m.state, str(m.state))
        self.attempt = m.attempt
        self.log_index = m.log_index
        self.failure = m.failure
        self.refusals = []
        for sr in m.refusals:
            r = _pb.pb2.Refusal()
            try:
                r.ParseFromString(sr.refusal)
                self.refusals.append((r.node, r.reason_code, r.reason))
            except Exception:
                self.refusals.append(("?", "other", "undecodable refusal"))
        self.raw = m

    def __str__(self):
        s = f"{self.query_id} {self.state} attempt {self.attempt} " \
            f"log-index {self.log_index}"
        if self.failure:
            s += f" ({self.failure})"
        for n, code, why in self.refusals:
            s += f"; refused by {n}: {code}: {why}"
        return s


class Client:
    """A connection to the federation's coordinator as the analyst.

    Client("analyst.conf") reads the analyst config (docs/config.md);
    keyword arguments (identity_key, tls_key, tls_cert, ca_cert,
    coordinator, federation) override it, as the CLI's options do.
    """

    def __init__(self, config=None, **overrides):
        c = AnalystConfig.load(config) if config else AnalystConfig()
        for k, v in overrides.items():
            if k not in AnalystConfig.KEYS:
                raise CairnError(f"unknown setting '{k}'")
            if v is not None:
                setattr(c, k, v)
        self.config = c
        self._config_path = config if isinstance(config, str) else None
        self.federation = Federation(c.need("federation"))
        self._identity = None
        self._channel = None
        self._stub = None

    # ------------------------------------------------------ connection

    def _read(self, key):
        path = self.config.need(key)
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError as e:
            raise CairnError(f"{path}: cannot read the {key}: {e.strerror}")

    def check_pin(self):
        """Handshake with the coordinator (mutual TLS, CA-verified, host
        name checked) and check that its certificate's SHA-256 is the one
        federation.conf enrolls; returns that fingerprint."""
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(
            self._pinned_certificate().decode())).hexdigest()

    def _pinned_certificate(self):
        """The coordinator's certificate (PEM), fetched with our own TLS
        handshake and accepted only if its SHA-256 is the enrolled one."""
        target = self.config.need("coordinator")
        host, port = _split_target(target)
        want = self.federation.coordinator().cert_sha256
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        try:
            ctx.load_verify_locations(self.config.need("ca_cert"))
            ctx.load_cert_chain(self.config.need("tls_cert"),
                                self.config.need("tls_key"))
        except (OSError, ssl.SSLError) as e:
            raise CairnError(f"TLS files: {e}")
        ctx.set_alpn_protocols(["h2"])
        try:
            with socket.create_connection((host, port), CALL_S) as s:
                with ctx.wrap_socket(s, server_hostname=host) as t:
                    der = t.getpeercert(binary_form=True)
        except (OSError, ssl.SSLError) as e:
            raise CairnError(f"coordinator {target}: TLS handshake: {e}")
        seen = hashlib.sha256(der).hexdigest()
        if seen != want:
            raise CairnError(f"coordinator {target}: server certificate "
                             f"sha256 {seen} is not the pinned {want} (the "
                             "coordinator's certificate enrolled in "
                             "federation.conf)")
        return ssl.DER_cert_to_PEM_cert(der).encode()

    def _connect(self):
        """The gRPC channel, whose only trust anchor is the pinned
        certificate itself: every handshake of the channel, reconnections
        included, accepts that certificate and no other (grpcio has no
        peer-verification hook; the CLI pins inside gRPC's handshake)."""
        if self._stub is not None:
            return self._stub
        creds = grpc.ssl_channel_credentials(
            root_certificates=self._pinned_certificate(),
            private_key=self._read("tls_key"),
            certificate_chain=self._read("tls_cert"))
        self._channel = grpc.secure_channel(
            self.config.need("coordinator"), creds,
            options=[("grpc.max_receive_message_length", MAX_MESSAGE),
                     ("grpc.max_send_message_length", MAX_MESSAGE),
                     ("grpc.enable_retries", 0)])
        self._stub = _pb.pb2_grpc.CoordinatorStub(self._channel)
        return self._stub

    def call(self, method, request, timeout=CALL_S):
        """One unary RPC; a gRPC failure becomes a one-line CairnError."""
        try:
            return getattr(self._connect(), method)(request, timeout=timeout)
        except grpc.RpcError as e:
            raise rpc_error(method, e)

    def close(self):
        if self._channel is not None:
            self._channel.close()
        self._channel = self._stub = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---------------------------------------------------------- submit

    def identity(self):
        if self._identity is None:
            path = self.config.need("identity_key")
            ident = Identity(path)
            if ident.role != "analyst":
                raise CairnError(f"{path}: the identity key is a "
                                 f"{ident.role}'s, not an analyst's")
            self._identity = ident
        return self._identity

    def build(self, spec, geography, rho, purpose, participants, colluding,
              query_id=None, holders=0, submitted=None, nonce=None,
              publish=False):
        """The SignedQuery `cairn query submit` would send for these
        fields: a random nonce, the time now and the federation's name,
        signed with purpose "query".  publish=True is `--publish`: the
        release is written to the coordinator's public directory."""
        ident = self.identity()
        if submitted is None:
            submitted = int(time.time())
        if nonce is None:
            nonce = os.urandom(16)
        if query_id is None:
            query_id = f"q-{submitted}-{os.urandom(4).hex()}"
        if isinstance(participants, str):
            participants = participants.split(",")
        qb = _query.build_query(spec, geography, rho, purpose, participants,
                                colluding, ident.name, self.federation.name,
                                query_id, submitted, nonce, holders,
                                publish)
        return _pb.pb2.SignedQuery(query=qb, signature=_query.sign(
            ident.seed, "query", qb))

    def submit(self, spec, geography, rho, purpose, participants, colluding,
               query_id=None, holders=0, publish=False):
        """Sign and submit a query; returns (query_id, log index of its
        QUERY entry).  'spec' is the query-spec JSON as a dict, 'rho'
        decimal text; publish=True asks for a public release."""
        sq = self.build(spec, geography, rho, purpose, participants,
                        colluding, query_id, holders, publish=publish)
        r = self.call("SubmitQuery", sq)
        return r.query_id, r.log_index

    # ---------------------------------------------------- status, wait

    def status(self, query_id):
        return Status(self.call("GetQuery",
                                _pb.pb2.GetQueryRequest(query_id=query_id)))

    def wait(self, query_id, timeout=900):
        """Wait (GetQuery long polls) until the query is released, refused
        or failed, or 'timeout' seconds pass; returns its Status."""
        end = time.monotonic() + timeout
        st = self.status(query_id)
        while st.state in ("pending", "running"):
            left = end - time.monotonic()
            if left <= 0:
                raise CairnError(f"wait: query '{query_id}' is still "
                                 f"{st.state} after {timeout} s")
            ms = int(min(left, 20) * 1000)
            req = _pb.pb2.GetQueryRequest(
                query_id=query_id, wait_ms=max(ms, 1),
                seen_state=st.raw.state, seen_attempt=st.attempt)
            st = Status(self.call("GetQuery", req, timeout=ms / 1000 + 10))
        return st

    def queries(self):
        """Every query the coordinator knows (ListQueries), as Status."""
        out, tok = [], ""
        while True:
            r = self.call("ListQueries", _pb.pb2.ListQueriesRequest(
                page_size=1000, page_token=tok))
            out.extend(Status(q) for q in r.queries)
            tok = r.next_page_token
            if not tok:
                return out

    # ---------------------------------------------------------- result

    def fetch(self, query_id):
        """GetResult: (Release message, list of int values), unverified."""
        rel, vals = None, []
        try:
            for ch in self._connect().GetResult(
                    _pb.pb2.GetResultRequest(query_id=query_id),
                    timeout=CALL_S * 4):
                if rel is None:
                    if not ch.HasField("release"):
                        raise CairnError("GetResult: the first message has "
                                         "no release")
                    rel = ch.release
                    if rel.cells > MAX_CELLS:
                        raise CairnError(f"GetResult: {rel.cells} cells")
                if ch.offset != len(vals) or \
                        len(vals) + len(ch.values) > rel.cells:
                    raise CairnError(f"GetResult: chunk at offset "
                                     f"{ch.offset} with {len(ch.values)} "
                                     f"values, expected offset {len(vals)} "
                                     f"of {rel.cells}")
                vals.extend(ch.values)
        except grpc.RpcError as e:
            raise rpc_error("GetResult", e)
        if rel is None or len(vals) != rel.cells:
            raise CairnError(f"GetResult: {len(vals)} of "
                             f"{rel.cells if rel else '?'} values received")
        return rel, vals

    def result(self, query_id, regions, categories=None, timeout=60,
               delta=1e-6):
        """The released result of 'query_id' as a pandas DataFrame, after
        verifying it against the log as `cairn query result` does: one row
        per cell with its coordinates (region ids and their names from the
        geography's 'regions' file, day or hour buckets), value, ci95_low
        and ci95_high.  df.attrs holds query_id, kind, rho, rho_nano,
        variance, ci95_halfwidth, log_index and epsilon_simple at
        'delta'."""
        st = self.status(query_id)
        if st.state != "released":
            raise CairnError(f"result: query '{query_id}' is {st.state}, "
                             "not released")
        rel, vals = self.fetch(query_id)
        proven = _verify.verify_release(self, query_id, st.log_index,
                                        rel.log_index, vals,
                                        rel.noise_variance, timeout)
        reg = regions if isinstance(regions, dict) else \
            load_regions(regions)
        return _result.frame(proven, reg, vals, categories, delta)

    # ------------------------------------------------------- the log

    def budgets(self, timeout=60):
        """Each node's budget per data-month as the log proves it (POLICY
        and CHARGE entries, every entry checked against a verified
        checkpoint); a DataFrame, see verify.budgets()."""
        return _verify.budgets(self, timeout)

    def plan(self, spec, geography, rho, participants, colluding, regions,
             holders=0, cairn="cairn"):
        """What submit() with these fields would cost and give, from
        `cairn query plan --format json` (the planner of issue #17, which
        the nodes' and coordinator's own computation backs): the spec is
        written to a temporary JSON file and the command run with this
        client's config file; returns the parsed JSON.  Needs a `cairn`
        with that command and its JSON output."""
        import tempfile
        if self._config_path is None:
            raise CairnError("plan: needs the client opened with a config "
                             "file")
        _query.fill_spec(_pb.pb2.QuerySpec(), spec, geography)  # checked
        if isinstance(participants, (list, tuple)):
            participants = ",".join(participants)
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            json.dump(spec, f)
            f.flush()
            argv = [cairn, "query", "plan", "--config", self._config_path,
                    "--spec", f.name, "--geography", geography, "--rho",
                    str(rho), "--participants", participants, "--colluding",
                    str(colluding), "--regions", str(regions), "--format",
                    "json"]
            if holders:
                argv += ["--holders", str(holders)]
            try:
                p = subprocess.run(argv, capture_output=True, text=True)
            except OSError as e:
                raise CairnError(f"plan: {cairn}: {e.strerror}")
        if p.returncode != 0:
            err = p.stderr.strip().splitlines()
            raise CairnError(err[-1] if err else "plan: cairn failed")
        try:
            return json.loads(p.stdout)
        except ValueError:
            raise CairnError("plan: `cairn query plan --format json` did not "
                             "print JSON")
