/* mem.c -- accounted allocation with memcaps (see mem.h). */
#include "capture/mem.h"

#include <stdlib.h>

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

void *mem_alloc(struct mem_pool *pool, size_t n)
{
    if (charge(pool, n) < 0)
        return NULL;
    void *p = malloc(n ? n : 1);
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
    void *p = calloc(1, n ? n : 1);
    if (!p && pool) {
        pool->used -= n;
        pool->fails++;
    }
    return p;
}

void *mem_realloc(struct mem_pool *pool, void *p, size_t old_n, size_t new_n)
{
    if (new_n > old_n && charge(pool, new_n - old_n) < 0)
        return NULL;
    void *q = realloc(p, new_n ? new_n : 1);
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
    free(p);
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
