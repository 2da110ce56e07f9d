/* fuzz_evwire.c -- libFuzzer target for what a correlator reads back from
 * the bus or a stream file: frames of sensors' events (parsers/evwire.c)
 * and their merge (rca/merge.c). The input is a sequence of frames, each
 * after its length (2 bytes, big endian); frame k is taken as sensor k % 3's
 * (the id in the frame may name another). Every event decoded is encoded
 * again and decoded again: the two encodings must be equal (the codec
 * reads back exactly what it writes). Released events are freed. Any
 * crash, leak, unbounded work or mismatch is a bug. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/evwire.h"
#include "rca/merge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_event(void *ctx, struct event *ev, int sensor)
{
    (void)ctx;
    (void)sensor;
    event_free(ev);
}

static void on_tick(void *ctx, uint64_t now)
{
    (void)ctx;
    (void)now;
}

static void roundtrip(const struct event *ev)
{
    struct evwire_buf a = {0}, b = {0};
    evwire_begin(&a, "x", 1, 1);
    evwire_put_event(&a, ev);
    struct evwire_reader r;
    struct evwire_rec_out o;
    enum evwire_err e;
    if (!a.failed && evwire_open(&r, a.p, a.n) == EVWIRE_OK && evwire_next(&r, NULL, &o, &e) == 1) {
        evwire_begin(&b, "x", 1, 1);
        evwire_put_event(&b, o.ev);
        if (!b.failed && (a.n != b.n || memcmp(a.p, b.p, a.n) != 0))
            abort(); /* decode(encode(ev)) encodes differently */
        event_free(o.ev);
    } else if (!a.failed) {
        abort(); /* what the writer wrote, the reader refuses */
    }
    evwire_buf_free(&a);
    evwire_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct merge_cfg mc;
    merge_defaults(&mc);
    mc.max_queued = 64;
    mc.max_skew_us = 1000000;
    struct merge *m = merge_new(&mc, NULL, on_event, on_tick, NULL);
    if (!m)
        return 0;
    int s[3] = {merge_sensor(m, "a"), merge_sensor(m, "b"), merge_sensor(m, "c")};
    size_t off = 0;
    unsigned k = 0;
    while (off + 2 <= size) {
        size_t n = (size_t)data[off] << 8 | data[off + 1];
        off += 2;
        if (n > size - off)
            n = size - off;
        struct evwire_reader r;
        int sensor = s[k++ % 3];
        if (evwire_open(&r, data + off, n) == EVWIRE_OK) {
            struct evwire_rec_out o;
            enum evwire_err e;
            int rc;
            while ((rc = evwire_next(&r, NULL, &o, &e)) != 0) {
                if (rc < 0)
                    continue;
                if (o.type == EVWIRE_EVENT) {
                    roundtrip(o.ev);
                    merge_push(m, sensor, o.ev);
                } else if (o.type == EVWIRE_MARK) {
                    merge_tick(m, sensor, o.clock_us);
                } else {
                    merge_end(m, sensor);
                }
            }
            merge_release(m);
        }
        off += n;
    }
    merge_flush(m);
    merge_free(m);
    return 0;
}
