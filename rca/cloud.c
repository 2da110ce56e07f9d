/* cloud.c -- the model of the cloud: service instances, their health over
 * time, and the dependencies observed between them (see cloud.h).
 *
 * Instances are found by "service|host" (when the traffic names the host)
 * and by "service|addr" in one open-addressing index; an instance first
 * known by its address takes the host name when an event gives both.
 * Addresses also learn a host name from the instances seen there, when
 * they all agree (one address, one host). */
#include "rca/cloud.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "capture/flow.h"
#include "capture/str.h"

#define BEAT_MIN_US 2000000ull    /* gaps shorter than this are one burst */
#define BEAT_MAX_US 300000000ull  /* longer than this is no period */
#define TROUBLE_GAP_US 5000000ull     /* a run of trouble: no pause longer */
#define BACKDATE_MAX_US 30000000ull   /* how far a named outage is backdated */
#define TICK_EVERY_US 1000000ull  /* silence is looked for once a second */

struct slot {
    uint64_t h;
    uint32_t idx; /* 1 + index; 0 = empty */
    uint8_t kind; /* 0 instance by host, 1 instance by addr, 2 edge, 3 addr host */
};

/* An address and the host name its instances agree on. */
struct addr_host {
    char addr[46];
    char host[64];
    int conflict; /* two instances there named different hosts */
    uint64_t bg_us; /* last background work (an RPC with no user behind it) sent from it */
    uint64_t alive_us; /* last message sent from it, by any instance */
    /* its late acknowledgements (a slow link or host): a ring */
    uint64_t slow_at[CLOUD_SLOW_ACKS], slow_late[CLOUD_SLOW_ACKS];
    uint32_t nslow;
};

/* Where a resource lives: the instance that last got work on it through
 * its host's own topic ("compute.<host>"). A cache: direct-mapped,
 * a collision forgets the older entry. */
#define HOME_SLOTS 4096
struct home {
    char id[37];
    uint32_t inst; /* instance id, 0 = empty */
};

struct cloud {
    struct cloud_cfg cfg;
    struct home *homes;
    const struct rules *rules;
    struct stats *st;
    struct cloud_inst *inst;
    size_t ninst;
    struct cloud_edge *edges;
    size_t nedges;
    struct addr_host *ah;
    struct addr_host *ah_last; /* the last one looked up (most events come from a few addresses) */
    size_t nah;
    struct slot *slots;
    size_t nslots; /* power of two, at least 2x what it holds */
    uint64_t next_tick;
    size_t named_open; /* open periods opened by errors naming an instance */
    uint64_t *c_full, *c_edges_full, *c_down, *c_hung, *c_stall_heard;
    uint64_t local[5];
};

void cloud_defaults(struct cloud_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_instances = 4096;
    cfg->max_edges = 16384;
    cfg->unconsumed_us = 2000000ull;
    cfg->silent_beats = 3;
}

static const char *or_s(const char *s)
{
    return s ? s : "";
}

/* ---- index ---- */

static uint64_t key_hash(uint8_t kind, const char *a, const char *b)
{
    uint64_t h = str_hash(a, strlen(a)) * 0x9E3779B97F4A7C15ull;
    h ^= str_hash(b, strlen(b)) + kind;
    return h | 1; /* 0 never a hash */
}

static int inst_matches(const struct cloud_inst *x, uint8_t kind, const char *svc, const char *v)
{
    if (strcmp(x->service, svc) != 0)
        return 0;
    return kind == 0 ? !strcmp(x->host, v) : !strcmp(x->addr, v);
}

static struct slot *slot_find(const struct cloud *m, uint64_t h, uint8_t kind,
                              int (*eq)(const struct cloud *, uint32_t, const void *),
                              const void *arg)
{
    size_t mask = m->nslots - 1;
    for (size_t i = h & mask, k = 0; k < m->nslots; i = (i + 1) & mask, k++) {
        struct slot *s = &m->slots[i];
        if (!s->idx)
            return s;
        if (s->h == h && s->kind == kind && eq(m, s->idx - 1, arg))
            return s;
    }
    return NULL;
}

struct inst_key {
    uint8_t kind;
    const char *svc, *v;
};

static int inst_eq(const struct cloud *m, uint32_t i, const void *arg)
{
    const struct inst_key *k = arg;
    return inst_matches(&m->inst[i], k->kind, k->svc, k->v);
}

struct edge_key {
    uint32_t from, to;
    uint8_t kind;
};

static int edge_eq(const struct cloud *m, uint32_t i, const void *arg)
{
    const struct edge_key *k = arg;
    const struct cloud_edge *e = &m->edges[i];
    return e->from == k->from && e->to == k->to && e->kind == k->kind;
}

static int ah_eq(const struct cloud *m, uint32_t i, const void *arg)
{
    return !strcmp(m->ah[i].addr, (const char *)arg);
}

static int grow(struct cloud *m)
{
    size_t n = m->nslots ? m->nslots * 2 : 1024;
    struct slot *ns = calloc(n, sizeof(*ns));
    if (!ns)
        return -1;
    for (size_t i = 0; i < m->nslots; i++) {
        struct slot *s = &m->slots[i];
        if (!s->idx)
            continue;
        size_t j = s->h & (n - 1);
        while (ns[j].idx)
            j = (j + 1) & (n - 1);
        ns[j] = *s;
    }
    free(m->slots);
    m->slots = ns;
    m->nslots = n;
    return 0;
}

static size_t used_slots(const struct cloud *m)
{
    return 2 * m->ninst + m->nedges + m->nah;
}

/* Put (h, kind) -> idx; 0 or -1. */
static int slot_put(struct cloud *m, uint64_t h, uint8_t kind, uint32_t idx,
                    int (*eq)(const struct cloud *, uint32_t, const void *), const void *arg)
{
    if ((used_slots(m) + 1) * 2 > m->nslots && grow(m) < 0)
        return -1;
    struct slot *s = slot_find(m, h, kind, eq, arg);
    if (!s)
        return -1;
    s->h = h;
    s->kind = kind;
    s->idx = idx + 1;
    return 0;
}

/* ---- addresses and their host names ---- */

static struct addr_host *ah_get(struct cloud *m, const char *addr, int create)
{
    if (!addr || !*addr || !m->nslots)
        return NULL;
    if (m->ah_last && !strcmp(m->ah_last->addr, addr))
        return m->ah_last;
    uint64_t h = key_hash(3, addr, "");
    struct slot *s = slot_find(m, h, 3, ah_eq, addr);
    if (s && s->idx)
        return m->ah_last = &m->ah[s->idx - 1];
    if (!create || m->nah >= m->cfg.max_instances)
        return NULL;
    struct addr_host *a = &m->ah[m->nah];
    memset(a, 0, sizeof(*a));
    str_copy(a->addr, sizeof(a->addr), addr);
    if (slot_put(m, h, 3, (uint32_t)m->nah, ah_eq, addr) < 0)
        return NULL;
    m->nah++;
    return a;
}

static void ah_learn(struct cloud *m, const char *addr, const char *host)
{
    if (!host || !*host)
        return;
    struct addr_host *a = ah_get(m, addr, 1);
    if (!a || a->conflict)
        return;
    if (!a->host[0])
        str_copy(a->host, sizeof(a->host), host);
    else if (strcmp(a->host, host) != 0)
        a->conflict = 1;
}

/* ---- instances ---- */

static struct cloud_inst *inst_lookup(const struct cloud *m, uint8_t kind, const char *svc,
                                      const char *v)
{
    if (!m->nslots || !v || !*v)
        return NULL;
    struct inst_key k = {kind, svc, v};
    struct slot *s = slot_find(m, key_hash(kind, svc, v), kind, inst_eq, &k);
    struct cloud_inst *x = s && s->idx ? &m->inst[s->idx - 1] : NULL;
    while (x && x->alias) /* merged: the instance it became */
        x = &m->inst[x->alias - 1];
    return x;
}

static void span_merge(struct cloud_inst *x, const struct cloud_inst *y)
{
    struct cloud_span all[2 * CLOUD_SPANS];
    size_t n = 0, i = 0, j = 0;
    while (i < x->nspans || j < y->nspans) {
        if (j >= y->nspans || (i < x->nspans && x->spans[i].since_us <= y->spans[j].since_us))
            all[n++] = x->spans[i++];
        else
            all[n++] = y->spans[j++];
    }
    size_t from = n > CLOUD_SPANS ? n - CLOUD_SPANS : 0;
    memcpy(x->spans, all + from, (n - from) * sizeof(all[0]));
    x->nspans = n - from;
}

static struct cloud_edge *edge_get(struct cloud *m, uint32_t from, uint32_t to, uint8_t kind,
                                   uint64_t t);

/* y (known by its address only) is x (known by its host name, now at that
 * address too): what y saw goes to x, and y becomes x's alias. */
static void inst_merge(struct cloud *m, struct cloud_inst *x, struct cloud_inst *y)
{
    if (x == y || y->alias)
        return;
    if (y->first_us && (!x->first_us || y->first_us < x->first_us))
        x->first_us = y->first_us;
    if (y->alive_us > x->alive_us)
        x->alive_us = y->alive_us;
    x->msgs += y->msgs;
    x->amqp_opened += y->amqp_opened;
    x->amqp_closed += y->amqp_closed;
    x->amqp_reset += y->amqp_reset;
    x->amqp_forced += y->amqp_forced;
    x->refused += y->refused;
    x->unreached += y->unreached;
    x->no_answer += y->no_answer;
    x->no_reply += y->no_reply;
    x->unconsumed += y->unconsumed;
    x->conns += y->conns;
    if (!x->port)
        x->port = y->port;
    if (!x->beat_period_us) {
        x->beat_period_us = y->beat_period_us;
        x->beat_last_us = y->beat_last_us;
        x->beats = y->beats;
    }
    span_merge(x, y);
    y->alias = x->id;
    /* y's edges are added into x's (they stay under y's id, unread: y is
     * an alias now) */
    for (size_t i = 0, n = m->nedges; i < n; i++) {
        const struct cloud_edge *o = &m->edges[i];
        uint32_t from = o->from == y->id ? x->id : o->from, to = o->to == y->id ? x->id : o->to;
        if ((from == o->from && to == o->to) || from == to)
            continue;
        struct cloud_edge *e = edge_get(m, from, to, o->kind, o->first_us);
        if (!e)
            continue;
        e->calls += o->calls;
        e->errors += o->errors;
        if (o->first_us < e->first_us)
            e->first_us = o->first_us;
        if (o->last_us > e->last_us)
            e->last_us = o->last_us;
    }
}

static void inst_index(struct cloud *m, struct cloud_inst *x, uint8_t kind)
{
    const char *v = kind == 0 ? x->host : x->addr;
    if (!*v || inst_lookup(m, kind, x->service, v))
        return;
    struct inst_key k = {kind, x->service, v};
    slot_put(m, key_hash(kind, x->service, v), kind, (uint32_t)(x - m->inst), inst_eq, &k);
}

/* The instance of svc at host and/or addr, created when create. A host
 * name the event gives is attached to an instance known by address only. */
static struct cloud_inst *inst_get(struct cloud *m, const char *svc, const char *host,
                                   const char *addr, uint64_t t, int create)
{
    if (!svc || !*svc || !strcmp(svc, "client"))
        return NULL;
    if (!m->nslots && grow(m) < 0)
        return NULL;
    host = host && *host ? host : NULL;
    addr = addr && *addr ? addr : NULL;
    struct cloud_inst *x = host ? inst_lookup(m, 0, svc, host) : NULL;
    if (!x && addr) {
        x = inst_lookup(m, 1, svc, addr);
        if (x && host && x->host[0] && strcmp(x->host, host) != 0)
            x = NULL; /* another instance of svc on the same address */
    }
    if (x) {
        if (host && !x->host[0]) {
            str_copy(x->host, sizeof(x->host), host);
            inst_index(m, x, 0);
        }
        if (addr && !x->addr[0]) {
            /* an instance seen so far by that address only is this one */
            struct cloud_inst *y = inst_lookup(m, 1, svc, addr);
            if (y && y != x && !y->host[0] && !y->embedded && !x->embedded) {
                inst_merge(m, x, y);
                struct inst_key k = {1, svc, addr};
                struct slot *sl = slot_find(m, key_hash(1, svc, addr), 1, inst_eq, &k);
                if (sl && sl->idx)
                    sl->idx = x->id; /* the address key now leads to x */
            }
            str_copy(x->addr, sizeof(x->addr), addr);
            inst_index(m, x, 1);
        }
        if (addr && x->host[0])
            ah_learn(m, addr, x->host);
        return x;
    }
    if (!host && !addr) {
        /* a service known only by name (the database behind the errors
         * that name it): its one instance */
        for (size_t i = 0; i < m->ninst; i++)
            if (!strcmp(m->inst[i].service, svc) && !m->inst[i].embedded && !m->inst[i].alias)
                return &m->inst[i];
    }
    if (!create)
        return NULL;
    if (m->ninst >= m->cfg.max_instances) {
        (*m->c_full)++;
        return NULL;
    }
    x = &m->inst[m->ninst];
    memset(x, 0, sizeof(*x));
    x->id = (uint32_t)m->ninst + 1;
    str_copy(x->svcbuf, sizeof(x->svcbuf), svc);
    x->service = x->svcbuf;
    if (host)
        str_copy(x->host, sizeof(x->host), host);
    if (addr)
        str_copy(x->addr, sizeof(x->addr), addr);
    x->first_us = t;
    m->ninst++;
    inst_index(m, x, 0);
    inst_index(m, x, 1);
    if (addr && host)
        ah_learn(m, addr, host);
    return x;
}

const struct cloud_span *cloud_current_span(const struct cloud_inst *x)
{
    if (!x->nspans)
        return NULL;
    const struct cloud_span *s = &x->spans[x->nspans - 1];
    return s->until_us ? NULL : s;
}

static struct cloud_span *open_span(struct cloud_inst *x)
{
    return (struct cloud_span *)cloud_current_span(x);
}

static void trouble(struct cloud_inst *x, uint64_t t);

/* Evidence that x is down (or hung) since t. */
static void went_down(struct cloud *m, struct cloud_inst *x, enum cloud_state st,
                      enum cloud_why why, uint64_t t)
{
    if (why == CLOUD_WHY_NO_ANSWER || why == CLOUD_WHY_NO_REPLY || why == CLOUD_WHY_NAMED)
        trouble(x, t);
    struct cloud_span *s = open_span(x);
    if (s) {
        s->evidence++;
        if (st == CLOUD_DOWN && s->state == CLOUD_HUNG)
            s->state = CLOUD_DOWN; /* the stronger reading wins */
        if (t < s->since_us && t > (x->nspans > 1 ? x->spans[x->nspans - 2].until_us : 0))
            s->since_us = t;
        return;
    }
    /* evidence older than the last sign of life is news of the past: a
     * call that timed out is judged after it was sent */
    if (x->nspans && x->spans[x->nspans - 1].until_us > t)
        return;
    if (x->nspans == CLOUD_SPANS) {
        memmove(&x->spans[0], &x->spans[1], (CLOUD_SPANS - 1) * sizeof(x->spans[0]));
        x->nspans--;
    }
    s = &x->spans[x->nspans++];
    memset(s, 0, sizeof(*s));
    s->state = (uint8_t)st;
    s->why = (uint8_t)why;
    s->evidence = 1;
    s->since_us = t;
    /* news of the past (a call judged once its timeout passed): it has
     * shown life since, so the period was over by then at the latest */
    if (x->alive_us > t)
        s->until_us = x->alive_us;
    (*(st == CLOUD_HUNG ? m->c_hung : m->c_down))++;
}

/* x failed something at t (in the generic way an outage of what it
 * depends on shows): extend or begin its run of trouble. */
static void trouble(struct cloud_inst *x, uint64_t t)
{
    if (!x)
        return;
    if (!x->trouble_last_us || t > x->trouble_last_us + TROUBLE_GAP_US) {
        x->trouble_first_us = t;
        x->trouble_n = 0;
    }
    x->trouble_n++;
    if (t > x->trouble_last_us)
        x->trouble_last_us = t;
}

/* x sent something at t: it lives. */
static void alive(struct cloud_inst *x, uint64_t t)
{
    if (!x)
        return;
    x->msgs++;
    if (t > x->alive_us)
        x->alive_us = t;
    struct cloud_span *s = open_span(x);
    if (s && t > s->since_us)
        s->until_us = t;
}

/* ---- edges ---- */

static uint64_t edge_hash(uint32_t from, uint32_t to, uint8_t kind)
{
    return (((uint64_t)from * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)to << 8) ^ kind) | 1;
}

/* The edge from -> to (instance ids) of kind, or NULL. */
static struct cloud_edge *edge_find(const struct cloud *m, uint32_t from, uint32_t to,
                                    uint8_t kind)
{
    struct edge_key k = {from, to, kind};
    struct slot *s = m->nslots ? slot_find(m, edge_hash(from, to, kind), 2, edge_eq, &k) : NULL;
    return s && s->idx ? &m->edges[s->idx - 1] : NULL;
}

/* The edge from -> to (instance ids) of kind, created first seen at t;
 * NULL when the edge table is full. */
static struct cloud_edge *edge_get(struct cloud *m, uint32_t from, uint32_t to, uint8_t kind,
                                   uint64_t t)
{
    struct cloud_edge *e = edge_find(m, from, to, kind);
    if (e)
        return e;
    struct edge_key k = {from, to, kind};
    if (m->nedges >= m->cfg.max_edges) {
        (*m->c_edges_full)++;
        return NULL;
    }
    if (slot_put(m, edge_hash(from, to, kind), 2, (uint32_t)m->nedges, edge_eq, &k) < 0)
        return NULL;
    e = &m->edges[m->nedges++];
    memset(e, 0, sizeof(*e));
    e->from = from;
    e->to = to;
    e->kind = kind;
    e->first_us = t;
    return e;
}

static void edge_add(struct cloud *m, const struct cloud_inst *from, const struct cloud_inst *to,
                     enum cloud_edge_kind kind, int error, uint64_t t)
{
    if (!from || !to || from == to)
        return;
    struct cloud_edge *e = edge_get(m, from->id, to->id, (uint8_t)kind, t);
    if (!e)
        return;
    e->calls++;
    if (error)
        e->errors++;
    e->last_us = t;
}

/* ---- life cycle ---- */

struct cloud *cloud_new(const struct cloud_cfg *cfg, const struct rules *rules, struct stats *st)
{
    struct cloud *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    if (cfg)
        m->cfg = *cfg;
    else
        cloud_defaults(&m->cfg);
    if (!m->cfg.max_instances)
        m->cfg.max_instances = 4096;
    if (!m->cfg.max_edges)
        m->cfg.max_edges = 16384;
    if (!m->cfg.silent_beats)
        m->cfg.silent_beats = 3;
    m->rules = rules;
    m->st = st;
    m->inst = calloc(m->cfg.max_instances, sizeof(*m->inst));
    m->edges = calloc(m->cfg.max_edges, sizeof(*m->edges));
    m->ah = calloc(m->cfg.max_instances, sizeof(*m->ah));
    m->homes = calloc(HOME_SLOTS, sizeof(*m->homes));
    uint64_t **cs[5] = {&m->c_full, &m->c_edges_full, &m->c_down, &m->c_hung,
                        &m->c_stall_heard};
    static const char *const names[5] = {"cloud.instances_full", "cloud.edges_full",
                                         "cloud.down_periods", "cloud.hung_periods",
                                         "cloud.stall_contradicted"};
    for (int i = 0; i < 5; i++)
        *cs[i] = st ? stats_counter(st, names[i]) : &m->local[i];
    if (!m->inst || !m->edges || !m->ah || !m->homes) {
        cloud_free(m);
        return NULL;
    }
    return m;
}

void cloud_free(struct cloud *m)
{
    if (!m)
        return;
    free(m->inst);
    free(m->edges);
    free(m->ah);
    free(m->homes);
    free(m->slots);
    free(m);
}

void cloud_use_rules(struct cloud *m, const struct rules *rules)
{
    m->rules = rules;
}

/* ---- learning ---- */

static int is_service(const char *svc)
{
    return svc && *svc && strcmp(svc, "client") != 0;
}

/* A periodic report: a call or cast an instance publishes with no user
 * behind it. Bursts (gaps under BEAT_MIN_US) count once; the period is a
 * running estimate of the gaps between bursts, a gap far longer than the
 * estimate (an outage) left out. */
static void beat(struct cloud_inst *x, uint64_t t)
{
    if (x->beat_last_us && t > x->beat_last_us) {
        uint64_t gap = t - x->beat_last_us;
        if (gap < BEAT_MIN_US)
            return; /* same burst */
        if (gap <= BEAT_MAX_US) {
            if (!x->beat_period_us)
                x->beat_period_us = gap;
            else if (gap < 3 * x->beat_period_us)
                x->beat_period_us = (3 * x->beat_period_us + gap) / 4;
            x->beats++;
        }
    }
    x->beat_last_us = t;
}

/* The consumer instance of a call or cast (its topic's service; the
 * server of "topic.server" is its host). */
static struct cloud_inst *consumer_of(struct cloud *m, const struct event *ev)
{
    const char *svc = ev->topic_service;
    if (!svc)
        return NULL;
    if (ev->target_server)
        return inst_lookup(m, 0, svc, ev->target_server);
    return (struct cloud_inst *)cloud_find(m, svc, NULL, NULL);
}

static int has_edge(const struct cloud *m, const struct cloud_inst *from, const struct cloud_inst *to);

/* Errors first named x down at t. Services that depend on x were failing
 * in the generic way its outage shows (server errors, requests closed
 * unanswered) in a run still going at t: the outage began with the first
 * of those (at most BACKDATE_MAX_US before), the errors saying so only
 * came later. */
static void backdate_named(struct cloud *m, struct cloud_inst *x, uint64_t t)
{
    struct cloud_span *s = open_span(x);
    if (!s)
        return;
    uint64_t floor = x->nspans > 1 ? x->spans[x->nspans - 2].until_us : 0;
    if (t > BACKDATE_MAX_US && floor < t - BACKDATE_MAX_US)
        floor = t - BACKDATE_MAX_US;
    uint64_t since = s->since_us;
    for (size_t i = 0; i < m->ninst; i++) {
        const struct cloud_inst *y = &m->inst[i];
        if (y == x || y->alias || !y->trouble_last_us || y->trouble_last_us + TROUBLE_GAP_US < t ||
            y->trouble_first_us < floor || y->trouble_first_us >= since)
            continue;
        if (!rules_depends(m->rules, y->service, x->service) && !has_edge(m, y, x))
            continue;
        since = y->trouble_first_us;
    }
    if (since < s->since_us) {
        s->since_us = since;
        s->evidence++; /* the dependents' failures are evidence too */
    }
}

#define BACKEND_MIN_FAILURES 3 /* a run of trouble this long points at a backend */
#define BACKEND_DEPS 8

/* x fails: when it has failed every real request of a run of trouble
 * (BACKEND_MIN_FAILURES at least) while answering what needs no backend
 * (a version document) in it, the process is up and what it depends on
 * is not. Of its declared dependencies (depends_on), none seen down, the
 * only one the wire cannot show (no instance of it seen at an address:
 * the database on a unix socket) is down since the run began. */
static void backend_failing(struct cloud *m, struct cloud_inst *x, uint64_t t)
{
    if (x->trouble_n < BACKEND_MIN_FAILURES || x->version_ok_us < x->trouble_first_us ||
        x->real_ok_us >= x->trouble_first_us || open_span(x))
        return;
    const char *deps[BACKEND_DEPS];
    size_t nd = rules_depends_of(m->rules, x->service, deps, BACKEND_DEPS);
    const char *hidden = NULL;
    for (size_t i = 0; i < nd; i++) {
        int seen = 0;
        for (size_t k = 0; k < m->ninst; k++) {
            struct cloud_inst *y = &m->inst[k];
            if (y->alias || strcmp(y->service, deps[i]) != 0)
                continue;
            if (open_span(y) && !(y->addr[0] == '\0' && y->spans[y->nspans - 1].why ==
                                                            CLOUD_WHY_BACKEND))
                return; /* a dependency seen down explains it */
            if (y->addr[0])
                seen = 1;
        }
        if (seen)
            continue;
        if (hidden)
            return; /* two out of sight: which one is not for the wire to say */
        hidden = deps[i];
    }
    if (!hidden)
        return;
    struct cloud_inst *d = inst_get(m, hidden, NULL, NULL, t, 1);
    if (!d || open_span(d))
        return;
    went_down(m, d, CLOUD_DOWN, CLOUD_WHY_BACKEND, x->trouble_first_us);
    struct cloud_span *s = open_span(d);
    if (s) {
        s->evidence = x->trouble_n; /* the dependent's failures */
        m->named_open++;
    }
}

/* x failed a request in the generic way (a server error, closed
 * unanswered): its run of trouble, and what it may say of its backend. */
static void failing(struct cloud *m, struct cloud_inst *x, uint64_t t)
{
    trouble(x, t);
    backend_failing(m, x, t);
}

/* Errors that name another service as their cause (a fault rule whose
 * culprit is a service: the database behind a DBConnectionError, keystone
 * behind keystonemiddleware's 503) are evidence that it is down. */
static void named_by_error(struct cloud *m, const struct event *ev, const char *kind, uint64_t t)
{
    const char *subject[RULES_F_COUNT] = {0};
    char status[16] = "";
    if (ev->status)
        snprintf(status, sizeof(status), "%d", ev->status);
    subject[RULES_F_KIND] = kind;
    subject[RULES_F_STATUS] = status[0] ? status : NULL;
    subject[RULES_F_ERROR_CLASS] = ev->error_class;
    subject[RULES_F_MODULE] = ev->error_module;
    subject[RULES_F_MESSAGE] = ev->error_message;
    subject[RULES_F_EVENT_TYPE] = ev->event_type;
    subject[RULES_F_SERVICE] = ev->src.service;
    subject[RULES_F_OPERATION] = ev->operation;
    subject[RULES_F_RPC_METHOD] = ev->rpc_method;
    int k = rules_fault_find(m->rules, subject);
    const struct rules_fault *f = k >= 0 ? rules_fault_at(m->rules, (size_t)k) : NULL;
    if (!f || f->culprit != RULES_CULPRIT_SERVICE || !f->culprit_service ||
        (ev->src.service && !strcmp(ev->src.service, f->culprit_service)))
        return;
    struct cloud_inst *x = inst_get(m, f->culprit_service, NULL, NULL, t, 1);
    if (!x)
        return;
    int was_open = open_span(x) != NULL;
    went_down(m, x, CLOUD_DOWN, CLOUD_WHY_NAMED, t);
    if (!was_open && open_span(x)) {
        m->named_open++;
        backdate_named(m, x, t);
    }
}

/* A service that answered a real request (not a version document) works:
 * what errors named as its dependency's fault works again too. */
static void witness_ok(struct cloud *m, const char *svc, uint64_t t)
{
    if (!m->named_open || !svc)
        return;
    for (size_t i = 0; i < m->ninst; i++) {
        struct cloud_inst *x = &m->inst[i];
        struct cloud_span *s = x->alias ? NULL : open_span(x);
        if (!s || (s->why != CLOUD_WHY_NAMED && s->why != CLOUD_WHY_BACKEND) ||
            t < s->since_us + 1000000ull ||
            !rules_depends(m->rules, svc, x->service))
            continue;
        s->until_us = t;
        m->named_open--;
    }
}

/* A path that names more than an API version ("/v2.1/servers/x", not
 * "/v3" or "/"). */
static int real_path(const char *p)
{
    int segs = 0;
    for (; p && *p; p++)
        if (*p == '/' && p[1] && p[1] != '/' && p[1] != '?')
            segs++;
    return segs >= 2;
}

static struct home *home_slot(const struct cloud *m, const char *id)
{
    return &m->homes[str_hash(id, strlen(id)) & (HOME_SLOTS - 1)];
}

/* A call or cast delivered through its host's own topic: the servers it
 * names live there. */
static void homes_learn(struct cloud *m, const struct event *ev)
{
    if ((ev->kind != EV_RPC_CALL && ev->kind != EV_RPC_CAST) || !ev->target_server ||
        !ev->topic_service || !ev->nuuids)
        return;
    const struct cloud_inst *x =
        inst_get(m, ev->topic_service, ev->target_server, ev->dst.addr, ev->ts_us, 1);
    if (!x)
        return;
    for (size_t i = 0; i < ev->nuuids; i++) {
        if (ev->uuids[i].res != EV_RES_INSTANCE)
            continue;
        struct home *h = home_slot(m, ev->uuids[i].id);
        str_copy(h->id, sizeof(h->id), ev->uuids[i].id);
        h->inst = x->id;
    }
}

/* A connection stalled: the address of ev->dst stopped acknowledging
 * what was sent to it. Unless something was heard from that address
 * since (then it is that connection, not the host), every instance there
 * is unreachable since the address's last sign of life. */
static void host_stalled(struct cloud *m, const struct event *ev)
{
    struct addr_host *ah = ah_get(m, ev->dst.addr, 0);
    uint64_t since = ev->quiet_since_us;
    if (ah && ah->alive_us > since)
        since = ah->alive_us;
    if (since + FLOW_STALL_QUIET_US > ev->ts_us) {
        (*m->c_stall_heard)++;
        return;
    }
    for (size_t i = 0; i < m->ninst; i++) {
        struct cloud_inst *x = &m->inst[i];
        if (x->alias || x->embedded || strcmp(x->addr, ev->dst.addr) != 0)
            continue;
        if (x->alive_us > since)
            continue;
        went_down(m, x, CLOUD_DOWN, CLOUD_WHY_STALLED, since);
    }
}

void cloud_observe(struct cloud *m, const struct event *ev)
{
    uint64_t t = ev->ts_us;
    if (ev->kind != EV_CONN && ev->kind != EV_AMQP_END) {
        struct addr_host *ah = ah_get(m, ev->src.addr, 0);
        if (ah && t > ah->alive_us)
            ah->alive_us = t;
    }
    switch (ev->kind) {
    case EV_HTTP_REQUEST: {
        struct cloud_inst *srv = inst_get(m, ev->dst.service, ev->dst.host, ev->dst.addr, t, 1);
        if (srv && !srv->port)
            srv->port = ev->dst.port;
        if (is_service(ev->src.service)) {
            struct cloud_inst *cl = inst_get(m, ev->src.service, ev->src.host, ev->src.addr, t, 1);
            if (cl && rules_is_embedded(m->rules, ev->src.service))
                cl->embedded = 1;
            else
                alive(cl, t);
            edge_add(m, cl, srv, CLOUD_EDGE_REST, 0, t);
        }
        break;
    }
    case EV_HTTP_RESPONSE: {
        struct cloud_inst *srv = inst_get(m, ev->src.service, ev->src.host, ev->src.addr, t, 1);
        if (!srv)
            break;
        int caller_svc = is_service(ev->dst.service);
        struct cloud_inst *cl =
            caller_svc ? inst_get(m, ev->dst.service, ev->dst.host, ev->dst.addr, t, 0) : NULL;
        if (cl && ev->req_ts_us && t > ev->req_ts_us + CLOUD_LONG_WAIT_US && cl != srv) {
            struct cloud_wait *w = &cl->waits[cl->nwaits++ % CLOUD_WAITS];
            w->to = srv->id;
            w->since_us = ev->req_ts_us;
            w->until_us = t;
            str_copy(w->what, sizeof(w->what),
                     ev->operation ? ev->operation : ev->method ? ev->method : "request");
        }
        if (!(ev->flags & EV_F_NO_ANSWER)) {
            alive(srv, t);
            if (ev->status >= 200 && ev->status < 400 && !real_path(ev->path))
                srv->version_ok_us = t;
            else if (ev->status >= 200 && ev->status < 300)
                srv->real_ok_us = t;
            if (ev->status >= 500) {
                failing(m, srv, t);
                edge_add(m, cl, srv, CLOUD_EDGE_REST, 1, t);
                named_by_error(m, ev, "http_5xx", t);
            } else if (ev->status >= 200 && ev->status < 300 && real_path(ev->path)) {
                witness_ok(m, srv->service, t);
            }
            break;
        }
        /* a request left unanswered: the server closed or reset the
         * connection on it, or held it until the client gave up */
        switch (ev->end_how) {
        case EV_END_SERVER_CLOSED:
        case EV_END_SERVER_RESET:
            srv->no_answer++;
            failing(m, srv, t);
            break;
        case EV_END_CLIENT_CLOSED:
        case EV_END_CLIENT_RESET:
            srv->no_answer++;
            went_down(m, srv, CLOUD_HUNG, CLOUD_WHY_NO_ANSWER,
                      ev->req_ts_us ? ev->req_ts_us : t);
            break;
        default:
            break;
        }
        if (cl)
            edge_add(m, cl, srv, CLOUD_EDGE_REST, 1, t);
        break;
    }
    case EV_RPC_CALL:
    case EV_RPC_CAST:
    case EV_RPC_REPLY:
    case EV_NOTIFICATION: {
        if (ev->verb != EV_VERB_PUBLISH) {
            /* the broker hands it on: no sign of the consumer's life, but
             * of the broker's */
            if (ev->verb == EV_VERB_DELIVER) {
                alive(inst_get(m, "rabbitmq", ev->src.host, ev->src.addr, t, 1), t);
                homes_learn(m, ev);
            }
            break;
        }
        struct cloud_inst *x = inst_get(m, ev->src.service, ev->src.host, ev->src.addr, t, 1);
        alive(x, t);
        if (x)
            x->rpc_sent++;
        int background = (ev->kind == EV_RPC_CALL || ev->kind == EV_RPC_CAST) && !ev->ctx_user &&
                         !ev->ctx_project;
        if (background) {
            /* background work from that address, its owner known or not */
            struct addr_host *ah = ah_get(m, ev->src.addr, 1);
            if (ah)
                ah->bg_us = t;
        }
        if (ev->kind == EV_RPC_REPLY && ev->failure)
            named_by_error(m, ev, "rpc_failure", t);
        else if (ev->kind == EV_RPC_REPLY && x)
            witness_ok(m, x->service, t);
        if (!x || ev->kind == EV_RPC_REPLY || ev->kind == EV_NOTIFICATION)
            break;
        if (background && !ev->fanout)
            beat(x, t);
        edge_add(m, x, consumer_of(m, ev), CLOUD_EDGE_RPC, 0, t);
        break;
    }
    case EV_AMQP_OPEN: {
        struct cloud_inst *x = inst_get(m, ev->src.service, ev->src.host, ev->src.addr, t, 1);
        if (!x)
            break;
        x->amqp_opened++;
        x->conns++;
        alive(x, t);
        /* the broker took a connection: it lives too */
        struct cloud_inst *b = inst_get(m, "rabbitmq", ev->dst.host, ev->dst.addr, t, 1);
        alive(b, t);
        edge_add(m, x, b, CLOUD_EDGE_AMQP, 0, t);
        break;
    }
    case EV_AMQP_END: {
        struct cloud_inst *x = inst_get(m, ev->src.service, ev->src.host, ev->src.addr, t, 1);
        if (!x)
            break;
        if (x->conns)
            x->conns--;
        switch (ev->end_how) {
        case EV_END_CLIENT_CLOSED:
            x->amqp_closed++;
            went_down(m, x, CLOUD_DOWN, CLOUD_WHY_LEFT, t);
            break;
        case EV_END_CLIENT_RESET:
            x->amqp_reset++;
            went_down(m, x, CLOUD_DOWN, CLOUD_WHY_LEFT, t);
            break;
        case EV_END_SERVER_CLOSED:
        case EV_END_SERVER_RESET:
            /* the broker dropped it: a client it found dead (missed
             * heartbeats), unless the broker itself is going away */
            x->amqp_reset++;
            went_down(m, x, CLOUD_HUNG, CLOUD_WHY_SILENT, x->alive_us ? x->alive_us : t);
            break;
        default:
            break;
        }
        break;
    }
    case EV_AMQP_CLOSE: {
        int broker_src = ev->src.service && !strcmp(ev->src.service, "rabbitmq");
        const struct ev_peer *client = broker_src ? &ev->dst : &ev->src;
        const struct ev_peer *broker = broker_src ? &ev->src : &ev->dst;
        struct cloud_inst *x = inst_get(m, client->service, client->host, client->addr, t, 1);
        if (x && x->conns)
            x->conns--;
        if (ev->reply_code == 320 && broker_src) {
            struct cloud_inst *b = inst_get(m, "rabbitmq", broker->host, broker->addr, t, 1);
            if (b) {
                b->amqp_forced++;
                went_down(m, b, CLOUD_DOWN, CLOUD_WHY_FORCED, t);
            }
            if (x)
                x->amqp_forced++;
        }
        break;
    }
    case EV_CONN: {
        if (ev->conn_event == FLOW_EV_STALLED) {
            host_stalled(m, ev);
            break;
        }
        if (ev->conn_event == FLOW_EV_SLOW_ACK) {
            struct addr_host *ah = ah_get(m, ev->dst.addr, 1);
            if (ah) {
                uint32_t k = ah->nslow++ % CLOUD_SLOW_ACKS;
                ah->slow_at[k] = t;
                ah->slow_late[k] = t - ev->quiet_since_us;
            }
            break;
        }
        struct cloud_inst *x = inst_get(m, ev->dst.service, ev->dst.host, ev->dst.addr, t, 1);
        if (!x)
            break;
        if (!x->port)
            x->port = ev->dst.port;
        if (ev->conn_event == FLOW_EV_REFUSED) {
            x->refused++;
            went_down(m, x, CLOUD_DOWN, CLOUD_WHY_REFUSED, t);
        } else if (ev->conn_event == FLOW_EV_UNANSWERED) {
            x->unreached++;
            went_down(m, x, CLOUD_DOWN, CLOUD_WHY_UNREACHED, t);
        }
        break;
    }
    default:
        break;
    }
}

void cloud_tick(struct cloud *m, uint64_t now)
{
    if (now < m->next_tick)
        return;
    m->next_tick = now + TICK_EVERY_US;
    for (size_t i = 0; i < m->ninst; i++) {
        struct cloud_inst *x = &m->inst[i];
        if (x->alias || x->beats < 2 || !x->beat_period_us || open_span(x))
            continue;
        uint64_t quiet = (uint64_t)m->cfg.silent_beats * x->beat_period_us;
        if (now > x->beat_last_us + quiet && now > x->alive_us + quiet)
            went_down(m, x, CLOUD_HUNG, CLOUD_WHY_SILENT, x->alive_us);
    }
}

void cloud_note(struct cloud *m, const char *svc, const char *host, const char *addr,
                enum cloud_why why, uint64_t t)
{
    struct cloud_inst *x = inst_get(m, svc, host, addr, t, 1);
    if (!x && !host && !addr)
        x = (struct cloud_inst *)cloud_find(m, svc, NULL, NULL);
    if (!x)
        return;
    if (why == CLOUD_WHY_NO_REPLY || why == CLOUD_WHY_HELD) {
        if (why == CLOUD_WHY_NO_REPLY)
            x->no_reply++;
        went_down(m, x, CLOUD_HUNG, why, t);
    } else if (why == CLOUD_WHY_UNCONSUMED) {
        x->unconsumed++;
        /* sent while x's broker was down or only just back: no queue to
         * hold it yet, the broker's outage (evidence of its period) */
        const struct cloud_span *bs = NULL;
        const struct cloud_inst *b = cloud_broker_down(m, x, t, &bs);
        if (b) {
            m->inst[b - m->inst].spans[bs - b->spans].evidence++;
            stats_add(m->st, "cloud.unconsumed_after_broker", 1);
            return;
        }
        went_down(m, x, CLOUD_DOWN, why, t);
    }
}

/* ---- queries ---- */

const struct cloud_inst *cloud_home(const struct cloud *m, const char *uuid)
{
    if (!uuid || !*uuid)
        return NULL;
    const struct home *h = home_slot(m, uuid);
    if (!h->inst || strcasecmp(h->id, uuid) != 0)
        return NULL;
    const struct cloud_inst *x = &m->inst[h->inst - 1];
    while (x->alias) /* merged: the instance it became */
        x = &m->inst[x->alias - 1];
    return x;
}

const struct cloud_inst *cloud_find(const struct cloud *m, const char *svc, const char *host,
                                    const char *addr)
{
    if (!svc)
        return NULL;
    struct cloud_inst *x = host && *host ? inst_lookup(m, 0, svc, host) : NULL;
    if (!x && addr && *addr)
        x = inst_lookup(m, 1, svc, addr);
    if (x || (host && *host) || (addr && *addr))
        return x;
    const struct cloud_inst *only = NULL;
    for (size_t i = 0; i < m->ninst; i++) {
        if (m->inst[i].alias || strcmp(m->inst[i].service, svc) != 0)
            continue;
        if (only)
            return NULL;
        only = &m->inst[i];
    }
    return only;
}

uint32_t cloud_slow_acks(const struct cloud *m, const char *addr, uint64_t t0, uint64_t t1,
                         uint64_t *worst)
{
    const struct addr_host *ah = addr && *addr ? ah_get((struct cloud *)m, addr, 0) : NULL;
    uint32_t n = 0;
    if (worst)
        *worst = 0;
    if (!ah)
        return 0;
    uint32_t kept = ah->nslow < CLOUD_SLOW_ACKS ? ah->nslow : CLOUD_SLOW_ACKS;
    for (uint32_t i = 0; i < kept; i++) {
        if (ah->slow_at[i] < t0 || ah->slow_at[i] > t1)
            continue;
        n++;
        if (worst && ah->slow_late[i] > *worst)
            *worst = ah->slow_late[i];
    }
    return n;
}

const struct cloud_inst *cloud_waited_on(const struct cloud *m, const struct cloud_inst *x,
                                         uint64_t t0, uint64_t t1, const struct cloud_wait **out)
{
    if (!x || t1 <= t0)
        return NULL;
    const struct cloud_wait *best = NULL;
    uint64_t most = 0;
    size_t n = x->nwaits < CLOUD_WAITS ? x->nwaits : CLOUD_WAITS;
    for (size_t i = 0; i < n; i++) {
        const struct cloud_wait *w = &x->waits[i];
        uint64_t a = w->since_us > t0 ? w->since_us : t0;
        uint64_t b = w->until_us < t1 ? w->until_us : t1;
        if (b > a && b - a > most) {
            most = b - a;
            best = w;
        }
    }
    if (!best || most * 2 < t1 - t0)
        return NULL;
    const struct cloud_inst *y = cloud_at(m, best->to - 1);
    while (y && y->alias)
        y = cloud_at(m, y->alias - 1);
    if (out)
        *out = best;
    return y;
}

const struct cloud_span *cloud_down_during(const struct cloud_inst *x, uint64_t t0, uint64_t t1)
{
    if (!x)
        return NULL;
    for (size_t i = x->nspans; i-- > 0;) {
        const struct cloud_span *s = &x->spans[i];
        if (s->since_us <= t1 && (!s->until_us || s->until_us >= t0))
            return s;
    }
    return NULL;
}

int cloud_down_at(const struct cloud_inst *x, uint64_t t)
{
    return cloud_down_during(x, t, t) != NULL;
}

size_t cloud_count(const struct cloud *m)
{
    return m->ninst;
}

const struct cloud_inst *cloud_at(const struct cloud *m, size_t i)
{
    return i < m->ninst ? &m->inst[i] : NULL;
}

static int has_edge(const struct cloud *m, const struct cloud_inst *from, const struct cloud_inst *to)
{
    for (uint8_t kind = 0; kind <= CLOUD_EDGE_AMQP; kind++)
        if (edge_find(m, from->id, to->id, kind))
            return 1;
    return 0;
}

/* A library named lib ("nova": python-glanceclient) is part of service svc
 * ("nova-api"): its family prefix. */
static int family_of(const char *lib, const char *svc)
{
    size_t n = strlen(lib);
    return !strncmp(lib, svc, n) && svc[n] == '-';
}

/* from calls to, itself or through a library embedded at its address
 * (of its own family only, when family). */
static int calls_through(const struct cloud *m, const struct cloud_inst *from,
                         const struct cloud_inst *to, int family)
{
    if (!from || !to || !m->nslots)
        return 0;
    if (has_edge(m, from, to))
        return 1;
    for (size_t i = 0; from->addr[0] && i < m->ninst; i++) {
        const struct cloud_inst *x = &m->inst[i];
        if (x->embedded && (!family || family_of(x->service, from->service)) &&
            !strcmp(x->addr, from->addr) && has_edge(m, x, to))
            return 1;
    }
    return 0;
}

int cloud_calls(const struct cloud *m, const struct cloud_inst *from, const struct cloud_inst *to)
{
    return calls_through(m, from, to, 1);
}

/* 1 when services a and b are of one family ("nova-api", "nova-compute"
 * and the library "nova"): the same name up to its first '-'. */
static int same_family(const char *a, const char *b)
{
    size_t na = strcspn(a, "-"), nb = strcspn(b, "-");
    return na == nb && !strncmp(a, b, na);
}

#define FAMILY_MAX 64

/* Ids of the instances of x's family (x included), up to FAMILY_MAX. */
static size_t family_ids(const struct cloud *m, const struct cloud_inst *x, uint32_t *ids)
{
    size_t n = 0;
    for (size_t i = 0; i < m->ninst && n < FAMILY_MAX; i++)
        if (!m->inst[i].alias && same_family(m->inst[i].service, x->service))
            ids[n++] = m->inst[i].id;
    return n;
}

/* 1 when one of the instances ids (n of them) has a REST edge to y. */
static int family_calls(const struct cloud *m, const uint32_t *ids, size_t n,
                        const struct cloud_inst *y)
{
    for (size_t i = 0; i < n; i++)
        if (edge_find(m, ids[i], y->id, CLOUD_EDGE_REST))
            return 1;
    return 0;
}

const struct cloud_inst *cloud_unreached_callee(struct cloud *m, const struct cloud_inst *x,
                                                uint64_t t, uint64_t now)
{
    if (!x || !m->nslots)
        return NULL;
    uint32_t fam[FAMILY_MAX];
    size_t nf = family_ids(m, x, fam);
    struct cloud_inst *pick = NULL;
    for (size_t i = 0; i < m->ninst; i++) {
        struct cloud_inst *y = &m->inst[i];
        if (y == x || y->alias || y->embedded || !y->port || same_family(y->service, x->service) ||
            !family_calls(m, fam, nf, y))
            continue;
        const struct cloud_span *s = cloud_down_during(y, t, now);
        if (s && s->why != CLOUD_WHY_CALLERS)
            return NULL; /* a callee seen down: the usual blame speaks */
        if (y->alive_us >= t && !s)
            continue; /* it spoke since: not the one */
        if (pick || y->first_us >= t)
            return NULL; /* two silent, or one never seen before */
        pick = y;
    }
    if (!pick)
        return NULL;
    if (!cloud_down_during(pick, t, now)) {
        went_down(m, pick, CLOUD_DOWN, CLOUD_WHY_CALLERS, pick->alive_us);
        stats_add(m->st, "cloud.unreached_callee", 1);
    } else {
        struct cloud_span *s = open_span(pick);
        if (s)
            s->evidence++;
    }
    edge_add(m, x, pick, CLOUD_EDGE_REST, 1, t);
    return pick;
}

const struct cloud_inst *cloud_broker_down(const struct cloud *m, const struct cloud_inst *x,
                                           uint64_t t, const struct cloud_span **span)
{
    uint64_t t0 = t > CLOUD_BROKER_LAG_US ? t - CLOUD_BROKER_LAG_US : 0;
    for (size_t i = 0; x && m->nslots && i < m->ninst; i++) {
        const struct cloud_inst *b = &m->inst[i];
        if (b == x || b->alias || !edge_find(m, x->id, b->id, CLOUD_EDGE_AMQP))
            continue;
        const struct cloud_span *s = cloud_down_during(b, t0, t);
        if (s && s->since_us <= t) {
            *span = s;
            return b;
        }
    }
    return NULL;
}

int cloud_span_solid(const struct cloud_span *s, uint64_t now)
{
    uint64_t until = s->until_us ? s->until_us : now;
    return s->evidence >= 2 || (until > s->since_us && until - s->since_us >= 5000000ull);
}

int cloud_depends(const struct cloud *m, const struct cloud_inst *from, const struct cloud_inst *to)
{
    return calls_through(m, from, to, 0);
}

const struct cloud_inst *cloud_busy_caller(const struct cloud *m, const char *addr,
                                           const struct cloud_inst *to, uint64_t t,
                                           uint64_t window)
{
    if (!addr || !to)
        return NULL;
    for (size_t i = 0; i < m->ninst; i++) {
        const struct cloud_inst *x = &m->inst[i];
        if (x->embedded || x->alias || x == to || strcmp(x->addr, addr) != 0 || x->alive_us > t ||
            x->alive_us + window < t)
            continue;
        if (has_edge(m, x, to))
            return x;
    }
    return NULL;
}

uint64_t cloud_background_at(const struct cloud *m, const char *addr)
{
    const struct addr_host *a = ah_get((struct cloud *)m, addr, 0);
    return a ? a->bg_us : 0;
}

const char *cloud_inst_name(const struct cloud_inst *x, char *buf, size_t len)
{
    snprintf(buf, len, "%s@%s", x->service, x->host[0] ? x->host : or_s(x->addr));
    return buf;
}

const char *cloud_state_name(enum cloud_state s)
{
    return s == CLOUD_DOWN ? "down" : s == CLOUD_HUNG ? "hung" : "up";
}

const char *cloud_span_category(const struct cloud_span *s)
{
    if (s->why == CLOUD_WHY_STALLED)
        return "host_unreachable";
    return s->state == CLOUD_HUNG ? "service_hung" : "service_down";
}

const char *cloud_why_name(enum cloud_why w)
{
    static const char *const names[CLOUD_WHY_COUNT] = {
        "",           "refused",     "unreachable", "left the broker", "force-closed",
        "no answer",  "no reply",    "unconsumed",  "silent", "named by errors",
        "failing its dependents", "held work",  "not acknowledging",
        "its callers could not connect",
    };
    return (unsigned)w < CLOUD_WHY_COUNT ? names[w] : "";
}
