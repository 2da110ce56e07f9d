/* arena.c -- bump allocator (see arena.h). */
#include "capture/arena.h"

#include <string.h>

struct arena_block {
    struct arena_block *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    size_t charged;
    _Alignas(8) unsigned char data[];
};

_Static_assert(sizeof(struct arena_block) == ARENA_BLOCK_HDR, "ARENA_BLOCK_HDR");

void arena_init(struct arena *a, struct mem_pool *pool, size_t block_size)
{
    a->pool = pool;
    a->head = NULL;
    a->own = NULL;
    a->block_size = block_size ? block_size : 4096;
    a->total = 0;
}

void arena_init_buf(struct arena *a, struct mem_pool *pool, size_t block_size, void *buf,
                    size_t n)
{
    arena_init(a, pool, block_size);
    struct arena_block *b = buf;
    b->next = NULL;
    b->size = n - sizeof(*b);
    b->used = 0;
    b->charged = 0;
    a->head = a->own = b;
}

void *arena_alloc(struct arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (n == 0)
        n = 8;
    struct arena_block *b = a->head;
    if (!b || b->size - b->used < n) {
        size_t size = n > a->block_size ? n : a->block_size;
        size_t charged = sizeof(*b) + size;
        b = mem_alloc(a->pool, charged);
        if (!b)
            return NULL;
        b->size = size;
        b->used = 0;
        b->charged = charged;
        a->total += charged;
        if (a->head && n > a->block_size) {
            /* keep the partly used head in front for small allocations */
            b->next = a->head->next;
            a->head->next = b;
        } else {
            b->next = a->head;
            a->head = b;
        }
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

char *arena_strndup(struct arena *a, const void *p, size_t n)
{
    char *s = arena_alloc(a, n + 1);
    if (!s)
        return NULL;
    if (n)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

char *arena_strdup(struct arena *a, const char *s)
{
    return s ? arena_strndup(a, s, strlen(s)) : NULL;
}

void arena_reset(struct arena *a)
{
    struct arena_block *b = a->head;
    while (b) {
        struct arena_block *next = b->next;
        if (b != a->own)
            mem_free(a->pool, b, b->charged);
        b = next;
    }
    a->head = a->own;
    if (a->own) {
        a->own->next = NULL;
        a->own->used = 0;
    }
    a->total = 0;
}
