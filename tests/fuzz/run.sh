#!/bin/sh
# run.sh SECONDS TARGET... -- run each libFuzzer target for SECONDS with its
# corpus in tests/fuzz/corpus-<target>/ (seeded by tests/fuzz/seeds.py when
# tshark is there). Prints executions per target; a crash fails the run and
# leaves crash-* files in the current directory.
set -u
secs=$1; shift
dir=tests/fuzz
if command -v tshark >/dev/null 2>&1 && command -v python3 >/dev/null 2>&1 &&
   [ ! -d "$dir/corpus-seeds" ]; then
    python3 "$dir/seeds.py" "$dir/corpus-seeds" || true
fi
fail=0
for t in "$@"; do
    name=$(basename "$t")
    corpus="$dir/corpus-$name"
    mkdir -p "$corpus"
    seeds="$dir/corpus-seeds/$name"
    [ -d "$seeds" ] || seeds=""
    log="$dir/corpus-$name.log"
    # shellcheck disable=SC2086
    "$t" -max_total_time="$secs" -rss_limit_mb=4096 -print_final_stats=1 "$corpus" $seeds >"$log" 2>&1
    rc=$?
    runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
    if [ "$rc" = 0 ]; then
        echo "fuzz: $name: ${runs:-?} executions in ${secs}s, no finding"
    else
        echo "fuzz: $name: FAILED (exit $rc), see $log"; fail=1
    fi
done
exit $fail
