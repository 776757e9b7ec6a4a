#!/bin/sh
# portal.sh - issue #14 items 3-4: the portal in a real browser (Debian's
# headless Chromium driven by puppeteer-core).  A small `cairn demo` runs
# eight queries and one refused over budget; its coordinator writes the log
# as C2SP tiles into its public directory and serves it, and the demo
# installs the portal there with the keys of federation.conf pinned
# (tools/portal.mjs) and prints its URL; the federation is started again.  Checked: the page verifies the checkpoint, cosignatures and
# every entry; it lists every query the audit counts with its cost and
# outcome, the ε of each cost equals `cairn privacy plan`'s, the budgets
# equal `cairn query budget`'s; French renders; a phone screen holds it;
# Tab reaches the skip link first; without JavaScript the log is text
# (log.html); a tampered tile, entry bundle, cosignature or log signature,
# or a checkpoint short of the witness quorum, turns the page into a
# failure naming what failed (negative controls of "verified"), and
# the tool refuses to write log.html from them (the tampered copies served
# by another static server, python3 -m http.server).  A lying coordinator's
# logs (tests/e2e/lib/relog.py: re-signed and re-cosigned, valid at the tile
# level, one entry forged: a CHARGE's node signature, a QUERY's analyst
# signature, a MEMBER's log-key signature, a node's entries after a
# MEMBER entry removing it, a CHARGE's spend edited outside what the node
# signed) turn the page red naming the entry, its type
# and signer, the tool refuses them and `cairn audit verify` names the same
# entry; re-made with nothing changed, the log is byte for byte the same
# and verifies; the membership rules the demo's log does not exercise are
# checked on small logs by portal_entry.mjs.  Published statistics:
# every release file of the demo (which publishes) is checked in the
# browser against its RELEASE entry's SHA-256, drawn with one shape per
# region (flows and a matrix for od and migration), its CSV and GeoJSON
# downloads parse and equal the file with the intervals, a tooltip shows a
# value and its interval; a tampered release file shows as failed, naming
# it.  Screenshots are kept in
# build/portal-screens/ (docs/portal.md shows them).
set -u
: "${CAIRN_BIN:?}" "${CAIRN_TOP:?}"
T=$(mktemp -d /tmp/cairn-portal-XXXXXX)
HTTP=""
cleanup() {
	[ -x "$T/demo/stop.sh" ] && sh "$T/demo/stop.sh" >/dev/null 2>&1
	if [ -n "$HTTP" ]; then kill "$HTTP" 2>/dev/null; wait "$HTTP" 2>/dev/null; fi
	[ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
. "$CAIRN_TOP/tests/e2e/lib/tap.sh"
. "$CAIRN_TOP/tests/e2e/lib/npm_deps.sh"
C="$CAIRN_BIN/cairn"
NPM_DIR="$CAIRN_BIN/../npm"
SHOTS="$CAIRN_BIN/../portal-screens"
export NPM_DIR
mkdir -p "$SHOTS"
PC="python3 $CAIRN_TOP/tests/e2e/lib/portal_check.py"
PORTAL="node $CAIRN_TOP/tools/portal.mjs"

if npm_deps "$NPM_DIR"; then ok "puppeteer-core installed in $NPM_DIR"
else cp "$NPM_DIR/npm.log" "$T/out"; notok "npm install of puppeteer-core"; exit 1; fi

# browse NAME URL [FLAGS]: the page as JSON in $T/NAME.json, its
# screenshot in $SHOTS/NAME.png.
browse() {
	_n=$1; _u=$2; shift 2
	if node "$CAIRN_TOP/tests/e2e/portal_browser.mjs" "$_u" \
	    "$SHOTS/$_n.png" "$@" >"$T/$_n.json" 2>"$T/out"; then
		ok "chromium opens $_n"
	else
		notok "chromium opens $_n"; exit 1
	fi
}
# page CHECK NAME [ARGS]: portal_check.py CHECK on $T/NAME.json.
page() {
	_c=$1; _n=$2; shift 2
	case $_c in text|failed) _d="$_c '$1'" ;; *) _d=$_c ;; esac
	check "$_n: $_d" $PC "$_c" "$T/$_n.json" "$@"
}

if CAIRN_DEMO_DIR=$T/demo CAIRN_DEMO_SUBSCRIBERS=20000 \
    CAIRN_DEMO_REGIONS=10 "$C" demo >"$T/demo.out" 2>&1; then
	ok "cairn demo: 8 queries released, 1 refused over budget"
else
	cp "$T/demo.out" "$T/out"; notok "cairn demo"; exit 1
fi
AUDIT=$(grep '^ *ok: log size' "$T/demo.out")
holds "the demo's audit line" '[ -n "$AUDIT" ]'

# The demo's coordinator writes its log into its public directory and
# serves it ([public]); the demo installed the portal there.  Its
# federation is started again, and the portal installed once more (the
# tool is idempotent) to check what it says.
holds "the demo printed the portal's URL and public directory" \
    'grep -q "portal: http://127.0.0.1:[0-9]*/" "$T/demo.out" &&
    grep -q "public directory: $T/demo/public" "$T/demo.out"'
holds "the demo installed the portal and wrote log.html" \
    '[ -s "$T/demo/public/index.html" ] && [ -s "$T/demo/public/log.html" ]'
rm -f "$T/demo/public.port"
check "the demo's federation starts again" sh "$T/demo/start.sh"
i=0
while [ $i -lt 100 ] && [ ! -s "$T/demo/public.port" ]; do sleep 0.1; i=$((i + 1)); done
PPORT=$(cat "$T/demo/public.port" 2>/dev/null)
holds "the coordinator serves the public directory" '[ -n "$PPORT" ]'
W="$T/www"
mkdir -p "$W"
ln -s "$T/demo/public" "$W/log"
holds "the coordinator wrote the checkpoint and tiles" \
    '[ -s "$W/log/checkpoint" ] && [ -d "$W/log/tile/entries" ]'
check "portal.mjs installs the portal, verifies the log, writes log.html" \
    $PORTAL --federation "$T/demo/fed/federation.conf" --public "$W/log"
has "portal.mjs says what it verified" "log of [0-9]* entries verified"
holds "index.html pins the log key" \
    'grep -q "\"origin\":\"cairn/demo\"" "$W/log/index.html"'
# The budgets as `cairn query budget` derives them.
if "$C" query budget --config "$T/demo/analyst.conf" >"$T/budget.csv" \
    2>"$T/out"; then ok "cairn query budget"; else notok "cairn query budget"; fi

# Tampered copies: a hash of the level-0 tile, a byte of the entry bundle,
# a witness's cosignature, the log's signature; and a checkpoint with one
# cosignature where the pins ask for two.
# The demo's log is under 256 entries: one partial tile of each kind.
SIZE=$(sed -n 2p "$W/log/checkpoint")
holds "the checkpoint's size ($SIZE) is one partial tile" \
    '[ "$SIZE" -gt 0 ] && [ "$SIZE" -lt 256 ]'
TILE=tile/0/000.p/$SIZE
BUNDLE=tile/entries/000.p/$SIZE
flip() { # flip FILE OFFSET: xor one byte
	python3 -c 'import sys; p, o = sys.argv[1], int(sys.argv[2]); b = bytearray(open(p, "rb").read()); b[o] ^= 1; open(p, "wb").write(bytes(b))' "$1" "$2"
}
for x in tile entries cosig logsig quorum release; do cp -r "$W/log/" "$W/$x"; done
# A published release file with one value changed (the log untouched).
REL=$(ls "$W/release/releases" | head -1)
python3 -c 'import json, sys; p = sys.argv[1]; r = json.load(open(p)); r["values"][0] += 1; json.dump(r, open(p, "w"))' \
    "$W/release/releases/$REL"
REL=${REL%.json}
flip "$W/tile/$TILE" 100
flip "$W/entries/$BUNDLE" 300
# note FILE NAME MODE: in checkpoint FILE, flip the last byte of NAME's
# signature line (MODE flip) or drop every cosignature but NAME's (keep).
note() {
	python3 - "$@" <<'PY'
import base64, sys
p, name, mode = sys.argv[1:]
lines = open(p, encoding="utf-8").read().split("\n")
out = []
for i, l in enumerate(lines):
    if mode == "flip" and l.startswith("\u2014 %s " % name):
        b = bytearray(base64.b64decode(l.split(" ")[2]))
        b[-1] ^= 1
        l = "\u2014 %s %s" % (name, base64.b64encode(bytes(b)).decode())
    if (mode == "keep" and l.startswith("\u2014 op") and
            not l.startswith("\u2014 %s " % name)):
        continue
    out.append(l)
open(p, "w", encoding="utf-8").write("\n".join(out))
PY
}
note "$W/cosig/checkpoint" op2 flip
note "$W/logsig/checkpoint" cairn/demo flip
note "$W/quorum/checkpoint" op1 keep

# A lying coordinator: logs re-made by relog.py from a copy of the real
# one, each valid at the checkpoint, cosignature and tile level (re-signed
# with the coordinator's key, re-cosigned with the nodes' keys of the
# demo's key directory) but with one entry forged in someone's name: a
# byte of a CHARGE's node signature, of a QUERY's analyst signature or of
# a MEMBER's log-key signature flipped, a rightly signed MEMBER entry
# removing op2 inserted before op2's entries, or a CHARGE's logged
# cumulative spend changed outside the node's signed body.  Negative control: re-made
# with nothing changed, the log comes out byte for byte as it went in.
RELOG="/usr/bin/python3 $CAIRN_TOP/tests/e2e/lib/relog.py"
TV="/usr/bin/python3 $CAIRN_TOP/tests/e2e/tiles_verify.py"
FED=$T/demo/fed/federation.conf
cp -r "$W/log/" "$W/orig"
for x in resigned forged-charge forged-query forged-member removed \
    edited-charge; do
	cp -r "$W/orig/" "$W/$x"
done
check "relog.py re-makes the log with nothing changed" \
    $RELOG "$W/resigned" --keys "$T/demo" --hex "$T/resigned.hex"
holds "the re-made log is the log, byte for byte" \
    'diff -r "$W/orig" "$W/resigned" >"$T/out" 2>&1'
# relog NAME ARGS: re-make $W/NAME; $T/NAME.relog says the entry to name.
relog() {
	_x=$1; shift
	if $RELOG "$W/$_x" --keys "$T/demo" --hex "$T/$_x.hex" "$@" \
	    >"$T/$_x.relog" 2>"$T/out"; then
		ok "relog.py $*: $(tr '\n' ' ' <"$T/$_x.relog")"
	else
		notok "relog.py $*"
	fi
	check "$_x: valid at the checkpoint, cosignature and tile level" \
	    $TV "$W/$_x" --federation "$FED" --quorum 2
}
relog forged-charge --flip CHARGE
relog forged-query --flip QUERY
relog forged-member --flip MEMBER
relog removed --remove op2
relog edited-charge --edit CHARGE
# The entry each must be refused for: "INDEX TYPE SIGNER".
set -- $(tail -1 "$T/forged-charge.relog"); FC_I=$2 FC_S=$4
set -- $(tail -1 "$T/forged-query.relog"); FQ_I=$2 FQ_S=$4
set -- $(tail -1 "$T/forged-member.relog"); FM_I=$2
set -- $(tail -1 "$T/removed.relog"); RM_I=$2 RM_T=$3 RM_S=$4
set -- $(tail -1 "$T/edited-charge.relog"); EC_I=$2 EC_S=$4
FC_MSG="entry $FC_I (CHARGE of node $FC_S): the node's signature over the entry's body does not verify"
FQ_MSG="entry $FQ_I (QUERY of analyst $FQ_S): the analyst's signature over the query"
FM_MSG="entry $FM_I (MEMBER): the signature of the log key cairn/demo over the member change does not verify"
RM_MSG="entry $RM_I ($RM_T): its signer, node $RM_S, is not a member at this point of the log"
EC_MSG="entry $EC_I (CHARGE of node $EC_S): the entry's field “charges” differs from what the node signed"

(cd "$W" && exec python3 -u -m http.server --bind 127.0.0.1 0 \
    >"$T/http.log" 2>&1) &
HTTP=$!
i=0
while [ $i -lt 100 ] && ! grep -q 'port [0-9]' "$T/http.log"; do sleep 0.1; i=$((i + 1)); done
PORT=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$T/http.log" | head -1)
holds "a static web server serves the tampered copies" '[ -n "$PORT" ]'
U="http://127.0.0.1:$PORT"
P="http://127.0.0.1:$PPORT"

browse portal-en "$P/index.html" stats
page verified portal-en
page queries portal-en "$AUDIT"
page eps portal-en "$C"
page budgets portal-en "$T/budget.csv"
page keyboard portal-en
page text portal-en "What ε means for one person"
# The published statistics (issue #14): the demo's queries were signed
# with --publish; each release file checked in the browser against its
# RELEASE entry's SHA-256, drawn, and its downloads equal to the file.
SC="python3 $CAIRN_TOP/tests/e2e/lib/stats_check.py"
holds "the demo published its releases (one file per released query)" \
    '[ "$(ls "$W/log/releases" | wc -l)" -ge 7 ] && [ -s "$W/log/geographies/demo.geojson" ]'
check "statistics: every release verified, one shape per region, flows and matrix, downloads parse and match, a tooltip with the value and its interval" \
    $SC verified "$T/portal-en.json" "$W/log"

# Negative controls of the comparisons: one figure off, one query more.
sed '0,/^op1,/s/^\(op1,[^,]*,[^,]*,\)[0-9]/\19/' "$T/budget.csv" >"$T/budget-off.csv"
fails_with "negative control: a budget row that differs is caught" \
    "!= cairn query budget" $PC budgets "$T/portal-en.json" "$T/budget-off.csv"
fails_with "negative control: a query count that differs is caught" \
    "questions shown, the audit counts" $PC queries "$T/portal-en.json" \
    "$(echo "$AUDIT" | sed 's/ \([0-9]*\) queries/ 1\1 queries/')"

browse portal-fr "$P/index.html?lang=fr"
page verified portal-fr
page french portal-fr
page queries portal-fr "$AUDIT"

browse portal-phone "$P/index.html" phone top
page verified portal-phone
page phone portal-phone

browse portal-nojs "$P/index.html" nojs
page text portal-nojs "Without JavaScript, read the log as text"
browse log-nojs "$P/log.html" nojs
page queries log-nojs "$AUDIT"
page budgets log-nojs "$T/budget.csv"
page text log-nojs "cosigned by 3 of 3 witnesses"
browse log-fr-nojs "$P/log.fr.html" nojs
page text log-fr-nojs "Posée par"

browse tampered-tile "$U/tile/index.html" top
page failed tampered-tile "$TILE: hash"
browse tampered-entries "$U/entries/index.html" top
page failed tampered-entries "does not match the bytes of entry"
browse tampered-cosig "$U/cosig/index.html" top
page failed tampered-cosig "cosignature of witness op2 does not verify"
browse tampered-release "$U/release/index.html"
page verified tampered-release
check "a tampered release file shows as failed, naming it" \
    $SC failed "$T/tampered-release.json" "$REL" "releases/$REL.json fails its check (its values do not match the SHA-256 of the RELEASE entry $REL)"
fails_with "negative control: the check catches a release not shown as verified" \
    "not verified" $SC verified "$T/tampered-release.json" "$W/release"

browse tampered-logsig "$U/logsig/index.html" top
page failed tampered-logsig "signature (cairn/demo) on the checkpoint does not verify"
browse short-quorum "$U/quorum/index.html" top
page failed short-quorum "witness cosignatures on the checkpoint: 1, fewer than the 2 needed"

# The signatures inside the entries: the membership rules on small logs
# made with keys of their own (rotation, removal, pins, purposes), then
# the page naming the forged entry, its type and signer; the re-made log
# without a change verifies.
check "entry.js: rotation, removal, pinned members, purposes, federations, signed fields (portal_entry.mjs)" \
    node "$CAIRN_TOP/tests/e2e/portal_entry.mjs"
browse resigned "$U/resigned/index.html" top
page verified resigned
check "portal.mjs verifies the re-made log without a change" \
    $PORTAL --federation "$FED" --public "$W/resigned"
check "cairn audit verify passes the re-made log without a change" \
    "$C" audit verify --federation "$FED" --entries "$T/resigned.hex" \
    --checkpoint "$W/resigned/checkpoint"
# Each forged log: the page and the tool name the entry (fmsg), and
# cairn audit verify, on the same entries, finds the same one (faud).
for x in forged-charge forged-query forged-member removed edited-charge; do
	case $x in
	forged-charge) fmsg=$FC_MSG
		faud="entry $FC_I: CHARGE of '$FC_S': the node's signature does not verify" ;;
	forged-query) fmsg=$FQ_MSG
		faud="entry $FQ_I: QUERY '[^']*': the analyst's signature does not verify" ;;
	forged-member) fmsg=$FM_MSG
		faud="entry $FM_I: MEMBER entry: the coordinator's signature does not verify" ;;
	removed) fmsg=$RM_MSG
		faud="entry $RM_I: $RM_T of '$RM_S': \(the node is not a member\|no such node\) at this point" ;;
	edited-charge) fmsg=$EC_MSG
		faud="entry $EC_I: CHARGE of '$EC_S' for [0-9-]*: logged rho .*, the signed charge says" ;;
	esac
	browse "$x" "$U/$x/index.html" top
	page failed "$x" "$fmsg"
	fails_with "cairn audit verify finds the same entry in the $x log" \
	    "$faud" "$C" audit verify --federation "$FED" \
	    --entries "$T/$x.hex" --checkpoint "$W/$x/checkpoint"
	rm -f "$W/$x/log.html"
	fails_with "portal.mjs refuses the $x log, naming the entry" "$fmsg" \
	    $PORTAL --federation "$FED" --public "$W/$x"
	holds "no log.html written from the $x log" '[ ! -e "$W/$x/log.html" ]'
done

for x in tile entries cosig logsig quorum; do
	rm -f "$W/$x/log.html"
	fails_with "portal.mjs refuses the tampered $x" "fails its check" \
	    $PORTAL --federation "$T/demo/fed/federation.conf" --public "$W/$x"
	holds "no log.html written from the tampered $x" \
	    '[ ! -e "$W/$x/log.html" ]'
done

# Bad input to the tool: each named.
printf '[federation]\nname = x\n[members]\nmember = node a b\n' >"$T/bad.conf"
fails_with "a bad member line names file and line" "bad.conf:4: member" \
    $PORTAL --federation "$T/bad.conf" --public "$W/log"
fails_with "a missing federation.conf is named" "$T/none.conf" \
    $PORTAL --federation "$T/none.conf" --public "$W/log"
fails_with "a quorum over the nodes is refused" "more than the 3 nodes" \
    $PORTAL --federation "$T/demo/fed/federation.conf" --public "$W/log" \
    --quorum 4
fails_with "an unknown option is named" "unknown option '--nope'" \
    $PORTAL --nope x
fails_with "a public directory that is not there is named" \
    "'$T/nowhere' is not a directory" \
    $PORTAL --federation "$T/demo/fed/federation.conf" --public "$T/nowhere"
tap_done
