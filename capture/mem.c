/* mem.c -- accounted allocation with memcaps (see mem.h). */
#include "capture/mem.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

static unsigned fail_every;
static uint32_t fail_state = 1;

void mem_fail_every(unsigned every, uint32_t seed)
{
    fail_every = every;
    fail_state = seed ? seed : 1;
}

static int injected_failure(void)
{
    if (!fail_every)
        return 0;
    fail_state ^= fail_state << 13;
    fail_state ^= fail_state >> 17;
    fail_state ^= fail_state << 5;
    return fail_state % fail_every == 0;
}

void mem_pool_init(struct mem_pool *pool, const char *name, size_t cap)
{
    pool->name = name;
    pool->cap = cap;
    pool->used = 0;
    pool->peak = 0;
    pool->fails = 0;
}

static int charge(struct mem_pool *pool, size_t n)
{
    if (!pool)
        return 0;
    if (injected_failure() || (pool->cap && (n > pool->cap || pool->used > pool->cap - n))) {
        pool->fails++;
        return -1;
    }
    pool->used += n;
    if (pool->used > pool->peak)
        pool->peak = pool->used;
    return 0;
}

/* Blocks of 1 to 4 KiB are handed out in size classes (128-byte steps), and
 * freed ones are kept per class for the next request of that class (at
 * most CLS_KEEP bytes a class, charged to no pool while kept): parser buffers
 * and connection states come and go by the hundred thousand, mostly past
 * glibc's per-thread cache, and each trip through its bins was a visible
 * part of a run. A block is kept only when malloc_usable_size says it
 * holds the whole class (one freed here but taken elsewhere is just
 * freed). One thread: the parsers'. */
#define CLS_MIN 1024 /* up to this, glibc's per-thread cache: exact sizes */
#define CLS_MAX 4096
#define CLS_STEP 128
#define CLS_N ((CLS_MAX - CLS_MIN) / CLS_STEP)
#define CLS_KEEP (64u << 10) /* so at most 1.5 MiB kept in all */

/* Sanitizer builds hand every block back to malloc: a block kept here
 * would hide a use after free from ASan. */
#define CLS_OFF MEM_ASAN

static _Thread_local struct {
    void *head;
    size_t bytes;
} cls[CLS_N];

/* 1 if blocks of n bytes are handed out by class (never under ASan). */
static inline int classed(size_t n)
{
    return !CLS_OFF && n > CLS_MIN && n <= CLS_MAX;
}

/* Class of a classed request of n bytes, and its block size. */
static inline size_t cls_of(size_t n)
{
    return (n - CLS_MIN - 1) / CLS_STEP;
}

static inline size_t cls_size(size_t c)
{
    return CLS_MIN + (c + 1) * CLS_STEP;
}

static void *raw_alloc(size_t n)
{
    if (!classed(n))
        return malloc(n ? n : 1);
    size_t c = cls_of(n);
    void *p = cls[c].head;
    if (p) {
        cls[c].head = *(void **)p;
        cls[c].bytes -= cls_size(c);
        return p;
    }
    return malloc(cls_size(c));
}

static void raw_free(void *p, size_t n)
{
    if (classed(n)) {
        size_t c = cls_of(n), sz = cls_size(c);
        if (cls[c].bytes + sz <= CLS_KEEP && malloc_usable_size(p) >= sz) {
            *(void **)p = cls[c].head;
            cls[c].head = p;
            cls[c].bytes += sz;
            return;
        }
    }
    free(p);
}

void *mem_alloc(struct mem_pool *pool, size_t n)
{
    if (charge(pool, n) < 0)
        return NULL;
    void *p = raw_alloc(n);
    if (!p && pool) {
        pool->used -= n;
        pool->fails++;
    }
    return p;
}

void *mem_calloc(struct mem_pool *pool, size_t n)
{
    if (charge(pool, n) < 0)
        return NULL;
    int cls_used = classed(n);
    void *p = cls_used ? raw_alloc(n) : calloc(1, n ? n : 1);
    if (!p) {
        if (pool) {
            pool->used -= n;
            pool->fails++;
        }
        return NULL;
    }
    if (cls_used)
        memset(p, 0, n);
    return p;
}

void *mem_realloc(struct mem_pool *pool, void *p, size_t old_n, size_t new_n)
{
    if (new_n > old_n && charge(pool, new_n - old_n) < 0)
        return NULL;
    void *q;
    if (!p) {
        q = raw_alloc(new_n);
    } else if (!classed(old_n) && !classed(new_n)) {
        q = realloc(p, new_n ? new_n : 1);
    } else if (classed(old_n) && classed(new_n) && cls_of(old_n) == cls_of(new_n) &&
               malloc_usable_size(p) >= new_n) {
        q = p; /* the class holds it already (a block taken elsewhere: checked) */
    } else {
        q = raw_alloc(new_n);
        if (q) {
            memcpy(q, p, old_n < new_n ? old_n : new_n);
            raw_free(p, old_n);
        }
    }
    if (!q) {
        if (pool && new_n > old_n) {
            pool->used -= new_n - old_n;
            pool->fails++;
        }
        return NULL;
    }
    if (pool && new_n < old_n)
        pool->used -= old_n - new_n;
    return q;
}

void mem_free(struct mem_pool *pool, void *p, size_t n)
{
    if (!p)
        return;
    if (pool)
        pool->used = pool->used >= n ? pool->used - n : 0;
    raw_free(p, n);
}

void *mem_cache_alloc(struct mem_cache *c, struct mem_pool *pool)
{
    if (!c->head)
        return mem_alloc(pool, c->size);
    if (charge(pool, c->size) < 0)
        return NULL;
    void *p = c->head;
    c->head = *(void **)p;
    c->n--;
    return p;
}

void mem_cache_free(struct mem_cache *c, struct mem_pool *pool, void *p)
{
    if (!p)
        return;
    if (c->n >= c->max) {
        mem_free(pool, p, c->size);
        return;
    }
    if (pool)
        pool->used = pool->used >= c->size ? pool->used - c->size : 0;
    *(void **)p = c->head;
    c->head = p;
    c->n++;
}
