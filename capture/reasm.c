/* reasm.c -- one TCP direction to in-order bytes (RFC 9293 §3.4, §3.10.7.4; see reasm.h).
 *
 * Held segments form a singly linked list sorted by stream offset with no
 * two segments overlapping: a new segment is cut into the pieces no held
 * segment covers yet (first copy wins), each piece charged to the pool. */
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
    env->max_ooo = max_ooo;
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

static void put_gap(struct reasm *r, const struct reasm_env *env, uint64_t len, uint64_t ts,
                    const struct reasm_out *out)
{
    if (len == 0)
        return;
    r->next_off += len;
    r->gaps++;
    r->gap_bytes += len;
    (*env->c_gaps)++;
    *env->c_gap_bytes += len;
    if (out->gap)
        out->gap(out->ctx, len, ts);
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
            (*env->c_dircap)++;
            return -1;
        }
        struct reasm_seg *ns = mem_alloc(env->pool, sizeof(*ns) + len);
        if (!ns) {
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

int reasm_segment(struct reasm *r, const struct reasm_env *env, uint32_t seq, const uint8_t *p,
                  size_t n, size_t wire_n, uint64_t ts_us, const struct reasm_out *out)
{
    int anom = 0;
    if (wire_n < n)
        wire_n = n;
    if (wire_n == 0)
        return 0;
    reasm_start(r, seq);
again:;
    uint32_t cur = r->_base_seq + (uint32_t)r->next_off;
    int32_t delta = (int32_t)(seq - cur); /* wrap-aware: RFC 1982 style */
    uint64_t off;
    if (delta >= 0) {
        if ((uint32_t)delta > REASM_MAX_AHEAD) {
            (*env->c_out_of_window)++;
            return anom + 1;
        }
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
    if (n == 0 || hold(r, env, off, p, n, ts_us, &anom) == 0)
        return anom;
    /* A cap refused it: stop waiting for the holes before this segment.
     * Report them as gaps, deliver the held data before it, then take the
     * segment again (now in order, or partly delivered already). */
    while (r->_head && r->_head->off <= off)
        force_head(r, env, out);
    if (r->next_off < off)
        put_gap(r, env, off - r->next_off, ts_us, out);
    goto again;
}

void reasm_fin(struct reasm *r, uint32_t seq)
{
    reasm_start(r, seq);
    uint32_t cur = r->_base_seq + (uint32_t)r->next_off;
    int32_t delta = (int32_t)(seq - cur);
    if (delta > 0 && (uint32_t)delta > REASM_MAX_AHEAD)
        return;
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
}
