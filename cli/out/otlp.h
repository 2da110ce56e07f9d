/* otlp.h -- operations as OpenTelemetry traces (OTLP 1.x, trace signal):
 * one trace per operation, its spans read off the chain's timeline
 * (rca/timeline.h) and message tree (rca/report.h), written as
 * OTLP/JSON or OTLP/protobuf ExportTraceServiceRequest messages.
 *
 * Spans of one operation, as the wire showed it:
 *   - a root span (INTERNAL) for the user's command, under the client,
 *     carrying the verdict (osrca.verdict, osrca.root_cause.*, ...);
 *   - per REST call a CLIENT span under the caller's service.name and a
 *     SERVER child under the callee's (HTTP semantic conventions);
 *   - per RPC call, cast and notification a PRODUCER span (the publish)
 *     and a CONSUMER child (the delivery until the reply, or until the
 *     last work made under it), linked to the producer too: the time in
 *     the queue is the gap between them (messaging conventions for
 *     RabbitMQ); a reply is an event of the consumer span;
 *   - a refused or unanswered connection: a CLIENT span in error.
 * A span's parent is the span of the work that made it: the message
 * tree's parent where the report has one, else the innermost server or
 * consumer span of the caller open when it began, else the root.
 *
 * Ids are derived, never random: the trace id is the operation's request
 * id (req-UUID: the UUID's 16 bytes), a span id a hash of the trace id,
 * the message's identity (timeline_msg_key) and its side; the same
 * capture gives the same ids. Every string comes from the events, which
 * the parsers already freed of secrets; bytes that are not UTF-8 become
 * '?'. */
#ifndef OSRCA_OTLP_H
#define OSRCA_OTLP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli/out/pb.h"
#include "rca/report.h"

struct otlp_batch;

/* An empty batch; version names osrca in the instrumentation scope.
 * NULL when out of memory. */
struct otlp_batch *otlp_batch_new(const char *version);
void otlp_batch_free(struct otlp_batch *b);
/* Forget every trace (keeps the memory). */
void otlp_batch_clear(struct otlp_batch *b);

/* Add the trace of operation r: the number of spans added, 0 when r has
 * no timeline (nothing to draw) or memory ran out (nothing added). */
size_t otlp_add(struct otlp_batch *b, const struct report *r);
size_t otlp_span_count(const struct otlp_batch *b);
size_t otlp_trace_count(const struct otlp_batch *b);

/* The batch as one ExportTraceServiceRequest in OTLP/JSON (one line,
 * with a newline: the OTLP file format) to f. */
void otlp_write_json(FILE *f, const struct otlp_batch *b);
/* The same in protobuf into p (reset first). -1 when out of memory. */
int otlp_write_pb(struct pb *p, const struct otlp_batch *b);

/* The 16 bytes of trace id of an operation with request id rid (NULL:
 * from fallback, a text naming the operation otherwise). */
void otlp_trace_id(const char *rid, const char *fallback, uint8_t out[16]);

#endif
