/* redact.c -- secret scrubbing (PROTOCOLS.md §3.2); see redact.h.
 *
 * Text masking works in place with a read and a write index: every secret
 * is replaced by something no longer than itself, so the write index never
 * passes the read index. */
#include "parsers/redact.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "capture/swar.h"

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

/* Does s (at least strlen(lit) bytes) start with lit, case-insensitively? */
static int ci_prefix_n(const char *s, const char *lit)
{
    for (size_t i = 0; lit[i]; i++)
        if (lc((unsigned char)s[i]) != lit[i])
            return 0;
    return 1;
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

/* Case-insensitive compare of n bytes of s with lower-case lit. */
static int ci_same(const char *s, const char *lit, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lc((unsigned char)s[i]) != lit[i])
            return 0;
    return 1;
}

/* Exactly one of the secret key names (any case), by length first. */
static int exact_secret_key(const char *k, size_t n)
{
    switch (n) {
    case 4:
        return ci_same(k, "blob", 4);
    case 6:
        return ci_same(k, "cookie", 6);
    case 8:
        return ci_same(k, "auth_key", 8);
    case 9:
        return ci_same(k, "adminpass", 9) || ci_same(k, "user_data", 9);
    case 10:
        return ci_same(k, "auth_token", 10) || ci_same(k, "set-cookie", 10) ||
               ci_same(k, "passphrase", 10);
    case 11:
        return ci_same(k, "private_key", 11);
    case 12:
        return ci_same(k, "access_token", 12) || ci_same(k, "x-auth-token", 12);
    case 13:
        return ci_same(k, "refresh_token", 13) || ci_same(k, "authorization", 13);
    case 15:
        return ci_same(k, "x-subject-token", 15) || ci_same(k, "x-service-token", 15);
    case 19:
        return ci_same(k, "_context_auth_token", 19);
    default:
        return 0;
    }
}

int redact_key_is_secret_n(const char *key, size_t n)
{
    if (!key)
        return 0;
    /* contains "password", "passwd" or "secret" (all at least 6 long):
     * only where a 'p' or an 's' (any case) is, found 8 bytes a step */
    for (size_t i = 0; i + 6 <= n; i += 8) {
        uint64_t x = 0;
        memcpy(&x, key + i, n - i < 8 ? n - i : 8); /* zero bytes: no hit */
        uint64_t l = x | (SWAR_ONES * 0x20); /* 'P' -> 'p', 'S' -> 's' */
        uint64_t m = swar_eq(l, 'p') | swar_eq(l, 's');
        while (m) { /* lowest first; falsely flagged bytes fail the test */
            size_t j = i + ((size_t)__builtin_ctzll(m) >> 3);
            m &= m - 1;
            if (j + 6 > n)
                break;
            if (lc((unsigned char)key[j]) == 'p') {
                if (ci_same(key + j + 1, "assw", 4) &&
                    ((lc((unsigned char)key[j + 5]) == 'd') ||
                     (j + 8 <= n && ci_same(key + j + 5, "ord", 3))))
                    return 1;
            } else if (lc((unsigned char)key[j]) == 's' && ci_same(key + j + 1, "ecret", 5)) {
                return 1;
            }
        }
    }
    return exact_secret_key(key, n);
}

int redact_key_is_secret(const char *key)
{
    return key ? redact_key_is_secret_n(key, strlen(key)) : 0;
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

/* Secret names redact_text masks the value of (after ':' or '='). */
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

/* Does a secret name (lower case) end right before s+e? */
static int name_ends_at(const char *s, size_t e)
{
    if (e < 6)
        return 0; /* the shortest names ("cookie", "passwd", "secret") */
    switch (lc((unsigned char)s[e - 1])) {
    case 'n': /* ...token, authorization */
    case 'e': /* cookie */
    case 'd': /* password, passwd */
    case 's': /* adminpass */
    case 't': /* secret */
        break;
    default:
        return 0;
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *nm = names[i].name;
        size_t m = strlen(nm);
        if (m > e)
            continue;
        size_t k = 0;
        while (k < m && lc((unsigned char)s[e - m + k]) == nm[k])
            k++;
        if (k == m)
            return 1;
    }
    return 0;
}

/* What redact_text_may_change stops at: 1 separator, 2 'A' (inside a
 * Fernet prefix "gAAAAA"), 3 'k'/'K' (17 bytes into "could not find token"),
 * 4 NUL. Chosen to be rare in ordinary values (lower-case ids and words). */
static const unsigned char pre_class[256] = {
    [0] = 4, [':'] = 1, ['='] = 1, ['A'] = 2, ['k'] = 3, ['K'] = 3,
};

int redact_text_may_change(const char *s, size_t n)
{
    /* Every mask redact_text writes starts at one of three triggers, read
     * from the original text: a Fernet token (at least 20 bytes from its
     * "gAAAAA"), "could not find token" (20 bytes, any case), or a secret
     * name followed by an optional quote, blanks and ':' or '=' (found here
     * from the separator backwards). No trigger, no change. Eight bytes at
     * a time while none of the bytes pre_class names shows up. */
    size_t i = 0;
    for (;;) {
        while (i + 8 <= n) {
            uint64_t x;
            memcpy(&x, s + i, 8);
            if (swar_eq(x, 0) | swar_eq(x, ':') | swar_eq(x, '=') | swar_eq(x, 'A') |
                swar_eq(x | (SWAR_ONES * 0x20), 'k'))
                break;
            i += 8;
        }
        if (i >= n)
            return 0;
        size_t end = i + 8 < n ? i + 8 : n;
        for (; i < end; i++) {
            switch (pre_class[(unsigned char)s[i]]) {
            case 0:
                break;
            case 1: {
                size_t e = i;
                while (e > 0 && (s[e - 1] == ' ' || s[e - 1] == '\t'))
                    e--;
                if (e > 0 && (s[e - 1] == '"' || s[e - 1] == '\''))
                    e--;
                if (name_ends_at(s, e))
                    return 1;
                break;
            }
            case 2: /* the first 'A' of "gAAAAA" */
                if (i >= 1 && n - (i - 1) >= 20 && memcmp(s + i - 1, "gAAAAA", 6) == 0)
                    return 1;
                break;
            case 3: /* the 'k' of "could not find token" */
                if (i >= 17 && n - (i - 17) >= sizeof(notfound) - 1 &&
                    ci_prefix_n(s + i - 17, notfound))
                    return 1;
                break;
            default:
                return 1; /* NUL: callers with lengths truncate there */
            }
        }
    }
}

size_t redact_text(char *s)
{
    if (!s)
        return 0;
    size_t n = strlen(s);
    if (!redact_text_may_change(s, n))
        return n;
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

size_t redact_text_n(char *s, size_t n)
{
    if (!s)
        return 0;
    if (!redact_text_may_change(s, n)) /* a NUL inside is a change: full path */
        return n;
    return redact_text(s);
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

static size_t redact_string(struct jv_doc *d, struct jv *v)
{
    size_t n = jv_strlen(v);
    const char *s = jv_str(v);
    if (!s || n == 0 || !redact_text_may_change(s, n))
        return 0;
    char *tmp = jv_str_dup(d, v);
    if (!tmp) {
        jv_str_set(v, "", 0); /* cannot check it: drop it */
        return 1;
    }
    /* embedded NULs: redact_text stops at the first; the rest is dropped */
    size_t before = strlen(tmp);
    size_t after = redact_text(tmp);
    if (after != n || before != n || memcmp(tmp, s, n) != 0) {
        jv_str_set(v, tmp, after);
        return 1;
    }
    return 0;
}

static int key_is(const struct jv *m, const char *lit, size_t n)
{
    return jv_keylen(m) == n && memcmp(jv_key(m), lit, n) == 0;
}

static size_t redact_rec(struct jv_doc *d, struct jv *v, int depth)
{
    size_t count = 0;
    if (!v)
        return 0;
    if (depth > REDACT_MAX_DEPTH)
        return jv_clear(v);
    if (jv_is_object(v)) {
        struct jv *m, *nx;
        for (m = jv_first(v); m; m = nx) {
            nx = jv_next(m);
            const char *key = jv_key(m);
            size_t kn = jv_keylen(m);
            if (redact_key_is_secret_n(key, kn)) {
                jv_remove(v, m);
                count++;
            } else if (key_is(m, "token", 5) || key_is(m, "_context_token", 14)) {
                if (jv_is_object(m)) {
                    if (jv_del(m, "id"))
                        count++;
                    count += redact_rec(d, m, depth + 1);
                } else if (!jv_is_array(m) && !jv_is_null(m)) {
                    jv_remove(v, m);
                    count++;
                } else {
                    count += redact_rec(d, m, depth + 1);
                }
            } else {
                count += redact_rec(d, m, depth + 1);
            }
        }
    } else if (jv_is_array(v)) {
        struct jv *e;
        JV_FOREACH(v, e)
        count += redact_rec(d, e, depth + 1);
    } else if (jv_is_string(v)) {
        count += redact_string(d, v);
    }
    return count;
}

size_t redact_json(struct jv_doc *d, struct jv *v)
{
    return redact_rec(d, v, 0);
}

/* ---- fingerprints ---------------------------------------------------- */

static inline uint64_t rotl64(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

static inline uint64_t le64(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
#else
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
#endif
}

static inline void sipround(uint64_t v[4])
{
    v[0] += v[1];
    v[1] = rotl64(v[1], 13) ^ v[0];
    v[0] = rotl64(v[0], 32);
    v[2] += v[3];
    v[3] = rotl64(v[3], 16) ^ v[2];
    v[0] += v[3];
    v[3] = rotl64(v[3], 21) ^ v[0];
    v[2] += v[1];
    v[1] = rotl64(v[1], 17) ^ v[2];
    v[2] = rotl64(v[2], 32);
}

/* SipHash-c-d as specified by Aumasson and Bernstein, "SipHash: a fast
 * short-input PRF" (2012): c compression rounds per 8-byte little-endian
 * word, the length's low byte in the top byte of the last word, d
 * finalization rounds. */
static inline __attribute__((always_inline)) uint64_t siphash(int c, int d, const uint8_t key[16],
                                                              const void *p, size_t n)
{
    const uint8_t *m = p;
    uint64_t k0 = le64(key), k1 = le64(key + 8);
    uint64_t v[4] = {k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull,
                     k0 ^ 0x6c7967656e657261ull, k1 ^ 0x7465646279746573ull};
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = le64(m + i);
        v[3] ^= w;
        for (int r = 0; r < c; r++)
            sipround(v);
        v[0] ^= w;
    }
    uint64_t b = (uint64_t)(n & 0xff) << 56;
    for (size_t j = 0; i + j < n; j++)
        b |= (uint64_t)m[i + j] << (8 * j);
    v[3] ^= b;
    for (int r = 0; r < c; r++)
        sipround(v);
    v[0] ^= b;
    v[2] ^= 0xff;
    for (int r = 0; r < d; r++)
        sipround(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

uint64_t redact_siphash24(const uint8_t key[16], const void *p, size_t n)
{
    return siphash(2, 4, key, p, n);
}

static uint8_t fp_key[16];
static pthread_once_t fp_once = PTHREAD_ONCE_INIT;

static void fp_key_init(void)
{
    size_t got = 0;
    while (got < sizeof(fp_key)) {
        ssize_t r = getrandom(fp_key + got, sizeof(fp_key) - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (got < sizeof(fp_key)) { /* no getrandom: still unpredictable enough to not be a constant */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t a = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 30 ^ (uint64_t)getpid() << 48;
        uint64_t b = (uint64_t)(uintptr_t)&ts ^ a * 0x9e3779b97f4a7c15ull;
        memcpy(fp_key, &a, 8);
        memcpy(fp_key + 8, &b, 8);
    }
}

/* The key is fixed before any fingerprint: the once-routine runs first
 * (drawing a random key nobody uses), then the given key replaces it. */
void redact_set_fp_key(const uint8_t key[16])
{
    pthread_once(&fp_once, fp_key_init);
    memcpy(fp_key, key, sizeof(fp_key));
}

uint64_t redact_fingerprint(const void *p, size_t n)
{
    if (!p || n == 0)
        return 0;
    pthread_once(&fp_once, fp_key_init);
    /* the last REDACT_FP_TAIL bytes and the length: a signed token ends in
     * its signature (Fernet: HMAC-SHA256; JWS: the signature), unique to
     * it. 40 bytes and SipHash-1-3 (the variant hash tables use) instead
     * of ~190 and 2-4: a few hundred instructions a request less */
    uint8_t buf[REDACT_FP_TAIL + 8];
    size_t k = n < REDACT_FP_TAIL ? n : REDACT_FP_TAIL;
    memcpy(buf, (const uint8_t *)p + (n - k), k);
    uint64_t len = n;
    memcpy(buf + k, &len, 8);
    uint64_t h = siphash(1, 3, fp_key, buf, k + 8);
    return h ? h : 1;
}
