/* parse.h -- the push-parser contract shared by http1, amqp and oslo, and
 * the per-connection application-parser interface the CLI wires to flows.
 *
 * A parser is fed spans of one direction of one connection. It reads only
 * inside [p, p+n) and never writes to it. It answers:
 *   PARSE_OK        complete messages went to the sink; `consumed` bytes are
 *                   done (the caller keeps the rest and feeds it again with
 *                   more bytes appended);
 *   PARSE_NEED_MORE nothing more can be done until `needed` more bytes exist
 *                   beyond the unconsumed rest (0 = unknown, at least one);
 *   PARSE_ERROR     `err` is the parser's own error code; that direction
 *                   stops, or resyncs where the protocol allows.
 * `consumed` is meaningful for every status. */
#ifndef OSRCA_PARSE_H
#define OSRCA_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "capture/mem.h"
#include "capture/stats.h"
#include "parsers/event.h"
#include "parsers/svcmap.h"

enum parse_status { PARSE_OK = 0, PARSE_NEED_MORE = 1, PARSE_ERROR = 2 };

struct parse_result {
    enum parse_status status;
    size_t consumed;
    size_t needed;
    int err;
};

/* Takes ownership of ev (the receiver calls event_free). */
typedef void (*event_sink_fn)(void *ctx, struct event *ev);

/* What every application parser gets from the wiring. Parsers keep the
 * pointer, not a copy: env outlives every connection and global state, and
 * the wiring may point env->map at new rules between feed calls. */
struct app_env {
    const struct svcmap *map; /* service knowledge from rules/; never NULL */
    struct stats *st;
    struct mem_pool *pool;    /* parser buffers are charged here */
    struct mem_pool *ev_pool; /* event arenas are charged here */
    event_sink_fn sink;
    void *sink_ctx;
};

/* The connection a parser instance serves. */
struct app_conn_info {
    uint64_t flow_id;
    int family;
    const char *cli_addr;
    uint16_t cli_port;
    const char *srv_addr;
    uint16_t srv_port;
};

/* One application-protocol stack (HTTP+REST, AMQP+oslo). */
struct app_parser_ops {
    const char *name;
    /* Protocol-wide state shared by all connections (e.g. AMQP reply-queue
     * owners). May return NULL only on allocation failure. */
    void *(*global_new)(const struct app_env *env);
    void (*global_free)(void *global);
    /* Per-connection state; NULL on allocation failure (counted). */
    void *(*conn_new)(void *global, const struct app_env *env, const struct app_conn_info *ci);
    struct parse_result (*feed)(void *conn, int dir, const uint8_t *p, size_t n, uint64_t ts_us);
    /* len bytes of dir are missing: mark the message in flight incomplete,
     * drop partial state and resync. */
    void (*gap)(void *conn, int dir, uint64_t len, uint64_t ts_us);
    /* The connection ended (how: enum ev_end): emit what is complete
     * enough, and what was left unanswered, then free everything. */
    void (*end)(void *conn, int how, uint64_t ts_us);
    /* dir stopped sending (its FIN) at ts_us while the other side still
     * sends: told once, before the other side's next bytes. May be NULL. */
    void (*shutdown)(void *conn, int dir, uint64_t ts_us);
};

#endif
