/* jw.c -- JSON output lines (see jw.h). */
#include "cli/jw.h"

#include <stdlib.h>
#include <string.h>

#include "capture/swar.h"
#include "parsers/jv.h"

enum jw_type { JW_OBJ, JW_ARR, JW_STR, JW_INT, JW_TRUE, JW_FALSE, JW_NULL, JW_RAW };

struct jw_node {
    struct jw_node *next; /* next member / element */
    const char *key;      /* member key (not copied), NULL in arrays */
    enum jw_type type;
    size_t n; /* members / elements, or string length */
    union {
        struct {
            struct jw_node *first, *last;
        } c;
        const char *s;
        long long i; /* JW_INT; JW_RAW: offset of its n bytes in tbuf */
    } u;
};

/* Room for the members of the objects being written (a stack: an object
 * sorts its members above those of the objects that contain it). */
struct jw_scratch {
    const struct jw_node **v;
    size_t top, cap;
};

void jw_init(struct jw *w)
{
    memset(w, 0, sizeof(*w));
    arena_init(&w->arena, NULL, 16384);
}

void jw_reset(struct jw *w)
{
    arena_reset(&w->arena);
    w->nomem = 0;
    w->tlen = 0;
    w->tdepth = 0;
}

struct jw *jw_thread_writer(void)
{
    static _Thread_local struct jw w;
    static _Thread_local int ready;
    if (!ready) {
        jw_init(&w);
        ready = 1;
    }
    return &w;
}

void jw_free(struct jw *w)
{
    arena_reset(&w->arena);
    free(w->buf);
    w->buf = NULL;
    w->len = w->cap = 0;
    free(w->tbuf);
    w->tbuf = NULL;
    w->tlen = w->tcap = 0;
}

static struct jw_node *node(struct jw *w, enum jw_type t)
{
    struct jw_node *v = arena_alloc(&w->arena, sizeof(*v));
    if (!v) {
        w->nomem = 1;
        return NULL;
    }
    memset(v, 0, sizeof(*v));
    v->type = t;
    return v;
}

struct jw_node *jw_object(struct jw *w)
{
    return node(w, JW_OBJ);
}

struct jw_node *jw_array(struct jw *w)
{
    return node(w, JW_ARR);
}

/* Valid UTF-8 all through (what json_string asks of its argument). */
static int utf8_ok(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (i + 8 <= n) { /* ASCII runs 8 bytes a step */
            uint64_t x;
            memcpy(&x, s + i, 8);
            if (!(x & 0x8080808080808080ULL)) {
                i += 8;
                continue;
            }
        }
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = jv_utf8_len(s + i, n - i);
        if (!l)
            return 0;
        i += l;
    }
    return 1;
}

struct jw_node *jw_str(struct jw *w, const char *s)
{
    struct jw_node *v = jw_str_ref(w, s);
    if (!v)
        return NULL;
    char *c = arena_strndup(&w->arena, s, v->n);
    if (!c) {
        w->nomem = 1;
        return NULL;
    }
    v->u.s = c;
    return v;
}

struct jw_node *jw_str_ref(struct jw *w, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    if (!utf8_ok(s, n))
        return NULL;
    struct jw_node *v = node(w, JW_STR);
    if (!v)
        return NULL;
    v->u.s = s;
    v->n = n;
    return v;
}

struct jw_node *jw_int(struct jw *w, long long i)
{
    struct jw_node *v = node(w, JW_INT);
    if (v)
        v->u.i = i;
    return v;
}

struct jw_node *jw_bool(struct jw *w, int b)
{
    return node(w, b ? JW_TRUE : JW_FALSE);
}

struct jw_node *jw_null(struct jw *w)
{
    return node(w, JW_NULL);
}

static void append(struct jw_node *c, struct jw_node *v)
{
    if (c->u.c.last)
        c->u.c.last->next = v;
    else
        c->u.c.first = v;
    c->u.c.last = v;
    c->n++;
}

void jw_set(struct jw *w, struct jw_node *o, const char *key, struct jw_node *v)
{
    (void)w;
    if (!o || !v || !key || o->type != JW_OBJ)
        return;
    v->key = key;
    append(o, v);
}

void jw_push(struct jw *w, struct jw_node *a, struct jw_node *v)
{
    (void)w;
    if (!a || !v || a->type != JW_ARR)
        return;
    v->key = NULL;
    append(a, v);
}

/* x in decimal, as "%lld" (snprintf costs ~750 instructions a number),
 * at the end of num[24]; returns its length. */
static size_t fmt_int(char num[24], long long x)
{
    unsigned long long u = x < 0 ? 0ULL - (unsigned long long)x : (unsigned long long)x;
    char *e = num + 24, *q = e;
    do {
        *--q = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (x < 0)
        *--q = '-';
    return (size_t)(e - q);
}

/* ---- texts written at once ------------------------------------------- */

static int room_in(char **buf, size_t *len, size_t *cap, size_t n);
static int put_string_in(char **buf, size_t *len, size_t *cap, const char *s, size_t n);

static void t_bytes(struct jw *w, const char *s, size_t n)
{
    if (room_in(&w->tbuf, &w->tlen, &w->tcap, n) < 0) {
        w->nomem = 1;
        return;
    }
    memcpy(w->tbuf + w->tlen, s, n);
    w->tlen += n;
}

/* The separator and "key": of the next value of the innermost container. */
static int t_key(struct jw *w, const char *key)
{
    if (w->tdepth <= 0 || w->tdepth > JW_T_DEPTH) {
        w->nomem = 1; /* no container open: a misuse, the line is dropped */
        return -1;
    }
    if (w->tcount[w->tdepth - 1]++)
        t_bytes(w, ",", 1);
    if (key) {
        if (put_string_in(&w->tbuf, &w->tlen, &w->tcap, key, strlen(key)) < 0)
            w->nomem = 1;
        t_bytes(w, ":", 1);
    }
    return 0;
}

void jw_t_begin(struct jw *w)
{
    w->tstart = w->tlen;
    w->tdepth = 0;
}

void jw_t_open(struct jw *w, const char *key, int array)
{
    if (w->tdepth >= JW_T_DEPTH || (w->tdepth && t_key(w, key) < 0)) {
        w->nomem = 1;
        return;
    }
    t_bytes(w, array ? "[" : "{", 1);
    w->tclose[w->tdepth] = array ? ']' : '}';
    w->tcount[w->tdepth++] = 0;
}

void jw_t_close(struct jw *w)
{
    if (w->tdepth <= 0) {
        w->nomem = 1;
        return;
    }
    t_bytes(w, &w->tclose[--w->tdepth], 1);
}

void jw_t_str(struct jw *w, const char *key, const char *s)
{
    if (!s)
        return;
    size_t n = strlen(s);
    if (!utf8_ok(s, n) || t_key(w, key) < 0)
        return;
    if (put_string_in(&w->tbuf, &w->tlen, &w->tcap, s, n) < 0)
        w->nomem = 1;
}

void jw_t_int(struct jw *w, const char *key, long long v)
{
    if (t_key(w, key) < 0)
        return;
    char num[24];
    size_t n = fmt_int(num, v);
    t_bytes(w, num + sizeof(num) - n, n);
}

void jw_t_bool(struct jw *w, const char *key, int b)
{
    if (t_key(w, key) < 0)
        return;
    t_bytes(w, b ? "true" : "false", b ? 4 : 5);
}

struct jw_node *jw_t_end(struct jw *w)
{
    if (w->tdepth != 0 || w->nomem) {
        w->nomem = 1;
        return NULL;
    }
    struct jw_node *v = node(w, JW_RAW);
    if (!v)
        return NULL;
    v->u.i = (long long)w->tstart;
    v->n = w->tlen - w->tstart;
    return v;
}

/* ---- writing ---------------------------------------------------------- */

/* Room for n more bytes (and one) in a growing buffer. */
static int room_in(char **buf, size_t *len, size_t *cap, size_t n)
{
    if (*cap - *len > n)
        return 0;
    size_t c = *cap ? *cap : 65536;
    while (c - *len <= n)
        c *= 2;
    char *b = realloc(*buf, c);
    if (!b)
        return -1;
    *buf = b;
    *cap = c;
    return 0;
}

static int room(struct jw *w, size_t n)
{
    return room_in(&w->buf, &w->len, &w->cap, n);
}

static int put(struct jw *w, const char *s, size_t n)
{
    if (room(w, n) < 0)
        return -1;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    return 0;
}

/* Bytes a JSON string must escape: '"', '\\' and controls. */
static const unsigned char must_escape[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    ['"'] = 1, ['\\'] = 1,
};

static int put_string_in(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    /* worst case: every byte a 6-byte \u00XX */
    if (room_in(buf, len, cap, n * 6 + 2) < 0)
        return -1;
    char *o = *buf + *len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        /* runs without '"', '\\' or controls: 8 bytes a step */
        while (i + 8 <= n) {
            uint64_t x;
            memcpy(&x, s + i, 8);
            if (swar_eq(x, '"') | swar_eq(x, '\\') | swar_lt(x, 0x20))
                break;
            memcpy(o, &x, 8);
            o += 8;
            i += 8;
        }
        if (i >= n)
            break;
        unsigned char c = (unsigned char)s[i];
        if (!must_escape[c]) {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default: {
            static const char hex[] = "0123456789ABCDEF";
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
        }
    }
    *o++ = '"';
    *len = (size_t)(o - *buf);
    return 0;
}

static int put_string(struct jw *w, const char *s, size_t n)
{
    return put_string_in(&w->buf, &w->len, &w->cap, s, n);
}

static int scratch_room(struct jw_scratch *sc, size_t n)
{
    if (sc->cap - sc->top >= n)
        return 0;
    size_t cap = sc->cap ? sc->cap : 256;
    while (cap - sc->top < n)
        cap *= 2;
    const struct jw_node **v = realloc(sc->v, cap * sizeof(*v));
    if (!v)
        return -1;
    sc->v = v;
    sc->cap = cap;
    return 0;
}

/* strcmp of two member keys, inline: keys are short literals, where the
 * library call costs more than the bytes compared. */
static inline int key_cmp(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return (unsigned char)*a - (unsigned char)*b;
}

static int render(struct jw *w, struct jw_scratch *sc, const struct jw_node *v, int depth)
{
    char num[24];
    if (depth > 64)
        return -1;
    switch (v->type) {
    case JW_NULL: return put(w, "null", 4);
    case JW_TRUE: return put(w, "true", 4);
    case JW_FALSE: return put(w, "false", 5);
    case JW_INT: {
        size_t n = fmt_int(num, v->u.i);
        return put(w, num + sizeof(num) - n, n);
    }
    case JW_STR: return put_string(w, v->u.s, v->n);
    case JW_RAW: return put(w, w->tbuf + v->u.i, v->n);
    case JW_ARR: {
        if (put(w, "[", 1) < 0)
            return -1;
        for (const struct jw_node *x = v->u.c.first; x; x = x->next)
            if ((x != v->u.c.first && put(w, ",", 1) < 0) || render(w, sc, x, depth + 1) < 0)
                return -1;
        return put(w, "]", 1);
    }
    case JW_OBJ: {
        /* members by key (strcmp order, as JSON_SORT_KEYS); insertion sort
         * is stable, so of equal keys the last set comes last and wins */
        if (scratch_room(sc, v->n) < 0)
            return -1;
        size_t base = sc->top, m = 0;
        const struct jw_node **a = sc->v + base;
        for (const struct jw_node *x = v->u.c.first; x; x = x->next) {
            size_t j = m++;
            while (j > 0 && key_cmp(a[j - 1]->key, x->key) > 0) {
                a[j] = a[j - 1];
                j--;
            }
            a[j] = x;
        }
        sc->top += m;
        int rc = put(w, "{", 1);
        int first = 1;
        for (size_t i = 0; rc == 0 && i < m; i++) {
            if (i + 1 < m && key_cmp(a[i]->key, a[i + 1]->key) == 0)
                continue; /* set again later */
            if ((!first && put(w, ",", 1) < 0) || put_string(w, a[i]->key, strlen(a[i]->key)) < 0 ||
                put(w, ":", 1) < 0 || render(w, sc, a[i], depth + 1) < 0)
                rc = -1;
            first = 0;
            a = sc->v + base; /* the scratch may have moved */
        }
        sc->top = base;
        return rc < 0 ? -1 : put(w, "}", 1);
    }
    }
    return -1;
}

int jw_render(struct jw *w, const struct jw_node *v)
{
    w->len = 0;
    if (!v || w->nomem || (v->type != JW_OBJ && v->type != JW_ARR && v->type != JW_RAW))
        return -1;
    struct jw_scratch sc = {NULL, 0, 0};
    int rc = render(w, &sc, v, 0);
    free(sc.v);
    if (rc < 0 || room(w, 1) < 0) {
        w->len = 0;
        return -1;
    }
    w->buf[w->len] = '\0';
    return 0;
}

int jw_write_line(struct jw *w, FILE *f, const struct jw_node *v)
{
    int rc = jw_render(w, v);
    if (rc == 0) {
        w->buf[w->len] = '\n';
        fwrite(w->buf, 1, w->len + 1, f);
    }
    jw_reset(w);
    return rc;
}
