#!/bin/sh
# golden.sh -- run every case of testdata/TESTLIST and diff against the
# expected output in testdata/expected/<name>.out. UPDATE=1 rewrites them
# (review the diff before committing).
#
# TESTLIST line: <name> <subcommand> <pcap under testdata/> [options...]
# '#' starts a comment. Output is compared byte for byte (TZ=UTC).
set -u
: "${OSRCA:=./build/osrca}"
list=testdata/TESTLIST
pass=0; fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
while read -r name sub pcap opts; do
    case "$name" in ''|'#'*) continue ;; esac
    exp="testdata/expected/$name.out"
    # shellcheck disable=SC2086
    TZ=UTC "$OSRCA" "$sub" $opts "testdata/$pcap" >"$tmp/raw" 2>"$tmp/err"
    rc=$?
    # memory peaks (mem.<pool>.*) follow struct sizes, not the input: not compared
    grep -v '^mem\.' "$tmp/raw" | sed -E 's/"mem\.[a-z]+\.[a-z_]+":[0-9]+,?//g' >"$tmp/out"
    if [ "$rc" -gt 1 ]; then
        echo "golden: $name: exit $rc"; sed 's/^/  /' "$tmp/err" | head -20
        fail=$((fail + 1)); continue
    fi
    if [ "${UPDATE:-0}" = 1 ]; then
        mkdir -p testdata/expected; cp "$tmp/out" "$exp"; pass=$((pass + 1)); continue
    fi
    if [ ! -f "$exp" ]; then
        echo "golden: $name: no $exp (run make golden-update)"; fail=$((fail + 1)); continue
    fi
    if cmp -s "$tmp/out" "$exp"; then
        pass=$((pass + 1))
    else
        echo "golden: $name: output differs from $exp"
        diff -u "$exp" "$tmp/out" | head -40
        fail=$((fail + 1))
    fi
done < "$list"
echo "golden: $pass passed, $fail failed"
[ "$fail" = 0 ]
