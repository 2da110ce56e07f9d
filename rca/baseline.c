/* baseline.c -- usual durations by key (see baseline.h). */
#include "rca/baseline.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "capture/str.h"

#define LOAD_MAX (64u << 20)

struct bl_entry {
    char key[BASELINE_KEY_MAX];
    uint64_t hash;
    struct sketch s;
};

struct baseline {
    struct bl_entry *e; /* open addressing, cap a power of two */
    size_t cap, n, max_keys;
    struct stats *st;
};

static uint64_t key_hash(const char *k)
{
    return str_hash(k, strlen(k)) | 1; /* 0 marks an empty slot */
}

struct baseline *baseline_new(size_t max_keys, struct stats *st)
{
    struct baseline *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->max_keys = max_keys ? max_keys : 8192;
    b->st = st;
    return b;
}

void baseline_free(struct baseline *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->cap; i++)
        sketch_free(&b->e[i].s);
    free(b->e);
    free(b);
}

static struct bl_entry *slot(const struct baseline *b, const char *key, uint64_t h)
{
    if (!b->cap)
        return NULL;
    for (size_t i = h & (b->cap - 1);; i = (i + 1) & (b->cap - 1)) {
        struct bl_entry *x = &b->e[i];
        if (!x->hash || (x->hash == h && !strcmp(x->key, key)))
            return x;
    }
}

static int grow(struct baseline *b)
{
    size_t ncap = b->cap ? b->cap * 2 : 64;
    struct bl_entry *ne = calloc(ncap, sizeof(*ne));
    if (!ne)
        return -1;
    for (size_t i = 0; i < b->cap; i++) {
        if (!b->e[i].hash)
            continue;
        size_t j = b->e[i].hash & (ncap - 1);
        while (ne[j].hash)
            j = (j + 1) & (ncap - 1);
        ne[j] = b->e[i];
    }
    free(b->e);
    b->e = ne;
    b->cap = ncap;
    return 0;
}

/* The entry of key, made when create; NULL when full or out of memory. */
static struct bl_entry *entry(struct baseline *b, const char *key, int create)
{
    uint64_t h = key_hash(key);
    struct bl_entry *x = slot(b, key, h);
    if (x && x->hash)
        return x;
    if (!create)
        return NULL;
    if (b->n >= b->max_keys) {
        stats_add(b->st, "baseline.keys_full", 1);
        return NULL;
    }
    if ((b->n + 1) * 2 > b->cap) {
        if (grow(b) < 0)
            return NULL;
        x = slot(b, key, h);
    }
    x->hash = h;
    str_copy(x->key, sizeof(x->key), key);
    sketch_init(&x->s);
    b->n++;
    return x;
}

int baseline_learn(struct baseline *b, const char *key, uint64_t v)
{
    struct bl_entry *x = entry(b, key, 1);
    if (!x)
        return -1;
    return sketch_add(&x->s, v);
}

const struct sketch *baseline_get(const struct baseline *b, const char *key)
{
    const struct bl_entry *x = slot(b, key, key_hash(key));
    return x && x->hash && x->s.n ? &x->s : NULL;
}

uint64_t baseline_usual(const struct baseline *b, const char *key, uint64_t *n)
{
    const struct sketch *s = baseline_get(b, key);
    if (n)
        *n = s ? s->n : 0;
    return s ? sketch_quantile(s, 0.5) : 0;
}

size_t baseline_count(const struct baseline *b)
{
    return b->n;
}

static int key_cmp(const void *x, const void *y)
{
    const struct bl_entry *a = *(const struct bl_entry *const *)x;
    const struct bl_entry *c = *(const struct bl_entry *const *)y;
    return strcmp(a->key, c->key);
}

int baseline_save(const struct baseline *b, FILE *f)
{
    const struct bl_entry **v = malloc((b->n ? b->n : 1) * sizeof(*v));
    json_t *root = json_object(), *keys = json_object();
    if (!v || !root || !keys) {
        free(v);
        json_decref(root);
        json_decref(keys);
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < b->cap; i++)
        if (b->e[i].hash && b->e[i].s.n)
            v[k++] = &b->e[i];
    qsort(v, k, sizeof(*v), key_cmp);
    json_object_set_new(root, "osrca_baseline", json_integer(1));
    for (size_t i = 0; i < k; i++) {
        const struct sketch *s = &v[i]->s;
        json_t *o = json_object(), *bins = json_array();
        json_object_set_new(o, "zeros", json_integer((json_int_t)s->zeros));
        json_object_set_new(o, "lo", json_integer(s->lo));
        for (uint32_t j = 0; j < s->nbins; j++)
            json_array_append_new(bins, json_integer(s->bins[j]));
        json_object_set_new(o, "bins", bins);
        json_object_set_new(keys, v[i]->key, o);
    }
    json_object_set_new(root, "keys", keys);
    free(v);
    int rc = json_dumpf(root, f, JSON_SORT_KEYS | JSON_COMPACT) < 0 || fputc('\n', f) == EOF ? -1 : 0;
    json_decref(root);
    return rc;
}

int baseline_load_buf(struct baseline *b, const char *buf, size_t n, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        snprintf(err, errlen, "not JSON: line %d: %s", je.line, je.text);
        return -1;
    }
    json_t *keys = json_object_get(root, "keys");
    if (!json_is_object(root) || json_integer_value(json_object_get(root, "osrca_baseline")) != 1 ||
        !json_is_object(keys)) {
        snprintf(err, errlen, "not an osrca baseline (no \"osrca_baseline\":1 and \"keys\")");
        json_decref(root);
        return -1;
    }
    const char *key;
    json_t *o;
    json_object_foreach(keys, key, o) {
        json_t *zeros = json_object_get(o, "zeros"), *lo = json_object_get(o, "lo"),
               *bins = json_object_get(o, "bins");
        if (!json_is_object(o) || strlen(key) >= BASELINE_KEY_MAX || !*key ||
            !json_is_integer(lo) || !json_is_array(bins) ||
            (zeros && (!json_is_integer(zeros) || json_integer_value(zeros) < 0 ||
                       json_integer_value(zeros) > UINT32_MAX)) ||
            json_integer_value(lo) < 0 || json_integer_value(lo) >= SKETCH_MAX_BINS ||
            json_integer_value(lo) + (json_int_t)json_array_size(bins) > SKETCH_MAX_BINS) {
            stats_add(b->st, "baseline.load_bad", 1);
            continue;
        }
        int32_t l = (int32_t)json_integer_value(lo);
        int ok = 1;
        size_t i;
        json_t *x;
        json_array_foreach(bins, i, x) {
            if (!json_is_integer(x) || json_integer_value(x) < 0 ||
                json_integer_value(x) > UINT32_MAX)
                ok = 0;
        }
        if (!ok) {
            stats_add(b->st, "baseline.load_bad", 1);
            continue;
        }
        struct bl_entry *e = entry(b, key, 1);
        if (!e)
            continue;
        if (zeros)
            sketch_add_zeros(&e->s, (uint64_t)json_integer_value(zeros));
        json_array_foreach(bins, i, x) {
            if (json_integer_value(x) > 0 &&
                sketch_add_bin(&e->s, l + (int32_t)i, (uint32_t)json_integer_value(x)) < 0)
                stats_add(b->st, "baseline.load_bad", 1);
        }
    }
    json_decref(root);
    return 0;
}

int baseline_load(struct baseline *b, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open", path);
        return -1;
    }
    char *buf = malloc(LOAD_MAX);
    size_t n = buf ? fread(buf, 1, LOAD_MAX, f) : 0;
    int big = buf && n == LOAD_MAX;
    fclose(f);
    if (!buf || big) {
        free(buf);
        snprintf(err, errlen, "%s: %s", path, buf ? "larger than 64 MiB" : "out of memory");
        return -1;
    }
    char e2[200];
    int rc = baseline_load_buf(b, buf, n, e2, sizeof(e2));
    if (rc < 0)
        snprintf(err, errlen, "%s: %s", path, e2);
    free(buf);
    return rc;
}
