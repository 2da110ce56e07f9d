/* rca.h -- the analyzer: events in, verdicts out (DESIGN.md "Finding the
 * origin of a fault"). Events are stitched into chains (chain.h); a chain is
 * decided when its root has answered, no call awaits its reply (each call
 * within its `_timeout`, else AMQP expiration, else default_call_timeout_us)
 * and settle_us of packet time passed since its last activity, or at
 * rca_flush. Failed operations are walked back to their origin (walk.h) and
 * reported; successful ones are only counted unless keep_ok. Packet time is
 * the only clock. */
#ifndef OSRCA_RCA_H
#define OSRCA_RCA_H

#include <stddef.h>
#include <stdint.h>

#include "capture/stats.h"
#include "parsers/event.h"
#include "rca/report.h"
#include "rca/rules_load.h"

struct mem_pool;

struct rca_cfg {
    size_t max_open_chains;      /* oldest chain decided early beyond (counted eviction) */
    size_t max_events_per_chain; /* events past it are counted and dropped */
    uint64_t default_call_timeout_us;
    uint64_t settle_us; /* quiet time after the last activity before a chain is decided */
    uint64_t max_chain_us; /* a chain open longer than this is decided anyway (0 = never) */
    uint64_t max_answered_us; /* a chain whose root has answered and that holds
                                 max_events_per_chain events, or has been open
                                 this long, is decided without waiting to settle
                                 (0 = never) */
    int keep_ok;           /* report successful chains too (osrca chains) */
    int report_background; /* report background chains too (default 0) */
    const char *only_request_id; /* report only chains carrying this id */
    const char *only_resource;   /* report only chains naming this resource uuid */
    int walk_all; /* (tests) each tick looks at every open chain, not only at
                     those the heap of ready times says can be due */
    int service_map;       /* keep the service map (rca/graph.h) */
    uint64_t map_window_us; /* ... per window of this length (0: one) */
    int no_slow;           /* judge no operation slow (baselines still learned) */
    int timelines;         /* every reported chain has its timeline (traces),
                              not only user operations */
};

/* Defaults: 10000 open chains, 2000 events per chain, 60 s call timeout,
 * 10 s settle, 600 s max chain life, 300 s for an answered chain, keep_ok 0. */
void rca_defaults(struct rca_cfg *cfg);

struct rca;

/* Called once per reported chain; r is valid only during the call. */
typedef void (*rca_report_fn)(void *ctx, const struct report *r);

/* rules must outlive the analyzer; st may be NULL. NULL on allocation failure. */
struct rca *rca_new(const struct rca_cfg *cfg, const struct rules *rules, struct stats *st,
                    rca_report_fn fn, void *ctx);
/* Takes ownership of ev. Events arrive in packet-time order, seq increasing. */
void rca_event(struct rca *a, struct event *ev);
/* Packet time advanced to now_us: time out calls, decide settled chains. */
void rca_tick(struct rca *a, uint64_t now_us);
/* End of input: decide every open chain (in root order). */
void rca_flush(struct rca *a, uint64_t now_us);

/* Packet time of the first event of the oldest open chain (UINT64_MAX
 * when none is open): what came before can no longer change a verdict to
 * come, except through the cloud model. Walks the open chains. */
uint64_t rca_oldest_open_us(const struct rca *a);

struct rca_summary {
    uint64_t operations; /* user operations decided */
    uint64_t failed, ok;
    uint64_t slow;       /* successful ones reported slow (counted in ok too) */
    uint64_t background; /* background chains decided */
    uint64_t events;
    uint64_t open_chains;
    uint64_t evicted;
};
void rca_get_summary(const struct rca *a, struct rca_summary *s);

/* Bound the memory of the events the open chains hold: whenever pool (the
 * pool events are charged to) uses more than budget bytes, the oldest open
 * chains are decided early until it is under 7/8 of budget (counted
 * "rca.chains_evicted_memcap", with a diagnostic). NULL/0 turns it off. */
void rca_set_event_budget(struct rca *a, const struct mem_pool *pool, size_t budget);

/* Frees every open chain without reporting; NULL accepted. */
/* Decide with rules from now on (SIGHUP reload), keeping every open chain.
 * The old rules must outlive the analyzer (chains and reports may still
 * point into them): the caller frees them after rca_free. */
void rca_use_rules(struct rca *a, const struct rules *rules);

struct graph;
/* The service map (rca/graph.h), NULL unless cfg.service_map; valid until
 * rca_free. Edges join it as chains are decided. */
struct graph *rca_graph(const struct rca *a);

struct baseline;
/* The usual durations the analyzer learns and judges slowness by
 * (rca/baseline.h): load one into it before the first event
 * (--baseline), save it at the end. Valid until rca_free. */
struct baseline *rca_baseline(const struct rca *a);

struct cloud;
/* The model of the cloud the analyzer keeps (rca/cloud.h); valid until
 * rca_free. */
const struct cloud *rca_cloud(const struct rca *a);

struct incident;
struct incident_table;
/* Called when an incident opens, takes a verdict or resolves
 * (enum incident_change of rca/incident.h); inc valid during the call. */
typedef void (*rca_incident_fn)(void *ctx, const struct incident *inc, int what);
void rca_on_incident(struct rca *a, rca_incident_fn fn, void *ctx);
/* The incidents so far (rca/incident.h); valid until rca_free. */
const struct incident_table *rca_incidents(const struct rca *a);
void rca_free(struct rca *a);

#endif
