/* rules_load.c -- rules/ directory loader (see rules_load.h; schema in
 * RULES_SCHEMA.md). libyaml's document API gives every node its
 * start mark, so errors carry file:line:column; aliases are refused in a
 * first event pass (no shared sub-trees, no "billion laughs"). Patterns are
 * compiled once with PCRE2 (JIT when available). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "rca/rules_load.h"

#include <dirent.h>
#include <errno.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define RL_PATH_MAX 256
#define RL_MSG_MAX 512

static const char *const field_names[RULES_F_COUNT] = {
    "kind", "status", "error_class", "module", "message",
    "event_type", "service", "operation", "rpc_method",
};

struct rl_fault {
    struct rules_fault pub;
    pcre2_code *re[RULES_F_COUNT];
};

struct rules {
    struct svcmap *map;
    char **services;
    size_t nservices, capservices;
    char **embedded; /* services that run inside whichever service calls them */
    size_t nembedded, capembedded;
    char **deps;     /* depends_on pairs: deps[2i] depends on deps[2i + 1] */
    size_t ndeps, capdeps; /* strings, two a pair */
    struct rl_fault *faults;
    size_t nfaults, capfaults;
    size_t noperations;
    struct rules_perf *perf; /* performance rules, in file order */
    size_t nperf, capperf;
    /* for every match: only whether it matched is asked, so one pair of
     * offsets does for any pattern (pcre2_match returns 0 when they do not
     * hold all the groups), made once instead of once per match */
    pcre2_match_data *md;
};

/* A culprit naming a service, checked once every file is read. */
struct rl_pending {
    char *where; /* "file:line:col: path" */
    char *service;
};

struct loader {
    struct rules *r;
    const char *file;
    void (*cb)(void *ctx, const char *msg);
    void *cb_ctx;
    int errors;
    char *first; /* first error message */
    struct rl_pending *pend;
    size_t npend, cappend;
    yaml_document_t *doc;
};

static char *rl_strdup(const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d)
        memcpy(d, s, n + 1);
    return d;
}

static int rl_grow(void **v, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 8;
    void *nv = realloc(*v, ncap * sz);
    if (!nv)
        return -1;
    *v = nv;
    *cap = ncap;
    return 0;
}

static void rl_emit(struct loader *L, const char *msg)
{
    L->errors++;
    if (!L->first)
        L->first = rl_strdup(msg);
    if (L->cb)
        L->cb(L->cb_ctx, msg);
}

/* Report an error at a node (or file start when node is NULL). */
static void rl_err(struct loader *L, const yaml_node_t *node, const char *path, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));
static void rl_err(struct loader *L, const yaml_node_t *node, const char *path, const char *fmt,
                   ...)
{
    char m[RL_MSG_MAX], full[RL_MSG_MAX + RL_PATH_MAX + 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof(m), fmt, ap);
    va_end(ap);
    size_t line = node ? node->start_mark.line + 1 : 1;
    size_t col = node ? node->start_mark.column + 1 : 1;
    snprintf(full, sizeof(full), "%s:%zu:%zu: %s: %s", L->file, line, col,
             path && *path ? path : "(top)", m);
    rl_emit(L, full);
}

static yaml_node_t *rl_node(struct loader *L, int idx)
{
    return yaml_document_get_node(L->doc, idx);
}

static const char *rl_scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A scalar that is YAML null ("", "~", "null") in plain style. */
static int rl_is_null(const yaml_node_t *n)
{
    if (!n || n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    const char *s = (const char *)n->data.scalar.value;
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

static void rl_path(char *out, size_t n, const char *base, const char *key)
{
    if (snprintf(out, n, "%s%s%s", base, *base ? "." : "", key) >= (int)n)
        out[n - 1] = '\0'; /* a very deep path is cut, never overrun */
}

static void rl_index(char *out, size_t n, const char *base, int i)
{
    if (snprintf(out, n, "%s[%d]", base, i) >= (int)n)
        out[n - 1] = '\0';
}

/* ---- faults ---- */

static int rl_culprit(const char *s, enum rules_culprit *c)
{
    static const struct {
        const char *name;
        enum rules_culprit c;
    } t[] = {
        {"origin", RULES_CULPRIT_ORIGIN},
        {"topic-consumer", RULES_CULPRIT_TOPIC_CONSUMER},
        {"callee", RULES_CULPRIT_CALLEE},
        {"caller", RULES_CULPRIT_CALLER},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (!strcmp(s, t[i].name)) {
            *c = t[i].c;
            return 1;
        }
    }
    *c = RULES_CULPRIT_SERVICE;
    return 0;
}

static void rl_fault_free(struct rl_fault *f)
{
    free((char *)f->pub.name);
    free((char *)f->pub.category);
    free((char *)f->pub.hint);
    free((char *)f->pub.culprit_service);
    for (size_t i = 0; i < f->pub.nwhen_down; i++)
        free((char *)f->pub.when_down[i]);
    free((void *)f->pub.when_down);
    for (int i = 0; i < RULES_F_COUNT; i++)
        pcre2_code_free(f->re[i]);
}

/* A list of non-empty strings into a new array (*out, *n); 0 or -1 (an
 * error was reported). */
static int rl_names(struct loader *L, const yaml_node_t *v, const char *path, const char ***out,
                    size_t *n)
{
    if (v->type != YAML_SEQUENCE_NODE) {
        rl_err(L, v, path, "expected a list of service names");
        return -1;
    }
    char p[RL_PATH_MAX];
    size_t cap = 0;
    int i = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++, i++) {
        yaml_node_t *e = rl_node(L, *it);
        rl_index(p, sizeof(p), path, i);
        const char *str = rl_scalar(e);
        if (!str || !*str) {
            rl_err(L, e, p, "expected a non-empty string");
            return -1;
        }
        char *d = rl_strdup(str);
        if (!d || rl_grow((void **)out, &cap, *n, sizeof(char *)) < 0) {
            free(d);
            rl_err(L, e, p, "out of memory");
            return -1;
        }
        (*out)[(*n)++] = d;
    }
    return 0;
}

/* Compile pattern of field k; 0 or -1 (error reported). */
static int rl_compile(struct loader *L, const yaml_node_t *v, const char *path, struct rl_fault *f,
                      int k)
{
    int ec;
    PCRE2_SIZE off;
    const char *pat = rl_scalar(v);
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &ec, &off,
                                   NULL);
    if (!re) {
        PCRE2_UCHAR buf[256];
        if (pcre2_get_error_message(ec, buf, sizeof(buf)) < 0)
            snprintf((char *)buf, sizeof(buf), "error %d", ec);
        rl_err(L, v, path, "bad regex at offset %zu: %s", (size_t)off, (const char *)buf);
        return -1;
    }
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* optional: interpreter otherwise */
    f->re[k] = re;
    return 0;
}

static void rl_fault_item(struct loader *L, const yaml_node_t *item, const char *path)
{
    if (item->type != YAML_MAPPING_NODE) {
        rl_err(L, item, path, "expected a mapping");
        return;
    }
    struct rl_fault f;
    memset(&f, 0, sizeof(f));
    const yaml_node_t *culprit_node = NULL;
    int nmatch = 0, bad = 0, have_match = 0;
    char p[RL_PATH_MAX], pp[RL_PATH_MAX];
    for (yaml_node_pair_t *pr = item->data.mapping.pairs.start; pr < item->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *kn = rl_node(L, pr->key), *vn = rl_node(L, pr->value);
        const char *key = rl_scalar(kn);
        if (!key || !vn) {
            rl_err(L, kn, path, "keys must be plain strings");
            bad = 1;
            continue;
        }
        rl_path(p, sizeof(p), path, key);
        if (!strcmp(key, "match")) {
            have_match = 1;
            if (vn->type != YAML_MAPPING_NODE) {
                rl_err(L, vn, p, "expected a mapping of field: regex");
                bad = 1;
                continue;
            }
            for (yaml_node_pair_t *mp = vn->data.mapping.pairs.start;
                 mp < vn->data.mapping.pairs.top; mp++) {
                yaml_node_t *mk = rl_node(L, mp->key), *mv = rl_node(L, mp->value);
                const char *mkey = rl_scalar(mk);
                if (!mkey || !mv) {
                    rl_err(L, mk, p, "keys must be plain strings");
                    bad = 1;
                    continue;
                }
                rl_path(pp, sizeof(pp), p, mkey);
                int k = -1;
                for (int i = 0; i < RULES_F_COUNT; i++)
                    if (!strcmp(mkey, field_names[i]))
                        k = i;
                if (k < 0) {
                    rl_err(L, mk, pp, "unknown key");
                    bad = 1;
                } else if (f.re[k]) {
                    rl_err(L, mk, pp, "duplicate key");
                    bad = 1;
                } else if (!rl_scalar(mv)) {
                    rl_err(L, mv, pp, "expected a regex string");
                    bad = 1;
                } else if (rl_compile(L, mv, pp, &f, k) < 0) {
                    bad = 1;
                } else {
                    nmatch++;
                }
            }
            if (nmatch == 0 && !bad) {
                rl_err(L, vn, p, "at least one field to match is required");
                bad = 1;
            }
            continue;
        }
        if (!strcmp(key, "when_down_within")) {
            const char *v = rl_scalar(vn);
            char *end = NULL;
            unsigned long x = v ? strtoul(v, &end, 10) : 0;
            if (!v || !*v || *end || x == 0 || x > 86400) {
                rl_err(L, vn, p, "expected seconds, 1..86400");
                bad = 1;
            } else {
                f.pub.when_down_within_s = (unsigned)x;
            }
            continue;
        }
        if (!strcmp(key, "when_down")) {
            if (f.pub.when_down) {
                rl_err(L, kn, p, "duplicate key");
                bad = 1;
            } else if (rl_names(L, vn, p, (const char ***)&f.pub.when_down, &f.pub.nwhen_down) <
                       0) {
                bad = 1;
            }
            continue;
        }
        const char **dst = NULL;
        if (!strcmp(key, "name"))
            dst = &f.pub.name;
        else if (!strcmp(key, "category"))
            dst = &f.pub.category;
        else if (!strcmp(key, "hint"))
            dst = &f.pub.hint;
        else if (!strcmp(key, "culprit")) {
            dst = &f.pub.culprit_service;
            culprit_node = vn;
        } else {
            rl_err(L, kn, p, "unknown key");
            bad = 1;
            continue;
        }
        if (*dst) {
            rl_err(L, kn, p, "duplicate key");
            bad = 1;
        } else if (!rl_scalar(vn) || !*rl_scalar(vn)) {
            rl_err(L, vn, p, "expected a non-empty string");
            bad = 1;
        } else if (!(*dst = rl_strdup(rl_scalar(vn)))) {
            rl_err(L, vn, p, "out of memory");
            bad = 1;
        }
    }
    if (!f.pub.name) {
        rl_err(L, item, path, "missing key 'name'");
        bad = 1;
    }
    if (!have_match) {
        rl_err(L, item, path, "missing key 'match'");
        bad = 1;
    }
    if (!f.pub.category) {
        rl_err(L, item, path, "missing key 'category'");
        bad = 1;
    }
    if (f.pub.name) {
        for (size_t i = 0; i < L->r->nfaults; i++) {
            if (!strcmp(L->r->faults[i].pub.name, f.pub.name)) {
                rl_path(p, sizeof(p), path, "name");
                rl_err(L, item, p, "duplicate fault name '%s'", f.pub.name);
                bad = 1;
                break;
            }
        }
    }
    if (f.pub.culprit_service) {
        if (rl_culprit(f.pub.culprit_service, &f.pub.culprit)) {
            free((char *)f.pub.culprit_service);
            f.pub.culprit_service = NULL;
        } else if (!bad) {
            /* a service name: checked once every file is loaded */
            char where[RL_PATH_MAX + 128];
            rl_path(p, sizeof(p), path, "culprit");
            snprintf(where, sizeof(where), "%s:%zu:%zu: %s", L->file,
                     (size_t)culprit_node->start_mark.line + 1,
                     (size_t)culprit_node->start_mark.column + 1, p);
            if (rl_grow((void **)&L->pend, &L->cappend, L->npend, sizeof(*L->pend)) == 0) {
                L->pend[L->npend].where = rl_strdup(where);
                L->pend[L->npend].service = rl_strdup(f.pub.culprit_service);
                L->npend++;
            }
        }
    }
    if (bad || rl_grow((void **)&L->r->faults, &L->r->capfaults, L->r->nfaults,
                       sizeof(*L->r->faults)) < 0) {
        rl_fault_free(&f);
        return;
    }
    L->r->faults[L->r->nfaults++] = f;
}

/* ---- services ---- */

/* Each scalar of a sequence node through add(); errors reported. */
static void rl_str_list(struct loader *L, const yaml_node_t *v, const char *path, const char *svc,
                        int (*add)(struct svcmap *, const char *, const char *), int need_slash)
{
    if (rl_is_null(v))
        return;
    if (v->type != YAML_SEQUENCE_NODE) {
        rl_err(L, v, path, "expected a list of strings");
        return;
    }
    char p[RL_PATH_MAX];
    int i = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++, i++) {
        yaml_node_t *n = rl_node(L, *it);
        rl_index(p, sizeof(p), path, i);
        const char *s = rl_scalar(n);
        if (!s || !*s) {
            rl_err(L, n, p, "expected a non-empty string");
            continue;
        }
        if (need_slash && s[0] != '/') {
            rl_err(L, n, p, "path prefix must start with '/'");
            continue;
        }
        if (svc && add(L->r->map, s, svc) < 0)
            rl_err(L, n, p, "cannot add '%s'", s);
    }
}

static int rl_add_prefix(struct svcmap *m, const char *s, const char *svc)
{
    return svcmap_add_path_prefix(m, s, svc);
}

static int rl_add_ua(struct svcmap *m, const char *s, const char *svc)
{
    return svcmap_add_user_agent(m, s, svc);
}

static int rl_add_topic(struct svcmap *m, const char *s, const char *svc)
{
    return svcmap_add_topic(m, s, svc);
}

static int rl_add_pub(struct svcmap *m, const char *s, const char *svc)
{
    return svcmap_add_publisher(m, s, svc);
}

static int rl_add_conn(struct svcmap *m, const char *s, const char *svc)
{
    return svcmap_add_conn_name(m, s, svc);
}

static int rl_parse_port(const char *s, uint16_t *port)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return -1;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v == 0 || v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

static void rl_ports(struct loader *L, const yaml_node_t *v, const char *path, const char *svc)
{
    if (rl_is_null(v))
        return;
    if (v->type != YAML_SEQUENCE_NODE) {
        rl_err(L, v, path, "expected a list of {port, proto}");
        return;
    }
    char p[RL_PATH_MAX], pp[RL_PATH_MAX];
    int i = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++, i++) {
        yaml_node_t *n = rl_node(L, *it);
        rl_index(p, sizeof(p), path, i);
        if (!n || n->type != YAML_MAPPING_NODE) {
            rl_err(L, n, p, "expected a mapping {port: N, proto: http|amqp|tcp}");
            continue;
        }
        uint16_t port = 0;
        int have_port = 0, bad = 0;
        enum svc_proto proto = SVC_PROTO_HTTP;
        for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
             pr++) {
            yaml_node_t *kn = rl_node(L, pr->key), *vn = rl_node(L, pr->value);
            const char *key = rl_scalar(kn);
            if (!key || !vn) {
                rl_err(L, kn, p, "keys must be plain strings");
                bad = 1;
                continue;
            }
            rl_path(pp, sizeof(pp), p, key);
            if (!strcmp(key, "port")) {
                if (rl_parse_port(rl_scalar(vn), &port) < 0) {
                    rl_err(L, vn, pp, "expected a port number 1..65535");
                    bad = 1;
                } else {
                    have_port = 1;
                }
            } else if (!strcmp(key, "proto")) {
                const char *s = rl_scalar(vn);
                if (s && !strcmp(s, "http"))
                    proto = SVC_PROTO_HTTP;
                else if (s && !strcmp(s, "amqp"))
                    proto = SVC_PROTO_AMQP;
                else if (s && !strcmp(s, "tcp"))
                    proto = SVC_PROTO_UNKNOWN; /* connections only (a database) */
                else {
                    rl_err(L, vn, pp, "expected http, amqp or tcp");
                    bad = 1;
                }
            } else {
                rl_err(L, kn, pp, "unknown key");
                bad = 1;
            }
        }
        if (!have_port && !bad) {
            rl_err(L, n, p, "missing key 'port'");
            bad = 1;
        }
        if (!bad && svc && svcmap_add_port(L->r->map, port, proto, svc) < 0)
            rl_err(L, n, p, "cannot add port %u", port);
    }
}

static void rl_service_item(struct loader *L, const yaml_node_t *item, const char *path)
{
    if (item->type != YAML_MAPPING_NODE) {
        rl_err(L, item, path, "expected a mapping");
        return;
    }
    /* the name first: every other key needs it */
    const char *name = NULL;
    char p[RL_PATH_MAX];
    for (yaml_node_pair_t *pr = item->data.mapping.pairs.start; pr < item->data.mapping.pairs.top;
         pr++) {
        const char *key = rl_scalar(rl_node(L, pr->key));
        if (key && !strcmp(key, "name")) {
            yaml_node_t *vn = rl_node(L, pr->value);
            rl_path(p, sizeof(p), path, "name");
            if (!rl_scalar(vn) || !*rl_scalar(vn))
                rl_err(L, vn, p, "expected a non-empty string");
            else
                name = rl_scalar(vn);
        }
    }
    if (!name)
        rl_err(L, item, path, "missing key 'name'");
    unsigned seen = 0;
    int embedded = 0;
    for (yaml_node_pair_t *pr = item->data.mapping.pairs.start; pr < item->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *kn = rl_node(L, pr->key), *vn = rl_node(L, pr->value);
        const char *key = rl_scalar(kn);
        if (!key || !vn) {
            rl_err(L, kn, path, "keys must be plain strings");
            continue;
        }
        rl_path(p, sizeof(p), path, key);
        static const char *const keys[] = {"name",       "ports",      "path_prefixes",
                                           "user_agents", "topics",    "publishers",
                                           "conn_names", "embedded",   "depends_on"};
        int k = -1;
        for (int i = 0; i < (int)(sizeof(keys) / sizeof(keys[0])); i++)
            if (!strcmp(key, keys[i]))
                k = i;
        if (k < 0) {
            rl_err(L, kn, p, "unknown key");
            continue;
        }
        if (seen & (1u << k)) {
            rl_err(L, kn, p, "duplicate key");
            continue;
        }
        seen |= 1u << k;
        switch (k) {
        case 0:
            break;
        case 1:
            rl_ports(L, vn, p, name);
            break;
        case 2:
            rl_str_list(L, vn, p, name, rl_add_prefix, 1);
            break;
        case 3:
            rl_str_list(L, vn, p, name, rl_add_ua, 0);
            break;
        case 4:
            rl_str_list(L, vn, p, name, rl_add_topic, 0);
            break;
        case 5:
            rl_str_list(L, vn, p, name, rl_add_pub, 0);
            break;
        case 6:
            rl_str_list(L, vn, p, name, rl_add_conn, 0);
            break;
        case 8: {
            const char **names = NULL;
            size_t nn = 0;
            if (rl_names(L, vn, p, &names, &nn) == 0 && name) {
                for (size_t i = 0; i < nn; i++) {
                    if (rl_grow((void **)&L->r->deps, &L->r->capdeps, L->r->ndeps + 1,
                                sizeof(char *)) < 0)
                        break;
                    char *from = rl_strdup(name);
                    if (!from)
                        break;
                    L->r->deps[L->r->ndeps++] = from;
                    L->r->deps[L->r->ndeps++] = (char *)names[i];
                    names[i] = NULL;
                }
            }
            for (size_t i = 0; i < nn; i++)
                free((char *)names[i]);
            free(names);
            break;
        }
        default: {
            const char *v = rl_scalar(vn);
            if (v && !strcmp(v, "true"))
                embedded = 1;
            else if (!v || strcmp(v, "false") != 0)
                rl_err(L, vn, p, "expected true or false");
            break;
        }
        }
    }
    if (name && embedded && !rules_is_embedded(L->r, name)) {
        char *d = rl_strdup(name);
        if (d && rl_grow((void **)&L->r->embedded, &L->r->capembedded, L->r->nembedded,
                         sizeof(char *)) == 0)
            L->r->embedded[L->r->nembedded++] = d;
        else
            free(d);
    }
    if (name && !rules_is_service(L->r, name)) {
        char *d = rl_strdup(name);
        if (d && rl_grow((void **)&L->r->services, &L->r->capservices, L->r->nservices,
                         sizeof(char *)) == 0)
            L->r->services[L->r->nservices++] = d;
        else
            free(d);
    }
}

/* ---- operations ---- */

static void rl_operation_item(struct loader *L, const yaml_node_t *item, const char *path)
{
    if (item->type != YAML_MAPPING_NODE) {
        rl_err(L, item, path, "expected a mapping");
        return;
    }
    static const char *const keys[] = {"service", "method", "path", "name"};
    const char *val[4] = {NULL, NULL, NULL, NULL};
    int bad = 0;
    char p[RL_PATH_MAX];
    for (yaml_node_pair_t *pr = item->data.mapping.pairs.start; pr < item->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *kn = rl_node(L, pr->key), *vn = rl_node(L, pr->value);
        const char *key = rl_scalar(kn);
        if (!key || !vn) {
            rl_err(L, kn, path, "keys must be plain strings");
            bad = 1;
            continue;
        }
        rl_path(p, sizeof(p), path, key);
        int k = -1;
        for (int i = 0; i < 4; i++)
            if (!strcmp(key, keys[i]))
                k = i;
        if (k < 0) {
            rl_err(L, kn, p, "unknown key");
            bad = 1;
        } else if (val[k]) {
            rl_err(L, kn, p, "duplicate key");
            bad = 1;
        } else if (!rl_scalar(vn) || !*rl_scalar(vn)) {
            rl_err(L, vn, p, "expected a non-empty string");
            bad = 1;
        } else if (k == 2 && rl_scalar(vn)[0] != '/') {
            rl_err(L, vn, p, "path must start with '/'");
            bad = 1;
        } else {
            val[k] = rl_scalar(vn);
        }
    }
    for (int k = 1; k < 4; k++) {
        if (!val[k] && !bad) {
            rl_err(L, item, path, "missing key '%s'", keys[k]);
            bad = 1;
        }
    }
    if (bad)
        return;
    if (svcmap_add_operation(L->r->map, val[0], val[1], val[2], val[3]) < 0)
        rl_err(L, item, path, "cannot add operation");
    else
        L->r->noperations++;
}

static void rl_perf_item(struct loader *L, const yaml_node_t *item, const char *path)
{
    if (item->type != YAML_MAPPING_NODE) {
        rl_err(L, item, path, "expected a mapping");
        return;
    }
    struct rules_perf pf = {NULL, 2.0, 10.0, 3, 0.0};
    const char *op = NULL;
    int bad = 0;
    char p[RL_PATH_MAX];
    for (yaml_node_pair_t *pr = item->data.mapping.pairs.start; pr < item->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *kn = rl_node(L, pr->key), *vn = rl_node(L, pr->value);
        const char *key = rl_scalar(kn);
        if (!key || !vn) {
            rl_err(L, kn, path, "keys must be plain strings");
            bad = 1;
            continue;
        }
        rl_path(p, sizeof(p), path, key);
        const char *v = rl_scalar(vn);
        if (!v || !*v) {
            rl_err(L, vn, p, "expected a value");
            bad = 1;
            continue;
        }
        if (!strcmp(key, "operation")) {
            op = v;
            continue;
        }
        char *end = NULL;
        double d = strtod(v, &end);
        if (!end || *end || d < 0 || d > 86400) {
            rl_err(L, vn, p, "expected a number 0..86400");
            bad = 1;
        } else if (!strcmp(key, "relative")) {
            if (d < 1) {
                rl_err(L, vn, p, "relative must be >= 1");
                bad = 1;
            }
            pf.relative = d;
        } else if (!strcmp(key, "absolute")) {
            pf.absolute_s = d;
        } else if (!strcmp(key, "min_samples")) {
            if (d < 1 || d != (double)(unsigned)d) {
                rl_err(L, vn, p, "min_samples must be a whole number >= 1");
                bad = 1;
            }
            pf.min_samples = (unsigned)d;
        } else if (!strcmp(key, "max")) {
            pf.max_s = d;
        } else {
            rl_err(L, kn, p, "unknown key");
            bad = 1;
        }
    }
    if (!op && !bad) {
        rl_err(L, item, path, "missing key 'operation'");
        bad = 1;
    }
    if (bad)
        return;
    if (rl_grow((void **)&L->r->perf, &L->r->capperf, L->r->nperf, sizeof(*L->r->perf)) < 0 ||
        !(pf.operation = rl_strdup(op))) {
        rl_err(L, item, path, "out of memory");
        return;
    }
    L->r->perf[L->r->nperf++] = pf;
}

/* ---- files ---- */

static void rl_section(struct loader *L, const yaml_node_t *v, const char *key,
                       void (*item_fn)(struct loader *, const yaml_node_t *, const char *))
{
    if (rl_is_null(v))
        return;
    if (v->type != YAML_SEQUENCE_NODE) {
        rl_err(L, v, key, "expected a list");
        return;
    }
    char p[RL_PATH_MAX];
    int i = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++, i++) {
        yaml_node_t *n = rl_node(L, *it);
        rl_index(p, sizeof(p), key, i);
        if (n)
            item_fn(L, n, p);
    }
}

/* 1 if a node of doc is reached twice: the mark of an alias (libyaml's
 * loader shares the anchored node), which would have rl_section walk it
 * again at every use. */
static int rl_shared_node(yaml_document_t *doc)
{
    size_t nn = (size_t)(doc->nodes.top - doc->nodes.start);
    unsigned char *seen = calloc(nn + 1, 1);
    if (!seen)
        return 1; /* the event scan decides */
    int shared = 0;
    seen[1] = 1; /* the root (node ids count from 1) */
    for (size_t i = 0; i < nn && !shared; i++) {
        yaml_node_t *nd = &doc->nodes.start[i];
        if (nd->type == YAML_SEQUENCE_NODE) {
            for (yaml_node_item_t *it = nd->data.sequence.items.start;
                 it < nd->data.sequence.items.top && !shared; it++)
                shared = *it < 1 || (size_t)*it > nn || seen[*it]++;
        } else if (nd->type == YAML_MAPPING_NODE) {
            for (yaml_node_pair_t *pr = nd->data.mapping.pairs.start;
                 pr < nd->data.mapping.pairs.top && !shared; pr++)
                shared = pr->key < 1 || (size_t)pr->key > nn || seen[pr->key]++ ||
                         pr->value < 1 || (size_t)pr->value > nn || seen[pr->value]++;
        }
    }
    free(seen);
    return shared;
}

/* Refuse aliases and report syntax errors with their position. 0 ok. */
static int rl_prescan(struct loader *L, const unsigned char *buf, size_t n)
{
    yaml_parser_t ps;
    yaml_event_t ev;
    int rc = 0;
    if (!yaml_parser_initialize(&ps)) {
        rl_err(L, NULL, "yaml", "out of memory");
        return -1;
    }
    yaml_parser_set_input_string(&ps, buf, n);
    for (;;) {
        if (!yaml_parser_parse(&ps, &ev)) {
            char m[RL_MSG_MAX];
            snprintf(m, sizeof(m), "%s:%zu:%zu: yaml: %s%s%s", L->file,
                     (size_t)ps.problem_mark.line + 1, (size_t)ps.problem_mark.column + 1,
                     ps.problem ? ps.problem : "syntax error", ps.context ? " " : "",
                     ps.context ? ps.context : "");
            rl_emit(L, m);
            rc = -1;
            break;
        }
        yaml_event_type_t t = ev.type;
        if (t == YAML_ALIAS_EVENT) {
            char m[RL_MSG_MAX];
            snprintf(m, sizeof(m), "%s:%zu:%zu: yaml: aliases are not supported", L->file,
                     (size_t)ev.start_mark.line + 1, (size_t)ev.start_mark.column + 1);
            rl_emit(L, m);
            rc = -1;
        }
        yaml_event_delete(&ev);
        if (t == YAML_STREAM_END_EVENT || rc < 0)
            break;
    }
    yaml_parser_delete(&ps);
    return rc;
}

unsigned char *rules_read_stream(FILE *fp, long size_hint, size_t max, size_t *out_n)
{
    size_t want = size_hint < 0 || (unsigned long)size_hint > max ? max + 1
                                                                  : (size_t)size_hint + 1;
    unsigned char *buf = malloc(want);
    size_t n = 0;
    while (buf) {
        n += fread(buf + n, 1, want - n, fp);
        if (n < want || want > max)
            break; /* the end, or already past the limit */
        /* more than the size seen: the file grew while read, or its size
         * is not told (procfs, some FUSE file systems): read on */
        size_t nw = want * 2 > max + 1 ? max + 1 : want * 2;
        unsigned char *nb = realloc(buf, nw);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        want = nw;
    }
    *out_n = buf ? n : 0;
    return buf;
}

static void rl_file(struct loader *L, const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        rl_err(L, NULL, "file", "cannot open: %s", strerror(errno));
        return;
    }
    /* a first buffer of the file's size, not of the limit: a 1 MiB buffer
     * per file was most of a small file's load time under ASan */
    long sz = fseek(fp, 0, SEEK_END) == 0 ? ftell(fp) : -1;
    rewind(fp);
    size_t n = 0;
    unsigned char *buf = rules_read_stream(fp, sz, RULES_MAX_FILE, &n);
    int rerr = ferror(fp) ? errno : 0;
    fclose(fp);
    if (buf && rerr) {
        free(buf);
        rl_err(L, NULL, "file", "read error: %s", strerror(rerr));
        return;
    }
    if (!buf) {
        rl_err(L, NULL, "file", "out of memory");
        return;
    }
    if (n > RULES_MAX_FILE) {
        rl_err(L, NULL, "file", "larger than %u bytes", RULES_MAX_FILE);
        free(buf);
        return;
    }
    /* one pass: the documents are loaded, then looked at; the event scan
     * (aliases, a syntax error told with its context) runs only when a
     * load failed or a node is reached twice (an alias) */
    yaml_parser_t ps;
    if (!yaml_parser_initialize(&ps)) {
        free(buf);
        rl_err(L, NULL, "yaml", "out of memory");
        return;
    }
    yaml_parser_set_input_string(&ps, buf, n);
    yaml_document_t *docs = NULL;
    size_t nd = 0, capd = 0;
    int failed = 0, alias = 0;
    char failmsg[RL_MSG_MAX];
    for (;;) {
        yaml_document_t doc;
        if (!yaml_parser_load(&ps, &doc)) {
            snprintf(failmsg, sizeof(failmsg), "%s:%zu:%zu: yaml: %s", L->file,
                     (size_t)ps.problem_mark.line + 1, (size_t)ps.problem_mark.column + 1,
                     ps.problem ? ps.problem : "cannot load document");
            failed = 1;
            break;
        }
        if (!yaml_document_get_root_node(&doc)) {
            yaml_document_delete(&doc);
            break; /* end of stream */
        }
        if (nd == capd) {
            size_t nc = capd ? capd * 2 : 2;
            yaml_document_t *nds = realloc(docs, nc * sizeof(*nds));
            if (!nds) {
                yaml_document_delete(&doc);
                snprintf(failmsg, sizeof(failmsg), "%s: yaml: out of memory", L->file);
                failed = 1;
                break;
            }
            docs = nds;
            capd = nc;
        }
        docs[nd++] = doc;
        alias |= rl_shared_node(&docs[nd - 1]);
    }
    yaml_parser_delete(&ps);
    if ((failed || alias) && rl_prescan(L, buf, n) < 0) {
        for (size_t i = 0; i < nd; i++)
            yaml_document_delete(&docs[i]);
        free(docs);
        free(buf);
        return;
    }
    for (size_t i = 0; i < nd; i++) {
        yaml_node_t *root = yaml_document_get_root_node(&docs[i]);
        L->doc = &docs[i];
        if (i > 0) {
            rl_err(L, root, "(top)", "only one YAML document per file");
        } else if (rl_is_null(root)) {
            /* empty file */
        } else if (root->type != YAML_MAPPING_NODE) {
            rl_err(L, root, "(top)", "expected a mapping with services, operations, faults, performance");
        } else {
            for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
                 pr < root->data.mapping.pairs.top; pr++) {
                yaml_node_t *kn = rl_node(L, pr->key), *vn = rl_node(L, pr->value);
                const char *key = rl_scalar(kn);
                if (!key || !vn)
                    rl_err(L, kn, "(top)", "keys must be plain strings");
                else if (!strcmp(key, "services"))
                    rl_section(L, vn, key, rl_service_item);
                else if (!strcmp(key, "operations"))
                    rl_section(L, vn, key, rl_operation_item);
                else if (!strcmp(key, "faults"))
                    rl_section(L, vn, key, rl_fault_item);
                else if (!strcmp(key, "performance"))
                    rl_section(L, vn, key, rl_perf_item);
                else
                    rl_err(L, kn, key, "unknown key");
            }
        }
        L->doc = NULL;
        yaml_document_delete(&docs[i]);
    }
    free(docs);
    if (failed)
        rl_emit(L, failmsg);
    free(buf);
}

static int rl_namecmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int rl_is_yaml(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && n > 5 && !strcmp(name + n - 5, ".yaml");
}

/* Load dir into a new rules set; errors to L. Returns NULL if dir unreadable. */
static struct rules *rl_load(struct loader *L, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    struct rules *r = calloc(1, sizeof(*r));
    char **names = NULL;
    size_t nn = 0, capn = 0;
    struct dirent *de;
    while (r && (de = readdir(d)) != NULL) {
        if (!rl_is_yaml(de->d_name))
            continue;
        char *s = rl_strdup(de->d_name);
        if (!s || rl_grow((void **)&names, &capn, nn, sizeof(char *)) < 0) {
            free(s);
            continue;
        }
        names[nn++] = s;
    }
    closedir(d);
    if (r)
        r->md = pcre2_match_data_create(1, NULL);
    if (!r || !r->md || !(r->map = svcmap_new())) {
        for (size_t i = 0; i < nn; i++)
            free(names[i]);
        free(names);
        if (r)
            pcre2_match_data_free(r->md);
        free(r);
        L->file = dir;
        rl_err(L, NULL, "rules", "out of memory");
        return NULL;
    }
    L->r = r;
    if (nn)
        qsort(names, nn, sizeof(char *), rl_namecmp);
    for (size_t i = 0; i < nn; i++) {
        size_t len = strlen(dir) + strlen(names[i]) + 2;
        char *path = malloc(len);
        if (path) {
            snprintf(path, len, "%s/%s", dir, names[i]);
            L->file = path;
            rl_file(L, path);
            L->file = dir;
            free(path);
        }
        free(names[i]);
    }
    free(names);
    for (size_t i = 0; i < L->npend; i++) {
        if (L->pend[i].where && L->pend[i].service && !rules_is_service(r, L->pend[i].service)) {
            char m[RL_MSG_MAX + RL_PATH_MAX];
            snprintf(m, sizeof(m), "%s: unknown culprit '%s' (origin, topic-consumer, callee, "
                                   "caller or a service name)",
                     L->pend[i].where, L->pend[i].service);
            rl_emit(L, m);
        }
        free(L->pend[i].where);
        free(L->pend[i].service);
    }
    free(L->pend);
    L->pend = NULL;
    L->npend = 0;
    return r;
}

struct rules *rules_load_dir(const char *dir, struct stats *st, char *err, size_t errlen)
{
    struct loader L;
    memset(&L, 0, sizeof(L));
    L.file = dir;
    struct rules *r = rl_load(&L, dir);
    if (!r && !L.errors) {
        if (err && errlen)
            snprintf(err, errlen, "%s: cannot read directory: %s", dir, strerror(errno));
        return NULL;
    }
    if (L.errors) {
        if (err && errlen)
            snprintf(err, errlen, "%s", L.first ? L.first : "error");
        free(L.first);
        rules_free(r);
        return NULL;
    }
    free(L.first);
    if (st) {
        stats_add(st, "rules.services", r->nservices);
        stats_add(st, "rules.operations", r->noperations);
        stats_add(st, "rules.faults", r->nfaults);
    }
    return r;
}

int rules_check_dir(const char *dir, void (*cb)(void *ctx, const char *msg), void *ctx)
{
    struct loader L;
    memset(&L, 0, sizeof(L));
    L.file = dir;
    L.cb = cb;
    L.cb_ctx = ctx;
    struct rules *r = rl_load(&L, dir);
    free(L.first);
    if (!r && !L.errors)
        return -1;
    rules_free(r);
    return L.errors;
}

const struct svcmap *rules_svcmap(const struct rules *r)
{
    return r ? r->map : NULL;
}

int rules_is_service(const struct rules *r, const char *name)
{
    if (!r || !name)
        return 0;
    for (size_t i = 0; i < r->nservices; i++)
        if (!strcmp(r->services[i], name))
            return 1;
    return 0;
}

int rules_is_embedded(const struct rules *r, const char *name)
{
    if (!r || !name)
        return 0;
    for (size_t i = 0; i < r->nembedded; i++)
        if (!strcmp(r->embedded[i], name))
            return 1;
    return 0;
}

int rules_depends(const struct rules *r, const char *svc, const char *on)
{
    if (!r || !svc || !on)
        return 0;
    for (size_t i = 0; i + 1 < r->ndeps; i += 2)
        if (!strcmp(r->deps[i], svc) && !strcmp(r->deps[i + 1], on))
            return 1;
    return 0;
}

size_t rules_depends_of(const struct rules *r, const char *svc, const char **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; r && svc && i + 1 < r->ndeps && n < max; i += 2)
        if (!strcmp(r->deps[i], svc))
            out[n++] = r->deps[i + 1];
    return n;
}

size_t rules_fault_count(const struct rules *r)
{
    return r ? r->nfaults : 0;
}

const struct rules_fault *rules_fault_at(const struct rules *r, size_t i)
{
    return r && i < r->nfaults ? &r->faults[i].pub : NULL;
}

static int rl_match(const struct rules *r, const pcre2_code *re, const char *s)
{
    if (!r->md)
        return 0;
    return pcre2_match(re, (PCRE2_SPTR)s, PCRE2_ZERO_TERMINATED, 0, 0, r->md, NULL) >= 0;
}

int rules_fault_find(const struct rules *r, const char *const subject[RULES_F_COUNT])
{
    if (!r)
        return -1;
    for (size_t i = 0; i < r->nfaults; i++) {
        const struct rl_fault *f = &r->faults[i];
        int ok = 1;
        for (int k = 0; k < RULES_F_COUNT && ok; k++) {
            if (!f->re[k])
                continue;
            ok = subject[k] && rl_match(r, f->re[k], subject[k]);
        }
        if (ok)
            return (int)i;
    }
    return -1;
}

const char *rules_field_name(enum rules_field f)
{
    return (unsigned)f < RULES_F_COUNT ? field_names[f] : "?";
}

void rules_free(struct rules *r)
{
    if (!r)
        return;
    svcmap_free(r->map);
    for (size_t i = 0; i < r->nservices; i++)
        free(r->services[i]);
    for (size_t i = 0; i < r->nembedded; i++)
        free(r->embedded[i]);
    free(r->embedded);
    free(r->services);
    for (size_t i = 0; i < r->ndeps; i++)
        free(r->deps[i]);
    free(r->deps);
    for (size_t i = 0; i < r->nfaults; i++)
        rl_fault_free(&r->faults[i]);
    free(r->faults);
    for (size_t i = 0; i < r->nperf; i++)
        free((char *)r->perf[i].operation);
    free(r->perf);
    pcre2_match_data_free(r->md);
    free(r);
}

const struct rules_perf *rules_perf_for(const struct rules *r, const char *operation)
{
    static const struct rules_perf builtin = {"*", 2.0, 10.0, 3, 0.0};
    for (size_t i = 0; r && i < r->nperf; i++) {
        const char *o = r->perf[i].operation;
        if (!strcmp(o, "*") || (operation && !strcmp(o, operation)))
            return &r->perf[i];
    }
    return &builtin;
}
