#!/usr/bin/env python3
"""nosecrets.py CAPTURE OUT... -- fail when a secret the capture carries
(the value of an X-Auth-Token, X-Subject-Token or X-Service-Token header,
a "password" in a JSON body) appears in any OUT file."""
import re
import sys

data = open(sys.argv[1], "rb").read()
secrets = set()
for m in re.finditer(rb"(?i)x-(?:auth|subject|service)-token:\s*([!-~]{16,})", data):
    secrets.add(m.group(1))
# a password that is also a name the capture shows (the lab's users have
# their name as password) cannot be told apart from the name: left out
names = set(re.findall(rb'"name"\s*:\s*"([^"]*)"', data))
for m in re.finditer(rb'"password"\s*:\s*"([^"]{4,})"', data):
    if m.group(1) not in names:
        secrets.add(m.group(1))
bad = 0
for path in sys.argv[2:]:
    try:
        out = open(path, "rb").read()
    except OSError:
        continue
    for s in secrets:
        if s in out:
            print("secret %r... in %s" % (s[:8], path))
            bad += 1
sys.exit(1 if bad else 0)
