#!/bin/sh
# engine_cli.sh - cairn-node run-local, check-data and ingest from the
# command line: outputs, exit codes and one-line errors.
set -u
N="$CAIRN_BIN/cairn-node"
T=$(mktemp -d /tmp/cairn-e2e-engine-XXXXXX)
trap 'rm -rf "$T"' EXIT
TAP_SHOW="$T/err"
. "${CAIRN_TOP:-.}/tests/e2e/lib/tap.sh"

cat > "$T/cells.csv" <<'X'
cell_id,region_id
a1,10
a2,10
b1,2
X
mkdir "$T/drop"
cat > "$T/drop/day1.csv" <<'X'
subscriber_id,timestamp,cell_id
u1,2026-01-05T23:00:00Z,a1
u1,2026-01-06T02:00:00Z,a2
u1,2026-01-06T12:00:00Z,b1
u2,2026-01-05T23:30:00Z,b1
u2,1767700800,b1
X
printf 'subscriber_id,timestamp,cell_id\nu3,2026-01-06T23:00:00Z,b1\n' |
    gzip > "$T/drop/day2.csv.gz"
echo '{"kind":"residents","start":"2026-01-05","end":"2026-01-08"}' > "$T/res.json"
echo '{"kind":"od","start":"2026-01-05","end":"2026-01-08"}' > "$T/od.json"

holds "help" '"$N" --help | grep -q run-local && "$N" run-local --help | grep -q -- --no-noise'
holds "unknown command fails" '! "$N" frobnicate 2>/dev/null'
"$N" run-local --frobnicate 2> "$T/err"; rc=$?
holds "unknown option: one-line error" '[ $rc -ne 0 ] && [ $(wc -l < "$T/err") -eq 1 ] && grep -q "cairn-node run-local: error: run-local: bad option .--frobnicate." "$T/err"'
"$N" ingest --data-dir 2> "$T/err"; rc=$?
holds "option without its value: one-line error" '[ $rc -ne 0 ] && grep -q "option .--data-dir. needs a value" "$T/err"'

"$N" run-local --cdr "$T/drop" --cells "$T/cells.csv" --query "$T/res.json" \
    --no-noise > "$T/out.csv" 2> "$T/err"
holds "residents csv" 'printf "region,count\n2,2\n10,1\n" | cmp -s - "$T/out.csv"'
"$N" run-local --cdr "$T/drop" --cells "$T/cells.csv" --query "$T/od.json" \
    --no-noise --dense > "$T/od.csv"
holds "od dense has every cell" '[ $(wc -l < "$T/od.csv") -eq 9 ] && grep -qx "2026-01-05,2,2,1" "$T/od.csv" && grep -qx "2026-01-05,10,2,1" "$T/od.csv" && grep -qx "2026-01-06,2,2,0" "$T/od.csv"'
"$N" run-local --cdr "$T/drop" --cells "$T/cells.csv" --query "$T/res.json" \
    --no-noise --format json --output "$T/out.json"
holds "json output" 'python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d[\"query\"][\"kind\"]==\"residents\"; assert [(c[\"region\"],c[\"count\"]) for c in d[\"cells\"]]==[(2,2),(10,1)]" "$T/out.json"'

"$N" run-local --cdr "$T/drop" --cells "$T/cells.csv" --query "$T/res.json" \
    --rho 0.5 > "$T/noisy.csv" 2> "$T/err"; rc=$?
holds "noisy residents: every cell with its interval" '[ $rc -eq 0 ] && head -1 "$T/noisy.csv" | grep -qx "region,count,ci95_low,ci95_high" && [ $(wc -l < "$T/noisy.csv") -eq 3 ] && awk -F, "NR > 1 && (\$3 != \$2 - 2 || \$4 != \$2 + 2) { bad = 1 } END { exit bad }" "$T/noisy.csv" && grep -q "rho 0.5, (epsilon" "$T/err"'
"$N" run-local --cdr "$T/drop" --cells "$T/cells.csv" --query "$T/od.json" \
    --rho 0.2 --format json --quiet > "$T/noisy.json"
holds "noisy od json: noise parameters and the whole domain" 'python3 -c "import json,sys; d=json.load(open(sys.argv[1])); n=d[\"noise\"]; assert n[\"mechanism\"]==\"discrete_gaussian\" and 0 < n[\"rho\"] <= 0.2 and n[\"epsilon\"] > 0; assert len(d[\"cells\"])==8" "$T/noisy.json"'
"$N" run-local --cdr "$T/drop" --cells "$T/cells.csv" --query "$T/res.json" > /dev/null 2> "$T/err"; rc=$?
holds "noisy mode needs --rho" '[ $rc -ne 0 ] && grep -q "give --rho R" "$T/err"'

echo '{"kind":"residents","start":"2026-01-05","end":"2026-01-08","k":2}' > "$T/bad.json"
"$N" run-local --cdr "$T/drop" --cells "$T/cells.csv" --query "$T/bad.json" \
    --no-noise > /dev/null 2> "$T/err"; rc=$?
holds "bad spec names the field" '[ $rc -ne 0 ] && grep -q "bad.json: field .k. is not used by kind .residents." "$T/err"'

printf 'cell_id,region_id\na1,10\na1,3\n' > "$T/dup.csv"
"$N" check-data --cdr "$T/drop" --cells "$T/dup.csv" > /dev/null 2> "$T/err"; rc=$?
holds "bad cell map names file:line:field" '[ $rc -ne 0 ] && grep -q "dup.csv:3: field .cell_id.: duplicate" "$T/err"'

cp "$T/drop/day1.csv" "$T/dirty.csv"
printf 'u9,2026-01-06T99:00:00Z,a1\nu9,2026-01-06T10:00:00Z,zz\n' >> "$T/dirty.csv"
"$N" check-data --cdr "$T/dirty.csv" --cells "$T/cells.csv" > "$T/rep" 2> "$T/err"; rc=$?
holds "check-data reports reasons and lines, refuses" '[ $rc -eq 1 ] && grep -q "dirty.csv:7: bad timestamp" "$T/rep" && grep -q "dirty.csv:8: unknown cell" "$T/rep" && grep -q "over the limit" "$T/err"'
"$N" check-data --cdr "$T/dirty.csv" --cells "$T/cells.csv" --max-bad-fraction 0.5 > "$T/rep"; rc=$?
holds "check-data passes under a looser limit" '[ $rc -eq 0 ] && grep -q "7 rows, 5 good, 2 bad" "$T/rep"'
"$N" run-local --cdr "$T/dirty.csv" --cells "$T/cells.csv" --query "$T/res.json" --no-noise > /dev/null 2> "$T/err"; rc=$?
holds "run-local refuses a dirty file" '[ $rc -ne 0 ] && grep -q "error: run-local: .*dirty.csv: 2 of 7 rows bad" "$T/err"'

"$N" ingest --cdr "$T/drop" --cells "$T/cells.csv" --data-dir "$T/data" --quiet
holds "ingest writes a private store" '[ -f "$T/data/key" ] && [ "$(stat -c %a "$T/data/key")" = 600 ] && ! grep -rq u1 "$T/data"'
for q in res od; do
	"$N" run-local --cdr "$T/drop" --cells "$T/cells.csv" --query "$T/$q.json" --no-noise > "$T/a.csv"
	"$N" run-local --store "$T/data" --query "$T/$q.json" --no-noise > "$T/b.csv"
	holds "store equals CSV ($q)" 'cmp -s "$T/a.csv" "$T/b.csv" && [ $(wc -l < "$T/a.csv") -gt 1 ]'
done
"$N" run-local --store "$T/nowhere" --query "$T/res.json" --no-noise 2> "$T/err" >/dev/null; rc=$?
holds "missing store: one-line error" '[ $rc -ne 0 ] && grep -q "no store here" "$T/err"'
"$N" run-local --cdr "$T/drop" --query "$T/res.json" --no-noise 2> "$T/err" >/dev/null; rc=$?
holds "missing --cells is an error" '[ $rc -ne 0 ] && grep -q "missing --cells" "$T/err"'

# Streams and compressed files: the same cells as from the file itself.
cat "$T/drop/day1.csv" > "$T/one.csv"
"$N" run-local --cdr "$T/one.csv" --cells "$T/cells.csv" --query "$T/od.json" --no-noise > "$T/a.csv" 2> "$T/err"
"$N" run-local --cdr - --cells "$T/cells.csv" --query "$T/od.json" --no-noise < "$T/one.csv" > "$T/b.csv" 2> "$T/err"
holds "--cdr - reads standard input once" 'cmp -s "$T/a.csv" "$T/b.csv" && [ $(wc -l < "$T/a.csv") -gt 1 ]'
zstd -q -f "$T/one.csv" -o "$T/one.csv.zst"
"$N" run-local --cdr "$T/one.csv.zst" --cells "$T/cells.csv" --query "$T/od.json" --no-noise > "$T/b.csv" 2> "$T/err"
holds "a zstd file" 'cmp -s "$T/a.csv" "$T/b.csv"'
mkfifo "$T/pipe"
zstd -q -dc "$T/one.csv.zst" > "$T/pipe" &
"$N" run-local --cdr "$T/pipe" --cells "$T/cells.csv" --query "$T/od.json" --no-noise > "$T/b.csv" 2> "$T/err"
wait
holds "a named pipe" 'cmp -s "$T/a.csv" "$T/b.csv"'
gzip -c "$T/one.csv" | "$N" ingest --cdr - --cells "$T/cells.csv" --data-dir "$T/sdata" --quiet 2> "$T/err"
"$N" run-local --store "$T/sdata" --query "$T/od.json" --no-noise > "$T/b.csv" 2> "$T/err"
holds "ingest from a gzip stream on standard input" 'cmp -s "$T/a.csv" "$T/b.csv"'
"$N" ingest --cdr "$T/one.csv" --cells "$T/cells.csv" --data-dir "$T/sdata" --quiet 2> "$T/err"; rc=$?
"$N" run-local --store "$T/sdata" --query "$T/od.json" --no-noise > "$T/b.csv" 2>/dev/null
holds "the same records again are refused, not counted twice" '[ $rc -ne 0 ] && [ $(wc -l < "$T/err") -eq 1 ] && grep -q "one.csv: already ingested into this store (in seg-000001.bin, from (standard input)); nothing written" "$T/err" && cmp -s "$T/a.csv" "$T/b.csv" && [ $(ls "$T/sdata" | grep -c "^seg-") -eq 1 ]'
printf 'PAR1\025\004\025\000' > "$T/cdr.parquet"
"$N" check-data --cdr "$T/cdr.parquet" --cells "$T/cells.csv" > /dev/null 2> "$T/err"; rc=$?
holds "a Parquet file is refused by name" '[ $rc -ne 0 ] && [ $(wc -l < "$T/err") -eq 1 ] && grep -q "cdr.parquet: a Parquet file, not CSV (cairn-node reads CSV, gzip-compressed CSV or zstd-compressed CSV" "$T/err"'
head -c 40 "$T/one.csv.zst" > "$T/cut.csv.zst"
"$N" check-data --cdr "$T/cut.csv.zst" --cells "$T/cells.csv" > /dev/null 2> "$T/err"; rc=$?
holds "cut-short zstd is an error" '[ $rc -ne 0 ] && grep -q "cut.csv.zst: corrupt zstd data" "$T/err"'

# Pruning data-months from the store.
printf 'subscriber_id,timestamp,cell_id\nu1,2026-02-03T10:00:00Z,a1\nu1,2026-02-04T10:00:00Z,b1\nu2,2026-02-03T23:00:00Z,b1\nu2,2026-02-04T09:00:00Z,a2\n' > "$T/feb.csv"
{ cat "$T/drop/day1.csv"; tail -n +2 "$T/feb.csv"; } > "$T/two.csv"
echo '{"kind":"od","start":"2026-02-03","end":"2026-02-06"}' > "$T/odfeb.json"
"$N" ingest --cdr "$T/two.csv" --cells "$T/cells.csv" --data-dir "$T/pdata" --quiet 2> "$T/err"
"$N" prune --data-dir "$T/pdata" --before 2026-01 2> "$T/err"
holds "prune before the first month removes nothing" 'grep -q "store .*: 0 events before 2026-01 removed, 9 kept; 0 segment(s) rewritten" "$T/err"'
"$N" prune --data-dir "$T/pdata" --before 2026-02 2> "$T/err"
holds "prune before 2026-02 removes January" 'grep -q ": 5 events before 2026-02 removed, 4 kept; 1 segment(s) rewritten" "$T/err"'
"$N" run-local --store "$T/pdata" --query "$T/odfeb.json" --no-noise > "$T/a.csv" 2>/dev/null
"$N" run-local --cdr "$T/feb.csv" --cells "$T/cells.csv" --query "$T/odfeb.json" --no-noise > "$T/b.csv" 2>/dev/null
holds "the pruned store answers as February alone" 'cmp -s "$T/a.csv" "$T/b.csv" && [ $(wc -l < "$T/a.csv") -gt 1 ]'
"$N" run-local --store "$T/pdata" --query "$T/res.json" --no-noise > "$T/a.csv" 2>/dev/null
holds "January is gone" '[ $(wc -l < "$T/a.csv") -eq 1 ]'
"$N" ingest --cdr "$T/two.csv" --cells "$T/cells.csv" --data-dir "$T/pdata" --quiet 2> "$T/err"; rc=$?
holds "a pruned input is not ingested again" '[ $rc -ne 0 ] && grep -q "already ingested" "$T/err"'
"$N" prune --data-dir "$T/pdata" --before 2026-2 2> "$T/err"; rc=$?
holds "prune: a bad month is a one-line error" '[ $rc -ne 0 ] && [ $(wc -l < "$T/err") -eq 1 ] && grep -q "not YYYY-MM" "$T/err"'

tap_done
