#!/bin/sh
# record.sh [NAME...] -- record the lab corpus (tests/lab/corpus.list, or
# the list file $LAB_LIST names) with
# the fault lab (../shared/lab, run as root: `lab install` once). Each
# recording's pcap and truth go to testdata/lab/ (the pcap gzipped); the
# full run (client and service logs) stays in $LAB_OUT (default
# /var/tmp/osrca-labrec). Without NAME every line is recorded; the lab is
# (re)started in the mode a line asks for. `make labrecord` runs it.
#
# A list line may end with `--shape HOST:RATE:AT_S:FOR_S` (record.sh's,
# not the lab's): during the run, AT_S s after its t = 0 (the lab's
# `start` event in NAME.logs/events.jsonl), HOST's link is rate-limited
# inside its namespace (`ip netns exec olab-HOST tc qdisc add dev eth0 root
# tbf rate RATE burst 4kb latency 20s`: HOST's egress only), and FOR_S s
# later the qdisc is removed (at the latest right after the lab run). The
# UTC times of both go to NAME.logs/shape.log, and add_window.py adds the
# window to the truth (the lab has no such fault: its truth knows nothing
# of it) before the truth is copied. Never in the root namespace.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
LAB=${LAB:-$top/../shared/lab/lab}
OUT=${LAB_OUT:-/var/tmp/osrca-labrec}
DEST=${LAB_DEST:-$top/testdata/lab}
[ -x "$LAB" ] || { echo "record: no lab at $LAB (set LAB=)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "record: the lab needs root" >&2; exit 2; }
mkdir -p "$OUT" "$DEST"
mode_now() { "$LAB" status 2>/dev/null | sed -n "s/^lab: \([a-z]*\)-host mode.*/\1/p" | head -1; }
utc_now() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }
# sleep until epoch $1 (fractional), interruptibly (a trap runs at once)
sleep_until() {
    s=$(awk -v t="$1" -v n="$(date +%s.%N)" 'BEGIN { d = t - n; printf "%.3f", (d > 0 ? d : 0) }')
    sleep "$s" &
    slp=$!
    wait "$slp" || true
    slp=
}
# shaper HOST RATE AT_S FOR_S EVENTS SINCE LOG: in the background during a
# run. Waits for the run's `start` event (newer than SINCE, an epoch: the
# lab deletes the old NAME.logs only once it begins), shapes HOST's eth0
# in its namespace at t0 + AT_S, removes it at t0 + AT_S + FOR_S, or on
# SIGTERM (record.sh, after the lab run) if it is still in place.
shaper() {
    set +e
    ns=olab-$1 rate=$2 at=$3 dur=$4 events=$5 since=$6 log=$7
    shaped='' slp=''
    unshape() {
        ub=$(utc_now)
        ip netns exec "$ns" tc -s qdisc show dev eth0 | sed 's/^/# /' >>"$log"
        ip netns exec "$ns" tc qdisc del dev eth0 root
        rc=$?
        printf 'unshape_begin_utc=%s\nunshape_end_utc=%s\nunshape_rc=%s\nunshape_by=%s\n' \
            "$ub" "$(utc_now)" "$rc" "$1" >>"$log"
        shaped=
    }
    trap '[ -n "$slp" ] && kill "$slp" 2>/dev/null; [ -n "$shaped" ] && unshape "after the lab run"; exit 0' TERM INT
    t0='' n=0
    while :; do
        t=$(sed -n 's/^{"time_utc": "\([^"]*\)".*"event": "start".*/\1/p' "$events" 2>/dev/null | head -1)
        if [ -n "$t" ]; then
            e=$(date -u -d "$t" +%s.%N)
            if awk -v e="$e" -v s="$since" 'BEGIN { exit !(e >= s) }'; then t0=$e; break; fi
        fi
        n=$((n + 1))
        [ $n -lt 4500 ] || { echo "record: shape: no start of the run in $events after 900 s" >&2; return 1; }
        sleep 0.2
    done
    sleep_until "$(awk -v t="$t0" -v a="$at" 'BEGIN { printf "%.3f", t + a }')"
    cmd="tc qdisc add dev eth0 root tbf rate $rate burst 4kb latency 20s"
    b=$(utc_now)
    ip netns exec "$ns" tc qdisc add dev eth0 root tbf rate "$rate" burst 4kb latency 20s
    rc=$?
    printf 'run_start_utc=%s\nshape_cmd=ip netns exec %s %s\nshape_begin_utc=%s\nshape_injected_utc=%s\nshape_rc=%s\n' \
        "$t" "$ns" "$cmd" "$b" "$(utc_now)" "$rc" >>"$log"
    [ "$rc" = 0 ] || return 1
    shaped=1
    sleep_until "$(awk -v t="$t0" -v a="$at" -v f="$dur" 'BEGIN { printf "%.3f", t + a + f }')"
    unshape schedule
}
shape_val() { sed -n "s/^$1=//p" "$2" | tail -1; }
shpid=
# interrupted: the shaper removes its qdisc when it is ended
trap '[ -n "$shpid" ] && kill "$shpid" 2>/dev/null' EXIT
trap 'exit 130' INT TERM
SEL="$*"
LIST=${LAB_LIST:-$here/corpus.list}
list=$(grep -v '^[[:space:]]*#' "$LIST" | grep -v '^[[:space:]]*$')
# the list on fd 3: the lab commands inside must not read it
while read -r name mode scen rest <&3; do
    if [ -n "$SEL" ]; then
        case " $SEL " in *" $name "*) ;; *) continue ;; esac
    fi
    cur=$(mode_now)
    want_mode=$mode
    if [ "$cur" != "$want_mode" ]; then
        echo "record: lab to $want_mode mode (was ${cur:-stopped})"
        "$LAB" stop >/dev/null 2>&1 || true
        if [ "$want_mode" = multi ]; then "$LAB" start --hosts; else "$LAB" start; fi
    fi
    sfile=${scen%%:*}
    sargs=${scen#"$sfile"}
    [ -f "$here/scenarios/$sfile.json" ] && sfile=$here/scenarios/$sfile.json
    # --shape HOST:RATE:AT_S:FOR_S is record.sh's: the rest goes to the lab
    shape='' largs=''
    set -f
    # shellcheck disable=SC2086
    set -- $rest
    set +f
    while [ $# -gt 0 ]; do
        case $1 in
        --shape) [ $# -ge 2 ] || { echo "record: $name: --shape needs HOST:RATE:AT_S:FOR_S" >&2; exit 2; }
            shape=$2; shift 2 ;;
        --shape=*) shape=${1#--shape=}; shift ;;
        *) largs="$largs $1"; shift ;;
        esac
    done
    shpid=
    if [ -n "$shape" ]; then
        echo "$shape" | grep -Eq '^[a-z0-9-]+:[0-9]+(bit|kbit|mbit):[0-9]+(\.[0-9]+)?:[0-9]+(\.[0-9]+)?$' ||
            { echo "record: $name: --shape $shape: want HOST:RATE:AT_S:FOR_S (e.g. compute-2:32kbit:30:50)" >&2; exit 2; }
        shost=${shape%%:*}
        ip netns list | grep -q "^olab-$shost\b" ||
            { echo "record: $name: --shape: no namespace olab-$shost (multi-host mode, a lab host)" >&2; exit 2; }
        srest=${shape#*:}
        srate=${srest%%:*}
        srest=${srest#*:}
        sat=${srest%%:*}
        sfor=${srest#*:}
        slog=$OUT/$name.logs/shape.log
        shaper "$shost" "$srate" "$sat" "$sfor" "$OUT/$name.logs/events.jsonl" "$(date +%s.%N)" "$slog" &
        shpid=$!
    fi
    echo "record: $name ($mode): $sfile$sargs$largs${shape:+ (shape $shape)}"
    rc=0
    # shellcheck disable=SC2086
    "$LAB" run "$sfile$sargs" "$OUT" --name "$name" $largs </dev/null || rc=$?
    if [ -n "$shpid" ]; then
        kill "$shpid" 2>/dev/null || true
        wait "$shpid" 2>/dev/null || true
        # whatever happened to the shaper: nothing left on the host's link
        if ip netns exec "olab-$shost" tc qdisc show dev eth0 2>/dev/null | grep -q '^qdisc tbf'; then
            ip netns exec "olab-$shost" tc qdisc del dev eth0 root || true
            echo "record: $name: a tbf qdisc was left in olab-$shost: removed" >&2
        fi
        shpid=
    fi
    if [ "$rc" != 0 ]; then
        echo "record: $name failed" >&2
        continue
    fi
    if [ -n "$shape" ]; then
        if [ "$(shape_val shape_rc "$slog" 2>/dev/null)" != 0 ] || [ -z "$(shape_val unshape_end_utc "$slog")" ]; then
            echo "record: $name: the shaping of $shost did not happen as asked (see $slog): not copied" >&2
            continue
        fi
        python3 "$here/add_window.py" "$OUT/$name.truth.json" --host "$shost" \
            --begin "$(shape_val shape_begin_utc "$slog")" --injected "$(shape_val shape_injected_utc "$slog")" \
            --undo-begin "$(shape_val unshape_begin_utc "$slog")" --end "$(shape_val unshape_end_utc "$slog")" \
            --undone-by "record.sh --shape ($(shape_val unshape_by "$slog"))" \
            --detail "$(shape_val shape_cmd "$slog")"
    fi
    gzip -9 -n -c "$OUT/$name.pcap" >"$DEST/$name.pcap.gz"
    cp "$OUT/$name.truth.json" "$DEST/$name.truth.json"
    echo "record: $name -> $DEST/$name.pcap.gz ($(wc -c <"$DEST/$name.pcap.gz") bytes)"
done 3<<EOF
$list
EOF
