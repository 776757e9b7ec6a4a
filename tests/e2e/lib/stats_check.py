"""stats_check.py - the published statistics as the portal showed them
(tests/e2e/portal.sh): PAGE.json from portal_browser.mjs against the
release files of the public directory.

    stats_check.py verified PAGE.json PUBLIC_DIR
        every release file of PUBLIC_DIR is shown and passed its check in
        the browser; each map of an area kind has one shape per region of
        the release; od and migration have flow lines and a full matrix;
        the CSV and GeoJSON downloads parse and carry exactly the file's
        values with value -/+ ci95_halfwidth as the interval; a region's
        tooltip shows its released value and interval (at the first slice)
    stats_check.py failed PAGE.json INDEX TEXT
        release INDEX is shown as failed, with TEXT in its message
Exit 0 when it holds, 1 with the reason."""
import csv
import io
import json
import os
import sys


def area_value(rel, region_pos, slice_pos=0):
    s = rel["spec"]
    k = s["kind"]
    R = len(rel["regions"])
    n = rel["cells"] // R if k != "residents" else 1
    return rel["values"][region_pos * n + slice_pos]


def check_release(st, rel):
    if st["check"] != "verified":
        return "release %s: not verified (%s)" % (st["release"], st["text"])
    R = len(rel["regions"])
    kind = rel["spec"]["kind"]
    w = rel["ci95_halfwidth"]
    if kind in ("od", "migration"):
        if st["flows"] == 0 or st["matrix"] != R:
            return "release %s: %d flow lines, matrix of %d rows (%d " \
                "regions)" % (st["release"], st["flows"], st["matrix"], R)
    elif kind != "displacement" and st["regions"] != R:
        return "release %s: %d shapes on the map, %d regions" % (
            st["release"], st["regions"], R)
    rows = list(csv.DictReader(io.StringIO(st["csv"] or "")))
    if len(rows) != len(rel["values"]):
        return "release %s: %d CSV rows, %d values" % (
            st["release"], len(rows), len(rel["values"]))
    # The rows are the cells, in an order the page chose: compare as
    # multisets of (labels, value) and check every interval.
    got = sorted(int(r["value"]) for r in rows)
    if got != sorted(rel["values"]):
        return "release %s: the CSV values differ from the file's" % (
            st["release"])
    for r in rows:
        v = int(r["value"])
        if int(r["ci95_low"]) != v - w or int(r["ci95_high"]) != v + w:
            return "release %s: CSV row %s: interval is not value -/+ %d" \
                % (st["release"], r, w)
    names = {str(x["id"]): x["name"] for x in rel["regions"]}
    for r in rows:
        for f in ("region", "from", "to"):
            if f in r and names.get(r[f]) != r[f + "_name"]:
                return "release %s: CSV %s %s named %s" % (
                    st["release"], f, r[f], r[f + "_name"])
    g = json.loads(st["geojson"] or "null")
    if not g or g.get("type") != "FeatureCollection" or \
            len(g["features"]) != len(rel["values"]):
        return "release %s: the GeoJSON is not a FeatureCollection of " \
            "one feature per value" % st["release"]
    for f in g["features"]:
        p = f["properties"]
        if p["ci95_low"] != p["value"] - w or p["ci95_high"] != \
                p["value"] + w or f["geometry"] is None:
            return "release %s: GeoJSON feature %s" % (st["release"], p)
    if sorted(f["properties"]["value"] for f in g["features"]) != \
            sorted(rel["values"]):
        return "release %s: the GeoJSON values differ" % st["release"]
    if st.get("tooltip"):
        ids = [x["id"] for x in rel["regions"]]
        pos = ids.index(int(st["tooltip_region"]))
        v = area_value(rel, pos)
        want = "%s: %s (95%% interval %s to %s)" % (
            rel["regions"][pos]["name"], format(v, ","), format(v - w, ","),
            format(v + w, ","))
        if not st["tooltip"].startswith(want):
            return "tooltip %r, expected it to start with %r" % (
                st["tooltip"], want)
        if (v - w <= 0 <= v + w) != ("includes zero" in st["tooltip"]):
            return "tooltip %r: the zero mark is wrong" % st["tooltip"]
    return None


def main():
    what, page = sys.argv[1], json.load(open(sys.argv[2]))
    stats = {s["release"]: s for s in page.get("stats", [])}
    if what == "verified":
        d = os.path.join(sys.argv[3], "releases")
        files = sorted(os.listdir(d))
        if not files:
            return "no release files in %s" % d
        tips = 0
        for f in files:
            i = f[:-len(".json")]
            if i not in stats:
                return "release %s is not shown" % i
            rel = json.load(open(os.path.join(d, f)))
            why = check_release(stats[i], rel)
            if why:
                return why
            tips += 1 if stats[i].get("tooltip") else 0
        if tips == 0:
            return "no tooltip was read"
        print("OK: %d releases verified, drawn, downloads match" % len(files))
        return None
    if what == "failed":
        st = stats.get(sys.argv[3])
        if not st or st["check"] != "failed" or sys.argv[4] not in st["text"]:
            return "release %s is not shown as failed with %r: %s" % (
                sys.argv[3], sys.argv[4], st)
        return None
    return "unknown check " + what


if __name__ == "__main__":
    r = main()
    if r:
        print("FAIL: " + r)
        sys.exit(1)
