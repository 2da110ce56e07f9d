/* check_oslo.c -- oslo.messaging over AMQP (parsers/oslo.h): the whole
 * oslo_amqp_ops stack on real captures (call/reply pairing by msg_id,
 * NoValidHost failure, ERROR notification, connection owners, secrets,
 * whole vs byte-by-byte feeding) and oslo_decode on crafted bodies
 * (envelopes, failures, notifications, secrets, compression). */
#include <check.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "parsers/oslo.h"
#include "tests/amqp_build.h"
#include "tests/pcap_streams.h"

/* ---- collected events ------------------------------------------------ */

#define MAXEV 512

struct evs {
    struct event *e[MAXEV];
    size_t n;
};

static void sink(void *ctx, struct event *ev)
{
    struct evs *v = ctx;
    if (v->n < MAXEV)
        v->e[v->n++] = ev;
    else
        event_free(ev);
}

static void evs_free(struct evs *v)
{
    for (size_t i = 0; i < v->n; i++)
        event_free(v->e[i]);
    v->n = 0;
}

#define S(x) ((x) ? (x) : "-")

/* One line per event: every field the stack fills. */
static void ev_line(const struct event *e, char *out, size_t cap)
{
    int k = snprintf(out, cap,
                     "%s %s %llu %s@%s>%s@%s ex=%s rk=%s t=%s s=%s ts=%s f=%d m=%s ns=%s v=%s "
                     "id=%s rq=%s u=%s r=%s g=%s to=%d exp=%lld e=%d fail=%d c=%s mod=%s "
                     "msg=%s tb=%s p=%s et=%s pr=%s us=%s pj=%s rc=%u rt=%s fl=%x",
                     event_kind_name(e->kind), event_verb_name(e->verb),
                     (unsigned long long)e->flow_id, S(e->src.service), S(e->src.host),
                     S(e->dst.service), S(e->dst.host), S(e->exchange), S(e->routing_key),
                     S(e->topic), S(e->target_server), S(e->topic_service), e->fanout,
                     S(e->rpc_method), S(e->rpc_namespace), S(e->rpc_version), S(e->msg_id),
                     S(e->reply_q), S(e->unique_id), S(e->request_id), S(e->global_request_id),
                     e->timeout_s, (long long)e->expiration_ms, e->ending, e->failure,
                     S(e->error_class), S(e->error_module), S(e->error_message),
                     S(e->traceback), S(e->publisher_id), S(e->event_type), S(e->priority),
                     S(e->ctx_user), S(e->ctx_project), e->reply_code, S(e->reply_text),
                     e->flags);
    for (size_t i = 0; i < e->nuuids && k > 0 && (size_t)k < cap; i++)
        k += snprintf(out + k, cap - (size_t)k, " %s:%s", event_res_name(e->uuids[i].res),
                      e->uuids[i].id);
}

static struct svcmap *test_map(void)
{
    struct svcmap *m = svcmap_new();
    ck_assert_ptr_nonnull(m);
    svcmap_add_topic(m, "conductor", "nova-conductor");
    svcmap_add_topic(m, "scheduler", "nova-scheduler");
    svcmap_add_topic(m, "compute.*", "nova-compute");
    svcmap_add_publisher(m, "compute.*", "nova-compute");
    svcmap_add_publisher(m, "nova-compute:*", "nova-compute");
    svcmap_add_publisher(m, "conductor.*", "nova-conductor");
    svcmap_add_publisher(m, "compute_task.*", "nova-conductor");
    svcmap_add_publisher(m, "nova-conductor:*", "nova-conductor");
    svcmap_add_publisher(m, "nova-scheduler:*", "nova-scheduler");
    svcmap_add_publisher(m, "scheduler.*", "nova-scheduler");
    svcmap_add_conn_name(m, "nova-api:*", "nova-api");
    svcmap_add_conn_name(m, "nova-compute:*", "nova-compute");
    svcmap_add_conn_name(m, "nova-conductor:*", "nova-conductor");
    svcmap_add_conn_name(m, "nova-scheduler:*", "nova-scheduler");
    return m;
}

struct side {
    uint8_t *rest;
    size_t n;
};

/* parse.h caller-side buffering, each call on an exactly-sized copy. */
static void feed(void *conn, struct side *s, int dir, const uint8_t *p, size_t n, uint64_t ts)
{
    size_t len = s->n + n, off = 0;
    uint8_t *buf = malloc(len ? len : 1);
    if (s->n)
        memcpy(buf, s->rest, s->n);
    if (n)
        memcpy(buf + s->n, p, n);
    free(s->rest);
    for (;;) {
        size_t left = len - off;
        uint8_t *exact = malloc(left ? left : 1);
        if (left)
            memcpy(exact, buf + off, left);
        struct parse_result r = oslo_amqp_ops.feed(conn, dir, exact, left, ts);
        free(exact);
        ck_assert_uint_le(r.consumed, left);
        off += r.consumed;
        if (r.status != PARSE_ERROR || off == len)
            break;
    }
    s->n = len - off;
    s->rest = malloc(s->n ? s->n : 1);
    if (s->n)
        memcpy(s->rest, buf + off, s->n);
    free(buf);
}

/* Run a capture through one oslo_amqp_ops stack in packet order. bytewise:
 * every packet is fed one byte per call. */
static const struct oslo_cfg *run_cfg; /* NULL: the defaults */

static void run_capture(const struct capture *cap, struct evs *out, struct stats *st, int bytewise)
{
    struct svcmap *map = test_map();
    struct mem_pool pool, evp;
    mem_pool_init(&pool, "parsers", 64u << 20);
    mem_pool_init(&evp, "events", 64u << 20);
    struct app_env env = {map, st, &pool, &evp, sink, out};
    void *g = run_cfg ? oslo_global_new_cfg(&env, run_cfg) : oslo_amqp_ops.global_new(&env);
    ck_assert_ptr_nonnull(g);
    void *conns[256];
    struct side sides[256][2];
    memset(sides, 0, sizeof(sides));
    for (int f = 0; f < cap->nflows; f++) {
        struct app_conn_info ci = {(uint64_t)f + 1, 2, "127.0.0.1", cap->ports[f], "127.0.0.1", 5672};
        conns[f] = oslo_amqp_ops.conn_new(g, &env, &ci);
        ck_assert_ptr_nonnull(conns[f]);
    }
    uint64_t last = 0;
    for (size_t i = 0; i < cap->n; i++) {
        const struct chunk *c = &cap->c[i];
        last = c->ts;
        if (!bytewise) {
            feed(conns[c->flow], &sides[c->flow][c->dir], c->dir, c->p, c->n, c->ts);
        } else {
            for (size_t k = 0; k < c->n; k++)
                feed(conns[c->flow], &sides[c->flow][c->dir], c->dir, c->p + k, 1, c->ts);
        }
    }
    for (int f = 0; f < cap->nflows; f++) {
        oslo_amqp_ops.end(conns[f], EV_END_CAPTURE, last);
        free(sides[f][0].rest);
        free(sides[f][1].rest);
    }
    oslo_amqp_ops.global_free(g);
    ck_assert_uint_eq(pool.used, 0);
    svcmap_free(map);
}

static const struct event *find(const struct evs *v, enum ev_kind k, enum ev_verb verb,
                                const char *msg_id)
{
    for (size_t i = 0; i < v->n; i++) {
        const struct event *e = v->e[i];
        if (e->kind == k && e->verb == verb && (!msg_id || (e->msg_id && !strcmp(e->msg_id, msg_id))))
            return e;
    }
    return NULL;
}

/* ---- real captures --------------------------------------------------- */

START_TEST(novalidhost_chain)
{
    struct capture *cap = load_capture("s1_rpc_chain_novalidhost.pcap");
    struct evs v = {{0}, 0};
    struct stats *st = stats_new();
    run_capture(cap, &v, st, 0);
    int pub = 0, del = 0, calls = 0, paired = 0;
    for (size_t i = 0; i < v.n; i++) {
        const struct event *e = v.e[i];
        pub += e->verb == EV_VERB_PUBLISH;
        del += e->verb == EV_VERB_DELIVER;
        ck_assert_int_eq(e->flags & EV_F_BAD_BODY, 0);
        if (e->kind == EV_RPC_CALL && e->verb == EV_VERB_PUBLISH) {
            calls++;
            ck_assert_ptr_nonnull(e->msg_id);
            ck_assert_ptr_nonnull(e->reply_q);
            ck_assert_ptr_nonnull(e->request_id);
            ck_assert_ptr_nonnull(e->unique_id);
            ck_assert_int_gt(e->expiration_ms, 0);
            ck_assert_str_eq(e->dst.service, "rabbitmq");
            const struct event *r = find(&v, EV_RPC_REPLY, EV_VERB_PUBLISH, e->msg_id);
            ck_assert_ptr_nonnull(r);
            paired++;
            /* the reply goes to the call's reply queue and fails with NoValidHost */
            ck_assert_str_eq(r->routing_key, e->reply_q);
            ck_assert_int_eq(r->failure, 1);
            ck_assert_int_eq(r->ending, 1);
            ck_assert_str_eq(r->error_class, "NoValidHost");
            ck_assert_str_eq(r->error_module, "s1lib");
            ck_assert_str_eq(r->error_message,
                             "No valid host was found. There are not enough hosts available.");
            ck_assert_ptr_nonnull(strstr(r->traceback, "select_destinations"));
            ck_assert_str_eq(r->rpc_method, e->rpc_method);
        }
    }
    ck_assert_int_eq(pub, 5); /* tshark: five Basic.Publish, four Basic.Deliver */
    ck_assert_int_eq(del, 4);
    ck_assert_int_eq(calls, 2);
    ck_assert_int_eq(paired, 2);
    /* select_destinations: conductor -> scheduler, owners from topics */
    const struct event *c = NULL;
    for (size_t i = 0; i < v.n; i++)
        if (v.e[i]->kind == EV_RPC_CALL && v.e[i]->verb == EV_VERB_DELIVER &&
            !strcmp(v.e[i]->rpc_method, "select_destinations"))
            c = v.e[i];
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(c->topic, "scheduler");
    ck_assert_str_eq(c->topic_service, "nova-scheduler");
    ck_assert_str_eq(c->src.service, "rabbitmq");
    ck_assert_str_eq(c->dst.service, "nova-scheduler");
    ck_assert_str_eq(c->request_id, "req-eea0e924-9204-4d4d-9a2e-a6679ebbe2a9");
    ck_assert_str_eq(c->global_request_id, "req-0d9563af-ccef-465c-a329-b8cde002dc56");
    const struct event *rp = find(&v, EV_RPC_REPLY, EV_VERB_PUBLISH, c->msg_id);
    ck_assert_str_eq(rp->src.service, "nova-scheduler");
    const struct event *cp = find(&v, EV_RPC_CALL, EV_VERB_PUBLISH, c->msg_id);
    ck_assert_str_eq(cp->src.service, "nova-conductor"); /* same process as the consumer */
    const struct event *rd = find(&v, EV_RPC_REPLY, EV_VERB_DELIVER, c->msg_id);
    ck_assert_str_eq(rd->dst.service, "nova-conductor");
    /* the conductor's ERROR notification */
    const struct event *nt = find(&v, EV_NOTIFICATION, EV_VERB_PUBLISH, NULL);
    ck_assert_ptr_nonnull(nt);
    ck_assert_str_eq(nt->priority, "ERROR");
    ck_assert_str_eq(nt->event_type, "compute_task.build_instances");
    ck_assert_str_eq(nt->src.service, "nova-conductor");
    ck_assert_ptr_nonnull(nt->error_class);
    ck_assert_ptr_nonnull(strstr(nt->error_class, "NoValidHost"));
    ck_assert_uint_ge(nt->nuuids, 1);
    ck_assert_str_eq(nt->uuids[0].id, "21fa1048-c143-4ec1-bf29-0dd5f5d82e68");
    ck_assert_int_eq(nt->uuids[0].res, EV_RES_INSTANCE);
    ck_assert_uint_eq(*stats_counter(st, "oslo.replies_paired"), 2);
    evs_free(&v);
    stats_free(st);
    free_capture(cap);
}
END_TEST

/* Same events whole per packet and one byte per call. */
START_TEST(whole_vs_bytewise)
{
    const char *names[] = {"s1_rpc_chain_novalidhost.pcap", "s1_notify_error_spawn.pcap"};
    for (int i = 0; i < 2; i++) {
        struct capture *cap = load_capture(names[i]);
        struct evs a = {{0}, 0}, b = {{0}, 0};
        run_capture(cap, &a, NULL, 0);
        run_capture(cap, &b, NULL, 1);
        ck_assert_uint_eq(a.n, b.n);
        ck_assert_uint_gt(a.n, 0);
        static char la[65536], lb[65536];
        for (size_t k = 0; k < a.n; k++) {
            ev_line(a.e[k], la, sizeof(la));
            ev_line(b.e[k], lb, sizeof(lb));
            ck_assert_str_eq(la, lb);
        }
        evs_free(&a);
        evs_free(&b);
        free_capture(cap);
    }
}
END_TEST

/* Every body is on the wire twice at least (Publish, Deliver): the second
 * copies what the first decoded to. Every event of every capture is the
 * same as when each body is decoded on its own, counters included. */
START_TEST(reused_bodies_decode_alike)
{
    const char *names[] = {"s1_rpc_chain_novalidhost.pcap", "s1_notify_error_spawn.pcap",
                           "s1_rpc_remote_exception.pcap", "s2a_server_create_delete_ok.pcap",
                           "s2g3_spawn_failure_build_abort.pcap"};
    uint64_t reused = 0;
    for (int i = 0; i < 5; i++) {
        struct capture *cap = load_capture(names[i]);
        struct evs a = {{0}, 0}, b = {{0}, 0};
        struct stats *sa = stats_new(), *sb = stats_new();
        struct oslo_cfg off;
        oslo_defaults(&off);
        off.reuse_bodies = 0;
        run_cfg = NULL;
        run_capture(cap, &a, sa, 0);
        run_cfg = &off;
        run_capture(cap, &b, sb, 0);
        run_cfg = NULL;
        ck_assert_uint_eq(a.n, b.n);
        static char la[65536], lb[65536];
        for (size_t k = 0; k < a.n; k++) {
            ev_line(a.e[k], la, sizeof(la));
            ev_line(b.e[k], lb, sizeof(lb));
            ck_assert_str_eq(la, lb);
        }
        ck_assert_uint_eq(*stats_counter(sa, "oslo.secrets_dropped"),
                          *stats_counter(sb, "oslo.secrets_dropped"));
        ck_assert_uint_eq(*stats_counter(sb, "oslo.bodies_reused"), 0);
        reused += *stats_counter(sa, "oslo.bodies_reused");
        evs_free(&a);
        evs_free(&b);
        stats_free(sa);
        stats_free(sb);
        free_capture(cap);
    }
    ck_assert_uint_gt(reused, 0);
}
END_TEST

/* Captures with live Fernet tokens in _context_auth_token (and one nested
 * in a legacy notification's request_spec): none reaches an event. */
START_TEST(secrets_never_in_events)
{
    const char *names[] = {"s2p_novalidhost_capacity.pcap", "s2g3_spawn_failure_build_abort.pcap"};
    for (int i = 0; i < 2; i++) {
        struct capture *cap = load_capture(names[i]);
        /* the tokens on the wire, taken from the capture itself */
        char tokens[16][256];
        int nt = 0;
        const char *needle = "_context_auth_token\\\": \\\"gAAAAA";
        for (size_t off = 0; off + 300 < cap->raw_n && nt < 16; off++) {
            if (memcmp(cap->raw + off, needle, strlen(needle)) != 0)
                continue;
            const uint8_t *t = cap->raw + off + strlen(needle) - 6;
            size_t k = 0;
            while (k < 255 && t[k] != '\\' && t[k] != '"')
                k++;
            memcpy(tokens[nt], t, k);
            tokens[nt][k] = '\0';
            nt++;
        }
        ck_assert_int_gt(nt, 0);
        struct evs v = {{0}, 0};
        struct stats *st = stats_new();
        run_capture(cap, &v, st, 0);
        ck_assert_uint_gt(v.n, 0);
        ck_assert_uint_gt(*stats_counter(st, "oslo.secrets_dropped"), 0);
        static char line[65536];
        for (size_t k = 0; k < v.n; k++) {
            ev_line(v.e[k], line, sizeof(line));
            ck_assert_ptr_null(strstr(line, "gAAAAA"));
            for (int t = 0; t < nt; t++)
                ck_assert_ptr_null(strstr(line, tokens[t] + 10));
        }
        evs_free(&v);
        stats_free(st);
        free_capture(cap);
    }
}
END_TEST

/* ---- oslo_decode on crafted bodies ------------------------------------ */

static struct event *decode(const char *body, const struct oslo_cfg *cfg)
{
    struct event *ev = event_new(NULL);
    size_t n = strlen(body);
    char *exact = malloc(n ? n : 1);
    memcpy(exact, body, n);
    oslo_decode(ev, (const uint8_t *)exact, n, cfg, NULL);
    free(exact);
    return ev;
}

/* JSON-escape s into out (for building envelopes). */
static void jescape(const char *s, char *out, size_t cap)
{
    size_t w = 0;
    for (; *s && w + 3 < cap; s++) {
        if (*s == '"' || *s == '\\')
            out[w++] = '\\';
        out[w++] = *s;
    }
    out[w] = '\0';
}

START_TEST(decode_envelope_call)
{
    const char *inner =
        "{\"method\": \"select_destinations\", \"namespace\": \"compute_task\", \"version\": \"4.5\","
        " \"_msg_id\": \"5f0e5f0e5f0e5f0e5f0e5f0e5f0e5f0e\", \"_reply_q\": \"reply_93a1\","
        " \"_timeout\": 60, \"_unique_id\": \"c41d\", \"_context_request_id\": \"req-1\","
        " \"_context_global_request_id\": null, \"_context_user\": \"u1\","
        " \"_context_project_id\": \"p1\", \"_context_auth_token\": \"gAAAAABsecretsecretsecret\","
        " \"_context_trace_info\": {\"hmac_key\": \"hm4c-s3cret\", \"base_id\": \"b\"},"
        " \"args\": {\"spec_obj\": {\"nova_object.name\": \"RequestSpec\", \"nova_object.data\":"
        " {\"instance_uuid\": \"0B9C0B9C-0B9C-4B9C-8B9C-0B9C0B9C0B9C\", \"image\": {\"nova_object.name\":"
        " \"ImageMeta\", \"nova_object.data\": {\"id\": \"11111111-2222-4333-8444-555555555555\"}}}},"
        " \"admin_password\": \"adm1n-pw\", \"instance\": {\"adminPass\": \"p4ss\", \"password\": \"pw0\"},"
        " \"instance_uuids\": [\"0b9c0b9c-0b9c-4b9c-8b9c-0b9c0b9c0b9c\"]}}";
    static char esc[8192], body[9000];
    jescape(inner, esc, sizeof(esc));
    snprintf(body, sizeof(body), "{\"oslo.version\": \"2.0\", \"oslo.message\": \"%s\"}", esc);
    const char *bodies[] = {body, inner}; /* envelope 2.0 and bare 1.0 */
    for (int i = 0; i < 2; i++) {
        struct event *ev = decode(bodies[i], NULL);
        ck_assert_int_eq(ev->kind, EV_RPC_CALL);
        ck_assert_int_eq(ev->flags & EV_F_BAD_BODY, 0);
        ck_assert_str_eq(ev->rpc_method, "select_destinations");
        ck_assert_str_eq(ev->rpc_namespace, "compute_task");
        ck_assert_str_eq(ev->rpc_version, "4.5");
        ck_assert_str_eq(ev->msg_id, "5f0e5f0e5f0e5f0e5f0e5f0e5f0e5f0e");
        ck_assert_str_eq(ev->reply_q, "reply_93a1");
        ck_assert_str_eq(ev->unique_id, "c41d");
        ck_assert_int_eq(ev->timeout_s, 60);
        ck_assert_str_eq(ev->request_id, "req-1");
        ck_assert_ptr_null(ev->global_request_id);
        ck_assert_str_eq(ev->ctx_user, "u1");
        ck_assert_str_eq(ev->ctx_project, "p1");
        ck_assert_uint_eq(ev->nuuids, 2);
        ck_assert_str_eq(ev->uuids[0].id, "0b9c0b9c-0b9c-4b9c-8b9c-0b9c0b9c0b9c");
        ck_assert_int_eq(ev->uuids[0].res, EV_RES_INSTANCE);
        ck_assert_int_eq(ev->uuids[1].res, EV_RES_IMAGE);
        static char line[16384];
        ev_line(ev, line, sizeof(line));
        ck_assert_ptr_null(strstr(line, "secret"));
        ck_assert_ptr_null(strstr(line, "adm1n"));
        ck_assert_ptr_null(strstr(line, "p4ss"));
        ck_assert_ptr_null(strstr(line, "pw0"));
        event_free(ev);
    }
}
END_TEST

START_TEST(decode_reply_failure)
{
    const char *failure =
        "{\"class\": \"NoValidHost\", \"module\": \"nova.exception\", \"message\": \"No valid host "
        "was found. \\nTraceback (most recent call last):\\n  File x\", \"tb\": [\"Traceback (most "
        "recent call last):\\n\", \"  File \\\"/usr/lib/nova/scheduler/manager.py\\\", line 1\\n\", "
        "\"nova.exception.NoValidHost: No valid host was found.\\n\"], \"args\": [], \"kwargs\": "
        "{\"instance_uuid\": \"0b9c0b9c-0b9c-4b9c-8b9c-0b9c0b9c0b9c\", \"code\": 500}}";
    static char esc1[8192], inner[9000], esc2[20000], body[21000];
    jescape(failure, esc1, sizeof(esc1));
    snprintf(inner, sizeof(inner),
             "{\"result\": null, \"failure\": \"%s\", \"ending\": true, \"_msg_id\": \"m1\", "
             "\"_unique_id\": \"u2\"}",
             esc1);
    jescape(inner, esc2, sizeof(esc2));
    snprintf(body, sizeof(body), "{\"oslo.version\": \"2.0\", \"oslo.message\": \"%s\"}", esc2);
    struct oslo_cfg cfg;
    oslo_defaults(&cfg);
    cfg.max_traceback = 40;
    struct event *ev = decode(body, &cfg);
    ck_assert_int_eq(ev->kind, EV_RPC_REPLY);
    ck_assert_str_eq(ev->msg_id, "m1");
    ck_assert_int_eq(ev->failure, 1);
    ck_assert_int_eq(ev->ending, 1);
    ck_assert_str_eq(ev->error_class, "NoValidHost");
    ck_assert_str_eq(ev->error_module, "nova.exception");
    /* the remote traceback appended to the message is cut off */
    ck_assert_str_eq(ev->error_message, "No valid host was found.");
    ck_assert_uint_eq(strlen(ev->traceback), 40);
    ck_assert_uint_eq(ev->nuuids, 1);
    event_free(ev);
    /* call-monitor heartbeat and a plain result */
    ev = decode("{\"result\": null, \"failure\": null, \"ending\": false, \"_msg_id\": \"m2\"}", NULL);
    ck_assert_int_eq(ev->kind, EV_RPC_REPLY);
    ck_assert_int_eq(ev->ending, 0);
    ck_assert_int_eq(ev->failure, 0);
    event_free(ev);
}
END_TEST

START_TEST(decode_notifications)
{
    /* versioned, fault inside nova_object.data */
    struct event *ev = decode(
        "{\"message_id\": \"7d3b7d3b-7d3b-4d3b-8d3b-7d3b7d3b7d3b\", \"publisher_id\": "
        "\"nova-compute:cmp-1\", \"event_type\": \"instance.create.error\", \"priority\": \"ERROR\","
        " \"_unique_id\": \"x\", \"_context_request_id\": \"req-9\", \"_context_auth_token\": null,"
        " \"payload\": {\"nova_object.name\": \"InstanceCreatePayload\", \"nova_object.data\": "
        "{\"uuid\": \"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee\", \"fault\": {\"nova_object.name\": "
        "\"ExceptionPayload\", \"nova_object.data\": {\"exception\": \"BuildAbortException\", "
        "\"exception_message\": \"Build aborted: token gAAAAABhelloworldhelloworldhelloworld\", "
        "\"module_name\": \"nova.virt.fake\", \"traceback\": \"Traceback ...\"}}}}}",
        NULL);
    ck_assert_int_eq(ev->kind, EV_NOTIFICATION);
    ck_assert_str_eq(ev->unique_id, "7d3b7d3b-7d3b-4d3b-8d3b-7d3b7d3b7d3b");
    ck_assert_str_eq(ev->publisher_id, "nova-compute:cmp-1");
    ck_assert_str_eq(ev->priority, "ERROR");
    ck_assert_str_eq(ev->error_class, "BuildAbortException");
    ck_assert_str_eq(ev->error_module, "nova.virt.fake");
    ck_assert_ptr_null(strstr(ev->error_message, "gAAAAAB"));
    ck_assert_uint_eq(ev->nuuids, 1);
    ck_assert_int_eq(ev->uuids[0].res, EV_RES_INSTANCE);
    event_free(ev);
    /* legacy: exception as a dict repr, message text */
    ev = decode("{\"message_id\": \"m\", \"publisher_id\": \"compute.cmp-1\", \"event_type\": "
                "\"compute.instance.create.error\", \"priority\": \"ERROR\", \"payload\": "
                "{\"instance_id\": \"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee\", \"exception\": "
                "\"{'kwargs': {'code': 500}, 'message': \\\"it's broken\\\", 'class': "
                "'BuildAbortException'}\", \"message\": \"Build aborted\"}}",
                NULL);
    ck_assert_str_eq(ev->error_class, "BuildAbortException");
    ck_assert_str_eq(ev->error_message, "it's broken");
    ck_assert_int_eq(ev->uuids[0].res, EV_RES_INSTANCE);
    event_free(ev);
    /* legacy compute_task: reason as an exception repr */
    ev = decode("{\"publisher_id\": \"compute_task.ctl\", \"event_type\": "
                "\"compute_task.build_instances\", \"priority\": \"ERROR\", \"payload\": "
                "{\"reason\": \"MessagingTimeout('Timed out waiting for a reply')\"}}",
                NULL);
    ck_assert_str_eq(ev->error_class, "MessagingTimeout");
    ck_assert_str_eq(ev->error_message, "Timed out waiting for a reply");
    event_free(ev);
}
END_TEST

START_TEST(decode_bad_bodies)
{
    const char *bad[] = {"", "not json", "[1,2]", "{\"oslo.version\": \"2.0\", \"oslo.message\": 5}",
                         "{\"oslo.version\": \"2.0\", \"oslo.message\": \"{broken\"}",
                         "{\"hello\": \"world\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct event *ev = decode(bad[i], NULL);
        ck_assert_int_ne(ev->flags & EV_F_BAD_BODY, 0);
        event_free(ev);
    }
    struct oslo_cfg cfg;
    oslo_defaults(&cfg);
    cfg.max_envelope = 10;
    struct event *ev = decode("{\"method\": \"x\", \"args\": {}}", &cfg);
    ck_assert_int_ne(ev->flags & EV_F_BAD_BODY, 0);
    ck_assert_ptr_null(ev->rpc_method);
    event_free(ev);
}
END_TEST

/* ---- crafted AMQP through the stack: compression, fanout, control ---- */

static struct buf pl, hdrs;

/* Content (Publish when dir 0, Deliver when dir 1) with optional headers. */
static void content(struct buf *out, int dir, const char *ex, const char *rk, const uint8_t *body,
                    size_t n, const struct buf *headers)
{
    pl.n = 0;
    if (dir == 0) {
        put32(&pl, 0x003C0028);
        put16(&pl, 0);
        putss(&pl, ex);
        putss(&pl, rk);
        put8(&pl, 0);
    } else {
        put32(&pl, 0x003C003C);
        putss(&pl, "1");
        put32(&pl, 0);
        put32(&pl, 7);
        put8(&pl, 0);
        putss(&pl, ex);
        putss(&pl, rk);
    }
    frame(out, 1, 1, &pl);
    pl.n = 0;
    put16(&pl, 60);
    put16(&pl, 0);
    put32(&pl, 0);
    put32(&pl, (uint32_t)n);
    put16(&pl, headers ? 0x2000 : 0);
    if (headers) {
        put32(&pl, (uint32_t)headers->n);
        putmem(&pl, headers->b, headers->n);
    }
    frame(out, 2, 1, &pl);
    pl.n = 0;
    putmem(&pl, body, n);
    frame(out, 3, 1, &pl);
}

static void run_bytes(const struct buf *c2s, const struct buf *s2c, struct evs *v)
{
    struct svcmap *map = test_map();
    struct stats *st = stats_new();
    struct app_env env = {map, st, NULL, NULL, sink, v};
    void *g = oslo_amqp_ops.global_new(&env);
    struct app_conn_info ci = {9, 2, "10.0.0.5", 40000, "10.0.0.1", 5672};
    void *c = oslo_amqp_ops.conn_new(g, &env, &ci);
    struct side s[2];
    memset(s, 0, sizeof(s));
    feed(c, &s[0], 0, c2s->b, c2s->n, 1000);
    feed(c, &s[1], 1, s2c->b, s2c->n, 2000);
    oslo_amqp_ops.end(c, EV_END_CAPTURE, 3000);
    oslo_amqp_ops.global_free(g);
    free(s[0].rest);
    free(s[1].rest);
    stats_free(st);
    svcmap_free(map);
}

static struct buf c2s, s2c;

START_TEST(stack_crafted)
{
    const char *msg = "{\"method\": \"update_instance_info\", \"args\": {}, \"version\": \"4.2\", "
                      "\"_unique_id\": \"f1\", \"_context_request_id\": \"req-z\"}";
    uint8_t z[1024];
    uLongf zn = sizeof(z);
    ck_assert_int_eq(compress2(z, &zn, (const Bytef *)msg, strlen(msg), 6), Z_OK);
    hdrs.n = 0;
    putss(&hdrs, "compression");
    put8(&hdrs, 'S');
    put32(&hdrs, 18);
    putmem(&hdrs, "application/x-gzip", 18);
    c2s.n = 0;
    s2c.n = 0;
    putmem(&c2s, "AMQP\0\0\x09\x01", 8);
    content(&c2s, 0, "scheduler_fanout", "", z, zn, &hdrs);
    content(&c2s, 0, "nova", "compute.cmp-7", (const uint8_t *)msg, strlen(msg), NULL);
    /* broker side (joined mid-stream): Return 312, Blocked, Close 404 */
    pl.n = 0;
    put32(&pl, 0x003C0032);
    put16(&pl, 312);
    putss(&pl, "NO_ROUTE");
    putss(&pl, "");
    putss(&pl, "reply_abc");
    frame(&s2c, 1, 1, &pl);
    pl.n = 0;
    put16(&pl, 60);
    put16(&pl, 0);
    put32(&pl, 0);
    put32(&pl, 2);
    put16(&pl, 0);
    frame(&s2c, 2, 1, &pl);
    pl.n = 0;
    putmem(&pl, "{}", 2);
    frame(&s2c, 3, 1, &pl);
    pl.n = 0;
    put32(&pl, 0x000A003C);
    putss(&pl, "low on memory");
    frame(&s2c, 1, 0, &pl);
    pl.n = 0;
    put32(&pl, 0x00140028);
    put16(&pl, 404);
    putss(&pl, "NOT_FOUND - no queue 'q' in vhost '/'");
    put16(&pl, 50);
    put16(&pl, 10);
    frame(&s2c, 1, 1, &pl);
    pl.n = 0;
    put32(&pl, 0x000A0032); /* a normal close: no event */
    put16(&pl, 200);
    putss(&pl, "OK");
    put16(&pl, 0);
    put16(&pl, 0);
    frame(&s2c, 1, 0, &pl);
    struct evs v = {{0}, 0};
    run_bytes(&c2s, &s2c, &v);
    ck_assert_uint_eq(v.n, 5);
    const struct event *e = v.e[0];
    ck_assert_int_eq(e->kind, EV_RPC_CAST);
    ck_assert_int_ne(e->flags & EV_F_COMPRESSED, 0);
    ck_assert_int_eq(e->fanout, 1);
    ck_assert_str_eq(e->topic, "scheduler");
    ck_assert_str_eq(e->topic_service, "nova-scheduler");
    ck_assert_str_eq(e->rpc_method, "update_instance_info");
    ck_assert_str_eq(e->src.addr, "10.0.0.5");
    ck_assert_str_eq(e->dst.service, "rabbitmq");
    e = v.e[1];
    ck_assert_str_eq(e->topic, "compute");
    ck_assert_str_eq(e->target_server, "cmp-7");
    ck_assert_str_eq(e->topic_service, "nova-compute");
    e = v.e[2];
    ck_assert_int_eq(e->kind, EV_AMQP_RETURN);
    ck_assert_uint_eq(e->reply_code, 312);
    ck_assert_str_eq(e->reply_text, "NO_ROUTE");
    ck_assert_str_eq(e->routing_key, "reply_abc");
    ck_assert_str_eq(e->src.service, "rabbitmq");
    e = v.e[3];
    ck_assert_int_eq(e->kind, EV_AMQP_BLOCKED);
    ck_assert_str_eq(e->reply_text, "low on memory");
    e = v.e[4];
    ck_assert_int_eq(e->kind, EV_AMQP_CLOSE);
    ck_assert_uint_eq(e->reply_code, 404);
    ck_assert_str_eq(e->error_class, "NOT_FOUND");
    evs_free(&v);
}
END_TEST

START_TEST(answered_calls_free_their_slot)
{
    /* a call table of one set (8 slots): 40 calls, each answered (the
     * final reply delivered) before the next, then one left waiting while
     * 8 more come and go; no call is evicted, and the waiting one's late
     * reply is still named from its call (with answered calls kept, the
     * 8 later ones would push it out) */
    struct oslo_cfg cfg;
    oslo_defaults(&cfg);
    cfg.max_calls = 8;
    cfg.reuse_bodies = 0;
    struct svcmap *map = test_map();
    struct stats *st = stats_new();
    struct evs v = {{0}, 0};
    struct app_env env = {map, st, NULL, NULL, sink, &v};
    void *g = oslo_global_new_cfg(&env, &cfg);
    ck_assert_ptr_nonnull(g);
    struct app_conn_info ci = {1, 2, "10.0.0.5", 40000, "10.0.0.1", 5672};
    void *caller = oslo_amqp_ops.conn_new(g, &env, &ci);
    struct side sc[2];
    memset(sc, 0, sizeof(sc));
    uint64_t ts = 1000;
    for (int i = 0; i < 49; i++) {
        char call[256], reply[256];
        int id = i < 40 ? i : (i == 40 ? 999 : i);
        snprintf(call, sizeof(call),
                 "{\"method\": \"%s\", \"args\": {}, \"_msg_id\": \"m%03d\", "
                 "\"_reply_q\": \"reply_q1\", \"_unique_id\": \"u%03d\"}",
                 id == 999 ? "slow_call" : "ping", id, id);
        snprintf(reply, sizeof(reply),
                 "{\"result\": 1, \"ending\": true, \"_msg_id\": \"m%03d\", "
                 "\"_unique_id\": \"r%03d\"}", id, id);
        c2s.n = 0;
        if (i == 0)
            putmem(&c2s, "AMQP\0\0\x09\x01", 8);
        content(&c2s, 0, "nova", "conductor", (const uint8_t *)call, strlen(call), NULL);
        feed(caller, &sc[0], 0, c2s.b, c2s.n, ts++);
        if (id == 999)
            continue; /* answered at the end */
        s2c.n = 0;
        content(&s2c, 1, "", "reply_q1", (const uint8_t *)reply, strlen(reply), NULL);
        feed(caller, &sc[1], 1, s2c.b, s2c.n, ts++);
    }
    static const char late[] = "{\"result\": 1, \"ending\": true, \"_msg_id\": \"m999\", "
                               "\"_unique_id\": \"r999\"}";
    s2c.n = 0;
    content(&s2c, 1, "", "reply_q1", (const uint8_t *)late, strlen(late), NULL);
    feed(caller, &sc[1], 1, s2c.b, s2c.n, ts++);
    ck_assert_uint_eq(*stats_counter(st, "oslo.calls_evicted"), 0);
    const struct event *last = v.e[v.n - 1];
    ck_assert_int_eq(last->kind, EV_RPC_REPLY);
    ck_assert_str_eq(last->msg_id, "m999");
    ck_assert_ptr_nonnull(last->rpc_method); /* named from its call */
    ck_assert_str_eq(last->rpc_method, "slow_call");
    oslo_amqp_ops.end(caller, EV_END_CAPTURE, ts);
    oslo_amqp_ops.global_free(g);
    free(sc[0].rest);
    free(sc[1].rest);
    evs_free(&v);
    stats_free(st);
    svcmap_free(map);
}
END_TEST

START_TEST(owner_from_conn_name)
{
    /* Start-Ok connection_name: a rule match, then a binary-name fallback */
    const char *names[] = {"nova-compute:1234:9f1e1443", "my-agent:77:ab12"};
    const char *want[] = {"nova-compute", "my-agent"};
    for (int i = 0; i < 2; i++) {
        struct buf props;
        props.n = 0;
        putss(&props, "connection_name");
        put8(&props, 'S');
        put32(&props, (uint32_t)strlen(names[i]));
        putmem(&props, names[i], strlen(names[i]));
        c2s.n = 0;
        s2c.n = 0;
        putmem(&c2s, "AMQP\0\0\x09\x01", 8);
        pl.n = 0;
        put32(&pl, 0x000A000B);
        put32(&pl, (uint32_t)props.n);
        putmem(&pl, props.b, props.n);
        putss(&pl, "PLAIN");
        put32(&pl, 12);
        putmem(&pl, "\0guest\0hunt2", 12);
        putss(&pl, "en_US");
        frame(&c2s, 1, 0, &pl);
        content(&c2s, 0, "nova", "conductor", (const uint8_t *)"{\"method\": \"ping\"}", 18, NULL);
        content(&s2c, 1, "nova", "compute.h1", (const uint8_t *)"{\"method\": \"pong\"}", 18, NULL);
        struct evs v = {{0}, 0};
        run_bytes(&c2s, &s2c, &v);
        /* the connection itself (its owner named), then the two messages */
        ck_assert_uint_eq(v.n, 3);
        ck_assert_int_eq(v.e[0]->kind, EV_AMQP_OPEN);
        ck_assert_str_eq(v.e[0]->src.service, want[i]);
        ck_assert_str_eq(v.e[1]->src.service, want[i]);
        /* the routing key of a Deliver names the consumer (a weaker source
           than a matching connection_name, a stronger one than a guess) */
        ck_assert_str_eq(v.e[2]->dst.service, "nova-compute");
        static char line[16384];
        for (size_t k = 0; k < v.n; k++) {
            ev_line(v.e[k], line, sizeof(line));
            ck_assert_ptr_null(strstr(line, "hunt2"));
        }
        evs_free(&v);
    }
}
END_TEST

START_TEST(split_target)
{
    struct span t, s;
    const char *k = "cinder-volume.host@lvm.host";
    oslo_split_target(k, strlen(k), &t, &s);
    ck_assert_uint_eq(t.n, 13);
    ck_assert_uint_eq(s.n, strlen("host@lvm.host"));
    oslo_split_target("conductor", 9, &t, &s);
    ck_assert_uint_eq(t.n, 9);
    ck_assert_uint_eq(s.n, 0);
}
END_TEST

/* Trees are not scrubbed whole any more (oslo.c): uwalk itself must never
 * pick a UUID out of a secret member, a "token" string or a token object,
 * and the body still counts as one that carried secrets. */
START_TEST(uuids_never_from_secret_members)
{
    const char *body =
        "{\"method\": \"build_instances\", \"_msg_id\": \"m1\", \"_reply_q\": \"reply_1\","
        " \"_context_request_id\": \"req-2\", \"_context_auth_token\": null,"
        " \"args\": {\"instance_uuid\": \"0b9c0b9c-0b9c-4b9c-8b9c-0b9c0b9c0b9c\","
        " \"password\": \"11111111-1111-4111-8111-111111111111\","
        " \"auth_token\": \"22222222-2222-4222-8222-222222222222\","
        " \"token\": \"33333333333343338333333333333333\","
        " \"creds\": {\"token\": {\"id\": \"44444444444444444444444444444444\"},"
        " \"secret\": {\"id\": \"55555555-5555-4555-8555-555555555555\"}},"
        " \"client_secret_ids\": [\"66666666-6666-4666-8666-666666666666\"],"
        " \"image\": {\"id\": \"77777777-7777-4777-8777-777777777777\"}}}";
    struct stats *st = stats_new();
    struct event *ev = event_new(NULL);
    ck_assert_int_eq(oslo_decode(ev, (const uint8_t *)body, strlen(body), NULL, st), 0);
    ck_assert_int_eq(ev->kind, EV_RPC_CALL);
    ck_assert_uint_eq(ev->nuuids, 2);
    ck_assert_str_eq(ev->uuids[0].id, "0b9c0b9c-0b9c-4b9c-8b9c-0b9c0b9c0b9c");
    ck_assert_str_eq(ev->uuids[1].id, "77777777-7777-4777-8777-777777777777");
    ck_assert_uint_eq(*stats_counter(st, "oslo.secrets_dropped"), 1);
    event_free(ev);

    /* a null auth token and nothing secret: no secret counted */
    const char *clean = "{\"method\": \"ping\", \"_context_auth_token\": null, \"args\": {}}";
    ev = event_new(NULL);
    ck_assert_int_eq(oslo_decode(ev, (const uint8_t *)clean, strlen(clean), NULL, st), 0);
    ck_assert_uint_eq(*stats_counter(st, "oslo.secrets_dropped"), 1);
    event_free(ev);
    stats_free(st);
}
END_TEST

static Suite *oslo_suite(void)
{
    Suite *s = suite_create("oslo");
    TCase *tc = tcase_create("oslo");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, novalidhost_chain);
    tcase_add_test(tc, whole_vs_bytewise);
    tcase_add_test(tc, reused_bodies_decode_alike);
    tcase_add_test(tc, secrets_never_in_events);
    tcase_add_test(tc, decode_envelope_call);
    tcase_add_test(tc, uuids_never_from_secret_members);
    tcase_add_test(tc, decode_reply_failure);
    tcase_add_test(tc, decode_notifications);
    tcase_add_test(tc, decode_bad_bodies);
    tcase_add_test(tc, stack_crafted);
    tcase_add_test(tc, owner_from_conn_name);
    tcase_add_test(tc, answered_calls_free_their_slot);
    tcase_add_test(tc, split_target);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(oslo_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
