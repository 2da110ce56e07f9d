/* dot.h -- a verdict as a Graphviz DOT digraph: one node per message
 * of the chain, edges from each message to the ones it caused, the origin
 * filled red, other fault evidence outlined red. */
#ifndef OSRCA_OUT_DOT_H
#define OSRCA_OUT_DOT_H

#include <stdio.h>

#include "rca/report.h"

void out_dot_report(FILE *f, const struct report *r);

#endif
