#!/bin/bash
# live_test.sh -- end-to-end test of `osrca live` on a veth pair between two
# network namespaces (run by hand, as root: `sudo tests/live_test.sh`).
#
# Nothing touches the root namespace's addresses or routes: the two
# namespaces get 10.199.0.1/30 and 10.199.0.2/30 on a private veth pair, and
# all traffic (tcpreplay frames, webhook, HTTP) stays inside them. The
# bundled pcaps are replayed with tcpreplay from namespace A; osrca live
# listens on the peer in namespace B. Checks: verdicts equal `osrca analyze`
# (operation, request_id, root_cause.service), verdict latency, SIGHUP
# reopen of --output, privilege drop, webhook (with one injected 503 to
# exercise retries), /metrics, /verdicts, annotate, and a 30 s flood.
#
# Speed: frames are replayed at SPEED x (default 5) so the whole set takes
# about a minute; RPC call timeouts stay meaningful because osrca measures
# them on the receive time stamps: a call that is never answered is still
# waited for its full `_timeout` (60 s), in real time, and its verdict must
# appear within ~1 s of its deadline (+ the analyzer's settle time).
# Env: OSRCA (binary), SPEED, PCAPS (space separated list), FLOOD_SECS (30),
# FLOOD=0 skips the
# flood check. Every wait is bounded; namespaces are removed on exit.
set -u
cd "$(dirname "$0")/.."
OSRCA=${OSRCA:-$PWD/build/osrca}
SPEED=${SPEED:-5}
PCAPS=${PCAPS:-$(ls testdata/*.pcap)}
NSA=osrcaA$$ NSB=osrcaB$$
T=$(mktemp -d /tmp/osrca-live.XXXXXX)
FAIL=0
RULES=$PWD/rules

say() { printf '== %s\n' "$*"; }
bad() { printf 'FAIL: %s\n' "$*"; FAIL=$((FAIL + 1)); }
ok() { printf 'ok: %s\n' "$*"; }

cleanup() {
    for p in "${OSRCA_PID:-}" "${RECV_PID:-}" "${FLOOD_PID:-}"; do
        [ -n "$p" ] && kill "$p" 2>/dev/null
    done
    ip netns del "$NSA" 2>/dev/null
    ip netns del "$NSB" 2>/dev/null
    [ "${KEEP:-0}" = 1 ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 3' INT TERM

[ "$(id -u)" = 0 ] || { echo "live_test.sh: needs root (network namespaces)"; exit 2; }
for t in ip tcpreplay python3 curl "$OSRCA"; do
    command -v "$t" >/dev/null || { echo "live_test.sh: missing $t"; exit 2; }
done

say "root namespace before (must be unchanged afterwards)"
ip -4 addr; ip route
ip -4 addr >"$T/root_addr.before"; ip route >"$T/root_route.before"

say "namespaces $NSA <-> $NSB, veth, 10.199.0.0/30"
ip netns add "$NSA" && ip netns add "$NSB" || exit 2
ip link add vA netns "$NSA" type veth peer name vB netns "$NSB" || exit 2
for ns in "$NSA" "$NSB"; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    ip -n "$ns" link set lo up
done
# the pcaps were taken on loopback: frames up to ~14 KB need a large MTU
ip -n "$NSA" link set vA mtu 65535 up
ip -n "$NSB" link set vB mtu 65535 up
ip -n "$NSA" addr add 10.199.0.1/30 dev vA
ip -n "$NSB" addr add 10.199.0.2/30 dev vB
chmod 755 "$T"; mkdir -p "$T/out"; chown nobody "$T/out"

# wait_for CMD... : up to 20 s
wait_for() { for _ in $(seq 1 100); do "$@" && return 0; sleep 0.2; done; return 1; }

say "webhook receiver on 127.0.0.1:18080 inside $NSB (first POST answered 503)"
cat >"$T/recv.py" <<'PY'
import http.server, sys
out = sys.argv[1]
state = {"n": 0}
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(min(n, 64 << 20))
        state["n"] += 1
        code = 503 if state["n"] == 1 else 200
        if code == 200:
            with open(out, "ab") as f:
                f.write(body + b"\n")
        self.send_response(code); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", 18080), H).serve_forever()
PY
ip netns exec "$NSB" timeout 900 python3 "$T/recv.py" "$T/webhook.jsonl" &
RECV_PID=$!

say "osrca live in $NSB"
ip netns exec "$NSB" timeout 900 "$OSRCA" live -i vB --rules "$RULES" --format json \
    --output "$T/out/verdicts.jsonl" --listen 10.199.0.2:9108 \
    --webhook http://127.0.0.1:18080/hook --status-interval 10 -w "$T/out/raw.pcap" \
    >"$T/live.stdout" 2>"$T/live.stderr" &
OSRCA_PID=$!   # ip netns exec execs timeout: this is timeout's pid
wait_for ip netns exec "$NSB" curl -sf -o /dev/null http://10.199.0.2:9108/metrics \
    || { bad "osrca live did not come up"; cat "$T/live.stderr"; exit 1; }
LIVE_PID=$(pgrep -P "$OSRCA_PID" -f "osrca live" | head -1)
LIVE_PID=${LIVE_PID:-$OSRCA_PID}
ps -o user=,pid=,args= -p "$LIVE_PID"
[ "$(ps -o user= -p "$LIVE_PID" | tr -d ' ')" = nobody ] && ok "privileges dropped to nobody" \
    || bad "osrca live is not running as nobody"
grep -q '^CapEff:[[:space:]]*0*$' "/proc/$LIVE_PID/status" && ok "no effective capabilities" \
    || bad "effective capabilities left: $(grep CapEff /proc/$LIVE_PID/status)"

set -- $PCAPS
half=$(( ($# + 1) / 2 )); i=0
T0=$(date +%s)
for p in "$@"; do
    i=$((i + 1))
    if [ "$i" = $((half + 1)) ]; then
        say "rotate --output and SIGHUP"
        mv "$T/out/verdicts.jsonl" "$T/out/verdicts.jsonl.1"
        kill -HUP "$LIVE_PID"
        wait_for test -e "$T/out/verdicts.jsonl" && ok "SIGHUP reopened --output" \
            || bad "--output not recreated after SIGHUP"
    fi
    printf 'replay %s at %sx: ' "$p" "$SPEED"
    ip netns exec "$NSA" timeout 120 tcpreplay -q -i vA -x "$SPEED" "$p" 2>&1 \
        | grep -E 'Actual|Failed' | tr '\n' ' '; echo
    sleep 1
done
say "replay done in $(( $(date +%s) - T0 )) s; waiting for verdicts to settle (at most 100 s)"
expected=$(for p in "$@"; do "$OSRCA" analyze --rules "$RULES" --format json "$p" \
    | grep -c '"type":"verdict"'; done | awk '{s += $1} END {print s}')
for _ in $(seq 1 100); do
    n=$(cat "$T/out/verdicts.jsonl.1" "$T/out/verdicts.jsonl" 2>/dev/null | grep -c '"verdict"')
    [ "$n" -ge "$expected" ] && break
    sleep 1
done
say "verdicts so far: $n of $expected expected from analyze"

say "/metrics (selection)"
ip netns exec "$NSB" curl -s --max-time 5 http://10.199.0.2:9108/metrics >"$T/metrics"
grep -E '^osrca_(packets_total|verdicts_total|messages_total|open_chains|decode_errors|capture_drops|webhook_total)' "$T/metrics"
grep -q '^# TYPE osrca_verdicts_total counter' "$T/metrics" && ok "/metrics exposition format" \
    || bad "/metrics: no TYPE line"
say "/verdicts"
ip netns exec "$NSB" curl -s --max-time 5 http://10.199.0.2:9108/verdicts >"$T/verdicts.json"
python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); print(len(a), "verdicts:", [v["request_id"] for v in a])' "$T/verdicts.json" \
    && ok "/verdicts is a JSON array" || bad "/verdicts not JSON"
uuid=37308832-ef62-48b2-b227-4541f3912c4f
nr=$(ip netns exec "$NSB" curl -s --max-time 5 "http://10.199.0.2:9108/verdicts?resource=$uuid" \
    | python3 -c 'import json,sys; a=json.load(sys.stdin); print(len(a), *[v["request_id"] for v in a])')
echo "resource=$uuid -> $nr"
case "$nr" in 1\ req-210a3d72*) ok "/verdicts?resource filter" ;; *) bad "/verdicts?resource: $nr" ;; esac
nf=$(ip netns exec "$NSB" curl -s --max-time 5 "http://10.199.0.2:9108/verdicts?since=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)")
[ "$nf" = "[]" ] && ok "/verdicts?since=<future> is empty" || bad "/verdicts?since future: $nf"
ns=$(ip netns exec "$NSB" curl -s --max-time 5 "http://10.199.0.2:9108/verdicts?since=$T0" \
    | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
echo "since=$T0 (epoch) -> $ns verdicts"
code=$(ip netns exec "$NSB" curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://10.199.0.2:9108/verdicts?since=yesterday")
[ "$code" = 400 ] && ok "bad since -> 400" || bad "bad since -> $code"

say "annotate --from the live endpoint"
ip netns exec "$NSB" "$OSRCA" annotate --from http://10.199.0.2:9108 \
    <testdata/alertmanager_sample.json >"$T/annotated_live.json" 2>"$T/annotate.err"
cat "$T/annotate.err"
grep -E '"osrca_(root_cause|request_id|match)"' "$T/annotated_live.json"

say "SIGINT"
kill -INT "$LIVE_PID"
for _ in $(seq 1 100); do kill -0 "$LIVE_PID" 2>/dev/null || break; sleep 0.2; done
wait "$OSRCA_PID"; rc=$?
[ "$rc" = 0 ] && ok "osrca live exit 0 after SIGINT" || bad "osrca live exit $rc"
OSRCA_PID=
tail -1 "$T/live.stdout" | grep -q '"type":"summary"' && ok "summary printed" || bad "no summary"
say "osrca live stderr"
cat "$T/live.stderr"
tail -1 "$T/live.stdout" | python3 -c 'import json,sys; s=json.load(sys.stdin); c=s["counters"]; print("summary:", {k: s[k] for k in ("operations","failed","ok","open_chains")}, {k: v for k, v in c.items() if k.startswith(("webhook","capture"))})'

say "live verdicts vs osrca analyze (operation, request_id, root_cause.service)"
cat "$T/out/verdicts.jsonl.1" "$T/out/verdicts.jsonl" | grep '"type":"verdict"' >"$T/live_verdicts.jsonl"
cmp -s <(grep '"type":"verdict"' "$T/live.stdout") "$T/live_verdicts.jsonl" \
    && ok "--output (both files) == stdout verdicts" || bad "--output differs from stdout"
for p in "$@"; do "$OSRCA" analyze --rules "$RULES" --format json "$p"; done \
    | grep '"type":"verdict"' >"$T/analyze_verdicts.jsonl"
key='import json,sys
for l in open(sys.argv[1]):
    v=json.loads(l); rc=v.get("root_cause") or {}
    print(v["operation"], v["request_id"], rc.get("service"), rc.get("kind"))'
python3 -c "$key" "$T/analyze_verdicts.jsonl" | sort >"$T/a.keys"
python3 -c "$key" "$T/live_verdicts.jsonl" | sort >"$T/l.keys"
if cmp -s "$T/a.keys" "$T/l.keys"; then ok "same $(wc -l <"$T/a.keys") verdicts as analyze"
else bad "verdicts differ (< analyze, > live)"; diff "$T/a.keys" "$T/l.keys"; fi
cat "$T/l.keys"

say "verdict latency"
# decided-at clock vs deadline: for an RPC timeout the deadline is the call
# time + its _timeout; the analyzer then waits settle (10 s) of quiet.
python3 - "$T/live_verdicts.jsonl" "$T/live.stderr" <<'PY'
import json, re, sys, datetime
def t(s): return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
lines = {}
for l in open(sys.argv[2]):
    m = re.match(r"osrca live: verdict (\S+) decided at clock (\S+) \(([\d.]+) s after its last message\), output (-?[\d.]+) s", l)
    if m: lines[m.group(1)] = (t(m.group(2)), float(m.group(3)), float(m.group(4)))
worst = 0
for l in open(sys.argv[1]):
    v = json.loads(l); rid = v["request_id"] or v["operation"]
    if rid not in lines: continue
    clock, after_last, out = lines[rid]
    worst = max(worst, out)
    msg = f"{rid}: decided {after_last:.2f} s after its last message, printed {out*1000:.1f} ms after the deciding clock"
    rc = v.get("root_cause") or {}
    if rc.get("kind") == "rpc_timeout":
        call = [n["event"] for n in v["chain"] if n["event"].get("seq") == rc.get("seq")]
        to = call[0].get("timeout_s") if call else None
        if to and to > 0:
            dl = t(rc["time"]) + to
            msg += f"; rpc deadline {to} s after the call, decided {clock - dl:+.2f} s from the deadline"
    print(msg)
print(f"worst output delay {worst*1000:.1f} ms")
PY

say "webhook"
sleep 1
nw=$(grep -c '"verdict"' "$T/webhook.jsonl" 2>/dev/null || echo 0)
nl=$(wc -l <"$T/live_verdicts.jsonl")
echo "webhook received $nw of $nl verdicts"
[ "$nw" = "$nl" ] && ok "every verdict POSTed (after one 503 + retry)" || bad "webhook got $nw of $nl"
grep -q '"webhook.retries":[1-9]' "$T/live.stdout" && ok "webhook.retries counted" || bad "no webhook retry counted"

say "-w raw.pcap"
n=$("$OSRCA" flows --rules "$RULES" --json "$T/out/raw.pcap" 2>/dev/null | tail -1 \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["counters"].get("capture.packets",0))')
echo "raw.pcap holds $n packets"; [ "${n:-0}" -gt 0 ] && ok "-w wrote packets" || bad "-w empty"

say "annotate --verdicts (offline verdicts of the same captures)"
"$OSRCA" annotate --verdicts "$T/analyze_verdicts.jsonl" <testdata/alertmanager_sample.json \
    >"$T/annotated.json" || bad "annotate failed"
python3 - "$T/annotated.json" <<'PY' || FAIL=$((FAIL + 1))
import json, sys
p = json.load(open(sys.argv[1]))
got = [(a["labels"]["alertname"], a["annotations"].get("osrca_match"),
        a["annotations"].get("osrca_request_id"), a["annotations"].get("osrca_category")) for a in p["alerts"]]
for g in got: print(*g)
assert got[0][1:3] == ("resource", "req-210a3d72-a6d6-47a2-87ee-367c8ba0d0a7"), got[0]
assert got[1][1:3] == ("service", "req-9e93f5a6-dfba-474d-be96-52663ed4de2e"), got[1]
assert got[2][1] is None, got[2]
print("ok: annotate matched by resource, by service+time, and left the unrelated alert alone")
PY

if [ "${FLOOD:-1}" = 1 ]; then
    FS=${FLOOD_SECS:-30}
    say "flood: tcpreplay --topspeed --loop for $FS s"
    ip netns exec "$NSB" timeout $((FS + 90)) "$OSRCA" live -i vB --rules "$RULES" --format json \
        --status-interval 5 --user nobody >"$T/flood.stdout" 2>"$T/flood.stderr" &
    OSRCA_PID=$!
    sleep 1
    FPID=$(pgrep -P "$OSRCA_PID" -f "osrca live" | head -1)
    ip netns exec "$NSA" timeout "$FS" tcpreplay -q -i vA --topspeed --loop=1000000 \
        testdata/s2a_server_create_delete_ok.pcap >/dev/null 2>&1 &
    FLOOD_PID=$!
    s=0
    while [ "$s" -lt "$FS" ]; do
        sleep 5; s=$((s + 5))
        echo "t=${s}s $(grep VmRSS /proc/$FPID/status 2>/dev/null)"
    done
    wait "$FLOOD_PID"; FLOOD_PID=
    kill -0 "$FPID" 2>/dev/null && ok "osrca live survived the flood" || bad "osrca live died in the flood"
    sleep 1; echo "after flood $(grep VmRSS /proc/$FPID/status 2>/dev/null)"
    kill -INT "$FPID"; wait "$OSRCA_PID"; rc=$?; OSRCA_PID=
    [ "$rc" = 0 ] && ok "flood run exit 0" || bad "flood run exit $rc"
    grep -E 'pkt/s|stopped' "$T/flood.stderr"
    tail -1 "$T/flood.stdout" | python3 -c 'import json,sys; s=json.load(sys.stdin); c=s["counters"]; print("flood summary:", {k: s[k] for k in ("operations","failed","ok","open_chains","evicted")}, {k: v for k, v in c.items() if k.startswith(("capture","flow.evicted","flow.peak","reasm.gap"))})'
fi

say "root namespace after"
ip -4 addr >"$T/root_addr.after"; ip route >"$T/root_route.after"
cmp -s "$T/root_addr.before" "$T/root_addr.after" && cmp -s "$T/root_route.before" "$T/root_route.after" \
    && ok "root namespace addresses and routes unchanged" || bad "root namespace changed"
echo "live_test.sh: $FAIL failure(s)"
[ "$FAIL" = 0 ]
