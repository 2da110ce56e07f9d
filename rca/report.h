/* report.h -- the verdict on one operation: what the user saw, where the
 * fault was born (DESIGN.md "Finding the origin of a fault"), the rule that
 * names it, and the chain as an indented tree of messages.
 *
 * A report is handed to the report callback and is valid only during the
 * call: its strings point into the chain's events and arena. */
#ifndef OSRCA_REPORT_H
#define OSRCA_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "parsers/event.h"

#define REPORT_NO_PARENT ((size_t)-1)

/* Where the fault was born. Strings may be NULL (unknown). */
struct report_cause {
    const char *service; /* canonical: "nova-scheduler", "glance-api", ... */
    const char *host;    /* host name the traffic names ("compute-1"), or NULL */
    char addr[46];       /* IP address, "" if unknown */
    const char *kind;    /* evidence kind: "rpc_failure", "rpc_timeout", ... */
    const char *error;   /* error class: "NoValidHost", "MessagingTimeout", ... */
    const char *message; /* one line */
    uint64_t seq;        /* the message that carries it (for a timeout: the call) */
    uint64_t ts_us;
    uint64_t since_us;   /* when the failing call began (its request, its publish) */
    int untaken;         /* the evidence is work no consumer took (in time) */
    uint64_t held_us;    /* a stuck operation held by the service named: when
                            its last work was delivered to it; 0 */
};

/* One message of the chain. A Publish and its Deliver(ies) are one node. */
struct report_node {
    const struct event *ev;  /* the message (the Publish when both were seen) */
    const struct event *hop; /* the first Deliver of the same message, or NULL */
    unsigned nhops;          /* deliveries seen */
    size_t parent;           /* index of the parent node, REPORT_NO_PARENT at top */
    int depth;               /* 0 = root; for an indented tree */
    int is_origin;           /* the origin of the fault */
    int is_fault;            /* carries fault evidence (origin or consequence) */
    const char *note;        /* "never delivered", "no reply within 10 s", ... or NULL */
};

/* The client session an operation was made in (rca/session.h). Strings
 * may be NULL. */
struct report_session {
    uint32_t id;                  /* 0: none known */
    const char *client;           /* the client's address */
    const char *login_request_id; /* request id of the login that issued its token */
    const char *user, *project;   /* names from the login answer */
};

/* One holder's share of a slow operation's wall time (rca/timeline.h). */
struct report_share {
    const char *service; /* NULL: work out of the wire's sight */
    char host[64];       /* or its address, "" */
    uint8_t how;         /* enum tl_how of its longest part */
    uint64_t held_us;    /* its time in the operation */
    uint64_t usual_us;   /* what it usually holds in this operation, 0 unknown */
};

#define REPORT_SHARES 8

/* Where the time of a slow operation went (issue 19 §3). */
struct report_perf {
    uint64_t wall_us;    /* the operation's wall time */
    uint64_t usual_us;   /* its usual (median) wall time, 0 unknown */
    uint64_t samples;    /* operations the usual rests on */
    uint64_t excess_us;  /* wall - usual */
    const char *hop;     /* the hop that holds the excess, in words */
    const char *hop_kind; /* "http", "rpc_call", "rpc_cast", "queue", "work", ... */
    const char *hop_label; /* its operation / topic.method, or NULL */
    uint64_t hop_t0_us, hop_us, hop_usual_us;
    const char *why;     /* what the wire shows about it, or NULL */
    struct report_share shares[REPORT_SHARES]; /* largest first */
    size_t nshares;
};

struct timeline;

struct report {
    const char *operation;         /* "server create", "rpc conductor.build_instances" */
    const char *request_id;        /* the operation's request id, or NULL */
    const char *global_request_id; /* or NULL */
    char status[40];               /* what the root answered: "202", "500", "rpc failure" */
    char user_saw[384];            /* one line */
    int failed;                    /* 1 = the operation failed */
    int background;                /* 1 = periodic/service traffic, not a user operation */
    int display_read;              /* 1 = (background) a read a client made to show with
                                      what its command already had, or its login again
                                      after one: the client printed what it had */
    struct report_cause root_cause; /* meaningful when failed */
    const char *category;          /* from the fault rule ("capacity"), or "unknown" */
    const char *rule;              /* rule name, or NULL */
    const char *hint;              /* operator advice, or NULL */
    uint64_t root_seq;
    uint64_t start_ts_us, end_ts_us;
    size_t nevents;                /* messages in the chain */
    size_t nnodes;
    struct report_node *nodes;     /* in seq order; nodes[0] is not necessarily the root */
    size_t origin_node;            /* index into nodes, REPORT_NO_PARENT if none */
    struct report_session session;
    uint32_t incident;             /* the incident it belongs to (rca/incident.h), 0 */
    int slow;                      /* 1 = it succeeded, far slower than usual:
                                      root_cause names the culprit, perf says
                                      where the time went; category "performance" */
    struct report_perf perf;       /* meaningful when slow */
    const struct timeline *timeline; /* the chain's hops and holding, or NULL */
    int extra;                     /* reported only because every chain was
                                      asked for (rca_cfg.keep_ok): no verdict
                                      (a success, or a failure already told) */
};

/* One line "service@host (addr): kind error: message" into buf. */
void report_cause_line(const struct report *r, char *buf, size_t len);

/* Index of the node carrying seq, or REPORT_NO_PARENT. */
size_t report_find_node(const struct report *r, uint64_t seq);

#endif
