/* pipeline.c -- packets -> flows -> app parsers -> numbered events. */
#include "cli/pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/decode.h"
#include "capture/mem.h"
#include "parsers/oslo.h"
#include "parsers/rest.h"

enum { APP_HTTP = 0, APP_AMQP = 1, APP_N = 2 };

struct carry {
    uint8_t *buf;
    size_t n, cap;
    int dead; /* the parser gave up on this direction */
};

struct app_flow {
    int app;       /* APP_HTTP, APP_AMQP, or -1 not decided / ignored */
    int decided;
    uint8_t shut_told[2]; /* the parser was told the direction's FIN */
    void *conn;
    struct carry c[2];
};

struct pipeline {
    struct pipeline_cfg cfg;
    const struct svcmap *map;
    struct stats *st;
    struct flow_table *ft;
    struct mem_pool parser_pool, event_pool, carry_pool;
    struct app_env env;
    void *global[APP_N];
    const struct app_parser_ops *ops[APP_N];
    struct flow_port *ports; /* the flow table's port map, kept alive here */
    pipeline_event_fn fn;
    pipeline_tick_fn tick;
    void *ctx;
    struct flow *cur_flow; /* the flow whose bytes are being parsed, NULL */
    uint64_t seq;
    uint64_t last_ts, last_tick;
    uint64_t *c_packets, *c_bytes, *c_carry_overflow, *c_parse_errors, *c_dir_stopped,
        *c_no_conn, *c_time_backwards;
};

void pipeline_defaults(struct pipeline_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    flow_defaults(&cfg->flow);
    cfg->carry_max = 1u << 20;
    cfg->parser_memcap = 512u << 20;
    cfg->event_memcap = 256u << 20;
    cfg->tick_us = 100000;
}

static void emit(void *ctx, struct event *ev)
{
    struct pipeline *p = ctx;
    ev->seq = ++p->seq;
    /* the first request on a connection the server was slow to accept
     * carries the wait (told once) */
    struct flow *f = p->cur_flow;
    if (f && f->accept_wait_us && ev->kind == EV_HTTP_REQUEST && ev->flow_id == f->id) {
        ev->accept_wait_us = f->accept_wait_us;
        f->accept_wait_us = 0;
    }
    p->fn(p->ctx, ev);
}

/* ---- application dispatch ---- */

static int sniff_app(const uint8_t *d, size_t n)
{
    static const char *const methods[] = {"GET ", "POST ", "PUT ", "DELETE ", "HEAD ",
                                          "PATCH ", "OPTIONS ", "HTTP/1."};
    if (n >= 4 && memcmp(d, "AMQP", 4) == 0)
        return APP_AMQP;
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        size_t m = strlen(methods[i]);
        if (n >= m && memcmp(d, methods[i], m) == 0)
            return APP_HTTP;
    }
    /* an AMQP frame header mid-stream: type, channel, size, ... end octet */
    if (n >= 8 && (d[0] == 1 || d[0] == 2 || d[0] == 3 || d[0] == 8)) {
        uint32_t sz = ((uint32_t)d[3] << 24) | ((uint32_t)d[4] << 16) | ((uint32_t)d[5] << 8) | d[6];
        if (sz < n && 7 + (size_t)sz < n && d[7 + sz] == 0xCE)
            return APP_AMQP;
    }
    return -1;
}

static void decide(struct pipeline *p, struct flow *f, struct app_flow *af, int dir,
                   const uint8_t *d, size_t n, uint64_t ts)
{
    (void)dir;
    (void)ts;
    af->decided = 1;
    if (f->app == FLOW_APP_HTTP)
        af->app = APP_HTTP;
    else if (f->app == FLOW_APP_AMQP)
        af->app = APP_AMQP;
    else
        af->app = sniff_app(d, n);
    if (af->app < 0)
        return;
    struct app_conn_info ci = {f->id,       f->family,   f->cli.addr, f->cli.port,
                               f->srv.addr, f->srv.port};
    af->conn = p->ops[af->app]->conn_new(p->global[af->app], &p->env, &ci);
    if (!af->conn) {
        (*p->c_no_conn)++;
        af->app = -1;
    }
}

static void carry_drop(struct pipeline *p, struct carry *c)
{
    mem_free(&p->carry_pool, c->buf, c->cap);
    c->buf = NULL;
    c->n = c->cap = 0;
}

/* Keep [d, d+n) after what is already carried. -1 at the cap. */
static int carry_keep(struct pipeline *p, struct carry *c, const uint8_t *d, size_t n)
{
    if (n > p->cfg.carry_max || c->n > p->cfg.carry_max - n)
        return -1;
    if (c->n + n > c->cap) {
        size_t ncap = c->cap ? c->cap : 4096;
        while (ncap < c->n + n)
            ncap *= 2;
        uint8_t *nb = mem_realloc(&p->carry_pool, c->buf, c->cap, ncap);
        if (!nb)
            return -1;
        c->buf = nb;
        c->cap = ncap;
    }
    memmove(c->buf + c->n, d, n);
    c->n += n;
    return 0;
}

/* Feed [d, d+n) to the parser until it needs more; returns the number of
 * bytes left unconsumed (to carry), or stops the direction on a hard error. */
static size_t feed_all(struct pipeline *p, struct app_flow *af, int dir, const uint8_t *d,
                       size_t n, uint64_t ts)
{
    const struct app_parser_ops *ops = p->ops[af->app];
    size_t off = 0;
    while (off < n) {
        struct parse_result r = ops->feed(af->conn, dir, d + off, n - off, ts);
        if (r.consumed > n - off)
            r.consumed = n - off; /* defensive: a parser must not claim more */
        off += r.consumed;
        if (r.status == PARSE_NEED_MORE)
            break;
        if (r.status == PARSE_ERROR) {
            (*p->c_parse_errors)++;
            if (r.consumed == 0) {
                af->c[dir].dead = 1;
                (*p->c_dir_stopped)++;
                return 0;
            }
        } else if (r.consumed == 0) {
            break; /* OK without progress: wait for more bytes */
        }
    }
    return n - off;
}

static void data_in(void *ctx, struct flow *f, int dir, const uint8_t *d, size_t n,
                    uint64_t ts)
{
    struct pipeline *p = ctx;
    struct app_flow *af = f->user;
    if (!af || n == 0)
        return;
    if (!af->decided)
        decide(p, f, af, dir, d, n, ts);
    if (af->app < 0)
        return;
    if (f->fin[!dir] && !af->shut_told[!dir]) {
        /* the other side closed first and this side still talks: a server
         * answering a client that is gone, say */
        af->shut_told[!dir] = 1;
        if (p->ops[af->app]->shutdown)
            p->ops[af->app]->shutdown(af->conn, !dir, f->fin_us[!dir]);
    }
    struct carry *c = &af->c[dir];
    if (c->dead)
        return;
    if (c->n == 0) {
        size_t left = feed_all(p, af, dir, d, n, ts);
        if (left && !c->dead && carry_keep(p, c, d + n - left, left) < 0) {
            (*p->c_carry_overflow)++;
            p->ops[af->app]->gap(af->conn, dir, left, ts);
        }
        return;
    }
    if (carry_keep(p, c, d, n) < 0) {
        (*p->c_carry_overflow)++;
        p->ops[af->app]->gap(af->conn, dir, c->n + n, ts);
        carry_drop(p, c);
        return;
    }
    size_t left = feed_all(p, af, dir, c->buf, c->n, ts);
    if (c->dead || left == 0) { /* drained: an idle connection holds no buffer */
        carry_drop(p, c);
        return;
    }
    memmove(c->buf, c->buf + c->n - left, left);
    c->n = left;
}

/* In-order bytes of flow f: parsed with f known to emit (the accept wait
 * of its first request), and forgotten after. */
static void on_data(void *ctx, struct flow *f, int dir, const uint8_t *d, size_t n,
                    uint64_t ts)
{
    struct pipeline *p = ctx;
    p->cur_flow = f;
    data_in(ctx, f, dir, d, n, ts);
    p->cur_flow = NULL;
}

static void on_gap(void *ctx, struct flow *f, int dir, uint64_t len, uint64_t ts)
{
    struct pipeline *p = ctx;
    struct app_flow *af = f->user;
    if (!af || !af->decided || af->app < 0)
        return;
    struct carry *c = &af->c[dir];
    carry_drop(p, c);
    c->dead = 0; /* a gap is a chance to resync */
    p->ops[af->app]->gap(af->conn, dir, len, ts);
}

static void on_open(void *ctx, struct flow *f, uint64_t ts)
{
    struct pipeline *p = ctx;
    (void)ts;
    struct app_flow *af = mem_calloc(&p->parser_pool, sizeof(*af));
    if (!af) {
        (*p->c_no_conn)++;
        return;
    }
    af->app = -1;
    f->user = af;
}

/* Service ports' connection trouble becomes an event: a down service is
 * visible only this way. */
static int end_how(const struct flow *f);

/* The parser of a connection that closed (FIN both ways) or was reset is
 * ended at that packet: what it leaves unanswered is known now, at the
 * time it happened, not when the flow leaves the table. */
static void app_end(struct pipeline *p, struct flow *f, uint64_t ts)
{
    struct app_flow *af = f->user;
    if (!af || !af->decided || af->app < 0 || !af->conn)
        return;
    p->ops[af->app]->end(af->conn, end_how(f), ts);
    af->conn = NULL;
    af->app = -1; /* a stray segment after the close is ignored */
}

static void on_event(void *ctx, struct flow *f, enum flow_event fe, uint64_t ts)
{
    struct pipeline *p = ctx;
    if (fe == FLOW_EV_CLOSED || fe == FLOW_EV_RESET)
        app_end(p, f, ts);
    if (fe != FLOW_EV_REFUSED && fe != FLOW_EV_UNANSWERED && fe != FLOW_EV_RESET &&
        fe != FLOW_EV_STALLED && fe != FLOW_EV_SLOW_ACK)
        return;
    /* an RST answering a FIN ends a connection that was closing anyway
     * (RabbitMQ does this to every client that leaves): not trouble */
    if (fe == FLOW_EV_RESET && (f->fin[0] || f->fin[1]))
        return;
    /* only service ports (the rules' map): a tool knocking on a port no
     * service of the cloud serves (epmd, ssh, a scanner) is no operation */
    if (!svcmap_port(p->map, f->srv.port, NULL))
        return;
    struct event *ev = event_new(&p->event_pool);
    if (!ev)
        return;
    ev->kind = EV_CONN;
    ev->ts_us = ts;
    ev->flow_id = f->id;
    ev->conn_event = (int)fe;
    /* src talks, dst is the one refusing, not answering, or silent */
    int rev = (fe == FLOW_EV_STALLED && f->stall_dir == FLOW_S2C) ||
              (fe == FLOW_EV_SLOW_ACK && f->slow_ack_dir == FLOW_C2S);
    const struct flow_endpoint *from = rev ? &f->srv : &f->cli, *to = rev ? &f->cli : &f->srv;
    snprintf(ev->src.addr, sizeof(ev->src.addr), "%s", from->addr);
    ev->src.port = from->port;
    snprintf(ev->dst.addr, sizeof(ev->dst.addr), "%s", to->addr);
    ev->dst.port = to->port;
    if (!rev)
        ev->dst.service = event_cstr(ev, svcmap_port(p->map, f->srv.port, NULL));
    else
        ev->src.service = event_cstr(ev, svcmap_port(p->map, f->srv.port, NULL));
    if (fe == FLOW_EV_STALLED)
        ev->quiet_since_us = f->stall_since_us;
    if (fe == FLOW_EV_SLOW_ACK) /* when the data it acknowledged late was sent */
        ev->quiet_since_us = ts > f->slow_ack_us ? ts - f->slow_ack_us : 0;
    emit(p, ev);
}

/* How flow f ended, as the parsers are told (enum ev_end). */
static int end_how(const struct flow *f)
{
    /* the first FIN names who closed (an RST answering it changes nothing) */
    if (f->fin_first >= 0)
        return f->fin_first == FLOW_C2S ? EV_END_CLIENT_CLOSED : EV_END_SERVER_CLOSED;
    if (f->rst_dir >= 0)
        return f->rst_dir == FLOW_C2S ? EV_END_CLIENT_RESET : EV_END_SERVER_RESET;
    switch (f->end_why) {
    case FLOW_END_IDLE:
    case FLOW_END_EVICTED:
    case FLOW_END_REUSED:
        return EV_END_IDLE;
    default:
        return EV_END_CAPTURE;
    }
}

static void on_end(void *ctx, struct flow *f, uint64_t ts)
{
    struct pipeline *p = ctx;
    struct app_flow *af = f->user;
    if (!af)
        return;
    if (af->decided && af->app >= 0 && af->conn)
        p->ops[af->app]->end(af->conn, end_how(f), ts);
    carry_drop(p, &af->c[0]);
    carry_drop(p, &af->c[1]);
    mem_free(&p->parser_pool, af, sizeof(*af));
    f->user = NULL;
}

/* ---- life cycle ---- */

struct flow_port *pipeline_ports(const struct svcmap *map, size_t *nports)
{
    size_t n = svcmap_ports(map, NULL, NULL, NULL, 0);
    struct flow_port *ports = calloc(n ? n : 1, sizeof(*ports));
    uint16_t *pn = calloc(n ? n : 1, sizeof(*pn));
    enum svc_proto *pp = calloc(n ? n : 1, sizeof(*pp));
    const char **ps = calloc(n ? n : 1, sizeof(*ps));
    if (ports && pn && pp && ps) {
        svcmap_ports(map, pn, pp, ps, n);
        for (size_t i = 0; i < n; i++) {
            ports[i].port = pn[i];
            ports[i].app = pp[i] == SVC_PROTO_HTTP   ? FLOW_APP_HTTP
                           : pp[i] == SVC_PROTO_AMQP ? FLOW_APP_AMQP
                                                     : FLOW_APP_OTHER;
            ports[i].name = ps[i];
        }
    } else {
        free(ports);
        ports = NULL;
    }
    free(pn);
    free(pp);
    free(ps);
    *nports = ports ? n : 0;
    return ports;
}

struct pipeline *pipeline_new(const struct pipeline_cfg *cfg, const struct svcmap *map,
                              struct stats *st, pipeline_event_fn fn, pipeline_tick_fn tick,
                              void *ctx)
{
    struct pipeline *p = calloc(1, sizeof(*p));
    struct flow_port *ports = NULL;
    if (!p)
        return NULL;
    p->cfg = *cfg;
    p->map = map;
    p->st = st;
    p->fn = fn;
    p->tick = tick;
    p->ctx = ctx;
    mem_pool_init(&p->parser_pool, "parsers", cfg->parser_memcap);
    mem_pool_init(&p->event_pool, "events", cfg->event_memcap);
    mem_pool_init(&p->carry_pool, "carry", cfg->parser_memcap);
    p->c_packets = stats_counter(st, "capture.packets");
    p->c_bytes = stats_counter(st, "capture.bytes");
    p->c_carry_overflow = stats_counter(st, "pipeline.carry_overflow");
    p->c_parse_errors = stats_counter(st, "pipeline.parse_errors");
    p->c_dir_stopped = stats_counter(st, "pipeline.direction_stopped");
    p->c_no_conn = stats_counter(st, "pipeline.parser_alloc_failed");
    p->c_time_backwards = stats_counter(st, "capture.time_backwards");

    p->env.map = map;
    p->env.st = st;
    p->env.pool = &p->parser_pool;
    p->env.ev_pool = &p->event_pool;
    p->env.sink = emit;
    p->env.sink_ctx = p;
    p->ops[APP_HTTP] = &rest_http_ops;
    p->ops[APP_AMQP] = &oslo_amqp_ops;
    for (int i = 0; i < APP_N; i++) {
        if (p->ops[i]->global_new) {
            p->global[i] = p->ops[i]->global_new(&p->env);
            if (!p->global[i])
                goto fail;
        }
    }

    /* the capture layer learns server ports from the service map */
    size_t n;
    ports = pipeline_ports(map, &n);
    if (!ports)
        goto fail;
    struct flow_cfg fc = cfg->flow;
    fc.ports = ports;
    fc.nports = n;
    struct flow_cb cb = {p, on_open, on_data, on_gap, on_event, on_end};
    p->ports = ports;
    p->ft = flow_table_new(&fc, st, &cb);
    if (!p->ft)
        goto fail_noports;
    return p;
fail:
    free(ports);
fail_noports:
    pipeline_free(p);
    return NULL;
}

void pipeline_packet(struct pipeline *p, int linktype, const uint8_t *data, uint32_t caplen,
                     uint32_t wirelen, uint64_t ts_us)
{
    struct pkt pk;
    (*p->c_packets)++;
    *p->c_bytes += wirelen < caplen ? caplen : wirelen;
    if (ts_us < p->last_ts) {
        if (*p->c_time_backwards < STATS_DIAG_PER_KIND) /* the first few, with detail */
            stats_diag(p->st, "capture.time_backwards", p->last_ts,
                       "capture: packet %llu is %llu us older than the one before: "
                       "taken at the later time",
                       (unsigned long long)*p->c_packets,
                       (unsigned long long)(p->last_ts - ts_us));
        else
            (*p->c_time_backwards)++;
        ts_us = p->last_ts; /* the clock never runs backwards */
    }
    p->last_ts = ts_us;
    if (decode_packet(linktype, data, caplen, wirelen, ts_us, &pk, p->st) == 0)
        flow_packet(p->ft, &pk);
    if (ts_us - p->last_tick >= p->cfg.tick_us) {
        p->last_tick = ts_us;
        flow_expire(p->ft, ts_us);
        if (p->tick)
            p->tick(p->ctx, ts_us);
    }
}

void pipeline_use_map(struct pipeline *p, const struct svcmap *map)
{
    p->map = map;
    p->env.map = map; /* parsers hold &p->env: every connection sees it */
}

void pipeline_idle(struct pipeline *p, uint64_t now_us)
{
    if (now_us > p->last_ts)
        flow_expire(p->ft, now_us);
}

/* Peak bytes of each accounted pool, as counters "mem.<pool>.peak_bytes"
 * (and refusals at the cap as "mem.<pool>.refused"). */
static void pool_stats(struct stats *st, const struct mem_pool *pool)
{
    char name[64];
    snprintf(name, sizeof(name), "mem.%s.peak_bytes", pool->name);
    stats_max(st, name, pool->peak);
    snprintf(name, sizeof(name), "mem.%s.refused", pool->name);
    stats_max(st, name, pool->fails);
}

void pipeline_finish(struct pipeline *p)
{
    flow_flush(p->ft, p->last_ts);
    if (p->st) {
        pool_stats(p->st, &p->parser_pool);
        pool_stats(p->st, &p->event_pool);
        pool_stats(p->st, &p->carry_pool);
    }
}

uint64_t pipeline_last_ts(const struct pipeline *p)
{
    return p->last_ts;
}

const struct mem_pool *pipeline_pool(const struct pipeline *p, int which)
{
    switch (which) {
    case 0:
        return &p->parser_pool;
    case 1:
        return &p->event_pool;
    default:
        return &p->carry_pool;
    }
}

size_t pipeline_flow_count(const struct pipeline *p)
{
    return flow_count(p->ft);
}

void pipeline_free(struct pipeline *p)
{
    if (!p)
        return;
    flow_table_free(p->ft); /* ends every flow: parsers flushed */
    for (int i = 0; i < APP_N; i++)
        if (p->global[i] && p->ops[i]->global_free)
            p->ops[i]->global_free(p->global[i]);
    free(p->ports);
    free(p);
}
