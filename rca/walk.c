/* walk.c -- backward walk to the origin, rule application, report tree
 * (see walk.h; DESIGN.md "Finding the origin of a fault"). */
#include "rca/walk.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WALK_MAX_FAULTS 256
#define WALK_MAX_DEPTH 24

static const char *or_s(const char *s, const char *d)
{
    return s && *s ? s : d;
}

static int fault_cmp(const void *a, const void *b)
{
    const struct fault *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int walk_origin(const struct fault *f, size_t n)
{
    /* the earliest error born somewhere explains everything after it:
     * NoValidHost before conductor's ERROR notification, refused
     * connections before nova-api's 500, create.error before a later
     * InstanceNotFound, a timed-out call before the failures it caused */
    for (size_t i = 0; i < n; i++)
        if (f[i].weight == FAULT_W_STRONG)
            return (int)i;
    for (size_t i = 0; i < n; i++)
        if (f[i].weight == FAULT_W_WEAK && !f[i].at_root)
            return (int)i;
    for (size_t i = 0; i < n; i++)
        if (f[i].weight == FAULT_W_USER && f[i].kind != FAULT_RESOURCE_ERROR)
            return (int)i;
    return n ? 0 : -1;
}


/* One line without control characters, cut to max bytes. */
static void clean_line(char *dst, size_t len, const char *s, size_t max)
{
    size_t k = 0;
    if (!len)
        return;
    for (size_t i = 0; s && s[i] && k + 1 < len && i < max; i++) {
        unsigned char ch = (unsigned char)s[i];
        dst[k++] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
    }
    dst[k] = '\0';
}

static const char *operation_of(struct chain *c)
{
    const struct event *root = chain_root(c);
    if (!root)
        return "unknown";
    if (root->operation)
        return root->operation;
    /* a response may carry the operation its request lacked */
    if (c->root != CHAIN_NONE && c->e[c->root].pair != CHAIN_NONE &&
        c->e[c->e[c->root].pair].ev->operation)
        return c->e[c->e[c->root].pair].ev->operation;
    switch (root->kind) {
    case EV_HTTP_REQUEST:
        return chain_fmt(c, "%s %s", or_s(root->method, "?"), or_s(root->path, "?"));
    case EV_RPC_CALL:
    case EV_RPC_CAST:
        return chain_fmt(c, "rpc %s %s%s%s", or_s(root->topic, or_s(root->routing_key, "?")),
                    root->rpc_namespace ? root->rpc_namespace : "",
                    root->rpc_namespace ? "." : "", or_s(root->rpc_method, "?"));
    case EV_CONN:
        return chain_fmt(c, "connect %s %s:%u", or_s(root->dst.service, "?"), root->dst.addr,
                    root->dst.port);
    case EV_AMQP_CLOSE:
    case EV_AMQP_RETURN:
    case EV_AMQP_BLOCKED:
        return chain_fmt(c, "amqp %s", event_kind_name(root->kind));
    default:
        return event_kind_name(root->kind);
    }
}

/* The operation's ids: the root answer's request id first. */
static void ids_of(struct chain *c, struct report *r)
{
    const struct event *root = chain_root(c);
    r->request_id = NULL;
    r->global_request_id = NULL;
    if (!root)
        return;
    int32_t p = c->e[c->root].pair;
    if (root->kind == EV_HTTP_REQUEST) {
        if (p != CHAIN_NONE)
            r->request_id = c->e[p].ev->request_id;
        r->global_request_id = root->global_request_id;
        if (!r->request_id) {
            /* e.g. the RPC of the operation carries it */
            for (size_t i = 0; i < c->n && !r->request_id; i++) {
                const struct event *ev = c->e[i].ev;
                if ((ev->kind == EV_RPC_CALL || ev->kind == EV_RPC_CAST) && ev->request_id)
                    r->request_id = ev->request_id;
            }
        }
    } else {
        r->request_id = root->request_id;
        r->global_request_id = root->global_request_id;
    }
}

/* status and user_saw from the root's answer and the evidence */
static void user_view(struct chain *c, struct report *r, const struct fault *f, size_t nf)
{
    const struct event *root = chain_root(c);
    const struct fault *rootf = NULL, *reserr = NULL;
    for (size_t i = 0; i < nf; i++) {
        if (f[i].at_root && !rootf && f[i].kind != FAULT_RESOURCE_ERROR)
            rootf = &f[i];
        if (f[i].kind == FAULT_RESOURCE_ERROR && !reserr)
            reserr = &f[i];
    }
    char line[320];
    /* what the user saw of a failure that came after a good answer */
    const char *later = r->failed ? "; the operation failed afterwards" : "";
    r->status[0] = '\0';
    r->user_saw[0] = '\0';
    if (!root)
        return;
    int32_t p = c->e[c->root].pair;
    const struct event *ans = p != CHAIN_NONE ? c->e[p].ev : NULL;
    switch (root->kind) {
    case EV_HTTP_REQUEST:
        if (!ans) {
            snprintf(r->status, sizeof(r->status), "no response");
            snprintf(r->user_saw, sizeof(r->user_saw), "%s %s got no response",
                     or_s(root->method, "?"), or_s(root->path, "?"));
            break;
        }
        snprintf(r->status, sizeof(r->status), "%d", ans->status);
        if (ans->status >= 400) {
            clean_line(line, sizeof(line),
                       rootf && rootf->message ? rootf->message
                                               : or_s(ans->error_message, or_s(ans->reason, "")),
                       300);
            snprintf(r->user_saw, sizeof(r->user_saw), "HTTP %d%s%s for %s %s%s%s%s%s",
                     ans->status, ans->reason ? " " : "", or_s(ans->reason, ""),
                     or_s(root->method, "?"), or_s(root->path, "?"),
                     ans->error_class ? ": " : "", or_s(ans->error_class, ""),
                     *line ? ": " : "", line);
        } else if (reserr) {
            const struct event *poll = c->e[reserr->entry].ev;
            int32_t pq = c->e[reserr->entry].pair;
            const struct event *preq = pq != CHAIN_NONE ? c->e[pq].ev : NULL;
            clean_line(line, sizeof(line), reserr->message, 300);
            snprintf(r->user_saw, sizeof(r->user_saw), "HTTP %d for %s %s, then %s %s showed %s",
                     ans->status, or_s(root->method, "?"), or_s(root->path, "?"),
                     preq ? or_s(preq->method, "GET") : "GET",
                     preq ? or_s(preq->path, "?") : or_s(poll->path, "?"), line);
        } else {
            snprintf(r->user_saw, sizeof(r->user_saw),
                     "HTTP %d for %s %s%s", ans->status, or_s(root->method, "?"),
                     or_s(root->path, "?"), later);
        }
        break;
    case EV_RPC_CALL:
        if (c->e[c->root].flags & CE_TIMED_OUT) {
            snprintf(r->status, sizeof(r->status), "rpc timeout");
            snprintf(r->user_saw, sizeof(r->user_saw),
                     "MessagingTimeout: no reply to %s on '%s'", or_s(root->rpc_method, "?"),
                     or_s(root->routing_key, "?"));
        } else if (ans && ans->failure) {
            snprintf(r->status, sizeof(r->status), "rpc failure");
            clean_line(line, sizeof(line), or_s(ans->error_message, ""), 300);
            snprintf(r->user_saw, sizeof(r->user_saw), "%s failed: %s%s%s",
                     or_s(root->rpc_method, "call"), or_s(ans->error_class, "remote error"),
                     *line ? ": " : "", line);
        } else {
            snprintf(r->status, sizeof(r->status), ans ? "ok" : "no reply");
            snprintf(r->user_saw, sizeof(r->user_saw), "%s %s%s", or_s(root->rpc_method, "call"),
                     ans ? "returned" : "got no reply", later);
        }
        break;
    case EV_RPC_CAST:
        snprintf(r->status, sizeof(r->status), "cast");
        snprintf(r->user_saw, sizeof(r->user_saw), "cast %s returned at once%s",
                 or_s(root->rpc_method, "?"), later);
        break;
    default:
        snprintf(r->status, sizeof(r->status), "%s", event_kind_name(root->kind));
        if (rootf || nf) {
            clean_line(line, sizeof(line), (rootf ? rootf : &f[0])->message, 300);
            snprintf(r->user_saw, sizeof(r->user_saw), "%s", line);
        }
        break;
    }
}

static int svc_matches(const char *caller, const char *handler)
{
    if (!caller || !handler)
        return 0;
    size_t n = strlen(caller);
    return !strcmp(caller, handler) || (!strncmp(caller, handler, n) && handler[n] == '-');
}

/* Find an address/host for a named service among the chain's peers. */
static void locate(const struct chain *c, const char *svc, struct report_cause *rc)
{
    rc->addr[0] = '\0';
    rc->host = NULL;
    for (size_t i = 0; i < c->n; i++) {
        const struct event *ev = c->e[i].ev;
        const struct ev_peer *p = NULL;
        if (ev->dst.service && !strcmp(ev->dst.service, svc))
            p = &ev->dst;
        else if (ev->src.service && !strcmp(ev->src.service, svc))
            p = &ev->src;
        if (p) {
            snprintf(rc->addr, sizeof(rc->addr), "%s", p->addr);
            rc->host = p->host;
            return;
        }
    }
}

static void apply_rule(const struct chain_set *cs, struct chain *c, const struct fault *o,
                       struct report *r)
{
    const struct rules *rules = chain_set_rules(cs);
    struct report_cause *rc = &r->root_cause;
    const char *subject[RULES_F_COUNT] = {0};
    subject[RULES_F_KIND] = fault_kind_name(o->kind);
    subject[RULES_F_STATUS] = o->status[0] ? o->status : NULL;
    subject[RULES_F_ERROR_CLASS] = o->error_class;
    subject[RULES_F_MODULE] = o->module;
    subject[RULES_F_MESSAGE] = o->message;
    subject[RULES_F_EVENT_TYPE] = o->event_type;
    subject[RULES_F_SERVICE] = o->service;
    subject[RULES_F_OPERATION] = r->operation;
    subject[RULES_F_RPC_METHOD] = o->rpc_method;
    int k = rules_fault_find(rules, subject);
    r->category = "unknown";
    r->rule = NULL;
    r->hint = NULL;
    if (k < 0)
        return;
    const struct rules_fault *fr = rules_fault_at(rules, (size_t)k);
    r->category = fr->category;
    r->rule = fr->name;
    r->hint = fr->hint;
    switch (fr->culprit) {
    case RULES_CULPRIT_ORIGIN:
    case RULES_CULPRIT_CALLEE:
        break;
    case RULES_CULPRIT_TOPIC_CONSUMER:
        if (o->topic_consumer && (!rc->service || strcmp(rc->service, o->topic_consumer))) {
            rc->service = o->topic_consumer;
            rc->host = o->topic_host;
            rc->addr[0] = '\0';
        } else if (o->topic_host && !rc->host) {
            rc->host = o->topic_host;
        }
        break;
    case RULES_CULPRIT_CALLER:
        if (o->caller) {
            rc->service = o->caller;
            rc->host = o->caller_host;
            locate(c, o->caller, rc);
            if (!rc->host)
                rc->host = o->caller_host;
        }
        break;
    case RULES_CULPRIT_SERVICE:
        if (fr->culprit_service && (!rc->service || strcmp(rc->service, fr->culprit_service))) {
            rc->service = fr->culprit_service;
            locate(c, fr->culprit_service, rc);
        }
        break;
    }
}

struct nodesort {
    uint64_t ts, seq;
    int32_t entry;
};

/* Packet time first (a parser may emit a message late), then seq. */
static int node_cmp(const void *a, const void *b)
{
    const struct nodesort *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int is_message(const struct event *ev);

/* The message that caused node k (entry ns[k].entry), searching earlier
 * nodes: the message its sender was handling (exact service match), else
 * the one whose answer carries the id it was sent with (HTTP global id,
 * RPC request id), else a service-family match, else the root. */
static int32_t find_parent(const struct chain_set *cs, struct chain *c,
                           const struct nodesort *ns, size_t k, size_t nn)
{
    const struct event *ev = c->e[ns[k].entry].ev;
    char h[64];
    const char *sender = chain_sender(cs, ev, h, sizeof(h));
    for (size_t j = k; j-- > 0 && sender;) {
        int32_t je = ns[j].entry;
        if (!is_message(c->e[je].ev))
            continue;
        const char *rh = NULL;
        const char *recv = chain_receiver(cs, c, (size_t)je, &rh);
        if (recv && !strcmp(sender, recv))
            return je;
    }
    const char *id = ev->kind == EV_HTTP_REQUEST ? ev->global_request_id : ev->request_id;
    if (id) {
        /* the answer may come later; the request it answers is earlier */
        for (size_t j = 0; j < nn; j++) {
            int32_t je = ns[j].entry;
            const struct event *x = c->e[je].ev;
            if (j == k || !x->request_id || strcmp(x->request_id, id) != 0)
                continue;
            if (x->kind == EV_HTTP_RESPONSE && c->e[je].pair != CHAIN_NONE &&
                c->e[c->e[je].pair].ev->ts_us <= ev->ts_us && c->e[je].pair != ns[k].entry)
                return c->e[je].pair;
        }
    }
    for (size_t j = k; j-- > 0 && sender;) {
        int32_t je = ns[j].entry;
        if (!is_message(c->e[je].ev))
            continue;
        const char *rh = NULL;
        if (svc_matches(sender, chain_receiver(cs, c, (size_t)je, &rh)))
            return je;
    }
    return c->root;
}

static int is_message(const struct event *ev)
{
    return ev->kind == EV_HTTP_REQUEST || ev->kind == EV_RPC_CALL || ev->kind == EV_RPC_CAST;
}

static const char *node_note(const struct chain_set *cs, struct chain *c, int32_t i)
{
    const struct chain_entry *e = &c->e[i];
    const struct event *ev = e->ev;
    if (e->flags & CE_LOOKUP_LIST)
        return c->lookup == CHAIN_LOOKUP_FOUND ? "lookup by name: found" : "lookup by name: empty";
    if (e->flags & CE_POLL)
        return "client poll of the operation's resource";
    if (ev->kind == EV_RPC_CALL && (e->flags & CE_TIMED_OUT))
        return (e->flags & CE_EOC) ? "no reply before the capture ended" : "no reply: timed out";
    if ((ev->kind == EV_RPC_CALL || ev->kind == EV_RPC_CAST) && ev->verb == EV_VERB_PUBLISH) {
        if (e->ndeliver == 0 && ev->kind == EV_RPC_CALL && (e->flags & CE_ANSWERED))
            return "answered, its delivery not seen";
        if (e->ndeliver == 0 && !chain_set_delivery_visible(cs, ev))
            return "its delivery out of sight";
        if (e->ndeliver == 0)
            return "never delivered";
        const char *host = NULL;
        const char *svc = chain_receiver(cs, c, (size_t)i, &host);
        if (e->twin != CHAIN_NONE) {
            const struct event *d = c->e[e->twin].ev;
            uint64_t dt = d->ts_us > ev->ts_us ? d->ts_us - ev->ts_us : 0;
            return chain_fmt(c, "delivered to %s%s%s after %.1f ms%s", or_s(svc, "?"), host ? "@" : "",
                        host ? host : "", (double)dt / 1000.0,
                        e->ndeliver > 1 ? " (and more queues)" : "");
        }
    }
    if (ev->kind == EV_HTTP_RESPONSE && ev->status == 404 && e->pair == c->root &&
        c->lookup == CHAIN_LOOKUP_FOUND)
        return "benign: name lookup, found by list";
    return NULL;
}

static int walk_build(const struct fault_ctx *fx, struct chain *c, struct report *r, int tree)
{
    memset(r, 0, sizeof(*r));
    r->origin_node = REPORT_NO_PARENT;
    /* at most one fault per entry; fault_collect clears each it fills.
     * One buffer per thread, allocated once (47 KB): a malloc per decided
     * chain showed in the profile */
    static _Thread_local struct fault *fbuf;
    if (!fbuf)
        fbuf = malloc(WALK_MAX_FAULTS * sizeof(*fbuf));
    size_t fmax = c->n < WALK_MAX_FAULTS - 1 ? (c->n ? c->n : 1) : WALK_MAX_FAULTS - 1;
    struct fault *f = fbuf;
    size_t nf = f ? fault_collect(fx, c, f, fmax) : 0;
    /* what the user finally saw decides: a resource that reached its final
     * state is a success whatever failed and was retried on the way; one
     * still in transition when the client stopped waiting is a failure */
    enum fault_outcome out = f ? fault_user_outcome(fx, c, &f[nf]) : FAULT_OUT_UNKNOWN;
    if (out == FAULT_OUT_STUCK)
        nf++;
    if (nf > 1)
        qsort(f, nf, sizeof(*f), fault_cmp);
    r->failed = out == FAULT_OUT_DONE ? 0 : fault_chain_failed(f, nf);
    r->background = chain_is_background(c);
    r->operation = operation_of(c);
    ids_of(c, r);
    user_view(c, r, f, nf);
    const struct event *root = chain_root(c);
    r->root_seq = root ? root->seq : 0;
    r->start_ts_us = c->first_ts;
    r->end_ts_us = c->last_ts;
    r->nevents = c->n;
    r->category = NULL;
    int oi = r->failed ? walk_origin(f, nf) : -1;
    if (oi >= 0) {
        const struct fault *o = &f[oi];
        struct report_cause *rc = &r->root_cause;
        rc->service = o->service;
        rc->host = o->host;
        snprintf(rc->addr, sizeof(rc->addr), "%s", o->addr);
        rc->kind = fault_kind_name(o->kind);
        rc->error = o->error_class;
        rc->message = o->message;
        rc->seq = o->seq;
        rc->ts_us = o->ts_us;
        rc->untaken = o->untaken;
        rc->held_us = o->held_us;
        int32_t pe = o->entry >= 0 ? c->e[o->entry].pair : CHAIN_NONE;
        rc->since_us = o->kind == FAULT_STUCK ? c->first_ts
                       : pe != CHAIN_NONE      ? c->e[pe].ev->ts_us
                                               : o->ts_us;
        if (rc->since_us > o->ts_us)
            rc->since_us = o->ts_us;
        apply_rule(fx->cs, c, o, r);
    }

    /* the tree */
    int rc_ok = f ? 0 : -1;
    struct nodesort *ns = NULL;
    int32_t *node_of = NULL;
    size_t nn = 0;
    if (!tree)
        goto out;
    ns = calloc(c->n ? c->n : 1, sizeof(*ns));
    node_of = calloc(c->n ? c->n : 1, sizeof(*node_of));
    if (!ns || !node_of) {
        rc_ok = -1;
        goto out;
    }
    for (size_t i = 0; i < c->n; i++) {
        node_of[i] = -1;
        if (c->e[i].flags & CE_TWIN)
            continue;
        ns[nn].seq = c->e[i].ev->seq;
        ns[nn].ts = c->e[i].ev->ts_us;
        ns[nn].entry = (int32_t)i;
        nn++;
    }
    qsort(ns, nn, sizeof(*ns), node_cmp);
    r->nodes = calloc(nn ? nn : 1, sizeof(*r->nodes));
    if (!r->nodes) {
        rc_ok = -1;
        goto out;
    }
    r->nnodes = nn;
    for (size_t k = 0; k < nn; k++)
        node_of[ns[k].entry] = (int32_t)k;
    for (size_t k = 0; k < nn; k++) {
        int32_t i = ns[k].entry;
        const struct chain_entry *e = &c->e[i];
        struct report_node *nd = &r->nodes[k];
        nd->ev = e->ev;
        nd->nhops = e->ndeliver;
        nd->hop = (e->twin != CHAIN_NONE) ? c->e[e->twin].ev : NULL;
        nd->parent = REPORT_NO_PARENT;
        nd->note = node_note(fx->cs, c, i);
        int32_t pe = CHAIN_NONE;
        if (e->pair != CHAIN_NONE && !is_message(e->ev))
            pe = e->pair;
        else if (e->parent != CHAIN_NONE)
            pe = e->parent;
        else if (i != c->root)
            pe = find_parent(fx->cs, c, ns, k, nn);
        if (pe != CHAIN_NONE && node_of[pe] >= 0 && (size_t)node_of[pe] != k)
            nd->parent = (size_t)node_of[pe];
    }
    /* An embedded caller (keystonemiddleware, nova's glance and neutron
     * clients) is named after the service whose request it serves: the
     * receiver of its parent. Time order, so a renamed parent counts. */
    const struct rules *rr = chain_set_rules(fx->cs);
    for (size_t k = 0; k < nn; k++) {
        struct chain_entry *e = &c->e[ns[k].entry];
        struct event *ev = e->ev;
        size_t pk = r->nodes[k].parent;
        if (ev->kind != EV_HTTP_REQUEST || pk == REPORT_NO_PARENT ||
            !rules_is_embedded(rr, ev->src.service))
            continue;
        const char *rh = NULL;
        const char *recv = chain_receiver(fx->cs, c, (size_t)ns[pk].entry, &rh);
        if (!recv || !strcmp(recv, "client") || rules_is_embedded(rr, recv))
            continue;
        ev->src.service = recv; /* both live as long as the chain */
        if (!ev->src.host)
            ev->src.host = rh;
        if (e->pair != CHAIN_NONE) {
            c->e[e->pair].ev->dst.service = recv;
            if (!c->e[e->pair].ev->dst.host)
                c->e[e->pair].ev->dst.host = rh;
        }
    }
    /* depths; a parent later in time than its child (rare) is cut */
    for (size_t k = 0; k < nn; k++) {
        int d = 0;
        size_t p = r->nodes[k].parent;
        while (p != REPORT_NO_PARENT && d < WALK_MAX_DEPTH) {
            d++;
            p = r->nodes[p].parent;
        }
        r->nodes[k].depth = d;
    }
    for (size_t q = 0; q < nf; q++) {
        if (f[q].entry >= 0 && node_of[f[q].entry] >= 0) {
            struct report_node *nd = &r->nodes[node_of[f[q].entry]];
            nd->is_fault = 1;
            if ((int)q == oi) {
                nd->is_origin = 1;
                r->origin_node = (size_t)node_of[f[q].entry];
            }
        }
    }
out:
    free(ns);
    free(node_of);
    return rc_ok;
}

int walk_report(const struct fault_ctx *fx, struct chain *c, struct report *r)
{
    return walk_build(fx, c, r, 1);
}

int walk_verdict(const struct fault_ctx *fx, struct chain *c, struct report *r)
{
    return walk_build(fx, c, r, 0);
}

void walk_report_free(struct report *r)
{
    if (!r)
        return;
    free(r->nodes);
    r->nodes = NULL;
    r->nnodes = 0;
}
