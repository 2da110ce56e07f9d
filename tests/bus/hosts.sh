#!/bin/sh
# hosts.sh [NAME...] -- one span port against a sensor per host: for each
# multi-host recording in testdata/hosts (NAME.span.pcap.gz: the lab's
# bridge; NAME.HOST.pcap.gz: captured inside each host's namespace,
# loopback included; tests/bus/record_hosts.sh), `osrca analyze` of the
# span port and `osrca correlate` of one `osrca sensor` stream per host
# (sharing one token fingerprint key), both scored against the truth.
# Fails when the sensors' precision or recall is below the span port's,
# or below MIN_PRECISION / MIN_RECALL (default 100 / 100 on these).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
OSRCA=${OSRCA:-$top/build/osrca}
RULES=${RULES:-$top/rules}
MINP=${MIN_PRECISION:-100}
MINR=${MIN_RECALL:-100}
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT INT TERM
names=${*:-$(ls "$top"/testdata/hosts/*.truth.json | sed 's|.*/||; s|\.truth\.json$||')}
head -c16 /dev/urandom >"$w/key"
for n in $names; do
    cp "$top/testdata/hosts/$n.truth.json" "$w/"
    zcat "$top/testdata/hosts/$n.span.pcap.gz" >"$w/$n.span.pcap"
    TZ=UTC "$OSRCA" analyze --rules "$RULES" --format json "$w/$n.span.pcap" >"$w/$n.span.json" 2>/dev/null || true
    streams=
    for f in "$top"/testdata/hosts/"$n".*.pcap.gz; do
        h=${f##*/$n.}
        h=${h%.pcap.gz}
        [ "$h" = span ] && continue
        zcat "$f" >"$w/$n.$h.pcap"
        "$OSRCA" sensor "$w/$n.$h.pcap" --id "$h" --out "$w/$n.$h.osev" --rules "$RULES" \
            --fp-key-file "$w/key" 2>>"$w/$n.sensors.err"
        streams="$streams --from-stream $w/$n.$h.osev"
    done
    # shellcheck disable=SC2086
    TZ=UTC "$OSRCA" correlate --rules "$RULES" --json --status-interval 0 $streams \
        >"$w/$n.hosts.json" 2>"$w/$n.corr.err"
    grep 'osrca correlate: sensor' "$w/$n.corr.err" | sed 's/^/  /'
done
echo "== one span port (osrca analyze of the bridge)"
python3 "$top/tests/lab/labscore.py" -v --lines "$w/{name}.span.json" "$w"/*.truth.json | tee "$w/span.score"
echo "== a sensor per host (osrca sensor x4 + osrca correlate)"
python3 "$top/tests/lab/labscore.py" -v --lines "$w/{name}.hosts.json" "$w"/*.truth.json | tee "$w/hosts.score"
python3 - "$w/span.score" "$w/hosts.score" "$MINP" "$MINR" <<'PY'
import sys
def total(fn):
    for l in open(fn):
        if l.startswith('TOTAL'):
            f = l.split()
            p, r = f[-2], f[-1]
            return (float(p.rstrip('%')) if p != '-' else 100.0,
                    float(r.rstrip('%')) if r != '-' else 100.0)
    raise SystemExit('hosts: no TOTAL in ' + fn)
sp, sr = total(sys.argv[1])
hp, hr = total(sys.argv[2])
minp, minr = float(sys.argv[3]), float(sys.argv[4])
print('hosts: span port precision %.1f%% recall %.1f%%; sensors + correlator precision %.1f%% '
      'recall %.1f%%' % (sp, sr, hp, hr))
if hp < sp or hr < sr or hp < minp or hr < minr:
    raise SystemExit('hosts: FAIL (the sensors must equal or beat the span port, and reach '
                     '%.0f%% / %.0f%%)' % (minp, minr))
print('hosts: ok')
PY
