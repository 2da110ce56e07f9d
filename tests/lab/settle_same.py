#!/usr/bin/env python3
"""settle_same.py -- what a shorter settle changes: on each lab recording,
the verdicts (operation, request id, login, root cause service, host,
kind) of `osrca analyze --settle S` against those of `osrca analyze` (10 s,
the default of analyze and live). A chain decided sooner may miss evidence
that comes seconds later.

usage: settle_same.py [--osrca BIN] [--rules DIR] [--settle S] RECORDING.pcap.gz...
Exit 0 when every recording agrees, 1 otherwise (the differences listed).
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile


def verdicts(osrca, rules, pcap, extra):
    cmd = [osrca, 'analyze', '--rules', rules, '--format', 'json'] + extra + [pcap]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=dict(os.environ, TZ='UTC'))
    if p.returncode not in (0, 1):
        raise SystemExit('settle_same: %s exited %d' % (' '.join(cmd), p.returncode))
    out = []
    for line in p.stdout.decode().splitlines():
        if not line.startswith('{'):
            continue
        d = json.loads(line)
        if d.get('type') != 'verdict':
            continue
        rc = d.get('root_cause') or {}
        s = d.get('session') or {}
        out.append((d.get('operation'), d.get('request_id'), s.get('login_request_id'),
                    rc.get('service'), rc.get('host'), rc.get('kind')))
    return sorted(out, key=lambda t: tuple('' if x is None else str(x) for x in t))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--osrca', default='build/osrca')
    ap.add_argument('--rules', default='rules')
    ap.add_argument('--settle', default='0.5')
    ap.add_argument('pcaps', nargs='+')
    a = ap.parse_args()
    bad = 0
    with tempfile.TemporaryDirectory() as wd:
        for gz in a.pcaps:
            pcap = os.path.join(wd, os.path.basename(gz).replace('.gz', ''))
            with gzip.open(gz, 'rb') as f, open(pcap, 'wb') as o:
                o.write(f.read())
            base = verdicts(a.osrca, a.rules, pcap, [])
            short = verdicts(a.osrca, a.rules, pcap, ['--settle', a.settle])
            if base != short:
                bad += 1
                print('settle_same: %s: %d verdicts at the default settle, %d at %s s'
                      % (os.path.basename(gz), len(base), len(short), a.settle))
                for v in sorted(set(base) - set(short), key=str):
                    print('  only at the default:', v)
                for v in sorted(set(short) - set(base), key=str):
                    print('  only at %s s:' % a.settle, v)
            os.unlink(pcap)
    print('settle_same: %d recordings, %d differ' % (len(a.pcaps), bad))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
