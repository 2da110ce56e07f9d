#!/bin/sh
# redis.sh [TEST...] -- sensors and the correlator over a real redis-server
# (Debian's, started here on 127.0.0.1 and a free port, its files in a
# temporary directory, AOF on with fsync always). The recording is
# testdata/hosts/$REC (default hosts-scheduler-down): one `osrca sensor`
# per host replays its host's capture (--speed $SPEED, default 4) into
# Redis Streams; `osrca correlate --bus` reads them. Every test compares
# the verdicts (request id, origin service@host, kind, category) with the
# reference: `osrca correlate --from-stream` of the same four sensors'
# stream files, and prints verdicts lost, duplicated, and the
# correlator's peak memory (max RSS). Tests:
#   bus        the plain run
#   restart    the correlator killed (SIGKILL) mid-run and started again
#   redis      redis-server stopped mid-run and started again 2 s later
#   skew       the client host's clock 2 s ahead (its capture shifted)
#   silent     the compute-2 sensor stops (SIGSTOP) mid-run: a coverage
#              gap, never a fault of the cloud
#   flood      a sensor floods (the bench generator's capture, no pacing,
#              --drop, a short MAXLEN): bounded memory, drops counted
# Without TEST all of them run. Exit 1 when one fails.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
OSRCA=${OSRCA:-$top/build/osrca}
RULES=${RULES:-$top/rules}
REC=${REC:-hosts-scheduler-down}
SPEED=${SPEED:-4}
GEN=${GEN:-$top/build/bench/gen}
command -v redis-server >/dev/null || { echo "redis: no redis-server (apt-get install redis-server)" >&2; exit 2; }
w=$(mktemp -d)
pids=
cleanup() {
    for p in $pids; do kill -CONT "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
    [ -f "$w/redis.pid" ] && kill "$(cat "$w/redis.pid")" 2>/dev/null || true
    sleep 0.2
    rm -rf "$w"
}
trap cleanup EXIT INT TERM
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=redis://127.0.0.1:$port
redis_start() {
    redis-server --port "$port" --bind 127.0.0.1 --dir "$w" --appendonly yes --appendfsync always \
        --save '' --daemonize yes --pidfile "$w/redis.pid" --logfile "$w/redis.log"
    for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
    echo "redis: redis-server did not start" >&2; cat "$w/redis.log" >&2; exit 1
}
redis_stop() {
    p=$(cat "$w/redis.pid")
    kill "$p"
    while kill -0 "$p" 2>/dev/null; do sleep 0.1; done
    rm -f "$w/redis.pid"
}
redis_start
echo "redis: $(redis-server --version | cut -d' ' -f1-3) on 127.0.0.1:$port"

HOSTS="client compute-1 compute-2 controller"
head -c16 /dev/urandom >"$w/key"
for h in $HOSTS; do zcat "$top/testdata/hosts/$REC.$h.pcap.gz" >"$w/$h.pcap"; done
cp "$top/testdata/hosts/$REC.truth.json" "$w/"
# the reference: the same sensors through stream files
streams=
for h in $HOSTS; do
    "$OSRCA" sensor "$w/$h.pcap" --id "$h" --out "$w/$h.osev" --rules "$RULES" \
        --fp-key-file "$w/key" 2>/dev/null
    streams="$streams --from-stream $w/$h.osev"
done
# shellcheck disable=SC2086
TZ=UTC "$OSRCA" correlate --rules "$RULES" --json --status-interval 0 $streams >"$w/ref.json" 2>/dev/null

# verdict identities of JSON-lines files, one per line
idents() {
    python3 - "$@" <<'PY'
import json, sys
for fn in sys.argv[1:]:
    for l in open(fn):
        if not l.startswith('{'):
            continue
        o = json.loads(l)
        if o.get('type') != 'verdict':
            continue
        rc = o.get('root_cause') or {}
        s = o.get('session') or {}
        print('%s %s %s@%s %s %s %s' % (o.get('request_id'), o.get('operation', '').replace(' ', '_'),
              rc.get('service'), rc.get('host') or rc.get('addr'), rc.get('kind'), o.get('category'),
              s.get('login_request_id')))
PY
}
idents "$w/ref.json" | sort >"$w/ref.ids"
nref=$(wc -l <"$w/ref.ids")
echo "redis: reference ($REC, 4 sensors through stream files): $nref verdicts"
sed 's/^/  /' "$w/ref.ids"
fails=0

# sensors T [HOST=FILE...]: the four sensors of test T in the background
sensors() {
    t=$1
    shift
    spids=
    for h in $HOSTS; do
        f=$w/$h.pcap
        for o in "$@"; do case $o in "$h="*) f=${o#*=} ;; esac; done
        "$OSRCA" sensor "$f" --id "$h" --bus "$URL/$t" --rules "$RULES" --speed "$SPEED" \
            --fp-key-file "$w/key" 2>"$w/$t.sensor.$h.err" &
        spids="$spids $!"
    done
    pids="$pids $spids"
}
# correlate T OUT [ARGS...]: the correlator of test T, max RSS to OUT.rss
correlate() {
    t=$1 out=$2
    shift 2
    TZ=UTC /usr/bin/time -f %M -o "$out.rss" timeout -s KILL "${BUS_TIMEOUT:-180}" \
        "$OSRCA" correlate --rules "$RULES" --json \
        --status-interval 0 --bus "$URL/$t" "$@" >"$out" 2>"$out.err"
}
# verdict T FILES...: lost / duplicated against the reference
verdict() {
    t=$1
    shift
    idents "$@" | sort >"$w/$t.ids"
    lost=$(comm -23 "$w/ref.ids" "$w/$t.ids" | sort -u | wc -l)
    extra=$(comm -13 "$w/ref.ids" "$w/$t.ids" | sort -u | wc -l)
    dup=$(uniq -d "$w/$t.ids" | wc -l)
    rss=0
    for f in "$@"; do
        r=$(tail -1 "$f.rss" 2>/dev/null || echo 0)
        [ "$r" -gt "$rss" ] 2>/dev/null && rss=$r
    done
    xl=$(redis-cli -p "$port" xlen "$t:verdicts")
    printf 'redis: %-8s verdicts %d (reference %d): lost %d, duplicated %d, other %d; %s:verdicts %s; correlator peak RSS %.1f MB\n' \
        "$t" "$(wc -l <"$w/$t.ids")" "$nref" "$lost" "$dup" "$extra" "$t" "$xl" "$(echo "$rss" | awk '{print $1/1024}')"
    if [ "$lost" != 0 ] || [ "$dup" != 0 ] || [ "$extra" != 0 ] || [ "$xl" != "$nref" ]; then
        echo "redis: $t FAILED" >&2
        comm -3 "$w/ref.ids" "$w/$t.ids" | sed 's/^/  /' >&2
        fails=$((fails + 1))
    fi
}
waitall() { for p in "$@"; do wait "$p" || true; done; }

t_bus() {
    hp=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    sensors bus
    correlate bus "$w/bus.json" --until-ended 4 --listen "127.0.0.1:$hp" &
    c=$!
    pids="$pids $c"
    # mid-run, /metrics has a series of each sensor
    sleep 6
    python3 - "http://127.0.0.1:$hp/metrics" <<'PY' || fails=$((fails + 1))
import sys, urllib.request
text = urllib.request.urlopen(sys.argv[1], timeout=5).read().decode()
series = {}
for l in text.splitlines():
    if l.startswith('osrca_sensor_'):
        name, value = l.rsplit(' ', 1)
        series[name] = float(value)
for s in ('client', 'compute-1', 'compute-2', 'controller'):
    for m in ('osrca_sensor_up', 'osrca_sensor_events_total', 'osrca_sensor_clock_seconds'):
        k = '%s{sensor="%s"}' % (m, s)
        if k not in series:
            sys.exit('redis: bus FAILED: no %s in /metrics' % k)
    if series['osrca_sensor_up{sensor="%s"}' % s] != 1:
        sys.exit('redis: bus FAILED: sensor %s not up in /metrics' % s)
    if not series['osrca_sensor_events_total{sensor="%s"}' % s] > 0:
        sys.exit('redis: bus FAILED: no events of sensor %s in /metrics' % s)
print('redis: bus      /metrics mid-run: %d osrca_sensor_* series, the 4 sensors up with events'
      % len(series))
PY
    wait "$c" || true
    waitall $spids
    verdict bus "$w/bus.json"
}

# kill_correlator T: SIGKILL to test T's correlator (not its time(1), not
# the sensors)
kill_correlator() {
    pkill -9 -f -- "correlate .*--bus $URL/$1" || true
}

# restart_killed NAME SECS AT: correlator NAME of the restart test into
# restart.NAME.json (lower case), SIGKILLed after SECS s (AT s into the
# test); says how many verdicts it gave and what it left pending
restart_killed() {
    out=$w/restart.$(echo "$1" | tr A-Z a-z).json
    correlate restart "$out" --replay-window 20 &
    c=$!
    pids="$pids $c"
    sleep "$2"
    kill_correlator restart
    wait "$c" 2>/dev/null || true
    pend=$(redis-cli -p "$port" xpending restart:s:controller osrca | head -1)
    echo "redis: restart: correlator $1 killed at $3 s ($(idents "$out" | wc -l) verdicts out, $pend controller entries pending)"
}

t_restart() {
    sensors restart
    # A dies before any verdict (open chains: B must decide them), B right
    # after the verdicts were given (C must not give them again)
    restart_killed A 8 8
    restart_killed B 9 17
    correlate restart "$w/restart.c.json" --replay-window 20 --until-ended 4
    echo "redis: restart: correlator C ran to the end ($(idents "$w/restart.c.json" | wc -l) verdicts out; $(grep -h 'already out' "$w/restart.c.json.err" | sed 's/osrca correlate: //'))"
    waitall $spids
    verdict restart "$w/restart.a.json" "$w/restart.b.json" "$w/restart.c.json"
}

t_redis() {
    sensors redis
    correlate redis "$w/redis.json" --until-ended 4 &
    c=$!
    pids="$pids $c"
    sleep 6
    redis_stop
    echo "redis: redis: redis-server stopped at 6 s"
    sleep 2
    redis_start
    echo "redis: redis: redis-server started again at 8 s"
    wait "$c" || true
    waitall $spids
    grep -h 'retrying\|bus back' "$w/redis.json.err" | sort | uniq -c | sed 's/^/  /' || true
    verdict redis "$w/redis.json"
}

t_skew() {
    python3 "$top/tests/bus/shift_pcap.py" "$w/client.pcap" "$w/client.skew.pcap" 2
    sensors skew "client=$w/client.skew.pcap"
    correlate skew "$w/skew.json" --until-ended 4
    waitall $spids
    grep -h 'sensor client:' "$w/skew.json.err" | sed 's/, [0-9]* batches again.*//; s/^/  /'
    off=$(sed -n 's/.*sensor client: .*clock offset \([-+0-9.]*\) s.*/\1/p' "$w/skew.json.err")
    if ! awk -v o="${off:-0}" 'BEGIN { exit !(o > 1.95 && o < 2.05) }'; then
        echo "redis: skew FAILED: client's offset learned ${off:-?} s, not 2 s" >&2
        fails=$((fails + 1))
    fi
    verdict skew "$w/skew.json"
}

t_silent() {
    sensors silent
    victim=$(echo $spids | cut -d' ' -f3) # compute-2
    correlate silent "$w/silent.json" --until-ended 3 --sensor-timeout 3 &
    c=$!
    pids="$pids $c"
    sleep 5
    kill -STOP "$victim"
    echo "redis: silent: sensor compute-2 stopped (SIGSTOP) at 5 s"
    wait "$c" || true
    kill -CONT "$victim" 2>/dev/null || true
    kill "$victim" 2>/dev/null || true
    waitall $spids
    grep -h 'coverage gap' "$w/silent.json.err" | sed 's/^/  /'
    if ! grep -q 'coverage gap: sensor compute-2 silent' "$w/silent.json.err"; then
        echo "redis: silent FAILED: no coverage gap reported" >&2
        fails=$((fails + 1))
    fi
    if grep '"type": *"incident"\|"type":"incident"' "$w/silent.json" | grep -q '"host":"compute-2"\|"host": "compute-2"'; then
        echo "redis: silent FAILED: an incident on compute-2" >&2
        fails=$((fails + 1))
    fi
    verdict silent "$w/silent.json"
}

t_flood() {
    [ -x "$GEN" ] || { echo "redis: flood: no $GEN (make $GEN)" >&2; fails=$((fails + 1)); return; }
    "$GEN" -o "$w/flood.pcap" --bytes "${FLOOD_BYTES:-200000000}" --seed 3 --concurrency 200 \
        --faulty-ratio 0.5 >/dev/null 2>&1
    # a Redis that trims in small steps, so that MAXLEN ~ bites early
    redis-cli -p "$port" config set stream-node-max-entries 10 >/dev/null
    correlate flood "$w/flood.json" --until-ended 1 --sensor-timeout 60 &
    c=$!
    pids="$pids $c"
    sleep 1
    cp=$(pgrep -f -- "correlate .*--bus $URL/flood" | head -1)
    kill -STOP "$cp" # the correlator falls behind
    rp=$(cat "$w/redis.pid")
    kill -STOP "$rp" # Redis stalls as the burst begins: the sensor's queue fills
    s0=$(date +%s.%N)
    TZ=UTC /usr/bin/time -f %M -o "$w/flood.sensor.rss" "$OSRCA" sensor "$w/flood.pcap" --id flood \
        --bus "$URL/flood" --rules "$RULES" --drop --queue 16 --maxlen 10 \
        --fp-key-file "$w/key" 2>"$w/flood.sensor.err" &
    sp=$!
    pids="$pids $sp"
    sleep 0.5
    kill -CONT "$rp"
    wait "$sp" || true
    s1=$(date +%s.%N)
    kill -CONT "$cp"
    wait "$c" || true
    tail -1 "$w/flood.sensor.err" | sed 's/^/  /'
    grep -h 'sensor flood:' "$w/flood.json.err" | cut -c1-170 | sed 's/^/  /'
    lost=$(sed -n 's/.*sensor flood: .*, \([0-9]*\) lost, .*/\1/p' "$w/flood.json.err")
    dropped=$(sed -n 's/.*, \([0-9]*\) dropped, .*/\1/p' "$w/flood.sensor.err" | tail -1)
    events=$(sed -n 's/.* \([0-9]*\) events, .*/\1/p' "$w/flood.sensor.err" | tail -1)
    rss=$(tail -1 "$w/flood.json.rss")
    srss=$(tail -1 "$w/flood.sensor.rss")
    mem=$(redis-cli -p "$port" info memory | sed -n 's/^used_memory_peak:\([0-9]*\).*/\1/p' | tr -d '\r')
    printf 'redis: flood    sensor: %s events in %.1f s, %s frames dropped (queue full); correlator: %s batches lost (trimmed before read); peak RSS correlator %.1f MB, sensor %.1f MB; redis used_memory_peak %.1f MB\n' \
        "${events:-?}" "$(echo "$s0 $s1" | awk '{print $2-$1}')" "${dropped:-?}" "${lost:-?}" \
        "$(echo "$rss" | awk '{print $1/1024}')" "$(echo "$srss" | awk '{print $1/1024}')" \
        "$(echo "$mem" | awk '{print $1/1048576}')"
    if [ "${lost:-0}" = 0 ] || [ "${dropped:-0}" = 0 ]; then
        echo "redis: flood FAILED: expected drops at the sensor and losses counted by the correlator" >&2
        fails=$((fails + 1))
    fi
    if [ "$rss" -gt "${FLOOD_MAX_RSS_KB:-400000}" ] || [ "$srss" -gt "${FLOOD_MAX_RSS_KB:-400000}" ]; then
        echo "redis: flood FAILED: RSS correlator $rss kB, sensor $srss kB" >&2
        fails=$((fails + 1))
    fi
}

for t in ${*:-bus restart redis skew silent flood}; do
    "t_$t"
done
[ "$fails" = 0 ] || { echo "redis: $fails failed" >&2; exit 1; }
echo "redis: ok"
