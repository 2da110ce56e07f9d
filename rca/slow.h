/* slow.h -- slow operations (issue 19 §2-3): an operation that succeeded
 * far outside its usual wall time (rules/performance.yaml), the holder of
 * the excess (the service instance whose share of the time grew most
 * against its usual share), the hop that holds it (the longest stretch
 * that holder kept the operation: a call it answered late, a message
 * that waited for it in its queue, work it sat on) and why, when the
 * model of the cloud saw that instance down, hung or cut off meanwhile.
 *
 * Usual figures come from a baseline (rca/baseline.h) this module also
 * feeds: every hop of every decided chain, and the wall time and shares
 * of each successful user operation that was not slow (a slow one would
 * drag the usual towards itself). Judged before learned: an operation is
 * never its own usual. */
#ifndef OSRCA_SLOW_H
#define OSRCA_SLOW_H

#include "rca/baseline.h"
#include "rca/chain.h"
#include "rca/cloud.h"
#include "rca/report.h"
#include "rca/rules_load.h"
#include "rca/timeline.h"

/* The strings a slow verdict's cause and perf point to. */
struct slow_words {
    char hop[512];
    char why[384];
    char label[96];
    char host[64];
};

/* What a verdict on a successful user operation needs once its chain is
 * gone (it may be judged later, when its usual is known). */
struct slow_op {
    char operation[64];
    char request_id[64], global_request_id[64];
    char status[40];
    uint32_t session;
    char client[46], login_request_id[64], user[64], project[64];
    uint64_t root_seq;
    size_t nevents;
};

/* Operations waiting for a usual: bounded (max_parked, default 256, and
 * 16 MiB of their timelines; the oldest is judged with what is known when
 * full, counted "slow.parked_full"). */
struct slow_table;
struct slow_table *slow_table_new(const struct rules *rules, struct baseline *bl,
                                  const struct cloud *m, size_t max_parked, struct stats *st);
void slow_table_free(struct slow_table *t);
void slow_table_use_rules(struct slow_table *t, const struct rules *rules);

enum slow_result { SLOW_NO = 0, SLOW_YES, SLOW_WAIT };

/* A parked operation found slow later: its verdict's parts; valid during
 * the call. */
typedef void (*slow_fn)(void *ctx, const struct slow_op *op, const struct timeline *tl,
                        const struct report_cause *cause, const struct report_perf *perf);

/* Judge a successful user operation whose chain was just decided.
 * SLOW_YES: cause (kind "slow") and perf say why, their strings in wd.
 * SLOW_NO: not slow, learned into the usual. SLOW_WAIT: its usual rests
 * on too few operations yet (rules/performance.yaml min_samples) and it
 * lasted longer than the absolute margin: parked (a copy), judged when
 * the usual is known; parked ones that become judgeable meanwhile are
 * handed to fn. */
int slow_take(struct slow_table *t, const struct slow_op *op, const struct timeline *tl,
              struct report_cause *cause, struct report_perf *perf, struct slow_words *wd,
              slow_fn fn, void *ctx);
/* Judge the parked operations of operation if its usual is known now. */
void slow_release(struct slow_table *t, const char *operation, slow_fn fn, void *ctx);
/* End of input: the operations still parked are learned unjudged
 * (counted "slow.unjudged": there never was a usual to judge them by). */
void slow_flush(struct slow_table *t);
size_t slow_parked(const struct slow_table *t);

/* Learn from a decided chain: its hops always; its wall time and shares
 * when operation is a successful user operation that was not slow
 * (operation NULL otherwise). */
void slow_learn(struct baseline *bl, const char *operation, const struct timeline *tl);

#endif
