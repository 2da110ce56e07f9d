/* event.c -- text and JSON rendering of events (see event.h). */
#include "cli/out/event.h"

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

void out_json_time(struct jw *w, struct jw_node *o, const char *k, uint64_t ts_us)
{
    char t[40];
    if (!ts_us) {
        jw_set(w, o, k, jw_null(w));
        return;
    }
    out_time(ts_us, t, sizeof(t));
    jw_set(w, o, k, jw_str(w, t));
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
        if (ev->quiet_since_us) {
            char q[40];
            out_time(ev->quiet_since_us, q, sizeof(q));
            fprintf(f, " (nothing from it since %s)", q);
        }
        break;
    case EV_AMQP_OPEN:
        fputs("connection opened", f);
        break;
    case EV_AMQP_END:
        fprintf(f, "connection ended: %s", event_end_name((enum ev_end)ev->end_how));
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
    if (ev->resource_task)
        fprintf(f, " task=%s", ev->resource_task);
    if (ev->flags & EV_F_INCOMPLETE)
        fputs(" [incomplete]", f);
    if (ev->flags & EV_F_BAD_BODY)
        fputs(" [bad-body]", f);
}

/* The event's JSON is written as text at once (jw_t_*), members in key
 * order (strcmp), as the node writer would sort them: an event is most of
 * a verdict line, and building and sorting a node per field was most of
 * writing it. */
static void peer_json(struct jw *w, const char *key, const struct ev_peer *p)
{
    jw_t_open(w, key, 0);
    jw_t_str(w, "addr", p->addr);
    jw_t_str(w, "host", p->host);
    jw_t_int(w, "port", p->port);
    jw_t_str(w, "service", p->service);
    jw_t_close(w);
}

struct jw_node *out_event_json(struct jw *w, const struct event *ev, const char *type)
{
    char t[40];
    out_time(ev->ts_us, t, sizeof(t));
    int http_resp = ev->kind == EV_HTTP_RESPONSE;
    int amqp_reply = ev->kind == EV_AMQP_RETURN || ev->kind == EV_AMQP_CLOSE;
    jw_t_begin(w);
    jw_t_open(w, NULL, 0);
    if (ev->kind == EV_CONN)
        jw_t_str(w, "conn_event", flow_event_name((enum flow_event)ev->conn_event));
    jw_t_str(w, "ctx_project", ev->ctx_project);
    jw_t_str(w, "ctx_user", ev->ctx_user);
    peer_json(w, "dst", &ev->dst);
    if (ev->end_how)
        jw_t_str(w, "end_how", event_end_name((enum ev_end)ev->end_how));
    if (ev->kind == EV_RPC_REPLY)
        jw_t_bool(w, "ending", ev->ending);
    if (ev->error_class || ev->error_message || ev->error_module) {
        jw_t_open(w, "error", 0);
        jw_t_str(w, "class", ev->error_class);
        jw_t_str(w, "message", ev->error_message);
        jw_t_str(w, "module", ev->error_module);
        jw_t_str(w, "traceback", ev->traceback);
        jw_t_close(w);
    }
    jw_t_str(w, "event_type", ev->event_type);
    jw_t_str(w, "exchange", ev->exchange);
    if (ev->expiration_ms >= 0)
        jw_t_int(w, "expiration_ms", ev->expiration_ms);
    if (ev->kind == EV_RPC_REPLY)
        jw_t_bool(w, "failure", ev->failure);
    if (ev->fanout)
        jw_t_bool(w, "fanout", 1);
    jw_t_str(w, "fault_message", ev->fault_message);
    if (ev->flags) {
        static const struct {
            unsigned flag;
            const char *name;
        } fl[] = {{EV_F_INCOMPLETE, "incomplete"}, {EV_F_BODY_TRUNC, "body_truncated"},
                  {EV_F_DUP, "duplicate"},         {EV_F_COMPRESSED, "compressed"},
                  {EV_F_BAD_BODY, "bad_body"},     {EV_F_NO_REQUEST, "no_request"},
                  {EV_F_LISTED, "listed"},         {EV_F_NO_ANSWER, "no_answer"}};
        jw_t_open(w, "flags", 1);
        for (size_t i = 0; i < sizeof(fl) / sizeof(fl[0]); i++)
            if (ev->flags & fl[i].flag)
                jw_t_str(w, NULL, fl[i].name);
        jw_t_close(w);
    }
    jw_t_int(w, "flow", (long long)ev->flow_id);
    jw_t_str(w, "global_request_id", ev->global_request_id);
    jw_t_str(w, "kind", event_kind_name(ev->kind));
    jw_t_str(w, "method", ev->method);
    jw_t_str(w, "msg_id", ev->msg_id);
    jw_t_str(w, "operation", ev->operation);
    jw_t_str(w, "path", ev->path);
    jw_t_str(w, "priority", ev->priority);
    jw_t_str(w, "publisher_id", ev->publisher_id);
    jw_t_str(w, "query", ev->query);
    if (ev->kind == EV_CONN && ev->quiet_since_us) {
        char q[40];
        out_time(ev->quiet_since_us, q, sizeof(q));
        jw_t_str(w, "quiet_since", q);
    }
    if (http_resp)
        jw_t_str(w, "reason", ev->reason);
    if (amqp_reply)
        jw_t_int(w, "reply_code", ev->reply_code);
    jw_t_str(w, "reply_q", ev->reply_q);
    if (amqp_reply)
        jw_t_str(w, "reply_text", ev->reply_text);
    jw_t_str(w, "request_id", ev->request_id);
    if (http_resp)
        jw_t_int(w, "request_ts_us", (long long)ev->req_ts_us);
    jw_t_str(w, "resource_state", ev->resource_state);
    jw_t_str(w, "resource_task", ev->resource_task);
    if (ev->nuuids) {
        jw_t_open(w, "resources", 1);
        for (size_t i = 0; i < ev->nuuids; i++) {
            jw_t_open(w, NULL, 0);
            jw_t_str(w, "id", ev->uuids[i].id);
            jw_t_str(w, "type", event_res_name(ev->uuids[i].res));
            jw_t_close(w);
        }
        jw_t_close(w);
    }
    jw_t_str(w, "routing_key", ev->routing_key);
    jw_t_str(w, "rpc_method", ev->rpc_method);
    jw_t_str(w, "rpc_namespace", ev->rpc_namespace);
    jw_t_str(w, "rpc_version", ev->rpc_version);
    jw_t_int(w, "seq", (long long)ev->seq);
    peer_json(w, "src", &ev->src);
    if (http_resp)
        jw_t_int(w, "status", ev->status);
    jw_t_str(w, "target_server", ev->target_server);
    jw_t_str(w, "time", t);
    if (ev->timeout_s >= 0)
        jw_t_int(w, "timeout_s", ev->timeout_s);
    jw_t_str(w, "topic", ev->topic);
    jw_t_str(w, "topic_service", ev->topic_service);
    jw_t_int(w, "ts_us", (long long)ev->ts_us);
    jw_t_str(w, "type", type);
    jw_t_str(w, "unique_id", ev->unique_id);
    jw_t_str(w, "user_agent", ev->user_agent);
    if (ev->verb != EV_VERB_NONE)
        jw_t_str(w, "verb", event_verb_name(ev->verb));
    jw_t_close(w);
    return jw_t_end(w);
}
