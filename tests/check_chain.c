/* check_chain.c -- chain stitching on synthetic events: Publish/Deliver as
 * one hop, ids revealed late merge chains (glance echo, global ids, RPC
 * request id), time nesting of token validations, responses paired by
 * flow order, per-chain event cap, open-chain eviction, settle and pending
 * calls (AMQP expiration), request-id filter. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/flow.h"
#include "capture/stats.h"
#include "cli/out_json.h"
#include "parsers/event.h"
#include "rca/rca.h"
#include "rca/report.h"
#include "rca/rules_load.h"

/* ---- synthetic events (mirroring PROTOCOLS.md §0/§4 and LABELS.md) ---- */
#define T0 1795000000000000ull /* packet time origin (us) */

struct got {
    char operation[128], status[40], user_saw[400], service[64], host[64], kind[32],
        error[64], category[32], rule[64], request_id[64], json[65536];
    int failed, background;
    size_t nnodes, origin_node;
    uint64_t origin_seq;
};

static struct got got[64];
static size_t ngot;
static uint64_t seqn;
static struct rules *rules;
static struct stats *st;

static void cp(char *d, size_t n, const char *s)
{
    snprintf(d, n, "%s", s ? s : "");
}

static void on_report(void *ctx, const struct report *r)
{
    (void)ctx;
    ck_assert_uint_lt(ngot, 64);
    struct got *g = &got[ngot++];
    memset(g, 0, sizeof(*g));
    cp(g->operation, sizeof(g->operation), r->operation);
    cp(g->status, sizeof(g->status), r->status);
    cp(g->user_saw, sizeof(g->user_saw), r->user_saw);
    cp(g->service, sizeof(g->service), r->root_cause.service);
    cp(g->host, sizeof(g->host), r->root_cause.host);
    cp(g->kind, sizeof(g->kind), r->root_cause.kind);
    cp(g->error, sizeof(g->error), r->root_cause.error);
    cp(g->category, sizeof(g->category), r->category);
    cp(g->rule, sizeof(g->rule), r->rule);
    cp(g->request_id, sizeof(g->request_id), r->request_id);
    g->failed = r->failed;
    g->background = r->background;
    g->nnodes = r->nnodes;
    g->origin_node = r->origin_node;
    g->origin_seq = r->root_cause.seq;
    FILE *m = fmemopen(g->json, sizeof(g->json) - 1, "w");
    if (m) {
        out_json_report(m, r);
        fclose(m);
    }
}

static void load_rules(void)
{
    char err[512];
    st = stats_new();
    rules = rules_load_dir("rules", st, err, sizeof(err));
    if (!rules)
        rules = rules_load_dir("../rules", st, err, sizeof(err));
    ck_assert_msg(rules != NULL, "rules: %s", err);
    ngot = 0;
    seqn = 0;
}

static void free_rules(void)
{
    rules_free(rules);
    stats_free(st);
    rules = NULL;
    st = NULL;
}

static struct event *mk(enum ev_kind k, uint64_t ms)
{
    struct event *ev = event_new(NULL);
    ck_assert_ptr_nonnull(ev);
    ev->seq = ++seqn;
    ev->ts_us = T0 + ms * 1000;
    ev->kind = k;
    return ev;
}

static void peer(struct event *ev, struct ev_peer *p, uint16_t port, const char *svc,
                 const char *host)
{
    snprintf(p->addr, sizeof(p->addr), "127.0.0.1");
    p->port = port;
    p->service = svc ? event_cstr(ev, svc) : NULL;
    p->host = host ? event_cstr(ev, host) : NULL;
}

static uint16_t svc_port(const char *svc)
{
    if (!svc)
        return 40000;
    if (!strcmp(svc, "keystone"))
        return 5000;
    if (!strcmp(svc, "nova-api"))
        return 8774;
    if (!strcmp(svc, "placement-api"))
        return 8778;
    if (!strcmp(svc, "glance-api"))
        return 9292;
    if (!strcmp(svc, "neutron-server"))
        return 9696;
    return 1;
}

/* HTTP request on flow from caller (NULL/"client" or a service) to dst. */
static struct event *req(uint64_t ms, uint64_t flow, const char *from, const char *ua,
                         const char *to, const char *method, const char *path, const char *query,
                         const char *gid)
{
    struct event *ev = mk(EV_HTTP_REQUEST, ms);
    ev->flow_id = flow;
    peer(ev, &ev->src, (uint16_t)(50000 + flow), from, NULL);
    peer(ev, &ev->dst, svc_port(to), to, NULL);
    ev->method = event_cstr(ev, method);
    ev->path = event_cstr(ev, path);
    ev->query = query ? event_cstr(ev, query) : NULL;
    ev->user_agent = ua ? event_cstr(ev, ua) : NULL;
    ev->global_request_id = gid ? event_cstr(ev, gid) : NULL;
    return ev;
}

static struct event *resp(uint64_t ms, uint64_t flow, const char *from, const char *to,
                          const char *method, const char *path, int status, const char *rid,
                          const char *eclass, const char *emsg)
{
    struct event *ev = mk(EV_HTTP_RESPONSE, ms);
    ev->flow_id = flow;
    peer(ev, &ev->src, svc_port(from), from, NULL);
    peer(ev, &ev->dst, (uint16_t)(50000 + flow), to, NULL);
    ev->method = event_cstr(ev, method);
    ev->path = event_cstr(ev, path);
    ev->status = status;
    ev->reason = event_cstr(ev, status >= 400 ? "Error" : "OK");
    ev->request_id = rid ? event_cstr(ev, rid) : NULL;
    ev->error_class = eclass ? event_cstr(ev, eclass) : NULL;
    ev->error_message = emsg ? event_cstr(ev, emsg) : NULL;
    ev->body_len = 300;
    return ev;
}

/* RPC call/cast; verb publish (src = publisher) or deliver (dst = consumer). */
static struct event *rpc(uint64_t ms, enum ev_kind k, enum ev_verb verb, const char *rk,
                         const char *topic_svc, const char *server, const char *method,
                         const char *msg_id, const char *uid, const char *rid, int user,
                         const char *from, const char *to)
{
    struct event *ev = mk(k, ms);
    ev->verb = verb;
    ev->flow_id = verb == EV_VERB_PUBLISH ? 900 : 901;
    if (verb == EV_VERB_PUBLISH) {
        peer(ev, &ev->src, 41000, from, NULL);
        peer(ev, &ev->dst, 5672, "rabbitmq", NULL);
    } else {
        peer(ev, &ev->src, 5672, "rabbitmq", NULL);
        peer(ev, &ev->dst, 42000, to, server);
    }
    ev->exchange = event_cstr(ev, "nova");
    ev->routing_key = event_cstr(ev, rk);
    char topic[64];
    snprintf(topic, sizeof(topic), "%s", rk);
    char *dot = strchr(topic, '.');
    if (dot)
        *dot = '\0';
    ev->topic = event_cstr(ev, topic);
    ev->topic_service = topic_svc ? event_cstr(ev, topic_svc) : NULL;
    ev->target_server = server ? event_cstr(ev, server) : NULL;
    ev->rpc_method = event_cstr(ev, method);
    ev->msg_id = msg_id ? event_cstr(ev, msg_id) : NULL;
    ev->unique_id = event_cstr(ev, uid);
    ev->request_id = rid ? event_cstr(ev, rid) : NULL;
    if (user) {
        ev->ctx_user = event_cstr(ev, "a1b2c3d4e5f6478899aabbccddeeff00");
        ev->ctx_project = event_cstr(ev, "0f1e2d3c4b5a49687766554433221100");
    }
    if (k == EV_RPC_CALL)
        ev->reply_q = event_cstr(ev, "reply_0123");
    return ev;
}

static struct event *reply(uint64_t ms, enum ev_verb verb, const char *msg_id, const char *uid,
                           const char *from, const char *eclass, const char *emsg)
{
    struct event *ev = mk(EV_RPC_REPLY, ms);
    ev->verb = verb;
    if (verb == EV_VERB_PUBLISH) {
        peer(ev, &ev->src, 41001, from, NULL);
        peer(ev, &ev->dst, 5672, "rabbitmq", NULL);
    } else {
        peer(ev, &ev->src, 5672, "rabbitmq", NULL);
        peer(ev, &ev->dst, 42001, NULL, NULL);
    }
    ev->routing_key = event_cstr(ev, "reply_0123");
    ev->msg_id = event_cstr(ev, msg_id);
    ev->unique_id = event_cstr(ev, uid);
    ev->ending = 1;
    if (eclass) {
        ev->failure = 1;
        ev->error_class = event_cstr(ev, eclass);
        ev->error_module = event_cstr(ev, "nova.exception");
        ev->error_message = emsg ? event_cstr(ev, emsg) : NULL;
    }
    return ev;
}

static struct event *notif(uint64_t ms, const char *publisher, const char *etype,
                           const char *prio, const char *rid, const char *eclass,
                           const char *emsg, const char *uid)
{
    struct event *ev = mk(EV_NOTIFICATION, ms);
    ev->verb = EV_VERB_PUBLISH;
    peer(ev, &ev->src, 41002, NULL, NULL);
    peer(ev, &ev->dst, 5672, "rabbitmq", NULL);
    ev->publisher_id = event_cstr(ev, publisher);
    ev->event_type = event_cstr(ev, etype);
    ev->priority = event_cstr(ev, prio);
    ev->request_id = rid ? event_cstr(ev, rid) : NULL;
    ev->ctx_user = event_cstr(ev, "a1b2c3d4e5f6478899aabbccddeeff00");
    ev->error_class = eclass ? event_cstr(ev, eclass) : NULL;
    ev->error_message = emsg ? event_cstr(ev, emsg) : NULL;
    ev->unique_id = event_cstr(ev, uid);
    return ev;
}

static struct event *conn(uint64_t ms, const char *to, int what)
{
    struct event *ev = mk(EV_CONN, ms);
    peer(ev, &ev->src, 45000, NULL, NULL);
    peer(ev, &ev->dst, svc_port(to), to, NULL);
    ev->conn_event = what;
    return ev;
}

static const char *R = "req-2b6f0c1a-1111-4a4a-8b8b-000000000001";
static const char *INST = "37308832-ef62-48b2-b227-4541f3912c4f";
static const char *IMG = "5a3e19ce-7940-4e0d-b310-a5d3e0bb44c4";
#define UA_OSC "openstacksdk/0.101.0 keystoneauth1/5.0.0 python-requests/2.28.1 CPython/3.11.2"
#define UA_NOVACLIENT "python-novaclient"

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

START_TEST(refusals_of_one_target_are_one_chain)
{
    /* nova-api down: a client's connections are refused, nothing nests them */
    struct rca *a = new_rca_cfg(0, 0, 0);
    rca_event(a, conn(0, "nova-api", FLOW_EV_REFUSED));
    rca_event(a, conn(1000, "nova-api", FLOW_EV_REFUSED));
    rca_event(a, conn(2000, "nova-api", FLOW_EV_REFUSED));
    rca_flush(a, T0 + 5000000ull);
    ck_assert_uint_eq(ngot, 1);
    ck_assert_str_eq(got[0].service, "nova-api");
    ck_assert_str_eq(got[0].kind, "conn_refused");
    ck_assert_str_eq(got[0].category, "service_down");
    ck_assert_uint_eq(got[0].nnodes, 3);
    ck_assert_uint_eq(got[0].origin_seq, 1);
    (void)INST;
    (void)IMG;
    (void)notif;
    rca_free(a);
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
    tcase_add_test(tc, pipelined_responses_pair_in_order);
    tcase_add_test(tc, events_per_chain_cap);
    tcase_add_test(tc, open_chains_evicted);
    tcase_add_test(tc, settle_and_pending_calls);
    tcase_add_test(tc, filter_by_request_id);
    tcase_add_test(tc, refusals_of_one_target_are_one_chain);
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
