#!/usr/bin/env python3
"""labscore.py -- precision and recall of osrca's verdicts on the lab corpus.

usage: labscore.py [--osrca BIN] [--rules DIR] [--min-precision P] [--min-recall R]
                   [--max-duplicates N] [--disputes FILE] [--verbose] RECORDING.truth.json...

Each recording is NAME.pcap.gz (or NAME.pcap) beside NAME.truth.json, the
per-operation ground truth the fault lab (../shared/lab) wrote from the
client side and the service logs, never from osrca. The pcap is analyzed
with `osrca analyze --format json`; its verdicts are scored against the
truth:

- A verdict belongs to the operation owning the first of its request ids
  found in the truth (the verdict's request id, global id, then every id of
  its chain, in order) among the operation's REST calls and its login's
  request id. A verdict with none of them (a refused connection carries no
  id) belongs to the operation that saw that connection refused or
  unanswered (same port, inside the operation's time span), the first such
  operation not yet given a verdict.
- Right: the operation failed, the verdict names its origin service and,
  where the verdict names a host, the right one (host name, else address).
  A verdict naming no host is right only for a service the capture cannot
  show (MariaDB sits on a unix socket: HOSTLESS).
- Wrong: a verdict on an operation that succeeded, naming another service
  or host, or belonging to no operation. A second verdict on the same
  operation is a duplicate (counted, and wrong for precision).
- Operations the truth could not explain (`needs_review`, no origin) are
  left out: the verdicts on them are shown, not scored. So are disputed
  ones: a `server delete --wait` that left the server in ERROR (the CLI
  exits 0, the truth says ok, the lab's own rule for create --wait says
  failed), and those listed with a reason in --disputes (default
  tests/lab/disputes.list).

precision = right / verdicts scored; recall = failed operations with a
right verdict / failed operations scored.

Slow verdicts ("kind":"slow": an operation that succeeded far slower
than usual) are scored apart, against the operations the truth notes
"succeeded but slow" (the lab's rule: over 2 x the median of the same
operation outside fault windows + 10 s). A slow verdict belongs to an
operation by its request ids as above; it is right when that operation is
noted slow and the verdict names the service (and host, as above) of the
fault in effect during it; any other slow verdict is wrong. The truth can
say "slow" only of an operation whose kind also ran outside every fault
window of its recording (the median its rule needs): slow verdicts on the
others, and on failed operations, are left out (counted, not scored). Slow
precision = right / slow verdicts scored; slow recall = noted-slow
operations with a right slow verdict / noted-slow operations.

--baseline-from NAME (repeated) analyzes those fault-free recordings first with
--save-baseline and loads their usual durations (--baseline) into the
analysis of every other recording of the same lab mode: the same verdicts
from the first operation on, as a cloud watched for a while. Exit 1 when a threshold is
missed or a verdict lands on a fault-free recording, 2 on usage errors.
"""
import argparse
import collections
import datetime
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile

HOSTLESS = {'mariadb'}
PORT_RE = re.compile(r'^\w+ https?://[^/ ]*:(\d+)')


def utc(s):
    return datetime.datetime.strptime(s, '%Y-%m-%dT%H:%M:%S.%fZ').replace(
        tzinfo=datetime.timezone.utc).timestamp()


def iso_us(s):
    """osrca's time "2026-12-06T01:43:05.730123Z" to epoch seconds."""
    return datetime.datetime.strptime(s, '%Y-%m-%dT%H:%M:%S.%fZ').replace(
        tzinfo=datetime.timezone.utc).timestamp()


def op_ids(op):
    ids = []
    for c in op.get('http_calls', []):
        parts = c.split()
        if len(parts) >= 4 and parts[3].startswith('req-'):
            ids.append(parts[3])
    for k in ('request_id', 'keystone_auth_request_id'):
        v = op.get(k)
        if v and v.startswith('req-'):
            ids.append(v)
    return ids


def op_broken_ports(op, how):
    """Ports of the calls the client saw fail as one of how: refused
    ('connection_refused', which the CLI also says of a connection the
    server dropped) or left unanswered ('None')."""
    ports = set()
    for c in op.get('http_calls', []):
        parts = c.split()
        if len(parts) >= 3 and parts[2] in how:
            m = PORT_RE.match(c)
            if m:
                ports.add(int(m.group(1)))
    return ports


def verdict_ids(v):
    ids = [v.get('request_id'), v.get('global_request_id'),
           (v.get('session') or {}).get('login_request_id')]
    for n in v.get('chain', []):
        ev = n.get('event', n)
        ids.append(ev.get('request_id'))
        ids.append(ev.get('global_request_id'))
    return [i for i in ids if i]


def verdict_conns(v):
    """(time, port, how the client saw it) of the refused or unanswered
    connections and of the requests left without an answer in the chain."""
    out = []
    for n in v.get('chain', []):
        ev = n.get('event', n)
        if ev.get('kind') == 'conn' and ev.get('conn_event') == 'REFUSED':
            out.append((ev['ts_us'] / 1e6, ev.get('dst', {}).get('port'), ('connection_refused',)))
        elif ev.get('kind') == 'conn' and ev.get('conn_event') == 'UNANSWERED':
            out.append((ev['ts_us'] / 1e6, ev.get('dst', {}).get('port'), ('None', 'connection_refused')))
        elif ev.get('kind') == 'http_response' and 'no_answer' in ev.get('flags', []):
            out.append((ev.get('request_ts_us', ev['ts_us']) / 1e6, ev.get('src', {}).get('port'),
                        ('None', 'connection_refused')))
    return out


def host_ok(v, op):
    rc = v.get('root_cause', {})
    name, addr = rc.get('host_name'), rc.get('addr')
    if name:
        return name == op.get('origin_host')
    if addr:
        return addr == op.get('origin_address')
    return op.get('origin_service') in HOSTLESS


def analyze(osrca, rules, truth_path, workdir, baseline=None, save_baseline=None):
    base = truth_path[:-len('.truth.json')]
    pcap = base + '.pcap'
    if not os.path.exists(pcap):
        gz = base + '.pcap.gz'
        if not os.path.exists(gz):
            raise SystemExit('labscore: no %s.pcap(.gz)' % base)
        pcap = os.path.join(workdir, os.path.basename(base) + '.pcap')
        with gzip.open(gz, 'rb') as f, open(pcap, 'wb') as o:
            o.write(f.read())
    cmd = [osrca, 'analyze', '--format', 'json', pcap]
    if rules:
        cmd[2:2] = ['--rules', rules]
    if baseline:
        cmd[2:2] = ['--baseline', baseline]
    if save_baseline:
        cmd[2:2] = ['--save-baseline', save_baseline]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ, TZ='UTC'))
    if p.returncode not in (0, 1):
        raise SystemExit('labscore: %s exited %d: %s' % (' '.join(cmd), p.returncode,
                                                          p.stderr.decode(errors='replace')[:500]))
    lines = [json.loads(l) for l in p.stdout.decode().splitlines() if l.startswith('{')]
    return lines


def load_disputes(path):
    out = {}
    if not path or not os.path.exists(path):
        return out
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            parts = line.split(None, 2)
            if len(parts) == 3:
                out[(parts[0], parts[1])] = parts[2]
    return out


def score_one(truth, lines, disputes=None, name=''):
    ops = truth['operations']
    for i, o in enumerate(ops):
        o['_i'] = i
        o['_t0'], o['_t1'] = utc(o['start_utc']), utc(o['end_utc'])
    by_id = {}
    for o in ops:
        for rid in op_ids(o):
            by_id.setdefault(rid, o)
    verdicts = [d for d in lines if d.get('type') == 'verdict' and d.get('kind') != 'slow']
    slow_score(truth, ops, by_id, [d for d in lines if d.get('type') == 'verdict' and d.get('kind') == 'slow'],
               r_slow := collections.Counter(), slow_wrong := [])
    incidents = [d for d in lines if d.get('type') == 'incident']
    given = collections.defaultdict(list)
    unattributed = []
    for v in verdicts:
        op = next((by_id[i] for i in verdict_ids(v) if i in by_id), None)
        if op is None:
            # the operation that saw that call fail the same way, begun
            # last before it (a client's failed call ends its operation)
            cands = []
            for t, port, how in verdict_conns(v):
                cands = [o for o in ops if port in op_broken_ports(o, how) and o['_t0'] - 1 <= t <= o['_t1'] + 1]
                if cands:
                    cands.sort(key=lambda o: -o['_t0'] if o['_t0'] <= t else float('inf'))
                    break
            free = [o for o in cands if not given[o['_i']]]
            op = (free or cands or [None])[0]
        if op is None:
            unattributed.append(v)
        else:
            given[op['_i']].append(v)
    r = collections.Counter()
    classes = collections.defaultdict(collections.Counter)
    wrong = []
    for o in ops:
        vs = given.get(o['_i'], [])
        failed = o.get('outcome') == 'failed'
        # a delete --wait that left the server in ERROR exits 0 (the CLI
        # prints "Error deleting server"): the truth says ok where the lab's
        # own rule for create --wait (the final status decides) says failed,
        # with no origin. Such an operation is disputed: left out.
        disputed = (not failed and o.get('operation') == 'server delete'
                    and o.get('server_final_status') == 'ERROR')
        if disputes and (name, '%s#%s' % (o['client'], o['seq'])) in disputes:
            disputed = True
        if disputed:
            r['disputed'] += 1
        review = o.get('needs_review') or (failed and not o.get('origin_service')) or disputed
        cls = o.get('fault_kind') or 'ok' if failed else 'ok'
        k = classes[cls]
        k['ops'] += 1
        r['ops'] += 1
        if failed:
            r['failed'] += 1
            k['failed'] += 1
        if review:
            r['review'] += 1
            k['review'] += 1
            r['unscored_verdicts'] += len(vs)
            continue
        if failed:
            k['scored'] += 1
            r['scored'] += 1
        for j, v in enumerate(vs):
            r['verdicts'] += 1
            k['verdicts'] += 1
            rc = v.get('root_cause', {})
            if j > 0:
                r['duplicates'] += 1
                k['duplicates'] += 1
                wrong.append(('duplicate', o, v))
                continue
            if failed and rc.get('service') == o.get('origin_service') and host_ok(v, o):
                r['right'] += 1
                k['right'] += 1
                k['detected'] += 1
                r['detected'] += 1
            else:
                wrong.append(('on ok operation' if not failed else 'wrong origin', o, v))
        if failed and not vs:
            wrong.append(('missed', o, None))
    for v in unattributed:
        r['verdicts'] += 1
        classes['unattributed']['verdicts'] += 1
        wrong.append(('unattributed', None, v))
    r.update(r_slow)
    wrong.extend(slow_wrong)
    return r, classes, wrong, incidents


def is_noted_slow(o):
    return o.get('outcome') == 'ok' and (o.get('note') or '').startswith('succeeded but slow')


def fault_during(truth, o):
    """The fault in effect while o ran (up to 30 s after it was undone)."""
    for f in truth.get('faults', []):
        t0 = utc(f.get('injected_utc') or f['begin_utc'])
        t1 = utc(f.get('end_utc') or f.get('undo_begin_utc') or f['begin_utc']) + 30
        if o['_t0'] <= t1 and o['_t1'] >= t0:
            return f
    return None


def slow_score(truth, ops, by_id, verdicts, r, wrong):
    given = collections.defaultdict(list)
    for v in verdicts:
        op = next((by_id[i] for i in verdict_ids(v) if i in by_id), None)
        if op is None:
            r['slow_verdicts'] += 1
            wrong.append(('slow unattributed', None, v))
            continue
        given[op['_i']].append(v)
    # the truth can say "slow" only of an operation whose kind also ran
    # outside every fault window (its rule's median): of the others it says
    # nothing either way, and slow verdicts on them are not scored
    judged = {o['operation'] for o in ops
              if o.get('outcome') == 'ok' and not o.get('overlaps_fault_window')}
    for o in ops:
        slow = is_noted_slow(o)
        vs = given.get(o['_i'], [])
        if truth.get('faults') and o['operation'] not in judged:
            r['slow_unscored'] += len(vs)
            continue
        if slow:
            r['slow_ops'] += 1
        if o.get('outcome') != 'ok' or o.get('needs_review') or o.get('server_final_status') == 'ERROR':
            # a failed operation osrca took for a successful one: its
            # failure recall says so; the slow verdict is not scored
            r['slow_unscored'] += len(vs)
            continue
        for j, v in enumerate(vs):
            r['slow_verdicts'] += 1
            rc = v.get('root_cause') or {}
            f = fault_during(truth, o) if slow else None
            if j > 0:
                wrong.append(('slow duplicate', o, v))
            elif slow and f and rc.get('service') == f.get('service') and host_ok(
                    v, {'origin_host': f.get('host'), 'origin_address': f.get('address'),
                        'origin_service': f.get('service')}):
                r['slow_right'] += 1
            else:
                wrong.append(('slow wrong' if slow else 'slow on a usual op', o, v))
        if slow and not vs:
            wrong.append(('slow missed', o, None))


def pct(a, b):
    return '%6.1f%%' % (100.0 * a / b) if b else '     -'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('truth', nargs='+')
    ap.add_argument('--osrca', default='build/osrca')
    ap.add_argument('--rules', default='rules')
    ap.add_argument('--min-precision', type=float, default=None)
    ap.add_argument('--min-recall', type=float, default=None)
    ap.add_argument('--max-duplicates', type=int, default=None)
    ap.add_argument('--min-slow-precision', type=float, default=None)
    ap.add_argument('--min-slow-recall', type=float, default=None)
    ap.add_argument('--disputes', default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      'disputes.list'))
    ap.add_argument('--verbose', '-v', action='store_true')
    ap.add_argument('--lines', metavar='PATTERN',
                    help='score the JSON lines in PATTERN ({name}: the recording\'s name) '
                         'instead of running osrca analyze on its pcap (e.g. a correlator\'s '
                         'output)')
    ap.add_argument('--baseline-from', action='append', default=[], metavar='NAME',
                    help='fault-free recordings whose usual durations (--save-baseline) are '
                         'loaded (--baseline) into the analysis of every other recording of '
                         'the same lab mode')
    a = ap.parse_args()
    disputes = load_disputes(a.disputes)
    total = collections.Counter()
    by_class = collections.defaultdict(collections.Counter)
    fault_free_hits = []
    rows = []
    with tempfile.TemporaryDirectory() as wd:
        baselines = {}
        for name in a.baseline_from:
            tp = next((t for t in a.truth if os.path.basename(t) == name + '.truth.json'), None)
            if not tp:
                raise SystemExit('labscore: --baseline-from %s: not among the recordings' % name)
            with open(tp) as f:
                mode = json.load(f).get('mode', 'single')
            if mode in baselines:
                raise SystemExit('labscore: two --baseline-from recordings of mode %s' % mode)
            baselines[mode] = (name, os.path.join(wd, name + '.baseline.json'))
            analyze(a.osrca, a.rules, tp, wd, save_baseline=baselines[mode][1])
        for tp in a.truth:
            with open(tp) as f:
                truth = json.load(f)
            name = os.path.basename(tp)[:-len('.truth.json')]
            bl = baselines.get(truth.get('mode', 'single'))
            if a.lines:
                with open(a.lines.format(name=name)) as f:
                    lines = [json.loads(l) for l in f if l.startswith('{')]
            else:
                lines = analyze(a.osrca, a.rules, tp, wd,
                                baseline=bl[1] if bl and bl[0] != name else None)
            r, classes, wrong, incidents = score_one(truth, lines, disputes, name)
            rows.append((name, truth.get('scenario', '?'), r, len(incidents)))
            total.update(r)
            for c, k in classes.items():
                by_class[c].update(k)
            if not truth.get('faults') and truth.get('n_failed', 0) == 0 and (
                    r['verdicts'] or r['unscored_verdicts'] or r['slow_verdicts']):
                fault_free_hits.append(name)
            if a.verbose:
                for why, o, v in wrong:
                    desc = '%s #%s %s (%s %s@%s)' % (o['client'], o['seq'], o['operation'], o['outcome'],
                                                   o.get('origin_service'), o.get('origin_host')) if o else '-'
                    vd = ''
                    if v:
                        rc = v.get('root_cause', {})
                        rc = rc or {}
                        vd = '-> %s@%s %s %s [%s]' % (rc.get('service'), rc.get('host'), rc.get('kind'),
                                                     v.get('operation'), v.get('request_id'))
                        if v.get('kind') == 'slow':
                            vd += ' %s' % ((v.get('performance') or {}).get('hop') or {}).get('text')
                    print('  %-22s %-16s %s %s' % (name, why, desc, vd))
    hdr = '%-26s %-20s %5s %6s %6s %8s %5s %5s %4s %10s %8s %9s %5s %5s %5s' % (
        'recording', 'class', 'ops', 'failed', 'review', 'verdicts', 'right', 'wrong', 'dups',
        'precision', 'recall', 'incidents', 'slow', 'sv', 'sright')
    print(hdr)
    print('-' * len(hdr))
    for name, cls, r, ni in rows:
        print('%-26s %-20s %5d %6d %6d %8d %5d %5d %4d %10s %8s %9d %5d %5d %5d' % (
            name, cls, r['ops'], r['failed'], r['review'], r['verdicts'], r['right'],
            r['verdicts'] - r['right'], r['duplicates'], pct(r['right'], r['verdicts']),
            pct(r['detected'], r['scored']), ni, r['slow_ops'], r['slow_verdicts'], r['slow_right']))
    print('-' * len(hdr))
    r = total
    print('%-26s %-20s %5d %6d %6d %8d %5d %5d %4d %10s %8s' % (
        'TOTAL', '%d recordings' % len(rows), r['ops'], r['failed'], r['review'], r['verdicts'],
        r['right'], r['verdicts'] - r['right'], r['duplicates'], pct(r['right'], r['verdicts']),
        pct(r['detected'], r['scored'])))
    print()
    print('%-20s %5s %6s %6s %8s %5s %5s %4s %10s %8s' % ('fault class', 'ops', 'failed', 'review', 'verdicts',
                                                         'right', 'wrong', 'dups', 'precision', 'recall'))
    for c in sorted(by_class):
        k = by_class[c]
        print('%-20s %5d %6d %6d %8d %5d %5d %4d %10s %8s' % (
            c, k['ops'], k['failed'], k['review'], k['verdicts'], k['right'], k['verdicts'] - k['right'],
            k['duplicates'], pct(k['right'], k['verdicts']), pct(k['detected'], k['scored'])))
    prec = r['right'] / r['verdicts'] if r['verdicts'] else 1.0
    rec = r['detected'] / r['scored'] if r['scored'] else 1.0
    print()
    print('score: precision=%.4f recall=%.4f verdicts=%d right=%d failed_scored=%d detected=%d duplicates=%d '
          'unscored_verdicts=%d disputed=%d fault_free_with_verdicts=%d' % (
              prec, rec, r['verdicts'], r['right'], r['scored'], r['detected'], r['duplicates'],
              r['unscored_verdicts'], r['disputed'], len(fault_free_hits)))
    sprec = r['slow_right'] / r['slow_verdicts'] if r['slow_verdicts'] else 1.0
    srec = r['slow_right'] / r['slow_ops'] if r['slow_ops'] else 1.0
    print('slow: precision=%.4f recall=%.4f slow_ops=%d slow_verdicts=%d right=%d unscored=%d' % (
        sprec, srec, r['slow_ops'], r['slow_verdicts'], r['slow_right'], r['slow_unscored']))
    bad = []
    if a.min_slow_precision is not None and sprec < a.min_slow_precision:
        bad.append('slow precision %.4f < %.4f' % (sprec, a.min_slow_precision))
    if a.min_slow_recall is not None and srec < a.min_slow_recall:
        bad.append('slow recall %.4f < %.4f' % (srec, a.min_slow_recall))
    if a.min_precision is not None and prec < a.min_precision:
        bad.append('precision %.4f < %.4f' % (prec, a.min_precision))
    if a.min_recall is not None and rec < a.min_recall:
        bad.append('recall %.4f < %.4f' % (rec, a.min_recall))
    if a.max_duplicates is not None and r['duplicates'] > a.max_duplicates:
        bad.append('duplicates %d > %d' % (r['duplicates'], a.max_duplicates))
    if fault_free_hits:
        bad.append('verdicts on fault-free recordings: %s' % ' '.join(fault_free_hits))
    for (rec, op), why in sorted(disputes.items()):
        if any(n == rec for n, _, _, _ in rows):
            print('disputed: %s %s: %s' % (rec, op, why))
    for b in bad:
        print('labscore: FAIL: ' + b, file=sys.stderr)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
