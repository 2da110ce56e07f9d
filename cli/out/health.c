/* health.c -- service instances and their health (see health.h). */
#include "cli/out/health.h"

#include <inttypes.h>

#include "cli/jw.h"
#include "cli/out/event.h"

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
        if (x->embedded || x->alias || (!all && !x->nspans))
            continue;
        if (!shown++)
            fputs("SERVICE HEALTH\n", f);
        char name[128];
        fprintf(f, "  %-40s %s msgs %" PRIu64, cloud_inst_name(x, name, sizeof(name)),
                x->addr[0] ? x->addr : "-", x->msgs);
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
    struct jw *w = jw_thread_writer();
    for (size_t i = 0; i < cloud_count(m); i++) {
        const struct cloud_inst *x = cloud_at(m, i);
        if (x->embedded || x->alias)
            continue;
        struct jw_node *o = jw_object(w);
        jw_set(w, o, "type", jw_str(w, "service"));
        jw_set(w, o, "service", jw_str(w, x->service));
        jw_set(w, o, "host", x->host[0] ? jw_str(w, x->host) : x->addr[0] ? jw_str(w, x->addr)
                                                                          : jw_null(w));
        jw_set(w, o, "host_name", x->host[0] ? jw_str(w, x->host) : jw_null(w));
        jw_set(w, o, "addr", x->addr[0] ? jw_str(w, x->addr) : jw_null(w));
        if (x->port)
            jw_set(w, o, "port", jw_int(w, x->port));
        const struct cloud_span *now = cloud_current_span(x);
        jw_set(w, o, "state",
               jw_str(w, now ? cloud_state_name((enum cloud_state)now->state) : "up"));
        out_json_time(w, o, "first_seen", x->first_us);
        out_json_time(w, o, "last_alive", x->alive_us);
        jw_set(w, o, "messages", jw_int(w, (long long)x->msgs));
        struct jw_node *ev = jw_object(w);
        jw_set(w, ev, "refused", jw_int(w, x->refused));
        jw_set(w, ev, "unreached", jw_int(w, x->unreached));
        jw_set(w, ev, "no_answer", jw_int(w, x->no_answer));
        jw_set(w, ev, "no_reply", jw_int(w, x->no_reply));
        jw_set(w, ev, "unconsumed", jw_int(w, x->unconsumed));
        jw_set(w, ev, "amqp_opened", jw_int(w, x->amqp_opened));
        jw_set(w, ev, "amqp_closed", jw_int(w, x->amqp_closed));
        jw_set(w, ev, "amqp_reset", jw_int(w, x->amqp_reset));
        jw_set(w, ev, "amqp_forced", jw_int(w, x->amqp_forced));
        jw_set(w, o, "evidence", ev);
        if (x->beat_period_us)
            jw_set(w, o, "report_period_ms", jw_int(w, (long long)(x->beat_period_us / 1000)));
        struct jw_node *tl = jw_array(w);
        for (size_t k = 0; k < x->nspans; k++) {
            const struct cloud_span *sp = &x->spans[k];
            struct jw_node *p = jw_object(w);
            jw_set(w, p, "state", jw_str(w, cloud_state_name((enum cloud_state)sp->state)));
            jw_set(w, p, "why", jw_str(w, cloud_why_name((enum cloud_why)sp->why)));
            out_json_time(w, p, "since", sp->since_us);
            out_json_time(w, p, "until", sp->until_us);
            jw_set(w, p, "evidence", jw_int(w, sp->evidence));
            jw_push(w, tl, p);
        }
        jw_set(w, o, "timeline", tl);
        jw_write_line(w, f, o);
    }
}
