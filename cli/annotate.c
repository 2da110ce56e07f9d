/* annotate.c -- `osrca annotate`: add osrca's root cause to the alerts of
 * an Alertmanager webhook payload (Prometheus Alertmanager webhook_config,
 * payload version 4: {"alerts":[{"labels","annotations","startsAt",...}]}).
 *
 * Matching, per alert: (1) a resource UUID (or request id) found in any
 * label or annotation value that the verdict's chain names (the latest
 * such verdict, one whose origin is a failure rather than the resource
 * seen in ERROR first: a later read of a failed server is its symptom);
 * else (2) the
 * alert's service (label "service", else "job") equal to the verdict's
 * root-cause service (or its project prefix: "nova" matches "nova-api"),
 * with the verdict's time span within --window seconds of startsAt; the
 * nearest in time wins. */
#include "cli/annotate.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/dynlib.h"
#include "cli/net/httpd.h"

#define ANNOTATE_MAX_BODY (64u << 20) /* bytes accepted from --from */

static int is_hex(int c)
{
    return isxdigit((unsigned char)c);
}

/* 1 if s[0..36) is 8-4-4-4-12 hex. */
static int uuid36(const char *s)
{
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!is_hex(s[i])) {
            return 0;
        }
    }
    return 1;
}

/* 1 if text contains id as a whole token (no hex digit glued on either side). */
static int text_has_id(const char *text, const char *id)
{
    size_t n = strlen(text), idn = strlen(id);
    if (!idn)
        return 0;
    for (size_t i = 0; i + idn <= n; i++)
        if (strncasecmp(text + i, id, idn) == 0 && (i == 0 || !is_hex(text[i - 1]) ||
                                                     text[i - 1] == '-') &&
            (i + idn == n || !is_hex(text[i + idn])))
            return 1;
    return 0;
}

/* 1 if any string value of obj (labels or annotations) names id. */
static int obj_has_id(const json_t *obj, const char *id)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        (void)k;
        if (json_is_string(v) && text_has_id(json_string_value(v), id))
            return 1;
    }
    return 0;
}

/* 1 if the alert names a resource id (UUID) or the request id of verdict v. */
static int match_resource(const json_t *labels, const json_t *ann, const json_t *v)
{
    const char *rid = json_string_value(json_object_get(v, "request_id"));
    if (rid && (obj_has_id(labels, rid) || obj_has_id(ann, rid)))
        return 1;
    const json_t *chain = json_object_get(v, "chain");
    size_t i, j;
    const json_t *node, *res;
    json_array_foreach((json_t *)chain, i, node) {
        const json_t *ev = json_object_get(node, "event");
        json_array_foreach(json_object_get(ev, "resources"), j, res) {
            const char *id = json_string_value(json_object_get(res, "id"));
            const char *type = json_string_value(json_object_get(res, "type"));
            if (!id || (type && (!strcmp(type, "project") || !strcmp(type, "user"))))
                continue;
            if (strlen(id) != 36 || !uuid36(id))
                if (strlen(id) != 32)
                    continue;
            if (obj_has_id(labels, id) || obj_has_id(ann, id))
                return 1;
        }
    }
    return 0;
}

/* "nova" matches "nova" and "nova-*"; "nova-api" only itself. */
static int service_matches(const char *alert_svc, const char *svc)
{
    if (!alert_svc || !svc)
        return 0;
    size_t n = strlen(alert_svc);
    return strcasecmp(alert_svc, svc) == 0 ||
           (strncasecmp(alert_svc, svc, n) == 0 && svc[n] == '-');
}

static uint64_t vtime(const json_t *v, const char *key)
{
    uint64_t us = 0;
    const char *s = json_string_value(json_object_get(v, key));
    if (!s || httpd_parse_time(s, &us) < 0)
        return 0;
    return us;
}

static const char *jstr(const json_t *o, const char *k, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : dflt;
}

static void set_ann(json_t *ann, const char *k, const char *v)
{
    if (v)
        json_object_set_new(ann, k, json_string(v));
}

static void annotate_alert(json_t *alert, const json_t *v, const char *how)
{
    json_t *ann = json_object_get(alert, "annotations");
    if (!json_is_object(ann)) {
        ann = json_object();
        json_object_set_new(alert, "annotations", ann);
    }
    const json_t *rc = json_object_get(v, "root_cause");
    char line[1024];
    snprintf(line, sizeof(line), "%s@%s: %s %s: %s",
             jstr(rc, "service", "?"),
             jstr(rc, "host", "?"),
             jstr(rc, "kind", "?"),
             jstr(rc, "error", "-"),
             jstr(rc, "message", ""));
    set_ann(ann, "osrca_root_cause", line);
    set_ann(ann, "osrca_category", json_string_value(json_object_get(v, "category")));
    set_ann(ann, "osrca_hint", json_string_value(json_object_get(v, "hint")));
    set_ann(ann, "osrca_request_id", json_string_value(json_object_get(v, "request_id")));
    set_ann(ann, "osrca_operation", json_string_value(json_object_get(v, "operation")));
    set_ann(ann, "osrca_match", how);
}

size_t annotate_payload(json_t *payload, const json_t *verdicts, uint64_t window_s)
{
    size_t done = 0, i, j;
    json_t *alert;
    const json_t *v;
    json_array_foreach(json_object_get(payload, "alerts"), i, alert) {
        const json_t *labels = json_object_get(alert, "labels");
        const json_t *ann = json_object_get(alert, "annotations");
        const json_t *best = NULL;
        uint64_t best_end = 0;
        int best_origin = 0;
        json_array_foreach((json_t *)verdicts, j, v) {
            if (!json_is_true(json_object_get(v, "failed")) || !match_resource(labels, ann, v))
                continue;
            const char *k =
                json_string_value(json_object_get(json_object_get(v, "root_cause"), "kind"));
            int origin = !k || strcmp(k, "resource_error") != 0;
            if (!best || origin > best_origin ||
                (origin == best_origin && vtime(v, "end") >= best_end)) {
                best = v;
                best_end = vtime(v, "end");
                best_origin = origin;
            }
        }
        if (best) {
            annotate_alert(alert, best, "resource");
            done++;
            continue;
        }
        const char *svc = json_string_value(json_object_get(labels, "service"));
        if (!svc)
            svc = json_string_value(json_object_get(labels, "job"));
        uint64_t at = 0;
        const char *sa = json_string_value(json_object_get(alert, "startsAt"));
        if (!svc || !sa || httpd_parse_time(sa, &at) < 0)
            continue;
        uint64_t win = window_s * 1000000ull, best_d = UINT64_MAX;
        json_array_foreach((json_t *)verdicts, j, v) {
            if (!json_is_true(json_object_get(v, "failed")))
                continue;
            const json_t *rc = json_object_get(v, "root_cause");
            if (!service_matches(svc, json_string_value(json_object_get(rc, "service"))))
                continue;
            uint64_t s = vtime(v, "start"), e = vtime(v, "end");
            if (e < s)
                e = s;
            /* distance from startsAt to the span [s, e]; 0 inside */
            uint64_t d = at < s ? s - at : (at > e ? at - e : 0);
            if (d <= win && d < best_d) {
                best = v;
                best_d = d;
            }
        }
        if (best) {
            annotate_alert(alert, best, "service");
            done++;
        }
    }
    return done;
}

/* ---- verdict sources ---- */

/* JSON lines (type verdict) or one JSON array, from f. */
static json_t *read_verdicts(FILE *f, const char *name)
{
    json_t *all = json_array();
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned long lineno = 0;
    int first = 1;
    while ((n = getline(&line, &cap, f)) > 0) {
        lineno++;
        json_error_t je;
        const char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\n' || *p == '\0')
            continue;
        if (first && *p == '[') { /* a whole array: read the rest as one document */
            size_t len = (size_t)n, tot = len;
            char *doc = malloc(len + 1);
            if (!doc)
                break;
            memcpy(doc, line, len);
            while ((n = getline(&line, &cap, f)) > 0) {
                char *d2 = realloc(doc, tot + (size_t)n + 1);
                if (!d2)
                    break;
                doc = d2;
                memcpy(doc + tot, line, (size_t)n);
                tot += (size_t)n;
            }
            json_t *arr = json_loadb(doc, tot, 0, &je);
            free(doc);
            if (!json_is_array(arr)) {
                fprintf(stderr, "osrca annotate: %s: not a JSON array: %s\n", name, je.text);
                json_decref(arr);
                json_decref(all);
                free(line);
                return NULL;
            }
            json_array_extend(all, arr);
            json_decref(arr);
            break;
        }
        first = 0;
        json_t *o = json_loads(p, 0, &je);
        if (!o) {
            fprintf(stderr, "osrca annotate: %s:%lu: not JSON, skipped: %s\n", name, lineno,
                    je.text);
            continue;
        }
        const char *type = json_string_value(json_object_get(o, "type"));
        if (type && strcmp(type, "verdict") == 0)
            json_array_append_new(all, o);
        else
            json_decref(o);
    }
    free(line);
    return all;
}

struct mem {
    char *p;
    size_t n;
};

static size_t grow(char *d, size_t sz, size_t nm, void *ctx)
{
    struct mem *m = ctx;
    size_t n = sz * nm;
    if (m->n + n > ANNOTATE_MAX_BODY)
        return 0;
    char *p = realloc(m->p, m->n + n + 1);
    if (!p)
        return 0;
    memcpy(p + m->n, d, n);
    m->p = p;
    m->n += n;
    p[m->n] = '\0';
    return n;
}

static json_t *fetch_verdicts(const char *base)
{
    char url[2048];
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    snprintf(url, sizeof(url), "%.*s/verdicts", (int)bl, base);
    json_t *arr = NULL;
    struct mem m = {NULL, 0};
    char why[512];
    if (dyn_curl_load(why, sizeof(why)) < 0) {
        fprintf(stderr, "osrca annotate: --from %s: %s\n", base, why);
        return NULL;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *c = curl_easy_init();
    if (c) {
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, grow);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &m);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
        CURLcode rc = curl_easy_perform(c);
        if (rc != CURLE_OK) {
            fprintf(stderr, "osrca annotate: %s: %s\n", url, curl_easy_strerror(rc));
        } else {
            json_error_t je;
            arr = json_loadb(m.p ? m.p : "", m.n, 0, &je);
            if (!json_is_array(arr)) {
                fprintf(stderr, "osrca annotate: %s: not a JSON array: %s\n", url, je.text);
                json_decref(arr);
                arr = NULL;
            }
        }
        curl_easy_cleanup(c);
    }
    free(m.p);
    curl_global_cleanup();
    return arr;
}

static void annotate_usage(FILE *f)
{
    fputs("usage: osrca annotate [--verdicts FILE | --from http://HOST:PORT] [--window S]\n"
          "  reads an Alertmanager webhook payload on stdin and prints it with the\n"
          "  annotations osrca_root_cause, osrca_category, osrca_hint, osrca_request_id\n"
          "  (and osrca_operation, osrca_match) added to every alert with a matching verdict\n"
          "  --verdicts FILE   verdict JSON lines (osrca live --output, analyze --format json)\n"
          "  --from URL        an `osrca live --listen` endpoint (GET URL/verdicts)\n"
          "  --window S        service match: verdicts within S s of startsAt (default 600)\n",
          f);
}

int cmd_annotate(int argc, char **argv)
{
    static const struct option lo[] = {
        {"verdicts", required_argument, NULL, 'v'},
        {"from", required_argument, NULL, 'u'},
        {"window", required_argument, NULL, 'W'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *vfile = NULL, *from = NULL;
    uint64_t window = 600;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'v': vfile = optarg; break;
        case 'u': from = optarg; break;
        case 'W': {
            char *end;
            errno = 0;
            unsigned long long w = strtoull(optarg, &end, 10);
            if (errno || *end || end == optarg || w > 86400ull * 365) {
                fprintf(stderr, "osrca annotate: --window %s: expected seconds\n", optarg);
                return 2;
            }
            window = w;
            break;
        }
        case 'h':
            annotate_usage(stdout);
            return 0;
        default:
            annotate_usage(stderr);
            return 2;
        }
    }
    if ((!vfile) == (!from) || optind < argc) {
        annotate_usage(stderr);
        return 2;
    }
    json_t *verdicts = NULL;
    if (vfile) {
        FILE *f = strcmp(vfile, "-") == 0 ? NULL : fopen(vfile, "r");
        if (!f) {
            fprintf(stderr, "osrca annotate: --verdicts %s: %s\n", vfile,
                    strcmp(vfile, "-") == 0 ? "stdin carries the payload" : strerror(errno));
            return 2;
        }
        verdicts = read_verdicts(f, vfile);
        fclose(f);
    } else {
        verdicts = fetch_verdicts(from);
    }
    if (!verdicts)
        return 2;
    json_error_t je;
    json_t *payload = json_loadf(stdin, 0, &je);
    if (!json_is_object(payload) || !json_is_array(json_object_get(payload, "alerts"))) {
        if (payload)
            fputs("osrca annotate: stdin: expected an Alertmanager payload with an "
                  "\"alerts\" array\n", stderr);
        else
            fprintf(stderr, "osrca annotate: stdin: not JSON: line %d: %s\n", je.line, je.text);
        json_decref(payload);
        json_decref(verdicts);
        return 2;
    }
    size_t n = annotate_payload(payload, verdicts, window);
    json_dumpf(payload, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    fprintf(stderr, "osrca annotate: %zu of %zu alert%s annotated from %zu verdict%s\n", n,
            json_array_size(json_object_get(payload, "alerts")),
            json_array_size(json_object_get(payload, "alerts")) == 1 ? "" : "s",
            json_array_size(verdicts), json_array_size(verdicts) == 1 ? "" : "s");
    json_decref(payload);
    json_decref(verdicts);
    return 0;
}
