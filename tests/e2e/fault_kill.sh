#!/bin/sh
# fault_kill.sh - the fast subset of the kill -9 sweep
# (tools/faults/kill_sweep.sh; `make test-long` runs every point,
# docs/security-faults.md): node n2 killed right after its signed refusal
# (n1 has charged: its late CHARGE must still be logged), the coordinator
# killed right after it logged a QUERY, a CHARGE and a RELEASE.
: "${CAIRN_TOP:?}"
exec sh "$CAIRN_TOP/tools/faults/kill_sweep.sh" node.after_refuse \
    coord.after_query_logged coord.after_charge_logged \
    coord.after_release_logged
