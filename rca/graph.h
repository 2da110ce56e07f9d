/* graph.h -- the service map (issue 19 §1): who talks to whom, built from
 * the traffic itself. Nodes are service instances of the model of the
 * cloud (rca/cloud.h, service@host) and the users' clients (by address);
 * an edge is one observed dependency of one kind (a REST call by
 * operation, an RPC call or cast by topic and method, a notification by
 * event type) from one node to another, with its request count, errors
 * (5xx, left unanswered, RPC failures and timeouts), client errors (4xx),
 * latency percentiles (a mergeable sketch, rca/sketch.h), the time its
 * messages waited in their queue, and the bucket counts of a Prometheus
 * histogram (Tempo's service-graph buckets, so live's /metrics follows
 * that convention).
 *
 * Fed with the hops of every decided chain (rca/timeline.h), user and
 * background alike. With a window (window_us), edges are kept per window
 * of the hop's start time. Bounded: at most max_edges edge-windows
 * (further ones counted "graph.edges_full"). */
#ifndef OSRCA_GRAPH_H
#define OSRCA_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "capture/stats.h"
#include "rca/cloud.h"
#include "rca/sketch.h"
#include "rca/timeline.h"

/* Upper bounds (seconds) of the histogram buckets: Tempo's service-graph
 * defaults, then +Inf. */
#define GRAPH_BUCKETS 8
extern const double graph_bucket_le[GRAPH_BUCKETS];

struct graph_node {
    uint32_t inst;       /* cloud instance id, 0: a client or an unknown sender */
    uint8_t unknown;     /* 0: a user's client; 1: a service the wire does not name */
    char client[46];     /* their address */
};

struct graph_edge {
    struct graph_node from, to;
    uint8_t kind;        /* enum tl_kind */
    char label[96];
    uint64_t window;     /* window index (start / window_us), 0 without */
    uint64_t calls, errors, client_errors, answered;
    uint64_t first_us, last_us;
    struct sketch lat;   /* request to answer (calls, REST), publish to delivery (casts) */
    struct sketch wait;  /* RPC: publish to delivery */
    uint64_t buckets[GRAPH_BUCKETS + 1]; /* latency histogram; [GRAPH_BUCKETS] = +Inf */
    uint64_t wait_buckets[GRAPH_BUCKETS + 1];
};

struct graph_cfg {
    size_t max_edges;   /* default 16384 */
    uint64_t window_us; /* 0: one window, the whole input */
};

struct graph;

/* NULL on allocation failure; st may be NULL. */
struct graph *graph_new(const struct graph_cfg *cfg, struct stats *st);
void graph_free(struct graph *g);

/* Add the hops of one decided chain; m resolves their ends to instances
 * (hops whose ends it does not know, and a client calling a client, are
 * left out). */
void graph_add(struct graph *g, const struct cloud *m, const struct timeline *tl);

/* Edges, sorted on demand by graph_sort (window, from, to, kind, label by
 * name): indices 0..count-1. */
size_t graph_count(const struct graph *g);
const struct graph_edge *graph_at(const struct graph *g, size_t i);
void graph_sort(struct graph *g, const struct cloud *m);
uint64_t graph_window_us(const struct graph *g);

/* The name of a node: "service@host" of its instance (as the model names
 * it now), "client@ADDR", or "unknown@ADDR". */
const char *graph_node_name(const struct cloud *m, const struct graph_node *n, char *buf,
                            size_t len);
/* The service of a node ("client" for a client), for labels. */
const char *graph_node_service(const struct cloud *m, const struct graph_node *n);

#endif
