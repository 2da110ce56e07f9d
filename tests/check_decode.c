/* check_decode.c -- link/IP/TCP decoding (capture/decode.c) on hand-built
 * frames: every link type, VLAN tags, IPv4 options, IPv6 extension
 * headers, fragments, truncation at every length, malformed headers.
 *
 * Every frame is copied to the end of an exactly-sized malloc before it is
 * decoded, so a one-byte overread is caught by ASan. The fast path for the
 * usual Ethernet/IPv4/TCP frame is compared with the general one on every
 * packet of the bundled captures and on damaged copies of them. */
#include <arpa/inet.h>
#include <check.h>
#include <glob.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/decode.h"
#include "capture/stats.h"
#include "tests/xorshift.h"

static struct stats *st;

static void setup(void)
{
    st = stats_new();
}

static void teardown(void)
{
    stats_free(st);
}

/* IPv4 + TCP + "GET " (44 bytes) */
static const uint8_t ip4_tcp[] = {
    0x45, 0x00,             /* version 4, IHL 5 (20 bytes); DSCP/ECN */
    0x00, 0x2c,             /* total length 44 */
    0x12, 0x34, 0x40, 0x00, /* id; flags DF, fragment offset 0 */
    0x40, 0x06, 0x00, 0x00, /* TTL 64, protocol 6 (TCP); header checksum */
    10, 0, 0, 1,            /* source 10.0.0.1 */
    10, 0, 0, 2,            /* destination 10.0.0.2 */
    0x9c, 0x40, 0x22, 0x46, /* TCP: source port 40000, destination port 8774 */
    0x00, 0x00, 0x00, 0x01, /* sequence number 1 */
    0x00, 0x00, 0x00, 0x02, /* acknowledgment number 2 */
    0x50, 0x18, 0xff, 0xff, /* data offset 5 (20 bytes), flags PSH|ACK; window 65535 */
    0x00, 0x00, 0x00, 0x00, /* checksum, urgent pointer */
    'G', 'E', 'T', ' ',     /* payload "GET " */
};

/* IPv6 + TCP + "GET " (64 bytes) */
static const uint8_t ip6_tcp[] = {
    0x60, 0x00, 0x00, 0x00, /* version 6, traffic class 0, flow label 0 */
    0x00, 0x18, 0x06, 0x40, /* payload length 24; next header 6 (TCP); hop limit 64 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, /* source ::1 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, /* destination ::2 */
    0x9c, 0x40, 0x22, 0x46, /* TCP: ports 40000 -> 8774 */
    0x00, 0x00, 0x00, 0x01, /* seq 1 */
    0x00, 0x00, 0x00, 0x02, /* ack 2 */
    0x50, 0x18, 0xff, 0xff, /* data offset 5, PSH|ACK, window */
    0x00, 0x00, 0x00, 0x00, /* checksum, urgent pointer */
    'G', 'E', 'T', ' ',     /* payload "GET " */
};

/* Concatenate link header and L3 into an exactly-sized buffer. */
static uint8_t *frame(const uint8_t *hdr, size_t hl, const uint8_t *l3, size_t l3n, size_t *n)
{
    *n = hl + l3n;
    uint8_t *b = malloc(*n ? *n : 1);
    if (hl)
        memcpy(b, hdr, hl);
    memcpy(b + hl, l3, l3n);
    return b;
}

struct linkcase {
    const char *name;
    int dlt;
    uint8_t hdr[32];
    size_t hl;
    int v6;
};

static const struct linkcase links[] = {
    {"ethernet", 1,
     {1, 2, 3, 4, 5, 6,  /* destination MAC */
      7, 8, 9, 10, 11, 12, /* source MAC */
      0x08, 0x00},          /* ethertype IPv4 */
     14, 0},
    {"ethernet-v6", 1,
     {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, /* MACs */
      0x86, 0xdd},                           /* ethertype IPv6 */
     14, 1},
    {"802.1q", 1,
     {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, /* MACs */
      0x81, 0x00, 0x00, 0x64,                /* 802.1Q tag, VLAN 100 */
      0x08, 0x00},                           /* IPv4 */
     18, 0},
    {"qinq-88a8", 1,
     {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, /* MACs */
      0x88, 0xa8, 0x00, 0x0a,                /* 802.1ad S-tag, VLAN 10 */
      0x81, 0x00, 0x00, 0x64,                /* 802.1Q C-tag, VLAN 100 */
      0x08, 0x00},                           /* IPv4 */
     22, 0},
    {"qinq-9100", 1,
     {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, /* MACs */
      0x91, 0x00, 0x00, 0x0a,                /* old QinQ tag 0x9100 */
      0x81, 0x00, 0x00, 0x64,                /* 802.1Q */
      0x86, 0xdd},                           /* IPv6 */
     22, 1},
    {"sll", 113,
     {0x00, 0x00,                   /* packet type: to us */
      0x00, 0x01,                   /* ARPHRD_ETHER */
      0x00, 0x06,                   /* address length 6 */
      1, 2, 3, 4, 5, 6, 0, 0,       /* address, padded to 8 */
      0x08, 0x00},                  /* protocol IPv4 */
     16, 0},
    {"sll-v6", 113,
     {0x00, 0x04, 0x03, 0x04, 0x00, 0x00, /* outgoing, ARPHRD_LOOPBACK, addr len 0 */
      0, 0, 0, 0, 0, 0, 0, 0,             /* address */
      0x86, 0xdd},                        /* IPv6 */
     16, 1},
    {"sll2", 276,
     {0x08, 0x00,             /* protocol IPv4 */
      0x00, 0x00,             /* reserved */
      0x00, 0x00, 0x00, 0x02, /* interface index 2 */
      0x00, 0x01,             /* ARPHRD_ETHER */
      0x00, 0x06,             /* packet type, address length 6 */
      1, 2, 3, 4, 5, 6, 0, 0}, /* address */
     20, 0},
    {"sll2-vlan", 276,
     {0x81, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, /* protocol 802.1Q, reserved, ifindex */
      0x00, 0x01, 0x00, 0x06, 1, 2, 3, 4, 5, 6, 0, 0, /* ARPHRD, type, len, address */
      0x00, 0x64, 0x08, 0x00},                        /* VLAN 100, IPv4 */
     24, 0},
    {"null-le-inet", 0, {0x02, 0x00, 0x00, 0x00}, 4, 0},  /* AF_INET, little-endian host */
    {"null-be-inet", 0, {0x00, 0x00, 0x00, 0x02}, 4, 0},  /* AF_INET, big-endian host */
    {"null-le-inet6-30", 0, {0x1e, 0x00, 0x00, 0x00}, 4, 1}, /* AF_INET6 Darwin */
    {"null-be-inet6-24", 0, {0x00, 0x00, 0x00, 0x18}, 4, 1}, /* AF_INET6 NetBSD/OpenBSD */
    {"null-le-inet6-28", 0, {0x1c, 0x00, 0x00, 0x00}, 4, 1}, /* AF_INET6 FreeBSD */
    {"loop-inet", 108, {0x00, 0x00, 0x00, 0x02}, 4, 0},   /* DLT_LOOP: network order */
    {"loop-inet6-le", 108, {0x18, 0x00, 0x00, 0x00}, 4, 1}, /* either order accepted */
    {"raw12", 12, {0}, 0, 0},
    {"raw14-v6", 14, {0}, 0, 1},
    {"raw101", 101, {0}, 0, 0},
    {"raw101-v6", 101, {0}, 0, 1},
};

static void check_tcp(const struct pkt *p, int v6)
{
    ck_assert_int_eq(p->family, v6 ? 6 : 4);
    ck_assert_int_eq(p->ip_proto, 6);
    ck_assert_uint_eq(p->sport, 40000);
    ck_assert_uint_eq(p->dport, 8774);
    ck_assert_uint_eq(p->seq, 1);
    ck_assert_uint_eq(p->ack, 2);
    ck_assert_uint_eq(p->tcp_flags, DECODE_TCP_PSH | DECODE_TCP_ACK);
    ck_assert_uint_eq(p->window, 65535);
    if (v6) {
        ck_assert_uint_eq(p->src[15], 1);
        ck_assert_uint_eq(p->dst[15], 2);
    } else {
        ck_assert_uint_eq(p->src[0], 10);
        ck_assert_uint_eq(p->src[3], 1);
        ck_assert_uint_eq(p->dst[3], 2);
    }
}

START_TEST(link_types)
{
    const struct linkcase *lc = &links[_i];
    const uint8_t *l3 = lc->v6 ? ip6_tcp : ip4_tcp;
    size_t l3n = lc->v6 ? sizeof(ip6_tcp) : sizeof(ip4_tcp);
    size_t n;
    uint8_t *b = frame(lc->hdr, lc->hl, l3, l3n, &n);
    struct pkt p;
    int rc = decode_packet(lc->dlt, b, (uint32_t)n, (uint32_t)n, 1234567, &p, st);
    ck_assert_msg(rc == 0, "%s: rc %d", lc->name, rc);
    check_tcp(&p, lc->v6);
    ck_assert_uint_eq(p.ts_us, 1234567);
    ck_assert_uint_eq(p.payload_len, 4);
    ck_assert_uint_eq(p.payload_wire, 4);
    ck_assert_int_eq(memcmp(p.payload, "GET ", 4), 0);
    ck_assert_int_eq(p.truncated, 0);
    ck_assert_ptr_eq(p.l3, b + lc->hl);
    ck_assert_uint_eq(p.l3_len, l3n);
    free(b);

    /* cut at every length: headers cut short are errors; a cut payload is
     * still decoded, flagged truncated */
    size_t hdr_end = lc->hl + l3n - 4;
    for (size_t cut = 0; cut < n; cut++) {
        uint8_t *c = malloc(cut ? cut : 1);
        memcpy(c, lc->hdr, cut < lc->hl ? cut : lc->hl);
        if (cut > lc->hl)
            memcpy(c + lc->hl, l3, cut - lc->hl);
        rc = decode_packet(lc->dlt, c, (uint32_t)cut, (uint32_t)n, 1, &p, st);
        if (cut < hdr_end) {
            ck_assert_msg(rc == DECODE_ERR_TRUNCATED, "%s cut %zu: rc %d", lc->name, cut, rc);
        } else {
            ck_assert_msg(rc == 0, "%s cut %zu: rc %d", lc->name, cut, rc);
            ck_assert_uint_eq(p.payload_len, cut - hdr_end);
            ck_assert_uint_eq(p.payload_wire, 4);
            ck_assert_int_eq(p.truncated, 1);
        }
        free(c);
    }
}
END_TEST

static int decode_exact(int dlt, const uint8_t *f, size_t n, struct pkt *p, uint8_t **keep)
{
    uint8_t *b = malloc(n ? n : 1);
    memcpy(b, f, n);
    int rc = decode_packet(dlt, b, (uint32_t)n, (uint32_t)n, 0, p, st);
    if (keep)
        *keep = b;
    else
        free(b);
    return rc;
}

START_TEST(ipv4_options_tcp_options)
{
    static const uint8_t f[] = {
        0x46, 0x00, 0x00, 0x3c, /* IHL 6 (24 bytes), total length 60 */
        0x00, 0x01, 0x00, 0x00, /* id 1, no flags */
        0x40, 0x06, 0x00, 0x00, /* TTL, TCP, checksum */
        192, 168, 1, 1, 192, 168, 1, 2, /* 192.168.1.1 -> 192.168.1.2 */
        0x01, 0x01, 0x01, 0x00, /* options: NOP NOP NOP EOL */
        0x13, 0x88, 0x00, 0x50, /* TCP 5000 -> 80 */
        0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00, /* seq 10, ack 0 */
        0x80, 0x02, 0x10, 0x00, /* data offset 8 (32 bytes), SYN, window 4096 */
        0x00, 0x00, 0x00, 0x00, /* checksum, urgent */
        0x02, 0x04, 0x05, 0xb4, /* MSS 1460 */
        0x04, 0x02, 0x01, 0x01, /* SACK permitted, NOP, NOP */
        0x03, 0x03, 0x07, 0x01, /* window scale 7, NOP */
        'h', 'i', '!', '\n',    /* payload (data on a SYN: TFO style) */
    };
    struct pkt p;
    uint8_t *b;
    ck_assert_int_eq(decode_exact(101, f, sizeof(f), &p, &b), 0);
    ck_assert_uint_eq(p.sport, 5000);
    ck_assert_uint_eq(p.dport, 80);
    ck_assert_uint_eq(p.seq, 10);
    ck_assert_uint_eq(p.tcp_flags, DECODE_TCP_SYN);
    ck_assert_uint_eq(p.payload_len, 4);
    ck_assert_int_eq(memcmp(p.payload, "hi!\n", 4), 0);
    ck_assert_uint_eq(*stats_counter(st, "decode.tcp_bad_options"), 0);
    free(b);
}
END_TEST

START_TEST(ethernet_padding)
{
    /* a 60-byte minimum frame: IPv4 total length 40 (bare ACK) + 6 padding bytes */
    uint8_t f[60] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0x00};
    memcpy(f + 14, ip4_tcp, 40);
    f[14 + 3] = 40; /* total length 40: no payload */
    memset(f + 54, 0xAA, 6); /* padding, not payload */
    struct pkt p;
    ck_assert_int_eq(decode_exact(1, f, sizeof(f), &p, NULL), 0);
    ck_assert_uint_eq(p.payload_len, 0);
    ck_assert_uint_eq(p.payload_wire, 0);
    ck_assert_int_eq(p.truncated, 0);
}
END_TEST

START_TEST(ipv6_extension_headers)
{
    static const uint8_t f[] = {
        0x60, 0x00, 0x00, 0x00, /* IPv6 */
        0x00, 0x50, 0x00, 0x40, /* payload length 80; next: hop-by-hop (0) */
        0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, /* fe80::1 */
        0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, /* fe80::2 */
        43, 0, 0x01, 0x04, 0, 0, 0, 0,  /* hop-by-hop: next routing, len 0 (8), PadN */
        60, 0, 0x04, 0x00, 0, 0, 0, 0,  /* routing: next dest-opts, len 0, type 4, left 0 */
        44, 0, 0x01, 0x04, 0, 0, 0, 0,  /* destination options: next fragment, PadN */
        51, 0, 0x00, 0x00, 0, 0, 0, 7,  /* fragment: next AH, offset 0, M 0 (atomic), id 7 */
        6, 4, 0, 0,                     /* AH: next TCP, length 4 -> (4+2)*4 = 24 bytes */
        0, 0, 0, 1, 0, 0, 0, 1,         /* SPI, sequence */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* ICV (12 bytes) */
        0x9c, 0x40, 0x22, 0x46, 0, 0, 0, 1, 0, 0, 0, 2, /* TCP 40000 -> 8774, seq 1, ack 2 */
        0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0, /* offset 5, PSH|ACK */
        'G', 'E', 'T', ' ',
    };
    struct pkt p;
    uint8_t *b;
    ck_assert_int_eq(decode_exact(101, f, sizeof(f), &p, &b), 0);
    check_tcp(&p, 1);
    ck_assert_uint_eq(p.payload_len, 4);
    ck_assert_int_eq(memcmp(p.payload, "GET ", 4), 0);
    char s[64];
    decode_addr_str(6, p.src, s, sizeof(s));
    ck_assert_str_eq(s, "fe80::1");
    free(b);
    /* cut inside any extension header: truncated, never an overread */
    for (size_t cut = 40; cut < 40 + 56 + 20; cut++) {
        uint8_t *c = malloc(cut);
        memcpy(c, f, cut);
        int rc = decode_packet(101, c, (uint32_t)cut, sizeof(f), 0, &p, st);
        ck_assert_msg(rc == DECODE_ERR_TRUNCATED, "cut %zu rc %d", cut, rc);
        free(c);
    }
}
END_TEST

START_TEST(ipv6_fragment_and_limits)
{
    uint8_t f[40 + 8 + 20];
    memcpy(f, ip6_tcp, 40);
    f[4] = 0, f[5] = 28; /* payload length: fragment header + TCP */
    f[6] = 44;           /* next header: fragment */
    uint8_t frag[8] = {6, 0, 0x00, 0x08, 0, 0, 0, 9}; /* next TCP, offset 1 (8 bytes), M 0 */
    memcpy(f + 40, frag, 8);
    memcpy(f + 48, ip6_tcp + 40, 20);
    struct pkt p;
    ck_assert_int_eq(decode_exact(101, f, sizeof(f), &p, NULL), DECODE_ERR_FRAGMENT);
    f[43] = 0x01; /* offset 0, M set: first fragment */
    ck_assert_int_eq(decode_exact(101, f, sizeof(f), &p, NULL), DECODE_ERR_FRAGMENT);
    ck_assert_uint_eq(*stats_counter(st, "decode.fragment"), 2);

    /* 17 destination-options headers: more than the decoder follows */
    uint8_t g[40 + 17 * 8];
    memcpy(g, ip6_tcp, 40);
    g[4] = 0, g[5] = 17 * 8;
    g[6] = 60;
    for (int i = 0; i < 17; i++) {
        uint8_t *h = g + 40 + i * 8;
        memset(h, 0, 8);
        h[0] = i == 16 ? 59 : 60; /* next: dest-opts, the last "no next header" */
        h[2] = 0x01, h[3] = 0x04; /* PadN */
    }
    ck_assert_int_eq(decode_exact(101, g, sizeof(g), &p, NULL), DECODE_ERR_BAD_IP);
    ck_assert_uint_eq(*stats_counter(st, "decode.ipv6_too_many_ext"), 1);
    /* "no next header" after one option header: IP, not TCP */
    g[40] = 59;
    g[5] = 8;
    ck_assert_int_eq(decode_exact(101, g, 48, &p, NULL), 0);
    ck_assert_int_eq(p.ip_proto, 59);
}
END_TEST

START_TEST(ipv4_fragments)
{
    uint8_t f[sizeof(ip4_tcp)];
    memcpy(f, ip4_tcp, sizeof(f));
    struct pkt p;
    f[6] = 0x20, f[7] = 0x00; /* MF set, offset 0 */
    ck_assert_int_eq(decode_exact(12, f, sizeof(f), &p, NULL), DECODE_ERR_FRAGMENT);
    f[6] = 0x00, f[7] = 0x03; /* offset 3 (24 bytes) */
    ck_assert_int_eq(decode_exact(12, f, sizeof(f), &p, NULL), DECODE_ERR_FRAGMENT);
    f[6] = 0x40, f[7] = 0x00; /* DF only: not a fragment */
    ck_assert_int_eq(decode_exact(12, f, sizeof(f), &p, NULL), 0);
    ck_assert_uint_eq(*stats_counter(st, "decode.fragment"), 2);
}
END_TEST

START_TEST(not_ip_and_bad_headers)
{
    struct pkt p;
    /* ARP */
    uint8_t arp[42] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 0x08, 0x06};
    ck_assert_int_eq(decode_exact(1, arp, sizeof(arp), &p, NULL), DECODE_ERR_NOT_IP);
    /* 802.3 length field (0x05dc) followed by LLC */
    uint8_t llc[20] = {1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6, 0x05, 0xdc, 0x42, 0x42, 0x03};
    ck_assert_int_eq(decode_exact(1, llc, sizeof(llc), &p, NULL), DECODE_ERR_NOT_IP);
    /* unknown link type (DLT_USER0) */
    ck_assert_int_eq(decode_exact(147, ip4_tcp, sizeof(ip4_tcp), &p, NULL), DECODE_ERR_LINKTYPE);
    /* DLT_NULL with AF 7 (not an IP family) */
    uint8_t nul[4 + sizeof(ip4_tcp)] = {7, 0, 0, 0};
    memcpy(nul + 4, ip4_tcp, sizeof(ip4_tcp));
    ck_assert_int_eq(decode_exact(0, nul, sizeof(nul), &p, NULL), DECODE_ERR_NOT_IP);

    uint8_t f[sizeof(ip4_tcp)];
    memcpy(f, ip4_tcp, sizeof(f));
    f[0] = 0x55; /* version 5 */
    ck_assert_int_eq(decode_exact(101, f, sizeof(f), &p, NULL), DECODE_ERR_BAD_IP);
    f[0] = 0x44; /* IHL 4: shorter than the fixed header */
    ck_assert_int_eq(decode_exact(101, f, sizeof(f), &p, NULL), DECODE_ERR_BAD_IP);
    f[0] = 0x45;
    f[3] = 10; /* total length 10 < IHL */
    ck_assert_int_eq(decode_exact(101, f, sizeof(f), &p, NULL), DECODE_ERR_BAD_IP);
    f[3] = 44;
    f[32] = 0x40; /* TCP data offset 4 */
    ck_assert_int_eq(decode_exact(101, f, sizeof(f), &p, NULL), DECODE_ERR_BAD_TCP);
    f[32] = 0xf0; /* data offset 15 (60 bytes) > the 24 bytes of the datagram */
    ck_assert_int_eq(decode_exact(101, f, sizeof(f), &p, NULL), DECODE_ERR_BAD_TCP);
    ck_assert_uint_eq(*stats_counter(st, "decode.bad_tcp"), 2);
    ck_assert_uint_eq(*stats_counter(st, "decode.bad_ip"), 3);
    ck_assert_uint_eq(*stats_counter(st, "decode.not_ip"), 3);
    ck_assert_uint_eq(*stats_counter(st, "decode.linktype"), 1);
    /* a bad TCP option length is counted, the packet still decodes */
    static const uint8_t g[] = {
        0x45, 0, 0, 44, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, /* IPv4 */
        0x9c, 0x40, 0x22, 0x46, 0, 0, 0, 1, 0, 0, 0, 2, /* TCP */
        0x60, 0x10, 0xff, 0xff, 0, 0, 0, 0,             /* data offset 6: 4 option bytes */
        0x02, 0x09, 0x05, 0xb4,                         /* MSS with length 9: too long */
    };
    ck_assert_int_eq(decode_exact(101, g, sizeof(g), &p, NULL), 0);
    ck_assert_uint_eq(*stats_counter(st, "decode.tcp_bad_options"), 1);
}
END_TEST

START_TEST(udp_and_snaplen)
{
    uint8_t f[sizeof(ip4_tcp)];
    memcpy(f, ip4_tcp, sizeof(f));
    f[9] = 17; /* UDP: decoded as IP, not TCP */
    struct pkt p;
    ck_assert_int_eq(decode_exact(101, f, sizeof(f), &p, NULL), 0);
    ck_assert_int_eq(p.ip_proto, 17);
    ck_assert_int_eq(p.family, 4);
    /* the snaplen cut 2 payload bytes: flagged and counted */
    uint8_t *b = malloc(sizeof(ip4_tcp) - 2);
    memcpy(b, ip4_tcp, sizeof(ip4_tcp) - 2);
    ck_assert_int_eq(decode_packet(101, b, sizeof(ip4_tcp) - 2, sizeof(ip4_tcp), 5, &p, st), 0);
    ck_assert_int_eq(p.truncated, 1);
    ck_assert_uint_eq(p.payload_len, 2);
    ck_assert_uint_eq(p.payload_wire, 4);
    ck_assert_uint_eq(p.wire_len, sizeof(ip4_tcp));
    ck_assert_uint_eq(*stats_counter(st, "decode.snaplen_truncated"), 1);
    free(b);
    char s[64];
    decode_addr_str(4, p.src, s, sizeof(s));
    ck_assert_str_eq(s, "10.0.0.1");
}
END_TEST

START_TEST(tso_zero_length)
{
    /* a segmentation-offload packet captured with IPv4 total length 0 */
    uint8_t f[sizeof(ip4_tcp)];
    memcpy(f, ip4_tcp, sizeof(f));
    f[2] = 0, f[3] = 0;
    struct pkt p;
    ck_assert_int_eq(decode_exact(101, f, sizeof(f), &p, NULL), 0);
    ck_assert_uint_eq(p.payload_len, 4);
    ck_assert_uint_eq(p.payload_wire, 4);
    ck_assert_uint_eq(*stats_counter(st, "decode.ipv4_len_zero"), 1);
}
END_TEST

/* Bad lengths are told apart from a snaplen cut, and every decode error
 * leaves a diagnostic naming the value (frames that are merely not IP do
 * not). Regression: an IPv4 total length past the frame was taken as a
 * snaplen cut and became a gap of up to 64 KiB in the TCP stream. */
START_TEST(bogus_lengths_diagnosed)
{
    struct pkt p;
    uint8_t f[sizeof(ip4_tcp)];
    memcpy(f, ip4_tcp, sizeof(f));
    f[2] = 0x03, f[3] = 0xe8; /* total length 1000 > the 44 bytes on the wire */
    uint8_t *b = malloc(sizeof(f));
    memcpy(b, f, sizeof(f));
    ck_assert_int_eq(decode_packet(101, b, sizeof(f), sizeof(f), 7, &p, st), DECODE_ERR_BAD_IP);
    ck_assert_uint_eq(*stats_counter(st, "decode.snaplen_truncated"), 0);
    /* the same header with 1000 bytes on the wire is a snaplen cut */
    ck_assert_int_eq(decode_packet(101, b, sizeof(f), 1000, 8, &p, st), 0);
    ck_assert_int_eq(p.truncated, 1);
    ck_assert_uint_eq(p.payload_wire, 1000 - 40);
    ck_assert_uint_eq(*stats_counter(st, "decode.snaplen_truncated"), 1);
    /* a record claiming fewer wire bytes than it captured */
    memcpy(b, ip4_tcp, sizeof(ip4_tcp));
    ck_assert_int_eq(decode_packet(101, b, sizeof(f), 20, 9, &p, st), 0);
    ck_assert_uint_eq(p.wire_len, sizeof(f));
    ck_assert_uint_eq(p.payload_len, 4);
    ck_assert_uint_eq(*stats_counter(st, "decode.caplen_over_wire"), 1);
    free(b);
    /* IPv6 payload length 1000 > 24 bytes on the wire */
    uint8_t g[sizeof(ip6_tcp)];
    memcpy(g, ip6_tcp, sizeof(g));
    g[4] = 0x03, g[5] = 0xe8;
    ck_assert_int_eq(decode_exact(101, g, sizeof(g), &p, NULL), DECODE_ERR_BAD_IP);
    /* TCP data offset 15 (60 bytes) in a 24-byte segment */
    memcpy(f, ip4_tcp, sizeof(f));
    f[32] = 0xf0;
    ck_assert_int_eq(decode_exact(101, f, sizeof(f), &p, NULL), DECODE_ERR_BAD_TCP);
    /* ARP: counted, no diagnostic */
    uint8_t arp[42] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 0x08, 0x06};
    ck_assert_int_eq(decode_exact(1, arp, sizeof(arp), &p, NULL), DECODE_ERR_NOT_IP);

    const char *want[][2] = {
        {"decode.bad_ip", "IPv4 total length 1000 > 44 bytes on the wire"},
        {"decode.snaplen_truncated", "cut to 4 of 960 bytes"},
        {"decode.caplen_over_wire", "44 captured bytes > wire length 20"},
        {"decode.bad_ip", "IPv6 payload length 1000 > 24 bytes on the wire"},
        {"decode.bad_tcp", "TCP data offset 60 bytes (segment of 24 bytes)"},
    };
    size_t nw = sizeof(want) / sizeof(want[0]);
    ck_assert_uint_eq(stats_diag_count(st), nw);
    for (size_t i = 0; i < nw; i++) {
        const char *counter;
        uint64_t ts;
        const char *msg = stats_diag_msg(st, i, &counter, &ts);
        ck_assert_str_eq(counter, want[i][0]);
        ck_assert_msg(strstr(msg, want[i][1]) != NULL, "diag %zu: '%s'", i, msg);
    }
    ck_assert_uint_eq(*stats_counter(st, "decode.not_ip"), 1);
}
END_TEST

/* The hand-made IPv4 text equals inet_ntop's for every octet value in
 * every place, and a buffer too small for any quad falls back to it. */
START_TEST(ipv4_text_like_inet_ntop)
{
    for (unsigned v = 0; v < 256; v++) {
        for (int at = 0; at < 4; at++) {
            uint8_t a[4] = {10, 0, 200, 99};
            a[at] = (uint8_t)v;
            char mine[46], ref[46];
            decode_addr_str(4, a, mine, sizeof(mine));
            ck_assert_ptr_nonnull(inet_ntop(AF_INET, a, ref, sizeof(ref)));
            ck_assert_str_eq(mine, ref);
        }
    }
    const uint8_t top[4] = {255, 255, 255, 255};
    char s[16], small[8];
    decode_addr_str(4, top, s, sizeof(s));
    ck_assert_str_eq(s, "255.255.255.255");
    decode_addr_str(4, top, small, sizeof(small));
    ck_assert_str_eq(small, ""); /* does not fit: empty, as inet_ntop fails */
}
END_TEST

/* The counters either path may raise. */
static const char *const decode_counters[] = {
    "decode.truncated",         "decode.bad_ip",           "decode.bad_tcp",
    "decode.fragment",          "decode.not_ip",           "decode.tcp_bad_options",
    "decode.snaplen_truncated", "decode.caplen_over_wire", "decode.ipv4_len_zero",
    "decode.linktype",          "decode.vlan_too_deep",
};

static uint64_t frames_usual;

/* decode_packet and decode_packet_general on [f, f+n) (an exactly-sized
 * copy): same result, same struct, same counters. */
static void same_both_ways(int dlt, const uint8_t *f, uint32_t n, uint32_t wire)
{
    uint8_t *b = malloc(n ? n : 1);
    memcpy(b, f, n);
    struct stats *s1 = stats_new(), *s2 = stats_new();
    struct pkt a, g;
    memset(&a, 0xa5, sizeof(a));
    memset(&g, 0x5a, sizeof(g));
    int ra = decode_packet(dlt, b, n, wire, 1234567, &a, s1);
    int rg = decode_packet_general(dlt, b, n, wire, 1234567, &g, s2);
    ck_assert_int_eq(ra, rg);
    ck_assert_msg(memcmp(&a, &g, sizeof(a)) == 0, "decoded differently (cap %u wire %u)", n,
                  wire);
    int quiet = 1;
    for (size_t i = 0; i < sizeof(decode_counters) / sizeof(decode_counters[0]); i++) {
        uint64_t c1 = *stats_counter(s1, decode_counters[i]);
        uint64_t c2 = *stats_counter(s2, decode_counters[i]);
        ck_assert_msg(c1 == c2, "%s: %llu vs %llu", decode_counters[i], (unsigned long long)c1,
                      (unsigned long long)c2);
        quiet &= c1 == 0;
    }
    if (rg == 0 && quiet && g.ip_proto == 6 && g.family == 4)
        frames_usual++;
    stats_free(s1);
    stats_free(s2);
    free(b);
}

static uint64_t drng = 88172645463325252ull;

static uint32_t drand32(void)
{
    return (uint32_t)(xorshift64(&drng) >> 16);
}

START_TEST(fast_path_same_as_general)
{
    glob_t gl;
    ck_assert_int_eq(glob("testdata/*.pcap", 0, NULL, &gl), 0);
    uint64_t frames = 0;
    for (size_t fi = 0; fi < gl.gl_pathc; fi++) {
        char eb[PCAP_ERRBUF_SIZE];
        pcap_t *pc = pcap_open_offline(gl.gl_pathv[fi], eb);
        ck_assert_msg(pc != NULL, "%s", eb);
        int dlt = pcap_datalink(pc);
        struct pcap_pkthdr *h;
        const u_char *d;
        while (pcap_next_ex(pc, &h, &d) == 1) {
            frames++;
            same_both_ways(dlt, d, h->caplen, h->len);
            /* damaged copies: header bits flipped, cut short, a wire
             * length below or above the captured one */
            for (int k = 0; k < 6; k++) {
                uint8_t m[128];
                uint32_t n = h->caplen < sizeof(m) ? h->caplen : (uint32_t)sizeof(m);
                memcpy(m, d, n);
                int flips = 1 + (int)(drand32() % 3);
                for (int j = 0; j < flips && n; j++)
                    m[drand32() % (n < 70 ? n : 70)] ^= (uint8_t)(1u << (drand32() % 8));
                uint32_t cut = (k & 1) ? drand32() % (n + 1) : n;
                uint32_t wire = k == 2 ? cut / 2 : k == 4 ? cut + drand32() % 100 : cut;
                same_both_ways(dlt, m, cut, wire);
            }
        }
        pcap_close(pc);
    }
    globfree(&gl);
    ck_assert_uint_gt(frames, 1000);
    /* most frames are of the usual kind the fast path is for */
    ck_assert_uint_gt(frames_usual, frames / 2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("decode");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, link_types, 0, (int)(sizeof(links) / sizeof(links[0])));
    tcase_add_test(tc, ipv4_options_tcp_options);
    tcase_add_test(tc, ethernet_padding);
    tcase_add_test(tc, ipv6_extension_headers);
    tcase_add_test(tc, ipv6_fragment_and_limits);
    tcase_add_test(tc, ipv4_fragments);
    tcase_add_test(tc, not_ip_and_bad_headers);
    tcase_add_test(tc, udp_and_snaplen);
    tcase_add_test(tc, tso_zero_length);
    tcase_add_test(tc, ipv4_text_like_inet_ntop);
    tcase_add_test(tc, bogus_lengths_diagnosed);
    tcase_add_test(tc, fast_path_same_as_general);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
