/* incident.h -- incidents for people and machines (rca/incident.h):
 * the service and host at fault, category, when it began and ended (or
 * that it is still open), the evidence, and every operation it broke. */
#ifndef OSRCA_OUT_INCIDENT_H
#define OSRCA_OUT_INCIDENT_H

#include <stdio.h>

#include "rca/incident.h"

/* Text: one block per incident. */
void out_incident_text(FILE *f, const struct incident *inc);

/* One JSON line {"type":"incident", ...}; event is NULL in analyze
 * (the final state), or "opened", "updated", "resolved" in live mode. */
void out_incident_json(FILE *f, const struct incident *inc, const char *event);

/* The incident as an Alertmanager API v2 alert list (POST /api/v2/alerts):
 * [{"labels": {alertname, service, host, category, severity, incident},
 *   "annotations": {summary, description}, "startsAt", "endsAt"?}], one
 * line. endsAt is set once the incident is resolved (Alertmanager then
 * resolves the alert); labels are stable for one incident, so every
 * update refreshes the same alert. */
void out_incident_alert(FILE *f, const struct incident *inc);

/* "opened", "updated", "resolved" for enum incident_change. */
const char *out_incident_change(int what);

#endif
