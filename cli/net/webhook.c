/* webhook.c -- verdict POSTs from a worker thread with a bounded queue and
 * exponential backoff (see webhook.h; libcurl easy interface). */
#include "cli/net/webhook.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli/common.h"
#include "cli/dynlib.h"

struct item {
    char *body;
    size_t n;
};

struct webhook {
    struct webhook_cfg cfg;
    char *url;
    pthread_t thr;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    struct item *q;    /* ring of cfg.queue_max */
    size_t head, count;
    int stop;
    uint64_t deadline_ns; /* drain deadline once stop is set */
    struct webhook_stats st;
};

void webhook_defaults(struct webhook_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->queue_max = 256;
    cfg->max_retries = 4;
    cfg->backoff_ms = 500;
    cfg->backoff_max_ms = 8000;
    cfg->timeout_ms = 5000;
    cfg->content_type = "application/json";
    cfg->user_agent = "osrca-webhook";
}

/* Discard the response body. */
static size_t sink(char *p, size_t sz, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return sz * n;
}

/* Retry-After: a number of seconds (the HTTP-date form is not used by
 * collectors; it counts as absent). */
static size_t on_header(char *p, size_t sz, size_t n, void *ctx)
{
    unsigned *after_s = ctx;
    size_t len = sz * n;
    static const char name[] = "retry-after:";
    if (len > sizeof(name) - 1 && !strncasecmp(p, name, sizeof(name) - 1)) {
        const char *v = p + sizeof(name) - 1;
        while (*v == ' ' || *v == '\t')
            v++;
        unsigned s = 0;
        int digits = 0;
        while (*v >= '0' && *v <= '9' && s < 100000) {
            s = s * 10 + (unsigned)(*v++ - '0');
            digits++;
        }
        if (digits)
            *after_s = s;
    }
    return len;
}

/* One POST; 0 on a 2xx answer, else -1 with *code the status (0: no
 * answer) and *after_s the server's Retry-After (0: none). */
static int post_once(CURL *c, const struct webhook *w, const struct item *it, long *code,
                     unsigned *after_s)
{
    curl_easy_setopt(c, CURLOPT_URL, w->url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, it->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)it->n);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)w->cfg.timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)w->cfg.timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_USERAGENT, w->cfg.user_agent);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, after_s);
    *code = 0;
    *after_s = 0;
    if (curl_easy_perform(c) != CURLE_OK)
        return -1;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
    return *code >= 200 && *code < 300 ? 0 : -1;
}

/* May a POST answered code (0: none) pass if sent again? */
static int retryable(const struct webhook *w, long code)
{
    if (!w->cfg.transient_only)
        return 1;
    return code == 0 || code == 429 || code == 502 || code == 503 || code == 504;
}

/* Sleep ms unless stopping past the drain deadline; mu held. Returns 1 if
 * the worker must give up now. */
static int backoff_wait(struct webhook *w, unsigned ms)
{
    uint64_t until = common_mono_ns() + (uint64_t)ms * 1000000ull;
    for (;;) {
        if (w->stop && common_mono_ns() >= w->deadline_ns)
            return 1;
        uint64_t now = common_mono_ns();
        if (now >= until)
            return 0;
        uint64_t wake = until;
        if (w->stop && w->deadline_ns < wake)
            wake = w->deadline_ns;
        struct timespec ts = {(time_t)(wake / 1000000000ull), (long)(wake % 1000000000ull)};
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    }
}

static void *worker(void *arg)
{
    struct webhook *w = arg;
    CURL *c = curl_easy_init();
    char ct[160];
    snprintf(ct, sizeof(ct), "Content-Type: %s", w->cfg.content_type);
    struct curl_slist *hdr = curl_slist_append(NULL, ct);
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->count && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->count || (w->stop && common_mono_ns() >= w->deadline_ns))
            break;
        struct item it = w->q[w->head];
        w->head = (w->head + 1) % w->cfg.queue_max;
        w->count--;
        int ok = 0, give_up = 0;
        unsigned delay = w->cfg.backoff_ms;
        for (unsigned attempt = 0;; attempt++) {
            pthread_mutex_unlock(&w->mu);
            int rc = -1;
            long code = 0;
            unsigned after_s = 0;
            if (c) {
                curl_easy_reset(c);
                curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
                rc = post_once(c, w, &it, &code, &after_s);
            }
            pthread_mutex_lock(&w->mu);
            if (rc == 0) {
                ok = 1;
                break;
            }
            if (attempt >= w->cfg.max_retries || !retryable(w, code))
                break;
            unsigned wait = delay;
            if (w->cfg.transient_only && after_s)
                wait = after_s * 1000u > w->cfg.backoff_max_ms ? w->cfg.backoff_max_ms
                                                               : after_s * 1000u;
            if (backoff_wait(w, wait)) {
                give_up = 1;
                break;
            }
            w->st.retries++;
            delay = delay * 2 > w->cfg.backoff_max_ms ? w->cfg.backoff_max_ms : delay * 2;
        }
        if (ok)
            w->st.sent++;
        else if (give_up)
            w->st.dropped++;
        else
            w->st.failed++;
        free(it.body);
    }
    /* stopping: whatever is still queued is dropped */
    while (w->count) {
        free(w->q[w->head].body);
        w->head = (w->head + 1) % w->cfg.queue_max;
        w->count--;
        w->st.dropped++;
    }
    pthread_mutex_unlock(&w->mu);
    curl_slist_free_all(hdr);
    if (c)
        curl_easy_cleanup(c);
    return NULL;
}

struct webhook *webhook_new(const struct webhook_cfg *cfg, char *err, size_t errlen)
{
    if (!cfg->url || (strncmp(cfg->url, "http://", 7) && strncmp(cfg->url, "https://", 8))) {
        snprintf(err, errlen, "webhook: '%s': expected an http:// or https:// URL",
                 cfg->url ? cfg->url : "");
        return NULL;
    }
    char why[512];
    if (dyn_curl_load(why, sizeof(why)) < 0) {
        snprintf(err, errlen, "webhook: %s", why);
        return NULL;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "webhook: libcurl initialisation failed");
        return NULL;
    }
    struct webhook *w = calloc(1, sizeof(*w));
    if (!w)
        goto oom;
    w->cfg = *cfg;
    if (!w->cfg.content_type)
        w->cfg.content_type = "application/json";
    if (!w->cfg.user_agent)
        w->cfg.user_agent = "osrca-webhook";
    if (!w->cfg.queue_max)
        w->cfg.queue_max = 256;
    if (!w->cfg.backoff_ms)
        w->cfg.backoff_ms = 1;
    if (w->cfg.backoff_max_ms < w->cfg.backoff_ms)
        w->cfg.backoff_max_ms = w->cfg.backoff_ms;
    w->url = strdup(cfg->url);
    w->q = calloc(w->cfg.queue_max, sizeof(*w->q));
    if (!w->url || !w->q)
        goto oom;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&w->mu, NULL);
    if (pthread_create(&w->thr, NULL, worker, w) != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        snprintf(err, errlen, "webhook: cannot start the worker thread");
        goto fail;
    }
    w->started = 1;
    return w;
oom:
    snprintf(err, errlen, "webhook: out of memory");
fail:
    if (w) {
        free(w->url);
        free(w->q);
        free(w);
    }
    curl_global_cleanup();
    return NULL;
}

int webhook_post(struct webhook *w, const char *body, size_t n)
{
    char *copy = malloc(n + 1);
    pthread_mutex_lock(&w->mu);
    if (!copy || w->stop || w->count >= w->cfg.queue_max) {
        w->st.dropped++;
        pthread_mutex_unlock(&w->mu);
        free(copy);
        return -1;
    }
    memcpy(copy, body, n);
    copy[n] = '\0';
    w->q[(w->head + w->count) % w->cfg.queue_max] = (struct item){copy, n};
    w->count++;
    w->st.queued++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

void webhook_get_stats(struct webhook *w, struct webhook_stats *out)
{
    pthread_mutex_lock(&w->mu);
    *out = w->st;
    out->pending = w->count;
    pthread_mutex_unlock(&w->mu);
}

void webhook_stop(struct webhook *w, unsigned drain_ms)
{
    if (!w || !w->started)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    w->deadline_ns = common_mono_ns() + (uint64_t)drain_ms * 1000000ull;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thr, NULL);
    w->started = 0;
}

void webhook_free(struct webhook *w, unsigned drain_ms)
{
    if (!w)
        return;
    webhook_stop(w, drain_ms);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w->q);
    free(w->url);
    free(w);
    curl_global_cleanup();
}
