/* fault.c -- fault evidence detection over a chain (see fault.h). */
#include "rca/fault.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "capture/flow.h"

#define CAST_GRACE_US 2000000ull /* a cast this young at the end may still be delivered */

static const char *const kind_names[FAULT_KIND_COUNT] = {
    "none",         "http_5xx",           "http_4xx",     "rpc_failure",     "rpc_timeout",
    "cast_unconsumed", "error_notification", "conn_refused", "conn_unanswered", "amqp_return",
    "amqp_close",   "amqp_blocked",       "resource_error", "no_answer", "stuck",
};

const char *fault_kind_name(enum fault_kind k)
{
    return (unsigned)k < FAULT_KIND_COUNT ? kind_names[k] : "?";
}


static const char *or_s(const char *s, const char *d)
{
    return s && *s ? s : d;
}

static void base(struct fault *f, enum fault_kind k, enum fault_weight w, struct chain *c,
                 int32_t i)
{
    memset(f, 0, sizeof(*f));
    f->kind = k;
    f->weight = w;
    f->entry = i;
    f->seq = c->e[i].ev->seq;
    f->ts_us = c->e[i].ev->ts_us;
}

static const char *port_service(const struct fault_ctx *fx, const struct ev_peer *p)
{
    if (p->service)
        return p->service;
    const struct svcmap *m = rules_svcmap(chain_set_rules(fx->cs));
    return m ? svcmap_port(m, p->port, NULL) : NULL;
}

static int is_error_state(const char *s)
{
    return s && (!strcasecmp(s, "ERROR") || !strcasecmp(s, "error_deleting") ||
                 !strcasecmp(s, "error_restoring") || !strcasecmp(s, "error_extending") ||
                 !strcasecmp(s, "killed"));
}

/* Is this 404 GET benign (a poll after a delete, or a lookup by name that
 * the following list resolved)? */
static int benign_404(const struct fault_ctx *fx, const struct chain *c, int32_t req_i,
                      int at_root)
{
    const struct event *rq = c->e[req_i].ev;
    if (!rq->method || strcmp(rq->method, "GET") != 0)
        return 0;
    if (at_root && c->lookup == CHAIN_LOOKUP_FOUND)
        return 1;
    char u[40];
    if (chain_path_uuid(rq->path, u, sizeof(u))) {
        if (chain_set_was_deleted(fx->cs, u))
            return 1;
        const struct event *root = chain_root(c);
        char ru[40];
        if (root && root->kind == EV_HTTP_REQUEST && root->method &&
            !strcmp(root->method, "DELETE") && chain_path_uuid(root->path, ru, sizeof(ru)) &&
            !strcmp(ru, u))
            return 1;
    }
    return 0;
}

/* The next fault of out, for HTTP response i of c: its server (the
 * answer's sender) and caller (its receiver) filled in. */
static struct fault *answer_fault(const struct fault_ctx *fx, struct chain *c, int32_t i,
                                  enum fault_kind kind, enum fault_weight w, int at_root,
                                  struct fault *out, size_t *n)
{
    const struct event *ev = c->e[i].ev;
    struct fault *f = &out[(*n)++];
    base(f, kind, w, c, i);
    f->at_root = at_root;
    f->service = port_service(fx, &ev->src);
    f->host = ev->src.host;
    snprintf(f->addr, sizeof(f->addr), "%s", ev->src.addr);
    f->caller = ev->dst.service;
    f->caller_host = ev->dst.host;
    return f;
}

static void from_http(const struct fault_ctx *fx, struct chain *c, int32_t i, struct fault *out,
                      size_t *n, size_t max)
{
    const struct chain_entry *e = &c->e[i];
    const struct event *ev = e->ev;
    int32_t req_i = e->pair;
    int at_root = req_i != CHAIN_NONE && req_i == c->root;
    if (*n >= max)
        return;
    if (ev->flags & EV_F_NO_ANSWER) {
        /* the server closed or reset the connection on the request, or held
         * it until the client gave up; not news when the input just ended */
        if (ev->end_how == EV_END_CAPTURE || ev->end_how == EV_END_IDLE)
            return;
        struct fault *f = answer_fault(fx, c, i, FAULT_NO_ANSWER, FAULT_W_STRONG, at_root, out, n);
        f->error_class = "NoResponse";
        f->message = chain_fmt(c, "%s %s %s", or_s(ev->method, "?"), or_s(ev->path, "?"),
                               or_s(ev->reason, "no response"));
        return;
    }
    if (ev->status >= 400) {
        if (ev->status == 404 && req_i != CHAIN_NONE && benign_404(fx, c, req_i, at_root))
            return;
        if (req_i != CHAIN_NONE && (c->e[req_i].flags & CE_LOOKUP_LIST))
            return; /* the list itself failing is part of the lookup */
        int is5 = ev->status >= 500;
        struct fault *f =
            answer_fault(fx, c, i, is5 ? FAULT_HTTP_5XX : FAULT_HTTP_4XX,
                         is5 ? FAULT_W_STRONG : (at_root ? FAULT_W_USER : FAULT_W_WEAK), at_root,
                         out, n);
        if (req_i != CHAIN_NONE && !f->caller)
            f->caller = c->e[req_i].ev->src.service;
        f->error_class = ev->error_class;
        f->module = ev->error_module;
        const char *what = or_s(ev->error_message, or_s(ev->reason, ""));
        if (at_root && ev->status == 404 && c->lookup == CHAIN_LOOKUP_EMPTY)
            f->message = chain_fmt(c, "%s%slookup by name found nothing", what, *what ? "; " : "");
        else
            f->message = what;
        snprintf(f->status, sizeof(f->status), "%d", ev->status);
        return;
    }
    if (is_error_state(ev->resource_state)) {
        struct fault *f =
            answer_fault(fx, c, i, FAULT_RESOURCE_ERROR, FAULT_W_USER, at_root, out, n);
        f->message = chain_fmt(c, "status %s%s%s", ev->resource_state, ev->fault_message ? ": " : "",
                         ev->fault_message ? ev->fault_message : "");
        f->error_class = ev->error_class;
        snprintf(f->status, sizeof(f->status), "%d", ev->status);
    }
}

/* Fill the callee/caller of call entry ci into f. */
static void call_parties(const struct fault_ctx *fx, struct chain *c, int32_t ci, struct fault *f)
{
    const char *host = NULL;
    const char *svc = chain_receiver(fx->cs, c, (size_t)ci, &host);
    f->service = svc;
    f->host = host;
    f->topic_consumer = svc;
    f->topic_host = host;
    const struct chain_entry *e = &c->e[ci];
    if (e->twin != CHAIN_NONE && !(e->flags & CE_TWIN))
        snprintf(f->addr, sizeof(f->addr), "%s", c->e[e->twin].ev->dst.addr);
    if (!f->addr[0]) {
        /* never delivered: name the consumer the topic had before, if any */
        const char *addr = NULL, *chost = NULL;
        const struct event *ev = e->ev;
        int known = chain_set_topic_consumer(fx->cs, ev, &addr, &chost);
        if (known && addr)
            snprintf(f->addr, sizeof(f->addr), "%s", addr);
        if (known && !f->host)
            f->host = f->topic_host = chost;
    }
    char h[64];
    f->caller = chain_sender(fx->cs, e->ev, h, sizeof(h));
    f->caller_host = e->ev->src.host;
    f->rpc_method = e->ev->rpc_method;
}

/* A refused or unanswered connection that only time nesting tied to a
 * request is circumstantial: under concurrency another operation on the
 * same host may have made it. It counts only when the request it was
 * nested in failed itself (5xx), or got no answer before the end of the
 * input; nested in a request that succeeded, or that may still answer, it
 * is not this operation's evidence. */
static int nested_conn_irrelevant(const struct fault_ctx *fx, const struct chain *c,
                                  const struct chain_entry *e)
{
    if (!(e->flags & CE_NESTED) || e->parent == CHAIN_NONE)
        return 0;
    int32_t ans = c->e[e->parent].pair;
    if (ans == CHAIN_NONE) /* unanswered: only if it never was, to the end */
        return !fx->at_end;
    if (c->e[ans].ev->kind != EV_HTTP_RESPONSE)
        return 0;
    return c->e[ans].ev->status < 500;
}

size_t fault_collect(const struct fault_ctx *fx, struct chain *c, struct fault *out, size_t max)
{
    size_t n = 0;
    for (int32_t i = 0; i < (int32_t)c->n && n < max; i++) {
        struct chain_entry *e = &c->e[i];
        const struct event *ev = e->ev;
        if (e->flags & CE_TWIN)
            continue;
        switch (ev->kind) {
        case EV_HTTP_RESPONSE:
            from_http(fx, c, i, out, &n, max);
            break;
        case EV_RPC_REPLY:
            if (ev->failure) {
                struct fault *f = &out[n++];
                base(f, FAULT_RPC_FAILURE, FAULT_W_STRONG, c, i);
                if (e->pair != CHAIN_NONE) {
                    call_parties(fx, c, e->pair, f);
                    f->at_root = e->pair == c->root;
                }
                if (!f->service && ev->verb == EV_VERB_PUBLISH) {
                    f->service = ev->src.service;
                    f->host = ev->src.host;
                }
                /* the raiser's own reply connection may name its host */
                if (!f->host && ev->verb == EV_VERB_PUBLISH && f->service && ev->src.service &&
                    !strcmp(f->service, ev->src.service))
                    f->host = ev->src.host;
                if (!f->addr[0] && ev->verb == EV_VERB_PUBLISH)
                    snprintf(f->addr, sizeof(f->addr), "%s", ev->src.addr);
                f->error_class = ev->error_class;
                f->module = ev->error_module;
                f->message = or_s(ev->error_message, ev->error_class);
            }
            break;
        case EV_RPC_CALL:
            if (e->flags & CE_TIMED_OUT) {
                struct fault *f = &out[n++];
                int delivered = e->ndeliver > 0 || ev->verb == EV_VERB_DELIVER;
                int unseen = !delivered && !chain_set_delivery_visible(fx->cs, ev);
                int eoc = (e->flags & CE_EOC) != 0;
                enum fault_weight w = FAULT_W_STRONG;
                if (eoc && delivered)
                    w = FAULT_W_WEAK;
                base(f, FAULT_RPC_TIMEOUT, w, c, i);
                f->untaken = !delivered && !unseen;
                f->at_root = i == c->root;
                call_parties(fx, c, i, f);
                f->error_class = "MessagingTimeout";
                unsigned secs = (unsigned)((e->deadline_us - ev->ts_us) / 1000000u);
                const char *tgt = or_s(ev->routing_key, or_s(ev->topic, "?"));
                if (eoc)
                    f->message = chain_fmt(c, "no reply to %s on '%s' before the capture ended (%s)",
                                     or_s(ev->rpc_method, "call"), tgt,
                                     delivered ? "delivered, never answered"
                                     : unseen  ? "its delivery out of sight"
                                               : "never delivered: no consumer");
                else if (unseen)
                    f->message = chain_fmt(c,
                                     "no reply to %s on '%s' within %u s (the queue's deliveries "
                                     "are out of this capture's sight)",
                                     or_s(ev->rpc_method, "call"), tgt, secs);
                else if (!delivered)
                    f->message = chain_fmt(c,
                                     "no reply to %s on '%s' within %u s: the call was never "
                                     "delivered (no consumer on the queue)",
                                     or_s(ev->rpc_method, "call"), tgt, secs);
                else
                    f->message =
                        chain_fmt(c, "no reply to %s on '%s' within %u s: delivered to %s but never "
                               "answered%s",
                            or_s(ev->rpc_method, "call"), tgt, secs, or_s(f->service, "?"),
                            (e->flags & CE_LATE_REPLY) ? " in time (late reply)" : "");
            }
            break;
        case EV_RPC_CAST: {
            const char *topic = ev->topic ? ev->topic : ev->routing_key;
            if (ev->verb == EV_VERB_PUBLISH && e->ndeliver == 0 &&
                chain_set_topic_consumed(fx->cs, topic) &&
                !(fx->at_end && fx->now_us < ev->ts_us + CAST_GRACE_US)) {
                struct fault *f = &out[n++];
                base(f, FAULT_CAST_UNCONSUMED, FAULT_W_STRONG, c, i);
                f->untaken = 1;
                call_parties(fx, c, i, f);
                f->error_class = "NotConsumed";
                f->message = chain_fmt(c, "cast %s to '%s' was never delivered although '%s' "
                                    "normally has consumers",
                                 or_s(ev->rpc_method, "?"), or_s(topic, "?"), or_s(topic, "?"));
            }
            break;
        }
        case EV_NOTIFICATION: {
            size_t tl = ev->event_type ? strlen(ev->event_type) : 0;
            int err = (ev->priority && (!strcasecmp(ev->priority, "ERROR") ||
                                        !strcasecmp(ev->priority, "CRITICAL"))) ||
                      (tl > 6 && !strcmp(ev->event_type + tl - 6, ".error"));
            if (!err)
                break;
            struct fault *f = &out[n++];
            base(f, FAULT_ERROR_NOTIFICATION, FAULT_W_STRONG, c, i);
            char h[64];
            const char *svc = chain_sender(fx->cs, ev, h, sizeof(h));
            f->service = svc;
            f->host = h[0] ? arena_strdup(&c->arena, h) : ev->src.host;
            if (ev->verb == EV_VERB_PUBLISH)
                snprintf(f->addr, sizeof(f->addr), "%s", ev->src.addr);
            f->error_class = ev->error_class;
            f->module = ev->error_module;
            f->event_type = ev->event_type;
            f->message = or_s(ev->error_message, or_s(ev->fault_message, ev->event_type));
            break;
        }
        case EV_CONN:
            if ((ev->conn_event == FLOW_EV_REFUSED || ev->conn_event == FLOW_EV_UNANSWERED) &&
                !(e->flags & CE_DISOWNED) && !nested_conn_irrelevant(fx, c, e)) {
                int refused = ev->conn_event == FLOW_EV_REFUSED;
                struct fault *f = &out[n++];
                base(f, refused ? FAULT_CONN_REFUSED : FAULT_CONN_UNANSWERED, FAULT_W_STRONG, c,
                     i);
                f->at_root = i == c->root;
                f->service = port_service(fx, &ev->dst);
                f->host = ev->dst.host;
                snprintf(f->addr, sizeof(f->addr), "%s", ev->dst.addr);
                if (e->parent != CHAIN_NONE)
                    f->caller = c->e[e->parent].ev->dst.service;
                f->error_class = refused ? "ConnectionRefused" : "ConnectionTimeout";
                f->message = chain_fmt(c, "connection to %s %s:%u %s", or_s(f->service, "?"),
                                 ev->dst.addr, ev->dst.port,
                                 refused ? "refused: nothing listening"
                                         : "unanswered: host down or filtered");
            }
            break;
        case EV_AMQP_RETURN:
        case EV_AMQP_CLOSE:
        case EV_AMQP_BLOCKED: {
            enum fault_kind k = ev->kind == EV_AMQP_RETURN  ? FAULT_AMQP_RETURN
                                : ev->kind == EV_AMQP_CLOSE ? FAULT_AMQP_CLOSE
                                                            : FAULT_AMQP_BLOCKED;
            struct fault *f = &out[n++];
            base(f, k, FAULT_W_STRONG, c, i);
            f->at_root = i == c->root;
            f->service = "rabbitmq";
            int broker_src = ev->src.service && !strcmp(ev->src.service, "rabbitmq");
            const struct ev_peer *broker = broker_src ? &ev->src : &ev->dst;
            const struct ev_peer *client = broker_src ? &ev->dst : &ev->src;
            snprintf(f->addr, sizeof(f->addr), "%s", broker->addr);
            f->caller = client->service;
            f->caller_host = client->host;
            const struct svcmap *m = rules_svcmap(chain_set_rules(fx->cs));
            if (ev->routing_key && m) {
                char h[64];
                f->topic_consumer = svcmap_topic(m, ev->routing_key, h, sizeof(h));
                if (f->topic_consumer && h[0])
                    f->topic_host = arena_strdup(&c->arena, h);
            }
            f->error_class = k == FAULT_AMQP_BLOCKED ? "Blocked" : ev->reply_text;
            if (ev->reply_code)
                snprintf(f->status, sizeof(f->status), "%u", ev->reply_code);
            f->message = chain_fmt(c, "%s%s%s%s%s", k == FAULT_AMQP_BLOCKED ? "broker blocked: " : "",
                             or_s(ev->reply_text, ""), ev->routing_key ? " (routing key " : "",
                             ev->routing_key ? ev->routing_key : "", ev->routing_key ? ")" : "");
            break;
        }
        default:
            break;
        }
    }
    return n;
}

int fault_chain_failed(const struct fault *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (f[i].weight == FAULT_W_STRONG)
            return 1;
        if (f[i].weight == FAULT_W_USER)
            return 1;
    }
    return 0;
}

static int is_transitional(const char *state)
{
    static const char *const t[] = {"BUILD",  "REBUILD",   "REBOOT",    "HARD_REBOOT",
                                    "RESIZE", "MIGRATING", "PASSWORD",  "RESCUE",
                                    "creating", "deleting", "attaching", "detaching",
                                    "extending", "downloading", "uploading", "reserved"};
    if (!state)
        return 0;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (!strcasecmp(state, t[i]))
            return 1;
    return 0;
}

/* "cast terminate_instance to 'compute.cmp-1' <why>": call or cast ev of c. */
static const char *work_message(struct chain *c, const struct event *ev, const char *why)
{
    return chain_fmt(c, "%s %s to '%s' %s", ev->kind == EV_RPC_CALL ? "call" : "cast",
                     or_s(ev->rpc_method, "?"), or_s(ev->routing_key, or_s(ev->topic, "?")),
                     why);
}

/* The service that held the last step of c when nothing of it is seen
 * left unfinished: the consumer of the last cast delivered to it, or call
 * delivered and never answered (work handed over whose end the wire does
 * not show: the consumer died or was cut off with it). Fills f like
 * unfinished_work; 0 when c delivered nothing. */
static int last_holder(const struct fault_ctx *fx, struct chain *c, struct fault *f)
{
    int32_t best = CHAIN_NONE;
    for (int32_t i = 0; i < (int32_t)c->n; i++) {
        const struct chain_entry *e = &c->e[i];
        const struct event *ev = e->ev;
        if ((e->flags & CE_TWIN) || (ev->kind != EV_RPC_CALL && ev->kind != EV_RPC_CAST) ||
            ev->fanout)
            continue;
        int delivered = ev->verb == EV_VERB_DELIVER || (ev->verb == EV_VERB_PUBLISH && e->ndeliver);
        if (!delivered || (ev->kind == EV_RPC_CALL && (e->flags & CE_ANSWERED)))
            continue;
        if (best == CHAIN_NONE || ev->ts_us >= c->e[best].ev->ts_us)
            best = i;
    }
    if (best == CHAIN_NONE)
        return 0;
    call_parties(fx, c, best, f);
    const struct event *ev = c->e[best].ev;
    if (ev->verb == EV_VERB_DELIVER && ev->dst.addr[0])
        snprintf(f->addr, sizeof(f->addr), "%s", ev->dst.addr);
    if (ev->verb == EV_VERB_DELIVER && ev->dst.host && !f->host)
        f->host = f->topic_host = ev->dst.host;
    f->held_us = ev->ts_us;
    f->message = work_message(c, ev, "delivered, its work never finished");
    return 1;
}

/* The service holding the unfinished work of c as seen at time t: the
 * earliest call or cast of the operation never delivered, delivered and
 * never answered, or delivered only after t. Fills f->service, host, addr,
 * rpc_method, message; 0 when there is none. */
static int unfinished_work(const struct fault_ctx *fx, struct chain *c, uint64_t t,
                           struct fault *f)
{
    int32_t best = CHAIN_NONE;
    const char *why = NULL;
    int untaken = 0;
    for (int32_t i = 0; i < (int32_t)c->n; i++) {
        const struct chain_entry *e = &c->e[i];
        const struct event *ev = e->ev;
        if ((e->flags & CE_TWIN) || ev->verb != EV_VERB_PUBLISH ||
            (ev->kind != EV_RPC_CALL && ev->kind != EV_RPC_CAST) || ev->fanout)
            continue;
        const char *w = NULL;
        int u = 0; /* no consumer took it (in time) */
        /* a call answered was delivered, seen or not; work for a topic whose
         * deliveries this capture never shows (a consumer on the broker's
         * own host, behind a span port) may have been taken unseen */
        int answered = ev->kind == EV_RPC_CALL && (e->flags & CE_ANSWERED);
        int visible = chain_set_delivery_visible(fx->cs, ev);
        if (e->ndeliver == 0 && answered)
            continue;
        if (e->ndeliver == 0 && !visible)
            w = ev->kind == EV_RPC_CALL ? "sent, never answered" : NULL;
        else if (e->ndeliver == 0) {
            w = "never delivered";
            u = 1;
        } else if (e->twin != CHAIN_NONE && c->e[e->twin].ev->ts_us > t) {
            w = "delivered only after the client's last poll";
            u = 1;
        } else if (ev->kind == EV_RPC_CALL && !(e->flags & CE_ANSWERED)) {
            w = "delivered, never answered";
        }
        if (w && (best == CHAIN_NONE || ev->ts_us < c->e[best].ev->ts_us)) {
            best = i;
            why = w;
            untaken = u;
        }
    }
    if (best == CHAIN_NONE)
        return last_holder(fx, c, f);
    call_parties(fx, c, best, f);
    f->untaken = untaken;
    f->message = work_message(c, c->e[best].ev, why);
    return 1;
}

enum fault_outcome fault_user_outcome(const struct fault_ctx *fx, struct chain *c,
                                      struct fault *stuck)
{
    if (c->root == CHAIN_NONE)
        return FAULT_OUT_UNKNOWN;
    const struct chain_entry *re = &c->e[c->root];
    const struct event *root = re->ev;
    if (root->kind != EV_HTTP_REQUEST || re->rank != 3 || re->pair == CHAIN_NONE || !root->method ||
        !strcmp(root->method, "GET") || !strcmp(root->method, "HEAD"))
        return FAULT_OUT_UNKNOWN;
    const struct event *ans = c->e[re->pair].ev;
    if (ans->status < 200 || ans->status >= 300)
        return FAULT_OUT_UNKNOWN;
    int32_t last = CHAIN_NONE;
    for (int32_t i = 0; i < (int32_t)c->n; i++) {
        const struct chain_entry *e = &c->e[i];
        if (!(e->flags & CE_POLL) || e->ev->kind != EV_HTTP_REQUEST || e->pair == CHAIN_NONE)
            continue;
        if (last == CHAIN_NONE || e->ev->ts_us >= c->e[last].ev->ts_us)
            last = i;
    }
    if (last == CHAIN_NONE)
        return FAULT_OUT_UNKNOWN;
    int32_t pa = c->e[last].pair;
    const struct event *pv = c->e[pa].ev;
    int del = !strcmp(root->method, "DELETE");
    if (pv->status == 404)
        return del ? FAULT_OUT_DONE : FAULT_OUT_UNKNOWN;
    if (pv->status < 200 || pv->status >= 300)
        return FAULT_OUT_UNKNOWN;
    if (is_error_state(pv->resource_state))
        return FAULT_OUT_ERROR;
    if (!del && !is_transitional(pv->resource_state) && !pv->resource_task)
        return FAULT_OUT_DONE;
    /* a server read back as DELETED (nova still shows it a moment) is gone */
    if (del && pv->resource_state && !strcasecmp(pv->resource_state, "DELETED") &&
        !pv->resource_task)
        return FAULT_OUT_DONE;
    if (stuck) {
        base(stuck, FAULT_STUCK, FAULT_W_USER, c, pa);
        stuck->error_class = "Stuck";
        if (!unfinished_work(fx, c, pv->ts_us, stuck))
            stuck->message = NULL;
        const char *what = chain_fmt(
            c, "the client stopped waiting while the resource was still %s%s%s%s%s",
            del ? "there" : or_s(pv->resource_state, "in transition"),
            pv->resource_task ? " (task " : "", pv->resource_task ? pv->resource_task : "",
            pv->resource_task ? ")" : "", stuck->message ? ": " : "");
        stuck->message = stuck->message ? chain_fmt(c, "%s%s", what, stuck->message) : what;
    }
    return FAULT_OUT_STUCK;
}
