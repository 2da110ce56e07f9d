/* check_cloud.c -- the model of the cloud (rca/cloud.c), client sessions
 * (rca/session.c), incidents (rca/incident.c) and blame (rca/blame.c) on
 * synthetic events: a service's periods from refusals, connections that
 * leave, answers held until the client gives up, errors that name another
 * service, missed periodic reports; instances known by address taking a
 * host name; observed and declared dependencies; a refusal tied to the
 * poised client session, to a burst of a client that could not log in,
 * or to nobody; incidents opened by a period, joined by verdicts,
 * resolved; the Alertmanager payload; blame moving a generic failure onto
 * a dependency that went down first, and leaving a specific one; work
 * lost to a broker restart moved onto the broker; the one callee silent
 * when its caller could not connect. */
#include <jansson.h>

#include "capture/flow.h"
#include "cli/out/incident.h"
#include "rca/blame.h"
#include "rca/cloud.h"
#include "rca/incident.h"
#include "rca/session.h"
#include "tests/rca_scenario.h"

static struct cloud *new_cloud(void)
{
    struct cloud *m = cloud_new(NULL, rules, st);
    ck_assert_ptr_nonnull(m);
    return m;
}

/* Show ev to m, then free it. */
static void see(struct cloud *m, struct event *ev)
{
    cloud_observe(m, ev);
    event_free(ev);
}

static struct event *amqp(uint64_t ms, enum ev_kind kind, const char *svc, const char *host,
                          int how)
{
    struct event *ev = mk(kind, ms);
    peer(ev, &ev->src, 41000, svc, host);
    peer(ev, &ev->dst, 5672, "rabbitmq", NULL);
    ev->end_how = how;
    return ev;
}

START_TEST(refusals_make_a_period_an_answer_ends_it)
{
    struct cloud *m = new_cloud();
    see(m, req(0, 1, "client", UA_OSC, "glance-api", "GET", "/v2/images", NULL, NULL));
    see(m, resp(10, 1, "glance-api", "client", "GET", "/v2/images", 200, NULL, NULL, NULL));
    see(m, conn(1000, "glance-api", FLOW_EV_REFUSED));
    see(m, conn(2000, "glance-api", FLOW_EV_REFUSED));
    const struct cloud_inst *g = cloud_find(m, "glance-api", NULL, "127.0.0.1");
    ck_assert_ptr_nonnull(g);
    ck_assert_uint_eq(g->refused, 2);
    ck_assert_uint_eq(g->nspans, 1);
    ck_assert_int_eq(g->spans[0].state, CLOUD_DOWN);
    ck_assert_int_eq(g->spans[0].why, CLOUD_WHY_REFUSED);
    ck_assert_uint_eq(g->spans[0].evidence, 2);
    ck_assert(cloud_down_at(g, T0 + 1500000ull));
    ck_assert(!cloud_down_at(g, T0 + 500000ull));
    /* back: its next answer */
    see(m, resp(9000, 2, "glance-api", "client", "GET", "/v2/images", 200, NULL, NULL, NULL));
    ck_assert_uint_eq(g->spans[0].until_us, T0 + 9000000ull);
    ck_assert(!cloud_down_at(g, T0 + 9500000ull));
    ck_assert(cloud_span_solid(&g->spans[0], T0 + 9000000ull));
    ck_assert_ptr_null(cloud_down_during(g, T0 + 10000000ull, T0 + 20000000ull));
    cloud_free(m);
}
END_TEST

START_TEST(a_service_that_leaves_the_broker)
{
    /* nova-conductor's connections close, it comes back with a new one;
     * the broker force-closing connections is the broker's period */
    struct cloud *m = new_cloud();
    see(m, amqp(0, EV_AMQP_OPEN, "nova-conductor", "ctl", 0));
    see(m, amqp(1000, EV_AMQP_END, "nova-conductor", "ctl", EV_END_CLIENT_CLOSED));
    see(m, amqp(1001, EV_AMQP_END, "nova-conductor", "ctl", EV_END_CLIENT_CLOSED));
    const struct cloud_inst *c = cloud_find(m, "nova-conductor", "ctl", NULL);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(c->amqp_closed, 2);
    ck_assert(cloud_down_at(c, T0 + 5000000ull));
    ck_assert_int_eq(c->spans[0].why, CLOUD_WHY_LEFT);
    see(m, amqp(30000, EV_AMQP_OPEN, "nova-conductor", "ctl", 0));
    ck_assert(!cloud_down_at(c, T0 + 31000000ull));
    ck_assert_uint_eq(c->spans[0].until_us, T0 + 30000000ull);
    struct event *close = mk(EV_AMQP_CLOSE, 40000);
    peer(close, &close->src, 5672, "rabbitmq", NULL);
    peer(close, &close->dst, 41000, "nova-conductor", "ctl");
    close->reply_code = 320;
    see(m, close);
    const struct cloud_inst *b = cloud_find(m, "rabbitmq", NULL, "127.0.0.1");
    ck_assert_ptr_nonnull(b);
    ck_assert(cloud_down_at(b, T0 + 41000000ull));
    ck_assert_int_eq(b->spans[0].why, CLOUD_WHY_FORCED);
    ck_assert(!cloud_down_at(c, T0 + 41000000ull));
    cloud_free(m);
}
END_TEST

START_TEST(held_until_the_client_gave_up_is_hung)
{
    struct cloud *m = new_cloud();
    struct event *na = resp(40000, 3, "nova-api", "client", "DELETE", "/v2.1/servers/x", 0, NULL,
                            NULL, NULL);
    na->flags |= EV_F_NO_ANSWER;
    na->end_how = EV_END_CLIENT_CLOSED;
    na->req_ts_us = T0 + 1000000ull;
    see(m, na);
    const struct cloud_inst *n = cloud_find(m, "nova-api", NULL, "127.0.0.1");
    ck_assert_ptr_nonnull(n);
    ck_assert_uint_eq(n->no_answer, 1);
    ck_assert_int_eq(n->spans[0].state, CLOUD_HUNG);
    ck_assert_uint_eq(n->spans[0].since_us, T0 + 1000000ull);
    cloud_free(m);
}
END_TEST

START_TEST(errors_that_name_another_service)
{
    /* a DB-API error in a failed RPC names the database (a rule whose
     * culprit is a service); a real answer from a service that depends
     * on it ends the period */
    struct cloud *m = new_cloud();
    see(m, reply(1000, EV_VERB_PUBLISH, "5d1cd2a2f6ab46f78086102b28034c7d",
                 "4cb2b5abe339499bb1ad385123d4c440", "nova-conductor", "DBConnectionError",
                 "(pymysql.err.OperationalError) (2003, \"Can't connect to MySQL server on "
                 "'localhost'\")"));
    const struct cloud_inst *db = cloud_find(m, "mariadb", NULL, NULL);
    ck_assert_ptr_nonnull(db);
    ck_assert(cloud_down_at(db, T0 + 2000000ull));
    ck_assert_int_eq(db->spans[0].why, CLOUD_WHY_NAMED);
    /* a version document is no proof; a server read by nova-api is */
    see(m, resp(3000, 4, "nova-api", "client", "GET", "/v2.1", 200, NULL, NULL, NULL));
    ck_assert(cloud_down_at(db, T0 + 3500000ull));
    see(m, resp(4000, 5, "nova-api", "client", "GET", "/v2.1/servers/abc", 200, NULL, NULL, NULL));
    ck_assert(!cloud_down_at(db, T0 + 4500000ull));
    cloud_free(m);
}
END_TEST

/* keystone fails in the generic way (server errors, a request closed
 * unanswered) from 1 s on; at 6 s an error first names the database: its
 * outage began with keystone's trouble. Trouble that paused longer than
 * a moment, or of a service that does not depend on it, does not count. */
START_TEST(named_outage_backdated_to_dependents_trouble)
{
    struct cloud *m = new_cloud();
    see(m, req(0, 1, "keystonemiddleware", "python-keystoneclient", "keystone", "GET",
               "/v3/auth/tokens", NULL, NULL));
    see(m, resp(1000, 1, "keystone", "keystonemiddleware", "GET", "/v3/auth/tokens", 500, NULL,
                "Internal Server Error", "An unexpected error prevented the server"));
    struct event *na = resp(3000, 2, "keystone", "client", "POST", "/v3/auth/tokens", 0, NULL,
                            NULL, NULL);
    na->flags |= EV_F_NO_ANSWER;
    na->end_how = EV_END_SERVER_CLOSED;
    see(m, na);
    see(m, reply(6000, EV_VERB_PUBLISH, "5d1cd2a2f6ab46f78086102b28034c7d",
                 "4cb2b5abe339499bb1ad385123d4c440", "nova-conductor", "DBConnectionError",
                 "(pymysql.err.OperationalError) (2003, \"Can't connect to MySQL server on "
                 "'localhost'\")"));
    const struct cloud_inst *db = cloud_find(m, "mariadb", NULL, NULL);
    ck_assert_ptr_nonnull(db);
    ck_assert_uint_eq(db->spans[0].since_us, T0 + 1000000ull);
    ck_assert_uint_eq(db->spans[0].evidence, 2);
    cloud_free(m);
    /* the same, keystone's trouble paused 10 s before the naming: not backdated */
    m = new_cloud();
    see(m, resp(1000, 1, "keystone", "keystonemiddleware", "GET", "/v3/auth/tokens", 500, NULL,
                "Internal Server Error", "An unexpected error prevented the server"));
    see(m, reply(12000, EV_VERB_PUBLISH, "5d1cd2a2f6ab46f78086102b28034c7d",
                 "4cb2b5abe339499bb1ad385123d4c440", "nova-conductor", "DBConnectionError",
                 "(pymysql.err.OperationalError) (2003, \"Can't connect to MySQL server on "
                 "'localhost'\")"));
    db = cloud_find(m, "mariadb", NULL, NULL);
    ck_assert_ptr_nonnull(db);
    ck_assert_uint_eq(db->spans[0].since_us, T0 + 12000000ull);
    ck_assert_uint_eq(db->spans[0].evidence, 1);
    cloud_free(m);
}
END_TEST

/* Behind a span port the database never shows: keystone, up (it answers
 * its version document), closes every login unanswered. What it depends
 * on out of the wire's sight is down since its first failure; when a
 * dependency it has that the wire shows is down instead, that one
 * explains it and nothing is inferred. */
static void keystone_version_ok(struct cloud *m, uint64_t ms, uint64_t flow)
{
    see(m, resp(ms, flow, "keystone", "client", "GET", "/v3", 200, NULL, NULL, NULL));
}

static void keystone_login_closed(struct cloud *m, uint64_t ms, uint64_t flow)
{
    struct event *na =
        resp(ms, flow, "keystone", "client", "POST", "/v3/auth/tokens", 0, NULL, NULL, NULL);
    na->flags |= EV_F_NO_ANSWER;
    na->end_how = EV_END_SERVER_CLOSED;
    see(m, na);
}

START_TEST(backend_out_of_sight_inferred)
{
    struct cloud *m = new_cloud();
    keystone_version_ok(m, 0, 1);
    keystone_login_closed(m, 1000, 2);
    keystone_login_closed(m, 1010, 3);
    ck_assert_ptr_null(cloud_find(m, "mariadb", NULL, NULL)); /* two: not yet a run */
    keystone_version_ok(m, 2000, 4);
    keystone_login_closed(m, 2010, 5);
    const struct cloud_inst *db = cloud_find(m, "mariadb", NULL, NULL);
    ck_assert_ptr_nonnull(db);
    ck_assert_uint_eq(db->nspans, 1);
    ck_assert_int_eq(db->spans[0].why, CLOUD_WHY_BACKEND);
    ck_assert_uint_eq(db->spans[0].since_us, T0 + 1000000ull);
    ck_assert_uint_eq(db->spans[0].evidence, 3);
    /* a real answer from keystone: the database works again */
    see(m, resp(9000, 6, "keystone", "client", "POST", "/v3/auth/tokens", 201, NULL, NULL, NULL));
    ck_assert(!cloud_down_at(db, T0 + 9500000ull));
    cloud_free(m);
    /* nova-api failing the same way while keystone (which it depends on,
     * and which the wire shows) refuses: keystone explains it */
    m = new_cloud();
    see(m, resp(0, 1, "nova-api", "client", "GET", "/", 200, NULL, NULL, NULL));
    see(m, conn(500, "keystone", FLOW_EV_REFUSED));
    for (int i = 0; i < 4; i++)
        see(m, resp(1000 + 10 * (uint64_t)i, 2 + (uint64_t)i, "nova-api", "client", "GET",
                    "/v2.1/servers", 503, NULL, "HTTPServiceUnavailable", "Service Unavailable"));
    ck_assert_ptr_null(cloud_find(m, "mariadb", NULL, NULL));
    cloud_free(m);
}
END_TEST

START_TEST(silent_reporter_then_host_from_address)
{
    /* nova-compute reports every 10 s (a call with no user behind it),
     * then stops: silent past three periods */
    struct cloud *m = new_cloud();
    for (int i = 0; i < 5; i++) {
        char uid[40];
        snprintf(uid, sizeof(uid), "%032d", i);
        struct event *c = rpc(i * 10000ull, EV_RPC_CALL, EV_VERB_PUBLISH, "conductor",
                              "nova-conductor", NULL, "object_action", uid, uid, NULL, 0,
                              "nova-compute", NULL);
        c->src.host = event_cstr(c, "cmp-1");
        see(m, c);
    }
    const struct cloud_inst *x = cloud_find(m, "nova-compute", "cmp-1", NULL);
    ck_assert_ptr_nonnull(x);
    ck_assert_uint_eq(x->beat_period_us, 10000000ull);
    cloud_tick(m, T0 + 60000000ull);
    ck_assert(!cloud_down_at(x, T0 + 60000000ull));
    cloud_tick(m, T0 + 75000000ull);
    ck_assert(cloud_down_at(x, T0 + 75000000ull));
    ck_assert_int_eq(x->spans[0].why, CLOUD_WHY_SILENT);
    ck_assert_uint_eq(x->spans[0].since_us, T0 + 40000000ull);
    /* an instance known by its address takes the host name an event gives */
    struct event *o = amqp(80000, EV_AMQP_OPEN, "nova-scheduler", NULL, 0);
    snprintf(o->src.addr, sizeof(o->src.addr), "10.0.0.9");
    see(m, o);
    struct event *p = amqp(81000, EV_AMQP_OPEN, "nova-scheduler", "ctl", 0);
    snprintf(p->src.addr, sizeof(p->src.addr), "10.0.0.9");
    see(m, p);
    const struct cloud_inst *s1 = cloud_find(m, "nova-scheduler", NULL, "10.0.0.9");
    const struct cloud_inst *s2 = cloud_find(m, "nova-scheduler", "ctl", NULL);
    ck_assert_ptr_nonnull(s1);
    ck_assert_ptr_eq(s1, s2);
    ck_assert_uint_eq(s1->amqp_opened, 2);
    cloud_free(m);
}
END_TEST

START_TEST(dependencies_observed_and_embedded)
{
    struct cloud *m = new_cloud();
    see(m, req(0, 1, "client", UA_OSC, "nova-api", "GET", "/v2.1/servers", NULL, NULL));
    see(m, req(1, 2, "nova", "python-glanceclient", "glance-api", "GET", "/v2/images/x", NULL, R));
    see(m, req(2, 3, "nova-scheduler", "nova-scheduler keystoneauth1/5", "placement-api", "GET",
               "/allocation_candidates", NULL, R));
    const struct cloud_inst *api = cloud_find(m, "nova-api", NULL, "127.0.0.1");
    const struct cloud_inst *gl = cloud_find(m, "glance-api", NULL, "127.0.0.1");
    const struct cloud_inst *sc = cloud_find(m, "nova-scheduler", NULL, "127.0.0.1");
    const struct cloud_inst *pl = cloud_find(m, "placement-api", NULL, "127.0.0.1");
    ck_assert_ptr_nonnull(api);
    ck_assert_ptr_nonnull(gl);
    /* nova's glance client is a library of the services of its address */
    ck_assert(cloud_depends(m, api, gl));
    ck_assert(cloud_calls(m, api, gl)); /* nova-api's own family of clients */
    ck_assert(!cloud_calls(m, pl, gl));
    ck_assert(cloud_calls(m, sc, pl));
    ck_assert(!cloud_calls(m, pl, sc));
    cloud_free(m);
}
END_TEST

/* ---- sessions ---- */

START_TEST(sessions_and_refusals)
{
    struct session_table *t = session_table_new(NULL, NULL);
    ck_assert_ptr_nonnull(t);
    /* a login: the token's fingerprint keys the session */
    struct event *l = resp(100, 7, "keystone", "client", "POST", "/v3/auth/tokens", 201,
                           "req-00000071-0000-4000-8000-000000000000", NULL, NULL);
    l->subject_fp = 0xfeed;
    l->ctx_user = event_cstr(l, "demo");
    uint32_t sid = session_observe(t, l);
    event_free(l);
    ck_assert_uint_ne(sid, 0);
    struct event *q = req(200, 8, "client", UA_OSC, "nova-api", "DELETE", "/v2.1/servers/x", NULL,
                          NULL);
    q->token_fp[0] = 0xfeed;
    q->operation = event_cstr(q, "server delete");
    ck_assert_uint_eq(session_observe(t, q), sid);
    event_free(q);
    struct event *a = resp(300, 8, "nova-api", "client", "DELETE", "/v2.1/servers/x", 204,
                           "req-00000072-0000-4000-8000-000000000000", NULL, NULL);
    a->operation = event_cstr(a, "server delete");
    ck_assert_uint_eq(session_observe(t, a), sid);
    event_free(a);
    struct session *s = session_get(t, sid);
    ck_assert_str_eq(s->user, "demo");
    ck_assert_str_eq(s->login_rid, "req-00000071-0000-4000-8000-000000000000");
    ck_assert_str_eq(s->op, "server delete");
    ck_assert_str_eq(s->op_rid, "req-00000072-0000-4000-8000-000000000000");
    /* poised: a refused poll a second later is its */
    struct event *r1 = conn(1300, "nova-api", FLOW_EV_REFUSED);
    ck_assert_uint_eq(session_for_refusal(t, r1), sid);
    event_free(r1);
    /* but not a refusal of the service that issued its token: a client
     * that could not log in; its burst is one anonymous session */
    struct event *k1 = conn(1400, "keystone", FLOW_EV_REFUSED);
    struct event *k2 = conn(1401, "keystone", FLOW_EV_REFUSED);
    uint32_t a1 = session_for_refusal(t, k1), a2 = session_for_refusal(t, k2);
    ck_assert_uint_ne(a1, sid);
    ck_assert_uint_eq(a1, a2);
    ck_assert_uint_eq(session_get(t, a1)->fp, 0);
    struct event *k3 = conn(2400, "keystone", FLOW_EV_REFUSED);
    ck_assert_uint_ne(session_for_refusal(t, k3), a1);
    event_free(k1);
    event_free(k2);
    event_free(k3);
    /* long silent: nobody is poised any more */
    struct event *r2 = conn(60000, "nova-api", FLOW_EV_REFUSED);
    uint32_t late = session_for_refusal(t, r2);
    ck_assert_uint_ne(late, sid);
    ck_assert_uint_eq(session_get(t, late)->fp, 0);
    event_free(r2);
    ck_assert_str_eq(session_identity(t), "keystone");
    session_expire(t, T0 + 1000000000ull);
    ck_assert_ptr_null(session_get(t, sid));
    session_table_free(t);
}
END_TEST

/* ---- incidents and blame ---- */

static struct incident last_inc;
static int changes[3];

static void on_inc(void *ctx, const struct incident *inc, enum incident_change what)
{
    (void)ctx;
    last_inc = *inc;
    changes[what]++;
}

static void verdict(struct report *r, const char *svc, const char *kind, const char *cat,
                    uint64_t ms)
{
    memset(r, 0, sizeof(*r));
    r->failed = 1;
    r->operation = "server create";
    r->request_id = "req-00000073-0000-4000-8000-000000000000";
    r->category = cat;
    r->root_cause.service = svc;
    r->root_cause.kind = kind;
    snprintf(r->root_cause.addr, sizeof(r->root_cause.addr), "127.0.0.1");
    r->root_cause.ts_us = T0 + ms * 1000;
    r->root_cause.since_us = r->root_cause.ts_us - 500000;
    r->start_ts_us = r->root_cause.since_us;
}

START_TEST(incidents_open_join_resolve)
{
    memset(changes, 0, sizeof(changes));
    struct cloud *m = new_cloud();
    struct incident_table *t = incident_table_new(NULL, st, on_inc, NULL);
    ck_assert_ptr_nonnull(t);
    see(m, conn(1000, "placement-api", FLOW_EV_REFUSED));
    incident_tick(t, m, T0 + 1100000ull);
    ck_assert_uint_eq(incident_count(t), 0); /* one refusal is no outage yet */
    see(m, conn(1500, "placement-api", FLOW_EV_REFUSED));
    incident_tick(t, m, T0 + 2000000ull);
    ck_assert_uint_eq(incident_count(t), 1);
    ck_assert_int_eq(changes[INCIDENT_OPENED], 1);
    const struct cloud_inst *p = cloud_find(m, "placement-api", NULL, "127.0.0.1");
    struct report r;
    verdict(&r, "placement-api", "dependency_down", "service_down", 3000);
    uint32_t id = incident_verdict(t, &r, p, &p->spans[0], 1);
    ck_assert_uint_eq(id, 1);
    ck_assert_uint_eq(last_inc.verdicts, 1);
    ck_assert_str_eq(last_inc.ops[0].request_id, "req-00000073-0000-4000-8000-000000000000");
    /* a user error makes none; a background failure only joins */
    verdict(&r, "keystone", "http_4xx", "user_error", 3500);
    ck_assert_uint_eq(incident_verdict(t, &r, NULL, NULL, 1), 0);
    verdict(&r, "placement-api", "conn_refused", "service_down", 4000);
    ck_assert_uint_eq(incident_verdict(t, &r, NULL, NULL, 0), 1);
    ck_assert_uint_eq(last_inc.background, 1);
    verdict(&r, "glance-api", "conn_refused", "service_down", 4000);
    ck_assert_uint_eq(incident_verdict(t, &r, NULL, NULL, 0), 0);
    /* back, then quiet: resolved */
    see(m, resp(10000, 9, "placement-api", "nova-scheduler", "GET", "/allocation_candidates",
                200, NULL, NULL, NULL));
    incident_tick(t, m, T0 + 11000000ull);
    ck_assert_uint_eq(incident_at(t, 0)->back_us, T0 + 10000000ull);
    ck_assert_uint_eq(incident_at(t, 0)->end_us, 0);
    incident_tick(t, m, T0 + 71000000ull);
    ck_assert_uint_eq(incident_at(t, 0)->end_us, T0 + 10000000ull);
    ck_assert_int_eq(changes[INCIDENT_RESOLVED], 1);
    /* the Alertmanager alert: a list of one, labels, endsAt once resolved */
    char buf[4096];
    FILE *f = fmemopen(buf, sizeof(buf), "w");
    out_incident_alert(f, incident_at(t, 0));
    fclose(f);
    json_error_t je;
    json_t *j = json_loads(buf, 0, &je);
    ck_assert_ptr_nonnull(j);
    ck_assert(json_is_array(j));
    json_t *al = json_array_get(j, 0);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(al, "labels"), "service")),
                     "placement-api");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(al, "labels"), "severity")),
                     "critical");
    ck_assert_ptr_nonnull(json_object_get(al, "startsAt"));
    ck_assert_ptr_nonnull(json_object_get(al, "endsAt"));
    json_decref(j);
    incident_table_free(t);
    cloud_free(m);
}
END_TEST

START_TEST(blame_moves_a_let_down_failure_only)
{
    struct cloud *m = new_cloud();
    /* nova-api calls glance; glance refuses from 1 s on */
    see(m, req(0, 1, "nova-api", "nova-api keystoneauth1/5", "glance-api", "GET", "/", NULL, NULL));
    see(m, conn(1000, "glance-api", FLOW_EV_REFUSED));
    see(m, conn(1100, "glance-api", FLOW_EV_REFUSED));
    struct report r;
    struct blame b;
    char buf[512];
    /* a generic 500 from nova-api while glance was down: glance's */
    verdict(&r, "nova-api", "http_5xx", "internal_error", 2000);
    r.root_cause.error = "computeFault";
    snprintf(r.status, sizeof(r.status), "500");
    ck_assert(blame_decide(m, rules, &r, r.root_cause.since_us, r.root_cause.ts_us, &b));
    ck_assert(b.moved);
    blame_apply(&b, &r, buf, sizeof(buf));
    ck_assert_str_eq(r.root_cause.service, "glance-api");
    ck_assert_str_eq(r.root_cause.kind, "dependency_down");
    ck_assert_ptr_nonnull(strstr(r.root_cause.message, "glance-api down since"));
    /* keystone's spelling of the same generic 500 (its error title) */
    verdict(&r, "nova-api", "http_5xx", "internal_error", 2000);
    r.root_cause.error = "Internal Server Error";
    snprintf(r.status, sizeof(r.status), "500");
    ck_assert(blame_decide(m, rules, &r, r.root_cause.since_us, r.root_cause.ts_us, &b));
    ck_assert(b.moved);
    /* a 500 naming a specific exception stays nova-api's */
    verdict(&r, "nova-api", "http_5xx", "internal_error", 2000);
    r.root_cause.error = "ValueError";
    blame_decide(m, rules, &r, r.root_cause.since_us, r.root_cause.ts_us, &b);
    ck_assert(!b.moved);
    /* a specific exception nova-api raised stays its own */
    verdict(&r, "nova-api", "rpc_failure", "not_found", 2000);
    r.root_cause.error = "InstanceNotFound";
    blame_decide(m, rules, &r, r.root_cause.since_us, r.root_cause.ts_us, &b);
    ck_assert(!b.moved);
    /* a user error is never moved */
    verdict(&r, "nova-api", "http_4xx", "user_error", 2000);
    ck_assert(!blame_decide(m, rules, &r, r.root_cause.since_us, r.root_cause.ts_us, &b));
    cloud_free(m);
}
END_TEST

/* A cast for server uuid delivered to the nova-compute of host at addr. */
static void build_on(struct cloud *m, uint64_t ms, const char *host, const char *addr,
                     const char *uuid)
{
    char rk[64];
    snprintf(rk, sizeof(rk), "compute.%s", host);
    struct event *d = rpc(ms, EV_RPC_CAST, EV_VERB_DELIVER, rk, "nova-compute", host,
                          "build_and_run_instance", NULL, "u-b", R, 1, NULL, "nova-compute");
    snprintf(d->dst.addr, sizeof(d->dst.addr), "%s", addr);
    ck_assert_int_eq(event_add_uuid(d, uuid, strlen(uuid), EV_RES_INSTANCE), 0);
    see(m, d);
}

/* nova-compute on host at addr tells of a server at ms (a sign of life). */
static void compute_speaks(struct cloud *m, uint64_t ms, const char *host, const char *addr)
{
    char pub[64];
    snprintf(pub, sizeof(pub), "compute.%s", host);
    struct event *n = notif(ms, pub, "compute.instance.update", "INFO", R, NULL, NULL, "u-n");
    n->src.service = event_cstr(n, "nova-compute");
    n->src.host = event_cstr(n, host);
    snprintf(n->src.addr, sizeof(n->src.addr), "%s", addr);
    see(m, n);
}

/* A connection to addr stalled at ms: nothing from addr since quiet_ms. */
static struct event *stalled(uint64_t ms, const char *addr, uint64_t quiet_ms)
{
    struct event *ev = mk(EV_CONN, ms);
    peer(ev, &ev->src, 5672, "rabbitmq", NULL);
    peer(ev, &ev->dst, 50010, NULL, NULL);
    snprintf(ev->dst.addr, sizeof(ev->dst.addr), "%s", addr);
    ev->conn_event = FLOW_EV_STALLED;
    ev->quiet_since_us = T0 + quiet_ms * 1000;
    return ev;
}

/* The broker restarts under nova-conductor: it force-closes the
 * conductor's connection at 1 s, refuses reconnects, and is back at 20 s
 * (a connection taken). Work the conductor does not consume from when
 * (ms) on. */
static struct cloud *broker_restart(uint64_t untaken_ms)
{
    struct cloud *m = new_cloud();
    see(m, amqp(0, EV_AMQP_OPEN, "nova-conductor", "ctl", 0));
    struct event *close = mk(EV_AMQP_CLOSE, 1000);
    peer(close, &close->src, 5672, "rabbitmq", NULL);
    peer(close, &close->dst, 41000, "nova-conductor", "ctl");
    close->reply_code = 320;
    see(m, close);
    see(m, conn(2000, "rabbitmq", FLOW_EV_REFUSED));
    see(m, conn(3000, "rabbitmq", FLOW_EV_REFUSED));
    see(m, amqp(20000, EV_AMQP_OPEN, "nova-api", "ctl", 0));
    cloud_note(m, "nova-conductor", "ctl", NULL, CLOUD_WHY_UNCONSUMED, T0 + untaken_ms * 1000);
    cloud_note(m, "nova-conductor", "ctl", NULL, CLOUD_WHY_UNCONSUMED,
               T0 + (untaken_ms + 2000) * 1000);
    return m;
}

START_TEST(work_lost_to_a_broker_restart_is_the_brokers)
{
    struct report r;
    struct blame b;
    /* a cast to the conductor 70 ms after the broker came back, never
     * delivered: the conductor had not re-attached yet */
    struct cloud *m = broker_restart(20070);
    verdict(&r, "nova-conductor", "cast_unconsumed", "service_down", 20070);
    r.root_cause.host = "ctl";
    r.root_cause.untaken = 1;
    ck_assert(blame_decide(m, rules, &r, r.root_cause.since_us, r.root_cause.ts_us, &b));
    ck_assert(b.moved);
    ck_assert_str_eq(b.inst->service, "rabbitmq");
    /* the conductor opened no period of its own: the broker's evidence */
    const struct cloud_inst *cd = cloud_find(m, "nova-conductor", "ctl", NULL);
    ck_assert_ptr_nonnull(cd);
    ck_assert_uint_eq(cd->nspans, 0);
    ck_assert_uint_eq(*stats_counter(st, "cloud.unconsumed_after_broker"), 2);
    cloud_free(m);
    /* a minute after the broker came back, the conductor's own */
    m = broker_restart(80000);
    verdict(&r, "nova-conductor", "cast_unconsumed", "service_down", 80000);
    r.root_cause.host = "ctl";
    r.root_cause.untaken = 1;
    blame_decide(m, rules, &r, r.root_cause.since_us, r.root_cause.ts_us, &b);
    ck_assert(!b.moved);
    ck_assert_ptr_nonnull(b.inst);
    ck_assert_str_eq(b.inst->service, "nova-conductor");
    cloud_free(m);
}
END_TEST

/* nova-compute calls neutron-server and placement-api at 0 s; nova-api
 * answers a version document (it is up). */
static struct cloud *nova_calls(void)
{
    struct cloud *m = new_cloud();
    see(m, req(0, 1, "nova-compute", "nova-compute keystoneauth1/5", "neutron-server", "GET",
               "/v2.0/ports", NULL, NULL));
    see(m, resp(5, 1, "neutron-server", "nova-compute", "GET", "/v2.0/ports", 200, NULL, NULL,
                NULL));
    see(m, req(10, 2, "nova-compute", "nova-compute keystoneauth1/5", "placement-api", "GET",
               "/allocations/x", NULL, NULL));
    see(m, resp(15, 2, "placement-api", "nova-compute", "GET", "/allocations/x", 200, NULL,
                NULL, NULL));
    see(m, resp(20, 3, "nova-api", "client", "GET", "/", 200, NULL, NULL, NULL));
    return m;
}

START_TEST(the_callee_nobody_hears_from)
{
    /* nova-api fails to connect at 10 s (ConnectFailure: its call is out
     * of sight); placement answers again at 12 s, neutron never: neutron
     * is the one, down since its last word */
    struct cloud *m = nova_calls();
    see(m, req(12000, 2, "nova-compute", "nova-compute keystoneauth1/5", "placement-api", "GET",
               "/allocations/x", NULL, NULL));
    see(m, resp(12005, 2, "placement-api", "nova-compute", "GET", "/allocations/x", 200, NULL,
                NULL, NULL));
    const struct cloud_inst *api = cloud_find(m, "nova-api", NULL, "127.0.0.1");
    ck_assert_ptr_nonnull(api);
    const struct cloud_inst *u = cloud_unreached_callee(m, api, T0 + 10000000ull, T0 + 25000000ull);
    ck_assert_ptr_nonnull(u);
    ck_assert_str_eq(u->service, "neutron-server");
    ck_assert(cloud_down_at(u, T0 + 11000000ull));
    ck_assert_int_eq(cloud_current_span(u)->why, CLOUD_WHY_CALLERS);
    ck_assert(cloud_depends(m, api, u));
    cloud_free(m);
    /* placement silent too: which one is not for the wire to say */
    m = nova_calls();
    api = cloud_find(m, "nova-api", NULL, "127.0.0.1");
    ck_assert_ptr_null(cloud_unreached_callee(m, api, T0 + 10000000ull, T0 + 25000000ull));
    cloud_free(m);
}
END_TEST

START_TEST(unreachable_host_and_server_homes)
{
    const char *S1 = "11111111-2222-4333-8444-555555555555";
    struct cloud *m = new_cloud();
    build_on(m, 0, "cmp-1", "10.0.0.21", INST);
    build_on(m, 100, "cmp-2", "10.0.0.22", S1);
    const struct cloud_inst *c1 = cloud_find(m, "nova-compute", "cmp-1", NULL);
    const struct cloud_inst *c2 = cloud_find(m, "nova-compute", "cmp-2", NULL);
    ck_assert_ptr_nonnull(c1);
    ck_assert_ptr_nonnull(c2);
    ck_assert_str_eq(c2->addr, "10.0.0.22");
    /* where each server lives */
    ck_assert_ptr_eq(cloud_home(m, INST), c1);
    ck_assert_ptr_eq(cloud_home(m, S1), c2);
    ck_assert_ptr_null(cloud_home(m, IMG));
    /* cmp-2 publishes at 2 s, then nothing: data to it stalls at 20 s */
    compute_speaks(m, 2000, "cmp-2", "10.0.0.22");
    see(m, stalled(20000, "10.0.0.22", 1000));
    ck_assert_uint_eq(c2->nspans, 1);
    ck_assert_int_eq(c2->spans[0].why, CLOUD_WHY_STALLED);
    ck_assert_uint_eq(c2->spans[0].since_us, T0 + 2000000ull); /* its last message */
    ck_assert_str_eq(cloud_span_category(&c2->spans[0]), "host_unreachable");
    ck_assert_uint_eq(c1->nspans, 0);
    /* a stall contradicted by a message from the address since: that
     * connection's trouble, not the host's */
    compute_speaks(m, 29500, "cmp-1", "10.0.0.21");
    see(m, stalled(30000, "10.0.0.21", 1000));
    ck_assert_uint_eq(c1->nspans, 0);
    ck_assert_uint_eq(*stats_counter(st, "cloud.stall_contradicted"), 1);
    /* a stuck operation on S1 that its chain pins on nobody: its server's
     * host holds it, and that host was unreachable */
    struct report r;
    struct blame b;
    char hb[384], buf[512];
    verdict(&r, NULL, "stuck", "service_down", 40000);
    r.root_cause.addr[0] = '\0';
    r.root_cause.message = "the client stopped waiting";
    ck_assert(blame_home(m, &r, S1, hb, sizeof(hb)));
    ck_assert_str_eq(r.root_cause.service, "nova-compute");
    ck_assert_str_eq(r.root_cause.host, "cmp-2");
    ck_assert(blame_decide(m, rules, &r, r.root_cause.since_us, r.root_cause.ts_us, &b));
    blame_apply(&b, &r, buf, sizeof(buf));
    ck_assert_str_eq(r.category, "host_unreachable");
    /* no home known: the stuck rule's when_down names the compute down */
    verdict(&r, NULL, "stuck", "service_down", 40000);
    r.rule = "stuck";
    ck_assert(!blame_home(m, &r, IMG, hb, sizeof(hb)));
    ck_assert(blame_decide(m, rules, &r, r.root_cause.since_us, r.root_cause.ts_us, &b));
    ck_assert(b.moved);
    ck_assert_ptr_eq(b.inst, c2);
    cloud_free(m);
}
END_TEST

static Suite *suite(void)
{
    (void)INST; /* the shared scenario helpers this file does not use */
    (void)IMG;
    (void)on_report;
    Suite *s = suite_create("cloud");
    TCase *tc = tcase_create("model");
    tcase_add_checked_fixture(tc, load_rules, free_rules);
    tcase_add_test(tc, refusals_make_a_period_an_answer_ends_it);
    tcase_add_test(tc, a_service_that_leaves_the_broker);
    tcase_add_test(tc, held_until_the_client_gave_up_is_hung);
    tcase_add_test(tc, errors_that_name_another_service);
    tcase_add_test(tc, named_outage_backdated_to_dependents_trouble);
    tcase_add_test(tc, backend_out_of_sight_inferred);
    tcase_add_test(tc, silent_reporter_then_host_from_address);
    tcase_add_test(tc, dependencies_observed_and_embedded);
    tcase_add_test(tc, sessions_and_refusals);
    tcase_add_test(tc, incidents_open_join_resolve);
    tcase_add_test(tc, blame_moves_a_let_down_failure_only);
    tcase_add_test(tc, work_lost_to_a_broker_restart_is_the_brokers);
    tcase_add_test(tc, the_callee_nobody_hears_from);
    tcase_add_test(tc, unreachable_host_and_server_homes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf ? 1 : 0;
}
