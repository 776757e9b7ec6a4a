"""test_client.py - the Python client against a live federation.

Run by tests/e2e/python_client.sh, which starts the coordinator and three
nodes, writes analyst.conf and has the CLI submit and fetch q-cli first
(CAIRN_TEST_DIR names that folder).  Every test asserts; none skips.
"""

import base64
import csv
import os
import re
import subprocess
import sys
import unittest

from cairn_client import CairnError, Client, VerificationError
from cairn_client import _pb, tlog, verify
from cairn_client.result import ci95_halfwidth

T = os.environ["CAIRN_TEST_DIR"]
BIN = os.environ["CAIRN_BIN"]
CONF = os.path.join(T, "analyst.conf")
REGIONS = os.path.join(T, "g4.csv")
NAMES = {1: "north", 2: "south", 3: "east", 4: "west"}
CLI_SPEC = {"kind": "presence", "start": "2026-01-10", "end": "2026-01-12",
            "bucket": "day", "k": 2}
PARTS = ["n1", "n2", "n3"]


class Tamper:
    """A log source that passes calls to the client and lets a test change
    one RPC's answer: hooks[method](request, reply) -> reply."""

    def __init__(self, client, **hooks):
        self.client, self.hooks = client, hooks
        self.federation = client.federation

    def call(self, method, req, timeout=30):
        r = self.client.call(method, req, timeout)
        return self.hooks[method](req, r) if method in self.hooks else r


class ClientTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.c = Client(CONF)
        # Python submits q-py (residents: the night hours are signed too)
        # and q-py2 (presence by hour), which the nodes answer.
        cls.py_sq = cls.c.build({"kind": "residents", "start": "2026-01-10",
                                 "end": "2026-01-12"}, "g4", "0.05",
                                "the Python side", PARTS, 1, "q-py")
        r = cls.c.call("SubmitQuery", cls.py_sq)
        cls.py_index = r.log_index
        cls.py_status = cls.c.wait("q-py", timeout=120)
        qid, _ = cls.c.submit(dict(CLI_SPEC, bucket="hour"), "g4", "0.1",
                              "hours", "n1,n2,n3", 1, query_id="q-py2")
        cls.py2_status = cls.c.wait(qid, timeout=120)

    @classmethod
    def tearDownClass(cls):
        cls.c.close()

    def logged_query(self, qid):
        """The SignedQuery in the QUERY entry of 'qid', proved included."""
        st = self.c.status(qid)
        cp, _ = verify.proven_checkpoint(self.c, self.c.federation,
                                         st.log_index, 30)
        e = verify.proven_entry(self.c, "QUERY", st.log_index, cp)
        self.assertEqual(e.type, tlog.ENTRY_QUERY)
        return _pb.pb2.SignedQuery.FromString(e.body)

    # ------------------------------------------------------- signing

    def test_signs_exactly_as_the_cli(self):
        logged = self.logged_query("q-cli")
        q = _pb.pb2.Query.FromString(logged.query)
        mine = self.c.build(CLI_SPEC, "g4", "0.1",
                            "the CLI side of the comparison", PARTS, 1,
                            "q-cli", submitted=q.submitted_unix,
                            nonce=q.nonce)
        self.assertEqual(mine.query, logged.query)
        self.assertEqual(mine.signature, logged.signature)
        logged = self.logged_query("q-cli-res")
        q = _pb.pb2.Query.FromString(logged.query)
        self.assertTrue(q.spec.HasField("night"))
        # q-cli-res was submitted with --publish: signed in the query.
        self.assertTrue(q.publish)
        mine = self.c.build({"kind": "residents", "start": "2026-01-10",
                             "end": "2026-01-12"}, "g4", "0.01",
                            "residents", "n1,n2", 0, "q-cli-res", holders=2,
                            submitted=q.submitted_unix, nonce=q.nonce,
                            publish=True)
        self.assertEqual(mine.query, logged.query)
        self.assertEqual(mine.signature, logged.signature)
        # Negative control: the same fields unpublished are other bytes.
        other = self.c.build({"kind": "residents", "start": "2026-01-10",
                              "end": "2026-01-12"}, "g4", "0.01",
                             "residents", "n1,n2", 0, "q-cli-res", holders=2,
                             submitted=q.submitted_unix, nonce=q.nonce)
        self.assertNotEqual(other.query, logged.query)
        self.assertFalse(_pb.pb2.Query.FromString(
            self.logged_query("q-cli").query).publish)

    def test_python_query_logged_as_sent(self):
        self.assertEqual(self.logged_query("q-py").SerializeToString(),
                         self.py_sq.SerializeToString())
        self.assertEqual(self.c.status("q-py").log_index, self.py_index)

    def test_bad_signature_refused(self):
        sq = self.c.build(CLI_SPEC, "g4", "0.1", "forged", PARTS, 1,
                          "q-forged")
        sq.signature = bytes([sq.signature[0] ^ 1]) + sq.signature[1:]
        with self.assertRaises(CairnError) as e:
            self.c.call("SubmitQuery", sq)
        self.assertRegex(str(e.exception), r"^SubmitQuery: [A-Z_]+: .*sign")
        with self.assertRaises(CairnError):
            self.c.status("q-forged")

    def test_reused_id_refused(self):
        with self.assertRaisesRegex(CairnError,
                                    r"^SubmitQuery: ALREADY_EXISTS: "):
            self.c.submit(CLI_SPEC, "g4", "0.1", "again", PARTS, 1, "q-cli")

    def test_bad_inputs_are_one_line_errors(self):
        cases = [
            (dict(CLI_SPEC, bucket=None), "0.1", "field 'bucket'"),
            ({"kind": "presence", "start": "2026-01-10", "bucket": "day",
              "k": 2}, "0.1", "missing field 'end'"),
            (dict(CLI_SPEC, night_start_hour=1), "0.1",
             "'night_start_hour' is not used by kind 'presence'"),
            (CLI_SPEC, "0.1234567891", "not a whole number of nano-rho"),
            (CLI_SPEC, 0.1, "not a float"),
            (CLI_SPEC, "2", "at most 1"),
        ]
        for spec, rho, want in cases:
            with self.assertRaises(CairnError) as e:
                self.c.build(spec, "g4", rho, "p", PARTS, 1, "q-x")
            self.assertIn(want, str(e.exception))
            self.assertNotIn("\n", str(e.exception))
        with self.assertRaisesRegex(CairnError, "colluding: 3 must be below"):
            self.c.build(CLI_SPEC, "g4", "0.1", "p", PARTS, 3, "q-x")
        with self.assertRaisesRegex(CairnError, "'n1' is named twice"):
            self.c.build(CLI_SPEC, "g4", "0.1", "p", ["n1", "n1"], 1, "q-x")

    # ------------------------------------------------ status and wait

    def test_wait_released(self):
        self.assertEqual(self.py_status.state, "released", str(
            self.py_status))
        self.assertEqual(self.py2_status.state, "released")
        self.assertIn("q-py", [s.query_id for s in self.c.queries()])

    def test_refused_query_reports_the_nodes_reason(self):
        # 0.6 is over the nodes' max_rho_per_query (0.5): refused.
        qid, _ = self.c.submit(CLI_SPEC, "g4", "0.6", "too much", PARTS, 1)
        st = self.c.wait(qid, timeout=120)
        self.assertEqual(st.state, "refused")
        self.assertTrue(st.refusals)
        self.assertIn(st.refusals[0][0], PARTS)
        with self.assertRaisesRegex(CairnError, r"is refused, not released"):
            self.c.result(qid, REGIONS)

    def test_unknown_query(self):
        with self.assertRaisesRegex(CairnError, r"^GetQuery: NOT_FOUND: "):
            self.c.status("q-none")

    # ---------------------------------------------------------- result

    def test_result_matches_the_cli(self):
        df = self.c.result("q-cli", REGIONS)
        self.assertEqual(list(df.columns), ["region", "region_name", "bucket",
                                            "value", "ci95_low", "ci95_high"])
        with open(os.path.join(T, "q-cli.csv")) as f:
            rows = [r for r in csv.reader(ln for ln in f
                                          if not ln.startswith("#"))][1:]
        self.assertEqual(len(df), 8)
        self.assertEqual(len(rows), 8)
        for (_, r), cli in zip(df.iterrows(), rows):
            # The CLI prints the name beside the id, as the DataFrame.
            self.assertEqual([str(r.region), r.region_name, r.bucket,
                              str(r.value), str(r.ci95_low),
                              str(r.ci95_high)], cli)
            self.assertEqual(r.region_name, NAMES[r.region])
        self.assertEqual(df.attrs["rho"], "0.1")
        self.assertEqual(df.attrs["kind"], "presence")
        self.assertEqual(sorted(df.attrs["participants"]), PARTS)
        self.assertGreaterEqual(df.attrs["cosignatures"], 2)

    def test_result_other_kinds(self):
        df = self.c.result("q-py", REGIONS)
        self.assertEqual(list(df.region), [1, 2, 3, 4])
        self.assertEqual(list(df.region_name), list(NAMES.values()))
        self.assertEqual(df.attrs["rho"], "0.05")
        hours = self.c.result("q-py2", {k: v.upper() for k, v in
                                        NAMES.items()})
        self.assertEqual(len(hours), 4 * 48)
        self.assertEqual(list(hours.bucket[:2]), ["2026-01-10T00",
                                                  "2026-01-10T01"])
        self.assertEqual(hours.bucket.iloc[-1], "2026-01-11T23")
        self.assertEqual(hours.region_name.iloc[-1], "WEST")
        w = hours.attrs["ci95_halfwidth"]
        self.assertTrue(((hours.ci95_high - hours.value) == w).all())
        self.assertTrue(((hours.value - hours.ci95_low) == w).all())

    def test_result_wrong_regions(self):
        p = os.path.join(T, "g3.csv")
        with open(p, "w") as f:
            f.write("region_id,name\n1,a\n2,b\n3,c\n")
        with self.assertRaisesRegex(CairnError, r"the result has 8 cells, "
                                    r"the domain of this query 6"):
            self.c.result("q-cli", p)
        with open(p, "w") as f:
            f.write("id,name\n1,a\n")
        with self.assertRaisesRegex(CairnError, r"g3.csv:1: the header must "
                                    "start with 'region_id'"):
            self.c.result("q-cli", p)

    def test_ci95_as_the_c_library(self):
        for nodes, rho in ((3, "0.1"), (2, "0.5"), (5, "0.001")):
            out = subprocess.run(
                [os.path.join(BIN, "cairn"), "privacy", "plan", "--kind",
                 "presence", "--rho", rho, "--days", "7", "--k", "3",
                 "--nodes", str(nodes), "--colluding", "1"],
                capture_output=True, text=True, check=True).stdout
            v = int(re.search(r"released_variance: +(\d+)", out).group(1))
            w = int(re.search(r"ci95_halfwidth: +(\d+)", out).group(1))
            self.assertEqual(ci95_halfwidth(v), w, f"variance {v}")

    # ---------------------------------------------------- verification

    def release(self, qid="q-cli"):
        st = self.c.status(qid)
        rel, vals = self.c.fetch(qid)
        return st, rel, vals

    def test_verify_accepts_the_release(self):
        st, rel, vals = self.release()
        p = verify.verify_release(self.c, "q-cli", st.log_index,
                                  rel.log_index, vals, rel.noise_variance)
        self.assertEqual(p.query.query_id, "q-cli")
        self.assertGreater(p.size, rel.log_index)

    def test_tampered_value_detected(self):
        st, rel, vals = self.release()
        vals[3] += 1
        with self.assertRaisesRegex(VerificationError, r"the values do not "
                                    r"match the result hash of the RELEASE "
                                    rf"entry at log index {rel.log_index}"):
            verify.verify_release(self.c, "q-cli", st.log_index,
                                  rel.log_index, vals, rel.noise_variance)

    def test_release_entry_carries_sha256(self):
        # The SHA-256 a browser checks published values with (version 2).
        st, rel, vals = self.release()
        cp, _ = verify.proven_checkpoint(self.c, self.c.federation,
                                         rel.log_index, 30)
        e = verify.proven_entry(self.c, "RELEASE", rel.log_index, cp)
        self.assertEqual(e.version, 2)
        self.assertEqual(e.result_sha256, verify.values_sha256(vals))
        vals[3] += 1
        self.assertNotEqual(e.result_sha256, verify.values_sha256(vals))

    def test_tampered_variance_detected(self):
        st, rel, vals = self.release()
        with self.assertRaisesRegex(VerificationError, "variance"):
            verify.verify_release(self.c, "q-cli", st.log_index,
                                  rel.log_index, vals,
                                  rel.noise_variance - 1)

    def test_forged_release_entry_detected(self):
        st, rel, vals = self.release()
        vals[0] -= 5
        forged_hash = verify.values_hash(vals)

        def forge(req, reply):
            if req.start == rel.log_index:
                d = bytearray(reply.entries[0].data)
                e = tlog.Entry(bytes(d), rel.log_index)
                at = d.find(e.result_hash)
                d[at:at + 32] = forged_hash
                reply.entries[0].data = bytes(d)
            return reply
        src = Tamper(self.c, GetEntries=forge)
        with self.assertRaisesRegex(VerificationError, rf"RELEASE entry "
                                    rf"{rel.log_index} is not included in "
                                    "the signed checkpoint"):
            verify.verify_release(src, "q-cli", st.log_index, rel.log_index,
                                  vals, rel.noise_variance)

    def test_release_index_not_a_release(self):
        st, rel, vals = self.release()
        with self.assertRaisesRegex(VerificationError, rf"log entry "
                                    rf"{st.log_index} is not a RELEASE"):
            verify.verify_release(self.c, "q-cli", st.log_index,
                                  st.log_index, vals, rel.noise_variance)

    def test_release_of_another_query_detected(self):
        st, rel, vals = self.release()
        other = self.c.status("q-py")
        with self.assertRaisesRegex(VerificationError, "is for another "
                                    "query than the QUERY entry"):
            verify.verify_release(self.c, "q-py", other.log_index,
                                  rel.log_index, vals, rel.noise_variance)

    def test_checkpoint_not_signed_by_the_log_key(self):
        st, rel, vals = self.release()
        ident = self.c.identity()
        import nacl.signing
        sk = nacl.signing.SigningKey(ident.seed)
        name = f"cairn/{self.c.federation.name}"

        def resign(req, reply):
            note = tlog.Note(reply.note)
            kid = tlog.key_id(name, tlog.KEY_ED25519,
                              bytes(sk.verify_key))
            sig = base64.b64encode(kid + sk.sign(note.text).signature)
            reply.note = (note.text + b"\n\xe2\x80\x94 " + name.encode() +
                          b" " + sig + b"\n").decode()
            return reply
        with self.assertRaisesRegex(VerificationError, rf"checkpoint: not "
                                    rf"signed by the log key '{name}'"):
            verify.verify_release(Tamper(self.c, GetCheckpoint=resign),
                                  "q-cli", st.log_index, rel.log_index, vals,
                                  rel.noise_variance)

    def test_checkpoint_without_witness_quorum(self):
        st, rel, vals = self.release()

        def strip(req, reply):
            note = tlog.Note(reply.note)
            name = f"cairn/{self.c.federation.name}"
            keep = [ln for ln in reply.note.split("\n")
                    if ln.startswith("\u2014 " + name + " ")]
            reply.note = note.text.decode() + "\n" + "\n".join(keep) + "\n"
            return reply
        with self.assertRaisesRegex(VerificationError, r"0 valid witness "
                                    r"cosignatures, 2 required"):
            verify.verify_release(Tamper(self.c, GetCheckpoint=strip),
                                  "q-cli", st.log_index, rel.log_index, vals,
                                  rel.noise_variance, wait_s=0)

    # ---------------------------------------------------------- budgets

    def ledger(self, node):
        """The node's own ledger export, once each charge has its CHARGE
        entry's log index (the node learns it after the log has it)."""
        import json
        import time
        for _ in range(100):
            out = subprocess.run(
                [os.path.join(BIN, "cairn-node"), "ledger", "export", "-c",
                 os.path.join(T, node + ".conf")], capture_output=True,
                text=True, check=True).stdout
            lines = [json.loads(ln) for ln in out.splitlines()]
            if all(isinstance(x.get("log_index"), int) for x in lines):
                return lines
            time.sleep(0.1)
        self.fail(f"{node}: ledger charges without a log index")

    # ------------------------------------------------------- planner

    # plan() before q-cli's spec gives exactly the variance and
    # half-width q-cli was released with and each node's charge.
    def test_plan_is_what_the_round_charged_and_released(self):
        self.assertEqual(self.c.wait("q-cli", timeout=120).state,
                         "released")
        p = self.c.plan(CLI_SPEC, "g4", "0.1", "n1,n2,n3", 1, REGIONS,
                        cairn=os.path.join(BIN, "cairn"))
        df = self.c.result("q-cli", REGIONS)
        self.assertEqual(p["released_variance"], df.attrs["variance"])
        self.assertEqual(p["ci95_halfwidth"], df.attrs["ci95_halfwidth"])
        self.assertEqual(p["released_variance"],
                         p["participants"] * p["sigma_h2"])
        self.assertEqual(p["cells"], len(df))
        self.assertTrue(p["budgets_read"])
        self.assertEqual(sorted({(c["holder"], c["month"])
                                 for c in p["charges"]}),
                         [(n, "2026-01") for n in PARTS])
        for ch in p["charges"]:
            mine = [m["rho_nano"] for x in self.ledger(ch["holder"])
                    if x["query_id"] == "q-cli" for m in x["months"]]
            self.assertEqual(mine, [ch["rho_nano"]], ch["holder"])
            self.assertLessEqual(ch["rho_nano"], 10**8)
            self.assertEqual(ch["budget_nano"], 10**9)

    def test_plan_errors_are_the_clis(self):
        with self.assertRaises(CairnError) as e:
            self.c.plan(CLI_SPEC, "g4", "1/3", "n1,n2,n3", 1, REGIONS,
                        cairn=os.path.join(BIN, "cairn"))
        self.assertIn("not a valid rho", str(e.exception))

    # c.budgets() and `cairn query budget` read the same log.
    def test_budgets_equal_the_clis(self):
        self.assertEqual(self.c.wait("q-cli-res", timeout=120).state,
                         "released")
        out = subprocess.run([os.path.join(BIN, "cairn"), "query", "budget",
                              "--config", CONF], capture_output=True,
                             text=True, check=True).stdout
        cli = {}
        for line in out.splitlines():
            if line.startswith("#") or line.startswith("holder,"):
                continue
            h, month, budget, spent, left, held = line.split(",")
            cli[(h, month)] = (budget, spent, left)
        df = self.c.budgets()
        self.assertEqual(len(df), len(cli))
        for _, row in df.iterrows():
            b, sp, lf = cli[(row.node, row.month)]
            self.assertEqual(round(float(b) * 1e9), row.budget_nano)
            self.assertEqual(round(float(sp) * 1e9), row.spent_nano)
            self.assertEqual(round(float(lf) * 1e9), row.remaining_nano)

    def test_budgets_from_the_log(self):
        self.assertEqual(self.c.wait("q-cli-res", timeout=120).state,
                         "released")
        df = self.c.budgets()
        self.assertEqual(sorted(df.node), PARTS)
        self.assertEqual(set(df.month), {"2026-01"})
        self.assertTrue((df.budget_nano == 10**9).all())
        self.assertTrue((df.spent_nano > 0).all())
        self.assertTrue((df.remaining_nano ==
                         df.budget_nano - df.spent_nano).all())
        self.assertEqual(df.attrs["policies"], {n: 10**9 for n in PARTS})
        # The log says what each node's own ledger says.
        for _, row in df.iterrows():
            mine = [x for x in self.ledger(row.node)
                    if x["log_index"] < df.attrs["log_size"]]
            self.assertEqual(row.charges, len(mine), row.node)
            self.assertEqual(row.spent_nano, max(
                m["cumulative_rho_nano"] for x in mine for m in x["months"]
                if m["month"] == "2026-01"), row.node)

    def test_budgets_detect_a_changed_entry(self):
        def change(req, reply):
            if req.start == 0:
                e = reply.entries[len(reply.entries) - 1]
                e.data = e.data[:-1] + bytes([e.data[-1] ^ 1])
            return reply
        src = Tamper(self.c, GetEntries=change)
        with self.assertRaisesRegex(VerificationError, r"do not hash to the "
                                    "root of the signed checkpoint"):
            verify.budgets(src)

    # ------------------------------------------------------- connection

    def test_pinned_certificate(self):
        fed = os.path.join(T, "fed", "federation.conf")
        bad = os.path.join(T, "bad-federation.conf")
        with open(fed) as f:
            text = f.read()
        coord = self.c.federation.coordinator().cert_sha256
        other = self.c.federation.find("node", "n1").cert_sha256
        with open(bad, "w") as f:
            f.write(text.replace(coord, other))
        with Client(CONF, federation=bad) as c:
            with self.assertRaisesRegex(CairnError, rf"server certificate "
                                        rf"sha256 {coord} is not the pinned "
                                        rf"{other}"):
                c.status("q-cli")
        self.assertEqual(self.c.check_pin(), coord)

    def test_channel_trusts_only_the_pinned_certificate(self):
        # The channel's only trust anchor is the certificate the pin
        # accepted: with another member's certificate in its place (the
        # same CA), the coordinator's handshake fails.
        with open(os.path.join(T, "n1", "tls.crt"), "rb") as f:
            other = f.read()

        class Swapped(Client):
            def _pinned_certificate(self):
                return other
        with Swapped(CONF) as c:
            with self.assertRaisesRegex(CairnError, r"^GetQuery: "
                                        r"UNAVAILABLE: "):
                c.status("q-cli")

    def test_config_errors(self):
        p = os.path.join(T, "broken.conf")
        with open(p, "w") as f:
            f.write("[analyst]\nidentity_key = x\ncolour = blue\n")
        with self.assertRaisesRegex(CairnError, r"broken.conf:3: unknown "
                                    "key 'colour'"):
            Client(p)
        with open(p, "w") as f:
            f.write("[analyst]\ncoordinator = 127.0.0.1:1\n")
        with self.assertRaisesRegex(CairnError, r"'federation' is required"):
            Client(p)
        node = os.path.join(T, "n1", "identity.key")
        with Client(CONF, identity_key=node) as c:
            with self.assertRaisesRegex(CairnError, r"identity key is a "
                                        "node's, not an analyst's"):
                c.build(CLI_SPEC, "g4", "0.1", "p", PARTS, 1, "q-x")


if __name__ == "__main__":
    # Results on stdout, one per line; gRPC's own log lines go to stderr.
    unittest.main(testRunner=unittest.TextTestRunner(stream=sys.stdout,
                                                     verbosity=2))
