/* slow.c -- slow operations and where their time went (see slow.h). */
#include "rca/slow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/str.h"
#include "rca/blame.h"

/* A holder: one service instance (or the unseen, or the client). */
struct holder {
    const char *service; /* NULL: out of sight */
    char host[64];
    uint8_t how;         /* of its longest part */
    uint64_t held, longest;
    size_t longest_i;    /* index of its longest hold */
    int client;
};

#define MAX_HOLDERS 32

static const char *host_of(const struct tl_peer *p)
{
    return p->host[0] ? p->host : p->addr;
}

static const char *svc_key(const struct holder *h)
{
    return h->client ? "client" : h->service ? h->service : "unseen";
}

/* The holders of tl's time, one per service instance (the model of the
 * cloud names an instance by its host and by its address alike). */
static size_t holders_of(const struct timeline *tl, const struct cloud *m, struct holder *out)
{
    size_t n = 0;
    for (size_t i = 0; i < tl->nholds; i++) {
        const struct tl_hold *x = &tl->holds[i];
        int client = x->how == TL_CLIENT;
        const char *svc = x->how == TL_UNSEEN   ? NULL
                          : x->who.service[0] ? x->who.service
                                              : "unknown";
        const char *host = x->how == TL_UNSEEN ? "" : host_of(&x->who);
        const struct cloud_inst *inst =
            m && svc && !client ? cloud_find(m, svc, x->who.host, x->who.addr) : NULL;
        if (inst)
            host = inst->host[0] ? inst->host : inst->addr;
        size_t k = 0;
        for (; k < n; k++) {
            const struct holder *h = &out[k];
            if (h->client == client && (h->service == svc || (h->service && svc &&
                                                              !strcmp(h->service, svc))) &&
                !strcmp(h->host, host))
                break;
        }
        if (k == n) {
            if (n == MAX_HOLDERS)
                continue;
            memset(&out[n], 0, sizeof(out[n]));
            out[n].service = svc;
            out[n].client = client;
            str_copy(out[n].host, sizeof(out[n].host), host);
            n++;
        }
        uint64_t d = x->t1 - x->t0;
        out[k].held += d;
        if (d > out[k].longest) {
            out[k].longest = d;
            out[k].longest_i = i;
            out[k].how = x->how;
        }
    }
    return n;
}

static void hop_key(char *buf, size_t len, const char *what, const struct tl_hop *h)
{
    STR_JOIN(buf, len, what, "|", timeline_kind_name((enum tl_kind)h->kind), "|",
             h->client.service[0] ? h->client.service : "?", ">",
             h->server.service[0] ? h->server.service : "?", "|", h->label);
}

void slow_learn(struct baseline *bl, const char *operation, const struct timeline *tl)
{
    char key[BASELINE_KEY_MAX];
    for (size_t i = 0; i < tl->nhops; i++) {
        const struct tl_hop *h = &tl->hops[i];
        if (h->t1 && h->t1 >= h->t0 && h->kind != TL_NOTIFY && !h->error) {
            hop_key(key, sizeof(key), "hop", h);
            baseline_learn(bl, key, h->t1 - h->t0);
        }
        if (h->wait_us >= 0) {
            hop_key(key, sizeof(key), "wait", h);
            baseline_learn(bl, key, (uint64_t)h->wait_us);
        }
    }
    if (!operation)
        return;
    STR_JOIN(key, sizeof(key), "op|", operation);
    baseline_learn(bl, key, tl->end - tl->start);
    /* each service's share (all its instances together) */
    struct holder h[MAX_HOLDERS];
    size_t n = holders_of(tl, NULL, h);
    for (size_t i = 0; i < n; i++) {
        uint64_t sum = 0;
        int first = 1;
        for (size_t j = 0; j < n; j++) {
            if (strcmp(svc_key(&h[i]), svc_key(&h[j])))
                continue;
            if (j < i)
                first = 0;
            sum += h[j].held;
        }
        if (!first)
            continue;
        STR_JOIN(key, sizeof(key), "hold|", operation, "|", svc_key(&h[i]));
        baseline_learn(bl, key, sum);
    }
}

static double secs(uint64_t us)
{
    return (double)us / 1e6;
}

/* "usual 0.12 s", "usual 0.8 ms", or "no usual known" (n 0) into buf. */
static void usual_words(char *buf, size_t len, uint64_t us, uint64_t n)
{
    if (!n)
        snprintf(buf, len, "no usual known");
    else if (us >= 100000)
        snprintf(buf, len, "usual %.2f s", secs(us));
    else
        snprintf(buf, len, "usual %.1f ms", (double)us / 1e3);
}

/* The hop of a hold, described: fills perf's hop fields. */
static void describe(const struct baseline *bl, struct slow_words *wd, const struct timeline *tl,
                     const struct tl_hold *x, const char *who, struct report_perf *p)
{
    const struct tl_hop *h = x->hop >= 0 && (size_t)x->hop < tl->nhops ? &tl->hops[x->hop] : NULL;
    char key[BASELINE_KEY_MAX], usual[40];
    uint64_t n = 0;
    p->hop_t0_us = x->t0;
    p->hop_us = x->t1 - x->t0;
    if (h) {
        str_copy(wd->label, sizeof(wd->label), h->label);
        p->hop_label = wd->label;
    }
    char *b = wd->hop;
    size_t bl_len = sizeof(wd->hop);
    p->hop = b;
    switch (x->how) {
    case TL_ANSWER:
        if (h) {
            p->hop_t0_us = h->t0;
            p->hop_us = (h->t1 ? h->t1 : x->t1) - h->t0;
            hop_key(key, sizeof(key), "hop", h);
            p->hop_usual_us = baseline_usual(bl, key, &n);
        }
        p->hop_kind = h ? timeline_kind_name((enum tl_kind)h->kind) : "answer";
        usual_words(usual, sizeof(usual), p->hop_usual_us, n);
        snprintf(b, bl_len, "%s %s answered by %s after %.1f s (%s)", p->hop_kind,
                 h ? h->label : "?", who, secs(p->hop_us), usual);
        break;
    case TL_QUEUE:
        if (h) {
            hop_key(key, sizeof(key), "wait", h);
            p->hop_usual_us = baseline_usual(bl, key, &n);
        }
        p->hop_kind = "queue";
        usual_words(usual, sizeof(usual), p->hop_usual_us, n);
        snprintf(b, bl_len, "%s %s waited %.1f s in its queue before %s took it (%s)",
                 h ? timeline_kind_name((enum tl_kind)h->kind) : "message", h ? h->label : "?",
                 secs(p->hop_us), who, usual);
        break;
    case TL_ACCEPT:
        p->hop_kind = "accept";
        snprintf(b, bl_len, "%s took %.1f s to accept the connection of %s %s (its SYN sent again)",
                 who, secs(p->hop_us), h ? timeline_kind_name((enum tl_kind)h->kind) : "a request",
                 h ? h->label : "");
        break;
    case TL_UNSEEN:
        p->hop_kind = "unseen";
        snprintf(b, bl_len, "%.1f s of work out of the wire's sight before %s %s was delivered",
                 secs(p->hop_us), h ? timeline_kind_name((enum tl_kind)h->kind) : "a message",
                 h ? h->label : "");
        break;
    case TL_CLIENT:
        p->hop_kind = "client";
        snprintf(b, bl_len, "%.1f s between the last work and the client's last answer",
                 secs(p->hop_us));
        break;
    default: {
        /* what the holder was working on: the last message it took
         * before (a request to it, a call or cast delivered to it, the
         * answer to one of its own) */
        const struct tl_hop *before = NULL;
        uint64_t at = 0;
        for (size_t i = 0; i < tl->nhops; i++) {
            const struct tl_hop *y = &tl->hops[i];
            uint64_t took = 0;
            if (!strcmp(y->server.service, x->who.service) && y->kind != TL_NOTIFY)
                took = y->kind == TL_HTTP ? y->t0
                       : y->wait_us >= 0  ? y->t0 + (uint64_t)y->wait_us
                       : y->kind == TL_CAST ? y->t1
                                            : y->t0;
            else if (!strcmp(y->client.service, x->who.service) && y->t1 &&
                     (y->kind == TL_HTTP || y->kind == TL_CALL))
                took = y->t1;
            if (took && took <= x->t0 && took >= at) {
                at = took;
                before = y;
            }
        }
        p->hop_kind = "work";
        snprintf(b, bl_len, "%s held the operation %.1f s%s%s%s%s before sending %s %s", who,
                 secs(p->hop_us), before ? " after it took " : "",
                 before ? timeline_kind_name((enum tl_kind)before->kind) : "", before ? " " : "",
                 before ? before->label : "",
                 h ? timeline_kind_name((enum tl_kind)h->kind) : "its next message",
                 h ? h->label : "");
        break;
    }
    }
}

/* Judge tl of operation against a usual resting on enough samples:
 * 1 slow (cause, perf, wd filled), 0 not. */
static int judge(const struct rules *rules, const struct rules_perf *rp,
                 const struct baseline *bl, const struct cloud *m, const char *operation,
                 const struct timeline *tl, uint64_t usual, uint64_t n,
                 struct report_cause *cause, struct report_perf *perf, struct slow_words *wd)
{
    char key[BASELINE_KEY_MAX];
    uint64_t wall = tl->end - tl->start;
    int over = n >= rp->min_samples &&
               (double)wall > rp->relative * (double)usual + rp->absolute_s * 1e6;
    int ceiling = rp->max_s > 0 && (double)wall > rp->max_s * 1e6;
    if (!over && !ceiling)
        return 0;
    memset(perf, 0, sizeof(*perf));
    memset(wd, 0, sizeof(*wd));
    perf->wall_us = wall;
    perf->usual_us = n ? usual : 0;
    perf->samples = n;
    perf->excess_us = wall > usual ? wall - usual : 0;

    struct holder h[MAX_HOLDERS];
    size_t nh = holders_of(tl, m, h);
    /* the holder whose time grew most against its usual share; the client
     * only when nobody else holds anything */
    int64_t best_ex = INT64_MIN;
    size_t best = nh;
    uint64_t usual_of[MAX_HOLDERS];
    for (size_t i = 0; i < nh; i++) {
        uint64_t hn = 0;
        STR_JOIN(key, sizeof(key), "hold|", operation, "|", svc_key(&h[i]));
        usual_of[i] = baseline_usual(bl, key, &hn);
        if (hn < rp->min_samples)
            usual_of[i] = 0;
        int64_t ex = (int64_t)h[i].held - (int64_t)usual_of[i];
        if (h[i].client)
            ex -= INT64_MAX / 4;
        if (ex > best_ex || (ex == best_ex && best < nh && h[i].longest > h[best].longest)) {
            best_ex = ex;
            best = i;
        }
    }
    /* the shares, largest first */
    size_t order[MAX_HOLDERS];
    for (size_t i = 0; i < nh; i++)
        order[i] = i;
    for (size_t i = 1; i < nh; i++)
        for (size_t j = i; j > 0 && h[order[j]].held > h[order[j - 1]].held; j--) {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (size_t i = 0; i < nh && perf->nshares < REPORT_SHARES; i++) {
        const struct holder *x = &h[order[i]];
        struct report_share *sh = &perf->shares[perf->nshares++];
        sh->service = x->client ? "client" : x->service;
        str_copy(sh->host, sizeof(sh->host), x->host);
        sh->how = x->how;
        sh->held_us = x->held;
        sh->usual_us = usual_of[order[i]];
    }
    /* the excess must sit with a service: time the client itself took
     * (between its polls, before its next request) is not a fault of the
     * cloud */
    if (best == nh || h[best].client || best_ex <= 0 ||
        (uint64_t)best_ex * 2 < perf->excess_us)
        return 0;
    memset(cause, 0, sizeof(*cause));
    cause->kind = "slow";
    cause->error = "SlowOperation";
    const struct holder *b = &h[best];
    const struct tl_hold *x = &tl->holds[b->longest_i];
    /* work out of sight: the model may know who was down meanwhile */
    const struct cloud_inst *inst = NULL;
    const struct cloud_span *span = NULL;
    if (!b->service && !b->client) {
        for (size_t i = 0; i < cloud_count(m) && !span; i++) {
            const struct cloud_inst *y = cloud_at(m, i);
            const struct cloud_span *sp =
                y->alias || y->embedded ? NULL : cloud_down_during(y, x->t0, x->t1);
            if (sp) {
                inst = y;
                span = sp;
            }
        }
    } else if (!b->client) {
        inst = cloud_find(m, b->service, x->who.host, x->who.addr);
        span = cloud_down_during(inst, x->t0, x->t1);
    }
    /* a holder that sat on the operation until it could send to a
     * dependency (a REST service, the broker it publishes to) that was
     * down or hung meanwhile was waiting for it: the dependency is the
     * culprit */
    const struct tl_hop *next = x->how == TL_WORK && x->hop >= 0 && (size_t)x->hop < tl->nhops
                                    ? &tl->hops[x->hop]
                                    : NULL;
    const struct cloud_inst *dep = NULL;
    const struct cloud_span *dspan = NULL;
    if (next && !b->client) {
        const struct tl_peer *d = next->kind == TL_HTTP ? &next->server : &next->via;
        dep = d->service[0] ? cloud_find(m, d->service, d->host, d->addr) : NULL;
        dspan = dep && dep != inst ? cloud_down_during(dep, x->t0, x->t1) : NULL;
    }
    if (!dspan && inst && (x->how == TL_WORK || x->how == TL_ANSWER)) {
        /* else any dependency of the holder down meanwhile (one it was seen
         * calling, one the rules give it, the broker of a service that
         * speaks AMQP), the one down longest within the hold */
        uint64_t most = 0;
        for (size_t i = 0; i < cloud_count(m); i++) {
            const struct cloud_inst *y = cloud_at(m, i);
            if (y == inst || y->alias || y->embedded)
                continue;
            int needs = cloud_depends(m, inst, y) || rules_depends(rules, inst->service, y->service) ||
                        (!strcmp(y->service, "rabbitmq") &&
                         (inst->rpc_sent || svcmap_amqp_peer(rules_svcmap(rules), inst->service)));
            if (!needs)
                continue;
            const struct cloud_span *sp = cloud_down_during(y, x->t0, x->t1);
            if (!sp)
                continue;
            uint64_t a = sp->since_us > x->t0 ? sp->since_us : x->t0;
            uint64_t z = sp->until_us && sp->until_us < x->t1 ? sp->until_us : x->t1;
            if (z > a && z - a > most) {
                most = z - a;
                dep = y;
                dspan = sp;
            }
        }
        /* a dependency down for a sliver of the hold explains nothing */
        if (dspan && most * 2 < x->t1 - x->t0)
            dspan = NULL;
    }
    /* else a REST call of the holder's own, answered late, open over most
     * of the stretch (whatever operation it served: a periodic task
     * holding a lock this work needs): it was waiting on that callee */
    const struct cloud_wait *cw = NULL;
    const struct cloud_inst *waited = NULL;
    if (!dspan && inst && x->how == TL_WORK) {
        waited = cloud_waited_on(m, inst, x->t0, x->t1, &cw);
        if (waited == inst)
            waited = NULL;
    }
    char holder[160] = "";
    if (dspan || waited) {
        if (inst)
            cloud_inst_name(inst, holder, sizeof(holder));
        else
            timeline_peer_name(&x->who, holder, sizeof(holder));
        inst = dspan ? dep : waited;
        span = dspan ? dspan : cloud_down_during(waited, x->t0, x->t1);
    }
    char who[160];
    if (inst) {
        cause->service = inst->service;
        str_copy(wd->host, sizeof(wd->host), inst->host);
        str_copy(cause->addr, sizeof(cause->addr), inst->addr);
        cloud_inst_name(inst, who, sizeof(who));
    } else {
        cause->service = b->client ? "client" : b->service;
        str_copy(wd->host, sizeof(wd->host), x->who.host);
        str_copy(cause->addr, sizeof(cause->addr), x->who.addr);
        timeline_peer_name(&x->who, who, sizeof(who));
        if (!b->service && !b->client)
            snprintf(who, sizeof(who), "work out of sight");
    }
    cause->host = wd->host[0] ? wd->host : NULL;
    describe(bl, wd, tl, x, who, perf);
    if (dspan) {
        const char *was = perf->hop_kind;
        perf->hop_kind = "blocked";
        if (x->how == TL_ANSWER)
            snprintf(wd->hop, sizeof(wd->hop), "%s answered %s %s after %.1f s, waiting for %s",
                     holder, was, perf->hop_label ? perf->hop_label : "?",
                     secs(perf->hop_us), who);
        else
            snprintf(wd->hop, sizeof(wd->hop), "%s waited %.1f s for %s before sending %s %s",
                     holder, secs(x->t1 - x->t0), who,
                     next ? timeline_kind_name((enum tl_kind)next->kind) : "its next message",
                     next ? next->label : "");
    } else if (waited) {
        perf->hop_kind = "blocked";
        snprintf(wd->hop, sizeof(wd->hop),
                 "%s waited %.1f s for %s to answer %s, a call of its own open from %.1f s "
                 "before the stretch and answered after %.1f s",
                 holder, secs(x->t1 - x->t0), who, cw->what,
                 secs(x->t0 > cw->since_us ? x->t0 - cw->since_us : 0),
                 secs(cw->until_us - cw->since_us));
    }
    uint64_t worst_ack = 0;
    uint32_t nack = 0;
    if (span) {
        char t[40], dur[48] = "";
        blame_time(span->since_us, t, sizeof(t));
        if (span->until_us)
            snprintf(dur, sizeof(dur), " for %.1f s", secs(span->until_us - span->since_us));
        snprintf(wd->why, sizeof(wd->why), "%s was %s (%s) from %s%s", who,
                 cloud_state_name((enum cloud_state)span->state),
                 cloud_why_name((enum cloud_why)span->why), t, dur);
        perf->why = wd->why;
    } else if (inst && (nack = cloud_slow_acks(m, inst->addr, tl->start, tl->end, &worst_ack))) {
        /* no outage: its link (or host) was slow, acknowledging late */
        snprintf(wd->why, sizeof(wd->why),
                 "the link to %s was slow: data to it acknowledged up to %.1f s late (%u time%s "
                 "during the operation)",
                 inst->addr, secs(worst_ack), (unsigned)nack, nack == 1 ? "" : "s");
        perf->why = wd->why;
    } else if (x->how == TL_QUEUE) {
        snprintf(wd->why, sizeof(wd->why),
                 "no consumer of the queue took the message meanwhile (%s down, hung or busy)",
                 who);
        perf->why = wd->why;
    } else if (x->how == TL_ANSWER) {
        snprintf(wd->why, sizeof(wd->why), "%s answered late; the wire shows no outage of it",
                 who);
        perf->why = wd->why;
    } else if (x->how == TL_ACCEPT) {
        snprintf(wd->why, sizeof(wd->why),
                 "%s did not accept connections meanwhile (its listen queue full: hung or "
                 "overloaded)", who);
        perf->why = wd->why;
    }
    cause->message = perf->hop;
    cause->ts_us = x->t1;
    cause->since_us = x->t0;
    return 1;
}

/* ---- operations awaiting their usual ---- */

struct parked {
    struct slow_op op;
    struct timeline tl; /* owned copy */
};

struct slow_table {
    const struct rules *rules;
    struct baseline *bl;
    const struct cloud *m;
    struct stats *st;
    struct parked *v;
    size_t n, cap;
    size_t bytes; /* of the timelines kept, at most SLOW_PARKED_BYTES */
};

#define SLOW_PARKED_BYTES (16u << 20)

static size_t tl_bytes(const struct timeline *tl)
{
    return tl->nhops * sizeof(*tl->hops) + tl->nholds * sizeof(*tl->holds);
}

struct slow_table *slow_table_new(const struct rules *rules, struct baseline *bl,
                                  const struct cloud *m, size_t max_parked, struct stats *st)
{
    struct slow_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->rules = rules;
    t->bl = bl;
    t->m = m;
    t->st = st;
    t->cap = max_parked ? max_parked : 256;
    t->v = calloc(t->cap, sizeof(*t->v));
    if (!t->v) {
        free(t);
        return NULL;
    }
    return t;
}

void slow_table_free(struct slow_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        timeline_free(&t->v[i].tl);
    free(t->v);
    free(t);
}

void slow_table_use_rules(struct slow_table *t, const struct rules *rules)
{
    t->rules = rules;
}

static int tl_copy(struct timeline *d, const struct timeline *s)
{
    *d = *s;
    d->borrowed = 0;
    /* one block, as timeline_build makes it */
    d->hops = malloc(s->nhops * sizeof(*d->hops) + (s->nholds ? s->nholds : 1) * sizeof(*d->holds));
    if (!d->hops) {
        d->holds = NULL;
        return -1;
    }
    d->holds = (struct tl_hold *)(d->hops + s->nhops);
    memcpy(d->hops, s->hops, s->nhops * sizeof(*d->hops));
    memcpy(d->holds, s->holds, s->nholds * sizeof(*d->holds));
    return 0;
}

static void learn_op(struct baseline *bl, const char *operation, const struct timeline *tl)
{
    struct timeline only = *tl;
    only.nhops = 0; /* the hops were learned when the chain was decided */
    slow_learn(bl, operation, &only);
}

/* Hand out parked[i] as a verdict (slow) or learn it (not), and drop it. */
/* Hand out parked[i] as a verdict (judged slow) or learn it, and drop it. */
static void settle_parked(struct slow_table *t, size_t i, int judge_it, slow_fn fn, void *ctx)
{
    struct parked *p = &t->v[i];
    const struct rules_perf *rp = rules_perf_for(t->rules, p->op.operation);
    char key[BASELINE_KEY_MAX];
    STR_JOIN(key, sizeof(key), "op|", p->op.operation);
    uint64_t n = 0, usual = baseline_usual(t->bl, key, &n);
    struct report_cause cause;
    struct report_perf perf;
    struct slow_words wd;
    if (judge_it &&
        judge(t->rules, rp, t->bl, t->m, p->op.operation, &p->tl, usual, n, &cause, &perf, &wd)) {
        stats_add(t->st, "slow.judged_late", 1);
        timeline_canon(&p->tl, t->m);
        if (fn)
            fn(ctx, &p->op, &p->tl, &cause, &perf);
    } else {
        learn_op(t->bl, p->op.operation, &p->tl);
    }
    t->bytes -= tl_bytes(&p->tl);
    timeline_free(&p->tl);
    memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof(*t->v));
    t->n--;
}

/* Could an operation of wall time wall be slow, its usual not known yet?
 * Not when it is within the margin of the quickest of the (two or more)
 * of its kind learned so far (the usual will hardly be below that), nor
 * within the absolute margin. */
static int may_be_slow(const struct rules_perf *rp, const struct sketch *learned, uint64_t wall)
{
    /* two at least: one alone may be a slow one itself */
    double floor_us = learned && learned->n >= 2 ? (double)learned->min_us : 0.0;
    return (double)wall > rp->relative * floor_us + rp->absolute_s * 1e6;
}

int slow_take(struct slow_table *t, const struct slow_op *op, const struct timeline *tl,
              struct report_cause *cause, struct report_perf *perf, struct slow_words *wd,
              slow_fn fn, void *ctx)
{
    if (!op->operation[0] || tl->end <= tl->start)
        return SLOW_NO;
    const struct rules_perf *rp = rules_perf_for(t->rules, op->operation);
    char key[BASELINE_KEY_MAX];
    STR_JOIN(key, sizeof(key), "op|", op->operation);
    uint64_t n = 0, usual = baseline_usual(t->bl, key, &n);
    uint64_t wall = tl->end - tl->start;
    if (n >= rp->min_samples || (rp->max_s > 0 && (double)wall > rp->max_s * 1e6)) {
        if (judge(t->rules, rp, t->bl, t->m, op->operation, tl, usual, n, cause, perf, wd))
            return SLOW_YES;
        learn_op(t->bl, op->operation, tl);
        slow_release(t, op->operation, fn, ctx);
        return SLOW_NO;
    }
    /* no usual yet: what could hardly be slow whatever the usual turns
     * out to be is learned now; the rest waits for the usual */
    if (!may_be_slow(rp, baseline_get(t->bl, key), wall)) {
        learn_op(t->bl, op->operation, tl);
        slow_release(t, op->operation, fn, ctx);
        return SLOW_NO;
    }
    while (t->n && (t->n == t->cap || t->bytes + tl_bytes(tl) > SLOW_PARKED_BYTES)) {
        stats_add(t->st, "slow.parked_full", 1);
        settle_parked(t, 0, 1, fn, ctx);
    }
    struct parked *p = &t->v[t->n];
    p->op = *op;
    if (tl_copy(&p->tl, tl) < 0) {
        stats_add(t->st, "slow.alloc_failed", 1);
        return SLOW_NO;
    }
    t->bytes += tl_bytes(&p->tl);
    t->n++;
    stats_add(t->st, "slow.parked", 1);
    slow_release(t, op->operation, fn, ctx);
    return SLOW_WAIT;
}

void slow_release(struct slow_table *t, const char *operation, slow_fn fn, void *ctx)
{
    const struct rules_perf *rp = rules_perf_for(t->rules, operation);
    char key[BASELINE_KEY_MAX];
    STR_JOIN(key, sizeof(key), "op|", operation);
    /* the waiting ones a quicker learned one now shows could hardly be
     * slow are learned (repeated: each lowers nothing, but counts) */
    for (size_t i = 0; i < t->n;) {
        const struct parked *p = &t->v[i];
        if (!strcmp(p->op.operation, operation) &&
            !may_be_slow(rp, baseline_get(t->bl, key), p->tl.end - p->tl.start))
            settle_parked(t, i, 0, fn, ctx);
        else
            i++;
    }
    uint64_t n = 0;
    baseline_usual(t->bl, key, &n);
    size_t waiting = 0;
    for (size_t i = 0; i < t->n; i++)
        waiting += !strcmp(t->v[i].op.operation, operation);
    int usual = n >= rp->min_samples;
    /* long ones keep coming with too few short ones to judge them by
     * (more than twice as many as make a usual: a burst of slow ones
     * during an outage is fewer): that is how long this operation takes
     * here, they become its usual */
    if (!usual && waiting <= 2 * (size_t)rp->min_samples)
        return;
    for (size_t i = 0; i < t->n;)
        if (!strcmp(t->v[i].op.operation, operation))
            settle_parked(t, i, usual, fn, ctx);
        else
            i++;
}

void slow_flush(struct slow_table *t)
{
    if (t->n)
        stats_add(t->st, "slow.unjudged", t->n);
    while (t->n)
        settle_parked(t, 0, 0, NULL, NULL);
}

size_t slow_parked(const struct slow_table *t)
{
    return t->n;
}
