/* evwire.c -- encoding and decoding of events between sensors and the
 * correlator (evwire.h has the frame grammar).
 *
 * An EVENT record, in order (v1):
 *   kind:u8 flags:varint ts_us seq flow_id
 *   src.addr:str src.port dst.addr:str dst.port
 *   the integers of int_fields[] (varints; signed ones zig-zag)
 *   mask:varint, then each string of str_fields[] whose bit is set
 *   nuuids:varint (id:str res:u8)*
 *   nnames:varint (hash:varint)*
 * Decoding trusts nothing: every length is checked against the end, every
 * enum against its range, counts against the event's caps. */
#include "parsers/evwire.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static const char *const err_names[EVWIRE_E_COUNT] = {
    "ok", "bad_magic", "bad_version", "truncated", "bad_varint", "bad_string", "bad_field",
    "no_memory",
};

const char *evwire_err_name(enum evwire_err e)
{
    return (unsigned)e < EVWIRE_E_COUNT ? err_names[e] : "unknown";
}

/* ---- the field tables: the order is the wire order ---- */

enum ity { I_U64, I_INT, I_U16, I_U32, I_I64 };

static const struct {
    size_t off;
    enum ity t;
} int_fields[] = {
    {offsetof(struct event, status), I_INT},
    {offsetof(struct event, req_seq), I_U64},
    {offsetof(struct event, req_ts_us), I_U64},
    {offsetof(struct event, accept_wait_us), I_U64},
    {offsetof(struct event, body_len), I_U64},
    {offsetof(struct event, verb), I_INT},
    {offsetof(struct event, channel), I_U16},
    {offsetof(struct event, fanout), I_INT},
    {offsetof(struct event, timeout_s), I_INT},
    {offsetof(struct event, expiration_ms), I_I64},
    {offsetof(struct event, ending), I_INT},
    {offsetof(struct event, failure), I_INT},
    {offsetof(struct event, reply_code), I_U16},
    {offsetof(struct event, conn_event), I_INT},
    {offsetof(struct event, quiet_since_us), I_U64},
    {offsetof(struct event, end_how), I_INT},
    {offsetof(struct event, token_fp[0]), I_U64},
    {offsetof(struct event, token_fp[1]), I_U64},
    {offsetof(struct event, subject_fp), I_U64},
};
#define N_INTS (sizeof(int_fields) / sizeof(int_fields[0]))

static const size_t str_fields[] = {
    offsetof(struct event, method),         offsetof(struct event, path),
    offsetof(struct event, query),          offsetof(struct event, reason),
    offsetof(struct event, user_agent),     offsetof(struct event, operation),
    offsetof(struct event, request_id),     offsetof(struct event, global_request_id),
    offsetof(struct event, error_class),    offsetof(struct event, error_module),
    offsetof(struct event, error_message),  offsetof(struct event, traceback),
    offsetof(struct event, exchange),       offsetof(struct event, routing_key),
    offsetof(struct event, topic),          offsetof(struct event, target_server),
    offsetof(struct event, topic_service),  offsetof(struct event, rpc_method),
    offsetof(struct event, rpc_namespace),  offsetof(struct event, rpc_version),
    offsetof(struct event, msg_id),         offsetof(struct event, reply_q),
    offsetof(struct event, unique_id),      offsetof(struct event, publisher_id),
    offsetof(struct event, event_type),     offsetof(struct event, priority),
    offsetof(struct event, ctx_user),       offsetof(struct event, ctx_project),
    offsetof(struct event, reply_text),     offsetof(struct event, resource_state),
    offsetof(struct event, resource_task),  offsetof(struct event, fault_message),
    offsetof(struct event, src.service),    offsetof(struct event, src.host),
    offsetof(struct event, dst.service),    offsetof(struct event, dst.host),
};
#define N_STRS (sizeof(str_fields) / sizeof(str_fields[0]))
_Static_assert(N_STRS <= 64, "the string mask is one varint of 64 bits");

/* ---- writing ---- */

static void reserve(struct evwire_buf *b, size_t more)
{
    if (b->failed)
        return;
    if (b->n + more <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->n + more)
        cap *= 2;
    uint8_t *np = realloc(b->p, cap);
    if (!np) {
        b->failed = 1;
        return;
    }
    b->p = np;
    b->cap = cap;
}

static void put_u8(struct evwire_buf *b, uint8_t v)
{
    reserve(b, 1);
    if (!b->failed)
        b->p[b->n++] = v;
}

static void put_varint(struct evwire_buf *b, uint64_t v)
{
    reserve(b, 10);
    if (b->failed)
        return;
    while (v >= 0x80) {
        b->p[b->n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b->p[b->n++] = (uint8_t)v;
}

static uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static void put_bytes(struct evwire_buf *b, const void *p, size_t n)
{
    reserve(b, n);
    if (!b->failed && n) {
        memcpy(b->p + b->n, p, n);
        b->n += n;
    }
}

static void put_str(struct evwire_buf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n > EVWIRE_MAX_STR)
        n = EVWIRE_MAX_STR;
    put_varint(b, n);
    put_bytes(b, s, n);
}

void evwire_buf_free(struct evwire_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

void evwire_begin(struct evwire_buf *b, const char *sensor, uint64_t run, uint64_t batch)
{
    b->n = 0;
    b->failed = 0;
    put_bytes(b, "OSEV", 4);
    put_u8(b, EVWIRE_VERSION);
    put_u8(b, 0);
    char id[EVWIRE_MAX_SENSOR + 1];
    size_t n = sensor ? strlen(sensor) : 0;
    if (n > EVWIRE_MAX_SENSOR)
        n = EVWIRE_MAX_SENSOR;
    memcpy(id, sensor ? sensor : "", n);
    id[n] = 0;
    put_str(b, id);
    put_varint(b, run);
    put_varint(b, batch);
}

/* A record's length is written after its payload: the payload goes to the
 * end of the buffer, then is moved up by the length's size. */
static size_t rec_start(struct evwire_buf *b, enum evwire_rec type)
{
    put_u8(b, (uint8_t)type);
    return b->n;
}

static void rec_finish(struct evwire_buf *b, size_t start)
{
    if (b->failed)
        return;
    size_t len = b->n - start;
    uint8_t v[10];
    size_t k = 0;
    uint64_t x = len;
    while (x >= 0x80) {
        v[k++] = (uint8_t)(x | 0x80);
        x >>= 7;
    }
    v[k++] = (uint8_t)x;
    reserve(b, k);
    if (b->failed)
        return;
    memmove(b->p + start + k, b->p + start, len);
    memcpy(b->p + start, v, k);
    b->n += k;
}

static uint64_t get_int(const struct event *ev, size_t i)
{
    const char *f = (const char *)ev + int_fields[i].off;
    switch (int_fields[i].t) {
    case I_U64: {
        uint64_t v;
        memcpy(&v, f, sizeof(v));
        return v;
    }
    case I_INT: {
        int v;
        memcpy(&v, f, sizeof(v));
        return zigzag(v);
    }
    case I_U16: {
        uint16_t v;
        memcpy(&v, f, sizeof(v));
        return v;
    }
    case I_U32: {
        uint32_t v;
        memcpy(&v, f, sizeof(v));
        return v;
    }
    case I_I64: {
        int64_t v;
        memcpy(&v, f, sizeof(v));
        return zigzag(v);
    }
    }
    return 0;
}

void evwire_put_event(struct evwire_buf *b, const struct event *ev)
{
    size_t s = rec_start(b, EVWIRE_EVENT);
    put_u8(b, (uint8_t)ev->kind);
    put_varint(b, ev->flags);
    put_varint(b, ev->ts_us);
    put_varint(b, ev->seq);
    put_varint(b, ev->flow_id);
    put_str(b, ev->src.addr);
    put_varint(b, ev->src.port);
    put_str(b, ev->dst.addr);
    put_varint(b, ev->dst.port);
    for (size_t i = 0; i < N_INTS; i++)
        put_varint(b, get_int(ev, i));
    uint64_t mask = 0;
    for (size_t i = 0; i < N_STRS; i++) {
        const char *v;
        memcpy(&v, (const char *)ev + str_fields[i], sizeof(v));
        if (v)
            mask |= 1ull << i;
    }
    put_varint(b, mask);
    for (size_t i = 0; i < N_STRS; i++)
        if (mask & 1ull << i) {
            const char *v;
            memcpy(&v, (const char *)ev + str_fields[i], sizeof(v));
            put_str(b, v);
        }
    put_varint(b, ev->uuids ? ev->nuuids : 0);
    for (size_t i = 0; ev->uuids && i < ev->nuuids; i++) {
        put_str(b, ev->uuids[i].id);
        put_u8(b, ev->uuids[i].res);
    }
    put_varint(b, ev->names ? ev->nnames : 0);
    for (size_t i = 0; ev->names && i < ev->nnames; i++)
        put_varint(b, ev->names[i]);
    rec_finish(b, s);
}

void evwire_put_mark(struct evwire_buf *b, enum evwire_rec type, uint64_t clock_us,
                     const char *const *names, const uint64_t *values, size_t n)
{
    if (n > EVWIRE_MAX_COUNTERS)
        n = EVWIRE_MAX_COUNTERS;
    size_t s = rec_start(b, type);
    put_varint(b, clock_us);
    put_varint(b, n);
    for (size_t i = 0; i < n; i++) {
        put_str(b, names[i]);
        put_varint(b, values[i]);
    }
    rec_finish(b, s);
}

/* ---- reading ---- */

struct cur {
    const uint8_t *p, *end;
    enum evwire_err err;
};

static int get_u8(struct cur *c, uint8_t *v)
{
    if (c->p >= c->end) {
        c->err = EVWIRE_E_TRUNCATED;
        return -1;
    }
    *v = *c->p++;
    return 0;
}

static int get_varint(struct cur *c, uint64_t *v)
{
    uint64_t x = 0;
    for (int i = 0; i < 10; i++) {
        if (c->p >= c->end) {
            c->err = EVWIRE_E_TRUNCATED;
            return -1;
        }
        uint8_t b = *c->p++;
        if (i == 9 && b > 1) {
            c->err = EVWIRE_E_VARINT;
            return -1;
        }
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    c->err = EVWIRE_E_VARINT;
    return -1;
}

/* A string [*s, *s + *n) inside the cursor's bytes. */
static int get_str(struct cur *c, const char **s, size_t *n)
{
    uint64_t len;
    if (get_varint(c, &len) < 0)
        return -1;
    if (len > EVWIRE_MAX_STR) {
        c->err = EVWIRE_E_STRING;
        return -1;
    }
    if (len > (uint64_t)(c->end - c->p)) {
        c->err = EVWIRE_E_TRUNCATED;
        return -1;
    }
    if (len && memchr(c->p, 0, len)) {
        c->err = EVWIRE_E_STRING;
        return -1;
    }
    *s = (const char *)c->p;
    *n = len;
    c->p += len;
    return 0;
}

enum evwire_err evwire_open(struct evwire_reader *r, const uint8_t *p, size_t n)
{
    memset(r, 0, sizeof(*r));
    if (n > EVWIRE_MAX_FRAME)
        return EVWIRE_E_FIELD;
    if (n < 6 || memcmp(p, "OSEV", 4) != 0)
        return EVWIRE_E_MAGIC;
    if (p[4] != EVWIRE_VERSION)
        return EVWIRE_E_VERSION;
    struct cur c = {p + 6, p + n, EVWIRE_OK};
    const char *s;
    size_t sn;
    if (get_str(&c, &s, &sn) < 0)
        return c.err;
    if (sn > EVWIRE_MAX_SENSOR)
        return EVWIRE_E_STRING;
    memcpy(r->sensor, s, sn);
    r->sensor[sn] = 0;
    if (get_varint(&c, &r->run) < 0 || get_varint(&c, &r->batch) < 0)
        return c.err;
    r->version = p[4];
    r->p = c.p;
    r->end = c.end;
    return EVWIRE_OK;
}

static int set_int(struct event *ev, size_t i, uint64_t v)
{
    char *f = (char *)ev + int_fields[i].off;
    switch (int_fields[i].t) {
    case I_U64:
        memcpy(f, &v, sizeof(v));
        return 0;
    case I_INT: {
        int64_t s = unzigzag(v);
        if (s < INT32_MIN || s > INT32_MAX)
            return -1;
        int x = (int)s;
        memcpy(f, &x, sizeof(x));
        return 0;
    }
    case I_U16: {
        if (v > UINT16_MAX)
            return -1;
        uint16_t x = (uint16_t)v;
        memcpy(f, &x, sizeof(x));
        return 0;
    }
    case I_U32: {
        if (v > UINT32_MAX)
            return -1;
        uint32_t x = (uint32_t)v;
        memcpy(f, &x, sizeof(x));
        return 0;
    }
    case I_I64: {
        int64_t x = unzigzag(v);
        memcpy(f, &x, sizeof(x));
        return 0;
    }
    }
    return -1;
}

static int get_addr(struct cur *c, struct ev_peer *pe)
{
    const char *s;
    size_t n;
    uint64_t port;
    if (get_str(c, &s, &n) < 0)
        return -1;
    if (n >= sizeof(pe->addr)) {
        c->err = EVWIRE_E_STRING;
        return -1;
    }
    memcpy(pe->addr, s, n);
    pe->addr[n] = 0;
    if (get_varint(c, &port) < 0)
        return -1;
    if (port > UINT16_MAX) {
        c->err = EVWIRE_E_FIELD;
        return -1;
    }
    pe->port = (uint16_t)port;
    return 0;
}

/* The body of an EVENT record [c->p, c->end) into a new event. */
static struct event *get_event(struct cur *c, struct mem_pool *pool)
{
    uint8_t kind;
    uint64_t v;
    if (get_u8(c, &kind) < 0)
        return NULL;
    if (kind >= EV_KIND_COUNT) {
        c->err = EVWIRE_E_FIELD;
        return NULL;
    }
    struct event *ev = event_new(pool);
    if (!ev) {
        c->err = EVWIRE_E_MEMORY;
        return NULL;
    }
    ev->kind = (enum ev_kind)kind;
    if (get_varint(c, &v) < 0)
        goto bad;
    if (v > UINT32_MAX) {
        c->err = EVWIRE_E_FIELD;
        goto bad;
    }
    ev->flags = (uint32_t)v;
    if (get_varint(c, &ev->ts_us) < 0 || get_varint(c, &ev->seq) < 0 ||
        get_varint(c, &ev->flow_id) < 0 || get_addr(c, &ev->src) < 0 || get_addr(c, &ev->dst) < 0)
        goto bad;
    for (size_t i = 0; i < N_INTS; i++) {
        if (get_varint(c, &v) < 0)
            goto bad;
        if (set_int(ev, i, v) < 0) {
            c->err = EVWIRE_E_FIELD;
            goto bad;
        }
    }
    if ((unsigned)ev->verb > EV_VERB_GET || (unsigned)ev->end_how >= EV_END_COUNT) {
        c->err = EVWIRE_E_FIELD;
        goto bad;
    }
    uint64_t mask;
    if (get_varint(c, &mask) < 0)
        goto bad;
    if (N_STRS < 64 && mask >> N_STRS) {
        c->err = EVWIRE_E_FIELD; /* a string this version does not know */
        goto bad;
    }
    for (size_t i = 0; i < N_STRS; i++) {
        if (!(mask & 1ull << i))
            continue;
        const char *s;
        size_t n;
        if (get_str(c, &s, &n) < 0)
            goto bad;
        char *d = event_str(ev, s, n);
        if (!d) {
            c->err = EVWIRE_E_MEMORY;
            goto bad;
        }
        memcpy((char *)ev + str_fields[i], &d, sizeof(d));
    }
    uint64_t nu;
    if (get_varint(c, &nu) < 0)
        goto bad;
    if (nu > EV_MAX_UUIDS) {
        c->err = EVWIRE_E_FIELD;
        goto bad;
    }
    for (uint64_t i = 0; i < nu; i++) {
        const char *s;
        size_t n;
        uint8_t res;
        if (get_str(c, &s, &n) < 0 || get_u8(c, &res) < 0)
            goto bad;
        if (n == 0 || n > 36 || res >= EV_RES_COUNT) {
            c->err = EVWIRE_E_FIELD;
            goto bad;
        }
        if (event_add_uuid(ev, s, n, (enum ev_res)res) < 0 && ev->nuuids < EV_MAX_UUIDS) {
            c->err = EVWIRE_E_MEMORY;
            goto bad;
        }
    }
    uint64_t nn;
    if (get_varint(c, &nn) < 0)
        goto bad;
    if (nn > EV_MAX_NAMES) {
        c->err = EVWIRE_E_FIELD;
        goto bad;
    }
    if (nn) {
        ev->names = arena_alloc(&ev->arena, (size_t)nn * sizeof(*ev->names));
        if (!ev->names) {
            c->err = EVWIRE_E_MEMORY;
            goto bad;
        }
        for (uint64_t i = 0; i < nn; i++) {
            if (get_varint(c, &v) < 0)
                goto bad;
            if (v > UINT32_MAX) {
                c->err = EVWIRE_E_FIELD;
                goto bad;
            }
            ev->names[i] = (uint32_t)v;
        }
        ev->nnames = (size_t)nn;
    }
    return ev; /* bytes past the known fields: a newer writer's, ignored */
bad:
    event_free(ev);
    return NULL;
}

static int get_mark(struct cur *c, struct evwire_rec_out *out)
{
    uint64_t n;
    if (get_varint(c, &out->clock_us) < 0 || get_varint(c, &n) < 0)
        return -1;
    if (n > EVWIRE_MAX_COUNTERS) {
        c->err = EVWIRE_E_FIELD;
        return -1;
    }
    for (uint64_t i = 0; i < n; i++) {
        if (get_str(c, &out->counters[i].name, &out->counters[i].name_len) < 0 ||
            get_varint(c, &out->counters[i].value) < 0)
            return -1;
    }
    out->ncounters = (size_t)n;
    return 0;
}

int evwire_next(struct evwire_reader *r, struct mem_pool *pool, struct evwire_rec_out *out,
                enum evwire_err *err)
{
    *err = EVWIRE_OK;
    for (;;) {
        if (!r->p || r->p >= r->end)
            return 0;
        struct cur c = {r->p, r->end, EVWIRE_OK};
        uint8_t type;
        uint64_t len;
        if (get_u8(&c, &type) < 0 || get_varint(&c, &len) < 0)
            goto bad;
        if (len > (uint64_t)(c.end - c.p)) {
            c.err = EVWIRE_E_TRUNCATED;
            goto bad;
        }
        struct cur body = {c.p, c.p + len, EVWIRE_OK};
        r->p = c.p + len;
        memset(out, 0, offsetof(struct evwire_rec_out, counters));
        out->type = (enum evwire_rec)type;
        switch (type) {
        case EVWIRE_EVENT:
            out->ev = get_event(&body, pool);
            if (!out->ev) {
                *err = body.err;
                if (body.err == EVWIRE_E_MEMORY)
                    return -1; /* the frame is fine: the next records may go */
                r->p = r->end;
                return -1;
            }
            return 1;
        case EVWIRE_MARK:
        case EVWIRE_END:
            if (get_mark(&body, out) < 0) {
                *err = body.err;
                r->p = r->end;
                return -1;
            }
            return 1;
        default:
            continue; /* a newer writer's record */
        }
    bad:
        *err = c.err;
        r->p = r->end;
        return -1;
    }
}
