/* cmd_flows.c -- `osrca flows`: TCP connections of a capture, one per line
 * (see cmd_flows.h). JSON lines via jansson; the last record is
 * {"type":"summary",...} with every counter in name order. */
#include "cli/cmd_flows.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capture/decode.h"
#include "cli/common.h"
#include "capture/source.h"
#include "capture/stats.h"

static void usage(FILE *f)
{
    fputs("usage: osrca flows [options] FILE.pcap | -i IFACE\n"
          "  -i IFACE        read a live interface\n"
          "  -f BPF          capture filter\n"
          "  -w FILE         also write the packets read to FILE (pcap)\n"
          "  --json          JSON lines; the last line is a summary record\n"
          "  --stats         print every counter at the end\n"
          "  --rules DIR     rules directory (server port map)\n"
          "  --snaplen N     live snap length (default 262144)\n"
          "  --no-ndpi       classify by the port map only\n"
          "exit status: 0 ok, 1 damaged capture (flows so far printed), 2 usage/environment\n",
          f);
}

int cmd_flows_parse(int argc, char **argv, struct flows_opts *o)
{
    static const struct option lo[] = {
        {"json", no_argument, NULL, 'J'},          {"stats", no_argument, NULL, 'S'},
        {"rules", required_argument, NULL, 'R'},   {"snaplen", required_argument, NULL, 's'},
        {"no-ndpi", no_argument, NULL, 'N'},       {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof(*o));
    o->snaplen = 262144;
    o->use_ndpi = 1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "i:f:w:r:h", lo, NULL)) != -1) {
        switch (c) {
        case 'i':
            o->iface = optarg;
            break;
        case 'f':
            o->bpf = optarg;
            break;
        case 'w':
            o->write_file = optarg;
            break;
        case 'r':
            o->file = optarg;
            break;
        case 'J':
            o->json = 1;
            break;
        case 'S':
            o->stats = 1;
            break;
        case 'R':
            o->rules = optarg;
            break;
        case 'N':
            o->use_ndpi = 0;
            break;
        case 's':
            if (common_parse_snaplen("flows", optarg, &o->snaplen) < 0)
                return -1;
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc && !o->file)
        o->file = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "osrca flows: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (!o->file == !o->iface) {
        fprintf(stderr, "osrca flows: give a capture file or -i IFACE (one of them)\n");
        usage(stderr);
        return -1;
    }
    return 0;
}

/* ---- output ---- */

/* A finished flow waiting for its turn (flow id order). */
struct rec {
    struct flow f;
};

struct run {
    const struct flows_opts *o;
    struct stats *st;
    struct rec *heap; /* min-heap by flow id */
    size_t n, cap;
    uint64_t next_id; /* the next flow id to print */
    uint64_t flows;
    int oom;
};

static void fmt_time(uint64_t ts_us, char *buf, size_t len)
{
    time_t s = (time_t)(ts_us / 1000000u);
    struct tm tm;
    if (!gmtime_r(&s, &tm)) {
        snprintf(buf, len, "-");
        return;
    }
    char d[32];
    strftime(d, sizeof(d), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%06uZ", d, (unsigned)(ts_us % 1000000u));
}

static void fmt_ep(const struct flow *f, const struct flow_endpoint *ep, char *buf, size_t len)
{
    if (f->family == 6)
        snprintf(buf, len, "[%s]:%u", ep->addr, ep->port);
    else
        snprintf(buf, len, "%s:%u", ep->addr, ep->port);
}

static void print_text(const struct flow *f)
{
    char c[64], s[64], t[40];
    fmt_ep(f, &f->cli, c, sizeof(c));
    fmt_ep(f, &f->srv, s, sizeof(s));
    fmt_time(f->first_us, t, sizeof(t));
    printf("%" PRIu64 " %s %s %s %s %s", f->id, t, c, f->dir_from_handshake ? "->" : "~>", s,
           flow_app_name(f->app));
    if (f->app_name[0])
        printf("(%s)", f->app_name);
    for (int d = 0; d < 2; d++)
        printf(" %s %" PRIu64 "p %" PRIu64 "B", d == FLOW_C2S ? "c2s" : "s2c", f->pkts[d],
               f->bytes[d]);
    printf(" events ");
    int any = 0;
    for (int ev = 0; ev < FLOW_EV_COUNT; ev++)
        if (f->events & (1u << ev)) {
            printf("%s%s", any ? "," : "", flow_event_name((enum flow_event)ev));
            any = 1;
        }
    if (!any)
        printf("-");
    printf(" gaps %" PRIu64 "/%" PRIu64 "B,%" PRIu64 "/%" PRIu64 "B anomalies %u dur %.6fs\n",
           f->gaps[0], f->gap_bytes[0], f->gaps[1], f->gap_bytes[1], f->anomalies,
           (double)(f->last_us - f->first_us) / 1e6);
}

static json_t *dir_json(const struct flow *f, int d)
{
    json_t *j = json_object();
    json_object_set_new(j, "packets", json_integer((json_int_t)f->pkts[d]));
    json_object_set_new(j, "bytes", json_integer((json_int_t)f->bytes[d]));
    json_object_set_new(j, "payload", json_integer((json_int_t)f->payload[d]));
    json_object_set_new(j, "delivered", json_integer((json_int_t)f->delivered[d]));
    json_object_set_new(j, "gaps", json_integer((json_int_t)f->gaps[d]));
    json_object_set_new(j, "gap_bytes", json_integer((json_int_t)f->gap_bytes[d]));
    return j;
}

static void print_json(const struct flow *f)
{
    json_t *j = json_object();
    if (!j)
        return;
    json_object_set_new(j, "type", json_string("flow"));
    json_object_set_new(j, "id", json_integer((json_int_t)f->id));
    json_object_set_new(j, "client", json_string(f->cli.addr));
    json_object_set_new(j, "client_port", json_integer(f->cli.port));
    json_object_set_new(j, "server", json_string(f->srv.addr));
    json_object_set_new(j, "server_port", json_integer(f->srv.port));
    json_object_set_new(j, "handshake", json_boolean(f->dir_from_handshake));
    json_object_set_new(j, "app", json_string(flow_app_name(f->app)));
    json_object_set_new(j, "app_name", json_string(f->app_name));
    json_object_set_new(j, "c2s", dir_json(f, FLOW_C2S));
    json_object_set_new(j, "s2c", dir_json(f, FLOW_S2C));
    json_t *ev = json_array();
    for (int e = 0; e < FLOW_EV_COUNT; e++)
        if (f->events & (1u << e))
            json_array_append_new(ev, json_string(flow_event_name((enum flow_event)e)));
    json_object_set_new(j, "events", ev);
    json_object_set_new(j, "anomalies", json_integer(f->anomalies));
    json_object_set_new(j, "first_us", json_integer((json_int_t)f->first_us));
    json_object_set_new(j, "last_us", json_integer((json_int_t)f->last_us));
    json_dumpf(j, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(j);
}

static void print_flow(struct run *r, const struct flow *f)
{
    if (r->o->json)
        print_json(f);
    else
        print_text(f);
}

static void heap_push(struct run *r, const struct flow *f)
{
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 256;
        struct rec *h = realloc(r->heap, nc * sizeof(*h));
        if (!h) {
            /* cannot keep it for later: print now, out of order */
            r->oom = 1;
            print_flow(r, f);
            return;
        }
        r->heap = h;
        r->cap = nc;
    }
    size_t i = r->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (r->heap[p].f.id <= f->id)
            break;
        r->heap[i] = r->heap[p];
        i = p;
    }
    r->heap[i].f = *f;
}

static void heap_pop(struct run *r)
{
    struct rec last = r->heap[--r->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= r->n)
            break;
        if (c + 1 < r->n && r->heap[c + 1].f.id < r->heap[c].f.id)
            c++;
        if (last.f.id <= r->heap[c].f.id)
            break;
        r->heap[i] = r->heap[c];
        i = c;
    }
    if (r->n)
        r->heap[i] = last;
}

static void on_end(void *ctx, struct flow *f, uint64_t ts)
{
    struct run *r = ctx;
    (void)ts;
    r->flows++;
    if (r->o->iface) {
        print_flow(r, f); /* live: as they end */
        fflush(stdout);
        return;
    }
    heap_push(r, f);
    while (r->n && r->heap[0].f.id <= r->next_id) {
        print_flow(r, &r->heap[0].f);
        r->next_id = r->heap[0].f.id + 1;
        heap_pop(r);
    }
}

/* ---- the run ---- */

struct pktctx {
    struct run *r;
    struct flow_table *ft;
    uint64_t last_ts, last_expire;
    uint64_t *c_packets, *c_bytes, *c_backwards;
};

static void on_packet(void *ctx, int linktype, const uint8_t *data, uint32_t caplen,
                      uint32_t wirelen, uint64_t ts_us)
{
    struct pktctx *pc = ctx;
    struct pkt pk;
    (*pc->c_packets)++;
    *pc->c_bytes += wirelen < caplen ? caplen : wirelen;
    if (ts_us < pc->last_ts) {
        if (*pc->c_backwards < STATS_DIAG_PER_KIND) /* the first few, with detail */
            stats_diag(pc->r->st, "capture.time_backwards", pc->last_ts,
                       "capture: packet %llu is %llu us older than the one before: "
                       "taken at the later time",
                       (unsigned long long)*pc->c_packets,
                       (unsigned long long)(pc->last_ts - ts_us));
        else
            (*pc->c_backwards)++;
        ts_us = pc->last_ts; /* packet time never runs backwards */
    }
    pc->last_ts = ts_us;
    if (decode_packet(linktype, data, caplen, wirelen, ts_us, &pk, pc->r->st) == 0)
        flow_packet(pc->ft, &pk);
    if (ts_us - pc->last_expire >= 1000000u) {
        pc->last_expire = ts_us;
        flow_expire(pc->ft, ts_us);
    }
}

static struct source *volatile live_src;

static void on_signal(int sig)
{
    (void)sig;
    if (live_src)
        source_break(live_src);
}

static void print_summary(struct run *r, const char *damage)
{
    const char *names[STATS_MAX_COUNTERS + 1];
    uint64_t vals[STATS_MAX_COUNTERS + 1];
    size_t n = stats_list(r->st, names, vals, STATS_MAX_COUNTERS + 1);
    if (n > STATS_MAX_COUNTERS + 1)
        n = STATS_MAX_COUNTERS + 1;
    size_t nd = stats_diag_count(r->st);
    if (r->o->json) {
        json_t *j = json_object();
        json_t *c = json_object();
        json_t *d = json_array();
        json_object_set_new(j, "type", json_string("summary"));
        json_object_set_new(j, "flows", json_integer((json_int_t)r->flows));
        if (damage)
            json_object_set_new(j, "error", json_string(damage));
        for (size_t i = 0; i < n; i++)
            json_object_set_new(c, names[i], json_integer((json_int_t)vals[i]));
        json_object_set_new(j, "counters", c);
        for (size_t i = 0; i < nd; i++) {
            const char *counter;
            uint64_t ts;
            const char *msg = stats_diag_msg(r->st, i, &counter, &ts);
            json_t *e = json_object();
            json_object_set_new(e, "counter", json_string(counter));
            json_object_set_new(e, "ts_us", json_integer((json_int_t)ts));
            json_object_set_new(e, "message", json_string(msg));
            json_array_append_new(d, e);
        }
        json_object_set_new(j, "diagnostics", d);
        json_dumpf(j, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
        json_decref(j);
        return;
    }
    if (!r->o->stats)
        return;
    printf("-- stats: %" PRIu64 " flows --\n", r->flows);
    for (size_t i = 0; i < n; i++)
        printf("%-40s %" PRIu64 "\n", names[i], vals[i]);
    for (size_t i = 0; i < nd; i++) {
        const char *counter;
        uint64_t ts;
        const char *msg = stats_diag_msg(r->st, i, &counter, &ts);
        char t[40];
        fmt_time(ts, t, sizeof(t));
        printf("diag %s %s: %s\n", ts ? t : "-", counter, msg);
    }
}

int cmd_flows_run(const struct flows_opts *o, const struct flow_port *ports, size_t nports)
{
    int rc = 2;
    struct run r;
    memset(&r, 0, sizeof(r));
    r.o = o;
    r.next_id = 1;
    r.st = stats_new();
    struct flow_table *ft = NULL;
    struct source *src = NULL;
    if (!r.st) {
        fprintf(stderr, "osrca flows: out of memory\n");
        return 2;
    }
    struct flow_cfg fc;
    flow_defaults(&fc);
    fc.ports = ports;
    fc.nports = nports;
    fc.use_ndpi = o->use_ndpi;
    struct flow_cb cb = {&r, NULL, NULL, NULL, NULL, on_end};
    ft = flow_table_new(&fc, r.st, &cb);
    if (!ft) {
        fprintf(stderr, "osrca flows: cannot set up the flow table (out of memory or nDPI)\n");
        goto out;
    }
    struct source_cfg sc;
    source_defaults(&sc);
    sc.file = o->file;
    sc.iface = o->iface;
    sc.bpf = o->bpf;
    sc.snaplen = o->snaplen;
    sc.write_file = o->write_file;
    char err[512];
    src = source_open(&sc, err, sizeof(err));
    if (!src) {
        fprintf(stderr, "osrca flows: %s\n", err);
        goto out;
    }
    struct sigaction sa, old_int, old_term;
    if (o->iface) {
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        live_src = src;
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
    }
    struct pktctx pc = {&r, ft, 0, 0, stats_counter(r.st, "capture.packets"),
                        stats_counter(r.st, "capture.bytes"),
                        stats_counter(r.st, "capture.time_backwards")};
    int srs = source_run(src, on_packet, &pc, err, sizeof(err));
    if (o->iface) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        live_src = NULL;
        struct source_stats ss;
        if (source_stats(src, &ss) == 0) {
            stats_add(r.st, "capture.kernel_received", ss.received);
            stats_add(r.st, "capture.kernel_drops", ss.dropped);
            stats_add(r.st, "capture.if_drops", ss.ifdropped);
        }
    }
    rc = 0;
    const char *damage = NULL;
    if (srs < 0) {
        fprintf(stderr, "osrca flows: %s (flows up to this point follow)\n", err);
        damage = err;
        rc = 1;
    }
    flow_flush(ft, pc.last_ts);
    flow_table_free(ft); /* records its peaks into the stats */
    ft = NULL;
    /* every flow has ended: anything still held is printed now */
    while (r.n) {
        print_flow(&r, &r.heap[0].f);
        heap_pop(&r);
    }
    if (r.oom)
        stats_add(r.st, "cli.flows_out_of_order", 1);
    print_summary(&r, damage);
out:
    flow_table_free(ft);
    source_free(src);
    stats_free(r.st);
    free(r.heap);
    fflush(stdout);
    return rc;
}
