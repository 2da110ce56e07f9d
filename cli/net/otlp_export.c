/* otlp_export.c -- traces to a file and an OTLP/HTTP collector (see
 * otlp_export.h). */
#include "cli/net/otlp_export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/common.h"
#include "cli/net/webhook.h"
#include "cli/out/otlp.h"
#include "cli/out/pb.h"

struct otlp_export {
    struct otlp_export_cfg cfg;
    FILE *file;
    int own_file;
    struct otlp_batch *one;   /* one operation, for the file */
    struct otlp_batch *batch; /* for the collector */
    uint64_t batch_since_ns;
    struct webhook *wh;
    struct pb pb;
    char *url;
    struct otlp_export_stats st;
};

void otlp_export_defaults(struct otlp_export_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->batch_spans = 512;
    cfg->batch_ms = 1000;
    cfg->queue_max = 64;
}

/* The URL to POST to: a base URL (no path, or "/") gets /v1/traces. */
static char *traces_url(const char *endpoint)
{
    const char *p = strstr(endpoint, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    size_t n = strlen(endpoint);
    int base = !p || !strcmp(p, "/");
    char *u = malloc(n + 16);
    if (!u)
        return NULL;
    if (base)
        snprintf(u, n + 16, "%.*s/v1/traces", (int)(p ? (size_t)(p - endpoint) : n), endpoint);
    else
        memcpy(u, endpoint, n + 1);
    return u;
}

struct otlp_export *otlp_export_new(const struct otlp_export_cfg *cfg, char *err,
                                    size_t errlen)
{
    struct otlp_export *x = calloc(1, sizeof(*x));
    if (!x) {
        snprintf(err, errlen, "otlp: out of memory");
        return NULL;
    }
    x->cfg = *cfg;
    if (!x->cfg.batch_spans)
        x->cfg.batch_spans = 512;
    if (!x->cfg.queue_max)
        x->cfg.queue_max = 64;
    x->one = otlp_batch_new(cfg->version);
    x->batch = otlp_batch_new(cfg->version);
    if (!x->one || !x->batch) {
        snprintf(err, errlen, "otlp: out of memory");
        goto fail;
    }
    if (cfg->file) {
        if (!strcmp(cfg->file, "-")) {
            x->file = stdout;
        } else {
            x->file = fopen(cfg->file, "w");
            x->own_file = 1;
        }
        if (!x->file) {
            snprintf(err, errlen, "--otlp %s: cannot write", cfg->file);
            goto fail;
        }
    }
    if (cfg->endpoint) {
        x->url = traces_url(cfg->endpoint);
        struct webhook_cfg wc;
        webhook_defaults(&wc);
        wc.url = x->url;
        wc.queue_max = x->cfg.queue_max;
        wc.content_type = cfg->json ? "application/json" : "application/x-protobuf";
        wc.user_agent = "osrca-otlp";
        wc.transient_only = 1;
        if (cfg->max_retries)
            wc.max_retries = cfg->max_retries;
        if (cfg->backoff_ms)
            wc.backoff_ms = cfg->backoff_ms;
        if (cfg->backoff_max_ms)
            wc.backoff_max_ms = cfg->backoff_max_ms;
        char why[512];
        x->wh = x->url ? webhook_new(&wc, why, sizeof(why)) : NULL;
        if (!x->wh) {
            snprintf(err, errlen, "--otlp-endpoint %s: %s", cfg->endpoint,
                     x->url ? why : "out of memory");
            goto fail;
        }
    }
    return x;
fail:
    otlp_export_free(x, 0);
    return NULL;
}

/* The batch to the sender, encoded, then emptied. */
static void send_batch(struct otlp_export *x)
{
    if (!x->wh || !otlp_span_count(x->batch))
        return;
    x->st.batches++;
    if (x->cfg.json) {
        char *buf = NULL;
        size_t n = 0;
        FILE *m = open_memstream(&buf, &n);
        if (m) {
            otlp_write_json(m, x->batch);
            if (fclose(m) == 0 && buf)
                webhook_post(x->wh, buf, n && buf[n - 1] == '\n' ? n - 1 : n);
        }
        free(buf);
    } else if (otlp_write_pb(&x->pb, x->batch) == 0) {
        webhook_post(x->wh, (const char *)x->pb.buf, x->pb.len);
    }
    otlp_batch_clear(x->batch);
}

void otlp_export_report(struct otlp_export *x, const struct report *r)
{
    if (x->file) {
        otlp_batch_clear(x->one);
        size_t n = otlp_add(x->one, r);
        if (n) {
            otlp_write_json(x->file, x->one);
            if (fflush(x->file) != 0)
                x->st.file_errors++;
        }
    }
    size_t n = 0;
    if (x->wh) {
        if (!otlp_span_count(x->batch))
            x->batch_since_ns = common_mono_ns();
        n = otlp_add(x->batch, r);
        if (otlp_span_count(x->batch) >= x->cfg.batch_spans)
            send_batch(x);
    } else {
        n = otlp_span_count(x->one);
    }
    if (n) {
        x->st.traces++;
        x->st.spans += n;
    } else {
        x->st.empty++;
    }
}

void otlp_export_tick(struct otlp_export *x)
{
    if (x && x->wh && otlp_span_count(x->batch) &&
        common_mono_ns() - x->batch_since_ns >= (uint64_t)x->cfg.batch_ms * 1000000ull)
        send_batch(x);
}

void otlp_export_get_stats(struct otlp_export *x, struct otlp_export_stats *out)
{
    *out = x->st;
    if (x->wh) {
        struct webhook_stats ws;
        webhook_get_stats(x->wh, &ws);
        out->sent = ws.sent;
        out->failed = ws.failed;
        out->dropped = ws.dropped;
        out->retries = ws.retries;
        out->pending = ws.pending;
    }
}

void otlp_export_finish(struct otlp_export *x, unsigned drain_ms)
{
    if (!x)
        return;
    send_batch(x);
    webhook_stop(x->wh, drain_ms);
    if (x->file)
        fflush(x->file);
}

void otlp_export_free(struct otlp_export *x, unsigned drain_ms)
{
    if (!x)
        return;
    otlp_export_finish(x, drain_ms);
    webhook_free(x->wh, 0);
    if (x->file && x->own_file)
        fclose(x->file);
    else if (x->file)
        fflush(x->file);
    otlp_batch_free(x->one);
    otlp_batch_free(x->batch);
    pb_free(&x->pb);
    free(x->url);
    free(x);
}
