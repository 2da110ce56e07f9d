/* amqp.h -- AMQP 0-9-1 framing per connection, both directions (AMQP 0-9-1
 * spec §2.3.5 frame format, §4.2.3 general frame format, §4.2.5 field
 * tables as RabbitMQ reads them, §4.2.6 content framing; PROTOCOLS.md §1).
 *
 *   protocol header  'A' 'M' 'Q' 'P' 0 0 9 1                   (client only)
 *   frame            type u8 | channel u16 | size u32 | payload | 0xCE
 *   METHOD payload   class u16 | method u16 | arguments
 *   HEADER payload   class u16 | weight u16 | body-size u64 | flags u16.. | props
 *   BODY payload     body bytes (a content's bodies add up to body-size)
 *
 * Push parser per parsers/parse.h: fed spans of one direction (AMQP_DIR_C2S
 * = client to broker, AMQP_DIR_S2C = broker to client), it reads only
 * inside them and never writes to them. METHOD and HEADER frames are parsed
 * only once whole (NEED_MORE with `needed` otherwise); BODY payloads are
 * consumed as they arrive and copied into a pool-accounted buffer that
 * grows with the bytes seen (never sized from the wire). Content is
 * assembled per (direction, channel). A stream that does not start with the
 * protocol header (or, broker side, with Connection.Start) is joined mid-
 * stream: the parser slides to the first frame that validates (type, size,
 * end octet, known method) and whose successor's header validates too.
 *
 * Complete content messages (Publish, Deliver, Return, Get-Ok) go to
 * amqp_content_fn; every other decoded method goes to amqp_method_fn. Spans
 * in both die when the callback returns. SECRET: the Start-Ok response is
 * never passed on; only the login user name is extracted. */
#ifndef OSRCA_AMQP_H
#define OSRCA_AMQP_H

#include <stddef.h>
#include <stdint.h>

#include "capture/mem.h"
#include "capture/span.h"
#include "capture/stats.h"
#include "parsers/parse.h"

#define AMQP_DIR_C2S 0 /* client to broker */
#define AMQP_DIR_S2C 1 /* broker to client */

#define AMQP_FRAME_METHOD 1
#define AMQP_FRAME_HEADER 2
#define AMQP_FRAME_BODY 3
#define AMQP_FRAME_HEARTBEAT 8
#define AMQP_FRAME_END 0xCE

/* class and method ids (class << 16 | method) */
#define AMQP_M(c, m) (((uint32_t)(c) << 16) | (uint32_t)(m))
#define AMQP_CONNECTION_START AMQP_M(10, 10)
#define AMQP_CONNECTION_START_OK AMQP_M(10, 11)
#define AMQP_CONNECTION_SECURE AMQP_M(10, 20)
#define AMQP_CONNECTION_SECURE_OK AMQP_M(10, 21)
#define AMQP_CONNECTION_TUNE AMQP_M(10, 30)
#define AMQP_CONNECTION_TUNE_OK AMQP_M(10, 31)
#define AMQP_CONNECTION_OPEN AMQP_M(10, 40)
#define AMQP_CONNECTION_OPEN_OK AMQP_M(10, 41)
#define AMQP_CONNECTION_CLOSE AMQP_M(10, 50)
#define AMQP_CONNECTION_CLOSE_OK AMQP_M(10, 51)
#define AMQP_CONNECTION_BLOCKED AMQP_M(10, 60)
#define AMQP_CONNECTION_UNBLOCKED AMQP_M(10, 61)
#define AMQP_CHANNEL_OPEN AMQP_M(20, 10)
#define AMQP_CHANNEL_OPEN_OK AMQP_M(20, 11)
#define AMQP_CHANNEL_FLOW AMQP_M(20, 20)
#define AMQP_CHANNEL_FLOW_OK AMQP_M(20, 21)
#define AMQP_CHANNEL_CLOSE AMQP_M(20, 40)
#define AMQP_CHANNEL_CLOSE_OK AMQP_M(20, 41)
#define AMQP_EXCHANGE_DECLARE AMQP_M(40, 10)
#define AMQP_EXCHANGE_DECLARE_OK AMQP_M(40, 11)
#define AMQP_EXCHANGE_DELETE AMQP_M(40, 20)
#define AMQP_EXCHANGE_DELETE_OK AMQP_M(40, 21)
#define AMQP_QUEUE_DECLARE AMQP_M(50, 10)
#define AMQP_QUEUE_DECLARE_OK AMQP_M(50, 11)
#define AMQP_QUEUE_BIND AMQP_M(50, 20)
#define AMQP_QUEUE_BIND_OK AMQP_M(50, 21)
#define AMQP_QUEUE_PURGE AMQP_M(50, 30)
#define AMQP_QUEUE_PURGE_OK AMQP_M(50, 31)
#define AMQP_QUEUE_DELETE AMQP_M(50, 40)
#define AMQP_QUEUE_DELETE_OK AMQP_M(50, 41)
#define AMQP_QUEUE_UNBIND AMQP_M(50, 50)
#define AMQP_QUEUE_UNBIND_OK AMQP_M(50, 51)
#define AMQP_BASIC_QOS AMQP_M(60, 10)
#define AMQP_BASIC_QOS_OK AMQP_M(60, 11)
#define AMQP_BASIC_CONSUME AMQP_M(60, 20)
#define AMQP_BASIC_CONSUME_OK AMQP_M(60, 21)
#define AMQP_BASIC_CANCEL AMQP_M(60, 30)
#define AMQP_BASIC_CANCEL_OK AMQP_M(60, 31)
#define AMQP_BASIC_PUBLISH AMQP_M(60, 40)
#define AMQP_BASIC_RETURN AMQP_M(60, 50)
#define AMQP_BASIC_DELIVER AMQP_M(60, 60)
#define AMQP_BASIC_GET AMQP_M(60, 70)
#define AMQP_BASIC_GET_OK AMQP_M(60, 71)
#define AMQP_BASIC_GET_EMPTY AMQP_M(60, 72)
#define AMQP_BASIC_ACK AMQP_M(60, 80)
#define AMQP_BASIC_REJECT AMQP_M(60, 90)
#define AMQP_BASIC_RECOVER_ASYNC AMQP_M(60, 100)
#define AMQP_BASIC_RECOVER AMQP_M(60, 110)
#define AMQP_BASIC_RECOVER_OK AMQP_M(60, 111)
#define AMQP_BASIC_NACK AMQP_M(60, 120)
#define AMQP_CONFIRM_SELECT AMQP_M(85, 10)
#define AMQP_CONFIRM_SELECT_OK AMQP_M(85, 11)
#define AMQP_TX_SELECT AMQP_M(90, 10)
#define AMQP_TX_SELECT_OK AMQP_M(90, 11)
#define AMQP_TX_COMMIT AMQP_M(90, 20)
#define AMQP_TX_COMMIT_OK AMQP_M(90, 21)
#define AMQP_TX_ROLLBACK AMQP_M(90, 30)
#define AMQP_TX_ROLLBACK_OK AMQP_M(90, 31)

/* Limits; every one has its own error code and counter. */
struct amqp_cfg {
    uint32_t frame_max_default; /* whole-frame limit before Tune, default 131072 */
    uint32_t frame_max_hard;    /* ceiling for a negotiated (or 0 = unlimited)
                                   frame_max, default 1 MiB */
    size_t max_body;            /* content body cap, default 4 MiB: bigger
                                   bodies are skipped (framed, not kept) */
    unsigned max_table_depth;   /* field-table nesting, default 16 */
    unsigned max_channels;      /* channels with assembly state per
                                   connection, default 256 */
};

/* Error codes of PARSE_ERROR results (parse_result.err); each one is also a
 * counter "amqp.<name>". After an error the direction resyncs by itself. */
enum amqp_err {
    AMQP_E_NONE = 0,
    AMQP_E_BAD_FRAME_END,  /* "amqp.bad_frame_end": end octet is not 0xCE */
    AMQP_E_BAD_FRAME_TYPE, /* "amqp.bad_frame_type" */
    AMQP_E_FRAME_TOO_BIG,  /* "amqp.frame_too_big": payload > frame_max - 8 */
    AMQP_E_BAD_METHOD,     /* "amqp.bad_method": unknown class/method or short args */
    AMQP_E_BAD_HEADER,     /* "amqp.bad_header": malformed content header */
    AMQP_E_BAD_PROTOCOL,   /* "amqp.bad_protocol_header": not 0-9-1 */
    AMQP_E_COUNT
};

/* Content properties (class 60); spans point into the HEADER frame copy
 * kept by the parser and die with the callback. */
#define AMQP_P_CONTENT_TYPE 0x8000
#define AMQP_P_CONTENT_ENCODING 0x4000
#define AMQP_P_HEADERS 0x2000
#define AMQP_P_DELIVERY_MODE 0x1000
#define AMQP_P_PRIORITY 0x0800
#define AMQP_P_CORRELATION_ID 0x0400
#define AMQP_P_REPLY_TO 0x0200
#define AMQP_P_EXPIRATION 0x0100
#define AMQP_P_MESSAGE_ID 0x0080
#define AMQP_P_TIMESTAMP 0x0040
#define AMQP_P_TYPE 0x0020
#define AMQP_P_USER_ID 0x0010
#define AMQP_P_APP_ID 0x0008
#define AMQP_P_CLUSTER_ID 0x0004

struct amqp_props {
    uint16_t flags; /* first property-flags word; only set properties are valid */
    struct span content_type, content_encoding;
    struct span headers; /* field table body (without its u32 length) */
    uint8_t delivery_mode, priority;
    struct span correlation_id, reply_to, expiration, message_id;
    uint64_t timestamp;
    struct span type, user_id, app_id, cluster_id;
};

/* msg flags */
#define AMQP_F_INCOMPLETE 0x01 /* a gap or the connection end cut the body */
#define AMQP_F_BODY_SKIPPED 0x02 /* body-size above max_body: body not kept */
#define AMQP_F_BAD_PROPS 0x04  /* properties could not be fully decoded */
#define AMQP_F_NOMEM 0x08      /* body buffer refused by the pool: not kept */

/* One content message: its method, properties and body. */
struct amqp_msg {
    int dir;
    uint16_t channel;
    uint32_t method; /* AMQP_BASIC_PUBLISH / _DELIVER / _RETURN / _GET_OK */
    struct span exchange, routing_key;
    struct span consumer_tag; /* Deliver */
    uint64_t delivery_tag;    /* Deliver, Get-Ok */
    int redelivered;          /* Deliver, Get-Ok */
    int mandatory, immediate; /* Publish */
    uint16_t reply_code;      /* Return */
    struct span reply_text;   /* Return */
    struct amqp_props props;
    uint64_t body_size; /* declared in the content header */
    struct span body;   /* kept body (empty when skipped) */
    uint32_t flags;     /* AMQP_F_* */
    uint64_t ts_us;     /* packet time of the last body byte */
};

/* One non-content method; only the fields of that method are set. */
struct amqp_method {
    int dir;
    uint16_t channel;
    uint32_t method;
    struct span queue, exchange, routing_key, consumer_tag, type;
    uint16_t reply_code;            /* Connection/Channel.Close */
    struct span reply_text;         /* Close; Blocked reason */
    uint16_t fail_class, fail_method; /* Close */
    uint64_t delivery_tag;          /* Ack, Nack, Reject */
    int multiple, requeue, no_ack, no_wait;
    uint32_t message_count, consumer_count; /* Queue.Declare-Ok */
    uint16_t channel_max;           /* Tune / Tune-Ok */
    uint32_t frame_max;             /* Tune / Tune-Ok */
    uint16_t heartbeat;             /* Tune / Tune-Ok */
    struct span vhost;              /* Connection.Open */
    struct span connection_name;    /* Start-Ok client property */
    struct span product;            /* Start-Ok client property; Start server property */
    struct span mechanism;          /* Start-Ok */
    struct span login;              /* Start-Ok: user name only (never the password) */
    uint8_t ver_major, ver_minor;   /* Start */
    uint64_t ts_us;
};

typedef void (*amqp_content_fn)(void *ctx, const struct amqp_msg *m);
typedef void (*amqp_method_fn)(void *ctx, const struct amqp_method *m);

struct amqp;

void amqp_defaults(struct amqp_cfg *cfg);

/* New connection parser. cfg NULL = defaults; pool charges body buffers
 * (may be NULL); st receives counters (may be NULL); fn/mfn may be NULL.
 * NULL on allocation failure. */
struct amqp *amqp_new(const struct amqp_cfg *cfg, struct mem_pool *pool, struct stats *st,
                      amqp_content_fn fn, amqp_method_fn mfn, void *ctx);
/* Frees the parser and its buffers (NULL accepted); nothing is emitted. */
void amqp_free(struct amqp *a);

/* Feed bytes of dir (AMQP_DIR_*). Contract of parsers/parse.h: the caller
 * keeps the unconsumed rest and feeds it again with new bytes appended.
 * PARSE_ERROR carries an enum amqp_err; the direction then resyncs by
 * itself on the following calls (consumed > 0 whenever n > 0). */
struct parse_result amqp_feed(struct amqp *a, int dir, const uint8_t *p, size_t n,
                              uint64_t ts_us);
/* len bytes of dir are missing: every content in assembly on dir is
 * dropped (counted "amqp.gap_dropped"), and dir resyncs on the next frame
 * that validates. */
void amqp_gap(struct amqp *a, int dir, uint64_t len, uint64_t ts_us);
/* End of the connection: contents in assembly are dropped (counted); the
 * parser may be fed again afterwards (a fresh start). */
void amqp_end(struct amqp *a, uint64_t ts_us);

/* Negotiated frame_max (whole frame) in force, or cfg default before Tune. */
uint32_t amqp_frame_max(const struct amqp *a);
/* 1 while dir is sliding to regain frame sync, else 0. */
int amqp_syncing(const struct amqp *a, int dir);

/* Name of an error code, e.g. "bad_frame_end". */
const char *amqp_err_name(int err);
/* "Basic.Publish" etc. for a known AMQP_M() id, NULL otherwise. */
const char *amqp_method_name(uint32_t method);

/* Field tables (RabbitMQ rabbit_binary_parser tags: t b B s u I i l L f d D
 * S x F A T V). One visited field; for 'S' and 'x' raw is the string, for
 * 'F' and 'A' the nested body; integer and bool values are in i. */
struct amqp_field {
    struct span name; /* empty inside arrays */
    uint8_t tag;
    struct span raw;
    int64_t i;
    unsigned depth; /* 0 = top-level table */
};
/* Return non-zero to stop the walk. */
typedef int (*amqp_field_fn)(void *ctx, const struct amqp_field *f);

enum amqp_table_res {
    AMQP_TABLE_OK = 0,
    AMQP_TABLE_UNKNOWN_TAG = 1, /* a table stopped at an unknown tag (the rest of
                                   that table is ignored; enclosing ones go on) */
    AMQP_TABLE_TOO_DEEP = 2,    /* nesting beyond max_depth: the inner one skipped */
    AMQP_TABLE_TRUNCATED = 3,   /* a length ran past the end: walk stopped */
    AMQP_TABLE_STOPPED = 4,     /* fn asked to stop */
};

/* Walk the field table body [p, p+n) (without its u32 length prefix),
 * calling fn for every field, nested ones included (depth-first). Returns
 * the worst enum amqp_table_res met (STOPPED as soon as fn stops). */
int amqp_table_walk(const uint8_t *p, size_t n, unsigned max_depth, amqp_field_fn fn, void *ctx);
/* Top-level field called name in table body [p, p+n): 1 and *out filled, or 0. */
int amqp_table_find(const uint8_t *p, size_t n, const char *name, struct amqp_field *out);

#endif
