/* score.c -- precision and recall of `osrca analyze --format json` verdicts
 * against the ground truth written by gen.c.
 *
 * Spec: the truth file of tests/bench/gen.c (one line per copy: index,
 * template, service, host, kind, start, comma-separated req-<uuid> ids) and
 * the analyzer's JSON lines ({"type":"verdict", "request_id", ...,
 * "root_cause":{"service","host"}, "chain":[{"request_id",
 * "global_request_id"} or {"event":{"request_id", "global_request_id"}}...]},
 * other types ignored).
 *
 * A verdict is attributed to the copy owning the first of its ids found in
 * the truth (request_id, global_request_id, then the chain's ids in order);
 * failing that, to the copy whose client flow (truth column 8: port:first:
 * last) carried the first chain event that has src/dst port and ts_us.
 * True positive: the copy is faulty, root_cause.service equals the copy's
 * expected service and, when the truth names a host, root_cause.host equals
 * it. Anything else is a false positive (fault-free copy, wrong service,
 * wrong host, unattributable). precision = TP / verdicts; recall = faulty
 * copies with at least one TP / faulty copies. A chain whose request ids or
 * client flows belong to more than one copy is counted as "mixing copies"
 * (messages of unrelated operations stitched together), whatever its
 * verdict.
 *
 * A copy whose truth line ends in "cut" (column 9, gen --warm) began before
 * the capture: its first packets are not in it. It is left out of recall,
 * and the verdicts attributed to it are left out of precision and counted
 * on their own line (those naming its service and host; those naming
 * another; those on a fault-free one): what the analyzer makes of half an
 * operation is shown, not scored.
 *
 * Output ends with a machine-readable line:
 *   score: precision=P recall=R verdicts=V tp=T faulty=F detected=D
 * (P and R as fractions, -1 when undefined). Exit 0, or 2 on a usage or
 * read error. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCORE_MAX_TMPL 256
#define SCORE_WRONG_KEEP 4

struct score_copy {
    uint32_t tmpl;
    char service[64], host[64];
    int faulty;
    int cut; /* began before the capture (gen --warm): not scored */
    int detected;
};

struct score_wrong {
    char what[160];
    uint64_t n;
};

struct score_tmpl {
    char name[128];
    uint64_t copies, faulty, detected, verdicts, tp, fp;
    struct score_wrong wrong[SCORE_WRONG_KEEP];
};

struct score_flow {
    int64_t first, last;
    uint32_t copy;
};

struct score_port {
    struct score_flow *f;
    size_t n, cap;
};

struct score {
    struct score_copy *c;
    size_t nc, capc;
    struct score_tmpl t[SCORE_MAX_TMPL];
    size_t nt;
    /* req id -> copy: open addressing over copies of the id strings */
    char **key;
    uint32_t *val;
    size_t cap, used;
    /* client port -> flows of the copies that used it */
    struct score_port port[65536];
    /* totals */
    uint64_t verdicts, tp, fp_clean, fp_service, fp_host, fp_unattr, mixed, by_flow, bad_lines;
    uint64_t cut_right, cut_other, cut_clean; /* verdicts on cut copies */
    int verbose;
    unsigned shown;
};

static void *score_xrealloc(void *p, size_t n, size_t sz)
{
    if (sz && n > SIZE_MAX / sz) {
        fputs("score: allocation overflow\n", stderr);
        exit(2);
    }
    size_t bytes = n * sz;
    void *q = realloc(p, bytes ? bytes : 1);
    if (!q) {
        fputs("score: out of memory\n", stderr);
        exit(2);
    }
    return q;
}

static uint64_t score_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* Slot of key s[0..n) in the table: its slot, or the empty slot where it
 * would go. The table is never full (load <= 1/2). */
static size_t score_slot(const struct score *sc, const char *s, size_t n)
{
    size_t i = (size_t)score_hash(s, n) & (sc->cap - 1);
    while (sc->key[i] && !(strlen(sc->key[i]) == n && memcmp(sc->key[i], s, n) == 0))
        i = (i + 1) & (sc->cap - 1);
    return i;
}

static void score_grow(struct score *sc)
{
    size_t ocap = sc->cap;
    char **okey = sc->key;
    uint32_t *oval = sc->val;
    sc->cap = ocap ? ocap * 2 : 1u << 16;
    sc->key = calloc(sc->cap, sizeof *sc->key);
    sc->val = calloc(sc->cap, sizeof *sc->val);
    if (!sc->key || !sc->val) {
        fputs("score: out of memory\n", stderr);
        exit(2);
    }
    for (size_t i = 0; i < ocap; i++)
        if (okey[i]) {
            size_t j = score_slot(sc, okey[i], strlen(okey[i]));
            sc->key[j] = okey[i];
            sc->val[j] = oval[i];
        }
    free(okey);
    free(oval);
}

/* Map id -> copy; an id already owned by another copy keeps its first
 * owner (gen.c makes that astronomically unlikely). */
static void score_put(struct score *sc, const char *s, size_t n, uint32_t copy)
{
    if ((sc->used + 1) * 2 > sc->cap)
        score_grow(sc);
    size_t i = score_slot(sc, s, n);
    if (sc->key[i])
        return;
    char *k = malloc(n + 1);
    if (!k) {
        fputs("score: out of memory\n", stderr);
        exit(2);
    }
    memcpy(k, s, n);
    k[n] = '\0';
    sc->key[i] = k;
    sc->val[i] = copy;
    sc->used++;
}

/* Copy owning id s, or -1. */
static int64_t score_get(const struct score *sc, const char *s)
{
    if (!sc->cap || !s)
        return -1;
    size_t i = score_slot(sc, s, strlen(s));
    return sc->key[i] ? (int64_t)sc->val[i] : -1;
}

/* Next tab-separated field of *pp into dst (truncated to cap-1); returns
 * its full length, or -1 at the end of the line. */
static long score_field(char **pp, char *dst, size_t cap)
{
    char *p = *pp;
    if (!p)
        return -1;
    char *tab = strchr(p, '\t');
    size_t n = tab ? (size_t)(tab - p) : strcspn(p, "\r\n");
    if (cap) {
        size_t k = n < cap - 1 ? n : cap - 1;
        memcpy(dst, p, k);
        dst[k] = '\0';
    }
    *pp = tab ? tab + 1 : NULL;
    return (long)n;
}

static int score_read_truth(struct score *sc, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "score: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t lcap = 0;
    unsigned long lineno = 0;
    while (getline(&line, &lcap, f) != -1) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        char idx[32], name[128], kind[32], start[40];
        struct score_copy c;
        memset(&c, 0, sizeof c);
        size_t len = strcspn(line, "\r\n");
        c.cut = len >= 4 && memcmp(line + len - 4, "\tcut", 4) == 0;
        char *p = line;
        if (score_field(&p, idx, sizeof idx) < 0 || score_field(&p, name, sizeof name) < 0 ||
            score_field(&p, c.service, sizeof c.service) < 0 ||
            score_field(&p, c.host, sizeof c.host) < 0 || score_field(&p, kind, sizeof kind) < 0 ||
            score_field(&p, start, sizeof start) < 0 || !p) {
            fprintf(stderr, "score: %s:%lu: expected 7 tab-separated fields\n", path, lineno);
            free(line);
            fclose(f);
            return -1;
        }
        c.faulty = strcmp(c.service, "-") != 0;
        size_t ti;
        for (ti = 0; ti < sc->nt; ti++)
            if (strcmp(sc->t[ti].name, name) == 0)
                break;
        if (ti == sc->nt) {
            if (sc->nt == SCORE_MAX_TMPL) {
                fprintf(stderr, "score: %s: more than %d templates\n", path, SCORE_MAX_TMPL);
                free(line);
                fclose(f);
                return -1;
            }
            snprintf(sc->t[ti].name, sizeof sc->t[ti].name, "%s", name);
            sc->nt++;
        }
        c.tmpl = (uint32_t)ti;
        if (!c.cut) {
            sc->t[ti].copies++;
            sc->t[ti].faulty += (uint64_t)c.faulty;
        }
        if (sc->nc == sc->capc) {
            sc->capc = sc->capc ? sc->capc * 2 : 1024;
            sc->c = score_xrealloc(sc->c, sc->capc, sizeof *sc->c);
        }
        uint32_t ci = (uint32_t)sc->nc;
        sc->c[sc->nc++] = c;
        /* request ids, comma separated */
        char *tab = strchr(p, '\t');
        size_t n = tab ? (size_t)(tab - p) : strcspn(p, "\r\n");
        size_t i = 0;
        while (i < n) {
            size_t j = i;
            while (j < n && p[j] != ',')
                j++;
            if (j > i && !(j - i == 1 && p[i] == '-'))
                score_put(sc, p + i, j - i, ci);
            i = j + 1;
        }
        /* optional: client flows port:first:last, comma separated */
        for (p = tab ? tab + 1 : NULL; p && *p && *p != '\n' && *p != '\r';) {
            char *end;
            errno = 0;
            unsigned long port = strtoul(p, &end, 10);
            if (errno || *end != ':' || port > 65535)
                break;
            long long first = strtoll(end + 1, &end, 10);
            if (errno || *end != ':')
                break;
            long long last = strtoll(end + 1, &end, 10);
            if (errno)
                break;
            struct score_port *sp = &sc->port[port];
            if (sp->n == sp->cap) {
                sp->cap = sp->cap ? sp->cap * 2 : 4;
                sp->f = score_xrealloc(sp->f, sp->cap, sizeof *sp->f);
            }
            sp->f[sp->n].first = first;
            sp->f[sp->n].last = last;
            sp->f[sp->n].copy = ci;
            sp->n++;
            p = *end == ',' ? end + 1 : NULL;
        }
    }
    free(line);
    fclose(f);
    return 0;
}

static const char *score_str(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Copy whose client flow on port was alive at ts, or -1. */
static int64_t score_flow_owner(const struct score *sc, json_int_t port, json_int_t ts)
{
    if (port <= 0 || port > 65535)
        return -1;
    const struct score_port *sp = &sc->port[port];
    for (size_t i = 0; i < sp->n; i++)
        if (sp->f[i].first <= ts && ts <= sp->f[i].last)
            return sp->f[i].copy;
    return -1;
}

/* Copy owning a chain event through its client port and time, or -1. */
static int64_t score_event_flow_owner(const struct score *sc, json_t *ev)
{
    json_t *ts = json_object_get(ev, "ts_us");
    if (!json_is_integer(ts))
        return -1;
    const char *ends[2] = {"src", "dst"};
    for (int i = 0; i < 2; i++) {
        json_t *port = json_object_get(json_object_get(ev, ends[i]), "port");
        if (!json_is_integer(port))
            continue;
        int64_t o = score_flow_owner(sc, json_integer_value(port), json_integer_value(ts));
        if (o >= 0)
            return o;
    }
    return -1;
}

static void score_note_wrong(struct score_tmpl *t, const char *svc, const char *host)
{
    char what[160];
    snprintf(what, sizeof what, "%s@%s", svc ? svc : "(none)", host ? host : "-");
    for (int i = 0; i < SCORE_WRONG_KEEP; i++) {
        if (t->wrong[i].n && strcmp(t->wrong[i].what, what) == 0) {
            t->wrong[i].n++;
            return;
        }
        if (!t->wrong[i].n) {
            snprintf(t->wrong[i].what, sizeof t->wrong[i].what, "%s", what);
            t->wrong[i].n = 1;
            return;
        }
    }
}

enum { SCORE_RIGHT, SCORE_CLEAN, SCORE_SERVICE, SCORE_HOST };
static const char *const score_wrong_name[] = {NULL, "fault-free copy", "wrong service",
                                               "wrong host"};

/* What a verdict naming svc@host is for copy c: SCORE_RIGHT, or why not. */
static int score_wrong(const struct score_copy *c, const char *svc, const char *host)
{
    if (!c->faulty)
        return SCORE_CLEAN;
    if (!svc || strcmp(svc, c->service) != 0)
        return SCORE_SERVICE;
    if (strcmp(c->host, "-") != 0 && (!host || strcmp(host, c->host) != 0))
        return SCORE_HOST;
    return SCORE_RIGHT;
}

/* Score one verdict object. */
static void score_verdict(struct score *sc, json_t *v, const char *line)
{
    int64_t owner = -1;
    int mixed = 0;
    const char *first[2] = {score_str(v, "request_id"), score_str(v, "global_request_id")};
    for (int i = 0; i < 2 && owner < 0; i++)
        owner = score_get(sc, first[i]);
    json_t *chain = json_object_get(v, "chain");
    size_t k;
    json_t *m;
    if (json_is_array(chain)) {
        json_array_foreach(chain, k, m) {
            /* ids on the chain element itself or on its "event" object */
            json_t *ev = json_object_get(m, "event");
            const char *ids[4] = {score_str(m, "request_id"), score_str(m, "global_request_id"),
                                  json_is_object(ev) ? score_str(ev, "request_id") : NULL,
                                  json_is_object(ev) ? score_str(ev, "global_request_id") : NULL};
            for (int i = 0; i < 4; i++) {
                int64_t o = score_get(sc, ids[i]);
                if (o < 0)
                    continue;
                if (owner < 0)
                    owner = o;
                else if (o != owner)
                    mixed = 1;
            }
        }
    }
    /* the copies of the chain's messages by client port and time */
    int64_t flow_first = -1;
    if (json_is_array(chain)) {
        json_array_foreach(chain, k, m) {
            json_t *ev = json_object_get(m, "event");
            int64_t o = score_event_flow_owner(sc, json_is_object(ev) ? ev : m);
            if (o < 0)
                continue;
            if (flow_first < 0)
                flow_first = o;
            if (owner >= 0 && o != owner)
                mixed = 1;
            else if (owner < 0 && o != flow_first)
                mixed = 1;
        }
    }
    if (owner < 0 && flow_first >= 0) {
        owner = flow_first;
        sc->by_flow++;
    }
    json_t *rc = json_object_get(v, "root_cause");
    const char *svc = json_is_object(rc) ? score_str(rc, "service") : NULL;
    const char *host = json_is_object(rc) ? score_str(rc, "host") : NULL;
    const char *why = NULL;
    if (owner >= 0 && sc->c[owner].cut) {
        const struct score_copy *c = &sc->c[owner];
        int w = score_wrong(c, svc, host);
        if (w == SCORE_RIGHT) {
            sc->cut_right++;
        } else if (w == SCORE_CLEAN) {
            sc->cut_clean++;
            why = "cut copy, fault-free";
        } else {
            sc->cut_other++;
            why = "cut copy, other service@host";
        }
        if (why && sc->verbose && sc->shown < 20) {
            sc->shown++;
            fprintf(stderr, "score: %s: copy %" PRId64 " %s: %.300s\n", why, owner,
                    sc->t[c->tmpl].name, line);
        }
        return;
    }
    sc->verdicts++;
    sc->mixed += (uint64_t)mixed;
    if (owner < 0) {
        sc->fp_unattr++;
        why = "unattributable";
    } else {
        struct score_copy *c = &sc->c[owner];
        struct score_tmpl *t = &sc->t[c->tmpl];
        t->verdicts++;
        int w = score_wrong(c, svc, host);
        sc->fp_clean += w == SCORE_CLEAN;
        sc->fp_service += w == SCORE_SERVICE;
        sc->fp_host += w == SCORE_HOST;
        why = score_wrong_name[w];
        if (why) {
            t->fp++;
            score_note_wrong(t, svc, host);
        } else {
            t->tp++;
            sc->tp++;
            if (!c->detected) {
                c->detected = 1;
                t->detected++;
            }
        }
    }
    if (!why && mixed)
        why = "correct, but the chain mixes copies";
    if (why && sc->verbose && sc->shown < 20) {
        sc->shown++;
        fprintf(stderr, "score: %s: copy %" PRId64 " %s: %.300s\n", why, owner,
                owner >= 0 ? sc->t[sc->c[owner].tmpl].name : "-", line);
    }
}

static int score_read_verdicts(struct score *sc, const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) {
        fprintf(stderr, "score: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t lcap = 0;
    ssize_t n;
    while ((n = getline(&line, &lcap, f)) != -1) {
        if (n <= 1)
            continue;
        json_error_t je;
        json_t *v = json_loadb(line, (size_t)n, 0, &je);
        if (!json_is_object(v)) {
            sc->bad_lines++;
            json_decref(v);
            continue;
        }
        const char *type = score_str(v, "type");
        if (type && strcmp(type, "verdict") == 0)
            score_verdict(sc, v, line);
        json_decref(v);
    }
    free(line);
    if (f != stdin)
        fclose(f);
    return 0;
}

static void score_pct(char *buf, size_t n, uint64_t a, uint64_t b)
{
    if (b == 0)
        snprintf(buf, n, "n/a");
    else
        snprintf(buf, n, "%.2f%%", 100.0 * (double)a / (double)b);
}

int main(int argc, char **argv)
{
    static struct score sc;
    int ai = 1;
    if (ai < argc && strcmp(argv[ai], "-v") == 0) {
        sc.verbose = 1;
        ai++;
    }
    if (argc - ai != 2) {
        fputs("usage: score [-v] TRUTH VERDICTS.jsonl   (VERDICTS '-' = stdin)\n", stderr);
        return 2;
    }
    if (score_read_truth(&sc, argv[ai]) || score_read_verdicts(&sc, argv[ai + 1]))
        return 2;
    uint64_t faulty = 0, detected = 0, ncut = 0;
    for (size_t i = 0; i < sc.nc; i++) {
        if (sc.c[i].cut) {
            ncut++;
            continue;
        }
        faulty += (uint64_t)sc.c[i].faulty;
        detected += (uint64_t)sc.c[i].detected;
        if (sc.verbose && sc.c[i].faulty && !sc.c[i].detected && sc.shown < 40) {
            sc.shown++;
            fprintf(stderr, "score: missed copy %zu %s (expected %s@%s)\n", i,
                    sc.t[sc.c[i].tmpl].name, sc.c[i].service, sc.c[i].host);
        }
    }
    uint64_t fp = sc.fp_clean + sc.fp_service + sc.fp_host + sc.fp_unattr;
    char p[32], r[32];
    score_pct(p, sizeof p, sc.tp, sc.verdicts);
    score_pct(r, sizeof r, detected, faulty);
    printf("%-40s %7s %7s %8s %7s %7s %9s  %s\n", "template", "copies", "faulty", "verdicts",
           "tp", "fp", "recall", "wrong answers (service@host x count)");
    size_t order[SCORE_MAX_TMPL];
    for (size_t i = 0; i < sc.nt; i++) { /* print by name: insertion sort */
        size_t j = i;
        while (j > 0 && strcmp(sc.t[order[j - 1]].name, sc.t[i].name) > 0) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    for (size_t oi = 0; oi < sc.nt; oi++) {
        const struct score_tmpl *t = &sc.t[order[oi]];
        char rr[32];
        score_pct(rr, sizeof rr, t->detected, t->faulty);
        printf("%-40s %7" PRIu64 " %7" PRIu64 " %8" PRIu64 " %7" PRIu64 " %7" PRIu64 " %9s ",
               t->name, t->copies, t->faulty, t->verdicts, t->tp, t->fp, rr);
        for (int k = 0; k < SCORE_WRONG_KEEP && t->wrong[k].n; k++)
            printf(" %s x%" PRIu64, t->wrong[k].what, t->wrong[k].n);
        putchar('\n');
    }
    printf("score: copies=%" PRIu64 " faulty=%" PRIu64 " detected=%" PRIu64 "\n", sc.nc - ncut,
           faulty, detected);
    if (ncut)
        printf("score: cut copies (began before the capture, not scored)=%" PRIu64
               ", verdicts on them: their service@host %" PRIu64 ", another %" PRIu64
               ", on a fault-free one %" PRIu64 "\n",
               ncut, sc.cut_right, sc.cut_other, sc.cut_clean);
    printf("score: verdicts=%" PRIu64 " tp=%" PRIu64 " fp=%" PRIu64 " (fault-free copy %" PRIu64
           ", wrong service %" PRIu64 ", wrong host %" PRIu64 ", unattributable %" PRIu64
           ")\nscore: chains mixing copies=%" PRIu64 " attributed by port+time only=%" PRIu64
           " unparsable lines=%" PRIu64 "\n",
           sc.verdicts, sc.tp, fp, sc.fp_clean, sc.fp_service, sc.fp_host, sc.fp_unattr,
           sc.mixed, sc.by_flow, sc.bad_lines);
    printf("score: precision %s  recall %s\n", p, r);
    printf("score: precision=%.4f recall=%.4f verdicts=%" PRIu64 " tp=%" PRIu64
           " faulty=%" PRIu64 " detected=%" PRIu64 "\n",
           sc.verdicts ? (double)sc.tp / (double)sc.verdicts : -1.0,
           faulty ? (double)detected / (double)faulty : -1.0, sc.verdicts, sc.tp, faulty,
           detected);
    for (size_t i = 0; i < 65536; i++)
        free(sc.port[i].f);
    for (size_t i = 0; i < sc.cap; i++)
        free(sc.key[i]);
    free(sc.key);
    free(sc.val);
    free(sc.c);
    return 0;
}
