/* check_rules.c -- rules/ loader: the shipped directory loads; every error
 * kind is reported with file:line:col and its YAML path (unknown keys,
 * missing keys, bad values, bad regex with PCRE2's offset and message,
 * unknown culprit, YAML syntax, aliases); all errors at once through
 * rules_check_dir; first error through rules_load_dir; fault lookup order. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/stats.h"
#include "rca/rules_load.h"

static char dir[64];
static char msgs[32][512];
static int nmsgs;

static void collect(void *ctx, const char *m)
{
    (void)ctx;
    if (nmsgs < 32)
        snprintf(msgs[nmsgs++], sizeof(msgs[0]), "%s", m);
}

static void mk_dir(void)
{
    snprintf(dir, sizeof(dir), "/tmp/osrca_rules_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    nmsgs = 0;
}

static void rm_dir(void)
{
    char p[128];
    snprintf(p, sizeof(p), "%s/a.yaml", dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/b.yaml", dir);
    unlink(p);
    rmdir(dir);
}

static void put(const char *name, const char *text)
{
    char p[128];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* msgs[i] == "<dir>/a.yaml:" + tail */
static void expect(int i, const char *tail)
{
    char want[512];
    snprintf(want, sizeof(want), "%s/a.yaml:%s", dir, tail);
    ck_assert_int_gt(nmsgs, i);
    ck_assert_str_eq(msgs[i], want);
}

static struct rules *load_shipped(struct stats *st, char *err, size_t n)
{
    struct rules *r = rules_load_dir("rules", st, err, n);
    return r ? r : rules_load_dir("../rules", st, err, n);
}

START_TEST(shipped_rules_load)
{
    struct stats *st = stats_new();
    char err[512] = "";
    struct rules *r = load_shipped(st, err, sizeof(err));
    ck_assert_msg(r != NULL, "%s", err);
    const struct svcmap *m = rules_svcmap(r);
    ck_assert_str_eq(svcmap_port(m, 8774, NULL), "nova-api");
    ck_assert_str_eq(svcmap_port(m, 5672, NULL), "rabbitmq");
    ck_assert_str_eq(svcmap_user_agent(m, "python-keystoneclient"), "keystonemiddleware");
    ck_assert_str_eq(svcmap_user_agent(m, "openstacksdk/0.101.0 keystoneauth1/5.0.0"), "client");
    ck_assert_str_eq(svcmap_user_agent(m, "nova-compute keystoneauth1/5.0.0 python-requests/2"),
                     "nova-compute");
    char host[64];
    ck_assert_str_eq(svcmap_topic(m, "compute.compute-1", host, sizeof(host)), "nova-compute");
    ck_assert_str_eq(host, "compute-1");
    ck_assert_str_eq(svcmap_publisher(m, "compute_task.controller", host, sizeof(host)),
                     "nova-conductor");
    ck_assert_str_eq(host, "controller");
    ck_assert_str_eq(svcmap_topic(m, "q-reports-plugin", NULL, 0), "neutron-server");
    ck_assert_int_eq(rules_is_service(r, "glance-api"), 1);
    ck_assert_int_gt((int)rules_fault_count(r), 20);
    /* operations.yaml (another helper's) loads through the same schema */
    ck_assert_ptr_nonnull(svcmap_operation(m, "nova-api", "POST", "/v2.1/servers"));

    const char *subj[RULES_F_COUNT] = {0};
    subj[RULES_F_KIND] = "rpc_failure";
    subj[RULES_F_ERROR_CLASS] = "NoValidHost";
    subj[RULES_F_MESSAGE] = "No valid host was found. ";
    int k = rules_fault_find(r, subj);
    ck_assert_int_ge(k, 0);
    ck_assert_str_eq(rules_fault_at(r, (size_t)k)->name, "nova-novalidhost");
    ck_assert_str_eq(rules_fault_at(r, (size_t)k)->category, "capacity");
    subj[RULES_F_ERROR_CLASS] = NULL;
    subj[RULES_F_MESSAGE] = "no reply to x on 'scheduler' within 10 s: the call was never delivered";
    subj[RULES_F_KIND] = "rpc_timeout";
    k = rules_fault_find(r, subj);
    ck_assert_int_ge(k, 0);
    ck_assert_int_eq(rules_fault_at(r, (size_t)k)->culprit, RULES_CULPRIT_TOPIC_CONSUMER);
    subj[RULES_F_KIND] = "no_such_kind";
    subj[RULES_F_MESSAGE] = "nothing";
    ck_assert_int_eq(rules_fault_find(r, subj), -1);
    ck_assert_int_eq(rules_check_dir("rules", collect, NULL) == 0 ||
                         rules_check_dir("../rules", collect, NULL) == 0,
                     1);
    rules_free(r);
    stats_free(st);
}
END_TEST

START_TEST(every_error_kind)
{
    put("a.yaml", "services:\n"
                  "  - name: nova-api\n"
                  "    prots: [{port: 8774, proto: http}]\n"
                  "  - ports: [{port: 70000, proto: http}, {port: 9, proto: udp}]\n"
                  "faults:\n"
                  "  - name: x\n"
                  "    match: {message: \"a(b\", klass: y}\n"
                  "    category: c\n"
                  "  - name: y\n"
                  "    match: {kind: \"^http_4xx$\"}\n"
                  "    category: c\n"
                  "    culprit: nosuch-service\n"
                  "  - name: z\n"
                  "    match: {}\n"
                  "    category: c\n"
                  "operations:\n"
                  "  - {service: nova-api, method: GET, name: list}\n"
                  "servces: []\n");
    int n = rules_check_dir(dir, collect, NULL);
    ck_assert_int_eq(n, 10);
    ck_assert_int_eq(nmsgs, 10);
    expect(0, "3:5: services[0].prots: unknown key");
    expect(1, "4:5: services[1]: missing key 'name'");
    expect(2, "4:20: services[1].ports[0].port: expected a port number 1..65535");
    expect(3, "4:58: services[1].ports[1].proto: expected http, amqp or tcp");
    expect(4, "7:22: faults[0].match.message: bad regex at offset 3: missing closing parenthesis");
    expect(5, "7:29: faults[0].match.klass: unknown key");
    expect(6, "14:12: faults[2].match: at least one field to match is required");
    expect(7, "17:5: operations[0]: missing key 'path'");
    expect(8, "18:1: servces: unknown key");
    expect(9, "12:14: faults[1].culprit: unknown culprit 'nosuch-service' (origin, "
              "topic-consumer, callee, caller or a service name)");
    /* rules_load_dir refuses the dir and names the first error */
    char err[512];
    ck_assert_ptr_null(rules_load_dir(dir, NULL, err, sizeof(err)));
    ck_assert_str_eq(err, msgs[0]);
}
END_TEST

START_TEST(duplicates_and_types)
{
    put("a.yaml", "faults:\n"
                  "  - name: f\n"
                  "    match: {kind: a}\n"
                  "    category: c\n"
                  "  - name: f\n"
                  "    match: {kind: a, kind: b}\n"
                  "    category: [c]\n"
                  "services: {name: x}\n");
    int n = rules_check_dir(dir, collect, NULL);
    ck_assert_int_eq(n, 5);
    expect(0, "6:22: faults[1].match.kind: duplicate key");
    expect(1, "7:15: faults[1].category: expected a non-empty string");
    expect(2, "5:5: faults[1]: missing key 'category'");
    expect(3, "5:5: faults[1].name: duplicate fault name 'f'");
    expect(4, "8:11: services: expected a list");
}
END_TEST

START_TEST(embedded_services)
{
    put("a.yaml", "services:\n"
                  "  - name: mw\n"
                  "    user_agents: [\"python-keystoneclient*\"]\n"
                  "    embedded: true\n"
                  "  - name: api\n"
                  "    embedded: false\n"
                  "  - name: bad\n"
                  "    embedded: maybe\n");
    int n = rules_check_dir(dir, collect, NULL);
    ck_assert_int_eq(n, 1);
    expect(0, "8:15: services[2].embedded: expected true or false");
    put("a.yaml", "services:\n"
                  "  - name: mw\n"
                  "    embedded: true\n"
                  "  - name: api\n"
                  "    embedded: false\n");
    struct stats *st = stats_new();
    char err[256];
    struct rules *r = rules_load_dir(dir, st, err, sizeof(err));
    ck_assert_msg(r != NULL, "%s", err);
    ck_assert_int_eq(rules_is_embedded(r, "mw"), 1);
    ck_assert_int_eq(rules_is_embedded(r, "api"), 0);
    ck_assert_int_eq(rules_is_service(r, "api"), 1);
    rules_free(r);
    stats_free(st);
}
END_TEST

START_TEST(yaml_syntax_and_aliases)
{
    put("a.yaml", "services: [\n");
    ck_assert_int_eq(rules_check_dir(dir, collect, NULL), 1);
    expect(0, "2:1: yaml: did not find expected node content while parsing a flow node");
    nmsgs = 0;
    put("a.yaml", "a: &x [1]\nb: *x\n");
    ck_assert_int_eq(rules_check_dir(dir, collect, NULL), 1);
    expect(0, "2:4: yaml: aliases are not supported");
    /* in a later document too, defined or not, and nothing else said */
    nmsgs = 0;
    put("a.yaml", "services: []\n---\na: &x [1]\nb: *x\n");
    ck_assert_int_eq(rules_check_dir(dir, collect, NULL), 1);
    expect(0, "4:4: yaml: aliases are not supported");
    ck_assert_int_eq(nmsgs, 1);
    nmsgs = 0;
    put("a.yaml", "services: []\n---\nc: *y\n");
    ck_assert_int_eq(rules_check_dir(dir, collect, NULL), 1);
    expect(0, "3:4: yaml: aliases are not supported");
    ck_assert_int_eq(nmsgs, 1);
}
END_TEST

START_TEST(files_in_name_order)
{
    /* b.yaml's fault refers to a service a.yaml declares; both load */
    put("a.yaml", "services:\n  - name: svc-a\n    ports: [{port: 1234, proto: http}]\n");
    put("b.yaml", "faults:\n  - {name: r, match: {status: \"^5\"}, category: c, culprit: svc-a,"
                  " hint: \"h\"}\n");
    char err[512] = "";
    struct rules *r = rules_load_dir(dir, NULL, err, sizeof(err));
    ck_assert_msg(r != NULL, "%s", err);
    ck_assert_int_eq((int)rules_fault_count(r), 1);
    const struct rules_fault *f = rules_fault_at(r, 0);
    ck_assert_int_eq(f->culprit, RULES_CULPRIT_SERVICE);
    ck_assert_str_eq(f->culprit_service, "svc-a");
    ck_assert_str_eq(f->hint, "h");
    ck_assert_str_eq(svcmap_port(rules_svcmap(r), 1234, NULL), "svc-a");
    rules_free(r);
    ck_assert_int_eq(rules_check_dir("/nonexistent/osrca", collect, NULL), -1);
    ck_assert_ptr_null(rules_load_dir("/nonexistent/osrca", NULL, err, sizeof(err)));
}
END_TEST

/* rules_read_stream: the size a file claims is a first buffer, not a
 * limit (a file growing while read, procfs / FUSE sizes of 0), and the
 * limit + 1 bytes are the most ever read. */
START_TEST(read_stream_past_claimed_size)
{
    static char text[10000];
    for (size_t i = 0; i < sizeof(text); i++)
        text[i] = (char)('a' + i % 26);
    long hints[] = {-1, 0, 10, 9999, 10000, 20000};
    for (size_t h = 0; h < sizeof(hints) / sizeof(hints[0]); h++) {
        FILE *f = fmemopen(text, sizeof(text), "rb");
        size_t n = 0;
        unsigned char *b = rules_read_stream(f, hints[h], 1u << 20, &n);
        fclose(f);
        ck_assert_ptr_nonnull(b);
        ck_assert_uint_eq(n, sizeof(text));
        ck_assert_int_eq(memcmp(b, text, n), 0);
        free(b);
        /* a limit below the content: exactly limit + 1 bytes, "too long" */
        f = fmemopen(text, sizeof(text), "rb");
        b = rules_read_stream(f, hints[h], 4000, &n);
        fclose(f);
        ck_assert_ptr_nonnull(b);
        ck_assert_uint_eq(n, 4001);
        free(b);
    }
}
END_TEST

static Suite *rules_suite(void)
{
    Suite *s = suite_create("rules");
    TCase *tc = tcase_create("load");
    tcase_add_checked_fixture(tc, mk_dir, rm_dir);
    tcase_add_test(tc, shipped_rules_load);
    tcase_add_test(tc, every_error_kind);
    tcase_add_test(tc, duplicates_and_types);
    tcase_add_test(tc, embedded_services);
    tcase_add_test(tc, yaml_syntax_and_aliases);
    tcase_add_test(tc, files_in_name_order);
    tcase_add_test(tc, read_stream_past_claimed_size);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(rules_suite());
    srunner_run_all(sr, CK_NORMAL);
    int nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
