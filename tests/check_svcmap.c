/* check_svcmap.c -- service map: globs, host captures, templates, ports. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/event.h"
#include "parsers/svcmap.h"

static struct svcmap *m;

static void setup(void)
{
    m = svcmap_new();
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(svcmap_add_port(m, 8774, SVC_PROTO_HTTP, "nova-api"), 0);
    ck_assert_int_eq(svcmap_add_port(m, 5672, SVC_PROTO_AMQP, "rabbitmq"), 0);
    ck_assert_int_eq(svcmap_add_path_prefix(m, "/compute", "nova-api"), 0);
    ck_assert_int_eq(svcmap_add_user_agent(m, "nova-compute *", "nova-compute"), 0);
    ck_assert_int_eq(svcmap_add_user_agent(m, "openstacksdk/*", "client"), 0);
    ck_assert_int_eq(svcmap_add_topic(m, "compute.*", "nova-compute"), 0);
    ck_assert_int_eq(svcmap_add_topic(m, "conductor", "nova-conductor"), 0);
    ck_assert_int_eq(svcmap_add_topic(m, "cinder-volume.*@*", "cinder-volume"), 0);
    ck_assert_int_eq(svcmap_add_publisher(m, "nova-compute:*", "nova-compute"), 0);
    ck_assert_int_eq(svcmap_add_conn_name(m, "nova-scheduler:*", "nova-scheduler"), 0);
    ck_assert_int_eq(svcmap_add_operation(m, "nova-api", "POST", "/v2.1/servers", "server create"), 0);
    ck_assert_int_eq(svcmap_add_operation(m, "nova-api", "DELETE", "/v2.1/servers/{id}", "server delete"), 0);
    ck_assert_int_eq(svcmap_add_operation(m, "nova-api", "*", "/v2.1/os-hypervisors/*", "hypervisors"), 0);
    ck_assert_int_eq(svcmap_add_operation(m, NULL, "GET", "/", "version document"), 0);
}

static void teardown(void)
{
    svcmap_free(m);
}

START_TEST(ports)
{
    enum svc_proto pr;
    ck_assert_str_eq(svcmap_port(m, 8774, &pr), "nova-api");
    ck_assert_int_eq(pr, SVC_PROTO_HTTP);
    ck_assert_str_eq(svcmap_port(m, 5672, &pr), "rabbitmq");
    ck_assert_int_eq(pr, SVC_PROTO_AMQP);
    ck_assert_ptr_null(svcmap_port(m, 1, &pr));
    ck_assert_int_eq(pr, SVC_PROTO_UNKNOWN);
    uint16_t p[4];
    ck_assert_uint_eq(svcmap_ports(m, p, NULL, NULL, 4), 2);
    ck_assert_uint_eq(p[1], 5672);
}
END_TEST

START_TEST(globs_and_hosts)
{
    char host[64];
    ck_assert_str_eq(svcmap_topic(m, "compute.compute-1", host, sizeof(host)), "nova-compute");
    ck_assert_str_eq(host, "compute-1");
    ck_assert_str_eq(svcmap_topic(m, "conductor", host, sizeof(host)), "nova-conductor");
    ck_assert_str_eq(host, "");
    ck_assert_ptr_null(svcmap_topic(m, "conductor_fanout", host, sizeof(host)));
    /* the host is what the LAST star matched */
    ck_assert_str_eq(svcmap_topic(m, "cinder-volume.ctl@lvm", host, sizeof(host)), "cinder-volume");
    ck_assert_str_eq(host, "lvm");
    /* a short host buffer truncates, never overflows */
    char small[4];
    ck_assert_str_eq(svcmap_topic(m, "compute.compute-1", small, sizeof(small)), "nova-compute");
    ck_assert_str_eq(small, "com");
    ck_assert_str_eq(svcmap_user_agent(m, "nova-compute keystoneauth1/5.0.0 python-requests/2.28.1"),
                     "nova-compute");
    ck_assert_str_eq(svcmap_user_agent(m, "openstacksdk/0.101.0 keystoneauth1/5.0.0"), "client");
    ck_assert_ptr_null(svcmap_user_agent(m, "nova-computer"));
    ck_assert_str_eq(svcmap_publisher(m, "nova-compute:compute-1", host, sizeof(host)),
                     "nova-compute");
    ck_assert_str_eq(host, "compute-1");
    ck_assert_str_eq(svcmap_conn_name(m, "nova-scheduler:4242:0b4e6d1c"), "nova-scheduler");
    const char *cap;
    size_t caplen;
    ck_assert_int_eq(svcmap_glob("a*b*c", "axxbyyc", &cap, &caplen), 1);
    ck_assert_uint_eq(caplen, 2);
    ck_assert_int_eq(strncmp(cap, "yy", 2), 0);
    ck_assert_int_eq(svcmap_glob("a*b", "ab", &cap, &caplen), 1);
    ck_assert_uint_eq(caplen, 0);
    ck_assert_int_eq(svcmap_glob("a*b", "abc", NULL, NULL), 0);
    ck_assert_int_eq(svcmap_glob("", "", NULL, NULL), 1);
    ck_assert_int_eq(svcmap_glob("*", "", NULL, NULL), 1);
}
END_TEST

START_TEST(operations)
{
    ck_assert_str_eq(svcmap_operation(m, "nova-api", "POST", "/v2.1/servers"), "server create");
    ck_assert_str_eq(svcmap_operation(m, "nova-api", "DELETE",
                                      "/v2.1/servers/0e5cd995-9f71-48b3-a68a-f7d7c0fa270f"),
                     "server delete");
    ck_assert_ptr_null(svcmap_operation(m, "nova-api", "GET", "/v2.1/servers/x/y"));
    ck_assert_ptr_null(svcmap_operation(m, "nova-api", "DELETE", "/v2.1/servers/"));
    ck_assert_str_eq(svcmap_operation(m, "nova-api", "GET", "/v2.1/os-hypervisors/detail"), "hypervisors");
    ck_assert_str_eq(svcmap_operation(m, "nova-api", "GET", "/v2.1/os-hypervisors"), "hypervisors");
    ck_assert_str_eq(svcmap_operation(m, "glance-api", "GET", "/"), "version document");
    ck_assert_ptr_null(svcmap_operation(m, "glance-api", "POST", "/v2.1/servers"));
    size_t n;
    ck_assert_str_eq(svcmap_path_prefix(m, "/compute/v2.1/servers", &n), "nova-api");
    ck_assert_uint_eq(n, 8);
    ck_assert_ptr_null(svcmap_path_prefix(m, "/computer/v2.1", &n));
}
END_TEST

/* The first operation in rules order wins, whether it names the
 * request's service or any service, and whatever was added before or
 * after the service's first one; a request of no known service is
 * matched against every operation, one of an unknown service only against
 * those of any service. */
START_TEST(operations_in_rules_order)
{
    struct svcmap *o = svcmap_new();
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(svcmap_add_operation(o, NULL, "GET", "/v1/a", "any a"), 0);
    ck_assert_int_eq(svcmap_add_operation(o, "s1", "GET", "/v1/{x}", "s1 x"), 0);
    ck_assert_int_eq(svcmap_add_operation(o, NULL, "GET", "/v1/b", "any b"), 0);
    ck_assert_int_eq(svcmap_add_operation(o, "s2", "GET", "/v1/b", "s2 b"), 0);
    ck_assert_int_eq(svcmap_add_operation(o, "s2", "*", "/v1/{x}", "s2 x"), 0);
    ck_assert_int_eq(svcmap_add_operation(o, NULL, "PUT", "/v1/{x}", "any put"), 0);
    ck_assert_int_eq(svcmap_add_operation(o, "s1", "PUT", "/v1/c", "s1 put c"), 0);
    ck_assert_int_eq(svcmap_add_operation(o, "x", "GET", "nothing", "x"), -1); /* refused */
    ck_assert_str_eq(svcmap_operation(o, "s1", "GET", "/v1/a"), "any a");
    ck_assert_str_eq(svcmap_operation(o, "s1", "GET", "/v1/b"), "s1 x");
    ck_assert_str_eq(svcmap_operation(o, "s2", "GET", "/v1/a"), "any a");
    ck_assert_str_eq(svcmap_operation(o, "s2", "GET", "/v1/b"), "any b");
    ck_assert_str_eq(svcmap_operation(o, "s2", "GET", "/v1/z"), "s2 x");
    ck_assert_str_eq(svcmap_operation(o, "s2", "PUT", "/v1/c"), "s2 x");
    ck_assert_str_eq(svcmap_operation(o, "s1", "PUT", "/v1/c"), "any put");
    ck_assert_str_eq(svcmap_operation(o, "s3", "PUT", "/v1/c"), "any put");
    ck_assert_ptr_null(svcmap_operation(o, "s3", "GET", "/v1/z"));
    ck_assert_str_eq(svcmap_operation(o, NULL, "GET", "/v1/z"), "s1 x");
    ck_assert_str_eq(svcmap_operation(o, NULL, "DELETE", "/v1/z"), "s2 x");
    svcmap_free(o);
}
END_TEST

START_TEST(event_uuids)
{
    struct mem_pool pool;
    mem_pool_init(&pool, "ev", 1 << 20);
    struct event *ev = event_new(&pool);
    ck_assert_ptr_nonnull(ev);
    ck_assert_int_eq(ev->timeout_s, -1);
    const char *u = "0E5CD995-9F71-48B3-A68A-F7D7C0FA270F";
    ck_assert_int_eq(event_add_uuid(ev, u, strlen(u), EV_RES_INSTANCE), 0);
    ck_assert_int_eq(event_add_uuid(ev, "0e5cd995-9f71-48b3-a68a-f7d7c0fa270f", 36, EV_RES_UNKNOWN), 0);
    ck_assert_uint_eq(ev->nuuids, 1);
    ck_assert_str_eq(ev->uuids[0].id, "0e5cd995-9f71-48b3-a68a-f7d7c0fa270f");
    ck_assert_int_eq(ev->uuids[0].res, EV_RES_INSTANCE);
    ck_assert_int_eq(event_is_uuid("38c931b913e2442b8db91d6793ddf7c8", 32), 1);
    ck_assert_int_eq(event_is_uuid("38c931b913e2442b8db91d6793ddf7cg", 32), 0);
    ck_assert_int_eq(event_is_uuid("0e5cd995x9f71-48b3-a68a-f7d7c0fa270f", 36), 0);
    /* every byte value at every place of both forms, against the rule */
    static const char *const forms[2] = {"0e5cd9959f7148b3a68af7d7c0fa270f",
                                         "0e5cd995-9f71-48b3-a68a-f7d7c0fa270f"};
    for (int f = 0; f < 2; f++) {
        char b[37];
        size_t n = strlen(forms[f]);
        for (size_t i = 0; i < n; i++)
            for (int c = 0; c < 256; c++) {
                memcpy(b, forms[f], n);
                b[i] = (char)c;
                int dash = n == 36 && (i == 8 || i == 13 || i == 18 || i == 23);
                int hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
                ck_assert_int_eq(event_is_uuid(b, n), dash ? c == '-' : hex);
            }
    }
    /* more than 4 UUIDs: the arena array grows; more than EV_MAX_UUIDS: refused */
    for (int i = 0; i < EV_MAX_UUIDS + 2; i++) {
        char id[37];
        snprintf(id, sizeof(id), "%08x-9f71-48b3-a68a-f7d7c0fa270f", (unsigned)i + 1);
        ck_assert_int_eq(event_add_uuid(ev, id, 36, EV_RES_IMAGE), i + 1 < EV_MAX_UUIDS ? 0 : -1);
    }
    ck_assert_uint_eq(ev->nuuids, EV_MAX_UUIDS);
    ck_assert_str_eq(ev->uuids[0].id, "0e5cd995-9f71-48b3-a68a-f7d7c0fa270f");
    ck_assert_str_eq(ev->uuids[5].id, "00000005-9f71-48b3-a68a-f7d7c0fa270f");
    ck_assert_str_eq(ev->uuids[EV_MAX_UUIDS - 1].id, "0000000f-9f71-48b3-a68a-f7d7c0fa270f");
    char *s = event_str(ev, "abc", 3);
    ck_assert_str_eq(s, "abc");
    ck_assert_uint_gt(pool.used, 0);
    event_free(ev);
    ck_assert_uint_eq(pool.used, 0);
    /* at the cap the event is refused, not half-built */
    mem_pool_init(&pool, "tiny", 16);
    ck_assert_ptr_null(event_new(&pool));
    ck_assert_uint_eq(pool.fails, 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("svcmap");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, ports);
    tcase_add_test(tc, globs_and_hosts);
    tcase_add_test(tc, operations);
    tcase_add_test(tc, operations_in_rules_order);
    tcase_add_test(tc, event_uuids);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
