/* classify.c -- port map + nDPI 4.2 classification of flows (see classify.h;
 * nDPI API: /usr/include/ndpi/ndpi_api.h). */
#include "capture/classify.h"

#include <ndpi_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/mem.h"
#include "capture/str.h"

struct classify_flow {
    struct ndpi_flow_struct *nf;
    unsigned packets;
};

struct classify {
    struct classify_cfg cfg;
    struct flow_port *ports; /* copy of the map */
    uint16_t *index;         /* port -> 1 + entry, 0 = not mapped (65536 entries) */
    struct ndpi_detection_module_struct *ndpi;
    struct mem_pool pool;
    uint64_t *c_ndpi_flows, *c_detected, *c_giveup, *c_memcap, *c_by_port;
    struct stats *st;
};

void classify_defaults(struct classify_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->use_ndpi = 1;
    cfg->max_packets = 16;
    cfg->memcap = 32u << 20;
}

struct classify *classify_new(const struct classify_cfg *cfg, struct stats *st)
{
    struct classify *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->cfg = *cfg;
    if (c->cfg.max_packets == 0)
        c->cfg.max_packets = 16;
    mem_pool_init(&c->pool, "ndpi", cfg->memcap);
    c->index = calloc(65536, sizeof(*c->index));
    if (!c->index)
        goto fail;
    if (cfg->nports) {
        c->ports = calloc(cfg->nports, sizeof(*c->ports));
        if (!c->ports)
            goto fail;
        /* index entries are 16-bit: a map that large is a configuration error
         * in all but name; the first 65535 entries are kept */
        size_t n = cfg->nports < 65535 ? cfg->nports : 65535;
        for (size_t i = 0; i < n; i++) {
            c->ports[i] = cfg->ports[i];
            if (!c->index[cfg->ports[i].port]) /* first entry wins */
                c->index[cfg->ports[i].port] = (uint16_t)(i + 1);
        }
    }
    c->cfg.ports = c->ports;
    c->c_ndpi_flows = stats_counter(st, "classify.ndpi_flows");
    c->c_detected = stats_counter(st, "classify.ndpi_detected");
    c->c_giveup = stats_counter(st, "classify.ndpi_giveup");
    c->c_memcap = stats_counter(st, "classify.memcap");
    c->c_by_port = stats_counter(st, "classify.by_port");
    c->st = st;
    return c;
fail:
    classify_free(c);
    return NULL;
}

/* nDPI's detection module, made when the first flow needs it: loading its
 * protocol and address tables takes ~8 ms, spent for nothing when every
 * flow is known by port (the usual span of an OpenStack control plane).
 * A failure turns nDPI off for the run, with a diagnostic. */
static int ndpi_start(struct classify *c, uint64_t ts_us)
{
    c->ndpi = ndpi_init_detection_module(ndpi_no_prefs);
    if (!c->ndpi) {
        c->cfg.use_ndpi = 0;
        if (c->st)
            stats_diag(c->st, "classify.ndpi_init_failed", ts_us,
                       "nDPI could not start: flows off the port map stay unclassified");
        return -1;
    }
    NDPI_PROTOCOL_BITMASK all;
    NDPI_BITMASK_SET_ALL(all);
    ndpi_set_protocol_detection_bitmask2(c->ndpi, &all);
    ndpi_finalize_initialization(c->ndpi);
    return 0;
}

void classify_free(struct classify *c)
{
    if (!c)
        return;
    if (c->ndpi)
        ndpi_exit_detection_module(c->ndpi);
    free(c->index);
    free(c->ports);
    free(c);
}

const struct flow_port *classify_port(const struct classify *c, uint16_t port)
{
    uint16_t i = c->index[port];
    return i ? &c->ports[i - 1] : NULL;
}

void classify_flow_begin(struct classify *c, struct flow *f, struct classify_flow **cf)
{
    *cf = NULL;
    const struct flow_port *fp = classify_port(c, f->srv.port);
    if (!fp)
        fp = classify_port(c, f->cli.port); /* direction guessed wrong mid-stream */
    if (fp) {
        (*c->c_by_port)++;
        f->app = fp->app;
        str_copy(f->app_name, sizeof(f->app_name), fp->name ? fp->name : flow_app_name(fp->app));
        if (fp->app == FLOW_APP_HTTP || fp->app == FLOW_APP_AMQP)
            return; /* the port map wins */
    }
    if (!c->cfg.use_ndpi || (!c->ndpi && ndpi_start(c, f->first_us) < 0))
        return;
    struct classify_flow *st = mem_calloc(&c->pool, sizeof(*st) + SIZEOF_FLOW_STRUCT);
    if (!st) {
        (*c->c_memcap)++;
        return;
    }
    st->nf = (struct ndpi_flow_struct *)(st + 1);
    (*c->c_ndpi_flows)++;
    *cf = st;
}

/* Apply an nDPI verdict to f. Returns 1 when it named a protocol. */
static int apply(struct classify *c, struct flow *f, ndpi_protocol pr)
{
    uint16_t id = pr.app_protocol != NDPI_PROTOCOL_UNKNOWN ? pr.app_protocol : pr.master_protocol;
    if (id == NDPI_PROTOCOL_UNKNOWN)
        return 0;
    enum flow_app app = FLOW_APP_OTHER;
    if (pr.master_protocol == NDPI_PROTOCOL_HTTP || pr.app_protocol == NDPI_PROTOCOL_HTTP)
        app = FLOW_APP_HTTP;
    else if (pr.master_protocol == NDPI_PROTOCOL_AMQP || pr.app_protocol == NDPI_PROTOCOL_AMQP)
        app = FLOW_APP_AMQP;
    int mapped = f->app != FLOW_APP_UNKNOWN; /* a port map name stays */
    if (!mapped || app == FLOW_APP_HTTP || app == FLOW_APP_AMQP)
        f->app = app;
    if (!mapped) {
        const char *name = ndpi_get_proto_name(c->ndpi, id);
        str_copy(f->app_name, sizeof(f->app_name), name ? name : "?");
    }
    return 1;
}

void classify_packet(struct classify *c, struct flow *f, struct classify_flow **cf,
                     const struct pkt *pkt)
{
    struct classify_flow *st = *cf;
    if (!st || !c->ndpi || !pkt->l3 || pkt->l3_len == 0)
        return;
    unsigned short len = pkt->l3_len > 65535 ? 65535 : (unsigned short)pkt->l3_len;
    ndpi_protocol pr =
        ndpi_detection_process_packet(c->ndpi, st->nf, pkt->l3, len, pkt->ts_us / 1000);
    st->packets++;
    if (apply(c, f, pr)) {
        (*c->c_detected)++;
        classify_flow_end(c, cf);
        return;
    }
    if (st->packets >= c->cfg.max_packets) {
        uint8_t guessed = 0;
        pr = ndpi_detection_giveup(c->ndpi, st->nf, 0, &guessed);
        if (apply(c, f, pr))
            (*c->c_detected)++;
        else
            (*c->c_giveup)++;
        classify_flow_end(c, cf);
    }
}

void classify_flow_end(struct classify *c, struct classify_flow **cf)
{
    struct classify_flow *st = *cf;
    if (!st)
        return;
    ndpi_free_flow_data(st->nf);
    mem_free(&c->pool, st, sizeof(*st) + SIZEOF_FLOW_STRUCT);
    *cf = NULL;
}
