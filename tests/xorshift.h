/* xorshift.h -- the tests' reproducible random stream: Marsaglia's
 * xorshift64 (shifts 13, 7, 17). Each test keeps its own state and seed,
 * so a failure replays the same inputs. */
#ifndef OSRCA_TESTS_XORSHIFT_H
#define OSRCA_TESTS_XORSHIFT_H

#include <stdint.h>

/* Advance *s (never 0) and return the new state. */
static inline uint64_t xorshift64(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

#endif
