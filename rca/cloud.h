/* cloud.h -- the model of the cloud across operations: what the wire says
 * about each service instance (service@host) over time, and who depends
 * on whom (DESIGN.md "Finding the origin of a fault"; an outage is a
 * property of a service over time, seen across many operations).
 *
 * Every event is shown to the model (cloud_observe) before it is stitched
 * into a chain. Per instance the model keeps: when it was seen and when it
 * last sent something; its AMQP connections opened and how they ended
 * (closed, reset, force-closed by the broker); connections to it refused
 * or unanswered; requests it left without an answer; calls delivered to it
 * that it never answered; work queued for it that nobody consumed; and the
 * silence of its periodic reports. From that evidence, a health timeline:
 * up, down (or hung) since T with the evidence, back at T'. Edges record
 * the dependencies actually observed: REST calls from one instance to
 * another, RPC calls and casts to a topic's consumer, AMQP to the broker.
 *
 * Memory is per instance and per edge, never per message: fixed
 * capacities (max_instances, max_edges, a short timeline per instance),
 * counted when full. Packet time is the only clock. */
#ifndef OSRCA_CLOUD_H
#define OSRCA_CLOUD_H

#include <stddef.h>
#include <stdint.h>

#include "capture/stats.h"
#include "parsers/event.h"
#include "rca/rules_load.h"

enum cloud_state {
    CLOUD_UP = 0,
    CLOUD_DOWN, /* stopped: refuses, left the broker, its work is not consumed */
    CLOUD_HUNG  /* there but not answering: requests and calls go unanswered */
};

/* The evidence that opened a down (or hung) period. */
enum cloud_why {
    CLOUD_WHY_NONE = 0,
    CLOUD_WHY_REFUSED,    /* connections to its port refused */
    CLOUD_WHY_UNREACHED,  /* connection attempts to it never answered */
    CLOUD_WHY_LEFT,       /* it closed (or reset) its AMQP connections */
    CLOUD_WHY_FORCED,     /* the broker force-closed its connections (shutdown) */
    CLOUD_WHY_NO_ANSWER,  /* requests it held until the client gave up */
    CLOUD_WHY_NO_REPLY,   /* calls delivered to it, never answered */
    CLOUD_WHY_UNCONSUMED, /* work queued for it that no consumer took */
    CLOUD_WHY_SILENT,     /* its periodic reports stopped */
    CLOUD_WHY_NAMED,      /* other services' errors name it (a fault rule's
                             culprit: the database, keystone behind a 503) */
    CLOUD_WHY_BACKEND,    /* a service that depends on it (and on nothing
                             else out of the wire's sight, nothing it
                             depends on seen down) fails every real request
                             while it answers what needs no backend */
    CLOUD_WHY_HELD,       /* work delivered to it never finished while a
                             client waited for it (a stuck operation) */
    CLOUD_WHY_STALLED,    /* its host stopped acknowledging data sent to it
                             (TCP retransmissions into silence): unreachable,
                             a cut link or a dead host; since its address's
                             last packet */
    CLOUD_WHY_CALLERS,    /* a service that could not connect to what it
                             calls (its error says so, the call out of the
                             wire's sight): of what its family calls, the
                             one silent from before until after */
    CLOUD_WHY_COUNT
};

/* One period of an instance's health. */
struct cloud_span {
    uint8_t state;      /* enum cloud_state: CLOUD_DOWN or CLOUD_HUNG */
    uint8_t why;        /* enum cloud_why of the first evidence */
    uint32_t evidence;  /* pieces of evidence while it lasted */
    uint64_t since_us;  /* first evidence (for LEFT/SILENT: its last sign of life) */
    uint64_t until_us;  /* back up (first sign of life after), 0 = still */
};

#define CLOUD_SPANS 8 /* the last periods of each instance */
#define CLOUD_WAITS 8 /* the last long waits of each instance */
#define CLOUD_SLOW_ACKS 16 /* the last late acknowledgements of each address */
#define CLOUD_LONG_WAIT_US 1000000ull /* a REST call answered this late is one */

/* A REST call an instance made that took long to be answered: what it
 * was waiting on meanwhile, whichever operation the call served (a
 * periodic task holding a lock the user's work needs, say). */
struct cloud_wait {
    uint32_t to;          /* instance id of the callee */
    uint64_t since_us, until_us;
    char what[48];        /* its operation name, or "METHOD" */
};

struct cloud_inst {
    uint32_t id;         /* 1, 2, ... in order of discovery */
    int embedded;        /* a library inside the services of its address
                            (keystonemiddleware, nova's API clients) */
    uint32_t alias;      /* merged into instance alias (known first by its
                            address, then found to be that one): skip it */
    const char *service; /* canonical name */
    char host[64];       /* host name the traffic gives it, "" unknown */
    char addr[46];       /* its address, "" unknown */
    uint16_t port;       /* the port it serves (REST), 0 */
    uint64_t first_us;   /* first seen */
    uint64_t alive_us;   /* last message it sent (a sign of life) */
    uint64_t msgs;       /* messages it sent */
    uint64_t rpc_sent;   /* of them, RPC messages it published (calls, casts,
                            replies, notifications) */
    /* evidence counters, over the whole capture */
    uint32_t amqp_opened, amqp_closed, amqp_reset, amqp_forced;
    uint32_t refused, unreached, no_answer, no_reply, unconsumed;
    uint32_t conns;      /* AMQP connections known open now */
    /* its current run of trouble (server errors, requests closed or held
     * unanswered, calls unanswered, errors naming it), gaps under 5 s */
    uint64_t trouble_first_us, trouble_last_us;
    uint32_t trouble_n;  /* failures in that run */
    uint64_t version_ok_us; /* it last answered a version document (no backend needed) */
    uint64_t real_ok_us;    /* it last answered a real request (2xx) */
    /* periodic reports (a background call it repeats with no user behind) */
    uint64_t beat_last_us, beat_period_us;
    uint32_t beats;
    struct cloud_span spans[CLOUD_SPANS]; /* oldest first */
    struct cloud_wait waits[CLOUD_WAITS]; /* a ring: the last long waits */
    size_t nwaits;                        /* ever recorded */
    size_t nspans;
    char svcbuf[32];     /* service points here */
};

enum cloud_edge_kind { CLOUD_EDGE_REST = 0, CLOUD_EDGE_RPC, CLOUD_EDGE_AMQP };

struct cloud_edge {
    uint32_t from, to; /* instance ids */
    uint8_t kind;      /* enum cloud_edge_kind */
    uint64_t calls, errors;
    uint64_t first_us, last_us;
};

struct cloud_cfg {
    size_t max_instances; /* default 4096 */
    size_t max_edges;     /* default 16384 */
    uint64_t unconsumed_us; /* a call or cast still undelivered after this is
                               unconsumed (default 2 s) */
    unsigned silent_beats;  /* periods of silence that make a reporter down
                               (default 3) */
};

void cloud_defaults(struct cloud_cfg *cfg);

struct cloud;

/* NULL on allocation failure. rules must outlive the model (it may be
 * swapped with cloud_use_rules); st may be NULL. */
struct cloud *cloud_new(const struct cloud_cfg *cfg, const struct rules *rules, struct stats *st);
void cloud_free(struct cloud *m);
void cloud_use_rules(struct cloud *m, const struct rules *rules);

/* Learn from one event (any kind; the event is not kept). */
void cloud_observe(struct cloud *m, const struct event *ev);

/* Packet time advanced to now_us: silence past a reporter's period and
 * work left unconsumed become evidence. */
void cloud_tick(struct cloud *m, uint64_t now_us);

/* Evidence found while deciding a chain, that the model could not see in
 * the events alone: a call delivered to (svc, host, addr) that was never
 * answered by its deadline (why CLOUD_WHY_NO_REPLY), or published and
 * never delivered (CLOUD_WHY_UNCONSUMED); work delivered to it that a
 * stuck operation waited on (CLOUD_WHY_HELD); t_us is when it was sent. */
void cloud_note(struct cloud *m, const char *svc, const char *host, const char *addr,
                enum cloud_why why, uint64_t t_us);

/* The instance of svc on host (a name) or at addr (either may be NULL or
 * ""), or NULL if never seen. With neither, the only instance of svc, if
 * there is exactly one. */
const struct cloud_inst *cloud_find(const struct cloud *m, const char *svc, const char *host,
                                    const char *addr);

/* The instance holding server uuid: the one that last got work on it
 * through its host's own topic (nova-compute of the server's host), or
 * NULL when none was seen (the last 4096 servers, roughly). */
const struct cloud_inst *cloud_home(const struct cloud *m, const char *uuid);

/* How many late acknowledgements (FLOW_EV_SLOW_ACK: data to addr
 * acknowledged 0.5 s or more after it was sent, not sent again) the model
 * kept for addr within [t0, t1], the latest 16; *worst gets the latest of
 * them. 0: none (its link looked fine, or nothing was watched). */
uint32_t cloud_slow_acks(const struct cloud *m, const char *addr, uint64_t t0, uint64_t t1,
                         uint64_t *worst);

/* The instance x spent most of [t0, t1] waiting on (a REST call of its
 * answered late, covering at least half of the time), NULL when none;
 * *w gets that wait. */
const struct cloud_inst *cloud_waited_on(const struct cloud *m, const struct cloud_inst *x,
                                         uint64_t t0, uint64_t t1, const struct cloud_wait **w);

/* The period of x still going (down or hung now), NULL when it is up. */
const struct cloud_span *cloud_current_span(const struct cloud_inst *x);

/* The period of inst that was down or hung at some time in [t0, t1]
 * (the latest such), or NULL when it was up all along. */
const struct cloud_span *cloud_down_during(const struct cloud_inst *inst, uint64_t t0,
                                           uint64_t t1);

/* Is the period s substantial at now: two pieces of evidence or more, or
 * lasting 5 s (a single refusal or a connection closed and reopened at
 * once is not an outage)? */
int cloud_span_solid(const struct cloud_span *s, uint64_t now);

/* Is inst down or hung at t? */
int cloud_down_at(const struct cloud_inst *inst, uint64_t t);

/* Instances, for outputs and for blame. Indices 0..count-1; NULL past
 * the end. */
size_t cloud_count(const struct cloud *m);
const struct cloud_inst *cloud_at(const struct cloud *m, size_t i);
/* 1 if from has been seen calling to (any kind), itself or through a
 * library embedded in the services of its address (keystonemiddleware
 * validating tokens, nova's glance and neutron clients). */
int cloud_depends(const struct cloud *m, const struct cloud_inst *from, const struct cloud_inst *to);
/* The same, the libraries counted only when they are from's own family
 * (nova's API clients for nova-api, not keystonemiddleware, which every
 * service of the address holds). */
int cloud_calls(const struct cloud *m, const struct cloud_inst *from, const struct cloud_inst *to);
/* x could not connect to a REST service it calls (its error says so; the
 * call itself is out of the wire's sight: both on one host behind a span
 * port) in a request begun at t; now is later (the verdict's time). Of
 * the REST services x's family was seen calling (x itself, or a service or
 * library of its family anywhere: nova-compute's calls speak for
 * nova-api), none seen down: when exactly one was silent from before t
 * until now while every other spoke after t, it is the one x could not
 * reach. Its down period opens at its last sign of life
 * (CLOUD_WHY_CALLERS) and x is recorded as calling it. Returns it; NULL
 * when none or several. */
const struct cloud_inst *cloud_unreached_callee(struct cloud *m, const struct cloud_inst *x,
                                                uint64_t t, uint64_t now);

/* Consumers come back to a restarted broker this late at the most (they
 * reconnect and declare their queues again): work sent to them meanwhile
 * has no queue, and is lost to the broker's outage. */
#define CLOUD_BROKER_LAG_US 5000000ull

/* The broker x has been seen opening AMQP connections to, down at t or
 * back less than CLOUD_BROKER_LAG_US before t, with that period in *span;
 * NULL when none. */
const struct cloud_inst *cloud_broker_down(const struct cloud *m, const struct cloud_inst *x,
                                           uint64_t t, const struct cloud_span **span);


/* A service instance at addr (not a library embedded in one) seen calling
 * the instance to, that sent something within [t - window, t]: the likely
 * author of a connection attempt from addr to `to` at t. NULL if none. */
const struct cloud_inst *cloud_busy_caller(const struct cloud *m, const char *addr,
                                           const struct cloud_inst *to, uint64_t t,
                                           uint64_t window);

/* Packet time of the last background work (an RPC sent with no user
 * behind it) from addr, 0 if none. */
uint64_t cloud_background_at(const struct cloud *m, const char *addr);

/* "service@host" (or @addr) of inst into buf. */
const char *cloud_inst_name(const struct cloud_inst *inst, char *buf, size_t len);
const char *cloud_state_name(enum cloud_state s);
/* The category a period gives a verdict or an incident: host_unreachable
 * (CLOUD_WHY_STALLED), service_hung, service_down. */
const char *cloud_span_category(const struct cloud_span *s);
const char *cloud_why_name(enum cloud_why w);

#endif
