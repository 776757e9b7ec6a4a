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
    truth/od.csv holder1/truth/migration.csv \
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
tap_done
