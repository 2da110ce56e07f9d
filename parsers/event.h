/* event.h -- the plain record of one decoded message.
 *
 * Parsers fill it, rca/ interprets it. Strings live in the event's own arena
 * (NULL = absent) and die with event_free(). No field ever holds a secret:
 * tokens, passwords and credentials are dropped by the parsers before an
 * event is built. */
#ifndef OSRCA_EVENT_H
#define OSRCA_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "capture/arena.h"

enum ev_kind {
    EV_HTTP_REQUEST = 0,
    EV_HTTP_RESPONSE,
    EV_RPC_CALL,     /* oslo call (has _msg_id) */
    EV_RPC_CAST,     /* oslo cast or fanout cast */
    EV_RPC_REPLY,    /* oslo reply: result, failure or call-monitor heartbeat */
    EV_NOTIFICATION, /* oslo notification */
    EV_AMQP_RETURN,  /* Basic.Return (e.g. 312 NO_ROUTE) */
    EV_AMQP_CLOSE,   /* Channel/Connection.Close with an error reply code */
    EV_AMQP_BLOCKED, /* Connection.Blocked (broker alarm) */
    EV_CONN,         /* TCP connection event: refused, unanswered, reset */
    EV_AMQP_OPEN,    /* an AMQP connection named its owner (Start-Ok connection_name) */
    EV_AMQP_END,     /* an AMQP connection ended without an error Close (end_how) */
    EV_KIND_COUNT
};

/* How a connection ended: EV_AMQP_END, and the answer a request never got
 * (EV_HTTP_RESPONSE with EV_F_NO_ANSWER). */
enum ev_end {
    EV_END_NONE = 0,
    EV_END_SERVER_CLOSED, /* the server side sent the first FIN */
    EV_END_CLIENT_CLOSED, /* the client side sent the first FIN */
    EV_END_SERVER_RESET,  /* the server side reset it */
    EV_END_CLIENT_RESET,  /* the client side reset it */
    EV_END_IDLE,          /* silent past the idle timeout (or evicted) */
    EV_END_CAPTURE,       /* still open when the input ended */
    EV_END_COUNT
};

/* How an AMQP-carried message was seen. */
enum ev_verb { EV_VERB_NONE = 0, EV_VERB_PUBLISH, EV_VERB_DELIVER, EV_VERB_GET };

/* What a resource UUID names. */
enum ev_res {
    EV_RES_UNKNOWN = 0,
    EV_RES_INSTANCE,
    EV_RES_IMAGE,
    EV_RES_FLAVOR,
    EV_RES_PORT,
    EV_RES_NETWORK,
    EV_RES_VOLUME,
    EV_RES_ATTACHMENT,
    EV_RES_PROVIDER,
    EV_RES_CONSUMER, /* placement allocation consumer (usually an instance) */
    EV_RES_PROJECT,
    EV_RES_USER,
    EV_RES_COUNT
};

#define EV_MAX_UUIDS 16
#define EV_MAX_NAMES 256

/* flags */
#define EV_F_INCOMPLETE 0x01  /* a gap or end of capture cut the message */
#define EV_F_BODY_TRUNC 0x02  /* body longer than the kept part */
#define EV_F_DUP 0x04         /* same message seen again (e.g. retransmit) */
#define EV_F_COMPRESSED 0x08  /* body was gzip/deflate/zlib, inflated */
#define EV_F_BAD_BODY 0x10    /* body could not be decoded (JSON etc.) */
#define EV_F_NO_REQUEST 0x20  /* response without a request on the wire */
#define EV_F_LISTED 0x40      /* a list answer: names[] holds every item's name */
#define EV_F_NO_ANSWER 0x80   /* a response that never came: the connection ended
                                 (end_how) with the request unanswered */

struct ev_peer {
    char addr[46];
    uint16_t port;
    const char *service; /* canonical name ("nova-api", "client", "rabbitmq") or NULL */
    const char *host;    /* host name when the traffic names it, else NULL */
};

struct ev_uuid {
    char id[37]; /* lower-case 8-4-4-4-12, or 32 hex as seen */
    uint8_t res; /* enum ev_res */
};

struct event {
    uint64_t seq;   /* global order, assigned by the wiring */
    uint64_t ts_us; /* packet time of the packet that completed the message */
    enum ev_kind kind;
    uint32_t flags;
    uint64_t flow_id;
    struct ev_peer src, dst; /* transport sender and receiver of this message */

    /* HTTP (request and response) */
    const char *method;
    const char *path;        /* without the query string */
    const char *query;       /* secrets removed */
    int status;              /* response status code, 0 for requests */
    const char *reason;
    const char *user_agent;
    const char *operation;   /* "server create"; responses copy their request's */
    uint64_t req_seq;        /* response: seq of its request (0 if none) */
    uint64_t req_ts_us;      /* response: time of its request */
    uint64_t accept_wait_us; /* request: the first on its connection, whose
                                SYN waited this long to be accepted (sent
                                again); 0 */
    uint64_t body_len;       /* body bytes on the wire */

    /* ids (HTTP and RPC) */
    const char *request_id;        /* response x-openstack-request-id; RPC _context_request_id */
    const char *global_request_id; /* request X-OpenStack-Request-ID; RPC _context_global_request_id */

    /* errors: HTTP error body, RPC failure, error notification payload */
    const char *error_class;   /* "NoValidHost", "itemNotFound", "PortNotFound", ... */
    const char *error_module;  /* "nova.exception" */
    const char *error_message;
    const char *traceback;     /* capped */

    /* AMQP / oslo.messaging */
    enum ev_verb verb;
    uint16_t channel;
    const char *exchange;
    const char *routing_key;
    const char *topic;         /* RPC target topic (fanout: the topic without _fanout) */
    const char *target_server; /* RPC target server ("compute-1" of compute.compute-1) */
    const char *topic_service; /* service that consumes topic, from the map */
    int fanout;
    const char *rpc_method;
    const char *rpc_namespace;
    const char *rpc_version;
    const char *msg_id;
    const char *reply_q;
    const char *unique_id;     /* oslo _unique_id, or notification message_id */
    int timeout_s;             /* _timeout, -1 absent */
    int64_t expiration_ms;     /* AMQP expiration, -1 absent */
    int ending;                /* reply: 1 final, 0 call-monitor heartbeat */
    int failure;               /* reply carries a failure */
    const char *publisher_id;  /* notification */
    const char *event_type;
    const char *priority;      /* "INFO", "ERROR", ... */
    const char *ctx_user;
    const char *ctx_project;
    uint16_t reply_code;       /* Basic.Return / Close */
    const char *reply_text;

    /* TCP connection events (EV_CONN): enum flow_event value. For
     * FLOW_EV_STALLED dst is the silent side (either end of the
     * connection) and quiet_since_us its last packet */
    int conn_event;
    uint64_t quiet_since_us;
    /* EV_AMQP_END and a no-answer response: enum ev_end */
    int end_how;

    /* resource state reported in a body, e.g. a server in ERROR, and the
     * task it is busy with (a server's OS-EXT-STS:task_state: "deleting") */
    const char *resource_state;
    const char *resource_task;
    const char *fault_message;

    /* HTTP request: fingerprints (redact_fingerprint, never the token) of
     * its X-Auth-Token and X-Service-Token, and of the X-Subject-Token of a
     * token validation; 0 = none. Compared in memory only (a validation
     * nests into the request whose token it checks), never output. */
    uint64_t token_fp[2];
    uint64_t subject_fp;

    size_t nuuids;
    struct ev_uuid *uuids; /* in the arena: room for 4, then EV_MAX_UUIDS */

    /* HTTP list answer (EV_F_LISTED): event_name_hash of the "name" of
     * each item, so that a client's lookup by name can be checked against
     * what the list really held (in the arena; at most EV_MAX_NAMES, the
     * flag is cleared when a list had more) */
    uint32_t *names;
    size_t nnames;

    struct arena arena;
};

/* New zeroed event with its arena on pool (may be NULL); NULL at the cap.
 * timeout_s and expiration_ms start at -1. */
struct event *event_new(struct mem_pool *pool);
/* Frees the event and everything in its arena; NULL accepted. */
void event_free(struct event *ev);

/* Copies into the event's arena; NULL at the cap (field stays NULL). */
char *event_str(struct event *ev, const void *p, size_t n);
char *event_cstr(struct event *ev, const char *s);

/* Adds a resource UUID (normalised to lower case) unless already present or
 * the list is full. Returns 0, or -1 when full. */
int event_add_uuid(struct event *ev, const char *id, size_t n, enum ev_res res);

const char *event_kind_name(enum ev_kind k);
const char *event_verb_name(enum ev_verb v);
const char *event_end_name(enum ev_end e);
const char *event_res_name(enum ev_res r);

/* Hash of a resource name as event.names holds it. */
uint32_t event_name_hash(const char *s, size_t n);

/* 1 if [p, p+n) is a UUID, with dashes (36) or plain hex (32). */
int event_is_uuid(const char *p, size_t n);
/* 1 when HTTP event ev (request or response) is a login: POST of a token
 * (.../auth/tokens). */
int event_is_login(const struct event *ev);

#endif
