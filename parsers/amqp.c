/* amqp.c -- AMQP 0-9-1 framing, method decoding and content assembly
 * (AMQP 0-9-1 §2.3.5, §4.2.3-§4.2.6; RabbitMQ rabbit_binary_parser field
 * tables; PROTOCOLS.md §1), push-style per parsers/parse.h. See amqp.h.
 *
 *   frame: type u8 | channel u16 | size u32 | payload[size] | 0xCE
 *
 * Each direction is an explicit state machine: D_INIT (protocol header or
 * first frame), D_FRAME (at a frame boundary), D_BODY (inside a BODY
 * payload, consumed as it arrives), D_BODY_END (its end octet), D_SYNC
 * (sliding to the next frame that validates). METHOD and HEADER frames are
 * left unconsumed until whole. Errors restart the scan one byte after the
 * start of the offending frame (or after a bad end octet), the same bytes
 * whatever the chunking, so every split of a stream gives the same output. */
#include "parsers/amqp.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum dstate { D_INIT = 0, D_FRAME, D_BODY, D_BODY_END, D_SYNC };

enum astate { CA_IDLE = 0, CA_WANT_HEADER, CA_WANT_BODY };

enum {
    C_FRAMES = 0,
    C_HEARTBEATS,
    C_MESSAGES,
    C_METHODS,
    C_BAD_FRAME_END,
    C_BAD_FRAME_TYPE,
    C_FRAME_TOO_BIG,
    C_BAD_METHOD,
    C_BAD_HEADER,
    C_BAD_PROTOCOL,
    C_UNKNOWN_METHOD,
    C_RESYNC,
    C_RESYNC_SKIPPED,
    C_BODY_TOO_BIG,
    C_GAP_DROPPED,
    C_END_DROPPED,
    C_ORPHAN_HEADER,
    C_ORPHAN_BODY,
    C_CONTENT_INTERRUPTED,
    C_BODY_OVERRUN,
    C_NOMEM,
    C_CHANNELS_FULL,
    C_BAD_PROPS,
    C_TABLE_UNKNOWN_TAG,
    C_TABLE_TOO_DEEP,
    C_TABLE_TRUNCATED,
    C_GAPS,
    C_SKIPPED_RUNS,
    C_COUNT
};

static const char *const counter_names[C_COUNT] = {
    "amqp.frames",          "amqp.heartbeats",          "amqp.messages",
    "amqp.methods",         "amqp.bad_frame_end",       "amqp.bad_frame_type",
    "amqp.frame_too_big",   "amqp.bad_method",          "amqp.bad_header",
    "amqp.bad_protocol_header", "amqp.unknown_method",  "amqp.resync",
    "amqp.resync_skipped_bytes", "amqp.body_too_big",   "amqp.gap_dropped",
    "amqp.end_dropped",     "amqp.orphan_header",       "amqp.orphan_body",
    "amqp.content_interrupted", "amqp.body_overrun",    "amqp.nomem",
    "amqp.channels_full",   "amqp.bad_props",           "amqp.table_unknown_tag",
    "amqp.table_too_deep",  "amqp.table_truncated",     "amqp.gaps",
    "amqp.skipped_runs",
};

/* Largest method arguments kept for a content method: Return has a short
 * and three shortstrs, Deliver a shortstr, a longlong, a bit and two
 * shortstrs: 3 * 256 + 16 fits. */
#define ARGS_MAX 1024   /* a content method's arguments at most */
#define ARGS_INLINE 160 /* of them kept in the assembly slot itself */

/* Content assembly of one (direction, channel). */
struct chan_asm {
    uint16_t channel;
    uint8_t dir;
    uint8_t used;
    enum astate st;
    uint32_t method;
    /* the content method's arguments: here when they fit (exchange and
     * routing key of the usual lengths), else a heap copy; a slot waits
     * in every connection, so it is not made for the 1 KiB worst case */
    uint8_t args0[ARGS_INLINE];
    uint8_t *args_big; /* args_cap bytes, or NULL */
    size_t nargs, args_cap;
    uint8_t *hdr; /* copy of the content header payload */
    size_t hdr_n, hdr_cap;
    uint8_t *body;
    size_t body_n, body_cap;
    uint64_t body_size, body_got;
    uint32_t flags;
    struct amqp_props props;
};

struct dirstate {
    enum dstate st;
    struct chan_asm *cur; /* receiver of the BODY payload in flight (NULL = discard) */
    uint32_t left;        /* payload bytes left in that BODY frame */
    uint16_t cur_chan;
    uint64_t skipped;     /* bytes skipped in D_SYNC since the last frame */
};

struct amqp {
    struct amqp_cfg cfg;
    struct mem_pool *pool;
    struct stats *st;
    amqp_content_fn fn;
    amqp_method_fn mfn;
    void *ctx;
    uint32_t frame_max;   /* whole-frame limit in force */
    uint16_t channel_max; /* 0 = not negotiated */
    int tuned;
    struct dirstate d[2];
    struct chan_asm *ch;
    size_t nch, ch_cap;
    uint64_t *const *c; /* the stats' table of counters (stats_counters_table), or own */
    uint64_t **own;     /* else C_COUNT pointers, then the counts when st is NULL */
};

/* Bump counter ctr and keep a diagnostic (stats_diag) when stats exist. */
static void diag(struct amqp *a, int ctr, uint64_t ts, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void diag(struct amqp *a, int ctr, uint64_t ts, const char *fmt, ...)
{
    if (!a->st || *a->c[ctr] >= STATS_DIAG_PER_KIND) { /* no message kept: skip formatting */
        (*a->c[ctr])++;
        return;
    }
    char buf[STATS_DIAG_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    stats_diag(a->st, counter_names[ctr], ts, "%s", buf);
}

void amqp_defaults(struct amqp_cfg *cfg)
{
    cfg->frame_max_default = 131072;
    cfg->frame_max_hard = 1024 * 1024;
    cfg->max_body = 4 * 1024 * 1024;
    cfg->max_table_depth = 16;
    cfg->max_channels = 256;
}

const char *amqp_err_name(int err)
{
    switch (err) {
    case AMQP_E_NONE:
        return "none";
    case AMQP_E_BAD_FRAME_END:
        return "bad_frame_end";
    case AMQP_E_BAD_FRAME_TYPE:
        return "bad_frame_type";
    case AMQP_E_FRAME_TOO_BIG:
        return "frame_too_big";
    case AMQP_E_BAD_METHOD:
        return "bad_method";
    case AMQP_E_BAD_HEADER:
        return "bad_header";
    case AMQP_E_BAD_PROTOCOL:
        return "bad_protocol_header";
    default:
        return "unknown";
    }
}

static const struct {
    uint32_t id;
    const char *name;
} method_names[] = {
    {AMQP_CONNECTION_START, "Connection.Start"},
    {AMQP_CONNECTION_START_OK, "Connection.Start-Ok"},
    {AMQP_CONNECTION_SECURE, "Connection.Secure"},
    {AMQP_CONNECTION_SECURE_OK, "Connection.Secure-Ok"},
    {AMQP_CONNECTION_TUNE, "Connection.Tune"},
    {AMQP_CONNECTION_TUNE_OK, "Connection.Tune-Ok"},
    {AMQP_CONNECTION_OPEN, "Connection.Open"},
    {AMQP_CONNECTION_OPEN_OK, "Connection.Open-Ok"},
    {AMQP_CONNECTION_CLOSE, "Connection.Close"},
    {AMQP_CONNECTION_CLOSE_OK, "Connection.Close-Ok"},
    {AMQP_CONNECTION_BLOCKED, "Connection.Blocked"},
    {AMQP_CONNECTION_UNBLOCKED, "Connection.Unblocked"},
    {AMQP_CHANNEL_OPEN, "Channel.Open"},
    {AMQP_CHANNEL_OPEN_OK, "Channel.Open-Ok"},
    {AMQP_CHANNEL_FLOW, "Channel.Flow"},
    {AMQP_CHANNEL_FLOW_OK, "Channel.Flow-Ok"},
    {AMQP_CHANNEL_CLOSE, "Channel.Close"},
    {AMQP_CHANNEL_CLOSE_OK, "Channel.Close-Ok"},
    {AMQP_EXCHANGE_DECLARE, "Exchange.Declare"},
    {AMQP_EXCHANGE_DECLARE_OK, "Exchange.Declare-Ok"},
    {AMQP_EXCHANGE_DELETE, "Exchange.Delete"},
    {AMQP_EXCHANGE_DELETE_OK, "Exchange.Delete-Ok"},
    {AMQP_QUEUE_DECLARE, "Queue.Declare"},
    {AMQP_QUEUE_DECLARE_OK, "Queue.Declare-Ok"},
    {AMQP_QUEUE_BIND, "Queue.Bind"},
    {AMQP_QUEUE_BIND_OK, "Queue.Bind-Ok"},
    {AMQP_QUEUE_PURGE, "Queue.Purge"},
    {AMQP_QUEUE_PURGE_OK, "Queue.Purge-Ok"},
    {AMQP_QUEUE_DELETE, "Queue.Delete"},
    {AMQP_QUEUE_DELETE_OK, "Queue.Delete-Ok"},
    {AMQP_QUEUE_UNBIND, "Queue.Unbind"},
    {AMQP_QUEUE_UNBIND_OK, "Queue.Unbind-Ok"},
    {AMQP_BASIC_QOS, "Basic.Qos"},
    {AMQP_BASIC_QOS_OK, "Basic.Qos-Ok"},
    {AMQP_BASIC_CONSUME, "Basic.Consume"},
    {AMQP_BASIC_CONSUME_OK, "Basic.Consume-Ok"},
    {AMQP_BASIC_CANCEL, "Basic.Cancel"},
    {AMQP_BASIC_CANCEL_OK, "Basic.Cancel-Ok"},
    {AMQP_BASIC_PUBLISH, "Basic.Publish"},
    {AMQP_BASIC_RETURN, "Basic.Return"},
    {AMQP_BASIC_DELIVER, "Basic.Deliver"},
    {AMQP_BASIC_GET, "Basic.Get"},
    {AMQP_BASIC_GET_OK, "Basic.Get-Ok"},
    {AMQP_BASIC_GET_EMPTY, "Basic.Get-Empty"},
    {AMQP_BASIC_ACK, "Basic.Ack"},
    {AMQP_BASIC_REJECT, "Basic.Reject"},
    {AMQP_BASIC_RECOVER_ASYNC, "Basic.Recover-Async"},
    {AMQP_BASIC_RECOVER, "Basic.Recover"},
    {AMQP_BASIC_RECOVER_OK, "Basic.Recover-Ok"},
    {AMQP_BASIC_NACK, "Basic.Nack"},
    {AMQP_CONFIRM_SELECT, "Confirm.Select"},
    {AMQP_CONFIRM_SELECT_OK, "Confirm.Select-Ok"},
    {AMQP_TX_SELECT, "Tx.Select"},
    {AMQP_TX_SELECT_OK, "Tx.Select-Ok"},
    {AMQP_TX_COMMIT, "Tx.Commit"},
    {AMQP_TX_COMMIT_OK, "Tx.Commit-Ok"},
    {AMQP_TX_ROLLBACK, "Tx.Rollback"},
    {AMQP_TX_ROLLBACK_OK, "Tx.Rollback-Ok"},
};

const char *amqp_method_name(uint32_t method)
{
    for (size_t i = 0; i < sizeof(method_names) / sizeof(method_names[0]); i++)
        if (method_names[i].id == method)
            return method_names[i].name;
    return NULL;
}

static int is_content_method(uint32_t m)
{
    return m == AMQP_BASIC_PUBLISH || m == AMQP_BASIC_RETURN || m == AMQP_BASIC_DELIVER ||
           m == AMQP_BASIC_GET_OK;
}

/* ---- field tables ---------------------------------------------------- */

struct walk {
    unsigned max_depth;
    amqp_field_fn fn;
    void *ctx;
    int res;
};

static void worse(struct walk *w, int r)
{
    if (r > w->res)
        w->res = r;
}

static int walk_items(struct walk *w, const uint8_t *p, size_t n, unsigned depth, int named);

/* Reads one value of tag into f (raw/i). Returns 0, or an amqp_table_res
 * that stops the enclosing table (UNKNOWN_TAG, TRUNCATED). */
static int read_value(struct rd *r, uint8_t tag, struct amqp_field *f)
{
    f->tag = tag;
    f->raw.p = NULL;
    f->raw.n = 0;
    f->i = 0;
    switch (tag) {
    case 't':
        f->i = rd_u8(r) != 0;
        break;
    case 'b':
        f->i = (int8_t)rd_u8(r);
        break;
    case 'B':
        f->i = rd_u8(r);
        break;
    case 's':
        f->i = (int16_t)rd_be16(r);
        break;
    case 'u':
        f->i = rd_be16(r);
        break;
    case 'I':
        f->i = (int32_t)rd_be32(r);
        break;
    case 'i':
        f->i = rd_be32(r);
        break;
    case 'l':
    case 'L':
        f->i = (int64_t)rd_be64(r);
        break;
    case 'f':
        rd_skip(r, 4);
        break;
    case 'd':
        rd_skip(r, 8);
        break;
    case 'D':
        rd_skip(r, 5);
        break;
    case 'T':
        f->i = (int64_t)rd_be64(r);
        break;
    case 'V':
        break;
    case 'S':
    case 'x':
    case 'F':
    case 'A': {
        uint32_t len = rd_be32(r);
        f->raw = rd_span(r, len);
        break;
    }
    default:
        return AMQP_TABLE_UNKNOWN_TAG;
    }
    return rd_ok(r) ? 0 : AMQP_TABLE_TRUNCATED;
}

static int walk_items(struct walk *w, const uint8_t *p, size_t n, unsigned depth, int named)
{
    struct rd r = rd_init(p, n);
    while (rd_left(&r) > 0) {
        struct amqp_field f;
        memset(&f, 0, sizeof(f));
        f.depth = depth;
        if (named) {
            uint8_t nl = rd_u8(&r);
            f.name = rd_span(&r, nl);
        }
        uint8_t tag = rd_u8(&r);
        if (!rd_ok(&r)) {
            worse(w, AMQP_TABLE_TRUNCATED);
            return 0;
        }
        int vr = read_value(&r, tag, &f);
        if (vr == AMQP_TABLE_UNKNOWN_TAG) {
            worse(w, vr);
            return 0; /* this table stops; enclosing ones go on */
        }
        if (vr == AMQP_TABLE_TRUNCATED) {
            worse(w, vr);
            return 0;
        }
        if (w->fn && w->fn(w->ctx, &f)) {
            w->res = AMQP_TABLE_STOPPED;
            return 1;
        }
        if (tag == 'F' || tag == 'A') {
            if (depth + 1 >= w->max_depth) {
                worse(w, AMQP_TABLE_TOO_DEEP);
                continue;
            }
            if (walk_items(w, f.raw.p, f.raw.n, depth + 1, tag == 'F'))
                return 1;
        }
    }
    return 0;
}

int amqp_table_walk(const uint8_t *p, size_t n, unsigned max_depth, amqp_field_fn fn, void *ctx)
{
    struct walk w = {max_depth ? max_depth : 16, fn, ctx, AMQP_TABLE_OK};
    if (!p || n == 0)
        return AMQP_TABLE_OK;
    walk_items(&w, p, n, 0, 1);
    return w.res;
}

int amqp_table_find(const uint8_t *p, size_t n, const char *name, struct amqp_field *out)
{
    struct rd r = rd_init(p, n);
    size_t nl = strlen(name);
    if (!p)
        return 0;
    while (rd_left(&r) > 0) {
        struct amqp_field f;
        memset(&f, 0, sizeof(f));
        uint8_t l = rd_u8(&r);
        f.name = rd_span(&r, l);
        uint8_t tag = rd_u8(&r);
        if (!rd_ok(&r) || read_value(&r, tag, &f) != 0)
            return 0;
        if (f.name.n == nl && memcmp(f.name.p, name, nl) == 0) {
            *out = f;
            return 1;
        }
    }
    return 0;
}

/* ---- method arguments ------------------------------------------------ */

static struct span rd_shortstr(struct rd *r)
{
    uint8_t l = rd_u8(r);
    return rd_span(r, l);
}

static struct span rd_longstr(struct rd *r)
{
    uint32_t l = rd_be32(r);
    return rd_span(r, l);
}

/* Login name from a Start-Ok response. AMQPLAIN: table entries without the
 * length prefix (LOGIN, PASSWORD); PLAIN: authzid NUL authcid NUL passwd.
 * Only the user name is returned; the response never leaves this file. */
static struct span login_of(struct span mech, struct span resp)
{
    struct span none = {NULL, 0};
    struct amqp_field f;
    if (span_ieq(mech.p, mech.n, "AMQPLAIN")) {
        if (amqp_table_find(resp.p, resp.n, "LOGIN", &f) && f.tag == 'S')
            return f.raw;
        return none;
    }
    if (span_ieq(mech.p, mech.n, "PLAIN")) {
        const uint8_t *z1 = memchr(resp.p, 0, resp.n);
        if (!z1)
            return none;
        size_t rest = resp.n - (size_t)(z1 + 1 - resp.p);
        const uint8_t *z2 = memchr(z1 + 1, 0, rest);
        if (!z2)
            return none;
        struct span s = {z1 + 1, (size_t)(z2 - (z1 + 1))};
        return s;
    }
    return none;
}

/* Decode the arguments of method mid from r into m (non-content methods)
 * or into the content fields of msg (content methods; msg may be NULL when
 * only validating). Returns 0, -1 when malformed, -2 when unknown. */
static int decode_args(uint32_t mid, struct rd *r, struct amqp_method *m, struct amqp_msg *msg)
{
    uint8_t bits;
    struct amqp_msg dummy;
    if (!msg)
        msg = &dummy;
    switch (mid) {
    case AMQP_CONNECTION_START: {
        m->ver_major = rd_u8(r);
        m->ver_minor = rd_u8(r);
        struct span props = rd_longstr(r);
        rd_longstr(r); /* mechanisms */
        rd_longstr(r); /* locales */
        struct amqp_field f;
        if (rd_ok(r) && amqp_table_find(props.p, props.n, "product", &f) && f.tag == 'S')
            m->product = f.raw;
        break;
    }
    case AMQP_CONNECTION_START_OK: {
        struct span props = rd_longstr(r);
        m->mechanism = rd_shortstr(r);
        struct span resp = rd_longstr(r); /* SECRET */
        rd_shortstr(r);                   /* locale */
        if (!rd_ok(r))
            break;
        struct amqp_field f;
        if (amqp_table_find(props.p, props.n, "connection_name", &f) && f.tag == 'S')
            m->connection_name = f.raw;
        if (amqp_table_find(props.p, props.n, "product", &f) && f.tag == 'S')
            m->product = f.raw;
        m->login = login_of(m->mechanism, resp);
        break;
    }
    case AMQP_CONNECTION_SECURE:
    case AMQP_CONNECTION_SECURE_OK: /* SECRET response: skipped */
    case AMQP_CHANNEL_OPEN_OK:
        rd_longstr(r);
        break;
    case AMQP_CONNECTION_TUNE:
    case AMQP_CONNECTION_TUNE_OK:
        m->channel_max = rd_be16(r);
        m->frame_max = rd_be32(r);
        m->heartbeat = rd_be16(r);
        break;
    case AMQP_CONNECTION_OPEN:
        m->vhost = rd_shortstr(r);
        rd_shortstr(r);
        rd_u8(r);
        break;
    case AMQP_CONNECTION_OPEN_OK:
    case AMQP_CHANNEL_OPEN:
        rd_shortstr(r);
        break;
    case AMQP_CONNECTION_CLOSE:
    case AMQP_CHANNEL_CLOSE:
        m->reply_code = rd_be16(r);
        m->reply_text = rd_shortstr(r);
        m->fail_class = rd_be16(r);
        m->fail_method = rd_be16(r);
        break;
    case AMQP_CONNECTION_BLOCKED:
        m->reply_text = rd_shortstr(r);
        break;
    case AMQP_CHANNEL_FLOW:
    case AMQP_CHANNEL_FLOW_OK:
    case AMQP_BASIC_RECOVER_ASYNC:
    case AMQP_BASIC_RECOVER:
        rd_u8(r);
        break;
    case AMQP_CONFIRM_SELECT:
        m->no_wait = rd_u8(r) & 1;
        break;
    case AMQP_EXCHANGE_DECLARE:
        rd_be16(r);
        m->exchange = rd_shortstr(r);
        m->type = rd_shortstr(r);
        m->no_wait = (rd_u8(r) >> 4) & 1;
        rd_longstr(r);
        break;
    case AMQP_EXCHANGE_DELETE:
        rd_be16(r);
        m->exchange = rd_shortstr(r);
        rd_u8(r);
        break;
    case AMQP_QUEUE_DECLARE:
        rd_be16(r);
        m->queue = rd_shortstr(r);
        m->no_wait = (rd_u8(r) >> 4) & 1;
        rd_longstr(r);
        break;
    case AMQP_QUEUE_DECLARE_OK:
        m->queue = rd_shortstr(r);
        m->message_count = rd_be32(r);
        m->consumer_count = rd_be32(r);
        break;
    case AMQP_QUEUE_BIND:
        rd_be16(r);
        m->queue = rd_shortstr(r);
        m->exchange = rd_shortstr(r);
        m->routing_key = rd_shortstr(r);
        m->no_wait = rd_u8(r) & 1;
        rd_longstr(r);
        break;
    case AMQP_QUEUE_UNBIND:
        rd_be16(r);
        m->queue = rd_shortstr(r);
        m->exchange = rd_shortstr(r);
        m->routing_key = rd_shortstr(r);
        rd_longstr(r);
        break;
    case AMQP_QUEUE_PURGE:
    case AMQP_QUEUE_DELETE:
        rd_be16(r);
        m->queue = rd_shortstr(r);
        rd_u8(r);
        break;
    case AMQP_QUEUE_PURGE_OK:
    case AMQP_QUEUE_DELETE_OK:
        m->message_count = rd_be32(r);
        break;
    case AMQP_BASIC_QOS:
        rd_be32(r);
        rd_be16(r);
        rd_u8(r);
        break;
    case AMQP_BASIC_CONSUME:
        rd_be16(r);
        m->queue = rd_shortstr(r);
        m->consumer_tag = rd_shortstr(r);
        bits = rd_u8(r);
        m->no_ack = (bits >> 1) & 1;
        m->no_wait = (bits >> 3) & 1;
        rd_longstr(r);
        break;
    case AMQP_BASIC_CONSUME_OK:
    case AMQP_BASIC_CANCEL_OK:
        m->consumer_tag = rd_shortstr(r);
        break;
    case AMQP_BASIC_CANCEL:
        m->consumer_tag = rd_shortstr(r);
        m->no_wait = rd_u8(r) & 1;
        break;
    case AMQP_BASIC_GET:
        rd_be16(r);
        m->queue = rd_shortstr(r);
        m->no_ack = rd_u8(r) & 1;
        break;
    case AMQP_BASIC_GET_EMPTY:
        rd_shortstr(r);
        break;
    case AMQP_BASIC_ACK:
    case AMQP_BASIC_REJECT:
        m->delivery_tag = rd_be64(r);
        bits = rd_u8(r);
        if (mid == AMQP_BASIC_ACK)
            m->multiple = bits & 1;
        else
            m->requeue = bits & 1;
        break;
    case AMQP_BASIC_NACK:
        m->delivery_tag = rd_be64(r);
        bits = rd_u8(r);
        m->multiple = bits & 1;
        m->requeue = (bits >> 1) & 1;
        break;
    case AMQP_BASIC_PUBLISH:
        rd_be16(r);
        msg->exchange = rd_shortstr(r);
        msg->routing_key = rd_shortstr(r);
        bits = rd_u8(r);
        msg->mandatory = bits & 1;
        msg->immediate = (bits >> 1) & 1;
        break;
    case AMQP_BASIC_RETURN:
        msg->reply_code = rd_be16(r);
        msg->reply_text = rd_shortstr(r);
        msg->exchange = rd_shortstr(r);
        msg->routing_key = rd_shortstr(r);
        break;
    case AMQP_BASIC_DELIVER:
        msg->consumer_tag = rd_shortstr(r);
        msg->delivery_tag = rd_be64(r);
        msg->redelivered = rd_u8(r) & 1;
        msg->exchange = rd_shortstr(r);
        msg->routing_key = rd_shortstr(r);
        break;
    case AMQP_BASIC_GET_OK:
        msg->delivery_tag = rd_be64(r);
        msg->redelivered = rd_u8(r) & 1;
        msg->exchange = rd_shortstr(r);
        msg->routing_key = rd_shortstr(r);
        rd_be32(r);
        break;
    default:
        if (amqp_method_name(mid))
            break; /* known, no arguments */
        return -2;
    }
    return rd_ok(r) ? 0 : -1;
}

/* ---- content properties ---------------------------------------------- */

/* Parse a content header payload [p, p+n). Fills body_size and props.
 * Returns 0, -1 when even the body size is missing, 1 when the properties
 * could not be fully decoded (body size still valid). */
static int decode_header(const uint8_t *p, size_t n, uint64_t *body_size, struct amqp_props *pr)
{
    struct rd r = rd_init(p, n);
    memset(pr, 0, sizeof(*pr));
    uint16_t cls = rd_be16(&r);
    rd_be16(&r); /* weight */
    *body_size = rd_be64(&r);
    if (!rd_ok(&r))
        return -1;
    uint16_t flags = rd_be16(&r);
    if (!rd_ok(&r))
        return 1;
    int more = flags & 1;
    int extra = 0;
    while (more) { /* further flags words: properties we cannot type */
        uint16_t f2 = rd_be16(&r);
        if (!rd_ok(&r))
            return 1;
        more = f2 & 1;
        if (f2 & 0xFFFE)
            extra = 1;
    }
    pr->flags = flags;
    if (cls != 60)
        return 1;
    if (flags & AMQP_P_CONTENT_TYPE)
        pr->content_type = rd_shortstr(&r);
    if (flags & AMQP_P_CONTENT_ENCODING)
        pr->content_encoding = rd_shortstr(&r);
    if (flags & AMQP_P_HEADERS)
        pr->headers = rd_longstr(&r);
    if (flags & AMQP_P_DELIVERY_MODE)
        pr->delivery_mode = rd_u8(&r);
    if (flags & AMQP_P_PRIORITY)
        pr->priority = rd_u8(&r);
    if (flags & AMQP_P_CORRELATION_ID)
        pr->correlation_id = rd_shortstr(&r);
    if (flags & AMQP_P_REPLY_TO)
        pr->reply_to = rd_shortstr(&r);
    if (flags & AMQP_P_EXPIRATION)
        pr->expiration = rd_shortstr(&r);
    if (flags & AMQP_P_MESSAGE_ID)
        pr->message_id = rd_shortstr(&r);
    if (flags & AMQP_P_TIMESTAMP)
        pr->timestamp = rd_be64(&r);
    if (flags & AMQP_P_TYPE)
        pr->type = rd_shortstr(&r);
    if (flags & AMQP_P_USER_ID)
        pr->user_id = rd_shortstr(&r);
    if (flags & AMQP_P_APP_ID)
        pr->app_id = rd_shortstr(&r);
    if (flags & AMQP_P_CLUSTER_ID)
        pr->cluster_id = rd_shortstr(&r);
    if (!rd_ok(&r)) {
        struct amqp_props keep = *pr;
        memset(pr, 0, sizeof(*pr));
        pr->flags = keep.flags;
        return 1;
    }
    return extra ? 1 : 0;
}

/* ---- construction ---------------------------------------------------- */

struct amqp *amqp_new(const struct amqp_cfg *cfg, struct mem_pool *pool, struct stats *st,
                      amqp_content_fn fn, amqp_method_fn mfn, void *ctx)
{
    struct amqp *a = mem_calloc(pool, sizeof(*a));
    if (!a)
        return NULL;
    if (cfg)
        a->cfg = *cfg;
    else
        amqp_defaults(&a->cfg);
    if (a->cfg.frame_max_default < 4096)
        a->cfg.frame_max_default = 4096;
    if (a->cfg.frame_max_hard < a->cfg.frame_max_default)
        a->cfg.frame_max_hard = a->cfg.frame_max_default;
    if (a->cfg.max_table_depth == 0)
        a->cfg.max_table_depth = 1;
    if (a->cfg.max_channels == 0)
        a->cfg.max_channels = 1;
    a->pool = pool;
    a->st = st;
    a->fn = fn;
    a->mfn = mfn;
    a->ctx = ctx;
    a->frame_max = a->cfg.frame_max_default;
    a->c = stats_counters_own(st, counter_names, C_COUNT, pool, &a->own);
    if (!a->c) {
        mem_free(pool, a, sizeof(*a));
        return NULL;
    }
    return a;
}

/* Body buffers start at BODY_FIRST bytes, which fits most oslo bodies;
 * freed ones of that size are kept for the next message (see mem_cache:
 * blocks this big miss glibc's per-thread cache), at most 64 (256 KiB). */
#define BODY_FIRST 4096
static _Thread_local struct mem_cache body_cache = {BODY_FIRST, 64, 0, NULL};

static void body_buf_free(struct amqp *a, uint8_t *p, size_t cap)
{
    if (cap == BODY_FIRST)
        mem_cache_free(&body_cache, a->pool, p);
    else
        mem_free(a->pool, p, cap);
}

static const uint8_t *asm_args(const struct chan_asm *c)
{
    return c->args_big ? c->args_big : c->args0;
}

static void args_free(struct amqp *a, struct chan_asm *c)
{
    mem_free(a->pool, c->args_big, c->args_cap);
    c->args_big = NULL;
    c->args_cap = 0;
}

/* Keep the n argument bytes at p for the content that follows; -1 when
 * the pool refuses the room. */
static int args_keep(struct amqp *a, struct chan_asm *c, const uint8_t *p, size_t n)
{
    if (n <= ARGS_INLINE) {
        args_free(a, c);
        memcpy(c->args0, p, n);
    } else {
        if (c->args_cap < n) {
            args_free(a, c);
            c->args_big = mem_alloc(a->pool, n);
            if (!c->args_big)
                return -1;
            c->args_cap = n;
        }
        memcpy(c->args_big, p, n);
    }
    c->nargs = n;
    return 0;
}

/* Between messages a channel holds no buffer: idle connections cost only
 * their state. */
static void asm_release(struct amqp *a, struct chan_asm *c)
{
    args_free(a, c);
    mem_free(a->pool, c->hdr, c->hdr_cap);
    c->hdr = NULL;
    c->hdr_cap = 0;
    body_buf_free(a, c->body, c->body_cap);
    c->body = NULL;
    c->body_cap = 0;
    c->hdr_n = 0;
    c->body_n = 0;
    c->body_got = 0;
    c->body_size = 0;
    c->flags = 0;
    c->nargs = 0;
    c->st = CA_IDLE;
}

void amqp_free(struct amqp *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->nch; i++)
        asm_release(a, &a->ch[i]);
    mem_free(a->pool, a->ch, a->ch_cap * sizeof(*a->ch));
    mem_free(a->pool, a->own, STATS_OWN_BYTES(C_COUNT));
    mem_free(a->pool, a, sizeof(*a));
}

uint32_t amqp_frame_max(const struct amqp *a)
{
    return a->frame_max;
}

int amqp_syncing(const struct amqp *a, int dir)
{
    return a->d[dir & 1].st == D_SYNC;
}

static struct chan_asm *asm_find(struct amqp *a, int dir, uint16_t ch)
{
    for (size_t i = 0; i < a->nch; i++)
        if (a->ch[i].used && a->ch[i].dir == dir && a->ch[i].channel == ch)
            return &a->ch[i];
    return NULL;
}

/* The assembly slot of (dir, ch), created on demand; NULL when the channel
 * table is full or the pool refuses (counted). Pointers into the table are
 * invalidated by growth, so no caller keeps one across this call. */
static struct chan_asm *asm_get(struct amqp *a, int dir, uint16_t ch, uint64_t ts)
{
    struct chan_asm *c = asm_find(a, dir, ch);
    if (c)
        return c;
    for (size_t i = 0; i < a->nch; i++) {
        if (!a->ch[i].used) {
            c = &a->ch[i];
            goto init;
        }
    }
    if (a->nch >= a->cfg.max_channels) {
        diag(a, C_CHANNELS_FULL, ts, "amqp: content on channel %u: %zu channels in assembly = "
             "limit %u, message dropped", (unsigned)ch, a->nch, a->cfg.max_channels);
        return NULL;
    }
    if (a->nch == a->ch_cap) {
        size_t ncap = a->ch_cap ? a->ch_cap * 2 : 2;
        if (ncap > a->cfg.max_channels)
            ncap = a->cfg.max_channels;
        struct chan_asm *nc =
            mem_realloc(a->pool, a->ch, a->ch_cap * sizeof(*a->ch), ncap * sizeof(*a->ch));
        if (!nc) {
            (*a->c[C_NOMEM])++;
            return NULL;
        }
        /* the BODY receivers point into the old table */
        for (int d = 0; d < 2; d++)
            if (a->d[d].cur)
                a->d[d].cur = nc + (a->d[d].cur - a->ch);
        a->ch = nc;
        a->ch_cap = ncap;
    }
    c = &a->ch[a->nch++];
    memset(c, 0, sizeof(*c));
init:
    c->used = 1;
    c->dir = (uint8_t)dir;
    c->channel = ch;
    c->st = CA_IDLE;
    return c;
}

static void asm_drop(struct amqp *a, struct chan_asm *c)
{
    for (int d = 0; d < 2; d++)
        if (a->d[d].cur == c)
            a->d[d].cur = NULL;
    asm_release(a, c);
}

static int drop_dir(struct amqp *a, int dir)
{
    int n = 0;
    for (size_t i = 0; i < a->nch; i++) {
        struct chan_asm *c = &a->ch[i];
        if (c->used && c->dir == dir && c->st != CA_IDLE) {
            n++;
            asm_drop(a, c);
        }
    }
    a->d[dir].cur = NULL;
    return n;
}

/* ---- frame validation (joining mid-stream) --------------------------- */

static uint32_t payload_limit(const struct amqp *a)
{
    return a->frame_max - 8;
}

static uint16_t chan_limit(const struct amqp *a)
{
    if (a->tuned)
        return a->channel_max ? a->channel_max : 65535;
    return 2047;
}

/* Header-level plausibility of a frame at q (avail bytes). Returns 1 valid,
 * 0 invalid, or -(bytes needed) when more bytes must be seen first. */
static long frame_head_ok(const struct amqp *a, const uint8_t *q, size_t avail)
{
    if (avail < 1)
        return -1;
    uint8_t t = q[0];
    if (t != AMQP_FRAME_METHOD && t != AMQP_FRAME_HEADER && t != AMQP_FRAME_BODY &&
        t != AMQP_FRAME_HEARTBEAT)
        return 0;
    if (avail < 7)
        return -(long)(7 - avail);
    uint16_t ch = (uint16_t)((q[1] << 8) | q[2]);
    uint32_t size = ((uint32_t)q[3] << 24) | ((uint32_t)q[4] << 16) | ((uint32_t)q[5] << 8) | q[6];
    if (size > payload_limit(a) || ch > chan_limit(a))
        return 0;
    switch (t) {
    case AMQP_FRAME_HEARTBEAT:
        return (ch == 0 && size == 0) ? 1 : 0;
    case AMQP_FRAME_BODY:
        return ch != 0 ? 1 : 0;
    case AMQP_FRAME_HEADER:
        if (ch == 0 || size < 14)
            return 0;
        if (avail < 11)
            return -(long)(11 - avail);
        return (q[7] == 0 && q[8] == 60 && q[9] == 0 && q[10] == 0) ? 1 : 0;
    default: /* METHOD */
        if (size < 4)
            return 0;
        if (avail < 11)
            return -(long)(11 - avail);
        {
            uint32_t mid = ((uint32_t)q[7] << 24) | ((uint32_t)q[8] << 16) |
                           ((uint32_t)q[9] << 8) | q[10];
            if (!amqp_method_name(mid))
                return 0;
            if ((mid >> 16) == 10 && ch != 0)
                return 0; /* connection class lives on channel 0 */
            if ((mid >> 16) != 10 && ch == 0)
                return 0;
        }
        return 1;
    }
}

/* Full validation of a sync candidate at q: plausible head, end octet at
 * the right place, METHOD arguments that decode exactly, and a plausible
 * head of the next frame. Same return convention as frame_head_ok. */
static long candidate_ok(const struct amqp *a, const uint8_t *q, size_t avail)
{
    long h = frame_head_ok(a, q, avail);
    if (h <= 0)
        return h;
    uint32_t size = ((uint32_t)q[3] << 24) | ((uint32_t)q[4] << 16) | ((uint32_t)q[5] << 8) | q[6];
    size_t total = (size_t)size + 8; /* size <= payload_limit: no wrap */
    if (avail < total)
        return -(long)(total - avail);
    if (q[total - 1] != AMQP_FRAME_END)
        return 0;
    if (q[0] == AMQP_FRAME_METHOD) {
        struct amqp_method m;
        memset(&m, 0, sizeof(m));
        struct rd r = rd_init(q + 11, size - 4);
        uint32_t mid = ((uint32_t)q[7] << 24) | ((uint32_t)q[8] << 16) | ((uint32_t)q[9] << 8) | q[10];
        if (decode_args(mid, &r, &m, NULL) != 0 || rd_left(&r) != 0)
            return 0;
    }
    long n = frame_head_ok(a, q + total, avail - total);
    if (n < 0)
        return n;
    return n;
}

/* ---- frame processing ------------------------------------------------ */

static void deliver(struct amqp *a, struct chan_asm *c, uint64_t ts)
{
    struct amqp_msg msg;
    struct amqp_method dummy;
    memset(&msg, 0, sizeof(msg));
    memset(&dummy, 0, sizeof(dummy));
    struct rd r = rd_init(asm_args(c), c->nargs);
    decode_args(c->method, &r, &dummy, &msg); /* validated when stored */
    msg.dir = c->dir;
    msg.channel = c->channel;
    msg.method = c->method;
    msg.props = c->props;
    msg.body_size = c->body_size;
    msg.body.p = c->body;
    msg.body.n = (c->flags & (AMQP_F_BODY_SKIPPED | AMQP_F_NOMEM)) ? 0 : c->body_n;
    if (!msg.body.p) {
        static const uint8_t empty[1] = {0};
        msg.body.p = empty;
        msg.body.n = 0;
    }
    msg.flags = c->flags;
    msg.ts_us = ts;
    (*a->c[C_MESSAGES])++;
    if (a->fn)
        a->fn(a->ctx, &msg);
    asm_release(a, c); /* after the callback: msg points into c */
}

static void on_method(struct amqp *a, int dir, uint16_t ch, const uint8_t *p, size_t n,
                      uint64_t ts)
{
    struct rd r = rd_init(p, n);
    uint32_t mid = rd_be32(&r);
    struct amqp_method m;
    struct amqp_msg msg;
    memset(&m, 0, sizeof(m));
    memset(&msg, 0, sizeof(msg));
    if (!rd_ok(&r)) {
        diag(a, C_BAD_METHOD, ts, "amqp: method frame of %zu bytes has no method id", n);
        return;
    }
    int rc = decode_args(mid, &r, &m, &msg);
    if (rc == -2) {
        diag(a, C_UNKNOWN_METHOD, ts, "amqp: unknown method %u.%u on channel %u",
             (unsigned)(mid >> 16), (unsigned)(mid & 0xFFFF), (unsigned)ch);
        return;
    }
    if (rc != 0) {
        diag(a, C_BAD_METHOD, ts, "amqp: short arguments for method %u.%u",
             (unsigned)(mid >> 16), (unsigned)(mid & 0xFFFF));
        return;
    }
    (*a->c[C_METHODS])++;
    if (is_content_method(mid)) {
        struct chan_asm *c = asm_get(a, dir, ch, ts);
        if (!c)
            return;
        if (c->st != CA_IDLE) {
            (*a->c[C_CONTENT_INTERRUPTED])++;
            asm_drop(a, c);
            c->used = 1;
        }
        size_t nargs = n - 4;
        if (nargs > ARGS_MAX) { /* cannot happen for decodable args; be safe */
            (*a->c[C_BAD_METHOD])++;
            return;
        }
        if (args_keep(a, c, p + 4, nargs) < 0) {
            (*a->c[C_NOMEM])++;
            return;
        }
        c->method = mid;
        c->st = CA_WANT_HEADER;
        return;
    }
    if (mid == AMQP_CONNECTION_TUNE || mid == AMQP_CONNECTION_TUNE_OK) {
        uint32_t fm = m.frame_max;
        if (fm == 0 || fm > a->cfg.frame_max_hard)
            fm = a->cfg.frame_max_hard;
        if (fm < 4096)
            fm = 4096; /* protocol floor: smaller values are nonsense */
        a->frame_max = fm;
        a->channel_max = m.channel_max;
        a->tuned = 1;
    }
    if (mid == AMQP_CHANNEL_CLOSE || mid == AMQP_CHANNEL_CLOSE_OK) {
        for (int d = 0; d < 2; d++) {
            struct chan_asm *c = asm_find(a, d, ch);
            if (c && c->st != CA_IDLE)
                asm_drop(a, c);
        }
    }
    m.dir = dir;
    m.channel = ch;
    m.method = mid;
    m.ts_us = ts;
    if (a->mfn)
        a->mfn(a->ctx, &m);
}

static void on_header(struct amqp *a, int dir, uint16_t ch, const uint8_t *p, size_t n,
                      uint64_t ts)
{
    struct chan_asm *c = asm_find(a, dir, ch);
    if (!c || c->st != CA_WANT_HEADER) {
        (*a->c[C_ORPHAN_HEADER])++;
        return;
    }
    if (n == 0) { /* no class, no size: nothing to copy (memcpy of 0 to no buffer) */
        (*a->c[C_BAD_HEADER])++;
        asm_drop(a, c);
        return;
    }
    if (n > c->hdr_cap) {
        uint8_t *nb = mem_realloc(a->pool, c->hdr, c->hdr_cap, n);
        if (!nb) {
            (*a->c[C_NOMEM])++;
            asm_drop(a, c);
            return;
        }
        c->hdr = nb;
        c->hdr_cap = n;
    }
    memcpy(c->hdr, p, n);
    c->hdr_n = n;
    int rc = decode_header(c->hdr, n, &c->body_size, &c->props);
    if (rc < 0) {
        (*a->c[C_BAD_HEADER])++;
        asm_drop(a, c);
        return;
    }
    if (rc > 0) {
        (*a->c[C_BAD_PROPS])++;
        c->flags |= AMQP_F_BAD_PROPS;
    }
    if (c->body_size > a->cfg.max_body) {
        diag(a, C_BODY_TOO_BIG, ts, "amqp: body %llu > limit %zu, skipped",
             (unsigned long long)c->body_size, a->cfg.max_body);
        c->flags |= AMQP_F_BODY_SKIPPED;
    }
    if (c->body_size == 0) {
        deliver(a, c, ts);
        return;
    }
    c->st = CA_WANT_BODY;
}

/* Append body bytes to c, growing its buffer with the bytes seen. */
static void body_append(struct amqp *a, struct chan_asm *c, const uint8_t *p, size_t n)
{
    if (c->body_got + n > c->body_size) {
        (*a->c[C_BODY_OVERRUN])++;
        asm_drop(a, c);
        return;
    }
    c->body_got += n;
    if (c->flags & (AMQP_F_BODY_SKIPPED | AMQP_F_NOMEM))
        return;
    if (c->body_n + n > c->body_cap) {
        size_t want = c->body_n + n;
        size_t ncap = c->body_cap ? c->body_cap * 2 : BODY_FIRST;
        if (ncap < want)
            ncap = want;
        if (ncap > c->body_size && c->body_size > BODY_FIRST)
            ncap = (size_t)c->body_size; /* body_size <= max_body here */
        uint8_t *nb;
        if (!c->body && ncap == BODY_FIRST)
            nb = mem_cache_alloc(&body_cache, a->pool);
        else
            nb = mem_realloc(a->pool, c->body, c->body_cap, ncap);
        if (!nb) {
            (*a->c[C_NOMEM])++;
            c->flags |= AMQP_F_NOMEM;
            return;
        }
        c->body = nb;
        c->body_cap = ncap;
    }
    memcpy(c->body + c->body_n, p, n);
    c->body_n += n;
}

static struct parse_result res(enum parse_status s, size_t consumed, size_t needed, int err)
{
    struct parse_result r = {s, consumed, needed, err};
    return r;
}

/* A run of bytes skipped while looking for a frame ended (a frame found, a
 * gap, the end of the stream): one diagnostic per run, naming its length. */
static void skipped_run_end(struct amqp *a, int dir, uint64_t ts)
{
    struct dirstate *d = &a->d[dir];
    if (d->skipped == 0)
        return;
    diag(a, C_SKIPPED_RUNS, ts, "amqp: %llu bytes skipped that are not AMQP frames (%s)",
         (unsigned long long)d->skipped, dir == AMQP_DIR_C2S ? "client" : "broker");
    d->skipped = 0;
}

/* An error at frame offset `at`: resync from at + skip (deterministic
 * whatever the chunking). */
static struct parse_result fail(struct amqp *a, int dir, int err, int ctr, size_t at,
                                size_t skip, uint64_t ts)
{
    struct dirstate *d = &a->d[dir];
    diag(a, ctr, ts, "amqp: %s (%s), resynchronising", amqp_err_name(err),
         dir == AMQP_DIR_C2S ? "client" : "broker");
    if (d->cur)
        asm_drop(a, d->cur); /* the content in flight lost its frame */
    d->cur = NULL;
    d->st = D_SYNC;
    return res(PARSE_ERROR, at + skip, 0, err);
}

struct parse_result amqp_feed(struct amqp *a, int dir, const uint8_t *p, size_t n, uint64_t ts)
{
    dir &= 1;
    struct dirstate *d = &a->d[dir];
    size_t off = 0;
    while (off < n) {
        size_t avail = n - off;
        const uint8_t *q = p + off;
        switch (d->st) {
        case D_INIT: {
            static const uint8_t hdr[4] = {'A', 'M', 'Q', 'P'};
            size_t k = avail < 4 ? avail : 4;
            if (memcmp(q, hdr, k) == 0) {
                if (avail < 8)
                    return res(PARSE_NEED_MORE, off, 8 - avail, 0);
                if (q[4] != 0 || q[5] != 0 || q[6] != 9 || q[7] != 1) {
                    d->st = D_SYNC;
                    return fail(a, dir, AMQP_E_BAD_PROTOCOL, C_BAD_PROTOCOL, off, 8, ts);
                }
                off += 8;
                d->st = D_FRAME;
                continue;
            }
            /* broker side: a stream opening with Connection.Start is in sync */
            if (q[0] == AMQP_FRAME_METHOD) {
                if (avail < 11)
                    return res(PARSE_NEED_MORE, off, 11 - avail, 0);
                if (q[1] == 0 && q[2] == 0 && q[7] == 0 && q[8] == 10 && q[9] == 0 &&
                    q[10] == 10) {
                    d->st = D_FRAME;
                    continue;
                }
            }
            d->st = D_SYNC;
            continue;
        }
        case D_SYNC: {
            size_t k;
            for (k = 0; k < avail; k++) {
                long v = candidate_ok(a, q + k, avail - k);
                if (v < 0) {
                    if (k) {
                        *a->c[C_RESYNC_SKIPPED] += k;
                        d->skipped += k;
                    }
                    return res(PARSE_NEED_MORE, off + k, (size_t)(-v), 0);
                }
                if (v > 0)
                    break;
            }
            *a->c[C_RESYNC_SKIPPED] += k;
            d->skipped += k;
            off += k;
            if (k < avail) {
                (*a->c[C_RESYNC])++;
                skipped_run_end(a, dir, ts);
                d->st = D_FRAME;
            }
            continue;
        }
        case D_FRAME: {
            if (avail < 7)
                return res(PARSE_NEED_MORE, off, 7 - avail, 0);
            uint8_t type = q[0];
            uint16_t ch = (uint16_t)((q[1] << 8) | q[2]);
            uint32_t size =
                ((uint32_t)q[3] << 24) | ((uint32_t)q[4] << 16) | ((uint32_t)q[5] << 8) | q[6];
            if (type != AMQP_FRAME_METHOD && type != AMQP_FRAME_HEADER &&
                type != AMQP_FRAME_BODY && type != AMQP_FRAME_HEARTBEAT)
                return fail(a, dir, AMQP_E_BAD_FRAME_TYPE, C_BAD_FRAME_TYPE, off, 1, ts);
            if (size > payload_limit(a))
                return fail(a, dir, AMQP_E_FRAME_TOO_BIG, C_FRAME_TOO_BIG, off, 1, ts);
            if (type == AMQP_FRAME_BODY) {
                (*a->c[C_FRAMES])++;
                struct chan_asm *c = asm_find(a, dir, ch);
                if (!c || c->st != CA_WANT_BODY) {
                    (*a->c[C_ORPHAN_BODY])++;
                    c = NULL;
                }
                d->cur = c;
                d->cur_chan = ch;
                d->left = size;
                off += 7;
                d->st = size ? D_BODY : D_BODY_END;
                continue;
            }
            size_t total = (size_t)size + 8; /* size <= payload_limit: no wrap */
            if (avail < total)
                return res(PARSE_NEED_MORE, off, total - avail, 0);
            if (q[total - 1] != AMQP_FRAME_END)
                return fail(a, dir, AMQP_E_BAD_FRAME_END, C_BAD_FRAME_END, off, 1, ts);
            (*a->c[C_FRAMES])++;
            if (type == AMQP_FRAME_METHOD)
                on_method(a, dir, ch, q + 7, size, ts);
            else if (type == AMQP_FRAME_HEADER)
                on_header(a, dir, ch, q + 7, size, ts);
            else
                (*a->c[C_HEARTBEATS])++;
            off += total;
            continue;
        }
        case D_BODY: {
            size_t take = avail < d->left ? avail : d->left;
            if (d->cur)
                body_append(a, d->cur, q, take);
            d->left -= (uint32_t)take;
            off += take;
            if (d->left == 0)
                d->st = D_BODY_END;
            continue;
        }
        case D_BODY_END: {
            if (q[0] != AMQP_FRAME_END)
                return fail(a, dir, AMQP_E_BAD_FRAME_END, C_BAD_FRAME_END, off, 1, ts);
            off += 1;
            d->st = D_FRAME;
            struct chan_asm *c = d->cur;
            d->cur = NULL;
            if (c && c->st == CA_WANT_BODY && c->body_got == c->body_size)
                deliver(a, c, ts);
            continue;
        }
        }
    }
    return res(PARSE_OK, off, 0, 0);
}

void amqp_gap(struct amqp *a, int dir, uint64_t len, uint64_t ts)
{
    (void)len;
    dir &= 1;
    (*a->c[C_GAPS])++;
    skipped_run_end(a, dir, ts);
    int n = drop_dir(a, dir);
    if (n) {
        diag(a, C_GAP_DROPPED, ts, "amqp: gap of %llu bytes dropped %d message(s)",
             (unsigned long long)len, n);
    }
    a->d[dir].st = D_SYNC;
    a->d[dir].left = 0;
}

void amqp_end(struct amqp *a, uint64_t ts)
{
    for (int dir = 0; dir < 2; dir++) {
        skipped_run_end(a, dir, ts);
        *a->c[C_END_DROPPED] += (uint64_t)drop_dir(a, dir);
        a->d[dir].st = D_INIT;
        a->d[dir].left = 0;
    }
}
