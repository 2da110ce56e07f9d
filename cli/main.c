/* main.c -- the osrca command line: flows, messages, analyze, chains, rules.
 *
 * Exit codes: 0 success; 1 the input was damaged (corrupt or truncated
 * capture: results up to the damage were printed); 2 usage or environment
 * error (bad option, unreadable file, bad rules). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/source.h"
#include "capture/stats.h"
#include "cli/cmd_flows.h"
#include "cli/common.h"
#include "cli/live.h"
#include "cli/sensor.h"
#include "cli/net/otlp_export.h"
#include "cli/annotate.h"
#include "cli/help.h"
#include "cli/out/dot.h"
#include "cli/out/event.h"
#include "cli/out/json.h"
#include "cli/out/map.h"
#include "cli/out/perf.h"
#include "cli/out/text.h"
#include "cli/out/health.h"
#include "cli/out/html.h"
#include "cli/out/incident.h"
#include "rca/baseline.h"
#include "rca/graph.h"
#include "rca/incident.h"
#include "cli/pipeline.h"
#include "rca/rca.h"
#include "rca/report.h"
#include "rca/rules_load.h"


enum fmt { FMT_TEXT, FMT_JSON, FMT_DOT };

struct opts {
    const char *cmd;
    const char *file;
    const char *iface;
    const char *bpf;
    const char *rules;
    enum fmt fmt;
    int stats;
    int snaplen;
    const char *request_id;
    const char *resource;
    int background;
    double settle_s; /* < 0: the analyzer's default */
    double window_s; /* map: per window of this length (0: one) */
    const char *baseline;      /* usual durations to start from */
    const char *save_baseline; /* where to write them at the end */
    const char *svg;           /* waterfall: SVG file */
    const char *otlp;          /* traces as OTLP/JSON lines into this file */
    const char *otlp_endpoint; /* ... and/or POSTed to this collector */
    int otlp_json;             /* to the collector as JSON (else protobuf) */
    int all;                   /* traces of every operation, not only verdicts' */
    const char *out;           /* report: the HTML file */
};

static void usage(FILE *f)
{
    fputs("usage: osrca <command> [options]\n"
          "\n"
          "commands:\n"
          "  analyze FILE.pcap   one verdict per failed operation, with its root cause\n"
          "  chains FILE.pcap    every operation's chain (--request-id ID, --resource UUID)\n"
          "  map FILE.pcap       the service map: who calls whom, rate, errors, latency\n"
          "                      (--window S, --format text|json|dot; -i IFACE until INT)\n"
          "  report FILE.pcap -o REPORT.html\n"
          "                      one self-contained HTML page: incidents, each failed or\n"
          "                      slow operation with its cause and waterfall, health,\n"
          "                      the service map, how complete the capture was\n"
          "  waterfall FILE.pcap --request-id ID [--svg FILE]\n"
          "                      where the time of one operation went, hop by hop\n"
          "  messages FILE.pcap  every decoded REST/RPC message, one per line\n"
          "  flows FILE.pcap     every TCP connection, one per line\n"
          "  rules check DIR     validate a rules directory\n"
          "  live -i IFACE       incident mode: verdicts as operations fail (live --help)\n"
          "  annotate            annotate an Alertmanager payload (stdin) with verdicts\n"
          "  version             print the version\n"
          "\n"
          "options:\n"
          "  -i IFACE            read a live interface instead of a file\n"
          "  -f BPF              capture filter\n"
          "  --rules DIR         rules directory (default: $OSRCA_RULES, ./rules, the\n"
          "                      rules/ beside the executable's build folder,\n"
          "                      /etc/osrca/rules, then PREFIX/share/osrca/rules)\n"
          "  --format text|json|dot   output format (analyze, chains); --json = --format json\n"
          "  --stats             print counters and diagnostics at the end (stderr for text)\n"
          "  --snaplen N         live capture snap length (default 262144)\n"
          "  --settle S          quiet time (packet time) after a chain's last message\n"
          "                      before its fate is decided (default 10; live: 0.5)\n"
          "  --background        also report failures of background work (periodic\n"
          "                      tasks, service heartbeats), not only user operations\n"
          "  --baseline FILE     start from the usual durations saved in FILE (slow\n"
          "                      operations are judged against them from the first one)\n"
          "  --save-baseline FILE  write the usual durations learned at the end\n"
          "  --otlp FILE         analyze: each failed or slow operation's chain as an\n"
          "                      OpenTelemetry trace, OTLP/JSON, one line per operation\n"
          "  --otlp-endpoint URL analyze: POST the traces to an OTLP/HTTP collector\n"
          "                      (http://HOST:4318 gets /v1/traces), batched, retried\n"
          "  --otlp-protocol protobuf|json   the collector's encoding (default protobuf)\n"
          "  --all               traces of every operation, not only failed or slow ones\n"
          "\n"
          "exit status: 0 ok, 1 damaged input (results so far printed), 2 usage/environment error\n",
          f);
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        {"rules", required_argument, NULL, 'R'},   {"format", required_argument, NULL, 'F'},
        {"json", no_argument, NULL, 'J'},          {"stats", no_argument, NULL, 'S'},
        {"snaplen", required_argument, NULL, 's'}, {"request-id", required_argument, NULL, 'q'},
        {"resource", required_argument, NULL, 'u'}, {"help", no_argument, NULL, 'h'},
        {"background", no_argument, NULL, 'B'},
        {"settle", required_argument, NULL, 'E'},
        {"window", required_argument, NULL, 'W'},
        {"baseline", required_argument, NULL, 'L'},
        {"save-baseline", required_argument, NULL, 'V'},
        {"svg", required_argument, NULL, 'G'},
        {"otlp", required_argument, NULL, 'O'},
        {"otlp-endpoint", required_argument, NULL, 'X'},
        {"otlp-protocol", required_argument, NULL, 'P'},
        {"all", no_argument, NULL, 'A'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "i:f:r:s:o:hJ", lo, NULL)) != -1) {
        switch (c) {
        case 'i':
            o->iface = optarg;
            break;
        case 'f':
            o->bpf = optarg;
            break;
        case 'r':
            o->file = optarg;
            break;
        case 'o':
            o->out = optarg;
            break;
        case 'R':
            o->rules = optarg;
            break;
        case 'F':
            if (strcmp(optarg, "text") == 0)
                o->fmt = FMT_TEXT;
            else if (strcmp(optarg, "json") == 0)
                o->fmt = FMT_JSON;
            else if (strcmp(optarg, "dot") == 0)
                o->fmt = FMT_DOT;
            else {
                fprintf(stderr, "osrca: --format %s: expected text, json or dot\n", optarg);
                return -1;
            }
            break;
        case 'J':
            o->fmt = FMT_JSON;
            break;
        case 'S':
            o->stats = 1;
            break;
        case 's':
            if (common_parse_snaplen(o->cmd, optarg, &o->snaplen) < 0)
                return -1;
            break;
        case 'q':
            o->request_id = optarg;
            break;
        case 'u':
            o->resource = optarg;
            break;
        case 'B':
            o->background = 1;
            break;
        case 'E':
            if (common_parse_secs(o->cmd, "--settle", optarg, &o->settle_s) < 0)
                return -1;
            break;
        case 'W':
            if (common_parse_secs(o->cmd, "--window", optarg, &o->window_s) < 0 ||
                o->window_s < 1) {
                if (o->window_s < 1)
                    fprintf(stderr, "osrca %s: --window %s: expected seconds >= 1\n", o->cmd,
                            optarg);
                return -1;
            }
            break;
        case 'L':
            o->baseline = optarg;
            break;
        case 'V':
            o->save_baseline = optarg;
            break;
        case 'G':
            o->svg = optarg;
            break;
        case 'O':
            o->otlp = optarg;
            break;
        case 'X':
            o->otlp_endpoint = optarg;
            break;
        case 'P':
            if (strcmp(optarg, "json") && strcmp(optarg, "protobuf")) {
                fprintf(stderr, "osrca: --otlp-protocol %s: expected protobuf or json\n", optarg);
                return -1;
            }
            o->otlp_json = !strcmp(optarg, "json");
            break;
        case 'A':
            o->all = 1;
            break;
        case 'h':
            if (!help_print(stdout, o->cmd))
                usage(stdout);
            exit(0);
        default:
            return -1;
        }
    }
    if (optind < argc && !o->file)
        o->file = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "osrca: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (!o->file && !o->iface) {
        fprintf(stderr, "osrca %s: a capture file or -i IFACE is required\n", o->cmd);
        return -1;
    }
    if (o->file && o->iface) {
        fprintf(stderr, "osrca %s: give a file or -i IFACE, not both\n", o->cmd);
        return -1;
    }
    return 0;
}

static void print_stats(FILE *f, const struct stats *st)
{
    const char *names[STATS_MAX_COUNTERS + 1];
    uint64_t vals[STATS_MAX_COUNTERS + 1];
    size_t n = stats_list(st, names, vals, STATS_MAX_COUNTERS + 1);
    fputs("-- stats --\n", f);
    for (size_t i = 0; i < n; i++)
        if (vals[i])
            fprintf(f, "%-40s %" PRIu64 "\n", names[i], vals[i]);
    size_t nd = stats_diag_count(st);
    for (size_t i = 0; i < nd; i++) {
        const char *counter;
        uint64_t ts;
        const char *msg = stats_diag_msg(st, i, &counter, &ts);
        char t[40];
        out_time(ts, t, sizeof(t));
        fprintf(f, "diag %s %s: %s\n", ts ? t : "-", counter, msg);
    }
}

/* ---- one run of the pipeline over a source ---- */

struct run {
    const struct opts *o;
    struct stats *st;
    struct rca *rca;
    struct pipeline *pl;
    uint64_t messages;
    FILE *verdicts; /* analyze, text: verdicts wait here, incidents go first */
    int mode;       /* enum run_mode */
    int waterfalls; /* waterfall: operations drawn */
    uint64_t first_ts; /* first packet time (map rates) */
    struct otlp_export *otlp; /* --otlp, --otlp-endpoint */
    struct html_report *html; /* report */
};

enum run_mode { RUN_ANALYZE = 0, RUN_CHAINS, RUN_MAP, RUN_WATERFALL, RUN_REPORT };

static void on_message(void *ctx, struct event *ev)
{
    struct run *r = ctx;
    r->messages++;
    if (r->o->fmt == FMT_JSON) {
        out_json_message(stdout, ev);
    } else {
        out_event_text(stdout, ev);
        fputc('\n', stdout);
    }
    event_free(ev);
}

static void on_event_rca(void *ctx, struct event *ev)
{
    struct run *r = ctx;
    r->messages++;
    rca_event(r->rca, ev);
}

static void on_tick(void *ctx, uint64_t now)
{
    struct run *r = ctx;
    if (r->rca)
        rca_tick(r->rca, now);
}

/* waterfall: the operation's hops as text, and as SVG into --svg (the
 * first operation carrying the id; later ones into FILE.2.svg, ...). */
static void on_waterfall(struct run *r, const struct report *rep)
{
    r->waterfalls++;
    printf("%s %s  %s  %s\n", rep->failed ? "FAILED" : rep->slow ? "SLOW" : "OK",
           rep->operation ? rep->operation : "-", rep->request_id ? rep->request_id : "-",
           rep->status);
    if (rep->slow)
        out_perf_text(stdout, rep);
    out_waterfall_text(stdout, rep, 72);
    fputc('\n', stdout);
    if (!r->o->svg)
        return;
    char path[4096];
    if (r->waterfalls == 1)
        snprintf(path, sizeof(path), "%s", r->o->svg);
    else
        snprintf(path, sizeof(path), "%s.%d.svg", r->o->svg, r->waterfalls);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "osrca waterfall: %s: cannot write\n", path);
        return;
    }
    out_waterfall_svg(f, rep);
    fclose(f);
}

static void on_report(void *ctx, const struct report *rep)
{
    struct run *r = ctx;
    if (r->mode == RUN_MAP)
        return;
    if (r->mode == RUN_REPORT) {
        if (!rep->extra)
            html_report_add(r->html, rep);
        return;
    }
    if (r->mode == RUN_WATERFALL) {
        on_waterfall(r, rep);
        return;
    }
    if (r->otlp)
        otlp_export_report(r->otlp, rep);
    if (rep->extra && r->mode == RUN_ANALYZE)
        return; /* --all: a trace, no verdict */
    switch (r->o->fmt) {
    case FMT_JSON:
        out_json_report(stdout, rep);
        break;
    case FMT_DOT:
        out_dot_report(stdout, rep);
        break;
    default:
        out_text_report(r->verdicts ? r->verdicts : stdout, rep);
        break;
    }
}

/* analyze, text: the incidents, then the verdicts kept until now, then
 * the instances whose health changed. */
static void text_epilogue(struct run *r)
{
    const struct incident_table *it = rca_incidents(r->rca);
    for (size_t i = 0; i < incident_count(it); i++)
        out_incident_text(stdout, incident_at(it, i));
    if (r->verdicts) {
        char buf[65536];
        size_t n;
        rewind(r->verdicts);
        while ((n = fread(buf, 1, sizeof(buf), r->verdicts)) > 0)
            fwrite(buf, 1, n, stdout);
        fclose(r->verdicts);
        r->verdicts = NULL;
    }
    out_health_text(stdout, rca_cloud(r->rca), 0);
}

static void on_packet(void *ctx, int linktype, const uint8_t *data, uint32_t caplen,
                      uint32_t wirelen, uint64_t ts_us)
{
    struct run *r = ctx;
    if (!r->first_ts)
        r->first_ts = ts_us;
    pipeline_packet(r->pl, linktype, data, caplen, wirelen, ts_us);
}

/* map -i: INT or TERM ends the capture, then the map is printed. */
static struct source *volatile g_map_src;

static void on_map_stop(int sig)
{
    (void)sig;
    if (g_map_src)
        source_break(g_map_src);
}

static int cmd_run(int argc, char **argv, int analyze)
{
    int mode = !strcmp(argv[0], "chains")      ? RUN_CHAINS
               : !strcmp(argv[0], "map")       ? RUN_MAP
               : !strcmp(argv[0], "waterfall") ? RUN_WATERFALL
               : !strcmp(argv[0], "report")    ? RUN_REPORT
                                               : RUN_ANALYZE;
    struct opts o = {0};
    o.cmd = argv[0];
    o.snaplen = 262144;
    o.settle_s = -1;
    if (parse_opts(argc, argv, &o) < 0) {
        usage(stderr);
        return 2;
    }
    if (mode == RUN_REPORT && !o.out) {
        fputs("osrca report: -o REPORT.html is required\n", stderr);
        return 2;
    }
    if (mode == RUN_WATERFALL && !o.request_id) {
        fputs("osrca waterfall: --request-id ID is required\n", stderr);
        return 2;
    }
    /* a file's results into a file or pipe in big writes (a 100 MB capture
     * gives megabytes of verdicts: 4 KiB writes were a thousand system
     * calls); a terminal, or an interface's results, keep stdio's buffering */
    static char outbuf[1u << 20]; /* glibc ignores the size without a buffer */
    if (o.file && !o.iface && !isatty(STDOUT_FILENO))
        setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
    struct stats *st = stats_new();
    struct rules *rules = st ? common_load_rules(o.rules, st) : NULL;
    if (!rules) {
        stats_free(st);
        return 2;
    }
    struct run r = {&o, st, NULL, NULL, 0, NULL, mode, 0, 0, NULL, NULL};
    int rc = 2;
    struct source *src = NULL;
    if (analyze) {
        struct rca_cfg rc_cfg;
        rca_defaults(&rc_cfg);
        rc_cfg.report_background = o.background;
        if (o.settle_s >= 0)
            rc_cfg.settle_us = (uint64_t)(o.settle_s * 1e6);
        if (mode == RUN_CHAINS || mode == RUN_WATERFALL) {
            rc_cfg.keep_ok = 1;
            rc_cfg.only_request_id = o.request_id;
            rc_cfg.only_resource = o.resource;
        }
        if (mode == RUN_ANALYZE && (o.otlp || o.otlp_endpoint)) {
            rc_cfg.timelines = 1;
            rc_cfg.keep_ok = o.all;
            struct otlp_export_cfg xc;
            otlp_export_defaults(&xc);
            xc.file = o.otlp;
            xc.endpoint = o.otlp_endpoint;
            xc.json = o.otlp_json;
            xc.version = OSRCA_VERSION;
            char xerr[600];
            r.otlp = otlp_export_new(&xc, xerr, sizeof(xerr));
            if (!r.otlp) {
                fprintf(stderr, "osrca: %s\n", xerr);
                goto out;
            }
        }
        if (mode == RUN_REPORT) {
            rc_cfg.service_map = 1;
            r.html = html_report_new();
            if (!r.html) {
                fputs("osrca report: no temporary file\n", stderr);
                goto out;
            }
        }
        if (mode == RUN_MAP) {
            rc_cfg.service_map = 1;
            rc_cfg.map_window_us = (uint64_t)(o.window_s * 1e6);
        }
        r.rca = rca_new(&rc_cfg, rules, st, on_report, &r);
        if (!r.rca) {
            fprintf(stderr, "osrca: out of memory\n");
            goto out;
        }
        if (o.baseline) {
            char berr[512];
            if (baseline_load(rca_baseline(r.rca), o.baseline, berr, sizeof(berr)) < 0) {
                fprintf(stderr, "osrca: --baseline %s\n", berr);
                goto out;
            }
        }
        /* incidents come first in the text of analyze: the verdicts wait
         * in a temporary file (any number of them, in no memory) */
        if (o.fmt == FMT_TEXT && mode == RUN_ANALYZE)
            r.verdicts = tmpfile();
    }
    struct pipeline_cfg pc;
    pipeline_defaults(&pc);
    r.pl = pipeline_new(&pc, rules_svcmap(rules), st, analyze ? on_event_rca : on_message,
                        on_tick, &r);
    if (!r.pl) {
        fprintf(stderr, "osrca: out of memory\n");
        goto out;
    }
    if (r.rca)
        rca_set_event_budget(r.rca, pipeline_pool(r.pl, 1), pc.event_memcap / 4 * 3);
    struct source_cfg sc;
    source_defaults(&sc);
    sc.file = o.file;
    sc.iface = o.iface;
    sc.bpf = o.bpf;
    sc.snaplen = o.snaplen;
    char err[512];
    src = source_open(&sc, err, sizeof(err));
    if (!src) {
        fprintf(stderr, "osrca: %s\n", err);
        goto out;
    }
    common_heap_for_packets();
    if (mode == RUN_MAP && o.iface) {
        g_map_src = src;
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_map_stop;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
    }
    int srs = source_run(src, on_packet, &r, err, sizeof(err));
    g_map_src = NULL;
    rc = 0;
    if (srs < 0) {
        fprintf(stderr, "osrca: %s (results up to this point follow)\n", err);
        stats_diag(st, srs == SOURCE_DAMAGED ? "capture.damaged" : "capture.read_errors",
                   pipeline_last_ts(r.pl), "%s", err);
        rc = 1;
    }
    pipeline_finish(r.pl);
    if (r.rca)
        rca_flush(r.rca, pipeline_last_ts(r.pl));
    if (r.otlp) {
        struct otlp_export_stats xs;
        otlp_export_finish(r.otlp, 10000);
        otlp_export_get_stats(r.otlp, &xs);
        fprintf(stderr, "osrca: otlp: %" PRIu64 " traces, %" PRIu64 " spans", xs.traces, xs.spans);
        if (o.otlp_endpoint)
            fprintf(stderr, "; %s: %" PRIu64 " batches, %" PRIu64 " sent, %" PRIu64
                            " failed, %" PRIu64 " dropped, %" PRIu64 " retries",
                    o.otlp_endpoint, xs.batches, xs.sent, xs.failed, xs.dropped, xs.retries);
        fputc('\n', stderr);
    }
    if (r.rca && o.save_baseline) {
        FILE *bf = fopen(o.save_baseline, "w");
        if (!bf || baseline_save(rca_baseline(r.rca), bf) < 0) {
            fprintf(stderr, "osrca: --save-baseline %s: cannot write\n", o.save_baseline);
            rc = 2;
        }
        if (bf)
            fclose(bf);
    }
    if (mode == RUN_MAP) {
        struct graph *g = rca_graph(r.rca);
        uint64_t last = pipeline_last_ts(r.pl);
        if (o.fmt == FMT_JSON)
            out_map_json(stdout, g, rca_cloud(r.rca), r.first_ts, last);
        else if (o.fmt == FMT_DOT)
            out_map_dot(stdout, g, rca_cloud(r.rca), r.first_ts, last);
        else
            out_map_text(stdout, g, rca_cloud(r.rca), r.first_ts, last);
        if (o.stats)
            print_stats(stderr, st);
        goto out;
    }
    if (mode == RUN_REPORT) {
        FILE *hf = strcmp(o.out, "-") ? fopen(o.out, "w") : stdout;
        if (!hf) {
            fprintf(stderr, "osrca report: %s: cannot write\n", o.out);
            rc = 2;
            goto out;
        }
        struct rca_summary s;
        rca_get_summary(r.rca, &s);
        const char *base = strrchr(o.file ? o.file : o.iface, '/');
        struct html_input hi = {base ? base + 1 : o.file ? o.file : o.iface, r.first_ts,
                                pipeline_last_ts(r.pl), OSRCA_VERSION};
        html_report_write(hf, r.html, &hi, rca_incidents(r.rca), rca_cloud(r.rca),
                          rca_graph(r.rca), st, &s);
        if (hf != stdout && fclose(hf) != 0) {
            fprintf(stderr, "osrca report: %s: cannot write\n", o.out);
            rc = 2;
        } else {
            fprintf(stderr, "osrca report: %s: %" PRIu64 " operations, %" PRIu64 " failed, %zu "
                            "incidents\n",
                    o.out, s.operations, s.failed, incident_count(rca_incidents(r.rca)));
        }
        goto out;
    }
    if (mode == RUN_WATERFALL && !r.waterfalls)
        fprintf(stderr, "osrca waterfall: no operation carries request id %s\n", o.request_id);
    if (r.rca && o.fmt == FMT_TEXT && mode == RUN_ANALYZE)
        text_epilogue(&r);
    if (r.rca && o.fmt == FMT_JSON && mode == RUN_ANALYZE) {
        const struct incident_table *it = rca_incidents(r.rca);
        for (size_t i = 0; i < incident_count(it); i++)
            out_incident_json(stdout, incident_at(it, i), NULL);
        out_health_json(stdout, rca_cloud(r.rca));
    }
    if (r.rca && o.fmt == FMT_JSON) {
        struct rca_summary s;
        rca_get_summary(r.rca, &s);
        out_json_summary(stdout, &s, st);
    } else if (r.rca && o.fmt == FMT_TEXT && mode != RUN_WATERFALL) {
        struct rca_summary s;
        rca_get_summary(r.rca, &s);
        printf("-- %" PRIu64 " operations, %" PRIu64 " failed, %" PRIu64 " ok, %" PRIu64
               " background chains, %" PRIu64 " messages --\n",
               s.operations, s.failed, s.ok, s.background, r.messages);
    }
    if (o.stats)
        print_stats(o.fmt == FMT_TEXT ? stdout : stderr, st);
out:
    otlp_export_free(r.otlp, 0);
    html_report_free(r.html);
    source_free(src);
    pipeline_free(r.pl);
    if (r.verdicts)
        fclose(r.verdicts);
    rca_free(r.rca);
    rules_free(rules);
    stats_free(st);
    fflush(stdout);
    return rc;
}

/* osrca flows: the capture layer alone, with the rules' server port map. */
static int cmd_flows_main(int argc, char **argv)
{
    struct flows_opts fo;
    int prc = cmd_flows_parse(argc, argv, &fo);
    if (prc != 0)
        return prc > 0 ? 0 : 2;
    struct stats *st = stats_new();
    struct rules *rules = st ? common_load_rules(fo.rules, st) : NULL;
    if (!rules) {
        stats_free(st);
        return 2;
    }
    size_t n;
    struct flow_port *ports = pipeline_ports(rules_svcmap(rules), &n);
    int rc = 2;
    if (ports)
        rc = cmd_flows_run(&fo, ports, n);
    else
        fprintf(stderr, "osrca: out of memory\n");
    free(ports);
    rules_free(rules);
    stats_free(st);
    return rc;
}

static void print_rule_error(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "%s\n", msg);
}

static int cmd_rules(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "check") != 0) {
        fputs("usage: osrca rules check DIR\n", stderr);
        return 2;
    }
    int n = rules_check_dir(argv[2], print_rule_error, NULL);
    if (n < 0) {
        fprintf(stderr, "osrca: rules: cannot read directory %s\n", argv[2]);
        return 2;
    }
    if (n > 0) {
        fprintf(stderr, "osrca: rules: %d error%s in %s\n", n, n == 1 ? "" : "s", argv[2]);
        return 2;
    }
    printf("%s: ok\n", argv[2]);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    argc--;
    argv++;
    /* osrca COMMAND --help, osrca help COMMAND (flows, live and annotate
     * answer --help themselves) */
    if (strcmp(cmd, "help") == 0 && argc == 2 && help_print(stdout, argv[1]))
        return 0;
    if (argc >= 2 && help_asked(argv[1]) && help_print(stdout, cmd))
        return 0;
    if (strcmp(cmd, "analyze") == 0 || strcmp(cmd, "chains") == 0 || strcmp(cmd, "map") == 0 ||
        strcmp(cmd, "waterfall") == 0 || strcmp(cmd, "report") == 0)
        return cmd_run(argc, argv, 1);
    if (strcmp(cmd, "messages") == 0)
        return cmd_run(argc, argv, 0);
    if (strcmp(cmd, "flows") == 0)
        return cmd_flows_main(argc, argv);
    if (strcmp(cmd, "rules") == 0)
        return cmd_rules(argc, argv);
    if (strcmp(cmd, "live") == 0)
        return cmd_live(argc, argv);
    if (strcmp(cmd, "correlate") == 0)
        return cmd_correlate(argc, argv);
    if (strcmp(cmd, "sensor") == 0)
        return cmd_sensor(argc, argv);
    if (strcmp(cmd, "annotate") == 0)
        return cmd_annotate(argc, argv);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("osrca %s\n", OSRCA_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "osrca: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
