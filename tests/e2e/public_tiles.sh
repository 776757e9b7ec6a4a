#!/bin/sh
# public_tiles.sh - the log's public directory (docs/public.md): a real
# cairn-coordinator with [public] dir runs rounds (tests/e2e/coord_driver.c
# plays three nodes, which cosign as witnesses); the directory then holds
# the checkpoint, C2SP tlog-tiles hash tiles, entry bundles and JSON, and
# an independent Python verifier (tests/e2e/tiles_verify.py, not cairn's
# C) checks the log signature, a quorum of cosignatures against keys
# pinned from federation.conf, the inclusion of every entry and the
# consistency of an older checkpoint, from the directory and over the
# coordinator's HTTP listener.  Negative controls: a flipped byte in a
# tile, a bundle, the checkpoint, and a missing cosignature each fail with
# their name.  A 770-entry directory (tests/unit/test_coord_public) holds
# no partial of a full level-0 tile, the current size's partials, and
# verifies for its checkpoint and for an old one of size 601 whose
# partials are gone, by reading them from the full tiles (the verifier,
# from files and over HTTP, and portal/tlog.js under node); without the
# fallback, or without the full tile, it fails.  The listener's methods, paths and headers are checked with
# curl, and the same directory is served by nginx with docs/public.md's
# server block; `cairn-coordinator public-rebuild` reproduces the directory byte
# for byte and refuses one that disagrees; a coordinator refuses to start
# over a tampered directory.  Published statistics (issue #14): a query
# signed with publish gets releases/<RELEASE index>.json whose values hash
# to the RELEASE entry's SHA-256, the unpublished ones none; the outlines
# are copied; a changed release file stops the coordinator and a missing
# one is written again at start.
set -u
: "${CAIRN_BIN:?}" "${CAIRN_TOP:?}"
T=$(mktemp -d /tmp/cairn-public-XXXXXX)
SRV=""
NGX=""
cleanup() {
	[ -n "$NGX" ] && { kill "$NGX" 2>/dev/null; wait "$NGX" 2>/dev/null; }
	if [ -n "$SRV" ]; then
		kill "$SRV" 2>/dev/null
		wait "$SRV" 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT
. "$CAIRN_TOP/tests/e2e/lib/tap.sh"
. "$CAIRN_TOP/tools/federation_lib.sh"
CAIRN="$CAIRN_BIN/cairn"
COORD="$CAIRN_BIN/cairn-coordinator"
PY=/usr/bin/python3
V="$CAIRN_TOP/tests/e2e/tiles_verify.py"

{ fed_init "$T" pubtest &&
  for who in analyst:analyst node:n1 node:n2 node:n3; do
	fed_member "$T" "${who%%:*}" "${who#*:}" || exit 1
  done; } >"$T/out" 2>&1 || { notok "keys"; exit 1; }
printf 'region_id,name\n1,north\n2,south\n3,east\n4,west\n' >"$T/g4.csv"
{ FED_ADVERTISE_SECONDS=2 FED_SHARE_SECONDS=20 \
    fed_coordinator_conf "$T" "g4 g4.csv" >"$T/out" 2>&1; } ||
	{ notok "coordinator.conf"; exit 1; }
# The geography's outlines (issue #14): copied into the public directory.
"$PY" -c "import json
f = [{'type': 'Feature', 'properties': {'region_id': i, 'name': n},
      'geometry': {'type': 'Polygon', 'coordinates': [[[i, 0], [i + 1, 0],
                   [i + 1, 1], [i, 1], [i, 0]]]}}
     for i, n in ((1, 'north'), (2, 'south'), (3, 'east'), (4, 'west'))]
json.dump({'type': 'FeatureCollection', 'features': f}, open('$T/g4.geojson', 'w'))"
sed -i '/^geography = g4 g4.csv$/a outlines = g4 g4.geojson' "$T/coordinator.conf"
cat >>"$T/coordinator.conf" <<CONF
[monitoring]
listen = 127.0.0.1:0
port_file = $T/monport
[public]
witness_quorum = 2
dir = $T/pub
listen = 127.0.0.1:0
port_file = $T/pubport
max_connections_per_ip = 4
requests_per_second_per_ip = 20
CONF
ok "keys and coordinator.conf with [public]"

start() {
	rm -f "$T/pubport"
	fed_start_coordinator "$T" || {
		notok "coordinator starts"; sed 's/^/# /' "$T/coord.log"; exit 1; }
	SRV=$FED_COORD_PID
	PORT=$FED_PORT
	i=0
	while [ ! -s "$T/pubport" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	PUBPORT=$(cat "$T/pubport" 2>/dev/null)
}
stop() {
	kill "$SRV"; wait "$SRV" 2>/dev/null; SRV=""
}
# hdr/code URL...: the headers / the status of one request, waiting out
# the listener's per-address rate limit (429) as a polite client does.
hdr() {
	for _i in 1 2 3 4 5 6 7 8 9 10; do
		_h=$(curl -s -o /dev/null -D - "$@" | tr -d '\r')
		case $_h in "HTTP/1.1 429"*) sleep 1 ;; *) break ;; esac
	done
	printf '%s\n' "$_h"
}
code() {
	for _i in 1 2 3 4 5 6 7 8 9 10; do
		_c=$(curl -s -o /dev/null -w '%{http_code}' "$@")
		[ "$_c" = 429 ] || break
		sleep 1
	done
	printf '%s' "$_c"
}
D() { "$CAIRN_BIN/coord_driver" --dir "$T" --target "127.0.0.1:$PORT" "$@"; }

flip() {	# flip FILE OFFSET [MASK]: change one byte (default: invert it)
	"$PY" -c "import sys
p, o, m = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
b = bytearray(open(p, 'rb').read()); b[o] ^= m; open(p, 'wb').write(b)" \
	    "$1" "$2" "${3:-255}"
}

start
check "round 1 (three nodes, cosignatures)" D round q-one
cp "$T/pub/checkpoint" "$T/cp1"

# The keys a reader pins, from federation.conf: the coordinator's as the
# log key named by the origin, each node's as a witness.
VERIFY() { _b=$1; shift; "$PY" "$V" "$_b" \
    --federation "$T/fed/federation.conf" --quorum "${Q:-2}" "$@"; }

check "round 2" D round q-two

# --- published statistics (issue #14): only a query that asks is public
check "round 3: a query signed with publish" D --publish yes round q-pub
J() { grep -l "$1" "$T"/pub/json/*.json | head -1; }
QPUB=$(J '"query_id":"q-pub"')
has "the QUERY entry's JSON of q-pub says publish: true" '"publish":true' "$QPUB"
has "  ... q-one's says publish: false" '"publish":false' "$(J '"query_id":"q-one"')"
# The RELEASE entry whose query_hash is q-pub's QUERY's.
RI=$("$PY" -c "import glob, json, sys
q = json.load(open(sys.argv[1]))['body']['query_hash']
for f in glob.glob(sys.argv[2] + '/*.json'):
    j = json.load(open(f))
    if j['type'] == 'RELEASE' and j['query_hash'] == q:
        print(j['index'])" "$QPUB" "$T/pub/json")
RELJ="$T/pub/json/$RI.json"
holds "one release file, releases/$RI.json (the RELEASE of q-pub); q-one and q-two wrote none" \
    "[ \"\$(ls '$T/pub/releases')\" = '$RI.json' ]"
cat >"$T/relcheck.py" <<'PY'
# relcheck.py RELEASE_FILE ENTRY_JSON REGIONS_CSV: the release file's values
# hash (SHA-256 of the values as little-endian int64) to the RELEASE
# entry's result_sha256, and its regions are the geography's.
import csv, hashlib, json, struct, sys
rel = json.load(open(sys.argv[1]))
ent = json.load(open(sys.argv[2]))
h = hashlib.sha256(struct.pack("<%dq" % len(rel["values"]),
                               *rel["values"])).hexdigest()
if h != ent["result_sha256"]:
    sys.exit(f"values SHA-256 {h} is not the RELEASE entry's "
             f"{ent['result_sha256']}")
if rel["values_sha256"] != h or rel["release_log_index"] != ent["index"]:
    sys.exit("values_sha256 or release_log_index disagree")
rows = [(int(r["region_id"]), r["name"]) for r in
        csv.DictReader(open(sys.argv[3]))]
if [(r["id"], r["name"]) for r in rel["regions"]] != sorted(rows):
    sys.exit("regions differ from the geography")
if rel["cells"] != len(rel["values"]) or rel["spec"]["kind"] != "residents" \
        or rel["query_id"] != "q-pub" or rel["ci95_halfwidth"] <= 0:
    sys.exit("cells, kind, query id or interval wrong")
print("OK", h)
PY
check "the release file's values hash to the RELEASE entry's SHA-256; regions and names are the pinned geography's" \
    "$PY" "$T/relcheck.py" "$T/pub/releases/$RI.json" "$RELJ" "$T/g4.csv"
"$PY" -c "import json, sys
r = json.load(open(sys.argv[1])); r['values'][0] += 1
json.dump(r, open(sys.argv[2], 'w'))" "$T/pub/releases/$RI.json" "$T/tampered.json"
fails_with "  ... a tampered value does not (negative control)" "is not the RELEASE entry's" \
    "$PY" "$T/relcheck.py" "$T/tampered.json" "$RELJ" "$T/g4.csv"
check "the geography's outlines are copied to geographies/g4.geojson" \
    cmp "$T/g4.geojson" "$T/pub/geographies/g4.geojson"
cp "$T/pub/releases/$RI.json" "$T/rel-before.json"
holds "the public checkpoint moved on" "! cmp -s '$T/cp1' '$T/pub/checkpoint'"
check "verifier (directory): signature, 2 of 3 cosignatures, every entry, JSON, consistency with the older checkpoint" \
    VERIFY "$T/pub" --json --old "$T/cp1"
has "  ... it proved the inclusion of every entry" "^OK: inclusion of all [0-9]* entries"
has "  ... and the consistency of the older checkpoint" "^OK: checkpoint [0-9]* is consistent with [0-9]*"
SIZE=$(sed -n 2p "$T/pub/checkpoint")
W=$((SIZE % 256))
holds "tiles of every checkpointed size: tile/0/000.p/1 .. p/$W and bundles" \
    "[ -f '$T/pub/tile/0/000.p/1' ] && [ -f '$T/pub/tile/entries/000.p/$W' ] && [ -f '$T/pub/json/0.json' ]"
holds "no temporary file left" "[ -z \"\$(find '$T/pub' -name '*.tmp')\" ]"
"$PY" -c "import json,sys; [json.load(open(f)) for f in sys.argv[1:]]" "$T"/pub/json/*.json \
    >"$T/out" 2>&1 && ok "every json/<i>.json parses" || notok "every json/<i>.json parses"
has "a QUERY entry's JSON decodes the analyst's query" '"type":"QUERY"' "$T/pub/json/$(grep -l '"type":"QUERY"' "$T"/pub/json/*.json | head -1 | xargs basename)"
grep -l '"type":"RELEASE"' "$T"/pub/json/*.json | head -1 | xargs cat >"$T/out"
has "a RELEASE entry's JSON (entry version 2) has participants, result hash, its SHA-256 and variance" '"entry_version":2,"type":"RELEASE".*"participants":\[.*"result_hash":"[0-9a-f]\{64\}","result_sha256":"[0-9a-f]\{64\}","variance":'
grep -l '"type":"QUERY"' "$T"/pub/json/*.json | head -1 | xargs cat >"$T/out"
has "a QUERY entry's JSON says whether the release is public" '"query":{.*"publish":false'

curl -s "http://127.0.0.1:$(cat "$T/monport")/metrics" >"$T/metrics"
E=$(sed -n 's/^cairn_coordinator_log_entries \([0-9]*\)$/\1/p' "$T/metrics")
has "metrics: the public directory covers every entry ($E)" "^cairn_coordinator_public_entries $E$" "$T/metrics"
has "metrics: no failed update of the public directory" "^cairn_coordinator_public_write_failures_total 0$" "$T/metrics"

# --- the same directory from nginx, with docs/public.md's server block
NPORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$T/ngx"
{
	printf 'daemon off;\nuser root;\nworker_processes 1;\npid %s/ngx/pid;\n' "$T"
	printf 'error_log %s/ngx/error.log;\nevents { worker_connections 64; }\n' "$T"
	printf 'http {\ninclude /etc/nginx/mime.types;\naccess_log off;\n'
	for d in client_body proxy fastcgi uwsgi scgi; do
		printf '%s_temp_path %s/ngx/%s;\n' "$d" "$T" "$d"
	done
	sed -n '/^```nginx$/,/^```$/p' "$CAIRN_TOP/docs/public.md" | sed '1d;$d' |
	    sed "s|listen 443 ssl;|listen 127.0.0.1:$NPORT;|; /ssl_certificate/d;
		s|root /var/lib/cairn/public;|root $T/pub;|"
	printf '}\n'
} >"$T/nginx.conf"
/usr/sbin/nginx -c "$T/nginx.conf" >"$T/ngx/out" 2>&1 &
NGX=$!
i=0
while ! curl -s -o /dev/null "http://127.0.0.1:$NPORT/checkpoint" && [ $i -lt 50 ]; do
	sleep 0.1; i=$((i + 1)); done
N="http://127.0.0.1:$NPORT"
check "nginx with docs/public.md's block: the verifier passes" VERIFY "$N" --json --old "$T/cp1"
hdr "$N/checkpoint" >"$T/out"
has "nginx: checkpoint no-store" "^Cache-Control: no-store$"
has "nginx: checkpoint text/plain; charset=utf-8" "^Content-Type: text/plain; charset=utf-8$"
has "nginx: Access-Control-Allow-Origin: *" "^Access-Control-Allow-Origin: \*$"
hdr "$N/tile/0/000.p/$W" >"$T/out"
has "nginx: partial tile max-age=300" "^Cache-Control: public, max-age=300$"
cp "$T/pub/tile/0/000.p/$W" "$T/pub/tile/0/007"
hdr "$N/tile/0/007" >"$T/out"
has "nginx: full tile immutable" "^Cache-Control: public, max-age=31536000, immutable$"
rm -f "$T/pub/tile/0/007"
holds "nginx: POST is refused (405)" "[ \"\$(code -X POST '$N/checkpoint')\" = 405 ]"
touch "$T/pub/tile/0/000.p/$W.tmp"
holds "nginx: a temporary file is not served" "[ \"\$(code '$N/tile/0/000.p/$W.tmp')\" = 404 ]"
rm -f "$T/pub/tile/0/000.p/$W.tmp"
kill "$NGX" 2>/dev/null; wait "$NGX" 2>/dev/null; NGX=""

# --- a longer log (770 entries: full tiles, level 1, four bundles), made
# by the unit test of coord_public.c, checked by the same verifier
if CAIRN_TILES_KEEP="$T/big" "$CAIRN_BIN/../tests/test_coord_public" >"$T/out" 2>&1; then
	ok "a 770-entry public directory (tests/unit/test_coord_public)"
else
	notok "a 770-entry public directory (tests/unit/test_coord_public)"
fi
# The partials of a full tile are removed (docs/public.md): of tiles
# 000..002 (sizes 1 2 100 255 257 511 600..603 were checkpointed) none is
# left, hashes or bundles; size 770's are there.
find "$T/big/tile" -path '*.p/*' | sed "s|^$T/big/||" | sort >"$T/out"
holds "no partial tile or bundle of the full level-0 tiles 000-002 is left" \
    "! grep -q '^tile/\(0\|entries\)/00[012]\.p/' '$T/out'"
holds "  ... the partials of the current size 770 are there (level 0, bundle, level 1)" \
    "grep -qx tile/0/003.p/2 '$T/out' && grep -qx tile/entries/003.p/2 '$T/out' && grep -qx tile/1/000.p/3 '$T/out'"
BIG() { "$PY" "$V" "$T/big" --origin cairn/tilestest --log-key "$(cat "$T/big.key")" "$@"; }
check "verifier: 770 entries over full and partial tiles of levels 0 and 1, consistent with size 601" \
    BIG --json --old "$T/big.old"
has "  ... every entry proved" "^OK: inclusion of all 770 entries"
has "  ... the old size 601 from the full tiles, its partials being gone" \
    "^OK: the tiles of size 601 reproduce its root (2 removed partial tiles read from their full tiles)"
fails_with "  ... without the fallback the old size fails on its removed partial (negative control)" \
    "FAIL: tile/0/002.p/89: cannot fetch" BIG --old "$T/big.old" --no-fallback
# The same over HTTP (a 404, not a missing file), from a plain static server.
HPORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$PY" -m http.server -b 127.0.0.1 -d "$T/big" "$HPORT" >"$T/http.log" 2>&1 &
NGX=$!
i=0
while ! curl -s -o /dev/null "http://127.0.0.1:$HPORT/checkpoint" && [ $i -lt 50 ]; do
	sleep 0.1; i=$((i + 1)); done
check "verifier over HTTP: size 601 from the full tiles (404 on its partials)" \
    "$PY" "$V" "http://127.0.0.1:$HPORT" --origin cairn/tilestest \
    --log-key "$(cat "$T/big.key")" --old "$T/big.old"
has "  ... two partials read from their full tiles" "(2 removed partial tiles read from their full tiles)"
kill "$NGX" 2>/dev/null; wait "$NGX" 2>/dev/null; NGX=""
# The portal's own code (portal/tlog.js) under node, with a file reader.
cat >"$T/tlogfb.mjs" <<'JS'
import { readFileSync } from 'node:fs';
const [,, top, dir, cpfile] = process.argv;
const tlog = await import(top + '/portal/tlog.js');
const get = async (p) => new Uint8Array(readFileSync(dir + '/' + p));
const cp = tlog.parseNote(readFileSync(cpfile, 'utf8'));
try {
	const e = await tlog.fetchVerifiedEntries(get, cp, () => {});
	console.log('OK: ' + e.length + ' entries of size ' + cp.size);
} catch (e) {
	console.log('FAIL: ' + e.message);
	process.exit(1);
}
JS
check "portal/tlog.js: the entries of the old size 601 verify from the full tiles" \
    node "$T/tlogfb.mjs" "$CAIRN_TOP" "$T/big" "$T/big.old"
has "  ... all 601" "^OK: 601 entries of size 601$"
check "portal/tlog.js: and those of the current size 770" \
    node "$T/tlogfb.mjs" "$CAIRN_TOP" "$T/big" "$T/big/checkpoint"
mv "$T/big/tile/0/002" "$T/full002"
fails_with "  ... with the full tile gone too it fails naming it (the fallback was taken; negative control)" \
    'FAIL: err_fetch {"path":"tile/0/002"' node "$T/tlogfb.mjs" "$CAIRN_TOP" "$T/big" "$T/big.old"
mv "$T/full002" "$T/big/tile/0/002"
cp "$T/big/tile/1/000.p/3" "$T/l1"
flip "$T/big/tile/1/000.p/3" 70
fails_with "a flipped byte in a level-1 tile: named" "FAIL: tiles: the hash tiles of size 770" BIG
cp "$T/l1" "$T/big/tile/1/000.p/3"
flip "$T/big/tile/entries/001" 500
fails_with "a flipped byte in a full bundle: named" "FAIL: tile/entries/001: entry 2[0-9][0-9] does not hash" BIG

# --- over HTTP from the coordinator's listener
[ -n "$PUBPORT" ] && ok "the [public] listener writes its port ($PUBPORT)" ||
	notok "the [public] listener writes its port"
U="http://127.0.0.1:$PUBPORT"
check "verifier (HTTP): the same checks from the listener" VERIFY "$U" --json --old "$T/cp1"
hdr "$U/checkpoint" >"$T/out"
has "checkpoint: 200" "^HTTP/1.1 200"
has "checkpoint: Cache-Control: no-store" "^Cache-Control: no-store$"
has "checkpoint: Content-Type text/plain; charset=utf-8" "^Content-Type: text/plain; charset=utf-8$"
has "checkpoint: Access-Control-Allow-Origin: *" "^Access-Control-Allow-Origin: \*$"
curl -s "$U/checkpoint" | cmp -s - "$T/pub/checkpoint" && ok "checkpoint: the file's bytes" ||
	notok "checkpoint: the file's bytes"
hdr "$U/tile/0/000.p/$W" >"$T/out"
has "partial tile: 200, application/octet-stream" "^Content-Type: application/octet-stream$"
has "partial tile: short caching" "^Cache-Control: public, max-age=300$"
hdr -I "$U/tile/entries/000.p/$W" >"$T/out"
has "HEAD of a bundle: 200 with its length" "^Content-Length: $(wc -c <"$T/pub/tile/entries/000.p/$W")$"
hdr "$U/json/0.json" >"$T/out"
has "json: application/json" "^Content-Type: application/json$"
hdr "$U/releases/$RI.json" >"$T/out"
has "a release file over HTTP: 200, application/json" "^Content-Type: application/json$"
hdr "$U/geographies/g4.geojson" >"$T/out"
has "the outlines over HTTP: application/geo+json" "^Content-Type: application/geo+json$"
# A full tile is served as immutable (a stand-in file: this log is short).
cp "$T/pub/tile/0/000.p/$W" "$T/pub/tile/0/007"
hdr "$U/tile/0/007" >"$T/out"
has "full tile: Cache-Control: public, max-age=31536000, immutable" \
    "^Cache-Control: public, max-age=31536000, immutable$"
rm -f "$T/pub/tile/0/007"
holds "POST: 405" "[ \"\$(code -X POST '$U/checkpoint')\" = 405 ]"
hdr -X DELETE "$U/checkpoint" >"$T/out"
has "DELETE: 405 with Allow: GET, HEAD" "^Allow: GET, HEAD$"
for p in /tile/0/00 /tile/0/x000/001 /tile/00/000 /tile/0/000.p/0 \
    /tile/0/000.p/256 /tile/ /tile/0/ /json/ /json/01.json /json/x.json \
    /coord/log.db /../coord/log.db /%2e%2e/coord/log.db /.hidden.html \
    /tile/../checkpoint /pub /a/../checkpoint /index.php /; do
	c=$(code --path-as-is "$U$p")
	[ "$c" = 404 ] || { echo "$p: $c"; break; }
done >"$T/out"
holds "404 for paths outside the fixed set (.., %2e%2e, directories, non-canonical tiles, no index.html yet)" \
    "[ ! -s '$T/out' ]"
mkdir -p "$T/pub/js"
printf '<!doctype html><title>log</title>\n' >"$T/pub/index.html"
printf 'export const x = 1;\n' >"$T/pub/js/app.js"
ln -s "$T/coordinator.conf" "$T/pub/link.css"
hdr "$U/" >"$T/out"
has "/ serves index.html as text/html" "^Content-Type: text/html; charset=utf-8$"
hdr "$U/js/app.js" >"$T/out"
has "a portal script: text/javascript" "^Content-Type: text/javascript; charset=utf-8$"
holds "a symbolic link is not followed: 404" "[ \"\$(code '$U/link.css')\" = 404 ]"
rm -f "$T/pub/link.css" "$T/pub/index.html" "$T/pub/js/app.js"; rmdir "$T/pub/js"

# Limits: a burst over 20 requests/s from one address gets 429s (the
# verifier above waited them out), and a fifth connection from one
# address is closed while four are held.
sleep 1.5	# a full bucket
codes=$(curl -s -o /dev/null -w '%{http_code}\n' $(seq 1 60 | sed "s|.*|$U/checkpoint|"))
n200=$(echo "$codes" | grep -c '^200$'); n429=$(echo "$codes" | grep -c '^429$')
holds "a burst of 60 requests: 429 beyond the rate ($n200 ok, $n429 refused)" \
    "[ $n429 -ge 1 ] && [ $n200 -ge 15 ] && [ $((n200 + n429)) -eq 60 ]"
sleep 1
curl -s -o /dev/null -D - $(seq 1 40 | sed "s|.*|$U/checkpoint|") | tr -d '\r' >"$T/out"
has "  ... with Retry-After: 1" "^Retry-After: 1$"
sleep 1
"$PY" - "$PUBPORT" >"$T/out" 2>&1 <<'PYEOF'
import socket, sys, time
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
time.sleep(0.3)
s = socket.create_connection(("127.0.0.1", port))
s.settimeout(5)
try:
    s.sendall(b"GET /checkpoint HTTP/1.0\r\n\r\n")
    got = s.recv(100)
except OSError:
    got = b""
print("fifth:", got[:12])
for h in held:
    h.close()
time.sleep(0.3)
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"GET /checkpoint HTTP/1.0\r\n\r\n")
print("after:", s.recv(100)[:12])
PYEOF
has "a fifth connection from one address is closed (max_connections_per_ip 4)" "^fifth: b''$"
has "  ... and served once the four are closed" "^after: b'HTTP/1.1 200'$"

# --- negative controls: each tampering is named
tamper() {	# tamper NAME: a fresh copy of the directory in $T/bad
	rm -rf "$T/bad"; cp -r "$T/pub" "$T/bad"
}
tamper; flip "$T/bad/tile/0/000.p/$W" 40
fails_with "a flipped byte in a hash tile: named" "FAIL: tiles: the hash tiles of size $SIZE do not reproduce the signed root" \
    VERIFY "$T/bad"
tamper; flip "$T/bad/tile/entries/000.p/$W" 30
fails_with "a flipped byte in an entry bundle: named" "FAIL: tile/entries/000.p/$W: entry [0-9]* does not hash" \
    VERIFY "$T/bad"
# The first digit of the size ("cairn/pubtest\n" is 14 bytes): 1 -> 0 ...
tamper; flip "$T/bad/checkpoint" 14 1
fails_with "a flipped byte in the checkpoint: named" "FAIL: checkpoint: log signature of cairn/pubtest does not verify" \
    VERIFY "$T/bad"
tamper; grep -v '^— n[12] ' "$T/pub/checkpoint" >"$T/bad/checkpoint"
fails_with "a missing cosignature (1 of quorum 2): named" "FAIL: checkpoint: 1 valid cosignatures of pinned witnesses, the quorum is 2" \
    VERIFY "$T/bad"
Q=1 check "  ... the same checkpoint meets a quorum of 1 (negative control)" VERIFY "$T/bad"

# --- rebuild from the databases
stop
check "public-rebuild into an empty folder" "$COORD" public-rebuild -c "$T/coordinator.conf" --dir "$T/re"
check "  ... reproduces the directory byte for byte" diff -r "$T/pub" "$T/re"
check "public-rebuild over the live directory: agrees, nothing written" sh -c \
    "'$COORD' public-rebuild -c '$T/coordinator.conf' | grep -q ': 0 files written'"
flip "$T/re/tile/0/000.p/3" 5
fails_with "public-rebuild refuses a tile with other bytes, naming it" "re/tile/0/000.p/3: differs from log.db at byte 5" \
    "$COORD" public-rebuild -c "$T/coordinator.conf" --dir "$T/re"
flip "$T/re/tile/0/000.p/3" 5
cp "$T/re/tile/0/000.p/3" "$T/re/tile/0/001"
fails_with "public-rebuild refuses a tile no checkpointed size implies" "re/tile/0/001: no checkpointed size of log.db" \
    "$COORD" public-rebuild -c "$T/coordinator.conf" --dir "$T/re"
rm "$T/re/tile/0/001"
sed -i '3s/^./A/' "$T/re/checkpoint"
fails_with "public-rebuild refuses a checkpoint of another root" "re/checkpoint: size [0-9]* with a root log.db does not have" \
    "$COORD" public-rebuild -c "$T/coordinator.conf" --dir "$T/re"
rm -rf "$T/re/json/1.json" "$T/re/checkpoint" "$T/re/tile/entries"
check "public-rebuild fills in missing files" "$COORD" public-rebuild -c "$T/coordinator.conf" --dir "$T/re"
check "  ... and they are the same again" diff -r "$T/pub" "$T/re"

# --- the coordinator refuses a directory that contradicts its database
flip "$T/pub/tile/entries/000.p/2" 9
if "$COORD" serve -c "$T/coordinator.conf" >"$T/out" 2>&1; then
	notok "serve refuses a tampered public directory"
else
	has "serve refuses a tampered public directory, naming the file" "pub/tile/entries/000.p/2: differs from log.db"
fi
flip "$T/pub/tile/entries/000.p/2" 9
# A release file that is not what the database released stops it too.
sed -i 's/"values":\[/"values":[1,/' "$T/pub/releases/$RI.json"
if "$COORD" serve -c "$T/coordinator.conf" >"$T/out" 2>&1; then
	notok "serve refuses a changed release file"
else
	has "serve refuses a changed release file, naming it" "publishing query 'q-pub': .*pub/releases/$RI.json: longer than"
fi
# A crash between the RELEASE and its file: written again at start.
rm "$T/pub/releases/$RI.json"
touch "$T/pub/tile/0/000.p/4.tmp"
start
holds "a missing release file is written again at start, the same bytes" \
    "cmp -s '$T/rel-before.json' '$T/pub/releases/$RI.json'"
U="http://127.0.0.1:$PUBPORT"
check "after repair it serves; a third round" D round q-three
holds "a leftover temporary file is removed at start" "[ ! -e '$T/pub/tile/0/000.p/4.tmp' ]"
check "verifier after the restart (consistency with round 1's checkpoint)" VERIFY "$U" --old "$T/cp1"
stop

# --- HTTPS with a web certificate (any CA: here a self-signed one)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/web.key" -out "$T/web.crt" -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 >"$T/out" 2>&1 ||
	notok "a web certificate (openssl)"
chmod 600 "$T/web.key"
printf 'tls_cert = %s\ntls_key = %s\n' "$T/web.crt" "$T/web.key" >>"$T/coordinator.conf"
start
U="https://127.0.0.1:$PUBPORT"
check "verifier over HTTPS" VERIFY "$U" --cafile "$T/web.crt" --json --old "$T/cp1"
curl -s --cacert "$T/web.crt" -o /dev/null -D - "$U/checkpoint" | tr -d '\r' >"$T/out"
has "HTTPS: the checkpoint with no-store" "^Cache-Control: no-store$"
holds "plain HTTP on the HTTPS port is not served" \
    "! curl -s -m 5 -o /dev/null 'http://127.0.0.1:$PUBPORT/checkpoint'"
stop
chmod 644 "$T/web.key"
if "$COORD" serve -c "$T/coordinator.conf" >"$T/out" 2>&1; then
	notok "a TLS key readable by others is refused"
else
	has "a TLS key readable by others is refused, naming it" "web.key"
fi
chmod 600 "$T/web.key"
cp "$T/fed/coordinator/tls.key" "$T/other.key"
chmod 600 "$T/other.key"
sed -i "s|^tls_key = $T/web.key|tls_key = $T/other.key|" "$T/coordinator.conf"
fails_with "a key that is not the certificate's is refused" "other.key: not the private key of" \
    "$COORD" serve -c "$T/coordinator.conf"

# --- configuration
sed '/^\[public\]$/,$ { /^dir = /d }' "$T/coordinator.conf" >"$T/bad.conf"
fails_with "[public] listen without dir is refused" "\[public\] listen is set without \[public\] dir" \
    "$COORD" check-config -c "$T/bad.conf"
sed '/^\[public\]$/,$ { /^tls_key = /d }' "$T/coordinator.conf" >"$T/bad.conf"
fails_with "[public] tls_cert without tls_key is refused" "tls_cert and tls_key go together" \
    "$COORD" check-config -c "$T/bad.conf"
sed 's/^listen = 127.0.0.1:0$/&/; /^\[public\]$/,$ { s/^listen = .*/listen = 1.2.3:x/ }' "$T/coordinator.conf" >"$T/bad.conf"
fails_with "a bad [public] listen is refused" "\[public\] listen" \
    "$COORD" check-config -c "$T/bad.conf"
sed '/^\[public\]$/,$ { /^dir = /d; /^listen = /d; /^tls_/d }' "$T/coordinator.conf" >"$T/bad.conf"
fails_with "public-rebuild without [public] dir or --dir is refused" "no \[public\] dir and no --dir" \
    "$COORD" public-rebuild -c "$T/bad.conf"
fails_with "public-rebuild with an unknown argument prints its usage" "usage: cairn-coordinator public-rebuild" \
    "$COORD" public-rebuild -c "$T/coordinator.conf" --bogus
sed 's/^outlines = g4 g4.geojson$/outlines = g9 g4.geojson/' "$T/coordinator.conf" >"$T/bad.conf"
fails_with "[geographies] outlines of an unknown geography is refused" \
    "bad.conf:[0-9]*: key 'outlines' in \[geographies\]: 'g9' is not a geography of this file" \
    "$COORD" check-config -c "$T/bad.conf"
printf '{"type": "Feature"}' >"$T/notfc.geojson"
sed 's/^outlines = g4 g4.geojson$/outlines = g4 notfc.geojson/' "$T/coordinator.conf" >"$T/bad.conf"
fails_with "[geographies] outlines that are not a FeatureCollection are refused" \
    "outlines of 'g4': .*notfc.geojson is not a GeoJSON FeatureCollection" \
    "$COORD" check-config -c "$T/bad.conf"
printf '{"type": ' >"$T/notfc.geojson"
fails_with "  ... and a broken JSON file, with its line" \
    "outlines of 'g4': .*notfc.geojson:1: " "$COORD" check-config -c "$T/bad.conf"
echo "1..$n"
tap_done
