/* json.h -- verdicts as JSON lines for machines: one object per
 * report ("type":"verdict") and one final summary ("type":"summary").
 * Keys are sorted, output is compact, one line each. */
#ifndef OSRCA_OUT_JSON_H
#define OSRCA_OUT_JSON_H

#include <stdio.h>

#include "capture/stats.h"
#include "parsers/event.h"
#include "rca/rca.h"
#include "rca/report.h"

/* One JSON line: type, operation, request_id, global_request_id, status,
 * failed, background, user_saw, root_cause {service, host, addr, kind,
 * error, message, seq, time}, category, rule, hint, chain [nodes]. */
void out_json_report(FILE *f, const struct report *r);
/* {"type":"summary", operations, failed, ok, background, events,
 * open_chains, evicted, counters {name: value} (non-zero)} */
void out_json_summary(FILE *f, const struct rca_summary *s, const struct stats *st);
/* One message (`osrca messages --format json`): the event's object with
 * "type":"message". */
void out_json_message(FILE *f, const struct event *ev);

#endif
