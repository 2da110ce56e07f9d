/* out_json.c -- JSON-lines verdicts and summary (see out_json.h). */
#include "cli/out_json.h"

#include <jansson.h>

#include "cli/out_event.h"

static void set_str(json_t *o, const char *k, const char *v)
{
    json_object_set_new(o, k, v ? json_string(v) : json_null());
}

static void dump(FILE *f, json_t *o)
{
    if (!o)
        return;
    json_dumpf(o, f, JSON_COMPACT | JSON_SORT_KEYS);
    fputc('\n', f);
    json_decref(o);
}

void out_json_report(FILE *f, const struct report *r)
{
    json_t *o = json_object();
    if (!o)
        return;
    char t[40];
    json_object_set_new(o, "type", json_string("verdict"));
    set_str(o, "operation", r->operation);
    set_str(o, "request_id", r->request_id);
    set_str(o, "global_request_id", r->global_request_id);
    set_str(o, "status", r->status);
    json_object_set_new(o, "failed", json_boolean(r->failed));
    json_object_set_new(o, "background", json_boolean(r->background));
    set_str(o, "user_saw", r->user_saw);
    out_time(r->start_ts_us, t, sizeof(t));
    json_object_set_new(o, "start", json_string(t));
    out_time(r->end_ts_us, t, sizeof(t));
    json_object_set_new(o, "end", json_string(t));
    json_object_set_new(o, "root_seq", json_integer((json_int_t)r->root_seq));
    json_object_set_new(o, "events", json_integer((json_int_t)r->nevents));
    if (r->failed) {
        const struct report_cause *c = &r->root_cause;
        json_t *rc = json_object();
        set_str(rc, "service", c->service);
        /* host: the name the traffic gives the host, else its address */
        set_str(rc, "host", c->host ? c->host : (c->addr[0] ? c->addr : NULL));
        set_str(rc, "host_name", c->host);
        set_str(rc, "addr", c->addr[0] ? c->addr : NULL);
        set_str(rc, "kind", c->kind);
        set_str(rc, "error", c->error);
        set_str(rc, "message", c->message);
        json_object_set_new(rc, "seq", json_integer((json_int_t)c->seq));
        out_time(c->ts_us, t, sizeof(t));
        json_object_set_new(rc, "time", json_string(t));
        json_object_set_new(o, "root_cause", rc);
    } else {
        json_object_set_new(o, "root_cause", json_null());
    }
    set_str(o, "category", r->category);
    set_str(o, "rule", r->rule);
    set_str(o, "hint", r->hint);
    json_t *chain = json_array();
    for (size_t i = 0; i < r->nnodes; i++) {
        const struct report_node *n = &r->nodes[i];
        json_t *node = json_object();
        json_t *ev = out_event_json(n->ev);
        json_object_set_new(node, "event", ev ? ev : json_null());
        json_object_set_new(node, "depth", json_integer(n->depth));
        if (n->parent != REPORT_NO_PARENT && r->nodes[n->parent].ev)
            json_object_set_new(node, "parent_seq",
                                json_integer((json_int_t)r->nodes[n->parent].ev->seq));
        if (n->hop) {
            json_t *hop = json_object();
            json_object_set_new(hop, "seq", json_integer((json_int_t)n->hop->seq));
            out_time(n->hop->ts_us, t, sizeof(t));
            json_object_set_new(hop, "time", json_string(t));
            set_str(hop, "consumer", n->hop->dst.service);
            set_str(hop, "consumer_host", n->hop->dst.host);
            json_object_set_new(hop, "deliveries", json_integer(n->nhops));
            json_object_set_new(node, "delivered", hop);
        }
        if (n->is_origin)
            json_object_set_new(node, "origin", json_true());
        if (n->is_fault)
            json_object_set_new(node, "fault", json_true());
        if (n->note)
            json_object_set_new(node, "note", json_string(n->note));
        json_array_append_new(chain, node);
    }
    json_object_set_new(o, "chain", chain);
    dump(f, o);
}

void out_json_summary(FILE *f, const struct rca_summary *s, const struct stats *st)
{
    json_t *o = json_object();
    if (!o)
        return;
    json_object_set_new(o, "type", json_string("summary"));
    json_object_set_new(o, "operations", json_integer((json_int_t)s->operations));
    json_object_set_new(o, "failed", json_integer((json_int_t)s->failed));
    json_object_set_new(o, "ok", json_integer((json_int_t)s->ok));
    json_object_set_new(o, "background", json_integer((json_int_t)s->background));
    json_object_set_new(o, "events", json_integer((json_int_t)s->events));
    json_object_set_new(o, "open_chains", json_integer((json_int_t)s->open_chains));
    json_object_set_new(o, "evicted", json_integer((json_int_t)s->evicted));
    if (st) {
        const char *names[STATS_MAX_COUNTERS + 1];
        uint64_t vals[STATS_MAX_COUNTERS + 1];
        size_t n = stats_list(st, names, vals, STATS_MAX_COUNTERS + 1);
        if (n > STATS_MAX_COUNTERS + 1)
            n = STATS_MAX_COUNTERS + 1;
        json_t *c = json_object();
        for (size_t i = 0; i < n; i++)
            if (vals[i])
                json_object_set_new(c, names[i], json_integer((json_int_t)vals[i]));
        json_object_set_new(o, "counters", c);
    }
    dump(f, o);
}
