#!/bin/sh
# run.sh SECONDS TARGET... -- run libFuzzer targets (built by `make
# fuzz-build`) from their seeds and print, per target, the executions, the
# rate and whether anything was found. A finding fails the run.
#
# Environment:
#   FB           fuzz build dir (build-fuzz); seeds in $FB/seeds/<target>/
#   FUZZ_RUNS    run N executions per target instead of SECONDS
#   FUZZ_SMOKE=1 CI smoke: a scratch corpus under $FB/smoke/, nothing kept
#   FUZZ_JOBS    targets run at the same time (1)
#   FUZZ_FLAGS   extra libFuzzer flags (e.g. -use_value_profile=1)
#   ASAN_OPTIONS default quarantine_size_mb=8: the 256 MB default quarantine
#                makes every allocation touch fresh pages (2x slower); 8 MB
#                still holds the memory freed by the last few executions
#
# Corpora: tests/fuzz/corpus-<target>/ (grows, git-ignored; a scratch one
# with FUZZ_SMOKE=1) is written; $FB/seeds/<target>/ (tests/fuzz/seeds.py)
# and tests/fuzz/regress/<target>/ (minimized past findings, in git) are
# read. Findings land in $FB/findings/<target>-crash-*; the log of a target
# is tests/fuzz/corpus-<target>.log ($FB/smoke/<target>.log in the smoke).
#
# -max_len per target keeps inputs near the seeds' size: the cost of one
# execution grows with the input (the parsers' work and libFuzzer's
# per-feature bookkeeping), and the seeds are cut small for that reason.
set -u
secs=$1
shift
FB=${FB:-build-fuzz}
jobs=${FUZZ_JOBS:-1}
runs=${FUZZ_RUNS:-}
ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=8}
export ASAN_OPTIONS
dir=tests/fuzz
mkdir -p "$FB/findings"

max_len() {
    case "$1" in
    fuzz_pcap) echo 16384 ;;  # a few dozen packets
    fuzz_analyze) echo 16384 ;; # a few dozen packets of several connections
    fuzz_oslo) echo 8192 ;;   # all but 6 of the 263 bodies in testdata
    fuzz_rules) echo 2048 ;;  # a few services, operations and faults
    *) echo 4096 ;;           # HTTP exchanges, AMQP frames, JSON
    esac
}

# one_target BINARY: run it, write its summary line to $FB/findings/.res-<name>
one_target() {
    t=$1
    name=$(basename "$t")
    if [ "${FUZZ_SMOKE:-}" = 1 ]; then
        corpus="$FB/smoke/$name"
        log="$FB/smoke/$name.log"
        rm -rf "$corpus"
    else
        corpus="$dir/corpus-$name"
        log="$dir/corpus-$name.log"
    fi
    mkdir -p "$corpus"
    extra=""
    [ -d "$FB/seeds/$name" ] && extra="$FB/seeds/$name"
    [ -d "$dir/regress/$name" ] && extra="$extra $dir/regress/$name"
    if [ -n "$runs" ]; then
        limit="-runs=$runs"
    else
        limit="-max_total_time=$secs"
    fi
    start=$(date +%s)
    # shellcheck disable=SC2086
    "$t" $limit -max_len="$(max_len "$name")" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$FB/findings/$name-" ${FUZZ_FLAGS:-} \
        "$corpus" $extra >"$log" 2>&1
    rc=$?
    took=$(($(date +%s) - start))
    n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    cov=$(grep -E '^#[0-9]+.*(DONE|INITED)' "$log" | tail -1 | sed -n 's/.*\(cov: [0-9]*\).*\(corp: [^ ]*\).*/\1 \2/p')
    if [ "$rc" = 0 ]; then
        msg="fuzz: $name: ${n:-?} executions in ${took}s (${rate:-?}/s), $cov, no finding"
    else
        msg="fuzz: $name: FINDING (exit $rc) after ${n:-?} executions, see $log and $FB/findings/"
    fi
    {
        echo "$msg"
        grep -E '^stat::number_of_executed_units' "$log" | sed "s/^/  $name /"
        [ "$rc" = 0 ] || grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -5 | sed 's/^/  /'
    } >"$FB/findings/.res-$name"
    echo "$rc" >"$FB/findings/.rc-$name"
}

fail=0
while [ $# -gt 0 ]; do
    batch=""
    i=0
    while [ $# -gt 0 ] && [ "$i" -lt "$jobs" ]; do
        batch="$batch $1"
        shift
        i=$((i + 1))
    done
    for t in $batch; do
        one_target "$t" &
    done
    wait
    for t in $batch; do
        name=$(basename "$t")
        cat "$FB/findings/.res-$name"
        [ "$(cat "$FB/findings/.rc-$name")" = 0 ] || fail=1
        rm -f "$FB/findings/.res-$name" "$FB/findings/.rc-$name"
    done
done
exit $fail
