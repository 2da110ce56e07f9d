/* amqp_build.h -- builders of AMQP 0-9-1 wire bytes for the parser tests
 * (check_amqp.c, check_oslo.c): big-endian integers, short/long strings,
 * and frames (type, channel, size, payload, 0xCE). No bounds checks: test
 * inputs are small and fixed. */
#ifndef OSRCA_TESTS_AMQP_BUILD_H
#define OSRCA_TESTS_AMQP_BUILD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct buf {
    uint8_t b[1 << 18];
    size_t n;
};

static inline void put8(struct buf *b, uint8_t v)
{
    b->b[b->n++] = v;
}
static inline void put16(struct buf *b, uint16_t v)
{
    put8(b, (uint8_t)(v >> 8));
    put8(b, (uint8_t)v);
}
static inline void put32(struct buf *b, uint32_t v)
{
    put16(b, (uint16_t)(v >> 16));
    put16(b, (uint16_t)v);
}
static inline void put64(struct buf *b, uint64_t v)
{
    put32(b, (uint32_t)(v >> 32));
    put32(b, (uint32_t)v);
}
static inline void putmem(struct buf *b, const void *p, size_t n)
{
    memcpy(b->b + b->n, p, n);
    b->n += n;
}
static inline void putss(struct buf *b, const char *s)
{
    put8(b, (uint8_t)strlen(s));
    putmem(b, s, strlen(s));
}
static inline void putls(struct buf *b, const void *p, size_t n)
{
    put32(b, (uint32_t)n);
    putmem(b, p, n);
}

/* Wrap payload pl as a frame of type t on channel ch. */
static inline void frame(struct buf *out, uint8_t t, uint16_t ch, const struct buf *pl)
{
    put8(out, t);
    put16(out, ch);
    put32(out, (uint32_t)pl->n);
    putmem(out, pl->b, pl->n);
    put8(out, 0xCE);
}

#endif
