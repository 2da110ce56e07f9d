/* otlp_export.h -- operations' traces (cli/out/otlp.h) to where they are
 * read: an OTLP/JSON file (one ExportTraceServiceRequest per line, one
 * operation each: the OpenTelemetry file format), and an OTLP/HTTP
 * collector (POST /v1/traces, protobuf or JSON).
 *
 * To a collector the traces go in batches: a batch is sent when it holds
 * batch_spans spans or its first trace is batch_ms old (wall time, checked
 * by otlp_export_tick), and at the end. Sending is the webhook's worker
 * (cli/net/webhook.h): a bounded queue of batches, retries of what may
 * pass later (no answer, 429, 502, 503, 504; after Retry-After), never a
 * wait in the capture thread; what does not fit is dropped and counted. */
#ifndef OSRCA_OTLP_EXPORT_H
#define OSRCA_OTLP_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "rca/report.h"

struct otlp_export_cfg {
    const char *file;     /* OTLP/JSON lines here ("-": stdout), or NULL */
    const char *endpoint; /* collector URL: a base (http://host:4318) gets
                             /v1/traces appended, a URL with a path is used
                             as given; or NULL */
    int json;             /* to the collector as JSON (default protobuf) */
    size_t batch_spans;   /* default 512 */
    unsigned batch_ms;    /* default 1000 */
    size_t queue_max;     /* batches waiting at most (default 64) */
    unsigned max_retries, backoff_ms, backoff_max_ms; /* 0: the webhook's */
    const char *version;  /* osrca's, for the instrumentation scope */
};

void otlp_export_defaults(struct otlp_export_cfg *cfg);

struct otlp_export_stats {
    uint64_t traces, spans;      /* made into spans */
    uint64_t empty;              /* reports with nothing to draw (no timeline) */
    uint64_t batches;            /* handed to the sender */
    uint64_t sent, failed, dropped, retries, pending; /* the sender's (batches) */
    uint64_t file_errors;        /* writes to the file that failed */
};

struct otlp_export;

/* Opens the file (truncated) and starts the sender (libcurl, loaded
 * now). NULL with err when one cannot be had. */
struct otlp_export *otlp_export_new(const struct otlp_export_cfg *cfg, char *err,
                                    size_t errlen);
/* Operation r's trace: to the file at once, into the batch for the
 * collector (sent when full). Capture thread. */
void otlp_export_report(struct otlp_export *x, const struct report *r);
/* Send the batch if its first trace waited batch_ms (call often). */
void otlp_export_tick(struct otlp_export *x);
void otlp_export_get_stats(struct otlp_export *x, struct otlp_export_stats *out);
/* Send what is batched and let the sender deliver for at most drain_ms;
 * the counters stay readable. NULL accepted. */
void otlp_export_finish(struct otlp_export *x, unsigned drain_ms);
/* otlp_export_finish (unless done), close the file, free. NULL accepted. */
void otlp_export_free(struct otlp_export *x, unsigned drain_ms);

#endif
