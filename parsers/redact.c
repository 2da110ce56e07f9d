/* redact.c -- secret scrubbing (PROTOCOLS.md §3.2); see redact.h.
 *
 * Text masking works in place with a read and a write index: every secret
 * is replaced by something no longer than itself, so the write index never
 * passes the read index. */
#include "parsers/redact.h"

#include <stdlib.h>
#include <string.h>

static int lc(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

/* Does s start with lit, case-insensitively? Returns strlen(lit) or 0. */
static size_t ci_prefix(const char *s, const char *lit)
{
    size_t i;
    for (i = 0; lit[i]; i++)
        if (!s[i] || lc((unsigned char)s[i]) != lit[i])
            return 0;
    return i;
}

/* Case-insensitive substring test; needle lower case. */
static int ci_contains(const char *s, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++) {
        size_t k = 0;
        while (k < m && lc((unsigned char)s[i + k]) == needle[k])
            k++;
        if (k == m)
            return 1;
    }
    return 0;
}

static int ci_equal(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && ci_contains(s, n, lit);
}

int redact_header_is_secret(const char *name, size_t n)
{
    static const char *const names[] = {
        "x-auth-token",   "x-subject-token", "x-service-token", "authorization",
        "proxy-authorization", "cookie",     "set-cookie",      "x-storage-token",
        "x-auth-key",     "x-auth-user-key",
    };
    if (!name)
        return 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (ci_equal(name, n, names[i]))
            return 1;
    return 0;
}

int redact_key_is_secret(const char *key)
{
    static const char *const exact[] = {
        "adminpass",    "user_data",   "auth_token",  "_context_auth_token",
        "private_key",  "blob",        "access_token", "refresh_token",
        "x-auth-token", "x-subject-token", "x-service-token", "authorization",
        "cookie",       "set-cookie",  "passphrase",  "auth_key",
    };
    if (!key)
        return 0;
    size_t n = strlen(key);
    if (ci_contains(key, n, "password") || ci_contains(key, n, "passwd") ||
        ci_contains(key, n, "secret"))
        return 1;
    for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
        if (ci_equal(key, n, exact[i]))
            return 1;
    return 0;
}

static int is_b64url(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '=';
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Write a mask for a secret of len bytes at s+*w. */
static void put_mask(char *s, size_t *w, size_t len)
{
    size_t m = strlen(REDACT_MASK);
    if (len >= m) {
        memcpy(s + *w, REDACT_MASK, m);
        *w += m;
    } else {
        memset(s + *w, '*', len);
        *w += len;
    }
}

/* After a secret name ending at s+i: find the value, if a ':' or '='
 * separator follows. whole_line: the value runs to the end of the line
 * (Authorization: <scheme> <credentials>). Sets [*vs, *ve); 1 if found. */
static int find_value(const char *s, size_t i, size_t n, int whole_line, size_t *vs, size_t *ve)
{
    size_t k = i;
    if (k < n && (s[k] == '"' || s[k] == '\''))
        k++;
    while (k < n && (s[k] == ' ' || s[k] == '\t'))
        k++;
    if (k >= n || (s[k] != ':' && s[k] != '='))
        return 0;
    k++;
    while (k < n && (s[k] == ' ' || s[k] == '\t'))
        k++;
    char quote = 0;
    if (k < n && (s[k] == '"' || s[k] == '\'')) {
        quote = s[k];
        k++;
    }
    size_t e = k;
    if (quote) {
        while (e < n && s[e] != quote)
            e++;
    } else if (whole_line) {
        while (e < n && s[e] != '\r' && s[e] != '\n')
            e++;
    } else {
        while (e < n && !is_space((unsigned char)s[e]) && !strchr(",;&}])<\"'", s[e]))
            e++;
    }
    if (e == k)
        return 0;
    *vs = k;
    *ve = e;
    return 1;
}

size_t redact_text(char *s)
{
    static const struct {
        const char *name;
        int whole_line;
    } names[] = {
        {"x-auth-token", 0}, {"x-subject-token", 0}, {"x-service-token", 0},
        {"x-storage-token", 0}, {"authorization", 1}, {"cookie", 1},
        {"password", 0},     {"passwd", 0},          {"adminpass", 0},
        {"auth_token", 0},   {"secret", 0},
    };
    static const char notfound[] = "could not find token";
    if (!s)
        return 0;
    size_t n = strlen(s);
    size_t r = 0, w = 0;
    while (r < n) {
        unsigned char c = (unsigned char)s[r];
        /* Fernet token: gAAAAA + base64url, long */
        if (c == 'g' && strncmp(s + r, "gAAAAA", 6) == 0) {
            size_t j = r;
            while (j < n && is_b64url((unsigned char)s[j]))
                j++;
            if (j - r >= 20) {
                put_mask(s, &w, j - r);
                r = j;
                continue;
            }
        }
        size_t m = 0, vs = 0, ve = 0;
        int hit = 0;
        if (lc(c) == 'c' && (m = ci_prefix(s + r, notfound)) != 0) {
            /* "Could not find token: <token>" (keystone TokenNotFound) */
            size_t k = r + m;
            while (k < n && (s[k] == ':' || s[k] == ' '))
                k++;
            size_t e = k;
            while (e < n && !is_space((unsigned char)s[e]) && s[e] != '"' && s[e] != '\'')
                e++;
            if (e > k) {
                vs = k;
                ve = e;
                hit = 1;
            }
        }
        for (size_t i = 0; !hit && i < sizeof(names) / sizeof(names[0]); i++) {
            if (lc(c) != names[i].name[0])
                continue;
            m = ci_prefix(s + r, names[i].name);
            if (m && find_value(s, r + m, n, names[i].whole_line, &vs, &ve))
                hit = 1;
        }
        if (hit) {
            if (w != r)
                memmove(s + w, s + r, vs - r);
            w += vs - r;
            put_mask(s, &w, ve - vs);
            r = ve;
            continue;
        }
        s[w++] = s[r++];
    }
    s[w] = '\0';
    return w;
}

static int query_key_secret(const char *k, size_t n)
{
    if (ci_contains(k, n, "token") || ci_contains(k, n, "password") ||
        ci_contains(k, n, "passwd") || ci_contains(k, n, "secret") ||
        ci_contains(k, n, "signature"))
        return 1;
    return ci_equal(k, n, "sig") || (n >= 4 && ci_equal(k + n - 4, 4, "_sig"));
}

size_t redact_query(const char *q, size_t n, char *out, size_t cap)
{
    size_t w = 0;
    if (!cap)
        return 0;
#define PUT(p_, l_)                                                                           \
    do {                                                                                      \
        size_t l__ = (l_);                                                                    \
        if (l__ > cap - 1 - w)                                                                \
            l__ = cap - 1 - w;                                                                \
        memcpy(out + w, (p_), l__);                                                           \
        w += l__;                                                                             \
    } while (0)
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && q[j] != '&' && q[j] != ';')
            j++;
        size_t eq = i;
        while (eq < j && q[eq] != '=')
            eq++;
        if (eq < j && query_key_secret(q + i, eq - i)) {
            PUT(q + i, eq - i + 1);
            PUT(REDACT_MASK, strlen(REDACT_MASK));
        } else {
            PUT(q + i, j - i);
        }
        if (j < n)
            PUT(q + j, 1);
        i = j + 1;
    }
#undef PUT
    out[w] = '\0';
    return redact_text(out);
}

static size_t redact_rec(json_t *v, int depth);

static size_t redact_string(json_t *v)
{
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (!s || n == 0)
        return 0;
    char *tmp = malloc(n + 1);
    if (!tmp) {
        json_string_setn(v, "", 0); /* cannot check it: drop it */
        return 1;
    }
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    /* embedded NULs: redact_text stops at the first; the rest is dropped */
    size_t before = strlen(tmp);
    size_t after = redact_text(tmp);
    size_t changed = 0;
    if (after != n || before != n || memcmp(tmp, s, n) != 0) {
        json_string_setn(v, tmp, after);
        changed = 1;
    }
    free(tmp);
    return changed;
}

static size_t redact_rec(json_t *v, int depth)
{
    size_t count = 0;
    if (!v)
        return 0;
    if (depth > REDACT_MAX_DEPTH) {
        if (json_is_object(v)) {
            count += json_object_size(v);
            json_object_clear(v);
        } else if (json_is_array(v)) {
            count += json_array_size(v);
            json_array_clear(v);
        }
        return count;
    }
    if (json_is_object(v)) {
        const char *key;
        json_t *val;
        void *tmp;
        json_object_foreach_safe(v, tmp, key, val)
        {
            if (redact_key_is_secret(key)) {
                json_object_del(v, key);
                count++;
            } else if (strcmp(key, "token") == 0 || strcmp(key, "_context_token") == 0) {
                if (json_is_object(val)) {
                    if (json_object_get(val, "id")) {
                        json_object_del(val, "id");
                        count++;
                    }
                    count += redact_rec(val, depth + 1);
                } else if (!json_is_array(val) && !json_is_null(val)) {
                    json_object_del(v, key);
                    count++;
                } else {
                    count += redact_rec(val, depth + 1);
                }
            } else {
                count += redact_rec(val, depth + 1);
            }
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            count += redact_rec(json_array_get(v, i), depth + 1);
    } else if (json_is_string(v)) {
        count += redact_string(v);
    }
    return count;
}

size_t redact_json(json_t *v)
{
    return redact_rec(v, 0);
}
