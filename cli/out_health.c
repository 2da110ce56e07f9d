/* out_health.c -- service instances and their health (see out_health.h). */
#include "cli/out_health.h"

#include <inttypes.h>

#include "cli/jw.h"
#include "cli/out_event.h"

static void span_text(FILE *f, const struct cloud_span *s)
{
    char a[40], b[40];
    out_time(s->since_us, a, sizeof(a));
    fprintf(f, "      %s since %s (%s, %u piece%s of evidence)", cloud_state_name(s->state), a,
            cloud_why_name(s->why), s->evidence, s->evidence == 1 ? "" : "s");
    if (s->until_us) {
        out_time(s->until_us, b, sizeof(b));
        fprintf(f, ", back at %s (%.1f s)\n", b, (double)(s->until_us - s->since_us) / 1e6);
    } else {
        fputs(", still at the end\n", f);
    }
}

void out_health_text(FILE *f, const struct cloud *m, int all)
{
    size_t n = cloud_count(m), shown = 0;
    for (size_t i = 0; i < n; i++) {
        const struct cloud_inst *x = cloud_at(m, i);
        if (!all && !x->nspans)
            continue;
        if (!shown++)
            fputs("SERVICE HEALTH\n", f);
        char name[128];
        fprintf(f, "  %-40s %s%s msgs %" PRIu64, cloud_inst_name(x, name, sizeof(name)),
                x->addr[0] ? x->addr : "-", x->port ? "" : "", x->msgs);
        if (x->refused)
            fprintf(f, " refused %u", x->refused);
        if (x->unreached)
            fprintf(f, " unreached %u", x->unreached);
        if (x->no_answer)
            fprintf(f, " no-answer %u", x->no_answer);
        if (x->no_reply)
            fprintf(f, " no-reply %u", x->no_reply);
        if (x->unconsumed)
            fprintf(f, " unconsumed %u", x->unconsumed);
        if (x->amqp_opened || x->amqp_closed || x->amqp_reset || x->amqp_forced)
            fprintf(f, " amqp +%u -%u reset %u forced %u", x->amqp_opened, x->amqp_closed,
                    x->amqp_reset, x->amqp_forced);
        if (x->beat_period_us)
            fprintf(f, " reports every %.1f s", (double)x->beat_period_us / 1e6);
        fputc('\n', f);
        for (size_t k = 0; k < x->nspans; k++)
            span_text(f, &x->spans[k]);
    }
    if (shown)
        fputc('\n', f);
}

void out_health_json(FILE *f, const struct cloud *m)
{
    (void)f;
    (void)m;
}
