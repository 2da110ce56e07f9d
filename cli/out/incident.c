/* incident.c -- incidents as text and JSON lines (see incident.h). */
#include "cli/out/incident.h"

#include <inttypes.h>

#include "cli/jw.h"
#include "cli/out/event.h"

static const char *or_dash(const char *s)
{
    return s && *s ? s : "-";
}

const char *out_incident_change(int what)
{
    return what == INCIDENT_OPENED ? "opened" : what == INCIDENT_RESOLVED ? "resolved" : "updated";
}

void out_incident_text(FILE *f, const struct incident *inc)
{
    char a[40], b[40];
    out_time(inc->start_us, a, sizeof(a));
    fprintf(f, "INCIDENT %" PRIu32 "  %s@%s%s%s%s  %s\n", inc->id, inc->service,
            inc->host[0] ? inc->host : or_dash(inc->addr), inc->host[0] && inc->addr[0] ? " (" : "",
            inc->host[0] && inc->addr[0] ? inc->addr : "", inc->host[0] && inc->addr[0] ? ")" : "",
            inc->category);
    fprintf(f, "  since:       %s", a);
    if (inc->end_us) {
        out_time(inc->end_us, b, sizeof(b));
        fprintf(f, "   resolved %s (%.1f s)\n", b, (double)(inc->end_us - inc->start_us) / 1e6);
    } else if (inc->back_us) {
        out_time(inc->back_us, b, sizeof(b));
        fprintf(f, "   back at %s, still open\n", b);
    } else {
        fputs("   still open\n", f);
    }
    fprintf(f, "  evidence:    %s%s%" PRIu32 " piece%s on the wire, %" PRIu32
               " background failure%s\n",
            inc->kind, inc->kind[0] ? ", " : "", inc->evidence, inc->evidence == 1 ? "" : "s",
            inc->background, inc->background == 1 ? "" : "s");
    fprintf(f, "  affected:    %" PRIu32 " operation%s\n", inc->verdicts,
            inc->verdicts == 1 ? "" : "s");
    for (size_t i = 0; i < inc->nops; i++) {
        const struct incident_op *op = &inc->ops[i];
        out_time(op->ts_us, a, sizeof(a));
        fprintf(f, "     %s  %-16s %s%s%s\n", a, op->operation, or_dash(op->request_id),
                op->session_login[0] ? "  login " : "", op->session_login);
    }
    if (inc->verdicts > inc->nops)
        fprintf(f, "     ... and %" PRIu32 " more\n", inc->verdicts - (uint32_t)inc->nops);
    fputc('\n', f);
}

static void set_str(struct jw *w, struct jw_node *o, const char *k, const char *v)
{
    jw_set(w, o, k, v && *v ? jw_str(w, v) : jw_null(w));
}

void out_incident_json(FILE *f, const struct incident *inc, const char *event)
{
    struct jw *w = jw_thread_writer();
    struct jw_node *o = jw_object(w);
    jw_set(w, o, "type", jw_str(w, "incident"));
    if (event)
        jw_set(w, o, "event", jw_str(w, event));
    jw_set(w, o, "id", jw_int(w, inc->id));
    set_str(w, o, "service", inc->service);
    set_str(w, o, "host", inc->host[0] ? inc->host : inc->addr);
    set_str(w, o, "host_name", inc->host);
    set_str(w, o, "addr", inc->addr);
    set_str(w, o, "category", inc->category);
    set_str(w, o, "evidence_kind", inc->kind);
    jw_set(w, o, "state", jw_str(w, inc->end_us ? "resolved" : "open"));
    out_json_time(w, o, "start", inc->start_us);
    out_json_time(w, o, "end", inc->end_us);
    out_json_time(w, o, "back", inc->back_us);
    out_json_time(w, o, "last", inc->last_us);
    jw_set(w, o, "evidence", jw_int(w, inc->evidence));
    jw_set(w, o, "background_failures", jw_int(w, inc->background));
    jw_set(w, o, "operations", jw_int(w, inc->verdicts));
    struct jw_node *ops = jw_array(w);
    for (size_t i = 0; i < inc->nops; i++) {
        const struct incident_op *op = &inc->ops[i];
        struct jw_node *x = jw_object(w);
        set_str(w, x, "operation", op->operation);
        set_str(w, x, "request_id", op->request_id);
        set_str(w, x, "login_request_id", op->session_login);
        out_json_time(w, x, "start", op->ts_us);
        jw_push(w, ops, x);
    }
    jw_set(w, o, "affected", ops);
    jw_write_line(w, f, o);
}

void out_incident_alert(FILE *f, const struct incident *inc)
{
    struct jw *w = jw_thread_writer();
    struct jw_node *list = jw_array(w);
    struct jw_node *a = jw_object(w);
    struct jw_node *labels = jw_object(w);
    char id[16], summary[256], desc[1024];
    snprintf(id, sizeof(id), "%" PRIu32, inc->id);
    const char *host = inc->host[0] ? inc->host : inc->addr;
    jw_set(w, labels, "alertname", jw_str(w, "OpenStackServiceFault"));
    set_str(w, labels, "service", inc->service);
    set_str(w, labels, "host", host);
    set_str(w, labels, "category", inc->category);
    jw_set(w, labels, "severity", jw_str(w, inc->verdicts ? "critical" : "warning"));
    jw_set(w, labels, "incident", jw_str(w, id));
    jw_set(w, labels, "source", jw_str(w, "osrca"));
    jw_set(w, a, "labels", labels);
    struct jw_node *ann = jw_object(w);
    snprintf(summary, sizeof(summary), "%s on %s: %s (%s)", inc->service, host[0] ? host : "?",
             inc->category, inc->kind);
    int k = snprintf(desc, sizeof(desc),
                     "osrca incident %" PRIu32 ": %" PRIu32 " user operation%s failed, %" PRIu32
                     " piece%s of evidence on the wire",
                     inc->id, inc->verdicts, inc->verdicts == 1 ? "" : "s", inc->evidence,
                     inc->evidence == 1 ? "" : "s");
    for (size_t i = 0; i < inc->nops && i < 5 && k > 0 && (size_t)k < sizeof(desc); i++)
        k += snprintf(desc + k, sizeof(desc) - (size_t)k, "%s%s %s", i ? ", " : "; e.g. ",
                      inc->ops[i].operation,
                      inc->ops[i].request_id[0] ? inc->ops[i].request_id : "");
    jw_set(w, ann, "summary", jw_str(w, summary));
    jw_set(w, ann, "description", jw_str(w, desc));
    jw_set(w, a, "annotations", ann);
    char t[40];
    out_time(inc->start_us, t, sizeof(t));
    jw_set(w, a, "startsAt", jw_str(w, t));
    if (inc->end_us) {
        out_time(inc->end_us, t, sizeof(t));
        jw_set(w, a, "endsAt", jw_str(w, t));
    }
    jw_push(w, list, a);
    jw_write_line(w, f, list);
}
