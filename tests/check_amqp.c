/* check_amqp.c -- AMQP 0-9-1 framing (parsers/amqp.h) on real captures and
 * crafted frames: three feeds (whole, one byte per call, split at every
 * offset), joining mid-stream, gaps, bad frame ends, oversized frames,
 * body cap, field tables (nesting, unknown tags, RabbitMQ tag types) and
 * the Start-Ok secret. Inputs sit at the end of exactly-sized allocations. */
#include <check.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/amqp.h"
#include "tests/amqp_build.h"
#include "tests/pcap_streams.h"

/* Concatenated stream of (flow, dir). */
static uint8_t *stream_of(const struct capture *cap, int flow, int dir, size_t *n)
{
    size_t total = 0;
    for (size_t i = 0; i < cap->n; i++)
        if (cap->c[i].flow == flow && cap->c[i].dir == dir)
            total += cap->c[i].n;
    uint8_t *s = malloc(total ? total : 1);
    size_t w = 0;
    for (size_t i = 0; i < cap->n; i++)
        if (cap->c[i].flow == flow && cap->c[i].dir == dir) {
            memcpy(s + w, cap->c[i].p, cap->c[i].n);
            w += cap->c[i].n;
        }
    *n = total;
    return s;
}

/* ---- recording parser output ---------------------------------------- */

struct log {
    char *s;
    size_t n, cap;
    int publish, deliver, other, methods;
    char login[64];
};

static void log_add(struct log *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_add(struct log *l, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (k < 0)
        return;
    if ((size_t)k >= sizeof(buf))
        k = sizeof(buf) - 1;
    if (l->n + (size_t)k + 1 > l->cap) {
        l->cap = (l->n + (size_t)k + 1) * 2;
        l->s = realloc(l->s, l->cap);
    }
    memcpy(l->s + l->n, buf, (size_t)k);
    l->n += (size_t)k;
    l->s[l->n] = '\0';
}

static uint32_t fnv(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static void on_msg(void *ctx, const struct amqp_msg *m)
{
    struct log *l = ctx;
    if (m->method == AMQP_BASIC_PUBLISH)
        l->publish++;
    else if (m->method == AMQP_BASIC_DELIVER)
        l->deliver++;
    else
        l->other++;
    log_add(l, "M %d %u %s ex=%.*s rk=%.*s tag=%llu size=%llu body=%zu/%08x fl=%x exp=%.*s\n",
            m->dir, m->channel, amqp_method_name(m->method), (int)m->exchange.n,
            (const char *)m->exchange.p, (int)m->routing_key.n, (const char *)m->routing_key.p,
            (unsigned long long)m->delivery_tag, (unsigned long long)m->body_size, m->body.n,
            fnv(m->body.p, m->body.n), m->flags, (int)m->props.expiration.n,
            (const char *)m->props.expiration.p);
}

static void on_method(void *ctx, const struct amqp_method *m)
{
    struct log *l = ctx;
    l->methods++;
    if (m->login.n && m->login.n < sizeof(l->login)) {
        memcpy(l->login, m->login.p, m->login.n);
        l->login[m->login.n] = '\0';
    }
    log_add(l, "m %d %u %s q=%.*s code=%u cn=%.*s\n", m->dir, m->channel,
            amqp_method_name(m->method), (int)m->queue.n, (const char *)m->queue.p,
            m->reply_code, (int)m->connection_name.n, (const char *)m->connection_name.p);
}

/* The caller-side buffering of parsers/parse.h for one direction: the
 * unconsumed rest is kept and fed again with the new bytes appended, each
 * time from an exactly-sized allocation so overreads fault under ASan. */
struct feeder {
    uint8_t *rest;
    size_t n;
    int errors;
};

static void feed_bytes(struct amqp *a, struct feeder *f, int dir, const uint8_t *p, size_t n,
                       uint64_t ts)
{
    uint8_t *buf = malloc(f->n + n ? f->n + n : 1);
    if (f->n)
        memcpy(buf, f->rest, f->n);
    if (n)
        memcpy(buf + f->n, p, n);
    size_t len = f->n + n, off = 0;
    free(f->rest);
    f->rest = NULL;
    for (;;) {
        size_t left = len - off;
        uint8_t *exact = malloc(left ? left : 1);
        if (left)
            memcpy(exact, buf + off, left);
        struct parse_result r = amqp_feed(a, dir, exact, left, ts);
        free(exact);
        ck_assert_uint_le(r.consumed, left);
        off += r.consumed;
        if (r.status == PARSE_ERROR) {
            f->errors++;
            ck_assert_uint_gt(r.consumed, 0);
            if (off < len)
                continue;
        }
        if (r.status == PARSE_NEED_MORE)
            ck_assert_uint_gt(r.needed, 0);
        break;
    }
    f->n = len - off;
    f->rest = malloc(f->n ? f->n : 1);
    if (f->n)
        memcpy(f->rest, buf + off, f->n);
    free(buf);
}

static struct amqp *new_parser(struct log *l, struct stats *st, const struct amqp_cfg *cfg)
{
    memset(l, 0, sizeof(*l));
    struct amqp *a = amqp_new(cfg, NULL, st, on_msg, on_method, l);
    ck_assert_ptr_nonnull(a);
    return a;
}

enum mode { WHOLE, BYTES, SPLIT };

/* Feed a stream of one direction (from offset `from`) in a mode; split
 * mode cuts it once at `at`. Returns the log (caller frees l->s). */
static void run_stream(struct log *l, const uint8_t *s, size_t n, int dir, enum mode mode,
                       size_t at, const struct amqp_cfg *cfg, struct stats *st)
{
    struct amqp *a = new_parser(l, st, cfg);
    struct feeder f = {NULL, 0, 0};
    if (mode == WHOLE) {
        feed_bytes(a, &f, dir, s, n, 1);
    } else if (mode == BYTES) {
        for (size_t i = 0; i < n; i++)
            feed_bytes(a, &f, dir, s + i, 1, 1);
    } else {
        feed_bytes(a, &f, dir, s, at, 1);
        feed_bytes(a, &f, dir, s + at, n - at, 1);
    }
    free(f.rest);
    amqp_end(a, 2);
    amqp_free(a);
}

/* Offsets of METHOD frames of content methods in a stream that starts at a
 * frame boundary (or with the protocol header). */
static size_t content_offsets(const uint8_t *s, size_t n, size_t *offs, size_t max)
{
    size_t off = (n >= 4 && memcmp(s, "AMQP", 4) == 0) ? 8 : 0, k = 0;
    while (off + 8 <= n) {
        uint32_t size = be32(s + off + 3);
        if (off + 8 + size > n)
            break;
        if (s[off] == 1 && size >= 4) {
            uint32_t mid = be32(s + off + 7);
            if ((mid == AMQP_BASIC_PUBLISH || mid == AMQP_BASIC_DELIVER ||
                 mid == AMQP_BASIC_RETURN || mid == AMQP_BASIC_GET_OK) &&
                k < max)
                offs[k++] = off;
        }
        off += 8 + size;
    }
    return k;
}

/* Lines of log starting with "M " (content messages). */
static size_t msg_lines(const char *s, const char **lines, size_t max)
{
    size_t k = 0;
    const char *p = s;
    while (p && *p) {
        if (p[0] == 'M' && p[1] == ' ' && k < max)
            lines[k++] = p;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return k;
}

static int line_eq(const char *a, const char *b)
{
    const char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');
    size_t la = ea ? (size_t)(ea - a) : strlen(a), lb = eb ? (size_t)(eb - b) : strlen(b);
    return la == lb && memcmp(a, b, la) == 0;
}

/* ---- tests on real captures ------------------------------------------ */

static const char *const CAPS[] = {
    "s1_rpc_chain_novalidhost.pcap", "s1_notify_error_spawn.pcap", "s1_rpc_remote_exception.pcap",
    "s1_rpc_timeout_no_server.pcap", "s2p_novalidhost_capacity.pcap",
};
/* Basic.Publish / Basic.Deliver counts tshark reports for CAPS (tshark -r F
 * -Y amqp -T fields -e amqp.method.class -e amqp.method.method, counting
 * 60/40 and 60/60 occurrences). */
static const int CAP_PUB[] = {5, 9, 2, 1, 13};
static const int CAP_DEL[] = {4, 7, 2, 0, 9};

START_TEST(real_counts_three_ways)
{
    const char *name = CAPS[_i];
    struct capture *cap = load_capture(name);
    int pub = 0, del = 0;
    for (int f = 0; f < cap->nflows; f++) {
        for (int dir = 0; dir < 2; dir++) {
            size_t n;
            uint8_t *s = stream_of(cap, f, dir, &n);
            struct log whole, bytes;
            run_stream(&whole, s, n, dir, WHOLE, 0, NULL, NULL);
            pub += whole.publish;
            del += whole.deliver;
            /* one byte per call (bounded work: big streams are split at
               a stride instead) */
            if (n <= 32768)
                run_stream(&bytes, s, n, dir, BYTES, 0, NULL, NULL);
            else
                run_stream(&bytes, s, n, dir, SPLIT, n / 3, NULL, NULL);
            ck_assert_str_eq(whole.s ? whole.s : "", bytes.s ? bytes.s : "");
            /* every split point on small streams, a stride on big ones */
            size_t step = n <= 8192 ? 1 : n / 500 + 1;
            for (size_t at = 0; at <= n; at += step) {
                struct log sp;
                run_stream(&sp, s, n, dir, SPLIT, at, NULL, NULL);
                ck_assert_msg(strcmp(whole.s ? whole.s : "", sp.s ? sp.s : "") == 0,
                              "%s flow %d dir %d split at %zu differs", name, f, dir, at);
                free(sp.s);
            }
            free(whole.s);
            free(bytes.s);
            free(s);
        }
    }
    ck_assert_int_eq(pub, CAP_PUB[_i]);
    ck_assert_int_eq(del, CAP_DEL[_i]);
    free_capture(cap);
}
END_TEST

/* The flow/dir of cap with the most content messages. */
static void busiest(const struct capture *cap, int *bf, int *bd)
{
    size_t best = 0;
    *bf = 0;
    *bd = 0;
    for (int f = 0; f < cap->nflows; f++)
        for (int dir = 0; dir < 2; dir++) {
            size_t n, offs[256];
            uint8_t *s = stream_of(cap, f, dir, &n);
            size_t k = content_offsets(s, n, offs, 256);
            if (k > best) {
                best = k;
                *bf = f;
                *bd = dir;
            }
            free(s);
        }
}

START_TEST(mid_stream_join)
{
    const char *const names[] = {"s1_rpc_chain_novalidhost.pcap", "s2p_novalidhost_capacity.pcap"};
    for (size_t ci = 0; ci < 2; ci++) {
        struct capture *cap = load_capture(names[ci]);
        int f, dir;
        busiest(cap, &f, &dir);
        size_t n, offs[256];
        uint8_t *s = stream_of(cap, f, dir, &n);
        size_t k = content_offsets(s, n, offs, 256);
        ck_assert_uint_ge(k, 2);
        struct log ref;
        run_stream(&ref, s, n, dir, WHOLE, 0, NULL, NULL);
        const char *rl[256];
        size_t nr = msg_lines(ref.s, rl, 256);
        ck_assert_uint_eq(nr, k);
        for (size_t from = 1; from < 300 && from < offs[k - 1]; from++) {
            struct stats *st = stats_new();
            struct log l;
            /* the stream starts at an arbitrary offset: whole and bytewise */
            run_stream(&l, s + from, n - from, dir, WHOLE, 0, NULL, st);
            struct log lb;
            if (n - from <= 16384 && from % 7 == 0)
                run_stream(&lb, s + from, n - from, dir, BYTES, 0, NULL, NULL);
            else
                run_stream(&lb, s + from, n - from, dir, SPLIT, (from * 131) % (n - from), NULL,
                           NULL);
            ck_assert_str_eq(l.s ? l.s : "", lb.s ? lb.s : "");
            const char *ol[256];
            size_t no = msg_lines(l.s, ol, 256);
            size_t first = 0;
            while (first < k && offs[first] < from)
                first++;
            ck_assert_msg(no == k - first, "%s from %zu: %zu messages, want %zu", names[ci], from,
                          no, k - first);
            for (size_t i = 0; i < no; i++)
                ck_assert(line_eq(ol[i], rl[first + i]));
            if (from != 0 && (size_t)from != offs[0])
                ck_assert_uint_ge(*stats_counter(st, "amqp.resync"), 1);
            free(l.s);
            free(lb.s);
            stats_free(st);
        }
        free(ref.s);
        free(s);
        free_capture(cap);
    }
}
END_TEST

START_TEST(gap_then_resync)
{
    struct capture *cap = load_capture("s1_rpc_chain_novalidhost.pcap");
    int f, dir;
    busiest(cap, &f, &dir);
    size_t n, offs[256];
    uint8_t *s = stream_of(cap, f, dir, &n);
    size_t k = content_offsets(s, n, offs, 256);
    ck_assert_uint_ge(k, 2);
    struct log ref;
    run_stream(&ref, s, n, dir, WHOLE, 0, NULL, NULL);
    const char *rl[256];
    msg_lines(ref.s, rl, 256);
    /* cut inside the first message's frames, lose 37 bytes, continue */
    size_t cut = offs[0] + 30, resume = cut + 37;
    struct stats *st = stats_new();
    struct log l;
    struct amqp *a = new_parser(&l, st, NULL);
    struct feeder fd = {NULL, 0, 0};
    feed_bytes(a, &fd, dir, s, cut, 1);
    free(fd.rest);
    fd.rest = NULL;
    fd.n = 0; /* the caller drops its unconsumed rest at a gap */
    amqp_gap(a, dir, resume - cut, 2);
    ck_assert(amqp_syncing(a, dir));
    feed_bytes(a, &fd, dir, s + resume, n - resume, 3);
    free(fd.rest);
    const char *ol[256];
    size_t no = msg_lines(l.s, ol, 256);
    ck_assert_uint_eq(no, k - 1);
    for (size_t i = 0; i < no; i++)
        ck_assert(line_eq(ol[i], rl[i + 1]));
    ck_assert_uint_eq(*stats_counter(st, "amqp.gaps"), 1);
    ck_assert_uint_ge(*stats_counter(st, "amqp.resync"), 1);
    amqp_free(a);
    free(l.s);
    free(ref.s);
    free(s);
    stats_free(st);
    free_capture(cap);
}
END_TEST

START_TEST(bad_frame_end)
{
    struct capture *cap = load_capture("s1_rpc_chain_novalidhost.pcap");
    int f, dir;
    busiest(cap, &f, &dir);
    size_t n, offs[256];
    uint8_t *s = stream_of(cap, f, dir, &n);
    size_t k = content_offsets(s, n, offs, 256);
    struct log ref;
    run_stream(&ref, s, n, dir, WHOLE, 0, NULL, NULL);
    const char *rl[256];
    msg_lines(ref.s, rl, 256);
    /* break the end octet of the first content METHOD frame */
    size_t end = offs[0] + 7 + be32(s + offs[0] + 3);
    ck_assert_uint_eq(s[end], 0xCE);
    s[end] = 0xCD;
    for (int mode = WHOLE; mode <= BYTES; mode++) {
        struct stats *st = stats_new();
        struct log l;
        run_stream(&l, s, n, dir, (enum mode)mode, 0, NULL, st);
        const char *ol[256];
        size_t no = msg_lines(l.s, ol, 256);
        ck_assert_uint_eq(no, k - 1);
        for (size_t i = 0; i < no; i++)
            ck_assert(line_eq(ol[i], rl[i + 1]));
        ck_assert_uint_eq(*stats_counter(st, "amqp.bad_frame_end"), 1);
        ck_assert_uint_ge(*stats_counter(st, "amqp.resync"), 1);
        free(l.s);
        stats_free(st);
    }
    free(ref.s);
    free(s);
    free_capture(cap);
}
END_TEST

/* ---- crafted frames -------------------------------------------------- */

/* Basic.Publish + header + one body frame on channel 1. */
static void publish(struct buf *out, const char *ex, const char *rk, const char *body)
{
    static struct buf pl;
    pl.n = 0;
    put32(&pl, AMQP_BASIC_PUBLISH);
    put16(&pl, 0);
    putss(&pl, ex);
    putss(&pl, rk);
    put8(&pl, 0);
    frame(out, 1, 1, &pl);
    pl.n = 0;
    put16(&pl, 60);
    put16(&pl, 0);
    put64(&pl, strlen(body));
    put16(&pl, 0x8000 | 0x0100);
    putss(&pl, "application/json");
    putss(&pl, "5000");
    frame(out, 2, 1, &pl);
    if (*body) {
        pl.n = 0;
        putmem(&pl, body, strlen(body));
        frame(out, 3, 1, &pl);
    }
}

static struct buf cb;

START_TEST(oversized_frame)
{
    struct stats *st = stats_new();
    cb.n = 0;
    putmem(&cb, "AMQP\0\0\x09\x01", 8);
    publish(&cb, "nova", "conductor", "{\"a\": 1}");
    /* a BODY frame header claiming 200000 bytes (> 131072 - 8) */
    put8(&cb, 3);
    put16(&cb, 1);
    put32(&cb, 200000);
    for (int i = 0; i < 100; i++)
        put8(&cb, 'x');
    publish(&cb, "nova", "scheduler", "{\"b\": 2}");
    publish(&cb, "nova", "compute.c1", "{\"c\": 3}");
    struct log l;
    run_stream(&l, cb.b, cb.n, 0, WHOLE, 0, NULL, st);
    ck_assert_int_eq(l.publish, 3);
    ck_assert_uint_eq(*stats_counter(st, "amqp.frame_too_big"), 1);
    ck_assert_ptr_nonnull(strstr(l.s, "rk=compute.c1"));
    free(l.s);
    /* negotiated frame_max: Tune-Ok 4096, then a body frame of 5000 */
    struct buf *pl = calloc(1, sizeof(*pl));
    cb.n = 0;
    putmem(&cb, "AMQP\0\0\x09\x01", 8);
    put32(pl, AMQP_CONNECTION_TUNE_OK);
    put16(pl, 2047);
    put32(pl, 4096);
    put16(pl, 60);
    frame(&cb, 1, 0, pl);
    char *big = malloc(5001);
    memset(big, 'y', 5000);
    big[5000] = '\0';
    publish(&cb, "nova", "conductor", big);
    publish(&cb, "nova", "scheduler", "{}");
    publish(&cb, "nova", "scheduler", "{}");
    struct stats *st2 = stats_new();
    run_stream(&l, cb.b, cb.n, 0, WHOLE, 0, NULL, st2);
    ck_assert_int_eq(l.publish, 2);
    ck_assert_uint_eq(*stats_counter(st2, "amqp.frame_too_big"), 1);
    free(l.s);
    struct log lb;
    run_stream(&lb, cb.b, cb.n, 0, BYTES, 0, NULL, NULL);
    ck_assert_int_eq(lb.publish, 2);
    free(lb.s);
    free(big);
    free(pl);
    stats_free(st);
    stats_free(st2);
}
END_TEST

START_TEST(body_cap)
{
    struct amqp_cfg cfg;
    amqp_defaults(&cfg);
    cfg.max_body = 16;
    struct stats *st = stats_new();
    cb.n = 0;
    putmem(&cb, "AMQP\0\0\x09\x01", 8);
    publish(&cb, "nova", "conductor", "{\"this body\": \"is longer than sixteen bytes\"}");
    publish(&cb, "nova", "conductor", "{\"ok\": 1}");
    publish(&cb, "nova", "conductor", ""); /* body-size 0: no BODY frame */
    struct log l;
    run_stream(&l, cb.b, cb.n, 0, WHOLE, 0, &cfg, st);
    ck_assert_int_eq(l.publish, 3);
    ck_assert_uint_eq(*stats_counter(st, "amqp.body_too_big"), 1);
    ck_assert_ptr_nonnull(strstr(l.s, "size=45 body=0/"));
    ck_assert_ptr_nonnull(strstr(l.s, "size=9 body=9/"));
    ck_assert_ptr_nonnull(strstr(l.s, "size=0 body=0/"));
    free(l.s);
    stats_free(st);
}
END_TEST

/* Arguments of every length a short string allows: the longest exchange
 * and routing key (a method of ~520 bytes, past what a slot holds in
 * place), then short ones on the same channel, then long ones again. */
START_TEST(long_exchange_and_routing_key)
{
    char ex[256], rk[256];
    memset(ex, 'e', 255);
    ex[255] = '\0';
    memset(rk, 'r', 255);
    rk[255] = '\0';
    rk[0] = 'R';
    cb.n = 0;
    putmem(&cb, "AMQP\0\0\x09\x01", 8);
    publish(&cb, ex, rk, "{\"a\": 1}");
    publish(&cb, "nova", "conductor", "{\"b\": 2}");
    rk[0] = 'Q';
    publish(&cb, ex + 55, rk, "{\"c\": 3}");
    struct log l;
    run_stream(&l, cb.b, cb.n, 0, WHOLE, 0, NULL, NULL);
    ck_assert_int_eq(l.publish, 3);
    char want[700];
    snprintf(want, sizeof(want), "ex=%s rk=R%s tag=0 size=8", ex, rk + 1);
    ck_assert_ptr_nonnull(strstr(l.s, want));
    ck_assert_ptr_nonnull(strstr(l.s, "ex=nova rk=conductor tag=0 size=8"));
    snprintf(want, sizeof(want), "ex=%s rk=%s tag=0 size=8", ex + 55, rk);
    ck_assert_ptr_nonnull(strstr(l.s, want));
    free(l.s);
}
END_TEST

START_TEST(orphan_content_dropped)
{
    /* HEADER and BODY frames of a channel whose METHOD was not seen */
    struct stats *st = stats_new();
    struct buf *pl = calloc(1, sizeof(*pl));
    cb.n = 0;
    put16(pl, 60);
    put16(pl, 0);
    put64(pl, 2);
    put16(pl, 0);
    frame(&cb, 2, 1, pl);
    pl->n = 0;
    putmem(pl, "{}", 2);
    frame(&cb, 3, 1, pl);
    publish(&cb, "nova", "conductor", "{\"x\": 1}");
    publish(&cb, "nova", "conductor", "{\"x\": 2}");
    struct log l;
    run_stream(&l, cb.b, cb.n, 0, WHOLE, 0, NULL, st);
    ck_assert_int_eq(l.publish, 2);
    ck_assert_uint_eq(*stats_counter(st, "amqp.orphan_header"), 1);
    ck_assert_uint_eq(*stats_counter(st, "amqp.orphan_body"), 1);
    free(l.s);
    free(pl);
    stats_free(st);
}
END_TEST

START_TEST(empty_header_frame)
{
    /* a content HEADER frame of size 0 after a Publish: a bad header (this
     * copied 0 bytes to a NULL buffer: undefined, caught by UBSan) */
    struct stats *st = stats_new();
    struct buf *pl = calloc(1, sizeof(*pl));
    cb.n = 0;
    publish(&cb, "nova", "conductor", "{\"x\": 0}"); /* in step with the frames first */
    put32(pl, AMQP_BASIC_PUBLISH);
    put16(pl, 0);
    putss(pl, "nova");
    putss(pl, "conductor");
    put8(pl, 0);
    frame(&cb, 1, 1, pl);
    pl->n = 0;
    frame(&cb, 2, 1, pl);
    publish(&cb, "nova", "conductor", "{\"x\": 1}");
    struct log l;
    run_stream(&l, cb.b, cb.n, 0, WHOLE, 0, NULL, st);
    ck_assert_int_eq(l.publish, 2);
    ck_assert_uint_eq(*stats_counter(st, "amqp.bad_header"), 1);
    free(l.s);
    free(pl);
    stats_free(st);
}
END_TEST

START_TEST(start_ok_secret)
{
    const char *mechs[] = {"AMQPLAIN", "PLAIN"};
    for (int i = 0; i < 2; i++) {
        struct buf *pl = calloc(1, sizeof(*pl));
        struct buf *props = calloc(1, sizeof(*props));
        struct buf *resp = calloc(1, sizeof(*resp));
        putss(props, "connection_name");
        put8(props, 'S');
        putls(props, "nova-compute:42:abc", 19);
        putss(props, "product");
        put8(props, 'S');
        putls(props, "py-amqp", 7);
        if (i == 0) {
            putss(resp, "LOGIN");
            put8(resp, 'S');
            putls(resp, "guest", 5);
            putss(resp, "PASSWORD");
            put8(resp, 'S');
            putls(resp, "s3cr3t-pw", 9);
        } else {
            putmem(resp, "\0guest\0s3cr3t-pw", 16);
        }
        put32(pl, AMQP_CONNECTION_START_OK);
        putls(pl, props->b, props->n);
        putss(pl, mechs[i]);
        putls(pl, resp->b, resp->n);
        putss(pl, "en_US");
        cb.n = 0;
        putmem(&cb, "AMQP\0\0\x09\x01", 8);
        frame(&cb, 1, 0, pl);
        struct log l;
        run_stream(&l, cb.b, cb.n, 0, WHOLE, 0, NULL, NULL);
        ck_assert_str_eq(l.login, "guest");
        ck_assert_ptr_nonnull(strstr(l.s, "cn=nova-compute:42:abc"));
        ck_assert_ptr_null(strstr(l.s, "s3cr3t"));
        free(l.s);
        free(pl);
        free(props);
        free(resp);
    }
}
END_TEST

/* ---- field tables ---------------------------------------------------- */

struct fields {
    int n;
    unsigned maxdepth;
    int64_t s_val;
    char names[32][32];
};

static int on_field(void *ctx, const struct amqp_field *f)
{
    struct fields *x = ctx;
    if (x->n < 32) {
        snprintf(x->names[x->n], sizeof(x->names[0]), "%.*s/%c", (int)f->name.n,
                 (const char *)f->name.p, f->tag);
    }
    x->n++;
    if (f->depth > x->maxdepth)
        x->maxdepth = f->depth;
    if (f->tag == 's')
        x->s_val = f->i;
    return 0;
}

/* A table nested depth levels deep: {"n": {"n": ... {"leaf": 1}}}. */
static void nested(struct buf *b, int depth)
{
    if (depth == 0) {
        putss(b, "leaf");
        put8(b, 'I');
        put32(b, 1);
        return;
    }
    struct buf *inner = calloc(1, sizeof(*inner));
    nested(inner, depth - 1);
    putss(b, "n");
    put8(b, 'F');
    putls(b, inner->b, inner->n);
    free(inner);
}

START_TEST(tables_nesting)
{
    struct buf *t = calloc(1, sizeof(*t));
    nested(t, 3);
    struct fields x;
    memset(&x, 0, sizeof(x));
    ck_assert_int_eq(amqp_table_walk(t->b, t->n, 16, on_field, &x), AMQP_TABLE_OK);
    ck_assert_int_eq(x.n, 4);
    ck_assert_uint_eq(x.maxdepth, 3);
    ck_assert_str_eq(x.names[3], "leaf/I");
    t->n = 0;
    nested(t, 20);
    memset(&x, 0, sizeof(x));
    ck_assert_int_eq(amqp_table_walk(t->b, t->n, 16, on_field, &x), AMQP_TABLE_TOO_DEEP);
    ck_assert_uint_eq(x.maxdepth, 15);
    ck_assert_int_eq(x.n, 16);
    /* a length running past the end */
    t->n = 0;
    nested(t, 2);
    memset(&x, 0, sizeof(x));
    ck_assert_int_eq(amqp_table_walk(t->b, t->n - 3, 16, on_field, &x), AMQP_TABLE_TRUNCATED);
    free(t);
}
END_TEST

START_TEST(tables_tags)
{
    struct buf *t = calloc(1, sizeof(*t));
    struct buf *in = calloc(1, sizeof(*in));
    /* inner table stops at unknown tag 'Z'; the outer one goes on */
    putss(in, "ok");
    put8(in, 't');
    put8(in, 1);
    putss(in, "bad");
    put8(in, 'Z');
    put32(in, 0);
    putss(in, "lost");
    put8(in, 'V');
    putss(t, "short");
    put8(t, 's'); /* RabbitMQ: signed 16-bit, not a short string */
    put16(t, 0xFFFE);
    putss(t, "inner");
    put8(t, 'F');
    putls(t, in->b, in->n);
    putss(t, "arr");
    put8(t, 'A');
    put32(t, 13);
    put8(t, 'u');
    put16(t, 7);
    put8(t, 'T');
    put64(t, 1700000000);
    put8(t, 'V');
    putss(t, "dec");
    put8(t, 'D');
    put8(t, 2);
    put32(t, 12345);
    putss(t, "after");
    put8(t, 'S');
    putls(t, "x", 1);
    struct fields x;
    memset(&x, 0, sizeof(x));
    ck_assert_int_eq(amqp_table_walk(t->b, t->n, 16, on_field, &x), AMQP_TABLE_UNKNOWN_TAG);
    ck_assert_int_eq(x.s_val, -2);
    /* short, inner, ok, arr, u, T, V, dec, after */
    ck_assert_int_eq(x.n, 9);
    ck_assert_str_eq(x.names[2], "ok/t");
    ck_assert_str_eq(x.names[8], "after/S");
    struct amqp_field f;
    ck_assert(amqp_table_find(t->b, t->n, "after", &f));
    ck_assert_uint_eq(f.raw.n, 1);
    ck_assert(!amqp_table_find(t->b, t->n, "lost", &f));
    /* a top-level unknown tag stops the table: later fields unseen */
    in->n = 0;
    putss(in, "a");
    put8(in, 'Q');
    putss(in, "b");
    put8(in, 'V');
    memset(&x, 0, sizeof(x));
    ck_assert_int_eq(amqp_table_walk(in->b, in->n, 16, on_field, &x), AMQP_TABLE_UNKNOWN_TAG);
    ck_assert_int_eq(x.n, 0);
    free(t);
    free(in);
}
END_TEST

START_TEST(garbage_never_crashes)
{
    /* pseudo-random bytes in both directions, fed in odd pieces */
    uint32_t seed = 12345;
    uint8_t *g = malloc(65536);
    for (size_t i = 0; i < 65536; i++) {
        seed = seed * 1103515245u + 12345u;
        g[i] = (uint8_t)(seed >> 16);
        if ((i % 97) == 0)
            g[i] = (uint8_t)"\x01\x02\x03\x08\xCE"[i % 5];
    }
    struct log l;
    struct amqp *a = new_parser(&l, NULL, NULL);
    struct feeder fd[2] = {{NULL, 0, 0}, {NULL, 0, 0}};
    for (size_t off = 0, k = 1; off < 65536; off += k, k = k * 7 % 1031 + 1) {
        size_t take = off + k > 65536 ? 65536 - off : k;
        int dir = (int)(k & 1);
        feed_bytes(a, &fd[dir], dir, g + off, take, off);
        if (fd[dir].n > (1u << 21))
            ck_abort_msg("unbounded buffering");
    }
    free(fd[0].rest);
    free(fd[1].rest);
    amqp_end(a, 1);
    amqp_free(a);
    free(l.s);
    free(g);
}
END_TEST

/* Bytes that are not AMQP frames (HTTP sent to the broker port, random
 * bytes) are skipped with one diagnostic per run, naming its length, the
 * same whichever way the stream is fed: a run ends at the next valid frame
 * and at the end of the stream. Regression: runs were only summed in
 * amqp.resync_skipped_bytes, with no diagnostic at all. */
START_TEST(skipped_runs_diagnosed)
{
    static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"; /* 27 bytes */
    cb.n = 0;
    putmem(&cb, http, strlen(http));
    publish(&cb, "nova", "conductor", "{\"a\": 1}");
    putmem(&cb, "not amqp at all", 15);
    for (int mode = WHOLE; mode <= SPLIT; mode++) {
        size_t cuts = mode == SPLIT ? cb.n : 1;
        for (size_t at = 0; at < cuts; at++) {
            struct stats *st = stats_new();
            struct log l;
            run_stream(&l, cb.b, cb.n, AMQP_DIR_C2S, (enum mode)mode, at, NULL, st);
            ck_assert_int_eq(l.publish, 1);
            /* the first byte after a frame is a bad frame type (its own
             * diagnostic), the 14 after it a skipped run */
            ck_assert_uint_eq(*stats_counter(st, "amqp.resync_skipped_bytes"), 27 + 14);
            ck_assert_uint_eq(*stats_counter(st, "amqp.skipped_runs"), 2);
            ck_assert_uint_eq(*stats_counter(st, "amqp.bad_frame_type"), 1);
            ck_assert_uint_eq(stats_diag_count(st), 3);
            const char *counter;
            uint64_t ts;
            const char *msg = stats_diag_msg(st, 0, &counter, &ts);
            ck_assert_str_eq(counter, "amqp.skipped_runs");
            ck_assert_str_eq(msg, "amqp: 27 bytes skipped that are not AMQP frames (client)");
            msg = stats_diag_msg(st, 2, &counter, &ts);
            ck_assert_str_eq(counter, "amqp.skipped_runs");
            ck_assert_str_eq(msg, "amqp: 14 bytes skipped that are not AMQP frames (client)");
            free(l.s);
            stats_free(st);
        }
    }
}
END_TEST

/* Content started on more channels than max_channels (256) and never
 * finished: the extra ones are dropped, counted, with a diagnostic; the
 * assembly table stays at its cap. */
START_TEST(channels_full_diagnosed)
{
    struct stats *st = stats_new();
    static struct buf pl;
    cb.n = 0;
    putmem(&cb, "AMQP\0\0\x09\x01", 8);
    for (uint16_t ch = 1; ch <= 300; ch++) {
        pl.n = 0;
        put32(&pl, AMQP_BASIC_PUBLISH);
        put16(&pl, 0);
        putss(&pl, "nova");
        putss(&pl, "x");
        put8(&pl, 0);
        frame(&cb, 1, ch, &pl);
    }
    struct log l;
    run_stream(&l, cb.b, cb.n, AMQP_DIR_C2S, WHOLE, 0, NULL, st);
    ck_assert_uint_eq(*stats_counter(st, "amqp.channels_full"), 300 - 256);
    ck_assert_uint_eq(*stats_counter(st, "amqp.end_dropped"), 256);
    const char *counter;
    uint64_t ts;
    ck_assert_uint_ge(stats_diag_count(st), 1);
    const char *msg = stats_diag_msg(st, 0, &counter, &ts);
    ck_assert_str_eq(counter, "amqp.channels_full");
    ck_assert_str_eq(msg, "amqp: content on channel 257: 256 channels in assembly = limit 256, "
                          "message dropped");
    free(l.s);
    stats_free(st);
}
END_TEST

static Suite *amqp_suite(void)
{
    Suite *s = suite_create("amqp");
    TCase *tc = tcase_create("amqp");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, real_counts_three_ways, 0, (int)(sizeof(CAPS) / sizeof(CAPS[0])));
    tcase_add_test(tc, mid_stream_join);
    tcase_add_test(tc, gap_then_resync);
    tcase_add_test(tc, bad_frame_end);
    tcase_add_test(tc, oversized_frame);
    tcase_add_test(tc, body_cap);
    tcase_add_test(tc, long_exchange_and_routing_key);
    tcase_add_test(tc, orphan_content_dropped);
    tcase_add_test(tc, empty_header_frame);
    tcase_add_test(tc, start_ok_secret);
    tcase_add_test(tc, tables_nesting);
    tcase_add_test(tc, tables_tags);
    tcase_add_test(tc, garbage_never_crashes);
    tcase_add_test(tc, skipped_runs_diagnosed);
    tcase_add_test(tc, channels_full_diagnosed);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(amqp_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
