#!/bin/sh
# demo.sh BUILD_DIR - the main job, `make demo`.
#
# The whole federation on loopback (nodes, coordinator, analyst, auditor)
# is not built yet; until it is, this runs the parts of cairn that exist
# and says so.
set -eu
O=${1:-build}
B="$O/bin"
echo "cairn demo: the federation on loopback is not built yet; showing the parts that exist."
"$B/cairn" version
