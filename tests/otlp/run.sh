#!/bin/sh
# run.sh -- osrca's traces against the official OTLP definitions, and the
# OTLP/HTTP sender against a receiver that answers 503 first.
#
# For every capture (testdata/*.pcap, the lab corpus testdata/lab/*.pcap.gz):
# `osrca analyze --all --otlp F --otlp-endpoint URL` (every operation, the
# file in JSON, the collector in protobuf) to tests/otlp/receiver.py; then
# tests/otlp/validate.js reads both with the generated code of the
# opentelemetry-proto definitions (npm @opentelemetry/otlp-transformer,
# pinned by package-lock.json, installed once into $OTLP_NODE) and checks
# that both encodings carry the same spans. No secret of the capture (a
# token header's value, a password) may appear in either.
# The first receiver answers its first POST 503 (Retry-After: 1): the
# sender must retry and deliver everything.
#
# OSRCA (default ./build/osrca), OTLP_NODE (default build/otlp-node),
# OTLP_QUICK=1: the bundled captures only.
set -u
OSRCA=${OSRCA:-./build/osrca}
OTLP_NODE=${OTLP_NODE:-build/otlp-node}
export OTLP_NODE
root=$OTLP_NODE/node_modules/@opentelemetry/otlp-transformer/build/src/generated/root.js
if [ ! -f "$root" ]; then
    mkdir -p "$OTLP_NODE"
    cp tests/otlp/package.json tests/otlp/package-lock.json "$OTLP_NODE/"
    (cd "$OTLP_NODE" && npm ci --no-audit --no-fund --ignore-scripts >/dev/null 2>&1) || {
        echo "otlp: npm ci of the OTLP definitions failed (npm registry?)" >&2
        exit 1
    }
fi
T=$(mktemp -d)
trap 'kill $rpid 2>/dev/null; rm -rf "$T"' EXIT
rpid=
fails=0
n=0
first=1
caps=$(ls testdata/*.pcap)
[ "${OTLP_QUICK:-}" = 1 ] || caps="$caps $(ls testdata/lab/*.pcap.gz 2>/dev/null)"
for cap in $caps; do
    name=$(basename "$cap" | sed 's/\.pcap\(\.gz\)\{0,1\}$//')
    in=$cap
    case $cap in *.gz) in=$T/in.pcap; gzip -dc "$cap" >"$in" ;; esac
    rm -rf "$T/r" "$T/port"
    ff=0
    [ $first = 1 ] && ff=1
    python3 tests/otlp/receiver.py "$T/r" --port-file "$T/port" --fail-first $ff &
    rpid=$!
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
        [ -s "$T/port" ] && break
        sleep 0.1
    done
    port=$(cat "$T/port")
    TZ=UTC "$OSRCA" analyze --rules rules --all --otlp "$T/out.json" \
        --otlp-endpoint "http://127.0.0.1:$port" "$in" >/dev/null 2>"$T/err"
    kill $rpid 2>/dev/null
    wait $rpid 2>/dev/null
    rpid=
    n=$((n + 1))
    pbs=
    for b in "$T"/r/*.bin; do
        [ -f "$b" ] && pbs="$pbs --pb $b"
    done
    # shellcheck disable=SC2086
    res=$(node tests/otlp/validate.js --json "$T/out.json" $pbs --same 2>&1)
    if [ $? -ne 0 ]; then
        fails=$((fails + 1))
        echo "FAIL $name: $res"
    elif [ "${OTLP_VERBOSE:-}" = 1 ]; then
        echo "ok   $name: $(grep 'otlp:' "$T/err") | $res"
    fi
    if grep -q "failed [1-9]\|dropped [1-9]\|, [1-9][0-9]* failed\|, [1-9][0-9]* dropped" "$T/err"; then
        fails=$((fails + 1))
        echo "FAIL $name: not every batch delivered: $(grep 'otlp:' "$T/err")"
    fi
    if [ $first = 1 ]; then
        first=0
        echo "otlp: receiver log of $name (first POST answered 503):"
        sed 's/^/  /' "$T/r/log"
        echo "  $(grep 'otlp:' "$T/err")"
        if ! grep -q -- "-> 503" "$T/r/log" || ! grep -q "1 retries" "$T/err" ||
            ! grep -q -- "-> 200" "$T/r/log"; then
            fails=$((fails + 1))
            echo "FAIL $name: no retry after the 503"
        fi
    fi
    # secrets of the capture: token headers' values, passwords
    if ! python3 tests/otlp/nosecrets.py "$in" "$T/out.json" "$T"/r/*.bin; then
        fails=$((fails + 1))
        echo "FAIL $name: a secret of the capture in the traces"
    fi
done
echo "otlp: $n captures, $fails failures"
[ $fails = 0 ]
