/* classify.h -- application protocol of a flow: the port map, then nDPI 4.2.
 *
 * A server port in the map decides at once (the map wins for HTTP and AMQP
 * on configured ports). Other flows are shown to nDPI (ndpi_api.h,
 * ndpi_detection_process_packet) for their first packets, up to a cap; the
 * per-flow nDPI state is charged to a pool with a memcap and freed as soon
 * as detection ends, so memory stays bounded. nDPI is optional
 * (cfg.use_ndpi) so tests run without it. */
#ifndef OSRCA_CLASSIFY_H
#define OSRCA_CLASSIFY_H

#include <stddef.h>
#include <stdint.h>

#include "capture/decode.h"
#include "capture/flow.h"
#include "capture/stats.h"

struct classify_cfg {
    const struct flow_port *ports; /* server port map; copied into an index */
    size_t nports;
    int use_ndpi;         /* 0: port map only */
    unsigned max_packets; /* packets per flow shown to nDPI (default 16) */
    size_t memcap;        /* nDPI flow state in all (default 32 MiB) */
};

void classify_defaults(struct classify_cfg *cfg);

struct classify;
struct classify_flow; /* per-flow detection state, NULL when done */

/* Returns NULL on allocation failure or when nDPI cannot initialise
 * (start-up). Counters "classify.*" go to st. */
struct classify *classify_new(const struct classify_cfg *cfg, struct stats *st);
void classify_free(struct classify *c); /* NULL accepted */

/* The map entry of port, or NULL. */
const struct flow_port *classify_port(const struct classify *c, uint16_t port);

/* A new flow: set f->app / f->app_name from the port map. *cf receives the
 * detection state when nDPI should look at the packets (NULL otherwise,
 * also when the memcap refused it: counted "classify.memcap"). */
void classify_flow_begin(struct classify *c, struct flow *f, struct classify_flow **cf);

/* Show one packet of the flow to nDPI while *cf is not NULL. On detection,
 * or after max_packets, f->app / f->app_name are set and *cf freed (NULL). */
void classify_packet(struct classify *c, struct flow *f, struct classify_flow **cf,
                     const struct pkt *pkt);

/* Free the detection state (NULL accepted); *cf becomes NULL. */
void classify_flow_end(struct classify *c, struct classify_flow **cf);

#endif
