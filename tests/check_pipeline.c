/* check_pipeline.c -- the wiring: packets -> flows -> parsers -> events.
 * Hand-built Ethernet/IPv4/TCP frames (checksums are not checked). */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "capture/flow.h"
#include "capture/mem.h"
#include "cli/common.h"
#include "cli/pipeline.h"
#include "parsers/svcmap.h"

#define T0 1795000000000000ull

static struct event *got[16];
static size_t ngot;

static void on_event(void *ctx, struct event *ev)
{
    (void)ctx;
    if (ngot < 16)
        got[ngot++] = ev;
    else
        event_free(ev);
}

/* One frame 127.0.0.1:40000 <-> 127.0.0.1:8774; dir 0 = client -> server. */
static size_t frame(uint8_t *b, int dir, uint8_t flags, uint32_t seq, uint32_t ack,
                    const char *payload)
{
    size_t n = payload ? strlen(payload) : 0;
    memset(b, 0, 54);
    b[12] = 0x08; /* ethertype IPv4 */
    uint8_t *ip = b + 14;
    ip[0] = 0x45;
    ip[2] = (uint8_t)((20 + 20 + n) >> 8);
    ip[3] = (uint8_t)(20 + 20 + n);
    ip[8] = 64;
    ip[9] = 6;
    ip[12] = ip[16] = 127;
    ip[15] = ip[19] = 1;
    uint8_t *tcp = ip + 20;
    uint16_t sp = dir ? 8774 : 40000, dp = dir ? 40000 : 8774;
    tcp[0] = (uint8_t)(sp >> 8);
    tcp[1] = (uint8_t)sp;
    tcp[2] = (uint8_t)(dp >> 8);
    tcp[3] = (uint8_t)dp;
    for (int i = 0; i < 4; i++) {
        tcp[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
        tcp[8 + i] = (uint8_t)(ack >> (24 - 8 * i));
    }
    tcp[12] = 0x50;
    tcp[13] = flags;
    tcp[14] = 0xff;
    if (n)
        memcpy(tcp + 20, payload, n);
    return 54 + n;
}

START_TEST(idle_time_releases_held_data)
{
    /* the request's first segment was lost by the capture and nothing else
     * arrives: during silence the hole times out and the second request,
     * held behind it, still comes out */
    struct svcmap *map = svcmap_new();
    svcmap_add_port(map, 8774, SVC_PROTO_HTTP, "nova-api");
    struct stats *st = stats_new();
    struct pipeline_cfg cfg;
    pipeline_defaults(&cfg);
    cfg.flow.use_ndpi = 0;
    ngot = 0;
    struct pipeline *p = pipeline_new(&cfg, map, st, on_event, NULL, NULL);
    ck_assert_ptr_nonnull(p);
    uint8_t b[256];
    const char *lost = "GET /v2.1/flavors HTTP/1.1\r\nHost: a\r\n\r\n";
    const char *held = "GET /v2.1/servers HTTP/1.1\r\nHost: a\r\n\r\n";
    uint32_t c = 1000, s = 5000;
    pipeline_packet(p, 1, b, (uint32_t)frame(b, 0, 0x02, c, 0, NULL), 54, T0);
    pipeline_packet(p, 1, b, (uint32_t)frame(b, 1, 0x12, s, c + 1, NULL), 54, T0 + 100);
    size_t n = frame(b, 0, 0x18, c + 1 + (uint32_t)strlen(lost), s + 1, held);
    pipeline_packet(p, 1, b, (uint32_t)n, (uint32_t)n, T0 + 200);
    ck_assert_uint_eq(ngot, 0);
    pipeline_idle(p, T0 + 1000000); /* 1 s: below the hole timeout */
    ck_assert_uint_eq(ngot, 0);
    pipeline_idle(p, T0 + 5000000);
    ck_assert_uint_eq(ngot, 1);
    ck_assert_int_eq(got[0]->kind, EV_HTTP_REQUEST);
    ck_assert_str_eq(got[0]->path, "/v2.1/servers");
    ck_assert_uint_ge(*stats_counter(st, "reasm.hole_timeouts"), 1);
    for (size_t i = 0; i < ngot; i++)
        event_free(got[i]);
    ngot = 0;
    /* the end of input emits what is left (the unanswered request): its
     * events die before the pools they came from */
    pipeline_finish(p);
    for (size_t i = 0; i < ngot; i++)
        event_free(got[i]);
    pipeline_free(p);
    stats_free(st);
    svcmap_free(map);
}
END_TEST

/* A segment whose IPv4 total length claims far more than its frame holds
 * is dropped as bad_ip, not taken as a snaplen cut: the request after it
 * still comes out. Regression: it became a 60 KB gap that swallowed the
 * request. And packet time running backwards is counted with a diagnostic
 * and clamped. */
START_TEST(bogus_ip_length_and_clock)
{
    struct svcmap *map = svcmap_new();
    svcmap_add_port(map, 8774, SVC_PROTO_HTTP, "nova-api");
    struct stats *st = stats_new();
    struct pipeline_cfg cfg;
    pipeline_defaults(&cfg);
    cfg.flow.use_ndpi = 0;
    ngot = 0;
    struct pipeline *p = pipeline_new(&cfg, map, st, on_event, NULL, NULL);
    ck_assert_ptr_nonnull(p);
    uint8_t b[256];
    const char *req = "GET /v2.1/servers HTTP/1.1\r\nHost: a\r\n\r\n";
    uint32_t c = 1000, s = 5000;
    pipeline_packet(p, 1, b, (uint32_t)frame(b, 0, 0x02, c, 0, NULL), 54, T0);
    pipeline_packet(p, 1, b, (uint32_t)frame(b, 1, 0x12, s, c + 1, NULL), 54, T0 + 100);
    size_t n = frame(b, 0, 0x18, c + 1, s + 1, "XXXX");
    b[14 + 2] = 0xea, b[14 + 3] = 0x60; /* total length 60000 in a 58-byte frame */
    pipeline_packet(p, 1, b, (uint32_t)n, (uint32_t)n, T0 + 200);
    n = frame(b, 0, 0x18, c + 1, s + 1, req);
    pipeline_packet(p, 1, b, (uint32_t)n, (uint32_t)n, T0 + 150); /* 50 us back */
    pipeline_finish(p);
    /* the request, then the answer it never got before the input ended */
    ck_assert_uint_eq(ngot, 2);
    ck_assert_int_eq(got[0]->kind, EV_HTTP_REQUEST);
    ck_assert_str_eq(got[0]->path, "/v2.1/servers");
    ck_assert_int_eq(got[1]->kind, EV_HTTP_RESPONSE);
    ck_assert(got[1]->flags & EV_F_NO_ANSWER);
    ck_assert_int_eq(got[1]->end_how, EV_END_CAPTURE);
    ck_assert_str_eq(got[1]->path, "/v2.1/servers");
    ck_assert_uint_eq(*stats_counter(st, "decode.bad_ip"), 1);
    ck_assert_uint_eq(*stats_counter(st, "reasm.gaps"), 0);
    ck_assert_uint_eq(*stats_counter(st, "capture.time_backwards"), 1);
    int seen = 0;
    for (size_t i = 0; i < stats_diag_count(st); i++) {
        const char *counter;
        uint64_t ts;
        const char *msg = stats_diag_msg(st, i, &counter, &ts);
        if (strcmp(counter, "capture.time_backwards") == 0) {
            ck_assert_str_eq(msg, "capture: packet 4 is 50 us older than the one before: taken "
                                  "at the later time");
            seen++;
        }
    }
    ck_assert_int_eq(seen, 1);
    for (size_t i = 0; i < ngot; i++)
        event_free(got[i]);
    ngot = 0;
    pipeline_free(p);
    stats_free(st);
    svcmap_free(map);
}
END_TEST

START_TEST(new_map_applies_to_open_connections)
{
    /* rules reload: the second request on the same connection is named
     * with the new map's operations */
    struct svcmap *a = svcmap_new(), *b = svcmap_new();
    svcmap_add_port(a, 8774, SVC_PROTO_HTTP, "nova-api");
    svcmap_add_port(b, 8774, SVC_PROTO_HTTP, "nova-api");
    svcmap_add_operation(b, "nova-api", "GET", "/v2.1/servers", "server list");
    struct stats *st = stats_new();
    struct pipeline_cfg cfg;
    pipeline_defaults(&cfg);
    cfg.flow.use_ndpi = 0;
    ngot = 0;
    struct pipeline *p = pipeline_new(&cfg, a, st, on_event, NULL, NULL);
    ck_assert_ptr_nonnull(p);
    uint8_t b1[256];
    const char *q = "GET /v2.1/servers HTTP/1.1\r\nHost: a\r\n\r\n";
    uint32_t c = 1000, s = 5000, qn = (uint32_t)strlen(q);
    pipeline_packet(p, 1, b1, (uint32_t)frame(b1, 0, 0x02, c, 0, NULL), 54, T0);
    pipeline_packet(p, 1, b1, (uint32_t)frame(b1, 1, 0x12, s, c + 1, NULL), 54, T0 + 100);
    size_t n = frame(b1, 0, 0x18, c + 1, s + 1, q);
    pipeline_packet(p, 1, b1, (uint32_t)n, (uint32_t)n, T0 + 200);
    pipeline_use_map(p, b);
    n = frame(b1, 0, 0x18, c + 1 + qn, s + 1, q);
    pipeline_packet(p, 1, b1, (uint32_t)n, (uint32_t)n, T0 + 300);
    ck_assert_uint_eq(ngot, 2);
    ck_assert_ptr_null(got[0]->operation);
    ck_assert_ptr_nonnull(got[1]->operation);
    ck_assert_str_eq(got[1]->operation, "server list");
    for (size_t i = 0; i < ngot; i++)
        event_free(got[i]);
    ngot = 0;
    /* the end of input emits what is left (the unanswered request): its
     * events die before the pools they came from */
    pipeline_finish(p);
    for (size_t i = 0; i < ngot; i++)
        event_free(got[i]);
    pipeline_free(p);
    stats_free(st);
    svcmap_free(a);
    svcmap_free(b);
}
END_TEST

/* The mapping of this process holding p, with its VmFlags: 1 if found
 * (*hg: the flags have "hg", huge pages asked for), 0 if not. */
static int mapping_of(const void *p, int *hg)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return 0;
    char line[512];
    int in = 0, found = 0;
    while (fgets(line, sizeof(line), f)) {
        unsigned long a, b;
        if (sscanf(line, "%lx-%lx ", &a, &b) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            in = (uintptr_t)p >= a && (uintptr_t)p < b;
            continue;
        }
        if (in && strncmp(line, "VmFlags:", 8) == 0) {
            *hg = strstr(line, " hg") != NULL;
            found = 1;
            break;
        }
    }
    fclose(f);
    return found;
}

/* In a child of its own (the heap is the process's): the return of
 * common_heap_for_packets and whether blocks taken after it (4 MiB in
 * 16 KiB blocks: more than the set-up's free blocks could hold, and than
 * the part of the new heap below its first 2 MiB boundary, which is not
 * advised) come from a mapping with huge pages asked for. Exit code
 * 10*returned + hg. */
static int heap_child(const char *env)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (env)
            setenv("OSRCA_HUGEPAGES", env, 1);
        else
            unsetenv("OSRCA_HUGEPAGES");
        int r = common_heap_for_packets();
        int any = 0;
        for (int i = 0; i < 256; i++) {
            void *blk = malloc(16 << 10);
            int hg = 0;
            if (!blk || !mapping_of(blk, &hg))
                _exit(99);
            any |= hg;
        }
        _exit(10 * r + any);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

START_TEST(packet_heap_on_huge_pages)
{
    if (access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) != 0)
        return; /* a kernel without THP: nothing to ask for */
    int on = heap_child(NULL), off = heap_child("0");
    if (MEM_ASAN) {
        ck_assert_int_eq(on, 0); /* the sanitizer's allocator: left alone */
    } else {
        ck_assert_int_eq(on, 11); /* asked for, and the next blocks are there */
    }
    ck_assert_int_eq(off, 0);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("pipeline");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, idle_time_releases_held_data);
    tcase_add_test(tc, new_map_applies_to_open_connections);
    tcase_add_test(tc, bogus_ip_length_and_clock);
    tcase_add_test(tc, packet_heap_on_huge_pages);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
