/* httpd.c -- /metrics and /verdicts over libmicrohttpd (see httpd.h;
 * Prometheus text exposition format 0.0.4, RFC 3339 timestamps). */
#include "cli/net/httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "cli/dynlib.h"

struct slot {
    char *json;
    size_t n;
    uint64_t ts_us;
    char (*res)[40];
    size_t nres;
};

struct httpd {
    struct MHD_Daemon *d;
    pthread_mutex_t mu;
    struct slot *ring;
    size_t ring_max, head, count; /* head = oldest */
    char *metrics;
    size_t metrics_n;
};

/* growable output buffer for /verdicts */
struct buf {
    char *p;
    size_t n, cap;
    int oom;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

int httpd_parse_time(const char *s, uint64_t *us)
{
    if (!s || !*s)
        return -1;
    char *end;
    if (strchr(s, '-') == NULL) { /* epoch seconds, maybe fractional */
        errno = 0;
        double v = strtod(s, &end);
        if (errno || *end || v < 0 || v > 1e11)
            return -1;
        *us = (uint64_t)(v * 1e6);
        return 0;
    }
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        p = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
    if (!p)
        return -1;
    uint64_t frac = 0;
    if (*p == '.') {
        uint64_t scale = 100000;
        p++;
        if (*p < '0' || *p > '9')
            return -1;
        while (*p >= '0' && *p <= '9') {
            frac += (uint64_t)(*p - '0') * scale;
            scale /= 10;
            p++;
        }
    }
    long off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        if (strlen(p) != 6 || p[3] != ':')
            return -1;
        for (int i = 1; i < 6; i++)
            if (i != 3 && (p[i] < '0' || p[i] > '9'))
                return -1;
        off = sign * (((p[1] - '0') * 10 + (p[2] - '0')) * 3600L +
                      ((p[4] - '0') * 10 + (p[5] - '0')) * 60L);
        p += 6;
    }
    if (*p)
        return -1;
    time_t t = timegm(&tm);
    if (t < 0 || (long long)t - off < 0)
        return -1;
    *us = (uint64_t)((long long)t - off) * 1000000ull + frac;
    return 0;
}

static enum MHD_Result respond(struct MHD_Connection *c, unsigned code, const char *type,
                               char *body, size_t n)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(n, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result respond_text(struct MHD_Connection *c, unsigned code, const char *msg)
{
    char *b = strdup(msg);
    if (!b)
        return MHD_NO;
    return respond(c, code, "text/plain; charset=utf-8", b, strlen(b));
}

static int slot_has_res(const struct slot *s, const char *id)
{
    for (size_t i = 0; i < s->nres; i++)
        if (strcasecmp(s->res[i], id) == 0)
            return 1;
    return 0;
}

static enum MHD_Result serve_verdicts(struct httpd *h, struct MHD_Connection *c)
{
    const char *res = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "resource");
    const char *since = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
    uint64_t since_us = 0;
    if (since && httpd_parse_time(since, &since_us) < 0)
        return respond_text(c, MHD_HTTP_BAD_REQUEST,
                            "since: expected RFC 3339 (2026-11-22T08:49:30Z) or epoch seconds\n");
    if (res && (strlen(res) < 32 || strlen(res) > 36))
        return respond_text(c, MHD_HTTP_BAD_REQUEST, "resource: expected a UUID\n");
    struct buf b = {0};
    buf_add(&b, "[", 1);
    int first = 1;
    pthread_mutex_lock(&h->mu);
    for (size_t i = 0; i < h->count; i++) {
        const struct slot *s = &h->ring[(h->head + i) % h->ring_max];
        if (since && s->ts_us < since_us)
            continue;
        if (res && !slot_has_res(s, res))
            continue;
        if (!first)
            buf_add(&b, ",", 1);
        buf_add(&b, s->json, s->n);
        first = 0;
    }
    pthread_mutex_unlock(&h->mu);
    buf_add(&b, "]\n", 2);
    if (b.oom) {
        free(b.p);
        return respond_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    }
    return respond(c, MHD_HTTP_OK, "application/json", b.p, b.n);
}

static enum MHD_Result serve_metrics(struct httpd *h, struct MHD_Connection *c)
{
    pthread_mutex_lock(&h->mu);
    size_t n = h->metrics_n;
    char *b = malloc(n + 1);
    if (b && n)
        memcpy(b, h->metrics, n);
    pthread_mutex_unlock(&h->mu);
    if (!b)
        return MHD_NO;
    return respond(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", b, n);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_n, void **state)
{
    struct httpd *h = cls;
    (void)version;
    (void)upload;
    if (!*state) { /* first call: headers only */
        *state = h;
        return MHD_YES;
    }
    if (*upload_n) { /* ignore request bodies */
        *upload_n = 0;
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return respond_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n");
    if (strcmp(url, "/metrics") == 0)
        return serve_metrics(h, c);
    if (strcmp(url, "/verdicts") == 0)
        return serve_verdicts(h, c);
    return respond_text(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics or /verdicts\n");
}

/* "ADDR:PORT", "[V6]:PORT", ":PORT" into ss. */
static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len, uint16_t *port)
{
    char host[64];
    const char *colon;
    const char *h0 = s;
    size_t hn;
    if (*s == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':')
            return -1;
        h0 = s + 1;
        hn = (size_t)(rb - h0);
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return -1;
        hn = (size_t)(colon - s);
    }
    if (hn >= sizeof(host))
        return -1;
    memcpy(host, h0, hn);
    host[hn] = '\0';
    char *end;
    errno = 0;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (errno || *end || colon[1] == '\0' || p > 65535)
        return -1;
    *port = (uint16_t)p;
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (!*host || inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons(*port);
        if (!*host)
            a4->sin_addr.s_addr = htonl(INADDR_ANY);
        *len = sizeof(*a4);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(*port);
        *len = sizeof(*a6);
        return 0;
    }
    return -1;
}

struct httpd *httpd_new(const char *listen, size_t ring_max, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    uint16_t port;
    if (parse_listen(listen, &ss, &sl, &port) < 0) {
        snprintf(err, errlen, "--listen %s: expected ADDR:PORT (e.g. 127.0.0.1:9108)", listen);
        return NULL;
    }
    char why[512];
    if (dyn_mhd_load(why, sizeof(why)) < 0) {
        snprintf(err, errlen, "--listen %s: %s", listen, why);
        return NULL;
    }
    struct httpd *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(err, errlen, "httpd: out of memory");
        return NULL;
    }
    h->ring_max = ring_max ? ring_max : 1;
    h->ring = calloc(h->ring_max, sizeof(*h->ring));
    if (!h->ring) {
        free(h);
        snprintf(err, errlen, "httpd: out of memory");
        return NULL;
    }
    pthread_mutex_init(&h->mu, NULL);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->d = MHD_start_daemon(flags, port, NULL, NULL, handler, h, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    if (!h->d) {
        snprintf(err, errlen, "--listen %s: cannot listen (address in use or not local?)",
                 listen);
        httpd_free(h);
        return NULL;
    }
    return h;
}

uint16_t httpd_port(const struct httpd *h)
{
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    return i ? i->port : 0;
}

static void slot_clear(struct slot *s)
{
    free(s->json);
    free(s->res);
    memset(s, 0, sizeof(*s));
}

void httpd_add_verdict(struct httpd *h, const char *json, size_t n, uint64_t ts_us,
                       const char *const *res, size_t nres)
{
    if (nres > HTTPD_MAX_RES)
        nres = HTTPD_MAX_RES;
    struct slot s = {malloc(n + 1), n, ts_us, nres ? calloc(nres, sizeof(*s.res)) : NULL, nres};
    if (!s.json || (nres && !s.res)) {
        slot_clear(&s);
        return;
    }
    memcpy(s.json, json, n);
    s.json[n] = '\0';
    for (size_t i = 0; i < nres; i++)
        snprintf(s.res[i], sizeof(s.res[i]), "%s", res[i]);
    pthread_mutex_lock(&h->mu);
    struct slot old = {0};
    if (h->count == h->ring_max) {
        old = h->ring[h->head];
        h->ring[h->head] = s;
        h->head = (h->head + 1) % h->ring_max;
    } else {
        h->ring[(h->head + h->count) % h->ring_max] = s;
        h->count++;
    }
    pthread_mutex_unlock(&h->mu);
    slot_clear(&old);
}

void httpd_set_metrics(struct httpd *h, const char *text, size_t n)
{
    char *copy = malloc(n + 1);
    if (!copy)
        return;
    memcpy(copy, text, n);
    copy[n] = '\0';
    pthread_mutex_lock(&h->mu);
    char *old = h->metrics;
    h->metrics = copy;
    h->metrics_n = n;
    pthread_mutex_unlock(&h->mu);
    free(old);
}

void httpd_free(struct httpd *h)
{
    if (!h)
        return;
    if (h->d)
        MHD_stop_daemon(h->d);
    for (size_t i = 0; i < h->ring_max; i++)
        slot_clear(&h->ring[i]);
    free(h->ring);
    free(h->metrics);
    pthread_mutex_destroy(&h->mu);
    free(h);
}
