#!/bin/sh
# record_hosts.sh [NAME...] -- record multi-host lab runs with one capture
# per host besides the lab's span port (run as root, `lab install` once).
#
# For each recording, in each lab namespace (controller, compute-1,
# compute-2, client) `tcpdump -i any -s 0 -U` runs INSIDE the namespace
# (its eth0 and its loopback: what stays inside the controller, e.g.
# nova-conductor -> RabbitMQ -> nova-scheduler, is there and not on the
# bridge) while `lab run` captures the bridge olab-br0 (the span port).
# Each host file is then trimmed to the span capture's window (its first
# and last packet, +- MARGIN s) so that the lab's health checks and
# clean-up before and after the capture (real API calls without truth)
# are left out. To $DEST (default testdata/hosts/):
#   NAME.span.pcap.gz        the lab's bridge capture, as recorded
#   NAME.HOST.pcap.gz        per host, trimmed
#   NAME.truth.json          the lab's truth, unchanged
# The full lab outputs (logs, untrimmed host files, tcpdump logs) stay in
# $HOSTS_OUT (default /var/tmp/osrca-hosts). Without NAME every recording
# of the list below is made, in order.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
LAB=${LAB:-$top/../shared/lab/lab}
OUT=${HOSTS_OUT:-/var/tmp/osrca-hosts}
DEST=${HOSTS_DEST:-$top/testdata/hosts}
SCEN=$top/tests/lab/scenarios
MARGIN=${MARGIN:-0.005}
HOSTS="controller compute-1 compute-2 client"
[ -x "$LAB" ] || { echo "record_hosts: no lab at $LAB (set LAB=)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "record_hosts: the lab needs root" >&2; exit 2; }
for t in tcpdump capinfos editcap gzip; do
    command -v "$t" >/dev/null || { echo "record_hosts: $t missing" >&2; exit 2; }
done
mkdir -p "$OUT" "$DEST"

# NAME  SCENARIO[:ARGS]  [lab run options]
LIST='hosts-scheduler-down mh-outage-short:nova-scheduler
hosts-healthy mh-healthy
hosts-conductor-down mh-outage-short:nova-conductor
hosts-compute-down mh-compute-down:compute-2'

mode_now() { "$LAB" status 2>/dev/null | sed -n "s/^lab: \([a-z]*\)-host mode.*/\1/p" | head -1; }
# first / last packet time of a pcap, epoch seconds
first_t() { capinfos -a -S -M "$1" | sed -n 's/^First packet time: *//p'; }
last_t() { capinfos -e -S -M "$1" | sed -n 's/^Last packet time: *//p'; }
stats() { capinfos -c -d -M "$1" | awk -F': *' '/^Number of packets/ { p = $2 } /^Data size/ { b = $2 } END { printf "%s packets, %s", p, b }'; }

tpids=''
stop_dumps() {
    for p in $tpids; do kill -INT "$p" 2>/dev/null || true; done
    for p in $tpids; do wait "$p" 2>/dev/null || true; done
    tpids=''
}
trap 'stop_dumps' EXIT
trap 'exit 130' INT TERM

if [ "$(mode_now)" != multi ]; then
    echo "record_hosts: lab to multi-host mode (was $(mode_now || true))"
    ip -4 addr
    ip route
    "$LAB" stop >/dev/null 2>&1 || true
    "$LAB" start --hosts
fi
for h in $HOSTS; do
    ip netns list | grep -q "^olab-$h\b" || { echo "record_hosts: no namespace olab-$h" >&2; exit 2; }
done

SEL="$*"
if [ -n "$SEL" ]; then
    for n in $SEL; do
        echo "$LIST" | grep -q "^$n " || { echo "record_hosts: unknown recording $n" >&2; exit 2; }
    done
fi
# the list on fd 3 (no subshell: the trap sees the tcpdump pids)
while read -r name scen largs <&3; do
    if [ -n "$SEL" ]; then
        case " $SEL " in *" $name "*) ;; *) continue ;; esac
    fi
    sfile=${scen%%:*}
    sargs=${scen#"$sfile"}
    [ -f "$SCEN/$sfile.json" ] && sfile=$SCEN/$sfile.json
    echo "record_hosts: $name: $sfile$sargs $largs"
    # 1. one capture inside each namespace (eth0 and lo)
    for h in $HOSTS; do
        rm -f "$OUT/$name.$h.full.pcap" "$OUT/$name.$h.pcap"
        ip netns exec "olab-$h" tcpdump -i any -s 0 -U -n -w "$OUT/$name.$h.full.pcap" \
            2>"$OUT/$name.$h.tcpdump.log" &
        tpids="$tpids $!"
    done
    for h in $HOSTS; do
        n=0
        until grep -q 'listening on' "$OUT/$name.$h.tcpdump.log" 2>/dev/null; do
            n=$((n + 1))
            [ $n -lt 100 ] || { echo "record_hosts: tcpdump in olab-$h did not start" >&2; cat "$OUT/$name.$h.tcpdump.log" >&2; exit 1; }
            sleep 0.1
        done
    done
    # 2. the lab run (span port capture and truth)
    rc=0
    # shellcheck disable=SC2086
    "$LAB" run "$sfile$sargs" "$OUT" --name "$name" $largs </dev/null || rc=$?
    # 3. stop the host captures
    stop_dumps
    for h in $HOSTS; do sed -n 's/^/  '"$h"' tcpdump: /p' "$OUT/$name.$h.tcpdump.log" | grep -v 'listening on'; done
    if [ "$rc" != 0 ] || [ ! -s "$OUT/$name.pcap" ] || [ ! -s "$OUT/$name.truth.json" ]; then
        echo "record_hosts: $name: lab run failed (rc $rc): not copied" >&2
        continue
    fi
    # 4. trim each host file to the span capture's window
    t0=$(first_t "$OUT/$name.pcap")
    t1=$(last_t "$OUT/$name.pcap")
    a=$(awk -v t="$t0" -v m="$MARGIN" 'BEGIN { printf "%.6f", t - m }')
    b=$(awk -v t="$t1" -v m="$MARGIN" 'BEGIN { printf "%.6f", t + m }')
    echo "  span window $t0 .. $t1 (host files kept in $a .. $b)"
    for h in $HOSTS; do
        editcap -A "$a" -B "$b" "$OUT/$name.$h.full.pcap" "$OUT/$name.$h.pcap"
    done
    # 5. gzip and copy
    gzip -9 -n -c "$OUT/$name.pcap" >"$DEST/$name.span.pcap.gz"
    for h in $HOSTS; do
        gzip -9 -n -c "$OUT/$name.$h.pcap" >"$DEST/$name.$h.pcap.gz"
    done
    cp "$OUT/$name.truth.json" "$DEST/$name.truth.json"
    tot=0
    printf '  %-12s %-40s %s\n' file capinfos gzipped
    for f in span $HOSTS; do
        if [ "$f" = span ]; then src=$OUT/$name.pcap; else src=$OUT/$name.$f.pcap; fi
        gz=$DEST/$name.$f.pcap.gz
        sz=$(wc -c <"$gz")
        tot=$((tot + sz))
        off=$(awk -v s="$t0" -v h="$(first_t "$src")" 'BEGIN { printf "%+.6f", h - s }')
        printf '  %-12s %-40s %8s bytes  start %s s vs span\n' "$f" "$(stats "$src")" "$sz" "$off"
    done
    tot=$((tot + $(wc -c <"$DEST/$name.truth.json")))
    echo "record_hosts: $name -> $DEST/$name.{span,$(echo $HOSTS | tr ' ' ,)}.pcap.gz + truth ($tot bytes in all)"
done 3<<EOF
$LIST
EOF
