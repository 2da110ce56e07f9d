/* timeline.c -- hops and holding of one chain (see timeline.h). */
#include "rca/timeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/flow.h"
#include "capture/str.h"
#include "rca/cloud.h"

static const char *const kind_names[TL_KINDS] = {"http", "rpc_call", "rpc_cast", "notification",
                                                  "connect"};
static const char *const how_names[] = {"work", "answer", "queue", "unseen", "client", "accept"};

const char *timeline_kind_name(enum tl_kind k)
{
    return (unsigned)k < TL_KINDS ? kind_names[k] : "?";
}

const char *timeline_how_name(enum tl_how h)
{
    return (unsigned)h <= TL_ACCEPT ? how_names[h] : "?";
}

const char *timeline_peer_name(const struct tl_peer *p, char *buf, size_t len)
{
    const char *at = p->host[0] ? p->host : p->addr;
    if (*at)
        snprintf(buf, len, "%s@%s", p->service[0] ? p->service : "?", at);
    else
        snprintf(buf, len, "%s", p->service[0] ? p->service : "?");
    return buf;
}

static int is_version(const char *s, size_t n)
{
    if (n < 2 || s[0] != 'v' || s[1] < '0' || s[1] > '9')
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
            return 0;
    return 1;
}

void timeline_path_label(const char *method, const char *path, char *out, size_t len)
{
    size_t o = (size_t)snprintf(out, len, "%s ", method ? method : "?");
    if (o >= len)
        return;
    if (!path || !*path) {
        snprintf(out + o, len - o, "/");
        return;
    }
    const char *p = path;
    int segs = 0;
    while (*p && o + 1 < len) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *s = p;
        while (*p && *p != '/')
            p++;
        size_t n = (size_t)(p - s);
        if (++segs > 6) {
            o += (size_t)snprintf(out + o, len - o, "/...");
            break;
        }
        int digit = 0;
        for (size_t i = 0; i < n; i++)
            if (s[i] >= '0' && s[i] <= '9')
                digit = 1;
        if ((digit && !is_version(s, n)) || n > 24)
            o += (size_t)snprintf(out + o, len - o, "/{id}");
        else
            o += (size_t)snprintf(out + o, len - o, "/%.*s", (int)n, s);
        if (o >= len) {
            out[len - 1] = '\0';
            return;
        }
    }
    if (segs == 0)
        snprintf(out + o, len - o, "/");
}

static void peer_set(struct tl_peer *p, const struct ev_peer *e)
{
    str_copy(p->service, sizeof(p->service), e->service ? e->service : "");
    str_copy(p->host, sizeof(p->host), e->host ? e->host : "");
    str_copy(p->addr, sizeof(p->addr), e->addr);
    p->port = e->port;
}

uint64_t timeline_msg_key(const struct event *ev)
{
    uint64_t h = STR_FNV_BASIS;
    h = str_fnv(h, &ev->kind, sizeof(ev->kind));
    const char *id = ev->msg_id ? ev->msg_id : ev->unique_id;
    if (id && ev->kind != EV_HTTP_REQUEST && ev->kind != EV_HTTP_RESPONSE && ev->kind != EV_CONN)
        return str_fnv(h, id, strlen(id));
    h = str_fnv(h, &ev->ts_us, sizeof(ev->ts_us));
    h = str_fnv(h, ev->src.addr, strlen(ev->src.addr));
    h = str_fnv(h, &ev->src.port, sizeof(ev->src.port));
    h = str_fnv(h, ev->dst.addr, strlen(ev->dst.addr));
    return str_fnv(h, &ev->dst.port, sizeof(ev->dst.port));
}

static int same(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

static int is_rpc(const struct event *ev)
{
    return ev->kind == EV_RPC_CALL || ev->kind == EV_RPC_CAST || ev->kind == EV_NOTIFICATION;
}

/* Made under one of the request ids ids (a poll's). */
static int by_poll(const struct event *ev, const char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((ev->request_id && !strcmp(ev->request_id, ids[i])) ||
            (ev->global_request_id && !strcmp(ev->global_request_id, ids[i])))
            return 1;
    return 0;
}

/* A client's poll of its resource, the answer to one, or a message made
 * while a service handled one: nested into it, made under a poll's
 * request id (pids, npids), or nested into or answering such a message
 * (neutron's token validation of nova-api's port list for a poll). */
static int is_poll(const struct chain *c, const struct chain_entry *e, const char **pids,
                   size_t npids)
{
    for (int depth = 0; e && depth < 16; depth++) {
        if ((e->flags & CE_POLL) || (e->pair != CHAIN_NONE && (c->e[e->pair].flags & CE_POLL)) ||
            by_poll(e->ev, pids, npids))
            return 1;
        int32_t up = e->parent != CHAIN_NONE ? e->parent
                     : e->pair != CHAIN_NONE && c->e[e->pair].parent != CHAIN_NONE
                         ? c->e[e->pair].parent
                         : CHAIN_NONE;
        e = up != CHAIN_NONE && (size_t)up < c->n ? &c->e[up] : NULL;
    }
    return 0;
}

static void hop_of(const struct chain *c, int32_t i, struct tl_hop *h)
{
    const struct chain_entry *e = &c->e[i];
    const struct event *ev = e->ev;
    memset(h, 0, sizeof(*h));
    h->entry = i;
    h->end = CHAIN_NONE;
    h->t0 = ev->ts_us;
    h->seq0 = ev->seq;
    h->key = timeline_msg_key(ev);
    h->wait_us = -1;
    if (ev->kind == EV_CONN) {
        h->kind = TL_CONNECT;
        peer_set(&h->client, &ev->src);
        /* tied to a client's session: the client's attempt */
        if (!h->client.service[0] && (e->flags & CE_SESSION))
            str_copy(h->client.service, sizeof(h->client.service), "client");
        peer_set(&h->server, &ev->dst);
        str_copy(h->label, sizeof(h->label), "connect");
        h->error = 1;
        return;
    }
    if (ev->kind == EV_HTTP_REQUEST) {
        h->kind = TL_HTTP;
        peer_set(&h->client, &ev->src);
        peer_set(&h->server, &ev->dst);
        h->accept_us = ev->accept_wait_us;
        if (ev->operation)
            str_copy(h->label, sizeof(h->label), ev->operation);
        else
            timeline_path_label(ev->method, ev->path, h->label, sizeof(h->label));
        if (e->pair != CHAIN_NONE) {
            const struct event *r = c->e[e->pair].ev;
            h->end = e->pair;
            h->t1 = r->ts_us;
            h->status = r->status;
            if ((r->flags & EV_F_NO_ANSWER) || r->status >= 500)
                h->error = 1;
            else if (r->status >= 400)
                h->client_error = 1;
        }
        return;
    }
    h->kind = ev->kind == EV_RPC_CALL ? TL_CALL : ev->kind == EV_RPC_CAST ? TL_CAST : TL_NOTIFY;
    if (ev->verb == EV_VERB_PUBLISH) {
        peer_set(&h->client, &ev->src);
        peer_set(&h->via, &ev->dst);
    }
    if (ev->kind == EV_NOTIFICATION)
        str_copy(h->label, sizeof(h->label), ev->event_type ? ev->event_type : "?");
    else
        STR_JOIN(h->label, sizeof(h->label), ev->topic ? ev->topic : "?", ".",
                 ev->rpc_method ? ev->rpc_method : "?");
    const struct event *d = NULL;
    if (ev->verb == EV_VERB_DELIVER)
        d = ev;
    else if (e->twin != CHAIN_NONE)
        d = c->e[e->twin].ev;
    if (d) {
        peer_set(&h->server, &d->dst);
        if (d != ev)
            h->wait_us = d->ts_us >= ev->ts_us ? (int64_t)(d->ts_us - ev->ts_us) : 0;
    } else if (ev->kind == EV_NOTIFICATION) {
        peer_set(&h->server, &ev->dst); /* the broker: nobody took it here */
    } else {
        str_copy(h->server.service, sizeof(h->server.service),
                 ev->topic_service ? ev->topic_service : "");
        str_copy(h->server.host, sizeof(h->server.host),
                 ev->target_server ? ev->target_server : "");
    }
    if (h->kind == TL_CALL) {
        if (e->pair != CHAIN_NONE) {
            const struct event *r = c->e[e->pair].ev;
            h->end = e->pair;
            h->t1 = r->ts_us;
            h->error = r->failure;
        }
        if (e->flags & CE_TIMED_OUT)
            h->error = 1;
    } else if (d) {
        h->end = d == ev ? i : e->twin;
        h->t1 = d->ts_us;
    } else if (h->kind == TL_NOTIFY) {
        h->t1 = h->t0;
    }
}

#define HOLDER_LOOKBACK 256     /* messages looked back at for an unnamed sender */
#define HOLD_LOOK_US 20000ull   /* a stretch this long is worth asking who really held it */
#define LEAD_MAX_US 60000000ull /* a command's lead longer than this is not one */

struct ord {
    uint64_t ts, seq;
    int32_t i;
};

static int ord_cmp(const void *a, const void *b)
{
    const struct ord *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The sender of an RPC message whose publishing connection has no known
 * owner: the one service the model of the cloud knows on that address
 * (not the broker, not a library embedded in the services), when there is
 * exactly one; 0 otherwise (several services share the address: guessing
 * among them would blame the wrong one). */
static int infer_sender(const struct cloud *m, const struct event *ev, struct tl_peer *out)
{
    const struct cloud_inst *one = NULL;
    for (size_t i = 0; m && i < cloud_count(m); i++) {
        const struct cloud_inst *x = cloud_at(m, i);
        if (x->alias || x->embedded || !x->msgs || strcmp(x->addr, ev->src.addr) ||
            !strcmp(x->service, "rabbitmq"))
            continue;
        if (one && strcmp(one->service, x->service))
            return 0;
        one = x;
    }
    if (!one)
        return 0;
    str_copy(out->service, sizeof(out->service), one->service);
    str_copy(out->host, sizeof(out->host), one->host);
    str_copy(out->addr, sizeof(out->addr), ev->src.addr);
    return 1;
}

/* Has the service at p been seen publishing RPC messages (the sender of
 * an RPC message must be one of those)? Without a model, any may. */
static int publishes(const struct cloud *m, const struct ev_peer *p)
{
    if (!m)
        return 1;
    const struct cloud_inst *x = cloud_find(m, p->service, p->host, p->addr);
    return x && x->rpc_sent > 0;
}

/* p's host as the model of the cloud knows it, when p does not say. */
static void canon(const struct cloud *m, struct tl_peer *p)
{
    if (!m || p->host[0] || !p->service[0] || !p->addr[0])
        return;
    const struct cloud_inst *x = cloud_find(m, p->service, NULL, p->addr);
    if (x && x->host[0])
        str_copy(p->host, sizeof(p->host), x->host);
}

/* The hop (a REST request or RPC call) who had open over all of [t0, t1]:
 * sent before t0 to another service, answered at t1 or after (or never).
 * The latest sent such; -1 when none. */
static int32_t waited_on(const struct timeline *tl, const struct tl_peer *who, uint64_t t0,
                         uint64_t t1)
{
    int32_t best = -1;
    if (!who->service[0])
        return -1;
    for (size_t i = 0; i < tl->nhops; i++) {
        const struct tl_hop *h = &tl->hops[i];
        if ((h->kind != TL_HTTP && h->kind != TL_CALL) || h->t0 > t0 || (h->t1 && h->t1 < t1) ||
            !h->server.service[0] || strcmp(h->client.service, who->service) ||
            !strcmp(h->server.service, who->service) ||
            (who->host[0] && h->client.host[0] && strcmp(h->client.host, who->host)) ||
            (who->addr[0] && h->client.addr[0] && strcmp(h->client.addr, who->addr)))
            continue;
        if (best < 0 || h->t0 > tl->hops[best].t0)
            best = (int32_t)i;
    }
    return best;
}

/* Is the service of p a library embedded in the services of its address? */
static int embedded(const struct cloud *m, const struct tl_peer *p)
{
    const struct cloud_inst *x = m && p->service[0] ? cloud_find(m, p->service, p->host, p->addr)
                                                   : NULL;
    return x && x->embedded;
}

/* Is the work entry i handed on still open at t: a request not answered
 * by then, a call whose reply had not been sent, a cast (never answered)? */
static int open_at(const struct chain *c, int32_t i, uint64_t t)
{
    const struct chain_entry *e = &c->e[i];
    int32_t q = e->ev->verb == EV_VERB_DELIVER && (e->flags & CE_TWIN) ? e->twin : i;
    if (q == CHAIN_NONE || q < 0 || (size_t)q >= c->n)
        return 1;
    const struct chain_entry *w = &c->e[q];
    if (w->ev->kind == EV_RPC_CAST)
        return 1;
    return w->pair == CHAIN_NONE || c->e[w->pair].ev->ts_us > t;
}

/* The sender of ev, a message whose connection's owner the wire does not
 * name: the service on ev's address, seen publishing RPC messages, that
 * was last handed work of this chain still open when ev was sent (a
 * request not yet answered, a call not yet replied to, a cast). 0 when
 * none. */
static int infer_holder(const struct chain *c, const struct cloud *m, const struct ord *o,
                        size_t no, const struct event *ev, struct tl_peer *out)
{
    /* the latest candidate before ev, looking back at most HOLDER_LOOKBACK
     * messages (o is in time order: a binary search finds ev's place) */
    size_t lo = 0, hi = no;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct event *x = c->e[o[mid].i].ev;
        if (x->ts_us < ev->ts_us || (x->ts_us == ev->ts_us && x->seq < ev->seq))
            lo = mid + 1;
        else
            hi = mid;
    }
    const struct event *best = NULL;
    for (size_t k = lo, seen = 0; k-- > 0 && seen < HOLDER_LOOKBACK && !best; seen++) {
        const struct event *x = c->e[o[k].i].ev;
        int work = x->kind == EV_HTTP_REQUEST ||
                   ((x->kind == EV_RPC_CALL || x->kind == EV_RPC_CAST) && x->verb == EV_VERB_DELIVER);
        if (work && x->dst.service && strcmp(x->dst.service, "client") &&
            !strcmp(x->dst.addr, ev->src.addr) && open_at(c, o[k].i, ev->ts_us) &&
            publishes(m, &x->dst))
            best = x;
    }
    if (!best && c->root >= 0) {
        const struct event *r = c->e[c->root].ev;
        if (r->kind == EV_HTTP_REQUEST && r->dst.service && !strcmp(r->dst.addr, ev->src.addr) &&
            open_at(c, c->root, ev->ts_us) && publishes(m, &r->dst))
            best = r;
    }
    if (!best)
        return 0;
    peer_set(out, &best->dst);
    return 1;
}

/* p of at least n bytes, grown (contents not kept); NULL on failure. */
static void *mem_at_least(void **p, size_t *cap, size_t n)
{
    if (*cap >= n)
        return *p;
    size_t ncap = *cap ? *cap : 4096;
    while (ncap < n)
        ncap *= 2;
    void *np = malloc(ncap);
    if (!np)
        return NULL;
    free(*p);
    *p = np;
    *cap = ncap;
    return np;
}

void timeline_mem_free(struct timeline_mem *mem)
{
    free(mem->block);
    free(mem->scratch);
    memset(mem, 0, sizeof(*mem));
}

int timeline_build(const struct chain_set *cs, const struct chain *c, const struct cloud *m,
                   struct timeline *tl, struct timeline_mem *mem)
{
    (void)cs;
    memset(tl, 0, sizeof(*tl));
    if (!c->n)
        return 0;
    /* hops and holds in one block (timeline_free frees the hops); the
     * scratch arrays in another */
    size_t bsize = c->n * sizeof(*tl->hops) + (2 * c->n + 2) * sizeof(*tl->holds);
    size_t ssize = c->n * (sizeof(struct ord) + sizeof(int32_t) + sizeof(const char *));
    void *scratch;
    if (mem) {
        tl->hops = mem_at_least(&mem->block, &mem->block_cap, bsize);
        scratch = mem_at_least(&mem->scratch, &mem->scratch_cap, ssize);
        tl->borrowed = 1;
    } else {
        tl->hops = malloc(bsize);
        scratch = malloc(ssize);
    }
    if (!tl->hops || !scratch) {
        if (!mem)
            free(scratch);
        timeline_free(tl);
        return -1;
    }
    tl->holds = (struct tl_hold *)(tl->hops + c->n);
    struct ord *o = scratch;
    const char **pids = (const char **)(o + c->n);
    int32_t *hop_at = (int32_t *)(pids + c->n);
    const struct chain_entry *root = c->root >= 0 ? &c->e[c->root] : NULL;
    const struct event *rev = root ? root->ev : NULL;
    tl->start = rev ? rev->ts_us : c->first_ts;
    tl->end = 0;
    /* the request ids the answers to polls carry: what a service did with
     * that id (nova-api asking neutron for the server's ports) is the
     * poll's too */
    size_t npids = 0;
    for (size_t k = 0; k < c->n; k++) {
        const struct chain_entry *e = &c->e[k];
        if (e->ev->kind == EV_HTTP_RESPONSE && e->ev->request_id && e->pair != CHAIN_NONE &&
            (c->e[e->pair].flags & CE_POLL))
            pids[npids++] = e->ev->request_id;
    }
    size_t no = 0;
    for (size_t k = 0; k < c->n; k++) {
        const struct chain_entry *e = &c->e[k];
        const struct event *ev = e->ev;
        hop_at[k] = -1;
        int attempt = ev->kind == EV_CONN && (ev->conn_event == FLOW_EV_REFUSED ||
                                              ev->conn_event == FLOW_EV_UNANSWERED);
        if (ev->kind == EV_HTTP_REQUEST || (is_rpc(ev) && !(e->flags & CE_TWIN)) || attempt) {
            struct tl_hop *h = &tl->hops[tl->nhops];
            hop_of(c, (int32_t)k, h);
            if (h->end != CHAIN_NONE)
                h->seq1 = c->e[h->end].ev->seq;
            hop_at[k] = (int32_t)tl->nhops++;
        }
        /* the client's last answer ends the operation */
        if (rev && rev->kind == EV_HTTP_REQUEST && ev->kind == EV_HTTP_RESPONSE &&
            !strcmp(ev->dst.addr, rev->src.addr) && same(ev->dst.service, rev->src.service) &&
            ev->ts_us > tl->end)
            tl->end = ev->ts_us;
        if (ev->kind == EV_CONN || ev->kind >= EV_AMQP_RETURN)
            continue;
        if (ev->kind != EV_HTTP_REQUEST && ev->kind != EV_HTTP_RESPONSE && !is_rpc(ev) &&
            ev->kind != EV_RPC_REPLY)
            continue;
        /* a call-monitor heartbeat says the callee still works on the
         * call: not an answer, and not a step of the work */
        if (ev->kind == EV_RPC_REPLY && !ev->ending)
            continue;
        if ((int32_t)k == c->root || is_poll(c, e, pids, npids))
            continue;
        o[no].ts = ev->ts_us;
        o[no].seq = ev->seq;
        o[no].i = (int32_t)k;
        no++;
    }
    /* an answer's and a delivery's hop: the hop of what they answer or carry */
    for (size_t h = 0; h < tl->nhops; h++)
        if (tl->hops[h].end != CHAIN_NONE && hop_at[tl->hops[h].end] < 0)
            hop_at[tl->hops[h].end] = (int32_t)h;
    if (!tl->end)
        tl->end = c->last_ts;
    if (tl->end < tl->start)
        tl->end = tl->start;
    qsort(o, no, sizeof(*o), ord_cmp);
    /* RPC messages from connections of unknown owner: their sender */
    /* the model's answer for the last address asked (one chain's unnamed
     * senders sit on an address or two: the instances are scanned once) */
    const char *memo_addr = NULL;
    struct tl_peer memo;
    int memo_ok = 0;
    for (size_t h = 0; h < tl->nhops; h++) {
        struct tl_hop *hp = &tl->hops[h];
        const struct event *ev = c->e[hp->entry].ev;
        if (hp->client.service[0] || ev->verb != EV_VERB_PUBLISH || !ev->src.addr[0])
            continue;
        if (!memo_addr || strcmp(memo_addr, ev->src.addr)) {
            memo_addr = ev->src.addr;
            memo_ok = infer_sender(m, ev, &memo);
        }
        if (memo_ok)
            hp->client = memo;
        hp->inferred = (uint8_t)(memo_ok || infer_holder(c, m, o, no, ev, &hp->client));
    }
    uint64_t t = tl->start;
    int32_t prev = c->root;
    for (size_t k = 0; k < no && t < tl->end; k++) {
        const struct chain_entry *e = &c->e[o[k].i];
        const struct event *ev = e->ev;
        uint64_t at = ev->ts_us > tl->end ? tl->end : ev->ts_us;
        /* a request whose connection the server was slow to accept: the
         * end of the stretch before it is the server's */
        uint64_t acc = ev->kind == EV_HTTP_REQUEST && ev->accept_wait_us && at > t
                           ? (ev->accept_wait_us < at - t ? ev->accept_wait_us : at - t)
                           : 0;
        at -= acc;
        if (at > t) {
            struct tl_hold *x = &tl->holds[tl->nholds++];
            memset(x, 0, sizeof(*x));
            x->t0 = t;
            x->t1 = at;
            x->from = prev;
            x->to = o[k].i;
            x->hop = hop_at[o[k].i];
            if (ev->verb == EV_VERB_DELIVER) {
                if (e->flags & CE_TWIN) {
                    x->how = TL_QUEUE;
                    peer_set(&x->who, &ev->dst);
                } else {
                    x->how = TL_UNSEEN;
                }
            } else if (ev->kind == EV_HTTP_RESPONSE || ev->kind == EV_RPC_REPLY) {
                x->how = TL_ANSWER;
                peer_set(&x->who, &ev->src);
            } else {
                x->how = TL_WORK;
                peer_set(&x->who, &ev->src);
                if (!x->who.service[0] && x->hop >= 0 && tl->hops[x->hop].entry == o[k].i)
                    x->who = tl->hops[x->hop].client;
                /* a sender the wire does not name, or a library embedded
                 * in whichever service holds the work there (the
                 * keystonemiddleware of a service validating a token) */
                int long_enough = at - t >= HOLD_LOOK_US;
                if (long_enough && (!x->who.service[0] || embedded(m, &x->who))) {
                    struct tl_peer w;
                    if (infer_holder(c, m, o, no, ev, &w)) {
                        x->who = w;
                        x->inferred = 1;
                    }
                }
                /* a sender that was itself waiting all along (a call or
                 * request of its open over the stretch) did not work: the
                 * one it waited on held the time, or the one that one
                 * waited on */
                int32_t w = long_enough ? waited_on(tl, &x->who, t, at) : -1;
                for (int depth = 0; w >= 0 && depth < 6; depth++) {
                    x->who = tl->hops[w].server;
                    x->how = TL_ANSWER;
                    x->hop = w;
                    w = waited_on(tl, &x->who, t, at);
                }
            }
            t = at;
        }
        if (acc) {
            struct tl_hold *x = &tl->holds[tl->nholds++];
            memset(x, 0, sizeof(*x));
            x->t0 = t;
            x->t1 = t + acc;
            x->how = TL_ACCEPT;
            x->from = prev;
            x->to = o[k].i;
            x->hop = hop_at[o[k].i];
            peer_set(&x->who, &ev->dst);
            t += acc;
        }
        prev = o[k].i;
    }
    /* the client's command began before its root: its login and name
     * lookups, its own time */
    if (c->lead_us && c->lead_us < tl->start && rev && rev->kind == EV_HTTP_REQUEST &&
        tl->start - c->lead_us < LEAD_MAX_US) {
        memmove(tl->holds + 1, tl->holds, tl->nholds * sizeof(*tl->holds));
        struct tl_hold *x = &tl->holds[0];
        memset(x, 0, sizeof(*x));
        x->t0 = c->lead_us;
        x->t1 = tl->start;
        x->how = TL_CLIENT;
        x->from = x->to = CHAIN_NONE;
        x->to = c->root;
        x->hop = -1;
        peer_set(&x->who, &rev->src);
        tl->nholds++;
        tl->start = c->lead_us;
    }
    if (tl->end > t) {
        struct tl_hold *x = &tl->holds[tl->nholds++];
        memset(x, 0, sizeof(*x));
        x->t0 = t;
        x->t1 = tl->end;
        x->how = TL_CLIENT;
        x->from = prev;
        x->to = CHAIN_NONE;
        x->hop = -1;
        if (rev)
            peer_set(&x->who, &rev->src);
    }
    if (!mem)
        free(scratch);
    return 0;
}

int timeline_waiting_on(const struct timeline *tl, const struct tl_peer *who, uint64_t t0,
                        uint64_t t1)
{
    int best = -1;
    for (size_t i = 0; i < tl->nhops; i++) {
        const struct tl_hop *h = &tl->hops[i];
        if ((h->kind != TL_HTTP && h->kind != TL_CALL) || strcmp(h->client.service, who->service) ||
            (who->host[0] && h->client.host[0] && strcmp(h->client.host, who->host)) ||
            h->t0 < t0 || h->t0 > t1 || (h->t1 && h->t1 <= t1) || !h->server.service[0] ||
            !strcmp(h->server.service, who->service))
            continue;
        if (best < 0 || h->t0 < tl->hops[best].t0)
            best = (int)i;
    }
    return best;
}

void timeline_canon(struct timeline *tl, const struct cloud *m)
{
    for (size_t h = 0; h < tl->nhops; h++) {
        canon(m, &tl->hops[h].client);
        canon(m, &tl->hops[h].server);
    }
    for (size_t h = 0; h < tl->nholds; h++)
        canon(m, &tl->holds[h].who);
}

void timeline_free(struct timeline *tl)
{
    if (!tl->borrowed)
        free(tl->hops); /* the holds with them */
    memset(tl, 0, sizeof(*tl));
}
