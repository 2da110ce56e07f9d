/* sketch.c -- mergeable quantile sketch (see sketch.h). */
#include "rca/sketch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GAMMA 1.04
/* 1 / ln(GAMMA) */
#define INV_LN_GAMMA 25.497

void sketch_init(struct sketch *s)
{
    memset(s, 0, sizeof(*s));
}

void sketch_free(struct sketch *s)
{
    free(s->bins);
    sketch_init(s);
}

int32_t sketch_bin_index(uint64_t v)
{
    if (v <= 1)
        return 0;
    int32_t i = (int32_t)ceil(log((double)v) * INV_LN_GAMMA);
    return i >= SKETCH_MAX_BINS ? SKETCH_MAX_BINS - 1 : i;
}

uint64_t sketch_bin_value(int32_t i)
{
    if (i <= 0)
        return 1;
    /* the middle of (g^(i-1), g^i] in relative terms */
    double v = 2.0 * pow(GAMMA, i) / (GAMMA + 1.0);
    return (uint64_t)(v + 0.5);
}

/* Make room for bin i; -1 on failure. */
static int cover(struct sketch *s, int32_t i)
{
    if (s->nbins && i >= s->lo && i < s->lo + (int32_t)s->nbins)
        return 0;
    int32_t lo = s->nbins ? (i < s->lo ? i : s->lo) : i;
    int32_t hi = s->nbins ? (i >= s->lo + (int32_t)s->nbins ? i + 1 : s->lo + (int32_t)s->nbins)
                          : i + 1;
    /* grow by a few bins more on the growing side: fewer reallocations */
    if (s->nbins && i < s->lo)
        lo = lo - 8 < 0 ? 0 : lo - 8;
    else if (s->nbins)
        hi = hi + 8 > SKETCH_MAX_BINS ? SKETCH_MAX_BINS : hi + 8;
    uint32_t n = (uint32_t)(hi - lo);
    uint32_t *b = calloc(n, sizeof(*b));
    if (!b)
        return -1;
    if (s->nbins)
        memcpy(b + (s->lo - lo), s->bins, s->nbins * sizeof(*b));
    free(s->bins);
    s->bins = b;
    s->lo = lo;
    s->nbins = n;
    return 0;
}

static void count(struct sketch *s, uint64_t v, uint64_t k)
{
    if (!s->n || v < s->min_us)
        s->min_us = v;
    if (v > s->max_us)
        s->max_us = v;
    s->n += k;
    uint64_t add = v * k;
    s->sum_us = (k && add / k != v) || s->sum_us + add < s->sum_us ? UINT64_MAX : s->sum_us + add;
}

int sketch_add(struct sketch *s, uint64_t v)
{
    count(s, v, 1);
    if (v == 0) {
        s->zeros++;
        return 0;
    }
    int32_t i = sketch_bin_index(v);
    if (cover(s, i) < 0)
        return -1;
    s->bins[i - s->lo]++;
    return 0;
}

void sketch_add_zeros(struct sketch *s, uint64_t k)
{
    if (!k)
        return;
    count(s, 0, k);
    s->zeros += k;
}

int sketch_add_bin(struct sketch *s, int32_t i, uint32_t k)
{
    if (i < 0 || i >= SKETCH_MAX_BINS || !k)
        return i < 0 || i >= SKETCH_MAX_BINS ? -1 : 0;
    if (cover(s, i) < 0)
        return -1;
    s->bins[i - s->lo] += k;
    count(s, sketch_bin_value(i), k);
    return 0;
}

int sketch_merge(struct sketch *d, const struct sketch *s)
{
    if (!s->n)
        return 0;
    if (s->nbins && (cover(d, s->lo) < 0 || cover(d, s->lo + (int32_t)s->nbins - 1) < 0))
        return -1;
    for (uint32_t k = 0; k < s->nbins; k++)
        d->bins[s->lo + (int32_t)k - d->lo] += s->bins[k];
    if (!d->n || s->min_us < d->min_us)
        d->min_us = s->min_us;
    if (s->max_us > d->max_us)
        d->max_us = s->max_us;
    d->n += s->n;
    d->zeros += s->zeros;
    d->sum_us = d->sum_us + s->sum_us < d->sum_us ? UINT64_MAX : d->sum_us + s->sum_us;
    return 0;
}

uint64_t sketch_quantile(const struct sketch *s, double q)
{
    if (!s->n)
        return 0;
    if (q <= 0)
        return s->min_us;
    if (q >= 1)
        return s->max_us;
    /* the rank of the value wanted, 0-based */
    uint64_t rank = (uint64_t)(q * (double)(s->n - 1));
    if (rank < s->zeros)
        return 0;
    uint64_t seen = s->zeros;
    for (uint32_t k = 0; k < s->nbins; k++) {
        seen += s->bins[k];
        if (seen > rank) {
            uint64_t v = sketch_bin_value(s->lo + (int32_t)k);
            return v < s->min_us ? s->min_us : v > s->max_us ? s->max_us : v;
        }
    }
    return s->max_us; /* values whose bin could not be allocated */
}
