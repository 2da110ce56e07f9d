#!/bin/sh
# record.sh [NAME...] -- record the lab corpus (tests/lab/corpus.list, or
# the list file $LAB_LIST names) with
# the fault lab (../shared/lab, run as root: `lab install` once). Each
# recording's pcap and truth go to testdata/lab/ (the pcap gzipped); the
# full run (client and service logs) stays in $LAB_OUT (default
# /var/tmp/osrca-labrec). Without NAME every line is recorded; the lab is
# (re)started in the mode a line asks for. `make labrecord` runs it.
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
    echo "record: $name ($mode): $sfile$sargs $rest"
    # shellcheck disable=SC2086
    if ! "$LAB" run "$sfile$sargs" "$OUT" --name "$name" $rest </dev/null; then
        echo "record: $name failed" >&2
        continue
    fi
    gzip -9 -n -c "$OUT/$name.pcap" >"$DEST/$name.pcap.gz"
    cp "$OUT/$name.truth.json" "$DEST/$name.truth.json"
    echo "record: $name -> $DEST/$name.pcap.gz ($(wc -c <"$DEST/$name.pcap.gz") bytes)"
done 3<<EOF
$list
EOF
