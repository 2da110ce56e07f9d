/* check_walk.c -- root-cause walks on synthetic event sequences that
 * mirror the real captures (LABELS.md, PROTOCOLS.md §4): NoValidHost,
 * scheduler down (timeout), glance refused, keystone 401, image not found,
 * benign lookups + create/delete, spawn failure, pure-RPC chains,
 * background traffic, determinism. Uses the shipped rules/ directory. */
#include "tests/rca_scenario.h"

static struct rca *new_rca(void)
{
    struct rca_cfg cfg;
    rca_defaults(&cfg);
    struct rca *a = rca_new(&cfg, rules, st, on_report, NULL);
    ck_assert_ptr_nonnull(a);
    return a;
}

/* Nothing was reported: each verdict got is named in the failure. */
static void no_verdict(void)
{
    for (size_t i = 0; i < ngot; i++)
        ck_assert_msg(0, "unexpected verdict %s: %s (%s)", got[i].operation, got[i].user_saw,
                      got[i].kind);
}

/* The CLI's name lookups (404 by name, then a list that finds it). */
static void benign_lookups(struct rca *a, uint64_t ms)
{
    rca_event(a, req(ms, 1, "client", UA_OSC, "glance-api", "GET", "/v2/images/cirros", NULL, NULL));
    rca_event(a, resp(ms + 5, 1, "glance-api", "client", "GET", "/v2/images/cirros", 404,
                      "req-a59db1ac-e79a-40e6-8dc5-fc2d29709672", NULL, "No image found"));
    rca_event(a, req(ms + 10, 1, "client", UA_OSC, "glance-api", "GET", "/v2/images", "name=cirros", NULL));
    struct event *l = resp(ms + 15, 1, "glance-api", "client", "GET", "/v2/images", 200,
                           "req-d3529901-0671-484e-bcd4-30fb7e5a0114", NULL, NULL);
    l->body_len = 1002;
    event_add_uuid(l, IMG, 36, EV_RES_IMAGE);
    rca_event(a, l);
    rca_event(a, req(ms + 20, 2, "client", UA_NOVACLIENT, "nova-api", "GET", "/v2.1/flavors/m1.tiny", NULL, NULL));
    rca_event(a, resp(ms + 25, 2, "nova-api", "client", "GET", "/v2.1/flavors/m1.tiny", 404,
                      "req-2580cdfd-a74f-4b52-9f16-cf5bdc5fb648", "itemNotFound",
                      "Flavor m1.tiny could not be found."));
    rca_event(a, req(ms + 30, 2, "client", UA_NOVACLIENT, "nova-api", "GET", "/v2.1/flavors", NULL, NULL));
    struct event *fl = resp(ms + 35, 2, "nova-api", "client", "GET", "/v2.1/flavors", 200,
                            "req-00000000-0000-4000-8000-000000000002", NULL, NULL);
    fl->body_len = 358;
    rca_event(a, fl);
}

/* POST /servers: token validation nested, glance image read with R,
 * cast to conductor (published then delivered), 202 with the server id. */
static void create_start(struct rca *a, uint64_t ms)
{
    rca_event(a, req(ms, 3, "client", UA_NOVACLIENT, "nova-api", "POST", "/v2.1/servers", NULL, NULL));
    rca_event(a, req(ms + 2, 4, "keystonemiddleware", "python-keystoneclient", "keystone", "GET",
                     "/v3/auth/tokens", NULL, NULL));
    rca_event(a, resp(ms + 4, 4, "keystone", "keystonemiddleware", "GET", "/v3/auth/tokens", 200,
                      "req-0000000a-0000-4000-8000-000000000000", NULL, NULL));
    rca_event(a, req(ms + 6, 5, "nova", "python-glanceclient", "glance-api", "GET",
                     "/v2/images/5a3e19ce-7940-4e0d-b310-a5d3e0bb44c4", NULL, R));
    rca_event(a, resp(ms + 8, 5, "glance-api", "nova", "GET",
                      "/v2/images/5a3e19ce-7940-4e0d-b310-a5d3e0bb44c4", 200, R, NULL, NULL));
    rca_event(a, rpc(ms + 10, EV_RPC_CAST, EV_VERB_PUBLISH, "conductor", "nova-conductor", NULL,
                     "schedule_and_build_instances", NULL, "u-cast-1", R, 1, NULL, NULL));
    rca_event(a, rpc(ms + 11, EV_RPC_CAST, EV_VERB_DELIVER, "conductor", "nova-conductor", NULL,
                     "schedule_and_build_instances", NULL, "u-cast-1", R, 1, NULL,
                     "nova-conductor"));
    struct event *r202 = resp(ms + 12, 3, "nova-api", "client", "POST", "/v2.1/servers", 202, R,
                              NULL, NULL);
    event_add_uuid(r202, INST, 36, EV_RES_INSTANCE);
    rca_event(a, r202);
}

/* conductor -> scheduler select_destinations (+ placement), reply ok or failure. */
static void schedule(struct rca *a, uint64_t ms, int deliver, const char *fail)
{
    struct event *c = rpc(ms, EV_RPC_CALL, EV_VERB_PUBLISH, "scheduler", "nova-scheduler", NULL,
                          "select_destinations", "m-sel-1", "u-sel-1", R, 1, "nova-conductor",
                          NULL);
    c->timeout_s = 10;
    c->expiration_ms = 20000;
    rca_event(a, c);
    if (!deliver)
        return;
    rca_event(a, rpc(ms + 1, EV_RPC_CALL, EV_VERB_DELIVER, "scheduler", "nova-scheduler", NULL,
                     "select_destinations", "m-sel-1", "u-sel-1", R, 1, NULL, "nova-scheduler"));
    rca_event(a, req(ms + 3, 6, "nova-scheduler", "nova-scheduler keystoneauth1/5.0.0",
                     "placement-api", "GET", "/allocation_candidates", "resources=MEMORY_MB:4000000", R));
    rca_event(a, resp(ms + 5, 6, "placement-api", "nova-scheduler", "GET",
                      "/allocation_candidates", 200, "req-0000000b-0000-4000-8000-000000000000",
                      NULL, NULL));
    rca_event(a, reply(ms + 7, EV_VERB_PUBLISH, "m-sel-1", "u-rep-1", "nova-scheduler", fail,
                       fail ? "No valid host was found. " : NULL));
    rca_event(a, reply(ms + 8, EV_VERB_DELIVER, "m-sel-1", "u-rep-1", NULL, fail,
                       fail ? "No valid host was found. " : NULL));
}

/* The client polls the server until ERROR (or ACTIVE). */
static void poll(struct rca *a, uint64_t ms, uint64_t flow, const char *state, const char *fault)
{
    char path[80];
    snprintf(path, sizeof(path), "/v2.1/servers/%s", INST);
    rca_event(a, req(ms, flow, "client", UA_NOVACLIENT, "nova-api", "GET", path, NULL, NULL));
    struct event *r = resp(ms + 3, flow, "nova-api", "client", "GET", path, 200,
                           "req-0000000c-0000-4000-8000-00000000000c", NULL, NULL);
    r->resource_state = event_cstr(r, state);
    r->fault_message = fault ? event_cstr(r, fault) : NULL;
    event_add_uuid(r, INST, 36, EV_RES_INSTANCE);
    rca_event(a, r);
}

START_TEST(novalidhost_capacity)
{
    struct rca *a = new_rca();
    benign_lookups(a, 0);
    create_start(a, 1000);
    schedule(a, 1100, 1, "NoValidHost");
    rca_event(a, notif(1120, "compute_task.controller", "compute_task.build_instances", "ERROR",
                       R, "NoValidHost", "No valid host was found. ", "n-1"));
    rca_event(a, notif(1121, "nova-conductor:controller", "compute_task.build_instances.error",
                       "ERROR", R, "NoValidHost", "No valid host was found. ", "n-2"));
    poll(a, 3000, 7, "ERROR", "No valid host was found. ");
    rca_tick(a, T0 + 30000000ull);
    ck_assert_uint_eq(ngot, 1);
    struct got *g = &got[0];
    ck_assert_int_eq(g->failed, 1);
    ck_assert_str_eq(g->operation, "POST /v2.1/servers");
    ck_assert_str_eq(g->status, "202");
    ck_assert_str_eq(g->request_id, R);
    ck_assert_str_eq(g->service, "nova-scheduler");
    ck_assert_str_eq(g->kind, "rpc_failure");
    ck_assert_str_eq(g->error, "NoValidHost");
    ck_assert_str_eq(g->category, "capacity");
    ck_assert_str_eq(g->rule, "nova-novalidhost");
    ck_assert_msg(strstr(g->user_saw, "status ERROR") != NULL, "%s", g->user_saw);
    ck_assert_msg(strstr(g->json, "\"type\":\"verdict\"") != NULL, "%s", g->json);
    struct rca_summary s;
    rca_get_summary(a, &s);
    ck_assert_uint_eq(s.failed, 1);
    ck_assert_uint_eq(s.open_chains, 0);
    ck_assert_uint_ge(s.ok, 2); /* the two benign lookups */
    rca_free(a);
}
END_TEST

START_TEST(scheduler_down_timeout)
{
    struct rca *a = new_rca();
    create_start(a, 1000);
    schedule(a, 1100, 0, NULL); /* never delivered, never answered */
    rca_tick(a, T0 + 5000000ull);
    ck_assert_uint_eq(ngot, 0); /* still within the call's 10 s */
    rca_event(a, notif(11100, "compute_task.controller", "compute_task.build_instances", "ERROR",
                       R, "MessagingTimeout", "Timed out waiting for a reply to message ID m-sel-1",
                       "n-3"));
    poll(a, 12000, 7, "ERROR", "MessagingTimeout");
    rca_tick(a, T0 + 40000000ull);
    ck_assert_uint_eq(ngot, 1);
    struct got *g = &got[0];
    ck_assert_str_eq(g->service, "nova-scheduler");
    ck_assert_str_eq(g->kind, "rpc_timeout");
    ck_assert_str_eq(g->category, "service_down");
    ck_assert_str_eq(g->rule, "rpc-timeout-no-consumer");
    rca_free(a);
}
END_TEST

START_TEST(embedded_caller_named_after_handler)
{
    /* keystonemiddleware inside nova-api validates the token while nova-api
     * handles the POST: the chain names the validation's caller nova-api */
    struct rca *a = new_rca();
    rca_event(a, req(0, 3, "client", "curl/7.88.1", "nova-api", "POST", "/v2.1/servers", NULL, NULL));
    rca_event(a, req(5, 4, "keystonemiddleware", "python-keystoneclient", "keystone", "GET",
                     "/v3/auth/tokens", NULL, NULL));
    rca_event(a, resp(900, 4, "keystone", "keystonemiddleware", "GET", "/v3/auth/tokens", 200,
                      "req-0000aaaa-1111-4a4a-8b8b-000000000009", NULL, NULL));
    rca_event(a, conn(1000, "glance-api", FLOW_EV_REFUSED));
    rca_event(a, resp(3200, 3, "nova-api", "client", "POST", "/v2.1/servers", 500, R,
                      "computeFault",
                      "Unexpected API Error.\n<class 'nova.exception.GlanceConnectionFailed'>"));
    rca_flush(a, T0 + 4000000ull);
    ck_assert_uint_eq(ngot, 1);
    ck_assert_ptr_null(strstr(got[0].json, "keystonemiddleware"));
    ck_assert_ptr_nonnull(strstr(got[0].json, "\"path\":\"/v3/auth/tokens\""));
    ck_assert_ptr_nonnull(strstr(got[0].json, "\"port\":50004,\"service\":\"nova-api\""));
    rca_free(a);
}
END_TEST

START_TEST(nested_refusal_of_a_successful_request)
{
    /* under concurrency a refusal made by another operation can be nested in
     * a request that then succeeds: it must not fail that operation */
    struct rca *a = new_rca();
    rca_event(a, req(0, 3, "client", "curl/7.88.1", "nova-api", "GET", "/v2.1/flavors", NULL, NULL));
    rca_event(a, conn(100, "glance-api", FLOW_EV_REFUSED));
    rca_event(a, resp(300, 3, "nova-api", "client", "GET", "/v2.1/flavors", 200, R, NULL, NULL));
    rca_flush(a, T0 + 30000000ull);
    for (size_t i = 0; i < ngot; i++)
        ck_assert_msg(!got[i].failed || strcmp(got[i].operation, "GET /v2.1/flavors") != 0,
                      "the flavor list was blamed on %s", got[i].service);
    rca_free(a);
}
END_TEST

START_TEST(nested_refusal_of_a_pending_request)
{
    /* a refusal nested in an inner request that has not answered yet when
     * the operation settles is not evidence: that request may still answer */
    struct rca_cfg cfg;
    rca_defaults(&cfg);
    cfg.settle_us = 1000000;
    struct rca *a = rca_new(&cfg, rules, st, on_report, NULL);
    ck_assert_ptr_nonnull(a);
    rca_event(a, req(0, 3, "client", "curl/7.88.1", "nova-api", "GET", "/v2.1/flavors", NULL, NULL));
    rca_event(a, req(10, 5, "nova", "python-neutronclient", "neutron-server", "GET", "/v2.0/ports",
                     NULL, R));
    rca_event(a, conn(100, "glance-api", FLOW_EV_REFUSED));
    rca_event(a, resp(300, 3, "nova-api", "client", "GET", "/v2.1/flavors", 200, R, NULL, NULL));
    rca_tick(a, T0 + 5000000ull);
    for (size_t i = 0; i < ngot; i++)
        ck_assert_msg(!got[i].failed || strcmp(got[i].operation, "GET /v2.1/flavors") != 0,
                      "the flavor list was blamed on %s", got[i].service);
    rca_free(a);
}
END_TEST

START_TEST(glance_refused)
{
    struct rca *a = new_rca();
    /* nova-api was seen calling glance before (its glance client): the
     * refusals made while it handles the create are its own */
    rca_event(a, req(0, 2, "nova", "python-glanceclient", "glance-api", "GET", "/v2/images/x", NULL,
                     NULL));
    rca_event(a, resp(5, 2, "glance-api", "nova", "GET", "/v2/images/x", 200, NULL, NULL, NULL));
    rca_event(a, req(0, 3, "client", "curl/7.88.1", "nova-api", "POST", "/v2.1/servers", NULL, NULL));
    rca_event(a, conn(100, "glance-api", FLOW_EV_REFUSED));
    rca_event(a, conn(1100, "glance-api", FLOW_EV_REFUSED));
    rca_event(a, resp(3200, 3, "nova-api", "client", "POST", "/v2.1/servers", 500, R,
                      "computeFault",
                      "Unexpected API Error.\n<class 'nova.exception.GlanceConnectionFailed'>"));
    rca_flush(a, T0 + 4000000ull);
    ck_assert_uint_eq(ngot, 1);
    struct got *g = &got[0];
    ck_assert_str_eq(g->status, "500");
    ck_assert_str_eq(g->service, "glance-api");
    ck_assert_str_eq(g->kind, "conn_refused");
    ck_assert_str_eq(g->category, "service_down");
    ck_assert_uint_eq(g->origin_seq, 4);
    rca_free(a);
}
END_TEST

START_TEST(glance_failed_by_message)
{
    /* no refused connection visible: the rule on nova's 500 blames glance */
    struct rca *a = new_rca();
    rca_event(a, req(0, 3, "client", "curl/7.88.1", "nova-api", "POST", "/v2.1/servers", NULL, NULL));
    rca_event(a, resp(3200, 3, "nova-api", "client", "POST", "/v2.1/servers", 500, R,
                      "computeFault",
                      "Unexpected API Error.\n<class 'nova.exception.GlanceConnectionFailed'>"));
    rca_flush(a, T0 + 4000000ull);
    ck_assert_uint_eq(ngot, 1);
    ck_assert_str_eq(got[0].service, "glance-api");
    ck_assert_str_eq(got[0].kind, "http_5xx");
    ck_assert_str_eq(got[0].rule, "nova-glance-connection");
    rca_free(a);
}
END_TEST

START_TEST(keystone_wrong_password)
{
    struct rca *a = new_rca();
    rca_event(a, req(0, 1, "client", UA_OSC, "keystone", "GET", "/v3", NULL, NULL));
    rca_event(a, resp(3, 1, "keystone", "client", "GET", "/v3", 200,
                      "req-1cf7fcb9-1142-4493-8797-347c42d6e32c", NULL, NULL));
    rca_event(a, req(10, 2, "client", UA_OSC, "keystone", "POST", "/v3/auth/tokens", NULL, NULL));
    rca_event(a, resp(20, 2, "keystone", "client", "POST", "/v3/auth/tokens", 401,
                      "req-8277c83f-a713-4b42-94ec-4808f088dff4", "Unauthorized",
                      "The request you have made requires authentication."));
    rca_flush(a, T0 + 1000000ull);
    ck_assert_uint_eq(ngot, 1);
    struct got *g = &got[0];
    ck_assert_str_eq(g->status, "401");
    ck_assert_str_eq(g->service, "keystone");
    ck_assert_str_eq(g->kind, "http_4xx");
    ck_assert_str_eq(g->category, "user_error");
    ck_assert_str_eq(g->rule, "keystone-bad-credentials");
    ck_assert_str_eq(g->request_id, "req-8277c83f-a713-4b42-94ec-4808f088dff4");
    rca_free(a);
}
END_TEST

START_TEST(image_not_found)
{
    struct rca *a = new_rca();
    rca_event(a, req(0, 1, "client", UA_OSC, "glance-api", "GET", "/v2/images/no-such-image", NULL, NULL));
    rca_event(a, resp(5, 1, "glance-api", "client", "GET", "/v2/images/no-such-image", 404,
                      "req-b57a184e-76c3-4e06-b10e-7b6148fd50f4", NULL,
                      "No image found with ID no-such-image"));
    rca_event(a, req(10, 1, "client", UA_OSC, "glance-api", "GET", "/v2/images", "name=no-such-image", NULL));
    struct event *l = resp(15, 1, "glance-api", "client", "GET", "/v2/images", 200,
                           "req-2b000000-0000-4000-8000-000000000000", NULL, NULL);
    l->body_len = 88; /* {"images": [], "first": ..., "schema": ...} */
    rca_event(a, l);
    rca_flush(a, T0 + 1000000ull);
    ck_assert_uint_eq(ngot, 1);
    struct got *g = &got[0];
    ck_assert_str_eq(g->service, "glance-api");
    ck_assert_str_eq(g->kind, "http_4xx");
    ck_assert_str_eq(g->category, "user_error");
    ck_assert_msg(strstr(g->user_saw, "lookup by name found nothing") != NULL, "%s", g->user_saw);
    ck_assert_uint_eq(g->nnodes, 4);
    rca_free(a);
}
END_TEST

/* Two clients behind one address look up images by name at the same time
 * (keep-alive connections 11 and 12): each list-by-name follow-up belongs
 * to the 404 on its own connection, so the lookup that found its image is
 * benign and only the one that found nothing is reported. */
START_TEST(concurrent_lookups_one_client_host)
{
    struct rca *a = new_rca();
    const char *R1 = "req-11111111-0000-4000-8000-000000000001";
    const char *R2 = "req-22222222-0000-4000-8000-000000000002";
    rca_event(a, req(0, 11, "client", UA_OSC, "glance-api", "GET", "/v2/images/cirros", NULL, NULL));
    rca_event(a, req(1, 12, "client", UA_OSC, "glance-api", "GET", "/v2/images/cirros", NULL, NULL));
    rca_event(a, resp(5, 11, "glance-api", "client", "GET", "/v2/images/cirros", 404, R1, NULL,
                      "No image found with ID cirros"));
    rca_event(a, resp(6, 12, "glance-api", "client", "GET", "/v2/images/cirros", 404, R2, NULL,
                      "No image found with ID cirros"));
    /* connection 11 asks first and finds it; connection 12 finds nothing */
    rca_event(a, req(10, 11, "client", UA_OSC, "glance-api", "GET", "/v2/images", "name=cirros", NULL));
    struct event *l = resp(15, 11, "glance-api", "client", "GET", "/v2/images", 200,
                           "req-11111111-0000-4000-8000-0000000000aa", NULL, NULL);
    l->body_len = 1002;
    event_add_uuid(l, IMG, 36, EV_RES_IMAGE);
    rca_event(a, l);
    rca_event(a, req(20, 12, "client", UA_OSC, "glance-api", "GET", "/v2/images", "name=cirros", NULL));
    struct event *e = resp(25, 12, "glance-api", "client", "GET", "/v2/images", 200,
                           "req-22222222-0000-4000-8000-0000000000bb", NULL, NULL);
    e->body_len = 88;
    rca_event(a, e);
    rca_flush(a, T0 + 1000000ull);
    ck_assert_uint_eq(ngot, 1);
    ck_assert_str_eq(got[0].request_id, R2);
    ck_assert_msg(strstr(got[0].user_saw, "lookup by name found nothing") != NULL, "%s",
                  got[0].user_saw);
    rca_free(a);
}
END_TEST

/* Memory bound: with the event pool over the budget, the oldest open
 * chains are decided at once (counted), the newest stays open. */
START_TEST(event_budget_decides_oldest)
{
    struct rca *a = new_rca();
    struct mem_pool pool;
    mem_pool_init(&pool, "events", 0);
    rca_set_event_budget(a, &pool, 1000);
    /* three unanswered requests on three connections: three open chains */
    rca_event(a, req(0, 21, "client", UA_OSC, "glance-api", "GET", "/v2/images/a", NULL, NULL));
    rca_event(a, req(1, 22, "client", UA_OSC, "glance-api", "GET", "/v2/images/b", NULL, NULL));
    struct rca_summary s;
    rca_get_summary(a, &s);
    ck_assert_uint_eq(s.open_chains, 2);
    ck_assert_uint_eq(*stats_counter(st, "rca.chains_evicted_memcap"), 0);
    pool.used = 5000; /* what the held events now cost */
    rca_event(a, req(2, 23, "client", UA_OSC, "glance-api", "GET", "/v2/images/c", NULL, NULL));
    rca_get_summary(a, &s);
    ck_assert_uint_eq(s.open_chains, 1); /* the new one: it is never its own victim */
    ck_assert_uint_eq(s.evicted, 2);
    ck_assert_uint_eq(*stats_counter(st, "rca.chains_evicted_memcap"), 2);
    rca_free(a);
}
END_TEST

/* A chain that never goes quiet (the same ids replayed in a loop) is
 * decided once its root has answered and it is full, not at 600 s. */
START_TEST(busy_answered_chain_decided)
{
    struct rca_cfg cfg;
    rca_defaults(&cfg);
    cfg.max_events_per_chain = 50;
    struct rca *a = rca_new(&cfg, rules, st, on_report, NULL);
    ck_assert_ptr_nonnull(a);
    const char *RQ = "req-33333333-0000-4000-8000-000000000003";
    rca_event(a, req(0, 31, "client", UA_OSC, "glance-api", "GET", "/v2/images/x", NULL, RQ));
    rca_event(a, resp(5, 31, "glance-api", "client", "GET", "/v2/images/x", 200, RQ, NULL, NULL));
    uint64_t ms = 10;
    for (int i = 0; i < 60; i++, ms += 100) { /* busy: never 10 s of quiet */
        rca_event(a, req(ms, 32, "nova", "python-glanceclient", "glance-api", "GET",
                         "/v2/images/x", NULL, RQ));
        rca_event(a, resp(ms + 5, 32, "glance-api", "nova", "GET", "/v2/images/x", 200, RQ,
                          NULL, NULL));
        rca_tick(a, T0 + (ms + 5) * 1000);
    }
    struct rca_summary s;
    rca_get_summary(a, &s);
    ck_assert_uint_ge(s.operations, 1);
    ck_assert_uint_ge(*stats_counter(st, "rca.chains_decided_busy"), 1);
    rca_free(a);
}
END_TEST

START_TEST(ok_chain_user_saw)
{
    /* osrca chains shows successful operations too: what the user saw is
     * the plain answer, with no claim of a later failure */
    struct rca_cfg cfg;
    rca_defaults(&cfg);
    cfg.keep_ok = 1;
    struct rca *a = rca_new(&cfg, rules, st, on_report, NULL);
    ck_assert_ptr_nonnull(a);
    char path[80];
    snprintf(path, sizeof(path), "/v2.1/servers/%s", INST);
    rca_event(a, req(0, 8, "client", UA_NOVACLIENT, "nova-api", "DELETE", path, NULL, NULL));
    rca_event(a, resp(10, 8, "nova-api", "client", "DELETE", path, 204, R, NULL, NULL));
    rca_flush(a, T0 + 30000000ull);
    ck_assert_uint_eq(ngot, 1);
    ck_assert_int_eq(got[0].failed, 0);
    ck_assert_ptr_null(strstr(got[0].user_saw, "failed"));
    ck_assert_ptr_nonnull(strstr(got[0].user_saw, "HTTP 204 for DELETE"));
    rca_free(a);
}
END_TEST

START_TEST(create_delete_ok)
{
    struct rca *a = new_rca();
    benign_lookups(a, 0);
    create_start(a, 1000);
    schedule(a, 1100, 1, NULL);
    rca_event(a, rpc(1200, EV_RPC_CAST, EV_VERB_PUBLISH, "compute.compute-1", "nova-compute",
                     "compute-1", "build_and_run_instance", NULL, "u-b-1", R, 1, "nova-conductor", NULL));
    rca_event(a, rpc(1201, EV_RPC_CAST, EV_VERB_DELIVER, "compute.compute-1", "nova-compute",
                     "compute-1", "build_and_run_instance", NULL, "u-b-1", R, 1, NULL, "nova-compute"));
    rca_event(a, notif(1300, "compute.compute-1", "compute.instance.create.end", "INFO", R, NULL,
                       NULL, "n-9"));
    poll(a, 3000, 7, "BUILD", NULL);
    poll(a, 5000, 7, "ACTIVE", NULL);
    /* delete: DELETE 204, terminate cast, polls until 404 */
    const char *RD = "req-3dd05e85-5042-4435-839a-3b8b124c2a75";
    char path[80];
    snprintf(path, sizeof(path), "/v2.1/servers/%s", INST);
    rca_event(a, req(8000, 8, "client", UA_NOVACLIENT, "nova-api", "DELETE", path, NULL, NULL));
    struct event *tc = rpc(8005, EV_RPC_CAST, EV_VERB_PUBLISH, "compute.compute-1", "nova-compute",
                           "compute-1", "terminate_instance", NULL, "u-t-1", RD, 1, NULL, NULL);
    event_add_uuid(tc, INST, 36, EV_RES_INSTANCE);
    rca_event(a, tc);
    rca_event(a, rpc(8006, EV_RPC_CAST, EV_VERB_DELIVER, "compute.compute-1", "nova-compute",
                     "compute-1", "terminate_instance", NULL, "u-t-1", RD, 1, NULL, "nova-compute"));
    rca_event(a, resp(8010, 8, "nova-api", "client", "DELETE", path, 204, RD, NULL, NULL));
    rca_event(a, req(8100, 8, "client", UA_NOVACLIENT, "nova-api", "GET", path, NULL, NULL));
    rca_event(a, resp(8105, 8, "nova-api", "client", "GET", path, 404,
                      "req-5ea70a5d-b01a-42ce-8161-a7f02bd57f2f", "itemNotFound",
                      "Instance could not be found."));
    rca_flush(a, T0 + 30000000ull);
    no_verdict();
    struct rca_summary s;
    rca_get_summary(a, &s);
    ck_assert_uint_eq(s.failed, 0);
    ck_assert_uint_ge(s.ok, 4);
    rca_free(a);
}
END_TEST

/* Behind a span port the broker's host is out of sight: of a create only
 * the delivery of the build to compute-2 and compute-2's own calls are
 * seen. The client polls BUILD until it gives up: the host that took the
 * work holds it. compute-2's call to the conductor was answered (its
 * reply came back): delivered, though its delivery was never seen. */
START_TEST(stuck_on_the_host_that_took_the_work)
{
    struct rca *a = new_rca();
    rca_event(a, req(1000, 3, "client", UA_NOVACLIENT, "nova-api", "POST", "/v2.1/servers", NULL,
                     NULL));
    struct event *r202 =
        resp(1012, 3, "nova-api", "client", "POST", "/v2.1/servers", 202, R, NULL, NULL);
    event_add_uuid(r202, INST, 36, EV_RES_INSTANCE);
    rca_event(a, r202);
    rca_event(a, rpc(1500, EV_RPC_CAST, EV_VERB_DELIVER, "compute.compute-2", "nova-compute",
                     "compute-2", "build_and_run_instance", NULL, "u-b-2", R, 1, NULL,
                     "nova-compute"));
    rca_event(a, rpc(1510, EV_RPC_CALL, EV_VERB_PUBLISH, "conductor", "nova-conductor", NULL,
                     "object_action", "m-oa-1", "u-oa-1", R, 1, "nova-compute", NULL));
    rca_event(a, reply(1520, EV_VERB_DELIVER, "m-oa-1", "u-oa-r", NULL, NULL, NULL));
    for (uint64_t k = 0; k < 8; k++)
        poll(a, 2000 + 5000 * k, 7, "BUILD", NULL);
    rca_flush(a, T0 + 120000000ull);
    ck_assert_uint_eq(ngot, 1);
    ck_assert_int_eq(got[0].failed, 1);
    ck_assert_str_eq(got[0].kind, "stuck");
    ck_assert_str_eq(got[0].service, "nova-compute");
    ck_assert_str_eq(got[0].host, "compute-2");
    ck_assert_msg(strstr(got[0].json, "build_and_run_instance to 'compute.compute-2' delivered, "
                                      "its work never finished") != NULL,
                  "%.900s", strstr(got[0].json, "root_cause"));
    ck_assert_msg(strstr(got[0].json, "never delivered") == NULL, "%.900s",
                  strstr(got[0].json, "root_cause"));
    rca_free(a);
}
END_TEST

/* A delete whose terminate was delivered late (its compute was down)
 * and raised InstanceInfoCacheNotFound on the way, while the client's
 * last poll read the server back as DELETED: what the user finally saw
 * decides, the delete is done (slow, not failed). */
START_TEST(delete_read_back_deleted_is_done)
{
    struct rca *a = new_rca();
    const char *RD = "req-3dd05e85-5042-4435-839a-3b8b124c2a76";
    char path[80];
    snprintf(path, sizeof(path), "/v2.1/servers/%s", INST);
    rca_event(a, req(1000, 8, "client", UA_NOVACLIENT, "nova-api", "DELETE", path, NULL, NULL));
    struct event *tc = rpc(1005, EV_RPC_CAST, EV_VERB_PUBLISH, "compute.compute-1", "nova-compute",
                           "compute-1", "terminate_instance", NULL, "u-t-2", RD, 1, NULL, NULL);
    event_add_uuid(tc, INST, 36, EV_RES_INSTANCE);
    rca_event(a, tc);
    rca_event(a, resp(1010, 8, "nova-api", "client", "DELETE", path, 204, RD, NULL, NULL));
    for (uint64_t k = 0; k < 6; k++)
        poll(a, 2000 + 5000 * k, 8, "ACTIVE", NULL);
    rca_event(a, rpc(30000, EV_RPC_CAST, EV_VERB_DELIVER, "compute.compute-1", "nova-compute",
                     "compute-1", "terminate_instance", NULL, "u-t-2", RD, 1, NULL, "nova-compute"));
    rca_event(a, rpc(30010, EV_RPC_CALL, EV_VERB_PUBLISH, "conductor", "nova-conductor", NULL,
                     "object_action", "m-oa-9", "u-oa-9", RD, 1, "nova-compute", NULL));
    rca_event(a, reply(30020, EV_VERB_PUBLISH, "m-oa-9", "u-oa-9r", "nova-conductor",
                       "InstanceInfoCacheNotFound", "Info cache for instance could not be found."));
    poll(a, 32000, 8, "DELETED", NULL);
    rca_flush(a, T0 + 90000000ull);
    no_verdict();
    rca_free(a);
}
END_TEST

/* With a short settle (--settle 0.5) a create whose client polls every
 * 5 s must not be judged between two polls: the client has not given up
 * until its next poll is due. */
START_TEST(polling_client_not_judged_between_polls)
{
    struct rca_cfg cfg;
    rca_defaults(&cfg);
    cfg.settle_us = 500000;
    struct rca *a = rca_new(&cfg, rules, st, on_report, NULL);
    ck_assert_ptr_nonnull(a);
    create_start(a, 1000);
    schedule(a, 1100, 1, NULL);
    for (uint64_t k = 0; k < 3; k++) {
        poll(a, 2000 + 5000 * k, 7, "BUILD", NULL);
        for (uint64_t t = 2100 + 5000 * k; t < 7000 + 5000 * k; t += 500)
            rca_tick(a, T0 + t * 1000);
    }
    poll(a, 17000, 7, "ACTIVE", NULL);
    rca_flush(a, T0 + 60000000ull);
    no_verdict();
    rca_free(a);
}
END_TEST

START_TEST(spawn_failure)
{
    struct rca *a = new_rca();
    create_start(a, 1000);
    schedule(a, 1100, 1, NULL);
    rca_event(a, rpc(1200, EV_RPC_CAST, EV_VERB_PUBLISH, "compute.compute-1", "nova-compute",
                     "compute-1", "build_and_run_instance", NULL, "u-b-1", R, 1, "nova-conductor", NULL));
    rca_event(a, rpc(1201, EV_RPC_CAST, EV_VERB_DELIVER, "compute.compute-1", "nova-compute",
                     "compute-1", "build_and_run_instance", NULL, "u-b-1", R, 1, NULL, "nova-compute"));
    rca_event(a, notif(1300, "compute.compute-1", "compute.instance.create.start", "INFO", R, NULL,
                       NULL, "n-10"));
    rca_event(a, notif(1400, "compute.compute-1", "compute.instance.create.error", "ERROR", R,
                       "BuildAbortException",
                       "Build of instance 37308832 aborted: FakeBuildAbortDriver", "n-11"));
    rca_event(a, notif(1401, "nova-compute:compute-1", "instance.create.error", "ERROR", R,
                       "BuildAbortException",
                       "Build of instance 37308832 aborted: FakeBuildAbortDriver", "n-12"));
    poll(a, 3000, 7, "ERROR", "Build of instance aborted: FakeBuildAbortDriver");
    rca_flush(a, T0 + 30000000ull);
    ck_assert_uint_eq(ngot, 1);
    struct got *g = &got[0];
    ck_assert_str_eq(g->service, "nova-compute");
    ck_assert_str_eq(g->host, "compute-1");
    ck_assert_str_eq(g->kind, "error_notification");
    ck_assert_str_eq(g->category, "internal_error");
    ck_assert_str_eq(g->rule, "nova-build-abort");
    rca_free(a);
}
END_TEST

START_TEST(failure_names_raiser_host)
{
    /* the scheduler's reply connection names its host: the verdict does too */
    struct rca *a = new_rca();
    rca_event(a, rpc(0, EV_RPC_CALL, EV_VERB_PUBLISH, "scheduler", "nova-scheduler", NULL,
                     "select_destinations", "m-h", "u-h", R, 1, NULL, NULL));
    rca_event(a, rpc(1, EV_RPC_CALL, EV_VERB_DELIVER, "scheduler", "nova-scheduler", NULL,
                     "select_destinations", "m-h", "u-h", R, 1, NULL, "nova-scheduler"));
    struct event *rp = reply(5, EV_VERB_PUBLISH, "m-h", "u-rh", "nova-scheduler", "NoValidHost",
                             "No valid host was found.");
    rp->src.host = event_cstr(rp, "sched-9");
    rca_event(a, rp);
    rca_flush(a, T0 + 1000000ull);
    ck_assert_uint_eq(ngot, 1);
    ck_assert_str_eq(got[0].service, "nova-scheduler");
    ck_assert_str_eq(got[0].host, "sched-9");
    rca_free(a);
}
END_TEST

START_TEST(rpc_chain_novalidhost)
{
    /* pure RPC: an unknown client calls conductor, which calls the scheduler */
    struct rca *a = new_rca();
    rca_event(a, rpc(0, EV_RPC_CALL, EV_VERB_PUBLISH, "conductor", "nova-conductor", NULL,
                     "build_instances", "m-b", "u-b", R, 1, NULL, NULL));
    rca_event(a, rpc(1, EV_RPC_CALL, EV_VERB_DELIVER, "conductor", "nova-conductor", NULL,
                     "build_instances", "m-b", "u-b", R, 1, NULL, "nova-conductor"));
    schedule(a, 10, 1, "NoValidHost");
    rca_event(a, notif(30, "compute_task.s1", "compute_task.build_instances", "ERROR", R,
                       "NoValidHost", "No valid host was found.", "n-20"));
    rca_event(a, reply(40, EV_VERB_PUBLISH, "m-b", "u-rb", "nova-conductor", "NoValidHost",
                       "No valid host was found."));
    rca_event(a, reply(41, EV_VERB_DELIVER, "m-b", "u-rb", NULL, "NoValidHost",
                       "No valid host was found."));
    rca_flush(a, T0 + 1000000ull);
    ck_assert_uint_eq(ngot, 1);
    struct got *g = &got[0];
    ck_assert_str_eq(g->status, "rpc failure");
    ck_assert_str_eq(g->service, "nova-scheduler");
    ck_assert_str_eq(g->kind, "rpc_failure");
    ck_assert_uint_eq(g->origin_seq, 7); /* the scheduler's failure reply */
    rca_free(a);
}
END_TEST

START_TEST(rpc_timeout_no_server)
{
    struct rca *a = new_rca();
    struct event *c = rpc(0, EV_RPC_CALL, EV_VERB_PUBLISH, "scheduler", "nova-scheduler", NULL,
                          "select_destinations", "m-x", "u-x", R, 1, NULL, NULL);
    c->timeout_s = 5;
    rca_event(a, c);
    rca_tick(a, T0 + 4000000ull);
    ck_assert_uint_eq(ngot, 0);
    rca_tick(a, T0 + 16000000ull);
    ck_assert_uint_eq(ngot, 1);
    ck_assert_str_eq(got[0].status, "rpc timeout");
    ck_assert_str_eq(got[0].service, "nova-scheduler");
    ck_assert_str_eq(got[0].kind, "rpc_timeout");
    ck_assert_str_eq(got[0].category, "service_down");
    rca_free(a);
}
END_TEST

START_TEST(timeout_names_last_consumer)
{
    /* the scheduler on 10.0.0.7 (host ctl-2) consumed a fanout cast, then
     * died: the unanswered call is blamed on it, with its address and host */
    struct rca *a = new_rca();
    struct event *d = rpc(0, EV_RPC_CAST, EV_VERB_DELIVER, "scheduler", "nova-scheduler", "ctl-2",
                          "update_instance_info", NULL, "u-f", NULL, 0, NULL, "nova-scheduler");
    snprintf(d->dst.addr, sizeof(d->dst.addr), "10.0.0.7");
    rca_event(a, d);
    struct event *c = rpc(1000, EV_RPC_CALL, EV_VERB_PUBLISH, "scheduler", "nova-scheduler", NULL,
                          "select_destinations", "m-y", "u-y", R, 1, "nova-conductor", NULL);
    c->timeout_s = 5;
    rca_event(a, c);
    rca_tick(a, T0 + 30000000ull);
    size_t k = ngot;
    for (size_t i = 0; i < ngot; i++)
        if (got[i].failed && !strcmp(got[i].kind, "rpc_timeout"))
            k = i;
    ck_assert_uint_lt(k, ngot);
    ck_assert_str_eq(got[k].service, "nova-scheduler");
    ck_assert_str_eq(got[k].host, "ctl-2");
    ck_assert_ptr_nonnull(strstr(got[k].json, "\"addr\":\"10.0.0.7\""));
    rca_free(a);
}
END_TEST

START_TEST(notify_error_then_not_found)
{
    /* compute's create.error explains the later InstanceNotFound */
    struct rca *a = new_rca();
    rca_event(a, rpc(0, EV_RPC_CALL, EV_VERB_PUBLISH, "conductor", "nova-conductor", NULL,
                     "build_instances", "m-b", "u-b", R, 1, NULL, NULL));
    rca_event(a, rpc(1, EV_RPC_CALL, EV_VERB_DELIVER, "conductor", "nova-conductor", NULL,
                     "build_instances", "m-b", "u-b", R, 1, NULL, "nova-conductor"));
    rca_event(a, rpc(5, EV_RPC_CAST, EV_VERB_PUBLISH, "compute.compute-1", "nova-compute",
                     "compute-1", "build_and_run_instance", NULL, "u-c", R, 1, NULL, NULL));
    rca_event(a, reply(6, EV_VERB_PUBLISH, "m-b", "u-rb", "nova-conductor", NULL, NULL));
    rca_event(a, rpc(7, EV_RPC_CAST, EV_VERB_DELIVER, "compute.compute-1", "nova-compute",
                     "compute-1", "build_and_run_instance", NULL, "u-c", R, 1, NULL, "nova-compute"));
    rca_event(a, notif(20, "compute.compute-1", "compute.instance.create.error", "ERROR", R,
                       "ImageCorrupt", "corrupt-image", "n-30"));
    rca_event(a, rpc(2000, EV_RPC_CALL, EV_VERB_PUBLISH, "compute.compute-1", "nova-compute",
                     "compute-1", "get_instance_info", "m-g", "u-g", R, 1, NULL, NULL));
    rca_event(a, reply(2010, EV_VERB_PUBLISH, "m-g", "u-rg", "nova-compute", "InstanceNotFound",
                       "Instance could not be found."));
    rca_flush(a, T0 + 5000000ull);
    ck_assert_uint_eq(ngot, 1);
    ck_assert_str_eq(got[0].service, "nova-compute");
    ck_assert_str_eq(got[0].host, "compute-1");
    ck_assert_str_eq(got[0].kind, "error_notification");
    ck_assert_str_eq(got[0].category, "internal_error");
    rca_free(a);
}
END_TEST

START_TEST(background_not_blamed)
{
    struct rca *a = new_rca();
    /* nova-compute's heartbeat (null user) times out; a token validation alone */
    struct event *hb = rpc(0, EV_RPC_CALL, EV_VERB_PUBLISH, "conductor", "nova-conductor", NULL,
                           "object_action", "m-hb", "u-hb",
                           "req-99999999-0000-4000-8000-000000000000", 0, "nova-compute", NULL);
    hb->timeout_s = 10;
    rca_event(a, hb);
    rca_event(a, req(5, 9, "keystonemiddleware", "python-keystoneclient", "keystone", "GET",
                     "/v3/auth/tokens", NULL, NULL));
    rca_event(a, resp(8, 9, "keystone", "keystonemiddleware", "GET", "/v3/auth/tokens", 404,
                      "req-0000000d-0000-4000-8000-000000000000", NULL, "Could not find token"));
    rca_flush(a, T0 + 60000000ull);
    ck_assert_uint_eq(ngot, 0);
    struct rca_summary s;
    rca_get_summary(a, &s);
    ck_assert_uint_eq(s.background, 2);
    ck_assert_uint_eq(s.operations, 0);
    rca_free(a);
}
END_TEST

/* The same input twice gives byte-identical JSON verdicts. */
START_TEST(deterministic)
{
    char first[4][65536];
    size_t n1 = 0;
    for (int run = 0; run < 2; run++) {
        ngot = 0;
        seqn = 0;
        struct rca *a = new_rca();
        rca_event(a, req(0, 2, "client", UA_OSC, "keystone", "POST", "/v3/auth/tokens", NULL, NULL));
        rca_event(a, resp(20, 2, "keystone", "client", "POST", "/v3/auth/tokens", 401,
                          "req-8277c83f-a713-4b42-94ec-4808f088dff4", "Unauthorized", "no"));
        create_start(a, 1000);
        schedule(a, 1100, 1, "NoValidHost");
        rca_flush(a, T0 + 60000000ull);
        rca_free(a);
        if (run == 0) {
            n1 = ngot;
            for (size_t i = 0; i < ngot && i < 4; i++)
                memcpy(first[i], got[i].json, sizeof(first[i]));
        } else {
            ck_assert_uint_eq(ngot, n1);
            for (size_t i = 0; i < ngot && i < 4; i++)
                ck_assert_str_eq(got[i].json, first[i]);
        }
    }
    ck_assert_uint_eq(n1, 2);
    /* root order: keystone first, then the create */
    ck_assert_msg(strstr(got[0].json, "keystone") != NULL, "%s", got[0].json);
}
END_TEST

static Suite *walk_suite(void)
{
    Suite *s = suite_create("walk");
    TCase *tc = tcase_create("scenarios");
    tcase_add_checked_fixture(tc, load_rules, free_rules);
    tcase_add_test(tc, novalidhost_capacity);
    tcase_add_test(tc, scheduler_down_timeout);
    tcase_add_test(tc, glance_refused);
    tcase_add_test(tc, nested_refusal_of_a_successful_request);
    tcase_add_test(tc, nested_refusal_of_a_pending_request);
    tcase_add_test(tc, embedded_caller_named_after_handler);
    tcase_add_test(tc, glance_failed_by_message);
    tcase_add_test(tc, keystone_wrong_password);
    tcase_add_test(tc, image_not_found);
    tcase_add_test(tc, concurrent_lookups_one_client_host);
    tcase_add_test(tc, event_budget_decides_oldest);
    tcase_add_test(tc, busy_answered_chain_decided);
    tcase_add_test(tc, create_delete_ok);
    tcase_add_test(tc, stuck_on_the_host_that_took_the_work);
    tcase_add_test(tc, delete_read_back_deleted_is_done);
    tcase_add_test(tc, polling_client_not_judged_between_polls);
    tcase_add_test(tc, ok_chain_user_saw);
    tcase_add_test(tc, spawn_failure);
    tcase_add_test(tc, rpc_chain_novalidhost);
    tcase_add_test(tc, rpc_timeout_no_server);
    tcase_add_test(tc, failure_names_raiser_host);
    tcase_add_test(tc, timeout_names_last_consumer);
    tcase_add_test(tc, notify_error_then_not_found);
    tcase_add_test(tc, background_not_blamed);
    tcase_add_test(tc, deterministic);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(walk_suite());
    srunner_run_all(sr, CK_NORMAL);
    int nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
