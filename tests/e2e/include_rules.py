#!/usr/bin/env python3
"""include_rules.py - the module graph of docs/architecture.md, checked.

Usage: include_rules.py [TOP]   (default: the current directory)

Every C file of the product is read for its #include lines and its calls,
and these rules are checked (DESIGN §3, docs/architecture.md):

  1. Dependencies point down.  Each module has a level; a file may include
     headers of its own module and of modules of a LOWER level only.  Roles
     (node, coordinator, query, audit, synth) never include one another,
     foundations never include a role, privacy/ and keys/ never include
     each other.  node/engine/ is a room of node/ that includes nothing of
     the rest of node/.
  2. Only protocol/ includes gRPC headers (<grpc/...>).
  3. Only keys/ signs with a long-term key: crypto_sign_* calls other than
     verification (crypto_sign_verify_detached) and the public-key
     conversion stay in keys/.
  4. No include circle among the product's headers.

Prints one line per violation naming the file, the line and the rule, then
a closing "N passed, N failed" line; exits 1 when anything failed.
"""
import os
import re
import sys

LEVEL = {
    "common": 0,
    "privacy": 1, "keys": 1,
    "protocol": 2,
    "node": 3, "coordinator": 3, "query": 3, "audit": 3, "synth": 3,
    "cmd": 4,
    "bench": 5, "tools": 5,
}
# Modules of one level that may not include each other (roles, and the
# two foundations of level 1); the entry point and benchmarks may.
SIDEWAYS_OK = {"cmd", "bench", "tools"}
GRPC_OK = {"protocol"}
SIGN_OK = {"keys"}
SIGN_CALL = re.compile(r"\bcrypto_sign_(?!verify_detached\b|BYTES\b|"
                       r"PUBLICKEYBYTES\b|SECRETKEYBYTES\b|SEEDBYTES\b|"
                       r"ed25519_pk_to_curve25519\b|ed25519_BYTES\b|"
                       r"ed25519_PUBLICKEYBYTES\b)[a-z0-9_]+\s*\(")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def module_of(path):
    """The module of a repository path: its first folder."""
    return path.split("/", 1)[0]


def room_of(path):
    """node/engine/ is a room of its own inside node/."""
    return "node/engine" if path.startswith("node/engine/") else None


def product_files(top):
    out = []
    for mod in LEVEL:
        base = os.path.join(top, mod)
        if not os.path.isdir(base):
            continue
        for d, _, files in os.walk(base):
            for f in files:
                if f.endswith((".c", ".h")):
                    out.append(os.path.relpath(os.path.join(d, f), top))
    return sorted(out)


def strip_comments(text):
    return re.sub(r"/\*.*?\*/|//[^\n]*",
                  lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)


def check(top):
    problems = []
    graph = {}
    files = product_files(top)
    checked = 0
    for path in files:
        mod = module_of(path)
        with open(os.path.join(top, path), encoding="utf-8",
                  errors="replace") as fh:
            text = fh.read()
        code = strip_comments(text)
        graph.setdefault(path, [])
        for n, line in enumerate(code.split("\n"), 1):
            m = INCLUDE.match(line)
            if m:
                checked += 1
                quote, inc = m.groups()
                if quote == "<":
                    if inc.startswith("grpc/") and mod not in GRPC_OK:
                        problems.append(f"{path}:{n}: includes <{inc}>: "
                                        "only protocol/ includes gRPC")
                    continue
                imod = module_of(inc)
                if imod not in LEVEL:
                    continue	# generated code (cairn.pb-c.h) and the like
                if inc.endswith(".h"):
                    graph[path].append(inc)
                if imod == mod:
                    if room_of(path) == "node/engine" and \
                            room_of(inc) != "node/engine":
                        problems.append(f"{path}:{n}: includes \"{inc}\": "
                                        "node/engine/ includes nothing of "
                                        "the rest of node/")
                    continue
                if LEVEL[imod] > LEVEL[mod]:
                    problems.append(f"{path}:{n}: includes \"{inc}\": "
                                    f"{mod}/ (level {LEVEL[mod]}) may not "
                                    f"include {imod}/ (level "
                                    f"{LEVEL[imod]}): dependencies point "
                                    "down")
                elif LEVEL[imod] == LEVEL[mod] and mod not in SIDEWAYS_OK:
                    problems.append(f"{path}:{n}: includes \"{inc}\": "
                                    f"{mod}/ and {imod}/ are side by side "
                                    "(nothing includes sideways)")
            if mod not in SIGN_OK and path.endswith(".c"):
                for c in SIGN_CALL.finditer(line):
                    checked += 1
                    problems.append(f"{path}:{n}: calls "
                                    f"{c.group(0).rstrip('( ')}: only "
                                    "keys/ signs with a long-term key")
    # 4. Circles among headers (a .c file is never included).
    state = {}
    stack = []

    def visit(h):
        state[h] = 1
        stack.append(h)
        for nxt in graph.get(h, []):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                cyc = stack[stack.index(nxt):] + [nxt]
                problems.append("include circle: " + " -> ".join(cyc))
            elif state.get(nxt) is None:
                visit(nxt)
        stack.pop()
        state[h] = 2

    for h in sorted(graph):
        if h.endswith(".h") and state.get(h) is None:
            visit(h)
    return checked, problems


def main():
    top = sys.argv[1] if len(sys.argv) > 1 else "."
    checked, problems = check(top)
    for p in problems:
        print(p)
    print(f"include rules: {checked} includes and calls in "
          f"{len(product_files(top))} files checked")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
