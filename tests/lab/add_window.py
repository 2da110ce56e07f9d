#!/usr/bin/env python3
"""add_window.py TRUTH --host HOST --begin UTC --end UTC [options]

Adds to a lab truth (NAME.truth.json, written by the fault lab's truth.py)
a fault window the lab cannot inject itself, and labels the operations
again for it. record.sh calls it for the list lines with --shape: the
link of HOST rate-limited (tc tbf on eth0 inside its namespace, the
stand-in for a `netem delay` this machine's kernel lacks) while the lab
ran the scenario; the lab knows nothing of it, so its truth has no such
fault and no slow note for it.

What it does, in place (or into --out):

- appends to `faults` one record with the field names of the lab's own
  fault records: kind (default `network_slow`), action (`shape`), target
  (HOST), service (default `nova-compute`), host, address (from the
  truth's `hosts`), begin_utc (the tc command started), injected_utc (it
  returned), undo_begin_utc, end_utc (the qdisc removal returned),
  undone_by (`record.sh --shape`); `detail` says what was applied;
- appends to `events` two `fault` records (begin and done of the shape,
  and of its removal) marked `"by": "add_window.py"` (they are not in the
  run's events.jsonl);
- sets `overlaps_fault_window` on every operation that ran while any
  fault of the truth was in effect or up to 30 s after it was undone (the
  lab README's definition: from the fault's begin_utc to its end_utc +
  30 s);
- notes `succeeded but slow (N s, median M s outside fault windows)` on
  the operations that have no note yet, with the rule of the lab's
  truth.py (`slow_notes`), reimplemented here: an ok operation that
  overlaps a fault window and lasted more than 2 x the median duration of
  the ok operations of the same kind that overlap no fault window, + 10 s.
  This mirrors truth.py's rule for a fault the lab cannot inject; if
  truth.py's rule changes, change this one with it. Notes already there
  (the lab's own, `the scenario expected ...`) are kept.

Failed operations are not classified again: a failure during the window
keeps the lab's labels (no origin, needs_review), and deserves a look.
Rebuilding the truth with `lab truth` drops the window: run this again.
"""
import argparse
import datetime
import json
import statistics
import sys

GRACE_S = 30           # the lab's grace after a fault was undone (truth.py GRACE_S)


def epoch(s):
    return datetime.datetime.strptime(s, '%Y-%m-%dT%H:%M:%S.%fZ').replace(
        tzinfo=datetime.timezone.utc).timestamp()


def utc_arg(s):
    epoch(s)           # same format as the lab: 2026-12-06T05:33:22.123Z
    return s


def in_window(op, f):
    """op ran between the fault's begin and its end + the grace"""
    end = f.get('end_utc') or f.get('undo_begin_utc') or f['begin_utc']
    return epoch(op['start_utc']) <= epoch(end) + GRACE_S and epoch(op['end_utc']) >= epoch(f['begin_utc'])


def label(truth):
    faults = truth.get('faults') or []
    ops = truth.get('operations', [])
    for op in ops:
        if any(in_window(op, f) for f in faults):
            op['overlaps_fault_window'] = True
    if not faults:
        return []
    usual = {}
    for op in ops:
        if op.get('outcome') == 'ok' and not op.get('overlaps_fault_window'):
            usual.setdefault(op['operation'], []).append(op['duration_s'])
    noted = []
    for op in ops:
        if op.get('note') or op.get('outcome') != 'ok' or not op.get('overlaps_fault_window'):
            continue
        base = usual.get(op['operation'])
        if not base:
            continue
        med = statistics.median(base)
        if op['duration_s'] > 2 * med + 10:
            op['note'] = 'succeeded but slow (%.0f s, median %.0f s outside fault windows)' % (
                op['duration_s'], med)
            noted.append(op)
    return noted


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('truth')
    ap.add_argument('--host', required=True, help='the lab host whose link was shaped (compute-2)')
    ap.add_argument('--begin', required=True, type=utc_arg, help='UTC the shaping began (tc started)')
    ap.add_argument('--injected', type=utc_arg, help='UTC the shaping was in place (tc returned)')
    ap.add_argument('--undo-begin', type=utc_arg, help='UTC the removal began')
    ap.add_argument('--end', required=True, type=utc_arg, help='UTC the shaping was removed')
    ap.add_argument('--kind', default='network_slow')
    ap.add_argument('--action', default='shape')
    ap.add_argument('--service', default='nova-compute')
    ap.add_argument('--undone-by', default='record.sh --shape')
    ap.add_argument('--detail', help='what was applied, e.g. the tc command')
    ap.add_argument('--out', help='write here instead of in place')
    a = ap.parse_args()
    if epoch(a.end) < epoch(a.begin):
        sys.exit('add_window: --end before --begin')
    with open(a.truth) as f:
        truth = json.load(f)
    hosts = truth.get('hosts') or {}
    if a.host not in hosts:
        sys.exit('add_window: no host %s in the truth (%s)' % (a.host, ', '.join(hosts)))
    w = dict(kind=a.kind, action=a.action, target=a.host, service=a.service, host=a.host,
             address=hosts[a.host], begin_utc=a.begin, injected_utc=a.injected or a.begin,
             undo_begin_utc=a.undo_begin or a.end, end_utc=a.end, undone_by=a.undone_by)
    if a.detail:
        w['detail'] = a.detail
    if any(f.get('action') == w['action'] and f.get('target') == w['target'] and f.get('begin_utc') == w['begin_utc']
           for f in truth.get('faults') or []):
        sys.exit('add_window: %s already has this window' % a.truth)
    truth.setdefault('faults', []).append(w)
    ev = truth.setdefault('events', [])
    t0 = next((e for e in ev if e.get('event') == 'start'), None)

    def rel(s):
        return round(epoch(s) - epoch(t0['time_utc']), 3) if t0 else None
    for t, action, phase in ((w['begin_utc'], a.action, 'begin'), (w['injected_utc'], a.action, 'done'),
                             (w['undo_begin_utc'], 'un' + a.action, 'begin'), (w['end_utc'], 'un' + a.action, 'done')):
        ev.append(dict(time_utc=t, t_rel=rel(t), event='fault', action=action, target=a.host, phase=phase,
                       by='add_window.py'))
    ev.sort(key=lambda e: e.get('time_utc') or '')
    noted = label(truth)
    with open(a.out or a.truth, 'w') as f:
        json.dump(truth, f, indent=1)
    ops = truth.get('operations', [])
    print('add_window: %s: %s %s %s .. %s; %d operations, %d failed, %d overlap a fault window, '
          '%d newly noted slow%s' % (
              a.out or a.truth, w['kind'], w['host'], w['begin_utc'], w['end_utc'], len(ops),
              sum(1 for o in ops if o.get('outcome') == 'failed'),
              sum(1 for o in ops if o.get('overlaps_fault_window')), len(noted),
              ''.join('\n  %s#%s %s: %s' % (o['client'], o['seq'], o['operation'], o['note']) for o in noted)))


if __name__ == '__main__':
    main()
