/* check_flow.c -- flow table (capture/flow.c): eviction, expiry, direction,
 * ids, IPv6; classification (capture/classify.c, port map and nDPI); the
 * packet source (capture/source.c) on hand-written pcap files, truncated
 * and corrupt ones included. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/decode.h"
#include "capture/flow.h"
#include "capture/source.h"
#include "capture/stats.h"

static struct stats *st;
static struct flow_table *ft;
static uint64_t ended[64];
static int nended;
static struct flow last_end;

static void on_end(void *ctx, struct flow *f, uint64_t ts)
{
    (void)ctx, (void)ts;
    if (nended < 64)
        ended[nended++] = f->id;
    last_end = *f;
}

static void make_table(size_t max_flows, const struct flow_port *ports, size_t nports, int ndpi)
{
    struct flow_cfg cfg;
    flow_defaults(&cfg);
    cfg.use_ndpi = ndpi;
    cfg.ports = ports;
    cfg.nports = nports;
    if (max_flows)
        cfg.max_flows = max_flows;
    struct flow_cb cb = {NULL, NULL, NULL, NULL, NULL, on_end};
    flow_table_free(ft);
    ft = flow_table_new(&cfg, st, &cb);
    ck_assert_ptr_nonnull(ft);
}

static void setup(void)
{
    st = stats_new();
    ft = NULL;
    nended = 0;
    memset(&last_end, 0, sizeof(last_end));
}

static void teardown(void)
{
    flow_table_free(ft);
    ft = NULL;
    stats_free(st);
}

/* A TCP packet a.b.c.d:sport -> 10.0.0.2:dport. */
static void tcp4(uint8_t host, uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq,
                 uint64_t ts, int reverse)
{
    struct pkt p;
    memset(&p, 0, sizeof(p));
    p.family = 4;
    p.ip_proto = 6;
    uint8_t a[4] = {10, 0, 0, host}, b[4] = {10, 0, 0, 2};
    memcpy(p.src, reverse ? b : a, 4);
    memcpy(p.dst, reverse ? a : b, 4);
    p.sport = reverse ? dport : sport;
    p.dport = reverse ? sport : dport;
    p.tcp_flags = flags;
    p.seq = seq;
    p.ts_us = ts;
    p.wire_len = p.cap_len = 54;
    flow_packet(ft, &p);
}

START_TEST(eviction_lru)
{
    make_table(2, NULL, 0, 0);
    tcp4(11, 40001, 80, 0x10, 1, 1000, 0); /* flow 1 */
    tcp4(12, 40002, 80, 0x10, 1, 2000, 0); /* flow 2 */
    tcp4(11, 40001, 80, 0x10, 1, 3000, 0); /* flow 1 used again: 2 is the LRU now */
    tcp4(13, 40003, 80, 0x10, 1, 4000, 0); /* flow 3: the table is full */
    ck_assert_int_eq(nended, 1);
    ck_assert_uint_eq(ended[0], 2);
    ck_assert_uint_eq(*stats_counter(st, "flow.evicted"), 1);
    ck_assert_uint_eq(flow_count(ft), 2);
    ck_assert_uint_eq(stats_diag_count(st), 1);
    flow_flush(ft, 5000);
    ck_assert_int_eq(nended, 3);
    ck_assert_uint_eq(ended[1], 1); /* the rest end in id order */
    ck_assert_uint_eq(ended[2], 3);
    ck_assert_uint_eq(flow_count(ft), 0);
}
END_TEST

START_TEST(bounded_on_endless_flows)
{
    make_table(64, NULL, 0, 0);
    for (uint32_t i = 0; i < 20000; i++)
        tcp4((uint8_t)(i % 200 + 3), (uint16_t)(1024 + i / 200), 80, 0x02, i, 1000 + i, 0);
    ck_assert_uint_le(flow_count(ft), 64);
    ck_assert_uint_eq(*stats_counter(st, "flow.evicted"), 20000 - 64);
    flow_flush(ft, 100000);
    ck_assert_uint_eq(*stats_counter(st, "flow.peak"), 64);
}
END_TEST

START_TEST(expiry_on_packet_time)
{
    struct flow_cfg d;
    flow_defaults(&d);
    make_table(0, NULL, 0, 0);
    tcp4(11, 40001, 80, 0x10, 1, 1000000, 0);                           /* idle list */
    tcp4(12, 40002, 80, 0x02, 1, 1000000, 0);                           /* SYN list */
    tcp4(13, 40003, 80, 0x10, 1, 1000000, 0);
    tcp4(13, 40003, 80, 0x04, 1, 1000000, 0);                           /* reset: closed list */
    flow_expire(ft, 1000000 + d.closed_timeout_us);
    ck_assert_int_eq(nended, 1);
    ck_assert_uint_eq(ended[0], 3);
    ck_assert(last_end.events & (1u << FLOW_EV_RESET));
    flow_expire(ft, 1000000 + d.syn_timeout_us);
    ck_assert_int_eq(nended, 2);
    ck_assert_uint_eq(ended[1], 2);
    ck_assert(last_end.events & (1u << FLOW_EV_UNANSWERED));
    flow_expire(ft, 1000000 + d.idle_timeout_us - 1);
    ck_assert_int_eq(nended, 2);
    flow_expire(ft, 1000000 + d.idle_timeout_us);
    ck_assert_int_eq(nended, 3);
    ck_assert_uint_eq(*stats_counter(st, "flow.expired"), 3);
    /* time never runs backwards inside the table */
    flow_expire(ft, 5);
    ck_assert_uint_eq(flow_count(ft), 0);
}
END_TEST

static const struct flow_port ports[] = {
    {9999, FLOW_APP_HTTP, "svc-http"},
    {5672, FLOW_APP_AMQP, "rabbitmq"},
};

START_TEST(direction_rules)
{
    make_table(0, ports, 2, 0);
    /* mid-stream, 9999 -> 1000: the port map says 9999 is the server */
    tcp4(11, 1000, 9999, 0x18, 1, 10, 1);
    /* mid-stream, no mapped port: the lower port (6000) is the server */
    tcp4(12, 50000, 6000, 0x18, 1, 20, 0);
    /* SYN-ACK first: its sender is the server, whatever the ports */
    tcp4(13, 80, 30000, 0x12, 1, 30, 0);
    /* SYN: its sender is the client, even from a low port */
    tcp4(14, 22, 40000, 0x02, 1, 40, 0);
    flow_flush(ft, 50);
    ck_assert_int_eq(nended, 4);
    /* ended in id order; check each through a fresh run (last_end is the 4th) */
    ck_assert_uint_eq(last_end.cli.port, 22);
    ck_assert_uint_eq(last_end.srv.port, 40000);
    ck_assert_int_eq(last_end.dir_from_handshake, 1);
}
END_TEST

static struct flow seen[8];
static int nseen;
static void keep_end(void *ctx, struct flow *f, uint64_t ts)
{
    (void)ctx, (void)ts;
    if (nseen < 8)
        seen[nseen++] = *f;
}

START_TEST(direction_details)
{
    struct flow_cfg cfg;
    flow_defaults(&cfg);
    cfg.use_ndpi = 0;
    cfg.ports = ports;
    cfg.nports = 2;
    struct flow_cb cb = {NULL, NULL, NULL, NULL, NULL, keep_end};
    nseen = 0;
    ft = flow_table_new(&cfg, st, &cb);
    tcp4(11, 1000, 9999, 0x18, 1, 10, 1);
    tcp4(12, 50000, 6000, 0x18, 1, 20, 0);
    tcp4(13, 80, 30000, 0x12, 1, 30, 0);
    flow_flush(ft, 50);
    ck_assert_int_eq(nseen, 3);
    ck_assert_str_eq(seen[0].cli.addr, "10.0.0.11");
    ck_assert_uint_eq(seen[0].cli.port, 1000);
    ck_assert_str_eq(seen[0].srv.addr, "10.0.0.2");
    ck_assert_uint_eq(seen[0].srv.port, 9999);
    ck_assert_int_eq(seen[0].app, FLOW_APP_HTTP);
    ck_assert_str_eq(seen[0].app_name, "svc-http");
    ck_assert_int_eq(seen[0].dir_from_handshake, 0);
    ck_assert(seen[0].events & (1u << FLOW_EV_MIDSTREAM));
    ck_assert_uint_eq(seen[0].pkts[FLOW_S2C], 1);
    ck_assert_uint_eq(seen[0].pkts[FLOW_C2S], 0);
    ck_assert_uint_eq(seen[1].srv.port, 6000);
    ck_assert_int_eq(seen[1].app, FLOW_APP_UNKNOWN);
    ck_assert_uint_eq(seen[2].srv.port, 80);
    ck_assert_str_eq(seen[2].srv.addr, "10.0.0.13");
    ck_assert(seen[2].events & (1u << FLOW_EV_ESTABLISHED));
    ck_assert_uint_eq(seen[0].id, 1);
    ck_assert_uint_eq(seen[2].id, 3);
}
END_TEST

START_TEST(non_tcp_and_ipv6)
{
    make_table(0, NULL, 0, 0);
    struct pkt p;
    memset(&p, 0, sizeof(p));
    flow_packet(ft, &p); /* family 0 */
    p.family = 4;
    p.ip_proto = 17;
    flow_packet(ft, &p);
    ck_assert_uint_eq(*stats_counter(st, "flow.not_ip"), 1);
    ck_assert_uint_eq(*stats_counter(st, "flow.non_tcp"), 1);
    ck_assert_uint_eq(flow_count(ft), 0);
    p.family = 6;
    p.ip_proto = 6;
    p.src[0] = 0x20, p.src[1] = 0x01, p.src[15] = 5; /* 2001::5 */
    p.dst[0] = 0x20, p.dst[1] = 0x01, p.dst[15] = 6; /* 2001::6 */
    p.sport = 33000;
    p.dport = 8774;
    p.tcp_flags = 0x02;
    p.wire_len = 74;
    flow_packet(ft, &p);
    flow_flush(ft, 1);
    ck_assert_str_eq(last_end.cli.addr, "2001::5");
    ck_assert_str_eq(last_end.srv.addr, "2001::6");
    ck_assert_int_eq(last_end.family, 6);
    ck_assert_uint_eq(last_end.bytes[FLOW_C2S], 74);
}
END_TEST

/* ---- nDPI through real decoded packets (raw IPv4, DLT 101) ---- */

static void raw_tcp(int reverse, uint16_t cport, uint16_t sport, uint8_t flags, uint32_t seq,
                    uint32_t ack, const char *payload, uint64_t ts)
{
    size_t pl = payload ? strlen(payload) : 0, n = 40 + pl;
    uint8_t *b = malloc(n);
    memset(b, 0, n);
    b[0] = 0x45;
    b[2] = (uint8_t)(n >> 8), b[3] = (uint8_t)n;
    b[8] = 64, b[9] = 6;
    uint8_t c[4] = {10, 0, 0, 1}, s[4] = {10, 0, 0, 2};
    memcpy(b + 12, reverse ? s : c, 4);
    memcpy(b + 16, reverse ? c : s, 4);
    uint16_t p1 = reverse ? sport : cport, p2 = reverse ? cport : sport;
    b[20] = (uint8_t)(p1 >> 8), b[21] = (uint8_t)p1;
    b[22] = (uint8_t)(p2 >> 8), b[23] = (uint8_t)p2;
    b[24] = (uint8_t)(seq >> 24), b[25] = (uint8_t)(seq >> 16), b[26] = (uint8_t)(seq >> 8),
    b[27] = (uint8_t)seq;
    b[28] = (uint8_t)(ack >> 24), b[29] = (uint8_t)(ack >> 16), b[30] = (uint8_t)(ack >> 8),
    b[31] = (uint8_t)ack;
    b[32] = 0x50;
    b[33] = flags;
    b[34] = 0xff, b[35] = 0xff;
    if (pl)
        memcpy(b + 40, payload, pl);
    struct pkt p;
    ck_assert_int_eq(decode_packet(101, b, (uint32_t)n, (uint32_t)n, ts, &p, st), 0);
    flow_packet(ft, &p);
    free(b);
}

static void http_conversation(uint16_t port, const char *req)
{
    const char *resp = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok";
    uint32_t cs = 100, ss = 900;
    raw_tcp(0, 45000, port, 0x02, cs, 0, NULL, 1000000);
    raw_tcp(1, 45000, port, 0x12, ss, cs + 1, NULL, 1000100);
    raw_tcp(0, 45000, port, 0x10, cs + 1, ss + 1, NULL, 1000200);
    raw_tcp(0, 45000, port, 0x18, cs + 1, ss + 1, req, 1000300);
    raw_tcp(1, 45000, port, 0x18, ss + 1, cs + 1 + (uint32_t)strlen(req), resp, 1000400);
    flow_flush(ft, 2000000);
}

START_TEST(ndpi_http_nonstandard_port)
{
    make_table(0, ports, 2, 1);
    http_conversation(12345, "GET /v2.1/servers HTTP/1.1\r\nHost: 10.0.0.2:12345\r\n"
                             "User-Agent: python-novaclient\r\nAccept: */*\r\n\r\n");
    ck_assert_int_eq(last_end.app, FLOW_APP_HTTP);
    ck_assert_str_eq(last_end.app_name, "HTTP");
    ck_assert_uint_eq(*stats_counter(st, "classify.ndpi_detected"), 1);
    ck_assert(last_end.events & (1u << FLOW_EV_ESTABLISHED));
}
END_TEST

START_TEST(port_map_wins)
{
    make_table(0, ports, 2, 1);
    /* HTTP bytes on the AMQP port: the map decides, nDPI is not asked */
    http_conversation(5672, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    ck_assert_int_eq(last_end.app, FLOW_APP_AMQP);
    ck_assert_str_eq(last_end.app_name, "rabbitmq");
    ck_assert_uint_eq(*stats_counter(st, "classify.ndpi_flows"), 0);
    ck_assert_uint_eq(*stats_counter(st, "classify.by_port"), 1);
}
END_TEST

START_TEST(ndpi_off)
{
    make_table(0, NULL, 0, 0);
    http_conversation(12345, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    ck_assert_int_eq(last_end.app, FLOW_APP_UNKNOWN);
    ck_assert_str_eq(last_end.app_name, "");
}
END_TEST

/* ---- the packet source on hand-written pcap files ---- */

static const uint8_t pcap_hdr[24] = {
    0xd4, 0xc3, 0xb2, 0xa1, /* magic a1b2c3d4, little-endian, microseconds */
    0x02, 0x00, 0x04, 0x00, /* version 2.4 */
    0, 0, 0, 0, 0, 0, 0, 0, /* thiszone, sigfigs */
    0xff, 0xff, 0x00, 0x00, /* snaplen 65535 */
    0x01, 0x00, 0x00, 0x00, /* link type 1 (Ethernet) */
};

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

/* A pcap with n Ethernet/IPv4/TCP frames (58 bytes each; dport 8774 + i),
 * returned in a malloc'ed buffer of *len bytes. */
static uint8_t *make_pcap(int n, size_t *len)
{
    size_t rec = 16 + 58;
    *len = 24 + rec * (size_t)n;
    uint8_t *b = malloc(*len);
    memcpy(b, pcap_hdr, 24);
    for (int i = 0; i < n; i++) {
        uint8_t *r = b + 24 + rec * (size_t)i;
        put32(r, 1700000000u + (uint32_t)i); /* ts seconds */
        put32(r + 4, 250000);                 /* ts microseconds */
        put32(r + 8, 58);                     /* captured length */
        put32(r + 12, 58);                    /* wire length */
        uint8_t *f = r + 16;
        memset(f, 0, 58);
        f[12] = 0x08, f[13] = 0x00;           /* Ethernet, IPv4 */
        f[14] = 0x45, f[17] = 44, f[22] = 64, f[23] = 6;
        f[26] = 10, f[29] = 1, f[30] = 10, f[33] = 2; /* 10.0.0.1 -> 10.0.0.2 */
        f[34] = 0x9c, f[35] = 0x40;                   /* sport 40000 */
        f[36] = 0x22, f[37] = (uint8_t)(0x46 + i);    /* dport 8774 + i */
        f[46] = 0x50, f[47] = 0x02;                   /* SYN */
    }
    return b;
}

static char tmpl[64];

static const char *write_tmp(const uint8_t *b, size_t n)
{
    snprintf(tmpl, sizeof(tmpl), "/tmp/osrca_check_flow_XXXXXX");
    int fd = mkstemp(tmpl);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, b, n), (ssize_t)n);
    close(fd);
    return tmpl;
}

struct srcrec {
    int n;
    int linktype;
    uint64_t ts[8];
    uint32_t caplen[8];
};

static void on_pkt(void *ctx, int linktype, const uint8_t *data, uint32_t caplen,
                   uint32_t wirelen, uint64_t ts_us)
{
    struct srcrec *r = ctx;
    (void)data;
    ck_assert_uint_eq(wirelen, caplen);
    if (r->n < 8) {
        r->ts[r->n] = ts_us;
        r->caplen[r->n] = caplen;
    }
    r->n++;
    r->linktype = linktype;
}

START_TEST(source_file)
{
    size_t n;
    uint8_t *b = make_pcap(3, &n);
    const char *path = write_tmp(b, n);
    struct source_cfg cfg;
    source_defaults(&cfg);
    cfg.file = path;
    char err[512];
    struct source *s = source_open(&cfg, err, sizeof(err));
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(source_linktype(s), 1);
    struct srcrec r = {0};
    ck_assert_int_eq(source_run(s, on_pkt, &r, err, sizeof(err)), SOURCE_END);
    ck_assert_int_eq(r.n, 3);
    ck_assert_uint_eq(r.ts[0], 1700000000250000ull);
    ck_assert_uint_eq(r.ts[2], 1700000002250000ull);
    ck_assert_uint_eq(source_packets(s), 3);
    struct source_stats ss;
    ck_assert_int_eq(source_stats(s, &ss), -1); /* files have no kernel counters */
    source_free(s);

    /* with a filter: only dport 8775 */
    cfg.bpf = "tcp dst port 8775";
    s = source_open(&cfg, err, sizeof(err));
    ck_assert_ptr_nonnull(s);
    memset(&r, 0, sizeof(r));
    ck_assert_int_eq(source_run(s, on_pkt, &r, err, sizeof(err)), SOURCE_END);
    ck_assert_int_eq(r.n, 1);
    source_free(s);

    /* a bad filter is an environment error naming the filter */
    cfg.bpf = "tcp port banana";
    s = source_open(&cfg, err, sizeof(err));
    ck_assert_ptr_null(s);
    ck_assert_ptr_nonnull(strstr(err, "banana"));
    unlink(path);
    free(b);
}
END_TEST

/* Everything a source delivers for one input, for comparing readers. */
struct srclog {
    char text[16384];
    size_t w;
};

static void log_pkt(void *ctx, int linktype, const uint8_t *data, uint32_t caplen,
                    uint32_t wirelen, uint64_t ts_us)
{
    struct srclog *l = ctx;
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < caplen; i++)
        h = (h ^ data[i]) * 16777619u;
    if (l->w < sizeof(l->text) - 100)
        l->w += (size_t)snprintf(l->text + l->w, sizeof(l->text) - l->w, "%d %u %u %llu %08x\n",
                                 linktype, caplen, wirelen, (unsigned long long)ts_us, h);
}

/* Run [b, b+n) through a source from a file (stream: through fmemopen),
 * with libpcap only or not; the log gets every packet, the status and
 * the message. Returns 1 if our own reader read it. */
static int run_source(const uint8_t *b, size_t n, int stream, int libpcap_only,
                      struct srclog *l)
{
    struct source_cfg cfg;
    source_defaults(&cfg);
    cfg.libpcap_only = libpcap_only;
    uint8_t *copy = NULL;
    const char *path = NULL;
    if (stream) {
        copy = malloc(n ? n : 1);
        ck_assert_ptr_nonnull(copy);
        memcpy(copy, b, n);
        cfg.fp = fmemopen(copy, n, "rb");
        ck_assert_ptr_nonnull(cfg.fp);
    } else {
        path = write_tmp(b, n);
        cfg.file = path;
    }
    char err[512] = "";
    l->w = 0;
    l->text[0] = '\0';
    int own = 0;
    struct source *s = source_open(&cfg, err, sizeof(err));
    if (!s) {
        l->w += (size_t)snprintf(l->text, sizeof(l->text), "open failed\n");
    } else {
        own = source_own_reader(s);
        int rc = source_run(s, log_pkt, l, err, sizeof(err));
        const char *e = err; /* without the temporary file's name */
        if (path && strncmp(e, path, strlen(path)) == 0)
            e += strlen(path);
        l->w += (size_t)snprintf(l->text + l->w, sizeof(l->text) - l->w, "rc %d %s %llu\n", rc,
                                 rc ? e : "", (unsigned long long)source_packets(s));
        source_free(s);
    }
    if (path)
        unlink(path);
    free(copy);
    return own;
}

/* Our reader and pcap_next_ex deliver the same packets, stamps, lengths,
 * status and message, from a file and from a stream. */
static int same_both_ways(const uint8_t *b, size_t n)
{
    static struct srclog a, c;
    int own = 0;
    for (int stream = 0; stream < 2; stream++) {
        own |= run_source(b, n, stream, 0, &a);
        ck_assert(!run_source(b, n, stream, 1, &c));
        if (strcmp(a.text, c.text) != 0)
            ck_abort_msg("readers differ (stream %d, %zu bytes):\nown:\n%s\nlibpcap:\n%s", stream,
                         n, a.text, c.text);
    }
    return own;
}

static void put32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

START_TEST(source_own_reader_matches_libpcap)
{
    size_t n;
    uint8_t *b = make_pcap(5, &n);
    ck_assert(same_both_ways(b, n));
    /* cut anywhere: in a record header, in a frame, at a boundary */
    for (size_t cut = 24; cut < n; cut++)
        ck_assert(same_both_ways(b, cut));
    /* stamps: nanoseconds, negative and huge fields */
    uint8_t *v = malloc(n);
    memcpy(v, b, n);
    put32(v, 0xa1b23c4d);
    put32(v + 24 + 4, 999999999);
    put32(v + 24 + 74, 0x80000001u);
    put32(v + 24 + 74 + 4, 0xfffffff0u);
    ck_assert(same_both_ways(v, n));
    /* the other byte order */
    memcpy(v, b, n);
    put32be(v, 0xa1b2c3d4);
    v[4] = 0, v[5] = 2, v[6] = 0, v[7] = 4;
    put32be(v + 16, 65535);
    put32be(v + 20, 1);
    for (int i = 0; i < 5; i++)
        for (int k = 0; k < 4; k++) {
            uint8_t *f = v + 24 + 74 * i + 4 * k;
            uint32_t x = (uint32_t)f[0] | (uint32_t)f[1] << 8 | (uint32_t)f[2] << 16 |
                         (uint32_t)f[3] << 24;
            put32be(f, x);
        }
    ck_assert(same_both_ways(v, n));
    for (size_t cut = 24; cut < n; cut += 7)
        ck_assert(same_both_ways(v, cut));
    /* records over the file's snaplen (kept cut to it), a snaplen of 0, a
     * capture length over 256 KiB, wire length under capture length */
    memcpy(v, b, n);
    put32(v + 16, 40);
    ck_assert(same_both_ways(v, n));
    ck_assert(same_both_ways(v, n - 30));
    put32(v + 16, 0);
    ck_assert(same_both_ways(v, n));
    memcpy(v, b, n);
    put32(v + 24 + 74 * 2 + 8, 300000);
    ck_assert(same_both_ways(v, n));
    put32(v + 16, 400000);
    ck_assert(same_both_ways(v, n));
    memcpy(v, b, n);
    put32(v + 24 + 74 + 12, 20);
    ck_assert(same_both_ways(v, n));
    /* left to libpcap: version 2.3, a link type osrca does not decode */
    memcpy(v, b, n);
    v[6] = 3;
    ck_assert(!same_both_ways(v, n));
    memcpy(v, b, n);
    put32(v + 20, 147);
    ck_assert(!same_both_ways(v, n));
    free(v);
    free(b);

    /* big frames across the 1 MiB buffer's refills */
    size_t big = 60000, cnt = 40;
    size_t bn = 24 + cnt * (16 + big);
    uint8_t *g = malloc(bn);
    memcpy(g, pcap_hdr, 24);
    put32(g + 16, 262144);
    for (size_t i = 0; i < cnt; i++) {
        uint8_t *r = g + 24 + i * (16 + big);
        put32(r, 1700000000u + (uint32_t)i);
        put32(r + 4, (uint32_t)i);
        put32(r + 8, (uint32_t)(big - i));
        put32(r + 12, (uint32_t)big);
        for (size_t k = 0; k < big; k++)
            r[16 + k] = (uint8_t)(k * 7 + i);
    }
    /* the last record shorter by cnt - 1 bytes: pad the end */
    ck_assert(same_both_ways(g, bn - (cnt - 1)));
    ck_assert(same_both_ways(g, 1048576 + 5));
    free(g);
}
END_TEST

START_TEST(source_truncated_and_corrupt)
{
    size_t n;
    uint8_t *b = make_pcap(3, &n);
    /* cut the file in the middle of the third packet */
    const char *path = write_tmp(b, n - 20);
    struct source_cfg cfg;
    source_defaults(&cfg);
    cfg.file = path;
    char err[512];
    struct source *s = source_open(&cfg, err, sizeof(err));
    ck_assert_ptr_nonnull(s);
    struct srcrec r = {0};
    ck_assert_int_eq(source_run(s, on_pkt, &r, err, sizeof(err)), SOURCE_DAMAGED);
    ck_assert_int_eq(r.n, 2); /* the packets before the damage were delivered */
    ck_assert_ptr_nonnull(strstr(err, path));
    ck_assert_ptr_nonnull(strstr(err, "packet 3"));
    source_free(s);
    unlink(path);

    /* a record claiming a 100 MB capture length */
    put32(b + 24 + 74 + 8, 100000000);
    path = write_tmp(b, n);
    s = source_open(&cfg, err, sizeof(err));
    ck_assert_ptr_nonnull(s);
    memset(&r, 0, sizeof(r));
    ck_assert_int_eq(source_run(s, on_pkt, &r, err, sizeof(err)), SOURCE_DAMAGED);
    ck_assert_int_eq(r.n, 1);
    ck_assert_ptr_nonnull(strstr(err, "packet 2"));
    source_free(s);
    unlink(path);

    /* not a capture file at all; a missing file */
    path = write_tmp((const uint8_t *)"hello, world, not a pcap file", 29);
    ck_assert_ptr_null(source_open(&cfg, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, path));
    unlink(path);
    cfg.file = "/nonexistent/x.pcap";
    ck_assert_ptr_null(source_open(&cfg, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/x.pcap"));
    free(b);
}
END_TEST

START_TEST(source_stream_and_dump)
{
    size_t n;
    uint8_t *b = make_pcap(4, &n);
    struct source_cfg cfg;
    source_defaults(&cfg);
    cfg.fp = fmemopen(b, n, "rb");
    ck_assert_ptr_nonnull(cfg.fp);
    char out[64];
    snprintf(out, sizeof(out), "/tmp/osrca_check_dump_%d.pcap", (int)getpid());
    cfg.write_file = out;
    char err[512];
    struct source *s = source_open(&cfg, err, sizeof(err));
    ck_assert_ptr_nonnull(s);
    struct srcrec r = {0};
    ck_assert_int_eq(source_run(s, on_pkt, &r, err, sizeof(err)), SOURCE_END);
    ck_assert_int_eq(r.n, 4);
    source_free(s);
    /* the dump holds the same 4 packets */
    source_defaults(&cfg);
    cfg.file = out;
    s = source_open(&cfg, err, sizeof(err));
    ck_assert_ptr_nonnull(s);
    memset(&r, 0, sizeof(r));
    ck_assert_int_eq(source_run(s, on_pkt, &r, err, sizeof(err)), SOURCE_END);
    ck_assert_int_eq(r.n, 4);
    ck_assert_uint_eq(r.caplen[3], 58);
    source_free(s);
    unlink(out);
    free(b);
}
END_TEST

/* SYNs never answered are counted, the first few with a diagnostic naming
 * the endpoints (a SYN flood, a service behind a black hole); answered and
 * refused SYNs are not. */
START_TEST(syn_unanswered_counted)
{
    make_table(0, NULL, 0, 0);
    for (int i = 0; i < 10; i++)
        tcp4((uint8_t)(20 + i), (uint16_t)(41000 + i), 8774, 0x02, 1, 1000 + (uint64_t)i, 0);
    tcp4(11, 40001, 8774, 0x02, 1, 2000, 0); /* answered */
    tcp4(11, 40001, 8774, 0x12, 9, 2001, 1);
    tcp4(12, 40002, 8774, 0x02, 1, 2002, 0); /* refused */
    tcp4(12, 40002, 8774, 0x14, 0, 2003, 1);
    flow_flush(ft, 3000);
    ck_assert_uint_eq(*stats_counter(st, "flow.syn_unanswered"), 10);
    size_t nd = stats_diag_count(st), kept = 0;
    for (size_t i = 0; i < nd; i++) {
        const char *counter;
        uint64_t ts;
        const char *msg = stats_diag_msg(st, i, &counter, &ts);
        if (strcmp(counter, "flow.syn_unanswered") != 0)
            continue;
        if (kept++ == 0)
            ck_assert_str_eq(msg, "flow 1: SYN 10.0.0.20:41000 -> 10.0.0.2:8774 never answered");
    }
    ck_assert_uint_eq(kept, STATS_DIAG_PER_KIND);
}
END_TEST

/* ---- the stall watch: data retransmitted into a peer's silence ---- */

static int nstalled;
static struct flow stalled_flow;
static uint64_t stalled_at;

static int nslow;
static struct flow slow_flow;

static void on_stall_event(void *ctx, struct flow *f, enum flow_event ev, uint64_t ts)
{
    (void)ctx;
    if (ev == FLOW_EV_SLOW_ACK) {
        nslow++;
        slow_flow = *f;
        return;
    }
    if (ev != FLOW_EV_STALLED)
        return;
    nstalled++;
    stalled_flow = *f;
    stalled_at = ts;
}

static void stall_table(void)
{
    struct flow_cfg cfg;
    flow_defaults(&cfg);
    cfg.use_ndpi = 0;
    struct flow_cb cb = {NULL, NULL, NULL, NULL, on_stall_event, NULL};
    flow_table_free(ft);
    ft = flow_table_new(&cfg, st, &cb);
    ck_assert_ptr_nonnull(ft);
    nstalled = 0;
    nslow = 0;
    memset(&stalled_flow, 0, sizeof(stalled_flow));
}

#define MS 1000ull

/* client 10.0.0.1:40000 -> server 10.0.0.2:5672, handshake and one
 * exchange; the client's last packet is at 10 ms */
static void stall_prologue(void)
{
    raw_tcp(0, 40000, 5672, 0x02, 100, 0, NULL, 0);
    raw_tcp(1, 40000, 5672, 0x12, 500, 101, NULL, 1 * MS);
    raw_tcp(0, 40000, 5672, 0x10, 101, 501, NULL, 2 * MS);
    raw_tcp(0, 40000, 5672, 0x18, 101, 501, "ping", 10 * MS);
    raw_tcp(1, 40000, 5672, 0x10, 501, 105, NULL, 11 * MS);
}

START_TEST(stall_on_retransmissions_into_silence)
{
    stall_table();
    stall_prologue();
    /* the server hands the client data; the client never answers: RTO
     * backoff retransmits it at 0.2, 0.6, 1.4 s */
    raw_tcp(1, 40000, 5672, 0x18, 501, 105, "deliver", 1000 * MS);
    raw_tcp(1, 40000, 5672, 0x18, 501, 105, "deliver", 1200 * MS);
    raw_tcp(1, 40000, 5672, 0x18, 501, 105, "deliver", 1600 * MS);
    ck_assert_int_eq(nstalled, 0); /* two retransmissions */
    raw_tcp(1, 40000, 5672, 0x18, 501, 105, "deliver", 2400 * MS);
    ck_assert_int_eq(nstalled, 1);
    ck_assert_uint_eq(stalled_at, 2400 * MS);
    ck_assert_int_eq(stalled_flow.stall_dir, FLOW_S2C);
    ck_assert_uint_eq(stalled_flow.stall_since_us, 10 * MS); /* the client's last packet */
    raw_tcp(1, 40000, 5672, 0x18, 501, 105, "deliver", 4000 * MS);
    ck_assert_int_eq(nstalled, 1); /* once per silence */
    /* the client is back: the silence is over, a new one counts again */
    raw_tcp(0, 40000, 5672, 0x10, 105, 508, NULL, 5000 * MS);
    raw_tcp(1, 40000, 5672, 0x18, 508, 105, "more", 6000 * MS);
    for (int i = 1; i <= 3; i++)
        raw_tcp(1, 40000, 5672, 0x18, 508, 105, "more", (6000 + 600 * (uint64_t)i) * MS);
    ck_assert_int_eq(nstalled, 2);
    ck_assert_uint_eq(stalled_flow.stall_since_us, 5000 * MS);
    ck_assert_uint_eq(*stats_counter(st, "flow.stalled"), 2);
}
END_TEST

START_TEST(no_stall_while_the_peer_talks)
{
    stall_table();
    stall_prologue();
    /* lossy but alive: every retransmission is followed by a duplicate ACK */
    for (int i = 0; i < 6; i++) {
        raw_tcp(1, 40000, 5672, 0x18, 501, 105, "deliver", (1000 + 500 * (uint64_t)i) * MS);
        raw_tcp(0, 40000, 5672, 0x10, 105, 501, NULL, (1001 + 500 * (uint64_t)i) * MS);
    }
    /* retransmitted fast (within 1 s of the peer's last packet) */
    for (int i = 0; i < 5; i++)
        raw_tcp(1, 40000, 5672, 0x18, 501, 105, "deliver", (4000 + 100 * (uint64_t)i) * MS);
    ck_assert_int_eq(nstalled, 0);
    /* a capture of one direction: the peer never seen, never stalls */
    for (int i = 0; i < 6; i++)
        raw_tcp(1, 40001, 5672, 0x18, 900, 1, "deliver", (1000 + 2000 * (uint64_t)i) * MS);
    ck_assert_int_eq(nstalled, 0);
    ck_assert_uint_eq(*stats_counter(st, "flow.stalled"), 0);
}
END_TEST

/* ---- late acknowledgements: a slow link ---- */

START_TEST(slow_ack_on_a_slow_link)
{
    stall_table();
    stall_prologue();
    /* acknowledged at once: nothing (the prologue's ping was acked in 1 ms) */
    ck_assert_int_eq(nslow, 0);
    /* the server's data acknowledged 700 ms later, not sent again */
    raw_tcp(1, 40000, 5672, 0x18, 501, 105, "deliver", 1000 * MS);
    raw_tcp(0, 40000, 5672, 0x10, 105, 508, NULL, 1700 * MS);
    ck_assert_int_eq(nslow, 1);
    ck_assert_int_eq(slow_flow.slow_ack_dir, FLOW_C2S); /* the client acked late */
    ck_assert_uint_eq(slow_flow.slow_ack_us, 700 * MS);
    /* again 2 s later: within 5 s of the last one, not told again */
    raw_tcp(1, 40000, 5672, 0x18, 508, 105, "more", 3000 * MS);
    raw_tcp(0, 40000, 5672, 0x10, 105, 512, NULL, 3900 * MS);
    ck_assert_int_eq(nslow, 1);
    /* sent again before its ACK: the ACK times nothing */
    raw_tcp(1, 40000, 5672, 0x18, 512, 105, "again", 9000 * MS);
    raw_tcp(1, 40000, 5672, 0x18, 512, 105, "again", 9300 * MS);
    raw_tcp(0, 40000, 5672, 0x10, 105, 517, NULL, 9900 * MS);
    ck_assert_int_eq(nslow, 1);
    /* the client's own data acknowledged late by the server, 5 s on */
    raw_tcp(0, 40000, 5672, 0x18, 105, 517, "ask", 12000 * MS);
    raw_tcp(1, 40000, 5672, 0x10, 517, 108, NULL, 12600 * MS);
    ck_assert_int_eq(nslow, 2);
    ck_assert_int_eq(slow_flow.slow_ack_dir, FLOW_S2C);
    ck_assert_uint_eq(*stats_counter(st, "flow.slow_acks"), 2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("flow");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, eviction_lru);
    tcase_add_test(tc, bounded_on_endless_flows);
    tcase_add_test(tc, expiry_on_packet_time);
    tcase_add_test(tc, syn_unanswered_counted);
    tcase_add_test(tc, stall_on_retransmissions_into_silence);
    tcase_add_test(tc, no_stall_while_the_peer_talks);
    tcase_add_test(tc, slow_ack_on_a_slow_link);
    tcase_add_test(tc, direction_rules);
    tcase_add_test(tc, direction_details);
    tcase_add_test(tc, non_tcp_and_ipv6);
    tcase_add_test(tc, ndpi_http_nonstandard_port);
    tcase_add_test(tc, port_map_wins);
    tcase_add_test(tc, ndpi_off);
    tcase_add_test(tc, source_file);
    tcase_add_test(tc, source_truncated_and_corrupt);
    tcase_add_test(tc, source_own_reader_matches_libpcap);
    tcase_add_test(tc, source_stream_and_dump);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
