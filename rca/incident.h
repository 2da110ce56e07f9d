/* incident.h -- incidents: one fault of one service instance over time,
 * with every operation it broke (issue 18 §3).
 *
 * An incident opens when the model of the cloud sees an instance go down
 * or hang (rca/cloud.h), or when a verdict blames an instance for which
 * none is open. Verdicts with the same origin (service and host) whose
 * fault window overlaps the incident's join it; so do the failures of
 * background work (a service's refused reconnects, heartbeats timing out,
 * connections the broker force-closed), as evidence only, never as
 * operations. It is resolved when the model sees the instance back and no
 * verdict came for resolve_us, or, with no period in the model, after
 * resolve_us without a new verdict. User errors (wrong password, unknown
 * flavor, quota) are the users' own: they make no incident.
 *
 * Bounded: at most max_incidents kept (the oldest resolved one is
 * forgotten first), each listing its first INCIDENT_OPS operations (the
 * rest counted). Ids are 1, 2, ... in order of opening: the same capture
 * gives the same ids. */
#ifndef OSRCA_INCIDENT_H
#define OSRCA_INCIDENT_H

#include <stddef.h>
#include <stdint.h>

#include "capture/stats.h"
#include "rca/cloud.h"
#include "rca/report.h"

#define INCIDENT_OPS 16

/* One operation an incident broke. */
struct incident_op {
    char operation[48];
    char request_id[64]; /* "" when it had none (a refused connection) */
    char session_login[64]; /* request id of its client's login, "" */
    uint64_t ts_us;      /* when it started */
};

struct incident {
    uint32_t id;
    char service[32];
    char host[64];      /* host name, "" unknown */
    char addr[46];      /* address, "" unknown */
    char category[24];  /* "service_down", "service_hung", "capacity", ... */
    char kind[40];      /* the model's reading ("down (refused)") or the verdicts' evidence kind */
    uint64_t start_us;  /* first evidence */
    uint64_t last_us;   /* latest evidence */
    uint64_t end_us;    /* resolved at (0 = still open) */
    uint64_t back_us;   /* the model saw it back (0 = not seen) */
    uint32_t inst_id;   /* the model's instance, 0 */
    uint64_t span_since; /* the model's period it follows, 0 */
    uint32_t verdicts;  /* operations affected */
    uint32_t evidence;  /* pieces of evidence (the model's, background failures) */
    uint32_t background; /* background failures joined */
    struct incident_op ops[INCIDENT_OPS];
    size_t nops;
};

enum incident_change { INCIDENT_OPENED = 0, INCIDENT_UPDATED, INCIDENT_RESOLVED };

struct incident_cfg {
    size_t max_incidents;  /* default 512 */
    uint64_t join_us;      /* a verdict this close to an incident's evidence
                              joins it (default 120 s) */
    uint64_t resolve_us;   /* quiet time before an incident is resolved
                              (default 60 s) */
};

void incident_defaults(struct incident_cfg *cfg);

struct incident_table;

/* Called when an incident opens, takes a verdict or resolves; inc is
 * valid only during the call. */
typedef void (*incident_fn)(void *ctx, const struct incident *inc, enum incident_change what);

/* NULL on allocation failure; st may be NULL. */
struct incident_table *incident_table_new(const struct incident_cfg *cfg, struct stats *st,
                                          incident_fn fn, void *ctx);
void incident_table_free(struct incident_table *t);

/* The incident verdict r (failed, its cause final) belongs to, opened if
 * needed; span is the model's period of the culprit, or NULL; user 0 for
 * a background failure (evidence only: it joins an incident, never opens
 * one). Returns the incident id, 0 when r makes none (a user error). */
uint32_t incident_verdict(struct incident_table *t, const struct report *r,
                          const struct cloud_inst *inst, const struct cloud_span *span, int user);

/* Packet time advanced: open an incident for every period the model sees
 * (m may be NULL), note the instances back, resolve the quiet ones. */
void incident_tick(struct incident_table *t, const struct cloud *m, uint64_t now_us);

/* End of input: an incident whose instance the model saw back (and no
 * verdict after) is resolved at that time; the others stay open. */
void incident_finish(struct incident_table *t);

size_t incident_count(const struct incident_table *t);
const struct incident *incident_at(const struct incident_table *t, size_t i); /* by id order */

#endif
