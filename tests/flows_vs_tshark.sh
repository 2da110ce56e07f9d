#!/bin/sh
# flows_vs_tshark.sh -- compare `osrca flows --json` with tshark on every capture.
#
# For each testdata/*.pcap (or the files given as arguments):
#   - the TCP conversations of `tshark -q -z conv,tcp` (endpoints, frames per
#     direction, bytes per direction) must be exactly the flows osrca reports
#     (client -> server, c2s/s2c packets and frame bytes);
#   - tshark prints sizes of 10 kB and more rounded down ("11 kB"), so the
#     byte totals are also checked exactly against the sum of frame.len per
#     tcp.stream and direction (`tshark -T fields`).
# Prints one table row per file and PASS/FAIL; exits 1 if any file failed.
# Needs tshark and jq. OSRCA names the binary (default ./build/osrca).
set -u
OSRCA=${OSRCA:-./build/osrca}
command -v tshark >/dev/null 2>&1 || { echo "flows_vs_tshark: tshark not found" >&2; exit 2; }
command -v jq >/dev/null 2>&1 || { echo "flows_vs_tshark: jq not found" >&2; exit 2; }
[ -x "$OSRCA" ] || { echo "flows_vs_tshark: $OSRCA not executable (set OSRCA)" >&2; exit 2; }
[ $# -gt 0 ] || set -- testdata/*.pcap
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM

fail=0
printf '%-42s %6s %6s %8s %8s %8s  %s\n' file osrca tshark matched frames bytes result
for f in "$@"; do
    # osrca flows: "client server c2s_frames c2s_bytes s2c_frames s2c_bytes", by start time
    if ! "$OSRCA" flows --json "$f" >"$tmp/o.json" 2>"$tmp/o.err"; then
        echo "flows_vs_tshark: $OSRCA failed on $f: $(cat "$tmp/o.err")" >&2
    fi
    jq -r 'select(.type == "flow") | [.first_us, "\(.client):\(.client_port)",
           "\(.server):\(.server_port)", .c2s.packets, .c2s.bytes, .s2c.packets, .s2c.bytes]
           | @tsv' "$tmp/o.json" | sort -n -k1,1 | cut -f2- | tr '\t' ' ' >"$tmp/o.txt"

    # tshark conv,tcp rows "A <-> B | B->A frames bytes | A->B frames bytes | ... start dur",
    # as "A B ba_frames ba_bytes ab_frames ab_bytes" by start time; "11 kB" -> "11k"
    tshark -q -z conv,tcp -r "$f" 2>/dev/null | awk '
        function sz(v, u) { return u == "bytes" ? v : (u == "kB" ? v "k" : (u == "MB" ? v "M" : v u)) }
        $2 == "<->" { print $(NF-1), $1, $3, $4, sz($5, $6), $7, sz($8, $9) }' |
        sort -n -k1,1 | cut -d' ' -f2- >"$tmp/t.txt"

    # exact frame bytes per tcp.stream: "first_sender other a_frames a_bytes b_frames b_bytes"
    tshark -r "$f" -Y tcp -T fields -e tcp.stream -e ip.src -e ipv6.src -e tcp.srcport \
        -e ip.dst -e ipv6.dst -e tcp.dstport -e frame.len 2>/dev/null | awk -F'\t' '
        { s = $1; src = ($2 != "" ? $2 : $3) ":" $4; dst = ($5 != "" ? $5 : $6) ":" $7
          if (!(s in first)) { first[s] = src; other[s] = dst; order[++ns] = s }
          if (src == first[s]) { fa[s]++; ba[s] += $8 } else { fb[s]++; bb[s] += $8 } }
        END { for (i = 1; i <= ns; i++) { s = order[i]
              print first[s], other[s], fa[s] + 0, ba[s] + 0, fb[s] + 0, bb[s] + 0 } }' \
        >"$tmp/x.txt"

    awk -v F="$f" '
        function pk(x, y) { return x < y ? x " " y : y " " x }
        function szok(v, s,   n) {
            if (s ~ /k$/) { n = substr(s, 1, length(s) - 1) * 1000; return v >= n && v < n + 1000 }
            if (s ~ /M$/) { n = substr(s, 1, length(s) - 1) * 1000000; return v >= n && v < n + 1000000 }
            return v == s
        }
        FILENAME == ARGV[1] { k = pk($1, $2); k = k "#" (++on[k]); cli[k] = $1
            cp[k] = $3; cb[k] = $4; sp[k] = $5; sb[k] = $6; no++; next }
        FILENAME == ARGV[2] { k = pk($1, $2); k = k "#" (++tn[k]); nt++
            if (!(k in cli)) { printf "  %s: tshark conversation %s <-> %s not in osrca\n", F, $1, $2 > "/dev/stderr"; next }
            matched++
            if (cli[k] == $1) { f1 = $5; b1 = $6; f2 = $3; b2 = $4 } else { f1 = $3; b1 = $4; f2 = $5; b2 = $6 }
            if (cp[k] == f1 && sp[k] == f2 && szok(cb[k], b1) && szok(sb[k], b2)) conv++
            else printf "  %s: %s: osrca c2s %s/%s s2c %s/%s, tshark %s/%s %s/%s\n", F, k,
                        cp[k], cb[k], sp[k], sb[k], f1, b1, f2, b2 > "/dev/stderr"
            next }
        FILENAME == ARGV[3] { k = pk($1, $2); k = k "#" (++xn[k]); nx++
            if (!(k in cli)) next
            if (cli[k] == $1) ok = cp[k] == $3 && cb[k] == $4 && sp[k] == $5 && sb[k] == $6
            else ok = cp[k] == $5 && cb[k] == $6 && sp[k] == $3 && sb[k] == $4
            if (ok) exact++
            else printf "  %s: %s: exact bytes differ (tshark %s)\n", F, k, $0 > "/dev/stderr"
            next }
        END {
            res = (no == nt && matched == nt && conv == nt && exact == nx && nx == nt) ? "PASS" : "FAIL"
            printf "%-42s %6d %6d %8s %8s %8s  %s\n", F, no, nt, (matched + 0) "/" nt,
                   (conv + 0) "/" nt, (exact + 0) "/" nx, res
            exit res == "PASS" ? 0 : 1
        }' "$tmp/o.txt" "$tmp/t.txt" "$tmp/x.txt" || fail=1
done
if [ "$fail" = 0 ]; then echo "flows_vs_tshark: all PASS"; else echo "flows_vs_tshark: FAIL"; fi
exit "$fail"
