/* fuzz_bus.c -- libFuzzer target for what the correlator reads out of
 * Redis's answers (cli/net/bus.c: bus_reply_streams, bus_reply_entries):
 * the input is turned into a hiredis reply tree of any shape (a type byte
 * per node: string, array, integer, nil, status, error; lengths and counts
 * from the next bytes), which is walked as an XREADGROUP answer for two
 * streams and as one stream's entries; every frame found is decoded as the
 * correlator would (parsers/evwire.h). Any crash, leak or read outside the
 * tree is a bug. */
#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/net/bus.h"
#include "parsers/evwire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct in {
    const uint8_t *p, *end;
    int nodes;
};

static unsigned take(struct in *in)
{
    return in->p < in->end ? *in->p++ : 0;
}

static void free_tree(redisReply *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->elements; i++)
        free_tree(r->element[i]);
    free(r->element);
    free(r->str);
    free(r);
}

static redisReply *build(struct in *in, int depth)
{
    redisReply *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    in->nodes++;
    unsigned t = take(in) % 6;
    static const int types[6] = {REDIS_REPLY_STRING, REDIS_REPLY_ARRAY,  REDIS_REPLY_INTEGER,
                                 REDIS_REPLY_NIL,    REDIS_REPLY_STATUS, REDIS_REPLY_ERROR};
    r->type = types[t];
    if (r->type == REDIS_REPLY_ARRAY && depth < 6 && in->nodes < 512) {
        r->elements = take(in) % 9;
        r->element = calloc(r->elements ? r->elements : 1, sizeof(*r->element));
        if (!r->element) {
            r->elements = 0;
            return r;
        }
        for (size_t i = 0; i < r->elements; i++) {
            r->element[i] = build(in, depth + 1);
            if (!r->element[i]) { /* hiredis never leaves a hole: cut the array */
                r->elements = i;
                break;
            }
        }
    } else if (r->type == REDIS_REPLY_ARRAY) {
        r->type = REDIS_REPLY_NIL;
    } else if (r->type != REDIS_REPLY_INTEGER && r->type != REDIS_REPLY_NIL) {
        size_t n = take(in);
        if (n == 255) /* a frame-sized string now and then */
            n = (size_t)take(in) << 8 | take(in);
        if (n > (size_t)(in->end - in->p))
            n = (size_t)(in->end - in->p);
        r->str = malloc(n + 1);
        if (r->str) {
            memcpy(r->str, in->p, n);
            r->str[n] = 0; /* hiredis terminates its strings */
            r->len = n;
        }
        in->p += n;
    } else if (r->type == REDIS_REPLY_INTEGER) {
        r->integer = (long long)take(in);
    }
    return r;
}

static void on_entry(void *ctx, const struct bus_entry *e)
{
    (void)ctx;
    if (strlen(e->id) >= BUS_MAX_ID)
        abort();
    if (!e->frame)
        return;
    struct evwire_reader r;
    if (evwire_open(&r, e->frame, e->n) != EVWIRE_OK)
        return;
    struct evwire_rec_out o;
    enum evwire_err err;
    int rc;
    while ((rc = evwire_next(&r, NULL, &o, &err)) != 0)
        if (rc > 0 && o.ev)
            event_free(o.ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct in in = {data, data + size, 0};
    redisReply *r = build(&in, 0);
    if (!r)
        return 0;
    const char *keys[2] = {"osrca:s:a", "osrca:s:b"}, *ids[2] = {"a", "b"};
    bus_reply_streams(r, keys, ids, 2, on_entry, NULL);
    char last[BUS_MAX_ID] = "0";
    bus_reply_entries(r, "a", last, on_entry, NULL);
    if (r->type == REDIS_REPLY_ARRAY && r->elements)
        bus_reply_entries(r->element[0], "a", last, on_entry, NULL);
    free_tree(r);
    return 0;
}
