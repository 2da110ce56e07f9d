/* blame.c -- verdicts consult the model of the cloud (see blame.h). */
#include "rca/blame.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define BLAME_BEFORE_US 2000000ull /* a dependency down just before the call counts */
#define BLAME_AFTER_US 1000000ull

static const char *or_s(const char *s)
{
    return s ? s : "";
}

static int user_error(const struct report *r)
{
    const char *k = r->root_cause.kind;
    return k && !strcmp(k, "http_4xx");
}

/* 1 when error class e says "internal server error" in any spelling
 * (nova's InternalServerError, keystone's title "Internal Server Error"). */
static int internal_error(const char *e)
{
    char flat[128];
    size_t n = 0;
    for (const char *p = e; *p && n + 1 < sizeof(flat); p++)
        if (*p != ' ' && *p != '_')
            flat[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    flat[n] = '\0';
    return strstr(flat, "internalservererror") != NULL;
}

/* Evidence of a service that did not do its part (no answer, a call
 * never answered or never taken, an operation left in transition), or
 * answered with a generic server error: it may have been let down by a
 * dependency. A specific exception it raised (NoValidHost, a spawn
 * failure, InstanceNotFound) is its own finding, which only a rule's
 * when_down can move. */
static int let_down_kind(const struct report *r)
{
    static const char *const kinds[] = {"no_answer", "rpc_timeout", "cast_unconsumed", "stuck"};
    const char *k = r->root_cause.kind;
    if (!k || r->root_cause.untaken)
        return 0; /* no consumer took the work: the consumer is the one gone */
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (!strcmp(k, kinds[i]))
            return 1;
    if (strcmp(k, "http_5xx") != 0)
        return 0;
    const char *e = r->root_cause.error;
    /* a generic server error, or one that says a connection failed
     * (ConnectFailure, ConnectionRefused, GatewayTimeout, ...) */
    return !e || !*e || !strcmp(e, "computeFault") || internal_error(e) ||
           strstr(e, "Unavailable") || strstr(e, "Connect") || strstr(e, "Timeout") ||
           strstr(e, "Unreachable") || strstr(e, "Refused") || strstr(e, "Gateway") ||
           !strcmp(r->status, "502") || !strcmp(r->status, "503") || !strcmp(r->status, "504");
}

/* Kinds a rule's when_down may move: any failure the service reported. */
static int reported_kind(const char *k)
{
    static const char *const kinds[] = {"http_5xx",   "no_answer",      "rpc_failure",
                                        "rpc_timeout", "cast_unconsumed", "error_notification",
                                        "resource_error", "stuck"};
    if (!k)
        return 0;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (!strcmp(k, kinds[i]))
            return 1;
    return 0;
}

static const struct rules_fault *rule_of(const struct rules *rules, const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < rules_fault_count(rules); i++) {
        const struct rules_fault *f = rules_fault_at(rules, i);
        if (f && !strcmp(f->name, name))
            return f;
    }
    return NULL;
}

static const char *category_of(const struct cloud_span *s)
{
    return cloud_span_category(s);
}

/* Among the instances of svc (every one when svc is NULL) other than not,
 * the one down or hung during [t0, t1] whose period began first (the
 * first to go down explains the rest); with dep_of, only instances that
 * dep_of depends on. */
static const struct cloud_inst *down_among(const struct cloud *m, const struct rules *rules,
                                           const char *svc, const struct cloud_inst *not,
                                           const struct cloud_inst *dep_of, const char *dep_svc,
                                           uint64_t t0, uint64_t t1,
                                           const struct cloud_span **span)
{
    const struct cloud_inst *best = NULL;
    const struct cloud_span *bs = NULL;
    for (size_t i = 0; i < cloud_count(m); i++) {
        const struct cloud_inst *x = cloud_at(m, i);
        if (x == not || x->embedded || x->alias || (svc && strcmp(x->service, svc) != 0))
            continue;
        if (dep_svc && !(dep_of && cloud_calls(m, dep_of, x)) &&
            !rules_depends(rules, dep_svc, x->service))
            continue;
        const struct cloud_span *s = cloud_down_during(x, t0, t1);
        if (!s || s->since_us > t1 || !cloud_span_solid(s, t1))
            continue;
        if (!bs || s->since_us < bs->since_us) {
            best = x;
            bs = s;
        }
    }
    *span = bs;
    return best;
}

/* The rule's when_down: of the instances of its services (other than x)
 * down during the failure, or within when_down_within seconds before it,
 * the one that went down first (it explains the rest). */
static int rule_when_down(const struct cloud *m, const struct rules *rules, const struct report *r,
                          const struct cloud_inst *x, uint64_t t0, uint64_t w0, uint64_t w1,
                          struct blame *out)
{
    const struct rules_fault *rule = rule_of(rules, r->rule);
    uint64_t back = rule && rule->when_down_within_s ? rule->when_down_within_s * 1000000ull : 0;
    uint64_t v0 = back && t0 > back ? t0 - back : w0;
    const struct cloud_inst *best = NULL;
    const struct cloud_span *bs = NULL;
    for (size_t i = 0; rule && i < rule->nwhen_down; i++) {
        const struct cloud_span *ws = NULL;
        const struct cloud_inst *wd =
            down_among(m, rules, rule->when_down[i], x, NULL, NULL, v0, w1, &ws);
        if (wd && (!bs || ws->since_us < bs->since_us)) {
            best = wd;
            bs = ws;
        }
    }
    if (!best)
        return 0;
    out->inst = best;
    out->span = bs;
    out->moved = 1;
    out->category = category_of(bs);
    return 1;
}

int blame_decide(const struct cloud *m, const struct rules *rules, const struct report *r,
                 uint64_t t0, uint64_t t1, struct blame *out)
{
    memset(out, 0, sizeof(*out));
    if (!m || !r->failed || user_error(r))
        return 0;
    const struct report_cause *rc = &r->root_cause;
    uint64_t w0 = t0 > BLAME_BEFORE_US ? t0 - BLAME_BEFORE_US : 0, w1 = t1 + BLAME_AFTER_US;
    if (!rc->service) /* the chain names nobody: only a rule's when_down can */
        return reported_kind(rc->kind) && rule_when_down(m, rules, r, NULL, t0, w0, w1, out);
    const struct cloud_inst *x = cloud_find(m, rc->service, rc->host, rc->addr[0] ? rc->addr : NULL);
    const struct cloud_span *xs = cloud_down_during(x, w0, w1);
    if (!reported_kind(rc->kind)) {
        out->inst = x; /* its host, at least */
        out->span = xs;
        if (xs)
            out->category = category_of(xs);
        return x != NULL;
    }
    /* work no consumer took while its broker was down or only just back
     * (cloud_broker_down): its restart cut the consumer off, the
     * consumer's silence is the broker's outage carrying on */
    const struct cloud_span *bs = NULL;
    const struct cloud_inst *b =
        rc->untaken ? cloud_broker_down(m, x, xs ? xs->since_us : rc->ts_us, &bs) : NULL;
    if (b && cloud_span_solid(bs, rc->ts_us)) {
        out->inst = b;
        out->span = bs;
        out->moved = 1;
        out->category = category_of(bs);
        return 1;
    }
    /* a dependency of the reporter down during the call, and first: the
     * reporter hung or failed because of it (the first to go down
     * explains the rest) */
    const struct cloud_span *ds = NULL;
    const struct cloud_inst *d =
        let_down_kind(r) ? down_among(m, rules, NULL, x, x, rc->service, w0, w1, &ds) : NULL;
    if (d && (!xs || ds->since_us <= xs->since_us + BLAME_AFTER_US)) {
        out->inst = d;
        out->span = ds;
        out->moved = 1;
        out->category = category_of(ds);
        return 1;
    }
    if (x && xs) {
        /* the service the chain blames was itself down: name it fully */
        out->inst = x;
        out->span = xs;
        out->category = category_of(xs);
        return 1;
    }
    /* a rule may say which services' outage explains this failure */
    if (rule_when_down(m, rules, r, x, t0, w0, w1, out))
        return 1;
    out->inst = x;
    return x != NULL;
}

const char *blame_time(uint64_t us, char *buf, size_t len)
{
    time_t sec = (time_t)(us / 1000000u);
    struct tm tm;
    gmtime_r(&sec, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(us % 1000000u / 1000u));
    return buf;
}

void blame_apply(const struct blame *b, struct report *r, char *buf, size_t len)
{
    struct report_cause *rc = &r->root_cause;
    const struct cloud_inst *d = b->inst;
    if (!d)
        return;
    if (b->moved) {
        char was[128], since[48];
        snprintf(was, sizeof(was), "%s%s%s", rc->service ? rc->service : "?",
                 rc->kind ? " " : "", rc->kind ? rc->kind : "");
        blame_time(b->span->since_us, since, sizeof(since));
        char during[160];
        if (rc->service)
            snprintf(during, sizeof(during), "while %s handled the call", was);
        else
            snprintf(during, sizeof(during), "while the operation was %s",
                     rc->kind && !strcmp(rc->kind, "stuck") ? "stuck" : "failing");
        snprintf(buf, len, "%s %s since %s (%s, %u piece%s of evidence) %s: %s", d->service,
                 cloud_state_name((enum cloud_state)b->span->state), since,
                 cloud_why_name((enum cloud_why)b->span->why), b->span->evidence,
                 b->span->evidence == 1 ? "" : "s", during, rc->message ? rc->message : "");
        rc->message = buf;
        rc->kind = "dependency_down";
        rc->error = b->span->state == CLOUD_HUNG ? "DependencyHung" : "DependencyDown";
        r->rule = NULL;
        r->hint = NULL;
    }
    if (b->moved || !rc->service || strcmp(rc->service, d->service) != 0) {
        rc->service = d->service;
        rc->host = NULL;
        rc->addr[0] = '\0';
    }
    if (d->host[0])
        rc->host = d->host;
    if (d->addr[0])
        snprintf(rc->addr, sizeof(rc->addr), "%s", d->addr);
    if (b->category)
        r->category = b->category;
}

int blame_home(const struct cloud *m, struct report *r, const char *uuid, char *buf, size_t len)
{
    struct report_cause *rc = &r->root_cause;
    if (!m || !r->failed || rc->service || !rc->kind || strcmp(rc->kind, "stuck") != 0)
        return 0;
    const struct cloud_inst *h = cloud_home(m, uuid);
    if (!h)
        return 0;
    rc->service = h->service;
    rc->host = h->host[0] ? h->host : NULL;
    snprintf(rc->addr, sizeof(rc->addr), "%s", h->addr);
    snprintf(buf, len, "%s; server %s lives on %s%s%s, which holds its work", or_s(rc->message),
             uuid, h->service, h->host[0] ? "@" : "", h->host);
    rc->message = buf;
    return 1;
}
