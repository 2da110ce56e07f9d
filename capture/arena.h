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
    struct arena_block *own; /* the caller's first block (arena_init_buf), or NULL */
    size_t block_size;       /* default block size, 0 = 4096 */
    size_t total;            /* bytes charged to pool */
};

void arena_init(struct arena *a, struct mem_pool *pool, size_t block_size);
/* Same, with [buf, buf+n) (8-aligned, n > ARENA_BLOCK_HDR, living as long
 * as the arena) used first: never freed, never charged, kept by
 * arena_reset. Saves a block allocation for arenas that usually stay small. */
#define ARENA_BLOCK_HDR 32
void arena_init_buf(struct arena *a, struct mem_pool *pool, size_t block_size, void *buf,
                    size_t n);
/* n bytes aligned to 8; NULL at the pool's cap. */
void *arena_alloc(struct arena *a, size_t n);
/* Copy of [p, p+n) with a NUL appended; NULL at the cap. */
char *arena_strndup(struct arena *a, const void *p, size_t n);
char *arena_strdup(struct arena *a, const char *s); /* s NULL -> NULL */
/* Free every block but the caller's (the arena stays usable). */
void arena_reset(struct arena *a);

#endif
