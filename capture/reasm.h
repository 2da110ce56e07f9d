/* reasm.h -- reassembly of one TCP direction into in-order bytes (RFC 9293 §3.4, §3.10.7.4).
 *
 * Sequence numbers are compared wrap-aware (signed 32-bit difference from
 * the next expected sequence number) and turned into 64-bit stream offsets,
 * so a stream may carry more than 4 GiB. Out-of-order segments are held in
 * an offset-ordered list charged to an accounted pool; overlaps keep the
 * first copy. A hole is never glued over: when data beyond it must be
 * delivered (flush, per-direction cap, memcap) the hole is reported as a gap
 * of its exact length first. */
#ifndef OSRCA_REASM_H
#define OSRCA_REASM_H

#include <stddef.h>
#include <stdint.h>

#include "capture/mem.h"
#include "capture/stats.h"

/* Segments further ahead of the next expected byte are refused as out of window. */
#define REASM_MAX_AHEAD (1u << 30)

/* Limits and counters shared by every direction of a flow table. */
struct reasm_env {
    struct mem_pool *pool; /* buffered out-of-order bytes, all streams (memcap) */
    size_t max_ooo;        /* buffered bytes per direction */
    uint64_t *c_ooo_segments, *c_dircap, *c_memcap, *c_gaps, *c_gap_bytes, *c_retrans_bytes,
        *c_overlap_bytes, *c_overlap_diff, *c_out_of_window, *c_after_fin, *c_truncated;
};

/* Bind env to pool and the "reasm.*" counters of st. */
void reasm_env_init(struct reasm_env *env, struct mem_pool *pool, size_t max_ooo,
                    struct stats *st);

/* Where a direction's output goes. Spans die with the call. */
struct reasm_out {
    void *ctx;
    void (*data)(void *ctx, const uint8_t *p, size_t n, uint64_t ts_us);
    void (*gap)(void *ctx, uint64_t len, uint64_t ts_us);
};

struct reasm_seg;

/* One direction. Fields without '_' may be read by the owner. */
struct reasm {
    int started;         /* the sequence base is known */
    uint64_t next_off;   /* stream offset of the next byte to deliver */
    size_t held;         /* out-of-order bytes buffered */
    uint64_t delivered;  /* bytes handed to out.data */
    uint64_t gaps, gap_bytes;
    int fin;             /* FIN seen; fin_off is its stream offset */
    uint64_t fin_off;
    uint32_t _base_seq;  /* sequence number of stream offset 0 */
    uint64_t _max_off;   /* end of the furthest byte seen (holes up to it are real) */
    struct reasm_seg *_head;
};

/* Zero state. */
void reasm_init(struct reasm *r);

/* The first byte of the stream has sequence number seq (ISN + 1 after a
 * SYN, or the first sequence number seen when joining mid-stream). A no-op
 * once started. */
void reasm_start(struct reasm *r, uint32_t seq);

/* A segment: n captured bytes at sequence number seq; wire_n (>= n) bytes
 * were sent (the snaplen cut the rest, which becomes a gap). In-order bytes
 * are delivered at once (zero copy), held segments that become contiguous
 * follow. Returns the number of anomalies seen (out of window, differing
 * overlap, data after FIN), 0 normally. */
int reasm_segment(struct reasm *r, const struct reasm_env *env, uint32_t seq, const uint8_t *p,
                  size_t n, size_t wire_n, uint64_t ts_us, const struct reasm_out *out);

/* A FIN at sequence number seq (after the segment's payload). */
void reasm_fin(struct reasm *r, uint32_t seq);

/* Deliver everything held, reporting each hole as a gap, and the missing
 * bytes up to the furthest byte or FIN seen. Nothing is held afterwards. */
void reasm_flush(struct reasm *r, const struct reasm_env *env, uint64_t ts_us,
                 const struct reasm_out *out);

/* Free held segments without delivering them. */
void reasm_release(struct reasm *r, const struct reasm_env *env);

#endif
