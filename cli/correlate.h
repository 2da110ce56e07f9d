/* correlate.h -- the correlator's input side: sensors' frames from Redis
 * Streams (a consumer group) or from stream files, decoded (evwire.h),
 * merged (rca/merge.h), and handed to the analysis as one ordered event
 * stream; acknowledgements, a silent sensor, and verdicts already out
 * across a restart (README "Sensors and the correlator").
 *
 * Restart: state is rebuilt, not checkpointed. Entries are acknowledged
 * (XACK) only once every event in them is released and older than both
 * the oldest open chain and replay_window of packet time; a restarted
 * correlator reads its own pending entries again (and XAUTOCLAIMs a dead
 * one's), which rebuilds the open chains and the recent cloud model.
 * Verdicts it gives again are recognised by their key in P:done:GROUP and
 * not output twice; each new one is written to P:verdicts and that set in
 * one MULTI before it goes anywhere else. Checkpointing would have to
 * serialise chains, the cloud model, sessions and incidents at a
 * consistent cut with the stream positions; replay needs none of that,
 * costs one replay window of events at start, and cannot drift from what
 * the analysis would have built. */
#ifndef OSRCA_CORRELATE_H
#define OSRCA_CORRELATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "capture/mem.h"
#include "capture/stats.h"
#include "parsers/event.h"
#include "rca/rca.h"
#include "rca/report.h"

#define CORR_MAX_FILES 64

struct corr_cfg {
    const char *bus;                 /* redis://... or NULL */
    const char *files[CORR_MAX_FILES]; /* --from-stream */
    int nfiles;
    const char *group, *consumer;
    double max_skew_s;
    double replay_window_s; /* packet time kept unacknowledged for a restart */
    double sensor_timeout_s; /* wall: a sensor silent this long stops holding back */
    double claim_idle_s;     /* a dead consumer's entries idle this long are taken */
    int until_ended;         /* stop once this many sensors ended (0: never) */
    size_t max_queued;       /* events held per sensor */
    size_t event_memcap;     /* decoded events in all (queued and in chains);
                                beyond, frames are refused (counted) */
};

void corr_defaults(struct corr_cfg *cfg);

/* What the analysis gets, in order. */
struct corr_hooks {
    void *ctx;
    void (*event)(void *ctx, struct event *ev); /* takes ownership */
    void (*tick)(void *ctx, uint64_t now_us);   /* a sensor's clock tick, in order */
    void (*timers)(void *ctx);                  /* about once per read (wall) */
    volatile int *stop;                         /* set: return */
};

struct corr;

/* rca: asked for its oldest open chain (acknowledgements). NULL with err. */
struct corr *corr_new(const struct corr_cfg *cfg, struct stats *st, const struct rca *rca,
                      char *err, size_t errlen);
void corr_free(struct corr *c); /* NULL accepted */

/* Reads until the inputs end (files, or until_ended sensors ended: 0,
 * everything released; the caller decides the rest) or, on the bus, until
 * *stop (1: what is open is left to the next correlator). Stream files
 * end at *stop too, as at their end (0). */
int corr_run(struct corr *c, const struct corr_hooks *h);
/* The pool decoded events are charged to (rca_set_event_budget). */
const struct mem_pool *corr_event_pool(const struct corr *c);
/* The merged clock (packet time) the analysis is at. */
uint64_t corr_clock(const struct corr *c);
/* After the final rca_flush: acknowledge what is left. */
void corr_finish(struct corr *c);

/* A verdict about to be output: 1 to output it (recorded first when on a
 * bus), 0 when the same verdict was already out before a restart. */
int corr_verdict(struct corr *c, const struct report *r, const char *json, size_t n);

/* Per-sensor Prometheus series (osrca_sensor_*) for /metrics. */
void corr_metrics(const struct corr *c, FILE *f);
/* A line per sensor for the summary (stderr). */
void corr_summary(const struct corr *c, FILE *f);

#endif
