#!/bin/sh
# selftest.sh -- the benchmark's own tools, tested (make benchcheck, part of
# make check): the figures `make bench` prints are only as good as the
# generator that builds its captures and the scorer that grades the
# verdicts.
#
#   1. score on a hand-made truth file and hand-made verdict lines, each
#      case with its answer worked out by hand (true positive, fault-free
#      copy, wrong service, wrong host, unattributable, attributed by client
#      port and time, a chain mixing copies, a copy cut by --warm, lines that
#      are not verdicts, lines that are not JSON); and its usage errors.
#   2. gen: the same seed gives the same bytes, another seed other bytes;
#      every copy in the truth file; each copy has its own tokens.
#   3. accuracy under concurrency at CI size: gen -> osrca analyze -> score
#      for three seeds (two --warm, one at 200 in flight), precision and
#      recall >= 99 %.
#   4. cputime: the command's exit status passes through; one line written.
#
# Environment: OSRCA (the analyzer), BIN (where gen, score and cputime are
# built; the Makefile builds them with the analyzer's flags).
set -u
OSRCA=${OSRCA:-./build/osrca}
BIN=${BIN:-build/bench}
T=$(mktemp -d "${TMPDIR:-/tmp}/osrca-benchcheck.XXXXXX") || exit 2
trap 'rm -rf "$T"' EXIT INT TERM
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "benchcheck: FAILED $*"; }
# expect NAME FILE LINE: FILE has LINE exactly (a whole line)
expect() {
    if grep -qxF "$3" "$2"; then ok; else
        bad "$1: no line '$3' in:"; sed 's/^/    /' "$2"
    fi
}

# ---- 1. the scorer ------------------------------------------------------
# truth: index, template, service, host, kind, start, ids[, flows[, cut]]
tab=$(printf '\t')
{
    echo "# index template service host kind start ids flows"
    echo "0${tab}a.pcap${tab}nova-compute${tab}compute-1${tab}rpc${tab}0${tab}req-a0,req-a1"
    echo "1${tab}ok.pcap${tab}-${tab}-${tab}-${tab}0${tab}req-b0"
    echo "2${tab}g.pcap${tab}glance-api${tab}-${tab}http${tab}0${tab}-${tab}40000:100:200"
    echo "3${tab}a.pcap${tab}nova-compute${tab}compute-2${tab}rpc${tab}0${tab}req-d0${tab}-${tab}cut"
    echo "4${tab}k.pcap${tab}keystone${tab}ctl-1${tab}http${tab}0${tab}req-e0"
    echo "5${tab}k.pcap${tab}keystone${tab}ctl-1${tab}http${tab}0${tab}req-f0"
} >"$T/truth"
v() { # request_id service host [chain json]
    printf '{"type":"verdict","request_id":"%s","root_cause":{"service":"%s","host":"%s"},"chain":[%s]}\n' \
        "$1" "$2" "$3" "${4:-}"
}
{
    v req-a0 nova-compute compute-1                 # tp, copy 0
    v req-b0 nova-api ctl-1                         # fp: fault-free copy 1
    v "" glance-api ctl-9 \
        '{"event":{"ts_us":150,"src":{"port":40000},"dst":{"port":9292}}}' # tp by flow, copy 2
    v req-e0 keystone ctl-2                         # fp: wrong host, copy 4
    v req-f0 glance-api ctl-1                       # fp: wrong service, copy 5
    v req-zz nova-api ctl-1                         # fp: unattributable
    v req-d0 nova-compute compute-2                 # cut copy 3: not scored
    v "" nova-compute compute-1 \
        '{"event":{"request_id":"req-a1"}},{"event":{"global_request_id":"req-b0"}}' # tp, mixes
    echo '{"type":"summary","operations":9}'
    echo 'not json'
} >"$T/verdicts"
if "$BIN/score" "$T/truth" "$T/verdicts" >"$T/out" 2>"$T/err"; then ok; else bad "score exit $?"; fi
expect score "$T/out" "score: copies=5 faulty=4 detected=2"
expect score "$T/out" "score: cut copies (began before the capture, not scored)=1, verdicts on them: their service@host 1, another 0, on a fault-free one 0"
expect score "$T/out" "score: verdicts=7 tp=3 fp=4 (fault-free copy 1, wrong service 1, wrong host 1, unattributable 1)"
expect score "$T/out" "score: chains mixing copies=1 attributed by port+time only=1 unparsable lines=1"
expect score "$T/out" "score: precision=0.4286 recall=0.5000 verdicts=7 tp=3 faulty=4 detected=2"
# per template: a.pcap has one scored copy (3 is cut), two verdicts, both right
if grep -Eq '^a\.pcap +1 +1 +2 +2 +0 +100\.00%' "$T/out"; then ok; else bad "score: a.pcap row"; cat "$T/out"; fi
if grep -Eq '^k\.pcap +2 +2 +2 +0 +2 +0\.00%  keystone@ctl-2 x1 glance-api@ctl-1 x1$' "$T/out"; then ok
else bad "score: k.pcap row"; cat "$T/out"; fi
# usage and read errors: exit 2 with a message
"$BIN/score" "$T/truth" >/dev/null 2>&1; [ $? = 2 ] && ok || bad "score: usage not exit 2"
"$BIN/score" "$T/none" "$T/verdicts" >/dev/null 2>"$T/err"; rc=$?
[ $rc = 2 ] && grep -q 'none' "$T/err" && ok || bad "score: missing truth: exit $rc"
printf '0\tx.pcap\tnova-api\n' >"$T/short"
"$BIN/score" "$T/short" "$T/verdicts" >/dev/null 2>"$T/err"; rc=$?
[ $rc = 2 ] && grep -q 'short:1: expected 7 tab-separated fields' "$T/err" && ok ||
    bad "score: short truth line: exit $rc: $(cat "$T/err")"

# ---- 2. the generator is deterministic ------------------------------------
gen() { # out seed [options: --bytes 3M --concurrency 60 by default]
    o=$1; s=$2; shift 2
    "$BIN/gen" -o "$o" --bytes 3M --seed "$s" --concurrency 60 --faulty-ratio 0.5 "$@" \
        2>"$o.gen" || { bad "gen -o $o --seed $s $*: $(tail -n 3 "$o.gen")"; return 1; }
}
gen "$T/g1a.pcap" 7 && gen "$T/g1b.pcap" 7 && gen "$T/g2.pcap" 8 && {
    cmp -s "$T/g1a.pcap" "$T/g1b.pcap" && cmp -s "$T/g1a.truth" "$T/g1b.truth" && ok ||
        bad "gen: seed 7 twice gave different output"
    cmp -s "$T/g1a.pcap" "$T/g2.pcap" && bad "gen: seeds 7 and 8 gave the same capture" || ok
    copies=$(grep -vc '^#' "$T/g1a.truth")
    [ "$copies" -ge 12 ] && ok || bad "gen: only $copies copies in 3 MB"
}

# each copy its own tokens: two copies of a template hold twice its tokens,
# each as often as in the template
toks() { grep -ao 'gAAAAA[A-Za-z0-9_-]*' "$1" | sort | uniq -c | awk '{print $1}' | sort -n | tr '\n' ' '; }
if "$BIN/gen" -o "$T/two.pcap" --copies 2 --mix s2a_server_create_delete_ok=1 2>"$T/two.gen"; then
    t1=$(toks testdata/s2a_server_create_delete_ok.pcap)
    t2=$(toks "$T/two.pcap")
    want=$(for n in $t1; do echo "$n"; echo "$n"; done | sort -n | tr '\n' ' ')
    [ -n "$t1" ] && [ "$t2" = "$want" ] && ok || bad "gen: tokens per copy: template '$t1', two copies '$t2'"
else
    bad "gen --copies 2: $(tail -n 3 "$T/two.gen")"
fi

# ---- 3. accuracy under concurrency ----------------------------------------
accuracy() { # name seed [gen options]
    n=$1; s=$2; shift 2
    gen "$T/$n.pcap" "$s" "$@" || return
    "$OSRCA" analyze "$T/$n.pcap" --format json >"$T/$n.json" 2>"$T/$n.err" ||
        { bad "$n: osrca analyze exit $?: $(tail -n 3 "$T/$n.err")"; return; }
    "$BIN/score" "$T/$n.truth" "$T/$n.json" >"$T/$n.score" 2>&1 || { bad "$n: score failed"; return; }
    line=$(grep '^score: precision=' "$T/$n.score")
    echo "benchcheck: $n (seed $s $*): ${line#score: }"
    echo "$line" | awk '{
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        exit !(v["precision"] >= 0.99 && v["recall"] >= 0.99 && v["verdicts"] >= 5) }' &&
        ok || { bad "$n: below 99 % or too few verdicts"; cat "$T/$n.score"; }
}
accuracy cold 11 --bytes 5M
# --warm cuts the copies running when the capture begins (over the longest
# template's length): 10 MB at 20 in flight leaves ~25 faulty copies whole
accuracy warm 12 --bytes 10M --concurrency 20 --warm
# 200 in flight, half faulty: the memory of reported failures (resources
# in ERROR, operations' request ids) must not forget what is still polled
# (a ring flooded by every request id of each failed chain once read 92 %)
accuracy busy 13 --bytes 60M --concurrency 200 --warm

# ---- 4. cputime --------------------------------------------------------------
"$BIN/cputime" -o "$T/ct" sh -c 'exit 3'; rc=$?
[ $rc = 3 ] && [ "$(wc -l <"$T/ct")" -eq 1 ] && ok || bad "cputime: exit $rc"
"$BIN/cputime" -o "$T/ct" true && awk 'NF == 4 && $1 >= 0 && $4 > 0 { f = 1 } END { exit !f }' "$T/ct" &&
    ok || bad "cputime: line '$(cat "$T/ct")'"

echo "benchcheck: $pass passed, $fail failed"
[ "$fail" = 0 ]
