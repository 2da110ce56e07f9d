/* fuzz_analyze.c -- libFuzzer target for everything `osrca analyze` does to
 * a capture: the input is a capture file (read from memory through
 * fmemopen); its frames go through the pipeline (flows, reassembly, HTTP
 * and AMQP parsers) into the analyzer (chains, the model of the cloud,
 * client sessions, blame, incidents), which decides every chain at the end;
 * each verdict, incident and service instance is written as JSON (to a
 * memory stream, dropped) so the outputs read every field they print. The
 * analyzer is made anew for each input (nothing carries over), with small
 * caps so that eviction paths are reached.
 *
 * Seeds: tests/fuzz/seeds.py (windows of consecutive packets of a testdata
 * capture behind its header, so that several connections and services
 * meet); run with -max_len=16384:
 *   make fuzz FUZZ_TARGETS=analyze FUZZ_SECONDS=120 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/source.h"
#include "capture/stats.h"
#include "cli/out/health.h"
#include "cli/out/incident.h"
#include "cli/out/json.h"
#include "cli/pipeline.h"
#include "rca/incident.h"
#include "rca/rca.h"
#include "rca/rules_load.h"

static struct rules *rules;
static FILE *sink;

struct run {
    struct pipeline *pl;
    struct rca *rca;
};

static void on_report(void *ctx, const struct report *r)
{
    (void)ctx;
    out_json_report(sink, r);
}

static void on_incident(void *ctx, const struct incident *inc, int what)
{
    (void)ctx;
    out_incident_json(sink, inc, out_incident_change(what));
    out_incident_alert(sink, inc);
}

static void on_event(void *ctx, struct event *ev)
{
    struct run *r = ctx;
    rca_event(r->rca, ev);
}

static void on_tick(void *ctx, uint64_t now)
{
    struct run *r = ctx;
    rca_tick(r->rca, now);
}

static void on_packet(void *ctx, int linktype, const uint8_t *data, uint32_t caplen,
                      uint32_t wirelen, uint64_t ts_us)
{
    struct run *r = ctx;
    pipeline_packet(r->pl, linktype, data, caplen, wirelen, ts_us);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    char err[512];
    rules = rules_load_dir("rules", NULL, err, sizeof(err));
    if (!rules) {
        fprintf(stderr, "fuzz_analyze: %s (run from the project root)\n", err);
        abort();
    }
    sink = fopen("/dev/null", "w");
    if (!sink)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t *copy = malloc(size); /* fmemopen wants a writable buffer */
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    struct stats *st = stats_new();
    struct run r = {NULL, NULL};
    struct rca_cfg rc;
    rca_defaults(&rc);
    rc.max_open_chains = 16;
    rc.max_events_per_chain = 64;
    rc.report_background = 1;
    rc.settle_us = 500000;
    r.rca = rca_new(&rc, rules, st, on_report, NULL);
    struct pipeline_cfg pc;
    pipeline_defaults(&pc);
    pc.flow.max_flows = 32;
    pc.flow.use_ndpi = 0;
    r.pl = r.rca ? pipeline_new(&pc, rules_svcmap(rules), st, on_event, on_tick, &r) : NULL;
    if (r.pl) {
        rca_on_incident(r.rca, on_incident, NULL);
        rca_set_event_budget(r.rca, pipeline_pool(r.pl, 1), 1u << 20);
        struct source_cfg sc;
        source_defaults(&sc);
        sc.fp = fmemopen(copy, size, "rb");
        char err[256];
        struct source *src = sc.fp ? source_open(&sc, err, sizeof(err)) : NULL;
        if (src) {
            source_run(src, on_packet, &r, err, sizeof(err));
            source_free(src);
        }
        pipeline_finish(r.pl);
        rca_flush(r.rca, pipeline_last_ts(r.pl));
        const struct incident_table *it = rca_incidents(r.rca);
        for (size_t i = 0; i < incident_count(it); i++)
            out_incident_json(sink, incident_at(it, i), NULL);
        out_health_json(sink, rca_cloud(r.rca));
    }
    pipeline_free(r.pl);
    rca_free(r.rca);
    stats_free(st);
    free(copy);
    return 0;
}
