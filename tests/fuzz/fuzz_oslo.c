/* fuzz_oslo.c -- libFuzzer target for the oslo.messaging body decoder
 * (oslo_decode, parsers/oslo.h) on raw AMQP bodies: envelope 2.0 / 1.0,
 * replies with failures, notifications; then the zlib inflater on the same
 * bytes. Every string the decoder leaves in the event must be free of
 * Fernet tokens. Seeds: tests/fuzz/seeds.py (the message bodies of the
 * testdata captures); run with -max_len=8192 (tests/fuzz/run.sh). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/mem.h"
#include "parsers/oslo.h"

static void no_token(const char *s)
{
    if (s && strstr(s, "gAAAAAB") && strlen(strstr(s, "gAAAAAB")) > 40) {
        const char *t = strstr(s, "gAAAAAB");
        size_t k = 0;
        while (t[k] && ((t[k] >= 'a' && t[k] <= 'z') || (t[k] >= 'A' && t[k] <= 'Z') ||
                        (t[k] >= '0' && t[k] <= '9') || t[k] == '-' || t[k] == '_' || t[k] == '='))
            k++;
        if (k >= 40)
            abort(); /* a Fernet-looking token survived */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct oslo_cfg cfg;
    oslo_defaults(&cfg);
    cfg.max_traceback = 512;
    struct mem_pool pool;
    mem_pool_init(&pool, "events", 64u << 20);
    struct event *ev = event_new(&pool);
    if (!ev)
        return 0;
    uint8_t *copy = malloc(size ? size : 1);
    if (size)
        memcpy(copy, data, size);
    oslo_decode(ev, copy, size, &cfg, NULL);
    const char *f[] = {ev->rpc_method, ev->msg_id, ev->reply_q, ev->unique_id, ev->request_id,
                       ev->global_request_id, ev->error_class, ev->error_module,
                       ev->error_message, ev->traceback, ev->publisher_id, ev->event_type,
                       ev->priority, ev->ctx_user, ev->ctx_project, ev->rpc_version,
                       ev->rpc_namespace};
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
        no_token(f[i]);
    if (ev->traceback && strlen(ev->traceback) > cfg.max_traceback)
        abort();
    event_free(ev);
    size_t on = 0, ocap = 0;
    const char *why = NULL;
    uint8_t *infl = oslo_inflate(&pool, copy, size, 1u << 20, &on, &ocap, &why);
    if (infl) {
        if (on > ocap || ocap > (1u << 20))
            abort();
        mem_free(&pool, infl, ocap);
    } else if (!why || !*why) {
        abort(); /* every refusal says why */
    }
    free(copy);
    if (pool.used != 0)
        abort(); /* everything charged was released */
    return 0;
}
