/* bus.c -- the Redis Streams bus (bus.h): a sensor's publishing worker and
 * the correlator's consumer-group reader. */
#include "cli/net/bus.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "cli/common.h"
#include "cli/dynlib.h"

#define PIPELINE 64 /* XADDs in flight per round trip */

int bus_parse_url(const char *url, struct bus_url *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof(*u));
    u->port = 6379;
    snprintf(u->prefix, sizeof(u->prefix), "osrca");
    if (!url || strncmp(url, "redis://", 8) != 0) {
        snprintf(err, errlen, "bus URL must be redis://HOST[:PORT][/PREFIX]: %s",
                 url ? url : "(none)");
        return -1;
    }
    const char *h = url + 8, *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    const char *colon = memchr(h, ':', hl);
    if (h[0] == '[') { /* [::1]:6379 */
        const char *rb = memchr(h, ']', hl);
        if (!rb) {
            snprintf(err, errlen, "bad host in %s", url);
            return -1;
        }
        colon = rb + 1 < h + hl && rb[1] == ':' ? rb + 1 : NULL;
        size_t n = (size_t)(rb - h - 1);
        if (n == 0 || n >= sizeof(u->host)) {
            snprintf(err, errlen, "bad host in %s", url);
            return -1;
        }
        memcpy(u->host, h + 1, n);
    } else {
        size_t n = colon ? (size_t)(colon - h) : hl;
        if (n == 0 || n >= sizeof(u->host)) {
            snprintf(err, errlen, "bad host in %s", url);
            return -1;
        }
        memcpy(u->host, h, n);
    }
    if (colon) {
        char *end;
        long p = strtol(colon + 1, &end, 10);
        if (end != h + hl || p <= 0 || p > 65535) {
            snprintf(err, errlen, "bad port in %s", url);
            return -1;
        }
        u->port = (int)p;
    }
    if (slash && slash[1]) {
        size_t n = strlen(slash + 1);
        if (n >= sizeof(u->prefix) || strpbrk(slash + 1, " \t\r\n")) {
            snprintf(err, errlen, "bad stream prefix in %s", url);
            return -1;
        }
        memcpy(u->prefix, slash + 1, n + 1);
    }
    return 0;
}

static redisContext *connect_url(const struct bus_url *u, char *err, size_t errlen)
{
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout(u->host, u->port, tv);
    if (!c || c->err) {
        snprintf(err, errlen, "redis %s:%d: %s", u->host, u->port,
                 c ? c->errstr : "cannot allocate a context");
        if (c)
            redisFree(c);
        return NULL;
    }
    struct timeval rt = {10, 0};
    redisSetTimeout(c, rt);
    return c;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static uint64_t now_ms(void)
{
    return common_mono_ns() / 1000000u;
}

/* A command from argv; the reply or NULL (connection broken: err set). */
static redisReply *cmd(redisContext *c, int argc, const char **argv, const size_t *len)
{
    size_t l[16];
    if (!len) {
        for (int i = 0; i < argc && i < 16; i++)
            l[i] = strlen(argv[i]);
        len = l;
    }
    return redisCommandArgv(c, argc, argv, len);
}

/* ---- publishing ---- */

struct frame {
    uint8_t *p;
    size_t n;
};

struct bus_pub {
    struct bus_pub_cfg cfg;
    struct bus_url u;
    char sensor[65];
    char key[256], set[256];
    char maxlen[24];
    pthread_t th;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t work, room;
    struct frame *q;
    size_t head, n, bytes;
    int stop;
    struct bus_pub_stats st;
};

void bus_pub_defaults(struct bus_pub_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->maxlen = 10000; /* frames: 50 ms apart when live (8 min of history
                            at that pace), up to 256 KiB each in a burst */
    cfg->queue_frames = 4096;
    cfg->queue_bytes = 64u << 20;
}

static int pub_connect(struct bus_pub *p, redisContext **cp)
{
    char err[256];
    redisContext *c = connect_url(&p->u, err, sizeof(err));
    if (!c)
        return -1;
    const char *argv[] = {"SADD", p->set, p->sensor};
    redisReply *r = cmd(c, 3, argv, NULL);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        if (r)
            freeReplyObject(r);
        redisFree(c);
        return -1;
    }
    freeReplyObject(r);
    *cp = c;
    return 0;
}

static void *pub_worker(void *arg)
{
    struct bus_pub *p = arg;
    redisContext *c = NULL;
    int backoff = 100;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->n && !p->stop)
            pthread_cond_wait(&p->work, &p->mu);
        if (p->stop && (!p->n || p->stop > 1)) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        size_t k = p->n < PIPELINE ? p->n : PIPELINE;
        struct frame fr[PIPELINE];
        for (size_t i = 0; i < k; i++)
            fr[i] = p->q[(p->head + i) % p->cfg.queue_frames];
        pthread_mutex_unlock(&p->mu);
        if (!c) {
            if (pub_connect(p, &c) < 0) {
                pthread_mutex_lock(&p->mu);
                p->st.connected = 0;
                int stop = p->stop;
                pthread_mutex_unlock(&p->mu);
                if (stop > 1)
                    break;
                sleep_ms(backoff);
                backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
                continue;
            }
            pthread_mutex_lock(&p->mu);
            if (p->st.connected_once) /* the first connection is no reconnect */
                p->st.reconnects++;
            p->st.connected = p->st.connected_once = 1;
            pthread_mutex_unlock(&p->mu);
            backoff = 100;
        }
        /* frames leave the queue only once Redis has them: one whose reply
         * was lost is sent again, and the correlator drops the batch it
         * already has */
        const char *argv[7] = {"XADD", p->key, "MAXLEN", "~", p->maxlen, "*", "f"};
        size_t done = 0, bytes = 0;
        int broken = 0;
        for (size_t i = 0; i < k; i++) {
            const char *a[8];
            size_t l[8];
            memcpy(a, argv, sizeof(argv));
            for (int j = 0; j < 7; j++)
                l[j] = strlen(a[j]);
            a[7] = (const char *)fr[i].p;
            l[7] = fr[i].n;
            if (redisAppendCommandArgv(c, 8, a, l) != REDIS_OK) {
                broken = 1;
                break;
            }
        }
        for (size_t i = 0; !broken && i < k; i++) {
            void *rv = NULL;
            if (redisGetReply(c, &rv) != REDIS_OK || !rv) {
                broken = 1;
                break;
            }
            redisReply *r = rv;
            int ok = r->type != REDIS_REPLY_ERROR;
            freeReplyObject(r);
            if (!ok) {
                broken = 1;
                break;
            }
            done++;
            bytes += fr[i].n;
        }
        pthread_mutex_lock(&p->mu);
        for (size_t i = 0; i < done; i++) {
            free(p->q[p->head].p);
            p->bytes -= p->q[p->head].n;
            p->head = (p->head + 1) % p->cfg.queue_frames;
            p->n--;
        }
        p->st.frames_sent += done;
        p->st.bytes_sent += bytes;
        if (broken) {
            p->st.errors++;
            p->st.connected = 0;
        }
        pthread_cond_broadcast(&p->room);
        pthread_mutex_unlock(&p->mu);
        if (broken) {
            redisFree(c);
            c = NULL;
        }
    }
    if (c)
        redisFree(c);
    return NULL;
}

struct bus_pub *bus_pub_new(const struct bus_pub_cfg *cfg, char *err, size_t errlen)
{
    struct bus_url u;
    if (bus_parse_url(cfg->url, &u, err, errlen) < 0 || dyn_redis_load(err, errlen) < 0)
        return NULL;
    struct bus_pub *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->cfg = *cfg;
    if (!p->cfg.queue_frames)
        p->cfg.queue_frames = 1;
    p->u = u;
    snprintf(p->sensor, sizeof(p->sensor), "%s", cfg->sensor);
    snprintf(p->key, sizeof(p->key), "%s:s:%s", u.prefix, p->sensor);
    snprintf(p->set, sizeof(p->set), "%s:sensors", u.prefix);
    snprintf(p->maxlen, sizeof(p->maxlen), "%zu", cfg->maxlen ? cfg->maxlen : 10000);
    p->q = calloc(p->cfg.queue_frames, sizeof(*p->q));
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->room, NULL);
    if (!p->q || pthread_create(&p->th, NULL, pub_worker, p) != 0) {
        snprintf(err, errlen, "cannot start the bus worker");
        bus_pub_free(p, 0);
        return NULL;
    }
    p->started = 1;
    return p;
}

int bus_pub_send(struct bus_pub *p, const uint8_t *frame, size_t n, int wait)
{
    uint8_t *copy = malloc(n ? n : 1);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        int full = p->n == p->cfg.queue_frames ||
                   (p->cfg.queue_bytes && p->bytes + n > p->cfg.queue_bytes && p->n);
        if (!full && copy)
            break;
        if ((!p->cfg.block && !wait) || !copy || p->stop) {
            p->st.frames_dropped++;
            pthread_mutex_unlock(&p->mu);
            free(copy);
            return -1;
        }
        pthread_cond_wait(&p->room, &p->mu);
    }
    memcpy(copy, frame, n);
    p->q[(p->head + p->n) % p->cfg.queue_frames] = (struct frame){copy, n};
    p->n++;
    p->bytes += n;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

void bus_pub_get_stats(struct bus_pub *p, struct bus_pub_stats *s)
{
    pthread_mutex_lock(&p->mu);
    *s = p->st;
    s->queued = p->n;
    pthread_mutex_unlock(&p->mu);
}

size_t bus_pub_free(struct bus_pub *p, int wait_ms)
{
    if (!p)
        return 0;
    size_t left = 0;
    if (p->started) {
        uint64_t until = now_ms() + (uint64_t)(wait_ms > 0 ? wait_ms : 0);
        pthread_mutex_lock(&p->mu);
        p->stop = 1;
        pthread_cond_broadcast(&p->work);
        while (p->n && now_ms() < until) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 50000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&p->room, &p->mu, &ts);
        }
        p->stop = 2;
        pthread_cond_broadcast(&p->work);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->th, NULL);
    }
    for (size_t i = 0; i < p->n; i++)
        free(p->q[(p->head + i) % p->cfg.queue_frames].p);
    left = p->n;
    free(p->q);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->room);
    free(p);
    return left;
}

int bus_fp_key(const char *url, uint8_t key[16], int wait_ms, char *err, size_t errlen)
{
    struct bus_url u;
    if (bus_parse_url(url, &u, err, errlen) < 0 || dyn_redis_load(err, errlen) < 0)
        return -1;
    char k[256];
    snprintf(k, sizeof(k), "%s:fpkey", u.prefix);
    uint64_t until = now_ms() + (uint64_t)wait_ms;
    for (;;) {
        redisContext *c = connect_url(&u, err, errlen);
        if (c) {
            const char *set[] = {"SET", k, (const char *)key, "NX"};
            size_t sl[] = {3, strlen(k), 16, 2};
            redisReply *r = cmd(c, 4, set, sl);
            if (r)
                freeReplyObject(r);
            const char *get[] = {"GET", k};
            r = cmd(c, 2, get, NULL);
            int ok = r && r->type == REDIS_REPLY_STRING && r->len == 16;
            if (ok)
                memcpy(key, r->str, 16);
            else
                snprintf(err, errlen, "redis: no fingerprint key at %s", k);
            if (r)
                freeReplyObject(r);
            redisFree(c);
            if (ok)
                return 0;
        }
        if (now_ms() >= until)
            return -1;
        sleep_ms(200);
    }
}

/* ---- consuming ---- */

#define SUB_MAX_SENSORS 256

struct bus_sub {
    struct bus_url u;
    char group[64], consumer[64];
    redisContext *c;
    char err[512];
    uint64_t reconnects;
    char *ids[SUB_MAX_SENSORS];
    int nids;
    char *grouped[SUB_MAX_SENSORS]; /* streams whose group exists */
    int ngrouped;
};

static int sub_conn(struct bus_sub *b)
{
    if (b->c)
        return 0;
    b->c = connect_url(&b->u, b->err, sizeof(b->err));
    if (!b->c)
        return -1;
    b->reconnects++;
    b->ngrouped = 0; /* a restarted Redis may have lost them */
    for (int i = 0; i < SUB_MAX_SENSORS && b->grouped[i]; i++) {
        free(b->grouped[i]);
        b->grouped[i] = NULL;
    }
    return 0;
}

static void sub_broken(struct bus_sub *b)
{
    if (b->c) {
        snprintf(b->err, sizeof(b->err), "redis: %s", b->c->errstr[0] ? b->c->errstr : "error");
        redisFree(b->c);
        b->c = NULL;
    }
}

/* A command on the (re)connected context; NULL when broken. An error
 * reply is returned as is. */
static redisReply *sub_cmd(struct bus_sub *b, int argc, const char **argv, const size_t *len)
{
    if (sub_conn(b) < 0)
        return NULL;
    redisReply *r = cmd(b->c, argc, argv, len);
    if (!r)
        sub_broken(b);
    return r;
}

struct bus_sub *bus_sub_new(const char *url, const char *group, const char *consumer,
                            int wait_ms, char *err, size_t errlen)
{
    struct bus_url u;
    if (bus_parse_url(url, &u, err, errlen) < 0 || dyn_redis_load(err, errlen) < 0)
        return NULL;
    struct bus_sub *b = calloc(1, sizeof(*b));
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    b->u = u;
    snprintf(b->group, sizeof(b->group), "%s", group);
    snprintf(b->consumer, sizeof(b->consumer), "%s", consumer);
    uint64_t until = now_ms() + (uint64_t)wait_ms;
    while (sub_conn(b) < 0) {
        if (now_ms() >= until) {
            snprintf(err, errlen, "%s", b->err);
            bus_sub_free(b);
            return NULL;
        }
        sleep_ms(200);
    }
    b->reconnects = 0;
    return b;
}

void bus_sub_free(struct bus_sub *b)
{
    if (!b)
        return;
    if (b->c)
        redisFree(b->c);
    for (int i = 0; i < b->nids; i++)
        free(b->ids[i]);
    for (int i = 0; i < SUB_MAX_SENSORS; i++)
        free(b->grouped[i]);
    free(b);
}

const char *bus_sub_error(const struct bus_sub *b)
{
    return b->err;
}

uint64_t bus_sub_reconnects(const struct bus_sub *b)
{
    return b->reconnects;
}

static void stream_key(const struct bus_sub *b, const char *id, char *out, size_t n)
{
    snprintf(out, n, "%s:s:%s", b->u.prefix, id);
}

/* The group on sensor id's stream exists (created from its start). */
static int ensure_group(struct bus_sub *b, const char *id)
{
    for (int i = 0; i < b->ngrouped; i++)
        if (!strcmp(b->grouped[i], id))
            return 0;
    char k[320];
    stream_key(b, id, k, sizeof(k));
    const char *argv[] = {"XGROUP", "CREATE", k, b->group, "0", "MKSTREAM"};
    redisReply *r = sub_cmd(b, 6, argv, NULL);
    if (!r)
        return -1;
    int ok = r->type != REDIS_REPLY_ERROR || !strncmp(r->str, "BUSYGROUP", 9);
    if (!ok)
        snprintf(b->err, sizeof(b->err), "redis XGROUP CREATE %s: %s", k, r->str);
    freeReplyObject(r);
    if (ok && b->ngrouped < SUB_MAX_SENSORS) {
        b->grouped[b->ngrouped] = strdup(id);
        if (b->grouped[b->ngrouped])
            b->ngrouped++;
    }
    return ok ? 0 : -1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int bus_sub_sensors(struct bus_sub *b, const char **ids, int max)
{
    char k[256];
    snprintf(k, sizeof(k), "%s:sensors", b->u.prefix);
    const char *argv[] = {"SMEMBERS", k};
    redisReply *r = sub_cmd(b, 2, argv, NULL);
    if (!r)
        return -1;
    if (r->type != REDIS_REPLY_ARRAY) {
        snprintf(b->err, sizeof(b->err), "redis SMEMBERS %s: unexpected answer", k);
        freeReplyObject(r);
        return -1;
    }
    for (int i = 0; i < b->nids; i++)
        free(b->ids[i]);
    b->nids = 0;
    for (size_t i = 0; i < r->elements && b->nids < SUB_MAX_SENSORS; i++) {
        redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_STRING || e->len == 0 || e->len > 64 ||
            memchr(e->str, 0, e->len))
            continue;
        b->ids[b->nids] = strndup(e->str, e->len);
        if (b->ids[b->nids])
            b->nids++;
    }
    freeReplyObject(r);
    qsort(b->ids, (size_t)b->nids, sizeof(b->ids[0]), cmp_str);
    int n = 0;
    for (int i = 0; i < b->nids && n < max; i++) {
        if (ensure_group(b, b->ids[i]) < 0)
            return -1;
        ids[n++] = b->ids[i];
    }
    return n;
}

/* Entries of one stream: [[id, [field, value, ...] or nil], ...]. Calls fn
 * for those with an "f" field; a trimmed entry (nil) is passed with no
 * frame. Keeps the last id in last (may be NULL). */
int bus_reply_entries(const void *reply, const char *sensor, char *last, bus_entry_fn fn,
                      void *ctx)
{
    const redisReply *arr = reply;
    if (!arr || arr->type != REDIS_REPLY_ARRAY)
        return 0;
    int n = 0;
    for (size_t i = 0; i < arr->elements; i++) {
        const redisReply *e = arr->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 1 ||
            e->element[0]->type != REDIS_REPLY_STRING || e->element[0]->len >= BUS_MAX_ID)
            continue;
        struct bus_entry be = {sensor, {0}, NULL, 0};
        memcpy(be.id, e->element[0]->str, e->element[0]->len);
        if (e->elements >= 2 && e->element[1]->type == REDIS_REPLY_ARRAY) {
            const redisReply *kv = e->element[1];
            for (size_t j = 0; j + 1 < kv->elements; j += 2)
                if (kv->element[j]->type == REDIS_REPLY_STRING && kv->element[j]->len == 1 &&
                    kv->element[j]->str[0] == 'f' &&
                    kv->element[j + 1]->type == REDIS_REPLY_STRING) {
                    be.frame = (const uint8_t *)kv->element[j + 1]->str;
                    be.n = kv->element[j + 1]->len;
                }
        }
        if (last)
            memcpy(last, be.id, BUS_MAX_ID);
        fn(ctx, &be);
        n++;
    }
    return n;
}

int bus_reply_streams(const void *reply, const char *const *keys, const char *const *ids,
                      int nids, bus_entry_fn fn, void *ctx)
{
    const redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return 0;
    int n = 0;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *s = r->element[i];
        if (!s || s->type != REDIS_REPLY_ARRAY || s->elements != 2 || !s->element[0] ||
            s->element[0]->type != REDIS_REPLY_STRING || !s->element[0]->str)
            continue;
        const char *sid = NULL;
        for (int j = 0; j < nids && !sid; j++)
            if (strlen(keys[j]) == s->element[0]->len &&
                !memcmp(keys[j], s->element[0]->str, s->element[0]->len))
                sid = ids[j];
        if (sid)
            n += bus_reply_entries(s->element[1], sid, NULL, fn, ctx);
    }
    return n;
}

/* A NOGROUP answer: Redis lost the stream (restarted without its data). */
static int nogroup(struct bus_sub *b, const redisReply *r)
{
    if (r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOGROUP", 7)) {
        b->ngrouped = 0;
        for (int i = 0; i < SUB_MAX_SENSORS && b->grouped[i]; i++) {
            free(b->grouped[i]);
            b->grouped[i] = NULL;
        }
        return 1;
    }
    return 0;
}

int bus_sub_pending(struct bus_sub *b, const char *id, char after[BUS_MAX_ID],
                    uint64_t claim_idle_ms, int count, bus_entry_fn fn, void *ctx)
{
    if (ensure_group(b, id) < 0)
        return -1;
    char k[320], cnt[16];
    stream_key(b, id, k, sizeof(k));
    snprintf(cnt, sizeof(cnt), "%d", count);
    const char *argv[] = {"XREADGROUP", "GROUP", b->group, b->consumer, "COUNT", cnt,
                          "STREAMS",    k,       after};
    redisReply *r = sub_cmd(b, 9, argv, NULL);
    if (!r)
        return -1;
    int n = 0;
    if (nogroup(b, r)) {
        freeReplyObject(r);
        return 0;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
        r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2)
        n = bus_reply_entries(r->element[0]->element[1], id, after, fn, ctx);
    freeReplyObject(r);
    if (n > 0)
        return n;
    /* then what others left pending */
    char idle[24];
    snprintf(idle, sizeof(idle), "%llu", (unsigned long long)claim_idle_ms);
    const char *cl[] = {"XAUTOCLAIM", k, b->group, b->consumer, idle, "0-0", "COUNT", cnt};
    r = sub_cmd(b, 8, cl, NULL);
    if (!r)
        return -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2)
        n = bus_reply_entries(r->element[1], id, NULL, fn, ctx);
    freeReplyObject(r);
    return n;
}

int bus_sub_read(struct bus_sub *b, const char *const *ids, int nids, int count, int block_ms,
                 bus_entry_fn fn, void *ctx)
{
    if (nids <= 0) {
        sleep_ms(block_ms);
        return 0;
    }
    if (nids > SUB_MAX_SENSORS)
        nids = SUB_MAX_SENSORS;
    for (int i = 0; i < nids; i++)
        if (ensure_group(b, ids[i]) < 0)
            return -1;
    const char **argv = calloc((size_t)(9 + 2 * nids), sizeof(*argv)); /* 9 words, then keys and ids */
    char(*keys)[320] = calloc((size_t)nids, sizeof(*keys));
    if (!argv || !keys) {
        free(argv);
        free(keys);
        return -1;
    }
    char cnt[16], blk[16];
    snprintf(cnt, sizeof(cnt), "%d", count);
    snprintf(blk, sizeof(blk), "%d", block_ms);
    int a = 0;
    argv[a++] = "XREADGROUP";
    argv[a++] = "GROUP";
    argv[a++] = b->group;
    argv[a++] = b->consumer;
    argv[a++] = "COUNT";
    argv[a++] = cnt;
    argv[a++] = "BLOCK";
    argv[a++] = blk;
    argv[a++] = "STREAMS";
    for (int i = 0; i < nids; i++) {
        stream_key(b, ids[i], keys[i], sizeof(keys[i]));
        argv[a++] = keys[i];
    }
    for (int i = 0; i < nids; i++)
        argv[a++] = ">";
    size_t *len = calloc((size_t)a, sizeof(*len));
    redisReply *r = NULL;
    if (len) {
        for (int i = 0; i < a; i++)
            len[i] = strlen(argv[i]);
        r = sub_cmd(b, a, argv, len);
    }
    free(len);
    free(argv);
    int n = 0;
    if (r && !nogroup(b, r)) {
        const char *kp[SUB_MAX_SENSORS];
        for (int i = 0; i < nids; i++)
            kp[i] = keys[i];
        n = bus_reply_streams(r, kp, ids, nids, fn, ctx);
    }
    free(keys);
    if (!r)
        return -1;
    freeReplyObject(r);
    return n;
}

/* Reads the n replies of commands appended: 0 when none is an error and,
 * exec, the last (EXEC's) is the array of a transaction that ran. A broken
 * connection is dropped. */
static int replies_ok(struct bus_sub *b, int n, int exec)
{
    int ok = 1;
    for (int i = 0; i < n; i++) {
        void *rv = NULL;
        if (redisGetReply(b->c, &rv) != REDIS_OK || !rv) {
            sub_broken(b);
            return -1;
        }
        redisReply *r = rv;
        if (r->type == REDIS_REPLY_ERROR || (exec && i == n - 1 && r->type != REDIS_REPLY_ARRAY))
            ok = 0;
        freeReplyObject(r);
    }
    return ok ? 0 : -1;
}

int bus_sub_ack(struct bus_sub *b, const char *id, const char *const *ids, size_t n,
                uint64_t run, uint64_t batch)
{
    if (!n)
        return 0;
    if (sub_conn(b) < 0)
        return -1;
    char k[320], hk[320], val[48];
    stream_key(b, id, k, sizeof(k));
    snprintf(hk, sizeof(hk), "%s:acked:%s", b->u.prefix, b->group);
    snprintf(val, sizeof(val), "%llu:%llu", (unsigned long long)run, (unsigned long long)batch);
    const char **argv = calloc(n + 3, sizeof(*argv));
    size_t *len = calloc(n + 3, sizeof(*len));
    if (!argv || !len) {
        free(argv);
        free(len);
        return -1;
    }
    argv[0] = "XACK";
    argv[1] = k;
    argv[2] = b->group;
    for (size_t i = 0; i < n; i++)
        argv[3 + i] = ids[i];
    for (size_t i = 0; i < n + 3; i++)
        len[i] = strlen(argv[i]);
    const char *multi[] = {"MULTI"}, *exec[] = {"EXEC"};
    const char *hset[] = {"HSET", hk, id, val};
    int cmds = 0, ok = 1;
    if (run) {
        ok = redisAppendCommandArgv(b->c, 1, multi, (size_t[]){5}) == REDIS_OK;
        cmds++;
    }
    ok = ok && redisAppendCommandArgv(b->c, (int)(n + 3), argv, len) == REDIS_OK;
    cmds++;
    if (run) {
        ok = ok && redisAppendCommandArgv(b->c, 4, hset,
                                          (size_t[]){4, strlen(hk), strlen(id), strlen(val)}) ==
                       REDIS_OK &&
             redisAppendCommandArgv(b->c, 1, exec, (size_t[]){4}) == REDIS_OK;
        cmds += 2;
    }
    free(argv);
    free(len);
    if (!ok) {
        sub_broken(b);
        return -1;
    }
    return replies_ok(b, cmds, run != 0);
}

int bus_sub_acked(struct bus_sub *b, const char *id, uint64_t *run, uint64_t *batch)
{
    *run = *batch = 0;
    char hk[320];
    snprintf(hk, sizeof(hk), "%s:acked:%s", b->u.prefix, b->group);
    const char *argv[] = {"HGET", hk, id};
    redisReply *r = sub_cmd(b, 3, argv, NULL);
    if (!r)
        return -1;
    if (r->type == REDIS_REPLY_STRING && r->len < 48) {
        char v[48];
        memcpy(v, r->str, r->len);
        v[r->len] = 0;
        unsigned long long a, c;
        if (sscanf(v, "%llu:%llu", &a, &c) == 2) {
            *run = a;
            *batch = c;
        }
    }
    freeReplyObject(r);
    return 0;
}

int bus_sub_done_keys(struct bus_sub *b, size_t max, void (*fn)(void *ctx, const char *key),
                      void *ctx)
{
    char k[320], from[24];
    snprintf(k, sizeof(k), "%s:done:%s", b->u.prefix, b->group);
    snprintf(from, sizeof(from), "-%zu", max ? max : 1);
    const char *argv[] = {"ZRANGE", k, from, "-1"};
    redisReply *r = sub_cmd(b, 4, argv, NULL);
    if (!r)
        return -1;
    int n = 0;
    if (r->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < r->elements; i++)
            if (r->element[i]->type == REDIS_REPLY_STRING &&
                !memchr(r->element[i]->str, 0, r->element[i]->len)) {
                fn(ctx, r->element[i]->str);
                n++;
            }
    freeReplyObject(r);
    return n;
}

int bus_sub_record(struct bus_sub *b, const char *key, uint64_t ts_s, const char *json,
                   size_t n)
{
    if (sub_conn(b) < 0)
        return -1;
    char vk[320], dk[320], score[24];
    snprintf(vk, sizeof(vk), "%s:verdicts", b->u.prefix);
    snprintf(dk, sizeof(dk), "%s:done:%s", b->u.prefix, b->group);
    snprintf(score, sizeof(score), "%llu", (unsigned long long)ts_s);
    const char *multi[] = {"MULTI"};
    const char *xadd[] = {"XADD", vk, "MAXLEN", "~", "100000", "*", "k", key, "j", json};
    size_t xl[10];
    for (int i = 0; i < 9; i++)
        xl[i] = strlen(xadd[i]);
    xl[9] = n;
    const char *zadd[] = {"ZADD", dk, score, key};
    const char *exec[] = {"EXEC"};
    int ok = redisAppendCommandArgv(b->c, 1, multi, (size_t[]){5}) == REDIS_OK &&
             redisAppendCommandArgv(b->c, 10, xadd, xl) == REDIS_OK &&
             redisAppendCommandArgv(b->c, 4, zadd,
                                    (size_t[]){4, strlen(dk), strlen(score), strlen(key)}) ==
                 REDIS_OK &&
             redisAppendCommandArgv(b->c, 1, exec, (size_t[]){4}) == REDIS_OK;
    if (!ok || replies_ok(b, 4, 1) < 0) {
        sub_broken(b); /* reconnect for the next one */
        return -1;
    }
    return 0;
}
