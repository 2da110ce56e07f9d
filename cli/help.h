/* help.h -- `osrca COMMAND --help`: the help text of the commands whose
 * options cli/main.c parses (analyze, chains, map, waterfall, messages,
 * rules, version). flows, live and annotate print their own. */
#ifndef OSRCA_HELP_H
#define OSRCA_HELP_H

#include <stdio.h>

/* Print the help of command cmd on f. Returns 1 when cmd has a text here,
 * 0 (nothing printed) otherwise. */
int help_print(FILE *f, const char *cmd);

/* 1 when arg asks for help: "--help" or "-h". */
int help_asked(const char *arg);

#endif
