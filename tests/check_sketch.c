/* check_sketch.c -- the quantile sketch (rca/sketch.h) and the baseline
 * of usual durations (rca/baseline.h): quantiles within the promised 2 %
 * of the exact ones on skewed random data, merging equal to adding, bounds,
 * and the baseline's JSON written and read back, with damaged documents
 * counted and skipped. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/stats.h"
#include "rca/baseline.h"
#include "rca/sketch.h"
#include "tests/xorshift.h"

static int u64cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* a latency-like value: log-uniform over 1 us .. 100 s, with zeros */
static uint64_t draw(uint64_t *rng)
{
    uint64_t r = xorshift64(rng);
    if (r % 50 == 0)
        return 0;
    double e = (double)(r >> 11) / (double)(1ull << 53) * 8.0;
    uint64_t v = 1;
    for (double k = 0; k < e; k += 1.0)
        v = (uint64_t)((double)v * (e - k >= 1.0 ? 10.0 : 1.0 + 9.0 * (e - k)));
    return v;
}

START_TEST(quantiles_within_two_percent)
{
    uint64_t rng = 12345;
    enum { N = 20000 };
    static uint64_t v[N];
    struct sketch s;
    sketch_init(&s);
    for (size_t i = 0; i < N; i++) {
        v[i] = draw(&rng);
        ck_assert_int_eq(sketch_add(&s, v[i]), 0);
    }
    qsort(v, N, sizeof(v[0]), u64cmp);
    const double qs[] = {0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999};
    for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
        uint64_t exact = v[(size_t)(qs[k] * (N - 1))];
        uint64_t got = sketch_quantile(&s, qs[k]);
        double err = exact ? (double)(got > exact ? got - exact : exact - got) / (double)exact : got;
        ck_assert_msg(err <= 0.021, "q=%.3f exact %llu got %llu", qs[k], (unsigned long long)exact,
                      (unsigned long long)got);
    }
    ck_assert_uint_eq(sketch_quantile(&s, 0), v[0]);
    ck_assert_uint_eq(sketch_quantile(&s, 1), v[N - 1]);
    ck_assert_uint_eq(s.n, N);
    ck_assert_uint_le(s.nbins, SKETCH_MAX_BINS);
    sketch_free(&s);
}
END_TEST

START_TEST(merge_is_adding)
{
    uint64_t rng = 99;
    struct sketch a, b, all;
    sketch_init(&a);
    sketch_init(&b);
    sketch_init(&all);
    for (int i = 0; i < 5000; i++) {
        uint64_t x = draw(&rng);
        sketch_add(i % 3 ? &a : &b, x);
        sketch_add(&all, x);
    }
    ck_assert_int_eq(sketch_merge(&a, &b), 0);
    ck_assert_uint_eq(a.n, all.n);
    ck_assert_uint_eq(a.sum_us, all.sum_us);
    ck_assert_uint_eq(a.min_us, all.min_us);
    ck_assert_uint_eq(a.max_us, all.max_us);
    for (double q = 0.05; q < 1; q += 0.05)
        ck_assert_uint_eq(sketch_quantile(&a, q), sketch_quantile(&all, q));
    sketch_free(&a);
    sketch_free(&b);
    sketch_free(&all);
}
END_TEST

START_TEST(extremes)
{
    struct sketch s;
    sketch_init(&s);
    ck_assert_uint_eq(sketch_quantile(&s, 0.5), 0);
    sketch_add(&s, UINT64_MAX); /* clamped into the last bin, max exact */
    sketch_add(&s, 0);
    sketch_add(&s, 1);
    ck_assert_uint_eq(sketch_quantile(&s, 1), UINT64_MAX);
    ck_assert_uint_eq(sketch_quantile(&s, 0), 0);
    ck_assert_uint_eq(s.sum_us, UINT64_MAX); /* saturates */
    ck_assert_int_eq(sketch_add_bin(&s, SKETCH_MAX_BINS, 1), -1);
    ck_assert_int_eq(sketch_add_bin(&s, -1, 1), -1);
    sketch_free(&s);
}
END_TEST

static uint64_t counter(struct stats *st, const char *name)
{
    return *stats_counter(st, name);
}

START_TEST(baseline_round_trip)
{
    struct stats *st = stats_new();
    struct baseline *b = baseline_new(0, st);
    uint64_t rng = 7;
    for (int i = 0; i < 3000; i++) {
        baseline_learn(b, "op|server create", 5000000 + xorshift64(&rng) % 3000000);
        baseline_learn(b, "hop|rpc_call|nova-conductor>nova-scheduler|scheduler.select_destinations",
                       draw(&rng));
    }
    baseline_learn(b, "wait|x \"quoted\"", 0);
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    ck_assert_int_eq(baseline_save(b, f), 0);
    fclose(f);
    struct baseline *c = baseline_new(0, st);
    char err[256];
    ck_assert_int_eq(baseline_load_buf(c, text, n, err, sizeof(err)), 0);
    ck_assert_uint_eq(baseline_count(c), 3);
    const char *keys[] = {"op|server create",
                          "hop|rpc_call|nova-conductor>nova-scheduler|scheduler.select_destinations",
                          "wait|x \"quoted\""};
    for (size_t k = 0; k < 3; k++) {
        const struct sketch *x = baseline_get(b, keys[k]), *y = baseline_get(c, keys[k]);
        ck_assert_ptr_nonnull(y);
        ck_assert_uint_eq(x->n, y->n);
        for (double q = 0.1; q < 1; q += 0.1) {
            uint64_t a = sketch_quantile(x, q), z = sketch_quantile(y, q);
            /* read back from bins: within a bin's width */
            ck_assert_msg((double)(a > z ? a - z : z - a) <= 0.04 * (double)a + 1,
                          "%s q=%.1f %llu vs %llu", keys[k], q, (unsigned long long)a,
                          (unsigned long long)z);
        }
    }
    uint64_t cn;
    ck_assert_uint_gt(baseline_usual(c, "op|server create", &cn), 4900000);
    ck_assert_uint_eq(cn, 3000);
    ck_assert_uint_eq(counter(st, "baseline.load_bad"), 0);
    free(text);
    baseline_free(b);
    baseline_free(c);
    stats_free(st);
}
END_TEST

START_TEST(baseline_damaged)
{
    struct stats *st = stats_new();
    struct baseline *b = baseline_new(4, st);
    char err[256];
    const char *not_one[] = {"", "[]", "{\"keys\":{}}", "{\"osrca_baseline\":2,\"keys\":{}}",
                             "{\"osrca_baseline\":1,\"keys\":[]}", "{\"osrca_baseline\":1"};
    for (size_t i = 0; i < sizeof(not_one) / sizeof(not_one[0]); i++)
        ck_assert_int_eq(baseline_load_buf(b, not_one[i], strlen(not_one[i]), err, sizeof(err)), -1);
    /* bad keys: skipped and counted, the good one kept */
    const char *doc =
        "{\"osrca_baseline\":1,\"keys\":{"
        "\"a\":{\"lo\":-1,\"bins\":[1]},"
        "\"b\":{\"lo\":639,\"bins\":[1,2]},"
        "\"c\":{\"lo\":10,\"bins\":[1,-2]},"
        "\"d\":{\"lo\":10,\"bins\":[1],\"zeros\":-1},"
        "\"e\":{\"lo\":10,\"bins\":\"x\"},"
        "\"f\":7,"
        "\"g\":{\"lo\":10,\"bins\":[4294967296]},"
        "\"ok\":{\"lo\":300,\"bins\":[3,0,1],\"zeros\":4294967295}}}";
    ck_assert_int_eq(baseline_load_buf(b, doc, strlen(doc), err, sizeof(err)), 0);
    ck_assert_uint_eq(counter(st, "baseline.load_bad"), 7);
    uint64_t n;
    baseline_usual(b, "ok", &n);
    ck_assert_uint_eq(n, 4ull + 4294967295ull);
    ck_assert_ptr_null(baseline_get(b, "a"));
    /* the key cap: counted */
    for (int i = 0; i < 10; i++) {
        char k[16];
        snprintf(k, sizeof(k), "k%d", i);
        baseline_learn(b, k, 1);
    }
    ck_assert_uint_eq(baseline_count(b), 4);
    ck_assert_uint_gt(counter(st, "baseline.keys_full"), 0);
    baseline_free(b);
    stats_free(st);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sketch");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, quantiles_within_two_percent);
    tcase_add_test(tc, merge_is_adding);
    tcase_add_test(tc, extremes);
    tcase_add_test(tc, baseline_round_trip);
    tcase_add_test(tc, baseline_damaged);
    suite_add_tcase(s, tc);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
