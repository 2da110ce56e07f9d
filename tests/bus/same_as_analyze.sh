#!/bin/sh
# same_as_analyze.sh [CAPTURE...] -- `osrca sensor FILE --out S` then
# `osrca correlate --from-stream S` must give exactly the verdicts of
# `osrca analyze FILE` (every field of every verdict's JSON): the codec
# carries every field, the merge hands one sensor's events and ticks on
# in their order. Default: every bundled capture and lab recording
# (QUICK=1: the bundled ones only).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
OSRCA=${OSRCA:-$top/build/osrca}
RULES=${RULES:-$top/rules}
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT INT TERM
if [ $# = 0 ]; then
    set -- "$top"/testdata/*.pcap
    [ "${QUICK:-}" = 1 ] || set -- "$@" "$top"/testdata/lab/*.pcap.gz
fi
n=0 bad=0 verdicts=0
for f in "$@"; do
    b=$(basename "$f" .gz)
    case $f in *.gz) zcat "$f" >"$w/$b"; f=$w/$b ;; esac
    TZ=UTC "$OSRCA" analyze --rules "$RULES" --format json "$f" >"$w/a.json" 2>/dev/null || true
    "$OSRCA" sensor "$f" --out "$w/s.osev" --rules "$RULES" 2>/dev/null
    TZ=UTC "$OSRCA" correlate --rules "$RULES" --json --status-interval 0 \
        --from-stream "$w/s.osev" >"$w/c.json" 2>/dev/null
    r=$(python3 - "$w/a.json" "$w/c.json" <<'PY'
import json, sys
def load(fn):
    return sorted(json.dumps(o, sort_keys=True) for o in
                  (json.loads(l) for l in open(fn) if l.startswith('{'))
                  if o.get('type') == 'verdict')
a, c = load(sys.argv[1]), load(sys.argv[2])
print(len(a) if a == c else 'DIFF analyze %d correlate %d' % (len(a), len(c)))
PY
)
    n=$((n + 1))
    case $r in
    DIFF*) bad=$((bad + 1)); echo "same_as_analyze: $b: $r" ;;
    *) verdicts=$((verdicts + r)) ;;
    esac
    [ "$f" = "$w/$b" ] && rm -f "$w/$b"
done
echo "same_as_analyze: $n captures, $verdicts verdicts equal, $bad differ"
[ "$bad" = 0 ]
