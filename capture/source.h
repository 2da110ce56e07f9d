/* source.h -- packet source: a capture file (pcap, pcapng) or a live interface.
 *
 * The only module that includes pcap.h (libpcap, pcap(3PCAP); file formats:
 * draft-ietf-opsawg-pcap, draft-ietf-opsawg-pcapng). Each captured frame is
 * handed to a callback with its DLT_* link type, bytes, captured and wire
 * lengths and its timestamp in microseconds. A damaged file stops the run
 * with a message naming the file and the packet number; everything read up
 * to the damage has already been delivered. */
#ifndef OSRCA_SOURCE_H
#define OSRCA_SOURCE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct source_cfg {
    const char *file;       /* capture file ("-" = stdin); or */
    const char *iface;      /* live interface; or */
    FILE *fp;               /* an open capture stream (e.g. fmemopen); the
                               source takes ownership and closes it */
    const char *bpf;        /* capture filter, NULL = all packets */
    int snaplen;            /* live: bytes kept per packet (default 262144) */
    int promisc;            /* live: promiscuous mode (default 1) */
    int immediate;          /* live: deliver packets at once (default 1) */
    int timeout_ms;         /* live: read timeout (default 100) */
    const char *write_file; /* also write every packet read to this pcap, or NULL */
    int libpcap_only;       /* files: every record through pcap_next_ex, never
                               our own reader (tests compare the two) */
};

/* Fill cfg with the defaults above (no input chosen). */
void source_defaults(struct source_cfg *cfg);

/* Result of source_run. */
enum source_status {
    SOURCE_END = 0,        /* end of file reached */
    SOURCE_STOPPED = 1,    /* source_break() was called */
    SOURCE_DAMAGED = -1,   /* truncated or corrupt file: stopped at the damage */
    SOURCE_IO_ERROR = -2,  /* live capture error (interface went down, ...) */
};

struct source;

/* Called once per captured frame. data dies with the call. caplen and
 * wirelen are the record's as read: a corrupt record may claim wirelen <
 * caplen (decode_packet counts it and takes caplen as the wire length). */
typedef void (*source_packet_fn)(void *ctx, int linktype, const uint8_t *data, uint32_t caplen,
                                 uint32_t wirelen, uint64_t ts_us);

/* Open the input cfg names (exactly one of file, iface, fp), compile and set
 * the filter, open the dump file. Returns the handle, or NULL with a message
 * naming the file or interface in err (environment error). */
struct source *source_open(const struct source_cfg *cfg, char *err, size_t errlen);

/* Read until end of file, source_break() or an error, calling fn per frame.
 * Returns an enum source_status; on SOURCE_DAMAGED / SOURCE_IO_ERROR err
 * holds "FILE: packet N: <libpcap's text>". */
int source_run(struct source *s, source_packet_fn fn, void *ctx, char *err, size_t errlen);

/* Called from inside source_run when a live read timeout (timeout_ms)
 * passed without a packet, so a live caller regains control while the
 * wire is silent (idle timers, status lines). */
typedef void (*source_idle_fn)(void *ctx);

/* Install (fn != NULL) or remove the idle callback; used only by live
 * sources, never for files. */
void source_set_idle(struct source *s, source_idle_fn fn, void *ctx);

/* Ask source_run to return SOURCE_STOPPED soon. Async-signal-safe. */
void source_break(struct source *s);

/* 1 if the file's records are read by osrca's own loop, 0 if by
 * pcap_next_ex (see source.c). */
int source_own_reader(const struct source *s);

/* The DLT_* link type of the input. */
int source_linktype(const struct source *s);

/* Frames delivered so far. */
uint64_t source_packets(const struct source *s);

struct source_stats {
    uint64_t received; /* packets the kernel saw (live only) */
    uint64_t dropped;  /* dropped for lack of buffer space (kernel drops) */
    uint64_t ifdropped; /* dropped by the interface / driver */
};

/* Live capture counters (pcap_stats). Returns 0, or -1 for a file or when
 * libpcap cannot tell. */
int source_stats(struct source *s, struct source_stats *out);

/* Close the input and the dump file; NULL accepted. */
void source_free(struct source *s);

#endif
