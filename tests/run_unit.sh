#!/bin/sh
# run_unit.sh -- run each Check test binary; summarise; fail if any failed.
pass=0; fail=0
for t in "$@"; do
    if TZ=UTC CK_VERBOSITY=${CK_VERBOSITY:-normal} "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "unit: FAILED $t"; fi
done
echo "unit: $pass suites passed, $fail failed"
[ "$fail" = 0 ]
