/* live.h -- `osrca live`: incident mode on a live interface (DESIGN.md
 * "Who uses it": verdicts printed as operations fail), with JSON-lines
 * output, webhook, /metrics and /verdicts, signals and privilege drop. */
#ifndef OSRCA_LIVE_H
#define OSRCA_LIVE_H

/* argv[0] is "live". Runs until SIGINT/SIGTERM (or a capture error).
 * Returns the exit status: 0 stopped by a signal, 1 capture error after
 * start, 2 usage or environment error (bad option, interface, rules,
 * output file, privilege drop). */
int cmd_live(int argc, char **argv);
/* `osrca correlate`: the same analysis and outputs, fed by sensors'
 * events (cli/correlate.h) instead of an interface. */
int cmd_correlate(int argc, char **argv);

#endif
