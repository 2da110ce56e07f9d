/* check_evwire.c -- the sensors' event codec (parsers/evwire.h) and the
 * merge of many sensors' events (rca/merge.h): every field of an event read
 * back as written; damaged frames refused with their reason; the merge's
 * order across sensors, the hold-back, doubles of one connection dropped,
 * a clock offset learned from shared messages and applied to the odd
 * clock, requests' sequence numbers carried over, bounded queues. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/stats.h"
#include "parsers/event.h"
#include "parsers/evwire.h"
#include "rca/merge.h"

static struct event *mk(enum ev_kind k, uint64_t ts, uint64_t seq, const char *src, uint16_t sp,
                        const char *dst, uint16_t dp)
{
    struct event *ev = event_new(NULL);
    ck_assert_ptr_nonnull(ev);
    ev->kind = k;
    ev->ts_us = ts;
    ev->seq = seq;
    ev->flow_id = 7;
    snprintf(ev->src.addr, sizeof(ev->src.addr), "%s", src);
    ev->src.port = sp;
    snprintf(ev->dst.addr, sizeof(ev->dst.addr), "%s", dst);
    ev->dst.port = dp;
    return ev;
}

static struct event *full_event(void)
{
    struct event *ev = mk(EV_RPC_CALL, 1796540000123456ull, 42, "10.0.0.10", 41000, "10.0.0.10",
                          5672);
    ev->flags = EV_F_BODY_TRUNC | EV_F_LISTED;
    ev->method = event_cstr(ev, "POST");
    ev->path = event_cstr(ev, "/v2.1/servers");
    ev->query = event_cstr(ev, "limit=1");
    ev->status = 503;
    ev->reason = event_cstr(ev, "Service Unavailable");
    ev->user_agent = event_cstr(ev, "python-novaclient");
    ev->operation = event_cstr(ev, "server create");
    ev->req_seq = 40;
    ev->req_ts_us = 1796540000000001ull;
    ev->accept_wait_us = 3000000;
    ev->body_len = 123456;
    ev->request_id = event_cstr(ev, "req-11111111-2222-3333-4444-555555555555");
    ev->global_request_id = event_cstr(ev, "req-66666666-2222-3333-4444-555555555555");
    ev->error_class = event_cstr(ev, "NoValidHost");
    ev->error_module = event_cstr(ev, "nova.exception");
    ev->error_message = event_cstr(ev, "No valid host was found. \xc3\xa9");
    ev->traceback = event_cstr(ev, "Traceback (most recent call last):\n  File x\n");
    ev->verb = EV_VERB_PUBLISH;
    ev->channel = 65535;
    ev->exchange = event_cstr(ev, "nova");
    ev->routing_key = event_cstr(ev, "scheduler");
    ev->topic = event_cstr(ev, "scheduler");
    ev->target_server = event_cstr(ev, "compute-1");
    ev->topic_service = event_cstr(ev, "nova-scheduler");
    ev->fanout = 1;
    ev->rpc_method = event_cstr(ev, "select_destinations");
    ev->rpc_namespace = event_cstr(ev, "compute_task");
    ev->rpc_version = event_cstr(ev, "4.5");
    ev->msg_id = event_cstr(ev, "47c56b4fa4e74b4aab9b1fa1a6cd89b4");
    ev->reply_q = event_cstr(ev, "reply_40b4e8056a004d77abf65ae6637ea8c1");
    ev->unique_id = event_cstr(ev, "9a1c5b4fa4e74b4aab9b1fa1a6cd89b4");
    ev->timeout_s = 60;
    ev->expiration_ms = -7;
    ev->ending = 0;
    ev->failure = 1;
    ev->publisher_id = event_cstr(ev, "compute.compute-1");
    ev->event_type = event_cstr(ev, "compute.instance.update");
    ev->priority = event_cstr(ev, "ERROR");
    ev->ctx_user = event_cstr(ev, "u");
    ev->ctx_project = event_cstr(ev, "p");
    ev->reply_code = 312;
    ev->reply_text = event_cstr(ev, "NO_ROUTE");
    ev->conn_event = 3;
    ev->quiet_since_us = 99;
    ev->end_how = EV_END_SERVER_RESET;
    ev->resource_state = event_cstr(ev, "ERROR");
    ev->resource_task = event_cstr(ev, "deleting");
    ev->fault_message = event_cstr(ev, "boom");
    ev->token_fp[0] = 0xfedcba9876543210ull;
    ev->token_fp[1] = 1;
    ev->subject_fp = UINT64_MAX;
    ev->src.service = event_cstr(ev, "nova-conductor");
    ev->src.host = event_cstr(ev, "controller");
    ev->dst.service = event_cstr(ev, "rabbitmq");
    event_add_uuid(ev, "5A3E19CE-7940-4E0D-B310-000000000001", 36, EV_RES_INSTANCE);
    event_add_uuid(ev, "0123456789abcdef0123456789abcdef", 32, EV_RES_PROJECT);
    ev->names = arena_alloc(&ev->arena, 3 * sizeof(*ev->names));
    ev->names[0] = 1;
    ev->names[1] = 0xffffffffu;
    ev->names[2] = 77;
    ev->nnames = 3;
    return ev;
}

#define STR_EQ(f) ck_assert_str_eq(b->f ? b->f : "(null)", a->f ? a->f : "(null)")

static void same_event(const struct event *a, const struct event *b)
{
    ck_assert_int_eq(a->kind, b->kind);
    ck_assert_uint_eq(a->flags, b->flags);
    ck_assert_uint_eq(a->ts_us, b->ts_us);
    ck_assert_uint_eq(a->seq, b->seq);
    ck_assert_uint_eq(a->flow_id, b->flow_id);
    ck_assert_str_eq(a->src.addr, b->src.addr);
    ck_assert_uint_eq(a->src.port, b->src.port);
    ck_assert_str_eq(a->dst.addr, b->dst.addr);
    ck_assert_uint_eq(a->dst.port, b->dst.port);
    ck_assert_int_eq(a->status, b->status);
    ck_assert_uint_eq(a->req_seq, b->req_seq);
    ck_assert_uint_eq(a->req_ts_us, b->req_ts_us);
    ck_assert_uint_eq(a->accept_wait_us, b->accept_wait_us);
    ck_assert_uint_eq(a->body_len, b->body_len);
    ck_assert_int_eq(a->verb, b->verb);
    ck_assert_uint_eq(a->channel, b->channel);
    ck_assert_int_eq(a->fanout, b->fanout);
    ck_assert_int_eq(a->timeout_s, b->timeout_s);
    ck_assert_int_eq(a->expiration_ms, b->expiration_ms);
    ck_assert_int_eq(a->ending, b->ending);
    ck_assert_int_eq(a->failure, b->failure);
    ck_assert_uint_eq(a->reply_code, b->reply_code);
    ck_assert_int_eq(a->conn_event, b->conn_event);
    ck_assert_uint_eq(a->quiet_since_us, b->quiet_since_us);
    ck_assert_int_eq(a->end_how, b->end_how);
    ck_assert_uint_eq(a->token_fp[0], b->token_fp[0]);
    ck_assert_uint_eq(a->token_fp[1], b->token_fp[1]);
    ck_assert_uint_eq(a->subject_fp, b->subject_fp);
    STR_EQ(method);
    STR_EQ(path);
    STR_EQ(query);
    STR_EQ(reason);
    STR_EQ(user_agent);
    STR_EQ(operation);
    STR_EQ(request_id);
    STR_EQ(global_request_id);
    STR_EQ(error_class);
    STR_EQ(error_module);
    STR_EQ(error_message);
    STR_EQ(traceback);
    STR_EQ(exchange);
    STR_EQ(routing_key);
    STR_EQ(topic);
    STR_EQ(target_server);
    STR_EQ(topic_service);
    STR_EQ(rpc_method);
    STR_EQ(rpc_namespace);
    STR_EQ(rpc_version);
    STR_EQ(msg_id);
    STR_EQ(reply_q);
    STR_EQ(unique_id);
    STR_EQ(publisher_id);
    STR_EQ(event_type);
    STR_EQ(priority);
    STR_EQ(ctx_user);
    STR_EQ(ctx_project);
    STR_EQ(reply_text);
    STR_EQ(resource_state);
    STR_EQ(resource_task);
    STR_EQ(fault_message);
    STR_EQ(src.service);
    STR_EQ(src.host);
    STR_EQ(dst.service);
    STR_EQ(dst.host);
    ck_assert_uint_eq(a->nuuids, b->nuuids);
    for (size_t i = 0; i < a->nuuids; i++) {
        ck_assert_str_eq(a->uuids[i].id, b->uuids[i].id);
        ck_assert_uint_eq(a->uuids[i].res, b->uuids[i].res);
    }
    ck_assert_uint_eq(a->nnames, b->nnames);
    for (size_t i = 0; i < a->nnames; i++)
        ck_assert_uint_eq(a->names[i], b->names[i]);
}

START_TEST(every_field_round_trips)
{
    struct event *a = full_event();
    struct event *z = mk(EV_HTTP_REQUEST, 5, 1, "::1", 1, "::1", 2); /* all defaults */
    struct evwire_buf b = {0};
    evwire_begin(&b, "controller", 1796540000000000ull, 9);
    evwire_put_event(&b, a);
    const char *names[] = {"packets", "kernel_drops"};
    uint64_t vals[] = {12345, 0};
    evwire_put_mark(&b, EVWIRE_MARK, 1796540000200000ull, names, vals, 2);
    evwire_put_event(&b, z);
    evwire_put_mark(&b, EVWIRE_END, 1796540000300000ull, NULL, NULL, 0);
    ck_assert_int_eq(b.failed, 0);
    struct evwire_reader r;
    ck_assert_int_eq(evwire_open(&r, b.p, b.n), EVWIRE_OK);
    ck_assert_str_eq(r.sensor, "controller");
    ck_assert_uint_eq(r.run, 1796540000000000ull);
    ck_assert_uint_eq(r.batch, 9);
    struct evwire_rec_out o;
    enum evwire_err e;
    ck_assert_int_eq(evwire_next(&r, NULL, &o, &e), 1);
    ck_assert_int_eq(o.type, EVWIRE_EVENT);
    same_event(a, o.ev);
    event_free(o.ev);
    ck_assert_int_eq(evwire_next(&r, NULL, &o, &e), 1);
    ck_assert_int_eq(o.type, EVWIRE_MARK);
    ck_assert_uint_eq(o.clock_us, 1796540000200000ull);
    ck_assert_uint_eq(o.ncounters, 2);
    ck_assert_int_eq(memcmp(o.counters[0].name, "packets", 7), 0);
    ck_assert_uint_eq(o.counters[0].value, 12345);
    ck_assert_int_eq(evwire_next(&r, NULL, &o, &e), 1);
    same_event(z, o.ev);
    ck_assert_int_eq(o.ev->timeout_s, -1);
    ck_assert_int_eq(o.ev->ending, 1);
    event_free(o.ev);
    ck_assert_int_eq(evwire_next(&r, NULL, &o, &e), 1);
    ck_assert_int_eq(o.type, EVWIRE_END);
    ck_assert_int_eq(evwire_next(&r, NULL, &o, &e), 0);
    evwire_buf_free(&b);
    event_free(a);
    event_free(z);
}
END_TEST

START_TEST(damaged_frames_refused)
{
    struct event *a = full_event();
    struct evwire_buf b = {0};
    evwire_begin(&b, "s", 1, 1);
    evwire_put_event(&b, a);
    struct evwire_reader r;
    ck_assert_int_eq(evwire_open(&r, (const uint8_t *)"OSEX\x01\x00", 6), EVWIRE_E_MAGIC);
    ck_assert_int_eq(evwire_open(&r, (const uint8_t *)"OSEV\x02\x00\x00\x00\x00", 9),
                     EVWIRE_E_VERSION);
    ck_assert_int_eq(evwire_open(&r, b.p, 7), EVWIRE_E_TRUNCATED);
    /* every cut of the record: refused, never read past the end */
    for (size_t n = 9; n < b.n; n++) {
        uint8_t *cut = malloc(n);
        memcpy(cut, b.p, n);
        if (evwire_open(&r, cut, n) == EVWIRE_OK) {
            struct evwire_rec_out o;
            enum evwire_err e;
            int rc = evwire_next(&r, NULL, &o, &e);
            ck_assert_int_le(rc, 0);
            if (rc < 0)
                ck_assert_int_eq(e, EVWIRE_E_TRUNCATED);
        }
        free(cut);
    }
    /* an event kind out of range */
    uint8_t bad[64];
    size_t k = 0;
    memcpy(bad, "OSEV\x01\x00\x01s\x01\x01", 10);
    k = 10;
    bad[k++] = EVWIRE_EVENT;
    bad[k++] = 1;
    bad[k++] = EV_KIND_COUNT;
    ck_assert_int_eq(evwire_open(&r, bad, k), EVWIRE_OK);
    struct evwire_rec_out o;
    enum evwire_err e;
    ck_assert_int_eq(evwire_next(&r, NULL, &o, &e), -1);
    ck_assert_int_eq(e, EVWIRE_E_FIELD);
    /* an unknown record type is skipped */
    k = 10;
    bad[k++] = 99;
    bad[k++] = 2;
    bad[k++] = 0;
    bad[k++] = 0;
    ck_assert_int_eq(evwire_open(&r, bad, k), EVWIRE_OK);
    ck_assert_int_eq(evwire_next(&r, NULL, &o, &e), 0);
    evwire_buf_free(&b);
    event_free(a);
}
END_TEST

/* ---- merge ---- */

struct got {
    uint64_t ts[64], seq[64], req_seq[64], flow[64];
    int sensor[64];
    size_t n, ticks;
};

static void on_ev(void *ctx, struct event *ev, int sensor)
{
    struct got *g = ctx;
    if (g->n < 64) {
        g->ts[g->n] = ev->ts_us;
        g->seq[g->n] = ev->seq;
        g->req_seq[g->n] = ev->req_seq;
        g->flow[g->n] = ev->flow_id;
        g->sensor[g->n] = sensor;
        g->n++;
    }
    event_free(ev);
}

static void on_tick(void *ctx, uint64_t now)
{
    (void)now;
    ((struct got *)ctx)->ticks++;
}

START_TEST(merge_orders_and_holds_back)
{
    struct merge_cfg mc;
    merge_defaults(&mc);
    mc.max_skew_us = 1000;
    struct got g = {0};
    struct merge *m = merge_new(&mc, NULL, on_ev, on_tick, &g);
    int a = merge_sensor(m, "a"), b = merge_sensor(m, "b");
    merge_push(m, a, mk(EV_HTTP_REQUEST, 100, 1, "10.0.0.1", 1000, "10.0.0.2", 80));
    merge_push(m, a, mk(EV_HTTP_REQUEST, 300, 2, "10.0.0.1", 1001, "10.0.0.2", 80));
    merge_release(m);
    ck_assert_uint_eq(g.n, 0); /* b has said nothing yet */
    merge_push(m, b, mk(EV_HTTP_REQUEST, 200, 1, "10.0.0.3", 1000, "10.0.0.4", 80));
    merge_mark(m, b, 1250);
    merge_release(m);
    ck_assert_uint_eq(g.n, 0); /* min(300, 1250) is within the hold-back of 1000 */
    merge_mark(m, a, 2000);
    merge_release(m);
    ck_assert_uint_eq(g.n, 2); /* up to min(2000, 1250) - 1000 */
    ck_assert_uint_eq(g.ts[0], 100);
    ck_assert_uint_eq(g.ts[1], 200);
    ck_assert_uint_eq(g.seq[0], 1);
    ck_assert_uint_eq(g.seq[1], 2);
    ck_assert_uint_eq(g.flow[1] >> 48, 1); /* sensor b's flows */
    merge_end(m, b);
    merge_tick(m, a, 400);
    merge_flush(m);
    ck_assert_uint_eq(g.n, 3);
    ck_assert_uint_eq(g.ts[2], 300);
    ck_assert_uint_eq(g.ticks, 1);
    merge_free(m);
}
END_TEST

START_TEST(merge_drops_doubles_and_learns_offset)
{
    struct stats *st = stats_new();
    struct merge_cfg mc;
    merge_defaults(&mc);
    mc.max_skew_us = 3000000;
    struct got g = {0};
    struct merge *m = merge_new(&mc, st, on_ev, on_tick, &g);
    int cli = merge_sensor(m, "client"), ctl = merge_sensor(m, "controller"),
        cmp = merge_sensor(m, "compute");
    /* the client's clock is 2 s ahead: its copies of the same answers
     * (request ids) are 2 s later; controller and compute agree */
    for (int i = 0; i < 12; i++) {
        uint64_t t = 1000000 + (uint64_t)i * 100000;
        struct event *q = mk(EV_HTTP_REQUEST, t, 2 * i + 1, "10.0.0.50", 40000, "10.0.0.10", 8774);
        struct event *r = mk(EV_HTTP_RESPONSE, t + 50, 2 * i + 2, "10.0.0.10", 8774, "10.0.0.50",
                             40000);
        r->req_seq = 2 * i + 1;
        char rid[64];
        snprintf(rid, sizeof(rid), "req-%036d", i);
        r->request_id = event_cstr(r, rid);
        r->status = 200;
        struct event *q2 = mk(EV_HTTP_REQUEST, t + 2000000, 2 * i + 1, "10.0.0.50", 40000,
                              "10.0.0.10", 8774);
        struct event *r2 = mk(EV_HTTP_RESPONSE, t + 2000060, 2 * i + 2, "10.0.0.10", 8774,
                              "10.0.0.50", 40000);
        r2->req_seq = 2 * i + 1;
        r2->request_id = event_cstr(r2, rid);
        r2->status = 200;
        merge_push(m, ctl, q);
        merge_push(m, ctl, r);
        merge_push(m, cli, q2);
        merge_push(m, cli, r2);
        /* compute shares AMQP messages with the controller, same clock */
        struct event *p1 = mk(EV_RPC_CAST, t + 10, 1, "10.0.0.21", 5000, "10.0.0.10", 5672);
        struct event *p2 = mk(EV_RPC_CAST, t + 30, 1, "10.0.0.21", 5000, "10.0.0.10", 5672);
        char uid[40];
        snprintf(uid, sizeof(uid), "%032d", i);
        p1->unique_id = event_cstr(p1, uid);
        p2->unique_id = event_cstr(p2, uid);
        merge_push(m, ctl, p1);
        merge_push(m, cmp, p2);
    }
    /* the median clock is the reference: the client's is 2 s off (to the
     * wire's delay), the two others' under 1 ms apart count as equal */
    ck_assert_int_gt(merge_offset(m, cli), 2000000 - 100);
    ck_assert_int_lt(merge_offset(m, cli), 2000000 + 100);
    ck_assert_int_eq(merge_offset(m, ctl), 0);
    ck_assert_int_eq(merge_offset(m, cmp), 0);
    merge_flush(m);
    /* one copy of each message: 12 requests, 12 answers, 12 casts */
    ck_assert_uint_eq(g.n, 36);
    ck_assert_uint_eq(*stats_counter(st, "merge.doubles_dropped"), 36);
    for (size_t i = 1; i < g.n; i++)
        ck_assert_uint_ge(g.ts[i], g.ts[i - 1]); /* the client's times corrected */
    /* each answer points at its request's merged seq */
    for (size_t i = 0; i < g.n; i++)
        if (g.req_seq[i])
            ck_assert_uint_lt(g.req_seq[i], g.seq[i]);
    merge_free(m);
    stats_free(st);
}
END_TEST

START_TEST(merge_silent_sensor_holds_nobody)
{
    struct merge_cfg mc;
    merge_defaults(&mc);
    mc.max_skew_us = 0;
    mc.max_queued = 4;
    struct got g = {0};
    struct merge *m = merge_new(&mc, NULL, on_ev, on_tick, &g);
    int a = merge_sensor(m, "a"), b = merge_sensor(m, "b");
    for (int i = 0; i < 3; i++)
        merge_push(m, a, mk(EV_CONN, 10 + (uint64_t)i, 1 + (uint64_t)i, "1.1.1.1", 1, "2.2.2.2", 2));
    merge_release(m);
    ck_assert_uint_eq(g.n, 0);
    ck_assert_uint_eq(merge_room(m, a), 1);
    merge_set_silent(m, b, 1);
    merge_release(m);
    ck_assert_uint_eq(g.n, 3);
    ck_assert_uint_eq(merge_done(m, a), 3);
    merge_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("evwire");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, every_field_round_trips);
    tcase_add_test(tc, damaged_frames_refused);
    tcase_add_test(tc, merge_orders_and_holds_back);
    tcase_add_test(tc, merge_drops_doubles_and_learns_offset);
    tcase_add_test(tc, merge_silent_sensor_holds_nobody);
    suite_add_tcase(s, tc);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
