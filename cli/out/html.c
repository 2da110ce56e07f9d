/* html.c -- the self-contained incident report (see html.h). */
#include "cli/out/html.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "capture/stats.h"
#include "cli/out/event.h"
#include "cli/out/health.h"
#include "cli/out/perf.h"
#include "rca/graph.h"
#include "rca/incident.h"
#include "rca/rca.h"
#include "rca/sketch.h"
#include "rca/timeline.h"

struct html_report {
    FILE *ops;          /* the operations' sections, rendered as they came */
    uint64_t nfailed, nslow;
};

struct html_report *html_report_new(void)
{
    struct html_report *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->ops = tmpfile();
    if (!h->ops) {
        free(h);
        return NULL;
    }
    return h;
}

void html_report_free(struct html_report *h)
{
    if (!h)
        return;
    if (h->ops)
        fclose(h->ops);
    free(h);
}

static void esc(FILE *f, const char *s)
{
    out_xml_text(f, s ? s : "-", 0);
}

/* <tr><th>k</th><td>v</td></tr>, v escaped; nothing when v is NULL. */
static void row(FILE *f, const char *k, const char *v, const char *cls)
{
    if (!v || !*v)
        return;
    fprintf(f, "<tr><th>%s</th><td%s%s%s>", k, cls ? " class=\"" : "", cls ? cls : "",
            cls ? "\"" : "");
    esc(f, v);
    fputs("</td></tr>\n", f);
}

void html_report_add(struct html_report *h, const struct report *r)
{
    if (!r->failed && !r->slow)
        return;
    FILE *f = h->ops;
    uint64_t n = ++h->nfailed;
    h->nslow += r->slow;
    char t[40], cause[768];
    out_time(r->start_ts_us, t, sizeof(t));
    report_cause_line(r, cause, sizeof(cause));
    const char *verdict = r->slow ? "slow" : "failed";
    fprintf(f, "<section class=\"op %s\" id=\"op-%" PRIu64 "\" data-verdict=\"%s\""
               " data-service=\"",
            verdict, n, verdict);
    esc(f, r->root_cause.service);
    fputs("\" data-request-id=\"", f);
    esc(f, r->request_id);
    fputs("\">\n<h3><span class=\"tag\">", f);
    fputs(r->slow ? "SLOW" : "FAILED", f);
    fputs("</span> ", f);
    esc(f, r->operation ? r->operation : "operation");
    fputs(" <small>", f);
    esc(f, t);
    fputs("</small></h3>\n<table class=\"kv\">\n", f);
    row(f, "request id", r->request_id, "mono");
    row(f, "status", r->status, NULL);
    row(f, "user saw", r->user_saw, NULL);
    fputs("<tr><th>root cause</th><td class=\"cause\">", f);
    fputs("<span class=\"svc\">", f);
    esc(f, r->root_cause.service ? r->root_cause.service : "unknown");
    if (r->root_cause.host) {
        fputs("@", f);
        esc(f, r->root_cause.host);
    }
    fputs("</span> ", f);
    esc(f, cause);
    fputs("</td></tr>\n", f);
    row(f, "category", r->category, NULL);
    row(f, "rule", r->rule, NULL);
    row(f, "hint", r->hint, "hint");
    if (r->slow) {
        char w[160];
        snprintf(w, sizeof(w), "%.2f s, usually %.2f s (%" PRIu64 " operations)",
                 (double)r->perf.wall_us / 1e6, (double)r->perf.usual_us / 1e6,
                 r->perf.samples);
        row(f, "took", w, NULL);
        row(f, "held by", r->perf.hop, NULL);
        row(f, "why", r->perf.why, NULL);
    }
    if (r->incident) {
        char inc[48];
        snprintf(inc, sizeof(inc), "#%" PRIu32, r->incident);
        fprintf(f, "<tr><th>incident</th><td><a href=\"#incident-%" PRIu32 "\">%s</a></td></tr>\n",
                r->incident, inc);
    }
    if (r->session.user) {
        char who[160];
        snprintf(who, sizeof(who), "%s (project %s) from %s", r->session.user,
                 r->session.project ? r->session.project : "-",
                 r->session.client ? r->session.client : "-");
        row(f, "client", who, NULL);
    }
    fputs("</table>\n", f);
    if (r->timeline && r->timeline->nhops) {
        fputs("<div class=\"wf\">", f);
        out_waterfall_svg_element(f, r);
        fputs("</div>\n", f);
    }
    fputs("</section>\n", f);
}

static const char STYLE[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}"
    "h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;margin-top:32px}"
    "h3{font-size:15px;margin:8px 0}small{color:#666;font-weight:normal}"
    "table{border-collapse:collapse;margin:6px 0}td,th{padding:2px 8px;text-align:left;"
    "vertical-align:top;border-bottom:1px solid #eee}th{color:#555;font-weight:600}"
    ".mono,pre{font-family:monospace}pre{background:#f6f6f6;padding:8px;overflow-x:auto}"
    ".op{border:1px solid #ddd;border-left:6px solid #c33;padding:8px 12px;margin:14px 0}"
    ".op.slow{border-left-color:#e90}.tag{color:#fff;background:#c33;padding:1px 6px;"
    "border-radius:3px;font-size:12px}.slow .tag{background:#e90}"
    ".svc{font-weight:bold;color:#b00}.hint{color:#444;font-style:italic}"
    ".wf{overflow-x:auto}.bad{background:#fde8e8;color:#900;font-weight:600}"
    ".warn{background:#fff4e0}.ok{color:#070}.num{text-align:right}";

static void html_time(FILE *f, uint64_t us)
{
    char t[40];
    out_time(us, t, sizeof(t));
    esc(f, us ? t : "-");
}

static void incidents(FILE *f, const struct incident_table *it)
{
    size_t n = it ? incident_count(it) : 0;
    fprintf(f, "<h2 id=\"incidents\">Incidents (%zu)</h2>\n", n);
    if (!n) {
        fputs("<p class=\"ok\">No incident.</p>\n", f);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const struct incident *x = incident_at(it, i);
        fprintf(f, "<section class=\"incident\" id=\"incident-%" PRIu32 "\">\n<h3>Incident %" PRIu32
                   ": <span class=\"svc\">",
                x->id, x->id);
        esc(f, x->service);
        if (x->host[0]) {
            fputc('@', f);
            esc(f, x->host);
        }
        fputs("</span> ", f);
        esc(f, x->category);
        fputs("</h3>\n<table class=\"kv\">", f);
        row(f, "reading", x->kind, NULL);
        row(f, "address", x->addr, "mono");
        fputs("<tr><th>since</th><td>", f);
        html_time(f, x->start_us);
        fputs("</td></tr><tr><th>until</th><td>", f);
        if (x->end_us)
            html_time(f, x->end_us);
        else
            fputs("still open", f);
        fprintf(f, "</td></tr><tr><th>evidence</th><td>%" PRIu32 " pieces on the wire, %" PRIu32
                   " background failures</td></tr>\n",
                x->evidence, x->background);
        fprintf(f, "<tr><th>affected</th><td>%" PRIu32 " operation%s</td></tr></table>\n",
                x->verdicts, x->verdicts == 1 ? "" : "s");
        if (x->nops) {
            fputs("<table><tr><th>started</th><th>operation</th><th>request id</th></tr>\n", f);
            for (size_t k = 0; k < x->nops; k++) {
                fputs("<tr><td>", f);
                html_time(f, x->ops[k].ts_us);
                fputs("</td><td>", f);
                esc(f, x->ops[k].operation);
                fputs("</td><td class=\"mono\">", f);
                esc(f, x->ops[k].request_id[0] ? x->ops[k].request_id : "-");
                fputs("</td></tr>\n", f);
            }
            fputs("</table>\n", f);
        }
        fputs("</section>\n", f);
    }
}

static void service_map(FILE *f, struct graph *g, const struct cloud *m)
{
    size_t n = g ? graph_count(g) : 0;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += graph_at(g, i)->errors > 0;
    fprintf(f, "<h2 id=\"map\">Service map (%zu edges, %zu with errors)</h2>\n", n, bad);
    if (!n)
        return;
    graph_sort(g, m);
    fputs("<table class=\"map\"><tr><th>client</th><th>server</th><th>kind</th>"
          "<th>operation</th><th class=\"num\">calls</th><th class=\"num\">errors</th>"
          "<th class=\"num\">p50</th><th class=\"num\">p95</th><th class=\"num\">queue p95</th>"
          "</tr>\n",
          f);
    for (size_t i = 0; i < n; i++) {
        const struct graph_edge *e = graph_at(g, i);
        char a[160], b[160];
        double ratio = e->calls ? (double)e->errors / (double)e->calls : 0;
        fprintf(f, "<tr class=\"%s\"><td>", e->errors ? "bad" : e->client_errors ? "warn" : "");
        esc(f, graph_node_name(m, &e->from, a, sizeof(a)));
        fputs("</td><td>", f);
        esc(f, graph_node_name(m, &e->to, b, sizeof(b)));
        fputs("</td><td>", f);
        esc(f, timeline_kind_name((enum tl_kind)e->kind));
        fputs("</td><td>", f);
        esc(f, e->label);
        fprintf(f, "</td><td class=\"num\">%" PRIu64 "</td><td class=\"num\">%" PRIu64
                   " (%.0f%%)</td><td class=\"num\">%.3f s</td><td class=\"num\">%.3f s</td>"
                   "<td class=\"num\">",
                e->calls, e->errors, ratio * 100, (double)sketch_quantile(&e->lat, 0.5) / 1e6,
                (double)sketch_quantile(&e->lat, 0.95) / 1e6);
        if (e->wait.n)
            fprintf(f, "%.3f s", (double)sketch_quantile(&e->wait, 0.95) / 1e6);
        else
            fputs("-", f);
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

/* Is counter name about the capture's completeness (drops, gaps, damage)? */
static int completeness(const char *name)
{
    static const char *const words[] = {"drop", "gap", "damaged", "trunc", "incomplete",
                                         "evicted", "read_errors", "missed", "lost"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strstr(name, words[i]))
            return 1;
    return 0;
}

static void counters(FILE *f, const struct stats *st)
{
    const char *names[STATS_MAX_COUNTERS + 1];
    uint64_t vals[STATS_MAX_COUNTERS + 1];
    size_t n = st ? stats_list(st, names, vals, STATS_MAX_COUNTERS + 1) : 0;
    size_t lossy = 0;
    for (size_t i = 0; i < n; i++)
        lossy += vals[i] && completeness(names[i]);
    fprintf(f, "<h2 id=\"capture\">Capture completeness</h2>\n<p class=\"%s\">%s</p>\n",
            lossy ? "bad" : "ok",
            lossy ? "Some of the traffic was lost or cut: verdicts near the losses rest on "
                    "less evidence."
                  : "No drop, gap or damage counted: the verdicts rest on the whole capture.");
    fputs("<table class=\"counters\"><tr><th>counter</th><th class=\"num\">value</th></tr>\n",
          f);
    for (size_t i = 0; i < n; i++) {
        if (!vals[i] && !completeness(names[i]))
            continue;
        if (!completeness(names[i]) && strncmp(names[i], "capture.", 8) &&
            strncmp(names[i], "flow.", 5) && strncmp(names[i], "rca.", 4))
            continue;
        fprintf(f, "<tr class=\"%s\"><td class=\"mono\">", vals[i] && completeness(names[i])
                                                                 ? "bad" : "");
        esc(f, names[i]);
        fprintf(f, "</td><td class=\"num\">%" PRIu64 "</td></tr>\n", vals[i]);
    }
    fputs("</table>\n", f);
    size_t nd = st ? stats_diag_count(st) : 0;
    if (nd) {
        fputs("<h3>Diagnostics</h3>\n<pre>", f);
        for (size_t i = 0; i < nd; i++) {
            const char *counter;
            uint64_t ts;
            const char *msg = stats_diag_msg(st, i, &counter, &ts);
            html_time(f, ts);
            fputc(' ', f);
            esc(f, counter);
            fputs(": ", f);
            esc(f, msg);
            fputc('\n', f);
        }
        fputs("</pre>\n", f);
    }
}

static void health(FILE *f, const struct cloud *m)
{
    fputs("<h2 id=\"health\">Service instances whose health changed</h2>\n<pre>", f);
    char *buf = NULL;
    size_t n = 0;
    FILE *mf = open_memstream(&buf, &n);
    if (mf) {
        out_health_text(mf, m, 0);
        fclose(mf);
    }
    if (buf && n)
        out_xml_text(f, buf, 1);
    else
        fputs("none", f);
    free(buf);
    fputs("</pre>\n", f);
}

void html_report_write(FILE *f, struct html_report *h, const struct html_input *in,
                       const struct incident_table *it, const struct cloud *m, struct graph *g,
                       const struct stats *st, const struct rca_summary *sum)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta name=\"generator\" content=\"osrca ",
          f);
    esc(f, in->version);
    fputs("\">\n<title>osrca report: ", f);
    esc(f, in->source);
    fprintf(f, "</title>\n<style>%s</style>\n</head><body>\n<h1>osrca incident report</h1>\n",
            STYLE);
    fputs("<table class=\"kv summary\">", f);
    row(f, "capture", in->source, "mono");
    fputs("<tr><th>from</th><td>", f);
    html_time(f, in->first_us);
    fputs("</td></tr><tr><th>to</th><td>", f);
    html_time(f, in->last_us);
    fputs("</td></tr>\n", f);
    fprintf(f, "<tr><th>operations</th><td>%" PRIu64 " (%" PRIu64 " failed, %" PRIu64
               " slow, %" PRIu64 " ok), %" PRIu64 " background chains</td></tr>\n",
            sum->operations, sum->failed, sum->slow, sum->ok, sum->background);
    fprintf(f, "<tr><th>incidents</th><td>%zu</td></tr></table>\n",
            it ? incident_count(it) : (size_t)0);
    fputs("<p><a href=\"#incidents\">Incidents</a> · <a href=\"#operations\">Operations</a> · "
          "<a href=\"#health\">Health</a> · <a href=\"#map\">Service map</a> · "
          "<a href=\"#capture\">Capture completeness</a></p>\n",
          f);
    incidents(f, it);
    fprintf(f, "<h2 id=\"operations\">Failed and slow operations (%" PRIu64 ")</h2>\n",
            h->nfailed);
    if (!h->nfailed)
        fputs("<p class=\"ok\">No operation failed or was slow.</p>\n", f);
    char buf[65536];
    size_t n;
    fflush(h->ops);
    rewind(h->ops);
    while ((n = fread(buf, 1, sizeof(buf), h->ops)) > 0)
        fwrite(buf, 1, n, f);
    health(f, m);
    service_map(f, g, m);
    counters(f, st);
    fputs("<p><small>Made by osrca ", f);
    esc(f, in->version);
    fputs(" from the capture alone: nothing in this page was asked of the cloud.</small></p>\n"
          "</body></html>\n",
          f);
}
