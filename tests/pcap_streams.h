/* pcap_streams.h -- a tiny pcap reader for the AMQP parser tests
 * (check_amqp.c, check_oslo.c): the in-order TCP payload of every
 * connection to port 5672 of a bundled capture, per packet and direction.
 * Ethernet/IPv4 only (the bundled captures); retransmitted bytes trimmed. */
#ifndef OSRCA_TESTS_PCAP_STREAMS_H
#define OSRCA_TESTS_PCAP_STREAMS_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


struct chunk {
    int flow;
    int dir;
    uint64_t ts;
    uint8_t *p;
    size_t n;
};

struct capture {
    struct chunk *c;
    size_t n, cap;
    uint16_t ports[256];
    uint32_t next[256][2];
    int have_next[256][2];
    int nflows;
    uint8_t *raw; /* the whole file, for secret scans */
    size_t raw_n;
};

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static struct capture *load_capture(const char *name)
{
    char path[512];
    const char *dir = getenv("OSRCA_TESTDATA");
    snprintf(path, sizeof(path), "%s/%s", dir ? dir : "testdata", name);
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "cannot read %s (run from the repository root)", path);
    fseek(fp, 0, SEEK_END);
    size_t n = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *b = malloc(n);
    ck_assert_uint_eq(fread(b, 1, n, fp), n);
    fclose(fp);
    struct capture *cap = calloc(1, sizeof(*cap));
    cap->raw = b;
    cap->raw_n = n;
    size_t off = 24;
    while (off + 16 <= n) {
        uint64_t ts = (uint64_t)le32(b + off) * 1000000 + le32(b + off + 4);
        uint32_t caplen = le32(b + off + 8);
        const uint8_t *pk = b + off + 16;
        off += 16 + caplen;
        if (off > n || caplen < 54 || pk[12] != 0x08 || pk[13] != 0x00)
            continue;
        const uint8_t *ip = pk + 14;
        size_t ihl = (size_t)(ip[0] & 15) * 4;
        size_t tot = ((size_t)ip[2] << 8) | ip[3];
        if (ip[9] != 6 || tot > caplen - 14)
            continue;
        const uint8_t *tcp = ip + ihl;
        uint16_t sp = (uint16_t)((tcp[0] << 8) | tcp[1]), dp = (uint16_t)((tcp[2] << 8) | tcp[3]);
        uint32_t seq = be32(tcp + 4);
        size_t doff = (size_t)(tcp[12] >> 4) * 4;
        if (sp != 5672 && dp != 5672)
            continue;
        int d = dp == 5672 ? 0 : 1;
        uint16_t cport = d == 0 ? sp : dp;
        int f;
        for (f = 0; f < cap->nflows; f++)
            if (cap->ports[f] == cport)
                break;
        if (f == cap->nflows) {
            if (cap->nflows == 256)
                continue;
            cap->ports[cap->nflows++] = cport;
        }
        if (tcp[13] & 0x02) {
            cap->next[f][d] = seq + 1;
            cap->have_next[f][d] = 1;
            continue;
        }
        const uint8_t *data = tcp + doff;
        size_t dn = tot - ihl - doff;
        if (dn == 0)
            continue;
        if (cap->have_next[f][d]) {
            uint32_t back = cap->next[f][d] - seq;
            if (back != 0 && back < 0x80000000u) {
                if (back >= dn)
                    continue;
                data += back;
                dn -= back;
                seq += back;
            }
        }
        cap->next[f][d] = seq + (uint32_t)dn;
        cap->have_next[f][d] = 1;
        if (cap->n == cap->cap) {
            cap->cap = cap->cap ? cap->cap * 2 : 256;
            cap->c = realloc(cap->c, cap->cap * sizeof(*cap->c));
        }
        struct chunk *c = &cap->c[cap->n++];
        c->flow = f;
        c->dir = d;
        c->ts = ts;
        c->p = malloc(dn);
        memcpy(c->p, data, dn);
        c->n = dn;
    }
    return cap;
}

static void free_capture(struct capture *cap)
{
    for (size_t i = 0; i < cap->n; i++)
        free(cap->c[i].p);
    free(cap->c);
    free(cap->raw);
    free(cap);
}

#endif
