/* chain.c -- transaction chain stitching (see chain.h; PROTOCOLS.md §0,
 * §2.3-2.5, §3.1, §4). One string-keyed index maps request ids ("r:"),
 * call msg_ids ("m:"), message unique ids ("u:"), owned resources ("i:":
 * the latest operation to act on one; "o:": the first still open),
 * pending name lookups ("l:") and refused-connection targets ("c:") to the
 * chain (and entry) they belong to. Open HTTP requests are a small
 * capped list used both to pair responses (flow + order) and for time
 * nesting. Everything is bounded: per-chain event cap, open-request cap,
 * fixed rings of remembered resources. */
#include "rca/chain.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "capture/flow.h"
#include "capture/str.h"

#define RING 256
#define DELIVERED_MAX 1024
#define CHAIN_EVIDENCE_RESERVE 64 /* error-carrying events allowed past the cap */
#define ATTEMPT_RETRY_US 200000ull /* a service's retries of a refused connection are further apart */

struct slot {
    char *key; /* NULL empty; TOMB deleted */
    uint64_t h;
    struct chain *c;
    int32_t idx;
};

static char tomb_mark;
#define TOMB (&tomb_mark)

struct open_req {
    uint64_t seq; /* of the request: cs->open is in seq order */
    uint64_t flow_id;
    uint64_t attempt_us; /* the last connection attempt nested into it, 0 */
    const struct event *req; /* c->e[idx].ev, without the two hops */
    struct chain *c;
    int32_t idx;
};

struct chain_set {
    struct chain_cfg cfg;
    const struct rules *rules;
    const struct svcmap *map;
    struct stats *st;
    struct slot *slots;
    size_t nslots, used, live;
    struct chain *head, *tail;
    size_t nchains;
    uint64_t next_id;
    struct open_req *open;
    size_t nopen;
    char deleted[RING][37];
    size_t ndeleted;
    char failed[RING][37];
    size_t nfailed;
    char failed_ops[RING][37];
    size_t nfailed_ops;
    struct topic_seen *delivered; /* topics / routing keys seen delivered */
    size_t ndelivered;
    int local_amqp; /* AMQP between a broker and its own host was seen */
    uint64_t *c_dropped, *c_merged, *c_open_evicted, *c_nested, *c_polls, *c_uuid_links;
    uint64_t *c_tok_matched, *c_tok_unmatched;
    /* no pending call of any chain is due before this (a lower bound:
     * lowered when a call is added, made exact by each chain_set_expire
     * walk), so the walk is skipped until then */
    uint64_t min_deadline;
    void (*on_unlink)(void *ctx, struct chain *c);
    void *on_unlink_ctx;
    void (*on_timeout)(void *ctx, const struct chain *c, int32_t entry);
    void *on_timeout_ctx;
    int (*may_call)(void *ctx, const struct event *req, const struct event *attempt);
    struct chain_session (*attempt_session)(void *ctx, const struct event *attempt);
    void *hook_ctx;
};

/* A topic seen delivered, and the last consumer it was delivered to: the
 * service to blame when a later call on it goes unanswered. */
struct topic_seen {
    char *topic;
    char addr[46];
    char host[64];
};

/* ---- small helpers ---- */

const char *chain_fmt(struct chain *c, const char *f, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, sizeof(buf), f, ap);
    va_end(ap);
    return arena_strdup(&c->arena, buf);
}

/* Hash of a NUL-terminated key. */
static uint64_t key_hash(const char *s)
{
    return str_hash(s, strlen(s));
}

/* Keys built by parts into buf[len], cut to len - 1 bytes as snprintf
 * would cut them, without its cost (a few a message): kb_init, kb_put and
 * the like, then kb_end. */
struct kbuf {
    char *p, *end; /* end: room for the NUL */
};

static struct kbuf kb_init(char *buf, size_t len)
{
    struct kbuf k = {buf, buf + len - 1};
    return k;
}

static void kb_put(struct kbuf *k, const char *s, size_t n)
{
    if (n > (size_t)(k->end - k->p))
        n = (size_t)(k->end - k->p);
    memcpy(k->p, s, n);
    k->p += n;
}

static void kb_end(struct kbuf *k)
{
    *k->p = '\0';
}

static void kb_str(struct kbuf *k, const char *s)
{
    kb_put(k, s, strlen(s));
}

static void kb_port(struct kbuf *k, uint16_t port)
{
    char num[5]; /* 65535 at most */
    size_t d = port >= 10000 ? 5 : port >= 1000 ? 4 : port >= 100 ? 3 : port >= 10 ? 2 : 1;
    for (size_t i = d; i-- > 0; port /= 10)
        num[i] = (char)('0' + port % 10);
    kb_put(k, num, d);
}

/* buf = pfx a, cut to len - 1 bytes. */
static void keyf(char *buf, size_t len, const char *pfx, const char *a)
{
    struct kbuf k = kb_init(buf, len);
    kb_str(&k, pfx);
    kb_str(&k, a);
    kb_end(&k);
}

static int is_client(const char *svc)
{
    return !svc || !strcmp(svc, "client");
}

/* A caller service name matches a handler: same, or a family prefix
 * ("nova" for the python-glanceclient calls of nova-api/nova-compute). */
static int svc_matches(const char *caller, const char *handler)
{
    if (!caller || !handler)
        return 0;
    size_t n = strlen(caller);
    return !strcmp(caller, handler) || (!strncmp(caller, handler, n) && handler[n] == '-');
}

static int is_call(const struct event *ev)
{
    return ev->kind == EV_RPC_CALL;
}

static int is_rpc_msg(const struct event *ev)
{
    return ev->kind == EV_RPC_CALL || ev->kind == EV_RPC_CAST;
}

/* ---- index ---- */

static struct slot *map_find_h(const struct chain_set *cs, const char *key, uint64_t h)
{
    if (!cs->nslots)
        return NULL;
    size_t mask = cs->nslots - 1;
    for (size_t i = h & mask, k = 0; k < cs->nslots; i = (i + 1) & mask, k++) {
        struct slot *s = &cs->slots[i];
        if (!s->key)
            return NULL;
        if (s->key != TOMB && s->h == h && (s->key == key || !strcmp(s->key, key)))
            return s;
    }
    return NULL;
}

static struct slot *map_find(const struct chain_set *cs, const char *key)
{
    return cs->nslots ? map_find_h(cs, key, key_hash(key)) : NULL;
}

/* Room for one more key on c's list; 0 or -1. */
static int keys_room(struct chain *c)
{
    if (c->nkeys < c->capkeys)
        return 0;
    size_t ncap = c->capkeys ? c->capkeys * 2 : 8;
    struct chain_key *nk = realloc(c->keys, ncap * sizeof(*nk));
    if (!nk)
        return -1;
    c->keys = nk;
    c->capkeys = ncap;
    return 0;
}

static int map_resize(struct chain_set *cs, size_t n)
{
    struct slot *ns = calloc(n, sizeof(*ns));
    if (!ns)
        return -1;
    for (size_t i = 0; i < cs->nslots; i++) {
        struct slot *s = &cs->slots[i];
        if (!s->key || s->key == TOMB)
            continue;
        size_t j = s->h & (n - 1);
        while (ns[j].key)
            j = (j + 1) & (n - 1);
        ns[j] = *s;
    }
    free(cs->slots);
    cs->slots = ns;
    cs->nslots = n;
    cs->used = cs->live;
    return 0;
}

/* Point key at (c, idx). The key text lives in the arena of the chain its
 * slot points at (one copy, freed with that chain), and every slot of a
 * chain is on its key list (chain_set_remove finds them there): a key
 * taken over by c is copied into c's arena. Returns 0 or -1 (allocation
 * failure: the link is just lost). */
static int map_put_h(struct chain_set *cs, const char *key, uint64_t h, struct chain *c,
                     int32_t idx)
{
    struct slot *s = map_find_h(cs, key, h);
    if (s && s->c == c) {
        s->idx = idx;
        return 0;
    }
    if (keys_room(c) < 0)
        return -1;
    char *k = arena_strdup(&c->arena, key);
    if (!k)
        return -1;
    if (!s) {
        if ((cs->used + 1) * 2 > cs->nslots) {
            /* rehash (dropping tombstones), doubling while over 1/4 full */
            size_t n = cs->nslots ? cs->nslots : 64;
            while ((cs->live + 1) * 4 > n && n < ((size_t)1 << 30))
                n *= 2;
            if (map_resize(cs, n) < 0)
                return -1;
        }
        size_t mask = cs->nslots - 1, i = h & mask;
        while (cs->slots[i].key && cs->slots[i].key != TOMB)
            i = (i + 1) & mask;
        if (!cs->slots[i].key)
            cs->used++;
        cs->live++;
        s = &cs->slots[i];
        s->h = h;
    }
    s->key = k;
    s->c = c;
    s->idx = idx;
    c->keys[c->nkeys].text = k;
    c->keys[c->nkeys].hash = h;
    c->nkeys++;
    return 0;
}

static int map_put(struct chain_set *cs, const char *key, struct chain *c, int32_t idx)
{
    return map_put_h(cs, key, key_hash(key), c, idx);
}

/* A key an event will look up and register, made once: its text, its
 * hash, and its slot's cache line fetched ahead (the index is megabytes:
 * the lookups of one event then wait on memory together, not in turn). */
struct pkey {
    int set;
    uint64_t h;
    char k[320];
};

static void pkey_make(const struct chain_set *cs, struct pkey *p, const char *pfx, const char *id)
{
    p->set = id && *id;
    if (!p->set)
        return;
    keyf(p->k, sizeof(p->k), pfx, id);
    p->h = key_hash(p->k);
    if (cs->nslots)
        __builtin_prefetch(&cs->slots[p->h & (cs->nslots - 1)]);
}

static struct chain *lookup_pkey(struct chain_set *cs, const struct pkey *p, int32_t *idx)
{
    if (!p->set)
        return NULL;
    struct slot *s = map_find_h(cs, p->k, p->h);
    if (!s)
        return NULL;
    if (idx)
        *idx = s->idx;
    return s->c;
}

/* The slot of chain c's key ck, if c still owns it: the slot then points
 * at this very text (map_put), so neither the hash nor the text is read
 * again. NULL if the key went to another chain or was dropped. */
static struct slot *own_slot(const struct chain_set *cs, const struct chain *c,
                             const struct chain_key *ck)
{
    if (!cs->nslots)
        return NULL;
    size_t mask = cs->nslots - 1;
    for (size_t i = ck->hash & mask, k = 0; k < cs->nslots; i = (i + 1) & mask, k++) {
        struct slot *s = &cs->slots[i];
        if (!s->key)
            return NULL;
        if (s->key == ck->text)
            return s->c == c ? s : NULL;
    }
    return NULL;
}

static void map_del(struct chain_set *cs, struct slot *s)
{
    s->key = TOMB; /* the text stays in its chain's arena */
    s->c = NULL;
    cs->live--;
}


/* ---- chains ---- */

static struct chain *chain_new(struct chain_set *cs, uint64_t ts)
{
    struct chain *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->id = ++cs->next_id;
    c->root = CHAIN_NONE;
    c->first_ts = c->last_ts = ts;
    c->next_deadline = UINT64_MAX;
    arena_init(&c->arena, NULL, 1024);
    c->prev = cs->tail;
    if (cs->tail)
        cs->tail->next = c;
    else
        cs->head = c;
    cs->tail = c;
    cs->nchains++;
    return c;
}

void chain_set_on_attempt(struct chain_set *cs,
                          int (*may_call)(void *ctx, const struct event *req,
                                          const struct event *attempt),
                          struct chain_session (*session_of)(void *ctx,
                                                             const struct event *attempt),
                          void *ctx)
{
    cs->may_call = may_call;
    cs->attempt_session = session_of;
    cs->hook_ctx = ctx;
}

void chain_set_on_timeout(struct chain_set *cs,
                          void (*fn)(void *ctx, const struct chain *c, int32_t entry), void *ctx)
{
    cs->on_timeout = fn;
    cs->on_timeout_ctx = ctx;
}

void chain_set_on_unlink(struct chain_set *cs, void (*fn)(void *ctx, struct chain *c), void *ctx)
{
    cs->on_unlink = fn;
    cs->on_unlink_ctx = ctx;
}

static void chain_unlink(struct chain_set *cs, struct chain *c)
{
    if (cs->on_unlink)
        cs->on_unlink(cs->on_unlink_ctx, c);
    if (c->prev)
        c->prev->next = c->next;
    else
        cs->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        cs->tail = c->prev;
    c->prev = c->next = NULL;
    cs->nchains--;
}

static void chain_destroy(struct chain *c, int free_events)
{
    if (free_events)
        for (size_t i = 0; i < c->n; i++)
            event_free(c->e[i].ev);
    free(c->e);
    free(c->keys); /* the texts are in the arena */
    arena_reset(&c->arena);
    free(c);
}

/* First place in cs->open whose seq is >= seq. */
static size_t open_lower(const struct chain_set *cs, uint64_t seq)
{
    size_t lo = 0, hi = cs->nopen;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cs->open[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Place of the open request of seq, or cs->nopen. */
static size_t open_find(const struct chain_set *cs, uint64_t seq)
{
    size_t i = open_lower(cs, seq);
    return i < cs->nopen && cs->open[i].seq == seq ? i : cs->nopen;
}

static void open_remove_at(struct chain_set *cs, size_t i)
{
    memmove(&cs->open[i], &cs->open[i + 1], (cs->nopen - i - 1) * sizeof(cs->open[0]));
    cs->nopen--;
}

static void recompute_root(struct chain *c)
{
    int32_t best = CHAIN_NONE;
    for (size_t i = 0; i < c->n; i++) {
        const struct chain_entry *e = &c->e[i];
        if (e->flags & CE_TWIN)
            continue;
        if (best == CHAIN_NONE || e->rank > c->e[best].rank ||
            (e->rank == c->e[best].rank && e->ev->seq < c->e[best].ev->seq))
            best = (int32_t)i;
    }
    c->root = best;
}

/* c is not decided before until (a client's next step is due then). */
static void hold(struct chain *c, uint64_t until)
{
    if (until > c->hold_until)
        c->hold_until = until;
}

/* Move every entry and key of b into a; b is freed. Returns 0, or -1 on
 * allocation failure (both chains unchanged, counted). */
static int chain_merge(struct chain_set *cs, struct chain *a, struct chain *b)
{
    if (a == b)
        return 0;
    size_t need = a->n + b->n;
    if (need > a->cap) {
        struct chain_entry *ne = realloc(a->e, need * sizeof(*ne));
        if (!ne) {
            stats_add(cs->st, "rca.merge_failed", 1);
            return -1;
        }
        a->e = ne;
        a->cap = need;
    }
    int32_t off = (int32_t)a->n;
    for (size_t i = 0; i < b->n; i++) {
        struct chain_entry e = b->e[i];
        if (e.pair != CHAIN_NONE)
            e.pair += off;
        if (e.twin != CHAIN_NONE)
            e.twin += off;
        if (e.parent != CHAIN_NONE)
            e.parent += off;
        a->e[a->n++] = e;
    }
    /* b's keys move to a: copied into a's arena (b's goes with b), its
     * slots repointed; a slot that cannot follow is dropped */
    if (b->nkeys) {
        size_t nk = a->nkeys + b->nkeys;
        if (nk > a->capkeys) {
            struct chain_key *k = realloc(a->keys, nk * sizeof(*k));
            if (k) {
                a->keys = k;
                a->capkeys = nk;
            }
        }
        for (size_t i = 0; i < b->nkeys; i++) {
            struct slot *s = own_slot(cs, b, &b->keys[i]);
            char *k = a->nkeys < a->capkeys ? arena_strdup(&a->arena, b->keys[i].text) : NULL;
            if (k) {
                a->keys[a->nkeys].text = k;
                a->keys[a->nkeys].hash = b->keys[i].hash;
                a->nkeys++;
            }
            if (s) {
                if (k) {
                    s->key = k;
                    s->c = a;
                    s->idx += off;
                } else {
                    map_del(cs, s);
                }
            }
        }
        b->nkeys = 0;
    }
    for (size_t i = 0; i < cs->nopen; i++) {
        if (cs->open[i].c == b) {
            cs->open[i].c = a;
            cs->open[i].idx += off;
        }
    }
    if (b->first_ts < a->first_ts)
        a->first_ts = b->first_ts;
    if (b->last_ts > a->last_ts)
        a->last_ts = b->last_ts;
    a->npending += b->npending;
    if (b->next_deadline < a->next_deadline)
        a->next_deadline = b->next_deadline;
    a->has_user |= b->has_user;
    if (!a->session)
        a->session = b->session;
    hold(a, b->hold_until);
    a->dropped += b->dropped;
    if (b->lookup != CHAIN_LOOKUP_NONE && a->lookup == CHAIN_LOOKUP_NONE) {
        a->lookup = b->lookup;
        a->lookup_name = b->lookup_name ? arena_strdup(&a->arena, b->lookup_name) : NULL;
    }
    b->n = 0; /* entries now belong to a */
    chain_unlink(cs, b);
    chain_destroy(b, 0);
    recompute_root(a);
    (*cs->c_merged)++;
    return 0;
}

/* ---- public: set ---- */

struct chain_set *chain_set_new(const struct chain_cfg *cfg, const struct rules *rules,
                                struct stats *st)
{
    struct chain_set *cs = calloc(1, sizeof(*cs));
    if (!cs)
        return NULL;
    cs->cfg = *cfg;
    if (!cs->cfg.max_events_per_chain)
        cs->cfg.max_events_per_chain = 2000;
    if (!cs->cfg.max_open_requests)
        cs->cfg.max_open_requests = 4096;
    if (!cs->cfg.default_call_timeout_us)
        cs->cfg.default_call_timeout_us = 60000000ull;
    if (!cs->cfg.session_hold_us)
        cs->cfg.session_hold_us = 6000000ull;
    cs->rules = rules;
    cs->map = rules_svcmap(rules);
    cs->st = st;
    cs->open = calloc(cs->cfg.max_open_requests, sizeof(*cs->open));
    cs->delivered = calloc(DELIVERED_MAX, sizeof(*cs->delivered));
    static uint64_t dummy[8];
    cs->c_dropped = st ? stats_counter(st, "rca.chain_events_dropped") : &dummy[0];
    cs->c_merged = st ? stats_counter(st, "rca.chains_merged") : &dummy[1];
    cs->c_open_evicted = st ? stats_counter(st, "rca.open_requests_evicted") : &dummy[2];
    cs->c_nested = st ? stats_counter(st, "rca.time_nested") : &dummy[3];
    cs->c_polls = st ? stats_counter(st, "rca.resource_links") : &dummy[4];
    cs->c_uuid_links = st ? stats_counter(st, "rca.lookup_followups") : &dummy[5];
    cs->c_tok_matched = st ? stats_counter(st, "rca.token_validations_matched") : &dummy[6];
    cs->c_tok_unmatched = st ? stats_counter(st, "rca.token_validations_unmatched") : &dummy[7];
    if (!cs->open || !cs->delivered) {
        chain_set_free(cs);
        return NULL;
    }
    return cs;
}

void chain_set_free(struct chain_set *cs)
{
    if (!cs)
        return;
    struct chain *c = cs->head;
    while (c) {
        struct chain *n = c->next;
        chain_destroy(c, 1);
        c = n;
    }
    free(cs->slots); /* their keys were in the chains' arenas */
    free(cs->open);
    if (cs->delivered)
        for (size_t i = 0; i < cs->ndelivered; i++)
            free(cs->delivered[i].topic);
    free(cs->delivered);
    free(cs);
}

struct chain *chain_set_first(const struct chain_set *cs)
{
    return cs->head;
}

size_t chain_set_count(const struct chain_set *cs)
{
    return cs->nchains;
}

const struct rules *chain_set_rules(const struct chain_set *cs)
{
    return cs->rules;
}

void chain_set_use_rules(struct chain_set *cs, const struct rules *rules)
{
    cs->rules = rules;
    cs->map = rules_svcmap(rules);
}

static void ring_add(char ring[RING][37], size_t *n, const char *uuid)
{
    for (size_t i = 0; i < RING && i < *n; i++)
        if (!strcmp(ring[i], uuid))
            return;
    str_copy(ring[*n % RING], 37, uuid);
    (*n)++;
}

static int ring_has(const char ring[RING][37], size_t n, const char *uuid)
{
    for (size_t i = 0; i < RING && i < n; i++)
        if (!strcmp(ring[i], uuid))
            return 1;
    return 0;
}

int chain_set_was_deleted(const struct chain_set *cs, const char *uuid)
{
    return uuid && ring_has(cs->deleted, cs->ndeleted, uuid);
}

void chain_set_note_failed(struct chain_set *cs, const char *uuid)
{
    if (uuid && *uuid)
        ring_add(cs->failed, &cs->nfailed, uuid);
}

int chain_set_was_failed(const struct chain_set *cs, const char *uuid)
{
    return uuid && ring_has(cs->failed, cs->nfailed, uuid);
}

void chain_set_note_failed_op(struct chain_set *cs, const char *rid_uuid)
{
    if (rid_uuid && *rid_uuid)
        ring_add(cs->failed_ops, &cs->nfailed_ops, rid_uuid);
}

int chain_set_was_failed_op(const struct chain_set *cs, const char *rid_uuid)
{
    return rid_uuid && ring_has(cs->failed_ops, cs->nfailed_ops, rid_uuid);
}

static struct topic_seen *topic_find(const struct chain_set *cs, const char *topic)
{
    if (!topic)
        return NULL;
    for (size_t i = 0; i < cs->ndelivered; i++)
        if (!strcmp(cs->delivered[i].topic, topic))
            return &cs->delivered[i];
    return NULL;
}

int chain_set_topic_consumed(const struct chain_set *cs, const char *topic)
{
    return topic_find(cs, topic) != NULL;
}

int chain_set_delivery_visible(const struct chain_set *cs, const struct event *ev)
{
    return cs->local_amqp || topic_find(cs, ev->routing_key) || topic_find(cs, ev->topic);
}

int chain_set_topic_consumer(const struct chain_set *cs, const struct event *ev,
                             const char **addr, const char **host)
{
    const struct topic_seen *t = topic_find(cs, ev->routing_key);
    if (!t && !ev->target_server)
        t = topic_find(cs, ev->topic);
    if (!t)
        return 0;
    *addr = t->addr[0] ? t->addr : NULL;
    *host = t->host[0] ? t->host : NULL;
    return 1;
}

/* Remember that topic was delivered, and to whom (the latest consumer). */
static void note_delivered(struct chain_set *cs, const char *topic, const struct event *ev)
{
    if (!topic || !*topic)
        return;
    struct topic_seen *t = topic_find(cs, topic);
    if (!t) {
        if (cs->ndelivered >= DELIVERED_MAX) {
            stats_add(cs->st, "rca.delivered_topics_full", 1);
            return;
        }
        size_t n = strlen(topic);
        char *d = malloc(n + 1);
        if (!d)
            return;
        memcpy(d, topic, n + 1);
        t = &cs->delivered[cs->ndelivered++];
        t->topic = d;
    }
    str_copy(t->addr, sizeof(t->addr), ev->dst.addr);
    str_copy(t->host, sizeof(t->host), ev->dst.host ? ev->dst.host : "");
}

void chain_set_remove(struct chain_set *cs, struct chain *c)
{
    for (size_t i = 0; i < c->nkeys; i++) {
        struct slot *s = own_slot(cs, c, &c->keys[i]);
        if (s)
            map_del(cs, s);
    }
    for (size_t i = cs->nopen; i-- > 0;)
        if (cs->open[i].c == c)
            open_remove_at(cs, i);
    chain_unlink(cs, c);
    chain_destroy(c, 1);
    /* shrink a mostly-dead index */
    if (cs->nslots > 1024 && cs->live * 8 < cs->nslots)
        map_resize(cs, cs->nslots / 2);
    else if (cs->used > cs->live * 2 + 64 && cs->nslots)
        map_resize(cs, cs->nslots);
}

/* ---- root helpers ---- */

const struct event *chain_root(const struct chain *c)
{
    return c->root != CHAIN_NONE ? c->e[c->root].ev : NULL;
}

int chain_root_answered(const struct chain *c)
{
    if (c->root == CHAIN_NONE)
        return 1;
    const struct chain_entry *r = &c->e[c->root];
    switch (r->ev->kind) {
    case EV_HTTP_REQUEST:
    case EV_RPC_CALL:
        return (r->flags & (CE_ANSWERED | CE_TIMED_OUT)) != 0;
    default:
        return 1;
    }
}

int chain_is_background(const struct chain *c)
{
    if (c->has_user)
        return 0;
    /* the broker's own trouble (a Close, a Return, a refused reconnect)
     * reaches services, never a user, unless a user's message is in it */
    const struct event *root = chain_root(c);
    if (root && (root->kind == EV_AMQP_CLOSE || root->kind == EV_AMQP_RETURN ||
                 root->kind == EV_AMQP_BLOCKED))
        return 1;
    for (size_t i = 0; i < c->n; i++)
        if (c->e[i].rank >= 2)
            return 0;
    return 1;
}

int chain_has_request_id(const struct chain *c, const char *id)
{
    for (size_t i = 0; i < c->n; i++) {
        const struct event *ev = c->e[i].ev;
        if ((ev->request_id && !strcmp(ev->request_id, id)) ||
            (ev->global_request_id && !strcmp(ev->global_request_id, id)))
            return 1;
    }
    return 0;
}

int chain_has_resource(const struct chain *c, const char *uuid)
{
    for (size_t i = 0; i < c->n; i++) {
        const struct event *ev = c->e[i].ev;
        for (size_t k = 0; k < ev->nuuids; k++)
            if (!strcasecmp(ev->uuids[k].id, uuid))
                return 1;
        if (ev->path && strcasestr(ev->path, uuid))
            return 1;
    }
    return 0;
}

int chain_path_uuid(const char *path, char *out, size_t outlen)
{
    if (!path || outlen < 37)
        return 0;
    int found = 0;
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        const char *e = p;
        while (*e && *e != '/')
            e++;
        size_t n = (size_t)(e - p);
        if ((n == 36 || n == 32) && event_is_uuid(p, n)) {
            for (size_t i = 0; i < n; i++) {
                char ch = p[i];
                out[i] = (ch >= 'A' && ch <= 'F') ? (char)(ch - 'A' + 'a') : ch;
            }
            out[n] = '\0';
            found = 1;
        }
        p = e;
    }
    return found;
}

const char *chain_sender(const struct chain_set *cs, const struct event *ev, char *host,
                         size_t hostlen)
{
    if (host && hostlen)
        host[0] = '\0';
    if (ev->kind == EV_NOTIFICATION && ev->publisher_id && cs->map) {
        const char *s = svcmap_publisher(cs->map, ev->publisher_id, host, hostlen);
        if (s)
            return s;
    }
    if (ev->kind == EV_RPC_REPLY || is_rpc_msg(ev) || ev->kind == EV_NOTIFICATION) {
        if (ev->verb == EV_VERB_DELIVER)
            return NULL; /* src is the broker */
    }
    if (host && hostlen && ev->src.host)
        str_copy(host, hostlen, ev->src.host);
    return ev->src.service;
}

const char *chain_receiver(const struct chain_set *cs, const struct chain *c, size_t i,
                           const char **host)
{
    const struct chain_entry *e = &c->e[i];
    const struct event *ev = e->ev;
    if (host)
        *host = NULL;
    if (ev->kind == EV_HTTP_REQUEST) {
        if (host)
            *host = ev->dst.host;
        return ev->dst.service;
    }
    if (is_rpc_msg(ev)) {
        if (host)
            *host = ev->target_server;
        if (ev->topic_service)
            return ev->topic_service;
        if (e->twin != CHAIN_NONE && !(e->flags & CE_TWIN)) {
            const struct event *d = c->e[e->twin].ev;
            if (host && !*host)
                *host = d->dst.host;
            if (d->dst.service)
                return d->dst.service;
        }
        if (ev->verb == EV_VERB_DELIVER && ev->dst.service)
            return ev->dst.service;
        if (cs->map && (ev->topic || ev->routing_key))
            return svcmap_topic(cs->map, ev->topic ? ev->topic : ev->routing_key, NULL, 0);
    }
    return NULL;
}

/* ---- stitching ---- */

static int rank_of(const struct chain_set *cs, const struct event *ev)
{
    switch (ev->kind) {
    case EV_HTTP_REQUEST:
        return is_client(ev->src.service) ? 3 : 1;
    case EV_RPC_CALL:
    case EV_RPC_CAST:
        if (ev->verb == EV_VERB_DELIVER)
            return 1;
        if (!(ev->ctx_user || ev->ctx_project))
            return 1;
        return (is_client(ev->src.service) || !rules_is_service(cs->rules, ev->src.service)) ? 2
                                                                                             : 1;
    case EV_CONN:
        /* only a refused or unanswered attempt is a fault worth a chain root */
        return (ev->conn_event == FLOW_EV_REFUSED || ev->conn_event == FLOW_EV_UNANSWERED) ? 2 : 0;
    case EV_AMQP_RETURN:
    case EV_AMQP_CLOSE:
    case EV_AMQP_BLOCKED:
        return 2;
    default:
        return 0;
    }
}

static struct chain *lookup_chain(struct chain_set *cs, const char *pfx, const char *id,
                                  int32_t *idx)
{
    if (!id || !*id)
        return NULL;
    char k[320];
    keyf(k, sizeof(k), pfx, id);
    struct slot *s = map_find(cs, k);
    if (!s)
        return NULL;
    if (idx)
        *idx = s->idx;
    return s->c;
}

struct chain *chain_set_resource_chain(const struct chain_set *cs, const char *uuid)
{
    struct chain *c = lookup_chain((struct chain_set *)cs, "o:", uuid, NULL);
    /* the first decided: the latest still open to act on it */
    return c ? c : lookup_chain((struct chain_set *)cs, "i:", uuid, NULL);
}

/* 1 when request req carried the token that validation ev checks. */
static int checks_token_of(const struct event *ev, const struct event *req)
{
    return ev->subject_fp &&
           (req->token_fp[0] == ev->subject_fp || req->token_fp[1] == ev->subject_fp);
}

/* Newest open request that ev nests into (time nesting), or NULL. A token
 * validation (X-Subject-Token) nests into the newest open request on its
 * host that carried that token (X-Auth-Token or X-Service-Token), else
 * into the newest on another address that did (a request seen only on
 * its way to a load balancer's address), else into the newest on its
 * host: with many operations in flight the newest request on the host is
 * often another user's. */
static struct open_req *nest_find(struct chain_set *cs, const struct event *ev, const char *caller)
{
    struct open_req *newest = NULL, *elsewhere = NULL;
    for (size_t i = open_lower(cs, ev->seq); i-- > 0;) {
        struct open_req *o = &cs->open[i];
        const struct event *req = o->req;
        const char *handler = req->dst.service;
        if (!handler || is_client(handler))
            continue;
        if (caller) {
            if (svc_matches(caller, handler))
                return o;
            continue;
        }
        /* any host-local handler other than the target itself */
        if (ev->dst.service && !strcmp(handler, ev->dst.service))
            continue;
        if (!strcmp(handler, "keystone"))
            continue;
        if (ev->src.addr[0] && req->dst.addr[0] && strcmp(ev->src.addr, req->dst.addr) != 0) {
            if (!elsewhere && checks_token_of(ev, req))
                elsewhere = o;
            continue;
        }
        if (ev->kind == EV_CONN) {
            /* a connection attempt: only by a service seen calling its target,
             * and not within a moment of the last one nested there (a service
             * retries after a pause; two attempts a millisecond apart are two
             * clients, or a client's discovery and login) */
            if (o->attempt_us && ev->ts_us < o->attempt_us + ATTEMPT_RETRY_US)
                continue;
            if (cs->may_call && cs->may_call(cs->hook_ctx, req, ev)) {
                o->attempt_us = ev->ts_us;
                return o;
            }
            continue;
        }
        if (!ev->subject_fp)
            return o;
        if (checks_token_of(ev, req)) {
            (*cs->c_tok_matched)++;
            return o;
        }
        if (!newest)
            newest = o;
    }
    if (elsewhere) {
        (*cs->c_tok_matched)++;
        return elsewhere;
    }
    if (newest)
        (*cs->c_tok_unmatched)++;
    return newest;
}

/* The newest open request a service on ev's source address handles
 * (not the target itself, not keystone), for a service's connection
 * attempt that no known dependency explains. */
static struct open_req *nest_loose(struct chain_set *cs, const struct event *ev)
{
    for (size_t i = open_lower(cs, ev->seq); i-- > 0;) {
        struct open_req *o = &cs->open[i];
        const char *handler = o->req->dst.service;
        if (!handler || is_client(handler) || !strcmp(handler, "keystone") ||
            (ev->dst.service && !strcmp(handler, ev->dst.service)) ||
            strcmp(o->req->dst.addr, ev->src.addr) != 0)
            continue;
        if (o->attempt_us && ev->ts_us < o->attempt_us + ATTEMPT_RETRY_US)
            continue;
        o->attempt_us = ev->ts_us;
        return o;
    }
    return NULL;
}

/* Query parameter name=... of q, copied to out; 0 if absent. */
static int query_name(const char *q, char *out, size_t outlen)
{
    if (!q)
        return 0;
    const char *p = q;
    while (p && *p) {
        if (!strncmp(p, "name=", 5)) {
            p += 5;
            size_t n = strcspn(p, "&");
            if (n >= outlen)
                n = outlen - 1;
            memcpy(out, p, n);
            out[n] = '\0';
            return 1;
        }
        p = strchr(p, '&');
        if (p)
            p++;
    }
    return 0;
}

/* Collection of a client GET path for lookups: "/v2/images/x" -> "/v2/images",
 * keyed by the client's address and, with by_conn, its port too: clients
 * (openstackclient's keep-alive pool) send the list-by-name follow-up on
 * the connection of the 404, which tells apart concurrent lookups of one
 * client host; the address-only key is the fallback for a new connection. */
static void lookup_key(char *buf, size_t len, const struct event *req, const char *coll,
                       size_t colllen, int by_conn)
{
    /* "l:ADDR:PORT|SERVICE|COLL", or "l:ADDR|SERVICE|COLL" */
    struct kbuf k = kb_init(buf, len);
    kb_put(&k, "l:", 2);
    kb_str(&k, req->src.addr);
    if (by_conn) {
        kb_put(&k, ":", 1);
        kb_port(&k, req->src.port);
    }
    kb_put(&k, "|", 1);
    kb_str(&k, req->dst.service ? req->dst.service : "");
    kb_put(&k, "|", 1);
    kb_put(&k, coll, strnlen(coll, colllen));
    kb_end(&k);
}

static int append_entry(struct chain_set *cs, struct chain *c, struct event *ev, int force)
{
    size_t cap = cs->cfg.max_events_per_chain;
    int evidence = ev->error_class || ev->error_message || ev->status >= 400 || ev->failure ||
                   ev->kind == EV_CONN || ev->resource_state;
    if (c->n >= cap && !(force || (evidence && c->n < cap + CHAIN_EVIDENCE_RESERVE))) {
        c->dropped++;
        (*cs->c_dropped)++;
        return -1;
    }
    if (c->n == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 16;
        struct chain_entry *ne = realloc(c->e, ncap * sizeof(*ne));
        if (!ne) {
            c->dropped++;
            (*cs->c_dropped)++;
            return -1;
        }
        c->e = ne;
        c->cap = ncap;
    }
    struct chain_entry *e = &c->e[c->n];
    memset(e, 0, sizeof(*e));
    e->ev = ev;
    e->pair = e->twin = e->parent = CHAIN_NONE;
    e->rank = (uint8_t)rank_of(cs, ev);
    c->n++;
    return (int)(c->n - 1);
}

static uint64_t call_deadline(const struct chain_set *cs, const struct event *ev)
{
    uint64_t t;
    if (ev->timeout_s > 0)
        t = (uint64_t)ev->timeout_s * 1000000ull;
    else if (ev->expiration_ms > 0)
        t = (uint64_t)ev->expiration_ms * 1000ull;
    else
        t = cs->cfg.default_call_timeout_us;
    return ev->ts_us + t;
}

static void open_add(struct chain_set *cs, struct chain *c, int32_t idx)
{
    if (cs->nopen == cs->cfg.max_open_requests) {
        struct open_req *o = &cs->open[0];
        o->c->e[o->idx].flags &= (uint16_t)~CE_HTTP_OPEN;
        open_remove_at(cs, 0);
        (*cs->c_open_evicted)++;
    }
    const struct event *ev = c->e[idx].ev;
    /* requests come in seq order: appended, but kept in order if not */
    size_t at = cs->nopen && cs->open[cs->nopen - 1].seq > ev->seq ? open_lower(cs, ev->seq)
                                                                    : cs->nopen;
    memmove(&cs->open[at + 1], &cs->open[at], (cs->nopen - at) * sizeof(cs->open[0]));
    cs->nopen++;
    struct open_req *o = &cs->open[at];
    o->seq = ev->seq;
    o->flow_id = ev->flow_id;
    o->attempt_us = 0;
    o->req = ev;
    o->c = c;
    o->idx = idx;
    c->e[idx].flags |= CE_HTTP_OPEN;
}

/* Register ev's keys on chain c at entry idx. */
/* The keys of an event (pkey_make'd by chain_set_add): request ids,
 * unique id, msg id. */
struct ev_keys {
    struct pkey r[2], u, m;
};

static void put_pkey(struct chain_set *cs, const struct pkey *p, const char *pfx, const char *id,
                     struct chain *c, int32_t idx)
{
    if (p->set) {
        map_put_h(cs, p->k, p->h, c, idx);
    } else if (id && *id) {
        char k[320];
        keyf(k, sizeof(k), pfx, id);
        map_put(cs, k, c, idx);
    }
}

static void register_keys(struct chain_set *cs, struct chain *c, int32_t idx,
                          const struct ev_keys *ek)
{
    struct chain_entry *e = &c->e[idx];
    const struct event *ev = e->ev;
    char k[320];
    if (ev->request_id)
        put_pkey(cs, &ek->r[0], "r:", ev->request_id, c, idx);
    if (ev->global_request_id)
        put_pkey(cs, &ek->r[1], "r:", ev->global_request_id, c, idx);
    if (ev->unique_id && !(e->flags & CE_TWIN))
        put_pkey(cs, &ek->u, "u:", ev->unique_id, c, idx);
    if (is_call(ev) && ev->msg_id && !(e->flags & CE_TWIN))
        put_pkey(cs, &ek->m, "m:", ev->msg_id, c, idx);
    /* instance ids of a user's RPC messages: id-less steps and polls find
     * the chain (never stolen from another open chain) */
    if (is_rpc_msg(ev) && (ev->ctx_user || ev->ctx_project)) {
        for (size_t i = 0; i < ev->nuuids; i++) {
            if (ev->uuids[i].res != EV_RES_INSTANCE)
                continue;
            keyf(k, sizeof(k), "i:", ev->uuids[i].id);
            struct slot *s = map_find(cs, k);
            if (!s || s->c == c)
                map_put(cs, k, c, idx);
        }
    }
}

/* c owns resource uuid: later polls find it ("i:", the latest operation
 * to act on it), and so does the question of which open operation acted
 * on it first ("o:", kept by the first until it is decided). */
static void own_resource(struct chain_set *cs, struct chain *c, int32_t idx, const char *uuid)
{
    char k[320];
    keyf(k, sizeof(k), "i:", uuid);
    map_put(cs, k, c, idx);
    keyf(k, sizeof(k), "o:", uuid);
    if (!map_find(cs, k))
        map_put(cs, k, c, idx);
}

/* Resources a user operation creates or acts on: later polls find it. */
static void own_resources(struct chain_set *cs, struct chain *c, int32_t idx)
{
    const struct event *ev = c->e[idx].ev;
    char u[40];
    for (size_t i = 0; i < ev->nuuids; i++) {
        enum ev_res r = (enum ev_res)ev->uuids[i].res;
        if (r == EV_RES_IMAGE || r == EV_RES_FLAVOR || r == EV_RES_PROJECT || r == EV_RES_USER ||
            r == EV_RES_PROVIDER || r == EV_RES_NETWORK)
            continue;
        own_resource(cs, c, idx, ev->uuids[i].id);
    }
    if (ev->kind == EV_HTTP_REQUEST && chain_path_uuid(ev->path, u, sizeof(u)))
        own_resource(cs, c, idx, u);
}

static void set_deadline(struct chain *c)
{
    c->next_deadline = UINT64_MAX;
    for (size_t i = 0; i < c->n; i++)
        if ((c->e[i].flags & CE_PENDING) && c->e[i].deadline_us < c->next_deadline)
            c->next_deadline = c->e[i].deadline_us;
}

/* Did the list answer resp hold the item looked up by name (a path
 * segment, percent-encoded as sent)? A list whose names the parser kept
 * (EV_F_LISTED) is searched for it; otherwise a 2xx that names resources
 * or has a body of some size counts as found. */
static int list_found(const struct event *resp, const char *name)
{
    if (resp->status < 200 || resp->status >= 300)
        return 0;
    if (!(resp->flags & EV_F_LISTED) || !name)
        return resp->nuuids > 0 || resp->body_len >= 160;
    char dec[256];
    size_t n = 0;
    for (const char *p = name; *p && n < sizeof(dec); p++) {
        int hi, lo;
        if (p[0] == '%' && (hi = str_hexval(p[1])) >= 0 && (lo = str_hexval(p[2])) >= 0) {
            dec[n++] = (char)(hi * 16 + lo);
            p += 2;
        } else {
            dec[n++] = *p;
        }
    }
    uint32_t h = event_name_hash(dec, n);
    for (size_t i = 0; i < resp->nnames; i++)
        if (resp->names[i] == h)
            return 1;
    return 0;
}

/* What stitching found for one event: the chains it links to, and how. */
struct links {
    struct chain *cands[8];
    size_t ncand;
    struct chain *primary; /* the chain of the entry ev answers or repeats */
    int32_t link;          /* that entry, in primary */
    int rel;               /* 1 twin, 2 http response, 3 rpc reply */
    size_t open_i;         /* the open request ev answers, (size_t)-1 */
    int32_t nest_parent;   /* entry of the request ev nests into */
    int poll, lookup_follow;
    uint32_t session;      /* the client session of ev */
    struct ev_keys ek;
};

static void cand_add(struct links *L, struct chain *c)
{
    for (size_t j = 0; j < L->ncand; j++)
        if (L->cands[j] == c)
            return;
    if (L->ncand < sizeof(L->cands) / sizeof(L->cands[0]))
        L->cands[L->ncand++] = c;
}

/* The strong links: the same message seen again (a Deliver of a Publish),
 * the request an HTTP response answers, the call an RPC reply answers,
 * then request ids. */
static void find_strong(struct chain_set *cs, const struct event *ev, struct links *L)
{
    if (ev->unique_id && ev->kind != EV_HTTP_REQUEST && ev->kind != EV_HTTP_RESPONSE) {
        struct chain *c = lookup_pkey(cs, &L->ek.u, &L->link);
        if (c) {
            L->primary = c;
            L->rel = 1;
        }
    }
    if (!L->primary && ev->kind == EV_HTTP_RESPONSE) {
        /* same flow, oldest open first */
        size_t i;
        if (ev->req_seq)
            i = open_find(cs, ev->req_seq);
        else
            for (i = 0; i < cs->nopen; i++)
                if (cs->open[i].flow_id == ev->flow_id && cs->open[i].seq < ev->seq)
                    break;
        if (i < cs->nopen) {
            L->primary = cs->open[i].c;
            L->link = cs->open[i].idx;
            L->rel = 2;
            L->open_i = i;
        }
    }
    if (!L->primary && ev->kind == EV_RPC_REPLY && ev->msg_id) {
        struct chain *c = lookup_pkey(cs, &L->ek.m, &L->link);
        if (c) {
            L->primary = c;
            L->rel = 3;
        }
    }
    if (L->primary)
        cand_add(L, L->primary);
    for (int k = 0; k < 2; k++) {
        struct chain *c = lookup_pkey(cs, &L->ek.r[k], NULL);
        if (c)
            cand_add(L, c);
    }
}

/* A client's GET that found nothing by id: the list-by-name that follows
 * a 404 lookup of the same collection, or a read of a resource an open
 * operation owns (polling). */
static void find_client_followup(struct chain_set *cs, const struct event *ev, struct links *L)
{
    char u[40], name[128], k[400];
    size_t pl = strlen(ev->path);
    if (pl > 7 && !strcmp(ev->path + pl - 7, "/detail"))
        pl -= 7;
    lookup_key(k, sizeof(k), ev, ev->path, pl, 1);
    struct slot *s = map_find(cs, k);
    if (!s) {
        lookup_key(k, sizeof(k), ev, ev->path, pl, 0);
        s = map_find(cs, k);
    }
    if (s && s->c->lookup == CHAIN_LOOKUP_WAIT) {
        int has_name = query_name(ev->query, name, sizeof(name));
        if (!has_name || !s->c->lookup_name || !strcmp(name, s->c->lookup_name)) {
            cand_add(L, s->c);
            L->lookup_follow = 1;
            (*cs->c_uuid_links)++;
        }
    }
    if (!L->ncand && chain_path_uuid(ev->path, u, sizeof(u))) {
        struct chain *c = lookup_chain(cs, "i:", u, NULL);
        /* a poll is the operation's own client reading: another client (its
         * own token) reading the same resource is an operation of its own */
        const struct event *root = c ? chain_root(c) : NULL;
        if (root && root->kind == EV_HTTP_REQUEST && root->token_fp[0] && ev->token_fp[0] &&
            root->token_fp[0] != ev->token_fp[0])
            c = NULL;
        if (c && c->e[c->root].rank < 2)
            c = NULL; /* a background chain is no client's operation */
        if (c) {
            cand_add(L, c);
            L->poll = 1;
            (*cs->c_polls)++;
        }
    }
}

/* The weak links, for an event no strong one explains: a client's
 * follow-up, an asynchronous step naming a resource an operation owns,
 * time nesting (id-less service calls and token validations made while
 * a service handles an open request; a connection attempt by a service
 * that calls the target), and for a refused or unanswered connection no
 * request explains, the client session it is tied to. */
/* ev nests into open request o: a time-nesting link. */
static void nest_into(struct chain_set *cs, struct links *L, const struct open_req *o)
{
    cand_add(L, o->c);
    L->nest_parent = o->idx;
    (*cs->c_nested)++;
}

/* k = the key of the refused connections tied to client session id. */
static void session_key(char *k, size_t len, uint32_t id)
{
    snprintf(k, len, "s:%u", id);
}

static void find_weak(struct chain_set *cs, const struct event *ev, struct links *L)
{
    if (ev->kind == EV_HTTP_REQUEST && is_client(ev->src.service) && ev->method &&
        !strcmp(ev->method, "GET") && ev->path) {
        find_client_followup(cs, ev, L);
    } else if (!ev->request_id && !ev->global_request_id && ev->kind != EV_HTTP_REQUEST &&
               ev->kind != EV_HTTP_RESPONSE) {
        for (size_t i = 0; i < ev->nuuids && !L->ncand; i++) {
            if (ev->uuids[i].res != EV_RES_INSTANCE && ev->uuids[i].res != EV_RES_VOLUME &&
                ev->uuids[i].res != EV_RES_PORT)
                continue;
            struct chain *c = lookup_chain(cs, "i:", ev->uuids[i].id, NULL);
            if (c) {
                cand_add(L, c);
                (*cs->c_polls)++;
            }
        }
    }
    if (L->ncand)
        return;
    int attempt = ev->kind == EV_CONN &&
                  (ev->conn_event == FLOW_EV_REFUSED || ev->conn_event == FLOW_EV_UNANSWERED);
    if (ev->kind == EV_HTTP_REQUEST || attempt) {
        const char *caller = NULL;
        int try = attempt;
        if (ev->kind == EV_HTTP_REQUEST && !is_client(ev->src.service) && !ev->global_request_id) {
            try = 1;
            if (strcmp(ev->src.service, "keystonemiddleware") != 0)
                caller = ev->src.service;
        }
        struct open_req *o = try ? nest_find(cs, ev, caller) : NULL;
        if (o) {
            nest_into(cs, L, o);
            return;
        }
    }
    if (!attempt || !cs->attempt_session)
        return;
    struct chain_session se = cs->attempt_session(cs->hook_ctx, ev);
    if (se.service_side) {
        /* a service's attempt no known dependency explains: the request
         * its address is handling, if any */
        struct open_req *o = nest_loose(cs, ev);
        if (o) {
            nest_into(cs, L, o);
            return;
        }
    }
    L->session = se.id;
    struct chain *c = se.op_request_id ? lookup_chain(cs, "r:", se.op_request_id, NULL) : NULL;
    if (!c && se.id) {
        char k[40];
        session_key(k, sizeof(k), se.id);
        struct slot *s = map_find(cs, k);
        c = s ? s->c : NULL;
    }
    if (c)
        cand_add(L, c);
}

/* Merge every chain found into the oldest (keeping the entry index of the
 * primary link valid); a new chain when none was found. NULL on
 * allocation failure. */
static struct chain *merge_found(struct chain_set *cs, const struct event *ev, struct links *L)
{
    struct chain *c = NULL;
    for (size_t i = 0; i < L->ncand; i++)
        if (!c || L->cands[i]->id < c->id)
            c = L->cands[i];
    if (L->primary && L->primary != c) {
        int32_t off = (int32_t)c->n;
        if (chain_merge(cs, c, L->primary) < 0)
            c = L->primary; /* keep the strong link; the weaker one is lost */
        else if (L->link != CHAIN_NONE)
            L->link += off;
    }
    /* a candidate merged away (freed by chain_merge, the only way one dies
     * here) may come again in cands */
    struct chain *gone[sizeof(L->cands) / sizeof(L->cands[0])];
    size_t ngone = 0;
    for (size_t i = 0; i < L->ncand; i++) {
        struct chain *x = L->cands[i];
        if (x == c || x == L->primary)
            continue;
        int dead = 0;
        for (size_t g = 0; g < ngone; g++)
            dead |= gone[g] == x;
        if (!dead && chain_merge(cs, c, x) == 0)
            gone[ngone++] = x;
    }
    if (!c)
        c = chain_new(cs, ev->ts_us);
    return c;
}

/* What an answer does to the entry it answers, before ev is appended
 * (even when ev itself is dropped at the cap). */
static void answer_state(struct chain_set *cs, struct chain *c, const struct event *ev,
                         const struct links *L)
{
    if (L->open_i != (size_t)-1) {
        /* find again: merges may have moved it */
        size_t i = open_find(cs, c->e[L->link].ev->seq);
        if (i < cs->nopen)
            open_remove_at(cs, i);
        c->e[L->link].flags &= (uint16_t)~CE_HTTP_OPEN;
    }
    if (L->rel == 2) {
        c->e[L->link].flags |= CE_ANSWERED;
    } else if (L->rel == 3 && ev->ending) {
        struct chain_entry *call = &c->e[L->link];
        if (call->flags & CE_PENDING) {
            call->flags &= (uint16_t)~CE_PENDING;
            if (c->npending)
                c->npending--;
            set_deadline(c);
        }
        if (call->flags & CE_TIMED_OUT)
            call->flags |= CE_LATE_REPLY;
        call->flags |= CE_ANSWERED;
    } else if (L->rel == 1) {
        c->e[L->link].ndeliver++;
    }
}

/* Mark the new entry idx by how it was linked; open requests, pending
 * calls and index keys follow from it. */
static void place_entry(struct chain_set *cs, struct chain *c, int32_t idx, const struct links *L)
{
    uint32_t session = L->session;
    struct chain_entry *e = &c->e[idx];
    struct event *ev = e->ev;
    if (L->rel == 1) {
        e->flags |= CE_TWIN;
        e->twin = L->link;
        e->rank = 0;
        if (c->e[L->link].twin == CHAIN_NONE)
            c->e[L->link].twin = idx;
    } else if (L->rel == 2 || L->rel == 3) {
        e->pair = L->link;
        c->e[L->link].pair = idx;
        e->rank = 0;
    }
    if (L->nest_parent != CHAIN_NONE) {
        e->parent = L->nest_parent;
        e->flags |= CE_NESTED;
    }
    if (L->poll)
        e->flags |= CE_POLL;
    /* a client polling its resource waits between polls (5 s, the CLI):
     * until the next one is due it has not stopped, whatever the settle */
    if (L->poll || ((L->rel == 2 || L->rel == 3) && (c->e[L->link].flags & CE_POLL)))
        hold(c, ev->ts_us + cs->cfg.session_hold_us);
    if (L->lookup_follow)
        e->flags |= CE_LOOKUP_LIST;
    if (L->poll || L->lookup_follow)
        e->rank = 0; /* a follow-up, never the root */

    if (ev->kind == EV_HTTP_REQUEST)
        open_add(cs, c, idx);
    if (is_call(ev) && L->rel != 1) {
        e->flags |= CE_PENDING;
        e->deadline_us = call_deadline(cs, ev);
        c->npending++;
        if (e->deadline_us < c->next_deadline)
            c->next_deadline = e->deadline_us;
        if (e->deadline_us < cs->min_deadline)
            cs->min_deadline = e->deadline_us;
    }
    if (ev->kind == EV_CONN && L->nest_parent == CHAIN_NONE && session) {
        /* a refusal tied to a client: wait to see whether it goes on */
        char k[40];
        e->flags |= CE_SESSION;
        hold(c, ev->ts_us + cs->cfg.session_hold_us);
        session_key(k, sizeof(k), session);
        map_put(cs, k, c, idx);
    }
    /* a login carries no token: its answer (or its failure) tells */
    if (session && !c->session &&
        (ev->kind == EV_CONN || e->rank == 3 || ev->kind == EV_HTTP_RESPONSE))
        c->session = session;
    register_keys(cs, c, idx, &L->ek);
    if (e->rank && (c->root == CHAIN_NONE || e->rank > c->e[c->root].rank))
        c->root = idx;
    else if (c->root == CHAIN_NONE)
        c->root = idx;
}

/* An answer to the root: resources a user operation created or acted on
 * (later polls find it), deletions, and the state of a lookup by name. */
static void answer_effects(struct chain_set *cs, struct chain *c, int32_t idx,
                           const struct links *L)
{
    const struct event *ev = c->e[idx].ev;
    if (L->rel == 3) {
        if (L->link == c->root && !ev->failure && c->e[c->root].rank >= 2)
            own_resources(cs, c, idx);
        return;
    }
    if (L->rel != 2) {
        /* an RPC a user's context sent starts an operation; background
         * work (no user behind it) never takes a resource from one */
        if (idx == c->root && is_rpc_msg(ev) && c->e[idx].rank >= 2)
            own_resources(cs, c, idx);
        return;
    }
    const struct chain_entry *req = &c->e[L->link];
    const struct event *rq = req->ev;
    if (req->flags & CE_LOOKUP_LIST) {
        if (c->lookup == CHAIN_LOOKUP_WAIT)
            c->lookup = list_found(ev, c->lookup_name) ? CHAIN_LOOKUP_FOUND : CHAIN_LOOKUP_EMPTY;
        return;
    }
    if (L->link != c->root || req->rank != 3 || !rq->method)
        return;
    int ok = ev->status >= 200 && ev->status < 300;
    if (ok && strcmp(rq->method, "GET") && strcmp(rq->method, "HEAD")) {
        own_resources(cs, c, L->link);
        own_resources(cs, c, idx);
    }
    if (ok && !strcmp(rq->method, "DELETE")) {
        char u[40];
        if (chain_path_uuid(rq->path, u, sizeof(u)))
            ring_add(cs->deleted, &cs->ndeleted, u);
    }
    if (ev->status == 404 && !strcmp(rq->method, "GET") && rq->path) {
        const char *slash = strrchr(rq->path, '/');
        if (slash && slash > rq->path && slash[1]) {
            char k[400];
            c->lookup = CHAIN_LOOKUP_WAIT;
            c->lookup_name = arena_strdup(&c->arena, slash + 1);
            lookup_key(k, sizeof(k), rq, rq->path, (size_t)(slash - rq->path), 1);
            map_put(cs, k, c, L->link);
            lookup_key(k, sizeof(k), rq, rq->path, (size_t)(slash - rq->path), 0);
            map_put(cs, k, c, L->link);
        }
    }
}

struct chain *chain_set_add(struct chain_set *cs, struct event *ev, uint32_t session)
{
    struct links L; /* the keys are set by pkey_make, the rest here */
    memset(&L, 0, offsetof(struct links, ek));
    L.link = L.nest_parent = CHAIN_NONE;
    L.open_i = (size_t)-1;
    L.session = session;
    pkey_make(cs, &L.ek.r[0], "r:", ev->request_id);
    pkey_make(cs, &L.ek.r[1], "r:", ev->global_request_id);
    pkey_make(cs, &L.ek.u, "u:", ev->unique_id);
    pkey_make(cs, &L.ek.m, "m:", (ev->kind == EV_RPC_REPLY || is_call(ev)) ? ev->msg_id : NULL);

    /* AMQP between the broker and a peer on its own host: the capture
     * sees that host's local traffic, every consumer's deliveries with it */
    if (ev->verb != EV_VERB_NONE && ev->src.addr[0] && !strcmp(ev->src.addr, ev->dst.addr))
        cs->local_amqp = 1;
    if (ev->verb == EV_VERB_DELIVER && (is_rpc_msg(ev) || ev->kind == EV_NOTIFICATION)) {
        note_delivered(cs, ev->topic ? ev->topic : ev->routing_key, ev);
        if (ev->topic && ev->routing_key && strcmp(ev->topic, ev->routing_key) != 0)
            note_delivered(cs, ev->routing_key, ev);
    }
    find_strong(cs, ev, &L);
    if (!L.ncand)
        find_weak(cs, ev, &L);
    struct chain *c = merge_found(cs, ev, &L);
    if (!c) {
        stats_add(cs->st, "rca.chain_alloc_failed", 1);
        event_free(ev);
        return NULL;
    }
    if (L.primary || L.open_i != (size_t)-1)
        answer_state(cs, c, ev, &L);
    if (ev->ts_us > c->last_ts)
        c->last_ts = ev->ts_us;
    if (is_rpc_msg(ev) && (ev->ctx_user || ev->ctx_project))
        c->has_user = 1;
    int idx = append_entry(cs, c, ev, L.rel == 2 && L.link == c->root);
    if (idx < 0) {
        event_free(ev);
        return c;
    }
    place_entry(cs, c, idx, &L);
    answer_effects(cs, c, idx, &L);
    return c;
}

void chain_set_expire(struct chain_set *cs, uint64_t now_us, int at_end)
{
    if (!at_end && now_us < cs->min_deadline)
        return;
    uint64_t next = UINT64_MAX;
    for (struct chain *c = cs->head; c; c = c->next) {
        if (!c->npending || (!at_end && c->next_deadline > now_us)) {
            if (c->npending && c->next_deadline < next)
                next = c->next_deadline;
            continue;
        }
        for (size_t i = 0; i < c->n; i++) {
            struct chain_entry *e = &c->e[i];
            if (!(e->flags & CE_PENDING))
                continue;
            if (e->deadline_us <= now_us || at_end) {
                e->flags &= (uint16_t)~CE_PENDING;
                e->flags |= CE_TIMED_OUT;
                if (e->deadline_us > now_us)
                    e->flags |= CE_EOC;
                if (c->npending)
                    c->npending--;
                if (e->ev->ts_us > c->last_ts)
                    c->last_ts = e->ev->ts_us;
                /* the timeout itself is activity: settle counts from it */
                uint64_t t = e->deadline_us < now_us ? e->deadline_us : now_us;
                if (t > c->last_ts)
                    c->last_ts = t;
                if (cs->on_timeout && !(e->flags & CE_EOC))
                    cs->on_timeout(cs->on_timeout_ctx, c, (int32_t)i);
            }
        }
        set_deadline(c);
        if (c->npending && c->next_deadline < next)
            next = c->next_deadline;
    }
    cs->min_deadline = next;
}
