/* jv.h -- strict JSON reader (RFC 8259, UTF-8 per RFC 3629) into a compact
 * tree built in one arena per document (a few blocks, reused between
 * documents), for the body decoders (rest, oslo) and the secret scrubber.
 *
 * Accepts exactly what jansson 2.14 json_loadb accepts with flags 0 /
 * JSON_REJECT_DUPLICATES / JSON_ALLOW_NUL, within the depth limit: an object
 * or array at the top, optional whitespace around, nothing after; strings
 * valid UTF-8 without raw control characters, escapes \" \\ \/ \b \f \n \r
 * \t \uXXXX with surrogate pairs (lone surrogates rejected), \u0000 only with
 * allow_nul and never in a key; integers that fit int64, reals that do not
 * overflow a double.
 *
 * Strings without escapes point into the input (zero copy): the input must
 * outlive the tree. Strings are NOT NUL-terminated in general: use the
 * length (jv_strlen, jv_keylen) or the *_eq helpers. Escaped strings are
 * unescaped into the arena. The tree is read-mostly: members can be
 * removed and string values replaced (secret scrubbing), nothing added.
 *
 * Memory: a value is a 32-byte node and takes at least two input bytes, so
 * a tree holds at most 16 bytes of nodes per input byte plus its unescaped
 * strings (never longer than the input; an embedded text's escaped strings
 * take a copy more); blocks double, so at most twice that is allocated. Input longer than cfg.max_input is refused before
 * anything is allocated; every block is charged to the pool, and a refusal
 * is JV_E_NOMEM. No allocation is sized from a count in the input. */
#ifndef OSRCA_JV_H
#define OSRCA_JV_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "capture/mem.h"

enum jv_type {
    JV_NULL = 1,
    JV_FALSE,
    JV_TRUE,
    JV_NUMBER,
    JV_STRING,
    JV_ARRAY,
    JV_OBJECT,
};

enum jv_err {
    JV_OK = 0,
    JV_E_EMPTY,    /* nothing but whitespace */
    JV_E_TOP,      /* top-level value is not an object or array */
    JV_E_SYNTAX,   /* unexpected byte or end of input */
    JV_E_TRAILING, /* bytes after the top-level value */
    JV_E_DEPTH,    /* nesting deeper than cfg.max_depth */
    JV_E_SIZE,     /* input longer than cfg.max_input */
    JV_E_UTF8,     /* invalid UTF-8 */
    JV_E_CTRL,     /* raw control character in a string */
    JV_E_ESCAPE,   /* bad escape or lone surrogate */
    JV_E_NUL,      /* \u0000 where not allowed (key, or allow_nul off) */
    JV_E_NUMBER,   /* integer outside int64 or real overflowing a double */
    JV_E_DUP,      /* duplicate key (dup_reject) */
    JV_E_NOMEM,    /* the pool refused a block */
};

struct jv_cfg {
    size_t max_input; /* longer input is refused (JV_E_SIZE); at most 512 MiB */
    int max_depth;    /* open arrays/objects at once; deeper: JV_E_DEPTH */
    int allow_nul;    /* accept \u0000 in string values */
    /* duplicate keys: 1 = refuse the document (JV_E_DUP); 0 = one member
     * stays, at the place of the first, holding the last value */
    int dup_reject;
    /* NULL, or a key whose string value in the top-level object is read as
     * the JSON text it holds, in the same pass (oslo's "oslo.message"):
     * when that text is an object whose only escapes in the holding
     * string are \" and \\ (its quotes, and its own strings' escapes as
     * json.dumps writes them) and it has no whitespace but spaces, the
     * member's value is that object, marked embedded
     * (jv_is_embedded), exactly the tree jv_parse gives for the unescaped
     * string; any other value stays a string. */
    const char *embedded_key;
    /* NULL, or a key whose array or object values (at any depth) nothing
     * reads (keystone's "catalog" in a token): checked as strictly as the
     * rest of the text but not kept, so the member is an empty container
     * marked skipped (jv_is_skipped). Duplicate keys inside are not
     * looked for; inside an embedded text (embedded_key) nothing is
     * skipped; with max_depth over 2048 nothing is either. */
    const char *skip_key;
};

/* One value. Read it through the accessors below; fields are private. */
struct jv {
    struct jv *_next;  /* next member / element of the parent, NULL = last */
    const char *_key;  /* member key, NULL for elements and roots */
    union {
        const char *s;    /* JV_STRING */
        struct jv *first; /* JV_ARRAY, JV_OBJECT */
        double num;       /* JV_NUMBER */
    } _u;
    uint32_t _kt;  /* key length << 3 | type */
    uint32_t _len; /* string bytes, or members / elements | JV_EMBEDDED_BIT */
};

#define JV_EMBEDDED_BIT 0x80000000u /* container parsed from a string (embedded_key) */
#define JV_SKIPPED_BIT 0x40000000u  /* container checked, contents not kept (skip_key) */
#define JV_LEN_BITS (JV_EMBEDDED_BIT | JV_SKIPPED_BIT)

struct jv_blk;

/* An open container while parsing (private). */
struct jv_frame {
    struct jv *_node;
    struct jv *_last;
};

#define JV_STACK0 32 /* open containers held inside struct jv_doc */

/* A document store: arena, parse stack and scratch. Private fields; put it
 * anywhere (stack, struct) and call jv_init first. */
struct jv_doc {
    struct jv_cfg _cfg;
    struct mem_pool *_pool;
    struct jv_blk *_blk; /* newest block first */
    char *_cur, *_end;   /* free room of the newest block */
    struct jv_frame *_stack; /* heap stack once nesting passes JV_STACK0 */
    size_t _stack_cap;
    struct jv_frame _stack0[JV_STACK0];
    void *_scratch; /* duplicate-key scratch (hash table or sort keys) */
    size_t _scap;   /* its bytes */
    enum jv_err _err;
    size_t _err_off;
    size_t _emb_klen; /* strlen(_cfg.embedded_key), 0 if none */
    size_t _skip_klen; /* strlen(_cfg.skip_key), 0 if none */
};

/* Defaults: max_input 4 MiB, max_depth 2048 (jansson's), allow_nul 0,
 * dup_reject 1, embedded_key NULL. */
void jv_defaults(struct jv_cfg *cfg);

/* Prepare d (no allocation). cfg NULL = defaults; pool may be NULL
 * (unaccounted). */
void jv_init(struct jv_doc *d, const struct jv_cfg *cfg, struct mem_pool *pool);

/* Parse [p, p+n) into a new tree in d and return its root (an object or an
 * array), or NULL on bad input / refused memory (jv_error tells why). Trees
 * parsed earlier into d stay valid until jv_reset; p must outlive the tree
 * (zero-copy strings). Never reads outside [p, p+n). */
struct jv *jv_parse(struct jv_doc *d, const void *p, size_t n);

/* Why the last jv_parse failed (JV_OK if it did not); *off (may be NULL)
 * gets the input offset of the error. */
enum jv_err jv_error(const struct jv_doc *d, size_t *off);

/* Short English text for e ("invalid UTF-8", ...). Never NULL. */
const char *jv_strerror(enum jv_err e);

/* Length of the valid UTF-8 sequence at p (avail > 0 bytes readable), or
 * 0 when it is not one (RFC 3629: no overlongs, no surrogates, nothing
 * above U+10FFFF): the check every decoded string passes. */
size_t jv_utf8_len(const void *p, size_t avail);

/* Drop every tree of d; memory is kept for the next document (one block at
 * most, the rest is freed). */
void jv_reset(struct jv_doc *d);

/* Free all memory of d; d may be used again after jv_init. NULL accepted. */
void jv_release(struct jv_doc *d);

/* ---- reading (every function accepts v == NULL) ---- */

static inline enum jv_type jv_type(const struct jv *v)
{
    return v ? (enum jv_type)(v->_kt & 7u) : (enum jv_type)0;
}
static inline int jv_is_object(const struct jv *v) { return jv_type(v) == JV_OBJECT; }
static inline int jv_is_array(const struct jv *v) { return jv_type(v) == JV_ARRAY; }
static inline int jv_is_string(const struct jv *v) { return jv_type(v) == JV_STRING; }
static inline int jv_is_number(const struct jv *v) { return jv_type(v) == JV_NUMBER; }
static inline int jv_is_null(const struct jv *v) { return jv_type(v) == JV_NULL; }
static inline int jv_is_true(const struct jv *v) { return jv_type(v) == JV_TRUE; }
static inline int jv_is_container(const struct jv *v)
{
    return jv_type(v) == JV_OBJECT || jv_type(v) == JV_ARRAY;
}

/* String bytes (not NUL-terminated) or NULL if v is not a string. */
static inline const char *jv_str(const struct jv *v)
{
    return jv_is_string(v) ? v->_u.s : NULL;
}
/* String length (0 if not a string). */
static inline size_t jv_strlen(const struct jv *v)
{
    return jv_is_string(v) ? v->_len : 0;
}
/* Number value (integers converted to double); 0 if not a number. */
static inline double jv_num(const struct jv *v)
{
    return jv_is_number(v) ? v->_u.num : 0.0;
}
/* Members of an object / elements of an array; 0 otherwise. */
static inline size_t jv_size(const struct jv *v)
{
    return jv_is_container(v) ? v->_len & ~JV_LEN_BITS : 0;
}
/* 1 if v is a container whose contents were checked but not kept
 * (jv_cfg.skip_key): it has no members / elements. */
static inline int jv_is_skipped(const struct jv *v)
{
    return jv_is_container(v) && (v->_len & JV_SKIPPED_BIT);
}
/* 1 if v is a member value read from the JSON text of a string
 * (jv_cfg.embedded_key). */
static inline int jv_is_embedded(const struct jv *v)
{
    return jv_is_container(v) && (v->_len & JV_EMBEDDED_BIT);
}
/* First member / element, or NULL. */
static inline struct jv *jv_first(const struct jv *v)
{
    return jv_is_container(v) ? v->_u.first : NULL;
}
/* Next member / element of the same parent, or NULL. */
static inline struct jv *jv_next(const struct jv *v)
{
    return v ? v->_next : NULL;
}
/* Key of a member (not NUL-terminated; NULL for elements). */
static inline const char *jv_key(const struct jv *m)
{
    return m ? m->_key : NULL;
}
static inline size_t jv_keylen(const struct jv *m)
{
    return m ? m->_kt >> 3 : 0;
}

/* for (each member / element x of container c) */
#define JV_FOREACH(c, x) for ((x) = jv_first(c); (x); (x) = (x)->_next)

/* 1 if the key of member m is exactly the NUL-terminated lit. */
int jv_key_eq(const struct jv *m, const char *lit);
/* 1 if v is a string equal to the NUL-terminated lit. */
int jv_str_eq(const struct jv *v, const char *lit);

/* Member of object o with key [k, k+kn) (jv_get: NUL-terminated k), or
 * NULL (also when o is not an object). Linear scan: objects are small. */
struct jv *jv_getn(const struct jv *o, const char *k, size_t kn);
static inline struct jv *jv_get(const struct jv *o, const char *k)
{
    return k ? jv_getn(o, k, strlen(k)) : NULL; /* strlen of a literal folds */
}

/* The index-th element of array a, or NULL. */
struct jv *jv_at(const struct jv *a, size_t index);

/* ---- changing (secret scrubbing) ---- */

/* Unlink member / element m from container c (m stays readable but is no
 * longer reached from c). Returns 1 if m was a child of c, else 0. */
int jv_remove(struct jv *c, struct jv *m);

/* Remove the member of o with key k; returns 1 if there was one. */
int jv_del(struct jv *o, const char *k);

/* Empty a container; returns the number of children dropped. */
size_t jv_clear(struct jv *c);

/* A writable, NUL-terminated copy of string v's bytes in d's arena (length
 * jv_strlen(v)), or NULL (not a string, or the pool refused). Lives until
 * jv_reset. */
char *jv_str_dup(struct jv_doc *d, const struct jv *v);

/* Make string v hold [s, s+n); s must live as long as the tree (e.g. from
 * jv_str_dup). No effect if v is not a string. */
void jv_str_set(struct jv *v, const char *s, size_t n);

#endif
