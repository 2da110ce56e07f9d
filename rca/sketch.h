/* sketch.h -- a mergeable quantile sketch of durations (relative error
 * bounded, memory bounded): the latency percentiles of the service map and
 * the baselines of slow operations (issue 19).
 *
 * Values (microseconds) fall into logarithmic bins: bin i holds
 * (g^(i-1), g^i] with g = 1.04, so a quantile read back is within 2 % of a
 * value the sketch holds (the DDSketch idea, Masson et al., VLDB 2019).
 * Only the bins between the smallest and the largest value seen are kept,
 * at most SKETCH_MAX_BINS of them (1 us .. ~37 hours): a few hundred
 * bytes for one service hop. Two sketches merge by adding bins: windows
 * and instances combine exactly. */
#ifndef OSRCA_SKETCH_H
#define OSRCA_SKETCH_H

#include <stddef.h>
#include <stdint.h>

#define SKETCH_MAX_BINS 640

struct sketch {
    uint64_t n;      /* values added */
    uint64_t zeros;  /* values of 0 us */
    uint64_t sum_us; /* their sum (saturating) */
    uint64_t min_us, max_us;
    int32_t lo;      /* index of bins[0] */
    uint32_t nbins;  /* bins kept */
    uint32_t *bins;
};

/* An empty sketch (zeroed memory is one too). */
void sketch_init(struct sketch *s);
/* Frees the bins; the sketch is empty again. */
void sketch_free(struct sketch *s);

/* Add one value. -1 when its bin could not be allocated (the value is
 * still counted in n, sum, min and max, not in the quantiles). */
int sketch_add(struct sketch *s, uint64_t v_us);
/* Add the counts of bin index i (as sketch_bin_index gives) k times:
 * for reading a sketch back from a file. -1 on allocation failure or an
 * index out of range. */
int sketch_add_bin(struct sketch *s, int32_t i, uint32_t k);
/* Add k values of 0 us. */
void sketch_add_zeros(struct sketch *s, uint64_t k);
/* dst += src. -1 on allocation failure (dst unchanged). */
int sketch_merge(struct sketch *dst, const struct sketch *src);

/* The q-quantile (0 <= q <= 1) of the values added, within 2 %; 0 for an
 * empty sketch. Exact for the minimum (q = 0) and maximum (q = 1). */
uint64_t sketch_quantile(const struct sketch *s, double q);

/* The bin a value falls in, and the value that represents bin i. */
int32_t sketch_bin_index(uint64_t v_us);
uint64_t sketch_bin_value(int32_t i);

#endif
