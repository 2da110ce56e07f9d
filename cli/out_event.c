/* out_event.c -- text and JSON rendering of events (see out_event.h). */
#include "cli/out_event.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "capture/flow.h"

void out_time(uint64_t ts_us, char *buf, size_t len)
{
    time_t sec = (time_t)(ts_us / 1000000u);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char day[24];
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%06uZ", day, (unsigned)(ts_us % 1000000u));
}

static const char *or_dash(const char *s)
{
    return s && *s ? s : "-";
}

static void peer_text(FILE *f, const struct ev_peer *p)
{
    fputs(or_dash(p->service), f);
    if (p->host && *p->host)
        fprintf(f, "@%s", p->host);
    if (strchr(p->addr, ':'))
        fprintf(f, " [%s]:%u", p->addr, p->port);
    else
        fprintf(f, " %s:%u", p->addr, p->port);
}

/* Print a string that may contain control characters on one line. */
static void put_clean(FILE *f, const char *s, size_t max)
{
    size_t i = 0;
    for (; s[i] && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        fputc(c < 0x20 || c == 0x7f ? ' ' : c, f);
    }
    if (s[i])
        fputs("...", f);
}

void out_event_summary(FILE *f, const struct event *ev)
{
    switch (ev->kind) {
    case EV_HTTP_REQUEST:
        fprintf(f, "%s %s", or_dash(ev->method), or_dash(ev->path));
        if (ev->query)
            fprintf(f, "?%s", ev->query);
        break;
    case EV_HTTP_RESPONSE:
        fprintf(f, "%d %s (%s %s)", ev->status, ev->reason ? ev->reason : "",
                or_dash(ev->method), or_dash(ev->path));
        break;
    case EV_RPC_CALL:
    case EV_RPC_CAST:
        fprintf(f, "%s %s%s%s", event_verb_name(ev->verb), or_dash(ev->routing_key),
                ev->fanout ? " (fanout " : " ", ev->fanout ? or_dash(ev->exchange) : "");
        if (ev->fanout)
            fputs(") ", f);
        if (ev->rpc_namespace)
            fprintf(f, "%s.", ev->rpc_namespace);
        fputs(or_dash(ev->rpc_method), f);
        break;
    case EV_RPC_REPLY:
        fprintf(f, "%s %s %s", event_verb_name(ev->verb), or_dash(ev->routing_key),
                ev->failure ? "failure" : (ev->ending ? "result" : "heartbeat"));
        break;
    case EV_NOTIFICATION:
        fprintf(f, "%s %s %s %s", event_verb_name(ev->verb), or_dash(ev->priority),
                or_dash(ev->event_type), or_dash(ev->publisher_id));
        break;
    case EV_AMQP_RETURN:
    case EV_AMQP_CLOSE:
        fprintf(f, "%u %s", ev->reply_code, or_dash(ev->reply_text));
        if (ev->routing_key)
            fprintf(f, " (%s)", ev->routing_key);
        break;
    case EV_AMQP_BLOCKED:
        fprintf(f, "blocked %s", or_dash(ev->reply_text));
        break;
    case EV_CONN:
        fputs(flow_event_name((enum flow_event)ev->conn_event), f);
        break;
    default:
        break;
    }
}

void out_event_text(FILE *f, const struct event *ev)
{
    char t[40];
    out_time(ev->ts_us, t, sizeof(t));
    fprintf(f, "%s #%" PRIu64 " %-13s ", t, ev->seq, event_kind_name(ev->kind));
    peer_text(f, &ev->src);
    fputs(" -> ", f);
    peer_text(f, &ev->dst);
    fputs("  ", f);
    out_event_summary(f, ev);
    if (ev->operation)
        fprintf(f, " op=\"%s\"", ev->operation);
    if (ev->request_id)
        fprintf(f, " rid=%s", ev->request_id);
    if (ev->global_request_id)
        fprintf(f, " gid=%s", ev->global_request_id);
    if (ev->msg_id)
        fprintf(f, " msg_id=%s", ev->msg_id);
    if (ev->error_class || ev->error_message) {
        fprintf(f, " error=%s", or_dash(ev->error_class));
        if (ev->error_message) {
            fputs(": \"", f);
            put_clean(f, ev->error_message, 160);
            fputc('"', f);
        }
    }
    if (ev->resource_state)
        fprintf(f, " state=%s", ev->resource_state);
    if (ev->flags & EV_F_INCOMPLETE)
        fputs(" [incomplete]", f);
    if (ev->flags & EV_F_BAD_BODY)
        fputs(" [bad-body]", f);
}

static void set_str(json_t *o, const char *k, const char *v)
{
    if (v)
        json_object_set_new(o, k, json_string(v));
}

static json_t *peer_json(const struct ev_peer *p)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "addr", json_string(p->addr));
    json_object_set_new(o, "port", json_integer(p->port));
    set_str(o, "service", p->service);
    set_str(o, "host", p->host);
    return o;
}

json_t *out_event_json(const struct event *ev)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    char t[40];
    out_time(ev->ts_us, t, sizeof(t));
    json_object_set_new(o, "seq", json_integer((json_int_t)ev->seq));
    json_object_set_new(o, "time", json_string(t));
    json_object_set_new(o, "ts_us", json_integer((json_int_t)ev->ts_us));
    json_object_set_new(o, "kind", json_string(event_kind_name(ev->kind)));
    json_object_set_new(o, "flow", json_integer((json_int_t)ev->flow_id));
    json_object_set_new(o, "src", peer_json(&ev->src));
    json_object_set_new(o, "dst", peer_json(&ev->dst));
    if (ev->verb != EV_VERB_NONE)
        json_object_set_new(o, "verb", json_string(event_verb_name(ev->verb)));
    set_str(o, "method", ev->method);
    set_str(o, "path", ev->path);
    set_str(o, "query", ev->query);
    if (ev->kind == EV_HTTP_RESPONSE) {
        json_object_set_new(o, "status", json_integer(ev->status));
        set_str(o, "reason", ev->reason);
        json_object_set_new(o, "request_ts_us", json_integer((json_int_t)ev->req_ts_us));
    }
    set_str(o, "user_agent", ev->user_agent);
    set_str(o, "operation", ev->operation);
    set_str(o, "request_id", ev->request_id);
    set_str(o, "global_request_id", ev->global_request_id);
    set_str(o, "exchange", ev->exchange);
    set_str(o, "routing_key", ev->routing_key);
    set_str(o, "topic", ev->topic);
    set_str(o, "target_server", ev->target_server);
    set_str(o, "topic_service", ev->topic_service);
    if (ev->fanout)
        json_object_set_new(o, "fanout", json_true());
    set_str(o, "rpc_method", ev->rpc_method);
    set_str(o, "rpc_namespace", ev->rpc_namespace);
    set_str(o, "rpc_version", ev->rpc_version);
    set_str(o, "msg_id", ev->msg_id);
    set_str(o, "reply_q", ev->reply_q);
    set_str(o, "unique_id", ev->unique_id);
    if (ev->timeout_s >= 0)
        json_object_set_new(o, "timeout_s", json_integer(ev->timeout_s));
    if (ev->expiration_ms >= 0)
        json_object_set_new(o, "expiration_ms", json_integer(ev->expiration_ms));
    if (ev->kind == EV_RPC_REPLY) {
        json_object_set_new(o, "ending", json_boolean(ev->ending));
        json_object_set_new(o, "failure", json_boolean(ev->failure));
    }
    set_str(o, "publisher_id", ev->publisher_id);
    set_str(o, "event_type", ev->event_type);
    set_str(o, "priority", ev->priority);
    set_str(o, "ctx_user", ev->ctx_user);
    set_str(o, "ctx_project", ev->ctx_project);
    if (ev->kind == EV_AMQP_RETURN || ev->kind == EV_AMQP_CLOSE) {
        json_object_set_new(o, "reply_code", json_integer(ev->reply_code));
        set_str(o, "reply_text", ev->reply_text);
    }
    if (ev->kind == EV_CONN)
        json_object_set_new(o, "conn_event",
                            json_string(flow_event_name((enum flow_event)ev->conn_event)));
    if (ev->error_class || ev->error_message || ev->error_module) {
        json_t *e = json_object();
        set_str(e, "class", ev->error_class);
        set_str(e, "module", ev->error_module);
        set_str(e, "message", ev->error_message);
        set_str(e, "traceback", ev->traceback);
        json_object_set_new(o, "error", e);
    }
    set_str(o, "resource_state", ev->resource_state);
    set_str(o, "fault_message", ev->fault_message);
    if (ev->nuuids) {
        json_t *a = json_array();
        for (size_t i = 0; i < ev->nuuids; i++) {
            json_t *u = json_object();
            json_object_set_new(u, "id", json_string(ev->uuids[i].id));
            json_object_set_new(u, "type", json_string(event_res_name(ev->uuids[i].res)));
            json_array_append_new(a, u);
        }
        json_object_set_new(o, "resources", a);
    }
    if (ev->flags) {
        json_t *a = json_array();
        if (ev->flags & EV_F_INCOMPLETE)
            json_array_append_new(a, json_string("incomplete"));
        if (ev->flags & EV_F_BODY_TRUNC)
            json_array_append_new(a, json_string("body_truncated"));
        if (ev->flags & EV_F_DUP)
            json_array_append_new(a, json_string("duplicate"));
        if (ev->flags & EV_F_COMPRESSED)
            json_array_append_new(a, json_string("compressed"));
        if (ev->flags & EV_F_BAD_BODY)
            json_array_append_new(a, json_string("bad_body"));
        if (ev->flags & EV_F_NO_REQUEST)
            json_array_append_new(a, json_string("no_request"));
        json_object_set_new(o, "flags", a);
    }
    return o;
}
