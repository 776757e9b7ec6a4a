#!/bin/sh
# fault_kill.sh - the fast subset of the kill -9 sweep
# (bench/faults/kill_sweep.sh; `make test-long` runs every point,
# docs/security-faults.md): node n2 killed right after its signed refusal
# (n1 has charged: its late CHARGE must still be logged), the coordinator
# killed right after it logged a QUERY, a REFUSAL (n1's charge may not be
# logged yet: n1 re-sends it), a CHARGE and a RELEASE, and while it wrote
# the public directory (between a tile's write and its rename, between
# the tiles and the checkpoint).
# Deadlines are generous so that a loaded machine (make check under ASan
# beside other work) fails nothing by being slow: each check waits for an
# outcome, none for a moment.
: "${CAIRN_TOP:?}"
export FED_ADVERTISE_SECONDS=${FED_ADVERTISE_SECONDS:-20}
export FED_SHARE_SECONDS=${FED_SHARE_SECONDS:-20}
export FED_CALL_DEADLINE=${FED_CALL_DEADLINE:-10}
exec sh "$CAIRN_TOP/bench/faults/kill_sweep.sh" node.after_refuse \
    coord.after_query_logged coord.after_refusal_logged \
    coord.after_charge_logged coord.after_release_logged \
    coord.public_before_rename:3 coord.public_after_tiles:2
