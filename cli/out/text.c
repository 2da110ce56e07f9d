/* text.c -- human-readable verdicts (see text.h). */
#include "cli/out/text.h"

#include <inttypes.h>

#include "cli/out/event.h"
#include "cli/out/perf.h"

static const char *or_dash(const char *s)
{
    return s && *s ? s : "-";
}

void out_text_report(FILE *f, const struct report *r)
{
    char line[1024], t[40];
    out_time(r->start_ts_us, t, sizeof(t));
    fprintf(f, "%s %s%s\n", r->failed ? "FAILED" : r->slow ? "SLOW" : "OK", or_dash(r->operation),
            r->display_read ? " (background: for display only, the command did without it)"
            : r->background ? " (background)"
                            : "");
    fprintf(f, "  request id:  %s   global: %s   started %s\n", or_dash(r->request_id),
            or_dash(r->global_request_id), t);
    fprintf(f, "  status:      %s\n", or_dash(r->status));
    if (r->session.id) {
        fprintf(f, "  client:      %s", or_dash(r->session.client));
        if (r->session.user)
            fprintf(f, "  user %s%s%s%s", r->session.user, r->session.project ? " (project " : "",
                    r->session.project ? r->session.project : "", r->session.project ? ")" : "");
        if (r->session.login_request_id)
            fprintf(f, "  login %s", r->session.login_request_id);
        fputc('\n', f);
    }
    if (r->user_saw[0])
        fprintf(f, "  user saw:    %s\n", r->user_saw);
    if (r->failed || r->slow) {
        report_cause_line(r, line, sizeof(line));
        fprintf(f, "  root cause:  %s\n", line);
        fprintf(f, "  category:    %s   rule: %s\n", or_dash(r->category), or_dash(r->rule));
        if (r->hint)
            fprintf(f, "  hint:        %s\n", r->hint);
    }
    if (r->slow) {
        out_perf_text(f, r);
        out_waterfall_text(f, r, 60);
    }
    fprintf(f, "  chain (%zu messages):\n", r->nevents);
    for (size_t i = 0; i < r->nnodes; i++) {
        const struct report_node *n = &r->nodes[i];
        fputs(n->is_origin ? "  => " : n->is_fault ? "   ! " : "     ", f);
        for (int d = 0; d < n->depth; d++)
            fputs("  ", f);
        out_event_text(f, n->ev);
        if (n->note)
            fprintf(f, "  [%s]", n->note);
        fputc('\n', f);
    }
    fputc('\n', f);
}
