/* gen.c -- benchmark load generator: many concurrent copies of the real
 * template captures, with fresh identifiers and client ports, in one pcap.
 *
 * Spec: pcap savefile format (pcap-savefile(5)), Ethernet II / IEEE 802.1Q,
 * IPv4 (RFC 791), TCP (RFC 9293); identifier forms from PROTOCOLS.md
 * (dashed UUIDs, 32-hex msg/unique ids, reply_<32hex> queues, req-<uuid>).
 *
 * Model. Each template is a capture listed in testdata/TRUTH (its expected
 * origin service/host/fault kind). An "instance" (copy) of a template is the
 * same packets, shifted in time, with
 *   - every client (ephemeral) port replaced by a fresh one from an allocator
 *     that never gives two flows alive at the same time the same port (the
 *     server side of a flow -- destination of its SYN, or a known service
 *     port for flows joined mid-stream -- keeps its port, so all copies talk
 *     to the same services on 127.0.0.1);
 *   - every identifier (8-4-4-4-12 lowercase-hex UUID, or an isolated run of
 *     exactly 32 lowercase hex digits) replaced by a per-copy keyed hash of
 *     the same length and form. The mapping works on the 128-bit value, so a
 *     dashed and an undashed spelling of one id stay equal after mapping.
 *     Every Fernet token ("gAAAAA" + base64url, GEN_TOKEN_MIN..MAX long)
 *     becomes a per-copy token of the same length (its value: a hash of the
 *     text, mapped like an id): each copy is another user's session.
 *     Identifiers are found on the reassembled byte stream of each TCP
 *     direction, so an id cut by a segment boundary is still rewritten.
 *     Lengths never change: sequence numbers, Content-Length and AMQP frame
 *     sizes stay valid. Checksums of template packets are not recomputed
 *     (almost all the templates' loopback packets carry the offload
 *     pseudo-header sum, which covers neither ports nor payload, so it stays
 *     what the kernel wrote);
 *   - every TCP flow the template leaves open (no FIN or RST in either
 *     direction: AMQP connections joined mid-stream, HTTP keep-alive
 *     connections; or a FIN one way only) closed right after the copy's last
 *     packet of that flow: client FIN+ACK, server FIN+ACK, client ACK, 1 us
 *     apart, at the next sequence number of each direction (wrap-aware
 *     maximum of what it sent and what its peer acknowledged), on the header
 *     bytes of the flow's last template packet of that direction (IPv4 total
 *     length and header checksum set; TCP checksum in the form the source
 *     packet has: offload pseudo-header sum, else the real one). When the
 *     server never showed a sequence number, or a side's stream is "broken"
 *     (too long to trust), the client aborts with a bare RST instead. Why:
 *     left open, each copy's fresh client port is a connection that goes
 *     silent forever -- tens of thousands at bench size, held by the analyzer
 *     until its idle timeout -- which no real cloud has (a process keeps its
 *     few AMQP connections across all its operations), so peak memory would
 *     measure that artifact instead of the state per operation in flight.
 *     --no-close turns this off: copies then hold the template's packets
 *     only.
 * Copies start at exponential inter-arrival times (mean = mean template
 * duration / concurrency) and all active copies are merged in timestamp
 * order through a heap, so memory is O(templates + active copies).
 *
 * Output: the pcap, and a truth file (default: OUT with .truth) with one line
 * per copy, tab separated: index, template, expected service, expected host,
 * fault kind, start time, every distinct request id (req-<uuid>) of the copy
 * after mapping (comma separated), and its client flows as
 * port:first_us:last_us (comma separated; last_us counts the close
 * segments), and "cut" or "whole". Same options and seed give byte-identical
 * output.
 *
 * --warm: a capture that begins with the cloud already busy. Without it the
 * first copy starts the capture and the load ramps up from nothing over the
 * longest template's duration -- most of a 100 MB capture at concurrency
 * 200 -- so a short and a long capture differ in load, not only in length.
 * With it copies start from that duration before the capture on, and a copy
 * that began before the capture has its earlier packets left out ("cut": its
 * flows start mid-stream, its first requests are missing), exactly what a
 * span port turned on in a running cloud shows. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/span.h"

#define GEN_MAX_TEMPLATES 256
#define GEN_MAX_STREAM (64u << 20) /* per direction of a template flow */
#define GEN_SNAPLEN 262144u
#define GEN_TOKEN_MIN 64   /* a Fernet token: "gAAAAA" + base64url, this long */
#define GEN_TOKEN_MAX 1024 /* or longer: left as is */
#define GEN_PORT_LO 32768u /* client ports 32768..65535, above every service port */

/* Service ports that are servers even when no SYN to them is captured. */
static const uint16_t gen_known_servers[] = {5000, 8774, 8778, 9292, 9696, 5672, 8776, 8004};

struct patch {
    uint32_t pkt_off; /* where in the packet the id text starts (clipped) */
    uint16_t id_off;  /* first byte of the id text that lands there */
    uint16_t n;       /* bytes to write */
    uint32_t id;      /* index into tmpl.ids */
    uint16_t len;     /* length of the whole id text: 32, 36 (dashed), or a token's */
    uint8_t token;    /* a Fernet token, else a UUID / 32 hex digits */
};

struct tpkt {
    int64_t ts;        /* microseconds since the template's first packet */
    size_t off;        /* offset of the frame in tmpl.data */
    uint32_t caplen, origlen;
    int32_t flow;      /* -1: not IPv4/TCP, copied as is */
    uint32_t tcp_off;  /* offset of the TCP header in the frame */
    uint32_t ip_off;   /* offset of the IPv4 header in the frame */
    uint8_t side;      /* 0: sent by the flow's port a, 1: by port b */
    uint8_t synth;     /* a close segment added by gen (GEN_SYNTH_*), else 0 */
    uint32_t pay_off, pay_len;
    int64_t rel;       /* seq - side base (wrap-aware), payload position */
    uint32_t patch0, npatch;
};

struct tside {
    int have_base;
    uint32_t base;
    int64_t min_rel, max_end;
    int broken; /* stream too large or inconsistent: ids not rewritten */
};

struct tflow {
    uint16_t a, b;       /* ports, a < b or a == b */
    int client_side;     /* 0: a is the client, 1: b, -1 undecided */
    int64_t first, last; /* us since template start */
    struct tside s[2];
};

struct match {
    int64_t off;  /* stream offset of the id text */
    uint16_t len; /* 32 or 36, or a token's length */
    uint8_t req;  /* preceded by "req-" */
    uint8_t token; /* a Fernet token: v is a hash of its text */
    uint8_t v[16];
    uint32_t id;
};

struct tmpl {
    char name[128];
    char service[64], host[64], kind[32];
    int faulty;
    double weight;
    uint8_t *data;
    size_t data_len;
    struct tpkt *pkts;
    size_t npkts;
    struct tflow *flows;
    size_t nflows;
    uint8_t (*ids)[16];
    size_t nids;
    uint32_t *reqs; /* ids seen as req-<uuid> */
    size_t nreqs;
    struct patch *patches;
    size_t npatches;
    int64_t t0, dur;    /* first packet time (us since epoch), duration */
    uint64_t out_bytes; /* bytes one copy adds to the output */
    uint64_t ncopies;
    uint32_t nclose_fin, nclose_rst; /* flows gen closes per copy (FIN, RST) */
};

struct copy {
    uint64_t idx;
    const struct tmpl *t;
    int64_t start; /* us since the epoch of the copy's first packet */
    size_t pos;    /* next packet */
    uint16_t *ports; /* per flow: client port of this copy */
    uint8_t (*map)[16];
};

struct portent {
    int64_t until;
    uint16_t port;
};

struct gen {
    /* options */
    const char *tdir, *truth_in, *out, *truth_out, *mix;
    double faulty_ratio; /* < 0: not given */
    double concurrency;
    uint64_t seed, target_bytes, target_copies;
    int64_t quiet_us;
    int no_close; /* --no-close: leave flows the template leaves open */
    int warm;     /* --warm: start at steady state (copies cut at epoch0) */
    /* templates */
    struct tmpl t[GEN_MAX_TEMPLATES];
    size_t nt;
    double wsum;
    uint8_t server_port[65536];
    /* run state */
    uint64_t rng;
    int64_t epoch0, next_start;
    int64_t cut_before; /* packets before this time are not written */
    uint64_t ncut;      /* copies started before epoch0 (--warm) */
    struct portent *ph;
    size_t nph;
    struct copy **heap;
    size_t nheap, capheap;
    uint64_t ncopies, planned, npackets, nbytes;
    uint64_t early_reuse, max_active;
    double busy_us; /* sum of copy durations */
    double active_us; /* integral of active copies over output time */
    int64_t first_ts, last_ts;
    FILE *fo, *ft;
    uint8_t buf[GEN_SNAPLEN + 64];
};

/* ---- small helpers ---------------------------------------------------- */

static void *gen_xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p) {
        fprintf(stderr, "gen: out of memory (%zu x %zu)\n", n, sz);
        exit(2);
    }
    return p;
}

static void *gen_xrealloc(void *p, size_t n, size_t sz)
{
    if (sz && n > SIZE_MAX / sz) {
        fprintf(stderr, "gen: allocation overflow\n");
        exit(2);
    }
    size_t bytes = n * sz;
    void *q = realloc(p, bytes ? bytes : 1);
    if (!q) {
        fprintf(stderr, "gen: out of memory (%zu x %zu)\n", n, sz);
        exit(2);
    }
    return q;
}

/* splitmix64: the PRNG and the id hash (deterministic on every platform). */
static uint64_t gen_mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t gen_rand(struct gen *g)
{
    g->rng += 0x9e3779b97f4a7c15ull;
    return gen_mix64(g->rng);
}

/* Uniform double in [0, 1). */
static double gen_unit(struct gen *g)
{
    return (double)(gen_rand(g) >> 11) * (1.0 / 9007199254740992.0);
}

static int gen_hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int gen_is_anyhex(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static const char gen_hexdig[] = "0123456789abcdef";

/* Parse "123", "10K", "100M", "2G" (SI: K = 1e3). Returns 0 or -1. */
static int gen_parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    uint64_t mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1000ull;
    else if (*end == 'm' || *end == 'M')
        mul = 1000000ull;
    else if (*end == 'g' || *end == 'G')
        mul = 1000000000ull;
    else if (*end != '\0')
        return -1;
    if (mul != 1 && end[1] != '\0')
        return -1;
    if (v > UINT64_MAX / mul)
        return -1;
    *out = (uint64_t)v * mul;
    return 0;
}

static int gen_parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !(v >= 0.0))
        return -1;
    *out = v;
    return 0;
}

/* ---- templates: TRUTH ---------------------------------------------------- */

/* Copy the next tab/space separated field of *pp into dst (NUL-terminated,
 * truncated to cap-1). Returns 0, or -1 when no field is left. */
static int gen_field(const char **pp, char *dst, size_t cap)
{
    const char *p = *pp;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0' || *p == '\n' || *p == '\r')
        return -1;
    size_t n = 0;
    while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
        if (n + 1 < cap)
            dst[n++] = *p;
        p++;
    }
    dst[n] = '\0';
    *pp = p;
    return 0;
}

/* Read the TRUTH file: "capture service host kind" per line, '#' comments.
 * Returns 0, or -1 with a message. */
static int gen_read_truth(struct gen *g)
{
    FILE *f = fopen(g->truth_in, "r");
    if (!f) {
        fprintf(stderr, "gen: %s: %s\n", g->truth_in, strerror(errno));
        return -1;
    }
    char line[1024];
    unsigned lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        const char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\n' || *p == '\0')
            continue;
        if (g->nt == GEN_MAX_TEMPLATES) {
            fprintf(stderr, "gen: %s: more than %d templates\n", g->truth_in, GEN_MAX_TEMPLATES);
            fclose(f);
            return -1;
        }
        struct tmpl *t = &g->t[g->nt];
        memset(t, 0, sizeof *t);
        if (gen_field(&p, t->name, sizeof t->name) || gen_field(&p, t->service, sizeof t->service) ||
            gen_field(&p, t->host, sizeof t->host) || gen_field(&p, t->kind, sizeof t->kind)) {
            fprintf(stderr, "gen: %s:%u: expected 4 fields\n", g->truth_in, lineno);
            fclose(f);
            return -1;
        }
        t->faulty = strcmp(t->service, "-") != 0;
        t->weight = 1.0;
        g->nt++;
    }
    fclose(f);
    if (g->nt == 0) {
        fprintf(stderr, "gen: %s: no templates\n", g->truth_in);
        return -1;
    }
    return 0;
}

/* Is name (a --mix key) this template? Accepts the file name with or
 * without ".pcap". */
static int gen_name_is(const struct tmpl *t, const char *name, size_t n)
{
    size_t tn = strlen(t->name);
    if (n == tn && memcmp(t->name, name, n) == 0)
        return 1;
    return tn > 5 && n == tn - 5 && memcmp(t->name, name, n) == 0 &&
           strcmp(t->name + n, ".pcap") == 0;
}

/* Apply --mix and --faulty-ratio to the template weights. */
static int gen_weights(struct gen *g)
{
    if (g->mix) {
        for (size_t i = 0; i < g->nt; i++)
            g->t[i].weight = 0.0;
        const char *p = g->mix;
        while (*p) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            const char *eq = memchr(p, '=', len);
            if (!eq) {
                fprintf(stderr, "gen: --mix: '%.*s' is not name=weight\n", (int)len, p);
                return -1;
            }
            char num[64];
            size_t nl = len - (size_t)(eq + 1 - p);
            if (nl == 0 || nl >= sizeof num) {
                fprintf(stderr, "gen: --mix: bad weight in '%.*s'\n", (int)len, p);
                return -1;
            }
            memcpy(num, eq + 1, nl);
            num[nl] = '\0';
            double w;
            if (gen_parse_double(num, &w)) {
                fprintf(stderr, "gen: --mix: bad weight in '%.*s'\n", (int)len, p);
                return -1;
            }
            size_t i;
            for (i = 0; i < g->nt; i++)
                if (gen_name_is(&g->t[i], p, (size_t)(eq - p)))
                    break;
            if (i == g->nt) {
                fprintf(stderr, "gen: --mix: no template '%.*s' in %s\n", (int)(eq - p), p,
                        g->truth_in);
                return -1;
            }
            g->t[i].weight = w;
            p += len;
            if (*p == ',')
                p++;
        }
    }
    if (g->faulty_ratio >= 0.0) {
        if (g->faulty_ratio > 1.0) {
            fprintf(stderr, "gen: --faulty-ratio %g > 1\n", g->faulty_ratio);
            return -1;
        }
        double wf = 0.0, wg = 0.0;
        for (size_t i = 0; i < g->nt; i++)
            *(g->t[i].faulty ? &wf : &wg) += g->t[i].weight;
        if ((g->faulty_ratio > 0.0 && wf <= 0.0) || (g->faulty_ratio < 1.0 && wg <= 0.0)) {
            fprintf(stderr, "gen: --faulty-ratio %g: no %s template has weight\n",
                    g->faulty_ratio, wf <= 0.0 ? "faulty" : "fault-free");
            return -1;
        }
        for (size_t i = 0; i < g->nt; i++) {
            struct tmpl *t = &g->t[i];
            if (t->faulty)
                t->weight = wf > 0.0 ? t->weight * g->faulty_ratio / wf : 0.0;
            else
                t->weight = wg > 0.0 ? t->weight * (1.0 - g->faulty_ratio) / wg : 0.0;
        }
    }
    g->wsum = 0.0;
    for (size_t i = 0; i < g->nt; i++)
        g->wsum += g->t[i].weight;
    if (!(g->wsum > 0.0)) {
        fprintf(stderr, "gen: every template has weight 0\n");
        return -1;
    }
    return 0;
}

/* ---- templates: packets and flows --------------------------------------- */

/* Decode Ethernet [802.1Q] / IPv4 / TCP of one frame. Fills tcp_off,
 * ports, seq, flags, payload offset and length (the captured part inside
 * the IP total length). Returns 0, or -1 when the frame is not IPv4/TCP or
 * is cut short. */
static int gen_decode(const uint8_t *p, uint32_t caplen, struct tpkt *pk, uint16_t *sport,
                      uint16_t *dport, uint32_t *seq, uint8_t *flags)
{
    struct rd r = rd_init(p, caplen);
    rd_skip(&r, 12);
    uint16_t et = rd_be16(&r);
    while (rd_ok(&r) && (et == 0x8100 || et == 0x88a8)) {
        rd_skip(&r, 2);
        et = rd_be16(&r);
    }
    if (!rd_ok(&r) || et != 0x0800)
        return -1;
    const uint8_t *ip = r.p;
    uint8_t vihl = rd_u8(&r);
    rd_skip(&r, 1);
    uint16_t tot = rd_be16(&r);
    rd_skip(&r, 2);
    uint16_t frag = rd_be16(&r);
    rd_skip(&r, 1);
    uint8_t proto = rd_u8(&r);
    if (!rd_ok(&r) || (vihl >> 4) != 4 || proto != 6 || (frag & 0x3fff) != 0)
        return -1;
    size_t ihl = (size_t)(vihl & 0x0f) * 4;
    if (ihl < 20 || tot < ihl)
        return -1;
    size_t ip_avail = (size_t)(p + caplen - ip);
    size_t ip_end = tot < ip_avail ? tot : ip_avail; /* captured part of the datagram */
    struct rd t = rd_init(ip, ip_end);
    rd_skip(&t, ihl);
    const uint8_t *tcp = t.p;
    *sport = rd_be16(&t);
    *dport = rd_be16(&t);
    *seq = rd_be32(&t);
    rd_skip(&t, 4);
    uint8_t doff = rd_u8(&t);
    *flags = rd_u8(&t);
    if (!rd_ok(&t))
        return -1;
    size_t thl = (size_t)(doff >> 4) * 4;
    if (thl < 20 || ihl + thl > ip_end)
        return -1;
    pk->ip_off = (uint32_t)(ip - p);
    pk->tcp_off = (uint32_t)(tcp - p);
    pk->pay_off = (uint32_t)(tcp - p + thl);
    pk->pay_len = (uint32_t)(ip_end - ihl - thl);
    return 0;
}

/* The template flow of a packet (created on first sight); *idx and *side
 * (0: sent from the lower port) are set. */
static struct tflow *gen_flow(struct tmpl *t, uint16_t sport, uint16_t dport, int64_t ts,
                              int32_t *idx, uint8_t *side)
{
    uint16_t a = sport < dport ? sport : dport, b = sport < dport ? dport : sport;
    for (size_t i = 0; i < t->nflows; i++)
        if (t->flows[i].a == a && t->flows[i].b == b) {
            *idx = (int32_t)i;
            *side = sport == a ? 0 : 1;
            return &t->flows[i];
        }
    t->flows = gen_xrealloc(t->flows, t->nflows + 1, sizeof *t->flows);
    struct tflow *f = &t->flows[t->nflows];
    memset(f, 0, sizeof *f);
    f->a = a;
    f->b = b;
    f->client_side = -1;
    f->first = f->last = ts;
    *idx = (int32_t)t->nflows++;
    *side = sport == a ? 0 : 1;
    return f;
}

static int gen_match_cmp(const void *x, const void *y)
{
    const struct match *a = x, *b = y;
    return memcmp(a->v, b->v, 16);
}

static int gen_is_b64url(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

/* Length of the Fernet token (PROTOCOLS.md: "gAAAAA" + base64url, padding
 * not included) at s[i], or 0. */
static size_t gen_token_at(const uint8_t *s, size_t n, size_t i)
{
    if (n - i < GEN_TOKEN_MIN || memcmp(s + i, "gAAAAA", 6) != 0 ||
        (i > 0 && gen_is_b64url(s[i - 1])))
        return 0;
    size_t k = 6;
    while (i + k < n && k <= GEN_TOKEN_MAX && gen_is_b64url(s[i + k]))
        k++;
    return k >= GEN_TOKEN_MIN && k <= GEN_TOKEN_MAX ? k : 0;
}

static struct match *gen_match_add(struct match **m, size_t *nm, size_t *cap)
{
    if (*nm == *cap) {
        *cap = *cap ? *cap * 2 : 256;
        *m = gen_xrealloc(*m, *cap, sizeof **m);
    }
    struct match *x = &(*m)[(*nm)++];
    memset(x, 0, sizeof *x);
    return x;
}

/* Scan one reassembled stream for identifiers; appends to *m in offset
 * order. An id is an 8-4-4-4-12 lowercase-hex UUID, or a run of exactly 32
 * lowercase hex digits, with no hex digit right before or after it, or a
 * Fernet token (each copy is then another user's session: the analyzer
 * links a token validation to the request whose token it checks). */
static void gen_scan(const uint8_t *s, size_t n, struct match **m, size_t *nm, size_t *cap)
{
    size_t i = 0;
    while (i < n) {
        size_t tl = s[i] == 'g' ? gen_token_at(s, n, i) : 0;
        if (tl) {
            struct match *x = gen_match_add(m, nm, cap);
            x->off = (int64_t)i;
            x->len = (uint16_t)tl;
            x->token = 1;
            uint64_t h1 = 0x6a09e667f3bcc909ull, h2 = 0xbb67ae8584caa73bull;
            for (size_t k = 0; k < tl; k++) {
                h1 = gen_mix64(h1 ^ s[i + k]);
                h2 = gen_mix64(h2 + s[i + k]);
            }
            for (int k = 0; k < 8; k++) {
                x->v[k] = (uint8_t)(h1 >> (8 * k));
                x->v[8 + k] = (uint8_t)(h2 >> (8 * k));
            }
            i += tl;
            continue;
        }
        if (gen_hexval(s[i]) < 0 || (i > 0 && gen_is_anyhex(s[i - 1]))) {
            i++;
            continue;
        }
        size_t len = 0;
        if (n - i >= 36) {
            size_t k;
            for (k = 0; k < 36; k++) {
                int dash = k == 8 || k == 13 || k == 18 || k == 23;
                if (dash ? s[i + k] != '-' : gen_hexval(s[i + k]) < 0)
                    break;
            }
            if (k == 36 && (i + 36 == n || !gen_is_anyhex(s[i + 36])))
                len = 36;
        }
        size_t run = 0;
        while (i + run < n && gen_hexval(s[i + run]) >= 0)
            run++;
        if (!len && run == 32 && (i + 32 == n || !gen_is_anyhex(s[i + 32])))
            len = 32;
        if (!len) {
            i += run;
            continue;
        }
        struct match *x = gen_match_add(m, nm, cap);
        x->off = (int64_t)i;
        x->len = (uint16_t)len;
        x->req = i >= 4 && len == 36 && memcmp(s + i - 4, "req-", 4) == 0;
        size_t d = 0;
        for (size_t k = 0; k < len; k++) {
            int v = gen_hexval(s[i + k]);
            if (v < 0)
                continue;
            if (d & 1)
                x->v[d / 2] = (uint8_t)(x->v[d / 2] | v);
            else
                x->v[d / 2] = (uint8_t)(v << 4);
            d++;
        }
        x->id = 0;
        i += len;
    }
}

/* ---- closing what the template leaves open ------------------------------ */

/* A template connection that never ends inside its capture (an AMQP
 * connection joined mid-stream, an HTTP keep-alive connection) would, copied
 * with a fresh client port, go silent in every copy: tens of thousands of
 * half-dead connections that no real cloud has (one process keeps its few
 * AMQP connections across all its operations). So each copy closes such a
 * flow right after its last packet: client FIN+ACK, server FIN+ACK, client
 * ACK, 1 us apart, with the next sequence numbers of each direction (a FIN
 * already sent by one side is not repeated). When the server side never
 * showed a sequence number (no packet from it, no ACK of it) the client
 * aborts with a bare RST instead: a FIN handshake would invent a server.
 * So it does when a side's stream is "broken" (more than GEN_MAX_STREAM of
 * sequence space: a maximum over it is not trusted). Flows whose two ends
 * use the same port are shared by all copies and left alone. */

#define GEN_SYNTH_PARTIAL 1 /* TCP checksum field = pseudo-header sum (offload) */
#define GEN_SYNTH_FULL 2    /* TCP checksum field = the real checksum */
#define GEN_TCP_FIN 0x01
#define GEN_TCP_SYN 0x02
#define GEN_TCP_RST 0x04
#define GEN_TCP_ACK 0x10

/* TCP fields of one decoded template packet. */
struct tcpf {
    uint32_t seq, ack;
    uint32_t wire_len; /* payload bytes by the IP total length (caplen aside) */
    uint8_t flags;
    int have_ts;
    uint32_t tsval, tsecr;
};

/* Read the fields of a packet gen_decode accepted (offsets known good). */
static void gen_tcpf(const uint8_t *fr, const struct tpkt *pk, struct tcpf *o)
{
    memset(o, 0, sizeof *o);
    struct rd ip = rd_init(fr + pk->ip_off, pk->caplen - pk->ip_off);
    uint8_t vihl = rd_u8(&ip);
    rd_skip(&ip, 1);
    uint16_t tot = rd_be16(&ip);
    struct rd r = rd_init(fr + pk->tcp_off, pk->caplen - pk->tcp_off);
    rd_skip(&r, 4);
    o->seq = rd_be32(&r);
    o->ack = rd_be32(&r);
    uint8_t doff = rd_u8(&r);
    o->flags = rd_u8(&r);
    rd_skip(&r, 6);
    size_t ihl = (size_t)(vihl & 0x0f) * 4, thl = (size_t)(doff >> 4) * 4;
    if (!rd_ok(&ip) || !rd_ok(&r))
        return;
    o->wire_len = tot >= ihl + thl ? (uint32_t)(tot - ihl - thl) : pk->pay_len;
    /* options, as far as captured: only the timestamp option is kept */
    struct rd op = rd_init(fr + pk->tcp_off + 20, pk->pay_off - pk->tcp_off - 20);
    while (rd_left(&op) > 0) {
        uint8_t kind = rd_u8(&op);
        if (kind == 0)
            break;
        if (kind == 1)
            continue;
        uint8_t len = rd_u8(&op);
        if (!rd_ok(&op) || len < 2 || len - 2u > rd_left(&op))
            break;
        if (kind == 8 && len == 10) {
            o->tsval = rd_be32(&op);
            o->tsecr = rd_be32(&op);
            o->have_ts = rd_ok(&op);
        } else {
            rd_skip(&op, len - 2u);
        }
    }
}

static uint64_t gen_sum16(uint64_t acc, const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i + 1 < n; i += 2)
        acc += (uint32_t)p[i] << 8 | p[i + 1];
    if (i < n)
        acc += (uint32_t)p[i] << 8;
    return acc;
}

static uint16_t gen_fold(uint64_t acc)
{
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    return (uint16_t)acc;
}

/* Folded pseudo-header sum (RFC 9293 3.1) of a TCP segment of tcp_len bytes;
 * ip points at the IPv4 header. Offloading stacks leave this, uncomplemented,
 * in the checksum field of what a local capture sees. */
static uint16_t gen_pseudo(const uint8_t *ip, uint32_t tcp_len)
{
    uint64_t acc = gen_sum16(0, ip + 12, 8);
    return gen_fold(acc + 6 + tcp_len);
}

/* Write the TCP checksum of the segment at b + tcp_off (tcp_len bytes, all
 * present) in the given GEN_SYNTH_* form. */
static void gen_tcp_csum(uint8_t *b, uint32_t ip_off, uint32_t tcp_off, uint32_t tcp_len, int mode)
{
    uint8_t *tcp = b + tcp_off;
    tcp[16] = tcp[17] = 0;
    uint16_t ps = gen_pseudo(b + ip_off, tcp_len);
    uint16_t v = mode == GEN_SYNTH_PARTIAL ? ps : (uint16_t)~gen_fold(gen_sum16(ps, tcp, tcp_len));
    tcp[16] = (uint8_t)(v >> 8);
    tcp[17] = (uint8_t)v;
}

static void gen_put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void gen_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void gen_swap(uint8_t *x, uint8_t *y, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t tmp = x[i];
        x[i] = y[i];
        y[i] = tmp;
    }
}

/* What the close pass learns about one side (direction) of a flow. */
struct cside {
    int have_nxt, have_acked, have_ts;
    uint32_t nxt;          /* wrap-aware max of seq + length (+SYN, +FIN) it sent */
    uint32_t acked;        /* wrap-aware max ACK the other side sent for it */
    uint32_t lastend;      /* seq + length of its last packet */
    uint32_t tsval, tsecr; /* its last timestamp option */
    int64_t last;          /* index of its last packet, -1: none */
    uint8_t fin;
};

/* One close segment to build: sent by `side` of flow `flow`. */
struct cseg {
    int64_t ts;
    int32_t flow;
    uint8_t side, flags, ipid_add;
    uint32_t seq, ack;
};

static void gen_wmax(int *have, uint32_t *cur, uint32_t v)
{
    if (!*have || (int32_t)(v - *cur) > 0)
        *cur = v;
    *have = 1;
}

static void gen_cseg(struct cseg *o, int side, uint8_t flags, int ipid_add, uint32_t seq,
                     uint32_t ack)
{
    memset(o, 0, sizeof *o);
    o->side = (uint8_t)side;
    o->flags = flags;
    o->ipid_add = (uint8_t)ipid_add;
    o->seq = seq;
    o->ack = ack;
}

/* Build one close segment from the header bytes of the sender's last
 * template packet (or of the peer's, addresses and ports swapped): same L2
 * and IPv4 header (total length, id + ipid_add and header checksum set), a
 * TCP header without payload carrying at most the timestamp option.
 * Appends the frame to t->data (capacity *cap) and fills *out. */
static void gen_close_seg(struct tmpl *t, size_t *cap, const struct cside cs[2],
                          const struct cseg *sg, struct tpkt *out)
{
    const struct cside *me = &cs[sg->side], *peer = &cs[!sg->side];
    int swap = me->last < 0;
    const struct tpkt *from = &t->pkts[swap ? peer->last : me->last];
    int have_ts = me->have_ts || peer->have_ts;
    uint32_t thl = have_ts ? 32 : 20, hl = from->tcp_off, len = hl + thl;
    if (t->data_len + len > *cap) {
        while (t->data_len + len > *cap)
            *cap = *cap ? *cap * 2 : 4096;
        t->data = gen_xrealloc(t->data, *cap, 1);
    }
    const uint8_t *src = t->data + from->off;
    uint8_t *b = t->data + t->data_len;
    memcpy(b, src, hl);
    uint8_t *ip = b + from->ip_off, *tcp = b + hl;
    const uint8_t *stcp = src + hl;
    uint32_t ihl = hl - from->ip_off;
    if (swap) {
        gen_swap(b, b + 6, 6);         /* MAC addresses */
        gen_swap(ip + 12, ip + 16, 4); /* IPv4 addresses */
        memcpy(tcp, stcp + 2, 2);
        memcpy(tcp + 2, stcp, 2);
    } else {
        memcpy(tcp, stcp, 4);
    }
    gen_put_be16(ip + 2, (uint16_t)(ihl + thl));
    gen_put_be16(ip + 4, (uint16_t)(((uint32_t)ip[4] << 8 | ip[5]) + sg->ipid_add));
    ip[10] = ip[11] = 0;
    gen_put_be16(ip + 10, (uint16_t)~gen_fold(gen_sum16(0, ip, ihl)));
    gen_put_be32(tcp + 4, sg->seq);
    gen_put_be32(tcp + 8, sg->ack);
    tcp[12] = (uint8_t)(thl / 4 << 4);
    tcp[13] = sg->flags;
    memcpy(tcp + 14, stcp + 14, 2); /* window */
    tcp[18] = tcp[19] = 0;
    if (have_ts) {
        /* TSval: the sender's last (or what the peer last echoed of it);
         * TSecr: the peer's last TSval (or what the sender last echoed) */
        tcp[20] = tcp[21] = 1;
        tcp[22] = 8;
        tcp[23] = 10;
        gen_put_be32(tcp + 24, me->have_ts ? me->tsval : peer->tsecr);
        gen_put_be32(tcp + 28, peer->have_ts ? peer->tsval : me->tsecr);
    }
    /* the checksum in the form the template's packets have: the offload
     * pseudo-header sum when the source packet carries one, else the real
     * checksum (gen_emit recomputes it after the port rewrite) */
    struct tcpf sf;
    gen_tcpf(t->data + from->off, from, &sf);
    uint32_t sl = from->pay_off - from->tcp_off + sf.wire_len;
    uint16_t sck = (uint16_t)(src[hl + 16] << 8 | src[hl + 17]);
    int mode = sck == gen_pseudo(src + from->ip_off, sl) ? GEN_SYNTH_PARTIAL : GEN_SYNTH_FULL;
    if (sg->flags & GEN_TCP_RST)
        tcp[14] = tcp[15] = 0; /* a bare RST advertises no window */
    gen_tcp_csum(b, from->ip_off, hl, thl, mode);

    memset(out, 0, sizeof *out);
    out->ts = sg->ts;
    out->off = t->data_len;
    out->caplen = out->origlen = len;
    out->flow = sg->flow;
    out->ip_off = from->ip_off;
    out->tcp_off = hl;
    out->side = sg->side;
    out->synth = (uint8_t)mode;
    out->pay_off = len;
    out->patch0 = (uint32_t)t->npatches;
    t->data_len += len;
}

/* Add the close segments of every flow the template leaves open, merged
 * into t->pkts in timestamp order; flows' last times include them. */
static void gen_close_flows(struct tmpl *t)
{
    struct cside *cs = gen_xcalloc(t->nflows * 2, sizeof *cs);
    for (size_t i = 0; i < t->nflows * 2; i++)
        cs[i].last = -1;
    for (size_t i = 0; i < t->npkts; i++) {
        const struct tpkt *pk = &t->pkts[i];
        if (pk->flow < 0)
            continue;
        struct tcpf f;
        gen_tcpf(t->data + pk->off, pk, &f);
        struct cside *me = &cs[(size_t)pk->flow * 2 + pk->side];
        struct cside *peer = &cs[(size_t)pk->flow * 2 + !pk->side];
        me->last = (int64_t)i;
        if (f.flags & GEN_TCP_RST) {
            me->fin = peer->fin = 2; /* aborted: nothing to close */
            continue;
        }
        uint32_t end = f.seq + f.wire_len + !!(f.flags & GEN_TCP_SYN) + !!(f.flags & GEN_TCP_FIN);
        gen_wmax(&me->have_nxt, &me->nxt, end);
        me->lastend = end;
        if (f.flags & GEN_TCP_ACK)
            gen_wmax(&peer->have_acked, &peer->acked, f.ack);
        if (f.flags & GEN_TCP_FIN && !me->fin)
            me->fin = 1;
        if (f.have_ts) {
            me->have_ts = 1;
            me->tsval = f.tsval;
            me->tsecr = f.tsecr;
        }
    }

    struct cseg *sg = NULL;
    size_t nsg = 0;
    for (size_t fi = 0; fi < t->nflows; fi++) {
        struct tflow *f = &t->flows[fi];
        struct cside *x = &cs[fi * 2];
        if (f->client_side == 2 || x[0].fin == 2 || (x[0].fin && x[1].fin))
            continue;
        int c = f->client_side, s = !c;
        uint32_t nxt[2];
        int have[2];
        for (int d = 0; d < 2; d++) {
            have[d] = x[d].have_nxt;
            nxt[d] = x[d].nxt;
            if (x[d].have_acked)
                gen_wmax(&have[d], &nxt[d], x[d].acked);
        }
        sg = gen_xrealloc(sg, nsg + 3, sizeof *sg);
        struct cseg *o = &sg[nsg];
        size_t k = 0;
        if (!have[s] || !have[c] || f->s[0].broken || f->s[1].broken) {
            /* the server never showed a sequence number, or a stream is too
             * long or inconsistent to trust a maximum: the client aborts
             * (after a broken stream, from the end of its last segment) */
            uint32_t seq = f->s[c].broken && x[c].last >= 0 ? x[c].lastend : nxt[c];
            gen_cseg(&o[k++], c, GEN_TCP_RST, 1, have[c] ? seq : 0, 0);
            t->nclose_rst++;
        } else {
            /* a FIN already seen is counted in its side's nxt: not repeated */
            uint32_t cn = nxt[c], sn = nxt[s];
            if (!x[c].fin)
                gen_cseg(&o[k++], c, GEN_TCP_FIN | GEN_TCP_ACK, 1, cn++, sn);
            if (!x[s].fin)
                gen_cseg(&o[k++], s, GEN_TCP_FIN | GEN_TCP_ACK, 1, sn++, cn);
            if (x[s].fin) /* the server closed first: it acknowledges last */
                gen_cseg(&o[k++], s, GEN_TCP_ACK, 1, sn, cn);
            else
                gen_cseg(&o[k++], c, GEN_TCP_ACK, x[c].fin ? 1 : 2, cn, sn);
            t->nclose_fin++;
        }
        for (size_t j = 0; j < k; j++) {
            o[j].flow = (int32_t)fi;
            o[j].ts = f->last + 1 + (int64_t)j;
        }
        nsg += k;
        f->last = sg[nsg - 1].ts;
    }

    if (nsg) {
        struct tpkt *np = gen_xcalloc(t->npkts + nsg, sizeof *np);
        struct tpkt *add = gen_xcalloc(nsg, sizeof *add);
        size_t cap = t->data_len;
        for (size_t k = 0; k < nsg; k++)
            gen_close_seg(t, &cap, &cs[(size_t)sg[k].flow * 2], &sg[k], &add[k]);
        /* segments of one flow are in order; sort all by time (stable: a
         * template packet goes first on a tie) */
        for (size_t k = 1; k < nsg; k++)
            for (size_t j = k; j > 0 && add[j - 1].ts > add[j].ts; j--) {
                struct tpkt tmp = add[j];
                add[j] = add[j - 1];
                add[j - 1] = tmp;
            }
        size_t i = 0, k = 0, n = 0;
        while (i < t->npkts || k < nsg) {
            if (k == nsg || (i < t->npkts && t->pkts[i].ts <= add[k].ts))
                np[n++] = t->pkts[i++];
            else
                np[n++] = add[k++];
        }
        free(t->pkts);
        free(add);
        t->pkts = np;
        t->npkts = n;
    }
    free(sg);
    free(cs);
}

/* Load one template: packets, flows (client side decided), identifier
 * occurrences turned into per-packet patches. Returns 0 or -1. */
static int gen_load_tmpl(struct gen *g, struct tmpl *t)
{
    char path[4096];
    char err[PCAP_ERRBUF_SIZE];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", g->tdir, t->name) >= sizeof path) {
        fprintf(stderr, "gen: path too long: %s/%s\n", g->tdir, t->name);
        return -1;
    }
    pcap_t *pc = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, err);
    if (!pc) {
        fprintf(stderr, "gen: %s: %s\n", path, err);
        return -1;
    }
    if (pcap_datalink(pc) != DLT_EN10MB) {
        fprintf(stderr, "gen: %s: link type %d, only Ethernet templates are supported\n", path,
                pcap_datalink(pc));
        pcap_close(pc);
        return -1;
    }
    size_t cappk = 0, capdata = 0;
    struct pcap_pkthdr *h;
    const uint8_t *d;
    int rc;
    while ((rc = pcap_next_ex(pc, &h, &d)) == 1) {
        if (h->caplen > GEN_SNAPLEN) {
            fprintf(stderr, "gen: %s: packet of %u bytes > %u, skipped\n", path, h->caplen,
                    GEN_SNAPLEN);
            continue;
        }
        if (t->npkts == cappk) {
            cappk = cappk ? cappk * 2 : 1024;
            t->pkts = gen_xrealloc(t->pkts, cappk, sizeof *t->pkts);
        }
        if (t->data_len + h->caplen > capdata) {
            while (t->data_len + h->caplen > capdata)
                capdata = capdata ? capdata * 2 : 1u << 20;
            t->data = gen_xrealloc(t->data, capdata, 1);
        }
        struct tpkt *pk = &t->pkts[t->npkts++];
        memset(pk, 0, sizeof *pk);
        int64_t ts = (int64_t)h->ts.tv_sec * 1000000 + h->ts.tv_usec;
        if (t->npkts == 1)
            t->t0 = ts;
        pk->ts = ts - t->t0;
        if (pk->ts < 0) {
            fprintf(stderr, "gen: %s: packet %zu goes back in time, clamped\n", path, t->npkts);
            pk->ts = 0;
        }
        if (t->npkts > 1 && pk->ts < t->pkts[t->npkts - 2].ts)
            pk->ts = t->pkts[t->npkts - 2].ts; /* keep per-copy order monotonic */
        pk->off = t->data_len;
        pk->caplen = h->caplen;
        pk->origlen = h->len;
        memcpy(t->data + t->data_len, d, h->caplen);
        t->data_len += h->caplen;
        pk->flow = -1;
    }
    if (rc == PCAP_ERROR)
        fprintf(stderr, "gen: %s: %s (using the packets before it)\n", path, pcap_geterr(pc));
    pcap_close(pc);
    if (t->npkts == 0) {
        fprintf(stderr, "gen: %s: no packets\n", path);
        return -1;
    }
    t->dur = t->pkts[t->npkts - 1].ts;
    if (t->dur < 1000)
        t->dur = 1000;

    /* pass 1: flows, SYNs, per-side base sequence numbers */
    for (size_t i = 0; i < t->npkts; i++) {
        struct tpkt *pk = &t->pkts[i];
        uint16_t sp, dp;
        uint32_t seq;
        uint8_t fl;
        if (gen_decode(t->data + pk->off, pk->caplen, pk, &sp, &dp, &seq, &fl))
            continue;
        struct tflow *f = gen_flow(t, sp, dp, pk->ts, &pk->flow, &pk->side);
        f->last = pk->ts;
        struct tside *s = &f->s[pk->side];
        if ((fl & 0x02) && !(fl & 0x10) && f->client_side < 0)
            f->client_side = pk->side;
        if ((fl & 0x02) && !s->have_base) {
            s->have_base = 1;
            s->base = seq + 1;
        }
        if (pk->pay_len && !s->have_base) {
            s->have_base = 1;
            s->base = seq;
        }
        pk->rel = (int64_t)(int32_t)(seq - s->base);
        if (fl & 0x02)
            pk->rel += 1;
        if (pk->pay_len) {
            if (pk->rel < s->min_rel)
                s->min_rel = pk->rel;
            if (pk->rel + (int64_t)pk->pay_len > s->max_end)
                s->max_end = pk->rel + (int64_t)pk->pay_len;
        }
        if (sp == dp)
            f->client_side = 2; /* both ends the same port: leave alone */
    }
    for (size_t i = 0; i < t->nflows; i++) {
        struct tflow *f = &t->flows[i];
        if (f->client_side == 2 || f->client_side >= 0)
            continue;
        int sa = g->server_port[f->a], sb = g->server_port[f->b];
        if (sa && !sb)
            f->client_side = 1;
        else if (sb && !sa)
            f->client_side = 0;
        else {
            f->client_side = 1; /* neither or both known: the lower port serves */
            fprintf(stderr, "gen: %s: flow %u<->%u: server side guessed as %u\n", path, f->a,
                    f->b, f->a);
        }
    }

    /* pass 2: reassemble each side, find identifiers */
    struct match *m = NULL;
    size_t nm = 0, capm = 0;
    size_t *side_m0 = gen_xcalloc(t->nflows * 2 + 1, sizeof *side_m0);
    for (size_t fi = 0; fi < t->nflows; fi++) {
        for (int sd = 0; sd < 2; sd++) {
            struct tside *s = &t->flows[fi].s[sd];
            side_m0[fi * 2 + (size_t)sd] = nm;
            int64_t span = s->max_end - s->min_rel;
            if (span <= 0)
                continue;
            if (span > (int64_t)GEN_MAX_STREAM) {
                s->broken = 1;
                fprintf(stderr, "gen: %s: flow %u<->%u: stream of %" PRId64
                        " bytes > %u, ids not rewritten\n", path, t->flows[fi].a,
                        t->flows[fi].b, span, GEN_MAX_STREAM);
                continue;
            }
            uint8_t *sb = gen_xcalloc((size_t)span, 1);
            for (size_t i = 0; i < t->npkts; i++) {
                struct tpkt *pk = &t->pkts[i];
                if (pk->flow != (int32_t)fi || pk->side != sd || !pk->pay_len)
                    continue;
                memcpy(sb + (pk->rel - s->min_rel), t->data + pk->off + pk->pay_off, pk->pay_len);
            }
            gen_scan(sb, (size_t)span, &m, &nm, &capm);
            for (size_t k = side_m0[fi * 2 + (size_t)sd]; k < nm; k++)
                m[k].off += s->min_rel; /* back to rel coordinates */
            free(sb);
        }
    }
    side_m0[t->nflows * 2] = nm;

    /* distinct ids, sorted by value; matches get their index */
    struct match *sorted = gen_xcalloc(nm, sizeof *sorted);
    if (nm)
        memcpy(sorted, m, nm * sizeof *m);
    qsort(sorted, nm, sizeof *sorted, gen_match_cmp);
    t->ids = gen_xcalloc(nm, 16);
    for (size_t k = 0; k < nm; k++)
        if (t->nids == 0 || memcmp(t->ids[t->nids - 1], sorted[k].v, 16) != 0)
            memcpy(t->ids[t->nids++], sorted[k].v, 16);
    free(sorted);
    uint8_t *isreq = gen_xcalloc(t->nids, 1);
    for (size_t k = 0; k < nm; k++) {
        size_t lo = 0, hi = t->nids;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (memcmp(t->ids[mid], m[k].v, 16) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        m[k].id = (uint32_t)lo;
        if (m[k].req)
            isreq[lo] = 1;
    }
    t->reqs = gen_xcalloc(t->nids, sizeof *t->reqs);
    for (size_t k = 0; k < t->nids; k++)
        if (isreq[k])
            t->reqs[t->nreqs++] = (uint32_t)k;
    free(isreq);

    /* pass 3: per-packet patches (matches are sorted by offset per side) */
    size_t cappa = 0;
    for (size_t i = 0; i < t->npkts; i++) {
        struct tpkt *pk = &t->pkts[i];
        pk->patch0 = (uint32_t)t->npatches;
        if (pk->flow < 0 || !pk->pay_len)
            continue;
        size_t sidx = (size_t)pk->flow * 2 + pk->side;
        size_t lo = side_m0[sidx], hi = side_m0[sidx + 1];
        int64_t p0 = pk->rel, p1 = pk->rel + (int64_t)pk->pay_len;
        while (lo < hi) { /* first match ending after p0 */
            size_t mid = (lo + hi) / 2;
            if (m[mid].off + m[mid].len <= p0)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (size_t k = lo; k < side_m0[sidx + 1] && m[k].off < p1; k++) {
            int64_t a = m[k].off > p0 ? m[k].off : p0;
            int64_t b = m[k].off + m[k].len < p1 ? m[k].off + m[k].len : p1;
            if (t->npatches == cappa) {
                cappa = cappa ? cappa * 2 : 256;
                t->patches = gen_xrealloc(t->patches, cappa, sizeof *t->patches);
            }
            struct patch *pa = &t->patches[t->npatches++];
            pa->pkt_off = (uint32_t)(pk->pay_off + (a - p0));
            pa->id_off = (uint16_t)(a - m[k].off);
            pa->n = (uint16_t)(b - a);
            pa->id = m[k].id;
            pa->len = m[k].len;
            pa->token = m[k].token;
        }
        pk->npatch = (uint32_t)t->npatches - pk->patch0;
    }
    free(side_m0);
    free(m);
    if (!g->no_close)
        gen_close_flows(t);
    t->out_bytes = 0;
    for (size_t i = 0; i < t->npkts; i++)
        t->out_bytes += 16u + t->pkts[i].caplen;
    return 0;
}

/* ---- identifiers --------------------------------------------------------- */

/* The copy's value of an id: a keyed hash of (seed, copy, value). Hex digit
 * 12 (UUID version) and 16 (variant) are kept so UUIDs stay well-formed. */
static void gen_map_id(uint64_t seed, uint64_t copy, const uint8_t in[16], uint8_t out[16])
{
    uint64_t hi = 0, lo = 0;
    for (int i = 0; i < 8; i++) {
        hi = hi << 8 | in[i];
        lo = lo << 8 | in[8 + i];
    }
    uint64_t k = gen_mix64(seed ^ gen_mix64(copy + 0x51ed270b27ull));
    uint64_t h1 = gen_mix64(k ^ gen_mix64(hi ^ gen_mix64(lo)));
    uint64_t h2 = gen_mix64(h1 ^ 0x2545f4914f6cdd1dull ^ gen_mix64(lo + hi));
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(h1 >> (56 - 8 * i));
        out[8 + i] = (uint8_t)(h2 >> (56 - 8 * i));
    }
    out[6] = (uint8_t)((in[6] & 0xf0) | (out[6] & 0x0f)); /* digit 12 */
    out[8] = (uint8_t)((in[8] & 0xf0) | (out[8] & 0x0f)); /* digit 16 */
}

/* Render the copy's token of length len from its value v: "gAAAAA" and
 * base64url characters drawn from v. */
static void gen_render_token(const uint8_t v[16], size_t len, char *out)
{
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint64_t x = 0;
    for (int i = 0; i < 16; i++)
        x = gen_mix64(x ^ v[i]);
    memcpy(out, "gAAAAA", 6);
    for (size_t k = 6; k < len; k++) {
        x = gen_mix64(x + 0x9e3779b97f4a7c15ull);
        out[k] = b64[x >> 58];
    }
}

/* Render v as 32 hex digits or the dashed 36-char form; returns the length. */
static size_t gen_render_id(const uint8_t v[16], int dashed, char *out)
{
    size_t n = 0;
    for (int d = 0; d < 32; d++) {
        if (dashed && (d == 8 || d == 12 || d == 16 || d == 20))
            out[n++] = '-';
        out[n++] = gen_hexdig[(v[d / 2] >> ((d & 1) ? 0 : 4)) & 0xf];
    }
    return n;
}

/* ---- port allocator: min-heap on (until, port) -------------------------- */

static int gen_port_less(const struct portent *a, const struct portent *b)
{
    return a->until < b->until || (a->until == b->until && a->port < b->port);
}

static void gen_port_sift_down(struct gen *g, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, s = i;
        if (l < g->nph && gen_port_less(&g->ph[l], &g->ph[s]))
            s = l;
        if (r < g->nph && gen_port_less(&g->ph[r], &g->ph[s]))
            s = r;
        if (s == i)
            return;
        struct portent tmp = g->ph[i];
        g->ph[i] = g->ph[s];
        g->ph[s] = tmp;
        i = s;
    }
}

static void gen_ports_init(struct gen *g)
{
    g->ph = gen_xcalloc(65536, sizeof *g->ph);
    for (uint32_t p = GEN_PORT_LO; p < 65536; p++)
        if (!g->server_port[p]) {
            g->ph[g->nph].until = INT64_MIN / 2;
            g->ph[g->nph].port = (uint16_t)p;
            g->nph++;
        }
}

/* A client port free for [a, b]: the one idle longest. Reuse within the
 * quiet time (TIME_WAIT-like) is counted; an overlap is fatal. */
static int gen_port_alloc(struct gen *g, int64_t a, int64_t b, uint16_t *port)
{
    struct portent *top = &g->ph[0];
    if (top->until >= a) {
        fprintf(stderr, "gen: out of client ports (%zu ports all busy at t=%.3f s); lower "
                "--concurrency or --port-quiet\n", g->nph, (double)(a - g->epoch0) / 1e6);
        return -1;
    }
    if (top->until + g->quiet_us > a)
        g->early_reuse++;
    *port = top->port;
    top->until = b;
    gen_port_sift_down(g, 0);
    return 0;
}

/* ---- merge heap of active copies ----------------------------------------- */

static int64_t gen_copy_ts(const struct copy *c)
{
    return c->start + c->t->pkts[c->pos].ts;
}

static int gen_copy_less(const struct copy *a, const struct copy *b)
{
    int64_t ta = gen_copy_ts(a), tb = gen_copy_ts(b);
    return ta < tb || (ta == tb && a->idx < b->idx);
}

static void gen_heap_push(struct gen *g, struct copy *c)
{
    if (g->nheap == g->capheap) {
        g->capheap = g->capheap ? g->capheap * 2 : 256;
        g->heap = gen_xrealloc(g->heap, g->capheap, sizeof *g->heap);
    }
    size_t i = g->nheap++;
    g->heap[i] = c;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!gen_copy_less(g->heap[i], g->heap[p]))
            break;
        struct copy *tmp = g->heap[i];
        g->heap[i] = g->heap[p];
        g->heap[p] = tmp;
        i = p;
    }
}

static void gen_heap_down(struct gen *g, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, s = i;
        if (l < g->nheap && gen_copy_less(g->heap[l], g->heap[s]))
            s = l;
        if (r < g->nheap && gen_copy_less(g->heap[r], g->heap[s]))
            s = r;
        if (s == i)
            return;
        struct copy *tmp = g->heap[i];
        g->heap[i] = g->heap[s];
        g->heap[s] = tmp;
        i = s;
    }
}

/* ---- copies ---------------------------------------------------------------- */

static struct tmpl *gen_pick(struct gen *g)
{
    double u = gen_unit(g) * g->wsum;
    struct tmpl *last = NULL;
    for (size_t i = 0; i < g->nt; i++) {
        if (g->t[i].weight <= 0.0)
            continue;
        last = &g->t[i];
        if (u < g->t[i].weight)
            return last;
        u -= g->t[i].weight;
    }
    return last;
}

/* Start copy number g->ncopies at g->next_start: ports, id map, truth line.
 * Returns the copy, or NULL when the port space is exhausted. */
static struct copy *gen_copy_new(struct gen *g, struct tmpl *t)
{
    struct copy *c = gen_xcalloc(1, sizeof *c);
    c->idx = g->ncopies++;
    c->t = t;
    c->start = g->next_start;
    c->ports = gen_xcalloc(t->nflows, sizeof *c->ports);
    for (size_t i = 0; i < t->nflows; i++) {
        const struct tflow *f = &t->flows[i];
        if (f->client_side == 2)
            continue;
        if (gen_port_alloc(g, c->start + f->first, c->start + f->last, &c->ports[i])) {
            free(c->ports);
            free(c);
            return NULL;
        }
    }
    c->map = gen_xcalloc(t->nids, 16);
    for (size_t i = 0; i < t->nids; i++)
        gen_map_id(g->seed, c->idx, t->ids[i], c->map[i]);
    int cut = c->start + t->pkts[0].ts < g->cut_before;
    if (cut) { /* only what falls after the cut is written */
        g->ncut++;
        for (size_t i = 0; i < t->npkts; i++)
            if (c->start + t->pkts[i].ts >= g->cut_before)
                g->planned += 16u + t->pkts[i].caplen;
    } else {
        g->planned += t->out_bytes;
    }
    g->busy_us += (double)t->dur;
    t->ncopies++;

    fprintf(g->ft, "%" PRIu64 "\t%s\t%s\t%s\t%s\t%" PRId64 ".%06" PRId64 "\t", c->idx, t->name,
            t->service, t->host, t->kind, c->start / 1000000, c->start % 1000000);
    for (size_t i = 0; i < t->nreqs; i++) {
        char txt[40];
        size_t n = gen_render_id(c->map[t->reqs[i]], 1, txt);
        fprintf(g->ft, "%sreq-%.*s", i ? "," : "", (int)n, txt);
    }
    if (t->nreqs == 0)
        fputc('-', g->ft);
    /* client flows: port:first_us:last_us, so a message can be traced to
     * its copy by port and time even when it carries no request id */
    fputc('\t', g->ft);
    int any = 0;
    for (size_t i = 0; i < t->nflows; i++) {
        const struct tflow *f = &t->flows[i];
        if (f->client_side == 2)
            continue;
        fprintf(g->ft, "%s%u:%" PRId64 ":%" PRId64, any ? "," : "", c->ports[i],
                c->start + f->first, c->start + f->last);
        any = 1;
    }
    if (!any)
        fputc('-', g->ft);
    fputs(cut ? "\tcut\n" : "\twhole\n", g->ft);
    return c;
}

static void gen_copy_free(struct copy *c)
{
    if (!c)
        return;
    free(c->ports);
    free(c->map);
    free(c);
}

static void gen_put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Write the copy's current packet with its ports and ids rewritten. */
static int gen_emit(struct gen *g, const struct copy *c)
{
    const struct tmpl *t = c->t;
    const struct tpkt *pk = &t->pkts[c->pos];
    if (gen_copy_ts(c) < g->cut_before)
        return 0; /* --warm: before the capture began */
    uint8_t *b = g->buf + 16;
    memcpy(b, t->data + pk->off, pk->caplen);
    if (pk->flow >= 0) {
        const struct tflow *f = &t->flows[pk->flow];
        if (f->client_side != 2) {
            uint16_t np = c->ports[pk->flow];
            /* client sends: rewrite the source port, else the destination */
            uint32_t at = pk->tcp_off + (pk->side == f->client_side ? 0u : 2u);
            if (at + 2 <= pk->caplen) {
                b[at] = (uint8_t)(np >> 8);
                b[at + 1] = (uint8_t)np;
            }
        }
        /* a close segment with a real checksum gets it again (new port);
         * the offload form does not cover ports */
        if (pk->synth == GEN_SYNTH_FULL)
            gen_tcp_csum(b, pk->ip_off, pk->tcp_off, pk->caplen - pk->tcp_off, GEN_SYNTH_FULL);
        for (uint32_t k = 0; k < pk->npatch; k++) {
            const struct patch *pa = &t->patches[pk->patch0 + k];
            char txt[GEN_TOKEN_MAX + 1];
            size_t n = pa->len;
            if (pa->token)
                gen_render_token(c->map[pa->id], n, txt);
            else
                n = gen_render_id(c->map[pa->id], pa->len == 36, txt);
            /* patches were clipped to the payload at load time */
            if ((size_t)pa->id_off + pa->n <= n && (size_t)pa->pkt_off + pa->n <= pk->caplen)
                memcpy(b + pa->pkt_off, txt + pa->id_off, pa->n);
        }
    }
    int64_t ts = gen_copy_ts(c);
    if (g->npackets == 0)
        g->first_ts = g->last_ts = ts;
    g->active_us += (double)(ts - g->last_ts) * (double)g->nheap;
    g->last_ts = ts;
    gen_put_le32(g->buf, (uint32_t)(ts / 1000000));
    gen_put_le32(g->buf + 4, (uint32_t)(ts % 1000000));
    gen_put_le32(g->buf + 8, pk->caplen);
    gen_put_le32(g->buf + 12, pk->origlen);
    if (fwrite(g->buf, 1, 16u + pk->caplen, g->fo) != 16u + pk->caplen)
        return -1;
    g->npackets++;
    g->nbytes += 16u + pk->caplen;
    return 0;
}

static int gen_want_more(const struct gen *g)
{
    if (g->target_copies)
        return g->ncopies - g->ncut < g->target_copies;
    return g->planned + 24 < g->target_bytes;
}

/* Main loop: start copies as their time comes, merge, write. */
static int gen_run(struct gen *g)
{
    double mean_dur = 0.0;
    for (size_t i = 0; i < g->nt; i++)
        mean_dur += g->t[i].weight / g->wsum * (double)g->t[i].dur;
    double mean_gap = mean_dur / g->concurrency; /* us between copy starts */
    g->epoch0 = INT64_MAX;
    for (size_t i = 0; i < g->nt; i++)
        if (g->t[i].t0 < g->epoch0)
            g->epoch0 = g->t[i].t0;
    g->next_start = g->epoch0;
    g->cut_before = INT64_MIN;
    if (g->warm) {
        /* begin as long before the capture as the longest template lasts:
         * at epoch0 every template's copies are in flight in the proportion
         * of steady state, as on a span port turned on in a running cloud */
        int64_t w = 0;
        for (size_t i = 0; i < g->nt; i++)
            if (g->t[i].weight > 0.0 && g->t[i].dur > w)
                w = g->t[i].dur;
        g->cut_before = g->epoch0;
        g->next_start = g->epoch0 - w;
    }

    uint8_t hdr[24];
    gen_put_le32(hdr, 0xa1b2c3d4u);
    hdr[4] = 2, hdr[5] = 0, hdr[6] = 4, hdr[7] = 0; /* version 2.4, LE */
    memset(hdr + 8, 0, 8);
    gen_put_le32(hdr + 16, GEN_SNAPLEN);
    gen_put_le32(hdr + 20, 1); /* LINKTYPE_ETHERNET */
    if (fwrite(hdr, 1, sizeof hdr, g->fo) != sizeof hdr)
        goto io;
    g->nbytes = sizeof hdr;

    int more = gen_want_more(g);
    while (more || g->nheap) {
        if (more && (g->nheap == 0 || g->next_start <= gen_copy_ts(g->heap[0]))) {
            struct copy *c = gen_copy_new(g, gen_pick(g));
            if (!c)
                return -1;
            gen_heap_push(g, c);
            if (g->nheap > g->max_active)
                g->max_active = g->nheap;
            double u = gen_unit(g);
            g->next_start += (int64_t)(-mean_gap * log(1.0 - u));
            more = gen_want_more(g);
            continue;
        }
        struct copy *c = g->heap[0];
        if (gen_emit(g, c))
            goto io;
        if (++c->pos == c->t->npkts) {
            g->heap[0] = g->heap[--g->nheap];
            gen_copy_free(c);
        }
        if (g->nheap)
            gen_heap_down(g, 0);
    }
    return 0;
io:
    fprintf(stderr, "gen: %s: write error: %s\n", g->out, strerror(errno));
    return -1;
}

static void gen_usage(FILE *f)
{
    fputs("usage: gen -o OUT.pcap (--bytes N[K|M|G] | --copies N) [options]\n"
          "  --templates DIR     template captures (default testdata)\n"
          "  --truth FILE        template labels (default DIR/TRUTH)\n"
          "  --truth-out FILE    ground truth per copy (default OUT with .truth)\n"
          "  --mix a=w,b=w       template weights (names with or without .pcap;\n"
          "                      unnamed templates get 0); default: all 1\n"
          "  --faulty-ratio R    share of copies from faulty templates (0..1)\n"
          "  --concurrency C     mean number of overlapping copies (default 200)\n"
          "  --seed S            PRNG and id-hash seed (default 1)\n"
          "  --port-quiet SEC    keep a client port unused this long after its flow\n"
          "                      (default 30; reuse earlier only when unavoidable, counted)\n"
          "  --warm              start at steady state: copies also start during the\n"
          "                      longest template's duration before the capture, and\n"
          "                      their packets before it are left out (truth column 9:\n"
          "                      cut); default: the first copy starts the capture\n"
          "  --no-close          leave the flows a template leaves open (no FIN/RST in it)\n"
          "                      open in every copy; default: each copy closes them\n"
          "                      (client FIN, server FIN, client ACK) after their last packet\n",
          f);
}

int main(int argc, char **argv)
{
    static struct gen g; /* large: keep it off the stack */
    static const struct option lo[] = {
        {"templates", required_argument, NULL, 'T'}, {"truth", required_argument, NULL, 't'},
        {"truth-out", required_argument, NULL, 'O'}, {"mix", required_argument, NULL, 'm'},
        {"faulty-ratio", required_argument, NULL, 'f'},
        {"concurrency", required_argument, NULL, 'c'}, {"seed", required_argument, NULL, 's'},
        {"bytes", required_argument, NULL, 'b'},     {"copies", required_argument, NULL, 'n'},
        {"port-quiet", required_argument, NULL, 'q'}, {"no-close", no_argument, NULL, 'N'},
        {"warm", no_argument, NULL, 'W'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char truth_def[4096], tout_def[4096];
    double quiet = 30.0;
    int c, rc = 2;
    g.tdir = "testdata";
    g.faulty_ratio = -1.0;
    g.concurrency = 200.0;
    g.seed = 1;
    while ((c = getopt_long(argc, argv, "o:h", lo, NULL)) != -1) {
        switch (c) {
        case 'o': g.out = optarg; break;
        case 'T': g.tdir = optarg; break;
        case 't': g.truth_in = optarg; break;
        case 'O': g.truth_out = optarg; break;
        case 'm': g.mix = optarg; break;
        case 'f':
            if (gen_parse_double(optarg, &g.faulty_ratio))
                goto bad;
            break;
        case 'c':
            if (gen_parse_double(optarg, &g.concurrency) || g.concurrency <= 0.0)
                goto bad;
            break;
        case 's':
            if (gen_parse_size(optarg, &g.seed))
                goto bad;
            break;
        case 'b':
            if (gen_parse_size(optarg, &g.target_bytes))
                goto bad;
            break;
        case 'n':
            if (gen_parse_size(optarg, &g.target_copies))
                goto bad;
            break;
        case 'q':
            if (gen_parse_double(optarg, &quiet))
                goto bad;
            break;
        case 'N': g.no_close = 1; break;
        case 'W': g.warm = 1; break;
        case 'h': gen_usage(stdout); return 0;
        default: gen_usage(stderr); return 2;
        }
    }
    if (!g.out || optind != argc || (!g.target_bytes && !g.target_copies)) {
        gen_usage(stderr);
        return 2;
    }
    g.quiet_us = (int64_t)(quiet * 1e6);
    g.rng = g.seed;
    if (!g.truth_in) {
        if ((size_t)snprintf(truth_def, sizeof truth_def, "%s/TRUTH", g.tdir) >= sizeof truth_def)
            goto bad;
        g.truth_in = truth_def;
    }
    if (!g.truth_out) {
        size_t n = strlen(g.out);
        if (n > 5 && strcmp(g.out + n - 5, ".pcap") == 0)
            n -= 5;
        if ((size_t)snprintf(tout_def, sizeof tout_def, "%.*s.truth", (int)n, g.out) >=
            sizeof tout_def)
            goto bad;
        g.truth_out = tout_def;
    }
    if (gen_read_truth(&g) || gen_weights(&g))
        return 2;
    for (size_t i = 0; i < sizeof gen_known_servers / sizeof gen_known_servers[0]; i++)
        g.server_port[gen_known_servers[i]] = 1;
    /* any port that receives a SYN in any template is a server port */
    for (size_t i = 0; i < g.nt; i++) {
        char path[4096], err[PCAP_ERRBUF_SIZE];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", g.tdir, g.t[i].name) >= sizeof path)
            goto bad;
        pcap_t *pc = pcap_open_offline(path, err);
        if (!pc) {
            fprintf(stderr, "gen: %s: %s\n", path, err);
            return 2;
        }
        struct pcap_pkthdr *h;
        const uint8_t *d;
        while (pcap_next_ex(pc, &h, &d) == 1) {
            struct tpkt pk;
            uint16_t sp, dp;
            uint32_t seq;
            uint8_t fl;
            if (pcap_datalink(pc) == DLT_EN10MB && !gen_decode(d, h->caplen, &pk, &sp, &dp, &seq, &fl) &&
                (fl & 0x12) == 0x02)
                g.server_port[dp] = 1;
        }
        pcap_close(pc);
    }
    for (size_t i = 0; i < g.nt; i++)
        if (g.t[i].weight > 0.0 && gen_load_tmpl(&g, &g.t[i]))
            return 2;
    gen_ports_init(&g);

    g.fo = fopen(g.out, "wb");
    g.ft = fopen(g.truth_out, "w");
    if (!g.fo || !g.ft) {
        fprintf(stderr, "gen: %s: %s\n", !g.fo ? g.out : g.truth_out, strerror(errno));
        goto out;
    }
    setvbuf(g.fo, NULL, _IOFBF, 1u << 20);
    fprintf(g.ft, "# osrca bench truth: seed=%" PRIu64 " concurrency=%g templates=%s\n", g.seed,
            g.concurrency, g.tdir);
    fprintf(g.ft, "# copy\ttemplate\tservice\thost\tkind\tstart\trequest-ids\t"
                  "client-port:first-us:last-us\tcut|whole\n");
    if (gen_run(&g))
        goto out;
    if (fclose(g.fo) != 0) {
        g.fo = NULL;
        fprintf(stderr, "gen: %s: %s\n", g.out, strerror(errno));
        goto out;
    }
    g.fo = NULL;
    if (fclose(g.ft) != 0) {
        g.ft = NULL;
        fprintf(stderr, "gen: %s: %s\n", g.truth_out, strerror(errno));
        goto out;
    }
    g.ft = NULL;
    rc = 0;
    {
        double span = (double)(g.last_ts - g.first_ts);
        uint64_t cfin = 0, crst = 0;
        for (size_t i = 0; i < g.nt; i++) {
            cfin += g.t[i].ncopies * g.t[i].nclose_fin;
            crst += g.t[i].ncopies * g.t[i].nclose_rst;
        }
        fprintf(stderr,
                "gen: %s: %" PRIu64 " copies (%" PRIu64 " cut by --warm), %" PRIu64 " packets, %" PRIu64
                " bytes, %.1f s of traffic, copies active: mean %.1f max %" PRIu64
                ", early port reuse %" PRIu64 ", open flows closed %s (FIN %" PRIu64
                ", RST %" PRIu64 ")\n",
                g.out, g.ncopies, g.ncut, g.npackets, g.nbytes, span / 1e6,
                span > 0 ? g.active_us / span : 0.0, g.max_active, g.early_reuse,
                g.no_close ? "off" : "on", cfin, crst);
        if (g.warm && g.ncut == g.ncopies)
            fprintf(stderr, "gen: warning: --warm: the copies in flight at the capture's start "
                            "fill --bytes by themselves: every copy is cut (ask for more bytes, "
                            "or less concurrency)\n");
        for (size_t i = 0; i < g.nt; i++)
            if (g.t[i].ncopies)
                fprintf(stderr, "gen:   %-40s %6" PRIu64 " copies  (%s)\n", g.t[i].name,
                        g.t[i].ncopies, g.t[i].faulty ? g.t[i].service : "fault-free");
    }
out:
    if (g.fo)
        fclose(g.fo);
    if (g.ft)
        fclose(g.ft);
    for (size_t i = 0; i < g.nheap; i++)
        gen_copy_free(g.heap[i]);
    free(g.heap);
    free(g.ph);
    for (size_t i = 0; i < g.nt; i++) {
        struct tmpl *t = &g.t[i];
        free(t->data);
        free(t->pkts);
        free(t->flows);
        free(t->ids);
        free(t->reqs);
        free(t->patches);
    }
    return rc;
bad:
    fprintf(stderr, "gen: bad option value\n");
    gen_usage(stderr);
    return 2;
}
