/* check_chain.c -- chain stitching on synthetic events: Publish/Deliver as
 * one hop, ids revealed late merge chains (glance echo, global ids, RPC
 * request id), time nesting of token validations (into the request whose
 * token they check), responses paired by
 * flow order, per-chain event cap, open-chain eviction, settle and pending
 * calls (AMQP expiration), request-id filter, the first open operation to
 * act on a resource. */
#include "parsers/redact.h"
#include "rca/chain.h"
#include "tests/rca_scenario.h"
#include "tests/xorshift.h"

static struct rca *new_rca_cfg(size_t max_open, size_t max_ev, int keep_ok)
{
    struct rca_cfg cfg;
    rca_defaults(&cfg);
    if (max_open)
        cfg.max_open_chains = max_open;
    if (max_ev)
        cfg.max_events_per_chain = max_ev;
    cfg.keep_ok = keep_ok;
    struct rca *a = rca_new(&cfg, rules, st, on_report, NULL);
    ck_assert_ptr_nonnull(a);
    return a;
}

static uint64_t counter(const char *name)
{
    return *stats_counter(st, name);
}

START_TEST(publish_deliver_one_hop)
{
    struct rca *a = new_rca_cfg(0, 0, 1);
    rca_event(a, rpc(0, EV_RPC_CAST, EV_VERB_PUBLISH, "compute.compute-1", "nova-compute",
                     "compute-1", "build_and_run_instance", NULL, "u-1", R, 1, NULL, NULL));
    rca_event(a, rpc(3, EV_RPC_CAST, EV_VERB_DELIVER, "compute.compute-1", "nova-compute",
                     "compute-1", "build_and_run_instance", NULL, "u-1", R, 1, NULL,
                     "nova-compute"));
    rca_flush(a, T0 + 1000000ull);
    ck_assert_uint_eq(ngot, 1);
    ck_assert_int_eq(got[0].failed, 0);
    ck_assert_uint_eq(got[0].nnodes, 1); /* one message, one node */
    ck_assert_msg(strstr(got[0].json, "\"delivered\":{") != NULL, "%s", got[0].json);
    ck_assert_msg(strstr(got[0].json, "\"consumer_host\":\"compute-1\"") != NULL, "%s",
                  got[0].json);
    rca_free(a);
}
END_TEST

START_TEST(ids_forward_reference_merge)
{
    /* nova's calls carry R (glance echoes it; the RPC cast has it) before
     * nova-api's own response reveals R: everything is one chain */
    struct rca *a = new_rca_cfg(0, 0, 1);
    rca_event(a, req(0, 3, "client", UA_NOVACLIENT, "nova-api", "POST", "/v2.1/servers", NULL, NULL));
    rca_event(a, req(2, 5, "nova", "python-glanceclient", "glance-api", "GET", "/v2/images/x", NULL, R));
    rca_event(a, resp(3, 5, "glance-api", "nova", "GET", "/v2/images/x", 200, R, NULL, NULL));
    rca_event(a, req(4, 6, "nova", "python-neutronclient", "neutron-server", "GET", "/v2.0/ports", NULL, R));
    rca_event(a, resp(5, 6, "neutron-server", "nova", "GET", "/v2.0/ports", 200,
                      "req-77777777-0000-4000-8000-000000000000", NULL, NULL));
    rca_event(a, rpc(6, EV_RPC_CAST, EV_VERB_PUBLISH, "conductor", "nova-conductor", NULL,
                     "schedule_and_build_instances", NULL, "u-2", R, 1, NULL, NULL));
    rca_event(a, resp(7, 3, "nova-api", "client", "POST", "/v2.1/servers", 202, R, NULL, NULL));
    rca_flush(a, T0 + 1000000ull);
    ck_assert_uint_eq(ngot, 1);
    ck_assert_uint_eq(got[0].nnodes, 7);
    ck_assert_str_eq(got[0].request_id, R);
    ck_assert_str_eq(got[0].status, "202");
    ck_assert_uint_ge(counter("rca.chains_merged"), 1);
    rca_free(a);
}
END_TEST

START_TEST(time_nesting)
{
    struct rca *a = new_rca_cfg(0, 0, 1);
    /* a validation while nova-api handles a request joins it ... */
    rca_event(a, req(0, 3, "client", UA_NOVACLIENT, "nova-api", "GET", "/v2.1/servers", NULL, NULL));
    rca_event(a, req(1, 4, "keystonemiddleware", "python-keystoneclient", "keystone", "GET",
                     "/v3/auth/tokens", NULL, NULL));
    rca_event(a, resp(2, 4, "keystone", "keystonemiddleware", "GET", "/v3/auth/tokens", 200,
                      "req-0000000e-0000-4000-8000-000000000000", NULL, NULL));
    rca_event(a, resp(3, 3, "nova-api", "client", "GET", "/v2.1/servers", 200,
                      "req-0000000f-0000-4000-8000-000000000000", NULL, NULL));
    /* ... one with nothing open is background */
    rca_event(a, req(100, 9, "keystonemiddleware", "python-keystoneclient", "keystone", "GET",
                     "/v3/auth/tokens", NULL, NULL));
    rca_event(a, resp(101, 9, "keystone", "keystonemiddleware", "GET", "/v3/auth/tokens", 200,
                      "req-00000010-0000-4000-8000-000000000000", NULL, NULL));
    rca_flush(a, T0 + 1000000ull);
    ck_assert_uint_eq(ngot, 1);
    ck_assert_uint_eq(got[0].nnodes, 4);
    struct rca_summary s;
    rca_get_summary(a, &s);
    ck_assert_uint_eq(s.operations, 1);
    ck_assert_uint_eq(s.background, 1);
    ck_assert_uint_eq(counter("rca.time_nested"), 1);
    rca_free(a);
}
END_TEST

/* Request ids the token tests answer with. */
#define RID_A "req-000000aa-0000-4000-8000-000000000000"
#define RID_B "req-000000bb-0000-4000-8000-000000000000"

/* A user's GET of path on nova-api over flow, carrying X-Auth-Token tok
 * (NULL: none), sent to dst_addr (NULL: the scenario's address). */
static void user_get(struct rca *a, uint64_t ms, uint64_t flow, const char *path,
                     const char *tok, const char *dst_addr)
{
    struct event *r = req(ms, flow, "client", UA_NOVACLIENT, "nova-api", "GET", path, NULL, NULL);
    if (dst_addr)
        snprintf(r->dst.addr, sizeof(r->dst.addr), "%s", dst_addr);
    if (tok)
        r->token_fp[0] = redact_fingerprint(tok, strlen(tok));
    rca_event(a, r);
}

/* keystonemiddleware validates tok from src_addr (NULL: the scenario's
 * address) over flow at ms; keystone answers 200 with request id rid 1 ms
 * later. */
static void validation(struct rca *a, uint64_t ms, uint64_t flow, const char *tok,
                       const char *src_addr, const char *rid)
{
    struct event *v = req(ms, flow, "keystonemiddleware", "python-keystoneclient", "keystone",
                          "GET", "/v3/auth/tokens", NULL, NULL);
    if (src_addr)
        snprintf(v->src.addr, sizeof(v->src.addr), "%s", src_addr);
    v->subject_fp = redact_fingerprint(tok, strlen(tok));
    rca_event(a, v);
    rca_event(a, resp(ms + 1, flow, "keystone", "keystonemiddleware", "GET", "/v3/auth/tokens",
                      200, rid, NULL, NULL));
}

/* nova-api answers the two user GETs (flows 3 and 5) with RID_A and
 * RID_B, and the capture ends. */
static void answer_users(struct rca *a)
{
    rca_event(a, resp(6, 3, "nova-api", "client", "GET", "/v2.1/servers", 200, RID_A, NULL, NULL));
    rca_event(a, resp(7, 5, "nova-api", "client", "GET", "/v2.1/flavors", 200, RID_B, NULL, NULL));
    rca_flush(a, T0 + 1000000ull);
}

START_TEST(token_validation_nests_by_token)
{
    /* two users' requests open on nova-api; the validation of the older
     * one's token joins the older one, not the newest open request, and a
     * validation of a token no open request carried falls back to the
     * newest (counted) */
    struct rca *a = new_rca_cfg(0, 0, 1);
    user_get(a, 0, 3, "/v2.1/servers", "gAAAAABtokenofuserA", NULL);
    user_get(a, 1, 5, "/v2.1/flavors", "gAAAAABtokenofuserB", NULL);
    validation(a, 2, 4, "gAAAAABtokenofuserA", NULL, "req-0000000a-0000-4000-8000-000000000000");
    validation(a, 4, 6, "gAAAAABtokenofnobody", NULL, "req-0000000c-0000-4000-8000-000000000000");
    answer_users(a);
    ck_assert_uint_eq(ngot, 2);
    for (size_t i = 0; i < 2; i++) {
        int is_a = strcmp(got[i].request_id, RID_A) == 0;
        ck_assert_uint_eq(got[i].nnodes, 4);
        const char *mine = is_a ? "req-0000000a-" : "req-0000000c-";
        const char *other = is_a ? "req-0000000c-" : "req-0000000a-";
        ck_assert_msg(strstr(got[i].json, mine) && !strstr(got[i].json, other), "%s", got[i].json);
    }
    ck_assert_uint_eq(counter("rca.time_nested"), 2);
    ck_assert_uint_eq(counter("rca.token_validations_matched"), 1);
    ck_assert_uint_eq(counter("rca.token_validations_unmatched"), 1);
    rca_free(a);
}
END_TEST

START_TEST(token_validation_behind_a_load_balancer)
{
    /* the user's request is seen going to the load balancer's address
     * (10.0.0.100); the validation comes from the API host behind it
     * (10.0.0.11), where another request is open: the token decides */
    struct rca *a = new_rca_cfg(0, 0, 1);
    user_get(a, 0, 3, "/v2.1/servers", "gAAAAABtokenbehindthevip", "10.0.0.100");
    user_get(a, 1, 5, "/v2.1/flavors", NULL, "10.0.0.11");
    validation(a, 2, 4, "gAAAAABtokenbehindthevip", "10.0.0.11",
               "req-0000000a-0000-4000-8000-000000000000");
    answer_users(a);
    ck_assert_uint_eq(ngot, 2);
    for (size_t i = 0; i < 2; i++) {
        int is_a = strcmp(got[i].request_id, RID_A) == 0;
        ck_assert_uint_eq(got[i].nnodes, (is_a ? 4u : 2u));
    }
    ck_assert_uint_eq(counter("rca.token_validations_matched"), 1);
    rca_free(a);
}
END_TEST

START_TEST(pipelined_responses_pair_in_order)
{
    struct rca *a = new_rca_cfg(0, 0, 1);
    rca_event(a, req(0, 3, "client", UA_NOVACLIENT, "nova-api", "GET", "/v2.1/flavors/a", NULL, NULL));
    rca_event(a, req(1, 3, "client", UA_NOVACLIENT, "nova-api", "GET", "/v2.1/os-keypairs", NULL, NULL));
    rca_event(a, resp(2, 3, "nova-api", "client", "GET", "/v2.1/flavors/a", 200,
                      "req-00000011-0000-4000-8000-000000000000", NULL, NULL));
    rca_event(a, resp(3, 3, "nova-api", "client", "GET", "/v2.1/os-keypairs", 500,
                      "req-00000012-0000-4000-8000-000000000000", "computeFault", "boom"));
    rca_flush(a, T0 + 1000000ull);
    ck_assert_uint_eq(ngot, 2);
    ck_assert_str_eq(got[0].status, "200");
    ck_assert_int_eq(got[0].failed, 0);
    ck_assert_str_eq(got[1].status, "500");
    ck_assert_int_eq(got[1].failed, 1);
    ck_assert_str_eq(got[1].kind, "http_5xx");
    ck_assert_str_eq(got[1].service, "nova-api");
    rca_free(a);
}
END_TEST

START_TEST(responses_pair_by_request_seq)
{
    /* pipelined on one flow, answered out of order, each response naming
     * its request's seq (as the HTTP layer does); the second request is
     * added with the lower seq, so the open list has to keep seq order */
    struct rca *a = new_rca_cfg(0, 0, 1);
    struct event *q1 = req(0, 3, "client", UA_NOVACLIENT, "nova-api", "GET", "/v2.1/flavors/a", NULL, NULL);
    struct event *q2 = req(1, 3, "client", UA_NOVACLIENT, "nova-api", "GET", "/v2.1/os-keypairs", NULL, NULL);
    q1->seq = 50;
    q2->seq = 40;
    struct event *r1 = resp(2, 3, "nova-api", "client", "GET", "/v2.1/flavors/a", 200,
                            "req-00000011-0000-4000-8000-000000000000", NULL, NULL);
    struct event *r2 = resp(3, 3, "nova-api", "client", "GET", "/v2.1/os-keypairs", 500,
                            "req-00000012-0000-4000-8000-000000000000", "computeFault", "boom");
    r1->seq = 60;
    r1->req_seq = 50;
    r2->seq = 61;
    r2->req_seq = 40;
    rca_event(a, q1);
    rca_event(a, q2);
    rca_event(a, r1);
    rca_event(a, r2);
    rca_flush(a, T0 + 1000000ull);
    ck_assert_uint_eq(ngot, 2);
    for (size_t i = 0; i < 2; i++) {
        int failed = !strcmp(got[i].status, "500");
        ck_assert_int_eq(got[i].failed, failed);
        ck_assert_uint_eq(got[i].nnodes, 2);
        /* the 500 went to the keypairs request (flow order would pair it
         * with the flavor one) */
        const char *want = failed ? "\"seq\":40," : "\"seq\":50,";
        ck_assert_msg(strstr(got[i].json, want) != NULL, "%s", got[i].json);
        ck_assert_msg(strstr(got[i].json, failed ? "\"parent_seq\":40" : "\"parent_seq\":50") != NULL,
                      "%s", got[i].json);
    }
    ck_assert_uint_eq(counter("rca.chains_merged"), 0);
    rca_free(a);
}
END_TEST

START_TEST(events_per_chain_cap)
{
    struct rca *a = new_rca_cfg(0, 10, 1);
    for (int i = 0; i < 50; i++) {
        char uid[16];
        snprintf(uid, sizeof(uid), "u-%d", i);
        rca_event(a, rpc((uint64_t)i, EV_RPC_CAST, EV_VERB_PUBLISH, "compute.compute-1",
                         "nova-compute", "compute-1", "refresh", NULL, uid, R, 1, NULL, NULL));
    }
    rca_flush(a, T0 + 1000000ull);
    ck_assert_uint_eq(ngot, 1);
    ck_assert_uint_eq(got[0].nnodes, 10);
    ck_assert_uint_eq(counter("rca.chain_events_dropped"), 40);
    rca_free(a);
}
END_TEST

START_TEST(open_chains_evicted)
{
    struct rca *a = new_rca_cfg(2, 0, 0);
    for (int i = 0; i < 5; i++) {
        char path[32];
        snprintf(path, sizeof(path), "/v2.1/servers/vm-%d", i);
        /* requests never answered: chains stay open */
        rca_event(a, req((uint64_t)i, (uint64_t)(10 + i), "client", UA_NOVACLIENT, "nova-api",
                         "POST", path, NULL, NULL));
    }
    struct rca_summary s;
    rca_get_summary(a, &s);
    ck_assert_uint_eq(s.evicted, 3);
    ck_assert_uint_eq(s.open_chains, 2);
    ck_assert_uint_eq(counter("rca.chains_evicted"), 3);
    rca_flush(a, T0 + 1000000ull);
    rca_get_summary(a, &s);
    ck_assert_uint_eq(s.open_chains, 0);
    ck_assert_uint_eq(s.operations, 5);
    rca_free(a);
}
END_TEST

START_TEST(settle_and_pending_calls)
{
    struct rca *a = new_rca_cfg(0, 0, 1);
    struct event *c = rpc(0, EV_RPC_CALL, EV_VERB_PUBLISH, "conductor", "nova-conductor", NULL,
                          "build_instances", "m-1", "u-c", R, 1, NULL, NULL);
    c->expiration_ms = 30000; /* no _timeout: the AMQP expiration bounds the wait */
    rca_event(a, c);
    rca_tick(a, T0 + 25000000ull);
    ck_assert_uint_eq(ngot, 0); /* pending */
    rca_event(a, reply(26000, EV_VERB_PUBLISH, "m-1", "u-r", "nova-conductor", NULL, NULL));
    rca_tick(a, T0 + 30000000ull);
    ck_assert_uint_eq(ngot, 0); /* answered, settling */
    rca_tick(a, T0 + 36100000ull);
    ck_assert_uint_eq(ngot, 1);
    ck_assert_int_eq(got[0].failed, 0);
    ck_assert_str_eq(got[0].status, "ok");
    rca_free(a);
}
END_TEST

/* Ticks skip the walk over open chains until one can be ready (rca.c
 * next_ready): the skip must never make a verdict late. Two answered
 * operations; A gets a late event; each must be decided at the first tick
 * at or after its last event + settle (10 s), not a tick later. */
START_TEST(tick_skip_never_delays)
{
    struct rca *a = new_rca_cfg(0, 0, 1);
    const char *RA = "req-aaaaaaaa-0000-4000-8000-000000000000";
    const char *RB = "req-bbbbbbbb-0000-4000-8000-000000000000";
    rca_event(a, req(0, 1, "client", UA_NOVACLIENT, "nova-api", "GET", "/v2.1/servers/a", NULL,
                     NULL));
    rca_event(a, resp(1, 1, "nova-api", "client", "GET", "/v2.1/servers/a", 200, RA, NULL, NULL));
    rca_tick(a, T0 + 1000000ull); /* walks: nothing ready before T0 + 10.001 s */
    rca_event(a, req(2000, 2, "client", UA_NOVACLIENT, "nova-api", "GET", "/v2.1/servers/b",
                     NULL, NULL));
    rca_event(a, resp(2001, 2, "nova-api", "client", "GET", "/v2.1/servers/b", 200, RB, NULL,
                      NULL));
    /* A's own follow-up 5 s in: A now settles at T0 + 15 s */
    rca_event(a, req(5000, 3, "nova", "python-glanceclient", "glance-api", "GET", "/v2/images/x",
                     NULL, RA));
    rca_event(a, resp(5001, 3, "glance-api", "nova", "GET", "/v2/images/x", 200, RA, NULL, NULL));
    rca_tick(a, T0 + 10001000ull);
    ck_assert_uint_eq(ngot, 0);
    rca_tick(a, T0 + 12000000ull);
    ck_assert_uint_eq(ngot, 0); /* B settles at 12.001 */
    rca_tick(a, T0 + 12001000ull);
    ck_assert_uint_eq(ngot, 1);
    ck_assert_str_eq(got[0].request_id, RB);
    rca_tick(a, T0 + 15000000ull);
    ck_assert_uint_eq(ngot, 1);
    rca_tick(a, T0 + 15001000ull);
    ck_assert_uint_eq(ngot, 2);
    ck_assert_str_eq(got[1].request_id, RA);
    rca_free(a);
}
END_TEST

/* A cast held by the broker while its consumer was down is delivered after
 * the client gave up: the work it starts runs under the request id of the
 * operation already reported, and what fails there is that failure's tail.
 * The same late work under a request id never reported is a failure of
 * its own. */
static void late_work(struct rca *a, uint64_t ms, const char *rid, const char *mid)
{
    rca_event(a, rpc(ms, EV_RPC_CAST, EV_VERB_DELIVER, "compute.compute-1", "nova-compute",
                     "compute-1", "terminate_instance", NULL, "u-late", rid, 1, NULL,
                     "nova-compute"));
    rca_event(a, rpc(ms + 5, EV_RPC_CALL, EV_VERB_PUBLISH, "conductor", "nova-conductor", NULL,
                     "object_action", mid, "u-call", rid, 1, "nova-compute", NULL));
    rca_event(a, reply(ms + 9, EV_VERB_PUBLISH, mid, "u-reply", "nova-conductor",
                       "InstanceNotFound", "Instance could not be found."));
}

START_TEST(late_work_of_a_reported_failure)
{
    struct rca *a = new_rca_cfg(0, 0, 0);
    rca_event(a, req(0, 1, "client", UA_NOVACLIENT, "nova-api", "DELETE", "/v2.1/servers/x",
                     NULL, NULL));
    rca_event(a, resp(20, 1, "nova-api", "client", "DELETE", "/v2.1/servers/x", 500, R,
                      "InternalServerError", "Unexpected API Error."));
    rca_tick(a, T0 + 30000000ull);
    ck_assert_uint_eq(ngot, 1);
    ck_assert_int_eq(got[0].failed, 1);
    late_work(a, 60000, R, "m-late-1");
    rca_flush(a, T0 + 90000000ull);
    ck_assert_uint_eq(ngot, 1);
    ck_assert_uint_eq(counter("rca.failure_late_tail"), 1);
    late_work(a, 100000, "req-99999999-0000-4000-8000-000000000000", "m-late-2");
    rca_flush(a, T0 + 130000000ull);
    ck_assert_uint_eq(ngot, 2);
    ck_assert_int_eq(got[1].failed, 1);
    ck_assert_str_eq(got[1].error, "InstanceNotFound");
    rca_free(a);
}
END_TEST

/* A client's request to nova-api on flow (its own token) at ms and its
 * answer at ms + 5 (status, request id rid, naming the server INST),
 * stitched into cs. */
static void nova_call(struct chain_set *cs, uint64_t ms, uint64_t flow, const char *method,
                      const char *path, int status, const char *rid)
{
    struct event *q = req(ms, flow, "client", UA_NOVACLIENT, "nova-api", method, path, NULL, NULL);
    q->token_fp[0] = 0x7000 + flow;
    ck_assert_ptr_nonnull(chain_set_add(cs, q, 0));
    struct event *r = resp(ms + 5, flow, "nova-api", "client", method, path, status, rid, NULL,
                           NULL);
    ck_assert_int_eq(event_add_uuid(r, INST, strlen(INST), EV_RES_INSTANCE), 0);
    ck_assert_ptr_nonnull(chain_set_add(cs, r, 0));
}

START_TEST(resource_owner_is_the_first_to_act)
{
    /* A creates the server; B, another client, reads it and deletes it
     * while A's operation is still open: later reads of it are polls of
     * B's delete ("i:"), but the operation that acted on it first is A's
     * (a read of it in ERROR waits for A's verdict); once A is decided,
     * B's */
    char srv[80];
    snprintf(srv, sizeof(srv), "/v2.1/servers/%s", INST);
    struct chain_cfg cfg = {512, 60000000ull, 0, 0};
    struct chain_set *cs = chain_set_new(&cfg, rules, st);
    ck_assert_ptr_nonnull(cs);
    nova_call(cs, 0, 1, "POST", "/v2.1/servers", 202, "req-000000a0-0000-4000-8000-000000000000");
    struct chain *ca = chain_set_resource_chain(cs, INST);
    ck_assert_ptr_nonnull(ca);
    nova_call(cs, 13000, 2, "GET", srv, 200, "req-000000b0-0000-4000-8000-000000000000");
    nova_call(cs, 13500, 2, "DELETE", srv, 204, "req-000000b1-0000-4000-8000-000000000000");
    struct event *poll = req(14000, 2, "client", UA_NOVACLIENT, "nova-api", "GET", srv, NULL, NULL);
    poll->token_fp[0] = 0x7002;
    struct chain *cb = chain_set_add(cs, poll, 0);
    ck_assert_ptr_nonnull(cb);
    ck_assert_ptr_ne(cb, ca);
    ck_assert_ptr_eq(chain_set_resource_chain(cs, INST), ca);
    chain_set_remove(cs, ca);
    ck_assert_ptr_eq(chain_set_resource_chain(cs, INST), cb);
    chain_set_free(cs);
}
END_TEST

START_TEST(filter_by_request_id)
{
    struct rca_cfg cfg;
    rca_defaults(&cfg);
    cfg.keep_ok = 1;
    cfg.only_request_id = "req-00000013-0000-4000-8000-000000000000";
    struct rca *a = rca_new(&cfg, rules, st, on_report, NULL);
    rca_event(a, req(0, 3, "client", UA_NOVACLIENT, "nova-api", "GET", "/v2.1/a", NULL, NULL));
    rca_event(a, resp(1, 3, "nova-api", "client", "GET", "/v2.1/a", 200,
                      "req-00000013-0000-4000-8000-000000000000", NULL, NULL));
    rca_event(a, req(2, 3, "client", UA_NOVACLIENT, "nova-api", "GET", "/v2.1/b", NULL, NULL));
    rca_event(a, resp(3, 3, "nova-api", "client", "GET", "/v2.1/b", 200,
                      "req-00000014-0000-4000-8000-000000000000", NULL, NULL));
    rca_flush(a, T0 + 1000000ull);
    ck_assert_uint_eq(ngot, 1);
    ck_assert_str_eq(got[0].request_id, "req-00000013-0000-4000-8000-000000000000");
    rca_free(a);
}
END_TEST

/* A client's login: its request, and keystone's 201 whose token (its
 * fingerprint fp) opens the client's session. */
static void login(struct rca *a, uint64_t ms, uint64_t flow, uint64_t fp, const char *rid)
{
    rca_event(a, req(ms, flow, "client", UA_OSC, "keystone", "POST", "/v3/auth/tokens", NULL, NULL));
    struct event *r = resp(ms + 100, flow, "keystone", "client", "POST", "/v3/auth/tokens", 201,
                           rid, NULL, NULL);
    r->subject_fp = fp;
    r->ctx_user = event_cstr(r, "demo");
    rca_event(a, r);
}

START_TEST(refusals_of_a_session_are_one_operation)
{
    /* nova-api down: a client logs in, then its connections to nova-api
     * are refused: one failed operation, tied to its login */
    const char *LOGIN = "req-00000071-0000-4000-8000-000000000000";
    struct rca *a = new_rca_cfg(0, 0, 0);
    login(a, 0, 7, 0xabcdef, LOGIN);
    rca_event(a, conn(300, "nova-api", FLOW_EV_REFUSED));
    rca_event(a, conn(301, "nova-api", FLOW_EV_REFUSED));
    rca_event(a, conn(302, "nova-api", FLOW_EV_REFUSED));
    rca_flush(a, T0 + 5000000ull);
    ck_assert_uint_eq(ngot, 1);
    ck_assert_str_eq(got[0].service, "nova-api");
    ck_assert_str_eq(got[0].kind, "conn_refused");
    ck_assert_str_eq(got[0].category, "service_down");
    ck_assert_uint_eq(got[0].nnodes, 3);
    ck_assert_ptr_nonnull(strstr(got[0].json, LOGIN));
    ck_assert_ptr_nonnull(strstr(got[0].json, "\"user\":\"demo\""));
    (void)INST;
    (void)IMG;
    (void)notif;
    rca_free(a);
}
END_TEST

START_TEST(refusal_retied_to_the_client_that_gave_up)
{
    /* two clients on one address log in together; connections to
     * nova-api are refused right after. The later login is the poised
     * one, but its client goes on (to glance): the refusal was the other
     * client's, which never said anything again */
    const char *LB = "req-000000b0-0000-4000-8000-000000000000";
    const char *LA = "req-000000a1-0000-4000-8000-000000000000";
    struct rca *a = new_rca_cfg(0, 0, 0);
    login(a, 0, 7, 0xb0b, LB);
    login(a, 28, 8, 0xa11ce, LA);
    rca_event(a, conn(170, "nova-api", FLOW_EV_REFUSED));
    rca_event(a, conn(171, "nova-api", FLOW_EV_REFUSED));
    struct event *g = req(210, 9, "client", UA_OSC, "glance-api", "GET", "/v2/images", NULL, NULL);
    g->token_fp[0] = 0xa11ce;
    rca_event(a, g);
    rca_event(a, resp(215, 9, "glance-api", "client", "GET", "/v2/images", 200,
                      "req-000000c0-0000-4000-8000-000000000000", NULL, NULL));
    rca_flush(a, T0 + 5000000ull);
    ck_assert_uint_eq(ngot, 1);
    ck_assert_str_eq(got[0].kind, "conn_refused");
    ck_assert_ptr_nonnull(strstr(got[0].json, LB));
    ck_assert_ptr_null(strstr(got[0].json, LA));
    ck_assert_uint_eq(counter("rca.refusals_retied"), 1);
    rca_free(a);
}
END_TEST

START_TEST(clients_refused_together_each_fail)
{
    /* two clients behind one address log in together; the first
     * connections after are refused and neither says anything again:
     * two failed operations, one per login */
    const char *L1 = "req-000000d1-0000-4000-8000-000000000000";
    const char *L2 = "req-000000d2-0000-4000-8000-000000000000";
    struct rca *a = new_rca_cfg(0, 0, 0);
    login(a, 0, 7, 0xd1, L1);
    login(a, 10, 8, 0xd2, L2);
    rca_event(a, conn(150, "glance-api", FLOW_EV_REFUSED));
    rca_event(a, conn(151, "glance-api", FLOW_EV_REFUSED));
    rca_flush(a, T0 + 5000000ull);
    ck_assert_uint_eq(ngot, 2);
    int s1 = strstr(got[0].json, L1) || strstr(got[1].json, L1);
    int s2 = strstr(got[0].json, L2) || strstr(got[1].json, L2);
    ck_assert(s1 && s2);
    ck_assert_uint_eq(counter("rca.refused_siblings"), 1);
    rca_free(a);
}
END_TEST

/* A client's request to keystone (its login, or the version document
 * before it) left unanswered: keystone closed (how) the connection on it. */
static void keystone_dropped(struct rca *a, uint64_t ms, uint64_t flow, const char *method,
                             const char *path, int how)
{
    rca_event(a, req(ms, flow, "client", UA_OSC, "keystone", method, path, NULL, NULL));
    struct event *na = resp(ms + 4, flow, "keystone", "client", method, path, 0, NULL, NULL, NULL);
    na->flags |= EV_F_NO_ANSWER;
    na->end_how = how;
    na->req_ts_us = T0 + ms * 1000;
    rca_event(a, na);
}

static void login_dropped(struct rca *a, uint64_t ms, uint64_t flow)
{
    keystone_dropped(a, ms, flow, "POST", "/v3/auth/tokens", EV_END_SERVER_CLOSED);
}

START_TEST(dropped_login_retried_is_one_failure)
{
    /* keystone closes a client's login unanswered; the client's library
     * retries at once and is dropped again: one failed operation */
    struct rca *a = new_rca_cfg(0, 0, 0);
    for (uint64_t k = 0; k < 2; k++)
        login_dropped(a, 100 + 13 * k, 20 + k);
    rca_flush(a, T0 + 5000000ull);
    ck_assert_uint_eq(ngot, 1);
    ck_assert_str_eq(got[0].kind, "no_answer");
    ck_assert_uint_eq(counter("rca.session_duplicates"), 1);
    rca_free(a);
}
END_TEST

START_TEST(discovery_dropped_then_login_refused_is_one_failure)
{
    /* keystone stops while a client begins: its version document (GET
     * /v3, no token) reset, its login refused a millisecond later. One
     * client, one attempt: one failed operation */
    struct rca *a = new_rca_cfg(0, 0, 0);
    keystone_dropped(a, 100, 30, "GET", "/v3", EV_END_SERVER_RESET);
    rca_event(a, conn(105, "keystone", FLOW_EV_REFUSED));
    rca_flush(a, T0 + 20000000ull);
    ck_assert_uint_eq(ngot, 1);
    ck_assert_str_eq(got[0].service, "keystone");
    ck_assert_uint_eq(counter("rca.session_duplicates"), 1);
    rca_free(a);
}
END_TEST

START_TEST(refusals_without_a_client)
{
    /* no client session poised on the address: refusals to keystone are a
     * client that could not log in (one operation a burst); to another
     * service, a service's own (no operation); to the broker, never a
     * client's */
    struct rca *a = new_rca_cfg(0, 0, 0);
    rca_event(a, conn(0, "keystone", FLOW_EV_REFUSED));
    rca_event(a, conn(1, "keystone", FLOW_EV_REFUSED));
    rca_event(a, conn(3000, "keystone", FLOW_EV_REFUSED));
    rca_event(a, conn(3001, "keystone", FLOW_EV_REFUSED));
    rca_event(a, conn(6000, "placement-api", FLOW_EV_REFUSED));
    struct event *mq = conn(6500, NULL, FLOW_EV_REFUSED);
    mq->dst.port = 5672;
    mq->dst.service = event_cstr(mq, "rabbitmq");
    rca_event(a, mq);
    rca_flush(a, T0 + 20000000ull);
    ck_assert_uint_eq(ngot, 2);
    for (size_t i = 0; i < 2; i++) {
        ck_assert_str_eq(got[i].service, "keystone");
        ck_assert_uint_eq(got[i].nnodes, 2);
    }
    rca_free(a);
}
END_TEST

/* A read of session fp's client (operation op) and its answer at
 * answer_ms; status 0 = left unanswered (the connection closed). */
static void read_of(struct rca *a, uint64_t ms, uint64_t flow, uint64_t fp, const char *to,
                    const char *path, const char *query, const char *op, int status,
                    const char *rid, uint64_t answer_ms)
{
    struct event *q = req(ms, flow, "client", UA_OSC, to, "GET", path, query, NULL);
    q->token_fp[0] = fp;
    q->operation = event_cstr(q, op);
    rca_event(a, q);
    struct event *r = resp(answer_ms, flow, to, "client", "GET", path, status, rid,
                           status >= 400 ? "Error" : NULL, status >= 400 ? "refused" : NULL);
    r->operation = event_cstr(r, op);
    r->req_ts_us = T0 + ms * 1000;
    rca_event(a, r);
}

START_TEST(display_reads_failing_are_the_clients_to_bear)
{
    /* a server list: its own read answered, then the images to name them
     * refused (401: glance could not check the token) and the client's
     * logins again at once dropped. The command printed its list: no
     * failed operation, the failures are evidence */
    const char *L = "req-000000e1-0000-4000-8000-000000000000";
    struct rca *a = new_rca_cfg(0, 0, 0);
    login(a, 0, 7, 0xe1, L);
    read_of(a, 200, 8, 0xe1, "nova-api", "/v2.1/servers/detail", NULL, "server list", 200,
            "req-000000e2-0000-4000-8000-000000000000", 300);
    read_of(a, 310, 9, 0xe1, "glance-api", "/v2/images", NULL, "image list", 401, NULL, 1310);
    login_dropped(a, 1311, 10);
    login_dropped(a, 1325, 11);
    /* and its next attempt refused (keystone now down) */
    rca_event(a, conn(1340, "keystone", FLOW_EV_REFUSED));
    rca_flush(a, T0 + 30000000ull);
    ck_assert_uint_eq(ngot, 0);
    ck_assert_uint_eq(counter("session.relogins_tied"), 3);
    ck_assert_uint_ge(counter("rca.display_reads_failed"), 3);
    /* a new client's login a second later is its own failure */
    login(a, 40000, 17, 0xe3, "req-000000e3-0000-4000-8000-000000000000");
    read_of(a, 40200, 18, 0xe3, "nova-api", "/v2.1/servers/detail", NULL, "server list", 200,
            "req-000000e4-0000-4000-8000-000000000000", 40300);
    read_of(a, 40310, 19, 0xe3, "glance-api", "/v2/images", NULL, "image list", 401, NULL, 41310);
    login_dropped(a, 42400, 20);
    rca_flush(a, T0 + 70000000ull);
    ck_assert_uint_eq(ngot, 1);
    ck_assert_str_eq(got[0].service, "keystone");
    ck_assert_uint_eq(counter("session.relogins_tied"), 3);
    rca_free(a);
}
END_TEST

START_TEST(reads_a_command_needs_are_its_own)
{
    /* a server create resolving its image by name (a 404, then the list
     * by name) and its flavor: the flavor list failing is the command's
     * failure; so is a list filtered by name after a read answered */
    struct rca *a = new_rca_cfg(0, 0, 0);
    login(a, 0, 7, 0xf1, "req-000000f1-0000-4000-8000-000000000000");
    read_of(a, 200, 8, 0xf1, "glance-api", "/v2/images/cirros", NULL, "image show", 404, NULL,
            210);
    read_of(a, 220, 8, 0xf1, "glance-api", "/v2/images", "name=cirros", "image list", 200,
            "req-000000f2-0000-4000-8000-000000000000", 230);
    read_of(a, 240, 9, 0xf1, "nova-api", "/v2.1/flavors", NULL, "flavor list", 503,
            "req-000000f3-0000-4000-8000-000000000000", 250);
    login(a, 20000, 17, 0xf4, "req-000000f4-0000-4000-8000-000000000000");
    read_of(a, 20200, 18, 0xf4, "glance-api", "/v2/images/0d6c4e7a-3c3b-4b43-9d3f-3a3e1e1e1e1e",
            NULL, "image show", 200, "req-000000f5-0000-4000-8000-000000000000", 20210);
    read_of(a, 20220, 19, 0xf4, "nova-api", "/v2.1/flavors", "name=m1.tiny", "flavor list", 503,
            "req-000000f6-0000-4000-8000-000000000000", 20230);
    rca_flush(a, T0 + 60000000ull);
    ck_assert_uint_eq(ngot, 2);
    ck_assert_str_eq(got[0].service, "nova-api");
    ck_assert_str_eq(got[1].service, "nova-api");
    ck_assert_uint_eq(counter("rca.display_reads_failed"), 0);
    rca_free(a);
}
END_TEST

/* ---- the heap of ready times against a walk over every chain ---- */

struct dlog {
    char text[1 << 16];
    size_t w;
};

static size_t dstep;

static void on_report_log(void *ctx, const struct report *r)
{
    struct dlog *l = ctx;
    if (l->w < sizeof(l->text) - 128)
        l->w += (size_t)snprintf(l->text + l->w, sizeof(l->text) - l->w, "%zu %s %d %zu\n", dstep,
                                 r->request_id ? r->request_id : "-", r->failed, r->nnodes);
}

static uint64_t drng;
static unsigned drand(unsigned n)
{
    return (unsigned)(xorshift64(&drng) % n);
}

/* A random mix of operations (HTTP requests answered late or never, RPC
 * calls answered or left to time out, follow-ups that keep chains busy)
 * with ticks between, fed to a. */
static void random_ops(struct rca *a, uint64_t seed)
{
    drng = seed;
    struct pend {
        uint64_t at;
        int op, kind; /* 0 response, 1 rpc reply */
    } pend[256];
    size_t np = 0;
    uint64_t ms = 0;
    int nop = 0;
    char rid[64], path[64], mid[64], uid[64];
    for (dstep = 0; dstep < 4000; dstep++) {
        ms += drand(400);
        /* what came due */
        for (size_t i = 0; i < np;) {
            if (pend[i].at > ms) {
                i++;
                continue;
            }
            int op = pend[i].op;
            snprintf(rid, sizeof(rid), "req-%08x-0000-4000-8000-000000000000", (unsigned)op);
            snprintf(path, sizeof(path), "/v2.1/servers/s%d", op);
            if (pend[i].kind == 0) {
                int st5 = drand(5) == 0;
                rca_event(a, resp(pend[i].at, (uint64_t)op, "nova-api", "client", "GET", path,
                                  st5 ? 500 : 200, rid, st5 ? "computeFault" : NULL,
                                  st5 ? "boom" : NULL));
            } else {
                snprintf(mid, sizeof(mid), "m%d", op);
                snprintf(uid, sizeof(uid), "r%d-%u", op, drand(100000));
                rca_event(a, reply(pend[i].at, EV_VERB_PUBLISH, mid, uid, "nova-conductor",
                                   drand(4) ? NULL : "NoValidHost", "none"));
            }
            pend[i] = pend[--np];
        }
        unsigned what = drand(10);
        if (what < 3 && np < 250) {
            int op = ++nop;
            snprintf(path, sizeof(path), "/v2.1/servers/s%d", op);
            rca_event(a, req(ms, (uint64_t)op, "client", UA_OSC, "nova-api", "GET", path, NULL,
                             NULL));
            if (drand(8)) /* else never answered */
                pend[np++] = (struct pend){ms + drand(3000), op, 0};
        } else if (what < 6 && nop > 0) {
            int op = nop - (int)drand(nop < 20 ? (unsigned)nop : 20u);
            snprintf(rid, sizeof(rid), "req-%08x-0000-4000-8000-000000000000", (unsigned)op);
            snprintf(mid, sizeof(mid), "m%d", op);
            snprintf(uid, sizeof(uid), "u%d-%u", op, drand(100000));
            int call = drand(2);
            rca_event(a, rpc(ms, call ? EV_RPC_CALL : EV_RPC_CAST, EV_VERB_PUBLISH, "conductor",
                             "nova-conductor", NULL, "build", call ? mid : NULL, uid, rid, 1,
                             "nova-api", NULL));
            if (call && drand(3) && np < 250)
                pend[np++] = (struct pend){ms + drand(9000), op, 1};
        } else {
            rca_tick(a, T0 + ms * 1000);
        }
    }
    rca_flush(a, T0 + (ms + 1) * 1000);
}

START_TEST(heap_decides_like_a_full_walk)
{
    static struct dlog lh, lw;
    size_t busy = 0, aged = 0;
    for (uint64_t seed = 1; seed <= 6; seed++) {
        for (int walk = 0; walk < 2; walk++) {
            struct rca_cfg cfg;
            rca_defaults(&cfg);
            cfg.keep_ok = 1;
            cfg.settle_us = 2000000;
            cfg.max_chain_us = 20000000;
            cfg.max_answered_us = 8000000;
            cfg.max_events_per_chain = 12;
            cfg.default_call_timeout_us = 5000000;
            cfg.walk_all = walk;
            struct dlog *l = walk ? &lw : &lh;
            l->w = 0;
            l->text[0] = '\0';
            uint64_t b0 = counter("rca.chains_decided_busy"), a0 = counter("rca.chains_aged_out");
            struct rca *a = rca_new(&cfg, rules, st, on_report_log, l);
            ck_assert_ptr_nonnull(a);
            random_ops(a, seed * 0x9E3779B97F4A7C15ull);
            rca_free(a);
            if (!walk) {
                busy += counter("rca.chains_decided_busy") - b0;
                aged += counter("rca.chains_aged_out") - a0;
            }
        }
        ck_assert_msg(strcmp(lh.text, lw.text) == 0, "seed %llu: heap and walk differ",
                      (unsigned long long)seed);
        ck_assert_uint_gt(lh.w, 10000); /* hundreds of verdicts, at many ticks */
    }
    ck_assert_uint_gt(busy, 0); /* every way to be ready was taken */
    ck_assert_uint_gt(aged, 0);
}
END_TEST

static Suite *chain_suite(void)
{
    Suite *s = suite_create("chain");
    TCase *tc = tcase_create("stitch");
    tcase_add_checked_fixture(tc, load_rules, free_rules);
    tcase_add_test(tc, publish_deliver_one_hop);
    tcase_add_test(tc, ids_forward_reference_merge);
    tcase_add_test(tc, time_nesting);
    tcase_add_test(tc, token_validation_nests_by_token);
    tcase_add_test(tc, token_validation_behind_a_load_balancer);
    tcase_add_test(tc, pipelined_responses_pair_in_order);
    tcase_add_test(tc, responses_pair_by_request_seq);
    tcase_add_test(tc, events_per_chain_cap);
    tcase_add_test(tc, open_chains_evicted);
    tcase_add_test(tc, settle_and_pending_calls);
    tcase_add_test(tc, tick_skip_never_delays);
    tcase_add_test(tc, heap_decides_like_a_full_walk);
    tcase_add_test(tc, late_work_of_a_reported_failure);
    tcase_add_test(tc, filter_by_request_id);
    tcase_add_test(tc, resource_owner_is_the_first_to_act);
    tcase_add_test(tc, refusals_of_a_session_are_one_operation);
    tcase_add_test(tc, refusal_retied_to_the_client_that_gave_up);
    tcase_add_test(tc, clients_refused_together_each_fail);
    tcase_add_test(tc, dropped_login_retried_is_one_failure);
    tcase_add_test(tc, refusals_without_a_client);
    tcase_add_test(tc, discovery_dropped_then_login_refused_is_one_failure);
    tcase_add_test(tc, display_reads_failing_are_the_clients_to_bear);
    tcase_add_test(tc, reads_a_command_needs_are_its_own);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(chain_suite());
    srunner_run_all(sr, CK_NORMAL);
    int nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
