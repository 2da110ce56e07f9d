/* incident.c -- grouping verdicts and the model's periods into incidents
 * (see incident.h). The table is an array in id order; it is small (an
 * incident per outage), so it is searched from the newest back. */
#include "rca/incident.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/str.h"

#define SPAN_MIN_EVIDENCE 2      /* a period opens an incident with this much evidence */
#define SPAN_MIN_US 5000000ull   /* or once it has lasted this long */

struct incident_table {
    struct incident_cfg cfg;
    struct incident *v;
    size_t n;
    uint32_t next_id;
    uint64_t now;
    incident_fn fn;
    void *ctx;
    uint64_t *c_opened, *c_resolved, *c_forgotten;
    uint64_t local[3];
};

void incident_defaults(struct incident_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_incidents = 512;
    cfg->join_us = 120000000ull;
    cfg->resolve_us = 60000000ull;
}

struct incident_table *incident_table_new(const struct incident_cfg *cfg, struct stats *st,
                                          incident_fn fn, void *ctx)
{
    struct incident_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    if (cfg)
        t->cfg = *cfg;
    else
        incident_defaults(&t->cfg);
    if (!t->cfg.max_incidents)
        t->cfg.max_incidents = 512;
    t->v = calloc(t->cfg.max_incidents, sizeof(*t->v));
    if (!t->v) {
        free(t);
        return NULL;
    }
    t->fn = fn;
    t->ctx = ctx;
    uint64_t **cs[3] = {&t->c_opened, &t->c_resolved, &t->c_forgotten};
    static const char *const names[3] = {"incident.opened", "incident.resolved",
                                         "incident.forgotten"};
    for (int i = 0; i < 3; i++)
        *cs[i] = st ? stats_counter(st, names[i]) : &t->local[i];
    return t;
}

void incident_table_free(struct incident_table *t)
{
    if (!t)
        return;
    free(t->v);
    free(t);
}

static void tell(struct incident_table *t, const struct incident *inc, enum incident_change what)
{
    if (t->fn)
        t->fn(t->ctx, inc, what);
}

/* A fresh incident at the end of the array (the oldest resolved one, else
 * the oldest, forgotten when full). */
static struct incident *open_new(struct incident_table *t, uint64_t ts)
{
    if (t->n == t->cfg.max_incidents) {
        size_t drop = 0;
        for (size_t i = 0; i < t->n; i++)
            if (t->v[i].end_us) {
                drop = i;
                break;
            }
        memmove(&t->v[drop], &t->v[drop + 1], (t->n - drop - 1) * sizeof(t->v[0]));
        t->n--;
        (*t->c_forgotten)++;
    }
    struct incident *inc = &t->v[t->n++];
    memset(inc, 0, sizeof(*inc));
    inc->id = ++t->next_id;
    inc->start_us = inc->last_us = ts;
    (*t->c_opened)++;
    return inc;
}

static int user_caused(const char *cat)
{
    return cat && (!strcmp(cat, "user_error") || !strcmp(cat, "quota") ||
                   !strcmp(cat, "not_found"));
}

static int same_place(const struct incident *inc, const char *svc, const char *host,
                      const char *addr)
{
    if (strcmp(inc->service, svc) != 0)
        return 0;
    if (host && *host && inc->host[0])
        return !strcmp(inc->host, host);
    if (addr && *addr && inc->addr[0])
        return !strcmp(inc->addr, addr);
    return 1;
}

static void place_from(struct incident *inc, const char *svc, const char *host, const char *addr)
{
    str_copy(inc->service, sizeof(inc->service), svc);
    if (host && *host && !inc->host[0])
        str_copy(inc->host, sizeof(inc->host), host);
    if (addr && *addr && !inc->addr[0])
        str_copy(inc->addr, sizeof(inc->addr), addr);
}

static const char *span_kind(const struct cloud_span *s, char *buf, size_t len)
{
    snprintf(buf, len, "%s (%s)", cloud_state_name((enum cloud_state)s->state),
             cloud_why_name((enum cloud_why)s->why));
    return buf;
}

/* 1 if incident x follows the model's period of instance inst_id begun
 * at since. */
static int follows(const struct incident *x, uint32_t inst_id, uint64_t since)
{
    return x->inst_id == inst_id && x->span_since == since;
}

/* The incident following that period, NULL. */
static struct incident *by_span(struct incident_table *t, uint32_t inst_id, uint64_t since)
{
    for (size_t i = t->n; i-- > 0;)
        if (follows(&t->v[i], inst_id, since))
            return &t->v[i];
    return NULL;
}

uint32_t incident_verdict(struct incident_table *t, const struct report *r,
                          const struct cloud_inst *inst, const struct cloud_span *span, int user)
{
    const struct report_cause *rc = &r->root_cause;
    if (!(r->failed || r->slow) || !rc->service || user_caused(r->category))
        return 0;
    uint64_t t0 = rc->since_us ? rc->since_us : r->start_ts_us, t1 = rc->ts_us;
    if (t1 < t0)
        t1 = t0;
    struct incident *inc = NULL;
    for (size_t i = t->n; i-- > 0 && !inc;) {
        struct incident *x = &t->v[i];
        if (inst && span && follows(x, inst->id, span->since_us)) {
            inc = x;
            break;
        }
        if (!same_place(x, rc->service, rc->host, rc->addr))
            continue;
        uint64_t lo = x->start_us > t->cfg.join_us ? x->start_us - t->cfg.join_us : 0;
        uint64_t hi = x->last_us + t->cfg.join_us;
        if (x->end_us && x->end_us < hi)
            hi = x->end_us;
        if (t1 >= lo && t0 <= hi)
            inc = x;
    }
    int opened = 0;
    if (!inc && !user)
        return 0; /* background failures join incidents, never open one */
    if (!inc) {
        inc = open_new(t, span ? span->since_us : t0);
        place_from(inc, rc->service, rc->host, rc->addr);
        str_copy(inc->category, sizeof(inc->category), r->category ? r->category : "unknown");
        if (span)
            span_kind(span, inc->kind, sizeof(inc->kind));
        else
            str_copy(inc->kind, sizeof(inc->kind), rc->kind ? rc->kind : "");
        if (inst && span) {
            inc->inst_id = inst->id;
            inc->span_since = span->since_us;
        }
        opened = 1;
    }
    place_from(inc, rc->service, rc->host, rc->addr);
    if (inc->category[0] == '\0' || !strcmp(inc->category, "unknown"))
        str_copy(inc->category, sizeof(inc->category), r->category ? r->category : "unknown");
    if (t1 > inc->last_us)
        inc->last_us = t1;
    if (t0 < inc->start_us)
        inc->start_us = t0;
    if (inc->end_us) {
        inc->end_us = 0; /* it was not over */
        opened = 1;
    }
    if (!user) {
        inc->background++;
        inc->evidence++;
    } else {
        if (inc->nops < INCIDENT_OPS) {
            struct incident_op *op = &inc->ops[inc->nops++];
            str_copy(op->operation, sizeof(op->operation), r->operation ? r->operation : "");
            str_copy(op->request_id, sizeof(op->request_id), r->request_id ? r->request_id : "");
            str_copy(op->session_login, sizeof(op->session_login),
                     r->session.login_request_id ? r->session.login_request_id : "");
            op->ts_us = r->start_ts_us;
        }
        inc->verdicts++;
    }
    tell(t, inc, opened ? INCIDENT_OPENED : INCIDENT_UPDATED);
    return inc->id;
}

/* The incident following the model's period s of x, opened when the
 * period is substantial. */
static void follow_span(struct incident_table *t, const struct cloud_inst *x,
                        const struct cloud_span *s, uint64_t now)
{
    struct incident *inc = by_span(t, x->id, s->since_us);
    if (!inc) {
        uint64_t until = s->until_us ? s->until_us : now;
        if (s->evidence < SPAN_MIN_EVIDENCE && until - s->since_us < SPAN_MIN_US)
            return;
        /* a verdict may have opened one for the same place already */
        for (size_t i = t->n; i-- > 0;) {
            struct incident *y = &t->v[i];
            if (!y->inst_id && !y->end_us && same_place(y, x->service, x->host, x->addr) &&
                y->last_us + t->cfg.join_us >= s->since_us) {
                inc = y;
                inc->inst_id = x->id;
                inc->span_since = s->since_us;
                break;
            }
        }
        if (!inc) {
            inc = open_new(t, s->since_us);
            place_from(inc, x->service, x->host, x->addr);
            str_copy(inc->category, sizeof(inc->category), cloud_span_category(s));
            inc->inst_id = x->id;
            inc->span_since = s->since_us;
            span_kind(s, inc->kind, sizeof(inc->kind));
            inc->evidence = s->evidence;
            inc->last_us = s->until_us ? s->until_us : s->since_us;
            tell(t, inc, INCIDENT_OPENED);
            return;
        }
        span_kind(s, inc->kind, sizeof(inc->kind));
    }
    int changed = 0;
    if (s->evidence > inc->evidence) {
        inc->evidence = s->evidence;
        changed = 1;
    }
    if (s->since_us < inc->start_us)
        inc->start_us = s->since_us;
    if (s->until_us && !inc->back_us) {
        inc->back_us = s->until_us;
        if (s->until_us > inc->last_us)
            inc->last_us = s->until_us;
        changed = 1;
    }
    if (changed && !inc->end_us)
        tell(t, inc, INCIDENT_UPDATED);
}

void incident_tick(struct incident_table *t, const struct cloud *m, uint64_t now)
{
    if (now < t->now)
        now = t->now;
    t->now = now;
    for (size_t i = 0; m && i < cloud_count(m); i++) {
        const struct cloud_inst *x = cloud_at(m, i);
        for (size_t k = 0; !x->alias && k < x->nspans; k++)
            follow_span(t, x, &x->spans[k], now);
    }
    for (size_t i = 0; i < t->n; i++) {
        struct incident *inc = &t->v[i];
        if (inc->end_us)
            continue;
        /* over: the model saw it back (or never had a period for it), and
         * nothing new came since */
        if (inc->inst_id && !inc->back_us)
            continue;
        uint64_t quiet_from = inc->back_us > inc->last_us ? inc->back_us : inc->last_us;
        if (now >= quiet_from + t->cfg.resolve_us) {
            inc->end_us = inc->back_us ? inc->back_us : inc->last_us;
            (*t->c_resolved)++;
            tell(t, inc, INCIDENT_RESOLVED);
        }
    }
}

void incident_finish(struct incident_table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        struct incident *inc = &t->v[i];
        if (inc->end_us || !inc->back_us || inc->last_us > inc->back_us)
            continue;
        inc->end_us = inc->back_us;
        (*t->c_resolved)++;
        tell(t, inc, INCIDENT_RESOLVED);
    }
}

size_t incident_count(const struct incident_table *t)
{
    return t->n;
}

const struct incident *incident_at(const struct incident_table *t, size_t i)
{
    return i < t->n ? &t->v[i] : NULL;
}


