/* session.c -- clients' sessions by token fingerprint (see session.h).
 *
 * Sessions live in a fixed array; two small open-addressing maps find them:
 * by token fingerprint, and by the client connection (flow) that carries
 * their requests (an answer carries no token: its connection tells whose
 * it is). Both maps are rebuilt when tombstones pile up. */
#include "rca/session.h"

#include <stdlib.h>
#include <string.h>

#include "capture/flow.h"
#include "capture/str.h"

struct fmap_slot {
    uint64_t key; /* 0 empty, UINT64_MAX deleted */
    uint32_t sid;
};

struct session_table {
    struct session_cfg cfg;
    struct stats *st;
    struct session *s; /* slot i holds a live session when s[i].id != 0 */
    size_t cap, live;
    uint32_t next_id;
    char identity[32]; /* the service that answered clients' logins */
    uint16_t client_ports[64]; /* ports clients were seen sending requests to */
    size_t nports;
    struct fmap_slot *by_fp, *by_flow;
    size_t nmap; /* slots of each map, a power of two >= 4 * cap */
    uint64_t *c_new, *c_anon, *c_dropped, *c_refusals_tied, *c_relogins;
    uint64_t local[5];
};

void session_defaults(struct session_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_sessions = 4096;
    cfg->idle_us = 600000000ull;
    cfg->poised_us = 2000000ull;
    cfg->polling_us = 6000000ull;
    cfg->burst_us = 20000ull;
    cfg->relogin_us = 200000ull;
}

static int is_client(const char *svc)
{
    return !svc || !strcmp(svc, "client");
}

/* ---- maps ---- */

static uint64_t mix(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return k;
}

static struct fmap_slot *map_find(struct fmap_slot *m, size_t n, uint64_t key, int for_insert)
{
    size_t mask = n - 1;
    struct fmap_slot *tomb = NULL;
    for (size_t i = mix(key) & mask, k = 0; k < n; i = (i + 1) & mask, k++) {
        struct fmap_slot *s = &m[i];
        if (s->key == 0)
            return for_insert ? (tomb ? tomb : s) : NULL;
        if (s->key == UINT64_MAX) {
            if (!tomb)
                tomb = s;
            continue;
        }
        if (s->key == key)
            return s;
    }
    return for_insert ? tomb : NULL;
}

static void map_put(struct fmap_slot *m, size_t n, uint64_t key, uint32_t sid)
{
    if (!key || key == UINT64_MAX)
        return;
    struct fmap_slot *s = map_find(m, n, key, 1);
    if (s) {
        s->key = key;
        s->sid = sid;
    }
}

static uint32_t map_get(struct fmap_slot *m, size_t n, uint64_t key)
{
    if (!key || key == UINT64_MAX)
        return 0;
    struct fmap_slot *s = map_find(m, n, key, 0);
    return s ? s->sid : 0;
}

/* Drop every entry that points at a session no longer alive. */
static void map_sweep(struct session_table *t, struct fmap_slot *m)
{
    for (size_t i = 0; i < t->nmap; i++) {
        if (m[i].key == 0 || m[i].key == UINT64_MAX)
            continue;
        if (!session_get(t, m[i].sid))
            m[i].key = UINT64_MAX;
    }
}

/* ---- table ---- */

struct session_table *session_table_new(const struct session_cfg *cfg, struct stats *st)
{
    struct session_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    if (cfg)
        t->cfg = *cfg;
    else
        session_defaults(&t->cfg);
    if (!t->cfg.max_sessions)
        t->cfg.max_sessions = 4096;
    t->cap = t->cfg.max_sessions;
    t->nmap = 4;
    while (t->nmap < 4 * t->cap)
        t->nmap *= 2;
    t->s = calloc(t->cap, sizeof(*t->s));
    t->by_fp = calloc(t->nmap, sizeof(*t->by_fp));
    t->by_flow = calloc(t->nmap, sizeof(*t->by_flow));
    t->st = st;
    uint64_t **cs[5] = {&t->c_new, &t->c_anon, &t->c_dropped, &t->c_refusals_tied,
                        &t->c_relogins};
    static const char *const names[5] = {"session.created", "session.anonymous",
                                         "session.dropped", "session.refusals_tied",
                                         "session.relogins_tied"};
    for (int i = 0; i < 5; i++)
        *cs[i] = st ? stats_counter(st, names[i]) : &t->local[i];
    if (!t->s || !t->by_fp || !t->by_flow) {
        session_table_free(t);
        return NULL;
    }
    return t;
}

void session_table_free(struct session_table *t)
{
    if (!t)
        return;
    free(t->s);
    free(t->by_fp);
    free(t->by_flow);
    free(t);
}

struct session *session_get(struct session_table *t, uint32_t id)
{
    if (!id)
        return NULL;
    struct session *s = &t->s[(id - 1) % t->cap];
    return s->id == id ? s : NULL;
}

/* A new session in the slot of id next_id (its previous holder, the
 * session made cap sessions ago, is dropped if still alive). */
static struct session *session_new(struct session_table *t, uint64_t fp, const char *addr,
                                   uint64_t ts)
{
    uint32_t id = ++t->next_id;
    if (!id)
        id = ++t->next_id;
    struct session *s = &t->s[(id - 1) % t->cap];
    if (s->id) {
        (*t->c_dropped)++;
        t->live--;
    }
    memset(s, 0, sizeof(*s));
    s->id = id;
    s->fp = fp;
    str_copy(s->addr, sizeof(s->addr), addr);
    s->first_us = s->last_us = ts;
    t->live++;
    (*t->c_new)++;
    if (fp)
        map_put(t->by_fp, t->nmap, fp, id);
    if ((id & 1023) == 0) {
        map_sweep(t, t->by_fp);
        map_sweep(t, t->by_flow);
    }
    return s;
}

static void touch(struct session *s, uint64_t ts)
{
    if (ts > s->last_us)
        s->last_us = ts;
}

static int mutating(const char *m)
{
    return m && strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0;
}

static int client_port(const struct session_table *t, uint16_t port)
{
    for (size_t i = 0; i < t->nports; i++)
        if (t->client_ports[i] == port)
            return 1;
    return 0;
}

static void note_port(struct session_table *t, uint16_t port)
{
    if (port && !client_port(t, port) && t->nports < sizeof(t->client_ports) / sizeof(t->client_ports[0]))
        t->client_ports[t->nports++] = port;
}

/* 1 when anonymous session s is in the burst of attempts still going
 * at now. */
static int in_burst(const struct session_table *t, const struct session *s, uint64_t now)
{
    return !s->fp && s->last_refusal_us && now >= s->last_refusal_us &&
           now - s->last_refusal_us <= t->cfg.burst_us;
}

/* The anonymous session of addr whose burst of attempts is still going
 * at now (*found = 1), else a new one (*found = 0). */
static struct session *anon_burst(struct session_table *t, const char *addr, uint64_t now,
                                  int *found)
{
    struct session *burst = NULL;
    for (size_t i = 0; i < t->cap; i++) {
        struct session *s = &t->s[i];
        if (s->id && !strcmp(s->addr, addr) && in_burst(t, s, now) &&
            (!burst || s->last_refusal_us > burst->last_refusal_us))
            burst = s;
    }
    *found = burst != NULL;
    if (!burst) {
        burst = session_new(t, 0, addr, now);
        (*t->c_anon)++;
    }
    return burst;
}

/* 1 when session s, its token just refused (its last answer a 401,
 * nothing awaiting an answer), may be logging in again at now: a client
 * does so at once (keystoneauth on a 401), and tries again at once when
 * that fails. */
static int relogging(const struct session_table *t, const struct session *s, uint64_t now)
{
    uint64_t ref = s->last_refusal_us > s->last_us ? s->last_refusal_us : s->last_us;
    return s->fp && s->last_status == 401 && !s->open && now >= ref &&
           now - ref <= t->cfg.relogin_us;
}

/* 1 when client session s (with a token) may have made connection
 * attempt ev: active just before it (longer when it polls a resource),
 * its last answer no server error, the service refused not its login's
 * (unless its token was just refused: then it logs in again). */
static int poised(const struct session_table *t, const struct session *s,
                  const struct event *ev)
{
    uint64_t now = ev->ts_us;
    uint64_t window = s->polling ? t->cfg.polling_us : t->cfg.poised_us;
    return s->fp && !strcmp(s->addr, ev->src.addr) && now >= s->last_us &&
           now - s->last_us <= window && s->last_status < 500 &&
           !(s->login_port && s->login_port == ev->dst.port && !relogging(t, s, now));
}

/* The session on addr logging in again at now (relogging), the latest
 * such; NULL when none. */
static struct session *relogin(struct session_table *t, const char *addr, uint64_t now)
{
    struct session *best = NULL;
    for (size_t i = 0; i < t->cap; i++) {
        struct session *s = &t->s[i];
        if (s->id && relogging(t, s, now) && !strcmp(s->addr, addr) &&
            (!best || s->last_us > best->last_us))
            best = s;
    }
    return best;
}

/* A client's login (or the version document before it) dropped or
 * answered 5xx: the session logging in again after a 401 (relogin), else
 * the anonymous session of that burst of attempts (a client that could
 * not log in: its attempts of one burst are one operation, a library
 * retries a dropped login). Returns its id. */
static uint32_t login_failed(struct session_table *t, const struct event *ev)
{
    struct session *r = relogin(t, ev->dst.addr, ev->req_ts_us ? ev->req_ts_us : ev->ts_us);
    if (r) {
        r->last_refusal_us = ev->ts_us;
        (*t->c_relogins)++;
        return r->id;
    }
    int found;
    struct session *a = anon_burst(t, ev->dst.addr, ev->ts_us, &found);
    a->last_refusal_us = ev->ts_us;
    return a->id;
}

static int op_is_list(const char *op)
{
    size_t n = op ? strlen(op) : 0;
    return n > 5 && !memcmp(op + n - 5, " list", 5);
}

/* 1 when query q filters by name (a lookup by the name a user typed). */
static int by_name(const char *q)
{
    for (const char *p = q; p && (p = strstr(p, "name")); p += 4)
        if ((p == q || p[-1] == '&' || p[-1] == '?') && (p[4] == '=' || p[4] == '~'))
            return 1;
    return 0;
}

/* Request ev (with s's token) moves s's command along (enum
 * session_read): its first read, then either reads of other lists to
 * show with it (aside_us marks where they began) or anything else. */
static void read_step(struct session *s, const struct event *ev)
{
    int get = ev->method && !strcmp(ev->method, "GET");
    uint64_t op = ev->operation ? str_fnv(0, ev->operation, strlen(ev->operation)) : 0;
    switch (s->read) {
    case SESSION_READ_NONE:
        s->read = get && op ? SESSION_READ_ASKED : SESSION_READ_OTHER;
        s->read_flow = ev->flow_id;
        s->read_us = ev->ts_us;
        s->read_op = op;
        s->aside_us = 0;
        return;
    case SESSION_READ_HAD:
        if (get && op && op != s->read_op && op_is_list(ev->operation) && !by_name(ev->query)) {
            if (!s->aside_us)
                s->aside_us = ev->ts_us;
            return;
        }
        break;
    default:
        break;
    }
    s->read = SESSION_READ_OTHER;
    s->aside_us = 0;
}

int session_aside(const struct session_table *t, uint32_t sid, uint64_t ts)
{
    if (!sid)
        return 0;
    const struct session *s = &t->s[(sid - 1) % t->cap];
    return s->id == sid && s->read == SESSION_READ_HAD && s->aside_us && s->aside_us <= ts;
}

uint32_t session_observe(struct session_table *t, const struct event *ev)
{
    if (ev->kind == EV_HTTP_REQUEST) {
        if (!is_client(ev->src.service))
            return 0;
        note_port(t, ev->dst.port);
        if (!ev->token_fp[0])
            return 0; /* a login or a version document: the answer tells */
        uint32_t sid = map_get(t->by_fp, t->nmap, ev->token_fp[0]);
        struct session *s = session_get(t, sid);
        if (!s)
            s = session_new(t, ev->token_fp[0], ev->src.addr, ev->ts_us);
        if (!s->burst_us || ev->ts_us > s->last_us + SESSION_BURST_US) {
            s->burst_us = ev->ts_us;
            s->read = SESSION_READ_NONE; /* a new command */
        }
        read_step(s, ev);
        s->open++;
        s->requests++;
        s->polling = s->op_us && ev->method && !strcmp(ev->method, "GET");
        touch(s, ev->ts_us);
        map_put(t->by_flow, t->nmap, ev->flow_id, s->id);
        /* the operation: its first request, unless a later one changes
         * something (a delete's GET of the server, then its DELETE) */
        if (ev->operation && (!s->op[0] || (mutating(ev->method) && !s->op_us))) {
            str_copy(s->op, sizeof(s->op), ev->operation);
            s->op_rid[0] = '\0';
            if (mutating(ev->method))
                s->op_us = ev->ts_us;
        }
        return s->id;
    }
    if (ev->kind != EV_HTTP_RESPONSE || !is_client(ev->dst.service))
        return 0;
    int failed = (ev->flags & EV_F_NO_ANSWER) || ev->status >= 500;
    if (event_is_login(ev)) {
        if (failed)
            return login_failed(t, ev);
        if (ev->status < 200 || ev->status >= 300 || !ev->subject_fp)
            return 0;
        struct session *s = session_get(t, map_get(t->by_fp, t->nmap, ev->subject_fp));
        if (!s)
            s = session_new(t, ev->subject_fp, ev->dst.addr, ev->ts_us);
        if (ev->src.service)
            str_copy(t->identity, sizeof(t->identity), ev->src.service);
        str_copy(s->login_rid, sizeof(s->login_rid), ev->request_id ? ev->request_id : "");
        s->login_port = ev->src.port;
        s->burst_us = ev->req_ts_us && ev->req_ts_us <= ev->ts_us ? ev->req_ts_us : ev->ts_us;
        str_copy(s->user, sizeof(s->user), ev->ctx_user ? ev->ctx_user : "");
        str_copy(s->project, sizeof(s->project), ev->ctx_project ? ev->ctx_project : "");
        touch(s, ev->ts_us);
        return s->id;
    }
    struct session *s = session_get(t, map_get(t->by_flow, t->nmap, ev->flow_id));
    if (!s) {
        /* no token on that connection: the version document a login
         * begins with, failing like the login would */
        if (failed && ev->src.service && !strcmp(ev->src.service, session_identity(t)))
            return login_failed(t, ev);
        return 0;
    }
    if (s->read == SESSION_READ_ASKED && ev->flow_id == s->read_flow && ev->req_ts_us == s->read_us)
        s->read = ev->status >= 200 && ev->status < 300 ? SESSION_READ_HAD : SESSION_READ_OTHER;
    if (s->open)
        s->open--;
    s->last_status = ev->status;
    touch(s, ev->ts_us);
    if (s->op[0] && !s->op_rid[0] && ev->request_id && ev->operation &&
        !strcmp(ev->operation, s->op))
        str_copy(s->op_rid, sizeof(s->op_rid), ev->request_id);
    return s->id;
}

uint32_t session_for_refusal(struct session_table *t, const struct event *ev)
{
    struct session *s = NULL;
    for (size_t i = 0; i < t->cap; i++) {
        struct session *o = &t->s[i];
        if (o->id && !o->open && poised(t, o, ev) && (!s || o->last_us > s->last_us))
            s = o;
    }
    /* at its login service: it is logging in again (poised says when) */
    if (s && s->login_port && s->login_port == ev->dst.port)
        (*t->c_relogins)++;
    /* none poised: an anonymous session takes the refusals of its burst */
    int found = 1;
    if (!s)
        s = anon_burst(t, ev->src.addr, ev->ts_us, &found);
    if (found)
        (*t->c_refusals_tied)++;
    s->last_refusal_us = ev->ts_us;
    return s->id;
}

uint32_t session_silent_after(struct session_table *t, const struct event *ev, uint32_t not_id)
{
    const struct session *best = NULL;
    for (size_t i = 0; i < t->cap; i++) {
        const struct session *s = &t->s[i];
        if (s->id && s->id != not_id && poised(t, s, ev) && (!best || s->last_us > best->last_us))
            best = s;
    }
    return best ? best->id : 0;
}

size_t session_siblings(struct session_table *t, const struct event *ev, uint32_t not_id,
                        uint32_t *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < t->cap && n < max; i++) {
        const struct session *s = &t->s[i];
        /* no request made: not polling, the poised window itself */
        if (s->id && s->id != not_id && !s->requests && !s->verdicts && poised(t, s, ev))
            out[n++] = s->id;
    }
    return n;
}

const char *session_identity(const struct session_table *t)
{
    return t->identity[0] ? t->identity : "keystone";
}

void session_expire(struct session_table *t, uint64_t now)
{
    for (size_t i = 0; i < t->cap; i++) {
        struct session *s = &t->s[i];
        if (s->id && now > s->last_us && now - s->last_us > t->cfg.idle_us) {
            s->id = 0;
            t->live--;
        }
    }
}
