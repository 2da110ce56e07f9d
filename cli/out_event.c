/* out_event.c -- text and JSON rendering of events (see out_event.h). */
#include "cli/out_event.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "capture/flow.h"

/* n decimal digits of v into p (zero-padded). */
static void digits(char *p, unsigned v, int n)
{
    while (n-- > 0) {
        p[n] = (char)('0' + v % 10);
        v /= 10;
    }
}

void out_time(uint64_t ts_us, char *buf, size_t len)
{
    uint64_t s = ts_us / 1000000u;
    if (s < 253402300800ull && len >= 28) { /* before year 10000: by hand */
        /* days to civil date (proleptic Gregorian; H. Hinnant's
         * civil_from_days, eras of 400 years from 0000-03-01) */
        uint64_t z = s / 86400u + 719468u;
        unsigned sod = (unsigned)(s % 86400u);
        uint64_t era = z / 146097u;
        unsigned doe = (unsigned)(z - era * 146097u);
        unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        unsigned mp = (5 * doy + 2) / 153;
        unsigned day = doy - (153 * mp + 2) / 5 + 1;
        unsigned mon = mp < 10 ? mp + 3 : mp - 9;
        unsigned year = (unsigned)(era * 400u + yoe) + (mon <= 2);
        digits(buf, year, 4);
        buf[4] = '-';
        digits(buf + 5, mon, 2);
        buf[7] = '-';
        digits(buf + 8, day, 2);
        buf[10] = 'T';
        digits(buf + 11, sod / 3600, 2);
        buf[13] = ':';
        digits(buf + 14, sod / 60 % 60, 2);
        buf[16] = ':';
        digits(buf + 17, sod % 60, 2);
        buf[19] = '.';
        digits(buf + 20, (unsigned)(ts_us % 1000000u), 6);
        buf[26] = 'Z';
        buf[27] = '\0';
        return;
    }
    time_t sec = (time_t)s;
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

/* v: a string of the event, which outlives the line */
static void set_str(struct jw *w, struct jw_node *o, const char *k, const char *v)
{
    if (v)
        jw_set(w, o, k, jw_str_ref(w, v));
}

/* Members are set in key order (strcmp): the writer sorts them, which
 * then costs one comparison each instead of a pass over those before. */
static struct jw_node *peer_json(struct jw *w, const struct ev_peer *p)
{
    struct jw_node *o = jw_object(w);
    jw_set(w, o, "addr", jw_str_ref(w, p->addr));
    set_str(w, o, "host", p->host);
    jw_set(w, o, "port", jw_int(w, p->port));
    set_str(w, o, "service", p->service);
    return o;
}

struct jw_node *out_event_json(struct jw *w, const struct event *ev)
{
    struct jw_node *o = jw_object(w);
    if (!o)
        return NULL;
    char t[40];
    out_time(ev->ts_us, t, sizeof(t));
    int http_resp = ev->kind == EV_HTTP_RESPONSE;
    int amqp_reply = ev->kind == EV_AMQP_RETURN || ev->kind == EV_AMQP_CLOSE;
    if (ev->kind == EV_CONN)
        jw_set(w, o, "conn_event", jw_str_ref(w, flow_event_name((enum flow_event)ev->conn_event)));
    set_str(w, o, "ctx_project", ev->ctx_project);
    set_str(w, o, "ctx_user", ev->ctx_user);
    jw_set(w, o, "dst", peer_json(w, &ev->dst));
    if (ev->kind == EV_RPC_REPLY)
        jw_set(w, o, "ending", jw_bool(w, ev->ending));
    if (ev->error_class || ev->error_message || ev->error_module) {
        struct jw_node *e = jw_object(w);
        set_str(w, e, "class", ev->error_class);
        set_str(w, e, "message", ev->error_message);
        set_str(w, e, "module", ev->error_module);
        set_str(w, e, "traceback", ev->traceback);
        jw_set(w, o, "error", e);
    }
    set_str(w, o, "event_type", ev->event_type);
    set_str(w, o, "exchange", ev->exchange);
    if (ev->expiration_ms >= 0)
        jw_set(w, o, "expiration_ms", jw_int(w, ev->expiration_ms));
    if (ev->kind == EV_RPC_REPLY)
        jw_set(w, o, "failure", jw_bool(w, ev->failure));
    if (ev->fanout)
        jw_set(w, o, "fanout", jw_bool(w, 1));
    set_str(w, o, "fault_message", ev->fault_message);
    if (ev->flags) {
        static const struct {
            unsigned flag;
            const char *name;
        } fl[] = {{EV_F_INCOMPLETE, "incomplete"}, {EV_F_BODY_TRUNC, "body_truncated"},
                  {EV_F_DUP, "duplicate"},         {EV_F_COMPRESSED, "compressed"},
                  {EV_F_BAD_BODY, "bad_body"},     {EV_F_NO_REQUEST, "no_request"}};
        struct jw_node *a = jw_array(w);
        for (size_t i = 0; i < sizeof(fl) / sizeof(fl[0]); i++)
            if (ev->flags & fl[i].flag)
                jw_push(w, a, jw_str_ref(w, fl[i].name));
        jw_set(w, o, "flags", a);
    }
    jw_set(w, o, "flow", jw_int(w, (long long)ev->flow_id));
    set_str(w, o, "global_request_id", ev->global_request_id);
    jw_set(w, o, "kind", jw_str_ref(w, event_kind_name(ev->kind)));
    set_str(w, o, "method", ev->method);
    set_str(w, o, "msg_id", ev->msg_id);
    set_str(w, o, "operation", ev->operation);
    set_str(w, o, "path", ev->path);
    set_str(w, o, "priority", ev->priority);
    set_str(w, o, "publisher_id", ev->publisher_id);
    set_str(w, o, "query", ev->query);
    if (http_resp)
        set_str(w, o, "reason", ev->reason);
    if (amqp_reply)
        jw_set(w, o, "reply_code", jw_int(w, ev->reply_code));
    set_str(w, o, "reply_q", ev->reply_q);
    if (amqp_reply)
        set_str(w, o, "reply_text", ev->reply_text);
    set_str(w, o, "request_id", ev->request_id);
    if (http_resp)
        jw_set(w, o, "request_ts_us", jw_int(w, (long long)ev->req_ts_us));
    set_str(w, o, "resource_state", ev->resource_state);
    if (ev->nuuids) {
        struct jw_node *a = jw_array(w);
        for (size_t i = 0; i < ev->nuuids; i++) {
            struct jw_node *u = jw_object(w);
            jw_set(w, u, "id", jw_str_ref(w, ev->uuids[i].id));
            jw_set(w, u, "type", jw_str_ref(w, event_res_name(ev->uuids[i].res)));
            jw_push(w, a, u);
        }
        jw_set(w, o, "resources", a);
    }
    set_str(w, o, "routing_key", ev->routing_key);
    set_str(w, o, "rpc_method", ev->rpc_method);
    set_str(w, o, "rpc_namespace", ev->rpc_namespace);
    set_str(w, o, "rpc_version", ev->rpc_version);
    jw_set(w, o, "seq", jw_int(w, (long long)ev->seq));
    jw_set(w, o, "src", peer_json(w, &ev->src));
    if (http_resp)
        jw_set(w, o, "status", jw_int(w, ev->status));
    set_str(w, o, "target_server", ev->target_server);
    jw_set(w, o, "time", jw_str(w, t));
    if (ev->timeout_s >= 0)
        jw_set(w, o, "timeout_s", jw_int(w, ev->timeout_s));
    set_str(w, o, "topic", ev->topic);
    set_str(w, o, "topic_service", ev->topic_service);
    jw_set(w, o, "ts_us", jw_int(w, (long long)ev->ts_us));
    set_str(w, o, "unique_id", ev->unique_id);
    set_str(w, o, "user_agent", ev->user_agent);
    if (ev->verb != EV_VERB_NONE)
        jw_set(w, o, "verb", jw_str_ref(w, event_verb_name(ev->verb)));
    return o;
}
