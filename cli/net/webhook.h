/* webhook.h -- POST verdict JSON to an HTTP endpoint (RFC 9110 §9.3.3)
 * from a worker thread, with libcurl.
 *
 * The capture thread only enqueues: a bounded queue of copies; when it is
 * full the verdict is dropped and counted, so the capture never blocks on
 * a slow or dead receiver. The worker retries a failed POST (transport
 * error or non-2xx status) with exponential backoff. */
#ifndef OSRCA_WEBHOOK_H
#define OSRCA_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

struct webhook_cfg {
    const char *url;      /* http:// or https:// URL (copied) */
    size_t queue_max;     /* queued bodies at most (default 256) */
    unsigned max_retries; /* retries after the first attempt (default 4) */
    unsigned backoff_ms;  /* first retry delay, doubled each retry (default 500) */
    unsigned backoff_max_ms; /* cap on one delay (default 8000) */
    unsigned timeout_ms;  /* whole request (default 5000) */
    const char *content_type; /* default "application/json" */
    const char *user_agent;   /* default "osrca-webhook" */
    int transient_only;   /* retry only what may pass later: no answer, 429,
                             502, 503, 504 (OTLP/HTTP's retryable answers),
                             after the server's Retry-After seconds when it
                             gives one (capped by backoff_max_ms); any other
                             answer is final. 0: retry every failure */
};

/* Fill cfg with the defaults above (url NULL). */
void webhook_defaults(struct webhook_cfg *cfg);

struct webhook_stats {
    uint64_t queued;  /* accepted into the queue */
    uint64_t sent;    /* delivered (2xx) */
    uint64_t failed;  /* given up after every retry */
    uint64_t dropped; /* queue full: never sent */
    uint64_t retries; /* retry attempts */
    uint64_t pending; /* in the queue now */
};

struct webhook;

/* Initialises libcurl (curl_global_init: call from the main thread before
 * other threads exist) and starts the worker. NULL with err on failure. */
struct webhook *webhook_new(const struct webhook_cfg *cfg, char *err, size_t errlen);

/* Queue a copy of body[0..n) (JSON, or any bytes of content_type) for POSTing. Never blocks on
 * the network. Returns 0 queued, -1 dropped (queue full, out of memory or
 * stopping; counted in dropped). Thread-safe. */
int webhook_post(struct webhook *w, const char *body, size_t n);

/* Counters so far. Thread-safe. */
void webhook_get_stats(struct webhook *w, struct webhook_stats *out);

/* Stop the worker as webhook_free does, keeping w (its counters) until
 * webhook_free. NULL accepted; a second call does nothing. */
void webhook_stop(struct webhook *w, unsigned drain_ms);

/* Stop the worker: it keeps delivering what is queued for at most drain_ms
 * (retry delays included), then gives up on the rest (counted as dropped).
 * Joins the thread, frees everything, curl_global_cleanup. NULL accepted. */
void webhook_free(struct webhook *w, unsigned drain_ms);

#endif
