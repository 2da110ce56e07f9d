/* rest.c -- OpenStack REST semantics over HTTP/1.1 (PROTOCOLS.md §3); see
 * rest.h. http1 frames the messages; this file turns each into an event:
 * services from the port / path prefix / User-Agent (svcmap), operation from
 * method + path template, request ids, error bodies per service (§3.4),
 * resource UUIDs, server state. Responses are paired with their request by
 * http1's ordinal and copy the request's method, path, operation, ids. */
#include "parsers/rest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/http1.h"
#include "parsers/redact.h"
#include "capture/str.h"

#define REST_PENDING 64 /* requests remembered per connection for pairing */
#define REST_UA_MAX 512
#define REST_PATH_MAX 2048
#define REST_OP_MAX 128

/* What a response needs to know of its request. Strings in one blob. */
struct req_rec {
    uint64_t ordinal;
    uint64_t ts_us;
    uint64_t gone_us; /* the client closed its side before the answer, 0 */
    char *blob;
    size_t blob_n;
    const char *method, *path, *operation, *gri, *ua;
    const char *caller;  /* calling service (map-owned) or NULL */
    const char *service; /* serving service (map-owned) or NULL */
};

/* Protocol-wide state: the JSON document store every connection decodes
 * bodies into (one body at a time, reset after each). */
struct rest_global {
    struct mem_pool *pool;
    struct jv_doc doc;
};

struct rest_conn {
    const struct app_env *env; /* the wiring's: outlives us, map may change */
    struct http1 *http;
    struct jv_doc *doc; /* the global's, or own */
    struct jv_doc *own; /* allocated only without a global (tests) */
    uint64_t flow_id;
    char cli_addr[46], srv_addr[46];
    uint16_t cli_port, srv_port;
    struct req_rec *recs; /* ring of rec_cap (a power of two <= REST_PENDING) */
    size_t rec_head, rec_n, rec_cap;
    uint64_t *c_req, *c_resp, *c_json_bad, *c_json_deep, *c_no_event, *c_secrets, *c_unpaired,
        *c_no_answer;
    uint64_t local[8];
};

/* ---- small string helpers ---- */

static int lc(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

static int ci_ncmp(const uint8_t *a, const char *lit, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lc(a[i]) != lc((unsigned char)lit[i]))
            return 1;
    return 0;
}

/* First occurrence of lit (case-insensitive) in [p, p+n), or NULL. */
static const uint8_t *ci_find(const uint8_t *p, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    for (size_t i = 0; i + m <= n; i++)
        if (ci_ncmp(p + i, lit, m) == 0)
            return p + i;
    return NULL;
}

/* Copy s into the event with secrets masked and at most max bytes. */
static const char *ev_text(struct event *ev, const char *s, size_t n, size_t max)
{
    if (!s)
        return NULL;
    if (n > max)
        n = max;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == '\t'))
        n--;
    char *d = event_str(ev, s, n);
    if (d)
        redact_text_n(d, n);
    return d;
}

static const char *ev_span(struct event *ev, struct span s, size_t max)
{
    if (!s.p)
        return NULL;
    return ev_text(ev, (const char *)s.p, s.n, max);
}

static struct span hdr(const struct http1_msg *m, const char *name)
{
    const struct http1_header *h = http1_header(m, name);
    struct span s = {NULL, 0};
    if (h)
        s = h->value;
    return s;
}

/* ---- JSON ---- */

int rest_json_too_deep(const uint8_t *p, size_t n, int max)
{
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (c == '"')
            in_str = 1;
        else if (c == '{' || c == '[') {
            if (++depth > max)
                return 1;
        } else if (c == '}' || c == ']')
            depth--;
    }
    return 0;
}

static int looks_json(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n')
            continue;
        return p[i] == '{' || p[i] == '[';
    }
    return 0;
}

static void rest_jv_cfg(struct jv_cfg *cfg)
{
    jv_defaults(cfg);
    cfg->max_input = REST_JSON_MAX;
    cfg->max_depth = REST_JSON_DEPTH;
    cfg->allow_nul = 0;
    cfg->dup_reject = 1;
    /* a token's service catalog: most of its bytes, read by nothing */
    cfg->skip_key = "catalog";
}

/* The body as a JSON tree in c->doc (valid until the document is reset),
 * or NULL. Nothing leaves the tree unmasked: strings are copied by
 * ev_text, UUIDs never come from a secret member or a token's id, and the
 * operation name takes a key, never a value. Too-deep and malformed bodies are told apart once
 * decoding failed: a well-formed body no deeper than REST_JSON_DEPTH is
 * never "too deep", and the decoder refuses deeper ones itself. */
static struct jv *decode_json(struct rest_conn *c, struct event *ev, struct span body)
{
    if (!body.n || !looks_json(body.p, body.n))
        return NULL;
    if (body.n > REST_JSON_MAX) {
        ev->flags |= EV_F_BODY_TRUNC;
        return NULL;
    }
    jv_reset(c->doc);
    struct jv *j = jv_parse(c->doc, body.p, body.n);
    if (!j) {
        size_t off = 0;
        enum jv_err e = jv_error(c->doc, &off);
        struct stats *st = c->env->st;
        if (rest_json_too_deep(body.p, body.n, REST_JSON_DEPTH)) {
            ev->flags |= EV_F_BAD_BODY;
            if (st)
                stats_diag(st, "rest.json_too_deep", ev->ts_us,
                           "rest: JSON body of %zu bytes nested deeper than %d, %s:%u <-> %s:%u: "
                           "not decoded",
                           body.n, REST_JSON_DEPTH, c->cli_addr, c->cli_port, c->srv_addr,
                           c->srv_port);
            else
                (*c->c_json_deep)++;
            return NULL;
        }
        if (!(ev->flags & EV_F_BODY_TRUNC))
            ev->flags |= EV_F_BAD_BODY;
        if (st)
            stats_diag(st, "rest.json_errors", ev->ts_us,
                       "rest: JSON body of %zu bytes%s, %s:%u <-> %s:%u: %s at byte %zu",
                       body.n, (ev->flags & EV_F_BODY_TRUNC) ? " (cut short)" : "",
                       c->cli_addr, c->cli_port, c->srv_addr, c->srv_port, jv_strerror(e), off);
        else
            (*c->c_json_bad)++;
        return NULL;
    }
    return j; /* not scrubbed whole: see rest_uuids_from_json and ev_text */
}

/* Member key of object o if it is a string, else NULL. */
static const struct jv *jstr(const struct jv *o, const char *key)
{
    const struct jv *v = jv_get(o, key);
    return jv_is_string(v) ? v : NULL;
}

/* ---- resource roles ---- */

/* a table entry with its name's length */
#define NAMED(lit, res) {lit, sizeof(lit) - 1, res}

static const struct {
    const char *name;
    size_t len;
    enum ev_res res;
} collections[] = {
    NAMED("servers", EV_RES_INSTANCE),
    NAMED("server", EV_RES_INSTANCE),
    NAMED("images", EV_RES_IMAGE),
    NAMED("image", EV_RES_IMAGE),
    NAMED("flavors", EV_RES_FLAVOR),
    NAMED("flavor", EV_RES_FLAVOR),
    NAMED("ports", EV_RES_PORT),
    NAMED("port", EV_RES_PORT),
    NAMED("networks", EV_RES_NETWORK),
    NAMED("network", EV_RES_NETWORK),
    NAMED("volumes", EV_RES_VOLUME),
    NAMED("volume", EV_RES_VOLUME),
    NAMED("os-volume_attachments", EV_RES_VOLUME),
    NAMED("volumeAttachment", EV_RES_ATTACHMENT),
    NAMED("volumeAttachments", EV_RES_ATTACHMENT),
    NAMED("attachments", EV_RES_ATTACHMENT),
    NAMED("attachment", EV_RES_ATTACHMENT),
    NAMED("resource_providers", EV_RES_PROVIDER),
    NAMED("resource_provider", EV_RES_PROVIDER),
    NAMED("allocations", EV_RES_CONSUMER),
    NAMED("projects", EV_RES_PROJECT),
    NAMED("project", EV_RES_PROJECT),
    NAMED("users", EV_RES_USER),
    NAMED("user", EV_RES_USER),
};

static enum ev_res collection_role(const char *name, size_t n)
{
    if (n == 0)
        return EV_RES_UNKNOWN;
    for (size_t i = 0; i < sizeof(collections) / sizeof(collections[0]); i++)
        if (collections[i].len == n && collections[i].name[0] == name[0] &&
            memcmp(collections[i].name, name, n) == 0)
            return collections[i].res;
    return EV_RES_UNKNOWN;
}

/* Keys whose (UUID) value names a resource wherever they appear. */
static const struct {
    const char *key;
    size_t len;
    enum ev_res res;
} id_keys[] = {
    NAMED("imageRef", EV_RES_IMAGE),         NAMED("image_id", EV_RES_IMAGE),
    NAMED("image_ref", EV_RES_IMAGE),        NAMED("device_id", EV_RES_INSTANCE),
    NAMED("server_uuid", EV_RES_INSTANCE),   NAMED("server_id", EV_RES_INSTANCE),
    NAMED("instance_uuid", EV_RES_INSTANCE), NAMED("instance_id", EV_RES_INSTANCE),
    NAMED("instance", EV_RES_INSTANCE),      NAMED("port_id", EV_RES_PORT),
    NAMED("tag", EV_RES_PORT),               NAMED("network_id", EV_RES_NETWORK),
    NAMED("net_id", EV_RES_NETWORK),         NAMED("uuid", EV_RES_UNKNOWN),
    NAMED("volume_id", EV_RES_VOLUME),       NAMED("volumeId", EV_RES_VOLUME),
    NAMED("attachment_id", EV_RES_ATTACHMENT), NAMED("flavor_id", EV_RES_FLAVOR),
    NAMED("flavorRef", EV_RES_FLAVOR),       NAMED("consumer_uuid", EV_RES_CONSUMER),
    NAMED("consumer_id", EV_RES_CONSUMER),   NAMED("resource_provider_uuid", EV_RES_PROVIDER),
    NAMED("rp_uuid", EV_RES_PROVIDER),       NAMED("in_tree", EV_RES_PROVIDER),
    NAMED("project_id", EV_RES_PROJECT),     NAMED("tenant_id", EV_RES_PROJECT),
    NAMED("user_id", EV_RES_USER),           NAMED("serverId", EV_RES_INSTANCE),
};

static int id_key_role(const char *key, size_t n, enum ev_res *res)
{
    for (size_t i = 0; i < sizeof(id_keys) / sizeof(id_keys[0]); i++)
        if (id_keys[i].len == n && id_keys[i].key[0] == key[0] &&
            memcmp(id_keys[i].key, key, n) == 0) {
            *res = id_keys[i].res;
            return 1;
        }
    return 0;
}

void rest_uuids_from_path(struct event *ev, const char *path)
{
    const char *p = path, *prev = NULL;
    size_t prevn = 0;
    int seg_no = 0;
    while (p && *p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (event_is_uuid(p, n)) {
            enum ev_res r = prev ? collection_role(prev, prevn) : EV_RES_UNKNOWN;
            /* /v3/{project_id}/volumes, /v2/{project_id}/servers */
            if (r == EV_RES_UNKNOWN && seg_no == 1 && prev && prev[0] == 'v' && prevn <= 4)
                r = EV_RES_PROJECT;
            event_add_uuid(ev, p, n, r);
        }
        prev = p;
        prevn = n;
        seg_no++;
        p += n;
    }
}

/* Role of the last collection segment of path (for a body's top-level id). */
static enum ev_res path_role(const char *path)
{
    enum ev_res role = EV_RES_UNKNOWN;
    const char *p = path;
    while (p && *p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        enum ev_res r = collection_role(p, n);
        if (r != EV_RES_UNKNOWN)
            role = r;
        p += n;
    }
    return role;
}

static int key_eq(const char *k, size_t kn, const char *lit, size_t n)
{
    return k && kn == n && memcmp(k, lit, n) == 0;
}

/* keyed: role of UUID-valued keys of an "allocations" object (providers
 * in /allocations bodies, consumers in /resource_providers/{id}/allocations).
 * [key, key+kn): the member key v is under (NULL at the top). */
/* A member the UUID walk must not read, as the scrubber would drop it: a
 * secret key (redact_key_is_secret_n), a token that is not a container, or
 * the id of a token object (in_token). Asked only of members that could
 * give a UUID: containers and strings of UUID length. */
static int secret_member(const struct jv *x, const char *k, size_t n, int in_token)
{
    if (redact_key_is_secret_n(k, n))
        return 1;
    if (in_token && key_eq(k, n, "id", 2))
        return 1;
    return !jv_is_container(x) && (key_eq(k, n, "token", 5) || key_eq(k, n, "_context_token", 14));
}

/* secrets: incremented for each member left unread as a secret. */
static void uuids_rec(struct event *ev, const struct jv *v, const char *key, size_t kn,
                      enum ev_res ctx, enum ev_res keyed, int depth, size_t *secrets)
{
    if (depth > REST_JSON_DEPTH || ev->nuuids >= EV_MAX_UUIDS)
        return;
    if (jv_is_string(v)) {
        const char *s = jv_str(v);
        size_t n = jv_strlen(v);
        enum ev_res r;
        if (!key || !event_is_uuid(s, n))
            return;
        /* ids of unknown things (catalog endpoints, ...) are noise */
        if (key_eq(key, kn, "id", 2)) {
            if (ctx != EV_RES_UNKNOWN)
                event_add_uuid(ev, s, n, ctx);
        } else if (kn && id_key_role(key, kn, &r) && r != EV_RES_UNKNOWN) {
            event_add_uuid(ev, s, n, r);
        }
        return;
    }
    const struct jv *x;
    if (jv_is_array(v)) {
        JV_FOREACH(v, x)
        uuids_rec(ev, x, key, kn, ctx, keyed, depth + 1, secrets);
        return;
    }
    if (!jv_is_object(v))
        return;
    /* placement: "allocations": {"<uuid>": {...}} keyed by provider/consumer */
    int keyed_obj = key_eq(key, kn, "allocations", 11);
    int in_token = key_eq(key, kn, "token", 5) || key_eq(key, kn, "_context_token", 14);
    JV_FOREACH(v, x)
    {
        const char *k = jv_key(x);
        size_t n = jv_keylen(x);
        int uuid_len = jv_is_string(x) && (jv_strlen(x) == 32 || jv_strlen(x) == 36);
        if (!uuid_len && !jv_is_container(x))
            continue; /* only a UUID can count */
        if (in_token && key_eq(k, n, "catalog", 7))
            continue; /* services, endpoints, regions: no resource of an
                         operation, and most of a token's bytes */
        if (secret_member(x, k, n, in_token)) {
            (*secrets)++;
            continue;
        }
        if (keyed_obj && event_is_uuid(k, n))
            event_add_uuid(ev, k, n, keyed);
        if (jv_is_container(x))
            uuids_rec(ev, x, k, n, collection_role(k, n), keyed, depth + 1, secrets);
        else
            uuids_rec(ev, x, k, n, ctx, keyed, depth + 1, secrets);
    }
}

size_t rest_uuids_from_json(struct event *ev, const struct jv *json, const char *path)
{
    if (!json)
        return 0;
    enum ev_res keyed = EV_RES_PROVIDER;
    if (path && strncmp(path, "/resource_providers", 19) == 0)
        keyed = EV_RES_CONSUMER;
    size_t secrets = 0;
    uuids_rec(ev, json, NULL, 0, path ? path_role(path) : EV_RES_UNKNOWN, keyed, 0, &secrets);
    return secrets;
}

static void uuids_from_query(struct event *ev, const char *q, enum ev_res role)
{
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', n);
        if (eq) {
            char key[48];
            size_t kn = (size_t)(eq - q);
            const char *val = eq + 1;
            size_t vn = n - kn - 1;
            enum ev_res r = EV_RES_UNKNOWN;
            if (kn < sizeof(key) && event_is_uuid(val, vn)) {
                memcpy(key, q, kn);
                key[kn] = '\0';
                if (strcmp(key, "id") == 0)
                    event_add_uuid(ev, val, vn, role);
                else if (kn && id_key_role(key, kn, &r))
                    event_add_uuid(ev, val, vn, r);
            }
        }
        q = amp ? amp + 1 : NULL;
    }
}

/* ---- error bodies (PROTOCOLS.md §3.4) ---- */

/* nova's catch-all: "... <class 'nova.exception.GlanceConnectionFailed'>" */
static void class_from_message(struct event *ev, const char *msg, size_t n)
{
    static const char pfx[] = "<class '";
    const char *k = msg ? memmem(msg, n, pfx, sizeof(pfx) - 1) : NULL;
    if (!k)
        return;
    k += sizeof(pfx) - 1;
    const char *e = memchr(k, '\'', (size_t)(msg + n - k));
    if (!e || e == k || e - k > 256)
        return;
    const char *dot = NULL;
    for (const char *q = k; q < e; q++)
        if (*q == '.')
            dot = q;
    if (dot) {
        ev->error_module = event_str(ev, k, (size_t)(dot - k));
        ev->error_class = event_str(ev, dot + 1, (size_t)(e - dot - 1));
    } else {
        ev->error_class = event_str(ev, k, (size_t)(e - k));
    }
}

static void set_error(struct event *ev, const char *cls, size_t cn, const char *msg, size_t mn)
{
    if (cls)
        ev->error_class = ev_text(ev, cls, cn, 256);
    if (msg)
        ev->error_message = ev_text(ev, msg, mn, REST_TEXT_MAX);
}

/* set_error from two string nodes (either may be NULL). */
static void set_error_jv(struct event *ev, const struct jv *cls, const struct jv *msg)
{
    set_error(ev, jv_str(cls), jv_strlen(cls), jv_str(msg), jv_strlen(msg));
}

static int error_from_json(struct event *ev, const struct jv *j)
{
    const struct jv *o;
    if (!jv_is_object(j))
        return 0;
    if ((o = jv_get(j, "NeutronError")) && jv_is_object(o)) {
        set_error_jv(ev, jstr(o, "type"), jstr(o, "message"));
        return 1;
    }
    if ((o = jv_get(j, "error")) && jv_is_object(o)) {
        set_error_jv(ev, jstr(o, "title"), jstr(o, "message"));
        return 1;
    }
    if ((o = jv_get(j, "errors")) && jv_is_array(o) && jv_size(o) > 0) {
        const struct jv *e = jv_first(o);
        const struct jv *cls = jstr(e, "code");
        set_error_jv(ev, cls ? cls : jstr(e, "title"), jstr(e, "detail"));
        return 1;
    }
    if (jstr(j, "message") && (jstr(j, "title") || jv_get(j, "code"))) {
        set_error_jv(ev, jstr(j, "title"), jstr(j, "message")); /* webob JSON */
        return 1;
    }
    if (jv_size(j) == 1) {
        /* nova / cinder fault wrapper {"itemNotFound": {"code", "message"}} */
        const struct jv *v;
        JV_FOREACH(j, v)
        {
            const struct jv *m = jstr(v, "message");
            if (jv_is_object(v) && m) {
                set_error(ev, jv_key(v), jv_keylen(v), jv_str(m), jv_strlen(m));
                if (ev->error_message) /* the masked copy */
                    class_from_message(ev, ev->error_message, strlen(ev->error_message));
                return 1;
            }
        }
    }
    return 0;
}

/* Text of HTML between [p, p+n): tags dropped, entities of the usual few
 * decoded, whitespace collapsed. Into out (cap), returns the length. */
static size_t html_text(const uint8_t *p, size_t n, char *out, size_t cap)
{
    size_t w = 0;
    int in_tag = 0, space = 1;
    for (size_t i = 0; i < n && w + 1 < cap; i++) {
        uint8_t c = p[i];
        if (in_tag) {
            if (c == '>')
                in_tag = 0;
            continue;
        }
        if (c == '<') {
            in_tag = 1;
            if (!space) {
                out[w++] = ' ';
                space = 1;
            }
            continue;
        }
        if (c == '&') {
            static const struct {
                const char *ent;
                char ch;
            } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'},
                        {"&#39;", '\''}, {"&nbsp;", ' '}};
            size_t k;
            for (k = 0; k < sizeof(ents) / sizeof(ents[0]); k++) {
                size_t l = strlen(ents[k].ent);
                if (i + l <= n && memcmp(p + i, ents[k].ent, l) == 0) {
                    c = (uint8_t)ents[k].ch;
                    i += l - 1;
                    break;
                }
            }
        }
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c < 0x20) {
            if (!space) {
                out[w++] = ' ';
                space = 1;
            }
            continue;
        }
        out[w++] = (char)c;
        space = 0;
    }
    while (w && out[w - 1] == ' ')
        w--;
    out[w] = '\0';
    return w;
}

/* "404 Not Found" -> "Not Found" */
static const char *strip_status(const char *s)
{
    if (s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' &&
        s[2] <= '9' && s[3] == ' ')
        return s + 4;
    return s;
}

static int error_from_html(struct event *ev, const uint8_t *p, size_t n)
{
    char cls[256], msg[REST_TEXT_MAX + 1];
    const uint8_t *h1 = ci_find(p, n, "<h1>");
    const uint8_t *end = p + n;
    if (h1) {
        const uint8_t *h1e = ci_find(h1, (size_t)(end - h1), "</h1>");
        if (!h1e)
            return 0;
        html_text(h1 + 4, (size_t)(h1e - h1 - 4), cls, sizeof(cls));
        const uint8_t *rest = h1e + 5;
        const uint8_t *be = ci_find(rest, (size_t)(end - rest), "</body>");
        html_text(rest, (size_t)((be ? be : end) - rest), msg, sizeof(msg));
    } else {
        const uint8_t *t = ci_find(p, n, "<title>");
        const uint8_t *te = t ? ci_find(t, (size_t)(end - t), "</title>") : NULL;
        if (!t || !te)
            return 0;
        html_text(t + 7, (size_t)(te - t - 7), cls, sizeof(cls));
        const uint8_t *b = ci_find(te, (size_t)(end - te), "<body");
        msg[0] = '\0';
        if (b)
            html_text(b, (size_t)(end - b), msg, sizeof(msg));
    }
    if (!cls[0])
        return 0;
    const char *c = strip_status(cls);
    set_error(ev, c, strlen(c), msg[0] ? msg : NULL, strlen(msg));
    return 1;
}

/* webob text/plain: "404 Not Found\n\nThe resource could not be found.\n\n  " */
static int error_from_text(struct event *ev, const uint8_t *p, size_t n)
{
    char buf[REST_TEXT_MAX + 1];
    size_t i = 0;
    while (i < n && p[i] != '\n')
        i++;
    if (i == 0 || i > 200)
        return 0;
    size_t ln = i;
    if (ln && p[ln - 1] == '\r')
        ln--;
    char cls[201];
    memcpy(cls, p, ln);
    cls[ln] = '\0';
    size_t bn = html_text(p + i, n - i, buf, sizeof(buf));
    const char *c = strip_status(cls);
    set_error(ev, c, strlen(c), buf[0] ? buf : NULL, bn);
    return 1;
}

int rest_error_from_body(struct event *ev, const struct jv *json, const uint8_t *body, size_t n)
{
    if (json)
        return error_from_json(ev, json);
    if (!body || !n || looks_json(body, n))
        return 0;
    if (ci_find(body, n < 512 ? n : 512, "<html") || ci_find(body, n < 512 ? n : 512, "<h1") ||
        ci_find(body, n < 512 ? n : 512, "<!doctype"))
        return error_from_html(ev, body, n);
    return error_from_text(ev, body, n);
}

/* ev_text of string node v (NULL if v is NULL). */
static const char *ev_jv(struct event *ev, const struct jv *v, size_t max)
{
    return v ? ev_text(ev, jv_str(v), jv_strlen(v), max) : NULL;
}

/* Server (or volume, port) state in a body. */
static void state_from_json(struct event *ev, const struct jv *j)
{
    const struct jv *o;
    if ((o = jv_get(j, "server")) && jv_is_object(o)) {
        const struct jv *st = jstr(o, "status");
        if (st)
            ev->resource_state = ev_jv(ev, st, 64);
        const struct jv *tk = jstr(o, "OS-EXT-STS:task_state");
        if (tk)
            ev->resource_task = ev_jv(ev, tk, 64);
        const struct jv *fm = jstr(jv_get(o, "fault"), "message");
        if (fm)
            ev->fault_message = ev_jv(ev, fm, REST_TEXT_MAX);
    } else if ((o = jv_get(j, "volume")) && jv_is_object(o)) {
        const struct jv *st = jstr(o, "status");
        if (st)
            ev->resource_state = ev_jv(ev, st, 64);
    } else if ((o = jv_get(j, "port")) && jv_is_object(o)) {
        const struct jv *vt = jstr(o, "binding:vif_type");
        if (vt && jv_str_eq(vt, "binding_failed"))
            ev->resource_state = event_cstr(ev, "binding_failed");
        else if (jstr(o, "status"))
            ev->resource_state = ev_jv(ev, jstr(o, "status"), 64);
    }
}

/* A list answer ({"flavors": [{"name": ...}, ...]}, a top-level member
 * holding an array of objects): the name of each item goes to ev->names,
 * hashed, and the event is flagged EV_F_LISTED; a list of more than
 * EV_MAX_NAMES items keeps no names (a lookup then cannot be checked). */
static void names_from_list(struct event *ev, const struct jv *j)
{
    const struct jv *list = NULL;
    for (const struct jv *m = jv_first(j); m; m = jv_next(m)) {
        if (jv_is_array(m)) {
            if (list)
                return; /* two arrays: not a plain list answer */
            list = m;
        }
    }
    if (!list)
        return;
    size_t n = 0;
    for (const struct jv *it = jv_first(list); it; it = jv_next(it)) {
        if (!jv_is_object(it))
            return;
        n++;
    }
    if (n > EV_MAX_NAMES)
        return;
    uint32_t *names = n ? arena_alloc(&ev->arena, n * sizeof(*names)) : NULL;
    if (n && !names)
        return;
    size_t k = 0;
    for (const struct jv *it = jv_first(list); it; it = jv_next(it)) {
        const struct jv *nm = jstr(it, "name");
        if (nm)
            names[k++] = event_name_hash(jv_str(nm), jv_strlen(nm));
    }
    ev->names = names;
    ev->nnames = k;
    ev->flags |= EV_F_LISTED;
}

/* ---- pairing records ---- */

static void rec_clear(struct rest_conn *c, struct req_rec *r)
{
    mem_free(c->env->pool, r->blob, r->blob_n);
    memset(r, 0, sizeof(*r));
}

static void rec_pop_front(struct rest_conn *c)
{
    rec_clear(c, &c->recs[c->rec_head]);
    c->rec_head = (c->rec_head + 1) & (c->rec_cap - 1);
    c->rec_n--;
}

/* Double the ring (connections start with none: most have one request in
 * flight, idle ones cost nothing). 0, or -1 at REST_PENDING or the cap. */
static int rec_grow(struct rest_conn *c)
{
    size_t ncap = c->rec_cap ? c->rec_cap * 2 : 2;
    if (ncap > REST_PENDING)
        return -1;
    struct req_rec *nr = mem_calloc(c->env->pool, ncap * sizeof(*nr));
    if (!nr)
        return -1;
    for (size_t i = 0; i < c->rec_n; i++)
        nr[i] = c->recs[(c->rec_head + i) & (c->rec_cap - 1)];
    mem_free(c->env->pool, c->recs, c->rec_cap * sizeof(*c->recs));
    c->recs = nr;
    c->rec_cap = ncap;
    c->rec_head = 0;
    return 0;
}

static struct req_rec *rec_push(struct rest_conn *c)
{
    if (c->rec_n == c->rec_cap && rec_grow(c) < 0) {
        if (!c->rec_cap)
            return NULL;
        (*c->c_unpaired)++;
        rec_pop_front(c);
    }
    struct req_rec *r = &c->recs[(c->rec_head + c->rec_n) & (c->rec_cap - 1)];
    c->rec_n++;
    return r;
}

/* The record of request ordinal, after dropping older ones; NULL if none.
 * The caller clears it with rec_pop_front. */
static struct req_rec *rec_find(struct rest_conn *c, uint64_t ordinal)
{
    while (c->rec_n && c->recs[c->rec_head].ordinal < ordinal) {
        (*c->c_unpaired)++;
        rec_pop_front(c);
    }
    if (c->rec_n && c->recs[c->rec_head].ordinal == ordinal)
        return &c->recs[c->rec_head];
    return NULL;
}


/* Store the request's strings (event copies) in one pool blob. */
static void rec_fill(struct rest_conn *c, struct req_rec *r, const struct event *ev,
                     uint64_t ordinal, const char *caller, const char *service)
{
    const char *src[5] = {ev->method, ev->path, ev->operation, ev->global_request_id,
                          ev->user_agent};
    size_t len[5], total = 0;
    for (int i = 0; i < 5; i++) {
        len[i] = src[i] ? strlen(src[i]) + 1 : 0;
        total += len[i];
    }
    memset(r, 0, sizeof(*r));
    r->ordinal = ordinal;
    r->ts_us = ev->ts_us;
    r->caller = caller;
    r->service = service;
    if (total) {
        r->blob = mem_alloc(c->env->pool, total);
        if (r->blob) {
            r->blob_n = total;
            const char **dst[5] = {&r->method, &r->path, &r->operation, &r->gri, &r->ua};
            size_t off = 0;
            for (int i = 0; i < 5; i++) {
                if (!src[i])
                    continue;
                memcpy(r->blob + off, src[i], len[i]);
                *dst[i] = r->blob + off;
                off += len[i];
            }
        }
    }
}

/* ---- events ---- */

static uint32_t ev_flags(uint32_t f)
{
    uint32_t e = 0;
    if (f & HTTP1_F_INCOMPLETE)
        e |= EV_F_INCOMPLETE;
    if (f & HTTP1_F_BODY_TRUNC)
        e |= EV_F_BODY_TRUNC;
    if (f & HTTP1_F_COMPRESSED)
        e |= EV_F_COMPRESSED;
    if (f & HTTP1_F_BAD_CODING)
        e |= EV_F_BAD_BODY;
    if (f & HTTP1_F_NO_REQUEST)
        e |= EV_F_NO_REQUEST;
    return e;
}

static void set_peer(struct ev_peer *p, const char *addr, uint16_t port, const char *service,
                     struct event *ev)
{
    str_copy(p->addr, sizeof(p->addr), addr);
    p->port = port;
    p->service = service ? event_cstr(ev, service) : NULL;
}

/* What a response event tells of its request r: method, path, operation,
 * the caller's global id and user agent, when it was sent, and the UUIDs
 * of its path (after the service's prefix, map). */
static void from_request(struct event *ev, const struct req_rec *r, const struct svcmap *map)
{
    ev->method = event_cstr(ev, r->method);
    ev->path = event_cstr(ev, r->path);
    ev->operation = event_cstr(ev, r->operation);
    ev->global_request_id = event_cstr(ev, r->gri);
    ev->user_agent = event_cstr(ev, r->ua);
    ev->req_ts_us = r->ts_us;
    if (r->path) {
        size_t pfx = 0;
        svcmap_path_prefix(map, r->path, &pfx);
        rest_uuids_from_path(ev, r->path + pfx);
    }
}

/* Mask the path segment after "tokens" (keystone v2 /v2.0/tokens/<token>)
 * and any Fernet token. In place. */
static void redact_path(char *path)
{
    char *t = strstr(path, "/tokens/");
    if (t) {
        char *s = t + 8, *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n > 0) {
            size_t m = n < 3 ? n : 3;
            memset(s, '*', m);
            memmove(s + m, s + n, strlen(s + n) + 1);
        }
    }
    redact_text(path);
}

/* name with "{action}" replaced by the first key of the body object. */
static const char *op_name(struct event *ev, const char *name, const struct jv *body)
{
    const char *a = strstr(name, "{action}");
    if (!a)
        return event_cstr(ev, name);
    const char *key = "action";
    size_t kn = 6;
    const struct jv *first = jv_first(body);
    if (jv_is_object(body) && first) {
        key = jv_key(first);
        kn = jv_keylen(first);
    }
    if (kn > 64)
        kn = 64;
    char buf[REST_OP_MAX];
    snprintf(buf, sizeof(buf), "%.*s%.*s%s", (int)(a - name), name, (int)kn, key, a + 8);
    return event_cstr(ev, buf);
}

/* Fingerprints of the request's tokens (the tokens themselves are never
 * copied: only whether two messages carried the same one), in one pass
 * over the headers: X-Auth-Token, X-Service-Token, X-Subject-Token. */
static void token_fps(struct event *ev, const struct http1_msg *m)
{
    for (size_t i = 0; i < m->nheaders; i++) {
        const struct span *nm = &m->headers[i].name, *v = &m->headers[i].value;
        if (nm->n != 12 && nm->n != 15)
            continue;
        if (nm->n == 12 && ci_ncmp(nm->p, "x-auth-token", 12) == 0)
            ev->token_fp[0] = redact_fingerprint(v->p, v->n);
        else if (nm->n == 15 && ci_ncmp(nm->p, "x-service-token", 15) == 0)
            ev->token_fp[1] = redact_fingerprint(v->p, v->n);
        else if (nm->n == 15 && ci_ncmp(nm->p, "x-subject-token", 15) == 0)
            ev->subject_fp = redact_fingerprint(v->p, v->n);
    }
}

static void on_request(struct rest_conn *c, const struct http1_msg *m)
{
    const struct svcmap *map = c->env->map;
    struct event *ev = event_new(c->env->ev_pool);
    if (!ev) {
        (*c->c_no_event)++;
        return;
    }
    (*c->c_req)++;
    ev->kind = EV_HTTP_REQUEST;
    ev->ts_us = m->ts_us;
    ev->flow_id = c->flow_id;
    ev->flags = ev_flags(m->flags);
    ev->body_len = m->body_len;
    ev->method = ev_span(ev, m->method, 32);

    /* path and query */
    size_t plen = m->target.n, qoff = 0;
    const uint8_t *qm = memchr(m->target.p, '?', m->target.n);
    if (qm) {
        plen = (size_t)(qm - m->target.p);
        qoff = plen + 1;
    }
    /* absolute-form "http://host:port/path" */
    const uint8_t *tp = m->target.p;
    if (plen > 7 && (ci_ncmp(tp, "http://", 7) == 0 || ci_ncmp(tp, "https://", 8) == 0)) {
        const uint8_t *sl = memchr(tp + 8, '/', plen - 8);
        size_t skip = sl ? (size_t)(sl - tp) : plen;
        tp += skip;
        plen -= skip;
    }
    char *path = event_str(ev, tp, plen > REST_PATH_MAX ? REST_PATH_MAX : plen);
    if (path) {
        if (!path[0]) {
            path = event_cstr(ev, "/");
        } else {
            redact_path(path);
        }
    }
    ev->path = path;
    if (qm) {
        size_t qn = m->target.n - qoff;
        size_t cap = (qn > REST_PATH_MAX ? REST_PATH_MAX : qn) + 4;
        char *out = arena_alloc(&ev->arena, cap);
        if (out) {
            redact_query((const char *)m->target.p + qoff, qn, out, cap);
            ev->query = out;
        }
    }

    struct span ua = hdr(m, "user-agent");
    ev->user_agent = ev_span(ev, ua, REST_UA_MAX);
    struct span gri = hdr(m, "x-openstack-request-id");
    ev->global_request_id = ev_span(ev, gri, 128);
    token_fps(ev, m);

    /* services: path prefix (shared port), else the port */
    size_t pfx = 0;
    const char *service = path ? svcmap_path_prefix(map, path, &pfx) : NULL;
    if (!service)
        service = svcmap_port(map, c->srv_port, NULL);
    const char *caller = ev->user_agent ? svcmap_user_agent(map, ev->user_agent) : NULL;
    set_peer(&ev->src, c->cli_addr, c->cli_port, caller, ev);
    set_peer(&ev->dst, c->srv_addr, c->srv_port, service, ev);

    struct jv *j = decode_json(c, ev, m->body);
    if (path && ev->method) {
        const char *opath = path + pfx;
        if (!*opath)
            opath = "/";
        const char *name = svcmap_operation(map, service, ev->method, opath);
        if (name)
            ev->operation = op_name(ev, name, j);
        rest_uuids_from_path(ev, opath);
        if (ev->query)
            uuids_from_query(ev, ev->query, path_role(opath));
        if (j && rest_uuids_from_json(ev, j, opath))
            (*c->c_secrets)++;
    }
    jv_reset(c->doc);

    struct req_rec *r = rec_push(c);
    if (r) /* else (pool at its cap) the response goes unpaired, counted */
        rec_fill(c, r, ev, m->ordinal, caller, service);
    else
        (*c->c_unpaired)++;
    c->env->sink(c->env->sink_ctx, ev);
}

static void no_answer(struct rest_conn *c, const struct req_rec *r, int how, uint64_t ts_us,
                      int late_status);

static void on_response(struct rest_conn *c, const struct http1_msg *m)
{
    const struct svcmap *map = c->env->map;
    struct req_rec *r = m->ordinal ? rec_find(c, m->ordinal) : NULL;
    if (r && r->gone_us) {
        /* the answer came after the client closed its side: it gave up
         * and never read it */
        no_answer(c, r, EV_END_CLIENT_CLOSED, r->gone_us, m->status);
        rec_pop_front(c);
        return;
    }
    struct event *ev = event_new(c->env->ev_pool);
    if (!ev) {
        (*c->c_no_event)++;
        if (r)
            rec_pop_front(c);
        return;
    }
    (*c->c_resp)++;
    ev->kind = EV_HTTP_RESPONSE;
    ev->ts_us = m->ts_us;
    ev->flow_id = c->flow_id;
    ev->flags = ev_flags(m->flags);
    if (!r)
        ev->flags |= EV_F_NO_REQUEST;
    ev->body_len = m->body_len;
    ev->status = m->status;
    ev->reason = ev_span(ev, m->reason, 128);
    const char *service = r ? r->service : svcmap_port(map, c->srv_port, NULL);
    set_peer(&ev->src, c->srv_addr, c->srv_port, service, ev);
    set_peer(&ev->dst, c->cli_addr, c->cli_port, r ? r->caller : NULL, ev);
    if (r)
        from_request(ev, r, map);
    struct span rid = hdr(m, "x-openstack-request-id");
    if (!rid.p)
        rid = hdr(m, "x-compute-request-id");
    ev->request_id = ev_span(ev, rid, 128);

    struct jv *j = decode_json(c, ev, m->body);
    if (m->status >= 400)
        rest_error_from_body(ev, j, j ? NULL : m->body.p, j ? 0 : m->body.n);
    if (m->status >= 200 && m->status < 300 && event_is_login(ev)) {
        /* a login: the token's fingerprint (a session's key), and whose */
        token_fps(ev, m);
        const struct jv *tok = jv_get(j, "token");
        const struct jv *un = jstr(jv_get(tok, "user"), "name");
        const struct jv *pn = jstr(jv_get(tok, "project"), "name");
        if (un)
            ev->ctx_user = ev_jv(ev, un, 64);
        if (pn)
            ev->ctx_project = ev_jv(ev, pn, 64);
    }
    if (j) {
        if (jv_is_object(j)) {
            state_from_json(ev, j);
            if (m->status >= 200 && m->status < 300 && ev->method && !strcmp(ev->method, "GET"))
                names_from_list(ev, j);
        }
        if (rest_uuids_from_json(ev, j, ev->path))
            (*c->c_secrets)++;
    }
    jv_reset(c->doc);
    if (r)
        rec_pop_front(c);
    c->env->sink(c->env->sink_ctx, ev);
}

static void on_msg(void *ctx, const struct http1_msg *m)
{
    struct rest_conn *c = ctx;
    if (m->flags & HTTP1_F_INTERIM)
        return; /* 100 Continue: counted by http1, never paired */
    if (m->dir == HTTP1_DIR_REQUEST)
        on_request(c, m);
    else
        on_response(c, m);
}

/* ---- app_parser_ops ---- */

static void *rest_global_new(const struct app_env *env)
{
    struct rest_global *g = mem_calloc(env->pool, sizeof(*g));
    if (!g)
        return NULL;
    struct jv_cfg cfg;
    rest_jv_cfg(&cfg);
    jv_init(&g->doc, &cfg, env->pool);
    g->pool = env->pool;
    return g;
}

static void rest_global_free(void *gp)
{
    struct rest_global *g = gp;
    if (!g)
        return;
    jv_release(&g->doc);
    mem_free(g->pool, g, sizeof(*g));
}

/* global may be NULL (tests): the connection then keeps its own store. */
static void *rest_conn_new(void *global, const struct app_env *env,
                           const struct app_conn_info *ci)
{
    struct rest_global *g = global;
    struct rest_conn *c = mem_calloc(env->pool, sizeof(*c));
    if (!c)
        return NULL;
    c->env = env;
    if (g) {
        c->doc = &g->doc;
    } else {
        c->own = mem_alloc(env->pool, sizeof(*c->own));
        if (!c->own) {
            mem_free(env->pool, c, sizeof(*c));
            return NULL;
        }
        struct jv_cfg cfg;
        rest_jv_cfg(&cfg);
        jv_init(c->own, &cfg, env->pool);
        c->doc = c->own;
    }
    c->flow_id = ci->flow_id;
    str_copy(c->cli_addr, sizeof(c->cli_addr), ci->cli_addr ? ci->cli_addr : "");
    str_copy(c->srv_addr, sizeof(c->srv_addr), ci->srv_addr ? ci->srv_addr : "");
    c->cli_port = ci->cli_port;
    c->srv_port = ci->srv_port;
    uint64_t **cs[8] = {&c->c_req,      &c->c_resp,    &c->c_json_bad, &c->c_json_deep,
                        &c->c_no_event, &c->c_secrets, &c->c_unpaired, &c->c_no_answer};
    static const char *const names[8] = {"rest.requests",     "rest.responses",
                                         "rest.json_errors",  "rest.json_too_deep",
                                         "rest.event_alloc_failed", "rest.secrets_dropped",
                                         "rest.unpaired_requests", "rest.unanswered"};
    uint64_t *found[8];
    if (env->st)
        stats_counters(env->st, names, 8, found);
    for (int i = 0; i < 8; i++)
        *cs[i] = env->st ? found[i] : &c->local[i];
    c->http = http1_new(NULL, env->pool, env->st, on_msg, c);
    if (!c->http) {
        mem_free(env->pool, c->own, c->own ? sizeof(*c->own) : 0);
        mem_free(env->pool, c, sizeof(*c));
        return NULL;
    }
    return c;
}

static struct parse_result rest_feed(void *conn, int dir, const uint8_t *p, size_t n,
                                     uint64_t ts_us)
{
    struct rest_conn *c = conn;
    return http1_feed(c->http, dir, p, n, ts_us);
}

static void rest_gap(void *conn, int dir, uint64_t len, uint64_t ts_us)
{
    struct rest_conn *c = conn;
    http1_gap(c->http, dir, len, ts_us);
}

/* The answer request r never got: the connection ended (how, enum
 * ev_end) with it pending. An EV_HTTP_RESPONSE of status 0, flagged
 * EV_F_NO_ANSWER, from the server to the caller, repeating the request's
 * method, path and ids as a response does. */
static void no_answer(struct rest_conn *c, const struct req_rec *r, int how, uint64_t ts_us,
                      int late_status)
{
    static const char *const why[EV_END_COUNT] = {
        "no response",
        "no response: the server closed the connection",
        "no response: the client closed the connection (gave up)",
        "no response: the server reset the connection",
        "no response: the client reset the connection (gave up)",
        "no response: the connection went idle",
        "no response before the capture ended",
    };
    struct event *ev = event_new(c->env->ev_pool);
    if (!ev) {
        (*c->c_no_event)++;
        return;
    }
    (*c->c_no_answer)++;
    ev->kind = EV_HTTP_RESPONSE;
    ev->ts_us = ts_us;
    ev->flow_id = c->flow_id;
    ev->flags = EV_F_NO_ANSWER;
    ev->end_how = how > 0 && how < EV_END_COUNT ? how : EV_END_NONE;
    ev->reason = why[ev->end_how];
    if (late_status) {
        char buf[128];
        snprintf(buf, sizeof(buf), "%s (the server answered %d later, to no one)",
                 why[ev->end_how], late_status);
        ev->reason = event_cstr(ev, buf);
    }
    set_peer(&ev->src, c->srv_addr, c->srv_port, r->service, ev);
    set_peer(&ev->dst, c->cli_addr, c->cli_port, r->caller, ev);
    from_request(ev, r, c->env->map);
    c->env->sink(c->env->sink_ctx, ev);
}

/* The client closed its side (dir: its direction) at ts_us: the requests
 * it has not had an answer to, it gave up on. */
static void rest_shutdown(void *conn, int dir, uint64_t ts_us)
{
    struct rest_conn *c = conn;
    if (!c || dir != HTTP1_DIR_REQUEST)
        return;
    for (size_t i = 0; i < c->rec_n; i++) {
        struct req_rec *r = &c->recs[(c->rec_head + i) & (c->rec_cap - 1)];
        if (!r->gone_us)
            r->gone_us = ts_us ? ts_us : 1;
    }
}

static void rest_end(void *conn, int how, uint64_t ts_us)
{
    struct rest_conn *c = conn;
    if (!c)
        return;
    http1_end(c->http, ts_us);
    http1_free(c->http);
    while (c->rec_n) {
        no_answer(c, &c->recs[c->rec_head], how, ts_us, 0);
        rec_pop_front(c);
    }
    mem_free(c->env->pool, c->recs, c->rec_cap * sizeof(*c->recs));
    if (c->own) {
        jv_release(c->own);
        mem_free(c->env->pool, c->own, sizeof(*c->own));
    }
    mem_free(c->env->pool, c, sizeof(*c));
}

const struct app_parser_ops rest_http_ops = {
    "http", rest_global_new, rest_global_free, rest_conn_new, rest_feed, rest_gap, rest_end,
    rest_shutdown,
};
