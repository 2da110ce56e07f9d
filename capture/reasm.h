/* reasm.h -- reassembly of one TCP direction into in-order bytes (RFC 9293 §3.4, §3.10.7.4).
 *
 * Sequence numbers are compared wrap-aware (signed 32-bit difference from
 * the next expected sequence number) and turned into 64-bit stream offsets,
 * so a stream may carry more than 4 GiB. Out-of-order segments are held in
 * an offset-ordered list charged to an accounted pool; overlaps keep the
 * first copy. A hole is never glued over: when data beyond it must be
 * delivered the hole is reported as a gap of its exact length first. That
 * happens when
 *   - the peer acknowledges bytes of the hole (RFC 9293 §3.4: the receiver
 *     has them, so they will never be retransmitted: the capture lost them);
 *     only the acknowledged part is given up, at once;
 *   - the hole stays unfilled for hole_timeout_us of packet time (no ACKs
 *     seen: one-way capture, or the ACKs were lost too);
 *   - a cap is hit (per-direction, memcap), or the stream ends (flush).
 *
 * Sequence jumps. A segment further than `window` bytes ahead of the next
 * expected byte, or wholly more than `window` bytes behind it, is out of
 * window (merged captures of one long-lived connection, a new connection on
 * the same 5-tuple whose SYN was not captured, garbage). It is kept as the
 * direction's single resync candidate. When the stream really moved there --
 * the next segment continues exactly where the candidate ends, or the peer's
 * ACK points at it (from its first byte to a window past its end) -- the
 * direction restarts there: what is
 * held is delivered first (holes as gaps), then one gap marks the jump
 * (its length is the forward distance when the jump is forward, else 0:
 * "unknown, the stream broke"; counted in reasm.resync), then the candidate
 * and the new segment. A backward candidate is a possible late
 * retransmission burst, so when the peer's ACKs are visible only an ACK at
 * the new position confirms it (contiguous segments meanwhile grow the
 * candidate into a run, up to the window). Memory per direction stays
 * bounded: one candidate whose bytes are kept up to max_ooo, charged to the
 * pool; an unconfirmed candidate is dropped after hole_timeout_us. */
#ifndef OSRCA_REASM_H
#define OSRCA_REASM_H

#include <stddef.h>
#include <stdint.h>

#include "capture/mem.h"
#include "capture/stats.h"

/* Upper bound of any window: no configuration may look further ahead. */
#define REASM_MAX_AHEAD (1u << 30)
/* Default resync window (see the file comment): 4 MiB. Linux caps the
 * receive buffer at tcp_rmem[2] = 6 MiB by default, of which at most half is
 * advertised as window at tcp_adv_win_scale 1, so no legitimate segment of a
 * default-tuned host lies further ahead, and no retransmission further
 * behind. A forward jump past it that is real costs nothing (the gap is
 * exact); a backward one needs confirmation. */
#define REASM_WINDOW_DEFAULT (4u << 20)
/* Default hole timeout: 2 s of packet time. A hole lost in the network is
 * retransmitted after one RTO: >= 200 ms on Linux (then 400, 800 ms with
 * backoff, so 1.4 s for three tries), 1 s by RFC 6298 §2. Holes the capture
 * lost normally go earlier, through the peer's ACK. */
#define REASM_HOLE_TIMEOUT_DEFAULT (2ull * 1000000)

/* Limits and counters shared by every direction of a flow table. */
struct reasm_env {
    struct mem_pool *pool;    /* buffered out-of-order bytes, all streams (memcap) */
    struct stats *st;         /* for diagnostics */
    size_t max_ooo;           /* buffered bytes per direction */
    uint32_t window;          /* resync window in bytes, 1 .. REASM_MAX_AHEAD */
    uint64_t hole_timeout_us; /* give up a hole after this much packet time; 0 = never */
    uint64_t *c_ooo_segments, *c_dircap, *c_memcap, *c_gaps, *c_gap_bytes, *c_retrans_bytes,
        *c_overlap_bytes, *c_overlap_diff, *c_out_of_window, *c_after_fin, *c_truncated,
        *c_ack_gaps, *c_ack_gap_bytes, *c_hole_timeouts, *c_hole_timeout_bytes;
};

/* Bind env to pool and the "reasm.*" counters of st, with window and
 * hole_timeout_us at their defaults (the owner may change both after). */
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
    uint64_t resyncs;    /* sequence jumps followed */
    int fin;             /* FIN seen; fin_off is its stream offset */
    uint64_t fin_off;
    uint32_t _base_seq;  /* sequence number of stream offset 0 */
    uint64_t _max_off;   /* end of the furthest byte seen (holes up to it are real) */
    struct reasm_seg *_head;
    uint64_t _since;     /* packet time of the last in-order progress */
    int _ack_valid;      /* _ack_off holds the peer's highest ACK in window */
    int _acks_seen;      /* the peer's ACKs are visible in the capture */
    uint64_t _ack_off;
    /* resync candidate: an out-of-window segment, or a contiguous run of
     * them, at most window bytes; data NULL when its bytes were not kept */
    int _cand_on;
    uint32_t _cand_seq, _cand_wire;
    size_t _cand_n;
    uint64_t _cand_ts, _cand_last; /* packet time of its first and last segment */
    uint8_t *_cand_data;
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

/* The peer sent a segment with the ACK flag and acknowledgment number ack
 * (the next sequence number it expects of this direction). Bytes of the hole
 * before the first held segment below ack are reported as a gap and the held
 * data after them delivered; an ACK into the resync candidate confirms a
 * sequence jump. ACKs out of window, or with nothing held, only update
 * state. Never reports bytes beyond the held data. */
void reasm_ack(struct reasm *r, const struct reasm_env *env, uint32_t ack, uint64_t ts_us,
               const struct reasm_out *out);

/* Packet time now_us passed: give up holes older than env->hole_timeout_us
 * (gap, then the held data after them) and drop an unconfirmed resync
 * candidate as old. Cheap when nothing is due. */
void reasm_tick(struct reasm *r, const struct reasm_env *env, uint64_t now_us,
                const struct reasm_out *out);

/* The packet time at which reasm_tick has something to do; UINT64_MAX when
 * nothing is held (or the timeout is off). */
uint64_t reasm_deadline(const struct reasm *r, const struct reasm_env *env);

/* A FIN at sequence number seq (after the segment's payload). A FIN out of
 * window is ignored. */
void reasm_fin(struct reasm *r, const struct reasm_env *env, uint32_t seq);

/* Deliver everything held, reporting each hole as a gap, and the missing
 * bytes up to the furthest byte or FIN seen. Nothing is held afterwards. */
void reasm_flush(struct reasm *r, const struct reasm_env *env, uint64_t ts_us,
                 const struct reasm_out *out);

/* Free held segments and the resync candidate without delivering them. */
void reasm_release(struct reasm *r, const struct reasm_env *env);

#endif
