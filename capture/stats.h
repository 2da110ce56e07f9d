/* stats.h -- named counters and counted diagnostics.
 *
 * Every limit, drop and anomaly has a named counter ("http.header_block_too_big").
 * Modules look a counter up once (stats_counter) and bump the pointer on the
 * hot path. stats_diag() bumps a counter and keeps the first few messages of
 * each kind so the CLI can say what went wrong, with context, without
 * flooding. Library code never prints; cli/ does. */
#ifndef OSRCA_STATS_H
#define OSRCA_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "capture/mem.h"

#define STATS_MAX_COUNTERS 512
#define STATS_NAME_MAX 48
#define STATS_DIAG_KEEP 64  /* messages kept in all */
#define STATS_DIAG_PER_KIND 3 /* messages kept per counter */
#define STATS_DIAG_LEN 200

struct stats;

struct stats *stats_new(void);
void stats_free(struct stats *st); /* NULL accepted */

/* The counter called name, created at 0 on first use. Returns a pointer that
 * stays valid for the life of st; never NULL (past STATS_MAX_COUNTERS all new
 * names share one overflow counter "stats.too_many_counters"). */
uint64_t *stats_counter(struct stats *st, const char *name);

/* stats_counter for each of names[0..n) into out[0..n). The answer is
 * remembered by the address of names (a static table of the caller), so a
 * module that sets up per connection looks its names up once per run. */
void stats_counters(struct stats *st, const char *const *names, size_t n, uint64_t **out);

/* The same answer as a table st keeps (valid for the life of st), for
 * modules with many instances: one table for all, not a copy in each.
 * NULL when st keeps no more tables (then copy with stats_counters). */
uint64_t *const *stats_counters_table(struct stats *st, const char *const *names, size_t n);

/* The counters of one instance of a module: the table st keeps, else
 * (st NULL, or no table kept) a block of pool holding n pointers, to st's
 * counters or to n counts of the instance's own after them. *own is that
 * block or NULL: free it with mem_free(pool, *own, STATS_OWN_BYTES(n)).
 * NULL when pool refuses the block. */
#define STATS_OWN_BYTES(n) ((n) * (sizeof(uint64_t *) + sizeof(uint64_t)))
uint64_t *const *stats_counters_own(struct stats *st, const char *const *names, size_t n,
                                    struct mem_pool *pool, uint64_t ***own);

/* Add v to counter name (a lookup each call: not for hot paths); st may
 * be NULL (nothing counted). */
void stats_add(struct stats *st, const char *name, uint64_t v);
/* Set a gauge-like counter (e.g. peak memory) to max(current, v). */
void stats_max(struct stats *st, const char *name, uint64_t v);

/* Bump counter name and keep the formatted message if fewer than
 * STATS_DIAG_PER_KIND were kept for it. ts_us is the packet time (0 if none). */
void stats_diag(struct stats *st, const char *name, uint64_t ts_us, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Iterate counters in name order (deterministic output). Returns count;
 * names[i]/values[i] filled up to max. Zero-valued counters included. */
size_t stats_list(const struct stats *st, const char **names, uint64_t *values, size_t max);

/* Iterate kept diagnostics in arrival order. */
size_t stats_diag_count(const struct stats *st);
const char *stats_diag_msg(const struct stats *st, size_t i, const char **counter,
                           uint64_t *ts_us);

#endif
