/* source.c -- packet source over libpcap: files (pcap, pcapng) and live
 * interfaces (pcap(3PCAP), pcap_next_ex(3PCAP), pcap_stats(3PCAP)). */
#include "capture/source.h"

#include <pcap/pcap.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

struct source {
    pcap_t *pc;
    pcap_dumper_t *dump;
    int linktype;
    int live;
    volatile sig_atomic_t stop;
    uint64_t packets;
    source_idle_fn idle;
    void *idle_ctx;
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
        pcap_freecode(&prog);
        if (rc < 0) {
            snprintf(err, errlen, "%s: filter '%s': %s", s->name, cfg->bpf, pcap_geterr(s->pc));
            goto fail;
        }
    }
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

int source_run(struct source *s, source_packet_fn fn, void *ctx, char *err, size_t errlen)
{
    struct pcap_pkthdr *h;
    const u_char *data;
    for (;;) {
        if (s->stop)
            return SOURCE_STOPPED;
        int rc = pcap_next_ex(s->pc, &h, &data);
        if (rc == 1) {
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
    if (s->pc)
        pcap_close(s->pc);
    free(s);
}
