/* reasm.c -- one TCP direction to in-order bytes (RFC 9293 §3.4, §3.10.7.4; see reasm.h).
 *
 * Held segments form a singly linked list sorted by stream offset with no
 * two segments overlapping: a new segment is cut into the pieces no held
 * segment covers yet (first copy wins), each piece charged to the pool.
 * Invariant between calls: the first held segment starts after next_off
 * (drain() delivers whatever touches next_off), so "the hole" is always
 * [next_off, _head->off). */
#include "capture/reasm.h"

#include <string.h>

struct reasm_seg {
    struct reasm_seg *next;
    uint64_t off;
    size_t len;
    uint64_t ts_us;
    uint8_t data[];
};

void reasm_env_init(struct reasm_env *env, struct mem_pool *pool, size_t max_ooo,
                    struct stats *st)
{
    env->pool = pool;
    env->st = st;
    env->max_ooo = max_ooo;
    env->window = REASM_WINDOW_DEFAULT;
    env->hole_timeout_us = REASM_HOLE_TIMEOUT_DEFAULT;
    env->c_ooo_segments = stats_counter(st, "reasm.ooo_segments");
    env->c_dircap = stats_counter(st, "reasm.ooo_flowcap");
    env->c_memcap = stats_counter(st, "reasm.ooo_memcap");
    env->c_gaps = stats_counter(st, "reasm.gaps");
    env->c_gap_bytes = stats_counter(st, "reasm.gap_bytes");
    env->c_retrans_bytes = stats_counter(st, "reasm.retransmit_bytes");
    env->c_overlap_bytes = stats_counter(st, "reasm.overlap_bytes");
    env->c_overlap_diff = stats_counter(st, "reasm.overlap_differs");
    env->c_out_of_window = stats_counter(st, "reasm.out_of_window");
    env->c_after_fin = stats_counter(st, "reasm.data_after_fin");
    env->c_truncated = stats_counter(st, "reasm.snaplen_gap");
    env->c_ack_gaps = stats_counter(st, "reasm.ack_gaps");
    env->c_ack_gap_bytes = stats_counter(st, "reasm.ack_gap_bytes");
    env->c_hole_timeouts = stats_counter(st, "reasm.hole_timeouts");
    env->c_hole_timeout_bytes = stats_counter(st, "reasm.hole_timeout_bytes");
    (void)stats_counter(st, "reasm.resync"); /* bumped by stats_diag, listed even at 0 */
}

void reasm_init(struct reasm *r)
{
    memset(r, 0, sizeof(*r));
}

void reasm_start(struct reasm *r, uint32_t seq)
{
    if (r->started)
        return;
    r->started = 1;
    r->_base_seq = seq;
    r->next_off = 0;
    r->_max_off = 0;
}

static void put_data(struct reasm *r, const uint8_t *p, size_t n, uint64_t ts,
                     const struct reasm_out *out)
{
    if (n == 0)
        return;
    r->next_off += n;
    r->delivered += n;
    if (out->data)
        out->data(out->ctx, p, n, ts);
}

/* Report len missing bytes. A resync reports its jump even when the length
 * is unknown (len 0, see reasm.h); every other caller skips empty gaps. */
static void gap_event(struct reasm *r, const struct reasm_env *env, uint64_t len, uint64_t ts,
                      const struct reasm_out *out)
{
    r->next_off += len;
    r->gaps++;
    r->gap_bytes += len;
    (*env->c_gaps)++;
    *env->c_gap_bytes += len;
    if (out->gap)
        out->gap(out->ctx, len, ts);
}

static void put_gap(struct reasm *r, const struct reasm_env *env, uint64_t len, uint64_t ts,
                    const struct reasm_out *out)
{
    if (len != 0)
        gap_event(r, env, len, ts, out);
}

/* The sequence number of the next expected byte. */
static uint32_t cur_seq(const struct reasm *r)
{
    return r->_base_seq + (uint32_t)r->next_off;
}

/* Is a segment [seq, seq + wire_n) whose start is delta from the next
 * expected byte outside the resync window? Behind counts only when the whole
 * segment is behind by more than the window. */
static int out_of_window(const struct reasm_env *env, int32_t delta, size_t wire_n)
{
    if (delta >= 0)
        return (uint32_t)delta > env->window;
    uint64_t back = (uint64_t)(-(int64_t)delta);
    return back > env->window && back >= wire_n;
}

static void seg_free(const struct reasm_env *env, struct reasm *r, struct reasm_seg *s)
{
    r->held -= s->len;
    mem_free(env->pool, s, sizeof(*s) + s->len);
}

/* Deliver held segments that start at or before next_off. */
static void drain(struct reasm *r, const struct reasm_env *env, const struct reasm_out *out)
{
    while (r->_head && r->_head->off <= r->next_off) {
        struct reasm_seg *s = r->_head;
        r->_head = s->next;
        uint64_t end = s->off + s->len;
        if (end > r->next_off) {
            size_t skip = (size_t)(r->next_off - s->off);
            put_data(r, s->data + skip, s->len - skip, s->ts_us, out);
        }
        seg_free(env, r, s);
    }
}

/* Give up waiting for the hole before the first held segment: report it as
 * a gap and deliver what follows it. */
static void force_head(struct reasm *r, const struct reasm_env *env, const struct reasm_out *out)
{
    struct reasm_seg *s = r->_head;
    if (!s)
        return;
    if (s->off > r->next_off)
        put_gap(r, env, s->off - r->next_off, s->ts_us, out);
    drain(r, env, out);
}

/* Hold [off, off+n) except what held segments already cover. Returns 0, or
 * -1 when a cap refused a piece (pieces before it stay held). */
static int hold(struct reasm *r, const struct reasm_env *env, uint64_t off, const uint8_t *p,
                size_t n, uint64_t ts, int *anom)
{
    struct reasm_seg **pp = &r->_head;
    uint64_t cur = off, end = off + n;
    while (cur < end) {
        struct reasm_seg *s = *pp;
        if (s && s->off + s->len <= cur) {
            pp = &s->next;
            continue;
        }
        if (s && s->off <= cur) {
            /* cur lies inside s: the first copy wins; note if they differ */
            uint64_t ov_end = s->off + s->len < end ? s->off + s->len : end;
            size_t ovn = (size_t)(ov_end - cur);
            if (memcmp(p + (cur - off), s->data + (cur - s->off), ovn) != 0) {
                (*env->c_overlap_diff)++;
                (*anom)++;
            }
            *env->c_overlap_bytes += ovn;
            cur = ov_end;
            pp = &s->next;
            continue;
        }
        uint64_t piece_end = s && s->off < end ? s->off : end;
        size_t len = (size_t)(piece_end - cur);
        if (r->held + len > env->max_ooo) {
            if (env->st && *env->c_dircap < STATS_DIAG_PER_KIND) /* the first few */
                stats_diag(env->st, "reasm.ooo_flowcap", ts,
                           "reasm: out-of-order bytes held %zu + %zu > limit %zu per direction: "
                           "the hole becomes a gap",
                           r->held, len, env->max_ooo);
            else
                (*env->c_dircap)++;
            return -1;
        }
        struct reasm_seg *ns = mem_alloc(env->pool, sizeof(*ns) + len);
        if (!ns) {
            if (env->st && *env->c_memcap < STATS_DIAG_PER_KIND)
                stats_diag(env->st, "reasm.ooo_memcap", ts,
                           "reasm: out-of-order memory cap %zu reached: the hole becomes a gap",
                           env->pool ? env->pool->cap : (size_t)0);
            else
                (*env->c_memcap)++;
            return -1;
        }
        ns->off = cur;
        ns->len = len;
        ns->ts_us = ts;
        memcpy(ns->data, p + (cur - off), len);
        ns->next = s;
        *pp = ns;
        pp = &ns->next;
        r->held += len;
        cur = piece_end;
    }
    return 0;
}

/* The peer acknowledged up to _ack_off: the bytes of each hole below it were
 * received and will never be retransmitted. Give up exactly those, deliver
 * what follows; stop at the first byte not acknowledged or when nothing is
 * held (bytes past the held data are not reported: they may still come, and
 * a mid-stream join's first ACK may be far ahead of anything seen). */
static void ack_giveup(struct reasm *r, const struct reasm_env *env, const struct reasm_out *out)
{
    while (r->_ack_valid && r->_head && r->_ack_off > r->next_off) {
        struct reasm_seg *s = r->_head;
        uint64_t upto = r->_ack_off < s->off ? r->_ack_off : s->off;
        uint64_t len = upto - r->next_off;
        (*env->c_ack_gaps)++;
        *env->c_ack_gap_bytes += len;
        put_gap(r, env, len, s->ts_us, out);
        drain(r, env, out);
    }
}

/* Forget the candidate's bytes, keep its position. */
static void cand_drop_data(struct reasm *r, const struct reasm_env *env)
{
    if (r->_cand_data)
        mem_free(env->pool, r->_cand_data, r->_cand_n);
    r->_cand_data = NULL;
    r->_cand_n = 0;
}

static void cand_clear(struct reasm *r, const struct reasm_env *env)
{
    cand_drop_data(r, env);
    r->_cand_on = 0;
}

/* Keep an out-of-window segment as the resync candidate (replacing any).
 * Its bytes are copied when all were captured and they fit the
 * per-direction cap and the memcap; otherwise only its position is kept and
 * its bytes become a gap on resync. */
static void cand_set(struct reasm *r, const struct reasm_env *env, uint32_t seq, const uint8_t *p,
                     size_t n, size_t wire_n, uint64_t ts)
{
    cand_clear(r, env);
    r->_cand_on = 1;
    r->_cand_seq = seq;
    r->_cand_wire = (uint32_t)wire_n; /* <= the window: checked by the caller */
    r->_cand_ts = r->_cand_last = ts;
    if (n != wire_n || n > env->max_ooo)
        return;
    r->_cand_data = mem_alloc(env->pool, n);
    if (!r->_cand_data) {
        (*env->c_memcap)++;
        return;
    }
    memcpy(r->_cand_data, p, n);
    r->_cand_n = n;
}

/* Append a segment that continues the candidate exactly (a run waiting for
 * the peer's ACK). The run keeps its bytes only while every segment was
 * captured whole and they fit the caps; past the window it starts over. */
static void cand_extend(struct reasm *r, const struct reasm_env *env, const uint8_t *p, size_t n,
                        size_t wire_n, uint64_t ts)
{
    if (wire_n > env->window - r->_cand_wire) {
        cand_set(r, env, r->_cand_seq + r->_cand_wire, p, n, wire_n, ts);
        return;
    }
    if (r->_cand_data && n == wire_n && n <= env->max_ooo - r->_cand_n) {
        uint8_t *nd = mem_realloc(env->pool, r->_cand_data, r->_cand_n, r->_cand_n + n);
        if (nd) {
            memcpy(nd + r->_cand_n, p, n);
            r->_cand_data = nd;
            r->_cand_n += n;
        } else {
            (*env->c_memcap)++;
            cand_drop_data(r, env);
        }
    } else {
        cand_drop_data(r, env);
    }
    r->_cand_wire += (uint32_t)wire_n;
    r->_cand_last = ts;
}

static int in_window(struct reasm *r, const struct reasm_env *env, uint32_t seq, const uint8_t *p,
                     size_t n, size_t wire_n, uint64_t ts_us, const struct reasm_out *out);

/* The stream moved to the candidate's position: deliver what is held (it
 * belongs before the jump), mark the jump with one gap, restart the offsets
 * there and take the candidate in order. */
static void resync(struct reasm *r, const struct reasm_env *env, const char *why, uint64_t ts,
                   const struct reasm_out *out)
{
    while (r->_head)
        force_head(r, env, out);
    int32_t jump = (int32_t)(r->_cand_seq - cur_seq(r));
    /* forward: the bytes in between are missing (mod 2^32); backward: unknown */
    uint64_t len = jump > 0 ? (uint64_t)(uint32_t)jump : 0;
    stats_diag(env->st, "reasm.resync", ts,
               "reasm: sequence jump of %lld bytes (%s): stream resynchronised, gap %llu",
               (long long)jump, why, (unsigned long long)len);
    gap_event(r, env, len, r->_cand_ts, out); /* in stream order: before the candidate */
    r->resyncs++;
    r->_base_seq = r->_cand_seq - (uint32_t)r->next_off;
    r->_max_off = r->next_off;
    r->fin = 0; /* a FIN of the old position says nothing about the new one */
    r->fin_off = 0;
    r->_ack_valid = 0;
    r->_since = ts;
    /* take the candidate out before feeding it, so nothing sees it twice */
    uint8_t *data = r->_cand_data;
    size_t n = r->_cand_n;
    uint32_t seq = r->_cand_seq, wire = r->_cand_wire;
    uint64_t cts = r->_cand_ts;
    r->_cand_data = NULL;
    r->_cand_n = 0;
    r->_cand_on = 0;
    if (data) {
        (void)in_window(r, env, seq, data, n, wire, cts, out);
        mem_free(env->pool, data, n);
    } else {
        /* its bytes were not kept: they are missing, exactly */
        r->_max_off = r->next_off + wire;
        put_gap(r, env, wire, cts, out);
    }
}

/* An out-of-window segment: does it confirm the candidate (it continues
 * exactly where the candidate ends), or become the new candidate? A backward
 * jump is not confirmed this way while the peer's ACKs are visible: a late
 * go-back-N retransmission burst looks the same; the peer's ACK decides. */
static int offer(struct reasm *r, const struct reasm_env *env, uint32_t seq, const uint8_t *p,
                 size_t n, size_t wire_n, uint64_t ts, const struct reasm_out *out)
{
    if (wire_n > env->window)
        return 0; /* no segment is that big; nothing to keep */
    if (r->_cand_on && seq == r->_cand_seq + r->_cand_wire) {
        int32_t jump = (int32_t)(r->_cand_seq - cur_seq(r));
        if (jump > 0 || !r->_acks_seen) {
            resync(r, env, "two contiguous segments", ts, out);
            return in_window(r, env, seq, p, n, wire_n, ts, out);
        }
        /* grow the run: the peer's ACK may still confirm it */
        cand_extend(r, env, p, n, wire_n, ts);
        return 0;
    }
    cand_set(r, env, seq, p, n, wire_n, ts);
    return 0;
}

int reasm_segment(struct reasm *r, const struct reasm_env *env, uint32_t seq, const uint8_t *p,
                  size_t n, size_t wire_n, uint64_t ts_us, const struct reasm_out *out)
{
    if (wire_n < n)
        wire_n = n;
    if (wire_n == 0)
        return 0;
    reasm_start(r, seq);
    if (out_of_window(env, (int32_t)(seq - cur_seq(r)), wire_n)) {
        if (env->st && *env->c_out_of_window < STATS_DIAG_PER_KIND) /* the first few */
            stats_diag(env->st, "reasm.out_of_window", ts_us,
                       "reasm: segment at seq %u is %lld bytes from the next expected byte "
                       "(seq %u): out of window, kept as a resync candidate",
                       seq, (long long)(int32_t)(seq - cur_seq(r)), cur_seq(r));
        else
            (*env->c_out_of_window)++;
        return 1 + offer(r, env, seq, p, n, wire_n, ts_us, out);
    }
    if (r->_cand_on)
        cand_clear(r, env); /* the stream goes on where it was */
    return in_window(r, env, seq, p, n, wire_n, ts_us, out);
}

/* A segment within the window (or the candidate being replayed at a resync:
 * then exactly at the next expected byte). */
static int in_window(struct reasm *r, const struct reasm_env *env, uint32_t seq, const uint8_t *p,
                     size_t n, size_t wire_n, uint64_t ts_us, const struct reasm_out *out)
{
    int anom = 0;
again:;
    int32_t delta = (int32_t)(seq - cur_seq(r)); /* wrap-aware: RFC 1982 style */
    uint64_t off;
    if (delta >= 0) {
        off = r->next_off + (uint32_t)delta;
    } else {
        /* starts before the next expected byte: that part was delivered (or
         * reported as a gap) already; the first copy won */
        uint64_t back = (uint64_t)(-(int64_t)delta);
        if (back >= wire_n) {
            *env->c_retrans_bytes += n;
            return anom;
        }
        size_t cut = back < n ? (size_t)back : n;
        *env->c_retrans_bytes += cut;
        p += cut;
        n -= cut;
        wire_n -= (size_t)back;
        seq += (uint32_t)back;
        off = r->next_off;
    }
    if (r->fin && off + wire_n > r->fin_off) {
        /* bytes past the FIN: a broken or hostile sender */
        (*env->c_after_fin)++;
        anom++;
        if (off >= r->fin_off)
            return anom;
        wire_n = (size_t)(r->fin_off - off);
        if (n > wire_n)
            n = wire_n;
    }
    if (off + wire_n > r->_max_off)
        r->_max_off = off + wire_n;
    if (off == r->next_off) {
        r->_since = ts_us; /* progress: a hole after this waits from now */
        if (r->_head && r->_head->off < off + n) {
            /* held data overlaps this segment: deliver up to it, let the held
             * (first) copy go out, then take the rest of this one again */
            put_data(r, p, (size_t)(r->_head->off - off), ts_us, out);
            drain(r, env, out);
            goto again;
        }
        put_data(r, p, n, ts_us, out);
        if (wire_n > n) {
            /* the snaplen cut the payload: those bytes will never be seen */
            (*env->c_truncated)++;
            put_gap(r, env, wire_n - n, ts_us, out);
        }
        drain(r, env, out);
        return anom;
    }
    /* out of order: hold it until the hole before it fills */
    (*env->c_ooo_segments)++;
    if (n == 0 || hold(r, env, off, p, n, ts_us, &anom) == 0) {
        ack_giveup(r, env, out); /* the peer may have acknowledged the hole already */
        return anom;
    }
    /* A cap refused it: stop waiting for the holes before this segment.
     * Report them as gaps, deliver the held data before it, then take the
     * segment again (now in order, or partly delivered already). */
    while (r->_head && r->_head->off <= off)
        force_head(r, env, out);
    if (r->next_off < off)
        put_gap(r, env, off - r->next_off, ts_us, out);
    goto again;
}

void reasm_ack(struct reasm *r, const struct reasm_env *env, uint32_t ack, uint64_t ts_us,
               const struct reasm_out *out)
{
    if (!r->started)
        return; /* no data of this direction yet: nothing to relate the ACK to */
    int32_t d = (int32_t)(ack - cur_seq(r));
    if (out_of_window(env, d, 1)) {
        /* not about the current position: does it point at the candidate
         * (from its first byte to a window past its end)? */
        if (!r->_cand_on || (uint32_t)(ack - r->_cand_seq) > (uint64_t)r->_cand_wire + env->window)
            return;
        resync(r, env, "confirmed by the peer's ACK", ts_us, out);
        d = (int32_t)(ack - cur_seq(r)); /* within the window now */
    }
    r->_acks_seen = 1;
    if (d <= 0)
        return;
    uint64_t a = r->next_off + (uint32_t)d;
    if (!r->_ack_valid || a > r->_ack_off) {
        r->_ack_off = a;
        r->_ack_valid = 1;
    }
    ack_giveup(r, env, out);
}

void reasm_tick(struct reasm *r, const struct reasm_env *env, uint64_t now_us,
                const struct reasm_out *out)
{
    uint64_t to = env->hole_timeout_us;
    if (to == 0)
        return;
    while (r->_head) {
        struct reasm_seg *s = r->_head;
        /* the hole before s is known since s arrived, and nothing filled any
         * of it since the last in-order progress */
        uint64_t since = s->ts_us > r->_since ? s->ts_us : r->_since;
        if (now_us < since || now_us - since < to)
            break;
        (*env->c_hole_timeouts)++;
        *env->c_hole_timeout_bytes += s->off - r->next_off;
        force_head(r, env, out);
    }
    if (r->_cand_on && now_us >= r->_cand_last && now_us - r->_cand_last >= to)
        cand_clear(r, env); /* never confirmed: it was noise */
}

uint64_t reasm_deadline(const struct reasm *r, const struct reasm_env *env)
{
    uint64_t to = env->hole_timeout_us, d = UINT64_MAX;
    if (to == 0)
        return d;
    if (r->_head) {
        uint64_t since = r->_head->ts_us > r->_since ? r->_head->ts_us : r->_since;
        d = since > UINT64_MAX - to ? UINT64_MAX : since + to;
    }
    if (r->_cand_on) {
        uint64_t c = r->_cand_last > UINT64_MAX - to ? UINT64_MAX : r->_cand_last + to;
        if (c < d)
            d = c;
    }
    return d;
}

void reasm_fin(struct reasm *r, const struct reasm_env *env, uint32_t seq)
{
    reasm_start(r, seq);
    int32_t delta = (int32_t)(seq - cur_seq(r));
    if (out_of_window(env, delta, 1))
        return; /* not this stream's position (a jump, or garbage) */
    uint64_t off;
    if (delta >= 0)
        off = r->next_off + (uint32_t)delta;
    else
        off = r->next_off; /* a FIN behind delivered data: it ends here */
    if (!r->fin || off < r->fin_off) {
        r->fin = 1;
        r->fin_off = off;
    }
    if (off > r->_max_off)
        r->_max_off = off;
}

void reasm_flush(struct reasm *r, const struct reasm_env *env, uint64_t ts_us,
                 const struct reasm_out *out)
{
    while (r->_head)
        force_head(r, env, out);
    if (r->_max_off > r->next_off)
        put_gap(r, env, r->_max_off - r->next_off, ts_us, out);
}

void reasm_release(struct reasm *r, const struct reasm_env *env)
{
    while (r->_head) {
        struct reasm_seg *s = r->_head;
        r->_head = s->next;
        seg_free(env, r, s);
    }
    cand_clear(r, env);
}
