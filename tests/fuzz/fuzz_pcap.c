/* fuzz_pcap.c -- libFuzzer target for the whole capture path: the input is a
 * capture file (pcap or pcapng, read from memory through fmemopen), each
 * frame is decoded (any link type the header names) and fed to the flow
 * table with reassembly, expiry and nDPI classification; the consumer
 * callbacks only touch the bytes they get. The file is read twice, by
 * pcap_next_ex alone and the usual way (osrca's own record reader for
 * classic pcap files): records, status and message must be the same; and
 * every frame is decoded twice, by decode_packet (with its fast path) and
 * decode_packet_general: result and fields must be the same.
 *
 * Seeds: tests/fuzz/seeds.py (one connection's packets, or a window of
 * them, behind a testdata capture's header); run with -max_len=16384:
 *   make fuzz FUZZ_TARGETS=pcap FUZZ_SECONDS=120 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/decode.h"
#include "capture/flow.h"
#include "capture/source.h"
#include "capture/stats.h"

static struct stats *st;
static struct flow_table *ft;
static volatile uint8_t sink;

static void on_data(void *ctx, struct flow *f, int dir, const uint8_t *p, size_t n, uint64_t ts)
{
    (void)ctx, (void)f, (void)dir, (void)ts;
    if (n) /* read the first and last byte: ASan checks the span is real */
        sink ^= (uint8_t)(p[0] ^ p[n - 1]);
}

/* What a reader delivered, folded into one hash (readers must agree). */
static uint64_t fold(uint64_t h, int linktype, const uint8_t *data, uint32_t caplen,
                     uint32_t wirelen, uint64_t ts_us)
{
    uint64_t v[4] = {(uint64_t)(unsigned)linktype, caplen, wirelen, ts_us};
    for (int i = 0; i < 4; i++)
        h = (h ^ v[i]) * 0x100000001b3ULL;
    for (uint32_t i = 0; i < caplen; i++)
        h = (h ^ data[i]) * 0x100000001b3ULL;
    return h;
}

static void on_reference(void *ctx, int linktype, const uint8_t *data, uint32_t caplen,
                         uint32_t wirelen, uint64_t ts_us)
{
    uint64_t *h = ctx;
    *h = fold(*h, linktype, data, caplen, wirelen, ts_us);
}

static void on_packet(void *ctx, int linktype, const uint8_t *data, uint32_t caplen,
                      uint32_t wirelen, uint64_t ts_us)
{
    uint64_t *h = ctx;
    *h = fold(*h, linktype, data, caplen, wirelen, ts_us);
    struct pkt pk, gen;
    int rc = decode_packet(linktype, data, caplen, wirelen, ts_us, &pk, st);
    /* the fast path decodes what the general one would, field for field */
    memset(&gen, 0, sizeof(gen));
    if (decode_packet_general(linktype, data, caplen, wirelen, ts_us, &gen, NULL) != rc ||
        (rc == 0 && memcmp(&pk, &gen, sizeof(pk)) != 0))
        abort();
    if (rc == 0)
        flow_packet(ft, &pk);
    flow_expire(ft, ts_us);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    st = stats_new();
    struct flow_cfg cfg;
    flow_defaults(&cfg);
    /* small caps so the fuzzer reaches eviction and memcap paths */
    cfg.max_flows = 32;
    cfg.max_ooo_per_flow = 4096;
    cfg.max_ooo_total = 16384;
    cfg.use_ndpi = getenv("FUZZ_NO_NDPI") == NULL;
    static const struct flow_port ports[] = {{5672, FLOW_APP_AMQP, "rabbitmq"},
                                             {8774, FLOW_APP_HTTP, "nova-api"}};
    cfg.ports = ports;
    cfg.nports = 2;
    struct flow_cb cb = {NULL, NULL, on_data, NULL, NULL, NULL};
    ft = flow_table_new(&cfg, st, &cb);
    if (!st || !ft)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    /* a private copy: fmemopen wants a writable buffer. Read twice: by
     * pcap_next_ex alone (the reference), then the usual way (osrca's own
     * reader for classic pcap files) into the flow table; both must
     * deliver the same records and end the same way. */
    uint8_t *copy = malloc(size);
    if (!copy)
        return 0;
    uint64_t hash[2] = {0, 0};
    int rc[2] = {99, 99};
    char err[2][256] = {"", ""};
    for (int pass = 0; pass < 2; pass++) {
        memcpy(copy, data, size);
        struct source_cfg sc;
        source_defaults(&sc);
        sc.libpcap_only = pass == 0;
        sc.fp = fmemopen(copy, size, "rb");
        if (!sc.fp)
            break;
        struct source *src = source_open(&sc, err[pass], sizeof(err[pass])); /* takes the stream */
        if (src) {
            rc[pass] = source_run(src, pass ? on_packet : on_reference, &hash[pass], err[pass],
                                  sizeof(err[pass]));
            source_free(src);
        }
    }
    if (rc[0] != rc[1] || hash[0] != hash[1] || strcmp(err[0], err[1]) != 0)
        abort(); /* our reader and libpcap's disagree */
    flow_flush(ft, 0); /* end every flow: nothing carries over to the next input */
    free(copy);
    return 0;
}
