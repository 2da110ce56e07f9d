/* rca.c -- the analyzer facade: chain fate, eviction, reporting (see rca.h;
 * DESIGN.md "Finding the origin of a fault" step 3). */
#include "rca/rca.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/flow.h"
#include "capture/mem.h"
#include "capture/stats.h"
#include "rca/baseline.h"
#include "rca/blame.h"
#include "rca/chain.h"
#include "rca/cloud.h"
#include "rca/fault.h"
#include "rca/graph.h"
#include "rca/incident.h"
#include "rca/session.h"
#include "rca/slow.h"
#include "rca/timeline.h"
#include "rca/walk.h"

#define RCA_MIN_SETTLE_US 1500000ull /* > blame's look-ahead after a failure */
#define RCA_BUSY_US 200000ull        /* a service this recently busy made the attempt */
#define RCA_OWNER_WAIT_US 60000000ull /* a read of a resource in ERROR waits for its owner */

struct rca {
    struct rca_cfg cfg;
    const struct rules *rules;
    struct stats *st;
    rca_report_fn fn;
    void *ctx;
    struct chain_set *cs;
    struct cloud *cloud; /* the model of the cloud across chains */
    struct session_table *sessions; /* clients' sessions */
    struct incident_table *incidents;
    struct baseline *bl;  /* usual durations (slow operations) */
    struct graph *graph;  /* the service map, NULL unless asked */
    struct slow_table *slowt; /* operations awaiting their usual */
    struct timeline_mem tlmem; /* lent to every chain's timeline */
    rca_incident_fn incident_fn;
    void *incident_ctx;
    uint64_t next_expire, next_incident_tick;
    struct rca_summary sum;
    uint64_t now;
    const struct mem_pool *ev_pool;
    size_t ev_budget;
    struct chain **ready; /* decide_batch's list, kept between ticks */
    size_t ready_cap;
    /* without the heap (heap_off): no open chain can be ready before this
     * (a lower bound: made exact by each walk, lowered by every event), so
     * ticks before it do nothing; with it, the heap's least key says so */
    uint64_t next_ready;
    /* open chains by the time they can be ready at the earliest (a binary
     * min-heap; each chain's key is its ready_bound when it last took an
     * event, never above its real bound: later changes only raise that),
     * so a tick looks only at the chains that can be due. heap_off: an
     * allocation failed; every tick walks all open chains then. */
    struct chain **heap;
    size_t hn, hcap;
    int heap_off;
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

/* ---- the heap of ready times ---- */

static void heap_place(struct rca *a, size_t i, struct chain *c)
{
    a->heap[i] = c;
    c->heap_pos = i + 1;
}

static void sift_up(struct rca *a, size_t i)
{
    struct chain *c = a->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (a->heap[p]->heap_key <= c->heap_key)
            break;
        heap_place(a, i, a->heap[p]);
        i = p;
    }
    heap_place(a, i, c);
}

static void sift_down(struct rca *a, size_t i)
{
    struct chain *c = a->heap[i];
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        uint64_t k = c->heap_key;
        if (l < a->hn && a->heap[l]->heap_key < k) {
            m = l;
            k = a->heap[l]->heap_key;
        }
        if (l + 1 < a->hn && a->heap[l + 1]->heap_key < k)
            m = l + 1;
        if (m == i)
            break;
        heap_place(a, i, a->heap[m]);
        i = m;
    }
    heap_place(a, i, c);
}

/* Put c in the heap with key (or move it there). */
static void heap_set(struct rca *a, struct chain *c, uint64_t key)
{
    if (a->heap_off)
        return;
    if (!c->heap_pos) {
        if (a->hn == a->hcap) {
            size_t cap = a->hcap ? a->hcap * 2 : 256;
            struct chain **nh = realloc(a->heap, cap * sizeof(*nh));
            if (!nh) {
                stats_add(a->st, "rca.decide_alloc_failed", 1);
                a->heap_off = 1;
                a->next_ready = 0; /* not kept while the heap was: walk at the next tick */
                return;
            }
            a->heap = nh;
            a->hcap = cap;
        }
        c->heap_key = key;
        heap_place(a, a->hn++, c);
        sift_up(a, a->hn - 1);
        return;
    }
    uint64_t old = c->heap_key;
    c->heap_key = key;
    if (key < old)
        sift_up(a, c->heap_pos - 1);
    else if (key > old)
        sift_down(a, c->heap_pos - 1);
}

/* chain_set's hook: c leaves the set. */
static void heap_del(void *ctx, struct chain *c)
{
    struct rca *a = ctx;
    if (!c->heap_pos)
        return;
    size_t i = c->heap_pos - 1;
    c->heap_pos = 0;
    struct chain *last = a->heap[--a->hn];
    if (i == a->hn)
        return;
    heap_place(a, i, last);
    if (last->heap_key < c->heap_key)
        sift_up(a, i);
    else
        sift_down(a, i);
}

/* No open chain can be ready before this packet time. */
static uint64_t earliest_ready(const struct rca *a)
{
    if (a->heap_off)
        return a->next_ready;
    return a->hn ? a->heap[0]->heap_key : UINT64_MAX;
}

/* Chains of the subtree at i whose key is <= now, into v from k on. */
static size_t heap_due(const struct rca *a, size_t i, uint64_t now, struct chain **v, size_t k)
{
    if (i >= a->hn || a->heap[i]->heap_key > now)
        return k;
    v[k++] = a->heap[i];
    k = heap_due(a, 2 * i + 1, now, v, k);
    return heap_due(a, 2 * i + 2, now, v, k);
}

/* chain_set's hook: may the service handling open request req have made
 * the connection attempt att? If the model saw it call att's target; or,
 * knowing nothing yet of what it calls (a capture just begun), if it is on
 * the attempt's address. */
static int may_call(void *ctx, const struct event *req, const struct event *att)
{
    struct rca *a = ctx;
    const struct cloud_inst *h =
        cloud_find(a->cloud, req->dst.service, req->dst.host, req->dst.addr);
    const struct cloud_inst *t =
        cloud_find(a->cloud, att->dst.service, att->dst.host, att->dst.addr);
    return h && t && cloud_depends(a->cloud, h, t);
}

/* chain_set's hook: the client session of a connection attempt no open
 * request explains. */
static struct chain_session attempt_session(void *ctx, const struct event *att)
{
    struct rca *a = ctx;
    struct chain_session cs = {0, NULL, 1};
    /* clients do not speak AMQP: the broker's refusals are services' */
    enum svc_proto proto = SVC_PROTO_UNKNOWN;
    const struct svcmap *map = rules_svcmap(a->rules);
    if (map && svcmap_port(map, att->dst.port, &proto) && proto == SVC_PROTO_AMQP)
        return cs;
    /* a service on that address that calls the target and was busy a
     * moment ago (a periodic task's RPC just before its REST call): the
     * attempt is more likely its own than a client's */
    const struct cloud_inst *t =
        cloud_find(a->cloud, att->dst.service, att->dst.host, att->dst.addr);
    int identity = att->dst.service && !strcmp(att->dst.service, session_identity(a->sessions));
    cs.service_side = 1;
    if (t && cloud_busy_caller(a->cloud, att->src.addr, t, att->ts_us, RCA_BUSY_US) && !identity)
        return cs;
    /* background work sent from that address a moment before: the attempt
     * is its next step (the owner of the work's connection may be unknown) */
    uint64_t bg = cloud_background_at(a->cloud, att->src.addr);
    if (!identity && bg && bg <= att->ts_us && att->ts_us - bg <= RCA_BUSY_US)
        return cs;
    cs.id = session_for_refusal(a->sessions, att);
    const struct session *s = session_get(a->sessions, cs.id);
    /* a client with no token can only have been logging in: an attempt
     * to another service no client session explains is a service's */
    cs.service_side = s && !s->fp && !identity;
    /* a client in its display reads retries a login for them, not for
     * the read its command asked (that one it has) */
    if (s && s->op_rid[0] && !session_aside(a->sessions, cs.id, att->ts_us))
        cs.op_request_id = s->op_rid;
    return cs;
}

static void on_incident(void *ctx, const struct incident *inc, enum incident_change what)
{
    struct rca *a = ctx;
    if (a->incident_fn)
        a->incident_fn(a->incident_ctx, inc, what);
}

void rca_on_incident(struct rca *a, rca_incident_fn fn, void *ctx)
{
    a->incident_fn = fn;
    a->incident_ctx = ctx;
}

const struct incident_table *rca_incidents(const struct rca *a)
{
    return a->incidents;
}

/* chain_set's hook: a call got no reply by its deadline. Its consumer
 * never answered it (delivered) or never took it (not delivered): the
 * model learns it now, not when the chain is decided. */
static void call_timed_out(void *ctx, const struct chain *c, int32_t i)
{
    struct rca *a = ctx;
    const struct chain_entry *e = &c->e[i];
    const struct event *ev = e->ev;
    const char *host = NULL;
    const char *svc = chain_receiver(a->cs, c, (size_t)i, &host);
    int delivered = e->ndeliver > 0 || ev->verb == EV_VERB_DELIVER;
    const char *addr = NULL;
    if (e->twin != CHAIN_NONE && !(e->flags & CE_TWIN))
        addr = c->e[e->twin].ev->dst.addr;
    else if (ev->verb == EV_VERB_DELIVER)
        addr = ev->dst.addr;
    if (!addr) {
        /* never delivered: the consumer the topic had before, if any */
        const char *a2 = NULL, *h2 = NULL;
        if (chain_set_topic_consumer(a->cs, ev, &a2, &h2)) {
            addr = a2;
            if (!host)
                host = h2;
        }
    }
    /* a call whose queue's deliveries this capture cannot see was maybe
     * taken: only the weaker reading (no reply) */
    if (!delivered && !addr && !chain_set_delivery_visible(a->cs, ev))
        delivered = 1;
    if (svc)
        cloud_note(a->cloud, svc, host, addr, delivered ? CLOUD_WHY_NO_REPLY : CLOUD_WHY_UNCONSUMED,
                   ev->ts_us);
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
    struct chain_cfg cc = {a->cfg.max_events_per_chain, a->cfg.default_call_timeout_us, 0, 0};
    a->cs = chain_set_new(&cc, rules, st);
    if (!a->cs) {
        free(a);
        return NULL;
    }
    chain_set_on_unlink(a->cs, heap_del, a);
    a->cloud = cloud_new(NULL, rules, st);
    a->sessions = session_table_new(NULL, st);
    a->incidents = incident_table_new(NULL, st, on_incident, a);
    a->bl = baseline_new(0, st);
    a->slowt = a->bl ? slow_table_new(rules, a->bl, a->cloud, 0, st) : NULL;
    if (a->cfg.service_map) {
        struct graph_cfg gc = {0, a->cfg.map_window_us};
        a->graph = graph_new(&gc, st);
    }
    if (!a->cloud || !a->sessions || !a->incidents || !a->bl || !a->slowt ||
        (a->cfg.service_map && !a->graph)) {
        slow_table_free(a->slowt);
        baseline_free(a->bl);
        graph_free(a->graph);
        cloud_free(a->cloud);
        session_table_free(a->sessions);
        incident_table_free(a->incidents);
        chain_set_free(a->cs);
        free(a);
        return NULL;
    }
    chain_set_on_attempt(a->cs, may_call, attempt_session, a);
    chain_set_on_timeout(a->cs, call_timed_out, a);
    a->heap_off = a->cfg.walk_all;
    return a;
}

void rca_use_rules(struct rca *a, const struct rules *rules)
{
    a->rules = rules;
    chain_set_use_rules(a->cs, rules);
    cloud_use_rules(a->cloud, rules);
    slow_table_use_rules(a->slowt, rules);
}

const struct cloud *rca_cloud(const struct rca *a)
{
    return a->cloud;
}

struct graph *rca_graph(const struct rca *a)
{
    return a->graph;
}

struct baseline *rca_baseline(const struct rca *a)
{
    return a->bl;
}

void rca_free(struct rca *a)
{
    if (!a)
        return;
    chain_set_on_unlink(a->cs, NULL, NULL);
    chain_set_free(a->cs);
    cloud_free(a->cloud);
    session_table_free(a->sessions);
    incident_table_free(a->incidents);
    slow_table_free(a->slowt);
    baseline_free(a->bl);
    graph_free(a->graph);
    timeline_mem_free(&a->tlmem);
    free(a->heap);
    free(a->ready);
    free(a);
}

/* The uuid inside a request id ("req-<uuid>"), or NULL. */
static const char *rid_uuid(const char *rid)
{
    return rid && !strncmp(rid, "req-", 4) && strlen(rid) == 40 ? rid + 4 : NULL;
}

/* Remember what a reported failure touched: the resource ids it owns
 * ("i:" index keys) and the operation's request id r, so that later
 * evidence of the same failure is known for what it is. */
static void note_failed_resources(struct rca *a, const struct chain *c, const struct report *r)
{
    for (size_t i = 0; i < c->nkeys; i++)
        if (!strncmp(c->keys[i].text, "i:", 2))
            chain_set_note_failed(a->cs, c->keys[i].text + 2);
    chain_set_note_failed_op(a->cs, rid_uuid(r->request_id));
}

/* The server an operation is about: the uuid in its request's path
 * (DELETE /v2.1/servers/<uuid>), else in the path of the first poll of
 * its resource (a create's GET /v2.1/servers/<uuid>). */
static int operation_server(const struct chain *c, char *out, size_t len)
{
    const struct event *root = chain_root(c);
    if (!root || root->kind != EV_HTTP_REQUEST)
        return 0;
    if (root->path && strstr(root->path, "/servers/") && chain_path_uuid(root->path, out, len))
        return 1;
    for (size_t i = 0; i < c->n; i++) {
        const struct event *ev = c->e[i].ev;
        if ((c->e[i].flags & CE_POLL) && ev->kind == EV_HTTP_REQUEST && ev->path &&
            strstr(ev->path, "/servers/") && chain_path_uuid(ev->path, out, len))
            return 1;
    }
    return 0;
}

/* Work a service did late under the request id of an operation already
 * reported failed: a cast the broker held while its consumer was down and
 * delivered after the client had given up. It has no request of its own
 * (its root is the delivery, not a client's call), and what it hits (the
 * resource gone, its state moved on) is the tail of that failure, not a
 * new one. */
static int late_tail(const struct rca *a, const struct chain *c)
{
    const struct event *root = chain_root(c);
    if (!root || root->kind == EV_HTTP_REQUEST || root->kind == EV_CONN)
        return 0;
    for (size_t i = 0; i < c->n; i++) {
        const struct event *ev = c->e[i].ev;
        if (chain_set_was_failed_op(a->cs, rid_uuid(ev->request_id)) ||
            chain_set_was_failed_op(a->cs, rid_uuid(ev->global_request_id)))
            return 1;
    }
    return 0;
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

/* What the analyzer adds to a chain's verdict from beyond the chain: the
 * client session it was made in, and for a chain of refused connections
 * the operation that session had in progress. */
struct judgement {
    int not_users; /* a refusal its session outlived: not the client's failure */
    int display;   /* a failed display read (rca/session.h session_aside) */
    struct report_session session;
    const char *operation, *request_id;
    struct blame blame; /* what the model says of the culprit */
    char buf[512];      /* the blame's message */
    char home_buf[384]; /* a stuck operation's message naming its server's host */
    char server[40];    /* the server the operation is about, "" */
    uint32_t incident;
    int slow;           /* it succeeded, slowly: */
    struct report_cause slow_cause;
    struct report_perf perf;
    struct slow_words words;
    const struct timeline *tl;
    int waited;         /* the callee was waiting on a dependency: */
    struct report_cause wait_cause;
    char wait_buf[1024];
};

/* The client session chain c is tied to, NULL (none, or forgotten). */
static struct session *session_of(const struct rca *a, const struct chain *c)
{
    return c->session ? session_get(a->sessions, c->session) : NULL;
}

/* A refused connection tied to a session that went on talking afterwards
 * was not that client's end: another client on the address, poised then
 * and silent ever since, is the one that gave up there (two clients
 * logged in together, one refused). */
static void retie(struct rca *a, struct chain *c)
{
    const struct event *root = chain_root(c);
    struct session *s = session_of(a, c);
    if (!root || root->kind != EV_CONN || !s || !s->fp || s->last_us <= c->last_ts)
        return;
    uint32_t alt = session_silent_after(a->sessions, root, s->id);
    if (!alt)
        return;
    c->session = alt;
    stats_add(a->st, "rca.refusals_retied", 1);
}

/* A refused connection was tied to a client session on trust: a client
 * that went on talking afterwards did not fail there (the attempt was a
 * service's, or a retry worked). Its entries stop being evidence. */
static void disown(struct rca *a, struct chain *c)
{
    struct session *s = session_of(a, c);
    for (size_t i = 0; s && s->fp && i < c->n; i++) {
        struct chain_entry *e = &c->e[i];
        if ((e->flags & CE_SESSION) && s->last_us > e->ev->ts_us)
            e->flags |= CE_DISOWNED;
    }
}

/* What a verdict tells of session s. */
static void session_fill(struct report_session *rs, const struct session *s)
{
    rs->id = s->id;
    rs->client = s->addr;
    rs->login_request_id = s->login_rid[0] ? s->login_rid : NULL;
    rs->user = s->user[0] ? s->user : NULL;
    rs->project = s->project[0] ? s->project : NULL;
}

/* One verdict of failed report r is counted in session s: its later
 * failures for the same cause are that one. */
static void session_took(struct session *s, const struct report *r)
{
    if (!s)
        return;
    s->verdicts++;
    snprintf(s->verdict_svc, sizeof(s->verdict_svc), "%s",
             r->root_cause.service ? r->root_cause.service : "");
    s->verdict_us = r->end_ts_us;
}

#define RCA_SIBLINGS 8

/* Refused connections judged a fresh session's failure: the other
 * sessions on that address that had just logged in too and never said a
 * thing after were refused with it (one address, several clients: a
 * jump host, a CI runner, Horizon). Each gets the verdict as its own
 * failed operation. */
static size_t siblings_of(struct rca *a, const struct chain *c, const struct report *r,
                          uint32_t *out)
{
    const struct event *root = chain_root(c);
    struct session *s = session_of(a, c);
    if (!r->failed || r->background || !root || root->kind != EV_CONN || !s || !s->fp ||
        s->requests || s->last_us > c->last_ts)
        return 0;
    return session_siblings(a->sessions, root, s->id, out, RCA_SIBLINGS);
}

static void judge(struct rca *a, const struct chain *c, struct judgement *j)
{
    memset(j, 0, sizeof(*j));
    struct session *s = session_of(a, c);
    const struct event *root = chain_root(c);
    if (!s) {
        /* a connection attempt no client session took is a service's */
        if (root && root->kind == EV_CONN)
            j->not_users = 1;
        return;
    }
    session_fill(&j->session, s);
    if (!root || root->kind != EV_CONN)
        return;
    /* a client with no token can only have been logging in: refusals by
     * other services, with no session poised, are services' own (model
     * evidence, not a user's operation) */
    if (!s->fp && root->dst.service && strcmp(root->dst.service, session_identity(a->sessions)))
        j->not_users = 1;
    /* a client whose connection was refused gives up; one that went on
     * afterwards did not fail there (the refusal was a service's, or a
     * retry worked) */
    if (s->fp && s->last_us > c->last_ts)
        j->not_users = 1;
    if (s->op[0])
        j->operation = s->op;
    if (s->op_rid[0])
        j->request_id = s->op_rid;
}

static void apply(const struct rca *a, struct judgement *j, struct report *r)
{
    r->session = j->session;
    if (r->failed && j->server[0])
        blame_home(a->cloud, r, j->server, j->home_buf, sizeof(j->home_buf));
    if (r->failed)
        blame_apply(&j->blame, r, j->buf, sizeof(j->buf));
    r->incident = j->incident;
    if (j->operation)
        r->operation = j->operation;
    if (j->request_id && !r->request_id)
        r->request_id = j->request_id;
    if (j->not_users)
        r->background = 1;
    r->display_read = j->display;
    r->timeline = j->tl;
    if (r->failed && j->waited) {
        r->root_cause = j->wait_cause;
        r->rule = "waited-on-dependency";
        r->hint = "The service that did not answer in time was itself waiting all along on a "
                  "service it called: look at that one (stopped, hung, or slow behind its own "
                  "dependencies) before the caller.";
    }
    if (j->slow) {
        r->slow = 1;
        r->root_cause = j->slow_cause;
        r->perf = j->perf;
        r->category = "performance";
        r->rule = NULL;
        r->hint = NULL;
    }
}

/* A call that timed out, or a request left unanswered, whose callee was
 * itself waiting all along on a service it called (a request or call it
 * made in the window, still unanswered when its caller gave up), and that
 * one perhaps on another: the last of them is where the fault was born (a
 * hung placement behind a scheduler that keeps sending call-monitor
 * heartbeats). Fills j->wait_cause; the blame on the model stands when it
 * already moved the verdict. */
static void waited_cause(struct rca *a, const struct chain *c, const struct report *r,
                         struct judgement *j)
{
    const struct report_cause *rc = &r->root_cause;
    if (!j->tl || !rc->service || !rc->kind || j->blame.moved ||
        (strcmp(rc->kind, "rpc_timeout") && strcmp(rc->kind, "no_answer")))
        return;
    uint64_t t0 = rc->since_us, t1 = rc->ts_us;
    if (!strcmp(rc->kind, "rpc_timeout")) {
        t1 = 0;
        for (size_t i = 0; i < c->n && !t1; i++)
            if (c->e[i].ev->seq == rc->seq)
                t1 = c->e[i].deadline_us;
    }
    if (!t1 || t1 <= t0)
        return;
    struct tl_peer who;
    memset(&who, 0, sizeof(who));
    snprintf(who.service, sizeof(who.service), "%s", rc->service);
    snprintf(who.host, sizeof(who.host), "%s", rc->host ? rc->host : "");
    int h = timeline_waiting_on(j->tl, &who, t0, t1);
    for (int depth = 0; h >= 0 && depth < 6; depth++) {
        int next = timeline_waiting_on(j->tl, &j->tl->hops[h].server, j->tl->hops[h].t0, t1);
        if (next < 0)
            break;
        h = next;
    }
    if (h < 0)
        return;
    const struct tl_hop *x = &j->tl->hops[h];
    char caller[128], callee[128];
    timeline_peer_name(&x->client, caller, sizeof(caller));
    timeline_peer_name(&x->server, callee, sizeof(callee));
    struct report_cause *w = &j->wait_cause;
    memset(w, 0, sizeof(*w));
    w->service = x->server.service;
    w->host = x->server.host[0] ? x->server.host : NULL;
    snprintf(w->addr, sizeof(w->addr), "%s", x->server.addr);
    w->kind = "dependency_down";
    w->error = "DependencyHung";
    if (x->t1)
        snprintf(j->wait_buf, sizeof(j->wait_buf),
                 "%s waited %.1f s for %s to answer %s %s (answered only after %.1f s): %s %s",
                 caller, (double)(t1 - x->t0) / 1e6, callee, timeline_kind_name(x->kind),
                 x->label, (double)(x->t1 - x->t0) / 1e6, rc->error ? rc->error : rc->kind,
                 rc->message ? rc->message : "");
    else
        snprintf(j->wait_buf, sizeof(j->wait_buf),
                 "%s waited %.1f s for %s to answer %s %s (never answered): %s %s", caller,
                 (double)(t1 - x->t0) / 1e6, callee, timeline_kind_name(x->kind), x->label,
                 rc->error ? rc->error : rc->kind, rc->message ? rc->message : "");
    w->message = j->wait_buf;
    w->seq = c->e[x->entry].ev->seq;
    w->ts_us = x->t0;
    w->since_us = x->t0;
    j->waited = 1;
    j->blame.inst = cloud_find(a->cloud, w->service, w->host, w->addr);
    j->blame.span = cloud_down_during(j->blame.inst, x->t0, t1);
}

/* The model's instance of a slow verdict's culprit and its period down
 * or hung over the stretch that verdict names, for its incident. */
static struct blame cause_instance(const struct rca *a, const struct report_cause *rc)
{
    struct blame b;
    memset(&b, 0, sizeof(b));
    b.inst = cloud_find(a->cloud, rc->service, rc->host, rc->addr);
    b.span = cloud_down_during(b.inst, rc->since_us, rc->ts_us);
    return b;
}

/* A parked operation found slow once its usual was known: its verdict,
 * with its timeline and no message tree (its chain is gone). */
static void late_slow(void *ctx, const struct slow_op *op, const struct timeline *tl,
                      const struct report_cause *cause, const struct report_perf *perf)
{
    struct rca *a = ctx;
    struct report r;
    memset(&r, 0, sizeof(r));
    r.operation = op->operation;
    r.request_id = op->request_id[0] ? op->request_id : NULL;
    r.global_request_id = op->global_request_id[0] ? op->global_request_id : NULL;
    snprintf(r.status, sizeof(r.status), "%s", op->status);
    r.slow = 1;
    r.root_cause = *cause;
    r.perf = *perf;
    r.category = "performance";
    r.root_seq = op->root_seq;
    r.start_ts_us = tl->start;
    r.end_ts_us = tl->end;
    r.nevents = op->nevents;
    r.origin_node = REPORT_NO_PARENT;
    r.timeline = tl;
    r.session.id = op->session;
    r.session.client = op->client[0] ? op->client : NULL;
    r.session.login_request_id = op->login_request_id[0] ? op->login_request_id : NULL;
    r.session.user = op->user[0] ? op->user : NULL;
    r.session.project = op->project[0] ? op->project : NULL;
    struct blame b = cause_instance(a, cause);
    a->sum.slow++;
    r.incident = incident_verdict(a->incidents, &r, b.inst, b.span, 1);
    if (a->fn && (!a->cfg.only_request_id ||
                  (r.request_id && !strcmp(r.request_id, a->cfg.only_request_id))) &&
        !a->cfg.only_resource)
        a->fn(a->ctx, &r);
}

static void slow_op_of(struct slow_op *op, const char *operation, const struct report *r,
                       const struct judgement *j)
{
    memset(op, 0, sizeof(*op));
#define CP(dst, src) snprintf(dst, sizeof(dst), "%s", (src) ? (src) : "")
    CP(op->operation, operation);
    CP(op->request_id, j->request_id && !r->request_id ? j->request_id : r->request_id);
    CP(op->global_request_id, r->global_request_id);
    CP(op->status, r->status);
    CP(op->client, j->session.client);
    CP(op->login_request_id, j->session.login_request_id);
    CP(op->user, j->session.user);
    CP(op->project, j->session.project);
#undef CP
    op->session = j->session.id;
    op->root_seq = r->root_seq;
    op->nevents = r->nevents;
}

/* Where the time of chain c went: the service map and the baselines learn
 * from it, and a successful user operation is judged slow, not slow, or
 * parked until its usual is known. */
static void time_of(struct rca *a, const struct chain *c, const struct report *r,
                    struct judgement *j, struct timeline *tl)
{
    const char *op = j->operation ? j->operation : r->operation;
    int user = !r->background && !j->not_users;
    /* an operation a user waits for: a client's request began it */
    const struct event *root = chain_root(c);
    int user_ok = !r->failed && user && op && root && root->kind == EV_HTTP_REQUEST &&
                  root->src.service && !strcmp(root->src.service, "client");
    if (!j->tl)
        return;
    if (a->graph)
        graph_add(a->graph, a->cloud, tl);
    /* the usual of each hop, from user operations alone (the same whether
     * the service map is kept or not: live equals analyze), learned after
     * the operation was judged (never its own usual) and not from one
     * found slow */
    int res = SLOW_NO;
    if (user_ok && !a->cfg.no_slow) {
        struct slow_op so;
        slow_op_of(&so, op, r, j);
        res = slow_take(a->slowt, &so, tl, &j->slow_cause, &j->perf, &j->words, late_slow, a);
    }
    if (user && res != SLOW_YES)
        slow_learn(a->bl, NULL, tl);
    if (res == SLOW_YES) {
        j->slow = 1;
        j->blame = cause_instance(a, &j->slow_cause);
    }
}

/* A service's server error saying it could not connect to something it
 * calls, the call itself out of sight (both on one host behind a span
 * port): the model may tell which callee (cloud_unreached_callee), so that
 * the blame moves to it. */
static void unreached_callee(struct rca *a, const struct report *r)
{
    const struct report_cause *rc = &r->root_cause;
    if (!rc->service || !rc->kind || strcmp(rc->kind, "http_5xx") || !rc->error ||
        !strstr(rc->error, "Connect"))
        return;
    const struct cloud_inst *x =
        cloud_find(a->cloud, rc->service, rc->host, rc->addr[0] ? rc->addr : NULL);
    if (x)
        cloud_unreached_callee(a->cloud, x, rc->since_us ? rc->since_us : rc->ts_us, a->now);
}

static void decide(struct rca *a, struct chain *c, int at_end)
{
    struct fault_ctx fx = {a->cs, a->now, at_end};
    struct report r;
    struct judgement j;
    retie(a, c);
    disown(a, c);
    /* the verdict first; the node tree only for a report that is printed */
    if (walk_verdict(&fx, c, &r) < 0)
        stats_add(a->st, "rca.report_alloc_failed", 1);
    judge(a, c, &j);
    /* a failed read to dress up what the command already had (or the
     * login that followed it): the client prints what it has, and the
     * failure is evidence, not an operation of its own */
    if (c->aside && r.failed)
        j.not_users = j.display = 1;
    /* the timeline of a user operation (its hops teach the usual, it may
     * be slow); of background work only for the service map */
    struct timeline tl;
    memset(&tl, 0, sizeof(tl));
    int user = !r.background && !j.not_users;
    int want_tl = user || a->graph || a->cfg.timelines;
    if (want_tl && timeline_build(a->cs, c, a->cloud, &tl, &a->tlmem) < 0)
        stats_add(a->st, "rca.timeline_alloc_failed", 1);
    j.tl = want_tl ? &tl : NULL;
    /* a resource seen in ERROR whose failure was already reported: decided
     * on the walk's own evidence, before the model moves the blame */
    int seen_before = r.failed && already_reported(a, c, &r);
    int tail = r.failed && !seen_before && late_tail(a, c);
    /* work its holder never finished while the client waited: evidence
     * for the model (the holder hung or gone since it took it) */
    if (r.failed && !seen_before && !tail && r.root_cause.held_us && r.root_cause.service)
        cloud_note(a->cloud, r.root_cause.service, r.root_cause.host,
                   r.root_cause.addr[0] ? r.root_cause.addr : NULL, CLOUD_WHY_HELD,
                   r.root_cause.held_us);
    if (r.failed && !r.root_cause.service && operation_server(c, j.server, sizeof(j.server)))
        blame_home(a->cloud, &r, j.server, j.home_buf, sizeof(j.home_buf));
    if (r.failed && !seen_before && !tail) {
        unreached_callee(a, &r);
        blame_decide(a->cloud, a->rules, &r, r.root_cause.since_us, r.root_cause.ts_us, &j.blame);
    }
    if (r.failed && !seen_before && !tail)
        waited_cause(a, c, &r, &j);
    time_of(a, c, &r, &j, &tl);
    apply(a, &j, &r);
    int report = 0, extra = 0;
    uint32_t sib[RCA_SIBLINGS];
    size_t nsib = 0;
    if (r.background) {
        a->sum.background++;
        if (r.failed) {
            stats_add(a->st, c->aside ? "rca.display_reads_failed" : "rca.background_failed", 1);
            /* a service's own failure: evidence of an incident, no operation */
            incident_verdict(a->incidents, &r, j.blame.inst, j.blame.span, 0);
        }
        report = a->cfg.report_background && (r.failed || a->cfg.keep_ok);
        extra = !r.failed;
    } else {
        a->sum.operations++;
        if (r.failed) {
            a->sum.failed++;
            struct session *s = session_of(a, c);
            if (seen_before) {
                stats_add(a->st, "rca.failure_already_reported", 1);
                report = a->cfg.keep_ok;
                extra = 1;
            } else if (tail) {
                stats_add(a->st, "rca.failure_late_tail", 1);
                report = a->cfg.keep_ok;
                extra = 1;
            } else if (s && s->verdicts && r.root_cause.service &&
                       !strcmp(s->verdict_svc, r.root_cause.service)) {
                /* one verdict per failed operation: the client's later
                 * requests failing for the same cause are the same failure */
                stats_add(a->st, "rca.session_duplicates", 1);
                report = a->cfg.keep_ok;
                extra = 1;
            } else {
                report = 1;
                j.incident = incident_verdict(a->incidents, &r, j.blame.inst, j.blame.span, 1);
                r.incident = j.incident;
                session_took(s, &r);
                nsib = siblings_of(a, c, &r, sib);
            }
            note_failed_resources(a, c, &r);
        } else if (r.slow) {
            a->sum.ok++;
            a->sum.slow++;
            report = 1;
            j.incident = incident_verdict(a->incidents, &r, j.blame.inst, j.blame.span, 1);
            r.incident = j.incident;
        } else {
            a->sum.ok++;
            report = a->cfg.keep_ok;
            extra = 1;
        }
    }
    int out = report && wanted(a, c) && a->fn;
    if (out) {
        if (j.tl)
            timeline_canon(&tl, a->cloud); /* names as shown */
        if (walk_report(&fx, c, &r) < 0)
            stats_add(a->st, "rca.report_alloc_failed", 1);
        apply(a, &j, &r);
        r.extra = extra;
        a->fn(a->ctx, &r);
    }
    for (size_t k = 0; k < nsib; k++) {
        struct session *o = session_get(a->sessions, sib[k]);
        if (!o)
            continue;
        session_fill(&r.session, o);
        r.incident = incident_verdict(a->incidents, &r, j.blame.inst, j.blame.span, 1);
        session_took(o, &r);
        a->sum.operations++;
        a->sum.failed++;
        stats_add(a->st, "rca.refused_siblings", 1);
        if (out)
            a->fn(a->ctx, &r);
    }
    if (out)
        walk_report_free(&r);
    timeline_free(&tl);
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

/* The quiet time before a chain is decided: the configured settle, but
 * at least what the model needs to see the evidence that follows a
 * failure (a dependency's refusals just after the error it caused), so
 * that live mode's short settle decides as analyze does. */
static uint64_t settle_of(const struct rca *a)
{
    return a->cfg.settle_us > RCA_MIN_SETTLE_US ? a->cfg.settle_us : RCA_MIN_SETTLE_US;
}

/* The earliest packet time at which chain c could be ready (0: now). The
 * settle time runs from the last event, the age limits from the first, and
 * events only move the last one later. */
static uint64_t ready_bound(const struct rca *a, const struct chain *c)
{
    uint64_t b = c->last_ts + settle_of(a);
    if (c->hold_until > b)
        b = c->hold_until;
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

/* Is c ready to be decided now (counting why, when it is by age)? */
/* A chain that read a resource in ERROR while the operation that acted on
 * it first is still open (undecided) waits for that one, at most
 * RCA_OWNER_WAIT_US past its own settle: a failure reported there first
 * makes this read its symptom (rca.failure_already_reported), not a new
 * failure (a `server show` of a server whose create failed a moment
 * before, decided first because its last message came first). */
static int waits_for_owner(struct rca *a, struct chain *c)
{
    if (a->now > c->last_ts + settle_of(a) + RCA_OWNER_WAIT_US)
        return 0;
    for (size_t i = 0; i < c->n; i++) {
        const struct event *ev = c->e[i].ev;
        if (!ev->resource_state || strcmp(ev->resource_state, "ERROR"))
            continue;
        for (size_t k = 0; k < ev->nuuids; k++) {
            if (ev->uuids[k].res != EV_RES_INSTANCE)
                continue;
            const struct chain *o = chain_set_resource_chain(a->cs, ev->uuids[k].id);
            if (o && o != c && o->first_ts < c->first_ts) {
                c->hold_until = a->now + 1000000ull;
                stats_add(a->st, "rca.waited_for_owner", 1);
                return 1;
            }
        }
    }
    return 0;
}

static int chain_ready(struct rca *a, struct chain *c)
{
    uint64_t quiet = a->now > c->last_ts ? a->now - c->last_ts : 0;
    if (quiet >= settle_of(a) && a->now >= c->hold_until && c->npending == 0 &&
        chain_root_answered(c))
        return !waits_for_owner(a, c);
    if (a->cfg.max_chain_us && a->now > c->first_ts && a->now - c->first_ts > a->cfg.max_chain_us) {
        stats_add(a->st, "rca.chains_aged_out", 1);
        return 1;
    }
    /* never quiet (a replay loop, a flood of one id): once the root has
     * answered, a full or long chain has told what it can */
    if (a->cfg.max_answered_us &&
        (c->n >= a->cfg.max_events_per_chain ||
         (a->now > c->first_ts && a->now - c->first_ts > a->cfg.max_answered_us)) &&
        chain_root_answered(c)) {
        stats_add(a->st, "rca.chains_decided_busy", 1);
        return 1;
    }
    return 0;
}

/* Decide the chains that are ready (all at the end), in root order. The
 * candidates are the chains whose heap key has come (all open chains at
 * the end, or without the heap); one that is not ready gets its key
 * raised to its bound now. */
static void decide_batch(struct rca *a, int at_end)
{
    if (!at_end && a->now < earliest_ready(a))
        return;
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
    if (at_end || a->heap_off) {
        for (struct chain *c = chain_set_first(a->cs); c && k < n; c = c->next)
            v[k++] = c;
    } else {
        k = heap_due(a, 0, a->now, v, 0);
    }
    uint64_t next = UINT64_MAX;
    size_t nr = 0;
    for (size_t i = 0; i < k; i++) {
        struct chain *c = v[i];
        if (at_end || chain_ready(a, c)) {
            v[nr++] = c;
            continue;
        }
        uint64_t b = ready_bound(a, c);
        heap_set(a, c, b);
        if (b < next)
            next = b;
    }
    if (nr > 1)
        qsort(v, nr, sizeof(*v), root_cmp);
    for (size_t i = 0; i < nr; i++)
        decide(a, v[i], at_end);
    if (a->heap_off)
        a->next_ready = next; /* the decided ones are gone */
}

void rca_event(struct rca *a, struct event *ev)
{
    if (!ev)
        return;
    a->sum.events++;
    if (ev->ts_us > a->now)
        a->now = ev->ts_us;
    cloud_observe(a->cloud, ev);
    if (ev->kind == EV_AMQP_OPEN || ev->kind == EV_AMQP_END ||
        (ev->kind == EV_CONN && ev->conn_event == FLOW_EV_SLOW_ACK)) {
        event_free(ev); /* the model's alone: no operation is made of them */
        return;
    }
    uint32_t sid = session_observe(a->sessions, ev);
    uint64_t ts = ev->ts_us;
    struct chain *c = chain_set_add(a->cs, ev, sid);
    if (c && c->n == 1 && sid) {
        /* a new operation of a client: its command began with the burst
         * of requests its session is in */
        const struct session *s = session_get(a->sessions, sid);
        if (s && s->burst_us && s->burst_us < ts)
            c->lead_us = s->burst_us;
    }
    if (c && c->session && !c->aside && session_aside(a->sessions, c->session, c->first_ts))
        c->aside = 1;
    if (c) {
        uint64_t b = ready_bound(a, c);
        heap_set(a, c, b);
        if (a->heap_off && b < a->next_ready)
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
    cloud_tick(a->cloud, a->now);
    if (a->now >= a->next_incident_tick) {
        incident_tick(a->incidents, a->cloud, a->now);
        a->next_incident_tick = a->now + 1000000ull;
    }
    if (a->now >= a->next_expire) {
        session_expire(a->sessions, a->now);
        a->next_expire = a->now + 10000000ull;
    }
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
    slow_flush(a->slowt);
    incident_tick(a->incidents, a->cloud, a->now);
    incident_finish(a->incidents);
}

uint64_t rca_oldest_open_us(const struct rca *a)
{
    uint64_t t = UINT64_MAX;
    for (const struct chain *c = chain_set_first(a->cs); c; c = c->next)
        if (c->first_ts < t)
            t = c->first_ts;
    return t;
}

void rca_get_summary(const struct rca *a, struct rca_summary *s)
{
    *s = a->sum;
    s->open_chains = chain_set_count(a->cs);
}
