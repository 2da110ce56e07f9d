/* json.c -- JSON-lines verdicts and summary (see json.h). */
#include "cli/out/json.h"

#include "cli/jw.h"
#include "cli/out/event.h"
#include "cli/out/perf.h"
#include "rca/timeline.h"

/* v, or null when v is NULL */
static void set_str(struct jw *w, struct jw_node *o, const char *k, const char *v)
{
    jw_set(w, o, k, v ? jw_str(w, v) : jw_null(w));
}

void out_json_report(FILE *f, const struct report *r)
{
    struct jw *w = jw_thread_writer();
    struct jw_node *o = jw_object(w);
    jw_set(w, o, "type", jw_str(w, "verdict"));
    set_str(w, o, "operation", r->operation);
    set_str(w, o, "request_id", r->request_id);
    set_str(w, o, "global_request_id", r->global_request_id);
    set_str(w, o, "status", r->status);
    jw_set(w, o, "failed", jw_bool(w, r->failed));
    jw_set(w, o, "kind", jw_str(w, r->failed ? "failure" : r->slow ? "slow" : "ok"));
    if (r->timeline)
        jw_set(w, o, "wall_us", jw_int(w, (long long)(r->timeline->end - r->timeline->start)));
    jw_set(w, o, "background", jw_bool(w, r->background));
    if (r->display_read)
        jw_set(w, o, "display_read", jw_bool(w, 1));
    set_str(w, o, "user_saw", r->user_saw);
    out_json_time(w, o, "start", r->start_ts_us);
    out_json_time(w, o, "end", r->end_ts_us);
    jw_set(w, o, "root_seq", jw_int(w, (long long)r->root_seq));
    jw_set(w, o, "events", jw_int(w, (long long)r->nevents));
    if (r->failed || r->slow) {
        const struct report_cause *c = &r->root_cause;
        struct jw_node *rc = jw_object(w);
        set_str(w, rc, "service", c->service);
        /* host: the name the traffic gives the host, else its address */
        set_str(w, rc, "host", c->host ? c->host : (c->addr[0] ? c->addr : NULL));
        set_str(w, rc, "host_name", c->host);
        set_str(w, rc, "addr", c->addr[0] ? c->addr : NULL);
        set_str(w, rc, "kind", c->kind);
        set_str(w, rc, "error", c->error);
        set_str(w, rc, "message", c->message);
        jw_set(w, rc, "seq", jw_int(w, (long long)c->seq));
        out_json_time(w, rc, "time", c->ts_us);
        jw_set(w, o, "root_cause", rc);
    } else {
        jw_set(w, o, "root_cause", jw_null(w));
    }
    set_str(w, o, "category", r->category);
    set_str(w, o, "rule", r->rule);
    set_str(w, o, "hint", r->hint);
    if (r->session.id) {
        struct jw_node *se = jw_object(w);
        jw_set(w, se, "id", jw_int(w, r->session.id));
        set_str(w, se, "client", r->session.client);
        set_str(w, se, "login_request_id", r->session.login_request_id);
        set_str(w, se, "user", r->session.user);
        set_str(w, se, "project", r->session.project);
        jw_set(w, o, "session", se);
    }
    if (r->incident)
        jw_set(w, o, "incident", jw_int(w, r->incident));
    if (r->slow)
        jw_set(w, o, "performance", out_perf_json(w, r));
    struct jw_node *chain = jw_array(w);
    for (size_t i = 0; i < r->nnodes; i++) {
        const struct report_node *n = &r->nodes[i];
        struct jw_node *node = jw_object(w);
        struct jw_node *ev = out_event_json(w, n->ev, NULL);
        jw_set(w, node, "event", ev ? ev : jw_null(w));
        jw_set(w, node, "depth", jw_int(w, n->depth));
        if (n->parent != REPORT_NO_PARENT && r->nodes[n->parent].ev)
            jw_set(w, node, "parent_seq", jw_int(w, (long long)r->nodes[n->parent].ev->seq));
        if (n->hop) {
            struct jw_node *hop = jw_object(w);
            jw_set(w, hop, "seq", jw_int(w, (long long)n->hop->seq));
            out_json_time(w, hop, "time", n->hop->ts_us);
            set_str(w, hop, "consumer", n->hop->dst.service);
            set_str(w, hop, "consumer_host", n->hop->dst.host);
            jw_set(w, hop, "deliveries", jw_int(w, n->nhops));
            jw_set(w, node, "delivered", hop);
        }
        if (n->is_origin)
            jw_set(w, node, "origin", jw_bool(w, 1));
        if (n->is_fault)
            jw_set(w, node, "fault", jw_bool(w, 1));
        if (n->note)
            jw_set(w, node, "note", jw_str(w, n->note));
        jw_push(w, chain, node);
    }
    jw_set(w, o, "chain", chain);
    jw_write_line(w, f, o);
}

void out_json_summary(FILE *f, const struct rca_summary *s, const struct stats *st)
{
    struct jw *w = jw_thread_writer();
    struct jw_node *o = jw_object(w);
    jw_set(w, o, "type", jw_str(w, "summary"));
    jw_set(w, o, "operations", jw_int(w, (long long)s->operations));
    jw_set(w, o, "failed", jw_int(w, (long long)s->failed));
    jw_set(w, o, "slow", jw_int(w, (long long)s->slow));
    jw_set(w, o, "ok", jw_int(w, (long long)s->ok));
    jw_set(w, o, "background", jw_int(w, (long long)s->background));
    jw_set(w, o, "events", jw_int(w, (long long)s->events));
    jw_set(w, o, "open_chains", jw_int(w, (long long)s->open_chains));
    jw_set(w, o, "evicted", jw_int(w, (long long)s->evicted));
    if (st) {
        const char *names[STATS_MAX_COUNTERS + 1];
        uint64_t vals[STATS_MAX_COUNTERS + 1];
        size_t n = stats_list(st, names, vals, STATS_MAX_COUNTERS + 1);
        if (n > STATS_MAX_COUNTERS + 1)
            n = STATS_MAX_COUNTERS + 1;
        struct jw_node *c = jw_object(w);
        for (size_t i = 0; i < n; i++)
            if (vals[i])
                jw_set(w, c, names[i], jw_int(w, (long long)vals[i]));
        jw_set(w, o, "counters", c);
    }
    jw_write_line(w, f, o);
}

void out_json_message(FILE *f, const struct event *ev)
{
    struct jw *w = jw_thread_writer();
    jw_write_line(w, f, out_event_json(w, ev, "message"));
}
