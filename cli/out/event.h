/* event.h -- render one event (a decoded message) as a text line or a
 * JSON object. Used by `osrca messages` and by the chain trees of reports.
 * The JSON schema is documented in README.md ("messages --json"). */
#ifndef OSRCA_OUT_EVENT_H
#define OSRCA_OUT_EVENT_H

#include <stdint.h>
#include <stdio.h>

#include "cli/jw.h"
#include "parsers/event.h"

/* "2026-11-22T08:26:59.123456Z" into buf (>= 28 bytes). */
void out_time(uint64_t ts_us, char *buf, size_t len);
/* Member k of object o: the time ts_us as out_time writes it, or null
 * when ts_us is 0. */
void out_json_time(struct jw *w, struct jw_node *o, const char *k, uint64_t ts_us);

/* One line, no trailing newline: time, seq, kind, sender -> receiver, and
 * the message summary. */
void out_event_text(FILE *f, const struct event *ev);
/* The summary part only (method+path / status / rpc method / event type ...). */
void out_event_summary(FILE *f, const struct event *ev);
/* The event as a JSON object in w (a text written at once, jw_t_*), with
 * "type": type among its members unless type is NULL; NULL when memory
 * ran out. */
struct jw_node *out_event_json(struct jw *w, const struct event *ev, const char *type);

#endif
