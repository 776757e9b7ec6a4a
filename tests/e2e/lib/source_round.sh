# source_round.sh - a `cairn-node serve` round whose nodes read a SQL
# source (docs/sources.md), sourced by tests/e2e/source_pg.sh and
# tests/e2e/source_ch.sh after tap.sh and tools/federation_lib.sh.  Two
# nodes n1 and n2 hold the same records, each through its own path (a
# [source] section, or the CSV file), an analyst asks for residents, and
# the round must be released with every cell within 5 standard deviations
# of twice the embedded engine's exact count (each node counts every
# subscriber once).  The noise is the production noise (no test seed
# exists, docs/privacy.md); at rho 1 its standard deviation is about one,
# against exact counts of tens, so the check tells a node that computed
# something else, and a negative control shows that once the exact count
# is not enough.
#
# The caller sets T (its temporary directory, with T/out), NODE, CAIRN and
# sources the two libraries; the federation lives in SRC_F.

# src_round_setup DIR REGIONS CDR CELLS N1_SOURCE N2_SOURCE: a coordinator
# with the geography g1 (REGIONS), an analyst, and nodes n1 and n2 over
# CDR and CELLS; N1_SOURCE, N2_SOURCE are the lines of the node's [source]
# section (empty: the node reads CDR).  Sets SRC_F=DIR.
src_round_setup() {
	SRC_F=$1
	mkdir -p "$SRC_F"
	cp "$2" "$SRC_F/g1.csv"
	_pol='allow_kind = residents
allow_analyst = analyst
budget_rho_per_month = 2
max_rho_per_query = 1'
	FED_ADVERTISE_SECONDS=20 FED_SHARE_SECONDS=20
	export FED_ADVERTISE_SECONDS FED_SHARE_SECONDS
	fed_init "$SRC_F" srcfed && fed_member "$SRC_F" analyst analyst &&
	    fed_member "$SRC_F" node n1 && fed_member "$SRC_F" node n2 &&
	    fed_coordinator_conf "$SRC_F" "g1 g1.csv" &&
	    fed_start_coordinator "$SRC_F" &&
	    fed_analyst_conf "$SRC_F" analyst || return 1
	for _nd in n1 n2; do
		if [ $_nd = n1 ]; then _src=$5; else _src=$6; fi
		# A node with a [source] names a CDR file that is not there:
		# it must not read it.
		_cdr=$3
		[ -n "$_src" ] && _cdr="$T/no-such-file.csv"
		echo "$_pol" | FED_DATA_EXTRA="${_src:+[source]
$_src}" fed_node_conf "$SRC_F" $_nd "$_cdr" "$4" g1 || return 1
	done
}

# src_round_run ID START END [NODES]: start NODES (default "n1 n2"; NAME
# serves SRC_F/NAME.conf, logs to SRC_F/NAME.log), submit residents over
# START..END at rho 1 to n1 and n2, wait for the release, stop the nodes.
src_round_run() {
	for _nd in ${4:-n1 n2}; do
		CAIRN_LOG=debug "$NODE" serve -c "$SRC_F/$_nd.conf" \
		    >"$SRC_F/$_nd.log" 2>&1 &
		echo $! >"$SRC_F/$_nd.pid"
	done
	"$CAIRN" query submit --config "$SRC_F/analyst.conf" --id "$1" \
	    --kind residents --start "$2" --end "$3" --geography g1 --rho 1 \
	    --participants n1,n2 --colluding 0 --holders 1 \
	    --purpose "source round $1" >"$T/out" 2>&1 &&
	    "$CAIRN" query wait --config "$SRC_F/analyst.conf" "$1" \
	    --timeout 120 >"$T/out" 2>&1
	_rc=$?
	for _nd in ${4:-n1 n2}; do
		kill -TERM "$(cat "$SRC_F/$_nd.pid")" 2>/dev/null
		wait "$(cat "$SRC_F/$_nd.pid")" 2>/dev/null
	done
	return $_rc
}

# src_round_check ID START END CDR CELLS WHAT: the checks of a released
# round: each node with a [source] says it computed in the database, both
# vectors have one shape, and every released cell is within 5 standard
# deviations of twice the embedded engine's exact count of CDR (negative
# control: not of once that count).  WHAT names the nodes' paths.
src_round_check() {
	for _nd in n1 n2; do
		grep -q '^\[source\]' "$SRC_F/$_nd.conf" || continue
		has "$_nd computed its vector in the database ($6)" \
		    "exact vector from the \[source\] database" "$SRC_F/$_nd.log"
	done
	_v1=$(sed -n 's/.*exact vector: \([0-9]* cells\), engine.*/\1/p' \
	    "$SRC_F/n1.log")
	_v2=$(sed -n 's/.*exact vector: \([0-9]* cells\), engine.*/\1/p' \
	    "$SRC_F/n2.log")
	TAP_SHOW="$SRC_F/n1.log $SRC_F/n2.log" holds \
	    "n1's vector has n2's shape ($_v2)" \
	    '[ -n "$_v1" ] && [ "$_v1" = "$_v2" ]'
	echo "{\"kind\": \"residents\", \"start\": \"$2\", \"end\": \"$3\"}" \
	    >"$T/round-q.json"
	"$NODE" run-local --no-noise --quiet --dense --query "$T/round-q.json" \
	    --cdr "$4" --cells "$5" >"$T/round-exact.csv" 2>"$T/out" &&
	    "$CAIRN" query result --config "$SRC_F/analyst.conf" "$1" \
	    --regions "$SRC_F/g1.csv" >"$T/round-rel.csv" 2>>"$T/out"
	status_ok $? "the exact answer and the released result of $1 are read"
	# within MULT: every region's released value is within 5 sd (the 95%
	# interval's half-width is 1.96 sd) of MULT x its exact count, and
	# every region is there.
	within() {
		awk -F, -v m="$1" 'NR == FNR { if (FNR > 1) { x[$1] = $2; nx++ }; next }
		    FNR > 1 && ($1 in x) { sd = ($5 - $3) / 1.96
			d = $3 - m * x[$1]; if (d < 0) d = -d
			if (d > 5 * sd || sd <= 0) bad++; seen++ }
		    END { exit !(bad == 0 && seen == nx && seen > 0) }' \
		    "$T/round-exact.csv" "$T/round-rel.csv"
	}
	TAP_SHOW="$T/round-exact.csv $T/round-rel.csv" holds \
	    "$1 ($6): every released cell is within 5 sd of twice the embedded engine's exact count" \
	    'within 2'
	TAP_SHOW="$T/round-exact.csv $T/round-rel.csv" holds \
	    "$1: negative control: the released cells are not all within 5 sd of once the exact count" \
	    '! within 1'
}
