/* rca.c -- the analyzer facade: chain fate, eviction, reporting (see rca.h;
 * DESIGN.md "Finding the origin of a fault" step 3). */
#include "rca/rca.h"

#include <stdlib.h>
#include <string.h>

#include "capture/mem.h"
#include "capture/stats.h"
#include "rca/chain.h"
#include "rca/fault.h"
#include "rca/walk.h"

struct rca {
    struct rca_cfg cfg;
    const struct rules *rules;
    struct stats *st;
    rca_report_fn fn;
    void *ctx;
    struct chain_set *cs;
    struct rca_summary sum;
    uint64_t now;
    const struct mem_pool *ev_pool;
    size_t ev_budget;
    struct chain **ready; /* decide_batch's list, kept between ticks */
    size_t ready_cap;
    /* no open chain can be ready before this (a lower bound: made exact by
     * each decide_batch walk, lowered by every event), so ticks before it
     * skip the walk over all open chains */
    uint64_t next_ready;
};

void rca_defaults(struct rca_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_open_chains = 10000;
    cfg->max_events_per_chain = 2000;
    cfg->default_call_timeout_us = 60000000ull;
    cfg->settle_us = 10000000ull;
    cfg->max_chain_us = 600000000ull;
    cfg->max_answered_us = 300000000ull;
}

void rca_set_event_budget(struct rca *a, const struct mem_pool *pool, size_t budget)
{
    a->ev_pool = budget ? pool : NULL;
    a->ev_budget = budget;
}

struct rca *rca_new(const struct rca_cfg *cfg, const struct rules *rules, struct stats *st,
                    rca_report_fn fn, void *ctx)
{
    struct rca *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    if (cfg)
        a->cfg = *cfg;
    else
        rca_defaults(&a->cfg);
    if (!a->cfg.max_open_chains)
        a->cfg.max_open_chains = 10000;
    a->rules = rules;
    a->st = st;
    a->fn = fn;
    a->ctx = ctx;
    struct chain_cfg cc = {a->cfg.max_events_per_chain, a->cfg.default_call_timeout_us, 0};
    a->cs = chain_set_new(&cc, rules, st);
    if (!a->cs) {
        free(a);
        return NULL;
    }
    return a;
}

void rca_use_rules(struct rca *a, const struct rules *rules)
{
    a->rules = rules;
    chain_set_use_rules(a->cs, rules);
}

void rca_free(struct rca *a)
{
    if (!a)
        return;
    chain_set_free(a->cs);
    free(a->ready);
    free(a);
}

/* Resource ids a chain owns ("i:" index keys). */
static void note_failed_resources(struct rca *a, const struct chain *c)
{
    for (size_t i = 0; i < c->nkeys; i++)
        if (!strncmp(c->keys[i], "i:", 2))
            chain_set_note_failed(a->cs, c->keys[i] + 2);
}

/* A failure whose only evidence is a resource the client saw in ERROR,
 * when that resource's failed operation was already reported. */
static int already_reported(const struct rca *a, const struct chain *c, const struct report *r)
{
    if (!r->root_cause.kind || strcmp(r->root_cause.kind, "resource_error") != 0)
        return 0;
    for (size_t i = 0; i < c->n; i++) {
        const struct event *ev = c->e[i].ev;
        char u[40];
        if (ev->kind == EV_HTTP_REQUEST && chain_path_uuid(ev->path, u, sizeof(u)) &&
            chain_set_was_failed(a->cs, u))
            return 1;
        for (size_t k = 0; k < ev->nuuids; k++)
            if (chain_set_was_failed(a->cs, ev->uuids[k].id))
                return 1;
    }
    return 0;
}

static int wanted(const struct rca *a, const struct chain *c)
{
    if (a->cfg.only_request_id && !chain_has_request_id(c, a->cfg.only_request_id))
        return 0;
    if (a->cfg.only_resource && !chain_has_resource(c, a->cfg.only_resource))
        return 0;
    return 1;
}

static void decide(struct rca *a, struct chain *c, int at_end)
{
    struct fault_ctx fx = {a->cs, a->now, at_end};
    struct report r;
    /* the verdict first; the node tree only for a report that is printed */
    if (walk_verdict(&fx, c, &r) < 0)
        stats_add(a->st, "rca.report_alloc_failed", 1);
    int report = 0;
    if (r.background) {
        a->sum.background++;
        if (r.failed)
            stats_add(a->st, "rca.background_failed", 1);
        report = a->cfg.report_background && (r.failed || a->cfg.keep_ok);
    } else {
        a->sum.operations++;
        if (r.failed) {
            a->sum.failed++;
            if (already_reported(a, c, &r)) {
                stats_add(a->st, "rca.failure_already_reported", 1);
                report = a->cfg.keep_ok;
            } else {
                report = 1;
            }
            note_failed_resources(a, c);
        } else {
            a->sum.ok++;
            report = a->cfg.keep_ok;
        }
    }
    if (report && wanted(a, c) && a->fn) {
        if (walk_report(&fx, c, &r) < 0)
            stats_add(a->st, "rca.report_alloc_failed", 1);
        a->fn(a->ctx, &r);
        walk_report_free(&r);
    }
    chain_set_remove(a->cs, c);
}

static int root_cmp(const void *x, const void *y)
{
    const struct chain *const *a = x, *const *b = y;
    const struct event *ra = chain_root(*a), *rb = chain_root(*b);
    uint64_t sa = ra ? ra->seq : 0, sb = rb ? rb->seq : 0;
    if (sa != sb)
        return sa < sb ? -1 : 1;
    return (*a)->id < (*b)->id ? -1 : (*a)->id > (*b)->id;
}

/* The earliest packet time at which chain c could be ready (0: now). The
 * settle time runs from the last event, the age limits from the first, and
 * events only move the last one later. */
static uint64_t ready_bound(const struct rca *a, const struct chain *c)
{
    uint64_t b = c->last_ts + a->cfg.settle_us;
    if (a->cfg.max_chain_us && c->first_ts + a->cfg.max_chain_us + 1 < b)
        b = c->first_ts + a->cfg.max_chain_us + 1;
    if (a->cfg.max_answered_us) {
        if (c->n >= a->cfg.max_events_per_chain)
            return 0;
        if (c->first_ts + a->cfg.max_answered_us + 1 < b)
            b = c->first_ts + a->cfg.max_answered_us + 1;
    }
    return b;
}

/* Decide the chains selected by ready(), in root order. */
static void decide_batch(struct rca *a, int at_end)
{
    if (!at_end && a->now < a->next_ready)
        return;
    uint64_t next = UINT64_MAX;
    size_t n = chain_set_count(a->cs), k = 0;
    if (!n)
        return;
    if (a->ready_cap < n) {
        size_t cap = a->ready_cap ? a->ready_cap : 256;
        while (cap < n)
            cap *= 2;
        struct chain **nv = realloc(a->ready, cap * sizeof(*nv));
        if (!nv) {
            stats_add(a->st, "rca.decide_alloc_failed", 1);
            return;
        }
        a->ready = nv;
        a->ready_cap = cap;
    }
    struct chain **v = a->ready;
    for (struct chain *c = chain_set_first(a->cs); c; c = c->next) {
        int ready = at_end;
        if (!ready) {
            uint64_t quiet = a->now > c->last_ts ? a->now - c->last_ts : 0;
            ready = quiet >= a->cfg.settle_us && c->npending == 0 && chain_root_answered(c);
            if (!ready && a->cfg.max_chain_us && a->now > c->first_ts &&
                a->now - c->first_ts > a->cfg.max_chain_us) {
                ready = 1;
                stats_add(a->st, "rca.chains_aged_out", 1);
            }
            /* never quiet (a replay loop, a flood of one id): once the root
             * has answered, a full or long chain has told what it can */
            if (!ready && a->cfg.max_answered_us &&
                (c->n >= a->cfg.max_events_per_chain ||
                 (a->now > c->first_ts && a->now - c->first_ts > a->cfg.max_answered_us)) &&
                chain_root_answered(c)) {
                ready = 1;
                stats_add(a->st, "rca.chains_decided_busy", 1);
            }
        }
        if (ready && k < n)
            v[k++] = c;
        else if (!ready) {
            uint64_t b = ready_bound(a, c);
            if (b < next)
                next = b;
        }
    }
    a->next_ready = next;
    if (k > 1)
        qsort(v, k, sizeof(*v), root_cmp);
    for (size_t i = 0; i < k; i++)
        decide(a, v[i], at_end);
}

void rca_event(struct rca *a, struct event *ev)
{
    if (!ev)
        return;
    a->sum.events++;
    if (ev->ts_us > a->now)
        a->now = ev->ts_us;
    struct chain *c = chain_set_add(a->cs, ev);
    if (c) {
        uint64_t b = ready_bound(a, c);
        if (b < a->next_ready)
            a->next_ready = b;
    }
    while (chain_set_count(a->cs) > a->cfg.max_open_chains) {
        struct chain *old = chain_set_first(a->cs);
        if (old == c && old->next)
            old = old->next;
        a->sum.evicted++;
        stats_add(a->st, "rca.chains_evicted", 1);
        decide(a, old, 0);
    }
    if (a->ev_pool && a->ev_pool->used > a->ev_budget) {
        size_t low = a->ev_budget - a->ev_budget / 8;
        stats_diag(a->st, "rca.memcap_reached", a->now,
                   "events held by open chains passed %zu bytes: deciding the oldest chains "
                   "early (their verdicts may miss later messages)",
                   a->ev_budget);
        while (a->ev_pool->used > low && chain_set_count(a->cs) > 1) {
            struct chain *old = chain_set_first(a->cs);
            if (old == c && old->next)
                old = old->next;
            a->sum.evicted++;
            stats_add(a->st, "rca.chains_evicted_memcap", 1);
            decide(a, old, 0);
        }
    }
}

void rca_tick(struct rca *a, uint64_t now_us)
{
    if (now_us > a->now)
        a->now = now_us;
    chain_set_expire(a->cs, a->now, 0);
    decide_batch(a, 0);
}

void rca_flush(struct rca *a, uint64_t now_us)
{
    if (now_us > a->now)
        a->now = now_us;
    chain_set_expire(a->cs, a->now, 0);
    decide_batch(a, 0);
    chain_set_expire(a->cs, a->now, 1);
    decide_batch(a, 1);
}

void rca_get_summary(const struct rca *a, struct rca_summary *s)
{
    *s = a->sum;
    s->open_chains = chain_set_count(a->cs);
}
