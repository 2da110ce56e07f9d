/* baseline.h -- usual durations, learned from the traffic (issue 19 §2):
 * per operation type (its wall time and each service's share of it) and
 * per hop (each REST call and RPC method between two services, and the
 * time a message waits in its queue), kept as quantile sketches
 * (rca/sketch.h) so that one outlier moves nothing: the usual is the
 * median.
 *
 * Keys are text ("op|server create", "hold|server create|nova-scheduler",
 * "hop|rpc_call|nova-conductor>nova-scheduler|scheduler.select_destinations",
 * "wait|..."), services without hosts, so a baseline learned on one cloud
 * (or one healthy capture) applies to another. Saved as JSON and loaded
 * back (--baseline FILE); a file is outside data: every field is checked,
 * bad ones counted and skipped.
 *
 * Bounded: at most max_keys keys (further ones counted, not learned). */
#ifndef OSRCA_BASELINE_H
#define OSRCA_BASELINE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "capture/stats.h"
#include "rca/sketch.h"

#define BASELINE_KEY_MAX 192

struct baseline;

/* NULL on allocation failure; st may be NULL. max_keys 0: 8192. */
struct baseline *baseline_new(size_t max_keys, struct stats *st);
void baseline_free(struct baseline *b);

/* Learn one duration under key. -1 when the table is full (counted
 * "baseline.keys_full") or out of memory. */
int baseline_learn(struct baseline *b, const char *key, uint64_t v_us);
/* The sketch of key, NULL when nothing was learned. */
const struct sketch *baseline_get(const struct baseline *b, const char *key);
/* The median of key and how many values it rests on (0: unknown). */
uint64_t baseline_usual(const struct baseline *b, const char *key, uint64_t *n);

/* Write every key as one JSON document:
 * {"osrca_baseline":1,"keys":{"KEY":{"n":N,"zeros":Z,"lo":I,"bins":[...]}}}.
 * -1 on a write error. */
int baseline_save(const struct baseline *b, FILE *f);
/* Merge a document baseline_save wrote (n bytes at buf) into b. Keys or
 * bins that do not check out are skipped and counted
 * ("baseline.load_bad"). -1 when the document is not one (err says why). */
int baseline_load_buf(struct baseline *b, const char *buf, size_t n, char *err, size_t errlen);
/* The same from a file (at most 64 MiB). */
int baseline_load(struct baseline *b, const char *path, char *err, size_t errlen);

size_t baseline_count(const struct baseline *b);

#endif
