/* flow.c -- TCP flow table, connection events and reassembly (RFC 9293; see flow.h).
 *
 * Flows live in a chained hash table keyed by the bidirectional 5-tuple
 * (endpoints stored in canonical order, smaller first) and on one of three
 * lists by state: NEW (SYN not answered), OPEN (established or joined
 * mid-stream), DONE (FIN both ways, or RST). A flow moves to the tail of its
 * list on every packet and packet time never runs backwards inside the table,
 * so each list is ordered by last activity and expiry only looks at list
 * heads: flow_expire costs O(1 + flows expired). Flows holding reassembly
 * data (out-of-order bytes, a resync candidate) are also on a wait list,
 * visited by flow_expire only once the earliest hole deadline has passed. */
#include "capture/flow.h"

#include <stdlib.h>
#include <string.h>

#include "capture/classify.h"
#include "capture/mem.h"
#include "capture/reasm.h"

enum { L_NEW = 0, L_OPEN = 1, L_DONE = 2, L_N = 3 };

struct fent {
    /* what a lookup reads, first: in the entry's first cache line */
    struct fent *hnext;
    uint32_t hash;
    /* key: endpoint a is the smaller (address, port) */
    uint16_t pa, pb;
    uint8_t fam;
    uint8_t ka[16], kb[16];
    struct flow f; /* the public part */
    struct fent *prev, *next; /* on list[list] */
    int list;
    struct fent *wprev, *wnext; /* on the wait list when waiting */
    int waiting;
    int cli_is_a;
    /* TCP state */
    unsigned syn : 1, synack : 1, established : 1, refused : 1, reset : 1, closed : 1,
        data_seen : 1, rst_seen : 1, syn_again : 1;
    unsigned fin[2];
    uint32_t isn[2];
    /* stall watch: the end of the highest data sent per direction, the
     * retransmissions since the peer last sent anything, each direction's
     * last packet */
    uint32_t snd_end[2];
    uint8_t snd_known[2], rtx_quiet[2];
    uint64_t dir_last_us[2];
    /* ACK timing: one segment of each direction at a time, its end and
     * when it was sent (0: none watched); a retransmission spoils it */
    uint32_t probe_end[2];
    uint64_t probe_us[2];
    uint64_t slow_ack_next_us; /* no FLOW_EV_SLOW_ACK before this */
    struct reasm r[2];
    struct classify_flow *cls;
};

#define FLOW_BUCKETS0 1024 /* hash buckets at first */

struct flow_table {
    struct flow_cfg cfg;
    struct flow_cb cb;
    struct stats *st;
    struct classify *cls;
    struct fent **buckets;
    size_t nbuckets; /* power of two, grown with the flows up to max_buckets */
    size_t max_buckets;
    uint32_t seed;
    struct fent *head[L_N], *tail[L_N];
    struct fent *whead;  /* flows whose reassembly holds data */
    uint64_t next_check; /* no hole deadline is earlier than this */
    size_t count, peak;
    uint64_t next_id;
    uint64_t now;
    struct mem_pool flow_pool, ooo_pool;
    struct reasm_env env;
    uint64_t *c_created, *c_evicted, *c_expired, *c_non_tcp, *c_reused, *c_alloc_failed,
        *c_syn_retrans, *c_rst, *c_midstream, *c_anomalies, *c_not_ip,
        *c_syn_unanswered, *c_stalled, *c_slow_acks;
};

static const char *const event_names[FLOW_EV_COUNT] = {
    "SYN", "ESTABLISHED", "REFUSED", "UNANSWERED", "RESET", "CLOSED", "MIDSTREAM", "STALLED",
    "SLOW_ACK",
};

const char *flow_event_name(enum flow_event ev)
{
    return (unsigned)ev < FLOW_EV_COUNT ? event_names[ev] : "?";
}

const char *flow_app_name(enum flow_app app)
{
    switch (app) {
    case FLOW_APP_HTTP:
        return "HTTP";
    case FLOW_APP_AMQP:
        return "AMQP";
    case FLOW_APP_OTHER:
        return "OTHER";
    default:
        return "UNKNOWN";
    }
}

void flow_defaults(struct flow_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_flows = 262144;
    cfg->max_ooo_per_flow = 1u << 20;
    cfg->max_ooo_total = 256u << 20;
    cfg->idle_timeout_us = 600ull * 1000000;
    cfg->syn_timeout_us = 30ull * 1000000;
    cfg->closed_timeout_us = 10ull * 1000000;
    cfg->hole_timeout_us = REASM_HOLE_TIMEOUT_DEFAULT;
    cfg->resync_window = REASM_WINDOW_DEFAULT;
    cfg->use_ndpi = 1;
}

/* ---- lists ---- */

static void list_unlink(struct flow_table *ft, struct fent *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        ft->head[e->list] = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        ft->tail[e->list] = e->prev;
    e->prev = e->next = NULL;
}

static void list_append(struct flow_table *ft, struct fent *e, int list)
{
    e->list = list;
    e->next = NULL;
    e->prev = ft->tail[list];
    if (ft->tail[list])
        ft->tail[list]->next = e;
    else
        ft->head[list] = e;
    ft->tail[list] = e;
}

static void list_touch(struct flow_table *ft, struct fent *e, int list)
{
    list_unlink(ft, e);
    list_append(ft, e, list);
}

/* ---- hash ---- */

static uint32_t key_hash(const struct flow_table *ft, const struct fent *k)
{
    /* the key 8 bytes a step (addresses are zero-padded to 16), seeded per
     * table, multiplied and folded, then a final avalanche */
    uint64_t w[4];
    memcpy(w, k->ka, 16);
    memcpy(w + 2, k->kb, 16);
    uint64_t h = ((uint64_t)ft->seed << 32 | (uint64_t)k->pa << 16 | k->pb) ^
                 ((uint64_t)k->fam << 56);
    int nw = k->fam == 6 ? 4 : 0;
    if (!nw) { /* IPv4: the first 4 bytes of each */
        h ^= (w[0] & 0xffffffffu) * 0x9E3779B97F4A7C15ull;
        h = (h ^ (h >> 29)) * 0xBF58476D1CE4E5B9ull;
        h ^= (w[2] & 0xffffffffu) * 0xC2B2AE3D27D4EB4Full;
    }
    for (int i = 0; i < nw; i++) {
        h ^= w[i] * 0x9E3779B97F4A7C15ull;
        h = (h ^ (h >> 29)) * 0xBF58476D1CE4E5B9ull;
    }
    h ^= h >> 32;
    h *= 0x94D049BB133111EBull;
    h ^= h >> 29;
    return (uint32_t)h;
}

static int key_eq(const struct fent *a, const struct fent *b)
{
    return a->fam == b->fam && a->pa == b->pa && a->pb == b->pb &&
           memcmp(a->ka, b->ka, 16) == 0 && memcmp(a->kb, b->kb, 16) == 0;
}

/* Build the canonical key of pkt into k; returns 1 when the sender is a. */
static int key_make(struct fent *k, const struct pkt *pkt)
{
    memset(k->ka, 0, 16);
    memset(k->kb, 0, 16);
    size_t alen = pkt->family == 6 ? 16 : 4;
    k->fam = (uint8_t)pkt->family;
    int c = memcmp(pkt->src, pkt->dst, alen);
    int src_first = c < 0 || (c == 0 && pkt->sport <= pkt->dport);
    if (src_first) {
        memcpy(k->ka, pkt->src, alen);
        memcpy(k->kb, pkt->dst, alen);
        k->pa = pkt->sport;
        k->pb = pkt->dport;
    } else {
        memcpy(k->ka, pkt->dst, alen);
        memcpy(k->kb, pkt->src, alen);
        k->pa = pkt->dport;
        k->pb = pkt->sport;
    }
    return src_first;
}

static struct fent *lookup(struct flow_table *ft, const struct fent *k, uint32_t h)
{
    for (struct fent *e = ft->buckets[h & (ft->nbuckets - 1)]; e; e = e->hnext)
        if (e->hash == h && key_eq(e, k))
            return e;
    return NULL;
}

static void hash_remove(struct flow_table *ft, struct fent *e)
{
    struct fent **pp = &ft->buckets[e->hash & (ft->nbuckets - 1)];
    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = e->hnext;
}

/* ---- output through the consumer callbacks ---- */

struct rout {
    struct flow_table *ft;
    struct fent *e;
    int dir;
};

static void r_data(void *ctx, const uint8_t *p, size_t n, uint64_t ts)
{
    struct rout *o = ctx;
    if (o->ft->cb.data)
        o->ft->cb.data(o->ft->cb.ctx, &o->e->f, o->dir, p, n, ts);
}

static void r_gap(void *ctx, uint64_t len, uint64_t ts)
{
    struct rout *o = ctx;
    if (o->ft->cb.gap)
        o->ft->cb.gap(o->ft->cb.ctx, &o->e->f, o->dir, len, ts);
}

static void sync_counts(struct fent *e, int dir)
{
    e->f.delivered[dir] = e->r[dir].delivered;
    e->f.gaps[dir] = e->r[dir].gaps;
    e->f.gap_bytes[dir] = e->r[dir].gap_bytes;
}

static void emit(struct flow_table *ft, struct fent *e, enum flow_event ev, uint64_t ts)
{
    e->f.events |= 1u << ev;
    if (ft->cb.event)
        ft->cb.event(ft->cb.ctx, &e->f, ev, ts);
}

/* ---- the wait list: flows with held reassembly data ---- */

static void wait_unlink(struct flow_table *ft, struct fent *e)
{
    if (!e->waiting)
        return;
    if (e->wprev)
        e->wprev->wnext = e->wnext;
    else
        ft->whead = e->wnext;
    if (e->wnext)
        e->wnext->wprev = e->wprev;
    e->wprev = e->wnext = NULL;
    e->waiting = 0;
}

/* Put e on the wait list, or take it off, by whether its reassembly has a
 * deadline; keep next_check at or before every deadline. */
static void wait_update(struct flow_table *ft, struct fent *e)
{
    uint64_t d0 = reasm_deadline(&e->r[0], &ft->env), d1 = reasm_deadline(&e->r[1], &ft->env);
    uint64_t d = d0 < d1 ? d0 : d1;
    if (d == UINT64_MAX) {
        wait_unlink(ft, e);
        return;
    }
    if (!e->waiting) {
        e->waiting = 1;
        e->wprev = NULL;
        e->wnext = ft->whead;
        if (ft->whead)
            ft->whead->wprev = e;
        ft->whead = e;
    }
    if (d < ft->next_check)
        ft->next_check = d;
}

/* Give up the holes of e that are due at now. */
static void tick_flow(struct flow_table *ft, struct fent *e, uint64_t now)
{
    for (int dir = 0; dir < 2; dir++) {
        struct rout o = {ft, e, dir};
        struct reasm_out out = {&o, r_data, r_gap};
        reasm_tick(&e->r[dir], &ft->env, now, &out);
        sync_counts(e, dir);
    }
}

static void flush_dir(struct flow_table *ft, struct fent *e, int dir, uint64_t ts)
{
    struct rout o = {ft, e, dir};
    struct reasm_out out = {&o, r_data, r_gap};
    reasm_flush(&e->r[dir], &ft->env, ts, &out);
    sync_counts(e, dir);
}

/* Remove e from the table: deliver what is held, report an unanswered SYN,
 * tell the consumer, free. */
static void flow_end(struct flow_table *ft, struct fent *e, uint64_t ts, enum flow_end why)
{
    e->f.end_why = (uint8_t)(e->closed || e->reset || e->refused ? FLOW_END_DONE : why);
    flush_dir(ft, e, FLOW_C2S, ts);
    flush_dir(ft, e, FLOW_S2C, ts);
    if (e->syn && !e->synack && !e->refused && !e->reset) {
        /* the first few with detail; the counter is created on first use
         * (flows --json lists every counter, zeros included) */
        if (!ft->c_syn_unanswered || *ft->c_syn_unanswered < STATS_DIAG_PER_KIND) {
            stats_diag(ft->st, "flow.syn_unanswered", ts,
                       "flow %llu: SYN %s:%u -> %s:%u never answered",
                       (unsigned long long)e->f.id, e->f.cli.addr, e->f.cli.port,
                       e->f.srv.addr, e->f.srv.port);
            ft->c_syn_unanswered = stats_counter(ft->st, "flow.syn_unanswered");
        } else {
            (*ft->c_syn_unanswered)++;
        }
        emit(ft, e, FLOW_EV_UNANSWERED, ts);
    }
    if (ft->cb.end)
        ft->cb.end(ft->cb.ctx, &e->f, ts);
    classify_flow_end(ft->cls, &e->cls);
    reasm_release(&e->r[0], &ft->env);
    reasm_release(&e->r[1], &ft->env);
    wait_unlink(ft, e);
    hash_remove(ft, e);
    list_unlink(ft, e);
    ft->count--;
    mem_free(&ft->flow_pool, e, sizeof(*e));
}

static uint64_t list_timeout(const struct flow_table *ft, int list)
{
    switch (list) {
    case L_NEW:
        return ft->cfg.syn_timeout_us;
    case L_DONE:
        return ft->cfg.closed_timeout_us;
    default:
        return ft->cfg.idle_timeout_us;
    }
}

/* ---- table ---- */

struct flow_table *flow_table_new(const struct flow_cfg *cfg, struct stats *st,
                                  const struct flow_cb *cb)
{
    struct flow_table *ft = calloc(1, sizeof(*ft));
    if (!ft)
        return NULL;
    ft->cfg = *cfg;
    if (ft->cfg.max_flows == 0)
        ft->cfg.max_flows = 1;
    if (cb)
        ft->cb = *cb;
    ft->st = st;
    ft->seed = (uint32_t)(uintptr_t)ft * 2654435761u;
    ft->max_buckets = 16;
    while (ft->max_buckets < ft->cfg.max_flows * 2 && ft->max_buckets < ((size_t)1 << 30))
        ft->max_buckets <<= 1;
    /* small at first (a table for the cap is megabytes, touched at random
     * by a few thousand flows): doubled as the flows outnumber it */
    ft->nbuckets = ft->max_buckets < FLOW_BUCKETS0 ? ft->max_buckets : FLOW_BUCKETS0;
    ft->buckets = calloc(ft->nbuckets, sizeof(*ft->buckets));
    struct classify_cfg cc;
    classify_defaults(&cc);
    cc.ports = cfg->ports;
    cc.nports = cfg->nports;
    cc.use_ndpi = cfg->use_ndpi;
    ft->cls = classify_new(&cc, st);
    if (!ft->buckets || !ft->cls) {
        flow_table_free(ft);
        return NULL;
    }
    mem_pool_init(&ft->flow_pool, "flows", 0);
    mem_pool_init(&ft->ooo_pool, "reasm", cfg->max_ooo_total);
    reasm_env_init(&ft->env, &ft->ooo_pool, cfg->max_ooo_per_flow, st);
    ft->env.hole_timeout_us = cfg->hole_timeout_us;
    if (cfg->resync_window)
        ft->env.window = cfg->resync_window < REASM_MAX_AHEAD ? cfg->resync_window
                                                               : REASM_MAX_AHEAD;
    ft->next_check = UINT64_MAX;
    ft->c_created = stats_counter(st, "flow.created");
    ft->c_evicted = stats_counter(st, "flow.evicted");
    ft->c_expired = stats_counter(st, "flow.expired");
    ft->c_non_tcp = stats_counter(st, "flow.non_tcp");
    ft->c_not_ip = stats_counter(st, "flow.not_ip");
    ft->c_reused = stats_counter(st, "flow.port_reused");
    ft->c_alloc_failed = stats_counter(st, "flow.alloc_failed");
    ft->c_syn_retrans = stats_counter(st, "tcp.syn_retransmit");
    ft->c_rst = stats_counter(st, "tcp.rst");
    ft->c_midstream = stats_counter(st, "flow.midstream");
    ft->c_anomalies = stats_counter(st, "flow.anomalies");
    return ft;
}

static int cmp_id(const void *a, const void *b)
{
    const struct fent *x = *(struct fent *const *)a, *y = *(struct fent *const *)b;
    return x->f.id < y->f.id ? -1 : x->f.id > y->f.id;
}

/* End every flow, in order of flow id when memory allows. */
static void end_all(struct flow_table *ft, uint64_t now)
{
    struct fent **v = ft->count ? malloc(ft->count * sizeof(*v)) : NULL;
    if (v) {
        size_t n = 0;
        for (int l = 0; l < L_N; l++)
            for (struct fent *e = ft->head[l]; e; e = e->next)
                v[n++] = e;
        qsort(v, n, sizeof(*v), cmp_id);
        for (size_t i = 0; i < n; i++)
            flow_end(ft, v[i], now, FLOW_END_INPUT);
        free(v);
    }
    for (int l = 0; l < L_N; l++)
        while (ft->head[l])
            flow_end(ft, ft->head[l], now, FLOW_END_INPUT);
}

static void note_peaks(struct flow_table *ft)
{
    stats_max(ft->st, "flow.peak", ft->peak);
    stats_max(ft->st, "reasm.ooo_peak_bytes", ft->ooo_pool.peak);
}

void flow_table_free(struct flow_table *ft)
{
    if (!ft)
        return;
    if (ft->buckets) {
        end_all(ft, ft->now);
        note_peaks(ft);
    }
    classify_free(ft->cls);
    free(ft->buckets);
    free(ft);
}

void flow_flush(struct flow_table *ft, uint64_t now_us)
{
    if (now_us < ft->now)
        now_us = ft->now;
    ft->now = now_us;
    end_all(ft, now_us);
    note_peaks(ft);
}

void flow_expire(struct flow_table *ft, uint64_t now_us)
{
    if (now_us < ft->now)
        now_us = ft->now;
    ft->now = now_us;
    if (now_us >= ft->next_check) {
        /* a hole is due somewhere: visit the waiting flows once */
        ft->next_check = UINT64_MAX;
        struct fent *next;
        for (struct fent *e = ft->whead; e; e = next) {
            next = e->wnext;
            tick_flow(ft, e, now_us);
            wait_update(ft, e);
        }
    }
    for (int l = 0; l < L_N; l++) {
        uint64_t to = list_timeout(ft, l);
        while (ft->head[l] && ft->head[l]->f.last_us + to <= now_us) {
            (*ft->c_expired)++;
            flow_end(ft, ft->head[l], now_us, FLOW_END_IDLE);
        }
    }
}

size_t flow_count(const struct flow_table *ft)
{
    return ft->count;
}

/* Make room: end the least recently used flow. */
static void evict_one(struct flow_table *ft, uint64_t ts)
{
    struct fent *victim = NULL;
    for (int l = L_N - 1; l >= 0; l--) /* on a tie, DONE first, then OPEN, NEW */
        if (ft->head[l] && (!victim || ft->head[l]->f.last_us < victim->f.last_us))
            victim = ft->head[l];
    if (!victim)
        return;
    stats_diag(ft->st, "flow.evicted", ts, "flow table full (%zu flows): evicted flow %llu %s:%u -> %s:%u",
               ft->cfg.max_flows, (unsigned long long)victim->f.id, victim->f.cli.addr,
               victim->f.cli.port, victim->f.srv.addr, victim->f.srv.port);
    flow_end(ft, victim, ts, FLOW_END_EVICTED);
}

/* Is port a known server port? */
static int server_port(const struct flow_table *ft, uint16_t port)
{
    return classify_port(ft->cls, port) != NULL;
}

/* Twice the buckets, every flow moved to its new one; on refused memory
 * the table stays as it is (longer chains, still correct). */
static void grow_buckets(struct flow_table *ft)
{
    size_t n = ft->nbuckets * 2;
    struct fent **nb = calloc(n, sizeof(*nb));
    if (!nb)
        return;
    for (size_t i = 0; i < ft->nbuckets; i++) {
        struct fent *e = ft->buckets[i];
        while (e) {
            struct fent *next = e->hnext;
            size_t b = e->hash & (n - 1);
            e->hnext = nb[b];
            nb[b] = e;
            e = next;
        }
    }
    free(ft->buckets);
    ft->buckets = nb;
    ft->nbuckets = n;
}

static struct fent *flow_create(struct flow_table *ft, const struct fent *k, uint32_t h,
                                int sender_is_a, const struct pkt *pkt, uint64_t ts)
{
    if (ft->count >= ft->cfg.max_flows)
        evict_one(ft, ts);
    struct fent *e = mem_calloc(&ft->flow_pool, sizeof(*e));
    if (!e) {
        (*ft->c_alloc_failed)++;
        return NULL;
    }
    e->fam = k->fam;
    memcpy(e->ka, k->ka, 16);
    memcpy(e->kb, k->kb, 16);
    e->pa = k->pa;
    e->pb = k->pb;
    e->hash = h;
    uint8_t fl = pkt->tcp_flags;
    int sender_client;
    if ((fl & DECODE_TCP_SYN) && !(fl & DECODE_TCP_ACK)) {
        sender_client = 1;
        e->f.dir_from_handshake = 1;
    } else if ((fl & DECODE_TCP_SYN) && (fl & DECODE_TCP_ACK)) {
        sender_client = 0; /* a SYN-ACK comes from the server */
        e->f.dir_from_handshake = 1;
    } else {
        int s_srv = server_port(ft, pkt->sport), d_srv = server_port(ft, pkt->dport);
        if (d_srv != s_srv)
            sender_client = d_srv;
        else if (pkt->sport != pkt->dport)
            sender_client = pkt->dport < pkt->sport; /* lower port is the server */
        else
            sender_client = 1;
    }
    e->cli_is_a = sender_client ? sender_is_a : !sender_is_a;
    e->f.id = ++ft->next_id;
    e->f.family = pkt->family;
    const uint8_t *ca = e->cli_is_a ? e->ka : e->kb, *sa = e->cli_is_a ? e->kb : e->ka;
    decode_addr_str(pkt->family, ca, e->f.cli.addr, sizeof(e->f.cli.addr));
    decode_addr_str(pkt->family, sa, e->f.srv.addr, sizeof(e->f.srv.addr));
    e->f.cli.port = e->cli_is_a ? e->pa : e->pb;
    e->f.srv.port = e->cli_is_a ? e->pb : e->pa;
    e->f.first_us = e->f.last_us = ts;
    e->f.fin_first = e->f.rst_dir = e->f.stall_dir = e->f.slow_ack_dir = -1;
    reasm_init(&e->r[0]);
    reasm_init(&e->r[1]);
    classify_flow_begin(ft->cls, &e->f, &e->cls);
    if (ft->count >= ft->nbuckets && ft->nbuckets < ft->max_buckets)
        grow_buckets(ft);
    size_t b = h & (ft->nbuckets - 1);
    e->hnext = ft->buckets[b];
    ft->buckets[b] = e;
    list_append(ft, e, (fl & DECODE_TCP_SYN) && !(fl & DECODE_TCP_ACK) ? L_NEW : L_OPEN);
    ft->count++;
    if (ft->count > ft->peak)
        ft->peak = ft->count;
    (*ft->c_created)++;
    if (ft->cb.open)
        ft->cb.open(ft->cb.ctx, &e->f, ts);
    if (!(fl & DECODE_TCP_SYN)) {
        (*ft->c_midstream)++;
        emit(ft, e, FLOW_EV_MIDSTREAM, ts);
    }
    return e;
}

/* The stall watch, for a packet of direction dir: the peer speaking ends
 * a silence of its own; data dir sent before (wholly at or below the
 * highest end it sent) is a retransmission, and enough of them into the
 * peer's silence make the flow STALLED. A flow whose peer was never seen
 * (a capture of one direction) never stalls. */
static void stall_watch(struct flow_table *ft, struct fent *e, int dir, const struct pkt *pkt,
                        uint32_t dseq, uint64_t ts)
{
    struct flow *f = &e->f;
    /* this packet's ACK answers the segment of the other side watched */
    if (e->probe_us[!dir] && (pkt->tcp_flags & DECODE_TCP_ACK) &&
        (int32_t)(pkt->ack - e->probe_end[!dir]) >= 0) {
        uint64_t late = ts > e->probe_us[!dir] ? ts - e->probe_us[!dir] : 0;
        e->probe_us[!dir] = 0;
        if (late >= FLOW_SLOW_ACK_US && ts >= e->slow_ack_next_us) {
            e->slow_ack_next_us = ts + FLOW_SLOW_ACK_EVERY_US;
            f->slow_ack_dir = (int8_t)dir;
            f->slow_ack_us = late;
            if (!ft->c_slow_acks) /* created on first use */
                ft->c_slow_acks = stats_counter(ft->st, "flow.slow_acks");
            (*ft->c_slow_acks)++;
            emit(ft, e, FLOW_EV_SLOW_ACK, ts);
        }
    }
    e->rtx_quiet[!dir] = 0;
    if (f->stall_dir == !dir)
        f->stall_dir = -1; /* the silent side spoke again */
    e->dir_last_us[dir] = ts;
    if (pkt->payload_wire == 0 || (pkt->tcp_flags & (DECODE_TCP_RST | DECODE_TCP_SYN)))
        return;
    uint32_t end = dseq + pkt->payload_wire;
    if (!e->snd_known[dir] || (int32_t)(end - e->snd_end[dir]) > 0) {
        e->snd_end[dir] = end;
        e->snd_known[dir] = 1;
        if (!e->probe_us[dir]) {
            e->probe_end[dir] = end;
            e->probe_us[dir] = ts;
        }
        return;
    }
    e->probe_us[dir] = 0; /* sent again: its ACK would time nothing */
    if (e->rtx_quiet[dir] < UINT8_MAX)
        e->rtx_quiet[dir]++;
    uint64_t heard = e->dir_last_us[!dir];
    if (f->stall_dir >= 0 || !heard || e->rtx_quiet[dir] < FLOW_STALL_RETRANSMITS ||
        ts < heard + FLOW_STALL_QUIET_US)
        return;
    f->stall_dir = (int8_t)dir;
    f->stall_since_us = heard;
    const struct flow_endpoint *to = dir == FLOW_C2S ? &f->srv : &f->cli;
    if (!ft->c_stalled || *ft->c_stalled < STATS_DIAG_PER_KIND) {
        stats_diag(ft->st, "flow.stalled", ts,
                   "flow %llu: data to %s:%u retransmitted %u times, nothing from it for %.1f s",
                   (unsigned long long)f->id, to->addr, to->port, (unsigned)e->rtx_quiet[dir],
                   (double)(ts - heard) / 1e6);
        ft->c_stalled = stats_counter(ft->st, "flow.stalled"); /* created on first use */
    } else {
        (*ft->c_stalled)++;
    }
    emit(ft, e, FLOW_EV_STALLED, ts);
}

/* Is a SYN on existing flow e the start of a new connection on the same
 * 5-tuple (port reuse) rather than a retransmission? */
static int syn_reuses(const struct fent *e, const struct pkt *pkt, int dir)
{
    if (e->closed || e->reset || e->refused)
        return 1;
    if (dir == FLOW_C2S && e->syn)
        return pkt->seq != e->isn[FLOW_C2S] && (e->synack || e->data_seen);
    return e->data_seen && !e->syn; /* a SYN after data joined mid-stream */
}

void flow_packet(struct flow_table *ft, const struct pkt *pkt)
{
    if (pkt->family != 4 && pkt->family != 6) {
        (*ft->c_not_ip)++;
        return;
    }
    if (pkt->ip_proto != 6) {
        (*ft->c_non_tcp)++;
        return;
    }
    uint64_t ts = pkt->ts_us < ft->now ? ft->now : pkt->ts_us;
    ft->now = ts;
    struct fent k;
    int sender_is_a = key_make(&k, pkt);
    uint32_t h = key_hash(ft, &k);
    struct fent *e = lookup(ft, &k, h);
    uint8_t fl = pkt->tcp_flags;
    int is_syn = (fl & DECODE_TCP_SYN) && !(fl & DECODE_TCP_ACK);
    if (e && is_syn) {
        int dir = (sender_is_a == e->cli_is_a) ? FLOW_C2S : FLOW_S2C;
        if (syn_reuses(e, pkt, dir)) {
            (*ft->c_reused)++;
            flow_end(ft, e, ts, FLOW_END_REUSED);
            e = NULL;
        }
    }
    if (!e) {
        e = flow_create(ft, &k, h, sender_is_a, pkt, ts);
        if (!e)
            return;
    }
    int dir = (sender_is_a == e->cli_is_a) ? FLOW_C2S : FLOW_S2C;
    struct flow *f = &e->f;
    f->pkts[dir]++;
    f->bytes[dir] += pkt->wire_len;
    f->payload[dir] += pkt->payload_wire;
    f->last_us = ts;
    list_touch(ft, e, e->list);
    if (e->cls)
        classify_packet(ft->cls, f, &e->cls, pkt);
    if (e->waiting)
        tick_flow(ft, e, ts); /* holes due before this packet go first */

    uint32_t dseq = pkt->seq;
    if (fl & DECODE_TCP_SYN) {
        dseq = pkt->seq + 1; /* the SYN occupies one sequence number */
        if (!(fl & DECODE_TCP_ACK)) {
            if (!e->syn) {
                e->syn = 1;
                e->isn[dir] = pkt->seq;
                reasm_start(&e->r[dir], dseq);
                emit(ft, e, FLOW_EV_SYN, ts);
            } else if (pkt->seq == e->isn[dir]) {
                (*ft->c_syn_retrans)++;
                e->syn_again = 1;
            }
        } else if (!e->synack) {
            e->synack = 1;
            e->isn[dir] = pkt->seq;
            /* a SYN sent again before this answer: the server was slow to
             * accept (its listen queue full, or it hung) */
            if (e->syn_again && ts > f->first_us)
                f->accept_wait_us = ts - f->first_us;
            reasm_start(&e->r[dir], dseq);
            if (!e->established) {
                e->established = 1;
                emit(ft, e, FLOW_EV_ESTABLISHED, ts);
                if (e->list == L_NEW)
                    list_touch(ft, e, L_OPEN);
            }
        }
    }
    stall_watch(ft, e, dir, pkt, dseq, ts);
    /* Mid-stream, the first segment carrying data starts the stream (in
     * reasm_segment). Not a bare ACK: a TCP keep-alive probe is sent at
     * SND.NXT - 1 with no data (RFC 9293 3.8.4), and anchoring on it would
     * open a one-byte hole before the real data. */

    /* The ACK tells what the peer received of the other direction: holes
     * there below it were lost by the capture, not by the network. Taken
     * before this packet's data, which is later in time than what it frees. */
    if ((fl & DECODE_TCP_ACK) && !(fl & DECODE_TCP_RST)) {
        struct rout o = {ft, e, !dir};
        struct reasm_out out = {&o, r_data, r_gap};
        reasm_ack(&e->r[!dir], &ft->env, pkt->ack, ts, &out);
        sync_counts(e, !dir);
    }

    if (pkt->payload_wire > 0 && !(fl & DECODE_TCP_RST)) {
        struct rout o = {ft, e, dir};
        struct reasm_out out = {&o, r_data, r_gap};
        e->data_seen = 1;
        int an = reasm_segment(&e->r[dir], &ft->env, dseq, pkt->payload, pkt->payload_len,
                               pkt->payload_wire, ts, &out);
        if (an) {
            f->anomalies += (uint32_t)an;
            *ft->c_anomalies += (uint64_t)an;
        }
        sync_counts(e, dir);
    }
    if (fl & DECODE_TCP_FIN) {
        reasm_fin(&e->r[dir], &ft->env, dseq + pkt->payload_wire);
        e->fin[dir] = 1;
        if (!f->fin[0] && !f->fin[1])
            f->fin_first = (int8_t)dir;
        if (!f->fin[dir])
            f->fin_us[dir] = ts;
        f->fin[dir] = 1;
        if (e->fin[0] && e->fin[1] && !e->closed && !e->reset) {
            e->closed = 1;
            flush_dir(ft, e, FLOW_C2S, ts);
            flush_dir(ft, e, FLOW_S2C, ts);
            emit(ft, e, FLOW_EV_CLOSED, ts);
            list_touch(ft, e, L_DONE);
        }
    }
    if (fl & DECODE_TCP_RST) {
        (*ft->c_rst)++;
        if (!e->rst_seen) {
            e->rst_seen = 1;
            f->rst_dir = (int8_t)dir;
            if (e->syn && !e->synack && dir == FLOW_S2C && !e->data_seen) {
                e->refused = 1;
                emit(ft, e, FLOW_EV_REFUSED, ts);
            } else if ((e->established || e->data_seen || !e->syn) && !e->closed) {
                e->reset = 1;
                emit(ft, e, FLOW_EV_RESET, ts);
            }
            flush_dir(ft, e, FLOW_C2S, ts);
            flush_dir(ft, e, FLOW_S2C, ts);
            list_touch(ft, e, L_DONE);
        }
    }
    wait_update(ft, e);
}
