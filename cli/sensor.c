/* sensor.c -- `osrca sensor`: the capture and parsers of `live`, the
 * analysis elsewhere. Each decoded event (no secret in it: the parsers
 * dropped them) goes into the current batch with the pipeline's ticks as
 * MARK records; a batch becomes a frame (evwire.h) at 1024 records, 256
 * KiB, or 50 ms of wall time, and goes to the bus's worker queue (live:
 * never waits, a full queue drops the frame and counts it; a file: waits)
 * or to a stream file. The fingerprint key of tokens is shared through
 * the bus (P:fpkey) or given with --fp-key-file, so that a correlator can
 * tell a token validation on one host from the request it checks on
 * another. */
#include "cli/sensor.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "capture/source.h"
#include "capture/stats.h"
#include "cli/common.h"
#include "cli/net/bus.h"
#include "cli/pipeline.h"
#include "parsers/evwire.h"
#include "parsers/redact.h"
#include "rca/rules_load.h"

#define BATCH_RECORDS 1024
#define BATCH_BYTES (256u << 10)
#define BATCH_WALL_NS 50000000ull

struct sensor_opts {
    const char *iface, *file, *bpf, *rules, *bus, *out, *id, *fp_key_file;
    size_t maxlen, queue;
    double speed, status_s;
    int drop; /* a file too: never wait for the bus, drop (counted) */
};

struct sensor {
    struct sensor_opts o;
    struct stats *st;
    struct rules *rules;
    struct pipeline *pl;
    struct source *src;
    struct bus_pub *pub;
    FILE *out;
    struct evwire_buf buf;
    uint64_t run, batch; /* run: this sensor's start, wall clock us */
    size_t nrec;
    uint64_t batch_ns;   /* wall time of the batch's first record */
    uint64_t last_ts, clock_us, last_pkt_ns, last_mark_s;
    int seen_packet;
    uint64_t pace_t0_us, pace_w0_ns; /* --speed */
    uint64_t packets, bytes, events, frames, frame_bytes, write_errors;
    uint64_t dropped; /* frames that could not be built (memory); the bus
                         counts its own drops */
    uint64_t next_status_ns;
};

static volatile sig_atomic_t g_stop;
static struct source *volatile g_src;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
    if (g_src)
        source_break(g_src);
}

static void usage(FILE *f)
{
    fputs("usage: osrca sensor (-i IFACE | FILE.pcap) (--bus redis://HOST:PORT/PREFIX | --out "
          "FILE)\n"
          "                    [--id NAME] [--rules DIR] [--bpf EXPR] [--maxlen N] [--queue N]\n"
          "                    [--speed X] [--drop] [--fp-key-file F] [--status S]\n",
          f);
}

static int parse_opts(int argc, char **argv, struct sensor_opts *o)
{
    static const struct option lo[] = {
        {"interface", required_argument, NULL, 'i'},
        {"bus", required_argument, NULL, 'B'},
        {"out", required_argument, NULL, 'o'},
        {"id", required_argument, NULL, 'I'},
        {"rules", required_argument, NULL, 'r'},
        {"bpf", required_argument, NULL, 'f'},
        {"maxlen", required_argument, NULL, 'M'},
        {"queue", required_argument, NULL, 'Q'},
        {"speed", required_argument, NULL, 'S'},
        {"fp-key-file", required_argument, NULL, 'K'},
        {"status", required_argument, NULL, 's'},
        {"drop", no_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "i:o:r:h", lo, NULL)) != -1) {
        switch (c) {
        case 'i': o->iface = optarg; break;
        case 'B': o->bus = optarg; break;
        case 'o': o->out = optarg; break;
        case 'I': o->id = optarg; break;
        case 'r': o->rules = optarg; break;
        case 'f': o->bpf = optarg; break;
        case 'M': o->maxlen = strtoull(optarg, NULL, 10); break;
        case 'Q': o->queue = strtoull(optarg, NULL, 10); break;
        case 'S': o->speed = atof(optarg); break;
        case 'K': o->fp_key_file = optarg; break;
        case 's': o->status_s = atof(optarg); break;
        case 'D': o->drop = 1; break;
        case 'h': usage(stdout); return 1;
        default: return -1;
        }
    }
    if (optind < argc)
        o->file = argv[optind++];
    if (optind < argc || (!o->iface == !o->file) || (!o->bus == !o->out)) {
        fputs("osrca sensor: one of -i IFACE or a FILE, and one of --bus or --out\n", stderr);
        return -1;
    }
    if (o->id && (strlen(o->id) == 0 || strlen(o->id) > EVWIRE_MAX_SENSOR ||
                  strpbrk(o->id, " \t\r\n:{}\"\\"))) {
        fprintf(stderr, "osrca sensor: --id: 1 to %d characters, none of :{}\"\\ or blanks\n",
                EVWIRE_MAX_SENSOR);
        return -1;
    }
    return 0;
}

/* ---- batches ---- */

static void flush_frame(struct sensor *S, int wait)
{
    if (!S->nrec)
        return;
    S->frames++;
    S->frame_bytes += S->buf.n;
    if (S->buf.failed) {
        S->dropped++;
    } else if (S->pub) {
        bus_pub_send(S->pub, S->buf.p, S->buf.n, wait); /* a drop: counted there */
    } else if (S->out) {
        uint8_t l[4] = {(uint8_t)(S->buf.n >> 24), (uint8_t)(S->buf.n >> 16),
                        (uint8_t)(S->buf.n >> 8), (uint8_t)S->buf.n};
        if (fwrite(l, 1, 4, S->out) != 4 || fwrite(S->buf.p, 1, S->buf.n, S->out) != S->buf.n)
            S->write_errors++;
    }
    S->nrec = 0;
}

static void flush(struct sensor *S)
{
    flush_frame(S, 0);
}

static void begin_if_needed(struct sensor *S)
{
    if (S->nrec)
        return;
    evwire_begin(&S->buf, S->o.id, S->run, ++S->batch);
    S->batch_ns = common_mono_ns();
}

static void after_record(struct sensor *S)
{
    S->nrec++;
    if (S->nrec >= BATCH_RECORDS || S->buf.n >= BATCH_BYTES)
        flush(S);
}

/* The sensor's own counters, in MARK and END records. */
static size_t own_counters(struct sensor *S, const char **names, uint64_t *v)
{
    size_t n = 0;
    struct bus_pub_stats bs = {0};
    if (S->pub)
        bus_pub_get_stats(S->pub, &bs);
    struct source_stats ss;
    int have = S->src && source_stats(S->src, &ss) == 0;
    names[n] = "packets", v[n++] = S->packets;
    names[n] = "bytes", v[n++] = S->bytes;
    names[n] = "events", v[n++] = S->events;
    names[n] = "frames_dropped", v[n++] = S->dropped + bs.frames_dropped;
    names[n] = "kernel_drops", v[n++] = have ? ss.dropped + ss.ifdropped : 0;
    names[n] = "bus_reconnects", v[n++] = bs.reconnects;
    return n;
}

static void mark(struct sensor *S, enum evwire_rec type, uint64_t clock)
{
    const char *names[8];
    uint64_t v[8];
    size_t n = 0;
    /* the counters once a second of packet time (and at the end) */
    if (type == EVWIRE_END || clock / 1000000u != S->last_mark_s) {
        S->last_mark_s = clock / 1000000u;
        n = own_counters(S, names, v);
    }
    begin_if_needed(S);
    evwire_put_mark(&S->buf, type, clock, names, v, n);
    after_record(S);
}

static void on_event(void *ctx, struct event *ev)
{
    struct sensor *S = ctx;
    begin_if_needed(S);
    evwire_put_event(&S->buf, ev);
    S->events++;
    event_free(ev);
    after_record(S);
}

static void on_tick(void *ctx, uint64_t now)
{
    struct sensor *S = ctx;
    if (now > S->clock_us)
        S->clock_us = now;
    mark(S, EVWIRE_MARK, now);
}

static void status(struct sensor *S, uint64_t now_ns)
{
    if (S->o.status_s <= 0 || now_ns < S->next_status_ns)
        return;
    S->next_status_ns = now_ns + (uint64_t)(S->o.status_s * 1e9);
    struct bus_pub_stats bs = {0};
    if (S->pub)
        bus_pub_get_stats(S->pub, &bs);
    fprintf(stderr,
            "osrca sensor %s: %" PRIu64 " packets, %" PRIu64 " events, %" PRIu64
            " frames, %" PRIu64 " sent, %zu queued, %" PRIu64 " dropped, bus %s\n",
            S->o.id, S->packets, S->events, S->frames, bs.frames_sent, bs.queued,
            S->dropped + bs.frames_dropped, S->pub ? (bs.connected ? "up" : "down") : "-");
}

static void on_packet(void *ctx, int linktype, const uint8_t *data, uint32_t caplen,
                      uint32_t wirelen, uint64_t ts_us)
{
    struct sensor *S = ctx;
    if (S->o.speed > 0 && S->o.file) { /* replay at the capture's pace times speed */
        if (!S->pace_t0_us) {
            S->pace_t0_us = ts_us;
            S->pace_w0_ns = common_mono_ns();
        } else if (ts_us > S->pace_t0_us) {
            uint64_t due = S->pace_w0_ns +
                           (uint64_t)((double)(ts_us - S->pace_t0_us) * 1000.0 / S->o.speed);
            uint64_t now = common_mono_ns();
            while (now < due && !g_stop) {
                if (S->nrec && now - S->batch_ns >= BATCH_WALL_NS)
                    flush(S);
                uint64_t d = due - now > 20000000ull ? 20000000ull : due - now;
                struct timespec t = {0, (long)d};
                nanosleep(&t, NULL);
                now = common_mono_ns();
            }
        }
    }
    S->packets++;
    S->bytes += wirelen;
    S->last_ts = ts_us;
    if (ts_us > S->clock_us)
        S->clock_us = ts_us;
    S->seen_packet = 1;
    pipeline_packet(S->pl, linktype, data, caplen, wirelen, ts_us);
    uint64_t now = common_mono_ns();
    S->last_pkt_ns = now;
    if (S->nrec && (S->o.iface || S->o.speed > 0) && now - S->batch_ns >= BATCH_WALL_NS)
        flush(S);
    status(S, now);
}

/* Live, no packet for a read timeout: the clock goes on with the wall
 * clock (as in `live`), so that the correlator's clock does too. */
static void on_idle(void *ctx)
{
    struct sensor *S = ctx;
    uint64_t now = common_mono_ns();
    if (S->seen_packet && now - S->last_pkt_ns >= 500000000ull) {
        uint64_t clock = S->last_ts + (now - S->last_pkt_ns) / 1000u;
        if (clock > S->clock_us + 100000) {
            S->clock_us = clock;
            pipeline_idle(S->pl, clock);
            mark(S, EVWIRE_MARK, clock);
        }
    }
    if (S->nrec && now - S->batch_ns >= BATCH_WALL_NS)
        flush(S);
    status(S, now);
}

static int load_key(struct sensor *S, char *err, size_t errlen)
{
    uint8_t key[16];
    if (S->o.fp_key_file) {
        FILE *f = fopen(S->o.fp_key_file, "rb");
        size_t n = f ? fread(key, 1, sizeof(key), f) : 0;
        if (f)
            fclose(f);
        if (n != sizeof(key)) {
            snprintf(err, errlen, "--fp-key-file %s: need 16 bytes (head -c16 /dev/urandom)",
                     S->o.fp_key_file);
            return -1;
        }
    } else if (S->o.bus) {
        size_t got = 0;
        while (got < sizeof(key)) {
            ssize_t r = getrandom(key + got, sizeof(key) - got, 0);
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        if (got < sizeof(key) || bus_fp_key(S->o.bus, key, 30000, err, errlen) < 0) {
            if (got < sizeof(key))
                snprintf(err, errlen, "no random bytes for the fingerprint key");
            return -1;
        }
    } else {
        return 0; /* a stream file alone: this process's own key */
    }
    redact_set_fp_key(key);
    memset(key, 0, sizeof(key));
    return 0;
}

int cmd_sensor(int argc, char **argv)
{
    struct sensor *S = calloc(1, sizeof(*S));
    if (!S) {
        fputs("osrca sensor: out of memory\n", stderr);
        return 2;
    }
    int prc = parse_opts(argc, argv, &S->o);
    if (prc != 0) {
        if (prc < 0)
            usage(stderr);
        free(S);
        return prc > 0 ? 0 : 2;
    }
    char host[65];
    if (!S->o.id) {
        if (gethostname(host, sizeof(host)) != 0 || !host[0])
            snprintf(host, sizeof(host), "sensor");
        host[sizeof(host) - 1] = 0;
        for (char *p = host; *p; p++)
            if (strchr(" \t\r\n:{}\"\\", *p))
                *p = '_';
        S->o.id = host;
    }
    int rc = 2;
    char err[512];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    S->run = (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
    S->st = stats_new();
    S->rules = S->st ? common_load_rules(S->o.rules, S->st) : NULL;
    if (!S->rules)
        goto out;
    if (load_key(S, err, sizeof(err)) < 0) {
        fprintf(stderr, "osrca sensor: %s\n", err);
        goto out;
    }
    struct pipeline_cfg pc;
    pipeline_defaults(&pc);
    S->pl = pipeline_new(&pc, rules_svcmap(S->rules), S->st, on_event, on_tick, S);
    if (!S->pl) {
        fputs("osrca sensor: out of memory\n", stderr);
        goto out;
    }
    struct source_cfg sc;
    source_defaults(&sc);
    sc.iface = S->o.iface;
    sc.file = S->o.file;
    sc.bpf = S->o.bpf;
    sc.timeout_ms = 100;
    S->src = source_open(&sc, err, sizeof(err));
    if (!S->src) {
        fprintf(stderr, "osrca sensor: %s\n", err);
        goto out;
    }
    if (S->o.bus) {
        struct bus_pub_cfg bc;
        bus_pub_defaults(&bc);
        bc.url = S->o.bus;
        bc.sensor = S->o.id;
        if (S->o.maxlen)
            bc.maxlen = S->o.maxlen;
        if (S->o.queue)
            bc.queue_frames = S->o.queue;
        bc.block = S->o.file && !S->o.drop; /* a file waits for the bus, a wire never */
        S->pub = bus_pub_new(&bc, err, sizeof(err));
        if (!S->pub) {
            fprintf(stderr, "osrca sensor: %s\n", err);
            goto out;
        }
    } else {
        S->out = strcmp(S->o.out, "-") ? fopen(S->o.out, "wb") : stdout;
        if (!S->out) {
            fprintf(stderr, "osrca sensor: %s: %s\n", S->o.out, strerror(errno));
            goto out;
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    g_src = S->src;
    source_set_idle(S->src, on_idle, S);
    S->next_status_ns = common_mono_ns() + (uint64_t)(S->o.status_s * 1e9);
    fprintf(stderr, "osrca sensor %s: reading %s, publishing to %s\n", S->o.id,
            S->o.iface ? S->o.iface : S->o.file, S->o.bus ? S->o.bus : S->o.out);
    int srs = g_stop ? SOURCE_STOPPED : source_run(S->src, on_packet, S, err, sizeof(err));
    rc = 0;
    if (srs < 0) {
        fprintf(stderr, "osrca sensor: %s\n", err);
        rc = 1;
    }
    g_src = NULL;
    pipeline_finish(S->pl);
    uint64_t end = pipeline_last_ts(S->pl);
    if (S->clock_us > end)
        end = S->clock_us;
    mark(S, EVWIRE_END, end); /* the END waits for room: never dropped */
    flush_frame(S, 1);
    size_t unsent = 0;
    struct bus_pub_stats bs = {0};
    if (S->pub) {
        bus_pub_get_stats(S->pub, &bs);
        unsent = bus_pub_free(S->pub, 10000);
        S->pub = NULL;
    }
    if (S->out && S->out != stdout && fclose(S->out) != 0)
        S->write_errors++;
    else if (S->out == stdout)
        fflush(stdout);
    S->out = NULL;
    fprintf(stderr,
            "osrca sensor %s: %" PRIu64 " packets, %" PRIu64 " events, %" PRIu64
            " frames (%.1f MB), %" PRIu64 " dropped, %zu unsent, %" PRIu64 " write errors\n",
            S->o.id, S->packets, S->events, S->frames, (double)S->frame_bytes / 1e6,
            S->dropped + bs.frames_dropped, unsent, S->write_errors);
    if (unsent || S->write_errors)
        rc = 1;
out:
    g_src = NULL;
    bus_pub_free(S->pub, 0);
    if (S->out && S->out != stdout)
        fclose(S->out);
    source_free(S->src);
    pipeline_free(S->pl);
    rules_free(S->rules);
    stats_free(S->st);
    evwire_buf_free(&S->buf);
    free(S);
    return rc;
}
