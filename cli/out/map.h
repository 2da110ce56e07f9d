/* map.h -- the service map (rca/graph.h) for people and machines:
 * a text table, JSON lines, Graphviz DOT (edges coloured by error rate,
 * labelled with rate and p95), and the Prometheus exposition of live's
 * /metrics, named after Grafana Tempo's service-graph metrics
 * (traces_service_graph_request_total, ..._request_failed_total,
 * ..._request_server_seconds, ..._request_messaging_system_seconds, with
 * client and server labels). */
#ifndef OSRCA_OUT_MAP_H
#define OSRCA_OUT_MAP_H

#include <stdint.h>
#include <stdio.h>

#include "rca/cloud.h"
#include "rca/graph.h"

/* Edges of g (sorted first) as a table: per window when g has windows.
 * span_us: the capture's length, for rates without windows. */
void out_map_text(FILE *f, struct graph *g, const struct cloud *m, uint64_t first_us,
                  uint64_t last_us);
/* One JSON line per node ("type":"node") and per edge ("type":"edge"). */
void out_map_json(FILE *f, struct graph *g, const struct cloud *m, uint64_t first_us,
                  uint64_t last_us);
/* A digraph: one node per service instance, one edge per pair of nodes
 * (every kind and operation merged). */
void out_map_dot(FILE *f, struct graph *g, const struct cloud *m, uint64_t first_us,
                 uint64_t last_us);
/* A Prometheus label value (\\, " and newline escaped); NULL: empty. */
void out_prom_label(FILE *f, const char *s);
/* The Prometheus text exposition of every edge (windows merged). */
void out_map_prometheus(FILE *f, struct graph *g, const struct cloud *m);

#endif
