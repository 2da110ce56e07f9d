/* map.c -- the service map's writers (see map.h). */
#include "cli/out/map.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli/jw.h"
#include "cli/out/event.h"
#include "rca/sketch.h"
#include "rca/timeline.h"

static double secs(uint64_t us)
{
    return (double)us / 1e6;
}

/* The length rates are per: the window's, else the capture's (>= 1 s). */
static double period_s(const struct graph *g, uint64_t first_us, uint64_t last_us)
{
    if (graph_window_us(g))
        return secs(graph_window_us(g));
    double s = last_us > first_us ? secs(last_us - first_us) : 1.0;
    return s < 1.0 ? 1.0 : s;
}

static const char *kind_name(uint8_t k)
{
    return timeline_kind_name((enum tl_kind)k);
}

static void fmt_dur(char *buf, size_t len, const struct sketch *s, double q)
{
    if (!s->n) {
        snprintf(buf, len, "-");
        return;
    }
    uint64_t v = sketch_quantile(s, q);
    if (v < 1000)
        snprintf(buf, len, "%" PRIu64 "us", v);
    else if (v < 1000000)
        snprintf(buf, len, "%.1fms", (double)v / 1e3);
    else
        snprintf(buf, len, "%.2fs", (double)v / 1e6);
}

void out_map_text(FILE *f, struct graph *g, const struct cloud *m, uint64_t first_us,
                  uint64_t last_us)
{
    graph_sort(g, m);
    double per = period_s(g, first_us, last_us);
    uint64_t win = UINT64_MAX;
    char a[128], b[128], p50[24], p95[24], p99[24], w95[24];
    for (size_t i = 0; i < graph_count(g); i++) {
        const struct graph_edge *e = graph_at(g, i);
        if (e->window != win) {
            win = e->window;
            if (graph_window_us(g)) {
                char t0[40], t1[40];
                out_time(win * graph_window_us(g), t0, sizeof(t0));
                out_time((win + 1) * graph_window_us(g), t1, sizeof(t1));
                fprintf(f, "%swindow %s .. %s\n", i ? "\n" : "", t0, t1);
            }
            fprintf(f, "%-28s %-28s %-8s %-40s %6s %7s %5s %6s %8s %8s %8s %8s\n", "CLIENT",
                    "SERVER", "KIND", "OPERATION", "CALLS", "RATE/s", "ERR", "ERR%", "P50",
                    "P95", "P99", "WAIT95");
        }
        fmt_dur(p50, sizeof(p50), &e->lat, 0.5);
        fmt_dur(p95, sizeof(p95), &e->lat, 0.95);
        fmt_dur(p99, sizeof(p99), &e->lat, 0.99);
        fmt_dur(w95, sizeof(w95), &e->wait, 0.95);
        fprintf(f, "%-28s %-28s %-8s %-40.40s %6" PRIu64 " %7.3f %5" PRIu64 " %5.1f%% %8s %8s %8s %8s\n",
                graph_node_name(m, &e->from, a, sizeof(a)), graph_node_name(m, &e->to, b, sizeof(b)),
                kind_name(e->kind), e->label, e->calls, (double)e->calls / per, e->errors,
                e->calls ? 100.0 * (double)e->errors / (double)e->calls : 0.0, p50, p95, p99, w95);
    }
    if (!graph_count(g))
        fputs("(no service-to-service traffic decoded)\n", f);
}

static struct jw_node *quantiles(struct jw *w, const struct sketch *s)
{
    if (!s->n)
        return jw_null(w);
    struct jw_node *o = jw_object(w);
    jw_set(w, o, "n", jw_int(w, (long long)s->n));
    jw_set(w, o, "p50", jw_int(w, (long long)sketch_quantile(s, 0.5)));
    jw_set(w, o, "p95", jw_int(w, (long long)sketch_quantile(s, 0.95)));
    jw_set(w, o, "p99", jw_int(w, (long long)sketch_quantile(s, 0.99)));
    jw_set(w, o, "max", jw_int(w, (long long)s->max_us));
    return o;
}

/* Rates as thousandths (JSON integers only): calls per 1000 s. */
void out_map_json(FILE *f, struct graph *g, const struct cloud *m, uint64_t first_us,
                  uint64_t last_us)
{
    graph_sort(g, m);
    double per = period_s(g, first_us, last_us);
    struct jw *w = jw_thread_writer();
    for (size_t i = 0; i < cloud_count(m); i++) {
        const struct cloud_inst *x = cloud_at(m, i);
        if (x->alias || x->embedded)
            continue;
        char name[128];
        struct jw_node *o = jw_object(w);
        jw_set(w, o, "type", jw_str(w, "node"));
        jw_set(w, o, "name", jw_str(w, cloud_inst_name(x, name, sizeof(name))));
        jw_set(w, o, "service", jw_str(w, x->service));
        jw_set(w, o, "host", x->host[0] ? jw_str(w, x->host) : jw_null(w));
        jw_set(w, o, "addr", x->addr[0] ? jw_str(w, x->addr) : jw_null(w));
        const struct cloud_span *sp = cloud_current_span(x);
        jw_set(w, o, "state", jw_str(w, sp ? cloud_state_name((enum cloud_state)sp->state) : "up"));
        jw_write_line(w, f, o);
    }
    char a[128], b[128];
    for (size_t i = 0; i < graph_count(g); i++) {
        const struct graph_edge *e = graph_at(g, i);
        struct jw_node *o = jw_object(w);
        jw_set(w, o, "type", jw_str(w, "edge"));
        if (graph_window_us(g)) {
            out_json_time(w, o, "window_start", e->window * graph_window_us(g));
            out_json_time(w, o, "window_end", (e->window + 1) * graph_window_us(g));
        }
        jw_set(w, o, "client", jw_str(w, graph_node_name(m, &e->from, a, sizeof(a))));
        jw_set(w, o, "server", jw_str(w, graph_node_name(m, &e->to, b, sizeof(b))));
        jw_set(w, o, "client_service", jw_str(w, graph_node_service(m, &e->from)));
        jw_set(w, o, "server_service", jw_str(w, graph_node_service(m, &e->to)));
        jw_set(w, o, "kind", jw_str(w, kind_name(e->kind)));
        jw_set(w, o, "operation", jw_str(w, e->label));
        jw_set(w, o, "calls", jw_int(w, (long long)e->calls));
        jw_set(w, o, "calls_per_ks", jw_int(w, (long long)((double)e->calls * 1000.0 / per + 0.5)));
        jw_set(w, o, "errors", jw_int(w, (long long)e->errors));
        jw_set(w, o, "client_errors", jw_int(w, (long long)e->client_errors));
        jw_set(w, o, "answered", jw_int(w, (long long)e->answered));
        out_json_time(w, o, "first", e->first_us);
        out_json_time(w, o, "last", e->last_us);
        jw_set(w, o, "latency_us", quantiles(w, &e->lat));
        jw_set(w, o, "queue_wait_us", quantiles(w, &e->wait));
        jw_write_line(w, f, o);
    }
}

/* ---- DOT: pairs of nodes ---- */

struct pair {
    char from[128], to[128];
    uint64_t calls, errors;
    struct sketch lat;
    char top[96]; /* the busiest operation */
    uint64_t top_calls;
};

static int pair_cmp(const void *x, const void *y)
{
    const struct pair *a = x, *b = y;
    int c = strcmp(a->from, b->from);
    return c ? c : strcmp(a->to, b->to);
}

static void dot_id(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        if ((unsigned char)*s >= 0x20)
            fputc(*s, f);
    }
    fputc('"', f);
}

void out_map_dot(FILE *f, struct graph *g, const struct cloud *m, uint64_t first_us,
                 uint64_t last_us)
{
    graph_sort(g, m);
    double per = secs(last_us > first_us ? last_us - first_us : 1000000);
    if (per < 1)
        per = 1;
    size_t n = graph_count(g), np = 0;
    struct pair *p = calloc(n ? n : 1, sizeof(*p));
    if (!p)
        return;
    for (size_t i = 0; i < n; i++) {
        const struct graph_edge *e = graph_at(g, i);
        char a[128], b[128];
        graph_node_name(m, &e->from, a, sizeof(a));
        graph_node_name(m, &e->to, b, sizeof(b));
        size_t k = 0;
        for (; k < np; k++)
            if (!strcmp(p[k].from, a) && !strcmp(p[k].to, b))
                break;
        if (k == np) {
            snprintf(p[k].from, sizeof(p[k].from), "%s", a);
            snprintf(p[k].to, sizeof(p[k].to), "%s", b);
            np++;
        }
        p[k].calls += e->calls;
        p[k].errors += e->errors;
        sketch_merge(&p[k].lat, &e->lat);
        if (e->calls > p[k].top_calls) {
            p[k].top_calls = e->calls;
            snprintf(p[k].top, sizeof(p[k].top), "%s", e->label);
        }
    }
    qsort(p, np, sizeof(*p), pair_cmp);
    fputs("digraph osrca_service_map {\n"
          "  rankdir=LR;\n"
          "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#eef3fb\", fontname=\"Helvetica\"];\n"
          "  edge [fontname=\"Helvetica\", fontsize=10];\n",
          f);
    for (size_t i = 0; i < cloud_count(m); i++) {
        const struct cloud_inst *x = cloud_at(m, i);
        if (x->alias || x->embedded)
            continue;
        char name[128];
        cloud_inst_name(x, name, sizeof(name));
        int used = 0;
        for (size_t k = 0; k < np && !used; k++)
            used = !strcmp(p[k].from, name) || !strcmp(p[k].to, name);
        if (!used)
            continue;
        const struct cloud_span *sp = cloud_current_span(x);
        fputs("  ", f);
        dot_id(f, name);
        fprintf(f, "%s;\n", sp ? " [fillcolor=\"#f6c6c6\"]" : "");
    }
    for (size_t k = 0; k < np; k++) {
        double er = p[k].calls ? (double)p[k].errors / (double)p[k].calls : 0;
        const char *col = er >= 0.05 ? "#d62728" : er >= 0.01 ? "#ff7f0e" : er > 0 ? "#bcbd22"
                                                                                   : "#2ca02c";
        char p95[24];
        fmt_dur(p95, sizeof(p95), &p[k].lat, 0.95);
        fputs("  ", f);
        dot_id(f, p[k].from);
        fputs(" -> ", f);
        dot_id(f, p[k].to);
        fprintf(f, " [color=\"%s\", penwidth=%.1f, label=\"%.2f/s p95 %s", col,
                er >= 0.05 ? 2.5 : 1.2, (double)p[k].calls / per, p95);
        if (p[k].errors)
            fprintf(f, "\\nerr %.1f%%", 100.0 * er);
        fputs("\", tooltip=", f);
        char tip[200];
        snprintf(tip, sizeof(tip), "%" PRIu64 " calls, %" PRIu64 " errors; busiest: %s",
                 p[k].calls, p[k].errors, p[k].top);
        dot_id(f, tip);
        fputs("];\n", f);
        sketch_free(&p[k].lat);
    }
    fputs("}\n", f);
    free(p);
}

/* ---- Prometheus ---- */

void out_prom_label(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '\\' || *s == '"')
            fprintf(f, "\\%c", *s);
        else if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
}

static void labels(FILE *f, const struct cloud *m, const struct graph_edge *e)
{
    char a[128], b[128];
    graph_node_name(m, &e->from, a, sizeof(a));
    graph_node_name(m, &e->to, b, sizeof(b));
    const char *ah = strchr(a, '@'), *bh = strchr(b, '@');
    fputs("{client=\"", f);
    out_prom_label(f, graph_node_service(m, &e->from));
    fputs("\",server=\"", f);
    out_prom_label(f, graph_node_service(m, &e->to));
    fputs("\",client_host_name=\"", f);
    out_prom_label(f, ah ? ah + 1 : "");
    fputs("\",server_host_name=\"", f);
    out_prom_label(f, bh ? bh + 1 : "");
    fprintf(f, "\",connection_type=\"%s\",osrca_kind=\"%s\",osrca_operation=\"",
            e->kind == TL_HTTP ? "" : "messaging_system", kind_name(e->kind));
    out_prom_label(f, e->label);
    fputc('"', f);
}

static void histogram(FILE *f, const char *name, const struct cloud *m, const struct graph_edge *e,
                      const uint64_t *b, const struct sketch *s)
{
    uint64_t cum = 0;
    for (size_t k = 0; k <= GRAPH_BUCKETS; k++) {
        cum += b[k];
        fprintf(f, "%s_bucket", name);
        labels(f, m, e);
        if (k < GRAPH_BUCKETS)
            fprintf(f, ",le=\"%g\"} %" PRIu64 "\n", graph_bucket_le[k], cum);
        else
            fprintf(f, ",le=\"+Inf\"} %" PRIu64 "\n", cum);
    }
    fprintf(f, "%s_sum", name);
    labels(f, m, e);
    fprintf(f, "} %.6f\n%s_count", secs(s->sum_us), name);
    labels(f, m, e);
    fprintf(f, "} %" PRIu64 "\n", cum);
}

void out_map_prometheus(FILE *f, struct graph *g, const struct cloud *m)
{
    graph_sort(g, m);
    size_t n = graph_count(g);
    static const char *const counters[2][2] = {
        {"traces_service_graph_request_total",
         "Requests between two nodes of the service map (osrca: REST calls, RPC calls and "
         "casts, notifications, connection attempts seen on the wire)."},
        {"traces_service_graph_request_failed_total",
         "Failed requests between two nodes (5xx, left unanswered, RPC failure or timeout, "
         "connection refused or unanswered)."},
    };
    for (int c = 0; c < 2; c++) {
        fprintf(f, "# HELP %s %s\n# TYPE %s counter\n", counters[c][0], counters[c][1],
                counters[c][0]);
        for (size_t i = 0; i < n; i++) {
            const struct graph_edge *e = graph_at(g, i);
            fputs(counters[c][0], f);
            labels(f, m, e);
            fprintf(f, "} %" PRIu64 "\n", c ? e->errors : e->calls);
        }
    }
    fputs("# HELP traces_service_graph_request_server_seconds Time from a request (or RPC call) "
          "to its answer (or reply), as seen on the wire.\n"
          "# TYPE traces_service_graph_request_server_seconds histogram\n",
          f);
    for (size_t i = 0; i < n; i++) {
        const struct graph_edge *e = graph_at(g, i);
        if (e->kind == TL_HTTP || e->kind == TL_CALL)
            histogram(f, "traces_service_graph_request_server_seconds", m, e, e->buckets, &e->lat);
    }
    fputs("# HELP traces_service_graph_request_messaging_system_seconds Time an RPC message waited "
          "in its queue, from its publish to its delivery.\n"
          "# TYPE traces_service_graph_request_messaging_system_seconds histogram\n",
          f);
    for (size_t i = 0; i < n; i++) {
        const struct graph_edge *e = graph_at(g, i);
        if (e->kind == TL_CALL && e->wait.n)
            histogram(f, "traces_service_graph_request_messaging_system_seconds", m, e,
                      e->wait_buckets, &e->wait);
        else if (e->kind == TL_CAST && e->lat.n)
            histogram(f, "traces_service_graph_request_messaging_system_seconds", m, e,
                      e->buckets, &e->lat);
    }
}
