/* check_reasm.c -- TCP reassembly through the flow table (capture/flow.c,
 * capture/reasm.c): order, reversal, shuffling, duplicates, overlaps,
 * sequence wrap-around, exact gaps, memcaps, connection events; holes given
 * up on the peer's ACK or after the hole timeout; resync on sequence jumps.
 *
 * Packets are built as struct pkt directly; every payload lives at the end
 * of an exactly-sized malloc so ASan catches a one-byte overread. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/flow.h"
#include "capture/mem.h"
#include "capture/stats.h"

#define CLI_PORT 40000
#define SRV_PORT 8774
#define MAXS 200000

/* What the consumer saw. */
struct rec {
    char log[8192]; /* "D100 G100 D100 " per direction 0 only, or with a dir prefix */
    size_t loglen;
    uint8_t *data[2]; /* bytes delivered, with gaps filled by 0xEE */
    size_t n[2];
    uint64_t gap_bytes[2];
    unsigned gaps[2];
    char events[256];
    uint32_t evmask;
    int ended, opened;
    uint64_t ended_id;
};

static struct rec R;

/* The acknowledgment number segments of each direction carry unless a test
 * gives one: the start of the other direction's stream (set by handshake),
 * so ACKs never say more than the test means to. */
static uint32_t ack_of[2];
static struct stats *st;
static struct flow_table *ft;

static void logf_(const char *fmt, unsigned long long v, int dir)
{
    int k = snprintf(R.log + R.loglen, sizeof(R.log) - R.loglen, fmt, dir ? "s" : "", v);
    if (k > 0 && (size_t)k < sizeof(R.log) - R.loglen)
        R.loglen += (size_t)k;
}

static void on_data(void *ctx, struct flow *f, int dir, const uint8_t *p, size_t n, uint64_t ts)
{
    (void)ctx, (void)f, (void)ts;
    if (R.n[dir] + n > MAXS)
        return; /* many-flow tests only count */
    memcpy(R.data[dir] + R.n[dir], p, n);
    R.n[dir] += n;
    logf_("%sD%llu ", n, dir);
}

static void on_gap(void *ctx, struct flow *f, int dir, uint64_t len, uint64_t ts)
{
    (void)ctx, (void)f, (void)ts;
    R.gaps[dir]++;
    R.gap_bytes[dir] += len;
    logf_("%sG%llu ", len, dir);
    if (R.n[dir] + len > MAXS)
        return; /* many-flow tests and huge gaps: only counted and logged */
    memset(R.data[dir] + R.n[dir], 0xEE, len);
    R.n[dir] += len;
}

static void on_event(void *ctx, struct flow *f, enum flow_event ev, uint64_t ts)
{
    (void)ctx, (void)f, (void)ts;
    R.evmask |= 1u << ev;
    size_t l = strlen(R.events);
    snprintf(R.events + l, sizeof(R.events) - l, "%s%s", l ? "," : "", flow_event_name(ev));
}

static void on_open(void *ctx, struct flow *f, uint64_t ts)
{
    (void)ctx, (void)f, (void)ts;
    R.opened++;
}

static void on_end(void *ctx, struct flow *f, uint64_t ts)
{
    (void)ctx, (void)ts;
    R.ended++;
    R.ended_id = f->id;
    /* the flow's own counters agree with what was delivered (one-flow tests) */
    if (R.opened == 1)
        ck_assert_uint_eq(f->gap_bytes[0], R.gap_bytes[0]);
    if (R.opened == 1)
        ck_assert_uint_eq(f->gap_bytes[1], R.gap_bytes[1]);
}

static void make_table(size_t per_flow, size_t total)
{
    struct flow_cfg cfg;
    flow_defaults(&cfg);
    cfg.use_ndpi = 0;
    if (per_flow)
        cfg.max_ooo_per_flow = per_flow;
    if (total)
        cfg.max_ooo_total = total;
    struct flow_cb cb = {NULL, on_open, on_data, on_gap, on_event, on_end};
    flow_table_free(ft);
    ft = flow_table_new(&cfg, st, &cb);
    ck_assert_ptr_nonnull(ft);
}

static void setup(void)
{
    memset(&R, 0, sizeof(R));
    ack_of[0] = ack_of[1] = 0;
    R.data[0] = malloc(MAXS);
    R.data[1] = malloc(MAXS);
    st = stats_new();
    ft = NULL;
    make_table(0, 0);
}

static void teardown(void)
{
    flow_table_free(ft);
    ft = NULL;
    stats_free(st);
    free(R.data[0]);
    free(R.data[1]);
}

/* The expected stream byte at offset i of direction dir. */
static uint8_t sbyte(int dir, uint64_t i)
{
    return (uint8_t)(i * 7 + 3 + (unsigned)dir * 101 + (i >> 8));
}

static uint64_t now_us = 1700000000000000ull;

/* Send one segment with acknowledgment number ack: dir 0 = client to
 * server. seq is absolute; payload is bytes [off, off+len) of the stream
 * (off = seq - (isn + 1)). */
static void send_seg_ack(int dir, uint8_t flags, uint32_t seq, uint32_t ack, uint32_t off,
                         uint32_t len, uint32_t wire)
{
    struct pkt p;
    memset(&p, 0, sizeof(p));
    p.ts_us = now_us;
    now_us += 1000;
    p.family = 4;
    uint8_t a[4] = {10, 0, 0, 1}, b[4] = {10, 0, 0, 2};
    memcpy(p.src, dir ? b : a, 4);
    memcpy(p.dst, dir ? a : b, 4);
    p.sport = dir ? SRV_PORT : CLI_PORT;
    p.dport = dir ? CLI_PORT : SRV_PORT;
    p.ip_proto = 6;
    p.seq = seq;
    p.ack = ack;
    p.tcp_flags = flags;
    uint8_t *buf = NULL;
    if (len) {
        buf = malloc(len); /* exactly len: an overread faults under ASan */
        for (uint32_t i = 0; i < len; i++)
            buf[i] = sbyte(dir, (uint64_t)off + i);
    }
    p.payload = buf;
    p.payload_len = len;
    p.payload_wire = wire ? wire : len;
    p.truncated = p.payload_wire > len;
    p.wire_len = 54 + p.payload_wire;
    p.cap_len = 54 + len;
    flow_packet(ft, &p);
    free(buf);
}

static void send_seg(int dir, uint8_t flags, uint32_t seq, uint32_t off, uint32_t len,
                     uint32_t wire)
{
    send_seg_ack(dir, flags, seq, ack_of[dir], off, len, wire);
}

#define ISN_C 1000u
#define ISN_S 5000u
#define F_SYN 0x02
#define F_ACK 0x10
#define F_PSH 0x08
#define F_FIN 0x01
#define F_RST 0x04

static void handshake(uint32_t isn_c, uint32_t isn_s)
{
    ack_of[0] = isn_s + 1;
    ack_of[1] = isn_c + 1;
    send_seg(0, F_SYN, isn_c, 0, 0, 0);
    send_seg(1, F_SYN | F_ACK, isn_s, 0, 0, 0);
    send_seg(0, F_ACK, isn_c + 1, 0, 0, 0);
}

/* client data at stream offset off */
static void cdata(uint32_t isn, uint32_t off, uint32_t len)
{
    send_seg(0, F_ACK | F_PSH, isn + 1 + off, off, len, 0);
}

static void assert_stream(int dir, uint64_t n)
{
    ck_assert_uint_eq(R.n[dir], n);
    for (uint64_t i = 0; i < n; i++)
        if (R.data[dir][i] != sbyte(dir, i))
            ck_abort_msg("dir %d byte %llu: got %02x want %02x", dir, (unsigned long long)i,
                         R.data[dir][i], sbyte(dir, i));
}

START_TEST(in_order)
{
    handshake(ISN_C, ISN_S);
    cdata(ISN_C, 0, 100);
    cdata(ISN_C, 100, 100);
    cdata(ISN_C, 200, 100);
    send_seg(1, F_ACK | F_PSH, ISN_S + 1, 0, 50, 0);
    ck_assert_str_eq(R.log, "D100 D100 D100 sD50 ");
    assert_stream(0, 300);
    assert_stream(1, 50);
    send_seg(0, F_FIN | F_ACK, ISN_C + 301, 0, 0, 0);
    send_seg(1, F_FIN | F_ACK, ISN_S + 51, 0, 0, 0);
    ck_assert_str_eq(R.events, "SYN,ESTABLISHED,CLOSED");
    flow_flush(ft, now_us);
    ck_assert_int_eq(R.ended, 1);
    ck_assert_str_eq(R.log, "D100 D100 D100 sD50 "); /* nothing more at the end */
}
END_TEST

START_TEST(reversed)
{
    handshake(ISN_C, ISN_S);
    for (int i = 9; i >= 0; i--)
        cdata(ISN_C, (uint32_t)i * 100, 100);
    /* nothing before the first segment arrived, then all of it at once */
    ck_assert_str_eq(R.log, "D100 D100 D100 D100 D100 D100 D100 D100 D100 D100 ");
    assert_stream(0, 1000);
    ck_assert_uint_eq(R.gaps[0], 0);
    ck_assert_uint_eq(*stats_counter(st, "reasm.ooo_segments"), 9);
}
END_TEST

START_TEST(shuffled)
{
    /* 50 segments of uneven sizes, delivered in a fixed pseudo-random order */
    uint32_t offs[51], n = 50, order[50];
    uint32_t x = 12345;
    offs[0] = 0;
    for (uint32_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        offs[i + 1] = offs[i] + 1 + (x >> 16) % 700;
        order[i] = i;
    }
    for (uint32_t i = n - 1; i > 0; i--) {
        x = x * 1103515245u + 12345u;
        uint32_t j = (x >> 16) % (i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    handshake(ISN_C, ISN_S);
    for (uint32_t i = 0; i < n; i++)
        cdata(ISN_C, offs[order[i]], offs[order[i] + 1] - offs[order[i]]);
    assert_stream(0, offs[n]);
    ck_assert_uint_eq(R.gaps[0], 0);
    flow_flush(ft, now_us);
    assert_stream(0, offs[n]);
    ck_assert_uint_eq(R.gaps[0], 0);
}
END_TEST

START_TEST(duplicated)
{
    handshake(ISN_C, ISN_S);
    cdata(ISN_C, 0, 100);
    cdata(ISN_C, 0, 100);   /* retransmission of delivered data */
    cdata(ISN_C, 200, 100); /* out of order, held */
    cdata(ISN_C, 200, 100); /* duplicate of held data */
    cdata(ISN_C, 100, 100);
    cdata(ISN_C, 100, 100);
    ck_assert_str_eq(R.log, "D100 D100 D100 ");
    assert_stream(0, 300);
    ck_assert_uint_eq(*stats_counter(st, "reasm.retransmit_bytes"), 200);
    ck_assert_uint_eq(*stats_counter(st, "reasm.overlap_bytes"), 100);
    ck_assert_uint_eq(*stats_counter(st, "reasm.overlap_differs"), 0);
    /* and a duplicated SYN is a retransmission, not a new connection */
    send_seg(0, F_SYN, ISN_C, 0, 0, 0);
    ck_assert_uint_eq(flow_count(ft), 1);
}
END_TEST

/* Segment with explicit content c (not the stream pattern). */
static void cdata_fill(uint32_t off, uint32_t len, uint8_t c)
{
    struct pkt p;
    memset(&p, 0, sizeof(p));
    p.ts_us = now_us++;
    p.family = 4;
    uint8_t a[4] = {10, 0, 0, 1}, b[4] = {10, 0, 0, 2};
    memcpy(p.src, a, 4);
    memcpy(p.dst, b, 4);
    p.sport = CLI_PORT;
    p.dport = SRV_PORT;
    p.ip_proto = 6;
    p.seq = ISN_C + 1 + off;
    p.ack = ack_of[0];
    p.tcp_flags = F_ACK;
    uint8_t *buf = malloc(len);
    memset(buf, c, len);
    p.payload = buf;
    p.payload_len = p.payload_wire = len;
    p.wire_len = p.cap_len = 54 + len;
    flow_packet(ft, &p);
    free(buf);
}

START_TEST(overlapping)
{
    handshake(ISN_C, ISN_S);
    cdata_fill(200, 100, 'A'); /* held [200,300) = A */
    cdata_fill(150, 100, 'B'); /* [150,200) new = B, [200,250) keeps A */
    cdata_fill(250, 100, 'C'); /* [250,300) keeps A, [300,350) = C */
    cdata_fill(0, 160, 'D');   /* [0,150) = D, [150,160) keeps B: all in order now */
    ck_assert_uint_eq(R.n[0], 350);
    for (int i = 0; i < 350; i++) {
        char want = i < 150 ? 'D' : i < 200 ? 'B' : i < 300 ? 'A' : 'C';
        ck_assert_msg(R.data[0][i] == (uint8_t)want, "byte %d: %c want %c", i, R.data[0][i], want);
    }
    ck_assert_uint_eq(R.gaps[0], 0);
    /* 50 + 50 bytes overlapped held data with different content */
    ck_assert_uint_eq(*stats_counter(st, "reasm.overlap_bytes"), 100);
    ck_assert_uint_eq(*stats_counter(st, "reasm.overlap_differs"), 2);
    /* an overlap with delivered data: the first copy (already delivered) won */
    cdata_fill(300, 100, 'E');
    ck_assert_uint_eq(R.n[0], 400);
    ck_assert_int_eq(R.data[0][349], 'C');
    ck_assert_int_eq(R.data[0][350], 'E');
}
END_TEST

START_TEST(wraparound)
{
    /* the ISN sits 300 bytes below 2^32: the stream crosses the wrap at 299 */
    uint32_t isn = 0xFFFFFFFFu - 300;
    handshake(isn, 0xFFFFFFF0u);
    uint32_t order[10] = {3, 0, 9, 1, 2, 8, 4, 7, 5, 6};
    for (int i = 0; i < 10; i++)
        cdata(isn, order[i] * 100, 100);
    assert_stream(0, 1000);
    ck_assert_uint_eq(R.gaps[0], 0);
    /* server side: its ISN 0xFFFFFFF0, data crosses the wrap in one segment */
    send_seg(1, F_ACK, 0xFFFFFFF1u, 0, 64, 0);
    send_seg(1, F_ACK, 0xFFFFFFF1u + 64, 64, 64, 0);
    assert_stream(1, 128);
    /* a retransmission from before the wrap is still recognised as old */
    cdata(isn, 0, 100);
    ck_assert_uint_eq(R.n[0], 1000);
    flow_flush(ft, now_us);
    ck_assert_uint_eq(R.gaps[0], 0);
}
END_TEST

START_TEST(gap_exact)
{
    /* SYN, data 1..100, data 201..300; 101..200 never comes */
    handshake(ISN_C, ISN_S);
    cdata(ISN_C, 0, 100);
    cdata(ISN_C, 200, 100);
    ck_assert_str_eq(R.log, "D100 ");
    flow_flush(ft, now_us);
    ck_assert_str_eq(R.log, "D100 G100 D100 ");
    ck_assert_uint_eq(R.n[0], 300);
    for (int i = 0; i < 300; i++)
        ck_assert_uint_eq(R.data[0][i], i >= 100 && i < 200 ? 0xEE : sbyte(0, (uint64_t)i));
    ck_assert_uint_eq(*stats_counter(st, "reasm.gap_bytes"), 100);
    ck_assert_uint_eq(*stats_counter(st, "reasm.gaps"), 1);
}
END_TEST

START_TEST(gap_before_fin)
{
    /* data 0..99, the rest lost, FIN at offset 300: a 200-byte gap at close */
    handshake(ISN_C, ISN_S);
    cdata(ISN_C, 0, 100);
    send_seg(0, F_FIN | F_ACK, ISN_C + 1 + 300, 0, 0, 0);
    send_seg(1, F_FIN | F_ACK, ISN_S + 1, 0, 0, 0);
    ck_assert_str_eq(R.events, "SYN,ESTABLISHED,CLOSED");
    ck_assert_str_eq(R.log, "D100 G200 ");
    /* bytes after the FIN are an anomaly, not data */
    cdata(ISN_C, 300, 10);
    ck_assert_str_eq(R.log, "D100 G200 ");
    ck_assert_uint_eq(*stats_counter(st, "reasm.data_after_fin"), 1);
}
END_TEST

START_TEST(gap_at_rst)
{
    handshake(ISN_C, ISN_S);
    cdata(ISN_C, 0, 100);
    cdata(ISN_C, 150, 50);
    send_seg(1, F_RST | F_ACK, ISN_S + 1, 0, 0, 0);
    /* the RST ends waiting: the hole and the held data come out at once */
    ck_assert_str_eq(R.log, "D100 G50 D50 ");
    ck_assert_str_eq(R.events, "SYN,ESTABLISHED,RESET");
}
END_TEST

/* The first diagnostic kept for counter name ("" if none). */
static const char *diag_of(const char *name)
{
    size_t nd = stats_diag_count(st);
    for (size_t i = 0; i < nd; i++) {
        const char *c;
        uint64_t ts;
        const char *msg = stats_diag_msg(st, i, &c, &ts);
        if (strcmp(c, name) == 0)
            return msg;
    }
    return "";
}

START_TEST(snaplen_truncated)
{
    handshake(ISN_C, ISN_S);
    /* 100 bytes sent, 60 captured: the missing 40 are a gap, then data resumes */
    send_seg(0, F_ACK, ISN_C + 1, 0, 60, 100);
    cdata(ISN_C, 100, 20);
    ck_assert_str_eq(R.log, "D60 G40 D20 ");
    ck_assert_uint_eq(*stats_counter(st, "reasm.snaplen_gap"), 1);
}
END_TEST

START_TEST(flowcap)
{
    /* per-direction cap 500 bytes: the hole at [0,100) is given up when the
     * buffer would overflow; nothing else is lost */
    make_table(500, 0);
    handshake(ISN_C, ISN_S);
    for (uint32_t i = 1; i <= 8; i++)
        cdata(ISN_C, i * 100, 100);
    /* 5 segments (500 bytes) held; the 6th did not fit: gap 100, then 600 bytes */
    ck_assert_str_eq(R.log, "G100 D100 D100 D100 D100 D100 D100 D100 D100 ");
    ck_assert_uint_eq(R.n[0], 900);
    for (uint32_t i = 100; i < 900; i++)
        ck_assert_uint_eq(R.data[0][i], sbyte(0, i));
    ck_assert_uint_eq(*stats_counter(st, "reasm.ooo_flowcap"), 1);
    /* with a diagnostic naming the limit */
    ck_assert_str_eq(diag_of("reasm.ooo_flowcap"),
                     "reasm: out-of-order bytes held 500 + 100 > limit 500 per direction: the "
                     "hole becomes a gap");
    /* the missing segment arriving late is old news now */
    cdata(ISN_C, 0, 100);
    ck_assert_uint_eq(R.n[0], 900);
}
END_TEST

/* Accounted allocation hands small blocks out in size classes and keeps
 * freed ones: every size keeps its bytes through growth and shrinking,
 * and the pool's count comes back to zero. */
START_TEST(mem_classes_keep_bytes)
{
    struct mem_pool pool;
    mem_pool_init(&pool, "t", 0);
    static const size_t sizes[] = {1,    15,   16,   17,   63,   64,   65,   1000, 1024,
                                   1025, 1152, 1153, 2000, 4095, 4096, 4097, 9000};
    size_t ns = sizeof(sizes) / sizeof(sizes[0]);
    /* every byte checked, one assertion per block (a check per byte ran
     * past the test timeout under ASan) */
    static unsigned char want[9000], zero[9000];
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < ns; i++) {
            for (size_t k = 0; k < sizes[i]; k++)
                want[k] = (unsigned char)(k * 7 + i);
            for (size_t j = 0; j < ns; j++) {
                size_t a = sizes[i], b = sizes[j];
                unsigned char *p = mem_alloc(&pool, a);
                ck_assert_ptr_nonnull(p);
                memcpy(p, want, a);
                unsigned char *q = mem_realloc(&pool, p, a, b);
                ck_assert_ptr_nonnull(q);
                ck_assert_int_eq(memcmp(q, want, a < b ? a : b), 0);
                memset(q, 0xAB, b); /* the whole new size is writable */
                unsigned char *z = mem_calloc(&pool, b);
                ck_assert_ptr_nonnull(z);
                ck_assert_int_eq(memcmp(z, zero, b), 0);
                mem_free(&pool, q, b);
                mem_free(&pool, z, b);
            }
        }
    }
    ck_assert_uint_eq(pool.used, 0);
}
END_TEST

START_TEST(memcap)
{
    /* total memcap: segment headers + bytes must fit in 2000 bytes; the
     * stream loses only the real hole, and memory never passes the cap */
    make_table(1u << 20, 2000);
    handshake(ISN_C, ISN_S);
    for (uint32_t i = 1; i <= 100; i++)
        cdata(ISN_C, i * 100, 100);
    ck_assert_uint_gt(*stats_counter(st, "reasm.ooo_memcap"), 0);
    ck_assert_uint_eq(R.gaps[0], 1);
    ck_assert_uint_eq(R.gap_bytes[0], 100);
    ck_assert_uint_eq(R.n[0], 10100);
    for (uint32_t i = 100; i < 10100; i++)
        ck_assert_uint_eq(R.data[0][i], sbyte(0, i));
    flow_flush(ft, now_us);
    ck_assert_uint_le(*stats_counter(st, "reasm.ooo_peak_bytes"), 2000);
    ck_assert_uint_eq(R.gaps[0], 1);
}
END_TEST

START_TEST(endless_bounded)
{
    /* endless out-of-order input over many flows: memory stays under the caps */
    make_table(4096, 65536);
    for (int fl = 0; fl < 200; fl++) {
        struct pkt p;
        memset(&p, 0, sizeof(p));
        p.family = 4;
        p.ip_proto = 6;
        uint8_t a[4] = {10, 1, (uint8_t)(fl >> 8), (uint8_t)fl}, b[4] = {10, 0, 0, 2};
        memcpy(p.src, a, 4);
        memcpy(p.dst, b, 4);
        p.sport = 30000;
        p.dport = SRV_PORT;
        p.tcp_flags = F_ACK;
        uint8_t *buf = malloc(1000);
        memset(buf, 'x', 1000);
        p.payload = buf;
        p.payload_len = p.payload_wire = 1000;
        for (int s = 0; s < 50; s++) {
            p.ts_us = now_us++;
            /* every other segment missing: each one is out of order */
            p.seq = 1 + (uint32_t)s * 2000u;
            flow_packet(ft, &p);
        }
        free(buf);
    }
    flow_flush(ft, now_us);
    ck_assert_uint_le(*stats_counter(st, "reasm.ooo_peak_bytes"), 65536);
    ck_assert_uint_gt(*stats_counter(st, "reasm.gaps"), 0);
}
END_TEST

START_TEST(refused)
{
    send_seg(0, F_SYN, ISN_C, 0, 0, 0);
    send_seg(1, F_RST | F_ACK, 0, 0, 0, 0);
    flow_flush(ft, now_us);
    ck_assert_str_eq(R.events, "SYN,REFUSED");
    ck_assert_int_eq(R.ended, 1);
}
END_TEST

START_TEST(unanswered)
{
    send_seg(0, F_SYN, ISN_C, 0, 0, 0);
    send_seg(0, F_SYN, ISN_C, 0, 0, 0); /* retransmitted SYN */
    ck_assert_uint_eq(*stats_counter(st, "tcp.syn_retransmit"), 1);
    ck_assert_int_eq(R.ended, 0);
    /* expiry on packet time: the SYN timeout passes */
    struct flow_cfg d;
    flow_defaults(&d);
    flow_expire(ft, now_us + d.syn_timeout_us - 10000);
    ck_assert_int_eq(R.ended, 0);
    flow_expire(ft, now_us + d.syn_timeout_us + 1);
    ck_assert_int_eq(R.ended, 1);
    ck_assert_str_eq(R.events, "SYN,UNANSWERED");
    ck_assert_uint_eq(*stats_counter(st, "flow.expired"), 1);
}
END_TEST

START_TEST(unanswered_at_end)
{
    send_seg(0, F_SYN, ISN_C, 0, 0, 0);
    flow_flush(ft, now_us);
    ck_assert_str_eq(R.events, "SYN,UNANSWERED");
}
END_TEST

START_TEST(reset)
{
    handshake(ISN_C, ISN_S);
    cdata(ISN_C, 0, 10);
    send_seg(0, F_RST, ISN_C + 11, 0, 0, 0);
    ck_assert_str_eq(R.events, "SYN,ESTABLISHED,RESET");
    flow_flush(ft, now_us);
    ck_assert_str_eq(R.events, "SYN,ESTABLISHED,RESET"); /* not UNANSWERED as well */
}
END_TEST

static struct flow fin_state;
static void on_event_fin(void *ctx, struct flow *f, enum flow_event ev, uint64_t ts)
{
    on_event(ctx, f, ev, ts);
    if (ev == FLOW_EV_RESET)
        fin_state = *f;
}

START_TEST(reset_after_fin)
{
    /* client FIN, server answers with RST (unread data): RESET, with the FIN
     * visible on the flow so a consumer can tell it from a mid-stream abort */
    struct flow_cfg cfg;
    flow_defaults(&cfg);
    cfg.use_ndpi = 0;
    struct flow_cb cb = {NULL, on_open, on_data, on_gap, on_event_fin, on_end};
    flow_table_free(ft);
    ft = flow_table_new(&cfg, st, &cb);
    handshake(ISN_C, ISN_S);
    cdata(ISN_C, 0, 10);
    send_seg(0, F_FIN | F_ACK, ISN_C + 11, 0, 0, 0);
    send_seg(1, F_RST | F_ACK, ISN_S + 1, 0, 0, 0);
    ck_assert_str_eq(R.events, "SYN,ESTABLISHED,RESET");
    ck_assert_uint_eq(fin_state.fin[FLOW_C2S], 1);
    ck_assert_uint_eq(fin_state.fin[FLOW_S2C], 0);
}
END_TEST

START_TEST(midstream)
{
    /* no handshake: the server port is the lower one; the first seq seen starts the stream */
    send_seg(1, F_ACK | F_PSH, 777, 0, 30, 0);
    send_seg(0, F_ACK | F_PSH, 99, 0, 20, 0);
    ck_assert_str_eq(R.events, "MIDSTREAM");
    ck_assert_str_eq(R.log, "sD30 D20 ");
    assert_stream(0, 20);
    assert_stream(1, 30);
}
END_TEST

START_TEST(midstream_keepalive_probe)
{
    /* joined mid-connection: the first client segment is a keep-alive probe
     * (seq = next - 1, no data), then the real request: no hole, no gap */
    send_seg(0, F_ACK, 4219739818u, 0, 0, 0);
    send_seg(1, F_ACK, 777, 0, 0, 0);
    send_seg(0, F_ACK | F_PSH, 4219739819u, 0, 20, 0);
    send_seg(1, F_ACK | F_PSH, 777, 0, 30, 0);
    ck_assert_str_eq(R.log, "D20 sD30 ");
    assert_stream(0, 20);
    ck_assert_uint_eq(*stats_counter(st, "reasm.gaps"), 0);
}
END_TEST

START_TEST(port_reuse)
{
    handshake(ISN_C, ISN_S);
    send_seg(0, F_FIN | F_ACK, ISN_C + 1, 0, 0, 0);
    send_seg(1, F_FIN | F_ACK, ISN_S + 1, 0, 0, 0);
    ck_assert_int_eq(R.ended, 0);
    /* same 5-tuple, new SYN: the old flow ends, a new one starts */
    send_seg(0, F_SYN, ISN_C + 100000, 0, 0, 0);
    ck_assert_int_eq(R.ended, 1);
    ck_assert_uint_eq(R.ended_id, 1);
    ck_assert_int_eq(R.opened, 2);
    ck_assert_uint_eq(*stats_counter(st, "flow.port_reused"), 1);
}
END_TEST

/* ---- holes the capture lost: given up on the peer's ACK ---- */

/* A pure ACK from the server acknowledging client stream offset off. */
static void srv_ack(uint32_t isn_c, uint32_t isn_s, uint32_t off)
{
    send_seg_ack(1, F_ACK, isn_s + 1, isn_c + 1 + off, 0, 0, 0);
}

static uint64_t C(const char *name)
{
    return *stats_counter(st, name);
}

START_TEST(ack_gap_hole)
{
    /* [100,200) never reaches the capture, but the server's ACK says the
     * server has it: it will never be retransmitted. The hole comes out at
     * once, exactly, with the data after it; no waiting for a flush. */
    handshake(ISN_C, ISN_S);
    cdata(ISN_C, 0, 100);
    cdata(ISN_C, 200, 100);
    ck_assert_str_eq(R.log, "D100 ");
    srv_ack(ISN_C, ISN_S, 200); /* acknowledges exactly the hole */
    ck_assert_str_eq(R.log, "D100 G100 D100 ");
    ck_assert_uint_eq(R.n[0], 300);
    for (int i = 0; i < 300; i++)
        ck_assert_uint_eq(R.data[0][i], i >= 100 && i < 200 ? 0xEE : sbyte(0, (uint64_t)i));
    ck_assert_uint_eq(C("reasm.ack_gaps"), 1);
    ck_assert_uint_eq(C("reasm.ack_gap_bytes"), 100);
    ck_assert_uint_eq(C("reasm.gaps"), 1);
    ck_assert_uint_eq(C("reasm.hole_timeouts"), 0);
    /* the ACK of everything, and the lost segment showing up late, change nothing */
    srv_ack(ISN_C, ISN_S, 300);
    cdata(ISN_C, 100, 100);
    flow_flush(ft, now_us);
    ck_assert_str_eq(R.log, "D100 G100 D100 ");
}
END_TEST

START_TEST(ack_gap_before_hold)
{
    /* the ACK covering the hole is seen before the data after the hole (the
     * segment that carried [100,200) was lost by the capture): nothing is
     * held then, so nothing is reported; the held data goes out on arrival */
    handshake(ISN_C, ISN_S);
    cdata(ISN_C, 0, 100);
    srv_ack(ISN_C, ISN_S, 200);
    ck_assert_str_eq(R.log, "D100 ");
    cdata(ISN_C, 200, 100);
    ck_assert_str_eq(R.log, "D100 G100 D100 ");
    ck_assert_uint_eq(C("reasm.ack_gap_bytes"), 100);
}
END_TEST

START_TEST(ack_gap_partial)
{
    /* hole [100,300); the server acknowledges up to 150 only: just [100,150)
     * is given up; [150,300) may still be retransmitted, and is */
    handshake(ISN_C, ISN_S);
    cdata(ISN_C, 0, 100);
    cdata(ISN_C, 300, 100);
    srv_ack(ISN_C, ISN_S, 150);
    ck_assert_str_eq(R.log, "D100 G50 ");
    srv_ack(ISN_C, ISN_S, 120); /* an older ACK: nothing */
    ck_assert_str_eq(R.log, "D100 G50 ");
    cdata(ISN_C, 150, 150);
    ck_assert_str_eq(R.log, "D100 G50 D150 D100 ");
    ck_assert_uint_eq(R.n[0], 400);
    for (int i = 0; i < 400; i++)
        ck_assert_uint_eq(R.data[0][i], i >= 100 && i < 150 ? 0xEE : sbyte(0, (uint64_t)i));
    ck_assert_uint_eq(C("reasm.ack_gap_bytes"), 50);
    ck_assert_uint_eq(C("reasm.gap_bytes"), 50);
    flow_flush(ft, now_us);
    ck_assert_str_eq(R.log, "D100 G50 D150 D100 ");
}
END_TEST

START_TEST(ack_gap_several_holes)
{
    /* holes [100,200) and [300,400); an ACK at 350 gives up the first, the
     * data after it, and the acknowledged half of the second */
    handshake(ISN_C, ISN_S);
    cdata(ISN_C, 0, 100);
    cdata(ISN_C, 200, 100);
    cdata(ISN_C, 400, 100);
    srv_ack(ISN_C, ISN_S, 350);
    ck_assert_str_eq(R.log, "D100 G100 D100 G50 ");
    srv_ack(ISN_C, ISN_S, 500);
    ck_assert_str_eq(R.log, "D100 G100 D100 G50 G50 D100 ");
    ck_assert_uint_eq(C("reasm.ack_gaps"), 3);
    ck_assert_uint_eq(C("reasm.ack_gap_bytes"), 200);
}
END_TEST

START_TEST(ack_far_ahead_midstream)
{
    /* joined mid-stream: the server's ACKs are far ahead of anything seen.
     * Only the hole before held data is given up, never bytes past it */
    send_seg_ack(0, F_ACK | F_PSH, 70000, 777, 0, 100, 0);
    /* an ACK beyond the window is not trusted at all */
    send_seg_ack(1, F_ACK, 777, 70000 + 200000000u, 0, 0, 0);
    send_seg_ack(0, F_ACK | F_PSH, 70200, 777, 200, 100, 0);
    ck_assert_str_eq(R.log, "D100 ");
    /* one 1 MB ahead is: the hole goes, and nothing past the held data */
    send_seg_ack(1, F_ACK, 777, 70000 + 1000000, 0, 0, 0);
    ck_assert_str_eq(R.log, "D100 G100 D100 ");
    ck_assert_uint_eq(R.n[0], 300);
    ck_assert_uint_eq(C("reasm.gap_bytes"), 100);
    send_seg_ack(0, F_ACK | F_PSH, 70300, 777, 300, 100, 0);
    flow_flush(ft, now_us);
    ck_assert_str_eq(R.log, "D100 G100 D100 D100 ");
}
END_TEST

START_TEST(ack_gap_wrap)
{
    /* the hole [100,200) straddles the 2^32 wrap (at offset 150); the ACKs
     * are small numbers past it, one exactly 0 */
    uint32_t isn = 0xFFFFFFFFu - 150;
    handshake(isn, ISN_S);
    cdata(isn, 0, 100);
    cdata(isn, 200, 100);
    ck_assert_uint_eq(isn + 1 + 150, 0);
    srv_ack(isn, ISN_S, 150); /* ack number 0 */
    ck_assert_str_eq(R.log, "D100 G50 ");
    srv_ack(isn, ISN_S, 300); /* ack number 150 */
    ck_assert_str_eq(R.log, "D100 G50 G50 D100 ");
    ck_assert_uint_eq(R.n[0], 300);
    cdata(isn, 300, 100);
    ck_assert_str_eq(R.log, "D100 G50 G50 D100 D100 ");
    for (int i = 300; i < 400; i++)
        ck_assert_uint_eq(R.data[0][i], sbyte(0, (uint64_t)i));
}
END_TEST

/* ---- holes nobody acknowledges: the hole timeout on packet time ---- */

START_TEST(hole_timeout_expire)
{
    struct flow_cfg d;
    flow_defaults(&d);
    ck_assert_uint_eq(d.hole_timeout_us, 2000000);
    handshake(ISN_C, ISN_S);
    cdata(ISN_C, 0, 100);
    uint64_t t = now_us; /* the held segment's time */
    cdata(ISN_C, 200, 100);
    flow_expire(ft, t + d.hole_timeout_us - 1);
    ck_assert_str_eq(R.log, "D100 ");
    flow_expire(ft, t + d.hole_timeout_us);
    ck_assert_str_eq(R.log, "D100 G100 D100 ");
    ck_assert_uint_eq(C("reasm.hole_timeouts"), 1);
    ck_assert_uint_eq(C("reasm.hole_timeout_bytes"), 100);
    ck_assert_uint_eq(C("reasm.ack_gaps"), 0);
    ck_assert_uint_eq(flow_count(ft), 1); /* the flow lives on */
    now_us = t + d.hole_timeout_us + 1000;
    cdata(ISN_C, 300, 10);
    ck_assert_str_eq(R.log, "D100 G100 D100 D10 ");
}
END_TEST

START_TEST(hole_timeout_on_packet)
{
    /* no flow_expire at all: the next packet of the flow, 2 s later, finds
     * the hole due and gives it up before its own data */
    handshake(ISN_C, ISN_S);
    cdata(ISN_C, 0, 100);
    uint64_t t = now_us;
    cdata(ISN_C, 200, 100);
    now_us = t + 1999999;
    send_seg(1, F_ACK | F_PSH, ISN_S + 1, 0, 10, 0);
    ck_assert_str_eq(R.log, "D100 sD10 ");
    now_us = t + 2000000;
    send_seg(1, F_ACK | F_PSH, ISN_S + 11, 10, 10, 0);
    ck_assert_str_eq(R.log, "D100 sD10 G100 D100 sD10 ");
}
END_TEST

START_TEST(hole_timeout_progress)
{
    /* a retransmission filling part of the hole restarts the wait for the rest */
    handshake(ISN_C, ISN_S);
    cdata(ISN_C, 0, 100);
    uint64_t t = now_us;
    cdata(ISN_C, 300, 100);
    now_us = t + 1500000;
    cdata(ISN_C, 100, 100); /* [200,300) still missing */
    flow_expire(ft, t + 2000000);
    ck_assert_str_eq(R.log, "D100 D100 ");
    flow_expire(ft, t + 1500000 + 2000000);
    ck_assert_str_eq(R.log, "D100 D100 G100 D100 ");
}
END_TEST

START_TEST(hole_timeout_off)
{
    /* hole_timeout_us 0: holes wait for ACKs, caps or the end only */
    struct flow_cfg cfg;
    flow_defaults(&cfg);
    cfg.use_ndpi = 0;
    cfg.hole_timeout_us = 0;
    struct flow_cb cb = {NULL, on_open, on_data, on_gap, on_event, on_end};
    flow_table_free(ft);
    ft = flow_table_new(&cfg, st, &cb);
    handshake(ISN_C, ISN_S);
    cdata(ISN_C, 0, 100);
    cdata(ISN_C, 200, 100);
    flow_expire(ft, now_us + 500000000ull);
    ck_assert_str_eq(R.log, "D100 ");
    flow_flush(ft, now_us + 500000000ull);
    ck_assert_str_eq(R.log, "D100 G100 D100 ");
}
END_TEST

/* ---- sequence jumps: resync ---- */

START_TEST(resync_forward_100mb)
{
    /* the client's sequence numbers jump 100 MB ahead (two captures of one
     * connection merged): the first far segment waits, the next one that
     * continues it confirms the jump; the gap is the distance */
    const uint32_t J = 100000000;
    handshake(ISN_C, ISN_S);
    cdata(ISN_C, 0, 100);
    cdata(ISN_C, 100 + J, 100);
    ck_assert_str_eq(R.log, "D100 ");
    ck_assert_uint_eq(C("reasm.out_of_window"), 1);
    ck_assert_uint_eq(C("reasm.resync"), 0);
    cdata(ISN_C, 200 + J, 100);
    ck_assert_str_eq(R.log, "D100 G100000000 D100 D100 ");
    ck_assert_uint_eq(C("reasm.resync"), 1);
    ck_assert_uint_eq(C("reasm.out_of_window"), 2);
    ck_assert_uint_eq(C("reasm.gap_bytes"), J);
    /* the gap is too big for the recorder's buffer: data follows at 100 */
    for (uint32_t i = 0; i < 200; i++)
        ck_assert_uint_eq(R.data[0][100 + i], sbyte(0, 100 + J + i));
    /* and the stream goes on in order from there, reordering included */
    cdata(ISN_C, 400 + J, 100);
    cdata(ISN_C, 300 + J, 100);
    ck_assert_str_eq(R.log, "D100 G100000000 D100 D100 D100 D100 ");
    for (uint32_t i = 200; i < 400; i++)
        ck_assert_uint_eq(R.data[0][100 + i], sbyte(0, 100 + J + i));
    flow_flush(ft, now_us);
    ck_assert_uint_eq(R.gaps[0], 1);
    ck_assert_uint_eq(C("reasm.resync"), 1);
}
END_TEST

START_TEST(resync_backward_5mb)
{
    /* the client's sequence numbers jump 5 MB back (a new connection on the
     * same 5-tuple whose SYN was not captured). The server's ACKs are
     * visible, so contiguous segments alone do not prove it (a late
     * retransmission burst looks the same): the server's ACK does. The gap
     * length is unknown: 0. */
    const uint32_t B = 5000000, nb = 100 - B; /* wraps below the ISN: fine */
    handshake(ISN_C, ISN_S);
    cdata(ISN_C, 0, 100);
    cdata(ISN_C, nb, 100);
    cdata(ISN_C, nb + 100, 100);
    ck_assert_str_eq(R.log, "D100 ");
    ck_assert_uint_eq(C("reasm.out_of_window"), 2);
    srv_ack(ISN_C, ISN_S, 100); /* an ACK of the old position confirms nothing */
    ck_assert_str_eq(R.log, "D100 ");
    srv_ack(ISN_C, ISN_S, nb + 200); /* the server is at the new position */
    ck_assert_str_eq(R.log, "D100 G0 D200 ");
    ck_assert_uint_eq(C("reasm.resync"), 1);
    ck_assert_uint_eq(C("reasm.gaps"), 1);
    ck_assert_uint_eq(C("reasm.gap_bytes"), 0);
    cdata(ISN_C, nb + 300, 100); /* held */
    cdata(ISN_C, nb + 200, 100);
    ck_assert_str_eq(R.log, "D100 G0 D200 D100 D100 ");
    ck_assert_uint_eq(R.n[0], 500);
    for (uint32_t i = 0; i < 400; i++)
        ck_assert_uint_eq(R.data[0][100 + i], sbyte(0, (uint32_t)(nb + i)));
    /* holes at the new position are handled as before */
    cdata(ISN_C, nb + 500, 50);
    srv_ack(ISN_C, ISN_S, nb + 550);
    ck_assert_str_eq(R.log, "D100 G0 D200 D100 D100 G100 D50 ");
}
END_TEST

START_TEST(resync_backward_oneway)
{
    /* only the client's side is captured (no ACKs from the server at all):
     * two contiguous segments 5 MB back are the proof */
    send_seg_ack(0, F_ACK | F_PSH, 90000000, 0, 0, 100, 0);
    send_seg_ack(0, F_ACK | F_PSH, 85000000, 0, 0, 100, 0);
    ck_assert_str_eq(R.log, "D100 ");
    send_seg_ack(0, F_ACK | F_PSH, 85000100, 0, 100, 100, 0);
    ck_assert_str_eq(R.log, "D100 G0 D100 D100 ");
    ck_assert_uint_eq(C("reasm.resync"), 1);
}
END_TEST

START_TEST(resync_delivers_held_first)
{
    /* data held at the old position was captured before the jump: it goes
     * out first (its hole as a gap), then the jump */
    const uint32_t J = 100000000;
    make_table(0, 0);
    struct flow_cfg d;
    flow_defaults(&d);
    handshake(ISN_C, ISN_S);
    cdata(ISN_C, 0, 100);
    cdata(ISN_C, 200, 100); /* held, hole [100,200) */
    cdata(ISN_C, 300 + J, 100);
    cdata(ISN_C, 400 + J, 100);
    /* old: gap 100, held 100; jump from 300 to 300 + J; new: 200 */
    ck_assert_str_eq(R.log, "D100 G100 D100 G100000000 D100 D100 ");
    ck_assert_uint_eq(C("reasm.gap_bytes"), 100 + J);
    ck_assert_uint_eq(C("reasm.resync"), 1);
}
END_TEST

START_TEST(resync_not_on_noise)
{
    /* one stray far segment between good ones: not a jump */
    handshake(ISN_C, ISN_S);
    cdata(ISN_C, 0, 100);
    cdata(ISN_C, 100 + 300000000u, 100);
    cdata(ISN_C, 100, 100);
    cdata(ISN_C, 200 + 300000000u, 100); /* continues the stray, but it was dropped */
    cdata(ISN_C, 200, 100);
    ck_assert_str_eq(R.log, "D100 D100 D100 ");
    ck_assert_uint_eq(C("reasm.resync"), 0);
    ck_assert_uint_eq(C("reasm.out_of_window"), 2);
    ck_assert_ptr_nonnull(
        strstr(diag_of("reasm.out_of_window"), "is 300000000 bytes from the next"));
    /* a stray candidate left alone is dropped after the hole timeout */
    cdata(ISN_C, 300 + 300000000u, 100);
    flow_expire(ft, now_us + 2000000);
    cdata(ISN_C, 400 + 300000000u, 100); /* would have continued it */
    ck_assert_uint_eq(C("reasm.resync"), 0);
    /* a backward burst while the server keeps acknowledging the old
     * position is a late retransmission, not a jump */
    cdata(ISN_C, (uint32_t)(300 - 6000000), 100);
    cdata(ISN_C, (uint32_t)(400 - 6000000), 100);
    srv_ack(ISN_C, ISN_S, 300);
    cdata(ISN_C, 300, 100);
    ck_assert_str_eq(R.log, "D100 D100 D100 D100 ");
    ck_assert_uint_eq(C("reasm.resync"), 0);
    flow_flush(ft, now_us);
    ck_assert_uint_eq(R.gaps[0], 0);
}
END_TEST

START_TEST(resync_wrap)
{
    /* a forward jump of 100 MB that crosses 2^32, and the ACK of a backward
     * jump that crosses it the other way */
    const uint32_t J = 100000000;
    uint32_t isn = 0xFFFFFFFFu - 1000;
    handshake(isn, ISN_S);
    cdata(isn, 0, 100);
    cdata(isn, 100 + J, 100); /* seq wraps to a small number */
    cdata(isn, 200 + J, 100);
    ck_assert_str_eq(R.log, "D100 G100000000 D100 D100 ");
    for (uint32_t i = 0; i < 200; i++)
        ck_assert_uint_eq(R.data[0][100 + i], sbyte(0, 100 + J + i));
    /* now 5 MB back, across the wrap again, confirmed by the server's ACK */
    uint32_t nb = 300 + J - 5000000;
    cdata(isn, nb, 100);
    srv_ack(isn, ISN_S, nb + 100);
    ck_assert_str_eq(R.log, "D100 G100000000 D100 D100 G0 D100 ");
    ck_assert_uint_eq(C("reasm.resync"), 2);
}
END_TEST

START_TEST(resync_fin_reset)
{
    /* a FIN of the old position does not end the new one */
    const uint32_t J = 50000000;
    handshake(ISN_C, ISN_S);
    cdata(ISN_C, 0, 100);
    send_seg(0, F_FIN | F_ACK, ISN_C + 101, 0, 0, 0);
    cdata(ISN_C, 100 + J, 100);
    cdata(ISN_C, 200 + J, 100);
    ck_assert_str_eq(R.log, "D100 G50000000 D100 D100 ");
    ck_assert_uint_eq(C("reasm.data_after_fin"), 0);
}
END_TEST

START_TEST(hostile_jumps_bounded)
{
    /* random sequence numbers and ACKs both ways on many flows: no crash,
     * memory under the caps, every held byte accounted */
    make_table(8192, 65536);
    uint32_t x = 987654321u;
    uint8_t *buf = malloc(1400);
    memset(buf, 'z', 1400);
#define NEXT() (x ^= x << 13, x ^= x >> 17, x ^= x << 5) /* xorshift32 */
    for (int i = 0; i < 20000; i++) {
        struct pkt p;
        memset(&p, 0, sizeof(p));
        NEXT();
        int fl = (int)((x >> 8) % 16), dir = (int)((x >> 12) & 1);
        p.ts_us = now_us;
        now_us += 50000; /* 50 ms: timeouts fire too */
        p.family = 4;
        p.ip_proto = 6;
        uint8_t a[4] = {10, 2, 0, (uint8_t)fl}, b[4] = {10, 0, 0, 2};
        memcpy(p.src, dir ? b : a, 4);
        memcpy(p.dst, dir ? a : b, 4);
        p.sport = dir ? SRV_PORT : 30000;
        p.dport = dir ? 30000 : SRV_PORT;
        NEXT();
        uint32_t base = 1000000u * (uint32_t)fl;
        /* mostly near a base, sometimes anywhere */
        p.seq = (x & 3) ? base + (x >> 16) * 7 : x;
        NEXT();
        p.ack = (x & 1) ? base + (x >> 12) : x;
        p.tcp_flags = F_ACK;
        NEXT();
        uint32_t len = (x >> 20) % 1400;
        p.payload = buf;
        p.payload_len = p.payload_wire = len;
        flow_packet(ft, &p);
        if (i % 2 == 0)
            flow_expire(ft, now_us);
    }
#undef NEXT
    free(buf);
    flow_flush(ft, now_us);
    ck_assert_uint_le(C("reasm.ooo_peak_bytes"), 65536);
    /* the seed reaches every mechanism */
    ck_assert_uint_gt(C("reasm.out_of_window"), 0);
    ck_assert_uint_gt(C("reasm.resync"), 0);
    ck_assert_uint_gt(C("reasm.ack_gaps"), 0);
    ck_assert_uint_gt(C("reasm.hole_timeouts"), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("reasm");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, in_order);
    tcase_add_test(tc, reversed);
    tcase_add_test(tc, shuffled);
    tcase_add_test(tc, duplicated);
    tcase_add_test(tc, overlapping);
    tcase_add_test(tc, wraparound);
    tcase_add_test(tc, gap_exact);
    tcase_add_test(tc, gap_before_fin);
    tcase_add_test(tc, gap_at_rst);
    tcase_add_test(tc, snaplen_truncated);
    tcase_add_test(tc, flowcap);
    tcase_add_test(tc, memcap);
    tcase_add_test(tc, endless_bounded);
    tcase_add_test(tc, refused);
    tcase_add_test(tc, unanswered);
    tcase_add_test(tc, unanswered_at_end);
    tcase_add_test(tc, reset);
    tcase_add_test(tc, reset_after_fin);
    tcase_add_test(tc, midstream);
    tcase_add_test(tc, midstream_keepalive_probe);
    tcase_add_test(tc, port_reuse);
    tcase_add_test(tc, ack_gap_hole);
    tcase_add_test(tc, ack_gap_before_hold);
    tcase_add_test(tc, ack_gap_partial);
    tcase_add_test(tc, ack_gap_several_holes);
    tcase_add_test(tc, ack_far_ahead_midstream);
    tcase_add_test(tc, ack_gap_wrap);
    tcase_add_test(tc, hole_timeout_expire);
    tcase_add_test(tc, hole_timeout_on_packet);
    tcase_add_test(tc, hole_timeout_progress);
    tcase_add_test(tc, hole_timeout_off);
    tcase_add_test(tc, resync_forward_100mb);
    tcase_add_test(tc, resync_backward_5mb);
    tcase_add_test(tc, resync_backward_oneway);
    tcase_add_test(tc, resync_delivers_held_first);
    tcase_add_test(tc, resync_not_on_noise);
    tcase_add_test(tc, resync_wrap);
    tcase_add_test(tc, resync_fin_reset);
    tcase_add_test(tc, hostile_jumps_bounded);
    tcase_add_test(tc, mem_classes_keep_bytes);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
