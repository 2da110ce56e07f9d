/* str.h -- copying C strings into fixed buffers without snprintf's cost
 * (its format parsing was 3 % of the instructions of a bench run, most of
 * it for "%s"). */
#ifndef OSRCA_STR_H
#define OSRCA_STR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* dst = src, cut to cap - 1 bytes, always terminated (cap > 0), as
 * snprintf(dst, cap, "%s", src) does. Returns the length stored. */
static inline size_t str_copy(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
    return n;
}

/* Append the strings of the NULL-ended list (a NULL string before the end
 * is not allowed: pass "") to dst at length at, cut to cap - 1 bytes,
 * always terminated (cap > 0); as snprintf(dst, cap, "%s%s...") without
 * the format parsing. Returns the length stored. */
static inline size_t str_join(char *dst, size_t cap, const char *const *parts)
{
    size_t at = 0;
    for (; *parts && at + 1 < cap; parts++) {
        size_t n = strnlen(*parts, cap - 1 - at);
        memcpy(dst + at, *parts, n);
        at += n;
    }
    dst[at] = '\0';
    return at;
}

/* FNV-1a of [p, p+n) on top of h (start with STR_FNV_BASIS): the one
 * hash of message identities, span ids and verdict keys. */
#define STR_FNV_BASIS 14695981039346656037ull
static inline uint64_t str_fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 1099511628211ull;
    return h;
}

#define STR_JOIN(dst, cap, ...) str_join((dst), (cap), (const char *const[]){__VA_ARGS__, NULL})

/* The value of hexadecimal digit c (either case), -1 when c is none. */
static inline int str_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Hash of [s, s+n), 8 bytes a step: the keys hashed per message (ids of
 * 30 to 50 bytes) made a byte-at-a-time hash a visible part of a run. */
static inline uint64_t str_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull ^ (n * 0x9E3779B97F4A7C15ull);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 32;
        s += 8;
        n -= 8;
    }
    uint64_t t = 0;
    memcpy(&t, s, n);
    h = (h ^ t) * 0xC4CEB9FE1A85EC53ull;
    return h ^ (h >> 29);
}

#endif
