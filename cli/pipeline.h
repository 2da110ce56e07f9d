/* pipeline.h -- the wiring: decoded packets -> flow table -> application
 * parsers (HTTP+REST, AMQP+oslo) -> events, numbered in order.
 *
 * Owns the per-direction carry-over buffers of the parser contract
 * (parsers/parse.h): bytes a parser did not consume are kept, capped, and
 * fed again with the next bytes appended. TCP connection events of service
 * ports (refused, unanswered, reset) become EV_CONN events. */
#ifndef OSRCA_PIPELINE_H
#define OSRCA_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "capture/flow.h"
#include "capture/stats.h"
#include "parsers/parse.h"
#include "parsers/svcmap.h"

struct pipeline_cfg {
    struct flow_cfg flow;
    size_t carry_max;        /* unconsumed bytes kept per direction */
    size_t parser_memcap;    /* parser buffers in all */
    size_t event_memcap;     /* live events in all */
    uint64_t tick_us;        /* how often (packet time) expiry/ticks run */
};

void pipeline_defaults(struct pipeline_cfg *cfg);

struct pipeline;

/* Called with every event, in order, ev->seq set; takes ownership. */
typedef void (*pipeline_event_fn)(void *ctx, struct event *ev);
/* Called when packet time advanced by at least cfg.tick_us. */
typedef void (*pipeline_tick_fn)(void *ctx, uint64_t now_us);

/* map must outlive the pipeline. NULL on allocation failure. */
struct pipeline *pipeline_new(const struct pipeline_cfg *cfg, const struct svcmap *map,
                              struct stats *st, pipeline_event_fn fn, pipeline_tick_fn tick,
                              void *ctx);
/* Feed one captured frame. */
void pipeline_packet(struct pipeline *p, int linktype, const uint8_t *data, uint32_t caplen,
                     uint32_t wirelen, uint64_t ts_us);
/* Consult map from now on (rules reload): service names, operations and
 * topics of new messages, on every connection, open ones included. The
 * capture layer's server port map stays the one given at creation. The old
 * map must outlive the pipeline (pending requests may point into it). */
void pipeline_use_map(struct pipeline *p, const struct svcmap *map);
/* No packet for a while (live mode): expire flows as if packet time were
 * now_us, so closed connections end, holes time out and their messages come
 * out during silence too. Does not move the packet clock itself. */
void pipeline_idle(struct pipeline *p, uint64_t now_us);
/* End of input: flush flows and parsers (events still delivered). */
void pipeline_finish(struct pipeline *p);
uint64_t pipeline_last_ts(const struct pipeline *p);
void pipeline_free(struct pipeline *p); /* NULL accepted */

/* The capture layer's server port map built from the service map (names
 * point into map). Returns a malloc'ed array (caller frees) and its size in
 * *nports, or NULL on allocation failure. */
struct flow_port *pipeline_ports(const struct svcmap *map, size_t *nports);

/* Memory pools, for stats: 0 parsers, 1 events, 2 carry buffers. */
const struct mem_pool *pipeline_pool(const struct pipeline *p, int which);

/* Flows in the table now. */
size_t pipeline_flow_count(const struct pipeline *p);

#endif
