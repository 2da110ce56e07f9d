/* pb.c -- Protocol Buffers wire-format writer (see pb.h). */
#include "cli/out/pb.h"

#include <stdlib.h>
#include <string.h>

void pb_reset(struct pb *p)
{
    p->len = 0;
    p->nomem = 0;
    p->depth = 0;
    p->overflow = 0;
}

void pb_free(struct pb *p)
{
    free(p->buf);
    memset(p, 0, sizeof(*p));
}

/* Room for n more bytes; 0, or -1 (nomem set). */
static int room(struct pb *p, size_t n)
{
    if (p->nomem)
        return -1;
    if (p->len + n <= p->cap)
        return 0;
    size_t cap = p->cap ? p->cap * 2 : 4096;
    while (cap < p->len + n)
        cap *= 2;
    uint8_t *b = realloc(p->buf, cap);
    if (!b) {
        p->nomem = 1;
        return -1;
    }
    p->buf = b;
    p->cap = cap;
    return 0;
}

/* v as a varint into out (at least 10 bytes); its length. */
static size_t varint_to(uint8_t *out, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

static void raw_varint(struct pb *p, uint64_t v)
{
    if (room(p, 10) == 0)
        p->len += varint_to(p->buf + p->len, v);
}

static void tag(struct pb *p, uint32_t field, unsigned wire)
{
    raw_varint(p, ((uint64_t)field << 3) | wire);
}

void pb_varint(struct pb *p, uint32_t field, uint64_t v)
{
    tag(p, field, 0);
    raw_varint(p, v);
}

void pb_fixed64(struct pb *p, uint32_t field, uint64_t v)
{
    tag(p, field, 1);
    if (room(p, 8) < 0)
        return;
    for (int i = 0; i < 8; i++)
        p->buf[p->len++] = (uint8_t)(v >> (8 * i)); /* little-endian */
}

void pb_double(struct pb *p, uint32_t field, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    pb_fixed64(p, field, bits);
}

void pb_bytes(struct pb *p, uint32_t field, const void *d, size_t n)
{
    tag(p, field, 2);
    raw_varint(p, n);
    if (n && room(p, n) == 0) {
        memcpy(p->buf + p->len, d, n);
        p->len += n;
    }
}

void pb_string(struct pb *p, uint32_t field, const char *s)
{
    if (s)
        pb_bytes(p, field, s, strlen(s));
}

void pb_begin(struct pb *p, uint32_t field)
{
    if (p->depth >= PB_DEPTH) {
        p->overflow++;
        p->nomem = 1;
        return;
    }
    tag(p, field, 2);
    p->open[p->depth++] = p->len; /* the length goes here at pb_end */
}

void pb_end(struct pb *p)
{
    if (p->overflow) {
        p->overflow--;
        return;
    }
    if (p->depth <= 0)
        return;
    size_t at = p->open[--p->depth];
    if (p->nomem)
        return;
    size_t body = p->len - at;
    uint8_t lv[10];
    size_t ln = varint_to(lv, body);
    if (room(p, ln) < 0)
        return;
    memmove(p->buf + at + ln, p->buf + at, body);
    memcpy(p->buf + at, lv, ln);
    p->len += ln;
}
