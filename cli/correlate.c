/* correlate.c -- sensors' frames in, one ordered event stream out
 * (correlate.h has the contract and the restart design). */
#include "cli/correlate.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capture/str.h"
#include "cli/common.h"
#include "cli/net/bus.h"
#include "cli/out/map.h"
#include "parsers/evwire.h"
#include "rca/merge.h"

#define MAX_ENTRIES 65536      /* unacknowledged entries per sensor */
#define DONE_BITS 18           /* verdict keys kept: 2 x 2^17 */
#define READ_COUNT 32 /* entries per read: a frame is up to 256 KiB, and
                         hiredis holds a whole reply in memory */
#define SENSOR_COUNTERS EVWIRE_MAX_COUNTERS

struct entry {
    char id[BUS_MAX_ID];
    uint64_t run, batch; /* of its frame (0: none)*/
    uint64_t cum;      /* events and ticks pushed once it was read */
    uint64_t last_raw; /* its newest packet time (the sensor's clock) */
};

struct csensor {
    int m; /* merge index */
    char id[EVWIRE_MAX_SENSOR + 1];
    int has_batch;
    uint64_t run, last_batch;
    uint64_t acked_run, acked_batch; /* the last frame acknowledged (bus) */
    uint64_t pushed, last_raw;
    struct entry *ents;
    size_t eh, en;
    uint64_t last_wall_ms;
    int ended, pending_done;
    char after[BUS_MAX_ID];
    uint64_t frames, events, bad_frames, dup_batches, lost_batches, trimmed;
    uint64_t silences;
    size_t ncounters;
    char cname[SENSOR_COUNTERS][48];
    uint64_t cvalue[SENSOR_COUNTERS];
    FILE *file; /* --from-stream */
    const char *path;
};

/* verdict keys already out: two generations of 64-bit hashes */
struct keyset {
    uint64_t *gen[2];
    size_t n[2];
};

struct corr {
    struct corr_cfg cfg;
    struct stats *st;
    const struct rca *rca;
    struct merge *m;
    struct bus_sub *bus;
    struct csensor *s[MERGE_MAX_SENSORS];
    int ns;
    const struct corr_hooks *h;
    uint64_t clock;
    struct keyset done;
    uint64_t *c_frames, *c_bad, *c_dup_batches, *c_lost_batches, *c_trimmed, *c_suppressed,
        *c_record_failed, *c_acked, *c_silent, *c_bus_errors;
    uint64_t *c_err[EVWIRE_E_COUNT];
    uint64_t next_sensors_ms, next_ack_ms;
    int ended;
    FILE *in[CORR_MAX_FILES]; /* --from-stream, opened before privileges go */
    struct mem_pool events;   /* decoded events: queued, and held by chains */
};

void corr_defaults(struct corr_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->group = "osrca";
    cfg->consumer = "correlator";
    cfg->max_skew_s = 2;
    cfg->replay_window_s = 120;
    cfg->sensor_timeout_s = 10;
    cfg->claim_idle_s = 30;
    cfg->max_queued = 50000;
    cfg->event_memcap = 256u << 20;
}

static uint64_t wall_ms(void)
{
    return common_mono_ns() / 1000000u;
}

/* ---- the key set ---- */

static uint64_t key_hash(const char *k)
{
    uint64_t h = str_fnv(STR_FNV_BASIS, k, strlen(k));
    return h ? h : 1; /* 0 marks an empty slot */
}

static int set_has(const uint64_t *g, uint64_t h)
{
    if (!g)
        return 0;
    size_t mask = ((size_t)1 << DONE_BITS) - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        if (!g[i])
            return 0;
        if (g[i] == h)
            return 1;
    }
}

static int keyset_has(const struct keyset *k, uint64_t h)
{
    return set_has(k->gen[0], h) || set_has(k->gen[1], h);
}

/* Adds h; when the current generation is half full the older one goes. */
static void keyset_add(struct keyset *k, uint64_t h)
{
    size_t size = (size_t)1 << DONE_BITS;
    if (!k->gen[0] || k->n[0] >= size / 2) {
        free(k->gen[1]);
        k->gen[1] = k->gen[0];
        k->n[1] = k->n[0];
        k->gen[0] = calloc(size, sizeof(uint64_t));
        k->n[0] = 0;
        if (!k->gen[0])
            return;
    }
    size_t mask = size - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        if (k->gen[0][i] == h)
            return;
        if (!k->gen[0][i]) {
            k->gen[0][i] = h;
            k->n[0]++;
            return;
        }
    }
}

static void done_key_cb(void *ctx, const char *key)
{
    keyset_add(ctx, key_hash(key));
}

/* ---- merge output ---- */

static void on_merged(void *ctx, struct event *ev, int sensor)
{
    struct corr *c = ctx;
    (void)sensor;
    c->h->event(c->h->ctx, ev);
}

static void on_tick(void *ctx, uint64_t now)
{
    struct corr *c = ctx;
    if (now > c->clock)
        c->clock = now;
    c->h->tick(c->h->ctx, now);
}

struct corr *corr_new(const struct corr_cfg *cfg, struct stats *st, const struct rca *rca,
                      char *err, size_t errlen)
{
    struct corr *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->cfg = *cfg;
    c->st = st;
    c->rca = rca;
    mem_pool_init(&c->events, "events", cfg->event_memcap);
    struct merge_cfg mc;
    merge_defaults(&mc);
    mc.max_skew_us = (uint64_t)(cfg->max_skew_s * 1e6);
    if (cfg->max_queued)
        mc.max_queued = cfg->max_queued;
    c->m = merge_new(&mc, st, on_merged, on_tick, c);
    if (!c->m) {
        snprintf(err, errlen, "out of memory");
        corr_free(c);
        return NULL;
    }
    c->c_frames = stats_counter(st, "correlate.frames");
    c->c_bad = stats_counter(st, "correlate.bad_frames");
    c->c_dup_batches = stats_counter(st, "correlate.batches_again");
    c->c_lost_batches = stats_counter(st, "correlate.batches_lost");
    c->c_trimmed = stats_counter(st, "correlate.entries_trimmed");
    c->c_suppressed = stats_counter(st, "correlate.verdicts_already_out");
    c->c_record_failed = stats_counter(st, "correlate.verdicts_not_recorded");
    c->c_acked = stats_counter(st, "correlate.entries_acked");
    c->c_silent = stats_counter(st, "correlate.sensor_silences");
    c->c_bus_errors = stats_counter(st, "correlate.bus_errors");
    for (int i = 1; i < EVWIRE_E_COUNT; i++) {
        char name[64];
        snprintf(name, sizeof(name), "evwire.%s", evwire_err_name((enum evwire_err)i));
        c->c_err[i] = stats_counter(st, name);
    }
    for (int i = 0; i < cfg->nfiles && i < CORR_MAX_FILES; i++) {
        c->in[i] = strcmp(cfg->files[i], "-") ? fopen(cfg->files[i], "rb") : stdin;
        if (!c->in[i]) {
            snprintf(err, errlen, "%s: %s", cfg->files[i], strerror(errno));
            corr_free(c);
            return NULL;
        }
    }
    if (cfg->bus) {
        c->bus = bus_sub_new(cfg->bus, cfg->group, cfg->consumer, 30000, err, errlen);
        if (!c->bus) {
            corr_free(c);
            return NULL;
        }
        int n = bus_sub_done_keys(c->bus, (size_t)1 << (DONE_BITS - 1), done_key_cb, &c->done);
        if (n > 0)
            fprintf(stderr, "osrca correlate: %d verdicts already out (group %s)\n", n,
                    cfg->group);
    }
    return c;
}

void corr_free(struct corr *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->ns; i++) {
        if (c->s[i]->file)
            fclose(c->s[i]->file);
        free(c->s[i]->ents);
        free(c->s[i]);
    }
    for (int i = 0; i < CORR_MAX_FILES; i++)
        if (c->in[i] && c->in[i] != stdin)
            fclose(c->in[i]);
    merge_free(c->m);
    bus_sub_free(c->bus);
    free(c->done.gen[0]);
    free(c->done.gen[1]);
    free(c);
}

/* The sensor named id (new ones registered in the merge). */
static struct csensor *sensor_get(struct corr *c, const char *id)
{
    for (int i = 0; i < c->ns; i++)
        if (!strcmp(c->s[i]->id, id))
            return c->s[i];
    if (c->ns == MERGE_MAX_SENSORS)
        return NULL;
    int m = merge_sensor(c->m, id);
    if (m < 0)
        return NULL;
    struct csensor *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->ents = c->bus ? calloc(MAX_ENTRIES, sizeof(*s->ents)) : NULL;
    if (c->bus && !s->ents) {
        free(s);
        return NULL;
    }
    s->m = m;
    snprintf(s->id, sizeof(s->id), "%s", id);
    if (c->bus && bus_sub_acked(c->bus, id, &s->acked_run, &s->acked_batch) < 0)
        (*c->c_bus_errors)++;
    snprintf(s->after, sizeof(s->after), "0");
    s->last_wall_ms = wall_ms();
    c->s[c->ns++] = s;
    return s;
}

static void keep_counters(struct csensor *s, const struct evwire_rec_out *o)
{
    for (size_t i = 0; i < o->ncounters; i++) {
        char name[48];
        size_t n = o->counters[i].name_len < sizeof(name) - 1 ? o->counters[i].name_len
                                                               : sizeof(name) - 1;
        memcpy(name, o->counters[i].name, n);
        name[n] = 0;
        for (size_t j = 0; j < n; j++) /* Prometheus label values: keep them plain */
            if (!((name[j] >= 'a' && name[j] <= 'z') || (name[j] >= '0' && name[j] <= '9') ||
                  name[j] == '_' || name[j] == '.'))
                name[j] = '_';
        size_t k = 0;
        while (k < s->ncounters && strcmp(s->cname[k], name))
            k++;
        if (k == s->ncounters) {
            if (k == SENSOR_COUNTERS)
                continue;
            memcpy(s->cname[k], name, n + 1);
            s->ncounters++;
        }
        s->cvalue[k] = o->counters[i].value;
    }
}

/* One frame of sensor known (the stream's; NULL for a file: the frame
 * names it). Returns the sensor it belonged to (NULL: refused); *run and
 * *batch are the frame's (0 when its header is refused). */
static struct csensor *handle_frame(struct corr *c, struct csensor *known, const uint8_t *p,
                                    size_t n, uint64_t *run, uint64_t *batch)
{
    *run = *batch = 0;
    struct evwire_reader r;
    enum evwire_err e = evwire_open(&r, p, n);
    (*c->c_frames)++;
    if (e != EVWIRE_OK) {
        (*c->c_bad)++;
        (*c->c_err[e])++;
        stats_diag(c->st, "correlate.bad_frames", c->clock, "frame of %zu bytes from %s: %s", n,
                   known ? known->id : "?", evwire_err_name(e));
        return known;
    }
    struct csensor *s = known ? known : sensor_get(c, r.sensor);
    if (!s)
        return NULL;
    s->frames++;
    s->last_wall_ms = wall_ms();
    if (merge_is_silent(c->m, s->m)) {
        merge_set_silent(c->m, s->m, 0);
        fprintf(stderr, "osrca correlate: sensor %s speaks again\n", s->id);
    }
    *run = r.run;
    *batch = r.batch;
    uint64_t base = s->last_batch;
    if (!s->has_batch || r.run > s->run) {
        /* a sensor's first frame here, or its restart: what came before in
         * this run was acknowledged up to acked_batch (0: nothing) */
        base = s->acked_run == r.run ? s->acked_batch : 0;
        s->run = r.run;
        s->has_batch = 1;
        s->last_batch = base;
    }
    if (r.run < s->run) {
        base = r.batch - 1; /* an earlier run's frame, late: taken as it is */
    } else if (r.batch <= base) {
        s->dup_batches++;
        (*c->c_dup_batches)++; /* sent again after a lost reply, or replayed */
        return s;
    }
    if (r.batch > base + 1) {
        uint64_t lost = r.batch - base - 1;
        s->lost_batches += lost;
        (*c->c_lost_batches) += lost;
        stats_diag(c->st, "correlate.batches_lost", c->clock,
                   "coverage gap: %" PRIu64 " batch(es) of sensor %s never arrived (trimmed "
                   "or dropped)",
                   lost, s->id);
    }
    if (r.run == s->run)
        s->last_batch = r.batch;
    struct evwire_rec_out o;
    int rc;
    while ((rc = evwire_next(&r, &c->events, &o, &e)) != 0) {
        if (rc < 0) {
            (*c->c_bad)++;
            (*c->c_err[e])++;
            stats_diag(c->st, "correlate.bad_records", c->clock, "record from %s: %s", s->id,
                       evwire_err_name(e));
            continue;
        }
        switch (o.type) {
        case EVWIRE_EVENT:
            s->events++;
            s->pushed++;
            if (o.ev->ts_us > s->last_raw)
                s->last_raw = o.ev->ts_us;
            merge_push(c->m, s->m, o.ev);
            break;
        case EVWIRE_MARK:
            s->pushed++;
            if (o.clock_us > s->last_raw)
                s->last_raw = o.clock_us;
            merge_tick(c->m, s->m, o.clock_us);
            keep_counters(s, &o);
            break;
        case EVWIRE_END:
            merge_mark(c->m, s->m, o.clock_us);
            keep_counters(s, &o);
            if (!s->ended) {
                s->ended = 1;
                c->ended++;
                merge_end(c->m, s->m);
            }
            break;
        }
    }
    return s;
}

/* Hands on what the merge can release. The analysis is ticked only by
 * the sensors' own ticks (MARK records, in order with the events), never
 * at the merged clock: a tick between two of a sensor's ticks could
 * decide a chain before an event the sensor's own analysis would have
 * given it (and sensors tick while idle too). */
static void release(struct corr *c)
{
    uint64_t clock = merge_release(c->m);
    if (clock > c->clock)
        c->clock = clock;
}

/* ---- stream files ---- */

/* A stream file: frames, each after its length (4 bytes, big endian). */
static int read_frame(FILE *f, uint8_t **buf, size_t *cap, size_t *n)
{
    uint8_t l[4];
    size_t got = fread(l, 1, 4, f);
    if (got == 0)
        return 0;
    if (got < 4)
        return -1;
    uint32_t len = (uint32_t)l[0] << 24 | (uint32_t)l[1] << 16 | (uint32_t)l[2] << 8 | l[3];
    if (len > EVWIRE_MAX_FRAME)
        return -1;
    if (len > *cap) {
        uint8_t *nb = realloc(*buf, len);
        if (!nb)
            return -1;
        *buf = nb;
        *cap = len;
    }
    if (fread(*buf, 1, len, f) != len)
        return -1;
    *n = len;
    return 1;
}

/* Stream files (opened by corr_new) to their end, or *stop; then
 * everything held is released. A damaged frame ends its file (counted). */
static void run_files(struct corr *c)
{
    struct {
        FILE *f;
        struct csensor *s;
        int eof;
    } in[CORR_MAX_FILES];
    int nin = c->cfg.nfiles;
    for (int i = 0; i < nin; i++) {
        in[i].f = c->in[i];
        in[i].s = NULL;
        in[i].eof = 0;
    }
    uint8_t *buf = NULL;
    size_t cap = 0;
    int left = nin;
    while (left > 0 && !(c->h->stop && *c->h->stop)) {
        for (int i = 0; i < nin; i++) {
            if (in[i].eof)
                continue;
            /* one frame per file and round, while its sensor has room */
            if (in[i].s && merge_room(c->m, in[i].s->m) < 4096)
                continue;
            size_t n = 0;
            int r = read_frame(in[i].f, &buf, &cap, &n);
            if (r <= 0) {
                if (r < 0) {
                    (*c->c_bad)++;
                    stats_diag(c->st, "correlate.bad_frames", c->clock,
                               "%s: truncated or oversized frame: the rest is skipped",
                               c->cfg.files[i]);
                }
                in[i].eof = 1;
                left--;
                if (in[i].s && !in[i].s->ended) { /* no END: the file was cut */
                    in[i].s->ended = 1;
                    c->ended++;
                    merge_end(c->m, in[i].s->m);
                }
                continue;
            }
            uint64_t run, batch;
            struct csensor *s = handle_frame(c, in[i].s, buf, n, &run, &batch);
            if (!in[i].s && s)
                in[i].s = s;
        }
        release(c);
        if (c->h->timers)
            c->h->timers(c->h->ctx);
    }
    free(buf);
    merge_flush(c->m);
}

/* ---- the bus ---- */

static void on_entry(void *ctx, const struct bus_entry *e)
{
    struct corr *c = ctx;
    struct csensor *s = sensor_get(c, e->sensor);
    if (!s)
        return;
    uint64_t run = 0, batch = 0;
    if (!e->frame) {
        s->trimmed++;
        (*c->c_trimmed)++; /* pending, but trimmed away: acknowledged below */
    } else {
        handle_frame(c, s, e->frame, e->n, &run, &batch);
    }
    if (s->en == MAX_ENTRIES) { /* never: reading stops at MAX_ENTRIES - READ_COUNT */
        s->eh = (s->eh + 1) % MAX_ENTRIES;
        s->en--;
    }
    struct entry *x = &s->ents[(s->eh + s->en) % MAX_ENTRIES];
    memcpy(x->id, e->id, BUS_MAX_ID);
    x->run = run;
    x->batch = batch;
    x->cum = s->pushed;
    x->last_raw = s->last_raw;
    s->en++;
}

/* Acknowledge what no verdict to come depends on. */
static void ack(struct corr *c)
{
    uint64_t window = (uint64_t)(c->cfg.replay_window_s * 1e6);
    uint64_t safe = c->clock > window ? c->clock - window : 0;
    uint64_t oldest = rca_oldest_open_us(c->rca);
    if (oldest < safe)
        safe = oldest;
    const char *ids[512];
    for (int i = 0; i < c->ns; i++) {
        struct csensor *s = c->s[i];
        int64_t off = merge_offset(c->m, s->m);
        uint64_t done = merge_done(c->m, s->m);
        size_t k = 0;
        uint64_t run = 0, batch = 0;
        while (s->en > 0 && k < 512) {
            struct entry *x = &s->ents[s->eh];
            uint64_t t = (uint64_t)((int64_t)x->last_raw - off);
            if (x->cum > done || t >= safe)
                break;
            ids[k++] = x->id;
            if (x->run && (x->run > run || (x->run == run && x->batch > batch))) {
                run = x->run;
                batch = x->batch;
            }
            s->eh = (s->eh + 1) % MAX_ENTRIES;
            s->en--;
        }
        /* the frame acknowledged last goes with them: a restart knows that
         * the batches before it are not lost */
        if (k && bus_sub_ack(c->bus, s->id, ids, k, run, batch) == 0)
            (*c->c_acked) += k;
        else if (k)
            (*c->c_bus_errors)++; /* left pending: a restart reads them again */
    }
}

static void check_silence(struct corr *c, uint64_t now)
{
    uint64_t limit = (uint64_t)(c->cfg.sensor_timeout_s * 1000);
    for (int i = 0; i < c->ns; i++) {
        struct csensor *s = c->s[i];
        if (s->ended || merge_is_silent(c->m, s->m) || now - s->last_wall_ms < limit)
            continue;
        merge_set_silent(c->m, s->m, 1);
        s->silences++;
        (*c->c_silent)++;
        stats_diag(c->st, "correlate.sensor_silences", c->clock,
                   "coverage gap: sensor %s silent for %.0f s: its host's traffic is not "
                   "seen from here on (not a fault of the cloud)",
                   s->id, (double)(now - s->last_wall_ms) / 1000);
        fprintf(stderr,
                "osrca correlate: coverage gap: sensor %s silent for %.0f s (not a fault of "
                "the cloud)\n",
                s->id, (double)(now - s->last_wall_ms) / 1000);
    }
}

static int run_bus(struct corr *c)
{
    int warned = 0;
    while (!(c->h->stop && *c->h->stop)) {
        uint64_t now = wall_ms();
        if (now >= c->next_sensors_ms) {
            const char *ids[MERGE_MAX_SENSORS];
            int n = bus_sub_sensors(c->bus, ids, MERGE_MAX_SENSORS);
            if (n < 0) {
                (*c->c_bus_errors)++;
                if (!warned++)
                    fprintf(stderr, "osrca correlate: %s (retrying)\n", bus_sub_error(c->bus));
            } else {
                if (warned)
                    fprintf(stderr, "osrca correlate: bus back\n");
                warned = 0;
                for (int i = 0; i < n; i++)
                    sensor_get(c, ids[i]);
            }
            c->next_sensors_ms = now + 1000;
        }
        /* first what was read before and not finished (a restart) */
        int busy = 0;
        for (int i = 0; i < c->ns; i++) {
            struct csensor *s = c->s[i];
            if (s->pending_done || s->en > MAX_ENTRIES - READ_COUNT ||
                merge_room(c->m, s->m) < READ_COUNT * 1024)
                continue;
            int n = bus_sub_pending(c->bus, s->id, s->after,
                                    (uint64_t)(c->cfg.claim_idle_s * 1000), READ_COUNT,
                                    on_entry, c);
            if (n == 0)
                s->pending_done = 1;
            else if (n > 0)
                busy = 1;
        }
        const char *ids[MERGE_MAX_SENSORS];
        int k = 0;
        for (int i = 0; i < c->ns; i++) {
            struct csensor *s = c->s[i];
            if (s->pending_done && s->en <= MAX_ENTRIES - READ_COUNT &&
                merge_room(c->m, s->m) >= READ_COUNT * 1024)
                ids[k++] = s->id;
        }
        if (!busy) {
            int n = bus_sub_read(c->bus, ids, k, READ_COUNT, 100, on_entry, c);
            if (n < 0) {
                (*c->c_bus_errors)++;
                if (!warned++)
                    fprintf(stderr, "osrca correlate: %s (retrying)\n", bus_sub_error(c->bus));
                struct timespec ts = {0, 200000000L};
                nanosleep(&ts, NULL);
            }
        }
        now = wall_ms();
        check_silence(c, now);
        release(c);
        if (now >= c->next_ack_ms) {
            ack(c);
            c->next_ack_ms = now + 1000;
        }
        if (c->h->timers)
            c->h->timers(c->h->ctx);
        if (c->cfg.until_ended && c->ended >= c->cfg.until_ended) {
            merge_flush(c->m);
            return 1;
        }
    }
    return 0;
}

int corr_run(struct corr *c, const struct corr_hooks *h)
{
    c->h = h;
    if (c->bus)
        return run_bus(c) ? 0 : 1;
    run_files(c);
    return 0;
}

const struct mem_pool *corr_event_pool(const struct corr *c)
{
    return &c->events;
}

uint64_t corr_clock(const struct corr *c)
{
    return c->clock;
}

void corr_finish(struct corr *c)
{
    if (!c->bus)
        return;
    c->clock = UINT64_MAX / 2; /* every entry released now is done */
    ack(c);
}

/* The verdict's identity across a restart: its request id when it has
 * one (unique per operation), else what it is and when it began (to the
 * microsecond: refused connections a second apart are verdicts each). */
static void verdict_key(const struct report *r, char *k, size_t n)
{
    const char *rid = r->request_id ? r->request_id : r->global_request_id;
    /* a refusal's verdict is given again for each client session that met
     * it (the same report): the session tells them apart */
    int w = snprintf(k, n, "%s|%s|%s|%s|%s", r->slow ? "slow" : "failed", rid ? rid : "-",
                     r->operation ? r->operation : "-",
                     r->session.client ? r->session.client : "-",
                     r->session.login_request_id ? r->session.login_request_id : "-");
    if (!rid && w > 0 && (size_t)w < n)
        snprintf(k + w, n - (size_t)w, "|%" PRIu64, r->start_ts_us);
}

int corr_verdict(struct corr *c, const struct report *r, const char *json, size_t n)
{
    char k[512];
    verdict_key(r, k, sizeof(k));
    uint64_t h = key_hash(k);
    if (keyset_has(&c->done, h)) {
        (*c->c_suppressed)++;
        return 0;
    }
    keyset_add(&c->done, h);
    if (c->bus && bus_sub_record(c->bus, k, r->end_ts_us / 1000000u, json ? json : "{}",
                                 json ? n : 2) < 0) {
        (*c->c_record_failed)++;
        stats_diag(c->st, "correlate.verdicts_not_recorded", c->clock,
                   "verdict %s not recorded on the bus (%s): a restart may give it again", k,
                   bus_sub_error(c->bus));
    }
    return 1;
}

/* One value of a sensor for /metrics. */
static double metric_value(const struct corr *c, const struct csensor *s, int which)
{
    switch (which) {
    case 0: return (double)s->events;
    case 1: return (double)merge_watermark(c->m, s->m) / 1e6;
    case 2: return (double)merge_offset(c->m, s->m) / 1e6;
    case 3: return s->ended ? -1 : merge_is_silent(c->m, s->m) ? 0 : 1;
    default: return (double)s->lost_batches;
    }
}

void corr_metrics(const struct corr *c, FILE *f)
{
    static const struct {
        const char *name, *type, *help;
    } m[] = {
        {"osrca_sensor_events_total", "counter", "Events received from each sensor."},
        {"osrca_sensor_clock_seconds", "gauge", "Each sensor's packet clock as it last said."},
        {"osrca_sensor_clock_offset_seconds", "gauge",
         "Each sensor's clock minus the median clock, as learned from shared messages."},
        {"osrca_sensor_up", "gauge", "1 while a sensor speaks, 0 silent (a coverage gap), -1 ended."},
        {"osrca_sensor_batches_lost_total", "counter", "Batches of a sensor that never arrived."},
    };
    for (int k = 0; k < (int)(sizeof(m) / sizeof(m[0])); k++) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", m[k].name, m[k].help, m[k].name, m[k].type);
        for (int i = 0; i < c->ns; i++) {
            fprintf(f, "%s{sensor=\"", m[k].name);
            out_prom_label(f, c->s[i]->id);
            fprintf(f, k == 1 || k == 2 ? "\"} %.6f\n" : "\"} %.0f\n", metric_value(c, c->s[i], k));
        }
    }
    fputs("# HELP osrca_sensor_reported What each sensor reports of itself (packets, drops, "
          "reconnects).\n# TYPE osrca_sensor_reported gauge\n",
          f);
    for (int i = 0; i < c->ns; i++)
        for (size_t k = 0; k < c->s[i]->ncounters; k++) {
            fputs("osrca_sensor_reported{sensor=\"", f);
            out_prom_label(f, c->s[i]->id);
            fprintf(f, "\",name=\"%s\"} %" PRIu64 "\n", c->s[i]->cname[k], c->s[i]->cvalue[k]);
        }
}

void corr_summary(const struct corr *c, FILE *f)
{
    for (int i = 0; i < c->ns; i++) {
        const struct csensor *s = c->s[i];
        fprintf(f,
                "osrca correlate: sensor %s: %" PRIu64 " frames, %" PRIu64 " events, clock "
                "offset %+.6f s, %" PRIu64 " batches again, %" PRIu64 " lost, %" PRIu64
                " trimmed, %s",
                s->id, s->frames, s->events, (double)merge_offset(c->m, s->m) / 1e6,
                s->dup_batches, s->lost_batches, s->trimmed,
                s->ended ? "ended" : merge_is_silent(c->m, s->m) ? "silent" : "speaking");
        for (size_t k = 0; k < s->ncounters; k++)
            fprintf(f, " %s=%" PRIu64, s->cname[k], s->cvalue[k]);
        fputc('\n', f);
    }
}
