/* live.c -- `osrca live`: the analyze pipeline on a live interface with
 * verdicts as soon as a chain's fate is decided (README "Commands"; DESIGN.md
 * "Who uses it").
 *
 * Clock: packet time, and while the wire is silent the time elapsed on the
 * monotonic wall clock since the last packet (source idle callback), so a
 * service that never answers is reported once its call's deadline passes.
 * Signals: SIGINT/SIGTERM stop (decide what can be decided, summary, exit
 * 0); SIGHUP reopens --output and reloads the rules: valid new rules are
 * used from then on, open chains and connections kept; invalid ones are
 * reported and the old rules stay. Replaced rules are freed at exit (open
 * chains and pending requests may still point into them).
 * Threads: capture (this one), the webhook worker, the HTTP server; they
 * share only webhook.c's queue and httpd.c's snapshots, each under its own
 * mutex, touched once per verdict and once per second. */
#include "cli/live.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "capture/source.h"
#include "capture/stats.h"
#include "cli/common.h"
#include "cli/correlate.h"
#include "cli/net/httpd.h"
#include "cli/out/event.h"
#include "cli/out/incident.h"
#include "cli/out/json.h"
#include "cli/out/map.h"
#include "cli/out/text.h"
#include "capture/mem.h"
#include "cli/pipeline.h"
#include "cli/net/otlp_export.h"
#include "cli/net/webhook.h"
#include "rca/cloud.h"
#include "rca/baseline.h"
#include "rca/incident.h"
#include "rca/rca.h"
#include "rca/report.h"
#include "rca/rules_load.h"

#define LIVE_MAX_VKEYS 256 /* distinct {service, category} verdict labels */
#define LIVE_RING 1000     /* verdicts kept for /verdicts */

struct live_opts {
    const char *iface, *bpf, *rules, *write_file, *output, *user, *webhook, *listen;
    const char *alertmanager; /* Alertmanager API v2 alerts URL */
    const char *baseline;     /* usual durations to start from */
    const char *otlp, *otlp_endpoint; /* traces: OTLP/JSON file, collector */
    int otlp_json, all;
    int json;
    int snaplen;
    double status_s, idle_s, settle_s;
    /* osrca correlate: sensors' events instead of an interface */
    int correlate;
    struct corr_cfg corr;
};

struct vkey {
    char service[48], category[48];
    uint64_t n;
};

#define LIVE_MAX_RELOADS 64

struct live {
    struct live_opts o;
    struct stats *st;
    struct rules *rules;
    struct rules *retired[LIVE_MAX_RELOADS]; /* replaced rules, freed at exit */
    int nretired;
    struct rca *rca;
    struct pipeline *pl;
    struct source *src;
    struct corr *cor; /* correlate: the input instead of pl and src */
    struct webhook *wh;
    struct webhook *am; /* Alertmanager: incidents as alerts */
    struct otlp_export *otlp; /* --otlp, --otlp-endpoint */
    struct httpd *hd;
    FILE *out;
    uid_t out_uid;
    gid_t out_gid;
    int chown_out;
    /* clocks */
    uint64_t clock_us;    /* analysis clock: packet time, advanced while idle */
    uint64_t last_ts;     /* packet time of the last packet */
    uint64_t last_pkt_ns; /* monotonic time the last packet was handled */
    int seen_packet;
    uint64_t next_status_ns, next_publish_ns;
    uint64_t start_ns;
    /* counters (capture thread only) */
    uint64_t packets, bytes, st_packets, st_bytes, st_ns;
    uint64_t msgs_http, msgs_amqp, msgs_tcp;
    uint64_t verdicts;
    uint64_t incidents_opened, incidents_resolved;
    struct vkey vk[LIVE_MAX_VKEYS];
    size_t nvk;
    uint64_t vk_overflow;
};

static volatile sig_atomic_t g_stop, g_hup;
static struct source *volatile g_src;

static void on_stop_signal(int sig)
{
    (void)sig;
    g_stop = 1;
    if (g_src)
        source_break(g_src);
}

static void on_hup_signal(int sig)
{
    (void)sig;
    g_hup = 1;
}

static uint64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000ull + (uint64_t)ts.tv_nsec / 1000u;
}

static void live_usage(FILE *f, int correlate)
{
    if (correlate)
        fputs("usage: osrca correlate (--bus redis://HOST:PORT/PREFIX | --from-stream FILE...)\n"
              "                       [options of live but -i, -f, -w, --snaplen]\n"
              "  --bus URL              read every sensor's stream through a consumer group\n"
              "  --from-stream FILE     a sensor's stream file (osrca sensor --out); repeat\n"
              "  --group NAME           consumer group (default osrca)\n"
              "  --consumer NAME        this correlator's name in it (default correlator)\n"
              "  --max-skew S           clock difference between sensors tolerated: events\n"
              "                         are held S seconds (default 2)\n"
              "  --replay-window S      packet time left unacknowledged for a restart to\n"
              "                         rebuild the cloud model from (default 120)\n"
              "  --sensor-timeout S     a sensor silent this long (wall) is a coverage gap\n"
              "                         and holds the others back no more (default 10)\n"
              "  --until-ended N        stop (deciding everything) once N sensors ended\n",
              f);
    fputs(correlate ? "" : "usage: osrca live -i IFACE [options]\n"
          "  -i IFACE               live interface (promiscuous, immediate mode)\n"
          "  -f BPF                 capture filter\n"
          "  --rules DIR            rules directory\n"
          "  --format text|json     verdicts on stdout (default text)\n"
          "  -w FILE                also write the raw packets to this pcap\n"
          "  --output FILE          append verdicts as JSON lines (reopened on SIGHUP)\n"
          "  --webhook URL          POST each verdict and incident change (JSON) to URL\n"
          "  --alertmanager URL     POST incidents as alerts to an Alertmanager\n"
          "                         (http://HOST:9093/api/v2/alerts): firing while open,\n"
          "                         with endsAt once resolved\n"
          "  --listen ADDR:PORT     serve GET /metrics and GET /verdicts\n"
          "  --user USER            drop root privileges to USER after opening the\n"
          "                         interface (default nobody when run as root)\n"
          "  --status-interval S    status line on stderr every S seconds (default 10, 0 = off)\n"
          "  --idle-timeout S       silence after which wall time advances the analysis\n"
          "                         clock (default 0.5)\n"
          "  --settle S             quiet time after a chain's last message before its\n"
          "                         fate is decided (default 10, as analyze; at least 1.5)\n"
          "  --snaplen N            bytes kept per packet (default 262144)\n"
          "  --baseline FILE        start from the usual durations osrca analyze\n"
          "                         --save-baseline wrote (slow operations)\n"
          "  --otlp FILE            each failed or slow operation's chain as an\n"
          "                         OpenTelemetry trace, OTLP/JSON lines\n"
          "  --otlp-endpoint URL    POST the traces to an OTLP/HTTP collector\n"
          "                         (http://HOST:4318 gets /v1/traces): batched (512\n"
          "                         spans or 1 s), bounded queue, retried\n"
          "  --otlp-protocol protobuf|json  the collector's encoding (default protobuf)\n"
          "  --all                  traces of every operation, not only failed or slow\n"
          "signals: INT/TERM stop and print the summary; HUP reopens --output and\n"
          "reloads the rules (kept as they were if the new ones have errors)\n",
          f);
}


/* 0 ok, 1 help printed, -1 usage error. */
static int parse_live_opts(int argc, char **argv, struct live_opts *o)
{
    static const struct option lo[] = {
        {"rules", required_argument, NULL, 'R'},
        {"format", required_argument, NULL, 'F'},
        {"json", no_argument, NULL, 'J'},
        {"output", required_argument, NULL, 'o'},
        {"user", required_argument, NULL, 'U'},
        {"webhook", required_argument, NULL, 'W'},
        {"alertmanager", required_argument, NULL, 'A'},
        {"listen", required_argument, NULL, 'L'},
        {"status-interval", required_argument, NULL, 'T'},
        {"idle-timeout", required_argument, NULL, 'I'},
        {"settle", required_argument, NULL, 'S'},
        {"snaplen", required_argument, NULL, 's'},
        {"baseline", required_argument, NULL, 'B'},
        {"otlp", required_argument, NULL, 'O'},
        {"otlp-endpoint", required_argument, NULL, 'X'},
        {"otlp-protocol", required_argument, NULL, 'P'},
        {"all", no_argument, NULL, 'a'},
        {"bus", required_argument, NULL, 1000},
        {"from-stream", required_argument, NULL, 1001},
        {"group", required_argument, NULL, 1002},
        {"consumer", required_argument, NULL, 1003},
        {"max-skew", required_argument, NULL, 1004},
        {"replay-window", required_argument, NULL, 1005},
        {"sensor-timeout", required_argument, NULL, 1006},
        {"until-ended", required_argument, NULL, 1007},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "i:f:w:h", lo, NULL)) != -1) {
        switch (c) {
        case 'i': o->iface = optarg; break;
        case 'f': o->bpf = optarg; break;
        case 'w': o->write_file = optarg; break;
        case 'R': o->rules = optarg; break;
        case 'o': o->output = optarg; break;
        case 'U': o->user = optarg; break;
        case 'W': o->webhook = optarg; break;
        case 'A': o->alertmanager = optarg; break;
        case 'B': o->baseline = optarg; break;
        case 'O': o->otlp = optarg; break;
        case 'X': o->otlp_endpoint = optarg; break;
        case 'a': o->all = 1; break;
        case 'P':
            if (strcmp(optarg, "json") && strcmp(optarg, "protobuf")) {
                fprintf(stderr, "osrca live: --otlp-protocol %s: expected protobuf or json\n",
                        optarg);
                return -1;
            }
            o->otlp_json = !strcmp(optarg, "json");
            break;
        case 'L': o->listen = optarg; break;
        case 'J': o->json = 1; break;
        case 'F':
            if (strcmp(optarg, "json") == 0)
                o->json = 1;
            else if (strcmp(optarg, "text") == 0)
                o->json = 0;
            else {
                fprintf(stderr, "osrca live: --format %s: expected text or json\n", optarg);
                return -1;
            }
            break;
        case 'T':
            if (common_parse_secs("live", "--status-interval", optarg, &o->status_s) < 0)
                return -1;
            break;
        case 'I':
            if (common_parse_secs("live", "--idle-timeout", optarg, &o->idle_s) < 0)
                return -1;
            break;
        case 'S':
            if (common_parse_secs("live", "--settle", optarg, &o->settle_s) < 0)
                return -1;
            break;
        case 's':
            if (common_parse_snaplen("live", optarg, &o->snaplen) < 0)
                return -1;
            break;
        case 1000: o->corr.bus = optarg; break;
        case 1001:
            if (o->corr.nfiles == CORR_MAX_FILES) {
                fprintf(stderr, "osrca correlate: at most %d --from-stream\n", CORR_MAX_FILES);
                return -1;
            }
            o->corr.files[o->corr.nfiles++] = optarg;
            break;
        case 1002: o->corr.group = optarg; break;
        case 1003: o->corr.consumer = optarg; break;
        case 1004:
            if (common_parse_secs("correlate", "--max-skew", optarg, &o->corr.max_skew_s) < 0)
                return -1;
            break;
        case 1005:
            if (common_parse_secs("correlate", "--replay-window", optarg,
                                  &o->corr.replay_window_s) < 0)
                return -1;
            break;
        case 1006:
            if (common_parse_secs("correlate", "--sensor-timeout", optarg,
                                  &o->corr.sensor_timeout_s) < 0)
                return -1;
            break;
        case 1007: o->corr.until_ended = atoi(optarg); break;
        case 'h':
            live_usage(stdout, o->correlate);
            return 1;
        default:
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "osrca live: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (o->correlate) {
        if (o->iface || o->bpf || o->write_file || (!o->corr.bus == !o->corr.nfiles)) {
            fprintf(stderr, "osrca correlate: one of --bus or --from-stream, and no -i/-f/-w\n");
            return -1;
        }
        return 0;
    }
    if (o->corr.bus || o->corr.nfiles) {
        fprintf(stderr, "osrca live: --bus and --from-stream belong to osrca correlate\n");
        return -1;
    }
    if (!o->iface) {
        fprintf(stderr, "osrca live: -i IFACE is required\n");
        return -1;
    }
    return 0;
}

/* ---- privilege drop ---- */

/* As root: become user (supplementary groups, gid, uid) and check that root
 * cannot be regained. Not root: nothing (a --user is reported). */
static int drop_privileges(const char *user)
{
    if (getuid() != 0 && geteuid() != 0) {
        if (user)
            fprintf(stderr, "osrca live: not running as root, --user %s ignored\n", user);
        return 0;
    }
    const char *name = user ? user : "nobody";
    struct passwd *pw = getpwnam(name);
    if (!pw) {
        fprintf(stderr, "osrca live: --user %s: no such user\n", name);
        return -1;
    }
    if (pw->pw_uid == 0) {
        fprintf(stderr, "osrca live: --user %s: refusing to keep uid 0\n", name);
        return -1;
    }
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
        fprintf(stderr, "osrca live: dropping privileges to %s: %s\n", name, strerror(errno));
        return -1;
    }
    /* setuid() as root set real, effective and saved ids: neither may come back */
    if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0 || getuid() != uid ||
        geteuid() != uid || getgid() != gid || getegid() != gid) {
        fprintf(stderr, "osrca live: privileges of root could be regained, stopping\n");
        return -1;
    }
    fprintf(stderr, "osrca live: running as %s (uid %u gid %u)\n", name, (unsigned)uid,
            (unsigned)gid);
    return 0;
}

/* ---- outputs ---- */

static FILE *open_output(struct live *L)
{
    FILE *f = fopen(L->o.output, "a");
    if (!f) {
        fprintf(stderr, "osrca live: --output %s: %s\n", L->o.output, strerror(errno));
        return NULL;
    }
    setvbuf(f, NULL, _IOLBF, 0);
    if (L->chown_out && fchown(fileno(f), L->out_uid, L->out_gid) < 0)
        fprintf(stderr, "osrca live: --output %s: chown: %s\n", L->o.output, strerror(errno));
    return f;
}

static void rule_error(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "osrca live: SIGHUP: %s\n", msg);
}

static void handle_hup(struct live *L)
{
    g_hup = 0;
    if (L->o.output) {
        FILE *f = open_output(L);
        if (f) {
            fclose(L->out);
            L->out = f;
            fprintf(stderr, "osrca live: SIGHUP: reopened --output %s\n", L->o.output);
        } else {
            fprintf(stderr, "osrca live: SIGHUP: keeping the old --output stream\n");
        }
    }
    char buf[4096];
    const char *dir = common_find_rules(L->o.rules, buf, sizeof(buf));
    int n = rules_check_dir(dir, rule_error, NULL);
    if (n != 0) {
        fprintf(stderr, "osrca live: SIGHUP: rules in %s %s; still using the current rules\n",
                dir, n < 0 ? "cannot be read" : "have errors");
        return;
    }
    if (L->nretired >= LIVE_MAX_RELOADS) {
        fprintf(stderr, "osrca live: SIGHUP: %d rules reloads already; restart to load more\n",
                LIVE_MAX_RELOADS);
        return;
    }
    struct rules *nr = common_load_rules(L->o.rules, L->st);
    if (!nr)
        return;
    L->retired[L->nretired++] = L->rules;
    L->rules = nr;
    pipeline_use_map(L->pl, rules_svcmap(nr));
    rca_use_rules(L->rca, nr);
    stats_add(L->st, "live.rules_reloads", 1);
    fprintf(stderr, "osrca live: SIGHUP: rules reloaded from %s\n", dir);
}


static void prom_head(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Copy webhook and kernel counters into the stats so the summary has them. */
static void sync_counters(struct live *L, struct source_stats *ss, int *have_ss)
{
    *have_ss = L->src && source_stats(L->src, ss) == 0;
    if (*have_ss) {
        *stats_counter(L->st, "capture.kernel_drops") = ss->dropped;
        *stats_counter(L->st, "capture.if_drops") = ss->ifdropped;
    }
    if (L->wh) {
        struct webhook_stats ws;
        webhook_get_stats(L->wh, &ws);
        *stats_counter(L->st, "webhook.sent") = ws.sent;
        *stats_counter(L->st, "webhook.failed") = ws.failed;
        *stats_counter(L->st, "webhook.dropped") = ws.dropped;
        *stats_counter(L->st, "webhook.retries") = ws.retries;
    }
}

static void publish_metrics(struct live *L)
{
    struct source_stats ss;
    int have_ss;
    sync_counters(L, &ss, &have_ss);
    if (!L->hd)
        return;
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    if (!f)
        return;
    struct rca_summary s;
    rca_get_summary(L->rca, &s);
    prom_head(f, "osrca_up", "gauge", "1 while osrca live runs.");
    fputs("osrca_up 1\n", f);
    prom_head(f, "osrca_packets_total", "counter", "Frames captured.");
    fprintf(f, "osrca_packets_total %" PRIu64 "\n", L->packets);
    prom_head(f, "osrca_bytes_total", "counter", "Frame bytes captured (wire length).");
    fprintf(f, "osrca_bytes_total %" PRIu64 "\n", L->bytes);
    prom_head(f, "osrca_messages_total", "counter", "Decoded messages by protocol.");
    fprintf(f, "osrca_messages_total{protocol=\"http\"} %" PRIu64 "\n", L->msgs_http);
    fprintf(f, "osrca_messages_total{protocol=\"amqp\"} %" PRIu64 "\n", L->msgs_amqp);
    fprintf(f, "osrca_messages_total{protocol=\"tcp\"} %" PRIu64 "\n", L->msgs_tcp);
    prom_head(f, "osrca_verdicts_total", "counter",
              "Failed operations reported, by root-cause service and category.");
    for (size_t i = 0; i < L->nvk; i++) {
        fputs("osrca_verdicts_total{service=\"", f);
        out_prom_label(f, L->vk[i].service);
        fputs("\",category=\"", f);
        out_prom_label(f, L->vk[i].category);
        fprintf(f, "\"} %" PRIu64 "\n", L->vk[i].n);
    }
    if (L->vk_overflow)
        fprintf(f, "osrca_verdicts_total{service=\"other\",category=\"other\"} %" PRIu64 "\n",
                L->vk_overflow);
    prom_head(f, "osrca_operations_total", "counter", "User operations decided, by result.");
    fprintf(f, "osrca_operations_total{result=\"ok\"} %" PRIu64 "\n", s.ok);
    fprintf(f, "osrca_operations_total{result=\"failed\"} %" PRIu64 "\n", s.failed);
    prom_head(f, "osrca_slow_operations_total", "counter",
              "Successful user operations far slower than their usual (counted in ok too).");
    fprintf(f, "osrca_slow_operations_total %" PRIu64 "\n", s.slow);
    prom_head(f, "osrca_background_chains_total", "counter", "Background chains decided.");
    fprintf(f, "osrca_background_chains_total %" PRIu64 "\n", s.background);
    prom_head(f, "osrca_open_chains", "gauge", "Chains not yet decided.");
    fprintf(f, "osrca_open_chains %" PRIu64 "\n", s.open_chains);
    prom_head(f, "osrca_chains_evicted_total", "counter", "Chains decided early at the cap.");
    fprintf(f, "osrca_chains_evicted_total %" PRIu64 "\n", s.evicted);
    prom_head(f, "osrca_incidents_total", "counter", "Incidents opened and resolved.");
    fprintf(f, "osrca_incidents_total{event=\"opened\"} %" PRIu64 "\n", L->incidents_opened);
    fprintf(f, "osrca_incidents_total{event=\"resolved\"} %" PRIu64 "\n", L->incidents_resolved);
    prom_head(f, "osrca_incident_open", "gauge",
              "1 for each open incident, by id, service, host and category.");
    const struct incident_table *it = rca_incidents(L->rca);
    for (size_t i = 0; i < incident_count(it); i++) {
        const struct incident *inc = incident_at(it, i);
        if (inc->end_us)
            continue;
        fprintf(f, "osrca_incident_open{id=\"%" PRIu32 "\",service=\"", inc->id);
        out_prom_label(f, inc->service);
        fputs("\",host=\"", f);
        out_prom_label(f, inc->host[0] ? inc->host : inc->addr);
        fputs("\",category=\"", f);
        out_prom_label(f, inc->category);
        fputs("\"} 1\n", f);
    }
    prom_head(f, "osrca_service_up", "gauge",
              "Health of each service instance the traffic shows: 1 up, 0 down or hung.");
    const struct cloud *cm = rca_cloud(L->rca);
    for (size_t i = 0; i < cloud_count(cm); i++) {
        const struct cloud_inst *x = cloud_at(cm, i);
        if (x->embedded || x->alias)
            continue;
        int up = !cloud_current_span(x);
        fputs("osrca_service_up{service=\"", f);
        out_prom_label(f, x->service);
        fputs("\",host=\"", f);
        out_prom_label(f, x->host[0] ? x->host : x->addr);
        fprintf(f, "\"} %d\n", up);
    }
    if (rca_graph(L->rca))
        out_map_prometheus(f, rca_graph(L->rca), cm);
    if (L->cor)
        corr_metrics(L->cor, f);
    prom_head(f, "osrca_decode_errors_total", "counter",
              "Parser errors (a direction stopped or resynchronised).");
    fprintf(f, "osrca_decode_errors_total %" PRIu64 "\n",
            *stats_counter(L->st, "pipeline.parse_errors"));
    prom_head(f, "osrca_capture_drops_total", "counter", "Packets the capture lost.");
    fprintf(f, "osrca_capture_drops_total{where=\"kernel\"} %" PRIu64 "\n",
            have_ss ? ss.dropped : 0);
    fprintf(f, "osrca_capture_drops_total{where=\"interface\"} %" PRIu64 "\n",
            have_ss ? ss.ifdropped : 0);
    if (L->wh) {
        struct webhook_stats ws;
        webhook_get_stats(L->wh, &ws);
        prom_head(f, "osrca_webhook_total", "counter", "Webhook deliveries by result.");
        fprintf(f, "osrca_webhook_total{result=\"sent\"} %" PRIu64 "\n", ws.sent);
        fprintf(f, "osrca_webhook_total{result=\"failed\"} %" PRIu64 "\n", ws.failed);
        fprintf(f, "osrca_webhook_total{result=\"dropped\"} %" PRIu64 "\n", ws.dropped);
        fprintf(f, "osrca_webhook_total{result=\"retries\"} %" PRIu64 "\n", ws.retries);
        prom_head(f, "osrca_webhook_queue", "gauge", "Verdicts waiting for the webhook.");
        fprintf(f, "osrca_webhook_queue %" PRIu64 "\n", ws.pending);
    }
    prom_head(f, "osrca_counter_total", "counter", "Every osrca counter (README counters).");
    const char *names[STATS_MAX_COUNTERS + 1];
    uint64_t vals[STATS_MAX_COUNTERS + 1];
    size_t nc = stats_list(L->st, names, vals, STATS_MAX_COUNTERS + 1);
    if (nc > STATS_MAX_COUNTERS + 1)
        nc = STATS_MAX_COUNTERS + 1;
    for (size_t i = 0; i < nc; i++) {
        fputs("osrca_counter_total{name=\"", f);
        out_prom_label(f, names[i]);
        fprintf(f, "\"} %" PRIu64 "\n", vals[i]);
    }
    if (fclose(f) == 0 && text)
        httpd_set_metrics(L->hd, text, n);
    free(text);
}

static void status_line(struct live *L, uint64_t now_ns)
{
    double dt = (double)(now_ns - L->st_ns) / 1e9;
    if (dt <= 0)
        dt = 1;
    struct source_stats ss;
    int have = L->src && source_stats(L->src, &ss) == 0;
    struct rca_summary s;
    rca_get_summary(L->rca, &s);
    size_t held = 0;
    for (int i = 0; L->pl && i < 3; i++)
        held += pipeline_pool(L->pl, i)->used;
    fprintf(stderr,
            "osrca live: %.0f pkt/s %.2f Mbit/s flows %zu open chains %" PRIu64
            " held %.1f MB verdicts %" PRIu64 " messages %" PRIu64 " kernel drops %s%" PRIu64
            "\n",
            (double)(L->packets - L->st_packets) / dt,
            (double)(L->bytes - L->st_bytes) * 8 / dt / 1e6, L->pl ? pipeline_flow_count(L->pl) : 0,
            s.open_chains, (double)held / 1e6, L->verdicts,
            L->msgs_http + L->msgs_amqp + L->msgs_tcp, have ? "" : "n/a ",
            have ? ss.dropped + ss.ifdropped : 0);
    L->st_packets = L->packets;
    L->st_bytes = L->bytes;
    L->st_ns = now_ns;
}

/* Per-second work, from the packet path and from the idle callback. */
static void timers(struct live *L, uint64_t now_ns)
{
    if (g_hup)
        handle_hup(L);
    if (L->o.status_s > 0 && now_ns >= L->next_status_ns) {
        status_line(L, now_ns);
        L->next_status_ns = now_ns + (uint64_t)(L->o.status_s * 1e9);
    }
    if (now_ns >= L->next_publish_ns) {
        publish_metrics(L);
        L->next_publish_ns = now_ns + 1000000000ull;
    }
    otlp_export_tick(L->otlp);
}

/* ---- pipeline callbacks ---- */

static void on_event(void *ctx, struct event *ev)
{
    struct live *L = ctx;
    if (ev->kind == EV_HTTP_REQUEST || ev->kind == EV_HTTP_RESPONSE)
        L->msgs_http++;
    else if (ev->kind == EV_CONN)
        L->msgs_tcp++;
    else
        L->msgs_amqp++;
    rca_event(L->rca, ev);
}

static void on_tick(void *ctx, uint64_t now)
{
    struct live *L = ctx;
    rca_tick(L->rca, now);
}

static void count_verdict(struct live *L, const struct report *r)
{
    const char *svc = r->root_cause.service ? r->root_cause.service : "unknown";
    const char *cat = r->category ? r->category : "unknown";
    for (size_t i = 0; i < L->nvk; i++)
        if (!strcmp(L->vk[i].service, svc) && !strcmp(L->vk[i].category, cat)) {
            L->vk[i].n++;
            return;
        }
    if (L->nvk == LIVE_MAX_VKEYS) {
        L->vk_overflow++;
        return;
    }
    struct vkey *k = &L->vk[L->nvk++];
    snprintf(k->service, sizeof(k->service), "%s", svc);
    snprintf(k->category, sizeof(k->category), "%s", cat);
    k->n = 1;
}

/* Resource ids of the chain (instances, ports, volumes, ...; not the
 * project or user, which every operation of a tenant shares). */
static size_t chain_resources(const struct report *r, const char **res, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < r->nnodes; i++) {
        const struct event *evs[2] = {r->nodes[i].ev, r->nodes[i].hop};
        for (int k = 0; k < 2; k++) {
            const struct event *ev = evs[k];
            for (size_t u = 0; ev && u < ev->nuuids; u++) {
                if (ev->uuids[u].res == EV_RES_PROJECT || ev->uuids[u].res == EV_RES_USER)
                    continue;
                size_t j = 0;
                while (j < n && strcmp(res[j], ev->uuids[u].id) != 0)
                    j++;
                if (j == n && n < max)
                    res[n++] = ev->uuids[u].id;
            }
        }
    }
    return n;
}


/* A JSON line written to memory (open_memstream): line_open, write to
 * its f, line_close for the text (the caller frees it; NULL when the
 * stream failed) and its length. */
struct mem_line {
    FILE *f;
    char *buf;
    size_t n;
};

static FILE *line_open(struct mem_line *m)
{
    m->buf = NULL;
    m->n = 0;
    m->f = open_memstream(&m->buf, &m->n);
    return m->f;
}

/* A JSON object (n bytes, no newline) to the --output file, as a line,
 * and to the webhook. */
static void line_deliver(struct live *L, const char *json, size_t n)
{
    if (!json)
        return;
    if (L->out) {
        fwrite(json, 1, n, L->out);
        fputc('\n', L->out);
        fflush(L->out);
    }
    if (L->wh)
        webhook_post(L->wh, json, n);
}

static char *line_close(struct mem_line *m, size_t *n)
{
    if (m->f && fclose(m->f) != 0) {
        free(m->buf);
        m->buf = NULL;
    }
    *n = m->buf ? m->n : 0;
    return m->buf;
}

static void on_report(void *ctx, const struct report *r)
{
    struct live *L = ctx;
    if (r->extra) { /* --all: a trace, no verdict */
        if (L->otlp)
            otlp_export_report(L->otlp, r);
        return;
    }
    struct mem_line ml;
    if (line_open(&ml))
        out_json_report(ml.f, r);
    size_t n = 0;
    char *json = line_close(&ml, &n);
    if (L->cor && !corr_verdict(L->cor, r, json, json && n && json[n - 1] == '\n' ? n - 1 : n)) {
        free(json); /* given before a restart already */
        return;
    }
    if (L->otlp)
        otlp_export_report(L->otlp, r);
    L->verdicts++;
    count_verdict(L, r);
    if (L->o.json) {
        if (json)
            fwrite(json, 1, n, stdout);
    } else {
        out_text_report(stdout, r);
    }
    fflush(stdout);
    if (json && n && json[n - 1] == '\n')
        n--; /* the object without its newline */
    line_deliver(L, json, n);
    if (json && L->hd) {
        const char *res[HTTPD_MAX_RES];
        size_t nres = chain_resources(r, res, HTTPD_MAX_RES);
        httpd_add_verdict(L->hd, json, n, r->end_ts_us, res, nres);
    }
    free(json);
    /* latency: wall time of output against the analysis clock that decided */
    char t[40];
    out_time(L->clock_us, t, sizeof(t));
    uint64_t w = wall_us();
    fprintf(stderr,
            "osrca live: verdict %s decided at clock %s (%.3f s after its last message), "
            "output %.3f s after that clock\n",
            r->request_id ? r->request_id : (r->operation ? r->operation : "-"), t,
            L->clock_us > r->end_ts_us ? (double)(L->clock_us - r->end_ts_us) / 1e6 : 0.0,
            w > L->clock_us ? (double)(w - L->clock_us) / 1e6 : -(double)(L->clock_us - w) / 1e6);
}

/* An incident opened, took a verdict or resolved: a line on stdout (and
 * in --output), the incident's JSON to the webhook, and its alert to the
 * Alertmanager. */
static void on_incident(void *ctx, const struct incident *inc, int what)
{
    struct live *L = ctx;
    const char *event = out_incident_change(what);
    if (what == INCIDENT_OPENED)
        L->incidents_opened++;
    else if (what == INCIDENT_RESOLVED)
        L->incidents_resolved++;
    struct mem_line ml;
    if (line_open(&ml))
        out_incident_json(ml.f, inc, event);
    size_t n = 0;
    char *json = line_close(&ml, &n);
    if (L->o.json) {
        if (json)
            fwrite(json, 1, n, stdout);
    } else {
        char t[40];
        out_time(what == INCIDENT_RESOLVED ? inc->end_us : inc->last_us, t, sizeof(t));
        printf("INCIDENT %" PRIu32 " %s: %s@%s %s, %" PRIu32 " operation%s affected (%s)\n",
               inc->id, event, inc->service, inc->host[0] ? inc->host : inc->addr,
               inc->category, inc->verdicts, inc->verdicts == 1 ? "" : "s", t);
    }
    fflush(stdout);
    if (json && n && json[n - 1] == '\n')
        n--;
    line_deliver(L, json, n);
    free(json);
    if (L->am && line_open(&ml)) {
        out_incident_alert(ml.f, inc);
        size_t an = 0;
        char *alert = line_close(&ml, &an);
        if (alert)
            webhook_post(L->am, alert, an);
        free(alert);
    }
}

static void on_packet(void *ctx, int linktype, const uint8_t *data, uint32_t caplen,
                      uint32_t wirelen, uint64_t ts_us)
{
    struct live *L = ctx;
    L->packets++;
    L->bytes += wirelen;
    if (ts_us > L->clock_us)
        L->clock_us = ts_us;
    L->last_ts = ts_us;
    L->seen_packet = 1;
    pipeline_packet(L->pl, linktype, data, caplen, wirelen, ts_us);
    uint64_t now = common_mono_ns();
    L->last_pkt_ns = now;
    timers(L, now);
}

/* Read timeout without a packet: let wall time drive the analysis clock. */
static void on_idle(void *ctx)
{
    struct live *L = ctx;
    uint64_t now = common_mono_ns();
    if (L->seen_packet) {
        uint64_t idle_ns = now - L->last_pkt_ns;
        if ((double)idle_ns >= L->o.idle_s * 1e9) {
            uint64_t clock = L->last_ts + idle_ns / 1000u;
            if (clock > L->clock_us) {
                L->clock_us = clock;
                pipeline_idle(L->pl, clock); /* flows and parsers first */
                rca_tick(L->rca, clock);
            }
        }
    }
    timers(L, now);
}

/* ---- the command ---- */

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop_signal; /* no SA_RESTART: a blocking read returns */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_hup_signal;
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

static void print_summary(struct live *L)
{
    struct rca_summary s;
    rca_get_summary(L->rca, &s);
    if (L->o.json) {
        out_json_summary(stdout, &s, L->st);
    } else {
        printf("-- %" PRIu64 " operations, %" PRIu64 " failed, %" PRIu64 " ok, %" PRIu64
               " background chains, %" PRIu64 " messages, %" PRIu64 " packets --\n",
               s.operations, s.failed, s.ok, s.background,
               L->msgs_http + L->msgs_amqp + L->msgs_tcp, L->packets);
    }
    if (L->out)
        out_json_summary(L->out, &s, L->st);
    fflush(stdout);
}

/* ---- correlate: the hooks of the correlator's input ---- */

static void corr_on_event(void *ctx, struct event *ev)
{
    struct live *L = ctx;
    if (ev->ts_us > L->clock_us)
        L->clock_us = ev->ts_us;
    on_event(ctx, ev);
}

static void corr_on_tick(void *ctx, uint64_t now)
{
    struct live *L = ctx;
    if (now > L->clock_us)
        L->clock_us = now;
    rca_tick(L->rca, now);
}

static void corr_on_timers(void *ctx)
{
    timers(ctx, common_mono_ns());
}

static int live_main(int argc, char **argv, int correlate)
{
    struct live *L = calloc(1, sizeof(*L));
    if (!L) {
        fputs("osrca live: out of memory\n", stderr);
        return 2;
    }
    L->o.correlate = correlate;
    corr_defaults(&L->o.corr);
    L->o.snaplen = 262144;
    L->o.status_s = 10;
    L->o.idle_s = 0.5;
    /* analyze's: the same verdicts (a shorter one decides some chains
     * before evidence that comes seconds later: tests/lab/settle_same.py) */
    L->o.settle_s = 10;
    int prc = parse_live_opts(argc, argv, &L->o);
    if (prc != 0) {
        if (prc < 0)
            live_usage(stderr, correlate);
        free(L);
        return prc > 0 ? 0 : 2;
    }
    int rc = 2;
    char err[512];
    L->st = stats_new();
    L->rules = L->st ? common_load_rules(L->o.rules, L->st) : NULL;
    if (!L->rules)
        goto out;
    struct rca_cfg rcfg;
    rca_defaults(&rcfg);
    rcfg.settle_us = (uint64_t)(L->o.settle_s * 1e6);
    rcfg.service_map = 1; /* /metrics: the service graph's series */
    rcfg.timelines = L->o.otlp || L->o.otlp_endpoint;
    rcfg.keep_ok = rcfg.timelines && L->o.all;
    L->rca = rca_new(&rcfg, L->rules, L->st, on_report, L);
    if (L->rca)
        rca_on_incident(L->rca, on_incident, L);
    if (L->rca && L->o.baseline &&
        baseline_load(rca_baseline(L->rca), L->o.baseline, err, sizeof(err)) < 0) {
        fprintf(stderr, "osrca live: --baseline %s\n", err);
        goto out;
    }
    struct pipeline_cfg pc;
    pipeline_defaults(&pc);
    if (correlate) {
        if (!L->rca) {
            fputs("osrca correlate: out of memory\n", stderr);
            goto out;
        }
        L->cor = corr_new(&L->o.corr, L->st, L->rca, err, sizeof(err));
        if (!L->cor) {
            fprintf(stderr, "osrca correlate: %s\n", err);
            goto out;
        }
        /* as live: chains are decided early when events use 3/4 of the cap */
        rca_set_event_budget(L->rca, corr_event_pool(L->cor), L->o.corr.event_memcap / 4 * 3);
    } else {
        L->pl = pipeline_new(&pc, rules_svcmap(L->rules), L->st, on_event, on_tick, L);
        if (!L->rca || !L->pl) {
            fputs("osrca live: out of memory\n", stderr);
            goto out;
        }
        rca_set_event_budget(L->rca, pipeline_pool(L->pl, 1), pc.event_memcap / 4 * 3);
    }
    /* Everything that needs root happens before the drop: the interface,
     * the -w dump, the --output file, the --listen socket. */
    struct source_cfg sc;
    source_defaults(&sc);
    sc.iface = L->o.iface;
    sc.bpf = L->o.bpf;
    sc.snaplen = L->o.snaplen;
    sc.write_file = L->o.write_file;
    sc.timeout_ms = 100;
    L->src = correlate ? NULL : source_open(&sc, err, sizeof(err));
    if (!correlate && !L->src) {
        fprintf(stderr, "osrca live: %s\n", err);
        goto out;
    }
    int as_root = getuid() == 0 || geteuid() == 0;
    if (as_root) {
        struct passwd *pw = getpwnam(L->o.user ? L->o.user : "nobody");
        if (pw) {
            L->chown_out = 1;
            L->out_uid = pw->pw_uid;
            L->out_gid = pw->pw_gid;
        }
    }
    if (L->o.output && !(L->out = open_output(L)))
        goto out;
    /* helper threads start with the signals blocked: only this thread
     * handles INT/TERM/HUP */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    sigaddset(&block, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    if (L->o.listen)
        L->hd = httpd_new(L->o.listen, LIVE_RING, err, sizeof(err));
    if (L->o.webhook && (!L->o.listen || L->hd)) {
        struct webhook_cfg wc;
        webhook_defaults(&wc);
        wc.url = L->o.webhook;
        L->wh = webhook_new(&wc, err, sizeof(err));
    }
    if (L->o.alertmanager && (!L->o.listen || L->hd) && (!L->o.webhook || L->wh)) {
        struct webhook_cfg wc;
        webhook_defaults(&wc);
        wc.url = L->o.alertmanager;
        L->am = webhook_new(&wc, err, sizeof(err));
    }
    if ((L->o.otlp || L->o.otlp_endpoint) && (!L->o.listen || L->hd) &&
        (!L->o.webhook || L->wh) && (!L->o.alertmanager || L->am)) {
        struct otlp_export_cfg xc;
        otlp_export_defaults(&xc);
        xc.file = L->o.otlp;
        xc.endpoint = L->o.otlp_endpoint;
        xc.json = L->o.otlp_json;
        xc.version = OSRCA_VERSION;
        L->otlp = otlp_export_new(&xc, err, sizeof(err));
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if ((L->o.listen && !L->hd) || (L->o.webhook && !L->wh) || (L->o.alertmanager && !L->am) ||
        ((L->o.otlp || L->o.otlp_endpoint) && !L->otlp)) {
        fprintf(stderr, "osrca live: %s\n", err);
        goto out;
    }
    if (drop_privileges(L->o.user) < 0)
        goto out;
    install_signals();
    g_src = L->src;
    if (L->src)
        source_set_idle(L->src, on_idle, L);
    L->start_ns = L->st_ns = common_mono_ns();
    L->next_status_ns = L->start_ns + (uint64_t)(L->o.status_s * 1e9);
    publish_metrics(L);
    L->next_publish_ns = L->start_ns + 1000000000ull;
    const char *from = correlate ? (L->o.corr.bus ? L->o.corr.bus : "stream files") : L->o.iface;
    if (L->hd)
        fprintf(stderr, "osrca %s: listening on %s, http on %s (port %u)\n", argv[0], from,
                L->o.listen, (unsigned)httpd_port(L->hd));
    else
        fprintf(stderr, "osrca %s: listening on %s\n", argv[0], from);
    common_heap_for_packets();
    rc = 0;
    if (correlate) {
        struct corr_hooks hk = {L, corr_on_event, corr_on_tick, corr_on_timers,
                                (volatile int *)&g_stop};
        int crc = g_stop ? 1 : corr_run(L->cor, &hk);
        if (crc == 0) { /* the inputs ended: decide everything */
            rca_flush(L->rca, L->clock_us);
            corr_finish(L->cor);
        } else {
            fprintf(stderr, "osrca correlate: stopped: open chains are left to the next "
                            "correlator (their entries stay pending)\n");
        }
        corr_summary(L->cor, stderr);
    } else {
        int srs = g_stop ? SOURCE_STOPPED : source_run(L->src, on_packet, L, err, sizeof(err));
        if (srs < 0) {
            fprintf(stderr, "osrca live: %s\n", err);
            rc = 1;
        }
        pipeline_finish(L->pl);
        /* decide what can be decided at the current clock, then the rest */
        if (L->seen_packet) {
            uint64_t clock = L->last_ts + (common_mono_ns() - L->last_pkt_ns) / 1000u;
            if (clock > L->clock_us)
                L->clock_us = clock;
        }
        rca_flush(L->rca, L->clock_us);
    }
    if (L->wh) { /* let queued verdicts go out (bounded), then count them */
        webhook_free(L->wh, 3000);
        L->wh = NULL;
    }
    if (L->am) {
        webhook_free(L->am, 3000);
        L->am = NULL;
    }
    if (L->otlp) {
        struct otlp_export_stats xs;
        otlp_export_finish(L->otlp, 3000);
        otlp_export_get_stats(L->otlp, &xs);
        fprintf(stderr,
                "osrca live: otlp: %" PRIu64 " traces, %" PRIu64 " spans, %" PRIu64
                " batches, %" PRIu64 " sent, %" PRIu64 " failed, %" PRIu64 " dropped, %" PRIu64
                " retries\n",
                xs.traces, xs.spans, xs.batches, xs.sent, xs.failed, xs.dropped, xs.retries);
    }
    struct source_stats ss;
    int have_ss;
    sync_counters(L, &ss, &have_ss);
    print_summary(L);
    fprintf(stderr, "osrca live: stopped: %" PRIu64 " packets, %" PRIu64 " verdicts, kernel "
                    "drops %" PRIu64 ", interface drops %" PRIu64 "\n",
            L->packets, L->verdicts, have_ss ? ss.dropped : 0, have_ss ? ss.ifdropped : 0);
out:
    g_src = NULL;
    webhook_free(L->wh, 0);
    webhook_free(L->am, 0);
    otlp_export_free(L->otlp, 0);
    httpd_free(L->hd);
    if (L->out)
        fclose(L->out);
    source_free(L->src);
    pipeline_free(L->pl);
    corr_free(L->cor);
    rca_free(L->rca);
    rules_free(L->rules);
    for (int i = 0; i < L->nretired; i++)
        rules_free(L->retired[i]);
    stats_free(L->st);
    free(L);
    fflush(stdout);
    return rc;
}

int cmd_live(int argc, char **argv)
{
    return live_main(argc, argv, 0);
}

int cmd_correlate(int argc, char **argv)
{
    return live_main(argc, argv, 1);
}
