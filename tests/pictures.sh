#!/bin/sh
# pictures.sh -- the pictures osrca draws are well formed and render:
# the service map's DOT through Graphviz (dot -Tsvg), the waterfall's SVG
# through xmllint, and both carry what they must (the nodes and edges of
# the map, one bar per hop, the slow hop's words). Run by `make golden`.
set -u
: "${OSRCA:=./build/osrca}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "pictures: $*"; fail=$((fail + 1)); }
# the map of a create/delete capture: Graphviz reads it, its SVG is XML,
# and the edges the table lists are drawn
TZ=UTC "$OSRCA" map --format dot testdata/s2a_server_create_delete_ok.pcap >"$tmp/map.dot" ||
    bad "map --format dot failed"
dot -Tsvg "$tmp/map.dot" >"$tmp/map.svg" 2>"$tmp/dot.err" || bad "dot rejected the map: $(head -3 "$tmp/dot.err")"
xmllint --noout "$tmp/map.svg" 2>/dev/null || bad "the rendered map is not XML"
grep -q 'nova&#45;conductor@controller&#45;&gt;nova&#45;scheduler@controller' "$tmp/map.svg" ||
    bad "the rendered map lacks the conductor -> scheduler edge"
edges=$(grep -c -- ' -> ' "$tmp/map.dot")
[ "$edges" -ge 10 ] || bad "only $edges edges in the map"
# the waterfall of the create: XML, one bar per hop of the text
TZ=UTC "$OSRCA" waterfall testdata/s2a_server_create_delete_ok.pcap \
    --request-id req-dbe28d21-90fb-4b6b-bde4-b82883118bea --svg "$tmp/w.svg" >"$tmp/w.txt" ||
    bad "waterfall failed"
xmllint --noout "$tmp/w.svg" 2>"$tmp/x.err" || bad "waterfall SVG is not XML: $(head -3 "$tmp/x.err")"
hops=$(grep -c ' HTTP \| CALL \| CAST ' "$tmp/w.txt")
bars=$(grep -c '<title>' "$tmp/w.svg")
holds=$(sed -n '/held by:/,$p' "$tmp/w.txt" | grep -c '\[')
[ "$hops" -gt 20 ] || bad "only $hops hops in the waterfall text"
# every hop and every holder listed in the SVG too (the text leaves out
# holds too short to draw: at least as many bars as text lines)
[ "$bars" -ge $((hops + holds)) ] || bad "$bars bars in the SVG for $hops hops and $holds holds"
echo "pictures: $([ "$fail" = 0 ] && echo ok || echo "$fail failed") (map: $edges edges; waterfall: $hops hops, $bars bars)"
[ "$fail" = 0 ]
