/* text.h -- a verdict for people: operation, request id, what the user
 * saw, the root cause in one line, category and hint, then the chain as an
 * indented tree with the origin marked "=>" (other fault evidence "!"). */
#ifndef OSRCA_OUT_TEXT_H
#define OSRCA_OUT_TEXT_H

#include <stdio.h>

#include "rca/report.h"

/* Writes the report, ending with a blank line. */
void out_text_report(FILE *f, const struct report *r);

#endif
