/* http1.h -- HTTP/1.1 message framing per connection, both directions
 * (RFC 9112 §2-§7: start line, header fields, message body length,
 * chunked transfer coding; RFC 9110 §8.4 content codings gzip/deflate).
 *
 * Push parser per parsers/parse.h: fed spans of one direction, it never
 * reads outside them and never writes to them. Requests (FLOW_C2S = 0) and
 * responses (FLOW_S2C = 1) are paired in order (keep-alive, pipelining);
 * 1xx interim responses are delivered flagged and never paired. A complete
 * message goes to the sink as a struct http1_msg whose spans are valid only
 * during the callback. Kept body bytes are copied into the parser's own
 * pool-accounted buffer (the caller discards consumed bytes); the part
 * beyond max_body_keep is skipped but still framed. */
#ifndef OSRCA_HTTP1_H
#define OSRCA_HTTP1_H

#include <stddef.h>
#include <stdint.h>

#include "capture/mem.h"
#include "capture/span.h"
#include "capture/stats.h"
#include "parsers/parse.h"

#define HTTP1_DIR_REQUEST 0  /* client to server */
#define HTTP1_DIR_RESPONSE 1 /* server to client */

/* Limits; every one has its own error code and counter. */
struct http1_cfg {
    size_t max_line;         /* request / status line, default 8 KiB */
    size_t max_header_block; /* whole head incl. start line, default 64 KiB */
    size_t max_headers;      /* header fields, default 128 */
    size_t max_chunk_digits; /* hex digits of a chunk size, default 16 */
    size_t max_chunk_line;   /* chunk-size line incl. extensions, default 4 KiB */
    size_t max_body_keep;    /* body bytes kept for inspection, default 256 KiB */
    size_t max_inflated;     /* inflated body cap, default 1 MiB */
    size_t max_pending;      /* requests awaiting their response, default 64 */
    int keep_binary;         /* keep application/octet-stream bodies, default 0 */
};

/* Error codes of PARSE_ERROR results (parse_result.err). */
enum http1_err {
    HTTP1_E_NONE = 0,
    HTTP1_E_LINE_TOO_LONG,    /* "http.line_too_long" */
    HTTP1_E_HEADER_BLOCK,     /* "http.header_block_too_big" */
    HTTP1_E_TOO_MANY_HEADERS, /* "http.too_many_headers" */
    HTTP1_E_CHUNK_SIZE,       /* "http.chunk_size_too_big" */
    HTTP1_E_BAD_CHUNK,        /* "http.bad_chunk" */
    HTTP1_E_BAD_START_LINE,   /* "http.bad_start_line" */
    HTTP1_E_BAD_HEADER,       /* "http.bad_header" */
    HTTP1_E_BAD_LENGTH,       /* "http.bad_content_length" */
    HTTP1_E_NOMEM,            /* "http.nomem" */
};

/* msg flags */
#define HTTP1_F_INCOMPLETE 0x01 /* a gap or the end cut the message */
#define HTTP1_F_BODY_TRUNC 0x02 /* body longer than the kept part (or not kept) */
#define HTTP1_F_COMPRESSED 0x04 /* body was gzip / deflate and was inflated */
#define HTTP1_F_BAD_CODING 0x08 /* compressed body could not be inflated */
#define HTTP1_F_NO_REQUEST 0x10 /* response without a request seen */
#define HTTP1_F_INTERIM 0x20    /* 1xx interim response: not paired */
#define HTTP1_F_CHUNKED 0x40    /* body used chunked transfer coding */

struct http1_header {
    struct span name;
    struct span value; /* leading and trailing whitespace trimmed */
};

struct http1_msg {
    int dir;                /* HTTP1_DIR_REQUEST or HTTP1_DIR_RESPONSE */
    struct span method;     /* request */
    struct span target;     /* request */
    struct span version;    /* "HTTP/1.1" */
    int status;             /* response */
    struct span reason;     /* response */
    const struct http1_header *headers;
    size_t nheaders;
    struct span body;       /* kept body (inflated when compressed) */
    uint64_t body_len;      /* body bytes on the wire (de-chunked) */
    uint32_t flags;         /* HTTP1_F_* */
    uint64_t ordinal;       /* request: 1, 2, ... per connection; response: its
                               request's ordinal (0 = none) */
    uint64_t start_ts_us;   /* time the head was complete */
    uint64_t ts_us;         /* time the message was complete */
};

/* Called once per message; m and every span die when it returns. */
typedef void (*http1_msg_fn)(void *ctx, const struct http1_msg *m);

struct http1;

void http1_defaults(struct http1_cfg *cfg);

/* New connection parser. cfg NULL = defaults; pool charges buffers (may be
 * NULL); st receives counters (may be NULL). NULL on allocation failure. */
struct http1 *http1_new(const struct http1_cfg *cfg, struct mem_pool *pool, struct stats *st,
                        http1_msg_fn fn, void *ctx);
/* Frees the parser and its buffers (NULL accepted); nothing is emitted. */
void http1_free(struct http1 *h);

/* Feed bytes of dir (HTTP1_DIR_*). Contract of parsers/parse.h: the caller
 * keeps the unconsumed rest and feeds it again with new bytes appended.
 * PARSE_ERROR carries an enum http1_err; the direction then resyncs at the
 * next request / status line by itself (consumed > 0 whenever n > 0). */
struct parse_result http1_feed(struct http1 *h, int dir, const uint8_t *p, size_t n,
                               uint64_t ts_us);
/* len bytes of dir are missing. A known-length body stays framed (the
 * message is marked incomplete); otherwise the message in flight is emitted
 * incomplete (if its head was parsed) and dir resyncs at the next start line. */
void http1_gap(struct http1 *h, int dir, uint64_t len, uint64_t ts_us);
/* End of the connection: a close-delimited body completes, any other
 * message in flight is emitted incomplete. Feeding afterwards is allowed
 * (a fresh start). */
void http1_end(struct http1 *h, uint64_t ts_us);

/* First header called name (case-insensitive) or NULL. */
const struct http1_header *http1_header(const struct http1_msg *m, const char *name);

/* Name of an error code, e.g. "header_block_too_big". */
const char *http1_err_name(int err);

#endif
