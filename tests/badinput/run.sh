#!/usr/bin/env bash
# Bad-input suite: damaged and hostile pcaps through `osrca analyze --stats`.
#
# Usage: tests/badinput/run.sh            (binary: $OSRCA, default ./build/osrca)
#        OSRCA=build-san/osrca BAD_QUICK=1 tests/badinput/run.sh
# Builds nothing. Generates every input (tests/badinput/gen.py, and an inline snaplen cut) into
# a temp dir removed on exit, runs each under /usr/bin/time -v and a timeout,
# and checks: exit status allowed (0 or 1; 1 = damaged input), no sanitizer
# report on stderr, the expected counter nonzero, an exit of 1 explained by a
# capture.* damage counter, peak RSS under the case's cap. One table row per
# case; exits 1 if any case fails.
# Env: BAD_QUICK=1 (100,000 SYN-flood flows instead of 1,000,000),
#      BAD_FLOWS=N (override), BAD_TIMEOUT=S (per case, default 300),
#      BAD_RSS_MB / BAD_FLOOD_RSS_MB (caps, default 100 / 300; x3 when
#      $OSRCA is a sanitizer build).
set -u

cd "$(dirname "$0")/../.." || exit 2
OSRCA=${OSRCA:-./build/osrca}
SRC=testdata/s2p_novalidhost_capacity.pcap
if [ "${BAD_QUICK:-0}" = 1 ]; then FLOWS=${BAD_FLOWS:-100000}; else FLOWS=${BAD_FLOWS:-1000000}; fi
TMO=${BAD_TIMEOUT:-300}
RSS_MB=${BAD_RSS_MB:-100}
FLOOD_RSS_MB=${BAD_FLOOD_RSS_MB:-300}
# ASan/UBSan builds (make SAN=1) carry shadow memory and a quarantine: caps x3.
if grep -q __asan_init "$(command -v "$OSRCA")" 2>/dev/null; then
    RSS_MB=$((RSS_MB * 3)) FLOOD_RSS_MB=$((FLOOD_RSS_MB * 3))
fi

for tool in "$OSRCA" /usr/bin/time python3 timeout; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "badinput: missing $tool" >&2
        exit 2
    fi
done

T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT

python3 tests/badinput/gen.py "$T" --flows "$FLOWS" --src "$SRC" || exit 2
# every record cut to 96 captured bytes (what `editcap -s 96` does)
python3 - "$SRC" "$T/snaplen96.pcap" <<'PY' || exit 2
import struct, sys
d = open(sys.argv[1], "rb").read()
e = "<" if d[:4] == b"\xd4\xc3\xb2\xa1" else ">"
out = bytearray(d[:16] + struct.pack(e + "I", 96) + d[20:24])
off = 24
while off + 16 <= len(d):
    s, us, cap, orig = struct.unpack(e + "IIII", d[off:off + 16])
    keep = min(cap, 96)
    out += struct.pack(e + "IIII", s, us, keep, orig) + d[off + 16:off + 16 + keep]
    off += 16 + cap
open(sys.argv[2], "wb").write(out)
PY

# A pcap-level damage counter (what an exit status of 1 must be explained by).
CAPDMG='^capture\.[a-z_]*(trunc|bad|corrupt|damage|error)[a-z_]*$'
# Any counter that shows damaged packets or protocol data.
DAMAGE='^(capture\.[a-z_]*(trunc|bad|corrupt|damage|error)[a-z_]*|decode\.[a-z0-9_]+|http\.(bad_[a-z_]+|resyncs|gaps)|amqp\.(bad_[a-z_]+|frame_too_big|resync_skipped_bytes)|reasm\.gaps|rest\.json_errors|oslo\.bad_[a-z_]+)$'

# case ; file ; expected-counter regex ; RSS cap MB ; allowed exit statuses
CASES="
trunc_record;trunc_record.pcap;$CAPDMG;$RSS_MB;1
trunc_ghdr;trunc_ghdr.pcap;NONE;$RSS_MB;2
snaplen96;snaplen96.pcap;^decode\.snaplen_truncated\$;$RSS_MB;0
bitflip_1e-5;bitflip_1e-5.pcap;$DAMAGE;$RSS_MB;0 1
bitflip_1e-4;bitflip_1e-4.pcap;$DAMAGE;$RSS_MB;0 1
bitflip_1e-3;bitflip_1e-3.pcap;$DAMAGE;$RSS_MB;0 1
garbage_5672;garbage_5672.pcap;^amqp\.(bad_[a-z_]+|resync_skipped_bytes)\$;$RSS_MB;0
garbage_8774;garbage_8774.pcap;^http\.bad_[a-z_]+\$;$RSS_MB;0
http_on_5672;http_on_5672.pcap;^amqp\.(bad_[a-z_]+|resync_skipped_bytes)\$;$RSS_MB;0
amqp_huge_frame;amqp_huge_frame.pcap;^amqp\.frame_too_big\$;$RSS_MB;0
http_bad_cl;http_bad_cl.pcap;^http\.bad_content_length\$;$RSS_MB;0
long_request_line;long_request_line.pcap;^http\.line_too_long\$;$RSS_MB;0
long_header_line;long_header_line.pcap;^http\.(line_too_long|header_block_too_big)\$;$RSS_MB;0
deep_json;deep_json.pcap;^rest\.json_too_deep\$;$RSS_MB;0
synflood_$FLOWS;synflood.pcap;^flow\.(evicted|created)\$;$FLOOD_RSS_MB;0
"

# counters FILE REGEX: "name=value" of up to two nonzero counters matching
# REGEX in the --stats block of FILE (empty if none).
counters() {
    awk -v re="$2" '
        /^-- stats --$/ { s = 1; next }
        s && NF == 2 && $2 ~ /^[0-9]+$/ && $1 ~ re && $2 > 0 {
            if (n < 2) out = out (n ? "," : "") $1 "=" $2; n++
        }
        END { print out }' "$1"
}

fails=0
printf '%-18s %4s  %-44s %7s %6s %5s  %s\n' case exit counter rss_mb secs diag result
while IFS=';' read -r name file re cap exits; do
    [ -n "$name" ] || continue
    out="$T/$name.out" err="$T/$name.err" tv="$T/$name.time"
    timeout -k 10 "$TMO" /usr/bin/time -v -o "$tv" \
        "$OSRCA" analyze "$T/$file" --stats >"$out" 2>"$err"
    rc=$?
    why=""
    rss_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tv" 2>/dev/null)
    secs=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, a, ":"); s = 0;
               for (i = 1; i <= n; i++) s = s * 60 + a[i]; printf "%.2f", s }' "$tv" 2>/dev/null)
    rss_mb=$(( ${rss_kb:-0} / 1024 ))
    if [ "$rc" = 124 ]; then why="$why timeout>${TMO}s"; fi
    case " $exits " in *" $rc "*) ;; *) why="$why exit=$rc(want $exits)" ;; esac
    if grep -qE 'runtime error|AddressSanitizer|LeakSanitizer|Segmentation fault' "$err"; then
        why="$why sanitizer/crash"
    fi
    if [ "$re" = NONE ]; then
        # not a capture at all (cut inside the file header): nothing is
        # analyzed, so no counters; exit 2 with a message naming the file
        got="(stderr message)"
        grep -q '^osrca: .*file header' "$err" || why="$why no-message"
    else
        got=$(counters "$out" "$re")
        [ -n "$got" ] || why="$why no-counter"
    fi
    if [ "$rc" = 1 ] && [ -z "$(counters "$out" "$CAPDMG")" ]; then
        why="$why exit1-without-capture-counter"
    fi
    [ "$rss_mb" -le "$cap" ] || why="$why rss>${cap}MB"
    ndiag=$(( $(grep -c '^diag ' "$out") + $(grep -c '^osrca: ' "$err") ))
    if [ -z "$why" ]; then res=PASS; else res="FAIL:$why"; fails=$((fails + 1)); fi
    printf '%-18s %4s  %-44s %7s %6s %5s  %s\n' "$name" "$rc" "${got:--}" \
        "$rss_mb" "${secs:-?}" "$ndiag" "$res"
    if [ -n "$why" ]; then
        sed -n '1,3s/^/    stderr: /p' "$err"
    fi
done <<EOF
$CASES
EOF

echo "badinput: $OSRCA, flows=$FLOWS, rss caps ${RSS_MB}/${FLOOD_RSS_MB} MB, $fails failed"
[ "$fails" = 0 ]
