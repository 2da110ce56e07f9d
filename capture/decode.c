/* decode.c -- link, network and transport decoding of one frame (see decode.h).
 *
 * Link layers: Ethernet II (IEEE 802.3) with 802.1Q / 802.1ad / 0x9100 tags,
 * Linux cooked v1 (16-byte header) and v2 (20-byte header), BSD null and
 * loopback (4-byte address family), raw IP. IPv4 (RFC 791), IPv6 (RFC 8200)
 * with extension headers, TCP (RFC 9293). Every read goes through the rd_*
 * cursor of span.h; nothing is cast onto packet bytes. */
#include "capture/decode.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "capture/span.h"

/* libpcap link types (values of pcap-linktype(7), fixed by tcpdump.org) */
#define DLT_NULL_ 0
#define DLT_EN10MB_ 1
#define DLT_RAW_A 12   /* DLT_RAW on most systems */
#define DLT_RAW_B 14   /* DLT_RAW on OpenBSD */
#define LINKTYPE_RAW_ 101
#define DLT_LOOP_ 108
#define DLT_LINUX_SLL_ 113
#define LINKTYPE_IPV4_ 228
#define LINKTYPE_IPV6_ 229
#define DLT_LINUX_SLL2_ 276

#define ETH_IPV4 0x0800
#define ETH_IPV6 0x86dd
#define ETH_VLAN 0x8100
#define ETH_QINQ 0x88a8
#define ETH_QINQ_OLD 0x9100

#define MAX_VLAN_TAGS 8   /* more nested tags than any sane network uses */
#define MAX_IPV6_EXT 16   /* extension headers followed before giving up */

/* Count a damaged or unsupported packet under name and keep a diagnostic
 * (the first few per counter, stats.h) saying what was wrong, with values. */
static int fail(struct stats *st, uint64_t ts, const char *name, int code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int fail(struct stats *st, uint64_t ts, const char *name, int code, const char *fmt, ...)
{
    if (!st)
        return code;
    uint64_t *c = stats_counter(st, name);
    if (*c >= STATS_DIAG_PER_KIND) { /* no message kept any more: skip formatting it */
        (*c)++;
        return code;
    }
    char msg[STATS_DIAG_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    stats_diag(st, name, ts, "decode: %s", msg);
    return code;
}

/* Count without a diagnostic: traffic that is fine but not ours (ARP, ...). */
static int skip(struct stats *st, const char *name, int code)
{
    if (st)
        stats_add(st, name, 1);
    return code;
}

/* A header cut short: what, and the bytes captured of the whole frame. */
#define TRUNC(st, ts, what, have)                                                                \
    fail(st, ts, "decode.truncated", DECODE_ERR_TRUNCATED, "%s header cut short (frame of %u " \
         "captured bytes)", what, (unsigned)(have))

/* IP version by the first nibble: 4, 6 or 0. */
static int ip_version(const struct rd *r)
{
    struct rd peek = *r; /* look, do not consume */
    int v = rd_u8(&peek) >> 4;
    return rd_ok(&peek) && (v == 4 || v == 6) ? v : 0;
}

/* Ethertype -> IP version (4, 6) or 0. Skips VLAN tags; for Ethernet and
 * cooked captures alike. Too many nested tags: -1 (counted). */
static int ethertype_ip(struct rd *r, uint16_t type, struct stats *st, uint64_t ts)
{
    int tags = 0;
    while (type == ETH_VLAN || type == ETH_QINQ || type == ETH_QINQ_OLD) {
        if (++tags > MAX_VLAN_TAGS)
            return fail(st, ts, "decode.vlan_too_deep", -1, "more than %d nested VLAN tags",
                        MAX_VLAN_TAGS);
        rd_skip(r, 2);     /* TCI: priority, DEI, VLAN id */
        type = rd_be16(r); /* the encapsulated type */
    }
    if (type == ETH_IPV4)
        return 4;
    if (type == ETH_IPV6)
        return 6;
    return 0;
}

/* BSD null / loopback: a 4-byte address family, in the capturing host's
 * byte order for DLT_NULL and network order for DLT_LOOP; accept both. */
static int null_family(uint32_t be)
{
    uint32_t le = ((be & 0xff) << 24) | ((be & 0xff00) << 8) | ((be >> 8) & 0xff00) | (be >> 24);
    uint32_t v[2] = {be, le};
    for (int i = 0; i < 2; i++) {
        if (v[i] == 2)
            return 4; /* AF_INET everywhere */
        if (v[i] == 24 || v[i] == 28 || v[i] == 30 || v[i] == 10)
            return 6; /* AF_INET6: NetBSD/OpenBSD, FreeBSD, Darwin, Linux */
    }
    return 0;
}

/* Decode the IPv4 header at r; sets out addresses, proto and the end of
 * the IP datagram (*ip_end, within the capture) and its wire payload size. */
static int decode_ipv4(struct rd *r, struct pkt *out, const uint8_t **ip_end,
                       uint32_t *l4_wire, struct stats *st)
{
    const uint8_t *start = r->p;
    size_t cap = rd_left(r);
    uint64_t ts = out->ts_us;
    /* bytes of the datagram on the wire: the frame less its link header */
    uint32_t before = out->cap_len - (uint32_t)cap;
    uint32_t wire = out->wire_len > before ? out->wire_len - before : 0;
    uint8_t vihl = rd_u8(r);
    rd_skip(r, 1); /* DSCP/ECN */
    uint16_t total = rd_be16(r);
    rd_skip(r, 2); /* identification */
    uint16_t frag = rd_be16(r);
    rd_skip(r, 1); /* TTL */
    uint8_t proto = rd_u8(r);
    rd_skip(r, 2); /* header checksum */
    struct span s = rd_span(r, 4);
    struct span d = rd_span(r, 4);
    if (!rd_ok(r))
        return TRUNC(st, ts, "IPv4", out->cap_len);
    unsigned ihl = (vihl & 0x0f) * 4u;
    if ((vihl >> 4) != 4 || ihl < 20)
        return fail(st, ts, "decode.bad_ip", DECODE_ERR_BAD_IP,
                    "IPv4 version %u header length %u < 20", vihl >> 4, ihl);
    if (total == 0 && out->wire_len > 0) {
        /* TSO/GSO segments captured before segmentation carry length 0:
         * take the wire length from the IP header onwards. */
        if (st)
            stats_add(st, "decode.ipv4_len_zero", 1);
        if (wire < ihl)
            return fail(st, ts, "decode.bad_ip", DECODE_ERR_BAD_IP,
                        "IPv4 header length %u > %u bytes on the wire", ihl, wire);
        *l4_wire = wire - ihl;
        rd_skip(r, ihl - 20); /* options */
        if (!rd_ok(r))
            return TRUNC(st, ts, "IPv4 options", out->cap_len);
        *ip_end = start + cap;
    } else {
        if (total < ihl)
            return fail(st, ts, "decode.bad_ip", DECODE_ERR_BAD_IP,
                        "IPv4 total length %u < header length %u", total, ihl);
        /* A datagram longer than the frame that carried it is a bogus
         * length, not a snaplen cut: taken at its word it would turn into
         * a gap of up to 64 KiB in the TCP stream. */
        if (total > wire)
            return fail(st, ts, "decode.bad_ip", DECODE_ERR_BAD_IP,
                        "IPv4 total length %u > %u bytes on the wire", total, wire);
        rd_skip(r, ihl - 20); /* options (RFC 791 §3.1), not interpreted */
        if (!rd_ok(r))
            return TRUNC(st, ts, "IPv4 options", out->cap_len);
        *l4_wire = total - ihl;
        /* Ethernet padding may follow the datagram: stop at total length */
        *ip_end = start + (cap < total ? cap : total);
    }
    if ((frag & 0x3fff) != 0) /* MF set or a non-zero offset */
        return fail(st, ts, "decode.fragment", DECODE_ERR_FRAGMENT,
                    "IPv4 fragment (offset %u%s) not reassembled", (frag & 0x1fffu) * 8u,
                    (frag & 0x2000) ? ", more fragments" : "");
    out->family = 4;
    memcpy(out->src, s.p, 4);
    memcpy(out->dst, d.p, 4);
    out->ip_proto = proto;
    return 0;
}

/* Decode the IPv6 header and its extension headers (RFC 8200 §4). */
static int decode_ipv6(struct rd *r, struct pkt *out, const uint8_t **ip_end,
                       uint32_t *l4_wire, struct stats *st)
{
    const uint8_t *start = r->p;
    size_t cap = rd_left(r);
    uint64_t ts = out->ts_us;
    uint32_t before = out->cap_len - (uint32_t)cap;
    uint32_t wire = out->wire_len > before ? out->wire_len - before : 0;
    uint32_t vtf = rd_be32(r);
    uint16_t plen = rd_be16(r);
    uint8_t nh = rd_u8(r);
    rd_skip(r, 1); /* hop limit */
    struct span s = rd_span(r, 16);
    struct span d = rd_span(r, 16);
    if (!rd_ok(r))
        return TRUNC(st, ts, "IPv6", out->cap_len);
    if ((vtf >> 28) != 6)
        return fail(st, ts, "decode.bad_ip", DECODE_ERR_BAD_IP, "IPv6 header of version %u",
                    vtf >> 28);
    uint64_t total = 40u + (uint64_t)plen;
    if (plen == 0) {
        /* jumbogram or TSO: the wire length decides */
        total = wire;
        if (total < 40)
            total = 40;
    } else if (total > wire) {
        /* as for IPv4: a length the frame cannot hold is bogus */
        return fail(st, ts, "decode.bad_ip", DECODE_ERR_BAD_IP,
                    "IPv6 payload length %u > %u bytes on the wire", plen,
                    wire > 40 ? wire - 40 : 0);
    }
    *ip_end = start + (cap < total ? cap : total);
    uint64_t used = 40;
    for (int i = 0;; i++) {
        if (i >= MAX_IPV6_EXT)
            return fail(st, ts, "decode.ipv6_too_many_ext", DECODE_ERR_BAD_IP,
                        "more than %d IPv6 extension headers", MAX_IPV6_EXT);
        size_t len;
        if (nh == 0 || nh == 43 || nh == 60) {
            /* hop-by-hop, routing, destination options: (len + 1) * 8 */
            uint8_t next = rd_u8(r);
            uint8_t hlen = rd_u8(r);
            len = ((size_t)hlen + 1) * 8;
            rd_skip(r, len - 2);
            nh = next;
        } else if (nh == 44) {
            /* fragment: next, reserved, offset(13) res(2) M(1), id(32) */
            uint8_t next = rd_u8(r);
            rd_skip(r, 1);
            uint16_t offm = rd_be16(r);
            rd_skip(r, 4);
            len = 8;
            if (rd_ok(r) && (offm & 0xfff9) != 0) /* offset != 0 or M set */
                return fail(st, ts, "decode.fragment", DECODE_ERR_FRAGMENT,
                            "IPv6 fragment (offset %u%s) not reassembled", (offm >> 3) * 8u,
                            (offm & 1) ? ", more fragments" : "");
            nh = next;
        } else if (nh == 51) {
            /* AH (RFC 4302): payload length in 4-octet units, minus 2 */
            uint8_t next = rd_u8(r);
            uint8_t hlen = rd_u8(r);
            len = ((size_t)hlen + 2) * 4;
            rd_skip(r, len - 2);
            nh = next;
        } else {
            break;
        }
        if (!rd_ok(r))
            return TRUNC(st, ts, "IPv6 extension", out->cap_len);
        used += len;
    }
    if (used > total)
        return fail(st, ts, "decode.bad_ip", DECODE_ERR_BAD_IP,
                    "IPv6 extension headers of %llu bytes > datagram of %llu",
                    (unsigned long long)used, (unsigned long long)total);
    *l4_wire = (uint32_t)(total - used);
    out->family = 6;
    memcpy(out->src, s.p, 16);
    memcpy(out->dst, d.p, 16);
    out->ip_proto = nh;
    return 0;
}

/* TCP header at r, the datagram ending at ip_end (captured part). */
static int decode_tcp(struct rd *r, const uint8_t *ip_end, uint32_t l4_wire, struct pkt *out,
                      struct stats *st)
{
    uint64_t ts = out->ts_us;
    struct rd t = rd_init(r->p, (size_t)(ip_end - r->p));
    out->sport = rd_be16(&t);
    out->dport = rd_be16(&t);
    out->seq = rd_be32(&t);
    out->ack = rd_be32(&t);
    uint8_t off = rd_u8(&t);
    out->tcp_flags = rd_u8(&t);
    out->window = rd_be16(&t);
    rd_skip(&t, 4); /* checksum, urgent pointer */
    if (!rd_ok(&t))
        return TRUNC(st, ts, "TCP", out->cap_len);
    unsigned hl = (off >> 4) * 4u;
    if (hl < 20 || hl > l4_wire)
        return fail(st, ts, "decode.bad_tcp", DECODE_ERR_BAD_TCP,
                    "TCP data offset %u bytes (segment of %u bytes) %u -> %u", hl, l4_wire,
                    out->sport, out->dport);
    /* options (RFC 9293 §3.2): walked only to check they are well formed */
    struct rd o = rd_init(t.p, rd_left(&t) < hl - 20 ? rd_left(&t) : hl - 20);
    rd_skip(&t, hl - 20);
    if (!rd_ok(&t))
        return TRUNC(st, ts, "TCP options", out->cap_len);
    while (rd_left(&o) > 0) {
        uint8_t kind = rd_u8(&o);
        if (kind == 0)
            break; /* end of option list */
        if (kind == 1)
            continue; /* no-operation */
        uint8_t len = rd_u8(&o);
        if (!rd_ok(&o) || len < 2 || len - 2u > rd_left(&o)) {
            /* the segment itself is still decoded */
            (void)fail(st, ts, "decode.tcp_bad_options", 0,
                       "TCP option %u of length %u in %zu bytes left %u -> %u", kind, len,
                       rd_left(&o) + 2, out->sport, out->dport);
            break;
        }
        rd_skip(&o, len - 2u);
    }
    out->payload = t.p;
    out->payload_len = (uint32_t)rd_left(&t);
    out->payload_wire = l4_wire - hl;
    if (out->payload_len > out->payload_wire)
        out->payload_len = out->payload_wire; /* trailing bytes past the datagram */
    if (out->payload_len < out->payload_wire) {
        out->truncated = 1;
        (void)fail(st, ts, "decode.snaplen_truncated", 0,
                   "TCP payload %u -> %u cut to %u of %u bytes by the snap length",
                   out->sport, out->dport, out->payload_len, out->payload_wire);
    }
    return 0;
}

/* The usual frame of a control plane -- Ethernet, IPv4 without options,
 * TCP without options or with NOP NOP Timestamps, nothing cut, no
 * fragment, no padding quirks -- decoded with one length check per
 * header instead of one per field: 1 with *out exactly as the general
 * path leaves it (nothing to count), 0 when the frame is anything else
 * (the general path then decodes it, diagnostics and all). Tests compare
 * the two on every packet of the bundled captures and on damaged copies. */
static int decode_fast(const uint8_t *p, uint32_t cap_len, uint32_t wire_len, uint64_t ts_us,
                       struct pkt *out)
{
    if (cap_len < 54 || wire_len < cap_len || be16_at(p + 12) != ETH_IPV4 || p[14] != 0x45 ||
        p[23] != 6 || (be16_at(p + 20) & 0x3fff) != 0)
        return 0;
    uint32_t total = be16_at(p + 16), cap_ip = cap_len - 14;
    if (total < 40 || total > wire_len - 14)
        return 0;
    uint32_t in_ip = cap_ip < total ? cap_ip : total; /* captured bytes of the datagram */
    const uint8_t *t = p + 34;
    uint32_t hl = (uint32_t)(t[12] >> 4) * 4u;
    if (hl < 20 || hl > in_ip - 20)
        return 0;
    if (hl == 32) {
        static const uint8_t nop_nop_ts[4] = {1, 1, 8, 10};
        if (memcmp(t + 20, nop_nop_ts, 4) != 0)
            return 0;
    } else if (hl != 20) {
        return 0;
    }
    uint32_t payload_wire = total - 20 - hl, payload_len = in_ip - 20 - hl;
    if (payload_len != payload_wire)
        return 0; /* cut by the snap length: the general path says so */
    memset(out, 0, sizeof(*out));
    out->ts_us = ts_us;
    out->cap_len = cap_len;
    out->wire_len = wire_len;
    out->family = 4;
    memcpy(out->src, p + 26, 4);
    memcpy(out->dst, p + 30, 4);
    out->ip_proto = 6;
    out->sport = be16_at(t);
    out->dport = be16_at(t + 2);
    out->seq = be32_at(t + 4);
    out->ack = be32_at(t + 8);
    out->tcp_flags = t[13];
    out->window = be16_at(t + 14);
    out->payload = t + hl;
    out->payload_len = payload_len;
    out->payload_wire = payload_wire;
    out->l3 = p + 14;
    out->l3_len = cap_ip;
    return 1;
}

int decode_packet(int linktype, const uint8_t *p, uint32_t cap_len, uint32_t wire_len,
                  uint64_t ts_us, struct pkt *out, struct stats *st)
{
    if (linktype == DLT_EN10MB_ && decode_fast(p, cap_len, wire_len, ts_us, out))
        return 0;
    return decode_packet_general(linktype, p, cap_len, wire_len, ts_us, out, st);
}

int decode_packet_general(int linktype, const uint8_t *p, uint32_t cap_len, uint32_t wire_len,
                          uint64_t ts_us, struct pkt *out, struct stats *st)
{
    memset(out, 0, sizeof(*out));
    out->ts_us = ts_us;
    out->cap_len = cap_len;
    out->wire_len = wire_len;
    if (wire_len < cap_len) {
        /* a record claiming more captured bytes than were on the wire: the
         * wire had at least what was captured */
        (void)fail(st, ts_us, "decode.caplen_over_wire", 0,
                   "record of %u captured bytes > wire length %u", cap_len, wire_len);
        out->wire_len = cap_len;
    }
    struct rd r = rd_init(p, cap_len);
    int ver = 0;
    switch (linktype) {
    case DLT_EN10MB_: {
        /* dst mac(6) src mac(6) ethertype(2) */
        rd_skip(&r, 12);
        uint16_t type = rd_be16(&r);
        if (!rd_ok(&r))
            return TRUNC(st, ts_us, "Ethernet", cap_len);
        if (type < 0x0600)
            return skip(st, "decode.not_ip", DECODE_ERR_NOT_IP); /* 802.3 length + LLC */
        ver = ethertype_ip(&r, type, st, ts_us);
        break;
    }
    case DLT_LINUX_SLL_: {
        /* packet type(2) ARPHRD(2) addr len(2) addr(8) protocol(2) */
        rd_skip(&r, 14);
        uint16_t type = rd_be16(&r);
        if (!rd_ok(&r))
            return TRUNC(st, ts_us, "Linux cooked", cap_len);
        ver = ethertype_ip(&r, type, st, ts_us);
        break;
    }
    case DLT_LINUX_SLL2_: {
        /* protocol(2) reserved(2) ifindex(4) ARPHRD(2) pkttype(1) addrlen(1) addr(8) */
        uint16_t type = rd_be16(&r);
        rd_skip(&r, 18);
        if (!rd_ok(&r))
            return TRUNC(st, ts_us, "Linux cooked v2", cap_len);
        ver = ethertype_ip(&r, type, st, ts_us);
        break;
    }
    case DLT_NULL_:
    case DLT_LOOP_: {
        uint32_t af = rd_be32(&r);
        if (!rd_ok(&r))
            return TRUNC(st, ts_us, "loopback", cap_len);
        ver = null_family(af);
        break;
    }
    case DLT_RAW_A:
    case DLT_RAW_B:
    case LINKTYPE_RAW_:
    case LINKTYPE_IPV4_:
    case LINKTYPE_IPV6_:
        if (rd_left(&r) == 0)
            return TRUNC(st, ts_us, "raw IP", cap_len);
        ver = ip_version(&r);
        if (!ver)
            return fail(st, ts_us, "decode.bad_ip", DECODE_ERR_BAD_IP,
                        "raw IP link (type %d): IP version %u", linktype, r.p[0] >> 4);
        break;
    default:
        return fail(st, ts_us, "decode.linktype", DECODE_ERR_LINKTYPE,
                    "link type %d not supported (Ethernet, Linux cooked, loopback, raw IP are)",
                    linktype);
    }
    if (ver < 0)
        return DECODE_ERR_NOT_IP; /* counted by ethertype_ip */
    if (!rd_ok(&r))
        return TRUNC(st, ts_us, "VLAN", cap_len);
    if (ver == 0)
        return skip(st, "decode.not_ip", DECODE_ERR_NOT_IP);

    out->l3 = r.p;
    out->l3_len = (uint32_t)rd_left(&r);
    const uint8_t *ip_end = NULL;
    uint32_t l4_wire = 0;
    int rc = ver == 4 ? decode_ipv4(&r, out, &ip_end, &l4_wire, st)
                      : decode_ipv6(&r, out, &ip_end, &l4_wire, st);
    if (rc < 0)
        return rc;
    if (out->ip_proto != 6)
        return 0;
    if (r.p > ip_end)
        return fail(st, ts_us, "decode.bad_ip", DECODE_ERR_BAD_IP,
                    "IP headers longer than the datagram");
    return decode_tcp(&r, ip_end, l4_wire, out, st);
}

void decode_addr_str(int family, const uint8_t *addr, char *buf, size_t len)
{
    if (len == 0)
        return;
    buf[0] = '\0';
    if (family != 6 && len >= 16) { /* dotted quad by hand: a flow's first packet */
        char *w = buf;
        for (int i = 0; i < 4; i++) {
            unsigned v = addr[i];
            if (v >= 100)
                *w++ = (char)('0' + v / 100);
            if (v >= 10)
                *w++ = (char)('0' + v / 10 % 10);
            *w++ = (char)('0' + v % 10);
            *w++ = i < 3 ? '.' : '\0';
        }
        return;
    }
    if (!inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, buf, (socklen_t)len))
        buf[0] = '\0';
}
