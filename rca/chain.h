/* chain.h -- stitching events into transaction chains (DESIGN.md "Finding
 * the origin of a fault", step 2; PROTOCOLS.md §3.1 request ids, §2.3-2.4
 * msg_id / _unique_id, §4 correlation keys).
 *
 * Tiers, strongest first: the same request id (HTTP response id == RPC
 * _context_request_id); a caller's id arriving as the callee's inbound
 * global id (X-OpenStack-Request-ID, _context_global_request_id; glance
 * echoes it as its own); RPC reply <-> call by _msg_id; Publish <-> Deliver
 * of one message by _unique_id (one hop); HTTP response <-> request by flow
 * and order; resource UUIDs (a client's polls, id-less asynchronous steps);
 * time nesting as last resort (token validations, id-less calls made
 * while a service handles an open request, and connection attempts by a
 * service that calls their target); a refused or unanswered connection
 * nothing else explains goes to the chain of its client session (the
 * caller says which: rca/session.h). When an event reveals that two
 * chains are one, they merge.
 *
 * The chain set owns every event it is given and frees it with its chain. */
#ifndef OSRCA_CHAIN_H
#define OSRCA_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "capture/arena.h"
#include "capture/stats.h"
#include "parsers/event.h"
#include "rca/rules_load.h"

/* entry flags */
#define CE_PENDING 0x0001     /* RPC call awaiting its reply */
#define CE_TIMED_OUT 0x0002   /* RPC call: no reply before its deadline */
#define CE_ANSWERED 0x0004    /* request/call got its response/reply */
#define CE_TWIN 0x0008        /* a Deliver folded into its Publish (twin) */
#define CE_LOOKUP_LIST 0x0010 /* list-by-name follow-up of a 404 lookup */
#define CE_POLL 0x0020        /* a client's read of a resource this chain owns */
#define CE_HTTP_OPEN 0x0040   /* request still awaiting its response */
#define CE_EOC 0x0080         /* call unanswered when the capture ended */
#define CE_LATE_REPLY 0x0100  /* reply came after the call timed out */
#define CE_NESTED 0x0200      /* attached by time nesting only (no id linked it) */
#define CE_SESSION 0x0400     /* a connection attempt tied to the chain's client session */
#define CE_DISOWNED 0x0800    /* ...which that client outlived: not its failure, no evidence */

#define CHAIN_NONE (-1)

struct chain_entry {
    struct event *ev;
    int32_t pair;   /* request <-> response, call <-> reply; CHAIN_NONE */
    int32_t twin;   /* Deliver: its Publish; Publish: its first Deliver; CHAIN_NONE */
    int32_t parent; /* explicit parent from time nesting; CHAIN_NONE */
    uint16_t ndeliver;
    uint16_t flags;
    uint8_t rank; /* root quality: 3 client HTTP, 2 user RPC / conn, 1 internal, 0 none */
    uint64_t deadline_us;
};

enum chain_lookup {
    CHAIN_LOOKUP_NONE = 0,
    CHAIN_LOOKUP_WAIT,  /* root is a client's 404 GET, awaiting a list-by-name */
    CHAIN_LOOKUP_FOUND, /* the list found it: the 404 was a benign name lookup */
    CHAIN_LOOKUP_EMPTY  /* the list was empty: really not found */
};

/* An index key of a chain: its text (in the chain's arena) and hash. */
struct chain_key {
    const char *text;
    uint64_t hash;
};

struct chain {
    uint64_t id;
    struct chain_entry *e;
    size_t n, cap;
    int32_t root; /* entry index of the root */
    uint64_t first_ts, last_ts;
    unsigned npending;
    uint64_t next_deadline; /* earliest pending deadline, UINT64_MAX if none */
    int has_user;           /* an RPC message carried a user/project context */
    uint32_t session;       /* client session of its root or of its refusals, 0 */
    uint64_t lead_us;       /* the client's command began before the root: its
                               session's burst of requests (login, name
                               lookups) started here; 0 unknown */
    uint64_t hold_until;    /* not to be decided before this packet time: a
                               refusal tied to its client waits to see whether
                               the client goes on (chain_cfg.session_hold_us) */
    int aside;              /* set by the rca layer: a client's read to show
                               with what its command already has, or what
                               followed it (rca/session.h session_aside) */
    int lookup;             /* enum chain_lookup */
    const char *lookup_name;
    uint64_t dropped; /* events refused at the per-chain cap */
    struct chain_key *keys; /* index keys registered for this chain */
    size_t nkeys, capkeys;
    struct arena arena; /* notes and small strings of reports */
    struct chain *prev, *next;
    /* the rca layer's heap of ready times: 1 + index, 0 = not in it */
    size_t heap_pos;
    uint64_t heap_key;
};

struct chain_cfg {
    size_t max_events_per_chain;
    uint64_t default_call_timeout_us;
    size_t max_open_requests; /* HTTP requests awaiting a response, all chains */
    uint64_t session_hold_us; /* hold_until after a refusal tied to a session
                                 (default 6 s) */
};

struct chain_set;

/* NULL on allocation failure. rules must outlive the set; st may be NULL. */
struct chain_set *chain_set_new(const struct chain_cfg *cfg, const struct rules *rules,
                                struct stats *st);
/* Frees every chain and event; NULL accepted. */
void chain_set_free(struct chain_set *cs);

/* Stitch ev (ownership taken) into its chain. session: the client session
 * ev belongs to (a client's request, a refused connection's), 0 if none.
 * Returns the chain, or NULL if the event was dropped (counted) and
 * freed. */
struct chain *chain_set_add(struct chain_set *cs, struct event *ev, uint32_t session);

/* The client session of a connection attempt, as the attempt_session hook
 * names it: its id (0: none) and the request id of the operation it has in
 * progress (NULL: none, or not answered yet). */
struct chain_session {
    uint32_t id;
    const char *op_request_id;
    int service_side; /* no client's: a service on the address made it */
};

/* A refused or unanswered connection nests into an open request only when
 * may_call(ctx, request, attempt) says the service handling the request
 * is one that calls the attempt's target; without the hook it never does.
 * One that does not nest joins the chain of the operation its client
 * session has in progress, else the chain of the session's other
 * attempts; one session_of says is a service's nests into the newest open
 * request a service on the attempt's address handles (its calls are not
 * all known yet), else a chain of its own. Either hook may be NULL. */
void chain_set_on_attempt(struct chain_set *cs,
                          int (*may_call)(void *ctx, const struct event *req,
                                          const struct event *attempt),
                          struct chain_session (*session_of)(void *ctx,
                                                             const struct event *attempt),
                          void *ctx);

/* Mark calls whose deadline is <= now_us as timed out; at_end also marks
 * every still-pending call as unanswered at the end of the capture. */
void chain_set_expire(struct chain_set *cs, uint64_t now_us, int at_end);

/* Call fn(ctx, c, entry) when call entry of chain c times out (no reply by
 * its deadline; not at the end of the input). NULL removes the hook. */
void chain_set_on_timeout(struct chain_set *cs,
                          void (*fn)(void *ctx, const struct chain *c, int32_t entry), void *ctx);

/* Call fn(ctx, c) whenever chain c leaves the set (merged into another,
 * or removed), before it is freed; NULL removes the hook. */
void chain_set_on_unlink(struct chain_set *cs, void (*fn)(void *ctx, struct chain *c), void *ctx);

/* Open chains, oldest first. */
struct chain *chain_set_first(const struct chain_set *cs);
size_t chain_set_count(const struct chain_set *cs);

/* Remove c from the set (index keys, open requests) and free it with its
 * events. Resources the chain deleted are remembered (bounded). */
void chain_set_remove(struct chain_set *cs, struct chain *c);

/* 1 when some Deliver on topic (or routing key) was seen: the topic
 * normally has consumers. */
int chain_set_topic_consumed(const struct chain_set *cs, const char *topic);
/* 1 when deliveries of call or cast ev's queue would show in this
 * capture: some were seen (its routing key, or its topic), or AMQP between
 * a broker and a peer on its own host was (then every consumer's
 * deliveries show). A span port that leaves out the broker's host shows
 * only those to other hosts: a message for a consumer beside the broker,
 * not seen delivered, may still have been. */
int chain_set_delivery_visible(const struct chain_set *cs, const struct event *ev);
/* The address and host name (NULL when unknown) of the latest connection
 * a message for call or cast ev's queue was delivered to: its routing key,
 * else (no server named) its topic. Returns 1 if one was ever delivered. */
int chain_set_topic_consumer(const struct chain_set *cs, const struct event *ev,
                             const char **addr, const char **host);
/* The open chain the resource uuid (an instance, a port, ...) belongs to:
 * the operation that acted on it first while still open (once that one is
 * decided, the latest to act on it); NULL when none is open. */
struct chain *chain_set_resource_chain(const struct chain_set *cs, const char *uuid);
/* 1 when a client recently DELETEd the resource uuid (2xx). */
int chain_set_was_deleted(const struct chain_set *cs, const char *uuid);
/* Remember / ask about resources of operations already reported failed. */
void chain_set_note_failed(struct chain_set *cs, const char *uuid);
int chain_set_was_failed(const struct chain_set *cs, const char *uuid);
/* The same for the request ids of reported failed operations (the uuid
 * part of "req-<uuid>"), in a ring of their own. */
void chain_set_note_failed_op(struct chain_set *cs, const char *rid_uuid);
int chain_set_was_failed_op(const struct chain_set *cs, const char *rid_uuid);

const struct rules *chain_set_rules(const struct chain_set *cs);
/* Use rules from now on (rules reload). The old rules must stay alive while
 * open chains may point into them: the caller keeps them until the end. */
void chain_set_use_rules(struct chain_set *cs, const struct rules *rules);

/* printf into c's arena (at most 511 bytes); NULL at the memcap. The
 * string lives as long as the chain. */
const char *chain_fmt(struct chain *c, const char *f, ...) __attribute__((format(printf, 2, 3)));

/* Root helpers. */
const struct event *chain_root(const struct chain *c);
int chain_root_answered(const struct chain *c);
/* Periodic/service traffic: no user context and no user-facing root. */
int chain_is_background(const struct chain *c);
/* 1 if some event of c carries id as request id or global request id. */
int chain_has_request_id(const struct chain *c, const char *id);
/* 1 if some event of c names the resource uuid. */
int chain_has_resource(const struct chain *c, const char *uuid);

/* The caller service of an event (for HTTP: the client side; for RPC:
 * the publisher; notifications: the publisher_id's service). May be NULL. */
const char *chain_sender(const struct chain_set *cs, const struct event *ev, char *host,
                         size_t hostlen);
/* The service that receives/handles ev (HTTP request: the server; call or
 * cast: the consumer of its topic). May be NULL. */
const char *chain_receiver(const struct chain_set *cs, const struct chain *c, size_t i,
                           const char **host);

/* Last path segment of path that is a UUID, copied to out (>= 37). 0 if none. */
int chain_path_uuid(const char *path, char *out, size_t outlen);

#endif
