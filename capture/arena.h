/* arena.h -- bump allocator for objects that die together (an event, a
 * chain, a packet's scratch). Charged to an accounted pool. */
#ifndef OSRCA_ARENA_H
#define OSRCA_ARENA_H

#include <stddef.h>
#include <stdint.h>

#include "capture/mem.h"

struct arena_block;

struct arena {
    struct mem_pool *pool; /* may be NULL */
    struct arena_block *head;
    size_t block_size; /* default block size, 0 = 4096 */
    size_t total;      /* bytes charged to pool */
};

void arena_init(struct arena *a, struct mem_pool *pool, size_t block_size);
/* n bytes aligned to 8; NULL at the pool's cap. */
void *arena_alloc(struct arena *a, size_t n);
/* Copy of [p, p+n) with a NUL appended; NULL at the cap. */
char *arena_strndup(struct arena *a, const void *p, size_t n);
char *arena_strdup(struct arena *a, const char *s); /* s NULL -> NULL */
/* Free every block (the arena stays usable). */
void arena_reset(struct arena *a);

#endif
