/* otlp.c -- operations as OpenTelemetry traces (see otlp.h). */
#include "cli/out/otlp.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "capture/arena.h"
#include "capture/str.h"
#include "rca/timeline.h"

/* OTLP enums (opentelemetry/proto/trace/v1/trace.proto) */
enum { SK_INTERNAL = 1, SK_SERVER = 2, SK_CLIENT = 3, SK_PRODUCER = 4, SK_CONSUMER = 5 };
enum { ST_UNSET = 0, ST_OK = 1, ST_ERROR = 2 };
enum { KV_STR = 0, KV_INT, KV_BOOL };

struct kv {
    const char *key; /* a literal */
    uint8_t t;
    const char *s;
    int64_t i;
};

struct sev { /* a span event */
    uint64_t t_ns;
    const char *name;
    uint32_t a0, na;
};

struct span {
    uint8_t tid[16], sid[8], pid[8], lid[8];
    uint8_t has_parent, has_link, kind, status;
    uint8_t open_end; /* a consumer whose end is its last child's */
    const char *name, *status_msg;
    uint64_t t0, t1; /* microseconds */
    uint32_t res;
    uint32_t a0, na, e0, ne;
    int32_t parent;  /* index in the batch while a trace is built, -1 */
};

struct res {
    const char *service, *host, *inst, *addr;
};

struct otlp_batch {
    const char *version;
    struct arena ar;
    struct span *sp;
    size_t nsp, capsp;
    struct kv *kv;
    size_t nkv, capkv;
    struct sev *ev;
    size_t nev, capev;
    struct res *rs;
    size_t nrs, caprs;
    size_t ntraces;
    int nomem;
};

/* Grow *v (elements of sz) for one more; 0, or -1. */
static int grow(void **v, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 64;
    void *p = realloc(*v, c * sz);
    if (!p)
        return -1;
    *v = p;
    *cap = c;
    return 0;
}

struct otlp_batch *otlp_batch_new(const char *version)
{
    struct otlp_batch *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->version = version;
    arena_init(&b->ar, NULL, 16384);
    return b;
}

void otlp_batch_clear(struct otlp_batch *b)
{
    arena_reset(&b->ar);
    b->nsp = b->nkv = b->nev = b->nrs = b->ntraces = 0;
    b->nomem = 0;
}

void otlp_batch_free(struct otlp_batch *b)
{
    if (!b)
        return;
    arena_reset(&b->ar);
    free(b->sp);
    free(b->kv);
    free(b->ev);
    free(b->rs);
    free(b);
}

size_t otlp_span_count(const struct otlp_batch *b)
{
    return b->nsp;
}

size_t otlp_trace_count(const struct otlp_batch *b)
{
    return b->ntraces;
}

/* ---- ids ---- */

/* splitmix64's finalizer: spreads a hash over all 64 bits */
static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static void put64(uint8_t *out, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(v >> (56 - 8 * i));
}

void otlp_trace_id(const char *rid, const char *fallback, uint8_t out[16])
{
    /* req-8-4-4-4-12: the UUID's bytes, so the trace is found by its id */
    if (rid && !strncmp(rid, "req-", 4) && strlen(rid) == 40) {
        size_t k = 0;
        for (const char *p = rid + 4; *p && k < 32; p++) {
            if (*p == '-')
                continue;
            int v = str_hexval((unsigned char)*p);
            if (v < 0)
                break;
            if (k % 2 == 0)
                out[k / 2] = (uint8_t)(v << 4);
            else
                out[k / 2] |= (uint8_t)v;
            k++;
        }
        if (k == 32)
            return;
    }
    const char *s = rid ? rid : fallback ? fallback : "";
    uint64_t h = str_fnv(STR_FNV_BASIS, s, strlen(s));
    put64(out, mix(h));
    put64(out + 8, mix(h ^ 0x9e3779b97f4a7c15ull));
}

static void span_id(const uint8_t tid[16], uint64_t key, unsigned side, uint8_t out[8])
{
    uint64_t h = str_fnv(STR_FNV_BASIS, tid, 16);
    h = str_fnv(h, &key, sizeof(key));
    h = str_fnv(h, &side, sizeof(side));
    h = mix(h);
    put64(out, h ? h : 1); /* an all-zero id is invalid */
}

/* ---- strings ---- */

/* A copy of s in the batch's arena, bytes that are not UTF-8 made '?'
 * (protobuf strings and JSON must be UTF-8); NULL stays NULL. */
static const char *keep(struct otlp_batch *b, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *d = arena_strndup(&b->ar, s, n);
    if (!d) {
        b->nomem = 1;
        return NULL;
    }
    unsigned char *p = (unsigned char *)d, *e = p + n;
    while (p < e) {
        size_t len = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3
                                 : (*p & 0xf8) == 0xf0 ? 4 : 0;
        int ok = len && (size_t)(e - p) >= len;
        for (size_t k = 1; ok && k < len; k++)
            ok = (p[k] & 0xc0) == 0x80;
        if (ok && len == 2 && *p < 0xc2)
            ok = 0; /* overlong */
        if (ok && len == 3 && ((*p == 0xe0 && p[1] < 0xa0) || (*p == 0xed && p[1] >= 0xa0)))
            ok = 0; /* overlong, surrogates */
        if (ok && len == 4 && ((*p == 0xf0 && p[1] < 0x90) || *p > 0xf4 ||
                               (*p == 0xf4 && p[1] >= 0x90)))
            ok = 0;
        if (!ok) {
            *p++ = '?';
            continue;
        }
        p += len;
    }
    return d;
}

/* ---- building ---- */

/* A string attribute key = v (copied) at the end of the batch's list: 1,
 * or 0 when v is NULL or memory ran out (nomem set). */
static int push_s(struct otlp_batch *b, const char *key, const char *v)
{
    if (!v)
        return 0;
    const char *k = grow((void **)&b->kv, &b->capkv, b->nkv, sizeof(*b->kv)) < 0 ? NULL
                                                                              : keep(b, v);
    if (!k) {
        b->nomem = 1;
        return 0;
    }
    b->kv[b->nkv++] = (struct kv){key, KV_STR, k, 0};
    return 1;
}

static void attr_s(struct otlp_batch *b, struct span *s, const char *key, const char *v)
{
    s->na += (uint32_t)push_s(b, key, v);
}

static void attr_i(struct otlp_batch *b, struct span *s, const char *key, int64_t v, int type)
{
    if (grow((void **)&b->kv, &b->capkv, b->nkv, sizeof(*b->kv)) < 0) {
        b->nomem = 1;
        return;
    }
    b->kv[b->nkv++] = (struct kv){key, (uint8_t)type, NULL, v};
    s->na++;
}

/* The resource of peer p: service.name, host.name, service.instance.id. */
static uint32_t res_of(struct otlp_batch *b, const struct tl_peer *p)
{
    const char *svc = p && p->service[0] ? p->service : "unknown";
    const char *host = p && p->host[0] ? p->host : p && p->addr[0] ? p->addr : "";
    const char *addr = p ? p->addr : "";
    for (size_t i = 0; i < b->nrs; i++)
        if (!strcmp(b->rs[i].service, svc) && !strcmp(b->rs[i].host, host) &&
            !strcmp(b->rs[i].addr, addr))
            return (uint32_t)i;
    if (grow((void **)&b->rs, &b->caprs, b->nrs, sizeof(*b->rs)) < 0) {
        b->nomem = 1;
        return 0;
    }
    char inst[160];
    STR_JOIN(inst, sizeof(inst), svc, host[0] ? "@" : "", host);
    struct res r = {keep(b, svc), keep(b, host), keep(b, inst), keep(b, addr)};
    if (!r.service || !r.host || !r.inst || !r.addr) {
        b->nomem = 1;
        return 0;
    }
    b->rs[b->nrs] = r;
    return (uint32_t)b->nrs++;
}

/* A new span of the trace being built; NULL when out of memory. Its
 * attributes must follow at once (they are the batch's last ones). */
static struct span *span_new(struct otlp_batch *b, const uint8_t tid[16], uint64_t key,
                             unsigned side, int kind, const char *name, uint64_t t0,
                             uint64_t t1, const struct tl_peer *who)
{
    if (grow((void **)&b->sp, &b->capsp, b->nsp, sizeof(*b->sp)) < 0) {
        b->nomem = 1;
        return NULL;
    }
    struct span *s = &b->sp[b->nsp++];
    memset(s, 0, sizeof(*s));
    memcpy(s->tid, tid, 16);
    span_id(tid, key, side, s->sid);
    s->kind = (uint8_t)kind;
    s->name = keep(b, name);
    s->t0 = t0;
    s->t1 = t1 >= t0 ? t1 : t0;
    s->res = res_of(b, who);
    s->a0 = (uint32_t)b->nkv;
    s->e0 = (uint32_t)b->nev;
    s->parent = -1;
    return s;
}

/* An event of span s (the batch's last span); its attributes follow. */
static struct sev *sev_new(struct otlp_batch *b, struct span *s, const char *name,
                             uint64_t t)
{
    if (grow((void **)&b->ev, &b->capev, b->nev, sizeof(*b->ev)) < 0) {
        b->nomem = 1;
        return NULL;
    }
    struct sev *e = &b->ev[b->nev++];
    e->t_ns = t * 1000ull;
    e->name = name;
    e->a0 = (uint32_t)b->nkv;
    e->na = 0;
    s->ne++;
    return e;
}

static void ev_attr_s(struct otlp_batch *b, struct sev *e, const char *key, const char *v)
{
    if (e)
        e->na += (uint32_t)push_s(b, key, v);
}

/* The event of the report carrying seq, or NULL (no tree, not in it). */
static const struct event *event_of(const struct report *r, uint64_t seq)
{
    if (!seq || !r->nodes)
        return NULL;
    size_t k = report_find_node(r, seq);
    return k == REPORT_NO_PARENT ? NULL : r->nodes[k].ev;
}

static int same_peer(const struct tl_peer *a, const struct tl_peer *b)
{
    if (!a->service[0] || strcmp(a->service, b->service))
        return 0;
    if (a->host[0] && b->host[0])
        return !strcmp(a->host, b->host);
    return !a->addr[0] || !b->addr[0] || !strcmp(a->addr, b->addr);
}

/* Per hop: its client-side and server-side spans (-1: none), and its
 * caller as shown (a library embedded in a service named after the
 * service whose request it serves, as the report's messages say). */
struct hop_spans {
    int32_t cs, ss;
    struct tl_peer caller;
};

static void http_attrs(struct otlp_batch *b, struct span *s, const struct tl_hop *h,
                       const struct event *rq, const struct event *rs, int server)
{
    char route[128];
    attr_s(b, s, "http.request.method", rq ? rq->method : NULL);
    attr_s(b, s, "url.path", rq ? rq->path : NULL);
    if (rq && rq->method && rq->path) {
        timeline_path_label(rq->method, rq->path, route, sizeof(route));
        const char *sp = strchr(route, ' ');
        attr_s(b, s, "http.route", sp ? sp + 1 : route);
    }
    attr_s(b, s, "url.scheme", "http");
    attr_s(b, s, "server.address", h->server.addr[0] ? h->server.addr : NULL);
    if (h->server.port)
        attr_i(b, s, "server.port", h->server.port, KV_INT);
    const struct tl_peer *peer = server ? &h->client : &h->server;
    attr_s(b, s, "network.peer.address", peer->addr[0] ? peer->addr : NULL);
    if (peer->port)
        attr_i(b, s, "network.peer.port", peer->port, KV_INT);
    if (server)
        attr_s(b, s, "client.address", h->client.addr[0] ? h->client.addr : NULL);
    if (h->status)
        attr_i(b, s, "http.response.status_code", h->status, KV_INT);
    attr_s(b, s, "user_agent.original", rq ? rq->user_agent : NULL);
    attr_s(b, s, "osrca.operation", h->label);
    if (rs && rs->request_id)
        attr_s(b, s, "openstack.request_id", rs->request_id);
    if (rs && (rs->flags & EV_F_NO_ANSWER))
        attr_s(b, s, "error.type", "no_answer");
    else if (h->status >= 500 || (!server && h->status >= 400)) {
        char code[16];
        snprintf(code, sizeof(code), "%d", h->status);
        attr_s(b, s, "error.type", code);
    }
}

static void msg_attrs(struct otlp_batch *b, struct span *s, const struct tl_hop *h,
                      const struct event *pub, int consumer)
{
    static const char *const kinds[] = {"http", "call", "cast", "notification", "connect"};
    attr_s(b, s, "messaging.system", "rabbitmq");
    attr_s(b, s, "messaging.operation.type", consumer ? "process" : "send");
    attr_s(b, s, "messaging.operation.name", consumer ? "deliver" : "publish");
    if (pub) {
        attr_s(b, s, "messaging.destination.name", pub->exchange ? pub->exchange : "");
        attr_s(b, s, "messaging.rabbitmq.destination.routing_key", pub->routing_key);
        attr_s(b, s, "messaging.message.conversation_id", pub->msg_id);
        attr_s(b, s, "messaging.message.id", pub->unique_id);
        attr_s(b, s, "osrca.rpc.method", pub->rpc_method);
        attr_s(b, s, "osrca.rpc.topic", pub->topic);
        attr_s(b, s, "osrca.rpc.target_server", pub->target_server);
        attr_s(b, s, "osrca.event_type", pub->event_type);
        attr_s(b, s, "osrca.publisher_id", pub->publisher_id);
    }
    attr_s(b, s, "osrca.rpc.kind", h->kind < TL_KINDS ? kinds[h->kind] : NULL);
    attr_s(b, s, "osrca.operation", h->label);
    /* the broker: the publisher's peer; a consumer's is where it was
     * delivered from (its own connection's far end, unknown here: the
     * broker the message went through) */
    if (h->via.addr[0]) {
        attr_s(b, s, "server.address", h->via.addr);
        if (h->via.port)
            attr_i(b, s, "server.port", h->via.port, KV_INT);
        attr_s(b, s, "network.peer.address", h->via.addr);
        if (h->via.port)
            attr_i(b, s, "network.peer.port", h->via.port, KV_INT);
    }
    if (consumer && h->wait_us >= 0)
        attr_i(b, s, "osrca.queue.wait_us", h->wait_us, KV_INT);
}

/* The client-side span's name: "POST /v2.1/servers", "publish
 * scheduler.select_destinations". */
static void hop_name(const struct tl_hop *h, const struct event *rq, int consumer, char *out,
                     size_t len)
{
    if (h->kind == TL_HTTP && rq && rq->method && rq->path) {
        timeline_path_label(rq->method, rq->path, out, len);
        return;
    }
    if (h->kind == TL_CONNECT) {
        STR_JOIN(out, len, "connect ", h->server.service[0] ? h->server.service : h->server.addr);
        return;
    }
    if (h->kind == TL_HTTP) {
        str_copy(out, len, h->label);
        return;
    }
    STR_JOIN(out, len, consumer ? "process " : "publish ", h->label);
}

/* The hop whose entry or end carries seq, or -1. */
static int32_t hop_by_seq(const struct timeline *tl, uint64_t seq)
{
    for (size_t i = 0; seq && i < tl->nhops; i++)
        if (tl->hops[i].seq0 == seq || tl->hops[i].seq1 == seq)
            return (int32_t)i;
    return -1;
}

/* Is a span of server side `srv` the work of caller `who`: the same
 * service instance, or, for a sender the wire does not name, any service
 * at its address? */
static int works_for(const struct tl_peer *srv, const struct tl_peer *who)
{
    if (!who->service[0])
        return who->addr[0] && !strcmp(srv->addr, who->addr);
    return same_peer(srv, who);
}

/* The span (batch index) to hang hop i's first span under: the innermost
 * server or consumer span of its caller open when it began, else its
 * message tree parent's server side when that is its caller; -1: the
 * root. */
static int32_t parent_of(const struct otlp_batch *b, const struct report *r,
                         const struct timeline *tl, const struct hop_spans *hs, size_t i)
{
    const struct tl_hop *h = &tl->hops[i];
    const struct tl_peer *who = &hs[i].caller;
    int32_t best = -1;
    uint64_t best_t0 = 0;
    for (size_t x = 0; x < tl->nhops; x++) {
        if (x == i || hs[x].ss < 0 || !works_for(&tl->hops[x].server, who))
            continue;
        const struct span *s = &b->sp[hs[x].ss];
        if (s->t0 <= h->t0 && (s->open_end || s->t1 >= h->t0) && (best < 0 || s->t0 >= best_t0)) {
            best = hs[x].ss;
            best_t0 = s->t0;
        }
    }
    if (best >= 0 || !r->nodes)
        return best;
    /* the message tree's parent, when its server is the caller */
    size_t k = report_find_node(r, h->seq0);
    size_t p = k != REPORT_NO_PARENT ? r->nodes[k].parent : REPORT_NO_PARENT;
    int32_t x = p != REPORT_NO_PARENT ? hop_by_seq(tl, r->nodes[p].ev->seq) : -1;
    if (x >= 0 && (size_t)x != i && hs[x].ss >= 0 && works_for(&tl->hops[x].server, who))
        return hs[x].ss;
    return -1;
}

/* The verdict on span s: what the report says of the origin. */
static void verdict_attrs(struct otlp_batch *b, struct span *s, const struct report *r)
{
    const struct report_cause *c = &r->root_cause;
    attr_s(b, s, "osrca.root_cause.service", c->service);
    attr_s(b, s, "osrca.root_cause.host", c->host);
    attr_s(b, s, "osrca.root_cause.address", c->addr[0] ? c->addr : NULL);
    attr_s(b, s, "osrca.root_cause.kind", c->kind);
    attr_s(b, s, "osrca.root_cause.error", c->error);
    attr_s(b, s, "osrca.root_cause.message", c->message);
    attr_s(b, s, "osrca.category", r->category);
    attr_s(b, s, "osrca.rule", r->rule);
    attr_s(b, s, "osrca.hint", r->hint);
    if (r->incident)
        attr_i(b, s, "osrca.incident.id", r->incident, KV_INT);
    if (r->slow) {
        attr_i(b, s, "osrca.slow.excess_us", (int64_t)r->perf.excess_us, KV_INT);
        attr_i(b, s, "osrca.slow.usual_us", (int64_t)r->perf.usual_us, KV_INT);
        attr_s(b, s, "osrca.slow.why", r->perf.why);
    }
}

/* The hop a verdict's origin is: the message carrying its evidence, or
 * for a slow operation the hop holding the excess. -1 when none. */
static int32_t origin_hop(const struct report *r, const struct timeline *tl)
{
    if (r->slow) {
        for (size_t i = 0; i < tl->nhops; i++)
            if (tl->hops[i].t0 == r->perf.hop_t0_us && r->perf.hop_label &&
                !strcmp(tl->hops[i].label, r->perf.hop_label))
                return (int32_t)i;
        return -1;
    }
    return hop_by_seq(tl, r->root_cause.seq);
}

size_t otlp_add(struct otlp_batch *b, const struct report *r)
{
    const struct timeline *tl = r->timeline;
    if (!tl || b->nomem)
        return 0;
    size_t sp0 = b->nsp, kv0 = b->nkv, ev0 = b->nev;
    struct hop_spans *hs = calloc(tl->nhops ? tl->nhops : 1, sizeof(*hs));
    if (!hs) {
        b->nomem = 1;
        return 0;
    }
    uint8_t tid[16];
    char fb[96];
    snprintf(fb, sizeof(fb), "%s %" PRIu64 " %" PRIu64, r->operation ? r->operation : "-",
             tl->start, r->root_seq);
    otlp_trace_id(r->request_id ? r->request_id : r->global_request_id, fb, tid);
    /* span ids: the message's identity, and the chain's first message for
     * the root (two chains may carry one request id); a slow verdict
     * judged after its operation was told (--all) is another report of
     * the same messages, with ids of its own; so is the verdict of each
     * client session a refused connection failed (one chain, several
     * operations) */
    uint64_t gen = (r->slow ? 0x736c6f77ull : 0) ^ ((uint64_t)r->session.id << 32);
    uint64_t root_key = (tl->nhops ? tl->hops[0].key : r->root_seq) ^ gen ^ 0x726f6f74ull;
    /* the root: the user's command, under whoever began it */
    const struct tl_peer *who = NULL;
    for (size_t i = 0; i < tl->nhops && !who; i++)
        if (tl->hops[i].client.service[0])
            who = &tl->hops[i].client;
    struct span *root = span_new(b, tid, root_key, 0, SK_INTERNAL, r->operation ? r->operation : "operation",
                                 tl->start, tl->end, who);
    if (!root)
        goto fail;
    size_t root_i = b->nsp - 1;
    attr_s(b, root, "osrca.verdict", r->failed ? "failed" : r->slow ? "slow" : "ok");
    attr_s(b, root, "osrca.request_id", r->request_id);
    attr_s(b, root, "osrca.global_request_id", r->global_request_id);
    attr_s(b, root, "osrca.status", r->status);
    attr_s(b, root, "osrca.user_saw", r->user_saw[0] ? r->user_saw : NULL);
    attr_s(b, root, "enduser.id", r->session.user);
    attr_s(b, root, "osrca.project", r->session.project);
    if (r->failed || r->slow)
        verdict_attrs(b, root, r);
    if (r->failed) {
        root->status = ST_ERROR;
        root->status_msg = keep(b, r->user_saw[0] ? r->user_saw : r->status);
    }
    /* the spans of each hop, in time order (the timeline's) */
    for (size_t i = 0; i < tl->nhops; i++) {
        const struct tl_hop *h = &tl->hops[i];
        hs[i].cs = hs[i].ss = -1;
        const struct event *e0 = event_of(r, h->seq0), *e1 = event_of(r, h->seq1);
        hs[i].caller = h->client;
        if (e0 && e0->src.service && e0->verb != EV_VERB_DELIVER &&
            strcmp(e0->src.service, h->client.service)) {
            str_copy(hs[i].caller.service, sizeof(hs[i].caller.service), e0->src.service);
            if (e0->src.host)
                str_copy(hs[i].caller.host, sizeof(hs[i].caller.host), e0->src.host);
        }
        char name[160];
        uint64_t end = h->t1 ? h->t1 : tl->end > h->t0 ? tl->end : h->t0;
        if (h->kind == TL_HTTP || h->kind == TL_CONNECT) {
            hop_name(h, e0, 0, name, sizeof(name));
            struct span *c = span_new(b, tid, h->key ^ gen, 1, SK_CLIENT, name, h->t0,
                                      h->kind == TL_CONNECT ? h->t0 : end, &hs[i].caller);
            if (!c)
                goto fail;
            hs[i].cs = (int32_t)(b->nsp - 1);
            if (h->kind == TL_CONNECT) {
                attr_s(b, c, "server.address", h->server.addr[0] ? h->server.addr : NULL);
                if (h->server.port)
                    attr_i(b, c, "server.port", h->server.port, KV_INT);
                attr_s(b, c, "error.type", e0 && e0->conn_event ? "connection_refused_or_unanswered"
                                                                 : "connect");
                c->status = ST_ERROR;
                c->status_msg = keep(b, "connection refused or never answered");
                continue;
            }
            http_attrs(b, c, h, e0, e1, 0);
            if (h->error || h->client_error) {
                c->status = ST_ERROR;
                c->status_msg = h->t1 && h->status ? NULL : keep(b, "no answer");
            }
            struct span *s = span_new(b, tid, h->key ^ gen, 2, SK_SERVER, name, h->t0, end, &h->server);
            if (!s)
                goto fail;
            hs[i].ss = (int32_t)(b->nsp - 1);
            s->parent = hs[i].cs;
            http_attrs(b, s, h, e0, e1, 1);
            if (h->error)
                s->status = ST_ERROR;
            if (e1 && e1->error_class) {
                struct sev *x = sev_new(b, s, "exception", e1->ts_us);
                ev_attr_s(b, x, "exception.type", e1->error_class);
                ev_attr_s(b, x, "exception.message", e1->error_message);
            }
            continue;
        }
        /* RPC: the publish, then the delivery's processing */
        int published = h->client.service[0] || h->via.addr[0];
        if (published) {
            hop_name(h, e0, 0, name, sizeof(name));
            struct span *p = span_new(b, tid, h->key ^ gen, 3, SK_PRODUCER, name, h->t0, h->t0,
                                      &hs[i].caller);
            if (!p)
                goto fail;
            hs[i].cs = (int32_t)(b->nsp - 1);
            msg_attrs(b, p, h, e0, 0);
            if (h->wait_us < 0 && h->error) {
                p->status = ST_ERROR;
                p->status_msg = keep(b, "never delivered");
            } else if (h->kind == TL_CALL && h->error && !h->t1) {
                p->status = ST_ERROR;
                p->status_msg = keep(b, "no reply");
            }
        }
        if (h->wait_us >= 0 || !published) {
            uint64_t d = h->wait_us >= 0 ? h->t0 + (uint64_t)h->wait_us : h->t0;
            hop_name(h, e0, 1, name, sizeof(name));
            uint64_t cend = h->kind == TL_CALL ? (h->t1 ? h->t1 : end) : d;
            struct span *c = span_new(b, tid, h->key ^ gen, 4, SK_CONSUMER, name, d, cend, &h->server);
            if (!c)
                goto fail;
            hs[i].ss = (int32_t)(b->nsp - 1);
            c->open_end = h->kind != TL_CALL;
            msg_attrs(b, c, h, e0, 1);
            if (hs[i].cs >= 0) {
                c->parent = hs[i].cs;
                c->has_link = 1;
                memcpy(c->lid, b->sp[hs[i].cs].sid, 8);
            }
            if (h->kind == TL_CALL && h->t1) {
                struct sev *x = sev_new(b, c, h->error ? "exception" : "rpc.reply", h->t1);
                if (x && e1 && e1->failure) {
                    ev_attr_s(b, x, "exception.type", e1->error_class);
                    ev_attr_s(b, x, "exception.message", e1->error_message);
                }
            }
            if (h->kind == TL_CALL && h->error) {
                c->status = ST_ERROR;
                c->status_msg = keep(b, h->t1 ? (e1 && e1->error_class ? e1->error_class
                                                                      : "failure reply")
                                              : "no reply");
            }
        }
    }
    /* parents, then the ends of consumers that end with their last child */
    for (size_t i = 0; i < tl->nhops; i++) {
        int32_t first = hs[i].cs >= 0 ? hs[i].cs : hs[i].ss;
        if (first < 0)
            continue;
        int32_t p = parent_of(b, r, tl, hs, i);
        /* never under its own spans, nor in a loop */
        for (int32_t q = p, n = 0; q >= 0 && n <= (int32_t)tl->nhops * 2 + 2; n++) {
            if (q == first || q == hs[i].ss) {
                p = -1;
                break;
            }
            q = b->sp[q].parent;
        }
        b->sp[first].parent = p >= 0 ? p : (int32_t)root_i;
    }
    for (size_t k = root_i + 1; k < b->nsp; k++)
        for (int32_t q = b->sp[k].parent, n = 0; q >= 0 && n < 64; q = b->sp[q].parent, n++)
            if (b->sp[q].open_end && b->sp[q].t1 < b->sp[k].t1)
                b->sp[q].t1 = b->sp[k].t1;
    /* the origin of the verdict */
    int32_t o = (r->failed || r->slow) ? origin_hop(r, tl) : -1;
    if (o >= 0) {
        int32_t si = hs[o].ss >= 0 ? hs[o].ss : hs[o].cs;
        const char *svc = r->root_cause.service;
        if (svc && hs[o].cs >= 0 && !strcmp(tl->hops[o].client.service, svc) &&
            strcmp(tl->hops[o].server.service, svc))
            si = hs[o].cs;
        if (si >= 0) {
            struct span *s = &b->sp[si];
            /* its attributes go after the others: move it to the end of
             * the attribute list by copying its own ones first */
            size_t a0 = s->a0, na = s->na;
            size_t at = b->nkv;
            for (size_t k = 0; k < na; k++) {
                if (grow((void **)&b->kv, &b->capkv, b->nkv, sizeof(*b->kv)) < 0)
                    goto fail;
                b->kv[b->nkv++] = b->kv[a0 + k];
            }
            s = &b->sp[si];
            s->a0 = (uint32_t)at;
            s->na = (uint32_t)na;
            attr_i(b, s, "osrca.origin", 1, KV_BOOL);
            verdict_attrs(b, s, r);
            if (r->failed)
                s->status = ST_ERROR;
        }
    }
    /* parents as ids */
    for (size_t k = sp0; k < b->nsp; k++) {
        struct span *s = &b->sp[k];
        if (s->parent >= 0) {
            s->has_parent = 1;
            memcpy(s->pid, b->sp[s->parent].sid, 8);
        }
    }
    free(hs);
    if (b->nomem)
        goto undo;
    b->ntraces++;
    return b->nsp - sp0;
fail:
    free(hs);
undo:
    b->nsp = sp0;
    b->nkv = kv0;
    b->nev = ev0;
    return 0;
}

/* ---- OTLP/JSON ---- */

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            fputc('\\', f);
            fputc(*p, f);
        } else if (*p < 0x20) {
            fprintf(f, "\\u%04x", *p);
        } else {
            fputc(*p, f);
        }
    }
    fputc('"', f);
}

static void json_hex(FILE *f, const uint8_t *d, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", d[i]);
    fputc('"', f);
}

static void json_kvs(FILE *f, const struct kv *kv, size_t n)
{
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputc(',', f);
        fputs("{\"key\":", f);
        json_str(f, kv[i].key);
        fputs(",\"value\":{", f);
        if (kv[i].t == KV_STR) {
            fputs("\"stringValue\":", f);
            json_str(f, kv[i].s);
        } else if (kv[i].t == KV_BOOL) {
            fprintf(f, "\"boolValue\":%s", kv[i].i ? "true" : "false");
        } else {
            /* int64 is a string in proto3 JSON */
            fprintf(f, "\"intValue\":\"%" PRId64 "\"", kv[i].i);
        }
        fputs("}}", f);
    }
    fputc(']', f);
}

static void json_span(FILE *f, const struct otlp_batch *b, const struct span *s)
{
    fputs("{\"traceId\":", f);
    json_hex(f, s->tid, 16);
    fputs(",\"spanId\":", f);
    json_hex(f, s->sid, 8);
    if (s->has_parent) {
        fputs(",\"parentSpanId\":", f);
        json_hex(f, s->pid, 8);
    }
    fputs(",\"name\":", f);
    json_str(f, s->name ? s->name : "");
    fprintf(f, ",\"kind\":%d,\"startTimeUnixNano\":\"%" PRIu64 "\",\"endTimeUnixNano\":\"%" PRIu64
               "\"",
            s->kind, (uint64_t)(s->t0 * 1000), (uint64_t)(s->t1 * 1000));
    fputs(",\"attributes\":", f);
    json_kvs(f, b->kv + s->a0, s->na);
    if (s->ne) {
        fputs(",\"events\":[", f);
        for (size_t i = 0; i < s->ne; i++) {
            const struct sev *e = &b->ev[s->e0 + i];
            fprintf(f, "%s{\"timeUnixNano\":\"%" PRIu64 "\",\"name\":", i ? "," : "", e->t_ns);
            json_str(f, e->name);
            fputs(",\"attributes\":", f);
            json_kvs(f, b->kv + e->a0, e->na);
            fputc('}', f);
        }
        fputc(']', f);
    }
    if (s->has_link) {
        fputs(",\"links\":[{\"traceId\":", f);
        json_hex(f, s->tid, 16);
        fputs(",\"spanId\":", f);
        json_hex(f, s->lid, 8);
        fputs("}]", f);
    }
    fprintf(f, ",\"status\":{");
    if (s->status_msg) {
        fputs("\"message\":", f);
        json_str(f, s->status_msg);
        fputc(',', f);
    }
    fprintf(f, "\"code\":%d}}", s->status);
}

/* The attributes of resource r into kv (room for 4); how many. */
static size_t res_kvs(const struct res *r, struct kv *kv)
{
    size_t n = 0;
    kv[n++] = (struct kv){"service.name", KV_STR, r->service, 0};
    if (r->host[0])
        kv[n++] = (struct kv){"host.name", KV_STR, r->host, 0};
    kv[n++] = (struct kv){"service.instance.id", KV_STR, r->inst, 0};
    if (r->addr[0])
        kv[n++] = (struct kv){"osrca.address", KV_STR, r->addr, 0};
    return n;
}

static void json_resource(FILE *f, const struct res *r)
{
    struct kv kv[4];
    size_t n = res_kvs(r, kv);
    fputs("{\"attributes\":", f);
    json_kvs(f, kv, n);
    fputc('}', f);
}

void otlp_write_json(FILE *f, const struct otlp_batch *b)
{
    fputs("{\"resourceSpans\":[", f);
    int firstr = 1;
    for (size_t r = 0; r < b->nrs; r++) {
        int any = 0;
        for (size_t k = 0; k < b->nsp && !any; k++)
            any = b->sp[k].res == r;
        if (!any)
            continue;
        fputs(firstr ? "{\"resource\":" : ",{\"resource\":", f);
        firstr = 0;
        json_resource(f, &b->rs[r]);
        fputs(",\"scopeSpans\":[{\"scope\":{\"name\":\"osrca\",\"version\":", f);
        json_str(f, b->version ? b->version : "");
        fputs("},\"spans\":[", f);
        int firsts = 1;
        for (size_t k = 0; k < b->nsp; k++) {
            if (b->sp[k].res != r)
                continue;
            if (!firsts)
                fputc(',', f);
            firsts = 0;
            json_span(f, b, &b->sp[k]);
        }
        fputs("]}]}", f);
    }
    fputs("]}\n", f);
}

/* ---- OTLP/protobuf (field numbers of opentelemetry/proto/...) ---- */

static void pb_kvs(struct pb *p, uint32_t field, const struct kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        pb_begin(p, field);           /* KeyValue */
        pb_string(p, 1, kv[i].key);   /* key */
        pb_begin(p, 2);               /* value: AnyValue */
        if (kv[i].t == KV_STR)
            pb_string(p, 1, kv[i].s); /* string_value */
        else if (kv[i].t == KV_BOOL)
            pb_varint(p, 2, kv[i].i ? 1 : 0); /* bool_value */
        else
            pb_varint(p, 3, (uint64_t)kv[i].i); /* int_value */
        pb_end(p);
        pb_end(p);
    }
}

static void pb_span(struct pb *p, const struct otlp_batch *b, const struct span *s)
{
    pb_begin(p, 2); /* ScopeSpans.spans */
    pb_bytes(p, 1, s->tid, 16);
    pb_bytes(p, 2, s->sid, 8);
    if (s->has_parent)
        pb_bytes(p, 4, s->pid, 8);
    pb_string(p, 5, s->name ? s->name : "");
    pb_varint(p, 6, s->kind);
    pb_fixed64(p, 7, s->t0 * 1000ull);
    pb_fixed64(p, 8, s->t1 * 1000ull);
    pb_kvs(p, 9, b->kv + s->a0, s->na);
    for (size_t i = 0; i < s->ne; i++) {
        const struct sev *e = &b->ev[s->e0 + i];
        pb_begin(p, 11); /* Span.Event */
        pb_fixed64(p, 1, e->t_ns);
        pb_string(p, 2, e->name);
        pb_kvs(p, 3, b->kv + e->a0, e->na);
        pb_end(p);
    }
    if (s->has_link) {
        pb_begin(p, 13); /* Span.Link */
        pb_bytes(p, 1, s->tid, 16);
        pb_bytes(p, 2, s->lid, 8);
        pb_end(p);
    }
    pb_begin(p, 15); /* Status */
    if (s->status_msg)
        pb_string(p, 2, s->status_msg);
    if (s->status)
        pb_varint(p, 3, s->status);
    pb_end(p);
    pb_end(p);
}

int otlp_write_pb(struct pb *p, const struct otlp_batch *b)
{
    pb_reset(p);
    for (size_t r = 0; r < b->nrs; r++) {
        int any = 0;
        for (size_t k = 0; k < b->nsp && !any; k++)
            any = b->sp[k].res == r;
        if (!any)
            continue;
        const struct res *rs = &b->rs[r];
        pb_begin(p, 1); /* ExportTraceServiceRequest.resource_spans */
        pb_begin(p, 1); /* ResourceSpans.resource */
        struct kv kv[4];
        pb_kvs(p, 1, kv, res_kvs(rs, kv));
        pb_end(p);
        pb_begin(p, 2); /* ResourceSpans.scope_spans */
        pb_begin(p, 1); /* ScopeSpans.scope */
        pb_string(p, 1, "osrca");
        pb_string(p, 2, b->version ? b->version : "");
        pb_end(p);
        for (size_t k = 0; k < b->nsp; k++)
            if (b->sp[k].res == r)
                pb_span(p, b, &b->sp[k]);
        pb_end(p);
        pb_end(p);
    }
    return p->nomem ? -1 : 0;
}
