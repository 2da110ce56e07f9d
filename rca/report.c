/* report.c -- small helpers over the verdict record (see report.h). */
#include "rca/report.h"

#include <stdio.h>

void report_cause_line(const struct report *r, char *buf, size_t len)
{
    const struct report_cause *c = &r->root_cause;
    if (!len)
        return;
    if (!r->failed && !r->slow) {
        snprintf(buf, len, "none");
        return;
    }
    snprintf(buf, len, "%s%s%s%s%s%s: %s%s%s%s%s", c->service ? c->service : "unknown service",
             c->host ? "@" : "", c->host ? c->host : "", c->addr[0] ? " (" : "", c->addr,
             c->addr[0] ? ")" : "", c->kind ? c->kind : "?", c->error ? " " : "",
             c->error ? c->error : "", c->message ? ": " : "", c->message ? c->message : "");
    /* one line: control characters become spaces */
    for (char *p = buf; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
}

size_t report_find_node(const struct report *r, uint64_t seq)
{
    for (size_t i = 0; i < r->nnodes; i++)
        if (r->nodes[i].ev && r->nodes[i].ev->seq == seq)
            return i;
    return REPORT_NO_PARENT;
}
