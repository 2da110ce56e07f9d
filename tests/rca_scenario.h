/* rca_scenario.h -- shared scaffolding of the rca test suites (check_chain.c,
 * check_walk.c): synthetic event builders (HTTP request/response, RPC
 * call/cast/reply, notification, connection event), the shipped rules, and
 * a report collector that keeps each verdict and its JSON. Included by one
 * test file each: everything is static. */
#ifndef OSRCA_TESTS_RCA_SCENARIO_H
#define OSRCA_TESTS_RCA_SCENARIO_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/flow.h"
#include "capture/mem.h"
#include "capture/stats.h"
#include "cli/out/json.h"
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

#endif
