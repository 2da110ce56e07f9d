/* cmd_flows.h -- `osrca flows`: one line (or JSON record) per TCP connection.
 *
 * Output order is flow id order (flows are numbered in order of creation),
 * whatever order they end in, so offline output is deterministic. Exit
 * status: 0 ok, 1 damaged capture (the flows up to the damage are printed),
 * 2 usage or environment error (bad option, unreadable file). */
#ifndef OSRCA_CMD_FLOWS_H
#define OSRCA_CMD_FLOWS_H

#include <stddef.h>

#include "capture/flow.h"

struct flows_opts {
    const char *file;       /* capture file, or */
    const char *iface;      /* live interface */
    const char *bpf;        /* capture filter or NULL */
    const char *write_file; /* -w: also write the packets read here, or NULL */
    const char *rules;      /* --rules DIR (the caller turns it into a port map) */
    int json;               /* JSON lines instead of text */
    int stats;              /* text: print the counters block at the end */
    int snaplen;            /* live capture snap length */
    int use_ndpi;           /* classify with nDPI (default 1; --no-ndpi) */
};

/* Parse the options of `osrca flows` (argv[0] is "flows") into o: FILE or
 * -i IFACE, -f BPF, -w FILE, --json, --stats, --rules DIR, --snaplen N,
 * --no-ndpi. Returns 0; 1 when --help was printed (exit 0); -1 after a
 * usage message on stderr (exit 2). o's strings point into argv. */
int cmd_flows_parse(int argc, char **argv, struct flows_opts *o);

/* Parse the flows options (argv[0] = "flows"): FILE or -i IFACE, -f BPF,
 * -w FILE, --json, --stats, --rules DIR, --snaplen N, --no-ndpi.
 * Returns 0 ok, 1 --help was shown, -1 usage error (message printed). */
int cmd_flows_parse(int argc, char **argv, struct flows_opts *o);

/* Run with the server port map (built from the rules by the caller; ports
 * must outlive the call; NULL/0 = no map). Returns the exit status. */
int cmd_flows_run(const struct flows_opts *o, const struct flow_port *ports, size_t nports);

#endif
