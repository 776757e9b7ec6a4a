#!/bin/sh
# synth_cli.sh - `cairn synth` as a user runs it: help, one-line errors,
# the files of a run, determinism of whole folders, gzip output.
set -u
CAIRN="${CAIRN_BIN:-build/bin}/cairn"
W=$(mktemp -d /tmp/cairn-e2e-synth.XXXXXX)
trap 'rm -rf "$W"' EXIT
TAP_SHOW="$W/err"
. "${CAIRN_TOP:-.}/tests/e2e/lib/tap.sh"

holds "--help prints usage and exits 0" \
    "'$CAIRN' synth --help | grep -q 'usage: cairn synth'"
holds "listed in 'cairn --help'" "'$CAIRN' --help | grep -q '^  synth '"
"$CAIRN" synth --days 1 --out "$W/x" 2> "$W/err"
holds "bad --days exits 1" "[ $? -eq 1 ]"
holds "one-line error naming the option" \
    "[ \$(wc -l < '$W/err') -eq 1 ] && grep -q '^cairn synth: error: .*--days: must be 2..366' '$W/err'"
"$CAIRN" synth --subscribers 10 2> "$W/err"
holds "missing --out is an error" "[ $? -eq 1 ] && grep -q -- '--out: required' '$W/err'"

A="--holders 3 --subscribers 400 --days 4 --regions 7 --seed 11"
"$CAIRN" synth $A --out "$W/a" > "$W/out" 2>&1
holds "a run succeeds and reports its rate" \
    "[ $? -eq 0 ] && grep -q 'M rows/s' '$W/out'"
for f in regions.csv regions.geojson manifest.json agency/records.csv \
    holder3/cells.csv holder2/cdr/2024-03-07.csv queries/visitors.json \
    truth/od.csv holder1/truth/migration.csv queries/displacement.json \
    holder2/truth/displacement.csv \
    agency/truth/population_by_category.csv; do
	holds "writes $f" "[ -s '$W/a/$f' ]"
done
holds "regions.csv has R rows" "[ \$(wc -l < '$W/a/regions.csv') -eq 8 ]"
holds "geojson parses, with R polygons" "python3 -c \"import json,sys; d=json.load(open('$W/a/regions.geojson')); sys.exit(len(d['features']) != 7 or d['features'][0]['geometry']['type'] != 'Polygon')\""
holds "query specs are JSON" "python3 -c \"import json,glob; [json.load(open(f)) for f in glob.glob('$W/a/queries/*.json')]\""
holds "CDR header" "head -1 '$W/a/holder1/cdr/2024-03-04.csv' | grep -qx 'subscriber_id,timestamp,cell_id'"
holds "cell ids differ between holders" \
    "! cut -d, -f1 '$W/a/holder1/cells.csv' | tail -n +2 | grep -qxF -f - '$W/a/holder2/cells.csv'"
holds "subscribers belong to one holder" \
    "[ -z \"\$(tail -q -n +2 '$W/a'/holder1/cdr/*.csv | cut -d, -f1 | sort -u > '$W/h1'; tail -q -n +2 '$W/a'/holder2/cdr/*.csv | cut -d, -f1 | sort -u | comm -12 - '$W/h1')\" ]"
"$CAIRN" synth $A --out "$W/b" --quiet --threads 1
holds "same seed, same bytes (any thread count)" "diff -r '$W/a' '$W/b' > /dev/null"
"$CAIRN" synth $A --out "$W/a" 2> "$W/err"
holds "a non-empty folder is refused" "[ $? -eq 1 ] && grep -q 'not empty' '$W/err'"
"$CAIRN" synth --holders 3 --subscribers 400 --days 4 --regions 7 --seed 12 \
    --out "$W/c" --quiet
holds "another seed, other data" "! diff -r '$W/a' '$W/c' > /dev/null"
"$CAIRN" synth $A --out "$W/z" --quiet --gzip
holds "--gzip: same rows compressed" \
    "gzip -dc '$W/z/holder1/cdr/2024-03-05.csv.gz' | cmp -s - '$W/a/holder1/cdr/2024-03-05.csv' && gzip -dc '$W/z/agency/records.csv.gz' | cmp -s - '$W/a/agency/records.csv'"
"$CAIRN" synth --subscribers 20 --out "$W/deep/er/out" --quiet
holds "missing parent folders are created" "[ -s '$W/deep/er/out/regions.csv' ]"
: > "$W/file"
"$CAIRN" synth --subscribers 20 --out "$W/file/out" 2> "$W/err"
holds "an unusable --out names the path" "[ $? -eq 1 ] && grep -q '$W/file' '$W/err'"
# --event stages the displacement; the exact displacement cells of the
# engine (run-local --no-noise) equal the truth's, per holder, and the
# truth shows the event: half of region 17's residents left on its day.
NODE="${CAIRN_BIN:-build/bin}/cairn-node"
E="--holders 2 --subscribers 1500 --days 8 --regions 6 --seed 5"
"$CAIRN" synth $E --event 2024-03-08,17,0.5 --out "$W/ev" --quiet
holds "--event: the run succeeds" "[ $? -eq 0 ]"
holds "--event: the manifest names the staged event" \
    "grep -q '\"displacement\": {\"day\": \"2024-03-08\", \"origin\": 17, \"share\": 0.50}' '$W/ev/manifest.json'"
holds "--event: the displacement spec follows the cohort from the event day" \
    "grep -q '\"start\": \"2024-03-08\".*\"baseline\": \\[\"2024-03-04\", \"2024-03-08\"\\]' '$W/ev/queries/displacement.json'"
for h in holder1 holder2; do
	"$NODE" run-local --query "$W/ev/queries/displacement.json" \
	    --cdr "$W/ev/$h/cdr" --cells "$W/ev/$h/cells.csv" --no-noise \
	    --quiet > "$W/$h-disp.csv" 2> "$W/err"
	holds "$h: engine displacement cells = synth truth" \
	    "cmp -s '$W/$h-disp.csv' '$W/ev/$h/truth/displacement.csv'"
done
# share away on 2024-03-11: seen elsewhere / seen, per home region
away() {
	awk -F, -v h="$1" '$1 == h && $2 == "2024-03-11" && $3 != "none" {
	    n += $4; if ($3 != h) a += $4 } END { printf "%d", 100 * a / n }' \
	    "$W/ev/truth/displacement.csv"
}
holds "the truth shows the event: region 17's cohort mostly away ($(away 17) %)" \
    "[ $(away 17) -ge 40 ]"
holds "and region 10's cohort mostly at home ($(away 10) %)" \
    "[ $(away 10) -lt 35 ]"
"$CAIRN" synth $E --event 2024-03-04,17,0.5 --out "$W/ev2" 2> "$W/err"
holds "--event on the first day is refused (no baseline)" \
    "[ $? -eq 1 ] && grep -q -- '--event: the date must be after the first day' '$W/err'"
"$CAIRN" synth $E --event 2024-03-08,99,0.5 --out "$W/ev3" 2> "$W/err"
holds "--event in an unknown region is refused, naming it" \
    "[ $? -eq 1 ] && grep -q -- '--event: region 99 is not one of' '$W/err'"
"$CAIRN" synth $E --event 2024-03-08,17,1.5 --out "$W/ev4" 2> "$W/err"
holds "--event share over 1 is refused" \
    "[ $? -eq 1 ] && grep -q -- '--event: the share must be in (0, 1]' '$W/err'"
tap_done
