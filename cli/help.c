/* help.c -- per-command help texts (see help.h; the full reference is the
 * man page docs/man/osrca.1). */
#include "cli/help.h"

#include <string.h>

#define HELP_INPUT                                                                     \
    "  FILE.pcap | -r FILE    read a capture file (pcap or pcapng)\n"                  \
    "  -i IFACE               read a live interface instead (promiscuous, immediate)\n" \
    "  -f BPF                 capture filter\n"                                        \
    "  --snaplen N            live capture snap length (default 262144)\n"             \
    "  --rules DIR            rules directory (default: $OSRCA_RULES, ./rules, the\n"  \
    "                         build tree's rules/, /etc/osrca/rules, then the\n"       \
    "                         installed share/osrca/rules)\n"

#define HELP_EXIT                                                                      \
    "exit status: 0 ok, 1 damaged input (results so far printed), 2 usage/environment error\n"

int help_asked(const char *arg)
{
    return arg && (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0);
}

int help_print(FILE *f, const char *cmd)
{
    static const struct {
        const char *cmd, *text;
    } texts[] = {
        {"analyze",
         "usage: osrca analyze FILE.pcap | -i IFACE [options]\n"
         "  incidents, then one verdict per failed or slow user operation with its root\n"
         "  cause, then the health of the service instances, then a summary\n" HELP_INPUT
         "  --format text|json|dot verdicts as text (default), JSON lines, Graphviz\n"
         "  --json                 same as --format json\n"
         "  --stats                every counter and kept diagnostic at the end\n"
         "  --background           also report failures of background work\n"
         "  --settle S             quiet time after a chain's last message before its\n"
         "                         fate is decided (default 10)\n"
         "  --baseline FILE        start from the usual durations saved in FILE\n"
         "  --save-baseline FILE   write the usual durations learned at the end\n"
         "  --otlp FILE            each failed or slow operation as an OpenTelemetry\n"
         "                         trace, OTLP/JSON, one line per operation\n"
         "  --otlp-endpoint URL    POST the traces to an OTLP/HTTP collector\n"
         "                         (http://HOST:4318 gets /v1/traces), batched, retried\n"
         "  --otlp-protocol protobuf|json  the collector's encoding (default protobuf)\n"
         "  --all                  traces of every operation, not only failed or slow\n"
         HELP_EXIT},
        {"chains",
         "usage: osrca chains FILE.pcap | -i IFACE [options]\n"
         "  every operation's chain of messages, failed or not\n" HELP_INPUT
         "  --request-id ID        only the operation carrying this request id\n"
         "  --resource UUID        only operations touching this resource\n"
         "  --format text|json|dot output format (default text); --json = --format json\n"
         "  --stats, --background, --settle S, --baseline FILE, --save-baseline FILE\n"
         "                         as for analyze\n" HELP_EXIT},
        {"map",
         "usage: osrca map FILE.pcap | -i IFACE [options]\n"
         "  the service map: who calls whom, rate, errors, latency (with -i: until\n"
         "  INT or TERM)\n" HELP_INPUT
         "  --window S             one map per window of S seconds (default: one map)\n"
         "  --format text|json|dot output format (default text); --json = --format json\n"
         "  --stats                counters on stderr at the end\n"
         "  --settle S, --baseline FILE, --save-baseline FILE   as for analyze\n" HELP_EXIT},
        {"waterfall",
         "usage: osrca waterfall FILE.pcap --request-id ID [--svg FILE] [options]\n"
         "  where the time of one operation went, hop by hop\n" HELP_INPUT
         "  --request-id ID        the operation (required)\n"
         "  --svg FILE             also draw it as SVG into FILE (more operations with\n"
         "                         the id: FILE.2.svg, ...)\n"
         "  --settle S, --baseline FILE   as for analyze\n" HELP_EXIT},
        {"report",
         "usage: osrca report FILE.pcap -o REPORT.html [options]\n"
         "  one self-contained HTML page (no script, no external asset): incidents, each\n"
         "  failed or slow operation with its root cause, hint and waterfall, health,\n"
         "  the service map, how complete the capture was\n" HELP_INPUT
         "  -o FILE                the page (- for stdout; required)\n"
         "  --settle S, --baseline FILE   as for analyze\n" HELP_EXIT},
        {"messages",
         "usage: osrca messages FILE.pcap | -i IFACE [options]\n"
         "  every decoded REST and RPC message, one per line\n" HELP_INPUT
         "  --json                 JSON lines (--format json)\n"
         "  --stats                every counter at the end\n" HELP_EXIT},
        {"rules",
         "usage: osrca rules check DIR\n"
         "  validate the rules directory DIR (osrca-rules(5)); every error is printed\n"
         "  as FILE:LINE:COLUMN: message\n"
         "exit status: 0 valid, 2 errors or unreadable directory\n"},
        {"version", "usage: osrca version\n  print the version (also: osrca --version)\n"},
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        if (strcmp(texts[i].cmd, cmd) == 0) {
            fputs(texts[i].text, f);
            return 1;
        }
    return 0;
}
