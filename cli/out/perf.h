/* perf.h -- where the time of an operation went (issue 19 §3-4): the
 * slow verdict's performance part in JSON and text, and the waterfall of
 * a chain (its hops on a time axis, each hop's queue wait apart, the
 * holder of each stretch below) as text for a terminal and as SVG. */
#ifndef OSRCA_OUT_PERF_H
#define OSRCA_OUT_PERF_H

#include <stdio.h>

#include "cli/jw.h"
#include "rca/report.h"

/* The "performance" object of a slow verdict: wall_us, usual_us,
 * samples, excess_us, hop {kind, label, text, start, duration_us,
 * usual_us}, why, shares [{service, host, how, held_us, usual_us}]. */
struct jw_node *out_perf_json(struct jw *w, const struct report *r);

/* The text lines of a slow verdict (after its root cause): the excess,
 * the hop, why, and each holder's share. */
void out_perf_text(FILE *f, const struct report *r);

/* The waterfall of r's chain in text, width columns for the bars (>= 20):
 * one line per hop (REST call, RPC call, cast, notification) with its
 * start offset and duration, then the holders' shares. */
void out_waterfall_text(FILE *f, const struct report *r, int width);

/* The same as a standalone SVG document. */
void out_waterfall_svg(FILE *f, const struct report *r);
/* The same without the XML declaration: an <svg> element to put inline
 * in an HTML page. */
void out_waterfall_svg_element(FILE *f, const struct report *r);
/* s escaped for XML and HTML text and attributes (&, <, >, "); control
 * bytes dropped, newlines too unless keep_nl. */
void out_xml_text(FILE *f, const char *s, int keep_nl);

#endif
