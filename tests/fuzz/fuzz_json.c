/* fuzz_json.c -- libFuzzer target for the JSON reader (parsers/jv.h),
 * differential against jansson as the oracle: the first byte picks the
 * mode (REST: duplicates rejected, no \u0000; oslo: duplicates merged
 * last-wins, \u0000 allowed, "oslo.message" strings read as embedded JSON
 * where they can be, which must then match jansson's tree of the unescaped
 * string), the rest is the document. Both must accept or
 * reject alike, and accepted trees must match value for value: types, keys
 * in order, string bytes, member counts, numbers. Then the same bytes are
 * parsed again into the reset document, and every string is duplicated and
 * re-set (the scrubber's path), to exercise reuse. Every string value also
 * checks the scrubber's pre-check (redact_text_may_change 0 means
 * redact_text leaves it alone), and the tree is scrubbed at the end. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/mem.h"
#include "parsers/jv.h"
#include "parsers/redact.h"

/* The skip_key of the third parse (REST mode): containers under it are
 * checked but not kept. */
#define SKIP_KEY "a"
static int skipping; /* same() compares a tree parsed with SKIP_KEY */

static void same(const struct jv *a, json_t *b, int depth)
{
    if (depth > 4096)
        abort();
    if (jv_is_skipped(a)) { /* empty, of the type it was */
        if (json_typeof(b) != (jv_is_object(a) ? JSON_OBJECT : JSON_ARRAY) || jv_size(a) ||
            jv_first(a))
            abort();
        return;
    }
    switch (json_typeof(b)) {
    case JSON_OBJECT: {
        if (!jv_is_object(a) || jv_size(a) != json_object_size(b))
            abort();
        const struct jv *m;
        size_t cnt = 0;
        /* jansson keeps insertion order (first place of a duplicate) */
        void *it = json_object_iter(b);
        JV_FOREACH(a, m)
        {
            if (!it)
                abort();
            const char *k = json_object_iter_key(it);
            size_t kn = json_object_iter_key_len(it);
            if (kn != jv_keylen(m) || memcmp(k, jv_key(m), kn) != 0)
                abort();
            if (jv_getn(a, k, kn) != m)
                abort(); /* lookup finds this very member */
            if (jv_is_skipped(m) !=
                (skipping && jv_is_container(m) && kn == 1 && k[0] == SKIP_KEY[0]))
                abort(); /* skipped: exactly the containers under the key */
            same(m, json_object_iter_value(it), depth + 1);
            it = json_object_iter_next(b, it);
            cnt++;
        }
        if (it || cnt != jv_size(a))
            abort();
        break;
    }
    case JSON_ARRAY: {
        if (!jv_is_array(a) || jv_size(a) != json_array_size(b))
            abort();
        const struct jv *e;
        size_t i = 0;
        JV_FOREACH(a, e)
        {
            same(e, json_array_get(b, i), depth + 1);
            i++;
        }
        if (i != json_array_size(b))
            abort();
        break;
    }
    case JSON_STRING:
        if (jv_is_embedded(a)) {
            /* read in the same pass: the tree of the unescaped text */
            json_t *in = json_loadb(json_string_value(b), json_string_length(b), JSON_ALLOW_NUL,
                                    NULL);
            if (!json_is_object(in))
                abort();
            same(a, in, depth + 1);
            json_decref(in);
            break;
        }
        if (!jv_is_string(a) || jv_strlen(a) != json_string_length(b) ||
            memcmp(jv_str(a), json_string_value(b), jv_strlen(a)) != 0)
            abort();
        break;
    case JSON_INTEGER:
    case JSON_REAL:
        if (!jv_is_number(a) || jv_num(a) != json_number_value(b))
            abort();
        break;
    case JSON_TRUE:
        if (jv_type(a) != JV_TRUE)
            abort();
        break;
    case JSON_FALSE:
        if (jv_type(a) != JV_FALSE)
            abort();
        break;
    case JSON_NULL:
        if (jv_type(a) != JV_NULL)
            abort();
        break;
    }
}

/* Every string through jv_str_dup / jv_str_set: values must not change. */
static void dup_all(struct jv_doc *d, struct jv *v, int depth)
{
    struct jv *x;
    if (depth > 4096)
        abort();
    if (jv_is_string(v)) {
        size_t n = jv_strlen(v);
        char *c = jv_str_dup(d, v);
        if (!c)
            return;
        if (memcmp(c, jv_str(v), n) != 0 || c[n] != '\0')
            abort();
        if (!redact_text_may_change(c, n)) {
            char *t = jv_str_dup(d, v);
            if (t && (redact_text(t) != n || memcmp(t, c, n) != 0))
                abort(); /* the pre-check skipped a string redact_text changes */
        }
        jv_str_set(v, c, n);
        return;
    }
    JV_FOREACH(v, x)
    dup_all(d, x, depth + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int oslo = data[0] & 1;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    /* an exactly-sized copy: any overread hits the redzone */
    uint8_t *copy = malloc(n ? n : 1);
    if (n)
        memcpy(copy, p, n);

    struct mem_pool pool;
    mem_pool_init(&pool, "json", 256u << 20);
    struct jv_cfg cfg;
    jv_defaults(&cfg);
    cfg.allow_nul = oslo;
    cfg.dup_reject = !oslo;
    if (oslo)
        cfg.embedded_key = "oslo.message"; /* oslo's envelope, read in one pass */
    struct jv_doc d;
    jv_init(&d, &cfg, &pool);

    json_error_t je;
    json_t *ref = json_loadb((const char *)copy, n, oslo ? JSON_ALLOW_NUL : JSON_REJECT_DUPLICATES,
                             &je);
    struct jv *root = jv_parse(&d, copy, n);
    if (jv_error(&d, NULL) == JV_E_NOMEM)
        goto out;
    if (!root != !ref)
        abort(); /* accept / reject disagree */
    if (root) {
        same(root, ref, 0);
        dup_all(&d, root, 0);
        same(root, ref, 0);
    }
    jv_reset(&d);
    root = jv_parse(&d, copy, n);
    if (root && ref)
        same(root, ref, 0);
    else if (!root != !ref && jv_error(&d, NULL) != JV_E_NOMEM)
        abort();
    redact_json(&d, root);

    if (!oslo) {
        /* again with a skip_key: the same verdict and tree but for the
         * skipped containers (empty), the same error at the same offset,
         * except that duplicate keys inside them are not looked for */
        size_t off0 = 0, off1 = 0;
        enum jv_err e0 = jv_error(&d, &off0);
        struct jv_cfg scfg = cfg;
        scfg.skip_key = SKIP_KEY;
        struct jv_doc sd;
        jv_init(&sd, &scfg, &pool);
        struct jv *sroot = jv_parse(&sd, copy, n);
        enum jv_err e1 = jv_error(&sd, &off1);
        if (e0 != JV_E_NOMEM && e1 != JV_E_NOMEM) {
            if (root) {
                if (!sroot)
                    abort();
                skipping = 1;
                same(sroot, ref, 0);
                skipping = 0;
            } else if (e0 != JV_E_DUP && (sroot || e1 != e0 || off1 != off0)) {
                abort();
            }
        }
        jv_release(&sd);
    }
out:
    json_decref(ref);
    jv_release(&d);
    if (pool.used != 0)
        abort();
    free(copy);
    return 0;
}
