#!/bin/sh
# live_otlp.sh -- `osrca live --otlp-endpoint` during a replay (root; run by
# `make otlp-live`). One network namespace of its own holds everything: a
# veth pair without addresses (tcpreplay writes the bundled captures into
# one end, osrca live captures the other) and the receiver on the
# namespace's own loopback, which answers the first POST 503. Checks: the
# POSTs (the log is printed), a retry after the 503, every body read by
# the official definitions (tests/otlp/validate.js), and the traces equal
# those `osrca analyze` makes of the packets live received (its -w file).
set -u
OSRCA=${OSRCA:-$PWD/build/osrca}
OTLP_NODE=${OTLP_NODE:-$PWD/build/otlp-node}
export OTLP_NODE
PCAPS=${PCAPS:-"testdata/s2p_novalidhost_capacity.pcap testdata/s2c2_glance_down_nova_api.pcap testdata/s2d_scheduler_down_rpc_timeout.pcap"}
SPEED=${SPEED:-4}
NS=osrcaotlp$$
T=$(mktemp -d /tmp/osrca-otlp.XXXXXX)
cleanup() {
    ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null
    ip netns del "$NS" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
command -v tcpreplay >/dev/null || fail "tcpreplay is not installed"
[ -f "$OTLP_NODE/node_modules/@opentelemetry/otlp-transformer/build/src/generated/root.js" ] ||
    fail "no OTLP definitions in $OTLP_NODE (make otlpcheck installs them)"
ip netns add "$NS" || fail "cannot create a network namespace"
ip -n "$NS" link set lo up
ip -n "$NS" link add rA type veth peer name rB
ip -n "$NS" link set rA up
ip -n "$NS" link set rB up
ip netns exec "$NS" python3 tests/otlp/receiver.py "$T/r" --port-file "$T/port" --fail-first 1 &
for _ in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
port=$(cat "$T/port")
ip netns exec "$NS" "$OSRCA" live -i rB --rules rules --json --status-interval 0 \
    -w "$T/live.pcap" --otlp "$T/live.json" --otlp-endpoint "http://127.0.0.1:$port" \
    >"$T/verdicts" 2>"$T/err" &
lpid=$!
sleep 1
for p in $PCAPS; do
    ip netns exec "$NS" tcpreplay -q -i rA --multiplier="$SPEED" "$p" >/dev/null 2>&1 ||
        fail "tcpreplay $p"
done
sleep 13 # settle (10 s of packet time) and a batch's second
kill -INT $lpid
wait $lpid
echo "receiver log (POST /v1/traces):"
sed 's/^/  /' "$T/r/log"
grep "otlp:" "$T/err" | sed 's/^/  /'
grep -q -- "-> 503" "$T/r/log" && grep -q -- "-> 200" "$T/r/log" || fail "no 503 then 200"
grep -q "[1-9][0-9]* retries" "$T/err" || fail "no retry counted"
pbs=
for b in "$T"/r/*.bin; do [ -f "$b" ] && pbs="$pbs --pb $b"; done
# shellcheck disable=SC2086
node tests/otlp/validate.js --json "$T/live.json" $pbs --same || fail "validation"
TZ=UTC "$OSRCA" analyze --rules rules --otlp "$T/an.json" "$T/live.pcap" >/dev/null 2>&1
python3 - "$T/live.json" "$T/an.json" <<'P' || fail "live's traces differ from analyze's"
import json, sys
def spans(p):
    out = set()
    for line in open(p):
        for rs in json.loads(line)["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for s in ss["spans"]:
                    out.add((s["traceId"], s["spanId"], s.get("parentSpanId"), s["name"], s["startTimeUnixNano"], s["endTimeUnixNano"]))
    return out
a, b = spans(sys.argv[1]), spans(sys.argv[2])
print("live: %d spans, analyze of its packets: %d spans, in common %d" % (len(a), len(b), len(a & b)))
sys.exit(0 if a == b and a else 1)
P
echo "otlp live: ok"
