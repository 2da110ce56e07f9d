/* mem.h -- accounted allocation: per-subsystem pools with a memcap.
 *
 * At the cap an allocation returns NULL and counts a failure; the caller
 * degrades (drops that stream's state, reports a gap) and carries on. Only
 * start-up code may treat NULL as fatal. */
#ifndef OSRCA_MEM_H
#define OSRCA_MEM_H

#include <stddef.h>
#include <stdint.h>

/* MEM_ASAN: 1 in an AddressSanitizer build (GCC or clang), whose allocator
 * must see every block and has no heap of glibc's to tune. */
#if defined(__SANITIZE_ADDRESS__)
#define MEM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEM_ASAN 1
#endif
#endif
#ifndef MEM_ASAN
#define MEM_ASAN 0
#endif

struct mem_pool {
    const char *name; /* static string, e.g. "reasm" */
    size_t cap;       /* 0 = unlimited */
    size_t used;
    size_t peak;
    uint64_t fails; /* allocations refused at the cap or by malloc */
};

/* Initialise a pool; name must outlive it. */
void mem_pool_init(struct mem_pool *pool, const char *name, size_t cap);

/* Allocate n bytes charged to pool (pool may be NULL: unaccounted).
 * Returns NULL at the cap or on malloc failure; fails is incremented. */
void *mem_alloc(struct mem_pool *pool, size_t n);
void *mem_calloc(struct mem_pool *pool, size_t n);
/* Resize p from old_n to new_n bytes; on failure p is untouched, NULL returned. */
void *mem_realloc(struct mem_pool *pool, void *p, size_t old_n, size_t new_n);
/* Release p (NULL accepted), which was charged n bytes. */
void mem_free(struct mem_pool *pool, void *p, size_t n);

/* A cache of freed blocks of one size for reuse: glibc's own per-thread
 * cache stops at 1 KiB, and bigger blocks freed and taken again at a high
 * rate (events) cost a trip through its bins each time. At most max
 * blocks are held (size * max bytes, charged to no pool while held); a
 * block is charged to the pool given while in use. One thread only. */
/* Set up with a static initialiser: {size, max, 0, NULL}. */
struct mem_cache {
    size_t size;  /* bytes per block (>= sizeof(void *)) */
    unsigned max; /* blocks held at most */
    unsigned n;   /* blocks held now */
    void *head;   /* held blocks, linked through their first word */
};

/* A block of c->size bytes charged to pool, or NULL (cap, malloc). */
void *mem_cache_alloc(struct mem_cache *c, struct mem_pool *pool);
/* Give back a block of c taken with pool (NULL accepted). */
void mem_cache_free(struct mem_cache *c, struct mem_pool *pool, void *p);

/* Fault injection for fuzzing: when set, each accounted allocation fails
 * with probability 1/every (0 disables). Deterministic PRNG, seedable. */
void mem_fail_every(unsigned every, uint32_t seed);

#endif
