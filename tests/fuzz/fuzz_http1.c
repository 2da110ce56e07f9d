/* fuzz_http1.c -- libFuzzer target for the HTTP/1.1 + REST stack
 * (parsers/http1.c, parsers/rest.c, parsers/redact.c) through rest_http_ops.
 *
 * Input: byte 0 selects options (server port, allocation failures, tiny
 * feeds of the first SMALL_MAX bytes of each chunk); the rest is split on
 * the separator "\xff\xfe\xfd" into chunks of alternating direction
 * (client first), fed like the wiring does (carried rest + new bytes, from
 * an exactly-sized copy). A chunk starting "\xfc\xfb" + 2 length bytes is
 * a gap of that direction before its remaining bytes. Events go to a sink
 * that frees them. Seeds: tests/fuzz/seeds.py; run with -max_len=4096
 * (tests/fuzz/run.sh). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/mem.h"
#include "capture/stats.h"
#include "parsers/event.h"
#include "parsers/parse.h"
#include "parsers/rest.h"
#include "parsers/svcmap.h"

#define CARRY_MAX (1u << 20)
#define SMALL_MAX 512 /* bytes of a chunk fed in small pieces (option bit 0) */

static struct svcmap *map;
static struct stats *st;

static void sink(void *ctx, struct event *ev)
{
    (void)ctx;
    /* touch every string so ASan sees a bad one */
    size_t sum = 0;
    const char *s[] = {ev->method,    ev->path,          ev->query,         ev->reason,
                       ev->user_agent, ev->operation,    ev->request_id,    ev->global_request_id,
                       ev->error_class, ev->error_module, ev->error_message, ev->resource_state,
                       ev->fault_message, ev->src.service, ev->dst.service};
    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
        if (s[i])
            sum += strlen(s[i]);
    (void)sum;
    event_free(ev);
}

static void setup(void)
{
    map = svcmap_new();
    st = stats_new();
    if (!map || !st)
        abort();
    svcmap_add_port(map, 5000, SVC_PROTO_HTTP, "keystone");
    svcmap_add_port(map, 8774, SVC_PROTO_HTTP, "nova-api");
    svcmap_add_port(map, 8778, SVC_PROTO_HTTP, "placement-api");
    svcmap_add_port(map, 9292, SVC_PROTO_HTTP, "glance-api");
    svcmap_add_path_prefix(map, "/compute", "nova-api");
    svcmap_add_user_agent(map, "nova-compute *", "nova-compute");
    svcmap_add_user_agent(map, "python-*client*", "client");
    svcmap_add_operation(map, "nova-api", "POST", "/v2.1/servers/{id}/action", "server {action}");
    svcmap_add_operation(map, "nova-api", "*", "/v2.1/servers*", "servers");
    svcmap_add_operation(map, "keystone", "*", "/v3/auth/tokens", "tokens");
    svcmap_add_operation(map, "placement-api", "*", "/allocations/{c}", "allocations");
    svcmap_add_operation(map, NULL, "GET", "/", "version list");
}

/* Offset of the next separator at or after i, or size if none. memchr for
 * its first byte: a memcmp per offset goes through libFuzzer's memcmp hook
 * and cost more than the parsers. */
static size_t next_sep(const uint8_t *data, size_t size, size_t i)
{
    while (i + 3 <= size) {
        const uint8_t *q = memchr(data + i, 0xff, size - i - 2);
        if (!q)
            break;
        if (q[1] == 0xfe && q[2] == 0xfd)
            return (size_t)(q - data);
        i = (size_t)(q - data) + 1;
    }
    return size;
}

/* The unconsumed rest of one direction: buf[off, off + n). The buffer of
 * the last feed is kept rather than copied again. */
struct carry {
    uint8_t *buf;
    size_t off, n;
};

static void carry_drop(struct carry *c)
{
    free(c->buf);
    c->buf = NULL;
    c->off = c->n = 0;
}

static void feed(void *conn, struct carry *c, int dir, const uint8_t *p, size_t n, uint64_t ts)
{
    if (c->n + n > CARRY_MAX) {
        carry_drop(c);
        rest_http_ops.gap(conn, dir, n, ts);
        return;
    }
    /* exactly sized: an overread past the span faults */
    size_t tot = c->n + n;
    uint8_t *b = malloc(tot ? tot : 1);
    if (!b)
        return;
    if (c->n)
        memcpy(b, c->buf + c->off, c->n);
    if (n)
        memcpy(b + c->n, p, n);
    carry_drop(c);
    size_t off = 0;
    while (off < tot) {
        struct parse_result r = rest_http_ops.feed(conn, dir, b + off, tot - off, ts);
        if (r.consumed > tot - off)
            abort(); /* contract violation */
        off += r.consumed;
        if (r.status == PARSE_NEED_MORE || r.consumed == 0)
            break;
    }
    if (off < tot) {
        c->buf = b;
        c->off = off;
        c->n = tot - off;
    } else {
        free(b);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint16_t ports[] = {5000, 8774, 8778, 9292, 80, 8080};
    if (!map)
        setup();
    if (size < 1)
        return 0;
    uint8_t opt = data[0];
    data++;
    size--;
    if (opt & 0x80)
        mem_fail_every(2u + (opt & 0x1f), (uint32_t)size);
    struct mem_pool pool, evpool;
    mem_pool_init(&pool, "parsers", 4u << 20);
    mem_pool_init(&evpool, "events", 4u << 20);
    struct app_env env = {map, st, &pool, &evpool, sink, NULL};
    struct app_conn_info ci = {1, 2, "10.0.0.1", 40000, "10.0.0.2",
                               ports[(opt >> 4) % (sizeof(ports) / sizeof(ports[0]))]};
    void *conn = rest_http_ops.conn_new(NULL, &env, &ci);
    if (!conn) {
        mem_fail_every(0, 0);
        return 0;
    }
    struct carry c[2] = {{NULL, 0, 0}, {NULL, 0, 0}};
    int dir = 0;
    uint64_t ts = 1;
    size_t i = 0;
    while (i <= size) {
        size_t j = next_sep(data, size, i);
        const uint8_t *p = data + i;
        size_t n = j - i;
        if (n >= 4 && p[0] == 0xfc && p[1] == 0xfb) {
            uint64_t glen = (uint64_t)((p[2] << 8) | p[3]) + 1;
            carry_drop(&c[dir]);
            rest_http_ops.gap(conn, dir, glen, ts);
            p += 4;
            n -= 4;
        }
        if (n >= 2 && p[0] == 0xfc && p[1] == 0xfa) {
            /* the other side stopped sending (its FIN) before these bytes */
            rest_http_ops.shutdown(conn, !dir, ts);
            p += 2;
            n -= 2;
        }
        if (opt & 0x01) {
            /* small pieces: resumption at many offsets. Only the first
             * SMALL_MAX bytes of a chunk: each feed re-copies the carried
             * rest, so this is quadratic in the chunk, and the line and
             * header block it covers is where resumption matters. */
            size_t step = 1 + (opt >> 1 & 0x07);
            size_t k = 0;
            for (; k < n && k < SMALL_MAX; k += step)
                feed(conn, &c[dir], dir, p + k, n - k < step ? n - k : step, ts);
            if (k < n)
                feed(conn, &c[dir], dir, p + k, n - k, ts);
        } else {
            feed(conn, &c[dir], dir, p, n, ts);
        }
        ts += 1000;
        dir ^= 1;
        i = j + 3;
    }
    rest_http_ops.end(conn, (int)(opt >> 4) % EV_END_COUNT, ts);
    carry_drop(&c[0]);
    carry_drop(&c[1]);
    mem_fail_every(0, 0);
    if (pool.used != 0 || evpool.used != 0)
        abort(); /* leak in accounted memory */
    return 0;
}
