/* check_json.c -- the JSON reader (parsers/jv.h) and the scrubber's use of
 * it (redact_json, redact_text_may_change): values and accessors, escapes
 * and surrogate pairs, every rejection class with its error code, jansson's
 * quirks kept (one NUL after a number, last-wins duplicates in oslo mode),
 * duplicate detection in big objects, depth and size limits, memory that
 * returns to the pool, and the pre-check never skipping a string that
 * redact_text would change; an embedded "oslo.message" read in one pass
 * gives the tree, the errors and the offsets of the two-step reading. Every
 * input sits at the end of an exactly-sized malloc buffer, and every proper
 * prefix of a valid document is refused. */
#include <check.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/mem.h"
#include "parsers/jv.h"
#include "parsers/redact.h"
#include "tests/xorshift.h"

/* An exactly-sized heap copy: a one-byte overread trips ASan. */
static uint8_t *exact_copy(const void *p, size_t n)
{
    uint8_t *c = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(c);
    if (n)
        memcpy(c, p, n);
    return c;
}

/* Parse [s, s+n) with cfg (NULL = defaults); return the error code. */
static enum jv_err parse_err(const struct jv_cfg *cfg, const char *s, size_t n)
{
    struct jv_doc d;
    jv_init(&d, cfg, NULL);
    uint8_t *c = exact_copy(s, n);
    struct jv *r = jv_parse(&d, c, n);
    enum jv_err e = jv_error(&d, NULL);
    ck_assert(r ? e == JV_OK : e != JV_OK);
    jv_release(&d);
    free(c);
    return e;
}

static enum jv_err parse_cerr(const char *s)
{
    return parse_err(NULL, s, strlen(s));
}

static void oslo_cfg(struct jv_cfg *cfg)
{
    jv_defaults(cfg);
    cfg->allow_nul = 1;
    cfg->dup_reject = 0;
}

START_TEST(values_and_accessors)
{
    /* {"s":"plain","e":"a\"b\\c\/\n","n":-12.5e1,"i":42,"t":true,"f":false,
     *  "z":null,"a":[1,"x",{}],"o":{"k":"v"}} */
    static const char js[] = "{\"s\":\"plain\",\"e\":\"a\\\"b\\\\c\\/\\n\",\"n\":-12.5e1,"
                             "\"i\":42,\"t\":true,\"f\":false,\"z\":null,"
                             "\"a\":[1,\"x\",{}],\"o\":{\"k\":\"v\"}}";
    size_t n = strlen(js);
    uint8_t *c = exact_copy(js, n);
    struct mem_pool pool;
    mem_pool_init(&pool, "json", 0);
    struct jv_doc d;
    jv_init(&d, NULL, &pool);
    struct jv *r = jv_parse(&d, c, n);
    ck_assert_ptr_nonnull(r);
    ck_assert(jv_is_object(r));
    ck_assert_uint_eq(jv_size(r), 9);
    /* member order is input order */
    static const char *const keys[] = {"s", "e", "n", "i", "t", "f", "z", "a", "o"};
    struct jv *m;
    size_t i = 0;
    JV_FOREACH(r, m)
    {
        ck_assert(jv_key_eq(m, keys[i]));
        i++;
    }
    ck_assert_uint_eq(i, 9);
    /* a string without escapes points into the input */
    struct jv *s = jv_get(r, "s");
    ck_assert(jv_str_eq(s, "plain"));
    ck_assert_ptr_eq(jv_str(s), (const char *)c + 6);
    struct jv *e = jv_get(r, "e");
    ck_assert_uint_eq(jv_strlen(e), 7);
    ck_assert(memcmp(jv_str(e), "a\"b\\c/\n", 7) == 0);
    ck_assert(jv_str(e) < (const char *)c || jv_str(e) >= (const char *)c + n);
    ck_assert(jv_num(jv_get(r, "n")) == -125.0);
    ck_assert(jv_num(jv_get(r, "i")) == 42.0);
    ck_assert(jv_is_true(jv_get(r, "t")));
    ck_assert_int_eq(jv_type(jv_get(r, "f")), JV_FALSE);
    ck_assert(jv_is_null(jv_get(r, "z")));
    struct jv *a = jv_get(r, "a");
    ck_assert_uint_eq(jv_size(a), 3);
    ck_assert(jv_num(jv_at(a, 0)) == 1.0);
    ck_assert(jv_str_eq(jv_at(a, 1), "x"));
    ck_assert(jv_is_object(jv_at(a, 2)) && jv_size(jv_at(a, 2)) == 0);
    ck_assert_ptr_null(jv_at(a, 3));
    ck_assert_ptr_null(jv_key(jv_at(a, 0)));
    ck_assert(jv_str_eq(jv_get(jv_get(r, "o"), "k"), "v"));
    /* lookups on what is not an object, and of what is not there */
    ck_assert_ptr_null(jv_get(a, "x"));
    ck_assert_ptr_null(jv_get(r, "missing"));
    ck_assert_ptr_null(jv_get(NULL, "s"));
    ck_assert_ptr_null(jv_str(jv_get(r, "i")));
    ck_assert_uint_eq(jv_strlen(jv_get(r, "i")), 0);
    ck_assert_uint_eq(jv_size(s), 0);
    /* changing: remove, delete by key, clear, replace a string */
    ck_assert(jv_del(r, "t"));
    ck_assert(!jv_del(r, "t"));
    ck_assert_ptr_null(jv_get(r, "t"));
    ck_assert_uint_eq(jv_size(r), 8);
    ck_assert(jv_remove(r, jv_get(r, "s")));
    ck_assert(!jv_remove(a, jv_get(r, "e")));
    ck_assert_uint_eq(jv_clear(a), 3);
    ck_assert_ptr_null(jv_first(a));
    char *dup = jv_str_dup(&d, e);
    ck_assert_ptr_nonnull(dup);
    ck_assert_uint_eq(strlen(dup), 7); /* copy is NUL-terminated */
    memcpy(dup, "***", 3);
    jv_str_set(e, dup, 3);
    ck_assert(jv_str_eq(jv_get(r, "e"), "***"));
    ck_assert(memcmp(c, js, n) == 0); /* the input was never written */
    jv_release(&d);
    ck_assert_uint_eq(pool.used, 0);
    free(c);
}
END_TEST

START_TEST(unicode_escapes)
{
    /* ["\u00e9\u20ac\ud83d\ude00\u0041", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"] */
    static const char js[] = "[\"\\u00e9\\u20AC\\ud83d\\ude00\\u0041\","
                             "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"]";
    struct jv_doc d;
    jv_init(&d, NULL, NULL);
    uint8_t *c = exact_copy(js, strlen(js));
    struct jv *r = jv_parse(&d, c, strlen(js));
    ck_assert_ptr_nonnull(r);
    static const char want[] = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
                               "A";
    struct jv *s = jv_at(r, 0);
    ck_assert_uint_eq(jv_strlen(s), strlen(want));
    ck_assert(memcmp(jv_str(s), want, strlen(want)) == 0);
    ck_assert(jv_str_eq(jv_at(r, 1), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
    jv_release(&d);
    free(c);
    /* \u0000: refused by default, kept in oslo mode (values only) */
    ck_assert_int_eq(parse_cerr("[\"a\\u0000b\"]"), JV_E_NUL);
    struct jv_cfg oc;
    oslo_cfg(&oc);
    jv_init(&d, &oc, NULL);
    static const char nul[] = "[\"a\\u0000b\"]";
    c = exact_copy(nul, strlen(nul));
    r = jv_parse(&d, c, strlen(nul));
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(jv_strlen(jv_at(r, 0)), 3);
    ck_assert(memcmp(jv_str(jv_at(r, 0)), "a\0b", 3) == 0);
    jv_release(&d);
    free(c);
    static const char nulkey[] = "{\"a\\u0000\":1}";
    ck_assert_int_eq(parse_err(&oc, nulkey, strlen(nulkey)), JV_E_NUL);
}
END_TEST

START_TEST(rejections)
{
    static const struct {
        const char *js;
        enum jv_err e;
    } bad[] = {
        {"", JV_E_EMPTY},
        {" \r\n\t", JV_E_EMPTY},
        {"1", JV_E_TOP},
        {"\"x\"", JV_E_TOP},
        {"null", JV_E_TOP},
        {"\xef\xbb\xbf[]", JV_E_TOP}, /* a BOM is not whitespace */
        {"[", JV_E_SYNTAX},
        {"[1,]", JV_E_SYNTAX},
        {"[,1]", JV_E_SYNTAX},
        {"[1 2]", JV_E_SYNTAX},
        {"{\"a\"}", JV_E_SYNTAX},
        {"{\"a\":}", JV_E_SYNTAX},
        {"{\"a\":1,}", JV_E_SYNTAX},
        {"{a:1}", JV_E_SYNTAX},
        {"{'a':1}", JV_E_SYNTAX},
        {"[01]", JV_E_SYNTAX},
        {"[1.]", JV_E_SYNTAX},
        {"[.5]", JV_E_SYNTAX},
        {"[-]", JV_E_SYNTAX},
        {"[+1]", JV_E_SYNTAX},
        {"[1e]", JV_E_SYNTAX},
        {"[1e+]", JV_E_SYNTAX},
        {"[tru]", JV_E_SYNTAX},
        {"[truex]", JV_E_SYNTAX},
        {"[nul]", JV_E_SYNTAX},
        {"[NaN]", JV_E_SYNTAX},
        {"[\"abc]", JV_E_SYNTAX},
        {"[\"abc\\", JV_E_SYNTAX},
        {"[] x", JV_E_TRAILING},
        {"{}{}", JV_E_TRAILING},
        {"[\"\\x\"]", JV_E_ESCAPE},
        {"[\"\\u12\"]", JV_E_ESCAPE},
        {"[\"\\u12G4\"]", JV_E_ESCAPE},
        {"[\"\\ud800\"]", JV_E_ESCAPE},
        {"[\"\\udc00\"]", JV_E_ESCAPE},
        {"[\"\\ud800\\u0041\"]", JV_E_ESCAPE},
        {"[\"\\ud800\\ud800\"]", JV_E_ESCAPE},
        {"[\"\\ud800x\"]", JV_E_ESCAPE},
        {"[\"a\x01\"]", JV_E_CTRL},
        {"[\"a\tb\"]", JV_E_CTRL},
        {"[\"\xc0\xaf\"]", JV_E_UTF8},         /* overlong '/' */
        {"[\"\xe0\x80\xaf\"]", JV_E_UTF8},     /* overlong, 3 bytes */
        {"[\"\xed\xa0\x80\"]", JV_E_UTF8},     /* UTF-8 surrogate */
        {"[\"\xf4\x90\x80\x80\"]", JV_E_UTF8}, /* above U+10FFFF */
        {"[\"\xf8\x88\x80\x80\x80\"]", JV_E_UTF8},
        {"[\"\x80\"]", JV_E_UTF8},
        {"[\"\xc3\"]", JV_E_UTF8},
        {"[\"\xe2\x82\"]", JV_E_UTF8},
        {"[9223372036854775808]", JV_E_NUMBER},
        {"[-9223372036854775809]", JV_E_NUMBER},
        {"[1e400]", JV_E_NUMBER},
        {"[-1.5e309]", JV_E_NUMBER},
        {"{\"a\":1,\"b\":2,\"a\":3}", JV_E_DUP},
        {"{\"k\":{\"\":1,\"\":2}}", JV_E_DUP},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        enum jv_err e = parse_cerr(bad[i].js);
        ck_assert_msg(e == bad[i].e, "case %zu (%s): got %d (%s), want %d", i, bad[i].js, e,
                      jv_strerror(e), bad[i].e);
    }
    /* raw NUL bytes: in a string, or anywhere but right after a scalar */
    ck_assert_int_eq(parse_err(NULL, "[\"a\0\"]", 6), JV_E_CTRL);
    ck_assert_int_eq(parse_err(NULL, "[]\0", 3), JV_E_TRAILING);
    ck_assert_int_eq(parse_err(NULL, "[\0 1]", 5), JV_E_SYNTAX);
    ck_assert_int_eq(parse_err(NULL, "[1\0\0]", 5), JV_E_SYNTAX);
    ck_assert_str_eq(jv_strerror(JV_E_DUP), "duplicate key");
}
END_TEST

START_TEST(jansson_compatible_accepts)
{
    /* jansson swallows one NUL right after a number or literal */
    ck_assert_int_eq(parse_err(NULL, "[1\0,true\0,null\0]", 16), JV_OK);
    ck_assert_int_eq(parse_cerr("[-9223372036854775808, 9223372036854775807]"), JV_OK);
    ck_assert_int_eq(parse_cerr("[1e-400, -0, 0.0e0, 1E+2]"), JV_OK);
    ck_assert_int_eq(parse_cerr(" \n{ \"a\" : [ ] , \"b\" : { } }\r\n "), JV_OK);
    /* oslo mode: a duplicate keeps the first place and the last value */
    struct jv_cfg oc;
    oslo_cfg(&oc);
    struct jv_doc d;
    jv_init(&d, &oc, NULL);
    static const char js[] = "{\"a\":1,\"b\":2,\"a\":{\"x\":3},\"c\":4,\"a\":\"last\"}";
    uint8_t *c = exact_copy(js, strlen(js));
    struct jv *r = jv_parse(&d, c, strlen(js));
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(jv_size(r), 3);
    ck_assert(jv_key_eq(jv_first(r), "a"));
    ck_assert(jv_str_eq(jv_first(r), "last"));
    ck_assert(jv_key_eq(jv_next(jv_first(r)), "b"));
    ck_assert(jv_key_eq(jv_next(jv_next(jv_first(r))), "c"));
    jv_release(&d);
    free(c);
}
END_TEST

/* Objects past the pairwise limit go through the hash table. */
START_TEST(big_object_duplicates)
{
    char js[4096];
    size_t w = 0;
    js[w++] = '{';
    for (int i = 0; i < 200; i++)
        w += (size_t)snprintf(js + w, sizeof(js) - w, "%s\"k%d\":%d", i ? "," : "", i, i);
    size_t base = w;
    w += (size_t)snprintf(js + w, sizeof(js) - w, "}");
    ck_assert_int_eq(parse_err(NULL, js, w), JV_OK);
    w = base + (size_t)snprintf(js + base, sizeof(js) - base, ",\"k17\":\"again\"}");
    ck_assert_int_eq(parse_err(NULL, js, w), JV_E_DUP);
    struct jv_cfg oc;
    oslo_cfg(&oc);
    struct jv_doc d;
    jv_init(&d, &oc, NULL);
    uint8_t *c = exact_copy(js, w);
    struct jv *r = jv_parse(&d, c, w);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(jv_size(r), 200);
    ck_assert(jv_str_eq(jv_get(r, "k17"), "again"));
    ck_assert(jv_num(jv_get(r, "k199")) == 199.0);
    jv_release(&d);
    free(c);
}
END_TEST

/* Keys that all land in one hash slot (FNV-1a, as jv.c hashes) make the
 * duplicate check give up probing and sort: same answers, no quadratic
 * time. */
START_TEST(colliding_keys)
{
    char *js = malloc(16384);
    ck_assert_ptr_nonnull(js);
    char keys[300][12];
    int nk = 0;
    for (unsigned v = 0; nk < 300 && v < 10000000; v++) {
        char k[12];
        int kl = snprintf(k, sizeof(k), "x%u", v);
        uint32_t h = 2166136261u;
        for (int i = 0; i < kl; i++)
            h = (h ^ (uint8_t)k[i]) * 16777619u;
        if ((h & 1023) == 0)
            memcpy(keys[nk++], k, (size_t)kl + 1);
    }
    ck_assert_int_eq(nk, 300);
    size_t w = 0;
    js[w++] = '{';
    for (int i = 0; i < 300; i++)
        w += (size_t)snprintf(js + w, 16384 - w, "%s\"%s\":%d", i ? "," : "", keys[i], i);
    size_t base = w;
    js[w++] = '}';
    ck_assert_int_eq(parse_err(NULL, js, w), JV_OK);
    w = base + (size_t)snprintf(js + base, 16384 - base, ",\"%s\":\"dup\"}", keys[123]);
    ck_assert_int_eq(parse_err(NULL, js, w), JV_E_DUP);
    struct jv_cfg oc;
    oslo_cfg(&oc);
    struct jv_doc d;
    jv_init(&d, &oc, NULL);
    uint8_t *c = exact_copy(js, w);
    struct jv *r = jv_parse(&d, c, w);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(jv_size(r), 300);
    size_t i = 0;
    struct jv *m;
    JV_FOREACH(r, m)
    {
        ck_assert(jv_key_eq(m, keys[i]));
        if (i == 123)
            ck_assert(jv_str_eq(m, "dup"));
        else
            ck_assert(jv_num(m) == (double)i);
        i++;
    }
    jv_release(&d);
    free(c);
    free(js);
}
END_TEST

START_TEST(limits_and_memory)
{
    struct jv_cfg cfg;
    jv_defaults(&cfg);
    cfg.max_depth = 3;
    ck_assert_int_eq(parse_err(&cfg, "[[[1]]]", 7), JV_OK);
    ck_assert_int_eq(parse_err(&cfg, "[[[[1]]]]", 9), JV_E_DEPTH);
    ck_assert_int_eq(parse_err(&cfg, "{\"a\":{\"b\":[{}]}}", 16), JV_E_DEPTH);
    cfg.max_depth = 2048;
    cfg.max_input = 8;
    ck_assert_int_eq(parse_err(&cfg, "[1,2,3,4]", 9), JV_E_SIZE);
    ck_assert_int_eq(parse_err(&cfg, "[1,2,34]", 8), JV_OK);
    /* jansson's depth: 2048 open containers pass, 2049 do not */
    char *deep = malloc(2 * 2049);
    for (int i = 0; i < 2049; i++) {
        deep[i] = '[';
        deep[2 * 2049 - 1 - i] = ']';
    }
    ck_assert_int_eq(parse_err(NULL, deep + 1, 2 * 2048), JV_OK);
    ck_assert_int_eq(parse_err(NULL, deep, 2 * 2049), JV_E_DEPTH);
    free(deep);

    /* the pool: a refused block is JV_E_NOMEM, everything comes back */
    struct mem_pool small;
    mem_pool_init(&small, "json", 2048);
    struct jv_doc d;
    jv_init(&d, NULL, &small);
    char big[8192];
    size_t w = 0;
    big[w++] = '[';
    for (int i = 0; i < 1000; i++) {
        big[w++] = '0';
        big[w++] = ',';
    }
    big[w++] = '1';
    big[w++] = ']';
    ck_assert_ptr_null(jv_parse(&d, big, w));
    ck_assert_int_eq(jv_error(&d, NULL), JV_E_NOMEM);
    jv_release(&d);
    ck_assert_uint_eq(small.used, 0);

    /* reuse: trees pile up until reset; reset keeps one block */
    struct mem_pool pool;
    mem_pool_init(&pool, "json", 0);
    jv_init(&d, NULL, &pool);
    struct jv *r1 = jv_parse(&d, big, w);
    struct jv *r2 = jv_parse(&d, "{\"x\":\"y\\n\"}", 11);
    ck_assert(r1 && r2);
    ck_assert_uint_eq(jv_size(r1), 1001);
    ck_assert_uint_eq(jv_strlen(jv_get(r2, "x")), 2);
    size_t used = pool.used;
    jv_reset(&d);
    ck_assert_uint_le(pool.used, used);
    ck_assert_uint_gt(pool.used, 0);
    ck_assert_ptr_nonnull(jv_parse(&d, big, w));
    jv_release(&d);
    ck_assert_uint_eq(pool.used, 0);
    jv_release(NULL);
}
END_TEST

/* Every proper prefix of a valid document is refused, cleanly. */
START_TEST(prefixes_refused)
{
    static const char js[] = "{\"server\":{\"id\":\"3f1c\\u00e9\",\"n\":[1,-2.5e3,true,null],"
                             "\"caf\xc3\xa9\":false}}";
    size_t n = strlen(js);
    ck_assert_int_eq(parse_err(NULL, js, n), JV_OK);
    for (size_t k = 0; k < n; k++) {
        enum jv_err e = parse_err(NULL, js, k);
        ck_assert_msg(e != JV_OK, "prefix %zu accepted", k);
    }
}
END_TEST

/* Escaped strings after many values: some are unescaped in one pass into
 * the block's free room, some (room too short) found first and then copied;
 * both give the same bytes. */
START_TEST(escaped_strings_at_block_ends)
{
    char *js = malloc(64 * 1024);
    ck_assert_ptr_nonnull(js);
    for (int zeros = 0; zeros < 1200; zeros += 37) {
        size_t w = 0;
        js[w++] = '[';
        for (int i = 0; i < zeros; i++) {
            js[w++] = '0';
            js[w++] = ',';
        }
        js[w++] = '"';
        for (int i = 0; i < 400; i++) {
            memcpy(js + w, "ab\\n\\u00e9", 10);
            w += 10;
        }
        js[w++] = '"';
        js[w++] = ']';
        struct jv_doc d;
        jv_init(&d, NULL, NULL);
        uint8_t *c = exact_copy(js, w);
        struct jv *r = jv_parse(&d, c, w);
        ck_assert_ptr_nonnull(r);
        struct jv *s = jv_at(r, (size_t)zeros);
        ck_assert_uint_eq(jv_strlen(s), 400 * 5);
        for (int i = 0; i < 400; i++)
            ck_assert(memcmp(jv_str(s) + 5 * i, "ab\n\xc3\xa9", 5) == 0);
        jv_release(&d);
        free(c);
    }
    free(js);
}
END_TEST

START_TEST(redact_json_tree)
{
    /* {"a":"x\u0000password=1","ok":"plain","_context_token":{"id":"T","u":"X-Auth-Token: zz"},
     *  "token":"gAAAAABrAqX13A_5P7Mpk50rdcF8Vxdne","l":["Could not find token: abc"]} */
    static const char js[] =
        "{\"a\":\"x\\u0000password=1\",\"ok\":\"plain\",\"_context_token\":{\"id\":\"T\","
        "\"u\":\"X-Auth-Token: zz\"},\"token\":\"gAAAAABrAqX13A_5P7Mpk50rdcF8Vxdne\","
        "\"l\":[\"Could not find token: abc\"]}";
    struct jv_cfg oc;
    oslo_cfg(&oc);
    struct jv_doc d;
    jv_init(&d, &oc, NULL);
    uint8_t *c = exact_copy(js, strlen(js));
    struct jv *r = jv_parse(&d, c, strlen(js));
    ck_assert_ptr_nonnull(r);
    /* a: cut at the NUL; id removed; u masked; token removed; l masked */
    ck_assert_uint_eq(redact_json(&d, r), 5);
    ck_assert(jv_str_eq(jv_get(r, "a"), "x"));
    ck_assert(jv_str_eq(jv_get(r, "ok"), "plain"));
    ck_assert_ptr_null(jv_get(jv_get(r, "_context_token"), "id"));
    ck_assert(jv_str_eq(jv_get(jv_get(r, "_context_token"), "u"), "X-Auth-Token: **"));
    ck_assert_ptr_null(jv_get(r, "token"));
    ck_assert(jv_str_eq(jv_at(jv_get(r, "l"), 0), "Could not find token: ***"));
    jv_release(&d);
    free(c);
}
END_TEST

/* redact_text_may_change must never say 0 for a string redact_text changes:
 * random strings built from the fragments its triggers are made of. */
START_TEST(precheck_never_skips_a_secret)
{
    static const char *const frag[] = {
        "password", "PassWD", "secret", "adminPass", "auth_token", "X-Auth-Token",
        "x-subject-token", "x-service-token", "x-storage-token", "Authorization", "cookie",
        ":", "=", " ", "\t", "'", "\"", "gAAAAA", "gAAAAABrAqX13A_5P7Mpk50rdcF8Vxdne",
        "Could not find token", "could not find token: ", "abc", "x", "-", "_", ",", "\n",
        "token", "g", "c", "C", "0123456789", "A", "AAAA", "k", "K", "find tok", "en",
    };
    uint32_t rng = 12345;
    size_t skipped = 0, changed = 0;
    for (int it = 0; it < 200000; it++) {
        char s[256], t[256];
        size_t w = 0;
        rng = rng * 1103515245u + 12345u;
        int parts = 1 + (int)((rng >> 16) % 8);
        for (int k = 0; k < parts; k++) {
            rng = rng * 1103515245u + 12345u;
            const char *f = frag[(rng >> 16) % (sizeof(frag) / sizeof(frag[0]))];
            size_t l = strlen(f);
            if (w + l >= sizeof(s))
                break;
            memcpy(s + w, f, l);
            w += l;
        }
        s[w] = '\0';
        memcpy(t, s, w + 1);
        size_t after = redact_text(t);
        int diff = after != w || memcmp(s, t, w) != 0;
        changed += (size_t)diff;
        if (!redact_text_may_change(s, w)) {
            skipped++;
            ck_assert_msg(!diff, "pre-check skipped a secret in \"%s\"", s);
        }
    }
    ck_assert_uint_gt(skipped, 1000); /* the pre-check does skip things */
    ck_assert_uint_gt(changed, 1000);
    ck_assert(redact_text_may_change("a\0b", 3)); /* NUL: callers truncate */
    ck_assert(!redact_text_may_change("2024-05-01T10:00:00Z", 20)); /* digits before ':' */
    ck_assert(redact_text_may_change("db_password = x", 15));
    /* secret keys by length, not NUL-terminated */
    static const struct {
        const char *k;
        int secret;
    } keys[] = {
        {"X_PASSWORD_Y", 1}, {"passw", 0},      {"mySecretKey", 1},  {"Passwd", 1},
        {"adminPass", 1},    {"adminpas", 0},   {"user_data", 1},    {"user_datax", 0},
        {"blob", 1},         {"blo", 0},        {"token", 0},        {"Authorization", 1},
        {"secre", 0},        {"passphrase", 1}, {"x-auth-token", 1}, {"name", 0},
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        size_t n = strlen(keys[i].k);
        char *c = (char *)exact_copy(keys[i].k, n);
        ck_assert_msg(redact_key_is_secret_n(c, n) == keys[i].secret, "%s", keys[i].k);
        ck_assert_int_eq(redact_key_is_secret(keys[i].k), keys[i].secret);
        free(c);
    }
    ck_assert(!redact_text_may_change("8c4f1c3e-5a0b-4d2e-9f6a-1b2c3d4e5f60", 36));
    /* random keys of letters no exact secret key name is made of: secret
     * exactly when "password", "passwd" or "secret" is in them (any case),
     * at any offset from a word's start, up to its very end */
    static const char abc[] = "pPaAsSwWoOrRdDeEcCtT_";
    uint32_t r = 12345;
    for (int iter = 0; iter < 200000; iter++) {
        char k[32], l[33];
        r = r * 1103515245u + 12345u;
        size_t n = (r >> 16) % 25;
        for (size_t i = 0; i < n; i++) {
            r = r * 1103515245u + 12345u;
            k[i] = abc[(r >> 16) % (sizeof(abc) - 1)];
            l[i] = (char)(k[i] >= 'A' && k[i] <= 'Z' ? k[i] + 32 : k[i]);
        }
        if (iter % 4 == 0 && n >= 8) { /* plant one */
            static const char *const lit[3] = {"password", "passwd", "secret"};
            const char *w = lit[iter % 3];
            size_t wl = strlen(w), at = (r >> 8) % (n - wl + 1);
            memcpy(k + at, w, wl);
            memcpy(l + at, w, wl);
        }
        l[n] = '\0';
        int want = strstr(l, "password") || strstr(l, "passwd") || strstr(l, "secret");
        char *c = (char *)exact_copy(k, n);
        ck_assert_msg(redact_key_is_secret_n(c, n) == want, "%.*s", (int)n, k);
        free(c);
    }
}
END_TEST

/* ---- embedded JSON (jv_cfg.embedded_key) ---- */

/* 1 if trees a and b hold the same values, keys and order. */
static int tree_eq(const struct jv *a, const struct jv *b)
{
    if (jv_type(a) != jv_type(b) || jv_keylen(a) != jv_keylen(b) ||
        (jv_keylen(a) && memcmp(jv_key(a), jv_key(b), jv_keylen(a)) != 0))
        return 0;
    switch (jv_type(a)) {
    case JV_STRING:
        return jv_strlen(a) == jv_strlen(b) && memcmp(jv_str(a), jv_str(b), jv_strlen(a)) == 0;
    case JV_NUMBER:
        return jv_num(a) == jv_num(b);
    case JV_OBJECT:
    case JV_ARRAY: {
        if (jv_size(a) != jv_size(b))
            return 0;
        const struct jv *x = jv_first(a), *y = jv_first(b);
        for (; x && y; x = jv_next(x), y = jv_next(y))
            if (!tree_eq(x, y))
                return 0;
        return !x && !y;
    }
    default:
        return 1;
    }
}

static uint64_t rng_state = 88172645463325252ULL;
static unsigned rnd(unsigned n)
{
    return (unsigned)(xorshift64(&rng_state) % n);
}

/* A random JSON value; hard: strings may hold what forces the slow way
 * (quotes, backslashes, controls, non-ASCII). */
static json_t *rnd_value(int depth, int hard)
{
    static const char *const words[] = {"req-0b1c", "nova", "build_and_run_instance", "",
                                        "8f3e1c2a-6d2b-4c55-9b1e-0d5f6c7a8b9c", "a b", "x:y,z"};
    static const char *const odd[] = {"q\"uote", "back\\slash", "line\nbreak", "caf\xc3\xa9",
                                      "tab\there", "sl/ash", "\xe2\x82\xac"};
    unsigned k = depth > 4 ? rnd(4) : rnd(7);
    switch (k) {
    case 0:
        return json_integer((json_int_t)rnd(100000) - 500);
    case 1:
        return rnd(2) ? json_true() : rnd(2) ? json_false() : json_null();
    case 2:
        return json_real((double)rnd(1000) / 8.0);
    case 3:
        return json_string(hard && rnd(4) == 0 ? odd[rnd(7)] : words[rnd(7)]);
    case 4: {
        json_t *a = json_array();
        for (unsigned i = rnd(4); i > 0; i--)
            json_array_append_new(a, rnd_value(depth + 1, hard));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (unsigned i = rnd(6); i > 0; i--) {
            char key[32];
            if (hard && rnd(6) == 0)
                snprintf(key, sizeof(key), "%s", odd[rnd(7)]);
            else
                snprintf(key, sizeof(key), "_context_%u", rnd(12));
            json_object_set_new(o, key, rnd_value(depth + 1, hard));
        }
        return o;
    }
    }
}

/* Parse [p, p+n) twice, with and without the embedded key; the outcomes
 * must agree: same error and offset, or trees where the embedded member is
 * the tree of its string parsed on its own. Returns 1 if it was embedded. */
static int check_embedded(const char *p, size_t n)
{
    struct jv_cfg plain, emb;
    oslo_cfg(&plain);
    oslo_cfg(&emb);
    emb.embedded_key = "oslo.message";
    struct jv_doc dp, de;
    jv_init(&dp, &plain, NULL);
    jv_init(&de, &emb, NULL);
    uint8_t *c = exact_copy(p, n);
    struct jv *rp = jv_parse(&dp, c, n);
    struct jv *re = jv_parse(&de, c, n);
    size_t op = 0, oe = 0;
    ck_assert_int_eq(jv_error(&dp, &op), jv_error(&de, &oe));
    ck_assert_uint_eq(op, oe);
    ck_assert(!rp == !re);
    int embedded = 0;
    if (rp) {
        ck_assert_uint_eq(jv_size(rp), jv_size(re));
        const struct jv *x = jv_first(rp), *y = jv_first(re);
        for (; x && y; x = jv_next(x), y = jv_next(y)) {
            if (!jv_is_embedded(y)) {
                ck_assert(tree_eq(x, y));
                continue;
            }
            embedded = 1;
            ck_assert(jv_key_eq(y, "oslo.message") && jv_is_object(y));
            ck_assert(jv_is_string(x));
            struct jv *in = jv_parse(&dp, jv_str(x), jv_strlen(x));
            ck_assert_ptr_nonnull(in);
            ck_assert_uint_eq(jv_size(in), jv_size(y));
            const struct jv *u = jv_first(in), *w = jv_first(y);
            for (; u && w; u = jv_next(u), w = jv_next(w))
                ck_assert(tree_eq(u, w));
            ck_assert(!u && !w);
        }
    }
    jv_release(&dp);
    jv_release(&de);
    free(c);
    return embedded;
}

static int check_embedded_str(const char *s)
{
    return check_embedded(s, strlen(s));
}

/* [s, s+n) parsed with and without skip_key "catalog" (REST settings):
 * the same verdict; on success every other value the same and the
 * catalog an empty container of its type, marked skipped; on failure the
 * same error at the same offset. Returns the error with the key. */
static enum jv_err check_skip(const char *s, size_t n)
{
    struct jv_cfg cfg;
    jv_defaults(&cfg);
    struct jv_cfg scfg = cfg;
    scfg.skip_key = "catalog";
    struct mem_pool pool;
    mem_pool_init(&pool, "t", 0);
    struct jv_doc d, sd;
    jv_init(&d, &cfg, &pool);
    jv_init(&sd, &scfg, &pool);
    uint8_t *c = exact_copy(s, n);
    struct jv *a = jv_parse(&d, c, n), *b = jv_parse(&sd, c, n);
    size_t oa = 0, ob = 0;
    enum jv_err ea = jv_error(&d, &oa), eb = jv_error(&sd, &ob);
    ck_assert_int_eq(ea, eb);
    ck_assert_uint_eq(oa, ob);
    ck_assert(!a == !b);
    /* walk both: equal but for the skipped members */
    const struct jv *sa[64], *sb[64];
    size_t top = 0;
    if (a) {
        sa[top] = a;
        sb[top++] = b;
    }
    while (top) {
        const struct jv *x = sa[--top], *y = sb[top];
        ck_assert_int_eq(jv_type(x), jv_type(y));
        if (jv_is_skipped(y)) {
            ck_assert(jv_is_container(x));
            ck_assert_uint_eq(jv_size(y), 0);
            ck_assert_ptr_null(jv_first(y));
            continue;
        }
        if (jv_is_string(x)) {
            ck_assert_uint_eq(jv_strlen(x), jv_strlen(y));
            ck_assert(memcmp(jv_str(x), jv_str(y), jv_strlen(x)) == 0);
        }
        ck_assert_uint_eq(jv_size(x), jv_size(y));
        const struct jv *mx = jv_first(x), *my = jv_first(y);
        for (; mx; mx = jv_next(mx), my = jv_next(my)) {
            ck_assert_ptr_nonnull(my);
            ck_assert_uint_eq(jv_keylen(mx), jv_keylen(my));
            int cat = jv_key(mx) && jv_keylen(mx) == 7 && !memcmp(jv_key(mx), "catalog", 7);
            ck_assert_int_eq(jv_is_skipped(my), cat && jv_is_container(mx));
            ck_assert_uint_lt(top, 64);
            sa[top] = mx;
            sb[top++] = my;
        }
        ck_assert_ptr_null(my);
    }
    jv_release(&d);
    jv_release(&sd);
    ck_assert_uint_eq(pool.used, 0);
    free(c);
    return eb;
}

static enum jv_err check_skip_str(const char *s)
{
    return check_skip(s, strlen(s));
}

START_TEST(skipped_members)
{
    /* a keystone token: the catalog checked, not kept; what follows read */
    ck_assert_int_eq(check_skip_str("{\"token\": {\"user\": {\"id\": \"u1\"}, \"catalog\": [{\"endpoints\": "
                                    "[{\"id\": \"e\\u00e9\", \"url\": \"http://h:5000/v3\"}], \"type\": "
                                    "\"identity\", \"w\": -1.5e3, \"t\": true, \"f\": false, \"z\": null, "
                                    "\"q\": \"a\\\"b\"}], \"project\": {\"id\": \"p1\", \"catalog\": {}}, "
                                    "\"x\": {\"catalog\": 7}}}"),
                     JV_OK);
    ck_assert_int_eq(check_skip_str("{\"catalog\": [[[], {}], [1, [2, [3]]]], \"x\": [\"catalog\"]}"), JV_OK);
    ck_assert_int_eq(check_skip_str("{\"catalog\": [1]\n}"), JV_OK);
    ck_assert_int_eq(check_skip("{\"catalog\": [1\0]}", 17), JV_OK); /* jansson's NUL */
    /* the same errors at the same offsets inside a skipped value */
    ck_assert_int_eq(check_skip_str("{\"catalog\": [1,]}"), JV_E_SYNTAX);
    ck_assert_int_eq(check_skip_str("{\"catalog\": [tru]}"), JV_E_SYNTAX);
    ck_assert_int_eq(check_skip_str("{\"catalog\": [-]}"), JV_E_SYNTAX);
    ck_assert_int_eq(check_skip_str("{\"catalog\": {\"a\" 1}}"), JV_E_SYNTAX);
    ck_assert_int_eq(check_skip_str("{\"catalog\": {\"a\": 1,}}"), JV_E_SYNTAX);
    ck_assert_int_eq(check_skip_str("{\"catalog\": [\"\\q\"]}"), JV_E_ESCAPE);
    ck_assert_int_eq(check_skip_str("{\"catalog\": [\"\xff\"]}"), JV_E_UTF8);
    ck_assert_int_eq(check_skip_str("{\"catalog\": [1]"), JV_E_SYNTAX);
    ck_assert_int_eq(check_skip_str("{\"catalog\": [1}"), JV_E_SYNTAX);
    ck_assert_int_eq(check_skip_str("{\"catalog\": [1]} x"), JV_E_TRAILING);
    char deep[4200];
    size_t w = (size_t)snprintf(deep, sizeof(deep), "{\"catalog\": ");
    for (int i = 0; i < 2100; i++)
        deep[w++] = '[';
    ck_assert_int_eq(check_skip(deep, w), JV_E_DEPTH);
    /* duplicate keys: refused outside a skipped value, not looked for in it */
    ck_assert_int_eq(check_skip_str("{\"a\": {\"k\": 1, \"k\": 2}, \"catalog\": []}"), JV_E_DUP);
    struct jv_cfg cfg;
    jv_defaults(&cfg);
    cfg.skip_key = "catalog";
    const char *dup = "{\"catalog\": {\"k\": 1, \"k\": 2}, \"n\": 1}";
    ck_assert_int_eq(parse_err(&cfg, dup, strlen(dup)), JV_OK);
    ck_assert_int_eq(parse_err(NULL, dup, strlen(dup)), JV_E_DUP);
}
END_TEST

START_TEST(escaped_string_error_either_way)
{
    /* a bad escape before a raw control: the first error is the escape,
     * whether the string is unescaped in one pass (a fresh document: its
     * first block has room) or two (the block kept from a small document
     * lacks room for the rest of a long one) */
    char doc[20000];
    size_t w = (size_t)snprintf(doc, sizeof(doc), "[\"\\q\x01\"");
    while (w < sizeof(doc) - 2) {
        doc[w++] = ',';
        doc[w++] = '0';
    }
    doc[w++] = ']';
    for (int reuse = 0; reuse < 2; reuse++) {
        struct jv_doc d;
        jv_init(&d, NULL, NULL);
        if (reuse) {
            ck_assert_ptr_nonnull(jv_parse(&d, "[1]", 3));
            jv_reset(&d);
        }
        uint8_t *c = exact_copy(doc, w);
        ck_assert_ptr_null(jv_parse(&d, c, w));
        size_t off = 0;
        ck_assert_int_eq(jv_error(&d, &off), JV_E_ESCAPE);
        ck_assert_uint_eq(off, 2);
        jv_release(&d);
        free(c);
    }
}
END_TEST

START_TEST(embedded_cases)
{
    /* read in the same pass */
    ck_assert(check_embedded_str("{\"oslo.version\": \"2.0\", \"oslo.message\": "
                                 "\"{\\\"method\\\": \\\"x\\\", \\\"args\\\": {\\\"n\\\": [1, 2.5e3, "
                                 "true, false, null, {}, []]}, \\\"caf\xc3\xa9\\\": \\\"\\\"}\"}"));
    ck_assert(check_embedded_str("{\"oslo.message\":\"{}\"}"));
    ck_assert(check_embedded_str("{\"oslo.message\": \"{\\\"a\\\":1}  \" }"));
    /* the last of two duplicates, at the place of the first */
    ck_assert(check_embedded_str("{\"oslo.message\": \"{\\\"a\\\": 1}\", \"v\": 1, "
                                 "\"oslo.message\": \"{\\\"b\\\": 2}\"}"));
    ck_assert(check_embedded_str("{\"oslo.message\": \"x\", \"oslo.message\": \"{\\\"b\\\": 2}\"}"));
    /* the text's own escapes, written \\\\ and \\\" in the holding string:
     * still one pass (nested JSON strings of nova: cpu_info, ...) */
    ck_assert(check_embedded_str("{\"oslo.message\": \"{\\\"a\\\": \\\"q\\\\\\\"x\\\"}\"}"));
    ck_assert(check_embedded_str("{\"oslo.message\": \"{\\\"a\\\": \\\"\\\\u00e9\\\"}\"}"));
    ck_assert(check_embedded_str("{\"oslo.message\": \"{\\\"k\\\\\\\"ey\\\": \\\"a\\\\\\\\b\\\\n\\\", "
                                 "\\\"c\\\": \\\"{\\\\\\\"x\\\\\\\": \\\\\\\"y\\\\\\\"}\\\"}\"}"));
    /* ... where they do not hold: the usual way, with its checks */
    check_embedded_str("{\"oslo.message\": \"{\\\"a\\\": \\\"\\\\u0000\\\"}\"}"); /* \u0000 in a value */
    check_embedded_str("{\"oslo.message\": \"{\\\"\\\\u0000\\\": 1}\"}");         /* ... in a key */
    check_embedded_str("{\"oslo.message\": \"{\\\"a\\\": \\\"\\\\q\\\"}\"}");       /* bad escape */
    check_embedded_str("{\"oslo.message\": \"{\\\"a\\\": \\\"\\\\\\\"}\"}");         /* cut */
    check_embedded_str("{\"oslo.message\": \"{\\\"a\\\": \\\"x\\\\\"}\"}");            /* raw '\"' */
    ck_assert(!check_embedded_str("{\"oslo.message\": \"{\\\"a\\\": \\\"\\\\\\nx\\\"}\"}"));
    /* strings, the usual way */
    ck_assert(!check_embedded_str("{\"oslo.message\": \"{\\\"a\\\":\\n1}\"}"));
    ck_assert(!check_embedded_str("{\"oslo.message\": \"{\\\"a\\\": 1} x\"}"));
    ck_assert(!check_embedded_str("{\"oslo.message\": \"{\\\"a\\\": 1}{}\"}"));
    ck_assert(!check_embedded_str("{\"oslo.message\": \"{\\\"a\\\": 1\"}"));
    ck_assert(!check_embedded_str("{\"oslo.message\": \"[1, 2]\"}"));
    ck_assert(!check_embedded_str("{\"oslo.message\": \" {}\"}"));
    ck_assert(!check_embedded_str("{\"x\": {\"oslo.message\": \"{}\"}}"));
    ck_assert(!check_embedded_str("[\"oslo.message\", \"{}\"]"));
    ck_assert(!check_embedded_str("{\"oslo.messages\": \"{}\"}"));
    ck_assert(!check_embedded_str("{\"oslo.message\": \"{\\\"a\\\": 1\\u0000}\"}"));
    ck_assert(!check_embedded_str("{\"oslo.message\": \"{\\\"a\\\": [1\\\"]}\"}"));
    /* errors of the document: same code and offset either way */
    check_embedded_str("{\"oslo.message\": \"{\\\"a\\\":\n1}\"}");   /* raw control */
    check_embedded_str("{\"oslo.message\": \"{\\\"a\\\": \xff}\"}");  /* bad UTF-8 */
    check_embedded_str("{\"oslo.message\": \"{\\\"a\\\": 1}\"");      /* cut */
    check_embedded_str("{\"oslo.message\": \"{\\\"a\\\": 1}\" x}");   /* garbage after */
    check_embedded_str("{\"oslo.message\": \"{\\\"a\\\": \\q}\"}");   /* bad escape */
    check_embedded_str("{\"oslo.message\": \"{\\\"a\\\": 1}\", \"\\u0000\": 1}");
    /* a text nested deeper than the limit: read the usual way, and the
     * depth limit counts from the text's own top as it did */
    char deep[8192];
    size_t w = (size_t)snprintf(deep, sizeof(deep), "{\"oslo.message\": \"");
    for (int i = 0; i < 2049; i++)
        deep[w++] = i ? '[' : '{';
    w += (size_t)snprintf(deep + w, sizeof(deep) - w, "\\\"k\\\": 1");
    deep[w++] = '"';
    deep[w++] = '}';
    ck_assert(!check_embedded(deep, w));
}
END_TEST

START_TEST(embedded_random_documents)
{
    static const size_t inner_flags[] = {0, JSON_COMPACT, JSON_ENSURE_ASCII, JSON_INDENT(1),
                                         JSON_ESCAPE_SLASH};
    size_t easy = 0, easy_embedded = 0, hard_embedded = 0;
    for (int i = 0; i < 3000; i++) {
        int hard = i % 2;
        json_t *inner = json_object();
        for (unsigned m = rnd(8) + 1; m > 0; m--) {
            char key[32];
            snprintf(key, sizeof(key), "_k%u", rnd(20));
            json_object_set_new(inner, key, rnd_value(1, hard));
        }
        size_t fl = hard ? inner_flags[rnd(5)] : (rnd(2) ? 0 : JSON_COMPACT);
        char *text = json_dumps(inner, fl | JSON_PRESERVE_ORDER);
        ck_assert_ptr_nonnull(text);
        json_t *env = json_object();
        json_object_set_new(env, "oslo.version", json_string("2.0"));
        json_object_set_new(env, "oslo.message", json_string(text));
        char *body = json_dumps(env, JSON_PRESERVE_ORDER | (rnd(2) ? 0 : JSON_COMPACT));
        ck_assert_ptr_nonnull(body);
        size_t n = strlen(body);
        int e = check_embedded(body, n);
        if (!hard) {
            easy++;
            easy_embedded += (size_t)e;
        } else {
            hard_embedded += (size_t)e;
        }
        /* damaged copies: one byte changed, or cut */
        char *dmg = malloc(n);
        ck_assert_ptr_nonnull(dmg);
        for (int k = 0; k < 4; k++) {
            memcpy(dmg, body, n);
            static const char bytes[] = "\"\\{}[]:, \n\x01\xc3x0";
            dmg[rnd((unsigned)n)] = bytes[rnd(sizeof(bytes) - 1)];
            check_embedded(dmg, k == 3 ? rnd((unsigned)n) : n);
        }
        free(dmg);
        free(body);
        free(text);
        json_decref(env);
        json_decref(inner);
    }
    /* every text without escapes of its own is read in the same pass */
    ck_assert_uint_eq(easy_embedded, easy);
    ck_assert_uint_gt(hard_embedded, 0);
}
END_TEST

static Suite *json_suite(void)
{
    Suite *s = suite_create("json");
    TCase *t = tcase_create("core");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, values_and_accessors);
    tcase_add_test(t, unicode_escapes);
    tcase_add_test(t, rejections);
    tcase_add_test(t, jansson_compatible_accepts);
    tcase_add_test(t, big_object_duplicates);
    tcase_add_test(t, colliding_keys);
    tcase_add_test(t, limits_and_memory);
    tcase_add_test(t, prefixes_refused);
    tcase_add_test(t, escaped_strings_at_block_ends);
    tcase_add_test(t, redact_json_tree);
    tcase_add_test(t, precheck_never_skips_a_secret);
    tcase_add_test(t, embedded_cases);
    tcase_add_test(t, embedded_random_documents);
    tcase_add_test(t, skipped_members);
    tcase_add_test(t, escaped_string_error_either_way);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(json_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
