/* swar.h -- eight bytes at a time in a 64-bit word ("SIMD within a
 * register"): byte-class tests for the scanners of JSON strings, text to
 * redact and JSON output. Load the word with memcpy (any alignment).
 *
 * Each test returns the word with the high bit set in every byte it flags.
 * Zero means no byte of the class; when not zero, the lowest flagged byte
 * is a true one (a borrow only runs upwards from a true hit, so bytes above
 * it may be flagged falsely): on a little-endian load it is the first in
 * memory. */
#ifndef OSRCA_SWAR_H
#define OSRCA_SWAR_H

#include <stdint.h>

#define SWAR_ONES 0x0101010101010101ULL
#define SWAR_HIGHS 0x8080808080808080ULL

/* Bytes equal to b. */
static inline uint64_t swar_eq(uint64_t x, unsigned char b)
{
    uint64_t y = x ^ (SWAR_ONES * b);
    return (y - SWAR_ONES) & ~y & SWAR_HIGHS;
}

/* Bytes below n (n <= 128). */
static inline uint64_t swar_lt(uint64_t x, unsigned char n)
{
    return (x - SWAR_ONES * n) & ~x & SWAR_HIGHS;
}

/* Bytes below n (n <= 128) or at 0x80 and above. */
static inline uint64_t swar_lt_or_high(uint64_t x, unsigned char n)
{
    return ((x - SWAR_ONES * n) | x) & SWAR_HIGHS;
}

#endif
