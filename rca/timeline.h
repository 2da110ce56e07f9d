/* timeline.h -- where the time of one chain went (issue 19 §3): its hops
 * (each REST call and its answer, each RPC call and its reply, each cast
 * and its delivery, with the time it waited in the queue) and who held
 * the operation at each moment of its wall time.
 *
 * Holding is read off the order of the messages: the time before a
 * message is the time of whoever produced it. Before an answer (an HTTP
 * response, an RPC reply) the callee held it; before a request, call or
 * cast its sender was working; before a delivery of a message whose
 * publish was seen, the message sat in its queue, held by the consumer
 * that had not taken it; before a delivery whose publish is out of the
 * wire's sight, by work nobody can see. A client's polls of its resource
 * are left out of the holding (they overlap the work, they do not do it):
 * the time from the last work to the client's last poll is the client's.
 *
 * A timeline holds copies (no pointer into the chain): it may outlive it. */
#ifndef OSRCA_TIMELINE_H
#define OSRCA_TIMELINE_H

#include <stddef.h>
#include <stdint.h>

#include "rca/chain.h"

/* TL_CONNECT: a connection attempt refused or never answered (a failed
 * call that never reached the wire as a request) */
enum tl_kind { TL_HTTP = 0, TL_CALL, TL_CAST, TL_NOTIFY, TL_CONNECT, TL_KINDS };

/* One end of a hop, or a holder. service NULL: unknown. */
struct tl_peer {
    char service[32];    /* canonical name, "client" for a user's client; "" unknown */
    char host[64];       /* "" unknown */
    char addr[46];       /* "" unknown */
    uint16_t port;       /* its TCP port on the message, 0 unknown */
};

struct tl_hop {
    uint8_t kind;        /* enum tl_kind */
    int32_t entry;       /* the request / publish (or lone delivery) */
    int32_t end;         /* its answer, reply or first delivery; CHAIN_NONE */
    struct tl_peer client, server;
    struct tl_peer via;  /* RPC: the broker it was published to; "" */
    char label[96];      /* operation name, "METHOD /path/{id}", "topic.method", event type */
    uint64_t t0, t1;     /* sent, answered (t1 0: no answer seen) */
    int64_t wait_us;     /* publish to first delivery, -1 unknown */
    int status;          /* HTTP status, 0 */
    int error;           /* 5xx, left unanswered, RPC failure or timeout */
    int client_error;    /* 4xx */
    uint64_t accept_us;  /* HTTP: the server took this long to accept its
                            connection (t0 is when the request was sent) */
    uint64_t seq0, seq1; /* the events' seq of entry and end (0: none) */
    uint64_t key;        /* the message's identity, the same in any capture
                            of it: RPC its msg_id or unique id, HTTP its
                            time and connection (timeline_hop_key) */
    uint8_t inferred;    /* client: its AMQP connection's owner unknown, the
                            one service on the publisher's address, else the
                            one there last handed work of the chain still
                            open then (a request, a call, a cast) */
};

enum tl_how {
    TL_WORK = 0, /* the holder was working: its next message ends the time */
    TL_ANSWER,   /* a callee held a request or call until it answered */
    TL_QUEUE,    /* a message waited in its queue for the holder (its consumer) */
    TL_UNSEEN,   /* work out of the wire's sight until a delivery */
    TL_CLIENT,   /* the client: from the last work to its last poll */
    TL_ACCEPT    /* a server slow to accept the connection of a request to
                    it (the SYN sent again): from the first SYN to the
                    request */
};

struct tl_hold {
    uint64_t t0, t1;
    struct tl_peer who;
    uint8_t how;  /* enum tl_how */
    int32_t from; /* entry before the time (CHAIN_NONE at the start) */
    int32_t to;   /* entry that ended it (CHAIN_NONE: the client's end) */
    int32_t hop;  /* the hop it belongs to (an answer's or a delivery's), -1 */
    uint8_t inferred; /* who: a sender the wire does not name, taken for the
                         service on its address last handed work of the
                         chain still open then */
};

struct timeline {
    uint64_t start, end; /* the operation's wall time: the client's command
                            began (its session's burst of requests before the
                            root: login, name lookups; else the root sent) ..
                            the client's last answer (else the last message) */
    struct tl_hop *hops;
    size_t nhops;
    struct tl_hold *holds; /* in time order, gaps of 0 left out; in the
                              block of hops (one allocation) */
    size_t nholds;
    int borrowed;          /* the block is a timeline_mem's, not freed here */
};

/* Memory a caller lends timeline_build again and again (the block of hops
 * and holds, and its scratch): no allocation per chain once grown. Zeroed
 * is empty; timeline_mem_free gives it back. */
struct timeline_mem {
    void *block, *scratch;
    size_t block_cap, scratch_cap;
};
void timeline_mem_free(struct timeline_mem *mem);

struct cloud;
/* Build c's timeline into tl (zeroed first); m (may be NULL) names the
 * sender of a message whose connection's owner is unknown when its
 * address holds one service. With mem, the timeline lives in mem's block
 * (valid until the next build with mem); without, in its own. -1 on
 * allocation failure (tl is then empty). */
int timeline_build(const struct chain_set *cs, const struct chain *c, const struct cloud *m,
                   struct timeline *tl, struct timeline_mem *mem);

/* Name every end and holder by the host the model of the cloud knows for
 * that service at that address, when the message left it unsaid: one
 * name per instance, for what is shown. */
void timeline_canon(struct timeline *tl, const struct cloud *m);
void timeline_free(struct timeline *tl);

/* The hop service who (its host, when both say one) was waiting on at
 * t1: a REST request or RPC call it made in [t0, t1] to another service,
 * not answered by t1 (answered later, or never); the earliest such. Its
 * index, -1 when none. */
int timeline_waiting_on(const struct timeline *tl, const struct tl_peer *who, uint64_t t0,
                        uint64_t t1);

/* "METHOD /v2.1/servers/{id}" of a path: segments carrying a digit (ids,
 * names like m1.tiny) other than versions, or longer than 24 bytes, become
 * {id}; at most 6 segments. */
void timeline_path_label(const char *method, const char *path, char *out, size_t len);

/* The identity of message ev, the same wherever it is captured: an RPC
 * message's msg_id (else its unique id), an HTTP message's time and
 * connection ends. A 64-bit hash. */
uint64_t timeline_msg_key(const struct event *ev);

const char *timeline_kind_name(enum tl_kind k);
const char *timeline_how_name(enum tl_how h);
/* "service@host" (or @addr, or the service alone) into buf. */
const char *timeline_peer_name(const struct tl_peer *p, char *buf, size_t len);

#endif
