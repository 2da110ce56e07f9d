/* check_rest.c -- OpenStack REST events from HTTP (PROTOCOLS.md §3): error
 * bodies of each service, request ids, operations, services, UUIDs, server
 * state, and secret removal, on messages taken from the real captures in
 * testdata/ (extracted with `tshark -q -z follow,tcp,raw,N`). Every case
 * runs whole, one byte per call and split at every offset, with identical
 * events; inputs sit at the end of exactly-sized malloc buffers. The pcap
 * test feeds every HTTP connection of the real captures and checks that no
 * token or password seen on the wire survives in any event string. */
#include <arpa/inet.h>
#include <check.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "capture/stats.h"
#include "parsers/event.h"
#include "parsers/http1.h"
#include "parsers/parse.h"
#include "parsers/redact.h"
#include "parsers/rest.h"
#include "parsers/svcmap.h"

struct rseg {
    int dir;
    const char *s;
};

/* keystone_401: s2e_keystone_wrong_password.pcap, tcp stream 13 (tokens replaced by a fake Fernet token) */
static const struct rseg keystone_401[] = {
    {0, "POST /v3/auth/tokens HTTP/1.1\r\n"
    "Host: 127.0.0.1:5000\r\n"
    "User-Agent: openstacksdk/0.101.0 keystoneauth1/5.0.0 python-requests/2.28.1 CPython/3.11.2\r\n"
    "Accept-Encoding: gzip, deflate\r\n"
    "Accept: application/json\r\n"
    "Connection: keep-alive\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 221\r\n"
    "\r\n"
    ""},
    {0, "{\"auth\": {\"identity\": {\"methods\": [\"password\"], \"password\": {\"user\": {\"password\": \"wrong-password\", \"name\": \"demo\", \"domain\": {\"name\": \"Default\"}}}}, \"scope\": {\"project\": {\"name\": \"demo\", \"domain\": {\"name\": \"Default\"}}}}}"},
    {1, "HTTP/1.1 401 UNAUTHORIZED\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 109\r\n"
    "WWW-Authenticate: Keystone uri=\"http://127.0.0.1:5000/v3\"\r\n"
    "Vary: X-Auth-Token\r\n"
    "x-openstack-request-id: req-8277c83f-a713-4b42-94ec-4808f088dff4\r\n"
    "Connection: close\r\n"
    "\r\n"
    "{\"error\":{\"code\":401,\"message\":\"The request you have made requires authentication.\",\"title\":\"Unauthorized\"}}\n"
    ""},
};

/* glance_404: s2f1_image_not_found.pcap, tcp stream 8 (tokens replaced by a fake Fernet token) */
static const struct rseg glance_404[] = {
    {0, "GET /v2/images/no-such-image HTTP/1.1\r\n"
    "Host: 127.0.0.1:9292\r\n"
    "User-Agent: openstacksdk/0.101.0 keystoneauth1/5.0.0 python-requests/2.28.1 CPython/3.11.2\r\n"
    "Accept-Encoding: gzip, deflate\r\n"
    "Accept: */*\r\n"
    "Connection: keep-alive\r\n"
    "X-Auth-Token: gAAAAABfakefakefakefakefakefakefakefake_-0123456789\r\n"
    "\r\n"
    ""},
    {1, "HTTP/1.1 404 Not Found\r\n"
    "Content-Length: 158\r\n"
    "Content-Type: text/html; charset=UTF-8\r\n"
    "X-Openstack-Request-Id: req-b57a184e-76c3-4e06-b10e-7b6148fd50f4\r\n"
    "Date: Sun, 22 Nov 2026 08:27:39 GMT\r\n"
    "Connection: keep-alive\r\n"
    "\r\n"
    "<html>\n"
    " <head>\n"
    "  <title>404 Not Found</title>\n"
    " </head>\n"
    " <body>\n"
    "  <h1>404 Not Found</h1>\n"
    "  No image found with ID no-such-image<br /><br />\n"
    "\n"
    "\n"
    "\n"
    " </body>\n"
    "</html>"},
};

/* nova_500: s2c2_glance_down_nova_api.pcap, tcp stream 12 (tokens replaced by a fake Fernet token) */
static const struct rseg nova_500[] = {
    {0, "POST /v2.1/servers HTTP/1.1\r\n"
    "Host: 127.0.0.1:8774\r\n"
    "User-Agent: curl/7.88.1\r\n"
    "Accept: */*\r\n"
    "X-Auth-Token: gAAAAABfakefakefakefakefakefakefakefake_-0123456789\r\n"
    "Content-Type: application/json\r\n"
    "OpenStack-API-Version: compute 2.37\r\n"
    "X-OpenStack-Nova-API-Version: 2.37\r\n"
    "Content-Length: 119\r\n"
    "\r\n"
    "{\"server\": {\"name\": \"vm-c2\", \"imageRef\": \"5a3e19ce-7940-4e0d-b310-a5d3e0bb44c4\", \"flavorRef\": \"1\", \"networks\": \"none\"}}"},
    {1, "HTTP/1.1 500 Internal Server Error\r\n"
    "Openstack-Api-Version: compute 2.37\r\n"
    "X-Openstack-Nova-Api-Version: 2.37\r\n"
    "Vary: OpenStack-API-Version\r\n"
    "Vary: X-OpenStack-Nova-API-Version\r\n"
    "Content-Type: application/json; charset=UTF-8\r\n"
    "Content-Length: 211\r\n"
    "X-Openstack-Request-Id: req-9e93f5a6-dfba-474d-be96-52663ed4de2e\r\n"
    "X-Compute-Request-Id: req-9e93f5a6-dfba-474d-be96-52663ed4de2e\r\n"
    "Date: Sun, 22 Nov 2026 08:28:32 GMT\r\n"
    "\r\n"
    "{\"computeFault\": {\"code\": 500, \"message\": \"Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and attach the Nova API log if possible.\\n<class 'nova.exception.GlanceConnectionFailed'>\"}}"},
};

/* nova_novalidhost: s2p_novalidhost_capacity.pcap, tcp stream 13 (tokens replaced by a fake Fernet token) */
static const struct rseg nova_novalidhost[] = {
    {0, "POST /v2.1/servers HTTP/1.1\r\n"
    "Host: 127.0.0.1:8774\r\n"
    "User-Agent: python-novaclient\r\n"
    "Accept-Encoding: gzip, deflate\r\n"
    "Accept: application/json\r\n"
    "Connection: keep-alive\r\n"
    "X-OpenStack-Nova-API-Version: 2.37\r\n"
    "OpenStack-API-Version: compute 2.37\r\n"
    "X-Auth-Token: gAAAAABfakefakefakefakefakefakefakefake_-0123456789\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 151\r\n"
    "\r\n"
    ""},
    {0, "{\"server\": {\"name\": \"vm-p\", \"imageRef\": \"5a3e19ce-7940-4e0d-b310-a5d3e0bb44c4\", \"flavorRef\": \"99\", \"min_count\": 1, \"max_count\": 1, \"networks\": \"none\"}}"},
    {1, "HTTP/1.1 202 Accepted\r\n"
    "Content-Length: 370\r\n"
    "Location: http://127.0.0.1:8774/v2.1/servers/37308832-ef62-48b2-b227-4541f3912c4f\r\n"
    "Content-Type: application/json\r\n"
    "Openstack-Api-Version: compute 2.37\r\n"
    "X-Openstack-Nova-Api-Version: 2.37\r\n"
    "Vary: OpenStack-API-Version\r\n"
    "Vary: X-OpenStack-Nova-API-Version\r\n"
    "X-Openstack-Request-Id: req-210a3d72-a6d6-47a2-87ee-367c8ba0d0a7\r\n"
    "X-Compute-Request-Id: req-210a3d72-a6d6-47a2-87ee-367c8ba0d0a7\r\n"
    "Date: Sun, 22 Nov 2026 08:49:30 GMT\r\n"
    "Connection: keep-alive\r\n"
    "\r\n"
    "{\"server\": {\"id\": \"37308832-ef62-48b2-b227-4541f3912c4f\", \"links\": [{\"rel\": \"self\", \"href\": \"http://127.0.0.1:8774/v2.1/servers/37308832-ef62-48b2-b227-4541f3912c4f\"}, {\"rel\": \"bookmark\", \"href\": \"http://127.0.0.1:8774/servers/37308832-ef62-48b2-b227-4541f3912c4f\"}], \"OS-DCF:diskConfig\": \"MANUAL\", \"security_groups\": [{\"name\": \"default\"}], \"adminPass\": \"ASq7jojgR6qg\"}}"},
    {0, "GET /v2.1/servers/37308832-ef62-48b2-b227-4541f3912c4f HTTP/1.1\r\n"
    "Host: 127.0.0.1:8774\r\n"
    "User-Agent: python-novaclient\r\n"
    "Accept-Encoding: gzip, deflate\r\n"
    "Accept: application/json\r\n"
    "Connection: keep-alive\r\n"
    "X-OpenStack-Nova-API-Version: 2.37\r\n"
    "OpenStack-API-Version: compute 2.37\r\n"
    "X-Auth-Token: gAAAAABfakefakefakefakefakefakefakefake_-0123456789\r\n"
    "\r\n"
    ""},
    {1, "HTTP/1.1 200 OK\r\n"
    "Content-Length: 1200\r\n"
    "Content-Type: application/json\r\n"
    "Openstack-Api-Version: compute 2.37\r\n"
    "X-Openstack-Nova-Api-Version: 2.37\r\n"
    "Vary: OpenStack-API-Version\r\n"
    "Vary: X-OpenStack-Nova-API-Version\r\n"
    "X-Openstack-Request-Id: req-29a75c69-1ab7-418d-8dec-43e6c730a654\r\n"
    "X-Compute-Request-Id: req-29a75c69-1ab7-418d-8dec-43e6c730a654\r\n"
    "Date: Sun, 22 Nov 2026 08:49:32 GMT\r\n"
    "Connection: keep-alive\r\n"
    "\r\n"
    "{\"server\": {\"id\": \"37308832-ef62-48b2-b227-4541f3912c4f\", \"name\": \"vm-p\", \"status\": \"BUILD\", \"tenant_id\": \"ed201e37256a44999a4996e2489f55f5\", \"user_id\": \"f0e7e681030c4dc9909b9b2bdc88a14c\", \"metadata\": {}, \"hostId\": \"\", \"image\": {\"id\": \"5a3e19ce-7940-4e0d-b310-a5d3e0bb44c4\", \"links\": [{\"rel\": \"bookmark\", \"href\": \"http://127.0.0.1:8774/images/5a3e19ce-7940-4e0d-b310-a5d3e0bb44c4\"}]}, \"flavor\": {\"id\": \"99\", \"links\": [{\"rel\": \"bookmark\", \"href\": \"http://127.0.0.1:8774/flavors/99\"}]}, \"created\": \"2026-11-22T08:49:30Z\", \"updated\": \"2026-11-22T08:49:30Z\", \"addresses\": {}, \"accessIPv4\": \"\", \"accessIPv6\": \"\", \"links\": [{\"rel\": \"self\", \"href\": \"http://127.0.0.1:8774/v2.1/servers/37308832-ef62-48b2-b227-4541f3912c4f\"}, {\"rel\": \"bookmark\", \"href\": \"http://127.0.0.1:8774/servers/37308832-ef62-48b2-b227-4541f3912c4f\"}], \"OS-DCF:diskConfig\": \"MANUAL\", \"progress\": 0, \"OS-EXT-AZ:availability_zone\": \"\", \"config_drive\": \"\", \"key_name\": null, \"OS-SRV-USG:launched_at\": null, \"OS-SRV-USG:terminated_at\": null, \"OS-EXT-STS:task_state\": \"scheduling\", \"OS-EXT-STS:vm_state\": \"building\", \"OS-EXT-STS:power_state\": 0, \"os-extended-volumes:volumes_attached\": [], \"locked\": false, \"description\": null, \"tags\": []}}"},
    {0, "GET /v2.1/servers/37308832-ef62-48b2-b227-4541f3912c4f HTTP/1.1\r\n"
    "Host: 127.0.0.1:8774\r\n"
    "User-Agent: python-novaclient\r\n"
    "Accept-Encoding: gzip, deflate\r\n"
    "Accept: application/json\r\n"
    "Connection: keep-alive\r\n"
    "X-OpenStack-Nova-API-Version: 2.37\r\n"
    "OpenStack-API-Version: compute 2.37\r\n"
    "X-Auth-Token: gAAAAABfakefakefakefakefakefakefakefake_-0123456789\r\n"
    "\r\n"
    ""},
    {1, "HTTP/1.1 200 OK\r\n"
    "Content-Length: 1273\r\n"
    "Content-Type: application/json\r\n"
    "Openstack-Api-Version: compute 2.37\r\n"
    "X-Openstack-Nova-Api-Version: 2.37\r\n"
    "Vary: OpenStack-API-Version\r\n"
    "Vary: X-OpenStack-Nova-API-Version\r\n"
    "X-Openstack-Request-Id: req-dc84d40a-0f86-479a-88c4-7d7d158afcd7\r\n"
    "X-Compute-Request-Id: req-dc84d40a-0f86-479a-88c4-7d7d158afcd7\r\n"
    "Date: Sun, 22 Nov 2026 08:49:37 GMT\r\n"
    "Connection: keep-alive\r\n"
    "\r\n"
    "{\"server\": {\"id\": \"37308832-ef62-48b2-b227-4541f3912c4f\", \"name\": \"vm-p\", \"status\": \"ERROR\", \"tenant_id\": \"ed201e37256a44999a4996e2489f55f5\", \"user_id\": \"f0e7e681030c4dc9909b9b2bdc88a14c\", \"metadata\": {}, \"hostId\": \"\", \"image\": {\"id\": \"5a3e19ce-7940-4e0d-b310-a5d3e0bb44c4\", \"links\": [{\"rel\": \"bookmark\", \"href\": \"http://127.0.0.1:8774/images/5a3e19ce-7940-4e0d-b310-a5d3e0bb44c4\"}]}, \"flavor\": {\"id\": \"99\", \"links\": [{\"rel\": \"bookmark\", \"href\": \"http://127.0.0.1:8774/flavors/99\"}]}, \"created\": \"2026-11-22T08:49:30Z\", \"updated\": \"2026-11-22T08:49:30Z\", \"addresses\": {}, \"accessIPv4\": \"\", \"accessIPv6\": \"\", \"links\": [{\"rel\": \"self\", \"href\": \"http://127.0.0.1:8774/v2.1/servers/37308832-ef62-48b2-b227-4541f3912c4f\"}, {\"rel\": \"bookmark\", \"href\": \"http://127.0.0.1:8774/servers/37308832-ef62-48b2-b227-4541f3912c4f\"}], \"OS-DCF:diskConfig\": \"MANUAL\", \"fault\": {\"code\": 500, \"created\": \"2026-11-22T08:49:30Z\", \"message\": \"No valid host was found. \"}, \"OS-EXT-AZ:availability_zone\": \"\", \"config_drive\": \"\", \"key_name\": null, \"OS-SRV-USG:launched_at\": null, \"OS-SRV-USG:terminated_at\": null, \"OS-EXT-STS:task_state\": null, \"OS-EXT-STS:vm_state\": \"error\", \"OS-EXT-STS:power_state\": 0, \"os-extended-volumes:volumes_attached\": [], \"locked\": false, \"description\": null, \"tags\": []}}"},
};


/* ---- map, sink, rendering ---- */

static struct svcmap *map;

static void map_setup(void)
{
    map = svcmap_new();
    ck_assert_ptr_nonnull(map);
    static const struct {
        uint16_t port;
        const char *svc;
    } ports[] = {{5000, "keystone"},     {8774, "nova-api"},       {8778, "placement-api"},
                 {9292, "glance-api"},   {9696, "neutron-server"}, {8776, "cinder-api"}};
    for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
        ck_assert_int_eq(svcmap_add_port(map, ports[i].port, SVC_PROTO_HTTP, ports[i].svc), 0);
    ck_assert_int_eq(svcmap_add_path_prefix(map, "/compute", "nova-api"), 0);
    ck_assert_int_eq(svcmap_add_path_prefix(map, "/identity", "keystone"), 0);
    static const char *const uas[][2] = {
        {"nova-compute *", "nova-compute"}, {"nova-scheduler *", "nova-scheduler"},
        {"nova-api *", "nova-api"},         {"openstacksdk/*", "client"},
        {"python-novaclient*", "client"},   {"curl/*", "client"},
    };
    for (size_t i = 0; i < sizeof(uas) / sizeof(uas[0]); i++)
        ck_assert_int_eq(svcmap_add_user_agent(map, uas[i][0], uas[i][1]), 0);
    /* the same entries as rules/operations.yaml */
    static const char *const ops[][4] = {
        {"keystone", "POST", "/v3/auth/tokens", "token issue"},
        {"keystone", "GET", "/v3/auth/tokens", "token validate"},
        {"keystone", "GET", "/v3", "version show"},
        {"nova-api", "POST", "/v2.1/servers", "server create"},
        {"nova-api", "GET", "/v2.1/servers", "server list"},
        {"nova-api", "GET", "/v2.1/servers/{id}", "server show"},
        {"nova-api", "DELETE", "/v2.1/servers/{id}", "server delete"},
        {"nova-api", "POST", "/v2.1/servers/{id}/action", "server {action}"},
        {"nova-api", "GET", "/v2.1/flavors/{id}", "flavor show"},
        {"nova-api", "POST", "/v2/{project_id}/servers", "server create"},
        {"placement-api", "GET", "/allocation_candidates", "allocation candidates"},
        {"placement-api", "PUT", "/allocations/{consumer}", "allocations put"},
        {"placement-api", "GET", "/resource_providers/{id}/allocations", "provider allocations get"},
        {"glance-api", "GET", "/v2/images/{id}", "image show"},
        {"neutron-server", "GET", "/v2.0/ports", "port list"},
        {"neutron-server", "POST", "/v2.0/ports", "port create"},
        {"cinder-api", "POST", "/v3/{project_id}/volumes/{id}/action", "volume {action}"},
    };
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        ck_assert_int_eq(svcmap_add_operation(map, ops[i][0], ops[i][1], ops[i][2], ops[i][3]), 0);
}

static void map_teardown(void)
{
    svcmap_free(map);
    map = NULL;
}

#define MAX_EV 512
struct evlist {
    struct event *ev[MAX_EV];
    size_t n;
};

static void sink(void *ctx, struct event *ev)
{
    struct evlist *l = ctx;
    if (l->n < MAX_EV)
        l->ev[l->n++] = ev;
    else
        event_free(ev);
}

static void evlist_free(struct evlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        event_free(l->ev[i]);
    l->n = 0;
}

struct sbuf {
    char *s;
    size_t n, cap;
};

static void sb_add(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0)
            abort();
        if (b->s && (size_t)k < b->cap - b->n) {
            b->n += (size_t)k;
            return;
        }
        b->cap = b->cap * 2 + (size_t)k + 256;
        b->s = realloc(b->s, b->cap);
        if (!b->s)
            abort();
    }
}

#define STR(x) ((x) ? (x) : "-")

/* Every field of the event, one line. */
static void render(struct sbuf *b, const struct event *ev)
{
    sb_add(b, "%s ts=%llu flags=%x %s:%u(%s) -> %s:%u(%s) %s %s ?%s st=%d reason=%s ua=%s "
              "op=%s req_ts=%llu body=%llu rid=%s grid=%s err=%s|%s|%s state=%s fault=%s",
           event_kind_name(ev->kind), (unsigned long long)ev->ts_us, ev->flags, ev->src.addr,
           ev->src.port, STR(ev->src.service), ev->dst.addr, ev->dst.port, STR(ev->dst.service),
           STR(ev->method), STR(ev->path), STR(ev->query), ev->status, STR(ev->reason),
           STR(ev->user_agent), STR(ev->operation), (unsigned long long)ev->req_ts_us,
           (unsigned long long)ev->body_len, STR(ev->request_id), STR(ev->global_request_id),
           STR(ev->error_module), STR(ev->error_class), STR(ev->error_message),
           STR(ev->resource_state), STR(ev->fault_message));
    for (size_t i = 0; i < ev->nuuids; i++)
        sb_add(b, " %s=%s", event_res_name((enum ev_res)ev->uuids[i].res), ev->uuids[i].id);
    sb_add(b, "\n");
}

/* ---- feeding, three ways ---- */

struct rconn {
    void *conn;
    uint8_t *carry[2];
    size_t carry_n[2];
};

/* Like the wiring: carried bytes + new bytes in one exactly-sized buffer. */
static void rfeed(struct rconn *c, int dir, const uint8_t *p, size_t n, uint64_t ts)
{
    size_t tot = c->carry_n[dir] + n;
    uint8_t *buf = malloc(tot ? tot : 1);
    if (!buf)
        abort();
    if (c->carry_n[dir])
        memcpy(buf, c->carry[dir], c->carry_n[dir]);
    if (n)
        memcpy(buf + c->carry_n[dir], p, n);
    free(c->carry[dir]);
    c->carry[dir] = NULL;
    c->carry_n[dir] = 0;
    size_t off = 0;
    while (off < tot) {
        size_t left = tot - off;
        uint8_t *exact = malloc(left);
        if (!exact)
            abort();
        memcpy(exact, buf + off, left);
        struct parse_result r = rest_http_ops.feed(c->conn, dir, exact, left, ts);
        free(exact);
        if (r.consumed > left)
            abort();
        off += r.consumed;
        if (r.status == PARSE_NEED_MORE || r.consumed == 0)
            break;
    }
    if (off < tot) {
        c->carry_n[dir] = tot - off;
        c->carry[dir] = malloc(tot - off);
        memcpy(c->carry[dir], buf + off, tot - off);
    }
    free(buf);
}

static struct app_conn_info conn_info(uint16_t srv_port)
{
    struct app_conn_info ci = {7, AF_INET, "10.0.0.1", 40000, "10.0.0.2", srv_port};
    return ci;
}

/* mode 0 whole, 1 byte-wise, 2 segment `seg` split at `at`. Events are
 * rendered into *out; the raw events stay in l (caller frees). */
static void run_case(const struct rseg *segs, size_t nseg, uint16_t port, int mode, size_t seg,
                     size_t at, struct evlist *l, struct sbuf *out, struct stats *st)
{
    /* events outlive this call (kept in l): their pool must too */
    static struct mem_pool evpool = {"events", 0, 0, 0, 0};
    struct mem_pool pool;
    mem_pool_init(&pool, "parsers", 16u << 20);
    struct app_env env = {map, st, &pool, &evpool, sink, l};
    struct app_conn_info ci = conn_info(port);
    struct rconn c;
    memset(&c, 0, sizeof(c));
    c.conn = rest_http_ops.conn_new(NULL, &env, &ci);
    if (!c.conn)
        abort();
    for (size_t i = 0; i < nseg; i++) {
        const uint8_t *p = (const uint8_t *)segs[i].s;
        size_t n = strlen(segs[i].s);
        uint64_t ts = 1000000 + i * 1000;
        if (mode == 0 || (mode == 2 && i != seg)) {
            rfeed(&c, segs[i].dir, p, n, ts);
        } else if (mode == 1) {
            for (size_t k = 0; k < n; k++)
                rfeed(&c, segs[i].dir, p + k, 1, ts);
        } else {
            rfeed(&c, segs[i].dir, p, at, ts);
            rfeed(&c, segs[i].dir, p + at, n - at, ts);
        }
    }
    rest_http_ops.end(c.conn, EV_END_CAPTURE, 9000000);
    free(c.carry[0]);
    free(c.carry[1]);
    if (pool.used)
        sb_add(out, "BUG parser pool leak %zu\n", pool.used);
    for (size_t i = 0; i < l->n; i++)
        render(out, l->ev[i]);
}

/* Runs three ways; returns the whole-run events in l and their rendering. */
static char *run3(const struct rseg *segs, size_t nseg, uint16_t port, struct evlist *l)
{
    struct sbuf whole = {0}, o = {0};
    struct stats *st = stats_new();
    run_case(segs, nseg, port, 0, 0, 0, l, &whole, st);
    ck_assert_msg(whole.s && !strstr(whole.s, "BUG"), "%s", STR(whole.s));
    struct evlist tmp = {{0}, 0};
    run_case(segs, nseg, port, 1, 0, 0, &tmp, &o, st);
    ck_assert_msg(strcmp(whole.s, o.s) == 0, "byte-wise differs:\n%s--\n%s", whole.s, o.s);
    evlist_free(&tmp);
    free(o.s);
    for (size_t s = 0; s < nseg; s++) {
        size_t n = strlen(segs[s].s);
        for (size_t at = 0; at <= n; at++) {
            struct sbuf o2 = {0};
            run_case(segs, nseg, port, 2, s, at, &tmp, &o2, st);
            if (strcmp(whole.s, o2.s) != 0)
                ck_abort_msg("split seg %zu at %zu differs:\n%s--\n%s", s, at, whole.s, o2.s);
            evlist_free(&tmp);
            free(o2.s);
        }
    }
    stats_free(st);
    return whole.s;
}

static struct event *find_ev(struct evlist *l, enum ev_kind k, size_t nth)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->ev[i]->kind == k && nth-- == 0)
            return l->ev[i];
    return NULL;
}

static int has_uuid(const struct event *ev, const char *id, enum ev_res r)
{
    for (size_t i = 0; i < ev->nuuids; i++)
        if (strcmp(ev->uuids[i].id, id) == 0 && ev->uuids[i].res == r)
            return 1;
    return 0;
}

/* ---- cases from the real captures ---- */

START_TEST(keystone_wrong_password)
{
    struct evlist l = {{0}, 0};
    char *s = run3(keystone_401, sizeof(keystone_401) / sizeof(keystone_401[0]), 5000, &l);
    ck_assert_uint_eq(l.n, 2);
    struct event *rq = find_ev(&l, EV_HTTP_REQUEST, 0), *rs = find_ev(&l, EV_HTTP_RESPONSE, 0);
    ck_assert_str_eq(rq->operation, "token issue");
    ck_assert_str_eq(rq->src.service, "client");
    ck_assert_str_eq(rq->dst.service, "keystone");
    ck_assert_int_eq(rs->status, 401);
    ck_assert_str_eq(rs->error_class, "Unauthorized");
    ck_assert_str_eq(rs->error_message, "The request you have made requires authentication.");
    ck_assert_str_eq(rs->request_id, "req-8277c83f-a713-4b42-94ec-4808f088dff4");
    ck_assert_str_eq(rs->operation, "token issue");
    ck_assert_str_eq(rs->src.service, "keystone");
    ck_assert_str_eq(rs->dst.service, "client");
    ck_assert_uint_eq(rs->req_ts_us, rq->ts_us);
    /* the password never leaves the parser */
    ck_assert_ptr_null(strstr(s, "wrong-password"));
    free(s);
    evlist_free(&l);
}
END_TEST

START_TEST(glance_html_404)
{
    struct evlist l = {{0}, 0};
    char *s = run3(glance_404, 2, 9292, &l);
    struct event *rs = find_ev(&l, EV_HTTP_RESPONSE, 0);
    ck_assert_ptr_nonnull(rs);
    ck_assert_int_eq(rs->status, 404);
    ck_assert_str_eq(rs->error_class, "Not Found");
    ck_assert_str_eq(rs->error_message, "No image found with ID no-such-image");
    ck_assert_str_eq(rs->request_id, "req-b57a184e-76c3-4e06-b10e-7b6148fd50f4");
    ck_assert_str_eq(rs->operation, "image show");
    ck_assert_ptr_null(strstr(s, "gAAAAA"));
    free(s);
    evlist_free(&l);
}
END_TEST

START_TEST(nova_compute_fault)
{
    struct evlist l = {{0}, 0};
    char *s = run3(nova_500, sizeof(nova_500) / sizeof(nova_500[0]), 8774, &l);
    struct event *rq = find_ev(&l, EV_HTTP_REQUEST, 0), *rs = find_ev(&l, EV_HTTP_RESPONSE, 0);
    ck_assert_str_eq(rq->operation, "server create");
    ck_assert_str_eq(rq->src.service, "client"); /* curl */
    ck_assert(has_uuid(rq, "5a3e19ce-7940-4e0d-b310-a5d3e0bb44c4", EV_RES_IMAGE));
    ck_assert_int_eq(rs->status, 500);
    ck_assert_str_eq(rs->error_class, "GlanceConnectionFailed");
    ck_assert_str_eq(rs->error_module, "nova.exception");
    ck_assert_ptr_nonnull(strstr(rs->error_message, "Unexpected API Error."));
    ck_assert_str_eq(rs->request_id, "req-9e93f5a6-dfba-474d-be96-52663ed4de2e");
    ck_assert_str_eq(rs->reason, "Internal Server Error");
    ck_assert_ptr_null(strstr(s, "gAAAAA"));
    free(s);
    evlist_free(&l);
}
END_TEST

START_TEST(nova_server_error_state)
{
    struct evlist l = {{0}, 0};
    char *s = run3(nova_novalidhost, sizeof(nova_novalidhost) / sizeof(nova_novalidhost[0]), 8774,
                   &l);
    ck_assert_uint_eq(l.n, 6);
    struct event *create = find_ev(&l, EV_HTTP_RESPONSE, 0);
    ck_assert_int_eq(create->status, 202);
    ck_assert_str_eq(create->operation, "server create");
    ck_assert(has_uuid(create, "37308832-ef62-48b2-b227-4541f3912c4f", EV_RES_INSTANCE));
    struct event *last = find_ev(&l, EV_HTTP_RESPONSE, 2);
    ck_assert_str_eq(last->operation, "server show");
    ck_assert_str_eq(last->resource_state, "ERROR");
    ck_assert_str_eq(last->fault_message, "No valid host was found.");
    ck_assert_str_eq(last->request_id, "req-dc84d40a-0f86-479a-88c4-7d7d158afcd7");
    ck_assert(has_uuid(last, "37308832-ef62-48b2-b227-4541f3912c4f", EV_RES_INSTANCE));
    ck_assert(has_uuid(last, "5a3e19ce-7940-4e0d-b310-a5d3e0bb44c4", EV_RES_IMAGE));
    ck_assert(has_uuid(last, "ed201e37256a44999a4996e2489f55f5", EV_RES_PROJECT));
    struct event *mid = find_ev(&l, EV_HTTP_RESPONSE, 1);
    ck_assert_str_eq(mid->resource_state, "BUILD");
    /* the 202 carries adminPass: dropped */
    ck_assert_ptr_null(strstr(s, "adminPass"));
    ck_assert_ptr_null(strstr(s, "gAAAAA"));
    free(s);
    evlist_free(&l);
}
END_TEST

/* ---- synthetic cases for shapes the captures lack (PROTOCOLS.md §3.4) ---- */

static struct event *one_response(const char *req, const char *resp, uint16_t port,
                                  struct evlist *l, char **rendered)
{
    struct rseg segs[] = {{0, req}, {1, resp}};
    *rendered = run3(segs, 2, port, l);
    return find_ev(l, EV_HTTP_RESPONSE, 0);
}

#define RESP_JSON(status, body)                                                               \
    "HTTP/1.1 " status "\r\nContent-Type: application/json\r\nX-Openstack-Request-Id: "       \
    "req-11111111-2222-3333-4444-555555555555\r\nContent-Length: " #body "\r\n\r\n"

START_TEST(placement_errors)
{
    static const char body[] =
        "{\"errors\": [{\"status\": 409, \"title\": \"Conflict\", \"detail\": \"There was a "
        "conflict when trying to complete your request.\\n\\n consumer generation conflict\", "
        "\"code\": \"placement.concurrent_update\", \"request_id\": "
        "\"req-11111111-2222-3333-4444-555555555555\"}]}";
    char resp[1024];
    snprintf(resp, sizeof(resp),
             "HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\n"
             "x-openstack-request-id: req-11111111-2222-3333-4444-555555555555\r\n"
             "Connection: close\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(body), body);
    struct evlist l = {{0}, 0};
    char *s;
    static const char rqb[] =
        "{\"allocations\": {\"ae17bc8c-5c50-4d84-880b-7ce1ed5653fd\": {\"resources\": {\"VCPU\": 1}}}}";
    char req[1024];
    snprintf(req, sizeof(req),
             "PUT /allocations/0e5cd995-9f71-48b3-a68a-f7d7c0fa270f HTTP/1.1\r\n"
             "User-Agent: nova-scheduler keystoneauth1/5.0.0 python-requests/2.28.1 CPython/3.11.2\r\n"
             "X-Openstack-Request-Id: req-dbe28d21-90fb-4b6b-bde4-b82883118bea\r\n"
             "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(rqb), rqb);
    struct event *rs = one_response(req,
        resp, 8778, &l, &s);
    struct event *rq = find_ev(&l, EV_HTTP_REQUEST, 0);
    ck_assert_str_eq(rq->src.service, "nova-scheduler");
    ck_assert_str_eq(rq->dst.service, "placement-api");
    ck_assert_str_eq(rq->operation, "allocations put");
    ck_assert_str_eq(rq->global_request_id, "req-dbe28d21-90fb-4b6b-bde4-b82883118bea");
    ck_assert(has_uuid(rq, "0e5cd995-9f71-48b3-a68a-f7d7c0fa270f", EV_RES_CONSUMER));
    ck_assert(has_uuid(rq, "ae17bc8c-5c50-4d84-880b-7ce1ed5653fd", EV_RES_PROVIDER));
    ck_assert_str_eq(rs->error_class, "placement.concurrent_update");
    ck_assert_ptr_nonnull(strstr(rs->error_message, "consumer generation conflict"));
    ck_assert_str_eq(rs->global_request_id, "req-dbe28d21-90fb-4b6b-bde4-b82883118bea");
    ck_assert_str_eq(rs->request_id, "req-11111111-2222-3333-4444-555555555555");
    ck_assert_str_eq(rs->dst.service, "nova-scheduler");
    free(s);
    evlist_free(&l);
}
END_TEST

START_TEST(neutron_error)
{
    static const char body[] =
        "{\"NeutronError\": {\"type\": \"PortNotFound\", \"message\": \"Port "
        "9c6a3a54-0e4f-4a8b-8d0a-2f0e5c9d1b11 could not be found.\", \"detail\": \"\"}}";
    char resp[1024];
    snprintf(resp, sizeof(resp),
             "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
             "X-Openstack-Request-Id: req-aaaaaaaa-2222-3333-4444-555555555555\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             strlen(body), body);
    struct evlist l = {{0}, 0};
    char *s;
    struct event *rs = one_response(
        "GET /v2.0/ports?device_id=0e5cd995-9f71-48b3-a68a-f7d7c0fa270f&fields=id HTTP/1.1\r\n"
        "User-Agent: python-neutronclient\r\n\r\n",
        resp, 9696, &l, &s);
    struct event *rq = find_ev(&l, EV_HTTP_REQUEST, 0);
    ck_assert_str_eq(rq->path, "/v2.0/ports");
    ck_assert_str_eq(rq->query, "device_id=0e5cd995-9f71-48b3-a68a-f7d7c0fa270f&fields=id");
    ck_assert(has_uuid(rq, "0e5cd995-9f71-48b3-a68a-f7d7c0fa270f", EV_RES_INSTANCE));
    ck_assert_ptr_null(rq->src.service); /* neutronclient does not name its caller */
    ck_assert_str_eq(rs->error_class, "PortNotFound");
    ck_assert_str_eq(rs->error_message,
                     "Port 9c6a3a54-0e4f-4a8b-8d0a-2f0e5c9d1b11 could not be found.");
    ck_assert_str_eq(rs->operation, "port list");
    free(s);
    evlist_free(&l);
}
END_TEST

START_TEST(webob_json_and_text)
{
    struct evlist l = {{0}, 0};
    char *s;
    static const char b1[] = "{\"message\": \"The resource could not be found.<br /><br />\\n\\n\\n\","
                             " \"code\": \"404 Not Found\", \"title\": \"Not Found\"}";
    char resp[512];
    snprintf(resp, sizeof(resp),
             "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(b1), b1);
    struct event *rs = one_response("GET /v2/images/x HTTP/1.1\r\nAccept: application/json\r\n\r\n",
                                    resp, 9292, &l, &s);
    ck_assert_str_eq(rs->error_class, "Not Found");
    ck_assert_ptr_nonnull(strstr(rs->error_message, "The resource could not be found."));
    free(s);
    evlist_free(&l);
    rs = one_response("GET /v2.1/servers HTTP/1.1\r\n\r\n",
                      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                      "Content-Length: 78\r\n\r\n"
                      "503 Service Unavailable\n\nThe Keystone service is temporarily unavailable.\n\n",
                      8774, &l, &s);
    ck_assert_str_eq(rs->error_class, "Service Unavailable");
    ck_assert_str_eq(rs->error_message, "The Keystone service is temporarily unavailable.");
    free(s);
    evlist_free(&l);
}
END_TEST

START_TEST(server_action_and_prefix)
{
    /* nova fronted on port 80 under /compute; action named by the body key;
     * a client-supplied global id; response id only in X-Compute-Request-Id */
    struct rseg segs[] = {
        {0, "POST /compute/v2.1/servers/0e5cd995-9f71-48b3-a68a-f7d7c0fa270f/action HTTP/1.1\r\n"
            "User-Agent: python-novaclient\r\n"
            "X-OpenStack-Request-ID: req-99999999-8888-7777-6666-555555555555\r\n"
            "Content-Type: application/json\r\nContent-Length: 18\r\n\r\n{\"os-start\": null}"},
        {1, "HTTP/1.1 202 Accepted\r\nX-Compute-Request-Id: req-12345678-1234-1234-1234-123456789abc\r\n"
            "Content-Length: 0\r\n\r\n"},
    };
    struct evlist l = {{0}, 0};
    char *s = run3(segs, 2, 80, &l);
    struct event *rq = find_ev(&l, EV_HTTP_REQUEST, 0), *rs = find_ev(&l, EV_HTTP_RESPONSE, 0);
    ck_assert_str_eq(rq->dst.service, "nova-api");
    ck_assert_str_eq(rq->operation, "server os-start");
    ck_assert_str_eq(rq->global_request_id, "req-99999999-8888-7777-6666-555555555555");
    ck_assert(has_uuid(rq, "0e5cd995-9f71-48b3-a68a-f7d7c0fa270f", EV_RES_INSTANCE));
    ck_assert_str_eq(rs->operation, "server os-start");
    ck_assert_str_eq(rs->request_id, "req-12345678-1234-1234-1234-123456789abc");
    ck_assert_str_eq(rs->src.service, "nova-api");
    free(s);
    evlist_free(&l);
}
END_TEST

START_TEST(legacy_and_cinder_paths)
{
    struct rseg segs[] = {
        {0, "POST /v2/ed201e37256a44999a4996e2489f55f5/servers HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"},
        {1, "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"},
    };
    struct evlist l = {{0}, 0};
    char *s = run3(segs, 2, 8774, &l);
    struct event *rq = find_ev(&l, EV_HTTP_REQUEST, 0);
    ck_assert_str_eq(rq->operation, "server create");
    ck_assert(has_uuid(rq, "ed201e37256a44999a4996e2489f55f5", EV_RES_PROJECT));
    free(s);
    evlist_free(&l);
    struct rseg segs2[] = {
        {0, "POST /v3/ed201e37256a44999a4996e2489f55f5/volumes/6f1c2b1e-0000-4000-8000-000000000001"
            "/action HTTP/1.1\r\nContent-Length: 54\r\n\r\n"
            "{\"os-attach\": {\"instance_uuid\": \"0e5cd995-9f71-48b3\"}}"},
        {1, "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"},
    };
    s = run3(segs2, 2, 8776, &l);
    rq = find_ev(&l, EV_HTTP_REQUEST, 0);
    ck_assert_str_eq(rq->operation, "volume os-attach");
    ck_assert(has_uuid(rq, "6f1c2b1e-0000-4000-8000-000000000001", EV_RES_VOLUME));
    free(s);
    evlist_free(&l);
}
END_TEST

START_TEST(secrets_everywhere)
{
    /* a keystone token auth (token id in the body), X-Subject-Token both
     * ways, Authorization, Cookie, a token in the query and in the path,
     * and keystone's "Could not find token: <token>" */
    static const char tok[] =
        "gAAAAABrAqX13A_5P7Mpk50rdcF8VxdneSJkd-VgSaesMU_N_s-DTFi49QLW7NSAoEOkyn4RDl4oG4j9M4Hq";
    static const char body_tmpl[] =
        "{\"auth\": {\"identity\": {\"methods\": [\"token\", \"application_credential\"], "
        "\"token\": {\"id\": \"%s\"}, \"application_credential\": {\"id\": \"ac1\", "
        "\"secret\": \"s3cr3t-value\"}}}}";
    char body[512], req[2048], resp[1024], req2[1024];
    snprintf(body, sizeof(body), body_tmpl, tok);
    snprintf(req, sizeof(req),
             "POST /v3/auth/tokens?nocatalog&token=%s HTTP/1.1\r\nX-Auth-Token: %s\r\n"
             "Authorization: Bearer abcdef-secret\r\nCookie: session=cookie-secret\r\n"
             "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             tok, tok, strlen(body), body);
    static const char eb_tmpl[] = "{\"error\": {\"code\": 404, \"title\": \"Not Found\", "
                                  "\"message\": \"Could not find token: %s\"}}";
    char eb[512];
    snprintf(eb, sizeof(eb), eb_tmpl, "opaque-token-xyz");
    snprintf(resp, sizeof(resp),
             "HTTP/1.1 404 Not Found\r\nX-Subject-Token: %s\r\nSet-Cookie: a=cookie-secret2\r\n"
             "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             tok, strlen(eb), eb);
    snprintf(req2, sizeof(req2),
             "GET /v2.0/tokens/%s HTTP/1.1\r\nX-Subject-Token: %s\r\n\r\n", tok, tok);
    struct rseg segs[] = {{0, req}, {1, resp}, {0, req2},
                          {1, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"}};
    struct evlist l = {{0}, 0};
    char *s = run3(segs, 4, 5000, &l);
    ck_assert_uint_eq(l.n, 4);
    static const char *const secrets[] = {"gAAAAAB", "X13A_5P7Mpk50", "s3cr3t-value",
                                          "abcdef-secret", "cookie-secret", "opaque-token-xyz"};
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
        ck_assert_msg(strstr(s, secrets[i]) == NULL, "%s survived:\n%s", secrets[i], s);
    struct event *rs = find_ev(&l, EV_HTTP_RESPONSE, 0);
    ck_assert_str_eq(rs->error_message, "Could not find token: ***");
    struct event *rq = find_ev(&l, EV_HTTP_REQUEST, 0);
    ck_assert_str_eq(rq->query, "nocatalog&token=***");
    ck_assert_str_eq(rq->operation, "token issue");
    struct event *rq2 = find_ev(&l, EV_HTTP_REQUEST, 1);
    ck_assert_str_eq(rq2->path, "/v2.0/tokens/***");
    /* what is kept of the tokens: fingerprints, equal for the same token */
    uint64_t fp = redact_fingerprint(tok, strlen(tok));
    ck_assert(fp != 0);
    ck_assert(rq->token_fp[0] == fp && rq->token_fp[1] == 0 && rq->subject_fp == 0);
    ck_assert(rq2->subject_fp == fp && rq2->token_fp[0] == 0);
    ck_assert(rs->subject_fp == 0); /* responses keep none */
    free(s);
    evlist_free(&l);
}
END_TEST

START_TEST(gzip_error_body)
{
    static const char body[] = "{\"itemNotFound\": {\"code\": 404, \"message\": \"Flavor m1.tiny "
                               "could not be found.\"}}";
    uint8_t z[256];
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    ck_assert_int_eq(deflateInit2(&zs, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = (Bytef *)(uintptr_t)body;
    zs.avail_in = (uInt)strlen(body);
    zs.next_out = z;
    zs.avail_out = sizeof(z);
    ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t zn = sizeof(z) - zs.avail_out;
    deflateEnd(&zs);
    /* gzip bytes contain NULs: feed them as a chunked response in two
     * segments, head and body, where the body segment has no NUL issue
     * because the test helper takes C strings; encode as hex chunks */
    char *resp = malloc(1024);
    int hn = snprintf(resp, 1024,
                      "HTTP/1.1 404 Not Found\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n", zn);
    struct mem_pool pool, evpool;
    mem_pool_init(&pool, "p", 0);
    mem_pool_init(&evpool, "e", 0);
    struct evlist l = {{0}, 0};
    struct app_env env = {map, NULL, &pool, &evpool, sink, &l};
    struct app_conn_info ci = conn_info(8774);
    void *c = rest_http_ops.conn_new(NULL, &env, &ci);
    static const char rq[] = "GET /v2.1/flavors/m1.tiny HTTP/1.1\r\n\r\n";
    struct parse_result r = rest_http_ops.feed(c, 0, (const uint8_t *)rq, strlen(rq), 1);
    ck_assert_uint_eq(r.consumed, strlen(rq));
    uint8_t *full = malloc((size_t)hn + zn);
    memcpy(full, resp, (size_t)hn);
    memcpy(full + hn, z, zn);
    r = rest_http_ops.feed(c, 1, full, (size_t)hn + zn, 2);
    ck_assert_uint_eq(r.consumed, (size_t)hn + zn);
    rest_http_ops.end(c, EV_END_CAPTURE, 3);
    struct event *rs = find_ev(&l, EV_HTTP_RESPONSE, 0);
    ck_assert_ptr_nonnull(rs);
    ck_assert(rs->flags & EV_F_COMPRESSED);
    ck_assert_str_eq(rs->error_class, "itemNotFound");
    ck_assert_str_eq(rs->error_message, "Flavor m1.tiny could not be found.");
    ck_assert_uint_eq(pool.used, 0);
    free(full);
    free(resp);
    evlist_free(&l);
}
END_TEST

/* Compact JSON of v with keys sorted (as jansson's JSON_SORT_KEYS did),
 * appended at out+*w; strings are written raw (the tests use no escapes). */
static void dump_sorted(const struct jv *v, char *out, size_t cap, size_t *w)
{
#define PUTS(s_, n_)                                                                          \
    do {                                                                                      \
        size_t l_ = (n_);                                                                     \
        ck_assert_uint_lt(*w + l_, cap);                                                      \
        memcpy(out + *w, (s_), l_);                                                           \
        *w += l_;                                                                             \
        out[*w] = '\0';                                                                       \
    } while (0)
    const struct jv *x;
    if (jv_is_object(v)) {
        const struct jv *m[32];
        size_t n = 0;
        JV_FOREACH(v, x)
        {
            ck_assert_uint_lt(n, 32);
            m[n++] = x;
        }
        for (size_t i = 1; i < n; i++) /* insertion sort by key bytes */
            for (size_t k = i; k > 0; k--) {
                size_t a = jv_keylen(m[k - 1]), b = jv_keylen(m[k]);
                int c = memcmp(jv_key(m[k - 1]), jv_key(m[k]), a < b ? a : b);
                if (c < 0 || (c == 0 && a <= b))
                    break;
                const struct jv *t = m[k];
                m[k] = m[k - 1];
                m[k - 1] = t;
            }
        PUTS("{", 1);
        for (size_t i = 0; i < n; i++) {
            if (i)
                PUTS(",", 1);
            PUTS("\"", 1);
            PUTS(jv_key(m[i]), jv_keylen(m[i]));
            PUTS("\":", 2);
            dump_sorted(m[i], out, cap, w);
        }
        PUTS("}", 1);
    } else if (jv_is_array(v)) {
        PUTS("[", 1);
        JV_FOREACH(v, x)
        {
            if (x != jv_first(v))
                PUTS(",", 1);
            dump_sorted(x, out, cap, w);
        }
        PUTS("]", 1);
    } else if (jv_is_string(v)) {
        PUTS("\"", 1);
        PUTS(jv_str(v), jv_strlen(v));
        PUTS("\"", 1);
    } else {
        PUTS("?", 1); /* not needed here */
    }
#undef PUTS
}

START_TEST(redact_helpers)
{
    /* SipHash-2-4 reference vectors (key 00..0f, message 00..n-1) */
    uint8_t key[16], msg[64];
    for (int i = 0; i < 64; i++)
        msg[i] = (uint8_t)i;
    memcpy(key, msg, 16);
    ck_assert(redact_siphash24(key, msg, 0) == 0x726fdb47dd0e0e31ull);
    ck_assert(redact_siphash24(key, msg, 8) == 0x93f5f5799a932462ull);
    ck_assert(redact_siphash24(key, msg, 15) == 0xa129ca6149be45e5ull);
    ck_assert(redact_siphash24(key, msg, 63) == 0x958a324ceb064572ull);
    ck_assert(redact_fingerprint("gAAAAAB1", 8) == redact_fingerprint("gAAAAAB1", 8));
    ck_assert(redact_fingerprint("gAAAAAB1", 8) != redact_fingerprint("gAAAAAB2", 8));
    ck_assert(redact_fingerprint("x", 0) == 0 && redact_fingerprint(NULL, 3) == 0);

    ck_assert(redact_header_is_secret("X-Auth-Token", 12));
    ck_assert(redact_header_is_secret("x-subject-token", 15));
    ck_assert(redact_header_is_secret("Set-Cookie", 10));
    ck_assert(!redact_header_is_secret("X-Openstack-Request-Id", 22));
    ck_assert(redact_key_is_secret("adminPass"));
    ck_assert(redact_key_is_secret("admin_password"));
    ck_assert(redact_key_is_secret("_context_auth_token"));
    ck_assert(redact_key_is_secret("user_data"));
    ck_assert(!redact_key_is_secret("token"));
    ck_assert(!redact_key_is_secret("name"));
    char t1[] = "auth failed for {'X-Auth-Token': 'abc123', 'password': 'pw'} now";
    redact_text(t1);
    ck_assert_str_eq(t1, "auth failed for {'X-Auth-Token': '***', 'password': '**'} now");
    char t2[] = "token gAAAAABrAqX13A_5P7Mpk50rdcF8VxdneSJk-x= end; gAAAAA short";
    redact_text(t2);
    ck_assert_str_eq(t2, "token *** end; gAAAAA short");
    char t3[] = "Authorization: Basic dXNlcjpwYXNz\r\nHost: x";
    redact_text(t3);
    ck_assert_str_eq(t3, "Authorization: ***\r\nHost: x");
    /* redact_text_n: the same, the length given (a NUL inside ends it) */
    static const char *const tn[] = {"plain text", "password: pw and more",
                                     "token gAAAAABrAqX13A_5P7Mpk50rdcF8VxdneSJk-x= end",
                                     "Could not find token: abc", ""};
    for (size_t i = 0; i < sizeof(tn) / sizeof(tn[0]); i++) {
        char a[128], b[128];
        strcpy(a, tn[i]);
        strcpy(b, tn[i]);
        size_t la = redact_text(a), lb = redact_text_n(b, strlen(b));
        ck_assert_uint_eq(la, lb);
        ck_assert_str_eq(a, b);
    }
    char nul[] = "a\0password: x";
    ck_assert_uint_eq(redact_text_n(nul, sizeof(nul) - 1), 1);
    char q[64];
    static const char qs[] = "a=1&X-Auth-Token=zz&password=p&allow_expired=1";
    redact_query(qs, strlen(qs), q, sizeof(q));
    ck_assert_str_eq(q, "a=1&X-Auth-Token=***&password=***&allow_expired=1");
    static const char js[] =
        "{\"server\": {\"adminPass\": \"x\", \"name\": \"vm\", \"user_data\": \"u\","
        " \"metadata\": {\"note\": \"gAAAAABrAqX13A_5P7Mpk50rdcF8Vxdne\"}},"
        " \"token\": {\"id\": \"t\", \"user\": {\"password\": \"p\"}}}";
    struct jv_doc doc;
    jv_init(&doc, NULL, NULL);
    struct jv *j = jv_parse(&doc, js, strlen(js));
    ck_assert_ptr_nonnull(j);
    ck_assert_uint_eq(redact_json(&doc, j), 5);
    char d[256];
    size_t w = 0;
    dump_sorted(j, d, sizeof(d), &w);
    ck_assert_str_eq(d, "{\"server\":{\"metadata\":{\"note\":\"***\"},\"name\":\"vm\"},"
                        "\"token\":{\"user\":{}}}");
    /* the input was never written: masked strings live in the arena */
    ck_assert_ptr_nonnull(strstr(js, "gAAAAABrAqX13A_5P7Mpk50rdcF8Vxdne"));
    jv_release(&doc);
}
END_TEST

/* Bodies are not scrubbed whole: the UUID walk itself must not read what
 * the scrubber would drop (secret members, a token's id), and says how many
 * such members it met. */
START_TEST(uuid_walk_skips_secrets)
{
    static const char js[] =
        "{\"server\": {\"id\": \"11111111-2222-4333-8444-555555555555\","
        " \"adminPass\": \"22222222-2222-4333-8444-555555555555\","
        " \"image\": {\"id\": \"33333333-2222-4333-8444-555555555555\"}},"
        " \"token\": {\"id\": \"44444444-2222-4333-8444-555555555555\","
        " \"project\": {\"id\": \"55555555-2222-4333-8444-555555555555\"}},"
        " \"password\": {\"user\": {\"id\": \"66666666-2222-4333-8444-555555555555\"}},"
        " \"secrets\": [\"77777777-2222-4333-8444-555555555555\"],"
        " \"name\": \"short\", \"user_data\": \"not a uuid\"}";
    struct jv_doc doc;
    jv_init(&doc, NULL, NULL);
    struct jv *j = jv_parse(&doc, js, strlen(js));
    ck_assert_ptr_nonnull(j);
    struct mem_pool evpool;
    mem_pool_init(&evpool, "e", 0);
    struct event *ev = event_new(&evpool);
    /* adminPass, token.id, password{}, secrets[] (user_data: not UUID-long) */
    ck_assert_uint_eq(rest_uuids_from_json(ev, j, "/servers"), 4);
    ck_assert(has_uuid(ev, "11111111-2222-4333-8444-555555555555", EV_RES_INSTANCE));
    ck_assert(has_uuid(ev, "33333333-2222-4333-8444-555555555555", EV_RES_IMAGE));
    ck_assert(has_uuid(ev, "55555555-2222-4333-8444-555555555555", EV_RES_PROJECT));
    for (size_t i = 0; i < ev->nuuids; i++) {
        ck_assert_msg(ev->uuids[i].id[0] != '2' && ev->uuids[i].id[0] != '4' &&
                          ev->uuids[i].id[0] != '6' && ev->uuids[i].id[0] != '7',
                      "%s read from a secret member", ev->uuids[i].id);
    }
    event_free(ev);
    jv_release(&doc);
    ck_assert_uint_eq(evpool.used, 0);
}
END_TEST

START_TEST(json_depth_cap)
{
    char body[400];
    size_t n = 0;
    for (int i = 0; i < 100; i++)
        body[n++] = '[';
    for (int i = 0; i < 100; i++)
        body[n++] = ']';
    body[n] = '\0';
    ck_assert(rest_json_too_deep((const uint8_t *)body, n, REST_JSON_DEPTH));
    ck_assert(!rest_json_too_deep((const uint8_t *)"{\"a\": \"[[[[[[[[\"}", 16, 2));
    char req[600];
    snprintf(req, sizeof(req), "POST /v2.1/servers HTTP/1.1\r\nContent-Length: %zu\r\n\r\n%s", n,
             body);
    struct evlist l = {{0}, 0};
    char *s;
    one_response(req, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", 8774, &l, &s);
    struct event *rq = find_ev(&l, EV_HTTP_REQUEST, 0);
    ck_assert(rq->flags & EV_F_BAD_BODY);
    free(s);
    evlist_free(&l);
}
END_TEST

/* ---- the real captures, whole ---- */

/* ---- a minimal pcap reader for the real captures: in-order TCP over
 * Ethernet/IPv4/IPv6, retransmissions skipped, holes reported as gaps ---- */

#define PF_MAXCONN 512
struct pf_dir {
    uint32_t next;
    int have;
    uint8_t *carry;
    size_t n;
};
struct pf_conn {
    uint8_t a[16], b[16];
    uint16_t pa, pb; /* pa = client port */
    int fam;
    struct pf_dir d[2];
    void *conn;
    int dead[2];
};
struct pf {
    const struct app_env *env;
    struct pf_conn c[PF_MAXCONN];
    size_t n;
};

static void pf_feed(struct pf_conn *c, int dir, const uint8_t *p, size_t n, uint64_t ts)
{
    struct pf_dir *d = &c->d[dir];
    /* exact-size buffer of carry + new bytes: an overread faults under ASan */
    size_t tot = d->n + n;
    uint8_t *buf = malloc(tot ? tot : 1);
    if (d->n)
        memcpy(buf, d->carry, d->n);
    memcpy(buf + d->n, p, n);
    free(d->carry);
    d->carry = NULL;
    d->n = 0;
    size_t off = 0;
    while (off < tot) {
        struct parse_result r = rest_http_ops.feed(c->conn, dir, buf + off, tot - off, ts);
        off += r.consumed;
        if (r.status == PARSE_NEED_MORE)
            break;
        if (r.status == PARSE_ERROR && r.consumed == 0)
            break;
        if (r.status == PARSE_OK && r.consumed == 0)
            break;
    }
    if (off < tot) {
        d->n = tot - off;
        d->carry = malloc(d->n);
        memcpy(d->carry, buf + off, d->n);
    }
    free(buf);
}

static struct pf_conn *pf_find(struct pf *f, int fam, const uint8_t *sa, const uint8_t *da,
                               uint16_t sp, uint16_t dp, int *dir, int syn_only)
{
    size_t al = fam == 4 ? 4 : 16;
    for (size_t i = 0; i < f->n; i++) {
        struct pf_conn *c = &f->c[i];
        if (!c->conn || c->fam != fam)
            continue;
        if (c->pa == sp && c->pb == dp && !memcmp(c->a, sa, al) && !memcmp(c->b, da, al)) {
            *dir = 0;
            return c;
        }
        if (c->pa == dp && c->pb == sp && !memcmp(c->a, da, al) && !memcmp(c->b, sa, al)) {
            *dir = 1;
            return c;
        }
    }
    if (f->n == PF_MAXCONN)
        return NULL;
    /* new: the client is the SYN sender, else the side whose peer is a map port */
    enum svc_proto pr;
    int swap = 0;
    if (!syn_only) {
        if (svcmap_port(f->env->map, dp, &pr) && pr == SVC_PROTO_HTTP)
            swap = 0;
        else if (svcmap_port(f->env->map, sp, &pr) && pr == SVC_PROTO_HTTP)
            swap = 1;
        else
            return NULL;
    } else if (!(svcmap_port(f->env->map, dp, &pr) && pr == SVC_PROTO_HTTP)) {
        return NULL;
    }
    struct pf_conn *c = &f->c[f->n++];
    memset(c, 0, sizeof(*c));
    c->fam = fam;
    memcpy(c->a, swap ? da : sa, al);
    memcpy(c->b, swap ? sa : da, al);
    c->pa = swap ? dp : sp;
    c->pb = swap ? sp : dp;
    char as[64], bs[64];
    inet_ntop(fam == 4 ? AF_INET : AF_INET6, c->a, as, sizeof(as));
    inet_ntop(fam == 4 ? AF_INET : AF_INET6, c->b, bs, sizeof(bs));
    struct app_conn_info ci = {f->n, fam == 4 ? AF_INET : AF_INET6, as, c->pa, bs, c->pb};
    c->conn = rest_http_ops.conn_new(NULL, f->env, &ci);
    *dir = swap;
    return c;
}

/* Feed every HTTP connection of a pcap file; returns packets read or -1. */
static long pf_run(const char *file, const struct app_env *env)
{
    char eb[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline(file, eb);
    if (!pc)
        return -1;
    struct pf *f = calloc(1, sizeof(*f));
    f->env = env;
    struct pcap_pkthdr *h;
    const u_char *pk;
    long np = 0;
    while (pcap_next_ex(pc, &h, &pk) == 1) {
        np++;
        uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
        size_t n = h->caplen;
        if (n < 14)
            continue;
        uint16_t et = (uint16_t)(pk[12] << 8 | pk[13]);
        const uint8_t *ip = pk + 14;
        size_t il = n - 14;
        int fam;
        const uint8_t *sa, *da, *tcp;
        size_t tl;
        if (et == 0x0800 && il >= 20 && ip[9] == 6) {
            size_t ihl = (size_t)(ip[0] & 15) * 4;
            size_t tot = (size_t)(ip[2] << 8 | ip[3]);
            if (tot > il)
                tot = il;
            if (ihl < 20 || tot < ihl)
                continue;
            fam = 4;
            sa = ip + 12;
            da = ip + 16;
            tcp = ip + ihl;
            tl = tot - ihl;
        } else if (et == 0x86dd && il >= 40 && ip[6] == 6) {
            size_t pl = (size_t)(ip[4] << 8 | ip[5]);
            if (pl > il - 40)
                pl = il - 40;
            fam = 6;
            sa = ip + 8;
            da = ip + 24;
            tcp = ip + 40;
            tl = pl;
        } else {
            continue;
        }
        if (tl < 20)
            continue;
        uint16_t sp = (uint16_t)(tcp[0] << 8 | tcp[1]), dp = (uint16_t)(tcp[2] << 8 | tcp[3]);
        uint32_t seq = (uint32_t)tcp[4] << 24 | (uint32_t)tcp[5] << 16 | (uint32_t)tcp[6] << 8 | tcp[7];
        size_t off = (size_t)(tcp[12] >> 4) * 4;
        uint8_t fl = tcp[13];
        if (off < 20 || off > tl)
            continue;
        int dir;
        int syn = (fl & 0x02) && !(fl & 0x10);
        struct pf_conn *c = pf_find(f, fam, sa, da, sp, dp, &dir, syn);
        if (!c)
            continue;
        struct pf_dir *d = &c->d[dir];
        if (fl & 0x02) {
            d->next = seq + 1;
            d->have = 1;
            continue;
        }
        const uint8_t *pl = tcp + off;
        size_t plen = tl - off;
        if (!plen)
            continue;
        if (!d->have) {
            d->next = seq;
            d->have = 1;
        }
        int32_t diff = (int32_t)(seq - d->next);
        if (diff < 0) {
            if ((size_t)-diff >= plen)
                continue; /* retransmission */
            pl += -diff;
            plen -= (size_t)-diff;
        } else if (diff > 0) {
            free(d->carry);
            d->carry = NULL;
            d->n = 0;
            rest_http_ops.gap(c->conn, dir, (uint64_t)diff, ts);
        }
        pf_feed(c, dir, pl, plen, ts);
        d->next = seq + (uint32_t)(diff < 0 ? -diff : 0) + (uint32_t)plen;
    }
    for (size_t i = 0; i < f->n; i++) {
        if (f->c[i].conn)
            rest_http_ops.end(f->c[i].conn, EV_END_CAPTURE, 0);
        free(f->c[i].d[0].carry);
        free(f->c[i].d[1].carry);
    }
    free(f);
    pcap_close(pc);
    return np;
}

/* Token and password values seen anywhere in a capture's TCP payloads. */
struct secrets {
    char v[256][300];
    size_t n;
};

/* Only values of 12 bytes or more: short passwords of the test cloud are
 * service names ("neutron", "glance") that events legitimately contain;
 * their removal is asserted by the JSON cases above. */
static void secrets_add(struct secrets *s, const uint8_t *p, size_t n)
{
    if (n < 12 || s->n == 256)
        return;
    if (n > 299)
        n = 299;
    for (size_t i = 0; i < s->n; i++)
        if (strlen(s->v[i]) == n && memcmp(s->v[i], p, n) == 0)
            return;
    memcpy(s->v[s->n], p, n);
    s->v[s->n][n] = '\0';
    s->n++;
}

static void secrets_scan(struct secrets *s, const uint8_t *p, size_t n)
{
    static const char *const hdrs[] = {"X-Auth-Token: ", "X-Subject-Token: ", "X-Service-Token: ",
                                       "\"password\": \"", "\"adminPass\": \""};
    for (size_t i = 0; i < n; i++) {
        for (size_t h = 0; h < sizeof(hdrs) / sizeof(hdrs[0]); h++) {
            size_t hl = strlen(hdrs[h]);
            if (i + hl <= n && memcmp(p + i, hdrs[h], hl) == 0) {
                size_t k = i + hl;
                while (k < n && p[k] != '\r' && p[k] != '"')
                    k++;
                secrets_add(s, p + i + hl, k - i - hl);
            }
        }
        if (i + 6 <= n && memcmp(p + i, "gAAAAA", 6) == 0) {
            size_t k = i;
            while (k < n && ((p[k] >= 'A' && p[k] <= 'Z') || (p[k] >= 'a' && p[k] <= 'z') ||
                             (p[k] >= '0' && p[k] <= '9') || p[k] == '-' || p[k] == '_' ||
                             p[k] == '='))
                k++;
            secrets_add(s, p + i, k - i);
        }
    }
}

/* All TCP payload bytes of a pcap (Ethernet, IPv4/IPv6), for the scan. */
static void pcap_scan(const char *file, struct secrets *s)
{
    char eb[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline(file, eb);
    ck_assert_msg(pc != NULL, "%s: %s", file, eb);
    struct pcap_pkthdr *h;
    const u_char *pk;
    while (pcap_next_ex(pc, &h, &pk) == 1)
        if (h->caplen > 54)
            secrets_scan(s, pk + 54, h->caplen - 54); /* headers too: harmless */
    pcap_close(pc);
}

static const struct {
    const char *file;
    int http; /* requests = responses, as counted by tshark -Y http.request / http.response */
} captures[] = {
    {"testdata/s2a_server_create_delete_ok.pcap", 57},
    {"testdata/s2c2_glance_down_nova_api.pcap", 6},
    {"testdata/s2d_scheduler_down_rpc_timeout.pcap", 37},
    {"testdata/s2e_keystone_wrong_password.pcap", 2},
    {"testdata/s2f1_image_not_found.pcap", 7},
    {"testdata/s2g3_spawn_failure_build_abort.pcap", 49},
    {"testdata/s2p_novalidhost_capacity.pcap", 31},
};

START_TEST(real_captures_counts_and_secrets)
{
    struct secrets *sec = calloc(1, sizeof(*sec));
    struct mem_pool pool, evpool;
    mem_pool_init(&pool, "parsers", 64u << 20);
    mem_pool_init(&evpool, "events", 0);
    struct evlist *l = calloc(1, sizeof(*l));
    struct app_env env = {map, NULL, &pool, &evpool, sink, l};
    size_t i = (size_t)_i;
    sec->n = 0;
    pcap_scan(captures[i].file, sec);
    ck_assert_uint_gt(sec->n, 0); /* every capture carries tokens or passwords */
    long np = pf_run(captures[i].file, &env);
    ck_assert_int_gt(np, 0);
    int req = 0, resp = 0, paired = 0;
    struct sbuf all = {0};
    for (size_t k = 0; k < l->n; k++) {
        struct event *ev = l->ev[k];
        if (ev->kind == EV_HTTP_REQUEST)
            req++;
        else if (ev->kind == EV_HTTP_RESPONSE) {
            resp++;
            if (!(ev->flags & EV_F_NO_REQUEST) && ev->method && ev->path)
                paired++;
        }
        ck_assert_msg(!(ev->flags & (EV_F_INCOMPLETE | EV_F_BAD_BODY)), "flags %x", ev->flags);
        render(&all, ev);
    }
    ck_assert_int_eq(req, captures[i].http);
    ck_assert_int_eq(resp, captures[i].http);
    ck_assert_int_eq(paired, captures[i].http);
    for (size_t k = 0; k < sec->n; k++) {
        /* neither the value nor a 16-byte piece of it */
        const char *v = sec->v[k];
        size_t vn = strlen(v);
        for (size_t off = 0; off + 16 <= vn || off == 0; off += 16) {
            char piece[17];
            size_t pn = vn - off < 16 ? vn - off : 16;
            memcpy(piece, v + off, pn);
            piece[pn] = '\0';
            ck_assert_msg(strstr(all.s, piece) == NULL, "%s: secret piece '%s' survived",
                          captures[i].file, piece);
            if (pn < 16)
                break;
        }
    }
    ck_assert_ptr_null(strstr(all.s, "gAAAAA"));
    free(all.s);
    evlist_free(l);
    free(l);
    free(sec);
    ck_assert_uint_eq(pool.used, 0);
    ck_assert_uint_eq(evpool.used, 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("rest");
    TCase *t = tcase_create("rest");
    tcase_add_checked_fixture(t, map_setup, map_teardown);
    tcase_set_timeout(t, 300);
    tcase_add_test(t, keystone_wrong_password);
    tcase_add_test(t, glance_html_404);
    tcase_add_test(t, nova_compute_fault);
    tcase_add_test(t, nova_server_error_state);
    tcase_add_test(t, placement_errors);
    tcase_add_test(t, neutron_error);
    tcase_add_test(t, webob_json_and_text);
    tcase_add_test(t, server_action_and_prefix);
    tcase_add_test(t, legacy_and_cinder_paths);
    tcase_add_test(t, secrets_everywhere);
    tcase_add_test(t, gzip_error_body);
    tcase_add_test(t, redact_helpers);
    tcase_add_test(t, uuid_walk_skips_secrets);
    tcase_add_test(t, json_depth_cap);
    tcase_add_loop_test(t, real_captures_counts_and_secrets, 0,
                        (int)(sizeof(captures) / sizeof(captures[0])));
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
