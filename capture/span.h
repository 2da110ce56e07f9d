/* span.h -- byte spans, result codes and checked big-endian readers.
 *
 * The libc-only foundation every layer may include. A cursor {p, end} is
 * read only through rd_*(); a short read sets a sticky error and returns 0,
 * so a structure is decoded first and checked once (rd_ok) afterwards. */
#ifndef OSRCA_SPAN_H
#define OSRCA_SPAN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct span {
    const uint8_t *p;
    size_t n;
};

/* Checked reader over [p, end). err is sticky: once set, every read returns
 * 0 and consumes nothing. */
struct rd {
    const uint8_t *p;
    const uint8_t *end;
    int err;
};

static inline struct rd rd_init(const uint8_t *p, size_t n)
{
    struct rd r = {p, p + n, 0};
    return r;
}

static inline size_t rd_left(const struct rd *r)
{
    return r->err ? 0 : (size_t)(r->end - r->p);
}

static inline int rd_ok(const struct rd *r)
{
    return !r->err;
}

static inline int rd_need(struct rd *r, size_t n)
{
    if (r->err || (size_t)(r->end - r->p) < n) {
        r->err = 1;
        return 0;
    }
    return 1;
}

static inline uint8_t rd_u8(struct rd *r)
{
    if (!rd_need(r, 1))
        return 0;
    return *r->p++;
}

/* Big-endian loads at p, unchecked: the caller has made sure of the
 * bytes (the rd_ readers below check, then use them). */
static inline uint16_t be16_at(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t be32_at(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint16_t rd_be16(struct rd *r)
{
    if (!rd_need(r, 2))
        return 0;
    uint16_t v = be16_at(r->p);
    r->p += 2;
    return v;
}

static inline uint32_t rd_be32(struct rd *r)
{
    if (!rd_need(r, 4))
        return 0;
    uint32_t v = be32_at(r->p);
    r->p += 4;
    return v;
}

static inline uint64_t rd_be64(struct rd *r)
{
    uint64_t hi = rd_be32(r);
    uint64_t lo = rd_be32(r);
    return (hi << 32) | lo;
}

/* A sub-span of n bytes; {NULL, 0} and the error set when short. */
static inline struct span rd_span(struct rd *r, size_t n)
{
    struct span s = {NULL, 0};
    if (!rd_need(r, n))
        return s;
    s.p = r->p;
    s.n = n;
    r->p += n;
    return s;
}

static inline void rd_skip(struct rd *r, size_t n)
{
    if (rd_need(r, n))
        r->p += n;
}

/* Case-insensitive equality of a span and a NUL-terminated literal. */
static inline int span_ieq(const uint8_t *p, size_t n, const char *lit)
{
    size_t i;
    for (i = 0; i < n && lit[i]; i++) {
        uint8_t a = p[i], b = (uint8_t)lit[i];
        if (a >= 'A' && a <= 'Z')
            a = (uint8_t)(a + 32);
        if (b >= 'A' && b <= 'Z')
            b = (uint8_t)(b + 32);
        if (a != b)
            return 0;
    }
    return i == n && lit[i] == '\0';
}

#endif
