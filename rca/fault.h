/* fault.h -- fault evidence in a chain (DESIGN.md "Finding the origin of a
 * fault" step 3; PROTOCOLS.md §1.6, §2.4-2.5, §3.4, §5). Each kind of
 * evidence is detected on its own: error responses, RPC failure replies
 * and timeouts, casts nobody consumed, ERROR notifications, refused or
 * unanswered connections, AMQP Return/Close/Blocked, and resources a
 * client saw in ERROR. Benign client lookups (404 then a list that finds
 * the name; 404 polls after a delete) are not evidence. */
#ifndef OSRCA_FAULT_H
#define OSRCA_FAULT_H

#include <stddef.h>
#include <stdint.h>

#include "rca/chain.h"

enum fault_kind {
    FAULT_NONE = 0,
    FAULT_HTTP_5XX,
    FAULT_HTTP_4XX,
    FAULT_RPC_FAILURE,
    FAULT_RPC_TIMEOUT,
    FAULT_CAST_UNCONSUMED,
    FAULT_ERROR_NOTIFICATION,
    FAULT_CONN_REFUSED,
    FAULT_CONN_UNANSWERED,
    FAULT_AMQP_RETURN,
    FAULT_AMQP_CLOSE,
    FAULT_AMQP_BLOCKED,
    FAULT_RESOURCE_ERROR,
    FAULT_NO_ANSWER,      /* a request its server closed or held without answering */
    FAULT_STUCK,          /* the client gave up while its resource was still in transition */
    FAULT_KIND_COUNT
};

/* How much a piece of evidence says about the origin. */
enum fault_weight {
    FAULT_W_USER = 0, /* what the user saw (root error answer, resource in ERROR) */
    FAULT_W_WEAK,     /* an internal 4xx, a call unanswered when the capture ended */
    FAULT_W_STRONG    /* an error born somewhere: failure reply, timeout, refusal, 5xx ... */
};

struct fault {
    enum fault_kind kind;
    enum fault_weight weight;
    int32_t entry;    /* chain entry carrying it (a timeout: the call) */
    int at_root;      /* it is the root's own answer */
    int untaken;      /* work (a call, a cast) no consumer took: the consumer is
                         gone, not let down by what it depends on */
    uint64_t held_us; /* stuck: the delivery of the work its holder never
                         finished; 0 */
    uint64_t seq, ts_us;
    const char *service; /* blamed before any rule: where the error was born */
    const char *host;
    char addr[46];
    const char *caller;         /* who made the call that failed, if known */
    const char *caller_host;
    const char *topic_consumer; /* consumer of the RPC topic involved, if any */
    const char *topic_host;
    const char *error_class;
    const char *module;
    const char *message; /* one line (may live in the chain's arena) */
    const char *event_type;
    const char *rpc_method;
    char status[16]; /* HTTP status / AMQP reply code, "" if none */
};

struct fault_ctx {
    const struct chain_set *cs;
    uint64_t now_us;
    int at_end; /* deciding at the end of the input */
};

/* Collect the evidence of chain c into out (at most max), in seq order.
 * Returns the number stored. Strings composed for messages live in c's
 * arena. */
size_t fault_collect(const struct fault_ctx *fx, struct chain *c, struct fault *out, size_t max);

/* 1 when the evidence means the operation failed: any strong evidence, a
 * root error answer, or a resource seen in ERROR. */
int fault_chain_failed(const struct fault *f, size_t n);

/* What the user finally saw of an operation that changes a resource and
 * was then polled (a create or delete --wait): the answer to its last
 * poll. */
enum fault_outcome {
    FAULT_OUT_UNKNOWN = 0, /* not such an operation, or no poll answered */
    FAULT_OUT_DONE,        /* it finished: a final state, or gone after a delete */
    FAULT_OUT_ERROR,       /* the resource in an error state */
    FAULT_OUT_STUCK        /* still in transition when the polls stopped */
};

/* The outcome of chain c; for FAULT_OUT_STUCK, *stuck (when not NULL) is
 * filled with the evidence: the poll that showed the last state, and the
 * service that held the unfinished work (the consumer of the earliest
 * call or cast never delivered, never answered, or delivered only after
 * that poll; NULL when the wire shows none). */
enum fault_outcome fault_user_outcome(const struct fault_ctx *fx, struct chain *c,
                                      struct fault *stuck);

/* "http_5xx", "rpc_timeout", ... */
const char *fault_kind_name(enum fault_kind k);

#endif
