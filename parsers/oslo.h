/* oslo.h -- oslo.messaging RPC and notifications over AMQP 0-9-1
 * (oslo.messaging _drivers/common.py envelope 2.0 and 1.0, amqpdriver.py
 * calls / casts / fanouts / replies, notify/notifier.py notifications;
 * kombu zlib compression; PROTOCOLS.md §1.6, §2).
 *
 *   body (2.0)  {"oslo.version": "2.0", "oslo.message": "<JSON text>"}
 *   call        {"method", "args", "version", "namespace"?, "_msg_id",
 *                "_reply_q", "_timeout", "_unique_id", "_context_*"...}
 *   cast        the same without _msg_id / _reply_q / _timeout
 *   reply       {"result", "failure": "<JSON text>"|null, "ending", "_msg_id", "_unique_id"}
 *   notification {"message_id", "publisher_id", "event_type", "priority",
 *                "payload", "timestamp", "_unique_id", "_context_*"...}
 *
 * oslo_decode() turns one body into the oslo fields of an event (the fuzz
 * and unit surface). oslo_amqp_ops (parsers/parse.h) is the whole stack
 * the wiring attaches to an AMQP flow: amqp framing, body decoding, and
 * protocol-wide knowledge of who is behind each connection (Start-Ok
 * connection_name, consumed queues and routing keys, reply queues, RPC
 * msg_ids, notification publishers). One event per Basic.Publish and per
 * Basic.Deliver (verb says which), plus EV_AMQP_RETURN, EV_AMQP_CLOSE
 * (reply codes other than 0 and 200) and EV_AMQP_BLOCKED.
 *
 * SECRETS: `_context_auth_token`, `_context_trace_info.hmac_key`,
 * password-like keys (admin_password, adminPass, password, ...), Fernet
 * tokens in text and the AMQP Start-Ok response never reach an event. */
#ifndef OSRCA_OSLO_H
#define OSRCA_OSLO_H

#include <stddef.h>
#include <stdint.h>

#include "capture/stats.h"
#include "parsers/amqp.h"
#include "parsers/event.h"
#include "parsers/parse.h"

struct oslo_cfg {
    size_t max_envelope;      /* JSON body decoded at most, default 4 MiB */
    size_t max_inflated;      /* inflated compressed body, default 4 MiB */
    size_t max_traceback;     /* traceback text kept, default 4 KiB */
    size_t max_message;       /* error message kept, default 2 KiB */
    size_t max_uuid_nodes;    /* JSON nodes visited for resource UUIDs, default 4096 */
    size_t max_calls;         /* msg_id -> call table entries, default 4096 */
    size_t max_reply_qs;      /* reply queue -> caller entries, default 1024 */
    uint64_t call_ttl_us;     /* a call is forgotten after this, default 1 h */
    uint64_t reply_q_ttl_us;  /* a reply queue after this idle time, default 24 h */
    int reuse_bodies;         /* a body seen lately is not decoded again, default 1 */
    struct amqp_cfg amqp;     /* framing limits */
};

void oslo_defaults(struct oslo_cfg *cfg);

/* Decode one oslo.messaging body [p, p+n) (envelope 2.0 or bare 1.0) into
 * ev: kind (EV_RPC_CALL / EV_RPC_CAST / EV_RPC_REPLY / EV_NOTIFICATION;
 * left as is when the shape is not recognised), rpc_method, rpc_namespace,
 * rpc_version, msg_id, reply_q, unique_id, timeout_s, ending, failure and
 * the decoded failure (error_class / error_module / error_message /
 * traceback), notification fields and payload exception, context ids
 * (request_id, global_request_id, ctx_user, ctx_project) and resource
 * UUIDs. No secret is copied (see oslo.c). cfg NULL =
 * defaults; st may be NULL. Returns 0 when the body was oslo JSON, -1
 * otherwise (EV_F_BAD_BODY set, counted "oslo.bad_json" etc.). ev keeps
 * ownership of everything it points to. */
int oslo_decode(struct event *ev, const uint8_t *p, size_t n, const struct oslo_cfg *cfg,
                struct stats *st);

/* Inflate a zlib stream (kombu "application/x-gzip") [p, p+n) into a
 * buffer charged to pool that grows with the output, at most max bytes.
 * Returns the buffer (caller frees it with mem_free(pool, buf, *cap)) and
 * its length in *out_n, or NULL on corrupt input, overflow of max, or at
 * the pool's cap, with *why (why may be NULL) saying which. */
uint8_t *oslo_inflate(struct mem_pool *pool, const uint8_t *p, size_t n, size_t max,
                      size_t *out_n, size_t *cap, const char **why);

/* Split an RPC routing key "topic.server" at its first dot (server may
 * contain dots: cinder-volume.host@backend). topic/server receive spans
 * into key; server is empty when there is no dot. */
void oslo_split_target(const char *key, size_t n, struct span *topic, struct span *server);

/* The AMQP + oslo.messaging stack for parsers/parse.h wiring. global_new
 * reads no configuration: defaults apply (oslo_defaults). */
extern const struct app_parser_ops oslo_amqp_ops;

/* Same stack with explicit limits (tests, tuning): a global_new that uses
 * cfg (copied). */
void *oslo_global_new_cfg(const struct app_env *env, const struct oslo_cfg *cfg);

#endif
