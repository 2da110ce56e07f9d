#!/usr/bin/env python3
"""Bad-input generator for osrca: writes damaged and hostile pcaps (stdlib only).

Usage: gen.py OUTDIR [--flows N] [--src PCAP]
Writes one .pcap per case into OUTDIR (classic libpcap, Ethernet/IPv4/TCP;
IPv4 header checksums computed, TCP checksums left 0). Deterministic: every
random choice comes from a fixed seed. The snaplen case is made by run.sh
in run.sh, not here.
"""
import argparse
import os
import random
import struct

PCAP_MAGIC = 0xA1B2C3D4
LINKTYPE_ETHERNET = 1
GHDR_LEN = 24
RHDR_LEN = 16

MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")

SEG = 1448  # TCP payload per segment for long messages


def ip_checksum(hdr):
    """One's-complement sum of a 20-byte IPv4 header (checksum field zero)."""
    s = sum(struct.unpack("!10H", hdr))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip4(a):
    return bytes(int(x) for x in a.split("."))


class PcapWriter:
    """Classic pcap writer with a monotonic microsecond clock."""

    def __init__(self, path, snaplen=262144):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", PCAP_MAGIC, 2, 4, 0, 0,
                                 snaplen, LINKTYPE_ETHERNET))
        self.t_us = 1_700_000_000 * 1_000_000

    def write(self, frame, step_us=10):
        self.t_us += step_us
        sec, usec = divmod(self.t_us, 1_000_000)
        self.f.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)))
        self.f.write(frame)

    def close(self):
        self.f.close()


def frame(src, dst, sport, dport, seq, ack, flags, payload=b"", ipid=0):
    """Ethernet/IPv4/TCP frame; src/dst are 4-byte addresses."""
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF,
                      ack & 0xFFFFFFFF, 5 << 4, flags, 65535, 0, 0)
    tot = 20 + len(tcp) + len(payload)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, tot, ipid & 0xFFFF, 0x4000,
                     64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", ip_checksum(ip)) + ip[12:]
    return MAC_B + MAC_A + b"\x08\x00" + ip + tcp + payload


FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


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
    with open(os.path.join(out, "trunc_ghdr.pcap"), "wb") as f:
        f.write(data[:13])


def case_bitflip(out, src):
    data = bytearray(open(src, "rb").read())
    nbits = (len(data) - GHDR_LEN) * 8
    for name, rate in (("1e-5", 1e-5), ("1e-4", 1e-4), ("1e-3", 1e-3)):
        rng = random.Random(7 + int(rate * 1e6))
        d = bytearray(data)
        flips = max(1, int(nbits * rate))
        for _ in range(flips):
            b = rng.randrange(nbits)
            d[GHDR_LEN + b // 8] ^= 1 << (b % 8)
        with open(os.path.join(out, "bitflip_%s.pcap" % name), "wb") as f:
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
    # AMQP protocol header, then a method frame claiming 0xFFFFFFFF bytes.
    big = struct.pack("!BHI", 1, 0, 0xFFFFFFFF) + rng.randbytes(8000)
    one_conn(os.path.join(out, "amqp_huge_frame.pcap"), 5672, [
        (True, b"AMQP\x00\x00\x09\x01"), (True, big)])
    one_conn(os.path.join(out, "http_bad_cl.pcap"), 8774, [
        (True, b"POST /v2.1/servers HTTP/1.1\r\nHost: x\r\n"
               b"Content-Type: application/json\r\n"
               b"Content-Length: twelve\r\n\r\n{\"a\": 1}"),
        (False, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")])


def case_long_lines(out):
    mb = 1 << 20
    one_conn(os.path.join(out, "long_request_line.pcap"), 8774, [
        (True, b"GET /" + b"a" * mb + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
        (False, b"HTTP/1.1 414 URI Too Long\r\nContent-Length: 0\r\n\r\n")])
    one_conn(os.path.join(out, "long_header_line.pcap"), 8774, [
        (True, b"GET /v2.1/servers HTTP/1.1\r\nHost: x\r\nX-Big: "
               + b"b" * mb + b"\r\n\r\n"),
        (False, b"HTTP/1.1 431 Too Large\r\nContent-Length: 0\r\n\r\n")])


def case_deep_json(out):
    body = b"[" * 100000
    one_conn(os.path.join(out, "deep_json.pcap"), 8774, [
        (True, b"POST /v2.1/servers HTTP/1.1\r\nHost: x\r\n"
               b"Content-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n" % len(body) + body),
        (False, b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                b"Content-Length: 2\r\n\r\n{}")])


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
    ap.add_argument("--src", default="testdata/s2p_novalidhost_capacity.pcap")
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    case_truncated(a.outdir, a.src)
    case_bitflip(a.outdir, a.src)
    case_garbage(a.outdir)
    case_long_lines(a.outdir)
    case_deep_json(a.outdir)
    case_synflood(a.outdir, a.flows)


if __name__ == "__main__":
    main()
