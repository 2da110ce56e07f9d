#!/usr/bin/env python3
"""seeds.py -- build libFuzzer seed corpora from the bundled captures.

Usage: tests/fuzz/seeds.py OUTDIR     (needs tshark; developer tool, not CI)

For each target the seeds follow the input format its harness documents:
  fuzz_pcap   the capture files themselves
  fuzz_http1  option byte 0, then the TCP stream's chunks in order, in
              alternating direction, separated by ff fe fd
  fuzz_amqp   the stream's chunks separated by "\\xCE|AMQP|"
  fuzz_oslo   AMQP message bodies (from tshark's amqp.payload)
  fuzz_rules  the shipped rules files
"""
import glob, os, shutil, subprocess, sys

out = sys.argv[1]
pcaps = sorted(glob.glob("testdata/*.pcap"))

def mk(name):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    return d

def tshark(args):
    return subprocess.run(["tshark"] + args, capture_output=True, text=True).stdout

def streams(pcap, port_filter):
    ids = set(tshark(["-r", pcap, "-Y", port_filter, "-T", "fields", "-e", "tcp.stream"]).split())
    for sid in sorted(ids, key=int):
        txt = tshark(["-r", pcap, "-q", "-z", "follow,tcp,raw," + sid])
        chunks, cur, curdir = [], bytearray(), None
        for line in txt.splitlines():
            if not line or line.startswith("=") or ":" in line[:12]:
                continue
            d = 1 if line.startswith("\t") else 0
            try:
                b = bytes.fromhex(line.strip())
            except ValueError:
                continue
            if curdir is not None and d != curdir:
                chunks.append(bytes(cur)); cur = bytearray()
            curdir = d; cur += b
        if cur:
            chunks.append(bytes(cur))
        yield sid, chunks

n = {"fuzz_pcap": 0, "fuzz_http1": 0, "fuzz_amqp": 0, "fuzz_oslo": 0, "fuzz_rules": 0}
for p in pcaps:
    shutil.copy(p, mk("fuzz_pcap")); n["fuzz_pcap"] += 1
for f in glob.glob("rules/*.yaml"):
    shutil.copy(f, mk("fuzz_rules")); n["fuzz_rules"] += 1
for p in pcaps:
    base = os.path.basename(p)[:-5]
    for sid, ch in streams(p, "http"):
        with open(os.path.join(mk("fuzz_http1"), f"{base}-{sid}"), "wb") as f:
            f.write(b"\x00" + b"\xff\xfe\xfd".join(ch[:40]))
        n["fuzz_http1"] += 1
    for sid, ch in streams(p, "amqp"):
        with open(os.path.join(mk("fuzz_amqp"), f"{base}-{sid}"), "wb") as f:
            f.write(b"\xCE|AMQP|".join(ch[:40]))
        n["fuzz_amqp"] += 1
    for i, hx in enumerate(tshark(["-r", p, "-Y", "amqp.payload", "-T", "fields", "-e", "amqp.payload"]).split()):
        for j, part in enumerate(hx.split(",")):
            with open(os.path.join(mk("fuzz_oslo"), f"{base}-{i}-{j}"), "wb") as f:
                f.write(bytes.fromhex(part.replace(":", "")))
            n["fuzz_oslo"] += 1
print("seeds:", " ".join(f"{k}={v}" for k, v in n.items()))
