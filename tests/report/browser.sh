#!/bin/sh
# browser.sh -- `osrca report` read by a real browser: headless Chromium
# (Debian's chromium) loads the page from a file with the network off,
# takes a screenshot, and dumps the DOM it rendered; the DOM must hold one
# operation section per verdict of `osrca analyze --format json` on the
# same capture (the same operation, request id and root-cause service),
# every incident, an inline SVG waterfall per operation and the service
# map; the page must load nothing and run no script.
#
#   browser.sh CAPTURE [SCREENSHOT.png]     OSRCA (default ./build/osrca)
set -u
OSRCA=${OSRCA:-./build/osrca}
cap=$1
shot=${2:-}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
in=$cap
case $cap in *.gz) in=$T/in.pcap; gzip -dc "$cap" >"$in" ;; esac
TZ=UTC "$OSRCA" report --rules rules "$in" -o "$T/report.html" 2>"$T/err" || {
    cat "$T/err"; echo "FAIL: osrca report"; exit 1; }
TZ=UTC "$OSRCA" analyze --rules rules --format json "$in" >"$T/verdicts.json"
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "FAIL: no chromium (tests/setup.sh installs it)"; exit 1; }
# no network at all: a proxy that does not exist, no name resolves
chrome() {
    timeout 60 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --no-first-run --proxy-server=127.0.0.1:9 "--host-resolver-rules=MAP * ~NOTFOUND" "$@"
}
chrome --dump-dom "file://$T/report.html" >"$T/dom.html" 2>"$T/chromium.log"
[ -n "$shot" ] && chrome --window-size=1400,2000 --screenshot="$shot" "file://$T/report.html" \
    >/dev/null 2>>"$T/chromium.log"
python3 - "$T/dom.html" "$T/verdicts.json" "$T/report.html" "$shot" <<'P'
import html.parser, json, os, sys
dom, verdicts, page, shot = sys.argv[1:5]

class P(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ops, self.incidents, self.svgs, self.scripts, self.ext = [], 0, 0, 0, []
        self.map_rows = 0
        self.in_map = False
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        if tag == "section" and "op" in cls:
            self.ops.append((a.get("data-verdict"), a.get("data-service"), a.get("data-request-id")))
        if tag == "section" and "incident" in cls:
            self.incidents += 1
        if tag == "svg":
            self.svgs += 1
        if tag == "script":
            self.scripts += 1
        if tag == "table" and "map" in cls:
            self.in_map = True
        if tag == "tr" and self.in_map:
            self.map_rows += 1
        for k in ("src", "href"):
            v = a.get(k) or ""
            if v and not v.startswith("#"):
                self.ext.append(v)
    def handle_endtag(self, tag):
        if tag == "table":
            self.in_map = False

p = P()
p.feed(open(dom, encoding="utf-8").read())
want, incidents = [], 0
for line in open(verdicts):
    v = json.loads(line)
    t = v.get("type")
    if t == "incident":
        incidents += 1
    elif t == "verdict" and (v.get("failed") or v.get("kind") == "slow"):
        want.append(("slow" if v.get("kind") == "slow" else "failed", (v["root_cause"] or {}).get("service") or "-",
                     v.get("request_id") or "-"))
bad = []
if sorted(p.ops) != sorted(want):
    bad.append("operations in the rendered page %d, verdicts %d; differ: %s" % (
        len(p.ops), len(want), sorted(set(p.ops) ^ set(want))[:4]))
if p.incidents != incidents:
    bad.append("incidents rendered %d, analyze %d" % (p.incidents, incidents))
if p.svgs < len(want):
    bad.append("%d waterfalls for %d operations" % (p.svgs, len(want)))
if p.scripts or p.ext:
    bad.append("scripts %d, external references %s" % (p.scripts, p.ext[:3]))
if p.map_rows < 2:
    bad.append("no service map rendered")
if shot and (not os.path.exists(shot) or os.path.getsize(shot) < 10000):
    bad.append("no screenshot")
print("report: %d bytes; rendered by chromium: %d operations (%s), %d incidents, %d SVG "
      "waterfalls, %d map rows, %d scripts, %d external references%s" % (
          os.path.getsize(page), len(p.ops),
          ", ".join("%s %d" % (k, sum(1 for o in p.ops if o[0] == k)) for k in ("failed", "slow")),
          p.incidents, p.svgs, p.map_rows - 1, p.scripts, len(p.ext),
          ("; screenshot %s (%d bytes)" % (shot, os.path.getsize(shot))) if shot and os.path.exists(shot) else ""))
for b in bad:
    print("FAIL:", b)
sys.exit(1 if bad else 0)
P
