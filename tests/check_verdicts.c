/* check_verdicts.c -- end to end on the real captures: every capture's
 * verdicts name the ground-truth origin (testdata/TRUTH, from the shared
 * labels), fault-free captures give none, and the chronological merge of
 * all captures gives each failure again with its own root cause. */
#include <check.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/pipeline.h"
#include "rca/rca.h"
#include "rca/report.h"
#include "rca/rules_load.h"

#define MAXV 64
#define MAXCAP 32

struct verdict {
    char request_id[64], service[64], host[64], addr[64], kind[32];
};

struct run {
    struct rca *rca;
    struct verdict v[MAXV];
    size_t n;
};

struct truth {
    char pcap[128], service[64], host[64];
};

static struct truth truth[MAXCAP];
static size_t ntruth;
static struct rules *rules;
static struct stats *rst;

static const char *testdata(void)
{
    const char *d = getenv("OSRCA_TESTDATA");
    return d && *d ? d : "testdata";
}

static void load(void)
{
    char path[512], err[512];
    rst = stats_new();
    const char *r = getenv("OSRCA_RULES");
    rules = rules_load_dir(r && *r ? r : "rules", rst, err, sizeof(err));
    ck_assert_msg(rules != NULL, "rules: %s", err);
    snprintf(path, sizeof(path), "%s/TRUTH", testdata());
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char line[512];
    ntruth = 0;
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        struct truth *t = &truth[ntruth];
        ck_assert_int_eq(sscanf(line, "%127s %63s %63s", t->pcap, t->service, t->host), 3);
        ntruth++;
        ck_assert_uint_lt(ntruth, MAXCAP);
    }
    fclose(f);
    ck_assert_uint_gt(ntruth, 0);
}

static void unload(void)
{
    rules_free(rules);
    stats_free(rst);
}

static void cp(char *d, size_t n, const char *s)
{
    snprintf(d, n, "%s", s ? s : "");
}

static void on_report(void *ctx, const struct report *r)
{
    struct run *run = ctx;
    if (!r->failed)
        return;
    ck_assert_uint_lt(run->n, MAXV);
    struct verdict *v = &run->v[run->n++];
    cp(v->request_id, sizeof(v->request_id), r->request_id);
    cp(v->service, sizeof(v->service), r->root_cause.service);
    cp(v->host, sizeof(v->host), r->root_cause.host);
    cp(v->addr, sizeof(v->addr), r->root_cause.addr);
    cp(v->kind, sizeof(v->kind), r->root_cause.kind);
}

static void on_event(void *ctx, struct event *ev)
{
    struct run *run = ctx;
    rca_event(run->rca, ev);
}

static void on_tick(void *ctx, uint64_t now)
{
    struct run *run = ctx;
    rca_tick(run->rca, now);
}

/* Run the pcaps, merged chronologically (ties: in argument order). */
static void analyze(const char *const *pcaps, size_t np, struct run *run, struct stats *st)
{
    pcap_t *pc[MAXCAP];
    struct pcap_pkthdr *hdr[MAXCAP];
    const u_char *data[MAXCAP];
    int live[MAXCAP];
    char eb[PCAP_ERRBUF_SIZE], path[512];
    memset(run, 0, sizeof(*run));
    struct rca_cfg rc;
    rca_defaults(&rc);
    run->rca = rca_new(&rc, rules, st, on_report, run);
    ck_assert_ptr_nonnull(run->rca);
    struct pipeline_cfg pcfg;
    pipeline_defaults(&pcfg);
    struct pipeline *pl = pipeline_new(&pcfg, rules_svcmap(rules), st, on_event, on_tick, run);
    ck_assert_ptr_nonnull(pl);
    for (size_t i = 0; i < np; i++) {
        snprintf(path, sizeof(path), "%s/%s", testdata(), pcaps[i]);
        pc[i] = pcap_open_offline(path, eb);
        ck_assert_msg(pc[i] != NULL, "%s: %s", path, eb);
        live[i] = pcap_next_ex(pc[i], &hdr[i], &data[i]) == 1;
    }
    for (;;) {
        size_t best = np;
        for (size_t i = 0; i < np; i++) {
            if (!live[i])
                continue;
            if (best == np || timercmp(&hdr[i]->ts, &hdr[best]->ts, <))
                best = i;
        }
        if (best == np)
            break;
        uint64_t ts = (uint64_t)hdr[best]->ts.tv_sec * 1000000u + (uint64_t)hdr[best]->ts.tv_usec;
        pipeline_packet(pl, pcap_datalink(pc[best]), data[best], hdr[best]->caplen,
                        hdr[best]->len, ts);
        live[best] = pcap_next_ex(pc[best], &hdr[best], &data[best]) == 1;
    }
    for (size_t i = 0; i < np; i++)
        pcap_close(pc[i]);
    pipeline_finish(pl);
    rca_flush(run->rca, pipeline_last_ts(pl));
    pipeline_free(pl);
    rca_free(run->rca);
    run->rca = NULL;
}

START_TEST(each_capture_names_its_origin)
{
    load();
    for (size_t i = 0; i < ntruth; i++) {
        const struct truth *t = &truth[i];
        const char *p = t->pcap;
        struct run run;
        struct stats *st = stats_new();
        analyze(&p, 1, &run, st);
        if (!strcmp(t->service, "-")) {
            ck_assert_msg(run.n == 0, "%s: fault-free capture gave %zu verdict(s), first: %s",
                          p, run.n, run.n ? run.v[0].service : "");
        } else {
            ck_assert_msg(run.n > 0, "%s: no verdict", p);
            for (size_t k = 0; k < run.n; k++) {
                ck_assert_msg(!strcmp(run.v[k].service, t->service),
                              "%s: verdict %s blames %s, expected %s", p, run.v[k].request_id,
                              run.v[k].service, t->service);
                if (strcmp(t->host, "-") != 0)
                    ck_assert_msg(!strcmp(run.v[k].host, t->host), "%s: host %s, expected %s", p,
                                  run.v[k].host, t->host);
                ck_assert_msg(run.v[k].addr[0] || !strcmp(run.v[k].kind, "rpc_timeout"),
                              "%s: no address for %s", p, run.v[k].service);
            }
        }
        stats_free(st);
    }
    unload();
}
END_TEST

START_TEST(merged_captures_keep_their_verdicts)
{
    load();
    const char *all[MAXCAP];
    struct run sep = {0};
    for (size_t i = 0; i < ntruth; i++) {
        all[i] = truth[i].pcap;
        struct run one;
        struct stats *st = stats_new();
        analyze(&all[i], 1, &one, st);
        for (size_t k = 0; k < one.n; k++)
            sep.v[sep.n++] = one.v[k];
        stats_free(st);
    }
    /* merged in chronological order, once as listed and once reversed (the
     * order only matters for ties) */
    for (int rev = 0; rev < 2; rev++) {
        const char *order[MAXCAP];
        for (size_t i = 0; i < ntruth; i++)
            order[i] = all[rev ? ntruth - 1 - i : i];
        struct run m;
        struct stats *st = stats_new();
        analyze(order, ntruth, &m, st);
        ck_assert_msg(m.n == sep.n, "merged (%s): %zu verdicts, separately %zu",
                      rev ? "reversed" : "listed", m.n, sep.n);
        for (size_t k = 0; k < sep.n; k++) {
            size_t j;
            for (j = 0; j < m.n; j++)
                if (!strcmp(m.v[j].request_id, sep.v[k].request_id) &&
                    !strcmp(m.v[j].service, sep.v[k].service))
                    break;
            ck_assert_msg(j < m.n, "merged: verdict %s (%s) lost or changed",
                          sep.v[k].request_id, sep.v[k].service);
        }
        stats_free(st);
    }
    unload();
}
END_TEST

/* Captures begun after the failing build's scheduling or compute work (cut
 * from the real ones at a time between the build's last RPC and the next
 * poll): only the client's polls are left, showing the server in ERROR.
 * The verdict names the service the fault message comes from, not nova-api
 * that reported it, and no address (that service is not in the capture). */
START_TEST(captures_begun_late_name_the_fault_source)
{
    static const struct {
        const char *pcap, *service;
    } cases[] = {
        {"late_s2p_novalidhost_capacity.pcap", "nova-scheduler"},
        {"late_s2g3_spawn_failure_build_abort.pcap", "nova-compute"},
    };
    load();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct run run;
        struct stats *st = stats_new();
        analyze(&cases[i].pcap, 1, &run, st);
        ck_assert_msg(run.n > 0, "%s: no verdict", cases[i].pcap);
        for (size_t k = 0; k < run.n; k++) {
            ck_assert_msg(!strcmp(run.v[k].service, cases[i].service),
                          "%s: verdict %s blames %s, expected %s", cases[i].pcap,
                          run.v[k].request_id, run.v[k].service, cases[i].service);
            ck_assert_str_eq(run.v[k].kind, "resource_error");
            ck_assert_str_eq(run.v[k].addr, "");
        }
        stats_free(st);
    }
    unload();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("verdicts");
    TCase *tc = tcase_create("captures");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, each_capture_names_its_origin);
    tcase_add_test(tc, merged_captures_keep_their_verdicts);
    tcase_add_test(tc, captures_begun_late_name_the_fault_source);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
