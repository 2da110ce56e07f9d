/* str.h -- copying C strings into fixed buffers without snprintf's cost
 * (its format parsing was 3 % of the instructions of a bench run, most of
 * it for "%s"). */
#ifndef OSRCA_STR_H
#define OSRCA_STR_H

#include <stddef.h>
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

#endif
