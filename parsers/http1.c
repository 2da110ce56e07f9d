/* http1.c -- HTTP/1.1 message framing (RFC 9112 §2-§7; RFC 9110 §8.4
 * content codings), push-style per parsers/parse.h. See http1.h.
 *
 *   start-line CRLF *( field-name ":" OWS field-value OWS CRLF ) CRLF [ body ]
 *   chunked body: 1*HEXDIG [ ";" ext ] CRLF data CRLF ... "0" CRLF *trailer CRLF
 *
 * The head is not consumed until its blank line is there: the caller
 * re-feeds it with more bytes appended and only the new bytes are scanned
 * for the terminator (scanned). Once complete it is copied into the
 * direction's own buffer, because the sink runs only after the body, when
 * the caller has long discarded those bytes. Bodies are consumed as they
 * arrive; up to max_body_keep bytes are copied. */
#include "parsers/http1.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "capture/str.h"

enum dstate {
    S_START = 0,  /* before a message: skip stray CRLF */
    S_HEAD,       /* waiting for the blank line */
    S_BODY_CL,    /* Content-Length body, remaining bytes */
    S_CHUNK_SIZE, /* chunk-size line */
    S_CHUNK_DATA, /* chunk data, remaining bytes */
    S_CHUNK_CRLF, /* CRLF after chunk data */
    S_TRAILERS,   /* trailer lines up to the empty line */
    S_BODY_CLOSE, /* body until the connection closes */
    S_RESYNC,     /* looking for the next start line */
    S_TUNNEL,     /* after 101 / CONNECT: not HTTP any more */
};

enum coding { COD_NONE = 0, COD_GZIP, COD_DEFLATE, COD_OTHER };

/* counters, looked up once */
enum {
    C_REQUESTS = 0,
    C_RESPONSES,
    C_INTERIM,
    C_LINE_TOO_LONG,
    C_HEADER_BLOCK,
    C_TOO_MANY_HEADERS,
    C_CHUNK_SIZE,
    C_BAD_CHUNK,
    C_BAD_START_LINE,
    C_BAD_HEADER,
    C_BAD_LENGTH,
    C_NOMEM,
    C_BAD_HEADER_LINE,
    C_OBS_FOLD,
    C_BODY_TRUNC,
    C_INFLATED,
    C_INFLATE_FAILED,
    C_INFLATE_CAPPED,
    C_RESYNCS,
    C_RESYNC_SKIPPED,
    C_GAPS,
    C_INCOMPLETE,
    C_PENDING_OVERFLOW,
    C_NO_REQUEST,
    C_UNANSWERED,
    C_TUNNEL,
    C_COUNT
};

static const char *const counter_names[C_COUNT] = {
    "http.requests",           "http.responses",          "http.interim_responses",
    "http.line_too_long",      "http.header_block_too_big", "http.too_many_headers",
    "http.chunk_size_too_big", "http.bad_chunk",          "http.bad_start_line",
    "http.bad_header",         "http.bad_content_length", "http.nomem",
    "http.bad_header_line",    "http.obs_fold",           "http.body_truncated",
    "http.inflated",           "http.inflate_failed",     "http.inflate_capped",
    "http.resyncs",            "http.resync_skipped_bytes", "http.gaps",
    "http.incomplete",         "http.pending_overflow",   "http.no_request",
    "http.unanswered",         "http.tunnel",
};

struct pending {
    uint64_t ordinal;
    uint8_t is_head;
    uint8_t is_connect;
};

/* Requests awaiting their response held in the parser itself; a client
 * that pipelines more gets a ring of cfg.max_pending. */
#define PEND_INLINE 4

struct dirstate {
    enum dstate state;
    int at_line_start; /* resync: offset 0 of the next feed starts a line */
    size_t scanned;    /* head: bytes already scanned for the terminator */
    size_t first_nl;   /* head: offset+1 of the start line's LF, 0 = not seen */
    size_t trailer_bytes;

    /* message in flight */
    int head_done;
    uint8_t *head;
    size_t head_cap;
    struct http1_header *hdrs; /* grown on demand up to cfg.max_headers */
    size_t nhdrs, hdrs_cap;
    struct http1_msg m;
    int coding;
    int keep;
    uint8_t *body;
    size_t body_cap, body_n;
    uint64_t remaining;
};

struct http1 {
    struct http1_cfg cfg;
    struct mem_pool *pool;
    struct stats *st;
    http1_msg_fn fn;
    void *ctx;
    struct dirstate d[2];
    struct pending *pend; /* ring of pend_cap: pend0, or cfg.max_pending on the heap */
    size_t pend_head, pend_n, pend_cap;
    struct pending pend0[PEND_INLINE];
    uint64_t next_ordinal;
    uint8_t *infl;
    size_t infl_cap;
    uint64_t *const *c; /* the stats' table of counters (stats_counters_table), or own */
    uint64_t **own;     /* else C_COUNT pointers, then the counts when st is NULL */
};


void http1_defaults(struct http1_cfg *cfg)
{
    cfg->max_line = 8192;
    cfg->max_header_block = 65536;
    cfg->max_headers = 128;
    cfg->max_chunk_digits = 16;
    cfg->max_chunk_line = 4096;
    cfg->max_body_keep = 256 * 1024;
    cfg->max_inflated = 1024 * 1024;
    cfg->max_pending = 64;
    cfg->keep_binary = 0;
}

const char *http1_err_name(int err)
{
    switch (err) {
    case HTTP1_E_NONE:
        return "none";
    case HTTP1_E_LINE_TOO_LONG:
        return "line_too_long";
    case HTTP1_E_HEADER_BLOCK:
        return "header_block_too_big";
    case HTTP1_E_TOO_MANY_HEADERS:
        return "too_many_headers";
    case HTTP1_E_CHUNK_SIZE:
        return "chunk_size_too_big";
    case HTTP1_E_BAD_CHUNK:
        return "bad_chunk";
    case HTTP1_E_BAD_START_LINE:
        return "bad_start_line";
    case HTTP1_E_BAD_HEADER:
        return "bad_header";
    case HTTP1_E_BAD_LENGTH:
        return "bad_content_length";
    case HTTP1_E_NOMEM:
        return "nomem";
    default:
        return "unknown";
    }
}

struct http1 *http1_new(const struct http1_cfg *cfg, struct mem_pool *pool, struct stats *st,
                        http1_msg_fn fn, void *ctx)
{
    struct http1 *h = mem_calloc(pool, sizeof(*h));
    if (!h)
        return NULL;
    if (cfg)
        h->cfg = *cfg;
    else
        http1_defaults(&h->cfg);
    if (h->cfg.max_pending == 0)
        h->cfg.max_pending = 1;
    if (h->cfg.max_headers == 0)
        h->cfg.max_headers = 1;
    h->pool = pool;
    h->st = st;
    h->fn = fn;
    h->ctx = ctx;
    h->next_ordinal = 1;
    h->c = stats_counters_own(st, counter_names, C_COUNT, pool, &h->own);
    if (!h->c) {
        mem_free(pool, h, sizeof(*h));
        return NULL;
    }
    h->pend = h->pend0;
    h->pend_cap = h->cfg.max_pending < PEND_INLINE ? h->cfg.max_pending : PEND_INLINE;
    return h;
}

void http1_free(struct http1 *h)
{
    if (!h)
        return;
    for (int i = 0; i < 2; i++) {
        struct dirstate *d = &h->d[i];
        mem_free(h->pool, d->head, d->head_cap);
        mem_free(h->pool, d->body, d->body_cap);
        mem_free(h->pool, d->hdrs, d->hdrs_cap * sizeof(struct http1_header));
    }
    mem_free(h->pool, h->infl, h->infl_cap);
    if (h->pend != h->pend0)
        mem_free(h->pool, h->pend, h->pend_cap * sizeof(*h->pend));
    mem_free(h->pool, h->own, STATS_OWN_BYTES(C_COUNT));
    mem_free(h->pool, h, sizeof(*h));
}

/* ---- small helpers ---- */

static void diag(struct http1 *h, int ci, uint64_t ts, const char *msg, uint64_t val,
                 uint64_t limit)
{
    if (h->st)
        stats_diag(h->st, counter_names[ci], ts, "http: %s %llu > limit %llu", msg,
                   (unsigned long long)val, (unsigned long long)limit);
    else
        (*h->c[ci])++;
}

static void diag_plain(struct http1 *h, int ci, uint64_t ts, const char *msg)
{
    if (h->st)
        stats_diag(h->st, counter_names[ci], ts, "http: %s", msg);
    else
        (*h->c[ci])++;
}

/* RFC 9110 tchar: ALPHA, DIGIT and !#$%&'*+-.^_`|~ */
static const uint8_t tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
};

static inline int is_tchar(uint8_t c)
{
    return tchar[c];
}

static int is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}


static const uint8_t *find_lf(const uint8_t *p, size_t n)
{
    return memchr(p, '\n', n);
}

/* Length of the line content [p, lf) without a trailing CR. */
static size_t line_len(const uint8_t *p, const uint8_t *lf)
{
    size_t n = (size_t)(lf - p);
    if (n && p[n - 1] == '\r')
        n--;
    return n;
}

static struct span trim(const uint8_t *p, size_t n)
{
    while (n && (*p == ' ' || *p == '\t')) {
        p++;
        n--;
    }
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    struct span s = {p, n};
    return s;
}

/* Case-insensitive: does the span contain the token lit as a
 * comma-separated element? last: only as the final element. */
static int list_has(struct span v, const char *lit, int last)
{
    size_t i = 0;
    int found = 0;
    while (i <= v.n) {
        size_t j = i;
        while (j < v.n && v.p[j] != ',')
            j++;
        struct span t = trim(v.p + i, j - i);
        /* drop parameters (";q=...") */
        for (size_t k = 0; k < t.n; k++)
            if (t.p[k] == ';') {
                t = trim(t.p, k);
                break;
            }
        if (t.n) {
            found = span_ieq(t.p, t.n, lit);
            if (found && !last)
                return 1;
        }
        i = j + 1;
    }
    return found;
}

const struct http1_header *http1_header(const struct http1_msg *m, const char *name)
{
    size_t ln = strlen(name); /* lengths first: most names differ there */
    for (size_t i = 0; i < m->nheaders; i++)
        if (m->headers[i].name.n == ln && span_ieq(m->headers[i].name.p, ln, name))
            return &m->headers[i];
    return NULL;
}

/* ---- pending requests (pairing) ---- */

static void pend_push(struct http1 *h, uint64_t ordinal, int is_head, int is_connect,
                      uint64_t ts)
{
    if (h->pend_n == h->pend_cap && h->pend_cap < h->cfg.max_pending) {
        /* past the ring in place: the whole ring, oldest first; without
         * the memory, the place of the oldest is given up below */
        struct pending *np = mem_alloc(h->pool, h->cfg.max_pending * sizeof(*np));
        if (np) {
            for (size_t i = 0; i < h->pend_n; i++)
                np[i] = h->pend[(h->pend_head + i) % h->pend_cap];
            if (h->pend != h->pend0)
                mem_free(h->pool, h->pend, h->pend_cap * sizeof(*h->pend));
            h->pend = np;
            h->pend_cap = h->cfg.max_pending;
            h->pend_head = 0;
        } else {
            (*h->c[C_NOMEM])++;
        }
    }
    if (h->pend_n == h->pend_cap) {
        /* the oldest unanswered request gives up its place */
        diag(h, C_PENDING_OVERFLOW, ts, "pipelined requests without a response",
             (uint64_t)h->pend_n + 1, h->cfg.max_pending);
        h->pend_head = (h->pend_head + 1) % h->pend_cap;
        h->pend_n--;
    }
    struct pending *e = &h->pend[(h->pend_head + h->pend_n) % h->pend_cap];
    e->ordinal = ordinal;
    e->is_head = (uint8_t)is_head;
    e->is_connect = (uint8_t)is_connect;
    h->pend_n++;
}

static int pend_pop(struct http1 *h, struct pending *out)
{
    if (!h->pend_n)
        return 0;
    *out = h->pend[h->pend_head];
    h->pend_head = (h->pend_head + 1) % h->pend_cap;
    h->pend_n--;
    return 1;
}

/* ---- body keeping and inflation ---- */

static void keep_bytes(struct http1 *h, struct dirstate *d, const uint8_t *p, size_t n)
{
    d->m.body_len += n;
    if (!d->keep || n == 0)
        return;
    size_t room = h->cfg.max_body_keep - d->body_n;
    if (n > room) {
        d->m.flags |= HTTP1_F_BODY_TRUNC;
        n = room;
    }
    if (n == 0)
        return;
    if (d->body_n + n > d->body_cap) {
        size_t ncap = d->body_cap ? d->body_cap : 1024;
        while (ncap < d->body_n + n)
            ncap *= 2;
        if (ncap > h->cfg.max_body_keep)
            ncap = h->cfg.max_body_keep;
        uint8_t *nb = mem_realloc(h->pool, d->body, d->body_cap, ncap);
        if (!nb) {
            (*h->c[C_NOMEM])++;
            d->keep = 0;
            d->m.flags |= HTTP1_F_BODY_TRUNC;
            return;
        }
        d->body = nb;
        d->body_cap = ncap;
    }
    memcpy(d->body + d->body_n, p, n);
    d->body_n += n;
}

/* zlib allocations are charged to the pool: a size header before each. */
static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    struct mem_pool *pool = opaque;
    size_t n = (size_t)items * size;
    if (size && n / size != items)
        return NULL;
    size_t *p = mem_alloc(pool, n + sizeof(size_t) * 2);
    if (!p)
        return NULL;
    p[0] = n + sizeof(size_t) * 2;
    return p + 2;
}

static void z_free(voidpf opaque, voidpf addr)
{
    if (!addr)
        return;
    size_t *p = (size_t *)addr - 2;
    mem_free(opaque, p, p[0]);
}

/* Inflate src into h->infl (capped). Returns bytes produced, or -1 when the
 * data is not valid for the wbits given (nothing usable produced). */
static long inflate_try(struct http1 *h, const uint8_t *src, size_t n, int wbits, int *capped)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    zs.zalloc = z_alloc;
    zs.zfree = z_free;
    zs.opaque = h->pool;
    if (inflateInit2(&zs, wbits) != Z_OK)
        return -1;
    size_t out = 0;
    int rc = Z_OK;
    zs.next_in = (Bytef *)(uintptr_t)src;
    size_t in_left = n;
    *capped = 0;
    while (rc == Z_OK) {
        if (out == h->infl_cap) {
            if (h->infl_cap >= h->cfg.max_inflated) {
                *capped = 1;
                break;
            }
            size_t ncap = h->infl_cap ? h->infl_cap * 2 : 16384;
            if (ncap > h->cfg.max_inflated)
                ncap = h->cfg.max_inflated;
            uint8_t *nb = mem_realloc(h->pool, h->infl, h->infl_cap, ncap);
            if (!nb) {
                (*h->c[C_NOMEM])++;
                *capped = 1;
                break;
            }
            h->infl = nb;
            h->infl_cap = ncap;
        }
        uInt in_chunk = in_left > (1u << 30) ? (1u << 30) : (uInt)in_left;
        zs.avail_in = in_chunk;
        zs.next_out = h->infl + out;
        size_t room = h->infl_cap - out;
        zs.avail_out = room > (1u << 30) ? (1u << 30) : (uInt)room;
        uInt before_out = zs.avail_out;
        rc = inflate(&zs, Z_NO_FLUSH);
        out += before_out - zs.avail_out;
        in_left -= in_chunk - zs.avail_in;
        if (rc == Z_BUF_ERROR && in_left == 0)
            break; /* truncated input: keep what came out */
        if (rc == Z_BUF_ERROR && zs.avail_out == 0)
            rc = Z_OK;
    }
    inflateEnd(&zs);
    if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT || rc == Z_MEM_ERROR || rc == Z_STREAM_ERROR)
        return out ? (long)out : -1;
    return (long)out;
}

/* ---- emitting ---- */

static void reset_msg(struct http1 *h, struct dirstate *d)
{
    d->head_done = 0;
    d->nhdrs = 0;
    d->body_n = 0;
    d->remaining = 0;
    d->trailer_bytes = 0;
    d->coding = COD_NONE;
    d->keep = 0;
    memset(&d->m, 0, sizeof(d->m));
    /* between messages a connection holds no buffer: thousands of idle
     * keep-alive connections cost only their state */
    mem_free(h->pool, d->body, d->body_cap);
    d->body = NULL;
    d->body_cap = 0;
    mem_free(h->pool, d->head, d->head_cap);
    d->head = NULL;
    d->head_cap = 0;
    mem_free(h->pool, d->hdrs, d->hdrs_cap * sizeof(struct http1_header));
    d->hdrs = NULL;
    d->hdrs_cap = 0;
}

static void emit(struct http1 *h, int dir, uint64_t ts, uint32_t extra_flags)
{
    struct dirstate *d = &h->d[dir];
    struct http1_msg *m = &d->m;
    m->flags |= extra_flags;
    m->ts_us = ts;
    m->headers = d->hdrs;
    m->nheaders = d->nhdrs;
    m->body.p = d->body;
    m->body.n = d->body_n;
    if (d->coding == COD_OTHER && d->body_n)
        m->flags |= HTTP1_F_BAD_CODING;
    if ((d->coding == COD_GZIP || d->coding == COD_DEFLATE) && d->body_n) {
        int capped = 0;
        long got;
        if (d->coding == COD_GZIP)
            got = inflate_try(h, d->body, d->body_n, 16 + MAX_WBITS, &capped);
        else {
            got = inflate_try(h, d->body, d->body_n, MAX_WBITS, &capped);
            if (got < 0) /* raw deflate, as some servers send it */
                got = inflate_try(h, d->body, d->body_n, -MAX_WBITS, &capped);
        }
        if (got < 0) {
            char msg[96];
            snprintf(msg, sizeof(msg), "compressed body of %zu bytes does not inflate",
                     d->body_n);
            diag_plain(h, C_INFLATE_FAILED, ts, msg);
            m->flags |= HTTP1_F_BAD_CODING;
            m->body.p = NULL;
            m->body.n = 0;
        } else {
            (*h->c[C_INFLATED])++;
            m->flags |= HTTP1_F_COMPRESSED;
            if (capped) {
                /* a decompression bomb or just a big body: the rest unread */
                char msg[96];
                snprintf(msg, sizeof(msg), "inflated body cut at the limit of %zu bytes",
                         h->cfg.max_inflated);
                diag_plain(h, C_INFLATE_CAPPED, ts, msg);
                m->flags |= HTTP1_F_BODY_TRUNC;
            }
            m->body.p = h->infl;
            m->body.n = (size_t)got;
        }
    }
    if (m->flags & HTTP1_F_BODY_TRUNC)
        (*h->c[C_BODY_TRUNC])++;
    if (m->flags & HTTP1_F_INCOMPLETE)
        (*h->c[C_INCOMPLETE])++;
    if (m->flags & HTTP1_F_INTERIM)
        (*h->c[C_INTERIM])++;
    else
        (*h->c[dir == HTTP1_DIR_REQUEST ? C_REQUESTS : C_RESPONSES])++;
    if (h->fn)
        h->fn(h->ctx, m);
    mem_free(h->pool, h->infl, h->infl_cap);
    h->infl = NULL;
    h->infl_cap = 0;
    reset_msg(h, d);
}

/* ---- start lines ---- */

/* Request line: method SP target SP HTTP/d.d */
static int parse_request_line(struct http1_msg *m, const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n && is_tchar(p[i]))
        i++;
    if (i == 0 || i > 32 || i >= n || p[i] != ' ')
        return -1;
    m->method.p = p;
    m->method.n = i;
    size_t t = ++i;
    while (i < n && p[i] > ' ' && p[i] < 0x7f)
        i++;
    if (i == t || i >= n || p[i] != ' ')
        return -1;
    m->target.p = p + t;
    m->target.n = i - t;
    i++;
    if (n - i != 8 || memcmp(p + i, "HTTP/", 5) != 0 || !is_digit(p[i + 5]) || p[i + 6] != '.' ||
        !is_digit(p[i + 7]))
        return -1;
    m->version.p = p + i;
    m->version.n = 8;
    return 0;
}

/* Status line: HTTP/d.d SP 3DIGIT [SP reason] */
static int parse_status_line(struct http1_msg *m, const uint8_t *p, size_t n)
{
    if (n < 12 || memcmp(p, "HTTP/", 5) != 0 || !is_digit(p[5]) || p[6] != '.' ||
        !is_digit(p[7]) || p[8] != ' ' || !is_digit(p[9]) || !is_digit(p[10]) ||
        !is_digit(p[11]))
        return -1;
    if (n > 12 && p[12] != ' ')
        return -1;
    m->version.p = p;
    m->version.n = 8;
    m->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    m->reason = n > 13 ? trim(p + 13, n - 13) : (struct span){p + n, 0};
    return 0;
}

/* Can [p, p+n) be the beginning of a start line of dir, judging by its
 * first bytes only (method token then SP, or "HTTP/1.")? 1 yes, 0 no,
 * -1 too short to tell. */
static int start_prefix(int dir, const uint8_t *p, size_t n)
{
    if (dir == HTTP1_DIR_REQUEST) {
        size_t i = 0;
        while (i < n && i <= 32 && p[i] >= 'A' && p[i] <= 'Z')
            i++;
        if (i == n)
            return i <= 32 ? -1 : 0;
        return i > 0 && p[i] == ' ';
    }
    static const char pfx[] = "HTTP/1.";
    size_t k = n < 7 ? n : 7;
    if (memcmp(p, pfx, k) != 0)
        return 0;
    return n < 7 ? -1 : 1;
}

/* Could [p, p+n) begin a start line of dir? 1 yes (whole line checked),
 * 0 no, -1 cannot tell yet (more bytes needed). */
static int looks_like_start(const struct http1 *h, int dir, const uint8_t *p, size_t n)
{
    struct http1_msg m;
    int pre = start_prefix(dir, p, n);
    if (pre <= 0)
        return pre;
    size_t lim = n < h->cfg.max_line ? n : h->cfg.max_line;
    const uint8_t *lf = find_lf(p, lim);
    if (!lf)
        return n < h->cfg.max_line ? -1 : 0;
    size_t ln = line_len(p, lf);
    memset(&m, 0, sizeof(m));
    if (dir == HTTP1_DIR_REQUEST)
        return parse_request_line(&m, p, ln) == 0;
    return parse_status_line(&m, p, ln) == 0;
}

/* ---- head ---- */

/* Parse the copied head [d->head, +len): start line and fields. Returns an
 * http1_err (0 ok). */
static int parse_head(struct http1 *h, struct dirstate *d, int dir, size_t len, uint64_t ts)
{
    const uint8_t *p = d->head, *end = d->head + len;
    const uint8_t *lf = find_lf(p, len);
    if (!lf)
        return HTTP1_E_BAD_START_LINE;
    size_t ln = line_len(p, lf);
    int rc = dir == HTTP1_DIR_REQUEST ? parse_request_line(&d->m, p, ln)
                                      : parse_status_line(&d->m, p, ln);
    if (rc < 0)
        return HTTP1_E_BAD_START_LINE;
    d->nhdrs = 0;
    p = lf + 1;
    while (p < end) {
        lf = find_lf(p, (size_t)(end - p));
        if (!lf)
            break;
        ln = line_len(p, lf);
        if (ln == 0)
            break; /* the blank line */
        if (p[0] == ' ' || p[0] == '\t') {
            (*h->c[C_OBS_FOLD])++; /* obsolete line folding: ignored */
            p = lf + 1;
            continue;
        }
        size_t i = 0;
        while (i < ln && is_tchar(p[i]))
            i++;
        if (i == 0 || i >= ln || p[i] != ':') {
            (*h->c[C_BAD_HEADER_LINE])++;
            p = lf + 1;
            continue;
        }
        if (d->nhdrs == h->cfg.max_headers) {
            diag(h, C_TOO_MANY_HEADERS, ts, "header count", (uint64_t)d->nhdrs + 1,
                 h->cfg.max_headers);
            return HTTP1_E_TOO_MANY_HEADERS;
        }
        if (d->nhdrs == d->hdrs_cap) {
            size_t ncap = d->hdrs_cap ? d->hdrs_cap * 2 : 16;
            if (ncap > h->cfg.max_headers)
                ncap = h->cfg.max_headers;
            struct http1_header *nh =
                mem_realloc(h->pool, d->hdrs, d->hdrs_cap * sizeof(*nh), ncap * sizeof(*nh));
            if (!nh) {
                (*h->c[C_NOMEM])++;
                return HTTP1_E_NOMEM;
            }
            d->hdrs = nh;
            d->hdrs_cap = ncap;
        }
        struct http1_header *hd = &d->hdrs[d->nhdrs++];
        hd->name.p = p;
        hd->name.n = i;
        hd->value = trim(p + i + 1, ln - i - 1);
        p = lf + 1;
    }
    return 0;
}

/* Content-Length: every value equal, digits only. -1 absent, -2 bad. */
static int64_t content_length(const struct dirstate *d)
{
    int64_t cl = -1;
    for (size_t i = 0; i < d->nhdrs; i++) {
        const struct http1_header *hd = &d->hdrs[i];
        if (hd->name.n != 14 || !span_ieq(hd->name.p, 14, "content-length"))
            continue;
        /* a list "5, 5" is allowed when all equal (RFC 9110 §8.6) */
        size_t k = 0;
        while (k < hd->value.n) {
            while (k < hd->value.n && (hd->value.p[k] == ' ' || hd->value.p[k] == ','))
                k++;
            if (k >= hd->value.n)
                break;
            int64_t v = 0;
            size_t digits = 0;
            while (k < hd->value.n && is_digit(hd->value.p[k])) {
                if (v > (INT64_MAX - 9) / 10)
                    return -2; /* would overflow */
                v = v * 10 + (hd->value.p[k] - '0');
                k++;
                digits++;
            }
            if (!digits || (k < hd->value.n && hd->value.p[k] != ',' && hd->value.p[k] != ' '))
                return -2;
            if (cl >= 0 && cl != v)
                return -2;
            cl = v;
        }
        if (cl < 0)
            return -2;
    }
    return cl;
}

static int header_is(const struct dirstate *d, const char *name, struct span *val)
{
    size_t ln = strlen(name);
    for (size_t i = 0; i < d->nhdrs; i++)
        if (d->hdrs[i].name.n == ln && span_ieq(d->hdrs[i].name.p, ln, name)) {
            *val = d->hdrs[i].value;
            return 1;
        }
    return 0;
}

static int span_iprefix(struct span s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n >= n && span_ieq(s.p, n, lit);
}

/* After the head: set up framing for the body. Returns an http1_err. */
static int start_body(struct http1 *h, int dir, uint64_t ts)
{
    struct dirstate *d = &h->d[dir];
    struct span v;
    struct http1_msg *m = &d->m;
    int chunked = 0, has_te = 0;
    m->dir = dir;
    m->start_ts_us = ts;
    if (header_is(d, "transfer-encoding", &v)) {
        has_te = 1;
        chunked = list_has(v, "chunked", 1);
    }
    int64_t cl = content_length(d);
    if (cl == -2 && !has_te) {
        diag_plain(h, C_BAD_LENGTH, ts, "bad Content-Length");
        return HTTP1_E_BAD_LENGTH;
    }
    d->head_done = 1;
    d->coding = COD_NONE;
    if (header_is(d, "content-encoding", &v)) {
        struct span t = trim(v.p, v.n);
        if (span_ieq(t.p, t.n, "gzip") || span_ieq(t.p, t.n, "x-gzip"))
            d->coding = COD_GZIP;
        else if (span_ieq(t.p, t.n, "deflate"))
            d->coding = COD_DEFLATE;
        else if (!span_ieq(t.p, t.n, "identity") && t.n)
            d->coding = COD_OTHER;
    }
    d->keep = 1;
    if (!h->cfg.keep_binary && header_is(d, "content-type", &v) &&
        span_iprefix(trim(v.p, v.n), "application/octet-stream"))
        d->keep = 0;

    int no_body = 0, tunnel = 0;
    if (dir == HTTP1_DIR_REQUEST) {
        m->ordinal = h->next_ordinal++;
        int is_connect = span_ieq(m->method.p, m->method.n, "CONNECT");
        pend_push(h, m->ordinal, span_ieq(m->method.p, m->method.n, "HEAD"), is_connect, ts);
        if (has_te && !chunked) {
            diag_plain(h, C_BAD_LENGTH, ts, "request Transfer-Encoding without chunked");
            return HTTP1_E_BAD_LENGTH;
        }
        if (!has_te && cl < 0)
            no_body = 1;
    } else {
        if (m->status >= 100 && m->status < 200) {
            if (m->status == 101) {
                tunnel = 1;
            } else {
                m->flags |= HTTP1_F_INTERIM;
                struct pending *pe = h->pend_n ? &h->pend[h->pend_head] : NULL;
                m->ordinal = pe ? pe->ordinal : 0;
                no_body = 1;
            }
        }
        if (!(m->flags & HTTP1_F_INTERIM)) {
            struct pending pe;
            if (pend_pop(h, &pe)) {
                m->ordinal = pe.ordinal;
                if (pe.is_head)
                    no_body = 1;
                if (pe.is_connect && m->status >= 200 && m->status < 300)
                    tunnel = 1;
            } else {
                m->ordinal = 0;
                m->flags |= HTTP1_F_NO_REQUEST;
                (*h->c[C_NO_REQUEST])++;
            }
        }
        if (m->status == 204 || m->status == 304)
            no_body = 1;
    }
    if (tunnel) {
        emit(h, dir, ts, 0);
        (*h->c[C_TUNNEL])++;
        h->d[0].state = S_TUNNEL;
        h->d[1].state = S_TUNNEL;
        return 0;
    }
    if (no_body) {
        emit(h, dir, ts, 0);
        d->state = S_START;
        return 0;
    }
    if (has_te && chunked) {
        m->flags |= HTTP1_F_CHUNKED;
        d->state = S_CHUNK_SIZE;
    } else if (has_te || cl < 0) {
        d->state = S_BODY_CLOSE; /* response only: until the connection closes */
    } else if (cl == 0) {
        emit(h, dir, ts, 0);
        d->state = S_START;
    } else {
        d->remaining = (uint64_t)cl;
        d->state = S_BODY_CL;
    }
    return 0;
}

/* Emit the message in flight as incomplete (if its head was parsed) and
 * switch dir to resync. */
static void abandon(struct http1 *h, int dir, uint64_t ts)
{
    struct dirstate *d = &h->d[dir];
    if (d->head_done)
        emit(h, dir, ts, HTTP1_F_INCOMPLETE);
    else
        reset_msg(h, d);
    if (d->state != S_TUNNEL) {
        d->state = S_RESYNC;
        (*h->c[C_RESYNCS])++;
    }
    d->scanned = 0;
    d->first_nl = 0;
}

/* PARSE_ERROR after consuming [p, p+consumed): resync from there, at a
 * line start only if what was skipped ended one. */
static struct parse_result fail(struct http1 *h, int dir, int err, const uint8_t *p,
                                size_t consumed, uint64_t ts)
{
    struct parse_result r = {PARSE_ERROR, consumed, 0, err};
    struct dirstate *d = &h->d[dir];
    if (d->state == S_HEAD && !d->head_done && err != HTTP1_E_BAD_START_LINE) {
        /* a message was there but is dropped: keep the pairing in step */
        if (dir == HTTP1_DIR_REQUEST) {
            pend_push(h, h->next_ordinal++, 0, 0, ts);
        } else {
            struct pending pe;
            pend_pop(h, &pe);
        }
    }
    abandon(h, dir, ts);
    h->d[dir].at_line_start = consumed > 0 && p[consumed - 1] == '\n';
    return r;
}

/* Copy the head [p, p+len) into the direction's buffer. */
static int copy_head(struct http1 *h, struct dirstate *d, const uint8_t *p, size_t len)
{
    if (len > d->head_cap) {
        size_t ncap = len < 1024 ? 1024 : len;
        uint8_t *nb = mem_alloc(h->pool, ncap);
        if (!nb)
            return -1;
        mem_free(h->pool, d->head, d->head_cap);
        d->head = nb;
        d->head_cap = ncap;
    }
    memcpy(d->head, p, len);
    return 0;
}

struct parse_result http1_feed(struct http1 *h, int dir, const uint8_t *p, size_t n,
                               uint64_t ts_us)
{
    struct parse_result r = {PARSE_OK, 0, 0, 0};
    if (dir != HTTP1_DIR_REQUEST && dir != HTTP1_DIR_RESPONSE) {
        r.consumed = n;
        return r;
    }
    struct dirstate *d = &h->d[dir];
    size_t off = 0;
    while (off < n) {
        const uint8_t *q = p + off;
        size_t avail = n - off;
        switch (d->state) {
        case S_START:
            if (q[0] == '\r' || q[0] == '\n') {
                off++;
                continue;
            }
            d->state = S_HEAD;
            d->scanned = 0;
            d->first_nl = 0;
            /* fall through */
        case S_HEAD: {
            if (!d->first_nl && start_prefix(dir, q, avail) == 0) {
                /* not a start line: reject now rather than wait for its end */
                const uint8_t *lf = find_lf(q, avail);
                size_t skip = lf ? (size_t)(lf - q) + 1 : avail;
                diag_plain(h, C_BAD_START_LINE, ts_us, "bad start line");
                return fail(h, dir, HTTP1_E_BAD_START_LINE, p, off + skip, ts_us);
            }
            size_t i = d->scanned >= 3 ? d->scanned - 3 : 0;
            size_t end = 0;
            for (; i < avail; i++) {
                const uint8_t *lf = find_lf(q + i, avail - i);
                if (!lf) {
                    i = avail;
                    break;
                }
                i = (size_t)(lf - q);
                if (!d->first_nl) {
                    d->first_nl = i + 1;
                    if (i + 1 > h->cfg.max_line) {
                        diag(h, C_LINE_TOO_LONG, ts_us, "start line", i + 1, h->cfg.max_line);
                        return fail(h, dir, HTTP1_E_LINE_TOO_LONG, p, off + i + 1, ts_us);
                    }
                    if (!looks_like_start(h, dir, q, avail)) {
                        diag_plain(h, C_BAD_START_LINE, ts_us, "bad start line");
                        return fail(h, dir, HTTP1_E_BAD_START_LINE, p, off + i + 1, ts_us);
                    }
                }
                if (i + 1 < avail && q[i + 1] == '\n') {
                    end = i + 2;
                    break;
                }
                if (i + 2 < avail && q[i + 1] == '\r' && q[i + 2] == '\n') {
                    end = i + 3;
                    break;
                }
                if (i + 2 >= avail) {
                    i = avail;
                    break;
                }
            }
            if (!end) {
                d->scanned = avail;
                if (!d->first_nl && avail > h->cfg.max_line) {
                    diag(h, C_LINE_TOO_LONG, ts_us, "start line", avail, h->cfg.max_line);
                    return fail(h, dir, HTTP1_E_LINE_TOO_LONG, p, off + avail, ts_us);
                }
                if (avail > h->cfg.max_header_block) {
                    diag(h, C_HEADER_BLOCK, ts_us, "header block", avail,
                         h->cfg.max_header_block);
                    return fail(h, dir, HTTP1_E_HEADER_BLOCK, p, off + avail, ts_us);
                }
                r.status = PARSE_NEED_MORE;
                r.consumed = off;
                return r;
            }
            if (end > h->cfg.max_header_block) {
                diag(h, C_HEADER_BLOCK, ts_us, "header block", end, h->cfg.max_header_block);
                return fail(h, dir, HTTP1_E_HEADER_BLOCK, p, off + end, ts_us);
            }
            if (copy_head(h, d, q, end) < 0) {
                (*h->c[C_NOMEM])++;
                return fail(h, dir, HTTP1_E_NOMEM, p, off + end, ts_us);
            }
            off += end;
            d->scanned = 0;
            d->first_nl = 0;
            int err = parse_head(h, d, dir, end, ts_us);
            if (!err)
                err = start_body(h, dir, ts_us);
            if (err) {
                if (err == HTTP1_E_BAD_START_LINE)
                    diag_plain(h, C_BAD_START_LINE, ts_us, "bad start line");
                return fail(h, dir, err, p, off, ts_us);
            }
            break;
        }
        case S_BODY_CL:
        case S_CHUNK_DATA: {
            size_t take = avail;
            if ((uint64_t)take > d->remaining)
                take = (size_t)d->remaining;
            keep_bytes(h, d, q, take);
            d->remaining -= take;
            off += take;
            if (d->remaining == 0) {
                if (d->state == S_BODY_CL) {
                    emit(h, dir, ts_us, 0);
                    d->state = S_START;
                } else {
                    d->state = S_CHUNK_CRLF;
                }
            }
            break;
        }
        case S_CHUNK_SIZE: {
            size_t lim = avail < h->cfg.max_chunk_line ? avail : h->cfg.max_chunk_line;
            const uint8_t *lf = find_lf(q, lim);
            size_t digits = 0;
            uint64_t v = 0;
            /* the digit limit is checked on what is there, before the LF */
            while (digits < avail && str_hexval(q[digits]) >= 0) {
                if (digits == h->cfg.max_chunk_digits) {
                    diag(h, C_CHUNK_SIZE, ts_us, "chunk size digits", digits + 1,
                         h->cfg.max_chunk_digits);
                    return fail(h, dir, HTTP1_E_CHUNK_SIZE, p, off + digits, ts_us);
                }
                v = (v << 4) | (uint64_t)str_hexval(q[digits]);
                digits++;
            }
            if (!lf) {
                if (avail >= h->cfg.max_chunk_line) {
                    diag(h, C_BAD_CHUNK, ts_us, "chunk line", avail, h->cfg.max_chunk_line);
                    return fail(h, dir, HTTP1_E_BAD_CHUNK, p, off + avail, ts_us);
                }
                if (digits < avail && q[digits] != ';' && q[digits] != '\r' &&
                    q[digits] != ' ' && q[digits] != '\t') {
                    diag_plain(h, C_BAD_CHUNK, ts_us, "bad chunk size");
                    return fail(h, dir, HTTP1_E_BAD_CHUNK, p, off + avail, ts_us);
                }
                r.status = PARSE_NEED_MORE;
                r.consumed = off;
                return r;
            }
            size_t ln = (size_t)(lf - q);
            size_t content = line_len(q, lf);
            size_t k = digits;
            while (k < content && (q[k] == ' ' || q[k] == '\t'))
                k++;
            if (!digits || (k < content && q[k] != ';')) {
                diag_plain(h, C_BAD_CHUNK, ts_us, "bad chunk size");
                return fail(h, dir, HTTP1_E_BAD_CHUNK, p, off + ln + 1, ts_us);
            }
            off += ln + 1;
            if (v == 0) {
                d->state = S_TRAILERS;
                d->trailer_bytes = 0;
            } else {
                d->remaining = v;
                d->state = S_CHUNK_DATA;
            }
            break;
        }
        case S_CHUNK_CRLF:
            if (q[0] == '\n') {
                off++;
                d->state = S_CHUNK_SIZE;
            } else if (q[0] == '\r') {
                if (avail < 2) {
                    r.status = PARSE_NEED_MORE;
                    r.consumed = off;
                    r.needed = 1;
                    return r;
                }
                if (q[1] != '\n') {
                    diag_plain(h, C_BAD_CHUNK, ts_us, "chunk data not followed by CRLF");
                    return fail(h, dir, HTTP1_E_BAD_CHUNK, p, off + 1, ts_us);
                }
                off += 2;
                d->state = S_CHUNK_SIZE;
            } else {
                diag_plain(h, C_BAD_CHUNK, ts_us, "chunk data not followed by CRLF");
                return fail(h, dir, HTTP1_E_BAD_CHUNK, p, off + 1, ts_us);
            }
            break;
        case S_TRAILERS: {
            size_t room = h->cfg.max_header_block - d->trailer_bytes;
            size_t lim = avail < room ? avail : room;
            const uint8_t *lf = find_lf(q, lim);
            if (!lf) {
                if (avail >= room) {
                    diag(h, C_HEADER_BLOCK, ts_us, "trailer block",
                         (uint64_t)d->trailer_bytes + avail, h->cfg.max_header_block);
                    return fail(h, dir, HTTP1_E_HEADER_BLOCK, p, off + avail, ts_us);
                }
                r.status = PARSE_NEED_MORE;
                r.consumed = off;
                return r;
            }
            size_t ln = (size_t)(lf - q) + 1;
            off += ln;
            d->trailer_bytes += ln;
            if (line_len(q, lf) == 0) {
                emit(h, dir, ts_us, 0);
                d->state = S_START;
            }
            break;
        }
        case S_BODY_CLOSE:
            keep_bytes(h, d, q, avail);
            off += avail;
            break;
        case S_TUNNEL:
            off += avail;
            break;
        case S_RESYNC: {
            size_t i;
            for (i = 0; i < avail; i++) {
                if (i == 0 ? !d->at_line_start : q[i - 1] != '\n')
                    continue;
                int lk = looks_like_start(h, dir, q + i, avail - i);
                if (lk == 0)
                    continue;
                *h->c[C_RESYNC_SKIPPED] += i;
                off += i;
                if (lk < 0) {
                    d->at_line_start = 1;
                    r.status = PARSE_NEED_MORE;
                    r.consumed = off;
                    return r;
                }
                d->state = S_START;
                break;
            }
            if (i == avail) {
                *h->c[C_RESYNC_SKIPPED] += avail;
                d->at_line_start = q[avail - 1] == '\n';
                off += avail;
            }
            break;
        }
        }
    }
    r.consumed = off;
    /* nothing left over, but a head or body still open: more is needed */
    if (d->state != S_START && d->state != S_RESYNC && d->state != S_TUNNEL)
        r.status = PARSE_NEED_MORE;
    if (d->state == S_BODY_CL || d->state == S_CHUNK_DATA)
        r.needed = d->remaining > SIZE_MAX ? SIZE_MAX : (size_t)d->remaining;
    return r;
}

void http1_gap(struct http1 *h, int dir, uint64_t len, uint64_t ts_us)
{
    if (dir != HTTP1_DIR_REQUEST && dir != HTTP1_DIR_RESPONSE)
        return;
    struct dirstate *d = &h->d[dir];
    (*h->c[C_GAPS])++;
    switch (d->state) {
    case S_TUNNEL:
        return;
    case S_BODY_CL:
    case S_CHUNK_DATA:
        if (len <= d->remaining) {
            /* the framing survives: skip the hole inside the body */
            d->m.flags |= HTTP1_F_INCOMPLETE | HTTP1_F_BODY_TRUNC;
            d->keep = 0;
            d->m.body_len += len;
            d->remaining -= len;
            if (d->remaining == 0) {
                if (d->state == S_BODY_CL) {
                    emit(h, dir, ts_us, 0);
                    d->state = S_START;
                } else {
                    d->state = S_CHUNK_CRLF;
                }
            }
            return;
        }
        break;
    case S_BODY_CLOSE:
        d->m.flags |= HTTP1_F_INCOMPLETE | HTTP1_F_BODY_TRUNC;
        d->keep = 0;
        d->m.body_len += len;
        return;
    case S_HEAD:
        /* a head was partly seen and is lost: keep the pairing in step */
        if (dir == HTTP1_DIR_REQUEST)
            pend_push(h, h->next_ordinal++, 0, 0, ts_us);
        else {
            struct pending pe;
            pend_pop(h, &pe);
        }
        break;
    default:
        break;
    }
    abandon(h, dir, ts_us);
    d->at_line_start = 1;
}

void http1_end(struct http1 *h, uint64_t ts_us)
{
    for (int dir = 0; dir < 2; dir++) {
        struct dirstate *d = &h->d[dir];
        if (d->state == S_BODY_CLOSE)
            emit(h, dir, ts_us, 0);
        else if (d->head_done)
            emit(h, dir, ts_us, HTTP1_F_INCOMPLETE);
        else if (d->state == S_HEAD && d->scanned > 0) {
            /* a head that never ended (a slow or cut sender): lost, say so */
            char m[96];
            snprintf(m, sizeof(m), "stream ended inside a %s head (%zu bytes): message lost",
                     dir == HTTP1_DIR_REQUEST ? "request" : "response", d->scanned);
            diag_plain(h, C_INCOMPLETE, ts_us, m);
        }
        reset_msg(h, d);
        d->state = S_START;
        d->scanned = 0;
        d->first_nl = 0;
        d->at_line_start = 0;
    }
    *h->c[C_UNANSWERED] += h->pend_n;
    h->pend_n = 0;
    h->pend_head = 0;
}
