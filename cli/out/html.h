/* html.h -- the incident report: one self-contained HTML page (no script,
 * no network, no file beside it) an operator attaches to a ticket. It
 * holds, in this order: what was read and how completely (the capture's
 * time span, operations, drops and gaps), the incidents with the
 * operations they affected, every failed or slow operation with its root
 * cause, hint and chain as a waterfall (SVG, the origin marked), the
 * service instances' health, and the service map with its unhealthy
 * edges marked.
 *
 * Reports are rendered as they come (they live only during the report
 * callback) into a temporary file; the page is put together at the end. */
#ifndef OSRCA_HTML_H
#define OSRCA_HTML_H

#include <stdint.h>
#include <stdio.h>

#include "rca/report.h"

struct html_report;
struct incident_table;
struct cloud;
struct graph;
struct stats;
struct rca_summary;

/* NULL when no temporary file can be had. */
struct html_report *html_report_new(void);
void html_report_free(struct html_report *h);

/* Operation r's section (a failed or slow one; others are skipped). */
void html_report_add(struct html_report *h, const struct report *r);

/* What the page says of its input. */
struct html_input {
    const char *source;      /* the capture's name */
    uint64_t first_us, last_us;
    const char *version;     /* osrca's */
};

/* The whole page to f. g may be NULL (no map kept). */
void html_report_write(FILE *f, struct html_report *h, const struct html_input *in,
                       const struct incident_table *it, const struct cloud *m, struct graph *g,
                       const struct stats *st, const struct rca_summary *sum);

#endif
