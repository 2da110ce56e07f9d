#!/usr/bin/env python3
"""shift_pcap.py IN OUT SECONDS -- every packet of a capture SECONDS later
(a host whose clock is off): classic pcap (us or ns) and pcapng (enhanced
packet blocks, each interface's if_tsresol honoured)."""
import struct
import sys


def shift_pcap(d, secs):
    magic = d[:4]
    e = '<' if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1') else '>'
    o = 24
    while o + 16 <= len(d):
        sec, _, cap, _ = struct.unpack_from(e + 'IIII', d, o)
        struct.pack_into(e + 'I', d, o, sec + secs)
        o += 16 + cap


def shift_pcapng(d, secs):
    o, e, res = 0, '<', []
    while o + 12 <= len(d):
        btype = struct.unpack_from('<I', d, o)[0]
        if btype == 0x0A0D0D0A:  # section header: its byte order
            e = '<' if d[o + 8:o + 12] == b'\x4d\x3c\x2b\x1a' else '>'
            res = []
        blen = struct.unpack_from(e + 'I', d, o + 4)[0]
        if blen < 12 or o + blen > len(d):
            raise SystemExit('shift_pcap: bad block at %d' % o)
        if btype == 1:  # interface description: options after 8 bytes of body
            r, p = 1e6, o + 16
            while p + 4 <= o + blen - 4:
                code, ln = struct.unpack_from(e + 'HH', d, p)
                if code == 0:
                    break
                if code == 9 and ln >= 1:
                    v = d[p + 4]
                    r = 2 ** (v & 0x7f) if v & 0x80 else 10 ** v
                p += 4 + ((ln + 3) & ~3)
            res.append(r)
        elif btype == 6:  # enhanced packet
            ifid, hi, lo = struct.unpack_from(e + 'III', d, o + 8)
            t = (hi << 32 | lo) + int(secs * (res[ifid] if ifid < len(res) else 1e6))
            struct.pack_into(e + 'II', d, o + 12, t >> 32, t & 0xffffffff)
        o += blen


def main():
    src, dst, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
    d = bytearray(open(src, 'rb').read())
    if d[:4] == b'\x0a\x0d\x0d\x0a':
        shift_pcapng(d, secs)
    else:
        shift_pcap(d, int(secs))
    open(dst, 'wb').write(d)


if __name__ == '__main__':
    main()
