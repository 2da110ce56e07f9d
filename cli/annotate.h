/* annotate.h -- `osrca annotate`: annotate an Alertmanager webhook payload
 * (Prometheus Alertmanager webhook_config JSON, version 4) read from stdin
 * with the matching osrca verdicts. */
#ifndef OSRCA_ANNOTATE_H
#define OSRCA_ANNOTATE_H

#include <jansson.h>
#include <stdint.h>

/* argv[0] is "annotate". Returns 0 ok, 2 usage/environment error (bad
 * option, unreadable verdicts, payload not JSON). */
int cmd_annotate(int argc, char **argv);

/* Annotate every alert of payload (modified in place) from verdicts (a JSON
 * array of verdict objects) with a time window of window_s seconds around
 * startsAt for the service match. Returns the number of alerts annotated. */
size_t annotate_payload(json_t *payload, const json_t *verdicts, uint64_t window_s);

#endif
