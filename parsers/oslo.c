/* oslo.c -- oslo.messaging over AMQP 0-9-1: body decoding (envelope 2.0 /
 * 1.0, calls, casts, replies with remote failures, notifications) and the
 * connection-ownership knowledge of oslo_amqp_ops (PROTOCOLS.md §1.6, §2;
 * oslo.messaging _drivers/common.py serialize_msg / serialize_remote_exception,
 * amqpdriver.py, notify/notifier.py; kombu compression.py). See oslo.h.
 *
 * Bodies are decoded with parsers/jv.h into one document per body: the
 * outer envelope, the inner message (a JSON string inside the envelope:
 * read in the same pass as the envelope when it holds no escapes of its
 * own, jv_cfg.embedded_key; else unescaped and parsed on its own) and a
 * failure (a JSON string inside the reply): three trees at most, each of a
 * length already capped, freed together.
 *
 * Secrets: the trees never leave oslo_decode. What does is (a) strings
 * copied by ev_text / ev_message / set_traceback_list, each masked by
 * redact_text as it is copied, and (b) resource UUIDs picked by uwalk,
 * which never reads a member whose key names a secret (redact.h) or a
 * "token" member. The members nothing reads (the service catalog, a
 * password in the arguments, _context_auth_token) are never copied, so
 * they are not rewritten either: scrubbing whole trees cost ~8 % of the
 * run time and kept nothing more out. */
#include "parsers/oslo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "parsers/jv.h"
#include "parsers/redact.h"
#include "capture/str.h"

void oslo_defaults(struct oslo_cfg *cfg)
{
    cfg->max_envelope = 4 * 1024 * 1024;
    cfg->max_inflated = 4 * 1024 * 1024;
    cfg->max_traceback = 4096;
    cfg->max_message = 2048;
    cfg->max_uuid_nodes = 4096;
    cfg->max_calls = 4096;
    cfg->max_reply_qs = 1024;
    cfg->call_ttl_us = 3600ULL * 1000000ULL;
    cfg->reply_q_ttl_us = 24ULL * 3600ULL * 1000000ULL;
    cfg->reuse_bodies = 1;
    amqp_defaults(&cfg->amqp);
}

/* Counters and diagnostics a body's decoding raised: the memo (see
 * decode_body) keeps only decodings that raised none but the secrets'. */
static _Thread_local unsigned long decode_notes;
static _Thread_local int decode_secrets;

static void bump(struct stats *st, const char *name)
{
    decode_notes++;
    if (st)
        stats_add(st, name, 1);
}

/* ---- small string helpers ------------------------------------------- */

/* [s, s+n) starts / ends with [lit, lit+m); the macros below take a
 * string literal and its length at compile time. */
static inline int has_prefix_n(const char *s, size_t n, const char *lit, size_t m)
{
    return n >= m && memcmp(s, lit, m) == 0;
}

static inline int has_suffix_n(const char *s, size_t n, const char *lit, size_t m)
{
    return n >= m && (m == 0 || s[n - 1] == lit[m - 1]) && memcmp(s + n - m, lit, m) == 0;
}

#define has_prefix(s, n, lit) has_prefix_n(s, n, "" lit, sizeof(lit) - 1)
#define has_suffix(s, n, lit) has_suffix_n(s, n, "" lit, sizeof(lit) - 1)

/* Copy at most cap bytes of [s, s+n) into ev (cut on a UTF-8 character
 * boundary), then mask any secret left in the text. */
static const char *ev_text(struct event *ev, const char *s, size_t n, size_t cap)
{
    if (!s)
        return NULL;
    if (n > cap) {
        n = cap;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    char *c = event_str(ev, s, n);
    if (c)
        redact_text_n(c, n);
    return c;
}

#define ID_CAP 255

static const char *ev_jstr(struct event *ev, const struct jv *v, size_t cap)
{
    if (!jv_is_string(v))
        return NULL;
    return ev_text(ev, jv_str(v), jv_strlen(v), cap);
}

static const char *ev_member(struct event *ev, const struct jv *o, const char *k, size_t cap)
{
    return ev_jstr(ev, jv_get(o, k), cap);
}

/* First member of object o whose key ends with [sfx, sfx+n) (".name" of
 * nova_object.name, ".data" of versioned_object.data, ...). */
static struct jv *member_suffix_n(const struct jv *o, const char *sfx, size_t n)
{
    struct jv *v;
    JV_FOREACH(o, v) {
        if (has_suffix_n(jv_key(v), jv_keylen(v), sfx, n))
            return v;
    }
    return NULL;
}

#define member_suffix(o, lit) member_suffix_n(o, "" lit, sizeof(lit) - 1)

/* Is [s, s+n) exactly the string literal lit? */
#define eq_lit(s, n, lit) ((n) == sizeof(lit) - 1 && memcmp(s, "" lit, sizeof(lit) - 1) == 0)

/* ---- resource UUIDs -------------------------------------------------- */

struct ucand {
    const char *s;
    size_t n;
    uint8_t res;
};

struct ucoll {
    struct ucand c[64];
    size_t n;
    size_t budget;
    size_t secrets; /* secret members not looked into */
};

/* A member uwalk must not read: a secret key (redact.h) or "token" (a
 * keystone token as a string, or an object whose id is the token). */
static int member_is_secret(const char *k, size_t kn)
{
    return (kn == 5 && memcmp(k, "token", 5) == 0) || redact_key_is_secret_n(k, kn);
}

static enum ev_res res_of_word(const char *w, size_t n)
{
#define W(lit, res) {lit, sizeof(lit) - 1, res}
    static const struct {
        const char *w;
        size_t n;
        enum ev_res r;
    } map[] = {
        W("instance", EV_RES_INSTANCE),   W("server", EV_RES_INSTANCE),
        W("image", EV_RES_IMAGE),         W("image_ref", EV_RES_IMAGE),
        W("flavor", EV_RES_FLAVOR),       W("port", EV_RES_PORT),
        W("network", EV_RES_NETWORK),     W("net", EV_RES_NETWORK),
        W("volume", EV_RES_VOLUME),       W("boot_volume", EV_RES_VOLUME),
        W("attachment", EV_RES_ATTACHMENT), W("project", EV_RES_PROJECT),
        W("tenant", EV_RES_PROJECT),      W("user", EV_RES_USER),
        W("resource_provider", EV_RES_PROVIDER), W("provider", EV_RES_PROVIDER),
        W("rp", EV_RES_PROVIDER),         W("compute_node", EV_RES_PROVIDER),
        W("consumer", EV_RES_CONSUMER),
    };
#undef W
    /* the lengths of the words above (bit n: one has n bytes): most keys
     * (nova_object.data, ...) have none of them */
    static uint32_t lens;
    if (!lens)
        for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
            lens |= 1u << map[i].n;
    if (n >= 32 || !(lens >> n & 1))
        return EV_RES_UNKNOWN;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (map[i].n == n && map[i].w[0] == w[0] && memcmp(map[i].w, w, n) == 0)
            return map[i].r;
    return EV_RES_UNKNOWN;
}

/* What an object's "*.name" (nova_object.name, versioned_object.name) says
 * its uuid/id member names. */
static enum ev_res res_of_objname(const char *s, size_t n)
{
    if (eq_lit(s, n, "Instance") ||
        (has_prefix(s, n, "Instance") && has_suffix(s, n, "Payload")))
        return EV_RES_INSTANCE;
    if (has_prefix(s, n, "ImageMeta"))
        return EV_RES_IMAGE;
    if (has_prefix(s, n, "Flavor"))
        return EV_RES_FLAVOR;
    if (eq_lit(s, n, "ComputeNode"))
        return EV_RES_PROVIDER;
    if (eq_lit(s, n, "Volume"))
        return EV_RES_VOLUME;
    if (eq_lit(s, n, "VolumeAttachment"))
        return EV_RES_ATTACHMENT;
    if (eq_lit(s, n, "Port"))
        return EV_RES_PORT;
    if (eq_lit(s, n, "Network"))
        return EV_RES_NETWORK;
    return EV_RES_UNKNOWN;
}

/* Resource named by key k holding a UUID; -1 when the key does not name an
 * id at all. ctx is what the enclosing object is. */
static int res_of_key(const char *k, size_t n, enum ev_res ctx)
{
    if (eq_lit(k, n, "uuid") || eq_lit(k, n, "id"))
        return ctx;
    if (eq_lit(k, n, "message_id") || eq_lit(k, n, "request_id") ||
        eq_lit(k, n, "global_request_id") || eq_lit(k, n, "msg_id"))
        return -1;
    if (eq_lit(k, n, "image_ref") || eq_lit(k, n, "base_image_ref"))
        return EV_RES_IMAGE;
    static const struct {
        const char *s;
        size_t n;
    } sfx[] = {{"_uuids", 6}, {"_ids", 4}, {"_uuid", 5}, {"_id", 3}};
    for (size_t i = 0; i < 4; i++) {
        if (n > sfx[i].n && has_suffix_n(k, n, sfx[i].s, sfx[i].n))
            return res_of_word(k, n - sfx[i].n);
    }
    return -1;
}

static void ucoll_add(struct ucoll *u, const char *s, size_t n, int res)
{
    if (u->n >= sizeof(u->c) / sizeof(u->c[0]) || !event_is_uuid(s, n))
        return;
    u->c[u->n].s = s;
    u->c[u->n].n = n;
    u->c[u->n].res = (uint8_t)res;
    u->n++;
}

static void uwalk(struct ucoll *u, const struct jv *v, enum ev_res ctx, unsigned depth)
{
    if (depth > 32 || u->budget == 0)
        return;
    u->budget--;
    const struct jv *x;
    if (jv_is_array(v)) {
        JV_FOREACH(v, x) {
            if (u->budget == 0)
                return;
            if (jv_is_container(x))
                uwalk(u, x, ctx, depth + 1);
        }
        return;
    }
    if (!jv_is_object(v))
        return;
    enum ev_res objres = ctx;
    const struct jv *nm = member_suffix(v, ".name");
    if (jv_is_string(nm))
        objres = res_of_objname(jv_str(nm), jv_strlen(nm));
    JV_FOREACH(v, x) {
        if (u->budget == 0)
            return;
        u->budget--;
        const char *k = jv_key(x);
        size_t kn = jv_keylen(x);
        if (kn && k[0] == '_')
            continue; /* oslo internals and _context_* */
        if (jv_is_string(x)) {
            size_t sl = jv_strlen(x);
            if (sl != 32 && sl != 36)
                continue; /* no UUID (event_is_uuid): skip the key tests */
            if (member_is_secret(k, kn)) {
                u->secrets++;
                continue;
            }
            int r = res_of_key(k, kn, objres);
            if (r >= 0)
                ucoll_add(u, jv_str(x), sl, r);
        } else if (jv_is_container(x) && member_is_secret(k, kn)) {
            u->secrets++;
        } else if (jv_is_array(x)) {
            int r = -1;
            if (has_suffix(k, kn, "_uuids") || has_suffix(k, kn, "_ids"))
                r = res_of_key(k, kn, EV_RES_UNKNOWN);
            const struct jv *e;
            JV_FOREACH(x, e) {
                if (u->budget == 0)
                    return;
                if (jv_is_string(e)) {
                    u->budget--;
                    if (r >= 0)
                        ucoll_add(u, jv_str(e), jv_strlen(e), r);
                } else if (jv_is_container(e)) {
                    uwalk(u, e, res_of_word(k, kn), depth + 1);
                }
            }
        } else if (jv_is_object(x)) {
            enum ev_res sub = has_suffix(k, kn, ".data") ? objres : res_of_word(k, kn);
            uwalk(u, x, sub, depth + 1);
        }
    }
}

static int res_rank(uint8_t r)
{
    static const int rank[EV_RES_COUNT] = {
        [EV_RES_INSTANCE] = 0, [EV_RES_IMAGE] = 1,    [EV_RES_VOLUME] = 2,
        [EV_RES_PORT] = 3,     [EV_RES_NETWORK] = 4,  [EV_RES_ATTACHMENT] = 5,
        [EV_RES_FLAVOR] = 6,   [EV_RES_CONSUMER] = 7, [EV_RES_PROVIDER] = 8,
        [EV_RES_UNKNOWN] = 9,  [EV_RES_PROJECT] = 10, [EV_RES_USER] = 11,
    };
    return r < EV_RES_COUNT ? rank[r] : 9;
}

/* Add collected UUIDs to ev, most useful resources first. */
static void ucoll_flush(struct ucoll *u, struct event *ev)
{
    for (int rank = 0; rank <= 11; rank++)
        for (size_t i = 0; i < u->n; i++)
            if (res_rank(u->c[i].res) == rank)
                event_add_uuid(ev, u->c[i].s, u->c[i].n, (enum ev_res)u->c[i].res);
}

/* ---- errors ---------------------------------------------------------- */

/* Message text without the remote traceback oslo appends to re-raised
 * exceptions ("msg\nTraceback (most recent call last):..."). */
static const char *ev_message(struct event *ev, const char *s, size_t n, size_t cap)
{
    static const char tb[] = "\nTraceback (most recent call last)";
    const char *cut = NULL;
    if (n >= sizeof(tb) - 1)
        cut = memmem(s, n, tb, sizeof(tb) - 1);
    if (cut) {
        n = (size_t)(cut - s);
        while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
            n--;
    }
    return ev_text(ev, s, n, cap);
}

/* Join the tb list of a remote failure into ev->traceback, capped. */
static void set_traceback_list(struct event *ev, const struct jv *tb, size_t cap)
{
    size_t total = 0;
    const struct jv *x;
    if (!jv_is_array(tb))
        return;
    JV_FOREACH(tb, x) {
        if (jv_is_string(x))
            total += jv_strlen(x);
        if (total >= cap)
            break;
    }
    if (total > cap)
        total = cap;
    char *buf = arena_alloc(&ev->arena, total + 1);
    if (!buf)
        return;
    size_t w = 0;
    JV_FOREACH(tb, x) {
        if (!jv_is_string(x))
            continue;
        size_t n = jv_strlen(x);
        if (n > total - w)
            n = total - w;
        memcpy(buf + w, jv_str(x), n);
        w += n;
        if (w >= total)
            break;
    }
    while (w > 0 && ((unsigned char)buf[w - 1] & 0xC0) == 0x80 && w == total)
        w--; /* do not end inside a UTF-8 sequence */
    buf[w] = '\0';
    redact_text(buf);
    ev->traceback = buf;
}

static void set_failure_obj(struct event *ev, const struct jv *f, const struct oslo_cfg *cfg,
                            struct ucoll *u)
{
    ev->error_class = ev_member(ev, f, "class", ID_CAP);
    ev->error_module = ev_member(ev, f, "module", ID_CAP);
    const struct jv *m = jv_get(f, "message");
    if (jv_is_string(m))
        ev->error_message = ev_message(ev, jv_str(m), jv_strlen(m), cfg->max_message);
    set_traceback_list(ev, jv_get(f, "tb"), cfg->max_traceback);
    const struct jv *kw = jv_get(f, "kwargs");
    if (jv_is_object(kw))
        uwalk(u, kw, EV_RES_UNKNOWN, 0);
}

/* Value of 'key' in a Python dict repr ("{'class': 'X', 'message': "it's"}"):
 * span of the quoted text, escapes left as they are. */
static int pyrepr_get(const char *s, size_t n, const char *key, const char **v, size_t *vn)
{
    char pat[64];
    int pl = snprintf(pat, sizeof(pat), "'%s': ", key);
    if (pl <= 0 || (size_t)pl >= sizeof(pat))
        return 0;
    const char *p = memmem(s, n, pat, (size_t)pl);
    if (!p)
        return 0;
    p += pl;
    const char *end = s + n;
    if (p >= end || (*p != '\'' && *p != '"'))
        return 0;
    char q = *p++;
    const char *st = p;
    while (p < end && *p != q) {
        if (*p == '\\' && p + 1 < end)
            p++;
        p++;
    }
    if (p >= end)
        return 0;
    *v = st;
    *vn = (size_t)(p - st);
    return 1;
}

static int looks_like_name(const char *s, size_t n)
{
    if (n == 0 || n > 128)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.'))
            return 0;
    }
    return 1;
}

/* Exception text as legacy payloads carry it: a dict repr
 * "{'class': 'X', 'message': '...'}", a call repr "X('msg')", a bare class
 * name, or plain text. Fills only what ev still lacks. */
static void set_exc_text(struct event *ev, const char *s, size_t n, const struct oslo_cfg *cfg)
{
    const char *v;
    size_t vn;
    if (n == 0)
        return;
    if (s[0] == '{') {
        if (!ev->error_class && pyrepr_get(s, n, "class", &v, &vn))
            ev->error_class = ev_text(ev, v, vn, ID_CAP);
        if (!ev->error_message && pyrepr_get(s, n, "message", &v, &vn))
            ev->error_message = ev_message(ev, v, vn, cfg->max_message);
        return;
    }
    const char *par = memchr(s, '(', n);
    if (par && par > s && s[n - 1] == ')' && looks_like_name(s, (size_t)(par - s))) {
        if (!ev->error_class)
            ev->error_class = ev_text(ev, s, (size_t)(par - s), ID_CAP);
        const char *a = par + 1;
        size_t an = (size_t)(s + n - 1 - a);
        if (an >= 2 && (a[0] == '\'' || a[0] == '"') && a[an - 1] == a[0]) {
            a++;
            an -= 2;
        }
        if (!ev->error_message && an)
            ev->error_message = ev_message(ev, a, an, cfg->max_message);
        return;
    }
    if (looks_like_name(s, n)) {
        if (!ev->error_class)
            ev->error_class = ev_text(ev, s, n, ID_CAP);
        return;
    }
    if (!ev->error_message)
        ev->error_message = ev_message(ev, s, n, cfg->max_message);
}

/* A versioned ExceptionPayload's data (or NULL): o itself when it has an
 * "exception" string, else the "*.data" of o. */
static const struct jv *exc_payload_data(const struct jv *o)
{
    if (!jv_is_object(o))
        return NULL;
    if (jv_is_string(jv_get(o, "exception")))
        return o;
    const struct jv *d = member_suffix(o, ".data");
    if (jv_is_object(d) && jv_is_string(jv_get(d, "exception")))
        return d;
    return NULL;
}

/* Exception info of a notification payload: versioned (payload
 * nova_object.data itself an ExceptionPayload, or its fault / reason /
 * exception member one) and legacy (exception / reason / message as text
 * or dict). */
static void set_payload_error(struct event *ev, const struct jv *payload,
                              const struct oslo_cfg *cfg)
{
    static const char *const vkeys[] = {"fault", "reason", "exception"};
    static const char *const lkeys[] = {"exception", "reason", "message", "exception_message"};
    if (!jv_is_object(payload))
        return;
    const struct jv *d = member_suffix(payload, ".data");
    const struct jv *fd = exc_payload_data(d);
    for (size_t i = 0; i < 3 && !fd && jv_is_object(d); i++)
        fd = exc_payload_data(jv_get(d, vkeys[i]));
    if (fd) {
        ev->error_class = ev_member(ev, fd, "exception", ID_CAP);
        ev->error_module = ev_member(ev, fd, "module_name", ID_CAP);
        const struct jv *m = jv_get(fd, "exception_message");
        if (jv_is_string(m))
            ev->error_message = ev_message(ev, jv_str(m), jv_strlen(m), cfg->max_message);
        ev->traceback = ev_member(ev, fd, "traceback", cfg->max_traceback);
        return;
    }
    for (size_t i = 0; i < 4; i++) {
        const struct jv *e = jv_get(payload, lkeys[i]);
        if (jv_is_string(e)) {
            set_exc_text(ev, jv_str(e), jv_strlen(e), cfg);
        } else if (jv_is_object(e)) {
            if (!ev->error_class)
                ev->error_class = ev_member(ev, e, "class", ID_CAP);
            const struct jv *m = jv_get(e, "message");
            if (jv_is_string(m) && !ev->error_message)
                ev->error_message = ev_message(ev, jv_str(m), jv_strlen(m), cfg->max_message);
        }
    }
}

/* ---- decoding -------------------------------------------------------- */

/* The members of an inner message decode_inner reads, found in one pass
 * over it (a message has some forty members, and twenty lookups by name
 * each walking them were a visible part of every message). */
struct inner {
    const struct jv *request_id, *global_request_id, *user_id, *user, *project_id, *project,
        *tenant, *auth_token, *trace_info;
    const struct jv *event_type, *publisher_id, *priority, *message_id, *payload;
    const struct jv *method, *msg_id, *unique_id, *namespace, *version, *reply_q, *timeout,
        *args, *result, *failure, *ending;
};

static void inner_members(const struct jv *o, struct inner *f)
{
    memset(f, 0, sizeof(*f));
    const struct jv *m;
    JV_FOREACH(o, m) {
        const char *k = jv_key(m);
        size_t n = jv_keylen(m);
        const struct jv **to = NULL;
#define K(lit, field)                                                                          \
    if (eq_lit(k, n, lit))                                                                     \
        to = &f->field;                                                                        \
    else
        if (n > 9 && k[0] == '_' && k[1] == 'c') {
            K("_context_request_id", request_id)
            K("_context_global_request_id", global_request_id)
            K("_context_user_id", user_id)
            K("_context_user", user)
            K("_context_project_id", project_id)
            K("_context_project", project)
            K("_context_tenant", tenant)
            K("_context_auth_token", auth_token)
            K("_context_trace_info", trace_info) {}
        } else {
            switch (n) {
            case 4: K("args", args) {} break;
            case 6: K("method", method) K("result", result) K("ending", ending) {} break;
            case 7:
                K("_msg_id", msg_id) K("version", version) K("payload", payload)
                K("failure", failure) {}
                break;
            case 8: K("_reply_q", reply_q) K("_timeout", timeout) K("priority", priority) {} break;
            case 9: K("namespace", namespace) {} break;
            case 10:
                K("event_type", event_type) K("message_id", message_id)
                K("_unique_id", unique_id) {}
                break;
            case 12: K("publisher_id", publisher_id) {} break;
            default: break;
            }
        }
#undef K
        if (to && !*to)
            *to = m; /* the first, as jv_get (duplicates are merged anyway) */
    }
}

/* Secrets of the oslo context nothing reads (see the top of the file):
 * counted, not copied. */
static size_t context_secrets(const struct inner *f)
{
    size_t n = 0;
    if (f->auth_token && !jv_is_null(f->auth_token))
        n++;
    if (jv_is_object(f->trace_info) && jv_get(f->trace_info, "hmac_key"))
        n++;
    return n;
}

static void set_context(struct event *ev, const struct inner *f)
{
    ev->request_id = ev_jstr(ev, f->request_id, ID_CAP);
    ev->global_request_id = ev_jstr(ev, f->global_request_id, ID_CAP);
    ev->ctx_user = ev_jstr(ev, f->user_id, ID_CAP);
    if (!ev->ctx_user)
        ev->ctx_user = ev_jstr(ev, f->user, ID_CAP);
    ev->ctx_project = ev_jstr(ev, f->project_id, ID_CAP);
    if (!ev->ctx_project)
        ev->ctx_project = ev_jstr(ev, f->project, ID_CAP);
    if (!ev->ctx_project)
        ev->ctx_project = ev_jstr(ev, f->tenant, ID_CAP);
}

/* o: the inner message, a tree of d (the failure tree joins it there). */
static void decode_inner(struct event *ev, struct jv_doc *d, struct jv *o,
                         const struct oslo_cfg *cfg, struct stats *st)
{
    struct ucoll u;
    u.n = 0;
    u.budget = cfg->max_uuid_nodes;
    u.secrets = 0;
    struct jv *failure_tree = NULL;
    struct inner f;
    inner_members(o, &f);

    /* the failure is a JSON string holding the remote exception */
    const struct jv *fs = f.failure;
    if (jv_is_string(fs) && jv_strlen(fs) > 0) {
        failure_tree = jv_parse(d, jv_str(fs), jv_strlen(fs));
        if (!jv_is_object(failure_tree))
            failure_tree = NULL;
        if (!failure_tree)
            bump(st, "oslo.failure_bad_json");
    }
    size_t ctx_secrets = context_secrets(&f);

    set_context(ev, &f);
    int is_notif = jv_is_string(f.event_type) && jv_is_string(f.publisher_id);
    const struct jv *method = f.method;
    const struct jv *msgid = f.msg_id;
    ev->unique_id = ev_jstr(ev, f.unique_id, ID_CAP);

    if (is_notif) {
        ev->kind = EV_NOTIFICATION;
        ev->publisher_id = ev_jstr(ev, f.publisher_id, ID_CAP);
        ev->event_type = ev_jstr(ev, f.event_type, ID_CAP);
        ev->priority = ev_jstr(ev, f.priority, ID_CAP);
        const char *mid = ev_jstr(ev, f.message_id, ID_CAP);
        if (mid)
            ev->unique_id = mid;
        set_payload_error(ev, f.payload, cfg);
        uwalk(&u, f.payload, EV_RES_UNKNOWN, 0);
    } else if (jv_is_string(method)) {
        ev->kind = jv_is_string(msgid) ? EV_RPC_CALL : EV_RPC_CAST;
        ev->rpc_method = ev_jstr(ev, method, ID_CAP);
        ev->rpc_namespace = ev_jstr(ev, f.namespace, ID_CAP);
        ev->rpc_version = ev_jstr(ev, f.version, ID_CAP);
        ev->msg_id = ev_jstr(ev, msgid, ID_CAP);
        ev->reply_q = ev_jstr(ev, f.reply_q, ID_CAP);
        if (jv_is_number(f.timeout)) {
            double t = jv_num(f.timeout);
            ev->timeout_s = (t >= 0 && t < 2147483647.0) ? (int)t : -1;
        }
        uwalk(&u, f.args, EV_RES_UNKNOWN, 0);
    } else if (jv_is_string(msgid) && (f.result || f.failure || f.ending)) {
        ev->kind = EV_RPC_REPLY;
        ev->msg_id = ev_jstr(ev, msgid, ID_CAP);
        ev->ending = f.ending ? jv_is_true(f.ending) : 1;
        const struct jv *fl = f.failure;
        if (fl && !jv_is_null(fl)) {
            ev->failure = 1;
            if (failure_tree)
                set_failure_obj(ev, failure_tree, cfg, &u);
            else if (jv_is_object(fl))
                set_failure_obj(ev, fl, cfg, &u);
            else if (jv_is_string(fl))
                ev->error_message = ev_message(ev, jv_str(fl), jv_strlen(fl), cfg->max_message);
        }
        uwalk(&u, f.result, EV_RES_UNKNOWN, 0);
    } else {
        bump(st, "oslo.unknown_shape");
        ev->flags |= EV_F_BAD_BODY;
    }
    ucoll_flush(&u, ev);
    if (ctx_secrets + u.secrets) {
        bump(st, "oslo.secrets_dropped"); /* bodies that carried any */
        decode_secrets = 1;
    }
}

struct oconn;
static void conn_where(const struct oconn *c, char *buf, size_t cap);

/* A body that is not (or not inside) valid JSON: counted, with the reason
 * kept as a diagnostic. c: the connection it came on, or NULL. */
static void bad_json(struct stats *st, const struct event *ev, const struct jv_doc *doc,
                     const char *what, size_t n, const struct oconn *c)
{
    decode_notes++;
    if (!st)
        return;
    size_t off = 0;
    enum jv_err e = jv_error(doc, &off);
    char where[128] = "";
    if (c)
        conn_where(c, where, sizeof(where));
    stats_diag(st, "oslo.bad_json", ev->ts_us, "oslo: %s of %zu bytes%s%s: %s at byte %zu", what,
               n, c ? ", " : "", where, jv_strerror(e), off);
}

/* oslo_decode with the document to decode into (reset here, left holding
 * the trees until the next call) and the connection the body came on (for
 * diagnostics, may be NULL). */
static int decode_doc(struct event *ev, const uint8_t *p, size_t n, const struct oslo_cfg *cfg,
                      struct stats *st, struct jv_doc *doc, const struct oconn *where)
{
    if (n > cfg->max_envelope) {
        bump(st, "oslo.envelope_too_big");
        ev->flags |= EV_F_BAD_BODY | EV_F_BODY_TRUNC;
        return -1;
    }
    if (n == 0 || !p) {
        ev->flags |= EV_F_BAD_BODY;
        bump(st, "oslo.empty_body");
        return -1;
    }
    jv_reset(doc);
    struct jv *outer = jv_parse(doc, p, n);
    struct jv *inner = NULL;
    int rc = -1;
    if (!jv_is_object(outer)) {
        bad_json(st, ev, doc, outer ? "body (not an object)" : "body", n, where);
        goto out;
    }
    const struct jv *om = jv_get(outer, "oslo.message");
    if (om) {
        const struct jv *ov = jv_get(outer, "oslo.version");
        const char *vs = jv_str(ov);
        size_t vn = jv_strlen(ov);
        /* "2" or "2.x" (or "2" cut by a \u0000, as C strings compared it) */
        if (!(vn >= 1 && vs[0] == '2' && (vn == 1 || vs[1] == '\0' || vs[1] == '.')))
            bump(st, "oslo.bad_version");
        if (jv_is_embedded(om)) {
            inner = (struct jv *)om; /* read in the same pass (oslo_jv_cfg) */
        } else {
            if (!jv_is_string(om) || jv_strlen(om) > cfg->max_envelope) {
                bump(st, "oslo.bad_envelope");
                goto out;
            }
            inner = jv_parse(doc, jv_str(om), jv_strlen(om));
            if (!jv_is_object(inner)) {
                bad_json(st, ev, doc, inner ? "oslo.message (not an object)" : "oslo.message",
                         jv_strlen(om), where);
                goto out;
            }
        }
        decode_inner(ev, doc, inner, cfg, st);
    } else {
        decode_inner(ev, doc, outer, cfg, st); /* bare 1.0 message */
    }
    rc = 0;
out:
    if (rc)
        ev->flags |= EV_F_BAD_BODY;
    return rc;
}

/* What this decoder has always accepted (jansson's JSON_ALLOW_NUL rules):
 * duplicate keys keep the last value, \u0000 allowed in values, nesting
 * up to 2048. */
static void oslo_jv_cfg(struct jv_cfg *jcfg, const struct oslo_cfg *cfg)
{
    jv_defaults(jcfg);
    jcfg->max_input = cfg->max_envelope;
    jcfg->max_depth = 2048;
    jcfg->allow_nul = 1;
    jcfg->dup_reject = 0;
    /* the 2.0 envelope's message is read in the pass over the envelope
     * when it can be (no escapes of its own): one scan instead of an
     * unescaping copy and a second parse */
    jcfg->embedded_key = "oslo.message";
}

int oslo_decode(struct event *ev, const uint8_t *p, size_t n, const struct oslo_cfg *cfg,
                struct stats *st)
{
    struct oslo_cfg defcfg;
    if (!cfg) {
        oslo_defaults(&defcfg);
        cfg = &defcfg;
    }
    struct jv_cfg jcfg;
    oslo_jv_cfg(&jcfg, cfg);
    struct jv_doc doc;
    jv_init(&doc, &jcfg, NULL);
    int rc = decode_doc(ev, p, n, cfg, st, &doc, NULL);
    jv_release(&doc);
    return rc;
}

uint8_t *oslo_inflate(struct mem_pool *pool, const uint8_t *p, size_t n, size_t max,
                      size_t *out_n, size_t *cap, const char **why)
{
    z_stream zs;
    const char *dummy;
    if (!why)
        why = &dummy;
    *why = "out of memory";
    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, 15 + 32) != Z_OK) /* zlib or gzip wrapper */
        return NULL;
    size_t bcap = 16384;
    if (bcap > max)
        bcap = max ? max : 1;
    uint8_t *buf = mem_alloc(pool, bcap);
    size_t w = 0;
    int zr = Z_OK;
    if (!buf)
        goto fail;
    zs.next_in = (Bytef *)(uintptr_t)p;
    zs.avail_in = (uInt)(n > 0x7fffffff ? 0x7fffffff : n);
    for (;;) {
        if (w == bcap) {
            if (bcap >= max) {
                *why = "inflated size over the cap (max_inflated)";
                goto fail;
            }
            size_t ncap = bcap * 2 > max ? max : bcap * 2;
            uint8_t *nb = mem_realloc(pool, buf, bcap, ncap);
            if (!nb)
                goto fail;
            buf = nb;
            bcap = ncap;
        }
        zs.next_out = buf + w;
        zs.avail_out = (uInt)(bcap - w);
        zr = inflate(&zs, Z_NO_FLUSH);
        w = bcap - zs.avail_out;
        if (zr == Z_STREAM_END)
            break;
        if (zr != Z_OK && zr != Z_BUF_ERROR) {
            *why = "corrupt compressed data";
            goto fail;
        }
        if (zr == Z_BUF_ERROR && zs.avail_in == 0) {
            *why = "compressed stream cut short";
            goto fail;
        }
    }
    inflateEnd(&zs);
    *out_n = w;
    *cap = bcap;
    return buf;
fail:
    inflateEnd(&zs);
    mem_free(pool, buf, bcap);
    return NULL;
}

void oslo_split_target(const char *key, size_t n, struct span *topic, struct span *server)
{
    const char *dot = memchr(key, '.', n);
    topic->p = (const uint8_t *)key;
    if (!dot) {
        topic->n = n;
        server->p = (const uint8_t *)key + n;
        server->n = 0;
        return;
    }
    topic->n = (size_t)(dot - key);
    server->p = (const uint8_t *)dot + 1;
    server->n = n - topic->n - 1;
}

/* ---- protocol-wide knowledge: connections, reply queues, calls -------- */

/* Confidence of what we believe about a connection's owner. */
enum {
    OWN_NONE = 0,
    OWN_NAME_GUESS = 1, /* connection_name binary, no rule matched */
    OWN_NOTIFIER = 2,   /* notification publisher_id (nova-api publishes as nova-compute) */
    OWN_INFERRED = 3,   /* reply queue / msg_id inference */
    OWN_TOPIC = 4,      /* consumed topic, routing key */
    OWN_CONN_NAME = 5,  /* connection_name matched a rule */
};

#define SVC_MAX 64
#define HOST_MAX 64
#define KEY_MAX 72
#define WAYS 8 /* set-associative tables: a key lives in one of 8 slots */

struct owner {
    char svc[SVC_MAX];
    char host[HOST_MAX];
    int conf;
};

/* Common head of table entries. */
struct ent_hdr {
    uint64_t ts;   /* last use, packet time */
    uint32_t hash; /* of the key (hash_key) */
    uint8_t used;
    uint8_t klen; /* bytes of key */
    char key[KEY_MAX];
};

struct call_ent {
    struct ent_hdr h; /* key: _msg_id */
    uint64_t caller_flow;
    struct owner callee;
    char method[64];
};

struct rq_ent {
    struct ent_hdr h; /* key: reply_<hex> */
    uint64_t caller_flow;
    struct owner caller;
};

struct proc_ent {
    struct ent_hdr h; /* key: "<binary>:<pid>" */
    struct owner own;
};


struct oconn;

enum {
    G_CALLS = 0,
    G_CASTS,
    G_REPLIES,
    G_NOTIFS,
    G_RETURNS,
    G_CLOSES,
    G_BLOCKED,
    G_PAIRED,
    G_CALL_EVICT,
    G_RQ_EVICT,
    G_NOMEM,
    G_COMPRESSED,
    G_INFLATE_FAIL,
    G_COMPRESS_UNSUP,
    G_OWNER_LEARNED,
    G_NOT_OSLO,
    G_MEMO_HITS,
    G_PROC_EVICT,
    G_COUNT
};

static const char *const g_names[G_COUNT] = {
    "oslo.calls",          "oslo.casts",          "oslo.replies",
    "oslo.notifications",  "oslo.returns",        "oslo.closes",
    "oslo.blocked",        "oslo.replies_paired", "oslo.calls_evicted",
    "oslo.reply_queues_evicted", "oslo.nomem",    "oslo.compressed",
    "oslo.inflate_failed", "oslo.compression_unsupported", "oslo.owners_learned",
    "oslo.not_oslo",       "oslo.bodies_reused",  "oslo.processes_evicted",
};

/* Bodies decoded lately, with what they decoded to. RabbitMQ hands a
 * message on unchanged, so the span port sees every body at least twice
 * (Publish in, Deliver out, once more per fanout consumer): the second
 * time its decoding is copied, not done again. An entry holds the body
 * (compared in full before it is used) and an event with the fields the
 * body gave. */
#define MEMO_N 64
#define MEMO_IDX 256 /* entries found by their hash's low byte, one per value */
_Static_assert(MEMO_N < 256, "memo_idx holds entry + 1 in a byte");
#define MEMO_MAX_BODY 65536

struct memo {
    uint64_t h;        /* body_hash, 0 = empty */
    size_t n;          /* body bytes */
    uint8_t *body;     /* a copy, n bytes, in a buffer of cap kept for the next */
    size_t cap;
    struct event *ev;  /* the fields decode_doc set */
    int secrets;       /* the body counted in oslo.secrets_dropped */
    int ref;           /* found since the clock hand last passed */
};

struct oslo_global {
    const struct app_env *env; /* the wiring's: outlives us, map may change */
    struct oslo_cfg cfg;
    struct call_ent *calls;
    size_t ncalls; /* power of two */
    struct rq_ent *rqs;
    size_t nrqs; /* power of two */
    struct oconn *conns;
    struct oconn **fhash; /* open connections by flow id, chained */
    size_t nfhash;        /* power of two, 0 = no table (list walk) */
    size_t nconns;
    struct proc_ent *procs; /* "<binary>:<pid>" -> best owner known */
    size_t nprocs;          /* power of two */
    uint64_t *c[G_COUNT];
    uint64_t local[G_COUNT];
    struct jv_doc doc; /* every body is decoded into it (kept between bodies) */
    struct memo memo[MEMO_N];
    uint8_t memo_idx[MEMO_IDX]; /* h % MEMO_IDX -> entry + 1 (0: none) */
    size_t memo_hand;           /* the next entry memo_put looks at */
};

struct oconn {
    struct oslo_global *g;
    struct mem_pool *pool;
    struct oconn *prev, *next;
    struct oconn *hnext; /* flow hash chain */
    uint64_t flow_id;
    char cli_addr[46], srv_addr[46];
    uint16_t cli_port, srv_port;
    struct amqp *a;
    struct owner own;
    char proc[128]; /* "<binary>:<pid>" of the Start-Ok connection_name */
    int error_closed; /* an error Close was reported: its end is not news */
};

static void conn_where(const struct oconn *c, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s:%u -> %s:%u", c->cli_addr, c->cli_port, c->srv_addr, c->srv_port);
}

static size_t pow2_at_least(size_t n)
{
    size_t p = WAYS;
    while (p < n && p < ((size_t)1 << 30))
        p <<= 1;
    return p;
}

static uint32_t hash_key(const char *s, size_t n)
{
    return (uint32_t)str_hash(s, n);
}

static void copy_cstr(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static int key_eq(const struct ent_hdr *e, uint32_t h, const char *k, size_t n)
{
    return e->hash == h && e->klen == n && memcmp(e->key, k, n) == 0;
}

static int ent_live(const struct ent_hdr *h, uint64_t now, uint64_t ttl)
{
    return h->used && !(now > h->ts && now - h->ts > ttl);
}

/* Entry of key [k, k+n) in a set-associative table of cap entries of size
 * esz (each starting with struct ent_hdr). With create, a missing key takes
 * an empty or expired slot of its set, else the oldest (eviction counted).
 * NULL when absent (or, with create, when the key is too long). */
static void *tab_lookup(void *tab, size_t esz, size_t cap, const char *k, size_t n, uint64_t now,
                        uint64_t ttl, int create, uint64_t *evict)
{
    uint32_t h = hash_key(k, n);
    struct ent_hdr *victim = NULL;
    int victim_live = 1;
    for (size_t w = 0; w < WAYS; w++) {
        struct ent_hdr *e = (struct ent_hdr *)((char *)tab + ((h + w) & (cap - 1)) * esz);
        int live = ent_live(e, now, ttl);
        if (live && key_eq(e, h, k, n))
            return e;
        if (!live) {
            if (victim_live) {
                victim = e;
                victim_live = 0;
            }
        } else if (victim_live && (!victim || e->ts < victim->ts)) {
            victim = e;
        }
    }
    if (!create || n >= KEY_MAX || !victim)
        return NULL;
    if (victim_live)
        (*evict)++;
    memset(victim, 0, esz);
    victim->used = 1;
    victim->ts = now;
    victim->hash = h;
    victim->klen = (uint8_t)n;
    copy_cstr(victim->key, KEY_MAX, k, n);
    return victim;
}

static struct call_ent *call_get(struct oslo_global *g, const char *k, size_t n, uint64_t now,
                                 int create)
{
    if (!g->calls || !k)
        return NULL;
    return tab_lookup(g->calls, sizeof(*g->calls), g->ncalls, k, n, now, g->cfg.call_ttl_us,
                      create, g->c[G_CALL_EVICT]);
}

static struct rq_ent *rq_get(struct oslo_global *g, const char *k, size_t n, uint64_t now,
                             int create)
{
    if (!g->rqs || !k)
        return NULL;
    return tab_lookup(g->rqs, sizeof(*g->rqs), g->nrqs, k, n, now, g->cfg.reply_q_ttl_us,
                      create, g->c[G_RQ_EVICT]);
}

static size_t flow_slot(const struct oslo_global *g, uint64_t flow)
{
    uint64_t h = flow * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32) & (g->nfhash - 1);
}

static struct oconn *conn_by_flow(struct oslo_global *g, uint64_t flow)
{
    if (!g->nfhash) {
        for (struct oconn *c = g->conns; c; c = c->next)
            if (c->flow_id == flow)
                return c;
        return NULL;
    }
    for (struct oconn *c = g->fhash[flow_slot(g, flow)]; c; c = c->hnext)
        if (c->flow_id == flow)
            return c;
    return NULL;
}

/* Keep the flow hash at most one connection per bucket on average: rehash
 * every listed connection into twice the buckets; 1 when it did (0 when
 * not needed or the pool refuses: chains get longer). */
static int fhash_grow(struct oslo_global *g)
{
    size_t n = g->nfhash ? g->nfhash * 2 : 256;
    if (g->nconns < g->nfhash || n > ((size_t)1 << 24))
        return 0;
    struct oconn **t = mem_calloc(g->env->pool, n * sizeof(*t));
    if (!t)
        return 0;
    struct oconn **old = g->fhash;
    size_t oldn = g->nfhash;
    g->fhash = t;
    g->nfhash = n;
    for (struct oconn *c = g->conns; c; c = c->next) {
        size_t s = flow_slot(g, c->flow_id);
        c->hnext = t[s];
        t[s] = c;
    }
    mem_free(g->env->pool, old, oldn * sizeof(*old));
    return 1;
}

static void fhash_unlink(struct oslo_global *g, struct oconn *c)
{
    if (!g->nfhash)
        return;
    for (struct oconn **pp = &g->fhash[flow_slot(g, c->flow_id)]; *pp; pp = &(*pp)->hnext)
        if (*pp == c) {
            *pp = c->hnext;
            return;
        }
}

static struct proc_ent *proc_get(struct oslo_global *g, const char *proc, uint64_t now,
                                 int create)
{
    if (!g || !g->procs || !proc[0])
        return NULL;
    return tab_lookup(g->procs, sizeof(*g->procs), g->nprocs, proc, strlen(proc), now,
                      g->cfg.reply_q_ttl_us, create, g->c[G_PROC_EVICT]);
}

/* Share what c knows of its owner with the other connections of its
 * process (oslo opens several connections per process, and only some of
 * them carry what names the service: a topic, a reply). */
static void proc_note(struct oconn *c, uint64_t now)
{
    if (c->own.conf == OWN_NONE)
        return;
    struct proc_ent *e = proc_get(c->g, c->proc, now, 1);
    if (!e)
        return;
    e->h.ts = now;
    if (c->own.conf > e->own.conf ||
        (c->own.conf == e->own.conf && !e->own.host[0] && c->own.host[0] &&
         strcmp(e->own.svc, c->own.svc) == 0))
        e->own = c->own;
}

/* What is known of c's owner: its own knowledge or, when better, that of
 * another connection of the same process (same "<binary>:<pid>" prefix of
 * connection_name). */
static struct owner eff_owner(const struct oconn *c)
{
    struct owner o = c->own;
    const struct proc_ent *e = proc_get(c->g, c->proc, 0, 0);
    if (e && e->own.conf > o.conf)
        o = e->own;
    return o;
}

/* Learn that svc (on host, may be NULL/"") is behind o with confidence conf. */
static void owner_set(struct oslo_global *g, struct owner *o, const char *svc, const char *host,
                      int conf)
{
    if (!svc || !svc[0])
        return;
    if (conf > o->conf) {
        if (strcmp(o->svc, svc) != 0)
            o->host[0] = '\0';
        if (o->conf == OWN_NONE && g)
            (*g->c[G_OWNER_LEARNED])++;
        copy_cstr(o->svc, SVC_MAX, svc, strlen(svc));
        o->conf = conf;
    }
    if (host && host[0] && !o->host[0] && strcmp(o->svc, svc) == 0)
        copy_cstr(o->host, HOST_MAX, host, strlen(host));
}

/* owner_set on a connection's own owner, shared with its process. */
static void conn_owner_set(struct oconn *c, const char *svc, const char *host, int conf,
                           uint64_t now)
{
    owner_set(c->g, &c->own, svc, host, conf);
    proc_note(c, now);
}

/* The best knowledge of who owns reply queue e: the table entry or, when
 * better, the current owner of the connection that published its calls. */
static struct owner rq_owner(struct oslo_global *g, const struct rq_ent *e)
{
    struct owner o = e->caller;
    if (e->caller_flow) {
        struct oconn *c = conn_by_flow(g, e->caller_flow);
        if (c) {
            struct owner co = eff_owner(c);
            if (co.conf > o.conf)
                o = co;
        }
    }
    return o;
}

/* Learn from a queue name a connection consumes or gets deliveries from. */
static void learn_queue(struct oconn *c, const char *q, size_t n, uint64_t now)
{
    struct oslo_global *g = c->g;
    const struct svcmap *map = g->env->map;
    char buf[256], host[HOST_MAX];
    if (n == 0)
        return;
    copy_cstr(buf, sizeof(buf), q, n);
    if (has_prefix(q, n, "reply_")) {
        struct rq_ent *e = rq_get(g, q, n, now, 1);
        if (!e)
            return;
        e->h.ts = now;
        struct owner o = rq_owner(g, e);
        if (o.conf > OWN_NONE) {
            int conf = o.conf < OWN_INFERRED ? o.conf : OWN_INFERRED;
            conn_owner_set(c, o.svc, o.host, conf, now);
        } else {
            struct owner co = eff_owner(c);
            if (co.conf > OWN_NONE)
                e->caller = co; /* the consumer of reply_X is the caller */
        }
        return;
    }
    /* <topic>_fanout_<hex> or <topic>_fanout */
    char *f = strstr(buf, "_fanout");
    if (f && (f[7] == '\0' || f[7] == '_'))
        *f = '\0';
    const char *svc = map ? svcmap_topic(map, buf, host, sizeof(host)) : NULL;
    if (svc)
        conn_owner_set(c, svc, host, OWN_TOPIC, now);
}

/* ---- events ---------------------------------------------------------- */

static void peer_set(struct event *ev, struct ev_peer *p, const char *addr, uint16_t port,
                     const struct owner *o)
{
    str_copy(p->addr, sizeof(p->addr), addr);
    p->port = port;
    if (!o) {
        p->service = event_cstr(ev, "rabbitmq");
        return;
    }
    if (o->conf > OWN_NONE) {
        p->service = event_cstr(ev, o->svc);
        if (o->host[0])
            p->host = event_cstr(ev, o->host);
    }
}

/* src/dst of a message travelling in dir: the client side is o (the
 * connection's owner, when known), the broker side is "rabbitmq". */
static void peers_set(struct oconn *c, struct event *ev, int dir, const struct owner *o)
{
    if (dir == AMQP_DIR_C2S) {
        peer_set(ev, &ev->src, c->cli_addr, c->cli_port, o);
        peer_set(ev, &ev->dst, c->srv_addr, c->srv_port, NULL);
    } else {
        peer_set(ev, &ev->src, c->srv_addr, c->srv_port, NULL);
        peer_set(ev, &ev->dst, c->cli_addr, c->cli_port, o);
    }
}

static int64_t parse_ms(struct span s)
{
    if (s.n == 0 || s.n > 18)
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return -1;
        v = v * 10 + (s.p[i] - '0');
    }
    return v;
}

/* RabbitMQ reply texts start with the code name: "NOT_FOUND - no queue". */
static void set_reply_error(struct event *ev, struct span text)
{
    size_t k = 0;
    while (k < text.n && ((text.p[k] >= 'A' && text.p[k] <= 'Z') || text.p[k] == '_'))
        k++;
    if (k > 0)
        ev->error_class = event_str(ev, text.p, k);
    ev->reply_text = ev_text(ev, (const char *)text.p, text.n, ID_CAP);
    ev->error_message = ev->reply_text;
}

static void emit(struct oconn *c, struct event *ev)
{
    struct oslo_global *g = c->g;
    if (g->env->sink)
        g->env->sink(g->env->sink_ctx, ev);
    else
        event_free(ev);
}

/* Target fields from exchange and routing key: fanout exchange
 * "<topic>_fanout"; topic exchange key "topic" or "topic.server". */
static void set_target(struct oconn *c, struct event *ev, struct span ex, struct span rk)
{
    const struct svcmap *map = c->g->env->map;
    char buf[256], host[HOST_MAX];
    host[0] = '\0';
    if (ev->kind == EV_NOTIFICATION) {
        /* "<topic>.<priority>" */
        const uint8_t *dot = NULL;
        for (size_t i = rk.n; i > 0; i--)
            if (rk.p[i - 1] == '.') {
                dot = rk.p + i - 1;
                break;
            }
        if (dot)
            ev->topic = event_str(ev, rk.p, (size_t)(dot - rk.p));
        return;
    }
    if (ev->kind == EV_RPC_REPLY || has_prefix((const char *)rk.p, rk.n, "reply_"))
        return;
    if (has_suffix((const char *)ex.p, ex.n, "_fanout")) {
        ev->fanout = 1;
        copy_cstr(buf, sizeof(buf), (const char *)ex.p, ex.n - 7);
        ev->topic = event_cstr(ev, buf);
        const char *svc = map ? svcmap_topic(map, buf, host, sizeof(host)) : NULL;
        if (svc)
            ev->topic_service = event_cstr(ev, svc);
        return;
    }
    if (rk.n == 0)
        return;
    struct span topic, server;
    oslo_split_target((const char *)rk.p, rk.n, &topic, &server);
    ev->topic = event_str(ev, topic.p, topic.n);
    if (server.n)
        ev->target_server = event_str(ev, server.p, server.n);
    copy_cstr(buf, sizeof(buf), (const char *)rk.p, rk.n);
    const char *svc = map ? svcmap_topic(map, buf, host, sizeof(host)) : NULL;
    if (svc) {
        ev->topic_service = event_cstr(ev, svc);
        if (host[0] && !ev->target_server)
            ev->target_server = event_cstr(ev, host);
    }
}

static void count_kind(struct oslo_global *g, const struct event *ev)
{
    switch (ev->kind) {
    case EV_RPC_CALL:
        (*g->c[G_CALLS])++;
        break;
    case EV_RPC_CAST:
        (*g->c[G_CASTS])++;
        break;
    case EV_RPC_REPLY:
        (*g->c[G_REPLIES])++;
        break;
    case EV_NOTIFICATION:
        (*g->c[G_NOTIFS])++;
        break;
    default:
        break;
    }
}

/* Decode the body of m into ev (inflating kombu-compressed bodies). */
/* Hash of a body from its length and 8 bytes of every 32 (and its last
 * 8): a filter only -- a match is compared in full -- but two messages
 * differ in ids of 32 hex digits or more, which always overlap a sample;
 * never 0. */
static uint64_t body_hash(const uint8_t *p, size_t n)
{
    uint64_t h = (uint64_t)n * 0x9E3779B97F4A7C15ull;
    uint64_t w;
    if (n < 8) {
        w = 0;
        memcpy(&w, p, n);
        h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
    } else {
        for (size_t i = 0; i + 8 <= n; i += 32) {
            memcpy(&w, p + i, 8);
            h = (h ^ w) * 0xFF51AFD7ED558CCDull;
            h ^= h >> 31;
        }
        memcpy(&w, p + n - 8, 8);
        h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
    }
    h ^= h >> 29;
    return h ? h : 1;
}

/* The entry of body [p, p+n) of hash h, or NULL. One entry per index
 * slot: of two bodies whose hashes share the low byte only the later is
 * found (the other is decoded again). */
static struct memo *memo_find(struct oslo_global *g, uint64_t h, const uint8_t *p, size_t n)
{
    unsigned j = g->memo_idx[h % MEMO_IDX];
    if (!j)
        return NULL;
    struct memo *e = &g->memo[j - 1];
    if (e->h != h || e->n != n || memcmp(e->body, p, n) != 0)
        return NULL;
    e->ref = 1;
    return e;
}

/* Forget what e holds; its body buffer stays for the next body put there
 * unless keep is 0. */
static void memo_clear(struct oslo_global *g, struct memo *e, int keep)
{
    if (e->h && g->memo_idx[e->h % MEMO_IDX] == (uint8_t)(e - g->memo + 1))
        g->memo_idx[e->h % MEMO_IDX] = 0;
    event_free(e->ev);
    uint8_t *b = e->body;
    size_t cap = e->cap;
    memset(e, 0, sizeof(*e));
    if (keep) {
        e->body = b;
        e->cap = cap;
    } else {
        mem_free(g->env->pool, b, cap);
    }
}

/* The fields decode_doc sets (decode_inner and what it calls), src to dst. */
static void copy_decoded(struct event *dst, const struct event *src)
{
    dst->kind = src->kind;
    dst->request_id = event_cstr(dst, src->request_id);
    dst->global_request_id = event_cstr(dst, src->global_request_id);
    dst->ctx_user = event_cstr(dst, src->ctx_user);
    dst->ctx_project = event_cstr(dst, src->ctx_project);
    dst->unique_id = event_cstr(dst, src->unique_id);
    dst->publisher_id = event_cstr(dst, src->publisher_id);
    dst->event_type = event_cstr(dst, src->event_type);
    dst->priority = event_cstr(dst, src->priority);
    dst->rpc_method = event_cstr(dst, src->rpc_method);
    dst->rpc_namespace = event_cstr(dst, src->rpc_namespace);
    dst->rpc_version = event_cstr(dst, src->rpc_version);
    dst->msg_id = event_cstr(dst, src->msg_id);
    dst->reply_q = event_cstr(dst, src->reply_q);
    dst->timeout_s = src->timeout_s;
    dst->ending = src->ending;
    dst->failure = src->failure;
    dst->error_class = event_cstr(dst, src->error_class);
    dst->error_module = event_cstr(dst, src->error_module);
    dst->error_message = event_cstr(dst, src->error_message);
    dst->traceback = event_cstr(dst, src->traceback);
    for (size_t i = 0; i < src->nuuids; i++)
        event_add_uuid(dst, src->uuids[i].id, strlen(src->uuids[i].id),
                       (enum ev_res)src->uuids[i].res);
}

/* Remember body [p, p+n) decoded into ev; nothing when memory is short.
 * The entry that goes is the clock's (the first the hand meets not found
 * since it last passed: nearly the least recently used). */
static void memo_put(struct oslo_global *g, uint64_t h, const uint8_t *p, size_t n,
                     const struct event *ev, int secrets)
{
    struct memo *e;
    for (;;) {
        e = &g->memo[g->memo_hand];
        g->memo_hand = (g->memo_hand + 1) % MEMO_N;
        if (!e->ref)
            break;
        e->ref = 0;
    }
    memo_clear(g, e, 1);
    if (e->cap < n) { /* a bigger buffer: powers of two from 1 KiB */
        size_t cap = 1024;
        while (cap < n)
            cap *= 2;
        mem_free(g->env->pool, e->body, e->cap);
        e->body = mem_alloc(g->env->pool, cap);
        e->cap = e->body ? cap : 0;
    }
    struct event *me = e->body ? event_new(g->env->pool) : NULL;
    if (!me)
        return;
    memcpy(e->body, p, n);
    copy_decoded(me, ev);
    e->h = h;
    e->n = n;
    e->ev = me;
    e->secrets = secrets;
    e->ref = 0;
    g->memo_idx[h % MEMO_IDX] = (uint8_t)(e - g->memo + 1);
}

static void decode_body(struct oslo_global *g, const struct oconn *c, struct event *ev,
                        const struct amqp_msg *m)
{
    struct amqp_field f;
    const uint8_t *p = m->body.p;
    size_t n = m->body.n;
    uint8_t *infl = NULL;
    size_t infl_n = 0, infl_cap = 0;
    if (m->props.headers.n &&
        amqp_table_find(m->props.headers.p, m->props.headers.n, "compression", &f) &&
        f.tag == 'S' && f.raw.n) {
        if (span_ieq(f.raw.p, f.raw.n, "application/x-gzip") ||
            span_ieq(f.raw.p, f.raw.n, "application/x-zlib")) {
            const char *why = NULL;
            infl = oslo_inflate(g->env->pool, p, n, g->cfg.max_inflated, &infl_n, &infl_cap,
                                &why);
            if (!infl) {
                if (g->env->st)
                    stats_diag(g->env->st, g_names[G_INFLATE_FAIL], ev->ts_us,
                               "oslo: compressed body of %zu bytes, %s:%u -> %s:%u: %s (cap %zu)",
                               n, c->cli_addr, c->cli_port, c->srv_addr, c->srv_port, why,
                               g->cfg.max_inflated);
                else
                    (*g->c[G_INFLATE_FAIL])++;
                ev->flags |= EV_F_BAD_BODY;
                return;
            }
            (*g->c[G_COMPRESSED])++;
            ev->flags |= EV_F_COMPRESSED;
            p = infl;
            n = infl_n;
        } else {
            (*g->c[G_COMPRESS_UNSUP])++;
            ev->flags |= EV_F_BAD_BODY;
            return;
        }
    }
    if (n == 0 || (m->flags & (AMQP_F_BODY_SKIPPED | AMQP_F_NOMEM))) {
        if (m->body_size)
            ev->flags |= EV_F_BODY_TRUNC;
    } else if (infl || n > MEMO_MAX_BODY || !g->cfg.reuse_bodies) {
        if (decode_doc(ev, p, n, &g->cfg, g->env->st, &g->doc, c) != 0)
            (*g->c[G_NOT_OSLO])++;
    } else {
        /* seen lately (the other side of the broker): what it decoded to */
        uint64_t h = body_hash(p, n);
        const struct memo *me = memo_find(g, h, p, n);
        if (me) {
            copy_decoded(ev, me->ev);
            if (me->secrets)
                bump(g->env->st, "oslo.secrets_dropped");
            (*g->c[G_MEMO_HITS])++;
        } else {
            unsigned long notes = decode_notes;
            decode_secrets = 0;
            if (decode_doc(ev, p, n, &g->cfg, g->env->st, &g->doc, c) != 0)
                (*g->c[G_NOT_OSLO])++;
            else if (!(ev->flags & EV_F_BAD_BODY) &&
                     decode_notes - notes == (unsigned long)decode_secrets)
                memo_put(g, h, p, n, ev, decode_secrets);
        }
    }
    mem_free(g->env->pool, infl, infl_cap);
}

static void on_content(void *ctx, const struct amqp_msg *m)
{
    struct oconn *c = ctx;
    struct oslo_global *g = c->g;
    uint64_t now = m->ts_us;
    struct event *ev = event_new(g->env->ev_pool);
    if (!ev) {
        (*g->c[G_NOMEM])++;
        return;
    }
    ev->ts_us = now;
    ev->flow_id = c->flow_id;
    ev->channel = m->channel;
    ev->verb = m->method == AMQP_BASIC_PUBLISH   ? EV_VERB_PUBLISH
               : m->method == AMQP_BASIC_GET_OK ? EV_VERB_GET
                                                 : EV_VERB_DELIVER;
    ev->exchange = event_str(ev, m->exchange.p, m->exchange.n);
    ev->routing_key = event_str(ev, m->routing_key.p, m->routing_key.n);
    ev->body_len = m->body_size;
    if (m->flags & AMQP_F_INCOMPLETE)
        ev->flags |= EV_F_INCOMPLETE;
    if (m->flags & (AMQP_F_BODY_SKIPPED | AMQP_F_NOMEM))
        ev->flags |= EV_F_BODY_TRUNC;
    if (m->props.flags & AMQP_P_EXPIRATION)
        ev->expiration_ms = parse_ms(m->props.expiration);
    ev->kind = has_prefix((const char *)m->routing_key.p, m->routing_key.n, "reply_")
                   ? EV_RPC_REPLY
                   : EV_RPC_CAST;
    decode_body(g, c, ev, m);
    count_kind(g, ev);
    set_target(c, ev, m->exchange, m->routing_key);

    /* who is behind this connection, and what this message teaches */
    const struct svcmap *map = g->env->map;
    char host[HOST_MAX];
    size_t mlen = ev->msg_id ? strlen(ev->msg_id) : 0;
    if (m->method == AMQP_BASIC_PUBLISH) {
        if (ev->kind == EV_NOTIFICATION && ev->publisher_id && map) {
            const char *svc = svcmap_publisher(map, ev->publisher_id, host, sizeof(host));
            if (svc)
                conn_owner_set(c, svc, host, OWN_NOTIFIER, now);
        } else if (ev->kind == EV_RPC_REPLY && mlen) {
            struct call_ent *ce = call_get(g, ev->msg_id, mlen, now, 0);
            if (ce) {
                (*g->c[G_PAIRED])++;
                if (ce->callee.conf > OWN_NONE)
                    conn_owner_set(c, ce->callee.svc, ce->callee.host,
                                   ce->callee.conf < OWN_INFERRED ? ce->callee.conf
                                                                  : OWN_INFERRED,
                                   now);
                if (ce->method[0] && !ev->rpc_method)
                    ev->rpc_method = event_cstr(ev, ce->method);
            }
        } else if (ev->kind == EV_RPC_CALL && mlen) {
            if (ev->reply_q) {
                size_t qn = strlen(ev->reply_q);
                struct rq_ent *e = rq_get(g, ev->reply_q, qn, now, 1);
                if (e) {
                    e->h.ts = now;
                    struct owner o = rq_owner(g, e);
                    struct owner co = eff_owner(c);
                    if (co.conf > OWN_NONE && co.conf >= o.conf) {
                        e->caller = co;
                        e->caller_flow = c->flow_id;
                    } else if (o.conf > OWN_NONE) {
                        conn_owner_set(c, o.svc, o.host,
                                       o.conf < OWN_INFERRED ? o.conf : OWN_INFERRED, now);
                        if (!e->caller_flow)
                            e->caller_flow = c->flow_id;
                    } else {
                        e->caller_flow = c->flow_id;
                    }
                }
            }
            struct call_ent *ce = call_get(g, ev->msg_id, mlen, now, 1);
            if (ce) {
                ce->caller_flow = c->flow_id;
                if (ev->rpc_method)
                    copy_cstr(ce->method, sizeof(ce->method), ev->rpc_method,
                              strlen(ev->rpc_method));
                if (ev->topic_service)
                    owner_set(NULL, &ce->callee, ev->topic_service, ev->target_server,
                              OWN_NAME_GUESS);
            }
        }
    } else if (m->method == AMQP_BASIC_DELIVER || m->method == AMQP_BASIC_GET_OK) {
        if (has_suffix((const char *)m->exchange.p, m->exchange.n, "_fanout"))
            learn_queue(c, (const char *)m->exchange.p, m->exchange.n, now);
        else if (ev->kind != EV_NOTIFICATION)
            learn_queue(c, (const char *)m->routing_key.p, m->routing_key.n, now);
        if (ev->kind == EV_RPC_CALL && mlen) {
            struct call_ent *ce = call_get(g, ev->msg_id, mlen, now, 1);
            struct owner co = eff_owner(c);
            if (ce && co.conf > OWN_NONE)
                owner_set(NULL, &ce->callee, co.svc, co.host, co.conf + 1);
            if (ce && ev->rpc_method && !ce->method[0])
                copy_cstr(ce->method, sizeof(ce->method), ev->rpc_method, strlen(ev->rpc_method));
        } else if (ev->kind == EV_RPC_REPLY && mlen) {
            struct call_ent *ce = call_get(g, ev->msg_id, mlen, now, 0);
            if (ce && ce->method[0] && !ev->rpc_method)
                ev->rpc_method = event_cstr(ev, ce->method);
            /* the final reply has reached the caller: nothing more will
             * ask for the call, its slot is free for the next one (else
             * answered calls fill the table for an hour, and a busy cloud
             * evicts the calls still waiting) */
            if (ce && ev->ending)
                ce->h.used = 0;
        }
    }
    if (m->method == AMQP_BASIC_RETURN) {
        ev->kind = EV_AMQP_RETURN;
        ev->verb = EV_VERB_NONE;
        ev->reply_code = m->reply_code;
        ev->reply_text = ev_text(ev, (const char *)m->reply_text.p, m->reply_text.n, ID_CAP);
        set_reply_error(ev, m->reply_text);
        (*g->c[G_RETURNS])++;
    }
    struct owner eo = eff_owner(c);
    peers_set(c, ev, m->dir, &eo);
    emit(c, ev);
}

/* An event of the connection itself (EV_AMQP_OPEN, EV_AMQP_END): its
 * owner as the sender, the broker as the receiver. Both feed the model
 * of the cloud (who is connected, who left and how), not the chains. */
static void conn_event(struct oconn *c, enum ev_kind kind, int how, uint64_t ts)
{
    struct event *ev = event_new(c->g->env->ev_pool);
    if (!ev) {
        (*c->g->c[G_NOMEM])++;
        return;
    }
    ev->kind = kind;
    ev->ts_us = ts;
    ev->flow_id = c->flow_id;
    ev->end_how = how;
    struct owner eo = eff_owner(c);
    peers_set(c, ev, AMQP_DIR_C2S, &eo);
    emit(c, ev);
}

static void on_method(void *ctx, const struct amqp_method *m)
{
    struct oconn *c = ctx;
    struct oslo_global *g = c->g;
    const struct svcmap *map = g->env->map;
    switch (m->method) {
    case AMQP_CONNECTION_START_OK:
        if (m->connection_name.n) {
            char name[256];
            copy_cstr(name, sizeof(name), (const char *)m->connection_name.p,
                      m->connection_name.n);
            char *last = strrchr(name, ':');
            if (last && last != name)
                copy_cstr(c->proc, sizeof(c->proc), name, (size_t)(last - name));
            const char *svc = map ? svcmap_conn_name(map, name) : NULL;
            if (svc) {
                conn_owner_set(c, svc, NULL, OWN_CONN_NAME, m->ts_us);
            } else {
                char *colon = strchr(name, ':');
                if (colon)
                    *colon = '\0';
                conn_owner_set(c, name, NULL, OWN_NAME_GUESS, m->ts_us);
            }
            conn_event(c, EV_AMQP_OPEN, EV_END_NONE, m->ts_us);
        }
        return; /* the login and the response are not kept */
    case AMQP_BASIC_CONSUME:
        learn_queue(c, (const char *)m->queue.p, m->queue.n, m->ts_us);
        return;
    case AMQP_CONNECTION_CLOSE:
    case AMQP_CHANNEL_CLOSE:
    case AMQP_CONNECTION_BLOCKED: {
        int blocked = m->method == AMQP_CONNECTION_BLOCKED;
        if (!blocked && (m->reply_code == 0 || m->reply_code == 200))
            return;
        struct event *ev = event_new(g->env->ev_pool);
        if (!ev) {
            (*g->c[G_NOMEM])++;
            return;
        }
        ev->kind = blocked ? EV_AMQP_BLOCKED : EV_AMQP_CLOSE;
        if (!blocked && m->method == AMQP_CONNECTION_CLOSE)
            c->error_closed = 1;
        ev->ts_us = m->ts_us;
        ev->flow_id = c->flow_id;
        ev->channel = m->channel;
        if (blocked) {
            ev->reply_text = ev_text(ev, (const char *)m->reply_text.p, m->reply_text.n, ID_CAP);
            (*g->c[G_BLOCKED])++;
        } else {
            ev->reply_code = m->reply_code;
            set_reply_error(ev, m->reply_text);
            (*g->c[G_CLOSES])++;
        }
        struct owner eo = eff_owner(c);
        peers_set(c, ev, m->dir, &eo);
        emit(c, ev);
        return;
    }
    default:
        return;
    }
}

/* ---- app_parser_ops -------------------------------------------------- */

void *oslo_global_new_cfg(const struct app_env *env, const struct oslo_cfg *cfg)
{
    struct oslo_global *g = mem_calloc(env->pool, sizeof(*g));
    if (!g)
        return NULL;
    g->env = env;
    if (cfg)
        g->cfg = *cfg;
    else
        oslo_defaults(&g->cfg);
    g->ncalls = pow2_at_least(g->cfg.max_calls);
    g->nrqs = pow2_at_least(g->cfg.max_reply_qs);
    g->nprocs = pow2_at_least(g->cfg.max_reply_qs);
    g->calls = mem_calloc(env->pool, g->ncalls * sizeof(*g->calls));
    g->rqs = mem_calloc(env->pool, g->nrqs * sizeof(*g->rqs));
    g->procs = mem_calloc(env->pool, g->nprocs * sizeof(*g->procs));
    if (!g->calls || !g->rqs || !g->procs) {
        mem_free(env->pool, g->calls, g->ncalls * sizeof(*g->calls));
        mem_free(env->pool, g->rqs, g->nrqs * sizeof(*g->rqs));
        mem_free(env->pool, g->procs, g->nprocs * sizeof(*g->procs));
        mem_free(env->pool, g, sizeof(*g));
        return NULL;
    }
    for (int i = 0; i < G_COUNT; i++)
        g->c[i] = env->st ? stats_counter(env->st, g_names[i]) : &g->local[i];
    struct jv_cfg jcfg;
    oslo_jv_cfg(&jcfg, &g->cfg);
    jv_init(&g->doc, &jcfg, env->pool);
    return g;
}

static void *ops_global_new(const struct app_env *env)
{
    return oslo_global_new_cfg(env, NULL);
}

static void ops_global_free(void *gp)
{
    struct oslo_global *g = gp;
    if (!g)
        return;
    /* connections still open are the wiring's to end; unlink them */
    for (struct oconn *c = g->conns; c; c = c->next)
        c->g = NULL;
    mem_free(g->env->pool, g->calls, g->ncalls * sizeof(*g->calls));
    mem_free(g->env->pool, g->rqs, g->nrqs * sizeof(*g->rqs));
    mem_free(g->env->pool, g->procs, g->nprocs * sizeof(*g->procs));
    mem_free(g->env->pool, g->fhash, g->nfhash * sizeof(*g->fhash));
    for (size_t i = 0; i < MEMO_N; i++)
        memo_clear(g, &g->memo[i], 0);
    jv_release(&g->doc);
    mem_free(g->env->pool, g, sizeof(*g));
}

static void *ops_conn_new(void *gp, const struct app_env *env, const struct app_conn_info *ci)
{
    struct oslo_global *g = gp;
    (void)env;
    if (!g)
        return NULL;
    struct oconn *c = mem_calloc(g->env->pool, sizeof(*c));
    if (!c) {
        (*g->c[G_NOMEM])++;
        return NULL;
    }
    c->g = g;
    c->pool = g->env->pool;
    c->flow_id = ci ? ci->flow_id : 0;
    if (ci) {
        str_copy(c->cli_addr, sizeof(c->cli_addr), ci->cli_addr ? ci->cli_addr : "");
        str_copy(c->srv_addr, sizeof(c->srv_addr), ci->srv_addr ? ci->srv_addr : "");
        c->cli_port = ci->cli_port;
        c->srv_port = ci->srv_port;
    }
    c->a = amqp_new(&g->cfg.amqp, g->env->pool, g->env->st, on_content, on_method, c);
    if (!c->a) {
        (*g->c[G_NOMEM])++;
        mem_free(g->env->pool, c, sizeof(*c));
        return NULL;
    }
    c->next = g->conns;
    if (g->conns)
        g->conns->prev = c;
    g->conns = c;
    g->nconns++;
    if (!fhash_grow(g) && g->nfhash) { /* a rehash has placed c already */
        size_t s = flow_slot(g, c->flow_id);
        c->hnext = g->fhash[s];
        g->fhash[s] = c;
    }
    return c;
}

static struct parse_result ops_feed(void *cp, int dir, const uint8_t *p, size_t n, uint64_t ts)
{
    struct oconn *c = cp;
    if (!c || !c->g) { /* no state (allocation failed): the bytes are skipped */
        struct parse_result r = {PARSE_OK, n, 0, 0};
        return r;
    }
    return amqp_feed(c->a, dir, p, n, ts);
}

static void ops_gap(void *cp, int dir, uint64_t len, uint64_t ts)
{
    struct oconn *c = cp;
    if (c && c->g)
        amqp_gap(c->a, dir, len, ts);
}

static void ops_end(void *cp, int how, uint64_t ts)
{
    struct oconn *c = cp;
    if (!c)
        return;
    if (c->g) {
        amqp_end(c->a, ts);
        if (!c->error_closed && how != EV_END_CAPTURE && eff_owner(c).conf >= OWN_INFERRED)
            conn_event(c, EV_AMQP_END, how, ts);
        fhash_unlink(c->g, c);
        c->g->nconns--;
        if (c->prev)
            c->prev->next = c->next;
        else
            c->g->conns = c->next;
        if (c->next)
            c->next->prev = c->prev;
    }
    amqp_free(c->a);
    mem_free(c->pool, c, sizeof(*c));
}

const struct app_parser_ops oslo_amqp_ops = {
    .name = "amqp",
    .global_new = ops_global_new,
    .global_free = ops_global_free,
    .conn_new = ops_conn_new,
    .feed = ops_feed,
    .gap = ops_gap,
    .end = ops_end,
};
