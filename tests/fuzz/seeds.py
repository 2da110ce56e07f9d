#!/usr/bin/env python3
"""seeds.py -- build small libFuzzer seed corpora from the bundled captures
and rules (python3 only: no tshark, no third-party module).

Usage: tests/fuzz/seeds.py OUTDIR [MAXLEN]

Writes OUTDIR/fuzz_<target>/<name> for every target, each seed at most
MAXLEN bytes (default 4096; fuzz_oslo and fuzz_pcap allow 4x that), in the
input format its harness documents:
  fuzz_analyze  windows of consecutive packets of a testdata capture
  fuzz_pcap   small classic pcaps: the global header of a testdata capture
              plus the packets of one TCP connection (a window of them)
  fuzz_http1  option byte, then one connection's payload chunks from a
              request on, alternating direction (client first), separated
              by ff fe fd
  fuzz_amqp   one connection's chunks from a client chunk on, separated by
              "\\xCE|AMQP|", cut at AMQP frame boundaries
  fuzz_oslo   AMQP message bodies (content body frames joined)
  fuzz_json   mode byte 01 (oslo) then an AMQP message body that fits
              whole (envelopes with an embedded oslo.message)
  fuzz_baseline  baselines of usual durations as --save-baseline writes them
  fuzz_bus    hiredis reply trees (XREADGROUP answers holding evwire frames) in
              fuzz_bus.c's encoding: a type byte per node, counts, lengths
  fuzz_evwire frames of sensors' events (parsers/evwire.h), each after its
              2-byte length, written by a small encoder here (a second
              reading of the format)
  fuzz_rules  one rules item per file (a service, an operation, a fault),
              and small files mixing the three

Small seeds keep the executions per second high: the time of one execution
grows with the input, and libFuzzer's bookkeeping with the features it hits.
Seeds are cut from the start of a connection and from every request or
client chunk on, so each part of a long conversation is reachable in a
small input; parsers resynchronise where a window starts mid-stream.
"""
import glob
import json
import hashlib
import os
import struct
import sys

OUT = sys.argv[1]
MAXLEN = int(sys.argv[2]) if len(sys.argv) > 2 else 4096
HTTP_SEP = b"\xff\xfe\xfd"
AMQP_SEP = b"\xCE|AMQP|"
METHODS = (b"GET ", b"POST ", b"PUT ", b"DELETE ", b"HEAD ", b"PATCH ", b"OPTIONS ")

counts = {}


def put(target, data, limit=None):
    """Write one seed named by its hash (duplicates collapse)."""
    limit = limit or MAXLEN
    data = data[:limit]
    if not data:
        return
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    path = os.path.join(d, name)
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)
        counts[target] = counts.get(target, 0) + 1


# ---- classic pcap reading and TCP reassembly ------------------------------

def read_pcap(path):
    """Global header bytes, endian prefix, link type, [(rechdr, data)]."""
    with open(path, "rb") as f:
        raw = f.read()
    magic = raw[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return None  # pcapng and others: only used whole
    link = struct.unpack(e + "I", raw[20:24])[0] & 0x0FFFFFFF
    recs, off = [], 24
    while off + 16 <= len(raw):
        incl = struct.unpack(e + "I", raw[off + 8:off + 12])[0]
        if off + 16 + incl > len(raw):
            break
        recs.append((raw[off:off + 16], raw[off + 16:off + 16 + incl]))
        off += 16 + incl
    return raw[:24], link, recs


def ip_of(link, frame):
    """The IP packet inside a frame, or None."""
    if link == 1:  # Ethernet, 802.1Q tags skipped
        off, et = 12, None
        while off + 2 <= len(frame):
            et = struct.unpack(">H", frame[off:off + 2])[0]
            off += 2
            if et in (0x8100, 0x88A8):
                off += 2
                continue
            break
        return frame[off:] if et in (0x0800, 0x86DD) else None
    if link == 113:  # Linux cooked v1
        return frame[16:]
    if link == 276:  # Linux cooked v2
        return frame[20:]
    if link in (12, 101, 228, 229):  # raw IP
        return frame
    return None


def tcp_of(ip):
    """(src, dst, sport, dport, seq, flags, payload) or None."""
    if len(ip) < 20:
        return None
    v = ip[0] >> 4
    if v == 4:
        ihl = (ip[0] & 15) * 4
        if ip[9] != 6:
            return None
        tot = struct.unpack(">H", ip[2:4])[0]
        src, dst, seg = ip[12:16], ip[16:20], ip[ihl:tot if tot >= ihl else len(ip)]
    elif v == 6:
        if len(ip) < 40 or ip[6] != 6:
            return None
        plen = struct.unpack(">H", ip[4:6])[0]
        src, dst, seg = ip[8:24], ip[24:40], ip[40:40 + plen]
    else:
        return None
    if len(seg) < 20:
        return None
    sport, dport, seq = struct.unpack(">HHI", seg[:8])
    doff = (seg[12] >> 4) * 4
    return src, dst, sport, dport, seq, seg[13], seg[doff:]


class Conn:
    def __init__(self, client):
        self.client = client   # (addr, port) of the side that sent the SYN/first
        self.next = [None, None]
        self.pend = [{}, {}]
        self.chunks = []       # [dir, bytearray]
        self.recs = []         # packet indexes of this connection

    def add(self, d, seq, syn, data):
        if self.next[d] is None:
            self.next[d] = (seq + (1 if syn else 0)) & 0xFFFFFFFF
        if data:
            self.pend[d][seq] = data
        while True:  # deliver what is in order; drop what is old
            progressed = False
            for s in list(self.pend[d]):
                b = self.pend[d][s]
                rel = (s - self.next[d]) & 0xFFFFFFFF
                if rel >= 0x80000000:  # starts before next
                    back = 0x100000000 - rel
                    del self.pend[d][s]
                    if back < len(b):
                        self.emit(d, b[back:])
                        progressed = True
                elif rel == 0:
                    del self.pend[d][s]
                    self.emit(d, b)
                    progressed = True
            if not progressed:
                break

    def emit(self, d, b):
        self.next[d] = (self.next[d] + len(b)) & 0xFFFFFFFF
        if self.chunks and self.chunks[-1][0] == d:
            self.chunks[-1][1] += b
        else:
            self.chunks.append([d, bytearray(b)])


def connections(hdr_link_recs):
    _, link, recs = hdr_link_recs
    conns, order = {}, []
    for i, (_, frame) in enumerate(recs):
        ip = ip_of(link, frame)
        t = ip and tcp_of(ip)
        if not t:
            continue
        src, dst, sport, dport, seq, flags, payload = t
        a, b = (src, sport), (dst, dport)
        key = (a, b) if a < b else (b, a)
        c = conns.get(key)
        if c is None:
            syn_ack = flags & 0x12 == 0x12
            c = conns[key] = Conn(b if syn_ack else a)
            c.syn = bool(flags & 0x02)
            c.ports = (sport, dport)
            order.append(c)
        c.recs.append(i)
        c.add(0 if a == c.client else 1, seq, flags & 0x02, bytes(payload))
    for c in order:
        c.chunks = [[d, bytes(b)] for d, b in c.chunks]
        # caught mid-stream: the server is the side that answers HTTP or
        # owns the AMQP port; flip directions when the first talker was it
        if not c.syn and c.chunks:
            first = c.chunks[0][1]
            srv_first = first.startswith(b"HTTP/") or c.client[1] == 5672
            if srv_first:
                c.chunks = [[d ^ 1, b] for d, b in c.chunks]
                if c.chunks[0][0] == 1:
                    c.chunks.insert(0, [0, b""])
    return order


# ---- per-target cutting ---------------------------------------------------

def windows(chunks, starts, sep, budget):
    """Seeds of consecutive chunks joined by sep, one from every start index,
    each within budget bytes (the last chunk cut). Chunks alternate
    direction from the first, which must be a client chunk."""
    for s in starts:
        out, d = bytearray(), 0
        i = s
        while i < len(chunks) and len(out) < budget:
            cd, b = chunks[i]
            if cd != d:  # keep the alternation: an empty chunk stands in
                b, cd = b"", d
            else:
                i += 1
            if out or d:
                out += sep
            out += b
            d ^= 1
        yield bytes(out[:budget])


def amqp_frames(b):
    """Split bytes at AMQP frame boundaries (protocol header kept whole)."""
    parts, off = [], 0
    if b.startswith(b"AMQP"):
        parts.append(b[:8])
        off = 8
    while off + 7 <= len(b):
        size = struct.unpack(">I", b[off + 3:off + 7])[0]
        end = off + 8 + size
        if end > len(b) or b[end - 1] != 0xCE:
            break
        parts.append(b[off:end])
        off = end
    if off < len(b):
        parts.append(b[off:])
    return parts


def amqp_bodies(chunks):
    """Message bodies of one direction's byte stream."""
    for d in (0, 1):
        data = b"".join(b for cd, b in chunks if cd == d)
        want, body = {}, {}
        for fr in amqp_frames(data):
            if len(fr) < 8 or fr[:4] == b"AMQP":
                continue
            typ, ch = fr[0], struct.unpack(">H", fr[1:3])[0]
            pay = fr[7:-1]
            if typ == 2 and len(pay) >= 12:
                want[ch] = struct.unpack(">Q", pay[4:12])[0]
                body[ch] = bytearray()
            elif typ == 3 and ch in want:
                body[ch] += pay
                if len(body[ch]) >= want[ch]:
                    yield bytes(body[ch])
                    del want[ch]


def is_http(c):
    return any(d == 0 and b.startswith(METHODS) for d, b in c.chunks[:2])


def is_amqp(c):
    return 5672 in c.ports or any(b.startswith(b"AMQP") for d, b in c.chunks[:2])


def pcap_seeds(path, parsed, conns):
    ghdr, _, recs = parsed
    budget = 4 * MAXLEN
    if os.path.getsize(path) <= budget:
        put("fuzz_pcap", open(path, "rb").read(), budget)
    for c in conns:
        # windows of a connection's packets, from its start and then every
        # 8 packets on, so the later exchanges are reachable too
        for s in range(0, len(c.recs), 8):
            out = bytearray(ghdr)
            for i in c.recs[s:]:
                rh, data = recs[i]
                if len(out) + len(rh) + len(data) > budget:
                    break
                out += rh + data
            if len(out) > 24:
                put("fuzz_pcap", bytes(out), budget)
            if s >= 64:
                break


def analyze_seeds(path, parsed):
    """fuzz_analyze: windows of consecutive packets (every connection they
    touch, so that services, sessions and chains meet), from the start and
    then every 64 packets."""
    ghdr, _, recs = parsed
    budget = 4 * MAXLEN
    if os.path.getsize(path) <= budget:
        put("fuzz_analyze", open(path, "rb").read(), budget)
    for s in range(0, len(recs), 64):
        out = bytearray(ghdr)
        for rh, data in recs[s:]:
            if len(out) + len(rh) + len(data) > budget:
                break
            out += rh + data
        if len(out) > 24:
            put("fuzz_analyze", bytes(out), budget)
        if s >= 64 * 32:
            break


def main():
    for p in sorted(glob.glob("testdata/*.pcap")):
        parsed = read_pcap(p)
        if parsed is None:
            put("fuzz_pcap", open(p, "rb").read(), 4 * MAXLEN)
            continue
        analyze_seeds(p, parsed)
        conns = connections(parsed)
        pcap_seeds(p, parsed, conns)
        for c in conns:
            if not c.chunks:
                continue
            if is_http(c):
                starts = [i for i, (d, b) in enumerate(c.chunks)
                          if d == 0 and b.startswith(METHODS)]
                for w in windows(c.chunks, starts[:64], HTTP_SEP, MAXLEN - 1):
                    put("fuzz_http1", b"\x00" + w)
                # the same from the start in small pieces (option bit 0)
                for w in windows(c.chunks, starts[:1], HTTP_SEP, 1024):
                    put("fuzz_http1", b"\x03" + w)
            elif is_amqp(c):
                # cut big chunks at frame boundaries so windows stay small
                ch = []
                for d, b in c.chunks:
                    parts = amqp_frames(b)
                    cur = bytearray()
                    for fr in parts:
                        if cur and len(cur) + len(fr) > MAXLEN // 2:
                            ch.append([d, bytes(cur)])
                            ch.append([d ^ 1, b""])
                            cur = bytearray()
                        cur += fr
                    ch.append([d, bytes(cur)])
                # keep the alternation the harness expects: an empty chunk of
                # the other direction between two of the same
                norm = []
                for d, b in ch:
                    if norm and norm[-1][0] == d:
                        norm.append([d ^ 1, b""])
                    norm.append([d, b])
                if norm and norm[0][0] == 1:
                    norm.insert(0, [0, b""])
                starts = [i for i, (d, b) in enumerate(norm) if d == 0 and (b or i == 0)]
                for w in windows(norm, starts[:96], AMQP_SEP, MAXLEN):
                    put("fuzz_amqp", w)
                for body in amqp_bodies(c.chunks):
                    put("fuzz_oslo", body, 4 * MAXLEN)
                    if len(body) < MAXLEN and body.startswith(b"{"):
                        put("fuzz_json", b"\x01" + body)
    rules_seeds()
    baseline_seeds()
    evwire_seeds()
    bus_seeds()
    print("seeds:", " ".join(f"{k}={counts.get(k, 0)}" for k in
                             ("fuzz_pcap", "fuzz_analyze", "fuzz_http1", "fuzz_amqp", "fuzz_oslo",
                              "fuzz_json", "fuzz_rules", "fuzz_baseline", "fuzz_evwire", "fuzz_bus")))


def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7f) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def vstr(b):
    return varint(len(b)) + b


def zz(v):
    return (v << 1) ^ (v >> 63) if v >= 0 else ((-v) << 1) - 1


def ev_record(kind, ts, seq, flow, src, dst, ints, strs, uuids=(), names=()):
    """An EVENT record (evwire.c's field order): ints = the 19 integers in
    wire form, strs = {bit: bytes}."""
    b = bytes([kind]) + varint(0) + varint(ts) + varint(seq) + varint(flow)
    for addr, port in (src, dst):
        b += vstr(addr) + varint(port)
    for v in ints:
        b += varint(v)
    mask = 0
    for bit in strs:
        mask |= 1 << bit
    b += varint(mask)
    for bit in sorted(strs):
        b += vstr(strs[bit])
    b += varint(len(uuids))
    for u, res in uuids:
        b += vstr(u) + bytes([res])
    b += varint(len(names))
    for n in names:
        b += varint(n)
    return bytes([1]) + varint(len(b)) + b


def mark_record(typ, clock, counters=()):
    b = varint(clock) + varint(len(counters))
    for name, v in counters:
        b += vstr(name) + varint(v)
    return bytes([typ]) + varint(len(b)) + b


def frame(sensor, batch, records, run=1796540000000000):
    return b"OSEV" + bytes([1, 0]) + vstr(sensor) + varint(run) + varint(batch) + b"".join(records)


def evwire_seeds():
    """A client's request and answer seen by two sensors, an RPC call and
    its reply, ticks and an end: frames as osrca sensor writes them."""
    ints0 = [0] * 19
    ints0[8] = zz(-1)   # timeout_s
    ints0[9] = zz(-1)   # expiration_ms
    ints0[10] = zz(1)   # ending
    req = list(ints0)
    resp = list(ints0)
    resp[0] = zz(500)   # status
    resp[1] = 1         # req_seq
    resp[2] = 1000      # req_ts_us
    cli, api = (b"10.0.0.50", 40000), (b"10.0.0.10", 8774)
    mq, cond = (b"10.0.0.10", 5672), (b"10.0.0.10", 41000)
    uu = [(b"0a3e19ce-7940-4e0d-b310-000000000001", 1)]
    r1 = ev_record(0, 1000, 1, 1, cli, api, req, {0: b"POST", 1: b"/v2.1/servers",
                                                 5: b"server create", 32: b"client",
                                                 34: b"nova-api"}, uu)
    r2 = ev_record(1, 3000, 2, 1, api, cli, resp, {5: b"server create",
                                                  6: b"req-11111111-2222-3333-4444-555555555555",
                                                  8: b"NoValidHost"}, uu, [7, 9])
    call = list(ints0)
    call[5] = zz(1)     # verb publish
    call[8] = zz(60)
    r3 = ev_record(2, 2000, 3, 2, cond, mq, call, {12: b"nova", 13: b"scheduler", 14: b"scheduler",
                                                  17: b"select_destinations",
                                                  20: b"47c56b4fa4e74b4aab9b1fa1a6cd89b4",
                                                  22: b"9a1c5b4fa4e74b4aab9b1fa1a6cd89b4",
                                                  6: b"req-11111111-2222-3333-4444-555555555555"})
    rep = list(ints0)
    rep[5] = zz(2)      # deliver
    rep[11] = zz(1)     # failure
    r4 = ev_record(4, 2500, 4, 2, mq, cond, rep, {20: b"47c56b4fa4e74b4aab9b1fa1a6cd89b4",
                                                 8: b"NoValidHost", 9: b"nova.exception"})
    tick = mark_record(2, 2600, [(b"packets", 12), (b"kernel_drops", 0)])
    end = mark_record(3, 4000, [(b"packets", 20)])
    fa = frame(b"controller", 1, [r1, r3, r4, tick, r2, end])
    fb = frame(b"client", 1, [r1, mark_record(2, 2000), r2, end])
    fc = frame(b"controller", 2, [r2])
    ln = lambda f: len(f).to_bytes(2, "big") + f
    put("fuzz_evwire", ln(fa))
    put("fuzz_evwire", ln(fa) + ln(fb) + ln(fc))
    put("fuzz_evwire", ln(fb) + ln(fa))


def rstr(b):
    """A string node of fuzz_bus.c's encoding."""
    if len(b) < 255:
        return bytes([0, len(b)]) + b
    return bytes([0, 255, len(b) >> 8, len(b) & 0xff]) + b


def rarr(*items):
    return bytes([1, len(items)]) + b"".join(items)


def bus_seeds():
    """XREADGROUP answers for the streams osrca:s:a and osrca:s:b with a
    frame in an entry, a trimmed entry (nil) and an error."""
    ints0 = [0] * 19
    ints0[8] = zz(-1)
    ints0[9] = zz(-1)
    ints0[10] = zz(1)
    ev = ev_record(5, 1000, 1, 1, (b"10.0.0.1", 1), (b"10.0.0.2", 5672), ints0,
                   {23: b"compute.c1", 24: b"compute.instance.update"})
    fr = frame(b"a", 1, [ev, mark_record(2, 2000)])
    entry = rarr(rstr(b"1796540903642-0"), rarr(rstr(b"f"), rstr(fr)))
    trimmed = rarr(rstr(b"1796540903643-0"), bytes([3]))
    put("fuzz_bus", rarr(rarr(rstr(b"osrca:s:a"), rarr(entry, trimmed))))
    put("fuzz_bus", rarr(rarr(rstr(b"osrca:s:b"), rarr(entry)), rarr(rstr(b"osrca:s:a"), rarr())))
    put("fuzz_bus", bytes([5, 7]) + b"NOGROUP")


def baseline_seeds():
    """Baselines as `osrca analyze --save-baseline` writes them: a few keys
    of each kind, bins dense and sparse, zeros."""
    keys = {
        "op|server create": {"zeros": 0, "lo": 390, "bins": [1, 0, 2, 5, 1]},
        "hold|server create|nova-conductor": {"zeros": 3, "lo": 200, "bins": [4, 4]},
        "hop|rpc_call|nova-conductor>nova-scheduler|scheduler.select_destinations":
            {"zeros": 0, "lo": 290, "bins": [1] + [0] * 30 + [2]},
        "wait|rpc_cast|nova-api>nova-conductor|conductor.schedule_and_build_instances":
            {"zeros": 1, "lo": 150, "bins": [7]},
    }
    put("fuzz_baseline", json.dumps({"osrca_baseline": 1, "keys": keys}, sort_keys=True).encode())
    one = dict(list(keys.items())[:1])
    put("fuzz_baseline", json.dumps({"osrca_baseline": 1, "keys": one}).encode())


def rules_seeds():
    """One item per seed, plus small mixes of a service, an operation and a
    fault (so cross references between sections are exercised)."""
    items = {}
    for f in sorted(glob.glob("rules/*.yaml")):
        section, cur = None, None
        for line in open(f, encoding="utf-8"):
            if line.startswith("#") or not line.strip():
                continue
            if not line.startswith(" "):
                section = line.split(":")[0].strip()
                cur = None
                continue
            if line.startswith("  - "):
                cur = [line]
                items.setdefault(section, []).append(cur)
            elif cur is not None and line.strip() and not line.lstrip().startswith("#"):
                cur.append(line)
    for section, lst in items.items():
        for it in lst:
            put("fuzz_rules", (section + ":\n" + "".join(it)).encode())
    svc, ops, flt = items.get("services", []), items.get("operations", []), items.get("faults", [])
    for i in range(max(len(svc), len(flt))):
        parts = []
        for name, lst in (("services", svc), ("operations", ops), ("faults", flt)):
            if lst:
                parts.append(name + ":\n" + "".join(lst[i % len(lst)]) + "".join(lst[(i + 1) % len(lst)]))
        put("fuzz_rules", "".join(parts).encode())


if __name__ == "__main__":
    main()
