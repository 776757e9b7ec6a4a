#!/bin/sh
# synth_duckdb.sh - the independent SQL computation of the query kinds
# (DuckDB, bench/duckdb_sql.mjs) against a Python reference on small
# hand-made edge cases, against `cairn synth`'s ground truth, and, when the
# engine is built, against `cairn-node run-local`.  Installs
# @duckdb/node-api from npm into build/duckdb-node on first use (a few
# seconds; kept).
set -u
exec sh "${CAIRN_TOP:-.}/bench/engine_duckdb.sh" --check-small
