/* perf.c -- slow verdicts and waterfalls (see perf.h). */
#include "cli/out/perf.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli/out/event.h"
#include "rca/timeline.h"

static struct jw_node *str_or_null(struct jw *w, const char *s)
{
    return s ? jw_str(w, s) : jw_null(w);
}

static double secs(uint64_t us)
{
    return (double)us / 1e6;
}

struct jw_node *out_perf_json(struct jw *w, const struct report *r)
{
    const struct report_perf *p = &r->perf;
    struct jw_node *o = jw_object(w);
    jw_set(w, o, "wall_us", jw_int(w, (long long)p->wall_us));
    jw_set(w, o, "usual_us", jw_int(w, (long long)p->usual_us));
    jw_set(w, o, "samples", jw_int(w, (long long)p->samples));
    jw_set(w, o, "excess_us", jw_int(w, (long long)p->excess_us));
    struct jw_node *hop = jw_object(w);
    jw_set(w, hop, "kind", str_or_null(w, p->hop_kind));
    jw_set(w, hop, "label", str_or_null(w, p->hop_label));
    jw_set(w, hop, "text", str_or_null(w, p->hop));
    out_json_time(w, hop, "start", p->hop_t0_us);
    jw_set(w, hop, "duration_us", jw_int(w, (long long)p->hop_us));
    jw_set(w, hop, "usual_us", jw_int(w, (long long)p->hop_usual_us));
    jw_set(w, o, "hop", hop);
    jw_set(w, o, "why", str_or_null(w, p->why));
    struct jw_node *sh = jw_array(w);
    for (size_t i = 0; i < p->nshares; i++) {
        const struct report_share *s = &p->shares[i];
        struct jw_node *x = jw_object(w);
        jw_set(w, x, "service", jw_str(w, s->service ? s->service : "unseen"));
        jw_set(w, x, "host", s->host[0] ? jw_str(w, s->host) : jw_null(w));
        jw_set(w, x, "how", jw_str(w, timeline_how_name((enum tl_how)s->how)));
        jw_set(w, x, "held_us", jw_int(w, (long long)s->held_us));
        jw_set(w, x, "usual_us", jw_int(w, (long long)s->usual_us));
        jw_push(w, sh, x);
    }
    jw_set(w, o, "shares", sh);
    return o;
}

void out_perf_text(FILE *f, const struct report *r)
{
    const struct report_perf *p = &r->perf;
    fprintf(f, "  took:        %.1f s, usually %.1f s (median of %" PRIu64 "): %.1f s more\n",
            secs(p->wall_us), secs(p->usual_us), p->samples, secs(p->excess_us));
    if (p->hop)
        fprintf(f, "  the hop:     %s\n", p->hop);
    if (p->why)
        fprintf(f, "  why:         %s\n", p->why);
    fputs("  time went:  ", f);
    for (size_t i = 0; i < p->nshares; i++) {
        const struct report_share *s = &p->shares[i];
        fprintf(f, "%s %s%s%s %.1f s (%.0f%%", i ? "," : "", s->service ? s->service : "unseen",
                s->host[0] ? "@" : "", s->host, secs(s->held_us),
                p->wall_us ? 100.0 * (double)s->held_us / (double)p->wall_us : 0.0);
        if (s->usual_us)
            fprintf(f, ", usually %.1f s", secs(s->usual_us));
        fputc(')', f);
    }
    fputc('\n', f);
}

/* ---- waterfall ---- */

static const char *kind_short(uint8_t k)
{
    static const char *const n[] = {"HTTP", "CALL", "CAST", "NOTE", "CONN"};
    return k < 5 ? n[k] : "?";
}

/* The hops of tl in order of their start (a merged chain holds them out
 * of order): indices into idx (tl->nhops of them, or none when out of
 * memory). */
static size_t *hop_order(const struct timeline *tl)
{
    size_t *idx = malloc((tl->nhops ? tl->nhops : 1) * sizeof(*idx));
    if (!idx)
        return NULL;
    for (size_t i = 0; i < tl->nhops; i++)
        idx[i] = i;
    for (size_t i = 1; i < tl->nhops; i++)
        for (size_t j = i; j > 0 && tl->hops[idx[j]].t0 < tl->hops[idx[j - 1]].t0; j--) {
            size_t t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
    return idx;
}

/* The time a waterfall spans: the operation's wall time, widened to every
 * hop (a hop may begin before the operation or end after it). */
static void time_axis(const struct timeline *tl, uint64_t *t0, uint64_t *t1)
{
    *t0 = tl->start;
    *t1 = tl->end;
    for (size_t i = 0; i < tl->nhops; i++) {
        uint64_t e = tl->hops[i].t1 ? tl->hops[i].t1 : tl->hops[i].t0;
        if (tl->hops[i].t0 < *t0)
            *t0 = tl->hops[i].t0;
        if (e > *t1)
            *t1 = e;
    }
}

/* The holders of tl in order of first appearance: names into rows (at
 * most max), and for each hold the row it is drawn on (row_of). */
#define MAX_ROWS 48
static size_t holder_rows(const struct timeline *tl, char rows[][112], size_t max, int *row_of,
                          uint64_t *held)
{
    size_t n = 0;
    for (size_t i = 0; i < tl->nholds; i++) {
        const struct tl_hold *x = &tl->holds[i];
        char who[112];
        if (x->how == TL_UNSEEN)
            snprintf(who, sizeof(who), "(out of the wire's sight)");
        else
            timeline_peer_name(&x->who, who, sizeof(who));
        size_t k = 0;
        while (k < n && strcmp(rows[k], who))
            k++;
        if (k == n) {
            if (n == max) {
                row_of[i] = -1;
                continue;
            }
            memcpy(rows[n], who, sizeof(who));
            held[n] = 0;
            n++;
        }
        row_of[i] = (int)k;
        held[k] += x->t1 - x->t0;
    }
    return n;
}

static void hop_name(const struct tl_hop *h, char *buf, size_t len)
{
    char a[96], b[96];
    timeline_peer_name(&h->client, a, sizeof(a));
    timeline_peer_name(&h->server, b, sizeof(b));
    snprintf(buf, len, "%s %s -> %s %s", kind_short(h->kind), a, b, h->label);
}

void out_waterfall_text(FILE *f, const struct report *r, int width)
{
    const struct timeline *tl = r->timeline;
    if (!tl || !tl->nhops)
        return;
    if (width < 20)
        width = 20;
    uint64_t t0, t1;
    time_axis(tl, &t0, &t1);
    double span = t1 > t0 ? (double)(t1 - t0) : 1.0;
    fprintf(f, "  waterfall (%.2f s; '.' queue wait, '=' call or request until its answer, "
               "'|' a message; notifications left out):\n", secs(t1 - t0));
    char bar[512], name[320];
    size_t *ord = hop_order(tl);
    for (size_t i = 0; ord && i < tl->nhops; i++) {
        const struct tl_hop *h = &tl->hops[ord[i]];
        if (h->kind == TL_NOTIFY)
            continue;
        memset(bar, ' ', (size_t)width);
        bar[width] = '\0';
        int a = (int)((double)(h->t0 - t0) / span * (width - 1));
        uint64_t end = h->t1 ? h->t1 : h->t0;
        int b = (int)((double)(end - t0) / span * (width - 1));
        int wq = h->wait_us > 0 ? (int)((double)h->wait_us / span * (width - 1)) : 0;
        for (int k = a; k <= b && k < width; k++)
            bar[k] = k < a + wq ? '.' : '=';
        if (a == b)
            bar[a] = '|';
        hop_name(h, name, sizeof(name));
        fprintf(f, "  %8.3f %8.3f%s [%s] %s\n", secs(h->t0 - t0),
                h->t1 ? secs(h->t1 - h->t0) : 0.0, h->t1 || h->kind == TL_NOTIFY ? " " : "?",
                bar, name);
    }
    free(ord);
    fputs("  held by ('#' its stretches; the time each holder kept the operation):\n", f);
    int *row_of = malloc((tl->nholds ? tl->nholds : 1) * sizeof(*row_of));
    char rows[MAX_ROWS][112];
    uint64_t held[MAX_ROWS];
    size_t nr = row_of ? holder_rows(tl, rows, MAX_ROWS, row_of, held) : 0;
    for (size_t k = 0; k < nr; k++) {
        memset(bar, ' ', (size_t)width);
        bar[width] = '\0';
        for (size_t i = 0; i < tl->nholds; i++) {
            const struct tl_hold *x = &tl->holds[i];
            if (row_of[i] != (int)k)
                continue;
            int a = (int)((double)(x->t0 - t0) / span * (width - 1));
            int b = (int)((double)(x->t1 - t0) / span * (width - 1));
            for (int c = a; c <= b && c < width; c++)
                bar[c] = '#';
        }
        fprintf(f, "  %17.3f  [%s] %s\n", secs(held[k]), bar, rows[k]);
    }
    free(row_of);
}

void out_xml_text(FILE *f, const char *s, int keep_nl)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            if ((unsigned char)*s >= 0x20 || (keep_nl && *s == '\n'))
                fputc(*s, f);
        }
    }
}

static void xml_text(FILE *f, const char *s)
{
    out_xml_text(f, s, 0);
}

void out_waterfall_svg(FILE *f, const struct report *r)
{
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
    out_waterfall_svg_element(f, r);
}

void out_waterfall_svg_element(FILE *f, const struct report *r)
{
    const struct timeline *tl = r->timeline;
    size_t nh = tl ? tl->nhops : 0, nx = tl ? tl->nholds : 0;
    uint64_t t0 = 0, t1 = 0;
    if (tl)
        time_axis(tl, &t0, &t1);
    const int left = 520, plot = 760, row = 16, top = 64;
    double span = t1 > t0 ? (double)(t1 - t0) : 1.0;
    size_t shown = 0;
    for (size_t i = 0; i < nh; i++)
        shown += tl->hops[i].kind != TL_NOTIFY;
    int *row_of = malloc((nx ? nx : 1) * sizeof(*row_of));
    char rows[MAX_ROWS][112];
    uint64_t held[MAX_ROWS];
    size_t nr = row_of && tl ? holder_rows(tl, rows, MAX_ROWS, row_of, held) : 0;
    int height = top + (int)(shown + nr + 3) * row + 24;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "font-family=\"monospace\" font-size=\"11\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            left + plot + 20, height);
    fputs("<text x=\"8\" y=\"18\" font-size=\"14\" font-weight=\"bold\">", f);
    xml_text(f, r->operation ? r->operation : "operation");
    fprintf(f, " %s, %.2f s", r->slow ? "(slow)" : r->failed ? "(failed)" : "", secs(t1 - t0));
    if (r->request_id) {
        fputs(" ", f);
        xml_text(f, r->request_id);
    }
    fputs("</text>\n", f);
    if (r->slow && r->perf.hop) {
        fputs("<text x=\"8\" y=\"36\" fill=\"#b00\">", f);
        xml_text(f, r->perf.hop);
        fputs("</text>\n", f);
    }
    /* the time axis: ten ticks */
    for (int k = 0; k <= 10; k++) {
        int x = left + plot * k / 10;
        fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>"
                   "<text x=\"%d\" y=\"%d\" fill=\"#666\" text-anchor=\"middle\">%.1fs</text>\n",
                x, top - 8, x, height - 20, x, top - 12, secs((uint64_t)(span * k / 10)));
    }
    int y = top;
    size_t *ord = nh ? hop_order(tl) : NULL;
    for (size_t i = 0; ord && i < nh; i++) {
        const struct tl_hop *h = &tl->hops[ord[i]];
        if (h->kind == TL_NOTIFY)
            continue;
        char name[320];
        hop_name(h, name, sizeof(name));
        /* the origin of the verdict: the message carrying its evidence,
         * or the hop that holds a slow operation's excess */
        int origin = r->slow ? (h->t0 == r->perf.hop_t0_us && r->perf.hop_label &&
                                !strcmp(h->label, r->perf.hop_label))
                             : r->failed && r->root_cause.seq &&
                                   (h->seq0 == r->root_cause.seq || h->seq1 == r->root_cause.seq);
        if (origin) {
            size_t nl = strlen(name);
            snprintf(name + nl, sizeof(name) - nl, "  <= origin");
        }
        double a = (double)(h->t0 - t0) / span * plot;
        double b = (double)((h->t1 ? h->t1 : h->t0) - t0) / span * plot;
        double q = h->wait_us > 0 ? (double)h->wait_us / span * plot : 0;
        const char *col = h->error ? "#d33" : h->kind == TL_HTTP ? "#4a7" : h->kind == TL_CALL
                                                                            ? "#47c"
                                                                            : "#a7c";
        fprintf(f, origin ? "<text x=\"8\" y=\"%d\" class=\"origin\" fill=\"#b00\" "
                            "font-weight=\"bold\">"
                          : "<text x=\"8\" y=\"%d\">",
                y + 11);
        xml_text(f, name);
        fputs("</text>\n", f);
        if (q > 0)
            fprintf(f, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"10\" fill=\"#ccc\"/>\n",
                    left + a, y + 2, q < 1 ? 1 : q);
        fprintf(f, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"10\" fill=\"%s\"%s>"
                   "<title>%.3f s</title></rect>\n",
                left + a + q, y + 2, b - a - q < 1.5 ? 1.5 : b - a - q, col,
                origin ? " stroke=\"#000\" stroke-width=\"2\"" : "",
                h->t1 ? secs(h->t1 - h->t0) : 0.0);
        y += row;
    }
    free(ord);
    y += row;
    fprintf(f, "<text x=\"8\" y=\"%d\" font-weight=\"bold\">held by (seconds kept)</text>\n",
            y + 11);
    y += row;
    for (size_t k = 0; k < nr; k++, y += row) {
        fprintf(f, "<text x=\"8\" y=\"%d\">", y + 11);
        xml_text(f, rows[k]);
        fprintf(f, " %.2f s</text>\n", secs(held[k]));
        for (size_t i = 0; i < nx; i++) {
            const struct tl_hold *x = &tl->holds[i];
            if (row_of[i] != (int)k)
                continue;
            double a = (double)(x->t0 - t0) / span * plot;
            double b = (double)(x->t1 - t0) / span * plot;
            fprintf(f, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"10\" fill=\"%s\">"
                       "<title>%s %.3f s</title></rect>\n",
                    left + a, y + 2, b - a < 1.5 ? 1.5 : b - a,
                    x->how == TL_QUEUE ? "#e90" : x->how == TL_ANSWER ? "#c44" : "#888",
                    timeline_how_name((enum tl_how)x->how), secs(x->t1 - x->t0));
        }
    }
    free(row_of);
    fputs("</svg>\n", f);
}
