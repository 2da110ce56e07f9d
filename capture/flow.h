/* flow.h -- TCP flow table and per-direction reassembly (RFC 9293).
 *
 * Flows are keyed by the bidirectional 5-tuple. The client is the side that
 * sent the first SYN; when the capture starts mid-connection the port map
 * (server ports) and then "lower port is the server" decide. Each direction
 * is reassembled to in-order bytes: out-of-order segments are held (capped),
 * retransmissions and overlaps resolved first-copy-wins, sequence numbers
 * compared wrap-aware on 64-bit stream offsets, and holes that cannot be
 * filled are reported as gaps with their length, never glued over: as soon
 * as the peer's ACK shows the capture lost them, after hole_timeout_us
 * otherwise. A direction whose sequence numbers jump (merged captures, an
 * unseen new connection on the same 5-tuple) resynchronises at the new
 * position once it is confirmed (capture/reasm.h).
 * Packet time is the only clock (expiry included). */
#ifndef OSRCA_FLOW_H
#define OSRCA_FLOW_H

#include <stddef.h>
#include <stdint.h>

#include "capture/decode.h"
#include "capture/stats.h"

enum flow_dir { FLOW_C2S = 0, FLOW_S2C = 1 };

/* Application protocol of a flow, from the port map and nDPI. */
enum flow_app { FLOW_APP_UNKNOWN = 0, FLOW_APP_HTTP, FLOW_APP_AMQP, FLOW_APP_OTHER };

/* Connection events; also OR-ed as bits (1u << ev) into flow.events. */
enum flow_event {
    FLOW_EV_SYN = 0,        /* first SYN seen (connection attempt) */
    FLOW_EV_ESTABLISHED,    /* SYN, SYN-ACK seen */
    FLOW_EV_REFUSED,        /* SYN answered by RST: nothing listening */
    FLOW_EV_UNANSWERED,     /* SYN(s) never answered before expiry / end
                               (counted flow.syn_unanswered, the first few
                               with a diagnostic) */
    FLOW_EV_RESET,          /* RST after data or establishment */
    FLOW_EV_CLOSED,         /* FIN seen in both directions */
    FLOW_EV_MIDSTREAM,      /* joined without a handshake */
    FLOW_EV_STALLED,        /* one side sent data its peer never acknowledged:
                               retransmitted FLOW_STALL_RETRANSMITS times
                               with no packet at all from the peer for at
                               least FLOW_STALL_QUIET_US (the peer is
                               unreachable: host down, link cut); struct
                               flow.stall_dir and stall_since_us say who and
                               since when. Once per silence: the peer's next
                               packet ends it. Counted flow.stalled */
    FLOW_EV_SLOW_ACK,       /* one side acknowledged data late (its ACK
                               came FLOW_SLOW_ACK_US or more after the
                               data, without the data being sent again): a
                               slow link or host beyond the capture point.
                               struct flow.slow_ack_dir and slow_ack_us say
                               who and how late; at most once per
                               FLOW_SLOW_ACK_EVERY_US per flow. Counted
                               flow.slow_acks */
    FLOW_EV_COUNT
};

/* Why a flow left the table (struct flow.end_why, set before cb.end). */
enum flow_end {
    FLOW_END_DONE = 0, /* closed (FIN both ways) or reset, then drained */
    FLOW_END_IDLE,     /* no packet for the idle (or SYN) timeout */
    FLOW_END_EVICTED,  /* the table was full */
    FLOW_END_REUSED,   /* a new SYN on the same 5-tuple */
    FLOW_END_INPUT     /* end of the input (or flush) */
};

#define FLOW_STALL_RETRANSMITS 3        /* RTO backoff: >= 1.4 s on Linux */
#define FLOW_STALL_QUIET_US 1000000ull
#define FLOW_SLOW_ACK_US 500000ull        /* an ACK this late is a slow link */
#define FLOW_SLOW_ACK_EVERY_US 5000000ull /* at most one FLOW_EV_SLOW_ACK per flow per */

const char *flow_event_name(enum flow_event ev);
const char *flow_app_name(enum flow_app app);

struct flow_endpoint {
    char addr[46]; /* numeric text: "10.0.0.5", "fe80::1" */
    uint16_t port;
};

struct flow {
    uint64_t id;                    /* 1, 2, ... in order of creation */
    int family;                     /* 4 or 6 */
    struct flow_endpoint cli, srv;  /* client = connection initiator */
    int dir_from_handshake;         /* 1: client known from SYN; 0: heuristic */
    enum flow_app app;
    char app_name[32];              /* nDPI's name, or from the port map */
    uint64_t pkts[2], bytes[2];     /* frames and frame bytes (wire length) per dir */
    uint64_t payload[2];            /* TCP payload bytes per dir (incl. retransmits) */
    uint64_t delivered[2];          /* in-order bytes handed to the consumer */
    uint64_t gaps[2], gap_bytes[2];
    uint64_t first_us, last_us;
    uint64_t accept_wait_us;        /* the first SYN to the SYN-ACK, when the
                                       SYN had to be sent again (a server slow
                                       to accept); 0 otherwise. The consumer
                                       may clear it once told */
    uint32_t events;                /* bit (1u << enum flow_event) */
    uint8_t fin[2];                 /* FIN seen per direction; set before the
                                       events of the same packet, so a RESET
                                       with a FIN already seen is the abortive
                                       end of a closing connection */
    int8_t fin_first;               /* direction of the first FIN, -1 none */
    uint64_t fin_us[2];             /* packet time of each direction's FIN, 0 none */
    int8_t rst_dir;                 /* direction of the first RST, -1 none */
    int8_t stall_dir;               /* direction whose data its peer stopped
                                       acknowledging (FLOW_EV_STALLED), -1 */
    int8_t slow_ack_dir;            /* direction whose ACKs came late
                                       (FLOW_EV_SLOW_ACK), -1 */
    uint64_t slow_ack_us;           /* how late */
    uint64_t stall_since_us;        /* the silent peer's last packet (its
                                       last sign of life), or the first
                                       unacknowledged data if it never sent */
    uint8_t end_why;                /* enum flow_end, valid in cb.end */
    uint32_t anomalies;             /* count of anomalies on this flow */
    void *user;                     /* the consumer's state; freed by it in cb.end */
};

/* Consumer callbacks. Spans die with the call. All may be NULL. */
struct flow_cb {
    void *ctx;
    /* A flow was created (before any data). */
    void (*open)(void *ctx, struct flow *f, uint64_t ts_us);
    /* In-order bytes of one direction. */
    void (*data)(void *ctx, struct flow *f, int dir, const uint8_t *p, size_t n, uint64_t ts_us);
    /* len bytes of direction dir are missing (lost, not captured, or dropped
     * at a memcap); data resumes after them. len 0: the direction's sequence
     * numbers jumped backwards and it resumed at an unrelated position; how
     * much is missing is unknown (treat it as a break in the stream). */
    void (*gap)(void *ctx, struct flow *f, int dir, uint64_t len, uint64_t ts_us);
    /* A connection event. */
    void (*event)(void *ctx, struct flow *f, enum flow_event ev, uint64_t ts_us);
    /* The flow is leaving the table (closed and drained, idle, evicted, or
     * end of input); f is freed after this returns. */
    void (*end)(void *ctx, struct flow *f, uint64_t ts_us);
};

/* A server port the capture layer should know (from rules/services.yaml). */
struct flow_port {
    uint16_t port;
    enum flow_app app;
    const char *name; /* e.g. "nova-api"; for flow lines only */
};

struct flow_cfg {
    size_t max_flows;            /* table capacity; oldest idle evicted beyond */
    size_t max_ooo_per_flow;     /* buffered out-of-order bytes per direction */
    size_t max_ooo_total;        /* memcap of all buffered bytes */
    uint64_t idle_timeout_us;    /* established flow with no packets */
    uint64_t syn_timeout_us;     /* unanswered SYN */
    uint64_t closed_timeout_us;  /* after FIN/FIN or RST */
    uint64_t hole_timeout_us;    /* a hole unfilled this long (packet time) is
                                    given up as a gap; 0 = only at caps and end.
                                    Default 2 s (REASM_HOLE_TIMEOUT_DEFAULT) */
    uint32_t resync_window;      /* bytes ahead/behind the next expected one
                                    beyond which a segment is out of window (a
                                    resync candidate); 0 = default 4 MiB, at
                                    most 1 GiB (capture/reasm.h) */
    const struct flow_port *ports; /* server port map; may be NULL */
    size_t nports;
    int use_ndpi;                /* classify with nDPI too */
};

void flow_defaults(struct flow_cfg *cfg);

struct flow_table;

/* Returns NULL on allocation failure (start-up). stats must outlive it. */
struct flow_table *flow_table_new(const struct flow_cfg *cfg, struct stats *st,
                                  const struct flow_cb *cb);
/* Ends every flow (cb.end) then frees; NULL accepted. */
void flow_table_free(struct flow_table *ft);

/* Feed one decoded packet. Non-TCP packets are counted and ignored. */
void flow_packet(struct flow_table *ft, const struct pkt *pkt);
/* Expire flows idle at packet time now_us and give up holes older than
 * hole_timeout_us (called as time advances, e.g. every 100 ms; cheap: the
 * flows holding data are only visited when one of them is due). */
void flow_expire(struct flow_table *ft, uint64_t now_us);
/* End of input: report unanswered SYNs, flush, end every flow. */
void flow_flush(struct flow_table *ft, uint64_t now_us);

size_t flow_count(const struct flow_table *ft);

#endif
