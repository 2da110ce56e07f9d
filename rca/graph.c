/* graph.c -- the service map (see graph.h). */
#include "rca/graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/str.h"

const double graph_bucket_le[GRAPH_BUCKETS] = {0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8};

struct graph {
    struct graph_cfg cfg;
    struct stats *st;
    struct graph_edge *e;
    size_t n, cap;
    uint32_t *index; /* open addressing: 1 + edge, 0 empty; size icap */
    uint64_t *ihash;
    size_t icap;
};

struct graph *graph_new(const struct graph_cfg *cfg, struct stats *st)
{
    struct graph *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    if (cfg)
        g->cfg = *cfg;
    if (!g->cfg.max_edges)
        g->cfg.max_edges = 16384;
    g->st = st;
    return g;
}

void graph_free(struct graph *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++) {
        sketch_free(&g->e[i].lat);
        sketch_free(&g->e[i].wait);
    }
    free(g->e);
    free(g->index);
    free(g->ihash);
    free(g);
}

size_t graph_count(const struct graph *g)
{
    return g->n;
}

const struct graph_edge *graph_at(const struct graph *g, size_t i)
{
    return i < g->n ? &g->e[i] : NULL;
}

uint64_t graph_window_us(const struct graph *g)
{
    return g->cfg.window_us;
}

static const struct cloud_inst *inst_of(const struct cloud *m, uint32_t id)
{
    const struct cloud_inst *x = id ? cloud_at(m, id - 1) : NULL;
    while (x && x->alias)
        x = cloud_at(m, x->alias - 1);
    return x;
}

const char *graph_node_name(const struct cloud *m, const struct graph_node *n, char *buf,
                            size_t len)
{
    const struct cloud_inst *x = inst_of(m, n->inst);
    if (x)
        return cloud_inst_name(x, buf, len);
    snprintf(buf, len, "%s@%s", n->unknown ? "unknown" : "client", n->client[0] ? n->client : "?");
    return buf;
}

const char *graph_node_service(const struct cloud *m, const struct graph_node *n)
{
    const struct cloud_inst *x = inst_of(m, n->inst);
    return x ? x->service : n->unknown ? "unknown" : "client";
}

/* The node of a hop's end: its instance, or a user's client. 0 unknown. */
static int node_of(const struct cloud *m, const struct tl_peer *p, struct graph_node *out)
{
    memset(out, 0, sizeof(*out));
    if (!strcmp(p->service, "client")) {
        if (!p->addr[0])
            return 0;
        str_copy(out->client, sizeof(out->client), p->addr);
        return 1;
    }
    const struct cloud_inst *x = p->service[0] ? cloud_find(m, p->service, p->host, p->addr) : NULL;
    if (!x) {
        if (!p->addr[0])
            return 0;
        out->unknown = 1; /* a sender the wire does not name: kept by address */
        str_copy(out->client, sizeof(out->client), p->addr);
        return 1;
    }
    out->inst = x->id;
    return 1;
}

static uint64_t edge_hash(const struct graph_node *a, const struct graph_node *b, uint8_t kind,
                          const char *label, uint64_t w)
{
    uint64_t h = 1469598103934665603ull;
#define MIX(v) (h = (h ^ (uint64_t)(v)) * 1099511628211ull)
    MIX(a->inst);
    MIX(b->inst);
    MIX(kind);
    MIX(w);
    MIX(a->unknown);
    MIX(b->unknown);
    for (const char *s = a->client; *s; s++)
        MIX((unsigned char)*s);
    MIX('|');
    for (const char *s = b->client; *s; s++)
        MIX((unsigned char)*s);
    MIX('|');
    for (const char *s = label; *s; s++)
        MIX((unsigned char)*s);
#undef MIX
    return h | 1;
}

static int same_edge(const struct graph_edge *e, const struct graph_node *a,
                     const struct graph_node *b, uint8_t kind, const char *label, uint64_t w)
{
    return e->from.inst == a->inst && e->to.inst == b->inst && e->kind == kind && e->window == w &&
           e->from.unknown == a->unknown && e->to.unknown == b->unknown &&
           !strcmp(e->from.client, a->client) && !strcmp(e->to.client, b->client) &&
           !strcmp(e->label, label);
}

static int reindex(struct graph *g, size_t ncap)
{
    uint32_t *ni = calloc(ncap, sizeof(*ni));
    uint64_t *nh = calloc(ncap, sizeof(*nh));
    if (!ni || !nh) {
        free(ni);
        free(nh);
        return -1;
    }
    for (size_t k = 0; k < g->n; k++) {
        const struct graph_edge *e = &g->e[k];
        uint64_t h = edge_hash(&e->from, &e->to, e->kind, e->label, e->window);
        size_t j = h & (ncap - 1);
        while (ni[j])
            j = (j + 1) & (ncap - 1);
        ni[j] = (uint32_t)k + 1;
        nh[j] = h;
    }
    free(g->index);
    free(g->ihash);
    g->index = ni;
    g->ihash = nh;
    g->icap = ncap;
    return 0;
}

static struct graph_edge *edge_get(struct graph *g, const struct graph_node *a,
                                   const struct graph_node *b, uint8_t kind, const char *label,
                                   uint64_t w)
{
    uint64_t h = edge_hash(a, b, kind, label, w);
    if (g->icap) {
        for (size_t j = h & (g->icap - 1); g->index[j]; j = (j + 1) & (g->icap - 1)) {
            struct graph_edge *e = &g->e[g->index[j] - 1];
            if (g->ihash[j] == h && same_edge(e, a, b, kind, label, w))
                return e;
        }
    }
    if (g->n >= g->cfg.max_edges) {
        stats_add(g->st, "graph.edges_full", 1);
        return NULL;
    }
    if (g->n == g->cap) {
        size_t ncap = g->cap ? g->cap * 2 : 64;
        struct graph_edge *ne = realloc(g->e, ncap * sizeof(*ne));
        if (!ne)
            return NULL;
        g->e = ne;
        g->cap = ncap;
    }
    if ((g->n + 1) * 2 > g->icap && reindex(g, g->icap ? g->icap * 2 : 128) < 0)
        return NULL;
    struct graph_edge *e = &g->e[g->n];
    memset(e, 0, sizeof(*e));
    e->from = *a;
    e->to = *b;
    e->kind = kind;
    e->window = w;
    str_copy(e->label, sizeof(e->label), label);
    size_t j = h & (g->icap - 1);
    while (g->index[j])
        j = (j + 1) & (g->icap - 1);
    g->index[j] = (uint32_t)g->n + 1;
    g->ihash[j] = h;
    g->n++;
    return e;
}

static void bucket(uint64_t *b, uint64_t us)
{
    double s = (double)us / 1e6;
    size_t k = 0;
    while (k < GRAPH_BUCKETS && s > graph_bucket_le[k])
        k++;
    b[k]++;
}

void graph_add(struct graph *g, const struct cloud *m, const struct timeline *tl)
{
    for (size_t i = 0; i < tl->nhops; i++) {
        const struct tl_hop *h = &tl->hops[i];
        struct graph_node a, b;
        if (!node_of(m, &h->client, &a) || !node_of(m, &h->server, &b))
            continue;
        if (!a.inst && !b.inst)
            continue;
        uint64_t w = g->cfg.window_us ? h->t0 / g->cfg.window_us : 0;
        struct graph_edge *e = edge_get(g, &a, &b, h->kind, h->label, w);
        if (!e)
            continue;
        if (!e->calls || h->t0 < e->first_us)
            e->first_us = h->t0;
        if (h->t0 > e->last_us)
            e->last_us = h->t0;
        e->calls++;
        e->errors += h->error ? 1 : 0;
        e->client_errors += h->client_error ? 1 : 0;
        if (h->t1 && h->t1 >= h->t0 && !(h->kind == TL_NOTIFY)) {
            uint64_t d = h->t1 - h->t0;
            e->answered++;
            if (sketch_add(&e->lat, d) < 0)
                stats_add(g->st, "graph.alloc_failed", 1);
            bucket(e->buckets, d);
        }
        if (h->wait_us >= 0 && h->kind != TL_CAST) {
            if (sketch_add(&e->wait, (uint64_t)h->wait_us) < 0)
                stats_add(g->st, "graph.alloc_failed", 1);
            bucket(e->wait_buckets, (uint64_t)h->wait_us);
        }
    }
}

/* sorting by names needs the model: a context for qsort */
struct sort_item {
    struct graph_edge e;
    char from[128], to[128];
};

static int item_cmp(const void *x, const void *y)
{
    const struct sort_item *a = x, *b = y;
    int c;
    if (a->e.window != b->e.window)
        return a->e.window < b->e.window ? -1 : 1;
    if ((c = strcmp(a->from, b->from)) || (c = strcmp(a->to, b->to)))
        return c;
    if (a->e.kind != b->e.kind)
        return a->e.kind < b->e.kind ? -1 : 1;
    return strcmp(a->e.label, b->e.label);
}

void graph_sort(struct graph *g, const struct cloud *m)
{
    if (g->n < 2)
        return;
    struct sort_item *v = malloc(g->n * sizeof(*v));
    if (!v)
        return;
    for (size_t i = 0; i < g->n; i++) {
        v[i].e = g->e[i];
        graph_node_name(m, &g->e[i].from, v[i].from, sizeof(v[i].from));
        graph_node_name(m, &g->e[i].to, v[i].to, sizeof(v[i].to));
    }
    qsort(v, g->n, sizeof(*v), item_cmp);
    /* instances the model merged since (known by address, then by host)
     * now have one name: their edges become one */
    size_t k = 0;
    for (size_t i = 0; i < g->n; i++) {
        if (k && !item_cmp(&v[k - 1], &v[i])) {
            struct graph_edge *d = &g->e[k - 1], *x = &v[i].e;
            d->calls += x->calls;
            d->errors += x->errors;
            d->client_errors += x->client_errors;
            d->answered += x->answered;
            if (x->first_us < d->first_us)
                d->first_us = x->first_us;
            if (x->last_us > d->last_us)
                d->last_us = x->last_us;
            sketch_merge(&d->lat, &x->lat);
            sketch_merge(&d->wait, &x->wait);
            for (size_t b = 0; b <= GRAPH_BUCKETS; b++) {
                d->buckets[b] += x->buckets[b];
                d->wait_buckets[b] += x->wait_buckets[b];
            }
            sketch_free(&x->lat);
            sketch_free(&x->wait);
            continue;
        }
        g->e[k] = v[i].e;
        if (k != i)
            v[k] = v[i];
        k++;
    }
    g->n = k;
    free(v);
    reindex(g, g->icap ? g->icap : 128);
}
