/* merge.c -- ordering, clock offsets and doubles of many sensors' events
 * (merge.h has the contract). */
#include "rca/merge.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/str.h"

#define OWN_SIZE (1u << 16)    /* connections owned (recent) */
#define RECENT_SIZE (1u << 14) /* messages awaiting their second copy */
#define PROBE 8
#define SEQMAP_SIZE (1u << 16) /* a sensor's recent requests: its seq -> merged */
#define PAIR_SAMPLES 31
#define MAX_PAIRS 4096
#define OFFSET_MIN_US 1000 /* smaller offsets are the wire's delay */

struct own {
    uint64_t key;
    uint64_t last; /* corrected time of the owner's last event on it */
    int owner;
};

struct recent {
    uint64_t key;
    uint64_t raw; /* the first copy's packet time, its sensor's clock */
    int s;
};

struct pair {
    int a, b; /* a < b: samples are b's time minus a's */
    int64_t d[PAIR_SAMPLES];
    uint32_t n;
};

struct seqmap {
    uint64_t sseq, mseq;
};

struct sensor {
    char id[65];
    struct event **q; /* ring of max_queued */
    size_t head, n;
    uint64_t wm;
    int has_wm, ended, silent;
    int64_t off;
    uint64_t done;
    struct seqmap *seqs; /* SEQMAP_SIZE, on first request */
};

struct merge {
    struct merge_cfg cfg;
    merge_event_fn fn;
    merge_tick_fn tick;
    void *ctx;
    struct sensor *s[MERGE_MAX_SENSORS];
    int ns;
    struct own *own;
    struct recent *recent;
    struct pair *pairs;
    size_t npairs;
    uint64_t nsamples;
    uint64_t seq;     /* merged */
    uint64_t last_ts; /* released */
    int flushing;
    struct stats *st;
    uint64_t dummy; /* the counters' target without stats */
    uint64_t *c_in, *c_out, *c_doubles, *c_late, *c_samples, *c_own_evicted, *c_skew_wide,
        *c_unknown_req;
};

void merge_defaults(struct merge_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_skew_us = 2000000;
    cfg->own_idle_us = 10000000;
    cfg->max_queued = 100000;
}

static uint64_t *counter(struct merge *m, const char *name)
{
    uint64_t *c = m->st ? stats_counter(m->st, name) : NULL;
    return c ? c : &m->dummy;
}

struct merge *merge_new(const struct merge_cfg *cfg, struct stats *st, merge_event_fn fn,
                        merge_tick_fn tick, void *ctx)
{
    struct merge *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->cfg = *cfg;
    if (m->cfg.max_queued == 0)
        m->cfg.max_queued = 1;
    m->fn = fn;
    m->tick = tick;
    m->ctx = ctx;
    m->st = st;
    m->own = calloc(OWN_SIZE, sizeof(*m->own));
    m->recent = calloc(RECENT_SIZE, sizeof(*m->recent));
    m->pairs = calloc(MAX_PAIRS, sizeof(*m->pairs));
    if (!m->own || !m->recent || !m->pairs) {
        merge_free(m);
        return NULL;
    }
    m->c_in = counter(m, "merge.events_in");
    m->c_out = counter(m, "merge.events_out");
    m->c_doubles = counter(m, "merge.doubles_dropped");
    m->c_late = counter(m, "merge.late_events");
    m->c_samples = counter(m, "merge.offset_samples");
    m->c_own_evicted = counter(m, "merge.owners_evicted");
    m->c_skew_wide = counter(m, "merge.offset_over_max_skew");
    m->c_unknown_req = counter(m, "merge.response_request_unknown");
    return m;
}

void merge_free(struct merge *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->ns; i++) {
        struct sensor *s = m->s[i];
        for (size_t k = 0; k < s->n; k++)
            event_free(s->q[(s->head + k) % m->cfg.max_queued]);
        free(s->q);
        free(s->seqs);
        free(s);
    }
    free(m->own);
    free(m->recent);
    free(m->pairs);
    free(m);
}

int merge_sensor(struct merge *m, const char *id)
{
    for (int i = 0; i < m->ns; i++)
        if (!strcmp(m->s[i]->id, id))
            return i;
    if (m->ns == MERGE_MAX_SENSORS)
        return -1;
    struct sensor *s = calloc(1, sizeof(*s));
    if (!s)
        return -1;
    s->q = calloc(m->cfg.max_queued, sizeof(*s->q));
    if (!s->q) {
        free(s);
        return -1;
    }
    snprintf(s->id, sizeof(s->id), "%s", id);
    m->s[m->ns] = s;
    return m->ns++;
}

const char *merge_sensor_id(const struct merge *m, int s)
{
    return s >= 0 && s < m->ns ? m->s[s]->id : NULL;
}

int merge_nsensors(const struct merge *m)
{
    return m->ns;
}

/* ---- identities ---- */

/* s with its NUL (NULL as ""), so that "ab"+"c" and "a"+"bc" differ */
static uint64_t fnv_str(uint64_t h, const char *s)
{
    return s ? str_fnv(h, s, strlen(s) + 1) : str_fnv(h, "", 1);
}

/* The connection, the same whichever end sent the event. */
static uint64_t conn_key(const struct event *ev)
{
    const struct ev_peer *a = &ev->src, *b = &ev->dst;
    int c = strcmp(a->addr, b->addr);
    if (c > 0 || (c == 0 && a->port > b->port)) {
        const struct ev_peer *t = a;
        a = b;
        b = t;
    }
    uint64_t h = STR_FNV_BASIS;
    h = fnv_str(h, a->addr);
    h = str_fnv(h, &a->port, sizeof(a->port));
    h = fnv_str(h, b->addr);
    h = str_fnv(h, &b->port, sizeof(b->port));
    return h ? h : 1;
}

/* The message, when it names itself: the oslo unique id of an AMQP
 * message, the request id of an HTTP answer. 0: none. */
static uint64_t msg_key(const struct event *ev)
{
    uint64_t h = conn_key(ev);
    uint32_t k = (uint32_t)ev->kind;
    h = str_fnv(h, &k, sizeof(k));
    if (ev->kind == EV_HTTP_RESPONSE && ev->request_id && !(ev->flags & EV_F_NO_ANSWER)) {
        h = fnv_str(h, ev->request_id);
        h = str_fnv(h, &ev->status, sizeof(ev->status));
    } else if (ev->kind != EV_HTTP_REQUEST && ev->kind != EV_HTTP_RESPONSE && ev->unique_id) {
        uint32_t v = (uint32_t)ev->verb;
        h = str_fnv(h, &v, sizeof(v));
        h = fnv_str(h, ev->unique_id);
    } else {
        return 0;
    }
    return h ? h : 1;
}

/* ---- offsets ---- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int64_t pair_median(const struct pair *p)
{
    int64_t v[PAIR_SAMPLES];
    size_t n = p->n < PAIR_SAMPLES ? p->n : PAIR_SAMPLES;
    memcpy(v, p->d, n * sizeof(*v));
    qsort(v, n, sizeof(*v), cmp_i64);
    return v[n / 2];
}

/* Offsets from the pairs' medians: each connected group of sensors takes
 * its first-registered one as the reference. */
static void offsets_recompute(struct merge *m)
{
    int64_t off[MERGE_MAX_SENSORS];
    int known[MERGE_MAX_SENSORS] = {0};
    int queue[MERGE_MAX_SENSORS];
    for (int r = 0; r < m->ns; r++) {
        if (known[r])
            continue;
        known[r] = 1;
        off[r] = 0;
        int qh = 0, qt = 0;
        queue[qt++] = r;
        while (qh < qt) {
            int x = queue[qh++];
            for (size_t i = 0; i < m->npairs; i++) {
                const struct pair *p = &m->pairs[i];
                if (p->n < 3 || (p->a != x && p->b != x))
                    continue;
                int y = p->a == x ? p->b : p->a;
                if (known[y])
                    continue;
                int64_t med = pair_median(p); /* b - a */
                off[y] = p->a == x ? off[x] + med : off[x] - med;
                known[y] = 1;
                queue[qt++] = y;
            }
        }
        /* the group's clock is its median sensor's: most clocks agree, and
         * the odd one out is the one that gets the offset */
        int64_t v[MERGE_MAX_SENSORS];
        for (int i = 0; i < qt; i++)
            v[i] = off[queue[i]];
        qsort(v, (size_t)qt, sizeof(v[0]), cmp_i64);
        int64_t mid = v[(qt - 1) / 2];
        for (int i = 0; i < qt; i++)
            off[queue[i]] -= mid;
    }
    for (int i = 0; i < m->ns; i++) {
        int64_t o = off[i];
        if (o > -OFFSET_MIN_US && o < OFFSET_MIN_US)
            o = 0;
        int64_t was = m->s[i]->off;
        if ((uint64_t)(o < 0 ? -o : o) > m->cfg.max_skew_us &&
            (uint64_t)(was < 0 ? -was : was) <= m->cfg.max_skew_us) {
            (*m->c_skew_wide)++;
            if (m->st)
                stats_diag(m->st, "merge.offset_over_max_skew", m->last_ts,
                           "sensor %s clock %+" PRId64 " us from the reference, beyond the "
                           "stated skew",
                           m->s[i]->id, o);
        }
        m->s[i]->off = o;
    }
}

static void sample(struct merge *m, int a, int b, int64_t d)
{
    if (a > b) {
        int t = a;
        a = b;
        b = t;
        d = -d;
    }
    struct pair *p = NULL;
    for (size_t i = 0; i < m->npairs; i++)
        if (m->pairs[i].a == a && m->pairs[i].b == b) {
            p = &m->pairs[i];
            break;
        }
    if (!p) {
        if (m->npairs == MAX_PAIRS)
            return;
        p = &m->pairs[m->npairs++];
        p->a = a;
        p->b = b;
    }
    p->d[p->n % PAIR_SAMPLES] = d;
    p->n++;
    (*m->c_samples)++;
    m->nsamples++;
    if (p->n <= 9 || m->nsamples % 16 == 0)
        offsets_recompute(m);
}

/* A message of sensor s: when another sensor showed it already, the two
 * times are one offset sample. */
static void learn(struct merge *m, int s, const struct event *ev)
{
    uint64_t k = msg_key(ev);
    if (!k)
        return;
    uint64_t window = 2 * m->cfg.max_skew_us + 1000000;
    struct recent *victim = NULL;
    for (unsigned i = 0; i < PROBE; i++) {
        struct recent *r = &m->recent[(k + i) & (RECENT_SIZE - 1)];
        if (r->key == k) {
            uint64_t gap = ev->ts_us > r->raw ? ev->ts_us - r->raw : r->raw - ev->ts_us;
            if (r->s != s && gap <= window) {
                sample(m, r->s, s, (int64_t)(ev->ts_us - r->raw));
                r->key = 0;
                return;
            }
            victim = r; /* the same sensor again (a retransmission) or stale */
            break;
        }
        if (!r->key) {
            if (!victim)
                victim = r;
            continue;
        }
        if (!victim || (victim->key && r->raw < victim->raw))
            victim = r;
    }
    victim->key = k;
    victim->raw = ev->ts_us;
    victim->s = s;
}

/* ---- input ---- */

void merge_push(struct merge *m, int s, struct event *ev)
{
    if (s < 0 || s >= m->ns) {
        event_free(ev);
        return;
    }
    struct sensor *x = m->s[s];
    int marker = ev->kind == EV_KIND_COUNT;
    if (!marker)
        (*m->c_in)++;
    if (m->ns > 1 && !marker)
        learn(m, s, ev);
    merge_mark(m, s, ev->ts_us);
    if (x->n == m->cfg.max_queued) /* the caller ignored merge_room: make room */
        merge_flush(m);
    x->q[(x->head + x->n) % m->cfg.max_queued] = ev;
    x->n++;
}

void merge_mark(struct merge *m, int s, uint64_t clock_us)
{
    if (s < 0 || s >= m->ns)
        return;
    struct sensor *x = m->s[s];
    if (!x->has_wm || clock_us > x->wm)
        x->wm = clock_us;
    x->has_wm = 1;
}

void merge_tick(struct merge *m, int s, uint64_t clock_us)
{
    if (s < 0 || s >= m->ns)
        return;
    struct event *ev = event_new(NULL);
    if (!ev) {
        merge_mark(m, s, clock_us);
        return;
    }
    ev->kind = EV_KIND_COUNT; /* the marker of a tick */
    ev->ts_us = clock_us;
    merge_push(m, s, ev);
}

void merge_end(struct merge *m, int s)
{
    if (s >= 0 && s < m->ns)
        m->s[s]->ended = 1;
}

void merge_set_silent(struct merge *m, int s, int silent)
{
    if (s >= 0 && s < m->ns)
        m->s[s]->silent = silent;
}

int merge_is_silent(const struct merge *m, int s)
{
    return s >= 0 && s < m->ns && m->s[s]->silent;
}

int merge_is_ended(const struct merge *m, int s)
{
    return s >= 0 && s < m->ns && m->s[s]->ended;
}

/* ---- output ---- */

/* 1 when sensor s may hand on ev: it owns the connection (or takes it). */
static int owns(struct merge *m, int s, const struct event *ev, uint64_t ts)
{
    uint64_t k = conn_key(ev);
    struct own *victim = NULL;
    for (unsigned i = 0; i < PROBE; i++) {
        struct own *o = &m->own[(k + i) & (OWN_SIZE - 1)];
        if (o->key == k) {
            if (o->owner == s || ts > o->last + m->cfg.own_idle_us) {
                o->owner = s;
                o->last = ts;
                return 1;
            }
            return 0;
        }
        if (!o->key || ts > o->last + m->cfg.own_idle_us) {
            if (!victim || victim->key)
                victim = o;
            continue;
        }
        if (!victim || (victim->key && o->last < victim->last))
            victim = o;
    }
    if (victim->key && ts <= victim->last + m->cfg.own_idle_us)
        (*m->c_own_evicted)++;
    victim->key = k;
    victim->owner = s;
    victim->last = ts;
    return 1;
}

static uint64_t shift(uint64_t t, int64_t off)
{
    if (!t || !off)
        return t;
    if (off > 0 && (uint64_t)off > t)
        return 0;
    return (uint64_t)((int64_t)t - off);
}

static void deliver(struct merge *m, int s, struct event *ev)
{
    struct sensor *x = m->s[s];
    x->done++;
    uint64_t ts = shift(ev->ts_us, x->off);
    if (ev->kind == EV_KIND_COUNT) { /* a tick */
        event_free(ev);
        if (ts < m->last_ts)
            ts = m->last_ts;
        m->last_ts = ts;
        if (m->tick)
            m->tick(m->ctx, ts);
        return;
    }
    if (m->ns > 1 && !owns(m, s, ev, ts)) {
        (*m->c_doubles)++;
        event_free(ev);
        return;
    }
    ev->ts_us = ts;
    ev->req_ts_us = shift(ev->req_ts_us, x->off);
    ev->quiet_since_us = shift(ev->quiet_since_us, x->off);
    /* an event older than what went before keeps its time: a sensor's own
     * stream has them too (an answer that never came is told when its
     * connection ends, with the time it was due), and the analysis takes
     * them as the sensor's own pipeline gives them */
    if (ev->ts_us < m->last_ts)
        (*m->c_late)++;
    else
        m->last_ts = ev->ts_us;
    uint64_t mseq = ++m->seq;
    if (ev->req_seq) {
        struct seqmap *e = x->seqs ? &x->seqs[ev->req_seq & (SEQMAP_SIZE - 1)] : NULL;
        if (e && e->sseq == ev->req_seq) {
            ev->req_seq = e->mseq;
        } else {
            (*m->c_unknown_req)++;
            ev->req_seq = 0;
        }
    }
    if (ev->kind == EV_HTTP_REQUEST) {
        if (!x->seqs)
            x->seqs = calloc(SEQMAP_SIZE, sizeof(*x->seqs));
        if (x->seqs) {
            struct seqmap *e = &x->seqs[ev->seq & (SEQMAP_SIZE - 1)];
            e->sseq = ev->seq;
            e->mseq = mseq;
        }
    }
    ev->seq = mseq;
    ev->flow_id = (uint64_t)s << 48 | (ev->flow_id & ((1ull << 48) - 1));
    (*m->c_out)++;
    m->fn(m->ctx, ev, s);
}

static uint64_t head_ts(const struct sensor *x)
{
    return shift(x->q[x->head]->ts_us, x->off);
}

uint64_t merge_release(struct merge *m)
{
    /* the bound: what every sensor still speaking has passed */
    uint64_t bound = UINT64_MAX;
    int active = 0;
    for (int i = 0; i < m->ns; i++) {
        const struct sensor *x = m->s[i];
        if (x->ended || x->silent)
            continue;
        active++;
        uint64_t w = x->has_wm ? shift(x->wm, x->off) : 0;
        if (w < bound)
            bound = w;
    }
    uint64_t hold = m->ns > 1 ? m->cfg.max_skew_us : 0;
    for (;;) {
        int best = -1;
        uint64_t bt = 0;
        for (int i = 0; i < m->ns; i++) {
            const struct sensor *x = m->s[i];
            if (!x->n)
                continue;
            uint64_t t = head_ts(x);
            if (best < 0 || t < bt) {
                best = i;
                bt = t;
            }
        }
        if (best < 0)
            break;
        if (!m->flushing && active && (bound < hold || bt > bound - hold))
            break;
        struct sensor *x = m->s[best];
        struct event *ev = x->q[x->head];
        x->head = (x->head + 1) % m->cfg.max_queued;
        x->n--;
        deliver(m, best, ev);
    }
    if (!active || bound == UINT64_MAX)
        return m->last_ts;
    uint64_t clock = bound >= hold ? bound - hold : 0;
    /* nothing older than a queued head will come: the clock stops there */
    for (int i = 0; i < m->ns; i++)
        if (m->s[i]->n) {
            uint64_t t = head_ts(m->s[i]);
            if (t < clock)
                clock = t;
        }
    return clock > m->last_ts ? clock : m->last_ts;
}

void merge_flush(struct merge *m)
{
    m->flushing++;
    merge_release(m);
    m->flushing--;
}

size_t merge_room(const struct merge *m, int s)
{
    if (s < 0 || s >= m->ns)
        return 0;
    return m->cfg.max_queued - m->s[s]->n;
}

uint64_t merge_done(const struct merge *m, int s)
{
    return s >= 0 && s < m->ns ? m->s[s]->done : 0;
}

int64_t merge_offset(const struct merge *m, int s)
{
    return s >= 0 && s < m->ns ? m->s[s]->off : 0;
}

uint64_t merge_watermark(const struct merge *m, int s)
{
    return s >= 0 && s < m->ns ? m->s[s]->wm : 0;
}
