#!/bin/sh
# live_hosts.sh [SCENARIO] -- sensors capturing live inside the lab's
# multi-host namespaces (root; `lab start --hosts` done). A redis-server
# and the correlator run in the client namespace (on its lab address);
# one `osrca sensor -i any` (eth0 and loopback) runs inside each of
# olab-controller, olab-compute-1, olab-compute-2 and olab-client, while
# `lab run SCENARIO` (default mh-outage-short:nova-scheduler) records the
# bridge as a span port with the truth. Then the sensors are stopped (their
# END goes out), the correlator decides everything, and both are scored:
# `osrca analyze` of the span port and the correlator's verdicts.
# Nothing is addressed in the root namespace; Redis listens only on the
# client namespace's lab address. Outputs in $OUT (default
# /var/tmp/osrca-live-hosts).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
OSRCA=${OSRCA:-$top/build/osrca}
RULES=${RULES:-$top/rules}
LAB=${LAB:-$top/../shared/lab/lab}
SCEN=${1:-mh-outage-short:nova-scheduler}
OUT=${OUT:-/var/tmp/osrca-live-hosts}
NAME=${NAME:-live-$(echo "$SCEN" | tr ':@/' '---')}
LAB_SET=${LAB_SET:-}
[ "$(id -u)" = 0 ] || { echo "live_hosts: root needed" >&2; exit 2; }
ip netns list | grep -q '^olab-client' || { echo "live_hosts: lab not in multi-host mode (lab start --hosts)" >&2; exit 2; }
case $SCEN in
*/*) ;;
*) [ -f "$top/tests/lab/scenarios/${SCEN%%:*}.json" ] && SCEN="$top/tests/lab/scenarios/$SCEN" ;;
esac
mkdir -p "$OUT"
rm -rf "${OUT:?}/$NAME".*
cli=$(ip netns exec olab-client ip -4 -o addr show dev eth0 | sed -n 's/.* inet \([0-9.]*\)\/.*/\1/p')
[ -n "$cli" ] || { echo "live_hosts: no address in olab-client" >&2; exit 2; }
port=6379
URL=redis://$cli:$port/live
pids=
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    ip netns exec olab-client redis-cli -h "$cli" -p "$port" shutdown save >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM
ip netns exec olab-client redis-server --port "$port" --bind "$cli" --protected-mode no --appendonly no --dbfilename "$NAME.rdb" \
    --daemonize yes --dir "$OUT" --logfile "$OUT/$NAME.redis.log"
for _ in $(seq 50); do
    ip netns exec olab-client redis-cli -h "$cli" -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1
done
ip netns exec olab-client "$OSRCA" correlate --rules "$RULES" --json --status-interval 0 \
    --bus "$URL" --until-ended 4 --sensor-timeout 30 \
    >"$OUT/$NAME.hosts.json" 2>"$OUT/$NAME.correlate.err" &
cp=$!
pids="$pids $cp"
spids=
for h in controller compute-1 compute-2 client; do
    ip netns exec "olab-$h" "$OSRCA" sensor -i any --bpf "not port $port" --id "$h" \
        --bus "$URL" --rules "$RULES" --status 30 2>"$OUT/$NAME.sensor.$h.err" &
    spids="$spids $!"
done
pids="$pids $spids"
sleep 2
for h in controller compute-1 compute-2 client; do
    grep -q 'publishing to' "$OUT/$NAME.sensor.$h.err" || { echo "live_hosts: sensor $h did not start:" >&2; cat "$OUT/$NAME.sensor.$h.err" >&2; exit 1; }
done
# shellcheck disable=SC2086
"$LAB" run "$SCEN" "$OUT" --name "$NAME" $LAB_SET
sleep 1
for p in $spids; do kill -INT "$p" 2>/dev/null || true; done
for p in $spids; do wait "$p" || true; done
wait "$cp" || true
tail -n 1 "$OUT/$NAME".sensor.*.err
grep 'sensor .*:' "$OUT/$NAME.correlate.err" | cut -c1-200
TZ=UTC "$OSRCA" analyze --rules "$RULES" --format json "$OUT/$NAME.pcap" >"$OUT/$NAME.span.json" 2>/dev/null || true
echo "== one span port (osrca analyze of the bridge)"
python3 "$top/tests/lab/labscore.py" -v --lines "$OUT/{name}.span.json" "$OUT/$NAME.truth.json"
echo "== a live sensor per host + correlator"
python3 "$top/tests/lab/labscore.py" -v --lines "$OUT/{name}.hosts.json" "$OUT/$NAME.truth.json"
