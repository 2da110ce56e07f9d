#!/usr/bin/env python3
"""Bad-input generator for osrca: writes damaged and hostile captures (stdlib only).

Usage: gen.py OUTDIR [--flows N] [--src PCAP ...] [--only NAME ...]
Writes one capture per case into OUTDIR (classic libpcap unless the case is
about pcapng; Ethernet/IPv4/TCP; IPv4 header checksums computed, TCP
checksums left 0). Deterministic: every random choice comes from a fixed
seed. Every loop is bounded by its input or a constant. The cases and what
each one exercises are listed in tests/badinput/run.sh.
"""
import argparse
import bisect
import os
import random
import struct
import zlib

PCAP_MAGIC = 0xA1B2C3D4
LINKTYPE_ETHERNET = 1
GHDR_LEN = 24
RHDR_LEN = 16

MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")

SEG = 1448  # TCP payload per segment for long messages
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def ip_checksum(hdr):
    """One's-complement sum of an IPv4 header (checksum field zero)."""
    if len(hdr) % 2:
        hdr += b"\x00"
    s = sum(struct.unpack("!%dH" % (len(hdr) // 2), hdr))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip4(a):
    return bytes(int(x) for x in a.split("."))


class PcapWriter:
    """Classic pcap writer with a monotonic microsecond clock."""

    def __init__(self, path, snaplen=262144, linktype=LINKTYPE_ETHERNET):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", PCAP_MAGIC, 2, 4, 0, 0,
                                 snaplen, linktype))
        self.t_us = 1_700_000_000 * 1_000_000

    def write(self, frame, step_us=10, caplen=None, wirelen=None):
        """One record; caplen/wirelen override the header fields (the
        bytes written are always frame itself)."""
        self.t_us += step_us
        sec, usec = divmod(self.t_us, 1_000_000)
        cap = len(frame) if caplen is None else caplen
        wire = len(frame) if wirelen is None else wirelen
        self.f.write(struct.pack("<IIII", sec, usec, cap, wire))
        self.f.write(frame)

    def close(self):
        self.f.close()


def frame(src, dst, sport, dport, seq, ack, flags, payload=b"", ipid=0,
          ihl=5, total=None, doff=5, ip_opts=b"", tcp_opts=b"", frag=0x4000,
          eth_type=b"\x08\x00", vlan_tags=0):
    """Ethernet/IPv4/TCP frame; src/dst are 4-byte addresses. ihl, total
    and doff are the header fields as written (bogus values allowed)."""
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF,
                      ack & 0xFFFFFFFF, (doff & 0xF) << 4, flags, 65535, 0, 0)
    tcp += tcp_opts
    if total is None:
        total = 20 + len(ip_opts) + len(tcp) + len(payload)
    ip = struct.pack("!BBHHHBBH4s4s", 0x40 | (ihl & 0xF), 0, total & 0xFFFF,
                     ipid & 0xFFFF, frag, 64, 6, 0, src, dst) + ip_opts
    ip = ip[:10] + struct.pack("!H", ip_checksum(ip)) + ip[12:]
    eth = MAC_B + MAC_A
    for _ in range(vlan_tags):
        eth += b"\x81\x00" + struct.pack("!H", 100)
    return eth + eth_type + ip + tcp + payload


class TcpConn:
    """One client->server TCP connection with sequence tracking both ways."""

    def __init__(self, w, sport, dport, cli="127.0.0.1", srv="127.0.0.1"):
        self.w, self.sport, self.dport = w, sport, dport
        self.cli, self.srv = ip4(cli), ip4(srv)
        self.cseq, self.sseq = 1000, 500000
        self.w.write(frame(self.cli, self.srv, sport, dport, self.cseq, 0, SYN))
        self.w.write(frame(self.srv, self.cli, dport, sport, self.sseq,
                           self.cseq + 1, SYN | ACK))
        self.cseq += 1
        self.sseq += 1
        self.w.write(frame(self.cli, self.srv, sport, dport, self.cseq,
                           self.sseq, ACK))

    def seg(self, data, from_client=True, **kw):
        """One segment carrying data (no ack from the peer); kw goes to frame()."""
        if from_client:
            f = frame(self.cli, self.srv, self.sport, self.dport, self.cseq,
                      self.sseq, PSH | ACK, data, **kw)
        else:
            f = frame(self.srv, self.cli, self.dport, self.sport, self.sseq,
                      self.cseq, PSH | ACK, data, **kw)
        return f

    def send(self, data, from_client=True):
        """Send data in SEG-sized segments; the peer acks each segment."""
        for off in range(0, len(data), SEG):
            chunk = data[off:off + SEG]
            if from_client:
                self.w.write(frame(self.cli, self.srv, self.sport, self.dport,
                                   self.cseq, self.sseq, PSH | ACK, chunk))
                self.cseq += len(chunk)
                self.w.write(frame(self.srv, self.cli, self.dport, self.sport,
                                   self.sseq, self.cseq, ACK))
            else:
                self.w.write(frame(self.srv, self.cli, self.dport, self.sport,
                                   self.sseq, self.cseq, PSH | ACK, chunk))
                self.sseq += len(chunk)
                self.w.write(frame(self.cli, self.srv, self.sport, self.dport,
                                   self.cseq, self.sseq, ACK))

    def close(self):
        self.w.write(frame(self.cli, self.srv, self.sport, self.dport,
                           self.cseq, self.sseq, FIN | ACK))
        self.w.write(frame(self.srv, self.cli, self.dport, self.sport,
                           self.sseq, self.cseq + 1, FIN | ACK))
        self.w.write(frame(self.cli, self.srv, self.sport, self.dport,
                           self.cseq + 1, self.sseq + 1, ACK))


def one_conn(path, dport, exchanges, sport=40000):
    """Write a pcap with one connection carrying exchanges [(from_client, bytes)]."""
    w = PcapWriter(path)
    c = TcpConn(w, sport, dport)
    for from_client, data in exchanges:
        c.send(data, from_client)
    c.close()
    w.close()


# ---------------------------------------------------------------- AMQP bytes

def ss(s):
    """AMQP short string."""
    return struct.pack("!B", len(s)) + s


def ls(s):
    """AMQP long string."""
    return struct.pack("!I", len(s)) + s


def amqp_frame(ftype, ch, payload, end=0xCE, size=None):
    sz = len(payload) if size is None else size
    return struct.pack("!BHI", ftype, ch, sz) + payload + bytes([end])


def amqp_method(ch, cls, meth, args=b""):
    return amqp_frame(1, ch, struct.pack("!HH", cls, meth) + args)


def amqp_publish(ch, exchange, rkey, body, ctype=b"application/json",
                 body_size=None, chunk=65536, headers=None):
    """Basic.Publish + content header + body frames of body; headers: the
    raw field table of the headers property (with its length prefix)."""
    out = amqp_method(ch, 60, 40, struct.pack("!H", 0) + ss(exchange) + ss(rkey) + b"\x00")
    size = len(body) if body_size is None else body_size
    if headers is None:
        props = struct.pack("!H", 0x8000) + ss(ctype)
    else:
        props = struct.pack("!H", 0xA000) + ss(ctype) + headers
    out += amqp_frame(2, ch, struct.pack("!HHQ", 60, 0, size) + props)
    for off in range(0, len(body), chunk):
        out += amqp_frame(3, ch, body[off:off + chunk])
    return out


AMQP_HDR = b"AMQP\x00\x00\x09\x01"


# ---------------------------------------------------------------- cases

def pcap_records(data):
    """Offsets of records in a classic pcap byte string (bounded by its size)."""
    offs = []
    off = GHDR_LEN
    while off + RHDR_LEN <= len(data):
        incl = struct.unpack_from("<I", data, off + 8)[0]
        if off + RHDR_LEN + incl > len(data):
            break
        offs.append(off)
        off += RHDR_LEN + incl
    return offs


def case_truncated(out, src):
    data = open(src, "rb").read()
    offs = pcap_records(data)
    mid = offs[len(offs) // 2]
    incl = struct.unpack_from("<I", data, mid + 8)[0]
    cut = mid + RHDR_LEN + incl // 2
    with open(os.path.join(out, "trunc_record.pcap"), "wb") as f:
        f.write(data[:cut])
    # cut inside the record header of the last record
    with open(os.path.join(out, "trunc_rechdr.pcap"), "wb") as f:
        f.write(data[:offs[-1] + 7])
    with open(os.path.join(out, "trunc_ghdr.pcap"), "wb") as f:
        f.write(data[:13])


def case_snaplen(out, src, keep=96):
    """Every record cut to keep captured bytes (what `editcap -s 96` does)."""
    d = open(src, "rb").read()
    e = "<" if d[:4] == b"\xd4\xc3\xb2\xa1" else ">"
    res = bytearray(d[:16] + struct.pack(e + "I", keep) + d[20:24])
    off = 24
    while off + 16 <= len(d):
        s, us, cap, orig = struct.unpack(e + "IIII", d[off:off + 16])
        k = min(cap, keep)
        res += struct.pack(e + "IIII", s, us, k, orig) + d[off + 16:off + 16 + k]
        off += 16 + cap
    with open(os.path.join(out, "snaplen96.pcap"), "wb") as f:
        f.write(res)


def case_merged(out, srcs):
    """Real captures glued end to end, three times over (packet time jumps
    back at every seam, the same 5-tuples come back with other sequence
    numbers), and one capture with its records in reverse order."""
    recs = []
    for _ in range(3):
        for src in srcs:
            d = open(src, "rb").read()
            offs = pcap_records(d)
            for i, off in enumerate(offs):
                end = offs[i + 1] if i + 1 < len(offs) else len(d)
                recs.append(d[off:end])
    ghdr = open(srcs[0], "rb").read()[:GHDR_LEN]
    with open(os.path.join(out, "merged_replay.pcap"), "wb") as f:
        f.write(ghdr + b"".join(recs))
    d = open(srcs[0], "rb").read()
    offs = pcap_records(d)
    rev = [d[off:(offs[i + 1] if i + 1 < len(offs) else len(d))] for i, off in enumerate(offs)]
    with open(os.path.join(out, "reversed.pcap"), "wb") as f:
        f.write(ghdr + b"".join(reversed(rev)))


def case_bitflip(out, srcs):
    """Random bit flips at fixed seeds: in the packet bytes only (record
    headers intact, so the whole capture is read and every layer sees the
    damage), at three rates per capture; and anywhere after the file header
    in the first capture (record lengths too: libpcap stops at the damage)."""
    for si, src in enumerate(srcs):
        data = bytearray(open(src, "rb").read())
        tag = os.path.basename(src).split("_")[0]
        spans = []  # (bit offset in packet space, byte offset in file, length)
        acc = 0
        for off in pcap_records(data):
            n = struct.unpack_from("<I", data, off + 8)[0]
            spans.append((acc, off + RHDR_LEN, n))
            acc += n * 8
        starts = [sp[0] for sp in spans]
        for name, rate in (("1e-5", 1e-5), ("1e-4", 1e-4), ("1e-3", 1e-3)):
            rng = random.Random(7 + 1000 * si + int(rate * 1e6))
            d = bytearray(data)
            for _ in range(max(1, int(acc * rate))):
                b = rng.randrange(acc)
                k = bisect.bisect_right(starts, b) - 1
                pos = spans[k][1] + (b - spans[k][0]) // 8
                d[pos] ^= 1 << ((b - spans[k][0]) % 8)
            with open(os.path.join(out, "bitflip_%s_%s.pcap" % (tag, name)), "wb") as f:
                f.write(d)
        if si == 0:
            rng = random.Random(11)
            d = bytearray(data)
            nbits = (len(d) - GHDR_LEN) * 8
            for _ in range(max(1, int(nbits * 1e-4))):
                b = rng.randrange(nbits)
                d[GHDR_LEN + b // 8] ^= 1 << (b % 8)
            with open(os.path.join(out, "bitflip_file_1e-4.pcap"), "wb") as f:
                f.write(d)


def case_garbage(out):
    rng = random.Random(4242)
    for port in (5672, 8774):
        ex = []
        for i in range(20):
            ex.append((i % 2 == 0, rng.randbytes(rng.randrange(1, 4000))))
        one_conn(os.path.join(out, "garbage_%d.pcap" % port), port, ex)
    one_conn(os.path.join(out, "http_on_5672.pcap"), 5672, [
        (True, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        (False, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")])
    one_conn(os.path.join(out, "amqp_on_8774.pcap"), 8774, [
        (True, AMQP_HDR), (False, amqp_method(0, 10, 10, b"\x00\x09" + ls(b"") + ls(b"PLAIN") + ls(b"en_US")))])
    # AMQP protocol header, then a method frame claiming 0xFFFFFFFF bytes.
    big = struct.pack("!BHI", 1, 0, 0xFFFFFFFF) + rng.randbytes(8000)
    one_conn(os.path.join(out, "amqp_huge_frame.pcap"), 5672, [
        (True, AMQP_HDR), (True, big)])
    one_conn(os.path.join(out, "amqp_bad_version.pcap"), 5672, [
        (True, b"AMQP\x01\x01\x00\x0a"), (True, amqp_method(0, 10, 11, b""))])
    # protocol header, then frames that are wrong in every way the framing
    # and method layers check, each followed by a good heartbeat
    hb = amqp_frame(8, 0, b"")
    deep = b"\x00\x00\x00\x00"            # innermost: empty table
    for _ in range(40):                   # 40 nested tables > limit 16
        deep = struct.pack("!I", len(b"\x01kF" + deep)) + b"\x01kF" + deep
    nonsense = [
        amqp_frame(0x42, 0, b"abcd"),                       # bad type
        amqp_frame(1, 0, b"\x00\x0a\x00\x0b", end=0x00),    # bad end octet
        amqp_frame(1, 1, b"\x00"),                          # method too short
        amqp_method(1, 9999, 1, b"xyz"),                    # unknown method
        amqp_frame(2, 3, struct.pack("!HHQH", 60, 0, 10, 0)),  # header, no method
        amqp_frame(3, 4, b"orphan body"),                   # body, no header
        amqp_method(0, 10, 11, deep + ss(b"PLAIN") + ls(b"") + ss(b"en_US")),  # deep table
        amqp_method(0, 10, 11, struct.pack("!I", 5) + b"\x01kZ\x00\x00" + ss(b"x")
                    + ls(b"") + ss(b"en_US")),                # bad tag
        amqp_publish(6, b"nova", b"x", b"{}", headers=deep),  # deep headers table
        amqp_publish(7, b"nova", b"x", b"{}",
                     headers=struct.pack("!I", 5) + b"\x01kZ\x00\x00"),  # bad tag
        amqp_method(5, 60, 40, struct.pack("!H", 0) + ss(b"nova") + ss(b"x") + b"\x00")
        + amqp_frame(2, 5, struct.pack("!HHQH", 60, 0, 1 << 62, 0)),  # body 2^62 bytes
        amqp_frame(3, 5, rng.randbytes(200)),
        amqp_frame(1, 0, b"", size=0),                      # empty method frame
        rng.randbytes(3000),
    ]
    ex = [(True, AMQP_HDR)]
    for n in nonsense:
        ex.append((True, n + hb))
    ex.append((False, rng.randbytes(500)))
    one_conn(os.path.join(out, "amqp_bad_frames.pcap"), 5672, ex)
    one_conn(os.path.join(out, "http_bad_cl.pcap"), 8774, [
        (True, b"POST /v2.1/servers HTTP/1.1\r\nHost: x\r\n"
               b"Content-Type: application/json\r\n"
               b"Content-Length: twelve\r\n\r\n{\"a\": 1}"),
        (False, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")])
    one_conn(os.path.join(out, "http_cl_overflow.pcap"), 8774, [
        (True, b"POST /v2.1/servers HTTP/1.1\r\nHost: x\r\n"
               b"Content-Length: 184467440737095516160\r\n\r\n{}"),
        (False, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")])
    one_conn(os.path.join(out, "http_chunked_bad.pcap"), 8774, [
        (True, b"POST /v2.1/servers HTTP/1.1\r\nHost: x\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n"
               b"FFFFFFFFFFFFFFFFF\r\n" + b"x" * 100 + b"\r\n0\r\n\r\n"),
        (True, b"POST /v2.1/servers HTTP/1.1\r\nHost: x\r\n"
               b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"),
        (False, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")])
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(1000))
    one_conn(os.path.join(out, "http_many_headers.pcap"), 8774, [
        (True, b"GET /v2.1/servers HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n"),
        (False, b"HTTP/1.1 431 Too Many\r\nContent-Length: 0\r\n\r\n")])
    # 5000 pipelined requests, never answered
    reqs = b"GET /v2.1/servers HTTP/1.1\r\nHost: x\r\n\r\n" * 5000
    one_conn(os.path.join(out, "http_pipeline_flood.pcap"), 8774, [(True, reqs)])


def case_long_lines(out):
    mb = 1 << 20
    one_conn(os.path.join(out, "long_request_line.pcap"), 8774, [
        (True, b"GET /" + b"a" * mb + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
        (False, b"HTTP/1.1 414 URI Too Long\r\nContent-Length: 0\r\n\r\n")])
    one_conn(os.path.join(out, "long_header_line.pcap"), 8774, [
        (True, b"GET /v2.1/servers HTTP/1.1\r\nHost: x\r\nX-Big: "
               + b"b" * mb + b"\r\n\r\n"),
        (False, b"HTTP/1.1 431 Too Large\r\nContent-Length: 0\r\n\r\n")])
    # a status line of 1 MiB
    one_conn(os.path.join(out, "long_status_line.pcap"), 8774, [
        (True, b"GET /v2.1/servers HTTP/1.1\r\nHost: x\r\n\r\n"),
        (False, b"HTTP/1.1 200 " + b"O" * mb + b"\r\nContent-Length: 0\r\n\r\n")])


def case_deep_json(out):
    body = b"[" * 100000
    one_conn(os.path.join(out, "deep_json.pcap"), 8774, [
        (True, b"POST /v2.1/servers HTTP/1.1\r\nHost: x\r\n"
               b"Content-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n" % len(body) + body),
        (False, b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                b"Content-Length: 2\r\n\r\n{}")])
    # oslo.messaging: the inner message (a JSON string in the envelope) is
    # 100000 '[' deep; and a bare body that is 100000 '{"a":' deep
    inner = b'{\\"method\\": \\"build_and_run_instance\\", \\"args\\": ' + b"[" * 100000
    env = b'{"oslo.version": "2.0", "oslo.message": "' + inner + b'"}'
    bare = b'{"a":' * 100000
    one_conn(os.path.join(out, "deep_json_oslo.pcap"), 5672, [
        (True, AMQP_HDR),
        (True, amqp_publish(1, b"nova", b"compute.host1", env)),
        (True, amqp_publish(1, b"nova", b"conductor", bare))])


def case_pcap_records(out):
    """Record-level damage: zero caplen, caplen > wire len, huge caplen."""
    cli, srv = ip4("127.0.0.1"), ip4("127.0.0.2")
    good = frame(cli, srv, 40000, 8774, 1, 0, SYN)
    w = PcapWriter(os.path.join(out, "rec_zero_caplen.pcap"))
    for i in range(10):
        w.write(b"", caplen=0, wirelen=60)
        w.write(good)
    w.close()
    w = PcapWriter(os.path.join(out, "rec_caplen_gt_len.pcap"))
    for i in range(10):
        w.write(good, wirelen=20)
    w.close()
    # caplen 0x7fffffff: libpcap refuses the record (damaged file)
    w = PcapWriter(os.path.join(out, "rec_huge_caplen.pcap"))
    w.write(good)
    w.f.write(struct.pack("<IIII", 1_700_000_001, 0, 0x7FFFFFFF, 0x7FFFFFFF))
    w.f.write(good * 4)
    w.close()
    # the file header claims snaplen 64 but records are longer
    w = PcapWriter(os.path.join(out, "rec_over_snaplen.pcap"), snaplen=64)
    c = TcpConn(w, 40000, 8774)
    c.send(b"GET /v2.1/servers HTTP/1.1\r\nHost: x\r\n\r\n")
    c.close()
    w.close()


def case_linktype(out):
    cli, srv = ip4("127.0.0.1"), ip4("127.0.0.2")
    for name, lt in (("linktype_unknown", 147), ("linktype_raw_eth", 228)):
        w = PcapWriter(os.path.join(out, name + ".pcap"), linktype=lt)
        for i in range(20):
            w.write(frame(cli, srv, 40000 + i, 8774, 1, 0, SYN))
        w.close()


def case_bogus_headers(out):
    """A working HTTP exchange on 8774 with bogus IPv4 and TCP headers mixed in."""
    w = PcapWriter(os.path.join(out, "ipv4_bogus.pcap"))
    c = TcpConn(w, 40000, 8774)
    req = b"GET /v2.1/servers HTTP/1.1\r\nHost: x\r\n\r\n"
    bogus = [
        dict(ihl=3),                  # IHL 12 bytes < 20
        dict(ihl=15),                 # IHL 60 > datagram
        dict(total=10),               # total length < header
        dict(total=60000),            # total length > bytes on the wire
        dict(frag=0x2000),            # MF: a fragment
        dict(vlan_tags=12),           # VLAN tags nested too deep
        dict(eth_type=b"\x08\x06"),   # ARP
    ]
    for kw in bogus:
        w.write(c.seg(b"XXXX" * 10, **kw))
    c.send(req)
    c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", from_client=False)
    c.close()
    w.close()
    w = PcapWriter(os.path.join(out, "tcp_bogus.pcap"))
    c = TcpConn(w, 40001, 8774)
    bogus = [
        dict(doff=2),                            # data offset 8 < 20
        dict(doff=15),                           # 60 bytes > segment
        dict(doff=6, tcp_opts=b"\x02\x00\x05\xb4"),  # option length 0
        dict(doff=6, tcp_opts=b"\x08\x40\x00\x00"),  # option longer than space
    ]
    for kw in bogus:
        w.write(c.seg(b"", **kw))
    c.send(req)
    c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", from_client=False)
    c.close()
    w.close()


def case_reasm(out):
    """Out-of-order flood behind a hole that is never filled, and random
    sequence numbers on an established connection."""
    w = PcapWriter(os.path.join(out, "ooo_flood.pcap"))
    c = TcpConn(w, 40000, 8774)
    base = c.cseq + 1  # one byte missing, forever
    chunk = b"Y" * 1400
    for i in range(4000):  # 5.6 MB held back > 1 MiB per direction
        w.write(frame(c.cli, c.srv, c.sport, c.dport, base + i * 1400, c.sseq,
                      PSH | ACK, chunk), step_us=1)
    w.close()
    rng = random.Random(99)
    w = PcapWriter(os.path.join(out, "seq_chaos.pcap"))
    c = TcpConn(w, 40001, 5672)
    w.write(c.seg(AMQP_HDR))
    for i in range(3000):
        w.write(frame(c.cli, c.srv, c.sport, c.dport, rng.getrandbits(32), c.sseq,
                      PSH | ACK, rng.randbytes(rng.randrange(1, 1400))), step_us=1)
    w.close()


def case_bombs(out):
    """Decompression bombs: 128 MiB of zeros gzip'ed into an HTTP body of
    130 KB (kept whole: under the 256 KiB body cap), and 64 MiB of '['
    zlib'ed into a kombu-compressed oslo.messaging body (caps: 1 MiB
    inflated for HTTP, 4 MiB for oslo)."""
    co = zlib.compressobj(9, zlib.DEFLATED, 16 + 15)  # gzip wrapper
    zero = b"\x00" * (1 << 20)
    gz = b"".join(co.compress(zero) for _ in range(128)) + co.flush()
    one_conn(os.path.join(out, "gzip_bomb.pcap"), 8774, [
        (True, b"GET /v2.1/servers HTTP/1.1\r\nHost: x\r\n\r\n"),
        (False, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(gz) + gz)])
    co = zlib.compressobj(9)
    zl = b"".join(co.compress(b"[" * (1 << 20)) for _ in range(64)) + co.flush()
    hdrs = b"\x0bcompressionS" + ls(b"application/x-zlib")
    one_conn(os.path.join(out, "zlib_bomb_oslo.pcap"), 5672, [
        (True, AMQP_HDR),
        (True, amqp_publish(1, b"nova", b"conductor", zl,
                            headers=struct.pack("!I", len(hdrs)) + hdrs))])


def case_amqp_channels(out):
    """Content started on 20,000 channels, never finished (cap: 256)."""
    pub = []
    for ch in range(1, 20001):
        pub.append(amqp_method(ch, 60, 40, struct.pack("!H", 0) + ss(b"nova") + ss(b"x") + b"\x00"))
        pub.append(amqp_frame(2, ch, struct.pack("!HHQH", 60, 0, 1000, 0)))
    one_conn(os.path.join(out, "amqp_channel_flood.pcap"), 5672,
             [(True, AMQP_HDR), (True, b"".join(pub))])


def case_slowloris(out, conns=1000):
    """conns connections each sending 60 KiB of one header block that never
    ends (under the 64 KiB limit: every byte is legitimately held)."""
    w = PcapWriter(os.path.join(out, "slowloris.pcap"))
    head = b"GET /v2.1/servers HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"p" * 1000 + b"\r\n"
    body = head + (b"X-Pad: " + b"p" * 1000 + b"\r\n") * 59
    cs = [TcpConn(w, 20000 + i, 8774, cli="10.1.%d.%d" % (i // 250, i % 250 + 1))
          for i in range(conns)]
    for off in range(0, len(body), SEG):
        for c in cs:
            chunk = body[off:off + SEG]
            w.write(frame(c.cli, c.srv, c.sport, c.dport, c.cseq, c.sseq, PSH | ACK, chunk),
                    step_us=1)
            c.cseq += len(chunk)
    w.close()


def case_clock(out):
    """Packet times that run backwards, jump 100 years ahead, are zero."""
    w = PcapWriter(os.path.join(out, "clock_chaos.pcap"))
    c = TcpConn(w, 40000, 8774)
    c.send(b"GET /v2.1/servers HTTP/1.1\r\nHost: x\r\n\r\n")
    w.t_us -= 3600 * 1_000_000  # an hour back
    c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", from_client=False)
    w.t_us = 0
    c.send(b"GET /v2.1/flavors HTTP/1.1\r\nHost: x\r\n\r\n")
    w.t_us = 4_000_000_000 * 1_000_000  # year 2096
    c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", from_client=False)
    c.close()
    w.close()


def pcapng_block(btype, body):
    pad = (-len(body)) % 4
    n = 12 + len(body) + pad
    return struct.pack("<II", btype, n) + body + b"\x00" * pad + struct.pack("<I", n)


def case_pcapng(out):
    cli, srv = ip4("127.0.0.1"), ip4("127.0.0.2")
    shb = pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    idb = pcapng_block(1, struct.pack("<HHI", LINKTYPE_ETHERNET, 0, 262144))

    def epb(ifid, data, t):
        return pcapng_block(6, struct.pack("<IIIII", ifid, t >> 32, t & 0xFFFFFFFF,
                                           len(data), len(data)) + data)
    t0 = 1_700_000_000 * 1_000_000
    pkts = [frame(cli, srv, 40000 + i, 8774, 1, 0, SYN) for i in range(10)]
    blob = shb + idb
    for i, p in enumerate(pkts):
        blob += pcapng_block(0x0BAD0000 + i, b"unknown block %d" % i)  # skipped
        blob += pcapng_block(0x80000001, b"\x00\x00\x7e\xd9custom")       # custom
        blob += epb(0, p, t0 + i)
    with open(os.path.join(out, "pcapng_unknown.pcapng"), "wb") as f:
        f.write(blob)
    # a packet on an interface that was never described
    bad = shb + idb + epb(0, pkts[0], t0) + epb(7, pkts[1], t0 + 1) + epb(0, pkts[2], t0 + 2)
    with open(os.path.join(out, "pcapng_bad_ifid.pcapng"), "wb") as f:
        f.write(bad)
    # a block claiming 2 GiB
    huge = shb + idb + epb(0, pkts[0], t0) + struct.pack("<II", 6, 0x7FFFFFFC) + b"\x00" * 64
    with open(os.path.join(out, "pcapng_huge_block.pcapng"), "wb") as f:
        f.write(huge)


def case_synflood(out, flows):
    """flows SYNs, each from a distinct 10.x.y.z address (varied port), to 8774 / 5672."""
    path = os.path.join(out, "synflood.pcap")
    dst = ip4("192.168.0.1")
    eth = MAC_B + MAC_A + b"\x08\x00"
    hdr_fixed = sum(struct.unpack("!6H", struct.pack(
        "!BBHHHBBH", 0x45, 0, 40, 0, 0x4000, 64, 6, 0)))
    hdr_fixed += sum(struct.unpack("!2H", dst))
    sec0 = 1_700_000_000
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", PCAP_MAGIC, 2, 4, 0, 0, 262144,
                            LINKTYPE_ETHERNET))
        buf = []
        for i in range(flows):
            # i -> a is injective for i < 2^24 - 3 (gcd(40503, 2^24 - 3) = 1),
            # so every SYN has its own address, spread over 10.0.0.0/8.
            a = 1 + (i * 40503) % 16777213
            sport = 1024 + (i * 7) % 60000
            src = struct.pack("!I", (10 << 24) | a)
            s = hdr_fixed + (10 << 8) + ((a >> 16) & 0xFF) + (a & 0xFFFF)
            s = (s & 0xFFFF) + (s >> 16)
            s = (s & 0xFFFF) + (s >> 16)
            csum = (~s) & 0xFFFF
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0x4000, 64, 6,
                             csum, src, dst)
            dport = 8774 if i % 2 == 0 else 5672
            tcp = struct.pack("!HHIIBBHHH", sport, dport, (i * 7919) & 0xFFFFFFFF, 0,
                              5 << 4, SYN, 65535, 0, 0)
            t = i * 5  # 5 us apart: 1M SYNs in 5 s
            buf.append(struct.pack("<IIII", sec0 + t // 1_000_000,
                                   t % 1_000_000, 54, 54))
            buf.append(eth + ip + tcp)
            if len(buf) >= 20000:
                f.write(b"".join(buf))
                buf = []
        f.write(b"".join(buf))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--flows", type=int, default=1_000_000)
    ap.add_argument("--src", action="append",
                    help="real capture(s) to damage (first: truncation, snaplen)")
    a = ap.parse_args()
    srcs = a.src or ["testdata/s2p_novalidhost_capacity.pcap"]
    os.makedirs(a.outdir, exist_ok=True)
    case_truncated(a.outdir, srcs[0])
    case_snaplen(a.outdir, srcs[0])
    case_bitflip(a.outdir, srcs)
    case_merged(a.outdir, srcs)
    case_garbage(a.outdir)
    case_long_lines(a.outdir)
    case_deep_json(a.outdir)
    case_pcap_records(a.outdir)
    case_linktype(a.outdir)
    case_bogus_headers(a.outdir)
    case_reasm(a.outdir)
    case_pcapng(a.outdir)
    case_bombs(a.outdir)
    case_amqp_channels(a.outdir)
    case_slowloris(a.outdir)
    case_clock(a.outdir)
    case_synflood(a.outdir, a.flows)


if __name__ == "__main__":
    main()
