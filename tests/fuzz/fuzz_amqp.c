/* fuzz_amqp.c -- libFuzzer target for the AMQP 0-9-1 + oslo.messaging stack
 * (oslo_amqp_ops, parsers/oslo.h): the input is split on the separator
 * "\xCE|AMQP|" into chunks fed alternately client->broker and broker->client,
 * each from an exactly-sized copy, with the caller-side buffering of
 * parsers/parse.h; a chunk starting with '!' is a gap instead. A second
 * connection shares the protocol-wide tables. Seeds: tests/fuzz/seeds.py
 * (windows of the testdata connections, cut at frame boundaries); run with
 * -max_len=4096 (tests/fuzz/run.sh). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/mem.h"
#include "capture/stats.h"
#include "parsers/oslo.h"
#include "parsers/svcmap.h"

static const uint8_t SEP[] = "\xCE|AMQP|";
#define SEPLEN (sizeof(SEP) - 1)

static void sink(void *ctx, struct event *ev)
{
    (void)ctx;
    event_free(ev);
}

/* The unconsumed rest of one direction: rest[off, off + n), the buffer of
 * the last feed kept rather than copied again. */
struct side {
    uint8_t *rest;
    size_t off, n;
};

static void side_drop(struct side *s)
{
    free(s->rest);
    s->rest = NULL;
    s->off = s->n = 0;
}

static void feed(void *conn, struct side *s, int dir, const uint8_t *p, size_t n, uint64_t ts)
{
    size_t len = s->n + n;
    if (len > (4u << 20)) { /* the reassembler's depth limit */
        oslo_amqp_ops.gap(conn, dir, len, ts);
        side_drop(s);
        return;
    }
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return;
    if (s->n)
        memcpy(buf, s->rest + s->off, s->n);
    if (n)
        memcpy(buf + s->n, p, n);
    side_drop(s);
    size_t off = 0;
    for (int guard = 0; guard < 1000000; guard++) {
        size_t left = len - off;
        /* every call gets an exactly-sized span (buf itself the first
         * time): an overread past its end faults */
        uint8_t *exact = buf;
        if (off) {
            exact = malloc(left ? left : 1);
            if (!exact)
                break;
            if (left)
                memcpy(exact, buf + off, left);
        }
        struct parse_result r = oslo_amqp_ops.feed(conn, dir, exact, left, ts);
        if (exact != buf)
            free(exact);
        if (r.consumed > left)
            abort();
        off += r.consumed;
        if (r.status == PARSE_ERROR && r.consumed == 0 && left > 0)
            abort(); /* the contract: errors always make progress */
        if (r.status != PARSE_ERROR || off == len)
            break;
    }
    if (off < len) {
        s->rest = buf;
        s->off = off;
        s->n = len - off;
    } else {
        free(buf);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct svcmap *map;
    static struct stats *st; /* counters only: sharing them carries no state */
    if (!map) {
        st = stats_new();
        map = svcmap_new();
        svcmap_add_topic(map, "conductor", "nova-conductor");
        svcmap_add_topic(map, "scheduler", "nova-scheduler");
        svcmap_add_topic(map, "compute.*", "nova-compute");
        svcmap_add_publisher(map, "compute.*", "nova-compute");
        svcmap_add_conn_name(map, "nova-api:*", "nova-api");
    }
    struct mem_pool pool, evp;
    mem_pool_init(&pool, "parsers", 64u << 20);
    mem_pool_init(&evp, "events", 64u << 20);
    struct app_env env = {map, st, &pool, &evp, sink, NULL};
    /* small protocol-wide tables: cheap per input, and eviction is exercised */
    struct oslo_cfg cfg;
    oslo_defaults(&cfg);
    cfg.max_calls = 64;
    cfg.max_reply_qs = 16;
    void *g = oslo_global_new_cfg(&env, &cfg);
    if (!g)
        return 0;
    struct app_conn_info ci = {1, 2, "10.0.0.1", 40000, "10.0.0.2", 5672};
    void *c[2];
    c[0] = oslo_amqp_ops.conn_new(g, &env, &ci);
    ci.flow_id = 2;
    c[1] = oslo_amqp_ops.conn_new(g, &env, &ci);
    struct side sides[2][2];
    memset(sides, 0, sizeof(sides));
    size_t off = 0;
    unsigned k = 0;
    uint64_t ts = 1000000;
    while (off <= size && c[0] && c[1]) {
        const uint8_t *end = NULL;
        if (size - off >= SEPLEN)
            end = memmem(data + off, size - off, SEP, SEPLEN);
        size_t n = end ? (size_t)(end - (data + off)) : size - off;
        int dir = (int)(k & 1);
        int which = (int)((k >> 1) & 1) & (n > 0 && data[off] == '#');
        if (n > 0 && data[off] == '!') {
            oslo_amqp_ops.gap(c[which], dir, n, ts);
            side_drop(&sides[which][dir]);
        } else {
            feed(c[which], &sides[which][dir], dir, data + off, n, ts);
        }
        ts += 1000 * (k + 1);
        k++;
        if (!end)
            break;
        off += n + SEPLEN;
    }
    for (int i = 0; i < 2; i++) {
        if (c[i])
            oslo_amqp_ops.end(c[i], EV_END_CAPTURE, ts);
        side_drop(&sides[i][0]);
        side_drop(&sides[i][1]);
    }
    oslo_amqp_ops.global_free(g);
    return 0;
}
