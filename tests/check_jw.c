/* check_jw.c -- the JSON line writer (cli/jw.h) against jansson: random
 * trees built both ways must dump to the same bytes as
 * json_dumps(JSON_COMPACT | JSON_SORT_KEYS), including strings with
 * controls, quotes, backslashes, multi-byte and invalid UTF-8 (no value),
 * keys set twice (last wins) and integers at the extremes. */
#include <check.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/jw.h"
#include "cli/out/event.h"
#include "tests/xorshift.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(void)
{
    return (uint32_t)(xorshift64(&rng) >> 11);
}

/* A random NUL-terminated string: plain text, escapes, controls, valid
 * multi-byte sequences and (sometimes) invalid ones. */
static void rand_string(char *s, size_t cap)
{
    static const char *const pieces[] = {
        "a", "Z", "0", " ", "\"", "\\", "/", "\b", "\f", "\n", "\r", "\t", "\x01", "\x1f",
        "\x7f", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xed\x9f\xbf",
        /* invalid: lone continuation, overlong, surrogate, above U+10FFFF, cut */
        "\x80", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\xf5",
    };
    size_t n = rnd() % 12, w = 0;
    int allow_bad = rnd() % 4 == 0;
    size_t np = sizeof(pieces) / sizeof(pieces[0]) - (allow_bad ? 0 : 6);
    for (size_t i = 0; i < n; i++) {
        const char *p = pieces[rnd() % np];
        size_t l = strlen(p);
        if (w + l + 1 > cap)
            break;
        memcpy(s + w, p, l);
        w += l;
    }
    s[w] = '\0';
}

static const char *const keys[] = {"a", "b", "ab", "B", "event", "events", "z", "_x", "\xc3\xa9"};

static void build(struct jw *w, json_t *jo, struct jw_node *wo, int depth);

/* One random value added to both containers (key for objects). */
static void add_value(struct jw *w, json_t *jc, struct jw_node *wc, const char *key, int depth)
{
    json_t *jv = NULL;
    struct jw_node *wv = NULL;
    char s[128];
    switch (rnd() % (depth < 3 ? 8 : 6)) {
    case 0:
        rand_string(s, sizeof(s));
        jv = json_string(s);
        wv = jw_str(w, s);
        break;
    case 1: {
        static const long long ints[] = {0, 1, -1, 42, LLONG_MAX, LLONG_MIN, 1795337823094334LL};
        long long v = rnd() % 2 ? ints[rnd() % 7] : (long long)rnd() - (1LL << 31);
        jv = json_integer(v);
        wv = jw_int(w, v);
        break;
    }
    case 2: {
        int b = (int)(rnd() % 2);
        jv = json_boolean(b);
        wv = jw_bool(w, b);
        break;
    }
    case 3:
        jv = json_null();
        wv = jw_null(w);
        break;
    case 4:
    case 5:
        rand_string(s, sizeof(s));
        jv = json_string(s);
        wv = jw_str(w, s);
        break;
    case 6:
        jv = json_object();
        wv = jw_object(w);
        build(w, jv, wv, depth + 1);
        break;
    default:
        jv = json_array();
        wv = jw_array(w);
        build(w, jv, wv, depth + 1);
        break;
    }
    ck_assert_int_eq(jv == NULL, wv == NULL); /* invalid UTF-8: no value either way */
    if (json_is_object(jc)) {
        if (jv)
            json_object_set_new(jc, key, jv);
        jw_set(w, wc, key, wv);
    } else {
        if (jv)
            json_array_append_new(jc, jv);
        jw_push(w, wc, wv);
    }
}

static void build(struct jw *w, json_t *jo, struct jw_node *wo, int depth)
{
    size_t n = rnd() % 7;
    for (size_t i = 0; i < n; i++)
        add_value(w, jo, wo, keys[rnd() % (sizeof(keys) / sizeof(keys[0]))], depth);
}

START_TEST(same_bytes_as_jansson)
{
    struct jw w;
    jw_init(&w);
    for (int iter = 0; iter < 20000; iter++) {
        int obj = iter % 3 != 0;
        json_t *jr = obj ? json_object() : json_array();
        struct jw_node *wr = obj ? jw_object(&w) : jw_array(&w);
        build(&w, jr, wr, 0);
        char *want = json_dumps(jr, JSON_COMPACT | JSON_SORT_KEYS);
        ck_assert_ptr_nonnull(want);
        ck_assert_int_eq(jw_render(&w, wr), 0);
        if (strcmp(want, w.buf) != 0)
            ck_abort_msg("iteration %d:\n jansson %s\n jw      %s", iter, want, w.buf);
        free(want);
        json_decref(jr);
        jw_reset(&w);
    }
    jw_free(&w);
}
END_TEST

/* out_time formats by hand before year 10000: the same text as gmtime_r
 * + strftime + snprintf, which it once was, for every day of 1970..2400
 * and random instants up to 9999-12-31, and past it (strftime again). */
static void time_ref(uint64_t ts_us, char *buf, size_t len)
{
    time_t sec = (time_t)(ts_us / 1000000u);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char day[32];
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%06uZ", day, (unsigned)(ts_us % 1000000u));
}

/* Keys in strcmp order, for values written as a text at once. */
static const char *const sorted_keys[] = {"B", "_x", "a", "ab", "b", "event", "events", "z"};

/* The same random values set as nodes (wo) and written as text (jw_t_*,
 * into the text being made): an object (obj) or an array. */
static void build_both(struct jw *w, struct jw_node *wo, int obj, int depth)
{
    size_t nk = sizeof(sorted_keys) / sizeof(sorted_keys[0]);
    for (size_t i = 0; i < nk; i++) {
        if (rnd() % 2)
            continue;
        const char *key = obj ? sorted_keys[i] : NULL;
        char s[128];
        switch (rnd() % (depth < 3 ? 5 : 3)) {
        case 0: {
            rand_string(s, sizeof(s));
            struct jw_node *v = jw_str(w, s);
            obj ? jw_set(w, wo, key, v) : jw_push(w, wo, v);
            jw_t_str(w, key, s);
            break;
        }
        case 1: {
            long long v = (long long)rnd() - (1LL << 31);
            if (rnd() % 7 == 0)
                v = rnd() % 16;
            if (rnd() % 5 == 0)
                v = rnd() % 2 ? LLONG_MIN : LLONG_MAX;
            obj ? jw_set(w, wo, key, jw_int(w, v)) : jw_push(w, wo, jw_int(w, v));
            jw_t_int(w, key, v);
            break;
        }
        case 2: {
            int b = (int)(rnd() % 2);
            obj ? jw_set(w, wo, key, jw_bool(w, b)) : jw_push(w, wo, jw_bool(w, b));
            jw_t_bool(w, key, b);
            break;
        }
        default: {
            int sub = (int)(rnd() % 2);
            struct jw_node *c = sub ? jw_object(w) : jw_array(w);
            obj ? jw_set(w, wo, key, c) : jw_push(w, wo, c);
            jw_t_open(w, key, !sub);
            build_both(w, c, sub, depth + 1);
            jw_t_close(w);
        }
        }
    }
}

START_TEST(text_same_bytes_as_nodes)
{
    struct jw w;
    jw_init(&w);
    for (int iter = 0; iter < 20000; iter++) {
        int obj = iter % 3 != 0;
        struct jw_node *wr = obj ? jw_object(&w) : jw_array(&w);
        jw_t_begin(&w);
        jw_t_open(&w, NULL, !obj);
        build_both(&w, wr, obj, 0);
        jw_t_close(&w);
        struct jw_node *t = jw_t_end(&w);
        ck_assert_ptr_nonnull(t);
        /* the text as a member of a container, as reports hold events */
        struct jw_node *box = jw_array(&w);
        jw_push(&w, box, t);
        ck_assert_int_eq(jw_render(&w, wr), 0);
        char *want = malloc(w.len + 3);
        want[0] = '[';
        memcpy(want + 1, w.buf, w.len);
        want[w.len + 1] = ']';
        want[w.len + 2] = '\0';
        ck_assert_int_eq(jw_render(&w, box), 0);
        ck_assert_str_eq(w.buf, want);
        free(want);
        jw_reset(&w);
    }
    /* containers that do not match: no value */
    jw_t_begin(&w);
    jw_t_open(&w, NULL, 0);
    ck_assert_ptr_null(jw_t_end(&w));
    jw_reset(&w);
    jw_free(&w);
}
END_TEST

START_TEST(out_time_like_strftime)
{
    char a[64], b[64];
    for (uint64_t d = 0; d < 157000; d++) {
        uint64_t t = (d * 86400 + 86399) * 1000000ull + 500001;
        out_time(t, a, sizeof(a));
        time_ref(t, b, sizeof(b));
        ck_assert_str_eq(a, b);
    }
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 200000; i++) {
        uint64_t t = xorshift64(&x) % 253402300800000000ull;
        out_time(t, a, sizeof(a));
        time_ref(t, b, sizeof(b));
        ck_assert_str_eq(a, b);
    }
    static const uint64_t edge[] = {0, 999999, 951782400000000ull, 253402300799999999ull,
                                    253402300800000000ull, 300000000000000000ull};
    for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++) {
        out_time(edge[i], a, sizeof(a));
        time_ref(edge[i], b, sizeof(b));
        ck_assert_str_eq(a, b);
    }
}
END_TEST

START_TEST(lines_and_refusals)
{
    struct jw w;
    jw_init(&w);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct jw_node *o = jw_object(&w);
    jw_set(&w, o, "k", jw_str(&w, "v"));
    jw_set(&w, o, "k", jw_str(&w, "\xff")); /* invalid: keeps "v" */
    jw_set(&w, o, "n", NULL);
    ck_assert_int_eq(jw_write_line(&w, f, o), 0);
    /* a scalar is not a line; NULL neither */
    ck_assert_int_eq(jw_write_line(&w, f, jw_int(&w, 3)), -1);
    ck_assert_int_eq(jw_write_line(&w, f, NULL), -1);
    struct jw_node *a = jw_array(&w);
    jw_push(&w, a, jw_str(&w, "x\"y"));
    ck_assert_int_eq(jw_write_line(&w, f, a), 0);
    fclose(f);
    ck_assert_str_eq(buf, "{\"k\":\"v\"}\n[\"x\\\"y\"]\n");
    free(buf);
    jw_free(&w);
}
END_TEST

static Suite *jw_suite(void)
{
    Suite *s = suite_create("jw");
    TCase *tc = tcase_create("jw");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, same_bytes_as_jansson);
    tcase_add_test(tc, text_same_bytes_as_nodes);
    tcase_add_test(tc, lines_and_refusals);
    tcase_add_test(tc, out_time_like_strftime);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(jw_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
