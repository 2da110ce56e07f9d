/* blame.h -- a verdict consults the model of the cloud (rca/cloud.h).
 *
 * A chain says where an error surfaced; the model says what was down at
 * the time. Generally, whatever the service and the error:
 *  - a failure that a service reported while something it depends on (an
 *    instance it was seen calling, or a dependency the rules declare, such
 *    as the database) was down or hung, inside the failing call's window,
 *    is that dependency's;
 *  - a failure a fault rule says is explained by the outage of certain
 *    services (when_down: a NoValidHost while every compute is gone) is
 *    the instance of those that was down;
 *  - a culprit the chain names only by service (the consumer of an RPC
 *    topic, a service named by an error text) gets the host of the
 *    instance the model knows, and the period it was down.
 * User errors (4xx) stay what they are. */
#ifndef OSRCA_BLAME_H
#define OSRCA_BLAME_H

#include <stddef.h>
#include <stdint.h>

#include "rca/cloud.h"
#include "rca/report.h"
#include "rca/rules_load.h"

/* What blame decided: the instance the fault is laid on, and its period. */
struct blame {
    const struct cloud_inst *inst; /* NULL: the verdict stands as the chain made it */
    const struct cloud_span *span; /* its down/hung period, or NULL */
    int moved;                     /* the culprit is not the service that reported */
    const char *category;          /* "service_down", "service_hung", ... or NULL */
};

/* Decide for report r (failed, with its root cause set by the walk) whose
 * failing call was handled over [t0_us, t1_us]. rules give the matched
 * fault rule (r->rule) and the declared dependencies. Returns 1 when out
 * says something. */
int blame_decide(const struct cloud *m, const struct rules *rules, const struct report *r,
                 uint64_t t0_us, uint64_t t1_us, struct blame *out);

/* A stuck operation (kind "stuck") whose chain names nobody: the server
 * it was about, uuid, lives on a host (cloud_home), and that host's
 * instance holds its work. Names it in r's root cause (the message,
 * written into buf of len bytes, says so) before blame_decide looks at
 * its health. 1 when it did. */
int blame_home(const struct cloud *m, struct report *r, const char *uuid, char *buf, size_t len);

/* Lay the blame on r: service, host, address; for a moved culprit the
 * evidence becomes the dependency's period (kind "dependency_down", the
 * message names both, written into buf of len bytes, which must live as
 * long as r) and the category the period's. */
void blame_apply(const struct blame *b, struct report *r, char *buf, size_t len);

/* Packet time us as "2026-12-06T02:08:43.869Z" (UTC, milliseconds) into
 * buf, for the words of a verdict. */
const char *blame_time(uint64_t us, char *buf, size_t len);

#endif
