/* check_webhook.c -- the live mode's machine outputs without a network
 * namespace: webhook queue bound, retries and give-up against a closed
 * local port; /metrics and /verdicts (filters) over a local socket; time
 * parsing; Alertmanager annotation by resource and by service + time. */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/annotate.h"
#include "cli/net/httpd.h"
#include "cli/net/webhook.h"
#include "cli/dynlib.h"

START_TEST(webhook_bounded_queue_and_give_up)
{
    /* port 9 on 127.0.0.1: nothing listens (connection refused at once) */
    struct webhook_cfg wc;
    webhook_defaults(&wc);
    wc.url = "http://127.0.0.1:9/hook";
    wc.queue_max = 2;
    wc.max_retries = 2;
    wc.backoff_ms = 10;
    char err[256];
    struct webhook *w = webhook_new(&wc, err, sizeof(err));
    ck_assert_ptr_nonnull(w);
    int queued = 0, dropped = 0;
    for (int i = 0; i < 50; i++) {
        if (webhook_post(w, "{\"type\":\"verdict\"}", 18) == 0)
            queued++;
        else
            dropped++;
    }
    ck_assert_int_ge(queued, 2);
    ck_assert_int_gt(dropped, 0); /* the queue of 2 overflowed: never blocked */
    webhook_free(w, 5000);        /* every queued one is tried 3 times, then failed */
    w = webhook_new(&wc, err, sizeof(err));
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(webhook_post(w, "{}", 2), 0);
    struct webhook_stats st = {0};
    for (int i = 0; i < 200; i++) { /* at most 2 s */
        webhook_get_stats(w, &st);
        if (st.failed)
            break;
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    ck_assert_uint_eq(st.failed, 1);
    ck_assert_uint_eq(st.retries, 2);
    ck_assert_uint_eq(st.sent, 0);
    webhook_free(w, 0);
}
END_TEST

START_TEST(webhook_rejects_bad_url)
{
    struct webhook_cfg wc;
    webhook_defaults(&wc);
    wc.url = "ftp://x";
    char err[256];
    ck_assert_ptr_null(webhook_new(&wc, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "http://"));
}
END_TEST

START_TEST(parse_time)
{
    uint64_t us;
    ck_assert_int_eq(httpd_parse_time("2026-11-22T08:49:30Z", &us), 0);
    ck_assert_uint_eq(us, 1795337370ull * 1000000ull);
    ck_assert_int_eq(httpd_parse_time("2026-11-22T08:49:30.25Z", &us), 0);
    ck_assert_uint_eq(us, 1795337370ull * 1000000ull + 250000);
    ck_assert_int_eq(httpd_parse_time("2026-11-22T09:49:30+01:00", &us), 0);
    ck_assert_uint_eq(us, 1795337370ull * 1000000ull);
    ck_assert_int_eq(httpd_parse_time("1795337370.5", &us), 0);
    ck_assert_uint_eq(us, 1795337370500000ull);
    ck_assert_int_eq(httpd_parse_time("yesterday", &us), -1);
    ck_assert_int_eq(httpd_parse_time("2026-11-22T08:49:30Zjunk", &us), -1);
    ck_assert_int_eq(httpd_parse_time("", &us), -1);
}
END_TEST

struct mem {
    char buf[8192];
    size_t n;
};

static size_t sink(char *p, size_t sz, size_t nm, void *ctx)
{
    struct mem *m = ctx;
    size_t n = sz * nm;
    if (m->n + n >= sizeof(m->buf))
        return 0;
    memcpy(m->buf + m->n, p, n);
    m->n += n;
    m->buf[m->n] = '\0';
    return n;
}

static long get(const char *url, struct mem *m)
{
    m->n = 0;
    m->buf[0] = '\0';
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, m);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
    long code = -1;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    return code;
}

static const char *url(const char *base, const char *path)
{
    static char buf[256];
    snprintf(buf, sizeof(buf), "%s%s", base, path);
    return buf;
}

START_TEST(httpd_metrics_and_verdicts)
{
    char err[256];
    ck_assert_ptr_null(httpd_new("nonsense", 4, err, sizeof(err)));
    struct httpd *h = httpd_new("127.0.0.1:0", 2, err, sizeof(err)); /* any free port */
    ck_assert_msg(h != NULL, "%s", err);
    char base[64];
    snprintf(base, sizeof(base), "http://127.0.0.1:%u", (unsigned)httpd_port(h));
    ck_assert_uint_ne(httpd_port(h), 0);
    ck_assert_int_eq(dyn_curl_load(err, sizeof(err)), 0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    httpd_set_metrics(h, "osrca_up 1\n", 11);
    const char *r1[] = {"37308832-ef62-48b2-b227-4541f3912c4f"};
    httpd_add_verdict(h, "{\"n\":1}", 7, 1000000ull, r1, 1);
    httpd_add_verdict(h, "{\"n\":2}", 7, 2000000ull, NULL, 0);
    httpd_add_verdict(h, "{\"n\":3}", 7, 3000000ull, r1, 1); /* ring of 2: n=1 goes */
    struct mem m;
    ck_assert_int_eq(get(url(base, "/metrics"), &m), 200);
    ck_assert_str_eq(m.buf, "osrca_up 1\n");
    ck_assert_int_eq(get(url(base, "/verdicts"), &m), 200);
    ck_assert_str_eq(m.buf, "[{\"n\":2},{\"n\":3}]\n");
    ck_assert_int_eq(
        get(url(base, "/verdicts?resource=37308832-EF62-48b2-b227-4541f3912c4f"), &m),
        200);
    ck_assert_str_eq(m.buf, "[{\"n\":3}]\n");
    ck_assert_int_eq(get(url(base, "/verdicts?since=2.5"), &m), 200);
    ck_assert_str_eq(m.buf, "[{\"n\":3}]\n");
    ck_assert_int_eq(get(url(base, "/verdicts?since=1970-01-01T00:00:02Z"), &m), 200);
    ck_assert_str_eq(m.buf, "[{\"n\":2},{\"n\":3}]\n");
    ck_assert_int_eq(get(url(base, "/verdicts?since=x"), &m), 400);
    ck_assert_int_eq(get(url(base, "/nope"), &m), 404);
    curl_global_cleanup();
    httpd_free(h);
}
END_TEST

START_TEST(annotate_by_resource_then_service)
{
    json_error_t je;
    json_t *verdicts = json_loads(
        "[{\"type\":\"verdict\",\"failed\":true,\"request_id\":\"req-1\",\"category\":\"capacity\","
        "\"start\":\"2026-11-22T08:49:30.0Z\",\"end\":\"2026-11-22T08:49:44.0Z\","
        "\"root_cause\":{\"service\":\"nova-scheduler\",\"host\":\"h\",\"kind\":\"rpc_failure\","
        "\"error\":\"NoValidHost\",\"message\":\"m\"},\"chain\":[{\"event\":{\"resources\":"
        "[{\"id\":\"37308832-ef62-48b2-b227-4541f3912c4f\",\"type\":\"instance\"},"
        "{\"id\":\"ed201e37256a44999a4996e2489f55f5\",\"type\":\"project\"}]}}]},"
        " {\"type\":\"verdict\",\"failed\":true,\"request_id\":\"req-2\",\"category\":\"service_down\","
        "\"start\":\"2026-11-22T08:28:27.0Z\",\"end\":\"2026-11-22T08:28:32.0Z\","
        "\"root_cause\":{\"service\":\"glance-api\",\"kind\":\"conn_refused\"},\"chain\":[]},"
        /* a later read of the server in ERROR: a symptom of req-1, not chosen */
        " {\"type\":\"verdict\",\"failed\":true,\"request_id\":\"req-3\",\"category\":\"capacity\","
        "\"start\":\"2026-11-22T08:50:30.0Z\",\"end\":\"2026-11-22T08:50:31.0Z\","
        "\"root_cause\":{\"service\":\"nova-scheduler\",\"kind\":\"resource_error\"},"
        "\"chain\":[{\"event\":{\"resources\":"
        "[{\"id\":\"37308832-ef62-48b2-b227-4541f3912c4f\",\"type\":\"instance\"}]}}]}]",
        0, &je);
    ck_assert_msg(verdicts != NULL, "%s", je.text);
    json_t *p = json_loads(
        "{\"alerts\":[{\"labels\":{\"instance\":\"37308832-EF62-48b2-b227-4541f3912c4f\"},"
        "\"startsAt\":\"2026-11-22T10:00:00Z\"},"
        "{\"labels\":{\"project\":\"ed201e37256a44999a4996e2489f55f5\",\"job\":\"glance\"},"
        "\"annotations\":{},\"startsAt\":\"2026-11-22T08:30:00Z\"},"
        "{\"labels\":{\"service\":\"glance\"},\"startsAt\":\"2026-11-22T12:00:00Z\"}]}",
        0, &je);
    ck_assert_msg(p != NULL, "%s", je.text);
    ck_assert_uint_eq(annotate_payload(p, verdicts, 600), 2);
    json_t *a = json_object_get(p, "alerts");
    json_t *a0 = json_object_get(json_array_get(a, 0), "annotations");
    ck_assert_str_eq(json_string_value(json_object_get(a0, "osrca_request_id")), "req-1");
    ck_assert_str_eq(json_string_value(json_object_get(a0, "osrca_match")), "resource");
    ck_assert_str_eq(json_string_value(json_object_get(a0, "osrca_root_cause")),
                     "nova-scheduler@h: rpc_failure NoValidHost: m");
    /* a project id is shared by every operation: not a match; the service is */
    json_t *a1 = json_object_get(json_array_get(a, 1), "annotations");
    ck_assert_str_eq(json_string_value(json_object_get(a1, "osrca_request_id")), "req-2");
    ck_assert_str_eq(json_string_value(json_object_get(a1, "osrca_match")), "service");
    /* outside the window: untouched */
    ck_assert_ptr_null(json_object_get(json_array_get(a, 2), "annotations"));
    json_decref(p);
    json_decref(verdicts);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("webhook");
    TCase *tc = tcase_create("live-outputs");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, webhook_bounded_queue_and_give_up);
    tcase_add_test(tc, webhook_rejects_bad_url);
    tcase_add_test(tc, parse_time);
    tcase_add_test(tc, httpd_metrics_and_verdicts);
    tcase_add_test(tc, annotate_by_resource_then_service);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
