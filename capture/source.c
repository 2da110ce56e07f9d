/* source.c -- packet source over libpcap: files (pcap, pcapng) and live
 * interfaces (pcap(3PCAP), pcap_next_ex(3PCAP), pcap_stats(3PCAP)).
 *
 * Classic pcap files (pcap-savefile(5), version 2.4, either byte order,
 * micro- or nanosecond stamps) of the link types osrca decodes are read
 * by our own loop once libpcap has opened them and checked the header:
 * the records are cut straight out of a buffer (64 KiB, then 1 MiB) filled
 * by large freads on libpcap's own stream, instead of two freads and a copy per
 * record (~7 % of a run). It delivers what pcap_next_ex delivers, with
 * libpcap's checks and messages for damaged records (sf-pcap.c
 * pcap_next_packet): the fuzz target runs both readers on every input and
 * compares. Anything else (pcapng, old versions, other link types, a
 * stream that cannot seek back to its header) stays with pcap_next_ex. */
#include "capture/source.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define RD_BUF0 (64u << 10)    /* the reader's first buffer */
#define RD_BUF (1u << 20)      /* ... grown to this once the file proves long */
#define RD_MAXSNAP 262144u     /* libpcap's MAXIMUM_SNAPLEN: the cap for these link types */
#define RD_HDR 16              /* record header */

/* Our reader of classic pcap records (see the top of the file). */
struct rd {
    FILE *f;       /* libpcap's stream, just past the file header */
    uint8_t *buf;  /* cap bytes */
    size_t cap;    /* RD_BUF0, then RD_BUF */
    unsigned fills; /* reads so far */
    size_t off;    /* next record */
    size_t have;   /* bytes in buf */
    int swapped;   /* file in the other byte order */
    int nano;      /* nanosecond stamps: scaled down like libpcap does */
    uint32_t snap; /* pcap_snapshot */
    int eof;       /* the stream returned its last byte */
    int error;     /* errno of a failed read, or 0 */
};

struct source {
    pcap_t *pc;
    pcap_dumper_t *dump;
    int linktype;
    int live;
    volatile sig_atomic_t stop;
    uint64_t packets;
    source_idle_fn idle;
    void *idle_ctx;
    struct rd *rd;  /* our reader of classic pcap records, or NULL */
    struct bpf_program prog; /* the filter, for our reader */
    int has_prog;
    int fd;         /* live: selectable descriptor in non-blocking mode, or -1 */
    int timeout_ms; /* live: the longest wait without a packet before idle */
    char name[256]; /* file or interface, for messages */
};

void source_defaults(struct source_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->snaplen = 262144;
    cfg->promisc = 1;
    cfg->immediate = 1;
    cfg->timeout_ms = 100;
}

/* Create, configure and activate a live handle; NULL with err set. */
static pcap_t *open_live(const struct source_cfg *cfg, char *err, size_t errlen)
{
    char eb[PCAP_ERRBUF_SIZE] = "";
    pcap_t *pc = pcap_create(cfg->iface, eb);
    if (!pc) {
        snprintf(err, errlen, "%s: %s", cfg->iface, eb);
        return NULL;
    }
    pcap_set_snaplen(pc, cfg->snaplen > 0 ? cfg->snaplen : 262144);
    pcap_set_promisc(pc, cfg->promisc);
    pcap_set_timeout(pc, cfg->timeout_ms > 0 ? cfg->timeout_ms : 100);
    if (cfg->immediate)
        pcap_set_immediate_mode(pc, 1);
    int rc = pcap_activate(pc);
    if (rc < 0) {
        /* PCAP_ERROR_* (no such device, permission denied, ...) */
        const char *why = rc == PCAP_ERROR ? pcap_geterr(pc) : pcap_statustostr(rc);
        snprintf(err, errlen, "%s: cannot capture: %s", cfg->iface, why);
        pcap_close(pc);
        return NULL;
    }
    return pc;
}

static uint32_t bswap32(uint32_t x)
{
    return __builtin_bswap32(x);
}

/* Link types whose largest sane record libpcap puts at RD_MAXSNAP (its
 * max_snaplen_for_dlt): the ones decode_packet reads. */
static int rd_linktype_ok(int dlt)
{
    switch (dlt) {
    case DLT_NULL:
    case DLT_EN10MB:
    case DLT_RAW:
    case DLT_LOOP:
    case DLT_LINUX_SLL:
#ifdef DLT_LINUX_SLL2
    case DLT_LINUX_SLL2:
#endif
        return 1;
    default:
        return 0;
    }
}

/* Our reader for pc when its file qualifies (see the top), else NULL. The
 * file header is read again at offset 0 (libpcap keeps whether stamps are
 * nanoseconds to itself), and the stream put back where libpcap left it. */
static struct rd *rd_open(pcap_t *pc)
{
    FILE *f = pcap_file(pc);
    if (!f || pcap_major_version(pc) != 2 || pcap_minor_version(pc) != 4 ||
        !rd_linktype_ok(pcap_datalink(pc)) || pcap_snapshot(pc) <= 0)
        return NULL;
    long pos = ftell(f);
    uint32_t magic;
    if (pos != 24 || fseek(f, 0, SEEK_SET) != 0)
        return NULL;
    size_t got = fread(&magic, 1, 4, f);
    if (fseek(f, pos, SEEK_SET) != 0) {
        /* cannot put it back: libpcap could not read on either */
        return NULL;
    }
    if (got != 4)
        return NULL;
    int swapped = pcap_is_swapped(pc), nano;
    uint32_t m = swapped ? bswap32(magic) : magic;
    if (m == 0xa1b2c3d4u)
        nano = 0;
    else if (m == 0xa1b23c4du)
        nano = 1;
    else
        return NULL; /* the modified formats (Kuznetzov, ...) */
    struct rd *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->cap = RD_BUF0;
    r->buf = malloc(r->cap);
    if (!r->buf) {
        free(r);
        return NULL;
    }
    r->f = f;
    r->swapped = swapped;
    r->nano = nano;
    r->snap = (uint32_t)pcap_snapshot(pc);
    return r;
}

static void rd_free(struct rd *r)
{
    if (!r)
        return;
    free(r->buf);
    free(r);
}

/* Make at least want bytes (<= RD_BUF) available at r->off, reading more
 * as needed. The buffer starts small (a short file costs little) and
 * grows to RD_BUF for a record that needs it or after a few reads.
 * Returns the bytes available (less than want only at the end of the
 * stream, on a read error (r->error) or when memory is short). */
static size_t rd_fill(struct rd *r, size_t want)
{
    size_t avail = r->have - r->off;
    if (avail >= want || r->eof)
        return avail;
    if (r->off) {
        memmove(r->buf, r->buf + r->off, avail);
        r->have = avail;
        r->off = 0;
    }
    if (r->cap < RD_BUF && (want > r->cap || r->fills >= 4)) {
        uint8_t *nb = realloc(r->buf, RD_BUF);
        if (nb) {
            r->buf = nb;
            r->cap = RD_BUF;
        } else if (want > r->cap) {
            r->error = ENOMEM;
            return avail;
        }
    }
    while (r->have < want && !r->eof) {
        size_t got = fread(r->buf + r->have, 1, r->cap - r->have, r->f);
        r->fills++;
        r->have += got;
        if (got == 0 || r->have < r->cap) {
            if (ferror(r->f))
                r->error = errno ? errno : EIO;
            if (ferror(r->f) || feof(r->f))
                r->eof = 1;
        }
    }
    return r->have - r->off;
}

/* The next record: 1 with *h and *data set (data lives until the next
 * call), 0 at the end of the file, -1 with libpcap's message in err. */
static int rd_next(struct rd *r, struct pcap_pkthdr *h, const uint8_t **data, char *err,
                   size_t errlen)
{
    size_t avail = rd_fill(r, RD_HDR);
    if (avail < RD_HDR) {
        if (r->error) {
            snprintf(err, errlen, "error reading dump file: %s", strerror(r->error));
            return -1;
        }
        if (avail == 0)
            return 0;
        snprintf(err, errlen, "truncated dump file; tried to read %d header bytes, only got %zu",
                 RD_HDR, avail);
        return -1;
    }
    uint32_t w[4];
    memcpy(w, r->buf + r->off, RD_HDR);
    if (r->swapped)
        for (int i = 0; i < 4; i++)
            w[i] = bswap32(w[i]);
    /* the stamp fields are signed 32-bit in the file */
    int32_t usec = (int32_t)w[1];
    h->ts.tv_sec = (int32_t)w[0];
    h->ts.tv_usec = r->nano ? usec / 1000 : usec;
    h->caplen = w[2];
    h->len = w[3];
    if (h->caplen > RD_MAXSNAP) {
        if (h->caplen > r->snap)
            snprintf(err, errlen, "invalid packet capture length %u, bigger than snaplen of %u",
                     h->caplen, r->snap);
        else
            snprintf(err, errlen, "invalid packet capture length %u, bigger than maximum of %u",
                     h->caplen, RD_MAXSNAP);
        return -1;
    }
    /* over the file's snaplen (a buggy writer): libpcap reads the first
     * snaplen bytes, then the rest, and keeps snaplen */
    uint32_t keep = h->caplen > r->snap ? r->snap : h->caplen;
    avail = rd_fill(r, RD_HDR + (size_t)h->caplen);
    if (avail < RD_HDR + (size_t)h->caplen) {
        size_t got = avail - RD_HDR;
        if (r->error)
            snprintf(err, errlen, "error reading dump file: %s", strerror(r->error));
        else if (h->caplen > r->snap && got < r->snap)
            snprintf(err, errlen,
                     "truncated dump file; tried to read %u captured bytes, only got %zu", r->snap,
                     got);
        else
            snprintf(err, errlen,
                     "truncated dump file; tried to read %u captured bytes, only got %zu",
                     h->caplen, got);
        return -1;
    }
    *data = r->buf + r->off + RD_HDR;
    r->off += RD_HDR + (size_t)h->caplen;
    h->caplen = keep;
    return 1;
}

struct source *source_open(const struct source_cfg *cfg, char *err, size_t errlen)
{
    char eb[PCAP_ERRBUF_SIZE] = "";
    int inputs = (cfg->file != NULL) + (cfg->iface != NULL) + (cfg->fp != NULL);
    if (inputs != 1) {
        snprintf(err, errlen, "source: give exactly one of a file, a stream or an interface");
        if (cfg->fp)
            fclose(cfg->fp);
        return NULL;
    }
    struct source *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "source: out of memory");
        if (cfg->fp)
            fclose(cfg->fp);
        return NULL;
    }
    s->fd = -1;
    if (cfg->iface) {
        snprintf(s->name, sizeof(s->name), "%s", cfg->iface);
        s->live = 1;
        s->pc = open_live(cfg, err, errlen);
        s->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 100;
        /* our own poll() paces the idle callback; without a selectable
         * descriptor fall back to libpcap's read timeout */
        s->fd = s->pc ? pcap_get_selectable_fd(s->pc) : -1;
        if (s->fd >= 0 && pcap_setnonblock(s->pc, 1, eb) < 0)
            s->fd = -1;
    } else if (cfg->file) {
        snprintf(s->name, sizeof(s->name), "%s", cfg->file);
        s->pc = pcap_open_offline_with_tstamp_precision(cfg->file, PCAP_TSTAMP_PRECISION_MICRO,
                                                        eb);
        if (!s->pc) {
            if (strstr(eb, cfg->file)) /* libpcap often names the file itself */
                snprintf(err, errlen, "%s", eb);
            else
                snprintf(err, errlen, "%s: %s", cfg->file, eb);
        }
    } else {
        snprintf(s->name, sizeof(s->name), "(stream)");
        s->pc = pcap_fopen_offline_with_tstamp_precision(cfg->fp, PCAP_TSTAMP_PRECISION_MICRO,
                                                         eb);
        if (!s->pc) {
            fclose(cfg->fp); /* libpcap leaves the stream open on failure */
            snprintf(err, errlen, "%s: %s", s->name, eb);
        }
    }
    if (!s->pc)
        goto fail;
    s->linktype = pcap_datalink(s->pc);
    if (cfg->bpf) {
        struct bpf_program prog;
        if (pcap_compile(s->pc, &prog, cfg->bpf, 1, PCAP_NETMASK_UNKNOWN) < 0) {
            snprintf(err, errlen, "%s: filter '%s': %s", s->name, cfg->bpf, pcap_geterr(s->pc));
            goto fail;
        }
        int rc = pcap_setfilter(s->pc, &prog);
        s->prog = prog; /* kept for our reader */
        s->has_prog = 1;
        if (rc < 0) {
            snprintf(err, errlen, "%s: filter '%s': %s", s->name, cfg->bpf, pcap_geterr(s->pc));
            goto fail;
        }
    }
    if (!s->live && !cfg->libpcap_only)
        s->rd = rd_open(s->pc);
    if (cfg->write_file) {
        s->dump = pcap_dump_open(s->pc, cfg->write_file);
        if (!s->dump) {
            snprintf(err, errlen, "%s: %s", cfg->write_file, pcap_geterr(s->pc));
            goto fail;
        }
    }
    return s;
fail:
    source_free(s);
    return NULL;
}

/* A record read (by either reader): counted, dumped, handed on. */
static void deliver(struct source *s, source_packet_fn fn, void *ctx,
                    const struct pcap_pkthdr *h, const uint8_t *data)
{
    s->packets++;
    if (s->dump)
        pcap_dump((u_char *)s->dump, h, data);
    uint64_t ts = 0;
    if (h->ts.tv_sec > 0)
        ts = (uint64_t)h->ts.tv_sec * 1000000u;
    if (h->ts.tv_usec > 0)
        ts += (uint64_t)h->ts.tv_usec;
    /* a corrupt record may claim caplen > len: passed on as read,
     * decode_packet counts it (decode.caplen_over_wire) */
    fn(ctx, s->linktype, data, h->caplen, h->len, ts);
}

/* source_run with our reader. */
static int run_rd(struct source *s, source_packet_fn fn, void *ctx, char *err, size_t errlen)
{
    struct pcap_pkthdr h;
    const uint8_t *data;
    for (;;) {
        if (s->stop)
            return SOURCE_STOPPED;
        char why[PCAP_ERRBUF_SIZE];
        int rc = rd_next(s->rd, &h, &data, why, sizeof(why));
        if (rc == 0)
            return SOURCE_END;
        if (rc < 0) {
            snprintf(err, errlen, "%s: packet %llu: %s", s->name,
                     (unsigned long long)s->packets + 1, why);
            return SOURCE_DAMAGED;
        }
        if (!s->has_prog || pcap_offline_filter(&s->prog, &h, data))
            deliver(s, fn, ctx, &h, data);
    }
}

int source_run(struct source *s, source_packet_fn fn, void *ctx, char *err, size_t errlen)
{
    if (s->rd)
        return run_rd(s, fn, ctx, err, errlen);
    struct pcap_pkthdr *h;
    const u_char *data;
    for (;;) {
        if (s->stop)
            return SOURCE_STOPPED;
        int rc = pcap_next_ex(s->pc, &h, &data);
        if (rc == 1) {
            deliver(s, fn, ctx, h, data);
            continue;
        }
        if (rc == 0) { /* live: nothing to read now */
            if (s->fd >= 0) {
                /* libpcap's own read timeout is not reliable in immediate
                 * mode (TPACKET_V3 may block far longer), so wait here */
                struct pollfd pfd = {s->fd, POLLIN, 0};
                if (poll(&pfd, 1, s->timeout_ms) > 0)
                    continue;
            }
            if (s->idle)
                s->idle(s->idle_ctx);
            continue;
        }
        if (rc == PCAP_ERROR_BREAK)
            return s->stop || s->live ? SOURCE_STOPPED : SOURCE_END;
        /* PCAP_ERROR: a damaged record in a file or a failing interface. The
         * failing record is packet number packets + 1. */
        snprintf(err, errlen, "%s: packet %llu: %s", s->name,
                 (unsigned long long)s->packets + 1, pcap_geterr(s->pc));
        return s->live ? SOURCE_IO_ERROR : SOURCE_DAMAGED;
    }
}

void source_set_idle(struct source *s, source_idle_fn fn, void *ctx)
{
    s->idle = fn;
    s->idle_ctx = ctx;
}

void source_break(struct source *s)
{
    if (!s)
        return;
    s->stop = 1;
    pcap_breakloop(s->pc);
}

int source_own_reader(const struct source *s)
{
    return s->rd != NULL;
}

int source_linktype(const struct source *s)
{
    return s->linktype;
}

uint64_t source_packets(const struct source *s)
{
    return s->packets;
}

int source_stats(struct source *s, struct source_stats *out)
{
    struct pcap_stat ps;
    memset(out, 0, sizeof(*out));
    if (!s->live || pcap_stats(s->pc, &ps) < 0)
        return -1;
    out->received = ps.ps_recv;
    out->dropped = ps.ps_drop;
    out->ifdropped = ps.ps_ifdrop;
    return 0;
}

void source_free(struct source *s)
{
    if (!s)
        return;
    if (s->dump) {
        pcap_dump_flush(s->dump);
        pcap_dump_close(s->dump);
    }
    rd_free(s->rd);
    if (s->has_prog)
        pcap_freecode(&s->prog);
    if (s->pc)
        pcap_close(s->pc);
    free(s);
}
