/* event.c -- the plain event record: construction, strings, UUIDs. */
#include "parsers/event.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <stdlib.h>
#include <string.h>

/* An event and the first block of its arena in one allocation of a size
 * mem.c hands out as is (1024 + 128: blocks go by 128-byte classes, and a
 * byte more costs 128): most events need no more than that block (on the
 * bench capture an event's strings and UUIDs take 350 bytes on average,
 * more than the ~560 of the block for 3 %, which then takes another). */
#define EV_ALLOC 1152
#define EV_INLINE_ARENA (EV_ALLOC - sizeof(struct event))
_Static_assert(sizeof(struct event) % 8 == 0, "the inline arena block must be aligned");
_Static_assert(EV_INLINE_ARENA >= 512, "room for the strings of most events");

/* Freed events kept for the next ones (events are made and freed at the
 * packet rate, and at 2 KiB they miss glibc's small-block cache): at most
 * 256 held, ~0.5 MiB. Events live on the capture thread only. */
static _Thread_local struct mem_cache ev_cache = {EV_ALLOC, 256, 0, NULL};

struct event *event_new(struct mem_pool *pool)
{
    struct event *ev = mem_cache_alloc(&ev_cache, pool);
    if (!ev)
        return NULL;
    memset(ev, 0, sizeof(*ev));
    arena_init_buf(&ev->arena, pool, 1024, (char *)ev + sizeof(*ev), EV_INLINE_ARENA);
    ev->timeout_s = -1;
    ev->expiration_ms = -1;
    ev->ending = 1;
    return ev;
}

void event_free(struct event *ev)
{
    if (!ev)
        return;
    struct mem_pool *pool = ev->arena.pool;
    arena_reset(&ev->arena);
    mem_cache_free(&ev_cache, pool, ev);
}

char *event_str(struct event *ev, const void *p, size_t n)
{
    return arena_strndup(&ev->arena, p, n);
}

char *event_cstr(struct event *ev, const char *s)
{
    return arena_strdup(&ev->arena, s);
}

/* Bit 1: a hex digit; bit 2: '-'. */
static const uint8_t uuid_class[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['-'] = 2,
};

#ifdef __SSE2__
/* Bit k set when byte k of the 16 at p is a hex digit (either case). */
static inline unsigned hex16(const unsigned char *p)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i d = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
                              _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
    __m128i l = _mm_or_si128(v, _mm_set1_epi8(0x20)); /* 'A'-'F' -> 'a'-'f' */
    __m128i a = _mm_and_si128(_mm_cmpgt_epi8(l, _mm_set1_epi8('a' - 1)),
                              _mm_cmplt_epi8(l, _mm_set1_epi8('f' + 1)));
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(d, a));
}
#endif

int event_is_uuid(const char *p, size_t n)
{
    const unsigned char *u = (const unsigned char *)p;
#ifdef __SSE2__
    /* 16 bytes a compare (bytes >= 0x80 are negative: never hex) */
    if (n == 32)
        return hex16(u) == 0xFFFF && hex16(u + 16) == 0xFFFF;
    if (n == 36) /* 8-4-4-4-12: dashes at 8, 13, 18, 23 */
        return u[8] == '-' && u[13] == '-' && u[18] == '-' && u[23] == '-' &&
               (hex16(u) | (1u << 8) | (1u << 13)) == 0xFFFF &&
               (hex16(u + 16) | (1u << 2) | (1u << 7)) == 0xFFFF && (hex16(u + 20) >> 12) == 0xF;
    return 0;
#endif
    unsigned all = 1;
    if (n == 32) {
        for (size_t i = 0; i < 32; i++)
            all &= uuid_class[u[i]];
        return (int)all;
    }
    if (n != 36)
        return 0;
    /* 8-4-4-4-12: the four dashes, then the 32 digits around them */
    if ((uuid_class[u[8]] & uuid_class[u[13]] & uuid_class[u[18]] & uuid_class[u[23]]) != 2)
        return 0;
    for (size_t i = 0; i < 36; i++)
        if (i != 8 && i != 13 && i != 18 && i != 23)
            all &= uuid_class[u[i]];
    return (int)all;
}

int event_add_uuid(struct event *ev, const char *id, size_t n, enum ev_res res)
{
    char norm[40];
    if (!event_is_uuid(id, n))
        return 0;
    /* lower case: hex digits and '-' only (checked), where setting bit
     * 0x20 turns 'A'-'F' into 'a'-'f' and leaves digits and '-' alone;
     * 8 bytes a step over the 32 or 36 */
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w = 0;
        memcpy(&w, id + i, n - i < 8 ? n - i : 8);
        w |= 0x2020202020202020ull;
        memcpy(norm + i, &w, 8);
    }
    norm[n] = '\0';
    for (size_t i = 0; i < ev->nuuids; i++) {
        if (memcmp(ev->uuids[i].id, norm, n + 1) == 0) {
            if (ev->uuids[i].res == EV_RES_UNKNOWN)
                ev->uuids[i].res = (uint8_t)res;
            return 0;
        }
    }
    if (ev->nuuids >= EV_MAX_UUIDS)
        return -1;
    if (ev->nuuids == 0 || ev->nuuids == 4) { /* room for 4, then for all */
        size_t cap = ev->nuuids ? EV_MAX_UUIDS : 4;
        struct ev_uuid *nu = arena_alloc(&ev->arena, cap * sizeof(*nu));
        if (!nu)
            return -1;
        if (ev->nuuids)
            memcpy(nu, ev->uuids, ev->nuuids * sizeof(*nu));
        ev->uuids = nu;
    }
    memcpy(ev->uuids[ev->nuuids].id, norm, n + 1);
    ev->uuids[ev->nuuids].res = (uint8_t)res;
    ev->nuuids++;
    return 0;
}

const char *event_kind_name(enum ev_kind k)
{
    static const char *const names[EV_KIND_COUNT] = {
        "http_request", "http_response", "rpc_call", "rpc_cast", "rpc_reply",
        "notification", "amqp_return", "amqp_close", "amqp_blocked", "conn",
        "amqp_open",    "amqp_end",
    };
    return (unsigned)k < EV_KIND_COUNT ? names[k] : "unknown";
}

const char *event_verb_name(enum ev_verb v)
{
    switch (v) {
    case EV_VERB_PUBLISH:
        return "publish";
    case EV_VERB_DELIVER:
        return "deliver";
    case EV_VERB_GET:
        return "get";
    default:
        return "";
    }
}

const char *event_end_name(enum ev_end e)
{
    static const char *const names[EV_END_COUNT] = {
        "",          "server_closed", "client_closed", "server_reset",
        "client_reset", "idle",       "capture_end",
    };
    return (unsigned)e < EV_END_COUNT ? names[e] : "";
}

const char *event_res_name(enum ev_res r)
{
    static const char *const names[EV_RES_COUNT] = {
        "unknown", "instance", "image",    "flavor",   "port",    "network",
        "volume",  "attachment", "provider", "consumer", "project", "user",
    };
    return (unsigned)r < EV_RES_COUNT ? names[r] : "unknown";
}

int event_is_login(const struct event *ev)
{
    return ev->method && !strcmp(ev->method, "POST") && ev->path &&
           strstr(ev->path, "/auth/tokens") != NULL;
}

uint32_t event_name_hash(const char *s, size_t n)
{
    /* FNV-1a, 32 bits: names are short and only compared for equality */
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}
