/* health.h -- the model of the cloud for people and machines: every
 * service instance seen (service@host), its health timeline (down or hung
 * since T, with the evidence, back at T') and the dependencies observed
 * between instances. */
#ifndef OSRCA_OUT_HEALTH_H
#define OSRCA_OUT_HEALTH_H

#include <stdio.h>

#include "rca/cloud.h"

/* Text: a line per instance with its counters, an indented line per
 * period it was not up; with all == 0 only the instances that had such
 * a period. */
void out_health_text(FILE *f, const struct cloud *m, int all);

/* JSON lines: one {"type":"service", ...} object per instance. */
void out_health_json(FILE *f, const struct cloud *m);

#endif
