/* dot.c -- DOT rendering of a verdict (see dot.h). */
#include "cli/out/dot.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli/out/event.h"

/* Write s as the inside of a DOT double-quoted string. */
static void dot_escape(FILE *f, const char *s, size_t max)
{
    size_t i = 0;
    for (; s && s[i] && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fputc('\\', f);
        fputc(c < 0x20 ? ' ' : c, f);
    }
    if (s && s[i])
        fputs("...", f);
}

/* The message summary of an event as a string (via a memory stream). */
static void node_label(FILE *f, const struct report_node *n)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (m) {
        const struct event *ev = n->ev;
        fprintf(m, "#%" PRIu64 " %s -> %s\n", ev->seq, ev->src.service ? ev->src.service : "?",
                ev->dst.service ? ev->dst.service : (n->hop && n->hop->dst.service
                                                         ? n->hop->dst.service
                                                         : "?"));
        out_event_summary(m, ev);
        if (ev->error_class)
            fprintf(m, "\n%s", ev->error_class);
        if (n->note)
            fprintf(m, "\n[%s]", n->note);
        fclose(m);
        /* keep line breaks as DOT \n */
        for (char *p = buf; p && *p; p++) {
            if (*p == '\n') {
                fputs("\\n", f);
                continue;
            }
            char one[2] = {*p, 0};
            dot_escape(f, one, 1);
        }
        free(buf);
    }
}

void out_dot_report(FILE *f, const struct report *r)
{
    fprintf(f, "digraph \"chain_%" PRIu64 "\" {\n", r->root_seq);
    fputs("  rankdir=LR;\n  node [shape=box, fontname=\"monospace\", fontsize=10];\n", f);
    fputs("  label=\"", f);
    dot_escape(f, r->operation, 200);
    fputs(" ", f);
    dot_escape(f, r->request_id, 80);
    fputs(": ", f);
    dot_escape(f, r->user_saw, 200);
    if (r->failed) {
        char line[1024];
        report_cause_line(r, line, sizeof(line));
        fputs("\\nroot cause: ", f);
        dot_escape(f, line, 300);
        fputs("\\ncategory: ", f);
        dot_escape(f, r->category, 60);
    }
    fputs("\";\n  labelloc=t;\n", f);
    for (size_t i = 0; i < r->nnodes; i++) {
        const struct report_node *n = &r->nodes[i];
        fprintf(f, "  n%zu [label=\"", i);
        node_label(f, n);
        fputs("\"", f);
        if (n->is_origin)
            fputs(", style=filled, fillcolor=\"#ff6666\", penwidth=2", f);
        else if (n->is_fault)
            fputs(", color=red", f);
        fputs("];\n", f);
    }
    for (size_t i = 0; i < r->nnodes; i++)
        if (r->nodes[i].parent != REPORT_NO_PARENT)
            fprintf(f, "  n%zu -> n%zu;\n", r->nodes[i].parent, i);
    fputs("}\n", f);
}
