#!/bin/sh
# secagg_kat.sh - an independent implementation (Python, standard library
# only: its own X25519 and ChaCha20, hashlib's BLAKE2b) recomputes every
# value of the published known-answer vectors that test_secagg checks the
# C implementation against.
set -u
cd "${CAIRN_TOP:-.}"
python3 tests/vectors/secagg_ref.py check tests/vectors/secagg_kat.json
