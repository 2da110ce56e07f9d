/* stats.c -- named counters and counted diagnostics (see stats.h). */
#include "capture/stats.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct counter {
    char name[STATS_NAME_MAX];
    uint64_t value;
    unsigned diags;
};

struct diag {
    int counter;
    uint64_t ts_us;
    char msg[STATS_DIAG_LEN];
};

struct stats {
    struct counter c[STATS_MAX_COUNTERS];
    size_t n;
    uint64_t overflow;
    struct diag d[STATS_DIAG_KEEP];
    size_t nd;
    /* open-addressing index name -> slot */
    int16_t idx[STATS_MAX_COUNTERS * 2];
    /* stats_counters: name tables already looked up */
    struct memo {
        const char *const *names;
        size_t n;
        uint64_t **ptrs;
    } memo[8];
    size_t nmemo;
};

static uint32_t hash_name(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s)
        h = (h ^ (uint8_t)*s++) * 16777619u;
    return h;
}

struct stats *stats_new(void)
{
    struct stats *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    for (size_t i = 0; i < sizeof(st->idx) / sizeof(st->idx[0]); i++)
        st->idx[i] = -1;
    return st;
}

void stats_free(struct stats *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->nmemo; i++)
        free(st->memo[i].ptrs);
    free(st);
}

static int find_slot(struct stats *st, const char *name, int create)
{
    size_t mask = sizeof(st->idx) / sizeof(st->idx[0]) - 1;
    size_t h = hash_name(name) & mask;
    for (;;) {
        int i = st->idx[h];
        if (i < 0)
            break;
        if (strcmp(st->c[i].name, name) == 0)
            return i;
        h = (h + 1) & mask;
    }
    if (!create || st->n >= STATS_MAX_COUNTERS || strlen(name) >= STATS_NAME_MAX)
        return -1;
    int i = (int)st->n++;
    snprintf(st->c[i].name, sizeof(st->c[i].name), "%s", name);
    st->idx[h] = (int16_t)i;
    return i;
}

uint64_t *stats_counter(struct stats *st, const char *name)
{
    int i = find_slot(st, name, 1);
    if (i < 0)
        return &st->overflow;
    return &st->c[i].value;
}

uint64_t *const *stats_counters_table(struct stats *st, const char *const *names, size_t n)
{
    for (size_t m = 0; m < st->nmemo; m++)
        if (st->memo[m].names == names && st->memo[m].n == n)
            return st->memo[m].ptrs;
    if (st->nmemo >= sizeof(st->memo) / sizeof(st->memo[0]))
        return NULL;
    uint64_t **p = malloc((n ? n : 1) * sizeof(*p));
    if (!p)
        return NULL;
    for (size_t i = 0; i < n; i++)
        p[i] = stats_counter(st, names[i]);
    st->memo[st->nmemo].names = names;
    st->memo[st->nmemo].n = n;
    st->memo[st->nmemo].ptrs = p;
    st->nmemo++;
    return p;
}

uint64_t *const *stats_counters_own(struct stats *st, const char *const *names, size_t n,
                                    struct mem_pool *pool, uint64_t ***own)
{
    *own = NULL;
    uint64_t *const *t = st ? stats_counters_table(st, names, n) : NULL;
    if (t)
        return t;
    uint64_t **p = mem_alloc(pool, STATS_OWN_BYTES(n ? n : 1));
    if (!p)
        return NULL;
    uint64_t *v = (uint64_t *)(p + n);
    for (size_t i = 0; i < n; i++) {
        v[i] = 0;
        p[i] = st ? stats_counter(st, names[i]) : &v[i];
    }
    *own = p;
    return p;
}

void stats_counters(struct stats *st, const char *const *names, size_t n, uint64_t **out)
{
    uint64_t *const *t = stats_counters_table(st, names, n);
    for (size_t i = 0; i < n; i++)
        out[i] = t ? t[i] : stats_counter(st, names[i]);
}

void stats_add(struct stats *st, const char *name, uint64_t v)
{
    if (st)
        *stats_counter(st, name) += v;
}

void stats_max(struct stats *st, const char *name, uint64_t v)
{
    uint64_t *c = stats_counter(st, name);
    if (v > *c)
        *c = v;
}

void stats_diag(struct stats *st, const char *name, uint64_t ts_us, const char *fmt, ...)
{
    int i = find_slot(st, name, 1);
    if (i < 0) {
        st->overflow++;
        return;
    }
    st->c[i].value++;
    if (st->c[i].diags >= STATS_DIAG_PER_KIND || st->nd >= STATS_DIAG_KEEP)
        return;
    st->c[i].diags++;
    struct diag *d = &st->d[st->nd++];
    d->counter = i;
    d->ts_us = ts_us;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
    va_end(ap);
}

static const struct stats *sort_st;
static int cmp_idx(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return strcmp(sort_st->c[x].name, sort_st->c[y].name);
}

size_t stats_list(const struct stats *st, const char **names, uint64_t *values, size_t max)
{
    int order[STATS_MAX_COUNTERS];
    for (size_t i = 0; i < st->n; i++)
        order[i] = (int)i;
    sort_st = st;
    qsort(order, st->n, sizeof(order[0]), cmp_idx);
    size_t k = 0;
    for (size_t i = 0; i < st->n && k < max; i++, k++) {
        names[k] = st->c[order[i]].name;
        values[k] = st->c[order[i]].value;
    }
    if (st->overflow && k < max) {
        names[k] = "stats.too_many_counters";
        values[k++] = st->overflow;
    }
    return k;
}

size_t stats_diag_count(const struct stats *st)
{
    return st->nd;
}

const char *stats_diag_msg(const struct stats *st, size_t i, const char **counter,
                           uint64_t *ts_us)
{
    if (i >= st->nd)
        return NULL;
    if (counter)
        *counter = st->c[st->d[i].counter].name;
    if (ts_us)
        *ts_us = st->d[i].ts_us;
    return st->d[i].msg;
}
