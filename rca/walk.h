/* walk.h -- the backward walk (DESIGN.md "Finding the origin of a fault"
 * step 4): from the error the user saw back to the earliest error no other
 * error explains, then the first matching fault rule (rules/faults.yaml)
 * names category, culprit and hint; the chain becomes an indented tree. */
#ifndef OSRCA_WALK_H
#define OSRCA_WALK_H

#include <stddef.h>
#include <stdint.h>

#include "rca/chain.h"
#include "rca/fault.h"
#include "rca/report.h"

/* Pick the origin among f[0..n) (sorted by seq): the earliest strong
 * evidence; else the earliest internal (weak) one; else what the user saw.
 * Returns its index, or -1 when n == 0. */
int walk_origin(const struct fault *f, size_t n);

/* Build the report of chain c (decided at fx->now_us) into r: evidence,
 * origin, rule, user_saw, status, and the node tree. r->nodes is allocated
 * (free with walk_report_free). Returns 0, or -1 on allocation failure (r
 * then holds a report without nodes). */
int walk_report(const struct fault_ctx *fx, struct chain *c, struct report *r);

/* The same without the node tree (r->nodes NULL, nothing to free, events
 * left as they are): enough to tell failed / background / the root cause
 * of a chain whose report nobody will print. Returns 0 or -1. */
int walk_verdict(const struct fault_ctx *fx, struct chain *c, struct report *r);

void walk_report_free(struct report *r);

#endif
