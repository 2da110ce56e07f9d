/* fuzz_pcap.c -- libFuzzer target for the whole capture path: the input is a
 * capture file (pcap or pcapng, read by libpcap from memory through
 * fmemopen), each frame is decoded (any link type the header names) and fed
 * to the flow table with reassembly, expiry and nDPI classification; the
 * consumer callbacks only touch the bytes they get.
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

static void on_packet(void *ctx, int linktype, const uint8_t *data, uint32_t caplen,
                      uint32_t wirelen, uint64_t ts_us)
{
    (void)ctx;
    struct pkt pk;
    if (decode_packet(linktype, data, caplen, wirelen, ts_us, &pk, st) == 0)
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
    /* a private copy: fmemopen wants a writable buffer */
    uint8_t *copy = malloc(size);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    struct source_cfg sc;
    source_defaults(&sc);
    sc.fp = fmemopen(copy, size, "rb");
    if (!sc.fp) {
        free(copy);
        return 0;
    }
    char err[256];
    struct source *src = source_open(&sc, err, sizeof(err)); /* takes the stream */
    if (src) {
        source_run(src, on_packet, NULL, err, sizeof(err));
        source_free(src);
    }
    flow_flush(ft, 0); /* end every flow: nothing carries over to the next input */
    free(copy);
    return 0;
}
