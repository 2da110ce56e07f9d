/* jv.c -- strict JSON reader into an arena tree (RFC 8259); see jv.h.
 *
 * One pass, no recursion: an explicit stack of open containers (at most
 * cfg.max_depth frames). Values are 32-byte nodes bump-allocated from the
 * document's blocks; children are a singly linked list in input order.
 * Strings are scanned 16 bytes at a time with SSE2 (8 with portable SWAR
 * elsewhere) while they hold nothing but printable ASCII; an escaped
 * string is unescaped into the arena in the same pass when the current
 * block has room for it (never longer than the escaped text), else in a
 * second pass. Duplicate keys are looked
 * for when an object closes: pairwise for small objects, through a scratch
 * hash table for big ones, so a hostile body costs O(n).
 *
 * Embedded JSON (cfg.embedded_key): the same loop, inlined a second time
 * for a text inside a string, where a quote is \" and whitespace is only
 * the space; the first other backslash, or any error, abandons it and the
 * string is read the usual way from its start, so errors and offsets are
 * those of the two-step reading. */
#include "parsers/jv.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "capture/swar.h"

#define JV_INPUT_HARD_MAX ((size_t)1 << 29) /* key length must fit 29 bits */
#define JV_BLK_MIN 4096
#define JV_BLK_MAX ((size_t)1 << 20)  /* usual block size cap */
#define JV_KEEP_MAX ((size_t)1 << 20) /* a block kept by jv_reset */
#define JV_PAIRWISE 16                /* objects up to this many members: dup check by a 64-bit filter */

struct jv_blk {
    struct jv_blk *next;
    size_t size; /* bytes charged, header included */
};

void jv_defaults(struct jv_cfg *cfg)
{
    cfg->max_input = 4u << 20;
    cfg->max_depth = 2048;
    cfg->allow_nul = 0;
    cfg->dup_reject = 1;
    cfg->embedded_key = NULL;
    cfg->skip_key = NULL;
}

void jv_init(struct jv_doc *d, const struct jv_cfg *cfg, struct mem_pool *pool)
{
    memset(d, 0, sizeof(*d));
    if (cfg)
        d->_cfg = *cfg;
    else
        jv_defaults(&d->_cfg);
    if (d->_cfg.max_input > JV_INPUT_HARD_MAX)
        d->_cfg.max_input = JV_INPUT_HARD_MAX;
    if (d->_cfg.max_depth < 1)
        d->_cfg.max_depth = 1;
    d->_pool = pool;
}

const char *jv_strerror(enum jv_err e)
{
    switch (e) {
    case JV_OK: return "no error";
    case JV_E_EMPTY: return "empty input";
    case JV_E_TOP: return "top-level value is not an object or array";
    case JV_E_SYNTAX: return "syntax error";
    case JV_E_TRAILING: return "data after the top-level value";
    case JV_E_DEPTH: return "nesting too deep";
    case JV_E_SIZE: return "input too long";
    case JV_E_UTF8: return "invalid UTF-8";
    case JV_E_CTRL: return "control character in string";
    case JV_E_ESCAPE: return "invalid escape";
    case JV_E_NUL: return "\\u0000 not allowed";
    case JV_E_NUMBER: return "number out of range";
    case JV_E_DUP: return "duplicate key";
    case JV_E_NOMEM: return "out of memory";
    }
    return "unknown error";
}

enum jv_err jv_error(const struct jv_doc *d, size_t *off)
{
    if (off)
        *off = d->_err_off;
    return d->_err;
}

/* ---- arena ---- */

static void blk_free_list(struct jv_doc *d, struct jv_blk *b)
{
    while (b) {
        struct jv_blk *nx = b->next;
        mem_free(d->_pool, b, b->size);
        b = nx;
    }
}

/* The top of block b's room, aligned down to 8 (nodes are taken there). */
static char *blk_top(struct jv_blk *b)
{
    uintptr_t t = (uintptr_t)b + b->size;
    return (char *)(t & ~(uintptr_t)7);
}

void jv_reset(struct jv_doc *d)
{
    struct jv_blk *keep = d->_blk;
    if (d->_scap > 32768) { /* a big object's scratch is not worth keeping */
        mem_free(d->_pool, d->_scratch, d->_scap);
        d->_scratch = NULL;
        d->_scap = 0;
    }
    d->_cur = d->_end = NULL;
    if (!keep)
        return;
    blk_free_list(d, keep->next);
    keep->next = NULL;
    if (keep->size > JV_KEEP_MAX) {
        mem_free(d->_pool, keep, keep->size);
        d->_blk = NULL;
        return;
    }
    d->_cur = (char *)keep + sizeof(struct jv_blk);
    d->_end = blk_top(keep);
}

void jv_release(struct jv_doc *d)
{
    if (!d)
        return;
    blk_free_list(d, d->_blk);
    d->_blk = NULL;
    d->_cur = d->_end = NULL;
    mem_free(d->_pool, d->_stack, d->_stack_cap * sizeof(*d->_stack));
    d->_stack = NULL;
    d->_stack_cap = 0;
    mem_free(d->_pool, d->_scratch, d->_scap);
    d->_scratch = NULL;
    d->_scap = 0;
}

/* A new block with at least need free bytes; hint: expected total. */
static int blk_new(struct jv_doc *d, size_t need, size_t hint)
{
    size_t size = d->_blk ? d->_blk->size * 2 : hint;
    if (size > JV_BLK_MAX)
        size = JV_BLK_MAX;
    if (size < JV_BLK_MIN)
        size = JV_BLK_MIN;
    if (size < need + sizeof(struct jv_blk) + 8)
        size = need + sizeof(struct jv_blk) + 8;
    struct jv_blk *b = mem_alloc(d->_pool, size);
    if (!b)
        return -1;
    b->size = size;
    b->next = d->_blk;
    d->_blk = b;
    d->_cur = (char *)b + sizeof(struct jv_blk);
    d->_end = blk_top(b);
    return 0;
}

/* A block's free room is [_cur, _end): bytes (strings) are taken from its
 * bottom, nodes from its top, which is aligned to 8 and stays so (nodes
 * are 32 bytes): no alignment to work out per node. */

/* arena_get when the current block lacks room. */
static __attribute__((noinline)) void *arena_get_slow(struct jv_doc *d, size_t n, int align,
                                                      size_t hint)
{
    if (blk_new(d, n, hint) < 0)
        return NULL;
    if (align) {
        d->_end -= n;
        return d->_end;
    }
    char *c = d->_cur;
    d->_cur = c + n;
    return c;
}

/* n bytes; align: a node (n a multiple of 8), from the top, aligned to 8.
 * NULL when the pool refuses. */
static inline void *arena_get(struct jv_doc *d, size_t n, int align, size_t hint)
{
    char *c = d->_cur;
    if (!c || (size_t)(d->_end - c) < n)
        return arena_get_slow(d, n, align, hint);
    if (align) {
        d->_end -= n;
        return d->_end;
    }
    d->_cur = c + n;
    return c;
}

char *jv_str_dup(struct jv_doc *d, const struct jv *v)
{
    if (!jv_is_string(v))
        return NULL;
    char *s = arena_get(d, (size_t)v->_len + 1, 0, JV_BLK_MIN);
    if (!s)
        return NULL;
    memcpy(s, v->_u.s, v->_len);
    s[v->_len] = '\0';
    return s;
}

void jv_str_set(struct jv *v, const char *s, size_t n)
{
    if (!jv_is_string(v))
        return;
    v->_u.s = s;
    v->_len = (uint32_t)n;
}

/* ---- reading ---- */

int jv_key_eq(const struct jv *m, const char *lit)
{
    if (!m || !m->_key)
        return 0;
    size_t n = strlen(lit);
    return jv_keylen(m) == n && memcmp(m->_key, lit, n) == 0;
}

int jv_str_eq(const struct jv *v, const char *lit)
{
    if (!jv_is_string(v))
        return 0;
    size_t n = strlen(lit);
    return v->_len == n && memcmp(v->_u.s, lit, n) == 0;
}

struct jv *jv_getn(const struct jv *o, const char *k, size_t kn)
{
    if (!jv_is_object(o))
        return NULL;
    for (struct jv *m = o->_u.first; m; m = m->_next)
        if ((m->_kt >> 3) == kn && (kn == 0 || (m->_key[0] == k[0] && memcmp(m->_key, k, kn) == 0)))
            return m;
    return NULL;
}

struct jv *jv_at(const struct jv *a, size_t index)
{
    if (!jv_is_array(a))
        return NULL;
    struct jv *e = a->_u.first;
    while (e && index--)
        e = e->_next;
    return e;
}

int jv_remove(struct jv *c, struct jv *m)
{
    if (!jv_is_container(c) || !m)
        return 0;
    struct jv **pp = &c->_u.first;
    while (*pp && *pp != m)
        pp = &(*pp)->_next;
    if (!*pp)
        return 0;
    *pp = m->_next;
    c->_len--;
    return 1;
}

int jv_del(struct jv *o, const char *k)
{
    struct jv *m = jv_get(o, k);
    return m ? jv_remove(o, m) : 0;
}

size_t jv_clear(struct jv *c)
{
    if (!jv_is_container(c))
        return 0;
    size_t n = c->_len & ~JV_LEN_BITS;
    c->_u.first = NULL;
    c->_len &= JV_LEN_BITS;
    return n;
}

/* ---- parsing ---- */

struct pstate {
    struct jv_doc *d;
    const uint8_t *p;
    size_t n;
    size_t pos;
    size_t hint; /* block size wanted for this document */
};

/* Bytes a string scan must look at: '"', '\\', controls, non-ASCII. */
static const uint8_t special[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x00 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x10 */
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x20 '"' */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, /* 0x5c '\\' */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x80.. */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/* Non-zero if any of the 8 bytes of x is '"', '\\', < 0x20 or >= 0x80. */
static inline uint64_t swar_special(uint64_t x)
{
    return swar_eq(x, '"') | swar_eq(x, '\\') | swar_lt_or_high(x, 0x20);
}

/* Index of the first flagged byte of a swar_special mask (not 0). On a
 * little-endian load the lowest flag is a true one (a borrow only runs
 * upwards from a true hit); on big-endian the borrow runs towards earlier
 * bytes, so the 8 bytes are looked at one by one there. */
static inline size_t swar_first(const uint8_t *p, uint64_t m)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    (void)p;
    return (size_t)__builtin_ctzll(m) >> 3;
#else
    (void)m;
    size_t k = 0;
    while (!special[p[k]])
        k++;
    return k;
#endif
}

#ifdef __SSE2__
/* Bit k set when byte k of the 16 at p is '"', '\\', < 0x20 or >= 0x80
 * (a signed compare with 0x20 takes both of the last two). */
static inline unsigned sse_special(const uint8_t *p)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i t = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                             _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
    t = _mm_or_si128(t, _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
    return (unsigned)_mm_movemask_epi8(t);
}
#endif

static int fail(struct pstate *s, enum jv_err e, size_t off)
{
    s->d->_err = e;
    s->d->_err_off = off;
    return -1;
}

/* Length of the valid UTF-8 sequence at p[0..avail), or 0 if invalid
 * (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF). */
static size_t utf8_len(const uint8_t *p, size_t avail)
{
    uint8_t c = p[0];
    if (c < 0x80)
        return 1;
    if (c < 0xC2)
        return 0;
    if (c < 0xE0) {
        if (avail < 2 || (p[1] & 0xC0) != 0x80)
            return 0;
        return 2;
    }
    if (c < 0xF0) {
        if (avail < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
            return 0;
        if (c == 0xE0 && p[1] < 0xA0)
            return 0; /* overlong */
        if (c == 0xED && p[1] >= 0xA0)
            return 0; /* surrogate */
        return 3;
    }
    if (c < 0xF5) {
        if (avail < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
            (p[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && p[1] < 0x90)
            return 0; /* overlong */
        if (c == 0xF4 && p[1] >= 0x90)
            return 0; /* above U+10FFFF */
        return 4;
    }
    return 0;
}

size_t jv_utf8_len(const void *p, size_t avail)
{
    return utf8_len(p, avail);
}

/* p[i] is a string byte a scan stopped at that is neither '"' nor '\\':
 * the length of the UTF-8 sequence it starts, or 0 with the error set (a
 * control character, or invalid UTF-8). */
static size_t other_special(struct pstate *s, size_t i)
{
    if (s->p[i] < 0x20) {
        fail(s, JV_E_CTRL, i);
        return 0;
    }
    size_t l = utf8_len(s->p + i, s->n - i);
    if (!l)
        fail(s, JV_E_UTF8, i);
    return l;
}

static int hex4(const uint8_t *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Decode the escape at p[i] == '\\' (bytes up to lim are readable) into
 * out; *w advances by the bytes written (at most the bytes consumed).
 * Returns the bytes consumed (2, 6 or 12), or -1 with the error set. */
static long esc_decode(struct pstate *s, size_t i, size_t lim, char *out, size_t *w, int nul_ok)
{
    const uint8_t *p = s->p;
    if (lim - i < 2)
        return fail(s, JV_E_SYNTAX, lim);
    char c;
    switch (p[i + 1]) {
    case '"': c = '"'; break;
    case '\\': c = '\\'; break;
    case '/': c = '/'; break;
    case 'b': c = '\b'; break;
    case 'f': c = '\f'; break;
    case 'n': c = '\n'; break;
    case 'r': c = '\r'; break;
    case 't': c = '\t'; break;
    case 'u': {
        unsigned u, lo;
        long used = 6;
        if (lim - i < 6 || hex4(p + i + 2, &u) < 0)
            return fail(s, JV_E_ESCAPE, i);
        if (u >= 0xDC00 && u <= 0xDFFF)
            return fail(s, JV_E_ESCAPE, i); /* lone low surrogate */
        if (u >= 0xD800 && u <= 0xDBFF) {
            if (lim - i < 12 || p[i + 6] != '\\' || p[i + 7] != 'u' ||
                hex4(p + i + 8, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
                return fail(s, JV_E_ESCAPE, i);
            u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            used = 12;
        }
        if (u == 0 && !nul_ok)
            return fail(s, JV_E_NUL, i);
        char *o = out + *w;
        if (u < 0x80) {
            o[0] = (char)u;
            *w += 1;
        } else if (u < 0x800) {
            o[0] = (char)(0xC0 | (u >> 6));
            o[1] = (char)(0x80 | (u & 0x3F));
            *w += 2;
        } else if (u < 0x10000) {
            o[0] = (char)(0xE0 | (u >> 12));
            o[1] = (char)(0x80 | ((u >> 6) & 0x3F));
            o[2] = (char)(0x80 | (u & 0x3F));
            *w += 3;
        } else {
            o[0] = (char)(0xF0 | (u >> 18));
            o[1] = (char)(0x80 | ((u >> 12) & 0x3F));
            o[2] = (char)(0x80 | ((u >> 6) & 0x3F));
            o[3] = (char)(0x80 | (u & 0x3F));
            *w += 4;
        }
        return used;
    }
    default:
        return fail(s, JV_E_ESCAPE, i);
    }
    out[(*w)++] = c;
    return 2;
}

/* Unescape the string body [a, b) (UTF-8 and controls already checked)
 * into out; returns the length or -1 with the error set. Output never
 * exceeds b - a bytes: every escape shrinks or keeps size. */
static long unescape(struct pstate *s, size_t a, size_t b, char *out, int nul_ok)
{
    const uint8_t *p = s->p;
    size_t w = 0, i = a;
    while (i < b) {
        const uint8_t *bs = memchr(p + i, '\\', b - i);
        size_t run = bs ? (size_t)(bs - (p + i)) : b - i;
        memcpy(out + w, p + i, run);
        w += run;
        i += run;
        if (i >= b)
            break;
        long used = esc_decode(s, i, b, out, &w, nul_ok);
        if (used < 0)
            return -1;
        i += (size_t)used;
    }
    return (long)w;
}

/* Index of the next byte at or after i that a string scan must look at
 * ('"', '\\', controls, non-ASCII), or n. */
static inline size_t scan_plain(const uint8_t *p, size_t i, size_t n)
{
#ifdef __SSE2__
    while (i + 16 <= n) {
        unsigned m = sse_special(p + i);
        if (m)
            return i + (size_t)__builtin_ctz(m);
        i += 16;
    }
#endif
    while (i + 8 <= n) {
        uint64_t x;
        memcpy(&x, p + i, 8);
        uint64_t m = swar_special(x);
        if (m)
            return i + swar_first(p + i, m);
        i += 8;
    }
    while (i < n && !special[p[i]])
        i++;
    return i;
}

/* The byte a two-character escape stands for, 0 for 'u' and non-escapes. */
static const char simple_esc[256] = {
    ['"'] = '"', ['\\'] = '\\', ['/'] = '/', ['b'] = '\b',
    ['f'] = '\f', ['n'] = '\n', ['r'] = '\r', ['t'] = '\t',
};

/* One pass over an escaped string whose first escape is at i, unescaping
 * into out (room for everything up to the end of input: n - start bytes
 * or more). On success *w is the length and s->pos is past the closing
 * quote. Plain runs are copied 8 bytes at a time as they are scanned:
 * the bytes stored past a special one are overwritten or left unused,
 * and never pass the room (the output is never longer than the input). */
static int string_one_pass(struct pstate *s, size_t start, size_t i, char *out, size_t *wp,
                           int nul_ok)
{
    const uint8_t *p = s->p;
    size_t n = s->n;
    size_t w = i - start;
    memcpy(out, p + start, w);
    for (;;) {
        /* p[i] is special */
        uint8_t c = p[i];
        if (c == '"')
            break;
        if (c == '\\') {
            char e = i + 1 < n ? simple_esc[p[i + 1]] : 0;
            if (e) {
                out[w++] = e;
                i += 2;
            } else {
                long used = esc_decode(s, i, n, out, &w, nul_ok);
                if (used < 0)
                    return -1;
                i += (size_t)used;
            }
        } else {
            size_t l = other_special(s, i);
            if (!l)
                return -1;
            memcpy(out + w, p + i, l);
            w += l;
            i += l;
        }
        for (;;) {
#ifdef __SSE2__
            if (i + 16 <= n) {
                /* stores 16 bytes: w + 16 <= i - start + 16 <= n - start */
                _mm_storeu_si128((__m128i *)(void *)(out + w),
                                 _mm_loadu_si128((const __m128i *)(const void *)(p + i)));
                unsigned m = sse_special(p + i);
                if (m) {
                    size_t k = (size_t)__builtin_ctz(m);
                    i += k;
                    w += k;
                    break;
                }
                i += 16;
                w += 16;
                continue;
            }
#endif
            if (i + 8 > n) {
                while (i < n && !special[p[i]])
                    out[w++] = (char)p[i++];
                if (i >= n)
                    return fail(s, JV_E_SYNTAX, n);
                break;
            }
            uint64_t x;
            memcpy(&x, p + i, 8);
            memcpy(out + w, &x, 8);
            uint64_t m = swar_special(x);
            if (m) {
                size_t k = swar_first(p + i, m);
                i += k;
                w += k;
                break;
            }
            i += 8;
            w += 8;
        }
    }
    *wp = w;
    s->pos = i + 1;
    return 0;
}

/* Escaped string, first escape at i, when the block lacks room for a
 * single pass: find the closing quote (checking UTF-8, controls and
 * escapes), then unescape into exactly the room the escaped text takes. */
static int string_two_pass(struct pstate *s, size_t start, size_t i, const char **str,
                           uint32_t *len, int nul_ok)
{
    const uint8_t *p = s->p;
    size_t n = s->n;
    for (;;) {
        i = scan_plain(p, i, n);
        if (i >= n)
            return fail(s, JV_E_SYNTAX, n);
        uint8_t c = p[i];
        if (c == '"')
            break;
        if (c == '\\') {
            /* checked here, in text order as string_one_pass checks it,
             * so that both report the same first error whichever runs
             * (that depends on the arena's room); unescape decodes it
             * again */
            char tmp[4];
            size_t tw = 0;
            long used = esc_decode(s, i, n, tmp, &tw, nul_ok);
            if (used < 0)
                return -1;
            i += (size_t)used;
            continue;
        }
        size_t l = other_special(s, i);
        if (!l)
            return -1;
        i += l;
    }
    size_t rawn = i - start;
    s->pos = i + 1;
    char *out = arena_get(s->d, rawn + 1, 0, s->hint);
    if (!out)
        return fail(s, JV_E_NOMEM, start);
    long w = unescape(s, start, i, out, nul_ok);
    if (w < 0)
        return -1;
    out[w] = '\0';
    s->d->_cur = out + w + 1; /* give back what unescaping saved */
    *str = out;
    *len = (uint32_t)w;
    return 0;
}

/* String at s->pos (the opening quote). Sets *str, *len; key: a member
 * key (never NUL). Leaves s->pos after the closing quote. */
static int parse_string(struct pstate *s, const char **str, uint32_t *len, int key)
{
    const uint8_t *p = s->p;
    size_t n = s->n;
    size_t start = ++s->pos, i = start;
    int nul_ok = key ? 0 : s->d->_cfg.allow_nul;
    for (;;) {
        i = scan_plain(p, i, n);
        if (i >= n)
            return fail(s, JV_E_SYNTAX, n);
        uint8_t c = p[i];
        if (c == '"')
            break;
        if (c == '\\') {
            /* Unescaped, the rest of the string is at most n - start - 1
             * bytes: when the current block has that room, unescape in one
             * pass; else find the end first, then take just enough. */
            struct jv_doc *d = s->d;
            if (d->_cur && (size_t)(d->_end - d->_cur) > n - start) {
                char *out = d->_cur;
                size_t w;
                if (string_one_pass(s, start, i, out, &w, nul_ok) < 0)
                    return -1;
                out[w] = '\0';
                d->_cur = out + w + 1;
                *str = out;
                *len = (uint32_t)w;
                return 0;
            }
            return string_two_pass(s, start, i, str, len, nul_ok);
        }
        size_t l = other_special(s, i);
        if (!l)
            return -1;
        i += l;
    }
    s->pos = i + 1;
    *str = (const char *)p + start; /* no escape: zero copy */
    *len = (uint32_t)(i - start);
    return 0;
}

static int is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

/* Number at s->pos into *out, with jansson's range rules: an integer (no
 * fraction, no exponent) must fit int64; a real must not overflow. */
static int parse_number(struct pstate *s, double *out)
{
    const uint8_t *p = s->p;
    size_t n = s->n, i = s->pos, start = s->pos;
    int neg = 0, real = 0;
    if (p[i] == '-') {
        neg = 1;
        i++;
    }
    if (i >= n || !is_digit(p[i]))
        return fail(s, JV_E_SYNTAX, i);
    if (p[i] == '0') {
        i++;
    } else {
        while (i < n && is_digit(p[i]))
            i++;
    }
    if (i < n && p[i] == '.') {
        i++;
        if (i >= n || !is_digit(p[i]))
            return fail(s, JV_E_SYNTAX, i);
        while (i < n && is_digit(p[i]))
            i++;
        real = 1;
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-'))
            i++;
        if (i >= n || !is_digit(p[i]))
            return fail(s, JV_E_SYNTAX, i);
        while (i < n && is_digit(p[i]))
            i++;
        real = 1;
    }
    s->pos = i;
    if (!real) {
        uint64_t mag = 0;
        const uint64_t lim = neg ? (uint64_t)1 << 63 : ((uint64_t)1 << 63) - 1;
        for (size_t k = start + (size_t)neg; k < i; k++) {
            uint64_t dg = (uint64_t)(p[k] - '0');
            if (mag > (lim - dg) / 10)
                return fail(s, JV_E_NUMBER, start);
            mag = mag * 10 + dg;
        }
        if (neg) /* -0 is the integer 0, as jansson reads it */
            *out = mag == ((uint64_t)1 << 63) ? -9223372036854775808.0 : (double)-(int64_t)mag;
        else
            *out = (double)(int64_t)mag;
        return 0;
    }
    /* strtod needs a NUL-terminated copy */
    char small[64];
    size_t len = i - start;
    char *buf = small;
    if (len >= sizeof(small)) {
        buf = arena_get(s->d, len + 1, 0, s->hint);
        if (!buf)
            return fail(s, JV_E_NOMEM, start);
    }
    memcpy(buf, p + start, len);
    buf[len] = '\0';
    errno = 0;
    double v = strtod(buf, NULL);
    if (buf != small)
        s->d->_cur = buf; /* scratch only: give it back */
    if (errno == ERANGE && isinf(v))
        return fail(s, JV_E_NUMBER, start);
    *out = v;
    return 0;
}

/* Room for frame index depth: the frames inside d up to JV_STACK0, then
 * a heap stack growing by doubling up to max_depth. *stk / *cap: the stack
 * in use. 0, or -1 when the pool refuses. */
static int ensure_stack(struct jv_doc *d, size_t depth, struct jv_frame **stk, size_t *cap)
{
    if (depth < *cap)
        return 0;
    size_t ncap = *cap * 2;
    if (ncap > (size_t)d->_cfg.max_depth + 1)
        ncap = (size_t)d->_cfg.max_depth + 1;
    if (ncap <= depth)
        ncap = depth + 1;
    struct jv_frame *ns;
    if (d->_stack) {
        ns = mem_realloc(d->_pool, d->_stack, d->_stack_cap * sizeof(*ns), ncap * sizeof(*ns));
    } else {
        ns = mem_alloc(d->_pool, ncap * sizeof(*ns));
        if (ns)
            memcpy(ns, d->_stack0, sizeof(d->_stack0));
    }
    if (!ns)
        return -1;
    d->_stack = ns;
    d->_stack_cap = ncap;
    *stk = ns;
    *cap = ncap;
    return 0;
}

static int key_same(const struct jv *a, const struct jv *b)
{
    uint32_t n = a->_kt >> 3;
    /* last bytes first: keys of one object often share a prefix
     * ("nova_object.name", "nova_object.data") */
    return n == (b->_kt >> 3) && (n == 0 || (a->_key[n - 1] == b->_key[n - 1] &&
                                             memcmp(a->_key, b->_key, n) == 0));
}

/* Hash of a key from its length and its first and last 8 bytes: keys that
 * share all three only cost probes, and check_dups falls back to sorting
 * when probes run out. */
static uint32_t key_hash(const struct jv *m)
{
    size_t n = m->_kt >> 3;
    const char *k = m->_key;
    uint64_t a = 0, b = 0;
    if (n >= 8) {
        memcpy(&a, k, 8);
        memcpy(&b, k + n - 8, 8);
    } else if (n >= 4) { /* first and last four, overlapping */
        uint32_t x, y;
        memcpy(&x, k, 4);
        memcpy(&y, k + n - 4, 4);
        a = (uint64_t)x << 32 | y;
    } else if (n) {
        a = (uint64_t)(uint8_t)k[0] << 16 | (uint64_t)(uint8_t)k[n / 2] << 8 | (uint8_t)k[n - 1];
    }
    uint64_t h = (a ^ (b * 0x9E3779B97F4A7C15ULL) ^ n) * 0xFF51AFD7ED558CCDULL;
    return (uint32_t)(h >> 32);
}

/* Keep-the-first-place, last-value merge of duplicate m into earlier e. */
static void merge_dup(struct jv *e, const struct jv *m)
{
    e->_u = m->_u;
    e->_len = m->_len;
    e->_kt = (e->_kt & ~7u) | (m->_kt & 7u);
}

/* At least n bytes of scratch in d->_scratch. 0 or -1 (JV_E_NOMEM). */
static int scratch(struct pstate *s, size_t n)
{
    struct jv_doc *d = s->d;
    if (n <= d->_scap)
        return 0;
    void *ns = mem_realloc(d->_pool, d->_scratch, d->_scap, n);
    if (!ns)
        return fail(s, JV_E_NOMEM, s->pos);
    d->_scratch = ns;
    d->_scap = n;
    return 0;
}

struct dkey {
    struct jv *node;
    size_t idx; /* place in the object */
};

static int dkey_cmp(const void *x, const void *y)
{
    const struct dkey *a = x, *b = y;
    size_t la = a->node->_kt >> 3, lb = b->node->_kt >> 3;
    if (la != lb)
        return la < lb ? -1 : 1;
    int c = memcmp(a->node->_key, b->node->_key, la);
    if (c)
        return c;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* Duplicates of object o by sorting (key, place): each run of equal keys
 * keeps its first member, holding the value of its last. */
static int dups_by_sort(struct pstate *s, struct jv *o)
{
    struct jv_doc *d = s->d;
    size_t m = o->_len;
    if (scratch(s, m * (sizeof(struct dkey) + 1)) < 0)
        return -1;
    struct dkey *k = d->_scratch;
    uint8_t *dead = (uint8_t *)(k + m);
    size_t i = 0;
    for (struct jv *b = o->_u.first; b; b = b->_next, i++) {
        k[i].node = b;
        k[i].idx = i;
    }
    qsort(k, m, sizeof(*k), dkey_cmp);
    memset(dead, 0, m);
    for (i = 0; i < m;) {
        size_t j = i + 1;
        while (j < m && key_same(k[i].node, k[j].node))
            j++;
        if (j - i > 1) {
            if (d->_cfg.dup_reject)
                return fail(s, JV_E_DUP, s->pos);
            merge_dup(k[i].node, k[j - 1].node);
            for (size_t t = i + 1; t < j; t++)
                dead[k[t].idx] = 1;
        }
        i = j;
    }
    struct jv **pp = &o->_u.first;
    size_t kept = 0;
    i = 0;
    for (struct jv *b = o->_u.first; b; i++) {
        struct jv *nx = b->_next;
        if (!dead[i]) {
            *pp = b;
            pp = &b->_next;
            kept++;
        }
        b = nx;
    }
    *pp = NULL;
    o->_len = (uint32_t)kept;
    return 0;
}

/* Where a key falls in check_dups' filter (taken mod 64 there). */
static inline uint32_t dup_bit(const struct jv *b)
{
    uint32_t n = b->_kt >> 3;
    return n ? n * 31u + (uint8_t)b->_key[n - 1] * 7u + (uint8_t)b->_key[0] : 0;
}

/* Duplicate keys of object o (just closed). Returns 0, or -1 with JV_E_DUP
 * (dup_reject) / JV_E_NOMEM. */
static int check_dups(struct pstate *s, struct jv *o)
{
    struct jv_doc *d = s->d;
    size_t m = o->_len;
    if (m < 2)
        return 0;
    if (m <= JV_PAIRWISE) {
        /* a key can only repeat one on the same bit of seen (from its
         * length and first and last bytes): most keys are compared with
         * none, and a bit shared by chance costs a pass over the keys
         * before it */
        struct jv *prev = o->_u.first;
        uint64_t seen = 1ull << (dup_bit(prev) & 63);
        for (struct jv *b = prev->_next; b; b = prev->_next) {
            uint64_t bit = 1ull << (dup_bit(b) & 63);
            if (!(seen & bit)) {
                seen |= bit;
                prev = b;
                continue;
            }
            struct jv *a;
            for (a = o->_u.first; a != b; a = a->_next)
                if (key_same(a, b))
                    break;
            if (a == b) {
                prev = b;
                continue;
            }
            if (d->_cfg.dup_reject)
                return fail(s, JV_E_DUP, s->pos);
            merge_dup(a, b);
            prev->_next = b->_next;
            o->_len--;
        }
        return 0;
    }
    /* big object: a hash table, linear probing; when keys collide too much
     * (a hostile body), sorting finishes the job in O(m log m) */
    size_t cap = 64;
    while (cap < m * 2)
        cap *= 2;
    if (scratch(s, cap * sizeof(struct jv *)) < 0)
        return -1;
    struct jv **tab = d->_scratch;
    memset(tab, 0, cap * sizeof(*tab));
    size_t budget = 8 * m + 64; /* probes */
    struct jv *prev = NULL;
    for (struct jv *b = o->_u.first; b;) {
        size_t h = key_hash(b) & (cap - 1);
        struct jv *a;
        while ((a = tab[h]) != NULL && !key_same(a, b)) {
            h = (h + 1) & (cap - 1);
            if (budget-- == 0)
                return dups_by_sort(s, o);
        }
        if (!a) {
            tab[h] = b;
            prev = b;
            b = b->_next;
            continue;
        }
        if (d->_cfg.dup_reject)
            return fail(s, JV_E_DUP, s->pos);
        merge_dup(a, b);
        prev->_next = b->_next; /* prev is set: the first member is never a dup */
        o->_len--;
        b = prev->_next;
    }
    return 0;
}

static const uint8_t ws_tab[256] = {[' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1};

/* Whitespace: JSON's four, or in an embedded text only the space (a raw
 * tab or line break cannot be inside the string that holds it). */
static inline void skip_ws(struct pstate *s, const int emb)
{
    /* locals: a byte load may alias s->pos, which would be reloaded and
     * stored at every step */
    const uint8_t *p = s->p;
    size_t i = s->pos, n = s->n;
    if (emb) {
        while (i < n && p[i] == ' ')
            i++;
    } else {
        while (i < n && ws_tab[p[i]])
            i++;
    }
    s->pos = i;
}

/* 1 if a string starts at s->pos: '"', or '\"' in an embedded text. */
static inline int at_quote(const struct pstate *s, const int emb)
{
    if (emb)
        return s->pos + 1 < s->n && s->p[s->pos] == '\\' && s->p[s->pos + 1] == '"';
    return s->pos < s->n && s->p[s->pos] == '"';
}

/* The rest of a string of an embedded text that holds escapes of its own,
 * from its first byte (start; i: its first backslash, which is followed by
 * a second one). In the holding string every backslash of the text is
 * written '\\' and every quote '\"' (what json.dumps does to the text
 * oslo gives it), so the text's string is read by undoing those two, into
 * the arena with its quotes, and then by parse_string as any string:
 * same checks, same value as when the whole holding string is unescaped
 * first. Any other escape of the holding string (a raw control or
 * non-ASCII written \uXXXX there) is left to the slow way, as before. */
static __attribute__((noinline)) int string_emb_escaped(struct pstate *s, size_t start, size_t i,
                                                         const char **str, uint32_t *len, int key)
{
    const uint8_t *p = s->p;
    size_t n = s->n, m = i - start; /* bytes of the text's string */
    int esc = 0;                    /* the text's last byte was an escaping '\' */
    for (;;) {
        if (i >= n)
            return fail(s, JV_E_SYNTAX, n);
        uint8_t c = p[i++];
        if (c == '"')
            return fail(s, JV_E_SYNTAX, i - 1); /* the end of the holding string */
        if (c == '\\') {
            if (i >= n)
                return fail(s, JV_E_SYNTAX, n);
            c = p[i++];
            if (c != '"' && c != '\\')
                return fail(s, JV_E_ESCAPE, i - 2);
            if (c == '"' && !esc)
                break; /* the text's closing quote */
        }
        esc = !esc && c == '\\';
        m++;
    }
    size_t end = i; /* just past the closing '\"' */
    char *t = arena_get(s->d, m + 2, 0, s->hint);
    if (!t)
        return fail(s, JV_E_NOMEM, start);
    size_t w = 0;
    t[w++] = '"';
    for (i = start; w < m + 1;) {
        uint8_t c = p[i++];
        if (c == '\\')
            c = p[i++]; /* '\\' or '\"' */
        t[w++] = (char)c;
    }
    t[w++] = '"';
    struct pstate ts = {s->d, (const uint8_t *)t, w, 0, s->hint};
    if (parse_string(&ts, str, len, key) < 0)
        return -1;
    if (ts.pos != w)
        return fail(s, JV_E_SYNTAX, start);
    s->pos = end;
    return 0;
}

/* A string of an embedded text at s->pos ('\"'): it ends at the next '\"'
 * (zero copy) unless the text's string has escapes of its own
 * (string_emb_escaped); any other backslash would be an escape of the
 * holding string, which this reader leaves to the slow way (the caller
 * then parses the whole string the usual way). */
static inline __attribute__((always_inline)) int parse_string_emb(struct pstate *s, const char **str,
                                                                   uint32_t *len, int key)
{
    const uint8_t *p = s->p;
    size_t n = s->n;
    size_t start = s->pos + 2, i = start;
    for (;;) {
        i = scan_plain(p, i, n);
        if (i >= n)
            return fail(s, JV_E_SYNTAX, n);
        uint8_t c = p[i];
        if (c == '\\') {
            if (i + 1 < n && p[i + 1] == '"')
                break;
            if (i + 1 < n && p[i + 1] == '\\')
                return string_emb_escaped(s, start, i, str, len, key);
            return fail(s, JV_E_ESCAPE, i);
        }
        if (c == '"') /* the end of the string holding the text */
            return fail(s, JV_E_SYNTAX, i);
        size_t l = other_special(s, i);
        if (!l)
            return -1;
        i += l;
    }
    s->pos = i + 2;
    *str = (const char *)p + start;
    *len = (uint32_t)(i - start);
    return 0;
}

static inline int parse_str(struct pstate *s, const char **str, uint32_t *len, int key,
                            const int emb)
{
    return emb ? parse_string_emb(s, str, len, key) : parse_string(s, str, len, key);
}

/* The ':' after a key just read. */
static inline __attribute__((always_inline)) int key_colon(struct pstate *s, const int emb)
{
    if (s->pos < s->n && s->p[s->pos] == ':') { /* the usual "key": */
        s->pos++;
        return 0;
    }
    skip_ws(s, emb);
    if (s->pos >= s->n || s->p[s->pos] != ':')
        return fail(s, JV_E_SYNTAX, s->pos);
    s->pos++;
    return 0;
}

/* Expect a key string then ':' at s->pos (after whitespace). */
static inline __attribute__((always_inline)) int parse_key(struct pstate *s, const char **k,
                                                            uint32_t *kn, const int emb)
{
    skip_ws(s, emb);
    if (!at_quote(s, emb))
        return fail(s, JV_E_SYNTAX, s->pos);
    if (parse_str(s, k, kn, 1, emb) < 0)
        return -1;
    return key_colon(s, emb);
}

/* After a value in an object: the next member as json.dumps writes it
 * (', \"key\": ' in an embedded text, ', "key": ' or ',"key":' in plain
 * JSON) read in one step, up to its value: 1, with the key in *k, *kn;
 * 0 when the text is otherwise (nothing read: the general way takes it);
 * -1 on an error, as parse_key would give it. */
static inline __attribute__((always_inline)) int next_member(struct pstate *s, const char **k,
                                                              uint32_t *kn, const int emb)
{
    const uint8_t *p = s->p;
    size_t i = s->pos, n = s->n;
    if (emb) {
        if (n - i < 4 || memcmp(p + i, ", \\\"", 4) != 0)
            return 0;
        s->pos += 2;
        if (parse_string_emb(s, k, kn, 1) < 0)
            return -1;
    } else {
        if (n - i < 3 || p[i] != ',')
            return 0;
        size_t j = p[i + 1] == ' ' ? 2 : 1;
        if (p[i + j] != '"')
            return 0;
        s->pos += j;
        if (parse_string(s, k, kn, 1) < 0)
            return -1;
    }
    if (key_colon(s, emb) < 0)
        return -1;
    skip_ws(s, emb);
    return 1;
}

#define SKIP_LEVELS 2048 /* skip_tree's depth at most (max_depth beyond: values are kept) */

/* 1 if the array or object at s->pos, of the member with key [k, k+kn),
 * is one to check without keeping (jv_cfg.skip_key). */
static inline int wants_skip(const struct pstate *s, const char *k, uint32_t kn)
{
    const struct jv_doc *d = s->d;
    return d->_skip_klen && kn == d->_skip_klen && d->_cfg.max_depth <= SKIP_LEVELS &&
           memcmp(k, d->_cfg.skip_key, kn) == 0;
}

/* The array or object at s->pos, at depth d0 as parse_tree counts it,
 * checked as parse_tree checks it (same errors, at the same offsets; only
 * duplicate keys are not looked for) but nothing kept: 0 with s->pos past
 * it, or -1. The arena memory its escaped strings took is given back when
 * still in the current block. Not for embedded texts. */
static __attribute__((noinline)) int skip_tree(struct pstate *s, size_t d0)
{
    struct jv_doc *d = s->d;
    struct jv_blk *blk = d->_blk;
    char *cur = d->_cur;
    const size_t n = s->n, maxd = (size_t)d->_cfg.max_depth;
    uint64_t obj[SKIP_LEVELS / 64]; /* bit l: level l is an object */
    size_t lvl = 0;                 /* levels open */
    const char *str;
    uint32_t len;
    int rc = -1;
    for (;;) {
        /* a value at s->pos */
        if (s->pos >= n) {
            fail(s, JV_E_SYNTAX, n);
            goto out;
        }
        uint8_t c = s->p[s->pos];
        if (c == '{' || c == '[') {
            if (d0 + lvl >= maxd) {
                fail(s, JV_E_DEPTH, s->pos);
                goto out;
            }
            uint64_t bit = 1ull << (lvl & 63);
            obj[lvl >> 6] = c == '{' ? obj[lvl >> 6] | bit : obj[lvl >> 6] & ~bit;
            lvl++;
            s->pos++;
            skip_ws(s, 0);
            if (s->pos < n && s->p[s->pos] == (c == '{' ? '}' : ']')) {
                s->pos++;
                lvl--;
            } else {
                if (c == '{' && parse_key(s, &str, &len, 0) < 0)
                    goto out;
                skip_ws(s, 0);
                continue;
            }
        } else {
            if (c == '"') {
                if (parse_string(s, &str, &len, 0) < 0)
                    goto out;
            } else if (c == 't' || c == 'f' || c == 'n') {
                const char *lit = c == 't' ? "true" : c == 'f' ? "false" : "null";
                size_t ll = strlen(lit);
                if (n - s->pos < ll || memcmp(s->p + s->pos, lit, ll) != 0) {
                    fail(s, JV_E_SYNTAX, s->pos);
                    goto out;
                }
                s->pos += ll;
            } else if (c == '-' || is_digit(c)) {
                double num;
                if (parse_number(s, &num) < 0)
                    goto out;
            } else {
                fail(s, JV_E_SYNTAX, s->pos);
                goto out;
            }
            if (c != '"' && s->pos < n && s->p[s->pos] == 0)
                s->pos++; /* jansson's NUL after a number or literal (parse_tree) */
        }
        /* after a complete value: ',' or the close of its container */
        for (;;) {
            if (lvl && (obj[(lvl - 1) >> 6] >> ((lvl - 1) & 63) & 1)) {
                int r = next_member(s, &str, &len, 0);
                if (r < 0)
                    goto out;
                if (r)
                    break; /* next value */
            }
            skip_ws(s, 0);
            if (lvl == 0) {
                rc = 0;
                goto out;
            }
            if (s->pos >= n) {
                fail(s, JV_E_SYNTAX, n);
                goto out;
            }
            int o = (int)((obj[(lvl - 1) >> 6] >> ((lvl - 1) & 63)) & 1);
            c = s->p[s->pos];
            if (c == ',') {
                s->pos++;
                if (o && parse_key(s, &str, &len, 0) < 0)
                    goto out;
                skip_ws(s, 0);
                break; /* next value */
            }
            if (c != (o ? '}' : ']')) {
                fail(s, JV_E_SYNTAX, s->pos);
                goto out;
            }
            s->pos++;
            lvl--;
        }
    }
out:
    if (d->_blk == blk)
        d->_cur = cur;
    return rc;
}

static struct jv *parse_embedded(struct pstate *s, size_t base);

/* 1 if the string value at s->pos, of the member with key [k, k+kn) at
 * depth depth, is one to read as embedded JSON: a member of the top-level
 * object with the configured key, whose text starts with '{'. */
static inline int wants_embedded(const struct pstate *s, size_t depth, const char *k,
                                 uint32_t kn)
{
    const struct jv_doc *d = s->d;
    return depth == 1 && d->_cfg.embedded_key && kn == d->_emb_klen &&
           s->pos + 1 < s->n && s->p[s->pos + 1] == '{' &&
           memcmp(k, d->_cfg.embedded_key, kn) == 0;
}

/* The value at s->pos with everything inside it, attached at stack depth
 * base (0: the document root). emb: the input is the text of a JSON string
 * holding JSON (see parse_embedded); the value then ends at the closing
 * '"' of that string. Inlined twice, so the plain reader pays nothing for
 * the embedded one. */
static inline __attribute__((always_inline)) struct jv *parse_tree(struct pstate *s, size_t base,
                                                                   const int emb)
{
    struct jv_doc *d = s->d;
    const size_t n = s->n;
    struct jv *root = NULL;
    size_t depth = base;
    const char *key = NULL;
    uint32_t klen = 0;
    const size_t maxd = (size_t)d->_cfg.max_depth;
    struct jv_frame *stk = d->_stack ? d->_stack : d->_stack0;
    size_t scap = d->_stack ? d->_stack_cap : JV_STACK0;

    for (;;) {
        /* a value at s->pos (whitespace skipped) */
        if (s->pos >= n) {
            fail(s, JV_E_SYNTAX, n);
            return NULL;
        }
        struct jv *v = arena_get(d, sizeof(struct jv), 1, s->hint);
        if (!v) {
            fail(s, JV_E_NOMEM, s->pos);
            return NULL;
        }
        v->_next = NULL;
        v->_key = key;
        v->_len = 0;
        uint32_t type;
        uint8_t c = s->p[s->pos];
        if (emb && (c == '"' || c == '\\'))
            c = at_quote(s, emb) ? '"' : 0; /* a raw '"' ends the holding string */
        int open = 0, whole = 0;
        switch (c) {
        case '{':
        case '[':
            type = c == '{' ? JV_OBJECT : JV_ARRAY;
            v->_u.first = NULL;
            if (!emb && key && wants_skip(s, key, klen)) {
                if (skip_tree(s, depth - base) < 0)
                    return NULL;
                v->_len = JV_SKIPPED_BIT;
                whole = 1;
                break;
            }
            open = 1;
            s->pos++;
            break;
        case '"':
            type = JV_STRING;
            if (!emb && wants_embedded(s, depth - base, key, klen)) {
                struct jv *t = parse_embedded(s, depth);
                if (t) {
                    /* refresh: the embedded frames may have moved the stack */
                    stk = d->_stack ? d->_stack : d->_stack0;
                    scap = d->_stack ? d->_stack_cap : JV_STACK0;
                    type = t->_kt & 7u;
                    v->_u.first = t->_u.first;
                    v->_len = t->_len | JV_EMBEDDED_BIT;
                    whole = 1;
                    break;
                }
                stk = d->_stack ? d->_stack : d->_stack0;
                scap = d->_stack ? d->_stack_cap : JV_STACK0;
            }
            if (parse_str(s, &v->_u.s, &v->_len, 0, emb) < 0)
                return NULL;
            break;
        case 't':
        case 'f':
        case 'n': {
            static const char *const lits[3] = {"true", "false", "null"};
            static const uint32_t types[3] = {JV_TRUE, JV_FALSE, JV_NULL};
            int li = c == 't' ? 0 : c == 'f' ? 1 : 2;
            size_t ll = strlen(lits[li]);
            if (n - s->pos < ll || memcmp(s->p + s->pos, lits[li], ll) != 0) {
                fail(s, JV_E_SYNTAX, s->pos);
                return NULL;
            }
            type = types[li];
            v->_u.num = 0;
            s->pos += ll;
            break;
        }
        default:
            if (c != '-' && !is_digit(c)) {
                fail(s, JV_E_SYNTAX, s->pos);
                return NULL;
            }
            type = JV_NUMBER;
            if (parse_number(s, &v->_u.num) < 0)
                return NULL;
            break;
        }
        /* jansson compatibility: its lexer swallows one NUL byte right
         * after a number or a literal (ungetting the NUL empties its
         * one-character buffer), so "[1\0]" is a valid document there (a
         * raw NUL cannot be inside an embedded text) */
        if (!emb && type != JV_STRING && !open && !whole && s->pos < n && s->p[s->pos] == 0)
            s->pos++;
        v->_kt = (klen << 3) | type;
        key = NULL;
        klen = 0;
        /* attach to the open container */
        if (depth == base) {
            root = v;
        } else {
            struct jv_frame *f = &stk[depth - 1];
            if (f->_last)
                f->_last->_next = v;
            else
                f->_node->_u.first = v;
            f->_last = v;
            f->_node->_len++;
        }
        if (open) {
            if (depth - base >= maxd) {
                fail(s, JV_E_DEPTH, s->pos - 1);
                return NULL;
            }
            if (ensure_stack(d, depth, &stk, &scap) < 0) {
                fail(s, JV_E_NOMEM, s->pos);
                return NULL;
            }
            stk[depth]._node = v;
            stk[depth]._last = NULL;
            depth++;
            skip_ws(s, emb);
            if (s->pos < n && s->p[s->pos] == (type == JV_OBJECT ? '}' : ']')) {
                s->pos++;
                depth--;
            } else {
                if (type == JV_OBJECT && parse_key(s, &key, &klen, emb) < 0)
                    return NULL;
                skip_ws(s, emb);
                continue;
            }
        }
        /* after a complete value: ',' or the close of its container */
        for (;;) {
            if (depth != base && (stk[depth - 1]._node->_kt & 7u) == JV_OBJECT) {
                int r = next_member(s, &key, &klen, emb);
                if (r < 0)
                    return NULL;
                if (r)
                    break; /* next value */
            }
            skip_ws(s, emb);
            if (depth == base) {
                if (emb) { /* the closing quote of the holding string */
                    if (s->pos >= n || s->p[s->pos] != '"') {
                        fail(s, JV_E_TRAILING, s->pos);
                        return NULL;
                    }
                    s->pos++;
                    return root;
                }
                if (s->pos != n) {
                    fail(s, JV_E_TRAILING, s->pos);
                    return NULL;
                }
                return root;
            }
            if (s->pos >= n) {
                fail(s, JV_E_SYNTAX, n);
                return NULL;
            }
            struct jv *top = stk[depth - 1]._node;
            int obj = (top->_kt & 7u) == JV_OBJECT;
            c = s->p[s->pos];
            if (c == ',') {
                s->pos++;
                if (obj && parse_key(s, &key, &klen, emb) < 0)
                    return NULL;
                skip_ws(s, emb);
                break; /* next value */
            }
            if (c != (obj ? '}' : ']')) {
                fail(s, JV_E_SYNTAX, s->pos);
                return NULL;
            }
            s->pos++;
            if (obj && check_dups(s, top) < 0)
                return NULL;
            depth--;
        }
    }
}

/* The string value at s->pos (its opening '"') read as the JSON text it
 * holds, in the same pass, its frames from stack depth base on: succeeds
 * only when the text's own strings hold no escape (the text has no
 * backslash but its '\"' quotes), it is whitespace-free but for spaces and
 * nothing follows the value; then s->pos is past the closing '"'. Else
 * NULL with s and the error as they were, and the memory it took given
 * back when it fits in the current block: the caller reads the string the
 * usual way. A text it accepts gives the tree jv_parse gives for the
 * unescaped string. */
static __attribute__((noinline)) struct jv *parse_embedded(struct pstate *s, size_t base)
{
    struct jv_doc *d = s->d;
    struct jv_blk *blk = d->_blk;
    char *cur = d->_cur, *end = d->_end;
    struct pstate e = *s;
    e.pos = s->pos + 1;
    struct jv *t = parse_tree(&e, base, 1);
    if (t) {
        s->pos = e.pos;
        return t;
    }
    d->_err = JV_OK;
    d->_err_off = 0;
    if (d->_blk == blk) {
        d->_cur = cur;
        d->_end = end;
    }
    return NULL;
}

struct jv *jv_parse(struct jv_doc *d, const void *data, size_t n)
{
    struct pstate s = {d, data, n, 0, 0};
    d->_err = JV_OK;
    d->_err_off = 0;
    if (n > d->_cfg.max_input) {
        fail(&s, JV_E_SIZE, 0);
        return NULL;
    }
    d->_emb_klen = d->_cfg.embedded_key ? strlen(d->_cfg.embedded_key) : 0;
    d->_skip_klen = d->_cfg.skip_key ? strlen(d->_cfg.skip_key) : 0;
    /* first block: room for a typical tree of this input at once */
    s.hint = n * 2 + 1024;
    skip_ws(&s, 0);
    if (s.pos >= n) {
        fail(&s, JV_E_EMPTY, s.pos);
        return NULL;
    }
    if (s.p[s.pos] != '{' && s.p[s.pos] != '[') {
        fail(&s, JV_E_TOP, s.pos);
        return NULL;
    }
    return parse_tree(&s, 0, 0);
}
